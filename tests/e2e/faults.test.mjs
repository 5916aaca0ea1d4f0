// The fault matrix (README "Reliability"): every dependency of a request fails in every
// way, under plain workerd (wrangler's dev proxy buffers whole bodies, so streaming and
// memory can only be judged without it), with stand-ins for KV and the Durable Object
// that fail on command (tests/support/standins.js) and an origin that misbehaves by path
// (tests/support/fault-origin.mjs). Every row checks the answer (status, reason,
// Retry-After), that nothing reached the origin that should not have, and that the isolate
// is not broken: the next valid request gets 200 and the cache counters kept counting.
// Authority rows proven elsewhere are named in the README table (keys, trust_boundary).
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import { after, before, beforeEach, describe, test } from 'node:test';
import { assertRefused } from '../support/assertions.mjs';
import { gzipBody, startFaultOrigin } from '../support/fault-origin.mjs';
import { API_CLIENT_ID, DEMO_TENANT, PARTNER_TENANT, startWorkerdStack } from '../support/workerd-stack.mjs';

const ORIGIN_TIMEOUT_MS = 700;
const KEY_FETCH_TIMEOUT_MS = 1500;
// KV_TIMEOUT_MS of src/key_cache.rs: a stalled KV read or write is given up after it.
const KV_TIMEOUT_MS = 1000;
// Tenants whose keys no earlier row loaded, so each KV or authority row starts cold.
const FRESH_TENANTS = Array.from({ length: 12 }, () => crypto.randomUUID());
let nextTenant = 0;
const freshTenant = () => {
  assert.ok(nextTenant < FRESH_TENANTS.length, 'add more FRESH_TENANTS');
  return FRESH_TENANTS[nextTenant++];
};
const LIMITER_TIMEOUT_MS = 500;
const HOOK = { timeout: 60_000 };
const T = { timeout: 30_000 };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const limit = (name, failureMode) => ({
  name, key: ['oid'], windows: [{ requests: 1000, period_seconds: 60 }], failure_mode: failureMode, timeout_ms: LIMITER_TIMEOUT_MS,
});

let origin;
let stack;
let token;
before(async () => {
  origin = await startFaultOrigin();
  stack = await startWorkerdStack({
    config: {
      origin: origin.url,
      origin_timeout_ms: ORIGIN_TIMEOUT_MS,
      tenants: [DEMO_TENANT, PARTNER_TENANT, ...FRESH_TENANTS],
      keys: { fetch_timeout_ms: KEY_FETCH_TIMEOUT_MS },
      routes: [
        { path: '/open/**', rate_limit: limit('open', 'open') },
        { path: '/closed/**', rate_limit: limit('closed', 'closed') },
        { path: '/**' },
      ],
    },
  });
  token = stack.mint({ lifetime: 3600 });
}, HOOK);
after(async () => { await Promise.all([stack?.stop(), origin?.close()]); });
beforeEach(async () => {
  origin?.reset();
  if (!stack) return;
  await stack.resetStandins();
  Object.assign(stack.authority, { failure: 'none', failureOn: null });
});

/** A token of a tenant whose keys are not loaded yet. */
const coldToken = (tenant = freshTenant()) => stack.authority.mint({ tenant, audience: API_CLIENT_ID, scopes: ['Orders.Read'] });

/** Times `fn` in ms. */
async function timed(fn) {
  const started = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - started };
}

/** Event lines of `event` so far. */
const events = (event) => stack.logLines().filter((l) => l.event === event);

/** The origin saw no request on `path` (or any path with this prefix). */
const originUntouched = (prefix) => assert.equal(origin.requests.filter((r) => r.url.startsWith(prefix)).length, 0, `the origin saw ${prefix}`);

/** The isolate still works and kept its state: a valid request is relayed, counters did not go back. */
async function assertIsolateHealthy(countersBefore) {
  const res = await stack.request('/after-fault', { token });
  assert.equal(res.status, 200, await res.text());
  const { counters } = await stack.health();
  for (const [name, value] of Object.entries(countersBefore)) {
    assert.ok(counters[name] >= value, `counter ${name} went from ${value} to ${counters[name]}: the isolate was reset`);
  }
  assert.ok(counters.token_cache_hits > 0, 'the token cache was emptied');
}

