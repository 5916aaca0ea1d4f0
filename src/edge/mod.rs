//! The worker shell: I/O only. Every decision is the pure core's (`crate::gateway` for the
//! pipeline, `crate::key_cache` for keys, `crate::revocation` for the revocation list);
//! `serve` awaits the I/O between them: ids → `gateway::start` → (health | preflight |
//! refusal | token → principal → revocation list → policy → rate limit → origin), then security headers and one access-log line. Per-isolate state
//! is one `Isolate` value (`isolate.rs`).

mod assertion;
mod health;
mod isolate;
mod js;
mod keys;
mod limiter;
mod log;
mod proxy;
mod respond;
mod revocation;
mod runtime;
mod webcrypto;

use std::rc::Rc;

use worker::web_sys::{Request, Response};
use worker::{Context, Env, Result};

use crate::access_log::{self, AccessRecord, BodyEnd};
use crate::event::{Event, Kind};
use crate::extract::bearer_token;
use crate::gateway::{self, Authorized, HeaderEdit, OriginFailure, RequestHead, Start};
use crate::path::{split_url, NormalizedPath};
use crate::principal::Principal;
use crate::problem::AnswerContext;
use crate::reason::{Reason, Refusal};
use crate::request_id::{choose, RequestIds};
use crate::route::Route;
use crate::token::UnverifiedToken;
use crate::verify::authenticate;

use self::isolate::Isolate;
use self::keys::KeySource;
use self::proxy::Forwarded;
use self::runtime::{now_ms, now_seconds, random_bytes};
use self::webcrypto::WebCrypto;

/// Realm used before (or without) a valid configuration.
use crate::config::DEFAULT_REALM as FALLBACK_REALM;

/// The cron trigger: refresh configured tenants' keys ahead of expiry.
pub async fn scheduled(env: Env) {
    let Ok(isolate) = isolate::get(&env) else { return };
    let backend = WebCrypto;
    keys::scheduled_refresh(&KeySource { env, isolate, backend }, now_seconds()).await;
}

/// Per-request facts every answer needs.
struct RequestContext {
    ids: RequestIds,
    /// The isolate's configuration, when it is valid (realm, debug, RFC 9728 metadata).
    isolate: Option<Rc<Isolate>>,
    /// When the request's head was read, ms since the Unix epoch. The runtime's clock only
    /// moves across I/O, so it is read again only after an await that may have done some.
    started_ms: u64,
}

impl RequestContext {
    fn refuse(&self, refusal: &Refusal) -> Result<Response> {
        let config = self.isolate.as_ref().map(|isolate| &isolate.config);
        let resource = config.and_then(|c| c.protected_resource.as_ref());
        respond::refusal(
            refusal,
            AnswerContext {
                realm: config.map_or(FALLBACK_REALM, |c| c.realm.as_str()),
                request_id: &self.ids.request_id,
                debug: config.is_some_and(|c| c.debug),
                resource_metadata: resource.map(|r| r.metadata_url.as_str()),
                scope_prefix: resource.and_then(|r| r.app_id_uri.as_deref()),
            },
        )
    }
}

/// What the access log records about a request besides its status.
#[derive(Default)]
struct Outcome {
    route: Option<String>,
    principal: Option<Principal>,
    reason: Option<Reason>,
    forwarded: bool,
    verify_ms: u64,
    rate_limit_ms: u64,
    origin_ms: u64,
    /// Headers for the answer besides the security headers (CORS, rate-limit state).
    edits: Vec<HeaderEdit>,
    /// A relayed body's end (`proxy::Forwarded::Response`): the access line waits for it.
    body_end: Option<worker::js_sys::Promise>,
}

impl Outcome {
    fn refused(reason: Reason, route: Option<&Route>) -> Outcome {
        Outcome { route: route.map(|r| r.name.clone()), reason: Some(reason), ..Outcome::default() }
    }
}

/// The request headers the pipeline reads, fetched in one crossing (`js::read_head`).
const HEAD_NAMES: &str =
    "x-request-id\ntraceparent\norigin\nauthorization\naccess-control-request-method\naccess-control-request-headers\ncf-connecting-ip\nconnection";

