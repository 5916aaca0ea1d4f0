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
mod resume;
mod revocation;
mod runtime;
mod settle;
mod slab;
mod webcrypto;

use std::rc::Rc;

use worker::wasm_bindgen::{JsCast, JsValue};
use worker::web_sys::{Request, Response};
use worker::{Context, Env};

use crate::access_log::{self, AccessRecord, BodyEnd};
use crate::config::{LogLevel, LogSettings, UserIdForm};
use crate::event::{Event, Kind};
use crate::extract::bearer_token;
use crate::gateway::{self, Authorized, HeaderEdit, RequestHead, Start};
use crate::path::{split_url, NormalizedPath};
use crate::principal::Principal;
use crate::problem::AnswerContext;
use crate::reason::{Reason, Refusal};
use crate::request_id::{choose, RequestIds};
use crate::route::Route;
use crate::token::UnverifiedToken;
use crate::verify::{authenticate, AwaitingSignature};

use self::isolate::Isolate;
use self::keys::KeySource;
use self::runtime::{now_ms, now_seconds, random_bytes};
use self::webcrypto::WebCrypto;

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
    fn refuse(&self, refusal: &Refusal) -> respond::Draft {
        let config = self.isolate.as_ref().map(|isolate| &isolate.config);
        respond::refusal(refusal, AnswerContext::of(config, &self.ids.request_id))
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

/// The request as read in one crossing (`js::read_head`), with what every answer needs.
struct Prepared {
    method: String,
    url: String,
    headers: RequestHeaders,
    context: RequestContext,
    isolate: std::result::Result<Rc<Isolate>, Refusal>,
}

fn prepare(request: &Request, env: &Env) -> Prepared {
    let head = js::read_head(request, HEAD_NAMES);
    let started = if head.now_ms > 0 { head.now_ms } else { now_ms() };
    let headers = RequestHeaders::from(head.headers);
    let ids = choose(headers.request_id.as_deref(), headers.traceparent.as_deref(), head.random.unwrap_or_else(random_bytes));
    let isolate = isolate::get(env);
    let context = RequestContext { ids, isolate: isolate.as_ref().ok().cloned(), started_ms: started };
    Prepared { method: head.method, url: head.url, headers, context, isolate }
}

/// The fetch handler. A request that needs no I/O before the origin (a public route, a
/// cached token, an answer at the edge: the common cases) is decided in this one call,
/// and its forward and relay run in JS (`headers.js` `relay`), whose promise is the
/// answer: no Rust future, no promise hop back into WASM. Anything else (keys to fetch,
/// a signature to verify, the rate limiter, the revocation list to read) runs the same
/// pipeline as an async task. Returns a `Response` or a promise of one.
pub fn fetch(request: Request, env: Env, ctx: Context) -> JsValue {
    let prepared = prepare(&request, &env);
    if let Ok(isolate) = &prepared.isolate {
        match serve_now(&request, &prepared, &env, &ctx, isolate, None) {
            Some(Decided::Served(served)) => return into_value(served, prepared),
            Some(Decided::Verify(awaiting, kid)) => {
                return match resume::verify(resume::Parked { request, env, ctx, prepared, awaiting, kid }) {
                    Ok(promise) => promise.into(),
                    // Nowhere to park it (65,535 wait): the async path does it all again.
                    Err(parked) => {
                        let resume::Parked { request, env, ctx, prepared, .. } = *parked;
                        spawn(request, env, ctx, prepared)
                    }
                };
            }
            None => {}
        }
    }
    spawn(request, env, ctx, prepared)
}

/// The pipeline as an async task (`serve`): a promise of the client's `Response`.
fn spawn(request: Request, env: Env, ctx: Context, prepared: Prepared) -> JsValue {
    worker::wasm_bindgen_futures::future_to_promise(async move {
        let response = match &prepared.isolate {
            Ok(isolate) => match serve(request, &prepared, &env, &ctx, &isolate.clone()).await {
                Served::Answered(draft, outcome) => conclude(draft, outcome, prepared),
                // The relay's promise: the task's own promise adopts it (no await here).
                Served::Relaying(promise) => return Ok(promise.into()),
            },
            Err(refusal) => conclude(prepared.context.refuse(refusal), Outcome::refused(refusal.reason, None), prepared),
        };
        Ok(response.into())
    })
    .into()
}

/// The client's answer as `fetch` returns it: a `Response`, or the relay's promise of one.
fn into_value(served: Served, prepared: Prepared) -> JsValue {
    match served {
        Served::Answered(draft, outcome) => conclude(draft, outcome, prepared).into(),
        Served::Relaying(promise) => promise.into(),
    }
}

/// The pipeline after a token's signature check (`resume`), at `now_ms`: the revocation
/// list, then the rest in this call (or, when the list must be read first, as a task).
fn continue_with(
    request: Request,
    env: Env,
    ctx: Context,
    prepared: Prepared,
    principal: std::result::Result<Principal, Refusal>,
    now_ms: u64,
) -> JsValue {
    let Ok(isolate) = prepared.isolate.clone() else { return JsValue::UNDEFINED };
    // The bearer token again, only for the revocation list (it passed `bearer_token` before).
    let raw = match isolate.revocations {
        Some(_) => bearer_token(prepared.headers.authorization.as_deref()).unwrap_or_default().to_owned(),
        None => String::new(),
    };
    let screened = match &principal {
        Ok(verified) if isolate.revocations.is_some() => {
            revocation::screen_now(&isolate, &env, &ctx, &raw, verified, &prepared.context.ids.request_id, now_ms)
        }
        _ => Some(Ok(())),
    };
    let screening = isolate.clone();
    let run = move |request: Request, env: Env, ctx: Context, prepared: Prepared, authentication| {
        match serve_now(&request, &prepared, &env, &ctx, &isolate, Some((authentication, now_ms))) {
            Some(Decided::Served(served)) => into_value(served, prepared),
            // Cannot happen: everything before authentication was done in this isolate's
            // first pass, and authentication is given.
            _ => internal_error("the pipeline could not resume after the signature check", prepared).into(),
        }
    };
    match screened {
        Some(screened) => run(request, env, ctx, prepared, screened.and(principal)),
        None => worker::wasm_bindgen_futures::future_to_promise(async move {
            let authentication = match principal {
                Ok(verified) => {
                    revocation::screen(&screening, &env, &ctx, &raw, &verified, &prepared.context.ids.request_id).await.map(|()| verified)
                }
                Err(refusal) => Err(refusal),
            };
            Ok(run(request, env, ctx, prepared, authentication))
        })
        .into(),
    }
}

/// What the one-call path decided.
// Built once per request and moved: no box needed.
#[allow(clippy::large_enum_variant)]
enum Decided {
    Served(Served),
    /// A token the cache does not hold, its keys in memory: its signature is checked by
    /// `resume::verify` and the pipeline goes on in `resume` (`continue_with`).
    Verify(AwaitingSignature<'static, JsValue>, String),
}

/// What the pipeline produced: an answer of the gateway's own (security headers and the
/// access line still to add), or the relay in flight (`headers.js` `relay`; it ends with
/// `settle`, which logs it).
// Built once per request and moved, never copied around: no box needed.
#[allow(clippy::large_enum_variant)]
enum Served {
    Answered(respond::Draft, Outcome),
    Relaying(worker::js_sys::Promise),
}

/// A runtime error (not an input problem): a sanitized 500, details in the log.
fn internal_error(detail: &str, prepared: Prepared) -> Response {
    let level = prepared.isolate.as_ref().map_or(crate::config::LogLevel::Info, |i| i.config.log.level);
    log::emit(&Event::new(Kind::InternalError).with("detail", detail), Some(&prepared.context.ids.request_id), level);
    let refusal = Refusal::new(Reason::InternalError, "the gateway failed to handle the request").with_internal(detail.to_string());
    let draft = prepared.context.refuse(&refusal);
    conclude(draft, Outcome::refused(Reason::InternalError, None), prepared)
}

/// The end of an answer of the gateway's own: security headers, the request id, the
/// route's CORS and rate-limit headers, then the access line.
fn conclude(draft: respond::Draft, mut outcome: Outcome, prepared: Prepared) -> Response {
    let Prepared { method, url, context, isolate, .. } = prepared;
    let mut edits = std::mem::take(&mut outcome.edits);
    edits.push(HeaderEdit::set("x-request-id", context.ids.request_id.as_str()));
    let security = isolate.as_ref().ok().map(|i| &i.security_headers);
    let status = draft.status;
    let response = match draft.build(security, &edits) {
        Ok(response) => response,
        Err(err) => {
            // Not even an answer could be built: the runtime's own 500.
            worker::console_error!("entra-edge: could not build an answer: {err}");
            let init = worker::web_sys::ResponseInit::new();
            init.set_status(500);
            return Response::new_with_opt_str_and_init(None, &init).unwrap_or_else(|_| JsValue::UNDEFINED.unchecked_into());
        }
    };
    let log = isolate.as_ref().map(|i| i.config.log).unwrap_or(LogSettings { level: LogLevel::Info, user_ids: UserIdForm::Omit });
    if log.level == LogLevel::Off {
        // Nothing to write: spare the status read (a crossing) and the clock.
        return response;
    }
    let path = split_url(&url).0.to_string();
    let line = AccessLine { started: context.started_ms, request_id: context.ids.request_id, method, path, status, log };
    line.write(&outcome, None);
    response
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

fn refused(context: &RequestContext, refusal: Refusal, route: Option<&Route>) -> Served {
    Served::Answered(context.refuse(&refusal), Outcome::refused(refusal.reason, route))
}

/// The start of the pipeline, which never needs I/O: an answer at the edge (health, the
/// RFC 9728 document, the assertion keys, a preflight, a refusal), or the admitted request.
#[allow(clippy::large_enum_variant)]
enum Began<'c> {
    Answered(Served),
    Admitted(gateway::Admitted<'c>),
}

fn begin<'c>(isolate: &'c Isolate, prepared: &Prepared) -> Began<'c> {
    let (context, headers) = (&prepared.context, &prepared.headers);
    let head = RequestHead {
        method: &prepared.method,
        raw_path: split_url(&prepared.url).0,
        origin: headers.origin.as_deref(),
        access_control_request_method: headers.access_control_request_method.as_deref(),
        access_control_request_headers: headers.access_control_request_headers.as_deref(),
    };
    let answered = |draft: respond::Draft, route: &str| {
        Began::Answered(Served::Answered(draft, Outcome { route: Some(route.into()), ..Outcome::default() }))
    };
    match gateway::start(&isolate.config, head) {
        Start::Health => answered(health::respond(isolate, (context.started_ms / 1000) as i64), "health"),
        Start::ResourceMetadata { resource, preflight } => {
            let edits = gateway::resource_metadata_edits(preflight, headers.access_control_request_headers.as_deref());
            let response = if preflight { respond::no_content(&edits) } else { respond::document(200, &edits, &resource.document) };
            answered(response, "resource-metadata")
        }
        Start::AssertionKeys => match &isolate.assertion {
            Some(signer) => answered(signer.keys_response(), "assertion-keys"),
            None => Began::Answered(refused(context, Refusal::new(Reason::RouteNotFound, "no route matches this path"), None)),
        },
        Start::Preflight { route, headers } => answered(respond::no_content(&headers), &route.name),
        Start::Refuse { refusal, route } => Began::Answered(refused(context, refusal, route)),
        Start::Admit(admitted) => Began::Admitted(admitted),
    }
}

/// The pipeline for a request that needs I/O before the origin: each decision is
/// `gateway`'s; this awaits the I/O between them.
async fn serve(request: Request, prepared: &Prepared, env: &Env, ctx: &Context, isolate: &Rc<Isolate>) -> Served {
    let (config, context, headers) = (&isolate.config, &prepared.context, &prepared.headers);
    if let Some(signer) = &isolate.assertion {
        // The first request of the isolate imports the signing key; a bad key refuses all.
        if let Err(refusal) = signer.ready().await {
            return refused(context, refusal, None);
        }
    }
    let admitted = match begin(isolate, prepared) {
        Began::Answered(served) => return served,
        Began::Admitted(admitted) => admitted,
    };
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
    let timings = Timings { verify_ms, rate_limit_ms, forward_started: clock };
    conclude_admitted(&request, prepared, ctx, isolate, &admitted, authorized, refusal, edits, timings)
}

/// The same pipeline when it needs no I/O before the origin, decided in this call; `None`
/// when some step would have to wait (the caller then runs [`serve`]). Nothing it does
/// before returning `None` is visible: the request is served once, by one of the two.
///
/// `given`: the outcome of a token's signature check done meanwhile (`resume`), and the
/// clock after it.
fn serve_now(
    request: &Request,
    prepared: &Prepared,
    env: &Env,
    ctx: &Context,
    isolate: &Rc<Isolate>,
    given: Option<(std::result::Result<Principal, Refusal>, u64)>,
) -> Option<Decided> {
    let (config, context, headers) = (&isolate.config, &prepared.context, &prepared.headers);
    if let Some(signer) = &isolate.assertion {
        if let Err(refusal) = signer.ready_now()? {
            return Some(Decided::Served(refused(context, refusal, None)));
        }
    }
    let admitted = match begin(isolate, prepared) {
        Began::Answered(served) => return Some(Decided::Served(served)),
        Began::Admitted(admitted) => admitted,
    };
    if admitted.route.rate_limit.is_some() {
        return None; // a Durable Object round trip
    }
    let started = context.started_ms;
    let (authentication, after_verify) = match given {
        _ if !admitted.needs_token() => (None, started),
        Some((authentication, at)) => (Some(authentication), at.max(started)),
        None => match authenticate_now(headers.authorization.as_deref(), env, ctx, isolate, started, &context.ids.request_id)? {
            Authenticated::Done(authentication) => (Some(authentication), started),
            Authenticated::Verify(awaiting, kid) => return Some(Decided::Verify(awaiting, kid)),
        },
    };
    let authorized = gateway::authorize(&admitted, authentication, &config.authority);
    let timings = Timings { verify_ms: after_verify - started, rate_limit_ms: 0, forward_started: after_verify };
    Some(Decided::Served(conclude_admitted(request, prepared, ctx, isolate, &admitted, authorized, None, Vec::new(), timings)))
}

/// Time spent before the origin call, for the access line.
struct Timings {
    verify_ms: u64,
    rate_limit_ms: u64,
    /// The clock when the forward starts (ms since the epoch).
    forward_started: u64,
}

/// After authentication and the rate limit: the policy's or the limiter's refusal, or the
/// forward (started here; `settle` ends it).
#[allow(clippy::too_many_arguments)]
fn conclude_admitted(
    request: &Request,
    prepared: &Prepared,
    ctx: &Context,
    isolate: &Isolate,
    admitted: &gateway::Admitted<'_>,
    authorized: Authorized,
    limiter_refusal: Option<Refusal>,
    mut edits: Vec<HeaderEdit>,
    timings: Timings,
) -> Served {
    let (context, headers, route) = (&prepared.context, &prepared.headers, admitted.route);
    edits.extend(gateway::cors_edits(Some(route), headers.origin.as_deref()));
    let Authorized { principal, refusal: refused_by_policy } = authorized;
    let mut outcome = Outcome { verify_ms: timings.verify_ms, rate_limit_ms: timings.rate_limit_ms, ..Outcome::default() };
    if let Some(refusal) = refused_by_policy.or(limiter_refusal) {
        let response = context.refuse(&refusal);
        outcome.route = Some(route.name.clone());
        outcome.reason = Some(refusal.reason);
        outcome.principal = principal;
        outcome.edits = edits;
        return Served::Answered(response, outcome);
    }
    let query = split_url(&prepared.url).1;
    let forwarding =
        Forwarding { method: &prepared.method, path: &admitted.path, query, connection: headers.connection.as_deref(), edits: &edits };
    forward_to_origin(request, prepared, ctx, isolate, route, forwarding, principal, outcome, timings.forward_started)
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

#[allow(clippy::too_many_arguments)]
fn forward_to_origin(
    request: &Request,
    prepared: &Prepared,
    ctx: &Context,
    isolate: &Isolate,
    route: &Route,
    forwarding: Forwarding<'_>,
    principal: Option<Principal>,
    mut outcome: Outcome,
    started: u64,
) -> Served {
    let context = &prepared.context;
    outcome.route = Some(route.name.clone());
    // The assertion's signing input and key; the signature is made in the forward call.
    let assertion = match &isolate.assertion {
        None => None,
        Some(signer) => match assertion_input(signer, isolate, context, route, &forwarding, principal.as_ref()) {
            Ok(assertion) => assertion,
            Err(refusal) => {
                outcome.reason = Some(refusal.reason);
                outcome.principal = principal;
                return Served::Answered(context.refuse(&refusal), outcome);
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
    // The headers of the answer besides the security headers: on the relayed response, and
    // on the gateway's own refusal if the origin gives none (`settle`).
    let mut answer_edits = js::encode(forwarding.edits);
    js::encode_into(&mut answer_edits, &[HeaderEdit::set("x-request-id", context.ids.request_id.as_str())]);
    let config = &isolate.config;
    // With logging on, the access line waits for the relay's end (`settle`).
    let pending = if config.log.level == LogLevel::Off {
        0
    } else {
        outcome.principal = principal.clone();
        outcome.edits = forwarding.edits.to_vec();
        let line = AccessLine {
            started: context.started_ms,
            request_id: context.ids.request_id.clone(),
            method: prepared.method.clone(),
            path: split_url(&prepared.url).0.to_string(),
            status: 0,
            log: config.log,
        };
        settle::wait(settle::Waiting { line, outcome, forward_started: started })
    };
    let relaying = proxy::relay(
        request,
        config,
        &isolate.drop_lists,
        (forwarding.path, forwarding.query),
        extra,
        (isolate.security_headers.relayed(), &answer_edits),
        pending,
        ctx,
    );
    Served::Relaying(relaying)
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

/// What [`authenticate_now`] could settle without I/O.
// Made once per request and moved: no box needed.
#[allow(clippy::large_enum_variant)]
enum Authenticated {
    Done(std::result::Result<Principal, Refusal>),
    /// The token passed every check before its signature; the keys were in memory.
    Verify(AwaitingSignature<'static, JsValue>, String),
}

/// [`authenticate_request`] when it needs no I/O: no usable bearer token (refused before
/// any key is needed), a token from the verified-token cache whose revocation check needs
/// no read, or a new token whose keys are in memory (up to its signature check). `None`
/// otherwise (the caller runs the async path, which repeats these steps: nothing here is
/// counted or changed before it commits).
fn authenticate_now(
    authorization: Option<&str>,
    env: &Env,
    ctx: &Context,
    isolate: &Rc<Isolate>,
    now_ms: u64,
    request_id: &str,
) -> Option<Authenticated> {
    let raw = match bearer_token(authorization) {
        Ok(raw) => raw,
        Err(refusal) => return Some(Authenticated::Done(Err(refusal))),
    };
    let now = (now_ms / 1000) as i64;
    let Some(principal) = cached_principal(isolate, raw, now) else { return verify_now(raw, isolate, now) };
    if isolate.revocations.is_some() {
        if let Err(refusal) = revocation::screen_now(isolate, env, ctx, raw, &principal, request_id, now_ms)? {
            isolate.keys.count(|c| c.token_cache_hits += 1);
            return Some(Authenticated::Done(Err(refusal)));
        }
    }
    isolate.keys.count(|c| c.token_cache_hits += 1);
    Some(Authenticated::Done(Ok(principal)))
}

/// A token the cache does not hold: parsed, and checked up to its signature when its keys
/// are in memory and current (`keys::keys_now`); `None` when keys must be fetched.
fn verify_now(raw: &str, isolate: &Isolate, now: i64) -> Option<Authenticated> {
    let config = &isolate.config;
    let rules = config.token_rules();
    let token = match UnverifiedToken::parse(raw, &rules) {
        Ok(token) => token,
        Err(refusal) => {
            isolate.keys.count(|c| c.token_cache_misses += 1);
            return Some(Authenticated::Done(Err(refusal)));
        }
    };
    let directory = config.tenants.directory_for(token.tenant());
    let kid = token.kid().to_owned();
    let keys = keys::keys_now(isolate, &directory, token.version(), &kid, now)?;
    isolate.keys.count(|c| c.token_cache_misses += 1);
    Some(match crate::verify::prepare(token, &keys) {
        Ok(awaiting) => Authenticated::Verify(awaiting.into_owned(), kid),
        Err(refusal) => Authenticated::Done(Err(refusal)),
    })
}

/// A principal verified earlier from the same token, if its key still vouches for it.
fn cached_principal(isolate: &Isolate, token: &str, now: i64) -> Option<Principal> {
    let still_trusted = |principal: &Principal, kid: &str| {
        let directory = isolate.config.tenants.directory_for(principal.tenant());
        isolate.keys.still_trusts(directory, principal.tenant(), principal.version(), kid)
    };
    isolate.token_cache.borrow_mut().get_trusted(token, now, still_trusted)
}
