// `make bench`: entra-edge side by side with its floors (JS and smallest workers-rs workers,
// answering at the edge or forwarding) and its peers (jose, jose with the same hygiene), all
// under plain workerd against the same fast origin (its own process), driven by wrk. The
// main column is the CPU time of the workerd process per request (utime + stime from
// /proc/PID/stat across the wrk run ÷ requests served): a proxy for what Cloudflare bills,
// and far steadier here than req/s. Each row runs BENCH_RUNS times; the table shows the
// median and the spread (min–max).
//
// Environment: BENCH_SECONDS (default 10), BENCH_CONNECTIONS (default 32), BENCH_WARMUP (2),
// BENCH_BASELINE (a build/ folder of another revision: adds its rows, to measure a change in
// one run), BENCH_BUILD (the build/ folder of the worker under test), BENCH_RUNS (3), BENCH_ONLY (substrings separated by `|`: run only matching rows).
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import * as esbuild from 'esbuild';
import { generateAssertionKey } from '../dev/assertion-key.mjs';
import { startAuthority } from '../dev/authority.mjs';
import { API_CLIENT_ID, DEMO_TENANT } from '../dev/demo.mjs';
import { ROOT, startWrangler, writeTestConfig } from '../dev/wrangler.mjs';
import { startWorkerd } from './workerd.mjs';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 2);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const ONLY = process.env.BENCH_ONLY;
// The worker under test: this tree's release build, or another `build/` folder (BENCH_BUILD).
const BUILD = process.env.BENCH_BUILD ?? path.join(ROOT, 'build');
const DISTINCT = 1000;
const REVOCATION_ENTRIES = 1000;
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** CPU time (s) the process has used so far: utime + stime of /proc/PID/stat. */
function cpuSeconds(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields[0] is field 3 (state)
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** The origin in its own Node process, so it never shares the bench's event loop. */
async function startBenchOrigin() {
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, [path.join(ROOT, 'bench', 'origin-server.mjs')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise((resolve, reject) => {
    child.stdout.on('data', (c) => { const m = /ready (\d+)/.exec(String(c)); if (m) resolve(Number(m[1])); });
    child.once('exit', (code) => reject(new Error(`bench origin exited with ${code}`)));
  });
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((r) => { child.once('exit', r); child.kill('SIGTERM'); }) };
}

/** Builds the smallest workers-rs worker (bench/min-worker) once; its build/ is reused. */
function buildMinWorker() {
  const dir = path.join(ROOT, 'bench', 'min-worker');
  if (fs.existsSync(path.join(dir, 'build', 'index.js'))) return dir;
  console.error('building bench/min-worker (once)…');
  const cargoBin = path.join(process.env.CARGO_HOME ?? path.join(os.homedir(), '.cargo'), 'bin');
  execFileSync(path.join(cargoBin, 'worker-build'), ['--release'], {
    cwd: dir,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, WASM_BINDGEN_BIN: path.join(cargoBin, 'wasm-bindgen'), WASM_OPT_BIN: path.join(ROOT, 'scripts', 'wasm-opt'), ESBUILD_BIN: path.join(ROOT, 'node_modules', '.bin', 'esbuild') },
  });
  return dir;
}

function ensureWrk() {
  if (spawnSync('wrk', ['--version']).error === undefined) return;
  if (process.getuid?.() === 0) {
    console.log('installing wrk (apt-get)…');
    execFileSync('apt-get', ['install', '-y', '-qq', 'wrk'], { stdio: 'inherit' });
    return;
  }
  throw new Error('wrk is needed: apt-get install wrk');
}

/**
 * Runs wrk and parses requests/s, p50, p99 (ms) and errors. Asynchronous on purpose: the
 * origin and the authority live in this process and must keep answering meanwhile.
 */
async function wrk(url, tokensFile, seconds = SECONDS, connections = CONNECTIONS) {
  const args = ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', '-s', path.join(ROOT, 'bench', 'tokens.lua'), url, '--', tokensFile];
  const { stdout: out } = await promisify(execFile)('wrk', args, { encoding: 'utf8' });
  const ms = (label) => {
    const m = new RegExp(`^\\s*${label}%\\s+([\\d.]+)(us|ms|s)`, 'm').exec(out);
    if (!m) return NaN;
    return Number(m[1]) * { us: 0.001, ms: 1, s: 1000 }[m[2]];
  };
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? NaN);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors = non2xx + (socket ? socket.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
  return { rps, requests, p50: ms('50'), p99: ms('99'), errors };
}

