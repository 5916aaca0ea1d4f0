//! The revocation list's I/O: list the `REVOCATIONS` KV namespace (prefix
//! `revocation/`, entries read from each key's metadata, or its value when a key has none)
//! and hand the entries to the core. When to read, what a failed read means and whether a
//! token matches are all `crate::revocation`'s decisions.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use serde::Deserialize;
use worker::js_sys::{Function, Object, Promise, Reflect, JSON};
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::{Context, Delay, Env};

use crate::bindings::REVOCATIONS;
use crate::event::{Event, Kind};
use crate::principal::Principal;
use crate::reason::{Reason, Refusal};
use crate::revocation::{build_list, token_hash, ListState, Plan, KV_PREFIX, MAX_ENTRIES};

use super::isolate::Isolate;
use super::runtime::{now_ms, within};

/// A KV listing (all its pages) that takes longer than this is a failed read.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// This isolate's copy of the list (part of `Isolate`; only when the list is enabled).
#[derive(Default)]
pub struct RevocationStore {
    state: RefCell<ListState>,
}

impl RevocationStore {
    /// Entries held, age of the copy in seconds, and the last read error (health report).
    pub fn summary(&self) -> (Option<usize>, Option<u64>, Option<String>, u32) {
        let state = self.state.borrow();
        let (entries, age) = state.summary(now_ms());
        (entries, age, state.last_error.clone(), state.consecutive_failures)
    }
}

/// Refuses `principal` (verified, or from the token cache) with 401 `token_revoked` when an
/// entry of the list matches it, or with 503 when the list cannot be read and the failure
/// mode is `fail_closed`. `token` is hashed only if the list holds a token entry.
pub async fn screen(
    isolate: &Rc<Isolate>,
    env: &Env,
    ctx: &Context,
    token: &str,
    principal: &Principal,
    request_id: &str,
) -> Result<(), Refusal> {
    let Some(store) = &isolate.revocations else { return Ok(()) };
    loop {
        let started = now_ms();
        match screen_at(isolate, env, ctx, token, principal, request_id, started) {
            Screened::Done(result) => return result,
            Screened::Read => {
                store.state.borrow_mut().begin_read(started);
                read(isolate, store, env, started).await;
            }
            // The read in flight ends, or is presumed abandoned, within its deadline.
            Screened::Wait => Delay::from(Duration::from_millis(5)).await,
        }
    }
}

/// [`screen`] when it needs no read: `None` when the list must be read (or a read in
/// flight awaited) first. `now_ms` is the request's clock (ms since the epoch).
pub fn screen_now(
    isolate: &Rc<Isolate>,
    env: &Env,
    ctx: &Context,
    token: &str,
    principal: &Principal,
    request_id: &str,
    now_ms: u64,
) -> Option<Result<(), Refusal>> {
    match screen_at(isolate, env, ctx, token, principal, request_id, now_ms) {
        Screened::Done(result) => Some(result),
        Screened::Read | Screened::Wait => None,
    }
}

enum Screened {
    Done(Result<(), Refusal>),
    /// No usable copy: this request reads the list.
    Read,
    /// No usable copy and a read in flight.
    Wait,
}

fn screen_at(
    isolate: &Rc<Isolate>,
    env: &Env,
    ctx: &Context,
    token: &str,
    principal: &Principal,
    request_id: &str,
    started: u64,
) -> Screened {
    let (Some(store), Some(settings)) = (&isolate.revocations, isolate.config.revocation) else { return Screened::Done(Ok(())) };
    let plan = store.state.borrow().plan(started, &settings);
    let list = match plan {
        Plan::Use(list) => list,
        Plan::UseAndRefresh(list) => {
            refresh_in_background(isolate, env, ctx, started);
            list
        }
        Plan::ServeUnchecked { refresh } => {
            if refresh {
                refresh_in_background(isolate, env, ctx, started);
            }
            return Screened::Done(Ok(()));
        }
        Plan::Read => return Screened::Read,
        Plan::Wait => return Screened::Wait,
        Plan::Unavailable { retry_after } => {
            return Screened::Done(Err(Refusal::new(Reason::RevocationListUnavailable, "the revocation list cannot be read right now")
                .with_retry_after(retry_after)));
        }
    };
    let now = (started / 1000) as i64;
    Screened::Done(match list.check(principal, || token_hash(token), now) {
        None => Ok(()),
        Some(hit) => {
            // Who was refused, as the access log would show them (its line has no caller).
            let event = Event::new(Kind::TokenRevoked)
                .with("entry", &*hit.entry_id)
                .with("kind", hit.kind)
                .with("tenant", principal.tenant().as_str())
                .with("client_app", principal.client_app_id())
                .with("oid", crate::access_log::user_id(principal.object_id(), isolate.config.log.user_ids));
            super::log::emit(&event, Some(request_id), isolate.config.log.level);
            Err(Refusal::new(Reason::TokenRevoked, "the token has been revoked"))
        }
    })
}

