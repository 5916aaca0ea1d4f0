//! Routes at run time: the route table (built and validated by `config::routes`), method
//! sets and path patterns, first match wins.
//!
//! Patterns: `/health` (exact), `/api/orders/**` (the prefix itself and everything
//! below it), `/api/tenants/{tenant}/orders` (a named segment matches exactly one
//! segment). Literal segments compare ASCII case-insensitively, so a case-insensitive
//! origin (ASP.NET, IIS) cannot be reached around a rule by changing case, and with the
//! path segment percent-decoded, so an origin that decodes before routing cannot be
//! reached around a rule on `/files/a b` through `/files/a%20b`.

use crate::cors::CorsPolicy;
use crate::path::NormalizedPath;
use crate::policy::Access;
use crate::rate_limit::RateLimit;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param(String),
}

/// A parsed path pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathPattern {
    source: String,
    segments: Vec<Segment>,
    /// Ends in `/**`.
    prefix: bool,
}

impl PathPattern {
    pub fn parse(source: &str) -> Result<PathPattern, String> {
        if !source.starts_with('/') {
            return Err(format!("{source:?} must start with /"));
        }
        let mut parts: Vec<&str> = source.split('/').skip(1).collect();
        if parts.last() == Some(&"") && parts.len() > 1 {
            return Err(format!("{source:?} must not end with / (trailing slashes are normalized away)"));
        }
        if parts == [""] {
            parts.clear();
        }
        let prefix = parts.last() == Some(&"**");
        if prefix {
            parts.pop();
        }
        let mut segments = Vec::new();
        for part in parts {
            if part.is_empty() {
                return Err(format!("{source:?} has an empty segment (//)"));
            }
            if part == "**" {
                return Err(format!("{source:?}: ** is only allowed as the last segment"));
            }
            if let Some(name) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                    return Err(format!("{source:?}: segment name {{{name}}} must be letters, digits or _"));
                }
                if segments.iter().any(|s| matches!(s, Segment::Param(n) if n == name)) {
                    return Err(format!("{source:?}: segment name {{{name}}} is used twice"));
                }
                segments.push(Segment::Param(name.to_string()));
            } else if part.contains(['{', '}', '*', '?', '#', ';', '%', '\\']) || part == "." || part == ".." {
                return Err(format!("{source:?}: segment {part:?} is not a literal, {{name}} or a final **"));
            } else {
                segments.push(Segment::Literal(part.to_ascii_lowercase()));
            }
        }
        Ok(PathPattern { source: source.to_string(), segments, prefix })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn has_param(&self, name: &str) -> bool {
        self.segments.iter().any(|s| matches!(s, Segment::Param(n) if n == name))
    }

    /// Named segment values when `path` matches.
    pub fn matches<'p>(&self, path: &'p NormalizedPath) -> Option<Vec<(&str, &'p str)>> {
        let segments: Vec<&str> = path.segments().collect();
        if segments.len() < self.segments.len() || (!self.prefix && segments.len() != self.segments.len()) {
            return None;
        }
        let mut params = Vec::new();
        for (pattern, actual) in self.segments.iter().zip(&segments) {
            match pattern {
                Segment::Literal(literal) if literal_matches(literal, actual) => {}
                Segment::Literal(_) => return None,
                Segment::Param(name) => params.push((name.as_str(), *actual)),
            }
        }
        Some(params)
    }

    /// True when every path `other` matches is also matched by `self`.
    pub fn covers(&self, other: &PathPattern) -> bool {
        if self.segments.len() > other.segments.len() {
            return false;
        }
        if !self.prefix && (other.prefix || other.segments.len() != self.segments.len()) {
            return false;
        }
        self.segments.iter().zip(&other.segments).all(|(mine, theirs)| match (mine, theirs) {
            (Segment::Param(_), _) => true,
            (Segment::Literal(a), Segment::Literal(b)) => a == b,
            (Segment::Literal(_), Segment::Param(_)) => false,
        })
    }
}

