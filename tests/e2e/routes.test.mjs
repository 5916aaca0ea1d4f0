// Issue 3: per-route authorization, default deny, path safety and CORS, with the
// worked-example policy of a multi-tenant orders API (dev/policy.mjs).
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { DEMO_ROUTES, SPA_ORIGIN } from '../../dev/policy.mjs';
import { assertRefused, rawRequest } from '../support/assertions.mjs';
import { DAEMON_CLIENT_ID, DEMO_TENANT, PARTNER_TENANT, SPA_CLIENT_ID, startStack } from '../support/stack.mjs';

let stack;
before(async () => { stack = await startStack({ config: { routes: DEMO_ROUTES } }); });
after(async () => { await stack?.stop(); });
beforeEach(() => stack.origin.reset());

const user = (scopes, extra = {}) => stack.mint({ scopes, ...extra });
const daemon = (roles, extra = {}) => stack.mint({ appOnly: true, scopes: [], roles, clientId: DAEMON_CLIENT_ID, ...extra });

async function allowed(path, token, init = {}) {
  const res = await stack.request(path, { token, ...init });
  const text = await res.text();
  assert.equal(res.status, 200, text);
  assert.equal(stack.origin.requests.length, 1, 'the origin saw the request');
  return stack.origin.requests[0];
}

async function forbidden(path, token, reason, init = {}) {
  const res = await stack.request(path, { token, ...init });
  const body = await assertRefused(res, { status: 403, reason, error: 'insufficient_scope', token });
  assert.equal(stack.origin.requests.length, 0, 'the origin saw a refused request');
  return { res, body };
}

describe('public and default-deny', () => {
  test('a public route needs no token', async () => {
    const seen = await allowed('/health', undefined);
    assert.equal(seen.headers['x-entra-tenant-id'], undefined);
  });

  test('a public route never forwards identity headers sent by the client', async () => {
    const seen = await allowed('/health', undefined, { headers: { 'x-entra-tenant-id': DEMO_TENANT, 'x-entra-roles': 'Orders.Admin' } });
    assert.equal(seen.headers['x-entra-tenant-id'], undefined);
    assert.equal(seen.headers['x-entra-roles'], undefined);
  });

  test('a path no route matches is denied without reaching the origin', async () => {
    const res = await stack.request('/internal/metrics', { token: user(['Orders.Read']) });
    await assertRefused(res, { status: 404, reason: 'route_not_found' });
    assert.equal(stack.origin.requests.length, 0);
  });

  test('a method the path does not allow gets 405 with Allow', async () => {
    const res = await stack.request('/health', { method: 'DELETE' });
    await assertRefused(res, { status: 405, reason: 'method_not_allowed' });
    assert.equal(res.headers.get('allow'), 'GET, HEAD');
    assert.equal(stack.origin.requests.length, 0);
  });

  test('a protected route without a token is 401, not 403', async () => {
    const res = await stack.request('/api/orders');
    await assertRefused(res, { status: 401, reason: 'token_missing', error: null });
  });
});

