// `make dev`: the local Entra authority, the example origin and the gateway under
// `wrangler dev` with wrangler.toml's [env.dev], plus ready-to-paste curls. Ctrl-C stops all.
//
// Ports (environment or make variables): PORT (gateway, 8787), AUTHORITY_PORT (8790),
// ORIGIN_PORT (8791). The authority's signing key and the gateway's KV / Durable Object state
// live in .dev/, so tokens minted earlier (make token) and cached keys survive a restart.
// Secrets for the gateway (ORIGIN_SECRET) come from .dev.vars, as with any wrangler project.
// With [env.dev.vars.ENTRA_EDGE.assertion], the assertion's signing key is .dev/assertion-key.json
// (generated on first use; an ASSERTION_SIGNING_KEY in .dev.vars wins), and the example origin
// verifies the gateway's signed assertion with its public key.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { startAuthority } from './authority.mjs';
import { startExampleOrigin } from '../examples/origin/server.mjs';
import { ROOT, startWrangler } from './wrangler.mjs';
import { API_CLIENT_ID, DAEMON_CLIENT_ID, DEMO_TENANT } from './demo.mjs';
import { ASSERTION_KEY_FILE, DEV_DIR, KEY_FILE } from './token-key.mjs';
import { generateAssertionKey, jwksOf } from './assertion-key.mjs';

const DEFAULTS = { gateway: 8787, authority: 8790, origin: 8791 };
const port = (name, fallback) => {
  const value = process.env[name];
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 65535) {
    console.error(`make dev: ${name}=${value} is not a port number`);
    process.exit(2);
  }
  return n;
};
const ports = {
  gateway: port('PORT', DEFAULTS.gateway),
  authority: port('AUTHORITY_PORT', DEFAULTS.authority),
  origin: port('ORIGIN_PORT', DEFAULTS.origin),
};
const VARIABLE = { gateway: 'PORT', authority: 'AUTHORITY_PORT', origin: 'ORIGIN_PORT' };
const ROLE = { gateway: 'the gateway', authority: 'the local Entra authority', origin: 'the example origin' };