async function counters() {
  // Warm: the token is verified and cached before the fault.
  assert.equal((await stack.request('/warm', { token })).status, 200);
  return (await stack.health()).counters;
}

/** The access line of a request id, waiting (bounded) for it. */
async function accessLine(requestId, timeoutMs = 5000) {
  await stack.waitForLog((lines) => lines.some((l) => l.event === 'request' && l.request_id === requestId), timeoutMs);
  return stack.logLines(requestId).find((l) => l.event === 'request');
}

/** A raw request whose body the test writes itself; resolves to { status, body } or { error }. */
function upload(path, { chunks, intervalMs, declared, abortAfter }) {
  return new Promise((resolve) => {
    const url = new URL(stack.url + path);
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream', 'x-request-id': `upload-${Date.now()}` };
    if (declared !== undefined) headers['content-length'] = String(declared);
    const req = http.request(url, { method: 'POST', headers }, (res) => {
      const parts = [];
      res.on('data', (c) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(parts).toString('utf8'), requestId: headers['x-request-id'] }));
    });
    req.on('error', (error) => resolve({ error, requestId: headers['x-request-id'] }));
    let sent = 0;
    const next = () => {
      if (abortAfter !== undefined && sent === abortAfter) return void req.destroy();
      if (sent === chunks.length) return void req.end();
      req.write(chunks[sent++]);
      setTimeout(next, intervalMs);
    };
    next();
  });
}

