//! The signing-key tiers: isolate memory → KV (`JWKS_CACHE`) → the authority.
//!
//! Policy (freshness, cooldown, KV layout) lives in `key_cache`; this file only moves
//! bytes between the tiers. KV failures fall through to the next tier and are logged.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use futures_util::future::{select, Either};
use worker::{AbortController, Delay, Env, Fetch, Method, Request, RequestInit};

use crate::config::Config;
use crate::discovery::{metadata_url, OpenIdMetadata};
use crate::jwks::{parse_jwks, KeySet, SigningKey};
use crate::key_cache::{freshness, kv_key, may_fetch, Freshness, KeyDocument};
use crate::reason::{Reason, Refusal};
use crate::signature::SignatureBackend;
use crate::tenant::TenantId;
use crate::token_version::TokenVersion;
use crate::verify::TenantKeys;

use super::webcrypto::WebCrypto;

pub const KV_BINDING: &str = "JWKS_CACHE";
/// Metadata and JWKS documents larger than this are not what Entra serves.
const MAX_DOCUMENT_BYTES: usize = 512 * 1024;

pub type Keys = Rc<TenantKeys<<WebCrypto as SignatureBackend>::Key>>;

struct Entry {
    keys: Keys,
    fetched_at: i64,
    /// Last time this isolate asked the authority (success or not).
    last_fetch_at: i64,
}

type CacheKey = (TenantId, TokenVersion);

thread_local! {
    static MEMORY: RefCell<HashMap<CacheKey, Entry>> = RefCell::new(HashMap::new());
}

fn remembered(key: &CacheKey) -> Option<(Keys, i64, i64)> {
    MEMORY.with(|m| m.borrow().get(key).map(|e| (e.keys.clone(), e.fetched_at, e.last_fetch_at)))
}

fn remember(key: CacheKey, keys: Keys, fetched_at: i64, last_fetch_at: i64) {
    MEMORY.with(|m| m.borrow_mut().insert(key, Entry { keys, fetched_at, last_fetch_at }));
}

fn note_fetch_attempt(key: &CacheKey, at: i64) {
    MEMORY.with(|m| {
        if let Some(entry) = m.borrow_mut().get_mut(key) {
            entry.last_fetch_at = at;
        }
    });
}

fn log(event: &str, tenant: &TenantId, version: TokenVersion, detail: &str) {
    worker::console_log!("{}", serde_json::json!({ "event": event, "tenant": tenant.as_str(), "version": version.as_str(), "detail": detail }));
}

/// The keys to verify a token of `tenant`/`version` with at time `now`.
pub async fn keys_for(env: &Env, config: &Config, backend: &WebCrypto, tenant: &TenantId, version: TokenVersion, now: i64) -> Result<Keys, Refusal> {
    let cache_key = (tenant.clone(), version);
    let mut best = remembered(&cache_key);
    if let Some((keys, fetched_at, _)) = &best {
        if freshness(*fetched_at, now, &config.keys) == Freshness::Fresh {
            return Ok(keys.clone());
        }
    }

    // Memory is empty or old: another isolate may have refreshed KV already.
    if let Some(document) = read_kv(env, config, tenant, version).await {
        let newer = best.as_ref().is_none_or(|(_, fetched_at, _)| document.fetched_at > *fetched_at);
        if newer && freshness(document.fetched_at, now, &config.keys) != Freshness::Expired {
            match load_document(backend, &document).await {
                Ok(keys) => {
                    let last_fetch_at = best.as_ref().map_or(i64::MIN, |b| b.2);
                    remember(cache_key.clone(), keys.clone(), document.fetched_at, last_fetch_at);
                    if freshness(document.fetched_at, now, &config.keys) == Freshness::Fresh {
                        return Ok(keys);
                    }
                    best = Some((keys, document.fetched_at, last_fetch_at));
                }
                Err(err) => log("kv_document_unusable", tenant, version, &err),
            }
        }
    }

    // Usable old keys and a recent fetch attempt: do not ask the authority again yet.
    if let Some((keys, fetched_at, last_fetch_at)) = &best {
        if !may_fetch(*last_fetch_at, now, &config.keys) && freshness(*fetched_at, now, &config.keys) != Freshness::Expired {
            return Ok(keys.clone());
        }
    }

    match refresh(env, config, backend, tenant, version, now).await {
        Ok(keys) => Ok(keys),
        Err(err) => {
            log("key_fetch_failed", tenant, version, &err);
            match best {
                Some((keys, fetched_at, _)) if freshness(fetched_at, now, &config.keys) != Freshness::Expired => {
                    log("stale_keys_served", tenant, version, &format!("age {}s", now - fetched_at));
                    Ok(keys)
                }
                _ => Err(Refusal::new(Reason::KeysUnavailable, "the authority's signing keys cannot be obtained right now")),
            }
        }
    }
}

