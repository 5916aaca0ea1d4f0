// What crosses the gateway's trust boundary, and only what the authority vouches for:
// client-sent identity headers (every spelling) never reach the origin; only access tokens
// whose kind is proven by their claims pass; unknown kids refresh the keys with discipline;
// app-specific and cloud-tagged signing keys; key documents come only from the authority
// and are bounded in size.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, beforeEach, describe, test } from 'node:test';
import { createSigningKey, startAuthority } from '../../dev/authority.mjs';
import { decode } from '../../dev/jwt.mjs';
import { assertRefused, rawRequest } from '../support/assertions.mjs';
import { API_APP_ID_URI, API_CLIENT_ID, DAEMON_CLIENT_ID, DEMO_TENANT, FOREIGN_TENANT, PARTNER_TENANT, startStack } from '../support/stack.mjs';

// Every wait is bounded. None of these bounds is a timing assertion: each is many times
// what the step takes on a loaded 2-core machine, and only turns a hang into a failure.
const REQUEST_TIMEOUT_MS = 30_000; // one request through the gateway (authority fetches are bounded at 3 s)
const T = { timeout: 120_000 }; // per test
const T_OWN_STACK = { timeout: 300_000 }; // per test that starts (and stops) its own stack
const HOOK = { timeout: 180_000 }; // starting a stack (wrangler dev), with its port-race retries

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Rejects if `promise` has not settled within `ms`. */
function bounded(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** fetch through the gateway, bounded. */
function send(stack, path, options = {}) {
  return stack.request(path, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS), ...options });
}

/** A raw HTTP/1.1 request (header names sent exactly as spelled), bounded. */
function sendRaw(stack, path, headers) {
  return bounded(rawRequest(`${stack.url}${path}`, { headers }), REQUEST_TIMEOUT_MS, `GET ${path}`);
}

/** Starts a stack for one test and always stops it. */
async function withStack(options, fn) {
  const stack = await startStack(options);
  try {
    return await fn(stack);
  } finally {
    await stack.stop();
  }
}

/** The request must reach the origin with 200; returns the headers the origin received. */
async function expectForwarded(stack, path, token) {
  const res = await send(stack, path, { token });
  const text = await res.text();
  assert.equal(res.status, 200, text);
  assert.equal(stack.origin.requests.length, 1, 'the origin saw the request');
  return stack.origin.requests[0].headers;
}

/** The request must be refused with `reason` and never reach the origin. */
async function expectRefused(stack, path, token, { status = 401, reason, error = 'invalid_token' }) {
  const res = await send(stack, path, { token });
  const body = await assertRefused(res, { status, reason, error, token });
  assert.equal(stack.origin.requests.length, 0, 'the origin saw a refused request');
  return body;
}

// ---------------------------------------------------------------------------------------
// 1. Identity-header stripping
// ---------------------------------------------------------------------------------------

const IDENTITY_PREFIXES = ['x-entra-', 'x-ms-client-principal', 'x-ms-token-', 'x-auth-request-', 'x-goog-authenticated-user-', 'x-amzn-oidc-', 'cf-access-', 'x-webauth-'];
const IDENTITY_NAMES = [
  'x-forwarded-user', 'x-forwarded-email', 'x-forwarded-preferred-username', 'x-forwarded-groups', 'x-forwarded-access-token',
  'remote-user', 'remote-email', 'remote-groups', 'remote-name', 'x-remote-user', 'x-remote-email', 'x-remote-groups',
  'x-user', 'x-user-id', 'x-userid', 'x-user-name', 'x-username', 'x-user-email', 'x-user-roles', 'x-user-groups', 'x-email',
  'x-tenant', 'x-tenant-id', 'x-tenantid', 'x-org-id', 'x-organization-id', 'x-authenticated-user', 'x-authenticated-userid',
  'x-consumer-id', 'x-consumer-username', 'x-consumer-custom-id', 'x-credential-identifier', 'x-userinfo', 'x-id-token',
  'x-access-token', 'x-jwt-assertion', 'x-jwt-payload', 'x-goog-iap-jwt-assertion', 'x-apigateway-api-userinfo',
  'x-endpoint-api-userinfo', 'x-principal', 'x-principal-id',
];
const EXTRA_IDENTITY_HEADERS = ['x-myapp-user-*', 'x-acme-role'];
/** The headers the gateway itself sets from the verified token (no ORIGIN_SECRET here). */
const GATEWAY_IDENTITY = ['x-entra-tenant-id', 'x-entra-object-id', 'x-entra-subject', 'x-entra-client-id', 'x-entra-scopes', 'x-entra-roles', 'x-entra-token-kind', 'x-entra-token-version', 'x-entra-token-expires'];

/**
 * How the gateway (and the most permissive origin stacks: lighttpd's CGI naming maps every
 * non-alphanumeric character to `_`) compare names: lowercase, anything but a-z0-9 as `-`.
 */
const fold = (name) => name.toLowerCase().replace(/[^a-z0-9]/g, '-');

function isIdentityName(name, extra = []) {
  const folded = fold(name);
  const names = [...IDENTITY_NAMES, ...extra.filter((e) => !e.endsWith('*')).map(fold)];
  const prefixes = [...IDENTITY_PREFIXES, ...extra.filter((e) => e.endsWith('*')).map((e) => fold(e.slice(0, -1)))];
  return names.includes(folded) || prefixes.some((p) => folded.startsWith(p));
}

