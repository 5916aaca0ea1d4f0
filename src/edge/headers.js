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
    const mode = parts[i];
    if (mode === 'a') headers.append(parts[i + 1], parts[i + 2]);
    else if (mode === 'm') { if (!headers.has(parts[i + 1])) headers.set(parts[i + 1], parts[i + 2]); }
    else headers.set(parts[i + 1], parts[i + 2]);
  }
}

/**
 * A mutable copy of `source` without the names in `dropNames` (a Set of folded names) or in
 * `dropExtra` (a short array of folded names, usually empty), or starting with one of
 * `dropPrefixes` (an array of folded prefixes). Names are compared
 * folded, as src/forward.rs `fold_name` defines it: lowercase (the Headers iterator's
 * form already), every character other than a-z and 0-9 read as `-`.
 */
const NOT_FOLDED = /[^a-z0-9-]/;
const NOTHING_LISTED = [];
const FOLD = /[^a-z0-9]/g;
export function copyWithout(source, dropNames, dropPrefixes, dropExtra = NOTHING_LISTED) {
  const out = new Headers(source);
  // The source's names (the copy is the one changed): no array of them, no closure per name.
  for (const name of source.keys()) {
    const folded = NOT_FOLDED.test(name) ? name.replace(FOLD, '-') : name;
    if (dropNames.has(folded) || dropExtra.includes(folded) || startsWithAny(folded, dropPrefixes)) out.delete(name);
  }
  return out;
}

