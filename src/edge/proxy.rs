//! Forwarding an allowed request to the origin and relaying its answer.
//!
//! Works on the runtime's own `Request`/`Response` objects: each conversion through
//! `worker::Response` would copy headers and build another response.

use worker::js_sys::{self, Array, Set};
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::web_sys::{self, AbortSignal, Request, RequestRedirect};
use worker::Result;

use super::js::{self, string_array, string_set};
use crate::config::Config;
use crate::forward::{identity_headers, RequestHeaderFilter, ORIGIN_SECRET_HEADER};
use crate::gateway::HeaderEdit;
use crate::path::NormalizedPath;
use crate::principal::Principal;
use crate::request_id::RequestIds;

/// Response headers that describe the origin connection, not the message.
const HOP_BY_HOP_RESPONSE: [&str; 6] = ["connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding"];

/// Outcome of forwarding: the relayed response, or why the origin gave none.
pub enum Forwarded {
    Response(web_sys::Response),
    Unreachable(String),
    /// No response headers within `origin_timeout_ms`.
    TimedOut,
}

/// Header name lists as the runtime wants them, built once per isolate (part of `Isolate`).
pub struct DropLists {
    request: Set,
    request_prefixes: Array,
    response: Set,
    /// No prefix, or the origin's `access-control-*` headers (routes with a CORS policy).
    no_prefixes: Array,
    cors_prefixes: Array,
}

impl DropLists {
    pub fn new(config: &Config) -> DropLists {
        let filter = RequestHeaderFilter::new(None, config.forward_authorization, &config.identity_headers);
        DropLists {
            request: string_set(filter.dropped_names()),
            request_prefixes: string_array(filter.dropped_prefixes()),
            response: string_set(HOP_BY_HOP_RESPONSE.iter().copied().chain(config.security_headers.remove.iter().map(String::as_str))),
            no_prefixes: Array::new(),
            cors_prefixes: string_array(["access-control-"]),
        }
    }
}

/// What the origin receives besides the client's own headers.
pub struct OriginExtras<'a> {
    pub principal: Option<&'a Principal>,
    pub origin_secret: Option<&'a str>,
    pub ids: &'a RequestIds,
    /// The route has a CORS policy: the origin's `Access-Control-*` headers are dropped.
    pub gateway_cors: bool,
}

/// Forwards to the origin at the normalized `path` (the one the route matched).
pub async fn forward(
    request: &Request,
    config: &Config,
    lists: &DropLists,
    path: &NormalizedPath,
    query: Option<&str>,
    extra: OriginExtras<'_>,
) -> Result<Forwarded> {
    let target = config.origin.url_for(path.as_str(), query);

    let incoming = request.headers();
    let connection = incoming.get("connection").ok().flatten();
    let headers = match connection.as_deref() {
        // Names listed in Connection are hop-by-hop too: a list for this request only.
        Some(listed) => {
            let filter = RequestHeaderFilter::new(Some(listed), config.forward_authorization, &config.identity_headers);
            js::copy_without(&incoming, &string_set(filter.dropped_names()), &lists.request_prefixes)?
        }
        None => js::copy_without(&incoming, &lists.request, &lists.request_prefixes)?,
    };
    let mut edits: Vec<HeaderEdit> =
        extra.principal.map(identity_headers).unwrap_or_default().into_iter().map(|(name, value)| HeaderEdit::set(name, value)).collect();
    if let Some(secret) = extra.origin_secret {
        edits.push(HeaderEdit::set(ORIGIN_SECRET_HEADER, secret));
    }
    edits.push(HeaderEdit::set("x-request-id", extra.ids.request_id.as_str()));
    edits.push(HeaderEdit::set("traceparent", extra.ids.traceparent.as_str()));
    js::apply_edits(&headers, &edits)?;

    let method = request.method();
    let init = web_sys::RequestInit::new();
    init.set_method(&method);
    init.set_headers(&headers);
    init.set_redirect(RequestRedirect::Manual);
    if method != "GET" && method != "HEAD" {
        if let Some(body) = request.body() {
            init.set_body(&body);
        }
    }
    // The runtime's own timer: no Rust-side timer future per request.
    let signal = AbortSignal::timeout_with_u32(u32::try_from(config.origin_timeout_ms).unwrap_or(u32::MAX));
    init.set_signal(Some(&signal));
    let global: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
    match JsFuture::from(global.fetch_with_str_and_init(&target, &init)).await {
        Ok(response) => {
            let response: web_sys::Response = response.unchecked_into();
            let prefixes = if extra.gateway_cors { &lists.cors_prefixes } else { &lists.no_prefixes };
            let relayed = js::relay(&response, &lists.response, prefixes)?;
            Ok(Forwarded::Response(relayed))
        }
        Err(_) if signal.aborted() => Ok(Forwarded::TimedOut),
        Err(err) => Ok(Forwarded::Unreachable(describe(&err))),
    }
}

fn describe(err: &JsValue) -> String {
    err.dyn_ref::<js_sys::Error>().map(|e| String::from(e.message())).or_else(|| err.as_string()).unwrap_or_else(|| "fetch failed".into())
}
