//! Gateway configuration: parsed once per isolate from the `ENTRA_EDGE` var (a TOML table
//! in `wrangler.toml`, delivered to the worker as JSON) into typed, validated settings.
//!
//! Every problem names its field (`ENTRA_EDGE.tenants[1]`), so an operator can fix it
//! without reading code. Any problem means the gateway refuses all traffic.

use serde::Deserialize;

mod assertion;
mod checks;
mod cors;
mod keys;
mod problems;
mod protected_resource;
mod rate_limit;
mod revocation;
mod routes;
mod security_headers;

pub use checks::is_header_name;
pub use problems::{ConfigError, Field, Problems, Segment};

use crate::assertion::AssertionSettings;
use crate::forward::IdentityHeaderPolicy;
use crate::route::RouteTable;
use crate::security_headers::SecurityHeaders;
use crate::tenant::{TenantId, TenantPolicy, CONSUMER_TENANT};
use crate::token_version::TokenVersion;
use routes::RawRoute;
use security_headers::RawSecurityHeaders;

/// The name of the var that holds the configuration.
pub const CONFIG_VAR: &str = "ENTRA_EDGE";

pub const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";

/// Microsoft Graph's resource URIs in every cloud (public, US Gov L4/L5, China) and its app id.
const GRAPH_AUDIENCES: [&str; 5] = [
    "https://graph.microsoft.com",
    "https://graph.microsoft.us",
    "https://dod-graph.microsoft.us",
    "https://microsoftgraph.chinacloudapi.cn",
    "00000003-0000-0000-c000-000000000000",
];

/// True for an audience that belongs to Microsoft Graph (with or without a trailing slash):
/// only Graph can validate its tokens, so an API must never accept one, and saying so helps
/// the caller who requested the wrong token (ENTRA.md "Keys").
pub fn is_graph_audience(audience: &str) -> bool {
    let audience = audience.trim_end_matches('/');
    GRAPH_AUDIENCES.iter().any(|graph| audience.eq_ignore_ascii_case(graph))
}

/// Where allowed requests are sent: scheme, host, optional port and optional path prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// `scheme://host[:port][/prefix]` with no trailing slash.
    base: String,
}

impl Origin {
    /// The request-target the origin receives for a request path and optional query
    /// (RFC 9112 §3.2.1 origin-form: the origin's path prefix, the path, `?query`): what
    /// the signed assertion binds (`target`). Equal to the path and query of
    /// [`url_for`](Self::url_for).
    pub fn request_target(&self, path: &str, query: Option<&str>) -> String {
        let url = self.url_for(path, query);
        // `base` is `scheme://host[:port][/prefix]`: the target starts at the first `/` after `://`.
        let authority_start = url.find("://").map_or(0, |i| i + 3);
        url[authority_start..].find('/').map_or_else(|| "/".to_string(), |i| url[authority_start + i..].to_string())
    }

    /// The origin URL for a request path (which starts with `/`) and optional query.
    pub fn url_for(&self, path: &str, query: Option<&str>) -> String {
        let mut url = String::with_capacity(self.base.len() + path.len() + 1);
        url.push_str(&self.base);
        url.push_str(path);
        if let Some(query) = query.filter(|q| !q.is_empty()) {
            url.push('?');
            url.push_str(query);
        }
        url
    }
}

/// Signing-key cache and fetch behaviour.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeySettings {
    /// Keys older than this are refreshed from the authority (background or on demand).
    pub refresh_after_seconds: u64,
    /// Keys older than this are no longer used, even when the authority is down.
    pub max_stale_seconds: u64,
    /// At most one refresh per tenant within this window when a token names an unknown `kid`.
    pub unknown_kid_cooldown_seconds: u64,
    /// Bound on each request to the authority.
    pub fetch_timeout_ms: u64,
    /// The API's client id when its tokens are signed with app-specific keys: every
    /// metadata and JWKS request then carries `?appid=`.
    pub app_id: Option<String>,
    /// `host[:port]`s besides the authority's own that may serve the `jwks_uri`.
    pub allowed_jwks_hosts: Vec<String>,
}

/// The documented defaults (README "Configuration").
impl Default for KeySettings {
    fn default() -> Self {
        KeySettings {
            refresh_after_seconds: 3600,
            max_stale_seconds: 86_400,
            unknown_kid_cooldown_seconds: 300,
            fetch_timeout_ms: 3000,
            app_id: None,
            allowed_jwks_hosts: Vec::new(),
        }
    }
}

/// How much the access log says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Access lines of every request, and key-cache events.
    Info,
    /// Only refused or failed requests (4xx, 5xx) and warnings.
    Warn,
    /// Only 5xx answers and errors.
    Error,
    Off,
}

/// How user identifiers (`oid`, `upn`) appear in logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UserIdForm {
    Omit,
    /// `sha256:` + 16 hex digits: correlatable, not readable.
    Hash,
    Plain,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogSettings {
    pub level: LogLevel,
    pub user_ids: UserIdForm,
}

