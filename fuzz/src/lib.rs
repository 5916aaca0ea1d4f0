//! The properties every fuzz target checks, one function per target, each taking the raw
//! fuzzer input. The cargo-fuzz targets (`fuzz/fuzz_targets/*.rs`, nightly) are one-line
//! calls into this file, and the stable `tests/fuzz_corpus.rs` includes this very file to
//! replay the saved corpora and crash regressions: both run identical code.
//!
//! A property function returns normally when the input is handled correctly (accepted or
//! refused) and panics, naming the broken property, when it is not. Beyond "no panic":
//! - path: normalizing twice is normalizing once; the result is canonical;
//! - route: a path whose segments, as a decoding origin reads them, match a route still
//!   matches after normalization; `covers` never claims coverage it does not have;
//! - token: the parser never accepts what the header policy (re-checked here from the
//!   decoded header, independently of the parser) refuses;
//! - claims: an accepted token's principal carries exactly the token's tenant, a live
//!   lifetime and an accepted audience;
//! - gcra: never more than `burst` admitted at one instant, whatever the clock does;
//!   `Retry-After` is honest (waiting that long is admitted).

use std::sync::OnceLock;

use base64ct::{Base64UrlUnpadded, Encoding};
use entra_edge::config::Config;
use entra_edge::cors::{CorsPolicy, Origins, Preflight};
use entra_edge::discovery::{checked_jwks_uri, OpenIdMetadata};
use entra_edge::extract::{bearer_token, MAX_AUTHORIZATION_BYTES};
use entra_edge::jwks::{parse_jwks, KeySet, RsaJwk, SigningKey};
use entra_edge::path::{normalize, split_url, NormalizedPath};
use entra_edge::rate_limit::{decide, Window, MAX_BURST_REFILL_SECONDS, MAX_INSTANT_US};
use entra_edge::route::{lookup, Lookup, MethodSet, PathPattern};
use entra_edge::signature::SignatureBackend;
use entra_edge::tenant::{TenantId, TenantPolicy};
use entra_edge::token::UnverifiedToken;
use entra_edge::verify::{authenticate, TenantKeys};
use serde_json::{json, Value};

/// The tenant the fuzzing configuration accepts.
pub const TENANT: &str = "3c6d1c5e-8f0a-4b8e-9d3c-2a1f6e7b9c41";
/// The API's client id (an accepted audience).
pub const CLIENT_ID: &str = "6e2f9a47-1b3c-4d5e-8f70-9a8b7c6d5e4f";
/// The instant (seconds since the epoch) tokens are checked at.
pub const NOW: i64 = 1_800_000_000;
/// The key id the fuzzing key set publishes.
pub const KID: &str = "fuzz-key";

/// The gateway configuration tokens are checked against (both versions, one tenant).
pub fn config() -> &'static Config {
    static CONFIG: OnceLock<Config> = OnceLock::new();
    CONFIG.get_or_init(|| {
        let json = json!({
            "origin": "https://api.example.com",
            "tenants": [TENANT],
            "audiences": [CLIENT_ID, "api://entra-edge-demo"],
            "token_versions": ["1.0", "2.0"],
            "routes": [{ "path": "/**" }],
        });
        Config::from_json(&json.to_string()).expect("the fuzzing configuration is valid")
    })
}

fn text(data: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(data)
}

/// Splits at the first NUL byte: structured inputs carry their parts that way.
fn split_nul(data: &[u8]) -> (&[u8], Option<&[u8]>) {
    match data.iter().position(|b| *b == 0) {
        Some(i) => (&data[..i], Some(&data[i + 1..])),
        None => (data, None),
    }
}

// ---- bearer ------------------------------------------------------------------------

