//! `[[vars.ENTRA_EDGE.routes]]` entries parsed into typed routes (pattern, methods, access
//! rule, CORS, rate limit) and validated as a whole (unreachable routes are errors).

use serde::Deserialize;

use crate::claim_rules::{ClaimRule, RuleValue, RESERVED_CLAIMS};
use crate::policy::{Access, KindRule, Match, Need, Requirements};
use crate::route::{MethodSet, PathPattern, Route, RouteTable};
use crate::tenant::TenantPolicy;

use super::{checks, cors, rate_limit, Field, Problems};

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
pub struct RawRoute {
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
    claims: Option<Vec<RawClaimRule>>,
    cors: Option<cors::RawCors>,
    rate_limit: Option<rate_limit::RawRateLimit>,
}

/// One `claims` entry: `{ name = "groups", values = [...], match = "any" }`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClaimRule {
    name: String,
    values: Vec<serde_json::Value>,
    #[serde(rename = "match")]
    mode: Option<RawMatch>,
}

/// The problems of one route, under `ENTRA_EDGE.routes[i]`.
pub(super) struct RouteProblems<'p> {
    pub(super) at: Field,
    pub(super) problems: &'p mut Problems,
}

impl RouteProblems<'_> {
    /// `field` is relative to the route (`cors.origins[0]`), or "" for the route itself.
    pub(super) fn add(&mut self, field: &str, message: impl Into<String>) {
        let at = self.at.join(field);
        self.problems.add(&at, message);
    }

    pub(super) fn count(&self) -> usize {
        self.problems.count()
    }
}

/// Parses and validates the route list. `tenants` is the global allow-list.
pub fn build(raw: Vec<RawRoute>, tenants: &TenantPolicy, problems: &mut Problems) -> Option<RouteTable> {
    let before = problems.count();
    let at = Field::root().key("routes");
    if raw.is_empty() {
        problems.add(&at, "must declare at least one route; requests matching no route are denied (add path = \"/**\" for a default)");
    }
    let mut routes = Vec::new();
    for (i, raw_route) in raw.into_iter().enumerate() {
        let mut route_problems = RouteProblems { at: at.index(i), problems };
        if let Some(route) = build_route(raw_route, tenants, &mut route_problems) {
            routes.push((i, route));
        }
    }
    check_reachability(&routes, &at, problems);
    check_shared_limits(&routes, &at, problems);
    (problems.count() == before).then(|| RouteTable::new(routes.into_iter().map(|(_, r)| r).collect()))
}

/// Routes sharing a rate-limit name share its buckets, so they must agree on it.
fn check_shared_limits(routes: &[(usize, Route)], at: &Field, problems: &mut Problems) {
    for (j, (index, later)) in routes.iter().enumerate() {
        let Some(limit) = &later.rate_limit else { continue };
        let clash = routes[..j].iter().find_map(|(earlier_index, e)| {
            e.rate_limit
                .as_ref()
                .filter(|l| l.name == limit.name && (l.key != limit.key || l.windows != limit.windows))
                .map(|_| earlier_index)
        });
        if let Some(earlier_index) = clash {
            problems.add(
                &at.index(*index).key("rate_limit"),
                format!("rate limit {:?} is also declared by routes[{earlier_index}] with another key or windows (a shared name means shared buckets)", limit.name),
            );
        }
    }
}

fn check_reachability(routes: &[(usize, Route)], at: &Field, problems: &mut Problems) {
    for (j, (index, later)) in routes.iter().enumerate() {
        if let Some((earlier_index, earlier)) =
            routes[..j].iter().find(|(_, e)| e.methods.covers(&later.methods) && e.pattern.covers(&later.pattern))
        {
            problems.add(
                &at.index(*index),
                format!(
                    "route {:?} can never match: routes[{earlier_index}] ({:?}) comes first and matches every request it would (first match wins; move the more specific route up)",
                    later.name, earlier.name
                ),
            );
        }
        if routes[..j].iter().any(|(_, e)| e.name == later.name) {
            problems.add(&at.index(*index).key("name"), format!("duplicate route name {:?}", later.name));
        }
    }
}

