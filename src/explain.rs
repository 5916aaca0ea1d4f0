//! `entra-edge explain`: why the gateway accepts or refuses a token on a route.
//!
//! Not a second validator: it runs the worker's own functions in the worker's order
//! (`gateway::start`, `extract::bearer_token`, `UnverifiedToken::parse_traced`,
//! `verify::authenticate_traced`, `gateway::authorize_traced`), records every check they name
//! through [`Trace`], and renders the refusal with `problem::refusal_answer`, exactly as the
//! worker answers. What it adds is for people: the decoded header and claims (never the
//! signature) and plain-words hints for the usual Entra mistakes. Pure: keys, `now` and the
//! configuration are inputs; the command-line shell (`src/bin/entra-edge.rs`) does the I/O.

use base64ct::{Base64UrlUnpadded, Encoding};
use serde::Serialize;
use serde_json::Value;

use crate::config::{is_graph_audience, Config};
use crate::discovery::OpenIdMetadata;
use crate::extract::bearer_token;
use crate::gateway::{self, RequestHead, Start};
use crate::jwks::{KeySet, RsaJwk, SigningKey};
use crate::principal::Principal;
use crate::problem::{refusal_answer, AnswerContext};
use crate::reason::{Reason, Refusal};
use crate::signature::SignatureBackend;
use crate::tenant::{TenantId, TenantPolicy, CONSUMER_TENANT};
use crate::token::UnverifiedToken;
use crate::token_version::TokenVersion;
use crate::verify::{authenticate_traced, TenantKeys};

/// The request the token is explained for: `GET /api/orders`.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    pub method: &'a str,
    /// Path as a client would send it (normalized by the worker's own rules).
    pub path: &'a str,
}

impl<'a> Request<'a> {
    /// Parses `"METHOD /path"`; a query (`?…`) is dropped, as the worker routes on the path
    /// alone. The method is taken as written (HTTP methods are case-sensitive).
    pub fn parse(text: &'a str) -> Result<Request<'a>, String> {
        let (method, path) =
            text.trim().split_once(' ').ok_or_else(|| format!("{text:?} is not \"METHOD /path\" (e.g. \"GET /api/orders\")"))?;
        let path = path.trim();
        let path = path.split_once('?').map_or(path, |(path, _query)| path);
        if method.is_empty() || !method.bytes().all(|b| b.is_ascii_alphabetic()) || !path.starts_with('/') {
            return Err(format!("{text:?} is not \"METHOD /path\" (e.g. \"GET /api/orders\")"));
        }
        Ok(Request { method, path })
    }
}

/// The signing keys of the token's tenant, as published by the authority (or a file).
#[derive(Clone, Debug)]
pub struct KeyMaterial {
    pub metadata: OpenIdMetadata,
    pub jwks: Vec<RsaJwk>,
}

/// How the signature is checked.
pub enum Keys<F> {
    /// `F(tenant, version)` gives the keys (fetched from the authority, or read from a file).
    Load(F),
    /// `--skip-signature`: the key and signature checks are reported as skipped, never passed.
    Skip,
}

/// Everything `explain` needs besides keys.
#[derive(Clone, Copy, Debug)]
pub struct Input<'a> {
    pub config: &'a Config,
    pub request: Option<Request<'a>>,
    pub token: &'a str,
    /// Seconds since the Unix epoch (`--at`, or the clock).
    pub now: i64,
}

/// How one check went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Pass,
    Fail,
    /// Not run on purpose (`--skip-signature`, a public route, no route given, rate limits).
    Skipped,
    /// Not run because an earlier check refused the token (the worker stops there too).
    NotReached,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::Skipped => "skipped",
            Outcome::NotReached => "not reached",
        }
    }
}

/// One check, in the worker's order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Stable name (`header.alg`, `claims.exp`, `route.permissions`, …).
    pub name: String,
    pub outcome: Outcome,
    /// The reason code of a failed check (the worker's `reason`).
    pub reason: Option<&'static str>,
    /// What was checked, or why it failed.
    pub detail: String,
}

/// What the whole run means.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VerdictOutcome {
    /// The worker would forward the request (exit 0).
    Pass,
    /// The worker would refuse it (exit 1).
    Refused,
    /// Keys could not be had: the worker would answer 503; not the token's fault (exit 2).
    Error,
    /// Every check that ran passed, but the signature was not checked (exit 3).
    Unverified,
}

