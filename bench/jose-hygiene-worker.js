// The like-for-like JS peer: jose's createRemoteJWKSet + jwtVerify (the same checks as
// bench/jose-worker.js) plus the same forwarding hygiene as entra-edge (bench/hygiene-worker.js:
// hop-by-hop and identity headers stripped, request id and trace headers, security headers on
// the relayed answer). Bundled with esbuild by bench/run.mjs.
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';

const keySets = new Map();
const DROP = ['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host', 'authorization'];
const SECURITY = [
  ['strict-transport-security', 'max-age=31536000; includeSubDomains'],
  ['content-security-policy', "frame-ancestors 'none'"],
  ['x-frame-options', 'DENY'],
  ['x-content-type-options', 'nosniff'],
  ['referrer-policy', 'no-referrer'],
];
const REMOVE = ['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'server', 'x-powered-by', 'x-aspnet-version', 'x-aspnetmvc-version'];

function unauthorized(error) {
  return new Response(JSON.stringify({ error }), {
    status: 401,
    headers: { 'content-type': 'application/json', 'www-authenticate': `Bearer error="invalid_token"` },
  });
}

export default {
  async fetch(request, env) {
    const config = env.CONFIG;
    const match = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/.exec(request.headers.get('authorization') ?? '');
    if (!match) return unauthorized('token_missing');
    let payload;
    try {
      const { tid } = decodeJwt(match[1]);
      if (!config.tenants.includes(tid)) return unauthorized('tenant_not_allowed');
      let keys = keySets.get(tid);
      if (!keys) {
        keys = createRemoteJWKSet(new URL(`${config.authority}/${tid}/discovery/v2.0/keys`));
        keySets.set(tid, keys);
      }
      ({ payload } = await jwtVerify(match[1], keys, {
        algorithms: ['RS256'],
        issuer: `https://login.microsoftonline.com/${tid}/v2.0`,
        audience: config.audiences,
      }));
    } catch {
      return unauthorized('invalid_token');
    }
    const url = new URL(request.url);
    const id = crypto.randomUUID().replaceAll('-', '');
    const headers = new Headers(request.headers);
    for (const name of [...headers.keys()]) if (DROP.includes(name) || name.startsWith('x-entra-')) headers.delete(name);
    headers.set('x-entra-tenant-id', payload.tid);
    headers.set('x-entra-object-id', payload.oid ?? '');
    headers.set('x-entra-subject', payload.sub ?? '');
    headers.set('x-entra-client-id', payload.azp ?? '');
    headers.set('x-entra-scopes', payload.scp ?? '');
    headers.set('x-entra-roles', (payload.roles ?? []).join(' '));
    headers.set('x-request-id', id);
    headers.set('traceparent', `00-${id}-0123456789abcdef-01`);
    const upstream = await fetch(config.origin + url.pathname + url.search, {
      method: request.method, headers, body: request.body, redirect: 'manual', signal: AbortSignal.timeout(30000),
    });
    const out = new Headers(upstream.headers);
    for (const name of REMOVE) out.delete(name);
    for (const [name, value] of SECURITY) if (!out.has(name)) out.set(name, value);
    out.set('x-request-id', id);
    return new Response(upstream.body, { status: upstream.status, statusText: upstream.statusText, headers: out });
  },
};