/// Those headers, by name (absent and unreadable are alike).
struct RequestHeaders {
    request_id: Option<String>,
    traceparent: Option<String>,
    origin: Option<String>,
    authorization: Option<String>,
    access_control_request_method: Option<String>,
    access_control_request_headers: Option<String>,
    client_ip: Option<String>,
    connection: Option<String>,
}

impl RequestHeaders {
    fn from(values: Vec<Option<String>>) -> RequestHeaders {
        let mut values = values.into_iter();
        let mut next = || values.next().flatten();
        RequestHeaders {
            request_id: next(),
            traceparent: next(),
            origin: next(),
            authorization: next(),
            access_control_request_method: next(),
            access_control_request_headers: next(),
            client_ip: next(),
            connection: next(),
        }
    }
}

pub async fn handle(request: Request, env: Env, ctx: Context) -> Result<Response> {
    let head = js::read_head(&request, HEAD_NAMES);
    let started = if head.now_ms > 0 { head.now_ms } else { now_ms() };
    let (method, url) = (head.method, head.url);
    let headers = RequestHeaders::from(head.headers);
    let ids = choose(headers.request_id.as_deref(), headers.traceparent.as_deref(), head.random.unwrap_or_else(random_bytes));
    let path = split_url(&url).0.to_string();

    let isolate = isolate::get(&env);
    let context = RequestContext { ids, isolate: isolate.as_ref().ok().cloned(), started_ms: started };
    let (response, mut outcome) = match &isolate {
        Ok(isolate) => match serve(request, &method, &url, &headers, &env, &ctx, isolate, &context).await {
            Ok(done) => done,
            Err(err) => {
                // A runtime error (not an input problem): a sanitized 500, details in the log.
                log::emit(
                    &Event::new(Kind::InternalError).with("detail", err.to_string()),
                    Some(&context.ids.request_id),
                    isolate.config.log.level,
                );
                let refusal =
                    Refusal::new(Reason::InternalError, "the gateway failed to handle the request").with_internal(err.to_string());
                (context.refuse(&refusal)?, Outcome::refused(Reason::InternalError, None))
            }
        },
        Err(refusal) => (context.refuse(refusal)?, Outcome::refused(refusal.reason, None)),
    };

    if !outcome.forwarded {
        // A relayed answer got these in the same call that fetched it (`proxy::forward`).
        let mut edits = std::mem::take(&mut outcome.edits);
        edits.push(HeaderEdit::set("x-request-id", context.ids.request_id.as_str()));
        respond::finish(&response, isolate.as_ref().ok().map(|i| &i.security_headers), false, &edits)?;
    }

    let log = isolate
        .as_ref()
        .map(|i| i.config.log)
        .unwrap_or(crate::config::LogSettings { level: crate::config::LogLevel::Info, user_ids: crate::config::UserIdForm::Omit });
    if log.level == crate::config::LogLevel::Off {
        // Nothing to write: spare the status read (a crossing) and the clock.
        return Ok(response);
    }
    let status = response.status();
    let line = AccessLine { started, request_id: context.ids.request_id, method, path, status, log };
    match outcome.body_end.take() {
        // The line is written once the body has been relayed, saying whether it all went through.
        Some(body_end) => ctx.wait_until(async move {
            let end = match worker::wasm_bindgen_futures::JsFuture::from(body_end).await {
                Ok(value) => value.as_string().map_or(BodyEnd::Complete, BodyEnd::Truncated),
                Err(err) => BodyEnd::Truncated(format!("{err:?}")),
            };
            line.write(&outcome, Some(&end));
        }),
        None => line.write(&outcome, None),
    }
    Ok(response)
}

/// What the access line needs besides the `Outcome`, owned so it can wait for the body.
struct AccessLine {
    started: u64,
    request_id: String,
    method: String,
    path: String,
    status: u16,
    log: crate::config::LogSettings,
}

