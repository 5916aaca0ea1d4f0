// Serving a worker with plain workerd (the runtime Cloudflare runs), without wrangler's
// dev proxy, from a generated Cap'n Proto config.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, freePort } from '../dev/wrangler.mjs';

const WORKERD = path.join(ROOT, 'node_modules', '.bin', 'workerd');

/**
 * Starts workerd serving `modules` ([{ name, file, type: 'esModule' | 'wasm' }]) with the
 * given JSON and text bindings, and KV namespaces `kv` ({ BINDING: [[key, metadata], …] },
 * read-only, served by bench/kv-service.js). Outbound fetch may reach loopback (origin and
 * authority).
 *
 * For the fault matrix and the soak: `bindings` adds raw Cap'n Proto binding entries
 * (`kvNamespace = "svc"`, `durableObjectNamespace = (…)`); `workerExtra` adds fields to the
 * main worker (`durableObjectNamespaces = […]`, `durableObjectStorage = (inMemory = void)`);
 * `services` adds side workers ([{ name, modules, extra }]), each also served on its own
 * socket (its URL in the result's `services[name]`) so a test can command it; `rawServices`
 * adds raw service entries (a `disk` service for SQLite-backed Durable Object storage).
 */
export async function startWorkerd({ dir, modules, json = {}, text = {}, kv = {}, bindings: rawBindings = [], workerExtra = '', services = [], rawServices = [], compatibilityDate = '2025-06-01', inspectorPort }) {
  fs.mkdirSync(dir, { recursive: true });
  for (const m of [...modules, ...services.flatMap((s) => s.modules)]) fs.copyFileSync(m.file, path.join(dir, m.name));
  if (Object.keys(kv).length) fs.copyFileSync(path.join(ROOT, 'bench', 'kv-service.js'), path.join(dir, 'kv-service.js'));
  const kvServices = Object.entries(kv).map(([name, entries]) => `(name = "kv-${name}", worker = (
      modules = [(name = "kv-service.js", esModule = embed "kv-service.js")],
      compatibilityDate = "${compatibilityDate}",
      bindings = [(name = "ENTRIES", json = ${JSON.stringify(JSON.stringify(entries))})],
    )),`).join('\n    ');
  const port = await freePort();
  const moduleListOf = (list) => list.map((m) => `(name = ${JSON.stringify(m.name)}, ${m.type} = embed ${JSON.stringify(m.name)})`).join(',\n      ');
  const bindings = [
    ...Object.entries(json).map(([name, value]) => `(name = ${JSON.stringify(name)}, json = ${JSON.stringify(JSON.stringify(value))})`),
    ...Object.entries(text).map(([name, value]) => `(name = ${JSON.stringify(name)}, text = ${JSON.stringify(value)})`),
    ...rawBindings,
    ...Object.keys(kv).map((name) => `(name = ${JSON.stringify(name)}, kvNamespace = "kv-${name}")`),
  ].join(',\n      ');
  const servicePorts = {};
  for (const s of services) servicePorts[s.name] = await freePort();
  const config = `using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .worker),
    (name = "loopback", network = (allow = ["public", "private", "local"])),
    ${rawServices.map((raw) => `${raw},`).join('\n    ')}
    ${kvServices}
    ${services.map((s) => `(name = ${JSON.stringify(s.name)}, worker = (
      modules = [ ${moduleListOf(s.modules)} ],
      compatibilityDate = "${compatibilityDate}",
      globalOutbound = "loopback",
      ${s.extra ?? ''}
    )),`).join('\n    ')}
  ],
  sockets = [
    (name = "http", address = "127.0.0.1:${port}", http = (), service = "main"),
    ${services.map((s) => `(name = ${JSON.stringify(`${s.name}-control`)}, address = "127.0.0.1:${servicePorts[s.name]}", http = (), service = ${JSON.stringify(s.name)}),`).join('\n    ')}
  ],
);

const worker :Workerd.Worker = (
  modules = [
      ${moduleListOf(modules)}
  ],
  compatibilityDate = "${compatibilityDate}",
  bindings = [
      ${bindings}
  ],
  globalOutbound = "loopback",
  ${workerExtra}
);
`;
  const file = path.join(dir, 'config.capnp');
  fs.writeFileSync(file, config);
  const args = ['serve', file, '--verbose'];
  if (inspectorPort) args.push(`--inspector-addr=127.0.0.1:${inspectorPort}`);
  const child = spawn(WORKERD, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  child.stdout.on('data', (c) => { output += c; });
  child.stderr.on('data', (c) => { output += c; });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`workerd exited:\n${output}`);
    try {
      await fetch(`${url}/__ready`);
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`workerd not ready:\n${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    url,
    services: Object.fromEntries(Object.entries(servicePorts).map(([name, p]) => [name, `http://127.0.0.1:${p}`])),
    pid: child.pid,
    output: () => output,
    async stop() {
      const exited = new Promise((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', resolve)));
      try { process.kill(-child.pid, 'SIGTERM'); } catch { /* gone */ }
      const timer = setTimeout(() => { try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ } }, 3000);
      await exited;
      clearTimeout(timer);
    },
  };
}
