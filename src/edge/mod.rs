//! The worker shell: I/O only. Each step's decision is made by the pure core.

mod keys;
mod proxy;
mod respond;
mod state;
mod webcrypto;

use worker::{Date, Env, Request, Response, Result};

use crate::config::Config;
use crate::extract::bearer_token;
use crate::principal::Principal;
use crate::reason::{Reason, Refusal};
use crate::token::UnverifiedToken;
use crate::verify::authenticate;

use self::proxy::Forwarded;
use self::webcrypto::WebCrypto;

/// Optional secret sent to the origin in `x-entra-edge-secret`.
const ORIGIN_SECRET_BINDING: &str = "ORIGIN_SECRET";

/// Realm used before (or without) a valid configuration.
const FALLBACK_REALM: &str = "entra-edge";

fn now_seconds() -> i64 {
    (Date::now().as_millis() / 1000) as i64
}

pub async fn handle(request: Request, env: Env) -> Result<Response> {
    let started = Date::now().as_millis();
    let method = request.method().to_string();
    let path = request.path();
    let (response, principal, reason) = match state::config(&env) {
        Ok(config) => serve(request, &env, &config).await?,
        Err(refusal) => (respond::refusal(&refusal, FALLBACK_REALM)?, None, Some(refusal.reason)),
    };

    worker::console_log!(
        "{}",
        serde_json::json!({
            "event": "request",
            "method": method,
            "path": path,
            "status": response.status_code(),
            "outcome": if reason.is_none() { "forwarded" } else { "refused" },
            "reason": reason.map(Reason::code),
            "tenant": principal.as_ref().map(|p| p.tenant().as_str()),
            "client_app": principal.as_ref().and_then(Principal::client_app_id),
            "duration_ms": Date::now().as_millis().saturating_sub(started),
        })
    );
    Ok(response)
}

/// Authenticates and forwards: the answer, who asked, and why it was refused (if it was).
async fn serve(request: Request, env: &Env, config: &Config) -> Result<(Response, Option<Principal>, Option<Reason>)> {
    let principal = match authenticate_request(&request, env, config).await {
        Ok(principal) => principal,
        Err(refusal) => return Ok((respond::refusal(&refusal, &config.realm)?, None, Some(refusal.reason))),
    };
    let origin_secret = env.secret(ORIGIN_SECRET_BINDING).ok().map(|s| s.to_string());
    match proxy::forward(request, config, &principal, origin_secret.as_deref()).await? {
        Forwarded::Response(response) => Ok((response, Some(principal), None)),
        Forwarded::Unreachable(err) => {
            worker::console_error!("{}", serde_json::json!({ "event": "origin_unreachable", "detail": err }));
            let refusal = Refusal::new(Reason::OriginUnreachable, "the origin could not be reached");
            Ok((respond::refusal(&refusal, &config.realm)?, Some(principal), Some(refusal.reason)))
        }
    }
}

/// Bearer token → unverified token → keys → `Principal`.
async fn authenticate_request(request: &Request, env: &Env, config: &Config) -> std::result::Result<Principal, Refusal> {
    let authorization = request.headers().get("authorization").ok().flatten();
    let raw = bearer_token(authorization.as_deref())?;
    let token = UnverifiedToken::parse(raw, config)?;
    let (tenant, version) = (token.tenant().clone(), token.version());
    let backend = WebCrypto::new().map_err(|e| Refusal::new(Reason::InternalError, e))?;
    let now = now_seconds();

    let keys = keys::keys_for(env, config, &backend, &tenant, version, now).await?;
    if keys.keys.find(token.kid()).is_none() {
        // Possibly a rotation: one refresh (rate-limited per tenant) before refusing.
        if let Some(refreshed) = keys::refresh_for_unknown_kid(env, config, &backend, &tenant, version, now).await {
            return authenticate(token, &refreshed, &backend, config, now).await;
        }
    }
    authenticate(token, &keys, &backend, config, now).await
}
