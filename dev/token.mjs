// `make token` / `npm run token -- …`: prints an access token signed by the local Entra
// authority's persisted key (.dev/authority-key.json), which the gateway under `make dev`
// accepts — also when `make dev` is started after the token was minted.
//
//   npm run token -- --scopes Orders.Read
//   npm run token -- --app --roles Orders.Admin --client 7d6c5b4a-3928-4170-b6e5-d4c3b2a19080
//   make token SCOPES=Payouts.Approve ACRS=c1 XMS_CC=cp1
//
// Options (make variables in brackets; make passes command-line variables to this script
// through the environment):
//   --scopes A,B      [SCOPES]   delegated permissions (scp)
//   --roles R,S       [ROLES]    app roles / app permissions (roles)
//   --app             [APP=1]    app-only token (idtyp app, sub = oid, no scp, no user names)
//   --client GUID     [CLIENT]   the calling app (azp in v2, appid in v1)
//   --tenant GUID     [TENANT]   default: the demo tenant
//   --audience AUD    [AUDIENCE] default: the demo API's client id (v2) / App ID URI (v1)
//   --version 1.0|2.0 [VERSION]  token version (default 2.0)
//   --acrs c1         [ACRS]     satisfied Conditional Access auth contexts
//   --xms-cc cp1      [XMS_CC]   client capabilities
//   --idtyp app|user  [IDTYP]
//   --oid GUID        [OID]      the user's or service principal's object id
//   --lifetime SECS   [LIFETIME] default 3600; negative for an expired token
//   --claim NAME=JSON [CLAIM]    any further claim (repeatable); a value that is not JSON is a
//                                string; NAME=null removes a claim
//   --curl PATH                  print a ready curl for the running gateway instead
//   --postman-env FILE           write a Postman environment with every token the request
//                                collection (examples/requests/) needs, then exit
import { parseArgs } from 'node:util';
import fs from 'node:fs';
import { mintOptions, LocalAuthority } from './authority.mjs';
import { collectionTokens, postmanEnvironment } from './collection-tokens.mjs';
import { API_APP_ID_URI, API_CLIENT_ID, DEMO_TENANT } from './demo.mjs';
import { KEY_FILE } from './token-key.mjs';

const spec = {
  scopes: { type: 'string', env: 'SCOPES' },
  roles: { type: 'string', env: 'ROLES' },
  app: { type: 'boolean', env: 'APP' },
  client: { type: 'string', env: 'CLIENT' },
  tenant: { type: 'string', env: 'TENANT' },
  audience: { type: 'string', env: 'AUDIENCE' },
  version: { type: 'string', env: 'VERSION' },
  acrs: { type: 'string', env: 'ACRS' },
  'xms-cc': { type: 'string', env: 'XMS_CC' },
  idtyp: { type: 'string', env: 'IDTYP' },
  oid: { type: 'string', env: 'OID' },
  lifetime: { type: 'string', env: 'LIFETIME' },
  claim: { type: 'string', multiple: true, env: 'CLAIM' },
  curl: { type: 'string' },
  'postman-env': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

function fail(message) {
  console.error(`token: ${message} (--help for the options)`);
  process.exit(2);
}

let values;
try {
  ({ values } = parseArgs({ options: Object.fromEntries(Object.entries(spec).map(([k, { env, ...option }]) => [k, option])), allowPositionals: false }));
} catch (err) {
  fail(err.message);
}
if (values.help) {
  const text = fs.readFileSync(new URL(import.meta.url), 'utf8');
  // The header comment only: up to the first line that is not a comment.
  const header = text.split('\n');
  console.log(header.slice(0, header.findIndex((l) => !l.startsWith('//'))).map((l) => l.slice(3)).join('\n'));
  process.exit(0);
}
// `make token X=…` hands command-line variables over as environment variables.
if (process.env.ENTRA_EDGE_TOKEN_FROM_MAKE === '1') {
  for (const [name, option] of Object.entries(spec)) {
    const value = option.env && process.env[option.env];
    if (value === undefined || value === '' || values[name] !== undefined) continue;
    if (option.type === 'boolean') values[name] = ['1', 'true', 'yes'].includes(value.toLowerCase());
    else values[name] = option.multiple ? value.split(/\s*;\s*/).filter(Boolean) : value;
  }
}

if (values['postman-env'] !== undefined) {
  const authority = new LocalAuthority({ keyFile: KEY_FILE });
  const tokens = collectionTokens({ mint: (o) => authority.mint(o), mintIdToken: (o) => authority.mintIdToken(o) });
  const environment = postmanEnvironment(`http://127.0.0.1:${process.env.PORT ?? '8787'}`, tokens);
  fs.writeFileSync(values['postman-env'], `${JSON.stringify(environment, null, 2)}\n`, { mode: 0o600 });
  console.log(`wrote ${values['postman-env']}: ${Object.keys(tokens).length} tokens, valid 1 hour`);
  process.exit(0);
}

const version = values.version ?? '2.0';
const claims = {};
for (const entry of values.claim ?? []) {
  const at = entry.indexOf('=');
  if (at < 1) fail(`--claim needs NAME=VALUE, got ${JSON.stringify(entry)}`);
  const [name, raw] = [entry.slice(0, at), entry.slice(at + 1)];
  try {
    claims[name] = JSON.parse(raw);
  } catch {
    claims[name] = raw;
  }
}
const params = {
  tenant: values.tenant ?? DEMO_TENANT,
  aud: values.audience ?? (version === '1.0' ? API_APP_ID_URI : API_CLIENT_ID),
  ver: version,
  scp: values.scopes,
  roles: values.roles,
  app: values.app ? '1' : undefined,
  client: values.client,
  oid: values.oid,
  acrs: values.acrs,
  xms_cc: values['xms-cc'],
  idtyp: values.idtyp,
  lifetime: values.lifetime,
  claims: Object.keys(claims).length ? JSON.stringify(claims) : undefined,
};
let token;
try {
  const authority = new LocalAuthority({ keyFile: KEY_FILE });
  token = authority.mint(mintOptions((key) => params[key]));
} catch (err) {
  fail(err.message);
}
if (values.curl !== undefined) {
  const port = process.env.PORT ?? '8787';
  console.log(`curl -i http://127.0.0.1:${port}${values.curl.startsWith('/') ? '' : '/'}${values.curl} -H "Authorization: Bearer ${token}"`);
} else {
  console.log(token);
}