/// The bearer extractor: an accepted token is a non-empty RFC 6750 `b64token` taken
/// verbatim from the header, and extracting it again from `Bearer <token>` gives it back.
pub fn bearer(data: &[u8]) {
    let header = text(data);
    match bearer_token(Some(&header)) {
        Ok(token) => {
            assert!(header.len() <= MAX_AUTHORIZATION_BYTES, "an oversized header yielded a token");
            assert!(!token.is_empty(), "empty token accepted");
            assert!(header.contains(token), "the token is not part of the header");
            let body = token.trim_end_matches('=');
            assert!(
                !body.is_empty() && body.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')),
                "token {token:?} is not a b64token"
            );
            assert_eq!(bearer_token(Some(&format!("Bearer {token}"))), Ok(token), "re-extraction differs");
        }
        Err(refusal) => assert!(!refusal.detail.is_empty(), "a refusal without detail"),
    }
}

// ---- token parser + header policy ----------------------------------------------------

/// Builds a compact JWS from `header JSON \0 claims JSON \0 signature` (the parts are
/// base64url-encoded here, so the fuzzer mutates JSON rather than base64), or takes the
/// input as the compact token itself when it does not start with `{`.
fn compact_token(data: &[u8]) -> String {
    if data.first() != Some(&b'{') {
        return text(data).into_owned();
    }
    let (header, rest) = split_nul(data);
    let (claims, signature) = split_nul(rest.unwrap_or(b"{}"));
    format!(
        "{}.{}.{}",
        Base64UrlUnpadded::encode_string(header),
        Base64UrlUnpadded::encode_string(claims),
        Base64UrlUnpadded::encode_string(signature.unwrap_or(b"sig"))
    )
}

/// RFC 8725 header policy, decided from the decoded header alone: why a header must be
/// refused, or `None` when the policy allows it.
pub fn header_policy_refusal(token: &str) -> Option<String> {
    let header_b64 = token.split('.').next().unwrap_or("");
    let Ok(bytes) = Base64UrlUnpadded::decode_vec(header_b64) else { return Some("header is not base64url".into()) };
    let Ok(Value::Object(header)) = serde_json::from_slice::<Value>(&bytes) else {
        return Some("header is not a JSON object".into());
    };
    if header.get("alg") != Some(&json!("RS256")) {
        return Some("alg is not RS256".into());
    }
    for name in ["jku", "x5u", "jwk", "x5c", "crit", "cty"] {
        if header.contains_key(name) {
            return Some(format!("{name} is present"));
        }
    }
    match header.get("typ") {
        None | Some(Value::Null) => {}
        Some(Value::String(typ)) if typ.eq_ignore_ascii_case("JWT") => {}
        Some(other) => return Some(format!("typ {other} is not JWT")),
    }
    match header.get("kid") {
        Some(Value::String(kid)) if !kid.is_empty() => None,
        _ => Some("kid is missing or empty".into()),
    }
}

/// The token parser with the configuration's rules: whatever it accepts, the header
/// policy allows, and the token is three parts of bounded size with a GUID tenant.
pub fn token(data: &[u8]) {
    let raw = compact_token(data);
    let rules = config().token_rules();
    if let Ok(token) = UnverifiedToken::parse(&raw, &rules) {
        if let Some(why) = header_policy_refusal(&raw) {
            panic!("the parser accepted a token the header policy refuses ({why}): {raw:?}");
        }
        assert!(raw.len() <= entra_edge::token::MAX_TOKEN_BYTES);
        assert_eq!(raw.split('.').count(), 3);
        assert!(!token.kid().is_empty());
        assert!(rules.allows_tenant(token.tenant()) && rules.accepts_version(token.version()));
    }
}

// ---- claims model --------------------------------------------------------------------

/// A signature backend that accepts every signature: the claims checks after the
/// signature are what is fuzzed here.
pub struct AcceptAnySignature;

impl SignatureBackend for AcceptAnySignature {
    type Key = ();

    async fn import_key(&self, _jwk: &RsaJwk) -> Result<(), String> {
        Ok(())
    }

    async fn verify(&self, _key: &(), _message: &[u8], _signature: &[u8]) -> bool {
        true
    }
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(value) = future.as_mut().poll(&mut cx) {
            return value;
        }
    }
}