/// The worker's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub outcome: VerdictOutcome,
    /// HTTP status of the gateway's own answer; `None` when the request is forwarded.
    pub status: Option<u16>,
    /// Reason code of the refusal.
    pub reason: Option<&'static str>,
    pub detail: String,
    /// The `WWW-Authenticate` header of the answer, if it has one.
    pub challenge: Option<String>,
}

impl Verdict {
    /// The command's exit code: 0 pass, 1 refused, 2 error, 3 signature not checked.
    pub fn exit_code(&self) -> u8 {
        match self.outcome {
            VerdictOutcome::Pass => 0,
            VerdictOutcome::Refused => 1,
            VerdictOutcome::Error => 2,
            VerdictOutcome::Unverified => 3,
        }
    }
}

/// A plain-words explanation of a known Entra mistake.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Hint {
    /// Stable code: `graph_token`, `v1_token_for_v2_config`, `expired`, …
    pub code: &'static str,
    pub text: String,
}

/// The whole explanation (the `--json` document).
#[derive(Clone, Debug, Serialize)]
pub struct Explanation {
    /// `GET /api/orders`, when a route was asked about.
    pub request: Option<String>,
    /// The route that matched.
    pub route: Option<String>,
    /// The decoded JOSE header (untrusted).
    pub header: Option<Value>,
    /// The decoded claims (untrusted until the signature passed).
    pub claims: Option<Value>,
    /// False under `--skip-signature` (or when the keys could not be had).
    pub signature_checked: bool,
    pub checks: Vec<Check>,
    pub verdict: Verdict,
    pub hints: Vec<Hint>,
}

/// Entra's standard metadata for a tenant when no document was read (`--jwks FILE`,
/// `--skip-signature`), per ENTRA.md "Token versions and issuers": v2 issuer
/// `https://{login host}/{tid}/v2.0`; v1 issuer `https://sts.windows.net/{tid}/`
/// (`https://sts.chinacloudapi.cn/{tid}/` in the China cloud). A loopback authority (the
/// local one of `make dev`) issues public-cloud tokens; any other host is taken as the
/// issuer's host.
pub fn standard_metadata(authority: &str, tenant: &TenantId, version: TokenVersion) -> OpenIdMetadata {
    let host = url::Url::parse(authority).ok().and_then(|u| u.host_str().map(str::to_ascii_lowercase)).unwrap_or_default();
    let loopback = host == "localhost" || host.starts_with("127.") || host == "[::1]";
    let login = if loopback { crate::config::DEFAULT_AUTHORITY } else { authority };
    let issuer = match version {
        TokenVersion::V2 => format!("{login}/{tenant}/v2.0"),
        TokenVersion::V1 if host.ends_with("microsoftonline.cn") => format!("https://sts.chinacloudapi.cn/{tenant}/"),
        TokenVersion::V1 => format!("https://sts.windows.net/{tenant}/"),
    };
    let jwks_uri = match version {
        TokenVersion::V2 => format!("{authority}/{tenant}/discovery/v2.0/keys"),
        TokenVersion::V1 => format!("{authority}/{tenant}/discovery/keys"),
    };
    OpenIdMetadata { issuer, jwks_uri, cloud_instance_name: None }
}

/// A backend that checks nothing, for `--skip-signature` only: its "pass" is never reported
/// as a pass (the signature and key checks are shown as skipped and the verdict as unverified).
struct NotChecked;

impl SignatureBackend for NotChecked {
    type Key = ();
    async fn import_key(&self, _jwk: &RsaJwk) -> Result<(), String> {
        Ok(())
    }
    async fn verify(&self, _key: &(), _message: &[u8], _signature: &[u8]) -> bool {
        true
    }
}

/// Builds the ordered check list from the traces of the worker's functions.
#[derive(Default)]
struct Checks {
    list: Vec<Check>,
}

impl Checks {
    fn push(&mut self, name: &str, outcome: Outcome, reason: Option<Reason>, detail: impl Into<String>) {
        self.list.push(Check { name: name.to_string(), outcome, reason: reason.map(Reason::code), detail: detail.into() });
    }

