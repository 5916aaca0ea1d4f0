// A local Microsoft Entra ID authority that speaks the real protocol: v1 and v2 OpenID
// discovery documents, JWKS in Entra's shape (kid, x5t, kty, use, n, e, x5c, issuer),
// key rotation, and access-token minting. The gateway talks to it exactly as it talks to
// https://login.microsoftonline.com; only the authority host differs.
//
// Test-only control endpoints (never part of Entra): GET /_mint (parameters: see mintOptions),
// POST /_rotate, GET /_stats,
// POST /_failure?mode=none|500|hang|garbage|slow-body|truncated|wrong-type|redirect|huge|endless[&on=all|metadata|jwks][&to=URL].
//
// Test hooks on a LocalAuthority (plain properties, read on every request; set them before
// the request they should affect):
//   failure          'none' (default) | '500' | 'hang' | 'garbage' — discovery and JWKS fail;
//                    'slow-body' — headers and half the document at once, the rest never;
//                    'truncated' — headers and half the document, then a connection reset;
//                    'wrong-type' — the real document served as text/html;
//                    'redirect' — they answer 302 to `redirectTo` + the same path and query;
//                    'huge' — 200 with `content-length: 20 MiB`, streamed: whitespace, then the
//                    real document (valid JSON: only its size is wrong);
//                    'endless' — 200 chunked (no content-length), 64 KiB whitespace chunks up
//                    to 200 MiB, then the real document. Both streams respect backpressure and
//                    stop as soon as the client hangs up (see counts.bytesSent, streaming).
//   failureOn        which documents `failure` applies to: 'all' | 'metadata' | 'jwks'; null
//                    (default) = 'jwks' for 'huge'/'endless', 'all' for every other mode.
//   redirectTo       base URL ('http://127.0.0.1:PORT') the 'redirect' mode points at.
//   jwksUri          null, a string, or (tenant, version, appid) => string: replaces `jwks_uri`
//                    in the metadata verbatim (a rogue host, a lookalike URL, …).
//   appKeys          Map appid → signing key (createSigningKey()). A metadata or JWKS request
//                    with `?appid=X` gets `jwks_uri` carrying `?appid=X`, and the JWKS then also
//                    holds appKeys.get(X), if any (Entra's app-specific signing keys).
//   cloudInstanceName  `cloud_instance_name` of the v1 and v2 metadata; default
//                    'microsoftonline.com', null leaves it out.
//   keyCloud         Map kid → cloud instance name, put on that JWKS key as `cloud_instance_name`.
//   counts           { total (every request but the control endpoints, 404s included),
//                    metadata, jwks, mint, appid (discovery requests carrying ?appid=),
//                    redirects, bytesSent (body bytes handed to the socket by 'huge'/'endless') }.
//   streaming        how many 'huge'/'endless' bodies are being written right now.
//   requests         every discovery/JWKS request: { kind: 'metadata'|'jwks', version, tenant,
//                    appid, url } (the last 10,000).
// Helpers: mint({...}) (access tokens), mintIdToken({...}) (ID tokens: nonce, no scp, no
// azp/appid, no idtyp), rotate({ retire }), resetCounts().
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { selfSignedCertificate } from './x509.mjs';
import { signRs256 } from './jwt.mjs';

export const V1_ISSUER = (tid) => `https://sts.windows.net/${tid}/`;
export const V2_ISSUER = (tid) => `https://login.microsoftonline.com/${tid}/v2.0`;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MULTI_TENANT = new Set(['common', 'organizations']);
const MiB = 1024 * 1024;
const HUGE_BYTES = 20 * MiB;
const ENDLESS_BYTES = 200 * MiB;
const STREAM_CHUNK = 64 * 1024;
const REQUEST_LOG_LIMIT = 10_000;
const emptyCounts = () => ({ total: 0, metadata: 0, jwks: 0, mint: 0, appid: 0, redirects: 0, bytesSent: 0 });
/** Looks a key up in a Map or a plain object (hooks may be given either). */
const lookup = (table, key) => (table instanceof Map ? table.get(key) : table?.[key]);