/**
 * Names the origin received that fold to a stripped name: client-sent identity headers
 * that got through. The gateway's own headers, in their exact canonical spelling, are
 * exempt (their values are checked against the token separately).
 */
function leakedIdentityHeaders(received, { extra = [], gatewayOwn = [] } = {}) {
  return Object.keys(received).filter((name) => isIdentityName(name, extra) && !gatewayOwn.includes(name));
}

/** Received headers whose value is one of the spoofed ones (under any name: a rename leaks too). */
const spoofedValues = (received) => Object.entries(received).filter(([, value]) => String(value).includes('spoofed-'));

/** The value the origin received under a name that folds to `name` (any spelling). */
function receivedFolded(received, name) {
  const hits = Object.entries(received).filter(([k]) => fold(k) === fold(name));
  return hits.length === 1 ? hits[0][1] : hits.length === 0 ? undefined : hits.map(([k, v]) => `${k}: ${v}`);
}

/** The gateway's identity headers as they must be for `token` (delegated, v2). */
function verifiedIdentity(token) {
  const { claims } = decode(token);
  return {
    'x-entra-tenant-id': claims.tid,
    'x-entra-object-id': claims.oid,
    'x-entra-subject': claims.sub,
    'x-entra-client-id': claims.azp,
    'x-entra-scopes': claims.scp ?? '',
    'x-entra-roles': (claims.roles ?? []).join(' '),
    'x-entra-token-kind': 'delegated',
    'x-entra-token-version': claims.ver,
    'x-entra-token-expires': String(claims.exp),
  };
}

const capitalize = (word) => word.charAt(0).toUpperCase() + word.slice(1);
/** Spellings a client may use for one name: as is, CGI style, title case, title case with underscores. */
const SPELLINGS = [
  (n) => n,
  (n) => n.toUpperCase().replaceAll('-', '_'),
  (n) => n.split('-').map(capitalize).join('-'),
  (n) => n.split('-').map(capitalize).join('_'),
  // Other header-name characters (RFC 9110 tchar) that lighttpd and PHP read as `_`.
  (n) => n.replaceAll('-', '.'),
  (n) => n.replaceAll('-', '~'),
  (n) => n.split('-').map(capitalize).join('+'),
  (n) => n.replaceAll('-', '!'),
];

const CLIENT_PRINCIPAL = Buffer.from(JSON.stringify({
  auth_typ: 'aad',
  claims: [{ typ: 'roles', val: 'Admin' }, { typ: 'http://schemas.microsoft.com/identity/claims/tenantid', val: FOREIGN_TENANT }],
  name_typ: 'name',
  role_typ: 'roles',
})).toString('base64');

/** The examples of the issue, spelled as the issue spells them. */
const ISSUE_EXAMPLES = {
  X_Entra_Roles: 'Admin',
  'X-Entra_Tenant_Id': FOREIGN_TENANT,
  'X-MS-CLIENT-PRINCIPAL-NAME': 'someone',
  'X-MS-CLIENT-PRINCIPAL': CLIENT_PRINCIPAL,
  'X-MS-TOKEN-AAD-ACCESS-TOKEN': 'x',
  'Remote-User': 'admin',
  'X-Forwarded-User': 'admin',
  'X-User-Id': '1',
  'X-Auth-Request-User': 'admin',
  x_forwarded_user: 'admin',
  REMOTE_USER: 'admin',
  Cf_Access_Authenticated_User_Email: 'admin@contoso.example',
  // Found by the outside review: punctuation other than `_` between the words.
  'x-entra.roles': 'Admin',
  'x.entra-tenant-id': FOREIGN_TENANT,
  'X-Entra.Object-Id': 'spoofed-oid',
  'x-entra~scopes': 'Orders.Admin',
  'x-user.id': '1',
  'remote.user': 'admin',
};

/** One header per prefix, beyond the issue's examples. */
const PREFIX_SAMPLES = [
  'x-entra-injected', 'x-entra-scopes', 'x-ms-client-principal-id', 'x-ms-client-principal-idp', 'x-ms-token-aad-id-token',
  'x-auth-request-email', 'x-auth-request-groups', 'x-goog-authenticated-user-email', 'x-goog-authenticated-user-id',
  'x-amzn-oidc-identity', 'x-amzn-oidc-data', 'cf-access-jwt-assertion', 'x-webauth-user',
];

/** Adds `name: value` unless a header of the same (case-insensitive) name is already there. */
function addHeader(headers, name, value) {
  if (!Object.keys(headers).some((k) => k.toLowerCase() === name.toLowerCase())) headers[name] = value;
}

/** The issue's examples plus every built-in name and a sample of every prefix, in mixed spellings. */
function spoofedIdentityHeaders() {
  const headers = { ...ISSUE_EXAMPLES };
  [...IDENTITY_NAMES, ...PREFIX_SAMPLES].forEach((name, i) => addHeader(headers, SPELLINGS[i % SPELLINGS.length](name), `spoofed-${i}`));
  return headers;
}

