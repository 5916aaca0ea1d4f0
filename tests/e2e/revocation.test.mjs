// Issue 15 §2: the emergency revocation list. Entries are written with the project's own
// command (dev/revoke.mjs → wrangler kv … --local) into the running gateway's KV state, as an
// operator would under `make dev`; they take effect within `refresh_seconds`, on verified and
// cached tokens alike, for v1 and v2 tokens of the same user or app.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, beforeEach, describe, test } from 'node:test';
import { assertRefused } from '../support/assertions.mjs';
import { ROOT } from '../../dev/wrangler.mjs';
import { API_APP_ID_URI, DAEMON_CLIENT_ID, DEMO_TENANT, startStack } from '../support/stack.mjs';

const run = promisify(execFile);
const REFRESH_SECONDS = 2;
// How long a change may take to show: the isolate's copy is at most REFRESH_SECONDS old, plus
// one KV listing; the slack is for a loaded machine, far from the expected outcome.
const PROPAGATION_BOUND_MS = REFRESH_SECONDS * 1000 + 3000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const uuid = () => crypto.randomUUID();

/** Runs dev/revoke.mjs against the stack's local KV state; returns its stdout. */
async function revoke(stack, ...args) {
  const { stdout } = await run('node', [path.join(ROOT, 'dev', 'revoke.mjs'), ...args, '--config', stack.configFile, '--persist-to', stack.persistTo], { cwd: ROOT });
  return stdout;
}

const entryId = (stdout) => /entry id: (\S+)/.exec(stdout)[1];

/** Polls `probe` until it returns true, at most `bound` ms; returns the time it took. */
async function eventually(probe, bound = PROPAGATION_BOUND_MS) {
  const started = Date.now();
  while (Date.now() - started < bound) {
    if (await probe()) return Date.now() - started;
    await sleep(50);
  }
  assert.fail(`not within ${bound} ms`);
}

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** The token with each part's unused trailing bits set (parts whose length leaves some). */
function respellings(token) {
  const parts = token.split('.');
  const variants = [];
  parts.forEach((part, i) => {
    const unused = { 2: 0b1111, 3: 0b11 }[part.length % 4];
    if (!unused) return;
    const last = B64URL.indexOf(part.at(-1));
    const respelled = part.slice(0, -1) + B64URL[last | unused];
    if (respelled !== part) variants.push(parts.map((p, j) => (j === i ? respelled : p)).join('.'));
  });
  assert.ok(variants.length > 0, 'the signature of an RS256 token (342 characters) has unused bits');
  return variants;
}

const status = async (stack, token) => {
  const res = await stack.request('/orders', { token });
  await res.arrayBuffer();
  return res.status;
};