fn build_route(raw: RawRoute, tenants: &TenantPolicy, p: &mut RouteProblems<'_>) -> Option<Route> {
    let before = p.count();
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
        || raw.auth_context.is_some()
        || raw.claims.is_some();
    if raw.public && has_requirement {
        p.add("public", "a public route cannot also have token requirements (scopes, roles, token_kind, clients, tenants, tenant_segment, auth_context, claims)");
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
        let at = p.at.key("clients");
        checks::guid_list(clients, &at, "client (application) id", p.problems);
    });
    let route_tenants = raw.tenants.map(|list| {
        if list.is_empty() {
            p.add("tenants", "must not be empty (omit it to allow every configured tenant)");
        }
        let at = p.at.key("tenants");
        let parsed = checks::guid_list(&list, &at, "tenant id", p.problems);
        for (i, tid) in parsed.iter().enumerate() {
            if !tenants.allows(tid) {
                p.add(
                    &format!("tenants[{i}]"),
                    format!(
                        "{:?} is not accepted by ENTRA_EDGE.tenants / denied_tenants (a route can only narrow the global list)",
                        tid.as_str()
                    ),
                );
            }
        }
        parsed.into_iter().filter(|tid| tenants.allows(tid)).collect()
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
    let claims = raw.claims.map(|rules| claim_rules(rules, p)).unwrap_or_default();
    let cors = raw.cors.and_then(|c| cors::build(c, methods.as_ref(), p));
    let rate_limit = raw.rate_limit.and_then(|r| rate_limit::build(r, &name, raw.public, p));

    if p.count() != before {
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
            claims,
        })
    };
    Some(Route { name, methods: methods?, pattern: pattern?, access, cors, rate_limit })
}

fn claim_rules(raw: Vec<RawClaimRule>, p: &mut RouteProblems<'_>) -> Vec<ClaimRule> {
    if raw.is_empty() {
        p.add("claims", "must not be empty (omit it when no claim is required)");
    }
    let mut rules: Vec<ClaimRule> = Vec::new();
    for (i, rule) in raw.into_iter().enumerate() {
        let at = format!("claims[{i}]");
        let name = rule.name;
        if name.is_empty() || name.len() > 200 || name.chars().any(|c| c.is_whitespace() || c.is_control() || c == '"' || c == '\\') {
            p.add(&format!("{at}.name"), format!("{name:?} must be a claim name without spaces"));
        } else if let Some((_, instead)) = RESERVED_CLAIMS.iter().find(|(reserved, _)| *reserved == name) {
            p.add(&format!("{at}.name"), format!("{name:?} is checked by the gateway itself; use {instead}"));
        } else if rules.iter().any(|r| r.name == name) {
            p.add(
                &format!("{at}.name"),
                format!(
                    "{name:?} has another rule on this route; put its values in one rule (with match = \"all\" if every one is needed)"
                ),
            );
        }
        if rule.values.is_empty() {
            p.add(&format!("{at}.values"), "must list at least one value");
        }
        let mut values = Vec::new();
        for (j, value) in rule.values.iter().enumerate() {
            match RuleValue::from_json(value) {
                Some(v) if values.first().is_some_and(|first: &RuleValue| first.type_name() != v.type_name()) => p.add(
                    &format!("{at}.values[{j}]"),
                    format!(
                        "is a {} but values[0] is a {}: a claim has one type, so one rule compares one type",
                        v.type_name(),
                        values[0].type_name()
                    ),
                ),
                Some(v) => values.push(v),
                None => p.add(&format!("{at}.values[{j}]"), "must be a string, a boolean or a number"),
            }
        }
        let mode = match rule.mode.unwrap_or_default() {
            RawMatch::Any => Match::Any,
            RawMatch::All => Match::All,
        };
        rules.push(ClaimRule { name, values, mode });
    }
    rules
}

