//! The one emitter of operational events (`crate::event`): formatting and the `log_level`
//! filter are the core's; this only picks the console stream.

use crate::config::LogLevel;
use crate::event::{line, Event, Severity};

/// Writes `event` if `level` lets it through (`console.error` for errors, `console.warn`
/// for warnings, `console.log` otherwise).
pub fn emit(event: &Event, request_id: Option<&str>, level: LogLevel) {
    let Some(text) = line(event, super::runtime::now_ms(), request_id, level) else { return };
    match event.kind.severity() {
        Severity::Error => worker::console_error!("{text}"),
        Severity::Warn => worker::console_warn!("{text}"),
        Severity::Info => worker::console_log!("{text}"),
    }
}
