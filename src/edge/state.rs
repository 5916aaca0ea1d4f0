//! Per-isolate state: the parsed configuration, built once on first use.

use std::cell::OnceCell;
use std::rc::Rc;

use worker::js_sys::{Reflect, JSON};
use worker::Env;

use crate::config::{Config, CONFIG_VAR};
use crate::reason::{Reason, Refusal};

thread_local! {
    static CONFIG: OnceCell<Result<Rc<Config>, Refusal>> = const { OnceCell::new() };
    static DIGEST: OnceCell<String> = const { OnceCell::new() };
}

/// `sha256:` and the first 16 hex digits of the configuration's JSON form, so operators
/// can tell which configuration an isolate runs.
pub fn config_digest() -> String {
    DIGEST.with(|d| d.get().cloned().unwrap_or_default())
}

/// The isolate's configuration, or the refusal every request gets while it is invalid.
pub fn config(env: &Env) -> Result<Rc<Config>, Refusal> {
    CONFIG.with(|cell| cell.get_or_init(|| load(env)).clone())
}

fn load(env: &Env) -> Result<Rc<Config>, Refusal> {
    let invalid = |detail: String| {
        // No valid log_level to honour: a broken configuration is always reported.
        let event = crate::event::Event::new(crate::event::Kind::ConfigInvalid).with("problems", detail.as_str());
        super::log::emit(&event, None, crate::config::LogLevel::Info);
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
    DIGEST.with(|d| {
        use sha2::{Digest, Sha256};
        let hash = Sha256::digest(json.as_bytes());
        let _ = d.set(format!("sha256:{}", hash.iter().take(8).map(|b| format!("{b:02x}")).collect::<String>()));
    });
    Config::from_json(&json).map(Rc::new).map_err(|errors| invalid(errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")))
}
