// The request collection in examples/requests/ must not rot: newman (Postman's own runner)
// runs it against the worker configured with the README's worked example in front of the
// example origin (what `make dev` runs), with tokens minted by the local authority as
// environment variables. Every request's own tests (status, problem reason, challenge) pass.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import newman from 'newman';
import { parse } from 'smol-toml';
import { collectionTokens, postmanEnvironment } from '../../dev/collection-tokens.mjs';
import { DEMO_ROUTES } from '../../dev/policy.mjs';
import { ROOT } from '../../dev/wrangler.mjs';
import { startExampleOrigin } from '../../examples/origin/server.mjs';
import { startStack } from '../support/stack.mjs';

// The same RFC 9728 table as make dev, so the challenges the collection checks are make dev's.
const DEV_CONFIG = parse(fs.readFileSync(path.join(ROOT, 'wrangler.toml'), 'utf8')).env.dev.vars.ENTRA_EDGE;
const COLLECTION = path.join(ROOT, 'examples', 'requests', 'entra-edge.postman_collection.json');
let stack;
let exampleOrigin;
before(async () => {
  exampleOrigin = await startExampleOrigin(0);
  stack = await startStack({ config: { routes: DEMO_ROUTES, origin: exampleOrigin.url, protected_resource: DEV_CONFIG.protected_resource } });
});
after(async () => {
  await stack?.stop();
  await exampleOrigin?.close();
});

function run(options) {
  return new Promise((resolve, reject) => newman.run(options, (err, summary) => (err ? reject(err) : resolve(summary))));
}

test('the Postman collection passes under newman against the worked example', { timeout: 120_000 }, async () => {
  const tokens = collectionTokens({ mint: (o) => stack.authority.mint(o), mintIdToken: (o) => stack.authority.mintIdToken(o) });
  const summary = await run({
    collection: JSON.parse(fs.readFileSync(COLLECTION, 'utf8')),
    environment: postmanEnvironment(stack.url, tokens),
    reporters: [],
    timeoutRequest: 30_000,
  });
  const items = JSON.parse(fs.readFileSync(COLLECTION, 'utf8')).item.length;
  const failures = summary.run.failures.map((f) => `${f.source?.name}: ${f.error?.test ?? ''} ${f.error?.message}`);
  assert.deepEqual(failures, []);
  assert.equal(summary.run.stats.requests.total, items, 'every request ran');
  assert.ok(summary.run.stats.assertions.total >= items * 2, `${summary.run.stats.assertions.total} assertions`);
});

test('the .http file names the same requests as the collection', () => {
  const http = fs.readFileSync(path.join(ROOT, 'examples', 'requests', 'entra-edge.http'), 'utf8');
  const names = JSON.parse(fs.readFileSync(COLLECTION, 'utf8')).item.map((i) => i.name);
  const titles = [...http.matchAll(/^### (.+?) → /gm)].map((m) => m[1]);
  assert.deepEqual(titles, names);
});
