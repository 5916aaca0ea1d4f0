//! Turning the core's pure answers into `worker::Response`s.

use worker::{Headers, Response, ResponseBuilder, Result};

use crate::problem::{refusal_answer, Answer};
use crate::reason::Refusal;

pub fn answer(answer: Answer) -> Result<Response> {
    let headers = Headers::new();
    for (name, value) in &answer.headers {
        headers.set(name, value)?;
    }
    Ok(ResponseBuilder::new().with_status(answer.status).with_headers(headers).fixed(answer.body.into_bytes()))
}

pub fn refusal(refusal: &Refusal, realm: &str) -> Result<Response> {
    answer(refusal_answer(refusal, realm))
}
