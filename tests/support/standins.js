// Stand-ins for the gateway's bindings under plain workerd (tests/support/workerd-stack.mjs):
// the KV namespace behind JWKS_CACHE (workerd's KV binding speaks HTTP to this worker:
// GET/PUT /<key>) and a Durable Object class behind RATE_LIMITER. Both fail on command:
// POST /__control/mode with JSON { kv: { get, put }, limiter } where each mode is
// "ok", "fail" (the binding throws: KV gets HTTP 500, the object throws), "stall" (no
// answer for `stallMs`), and for the limiter also "deny" (a refusal with Retry-After) and
// "reset" (the object is reset mid-request: ctx.abort). GET /__control/stats counts calls.
let mode = { kv: { get: 'ok', put: 'ok' }, limiter: 'ok', stallMs: 10_000 };
const stats = { kvGets: 0, kvPuts: 0, limiterCalls: 0 };
const store = new Map();

const stall = () => new Promise((resolve) => setTimeout(resolve, mode.stallMs));

async function kv(request, url) {
  const key = decodeURIComponent(url.pathname.slice(1));
  if (request.method === 'GET') {
    stats.kvGets++;
    if (mode.kv.get === 'stall') await stall();
    if (mode.kv.get === 'fail') return new Response('stand-in KV failure', { status: 500 });
    return store.has(key) ? new Response(store.get(key)) : new Response('Not Found', { status: 404 });
  }
  if (request.method === 'PUT') {
    stats.kvPuts++;
    if (mode.kv.put === 'stall') await stall();
    if (mode.kv.put === 'fail') return new Response('stand-in KV failure', { status: 500 });
    store.set(key, await request.text());
    return new Response(null);
  }
  return new Response('method', { status: 405 });
}

export class StandInLimiter {
  constructor(ctx) {
    this.ctx = ctx;
  }

  async fetch(request) {
    stats.limiterCalls++;
    const { windows } = await request.json();
    const report = (remaining) => windows.map((w) => ({ limit: w.burst, window_seconds: w.period_seconds, remaining, reset_seconds: 1 }));
    switch (mode.limiter) {
      case 'fail': throw new Error('stand-in limiter failure');
      case 'stall': await stall(); break;
      case 'reset': this.ctx.abort(new Error('stand-in reset')); break;
      case 'deny': return Response.json({ allowed: false, retry_after_ms: 2500, windows: report(0) });
      default: break;
    }
    return Response.json({ allowed: true, retry_after_ms: 0, windows: report(1) });
  }
}

export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === '/__control/mode') {
      const next = await request.json();
      mode = { ...mode, ...next, kv: { ...mode.kv, ...(next.kv ?? {}) } };
      return Response.json(mode);
    }
    if (url.pathname === '/__control/stats') return Response.json({ ...stats, kvKeys: store.size });
    if (url.pathname === '/__control/reset') {
      mode = { kv: { get: 'ok', put: 'ok' }, limiter: 'ok', stallMs: 10_000 };
      store.clear();
      return Response.json(mode);
    }
    return kv(request, url);
  },
};
