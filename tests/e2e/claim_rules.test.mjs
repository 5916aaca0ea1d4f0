// Issue 14 §3: claim rules per route (`claims = [{ name, values, match }]`), exact and
// type-exact, failing closed on other shapes, with groups overage refused for what it is.
import assert from 'node:assert/strict';
import { after, before, beforeEach, test } from 'node:test';
import { assertRefused } from '../support/assertions.mjs';
import { startStack } from '../support/stack.mjs';

const ADMINS = '6b2f0c1a-0000-4000-8000-000000000001';
const AUDITORS = '6b2f0c1a-0000-4000-8000-000000000002';
const GLOBAL_ADMIN_ROLE = '62e90394-69f5-4237-9190-012177145e10';
let stack;

before(async () => {
  stack = await startStack({
    config: {
      routes: [
        { name: 'admins', path: '/admin/**', claims: [{ name: 'groups', values: [ADMINS, AUDITORS] }] },
        { name: 'both', path: '/both/**', claims: [{ name: 'groups', values: [ADMINS, AUDITORS], match: 'all' }] },
        { name: 'directory', path: '/directory/**', claims: [{ name: 'wids', values: [GLOBAL_ADMIN_ROLE] }] },
        { name: 'verified', path: '/verified/**', claims: [{ name: 'email_verified', values: [true] }, { name: 'tier', values: [2] }] },
        { name: 'default', path: '/**' },
      ],
    },
  });
});
after(async () => { await stack?.stop(); });
beforeEach(() => stack.origin.reset());

async function allowed(path, claims) {
  const res = await stack.request(path, { token: stack.mint({ claims }) });
  assert.equal(res.status, 200, await res.text());
  assert.equal(stack.origin.requests.length, 1);
  stack.origin.reset();
}

async function refused(path, claims, reason = 'claim_rule_failed') {
  const token = stack.mint({ claims });
  const body = await assertRefused(await stack.request(path, { token }), { status: 403, reason, error: 'insufficient_scope', token });
  assert.equal(stack.origin.requests.length, 0, 'the origin saw a refused request');
  return body;
}

test('a member of one of the groups passes an any-rule', async () => {
  await allowed('/admin/x', { groups: ['other', AUDITORS] });
});

test('a caller in none of the groups is refused without the values being echoed', async () => {
  const body = await refused('/admin/x', { groups: ['Top-Secret-Group'] });
  assert.match(body.detail, /groups/);
  assert.ok(!JSON.stringify(body).includes('Top-Secret-Group') && !JSON.stringify(body).includes(ADMINS));
});

test('an all-rule needs every value', async () => {
  await allowed('/both/x', { groups: [AUDITORS, ADMINS] });
  await refused('/both/x', { groups: [ADMINS] });
});

test('a token without the claim is refused', async () => {
  await refused('/admin/x', {});
  await refused('/directory/x', {});
});

test('directory roles (wids) can be required like any array claim', async () => {
  await allowed('/directory/x', { wids: [GLOBAL_ADMIN_ROLE, 'b79fbf4d-3ef9-4689-8143-76b194e85509'] });
});

test('comparison is case-sensitive and exact', async () => {
  await refused('/admin/x', { groups: [ADMINS.toUpperCase()] });
  await refused('/admin/x', { groups: [` ${ADMINS}`] });
});

test('booleans and numbers match only values of their own type', async () => {
  await allowed('/verified/x', { email_verified: true, tier: 2 });
  await refused('/verified/x', { email_verified: 'true', tier: 2 });
  await refused('/verified/x', { email_verified: true, tier: '2' });
  await refused('/verified/x', { email_verified: 1, tier: 2 });
});

test('a claim of another shape fails closed', async () => {
  for (const groups of [{ [ADMINS]: true }, [[ADMINS]], [ADMINS, 7], null]) {
    await refused('/admin/x', { groups });
  }
});

test('groups overage is refused with its own reason, never as a member', async () => {
  const overage = { _claim_names: { groups: 'src1' }, _claim_sources: { src1: { endpoint: 'https://graph.microsoft.com/v1.0/users/x/getMemberObjects' } } };
  const body = await refused('/admin/x', overage, 'groups_overage');
  assert.match(body.detail, /app roles/);
  await refused('/admin/x', { ...overage, groups: [ADMINS] }, 'groups_overage');
  await refused('/admin/x', { hasgroups: true }, 'groups_overage');
});

test('a cached token is checked against each route\'s rules', async () => {
  const token = stack.mint({ claims: { groups: [ADMINS] } });
  assert.equal((await stack.request('/admin/x', { token })).status, 200);
  assert.equal((await stack.request('/both/x', { token })).status, 403);
  assert.equal((await stack.request('/admin/x', { token })).status, 200);
});

test('routes without rules are unaffected', async () => {
  await allowed('/api/x', {});
});