/// The claims model: the input is the claims JSON of a token with a valid header, checked
/// through the parser and `authenticate` (signature taken as valid). An accepted token's
/// principal carries the token's own tenant, an unexpired lifetime and an accepted audience.
pub fn claims(data: &[u8]) {
    let header = json!({ "typ": "JWT", "alg": "RS256", "kid": KID }).to_string();
    let raw = format!(
        "{}.{}.{}",
        Base64UrlUnpadded::encode_string(header.as_bytes()),
        Base64UrlUnpadded::encode_string(data),
        Base64UrlUnpadded::encode_string(b"sig")
    );
    let rules = config().token_rules();
    let Ok(token) = UnverifiedToken::parse(&raw, &rules) else { return };
    let keys = TenantKeys {
        metadata: OpenIdMetadata {
            issuer: "https://login.microsoftonline.com/{tenantid}/v2.0".into(),
            jwks_uri: "https://login.microsoftonline.com/common/discovery/v2.0/keys".into(),
            cloud_instance_name: None,
        },
        keys: KeySet::new(vec![SigningKey { kid: KID.into(), issuer: None, cloud_instance_name: None, key: () }]),
    };
    let Ok(principal) = block_on(authenticate(token, &keys, &AcceptAnySignature, &rules, NOW)) else { return };
    let claims: Value = serde_json::from_slice(data).expect("accepted claims are JSON");
    // GUIDs compare case-insensitively; the tenant id is kept in lower case.
    let tid = claims["tid"].as_str().expect("an accepted token has a tid");
    assert!(tid.eq_ignore_ascii_case(principal.tenant().as_str()), "principal of tenant {} for tid {tid}", principal.tenant());
    assert_eq!(claims["iss"], json!(format!("https://login.microsoftonline.com/{TENANT}/v2.0")), "issuer not checked");
    let skew = rules.clock_skew_seconds as i64;
    assert!(principal.expires_at().saturating_add(skew) >= NOW, "expired token accepted");
    let audiences: Vec<&str> = match &claims["aud"] {
        Value::String(one) => vec![one.as_str()],
        Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    assert!(audiences.iter().any(|a| rules.accepts_audience(a)), "no accepted audience in {audiences:?}");
    if let Some(scp) = claims["scp"].as_str() {
        let scopes: Vec<&str> = scp.split(' ').filter(|s| !s.is_empty()).collect();
        assert!(principal.scopes().iter().all(|s| scopes.contains(&s.as_str())), "a scope the token does not carry");
    }
}

// ---- authority documents -------------------------------------------------------------

/// The JWKS parser: every key kept is a usable RS256 key whose decoded modulus has
/// 2048–8192 bits without leading zeros, and whose base64url forms decode to its bytes.
pub fn jwks(data: &[u8]) {
    let Ok(keys) = parse_jwks(data) else { return };
    assert!(!keys.is_empty(), "an empty key set accepted");
    for key in keys {
        assert!(!key.kid.is_empty());
        assert_ne!(key.modulus.first(), Some(&0), "modulus with a leading zero");
        let bits = key.modulus.len() * 8 - key.modulus[0].leading_zeros() as usize;
        assert!((2048..=8192).contains(&bits), "modulus of {bits} bits kept");
        assert!(!key.exponent.is_empty() && key.exponent.len() <= 8);
        let n = Base64UrlUnpadded::decode_vec(&key.n).expect("n decodes");
        assert!(n.ends_with(&key.modulus) && n[..n.len() - key.modulus.len()].iter().all(|b| *b == 0));
    }
}

/// The metadata (discovery) parser and the `jwks_uri` check: accepted metadata has a
/// non-empty issuer and `jwks_uri`, survives a serialization round trip, and a `jwks_uri`
/// the check lets through is on the authority or an allowed host, over https (http only
/// under an http authority), without credentials.
pub fn metadata(data: &[u8]) {
    let Ok(metadata) = OpenIdMetadata::parse(data) else { return };
    assert!(!metadata.issuer.is_empty() && !metadata.jwks_uri.is_empty());
    let again = OpenIdMetadata::parse(&serde_json::to_vec(&metadata).unwrap()).expect("round trip");
    assert_eq!(again, metadata);
    let tenant = TenantId::parse(TENANT).unwrap();
    assert!(!metadata.issuer_for(&tenant).contains("{tenantid}"));
    let allowed = ["keys.contoso.example".to_string(), "127.0.0.1:8790".to_string()];
    for authority in ["https://login.microsoftonline.com", "http://127.0.0.1:8790"] {
        for app_id in [None, Some(CLIENT_ID)] {
            let Ok(checked) = checked_jwks_uri(&metadata.jwks_uri, authority, &allowed, app_id) else { continue };
            let url = url::Url::parse(&checked).expect("a checked jwks_uri is a URL");
            let authority_url = url::Url::parse(authority).unwrap();
            assert!(url.username().is_empty() && url.password().is_none(), "credentials kept: {checked}");
            assert!(url.scheme() == "https" || authority_url.scheme() == "http", "plain http under an https authority: {checked}");
            let place = match url.port_or_known_default() {
                Some(port) => format!("{}:{port}", url.host_str().unwrap_or("")),
                None => url.host_str().unwrap_or("").to_string(),
            };
            let on_authority = url.scheme() == authority_url.scheme()
                && url.host_str() == authority_url.host_str()
                && url.port_or_known_default() == authority_url.port_or_known_default();
            let listed = place == "keys.contoso.example:443" || place == "127.0.0.1:8790";
            assert!(on_authority || listed, "jwks_uri {checked} is neither on the authority nor allowed");
            if let Some(app_id) = app_id {
                let appids: Vec<String> =
                    url.query_pairs().filter(|(n, _)| n.eq_ignore_ascii_case("appid")).map(|(_, v)| v.into_owned()).collect();
                assert_eq!(appids, [app_id], "the configured appid must be the only one");
            }
        }
    }
}

// ---- paths and routes ----------------------------------------------------------------

/// Checks that `path` is in canonical form.
fn assert_canonical(path: &NormalizedPath) {
    let s = path.as_str();
    assert!(s.starts_with('/'), "{s:?} is not absolute");
    assert!(s == "/" || !s.ends_with('/'), "{s:?} keeps a trailing slash");
    assert!(!s.contains("//"), "{s:?} keeps an empty segment");
    assert!(s.bytes().all(|b| b.is_ascii_graphic() && b != b'\\' && b != b';'), "{s:?} keeps a refused character");
    for segment in path.segments() {
        assert!(segment != "." && segment != "..", "{s:?} keeps a dot segment");
    }
    let bytes = s.as_bytes();
    for (i, _) in s.match_indices('%') {
        let escape = &bytes[i + 1..(i + 3).min(bytes.len())];
        assert!(escape.len() == 2 && escape.iter().all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(b)), "{s:?}: bad escape");
        let decoded = u8::from_str_radix(std::str::from_utf8(escape).unwrap(), 16).unwrap();
        assert!(!(decoded.is_ascii_alphanumeric() || b"-._~".contains(&decoded)), "{s:?} keeps an unreserved character encoded");
    }
}

