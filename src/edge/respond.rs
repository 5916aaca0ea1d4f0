//! Turning the core's pure answers into the runtime's `Response`s, and the headers every
//! answer gets on its way out.

use std::cell::OnceCell;

use worker::web_sys::Response;
use worker::Result;

use super::glue;
use crate::config::Config;
use crate::gateway::{HeaderEdit, HeaderMode};
use crate::problem::{refusal_answer, Answer, AnswerContext};
use crate::reason::Refusal;
use crate::security_headers::SecurityHeaders;

pub fn answer(answer: Answer) -> Result<Response> {
    let edits: Vec<HeaderEdit> = answer.headers.into_iter().map(|(name, value)| HeaderEdit::set(name, value)).collect();
    Ok(glue::answer(answer.status, &edits, Some(answer.body))?)
}

pub fn refusal(refusal: &Refusal, context: AnswerContext<'_>) -> Result<Response> {
    answer(refusal_answer(refusal, context))
}

/// 204 with the given headers (a successful CORS preflight).
pub fn no_content(edits: &[HeaderEdit]) -> Result<Response> {
    Ok(glue::answer(204, edits, None)?)
}

thread_local! {
    /// The configured security headers, encoded once per isolate: for the gateway's own
    /// answers (set) and for relayed ones (set where the origin has none).
    static SECURITY: OnceCell<(String, String)> = const { OnceCell::new() };
}

fn security_edits(security: &SecurityHeaders, mode: HeaderMode) -> Vec<HeaderEdit> {
    security.add.iter().map(|(name, value)| HeaderEdit { name: name.clone().into(), value: value.clone(), mode }).collect()
}

/// Security headers on every answer: added where the origin did not set its own
/// (`relayed`; leaky origin headers were already dropped by the relay), always on the
/// gateway's own answers; then `extra` edits (request id, CORS, rate-limit state).
pub fn finish(response: &Response, config: Option<&Config>, relayed: bool, extra: &[HeaderEdit]) -> Result<()> {
    let mut encoded = match config {
        Some(config) => SECURITY.with(|cell| {
            let (own, relayed_encoded) = cell.get_or_init(|| {
                (
                    glue::encode(&security_edits(&config.security_headers, HeaderMode::Set)),
                    glue::encode(&security_edits(&config.security_headers, HeaderMode::SetIfMissing)),
                )
            });
            if relayed {
                relayed_encoded.clone()
            } else {
                own.clone()
            }
        }),
        None => glue::encode(&security_edits(&SecurityHeaders::default(), HeaderMode::Set)),
    };
    glue::encode_into(&mut encoded, extra);
    glue::apply_encoded_edits(&response.headers(), &encoded)?;
    Ok(())
}
