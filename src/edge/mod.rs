//! The worker shell: I/O only. Each step's decision is made by the pure core:
//! path → route → (preflight) → token → principal → policy → origin.

mod health;
mod keys;
mod proxy;
mod respond;
mod state;
mod webcrypto;

use std::cell::RefCell;
use std::rc::Rc;

use worker::{Context, Date, Env, Request, Response, Result};

use crate::config::Config;
use crate::cors::Preflight;
use crate::extract::bearer_token;
use crate::path::normalize;
use crate::policy::{authorize, Access};
use crate::principal::Principal;
use crate::reason::{Reason, Refusal};
use crate::routes::{Route, RouteLookup};
use crate::token::UnverifiedToken;
use crate::token_cache::{token_hash, TokenCache};
use crate::verify::authenticate;

use self::keys::KeySource;
use self::proxy::Forwarded;
use self::webcrypto::WebCrypto;

/// Optional secret sent to the origin in `x-entra-edge-secret`.
const ORIGIN_SECRET_BINDING: &str = "ORIGIN_SECRET";

/// Realm used before (or without) a valid configuration.
const FALLBACK_REALM: &str = "entra-edge";

fn now_seconds() -> i64 {
    (Date::now().as_millis() / 1000) as i64
}

/// What the access log records about a request besides its status.
#[derive(Default)]
struct Outcome {
    route: Option<String>,
    principal: Option<Principal>,
    reason: Option<Reason>,
}

thread_local! {
    static TOKEN_CACHE: RefCell<Option<TokenCache>> = const { RefCell::new(None) };
}

/// The cron trigger: refresh configured tenants' keys ahead of expiry.
pub async fn scheduled(env: Env) {
    let Ok(config) = state::config(&env) else { return };
    let Ok(backend) = WebCrypto::new() else { return };
    keys::scheduled_refresh(&KeySource { env, config, backend }, now_seconds()).await;
}

pub async fn handle(request: Request, env: Env, ctx: Context) -> Result<Response> {
    let started = Date::now().as_millis();
    let method = request.method().to_string();
    let path = request.path();
    let (response, outcome) = match state::config(&env) {
        Ok(config) => serve(request, &env, &ctx, &config).await?,
        Err(refusal) => (respond::refusal(&refusal, FALLBACK_REALM)?, Outcome { reason: Some(refusal.reason), ..Outcome::default() }),
    };

    worker::console_log!(
        "{}",
        serde_json::json!({
            "event": "request",
            "method": method,
            "path": path,
            "route": outcome.route,
            "status": response.status_code(),
            "outcome": if outcome.reason.is_none() { "forwarded" } else { "refused" },
            "reason": outcome.reason.map(Reason::code),
            "tenant": outcome.principal.as_ref().map(|p| p.tenant().as_str()),
            "client_app": outcome.principal.as_ref().and_then(Principal::client_app_id),
            "duration_ms": Date::now().as_millis().saturating_sub(started),
        })
    );
    Ok(response)
}

fn refused(refusal: Refusal, config: &Config, route: Option<&Route>) -> Result<(Response, Outcome)> {
    let outcome = Outcome { route: route.map(|r| r.name.clone()), principal: None, reason: Some(refusal.reason) };
    Ok((respond::refusal(&refusal, &config.realm)?, outcome))
}

