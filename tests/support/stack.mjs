// One isolated test stack: local Entra authority + recording origin + the prebuilt
// worker under `wrangler dev`, each on its own free port, with its own state folder.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startAuthority } from '../../dev/authority.mjs';
import { startOrigin } from '../../dev/origin.mjs';
import { startWrangler, writeTestConfig } from '../../dev/wrangler.mjs';
import { API_APP_ID_URI, API_CLIENT_ID, DEMO_TENANT, PARTNER_TENANT } from '../../dev/demo.mjs';

export * from '../../dev/demo.mjs';

/**
 * Starts a stack. `config` is merged over a default ENTRA_EDGE (both demo tenants
 * allowed, both audiences, one catch-all authenticated route, origin and authority
 * pointing at the local servers); it may be a function of `{ origin, authority }`.
 */
export async function startStack({ config = {}, rawConfig, vars = {}, gatewayArgs = [], kv = true, kvBindings = [], durableObjects = true } = {}) {
  const authority = await startAuthority();
  const origin = await startOrigin();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'entra-edge-test-'));
  const entraEdge = rawConfig !== undefined ? rawConfig : {
    origin: origin.url,
    authority: authority.url,
    tenants: [DEMO_TENANT, PARTNER_TENANT],
    audiences: [API_CLIENT_ID, API_APP_ID_URI],
    routes: [{ path: '/**' }],
    ...(typeof config === 'function' ? config({ origin, authority }) : config),
  };
  const configFile = writeTestConfig(dir, { entraEdge, vars, kv, kvBindings, durableObjects });
  const persistTo = path.join(dir, 'state');
  const launch = () => startWrangler({ config: configFile, persistTo, extraArgs: gatewayArgs });
  let gateway;
  try {
    gateway = await launch();
  } catch (err) {
    await Promise.all([authority.close(), origin.close()]);
    throw err;
  }

  const stack = {
    authority,
    origin,
    gateway,
    url: gateway.url,
    /** The generated wrangler config and the state folder (for `wrangler kv … --local`). */
    configFile,
    persistTo,
    /** Stops workerd and starts it again on the same state folder (KV survives, memory does not). */
    async restartGateway() {
      await stack.gateway.stop();
      stack.gateway = await launch();
      stack.url = stack.gateway.url;
    },
    /** The edge health document. */
    async health() {
      const res = await fetch(`${stack.url}/.well-known/entra-edge/health`);
      return res.json();
    },
    /** Waits (bounded) until the gateway's output matches `pattern`. */
    async waitForOutput(pattern, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if (pattern.test(stack.gateway.output())) return true;
        await new Promise((r) => setTimeout(r, 50));
      }
      return false;
    },
    /** fetch against the gateway; `token` sets a Bearer Authorization header. */
    async request(pathname, { token, headers = {}, ...init } = {}) {
      const h = { ...headers };
      if (token) h.authorization = `Bearer ${token}`;
      return fetch(stack.url + pathname, { ...init, headers: h, redirect: 'manual' });
    },
    /** Mints a v2 delegated token for the demo tenant and API unless told otherwise. */
    mint(options = {}) {
      const version = options.version ?? '2.0';
      return authority.mint({
        tenant: DEMO_TENANT,
        audience: version === '1.0' ? API_APP_ID_URI : API_CLIENT_ID,
        scopes: ['Orders.Read'],
        ...options,
      });
    },
    async stop() {
      await stack.gateway.stop();
      await Promise.all([authority.close(), origin.close()]);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  return stack;
}
