//! Turning the core's pure answers into the runtime's `Response`s, and the headers every
//! answer gets on its way out.

use std::cell::OnceCell;

use worker::web_sys::Response;
use worker::Result;

use super::glue::{self, push_line};
use crate::config::Config;
use crate::problem::{refusal_answer, Answer, AnswerContext};
use crate::reason::Refusal;
use crate::security_headers::SecurityHeaders;

pub fn answer(answer: Answer) -> Result<Response> {
    let mut lines = String::new();
    for (name, value) in &answer.headers {
        push_line(&mut lines, name, value);
    }
    Ok(glue::answer(answer.status, &lines, Some(answer.body))?)
}

pub fn refusal(refusal: &Refusal, context: AnswerContext<'_>) -> Result<Response> {
    answer(refusal_answer(refusal, context))
}

/// 204 with the given headers (a successful CORS preflight).
pub fn no_content(headers: &[(&'static str, String)]) -> Result<Response> {
    let mut lines = String::new();
    for (name, value) in headers {
        push_line(&mut lines, name, value);
    }
    Ok(glue::answer(204, &lines, None)?)
}

thread_local! {
    static SECURITY_LINES: OnceCell<String> = const { OnceCell::new() };
}

fn security_lines(security: &SecurityHeaders) -> String {
    let mut lines = String::new();
    for (name, value) in &security.add {
        push_line(&mut lines, name, value);
    }
    lines
}

/// Security headers on every answer: added where the origin did not set its own
/// (`relayed`; leaky origin headers were already dropped by the relay), always on the
/// gateway's own answers; then `extra` lines (request id, CORS, rate-limit state).
pub fn finish(response: &Response, config: Option<&Config>, relayed: bool, extra: &str) -> Result<()> {
    let headers = response.headers();
    let lines = match config {
        Some(config) => SECURITY_LINES.with(|cell| cell.get_or_init(|| security_lines(&config.security_headers)).clone()),
        None => security_lines(&SecurityHeaders::default()),
    };
    if relayed {
        glue::set_missing(&headers, &lines)?;
    } else {
        glue::set_lines(&headers, &lines)?;
    }
    glue::set_lines(&headers, extra)?;
    Ok(())
}