describe('scopes and roles', () => {
  test('read route: a user passes by scope', async () => {
    await allowed('/api/orders/42', user(['Orders.Read']));
  });

  test('read route: a daemon passes by app permission', async () => {
    await allowed('/api/orders/42', daemon(['Orders.Read.All']));
  });

  test('read route: a token with neither gets 403 naming the scopes that would do', async () => {
    const { res } = await forbidden('/api/orders/42', user(['Profile.Read']), 'insufficient_scope');
    assert.match(res.headers.get('www-authenticate'), /scope="Orders\.Read Orders\.ReadWrite"$/);
    await forbidden('/api/orders/42', daemon(['Jobs.Run']), 'insufficient_role');
  });

  test('scope matching is exact: Orders.ReadWrite does not satisfy a route needing Orders.Read only', async () => {
    await forbidden('/api/tenants/' + DEMO_TENANT + '/orders', user(['Orders.ReadWrite']), 'insufficient_scope');
  });

  test('write route: needs Orders.ReadWrite, not Orders.Read', async () => {
    await allowed('/api/orders', user(['Orders.ReadWrite']), { method: 'POST', body: '{}' });
    stack.origin.reset();
    await forbidden('/api/orders', user(['Orders.Read']), 'insufficient_scope', { method: 'POST', body: '{}' });
  });

  test('write route: delegated only, even for a daemon holding the scope name as a role', async () => {
    await forbidden('/api/orders', daemon(['Orders.ReadWrite']), 'delegated_token_required', { method: 'PUT', body: '{}' });
  });

  test('admin route: app-only with the app role, from the allowed client', async () => {
    await allowed('/api/admin/reindex', daemon(['Orders.Admin']), { method: 'POST' });
  });

  test('admin route: a user with the role is refused (app-only route)', async () => {
    // Delegated tokens always carry scp; a user can also hold assigned app roles.
    await forbidden('/api/admin/reindex', user(['Orders.Read'], { roles: ['Orders.Admin'], clientId: DAEMON_CLIENT_ID }), 'app_only_required', { method: 'POST' });
  });

  test('admin route: another client application is refused', async () => {
    await forbidden('/api/admin/reindex', daemon(['Orders.Admin'], { clientId: SPA_CLIENT_ID }), 'client_not_allowed', { method: 'POST' });
  });

  test('admin route: missing app role', async () => {
    await forbidden('/api/admin/reindex', daemon(['Orders.Read.All']), 'insufficient_role', { method: 'POST' });
  });

  test('roles_match all: every listed role is required', async () => {
    const partner = (roles) => daemon(roles, { tenant: PARTNER_TENANT });
    await allowed('/api/reports/q3', partner(['Reports.Read']));
  });
});

describe('tenants', () => {
  test('tenant isolation: the tenant segment must be the token\'s own tenant', async () => {
    await allowed(`/api/tenants/${DEMO_TENANT}/orders`, user(['Orders.Read']));
    stack.origin.reset();
    await forbidden(`/api/tenants/${PARTNER_TENANT}/orders`, user(['Orders.Read']), 'tenant_mismatch');
  });

  test('tenant isolation is case-insensitive for the GUID but never trusts the client', async () => {
    await allowed(`/api/tenants/${DEMO_TENANT.toUpperCase()}/orders/7`, user(['Orders.Read']));
  });

  test('a route tenant list narrows the global one', async () => {
    await forbidden('/api/reports/q3', daemon(['Reports.Read']), 'tenant_not_permitted');
  });
});

describe('step-up (Conditional Access auth context)', () => {
  test('a capable client without the auth context gets a claims challenge', async () => {
    const res = await stack.request('/api/payouts/1', { method: 'POST', token: user(['Payouts.Approve'], { claims: { xms_cc: ['cp1'] } }) });
    const body = await res.json();
    assert.equal(res.status, 401);
    assert.equal(body.reason, 'insufficient_claims');
    const challenge = res.headers.get('www-authenticate');
    const claims = /claims="([^"]+)"/.exec(challenge)[1];
    assert.deepEqual(JSON.parse(Buffer.from(claims, 'base64')), { access_token: { acrs: { essential: true, value: 'c1' } } });
    assert.match(challenge, /error="insufficient_claims"/);
    assert.equal(stack.origin.requests.length, 0);
  });

  test('a client that cannot handle claims challenges gets a plain 403', async () => {
    await forbidden('/api/payouts/1', user(['Payouts.Approve']), 'auth_context_required', { method: 'POST' });
  });

  test('a token carrying the auth context passes', async () => {
    await allowed('/api/payouts/1', user(['Payouts.Approve'], { claims: { acrs: ['c1'] } }), { method: 'POST' });
  });
});

