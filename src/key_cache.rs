//! Signing-key cache policy, per authority/tenant/version: when cached keys may be used,
//! when the authority may be asked again, and which unknown `kid`s are not worth asking
//! about. Pure state machine over timestamps (seconds); the shell does the reads, writes
//! and fetches and reports back with `record_*`.
//!
//! Microsoft's guidance, and what this implements: refresh periodically; refetch when an
//! unknown `kid` appears, but at most once per cooldown (5 minutes by default); keep the
//! last known good keys when a fetch fails; back off while the authority is failing.
//!
//! Refresh discipline (Microsoft.IdentityModel's refresh-on-unknown-key with a floor):
//! - the cooldown counts from the last refresh that an unknown `kid` *triggered*, not from
//!   the first fetch, the cron or a background refresh, so after a quiet period a rollover
//!   is picked up the first time its new `kid` appears; after such a refresh a new `kid`
//!   waits at most one cooldown window (the price of not letting random kids drive the
//!   authority);
//! - a request that finds a refresh in flight joins it and never starts another, and a
//!   refresh that completed after the request began counts as tried for that request.

use serde::{Deserialize, Serialize};

use crate::config::KeySettings;
use crate::discovery::OpenIdMetadata;
use crate::tenant::Directory;
use crate::token_version::TokenVersion;

/// How usable a cached key set is at a given time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Freshness {
    /// Younger than `refresh_after_seconds`: use it, fetch nothing.
    Fresh,
    /// Past refresh time but within `max_stale_seconds`: use it, and refresh.
    Stale,
    /// Past `max_stale_seconds`: never use it.
    Expired,
}

pub fn freshness(fetched_at: i64, now: i64, settings: &KeySettings) -> Freshness {
    let age = now.saturating_sub(fetched_at).max(0) as u64;
    if age < settings.refresh_after_seconds {
        Freshness::Fresh
    } else if age < settings.max_stale_seconds {
        Freshness::Stale
    } else {
        Freshness::Expired
    }
}

/// The health endpoint's word for a key set's state.
pub fn cache_label(fetched_at: Option<i64>, now: i64, settings: &KeySettings) -> &'static str {
    match fetched_at.map(|at| freshness(at, now, settings)) {
        None => "empty",
        Some(Freshness::Fresh) => "fresh",
        Some(Freshness::Stale) => "stale",
        Some(Freshness::Expired) => "expired",
    }
}

/// The gateway is degraded while any tenant's key fetches are failing.
pub fn degraded<'a>(states: impl IntoIterator<Item = &'a KeyState>) -> bool {
    states.into_iter().any(|state| state.failures > 0)
}

/// What to do for a request that needs this tenant's keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plan {
    /// Cached keys are fresh.
    Use,
    /// Cached keys are stale but usable: answer with them, refresh in the background.
    UseAndRefresh,
    /// No usable keys: fetch now (the request waits, bounded by the fetch timeout).
    Fetch,
    /// No usable keys and the authority is in back-off: 503 with `Retry-After`.
    Unavailable { retry_after: u64 },
}

/// What to do when a token names a `kid` the cached keys do not have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnknownKid {
    /// Refresh now (a rotation may have happened); retry the token once afterwards. The
    /// caller must [`begin_refresh`](KeyState::begin_refresh).
    Refresh,
    /// A refresh is in flight: wait for it, look again, and ask again with the same
    /// generation (which then answers `Refuse { cause: AlreadyRefreshed }` if it missed).
    Join,
    /// Do not ask the authority: refused by cooldown, back-off, the negative cache, or a
    /// refresh that already happened during this request.
    Refuse { cause: RefuseCause },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefuseCause {
    Cooldown,
    Backoff,
    NegativeCache,
    /// A refresh completed after the request began and did not bring the `kid`.
    AlreadyRefreshed,
}

