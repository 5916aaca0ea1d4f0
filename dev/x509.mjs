// Minimal DER encoder for the self-signed certificates the local authority publishes in
// `x5c`, as Entra does. Only what an X.509 v3 certificate with an RSA key needs.
import crypto from 'node:crypto';

function der(tag, content) {
  const len = content.length;
  let header;
  if (len < 0x80) header = Buffer.from([tag, len]);
  else if (len < 0x100) header = Buffer.from([tag, 0x81, len]);
  else if (len < 0x10000) header = Buffer.from([tag, 0x82, len >> 8, len & 0xff]);
  else throw new Error('DER content too long');
  return Buffer.concat([header, content]);
}

const seq = (...items) => der(0x30, Buffer.concat(items));
const set = (...items) => der(0x31, Buffer.concat(items));
const nul = () => Buffer.from([0x05, 0x00]);
const utf8 = (s) => der(0x0c, Buffer.from(s, 'utf8'));
const explicit = (n, content) => der(0xa0 + n, content);
const bitString = (bytes) => der(0x03, Buffer.concat([Buffer.from([0]), bytes]));

function integer(bytes) {
  let b = Buffer.from(bytes);
  while (b.length > 1 && b[0] === 0 && (b[1] & 0x80) === 0) b = b.subarray(1);
  if (b[0] & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
  return der(0x02, b);
}

function oid(dotted) {
  const parts = dotted.split('.').map(Number);
  const bytes = [parts[0] * 40 + parts[1]];
  for (const part of parts.slice(2)) {
    const chunk = [];
    let v = part;
    do { chunk.unshift(v & 0x7f); v = Math.floor(v / 128); } while (v > 0);
    for (let i = 0; i < chunk.length - 1; i++) chunk[i] |= 0x80;
    bytes.push(...chunk);
  }
  return der(0x06, Buffer.from(bytes));
}

function utcTime(date) {
  const iso = date.toISOString(); // 2026-11-29T10:41:44.000Z
  const s = iso.slice(2, 4) + iso.slice(5, 7) + iso.slice(8, 10) + iso.slice(11, 13) + iso.slice(14, 16) + iso.slice(17, 19) + 'Z';
  return der(0x17, Buffer.from(s, 'ascii'));
}

const SHA256_WITH_RSA = '1.2.840.113549.1.1.11';
const COMMON_NAME = '2.5.4.3';

/** A DER self-signed certificate for an RSA key pair, valid for `days` from now. */
export function selfSignedCertificate({ publicKey, privateKey, commonName, days = 365 }) {
  const name = seq(set(seq(oid(COMMON_NAME), utf8(commonName))));
  const algorithm = seq(oid(SHA256_WITH_RSA), nul());
  const now = new Date();
  const tbs = seq(
    explicit(0, integer(Buffer.from([2]))),
    integer(crypto.randomBytes(16)),
    algorithm,
    name,
    seq(utcTime(new Date(now.getTime() - 86400e3)), utcTime(new Date(now.getTime() + days * 86400e3))),
    name,
    publicKey.export({ type: 'spki', format: 'der' }),
  );
  const signature = crypto.sign('sha256', tbs, privateKey);
  return seq(tbs, algorithm, bitString(signature));
}
