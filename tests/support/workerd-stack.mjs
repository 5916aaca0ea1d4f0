// A test stack under plain workerd (no wrangler dev proxy, which buffers whole bodies):
// local Entra authority + recording origin + the release worker (build/) + stand-ins for
// KV and the Durable Object that fail on command (tests/support/standins.js).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startAuthority } from '../../dev/authority.mjs';
import { startOrigin } from '../../dev/origin.mjs';
import { ROOT } from '../../dev/wrangler.mjs';
import { startWorkerd } from '../../bench/workerd.mjs';
import { API_APP_ID_URI, API_CLIENT_ID, DEMO_TENANT, PARTNER_TENANT } from '../../dev/demo.mjs';

export * from '../../dev/demo.mjs';

/** Resident memory of a process in KiB (Linux /proc), or null. */
export function rssKiB(pid) {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : null;
  } catch {
    return null;
  }
}

/**
 * Starts the stack. `kv`: "standin" (default) or "none" (binding missing); `limiter`:
 * "standin" (default), "real" (the gateway's own EdgeRateLimiter, in memory) or "none".
 * `config` is merged over a default ENTRA_EDGE like tests/support/stack.mjs's.
 */
export async function startWorkerdStack({ config = {}, kv = 'standin', limiter = 'standin', authority: existingAuthority } = {}) {
  const authority = existingAuthority ?? await startAuthority();
  const origin = await startOrigin();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'entra-edge-workerd-'));
  const entraEdge = {
    origin: origin.url,
    authority: authority.url,
    tenants: [DEMO_TENANT, PARTNER_TENANT],
    audiences: [API_CLIENT_ID, API_APP_ID_URI],
    routes: [{ path: '/**' }],
    ...config,
  };
  const bindings = [];
  let workerExtra = '';
  const rawServices = [];
  if (kv === 'standin') bindings.push('(name = "JWKS_CACHE", kvNamespace = "standins")');
  if (limiter === 'standin') bindings.push('(name = "RATE_LIMITER", durableObjectNamespace = (className = "StandInLimiter", serviceName = "standins"))');
  if (limiter === 'real') {
    bindings.push('(name = "RATE_LIMITER", durableObjectNamespace = "EdgeRateLimiter")');
    // SQLite-backed objects need disk storage (in-memory storage has no SQL API).
    fs.mkdirSync(path.join(dir, 'do-storage'), { recursive: true });
    rawServices.push(`(name = "do-storage", disk = (path = ${JSON.stringify(path.join(dir, 'do-storage'))}, writable = true))`);
    workerExtra = 'durableObjectNamespaces = [ (className = "EdgeRateLimiter", uniqueKey = "entra-edge-limiter", enableSql = true) ],\n  durableObjectStorage = (localDisk = "do-storage"),';
  }
  let server;
  try {
    server = await startWorkerd({
      dir,
      modules: [
        { name: 'index.js', file: path.join(ROOT, 'build', 'index.js'), type: 'esModule' },
        { name: 'index_bg.wasm', file: path.join(ROOT, 'build', 'index_bg.wasm'), type: 'wasm' },
      ],
      json: { ENTRA_EDGE: entraEdge },
      bindings,
      workerExtra,
      rawServices,
      services: [{
        name: 'standins',
        modules: [{ name: 'standins.js', file: path.join(ROOT, 'tests', 'support', 'standins.js'), type: 'esModule' }],
        extra: 'durableObjectNamespaces = [ (className = "StandInLimiter", uniqueKey = "entra-edge-standin-limiter") ],\n      durableObjectStorage = (inMemory = void),',
      }],
    });
  } catch (err) {
    await Promise.all([existingAuthority ? null : authority.close(), origin.close()]);
    throw err;
  }
  const control = server.services.standins;
  const stack = {
    authority,
    origin,
    url: server.url,
    pid: server.pid,
    output: server.output,
    /** Sets stand-in failure modes, e.g. { kv: { get: 'fail' } } or { limiter: 'stall', stallMs: 5000 }. */
    async standins(mode) {
      const res = await fetch(`${control}/__control/mode`, { method: 'POST', body: JSON.stringify(mode) });
      return res.json();
    },
    async standinStats() {
      return (await fetch(`${control}/__control/stats`)).json();
    },
    async resetStandins() {
      return (await fetch(`${control}/__control/reset`, { method: 'POST' })).json();
    },
    rssKiB: () => rssKiB(server.pid),
    async health() {
      return (await fetch(`${server.url}/.well-known/entra-edge/health`)).json();
    },
    async request(pathname, { token, headers = {}, ...init } = {}) {
      const h = { ...headers };
      if (token) h.authorization = `Bearer ${token}`;
      return fetch(server.url + pathname, { ...init, headers: h, redirect: 'manual' });
    },
    /** Access-log lines (parsed) written so far, optionally only those of `requestId`. */
    logLines(requestId) {
      return server.output().split('\n').map((line) => {
        const start = line.indexOf('{');
        const end = line.lastIndexOf('}');
        if (start < 0 || end < start) return null;
        try { return JSON.parse(line.slice(start, end + 1)); } catch { return null; }
      }).filter((entry) => entry && (requestId === undefined || entry.request_id === requestId));
    },
    /** Waits (bounded) until `predicate(lines)` holds; returns whether it did. */
    async waitForLog(predicate, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if (predicate(stack.logLines())) return true;
        await new Promise((r) => setTimeout(r, 50));
      }
      return false;
    },
    mint(options = {}) {
      const version = options.version ?? '2.0';
      return authority.mint({ tenant: DEMO_TENANT, audience: version === '1.0' ? API_APP_ID_URI : API_CLIENT_ID, scopes: ['Orders.Read'], ...options });
    },
    async stop() {
      await server.stop();
      await Promise.all([existingAuthority ? null : authority.close(), origin.close()]);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  return stack;
}
