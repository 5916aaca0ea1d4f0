//! The emergency revocation list: entries an operator writes to Workers KV (binding
//! [`crate::bindings::REVOCATIONS`], one key per entry under [`KV_PREFIX`]) that refuse
//! already-issued tokens at the edge with 401 `token_revoked`, before they expire.
//!
//! Pure: parsing an entry (strict, bounded), the matching decision (a verified
//! [`Principal`], the token's hash on demand, `now`), and when the isolate's copy of the list
//! is re-read and what a failed read means ([`ListState`]). The shell (`src/edge/revocation.rs`)
//! only lists KV.
//!
//! An entry names a user (`oid`), a tenant (`tid`), a client application (`azp` in v2,
//! `appid` in v1 — the principal's calling app, so one entry catches both versions), or one
//! token (the SHA-256 of its compact form; Microsoft tells resources not to rely on `uti`).
//! It may be limited to tokens issued before an instant (`iat` < `issued_before`: Continuous
//! Access Evaluation's "revoke all before"), and always ends at `expires_at`.

use std::collections::HashMap;
use std::rc::Rc;

use serde::Deserialize;

use crate::principal::Principal;
use crate::tenant::TenantId;

/// Every entry's KV key starts with this; the rest is the entry id.
pub const KV_PREFIX: &str = "revocation/";
/// An entry's JSON is at most this long (it is also KV metadata, whose limit is 1024 bytes).
pub const MAX_ENTRY_BYTES: usize = 1024;
/// At most this many entries are held; a longer list is a failed read (see [`OnError`]).
pub const MAX_ENTRIES: usize = 10_000;
/// An entry's `reason` and `created_by` are at most this many characters.
pub const MAX_TEXT_CHARS: usize = 300;
/// The longest an Entra access token lives (CAE-capable tokens: 28 hours), so the default
/// lifetime of an entry: by then every token it could match has expired.
pub const LONGEST_TOKEN_LIFETIME_SECONDS: i64 = 28 * 3600;
/// A failed read is retried no sooner than this (one KV list a second per isolate at most).
pub const RETRY_AFTER_FAILURE_MS: u64 = 1000;
/// A read still marked in flight after this long was abandoned (its request was cancelled).
pub const READ_ABANDONED_AFTER_MS: u64 = 10_000;

/// What an entry matches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// `oid` (v1 and v2), a lowercase GUID.
    User(String),
    /// `tid`.
    Tenant(TenantId),
    /// The calling application: `azp` (v2) or `appid` (v1), a lowercase GUID.
    Client(String),
    /// The SHA-256 of the compact token (its ASCII bytes).
    Token([u8; 32]),
}

impl Target {
    /// The entry's `kind` as written in KV and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Target::User(_) => "user",
            Target::Tenant(_) => "tenant",
            Target::Client(_) => "client",
            Target::Token(_) => "token",
        }
    }
}

/// One parsed entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The KV key without [`KV_PREFIX`]: 1–64 of `A–Z a–z 0–9 - _`.
    pub id: String,
    pub target: Target,
    /// Only tokens whose `iat` is before this (seconds since the epoch); `None`: every token.
    pub issued_before: Option<i64>,
    /// The entry ends at this instant (seconds since the epoch).
    pub expires_at: i64,
}

/// An entry as stored: JSON, every field named, nothing else allowed.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    kind: String,
    value: String,
    #[serde(default)]
    issued_before: Option<i64>,
    expires_at: i64,
    reason: String,
    created_by: String,
    created_at: i64,
}

/// A GUID in its lowercase form.
fn guid(value: &str) -> Option<String> {
    TenantId::parse(value).map(|t| t.as_str().to_string())
}

/// The 32 bytes of a SHA-256 written as 64 hex digits or 43 base64url characters (no padding).
pub fn parse_token_hash(value: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    if value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit()) {
        for (i, pair) in value.as_bytes().chunks(2).enumerate() {
            out[i] = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
        }
        return Some(out);
    }
    if value.len() == 43 {
        use base64ct::{Base64UrlUnpadded, Encoding};
        let decoded = Base64UrlUnpadded::decode(value, &mut out).ok()?;
        if decoded.len() == 32 {
            return Some(out);
        }
    }
    None
}

