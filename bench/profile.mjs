// `node --experimental-websocket bench/profile.mjs [repeated|distinct|nocache|public|assertion]`: a V8 CPU
// profile of entra-edge under plain workerd while wrk drives it, printed as the functions
// with the most self time. Build without stripping names first for readable wasm frames:
//   KEEP_WASM_NAMES=1 make -B build/index.js
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { generateAssertionKey } from '../dev/assertion-key.mjs';
import { startAuthority } from '../dev/authority.mjs';
import { startOrigin } from '../dev/origin.mjs';
import { API_CLIENT_ID, DEMO_TENANT } from '../dev/demo.mjs';
import { ROOT, freePort } from '../dev/wrangler.mjs';
import { startWorkerd } from './workerd.mjs';

const mode = process.argv[2] ?? 'repeated';
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'entra-edge-profile-'));
const authority = await startAuthority();
const origin = await startOrigin();
origin.record = false;
const mint = () => authority.mint({ tenant: DEMO_TENANT, audience: API_CLIENT_ID, scopes: ['Orders.Read'], lifetime: 7200 });
const tokens = mode === 'repeated' || mode === 'assertion' ? [mint()] : Array.from({ length: 1000 }, mint);
const tokensFile = path.join(work, 'tokens.txt');
fs.writeFileSync(tokensFile, tokens.join('\n') + '\n');
const inspectorPort = await freePort();
const server = await startWorkerd({
  dir: path.join(work, 'w'),
  inspectorPort,
  modules: [
    { name: 'index.js', file: path.join(ROOT, 'build', 'index.js'), type: 'esModule' },
    { name: 'index_bg.wasm', file: path.join(ROOT, 'build', 'index_bg.wasm'), type: 'wasm' },
  ],
  json: { ENTRA_EDGE: { origin: origin.url, authority: authority.url, tenants: [DEMO_TENANT], audiences: [API_CLIENT_ID], routes: [{ path: '/**', public: mode === 'public' }], log_level: 'off', token_cache_size: mode === 'nocache' ? 0 : 4096, ...(mode === 'assertion' ? { assertion: {} } : {}) } },
  // `assertion`: the repeated token with the signed identity assertion on.
  text: mode === 'assertion' ? { ASSERTION_SIGNING_KEY: JSON.stringify(generateAssertionKey().privateJwk) } : {},
});
await fetch(`${server.url}/api/orders`, { headers: { authorization: `Bearer ${tokens[0]}` } });

const ws = new WebSocket(`ws://127.0.0.1:${inspectorPort}/main`);
await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = reject; });
let id = 0;
const pending = new Map();
ws.onmessage = (event) => {
  const message = JSON.parse(event.data);
  if (message.id && pending.has(message.id)) pending.get(message.id)(message);
};
const send = (method, params = {}) => new Promise((resolve) => { pending.set(++id, resolve); ws.send(JSON.stringify({ id, method, params })); });
await send('Profiler.enable');
await send('Profiler.setSamplingInterval', { interval: 50 });
await send('Profiler.start');
await promisify(execFile)('wrk', ['-t1', '-c32', '-d5s', '-s', path.join(ROOT, 'bench', 'tokens.lua'), `${server.url}/api/orders`, '--', tokensFile]);
const { result } = await send('Profiler.stop');
ws.close();

const profile = result.profile;
const self = new Map();
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const interval = new Map();
for (let i = 0; i < profile.samples.length; i++) interval.set(profile.samples[i], (interval.get(profile.samples[i]) ?? 0) + (profile.timeDeltas[i] ?? 0));
let total = 0;
for (const [nodeId, us] of interval) {
  const node = byId.get(nodeId);
  const name = `${node.callFrame.functionName || '(anonymous)'} ${node.callFrame.url.split('/').pop()}`;
  self.set(name, (self.get(name) ?? 0) + us);
  total += us;
}
const rows = [...self].sort((a, b) => b[1] - a[1]).slice(0, 40);
for (const [name, us] of rows) console.log(`${((us / total) * 100).toFixed(1).padStart(5)} %  ${name.slice(0, 150)}`);
await server.stop();
await Promise.all([authority.close(), origin.close()]);
fs.rmSync(work, { recursive: true, force: true });
