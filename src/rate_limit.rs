//! Rate limits and quotas: GCRA (the generic cell rate algorithm) over one or more
//! windows per bucket, plus the IETF `RateLimit` / `RateLimit-Policy` header values.
//!
//! A window of `requests` per `period_seconds` with `burst` admits at most `burst`
//! requests at once and then one every `period / requests`: the state is a single
//! timestamp per window (the theoretical arrival time, TAT), so the Durable Object that
//! owns a bucket can decide and update atomically. A request is admitted only if every
//! window admits it, and only then do the windows advance.

use serde::{Deserialize, Serialize};

use crate::principal::Principal;

/// What a bucket is counted by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyPart {
    /// The caller's object id (`oid`; `sub` when absent).
    Oid,
    /// The calling application (`azp` / `appid`).
    Client,
    /// The caller's tenant (`tid`).
    Tenant,
    /// The client IP (`CF-Connecting-IP`), for public routes.
    Ip,
}

/// One limit: `requests` per `period_seconds`, at most `burst` at once.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub struct Window {
    pub requests: u64,
    pub period_seconds: u64,
    pub burst: u64,
}

impl Window {
    fn emission_us(&self) -> i64 {
        ((self.period_seconds as i128 * 1_000_000) / self.requests.max(1) as i128).max(1) as i64
    }

    fn tolerance_us(&self) -> i64 {
        self.emission_us().saturating_mul(self.burst.saturating_sub(1) as i64)
    }

    /// Storage id: changing a window's numbers starts it afresh.
    pub fn id(&self) -> String {
        format!("{}/{}s/b{}", self.requests, self.period_seconds, self.burst)
    }
}

/// Whether to serve (and log loudly) or refuse (503) when the limiter cannot be reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FailureMode {
    Open,
    Closed,
}

/// A route's rate limit: a named bucket family, its key and its windows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateLimit {
    pub name: String,
    pub key: Vec<KeyPart>,
    pub windows: Vec<Window>,
    pub failure_mode: FailureMode,
    /// Bound on one round trip to the bucket's Durable Object, in milliseconds; past it the
    /// limiter counts as unavailable and `failure_mode` applies.
    pub timeout_ms: u64,
}

/// Default of a rate limit's `timeout_ms`.
pub const DEFAULT_LIMITER_TIMEOUT_MS: u64 = 2000;
/// Largest `timeout_ms` (a request waits this long at most for its limit).
pub const MAX_LIMITER_TIMEOUT_MS: u64 = 30_000;

impl RateLimit {
    /// The bucket a request counts against: the limit's name and the key's values.
    /// Claims come only from a verified `principal`; without one only `ip` can apply.
    pub fn bucket(&self, principal: Option<&Principal>, client_ip: Option<&str>) -> String {
        let mut bucket = self.name.clone();
        for part in &self.key {
            let (label, value) = match part {
                KeyPart::Oid => ("oid", principal.map(|p| p.object_id().unwrap_or(p.subject()))),
                KeyPart::Client => ("client", principal.and_then(Principal::client_app_id)),
                KeyPart::Tenant => ("tid", principal.map(|p| p.tenant().as_str())),
                KeyPart::Ip => ("ip", client_ip),
            };
            bucket.push('|');
            bucket.push_str(label);
            bucket.push('=');
            bucket.push_str(value.unwrap_or("-"));
        }
        bucket
    }
}

/// The state of one window after a decision, for the response headers.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub struct WindowReport {
    pub limit: u64,
    pub window_seconds: u64,
    pub remaining: u64,
    /// Seconds until the window is back to its full burst.
    pub reset_seconds: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub struct Verdict {
    pub allowed: bool,
    /// When refused: milliseconds until a request would be admitted.
    pub retry_after_ms: u64,
    pub windows: Vec<WindowReport>,
}

impl Verdict {
    /// `Retry-After` in whole seconds, rounded up (waiting that long is admitted).
    pub fn retry_after_seconds(&self) -> u64 {
        self.retry_after_ms.div_ceil(1000).max(1)
    }
}

