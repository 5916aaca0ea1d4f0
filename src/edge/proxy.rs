//! Forwarding an allowed request to the origin and relaying its answer.
//!
//! Works on the runtime's own `Request`/`Response` objects: each conversion through
//! `worker::Response` would copy headers and build another response.

use worker::js_sys::{self, Array, Set};
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::web_sys::{self, Request};
use worker::Result;

use super::js::{self, string_array, string_set};
use crate::config::Config;
use crate::forward::{origin_request_edits, RequestHeaderFilter};
use crate::path::NormalizedPath;
use crate::principal::Principal;
use crate::request_id::RequestIds;

/// Outcome of forwarding: the relayed response, or why the origin gave none.
pub enum Forwarded {
    /// The relayed response and a promise of its body's end (`null` when every byte went
    /// through, else the runtime's error message).
    /// The relayed response, and the promise of its body's end when the body is watched.
    Response(web_sys::Response, Option<js_sys::Promise>),
    Unreachable(String),
    /// No response headers within `origin_timeout_ms` of the request body being sent.
    TimedOut,
    /// The client's request body broke off before it was all sent.
    UploadBroken(String),
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
            response: string_set(
                crate::forward::HOP_BY_HOP_RESPONSE.iter().copied().chain(config.security_headers.remove.iter().map(String::as_str)),
            ),
            no_prefixes: Array::new(),
            cors_prefixes: string_array(["access-control-"]),
        }
    }
}

/// What the origin receives besides the client's own headers.
pub struct OriginExtras<'a> {
    /// The client's `Connection` header, if any.
    pub connection: Option<&'a str>,
    pub principal: Option<&'a Principal>,
    pub origin_secret: Option<&'a str>,
    pub ids: &'a RequestIds,
    /// The route has a CORS policy: the origin's `Access-Control-*` headers are dropped.
    pub gateway_cors: bool,
    /// The signed identity assertion to sign and set in the same call: (the imported key,
    /// header name, JWS signing input).
    pub assertion: Option<(&'a JsValue, &'a str, &'a str)>,
}

/// Forwards to the origin at the normalized `path` (the one the route matched) and relays
/// its answer with `response_edits` (security, CORS, rate-limit and request-id headers,
/// encoded by `js::encode`): the whole exchange is one call into `headers.js`.
/// `connection` is the client's `Connection` header (the names it lists are hop-by-hop too).
pub async fn forward(
    request: &Request,
    config: &Config,
    lists: &DropLists,
    path: &NormalizedPath,
    query: Option<&str>,
    extra: OriginExtras<'_>,
    response_edits: &str,
) -> Result<Forwarded> {
    let target = config.origin.url_for(path.as_str(), query);
    // Names listed in Connection are hop-by-hop too: only those the per-isolate lists do not
    // already drop cross, as a short string (usually none: `keep-alive`, `close`).
    let connection_extras = match extra.connection {
        Some(listed) => RequestHeaderFilter::new(Some(listed), config.forward_authorization, &config.identity_headers).connection_extras(),
        None => String::new(),
    };
    let edits = origin_request_edits(extra.principal, extra.origin_secret, extra.ids);
    let undefined = JsValue::UNDEFINED;
    let (sign_key, sign_header, signing_input) = extra.assertion.unwrap_or((&undefined, "", ""));
    let response_prefixes = if extra.gateway_cors { &lists.cors_prefixes } else { &lists.no_prefixes };
    let promise = js::forward(
        request,
        &target,
        &lists.request,
        &lists.request_prefixes,
        &connection_extras,
        &js::encode(&edits),
        &lists.response,
        response_prefixes,
        response_edits,
        u32::try_from(config.origin_timeout_ms).unwrap_or(u32::MAX),
        sign_key,
        sign_header,
        signing_input,
        crate::access_log::watches_body(config.log.level),
    );
    let outcome = JsFuture::from(promise).await.map_err(|err| worker::Error::from(describe(&err)))?;
    Ok(match outcome.as_string() {
        // A watched body comes as [Response, promise of its end]; otherwise the Response alone.
        None => match outcome.dyn_into::<Array>() {
            Ok(pair) => Forwarded::Response(pair.get(0).unchecked_into(), Some(pair.get(1).unchecked_into())),
            Err(response) => Forwarded::Response(response.unchecked_into(), None),
        },
        Some(failure) if failure == "timeout" => Forwarded::TimedOut,
        Some(failure) => match failure.strip_prefix("upload: ") {
            Some(why) => Forwarded::UploadBroken(why.to_string()),
            None => Forwarded::Unreachable(failure.strip_prefix("unreachable: ").unwrap_or(&failure).to_string()),
        },
    })
}

fn describe(err: &JsValue) -> String {
    err.dyn_ref::<js_sys::Error>().map(|e| String::from(e.message())).or_else(|| err.as_string()).unwrap_or_else(|| "fetch failed".into())
}
