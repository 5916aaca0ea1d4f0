//! Turning the core's pure answers into `worker::Response`s.

use worker::{Headers, Response, ResponseBuilder, Result};

use crate::problem::{refusal_answer, Answer, AnswerContext};
use crate::reason::Refusal;
use crate::security_headers::SecurityHeaders;

pub fn answer(answer: Answer) -> Result<Response> {
    let headers = Headers::new();
    for (name, value) in &answer.headers {
        headers.set(name, value)?;
    }
    Ok(ResponseBuilder::new().with_status(answer.status).with_headers(headers).fixed(answer.body.into_bytes()))
}

pub fn refusal(refusal: &Refusal, context: AnswerContext<'_>) -> Result<Response> {
    answer(refusal_answer(refusal, context))
}

/// Security headers on every answer: added where the origin did not set its own
/// (`relayed`), always on the gateway's own answers; leaky origin headers removed;
/// the request id returned.
pub fn secure(response: &mut Response, security: &SecurityHeaders, relayed: bool, request_id: &str) -> Result<()> {
    let headers = response.headers_mut();
    if relayed {
        for name in &security.remove {
            headers.delete(name)?;
        }
    }
    for (name, value) in &security.add {
        if !relayed || !headers.has(name)? {
            headers.set(name, value)?;
        }
    }
    headers.set("x-request-id", request_id)?;
    Ok(())
}

/// 204 with the given headers (a successful CORS preflight).
pub fn no_content(headers: &[(&'static str, String)]) -> Result<Response> {
    let h = Headers::new();
    for (name, value) in headers {
        h.set(name, value)?;
    }
    Ok(ResponseBuilder::new().with_status(204).with_headers(h).empty())
}

/// Makes the route's CORS policy the only source of `Access-Control-*` headers.
pub fn apply_cors(response: &mut Response, cors_headers: &[(&'static str, String)]) -> Result<()> {
    let headers = response.headers_mut();
    let stale: Vec<String> = headers.keys().filter(|name| name.starts_with("access-control-")).collect();
    for name in stale {
        headers.delete(&name)?;
    }
    for (name, value) in cors_headers {
        if *name == "vary" {
            headers.append(name, value)?;
        } else {
            headers.set(name, value)?;
        }
    }
    Ok(())
}

/// Sets extra headers (rate-limit state) on an answer.
pub fn add_headers(response: &mut Response, headers: &[(&'static str, String)]) -> Result<()> {
    for (name, value) in headers {
        response.headers_mut().set(name, value)?;
    }
    Ok(())
}
