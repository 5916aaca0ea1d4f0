// A JS worker that forwards like entra-edge does, without any token check: strips hop-by-hop
// and x-entra-* request headers, adds request-id/trace headers, and relays the answer with
// the same security headers. It separates the cost of forwarding hygiene from the cost of
// running in WASM.
export const DROP = ['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host', 'authorization'];
export const SECURITY = [
  ['strict-transport-security', 'max-age=31536000; includeSubDomains'],
  ['content-security-policy', "frame-ancestors 'none'"],
  ['x-frame-options', 'DENY'],
  ['x-content-type-options', 'nosniff'],
  ['referrer-policy', 'no-referrer'],
];
export const REMOVE = ['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'server', 'x-powered-by', 'x-aspnet-version', 'x-aspnetmvc-version'];

/**
 * Forwards `request` to `origin` with entra-edge's hygiene; `identity` is a list of
 * [name, value] headers the origin receives (empty: no token checks).
 */
export async function forwardWithHygiene(request, origin, identity = []) {
  const url = new URL(request.url);
  const id = crypto.randomUUID().replaceAll('-', '');
  const headers = new Headers(request.headers);
  for (const name of [...headers.keys()]) if (DROP.includes(name) || name.startsWith('x-entra-')) headers.delete(name);
  for (const [name, value] of identity) headers.set(name, value);
  headers.set('x-request-id', id);
  headers.set('traceparent', `00-${id}-0123456789abcdef-01`);
  const upstream = await fetch(origin + url.pathname + url.search, {
    method: request.method, headers, body: request.body, redirect: 'manual', signal: AbortSignal.timeout(30000),
  });
  const out = new Headers(upstream.headers);
  for (const name of REMOVE) out.delete(name);
  for (const [name, value] of SECURITY) if (!out.has(name)) out.set(name, value);
  out.set('x-request-id', id);
  return new Response(upstream.body, { status: upstream.status, statusText: upstream.statusText, headers: out });
}

export default {
  async fetch(request, env) {
    return forwardWithHygiene(request, env.CONFIG.origin);
  },
};
