// `make soak`: a bounded steady-rate run against the release worker under plain workerd
// (wrangler's dev proxy buffers bodies and grows on its own), with the gateway's own
// rate-limit Durable Object (in memory) and a KV stand-in (tests/support/standins.js).
//
// Traffic, per 20 requests: 12 valid (a pool of recent tokens), 2 with a token minted this
// second (new tokens every second: the verified-token cache fills to its cap and evicts),
// 2 on a tightly rate-limited route (429s), 1 without a token, 1 with a bad signature,
// 1 lacking the route's scope, 1 for a path no route serves. One key rotation half-way.
//
// Reports requests, status counts, 5xx (goal 0), p50/p99, JWKS fetches, workerd's resident
// memory at start, middle and end (goal: flat once the token cache is at its cap), and the
// health counters. Fails (exit 1) on any 5xx or transport error, or if memory grows by more
// than SOAK_MAX_GROWTH_MIB from the middle to the end. Writes bench/results/soak-latest.md.
//
// Environment: SOAK_SECONDS (default 600), SOAK_RATE requests/s (default 100),
// SOAK_NEW_TOKENS per second (default 10), SOAK_MAX_GROWTH_MIB (default 32).
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from '../dev/wrangler.mjs';
import { startWorkerdStack } from '../tests/support/workerd-stack.mjs';

const SECONDS = Number(process.env.SOAK_SECONDS ?? 600);
const RATE = Number(process.env.SOAK_RATE ?? 100);
const NEW_TOKENS = Number(process.env.SOAK_NEW_TOKENS ?? 10);
const MAX_GROWTH_MIB = Number(process.env.SOAK_MAX_GROWTH_MIB ?? 32);
const MAX_IN_FLIGHT = 64;
const TOKEN_CACHE_SIZE = 4096;
const POOL = 200;

const stack = await startWorkerdStack({
  limiter: 'real',
  config: {
    log_level: 'error',
    token_cache_size: TOKEN_CACHE_SIZE,
    keys: { refresh_after_seconds: 120 },
    routes: [
      { name: 'limited', path: '/limited/**', rate_limit: { key: ['oid'], windows: [{ requests: 5, period_seconds: 1 }] } },
      { name: 'write', path: '/write/**', scopes: ['Orders.ReadWrite'] },
      { name: 'read', path: '/api/**', scopes: ['Orders.Read'] },
    ],
  },
});
stack.origin.record = false;
const mib = (kib) => (kib / 1024).toFixed(1);

const pool = [];
const mintInto = (n) => { for (let i = 0; i < n; i++) pool.push(stack.mint({ lifetime: 7200 })); while (pool.length > POOL) pool.shift(); };
mintInto(POOL);
let fresh = [];
const heavyUser = stack.mint({ lifetime: 7200, objectId: '00000000-0000-4000-8000-00000000beef' });
const tamper = (t) => `${t.slice(0, -4)}${t.slice(-4) === 'AAAA' ? 'BBBB' : 'AAAA'}`;
const pick = (list) => list[Math.floor(Math.random() * list.length)];

const statuses = new Map();
const latencies = [];
let sent = 0;
let skipped = 0;
let errors = 0;
let inFlight = 0;
const firstErrors = [];

function request(i) {
  const k = i % 20;
  let pathname = '/api/orders';
  let token;
  if (k < 12) token = pick(pool);
  else if (k < 14) token = fresh.length ? pick(fresh) : pick(pool);
  else if (k < 16) { pathname = '/limited/x'; token = heavyUser; }
  else if (k === 16) token = undefined;
  else if (k === 17) token = tamper(pick(pool));
  else if (k === 18) { pathname = '/write/orders'; token = pick(pool); }
  else { pathname = '/nowhere'; token = pick(pool); }
  inFlight++;
  sent++;
  const started = performance.now();
  return stack.request(pathname, { token })
    .then(async (res) => {
      await res.arrayBuffer();
      latencies.push(performance.now() - started);
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    })
    .catch((err) => {
      errors++;
      if (firstErrors.length < 5) firstErrors.push(String(err?.cause?.message ?? err?.message ?? err));
    })
    .finally(() => { inFlight--; });
}

// Warm-up: keys fetched, the isolate settled, then the baseline memory.
for (let i = 0; i < 20; i++) await request(0);
await new Promise((r) => setTimeout(r, 1000));
statuses.clear();
latencies.length = 0;
sent = 0;
const rss = { start: stack.rssKiB(), middle: null, end: null, max: 0 };
const jwksBefore = stack.authority.counts.jwks;
console.log(`soak: ${SECONDS} s at ${RATE} req/s, ${NEW_TOKENS} new tokens/s, workerd pid ${stack.pid}, RSS at start ${mib(rss.start)} MiB`);