/** Headers that look like identity headers but are not on any list: they must arrive. */
const ORDINARY_HEADERS = {
  X_API_KEY: 'k-123',
  'x-request-source': 'mobile',
  'x-custom': 'c',
  'x-tenant-region': 'eu', // x-tenant is an exact name, not a prefix
  'x-acme-roles': 'kept', // x-acme-role (extra) is an exact name, not a prefix
  'X_MyApp_Session': 's-1', // not under x-myapp-user-*
};

describe('client identity headers never reach the origin', () => {
  let stack;
  before(async () => {
    stack = await startStack({
      config: {
        routes: [{ path: '/public/**', public: true }, { path: '/**' }],
        extra_identity_headers: EXTRA_IDENTITY_HEADERS,
      },
    });
  }, HOOK);
  after(async () => { await stack?.stop(); });
  beforeEach(() => stack?.origin.reset());

  test('identity headers of every platform, in every spelling, are removed on an authenticated route', T, async () => {
    const token = stack.mint();
    const res = await sendRaw(stack, '/orders', { authorization: `Bearer ${token}`, ...spoofedIdentityHeaders() });
    assert.equal(res.status, 200, res.body);
    const seen = stack.origin.requests[0].headers;
    assert.deepEqual(leakedIdentityHeaders(seen, { extra: EXTRA_IDENTITY_HEADERS, gatewayOwn: GATEWAY_IDENTITY }), [], 'client identity headers reached the origin');
    assert.deepEqual(spoofedValues(seen), [], 'spoofed values reached the origin');
  });

  test('identity headers of every platform, in every spelling, are removed on a public route', T, async () => {
    const res = await sendRaw(stack, '/public/status', spoofedIdentityHeaders());
    assert.equal(res.status, 200, res.body);
    const seen = stack.origin.requests[0].headers;
    assert.deepEqual(leakedIdentityHeaders(seen, { extra: EXTRA_IDENTITY_HEADERS }), [], 'client identity headers reached the origin');
    assert.deepEqual(spoofedValues(seen), [], 'spoofed values reached the origin');
  });

  test('the gateway\'s own identity headers carry the verified values, not the spoofed ones', T, async () => {
    const token = stack.mint({ scopes: ['Orders.Read'] });
    const res = await sendRaw(stack, '/orders', {
      authorization: `Bearer ${token}`,
      ...ISSUE_EXAMPLES,
      'x-entra-subject': 'someone-else',
      X_ENTRA_OBJECT_ID: '00000000-0000-0000-0000-000000000001',
      'X-Entra-Client_Id': DAEMON_CLIENT_ID,
      'x_entra_scopes': 'Orders.Admin',
      'X-ENTRA-TOKEN-KIND': 'app',
      'x-entra-token-expires': '99999999999',
    });
    assert.equal(res.status, 200, res.body);
    const seen = stack.origin.requests[0].headers;
    const own = Object.fromEntries(GATEWAY_IDENTITY.map((name) => [name, seen[name]]));
    assert.deepEqual(own, verifiedIdentity(token));
    assert.equal(seen['x-entra-tenant-id'], DEMO_TENANT);
    assert.equal(seen['x-entra-roles'], '');
  });

  test('extra_identity_headers names and prefixes are removed in every spelling on an authenticated route', T, async () => {
    const token = stack.mint();
    const res = await sendRaw(stack, '/orders', {
      authorization: `Bearer ${token}`,
      X_MyApp_User_Id: '7',
      'x-myapp-user-email': 'eve@contoso.example',
      'X-MYAPP-USER-ROLES': 'Admin',
      X_Acme_Role: 'admin',
      'X-Acme-Role': 'admin',
    });
    assert.equal(res.status, 200, res.body);
    const seen = stack.origin.requests[0].headers;
    assert.deepEqual(leakedIdentityHeaders(seen, { extra: EXTRA_IDENTITY_HEADERS, gatewayOwn: GATEWAY_IDENTITY }), []);
  });

  test('extra_identity_headers names and prefixes are removed on a public route', T, async () => {
    const res = await sendRaw(stack, '/public/status', { 'X_MYAPP_USER_TENANT': FOREIGN_TENANT, 'x-acme-role': 'admin', x_acme_role: 'admin' });
    assert.equal(res.status, 200, res.body);
    const seen = stack.origin.requests[0].headers;
    assert.deepEqual(leakedIdentityHeaders(seen, { extra: EXTRA_IDENTITY_HEADERS }), []);
  });

  test('ordinary headers, underscores and identity lookalikes included, still reach the origin', T, async () => {
    const token = stack.mint();
    const res = await sendRaw(stack, '/orders', { authorization: `Bearer ${token}`, ...ORDINARY_HEADERS });
    assert.equal(res.status, 200, res.body);
    const seen = stack.origin.requests[0].headers;
    for (const [name, value] of Object.entries(ORDINARY_HEADERS)) {
      assert.equal(receivedFolded(seen, name), value, `${name} did not reach the origin`);
    }
  });
});

// ---------------------------------------------------------------------------------------
// 2. Token kind from positive evidence
// ---------------------------------------------------------------------------------------

const KIND_ROUTES = [
  { path: '/app/**', roles: ['Admin'], token_kind: 'app' },
  { path: '/roles/**', roles: ['Admin'] },
  { path: '/**' },
];