describe('origin', () => {
  test('hop-by-hop response headers, and the ones the origin\'s Connection header names, are not relayed', T, async () => {
    const before = await counters();
    const res = await stack.request('/hop', { token });
    assert.equal(res.status, 200);
    for (const name of ['connection', 'keep-alive', 'x-hop-test', 'proxy-connection']) {
      assert.equal(res.headers.get(name), null, `${name} was relayed`);
    }
    assert.equal(res.headers.get('x-kept'), 'yes');
    await assertIsolateHealthy(before);
  });

  test('refused connection: 502 origin_unreachable', T, async () => {
    const down = await startWorkerdStack({ config: { origin: 'http://127.0.0.1:9' }, authority: stack.authority });
    try {
      await assertRefused(await down.request('/x', { token }), { status: 502, reason: 'origin_unreachable' });
    } finally {
      await down.stop();
    }
  });

  test('slow response headers: 504 origin_timeout after origin_timeout_ms', T, async () => {
    const before = await counters();
    await assertRefused(await stack.request(`/slow-headers?ms=${ORIGIN_TIMEOUT_MS * 4}`, { token }), { status: 504, reason: 'origin_timeout' });
    await assertIsolateHealthy(before);
  });

  test('a slow upload to a healthy origin is not a timeout: the clock starts when the body was sent', T, async () => {
    const before = await counters();
    // 6 chunks, 250 ms apart: the upload alone takes about twice origin_timeout_ms.
    const chunks = Array.from({ length: 6 }, () => Buffer.alloc(1024, 65));
    const res = await upload('/upload', { chunks, intervalMs: 250, declared: 6 * 1024 });
    assert.equal(res.status, 200, res.body);
    assert.deepEqual(JSON.parse(res.body), { bytes: 6 * 1024 });
    await assertIsolateHealthy(before);
  });

  test('slow body after prompt headers: relayed whole (origin_timeout_ms bounds the headers only)', T, async () => {
    const res = await stack.request(`/slow-body?ms=${ORIGIN_TIMEOUT_MS * 2}`, { token });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'helloworld');
  });

  test('reset mid-body: the client sees the body break off and the access line marks it truncated', T, async () => {
    const before = await counters();
    const requestId = `reset-${Date.now()}`;
    const res = await stack.request('/reset-after-headers', { token, headers: { 'x-request-id': requestId } });
    assert.equal(res.status, 200);
    await assert.rejects(res.arrayBuffer(), 'the client got a complete body');
    const line = await accessLine(requestId);
    assert.ok(line, 'no access line');
    assert.equal(line.response_body, 'truncated', JSON.stringify(line));
    assert.equal(line.level, 'error');
    assert.ok(line.response_body_error);
    await assertIsolateHealthy(before);
  });

  test('a compressed response is relayed byte for byte, with its Content-Length (not decoded and re-encoded)', T, async () => {
    const res = await new Promise((resolve, reject) => {
      http.get(new URL(`${stack.url}/gzip`), { headers: { authorization: `Bearer ${token}`, 'accept-encoding': 'gzip' } }, (r) => {
        const parts = [];
        r.on('data', (c) => parts.push(c));
        r.on('end', () => resolve({ status: r.statusCode, headers: r.headers, body: Buffer.concat(parts) }));
      }).on('error', reject);
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-encoding'], 'gzip');
    assert.equal(res.headers['content-length'], String(gzipBody.length));
    assert.ok(res.body.equals(gzipBody), 'the body was re-encoded');
  });

  test('a complete relayed body is marked complete', T, async () => {
    const requestId = `complete-${Date.now()}`;
    const res = await stack.request('/anything', { token, headers: { 'x-request-id': requestId } });
    await res.text();
    assert.equal((await accessLine(requestId)).response_body, 'complete');
  });

  for (const status of [500, 502, 503]) {
    test(`origin ${status} is passed through with its own body and Retry-After`, T, async () => {
      const res = await stack.request(`/status/${status}`, { token });
      assert.equal(res.status, status);
      assert.equal(res.headers.get('retry-after'), '7');
      assert.deepEqual(await res.json(), { from: 'origin' });
    });
  }

  for (const status of [600, 999]) {
    test(`an origin status outside 200–599 (${status}): 502 origin_unreachable, not a gateway error`, T, async () => {
      const before = await counters();
      const res = await stack.request(`/status/${status}`, { token });
      await assertRefused(res, { status: 502, reason: 'origin_unreachable' });
      await assertIsolateHealthy(before);
    });
  }

  test('a reason phrase the runtime cannot carry (a tab): the answer is relayed without it', T, async () => {
    const before = await counters();
    const res = await stack.request('/reason-tab', { token });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { ok: true });
    await assertIsolateHealthy(before);
  });

  test('an oversized response header from the origin: 502, nothing half-relayed', T, async () => {
    const before = await counters();
    const res = await stack.request('/big-headers?kb=256', { token });
    await assertRefused(res, { status: 502, reason: 'origin_unreachable' });
    await assertIsolateHealthy(before);
  });

  test('oversized request headers: the runtime\'s own 431 (plain text), nothing reaches the origin', T, async () => {
    const before = await counters();
    const res = await stack.request('/x', { token, headers: { 'x-big': 'a'.repeat(256 * 1024) } });
    assert.equal(res.status, 431);
    assert.notEqual(res.headers.get('content-type'), 'application/problem+json');
    await res.text();
    assert.equal(origin.requests.filter((r) => r.url === '/x').length, 0, 'the origin saw the request');
    await assertIsolateHealthy(before);
  });

  test('client disconnects mid-upload: the origin never gets a complete body, the log says request_body_incomplete', T, async () => {
    const before = await counters();
    const chunks = Array.from({ length: 8 }, () => Buffer.alloc(16 * 1024, 66));
    const res = await upload('/upload', { chunks, intervalMs: 50, declared: 1 << 20, abortAfter: 4 });
    assert.ok(res.error, 'the client was answered after hanging up');
    const line = await accessLine(res.requestId);
    assert.ok(line, 'no access line');
    assert.equal(line.reason, 'request_body_incomplete', JSON.stringify(line));
    assert.equal(line.status, 400);
    await sleep(200);
    assert.ok(origin.requests.every((r) => !(r.url === '/upload' && r.complete)), 'the origin got a complete body');
    await assertIsolateHealthy(before);
  });
});