/// The SHA-256 of a compact token, as a [`Target::Token`] entry names it.
pub fn token_hash(token: &str) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    Sha256::digest(token.as_bytes()).into()
}

/// Parses the entry stored under KV key `key` (with its [`KV_PREFIX`]). The error names
/// what is wrong, never echoes a value beyond the entry id.
pub fn parse_entry(key: &str, json: &str) -> Result<Entry, String> {
    let id = key.strip_prefix(KV_PREFIX).ok_or_else(|| format!("the key does not start with {KV_PREFIX}"))?;
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err("the entry id must be 1–64 of A–Z, a–z, 0–9, - and _".into());
    }
    if json.len() > MAX_ENTRY_BYTES {
        return Err(format!("the entry is longer than {MAX_ENTRY_BYTES} bytes"));
    }
    let raw: RawEntry = serde_json::from_str(json).map_err(|err| {
        let message = err.to_string();
        message.rsplit_once(" at line ").map_or(message.as_str(), |(m, _)| m).to_string()
    })?;
    let target = match raw.kind.as_str() {
        "user" => Target::User(guid(&raw.value).ok_or("value: a user entry names an object id (oid), a GUID")?),
        "tenant" => Target::Tenant(TenantId::parse(&raw.value).ok_or("value: a tenant entry names a tenant id (tid), a GUID")?),
        "client" => Target::Client(guid(&raw.value).ok_or("value: a client entry names an application (client) id, a GUID")?),
        "token" => Target::Token(
            parse_token_hash(&raw.value)
                .ok_or("value: a token entry names the token's SHA-256 (64 hex digits or 43 base64url characters)")?,
        ),
        _ => return Err("kind: must be \"user\", \"tenant\", \"client\" or \"token\"".into()),
    };
    if raw.expires_at <= 0 || raw.created_at <= 0 || raw.issued_before.is_some_and(|t| t <= 0) {
        return Err("expires_at, created_at and issued_before are seconds since the Unix epoch".into());
    }
    if raw.reason.trim().is_empty() || raw.reason.chars().count() > MAX_TEXT_CHARS {
        return Err(format!("reason: must be non-empty and at most {MAX_TEXT_CHARS} characters"));
    }
    if raw.created_by.trim().is_empty() || raw.created_by.chars().count() > MAX_TEXT_CHARS {
        return Err(format!("created_by: must be non-empty and at most {MAX_TEXT_CHARS} characters"));
    }
    Ok(Entry { id: id.to_string(), target, issued_before: raw.issued_before, expires_at: raw.expires_at })
}

/// One entry's bounds, filed under what it matches.
#[derive(Clone, Debug)]
struct Rule {
    id: Rc<str>,
    issued_before: Option<i64>,
    expires_at: i64,
}

impl Rule {
    /// In force at `now`, and covering a token issued at `issued_at`. A token without `iat`
    /// (Entra always sends one) counts as issued before any bound.
    fn applies(&self, issued_at: Option<i64>, now: i64) -> bool {
        now < self.expires_at && self.issued_before.is_none_or(|before| issued_at.is_none_or(|iat| iat < before))
    }
}

/// Why a token was refused: the entry that matched (for the log; never the token).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Match {
    pub entry_id: Rc<str>,
    /// `user`, `tenant`, `client` or `token`.
    pub kind: &'static str,
}

/// What an entry is filed under: its kind and 32 bytes (a GUID's 16 bytes then zeros, or a
/// SHA-256), so one map serves every kind and lookups neither allocate nor care about case.
type Slot = (u8, [u8; 32]);

const USER: u8 = 0;
const TENANT: u8 = 1;
const CLIENT: u8 = 2;
const TOKEN: u8 = 3;
const KINDS: [&str; 4] = ["user", "tenant", "client", "token"];

