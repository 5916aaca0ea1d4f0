// Header mechanics for the worker shell, one boundary crossing per call. What to drop,
// add or keep is decided in Rust (src/forward.rs, src/gateway.rs, src/config/security_headers.rs);
// this only applies it. `edits` is the wire form of a list of `HeaderEdit`s (src/edge/js.rs
// writes it): "mode\nname\nvalue\n…", mode `s` set, `a` append, `m` set if missing (values
// never contain a newline).

import { signEs256 } from './documents.js';

export function applyEdits(headers, edits) {
  if (!edits) return;
  const parts = edits.split('\n');
  for (let i = 0; i + 2 < parts.length; i += 3) {
    const [mode, name, value] = [parts[i], parts[i + 1], parts[i + 2]];
    if (mode === 'a') headers.append(name, value);
    else if (mode === 'm') { if (!headers.has(name)) headers.set(name, value); }
    else headers.set(name, value);
  }
}

/**
 * A mutable copy of `source` without the names in `dropNames` (a Set of folded names) or in
 * `dropExtra` ("\n"-joined folded names, usually empty), or starting with one of
 * `dropPrefixes` (an array of folded prefixes). Names are compared
 * folded, as src/forward.rs `fold_name` defines it: lowercase (the Headers iterator's
 * form already), every character other than a-z and 0-9 read as `-`.
 */
const NOT_FOLDED = /[^a-z0-9-]/;
const FOLD = /[^a-z0-9]/g;
export function copyWithout(source, dropNames, dropPrefixes, dropExtra = '') {
  const out = new Headers(source);
  const extra = dropExtra ? new Set(dropExtra.split('\n')) : null;
  for (const name of [...out.keys()]) {
    const folded = NOT_FOLDED.test(name) ? name.replace(FOLD, '-') : name;
    if (dropNames.has(folded) || extra?.has(folded) || dropPrefixes.some((prefix) => folded.startsWith(prefix))) out.delete(name);
  }
  return out;
}

/** A response the gateway produces itself. */
export function answer(status, edits, body) {
  const headers = new Headers();
  applyEdits(headers, edits);
  return new Response(body === null ? null : body, { status, headers });
}


/**
 * The request head in one crossing: "method\nurl\nnow\nrandom\n" (now: Date.now(), in ms;
 * random: 24 random bytes as 48 hex digits, for request and trace ids), then, for each of
 * `names` (a "\n"-joined list), "+value" or "-" when absent, one per line (header values
 * never contain a newline).
 */
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
export function readHead(request, names) {
  const headers = request.headers;
  const random = crypto.getRandomValues(new Uint8Array(24));
  let hex = '';
  for (const byte of random) hex += HEX[byte];
  let out = `${request.method}\n${request.url}\n${Date.now()}\n${hex}`;
  for (const name of names.split('\n')) {
    const value = headers.get(name);
    out += value === null ? '\n-' : `\n+${value}`;
  }
  return out;
}

/**
 * A whole forward in one crossing: the client's headers without `dropNames`/`dropPrefixes`/
 * `dropExtra` (the names the client's Connection header lists) and with `requestEdits`; `fetch(target)` without following redirects, bounded by
 * `timeoutMs` to the response headers; the answer relayed without `responseDropNames`/
 * `responseDropPrefixes` and with `responseEdits`. Resolves to the Response, or to a string:
 * "timeout", or "unreachable: …". What to drop and add is decided in Rust. With a
 * `signingInput`, the signed identity assertion (src/edge/assertion.rs) is signed with
 * `signKey` and set as `signHeader` before the fetch, in this same call; a signing failure
 * rejects (nothing is forwarded).
 */
export async function forward(request, target, dropNames, dropPrefixes, dropExtra, requestEdits, responseDropNames, responseDropPrefixes, responseEdits, timeoutMs, signKey, signHeader, signingInput) {
  const headers = copyWithout(request.headers, dropNames, dropPrefixes, dropExtra);
  applyEdits(headers, requestEdits);
  if (signingInput) headers.set(signHeader, await signEs256(signKey, signingInput));
  const method = request.method;
  const signal = AbortSignal.timeout(timeoutMs);
  const init = { method, headers, redirect: 'manual', signal };
  if (method !== 'GET' && method !== 'HEAD' && request.body) init.body = request.body;
  let response;
  try {
    response = await fetch(target, init);
  } catch (err) {
    return signal.aborted ? 'timeout' : `unreachable: ${err?.message ?? err}`;
  }
  const out = copyWithout(response.headers, responseDropNames, responseDropPrefixes);
  applyEdits(out, responseEdits);
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers: out });
}
