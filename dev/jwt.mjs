// Compact JWS helpers shared by the local authority and the tests.
import crypto from 'node:crypto';

export const b64url = (input) => Buffer.from(input).toString('base64url');
export const encodeJson = (value) => b64url(JSON.stringify(value));

/** Signs header+claims with RS256 under an RSA private key. */
export function signRs256(header, claims, privateKey) {
  const input = `${encodeJson(header)}.${encodeJson(claims)}`;
  const signature = crypto.sign('sha256', Buffer.from(input), privateKey);
  return `${input}.${b64url(signature)}`;
}

/** Signs with HMAC-SHA256 (for the "HS256 with the public key as secret" attack). */
export function signHs256(header, claims, secret) {
  const input = `${encodeJson(header)}.${encodeJson(claims)}`;
  const mac = crypto.createHmac('sha256', secret).update(input).digest();
  return `${input}.${b64url(mac)}`;
}

/** Splits a token into its decoded header and claims (no verification). */
export function decode(token) {
  const [h, c] = token.split('.');
  return { header: JSON.parse(Buffer.from(h, 'base64url')), claims: JSON.parse(Buffer.from(c, 'base64url')) };
}
