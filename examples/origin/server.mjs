// An example origin behind entra-edge (Express): what an API needs to trust the gateway.
//
// - Every request must carry the gateway's `x-entra-edge-secret` (the ORIGIN_SECRET Workers
//   secret), compared in constant time; without it the request did not come through the
//   gateway and is refused with 403. (Unset ORIGIN_SECRET only for local experiments.)
// - The caller's identity comes from the `x-entra-*` headers the gateway sets after verifying
//   the token; the gateway removes every client-sent copy, so they can be believed.
// - Per-user data is keyed by (tenant id, object id): `oid` is stable across apps within a
//   tenant, and `tid` keeps tenants apart (a user id alone is not unique across tenants).
//
// - With the signed identity assertion on (the gateway's [assertion] table; `make dev` turns
//   it on), the caller comes ONLY from the `x-entra-edge-assertion` JWS, verified with a
//   standard JWT library (jose): ES256 only, the gateway's public keys, issuer, audience,
//   explicit type, lifetime, the method and request-target of THIS request, and each `jti`
//   accepted once. A request without one is anonymous (a public route); `/api/*` then
//   needs a verified caller. The `x-entra-*` headers are shown, never believed.
//
// `make dev` runs it as the demo origin. Run it alone: `node examples/origin/server.mjs`
// (PORT, ORIGIN_SECRET; for the assertion ASSERTION_JWKS_URL — the gateway's
// /.well-known/entra-edge-assertion-keys — or ASSERTION_JWKS_FILE, plus ASSERTION_ISSUER and
// ASSERTION_AUDIENCE, from the environment).
import crypto from 'node:crypto';
import fs from 'node:fs';
import express from 'express';
import { createLocalJWKSet, createRemoteJWKSet, jwtVerify } from 'jose';

/** The assertion's JWS type (the gateway's `typ`). */
export const ASSERTION_TYPE = 'entra-edge-assertion+jwt';

/**
 * A verifier of the gateway's signed identity assertion (README "Signed identity assertion").
 * `jwks` (a JWKS object) or `jwksUrl` (the gateway's key document), `issuer`, `audience`.
 * Returns `async (req) => claims | null` (null: no assertion, an anonymous request); throws
 * an Error whose message says why an assertion is refused.
 */
export function assertionVerifier({ jwks, jwksUrl, issuer, audience, header = 'x-entra-edge-assertion', maxLifetimeSeconds = 300, clockToleranceSeconds = 5 }) {
  if (!issuer || !audience || !(jwks || jwksUrl)) throw new Error('assertionVerifier needs issuer, audience and jwks or jwksUrl');
  const keys = jwks ? createLocalJWKSet(jwks) : createRemoteJWKSet(new URL(jwksUrl));
  // Replay window: each jti is accepted once until its assertion expires (one process; an
  // origin with several instances keeps this in a shared store, e.g. Redis SET NX EX).
  const seen = new Map(); // jti → expiry (Unix seconds), in insertion (≈ expiry) order
  return async function verify(req) {
    const token = req.get(header);
    if (token === undefined) return null;
    const { payload } = await jwtVerify(token, keys, {
      algorithms: ['ES256'], // never `none`, never HS256 keyed with the public key
      typ: ASSERTION_TYPE,
      issuer,
      audience,
      clockTolerance: clockToleranceSeconds,
      requiredClaims: ['iat', 'exp', 'jti', 'htm', 'target', 'tid', 'sub'],
    });
    if (payload.exp - payload.iat > maxLifetimeSeconds) throw new Error('the assertion lives too long');
    // The binding: the method and the request-target exactly as this server received them
    // (Node's req.url / Express's originalUrl is the request line's target, path and query).
    if (payload.htm !== req.method) throw new Error('the assertion was issued for another method');
    if (payload.target !== req.originalUrl) throw new Error('the assertion was issued for another URL');
    const now = Math.floor(Date.now() / 1000);
    for (const [jti, expiry] of seen) {
      if (expiry >= now) break;
      seen.delete(jti);
    }
    if (seen.has(payload.jti)) throw new Error('the assertion was already used (replay)');
    seen.set(payload.jti, payload.exp + clockToleranceSeconds);
    return payload;
  };
}

/** The verified caller, from the gateway's signed assertion (README "Signed identity assertion"). */
export function callerFromAssertion(claims) {
  return {
    tenantId: claims.tid,
    objectId: claims.oid ?? null,
    subject: claims.sub,
    clientId: claims.azp,
    scopes: (claims.scp ?? '').split(' ').filter(Boolean),
    roles: claims.roles ?? [],
    kind: claims.idtyp === 'app' ? 'app' : 'delegated',
    version: claims.ver,
    expires: claims.token_exp,
  };
}

/** The verified caller, as the gateway describes it (see README "What the origin receives"). */
export function callerOf(req) {
  if (req.assertion !== undefined) return req.assertion && callerFromAssertion(req.assertion);
  const list = (name) => (req.get(name) ?? '').split(' ').filter(Boolean);
  if (!req.get('x-entra-tenant-id')) return null; // a public route: no identity
  return {
    tenantId: req.get('x-entra-tenant-id'),
    objectId: req.get('x-entra-object-id') ?? null,
    subject: req.get('x-entra-subject'),
    clientId: req.get('x-entra-client-id'),
    scopes: list('x-entra-scopes'),
    roles: list('x-entra-roles'),
    kind: req.get('x-entra-token-kind'),
    version: req.get('x-entra-token-version'),
    expires: Number(req.get('x-entra-token-expires')),
  };
}

