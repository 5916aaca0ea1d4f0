// Header mechanics for the worker shell, one boundary crossing per call. What to drop,
// add or keep is decided in Rust (src/forward.rs, src/security_headers.rs); this only
// applies it. `lines` is "name\nvalue\nname\nvalue…" (values never contain a newline).

export function setLines(headers, lines) {
  if (!lines) return;
  const parts = lines.split('\n');
  for (let i = 0; i + 1 < parts.length; i += 2) {
    // A leading "+" appends instead of replacing (e.g. Vary).
    if (parts[i][0] === '+') headers.append(parts[i].slice(1), parts[i + 1]);
    else headers.set(parts[i], parts[i + 1]);
  }
}

/** Sets each header of `lines` that `headers` does not have yet. */
export function setMissing(headers, lines) {
  if (!lines) return;
  const parts = lines.split('\n');
  for (let i = 0; i + 1 < parts.length; i += 2) if (!headers.has(parts[i])) headers.set(parts[i], parts[i + 1]);
}

/**
 * A mutable copy of `source` without the names in `dropNames` (a Set of folded names) or
 * starting with one of `dropPrefixes` (an array of folded prefixes). Names are compared
 * folded, as src/forward.rs `fold_name` defines it: lowercase (the Headers iterator's
 * form already), every character other than a-z and 0-9 read as `-`.
 */
const NOT_FOLDED = /[^a-z0-9-]/;
const FOLD = /[^a-z0-9]/g;
export function copyWithout(source, dropNames, dropPrefixes) {
  const out = new Headers(source);
  for (const name of [...out.keys()]) {
    const folded = NOT_FOLDED.test(name) ? name.replace(FOLD, '-') : name;
    if (dropNames.has(folded) || dropPrefixes.some((prefix) => folded.startsWith(prefix))) out.delete(name);
  }
  return out;
}

/** A new response with the origin's status, body and a mutable copy of its headers. */
export function relay(response, dropNames, dropPrefixes) {
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers: copyWithout(response.headers, dropNames, dropPrefixes) });
}

/** A response the gateway produces itself. */
export function answer(status, lines, body) {
  const headers = new Headers();
  setLines(headers, lines);
  return new Response(body === null ? null : body, { status, headers });
}