/// Unknown-kid refreshes of a tenant are at least this far apart, even with a cooldown of
/// 0: "concurrent" requests reach an isolate spread over some milliseconds, and a fast
/// authority answers within them, so without a floor each straggler would refresh again.
const MIN_UNKNOWN_KID_INTERVAL_MS: u64 = 1000;
/// Unknown `kid`s remembered per tenant; a flood of random ones is bounded by this.
const NEGATIVE_CACHE_LIMIT: usize = 1024;
/// Failed fetches back off exponentially up to this many seconds.
const MAX_BACKOFF_SECONDS: i64 = 60;

/// Cache state of one authority/tenant/version.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyState {
    /// When the keys we hold were fetched from the authority (None: no keys).
    pub fetched_at: Option<i64>,
    pub last_attempt_at: Option<i64>,
    /// Consecutive failed fetches.
    pub failures: u32,
    pub last_error: Option<String>,
    /// Unknown kids and until when they are refused without asking.
    negative: Vec<(String, i64)>,
    /// When (ms) the last refresh that an unknown `kid` triggered was decided (the cooldown
    /// counts from here, and only from here).
    last_unknown_kid_refresh_ms: Option<u64>,
    /// Completed refreshes, whatever their cause or outcome. A request notes it when it
    /// begins; a different value later means a refresh happened meanwhile.
    generation: u64,
    /// Since when (ms) a request of this isolate has been refreshing these keys.
    refreshing_since_ms: Option<u64>,
}

impl KeyState {
    fn backoff_until(&self) -> Option<i64> {
        if self.failures == 0 {
            return None;
        }
        let delay = 1i64.checked_shl(self.failures.saturating_sub(1).min(16)).unwrap_or(MAX_BACKOFF_SECONDS).min(MAX_BACKOFF_SECONDS);
        self.last_attempt_at.map(|at| at.saturating_add(delay))
    }

    fn in_backoff(&self, now: i64) -> bool {
        self.backoff_until().is_some_and(|until| now < until)
    }

    pub fn plan(&self, now: i64, settings: &KeySettings) -> Plan {
        let usable = self.fetched_at.map(|at| freshness(at, now, settings));
        match usable {
            Some(Freshness::Fresh) => Plan::Use,
            Some(Freshness::Stale) if self.in_backoff(now) => Plan::Use,
            Some(Freshness::Stale) => Plan::UseAndRefresh,
            _ if self.in_backoff(now) => Plan::Unavailable { retry_after: self.retry_after(now) },
            _ => Plan::Fetch,
        }
    }

    /// The refresh generation a request notes when it begins (see [`unknown_kid`](Self::unknown_kid)).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// A refresh of this isolate is in flight (and not presumed abandoned: a refresh older
    /// than two fetch timeouts plus a second belonged to a request that was cancelled).
    pub fn refreshing(&self, now_ms: u64, settings: &KeySettings) -> bool {
        let deadline = 2 * settings.fetch_timeout_ms + 1000;
        self.refreshing_since_ms.is_some_and(|since| now_ms.saturating_sub(since) < deadline)
    }

    pub fn begin_refresh(&mut self, now_ms: u64) {
        self.refreshing_since_ms = Some(now_ms);
    }

    /// The refresh ended (installed keys, failed, or found nothing new).
    pub fn end_refresh(&mut self) {
        self.refreshing_since_ms = None;
        self.generation = self.generation.wrapping_add(1);
    }

    /// Decides about an unknown `kid` for a request that began at refresh generation
    /// `seen_generation`, remembering the `kid` when the answer is "refuse". `now` in
    /// seconds, `now_ms` in milliseconds (the same clock).
    pub fn unknown_kid(&mut self, kid: &str, now: i64, now_ms: u64, seen_generation: u64, settings: &KeySettings) -> UnknownKid {
        self.negative.retain(|(_, until)| *until > now);
        if self.negative.iter().any(|(k, _)| k == kid) {
            return UnknownKid::Refuse { cause: RefuseCause::NegativeCache };
        }
        if self.refreshing(now_ms, settings) {
            return UnknownKid::Join;
        }
        let window_ms = settings.unknown_kid_cooldown_seconds.saturating_mul(1000).max(MIN_UNKNOWN_KID_INTERVAL_MS);
        let window_end_ms = self.last_unknown_kid_refresh_ms.map(|at| at.saturating_add(window_ms));
        let cause = if self.generation != seen_generation {
            Some(RefuseCause::AlreadyRefreshed)
        } else if self.in_backoff(now) {
            Some(RefuseCause::Backoff)
        } else if window_end_ms.is_some_and(|end| now_ms < end) {
            Some(RefuseCause::Cooldown)
        } else {
            None
        };
        match cause {
            Some(cause) => {
                // Remembered (in whole seconds, rounded up) until the next refresh may happen.
                let window_end = window_end_ms.map_or(now, |end| end.div_ceil(1000) as i64);
                let until = window_end.max(self.backoff_until().unwrap_or(now));
                self.remember_unknown(kid, until);
                UnknownKid::Refuse { cause }
            }
            None => {
                self.last_unknown_kid_refresh_ms = Some(now_ms);
                UnknownKid::Refresh
            }
        }
    }