describe('only access tokens of a proven kind pass', () => {
  let stack;
  before(async () => { stack = await startStack({ config: { routes: KIND_ROUTES } }); }, HOOK);
  after(async () => { await stack?.stop(); });
  beforeEach(() => stack?.origin.reset());

  const idToken = (options = {}) => stack.authority.mintIdToken({ tenant: DEMO_TENANT, audience: API_CLIENT_ID, roles: ['Admin'], ...options });
  const roleUser = (options = {}) => stack.mint({ scopes: [], roles: ['Admin'], ...options });
  const daemon = (options = {}) => stack.mint({ appOnly: true, roles: ['Admin'], clientId: DAEMON_CLIENT_ID, ...options });
  const refusedAsTokenType = (path, token) => expectRefused(stack, path, token, { reason: 'token_type_invalid' });

  test('an ID token is refused on an app-only route, whatever roles it carries', T, async () => {
    await refusedAsTokenType('/app/orders', idToken());
  });

  test('an ID token is refused on a route with no requirements', T, async () => {
    await refusedAsTokenType('/orders', idToken());
  });

  test('a v1 ID token is refused', T, async () => {
    await refusedAsTokenType('/orders', idToken({ version: '1.0' }));
  });

  test('a v2 access token without azp is refused', T, async () => {
    await refusedAsTokenType('/orders', stack.mint({ scopes: ['Orders.Read'], omit: ['azp', 'azpacr'] }));
  });

  test('a v1 access token without appid is refused', T, async () => {
    await refusedAsTokenType('/orders', stack.mint({ version: '1.0', audience: API_APP_ID_URI, scopes: ['Orders.Read'], omit: ['appid', 'appidacr'] }));
  });

  const ID_TOKEN_CLAIMS = {
    nonce: crypto.randomBytes(16).toString('base64url'),
    at_hash: crypto.randomBytes(16).toString('base64url'),
    c_hash: crypto.randomBytes(16).toString('base64url'),
  };
  for (const [claim, value] of Object.entries(ID_TOKEN_CLAIMS)) {
    test(`an access token carrying ${claim} is refused`, T, async () => {
      await refusedAsTokenType('/orders', stack.mint({ scopes: ['Orders.Read'], claims: { [claim]: value } }));
    });
  }

  test('a user holding only an assigned app role is delegated: refused on an app-only route', T, async () => {
    await expectRefused(stack, '/app/orders', roleUser(), { status: 403, reason: 'app_only_required', error: 'insufficient_scope' });
  });

  test('a user holding only an assigned app role passes a role route as a delegated token', T, async () => {
    const seen = await expectForwarded(stack, '/roles/orders', roleUser());
    assert.equal(seen['x-entra-token-kind'], 'delegated');
    assert.equal(seen['x-entra-roles'], 'Admin');
  });

  test('an app-only token with idtyp app passes the app-only route', T, async () => {
    const seen = await expectForwarded(stack, '/app/orders', daemon());
    assert.equal(seen['x-entra-token-kind'], 'app');
    assert.equal(seen['x-entra-client-id'], DAEMON_CLIENT_ID);
  });

  test('an app-only token without idtyp (oid equals sub, no scp) is app by default', T, async () => {
    const seen = await expectForwarded(stack, '/app/orders', daemon({ omit: ['idtyp'] }));
    assert.equal(seen['x-entra-token-kind'], 'app');
  });

  test('idtyp app together with scp is refused', T, async () => {
    await refusedAsTokenType('/orders', daemon({ claims: { scp: 'Orders.Read' } }));
  });

  test('idtyp app with oid different from sub is refused', T, async () => {
    await refusedAsTokenType('/orders', daemon({ claims: { sub: crypto.randomUUID() } }));
  });

  test('a token with neither oid nor scp is refused', T, async () => {
    await refusedAsTokenType('/orders', roleUser({ omit: ['oid'] }));
  });

  test('a token issued later than now plus the clock skew is not yet valid', T, async () => {
    const now = Math.floor(Date.now() / 1000);
    await expectRefused(stack, '/orders', stack.mint({ claims: { iat: now + 3600 } }), { reason: 'token_not_yet_valid' });
  });

  test('a token issued slightly in the future, within the clock skew, passes', T, async () => {
    const now = Math.floor(Date.now() / 1000);
    await expectForwarded(stack, '/orders', stack.mint({ claims: { iat: now + 60 } }));
  });
});

describe('require_idtyp_for_app_tokens', () => {
  let stack;
  before(async () => { stack = await startStack({ config: { routes: KIND_ROUTES, require_idtyp_for_app_tokens: true } }); }, HOOK);
  after(async () => { await stack?.stop(); });
  beforeEach(() => stack?.origin.reset());

  const daemon = (options = {}) => stack.mint({ appOnly: true, roles: ['Admin'], clientId: DAEMON_CLIENT_ID, ...options });

  test('with require_idtyp_for_app_tokens an app-only token without idtyp is refused', T, async () => {
    await expectRefused(stack, '/app/orders', daemon({ omit: ['idtyp'] }), { reason: 'token_type_invalid' });
  });

  test('with require_idtyp_for_app_tokens an app-only token with idtyp app passes', T, async () => {
    const seen = await expectForwarded(stack, '/app/orders', daemon());
    assert.equal(seen['x-entra-token-kind'], 'app');
  });

  test('with require_idtyp_for_app_tokens a delegated token without idtyp still passes', T, async () => {
    const seen = await expectForwarded(stack, '/orders', stack.mint({ scopes: ['Orders.Read'] }));
    assert.equal(seen['x-entra-token-kind'], 'delegated');
  });
});

