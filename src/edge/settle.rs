//! The end of a forward, called from `headers.js` `relay` only when there is something to
//! do: the origin gave no answer (the gateway's refusal replaces it), or an access line
//! waits for the relayed response (logging on). A request with logging off whose origin
//! answers never comes back here.

use std::cell::RefCell;

use worker::js_sys::Function;
use worker::wasm_bindgen::closure::Closure;
use worker::wasm_bindgen::{JsCast, JsValue};

use super::slab::Slab;
use super::{isolate, log, respond, AccessLine, Outcome};
use crate::access_log::BodyEnd;
use crate::event::{Event, Kind};
use crate::gateway::{self, OriginFailure};
use crate::problem::AnswerContext;
use crate::reason::{Reason, Refusal};

/// An access record waiting for its forward's end.
pub struct Waiting {
    pub line: AccessLine,
    pub outcome: Outcome,
    /// When the forward started (ms since the epoch): `origin_ms` counts from here.
    pub forward_started: u64,
}

type Settle = dyn Fn(u32, JsValue, f64, JsValue, JsValue, JsValue) -> JsValue;

thread_local! {
    /// Records waiting, by the number `relay` hands back (never 0), and when they were last
    /// swept (ms since the epoch).
    static WAITING: RefCell<(Slab<Waiting>, u64)> = const { RefCell::new((Slab::new(), 0)) };
    /// The one closure `relay` calls, made once per isolate.
    static SETTLE: Closure<Settle> = Closure::new(settle);
}

/// Past this many records waiting at once, those waiting longer than [`ABANDONED_MS`] are
/// written as they are: the runtime may drop a request's continuations (a client gone, an
/// isolate's `waitUntil` budget spent) without `relay` ever calling back, and the records
/// must not pile up for the isolate's lifetime. A relay still running that long (a stream)
/// then has its line written early, marked so, and its late end is ignored: slab keys carry
/// a generation, so it cannot reach another record. The sweep runs at most once a minute.
const MAX_WAITING: usize = 4096;
const ABANDONED_MS: u64 = 15 * 60 * 1000;
const SWEEP_EVERY_MS: u64 = 60 * 1000;

/// Keeps `waiting` until its forward ends; the number to hand to `relay` (0, and the line
/// is written at once without the body's end, in the unlikely case that 65,535 wait).
pub fn wait(waiting: Waiting) -> u32 {
    let now = waiting.line.started;
    let abandoned = WAITING.with(|cell| {
        let (records, last_sweep) = &mut *cell.borrow_mut();
        if records.len() < MAX_WAITING || now.saturating_sub(*last_sweep) < SWEEP_EVERY_MS {
            return Vec::new();
        }
        *last_sweep = now;
        records.take_where(|record| now.saturating_sub(record.forward_started) > ABANDONED_MS)
    });
    for record in abandoned {
        let end = BodyEnd::Truncated(format!(
            "written before the relay ended: still waiting after {} minutes while {MAX_WAITING} lines waited (status unknown)",
            ABANDONED_MS / 60_000
        ));
        record.line.write(&record.outcome, Some(&end));
    }
    match WAITING.with(|cell| cell.borrow_mut().0.insert(waiting)) {
        Ok(key) => key,
        Err(waiting) => {
            waiting.line.write(&waiting.outcome, None);
            0
        }
    }
}

/// Runs `f` with the settle function `relay` takes.
pub fn with<R>(f: impl FnOnce(&Function) -> R) -> R {
    SETTLE.with(|closure| f(closure.as_ref().unchecked_ref()))
}

/// `outcome`: the relayed status (a number), or why no answer came (a string: "timeout",
/// "upload: …", "unreachable: …", "error: …"). `at`: when the origin answered or the
/// attempt ended (ms since the epoch). `request_id` and `answer_edits` (strings) come with
/// a failure; `body_end` is null (complete), a string (why the body broke off) or
/// undefined (not watched). Returns the refusal for a failure, else undefined.
fn settle(pending: u32, outcome: JsValue, at: f64, request_id: JsValue, answer_edits: JsValue, body_end: JsValue) -> JsValue {
    let waiting = if pending == 0 { None } else { WAITING.with(|cell| cell.borrow_mut().0.remove(pending)) };
    let origin_ms = |w: &Waiting| (at as u64).saturating_sub(w.forward_started);
    let Some(failure) = outcome.as_string() else {
        // The origin answered: the access line, now that the relay is over.
        if let Some(mut waiting) = waiting {
            waiting.outcome.forwarded = true;
            waiting.outcome.origin_ms = origin_ms(&waiting);
            waiting.line.status = outcome.as_f64().map_or(0, |status| status as u16);
            let end = if body_end.is_undefined() { None } else { Some(body_end.as_string().map_or(BodyEnd::Complete, BodyEnd::Truncated)) };
            waiting.line.write(&waiting.outcome, end.as_ref());
        }
        return JsValue::UNDEFINED;
    };
    let Some(isolate) = isolate::current() else { return JsValue::UNDEFINED };
    let config = &isolate.config;
    let request_id = request_id.as_string().unwrap_or_default();
    let (refusal, kind) = match failure.split_once(": ") {
        _ if failure == "timeout" => (gateway::origin_failed(OriginFailure::TimedOut, config), Kind::OriginTimeout),
        Some(("upload", why)) => {
            (gateway::origin_failed(OriginFailure::UploadBroken(why.to_string()), config), Kind::RequestBodyIncomplete)
        }
        Some(("unreachable", why)) => {
            (gateway::origin_failed(OriginFailure::Unreachable(why.to_string()), config), Kind::OriginUnreachable)
        }
        // The relay itself failed (e.g. the assertion could not be signed): nothing was forwarded.
        _ => (
            Refusal::new(Reason::InternalError, "the gateway failed to handle the request").with_internal(failure.clone()),
            Kind::InternalError,
        ),
    };
    log::emit(&Event::new(kind).with("detail", refusal.internal.clone()), Some(&request_id), config.log.level);
    let answer = respond::refusal(&refusal, AnswerContext::of(Some(config), &request_id));
    let status = answer.status;
    let Ok(response) = answer.build_encoded(&isolate.security_headers, &answer_edits.as_string().unwrap_or_default()) else {
        return JsValue::UNDEFINED;
    };
    if let Some(mut waiting) = waiting {
        waiting.outcome.forwarded = false;
        waiting.outcome.reason = Some(refusal.reason);
        waiting.outcome.origin_ms = origin_ms(&waiting);
        waiting.line.status = status;
        waiting.line.write(&waiting.outcome, None);
    }
    JsValue::from(response)
}