function writeTokens(dir, name, tokens) {
  const file = path.join(dir, name);
  fs.writeFileSync(file, tokens.join('\n') + '\n');
  return file;
}

async function main() {
  ensureWrk();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'entra-edge-bench-'));
  const authority = await startAuthority();
  const origin = await startBenchOrigin();
  const minWorker = buildMinWorker();
  const mint = () => authority.mint({ tenant: DEMO_TENANT, audience: API_CLIENT_ID, scopes: ['Orders.Read'], lifetime: 7200 });
  const one = writeTokens(work, 'one.txt', [mint()]);
  const many = writeTokens(work, 'many.txt', Array.from({ length: DISTINCT }, mint));
  // Issue 14's features, on: tokens of distinct tenants (any-tenant mode), tokens with groups
  // (claim rules).
  const manyTenants = writeTokens(work, 'many-tenants.txt', Array.from({ length: DISTINCT }, () =>
    authority.mint({ tenant: crypto.randomUUID(), audience: API_CLIENT_ID, scopes: ['Orders.Read'], lifetime: 7200 })));
  const GROUP = '6b2f0c1a-0000-4000-8000-000000000001';
  const withGroups = writeTokens(work, 'many-groups.txt', Array.from({ length: DISTINCT }, () =>
    authority.mint({ tenant: DEMO_TENANT, audience: API_CLIENT_ID, scopes: ['Orders.Read'], lifetime: 7200, claims: { groups: ['6b2f0c1a-0000-4000-8000-00000000000f', GROUP] } })));
  const claimRoute = { routes: [{ path: '/**', claims: [{ name: 'groups', values: [GROUP] }] }] };
  const metadata = { protected_resource: { resource: 'https://api.contoso.example', app_id_uri: 'api://orders' } };
  const edgeConfig = (extra = {}) => ({
    origin: origin.url,
    authority: authority.url,
    tenants: [DEMO_TENANT],
    audiences: [API_CLIENT_ID],
    routes: [{ path: '/**' }],
    log_level: 'off',
    ...extra,
  });

  // Entries of every kind, a quarter each, none matching the benchmark's callers.
  // fail_closed: a list that cannot be read shows as errors instead of passing unchecked.
  const revocationOn = { revocation: { enabled: true, refresh_seconds: 10, on_error: 'fail_closed' } };
  const now = Math.floor(Date.now() / 1000);
  const revocationEntries = Array.from({ length: REVOCATION_ENTRIES }, (_, i) => {
    const kind = ['user', 'client', 'tenant', 'token'][i % 4];
    const value = kind === 'token' ? crypto.createHash('sha256').update(`not-a-caller-${i}`).digest('hex') : crypto.randomUUID();
    return [`revocation/bench-${i}`, { kind, value, expires_at: now + 3600, reason: 'benchmark', created_by: 'bench', created_at: now }];
  });

  const bundle = async (name) => {
    const out = path.join(work, name);
    await esbuild.build({ entryPoints: [path.join(ROOT, 'bench', name)], bundle: true, format: 'esm', platform: 'neutral', outfile: out, logLevel: 'error' });
    return out;
  };
  const joseBundle = await bundle('jose-worker.js');
  const joseHygieneBundle = await bundle('jose-hygiene-worker.js');
  const joseConfig = { origin: origin.url, authority: authority.url, tenants: [DEMO_TENANT], audiences: [API_CLIENT_ID] };
  const rust = (mode) => ({
    modules: [
      { name: 'index.js', file: path.join(minWorker, 'build', 'index.js'), type: 'esModule' },
      { name: 'index_bg.wasm', file: path.join(minWorker, 'build', 'index_bg.wasm'), type: 'wasm' },
    ],
    text: { MODE: mode, ORIGIN: origin.url },
  });

  const assertionSecret = { ASSERTION_SIGNING_KEY: JSON.stringify(generateAssertionKey().privateJwk) };
  const workers = {
    passthrough: { modules: [{ name: 'worker.js', file: path.join(ROOT, 'bench', 'passthrough.js'), type: 'esModule' }], json: { CONFIG: { origin: origin.url } } },
    hygiene: { modules: [{ name: 'worker.js', file: path.join(ROOT, 'bench', 'hygiene-worker.js'), type: 'esModule' }], json: { CONFIG: { origin: origin.url } } },
    edge: (extra, { secrets = {}, kv } = {}) => ({
      modules: [
        { name: 'index.js', file: path.join(BUILD, 'index.js'), type: 'esModule' },
        { name: 'index_bg.wasm', file: path.join(BUILD, 'index_bg.wasm'), type: 'wasm' },
      ],
      json: { ENTRA_EDGE: edgeConfig(extra) },
      text: secrets,
      ...(kv ? { kv } : {}),
    }),
    baseline: (extra) => ({
      modules: [
        { name: 'index.js', file: path.join(process.env.BENCH_BASELINE, 'index.js'), type: 'esModule' },
        { name: 'index_bg.wasm', file: path.join(process.env.BENCH_BASELINE, 'index_bg.wasm'), type: 'wasm' },
      ],
      json: { ENTRA_EDGE: edgeConfig(extra) },
    }),
    jose: { modules: [{ name: 'worker.js', file: joseBundle, type: 'esModule' }], json: { CONFIG: joseConfig } },
    joseHygiene: { modules: [{ name: 'worker.js', file: joseHygieneBundle, type: 'esModule' }], json: { CONFIG: joseConfig } },
    jsAtEdge: { modules: [{ name: 'worker.js', file: path.join(ROOT, 'bench', 'edge-answer.js'), type: 'esModule' }] },
    rustAtEdge: rust('edge'),
    rustForward: rust('forward'),
  };

  const allScenarios = [
    { row: 'pass-through JS worker (floor)', worker: workers.passthrough, tokens: one },
    { row: 'floor: JS worker answering at the edge (no origin)', worker: workers.jsAtEdge, tokens: one },
    { row: 'floor: smallest workers-rs worker answering at the edge', worker: workers.rustAtEdge, tokens: one },
    { row: 'floor: smallest workers-rs worker forwarding with the global fetch', worker: workers.rustForward, tokens: one },
    { row: 'entra-edge, one repeated token', worker: workers.edge({}), tokens: one },
    { row: `entra-edge, ${DISTINCT} distinct tokens`, worker: workers.edge({}), tokens: many },
    { row: `entra-edge, ${DISTINCT} distinct tokens, token cache off`, worker: workers.edge({ token_cache_size: 0 }), tokens: many },
    // The signed identity assertion on: one ES256 signature (WebCrypto) per forwarded request.
    { row: 'entra-edge, one repeated token, signed assertion', worker: workers.edge({ assertion: {} }, { secrets: assertionSecret }), tokens: one },
    { row: `entra-edge, ${DISTINCT} distinct tokens, signed assertion`, worker: workers.edge({ assertion: {} }, { secrets: assertionSecret }), tokens: many },
    // The revocation list (issue 15): on with an empty list, and with entries of every kind
    // (none matching, so every request still reaches the origin; token entries make every
    // request hash its token).
    { row: 'entra-edge, one repeated token, revocation list on, empty', worker: workers.edge(revocationOn, { kv: { REVOCATIONS: [] } }), tokens: one },
    { row: `entra-edge, one repeated token, revocation list on, ${REVOCATION_ENTRIES} entries`, worker: workers.edge(revocationOn, { kv: { REVOCATIONS: revocationEntries } }), tokens: one },
    { row: `entra-edge, ${DISTINCT} distinct tokens, revocation list on, ${REVOCATION_ENTRIES} entries`, worker: workers.edge(revocationOn, { kv: { REVOCATIONS: revocationEntries } }), tokens: many },
    { row: 'jose JS worker, one repeated token', worker: workers.jose, tokens: one },
    { row: `jose JS worker, ${DISTINCT} distinct tokens`, worker: workers.jose, tokens: many },
    { row: `jose JS worker + the same hygiene (like-for-like peer), ${DISTINCT} distinct tokens`, worker: workers.joseHygiene, tokens: many },
    // Features that are off by default, each on alone (compare with the distinct-token rows).
    { row: `features: entra-edge, any-tenant mode, ${DISTINCT} distinct tokens of ${DISTINCT} tenants`, worker: workers.edge({ tenants: ['*'] }), tokens: manyTenants },
    { row: `features: entra-edge, a groups claim rule, ${DISTINCT} distinct tokens`, worker: workers.edge(claimRoute), tokens: withGroups },
    { row: `features: entra-edge, a groups claim rule, ${DISTINCT} distinct tokens, token cache off`, worker: workers.edge({ ...claimRoute, token_cache_size: 0 }), tokens: withGroups },
    { row: `features: entra-edge, protected-resource metadata on, ${DISTINCT} distinct tokens`, worker: workers.edge(metadata), tokens: many },
    ...(process.env.BENCH_BASELINE ? [
      { row: 'baseline build: entra-edge, one repeated token', worker: workers.baseline({}), tokens: one },
      { row: `baseline build: entra-edge, ${DISTINCT} distinct tokens, token cache off`, worker: workers.baseline({ token_cache_size: 0 }), tokens: many },
      { row: 'baseline build: entra-edge, public route (no token checks)', worker: workers.baseline({ routes: [{ path: '/**', public: true }] }), tokens: one },
    ] : []),
    // Where the time goes: the same worker without token checks, and without the origin call.
    { row: 'breakdown: JS worker forwarding with the same hygiene, no token checks', worker: workers.hygiene, tokens: one },
    { row: 'breakdown: entra-edge, public route (no token checks)', worker: workers.edge({ routes: [{ path: '/**', public: true }] }), tokens: one },
    { row: 'breakdown: entra-edge, answered at the edge (404, no origin call)', worker: workers.edge({ routes: [{ path: '/elsewhere' }] }), tokens: one, expectErrors: true },
  ];

  const scenarios = allScenarios.filter((s, i) => i === 0 || !ONLY || ONLY.split('|').some((only) => s.row.includes(only)));
  const results = [];
  for (const [i, s] of scenarios.entries()) {
    const runs = [];
    let jwks = 0;
    for (let run = 0; run < RUNS; run++) {
      const server = await startWorkerd({ dir: path.join(work, `w${i}-${run}`), ...s.worker });
      try {
        await wrk(server.url + '/api/orders', s.tokens, WARMUP);
        const before = authority.counts.jwks;
        const cpuBefore = cpuSeconds(server.pid);
        const r = await wrk(server.url + '/api/orders', s.tokens);
        const cpuUs = ((cpuSeconds(server.pid) - cpuBefore) / r.requests) * 1e6;
        jwks += authority.counts.jwks - before;
        runs.push({ ...r, cpuUs });
      } finally {
        await server.stop();
      }
    }
    const pick = (key) => runs.map((r) => r[key]);
    const result = {
      ...s,
      cpuUs: median(pick('cpuUs')),
      cpuMin: Math.min(...pick('cpuUs')),
      cpuMax: Math.max(...pick('cpuUs')),
      rps: median(pick('rps')),
      rpsMin: Math.min(...pick('rps')),
      rpsMax: Math.max(...pick('rps')),
      p50: median(pick('p50')),
      p99: median(pick('p99')),
      errors: runs.reduce((sum, r) => sum + r.errors, 0),
      jwks,
    };
    results.push(result);
    console.error(`${s.row}: ${result.cpuUs.toFixed(0)} µs CPU/request (${result.cpuMin.toFixed(0)}–${result.cpuMax.toFixed(0)}), ${result.rps.toFixed(0)} req/s`);
  }

  if (ONLY) {
    // A quick look at some rows while working on performance: no reference rows, no report file.
    await Promise.all([authority.close(), origin.close()]);
    for (const r of results) console.log(`| ${r.row} | ${r.cpuUs.toFixed(0)} (${r.cpuMin.toFixed(0)}–${r.cpuMax.toFixed(0)}) | ${r.rps.toFixed(0)} | ${r.errors} errors |`);
    fs.rmSync(work, { recursive: true, force: true });
    return;
  }

  // Cold isolates: 32 concurrent first requests.
  const cold = {};
  for (const [name, worker] of [['entra-edge', workers.edge({})], ['jose', workers.jose]]) {
    const server = await startWorkerd({ dir: path.join(work, `cold-${name}`), ...worker });
    try {
      const before = authority.counts.jwks;
      const tokens = Array.from({ length: 32 }, mint);
      const statuses = await Promise.all(tokens.map((t) => fetch(`${server.url}/api/orders`, { headers: { authorization: `Bearer ${t}` } }).then(async (r) => { await r.arrayBuffer(); return r.status; })));
      cold[name] = { jwks: authority.counts.jwks - before, ok: statuses.filter((s) => s === 200).length };
    } finally {
      await server.stop();
    }
  }

  // For reference: the same worker under wrangler dev (its proxy caps throughput), and the
  // cost of a rate-limited route (one Durable Object round trip) against an unlimited one.
  const refDir = path.join(work, 'wrangler');
  const refConfig = writeTestConfig(refDir, {
    entraEdge: edgeConfig({
      routes: [
        { name: 'limited', path: '/limited/**', rate_limit: { key: ['oid'], windows: [{ requests: 1_000_000_000, period_seconds: 1 }] } },
        { path: '/**' },
      ],
    }),
  });
  const dev = await startWrangler({ config: refConfig, persistTo: path.join(refDir, 'state') });
  let wranglerRow;
  let limitRows;
  try {
    await wrk(dev.url + '/api/orders', one, WARMUP);
    wranglerRow = await wrk(dev.url + '/api/orders', one);
    // One connection: the latency a single caller sees, without queueing behind others.
    await wrk(dev.url + '/limited/orders', one, WARMUP, 1);
    const unlimited = await wrk(dev.url + '/api/orders', one, SECONDS, 1);
    const limited = await wrk(dev.url + '/limited/orders', one, SECONDS, 1);
    limitRows = { unlimited, limited };
  } finally {
    await dev.stop();
  }

  await Promise.all([authority.close(), origin.close()]);

  const wasm = fs.readFileSync(path.join(BUILD, 'index_bg.wasm'));
  const gz = zlib.gzipSync(wasm, { level: 9 }).length;
  const floor = results[0];
  const pct = (v, base) => `${((v / base) * 100).toFixed(0)} %`;
  const lines = [];
  lines.push(`entra-edge benchmark — ${new Date().toISOString()} — ${os.cpus().length} × ${os.cpus()[0]?.model?.trim() ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB`);
  lines.push(`plain workerd ${execFileSync(path.join(ROOT, 'node_modules', '.bin', 'workerd'), ['--version'], { encoding: 'utf8' }).trim()}, wrk -t1 -c${CONNECTIONS} -d${SECONDS}s after ${WARMUP}s warm-up, origin in its own process; median of ${RUNS} runs (spread min–max)`);
  lines.push('');
  lines.push('| scenario | CPU µs / request | req/s | share of pass-through | p50 ms | p99 ms | errors | JWKS fetches |');
  lines.push('|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of results) {
    const errors = r.expectErrors ? `(${r.errors} × 404 by design)` : r.errors;
    lines.push(`| ${r.row} | **${r.cpuUs.toFixed(0)}** (${r.cpuMin.toFixed(0)}–${r.cpuMax.toFixed(0)}) | ${r.rps.toFixed(0)} (${r.rpsMin.toFixed(0)}–${r.rpsMax.toFixed(0)}) | ${pct(r.rps, floor.rps)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${errors} | ${r.jwks} |`);
  }
  lines.push('');
  lines.push(`cold isolate, 32 concurrent first requests: entra-edge fetched the JWKS ${cold['entra-edge'].jwks}× (${cold['entra-edge'].ok}/32 OK); jose ${cold.jose.jwks}× (${cold.jose.ok}/32 OK)`);
  lines.push(`wasm: ${(wasm.length / 1024).toFixed(0)} KiB raw, ${(gz / 1024).toFixed(0)} KiB gzip (zlib level 9)`);
  lines.push(`under wrangler dev (reference only, its proxy caps every worker): entra-edge one repeated token ${wranglerRow.rps.toFixed(0)} req/s, p50 ${wranglerRow.p50.toFixed(2)} ms`);
  lines.push(`rate-limited route under wrangler dev, one connection (one Durable Object round trip): p50 ${limitRows.limited.p50.toFixed(2)} ms, p99 ${limitRows.limited.p99.toFixed(2)} ms vs unlimited p50 ${limitRows.unlimited.p50.toFixed(2)} ms, p99 ${limitRows.unlimited.p99.toFixed(2)} ms: +${(limitRows.limited.p50 - limitRows.unlimited.p50).toFixed(2)} ms p50`);
  const report = lines.join('\n');
  console.log(report);
  fs.mkdirSync(path.join(ROOT, 'bench', 'results'), { recursive: true });
  fs.writeFileSync(path.join(ROOT, 'bench', 'results', 'latest.md'), report + '\n');
  fs.rmSync(work, { recursive: true, force: true });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