/// After a token named an unknown `kid`: refresh from the authority, unless this tenant
/// was fetched within the cooldown window. Returns the new keys if a refresh happened.
pub async fn refresh_for_unknown_kid(env: &Env, config: &Config, backend: &WebCrypto, tenant: &TenantId, version: TokenVersion, now: i64) -> Option<Keys> {
    let last_fetch_at = remembered(&(tenant.clone(), version)).map_or(i64::MIN, |e| e.2);
    if !may_fetch(last_fetch_at, now, &config.keys) {
        return None;
    }
    match refresh(env, config, backend, tenant, version, now).await {
        Ok(keys) => Some(keys),
        Err(err) => {
            log("key_fetch_failed", tenant, version, &err);
            None
        }
    }
}

/// Fetches metadata and JWKS from the authority, stores them in memory and KV.
async fn refresh(env: &Env, config: &Config, backend: &WebCrypto, tenant: &TenantId, version: TokenVersion, now: i64) -> Result<Keys, String> {
    let cache_key = (tenant.clone(), version);
    note_fetch_attempt(&cache_key, now);
    let timeout = Duration::from_millis(config.keys.fetch_timeout_ms);
    let metadata_json = fetch_document(&metadata_url(&config.authority, tenant, version), timeout).await?;
    let metadata = OpenIdMetadata::parse(metadata_json.as_bytes())?;
    let jwks = fetch_document(&metadata.jwks_uri, timeout).await?;
    let document = KeyDocument { fetched_at: now, metadata, jwks };
    let keys = load_document(backend, &document).await?;
    remember(cache_key, keys.clone(), now, now);
    log("keys_fetched", tenant, version, &format!("{} keys", keys.keys.len()));
    write_kv(env, config, tenant, version, &document).await;
    Ok(keys)
}

async fn load_document(backend: &WebCrypto, document: &KeyDocument) -> Result<Keys, String> {
    let mut keys = Vec::new();
    for jwk in parse_jwks(document.jwks.as_bytes())? {
        match backend.import_key(&jwk).await {
            Ok(key) => keys.push(SigningKey { kid: jwk.kid, issuer: jwk.issuer, key }),
            Err(err) => worker::console_warn!("{err}"),
        }
    }
    if keys.is_empty() {
        return Err("no key of the JWKS could be imported".into());
    }
    Ok(Rc::new(TenantKeys { metadata: document.metadata.clone(), keys: KeySet::new(keys) }))
}

/// GET with a bounded total time (connect, headers and body).
async fn fetch_document(url: &str, timeout: Duration) -> Result<String, String> {
    let controller = AbortController::default();
    let signal = controller.signal();
    let mut init = RequestInit::new();
    init.with_method(Method::Get);
    let request = Request::new_with_init(url, &init).map_err(|e| format!("bad URL {url}: {e}"))?;
    let fetch = async {
        let mut response = Fetch::Request(request).send_with_signal(&signal).await.map_err(|e| format!("{url}: {e}"))?;
        if response.status_code() != 200 {
            return Err(format!("{url}: HTTP {}", response.status_code()));
        }
        let body = response.text().await.map_err(|e| format!("{url}: {e}"))?;
        if body.len() > MAX_DOCUMENT_BYTES {
            return Err(format!("{url}: document too large"));
        }
        Ok(body)
    };
    let fetch = std::pin::pin!(fetch);
    let delay = std::pin::pin!(Delay::from(timeout));
    match select(fetch, delay).await {
        Either::Left((result, _)) => result,
        Either::Right(_) => {
            controller.abort();
            Err(format!("{url}: no answer within {} ms", timeout.as_millis()))
        }
    }
}

async fn read_kv(env: &Env, config: &Config, tenant: &TenantId, version: TokenVersion) -> Option<KeyDocument> {
    let kv = match env.kv(KV_BINDING) {
        Ok(kv) => kv,
        Err(_) => {
            log("kv_unavailable", tenant, version, "JWKS_CACHE binding missing");
            return None;
        }
    };
    match kv.get(&kv_key(&config.authority, tenant, version)).text().await {
        Ok(Some(text)) => serde_json::from_str(&text).map_err(|e| log("kv_document_unusable", tenant, version, &e.to_string())).ok(),
        Ok(None) => None,
        Err(err) => {
            log("kv_read_failed", tenant, version, &err.to_string());
            None
        }
    }
}

async fn write_kv(env: &Env, config: &Config, tenant: &TenantId, version: TokenVersion, document: &KeyDocument) {
    let Ok(kv) = env.kv(KV_BINDING) else { return };
    let Ok(text) = serde_json::to_string(document) else { return };
    // KV's minimum TTL is 60 s; keep the document as long as it may be served stale.
    let ttl = config.keys.max_stale_seconds.max(60);
    let result = match kv.put(&kv_key(&config.authority, tenant, version), text) {
        Ok(put) => put.expiration_ttl(ttl).execute().await,
        Err(err) => Err(err),
    };
    if let Err(err) = result {
        log("kv_write_failed", tenant, version, &err.to_string());
    }
}
