// Issue 15 §1: the signed identity assertion. The gateway signs, per forwarded request on a
// token-protected route, an ES256 JWS bound to the method and request-target the origin
// receives; it publishes its public keys at the edge; the example origin verifies with
// jose and refuses forgeries, replays, other URLs and methods, expired assertions and key
// confusion; a bad signing key fails closed, naming the secret.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, SignJWT, importJWK } from 'jose';
import { generateAssertionKey, jwksOf, thumbprint } from '../../dev/assertion-key.mjs';
import { startExampleOrigin } from '../../examples/origin/server.mjs';
import { assertRefused, rawRequest } from '../support/assertions.mjs';
import { ROOT } from '../../dev/wrangler.mjs';
import { DAEMON_CLIENT_ID, startStack } from '../support/stack.mjs';

const ISSUER = 'https://gateway.contoso.test';
const AUDIENCE = 'orders-origin';
const TYP = 'entra-edge-assertion+jwt';
const KEYS_PATH = '/.well-known/entra-edge-assertion-keys';
const ROUTES = [
  { name: 'health', path: '/health', methods: ['GET'], public: true },
  { name: 'orders', path: '/api/orders/**', scopes: ['Orders.Read'], roles: ['Orders.Admin'], scope_or_role: true },
];

const key = generateAssertionKey();
const next = generateAssertionKey(); // published ahead of a rotation
const other = generateAssertionKey(); // an attacker's key

let stack;
let exampleOrigin;
before(async () => {
  stack = await startStack({
    config: { routes: ROUTES, assertion: { issuer: ISSUER, audience: AUDIENCE, additional_public_keys: [next.publicJwk] } },
    vars: { ASSERTION_SIGNING_KEY: JSON.stringify(key.privateJwk) },
  });
  exampleOrigin = await startExampleOrigin(0, { assertion: { jwks: jwksOf([key.privateJwk]), issuer: ISSUER, audience: AUDIENCE } });
});
after(async () => {
  await stack?.stop();
  await exampleOrigin?.close();
});
beforeEach(() => stack.origin.reset());

/** Forwards one request through the gateway; returns what the origin received. */
async function forwarded(pathname, init = {}) {
  const res = await stack.request(pathname, { token: stack.mint({ scopes: ['Orders.Read'] }), ...init });
  assert.equal(res.status, 200, await res.text());
  assert.equal(stack.origin.requests.length, 1);
  return stack.origin.requests.at(-1);
}

/** Sends `assertion` straight to the example origin, as if the gateway had. */
function toExampleOrigin(target, assertion, method = 'GET') {
  return fetch(exampleOrigin.url + target, { method, headers: { 'x-entra-edge-assertion': assertion } });
}

/** An assertion signed with `privateJwk`, claims and header overridable. */
async function signed(privateJwk, claims = {}, header = {}) {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ tid: '3c6d1c5e-8f0a-4b8e-9d3c-2a1f6e7b9c41', sub: 's', htm: 'GET', target: '/api/orders', jti: crypto.randomUUID(), ...claims })
    .setProtectedHeader({ alg: 'ES256', typ: TYP, kid: key.publicJwk.kid, ...header })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt(claims.iat ?? now)
    .setExpirationTime(claims.exp ?? now + 60)
    .sign(await importJWK(privateJwk, 'ES256'));
}

const b64 = (value) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

