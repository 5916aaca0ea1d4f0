//! Turning the core's pure answers into the runtime's `Response`s, and the headers every
//! answer gets on its way out.

use worker::web_sys::Response;
use worker::Result;

use super::js;
use crate::gateway::{self, HeaderEdit};
use crate::problem::{refusal_answer, Answer, AnswerContext};
use crate::reason::Refusal;
use crate::security_headers::SecurityHeaders;

pub fn gateway_answer(answer: Answer) -> Result<Response> {
    let edits: Vec<HeaderEdit> = answer.headers.into_iter().map(|(name, value)| HeaderEdit::set(name, value)).collect();
    Ok(js::new_response(answer.status, &edits, Some(answer.body))?)
}

pub fn refusal(refusal: &Refusal, context: AnswerContext<'_>) -> Result<Response> {
    gateway_answer(refusal_answer(refusal, context))
}

/// A document the gateway serves itself (the RFC 9728 metadata), with these headers.
pub fn document(status: u16, edits: &[HeaderEdit], body: &str) -> Result<Response> {
    Ok(js::new_response(status, edits, Some(body.to_string()))?)
}

/// 204 with the given headers (a successful CORS preflight).
pub fn no_content(edits: &[HeaderEdit]) -> Result<Response> {
    Ok(js::new_response(204, edits, None)?)
}

/// The configured security headers, encoded once per isolate (part of `Isolate`): for the
/// gateway's own answers (set) and for relayed ones (set where the origin has none).
pub struct SecurityHeaderEdits {
    own: String,
    relayed: String,
}

impl SecurityHeaderEdits {
    /// The encoded edits for a relayed answer (set where the origin has none).
    pub fn relayed(&self) -> &str {
        &self.relayed
    }

    /// The encoded edits for the gateway's own answers (always set).
    pub fn own(&self) -> &str {
        &self.own
    }

    pub fn new(security: &SecurityHeaders) -> SecurityHeaderEdits {
        SecurityHeaderEdits {
            own: js::encode(&gateway::security_edits(security, false)),
            relayed: js::encode(&gateway::security_edits(security, true)),
        }
    }
}

/// Security headers on every answer: added where the origin did not set its own
/// (`relayed`; leaky origin headers were already dropped by the relay), always on the
/// gateway's own answers (the defaults while the configuration is invalid); then `extra`
/// edits (request id, CORS, rate-limit state).
pub fn finish(response: &Response, security: Option<&SecurityHeaderEdits>, relayed: bool, extra: &[HeaderEdit]) -> Result<()> {
    let mut encoded = match security {
        Some(security) if relayed => security.relayed.clone(),
        Some(security) => security.own.clone(),
        None => SecurityHeaderEdits::new(&SecurityHeaders::default()).own,
    };
    js::encode_into(&mut encoded, extra);
    js::apply_encoded_edits(&response.headers(), &encoded)?;
    Ok(())
}