/** Constant-time comparison of a presented secret with the expected one. */
export function secretMatches(presented, expected) {
  // Hashing first gives both sides the same length, so timingSafeEqual can compare them
  // without revealing the expected length.
  const digest = (value) => crypto.createHash('sha256').update(String(value ?? '')).digest();
  return presented !== undefined && crypto.timingSafeEqual(digest(presented), digest(expected));
}

/**
 * `originSecret`: require the gateway's `x-entra-edge-secret`. `assertion`: the options of
 * `assertionVerifier` (identity then comes only from the verified assertion).
 */
export function createApp({ originSecret, assertion } = {}) {
  const app = express();
  app.disable('x-powered-by');
  app.use(express.json({ limit: '100kb' }));

  if (originSecret) {
    app.use((req, res, next) => {
      if (secretMatches(req.get('x-entra-edge-secret'), originSecret)) return next();
      res.status(403).json({ error: 'not_through_gateway', message: 'requests must come through entra-edge' });
    });
  }

  if (assertion) {
    const verify = assertionVerifier(assertion);
    app.use(async (req, res, next) => {
      try {
        req.assertion = await verify(req); // claims, or null: anonymous
      } catch (err) {
        return res.status(401).json({ error: 'assertion_invalid', message: String(err?.message ?? err) });
      }
      // Express matches routes ignoring case, so this test must too (`/API/…` is `/api/…`).
      if (req.assertion === null && req.path.toLowerCase().startsWith('/api/')) {
        return res.status(401).json({ error: 'assertion_required', message: 'this API needs the gateway\'s signed identity assertion' });
      }
      next();
    });
  }

  // Orders of each user, keyed by (tid, oid).
  const orders = new Map();
  const ordersOf = (caller) => {
    const key = `${caller.tenantId}/${caller.objectId}`;
    if (!orders.has(key)) orders.set(key, []);
    return orders.get(key);
  };
  const identity = (req) => Object.fromEntries(Object.entries(req.headers).filter(([name]) => name.startsWith('x-entra-') && name !== 'x-entra-edge-secret' && name !== 'x-entra-edge-assertion'));
  // received_headers: every header name that arrived, so you can see what the gateway let through.
  const answer = (req, res, extra = {}) =>
    res.json({
      message: 'hello from the origin',
      method: req.method,
      path: req.originalUrl,
      identity: identity(req),
      received_headers: Object.keys(req.headers).sort(),
      ...(req.assertion ? { assertion: { verified: true, jti: req.assertion.jti, route: req.assertion.route, scp: req.assertion.scp ?? null, roles: req.assertion.roles ?? [] } } : {}),
      ...extra,
    });

  app.get('/health', (req, res) => answer(req, res, { status: 'ok' }));

  app.get('/api/orders', (req, res) => {
    const caller = callerOf(req);
    answer(req, res, { orders: caller?.objectId ? ordersOf(caller) : [] });
  });

  app.post('/api/orders', (req, res) => {
    const caller = callerOf(req);
    if (!caller?.objectId) return res.status(400).json({ error: 'no_user', message: 'orders belong to a user' });
    const order = { id: crypto.randomUUID(), item: String(req.body?.item ?? 'unnamed'), created_by_client: caller.clientId };
    ordersOf(caller).push(order);
    res.status(201);
    answer(req, res, { order });
  });

  app.get('/api/tenants/:tenant/orders', (req, res) => {
    // The gateway already checked that :tenant is the caller's own tid (tenant_segment);
    // checked again here, so a request that did not come through the gateway gets nothing.
    const caller = callerOf(req);
    if (!caller || caller.tenantId?.toLowerCase() !== req.params.tenant.toLowerCase()) {
      return res.status(403).json({ error: 'tenant_mismatch', message: 'only your own tenant\'s orders' });
    }
    const all = [...orders.entries()].filter(([key]) => key.startsWith(`${caller.tenantId}/`)).flatMap(([, list]) => list);
    answer(req, res, { orders: all });
  });

  // Everything else the gateway lets through: echo what arrived.
  app.use((req, res) => answer(req, res));
  return app;
}

/** Starts the example origin on 127.0.0.1:`port` (0 = any free port). */
export async function startExampleOrigin(port = 0, options = {}) {
  const app = createApp(options);
  const server = await new Promise((resolve, reject) => {
    const s = app.listen(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    close: () => new Promise((resolve) => { server.closeAllConnections?.(); server.close(() => resolve()); }),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const env = process.env;
  const assertion = env.ASSERTION_JWKS_URL || env.ASSERTION_JWKS_FILE
    ? {
      jwksUrl: env.ASSERTION_JWKS_URL,
      jwks: env.ASSERTION_JWKS_FILE ? JSON.parse(fs.readFileSync(env.ASSERTION_JWKS_FILE, 'utf8')) : undefined,
      issuer: env.ASSERTION_ISSUER ?? 'entra-edge',
      audience: env.ASSERTION_AUDIENCE,
    }
    : undefined;
  const origin = await startExampleOrigin(Number(env.PORT ?? 8791), { originSecret: env.ORIGIN_SECRET, assertion });
  console.log(`example origin on ${origin.url}${env.ORIGIN_SECRET ? ' (requires x-entra-edge-secret)' : ''}${assertion ? ' (verifies the signed assertion)' : ''}`);
}