describe('what the origin receives', () => {
  test('a valid ES256 assertion of the verified caller, bound to the method and the request-target it receives', async () => {
    const received = await forwarded('/api/orders/7?expand=items&q=%C3%A9', { headers: { 'x-request-id': 'req-assert-1' } });
    const jws = received.headers['x-entra-edge-assertion'];
    const jwks = await (await fetch(stack.url + KEYS_PATH)).json();
    const { payload, protectedHeader } = await jwtVerify(jws, createLocalJWKSet(jwks), { issuer: ISSUER, audience: AUDIENCE, algorithms: ['ES256'], typ: TYP });
    assert.deepEqual(protectedHeader, { alg: 'ES256', typ: TYP, kid: thumbprint(key.publicJwk) });
    assert.equal(payload.exp - payload.iat, 60);
    assert.equal(payload.htm, 'GET');
    assert.equal(payload.target, received.url);
    assert.equal(payload.target, '/api/orders/7?expand=items&q=%C3%A9');
    assert.equal(payload.request_id, 'req-assert-1');
    assert.equal(payload.route, 'orders');
    assert.match(payload.jti, /^[A-Za-z0-9_-]{22}$/);
    for (const [claim, header] of [['tid', 'x-entra-tenant-id'], ['oid', 'x-entra-object-id'], ['sub', 'x-entra-subject'], ['azp', 'x-entra-client-id'], ['scp', 'x-entra-scopes']]) {
      assert.equal(payload[claim], received.headers[header], claim);
    }
    assert.equal(payload.idtyp, 'user');
    assert.equal(payload.ver, '2.0');
    assert.equal(String(payload.token_exp), received.headers['x-entra-token-expires']);
  });

  test('the bound target is the request-target the origin receives, for every character a client may send', async () => {
    const token = stack.mint({ scopes: ['Orders.Read'] });
    for (const target of [
      "/api/orders/a!$&'()*+,=:@~b?q=|^'\"{}`<>&x=%ZZ&y=%e9&z=a+b",
      '/api/orders/%7e%41%2d?q',
      '/api/orders//x/?',
      '/api/orders/caf%C3%A9?q=caf%C3%A9#frag',
    ]) {
      stack.origin.reset();
      const res = await rawRequest(stack.url + target, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(res.status, 200, `${target}: ${res.body}`);
      const received = stack.origin.requests[0];
      const { payload } = await jwtVerify(received.headers['x-entra-edge-assertion'], createLocalJWKSet(jwksOf([key.privateJwk])));
      assert.equal(payload.target, received.url, target);
    }
  });

  test('each forwarded request gets its own assertion (its own jti), naming its own method', async () => {
    await forwarded('/api/orders');
    const first = (await jwtVerify(stack.origin.requests[0].headers['x-entra-edge-assertion'], createLocalJWKSet(jwksOf([key.privateJwk])))).payload;
    stack.origin.reset();
    await forwarded('/api/orders', { method: 'POST', body: '{"item":"x"}' });
    const second = (await jwtVerify(stack.origin.requests[0].headers['x-entra-edge-assertion'], createLocalJWKSet(jwksOf([key.privateJwk])))).payload;
    assert.notEqual(first.jti, second.jti);
    assert.equal(second.htm, 'POST');
  });

  test('an app-only caller is asserted with idtyp app and its roles, without scp', async () => {
    const token = stack.mint({ appOnly: true, roles: ['Orders.Admin'], clientId: DAEMON_CLIENT_ID, scopes: [] });
    const res = await stack.request('/api/orders', { token });
    assert.equal(res.status, 200, await res.text());
    const { payload } = await jwtVerify(stack.origin.requests[0].headers['x-entra-edge-assertion'], createLocalJWKSet(jwksOf([key.privateJwk])));
    assert.equal(payload.idtyp, 'app');
    assert.deepEqual(payload.roles, ['Orders.Admin']);
    assert.equal(payload.azp, DAEMON_CLIENT_ID);
    assert.equal(payload.scp, undefined);
  });

  test('a public route gets no assertion, and a client-sent one never reaches the origin under any spelling', async () => {
    const forged = await signed(other.privateJwk);
    const spellings = { 'x-entra-edge-assertion': forged, X_Entra_Edge_Assertion: forged, 'x.entra.edge.assertion': forged };
    const res = await stack.request('/health', { headers: spellings });
    assert.equal(res.status, 200);
    const publicHeaders = Object.keys(stack.origin.requests[0].headers);
    assert.ok(!publicHeaders.some((name) => /entra.edge.assertion/i.test(name)), publicHeaders.join(' '));
    stack.origin.reset();
    const protectedRequest = await forwarded('/api/orders', { headers: spellings });
    const names = Object.keys(protectedRequest.headers).filter((name) => /entra.edge.assertion/i.test(name));
    assert.deepEqual(names, ['x-entra-edge-assertion']);
    assert.notEqual(protectedRequest.headers['x-entra-edge-assertion'], forged);
  });
});

describe('the published keys', () => {
  test('answered at the edge without a token: the current key first, the additional one, no private part', async () => {
    const res = await fetch(stack.url + KEYS_PATH);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/jwk-set+json');
    assert.match(res.headers.get('cache-control'), /max-age=\d+/);
    const { keys } = await res.json();
    assert.deepEqual(keys.map((k) => k.kid), [key.publicJwk.kid, next.publicJwk.kid]);
    for (const k of keys) {
      assert.equal(k.d, undefined);
      assert.deepEqual([k.kty, k.crv, k.alg, k.use], ['EC', 'P-256', 'ES256', 'sig']);
    }
    assert.equal(stack.origin.requests.length, 0, 'the origin was not asked');
  });

  test('the health document names the key that signs', async () => {
    assert.equal((await stack.health()).assertion_kid, key.publicJwk.kid);
  });

  test('what make assertion-jwks prints is what the gateway publishes', async () => {
    const published = await (await fetch(stack.url + KEYS_PATH)).json();
    const printed = jwksOf([key.privateJwk, next.publicJwk]);
    const sorted = (jwks) => jwks.keys.map((k) => Object.fromEntries(Object.entries(k).sort()));
    assert.deepEqual(sorted(published), sorted(printed));
  });
});

describe('the example origin verifies', () => {
  test("it accepts the gateway's assertion at its URL and method, once", async () => {
    const received = await forwarded('/api/orders?page=2');
    const jws = received.headers['x-entra-edge-assertion'];
    const first = await toExampleOrigin(received.url, jws);
    assert.equal(first.status, 200, await first.clone().text());
    assert.equal((await first.json()).assertion.verified, true);
    const again = await toExampleOrigin(received.url, jws);
    assert.equal(again.status, 401);
    assert.match((await again.json()).message, /already used/);
  });

  test('a replay on another URL, query or method fails', async () => {
    const received = await forwarded('/api/orders/1?page=2');
    const jws = received.headers['x-entra-edge-assertion'];
    for (const [target, method, why] of [
      ['/api/orders/2?page=2', 'GET', /another URL/],
      ['/api/orders/1?page=3', 'GET', /another URL/],
      ['/api/orders/1', 'GET', /another URL/],
      ['/API/orders/1?page=2', 'GET', /another URL/],
      ['/api/orders/1?page=2', 'DELETE', /another method/],
    ]) {
      const res = await toExampleOrigin(target, jws, method);
      assert.equal(res.status, 401, `${method} ${target}`);
      assert.match((await res.json()).message, why, `${method} ${target}`);
    }
  });

  test('an assertion signed with another key (claiming the gateway\'s kid) fails', async () => {
    const res = await toExampleOrigin('/api/orders', await signed(other.privateJwk));
    assert.equal(res.status, 401);
    assert.equal((await res.json()).error, 'assertion_invalid');
  });

  test('the same claims signed with the gateway\'s key pass (the checks above are not vacuous)', async () => {
    const res = await toExampleOrigin('/api/orders', await signed(key.privateJwk));
    assert.equal(res.status, 200, await res.text());
  });

  test('an expired assertion, or one that lives too long, fails', async () => {
    const now = Math.floor(Date.now() / 1000);
    const expired = await toExampleOrigin('/api/orders', await signed(key.privateJwk, { iat: now - 600, exp: now - 540 }));
    assert.equal(expired.status, 401);
    assert.match((await expired.json()).message, /exp/);
    const long = await toExampleOrigin('/api/orders', await signed(key.privateJwk, { iat: now, exp: now + 3600 }));
    assert.equal(long.status, 401);
    assert.match((await long.json()).message, /too long/);
  });

  test('another issuer, audience or type fails', async () => {
    for (const [claims, header] of [[{ iss: 'https://evil.test' }, {}], [{ aud: 'another-origin' }, {}], [{}, { typ: 'JWT' }]]) {
      const token = await new SignJWT({ tid: 't', sub: 's', htm: 'GET', target: '/api/orders', jti: crypto.randomUUID() })
        .setProtectedHeader({ alg: 'ES256', typ: TYP, kid: key.publicJwk.kid, ...header })
        .setIssuer(claims.iss ?? ISSUER)
        .setAudience(claims.aud ?? AUDIENCE)
        .setIssuedAt()
        .setExpirationTime('60s')
        .sign(await importJWK(key.privateJwk, 'ES256'));
      const res = await toExampleOrigin('/api/orders', token);
      assert.equal(res.status, 401, JSON.stringify({ claims, header }));
    }
  });

  test('key confusion: alg none, and HS256 keyed with the public key, fail', async () => {
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: ISSUER, aud: AUDIENCE, iat: now, exp: now + 60, jti: crypto.randomUUID(), tid: 't', sub: 's', htm: 'GET', target: '/api/orders' };
    const none = `${b64({ alg: 'none', typ: TYP, kid: key.publicJwk.kid })}.${b64(claims)}.`;
    const publicPem = crypto.createPublicKey({ key: key.publicJwk, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
    const hsTokens = [publicPem, JSON.stringify(key.publicJwk)].map((secret) => {
      const input = `${b64({ alg: 'HS256', typ: TYP, kid: key.publicJwk.kid })}.${b64({ ...claims, jti: crypto.randomUUID() })}`;
      return `${input}.${crypto.createHmac('sha256', secret).update(input).digest('base64url')}`;
    });
    for (const token of [none, ...hsTokens]) {
      assert.equal(decodeProtectedHeader(token).kid, key.publicJwk.kid);
      const res = await toExampleOrigin('/api/orders', token);
      assert.equal(res.status, 401);
      assert.equal((await res.json()).error, 'assertion_invalid');
    }
  });

  test('without an assertion the API needs one; x-entra-* headers alone are not believed', async () => {
    const res = await fetch(exampleOrigin.url + '/api/orders', { headers: { 'x-entra-tenant-id': '3c6d1c5e-8f0a-4b8e-9d3c-2a1f6e7b9c41', 'x-entra-object-id': 'someone' } });
    assert.equal(res.status, 401);
    assert.equal((await res.json()).error, 'assertion_required');
  });
});

describe('configuration', () => {
  test('a custom header and path, an origin path prefix: the bound target carries the prefix, every spelling stripped', async () => {
    const custom = await startStack({
      config: ({ origin }) => ({
        origin: `${origin.url}/backend`,
        routes: ROUTES,
        assertion: { header: 'X-Gateway-Assertion', jwks_path: '/keys/assertion' },
      }),
      vars: { ASSERTION_SIGNING_KEY: JSON.stringify(key.privateJwk) },
    });
    try {
      const token = custom.mint({ scopes: ['Orders.Read'] });
      const res = await custom.request('/api/orders/9?a=%20b&c', { token, headers: { X_Gateway_Assertion: 'forged', 'x-entra-edge-assertion': 'forged' } });
      assert.equal(res.status, 200, await res.text());
      const received = custom.origin.requests[0];
      assert.equal(received.url, '/backend/api/orders/9?a=%20b&c');
      const { payload } = await jwtVerify(received.headers['x-gateway-assertion'], createLocalJWKSet(jwksOf([key.privateJwk])));
      assert.equal(payload.target, received.url);
      assert.equal(payload.iss, 'entra-edge', 'the default issuer');
      assert.equal(payload.aud, `${custom.origin.url}/backend`, 'the default audience is the origin');
      const names = Object.keys(received.headers).filter((n) => /assertion/i.test(n));
      assert.deepEqual(names, ['x-gateway-assertion']);
      assert.notEqual(received.headers['x-gateway-assertion'], 'forged');
      assert.equal((await custom.request('/keys/assertion')).status, 200);
      assert.equal((await custom.request(KEYS_PATH)).status, 404, 'the default path is not answered then');
    } finally {
      await custom.stop();
    }
  });

  test('a missing signing key fails closed, naming the secret; nothing reaches the origin', async () => {
    const broken = await startStack({ config: { routes: ROUTES, assertion: {} } });
    try {
      for (const pathname of ['/health', '/api/orders', KEYS_PATH]) {
        const body = await assertRefused(await broken.request(pathname, { token: broken.mint() }), { status: 500, reason: 'config_invalid' });
        assert.match(body.detail, /ASSERTION_SIGNING_KEY/);
      }
      assert.equal(broken.origin.requests.length, 0);
    } finally {
      await broken.stop();
    }
  });

  test('a key whose public part is not its own fails closed at the first request, naming the secret', async () => {
    const mismatched = { ...key.privateJwk, x: other.publicJwk.x, y: other.publicJwk.y, kid: 'mismatched' };
    const broken = await startStack({ config: { routes: ROUTES, assertion: {} }, vars: { ASSERTION_SIGNING_KEY: JSON.stringify(mismatched) } });
    try {
      const body = await assertRefused(await broken.request('/api/orders', { token: broken.mint() }), { status: 500, reason: 'config_invalid' });
      // workerd's WebCrypto already refuses the import; elsewhere the sign-and-verify probe does.
      assert.match(body.detail, /ASSERTION_SIGNING_KEY: (WebCrypto refused the key|its public part)/);
      assert.doesNotMatch(JSON.stringify(body), new RegExp(key.privateJwk.d));
      assert.equal(broken.origin.requests.length, 0);
    } finally {
      await broken.stop();
    }
  });
});

describe('make assertion-key and make assertion-jwks', () => {
  test('writes a private key only its owner can read, never over another, and prints the secret put line and its JWKS', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'entra-edge-assertion-key-'));
    try {
      const file = path.join(dir, 'key.json');
      const script = path.join(ROOT, 'dev', 'assertion-key.mjs');
      const output = execFileSync(process.execPath, [script, '--out', file], { encoding: 'utf8' });
      const jwk = JSON.parse(fs.readFileSync(file, 'utf8'));
      assert.equal(fs.statSync(file).mode & 0o777, 0o600);
      assert.equal(jwk.kid, thumbprint(jwk));
      assert.match(output, new RegExp(`npx wrangler secret put ASSERTION_SIGNING_KEY < ${file}`));
      assert.ok(!output.includes(jwk.d), 'the private key is not printed');
      assert.ok(output.includes(`kid = "${jwk.kid}"`), 'the TOML line for additional_public_keys');
      const again = spawnSync(process.execPath, [script, '--out', file], { encoding: 'utf8' });
      assert.equal(again.status, 2);
      assert.match(again.stderr, /exists/);
      assert.deepEqual(JSON.parse(fs.readFileSync(file, 'utf8')), jwk, 'the key was not overwritten');
      const printed = JSON.parse(execFileSync(process.execPath, [script, '--jwks', file], { encoding: 'utf8' }));
      assert.deepEqual(printed, jwksOf([jwk]));
      assert.equal(printed.keys[0].d, undefined);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
