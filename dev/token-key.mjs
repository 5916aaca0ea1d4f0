// Where `make dev` keeps its state between runs: the local authority's signing key (shared
// with `make token`), the generated wrangler config, and the gateway's KV / Durable Object
// state. ENTRA_EDGE_DEV_DIR moves it (the tests use a temporary folder).
import path from 'node:path';
import { ROOT } from './wrangler.mjs';

export const DEV_DIR = process.env.ENTRA_EDGE_DEV_DIR ? path.resolve(process.env.ENTRA_EDGE_DEV_DIR) : path.join(ROOT, '.dev');
export const KEY_FILE = path.join(DEV_DIR, 'authority-key.json');
// The gateway's signing key for the signed identity assertion under `make dev` (a private
// JWK, generated on first use; production keys come from `make assertion-key`).
export const ASSERTION_KEY_FILE = path.join(DEV_DIR, 'assertion-key.json');