describe('the revocation list', () => {
  let stack;
  before(async () => {
    stack = await startStack({ config: { revocation: { enabled: true, refresh_seconds: REFRESH_SECONDS } }, kvBindings: ['REVOCATIONS'] });
  });
  after(async () => { await stack?.stop(); });
  beforeEach(() => stack.origin.reset());

  test('an entry added while requests flow refuses the cached token within refresh_seconds', async (t) => {
    const oid = uuid();
    const token = stack.mint({ objectId: oid });
    const bystander = stack.mint({ objectId: uuid() });
    assert.equal(await status(stack, token), 200);
    const missesBefore = (await stack.health()).counters.token_cache_misses;

    // Requests keep flowing (one at a time) while the entry is written.
    const seen = [];
    let flowing = true;
    const flow = (async () => {
      while (flowing) {
        seen.push({ at: Date.now(), status: await status(stack, token) });
        await sleep(20);
      }
    })();
    const commandStarted = Date.now();
    const added = await revoke(stack, 'add', '--user', oid, '--reason', 'account compromised');
    // The write happened between the command's start and its exit (most of it is wrangler's start-up).
    const writtenAt = Date.now();
    try {
      await eventually(async () => seen.some((s) => s.at >= writtenAt && s.status === 401));
    } finally {
      flowing = false;
      await flow;
    }
    const firstRefusal = seen.find((s) => s.status === 401);
    const delay = Math.max(0, firstRefusal.at - writtenAt);
    t.diagnostic(`refused ${delay} ms after the command returned, ${firstRefusal.at - commandStarted} ms after it started (refresh_seconds = ${REFRESH_SECONDS})`);
    assert.ok(delay <= PROPAGATION_BOUND_MS, `${delay} ms`);
    assert.ok(seen.slice(0, seen.indexOf(firstRefusal)).every((s) => s.status === 200), 'served until refused');
    assert.ok(seen.slice(seen.indexOf(firstRefusal)).every((s) => s.status === 401), 'refused for good once refused');

    // Every request of the flow was a token-cache hit: the cache does not bypass the list.
    assert.equal((await stack.health()).counters.token_cache_misses, missesBefore);
    stack.origin.reset();
    await assertRefused(await stack.request('/orders', { token }), { status: 401, reason: 'token_revoked', error: 'invalid_token', token });
    assert.equal(stack.origin.requests.length, 0, 'a revoked token never reaches the origin');
    assert.equal(await status(stack, bystander), 200, 'other users are unaffected');

    const id = entryId(added);
    assert.ok(await stack.waitForOutput(new RegExp(`"entry":"${id}","event":"token_revoked"`)), 'the refusal is logged with the entry');
    const line = stack.gateway.output().split('\n').find((l) => l.includes(`"entry":"${id}"`));
    const event = JSON.parse(line.slice(line.indexOf('{'), line.lastIndexOf('}') + 1));
    assert.equal(event.tenant, DEMO_TENANT, 'the event names who was refused');
    assert.match(event.oid, /^sha256:[0-9a-f]{16}$/, 'the oid as log_user_ids says (hashed by default)');
    assert.ok(!line.includes(oid), 'no plain oid');
    const parts = token.split('.');
    assert.ok(!stack.gateway.output().includes(parts[1]) && !stack.gateway.output().includes(parts[2]), 'the token is never logged');
  });

  test('after a quiet spell the very first request is checked against a fresh copy', async () => {
    const oid = uuid();
    const token = stack.mint({ objectId: oid });
    assert.equal(await status(stack, token), 200);
    const quietSince = Date.now();
    await revoke(stack, 'add', '--user', oid, '--reason', 'revoked while no one called');
    // No request for longer than refresh_seconds: the isolate's copy is too old to decide with.
    await sleep(Math.max(0, quietSince + REFRESH_SECONDS * 1000 + 500 - Date.now()));
    await assertRefused(await stack.request('/orders', { token }), { status: 401, reason: 'token_revoked', error: 'invalid_token', token });
  });

  test('a user entry refuses v1 and v2 tokens of that user, verified or cached, and no one else', async () => {
    const oid = uuid();
    const v2 = stack.mint({ objectId: oid });
    const v1 = stack.mint({ objectId: oid, version: '1.0', audience: API_APP_ID_URI });
    const app = stack.mint({ objectId: oid, appOnly: true, scopes: [], roles: ['Orders.Read.All'], clientId: DAEMON_CLIENT_ID });
    const other = stack.mint({ objectId: uuid() });
    assert.equal(await status(stack, v2), 200, 'cached before the entry exists');
    await revoke(stack, 'add', '--user', oid.toUpperCase(), '--reason', 'phished');
    await eventually(async () => (await status(stack, v2)) === 401);
    for (const token of [v1, app]) {
      await assertRefused(await stack.request('/orders', { token }), { status: 401, reason: 'token_revoked', error: 'invalid_token', token });
    }
    assert.equal(await status(stack, other), 200);
  });

  test('a client entry refuses that app by azp (v2) and appid (v1)', async () => {
    const client = uuid();
    const v2 = stack.mint({ clientId: client });
    const v1 = stack.mint({ clientId: client, version: '1.0', audience: API_APP_ID_URI });
    const otherApp = stack.mint({ clientId: uuid() });
    await revoke(stack, 'add', '--client', client, '--reason', 'client secret leaked');
    await eventually(async () => (await status(stack, v2)) === 401);
    assert.equal(await status(stack, v1), 401);
    assert.equal(await status(stack, otherApp), 200);
  });

  test('a token entry refuses that token only; the command reads it from a file and never prints it', async () => {
    const oid = uuid();
    const token = stack.mint({ objectId: oid });
    const sibling = stack.mint({ objectId: oid });
    assert.equal(await status(stack, token), 200);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'revoke-token-'));
    const file = path.join(dir, 'token.txt');
    fs.writeFileSync(file, `Bearer ${token}\n`);
    try {
      const out = await revoke(stack, 'add', '--token-file', file, '--reason', 'pasted in a ticket');
      for (const part of token.split('.')) assert.ok(!out.includes(part), 'the command prints the token');
      const listed = await revoke(stack, 'list');
      for (const part of token.split('.')) assert.ok(!listed.includes(part), 'the list shows the token');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    await eventually(async () => (await status(stack, token)) === 401);
    assert.equal(await status(stack, sibling), 200, 'another token of the same user still passes');

    // No other spelling of the same token gets through: base64url with other unused trailing
    // bits (which lax decoders accept) has another hash, so the gateway must refuse it anyway.
    for (const variant of respellings(token)) {
      assert.equal(await status(stack, variant), 401, 're-encoded token passed');
    }
  });

  test('an issued-before entry spares the tokens issued at or after the bound', async () => {
    const oid = uuid();
    const now = Math.floor(Date.now() / 1000);
    const old = stack.mint({ objectId: oid, claims: { iat: now - 120, nbf: now - 120 } });
    const fresh = stack.mint({ objectId: oid, claims: { iat: now, nbf: now } });
    await revoke(stack, 'add', '--user', oid, '--before', String(now), '--reason', 'sessions revoked in Entra at this time');
    await eventually(async () => (await status(stack, old)) === 401);
    assert.equal(await status(stack, fresh), 200, 'a token from the new sign-in passes');
  });

  test('removing an entry lets the user back in within refresh_seconds', async () => {
    const oid = uuid();
    const token = stack.mint({ objectId: oid });
    const id = entryId(await revoke(stack, 'add', '--user', oid, '--reason', 'false alarm'));
    await eventually(async () => (await status(stack, token)) === 401);
    assert.match(await revoke(stack, 'list', '--json'), new RegExp(id));
    await revoke(stack, 'remove', '--id', id);
    await eventually(async () => (await status(stack, token)) === 200);
    assert.doesNotMatch(await revoke(stack, 'list', '--json'), new RegExp(id));
  });
});

