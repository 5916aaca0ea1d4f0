// What most Workers users write today: jose's createRemoteJWKSet + jwtVerify, doing the same
// checks as entra-edge's happy path (RS256, issuer of the token's tenant, audience, tenant
// allow-list) and forwarding with identity headers. Bundled with esbuild by bench/run.mjs.
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';

const keySets = new Map();

export function unauthorized(error) {
  return new Response(JSON.stringify({ error }), {
    status: 401,
    headers: { 'content-type': 'application/json', 'www-authenticate': `Bearer error="invalid_token"` },
  });
}

/** The verified claims of the request's bearer token, or a 401 Response. */
export async function verifyRequest(request, config) {
  const match = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/.exec(request.headers.get('authorization') ?? '');
  if (!match) return unauthorized('token_missing');
  try {
    const { tid } = decodeJwt(match[1]);
    if (!config.tenants.includes(tid)) return unauthorized('tenant_not_allowed');
    let keys = keySets.get(tid);
    if (!keys) {
      keys = createRemoteJWKSet(new URL(`${config.authority}/${tid}/discovery/v2.0/keys`));
      keySets.set(tid, keys);
    }
    const { payload } = await jwtVerify(match[1], keys, {
      algorithms: ['RS256'],
      issuer: `https://login.microsoftonline.com/${tid}/v2.0`,
      audience: config.audiences,
    });
    return payload;
  } catch {
    return unauthorized('invalid_token');
  }
}

export default {
  async fetch(request, env) {
    const config = env.CONFIG;
    const payload = await verifyRequest(request, config);
    if (payload instanceof Response) return payload;
    const headers = new Headers(request.headers);
    headers.delete('authorization');
    for (const name of [...headers.keys()]) if (name.startsWith('x-entra-')) headers.delete(name);
    headers.set('x-entra-tenant-id', payload.tid);
    headers.set('x-entra-object-id', payload.oid ?? '');
    headers.set('x-entra-scopes', payload.scp ?? '');
    const url = new URL(request.url);
    return fetch(config.origin + url.pathname + url.search, { method: request.method, headers, body: request.body });
  },
};