describe('path safety: the origin gets exactly the path that was authorized', () => {
  test('duplicate and trailing slashes are normalized before matching and forwarding', async () => {
    const seen = await allowed('//api//orders/42/?x=1', user(['Orders.Read']));
    assert.equal(seen.url, '/api/orders/42?x=1');
  });

  test('case cannot route around a rule', async () => {
    await forbidden('/API/ADMIN/reindex', user(['Orders.Read']), 'app_only_required', { method: 'POST' });
  });

  test('percent-encoded letters are decoded before matching', async () => {
    await forbidden('/api/%61dmin/reindex', user(['Orders.Read']), 'app_only_required', { method: 'POST' });
  });

  test('dot segments are resolved or refused, never used to escape a rule', async () => {
    const res = await rawRequest(`${stack.url}/health/../api/admin/reindex`, { method: 'POST', headers: { authorization: `Bearer ${user(['Orders.Read'])}` } });
    assert.ok([400, 403].includes(res.status), `status ${res.status}`);
    assert.equal(stack.origin.requests.length, 0);
  });

  test('encoded dot segments are refused or resolved, never forwarded', async () => {
    const res = await rawRequest(`${stack.url}/health/%2e%2e/api/admin/reindex`, { method: 'POST', headers: { authorization: `Bearer ${user(['Orders.Read'])}` } });
    assert.ok([400, 403].includes(res.status), `status ${res.status}: ${res.body}`);
    assert.equal(stack.origin.requests.length, 0);
  });

  test('encoded slashes and ; parameters are refused with 400', async () => {
    for (const path of ['/api/orders%2F..%2Fadmin', '/health;x=1', '/api/orders/1%00']) {
      const res = await rawRequest(`${stack.url}${path}`, { headers: { authorization: `Bearer ${user(['Orders.Read'])}` } });
      assert.equal(res.status, 400, `${path}: ${res.body}`);
      assert.equal(JSON.parse(res.body).reason, 'path_invalid');
    }
    assert.equal(stack.origin.requests.length, 0);
  });
});

describe('CORS', () => {
  test('a preflight from the SPA is answered at the edge without a token', async () => {
    const res = await stack.request('/api/orders/42', {
      method: 'OPTIONS',
      headers: { origin: SPA_ORIGIN, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
    });
    assert.equal(res.status, 204);
    assert.equal(res.headers.get('access-control-allow-origin'), SPA_ORIGIN);
    assert.match(res.headers.get('access-control-allow-methods'), /POST/);
    assert.equal(res.headers.get('access-control-allow-headers'), 'authorization, content-type');
    assert.equal(res.headers.get('access-control-max-age'), '600');
    assert.equal(stack.origin.requests.length, 0);
  });

  test('a preflight from another origin gets no CORS headers', async () => {
    const res = await stack.request('/api/orders/42', { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET' } });
    assert.equal(res.status, 403);
    assert.equal(res.headers.get('access-control-allow-origin'), null);
  });

  test('a preflight for a route without CORS is refused', async () => {
    const res = await stack.request('/api/admin/x', { method: 'OPTIONS', headers: { origin: SPA_ORIGIN, 'access-control-request-method': 'POST' } });
    assert.equal(res.status, 403);
    assert.equal(res.headers.get('access-control-allow-origin'), null);
  });

  test('actual responses from an allowed origin carry CORS headers, refusals included', async () => {
    const ok = await stack.request('/api/orders/42', { token: user(['Orders.Read']), headers: { origin: SPA_ORIGIN } });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('access-control-allow-origin'), SPA_ORIGIN);
    assert.match(ok.headers.get('vary') ?? '', /Origin/);
    const refused = await stack.request('/api/orders/42', { headers: { origin: SPA_ORIGIN } });
    assert.equal(refused.status, 401);
    assert.equal(refused.headers.get('access-control-allow-origin'), SPA_ORIGIN);
    assert.equal(refused.headers.get('access-control-expose-headers'), 'www-authenticate');
  });

  test('actual responses to a disallowed origin carry no CORS headers', async () => {
    const res = await stack.request('/api/orders/42', { token: user(['Orders.Read']), headers: { origin: 'https://evil.example' } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('access-control-allow-origin'), null);
  });
});
