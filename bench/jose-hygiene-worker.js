// The like-for-like JS peer: jose's createRemoteJWKSet + jwtVerify (the same checks as
// bench/jose-worker.js) plus the same forwarding hygiene as entra-edge (bench/hygiene-worker.js:
// hop-by-hop and identity headers stripped, request id and trace headers, security headers on
// the relayed answer). Bundled with esbuild by bench/run.mjs.
import { forwardWithHygiene } from './hygiene-worker.js';
import { verifyRequest } from './jose-worker.js';

export default {
  async fetch(request, env) {
    const payload = await verifyRequest(request, env.CONFIG);
    if (payload instanceof Response) return payload;
    return forwardWithHygiene(request, env.CONFIG.origin, [
      ['x-entra-tenant-id', payload.tid],
      ['x-entra-object-id', payload.oid ?? ''],
      ['x-entra-subject', payload.sub ?? ''],
      ['x-entra-client-id', payload.azp ?? ''],
      ['x-entra-scopes', payload.scp ?? ''],
      ['x-entra-roles', (payload.roles ?? []).join(' ')],
    ]);
  },
};