fn need(values: Option<Vec<String>>, mode: Option<RawMatch>, field: &str, p: &mut RouteProblems<'_>) -> Option<Need> {
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
        } else if value.contains("://") {
            p.add(
                &format!("{field}[{i}]"),
                format!("{value:?} is a URI; tokens carry short names (Orders.Read, not api://orders/Orders.Read), and that is what {field} is compared with"),
            );
        }
    }
    let mode = match mode.unwrap_or_default() {
        RawMatch::Any => Match::Any,
        RawMatch::All => Match::All,
    };
    Some(Need { values, mode })
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
            crate::route::RouteLookup::Found { route, params } => {
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
        assert_eq!(limit.timeout_ms, crate::rate_limit::DEFAULT_LIMITER_TIMEOUT_MS);
    }

    #[test]
    fn a_rate_limit_timeout_is_bounded() {
        let limit = |timeout: u64| json!([{ "path": "/x", "rate_limit": { "key": ["oid"], "windows": [{ "requests": 1, "period_seconds": 1 }], "timeout_ms": timeout } }]);
        assert_eq!(fields(limit(0)), ["ENTRA_EDGE.routes[0].rate_limit.timeout_ms"]);
        assert_eq!(fields(limit(30_001)), ["ENTRA_EDGE.routes[0].rate_limit.timeout_ms"]);
        assert_eq!(parse(limit(250)).unwrap().routes.routes()[0].rate_limit.as_ref().unwrap().timeout_ms, 250);
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
    fn a_burst_that_takes_over_ten_years_to_refill_is_refused() {
        // One a month with a burst of a million: 2.5 million years to earn the burst back.
        let window = |burst: u64| {
            json!([{ "path": "/a", "rate_limit": { "key": ["oid"],
            "windows": [{ "requests": 1, "period_seconds": 2_678_400, "burst": burst }] } }])
        };
        assert_eq!(fields(window(1_000_000)), ["ENTRA_EDGE.routes[0].rate_limit.windows[0].burst"]);
        assert!(parse(window(100)).is_ok(), "100 months refill within ten years");
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

    #[test]
    fn claim_rules_parse_and_their_names_are_kept_for_verification() {
        let config = parse(json!([
            { "path": "/admin/**", "claims": [{ "name": "groups", "values": ["g1", "g2"], "match": "all" }, { "name": "tier", "values": [2] }] },
            { "path": "/**", "claims": [{ "name": "groups", "values": ["g3"] }] }
        ]))
        .unwrap();
        assert_eq!(config.claim_names, ["groups", "tier"]);
        assert_eq!(config.token_rules().claim_names, ["groups", "tier"]);
    }

    #[test]
    fn without_claim_rules_no_claim_is_kept() {
        assert!(parse(json!([{ "path": "/**" }])).unwrap().claim_names.is_empty());
    }

    #[test]
    fn bad_claim_rules_are_named() {
        assert_eq!(fields(json!([{ "path": "/x", "claims": [] }])), ["ENTRA_EDGE.routes[0].claims"]);
        assert_eq!(
            fields(json!([{ "path": "/x", "claims": [{ "name": "groups", "values": [] }] }])),
            ["ENTRA_EDGE.routes[0].claims[0].values"]
        );
        assert_eq!(
            fields(json!([{ "path": "/x", "claims": [{ "name": "groups", "values": ["a", ["b"]] }] }])),
            ["ENTRA_EDGE.routes[0].claims[0].values[1]"]
        );
        assert_eq!(
            fields(json!([{ "path": "/x", "claims": [{ "name": "tier", "values": [1, "1"] }] }])),
            ["ENTRA_EDGE.routes[0].claims[0].values[1]"]
        );
        assert_eq!(
            fields(json!([{ "path": "/x", "claims": [{ "name": "a b", "values": ["x"] }] }])),
            ["ENTRA_EDGE.routes[0].claims[0].name"]
        );
        assert_eq!(
            fields(json!([{ "path": "/x", "claims": [{ "name": "g", "values": ["x"] }, { "name": "g", "values": ["y"] }] }])),
            ["ENTRA_EDGE.routes[0].claims[1].name"]
        );
        assert_eq!(fields(json!([{ "path": "/x", "claims": [{ "name": "g", "values": ["x"], "mode": "any" }] }])).len(), 1);
    }

    #[test]
    fn fully_qualified_scopes_are_refused_with_the_short_name_hint() {
        let problems = problems(json!([{ "path": "/x", "scopes": ["api://orders/Orders.Read"] }]));
        assert!(problems[0].starts_with("ENTRA_EDGE.routes[0].scopes[0]") && problems[0].contains("short names"), "{problems:?}");
    }

    #[test]
    fn claim_names_with_quotes_or_backslashes_are_refused() {
        for name in ["a\"b", "a\\b"] {
            assert_eq!(
                fields(json!([{ "path": "/x", "claims": [{ "name": name, "values": ["x"] }] }])),
                ["ENTRA_EDGE.routes[0].claims[0].name"]
            );
        }
    }

    #[test]
    fn claims_the_gateway_checks_itself_cannot_have_rules() {
        for name in
            ["aud", "iss", "tid", "exp", "scp", "roles", "azp", "appid", "acrs", "_claim_names", "ver", "idtyp", "nonce", "hasgroups"]
        {
            let problems = problems(json!([{ "path": "/x", "claims": [{ "name": name, "values": ["x"] }] }]));
            assert!(problems[0].contains("ENTRA_EDGE.routes[0].claims[0].name") && problems[0].contains("use "), "{problems:?}");
        }
    }

    #[test]
    fn a_public_route_cannot_have_claim_rules() {
        assert_eq!(
            fields(json!([{ "path": "/x", "public": true, "claims": [{ "name": "g", "values": ["x"] }] }])),
            ["ENTRA_EDGE.routes[0].public"]
        );
    }
}
