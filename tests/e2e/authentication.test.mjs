// Issue 2: valid Entra tokens reach the origin with identity headers; every invalid one
// gets 401 with an RFC 6750 challenge and never reaches the origin.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { encodeJson, signHs256, signRs256 } from '../../dev/jwt.mjs';
import { V1_ISSUER, V2_ISSUER, createSigningKey } from '../../dev/authority.mjs';
import { assertRefused, rawRequest } from '../support/assertions.mjs';
import { API_APP_ID_URI, API_CLIENT_ID, DAEMON_CLIENT_ID, DEMO_TENANT, FOREIGN_TENANT, PARTNER_TENANT, startStack } from '../support/stack.mjs';

let stack;
before(async () => { stack = await startStack(); });
after(async () => { await stack?.stop(); });
beforeEach(() => stack.origin.reset());

async function expectForwarded(token, path = '/orders') {
  const res = await stack.request(path, { token });
  const text = await res.text();
  assert.equal(res.status, 200, text);
  assert.equal(stack.origin.requests.length, 1);
  return stack.origin.requests[0];
}

async function expectInvalidToken(token, reason) {
  const res = await stack.request('/orders', { token });
  await assertRefused(res, { status: 401, reason, error: 'invalid_token', token });
  assert.equal(stack.origin.requests.length, 0, 'the origin saw a refused request');
}

describe('valid tokens reach the origin with identity headers', () => {
  test('v2 delegated token', async () => {
    const seen = await expectForwarded(stack.mint({ scopes: ['Orders.Read', 'Orders.Write'], objectId: '11111111-2222-4333-8444-555555555555' }));
    assert.equal(seen.headers['x-entra-tenant-id'], DEMO_TENANT);
    assert.equal(seen.headers['x-entra-object-id'], '11111111-2222-4333-8444-555555555555');
    assert.equal(seen.headers['x-entra-scopes'], 'Orders.Read Orders.Write');
    assert.equal(seen.headers['x-entra-token-kind'], 'delegated');
    assert.equal(seen.headers['x-entra-token-version'], '2.0');
    assert.equal(seen.headers['x-entra-client-id'], '0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d');
    assert.ok(seen.headers['x-entra-subject']);
    assert.match(seen.headers['x-entra-token-expires'], /^\d+$/);
  });

  test('v1 delegated token with the App ID URI audience', async () => {
    const seen = await expectForwarded(stack.mint({ version: '1.0', audience: API_APP_ID_URI, scopes: ['Orders.Read'] }));
    assert.equal(seen.headers['x-entra-token-version'], '1.0');
    assert.equal(seen.headers['x-entra-token-kind'], 'delegated');
  });

  test('v2 app-only token', async () => {
    const seen = await expectForwarded(stack.mint({ appOnly: true, scopes: [], roles: ['Orders.Read.All'], clientId: DAEMON_CLIENT_ID }));
    assert.equal(seen.headers['x-entra-token-kind'], 'app');
    assert.equal(seen.headers['x-entra-roles'], 'Orders.Read.All');
    assert.equal(seen.headers['x-entra-client-id'], DAEMON_CLIENT_ID);
  });

  test('v1 app-only token', async () => {
    const seen = await expectForwarded(stack.mint({ version: '1.0', appOnly: true, scopes: [], roles: ['Orders.Read.All'], clientId: DAEMON_CLIENT_ID }));
    assert.equal(seen.headers['x-entra-token-kind'], 'app');
    assert.equal(seen.headers['x-entra-client-id'], DAEMON_CLIENT_ID);
  });

  test('token of the second allowed tenant', async () => {
    const seen = await expectForwarded(stack.mint({ tenant: PARTNER_TENANT }));
    assert.equal(seen.headers['x-entra-tenant-id'], PARTNER_TENANT);
  });
});