/// Whether a literal pattern segment matches a normalized path segment, as an origin that
/// percent-decodes the path before routing reads it: the normalized path keeps characters
/// other than the unreserved ones percent-encoded (`a%20b`, `caf%C3%A9`), so the segment is
/// compared decoded (ASCII case-insensitively), and a rule on `/files/a b` also guards
/// `/files/a%20b`. Literals cannot contain `%` (see [`PathPattern::parse`]).
fn literal_matches(literal: &str, segment: &str) -> bool {
    let (literal, segment) = (literal.as_bytes(), segment.as_bytes());
    let hex = |b: Option<&u8>| b.and_then(|b| (*b as char).to_digit(16));
    let (mut i, mut j) = (0, 0);
    while j < segment.len() {
        let (byte, width) = match (segment[j], hex(segment.get(j + 1)), hex(segment.get(j + 2))) {
            (b'%', Some(hi), Some(lo)) => ((hi * 16 + lo) as u8, 3),
            (b, _, _) => (b, 1),
        };
        if literal.get(i).is_none_or(|l| !l.eq_ignore_ascii_case(&byte)) {
            return false;
        }
        i += 1;
        j += width;
    }
    i == literal.len()
}

const KNOWN_METHODS: [&str; 9] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"];

/// Methods a route without a `methods` list (or with `["*"]`) does not take: `TRACE` and
/// `TRACK` echo the request (with the identity headers and `ORIGIN_SECRET` the gateway adds)
/// back to the caller, `CONNECT` opens a tunnel. A route must name `TRACE` or `CONNECT` to
/// allow them (`TRACK` is not a method a route can list; workerd answers it with 501).
pub const UNLISTED_ONLY_METHODS: [&str; 3] = ["TRACE", "TRACK", "CONNECT"];

/// The methods a route applies to. `GET` includes `HEAD`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MethodSet {
    Any,
    Only(Vec<String>),
}

impl MethodSet {
    pub fn parse(methods: Option<&[String]>) -> Result<MethodSet, String> {
        let Some(methods) = methods else { return Ok(MethodSet::Any) };
        if methods.is_empty() {
            return Err("must list at least one method (omit it for all methods)".into());
        }
        if methods.iter().any(|m| m == "*") {
            return if methods.len() == 1 { Ok(MethodSet::Any) } else { Err("\"*\" cannot be combined with other methods".into()) };
        }
        let mut list = Vec::new();
        for method in methods {
            if !KNOWN_METHODS.contains(&method.as_str()) {
                return Err(format!("{method:?} is not an HTTP method (use upper case: GET, POST, …)"));
            }
            if !list.contains(method) {
                list.push(method.clone());
            }
            if method == "GET" && !list.iter().any(|m| m == "HEAD") {
                list.push("HEAD".into());
            }
        }
        Ok(MethodSet::Only(list))
    }

    pub fn contains(&self, method: &str) -> bool {
        match self {
            MethodSet::Any => !UNLISTED_ONLY_METHODS.iter().any(|m| m.eq_ignore_ascii_case(method)),
            MethodSet::Only(list) => list.iter().any(|m| m == method),
        }
    }

    pub fn covers(&self, other: &MethodSet) -> bool {
        match (self, other) {
            (MethodSet::Any, MethodSet::Any) => true,
            (MethodSet::Any, MethodSet::Only(theirs)) => theirs.iter().all(|m| self.contains(m)),
            (MethodSet::Only(_), MethodSet::Any) => false,
            (MethodSet::Only(mine), MethodSet::Only(theirs)) => theirs.iter().all(|m| mine.contains(m)),
        }
    }

    pub fn names(&self) -> Vec<&str> {
        match self {
            MethodSet::Any => KNOWN_METHODS.iter().copied().filter(|m| !UNLISTED_ONLY_METHODS.contains(m)).collect(),
            MethodSet::Only(list) => list.iter().map(String::as_str).collect(),
        }
    }
}