async fn serve(request: Request, env: &Env, ctx: &Context, config: &Rc<Config>) -> Result<(Response, Outcome)> {
    let url = request.url()?;
    let path = match normalize(url.path()) {
        Ok(path) => path,
        Err(problem) => return refused(Refusal::new(Reason::PathInvalid, problem.describe()), config, None),
    };
    let method = request.method().to_string();
    if config.health_path.as_deref() == Some(path.as_str()) && (method == "GET" || method == "HEAD") {
        return Ok((health::answer(config, now_seconds())?, Outcome { route: Some("health".into()), ..Outcome::default() }));
    }
    let origin = request.headers().get("origin")?;

    if method == "OPTIONS" {
        if let (Some(origin), Some(requested)) = (origin.as_deref(), request.headers().get("access-control-request-method")?) {
            let requested_headers = request.headers().get("access-control-request-headers")?;
            return preflight(config, &path, origin, &requested, requested_headers.as_deref());
        }
    }

    let (route, params) = match config.routes.lookup(&method, &path) {
        RouteLookup::Found { route, params } => (route, params),
        RouteLookup::MethodNotAllowed { allow } => {
            let refusal = Refusal::new(Reason::MethodNotAllowed, format!("{method} is not allowed on this path")).with_allow(allow.join(", "));
            return refused(refusal, config, None);
        }
        RouteLookup::NotFound => return refused(Refusal::new(Reason::RouteNotFound, "no route matches this path"), config, None),
    };

    let decision = match &route.access {
        Access::Public => Ok(None),
        Access::Authenticated(requirements) => match authenticate_request(&request, env, ctx, config).await {
            Ok(principal) => authorize(requirements, &principal, &params, &config.authority).map(|()| Some(principal)),
            Err(refusal) => Err(refusal),
        },
    };
    let (mut response, outcome) = match decision {
        Err(refusal) => refused(refusal, config, Some(route))?,
        Ok(principal) => {
            let origin_secret = env.secret(ORIGIN_SECRET_BINDING).ok().map(|s| s.to_string());
            let forwarded = proxy::forward(request, config, &path, url.query(), principal.as_ref(), origin_secret.as_deref()).await?;
            match forwarded {
                Forwarded::Response(response) => (response, Outcome { route: Some(route.name.clone()), principal, reason: None }),
                Forwarded::Unreachable(err) => {
                    worker::console_error!("{}", serde_json::json!({ "event": "origin_unreachable", "detail": err }));
                    let refusal = Refusal::new(Reason::OriginUnreachable, "the origin could not be reached");
                    let (response, mut outcome) = refused(refusal, config, Some(route))?;
                    outcome.principal = principal;
                    (response, outcome)
                }
            }
        }
    };
    if let Some(cors) = &route.cors {
        respond::apply_cors(&mut response, &cors.response_headers(origin.as_deref()))?;
    }
    Ok((response, outcome))
}

/// Answers a CORS preflight at the edge, without a token.
fn preflight(config: &Config, path: &crate::path::NormalizedPath, origin: &str, method: &str, headers: Option<&str>) -> Result<(Response, Outcome)> {
    let route = match config.routes.lookup(method, path) {
        RouteLookup::Found { route, .. } => route,
        _ => return refused(Refusal::new(Reason::CorsPreflightDenied, "no route allows this method on this path"), config, None),
    };
    let Some(cors) = &route.cors else {
        return refused(Refusal::new(Reason::CorsPreflightDenied, "CORS is not enabled for this route"), config, Some(route));
    };
    match cors.preflight(origin, method, headers) {
        Preflight::Allowed(headers) => Ok((respond::no_content(&headers)?, Outcome { route: Some(route.name.clone()), ..Outcome::default() })),
        Preflight::Denied(why) => refused(Refusal::new(Reason::CorsPreflightDenied, why), config, Some(route)),
    }
}

/// Bearer token → (verified-token cache) → unverified token → keys → `Principal`.
async fn authenticate_request(request: &Request, env: &Env, ctx: &Context, config: &Rc<Config>) -> std::result::Result<Principal, Refusal> {
    let authorization = request.headers().get("authorization").ok().flatten();
    let raw = bearer_token(authorization.as_deref())?;
    let now = now_seconds();
    let hash = token_hash(raw);
    if let Some(principal) = cached_principal(&hash, now, config.token_cache_size) {
        keys::count(|c| c.token_cache_hits += 1);
        return Ok(principal);
    }
    keys::count(|c| c.token_cache_misses += 1);

    let token = UnverifiedToken::parse(raw, config)?;
    let (tenant, version, kid) = (token.tenant().clone(), token.version(), token.kid().to_owned());
    let backend = WebCrypto::new().map_err(|e| Refusal::new(Reason::InternalError, e))?;
    let source = KeySource { env: env.clone(), config: config.clone(), backend };

    let mut keys = keys::keys_for(&source, ctx, &tenant, version, now).await?;
    if keys.keys.find(&kid).is_none() {
        // Possibly a rotation: refresh once, within the cooldown and negative-cache rules.
        keys = keys::after_unknown_kid(&source, &tenant, version, &kid, now, keys).await;
    }
    let principal = authenticate(token, &keys, &source.backend, config, now).await?;
    TOKEN_CACHE.with(|cache| {
        if let Some(cache) = cache.borrow_mut().as_mut() {
            cache.insert(hash, principal.clone(), kid);
        }
    });
    Ok(principal)
}

/// A principal verified earlier from the same token, if its key is still current.
fn cached_principal(hash: &crate::token_cache::TokenHash, now: i64, capacity: usize) -> Option<Principal> {
    TOKEN_CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        let cache = cache.get_or_insert_with(|| TokenCache::new(capacity));
        let (principal, kid) = cache.get(hash, now)?;
        if keys::holds_kid(principal.tenant(), principal.version(), kid) {
            Some(principal.clone())
        } else {
            cache.remove(hash);
            None
        }
    })
}