/// A GUID's 32 hex digits (dashes skipped) as bytes; `None` for anything else.
fn guid_bytes(value: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    let mut digits = 0usize;
    for b in value.bytes().filter(|b| *b != b'-') {
        let nibble = (b as char).to_digit(16)? as u8;
        if digits >= 32 {
            return None;
        }
        out[digits / 2] |= if digits.is_multiple_of(2) { nibble << 4 } else { nibble };
        digits += 1;
    }
    (digits == 32).then_some(out)
}

/// The entries in force, indexed by what they match.
#[derive(Debug, Default)]
pub struct RevocationList {
    entries: HashMap<Slot, Vec<Rule>>,
    /// How many entries of each kind (a kind with none is not looked up).
    counts: [usize; 4],
}

impl RevocationList {
    /// The list of `entries`, leaving out those already ended at `now`.
    pub fn new(entries: impl IntoIterator<Item = Entry>, now: i64) -> RevocationList {
        let mut list = RevocationList::default();
        for entry in entries.into_iter().filter(|e| now < e.expires_at) {
            let rule = Rule { id: entry.id.into(), issued_before: entry.issued_before, expires_at: entry.expires_at };
            let slot = match &entry.target {
                Target::User(oid) => guid_bytes(oid).map(|b| (USER, b)),
                Target::Tenant(tid) => guid_bytes(tid.as_str()).map(|b| (TENANT, b)),
                Target::Client(app) => guid_bytes(app).map(|b| (CLIENT, b)),
                Target::Token(hash) => Some((TOKEN, *hash)),
            };
            // Parsed entries always have a slot (their values are GUIDs or hashes).
            if let Some(slot) = slot {
                list.counts[usize::from(slot.0)] += 1;
                list.entries.entry(slot).or_default().push(rule);
            }
        }
        list
    }

    /// Entries held (those not ended when the list was read).
    pub fn len(&self) -> usize {
        self.counts.iter().sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The entry that refuses `principal`'s token at `now` (its `iat` from the principal), if
    /// any. `token_hash` is called only when the list holds a token entry (so a list without
    /// one costs no hashing).
    pub fn check(&self, principal: &Principal, token_hash: impl FnOnce() -> [u8; 32], now: i64) -> Option<Match> {
        if self.entries.is_empty() {
            return None;
        }
        let issued_at = principal.issued_at();
        let found = |kind: u8, key: Option<[u8; 32]>| {
            if self.counts[usize::from(kind)] == 0 {
                return None;
            }
            let rules = self.entries.get(&(kind, key?))?;
            rules.iter().find(|r| r.applies(issued_at, now)).map(|r| Match { entry_id: r.id.clone(), kind: KINDS[usize::from(kind)] })
        };
        found(TENANT, guid_bytes(principal.tenant().as_str()))
            .or_else(|| found(USER, principal.object_id().and_then(guid_bytes)))
            .or_else(|| found(CLIENT, principal.client_app_id().and_then(guid_bytes)))
            .or_else(|| if self.counts[usize::from(TOKEN)] == 0 { None } else { found(TOKEN, Some(token_hash())) })
    }
}

/// What a failed read of the list means (`revocation.on_error`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OnError {
    /// Keep enforcing the last list read (none if none was ever read) and log the failure.
    ServeLast,
    /// Refuse authenticated requests with 503 `revocation_list_unavailable` until a read
    /// succeeds.
    FailClosed,
}

/// `[vars.ENTRA_EDGE.revocation]`, validated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RevocationSettings {
    /// The isolate re-reads the list once its copy is this old (seconds, 1–300).
    pub refresh_seconds: u64,
    pub on_error: OnError,
}

impl Default for RevocationSettings {
    fn default() -> Self {
        RevocationSettings { refresh_seconds: 10, on_error: OnError::ServeLast }
    }
}

