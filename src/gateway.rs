//! One request, one plan: every decision of the pipeline, in order, as pure functions the
//! worker shell calls between its I/O steps (quinn-proto's shape: the core decides, the
//! driver moves bytes).
//!
//! ```text
//! start(head)                      → Health | AssertionKeys | Preflight | Refuse | Admit{route, params, path}
//! admit: authenticate (shell I/O)  → authorize(route, authentication)      → principal, refusal
//!        rate_limit_check(...)     → None | Some(limit, bucket)            (only if nothing refused)
//!        limiter (shell I/O)       → after_limiter(limit, verdict)         → refusal?, header edits
//!        origin (shell I/O)        → response, or origin_failed(why)       → 502 | 504
//! answer: cors_edits(...), the limiter's edits, security_edits(...) → typed header edits
//! ```

use std::borrow::Cow;

use crate::config::Config;
use crate::cors::Preflight;
use crate::path::{normalize, NormalizedPath};
use crate::policy::{authorize_traced as authorize_traced_route, Access};
use crate::principal::Principal;
use crate::rate_limit::{FailureMode, RateLimit, Verdict};
use crate::reason::{Reason, Refusal};
use crate::resource_metadata::ProtectedResource;
use crate::route::{Route, RouteLookup};
use crate::trace::Trace;

/// How a header edit combines with what a message already has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderMode {
    /// Replace any existing value.
    Set,
    /// Add a value (e.g. `Vary`, which the origin may have set too).
    Append,
    /// Set only when the message has none (the origin's own security headers win).
    SetIfMissing,
}

/// One header change for an answer; only the shell's glue knows how it crosses to JS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeaderEdit {
    /// Lowercase header name (static for the gateway's own, owned for configured ones).
    pub name: Cow<'static, str>,
    pub value: String,
    pub mode: HeaderMode,
}

impl HeaderEdit {
    pub fn set(name: impl Into<Cow<'static, str>>, value: impl Into<String>) -> HeaderEdit {
        HeaderEdit { name: name.into(), value: value.into(), mode: HeaderMode::Set }
    }
}

/// What the shell knows of a request before anything is awaited.
#[derive(Clone, Copy, Debug)]
pub struct RequestHead<'a> {
    pub method: &'a str,
    /// The URL's path as received (not yet normalized).
    pub raw_path: &'a str,
    pub origin: Option<&'a str>,
    pub access_control_request_method: Option<&'a str>,
    pub access_control_request_headers: Option<&'a str>,
}

impl<'a> RequestHead<'a> {
    /// A request that is not a CORS preflight and carries no `Origin` (what `explain` and
    /// tests ask about).
    pub fn plain(method: &'a str, raw_path: &'a str) -> RequestHead<'a> {
        RequestHead { method, raw_path, origin: None, access_control_request_method: None, access_control_request_headers: None }
    }
}

