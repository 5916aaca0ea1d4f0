//! Bindings to `headers.js`: header mechanics in one call each instead of one call per
//! header (each wasm↔JS crossing with strings costs more than the work itself).

use worker::js_sys::Array;
use worker::wasm_bindgen::prelude::*;
use worker::web_sys::{Headers, Response};

#[wasm_bindgen(module = "/src/edge/headers.js")]
extern "C" {
    #[wasm_bindgen(js_name = setLines, catch)]
    pub fn set_lines(headers: &Headers, lines: &str) -> Result<(), JsValue>;
    #[wasm_bindgen(js_name = setMissing, catch)]
    pub fn set_missing(headers: &Headers, lines: &str) -> Result<(), JsValue>;
    #[wasm_bindgen(js_name = copyWithout, catch)]
    pub fn copy_without(source: &Headers, drop_names: &Array, drop_prefix: &str) -> Result<Headers, JsValue>;
    #[wasm_bindgen(catch)]
    pub fn relay(response: &Response, drop_names: &Array, drop_prefix: &str) -> Result<Response, JsValue>;
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