describe('when the list cannot be read', () => {
  // Enabled, but no REVOCATIONS binding: every read fails.
  test('fail_closed answers 503 revocation_list_unavailable with Retry-After and calls no origin', async () => {
    const stack = await startStack({ config: { revocation: { enabled: true, on_error: 'fail_closed' } } });
    try {
      const res = await stack.request('/orders', { token: stack.mint() });
      const body = await assertRefused(res, { status: 503, reason: 'revocation_list_unavailable' });
      assert.ok(Number(res.headers.get('retry-after')) >= 1, 'Retry-After');
      assert.equal(body.status, 503);
      assert.equal(stack.origin.requests.length, 0);
      assert.ok(await stack.waitForOutput(/"event":"revocation_list_read_failed"[^\n]*"on_error":"fail_closed"/));
    } finally {
      await stack.stop();
    }
  });

  test('serve_last (the default) serves with no list ever read, and logs the failure', async () => {
    const stack = await startStack({ config: { revocation: { enabled: true } } });
    try {
      assert.equal(await status(stack, stack.mint()), 200);
      assert.ok(await stack.waitForOutput(/"event":"revocation_list_read_failed"[^\n]*"on_error":"serve_last"/));
      assert.match((await stack.health()).revocation.last_error, /REVOCATIONS/);
    } finally {
      await stack.stop();
    }
  });
});