/// The first decision about a request.
#[derive(Debug, PartialEq, Eq)]
pub enum Start<'c> {
    /// The edge health endpoint (answered before routing, without a token).
    Health,
    /// The RFC 9728 protected-resource metadata document (before routing, without a
    /// token): 200 with the document, or 204 to a CORS preflight.
    ResourceMetadata { resource: &'c ProtectedResource, preflight: bool },
    /// The signed assertion's public keys (`assertion.jwks_path`; answered before routing,
    /// without a token).
    AssertionKeys,
    /// A CORS preflight answered at the edge: 204 with these headers.
    Preflight { route: &'c Route, headers: Vec<HeaderEdit> },
    /// Refused before any token is looked at (bad path, no route, preflight denied).
    Refuse { refusal: Refusal, route: Option<&'c Route> },
    /// A route matched: authenticate if it needs it, then go on.
    Admit(Admitted<'c>),
}

/// A request that matched `route` at the normalized `path` (the one the origin receives).
#[derive(Debug, PartialEq, Eq)]
pub struct Admitted<'c> {
    pub route: &'c Route,
    /// The route's named segments (`{tenant}` → value).
    pub params: Vec<(&'c str, String)>,
    pub path: NormalizedPath,
}

impl Admitted<'_> {
    /// Whether the shell must authenticate the caller before [`authorize`].
    pub fn needs_token(&self) -> bool {
        matches!(self.route.access, Access::Authenticated(_))
    }
}

/// Path → health → resource metadata → preflight → route, in that order.
pub fn start<'c>(config: &'c Config, head: RequestHead<'_>) -> Start<'c> {
    let path = match normalize(head.raw_path) {
        Ok(path) => path,
        Err(problem) => return Start::Refuse { refusal: Refusal::new(Reason::PathInvalid, problem.describe()), route: None },
    };
    let method = head.method;
    if config.health_path.as_deref() == Some(path.as_str()) && (method == "GET" || method == "HEAD") {
        return Start::Health;
    }
    if let Some(resource) = config.protected_resource.as_ref().filter(|r| r.serves(path.as_str())) {
        // The gateway owns this path: it never reaches the origin, whatever the method.
        return match method {
            "GET" | "HEAD" => Start::ResourceMetadata { resource, preflight: false },
            "OPTIONS" => Start::ResourceMetadata { resource, preflight: true },
            _ => Start::Refuse {
                refusal: Refusal::new(Reason::MethodNotAllowed, format!("{method} is not allowed on {}", resource.paths[0]))
                    .with_allow("GET, HEAD, OPTIONS"),
                route: None,
            },
        };
    }
    if let Some(assertion) = &config.assertion {
        if assertion.jwks_path.as_deref() == Some(path.as_str()) && (method == "GET" || method == "HEAD") {
            return Start::AssertionKeys;
        }
    }
    if method == "OPTIONS" {
        if let (Some(origin), Some(requested)) = (head.origin, head.access_control_request_method) {
            return preflight(config, &path, origin, requested, head.access_control_request_headers);
        }
    }
    match config.routes.lookup(method, &path) {
        RouteLookup::Found { route, params } => {
            let params = params.into_iter().map(|(name, value)| (name, value.to_string())).collect();
            Start::Admit(Admitted { route, params, path })
        }
        RouteLookup::MethodNotAllowed { allow } => Start::Refuse {
            refusal: Refusal::new(Reason::MethodNotAllowed, format!("{method} is not allowed on this path")).with_allow(allow.join(", ")),
            route: None,
        },
        RouteLookup::NotFound => Start::Refuse { refusal: Refusal::new(Reason::RouteNotFound, "no route matches this path"), route: None },
    }
}

/// The headers of the metadata answer (and of its preflight): a public document any
/// browser-based client may read (no credentials), cacheable for an hour. A preflight
/// allows the request headers it asks for (MCP clients send `MCP-Protocol-Version`) when
/// they are a well-formed list of header names.
pub fn resource_metadata_edits(preflight: bool, requested_headers: Option<&str>) -> Vec<HeaderEdit> {
    let mut edits = vec![HeaderEdit::set("access-control-allow-origin", "*")];
    if preflight {
        edits.push(HeaderEdit::set("access-control-allow-methods", "GET, HEAD, OPTIONS"));
        edits.push(HeaderEdit::set("access-control-max-age", "86400"));
        let names: Option<Vec<String>> = requested_headers
            .filter(|list| list.len() <= 1024)
            .map(|list| list.split(',').map(str::trim).filter(|n| !n.is_empty()).map(str::to_ascii_lowercase).collect());
        if let Some(names) = names.filter(|names| !names.is_empty() && names.iter().all(|n| crate::config::is_header_name(n))) {
            edits.push(HeaderEdit::set("access-control-allow-headers", names.join(", ")));
        }
    } else {
        edits.push(HeaderEdit::set("content-type", "application/json"));
        edits.push(HeaderEdit::set("cache-control", "public, max-age=3600"));
    }
    edits
}

/// A preflight uses the route the requested method would match.
fn preflight<'c>(config: &'c Config, path: &NormalizedPath, origin: &str, method: &str, headers: Option<&str>) -> Start<'c> {
    let denied = |detail: &'static str, route| Start::Refuse { refusal: Refusal::new(Reason::CorsPreflightDenied, detail), route };
    let route = match config.routes.lookup(method, path) {
        RouteLookup::Found { route, .. } => route,
        _ => return denied("no route allows this method on this path", None),
    };
    let Some(cors) = &route.cors else { return denied("CORS is not enabled for this route", Some(route)) };
    match cors.preflight(origin, method, headers) {
        Preflight::Allowed(headers) => {
            Start::Preflight { route, headers: headers.into_iter().map(|(n, v)| HeaderEdit::set(n, v)).collect() }
        }
        Preflight::Denied(why) => denied(why, Some(route)),
    }
}