function startsWithAny(name, prefixes) {
  for (let i = 0; i < prefixes.length; i++) if (name.startsWith(prefixes[i])) return true;
  return false;
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
const RANDOM = new Uint8Array(24); // refilled per request (no allocation)
let headNames = null; // the names of the last call (always the same list), split once
let headList = [];
export function readHead(request, names) {
  const headers = request.headers;
  const random = crypto.getRandomValues(RANDOM);
  let hex = '';
  for (const byte of random) hex += HEX[byte];
  let out = `${request.method}\n${request.url}\n${Date.now()}\n${hex}`;
  if (names !== headNames) [headNames, headList] = [names, names.split('\n')];
  for (const name of headList) {
    const value = headers.get(name);
    out += value === null ? '\n-' : `\n+${value}`;
  }
  return out;
}

/**
 * `readHead` written as UTF-8 into `buffer` (a view of WASM memory): the number of bytes
 * written, or, when the head does not fit, minus the size that surely fits it.
 */
const UTF8 = new TextEncoder();
export function readHeadInto(request, names, buffer) {
  const text = readHead(request, names);
  const { read, written } = UTF8.encodeInto(text, buffer);
  return read === text.length ? written : -(text.length * 3);
}

/**
 * The names a `Connection` header lists (RFC 9110 §7.6.1: each is hop-by-hop for this
 * message), folded. The same rule as src/forward.rs `connection_listed`: split on `,`,
 * trim, fold, skip empty.
 */
export function connectionListed(value) {
  // The usual value names only `keep-alive`, a header the response lists drop anyway: no work.
  if (!value || value === 'keep-alive') return NOTHING_LISTED;
  return value.split(',').map((name) => name.trim().toLowerCase().replace(FOLD, '-')).filter((name) => name !== '');
}

/**
 * An origin answer that cannot be relayed: a status outside 200–599 (an interim or
 * switching status as the final answer, or no HTTP status at all), which a `Response`
 * cannot carry. The origin failed to answer: "unreachable: …" (502), its body dropped.
 */
function unrelayable(response) {
  const status = response.status;
  if (status >= 200 && status <= 599) return null;
  response.body?.cancel().catch(() => {});
  return `unreachable: the origin answered with status ${status}, which cannot be relayed`;
}

/**
 * The origin's reason phrase if a `Response` can carry it, else none: RFC 9112 allows a tab
 * and obs-text in it, the runtime refuses a tab or a control character (the phrase means
 * nothing to HTTP; the status is relayed either way).
 */
const RELAYABLE_REASON = /^[\x20-\x7e\x80-\xff]*$/;
function reasonPhrase(response) {
  const text = response.statusText;
  return RELAYABLE_REASON.test(text) ? text : '';
}

/** A length the runtime can pass on: plain decimal digits, else null. */
function declaredLength(headers) {
  const value = headers.get('content-length');
  return value !== null && /^[0-9]{1,15}$/.test(value) ? Number(value) : null;
}

/**
 * A pass-through for `body` whose end the worker can observe: the runtime's own byte
 * streams (piped natively, nothing buffered in JS), a FixedLengthStream when the length is
 * known so `Content-Length` survives. Returns [readable, promise of null when the whole
 * body went through or of the error message when it did not].
 */
function observed(body, length) {
  const pipe = length === null ? new IdentityTransformStream() : new FixedLengthStream(length);
  const done = body.pipeTo(pipe.writable).then(() => null, (err) => String(err?.message ?? err));
  return [pipe.readable, done];
}

/**
 * A whole forward in one crossing: the client's headers without `dropNames`/`dropPrefixes`/
 * `dropExtra` (the names the client's Connection header lists beyond those lists) and with
 * `requestEdits`; `fetch(target)` without following redirects; the answer relayed
 * without `responseDropNames`/`responseDropPrefixes`, without the names the origin's own
 * `Connection` header lists, and with `responseEdits`.
 *
 * `timeoutMs` bounds the wait for the response headers *after the request body was
 * handed on* (at once for a request without a body): a slow upload is not the origin's
 * delay. An origin that answers before the upload ends is relayed at once.
 *
 * Resolves to the Response (or, with `watchBody`, to [Response, promise of the relayed
 * body's end: null complete, or why it broke]), or to a string: "timeout", "upload: …" (the client's body broke off), or
 * "unreachable: …". What to drop and add is decided in Rust.
 *
 * With a `signingInput`, the signed identity assertion (src/edge/assertion.rs) is signed
 * with `signKey` and set as `signHeader` before the fetch, in this same call; a signing
 * failure rejects (nothing is forwarded).
 */
export async function forward(request, target, dropNames, dropPrefixes, dropExtra, requestEdits, responseDropNames, responseDropPrefixes, responseEdits, timeoutMs, signKey, signHeader, signingInput, watchBody) {
  const headers = copyWithout(request.headers, dropNames, dropPrefixes, dropExtra ? dropExtra.split('\n') : NOTHING_LISTED);
  applyEdits(headers, requestEdits);
  if (signingInput) headers.set(signHeader, await signEs256(signKey, signingInput));
  const method = request.method;
  const hasBody = method !== 'GET' && method !== 'HEAD' && request.body !== null;
  if (!hasBody && !watchBody) {
    // The common path: nothing to upload, nothing to watch. The origin's response is passed
    // on as it came (its body untouched), the clock bounds the response headers.
    const signal = AbortSignal.timeout(timeoutMs);
    let response;
    try {
      response = await fetch(target, { method, headers, redirect: 'manual', signal });
    } catch (err) {
      return signal.aborted ? 'timeout' : `unreachable: ${err?.message ?? err}`;
    }
    const odd = unrelayable(response);
    if (odd !== null) return odd;
    const out = copyWithout(response.headers, responseDropNames, responseDropPrefixes, connectionListed(response.headers.get('connection')));
    applyEdits(out, responseEdits);
    return new Response(response.body, { status: response.status, statusText: reasonPhrase(response), headers: out });
  }
  const controller = new AbortController();
  // The origin's bytes as they came (a gzip body stays gzip, with its length): relayed with
  // `encodeBody: 'manual'`, exactly what passing `response.body` straight on would send,
  // without decoding and re-encoding it in the pipe below.
  const init = { method, headers, redirect: 'manual', signal: controller.signal, encodeResponseBody: 'manual' };
  let uploaded = null;
  if (hasBody) {
    [init.body, uploaded] = observed(request.body, declaredLength(request.headers));
  }
  let answered = false;
  let timedOut = false;
  let uploadError = null;
  let timer;
  const startClock = () => { timer = setTimeout(() => { timedOut = true; controller.abort(new Error('timeout')); }, timeoutMs); };
  if (init.body === undefined) {
    startClock(); // nothing to upload: the clock starts now (no promise hop on the common path)
  } else {
    uploaded.then((error) => {
      if (answered) return;
      if (error !== null) {
        uploadError = error;
        controller.abort(new Error(`upload: ${error}`));
        return;
      }
      startClock();
    });
  }
  let response;
  try {
    response = await fetch(target, init);
  } catch (err) {
    if (timedOut) return 'timeout';
    if (uploadError !== null) return `upload: ${uploadError}`;
    return `unreachable: ${err?.message ?? err}`;
  } finally {
    answered = true;
    clearTimeout(timer);
  }
  const odd = unrelayable(response);
  if (odd !== null) return odd;
  const out = copyWithout(response.headers, responseDropNames, responseDropPrefixes, connectionListed(response.headers.get('connection')));
  applyEdits(out, responseEdits);
  const init2 = { status: response.status, statusText: reasonPhrase(response), headers: out, encodeBody: 'manual' };
  if (!watchBody) return new Response(response.body, init2);
  let body = response.body;
  let relayed = Promise.resolve(null);
  if (body !== null && method !== 'HEAD') [body, relayed] = observed(body, declaredLength(response.headers));
  return [new Response(body, init2), relayed];
}

/**
 * `forward`, then what follows it, so a request that needs no other I/O is served in one
 * call from Rust (src/edge/mod.rs `fetch`): resolves to the Response the client gets.
 *
 * `settle(pending, outcome, at, requestId, answerEdits, bodyEnd)` is Rust (one closure per isolate,
 * src/edge/settle.rs), called only when Rust has something to do: `outcome` is the
 * failure string of `forward` (or "error: …" when it threw), for which it returns the
 * refusal (with `answerEdits`, the headers the relayed answer would have had); or the relayed status, when `pending` (the access record waiting for this
 * request, 0 when logging is off) is set. `at` is `Date.now()` when the origin answered;
 * `bodyEnd` is null (every byte relayed), the reason the body broke off, or undefined
 * (not watched).
 */
export async function relay(request, target, dropNames, dropPrefixes, dropExtra, requestEdits, responseDropNames, responseDropPrefixes, responseEdits, timeoutMs, signKey, signHeader, signingInput, watchBody, settle, pending, requestId, answerEdits, ctx) {
  let result;
  try {
    result = await forward(request, target, dropNames, dropPrefixes, dropExtra, requestEdits, responseDropNames, responseDropPrefixes, responseEdits, timeoutMs, signKey, signHeader, signingInput, watchBody);
  } catch (err) {
    result = `error: ${err?.message ?? err}`;
  }
  const at = Date.now();
  if (typeof result === 'string') return settle(pending, result, at, requestId, answerEdits, undefined) ?? new Response(null, { status: 500 });
  if (Array.isArray(result)) {
    const [response, relayed] = result;
    const status = response.status;
    ctx.waitUntil(relayed.then((end) => { settle(pending, status, at, undefined, undefined, end); }));
    return response;
  }
  if (pending !== 0) settle(pending, result.status, at, undefined, undefined, undefined);
  return result;
}