/// The result of looking a request up in a route list.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup<'r, 'p> {
    /// The first route matching method and path, with its named segment values.
    Found {
        index: usize,
        params: Vec<(&'r str, &'p str)>,
    },
    /// Some route matches the path, none the method: these methods would be allowed.
    MethodNotAllowed {
        allow: Vec<String>,
    },
    NotFound,
}

/// Finds the first of `routes` (method set, pattern) matching the request.
pub fn lookup<'r, 'p>(
    routes: impl Iterator<Item = (&'r MethodSet, &'r PathPattern)>,
    method: &str,
    path: &'p NormalizedPath,
) -> Lookup<'r, 'p> {
    let mut allow: Vec<String> = Vec::new();
    for (index, (methods, pattern)) in routes.enumerate() {
        if let Some(params) = pattern.matches(path) {
            if methods.contains(method) {
                return Lookup::Found { index, params };
            }
            for name in methods.names() {
                if !allow.iter().any(|a| a == name) {
                    allow.push(name.to_string());
                }
            }
        }
    }
    if allow.is_empty() {
        Lookup::NotFound
    } else {
        Lookup::MethodNotAllowed { allow }
    }
}

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
    /// The table of already validated routes (built by the configuration).
    pub fn new(routes: Vec<Route>) -> RouteTable {
        RouteTable { routes }
    }

    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// Every claim named by some route's claim rules, each once, in route order.
    pub fn claim_names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for route in &self.routes {
            if let crate::policy::Access::Authenticated(requirements) = &route.access {
                for rule in &requirements.claims {
                    if !names.contains(&rule.name) {
                        names.push(rule.name.clone());
                    }
                }
            }
        }
        names
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::path::normalize;

    fn pattern(s: &str) -> PathPattern {
        PathPattern::parse(s).unwrap()
    }

    fn path(s: &str) -> NormalizedPath {
        normalize(s).unwrap()
    }

    #[test]
    fn exact_pattern_matches_only_that_path() {
        let p = pattern("/health");
        assert!(p.matches(&path("/health")).is_some());
        assert!(p.matches(&path("/health/")).is_some(), "trailing slash is normalized away");
        assert!(p.matches(&path("/health/deep")).is_none());
        assert!(p.matches(&path("/healthz")).is_none());
    }

    #[test]
    fn prefix_pattern_matches_itself_and_below() {
        let p = pattern("/api/orders/**");
        assert!(p.matches(&path("/api/orders")).is_some());
        assert!(p.matches(&path("/api/orders/42/lines")).is_some());
        assert!(p.matches(&path("/api/ordersX")).is_none());
        assert!(p.matches(&path("/api")).is_none());
    }

    #[test]
    fn root_patterns() {
        assert!(pattern("/").matches(&path("/")).is_some());
        assert!(pattern("/").matches(&path("/a")).is_none());
        assert!(pattern("/**").matches(&path("/anything/at/all")).is_some());
        assert!(pattern("/**").matches(&path("/")).is_some());
    }

    #[test]
    fn named_segments_capture_one_segment() {
        let p = pattern("/api/tenants/{tenant}/orders");
        let target = path("/api/tenants/3c6d1c5e-8f0a-4b8e-9d3c-2a1f6e7b9c41/orders");
        assert_eq!(p.matches(&target).unwrap(), vec![("tenant", "3c6d1c5e-8f0a-4b8e-9d3c-2a1f6e7b9c41")]);
        assert!(p.matches(&path("/api/tenants/orders")).is_none());
        assert!(p.matches(&path("/api/tenants/a/b/orders")).is_none());
    }

    #[test]
    fn literals_match_case_insensitively() {
        assert!(pattern("/admin/**").matches(&path("/ADMIN/users")).is_some());
        assert!(pattern("/Admin").matches(&path("/admin")).is_some());
    }

    #[test]
    fn literals_match_the_percent_encoded_spelling_an_origin_decodes() {
        // Found by the route fuzz property: the normalized path keeps `%20`, the origin reads a space.
        assert!(pattern("/files/a b/**").matches(&path("/files/a%20b/x")).is_some());
        assert!(pattern("/caf\u{e9}").matches(&path("/caf%C3%A9")).is_some());
        assert!(pattern("/a!").matches(&path("/a%21")).is_some());
        assert!(pattern("/a!").matches(&path("/a!")).is_some());
        assert!(pattern("/a!").matches(&path("/a%22")).is_none());
        assert!(pattern("/ab").matches(&path("/a%20")).is_none());
    }

    #[test]
    fn invalid_patterns_are_rejected() {
        for bad in ["health", "/a//b", "/a/**/b", "/a/{}", "/a/{x-y}", "/a/{x}/{x}", "/a*", "/a/../b", "/a/", "/a/%2e", "/a;b"] {
            assert!(PathPattern::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn coverage_between_patterns() {
        assert!(pattern("/**").covers(&pattern("/api/x")));
        assert!(pattern("/api/**").covers(&pattern("/api/{id}/**")));
        assert!(pattern("/api/{id}").covers(&pattern("/api/42")));
        assert!(pattern("/a").covers(&pattern("/A")));
        assert!(!pattern("/api/42").covers(&pattern("/api/{id}")));
        assert!(!pattern("/api/{id}").covers(&pattern("/api/{id}/**")));
        assert!(!pattern("/api/x/**").covers(&pattern("/api/**")));
    }

    #[test]
    fn get_includes_head() {
        let m = MethodSet::parse(Some(&["GET".to_string()])).unwrap();
        assert!(m.contains("HEAD"));
        assert!(!m.contains("POST"));
    }

    #[test]
    fn invalid_method_lists_are_rejected() {
        assert!(MethodSet::parse(Some(&[])).is_err());
        assert!(MethodSet::parse(Some(&["get".to_string()])).is_err());
        assert!(MethodSet::parse(Some(&["*".to_string(), "GET".to_string()])).is_err());
        assert_eq!(MethodSet::parse(None).unwrap(), MethodSet::Any);
    }

    #[test]
    fn first_matching_route_wins() {
        let routes =
            [(MethodSet::parse(Some(&["GET".into()])).unwrap(), pattern("/api/orders/{id}")), (MethodSet::Any, pattern("/api/**"))];
        let target = path("/api/orders/7");
        assert_eq!(lookup(routes.iter().map(|(m, p)| (m, p)), "GET", &target), Lookup::Found { index: 0, params: vec![("id", "7")] });
        assert_eq!(lookup(routes.iter().map(|(m, p)| (m, p)), "DELETE", &target), Lookup::Found { index: 1, params: vec![] });
    }

    #[test]
    fn wrong_method_on_a_known_path_lists_the_allowed_methods() {
        let routes = [(MethodSet::parse(Some(&["GET".into(), "POST".into()])).unwrap(), pattern("/orders"))];
        assert_eq!(
            lookup(routes.iter().map(|(m, p)| (m, p)), "DELETE", &path("/orders")),
            Lookup::MethodNotAllowed { allow: vec!["GET".into(), "HEAD".into(), "POST".into()] }
        );
        assert_eq!(lookup(routes.iter().map(|(m, p)| (m, p)), "GET", &path("/other")), Lookup::NotFound);
    }

    #[test]
    fn a_route_for_every_method_does_not_take_trace_track_or_connect() {
        let any = MethodSet::parse(None).unwrap();
        for method in ["TRACE", "TRACK", "CONNECT", "trace"] {
            assert!(!any.contains(method), "{method}");
        }
        assert!(any.contains("GET") && any.contains("PROPFIND"));
        assert!(!any.names().contains(&"TRACE"));
        assert!(MethodSet::parse(Some(&["TRACE".to_string()])).unwrap().contains("TRACE"));
    }
}