/// The path normalizer (and the URL splitter in front of it): normalizing twice is
/// normalizing once, and the result is canonical and no longer than the input.
pub fn path(data: &[u8]) {
    let raw = text(data);
    let (from_url, query) = split_url(&raw);
    assert!(from_url.starts_with('/') && !from_url.contains(['?', '#']), "split_url path {from_url:?}");
    assert!(query.is_none_or(|q| !q.contains('#')));
    for candidate in [&raw[..], from_url] {
        if let Ok(normalized) = normalize(candidate) {
            assert_canonical(&normalized);
            assert!(normalized.as_str().len() <= candidate.len().max(1));
            assert_eq!(normalize(normalized.as_str()), Ok(normalized.clone()), "normalizing twice differs from once");
        }
    }
}

/// Percent-decodes everything, as an origin that decodes paths before routing does.
fn fully_decoded(segment: &str) -> Vec<u8> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: Option<&u8>| b.and_then(|b| (*b as char).to_digit(16));
        match (bytes[i], hex(bytes.get(i + 1)), hex(bytes.get(i + 2))) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// Whether a pattern (by its source text) matches the segments an origin reads: a test
/// oracle independent of `PathPattern::matches`.
fn origin_reads_as_match(source: &str, raw_path: &str) -> bool {
    let mut pattern: Vec<&str> = source.split('/').filter(|s| !s.is_empty()).collect();
    let prefix = pattern.last() == Some(&"**");
    if prefix {
        pattern.pop();
    }
    let actual: Vec<Vec<u8>> = raw_path.split('/').filter(|s| !s.is_empty()).map(fully_decoded).collect();
    if actual.len() < pattern.len() || (!prefix && actual.len() != pattern.len()) {
        return false;
    }
    pattern.iter().zip(&actual).all(|(p, a)| (p.starts_with('{') && p.ends_with('}')) || p.as_bytes().eq_ignore_ascii_case(a))
}