/** True when 127.0.0.1:port can be bound right now. */
function portFree(p) {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(p, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

for (const [what, p] of Object.entries(ports)) {
  if (!(await portFree(p))) {
    console.error(`make dev: port ${p} (${ROLE[what]}) is in use — stop what holds it (an earlier make dev? see: ss -ltnp 'sport = :${p}') or pick another: make dev ${VARIABLE[what]}=${p + 100}`);
    process.exit(1);
  }
}

/** Minimal .dev.vars (dotenv) reader: NAME=value lines, optional quotes, # comments. */
function readDevVars(file) {
  if (!fs.existsSync(file)) return {};
  const vars = {};
  for (const line of fs.readFileSync(file, 'utf8').split(/\r?\n/)) {
    const match = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (!match || line.trimStart().startsWith('#')) continue;
    vars[match[1]] = match[2].replace(/^"(.*)"$|^'(.*)'$/, '$1$2');
  }
  return vars;
}

/**
 * wrangler.toml's [env.dev] as wrangler resolves it, written as .dev/wrangler.json without
 * the [build] step (this script's `make build` already ran: wrangler would build again) and
 * with the authority and origin on the chosen ports.
 */
function devConfig() {
  const toml = parseToml(fs.readFileSync(path.join(ROOT, 'wrangler.toml'), 'utf8'));
  const env = toml.env?.dev;
  if (!env) throw new Error('wrangler.toml has no [env.dev]');
  const entraEdge = structuredClone(env.vars?.ENTRA_EDGE ?? {});
  const repoint = (url, from, to) => (url === `http://127.0.0.1:${from}` ? `http://127.0.0.1:${to}` : url);
  entraEdge.origin = repoint(entraEdge.origin, DEFAULTS.origin, ports.origin);
  entraEdge.authority = repoint(entraEdge.authority, DEFAULTS.authority, ports.authority);
  if (entraEdge.protected_resource) {
    entraEdge.protected_resource.resource = repoint(entraEdge.protected_resource.resource, DEFAULTS.gateway, ports.gateway);
  }
  const config = {
    name: env.name ?? toml.name,
    main: path.join(ROOT, toml.main ?? 'build/index.js'),
    compatibility_date: env.compatibility_date ?? toml.compatibility_date,
    triggers: env.triggers ?? toml.triggers,
    kv_namespaces: env.kv_namespaces ?? [],
    durable_objects: env.durable_objects,
    migrations: env.migrations ?? toml.migrations,
    vars: { ...env.vars, ENTRA_EDGE: entraEdge },
  };
  const file = path.join(DEV_DIR, 'wrangler.json');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(config, null, 2));
  return { file, entraEdge };
}

/**
 * The signed assertion under make dev: the gateway's secrets file (.dev.vars plus the dev
 * signing key, unless .dev.vars has its own) and what the example origin verifies with.
 */
function devAssertion(entraEdge, devVars, devVarsFile) {
  const settings = entraEdge.assertion;
  if (!settings) return { envFile: fs.existsSync(devVarsFile) ? devVarsFile : undefined };
  let secret = devVars.ASSERTION_SIGNING_KEY;
  if (!secret) {
    if (!fs.existsSync(ASSERTION_KEY_FILE)) {
      fs.mkdirSync(DEV_DIR, { recursive: true });
      fs.writeFileSync(ASSERTION_KEY_FILE, JSON.stringify(generateAssertionKey().privateJwk) + '\n', { mode: 0o600 });
    }
    secret = fs.readFileSync(ASSERTION_KEY_FILE, 'utf8').trim();
  }
  const envFile = path.join(DEV_DIR, 'dev.vars');
  const own = fs.existsSync(devVarsFile) ? fs.readFileSync(devVarsFile, 'utf8') : '';
  const line = devVars.ASSERTION_SIGNING_KEY ? '' : `\nASSERTION_SIGNING_KEY='${secret}'\n`;
  fs.writeFileSync(envFile, own + line, { mode: 0o600 });
  return {
    envFile,
    verifier: {
      jwks: jwksOf([JSON.parse(secret), ...(settings.additional_public_keys ?? [])]),
      issuer: settings.issuer ?? 'entra-edge',
      audience: settings.audience ?? entraEdge.origin.replace(/\/$/, ''),
      header: settings.header?.toLowerCase(),
    },
  };
}

const devVarsFile = path.join(ROOT, '.dev.vars');
const devVars = readDevVars(devVarsFile);
const dev = devConfig();
const assertion = devAssertion(dev.entraEdge, devVars, devVarsFile);
const authority = await startAuthority(ports.authority, { keyFile: KEY_FILE });
const origin = await startExampleOrigin(ports.origin, { originSecret: devVars.ORIGIN_SECRET, assertion: assertion.verifier });
let gateway;
try {
  gateway = await startWrangler({
    config: dev.file,
    port: ports.gateway,
    persistTo: path.join(DEV_DIR, 'state'),
    extraArgs: assertion.envFile ? ['--env-file', assertion.envFile] : [],
    timeoutMs: 600_000,
    echo: true,
  });
} catch (err) {
  const message = String(err.message ?? err);
  const busy = /Address already in use|EADDRINUSE/.test(message);
  console.error(busy ? `make dev: port ${ports.gateway} (the gateway) was taken while starting; try again or pick another: make dev PORT=${ports.gateway + 100}` : message);
  await Promise.all([authority.close(), origin.close()]);
  process.exit(1);
}

const mint = (options) => authority.mint({ tenant: DEMO_TENANT, audience: API_CLIENT_ID, lifetime: 3600, ...options });
const token = mint({ scopes: ['Orders.Read'] });
const tampered = token.slice(0, -6) + (token.endsWith('AAAAAA') ? 'BBBBBB' : 'AAAAAA');
const daemon = mint({ appOnly: true, roles: ['Orders.Admin'], clientId: DAEMON_CLIENT_ID });
console.log(`
entra-edge is running:
  gateway          ${gateway.url}
  local authority  ${authority.url}
  example origin   ${origin.url}${devVars.ORIGIN_SECRET ? '   (requires the ORIGIN_SECRET from .dev.vars)' : ''}${assertion.verifier ? `
                   verifies the gateway's signed identity assertion (keys: ${gateway.url}${dev.entraEdge.assertion.jwks_path ?? '/.well-known/entra-edge-assertion-keys'})` : ''}

A valid token (v2, delegated, scope Orders.Read, valid 1 hour) on the read-orders route — the origin answers:

  curl -i ${gateway.url}/api/orders -H "Authorization: Bearer ${token}"

The same token with a tampered signature — the gateway answers 401:

  curl -i ${gateway.url}/api/orders -H "Authorization: Bearer ${tampered}"

The operations daemon (app-only, role Orders.Admin) on the admin route:

  curl -i -X POST ${gateway.url}/api/admin/reindex -H "Authorization: Bearer ${daemon}"

More tokens: make token SCOPES=Orders.ReadWrite   (or: npm run token -- --help)
Scheduled key refresh: curl "${gateway.url}/cdn-cgi/handler/scheduled?cron=*/30+*+*+*+*"
Health: curl ${gateway.url}/.well-known/entra-edge/health
Protected-resource metadata (RFC 9728, for MCP and OAuth clients): curl ${gateway.url}/.well-known/oauth-protected-resource

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