/// The validated gateway configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub origin: Origin,
    /// Authority host without a trailing slash, e.g. `https://login.microsoftonline.com`.
    pub authority: String,
    /// Which tenants' tokens are accepted and where their keys are read.
    pub tenants: TenantPolicy,
    pub audiences: Vec<String>,
    pub token_versions: Vec<TokenVersion>,
    pub clock_skew_seconds: u64,
    pub realm: String,
    pub forward_authorization: bool,
    /// Client headers never forwarded because an origin could read them as identity.
    pub identity_headers: IdentityHeaderPolicy,
    /// App-only tokens must carry `idtyp = app` (not just the `oid == sub` evidence).
    pub require_idtyp_for_app_tokens: bool,
    pub keys: KeySettings,
    /// Verified tokens remembered per isolate (0 disables the cache).
    pub token_cache_size: usize,
    /// Path of the edge health endpoint (None: disabled).
    pub health_path: Option<String>,
    pub security_headers: SecurityHeaders,
    /// Bound on waiting for the origin's response headers (504 after it).
    pub origin_timeout_ms: u64,
    /// Show internal details (e.g. why the origin failed) in problem bodies. Never in production.
    pub debug: bool,
    pub log: LogSettings,
    pub routes: RouteTable,
    /// RFC 9728 protected-resource metadata (None: the feature is off).
    pub protected_resource: Option<crate::resource_metadata::ProtectedResource>,
    /// Every claim some route's claim rules name (what verification keeps of a token).
    pub claim_names: Vec<String>,
    /// The signed identity assertion to the origin (`[assertion]`; None: off).
    pub assertion: Option<AssertionSettings>,
    /// The emergency revocation list (`None`: off, nothing is read or checked).
    pub revocation: Option<crate::revocation::RevocationSettings>,
}

/// The rules a token is checked against (what `token.rs` and `verify.rs` need of the
/// configuration, and nothing else), as jwt-compact's `TimeOptions` is for time.
#[derive(Clone, Copy, Debug)]
pub struct TokenRules<'a> {
    pub tenants: &'a TenantPolicy,
    pub versions: &'a [TokenVersion],
    pub audiences: &'a [String],
    /// Leeway for `exp`, `nbf` and `iat`, seconds.
    pub clock_skew_seconds: u64,
    pub require_idtyp_for_app_tokens: bool,
    /// Claims to keep from a verified token for the routes' claim rules (empty: none).
    pub claim_names: &'a [String],
}

impl TokenRules<'_> {
    pub fn allows_tenant(&self, tenant: &TenantId) -> bool {
        self.tenants.allows(tenant)
    }

    pub fn accepts_version(&self, version: TokenVersion) -> bool {
        self.versions.contains(&version)
    }

    pub fn accepts_audience(&self, audience: &str) -> bool {
        self.audiences.iter().any(|a| a == audience)
    }
}

impl Config {
    /// The token rules of this configuration.
    pub fn token_rules(&self) -> TokenRules<'_> {
        TokenRules {
            tenants: &self.tenants,
            versions: &self.token_versions,
            audiences: &self.audiences,
            clock_skew_seconds: self.clock_skew_seconds,
            require_idtyp_for_app_tokens: self.require_idtyp_for_app_tokens,
            claim_names: &self.claim_names,
        }
    }

    /// Parses and validates the configuration from its JSON form, reporting **every**
    /// problem: a structural error (unknown field, wrong type) is recorded, the offending
    /// field is set aside, and parsing goes on, so one typo does not hide the rest; then
    /// every semantic check runs on what parsed.
    pub fn from_json(json: &str) -> Result<Config, Vec<ConfigError>> {
        let mut value: serde_json::Value =
            serde_json::from_str(json).map_err(|err| vec![ConfigError::new(&Field::root(), message_of(&err))])?;
        let mut errors = Vec::new();
        // Field names (`ENTRA_EDGE.origin`) of what was set aside.
        let mut set_aside: Vec<String> = Vec::new();
        // Each round removes one field, so the rounds are bounded by the document's size;
        // the cap keeps a pathological document cheap.
        for _ in 0..256 {
            match serde_path_to_error::deserialize::<_, RawConfig>(&value) {
                Ok(raw) => {
                    return match raw.validate() {
                        Ok(config) if errors.is_empty() => Ok(config),
                        Ok(_) => Err(errors),
                        Err(more) => {
                            errors.extend(more);
                            Err(errors)
                        }
                    };
                }
                Err(err) => {
                    let segments: Vec<_> = err.path().iter().cloned().collect();
                    let message = message_of(err.inner());
                    // A required field we set aside ourselves: already reported.
                    let at = path_field(&segments);
                    let field = at.to_string();
                    let follows_removal = message
                        .strip_prefix("missing field `")
                        .and_then(|rest| rest.split_once('`'))
                        .is_some_and(|(name, _)| set_aside.iter().any(|removed| *removed == format!("{field}.{name}")));
                    if follows_removal || !remove_field(&mut value, &segments) {
                        if !follows_removal {
                            errors.push(ConfigError::new(&at, message));
                        }
                        return Err(errors);
                    }
                    errors.push(ConfigError::new(&at, message));
                    set_aside.push(field);
                }
            }
        }
        Err(errors)
    }
}

/// serde_json appends the position in the JSON form, which the operator never sees.
fn message_of(err: &serde_json::Error) -> String {
    let message = err.to_string();
    message.rsplit_once(" at line ").map_or(message.as_str(), |(m, _)| m).to_string()
}

