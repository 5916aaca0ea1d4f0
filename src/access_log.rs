//! The access log: exactly one JSON line per request, for Workers Logs and `wrangler
//! tail`. Never the token or the `Authorization` header; user identifiers only in the
//! configured form.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::config::{LogLevel, LogSettings, UserIdForm};
use crate::event::Severity;
use crate::principal::Principal;
use crate::reason::Reason;

/// What happened to a request, as the log records it.
pub struct AccessRecord<'a> {
    pub time_ms: u64,
    pub request_id: &'a str,
    pub method: &'a str,
    pub path: &'a str,
    pub route: Option<&'a str>,
    pub status: u16,
    pub reason: Option<Reason>,
    /// Forwarded to the origin (as opposed to answered or refused at the edge).
    pub forwarded: bool,
    pub verify_ms: u64,
    pub rate_limit_ms: u64,
    pub origin_ms: u64,
    pub total_ms: u64,
    pub principal: Option<&'a Principal>,
    /// How the relayed body ended (forwarded requests whose body the gateway watched).
    pub response_body: Option<&'a BodyEnd>,
}

/// How a relayed response body ended. The status line went out before the body, so a
/// body that breaks off (the origin reset the connection, or the client went away) can
/// only be marked in the log: `response_body: "truncated"` with the runtime's reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BodyEnd {
    /// Every byte the origin sent reached the client.
    Complete,
    /// The stream broke off; the runtime's error message.
    Truncated(String),
}

/// The `level` of an access line: by status, and `error` for a truncated body whatever
/// the status (a 200 that delivered half a body is a failure).
pub fn severity(status: u16, body: Option<&BodyEnd>) -> Severity {
    if status >= 500 || matches!(body, Some(BodyEnd::Truncated(_))) {
        Severity::Error
    } else if status >= 400 {
        Severity::Warn
    } else {
        Severity::Info
    }
}

/// `sha256:` and 16 hex digits: the same user always maps to the same value.
pub fn pseudonym(value: &str) -> String {
    let digest = Sha256::digest(value.as_bytes());
    format!("sha256:{}", digest.iter().take(8).map(|b| format!("{b:02x}")).collect::<String>())
}

/// A user identifier (`oid`, `upn`) as `log_user_ids` says it may appear in a log line.
pub fn user_id(value: Option<&str>, form: UserIdForm) -> Value {
    match (value, form) {
        (None, _) | (_, UserIdForm::Omit) => Value::Null,
        (Some(v), UserIdForm::Hash) => Value::String(pseudonym(v)),
        (Some(v), UserIdForm::Plain) => Value::String(v.to_string()),
    }
}

/// Whether a relayed body is watched to its end (a pipe per response, a few µs): only
/// when its access line can be written. With `log_level = "off"` nothing would record
/// the outcome, so the body is passed on untouched.
pub fn watches_body(level: LogLevel) -> bool {
    level != LogLevel::Off
}

/// Whether a line at this status is written at the configured level.
pub fn enabled(level: LogLevel, status: u16) -> bool {
    severity(status, None).enabled(level)
}

/// The JSON line for a request, or None when the level filters it out.
pub fn line(record: &AccessRecord<'_>, settings: &LogSettings) -> Option<String> {
    let severity = severity(record.status, record.response_body);
    if !severity.enabled(settings.level) {
        return None;
    }
    let principal = record.principal;
    let mut entry = json!({
        "time": iso8601(record.time_ms),
        "level": severity.as_str(),
        "event": "request",
        "request_id": record.request_id,
        "method": record.method,
        "path": record.path,
        "route": record.route,
        "status": record.status,
        "outcome": if record.forwarded { "forwarded" } else if record.reason.is_some() { "refused" } else { "answered" },
        "reason": record.reason.map(Reason::code),
        "latency_ms": { "verify": record.verify_ms, "rate_limit": record.rate_limit_ms, "origin": record.origin_ms, "total": record.total_ms },
        "tenant": principal.map(|p| p.tenant().as_str()),
        "client_app": principal.and_then(Principal::client_app_id),
    });
    match record.response_body {
        Some(BodyEnd::Complete) => entry["response_body"] = json!("complete"),
        Some(BodyEnd::Truncated(why)) => {
            entry["response_body"] = json!("truncated");
            entry["response_body_error"] = json!(why);
        }
        None => {}
    }
    if settings.user_ids != UserIdForm::Omit {
        entry["user"] = json!({
            "oid": user_id(principal.and_then(Principal::object_id), settings.user_ids),
            "upn": user_id(principal.and_then(Principal::username), settings.user_ids),
        });
    }
    Some(entry.to_string())
}

