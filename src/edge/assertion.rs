//! The signed identity assertion's I/O: the signing key imported into WebCrypto once per
//! isolate (checked by a sign-and-verify probe, so a key whose public part does not match
//! fails before any request is forwarded) and the published key document. The one ECDSA
//! signature per forwarded request on a token-protected route is made inside the forward
//! call (`headers.js`), so signing costs no extra crossing or promise hop. What is signed, and when, is
//! `crate::assertion`'s.

use std::cell::RefCell;

use worker::js_sys::Promise;
use worker::wasm_bindgen::prelude::*;
use worker::wasm_bindgen::JsValue;
use worker::wasm_bindgen_futures::JsFuture;
use worker::Env;

use crate::assertion::{jwks_document, AssertionBuilder, AssertionSettings, SigningKey, SIGNING_KEY_SECRET};
use crate::problem::Answer;
use crate::reason::{Reason, Refusal};

use super::respond;

#[wasm_bindgen(module = "/src/edge/documents.js")]
extern "C" {
    #[wasm_bindgen(js_name = importEs256SigningKey, catch)]
    fn import_es256_signing_key(d: &str, x: &str, y: &str) -> Result<Promise, JsValue>;
}

/// Everything the isolate keeps for the assertion (built once, with the `Isolate`).
pub struct Signer {
    pub builder: AssertionBuilder,
    /// Lowercase header name.
    pub header: String,
    /// The JWKS answered at `jwks_path`.
    jwks: String,
    key: SigningKey,
    /// The imported `CryptoKey`, or why WebCrypto refused the key; None until the first
    /// request imports it (each request awaits only its own promises).
    imported: RefCell<Option<Result<JsValue, String>>>,
}

impl Signer {
    /// Reads and checks the `ASSERTION_SIGNING_KEY` secret; the error names it and says
    /// what is wrong (never its value).
    pub fn new(env: &Env, settings: &AssertionSettings) -> Result<Signer, String> {
        let secret = env.secret(SIGNING_KEY_SECRET).map_err(|_| {
            format!("{SIGNING_KEY_SECRET}: the secret is not set, but ENTRA_EDGE.assertion is configured (make assertion-key prints the npx wrangler secret put line)")
        })?;
        let key = SigningKey::parse(&secret.to_string()).map_err(|why| format!("{SIGNING_KEY_SECRET}: {why}"))?;
        settings.check_signing_key(&key).map_err(|why| format!("{SIGNING_KEY_SECRET}: {why}"))?;
        Ok(Signer {
            builder: AssertionBuilder::new(settings, &key.public.kid),
            header: settings.header.clone(),
            jwks: jwks_document(&key.public, &settings.additional_keys),
            key,
            imported: RefCell::new(None),
        })
    }

    /// Imports the key on the isolate's first request; afterwards a borrow. A key WebCrypto
    /// refuses (or whose public part does not match) refuses every request: fail closed,
    /// naming the secret.
    pub async fn ready(&self) -> Result<(), Refusal> {
        let failed = |why: &str| Refusal::new(Reason::ConfigInvalid, format!("{SIGNING_KEY_SECRET}: {why}"));
        if let Some(done) = self.imported.borrow().as_ref() {
            return done.as_ref().map(|_| ()).map_err(|why| failed(why));
        }
        let import = async {
            let promise = import_es256_signing_key(&self.key.d, &self.key.public.x, &self.key.public.y)?;
            JsFuture::from(promise).await
        };
        let outcome = import.await.map_err(|err| describe(&err));
        let result = outcome.as_ref().map(|_| ()).map_err(|why| failed(why));
        if let Err(why) = &outcome {
            super::log::emit(
                &crate::event::Event::new(crate::event::Kind::ConfigInvalid).with("problems", format!("{SIGNING_KEY_SECRET}: {why}")),
                None,
                crate::config::LogLevel::Info,
            );
        }
        self.imported.replace(Some(outcome));
        result
    }

    /// [`ready`](Self::ready) once the import has run: `None` before (the caller then
    /// awaits `ready`).
    pub fn ready_now(&self) -> Option<Result<(), Refusal>> {
        let failed = |why: &str| Refusal::new(Reason::ConfigInvalid, format!("{SIGNING_KEY_SECRET}: {why}"));
        self.imported.borrow().as_ref().map(|done| done.as_ref().map(|_| ()).map_err(|why| failed(why)))
    }

    /// The imported `CryptoKey` (after [`ready`](Self::ready)); the signature itself is
    /// made in the same call that forwards the request (`headers.js` `forward`).
    pub fn key(&self) -> Option<JsValue> {
        match self.imported.borrow().as_ref() {
            Some(Ok(key)) => Some(key.clone()),
            _ => None,
        }
    }

    /// The `kid` of the key that signs (the health document shows it: which key a rotation
    /// has reached).
    pub fn kid(&self) -> &str {
        &self.key.public.kid
    }

    /// The published key document (RFC 7517 §5, `application/jwk-set+json`), cacheable
    /// for five minutes (a rotation publishes the new key well ahead; README "Rotating the key").
    pub fn keys_response(&self) -> respond::Draft {
        respond::gateway_answer(Answer {
            status: 200,
            headers: vec![("content-type", "application/jwk-set+json".to_string()), ("cache-control", "public, max-age=300".to_string())],
            body: self.jwks.clone(),
        })
    }
}

fn describe(err: &JsValue) -> String {
    err.dyn_ref::<worker::js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| err.as_string())
        .unwrap_or_else(|| "WebCrypto failed".into())
}
