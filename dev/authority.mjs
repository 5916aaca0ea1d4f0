// A local Microsoft Entra ID authority that speaks the real protocol: v1 and v2 OpenID
// discovery documents, JWKS in Entra's shape (kid, x5t, kty, use, n, e, x5c, issuer),
// key rotation, and access-token minting. The gateway talks to it exactly as it talks to
// https://login.microsoftonline.com; only the authority host differs.
//
// Test-only control endpoints (never part of Entra): GET /_mint, POST /_rotate, GET /_stats,
// POST /_failure?mode=none|500|hang|garbage.
import crypto from 'node:crypto';
import http from 'node:http';
import { selfSignedCertificate } from './x509.mjs';
import { signRs256 } from './jwt.mjs';

export const V1_ISSUER = (tid) => `https://sts.windows.net/${tid}/`;
export const V2_ISSUER = (tid) => `https://login.microsoftonline.com/${tid}/v2.0`;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MULTI_TENANT = new Set(['common', 'organizations']);

/** An RSA-2048 signing key with a self-signed certificate, as Entra publishes them. */
export function createSigningKey() {
  const { publicKey, privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const cert = selfSignedCertificate({ publicKey, privateKey, commonName: 'accounts.accesscontrol.windows.net' });
  const x5t = crypto.createHash('sha1').update(cert).digest('base64url');
  const { n, e } = publicKey.export({ format: 'jwk' });
  return { kid: x5t, x5t, n, e, x5c: cert.toString('base64'), publicKey, privateKey };
}

export class LocalAuthority {
  constructor() {
    this.signingKey = createSigningKey();
    this.published = [this.signingKey];
    this.failure = 'none';
    this.counts = { metadata: 0, jwks: 0, mint: 0 };
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

  jwks(issuer) {
    return {
      keys: this.published.map((k) => ({
        kty: 'RSA', use: 'sig', kid: k.kid, x5t: k.x5t, n: k.n, e: k.e, x5c: [k.x5c],
        ...(issuer ? { issuer } : {}),
      })),
    };
  }

  metadata(tenant, version) {
    const v2 = version === '2.0';
    const issuerTenant = MULTI_TENANT.has(tenant) ? '{tenantid}' : tenant;
    const issuer = v2 ? V2_ISSUER(issuerTenant) : V1_ISSUER(issuerTenant);
    const prefix = `${this.url}/${tenant}${v2 ? '/oauth2/v2.0' : '/oauth2'}`;
    return {
      token_endpoint: `${prefix}/token`,
      authorization_endpoint: `${prefix}/authorize`,
      jwks_uri: v2 ? `${this.url}/${tenant}/discovery/v2.0/keys` : `${this.url}/common/discovery/keys`,
      issuer,
      response_types_supported: ['code', 'id_token', 'code id_token', 'token id_token', 'token'],
      subject_types_supported: ['pairwise'],
      id_token_signing_alg_values_supported: ['RS256'],
      tenant_region_scope: 'EU',
      cloud_instance_name: 'microsoftonline.com',
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

    const [tenant, ...rest] = parts;
    const route = rest.join('/');
    const kind =
      route === 'v2.0/.well-known/openid-configuration' ? 'metadata-v2'
        : route === '.well-known/openid-configuration' ? 'metadata-v1'
          : route === 'discovery/v2.0/keys' ? 'jwks-v2'
            : route === 'discovery/keys' ? 'jwks-v1'
              : null;
    if (!kind) return this.#send(res, 404, { error: 'not_found' });
    this.counts[kind.startsWith('metadata') ? 'metadata' : 'jwks']++;

    if (this.failure === 'hang') return; // never answer (the socket stays open)
    if (this.failure === '500') return this.#send(res, 500, { error: 'server_error' });
    if (this.failure === 'garbage') return this.#send(res, 200, '<html>maintenance</html>', 'text/html');

    if (!GUID.test(tenant) && !MULTI_TENANT.has(tenant)) {
      return this.#send(res, 400, { error: 'invalid_tenant', error_description: `AADSTS90002: Tenant '${tenant}' not found.` });
    }
    switch (kind) {
      case 'metadata-v2': return this.#send(res, 200, this.metadata(tenant, '2.0'));
      case 'metadata-v1': return this.#send(res, 200, this.metadata(tenant, '1.0'));
      case 'jwks-v2': return this.#send(res, 200, this.jwks(V2_ISSUER(MULTI_TENANT.has(tenant) ? '{tenantid}' : tenant)));
      case 'jwks-v1': return this.#send(res, 200, this.jwks(null));
    }
  }

  #control(req, res, name, url) {
    const q = url.searchParams;
    const list = (key) => (q.get(key) ?? '').split(/[ ,]+/).filter(Boolean);
    try {
      switch (name) {
        case '_mint': {
          const token = this.mint({
            tenant: q.get('tenant'),
            audience: q.get('aud'),
            version: q.get('ver') ?? '2.0',
            scopes: list('scp'),
            roles: list('roles'),
            appOnly: q.get('app') === '1' || q.get('app') === 'true',
            lifetime: Number(q.get('lifetime') ?? 3600),
          });
          return this.#send(res, 200, token, 'text/plain');
        }
        case '_rotate':
          this.rotate({ retire: q.get('retire') === '1' });
          return this.#send(res, 200, { kid: this.signingKey.kid, published: this.published.map((k) => k.kid) });
        case '_failure':
          this.failure = q.get('mode') ?? 'none';
          return this.#send(res, 200, { failure: this.failure });
        case '_stats':
          return this.#send(res, 200, { counts: this.counts, signing_kid: this.signingKey.kid, published: this.published.map((k) => k.kid) });
        default:
          return this.#send(res, 404, { error: 'not_found' });
      }
    } catch (err) {
      return this.#send(res, 400, { error: 'bad_request', error_description: String(err.message) });
    }
  }
}

/** Starts a local authority on 127.0.0.1 (port 0 = any free port). */
export async function startAuthority(port = 0) {
  return new LocalAuthority().listen(port);
}