    /// Records a traced stage: every named check passed, except the last one when the stage
    /// refused. `skipped` names checks that ran but prove nothing (`--skip-signature`).
    fn stage(&mut self, traced: &[&'static str], refusal: Option<&Refusal>, skipped: &[&str], explain: &dyn Fn(&str) -> String) {
        for (i, name) in traced.iter().enumerate() {
            let last = i + 1 == traced.len();
            match refusal {
                Some(refusal) if last => self.push(name, Outcome::Fail, Some(refusal.reason), refusal.detail.clone()),
                _ if skipped.contains(name) => self.push(name, Outcome::Skipped, None, "not checked (--skip-signature)"),
                _ => self.push(name, Outcome::Pass, None, explain(name)),
            }
        }
        if let (Some(refusal), true) = (refusal, traced.is_empty()) {
            self.push("token", Outcome::Fail, Some(refusal.reason), refusal.detail.clone());
        }
    }

    fn not_reached(&mut self, stages: &[&str]) {
        for stage in stages {
            self.push(stage, Outcome::NotReached, None, "an earlier check refused the token; the worker stops at the first failure");
        }
    }
}

fn decode_part(part: Option<&str>) -> Option<Value> {
    let bytes = Base64UrlUnpadded::decode_vec(part?.trim_end_matches('=')).ok()?;
    serde_json::from_slice::<Value>(&bytes).ok().filter(Value::is_object)
}

/// Runs every check of the worker on `input.token` (and the route, if any) and explains it.
/// `backend` verifies signatures natively (the worker uses WebCrypto: same RS256).
pub async fn explain<B, F>(input: Input<'_>, backend: &B, keys: Keys<F>) -> Explanation
where
    B: SignatureBackend,
    F: FnOnce(&TenantId, TokenVersion) -> Result<KeyMaterial, String>,
{
    let config = input.config;
    let mut parts = input.token.split('.');
    let header = decode_part(parts.next());
    let claims = decode_part(parts.next());
    let skip = matches!(keys, Keys::Skip);
    let mut out = Explanation {
        request: input.request.map(|r| format!("{} {}", r.method, r.path)),
        route: None,
        header,
        claims,
        signature_checked: false,
        checks: Vec::new(),
        verdict: Verdict { outcome: VerdictOutcome::Pass, status: None, reason: None, detail: String::new(), challenge: None },
        hints: Vec::new(),
    };
    let mut checks = Checks::default();
    let decoded_claims = out.claims.clone();
    let context = Context { config, claims: decoded_claims.as_ref(), now: input.now };

    // 1. The route (path normalization, health, routing), as `gateway::start` decides it.
    let admitted = match input.request {
        None => {
            checks.push("route", Outcome::Skipped, None, "no route given (ROUTE=\"GET /path\"): only the token is checked");
            None
        }
        Some(request) => {
            let head = RequestHead::plain(request.method, request.path);
            match gateway::start(config, head) {
                Start::Admit(admitted) => {
                    out.route = Some(admitted.route.name.clone());
                    let access = if admitted.needs_token() { "needs a token" } else { "is public" };
                    checks.push("route", Outcome::Pass, None, format!("matched route {:?}, which {access}", admitted.route.name));
                    Some(admitted)
                }
                Start::Health => {
                    checks.push("route", Outcome::Pass, None, "the edge health endpoint: answered without a token");
                    return finish(out, checks, Ok(()), skip, &context);
                }
                Start::ResourceMetadata { .. } => {
                    checks.push("route", Outcome::Pass, None, "the RFC 9728 protected-resource metadata: answered without a token");
                    return finish(out, checks, Ok(()), skip, &context);
                }
                Start::AssertionKeys => {
                    checks.push("route", Outcome::Pass, None, "the signed assertion's public keys: answered without a token");
                    return finish(out, checks, Ok(()), skip, &context);
                }
                // Not without `Origin` and `Access-Control-Request-Method`, which explain never sends.
                Start::Preflight { .. } => {
                    checks.push("route", Outcome::Pass, None, "a CORS preflight, answered at the edge without a token");
                    return finish(out, checks, Ok(()), skip, &context);
                }
                Start::Refuse { refusal, .. } => {
                    checks.push("route", Outcome::Fail, Some(refusal.reason), refusal.detail.clone());
                    checks.not_reached(&["token", "signature", "claims", "authorization"]);
                    return finish(out, checks, Err(refusal), skip, &context);
                }
            }
        }
    };
    if let Some(admitted) = &admitted {
        if !admitted.needs_token() {
            checks.push("token", Outcome::Skipped, None, "public route: the worker does not look at the token");
            return finish(out, checks, Ok(()), skip, &context);
        }
    }

    // 2. The Authorization header the client would send.
    let authorization = format!("Bearer {}", input.token);
    let raw = match bearer_token(Some(&authorization)) {
        Ok(raw) => {
            checks.push("request.authorization", Outcome::Pass, None, "Authorization: Bearer <token> is well-formed (RFC 6750 §2.1)");
            raw
        }
        Err(refusal) => {
            checks.push("request.authorization", Outcome::Fail, Some(refusal.reason), refusal.detail.clone());
            checks.not_reached(&["token", "signature", "claims", "authorization"]);
            return finish_route(out, checks, admitted.as_ref(), Err(refusal), skip, &context);
        }
    };

    // 3. Structure and header policy, version, tenant.
    let rules = config.token_rules();
    let mut traced = Vec::new();
    let token = match UnverifiedToken::parse_traced(raw, &rules, &mut traced) {
        Ok(token) => {
            checks.stage(&traced, None, &[], &|name| context.describe(name));
            token
        }
        Err(refusal) => {
            checks.stage(&traced, Some(&refusal), &[], &|name| context.describe(name));
            checks.not_reached(&["signature", "claims", "authorization"]);
            return finish_route(out, checks, admitted.as_ref(), Err(refusal), skip, &context);
        }
    };
    let (tenant, version) = (token.tenant().clone(), token.version());

    // 4. Issuer, key, signature, claims: `verify::authenticate`.
    let mut traced = Vec::new();
    let authentication = match keys {
        Keys::Skip => {
            let tenant_keys = TenantKeys {
                metadata: standard_metadata(&config.authority, &tenant, version),
                keys: KeySet::new(vec![SigningKey { kid: token.kid().to_string(), issuer: None, cloud_instance_name: None, key: () }]),
            };
            let result = authenticate_traced(token, &tenant_keys, &NotChecked, &rules, input.now, &mut traced).await;
            let expected = tenant_keys.metadata.issuer.clone();
            checks.stage(&traced, result.as_ref().err(), &["key.kid", "key.issuer", "key.cloud", "signature"], &|name| match name {
                "claims.iss" => format!("iss is Entra's issuer for the tenant, {expected} (assumed: no metadata document was read)"),
                other => context.describe_verified(other, result.as_ref().ok()),
            });
            result
        }
        Keys::Load(load) => match load(&tenant, version) {
            Err(err) => {
                let refusal = Refusal::new(Reason::KeysUnavailable, "the signing keys could not be loaded").with_internal(err.clone());
                checks.push("keys", Outcome::Fail, Some(Reason::KeysUnavailable), err);
                checks.not_reached(&["signature", "claims", "authorization"]);
                let mut out = finish_route(out, checks, admitted.as_ref(), Err(refusal), true, &context);
                out.verdict.outcome = VerdictOutcome::Error;
                return out;
            }
            Ok(material) => {
                let mut imported = Vec::new();
                for jwk in material.jwks {
                    if let Ok(key) = backend.import_key(&jwk).await {
                        imported.push(SigningKey { kid: jwk.kid, issuer: jwk.issuer, cloud_instance_name: jwk.cloud_instance_name, key });
                    }
                }
                let expected = material.metadata.issuer_for(&tenant);
                let tenant_keys = TenantKeys { metadata: material.metadata, keys: KeySet::new(imported) };
                let result = authenticate_traced(token, &tenant_keys, backend, &rules, input.now, &mut traced).await;
                let described = |name: &str| match name {
                    "claims.iss" => format!("iss is the tenant's issuer {expected}"),
                    other => context.describe_verified(other, result.as_ref().ok()),
                };
                checks.stage(&traced, result.as_ref().err(), &[], &described);
                out.signature_checked = traced.contains(&"signature");
                result
            }
        },
    };
    if let Err(refusal) = &authentication {
        let mut unreached = Vec::new();
        if !skip && !traced.contains(&"signature") {
            unreached.push("signature");
        }
        if !traced.contains(&"claims.exp") {
            unreached.push("claims");
        }
        unreached.push("authorization");
        checks.not_reached(&unreached);
        let refusal = refusal.clone();
        return finish_route(out, checks, admitted.as_ref(), Err(refusal), skip, &context);
    }

    if config.revocation.is_some() {
        checks.push(
            "token.revocation",
            Outcome::Skipped,
            None,
            "the emergency revocation list lives in KV and is not read here (make revocations lists it)",
        );
    }

    // 5. The route's requirements: `gateway::authorize`.
    let Some(admitted) = admitted else {
        checks.push("authorization", Outcome::Skipped, None, "no route given: scopes, roles and other route rules not checked");
        return finish(out, checks, Ok(()), skip, &context);
    };
    let principal = authentication.as_ref().ok().cloned();
    let mut traced = Vec::new();
    let authorized = gateway::authorize_traced(&admitted, Some(authentication), &config.authority, &mut traced);
    checks.stage(&traced, authorized.refusal.as_ref(), &[], &|name| context.describe_route(name, principal.as_ref()));
    if traced.is_empty() && authorized.refusal.is_none() {
        checks.push("authorization", Outcome::Pass, None, "the route needs any valid token");
    }
    if authorized.refusal.is_none() && admitted.route.rate_limit.is_some() {
        checks.push("route.rate_limit", Outcome::Skipped, None, "rate limits are counted by the worker's Durable Object, not here");
    }
    match authorized.refusal {
        Some(refusal) => finish(out, checks, Err(refusal), skip, &context),
        None => finish(out, checks, Ok(()), skip, &context),
    }
}

/// A refusal before the route's own rules: still through `gateway::authorize`, as the worker.
fn finish_route(
    out: Explanation,
    checks: Checks,
    admitted: Option<&gateway::Admitted<'_>>,
    result: Result<(), Refusal>,
    skip: bool,
    context: &Context<'_>,
) -> Explanation {
    let result = match (admitted, result) {
        (Some(admitted), Err(refusal)) => match gateway::authorize(admitted, Some(Err(refusal)), &context.config.authority).refusal {
            Some(refusal) => Err(refusal),
            None => Ok(()),
        },
        (_, result) => result,
    };
    finish(out, checks, result, skip, context)
}

fn finish(mut out: Explanation, checks: Checks, result: Result<(), Refusal>, skip: bool, context: &Context<'_>) -> Explanation {
    out.checks = checks.list;
    let failed = out.checks.iter().find(|c| c.outcome == Outcome::Fail).map(|c| c.name.clone());
    out.verdict = match &result {
        Ok(()) if skip && out.checks.iter().any(|c| c.outcome == Outcome::Skipped && c.name == "signature") => Verdict {
            outcome: VerdictOutcome::Unverified,
            status: None,
            reason: None,
            detail: "every other check passes, but the SIGNATURE WAS NOT CHECKED (--skip-signature): this is not a pass".into(),
            challenge: None,
        },
        Ok(()) => Verdict {
            outcome: VerdictOutcome::Pass,
            status: None,
            reason: None,
            detail: if out.checks.iter().any(|c| c.name == "token.revocation") {
                "the worker forwards the request to the origin, unless an entry of the emergency revocation list matches the token \
                 (not read here: make revocations lists them; a match is 401 token_revoked)"
                    .into()
            } else {
                "the worker forwards the request to the origin".into()
            },
            challenge: None,
        },
        Err(refusal) => {
            // Never the internal details, whatever `debug` says: explain shows the client's answer.
            let answer = refusal_answer(refusal, AnswerContext { debug: false, ..AnswerContext::of(Some(context.config), "explain") });
            let challenge = answer.headers.iter().find(|(name, _)| *name == "www-authenticate").map(|(_, value)| value.clone());
            let mut detail = refusal.detail.clone();
            if skip && refusal.reason.status() == 401 {
                detail.push_str(" (the signature was not checked: the worker may refuse earlier, with signature_invalid)");
            }
            Verdict {
                outcome: if refusal.reason == Reason::KeysUnavailable { VerdictOutcome::Error } else { VerdictOutcome::Refused },
                status: Some(answer.status),
                reason: Some(refusal.reason.code()),
                detail,
                challenge,
            }
        }
    };
    out.hints = context.hints(result.as_ref().err(), failed.as_deref());
    out
}

/// What hints and descriptions read: the configuration, the decoded (untrusted) claims, now.
struct Context<'a> {
    config: &'a Config,
    claims: Option<&'a Value>,
    now: i64,
}

/// `3 h 12 min`, `45 s`, `2 d 4 h`.
pub fn duration(seconds: i64) -> String {
    let s = seconds.unsigned_abs();
    match s {
        0..=119 => format!("{s} s"),
        120..=7199 if s.is_multiple_of(60) => format!("{} min", s / 60),
        120..=7199 => format!("{} min {} s", s / 60, s % 60),
        7200..=172_799 => format!("{} h {} min", s / 3600, (s % 3600) / 60),
        _ => format!("{} d {} h", s / 86_400, (s % 86_400) / 3600),
    }
}

impl Context<'_> {
    fn claim(&self, name: &str) -> Option<&Value> {
        self.claims.and_then(|c| c.get(name))
    }

