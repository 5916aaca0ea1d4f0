//! Bindings to the shell's JS helpers (`headers.js`, `documents.js`): header mechanics in one call each instead of one call per
//! header (each wasm↔JS crossing with strings costs more than the work itself).

use worker::js_sys::{Array, Function, Set};
use worker::wasm_bindgen::prelude::*;
use worker::web_sys::{Request, Response};

use crate::gateway::{HeaderEdit, HeaderMode};

#[wasm_bindgen(module = "/src/edge/headers.js")]
extern "C" {
    #[wasm_bindgen(js_name = answer, catch)]
    fn answer_encoded(status: u16, edits: &str, body: Option<&str>) -> Result<Response, JsValue>;
    /// See `readHeadInto` in headers.js.
    #[wasm_bindgen(js_name = readHeadInto)]
    fn read_head_into(request: &Request, names: &str, buffer: &mut [u8]) -> f64;
    /// See `relay` in headers.js: a promise of the client's `Response`.
    #[wasm_bindgen(js_name = relay)]
    #[allow(clippy::too_many_arguments)]
    pub fn relay(
        request: &Request,
        target: &str,
        drop_names: &Set,
        drop_prefixes: &Array,
        drop_extra: &str,
        request_edits: &str,
        response_drop_names: &Set,
        response_drop_prefixes: &Array,
        response_edits: &str,
        timeout_ms: u32,
        sign_key: &JsValue,
        sign_header: &str,
        signing_input: &str,
        watch_body: bool,
        settle: &Function,
        pending: u32,
        request_id: &str,
        answer_edits: &str,
        ctx: &JsValue,
    ) -> worker::js_sys::Promise;
}

/// The request head in one crossing: method, URL, the clock, fresh randomness, and the
/// values of `names`, in order.
pub struct Head {
    pub method: String,
    pub url: String,
    /// `Date.now()` when the head was read, ms since the Unix epoch.
    pub now_ms: u64,
    /// 24 random bytes from the runtime's CSPRNG (request and trace ids); `None` if the
    /// JS side's form was not understood (the caller then draws its own).
    pub random: Option<[u8; 24]>,
    pub headers: Vec<Option<String>>,
}

/// Reads `request`'s method, URL, the clock, 24 random bytes and the headers named in
/// `names` (joined by "\n").
///
/// The text is written straight into a buffer of WASM memory kept per isolate (no
/// allocation call back into WASM for a returned string); a head larger than the buffer
/// grows it and is read again.
pub fn read_head(request: &Request, names: &str) -> Head {
    HEAD_BUFFER.with(|cell| {
        let mut buffer = cell.borrow_mut();
        let mut written = read_head_into(request, names, &mut buffer);
        if written < 0.0 {
            // Too small: JS says how much the head may need (UTF-8 bound).
            buffer.resize(-written as usize, 0);
            written = read_head_into(request, names, &mut buffer);
        }
        let length = (written.max(0.0) as usize).min(buffer.len());
        // `TextEncoder.encodeInto` writes whole characters of UTF-8 only.
        parse_head(std::str::from_utf8(&buffer[..length]).unwrap_or_default())
    })
}

thread_local! {
    /// Where `readHeadInto` writes the request head (grown when a head does not fit).
    static HEAD_BUFFER: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0; 16 * 1024]);
}

fn parse_head(encoded: &str) -> Head {
    let mut lines = encoded.split('\n');
    let method = lines.next().unwrap_or_default().to_string();
    let url = lines.next().unwrap_or_default().to_string();
    let now_ms = lines.next().and_then(|n| n.parse().ok()).unwrap_or(0);
    let random = lines.next().and_then(parse_hex24);
    let headers = lines.map(|line| line.strip_prefix('+').map(str::to_string)).collect();
    Head { method, url, now_ms, random, headers }
}

fn parse_hex24(hex: &str) -> Option<[u8; 24]> {
    let bytes = hex.as_bytes();
    if bytes.len() != 48 {
        return None;
    }
    let mut out = [0u8; 24];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        let digit = |b: u8| (b as char).to_digit(16);
        out[i] = u8::try_from(digit(pair[0])? * 16 + digit(pair[1])?).ok()?;
    }
    Some(out)
}

/// The wire form of header edits for `headers.js` (the only place that knows it).
pub fn encode(edits: &[HeaderEdit]) -> String {
    let mut out = String::with_capacity(edits.len() * 48);
    encode_into(&mut out, edits);
    out
}

/// [`encode`], appending to `out`.
pub fn encode_into(out: &mut String, edits: &[HeaderEdit]) {
    for edit in edits {
        out.push(match edit.mode {
            HeaderMode::Set => 's',
            HeaderMode::Append => 'a',
            HeaderMode::SetIfMissing => 'm',
        });
        out.push('\n');
        out.push_str(&edit.name);
        out.push('\n');
        out.push_str(&edit.value);
        out.push('\n');
    }
}

/// A response the gateway produces itself, in one crossing (`edits` already encoded).
pub fn new_response_encoded(status: u16, edits: &str, body: Option<&str>) -> Result<Response, JsValue> {
    answer_encoded(status, edits, body)
}

/// A JS array of strings.
pub fn string_array<'a>(items: impl IntoIterator<Item = &'a str>) -> Array {
    items.into_iter().map(JsValue::from_str).collect()
}

/// A JS `Set` of strings.
pub fn string_set<'a>(items: impl IntoIterator<Item = &'a str>) -> Set {
    Set::new(&string_array(items))
}

#[wasm_bindgen(module = "/src/edge/documents.js")]
extern "C" {
    /// A promise of the body text of a bounded GET (see `documents.js`); rejects with an
    /// `Error` saying why.
    #[wasm_bindgen(js_name = fetchDocument)]
    pub fn fetch_document(url: &str, timeout_ms: u32, max_bytes: u32) -> worker::js_sys::Promise;
}
