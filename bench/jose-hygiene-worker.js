// The like-for-like JS peer: jose's createRemoteJWKSet + jwtVerify (the same checks as
// bench/jose-worker.js) plus the same forwarding hygiene as entra-edge (bench/hygiene-worker.js:
// hop-by-hop and identity headers stripped, request id and trace headers, security headers on
// the relayed answer). Bundled with esbuild by bench/run.mjs.
import { DROP, REMOVE, SECURITY } from './hygiene-worker.js';
import { verifyRequest } from './jose-worker.js';

export default {
  async fetch(request, env) {
    const config = env.CONFIG;
    const payload = await verifyRequest(request, config);
    if (payload instanceof Response) return payload;
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