    fn claim_str(&self, name: &str) -> Option<&str> {
        self.claim(name).and_then(Value::as_str)
    }

    fn audiences(&self) -> Vec<&str> {
        match self.claim("aud") {
            Some(Value::String(one)) => vec![one.as_str()],
            Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        }
    }

    fn list(values: &[impl AsRef<str>]) -> String {
        values.iter().map(|v| v.as_ref()).collect::<Vec<_>>().join(", ")
    }

    /// What a passed check established.
    fn describe(&self, name: &str) -> String {
        let config = self.config;
        match name {
            "token.size" => "at most 16 KiB".into(),
            "token.structure" => "three base64url parts, a JSON header, no cty".into(),
            "header.alg" => "alg is RS256".into(),
            "header.key_parameters" => "no jku, x5u, jwk or x5c: the token does not choose its own key".into(),
            "header.crit" => "no crit extensions".into(),
            "header.cty" => "no cty (a nested token is not an access token)".into(),
            "header.typ" => "typ is JWT (or absent)".into(),
            "header.kid" => "kid names the signing key".into(),
            "claims.types" => "every claim the gateway reads has the right JSON type".into(),
            "token.version" => format!("ver {}", self.claim_str("ver").unwrap_or("(absent: read from iss)")),
            "token.version_accepted" => {
                format!("token_versions accepts it ({})", Self::list(&config.token_versions.iter().map(|v| v.as_str()).collect::<Vec<_>>()))
            }
            "token.tid" => "tid is a GUID".into(),
            "token.tenant_allowed" => format!("tid {} is in tenants", self.claim_str("tid").unwrap_or("")),
            "claims.iss" => format!("iss {}", self.claim_str("iss").unwrap_or("")),
            "token.issuer_names_tid" => "the issuer names the token's tid".into(),
            "claims.unique" => "no claim name repeated (claims kept for claim rules)".into(),
            "key.kid" => "the authority publishes the token's kid".into(),
            "key.issuer" => "the key may sign for this issuer".into(),
            "key.cloud" => "the key belongs to the authority's cloud".into(),
            "signature" => "RS256 signature verifies with the authority's key".into(),
            "claims.exp" => match self.claim("exp").and_then(Value::as_i64) {
                Some(exp) => format!("expires in {} (clock skew {} s)", duration(exp - self.now), config.clock_skew_seconds),
                None => "exp present".into(),
            },
            "claims.nbf" => "not before now (nbf, within the clock skew)".into(),
            "claims.iat" => "not issued in the future (iat)".into(),
            "claims.aud" => format!("aud {} is in audiences", Self::list(&self.audiences())),
            "claims.sub" => "sub present".into(),
            "token.access_token" => "an access token: names its calling app (azp/appid), no ID-token claims".into(),
            "token.kind" => "delegated or app-only, from positive evidence (idtyp, scp, oid/sub)".into(),
            other => other.to_string(),
        }
    }

