//! Turning the core's pure answers into the runtime's `Response`s, and the headers every
//! answer gets on its way out.

use worker::web_sys::Response;
use worker::Result;

use super::js;
use crate::gateway::{self, HeaderEdit};
use crate::problem::{refusal_answer, Answer, AnswerContext};
use crate::reason::Refusal;
use crate::security_headers::SecurityHeaders;

/// An answer of the gateway's own, before it becomes the runtime's `Response`: the
/// security headers, the request id and the route's CORS and rate-limit headers are
/// added to it (`Draft::build`), so the whole answer is made in one crossing.
pub struct Draft {
    pub status: u16,
    /// Header edits in `js::encode`'s form.
    edits: String,
    body: Option<String>,
}

impl Draft {
    /// The `Response`, with `security` (the defaults while the configuration is invalid)
    /// and then `extra` (request id, CORS, rate-limit state) after the answer's own headers.
    pub fn build(self, security: Option<&SecurityHeaderEdits>, extra: &[HeaderEdit]) -> Result<Response> {
        let defaults;
        let security = match security {
            Some(security) => security,
            None => {
                defaults = SecurityHeaderEdits::new(&SecurityHeaders::default());
                &defaults
            }
        };
        self.build_encoded(security, &js::encode(extra))
    }

    /// [`build`](Self::build) with already encoded `extra` edits.
    pub fn build_encoded(mut self, security: &SecurityHeaderEdits, extra: &str) -> Result<Response> {
        self.edits.push_str(&security.own);
        self.edits.push_str(extra);
        Ok(js::new_response_encoded(self.status, &self.edits, self.body.as_deref())?)
    }
}

pub fn gateway_answer(answer: Answer) -> Draft {
    let edits: Vec<HeaderEdit> = answer.headers.into_iter().map(|(name, value)| HeaderEdit::set(name, value)).collect();
    Draft { status: answer.status, edits: js::encode(&edits), body: Some(answer.body) }
}

pub fn refusal(refusal: &Refusal, context: AnswerContext<'_>) -> Draft {
    gateway_answer(refusal_answer(refusal, context))
}

/// A document the gateway serves itself (the RFC 9728 metadata), with these headers.
pub fn document(status: u16, edits: &[HeaderEdit], body: &str) -> Draft {
    Draft { status, edits: js::encode(edits), body: Some(body.to_string()) }
}

/// 204 with the given headers (a successful CORS preflight).
pub fn no_content(edits: &[HeaderEdit]) -> Draft {
    Draft { status: 204, edits: js::encode(edits), body: None }
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

    pub fn new(security: &SecurityHeaders) -> SecurityHeaderEdits {
        SecurityHeaderEdits {
            own: js::encode(&gateway::security_edits(security, false)),
            relayed: js::encode(&gateway::security_edits(security, true)),
        }
    }
}
