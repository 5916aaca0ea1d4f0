//! The signing-key tiers: isolate memory → KV (`JWKS_CACHE`) → the authority.
//!
//! Every rule (freshness, refresh discipline, in-flight refreshes and when one counts as
//! abandoned, back-off and `Retry-After`, negative cache, when a KV copy is taken, when the
//! cron is due) is in `key_cache`, unit-tested with an injected clock; this file moves bytes
//! between the tiers. Concurrent requests of an isolate that need the
//! same tenant's keys share one refresh (single flight). Stale keys are served at once
//! while the refresh runs after the response (`wait_until`). KV failures fall through to
//! the next tier and are logged, never failing a request by themselves.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use worker::wasm_bindgen::JsCast;
use worker::wasm_bindgen_futures::JsFuture;
use worker::{Context, Delay, Env};

use crate::config::LogLevel;
use crate::discovery::{checked_jwks_uri, metadata_url, OpenIdMetadata};
use crate::event::{Event, Kind};
use crate::jwks::{parse_jwks, KeySet, SigningKey};
use crate::key_cache::{
    accept_kv_copy, cron_due, kv_key, kv_ttl_seconds, KeyCounters, KeyDocument, KeyState, Plan, RefuseCause, UnknownKid, KV_TIMEOUT_MS,
    MAX_DOCUMENT_BYTES,
};
use crate::reason::{Reason, Refusal};
use crate::signature::SignatureBackend;
use crate::tenant::{Directory, TenantId};
use crate::token_version::TokenVersion;
use crate::verify::TenantKeys;

use super::isolate::Isolate;
use super::runtime::{now_ms, within};
use super::webcrypto::WebCrypto;

use crate::bindings::JWKS_CACHE as KV_BINDING;

pub type Keys = Rc<TenantKeys<<WebCrypto as SignatureBackend>::Key>>;
type CacheKey = (Directory, TokenVersion);

#[derive(Default)]
struct Slot {
    state: KeyState,
    keys: Option<Keys>,
}

/// This isolate's key sets and counters (part of `Isolate`).
#[derive(Default)]
pub struct KeyStore {
    slots: RefCell<HashMap<CacheKey, Slot>>,
    counters: RefCell<KeyCounters>,
}

impl KeyStore {
    fn with_slot<R>(&self, key: &CacheKey, f: impl FnOnce(&mut Slot) -> R) -> R {
        f(self.slots.borrow_mut().entry(key.clone()).or_default())
    }

    pub fn count(&self, f: impl FnOnce(&mut KeyCounters)) {
        f(&mut self.counters.borrow_mut());
    }

    pub fn counters(&self) -> KeyCounters {
        *self.counters.borrow()
    }

    /// Cache state of every directory this isolate has seen: (directory, version, state, key count).
    pub fn snapshot(&self) -> Vec<(Directory, TokenVersion, KeyState, usize)> {
        let mut rows: Vec<_> = self
            .slots
            .borrow()
            .iter()
            .map(|((tenant, version), slot)| (tenant.clone(), *version, slot.state.clone(), slot.keys.as_ref().map_or(0, |k| k.keys.len())))
            .collect();
        rows.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        rows
    }

    /// The refresh generation of a tenant's keys, noted by a request before it looks at them.
    pub fn generation(&self, directory: &Directory, version: TokenVersion) -> u64 {
        self.with_slot(&(directory.clone(), version), |slot| slot.state.generation())
    }

    /// True when the keys currently held for the tenant still vouch for a token signed with
    /// `kid`: the key is still published (a retired key is not) and still bound to the
    /// token's issuer and to the metadata's cloud (the checks `verify::authenticate` made).
    pub fn still_trusts(&self, directory: Directory, tenant: &TenantId, version: TokenVersion, kid: &str) -> bool {
        self.slots.borrow().get(&(directory, version)).and_then(|s| s.keys.as_ref()).is_some_and(|keys| keys.still_trusts(kid, tenant))
    }
}

fn log(source: &KeySource, kind: Kind, directory: &Directory, version: TokenVersion, detail: &str) {
    let event = Event::new(kind).with("tenant", directory.to_string()).with("version", version.as_str()).with("detail", detail);
    super::log::emit(&event, None, source.isolate.config.log.level);
}

/// Everything a refresh needs, owned, so it can outlive the request that started it.
#[derive(Clone)]
pub struct KeySource {
    pub env: Env,
    pub isolate: Rc<Isolate>,
    pub backend: WebCrypto,
}