impl AccessLine {
    fn write(&self, outcome: &Outcome, response_body: Option<&BodyEnd>) {
        let record = AccessRecord {
            time_ms: self.started,
            request_id: &self.request_id,
            method: &self.method,
            path: &self.path,
            route: outcome.route.as_deref(),
            status: self.status,
            reason: outcome.reason,
            forwarded: outcome.forwarded,
            verify_ms: outcome.verify_ms,
            rate_limit_ms: outcome.rate_limit_ms,
            origin_ms: outcome.origin_ms,
            total_ms: now_ms().saturating_sub(self.started),
            principal: outcome.principal.as_ref(),
            response_body,
        };
        if let Some(line) = access_log::line(&record, &self.log) {
            if access_log::severity(record.status, response_body) == crate::event::Severity::Error {
                worker::console_error!("{line}");
            } else {
                worker::console_log!("{line}");
            }
        }
    }
}

fn refused(context: &RequestContext, refusal: Refusal, route: Option<&Route>) -> Result<(Response, Outcome)> {
    Ok((context.refuse(&refusal)?, Outcome::refused(refusal.reason, route)))
}

/// The pipeline: each decision is `gateway`'s; this awaits the I/O between them.
/// `url` is the request's URL, read once by `handle`.
#[allow(clippy::too_many_arguments)]
async fn serve(
    request: Request,
    method: &str,
    url: &str,
    headers: &RequestHeaders,
    env: &Env,
    ctx: &Context,
    isolate: &Rc<Isolate>,
    context: &RequestContext,
) -> Result<(Response, Outcome)> {
    let config = &isolate.config;
    if let Some(signer) = &isolate.assertion {
        // The first request of the isolate imports the signing key; a bad key refuses all.
        if let Err(refusal) = signer.ready().await {
            return refused(context, refusal, None);
        }
    }
    let (raw_path, query) = split_url(url);
    let origin = headers.origin.as_deref();
    let head = RequestHead {
        method,
        raw_path,
        origin,
        access_control_request_method: headers.access_control_request_method.as_deref(),
        access_control_request_headers: headers.access_control_request_headers.as_deref(),
    };
    let admitted = match gateway::start(config, head) {
        Start::Health => {
            return Ok((
                health::respond(isolate, (context.started_ms / 1000) as i64)?,
                Outcome { route: Some("health".into()), ..Outcome::default() },
            ));
        }
        Start::ResourceMetadata { resource, preflight } => {
            let edits = gateway::resource_metadata_edits(preflight, headers.access_control_request_headers.as_deref());
            let response = if preflight { respond::no_content(&edits)? } else { respond::document(200, &edits, &resource.document)? };
            return Ok((response, Outcome { route: Some("resource-metadata".into()), ..Outcome::default() }));
        }
        Start::AssertionKeys => {
            let Some(signer) = &isolate.assertion else {
                return refused(context, Refusal::new(Reason::RouteNotFound, "no route matches this path"), None);
            };
            return Ok((signer.keys_response()?, Outcome { route: Some("assertion-keys".into()), ..Outcome::default() }));
        }
        Start::Preflight { route, headers } => {
            return Ok((respond::no_content(&headers)?, Outcome { route: Some(route.name.clone()), ..Outcome::default() }));
        }
        Start::Refuse { refusal, route } => return refused(context, refusal, route),
        Start::Admit(admitted) => admitted,
    };
    let route = admitted.route;

    let verify_started = context.started_ms;
    let (authentication, after_verify) = if admitted.needs_token() {
        let now = (verify_started / 1000) as i64;
        let result = authenticate_request(headers.authorization.as_deref(), env, ctx, isolate, now, &context.ids.request_id).await;
        (Some(result), now_ms())
    } else {
        (None, verify_started)
    };
    let authorized = gateway::authorize(&admitted, authentication, &config.authority);
    let verify_ms = after_verify.saturating_sub(verify_started);

    let mut clock = after_verify;
    let mut edits = Vec::new();
    let mut refusal = None;
    if let Some((limit, bucket)) = gateway::rate_limit_check(&admitted, &authorized, || headers.client_ip.clone()) {
        let outcome = gateway::after_limiter(limit, limiter::check(env, limit, &bucket).await);
        clock = now_ms();
        if let Some(err) = &outcome.failure {
            let event = Event::new(Kind::RateLimiterUnavailable)
                .with("limit", limit.name.as_str())
                .with("failure_mode", serde_json::to_value(limit.failure_mode).unwrap_or_default())
                .with("detail", err.as_str());
            log::emit(&event, Some(&context.ids.request_id), config.log.level);
        }
        refusal = outcome.refusal;
        edits = outcome.edits;
    }
    let rate_limit_ms = clock.saturating_sub(after_verify);
    edits.extend(gateway::cors_edits(Some(route), origin));

    let Authorized { principal, refusal: refused_by_policy } = authorized;
    let (response, mut outcome) = match refused_by_policy.or(refusal) {
        Some(refusal) => {
            let (response, mut outcome) = refused(context, refusal, Some(route))?;
            outcome.principal = principal;
            (response, outcome)
        }
        None => {
            let forwarding = Forwarding { method, path: &admitted.path, query, connection: headers.connection.as_deref(), edits: &edits };
            forward_to_origin(&request, isolate, context, route, forwarding, principal, clock).await?
        }
    };
    outcome.verify_ms = verify_ms;
    outcome.rate_limit_ms = rate_limit_ms;
    outcome.edits = edits;
    Ok((response, outcome))
}