// ---------------------------------------------------------------------------------------
// 3. Key refresh discipline
// ---------------------------------------------------------------------------------------

const randomKid = () => crypto.randomBytes(12).toString('base64url');

async function expectOk(stack, token, message) {
  const res = await send(stack, '/orders', { token });
  const text = await res.text();
  assert.equal(res.status, 200, `${message}: ${text}`);
}

/** `count` tokens with random kids, sent `batch` at a time concurrently: every one is 401 signing_key_unknown. */
async function floodUnknownKids(stack, { count = 60, batch = 30 } = {}) {
  const tokens = Array.from({ length: count }, () => stack.mint({ header: { kid: randomKid() } }));
  for (let i = 0; i < tokens.length; i += batch) {
    const answers = await Promise.all(tokens.slice(i, i + batch).map((token) => send(stack, '/orders', { token })));
    for (const res of answers) await assertRefused(res, { status: 401, reason: 'signing_key_unknown', error: 'invalid_token' });
  }
}

// Must be far longer than a flood of 60 requests plus one more (well under a second, a
// few seconds at worst on a loaded machine): the new key must still be inside the window.
const FLOOD_COOLDOWN_SECONDS = 6;

describe('unknown kids refresh the keys with discipline', () => {
  test('rollover then flood: the new key is picked up at once, the flood after it costs nothing', T_OWN_STACK, async () => {
    await withStack({}, async (stack) => {
      await expectOk(stack, stack.mint(), 'first request');
      const initial = stack.authority.counts.jwks;
      assert.equal(initial, 1);
      stack.authority.rotate({ retire: false });
      await expectOk(stack, stack.mint(), 'a token of the new key right after the first fetch');
      assert.equal(stack.authority.counts.jwks - initial, 1, 'one refresh for the rollover');
      const afterRollover = stack.authority.counts.jwks;
      await floodUnknownKids(stack);
      assert.equal(stack.authority.counts.jwks - afterRollover, 0, 'the flood within the cooldown of the rollover refresh fetched the keys');
      assert.equal(stack.origin.requests.length, 2);
    });
  });

  test('flood then rollover: the flood costs at most one fetch, the new key waits for the cooldown', T_OWN_STACK, async () => {
    await withStack({ config: { keys: { unknown_kid_cooldown_seconds: FLOOD_COOLDOWN_SECONDS } } }, async (stack) => {
      await expectOk(stack, stack.mint(), 'first request');
      const beforeFlood = stack.authority.counts.jwks;
      const floodStarted = performance.now();
      await floodUnknownKids(stack);
      assert.ok(stack.authority.counts.jwks - beforeFlood <= 1, `the flood cost ${stack.authority.counts.jwks - beforeFlood} JWKS fetches`);
      stack.authority.rotate({ retire: false });
      const newToken = stack.mint();
      const res = await send(stack, '/orders', { token: newToken });
      const elapsed = ((performance.now() - floodStarted) / 1000).toFixed(1);
      assert.equal(res.status, 401, `the new key passed ${elapsed} s after the flood began, inside the ${FLOOD_COOLDOWN_SECONDS} s cooldown of the flood's refresh`);
      await assertRefused(res, { status: 401, reason: 'signing_key_unknown', error: 'invalid_token' });
      // After the window: the next request with the new kid refreshes and passes (bounded poll).
      const deadline = Date.now() + 3 * FLOOD_COOLDOWN_SECONDS * 1000;
      let last;
      do {
        await sleep(500);
        const poll = await send(stack, '/orders', { token: newToken });
        last = { status: poll.status, body: await poll.text() };
        if (last.status !== 200) assert.equal(last.status, 401, last.body);
      } while (last.status !== 200 && Date.now() < deadline);
      assert.equal(last.status, 200, `the new key was still refused ${3 * FLOOD_COOLDOWN_SECONDS} s after the rollover: ${last.body}`);
      assert.ok(stack.authority.counts.jwks - beforeFlood <= 2, `${stack.authority.counts.jwks - beforeFlood} JWKS fetches since the flood`);
    });
  });

  test('with a zero cooldown, 60 concurrent unknown kids cost at most two fetches', T_OWN_STACK, async () => {
    await withStack({ config: { keys: { unknown_kid_cooldown_seconds: 0 } } }, async (stack) => {
      await expectOk(stack, stack.mint(), 'first request');
      const before = stack.authority.counts.jwks;
      await floodUnknownKids(stack, { count: 60, batch: 60 });
      const fetches = stack.authority.counts.jwks - before;
      assert.ok(fetches >= 1 && fetches <= 2, `60 concurrent unknown kids cost ${fetches} JWKS fetches`);
    });
  });

  test('after a restart from KV, a new kid refreshes from the authority', T_OWN_STACK, async () => {
    await withStack({}, async (stack) => {
      await expectOk(stack, stack.mint(), 'first request');
      const before = stack.authority.counts.jwks;
      await stack.restartGateway();
      stack.authority.rotate({ retire: true });
      await expectOk(stack, stack.mint(), 'a token of the new key after the restart');
      assert.ok(stack.authority.counts.jwks > before, 'the new kid was not refreshed from the authority');
    });
  });
});