/// The field a deserialization error points at.
fn path_field(segments: &[serde_path_to_error::Segment]) -> Field {
    use serde_path_to_error::Segment;
    segments.iter().fold(Field::root(), |at, segment| match segment {
        Segment::Seq { index } => at.index(*index),
        Segment::Map { key } => at.key(key),
        Segment::Enum { variant } => at.key(variant),
        Segment::Unknown => at.key("?"),
    })
}

/// Removes the object member at `segments` (so parsing can go on without it). Only object
/// members are removed: taking an element out of an array would renumber the ones after
/// it, and every later problem would name the wrong index.
fn remove_field(value: &mut serde_json::Value, segments: &[serde_path_to_error::Segment]) -> bool {
    use serde_path_to_error::Segment;
    let Some((Segment::Map { key }, parents)) = segments.split_last() else { return false };
    let mut current = value;
    for segment in parents {
        current = match (segment, current) {
            (Segment::Map { key }, serde_json::Value::Object(map)) => match map.get_mut(key) {
                Some(next) => next,
                None => return false,
            },
            (Segment::Seq { index }, serde_json::Value::Array(items)) => match items.get_mut(*index) {
                Some(next) => next,
                None => return false,
            },
            _ => return false,
        };
    }
    match current {
        serde_json::Value::Object(map) => map.remove(key).is_some(),
        _ => false,
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    origin: String,
    #[serde(default = "default_authority")]
    authority: String,
    tenants: Vec<String>,
    #[serde(default)]
    denied_tenants: Vec<String>,
    audiences: Vec<String>,
    #[serde(default = "default_token_versions")]
    token_versions: Vec<String>,
    #[serde(default = "default_clock_skew")]
    clock_skew_seconds: u64,
    #[serde(default = "default_realm")]
    realm: String,
    #[serde(default)]
    forward_authorization: bool,
    #[serde(default)]
    extra_identity_headers: Vec<String>,
    #[serde(default)]
    require_idtyp_for_app_tokens: bool,
    #[serde(default)]
    keys: keys::RawKeySettings,
    #[serde(default = "default_token_cache_size")]
    token_cache_size: usize,
    #[serde(default = "default_health_path")]
    health_path: String,
    #[serde(default)]
    security_headers: RawSecurityHeaders,
    #[serde(default = "default_origin_timeout")]
    origin_timeout_ms: u64,
    #[serde(default)]
    debug: bool,
    #[serde(default = "default_log_level")]
    log_level: LogLevel,
    #[serde(default = "default_log_user_ids")]
    log_user_ids: UserIdForm,
    routes: Vec<RawRoute>,
    protected_resource: Option<protected_resource::RawProtectedResource>,
    #[serde(default)]
    assertion: Option<assertion::RawAssertion>,
    #[serde(default)]
    revocation: revocation::RawRevocation,
}

fn default_authority() -> String {
    DEFAULT_AUTHORITY.to_string()
}
fn default_token_versions() -> Vec<String> {
    vec!["1.0".into(), "2.0".into()]
}
fn default_clock_skew() -> u64 {
    300
}
fn default_origin_timeout() -> u64 {
    30_000
}
fn default_log_level() -> LogLevel {
    LogLevel::Info
}
fn default_log_user_ids() -> UserIdForm {
    UserIdForm::Hash
}
fn default_health_path() -> String {
    "/.well-known/entra-edge/health".to_string()
}
fn default_token_cache_size() -> usize {
    4096
}
/// The `realm` of challenges when none is configured (and while the configuration is invalid).
pub const DEFAULT_REALM: &str = "entra-edge";

fn default_realm() -> String {
    DEFAULT_REALM.to_string()
}

impl RawConfig {
    fn validate(self) -> Result<Config, Vec<ConfigError>> {
        let mut problems = Problems::default();

        let origin = match checks::parse_base_url(&self.origin, true) {
            Ok(base) => Some(Origin { base }),
            Err(message) => {
                problems.add(&Field::root().join("origin"), message);
                None
            }
        };
        let authority = match checks::parse_base_url(&self.authority, false) {
            Ok(base) => Some(base),
            Err(message) => {
                problems.add(&Field::root().join("authority"), message);
                None
            }
        };

        let tenants = tenant_policy(&self.tenants, &self.denied_tenants, &mut problems);

        if self.audiences.is_empty() {
            problems.add(&Field::root().join("audiences"), "must list at least one audience (the API's client id and/or App ID URI)");
        }
        for (i, audience) in self.audiences.iter().enumerate() {
            let at = Field::root().key("audiences").index(i);
            if audience.trim().is_empty() || audience.trim() != audience {
                problems.add(&at, "must be a non-empty string without surrounding spaces");
            } else if is_graph_audience(audience) {
                problems.add(&at, "Microsoft Graph tokens can only be validated by Graph; use your API's own client id or App ID URI");
            }
        }

        let mut token_versions = Vec::new();
        if self.token_versions.is_empty() {
            problems.add(&Field::root().join("token_versions"), "must list \"1.0\", \"2.0\" or both");
        }
        for (i, value) in self.token_versions.iter().enumerate() {
            match TokenVersion::parse(value) {
                Some(v) if !token_versions.contains(&v) => token_versions.push(v),
                Some(_) => problems.add(&Field::root().key("token_versions").index(i), "duplicate version"),
                None => problems
                    .add(&Field::root().key("token_versions").index(i), format!("{value:?} is not a token version (\"1.0\" or \"2.0\")")),
            }
        }

        if self.clock_skew_seconds > 900 {
            problems.add(&Field::root().join("clock_skew_seconds"), "must be at most 900 seconds");
        }
        if self.realm.is_empty() || !self.realm.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\') {
            problems.add(&Field::root().join("realm"), "must be non-empty printable ASCII without quotes or backslashes");
        }

        for (i, entry) in self.extra_identity_headers.iter().enumerate() {
            let at = Field::root().key("extra_identity_headers").index(i);
            let (name, prefix) = match entry.strip_suffix('*') {
                Some(name) => (name, true),
                None => (entry.as_str(), false),
            };
            let folded = crate::forward::fold_name(name);
            if name.is_empty() || !name.bytes().all(|b| checks::is_header_name_byte(b) && b != b'*') {
                problems.add(&at, format!("{entry:?} is not a header name, or a prefix ending in * (such as \"x-myapp-user-*\")"));
            } else if prefix && folded.trim_end_matches('-').len() < 3 {
                problems.add(&at, format!("{entry:?} is too broad: it would remove every such header; name your origin's own prefix (such as \"x-myapp-user-*\")"));
            } else if ["authorization", "host", "content-type", "content-length", "cookie", "x-request-id", "traceparent"]
                .iter()
                .any(|own| if prefix { own.starts_with(folded.as_str()) } else { *own == folded })
            {
                problems
                    .add(&at, format!("{entry:?} covers a header the gateway handles itself (Authorization: see forward_authorization)"));
            }
        }

        let keys = self.keys.build(&Field::root().key("keys"), &mut problems);
        let health_path = match self.health_path.as_str() {
            "" => None,
            path => match crate::path::normalize(path) {
                Ok(normalized) if normalized.as_str() == path && path != "/" => Some(path.to_string()),
                _ => {
                    problems.add(
                        &Field::root().join("health_path"),
                        "must be a normalized absolute path such as /.well-known/entra-edge/health, or \"\" to disable",
                    );
                    None
                }
            },
        };
        let security_headers = self.security_headers.build(&Field::root().key("security_headers"), &mut problems);
        if self.origin_timeout_ms == 0 || self.origin_timeout_ms > 300_000 {
            problems.add(&Field::root().join("origin_timeout_ms"), "must be between 1 and 300000");
        }
        if self.token_cache_size > 100_000 {
            problems.add(&Field::root().join("token_cache_size"), "must be at most 100000");
        }
        let routes = routes::build(self.routes, &tenants, &mut problems);
        let protected_resource = match (self.protected_resource, &authority) {
            (Some(raw), Some(authority)) => {
                protected_resource::build(raw, health_path.as_deref(), authority, &tenants, routes.as_ref(), &mut problems)
            }
            _ => None,
        };
        let assertion =
            self.assertion.map(|raw| raw.build(&Field::root().key("assertion"), &self.origin, health_path.as_deref(), &mut problems));
        if let (Some(settings), Some(resource)) = (&assertion, &protected_resource) {
            if settings.jwks_path.as_deref().is_some_and(|path| resource.serves(path)) {
                problems
                    .add(&Field::root().key("assertion").key("jwks_path"), "is a path of the protected-resource metadata; choose another");
            }
        }
        // A client-sent copy of the assertion header never reaches the origin, whatever its name.
        let mut extra_identity_headers = self.extra_identity_headers;
        if let Some(settings) = &assertion {
            extra_identity_headers.push(settings.header.clone());
        }
        let revocation = self.revocation.build(&Field::root().key("revocation"), &mut problems);

        match (problems.count() == 0, origin, authority, routes) {
            (true, Some(origin), Some(authority), Some(routes)) => Ok(Config {
                claim_names: routes.claim_names(),
                protected_resource,
                origin,
                authority,
                tenants,
                audiences: self.audiences,
                token_versions,
                clock_skew_seconds: self.clock_skew_seconds,
                realm: self.realm,
                forward_authorization: self.forward_authorization,
                identity_headers: IdentityHeaderPolicy::with_extra(&extra_identity_headers),
                require_idtyp_for_app_tokens: self.require_idtyp_for_app_tokens,
                keys,
                token_cache_size: self.token_cache_size,
                health_path,
                security_headers,
                origin_timeout_ms: self.origin_timeout_ms,
                debug: self.debug,
                log: LogSettings { level: self.log_level, user_ids: self.log_user_ids },
                routes,
                assertion,
                revocation,
            }),
            _ => Err(problems.into_vec()),
        }
    }
}

