// Fetching the authority's metadata and key documents, bounded in every way that the
// Rust side decides (src/edge/keys.rs): no redirects, a total time limit, a byte limit
// checked on Content-Length before reading and enforced while streaming, so an endless or
// lying body is cut off at the limit instead of filling the isolate's memory.

/**
 * GET `url`. Resolves to the body text, or rejects with an Error whose message says why
 * (HTTP status, redirect, size, timeout, network).
 */
export async function fetchDocument(url, timeoutMs, maxBytes) {
  const signal = AbortSignal.timeout(timeoutMs);
  let response;
  try {
    response = await fetch(url, { method: 'GET', redirect: 'manual', signal, headers: { accept: 'application/json' } });
  } catch (err) {
    throw new Error(signal.aborted ? `no answer within ${timeoutMs} ms` : `unreachable (${err?.message ?? err})`);
  }
  const cancel = () => response.body?.cancel().catch(() => {});
  if (response.status >= 300 && response.status < 400) {
    cancel();
    throw new Error(`HTTP ${response.status} redirect refused (keys come only from where the configuration says)`);
  }
  if (response.status !== 200) {
    cancel();
    throw new Error(`HTTP ${response.status}`);
  }
  const declared = Number(response.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) {
    cancel();
    throw new Error(`document of ${declared} bytes is larger than the ${maxBytes}-byte limit`);
  }
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) {
        reader.cancel().catch(() => {});
        throw new Error(`document is larger than the ${maxBytes}-byte limit`);
      }
      chunks.push(value);
    }
  } catch (err) {
    if (signal.aborted) throw new Error(`no complete answer within ${timeoutMs} ms`);
    throw err;
  }
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  return new TextDecoder().decode(bytes);
}

// RS256 with the runtime's WebCrypto, one crossing per call (src/edge/webcrypto.rs).
const RSASSA = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };

/** Imports an RSA public key from its JWK `n` and `e` (base64url) for verifying RS256. */
export function importRs256(n, e) {
  return crypto.subtle.importKey('jwk', { kty: 'RSA', n, e, alg: 'RS256', ext: true }, RSASSA, false, ['verify']);
}

/**
 * Verifies an RS256 signature. `signature` and `message` may be views into WASM memory:
 * `verify` copies its inputs before it returns the promise (WebCrypto §14.3.4).
 */
export function verifyRs256(key, signature, message) {
  return crypto.subtle.verify(RSASSA, key, signature, message);
}

/**
 * `verifyRs256`, then `resume(id, valid, at)` (Rust: src/edge/resume.rs) with the verdict
 * and `Date.now()`: a token verified without a Rust future waiting for it. A rejected
 * verification is a signature that does not verify. Resolves to what `resume` returns
 * (the client's Response, or a promise of it).
 */
export function verifyThen(key, signature, message, resume, id) {
  return crypto.subtle.verify(RSASSA, key, signature, message).then(
    (valid) => resume(id, valid === true, Date.now()),
    () => resume(id, false, Date.now()),
  );
}

// ES256 signing of the identity assertion (src/edge/assertion.rs), one crossing per call.
const P256 = { name: 'ECDSA', namedCurve: 'P-256' };
const ES256 = { name: 'ECDSA', hash: 'SHA-256' };
const UTF8 = new TextEncoder();

/**
 * Imports the private P-256 key (JWK members `d`, `x`, `y`, base64url) for signing, and
 * proves that `x`/`y` are its public part: a probe signed with it must verify under them
 * (otherwise every origin would refuse every assertion). Rejects with an Error saying why.
 */
export async function importEs256SigningKey(d, x, y) {
  const jwk = { kty: 'EC', crv: 'P-256', x, y };
  let privateKey;
  let publicKey;
  try {
    privateKey = await crypto.subtle.importKey('jwk', { ...jwk, d }, P256, false, ['sign']);
    publicKey = await crypto.subtle.importKey('jwk', jwk, P256, false, ['verify']);
  } catch (err) {
    throw new Error(`WebCrypto refused the key (${err?.message ?? err}): it must be a P-256 private key whose x and y are its own public part`);
  }
  const probe = UTF8.encode('entra-edge assertion key check');
  const signature = await crypto.subtle.sign(ES256, privateKey, probe);
  if (!(await crypto.subtle.verify(ES256, publicKey, signature, probe))) {
    throw new Error('its public part (x, y) does not belong to its private key (d)');
  }
  return privateKey;
}

/**
 * The compact JWS: `signingInput` + "." + base64url(signature). WebCrypto's ECDSA
 * signature is the raw 64-byte `r || s`, which is exactly JWS's ES256 form (RFC 7518 §3.4).
 */
export async function signEs256(key, signingInput) {
  const signature = new Uint8Array(await crypto.subtle.sign(ES256, key, UTF8.encode(signingInput)));
  let binary = '';
  for (let i = 0; i < signature.length; i++) binary += String.fromCharCode(signature[i]);
  return `${signingInput}.${btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')}`;
}
