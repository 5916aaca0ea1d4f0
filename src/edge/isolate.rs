//! Everything an isolate keeps between requests, in one value built once, on the first
//! request, from the `ENTRA_EDGE` var: the configuration and what is derived from it, the
//! key store, the verified-token cache. The only `thread_local` of the shell holds it.

use std::cell::{OnceCell, RefCell};
use std::rc::Rc;

use worker::js_sys::{Reflect, JSON};
use worker::Env;

use crate::config::{Config, LogLevel, CONFIG_VAR};
use crate::event::{Event, Kind};
use crate::reason::{Reason, Refusal};
use crate::token_cache::TokenCache;

use super::assertion::Signer;
use super::keys::KeyStore;
use super::proxy::DropLists;
use super::respond::SecurityHeaderEdits;
use super::revocation::RevocationStore;
use super::runtime::random_bytes;

pub struct Isolate {
    pub config: Config,
    /// `sha256:` and the first 16 hex digits of the configuration's JSON form, so operators
    /// can tell which configuration an isolate runs.
    pub config_digest: String,
    pub keys: KeyStore,
    pub token_cache: RefCell<TokenCache>,
    /// Header names never forwarded, as the runtime wants them (built once).
    pub drop_lists: DropLists,
    pub security_headers: SecurityHeaderEdits,
    /// The `ORIGIN_SECRET` secret, read once (secrets do not change within an isolate).
    pub origin_secret: Option<String>,
    /// The signed identity assertion (`ENTRA_EDGE.assertion` and its secret; None: off).
    pub assertion: Option<Signer>,
    /// The revocation list's copy and read state; `None` when the list is off.
    pub revocations: Option<RevocationStore>,
}

thread_local! {
    static ISOLATE: OnceCell<Result<Rc<Isolate>, Refusal>> = const { OnceCell::new() };
}

/// This isolate's state, or the refusal every request gets while the configuration is
/// invalid (built on first use; the configuration does not change within an isolate).
pub fn get(env: &Env) -> Result<Rc<Isolate>, Refusal> {
    ISOLATE.with(|cell| cell.get_or_init(|| build(env)).clone())
}

/// This isolate's state if it was built and is valid (for the relay's end, which runs
/// without the request's `Env`).
pub fn current() -> Option<Rc<Isolate>> {
    ISOLATE.with(|cell| cell.get().and_then(|built| built.as_ref().ok().cloned()))
}

fn build(env: &Env) -> Result<Rc<Isolate>, Refusal> {
    let invalid = |detail: String| {
        // No valid log_level to honour: a broken configuration is always reported.
        super::log::emit(&Event::new(Kind::ConfigInvalid).with("problems", detail.as_str()), None, LogLevel::Info);
        Refusal::new(Reason::ConfigInvalid, detail)
    };
    let value = Reflect::get(env, &CONFIG_VAR.into()).map_err(|_| invalid(format!("{CONFIG_VAR}: cannot be read")))?;
    if value.is_undefined() || value.is_null() {
        return Err(invalid(format!("{CONFIG_VAR}: is not set (define [vars.{CONFIG_VAR}] in wrangler.toml)")));
    }
    // A table from wrangler.toml arrives as an object; a JSON string (e.g. `--var`) is accepted too.
    let json = match value.as_string() {
        Some(text) => text,
        None => JSON::stringify(&value).ok().and_then(|s| s.as_string()).ok_or_else(|| invalid(format!("{CONFIG_VAR}: is not JSON")))?,
    };
    let config =
        Config::from_json(&json).map_err(|errors| invalid(errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")))?;
    let config_digest = {
        use sha2::{Digest, Sha256};
        let hash = Sha256::digest(json.as_bytes());
        format!("sha256:{}", hash.iter().take(8).map(|b| format!("{b:02x}")).collect::<String>())
    };
    // A missing or malformed signing key is a configuration problem naming the secret.
    let assertion = match &config.assertion {
        Some(settings) => Some(Signer::new(env, settings).map_err(invalid)?),
        None => None,
    };
    let salt = random_bytes();
    Ok(Rc::new(Isolate {
        token_cache: RefCell::new(TokenCache::new(config.token_cache_size, u64::from_le_bytes(salt[..8].try_into().unwrap_or_default()))),
        drop_lists: DropLists::new(&config),
        security_headers: SecurityHeaderEdits::new(&config.security_headers),
        keys: KeyStore::default(),
        origin_secret: env.secret(crate::bindings::ORIGIN_SECRET).ok().map(|s| s.to_string()),
        revocations: config.revocation.map(|_| RevocationStore::default()),
        config_digest,
        assertion,
        config,
    }))
}