/// The route matcher, with a route list and a request path from the input: lines of
/// `[METHOD,METHOD ]pattern`, the last line being `METHOD path`.
///
/// Properties: the lookup of a path equals the lookup of its normalized form normalized
/// again; a path that an origin reads as matching a route's pattern still matches that
/// pattern after normalization (no spelling of a path slips past its route); when a
/// pattern `covers` another, it matches every path the other matches.
pub fn route(data: &[u8]) {
    let input = text(data);
    let mut lines: Vec<&str> = input.split('\n').collect();
    let request = lines.pop().unwrap_or("");
    let (method, raw_path) = request.split_once(' ').unwrap_or(("GET", request));
    let routes: Vec<(MethodSet, PathPattern)> = lines
        .iter()
        .take(16)
        .filter_map(|line| {
            let (methods, source) = match line.split_once(' ') {
                Some((methods, source)) if !methods.starts_with('/') => {
                    (Some(methods.split(',').map(str::to_string).collect::<Vec<_>>()), source)
                }
                _ => (None, *line),
            };
            Some((MethodSet::parse(methods.as_deref()).ok()?, PathPattern::parse(source).ok()?))
        })
        .collect();
    let Ok(path) = normalize(raw_path) else { return };
    let found = lookup(routes.iter().map(|(m, p)| (m, p)), method, &path);
    let again = normalize(path.as_str()).expect("a normalized path normalizes");
    assert_eq!(found, lookup(routes.iter().map(|(m, p)| (m, p)), method, &again));
    if let Lookup::Found { index, .. } = &found {
        assert!(routes[*index].0.contains(method));
    }
    for (_, pattern) in &routes {
        if origin_reads_as_match(pattern.source(), raw_path) {
            assert!(
                pattern.matches(&path).is_some(),
                "{raw_path:?} reads as {:?} to a decoding origin, but normalized to {path} it escapes the route {:?}",
                raw_path,
                pattern.source()
            );
        }
        for (_, other) in &routes {
            if pattern.covers(other) && other.matches(&path).is_some() {
                assert!(pattern.matches(&path).is_some(), "{:?} claims to cover {:?} but misses {path}", pattern.source(), other.source());
            }
        }
    }
}

// ---- configuration -------------------------------------------------------------------

