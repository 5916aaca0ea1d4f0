//! Operational events besides the access line: key-cache activity, upstream failures and
//! configuration problems. Like `reason.rs`: one table of stable event codes and levels;
//! one line format ([`line`]), which honours `log_level` exactly as the access log does.

use serde_json::{json, Map, Value};

use crate::access_log::iso8601;
use crate::config::LogLevel;

/// How serious an event is; `log_level` drops the ones below it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Info,
    Warn,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warn => "warn",
            Severity::Error => "error",
        }
    }

    /// Whether a line of this severity is written at the configured level.
    pub fn enabled(self, level: LogLevel) -> bool {
        match level {
            LogLevel::Info => true,
            LogLevel::Warn => self >= Severity::Warn,
            LogLevel::Error => self >= Severity::Error,
            LogLevel::Off => false,
        }
    }
}

macro_rules! events {
    ($($variant:ident => ($code:literal, $severity:ident),)*) => {
        /// A stable event code; the fields of one occurrence are in [`Event::fields`].
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Kind { $($variant,)* }

        impl Kind {
            pub const ALL: &'static [Kind] = &[$(Kind::$variant,)*];

            /// The snake_case `event` of the JSON line. Never renamed: operators filter on it.
            pub fn code(self) -> &'static str {
                match self { $(Kind::$variant => $code,)* }
            }

            pub fn severity(self) -> Severity {
                match self { $(Kind::$variant => Severity::$severity,)* }
            }
        }
    };
}

events! {
    KeysFetched => ("keys_fetched", Info),
    KeyFetchFailed => ("key_fetch_failed", Warn),
    KeyImportFailed => ("key_import_failed", Warn),
    KvUnavailable => ("kv_unavailable", Warn),
    KvReadFailed => ("kv_read_failed", Warn),
    KvWriteFailed => ("kv_write_failed", Warn),
    KvDocumentUnusable => ("kv_document_unusable", Warn),
    ConfigInvalid => ("config_invalid", Error),
    InternalError => ("internal_error", Error),
    OriginUnreachable => ("origin_unreachable", Error),
    OriginTimeout => ("origin_timeout", Error),
    RequestBodyIncomplete => ("request_body_incomplete", Warn),
    RateLimiterUnavailable => ("rate_limiter_unavailable", Error),
    RateLimiterStorageFailed => ("rate_limiter_storage_failed", Error),
    TokenRevoked => ("token_revoked", Warn),
    RevocationListRead => ("revocation_list_read", Info),
    RevocationListReadFailed => ("revocation_list_read_failed", Error),
    RevocationEntryInvalid => ("revocation_entry_invalid", Error),
}

/// One occurrence of an event: its kind and its own fields (never a token or a secret).
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub kind: Kind,
    pub fields: Map<String, Value>,
}

impl Event {
    pub fn new(kind: Kind) -> Event {
        Event { kind, fields: Map::new() }
    }

    /// Adds a field (`detail`, `tenant`, `version`, `limit`, …).
    pub fn with(mut self, name: &str, value: impl Into<Value>) -> Event {
        self.fields.insert(name.to_string(), value.into());
        self
    }
}

/// The JSON line for an event at `time_ms` (ms since the epoch), or `None` when `level`
/// filters it out. Every line has `time`, `level`, `event`, and `request_id` when the
/// event belongs to a request.
pub fn line(event: &Event, time_ms: u64, request_id: Option<&str>, level: LogLevel) -> Option<String> {
    let severity = event.kind.severity();
    if !severity.enabled(level) {
        return None;
    }
    let mut entry = json!({ "time": iso8601(time_ms), "level": severity.as_str(), "event": event.kind.code() });
    if let Some(id) = request_id {
        entry["request_id"] = id.into();
    }
    if let Value::Object(map) = &mut entry {
        for (name, value) in &event.fields {
            map.entry(name.clone()).or_insert_with(|| value.clone());
        }
    }
    Some(entry.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn event_codes_are_unique_snake_case() {
        let mut seen = HashSet::new();
        for kind in Kind::ALL {
            let code = kind.code();
            assert!(seen.insert(code), "duplicate event {code}");
            assert!(code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "{code}");
        }
    }

    #[test]
    fn a_line_is_json_with_time_level_event_and_request_id() {
        let event = Event::new(Kind::KeyFetchFailed).with("tenant", "t").with("detail", "HTTP 500");
        let text = line(&event, 1_800_000_000_000, Some("req-1"), LogLevel::Info).unwrap();
        let value: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["event"], "key_fetch_failed");
        assert_eq!(value["level"], "warn");
        assert_eq!(value["request_id"], "req-1");
        assert_eq!(value["tenant"], "t");
        assert_eq!(value["time"], "2027-01-15T08:00:00.000Z");
    }

    #[test]
    fn log_level_governs_every_event() {
        let info = Event::new(Kind::KeysFetched);
        let warn = Event::new(Kind::KvReadFailed);
        let error = Event::new(Kind::OriginTimeout);
        let written = |level| [&info, &warn, &error].iter().filter(|e| line(e, 0, None, level).is_some()).count();
        assert_eq!(written(LogLevel::Info), 3);
        assert_eq!(written(LogLevel::Warn), 2);
        assert_eq!(written(LogLevel::Error), 1);
        assert_eq!(written(LogLevel::Off), 0);
    }

    #[test]
    fn fields_cannot_overwrite_the_fixed_ones() {
        let event = Event::new(Kind::KeysFetched).with("event", "forged").with("level", "error");
        let value: Value = serde_json::from_str(&line(&event, 0, None, LogLevel::Info).unwrap()).unwrap();
        assert_eq!(value["event"], "keys_fetched");
        assert_eq!(value["level"], "info");
    }
}