/// `tenants` (GUIDs, or `"*"` for every organization plus, optionally, the personal-account
/// tenant) and `denied_tenants` (only with `"*"`) into a [`TenantPolicy`].
fn tenant_policy(tenants: &[String], denied: &[String], problems: &mut Problems) -> TenantPolicy {
    let at = Field::root().key("tenants");
    if tenants.is_empty() {
        problems.add(&Field::root().join("tenants"), "must list at least one tenant id (or \"*\" for every organization)");
    }
    let denied_at = Field::root().key("denied_tenants");
    let Some(star) = tenants.iter().position(|t| t == "*") else {
        let mut listed: Vec<TenantId> = Vec::new();
        for (i, value) in tenants.iter().enumerate() {
            if ["common", "organizations", "consumers"].contains(&value.to_ascii_lowercase().as_str()) {
                problems.add(
                    &at.index(i),
                    format!("{value:?} is not a tenant id; to accept every organization write \"*\" (see README \"Any-tenant mode\")"),
                );
                continue;
            }
            match TenantId::parse(value) {
                Some(tid) if listed.contains(&tid) => problems.add(&at.index(i), format!("duplicate tenant id {value:?}")),
                Some(tid) => listed.push(tid),
                None => problems
                    .add(&at.index(i), format!("{value:?} is not a tenant id (a GUID such as 72f988bf-86f1-41af-91ab-2d7cd011db47)")),
            }
        }
        if !denied.is_empty() {
            problems.add(
                &Field::root().join("denied_tenants"),
                "applies only with tenants = [\"*\"]; a listed tenant is denied by leaving it out",
            );
        }
        return TenantPolicy::Listed(listed);
    };
    let mut consumers = false;
    for (i, value) in tenants.iter().enumerate() {
        if i == star {
            continue;
        }
        match TenantId::parse(value) {
            Some(tid) if tid.as_str() == CONSUMER_TENANT && !consumers => consumers = true,
            Some(tid) if tid.as_str() == CONSUMER_TENANT => problems.add(&at.index(i), format!("duplicate tenant id {value:?}")),
            _ if value == "*" => problems.add(&at.index(i), "duplicate \"*\""),
            _ => problems.add(
                &at.index(i),
                format!("{value:?}: with \"*\" (every organization) the only tenant that may be added is the personal-account tenant {CONSUMER_TENANT}; narrow routes with their own tenants list instead"),
            ),
        }
    }
    let denied = checks::guid_list(denied, &denied_at, "tenant id", problems);
    if consumers {
        if let Some(i) = denied.iter().position(|tid| tid.as_str() == CONSUMER_TENANT) {
            problems.add(
                &denied_at.index(i),
                "the personal-account tenant is both accepted (in tenants) and denied; remove it from one of them",
            );
        }
    }
    TenantPolicy::AnyOrganization { consumers, denied }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

    fn minimal() -> serde_json::Value {
        serde_json::json!({
            "origin": "https://api.example.com",
            "tenants": [TENANT],
            "audiences": ["api://orders"],
            "routes": [{ "path": "/**" }],
        })
    }

    fn parse(value: serde_json::Value) -> Result<Config, Vec<ConfigError>> {
        Config::from_json(&value.to_string())
    }

    fn first_error(value: serde_json::Value) -> ConfigError {
        parse(value).unwrap_err().remove(0)
    }

    #[test]
    fn a_non_ascii_host_name_is_refused_naming_the_field() {
        // No Unicode tables in the worker (idna_adapter 1.0): IDNs are given in their
        // ASCII (punycode) form, and a lookalike host cannot slip in.
        for host in ["https://bücher.example", "https://APİ.example.com", "https://аpple.com"] {
            let mut value = minimal();
            value["origin"] = serde_json::json!(host);
            let error = first_error(value);
            assert!(error.to_string().contains("origin"), "{error}");
        }
        let mut value = minimal();
        value["origin"] = serde_json::json!("https://xn--bcher-kva.example");
        assert_eq!(parse(value).unwrap().origin.url_for("/a", None), "https://xn--bcher-kva.example/a");
    }

    #[test]
    fn star_accepts_every_organization_but_not_personal_accounts() {
        let mut value = minimal();
        value["tenants"] = serde_json::json!(["*"]);
        value["denied_tenants"] = serde_json::json!(["5a8e2b71-0c4d-4f9e-a1b2-c3d4e5f60718"]);
        let config = parse(value).unwrap();
        let denied = TenantId::parse("5a8e2b71-0c4d-4f9e-a1b2-c3d4e5f60718").unwrap();
        assert_eq!(config.tenants, TenantPolicy::AnyOrganization { consumers: false, denied: vec![denied] });
    }

    #[test]
    fn star_with_the_personal_account_tenant_accepts_personal_accounts() {
        let mut value = minimal();
        value["tenants"] = serde_json::json!(["*", CONSUMER_TENANT]);
        assert_eq!(parse(value).unwrap().tenants, TenantPolicy::AnyOrganization { consumers: true, denied: vec![] });
    }

    #[test]
    fn star_with_another_tenant_is_an_error_naming_it() {
        let mut value = minimal();
        value["tenants"] = serde_json::json!(["*", TENANT]);
        assert_eq!(first_error(value).field, "ENTRA_EDGE.tenants[1]");
    }

    #[test]
    fn multi_tenant_directory_names_are_not_tenant_ids() {
        let mut value = minimal();
        value["tenants"] = serde_json::json!(["organizations"]);
        let err = first_error(value);
        assert_eq!(err.field, "ENTRA_EDGE.tenants[0]");
        assert!(err.message.contains("\"*\""), "{err}");
    }

    #[test]
    fn denied_tenants_need_star() {
        let mut value = minimal();
        value["denied_tenants"] = serde_json::json!([TENANT]);
        assert_eq!(first_error(value).field, "ENTRA_EDGE.denied_tenants");
    }

    fn with_resource(resource: serde_json::Value) -> serde_json::Value {
        let mut value = minimal();
        value["protected_resource"] = resource;
        value["routes"] = serde_json::json!([{ "path": "/**", "scopes": ["Orders.Read"] }]);
        value
    }

    #[test]
    fn protected_resource_metadata_is_off_by_default() {
        assert!(parse(minimal()).unwrap().protected_resource.is_none());
    }

    #[test]
    fn protected_resource_needs_a_resource_url() {
        let fields = |resource| parse(with_resource(resource)).unwrap_err().into_iter().map(|e| e.field).collect::<Vec<_>>();
        let missing = first_error(with_resource(serde_json::json!({ "app_id_uri": "api://orders" })));
        assert_eq!(missing.field, "ENTRA_EDGE.protected_resource");
        assert!(missing.message.contains("missing field `resource`"), "{missing}");
        for bad in ["api.contoso.com", "http://api.contoso.com", "https://api.contoso.com/?x=1", "https://api.contoso.com/#f"] {
            assert_eq!(
                fields(serde_json::json!({ "resource": bad, "app_id_uri": "api://orders" })),
                ["ENTRA_EDGE.protected_resource.resource"],
                "{bad}"
            );
        }
    }

    #[test]
    fn protected_resource_path_must_be_normalized() {
        for bad in
            ["https://api.contoso.com/%6Dcp", "https://api.contoso.com//m", "https://api.contoso.com/mcp/", "https://api.contoso.com/m;x"]
        {
            let err = first_error(with_resource(serde_json::json!({ "resource": bad, "app_id_uri": "api://orders" })));
            assert_eq!(err.field, "ENTRA_EDGE.protected_resource.resource", "{bad}");
        }
        assert!(parse(with_resource(serde_json::json!({ "resource": "https://api.contoso.com/", "app_id_uri": "api://orders" }))).is_ok());
    }

    #[test]
    fn protected_resource_metadata_cannot_share_the_health_path() {
        let mut value = with_resource(serde_json::json!({ "resource": "https://api.contoso.com", "app_id_uri": "api://orders" }));
        value["health_path"] = serde_json::json!("/.well-known/oauth-protected-resource");
        assert_eq!(first_error(value).field, "ENTRA_EDGE.protected_resource.resource");
    }

    #[test]
    fn the_personal_account_tenant_cannot_be_accepted_and_denied() {
        let mut value = minimal();
        value["tenants"] = serde_json::json!(["*", CONSUMER_TENANT]);
        value["denied_tenants"] = serde_json::json!([CONSUMER_TENANT.to_uppercase()]);
        assert_eq!(first_error(value).field, "ENTRA_EDGE.denied_tenants[0]");
    }

    #[test]
    fn a_repeated_personal_account_tenant_is_a_duplicate() {
        let mut value = minimal();
        value["tenants"] = serde_json::json!(["*", CONSUMER_TENANT, CONSUMER_TENANT.to_uppercase()]);
        let err = first_error(value);
        assert_eq!(err.field, "ENTRA_EDGE.tenants[2]");
        assert!(err.message.contains("duplicate"), "{err}");
    }

    #[test]
    fn protected_resource_needs_the_app_id_uri_when_routes_require_scopes() {
        let err = first_error(with_resource(serde_json::json!({ "resource": "https://api.contoso.com" })));
        assert_eq!(err.field, "ENTRA_EDGE.protected_resource.app_id_uri");
    }

    #[test]
    fn protected_resource_rejects_unknown_fields_and_bad_documentation() {
        let err = first_error(with_resource(
            serde_json::json!({ "resource": "https://api.contoso.com", "app_id_uri": "api://orders", "scopes": [] }),
        ));
        assert_eq!(err.field, "ENTRA_EDGE.protected_resource.scopes");
        let err = first_error(with_resource(
            serde_json::json!({ "resource": "https://api.contoso.com", "app_id_uri": "api://orders", "resource_documentation": "docs" }),
        ));
        assert_eq!(err.field, "ENTRA_EDGE.protected_resource.resource_documentation");
    }

    #[test]
    fn minimal_config_gets_documented_defaults() {
        let config = parse(minimal()).unwrap();
        assert_eq!(config.authority, "https://login.microsoftonline.com");
        assert_eq!(config.token_versions, vec![TokenVersion::V1, TokenVersion::V2]);
        assert_eq!(config.clock_skew_seconds, 300);
        assert_eq!(config.realm, "entra-edge");
        assert!(!config.forward_authorization);
        assert_eq!(config.keys.unknown_kid_cooldown_seconds, 300);
        assert_eq!(config.keys.max_stale_seconds, 86_400);
    }

    #[test]
    fn origin_keeps_path_prefix_and_appends_path_and_query() {
        let mut value = minimal();
        value["origin"] = "https://backend.example.com:8443/v1/".into();
        let config = parse(value).unwrap();
        assert_eq!(config.origin.url_for("/orders", Some("a=1")), "https://backend.example.com:8443/v1/orders?a=1");
        assert_eq!(config.origin.url_for("/", None), "https://backend.example.com:8443/v1/");
    }

    #[test]
    fn the_request_target_is_the_path_and_query_the_origin_receives() {
        let mut value = minimal();
        value["origin"] = "https://backend.example.com:8443/v1/".into();
        let config = parse(value).unwrap();
        assert_eq!(config.origin.request_target("/orders", Some("a=1&b=%20")), "/v1/orders?a=1&b=%20");
        assert_eq!(config.origin.request_target("/", None), "/v1/");
        assert_eq!(config.origin.request_target("/x", Some("")), "/v1/x");
        let plain = parse(minimal()).unwrap();
        assert_eq!(plain.origin.request_target("/", None), "/");
        assert_eq!(plain.origin.request_target("/api/orders", Some("q")), "/api/orders?q");
    }

    #[test]
    fn missing_required_field_is_named() {
        let mut value = minimal();
        value.as_object_mut().unwrap().remove("tenants");
        let err = first_error(value);
        assert_eq!(err.field, "ENTRA_EDGE");
        assert!(err.message.contains("tenants"), "{err}");
    }

    #[test]
    fn unknown_field_is_rejected() {
        let mut value = minimal();
        value["tenant"] = TENANT.into();
        assert!(first_error(value).message.contains("unknown field `tenant`"));
    }

    #[test]
    fn wrong_type_names_the_nested_field() {
        let mut value = minimal();
        value["keys"] = serde_json::json!({ "fetch_timeout_ms": "soon" });
        assert_eq!(first_error(value).field, "ENTRA_EDGE.keys.fetch_timeout_ms");
    }

    #[test]
    fn tenant_that_is_not_a_guid_is_named_by_index() {
        let mut value = minimal();
        value["tenants"] = serde_json::json!([TENANT, "contoso.onmicrosoft.com"]);
        assert_eq!(first_error(value).field, "ENTRA_EDGE.tenants[1]");
    }

    #[test]
    fn empty_tenant_and_audience_lists_are_rejected() {
        let mut value = minimal();
        value["tenants"] = serde_json::json!([]);
        value["audiences"] = serde_json::json!([]);
        let fields: Vec<_> = parse(value).unwrap_err().into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["ENTRA_EDGE.tenants", "ENTRA_EDGE.audiences"]);
    }

    #[test]
    fn graph_audience_is_rejected_with_an_explanation() {
        let mut value = minimal();
        value["audiences"] = serde_json::json!(["https://graph.microsoft.com"]);
        assert!(first_error(value).message.contains("Graph"));
        let mut value = minimal();
        value["audiences"] = serde_json::json!(["https://graph.microsoft.us/"]);
        assert!(first_error(value).message.contains("Graph"));
    }

    #[test]
    fn plain_http_is_only_for_loopback() {
        let mut value = minimal();
        value["authority"] = "http://login.example.com".into();
        assert_eq!(first_error(value).field, "ENTRA_EDGE.authority");
        let mut value = minimal();
        value["authority"] = "http://127.0.0.1:9000".into();
        value["origin"] = "http://localhost:9001".into();
        assert_eq!(parse(value).unwrap().authority, "http://127.0.0.1:9000");
    }

    #[test]
    fn authority_with_a_path_is_rejected() {
        let mut value = minimal();
        value["authority"] = "https://login.microsoftonline.com/common".into();
        assert_eq!(first_error(value).field, "ENTRA_EDGE.authority");
    }

    #[test]
    fn origin_with_query_or_credentials_is_rejected() {
        for bad in ["https://api.example.com/?x=1", "https://user:pw@api.example.com", "ftp://api.example.com", "api.example.com"] {
            let mut value = minimal();
            value["origin"] = bad.into();
            assert_eq!(first_error(value).field, "ENTRA_EDGE.origin", "{bad}");
        }
    }

    #[test]
    fn unknown_token_version_is_rejected() {
        let mut value = minimal();
        value["token_versions"] = serde_json::json!(["3.0"]);
        assert_eq!(first_error(value).field, "ENTRA_EDGE.token_versions[0]");
    }

    #[test]
    fn every_problem_is_reported_not_just_the_first() {
        let mut value = minimal();
        value["tenants"] = serde_json::json!(["x"]);
        value["clock_skew_seconds"] = 100_000.into();
        value["realm"] = "a\"b".into();
        assert_eq!(parse(value).unwrap_err().len(), 3);
    }

    #[test]
    fn extra_identity_headers_must_be_header_names_or_prefixes() {
        let mut value = minimal();
        value["extra_identity_headers"] = serde_json::json!(["x-myapp-user-*", "X_Acme_Role"]);
        let config = parse(value).unwrap();
        assert!(config.identity_headers.is_identity("x-myapp-user-tenant"));
        assert!(config.identity_headers.is_identity("x-acme-role"));
        for bad in ["", "*", "x user", "x-a:b", "x-*-y", "x-*", "x_*", "authorization", "Auth*", "HOST", "x-request-id"] {
            let mut value = minimal();
            value["extra_identity_headers"] = serde_json::json!(["x-ok", bad]);
            assert_eq!(first_error(value).field, "ENTRA_EDGE.extra_identity_headers[1]", "{bad:?}");
        }
    }

    #[test]
    fn app_id_must_be_a_guid() {
        let mut value = minimal();
        value["keys"] = serde_json::json!({ "app_id": "6E2F9A47-1B3C-4D5E-8F70-9A8B7C6D5E4F" });
        assert_eq!(parse(value).unwrap().keys.app_id.as_deref(), Some("6e2f9a47-1b3c-4d5e-8f70-9a8b7c6d5e4f"));
        let mut value = minimal();
        value["keys"] = serde_json::json!({ "app_id": "api://orders" });
        assert_eq!(first_error(value).field, "ENTRA_EDGE.keys.app_id");
    }

    #[test]
    fn allowed_jwks_hosts_must_be_hosts() {
        let mut value = minimal();
        value["keys"] = serde_json::json!({ "allowed_jwks_hosts": ["keys.example.com", "127.0.0.1:9000"] });
        assert!(parse(value).is_ok());
        for bad in ["https://keys.example.com", "keys.example.com/path", "user@keys.example.com", "", "*.example.com"] {
            let mut value = minimal();
            value["keys"] = serde_json::json!({ "allowed_jwks_hosts": [bad] });
            assert_eq!(first_error(value).field, "ENTRA_EDGE.keys.allowed_jwks_hosts[0]", "{bad:?}");
        }
    }

    #[test]
    fn an_unknown_field_does_not_hide_the_other_problems() {
        let mut value = minimal();
        value["tenant"] = TENANT.into();
        value["tenants"] = serde_json::json!(["contoso.onmicrosoft.com"]);
        value["origin"] = "http://api.example.com".into();
        let fields: Vec<_> = parse(value).unwrap_err().into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["ENTRA_EDGE.tenant", "ENTRA_EDGE.origin", "ENTRA_EDGE.tenants[0]"]);
    }

    #[test]
    fn structural_problems_in_nested_tables_are_all_reported() {
        let mut value = minimal();
        value["routes"] = serde_json::json!([{ "path": "/a/**", "scopez": ["x"] }, { "path": "/**", "methods": "GET" }]);
        value["keys"] = serde_json::json!({ "fetch_timeout_ms": "soon", "refresh": 1 });
        let fields: Vec<_> = parse(value).unwrap_err().into_iter().map(|e| e.field).collect();
        for expected in
            ["ENTRA_EDGE.routes[0].scopez", "ENTRA_EDGE.routes[1].methods", "ENTRA_EDGE.keys.fetch_timeout_ms", "ENTRA_EDGE.keys.refresh"]
        {
            assert!(fields.contains(&expected.to_string()), "{expected} in {fields:?}");
        }
    }

    #[test]
    fn a_required_field_of_the_wrong_type_is_reported_once() {
        let mut value = minimal();
        value["origin"] = 7.into();
        let errors = parse(value).unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].field, "ENTRA_EDGE.origin");
    }

    #[test]
    fn the_revocation_list_is_off_unless_enabled_and_defaults_to_ten_seconds_and_serve_last() {
        assert_eq!(parse(minimal()).unwrap().revocation, None);
        let mut value = minimal();
        value["revocation"] = serde_json::json!({ "refresh_seconds": 5 });
        assert_eq!(parse(value).unwrap().revocation, None);
        let mut value = minimal();
        value["revocation"] = serde_json::json!({ "enabled": true });
        let settings = parse(value).unwrap().revocation.unwrap();
        assert_eq!((settings.refresh_seconds, settings.on_error), (10, crate::revocation::OnError::ServeLast));
    }

    #[test]
    fn revocation_settings_are_validated_with_their_field_named() {
        let cases = [
            (serde_json::json!({ "enabled": true, "refresh_seconds": 0 }), "ENTRA_EDGE.revocation.refresh_seconds"),
            (serde_json::json!({ "enabled": true, "refresh_seconds": 301 }), "ENTRA_EDGE.revocation.refresh_seconds"),
            (serde_json::json!({ "enabled": true, "on_error": "open" }), "ENTRA_EDGE.revocation.on_error"),
            (serde_json::json!({ "enabled": true, "ttl": 5 }), "ENTRA_EDGE.revocation.ttl"),
            (serde_json::json!({ "enabled": "yes" }), "ENTRA_EDGE.revocation.enabled"),
        ];
        for (table, field) in cases {
            let mut value = minimal();
            value["revocation"] = table.clone();
            assert_eq!(first_error(value).field, field, "{table}");
        }
        let mut value = minimal();
        value["revocation"] = serde_json::json!({ "enabled": true, "refresh_seconds": 300, "on_error": "fail_closed" });
        assert_eq!(parse(value).unwrap().revocation.unwrap().on_error, crate::revocation::OnError::FailClosed);
    }

    #[test]
    fn malformed_json_is_an_error_not_a_panic() {
        assert!(Config::from_json("{").is_err());
        assert!(Config::from_json("[]").is_err());
        assert!(Config::from_json("null").is_err());
    }
}