    /// When (seconds) an unknown `kid` last triggered a refresh: the refresh-discipline
    /// window started then.
    pub fn last_unknown_kid_refresh_at(&self) -> Option<i64> {
        self.last_unknown_kid_refresh_ms.map(|ms| (ms / 1000) as i64)
    }

    /// After a refresh that still did not contain `kid`: refuse it until the next allowed refresh.
    pub fn still_unknown(&mut self, kid: &str, now: i64, settings: &KeySettings) {
        self.remember_unknown(kid, now.saturating_add(settings.unknown_kid_cooldown_seconds as i64));
    }

    fn remember_unknown(&mut self, kid: &str, until: i64) {
        if self.negative.len() >= NEGATIVE_CACHE_LIMIT {
            self.negative.clear();
        }
        self.negative.push((kid.to_owned(), until));
    }

    pub fn record_attempt(&mut self, now: i64) {
        self.last_attempt_at = Some(now);
    }

    /// Keys fetched at `fetched_at` (now, or earlier when loaded from KV) were installed.
    pub fn record_success(&mut self, fetched_at: i64) {
        self.fetched_at = Some(fetched_at);
        self.failures = 0;
        self.last_error = None;
        self.negative.clear();
    }

    pub fn record_failure(&mut self, error: String) {
        self.failures = self.failures.saturating_add(1);
        self.last_error = Some(error);
    }
}

/// Whether a key document read from KV may be installed instead of asking the authority:
/// it must be newer than what this isolate holds (`held_since`), still fresh, and — when a
/// token's unknown `kid` is the reason for looking — hold that `kid` (`holds_wanted`: true
/// when no particular `kid` is wanted). Otherwise the authority is asked.
pub fn accept_kv_copy(document_fetched_at: i64, held_since: Option<i64>, holds_wanted: bool, now: i64, settings: &KeySettings) -> bool {
    let newer = held_since.is_none_or(|at| document_fetched_at > at);
    newer && holds_wanted && freshness(document_fetched_at, now, settings) == Freshness::Fresh
}

/// Whether the cron should refresh a tenant's keys whose KV copy was fetched at
/// `kv_fetched_at` (None: no copy): past half of `refresh_after_seconds`, so requests rarely
/// meet stale keys.
pub fn cron_due(kv_fetched_at: Option<i64>, now: i64, settings: &KeySettings) -> bool {
    kv_fetched_at.is_none_or(|at| now.saturating_sub(at).max(0) as u64 >= settings.refresh_after_seconds / 2)
}

impl KeyState {
    /// `Retry-After` (seconds) for a request refused for want of keys: until the back-off
    /// ends, at least 1.
    pub fn retry_after(&self, now: i64) -> u64 {
        self.backoff_until().map_or(1, |until| until.saturating_sub(now).max(1) as u64)
    }
}

/// Bound (milliseconds) on one KV read or write of a key document. A hot KV read takes a
/// few ms at the edge and a cold one some tens; a KV that does not answer within this is
/// treated as failing (`kv_read_failed` / `kv_write_failed`): a read falls through to the
/// authority, a write is abandoned (it may still land). Without it a stalled KV would hold
/// every request that waits for keys.
pub const KV_TIMEOUT_MS: u64 = 1000;