/// Where the request stands once the caller is known (or needed not be).
#[derive(Debug, PartialEq, Eq)]
pub struct Authorized {
    /// Kept for the log even when authorization refuses it.
    pub principal: Option<Principal>,
    pub refusal: Option<Refusal>,
}

/// The route's policy applied to the authentication outcome (`None` for public routes).
pub fn authorize(admitted: &Admitted<'_>, authentication: Option<Result<Principal, Refusal>>, authority: &str) -> Authorized {
    authorize_traced(admitted, authentication, authority, ())
}

/// [`authorize`], naming each of the route's checks to `trace` before it runs (`explain`).
pub fn authorize_traced(
    admitted: &Admitted<'_>,
    authentication: Option<Result<Principal, Refusal>>,
    authority: &str,
    trace: impl Trace,
) -> Authorized {
    match (&admitted.route.access, authentication) {
        (Access::Public, _) => Authorized { principal: None, refusal: None },
        (Access::Authenticated(_), None) => Authorized {
            principal: None,
            refusal: Some(Refusal::new(Reason::InternalError, "the route needs a caller and none was authenticated")),
        },
        (Access::Authenticated(_), Some(Err(refusal))) => Authorized { principal: None, refusal: Some(refusal) },
        (Access::Authenticated(requirements), Some(Ok(principal))) => {
            let params: Vec<(&str, &str)> = admitted.params.iter().map(|(n, v)| (*n, v.as_str())).collect();
            let refusal = authorize_traced_route(requirements, &principal, &params, authority, trace).err();
            Authorized { principal: Some(principal), refusal }
        }
    }
}

/// The rate-limit bucket to ask about, if any: only routes with a limit, and only requests
/// nothing has refused yet (a refused request must not spend anyone's quota).
/// `client_ip` is read only when a bucket is needed.
pub fn rate_limit_check<'c>(
    admitted: &Admitted<'c>,
    authorized: &Authorized,
    client_ip: impl FnOnce() -> Option<String>,
) -> Option<(&'c RateLimit, String)> {
    if authorized.refusal.is_some() {
        return None;
    }
    let limit = admitted.route.rate_limit.as_ref()?;
    Some((limit, limit.bucket(authorized.principal.as_ref(), client_ip().as_deref())))
}

/// What the limiter's answer means for the request.
#[derive(Debug, PartialEq, Eq)]
pub struct LimitOutcome {
    /// 429, or 503 when a failing limiter fails closed.
    pub refusal: Option<Refusal>,
    /// `RateLimit-Policy`, `RateLimit`, `Retry-After` for the answer.
    pub edits: Vec<HeaderEdit>,
    /// The limiter failed (for the log), whatever the failure mode decided.
    pub failure: Option<String>,
}

/// The limiter's verdict (or why there is none) → refusal and headers; fail open or closed
/// by the route's `failure_mode`.
pub fn after_limiter(limit: &RateLimit, verdict: Result<Verdict, String>) -> LimitOutcome {
    match verdict {
        Ok(verdict) => {
            let (policy, state) = crate::rate_limit::headers(limit, &verdict);
            let mut edits = vec![HeaderEdit::set("ratelimit-policy", policy), HeaderEdit::set("ratelimit", state)];
            let refusal = (!verdict.allowed).then(|| {
                let seconds = verdict.retry_after_seconds();
                edits.push(HeaderEdit::set("retry-after", seconds.to_string()));
                Refusal::new(Reason::RateLimited, format!("rate limit {:?} exceeded; retry after {seconds} s", limit.name))
            });
            LimitOutcome { refusal, edits, failure: None }
        }
        Err(err) => {
            let refusal = match limit.failure_mode {
                FailureMode::Open => None,
                FailureMode::Closed => Some(
                    Refusal::new(Reason::RateLimiterUnavailable, "the rate limiter is unavailable")
                        .with_internal(err.clone())
                        .with_retry_after(1),
                ),
            };
            LimitOutcome { refusal, edits: Vec::new(), failure: Some(err) }
        }
    }
}

