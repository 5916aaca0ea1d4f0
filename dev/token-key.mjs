// Where the local authority's signing key is kept between runs (shared by make dev and make token).
import path from 'node:path';
import { ROOT } from './wrangler.mjs';

export const KEY_FILE = path.join(ROOT, '.dev', 'authority-key.json');
