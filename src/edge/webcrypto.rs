//! RS256 verification with the runtime's WebCrypto (`crypto.subtle`), which runs as
//! native code: far cheaper than pure-Rust RSA compiled to WASM.

use worker::js_sys::{self, Array, Object, Promise, Reflect, Uint8Array};
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;

use crate::jwks::RsaJwk;
use crate::signature::SignatureBackend;

const ALGORITHM: &str = "RSASSA-PKCS1-v1_5";

/// `crypto.subtle` of the runtime.
#[derive(Clone)]
pub struct WebCrypto {
    subtle: JsValue,
}

impl WebCrypto {
    pub fn new() -> Result<WebCrypto, String> {
        let crypto = Reflect::get(&js_sys::global(), &"crypto".into()).map_err(|_| "no crypto global")?;
        let subtle = Reflect::get(&crypto, &"subtle".into()).map_err(|_| "no crypto.subtle")?;
        if subtle.is_undefined() {
            return Err("crypto.subtle is not available".into());
        }
        Ok(WebCrypto { subtle })
    }

    fn call(&self, method: &str, args: &Array) -> Result<Promise, JsValue> {
        let function: js_sys::Function = Reflect::get(&self.subtle, &method.into())?.dyn_into()?;
        function.apply(&self.subtle, args)?.dyn_into()
    }
}

fn object(entries: &[(&str, JsValue)]) -> Result<Object, JsValue> {
    let object = Object::new();
    for (key, value) in entries {
        Reflect::set(&object, &(*key).into(), value)?;
    }
    Ok(object)
}

impl SignatureBackend for WebCrypto {
    type Key = JsValue;

    async fn import_key(&self, jwk: &RsaJwk) -> Result<JsValue, String> {
        let run = async {
            let key = object(&[
                ("kty", "RSA".into()),
                ("n", jwk.n.as_str().into()),
                ("e", jwk.e.as_str().into()),
                ("alg", "RS256".into()),
                ("ext", true.into()),
            ])?;
            let algorithm = object(&[("name", ALGORITHM.into()), ("hash", "SHA-256".into())])?;
            let usages = Array::of1(&"verify".into());
            let args = Array::of5(&"jwk".into(), &key, &algorithm, &false.into(), &usages);
            JsFuture::from(self.call("importKey", &args)?).await
        };
        run.await.map_err(|err| format!("WebCrypto refused key {}: {:?}", jwk.kid, err.as_string()))
    }

    async fn verify(&self, key: &JsValue, message: &[u8], signature: &[u8]) -> bool {
        let run = async {
            let args = Array::of4(&ALGORITHM.into(), key, &Uint8Array::from(signature), &Uint8Array::from(message));
            JsFuture::from(self.call("verify", &args)?).await
        };
        matches!(run.await, Ok(valid) if valid.as_bool() == Some(true))
    }
}
