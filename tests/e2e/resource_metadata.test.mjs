// Issue 14 §1: RFC 9728 protected-resource metadata for MCP and OAuth 2.1 clients: served at
// the edge from configuration (never from the request's Host), named by every challenge.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { assertRefused, rawRequest } from '../support/assertions.mjs';
import { API_APP_ID_URI, DEMO_TENANT, PARTNER_TENANT, startStack } from '../support/stack.mjs';

const RESOURCE = 'https://api.contoso.example/mcp';
const METADATA_URL = 'https://api.contoso.example/.well-known/oauth-protected-resource/mcp';
let stack;

before(async () => {
  stack = await startStack({
    config: {
      protected_resource: { resource: RESOURCE, app_id_uri: API_APP_ID_URI, resource_name: 'Contoso Orders MCP', resource_documentation: 'https://docs.contoso.example/mcp' },
      routes: [
        { name: 'read', path: '/mcp/**', methods: ['GET', 'POST'], scopes: ['Orders.Read', 'Orders.ReadWrite'] },
        { name: 'admin', path: '/admin/**', roles: ['Orders.Admin'] },
        { name: 'public', path: '/public/**', public: true },
      ],
    },
  });
});
after(async () => { await stack?.stop(); });
beforeEach(() => stack.origin.reset());

describe('the metadata document', () => {
  test('is served at the path-suffixed well-known URL without a token', async () => {
    const res = await stack.request('/.well-known/oauth-protected-resource/mcp');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/json');
    const doc = await res.json();
    assert.deepEqual(doc, {
      resource: RESOURCE,
      authorization_servers: [`${stack.authority.url}/${DEMO_TENANT}/v2.0`, `${stack.authority.url}/${PARTNER_TENANT}/v2.0`],
      scopes_supported: [`${API_APP_ID_URI}/Orders.Read`, `${API_APP_ID_URI}/Orders.ReadWrite`, `${API_APP_ID_URI}/.default`],
      bearer_methods_supported: ['header'],
      resource_name: 'Contoso Orders MCP',
      resource_documentation: 'https://docs.contoso.example/mcp',
    });
    assert.equal(stack.origin.requests.length, 0, 'answered at the edge');
  });

  test('is served at the bare well-known path too', async () => {
    const res = await stack.request('/.well-known/oauth-protected-resource');
    assert.equal(res.status, 200);
    assert.equal((await res.json()).resource, RESOURCE);
  });

  test('never takes the resource from the Host or forwarding headers', async () => {
    const res = await rawRequest(`${stack.url}/.well-known/oauth-protected-resource/mcp`, {
      headers: { host: 'attacker.example', 'x-forwarded-host': 'attacker.example', 'x-forwarded-proto': 'http', forwarded: 'host=attacker.example' },
    });
    assert.equal(res.status, 200);
    assert.ok(!res.body.includes('attacker'), res.body);
    assert.equal(JSON.parse(res.body).resource, RESOURCE);
  });

  test('is readable by browser-based clients (CORS, no credentials)', async () => {
    const res = await stack.request('/.well-known/oauth-protected-resource/mcp', { headers: { origin: 'https://inspector.example' } });
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
    assert.equal(res.headers.get('access-control-allow-credentials'), null);
    const preflight = await stack.request('/.well-known/oauth-protected-resource/mcp', {
      method: 'OPTIONS',
      headers: { origin: 'https://inspector.example', 'access-control-request-method': 'GET' },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), '*');
    assert.match(preflight.headers.get('access-control-allow-methods'), /GET/);
    const mcp = await stack.request('/.well-known/oauth-protected-resource/mcp', {
      method: 'OPTIONS',
      headers: { origin: 'https://inspector.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'MCP-Protocol-Version' },
    });
    assert.equal(mcp.headers.get('access-control-allow-headers'), 'mcp-protocol-version', 'the MCP SDK sends MCP-Protocol-Version');
  });

  test('gets the security headers and a request id like every answer', async () => {
    const res = await stack.request('/.well-known/oauth-protected-resource/mcp');
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.ok(res.headers.get('x-request-id'));
  });

  test('other spellings of its path are answered at the edge too (case, encoding, slashes)', async () => {
    for (const variant of ['/.WELL-KNOWN/oauth-protected-resource/MCP', '/.well-known//oauth-protected-resource/%6dcp', '/.well-known/oauth-protected-resource/mcp/']) {
      const res = await stack.request(variant);
      assert.equal(res.status, 200, variant);
      assert.equal((await res.json()).resource, RESOURCE);
    }
    assert.equal(stack.origin.requests.length, 0);
  });

  test('other methods on its path are refused at the edge', async () => {
    const res = await stack.request('/.well-known/oauth-protected-resource/mcp', { method: 'POST', body: '{}' });
    assert.equal(res.status, 405);
    assert.match(res.headers.get('allow'), /GET/);
    assert.equal(stack.origin.requests.length, 0);
  });

  test('a token is ignored there: the document is public', async () => {
    const res = await stack.request('/.well-known/oauth-protected-resource/mcp', { token: 'not-a-token' });
    assert.equal(res.status, 200);
  });
});

describe('challenges', () => {
  const metadataParam = `resource_metadata="${METADATA_URL}"`;

  test('a request without a token is told where the metadata is', async () => {
    const res = await stack.request('/mcp/tools');
    await assertRefused(res.clone(), { status: 401, reason: 'token_missing', error: null });
    assert.equal(res.headers.get('www-authenticate'), `Bearer realm="entra-edge", ${metadataParam}`);
  });

  test('every 401 for a bad token carries the metadata URL', async () => {
    const expired = stack.mint({ lifetime: -3600, notBefore: Math.floor(Date.now() / 1000) - 7200 });
    for (const token of ['garbage', expired]) {
      const res = await stack.request('/mcp/tools', { token });
      assert.equal(res.status, 401);
      assert.ok(res.headers.get('www-authenticate').endsWith(`, ${metadataParam}`), res.headers.get('www-authenticate'));
    }
  });

  test('a 403 insufficient_scope names the fully qualified scopes a client must request, and the metadata', async () => {
    const token = stack.mint({ scopes: ['Profile.Read'] });
    const res = await stack.request('/mcp/tools', { token });
    const challenge = res.headers.get('www-authenticate');
    assert.equal(res.status, 403);
    assert.match(challenge, /error="insufficient_scope"/);
    assert.ok(challenge.includes(`scope="${API_APP_ID_URI}/Orders.Read ${API_APP_ID_URI}/Orders.ReadWrite"`), challenge);
    assert.ok(challenge.includes(metadataParam), challenge);
  });

  test('a valid token passes as before', async () => {
    const res = await stack.request('/mcp/tools', { token: stack.mint({ scopes: ['Orders.Read'] }) });
    assert.equal(res.status, 200);
  });
});
