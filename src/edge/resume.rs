//! The signature check of a token the cache does not hold, without a Rust future: when its
//! keys are in memory, `fetch` parks the request here, `documents.js` `verifyThen` asks
//! WebCrypto, and the verdict comes back to [`resume`], which concludes the token
//! (`verify::AwaitingSignature::conclude`, the only way to a `Principal`) and runs the rest
//! of the pipeline in the same call, ending in the relay. Three crossings instead of a
//! future, its promise and the microtask hops around the await.

use std::cell::RefCell;

use worker::js_sys::{Function, Promise};
use worker::wasm_bindgen::closure::Closure;
use worker::wasm_bindgen::prelude::*;
use worker::wasm_bindgen::JsValue;
use worker::web_sys::Request;
use worker::{Context, Env};

use super::slab::Slab;
use super::Prepared;
use crate::extract::bearer_token;
use crate::verify::AwaitingSignature;

#[wasm_bindgen(module = "/src/edge/documents.js")]
extern "C" {
    #[wasm_bindgen(js_name = verifyThen)]
    fn verify_then(key: &JsValue, signature: &[u8], message: &[u8], resume: &Function, id: u32) -> Promise;
}

/// A request waiting for its token's signature check.
pub struct Parked {
    pub request: Request,
    pub env: Env,
    pub ctx: Context,
    pub prepared: Prepared,
    pub awaiting: AwaitingSignature<'static, JsValue>,
    /// The key id the token names (the token cache remembers which key vouched for it).
    pub kid: String,
}

type Resume = dyn Fn(u32, bool, f64) -> JsValue;

thread_local! {
    /// Parked requests by the number handed to `verifyThen` (never 0).
    static PARKED: RefCell<Slab<Parked>> = const { RefCell::new(Slab::new()) };
    static RESUME: Closure<Resume> = Closure::new(resume);
}

/// Parks `parked` and starts its signature check: the promise of the client's response;
/// `parked` back if it cannot be parked (65,535 already wait).
pub fn verify(parked: Parked) -> Result<Promise, Box<Parked>> {
    PARKED.with(|cell| {
        let id = cell.borrow_mut().insert(parked).map_err(Box::new)?;
        // Views of the parked request's own bytes: `crypto.subtle.verify` copies them before
        // it returns, and `resume` runs only once the promise settles (never within this call).
        let parked = cell.borrow();
        let Some(Parked { awaiting, .. }) = parked.get(id) else { return Ok(Promise::resolve(&JsValue::UNDEFINED)) };
        Ok(RESUME.with(|resume| {
            verify_then(awaiting.key(), awaiting.signature(), awaiting.signing_input().as_bytes(), resume.as_ref().unchecked_ref(), id)
        }))
    })
}

/// The verdict on parked request `id`'s signature, at `at` (ms since the epoch).
fn resume(id: u32, signature_valid: bool, at: f64) -> JsValue {
    let Some(parked) = PARKED.with(|cell| cell.borrow_mut().remove(id)) else { return JsValue::UNDEFINED };
    let Parked { request, env, ctx, prepared, awaiting, kid } = parked;
    let Ok(isolate) = prepared.isolate.clone() else { return JsValue::UNDEFINED };
    let config = &isolate.config;
    let now_ms = at as u64;
    let principal = awaiting.conclude(signature_valid, &config.token_rules(), (prepared.context.started_ms / 1000) as i64);
    if let (Ok(principal), Ok(raw)) = (&principal, bearer_token(prepared.headers.authorization.as_deref())) {
        isolate.token_cache.borrow_mut().insert(raw, principal.clone(), kid);
    }
    super::continue_with(request, env, ctx, prepared, principal, now_ms)
}
