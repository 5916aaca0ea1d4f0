// The worked example exists three times — the README's snippet, wrangler.toml's [env.dev]
// (what `make dev` runs) and dev/policy.mjs (what the route and collection tests run) — and
// they must be one policy.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { parse } from 'smol-toml';
import { DEMO_ROUTES } from '../../dev/policy.mjs';
import { ROOT } from '../../dev/wrangler.mjs';

const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const section = readme.slice(readme.indexOf('### Worked example'));
const snippet = /```toml\n([\s\S]*?)```/.exec(section)[1];
const normalize = (routes) => JSON.parse(JSON.stringify(routes));

test("the README's worked example is wrangler.toml's [env.dev] policy", () => {
  const devRoutes = parse(fs.readFileSync(path.join(ROOT, 'wrangler.toml'), 'utf8')).env.dev.vars.ENTRA_EDGE.routes;
  assert.deepEqual(normalize(parse(snippet).vars.ENTRA_EDGE.routes), normalize(devRoutes));
});

test('the end-to-end tests run the same policy as make dev', () => {
  const devRoutes = parse(fs.readFileSync(path.join(ROOT, 'wrangler.toml'), 'utf8')).env.dev.vars.ENTRA_EDGE.routes;
  assert.deepEqual(normalize(DEMO_ROUTES), normalize(devRoutes));
});

test('make check-config and make explain pass ENV="" on (the top level only), and no ENV means every environment', async () => {
  const { execFileSync } = await import('node:child_process');
  const dryRun = (...args) => execFileSync('make', ['-n', ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, ENV: '/root/.shrc' } });
  // The value reaches the command as the shell's "$ENV", never spliced into its text.
  assert.match(dryRun('check-config', 'ENV='), /entra-edge-check -- wrangler\.toml --env "\$ENV"/);
  assert.match(dryRun('check-config', 'ENV=dev'), /--env "\$ENV"/);
  // An ENV in the shell's environment (sh's startup file) is not a wrangler environment.
  assert.doesNotMatch(dryRun('check-config'), /--env/);
  assert.match(dryRun('explain', 'TOKEN=x', 'ENV='), /--env "\$ENV"/);
  // make deploy: the top level unless ENV is given on the command line.
  assert.match(dryRun('deploy'), /wrangler deploy --config wrangler\.toml --env=""/);
  assert.match(dryRun('deploy', 'ENV=dev'), /--env="\$ENV"/);
});

test('an ENV value is passed as data: quotes and shell syntax in it reach the checker verbatim', async () => {
  const { spawnSync } = await import('node:child_process');
  const run = spawnSync('make', ['-s', 'check-config', 'ENV="; echo INJECTED; echo "'], { cwd: ROOT, encoding: 'utf8' });
  assert.doesNotMatch(run.stdout, /^INJECTED$/m);
  assert.match(run.stderr + run.stdout, /no \[env\."; echo INJECTED; echo "\]/);
});
