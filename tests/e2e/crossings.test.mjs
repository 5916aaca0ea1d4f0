// Issue 13: WASM↔JS crossings per request, counted with a hook on a copy of the release
// build (bench/crossings.mjs) under plain workerd. The gateway's own calls are bounded here;
// the rest are wasm-bindgen's promise machinery for the one await of a forward.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { measureCrossings } from '../../bench/crossings.mjs';

// Measured once for both tests.
const measured = measureCrossings();

const named = (counts, name) => Object.entries(counts).filter(([k]) => k.includes(name)).reduce((sum, [, v]) => sum + v, 0);

test('a cached forward crosses between WASM and JS three times: the entry, the head read and the relay', async () => {
  const rows = await measured;
  for (const row of rows) {
    const out = row.detail.out;
    assert.equal(named(out, 'readHead'), 1, `${row.name}: one head read`);
    assert.ok(named(out, 'push') === 0, `${row.name}: no JS array built per request (${JSON.stringify(out)})`);
    assert.ok(named(out, 'now') === 0, `${row.name}: the clock comes with the head (${named(out, 'now')})`);
    assert.ok(named(out, 'getRandomValues') === 0, `${row.name}: randomness comes with the head`);
    assert.equal(named(row.detail.into, 'malloc'), 0, `${row.name}: the head is written into WASM memory, not returned as a string`);
  }
  for (const name of ['cached token', 'public route']) {
    const row = rows.find((r) => r.name.startsWith(name));
    assert.equal(row.status, 200);
    assert.equal(named(row.detail.out, 'relay'), 1, `${name}: one call forwards and relays`);
    assert.ok(row.out + row.into <= 3, `${name}: ${row.out} + ${row.into} crossings (${JSON.stringify(row.detail)})`);
  }
});

test('a token the cache does not hold is verified without a Rust future: five crossings', async () => {
  const rows = await measured;
  const row = rows.find((r) => r.name.startsWith('token verified'));
  assert.equal(row.status, 200);
  assert.equal(named(row.detail.out, 'verifyThen'), 1, 'one call checks the signature');
  assert.equal(named(row.detail.out, 'relay'), 1, 'one call forwards and relays');
  assert.equal(named(row.detail.out, 'queueMicrotask'), 0, 'no Rust future is polled');
  assert.ok(row.out + row.into <= 5, `${row.out} + ${row.into} crossings (${JSON.stringify(row.detail)})`);
});

test('an answer at the edge is built in one crossing', async () => {
  const rows = await measured;
  const refused = rows.find((r) => r.name.startsWith('no token'));
  assert.equal(refused.status, 401);
  assert.equal(named(refused.detail.out, 'answer'), 1);
  assert.ok(refused.out + refused.into <= 3, `refusal: ${refused.out} + ${refused.into} crossings (${JSON.stringify(refused.detail)})`);
});
