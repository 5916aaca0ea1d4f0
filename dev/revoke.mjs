// `make revoke` / `make revocations` / `make unrevoke`: add, list and remove entries of the
// emergency revocation list (README "Emergency revocation list"), through `wrangler kv` on
// the REVOCATIONS binding: locally against the `make dev` state (.dev/state, or
// $ENTRA_EDGE_DEV_DIR/state) by default, or the deployed namespace with --remote.
//
//   node dev/revoke.mjs add --user OID --reason "phished, sessions revoked in Entra"
//   node dev/revoke.mjs add --client APP_ID --before 2026-11-30T09:00:00Z --reason "client secret leaked"
//   node dev/revoke.mjs add --token-file token.txt --reason "token pasted in a ticket"   (- reads stdin)
//   node dev/revoke.mjs list
//   node dev/revoke.mjs remove --id user-20261130T090000Z-4f2a9c
//
// Options: --user OID | --tenant TID | --client APP_ID | --token-file FILE|-  (exactly one),
//   --reason TEXT (required), --before TIME (only tokens issued before it; ISO 8601, epoch
//   seconds or "now"), --expires TIME (ISO 8601, epoch seconds, or +N[smhd]; default 28 h
//   after --before, or after now), --by NAME (default: git user.email, else the OS user),
//   --remote, --env NAME (wrangler environment; default "dev" locally, the top level
//   remotely), --config FILE, --persist-to DIR (local state folder), --json (list as JSON).
// The token itself is never printed or stored: only its SHA-256.
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT, quietEnv } from './wrangler.mjs';
import { DEV_DIR } from './token-key.mjs';

export const BINDING = 'REVOCATIONS';
export const PREFIX = 'revocation/';
/** The longest an Entra access token lives (CAE: 28 h): the default lifetime of an entry. */
const LONGEST_TOKEN_SECONDS = 28 * 3600;
const MAX_ENTRY_BYTES = 1024;
const MAX_TEXT = 300;
const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const ID = /^[A-Za-z0-9_-]{1,64}$/;

const spec = {
  user: { type: 'string' },
  tenant: { type: 'string' },
  client: { type: 'string' },
  'token-file': { type: 'string' },
  reason: { type: 'string' },
  before: { type: 'string' },
  expires: { type: 'string' },
  by: { type: 'string' },
  id: { type: 'string' },
  remote: { type: 'boolean' },
  env: { type: 'string' },
  config: { type: 'string' },
  'persist-to': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};

class UsageError extends Error {}