// ---------------------------------------------------------------------------------------
// 4. App-specific signing keys
// ---------------------------------------------------------------------------------------

describe('app-specific signing keys with keys.app_id', () => {
  let stack;
  let appKey;
  before(async () => {
    stack = await startStack({ config: { keys: { app_id: API_CLIENT_ID } } });
    appKey = createSigningKey();
    stack.authority.appKeys.set(API_CLIENT_ID, appKey);
  }, HOOK);
  after(async () => { await stack?.stop(); });
  beforeEach(() => stack?.origin.reset());

  test('a token signed with the app\'s own key passes', T, async () => {
    await expectForwarded(stack, '/orders', stack.mint({ key: appKey }));
  });

  test('the metadata and the JWKS requests both carry the app id', T, async () => {
    await expectForwarded(stack, '/orders', stack.mint({ key: appKey }));
    const asked = stack.authority.requests.filter((r) => r.appid === API_CLIENT_ID).map((r) => r.kind);
    assert.ok(asked.includes('metadata'), JSON.stringify(stack.authority.requests));
    assert.ok(asked.includes('jwks'), JSON.stringify(stack.authority.requests));
  });

  test('a v1 token signed with the app\'s own key passes', T, async () => {
    const seen = await expectForwarded(stack, '/orders', stack.mint({ version: '1.0', audience: API_APP_ID_URI, key: appKey }));
    assert.equal(seen['x-entra-token-version'], '1.0');
  });

  test('a token signed with the tenant\'s published key still passes', T, async () => {
    await expectForwarded(stack, '/orders', stack.mint());
  });
});

describe('app-specific signing keys without keys.app_id', () => {
  test('a token signed with an app-specific key is refused as signing_key_unknown', T_OWN_STACK, async () => {
    await withStack({}, async (stack) => {
      const appKey = createSigningKey();
      stack.authority.appKeys.set(API_CLIENT_ID, appKey);
      await expectRefused(stack, '/orders', stack.mint({ key: appKey }), { reason: 'signing_key_unknown' });
      assert.equal(stack.authority.counts.appid, 0, 'the gateway asked for app keys it was not configured for');
    });
  });
});

// ---------------------------------------------------------------------------------------
// 5. cloud_instance_name
// ---------------------------------------------------------------------------------------

describe('signing keys of another cloud', () => {
  let stack;
  const keys = {};
  before(async () => {
    stack = await startStack();
    // Three published keys, same issuer template, before the gateway's first fetch.
    keys.publicCloud = stack.authority.signingKey;
    keys.usGov = stack.authority.rotate({ retire: false });
    keys.untagged = stack.authority.rotate({ retire: false });
    stack.authority.cloudInstanceName = 'microsoftonline.com';
    stack.authority.keyCloud.set(keys.publicCloud.kid, 'microsoftonline.com');
    stack.authority.keyCloud.set(keys.usGov.kid, 'microsoftonline.us');
  }, HOOK);
  after(async () => { await stack?.stop(); });
  beforeEach(() => stack?.origin.reset());

  test('a key tagged for another cloud than the metadata\'s does not validate', T, async () => {
    await expectRefused(stack, '/orders', stack.mint({ key: keys.usGov }), { reason: 'signing_key_cloud_mismatch' });
  });

  test('a key tagged for the metadata\'s cloud validates', T, async () => {
    await expectForwarded(stack, '/orders', stack.mint({ key: keys.publicCloud }));
  });

  test('an untagged key validates', T, async () => {
    await expectForwarded(stack, '/orders', stack.mint({ key: keys.untagged }));
  });

  test('metadata without cloud_instance_name puts no constraint on tagged keys', T, async () => {
    // The partner tenant's metadata is fetched for the first time here, without the field.
    stack.authority.cloudInstanceName = null;
    try {
      await expectForwarded(stack, '/orders', stack.mint({ tenant: PARTNER_TENANT, key: keys.usGov }));
    } finally {
      stack.authority.cloudInstanceName = 'microsoftonline.com';
    }
  });
});