/// The clock domain of [`decide`], microseconds since the Unix epoch: a clock before 1970
/// counts as the epoch, one past this bound (about 146,000 years from now) as the bound.
/// Within it, and with windows the configuration accepts ([`MAX_BURST_REFILL_SECONDS`]),
/// every theoretical arrival time fits an `i64` with room to spare, whatever the clock does.
pub const MAX_INSTANT_US: i64 = i64::MAX / 2;

/// The longest time an exhausted burst may take to refill, `burst × period ÷ requests`
/// (ten years): the bound that keeps a window's tolerance far inside the clock's range.
pub const MAX_BURST_REFILL_SECONDS: u64 = 10 * 366 * 86_400;

impl Window {
    /// Seconds an exhausted burst takes to refill: `burst × period_seconds ÷ requests`.
    pub fn burst_refill_seconds(&self) -> u128 {
        self.burst as u128 * self.period_seconds as u128 / self.requests.max(1) as u128
    }
}

fn ceil_div(a: i128, b: i128) -> i128 {
    if a <= 0 {
        0
    } else {
        (a + b - 1) / b
    }
}

fn to_u64(value: i128) -> u64 {
    u64::try_from(value.max(0)).unwrap_or(u64::MAX)
}

/// Decides a request at `now_us` given each window's stored TAT; returns the verdict and
/// the TATs to store (unchanged when refused).
///
/// Total for every input: `now_us` is clamped into `0..=`[`MAX_INSTANT_US`], stored TATs may
/// be anything (a clock that jumped, state from another version), and the arithmetic is
/// done in `i128`, so no clock can overflow it or admit more than `burst` at one instant.
pub fn decide(windows: &[Window], tats: &[Option<i64>], now_us: i64) -> (Verdict, Vec<i64>) {
    let now_us = now_us.clamp(0, MAX_INSTANT_US);
    let now = i128::from(now_us);
    let mut allowed = true;
    let mut wait_us = 0i128;
    let mut next: Vec<i128> = Vec::with_capacity(windows.len());
    for (window, tat) in windows.iter().zip(tats.iter().copied().chain(std::iter::repeat(None))) {
        let tau = i128::from(window.tolerance_us());
        let tat = i128::from(tat.unwrap_or(now_us).max(now_us));
        if tat - now > tau {
            allowed = false;
            wait_us = wait_us.max(tat - tau - now);
        }
        next.push(tat);
    }
    if allowed {
        for (tat, window) in next.iter_mut().zip(windows) {
            *tat += i128::from(window.emission_us());
        }
    }
    let reports = windows
        .iter()
        .zip(&next)
        .map(|(window, &tat)| {
            let (t, tau) = (i128::from(window.emission_us()), i128::from(window.tolerance_us()));
            // Requests that would still conform now: n with tat + (n-1)·t ≤ now + τ.
            let headroom = now + tau - tat;
            let remaining = if headroom < 0 { 0 } else { to_u64(headroom / t + 1) };
            WindowReport {
                limit: window.requests,
                window_seconds: window.period_seconds,
                remaining: remaining.min(window.burst),
                reset_seconds: to_u64(ceil_div(tat - now, 1_000_000)),
            }
        })
        .collect();
    // Admitted TATs are at most now + τ + T: inside `i64` for every configurable window.
    let stored = if allowed {
        next.iter().map(|&tat| i64::try_from(tat).unwrap_or(i64::MAX)).collect()
    } else {
        tats.iter().map(|t| t.unwrap_or(now_us)).collect()
    };
    let retry_after_ms = if allowed { 0 } else { to_u64(ceil_div(wait_us, 1000)) };
    (Verdict { allowed, retry_after_ms, windows: reports }, stored)
}