/// CORS headers for the answer to a request from `origin` on `route` (`Vary` appended to
/// the origin's own; the rest belongs to the route's policy).
pub fn cors_edits(route: Option<&Route>, origin: Option<&str>) -> Vec<HeaderEdit> {
    let Some(cors) = route.and_then(|r| r.cors.as_ref()) else { return Vec::new() };
    cors.response_headers(origin)
        .into_iter()
        .map(|(name, value)| HeaderEdit {
            name: name.into(),
            value,
            mode: if name == "vary" { HeaderMode::Append } else { HeaderMode::Set },
        })
        .collect()
}

/// Why the origin gave no response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OriginFailure {
    Unreachable(String),
    /// No response headers within `origin_timeout_ms` after the request body was sent.
    TimedOut,
    /// The client's request body broke off (the client went away mid-upload): the origin
    /// got an incomplete request it can tell from a complete one (short of its
    /// `Content-Length`, or no final chunk).
    UploadBroken(String),
}

/// 502 for an unreachable origin, 504 for one that did not answer in time, 400 when the
/// client's own body broke off.
pub fn origin_failed(failure: OriginFailure, config: &Config) -> Refusal {
    match failure {
        OriginFailure::Unreachable(err) => Refusal::new(Reason::OriginUnreachable, "the origin could not be reached").with_internal(err),
        OriginFailure::TimedOut => Refusal::new(Reason::OriginTimeout, "the origin did not answer in time")
            .with_internal(format!("no response headers within {} ms of the request being sent", config.origin_timeout_ms)),
        OriginFailure::UploadBroken(err) => {
            Refusal::new(Reason::RequestBodyIncomplete, "the request body ended before it was complete").with_internal(err)
        }
    }
}