/// Marks a read in flight now (no await since the plan) and runs it after the response.
fn refresh_in_background(isolate: &Rc<Isolate>, env: &Env, ctx: &Context, started: u64) {
    let Some(store) = &isolate.revocations else { return };
    store.state.borrow_mut().begin_read(started);
    let (isolate, env) = (isolate.clone(), env.clone());
    ctx.wait_until(async move {
        if let Some(store) = &isolate.revocations {
            read(&isolate, store, &env, started).await;
        }
    });
}

/// One read of the whole list (already marked in flight at `started`); records the outcome.
async fn read(isolate: &Isolate, store: &RevocationStore, env: &Env, started: u64) {
    let level = isolate.config.log.level;
    let outcome = match within(READ_TIMEOUT, list_entries(env)).await {
        Some(Ok(items)) => build_list(items, (started / 1000) as i64),
        Some(Err(err)) => Err(err),
        None => Err(format!("no answer from KV within {} s", READ_TIMEOUT.as_secs())),
    };
    match outcome {
        Ok((list, invalid)) => {
            for (key, why) in invalid {
                super::log::emit(&Event::new(Kind::RevocationEntryInvalid).with("key", key).with("detail", why), None, level);
            }
            store.state.borrow_mut().read_succeeded(list, started);
        }
        Err(err) => {
            let on_error = isolate.config.revocation.map(|s| s.on_error);
            let event = Event::new(Kind::RevocationListReadFailed)
                .with("detail", err.as_str())
                .with("on_error", serde_json::to_value(on_error).unwrap_or_default());
            super::log::emit(&event, None, level);
            store.state.borrow_mut().read_failed(err);
        }
    }
}

/// One page of the runtime's `KVNamespace.list()` answer (as JSON).
#[derive(Deserialize)]
struct Page {
    keys: Vec<PageKey>,
    list_complete: bool,
    cursor: Option<String>,
}

#[derive(Deserialize)]
struct PageKey {
    name: String,
    metadata: Option<serde_json::Value>,
}

/// Calls `namespace[method](argument)` and awaits the promise it returns.
async fn call(namespace: &JsValue, method: &str, argument: &JsValue) -> Result<JsValue, String> {
    let failed = |err: JsValue| format!("{REVOCATIONS}.{method} failed: {}", err.as_string().unwrap_or_else(|| format!("{err:?}")));
    let function: Function = Reflect::get(namespace, &method.into()).map_err(failed)?.dyn_into().map_err(failed)?;
    let promise: Promise = function.call1(namespace, argument).map_err(failed)?.dyn_into().map_err(failed)?;
    JsFuture::from(promise).await.map_err(failed)
}

/// Every `(key, entry JSON)` under the prefix, page by page (through the runtime's own
/// `list`, read as JSON: the crate's typed listing would add its own deserializer to the WASM).
async fn list_entries(env: &Env) -> Result<Vec<(String, String)>, String> {
    let namespace = Reflect::get(env, &REVOCATIONS.into()).ok().filter(|v| v.is_object());
    let namespace = namespace.ok_or_else(|| format!("no KV namespace bound as {REVOCATIONS}"))?;
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let options = Object::new();
        let _ = Reflect::set(&options, &"prefix".into(), &KV_PREFIX.into());
        if let Some(cursor) = cursor.take() {
            let _ = Reflect::set(&options, &"cursor".into(), &cursor.into());
        }
        let answer = call(&namespace, "list", &options).await?;
        let json = JSON::stringify(&answer).ok().and_then(|s| s.as_string()).unwrap_or_default();
        let page: Page = serde_json::from_str(&json).map_err(|err| format!("{REVOCATIONS}.list answered {err}"))?;
        for key in page.keys {
            let json = match key.metadata {
                Some(metadata) => Some(metadata.to_string()),
                // `None`: deleted between the listing and the read.
                None => call(&namespace, "get", &key.name.as_str().into()).await?.as_string(),
            };
            if let Some(json) = json {
                items.push((key.name, json));
            }
        }
        if items.len() > MAX_ENTRIES {
            return Err(format!("the list holds more than {MAX_ENTRIES} entries"));
        }
        match (page.list_complete, page.cursor) {
            (false, Some(next)) if !next.is_empty() => cursor = Some(next),
            _ => return Ok(items),
        }
    }
}