describe('authority', () => {
  test('down (connection refused), nothing cached: 503 keys_unavailable with Retry-After, origin untouched', T, async () => {
    const down = await startWorkerdStack({ config: { origin: origin.url, authority: 'http://127.0.0.1:9' }, authority: stack.authority });
    try {
      const res = await down.request('/down', { token });
      await assertRefused(res, { status: 503, reason: 'keys_unavailable' });
      assert.ok(Number(res.headers.get('retry-after')) >= 1);
      originUntouched('/down');
    } finally {
      await down.stop();
    }
  });

  test('slow body (headers on time, the rest never): cut at keys.fetch_timeout_ms, 503, origin untouched', T, async () => {
    const before = await counters();
    stack.authority.failure = 'slow-body';
    const { value: res, ms } = await timed(() => stack.request('/slow-authority', { token: coldToken() }));
    await assertRefused(res, { status: 503, reason: 'keys_unavailable' });
    assert.ok(ms < KEY_FETCH_TIMEOUT_MS * 4 + 1000, `took ${ms.toFixed(0)} ms`);
    originUntouched('/slow-authority');
    stack.authority.failure = 'none';
    await assertIsolateHealthy(before);
  });

  test('truncated body (half the document, then a reset): 503 keys_unavailable, origin untouched', T, async () => {
    const before = await counters();
    stack.authority.failure = 'truncated';
    const tenant = freshTenant();
    await assertRefused(await stack.request('/truncated-authority', { token: coldToken(tenant) }), { status: 503, reason: 'keys_unavailable' });
    originUntouched('/truncated-authority');
    assert.ok(await stack.waitForLog(() => events('key_fetch_failed').some((e) => e.tenant === tenant)), 'no key_fetch_failed line');
    stack.authority.failure = 'none';
    await assertIsolateHealthy(before);
  });

  test('wrong content type (the real document as text/html): the body is judged, not the label', T, async () => {
    stack.authority.failure = 'wrong-type';
    const res = await stack.request('/typed', { token: coldToken() });
    assert.equal(res.status, 200, await res.text());
  });
});

describe('KV (JWKS_CACHE)', () => {
  test('get throwing: keys come from the authority, kv_read_failed is logged, the request is served', T, async () => {
    const before = await counters();
    await stack.standins({ kv: { get: 'fail' } });
    const tenant = freshTenant();
    const res = await stack.request('/kv-get', { token: coldToken(tenant) });
    assert.equal(res.status, 200, await res.text());
    assert.ok(await stack.waitForLog(() => events('kv_read_failed').some((e) => e.tenant === tenant)), 'no kv_read_failed line');
    await assertIsolateHealthy(before);
  });

  test('put throwing: served, kv_write_failed is logged', T, async () => {
    await stack.standins({ kv: { put: 'fail' } });
    const tenant = freshTenant();
    assert.equal((await stack.request('/kv-put', { token: coldToken(tenant) })).status, 200);
    assert.ok(await stack.waitForLog(() => events('kv_write_failed').some((e) => e.tenant === tenant)), 'no kv_write_failed line');
  });

  for (const op of ['get', 'put']) {
    test(`${op} stalling: given up after the KV bound, the request is served`, T, async () => {
      const before = await counters();
      await stack.standins({ kv: { [op]: 'stall' }, stallMs: 20_000 });
      const tenant = freshTenant();
      const { value: res, ms } = await timed(() => stack.request(`/kv-slow-${op}`, { token: coldToken(tenant) }));
      assert.equal(res.status, 200, await res.text());
      assert.ok(ms < 10_000, `took ${ms.toFixed(0)} ms: it waited for the stalled KV`);
      assert.ok(await stack.waitForLog(() => events(op === 'get' ? 'kv_read_failed' : 'kv_write_failed').some((e) => e.tenant === tenant && /no answer within/.test(e.detail))));
      await stack.standins({ kv: { [op]: 'ok' } });
      await assertIsolateHealthy(before);
    });
  }
});

describe('Durable Object (RATE_LIMITER)', () => {
  test('admitting: the relayed answer carries the RateLimit headers', T, async () => {
    const res = await stack.request('/open/x', { token });
    assert.equal(res.status, 200);
    assert.ok(res.headers.get('ratelimit'));
  });

  test('refusing: 429 rate_limited with Retry-After, origin untouched', T, async () => {
    await stack.standins({ limiter: 'deny' });
    const res = await stack.request('/open/denied', { token });
    await assertRefused(res, { status: 429, reason: 'rate_limited' });
    assert.equal(res.headers.get('retry-after'), '3');
    originUntouched('/open/denied');
  });

  for (const [mode, what] of [['fail', 'throwing'], ['stall', 'slower than rate_limit.timeout_ms'], ['reset', 'reset mid-request']]) {
    test(`${what}: failure_mode "open" serves and logs; "closed" answers 503 with Retry-After, origin untouched`, T, async () => {
      const before = await counters();
      await stack.standins({ limiter: mode, stallMs: 20_000 });
      const logged = events('rate_limiter_unavailable').length;
      const { value: open, ms } = await timed(() => stack.request(`/open/${mode}`, { token }));
      assert.equal(open.status, 200, await open.text());
      assert.ok(ms < 10_000, `took ${ms.toFixed(0)} ms: it waited for the stalled object`);
      const closed = await stack.request(`/closed/${mode}`, { token });
      await assertRefused(closed, { status: 503, reason: 'rate_limiter_unavailable' });
      assert.equal(closed.headers.get('retry-after'), '1');
      originUntouched(`/closed/${mode}`);
      assert.ok(await stack.waitForLog(() => events('rate_limiter_unavailable').length >= logged + 2), 'no rate_limiter_unavailable lines');
      await stack.standins({ limiter: 'ok' });
      await assertIsolateHealthy(before);
    });
  }
});

