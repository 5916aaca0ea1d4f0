//! The edge health endpoint: version, configuration digest, per-tenant key-cache state
//! and cache counters of this isolate. Never a secret or a token.

use serde_json::json;

use crate::key_cache::{cache_label, degraded};
use crate::problem::Answer;

use super::isolate::Isolate;
use super::respond;

pub fn respond(isolate: &Isolate, now: i64) -> respond::Draft {
    let config = &isolate.config;
    let snapshot = isolate.keys.snapshot();
    let degraded = degraded(snapshot.iter().map(|(_, _, state, _)| state));
    let tenants: Vec<_> = snapshot
        .into_iter()
        .map(|(tenant, version, state, key_count)| {
            let cache = cache_label(state.fetched_at, now, &config.keys);
            json!({
                "tenant": tenant.to_string(),
                "version": version.as_str(),
                "cache": cache,
                "key_count": key_count,
                "app_id": config.keys.app_id,
                "age_seconds": state.fetched_at.map(|at| now.saturating_sub(at)),
                "last_unknown_kid_refresh_age_seconds": state.last_unknown_kid_refresh_at().map(|at| now.saturating_sub(at)),
                "consecutive_failures": state.failures,
                "last_error": state.last_error,
            })
        })
        .collect();
    let mut body = json!({
        "status": if degraded { "degraded" } else { "ok" },
        "version": env!("CARGO_PKG_VERSION"),
        "config_digest": isolate.config_digest,
        "routes": config.routes.routes().len(),
        "key_cache": tenants,
        "assertion_kid": isolate.assertion.as_ref().map(|signer| signer.kid()),
        "counters": isolate.keys.counters(),
    });
    if let Some(store) = &isolate.revocations {
        let (entries, age, last_error, failures) = store.summary();
        body["revocation"] = json!({ "entries": entries, "age_seconds": age, "consecutive_failures": failures, "last_error": last_error });
    }
    respond::gateway_answer(Answer {
        status: 200,
        headers: vec![("content-type", "application/json".to_string()), ("cache-control", "no-store".to_string())],
        body: body.to_string(),
    })
}