/// What a request does about the list, decided by [`ListState::plan`].
#[derive(Clone, Debug)]
pub enum Plan {
    /// Check against this list; nothing to read.
    Use(Rc<RevocationList>),
    /// Check against this list, and read a fresh one after the response (background).
    UseAndRefresh(Rc<RevocationList>),
    /// No list to check against (never read, reads failing, `serve_last`): serve, unchecked;
    /// with `refresh`, try a read after the response (background).
    ServeUnchecked { refresh: bool },
    /// No usable list: read it now (this request leads) and wait for the outcome.
    Read,
    /// No usable list and a read is in flight: wait for it, then plan again.
    Wait,
    /// `fail_closed` with the last read failed: 503 with this `Retry-After` (seconds).
    Unavailable { retry_after: u64 },
}

/// One isolate's copy of the list and the state of reading it (times in ms since the epoch).
#[derive(Debug, Default)]
pub struct ListState {
    list: Option<Rc<RevocationList>>,
    /// When the read that produced `list` started (the copy reflects KV as of then).
    read_at_ms: Option<u64>,
    in_flight_since_ms: Option<u64>,
    last_attempt_ms: Option<u64>,
    /// Why the latest completed read failed (`None` after a success).
    pub last_error: Option<String>,
    pub consecutive_failures: u32,
}

impl ListState {
    fn in_flight(&self, now_ms: u64) -> bool {
        self.in_flight_since_ms.is_some_and(|since| now_ms.saturating_sub(since) < READ_ABANDONED_AFTER_MS)
    }

    /// Whether a read is under way (and not abandoned): waiters poll this.
    pub fn reading(&self, now_ms: u64) -> bool {
        self.in_flight(now_ms)
    }

    /// The decision for a request at `now_ms`. A decision never uses a copy whose read
    /// started `refresh_seconds` or more ago (the propagation bound holds for an isolate that
    /// was idle too): such a copy is re-read first, and the request waits. Under traffic the
    /// copy is re-read in the background from half that age, so requests rarely wait. At most
    /// one read is in flight; failed reads are retried at most every
    /// [`RETRY_AFTER_FAILURE_MS`]; `on_error` decides what a request gets while they fail
    /// (`serve_last`: the last copy, however old).
    pub fn plan(&self, now_ms: u64, settings: &RevocationSettings) -> Plan {
        let ttl_ms = settings.refresh_seconds.saturating_mul(1000);
        let failing = self.last_error.is_some();
        let in_flight = self.in_flight(now_ms);
        let may_retry = !failing || self.last_attempt_ms.is_none_or(|at| now_ms.saturating_sub(at) >= RETRY_AFTER_FAILURE_MS);
        if let (Some(list), Some(read_at)) = (&self.list, self.read_at_ms) {
            let age = now_ms.saturating_sub(read_at);
            if age < ttl_ms {
                let refresh = age >= ttl_ms / 2 && !in_flight && may_retry;
                return if refresh { Plan::UseAndRefresh(list.clone()) } else { Plan::Use(list.clone()) };
            }
        }
        // No copy, or one too old to decide with.
        match (settings.on_error, failing) {
            (_, false) if in_flight => Plan::Wait,
            (_, false) => Plan::Read,
            (OnError::ServeLast, true) => match (&self.list, may_retry && !in_flight) {
                (Some(list), true) => Plan::UseAndRefresh(list.clone()),
                (Some(list), false) => Plan::Use(list.clone()),
                (None, refresh) => Plan::ServeUnchecked { refresh },
            },
            (OnError::FailClosed, true) if in_flight => Plan::Wait,
            (OnError::FailClosed, true) if may_retry => Plan::Read,
            (OnError::FailClosed, true) => {
                let next = self.last_attempt_ms.unwrap_or(now_ms) + RETRY_AFTER_FAILURE_MS;
                Plan::Unavailable { retry_after: next.saturating_sub(now_ms).div_ceil(1000).max(1) }
            }
        }
    }

    /// A read starts (the caller planned `Read` or `UseAndRefresh`, with no await since).
    pub fn begin_read(&mut self, now_ms: u64) {
        self.in_flight_since_ms = Some(now_ms);
        self.last_attempt_ms = Some(now_ms);
    }