/** An RSA-2048 signing key with a self-signed certificate, as Entra publishes them. */
export function createSigningKey() {
  const { publicKey, privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const cert = selfSignedCertificate({ publicKey, privateKey, commonName: 'accounts.accesscontrol.windows.net' });
  return signingKeyFrom(privateKey, cert);
}

function signingKeyFrom(privateKey, cert) {
  const publicKey = crypto.createPublicKey(privateKey);
  const x5t = crypto.createHash('sha1').update(cert).digest('base64url');
  const { n, e } = publicKey.export({ format: 'jwk' });
  return { kid: x5t, x5t, n, e, x5c: cert.toString('base64'), publicKey, privateKey };
}

/**
 * The signing key kept in `file` (PKCS#8 PEM + certificate, JSON, mode 0600), created on
 * first use: `make dev` and `make token` share it, so tokens and the gateway's KV state
 * survive a restart.
 */
export function persistentSigningKey(file) {
  if (fs.existsSync(file)) {
    const saved = JSON.parse(fs.readFileSync(file, 'utf8'));
    return signingKeyFrom(crypto.createPrivateKey(saved.private_key_pem), Buffer.from(saved.x5c, 'base64'));
  }
  const key = createSigningKey();
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const saved = { kid: key.kid, private_key_pem: key.privateKey.export({ type: 'pkcs8', format: 'pem' }), x5c: key.x5c };
  // Written aside and renamed, so two processes starting together never read half a file.
  const temporary = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temporary, JSON.stringify(saved, null, 2), { mode: 0o600 });
  fs.renameSync(temporary, file);
  return persistentSigningKey(file);
}

/**
 * Mint options from string parameters (the `/_mint` query, `make token`, `npm run token`):
 * tenant, aud, ver, scp, roles (comma or space separated), app (1|true), client (the calling
 * app: azp in v2, appid in v1), oid, acrs, xms_cc (lists), idtyp, lifetime (seconds), and
 * claims (a JSON object of any further claims; `null` removes a claim).
 */
export function mintOptions(get) {
  const list = (key) => (get(key) ?? '').split(/[ ,]+/).filter(Boolean);
  const claims = {};
  const omit = [];
  if (get('acrs')) claims.acrs = list('acrs');
  if (get('xms_cc')) claims.xms_cc = list('xms_cc');
  if (get('idtyp')) claims.idtyp = get('idtyp');
  if (get('claims')) {
    const extra = JSON.parse(get('claims'));
    if (!extra || typeof extra !== 'object' || Array.isArray(extra)) throw new Error('claims must be a JSON object');
    for (const [name, value] of Object.entries(extra)) {
      if (value === null) omit.push(name);
      else claims[name] = value;
    }
  }
  const lifetime = Number(get('lifetime') ?? 3600);
  if (!Number.isFinite(lifetime)) throw new Error('lifetime must be a number of seconds');
  const options = {
    tenant: get('tenant'),
    audience: get('aud'),
    version: get('ver') ?? '2.0',
    scopes: list('scp'),
    roles: list('roles'),
    appOnly: get('app') === '1' || get('app') === 'true',
    lifetime,
    claims,
    omit,
  };
  if (get('client')) options.clientId = get('client');
  if (get('oid')) options.objectId = get('oid');
  if (!['1.0', '2.0'].includes(options.version)) throw new Error('ver must be 1.0 or 2.0');
  return options;
}

export class LocalAuthority {
  /** `keyFile`: keep the signing key in this file across restarts (see persistentSigningKey). */
  constructor({ keyFile } = {}) {
    this.signingKey = keyFile ? persistentSigningKey(keyFile) : createSigningKey();
    this.published = [this.signingKey];
    this.failure = 'none';
    this.failureOn = null;
    this.redirectTo = null;
    this.jwksUri = null;
    this.appKeys = new Map();
    this.cloudInstanceName = 'microsoftonline.com';
    this.keyCloud = new Map();
    this.counts = emptyCounts();
    this.streaming = 0;
    this.requests = [];
    this.server = null;
    this.url = null;
  }

