// `make dev`: the local Entra authority (:8790), the demo origin (:8791) and the gateway
// under `wrangler dev --env dev` (:8787), with a ready-to-paste curl. Ctrl-C stops all.
import path from 'node:path';
import { startAuthority } from './authority.mjs';
import { startOrigin } from './origin.mjs';
import { ROOT, startWrangler } from './wrangler.mjs';
import { API_CLIENT_ID, DEMO_TENANT } from './demo.mjs';

const AUTHORITY_PORT = 8790;
const ORIGIN_PORT = 8791;
const GATEWAY_PORT = Number(process.env.PORT ?? 8787);

const authority = await startAuthority(AUTHORITY_PORT);
const origin = await startOrigin(ORIGIN_PORT);
let gateway;
try {
  gateway = await startWrangler({
    config: path.join(ROOT, 'wrangler.toml'),
    env: 'dev',
    port: GATEWAY_PORT,
    persistTo: path.join(ROOT, '.dev', 'state'),
    timeoutMs: 600_000,
    echo: true,
  });
} catch (err) {
  console.error(String(err.message ?? err));
  await Promise.all([authority.close(), origin.close()]);
  process.exit(1);
}

const token = authority.mint({ tenant: DEMO_TENANT, audience: API_CLIENT_ID, scopes: ['Orders.Read'], lifetime: 3600 });
const tampered = token.slice(0, -6) + (token.endsWith('AAAAAA') ? 'BBBBBB' : 'AAAAAA');
console.log(`
entra-edge is running:
  gateway          ${gateway.url}
  local authority  ${authority.url}   (mint more tokens: ${authority.url}/_mint?tenant=${DEMO_TENANT}&aud=${API_CLIENT_ID}&scp=Orders.Read)
  demo origin      ${origin.url}

A valid token (v2, delegated, scope Orders.Read, valid 1 hour) on the read-orders route — the origin answers:

  curl -i ${gateway.url}/api/orders -H "Authorization: Bearer ${token}"

The same token with a tampered signature — the gateway answers 401:

  curl -i ${gateway.url}/api/orders -H "Authorization: Bearer ${tampered}"

Press Ctrl-C to stop.
`);

let stopping = false;
async function shutdown() {
  if (stopping) return;
  stopping = true;
  console.log('\nstopping…');
  await gateway.stop();
  await Promise.all([authority.close(), origin.close()]);
  process.exit(0);
}
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
process.on('SIGHUP', shutdown);
gateway.child.once('exit', () => { if (!stopping) { console.error('wrangler dev exited'); shutdown(); } });