/// The configuration parser, JSON (input starting with `{`) or TOML (a wrangler.toml, whose
/// `[vars.ENTRA_EDGE]` table is used when present): a refusal names at least one problem,
/// and an accepted configuration's routes re-parse and its tenants are GUIDs.
pub fn config_parser(data: &[u8]) {
    let input = text(data);
    let json = if input.trim_start().starts_with('{') {
        input.into_owned()
    } else {
        let Ok(document) = toml::from_str::<Value>(&input) else { return };
        let table = document.get("vars").and_then(|v| v.get("ENTRA_EDGE")).cloned().unwrap_or(document);
        table.to_string()
    };
    match Config::from_json(&json) {
        Ok(config) => {
            let tenants_named = match &config.tenants {
                TenantPolicy::Listed(tenants) => !tenants.is_empty(),
                TenantPolicy::AnyOrganization { .. } => true,
            };
            assert!(tenants_named && !config.audiences.is_empty() && !config.routes.routes().is_empty());
            for route in config.routes.routes() {
                assert_eq!(PathPattern::parse(route.pattern.source()).as_ref(), Ok(&route.pattern));
            }
            let (TenantPolicy::Listed(ids) | TenantPolicy::AnyOrganization { denied: ids, .. }) = config.token_rules().tenants;
            assert!(ids.iter().all(|t| TenantId::parse(t.as_str()).as_ref() == Some(t)));
        }
        Err(errors) => {
            assert!(!errors.is_empty(), "refused without naming a problem");
            assert!(errors.iter().all(|e| !e.message.is_empty()), "a problem without a message");
        }
    }
}

// ---- CORS ------------------------------------------------------------------------------

/// CORS preflight decisions, with a policy and a preflight from the input lines:
/// `origins`, `methods`, `headers`, `credentials (1/0)`, then the request's `Origin`,
/// method and `Access-Control-Request-Headers` (absent when there is no seventh line).
///
/// Properties: an allowed preflight has an allowed origin, method and every requested
/// header; `*` is never sent with credentials; a denied origin gets no CORS headers on
/// actual responses either.
pub fn cors(data: &[u8]) {
    let input = text(data);
    let lines: Vec<&str> = input.split('\n').collect();
    let line = |i: usize| lines.get(i).copied().unwrap_or("");
    let list = |s: &str| s.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect::<Vec<_>>();
    let credentials = line(3) == "1";
    let origins = if line(0) == "*" && !credentials {
        Origins::Any
    } else {
        Origins::List(list(line(0)).into_iter().map(|o| o.to_ascii_lowercase()).collect())
    };
    let policy = CorsPolicy {
        origins,
        methods: list(line(1)).into_iter().map(|m| m.to_ascii_uppercase()).collect(),
        headers: list(line(2)).into_iter().map(|h| h.to_ascii_lowercase()).collect(),
        expose_headers: vec!["www-authenticate".into()],
        max_age_seconds: 600,
        credentials,
    };
    let (origin, method, requested) = (line(4), line(5), lines.get(6).copied());
    let origin_allowed = match &policy.origins {
        Origins::Any => true,
        Origins::List(list) => list.iter().any(|o| o.eq_ignore_ascii_case(origin)),
    };
    let actual = policy.response_headers(Some(origin));
    assert_eq!(actual.is_empty(), !origin_allowed, "actual-response CORS headers disagree with the origin list");
    match policy.preflight(origin, method, requested) {
        Preflight::Allowed(headers) => {
            assert!(origin_allowed, "preflight allowed for a foreign origin {origin:?}");
            assert!(policy.methods.iter().any(|m| m == method), "preflight allowed for method {method:?}");
            for header in requested.unwrap_or("").split(',').map(|h| h.trim().to_ascii_lowercase()).filter(|h| !h.is_empty()) {
                assert!(policy.headers.contains(&header), "preflight allowed header {header:?}");
            }
            let allow_origin = headers.iter().find(|(n, _)| *n == "access-control-allow-origin").map(|(_, v)| v.as_str());
            if credentials {
                assert_eq!(allow_origin, Some(origin), "credentials need the exact origin echoed");
            } else {
                assert!(allow_origin == Some("*") || allow_origin == Some(origin));
            }
            assert!(headers.iter().any(|(n, v)| *n == "vary" && v == "Origin"));
        }
        Preflight::Denied(why) => assert!(!why.is_empty()),
    }
}

// ---- GCRA --------------------------------------------------------------------------------