/// `RateLimit-Policy` and `RateLimit` header values (draft-ietf-httpapi-ratelimit-headers).
pub fn headers(limit: &RateLimit, verdict: &Verdict) -> (String, String) {
    let names: Vec<String> = limit.windows.iter().map(|w| format!("{}/{}s", limit.name, w.period_seconds)).collect();
    let policy = limit
        .windows
        .iter()
        .zip(&names)
        .map(|(w, name)| format!("\"{name}\";q={};w={}", w.requests, w.period_seconds))
        .collect::<Vec<_>>()
        .join(", ");
    let state = verdict
        .windows
        .iter()
        .zip(&names)
        .map(|(r, name)| format!("\"{name}\";r={};t={}", r.remaining, r.reset_seconds))
        .collect::<Vec<_>>()
        .join(", ");
    (policy, state)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: i64 = 1_000_000;

    fn window(requests: u64, period_seconds: u64, burst: u64) -> Window {
        Window { requests, period_seconds, burst }
    }

    /// Runs requests at the given times (seconds, fractional allowed); returns admitted count.
    fn run(windows: &[Window], times: &[f64]) -> (usize, Vec<Verdict>) {
        let mut tats: Vec<Option<i64>> = vec![None; windows.len()];
        let mut verdicts = Vec::new();
        let mut admitted = 0;
        for &t in times {
            let (verdict, stored) = decide(windows, &tats, (t * SECOND as f64) as i64);
            tats = stored.into_iter().map(Some).collect();
            admitted += usize::from(verdict.allowed);
            verdicts.push(verdict);
        }
        (admitted, verdicts)
    }

    #[test]
    fn a_burst_admits_exactly_burst_requests() {
        let (admitted, verdicts) = run(&[window(10, 60, 10)], &[0.0; 25]);
        assert_eq!(admitted, 10);
        assert_eq!(verdicts[9].windows[0].remaining, 0);
        assert!(!verdicts[10].allowed);
    }

    #[test]
    fn steady_rate_at_the_limit_is_always_admitted() {
        // 2 per second, no burst: one request every 0.5 s for a minute.
        let times: Vec<f64> = (0..120).map(|i| i as f64 * 0.5).collect();
        assert_eq!(run(&[window(2, 1, 1)], &times).0, 120);
    }

    #[test]
    fn steady_rate_above_the_limit_is_cut_to_the_limit() {
        // 10 per second offered for 10 s against 5 per second, burst 5.
        let times: Vec<f64> = (0..100).map(|i| i as f64 * 0.1).collect();
        let (admitted, _) = run(&[window(5, 1, 5)], &times);
        assert!((50..=55).contains(&admitted), "{admitted}");
    }

    #[test]
    fn retry_after_is_honest() {
        let limit = [window(1, 2, 1)];
        let (_, verdicts) = run(&limit, &[0.0, 0.1]);
        assert!(!verdicts[1].allowed);
        assert_eq!(verdicts[1].retry_after_ms, 1900);
        assert_eq!(verdicts[1].retry_after_seconds(), 2);
        let (admitted, _) = run(&limit, &[0.0, 0.1, 0.1 + 1.9]);
        assert_eq!(admitted, 2, "waiting Retry-After is admitted");
        let (admitted, _) = run(&limit, &[0.0, 0.1, 0.1 + 1.8]);
        assert_eq!(admitted, 1, "but not earlier");
    }

    #[test]
    fn budget_refills_over_the_period() {
        let limit = [window(10, 10, 10)];
        let mut times = vec![0.0; 10];
        times.extend(vec![10.0; 10]);
        assert_eq!(run(&limit, &times).0, 20);
    }

    #[test]
    fn period_boundaries_do_not_double_the_budget() {
        // A fixed-window counter admits 2x at a boundary; GCRA does not.
        let limit = [window(10, 10, 10)];
        let mut times = vec![9.9; 10];
        times.extend(vec![10.1; 10]);
        assert_eq!(run(&limit, &times).0, 10);
    }

    #[test]
    fn a_quota_and_a_rate_must_both_admit() {
        let windows = [window(5, 1, 5), window(8, 86_400, 8)];
        let times: Vec<f64> = (0..40).map(|i| i as f64).collect();
        let (admitted, verdicts) = run(&windows, &times);
        assert_eq!(admitted, 8, "the daily quota caps the total");
        let last = verdicts.last().unwrap();
        assert!(last.retry_after_ms > 80_000 * 1000 / 1000, "retry after the quota refills");
    }

    #[test]
    fn a_refused_request_consumes_nothing() {
        let windows = [window(100, 1, 100), window(1, 60, 1)];
        let (_, verdicts) = run(&windows, &[0.0, 0.0, 0.0]);
        assert_eq!(verdicts[2].windows[0].remaining, 99, "the per-second window only counted the admitted request");
    }

    #[test]
    fn clock_going_backwards_grants_nothing_extra() {
        let windows = [window(2, 10, 2)];
        let mut tats = vec![None];
        let mut admitted = 0;
        for t in [100.0, 100.0, 50.0, 20.0, 99.0] {
            let (verdict, stored) = decide(&windows, &tats, (t * SECOND as f64) as i64);
            tats = stored.into_iter().map(Some).collect();
            admitted += usize::from(verdict.allowed);
        }
        assert_eq!(admitted, 2);
    }

    #[test]
    fn any_clock_and_any_stored_state_gets_an_answer() {
        // Found by the gcra fuzz target: `tat - now` overflowed for far-apart instants.
        let windows = [window(1_000_000_000, 2_678_400, 1_000_000_000), window(1, 1, 1)];
        for now in [i64::MIN, -1, 0, MAX_INSTANT_US, i64::MAX] {
            for tat in [None, Some(i64::MIN), Some(-1), Some(i64::MAX)] {
                let (verdict, stored) = decide(&windows, &[tat, tat], now);
                assert_eq!(stored.len(), 2);
                assert!(verdict.windows.iter().all(|w| w.remaining <= w.limit));
            }
        }
    }

    #[test]
    fn a_clock_beyond_the_domain_admits_no_more_than_burst() {
        let windows = [window(10, 1, 3)];
        let (admitted, _) = run_at(&windows, &[i64::MAX; 10]);
        assert_eq!(admitted, 3);
        let (admitted, _) = run_at(&windows, &[i64::MIN; 10]);
        assert_eq!(admitted, 3);
    }

    fn run_at(windows: &[Window], instants: &[i64]) -> (usize, Vec<i64>) {
        let mut tats: Vec<Option<i64>> = vec![None; windows.len()];
        let mut admitted = 0;
        let mut last = Vec::new();
        for &now in instants {
            let (verdict, stored) = decide(windows, &tats, now);
            tats = stored.iter().copied().map(Some).collect();
            admitted += usize::from(verdict.allowed);
            last = stored;
        }
        (admitted, last)
    }

    #[test]
    fn headers_follow_the_ietf_draft() {
        let limit = RateLimit {
            name: "orders".into(),
            key: vec![KeyPart::Oid],
            windows: vec![window(100, 60, 20)],
            failure_mode: FailureMode::Open,
            timeout_ms: DEFAULT_LIMITER_TIMEOUT_MS,
        };
        let (verdict, _) = decide(&limit.windows, &[None], 0);
        let (policy, state) = headers(&limit, &verdict);
        assert_eq!(policy, "\"orders/60s\";q=100;w=60");
        assert_eq!(state, "\"orders/60s\";r=19;t=1");
    }

    #[test]
    fn bucket_uses_only_verified_identity() {
        let limit = RateLimit {
            name: "l".into(),
            key: vec![KeyPart::Tenant, KeyPart::Oid],
            windows: vec![window(1, 1, 1)],
            failure_mode: FailureMode::Open,
            timeout_ms: DEFAULT_LIMITER_TIMEOUT_MS,
        };
        assert_eq!(limit.bucket(None, Some("1.2.3.4")), "l|tid=-|oid=-");
        let ip = RateLimit { key: vec![KeyPart::Ip], ..limit };
        assert_eq!(ip.bucket(None, Some("1.2.3.4")), "l|ip=1.2.3.4");
    }
}