/// What `forward_to_origin` needs of the request besides the request itself.
struct Forwarding<'a> {
    method: &'a str,
    path: &'a NormalizedPath,
    query: Option<&'a str>,
    /// The client's `Connection` header.
    connection: Option<&'a str>,
    /// Headers for the relayed answer besides the security headers (CORS, rate-limit state).
    edits: &'a [HeaderEdit],
}

async fn forward_to_origin(
    request: &Request,
    isolate: &Isolate,
    context: &RequestContext,
    route: &Route,
    forwarding: Forwarding<'_>,
    principal: Option<Principal>,
    started: u64,
) -> Result<(Response, Outcome)> {
    // The assertion's signing input and key; the signature is made in the forward call.
    let assertion = match &isolate.assertion {
        None => None,
        Some(signer) => match assertion_input(signer, isolate, context, route, &forwarding, principal.as_ref()) {
            Ok(assertion) => assertion,
            Err(refusal) => {
                let mut outcome = Outcome::refused(refusal.reason, Some(route));
                outcome.principal = principal;
                return Ok((context.refuse(&refusal)?, outcome));
            }
        },
    };
    let extra = proxy::OriginExtras {
        connection: forwarding.connection,
        principal: principal.as_ref(),
        origin_secret: isolate.origin_secret.as_deref(),
        ids: &context.ids,
        gateway_cors: route.cors.is_some(),
        assertion: assertion.as_ref().map(|(key, header, input)| (key, *header, input.as_str())),
    };
    // The relayed answer's headers, applied in the same call that fetches it.
    let mut response_edits = isolate.security_headers.relayed().to_string();
    js::encode_into(&mut response_edits, forwarding.edits);
    js::encode_into(&mut response_edits, &[HeaderEdit::set("x-request-id", context.ids.request_id.as_str())]);
    let config = &isolate.config;
    let forwarded = proxy::forward(request, config, &isolate.drop_lists, forwarding.path, forwarding.query, extra, &response_edits).await?;
    let origin_ms = now_ms().saturating_sub(started);
    let failure = match forwarded {
        Forwarded::Response(response, body_end) => {
            let outcome =
                Outcome { route: Some(route.name.clone()), principal, forwarded: true, origin_ms, body_end, ..Outcome::default() };
            return Ok((response, outcome));
        }
        Forwarded::Unreachable(err) => OriginFailure::Unreachable(err),
        Forwarded::TimedOut => OriginFailure::TimedOut,
        Forwarded::UploadBroken(err) => OriginFailure::UploadBroken(err),
    };
    let kind = match failure {
        OriginFailure::TimedOut => Kind::OriginTimeout,
        OriginFailure::Unreachable(_) => Kind::OriginUnreachable,
        OriginFailure::UploadBroken(_) => Kind::RequestBodyIncomplete,
    };
    let refusal = gateway::origin_failed(failure, config);
    log::emit(&Event::new(kind).with("detail", refusal.internal.clone()), Some(&context.ids.request_id), config.log.level);
    let mut outcome = Outcome::refused(refusal.reason, Some(route));
    outcome.principal = principal;
    outcome.origin_ms = origin_ms;
    Ok((context.refuse(&refusal)?, outcome))
}