const started = Date.now();
let rotated = false;
let i = 0;
let lastSecond = -1;
await new Promise((resolve) => {
  const tick = setInterval(() => {
    const elapsed = (Date.now() - started) / 1000;
    if (elapsed >= SECONDS) { clearInterval(tick); resolve(); return; }
    const second = Math.floor(elapsed);
    if (second !== lastSecond) {
      lastSecond = second;
      fresh = Array.from({ length: NEW_TOKENS }, () => stack.mint({ lifetime: 7200 }));
      mintInto(0);
      pool.push(...fresh);
      while (pool.length > POOL) pool.shift();
      const now = stack.rssKiB();
      rss.max = Math.max(rss.max, now ?? 0);
      if (!rotated && elapsed >= SECONDS / 2) {
        rotated = true;
        rss.middle = now;
        stack.authority.rotate();
        console.log(`  ${second} s: key rotated; RSS ${mib(now)} MiB`);
      } else if (second % 60 === 0) {
        console.log(`  ${second} s: ${sent} sent, RSS ${mib(now)} MiB, in flight ${inFlight}`);
      }
    }
    // Steady rate: catch up to the schedule, never beyond MAX_IN_FLIGHT.
    const due = Math.floor(elapsed * RATE);
    while (i < due) {
      if (inFlight >= MAX_IN_FLIGHT) { skipped += due - i; i = due; break; }
      request(i++);
    }
  }, 10);
});
const drainDeadline = Date.now() + 30_000;
while (inFlight > 0 && Date.now() < drainDeadline) await new Promise((r) => setTimeout(r, 50));
rss.end = stack.rssKiB();
const health = await stack.health();
const jwksFetches = stack.authority.counts.jwks - jwksBefore;
await stack.stop();

latencies.sort((a, b) => a - b);
const q = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]?.toFixed(2);
const fiveXX = [...statuses].filter(([s]) => s >= 500).reduce((n, [, c]) => n + c, 0);
const growth = (rss.end - rss.middle) / 1024;
const lines = [
  `make soak (SOAK_SECONDS=${SECONDS} SOAK_RATE=${RATE} SOAK_NEW_TOKENS=${NEW_TOKENS}), ${new Date().toISOString().slice(0, 10)}, plain workerd ${fs.readFileSync(path.join(ROOT, 'node_modules', 'workerd', 'package.json'), 'utf8').match(/"version":\s*"([^"]+)"/)?.[1] ?? ''}`,
  '',
  '| figure | value |',
  '|---|---|',
  `| requests | ${sent} (${skipped} skipped at ${MAX_IN_FLIGHT} in flight, ${errors} transport errors) |`,
  `| status counts | ${[...statuses].sort(([a], [b]) => a - b).map(([s, c]) => `${s}: ${c}`).join(', ')} |`,
  `| 5xx | ${fiveXX} |`,
  `| latency p50 / p99 | ${q(0.5)} ms / ${q(0.99)} ms |`,
  `| JWKS fetches | ${jwksFetches} (one key rotation; background refresh every 120 s) |`,
  `| workerd RSS start / middle / end (max) | ${mib(rss.start)} / ${mib(rss.middle)} / ${mib(rss.end)} (${mib(rss.max)}) MiB |`,
  `| token cache | cap ${TOKEN_CACHE_SIZE} (≈ 1.5 KB each: ≤ ${(TOKEN_CACHE_SIZE * 1.5 / 1024).toFixed(1)} MiB); hits ${health.counters.token_cache_hits}, misses ${health.counters.token_cache_misses} |`,
  `| health | ${health.status}; counters ${JSON.stringify(health.counters)} |`,
];
const report = lines.join('\n');
console.log(`\n${report}`);
if (firstErrors.length) console.log(`first transport errors: ${firstErrors.join(' | ')}`);
fs.mkdirSync(path.join(ROOT, 'bench', 'results'), { recursive: true });
fs.writeFileSync(path.join(ROOT, 'bench', 'results', 'soak-latest.md'), `${report}\n`);
const failures = [];
if (fiveXX > 0) failures.push(`${fiveXX} answers were 5xx`);
if (errors > 0) failures.push(`${errors} transport errors`);
if (growth > MAX_GROWTH_MIB) failures.push(`workerd grew by ${growth.toFixed(1)} MiB from the middle to the end`);
if (failures.length) {
  console.error(`soak FAILED: ${failures.join('; ')}`);
  process.exit(1);
}
console.log('soak passed: no 5xx, no transport errors, memory flat from the middle to the end');
