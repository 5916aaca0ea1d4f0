//! Bindings to the shell's JS helpers (`headers.js`, `documents.js`): header mechanics in one call each instead of one call per
//! header (each wasm↔JS crossing with strings costs more than the work itself).

use worker::js_sys::{Array, Set};
use worker::wasm_bindgen::prelude::*;
use worker::web_sys::{Headers, Response};

use crate::gateway::{HeaderEdit, HeaderMode};

#[wasm_bindgen(module = "/src/edge/headers.js")]
extern "C" {
    #[wasm_bindgen(js_name = applyEdits, catch)]
    fn apply_encoded(headers: &Headers, edits: &str) -> Result<(), JsValue>;
    /// `drop_names`: a JS `Set` of folded names; `drop_prefixes`: an array of folded prefixes.
    #[wasm_bindgen(js_name = copyWithout, catch)]
    pub fn copy_without(source: &Headers, drop_names: &Set, drop_prefixes: &Array) -> Result<Headers, JsValue>;
    #[wasm_bindgen(catch)]
    pub fn relay(response: &Response, drop_names: &Set, drop_prefixes: &Array) -> Result<Response, JsValue>;
    #[wasm_bindgen(js_name = answer, catch)]
    fn answer_encoded(status: u16, edits: &str, body: Option<String>) -> Result<Response, JsValue>;
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

/// Applies already encoded edits (see [`encode`]) in one crossing.
pub fn apply_encoded_edits(headers: &Headers, encoded: &str) -> Result<(), JsValue> {
    if encoded.is_empty() {
        return Ok(());
    }
    apply_encoded(headers, encoded)
}

/// Applies `edits` to `headers` in one crossing.
pub fn apply_edits(headers: &Headers, edits: &[HeaderEdit]) -> Result<(), JsValue> {
    if edits.is_empty() {
        return Ok(());
    }
    apply_encoded(headers, &encode(edits))
}

/// A response the gateway produces itself, in one crossing.
pub fn new_response(status: u16, edits: &[HeaderEdit], body: Option<String>) -> Result<Response, JsValue> {
    answer_encoded(status, &encode(edits), body)
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
