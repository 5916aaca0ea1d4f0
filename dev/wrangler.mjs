// Starting and stopping `wrangler dev` (workerd) from scripts: offline, non-interactive,
// with its own state folder, and stopped with its whole process group.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const WRANGLER = path.join(ROOT, 'node_modules', '.bin', 'wrangler');

/** A free TCP port on 127.0.0.1. */
export async function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Environment that keeps wrangler offline and quiet (no telemetry, no update check). */
export function quietEnv() {
  return {
    ...process.env,
    CI: 'true',
    WRANGLER_SEND_METRICS: 'false',
    CLOUDFLARE_CF_FETCH_ENABLED: 'false',
    WRANGLER_HIDE_BANNER: 'true',
    NO_COLOR: '1',
  };
}

/**
 * Runs `wrangler dev --local` with the given config and waits until it serves.
 * Returns { url, port, output(), stop() }. A free port can be taken by another process
 * between probing and binding: without a fixed port, that start is retried on new ports.
 */
export async function startWrangler(options) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startWranglerOnce(options);
    } catch (err) {
      const portRace = /Address already in use/.test(String(err.message));
      if (!portRace || options.port !== undefined || attempt >= 3) throw err;
    }
  }
}

async function startWranglerOnce({ config, env, persistTo, port, extraArgs = [], timeoutMs = 60_000, echo = false }) {
  port ??= await freePort();
  const inspectorPort = await freePort();
  const args = ['dev', '--local', '--config', config, '--ip', '127.0.0.1', '--port', String(port),
    '--inspector-port', String(inspectorPort), '--show-interactive-dev-session=false', '--log-level', 'log'];
  if (env) args.push('--env', env);
  if (persistTo) args.push('--persist-to', persistTo);
  args.push(...extraArgs);
  const child = spawn(WRANGLER, args, { cwd: ROOT, env: quietEnv(), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  const onData = (chunk) => {
    output += chunk.toString();
    if (echo) process.stdout.write(chunk);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);

  const url = `http://127.0.0.1:${port}`;
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`wrangler dev not ready after ${timeoutMs} ms:\n${output}`)), timeoutMs);
    const check = () => {
      if (output.includes('Ready on')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on('data', check);
    child.stderr.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`wrangler dev exited with ${code}:\n${output}`));
    });
  });

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    const exited = new Promise((resolve) => {
      if (child.exitCode !== null) resolve();
      else child.once('exit', resolve);
    });
    try { process.kill(-child.pid, 'SIGTERM'); } catch { /* already gone */ }
    const timer = setTimeout(() => { try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ } }, 5000);
    await exited;
    clearTimeout(timer);
  };
  return { url, port, child, output: () => output, stop };
}

/** Writes a wrangler.json for the prebuilt worker, with the given ENTRA_EDGE config. */
export function writeTestConfig(dir, { entraEdge, name = 'entra-edge-test', extra = {}, vars = {}, kv = true, kvBindings = [], durableObjects = true }) {
  fs.mkdirSync(dir, { recursive: true });
  const config = {
    name,
    main: path.join(ROOT, 'build', 'index.js'),
    compatibility_date: '2025-06-01',
    vars: { ...vars, ...(entraEdge === null ? {} : { ENTRA_EDGE: entraEdge }) },
    kv_namespaces: [
      ...(kv ? [{ binding: 'JWKS_CACHE', id: 'jwks-cache-test' }] : []),
      ...kvBindings.map((binding) => ({ binding, id: `${binding.toLowerCase()}-test` })),
    ],
    ...(durableObjects ? {
      durable_objects: { bindings: [{ name: 'RATE_LIMITER', class_name: 'EdgeRateLimiter' }] },
      migrations: [{ tag: 'v1', new_sqlite_classes: ['EdgeRateLimiter'] }],
    } : {}),
    ...extra,
  };
  const file = path.join(dir, 'wrangler.json');
  fs.writeFileSync(file, JSON.stringify(config, null, 2));
  return file;
}
