//! Bindings to `headers.js`: header mechanics in one call each instead of one call per
//! header (each wasm↔JS crossing with strings costs more than the work itself).

use worker::js_sys::{Array, Set};
use worker::wasm_bindgen::prelude::*;
use worker::web_sys::{Headers, Response};

#[wasm_bindgen(module = "/src/edge/headers.js")]
extern "C" {
    #[wasm_bindgen(js_name = setLines, catch)]
    pub fn set_lines(headers: &Headers, lines: &str) -> Result<(), JsValue>;
    #[wasm_bindgen(js_name = setMissing, catch)]
    pub fn set_missing(headers: &Headers, lines: &str) -> Result<(), JsValue>;
    /// `drop_names`: a JS `Set` of folded names; `drop_prefixes`: an array of folded prefixes.
    #[wasm_bindgen(js_name = copyWithout, catch)]
    pub fn copy_without(source: &Headers, drop_names: &Set, drop_prefixes: &Array) -> Result<Headers, JsValue>;
    #[wasm_bindgen(catch)]
    pub fn relay(response: &Response, drop_names: &Set, drop_prefixes: &Array) -> Result<Response, JsValue>;
    #[wasm_bindgen(catch)]
    pub fn answer(status: u16, lines: &str, body: Option<String>) -> Result<Response, JsValue>;
}

/// Appends `name: value` to a `lines` string for the functions above.
pub fn push_line(lines: &mut String, name: &str, value: &str) {
    lines.push_str(name);
    lines.push('\n');
    lines.push_str(value);
    lines.push('\n');
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
