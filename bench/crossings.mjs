// Counts WASM↔JS boundary crossings per request (issue 13: "at most 3 on a cached forward").
//
// A test hook on a copy of the release build: every function the WASM module imports from
// its JS glue (WASM → JS) and every export the glue calls (JS → WASM: the entry point,
// promise continuations, allocation) is wrapped with a counter; a wrapper entry module
// answers `GET /__crossings` with the counts since the last read. Served under plain workerd.
//
//   node bench/crossings.mjs            (after `make build`)
//   node bench/crossings.mjs --json
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startAuthority } from '../dev/authority.mjs';
import { API_CLIENT_ID, DEMO_TENANT } from '../dev/demo.mjs';
import { startOrigin } from '../dev/origin.mjs';
import { ROOT } from '../dev/wrangler.mjs';
import { startWorkerd } from './workerd.mjs';

const HOOK = `
globalThis.__crossings ??= { into: {}, out: {} };
function __countImports(imports) {
  for (const space of Object.values(imports)) {
    for (const [name, value] of Object.entries(space)) {
      if (typeof value !== 'function') continue;
      space[name] = function (...args) {
        globalThis.__crossings.out[name] = (globalThis.__crossings.out[name] ?? 0) + 1;
        return value.apply(this, args);
      };
    }
  }
  return imports;
}
function __countExports(exports) {
  const wrapped = {};
  for (const [name, value] of Object.entries(exports)) {
    wrapped[name] = typeof value !== 'function' ? value : function (...args) {
      globalThis.__crossings.into[name] = (globalThis.__crossings.into[name] ?? 0) + 1;
      return value.apply(this, args);
    };
  }
  return wrapped;
}
`;

/** The release build's glue with the counters spliced into its instantiation. */
function instrumentedGlue(source) {
  // Both places that instantiate the module (first load, and re-initialization after a trap).
  const instantiate = /(\w+)=new WebAssembly\.Instance\((\w+),(\w+)\(\)\),(\w+)=\1\.exports/g;
  let count = 0;
  const patched = source.replace(instantiate, (_, instance, module, imports, exportsVar) => {
    count++;
    return `${instance}=new WebAssembly.Instance(${module},__countImports(${imports}())),${exportsVar}=__countExports(${instance}.exports)`;
  });
  if (count === 0) throw new Error('bench/crossings.mjs: the glue no longer instantiates the module the way this hook expects; update the pattern');
  return HOOK + patched;
}

const ENTRY = `
import Gateway from './glue.js';
export default class extends Gateway {
  async fetch(request) {
    if (new URL(request.url).pathname === '/__crossings') {
      const counts = globalThis.__crossings ?? { into: {}, out: {} };
      globalThis.__crossings = { into: {}, out: {} };
      return Response.json(counts);
    }
    return super.fetch(request);
  }
}
`;

export async function measureCrossings() {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'entra-edge-crossings-'));
  fs.writeFileSync(path.join(work, 'glue.js'), instrumentedGlue(fs.readFileSync(path.join(ROOT, 'build', 'index.js'), 'utf8')));
  fs.writeFileSync(path.join(work, 'entry.js'), ENTRY);
  const authority = await startAuthority();
  const origin = await startOrigin();
  const config = (routes, extra = {}) => ({
    origin: origin.url,
    authority: authority.url,
    tenants: [DEMO_TENANT],
    audiences: [API_CLIENT_ID],
    routes,
    log_level: 'off',
    ...extra,
  });
  const modules = [
    { name: 'entry.js', file: path.join(work, 'entry.js'), type: 'esModule' },
    { name: 'glue.js', file: path.join(work, 'glue.js'), type: 'esModule' },
    { name: 'index_bg.wasm', file: path.join(ROOT, 'build', 'index_bg.wasm'), type: 'wasm' },
  ];
  const token = authority.mint({ tenant: DEMO_TENANT, audience: API_CLIENT_ID, scopes: ['Orders.Read'] });
  const rows = [];
  for (const [name, routes, headers, extra] of [
    ['cached token, forwarded', [{ path: '/api/**' }], { authorization: `Bearer ${token}` }],
    ['public route, forwarded', [{ path: '/api/**', public: true }], {}],
    ['no token, refused (401)', [{ path: '/api/**' }], {}],
    // The token cache off: every request's signature is checked (keys in memory).
    ['token verified (cache off), forwarded', [{ path: '/api/**' }], { authorization: `Bearer ${token}` }, { token_cache_size: 0 }],
  ]) {
    const server = await startWorkerd({ dir: path.join(work, name.replace(/\W+/g, '-')), modules, json: { ENTRA_EDGE: config(routes, extra) } });
    try {
      // Warm up: the isolate, the configuration, the keys and the token cache.
      for (let i = 0; i < 3; i++) await (await fetch(`${server.url}/api/orders`, { headers })).arrayBuffer();
      await (await fetch(`${server.url}/__crossings`)).json();
      const res = await fetch(`${server.url}/api/orders`, { headers });
      await res.arrayBuffer();
      const counts = await (await fetch(`${server.url}/__crossings`)).json();
      const sum = (o) => Object.values(o).reduce((a, b) => a + b, 0);
      rows.push({ name, status: res.status, out: sum(counts.out), into: sum(counts.into), detail: counts });
    } finally {
      await server.stop();
    }
  }
  await Promise.all([authority.close(), origin.close()]);
  fs.rmSync(work, { recursive: true, force: true });
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = await measureCrossings();
  if (process.argv.includes('--json')) {
    console.log(JSON.stringify(rows, null, 2));
  } else {
    for (const row of rows) {
      const calls = (n) => `${n} call${n === 1 ? '' : 's'}`;
      console.log(`${row.name}: ${row.status}, ${calls(row.out)} WASM → JS, ${calls(row.into)} JS → WASM`);
      const top = (o) => Object.entries(o).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k.replace(/^__wbg_|_[0-9a-f]{16}$/g, '')}×${v}`).join(' ');
      console.log(`  WASM → JS: ${top(row.detail.out)}`);
      console.log(`  JS → WASM: ${top(row.detail.into)}`);
    }
  }
}