describe('invalid tokens get 401 and never reach the origin', () => {
  test('no token: bare challenge', async () => {
    const res = await stack.request('/orders');
    await assertRefused(res, { status: 401, reason: 'token_missing', error: null });
    assert.equal(stack.origin.requests.length, 0);
  });

  test('another authorization scheme: bare challenge', async () => {
    const res = await stack.request('/orders', { headers: { authorization: 'Basic dXNlcjpwYXNz' } });
    await assertRefused(res, { status: 401, reason: 'token_missing', error: null });
    assert.equal(stack.origin.requests.length, 0);
  });

  test('Bearer with no token: 400 invalid_request', async () => {
    const res = await stack.request('/orders', { headers: { authorization: 'Bearer' } });
    await assertRefused(res, { status: 400, reason: 'authorization_malformed', error: 'invalid_request' });
    assert.equal(stack.origin.requests.length, 0);
  });

  test('malformed token', async () => {
    await expectInvalidToken('not-a-jwt', 'token_malformed');
    await expectInvalidToken('aaaa.bbbb.cccc', 'token_malformed');
  });

  test('bad signature', async () => {
    const token = stack.mint();
    const [h, c, s] = token.split('.');
    const flipped = Buffer.from(s, 'base64url');
    flipped[10] ^= 0xff;
    await expectInvalidToken(`${h}.${c}.${flipped.toString('base64url')}`, 'signature_invalid');
  });

  test('claims changed after signing', async () => {
    const token = stack.mint();
    const [h, , s] = token.split('.');
    const forged = stack.authority.mint({ tenant: DEMO_TENANT, audience: API_CLIENT_ID, scopes: ['Orders.Admin'] }).split('.')[1];
    await expectInvalidToken(`${h}.${forged}.${s}`, 'signature_invalid');
  });

  test('signed by a key the authority never published', async () => {
    const rogue = createSigningKey();
    const token = stack.authority.mint({ tenant: DEMO_TENANT, audience: API_CLIENT_ID, key: { ...rogue, kid: stack.authority.signingKey.kid } });
    await expectInvalidToken(token, 'signature_invalid');
  });

  test('alg none', async () => {
    const claims = JSON.parse(Buffer.from(stack.mint().split('.')[1], 'base64url'));
    await expectInvalidToken(`${encodeJson({ alg: 'none', typ: 'JWT' })}.${encodeJson(claims)}.`, 'algorithm_not_allowed');
  });

  test('HS256 signed with the public key as the secret', async () => {
    const claims = JSON.parse(Buffer.from(stack.mint().split('.')[1], 'base64url'));
    const key = stack.authority.signingKey;
    const pem = key.publicKey.export({ type: 'spki', format: 'pem' });
    await expectInvalidToken(signHs256({ alg: 'HS256', typ: 'JWT', kid: key.kid }, claims, pem), 'algorithm_not_allowed');
  });

  test('key supplied by the token (jwk header)', async () => {
    const rogue = createSigningKey();
    const claims = JSON.parse(Buffer.from(stack.mint().split('.')[1], 'base64url'));
    const token = signRs256({ alg: 'RS256', typ: 'JWT', kid: rogue.kid, jwk: { kty: 'RSA', n: rogue.n, e: rogue.e } }, claims, rogue.privateKey);
    await expectInvalidToken(token, 'header_not_allowed');
  });

  test('key set URL supplied by the token (jku header)', async () => {
    await expectInvalidToken(stack.mint({ header: { jku: 'https://evil.example/keys' } }), 'header_not_allowed');
  });

  test('expired', async () => {
    const now = Math.floor(Date.now() / 1000);
    await expectInvalidToken(stack.mint({ claims: { iat: now - 7200, nbf: now - 7200, exp: now - 600 } }), 'token_expired');
  });

  test('not yet valid', async () => {
    const now = Math.floor(Date.now() / 1000);
    await expectInvalidToken(stack.mint({ claims: { nbf: now + 900 } }), 'token_not_yet_valid');
  });

  test('wrong audience', async () => {
    await expectInvalidToken(stack.mint({ audience: 'api://someone-else' }), 'audience_mismatch');
  });

  test('Microsoft Graph token', async () => {
    const res = await stack.request('/orders', { token: stack.mint({ audience: '00000003-0000-0000-c000-000000000000' }) });
    const body = await assertRefused(res, { status: 401, reason: 'audience_mismatch', error: 'invalid_token' });
    assert.match(body.detail, /Microsoft Graph/);
  });

  test('wrong issuer', async () => {
    await expectInvalidToken(stack.mint({ claims: { iss: 'https://login.evil.example/x/v2.0' } }), 'issuer_mismatch');
    await expectInvalidToken(stack.mint({ claims: { iss: V1_ISSUER(DEMO_TENANT) } }), 'issuer_mismatch');
  });

  test('tenant not allowed', async () => {
    await expectInvalidToken(stack.mint({ tenant: FOREIGN_TENANT }), 'tenant_not_allowed');
  });

  test('tid and iss of different tenants', async () => {
    await expectInvalidToken(stack.mint({ tenant: PARTNER_TENANT, claims: { iss: V2_ISSUER(DEMO_TENANT) } }), 'issuer_mismatch');
  });

  test('tid that is not a GUID', async () => {
    await expectInvalidToken(stack.mint({ claims: { tid: 'common' } }), 'tenant_invalid');
  });

  test('unknown token version', async () => {
    await expectInvalidToken(stack.mint({ claims: { ver: '3.0' } }), 'token_version_not_accepted');
  });
});

