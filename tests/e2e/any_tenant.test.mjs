// Issue 14 §4: any-tenant mode (tenants = ["*"]) for multi-tenant SaaS APIs. One metadata
// document and one key set (the `organizations` directory) serve every tenant, so the tid a
// caller chooses never decides what the gateway fetches; the tid must be the issuer's tenant.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, beforeEach, test } from 'node:test';
import { assertRefused } from '../support/assertions.mjs';
import { API_CLIENT_ID, DEMO_TENANT, PARTNER_TENANT, startStack } from '../support/stack.mjs';

const CONSUMERS = '9188040d-6c67-4c5b-b112-36a304b66dad';
const DENIED = 'd0d0d0d0-1111-4222-8333-444455556666';
let stack;

before(async () => {
  stack = await startStack({
    config: {
      tenants: ['*'],
      denied_tenants: [DENIED],
      routes: [
        { name: 'partner-only', path: '/partner/**', tenants: [PARTNER_TENANT] },
        { name: 'own-tenant', path: '/t/{tenant}/**', tenant_segment: 'tenant' },
        { name: 'limited', path: '/limited/**', rate_limit: { key: ['tenant'], windows: [{ requests: 2, period_seconds: 60 }] } },
        { name: 'default', path: '/**' },
      ],
    },
  });
});
after(async () => { await stack?.stop(); });
beforeEach(() => { stack.origin.reset(); });

const tokenOf = (tenant, extra = {}) => stack.mint({ tenant, ...extra });

test('a token of a tenant never listed anywhere is accepted and its tid reaches the origin', async () => {
  const tenant = crypto.randomUUID();
  const res = await stack.request('/api/orders', { token: tokenOf(tenant) });
  assert.equal(res.status, 200, await res.text());
  assert.equal(stack.origin.requests[0].headers['x-entra-tenant-id'], tenant);
  // The first request of the isolate fetched the keys: from the organizations directory.
  assert.ok(stack.authority.requests.length > 0, 'keys were fetched');
  for (const request of stack.authority.requests) {
    assert.equal(request.tenant, 'organizations', `fetched ${request.url}`);
  }
});

test('every tenant is verified with the one organizations key set: new tids fetch nothing', async () => {
  // Warm the organizations keys, then 20 new tenants.
  assert.equal((await stack.request('/api/orders', { token: tokenOf(crypto.randomUUID()) })).status, 200);
  stack.authority.resetCounts();
  for (let i = 0; i < 20; i++) {
    const res = await stack.request('/api/orders', { token: tokenOf(crypto.randomUUID()) });
    assert.equal(res.status, 200);
  }
  assert.equal(stack.authority.counts.total, 0, 'no metadata or key fetch for any new tenant');
});

test('a tid that is not the issuer\'s tenant is refused', async () => {
  const token = tokenOf(crypto.randomUUID(), { claims: { iss: `https://login.microsoftonline.com/${DEMO_TENANT}/v2.0` } });
  await assertRefused(await stack.request('/api/orders', { token }), { status: 401, reason: 'issuer_mismatch', error: 'invalid_token', token });
  assert.equal(stack.origin.requests.length, 0);
});

test('a tid that is not a GUID is refused', async () => {
  const token = tokenOf('contoso', { claims: { iss: 'https://login.microsoftonline.com/contoso/v2.0' } });
  await assertRefused(await stack.request('/api/orders', { token }), { status: 401, reason: 'tenant_invalid', error: 'invalid_token', token });
});

test('a denied tenant is refused', async () => {
  const token = tokenOf(DENIED);
  await assertRefused(await stack.request('/api/orders', { token }), { status: 401, reason: 'tenant_not_allowed', error: 'invalid_token', token });
  assert.equal(stack.origin.requests.length, 0);
});

test('personal Microsoft accounts are refused unless their tenant is named', async () => {
  const token = tokenOf(CONSUMERS);
  await assertRefused(await stack.request('/api/orders', { token }), { status: 401, reason: 'tenant_not_allowed', error: 'invalid_token', token });
});

test('a v1 token of any tenant is accepted with the v1 issuer form', async () => {
  const tenant = crypto.randomUUID();
  const res = await stack.request('/api/orders', { token: tokenOf(tenant, { version: '1.0', audience: 'api://entra-edge-demo' }) });
  assert.equal(res.status, 200, await res.text());
  assert.equal(stack.origin.requests[0].headers['x-entra-tenant-id'], tenant);
});

test('a route tenants list still narrows it', async () => {
  assert.equal((await stack.request('/partner/x', { token: tokenOf(PARTNER_TENANT) })).status, 200);
  const other = tokenOf(crypto.randomUUID());
  await assertRefused(await stack.request('/partner/x', { token: other }), { status: 403, reason: 'tenant_not_permitted', error: 'insufficient_scope', token: other });
});

test('tenant isolation still compares the path with the token\'s tid', async () => {
  const tenant = crypto.randomUUID();
  assert.equal((await stack.request(`/t/${tenant}/orders`, { token: tokenOf(tenant) })).status, 200);
  const token = tokenOf(crypto.randomUUID());
  await assertRefused(await stack.request(`/t/${tenant}/orders`, { token }), { status: 403, reason: 'tenant_mismatch', error: 'insufficient_scope', token });
});

test('rate limits keyed by tenant count each tenant apart', async () => {
  const [a, b] = [crypto.randomUUID(), crypto.randomUUID()];
  for (let i = 0; i < 2; i++) assert.equal((await stack.request('/limited/x', { token: tokenOf(a) })).status, 200);
  assert.equal((await stack.request('/limited/x', { token: tokenOf(a) })).status, 429);
  assert.equal((await stack.request('/limited/x', { token: tokenOf(b) })).status, 200, 'another tenant has its own bucket');
});

test('the audience rule is unchanged: a token for another API is refused whatever its tenant', async () => {
  const token = tokenOf(crypto.randomUUID(), { audience: '11111111-2222-4333-8444-555555555555' });
  await assertRefused(await stack.request('/api/orders', { token }), { status: 401, reason: 'audience_mismatch', error: 'invalid_token', token });
  assert.notEqual(API_CLIENT_ID, '11111111-2222-4333-8444-555555555555');
});
