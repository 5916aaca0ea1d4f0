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
// `make dev` runs it as the demo origin. Run it alone: `node examples/origin/server.mjs`
// (PORT, ORIGIN_SECRET from the environment).
import crypto from 'node:crypto';
import express from 'express';

/** The verified caller, as the gateway describes it (see README "What the origin receives"). */
export function callerOf(req) {
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

export function createApp({ originSecret } = {}) {
  const app = express();
  app.disable('x-powered-by');
  app.use(express.json({ limit: '100kb' }));

  if (originSecret) {
    app.use((req, res, next) => {
      if (secretMatches(req.get('x-entra-edge-secret'), originSecret)) return next();
      res.status(403).json({ error: 'not_through_gateway', message: 'requests must come through entra-edge' });
    });
  }

  // Orders of each user, keyed by (tid, oid).
  const orders = new Map();
  const ordersOf = (caller) => {
    const key = `${caller.tenantId}/${caller.objectId}`;
    if (!orders.has(key)) orders.set(key, []);
    return orders.get(key);
  };
  const identity = (req) => Object.fromEntries(Object.entries(req.headers).filter(([name]) => name.startsWith('x-entra-') && name !== 'x-entra-edge-secret'));
  // received_headers: every header name that arrived, so you can see what the gateway let through.
  const answer = (req, res, extra = {}) =>
    res.json({
      message: 'hello from the origin',
      method: req.method,
      path: req.originalUrl,
      identity: identity(req),
      received_headers: Object.keys(req.headers).sort(),
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
    // The gateway already checked that :tenant is the caller's own tid (tenant_segment).
    const all = [...orders.entries()].filter(([key]) => key.startsWith(`${req.params.tenant}/`)).flatMap(([, list]) => list);
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
  const origin = await startExampleOrigin(Number(process.env.PORT ?? 8791), { originSecret: process.env.ORIGIN_SECRET });
  console.log(`example origin on ${origin.url}${process.env.ORIGIN_SECRET ? ' (requires x-entra-edge-secret)' : ''}`);
}