describe('forwarding', () => {
  test('method, path, query, body and end-to-end headers arrive intact', async () => {
    const res = await stack.request('/orders/42/items?expand=lines&q=a%20b', {
      method: 'POST',
      token: stack.mint(),
      headers: { 'content-type': 'application/json', 'x-correlation': 'abc', accept: 'application/json' },
      body: JSON.stringify({ sku: 'X-1', qty: 2 }),
    });
    assert.equal(res.status, 200, await res.text());
    const seen = stack.origin.requests[0];
    assert.equal(seen.method, 'POST');
    assert.equal(seen.url, '/orders/42/items?expand=lines&q=a%20b');
    assert.equal(seen.body, JSON.stringify({ sku: 'X-1', qty: 2 }));
    assert.equal(seen.headers['content-type'], 'application/json');
    assert.equal(seen.headers['x-correlation'], 'abc');
  });

  test('the origin answer is relayed: status, headers and body', async () => {
    const res = await stack.request('/orders', { token: stack.mint() });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-origin'), 'demo');
    assert.equal((await res.json()).message, 'hello from the origin');
  });

  test('spoofed identity headers never reach the origin', async () => {
    const res = await stack.request('/orders', {
      token: stack.mint({ scopes: ['Orders.Read'] }),
      headers: { 'x-entra-tenant-id': FOREIGN_TENANT, 'x-entra-roles': 'Admin', 'X-Entra-Scopes': 'Orders.Admin', 'x-entra-injected': '1' },
    });
    assert.equal(res.status, 200);
    const seen = stack.origin.requests[0].headers;
    assert.equal(seen['x-entra-tenant-id'], DEMO_TENANT);
    assert.equal(seen['x-entra-roles'], '');
    assert.equal(seen['x-entra-scopes'], 'Orders.Read');
    assert.equal(seen['x-entra-injected'], undefined);
  });

  test('spoofed identity headers on an unauthenticated request never reach the origin', async () => {
    const res = await stack.request('/orders', { headers: { 'x-entra-tenant-id': DEMO_TENANT } });
    assert.equal(res.status, 401);
    assert.equal(stack.origin.requests.length, 0);
  });

  test('Authorization is not forwarded by default', async () => {
    await expectForwarded(stack.mint());
    assert.equal(stack.origin.requests[0].headers.authorization, undefined);
  });

  test('hop-by-hop and proxy credential headers are dropped', async () => {
    const res = await rawRequest(`${stack.url}/orders`, {
      headers: { authorization: `Bearer ${stack.mint()}`, 'proxy-authorization': 'Basic cHJveHk6c2VjcmV0', 'keep-alive': 'timeout=5', te: 'trailers', 'x-kept': 'yes' },
    });
    assert.equal(res.status, 200, res.body);
    const seen = stack.origin.requests[0].headers;
    assert.equal(seen['proxy-authorization'], undefined);
    assert.equal(seen['keep-alive'], undefined);
    assert.equal(seen.te, undefined);
    assert.equal(seen['x-kept'], 'yes');
  });
});

describe('signing keys', () => {
  test('many requests cost the authority one metadata and one JWKS fetch per token version', async () => {
    const before = { ...stack.authority.counts };
    for (let i = 0; i < 20; i++) {
      const res = await stack.request('/orders', { token: stack.mint() });
      assert.equal(res.status, 200);
    }
    assert.equal(stack.authority.counts.metadata - before.metadata, 0, 'v2 keys were fetched by earlier tests already');
    assert.equal(stack.authority.counts.jwks - before.jwks, 0);
    assert.ok(stack.authority.counts.jwks <= 4, `JWKS fetched ${stack.authority.counts.jwks} times for 2 tenants x 2 versions`);
  });
});