/// The keys to verify a token of `tenant`/`version` naming `kid` at time `now`.
///
/// With no usable keys in memory, the request fetches them (or joins the fetch in flight);
/// a KV copy is taken only when it holds `kid`, so a restart right after a rollover does not
/// pin the isolate to the old set.
pub async fn keys_for(
    source: &KeySource,
    ctx: &Context,
    directory: &Directory,
    version: TokenVersion,
    kid: &str,
    now: i64,
) -> Result<Keys, Refusal> {
    let key = (directory.clone(), version);
    let (plan, cached) = source.isolate.keys.with_slot(&key, |slot| (slot.state.plan(now, &source.isolate.config.keys), slot.keys.clone()));
    match (plan, cached) {
        (Plan::Use, Some(keys)) => {
            source.isolate.keys.count(|c| c.memory_hits += 1);
            Ok(keys)
        }
        (Plan::UseAndRefresh, Some(keys)) => {
            source.isolate.keys.count(|c| c.stale_serves += 1);
            if !is_refreshing(source, &key) {
                // Marked as in flight now, not when the runtime first polls the background
                // task: this very request may meet an unknown kid next and must join it.
                source.isolate.keys.with_slot(&key, |slot| slot.state.begin_refresh(now_ms()));
                let (source, key) = (source.clone(), key.clone());
                ctx.wait_until(async move {
                    let _ = run_refresh(&source, &key, now, None).await;
                });
            }
            Ok(keys)
        }
        (Plan::Unavailable { retry_after }, _) => {
            source.isolate.keys.count(|c| c.unavailable += 1);
            Err(unavailable(retry_after))
        }
        _ => {
            let result = if is_refreshing(source, &key) {
                wait_for_refresh(source, &key).await;
                source.isolate.keys.with_slot(&key, |slot| match (&slot.keys, &slot.state.last_error) {
                    (Some(keys), None) => Ok(keys.clone()),
                    (_, Some(error)) => Err(error.clone()),
                    (None, None) => Err("the refresh in flight was abandoned".to_string()),
                })
            } else {
                lead_refresh(source, &key, now, Some(kid)).await
            };
            result.map_err(|_| {
                source.isolate.keys.count(|c| c.unavailable += 1);
                unavailable(source.isolate.keys.with_slot(&key, |slot| slot.state.retry_after(now)))
            })
        }
    }
}

/// [`keys_for`] when it needs no I/O and no refresh: the keys in memory, current, and
/// holding `kid`. `None` for anything else (the caller takes the async path).
pub fn keys_now(isolate: &Isolate, directory: &Directory, version: TokenVersion, kid: &str, now: i64) -> Option<Keys> {
    let key = (directory.clone(), version);
    let (plan, cached) = isolate.keys.with_slot(&key, |slot| (slot.state.plan(now, &isolate.config.keys), slot.keys.clone()));
    match (plan, cached) {
        (Plan::Use, Some(keys)) if keys.keys.find(kid).is_some() => {
            isolate.keys.count(|c| c.memory_hits += 1);
            Some(keys)
        }
        _ => None,
    }
}

fn unavailable(retry_after: u64) -> Refusal {
    Refusal::new(Reason::KeysUnavailable, "the authority's signing keys cannot be obtained right now").with_retry_after(retry_after)
}

/// A token named `kid`, which `current` lacks; the request noted refresh generation
/// `seen_generation` before it looked at the keys. Refreshes once if the policy allows it
/// (`KeyState::unknown_kid`: join a refresh in flight, cooldown from the last unknown-kid
/// refresh, back-off, negative cache). Returns the keys to verify with (refreshed or not).
pub async fn after_unknown_kid(
    source: &KeySource,
    directory: &Directory,
    version: TokenVersion,
    kid: &str,
    seen_generation: u64,
    current: Keys,
) -> Keys {
    let key = (directory.clone(), version);
    let settings = &source.isolate.config.keys;
    loop {
        // Another request may have just brought the kid.
        let latest = source.isolate.keys.with_slot(&key, |slot| slot.keys.clone()).unwrap_or_else(|| current.clone());
        if latest.keys.find(kid).is_some() {
            return latest;
        }
        let now_ms = now_ms();
        let now = (now_ms / 1000) as i64;
        match source.isolate.keys.with_slot(&key, |slot| slot.state.unknown_kid(kid, now, now_ms, seen_generation, settings)) {
            UnknownKid::Refuse { cause } => {
                source.isolate.keys.count(|c| match cause {
                    RefuseCause::NegativeCache => c.negative_cache_hits += 1,
                    _ => c.refresh_refused_cooldown += 1,
                });
                return latest;
            }
            // The refresh ends (or is presumed abandoned) within its deadline; then ask again.
            UnknownKid::Join => wait_for_refresh(source, &key).await,
            UnknownKid::Refresh => {
                return match lead_refresh(source, &key, now, Some(kid)).await {
                    Ok(keys) => {
                        if keys.keys.find(kid).is_none() {
                            source.isolate.keys.with_slot(&key, |slot| slot.state.still_unknown(kid, now, settings));
                        }
                        keys
                    }
                    Err(_) => latest,
                };
            }
        }
    }
}