/// Metadata and JWKS documents larger than this (bytes) are not what Entra serves: refused
/// by `Content-Length`, and cut off there when streamed.
pub const MAX_DOCUMENT_BYTES: usize = 512 * 1024;

/// How long (seconds) a key document lives in KV: as long as it may be served stale, and at
/// least KV's minimum TTL of 60 s.
pub fn kv_ttl_seconds(settings: &KeySettings) -> u64 {
    settings.max_stale_seconds.max(60)
}

/// The KV key of a tenant's key document; app-specific key sets (`keys.app_id`) are
/// stored apart from the tenant's common ones.
pub fn kv_key(authority: &str, directory: &Directory, version: TokenVersion, app_id: Option<&str>) -> String {
    let host = authority.split_once("://").map_or(authority, |(_, host)| host);
    match app_id {
        Some(app_id) => format!("keys/{host}/{directory}/v{version}/app/{app_id}"),
        None => format!("keys/{host}/{directory}/v{version}"),
    }
}

/// What is stored in KV: the metadata and raw JWKS as fetched, and when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyDocument {
    pub fetched_at: i64,
    pub metadata: OpenIdMetadata,
    /// The JWKS JSON exactly as the authority served it.
    pub jwks: String,
}

/// Counters an operator can read (logs, health endpoint).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct KeyCounters {
    /// Requests served by keys already in isolate memory.
    pub memory_hits: u64,
    /// Key sets loaded from KV instead of the authority.
    pub kv_hits: u64,
    /// Successful metadata + JWKS fetches from the authority.
    pub authority_fetches: u64,
    pub authority_failures: u64,
    /// Unknown-kid refreshes refused by the cooldown, back-off, or a refresh that had
    /// just happened.
    pub refresh_refused_cooldown: u64,
    /// Unknown kids refused from the negative cache.
    pub negative_cache_hits: u64,
    /// Requests served with stale keys (refresh due or failing).
    pub stale_serves: u64,
    /// Requests answered 503 for want of keys.
    pub unavailable: u64,
    pub token_cache_hits: u64,
    pub token_cache_misses: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> KeySettings {
        KeySettings::default()
    }

    fn fetched(at: i64) -> KeyState {
        let mut state = KeyState::default();
        state.record_attempt(at);
        state.record_success(at);
        state
    }

    #[test]
    fn key_set_is_fresh_until_refresh_time() {
        assert_eq!(freshness(1000, 1000 + 3599, &settings()), Freshness::Fresh);
        assert_eq!(freshness(1000, 1000 + 3600, &settings()), Freshness::Stale);
    }

    #[test]
    fn key_set_expires_after_max_stale() {
        assert_eq!(freshness(1000, 1000 + 86_399, &settings()), Freshness::Stale);
        assert_eq!(freshness(1000, 1000 + 86_400, &settings()), Freshness::Expired);
    }

    #[test]
    fn clock_going_backwards_counts_as_fresh() {
        assert_eq!(freshness(5000, 4000, &settings()), Freshness::Fresh);
    }

    #[test]
    fn no_keys_means_fetch() {
        assert_eq!(KeyState::default().plan(0, &settings()), Plan::Fetch);
    }

    #[test]
    fn fresh_keys_are_used_without_fetching() {
        assert_eq!(fetched(1000).plan(1000 + 3599, &settings()), Plan::Use);
    }

    #[test]
    fn stale_keys_are_used_while_refreshing_in_the_background() {
        assert_eq!(fetched(1000).plan(1000 + 3600, &settings()), Plan::UseAndRefresh);
    }

    #[test]
    fn stale_keys_keep_serving_while_the_authority_fails() {
        let mut state = fetched(1000);
        state.record_attempt(5000);
        state.record_failure("HTTP 500".into());
        assert_eq!(state.plan(5000, &settings()), Plan::Use, "in back-off: no new attempt");
        assert_eq!(state.plan(5001, &settings()), Plan::UseAndRefresh, "back-off of 1 s over");
    }

    #[test]
    fn expired_keys_are_never_used() {
        assert_eq!(fetched(1000).plan(1000 + 86_400, &settings()), Plan::Fetch);
    }

    #[test]
    fn failures_back_off_exponentially_up_to_a_minute() {
        let mut state = KeyState::default();
        let mut now = 0;
        for (failures, expected) in [(1, 1), (2, 2), (3, 4), (4, 8), (7, 60), (20, 60)] {
            while state.failures < failures {
                state.record_attempt(now);
                state.record_failure("down".into());
            }
            assert_eq!(state.plan(now, &settings()), Plan::Unavailable { retry_after: expected }, "after {failures} failures");
            now += 1000;
        }
    }

    #[test]
    fn success_clears_the_back_off() {
        let mut state = KeyState::default();
        state.record_attempt(0);
        state.record_failure("down".into());
        state.record_attempt(2);
        state.record_success(2);
        assert_eq!(state.plan(2, &settings()), Plan::Use);
        assert_eq!(state.last_error, None);
    }

    /// Asks about `kid` as a request that began just now would (seconds → ms on one clock).
    fn ask(state: &mut KeyState, kid: &str, now: i64, settings: &KeySettings) -> UnknownKid {
        let generation = state.generation();
        state.unknown_kid(kid, now, now as u64 * 1000, generation, settings)
    }

    /// Runs a whole unknown-kid refresh that installs keys at `now`.
    fn refresh(state: &mut KeyState, now: i64) {
        state.begin_refresh(now as u64 * 1000);
        state.record_attempt(now);
        state.record_success(now);
        state.end_refresh();
    }

    #[test]
    fn a_new_kid_after_a_quiet_period_is_fetched_at_once() {
        let mut state = fetched(1000);
        assert_eq!(ask(&mut state, "rolled", 1001, &settings()), UnknownKid::Refresh, "the first fetch does not start a cooldown");
    }

    #[test]
    fn background_and_cron_refreshes_do_not_start_a_cooldown() {
        let mut state = fetched(1000);
        refresh(&mut state, 1100); // a stale-while-refresh or cron fetch
        assert_eq!(ask(&mut state, "rolled", 1101, &settings()), UnknownKid::Refresh);
    }

    #[test]
    fn the_cooldown_counts_from_the_last_unknown_kid_refresh() {
        let mut state = fetched(1000);
        assert_eq!(ask(&mut state, "first", 2000, &settings()), UnknownKid::Refresh);
        refresh(&mut state, 2000);
        assert_eq!(ask(&mut state, "second", 2299, &settings()), UnknownKid::Refuse { cause: RefuseCause::Cooldown });
        assert_eq!(ask(&mut state, "third", 2300, &settings()), UnknownKid::Refresh);
    }

    #[test]
    fn refused_kids_are_remembered_until_the_next_allowed_refresh() {
        let mut state = fetched(1000);
        assert_eq!(ask(&mut state, "first", 1000, &settings()), UnknownKid::Refresh);
        refresh(&mut state, 1000);
        ask(&mut state, "random", 1100, &settings());
        assert_eq!(ask(&mut state, "random", 1200, &settings()), UnknownKid::Refuse { cause: RefuseCause::NegativeCache });
        assert_eq!(ask(&mut state, "random", 1300, &settings()), UnknownKid::Refresh);
    }

    #[test]
    fn a_request_that_finds_a_refresh_in_flight_joins_it() {
        let mut state = fetched(1000);
        let seen = state.generation();
        assert_eq!(state.unknown_kid("a", 1000, 1_000_000, seen, &settings()), UnknownKid::Refresh);
        state.begin_refresh(1_000_000);
        assert_eq!(state.unknown_kid("b", 1000, 1_000_010, seen, &settings()), UnknownKid::Join);
    }

    #[test]
    fn a_refresh_that_finished_after_the_request_began_counts_as_tried() {
        let quick = KeySettings { unknown_kid_cooldown_seconds: 0, ..settings() };
        let mut state = fetched(1000);
        let seen = state.generation();
        assert_eq!(state.unknown_kid("a", 1000, 1_000_000, seen, &quick), UnknownKid::Refresh);
        state.begin_refresh(1_000_000);
        state.record_success(1000);
        state.end_refresh();
        assert_eq!(
            state.unknown_kid("b", 1000, 1_000_050, seen, &quick),
            UnknownKid::Refuse { cause: RefuseCause::AlreadyRefreshed },
            "a joiner whose kid the refresh did not bring"
        );
        assert_eq!(state.unknown_kid("b", 1001, 1_001_000, state.generation(), &quick), UnknownKid::Refresh, "a later request may ask");
    }

    #[test]
    fn concurrent_random_kids_with_no_cooldown_cost_one_refresh() {
        let quick = KeySettings { unknown_kid_cooldown_seconds: 0, ..settings() };
        let mut state = fetched(1000);
        // 60 requests begin together, then each asks in turn while the first one's refresh runs.
        let seen = state.generation();
        let mut refreshes = 0;
        let mut joined = Vec::new();
        for n in 0..60 {
            match state.unknown_kid(&format!("kid-{n}"), 1000, 1_000_000 + n, seen, &quick) {
                UnknownKid::Refresh => {
                    refreshes += 1;
                    state.begin_refresh(1_000_000 + n);
                }
                UnknownKid::Join => joined.push(n),
                UnknownKid::Refuse { .. } => {}
            }
        }
        state.record_success(1000);
        state.end_refresh();
        for n in joined {
            assert!(matches!(state.unknown_kid(&format!("kid-{n}"), 1000, 1_000_100, seen, &quick), UnknownKid::Refuse { .. }));
        }
        assert_eq!(refreshes, 1);
    }

    #[test]
    fn an_abandoned_refresh_stops_counting_as_in_flight() {
        let mut state = fetched(1000);
        state.begin_refresh(1_000_000);
        assert!(state.refreshing(1_000_000 + 6999, &settings()));
        assert!(!state.refreshing(1_000_000 + 7000, &settings()), "2 × 3000 ms fetch timeout + 1 s");
    }

    #[test]
    fn a_flood_of_random_kids_causes_at_most_one_refresh_per_cooldown() {
        let mut state = fetched(0);
        let mut refreshes = 0;
        for second in 0..900 {
            for n in 0..10 {
                if ask(&mut state, &format!("kid-{second}-{n}"), second, &settings()) == UnknownKid::Refresh {
                    refreshes += 1;
                    refresh(&mut state, second);
                }
            }
        }
        assert_eq!(refreshes, 3, "at 0 s (after a quiet period), 300 s and 600 s");
    }

    #[test]
    fn rollover_then_flood_costs_one_refresh() {
        let mut state = fetched(0);
        assert_eq!(ask(&mut state, "rolled", 10, &settings()), UnknownKid::Refresh);
        refresh(&mut state, 10);
        for n in 0..60 {
            assert!(matches!(ask(&mut state, &format!("random-{n}"), 11, &settings()), UnknownKid::Refuse { .. }));
        }
    }

    #[test]
    fn flood_then_rollover_waits_at_most_one_window() {
        let mut state = fetched(0);
        assert_eq!(ask(&mut state, "random", 10, &settings()), UnknownKid::Refresh);
        refresh(&mut state, 10);
        assert_eq!(ask(&mut state, "rolled", 20, &settings()), UnknownKid::Refuse { cause: RefuseCause::Cooldown });
        assert_eq!(ask(&mut state, "rolled", 309, &settings()), UnknownKid::Refuse { cause: RefuseCause::NegativeCache });
        assert_eq!(ask(&mut state, "rolled", 310, &settings()), UnknownKid::Refresh);
    }

    #[test]
    fn negative_cache_is_bounded() {
        let mut state = fetched(0);
        ask(&mut state, "first", 0, &settings());
        refresh(&mut state, 0);
        for n in 0..5000 {
            ask(&mut state, &format!("k{n}"), 1, &settings());
        }
        assert!(state.negative.len() <= NEGATIVE_CACHE_LIMIT);
    }

    #[test]
    fn kid_still_unknown_after_a_refresh_is_refused_until_the_next_one() {
        let mut state = fetched(1000);
        state.still_unknown("gone", 1000, &settings());
        assert_eq!(ask(&mut state, "gone", 1200, &settings()), UnknownKid::Refuse { cause: RefuseCause::NegativeCache });
    }

    #[test]
    fn unknown_kid_during_back_off_is_refused() {
        let mut state = fetched(0);
        state.record_attempt(400);
        state.record_failure("down".into());
        assert_eq!(ask(&mut state, "new", 400, &settings()), UnknownKid::Refuse { cause: RefuseCause::Backoff });
    }

    #[test]
    fn zero_cooldown_refreshes_for_every_unknown_kid_at_most_once_a_second() {
        let quick = KeySettings { unknown_kid_cooldown_seconds: 0, ..settings() };
        let mut state = fetched(1000);
        assert_eq!(ask(&mut state, "new", 1000, &quick), UnknownKid::Refresh);
        refresh(&mut state, 1000);
        assert_eq!(ask(&mut state, "straggler", 1000, &quick), UnknownKid::Refuse { cause: RefuseCause::Cooldown });
        assert_eq!(ask(&mut state, "newer", 1001, &quick), UnknownKid::Refresh);
    }

    #[test]
    fn concurrent_random_kids_arriving_over_a_second_cost_at_most_two_refreshes_with_no_cooldown() {
        let quick = KeySettings { unknown_kid_cooldown_seconds: 0, ..settings() };
        let mut state = fetched(1000);
        let mut refreshes = 0;
        // 60 requests arriving 17 ms apart (a full second), each refresh taking 5 ms.
        for n in 0..60u64 {
            let now_ms = 1_000_000 + n * 17;
            let generation = state.generation();
            if state.unknown_kid(&format!("kid-{n}"), (now_ms / 1000) as i64, now_ms, generation, &quick) == UnknownKid::Refresh {
                refreshes += 1;
                state.begin_refresh(now_ms);
                state.record_success((now_ms / 1000) as i64);
                state.end_refresh();
            }
        }
        assert!(refreshes <= 2, "{refreshes} refreshes");
    }

    #[test]
    fn a_kv_copy_is_taken_only_when_newer_fresh_and_holding_the_wanted_kid() {
        let s = settings();
        assert!(accept_kv_copy(1000, None, true, 1000, &s), "nothing held yet");
        assert!(accept_kv_copy(1000, Some(900), true, 1000, &s));
        assert!(!accept_kv_copy(900, Some(900), true, 1000, &s), "the same set again");
        assert!(!accept_kv_copy(1000, None, false, 1000, &s), "without the token's kid: ask the authority");
        assert!(!accept_kv_copy(1000, None, true, 1000 + 3600, &s), "stale in KV: ask the authority");
    }

    #[test]
    fn the_cron_refreshes_past_half_the_refresh_time() {
        let s = settings();
        assert!(cron_due(None, 0, &s));
        assert!(!cron_due(Some(1000), 1000 + 1799, &s));
        assert!(cron_due(Some(1000), 1000 + 1800, &s));
        assert!(!cron_due(Some(5000), 1000, &s), "a clock going backwards is not due");
    }

    #[test]
    fn retry_after_lasts_until_the_back_off_ends() {
        let mut state = KeyState::default();
        assert_eq!(state.retry_after(0), 1);
        for _ in 0..4 {
            state.record_attempt(100);
            state.record_failure("down".into());
        }
        assert_eq!(state.retry_after(100), 8);
        assert_eq!(state.retry_after(107), 1);
        assert_eq!(state.retry_after(500), 1);
    }

    #[test]
    fn kv_key_names_authority_tenant_and_version() {
        let tenant = Directory::Tenant(crate::tenant::TenantId::parse("72f988bf-86f1-41af-91ab-2d7cd011db47").unwrap());
        assert_eq!(
            kv_key("https://login.microsoftonline.com", &tenant, TokenVersion::V2, None),
            "keys/login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0"
        );
        assert_eq!(
            kv_key("https://login.microsoftonline.com", &tenant, TokenVersion::V1, Some("6e2f9a47-1b3c-4d5e-8f70-9a8b7c6d5e4f")),
            "keys/login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v1.0/app/6e2f9a47-1b3c-4d5e-8f70-9a8b7c6d5e4f"
        );
    }
}