/// Reads fixed-size little-endian numbers from the input, zeros past its end.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn u64(&mut self) -> u64 {
        let mut buf = [0u8; 8];
        let n = self.0.len().min(8);
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        u64::from_le_bytes(buf)
    }
    fn byte(&mut self) -> u8 {
        let b = self.0.first().copied().unwrap_or(0);
        self.0 = self.0.get(1..).unwrap_or(&[]);
        b
    }
}

/// The GCRA arithmetic under arbitrary clocks: windows within the configuration's bounds,
/// then a sequence of instants (any `i64`, backwards jumps included) with bursts of
/// requests at each, the stored state fed back as the Durable Object does.
///
/// Properties: at one instant no more requests are admitted than the smallest `burst`
/// (and from fresh state exactly that many); a refusal leaves the state unchanged and its
/// `retry_after` is honest: a request at `now + retry_after` is admitted; no report shows
/// more remaining than the burst.
pub fn gcra(data: &[u8]) {
    let mut input = Reader(data);
    let count = 1 + (input.byte() % 4) as usize;
    let windows: Vec<Window> = (0..count)
        .map(|_| {
            let requests = 1 + input.u64() % 1_000_000_000;
            let period_seconds = 1 + input.u64() % (31 * 86_400);
            // Small bursts half of the time, so bursts at one instant run to their end.
            let burst = if input.byte() % 2 == 0 { 1 + input.byte() as u64 % 16 } else { 1 + input.u64() % 1_000_000_000 };
            // Within the configuration's bound on the time a burst takes to refill.
            let refill_cap = (MAX_BURST_REFILL_SECONDS as u128 * requests as u128 / period_seconds as u128).max(1) as u64;
            Window { requests, period_seconds, burst: burst.min(refill_cap) }
        })
        .collect();
    let smallest_burst = windows.iter().map(|w| w.burst).min().unwrap();
    let mut stored: Vec<Option<i64>> = vec![None; windows.len()];
    let mut fresh = true;
    while !input.0.is_empty() {
        let now = input.u64() as i64;
        // What `decide` reads the clock as (its documented domain).
        let clamped = now.clamp(0, MAX_INSTANT_US);
        if input.byte() % 8 == 0 {
            // State from before a reset or a clock change: anything at all.
            stored = (0..windows.len()).map(|_| Some(input.u64() as i64)).collect();
            fresh = false;
        }
        let attempts = 1 + (input.byte() % 24) as u64;
        let mut admitted = 0u64;
        for _ in 0..attempts {
            let (verdict, next) = decide(&windows, &stored, now);
            assert_eq!(next.len(), windows.len());
            for report in &verdict.windows {
                assert!(report.remaining <= windows.iter().map(|w| w.burst).max().unwrap(), "remaining above burst");
            }
            if verdict.allowed {
                admitted += 1;
                assert!(admitted <= smallest_burst, "{admitted} admitted at one instant with burst {smallest_burst}");
                assert_eq!(verdict.retry_after_ms, 0);
            } else {
                let unchanged: Vec<i64> = stored.iter().map(|t| t.unwrap_or(clamped)).collect();
                assert_eq!(next, unchanged, "a refusal changed the stored state");
                assert!(verdict.retry_after_ms > 0, "refused with no wait");
                let later = verdict.retry_after_ms as i128 * 1000 + clamped as i128;
                if later <= MAX_INSTANT_US as i128 {
                    let later = later as i64;
                    let stored_now: Vec<Option<i64>> = next.iter().copied().map(Some).collect();
                    assert!(
                        decide(&windows, &stored_now, later).0.allowed,
                        "waiting Retry-After ({} ms) is not admitted",
                        verdict.retry_after_ms
                    );
                }
            }
            stored = next.into_iter().map(Some).collect();
        }
        if fresh && attempts > smallest_burst {
            assert_eq!(admitted, smallest_burst, "a fresh bucket admits exactly its burst at one instant");
        }
        fresh = false;
    }
}