  async listen(port = 0, host = '127.0.0.1') {
    this.server = http.createServer((req, res) => this.#handle(req, res));
    await new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, resolve);
    });
    this.url = `http://${host}:${this.server.address().port}`;
    return this;
  }

  async close() {
    if (!this.server) return;
    this.server.closeAllConnections?.();
    await new Promise((resolve) => this.server.close(resolve));
  }

  /** Zeroes `counts` and forgets `requests`. */
  resetCounts() {
    this.counts = emptyCounts();
    this.requests = [];
  }

  /** Publishes a new key and signs with it from now on; `retire` unpublishes the others. */
  rotate({ retire = false } = {}) {
    const next = createSigningKey();
    this.published = retire ? [next] : [next, ...this.published];
    this.signingKey = next;
    return next;
  }

  /** Mints an access token. Every claim Entra sets can be overridden through `claims`. */
  mint({
    tenant,
    version = '2.0',
    audience,
    scopes = [],
    roles = [],
    appOnly = false,
    lifetime = 3600,
    notBefore,
    clientId = '0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d',
    objectId = crypto.randomUUID(),
    claims = {},
    header = {},
    key = this.signingKey,
    omit = [],
  }) {
    if (!tenant || !audience) throw new Error('mint needs tenant and audience');
    this.counts.mint++;
    const now = Math.floor(Date.now() / 1000);
    const base = {
      aud: audience,
      iss: version === '1.0' ? V1_ISSUER(tenant) : V2_ISSUER(tenant),
      iat: now,
      nbf: notBefore ?? now,
      exp: now + lifetime,
      tid: tenant,
      oid: objectId,
      sub: crypto.randomBytes(32).toString('base64url').slice(0, 43),
      uti: crypto.randomBytes(16).toString('base64url'),
      ver: version,
    };
    if (version === '1.0') {
      Object.assign(base, { appid: clientId, appidacr: appOnly ? '1' : '0' });
    } else {
      Object.assign(base, { azp: clientId, azpacr: appOnly ? '1' : '0' });
    }
    if (appOnly) {
      base.idtyp = 'app';
      base.sub = objectId;
    } else {
      Object.assign(base, version === '1.0' ? { upn: 'adele@contoso.example', name: 'Adele Vance' } : { preferred_username: 'adele@contoso.example', name: 'Adele Vance' });
      if (scopes.length) base.scp = scopes.join(' ');
    }
    if (roles.length) base.roles = roles;
    const body = { ...base, ...claims };
    for (const name of omit) delete body[name];
    const head = { typ: 'JWT', alg: 'RS256', kid: key.kid, ...(version === '1.0' ? { x5t: key.x5t } : {}), ...header };
    return signRs256(head, body, key.privateKey);
  }

  /**
   * Mints an ID token (what a client gets at sign-in, not an access token): `aud` is the
   * client id of the app that signed the user in, a `nonce` (pass `nonce: null` to leave it
   * out), `oid` ≠ `sub`, no `scp`, no `azp`/`appid`, no `idtyp`. `roles` are the user's
   * assigned app roles. Other options as for mint().
   */
  mintIdToken({ tenant, audience, version = '2.0', nonce, roles = [], claims = {}, omit = [], ...rest }) {
    const idClaims = {
      nonce: nonce === null ? undefined : (nonce ?? crypto.randomBytes(16).toString('base64url')),
      aio: crypto.randomBytes(24).toString('base64url'),
      ...(version === '1.0' ? { unique_name: 'adele@contoso.example' } : {}),
      ...claims,
    };
    const notInIdTokens = ['scp', 'idtyp', ...(version === '1.0' ? ['appid', 'appidacr'] : ['azp', 'azpacr'])];
    return this.mint({ ...rest, tenant, audience, version, roles, scopes: [], appOnly: false, claims: idClaims, omit: [...notInIdTokens, ...omit] });
  }

  /** The JWKS: the published keys, plus the app's own key when `appid` names one in appKeys. */
  jwks(issuer, appid = null) {
    const appKey = appid ? lookup(this.appKeys, appid) : undefined;
    const keys = appKey ? [...this.published, appKey] : this.published;
    return {
      keys: keys.map((k) => {
        const cloud = lookup(this.keyCloud, k.kid);
        return {
          kty: 'RSA', use: 'sig', kid: k.kid, x5t: k.x5t, n: k.n, e: k.e, x5c: [k.x5c],
          ...(issuer ? { issuer } : {}),
          ...(cloud ? { cloud_instance_name: cloud } : {}),
        };
      }),
    };
  }

  metadata(tenant, version, appid = null) {
    const v2 = version === '2.0';
    const issuerTenant = MULTI_TENANT.has(tenant) ? '{tenantid}' : tenant;
    const issuer = v2 ? V2_ISSUER(issuerTenant) : V1_ISSUER(issuerTenant);
    const prefix = `${this.url}/${tenant}${v2 ? '/oauth2/v2.0' : '/oauth2'}`;
    const appQuery = appid ? `?appid=${encodeURIComponent(appid)}` : '';
    let jwksUri = (v2 ? `${this.url}/${tenant}/discovery/v2.0/keys` : `${this.url}/common/discovery/keys`) + appQuery;
    if (typeof this.jwksUri === 'function') jwksUri = this.jwksUri(tenant, version, appid);
    else if (typeof this.jwksUri === 'string') jwksUri = this.jwksUri;
    return {
      token_endpoint: `${prefix}/token`,
      authorization_endpoint: `${prefix}/authorize`,
      jwks_uri: jwksUri,
      issuer,
      response_types_supported: ['code', 'id_token', 'code id_token', 'token id_token', 'token'],
      subject_types_supported: ['pairwise'],
      id_token_signing_alg_values_supported: ['RS256'],
      tenant_region_scope: 'EU',
      ...(this.cloudInstanceName ? { cloud_instance_name: this.cloudInstanceName } : {}),
    };
  }

  #send(res, status, body, type = 'application/json') {
    res.writeHead(status, { 'content-type': type, 'cache-control': 'max-age=86400, private' });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  }

  #handle(req, res) {
    const url = new URL(req.url, this.url);
    const parts = url.pathname.split('/').filter(Boolean);

    // Test-only control endpoints: never affected by the failure mode.
    if (parts[0]?.startsWith('_')) return this.#control(req, res, parts[0], url);
    this.counts.total++;

    const [tenant, ...rest] = parts;
    const route = rest.join('/');
    const kind =
      route === 'v2.0/.well-known/openid-configuration' ? 'metadata-v2'
        : route === '.well-known/openid-configuration' ? 'metadata-v1'
          : route === 'discovery/v2.0/keys' ? 'jwks-v2'
            : route === 'discovery/keys' ? 'jwks-v1'
              : null;
    if (!kind) return this.#send(res, 404, { error: 'not_found' });
    const documentKind = kind.startsWith('metadata') ? 'metadata' : 'jwks';
    const appid = url.searchParams.get('appid');
    this.counts[documentKind]++;
    if (appid !== null) this.counts.appid++;
    if (this.requests.length >= REQUEST_LOG_LIMIT) this.requests.shift();
    this.requests.push({ kind: documentKind, version: kind.endsWith('v2') ? '2.0' : '1.0', tenant, appid, url: req.url });

    const failureOn = this.failureOn ?? (this.failure === 'huge' || this.failure === 'endless' ? 'jwks' : 'all');
    const failure = failureOn === 'all' || failureOn === documentKind ? this.failure : 'none';
    if (failure === 'hang') return; // never answer (the socket stays open)
    if (failure === '500') return this.#send(res, 500, { error: 'server_error' });
    if (failure === 'garbage') return this.#send(res, 200, '<html>maintenance</html>', 'text/html');
    if (failure === 'redirect') {
      if (!this.redirectTo) return this.#send(res, 500, { error: 'server_error', error_description: 'failure "redirect" needs redirectTo' });
      this.counts.redirects++;
      res.writeHead(302, { location: new URL(req.url, this.redirectTo).href, 'cache-control': 'no-store', 'content-length': '0' });
      return res.end();
    }

    if (!GUID.test(tenant) && !MULTI_TENANT.has(tenant)) {
      return this.#send(res, 400, { error: 'invalid_tenant', error_description: `AADSTS90002: Tenant '${tenant}' not found.` });
    }
    let document;
    switch (kind) {
      case 'metadata-v2': document = this.metadata(tenant, '2.0', appid); break;
      case 'metadata-v1': document = this.metadata(tenant, '1.0', appid); break;
      case 'jwks-v2': document = this.jwks(V2_ISSUER(MULTI_TENANT.has(tenant) ? '{tenantid}' : tenant), appid); break;
      case 'jwks-v1': document = this.jwks(null, appid); break;
    }
    if (failure === 'huge') return this.#stream(res, HUGE_BYTES, JSON.stringify(document), { declareLength: true });
    if (failure === 'wrong-type') return this.#send(res, 200, document, 'text/html');
    if (failure === 'truncated') {
      // Headers declaring the whole document, half of it, then the connection is reset.
      const text = JSON.stringify(document);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) });
      res.write(text.slice(0, text.length >> 1), () => req.socket.resetAndDestroy());
      return;
    }
    if (failure === 'slow-body') {
      // Headers and the first half now; the rest never (the socket stays open).
      const text = JSON.stringify(document);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) });
      res.write(text.slice(0, text.length >> 1));
      return;
    }
    if (failure === 'endless') return this.#stream(res, ENDLESS_BYTES, JSON.stringify(document), { declareLength: false });
    return this.#send(res, 200, document);
  }

  /**
   * Writes a `total`-byte body: whitespace, then `tail` (so it is valid JSON, only too big).
   * Waits for 'drain' whenever the socket is full, and stops as soon as the client hangs up,
   * so a client that stops reading costs this process nothing. Every byte handed to the
   * socket is added to counts.bytesSent.
   */
  async #stream(res, total, tail, { declareLength }) {
    const tailBytes = Buffer.from(tail);
    const headers = { 'content-type': 'application/json', 'cache-control': 'max-age=86400, private' };
    if (declareLength) headers['content-length'] = String(total);
    let closed = false;
    res.once('close', () => { closed = true; });
    res.on('error', () => { closed = true; });
    this.streaming++;
    try {
      res.writeHead(200, headers); // without a content-length, HTTP/1.1 uses chunked encoding
      const chunk = Buffer.alloc(STREAM_CHUNK, 0x20);
      let remaining = total - tailBytes.length;
      while (remaining > 0) {
        if (closed || res.destroyed) return;
        const piece = remaining >= chunk.length ? chunk : chunk.subarray(0, remaining);
        remaining -= piece.length;
        this.counts.bytesSent += piece.length;
        if (!res.write(piece)) {
          await new Promise((resolve) => {
            const done = () => {
              res.off('drain', done);
              res.off('close', done);
              resolve();
            };
            res.on('drain', done);
            res.on('close', done);
          });
        }
      }
      if (closed || res.destroyed) return;
      this.counts.bytesSent += tailBytes.length;
      res.end(tailBytes);
    } finally {
      this.streaming--;
    }
  }

  #control(req, res, name, url) {
    const q = url.searchParams;
    try {
      switch (name) {
        case '_mint': {
          const options = mintOptions((key) => q.get(key) ?? undefined);
          // id_token=1: an ID token (nonce, no scp, no azp/appid), to see it refused.
          const token = q.get('id_token') === '1' ? this.mintIdToken(options) : this.mint(options);
          return this.#send(res, 200, token, 'text/plain');
        }
        case '_rotate':
          this.rotate({ retire: q.get('retire') === '1' });
          return this.#send(res, 200, { kid: this.signingKey.kid, published: this.published.map((k) => k.kid) });
        case '_failure':
          this.failure = q.get('mode') ?? 'none';
          this.failureOn = q.get('on');
          if (q.has('to')) this.redirectTo = q.get('to');
          return this.#send(res, 200, { failure: this.failure, on: this.failureOn, redirect_to: this.redirectTo });
        case '_stats':
          return this.#send(res, 200, {
            counts: this.counts,
            streaming: this.streaming,
            signing_kid: this.signingKey.kid,
            published: this.published.map((k) => k.kid),
          });
        default:
          return this.#send(res, 404, { error: 'not_found' });
      }
    } catch (err) {
      return this.#send(res, 400, { error: 'bad_request', error_description: String(err.message) });
    }
  }
}

/** Starts a local authority on 127.0.0.1 (port 0 = any free port). */
export async function startAuthority(port = 0, options = {}) {
  return new LocalAuthority(options).listen(port);
}
