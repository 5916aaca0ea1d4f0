//! entra-edge: a Cloudflare Worker that verifies Microsoft Entra ID access tokens at the
//! edge and forwards allowed requests to the origin with trustworthy identity headers.
//!
//! The crate is a pure core (no `worker` types; unit-tested on the host) and a thin
//! shell in [`edge`] that does the I/O. This file is wiring only.

// Refusals carry optional challenge details; they are built once per refused request,
// so their size does not matter next to the I/O of any request.
#![allow(clippy::result_large_err)]

pub mod access_log;
pub mod assertion;
pub mod bindings;
pub mod claim_rules;
pub mod claims;
pub mod config;
pub mod cors;
pub mod discovery;
pub mod event;
// Host-only (`entra-edge explain`): never part of the worker.
#[cfg(not(target_arch = "wasm32"))]
pub mod explain;
pub mod extract;
pub mod forward;
pub mod gateway;
pub mod jwks;
pub mod key_cache;
pub mod path;
pub mod policy;
pub mod principal;
pub mod problem;
pub mod rate_limit;
pub mod reason;
pub mod request_id;
pub mod resource_metadata;
pub mod revocation;
pub mod route;
pub mod security_headers;
pub mod signature;
pub mod tenant;
pub mod token;
pub mod token_cache;
pub mod token_version;
pub mod trace;
pub mod verify;
#[cfg(feature = "cli")]
pub mod wrangler_file;

mod edge;

use worker::{event, web_sys, Context, Env, ScheduleContext, ScheduledEvent};

#[event(start)]
fn start() {
    console_error_panic_hook::set_once();
}

/// The fetch handler, exported by hand rather than with `#[event(fetch)]`: that macro
/// makes every request an async Rust task (a future, its promise and the microtask hops
/// between them), where most requests need no await at all (`edge::fetch`). It takes the
/// runtime's own request type: `worker::Request` would eagerly read (and materialize)
/// `request.cf`. Returns a `Response` or a promise of one.
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn fetch(request: web_sys::Request, env: Env, ctx: worker::worker_sys::Context) -> wasm_bindgen::JsValue {
    edge::fetch(request, env, Context::new(ctx))
}

#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    edge::scheduled(env).await;
}
