// Issue 2: invalid configuration fails closed with a 500 naming the field; options change behaviour.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { assertRefused } from '../support/assertions.mjs';
import { API_CLIENT_ID, DEMO_TENANT, startStack } from '../support/stack.mjs';

const stacks = [];
after(async () => { await Promise.all(stacks.map((s) => s.stop())); });

test('invalid configuration answers 500 naming the field and forwards nothing', async () => {
  const stack = await startStack({ config: { tenants: [DEMO_TENANT, 'contoso.onmicrosoft.com'] } });
  stacks.push(stack);
  const res = await stack.request('/orders', { token: stack.mint() });
  const body = await assertRefused(res, { status: 500, reason: 'config_invalid' });
  assert.match(body.detail, /ENTRA_EDGE\.tenants\[1\]/);
  assert.equal(stack.origin.requests.length, 0);
  assert.ok(await stack.waitForOutput(/config_invalid.*tenants\[1\]/), 'the problem is logged');
});

test('missing configuration answers 500 naming the var', async () => {
  const stack = await startStack({ rawConfig: null });
  stacks.push(stack);
  const body = await assertRefused(await stack.request('/orders'), { status: 500, reason: 'config_invalid' });
  assert.match(body.detail, /ENTRA_EDGE/);
});

test('forward_authorization passes the bearer token to the origin', async () => {
  const stack = await startStack({ config: { forward_authorization: true } });
  stacks.push(stack);
  const token = stack.mint();
  const res = await stack.request('/orders', { token });
  assert.equal(res.status, 200);
  assert.equal(stack.origin.requests[0].headers.authorization, `Bearer ${token}`);
});

test('realm and token versions are configurable', async () => {
  const stack = await startStack({ config: { realm: 'orders-api', token_versions: ['2.0'] } });
  stacks.push(stack);
  const res = await stack.request('/orders', { token: stack.mint({ version: '1.0', audience: 'api://entra-edge-demo' }) });
  await assertRefused(res, { status: 401, reason: 'token_version_not_accepted', error: 'invalid_token' });
  assert.match(res.headers.get('www-authenticate'), /^Bearer realm="orders-api"/);
  assert.equal((await stack.request('/orders', { token: stack.mint({ audience: API_CLIENT_ID }) })).status, 200);
});

test('an unreachable origin answers 502 without internals', async () => {
  const stack = await startStack();
  stacks.push(stack);
  await stack.origin.close();
  const body = await assertRefused(await stack.request('/orders', { token: stack.mint() }), { status: 502, reason: 'origin_unreachable' });
  assert.doesNotMatch(JSON.stringify(body), /127\.0\.0\.1|ECONNREFUSED|internal error/i);
});

test('the ORIGIN_SECRET secret is sent to the origin and cannot be spoofed or leaked', async () => {
  const stack = await startStack({ vars: { ORIGIN_SECRET: 's3cr3t-from-wrangler-secret-put' } });
  stacks.push(stack);
  const res = await stack.request('/orders', { token: stack.mint(), headers: { 'x-entra-edge-secret': 'client-guess' } });
  assert.equal(res.status, 200);
  assert.equal(stack.origin.requests[0].headers['x-entra-edge-secret'], 's3cr3t-from-wrangler-secret-put');
  const refused = await stack.request('/orders');
  assert.doesNotMatch(await refused.text(), /s3cr3t/);
});

test('log_level governs every line: "off" writes no access line and no key-cache event', async () => {
  const stack = await startStack({ config: { log_level: 'off' } });
  stacks.push(stack);
  assert.equal((await stack.request('/orders', { token: stack.mint() })).status, 200);
  assert.equal((await stack.request('/orders')).status, 401);
  await new Promise((r) => setTimeout(r, 500));
  const lines = stack.gateway.output().split('\n').filter((l) => l.trim().startsWith('{'));
  assert.deepEqual(lines, [], 'JSON lines written with log_level = "off"');
});

test('log_level "warn" keeps warnings (a failed key fetch) and drops info events (keys fetched)', async () => {
  const stack = await startStack({ config: { log_level: 'warn', keys: { fetch_timeout_ms: 2000 } } });
  stacks.push(stack);
  assert.equal((await stack.request('/orders', { token: stack.mint() })).status, 200);
  stack.authority.failure = '500';
  await (await stack.request('/orders', { token: stack.mint({ tenant: '5a8e2b71-0c4d-4f9e-a1b2-c3d4e5f60718' }) })).text();
  assert.ok(await stack.waitForOutput(/"event":"key_fetch_failed"/), 'the failed fetch is logged');
  const output = stack.gateway.output();
  assert.doesNotMatch(output, /"event":"keys_fetched"/);
  for (const line of output.split('\n').filter((l) => l.includes('"event":"key_fetch_failed"'))) {
    const event = JSON.parse(line.slice(line.indexOf('{'), line.lastIndexOf('}') + 1));
    assert.equal(event.level, 'warn');
    assert.match(event.time, /^\d{4}-\d\d-\d\dT/);
  }
});