fn is_refreshing(source: &KeySource, key: &CacheKey) -> bool {
    source.isolate.keys.with_slot(key, |slot| slot.state.refreshing(now_ms(), &source.isolate.config.keys))
}

/// This request refreshes the keys (single flight: callers check [`is_refreshing`] or got
/// `UnknownKid::Refresh` first, with no await in between).
async fn lead_refresh(source: &KeySource, key: &CacheKey, now: i64, wanted_kid: Option<&str>) -> Result<Keys, String> {
    source.isolate.keys.with_slot(key, |slot| slot.state.begin_refresh(now_ms()));
    run_refresh(source, key, now, wanted_kid).await
}

/// The body of a refresh already marked as in flight; marks it ended, whatever the outcome.
async fn run_refresh(source: &KeySource, key: &CacheKey, now: i64, wanted_kid: Option<&str>) -> Result<Keys, String> {
    let result = refresh_tiers(source, key, now, wanted_kid).await;
    source.isolate.keys.with_slot(key, |slot| slot.state.end_refresh());
    result
}

/// Waits until the refresh in flight ends (or is presumed abandoned).
///
/// Waiters poll isolate memory on their own timer instead of awaiting the leader's
/// future: the runtime cancels a request that waits only on another request's I/O as
/// hung.
async fn wait_for_refresh(source: &KeySource, key: &CacheKey) {
    while is_refreshing(source, key) {
        Delay::from(Duration::from_millis(5)).await;
    }
}

/// KV first (another isolate or the cron may have refreshed), then the authority.
async fn refresh_tiers(source: &KeySource, key: &CacheKey, now: i64, wanted_kid: Option<&str>) -> Result<Keys, String> {
    let (tenant, version) = key;
    let settings = &source.isolate.config.keys;
    let held_since = source.isolate.keys.with_slot(key, |slot| slot.state.fetched_at);

    if let Some(document) = read_kv(source, tenant, *version).await {
        // Cheap pre-check (freshness, age) before importing the keys; then the full rule.
        if accept_kv_copy(document.fetched_at, held_since, true, now, settings) {
            match load_document(&source.backend, &document, source.isolate.config.log.level).await {
                Ok(keys) => {
                    let holds_wanted = wanted_kid.is_none_or(|kid| keys.keys.find(kid).is_some());
                    if accept_kv_copy(document.fetched_at, held_since, holds_wanted, now, settings) {
                        source.isolate.keys.count(|c| c.kv_hits += 1);
                        install(source, key, keys.clone(), document.fetched_at);
                        return Ok(keys);
                    }
                }
                Err(err) => log(source, Kind::KvDocumentUnusable, tenant, *version, &err),
            }
        }
    }

    refresh_from_authority(source, key, now).await
}

/// Asks the authority, and on success installs the keys in memory and writes them to KV;
/// every outcome is counted and logged and updates the tenant's cache state.
async fn refresh_from_authority(source: &KeySource, key: &CacheKey, now: i64) -> Result<Keys, String> {
    let (tenant, version) = key;
    source.isolate.keys.with_slot(key, |slot| slot.state.record_attempt(now));
    match fetch_from_authority(source, tenant, *version, now).await {
        Ok((keys, document)) => {
            source.isolate.keys.count(|c| c.authority_fetches += 1);
            install(source, key, keys.clone(), now);
            log(source, Kind::KeysFetched, tenant, *version, &format!("{} keys", keys.keys.len()));
            write_kv(source, tenant, *version, &document).await;
            Ok(keys)
        }
        Err(err) => {
            source.isolate.keys.count(|c| c.authority_failures += 1);
            source.isolate.keys.with_slot(key, |slot| slot.state.record_failure(err.clone()));
            log(source, Kind::KeyFetchFailed, tenant, *version, &err);
            Err(err)
        }
    }
}

fn install(source: &KeySource, key: &CacheKey, keys: Keys, fetched_at: i64) {
    source.isolate.keys.with_slot(key, |slot| {
        slot.keys = Some(keys);
        slot.state.record_success(fetched_at);
    });
}

/// The cron refresh: fetch every configured tenant's keys whose KV copy is past half its
/// refresh time, so user requests rarely wait for the authority.
pub async fn scheduled_refresh(source: &KeySource, now: i64) {
    let config = &source.isolate.config;
    for directory in config.tenants.directories() {
        for version in &config.token_versions {
            let kv_fetched_at = read_kv(source, &directory, *version).await.map(|doc| doc.fetched_at);
            if !cron_due(kv_fetched_at, now, &config.keys) {
                continue;
            }
            // Outcomes are counted and logged inside; the cron has nothing to add.
            let _ = refresh_from_authority(source, &(directory.clone(), *version), now).await;
        }
    }
}

