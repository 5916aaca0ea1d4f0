// Issue 5: rate limits and quotas with Durable Objects, exact under concurrency.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { assertRefused } from '../support/assertions.mjs';
import { DEMO_TENANT, PARTNER_TENANT, startStack } from '../support/stack.mjs';

const stacks = [];
after(async () => { await Promise.all(stacks.map((s) => s.stop())); });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function stackWith(routes, options = {}) {
  const stack = await startStack({ config: { routes }, ...options });
  stacks.push(stack);
  return stack;
}

const limited = (rateLimit, extra = {}) => [
  { name: 'health', path: '/health', methods: ['GET'], public: true, rate_limit: { key: ['ip'], windows: [{ requests: 3, period_seconds: 60 }] } },
  { name: 'orders', path: '/api/orders/**', rate_limit: rateLimit, ...extra },
  { name: 'open', path: '/api/open/**' },
];

test('a concurrent burst admits exactly the limit, and the origin sees exactly those', async () => {
  const stack = await stackWith(limited({ key: ['oid'], windows: [{ requests: 10, period_seconds: 60 }] }));
  const oid = '11111111-1111-4111-8111-111111111111';
  const tokens = Array.from({ length: 30 }, () => stack.mint({ objectId: oid }));
  const responses = await Promise.all(tokens.map((token) => stack.request('/api/orders', { token })));
  const statuses = responses.map((r) => r.status);
  assert.equal(statuses.filter((s) => s === 200).length, 10, statuses.join(','));
  assert.equal(statuses.filter((s) => s === 429).length, 20);
  assert.equal(stack.origin.requests.length, 10);
  const refusal = responses.find((r) => r.status === 429);
  await assertRefused(refusal, { status: 429, reason: 'rate_limited' });
  assert.ok(Number(refusal.headers.get('retry-after')) >= 1);
  assert.equal(refusal.headers.get('ratelimit-policy'), '"orders/60s";q=10;w=60');
  assert.match(refusal.headers.get('ratelimit'), /^"orders\/60s";r=0;t=\d+$/);
  const admitted = responses.find((r) => r.status === 200);
  assert.match(admitted.headers.get('ratelimit'), /^"orders\/60s";r=\d+;t=\d+$/);
});

test('Retry-After is honest: waiting that long is admitted', async () => {
  // 6 s: the second request must come within the window even on a loaded machine.
  const stack = await stackWith(limited({ key: ['oid'], windows: [{ requests: 1, period_seconds: 6, burst: 1 }] }));
  const token = stack.mint();
  assert.equal((await stack.request('/api/orders', { token })).status, 200);
  const refused = await stack.request('/api/orders', { token });
  assert.equal(refused.status, 429);
  const wait = Number(refused.headers.get('retry-after'));
  assert.ok(wait >= 1 && wait <= 6, `Retry-After ${wait}`);
  await sleep(wait * 1000 + 50);
  assert.equal((await stack.request('/api/orders', { token })).status, 200);
});

test('different keys do not share a budget', async () => {
  const stack = await stackWith(limited({ key: ['tenant', 'oid'], windows: [{ requests: 2, period_seconds: 60 }] }));
  const statuses = async (options) => {
    const out = [];
    for (let i = 0; i < 3; i++) out.push((await stack.request('/api/orders', { token: stack.mint(options) })).status);
    return out;
  };
  const alice = { objectId: 'aaaaaaaa-0000-4000-8000-000000000001' };
  assert.deepEqual(await statuses(alice), [200, 200, 429]);
  assert.deepEqual(await statuses({ objectId: 'bbbbbbbb-0000-4000-8000-000000000002' }), [200, 200, 429]);
  assert.deepEqual(await statuses({ ...alice, tenant: PARTNER_TENANT }), [200, 200, 429], 'same oid, other tenant');
});

test('routes without a limit make no Durable Object call and carry no RateLimit headers', async () => {
  const stack = await stackWith(limited({ key: ['oid'], windows: [{ requests: 1, period_seconds: 60 }] }));
  const token = stack.mint();
  for (let i = 0; i < 5; i++) {
    const res = await stack.request('/api/open/x', { token });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('ratelimit'), null);
  }
});

test('an IP-keyed limit protects a public route', async () => {
  const stack = await stackWith(limited({ key: ['oid'], windows: [{ requests: 1, period_seconds: 60 }] }));
  const statuses = [];
  for (let i = 0; i < 5; i++) statuses.push((await stack.request('/health')).status);
  assert.deepEqual(statuses, [200, 200, 200, 429, 429]);
});

test('unauthenticated requests never reach the limiter (no identity bucket is created)', async () => {
  const stack = await stackWith(limited({ key: ['tenant'], windows: [{ requests: 2, period_seconds: 60 }] }));
  for (let i = 0; i < 10; i++) assert.equal((await stack.request('/api/orders', { token: 'garbage.token.here' })).status, 401);
  assert.equal((await stack.request('/api/orders', { token: stack.mint() })).status, 200);
  assert.equal((await stack.request('/api/orders', { token: stack.mint() })).status, 200);
});

test('a daily quota per tenant persists across a restart of wrangler dev', async () => {
  const stack = await stackWith(limited({ name: 'tenant-quota', key: ['tenant'], windows: [{ requests: 100, period_seconds: 1 }, { requests: 3, period_seconds: 86400 }] }));
  for (let i = 0; i < 3; i++) assert.equal((await stack.request('/api/orders', { token: stack.mint() })).status, 200);
  await stack.restartGateway();
  const res = await stack.request('/api/orders', { token: stack.mint() });
  await assertRefused(res, { status: 429, reason: 'rate_limited' });
  assert.ok(Number(res.headers.get('retry-after')) > 3600, 'the quota refills over the day');
  assert.match(res.headers.get('ratelimit-policy'), /"tenant-quota\/86400s";q=3;w=86400/);
  assert.equal((await stack.request('/api/orders', { token: stack.mint({ tenant: PARTNER_TENANT }) })).status, 200, 'another tenant has its own quota');
});

test('limiter missing, failing open (the default): served and logged loudly', async () => {
  const stack = await stackWith(limited({ key: ['oid'], windows: [{ requests: 1, period_seconds: 60 }] }), { durableObjects: false });
  for (let i = 0; i < 3; i++) assert.equal((await stack.request('/api/orders', { token: stack.mint() })).status, 200);
  assert.ok(await stack.waitForOutput(/rate_limiter_unavailable/));
});

test('limiter missing, failing closed: 503 with Retry-After, origin untouched', async () => {
  const stack = await stackWith(limited({ key: ['oid'], windows: [{ requests: 1, period_seconds: 60 }], failure_mode: 'closed' }), { durableObjects: false });
  const res = await stack.request('/api/orders', { token: stack.mint() });
  await assertRefused(res, { status: 503, reason: 'rate_limiter_unavailable' });
  assert.equal(res.headers.get('retry-after'), '1');
  assert.equal(stack.origin.requests.length, 0);
});

test('429 answers carry the security headers and a request id', async () => {
  const stack = await stackWith(limited({ key: ['oid'], windows: [{ requests: 1, period_seconds: 60 }] }));
  const token = stack.mint();
  await stack.request('/api/orders', { token });
  const res = await stack.request('/api/orders', { token });
  assert.equal(res.status, 429);
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(res.headers.get('cache-control'), 'no-store');
  assert.equal((await res.json()).request_id, res.headers.get('x-request-id'));
  assert.ok(DEMO_TENANT);
});
