import assert from 'node:assert/strict';

/** Asserts a refusal: status, reason code, problem+json, challenge, and no token echo. */
export async function assertRefused(res, { status, reason, error, token }) {
  const text = await res.text();
  assert.equal(res.status, status, text);
  assert.equal(res.headers.get('content-type'), 'application/problem+json');
  const body = JSON.parse(text);
  assert.equal(body.reason, reason, text);
  assert.equal(body.status, status);
  assert.equal(body.type, `urn:entra-edge:problem:${reason}`);
  const challenge = res.headers.get('www-authenticate');
  if (error === null) {
    assert.match(challenge ?? '', /^Bearer realm="[^"]*"(, resource_metadata="[^"]*")?$/);
  } else if (error) {
    assert.match(challenge ?? '', new RegExp(`^Bearer realm="[^"]*", error="${error}", error_description="[^"]*"(, scope="[^"]*")?(, resource_metadata="[^"]*")?$`));
  }
  if (token) {
    const everything = text + JSON.stringify([...res.headers]);
    for (const part of token.split('.').filter((p) => p.length > 8)) {
      assert.ok(!everything.includes(part), 'the answer echoes part of the token');
    }
  }
  return body;
}

/** A raw HTTP/1.1 request (fetch refuses hop-by-hop headers such as Connection). */
export async function rawRequest(url, { method = 'GET', headers = {}, body } = {}) {
  const http = await import('node:http');
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}