async fn fetch_from_authority(
    source: &KeySource,
    directory: &Directory,
    version: TokenVersion,
    now: i64,
) -> Result<(Keys, KeyDocument), String> {
    let config = &source.isolate.config;
    let timeout = Duration::from_millis(config.keys.fetch_timeout_ms);
    let app_id = config.keys.app_id.as_deref();
    let metadata_json = fetch_document(&metadata_url(&config.authority, directory, version, app_id), timeout).await?;
    let metadata = OpenIdMetadata::parse(metadata_json.as_bytes())?;
    let jwks_uri = checked_jwks_uri(&metadata.jwks_uri, &config.authority, &config.keys.allowed_jwks_hosts, app_id)?;
    let jwks = fetch_document(&jwks_uri, timeout).await?;
    let document = KeyDocument { fetched_at: now, metadata, jwks };
    let keys = load_document(&source.backend, &document, source.isolate.config.log.level).await?;
    Ok((keys, document))
}

async fn load_document(backend: &WebCrypto, document: &KeyDocument, level: LogLevel) -> Result<Keys, String> {
    let mut keys = Vec::new();
    for jwk in parse_jwks(document.jwks.as_bytes())? {
        match backend.import_key(&jwk).await {
            Ok(key) => keys.push(SigningKey { kid: jwk.kid, issuer: jwk.issuer, cloud_instance_name: jwk.cloud_instance_name, key }),
            Err(err) => super::log::emit(&Event::new(Kind::KeyImportFailed).with("kid", jwk.kid.as_str()).with("detail", err), None, level),
        }
    }
    if keys.is_empty() {
        return Err("no key of the JWKS could be imported".into());
    }
    Ok(Rc::new(TenantKeys { metadata: document.metadata.clone(), keys: KeySet::new(keys) }))
}

/// GET with a bounded total time (connect, headers and body), no redirects, and at most
/// `MAX_DOCUMENT_BYTES` read (`documents.js`).
async fn fetch_document(url: &str, timeout: Duration) -> Result<String, String> {
    let millis = u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX);
    let fetch = JsFuture::from(super::js::fetch_document(url, millis, MAX_DOCUMENT_BYTES as u32));
    // The JS side aborts on its own timer; this bound is the backstop for a runtime whose
    // abort does not reach a body read.
    match within(timeout + Duration::from_millis(250), fetch).await {
        Some(Ok(body)) => body.as_string().ok_or_else(|| format!("{url}: the body is not text")),
        Some(Err(err)) => {
            let why = err.dyn_ref::<worker::js_sys::Error>().map(|e| String::from(e.message())).unwrap_or_else(|| "fetch failed".into());
            Err(format!("{url}: {why}"))
        }
        None => Err(format!("{url}: no answer within {} ms", timeout.as_millis())),
    }
}

async fn read_kv(source: &KeySource, tenant: &Directory, version: TokenVersion) -> Option<KeyDocument> {
    let kv = match source.env.kv(KV_BINDING) {
        Ok(kv) => kv,
        Err(_) => {
            log(source, Kind::KvUnavailable, tenant, version, "JWKS_CACHE binding missing");
            return None;
        }
    };
    let read = kv.get(&kv_key(&source.isolate.config.authority, tenant, version, source.isolate.config.keys.app_id.as_deref())).text();
    let outcome = within(Duration::from_millis(KV_TIMEOUT_MS), read)
        .await
        .map_or_else(|| Err(format!("no answer within {KV_TIMEOUT_MS} ms")), |read| read.map_err(|e| e.to_string()));
    match outcome {
        Ok(Some(text)) => {
            serde_json::from_str(&text).map_err(|e| log(source, Kind::KvDocumentUnusable, tenant, version, &e.to_string())).ok()
        }
        Ok(None) => None,
        Err(err) => {
            log(source, Kind::KvReadFailed, tenant, version, &err);
            None
        }
    }
}

async fn write_kv(source: &KeySource, tenant: &Directory, version: TokenVersion, document: &KeyDocument) {
    let Ok(kv) = source.env.kv(KV_BINDING) else { return };
    let Ok(text) = serde_json::to_string(document) else { return };
    let ttl = kv_ttl_seconds(&source.isolate.config.keys);
    let result =
        match kv.put(&kv_key(&source.isolate.config.authority, tenant, version, source.isolate.config.keys.app_id.as_deref()), text) {
            Ok(put) => within(Duration::from_millis(KV_TIMEOUT_MS), put.expiration_ttl(ttl).execute())
                .await
                .map_or_else(|| Err(format!("no answer within {KV_TIMEOUT_MS} ms")), |put| put.map_err(|e| e.to_string())),
            Err(err) => Err(err.to_string()),
        };
    if let Err(err) = result {
        log(source, Kind::KvWriteFailed, tenant, version, &err);
    }
}
