//! Forwarding an allowed request to the origin and relaying its answer.
//!
//! Works on the runtime's own `Request`/`Response` objects: each conversion through
//! `worker::Response` would copy headers and build another response.

use worker::js_sys::{self, Array, Set};
use worker::wasm_bindgen::JsValue;
use worker::web_sys::Request;
use worker::Context;

use super::js::{self, string_array, string_set};
use crate::config::Config;
use crate::forward::{origin_request_edits, RequestHeaderFilter};
use crate::path::NormalizedPath;
use crate::principal::Principal;
use crate::request_id::RequestIds;

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

/// Starts the forward to the origin at the normalized `path` (the one the route matched)
/// with `query`, and the relay of its answer with `response_edits` (the security headers
/// for relayed answers, then the answer's own edits: CORS, rate-limit and request-id
/// headers, encoded by `js::encode`); the whole exchange, and what follows it, is one call
/// into `headers.js` (`relay`), which ends in [`super::settle`] when the origin gives no
/// answer or when `pending` (an access record, 0 for none) waits for the end.
/// `extra.connection` is the client's `Connection` header (the names it lists are
/// hop-by-hop too). Returns the promise of the client's `Response`.
#[allow(clippy::too_many_arguments)]
pub fn relay(
    request: &Request,
    config: &Config,
    lists: &DropLists,
    (path, query): (&NormalizedPath, Option<&str>),
    extra: OriginExtras<'_>,
    (relayed_security, answer_edits): (&str, &str),
    pending: u32,
    ctx: &Context,
) -> js_sys::Promise {
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
    let mut response_edits = String::with_capacity(relayed_security.len() + answer_edits.len());
    response_edits.push_str(relayed_security);
    response_edits.push_str(answer_edits);
    super::settle::with(|settle| {
        js::relay(
            request,
            &target,
            &lists.request,
            &lists.request_prefixes,
            &connection_extras,
            &js::encode(&edits),
            &lists.response,
            response_prefixes,
            &response_edits,
            u32::try_from(config.origin_timeout_ms).unwrap_or(u32::MAX),
            sign_key,
            sign_header,
            signing_input,
            crate::access_log::watches_body(config.log.level),
            settle,
            pending,
            &extra.ids.request_id,
            answer_edits,
            ctx.as_ref(),
        )
    })
}
