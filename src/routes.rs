//! The configured route table: `[[vars.ENTRA_EDGE.routes]]` entries parsed into typed
//! routes (pattern, methods, access rule, CORS), validated as a whole (unreachable
//! routes are errors), and looked up first-match-wins.

use serde::Deserialize;

use crate::config::ConfigError;
use crate::cors::{valid_origin, CorsPolicy, Origins};
use crate::path::NormalizedPath;
use crate::policy::{Access, KindRule, Match, Need, Requirements};
use crate::rate_limit::{FailureMode, KeyPart, RateLimit, Window};
use crate::route::{lookup, Lookup, MethodSet, PathPattern};
use crate::tenant::{is_guid, TenantId};

/// One configured route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// `name` from the config, or the path pattern.
    pub name: String,
    pub methods: MethodSet,
    pub pattern: PathPattern,
    pub access: Access,
    pub cors: Option<CorsPolicy>,
    pub rate_limit: Option<RateLimit>,
}

/// Routes in configuration order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteTable {
    routes: Vec<Route>,
}

/// A request's route, or why it has none.
#[derive(Debug, PartialEq, Eq)]
pub enum RouteLookup<'r, 'p> {
    Found { route: &'r Route, params: Vec<(&'r str, &'p str)> },
    MethodNotAllowed { allow: Vec<String> },
    NotFound,
}

impl RouteTable {
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// The first route matching `method` and `path`.
    pub fn lookup<'r, 'p>(&'r self, method: &str, path: &'p NormalizedPath) -> RouteLookup<'r, 'p> {
        match lookup(self.routes.iter().map(|r| (&r.methods, &r.pattern)), method, path) {
            Lookup::Found { index, params } => RouteLookup::Found { route: &self.routes[index], params },
            Lookup::MethodNotAllowed { allow } => RouteLookup::MethodNotAllowed { allow },
            Lookup::NotFound => RouteLookup::NotFound,
        }
    }
}

#[derive(Deserialize, Clone, Copy, Default)]
#[serde(rename_all = "lowercase")]
enum RawMatch {
    #[default]
    Any,
    All,
}

#[derive(Deserialize, Clone, Copy, Default)]
#[serde(rename_all = "lowercase")]
enum RawKind {
    #[default]
    Any,
    Delegated,
    App,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRoute {
    name: Option<String>,
    path: String,
    methods: Option<Vec<String>>,
    #[serde(default)]
    public: bool,
    scopes: Option<Vec<String>>,
    scopes_match: Option<RawMatch>,
    roles: Option<Vec<String>>,
    roles_match: Option<RawMatch>,
    #[serde(default)]
    scope_or_role: bool,
    token_kind: Option<RawKind>,
    clients: Option<Vec<String>>,
    tenants: Option<Vec<String>>,
    tenant_segment: Option<String>,
    auth_context: Option<String>,
    cors: Option<RawCors>,
    rate_limit: Option<RawRateLimit>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRateLimit {
    name: Option<String>,
    key: Vec<KeyPart>,
    windows: Vec<RawWindow>,
    failure_mode: Option<FailureMode>,
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCors {
    origins: Vec<String>,
    methods: Option<Vec<String>>,
    headers: Option<Vec<String>>,
    expose_headers: Option<Vec<String>>,
    #[serde(default = "default_max_age")]
    max_age_seconds: u64,
    #[serde(default)]
    credentials: bool,
}

fn default_max_age() -> u64 {
    600
}

/// Collects problems for one route under `ENTRA_EDGE.routes[i]`.
struct Problems<'e> {
    prefix: String,
    errors: &'e mut Vec<ConfigError>,
}

impl Problems<'_> {
    fn add(&mut self, field: &str, message: impl Into<String>) {
        let field = if field.is_empty() { self.prefix.clone() } else { format!("{}.{field}", self.prefix) };
        self.errors.push(ConfigError { field, message: message.into() });
    }
}

/// Parses and validates the route list. `tenants` is the global allow-list.
pub(crate) fn build(raw: Vec<RawRoute>, tenants: &[TenantId], errors: &mut Vec<ConfigError>) -> Option<RouteTable> {
    let before = errors.len();
    if raw.is_empty() {
        errors.push(ConfigError {
            field: "ENTRA_EDGE.routes".into(),
            message: "must declare at least one route; requests matching no route are denied (add path = \"/**\" for a default)".into(),
        });
    }
    let mut routes = Vec::new();
    for (i, raw_route) in raw.into_iter().enumerate() {
        let mut problems = Problems { prefix: format!("ENTRA_EDGE.routes[{i}]"), errors };
        if let Some(route) = build_route(raw_route, tenants, &mut problems) {
            routes.push((i, route));
        }
    }
    check_reachability(&routes, errors);
    check_shared_limits(&routes, errors);
    (errors.len() == before).then(|| RouteTable { routes: routes.into_iter().map(|(_, r)| r).collect() })
}

/// Routes sharing a rate-limit name share its buckets, so they must agree on it.
fn check_shared_limits(routes: &[(usize, Route)], errors: &mut Vec<ConfigError>) {
    for (j, (index, later)) in routes.iter().enumerate() {
        let Some(limit) = &later.rate_limit else { continue };
        let clash = routes[..j].iter().find_map(|(earlier_index, e)| {
            e.rate_limit
                .as_ref()
                .filter(|l| l.name == limit.name && (l.key != limit.key || l.windows != limit.windows))
                .map(|_| earlier_index)
        });
        if let Some(earlier_index) = clash {
            errors.push(ConfigError {
                field: format!("ENTRA_EDGE.routes[{index}].rate_limit"),
                message: format!("rate limit {:?} is also declared by routes[{earlier_index}] with another key or windows (a shared name means shared buckets)", limit.name),
            });
        }
    }
}

fn check_reachability(routes: &[(usize, Route)], errors: &mut Vec<ConfigError>) {
    for (j, (index, later)) in routes.iter().enumerate() {
        if let Some((earlier_index, earlier)) =
            routes[..j].iter().find(|(_, e)| e.methods.covers(&later.methods) && e.pattern.covers(&later.pattern))
        {
            errors.push(ConfigError {
                field: format!("ENTRA_EDGE.routes[{index}]"),
                message: format!(
                    "route {:?} can never match: routes[{earlier_index}] ({:?}) comes first and matches every request it would (first match wins; move the more specific route up)",
                    later.name, earlier.name
                ),
            });
        }
        if routes[..j].iter().any(|(_, e)| e.name == later.name) {
            errors.push(ConfigError {
                field: format!("ENTRA_EDGE.routes[{index}].name"),
                message: format!("duplicate route name {:?}", later.name),
            });
        }
    }
}

fn build_route(raw: RawRoute, tenants: &[TenantId], p: &mut Problems<'_>) -> Option<Route> {
    let before = p.errors.len();
    let pattern = PathPattern::parse(&raw.path).map_err(|e| p.add("path", e)).ok();
    let methods = MethodSet::parse(raw.methods.as_deref()).map_err(|e| p.add("methods", e)).ok();
    let name = raw.name.clone().unwrap_or_else(|| raw.path.clone());
    if name.is_empty() || name.len() > 100 || name.chars().any(char::is_control) {
        p.add("name", "must be 1-100 printable characters");
    }

    let has_requirement = raw.scopes.is_some()
        || raw.roles.is_some()
        || raw.scope_or_role
        || raw.token_kind.is_some()
        || raw.clients.is_some()
        || raw.tenants.is_some()
        || raw.tenant_segment.is_some()
        || raw.auth_context.is_some();
    if raw.public && has_requirement {
        p.add("public", "a public route cannot also have token requirements (scopes, roles, token_kind, clients, tenants, tenant_segment, auth_context)");
    }

    let scopes = need(raw.scopes, raw.scopes_match, "scopes", p);
    let roles = need(raw.roles, raw.roles_match, "roles", p);
    if raw.scope_or_role && (scopes.is_none() || roles.is_none()) {
        p.add("scope_or_role", "needs both scopes and roles");
    }
    let clients = raw.clients.inspect(|clients| {
        if clients.is_empty() {
            p.add("clients", "must not be empty (omit it to allow every client)");
        }
        for (i, c) in clients.iter().enumerate() {
            if !is_guid(c) {
                p.add(&format!("clients[{i}]"), format!("{c:?} is not a client (application) id GUID"));
            }
        }
    });
    let route_tenants = raw.tenants.map(|list| {
        if list.is_empty() {
            p.add("tenants", "must not be empty (omit it to allow every configured tenant)");
        }
        let mut parsed = Vec::new();
        for (i, value) in list.iter().enumerate() {
            match TenantId::parse(value) {
                Some(tid) if tenants.contains(&tid) => parsed.push(tid),
                Some(_) => p.add(
                    &format!("tenants[{i}]"),
                    format!("{value:?} is not in ENTRA_EDGE.tenants (a route can only narrow the global list)"),
                ),
                None => p.add(&format!("tenants[{i}]"), format!("{value:?} is not a tenant id GUID")),
            }
        }
        parsed
    });
    if let (Some(segment), Some(pattern)) = (&raw.tenant_segment, &pattern) {
        if !pattern.has_param(segment) {
            p.add("tenant_segment", format!("the path has no {{{segment}}} segment"));
        }
    }
    if let Some(context) = &raw.auth_context {
        let digits = context.strip_prefix('c').unwrap_or("");
        if !matches!(digits.parse::<u8>(), Ok(1..=99)) || digits.starts_with('0') {
            p.add("auth_context", format!("{context:?} is not an authentication context id (c1 … c99)"));
        }
    }
    let cors = raw.cors.and_then(|c| build_cors(c, methods.as_ref(), p));
    let rate_limit = raw.rate_limit.and_then(|r| build_rate_limit(r, &name, raw.public, p));

    if p.errors.len() != before {
        return None;
    }
    let access = if raw.public {
        Access::Public
    } else {
        Access::Authenticated(Requirements {
            scopes,
            roles,
            scope_or_role: raw.scope_or_role,
            token_kind: match raw.token_kind.unwrap_or_default() {
                RawKind::Any => KindRule::Any,
                RawKind::Delegated => KindRule::DelegatedOnly,
                RawKind::App => KindRule::AppOnly,
            },
            clients,
            tenants: route_tenants,
            tenant_segment: raw.tenant_segment,
            auth_context: raw.auth_context,
        })
    };
    Some(Route { name, methods: methods?, pattern: pattern?, access, cors, rate_limit })
}

fn build_rate_limit(raw: RawRateLimit, route_name: &str, public: bool, p: &mut Problems<'_>) -> Option<RateLimit> {
    let before = p.errors.len();
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
        if windows.iter().any(|x: &Window| x.period_seconds == w.period_seconds) {
            p.add(&format!("{at}.period_seconds"), "two windows with the same period");
        }
        windows.push(Window { requests: w.requests, period_seconds: w.period_seconds, burst });
    }
    (p.errors.len() == before).then(|| RateLimit {
        name,
        key: raw.key,
        windows,
        failure_mode: raw.failure_mode.unwrap_or(FailureMode::Open),
    })
}

fn need(values: Option<Vec<String>>, mode: Option<RawMatch>, field: &str, p: &mut Problems<'_>) -> Option<Need> {
    let Some(values) = values else {
        if mode.is_some() {
            p.add(&format!("{field}_match"), format!("is set but {field} is not"));
        }
        return None;
    };
    if values.is_empty() {
        p.add(field, "must not be empty (omit it when nothing is required)");
    }
    for (i, value) in values.iter().enumerate() {
        if value.is_empty() || value.contains(char::is_whitespace) {
            p.add(&format!("{field}[{i}]"), format!("{value:?} must be a single non-empty name without spaces"));
        }
    }
    let mode = match mode.unwrap_or_default() {
        RawMatch::Any => Match::Any,
        RawMatch::All => Match::All,
    };
    Some(Need { values, mode })
}

const DEFAULT_CORS_METHODS: [&str; 6] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"];

fn build_cors(raw: RawCors, route_methods: Option<&MethodSet>, p: &mut Problems<'_>) -> Option<CorsPolicy> {
    if raw.origins.is_empty() {
        p.add("cors.origins", "must list at least one origin");
    }
    for (i, origin) in raw.origins.iter().enumerate() {
        if !valid_origin(origin) {
            p.add(
                &format!("cors.origins[{i}]"),
                format!("{origin:?} is not an origin (scheme://host[:port], no path or trailing slash) or \"*\""),
            );
        }
    }
    let any = raw.origins.iter().any(|o| o == "*");
    if any && raw.origins.len() > 1 {
        p.add("cors.origins", "\"*\" cannot be combined with other origins");
    }
    if any && raw.credentials {
        p.add("cors.credentials", "cannot be true with origins = [\"*\"]");
    }
    if raw.max_age_seconds > 86_400 {
        p.add("cors.max_age_seconds", "must be at most 86400");
    }
    let methods = match (&raw.methods, route_methods) {
        (Some(methods), _) => match MethodSet::parse(Some(methods)) {
            Ok(MethodSet::Only(list)) => list,
            Ok(MethodSet::Any) => DEFAULT_CORS_METHODS.iter().map(|m| m.to_string()).collect(),
            Err(e) => {
                p.add("cors.methods", e);
                Vec::new()
            }
        },
        (None, Some(MethodSet::Only(list))) => list.clone(),
        (None, _) => DEFAULT_CORS_METHODS.iter().map(|m| m.to_string()).collect(),
    };
    let header_list = |values: Option<Vec<String>>, default: &[&str], field: &str, p: &mut Problems<'_>| -> Vec<String> {
        let values = values.unwrap_or_else(|| default.iter().map(|h| h.to_string()).collect());
        for (i, h) in values.iter().enumerate() {
            if h.is_empty() || !h.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_!#$%&'*+.^`|~".contains(&b)) {
                p.add(&format!("cors.{field}[{i}]"), format!("{h:?} is not a header name"));
            }
        }
        values.into_iter().map(|h| h.to_ascii_lowercase()).collect()
    };
    let headers = header_list(raw.headers, &["authorization", "content-type"], "headers", p);
    let expose_headers = header_list(raw.expose_headers, &["www-authenticate"], "expose_headers", p);
    let origins = if any { Origins::Any } else { Origins::List(raw.origins.iter().map(|o| o.to_ascii_lowercase()).collect()) };
    Some(CorsPolicy { origins, methods, headers, expose_headers, max_age_seconds: raw.max_age_seconds, credentials: raw.credentials })
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, ConfigError};
    use crate::path::normalize;
    use crate::policy::Access;
    use serde_json::{json, Value};

    const TENANT: &str = "3c6d1c5e-8f0a-4b8e-9d3c-2a1f6e7b9c41";

    fn parse(routes: Value) -> Result<Config, Vec<ConfigError>> {
        Config::from_json(
            &json!({ "origin": "https://api.example.com", "tenants": [TENANT], "audiences": ["api://x"], "routes": routes }).to_string(),
        )
    }

    fn problems(routes: Value) -> Vec<String> {
        parse(routes).unwrap_err().into_iter().map(|e| e.to_string()).collect()
    }

    fn fields(routes: Value) -> Vec<String> {
        parse(routes).unwrap_err().into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn a_realistic_route_table_parses() {
        let config = parse(json!([
            { "name": "health", "path": "/health", "methods": ["GET"], "public": true },
            { "name": "read", "path": "/api/orders/**", "methods": ["GET"], "scopes": ["Orders.Read"], "roles": ["Orders.Read.All"], "scope_or_role": true,
              "cors": { "origins": ["https://app.contoso.example"] } },
            { "name": "write", "path": "/api/orders/**", "methods": ["POST", "PUT"], "scopes": ["Orders.Write"], "token_kind": "delegated" },
            { "name": "admin", "path": "/api/admin/**", "roles": ["Admin"], "token_kind": "app", "clients": ["7d6c5b4a-3928-4170-b6e5-d4c3b2a19080"] },
            { "name": "tenant", "path": "/api/tenants/{tenant}/orders/**", "tenant_segment": "tenant", "tenants": [TENANT], "auth_context": "c1" }
        ]))
        .unwrap();
        assert_eq!(config.routes.routes().len(), 5);
        assert_eq!(config.routes.routes()[0].access, Access::Public);
        let cors = config.routes.routes()[1].cors.as_ref().unwrap();
        assert_eq!(cors.methods, ["GET", "HEAD"], "CORS methods default to the route's");
        assert_eq!(cors.headers, ["authorization", "content-type"]);
    }

    #[test]
    fn routes_are_required() {
        assert_eq!(fields(json!([])), ["ENTRA_EDGE.routes"]);
    }

    #[test]
    fn lookup_is_first_match() {
        let config = parse(json!([
            { "name": "one", "path": "/api/orders/{id}", "methods": ["GET"] },
            { "name": "all", "path": "/api/**" }
        ]))
        .unwrap();
        let path = normalize("/api/orders/7").unwrap();
        match config.routes.lookup("GET", &path) {
            super::RouteLookup::Found { route, params } => {
                assert_eq!(route.name, "one");
                assert_eq!(params, vec![("id", "7")]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bad_pattern_is_named() {
        assert_eq!(fields(json!([{ "path": "api/**" }])), ["ENTRA_EDGE.routes[0].path"]);
    }

    #[test]
    fn unknown_requirement_is_rejected() {
        let errors = problems(json!([{ "path": "/x", "scope": ["A"] }]));
        assert!(errors[0].contains("routes[0]") && errors[0].contains("unknown field `scope`"), "{errors:?}");
    }

    #[test]
    fn empty_scope_list_is_rejected() {
        assert_eq!(fields(json!([{ "path": "/x", "scopes": [] }])), ["ENTRA_EDGE.routes[0].scopes"]);
    }

    #[test]
    fn bad_match_mode_is_named() {
        let errors = problems(json!([{ "path": "/x", "scopes": ["A"], "scopes_match": "some" }]));
        assert!(errors[0].starts_with("ENTRA_EDGE.routes[0].scopes_match"), "{errors:?}");
    }

    #[test]
    fn shadowed_route_is_rejected() {
        let errors = problems(json!([{ "path": "/api/**" }, { "path": "/api/orders", "scopes": ["A"] }]));
        assert_eq!(errors.len(), 1);
        assert!(errors[0].starts_with("ENTRA_EDGE.routes[1]: ") && errors[0].contains("can never match"), "{errors:?}");
    }

    #[test]
    fn duplicate_route_is_rejected() {
        assert_eq!(
            fields(json!([{ "path": "/a", "methods": ["GET"] }, { "path": "/a", "methods": ["GET"] }])),
            ["ENTRA_EDGE.routes[1]", "ENTRA_EDGE.routes[1].name"]
        );
    }

    #[test]
    fn overlapping_but_reachable_routes_are_fine() {
        assert!(parse(json!([{ "path": "/api/orders", "methods": ["GET"] }, { "path": "/api/**" }])).is_ok());
        assert!(parse(json!([{ "path": "/api/**", "methods": ["GET"] }, { "path": "/api/orders" }])).is_ok());
    }

    #[test]
    fn tenant_that_is_not_a_guid_is_rejected() {
        assert_eq!(fields(json!([{ "path": "/x", "tenants": ["contoso"] }])), ["ENTRA_EDGE.routes[0].tenants[0]"]);
    }

    #[test]
    fn route_tenant_outside_the_global_list_is_rejected() {
        assert_eq!(
            fields(json!([{ "path": "/x", "tenants": ["5a8e2b71-0c4d-4f9e-a1b2-c3d4e5f60718"] }])),
            ["ENTRA_EDGE.routes[0].tenants[0]"]
        );
    }

    #[test]
    fn tenant_segment_must_exist_in_the_path() {
        assert_eq!(fields(json!([{ "path": "/t/{tid}", "tenant_segment": "tenant" }])), ["ENTRA_EDGE.routes[0].tenant_segment"]);
    }

    #[test]
    fn public_route_cannot_have_requirements() {
        assert_eq!(fields(json!([{ "path": "/x", "public": true, "scopes": ["A"] }])), ["ENTRA_EDGE.routes[0].public"]);
    }

    #[test]
    fn scope_or_role_needs_both_lists() {
        assert_eq!(fields(json!([{ "path": "/x", "scopes": ["A"], "scope_or_role": true }])), ["ENTRA_EDGE.routes[0].scope_or_role"]);
    }

    #[test]
    fn client_ids_must_be_guids() {
        assert_eq!(fields(json!([{ "path": "/x", "clients": ["my-spa"] }])), ["ENTRA_EDGE.routes[0].clients[0]"]);
    }

    #[test]
    fn auth_context_ids_are_checked() {
        assert!(parse(json!([{ "path": "/x", "auth_context": "c25" }])).is_ok());
        for bad in ["c0", "c100", "x1", "c01", ""] {
            assert_eq!(fields(json!([{ "path": "/x", "auth_context": bad }])), ["ENTRA_EDGE.routes[0].auth_context"], "{bad}");
        }
    }

    #[test]
    fn cors_origins_are_checked() {
        assert_eq!(
            fields(json!([{ "path": "/x", "cors": { "origins": ["https://app.example/"] } }])),
            ["ENTRA_EDGE.routes[0].cors.origins[0]"]
        );
        assert_eq!(
            fields(json!([{ "path": "/x", "cors": { "origins": ["*"], "credentials": true } }])),
            ["ENTRA_EDGE.routes[0].cors.credentials"]
        );
        assert_eq!(fields(json!([{ "path": "/x", "cors": { "origins": [] } }])), ["ENTRA_EDGE.routes[0].cors.origins"]);
    }

    #[test]
    fn rate_limits_parse_with_defaults() {
        let config = parse(json!([{ "name": "orders", "path": "/api/**", "rate_limit": {
            "key": ["tenant", "oid"], "windows": [{ "requests": 100, "period_seconds": 60, "burst": 20 }, { "requests": 10000, "period_seconds": 86400 }] } }]))
        .unwrap();
        let limit = config.routes.routes()[0].rate_limit.as_ref().unwrap();
        assert_eq!(limit.name, "orders");
        assert_eq!(limit.windows[1].burst, 10000, "burst defaults to requests");
        assert_eq!(limit.failure_mode, crate::rate_limit::FailureMode::Open);
    }

    #[test]
    fn rate_limit_name_defaults_to_a_cleaned_route_name() {
        let config = parse(
            json!([{ "path": "/api/orders/**", "rate_limit": { "key": ["oid"], "windows": [{ "requests": 1, "period_seconds": 1 }] } }]),
        )
        .unwrap();
        assert_eq!(config.routes.routes()[0].rate_limit.as_ref().unwrap().name, "api-orders");
    }

    #[test]
    fn public_routes_can_only_limit_by_ip() {
        assert_eq!(
            fields(
                json!([{ "path": "/h", "public": true, "rate_limit": { "key": ["oid"], "windows": [{ "requests": 1, "period_seconds": 1 }] } }])
            ),
            ["ENTRA_EDGE.routes[0].rate_limit.key[0]"]
        );
        assert!(parse(
            json!([{ "path": "/h", "public": true, "rate_limit": { "key": ["ip"], "windows": [{ "requests": 1, "period_seconds": 1 }] } }])
        )
        .is_ok());
    }

    #[test]
    fn bad_rate_limits_are_named() {
        let errors =
            fields(json!([{ "path": "/a", "rate_limit": { "key": [], "windows": [{ "requests": 0, "period_seconds": 0, "burst": 0 }] } }]));
        assert_eq!(
            errors,
            [
                "ENTRA_EDGE.routes[0].rate_limit.key",
                "ENTRA_EDGE.routes[0].rate_limit.windows[0].requests",
                "ENTRA_EDGE.routes[0].rate_limit.windows[0].period_seconds",
                "ENTRA_EDGE.routes[0].rate_limit.windows[0].burst"
            ]
        );
        let unknown = problems(json!([{ "path": "/a", "rate_limit": { "key": ["user"], "windows": [] } }]));
        assert!(unknown[0].starts_with("ENTRA_EDGE.routes[0].rate_limit.key[0]"), "{unknown:?}");
    }

    #[test]
    fn a_shared_limit_name_must_mean_the_same_limit() {
        let limit =
            |requests: u64| json!({ "name": "shared", "key": ["oid"], "windows": [{ "requests": requests, "period_seconds": 60 }] });
        assert!(parse(json!([{ "path": "/a", "rate_limit": limit(10) }, { "path": "/b", "rate_limit": limit(10) }])).is_ok());
        assert_eq!(
            fields(json!([{ "path": "/a", "rate_limit": limit(10) }, { "path": "/b", "rate_limit": limit(20) }])),
            ["ENTRA_EDGE.routes[1].rate_limit"]
        );
    }

    #[test]
    fn bad_methods_are_named() {
        assert_eq!(fields(json!([{ "path": "/x", "methods": ["get"] }])), ["ENTRA_EDGE.routes[0].methods"]);
    }
}
