// Issue 13: WASM↔JS crossings per request, counted with a hook on a copy of the release
// build (bench/crossings.mjs) under plain workerd. The gateway's own calls are bounded here;
// the rest are wasm-bindgen's promise machinery for the one await of a forward.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { measureCrossings } from '../../bench/crossings.mjs';

const named = (counts, name) => Object.entries(counts).filter(([k]) => k.includes(name)).reduce((sum, [, v]) => sum + v, 0);

test('a forward reads the request head once and calls the forward helper once, and no list is rebuilt per request', async () => {
  const rows = await measureCrossings();
  for (const row of rows) {
    const out = row.detail.out;
    assert.equal(named(out, 'readHead'), 1, `${row.name}: one head read`);
    assert.ok(named(out, 'push') === 0, `${row.name}: no JS array built per request (${JSON.stringify(out)})`);
    assert.ok(named(out, 'now') <= 2, `${row.name}: the clock is read again only after I/O (${named(out, 'now')})`);
    assert.ok(named(out, 'getRandomValues') === 0, `${row.name}: randomness comes with the head`);
  }
  const cached = rows.find((r) => r.name.startsWith('cached token'));
  assert.equal(cached.status, 200);
  assert.equal(named(cached.detail.out, 'forward'), 1);
  assert.ok(cached.out + cached.into <= 24, `cached forward: ${cached.out} + ${cached.into} crossings (${JSON.stringify(cached.detail)})`);
  const refused = rows.find((r) => r.name.startsWith('no token'));
  assert.equal(refused.status, 401);
  assert.ok(refused.out + refused.into <= 14, `refusal: ${refused.out} + ${refused.into} crossings`);
});
