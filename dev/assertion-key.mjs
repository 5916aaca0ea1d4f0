// The signed identity assertion's keys (README "Signed identity assertion").
//
//   node dev/assertion-key.mjs [--out FILE]            (make assertion-key [OUT=FILE])
//     Generates an ES256 (ECDSA P-256) key pair: writes the private JWK to FILE (mode 0600,
//     never overwritten; default assertion-signing-key-<kid>.json), and prints the
//     `npx wrangler secret put ASSERTION_SIGNING_KEY` line, the public JWKS and the public
//     key as a TOML line for `additional_public_keys` (rotations).
//
//   node dev/assertion-key.mjs --jwks FILE [FILE…]     (make assertion-jwks KEY=FILE [MORE=FILE…])
//     Prints the JWKS the gateway publishes for these keys (the first is the one the secret
//     holds; private or public JWK files), for origins that cannot fetch it from the gateway.
//
// Node's own crypto only; the kid is the RFC 7638 thumbprint, as the gateway computes it.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const P256 = 'P-256';

/** RFC 7638 thumbprint of an EC public JWK. */
export function thumbprint({ x, y }) {
  return crypto.createHash('sha256').update(`{"crv":"P-256","kty":"EC","x":"${x}","y":"${y}"}`).digest('base64url');
}

/** A new key pair: { privateJwk, publicJwk } with kid = thumbprint. */
export function generateAssertionKey() {
  const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const jwk = privateKey.export({ format: 'jwk' });
  const kid = thumbprint(jwk);
  const privateJwk = { kty: 'EC', crv: P256, x: jwk.x, y: jwk.y, d: jwk.d, kid, alg: 'ES256', use: 'sig' };
  return { privateJwk, publicJwk: publicPart(privateJwk) };
}

/** The public JWK as the gateway publishes it. */
export function publicPart(jwk) {
  if (jwk.kty !== 'EC' || jwk.crv !== P256 || !jwk.x || !jwk.y) throw new Error('not an EC P-256 JWK');
  return { kty: 'EC', crv: P256, x: jwk.x, y: jwk.y, kid: jwk.kid ?? thumbprint(jwk), alg: 'ES256', use: 'sig' };
}

/** The JWKS for these keys, the first (current) one first, each once. */
export function jwksOf(jwks) {
  const keys = [];
  for (const jwk of jwks.map(publicPart)) if (!keys.some((k) => k.kid === jwk.kid)) keys.push(jwk);
  return { keys };
}

/** A public JWK as a TOML inline table. */
export function tomlOf(jwk) {
  const { kty, crv, x, y, kid } = publicPart(jwk);
  return `{ kty = "${kty}", crv = "${crv}", x = "${x}", y = "${y}", kid = "${kid}" }`;
}

function usage(message) {
  if (message) console.error(`assertion-key: ${message}`);
  console.error('usage: node dev/assertion-key.mjs [--out FILE] | --jwks KEYFILE [MOREFILE…]');
  process.exit(2);
}

function readJwk(file) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    usage(`${file}: ${err.code === 'ENOENT' ? 'no such file' : 'not a JSON Web Key'}`);
  }
}

function main(args) {
  if (args[0] === '--jwks') {
    const files = args.slice(1).filter(Boolean);
    if (files.length === 0) usage('--jwks needs the key file (and optionally more)');
    console.log(JSON.stringify(jwksOf(files.map(readJwk)), null, 2));
    return;
  }
  let out;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--out' && args[i + 1]) out = args[++i];
    else if (args[i] === '--help' || args[i] === '-h') usage();
    else if (args[i] !== '') usage(`unknown argument ${args[i]}`);
  }
  const { privateJwk, publicJwk } = generateAssertionKey();
  out ??= `assertion-signing-key-${publicJwk.kid.slice(0, 8)}.json`;
  try {
    fs.mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
    fs.writeFileSync(out, JSON.stringify(privateJwk) + '\n', { mode: 0o600, flag: 'wx' });
  } catch (err) {
    usage(err.code === 'EEXIST' ? `${out} exists; choose another --out (OUT=) or remove it` : `${out}: ${err.message}`);
  }
  console.log(`New ES256 key, kid ${publicJwk.kid}.

The private key is in ${out} (mode 0600). Keep it out of git; delete it once it is stored.
Store it as the gateway's secret (add --env NAME for an [env.NAME]):

  npx wrangler secret put ASSERTION_SIGNING_KEY < ${out}

and locally, for wrangler dev (make dev generates its own key in .dev/ otherwise):

  printf "ASSERTION_SIGNING_KEY='%s'\\n" "$(cat ${out})" >> .dev.vars

The gateway publishes the public key at /.well-known/entra-edge-assertion-keys. For origins
that cannot reach the gateway, this is the JWKS (make assertion-jwks KEY=${out} prints it again):

${JSON.stringify(jwksOf([publicJwk]), null, 2)}

For a rotation (README "Rotating the signing key"), this key's public part as a TOML line for
ENTRA_EDGE.assertion.additional_public_keys:

  ${tomlOf(publicJwk)}
`);
}

if (import.meta.url === `file://${process.argv[1]}`) main(process.argv.slice(2));
