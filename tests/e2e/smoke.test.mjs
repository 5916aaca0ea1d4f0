import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startStack } from '../support/stack.mjs';

let stack;
before(async () => { stack = await startStack(); });
after(async () => { await stack?.stop(); });

test('a valid token reaches the origin', async () => {
  const res = await stack.request('/orders?x=1', { token: stack.mint() });
  const body = await res.text();
  assert.equal(res.status, 200, body);
  console.log(body);
});

test('no token gets 401', async () => {
  const res = await stack.request('/orders');
  assert.equal(res.status, 401);
  console.log(res.headers.get('www-authenticate'), await res.text());
});
