// `make dev` as a user runs it (dev/run.mjs, after `make build`): it starts once, serves the
// printed curl, stops cleanly on Ctrl-C, starts again at once with the same state, and says
// in one line which port is busy. Its state folder and ports are the test's own.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { freePort, quietEnv, ROOT } from '../../dev/wrangler.mjs';

const devDir = fs.mkdtempSync(path.join(os.tmpdir(), 'entra-edge-dev-test-'));
const children = [];
after(() => {
  for (const child of children) try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
  fs.rmSync(devDir, { recursive: true, force: true });
});

async function ports() {
  return { PORT: String(await freePort()), AUTHORITY_PORT: String(await freePort()), ORIGIN_PORT: String(await freePort()) };
}

/** Starts dev/run.mjs; resolves with its output once it printed the curls (bounded). */
function startDev(env) {
  const child = spawn(process.execPath, [path.join(ROOT, 'dev', 'run.mjs')], {
    cwd: ROOT, env: { ...quietEnv(), ENTRA_EDGE_DEV_DIR: devDir, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true,
  });
  children.push(child);
  let output = '';
  child.stdout.on('data', (c) => { output += c; });
  child.stderr.on('data', (c) => { output += c; });
  const exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`make dev not ready within 120 s:\n${output}`)), 120_000);
    const check = () => { if (output.includes('Press Ctrl-C')) { clearTimeout(timer); resolve(); } };
    child.stdout.on('data', check);
    exited.then((code) => { clearTimeout(timer); reject(new Error(`make dev exited with ${code}:\n${output}`)); });
  });
  ready.catch(() => {}); // awaited by the tests that expect a start; others watch `exited`
  return { child, ready, exited, output: () => output };
}

async function curlFrom(output) {
  const [, url, token] = /curl -i (\S+) -H "Authorization: Bearer ([^"]+)"/.exec(output);
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(30_000) });
  return { status: res.status, body: await res.text() };
}

async function stop(dev) {
  process.kill(-dev.child.pid, 'SIGINT');
  const code = await Promise.race([dev.exited, new Promise((r) => setTimeout(() => r('timeout'), 30_000))]);
  assert.equal(code, 0, dev.output());
}

test('make dev starts once, serves its curl, and starts again at once after Ctrl-C', { timeout: 300_000 }, async () => {
  const env = await ports();
  const first = startDev(env);
  await first.ready;
  assert.doesNotMatch(first.output(), /restarting build|Running: make build/, 'wrangler built the worker again');
  const answer = await curlFrom(first.output());
  assert.equal(answer.status, 200, answer.body);
  await stop(first);
  for (const port of Object.values(env)) {
    await new Promise((resolve, reject) => { const s = net.createServer().once('error', reject).listen(Number(port), '127.0.0.1', () => s.close(resolve)); });
  }
  const second = startDev(env);
  await second.ready;
  assert.equal((await curlFrom(second.output())).status, 200, 'the restarted gateway accepts a new token at once');
  assert.equal((await curlFrom(first.output())).status, 200, 'a token minted before the restart still passes');
  await stop(second);
});

test('make dev names a busy port and the variable to change, in one line', { timeout: 60_000 }, async () => {
  const env = await ports();
  const blocker = net.createServer();
  await new Promise((resolve) => blocker.listen(Number(env.AUTHORITY_PORT), '127.0.0.1', resolve));
  try {
    const dev = startDev(env);
    const code = await dev.exited;
    assert.equal(code, 1);
    const lines = dev.output().trim().split('\n');
    assert.equal(lines.length, 1, dev.output());
    assert.match(lines[0], new RegExp(`port ${env.AUTHORITY_PORT} .*AUTHORITY_PORT=`));
  } finally {
    await new Promise((resolve) => blocker.close(resolve));
  }
});
