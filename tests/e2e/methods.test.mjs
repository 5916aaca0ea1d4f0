// Review of 2026-11-30: a route for "every method" must not take TRACE, TRACK or CONNECT
// (TRACE echoes the request, ORIGIN_SECRET and identity headers included, back to the
// caller), and method / URL override headers never reach the origin.
import assert from 'node:assert/strict';
import { after, before, beforeEach, test } from 'node:test';
import { rawRequest } from '../support/assertions.mjs';
import { startStack } from '../support/stack.mjs';

let stack;
before(async () => {
  stack = await startStack({
    vars: { ORIGIN_SECRET: 'the-origin-secret-value' },
    config: { routes: [{ name: 'public', path: '/pub/**', public: true }, { name: 'traced', path: '/traced/**', methods: ['TRACE'], public: true }, { name: 'api', path: '/**' }] },
  });
});
after(async () => { await stack?.stop(); });
beforeEach(() => stack.origin.reset());

test('TRACE and TRACK on a route for every method are 405, never forwarded', async () => {
  for (const method of ['TRACE', 'TRACK']) {
    const res = await rawRequest(`${stack.url}/pub/x`, { method });
    // workerd itself answers 501 to TRACK, a method it does not know; TRACE reaches the worker.
    assert.equal(res.status, method === 'TRACK' ? 501 : 405, `${method}: ${res.body}`);
    assert.ok(!res.body.includes('the-origin-secret-value'));
  }
  assert.equal(stack.origin.requests.length, 0);
});

test('a route that lists TRACE takes it', async () => {
  const res = await rawRequest(`${stack.url}/traced/x`, { method: 'TRACE' });
  assert.notEqual(res.status, 405);
});

test('method and URL override headers never reach the origin', async () => {
  const overrides = {
    'x-http-method-override': 'DELETE',
    'X-HTTP-Method': 'DELETE',
    'x-method-override': 'DELETE',
    'x-original-method': 'DELETE',
    'x-original-url': '/admin',
    'x-rewrite-url': '/admin',
    'x-forwarded-prefix': '/admin',
    'X_HTTP_Method_Override': 'DELETE',
  };
  const res = await stack.request('/api/orders', { method: 'POST', body: '{}', token: stack.mint(), headers: { 'content-type': 'application/json', ...overrides } });
  assert.equal(res.status, 200, await res.text());
  const seen = stack.origin.requests[0].headers;
  for (const name of Object.keys(overrides)) {
    const folded = name.toLowerCase().replace(/[^a-z0-9]/g, '-');
    assert.ok(!Object.keys(seen).some((h) => h.replace(/[^a-z0-9]/g, '-') === folded), `${name} reached the origin`);
  }
});
