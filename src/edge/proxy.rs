//! Forwarding an allowed request to the origin and relaying its answer.

use std::time::Duration;

use futures_util::future::{select, Either};
use worker::wasm_bindgen::JsValue;
use worker::{AbortController, Delay, Fetch, Headers, Method, Request, RequestInit, RequestRedirect, Response, ResponseBuilder, Result};

use crate::config::Config;
use crate::forward::{identity_headers, RequestHeaderFilter, ORIGIN_SECRET_HEADER};
use crate::path::NormalizedPath;
use crate::principal::Principal;
use crate::request_id::RequestIds;

/// Response headers that describe the origin connection, not the message.
const HOP_BY_HOP_RESPONSE: [&str; 6] = ["connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding"];

/// Outcome of forwarding: the relayed response, or why the origin gave none.
pub enum Forwarded {
    Response(Response),
    Unreachable(String),
    /// No response headers within `origin_timeout_ms`.
    TimedOut,
}

/// Forwards to the origin at the normalized `path` (the one the route matched).
/// `principal` is `None` on public routes; `origin_secret` is the `ORIGIN_SECRET` secret.
pub async fn forward(
    request: Request,
    config: &Config,
    path: &NormalizedPath,
    query: Option<&str>,
    principal: Option<&Principal>,
    origin_secret: Option<&str>,
    ids: &RequestIds,
) -> Result<Forwarded> {
    let target = config.origin.url_for(path.as_str(), query);

    let incoming = request.headers();
    let filter = RequestHeaderFilter::new(incoming.get("connection")?.as_deref(), config.forward_authorization);
    let headers = Headers::new();
    for (name, value) in incoming.entries() {
        if filter.keeps(&name) {
            headers.append(&name, &value)?;
        }
    }
    for (name, value) in principal.map(identity_headers).unwrap_or_default() {
        headers.set(name, &value)?;
    }
    if let Some(secret) = origin_secret {
        headers.set(ORIGIN_SECRET_HEADER, secret)?;
    }
    headers.set("x-request-id", &ids.request_id)?;
    headers.set("traceparent", &ids.traceparent)?;

    let method = request.method();
    let mut init = RequestInit::new();
    init.with_method(method.clone()).with_headers(headers).with_redirect(RequestRedirect::Manual);
    if !matches!(method, Method::Get | Method::Head) {
        init.with_body(request.inner().body().map(JsValue::from));
    }
    let outbound = Request::new_with_init(&target, &init)?;
    let controller = AbortController::default();
    let signal = controller.signal();
    let outbound = Fetch::Request(outbound);
    let fetch = std::pin::pin!(outbound.send_with_signal(&signal));
    let timeout = std::pin::pin!(Delay::from(Duration::from_millis(config.origin_timeout_ms)));
    match select(fetch, timeout).await {
        Either::Left((Ok(response), _)) => Ok(Forwarded::Response(relay(response)?)),
        Either::Left((Err(err), _)) => Ok(Forwarded::Unreachable(err.to_string())),
        Either::Right(_) => {
            controller.abort();
            Ok(Forwarded::TimedOut)
        }
    }
}

/// Copies the origin's answer into a response whose headers the gateway may modify.
fn relay(response: Response) -> Result<Response> {
    let status = response.status_code();
    let headers = Headers::new();
    for (name, value) in response.headers().entries() {
        if !HOP_BY_HOP_RESPONSE.contains(&name.as_str()) {
            headers.append(&name, &value)?;
        }
    }
    let (_, body) = response.into_parts();
    Ok(ResponseBuilder::new().with_status(status).with_headers(headers).body(body))
}