    /// [`describe`](Self::describe), with what verification established about the caller.
    fn describe_verified(&self, name: &str, principal: Option<&Principal>) -> String {
        match (name, principal) {
            ("token.kind", Some(p)) => format!("a {} token (idtyp, scp, oid/sub)", p.kind().as_str()),
            ("token.access_token", Some(p)) => {
                format!("an access token: calling app {}, no ID-token claims", p.client_app_id().unwrap_or(""))
            }
            _ => self.describe(name),
        }
    }

    fn describe_route(&self, name: &str, principal: Option<&Principal>) -> String {
        match (name, principal) {
            ("route.token_kind", Some(p)) => format!("a {} token is allowed", p.kind().as_str()),
            ("route.tenants", _) => "the token's tenant may use this route".into(),
            ("route.tenant_segment", _) => "the path's tenant segment is the token's tid".into(),
            ("route.clients", Some(p)) => format!("client {} may use this route", p.client_app_id().unwrap_or("")),
            ("route.permissions", Some(p)) => {
                format!("scp [{}] roles [{}] satisfy the route", Self::list(p.scopes()), Self::list(p.roles()))
            }
            ("route.claims", _) => "the token's claims satisfy the route's claim rules".into(),
            ("route.auth_context", _) => "the token carries the required auth context (acrs)".into(),
            (other, _) => other.to_string(),
        }
    }