/** Seconds since the epoch from ISO 8601, epoch seconds, "now", or (relative) +N[smhd]. */
export function parseTime(text, what, { relative = false, now = Date.now() / 1000 } = {}) {
  const value = String(text).trim();
  // "now" is the next whole second: the gateway revokes `iat < issued_before`, and iat has
  // whole seconds, so a token issued earlier in this very second is caught too.
  if (value === 'now') return Math.floor(now) + 1;
  if (/^\d{9,11}$/.test(value)) return Number(value);
  const rel = /^\+(\d+)([smhd])$/.exec(value);
  if (rel && relative) return Math.floor(now) + Number(rel[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[rel[2]];
  if (/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$/.test(value)) {
    const ms = Date.parse(value);
    if (!Number.isNaN(ms)) return Math.floor(ms / 1000);
  }
  throw new UsageError(`${what}: ${JSON.stringify(value)} is not a time (ISO 8601 such as 2026-11-30T09:00:00Z, epoch seconds, "now"${relative ? ', or +N[smhd]' : ''})`);
}

/** The SHA-256 (hex) of a compact token read from a file or stdin ("Bearer " and whitespace removed). */
export function hashTokenFile(file) {
  const text = fs.readFileSync(file === '-' ? 0 : file, 'utf8').trim().replace(/^Bearer\s+/i, '');
  if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(text)) {
    throw new UsageError(`--token-file: ${file === '-' ? 'stdin' : file} does not hold one compact JWT (three base64url parts)`);
  }
  return crypto.createHash('sha256').update(text, 'ascii').digest('hex');
}

function defaultAuthor() {
  const git = spawnSync('git', ['config', 'user.email'], { cwd: ROOT, encoding: 'utf8' });
  const email = git.status === 0 ? git.stdout.trim() : '';
  return email || os.userInfo().username || 'unknown';
}

/** The entry (key and JSON) that `add` writes, validated as the gateway will parse it. */
export function buildEntry(options, now = Math.floor(Date.now() / 1000)) {
  const targets = ['user', 'tenant', 'client', 'token-file'].filter((k) => options[k] !== undefined);
  if (targets.length !== 1) throw new UsageError('name exactly one of --user, --tenant, --client, --token-file (with make: USER=, TENANT=, CLIENT=, TOKEN_FILE=)');
  const kind = targets[0] === 'token-file' ? 'token' : targets[0];
  let value;
  if (kind === 'token') value = hashTokenFile(options['token-file']);
  else if (GUID.test(options[kind] ?? '')) value = options[kind].toLowerCase();
  else throw new UsageError(`--${kind}: ${JSON.stringify(options[kind])} is not a GUID (the ${{ user: 'object id (oid)', tenant: 'tenant id (tid)', client: 'application (client) id (azp / appid)' }[kind]})`);

  const reason = (options.reason ?? '').trim();
  if (!reason) throw new UsageError('--reason is required (with make: REASON="…"): say why (it is kept with the entry)');
  if ([...reason].length > MAX_TEXT) throw new UsageError(`--reason: at most ${MAX_TEXT} characters`);
  const by = (options.by ?? defaultAuthor()).trim();
  if (!by || [...by].length > MAX_TEXT) throw new UsageError(`--by: 1–${MAX_TEXT} characters`);

  const before = options.before !== undefined ? parseTime(options.before, '--before', { now }) : undefined;
  const expires = options.expires !== undefined
    ? parseTime(options.expires, '--expires', { relative: true, now })
    : (before ?? now) + LONGEST_TOKEN_SECONDS;
  // KV refuses expirations less than 60 s ahead; an entry that ends sooner protects nothing.
  if (expires < now + 60) {
    throw new UsageError(`--expires: the entry would end ${expires <= now ? 'in the past' : 'within a minute'} (every token issued before --before has expired by then?)`);
  }
  const stamp = new Date(now * 1000).toISOString().replace(/[-:]|\.\d+/g, '');
  const id = `${kind}-${stamp}-${crypto.randomBytes(3).toString('hex')}`;
  const entry = { kind, value, ...(before !== undefined ? { issued_before: before } : {}), expires_at: expires, reason, created_by: by, created_at: now };
  const json = JSON.stringify(entry);
  if (Buffer.byteLength(json) > MAX_ENTRY_BYTES) throw new UsageError(`the entry is longer than ${MAX_ENTRY_BYTES} bytes: shorten --reason or --by`);
  return { id, key: PREFIX + id, entry, json };
}

/** The wrangler arguments that select the namespace: local state or --remote. */
function target(options) {
  const args = ['--binding', BINDING];
  if (options.remote) {
    args.push('--remote', '--config', options.config ?? path.join(ROOT, 'wrangler.toml'));
    if (options.env) args.push('--env', options.env);
  } else {
    args.push('--local', '--config', options.config ?? path.join(ROOT, 'wrangler.toml'));
    args.push('--persist-to', options['persist-to'] ?? path.join(DEV_DIR, 'state'));
    const env = options.env ?? (options.config ? undefined : 'dev');
    if (env) args.push('--env', env);
  }
  return args;
}

function wrangler(args) {
  const bin = path.join(ROOT, 'node_modules', '.bin', 'wrangler');
  const run = spawnSync(bin, args, { cwd: ROOT, env: quietEnv(), encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (run.status !== 0) {
    const why = `${run.stderr}\n${run.stdout}`.split('\n').map((l) => l.trim()).filter((l) => l && !/^[▲✘⛅─]/.test(l)).slice(-6).join('\n');
    throw new Error(`wrangler ${args.slice(0, 3).join(' ')} failed:\n${why}`);
  }
  return run.stdout;
}

/** Every entry: [{ id, expiration, entry }] (entry from the key's metadata). */
export function listEntries(options) {
  const out = wrangler(['kv', 'key', 'list', '--prefix', PREFIX, ...target(options)]);
  const start = out.indexOf('[');
  const keys = JSON.parse(start >= 0 ? out.slice(start) : '[]');
  return keys.map((k) => ({ id: k.name.slice(PREFIX.length), expiration: k.expiration, entry: k.metadata ?? null }));
}

const iso = (seconds) => (seconds === undefined ? '—' : new Date(seconds * 1000).toISOString().replace('.000Z', 'Z'));

function printList(items, options) {
  if (options.json) {
    console.log(JSON.stringify(items, null, 2));
    return;
  }
  const where = options.remote ? `remote${options.env ? ` [env.${options.env}]` : ''}` : `local: ${options['persist-to'] ?? path.join(DEV_DIR, 'state')}`;
  if (!items.length) {
    console.log(`no revocation entries (${where})`);
    return;
  }
  console.log(`${items.length} revocation entr${items.length === 1 ? 'y' : 'ies'} (${where}):`);
  for (const { id, entry } of items) {
    if (!entry) {
      console.log(`  ${id}  (no metadata: written by hand? the gateway reads its value)`);
      continue;
    }
    const value = entry.kind === 'token' ? `sha256:${String(entry.value).slice(0, 16)}…` : entry.value;
    const bound = entry.issued_before !== undefined ? `  issued before ${iso(entry.issued_before)}` : '';
    console.log(`  ${id}\n    ${entry.kind} ${value}${bound}  until ${iso(entry.expires_at)}\n    by ${entry.created_by} at ${iso(entry.created_at)}: ${entry.reason}`);
  }
}

const HELP = `usage:
  node dev/revoke.mjs add (--user OID | --tenant TID | --client APP_ID | --token-file FILE|-) --reason TEXT
                          [--before TIME] [--expires TIME|+N[smhd]] [--by NAME]
  node dev/revoke.mjs list [--json]
  node dev/revoke.mjs remove --id ID
common: [--remote] [--env NAME] [--config FILE] [--persist-to DIR]
make: make revoke USER=… | TENANT=… | CLIENT=… | TOKEN_FILE=…  REASON="…" [BEFORE=…] [EXPIRES=…] [BY=…] [REMOTE=1] [ENV=…]
      make revocations [REMOTE=1] [ENV=…]     make unrevoke ID=… [REMOTE=1] [ENV=…]`;

async function main(argv) {
  const { values, positionals } = parseArgs({ args: argv, options: spec, allowPositionals: true, strict: true });
  if (values.help || positionals.length !== 1) {
    console.log(HELP);
    return values.help ? 0 : 2;
  }
  const [command] = positionals;
  if (command === 'add') {
    const { id, key, entry, json } = buildEntry(values);
    wrangler(['kv', 'key', 'put', key, json, '--metadata', json, '--expiration', String(entry.expires_at), ...target(values)]);
    const value = entry.kind === 'token' ? `token sha256:${entry.value}` : `${entry.kind} ${entry.value}`;
    console.log(`revoked ${value}${entry.issued_before !== undefined ? ` (tokens issued before ${iso(entry.issued_before)})` : ''} until ${iso(entry.expires_at)}`);
    console.log(`entry id: ${id}   (remove with: make unrevoke ID=${id}${values.remote ? ' REMOTE=1' : ''})`);
    return 0;
  }
  if (command === 'list') {
    printList(listEntries(values), values);
    return 0;
  }
  if (command === 'remove') {
    if (!ID.test(values.id ?? '')) throw new UsageError('--id (with make: ID=): the entry id printed by add or list (A–Z, a–z, 0–9, - and _)');
    if (!listEntries(values).some((item) => item.id === values.id)) {
      console.error(`revoke: no entry ${values.id} (make revocations lists them)`);
      return 1;
    }
    wrangler(['kv', 'key', 'delete', PREFIX + values.id, ...target(values)]);
    console.log(`removed ${values.id}`);
    return 0;
  }
  console.log(HELP);
  return 2;
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  try {
    process.exitCode = await main(process.argv.slice(2));
  } catch (err) {
    console.error(`revoke: ${err.message}`);
    process.exitCode = err instanceof UsageError || err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? 2 : 1;
  }
}
