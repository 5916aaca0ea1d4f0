//! A route's `rate_limit` table: bucket name, key and windows, validated.

use serde::Deserialize;

use crate::rate_limit::{
    FailureMode, KeyPart, RateLimit, Window, DEFAULT_LIMITER_TIMEOUT_MS, MAX_BURST_REFILL_SECONDS, MAX_LIMITER_TIMEOUT_MS,
};

use super::routes::RouteProblems;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRateLimit {
    name: Option<String>,
    key: Vec<KeyPart>,
    windows: Vec<RawWindow>,
    failure_mode: Option<FailureMode>,
    timeout_ms: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWindow {
    requests: u64,
    period_seconds: u64,
    burst: Option<u64>,
}

/// Longest window: a month.
const MAX_PERIOD_SECONDS: u64 = 31 * 86_400;

pub(super) fn build(raw: RawRateLimit, route_name: &str, public: bool, p: &mut RouteProblems<'_>) -> Option<RateLimit> {
    let before = p.count();
    let name = raw.name.unwrap_or_else(|| {
        // Derived from the route name (often its path): "/api/orders/**" → "api-orders".
        let derived: String = route_name.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '-' }).collect();
        let derived = derived.split('-').filter(|s| !s.is_empty()).collect::<Vec<_>>().join("-");
        if derived.is_empty() {
            "root".to_string()
        } else {
            derived.chars().take(64).collect()
        }
    });
    if name.is_empty() || name.len() > 64 || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) {
        p.add(
            "rate_limit.name",
            format!("{name:?} must be 1-64 letters, digits, - _ or . (set it when the route name has other characters)"),
        );
    }
    if raw.key.is_empty() {
        p.add("rate_limit.key", "must name at least one of \"oid\", \"client\", \"tenant\", \"ip\"");
    }
    for (i, part) in raw.key.iter().enumerate() {
        if raw.key[..i].contains(part) {
            p.add(&format!("rate_limit.key[{i}]"), "is listed twice");
        }
        if public && *part != KeyPart::Ip {
            p.add(&format!("rate_limit.key[{i}]"), "a public route has no verified identity: only \"ip\" can key its limit");
        }
    }
    if raw.windows.is_empty() || raw.windows.len() > 4 {
        p.add("rate_limit.windows", "must list 1 to 4 windows (e.g. a rate and a daily quota)");
    }
    let mut windows = Vec::new();
    for (i, w) in raw.windows.iter().enumerate() {
        let at = format!("rate_limit.windows[{i}]");
        if w.requests == 0 || w.requests > 1_000_000_000 {
            p.add(&format!("{at}.requests"), "must be between 1 and 1000000000");
        }
        if w.period_seconds == 0 || w.period_seconds > MAX_PERIOD_SECONDS {
            p.add(&format!("{at}.period_seconds"), format!("must be between 1 and {MAX_PERIOD_SECONDS} (31 days)"));
        }
        let burst = w.burst.unwrap_or(w.requests);
        if burst == 0 || burst > 1_000_000_000 {
            p.add(&format!("{at}.burst"), "must be between 1 and 1000000000");
        }
        let window = Window { requests: w.requests, period_seconds: w.period_seconds, burst };
        if window.burst_refill_seconds() > u128::from(MAX_BURST_REFILL_SECONDS) {
            p.add(
                &format!("{at}.burst"),
                "burst × period_seconds ÷ requests (the time an exhausted burst takes to refill) must be at most 10 years",
            );
        }
        if windows.iter().any(|x: &Window| x.period_seconds == w.period_seconds) {
            p.add(&format!("{at}.period_seconds"), "two windows with the same period");
        }
        windows.push(window);
    }
    let timeout_ms = raw.timeout_ms.unwrap_or(DEFAULT_LIMITER_TIMEOUT_MS);
    if timeout_ms == 0 || timeout_ms > MAX_LIMITER_TIMEOUT_MS {
        p.add("rate_limit.timeout_ms", format!("must be between 1 and {MAX_LIMITER_TIMEOUT_MS}"));
    }
    (p.count() == before).then(|| RateLimit {
        name,
        key: raw.key,
        windows,
        failure_mode: raw.failure_mode.unwrap_or(FailureMode::Open),
        timeout_ms,
    })
}