/// What the forward call needs to sign this request's assertion: the imported key, the
/// header and the signing input (None on public routes). No key (the import failed, which
/// `Signer::ready` already refused) refuses the request: nothing unsigned is forwarded.
fn assertion_input<'s>(
    signer: &'s assertion::Signer,
    isolate: &Isolate,
    context: &RequestContext,
    route: &Route,
    forwarding: &Forwarding<'_>,
    principal: Option<&Principal>,
) -> std::result::Result<Option<(worker::wasm_bindgen::JsValue, &'s str, String)>, Refusal> {
    let Some(principal) = principal else { return Ok(None) };
    let key = signer.key().ok_or_else(|| Refusal::new(Reason::InternalError, "the gateway could not sign the identity assertion"))?;
    let target = isolate.config.origin.request_target(forwarding.path.as_str(), forwarding.query);
    let request = crate::assertion::BoundRequest {
        method: forwarding.method,
        target: &target,
        route: &route.name,
        request_id: &context.ids.request_id,
    };
    let mut entropy = [0u8; 16];
    entropy.copy_from_slice(&random_bytes()[..16]);
    Ok(signer.builder.for_request(Some(principal), request, now_seconds(), entropy).map(|input| (key, signer.header.as_str(), input)))
}

/// Bearer token → (verified-token cache) → unverified token → keys → `Principal`, then
/// the revocation list (when enabled) on both paths: a cached token is screened too.
async fn authenticate_request(
    authorization: Option<&str>,
    env: &Env,
    ctx: &Context,
    isolate: &Rc<Isolate>,
    now: i64,
    request_id: &str,
) -> std::result::Result<Principal, Refusal> {
    let config = &isolate.config;
    let raw = bearer_token(authorization)?;
    if let Some(principal) = cached_principal(isolate, raw, now) {
        isolate.keys.count(|c| c.token_cache_hits += 1);
        if isolate.revocations.is_some() {
            revocation::screen(isolate, env, ctx, raw, &principal, request_id).await?;
        }
        return Ok(principal);
    }
    isolate.keys.count(|c| c.token_cache_misses += 1);

    let rules = config.token_rules();
    let token = UnverifiedToken::parse(raw, &rules)?;
    let (directory, version, kid) = (config.tenants.directory_for(token.tenant()), token.version(), token.kid().to_owned());
    let backend = WebCrypto;
    let source = KeySource { env: env.clone(), isolate: isolate.clone(), backend };

    // Any refresh that completes from here on counts as tried for this request's kid.
    let seen_generation = isolate.keys.generation(&directory, version);
    let mut keys = keys::keys_for(&source, ctx, &directory, version, &kid, now).await?;
    if keys.keys.find(&kid).is_none() {
        // Possibly a rotation: refresh once, within the refresh discipline of `KeyState`.
        keys = keys::after_unknown_kid(&source, &directory, version, &kid, seen_generation, keys).await;
    }
    let principal = authenticate(token, &keys, &source.backend, &rules, now).await?;
    isolate.token_cache.borrow_mut().insert(raw, principal.clone(), kid);
    if isolate.revocations.is_some() {
        revocation::screen(isolate, env, ctx, raw, &principal, request_id).await?;
    }
    Ok(principal)
}

/// A principal verified earlier from the same token, if its key still vouches for it.
fn cached_principal(isolate: &Isolate, token: &str, now: i64) -> Option<Principal> {
    let still_trusted = |principal: &Principal, kid: &str| {
        let directory = isolate.config.tenants.directory_for(principal.tenant());
        isolate.keys.still_trusts(directory, principal.tenant(), principal.version(), kid)
    };
    isolate.token_cache.borrow_mut().get_trusted(token, now, still_trusted)
}