/// Milliseconds since the Unix epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn iso8601(ms: u64) -> String {
    let secs = ms / 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil from days (H. Hinnant), valid for the whole u64 millisecond range we can see.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z", rem / 3600, rem % 3600 / 60, rem % 60, ms % 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal() -> Principal {
        crate::principal::sample()
    }

    fn record(principal: Option<&Principal>, status: u16) -> AccessRecord<'_> {
        AccessRecord {
            time_ms: 1_795_950_000_123,
            request_id: "abc",
            method: "GET",
            path: "/api/orders",
            route: Some("read-orders"),
            status,
            reason: None,
            forwarded: status == 200,
            verify_ms: 1,
            rate_limit_ms: 0,
            origin_ms: 5,
            total_ms: 7,
            principal,
            response_body: None,
        }
    }

    fn settings(level: LogLevel, user_ids: UserIdForm) -> LogSettings {
        LogSettings { level, user_ids }
    }

    #[test]
    fn line_has_the_documented_fields() {
        let p = principal();
        let line: Value =
            serde_json::from_str(&line(&record(Some(&p), 200), &settings(LogLevel::Info, UserIdForm::Hash)).unwrap()).unwrap();
        assert_eq!(line["time"], "2026-11-29T11:00:00.123Z");
        assert_eq!(line["request_id"], "abc");
        assert_eq!(line["route"], "read-orders");
        assert_eq!(line["outcome"], "forwarded");
        assert_eq!(line["latency_ms"]["origin"], 5);
        assert_eq!(line["tenant"], "3c6d1c5e-8f0a-4b8e-9d3c-2a1f6e7b9c41");
        assert_eq!(line["client_app"], "0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d");
    }

    #[test]
    fn user_ids_are_hashed_by_default_form() {
        let p = principal();
        let text = line(&record(Some(&p), 200), &settings(LogLevel::Info, UserIdForm::Hash)).unwrap();
        assert!(!text.contains("d621d57a") && !text.contains("adele"), "{text}");
        assert!(text.contains(&pseudonym("d621d57a-9995-4e93-9180-4eef25206cff")));
    }

    #[test]
    fn user_ids_can_be_omitted_or_plain() {
        let p = principal();
        let omitted = line(&record(Some(&p), 200), &settings(LogLevel::Info, UserIdForm::Omit)).unwrap();
        assert!(!omitted.contains("\"user\""));
        let plain = line(&record(Some(&p), 200), &settings(LogLevel::Info, UserIdForm::Plain)).unwrap();
        assert!(plain.contains("adele@contoso.example"));
    }

    #[test]
    fn level_filters_by_status() {
        assert!(line(&record(None, 200), &settings(LogLevel::Warn, UserIdForm::Omit)).is_none());
        assert!(line(&record(None, 401), &settings(LogLevel::Warn, UserIdForm::Omit)).is_some());
        assert!(line(&record(None, 401), &settings(LogLevel::Error, UserIdForm::Omit)).is_none());
        assert!(line(&record(None, 502), &settings(LogLevel::Error, UserIdForm::Omit)).is_some());
        assert!(line(&record(None, 502), &settings(LogLevel::Off, UserIdForm::Omit)).is_none());
    }

    #[test]
    fn a_truncated_body_is_marked_and_logged_as_an_error() {
        let truncated = BodyEnd::Truncated("Network connection lost.".into());
        let mut rec = record(None, 200);
        rec.response_body = Some(&truncated);
        let line: Value = serde_json::from_str(&line(&rec, &settings(LogLevel::Error, UserIdForm::Omit)).unwrap()).unwrap();
        assert_eq!(line["status"], 200);
        assert_eq!(line["level"], "error");
        assert_eq!(line["response_body"], "truncated");
        assert_eq!(line["response_body_error"], "Network connection lost.");
    }

    #[test]
    fn bodies_are_watched_whenever_a_line_can_be_written() {
        assert!(watches_body(LogLevel::Error), "a truncated body is an error line");
        assert!(watches_body(LogLevel::Info));
        assert!(!watches_body(LogLevel::Off));
    }

    #[test]
    fn a_complete_body_is_marked_complete() {
        let mut rec = record(None, 200);
        rec.response_body = Some(&BodyEnd::Complete);
        let line: Value = serde_json::from_str(&line(&rec, &settings(LogLevel::Info, UserIdForm::Omit)).unwrap()).unwrap();
        assert_eq!(line["level"], "info");
        assert_eq!(line["response_body"], "complete");
        assert!(line.get("response_body_error").is_none());
    }

    #[test]
    fn iso8601_matches_known_instants() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso8601(4_102_444_799_999), "2099-12-31T23:59:59.999Z");
    }
}
