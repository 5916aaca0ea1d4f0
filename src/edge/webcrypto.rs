//! RS256 verification with the runtime's WebCrypto (`crypto.subtle`), which runs as
//! native code: far cheaper than pure-Rust RSA compiled to WASM. Each operation is one call
//! into `documents.js` (no per-call lookups of `crypto.subtle`, no argument arrays).

use worker::js_sys::Promise;
use worker::wasm_bindgen::prelude::*;
use worker::wasm_bindgen::JsValue;
use worker::wasm_bindgen_futures::JsFuture;

use crate::jwks::RsaJwk;
use crate::signature::SignatureBackend;

#[wasm_bindgen(module = "/src/edge/documents.js")]
extern "C" {
    #[wasm_bindgen(js_name = importRs256, catch)]
    fn import_rs256(n: &str, e: &str) -> Result<Promise, JsValue>;
    #[wasm_bindgen(js_name = verifyRs256, catch)]
    fn verify_rs256(key: &JsValue, signature: &[u8], message: &[u8]) -> Result<Promise, JsValue>;
}

/// The runtime's WebCrypto.
#[derive(Clone, Copy, Default)]
pub struct WebCrypto;

impl SignatureBackend for WebCrypto {
    type Key = JsValue;

    async fn import_key(&self, jwk: &RsaJwk) -> Result<JsValue, String> {
        let run = async { JsFuture::from(import_rs256(&jwk.n, &jwk.e)?).await };
        run.await.map_err(|err| format!("WebCrypto refused key {}: {:?}", jwk.kid, err.as_string()))
    }

    async fn verify(&self, key: &JsValue, message: &[u8], signature: &[u8]) -> bool {
        let run = async { JsFuture::from(verify_rs256(key, signature, message)?).await };
        matches!(run.await, Ok(valid) if valid.as_bool() == Some(true))
    }
}