/// The security headers for an answer: set on the gateway's own answers, set only where
/// missing on relayed ones (the origin's own policy wins).
pub fn security_edits(security: &crate::security_headers::SecurityHeaders, relayed: bool) -> Vec<HeaderEdit> {
    let mode = if relayed { HeaderMode::SetIfMissing } else { HeaderMode::Set };
    security.add.iter().map(|(name, value)| HeaderEdit { name: name.clone().into(), value: value.clone(), mode }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rate_limit::WindowReport;

    const TENANT: &str = "3c6d1c5e-8f0a-4b8e-9d3c-2a1f6e7b9c41";

    fn config(routes: serde_json::Value) -> Config {
        Config::from_json(
            &serde_json::json!({
                "origin": "https://api.contoso.com",
                "tenants": [TENANT],
                "audiences": ["api://orders"],
                "routes": routes,
            })
            .to_string(),
        )
        .unwrap()
    }

    fn demo() -> Config {
        config(serde_json::json!([
            { "name": "health", "path": "/health", "methods": ["GET"], "public": true },
            { "name": "read", "path": "/api/orders/**", "methods": ["GET"], "scopes": ["Orders.Read"],
              "cors": { "origins": ["https://app.contoso.com"] },
              "rate_limit": { "key": ["oid"], "windows": [{ "requests": 5, "period_seconds": 60 }] } },
            { "name": "tenant", "path": "/api/tenants/{tenant}/**", "scopes": ["Orders.Read"], "tenant_segment": "tenant" },
            { "name": "closed", "path": "/api/closed/**", "scopes": ["Orders.Read"],
              "rate_limit": { "key": ["oid"], "windows": [{ "requests": 5, "period_seconds": 60 }], "failure_mode": "closed" } },
        ]))
    }

    fn head<'a>(method: &'a str, raw_path: &'a str) -> RequestHead<'a> {
        RequestHead::plain(method, raw_path)
    }

    fn admitted<'c>(config: &'c Config, method: &str, path: &str) -> Admitted<'c> {
        match start(config, head(method, path)) {
            Start::Admit(admitted) => admitted,
            other => panic!("{other:?}"),
        }
    }

    fn refusal_of(start: Start<'_>) -> Reason {
        match start {
            Start::Refuse { refusal, .. } => refusal.reason,
            other => panic!("{other:?}"),
        }
    }

    fn reader() -> Principal {
        crate::principal::sample().with(|p| p.scopes = vec!["Orders.Read".into()])
    }

    #[test]
    fn an_ambiguous_path_is_refused_before_anything_else() {
        let config = demo();
        assert_eq!(refusal_of(start(&config, head("GET", "/api/orders/%2f"))), Reason::PathInvalid);
        assert_eq!(refusal_of(start(&config, head("GET", "/.well-known/entra-edge/health;x"))), Reason::PathInvalid);
    }

    #[test]
    fn health_is_answered_before_routing_for_get_and_head_only() {
        let config = demo();
        assert_eq!(start(&config, head("GET", "/.well-known/entra-edge/health")), Start::Health);
        assert_eq!(start(&config, head("HEAD", "/.well-known//entra-edge/health")), Start::Health);
        assert_eq!(refusal_of(start(&config, head("POST", "/.well-known/entra-edge/health"))), Reason::RouteNotFound);
    }

    #[test]
    fn the_assertion_keys_are_answered_before_routing_only_when_the_assertion_is_on() {
        let mut config = demo();
        assert_eq!(refusal_of(start(&config, head("GET", "/.well-known/entra-edge-assertion-keys"))), Reason::RouteNotFound);
        config.assertion = Config::from_json(
            &serde_json::json!({
                "origin": "https://api.contoso.com", "tenants": [TENANT], "audiences": ["api://orders"],
                "routes": [{ "path": "/**" }], "assertion": {},
            })
            .to_string(),
        )
        .unwrap()
        .assertion;
        assert_eq!(start(&config, head("GET", "/.well-known/entra-edge-assertion-keys")), Start::AssertionKeys);
        assert_eq!(start(&config, head("HEAD", "/.well-known//entra-edge-assertion-keys")), Start::AssertionKeys);
        assert_eq!(refusal_of(start(&config, head("POST", "/.well-known/entra-edge-assertion-keys"))), Reason::RouteNotFound);
    }

    #[test]
    fn a_preflight_is_answered_at_the_edge_from_the_route_the_requested_method_matches() {
        let config = demo();
        let preflight = RequestHead {
            origin: Some("https://app.contoso.com"),
            access_control_request_method: Some("GET"),
            ..head("OPTIONS", "/api/orders/1")
        };
        match start(&config, preflight) {
            Start::Preflight { route, headers } => {
                assert_eq!(route.name, "read");
                assert!(headers.iter().any(|h| h.name == "access-control-allow-origin" && h.value == "https://app.contoso.com"));
            }
            other => panic!("{other:?}"),
        }
        let elsewhere = RequestHead { origin: Some("https://evil.example"), ..preflight };
        assert_eq!(refusal_of(start(&config, elsewhere)), Reason::CorsPreflightDenied);
        let no_cors = RequestHead { raw_path: "/api/tenants/x/orders", ..preflight };
        assert_eq!(refusal_of(start(&config, no_cors)), Reason::CorsPreflightDenied);
    }

    #[test]
    fn options_without_preflight_headers_is_routed_like_any_method() {
        assert_eq!(refusal_of(start(&demo(), head("OPTIONS", "/api/orders/1"))), Reason::MethodNotAllowed);
    }

    #[test]
    fn no_route_is_404_and_a_wrong_method_405_with_allow() {
        let config = demo();
        assert_eq!(refusal_of(start(&config, head("GET", "/internal/metrics"))), Reason::RouteNotFound);
        match start(&config, head("DELETE", "/api/orders/1")) {
            Start::Refuse { refusal, .. } => {
                assert_eq!(refusal.reason, Reason::MethodNotAllowed);
                assert_eq!(refusal.allow.as_deref(), Some("GET, HEAD"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_admitted_path_is_the_normalized_one_and_params_are_captured() {
        let config = demo();
        let admitted = admitted(&config, "GET", "/api//tenants/%61bc/orders/");
        assert_eq!(admitted.path.as_str(), "/api/tenants/abc/orders");
        assert_eq!(admitted.params, vec![("tenant", "abc".to_string())]);
        assert!(admitted.needs_token());
        assert!(!self::admitted(&config, "GET", "/health").needs_token());
    }

    #[test]
    fn authorization_applies_the_route_to_the_caller_and_keeps_the_caller_for_the_log() {
        let config = demo();
        let read = admitted(&config, "GET", "/api/orders/1");
        assert_eq!(authorize(&read, Some(Ok(reader())), &config.authority), Authorized { principal: Some(reader()), refusal: None });
        let nobody = reader().with(|p| p.scopes = vec![]);
        let refused = authorize(&read, Some(Ok(nobody.clone())), &config.authority);
        assert_eq!(refused.refusal.map(|r| r.reason), Some(Reason::InsufficientScope));
        assert_eq!(refused.principal, Some(nobody));
        let invalid = authorize(&read, Some(Err(Refusal::new(Reason::TokenExpired, "x"))), &config.authority);
        assert_eq!(invalid.refusal.map(|r| r.reason), Some(Reason::TokenExpired));
    }

    #[test]
    fn tenant_isolation_reads_the_admitted_params() {
        let config = demo();
        let other = admitted(&config, "GET", "/api/tenants/5a8e2b71-0c4d-4f9e-a1b2-c3d4e5f60718/x");
        assert_eq!(authorize(&other, Some(Ok(reader())), &config.authority).refusal.map(|r| r.reason), Some(Reason::TenantMismatch));
        let own = admitted(&config, "GET", &format!("/api/tenants/{TENANT}/x"));
        assert_eq!(authorize(&own, Some(Ok(reader())), &config.authority).refusal, None);
    }

    #[test]
    fn public_routes_need_no_caller() {
        let config = demo();
        assert_eq!(authorize(&admitted(&config, "GET", "/health"), None, &config.authority), Authorized { principal: None, refusal: None });
    }

    #[test]
    fn the_rate_limit_is_consulted_only_when_nothing_refused_the_request() {
        let config = demo();
        let read = admitted(&config, "GET", "/api/orders/1");
        let allowed = authorize(&read, Some(Ok(reader())), &config.authority);
        let (limit, bucket) = rate_limit_check(&read, &allowed, || None).expect("a limited route");
        assert_eq!(limit.name, "read");
        assert!(bucket.contains("d621d57a-9995-4e93-9180-4eef25206cff"), "{bucket}");
        let refused = authorize(&read, Some(Err(Refusal::new(Reason::TokenExpired, "x"))), &config.authority);
        assert_eq!(rate_limit_check(&read, &refused, || panic!("the client address is read only when needed")), None);
        let unlimited = admitted(&config, "GET", &format!("/api/tenants/{TENANT}/x"));
        assert_eq!(rate_limit_check(&unlimited, &authorize(&unlimited, Some(Ok(reader())), &config.authority), || None), None);
    }

    fn verdict(allowed: bool) -> Verdict {
        Verdict {
            allowed,
            retry_after_ms: if allowed { 0 } else { 12_000 },
            windows: vec![WindowReport { limit: 5, window_seconds: 60, remaining: if allowed { 4 } else { 0 }, reset_seconds: 12 }],
        }
    }

    #[test]
    fn an_exhausted_window_is_429_with_retry_after_and_ratelimit_headers() {
        let config = demo();
        let limit = config.routes.routes()[1].rate_limit.as_ref().unwrap();
        let outcome = after_limiter(limit, Ok(verdict(false)));
        assert_eq!(outcome.refusal.map(|r| r.reason), Some(Reason::RateLimited));
        let names: Vec<_> = outcome.edits.iter().map(|e| e.name.as_ref()).collect();
        assert_eq!(names, ["ratelimit-policy", "ratelimit", "retry-after"]);
        let ok = after_limiter(limit, Ok(verdict(true)));
        assert_eq!(ok.refusal, None);
        assert_eq!(ok.edits.len(), 2);
    }

    #[test]
    fn a_failing_limiter_fails_open_or_closed_by_the_route() {
        let config = demo();
        let open = config.routes.routes()[1].rate_limit.as_ref().unwrap();
        let closed = config.routes.routes()[3].rate_limit.as_ref().unwrap();
        let outcome = after_limiter(open, Err("down".into()));
        assert_eq!((outcome.refusal, outcome.failure.as_deref()), (None, Some("down")));
        let outcome = after_limiter(closed, Err("down".into()));
        let refusal = outcome.refusal.unwrap();
        assert_eq!((refusal.reason, refusal.retry_after), (Reason::RateLimiterUnavailable, Some(1)));
    }

    #[test]
    fn cors_headers_append_vary_and_set_the_rest() {
        let config = demo();
        let route = &config.routes.routes()[1];
        let edits = cors_edits(Some(route), Some("https://app.contoso.com"));
        assert!(edits.contains(&HeaderEdit { name: "vary".into(), value: "Origin".into(), mode: HeaderMode::Append }));
        assert!(edits.iter().any(|e| e.name == "access-control-allow-origin" && e.mode == HeaderMode::Set));
        assert!(cors_edits(Some(route), Some("https://evil.example")).is_empty());
        assert!(cors_edits(None, Some("https://app.contoso.com")).is_empty());
    }

    #[test]
    fn security_headers_are_set_on_own_answers_and_kept_from_the_origin_on_relayed_ones() {
        let security = crate::security_headers::SecurityHeaders::default();
        assert!(security_edits(&security, false).iter().all(|e| e.mode == HeaderMode::Set));
        assert!(security_edits(&security, true).iter().all(|e| e.mode == HeaderMode::SetIfMissing));
    }

    #[test]
    fn origin_failures_are_502_or_504() {
        let config = demo();
        assert_eq!(origin_failed(OriginFailure::Unreachable("refused".into()), &config).reason, Reason::OriginUnreachable);
        let timeout = origin_failed(OriginFailure::TimedOut, &config);
        assert_eq!(timeout.reason, Reason::OriginTimeout);
        assert_eq!(timeout.internal.as_deref(), Some("no response headers within 30000 ms of the request being sent"));
        let upload = origin_failed(OriginFailure::UploadBroken("client disconnected".into()), &config);
        assert_eq!((upload.reason, upload.reason.status()), (Reason::RequestBodyIncomplete, 400));
    }

    fn with_metadata(resource: &str) -> Config {
        Config::from_json(
            &serde_json::json!({
                "origin": "https://api.contoso.com",
                "tenants": [TENANT],
                "audiences": ["api://orders"],
                "protected_resource": { "resource": resource, "app_id_uri": "api://orders" },
                "routes": [{ "path": "/**", "scopes": ["Orders.Read"] }],
            })
            .to_string(),
        )
        .unwrap()
    }

    #[test]
    fn the_metadata_document_is_answered_at_the_edge_without_a_token() {
        let config = with_metadata("https://api.contoso.com");
        for method in ["GET", "HEAD"] {
            assert!(matches!(
                start(&config, head(method, "/.well-known/oauth-protected-resource")),
                Start::ResourceMetadata { preflight: false, .. }
            ));
        }
        assert!(matches!(
            start(&config, head("OPTIONS", "/.well-known/oauth-protected-resource")),
            Start::ResourceMetadata { preflight: true, .. }
        ));
    }

    #[test]
    fn the_metadata_path_is_matched_after_normalization() {
        let config = with_metadata("https://api.contoso.com/mcp");
        for path in [
            "/.well-known/oauth-protected-resource/mcp",
            "/.well-known//oauth-protected-resource/%6dcp",
            "/.well-known/oauth-protected-resource",
        ] {
            assert!(matches!(start(&config, head("GET", path)), Start::ResourceMetadata { .. }), "{path}");
        }
    }

    #[test]
    fn other_methods_on_the_metadata_path_never_reach_the_origin() {
        let config = with_metadata("https://api.contoso.com");
        assert_eq!(refusal_of(start(&config, head("POST", "/.well-known/oauth-protected-resource"))), Reason::MethodNotAllowed);
    }

    #[test]
    fn without_the_feature_the_metadata_path_is_an_ordinary_route() {
        let config = config(serde_json::json!([{ "path": "/**" }]));
        assert!(matches!(start(&config, head("GET", "/.well-known/oauth-protected-resource")), Start::Admit(_)));
    }

    #[test]
    fn metadata_answers_allow_any_origin_without_credentials() {
        let edits = resource_metadata_edits(false, None);
        assert!(edits.contains(&HeaderEdit::set("access-control-allow-origin", "*")));
        assert!(!edits.iter().any(|e| e.name == "access-control-allow-credentials"));
        assert!(edits.contains(&HeaderEdit::set("content-type", "application/json")));
    }

    #[test]
    fn the_metadata_preflight_allows_the_headers_it_is_asked_for_when_well_formed() {
        let edits = resource_metadata_edits(true, Some("MCP-Protocol-Version, x-custom"));
        assert!(edits.contains(&HeaderEdit::set("access-control-allow-headers", "mcp-protocol-version, x-custom")));
        for bad in ["a b", "x\u{1}", "", ","] {
            let edits = resource_metadata_edits(true, Some(bad));
            assert!(!edits.iter().any(|e| e.name == "access-control-allow-headers"), "{bad:?}");
        }
    }
}