    /// The read that began at `started_ms` produced `list`.
    pub fn read_succeeded(&mut self, list: RevocationList, started_ms: u64) {
        self.list = Some(Rc::new(list));
        self.read_at_ms = Some(started_ms);
        self.in_flight_since_ms = None;
        self.last_error = None;
        self.consecutive_failures = 0;
    }

    /// The read failed with `error`.
    pub fn read_failed(&mut self, error: String) {
        self.in_flight_since_ms = None;
        self.last_error = Some(error);
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
    }

    /// Entries in the current copy, and its age in seconds at `now_ms` (health report).
    pub fn summary(&self, now_ms: u64) -> (Option<usize>, Option<u64>) {
        (self.list.as_ref().map(|l| l.len()), self.read_at_ms.map(|at| now_ms.saturating_sub(at) / 1000))
    }
}

/// The list from what a KV listing returned: `(key, entry JSON)` pairs. Entries that do not
/// parse are left out and returned with why (the caller logs them by key); more than
/// [`MAX_ENTRIES`] is an error (a failed read).
pub fn build_list(items: Vec<(String, String)>, now: i64) -> Result<(RevocationList, Vec<(String, String)>), String> {
    if items.len() > MAX_ENTRIES {
        return Err(format!("the list holds {} entries, more than {MAX_ENTRIES}", items.len()));
    }
    let mut invalid = Vec::new();
    let mut entries = Vec::with_capacity(items.len());
    for (key, json) in items {
        match parse_entry(&key, &json) {
            Ok(entry) => entries.push(entry),
            Err(why) => invalid.push((key, why)),
        }
    }
    Ok((RevocationList::new(entries, now), invalid))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::principal::{sample, TokenKind};
    use crate::token_version::TokenVersion;

    const OID: &str = "d621d57a-9995-4e93-9180-4eef25206cff";
    const TID: &str = "3c6d1c5e-8f0a-4b8e-9d3c-2a1f6e7b9c41";
    const APP: &str = "0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d";
    const OTHER: &str = "11111111-2222-4333-8444-555555555555";
    const NOW: i64 = 1_800_000_000;

    fn json(kind: &str, value: &str) -> serde_json::Value {
        serde_json::json!({ "kind": kind, "value": value, "expires_at": NOW + 3600, "reason": "compromised",
                            "created_by": "alice", "created_at": NOW - 10 })
    }

    fn entry(id: &str, value: serde_json::Value) -> Entry {
        parse_entry(&format!("{KV_PREFIX}{id}"), &value.to_string()).unwrap()
    }

    fn list(entries: Vec<Entry>) -> RevocationList {
        RevocationList::new(entries, NOW)
    }

    fn no_hash() -> [u8; 32] {
        panic!("the token is hashed only when the list holds a token entry")
    }

    fn v1(principal: Principal) -> Principal {
        principal.with(|p| p.version = TokenVersion::V1)
    }

    #[test]
    fn a_user_entry_refuses_that_oid_in_v1_and_v2_tokens() {
        let list = list(vec![entry("u1", json("user", OID))]);
        let hit = list.check(&sample().with(|p| p.issued_at = Some(NOW - 60)), no_hash, NOW).unwrap();
        assert_eq!((&*hit.entry_id, hit.kind), ("u1", "user"));
        assert!(list.check(&v1(sample()).with(|p| p.issued_at = Some(NOW - 60)), no_hash, NOW).is_some());
        assert!(list.check(&sample().with(|p| p.object_id = Some(OTHER.into())).with(|p| p.issued_at = Some(NOW)), no_hash, NOW).is_none());
    }

    #[test]
    fn a_user_entry_matches_whatever_the_case_of_the_guid() {
        let list = list(vec![entry("u1", json("user", &OID.to_uppercase()))]);
        assert!(list.check(&sample().with(|p| p.object_id = Some(OID.to_uppercase())), no_hash, NOW).is_some());
        assert!(list.check(&sample(), no_hash, NOW).is_some());
    }

    #[test]
    fn a_user_entry_matches_an_app_only_token_of_that_service_principal() {
        let list = list(vec![entry("u1", json("user", OID))]);
        let daemon = sample().with(|p| {
            p.kind = TokenKind::AppOnly;
            p.subject = OID.into();
        });
        assert!(list.check(&daemon, no_hash, NOW).is_some());
    }

    #[test]
    fn a_tenant_entry_refuses_every_token_of_that_tenant() {
        let list = list(vec![entry("t1", json("tenant", TID))]);
        assert_eq!(list.check(&v1(sample()), no_hash, NOW).map(|m| m.kind), Some("tenant"));
        let elsewhere = sample().with(|p| p.tenant = TenantId::parse(OTHER).unwrap());
        assert!(list.check(&elsewhere, no_hash, NOW).is_none());
    }

    #[test]
    fn a_client_entry_refuses_the_calling_app_whether_azp_or_appid() {
        // The principal's client app is azp for v2 and appid for v1 (verify::calling_app).
        let list = list(vec![entry("c1", json("client", APP))]);
        assert_eq!(list.check(&sample(), no_hash, NOW).map(|m| m.kind), Some("client"));
        assert_eq!(list.check(&v1(sample()), no_hash, NOW).map(|m| m.kind), Some("client"));
        let other_app = sample().with(|p| p.client_app_id = Some(OTHER.into()));
        assert!(list.check(&other_app, no_hash, NOW).is_none());
    }

    #[test]
    fn a_token_entry_refuses_only_that_token_and_accepts_hex_or_base64url() {
        let hash = token_hash("a.b.c");
        let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
        let b64 = {
            use base64ct::{Base64UrlUnpadded, Encoding};
            Base64UrlUnpadded::encode_string(&hash)
        };
        for value in [hex.clone(), hex.to_uppercase(), b64] {
            let list = list(vec![entry("k1", json("token", &value))]);
            assert_eq!(list.check(&sample(), || token_hash("a.b.c"), NOW).map(|m| m.kind), Some("token"), "{value}");
            assert!(list.check(&sample(), || token_hash("a.b.d"), NOW).is_none());
        }
    }

    #[test]
    fn the_token_is_hashed_only_when_the_list_holds_a_token_entry() {
        let list = list(vec![entry("u1", json("user", OTHER)), entry("t1", json("tenant", OTHER))]);
        assert!(list.check(&sample(), no_hash, NOW).is_none());
        assert!(RevocationList::default().check(&sample(), no_hash, NOW).is_none());
    }

    #[test]
    fn issued_before_refuses_tokens_issued_strictly_before_the_bound() {
        let mut value = json("user", OID);
        value["issued_before"] = (NOW - 100).into();
        let list = list(vec![entry("u1", value)]);
        assert!(list.check(&sample().with(|p| p.issued_at = Some(NOW - 101)), no_hash, NOW).is_some());
        assert!(
            list.check(&sample().with(|p| p.issued_at = Some(NOW - 100)), no_hash, NOW).is_none(),
            "a token issued at the bound is a new sign-in"
        );
        assert!(list.check(&sample().with(|p| p.issued_at = Some(NOW - 99)), no_hash, NOW).is_none());
        assert!(list.check(&sample().with(|p| p.issued_at = None), no_hash, NOW).is_some(), "no iat: not provably issued after the bound");
    }

    #[test]
    fn an_entry_ends_at_its_expiry() {
        let rules = vec![entry("u1", json("user", OID))];
        let expires = rules[0].expires_at;
        let list = list(rules.clone());
        assert!(list.check(&sample(), no_hash, expires - 1).is_some());
        assert!(list.check(&sample(), no_hash, expires).is_none());
        assert!(RevocationList::new(rules, expires).is_empty(), "ended entries are not even held");
    }

    #[test]
    fn malformed_entries_are_refused_with_the_field_named() {
        let cases: Vec<(&str, serde_json::Value, &str)> = vec![
            ("u", serde_json::json!({ "kind": "user" }), "missing field"),
            (
                "u",
                {
                    let mut v = json("user", OID);
                    v["uti"] = "x".into();
                    v
                },
                "unknown field `uti`",
            ),
            ("u", json("user", "adele@contoso.com"), "value"),
            ("u", json("group", OID), "kind"),
            ("u", json("token", "abc"), "SHA-256"),
            (
                "u",
                {
                    let mut v = json("user", OID);
                    v["reason"] = "".into();
                    v
                },
                "reason",
            ),
            (
                "u",
                {
                    let mut v = json("user", OID);
                    v["reason"] = "x".repeat(301).into();
                    v
                },
                "reason",
            ),
            (
                "u",
                {
                    let mut v = json("user", OID);
                    v["created_by"] = " ".into();
                    v
                },
                "created_by",
            ),
            (
                "u",
                {
                    let mut v = json("user", OID);
                    v["expires_at"] = "tomorrow".into();
                    v
                },
                "invalid type",
            ),
            (
                "u",
                {
                    let mut v = json("user", OID);
                    v["issued_before"] = (-5).into();
                    v
                },
                "epoch",
            ),
            ("bad id!", json("user", OID), "entry id"),
            ("", json("user", OID), "entry id"),
        ];
        for (id, value, expected) in cases {
            let err = parse_entry(&format!("{KV_PREFIX}{id}"), &value.to_string()).unwrap_err();
            assert!(err.contains(expected), "{value}: {err}");
        }
        assert!(parse_entry("other/u1", &json("user", OID).to_string()).is_err());
        assert!(parse_entry("revocation/u1", "not json").is_err());
        let mut huge = json("user", OID);
        huge["created_by"] = "y".repeat(MAX_ENTRY_BYTES).into();
        assert!(parse_entry("revocation/u1", &huge.to_string()).unwrap_err().contains("bytes"));
    }

    #[test]
    fn a_listing_keeps_the_valid_entries_and_names_the_invalid_ones() {
        let items = vec![
            ("revocation/good".to_string(), json("user", OID).to_string()),
            ("revocation/bad".to_string(), json("user", "nope").to_string()),
        ];
        let (list, invalid) = build_list(items, NOW).unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(invalid.len(), 1);
        assert_eq!(invalid[0].0, "revocation/bad");
        let too_many = (0..=MAX_ENTRIES).map(|i| (format!("revocation/e{i}"), String::new())).collect();
        assert!(build_list(too_many, NOW).is_err());
    }

    fn settings(on_error: OnError) -> RevocationSettings {
        RevocationSettings { refresh_seconds: 10, on_error }
    }

    const T0: u64 = 1_800_000_000_000;

    fn loaded(at: u64) -> ListState {
        let mut state = ListState::default();
        state.begin_read(at);
        state.read_succeeded(list(vec![entry("u1", json("user", OID))]), at);
        state
    }

    #[test]
    fn a_cold_isolate_reads_the_list_once_and_the_others_wait_for_that_read() {
        let mut state = ListState::default();
        assert!(matches!(state.plan(T0, &settings(OnError::ServeLast)), Plan::Read));
        state.begin_read(T0);
        assert!(matches!(state.plan(T0 + 5, &settings(OnError::ServeLast)), Plan::Wait));
        assert!(matches!(state.plan(T0 + 5, &settings(OnError::FailClosed)), Plan::Wait));
    }

    #[test]
    fn a_copy_is_refreshed_in_the_background_from_half_its_lifetime_once() {
        let mut state = loaded(T0);
        let s = settings(OnError::ServeLast);
        assert!(matches!(state.plan(T0 + 4_999, &s), Plan::Use(_)));
        assert!(matches!(state.plan(T0 + 5_000, &s), Plan::UseAndRefresh(_)));
        state.begin_read(T0 + 5_000);
        assert!(matches!(state.plan(T0 + 5_001, &s), Plan::Use(_)), "no second read while one is in flight");
        state.read_succeeded(RevocationList::default(), T0 + 5_000);
        assert!(matches!(state.plan(T0 + 9_999, &s), Plan::Use(l) if l.is_empty()));
    }

    #[test]
    fn a_copy_as_old_as_refresh_seconds_is_never_used_the_request_waits_for_a_read() {
        // An isolate idle for an hour: its copy must not decide the next request.
        let mut state = loaded(T0);
        for on_error in [OnError::ServeLast, OnError::FailClosed] {
            assert!(matches!(state.plan(T0 + 10_000, &settings(on_error)), Plan::Read));
            assert!(matches!(state.plan(T0 + 3_600_000, &settings(on_error)), Plan::Read));
        }
        state.begin_read(T0 + 3_600_000);
        assert!(matches!(state.plan(T0 + 3_600_001, &settings(OnError::ServeLast)), Plan::Wait), "the others wait for that read");
    }

    #[test]
    fn the_copys_age_counts_from_when_its_read_started() {
        let mut state = ListState::default();
        state.begin_read(T0);
        // A slow read: done at T0 + 3 s, yet too old at T0 + 10 s.
        state.read_succeeded(RevocationList::default(), T0);
        assert!(matches!(state.plan(T0 + 10_000, &settings(OnError::ServeLast)), Plan::Read));
    }

    #[test]
    fn serve_last_keeps_the_last_list_when_a_read_fails_and_retries_after_a_second() {
        let mut state = loaded(T0);
        let s = settings(OnError::ServeLast);
        state.begin_read(T0 + 10_000);
        state.read_failed("KV down".into());
        assert!(matches!(state.plan(T0 + 10_500, &s), Plan::Use(l) if l.len() == 1));
        assert!(matches!(state.plan(T0 + 11_000, &s), Plan::UseAndRefresh(l) if l.len() == 1));
    }

    #[test]
    fn serve_last_with_no_list_ever_read_serves_unchecked() {
        let mut state = ListState::default();
        state.begin_read(T0);
        state.read_failed("binding missing".into());
        assert!(matches!(state.plan(T0 + 10, &settings(OnError::ServeLast)), Plan::ServeUnchecked { refresh: false }));
        assert!(matches!(state.plan(T0 + 2_000, &settings(OnError::ServeLast)), Plan::ServeUnchecked { refresh: true }));
    }

    #[test]
    fn fail_closed_refuses_with_retry_after_until_a_read_succeeds() {
        let s = settings(OnError::FailClosed);
        let mut state = ListState::default();
        state.begin_read(T0);
        state.read_failed("binding missing".into());
        assert!(matches!(state.plan(T0 + 200, &s), Plan::Unavailable { retry_after: 1 }));
        assert!(matches!(state.plan(T0 + 1_000, &s), Plan::Read), "one request retries, the others wait for it");
        state.begin_read(T0 + 1_000);
        assert!(matches!(state.plan(T0 + 1_001, &s), Plan::Wait));
        state.read_succeeded(RevocationList::default(), T0 + 1_000);
        assert!(matches!(state.plan(T0 + 1_002, &s), Plan::Use(_)));
    }

    #[test]
    fn fail_closed_keeps_a_young_copy_and_refuses_once_it_is_too_old_and_reads_fail() {
        let s = settings(OnError::FailClosed);
        let mut state = loaded(T0);
        state.begin_read(T0 + 9_000);
        state.read_failed("KV down".into());
        assert!(matches!(state.plan(T0 + 9_500, &s), Plan::Use(_)), "still within the bound");
        assert!(matches!(state.plan(T0 + 10_000, &s), Plan::Read));
        state.begin_read(T0 + 10_000);
        state.read_failed("KV down".into());
        assert!(matches!(state.plan(T0 + 10_100, &s), Plan::Unavailable { retry_after: 1 }));
    }

    #[test]
    fn an_abandoned_read_does_not_block_forever() {
        let mut state = ListState::default();
        state.begin_read(T0);
        assert!(state.reading(T0 + READ_ABANDONED_AFTER_MS - 1));
        assert!(!state.reading(T0 + READ_ABANDONED_AFTER_MS));
        assert!(matches!(state.plan(T0 + READ_ABANDONED_AFTER_MS, &settings(OnError::ServeLast)), Plan::Read));
    }
}