    /// Plain-words hints: facts about the token that explain a refusal, the known Entra
    /// mistakes first (ENTRA.md).
    fn hints(&self, refusal: Option<&Refusal>, failed: Option<&str>) -> Vec<Hint> {
        let mut hints = Vec::new();
        let config = self.config;
        let mut hint = |code: &'static str, text: String| hints.push(Hint { code, text });
        let reason = refusal.map(|r| r.reason);
        let audiences = self.audiences();
        let ver = self.claim_str("ver");
        let configured = Self::list(&config.audiences);

        if let Some(aud) = audiences.iter().find(|a| is_graph_audience(a)) {
            hint(
                "graph_token",
                format!(
                    "This token is for Microsoft Graph (aud {aud}), not for your API. Only Graph can validate Graph tokens (their header \
                     carries a nonce, so even the signature does not verify elsewhere). Request a token for your API's own scope, e.g. \
                     \"{}/<scope>\", not \"User.Read\" or \"https://graph.microsoft.com/.default\".",
                    config.audiences.iter().find(|a| !crate::tenant::is_guid(a)).map_or("api://<your-api>", String::as_str)
                ),
            );
        }
        if reason == Some(Reason::TokenVersionNotAccepted) {
            match ver {
                Some("1.0") => hint(
                    "v1_token_for_v2_config",
                    format!(
                        "This is a v1.0 token (iss https://sts.windows.net/{{tid}}/) but token_versions accepts only {}. The API's app \
                         registration decides the version, not the client: set \"accessTokenAcceptedVersion\": 2 \
                         (\"api.requestedAccessTokenVersion\": 2 in the Microsoft Graph app manifest) in the API's manifest, then \
                         request a new token — or add \"1.0\" to token_versions.",
                        Self::list(&config.token_versions.iter().map(|v| v.as_str()).collect::<Vec<_>>())
                    ),
                ),
                Some("2.0") => hint(
                    "v2_token_for_v1_config",
                    "This is a v2.0 token but token_versions accepts only 1.0: add \"2.0\" to token_versions (v2 tokens carry the \
                     client id as aud: list it in audiences too)."
                        .into(),
                ),
                _ => {}
            }
        }
        if reason == Some(Reason::AudienceMismatch) && !audiences.iter().any(|a| is_graph_audience(a)) {
            let guid_aud = audiences.iter().find(|a| crate::tenant::is_guid(a));
            let uri_aud = audiences.iter().find(|a| !crate::tenant::is_guid(a));
            let config_has_guid = config.audiences.iter().any(|a| crate::tenant::is_guid(a));
            let config_has_uri = config.audiences.iter().any(|a| !crate::tenant::is_guid(a));
            if let (Some(aud), false) = (guid_aud, config_has_guid) {
                hint(
                    "client_id_audience",
                    format!(
                        "aud is the client id {aud}, but audiences lists only App ID URIs ({configured}). v2.0 tokens always carry the \
                         API's client id (a GUID) as aud, even when the scope was requested as api://…: if {aud} is your API's client \
                         id, add it to audiences."
                    ),
                );
            } else if let (Some(aud), false) = (uri_aud, config_has_uri) {
                hint(
                    "app_id_uri_audience",
                    format!(
                        "aud is the App ID URI {aud}, but audiences lists only client ids ({configured}). v1.0 tokens carry the \
                         resource as the client requested it (the App ID URI): if {aud} is your API's App ID URI, add it to audiences."
                    ),
                );
            } else {
                hint(
                    "other_audience",
                    format!(
                        "aud is {}, audiences are {configured}: the token was requested for another API. Request it with a scope of \
                         this API.",
                        Self::list(&audiences)
                    ),
                );
            }
        }
        if failed == Some("token.access_token") {
            hint(
                "id_token",
                "This is an ID token (it proves a sign-in to the client app), not an access token: an API must never accept one. \
                 The client must request an access token for this API's scope (acquireTokenSilent with scopes [\"api://…/<scope>\"]) \
                 and send that one."
                    .into(),
            );
        }
        if reason == Some(Reason::TokenExpired) {
            if let Some(exp) = self.claim("exp").and_then(Value::as_i64) {
                hint(
                    "expired",
                    format!(
                        "The token expired {} ago (exp {exp}, now {}, clock skew allowance {} s). Entra access tokens live 60–90 \
                         minutes: the client must acquire a fresh one (MSAL's acquireTokenSilent does) rather than cache it.",
                        duration(self.now - exp),
                        self.now,
                        config.clock_skew_seconds
                    ),
                );
            }
        }
        if reason == Some(Reason::TokenNotYetValid) {
            if let Some(nbf) = self.claim("nbf").or(self.claim("iat")).and_then(Value::as_i64) {
                hint(
                    "not_yet_valid",
                    format!(
                        "The token becomes valid in {} (nbf/iat {nbf}, now {}): a clock is wrong, here or where the token was made \
                         (use --at to test another time).",
                        duration(nbf - self.now),
                        self.now
                    ),
                );
            }
        }
        if matches!(reason, Some(Reason::TenantNotAllowed) | Some(Reason::TenantNotPermitted)) {
            let tid = self.claim_str("tid").unwrap_or("");
            let personal = if tid == CONSUMER_TENANT {
                " This is the personal Microsoft account (consumer) tenant: the user signed in with an MSA, not a work account."
            } else {
                ""
            };
            let text = match &config.tenants {
                TenantPolicy::Listed(tenants) => format!(
                    "The token's tenant {tid} is not in the list ({}).{personal} A user or daemon from another organization (a \
                     multi-tenant client, or a guest signing in through their home tenant) gets a token of their own tenant: add \
                     the tenant id to tenants if it should be allowed.",
                    Self::list(&tenants.iter().map(TenantId::as_str).collect::<Vec<_>>())
                ),
                TenantPolicy::AnyOrganization { consumers, .. } => format!(
                    "Every organization is accepted (tenants = [\"*\"]), but not the token's tenant {tid}: {}",
                    if tid == CONSUMER_TENANT && !consumers {
                        "personal Microsoft accounts are refused unless the consumer tenant is named beside \"*\"."
                    } else {
                        "it is in denied_tenants (or, on this route, not in the route's tenants)."
                    }
                ),
            };
            hint("tenant_not_listed", text);
        }
        if reason == Some(Reason::InsufficientScope) && self.claim("scp").is_none() {
            hint(
                "missing_scp",
                "The token has no scp: it is an app-only (client credentials) token, whose permissions are app roles (roles), not \
                 scopes. Either call with a user's delegated token, or define an app role, grant it to the daemon, and require it \
                 on the route (roles, or scope_or_role = true)."
                    .into(),
            );
        } else if reason == Some(Reason::InsufficientScope) {
            hint("scope_not_granted", {
                let needed = refusal.and_then(|r| r.scope.as_deref()).unwrap_or("");
                let example = match (config.audiences.iter().find(|a| !crate::tenant::is_guid(a)), needed.split(' ').next()) {
                    (Some(uri), Some(scope)) if !scope.is_empty() => format!(" (as {uri}/{scope})"),
                    _ => String::new(),
                };
                format!(
                    "The token's scp is \"{}\". The client must request the route's scope {needed}{example} for this API, and \
                         the user or an admin must have consented to it.",
                    self.claim_str("scp").unwrap_or(""),
                )
            });
        }
        if reason == Some(Reason::IssuerMismatch) {
            let iss = self.claim_str("iss").unwrap_or("(none)");
            let form = if iss.starts_with("https://sts.windows.net/") {
                "the v1.0 form (https://sts.windows.net/{tid}/)"
            } else if iss.ends_with("/v2.0") {
                "the v2.0 form (https://login.microsoftonline.com/{tid}/v2.0)"
            } else {
                "neither Entra issuer form"
            };
            hint(
                "issuer_form",
                format!(
                    "iss is {iss}: {form}, while ver is {}. v1.0 tokens are issued by https://sts.windows.net/{{tid}}/, v2.0 tokens by \
                     https://login.microsoftonline.com/{{tid}}/v2.0, and the tenant in iss must be the token's tid. A mismatch means a \
                     token from another authority or cloud, or a forged one.",
                    ver.unwrap_or("absent")
                ),
            );
        }
        if reason == Some(Reason::SigningKeyUnknown) {
            hint(
                "unknown_kid",
                "The authority does not publish the token's kid. If the API uses claims mapping or its own signing key, set \
                 keys.app_id to its client id (keys are then read with ?appid=); otherwise the token comes from another \
                 authority or cloud."
                    .into(),
            );
        }
        if reason == Some(Reason::SignatureInvalid) && !audiences.iter().any(|a| is_graph_audience(a)) {
            hint(
                "signature",
                "The signature does not verify with the published key: the token was altered, or signed by someone else.".into(),
            );
        }
        if let Some(Reason::AuthContextRequired | Reason::InsufficientClaims) = reason {
            hint(
                "auth_context",
                "The route requires a Conditional Access authentication context (acrs). Clients that declare the cp1 capability \
                 (xms_cc) get a claims challenge they can answer; others get a plain 403."
                    .into(),
            );
        }
        hints
    }
}