describe('streaming and memory (workerd resident memory, sampled every 20 ms)', () => {
  const MIB = 1 << 20;
  const BODY_MIB = 128;
  // Buffering the body would grow the process by at least the body; streaming by little.
  const MAX_GROWTH_MIB = BODY_MIB / 2;

  async function peakGrowth(run) {
    const base = stack.rssKiB();
    let peak = base;
    const sampler = setInterval(() => { peak = Math.max(peak, stack.rssKiB() ?? 0); }, 20);
    try {
      await run();
    } finally {
      clearInterval(sampler);
    }
    return { base, growthMiB: (Math.max(peak, stack.rssKiB()) - base) / 1024 };
  }

  test(`a ${BODY_MIB} MiB response is streamed: every byte arrives, memory stays flat`, { timeout: 120_000 }, async (t) => {
    const before = await counters();
    let received = 0;
    const { growthMiB, base } = await peakGrowth(async () => {
      const res = await stack.request(`/large?mb=${BODY_MIB}`, { token });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-length'), String(BODY_MIB * MIB), 'Content-Length was not kept');
      for await (const chunk of res.body) received += chunk.length;
    });
    t.diagnostic(`workerd RSS ${(base / 1024).toFixed(0)} MiB, peak growth ${growthMiB.toFixed(1)} MiB for ${BODY_MIB} MiB relayed`);
    assert.equal(received, BODY_MIB * MIB);
    assert.ok(growthMiB < MAX_GROWTH_MIB, `workerd grew by ${growthMiB.toFixed(1)} MiB while relaying ${BODY_MIB} MiB`);
    await assertIsolateHealthy(before);
  });

  test(`a ${BODY_MIB} MiB upload is streamed: the origin gets every byte, memory stays flat`, { timeout: 120_000 }, async (t) => {
    const before = await counters();
    const chunk = Buffer.alloc(MIB, 67);
    let answer;
    const { growthMiB, base } = await peakGrowth(async () => {
      answer = await new Promise((resolve, reject) => {
        const req = http.request(new URL(`${stack.url}/upload`), {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream', 'content-length': String(BODY_MIB * MIB) },
        }, (res) => {
          const parts = [];
          res.on('data', (c) => parts.push(c));
          res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(parts).toString('utf8') }));
        });
        req.on('error', reject);
        let sent = 0;
        const pump = () => {
          while (sent < BODY_MIB) {
            sent++;
            if (!req.write(chunk)) return void req.once('drain', pump);
          }
          req.end();
        };
        pump();
      });
    });
    t.diagnostic(`workerd RSS ${(base / 1024).toFixed(0)} MiB, peak growth ${growthMiB.toFixed(1)} MiB for a ${BODY_MIB} MiB upload`);
    assert.equal(answer.status, 200, answer.body);
    assert.deepEqual(JSON.parse(answer.body), { bytes: BODY_MIB * MIB });
    const seen = origin.requests.find((r) => r.url === '/upload');
    assert.equal(seen.headers['content-length'], String(BODY_MIB * MIB), 'Content-Length did not reach the origin');
    assert.ok(growthMiB < MAX_GROWTH_MIB, `workerd grew by ${growthMiB.toFixed(1)} MiB while forwarding a ${BODY_MIB} MiB upload`);
    await assertIsolateHealthy(before);
  });
});