describe('findings of the outside review', () => {
  test('an unknown kid on stale keys joins the background refresh instead of starting a second one', T_OWN_STACK, async () => {
    await withStack({ config: { keys: { refresh_after_seconds: 2, max_stale_seconds: 600 } } }, async (stack) => {
      assert.equal((await send(stack, '/orders', { token: stack.mint() })).status, 200);
      await sleep(2500); // the keys are now stale
      const before = stack.authority.counts.jwks;
      stack.authority.rotate(); // a genuine rollover, while the keys are stale
      const res = await send(stack, '/orders', { token: stack.mint() });
      assert.equal(res.status, 200, await res.text());
      await sleep(500); // let any second refresh show itself
      assert.equal(stack.authority.counts.jwks - before, 1, 'one refresh for the stale keys and the new kid together');
    });
  });

  test('a cached token is refused once its key is tagged for another cloud', T_OWN_STACK, async () => {
    await withStack({ config: { keys: { refresh_after_seconds: 1, max_stale_seconds: 600 } } }, async (stack) => {
      const token = stack.mint();
      assert.equal((await send(stack, '/orders', { token })).status, 200);
      assert.equal((await send(stack, '/orders', { token })).status, 200, 'now in the verified-token cache');
      stack.authority.keyCloud.set(stack.authority.signingKey.kid, 'microsoftonline.us');
      await sleep(1200);
      // A stale-key request triggers the background refresh that brings the new tag.
      const before = stack.authority.counts.jwks;
      await (await send(stack, '/orders', { token: stack.mint() })).text();
      const deadline = Date.now() + 10_000;
      while (stack.authority.counts.jwks === before && Date.now() < deadline) await sleep(100);
      await sleep(300);
      stack.origin.reset();
      await expectRefused(stack, '/orders', token, { reason: 'signing_key_cloud_mismatch' });
    });
  });

  test('keys.app_id replaces an appid the authority names in jwks_uri', T_OWN_STACK, async () => {
    const otherApp = createSigningKey();
    await withStack({ config: { keys: { app_id: API_CLIENT_ID } } }, async (stack) => {
      stack.authority.appKeys.set('11111111-2222-4333-8444-555555555555', otherApp);
      stack.authority.jwksUri = (tenant) => `${stack.authority.url}/${tenant}/discovery/v2.0/keys?appid=11111111-2222-4333-8444-555555555555`;
      await expectRefused(stack, '/orders', stack.mint({ key: otherApp }), { reason: 'signing_key_unknown' });
      const jwksRequests = stack.authority.requests.filter((r) => r.kind === 'jwks');
      assert.ok(jwksRequests.length >= 1 && jwksRequests.every((r) => r.appid === API_CLIENT_ID), JSON.stringify(jwksRequests));
    });
  });

  test('an empty scp is no evidence of a user', T_OWN_STACK, async () => {
    await withStack({ config: { routes: [{ path: '/**', token_kind: 'delegated' }] } }, async (stack) => {
      const sp = crypto.randomUUID();
      const token = stack.mint({ appOnly: true, objectId: sp, claims: { scp: ' ' }, omit: ['idtyp'] });
      await expectRefused(stack, '/orders', token, { reason: 'token_type_invalid' });
    });
  });
});

// ---------------------------------------------------------------------------------------
// 6. Key documents only from the authority, bounded
// ---------------------------------------------------------------------------------------

const MiB = 1024 * 1024;
/** The gateway reads at most 512 KiB of a key document; socket buffers add a few MiB. */
const MAX_BYTES_READ = 16 * MiB;

/** Every request the rogue authority received (discovery, JWKS or anything else). */
const hits = (authority) => authority.counts.total;

/** Waits (bounded) until no oversized body is being written, and returns the bytes written. */
async function bytesWhenSettled(authority, since) {
  const deadline = Date.now() + 10_000;
  while (authority.streaming > 0 && Date.now() < deadline) await sleep(50);
  return authority.counts.bytesSent - since;
}

describe('key documents come only from the authority, and are bounded', () => {
  // Each case uses a tenant whose keys were never fetched, so no back-off or cached key
  // set of an earlier case can answer for it.
  const FRESH_TENANTS = Array.from({ length: 16 }, () => crypto.randomUUID());
  let nextTenant = 0;
  const freshTenant = () => {
    assert.ok(nextTenant < FRESH_TENANTS.length, 'add more FRESH_TENANTS');
    return FRESH_TENANTS[nextTenant++];
  };
  let rogue;
  let stack;
  before(async () => {
    rogue = await startAuthority();
    stack = await startStack({ config: { tenants: [DEMO_TENANT, PARTNER_TENANT, ...FRESH_TENANTS], keys: { fetch_timeout_ms: 3000 } } });
  }, HOOK);
  after(async () => { await Promise.all([stack?.stop(), rogue?.close()]); });
  beforeEach(() => {
    stack?.origin.reset();
    if (!stack) return;
    Object.assign(stack.authority, { failure: 'none', failureOn: null, redirectTo: null, jwksUri: null });
  });

  /** A token the rogue authority signs, with the tenant's genuine issuer. */
  const rogueToken = (tenant) => rogue.mint({ tenant, audience: API_CLIENT_ID, scopes: ['Orders.Read'] });

  async function expectKeysUnavailable(token) {
    const res = await send(stack, '/orders', { token });
    await assertRefused(res, { status: 503, reason: 'keys_unavailable' });
    assert.equal(stack.origin.requests.length, 0, 'the origin saw a request');
  }

  test('a redirected metadata request is not followed', T, async () => {
    const tenant = freshTenant();
    const [rogueBefore, redirects] = [hits(rogue), stack.authority.counts.redirects];
    Object.assign(stack.authority, { failure: 'redirect', redirectTo: rogue.url });
    await expectKeysUnavailable(rogueToken(tenant));
    assert.ok(stack.authority.counts.redirects > redirects, 'the gateway never asked the authority');
    assert.equal(hits(rogue) - rogueBefore, 0, 'the gateway followed the redirect to another host');
  });

  test('a redirected JWKS request is not followed', T, async () => {
    const tenant = freshTenant();
    const [rogueBefore, redirects] = [hits(rogue), stack.authority.counts.redirects];
    Object.assign(stack.authority, { failure: 'redirect', failureOn: 'jwks', redirectTo: rogue.url });
    await expectKeysUnavailable(rogueToken(tenant));
    assert.ok(stack.authority.counts.redirects > redirects, 'the gateway never asked the authority for the JWKS');
    assert.equal(hits(rogue) - rogueBefore, 0, 'the gateway followed the redirect to another host');
  });

  const FOREIGN_JWKS_URIS = {
    'a lookalike host (127.0.0.1.attacker.example)': () => 'http://127.0.0.1.attacker.example/keys',
    'userinfo in front of another host (127.0.0.1@attacker.example)': () => 'http://127.0.0.1@attacker.example/keys',
    'a lookalike host (localhost.attacker.example)': () => 'http://localhost.attacker.example/keys',
    'another https host': () => 'https://attacker.example/keys',
    'another port on 127.0.0.1 (a rogue authority)': (tenant) => `${rogue.url}/${tenant}/discovery/v2.0/keys`,
    'the authority\'s host:port as userinfo in front of a rogue authority': (tenant) => `${stack.authority.url}@${new URL(rogue.url).host}/${tenant}/discovery/v2.0/keys`,
  };
  for (const [label, jwksUri] of Object.entries(FOREIGN_JWKS_URIS)) {
    test(`a jwks_uri off the authority is not fetched: ${label}`, T, async () => {
      const tenant = freshTenant();
      const [rogueBefore, metadataBefore] = [hits(rogue), stack.authority.counts.metadata];
      stack.authority.jwksUri = jwksUri(tenant);
      await expectKeysUnavailable(rogueToken(tenant));
      assert.ok(stack.authority.counts.metadata > metadataBefore, 'the gateway never read the metadata');
      assert.equal(hits(rogue) - rogueBefore, 0, 'the gateway fetched keys from another host');
    });
  }

  for (const [failure, what] of [['huge', 'a JWKS declaring 20 MiB is refused without reading it all'], ['endless', 'an endless JWKS is cut off after a bounded read']]) {
    test(what, T, async () => {
      const tenant = freshTenant();
      const [jwksBefore, bytesBefore] = [stack.authority.counts.jwks, stack.authority.counts.bytesSent];
      stack.authority.failure = failure;
      await expectKeysUnavailable(stack.authority.mint({ tenant, audience: API_CLIENT_ID, scopes: ['Orders.Read'] }));
      assert.ok(stack.authority.counts.jwks > jwksBefore, 'the gateway never asked for the JWKS');
      const sent = await bytesWhenSettled(stack.authority, bytesBefore);
      assert.ok(sent < MAX_BYTES_READ, `the authority wrote ${(sent / MiB).toFixed(1)} MiB before the gateway hung up`);
    });
  }

  test('an endless metadata document is cut off after a bounded read', T, async () => {
    const tenant = freshTenant();
    const [metadataBefore, bytesBefore] = [stack.authority.counts.metadata, stack.authority.counts.bytesSent];
    Object.assign(stack.authority, { failure: 'endless', failureOn: 'metadata' });
    await expectKeysUnavailable(stack.authority.mint({ tenant, audience: API_CLIENT_ID, scopes: ['Orders.Read'] }));
    assert.ok(stack.authority.counts.metadata > metadataBefore, 'the gateway never asked for the metadata');
    const sent = await bytesWhenSettled(stack.authority, bytesBefore);
    assert.ok(sent < MAX_BYTES_READ, `the authority wrote ${(sent / MiB).toFixed(1)} MiB before the gateway hung up`);
  });
});

describe('keys.allowed_jwks_hosts', () => {
  let rogue;
  let otherRogue;
  let stack;
  before(async () => {
    [rogue, otherRogue] = await Promise.all([startAuthority(), startAuthority()]);
    stack = await startStack({ config: { keys: { allowed_jwks_hosts: [new URL(rogue.url).host], fetch_timeout_ms: 3000 } } });
  }, HOOK);
  after(async () => { await Promise.all([stack?.stop(), rogue?.close(), otherRogue?.close()]); });
  beforeEach(() => {
    stack?.origin.reset();
    if (stack) stack.authority.jwksUri = null;
  });

  test('a jwks_uri on a host named in keys.allowed_jwks_hosts is used', T, async () => {
    const before = rogue.counts.jwks;
    stack.authority.jwksUri = `${rogue.url}/${DEMO_TENANT}/discovery/v2.0/keys`;
    await expectForwarded(stack, '/orders', rogue.mint({ tenant: DEMO_TENANT, audience: API_CLIENT_ID, scopes: ['Orders.Read'] }));
    assert.ok(rogue.counts.jwks > before, 'the keys did not come from the allowed host');
  });

  test('keys.allowed_jwks_hosts allows only the hosts it names', T, async () => {
    const before = hits(otherRogue);
    stack.authority.jwksUri = `${otherRogue.url}/${PARTNER_TENANT}/discovery/v2.0/keys`;
    const res = await send(stack, '/orders', { token: otherRogue.mint({ tenant: PARTNER_TENANT, audience: API_CLIENT_ID, scopes: ['Orders.Read'] }) });
    await assertRefused(res, { status: 503, reason: 'keys_unavailable' });
    assert.equal(stack.origin.requests.length, 0, 'the origin saw a request');
    assert.equal(hits(otherRogue) - before, 0, 'the gateway fetched keys from a host not on the list');
  });
});
