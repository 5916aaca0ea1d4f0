//! Per-route CORS: preflights answered at the edge without a token, and the
//! `Access-Control-*` headers of actual responses. A disallowed origin gets no CORS
//! headers at all.

/// Allowed browser origins.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origins {
    /// `*`: any origin (only without credentials).
    Any,
    /// Exact `scheme://host[:port]` values, lowercase.
    List(Vec<String>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CorsPolicy {
    pub origins: Origins,
    /// Allowed methods (upper case).
    pub methods: Vec<String>,
    /// Allowed request headers (lowercase).
    pub headers: Vec<String>,
    /// Response headers scripts may read.
    pub expose_headers: Vec<String>,
    pub max_age_seconds: u64,
    pub credentials: bool,
}

pub type HeaderList = Vec<(&'static str, String)>;

/// The outcome of a preflight request.
#[derive(Debug, PartialEq, Eq)]
pub enum Preflight {
    Allowed(HeaderList),
    Denied(&'static str),
}

impl CorsPolicy {
    fn allows_origin(&self, origin: &str) -> bool {
        match &self.origins {
            Origins::Any => true,
            Origins::List(list) => list.iter().any(|o| o.eq_ignore_ascii_case(origin)),
        }
    }

    fn origin_headers(&self, origin: &str) -> HeaderList {
        let mut headers = vec![("vary", "Origin".to_string())];
        match (&self.origins, self.credentials) {
            (Origins::Any, false) => headers.push(("access-control-allow-origin", "*".to_string())),
            _ => headers.push(("access-control-allow-origin", origin.to_string())),
        }
        if self.credentials {
            headers.push(("access-control-allow-credentials", "true".to_string()));
        }
        headers
    }

    /// Answers a preflight: `method` from `Access-Control-Request-Method`, `requested`
    /// from `Access-Control-Request-Headers`.
    pub fn preflight(&self, origin: &str, method: &str, requested: Option<&str>) -> Preflight {
        if !self.allows_origin(origin) {
            return Preflight::Denied("the origin is not allowed");
        }
        if !self.methods.iter().any(|m| m == method) {
            return Preflight::Denied("the method is not allowed");
        }
        let requested: Vec<String> =
            requested.unwrap_or("").split(',').map(|h| h.trim().to_ascii_lowercase()).filter(|h| !h.is_empty()).collect();
        if let Some(header) = requested.iter().find(|h| !self.headers.contains(h)) {
            let _ = header;
            return Preflight::Denied("a requested header is not allowed");
        }
        let mut headers = self.origin_headers(origin);
        headers.push(("access-control-allow-methods", self.methods.join(", ")));
        if !self.headers.is_empty() {
            headers.push(("access-control-allow-headers", self.headers.join(", ")));
        }
        headers.push(("access-control-max-age", self.max_age_seconds.to_string()));
        Preflight::Allowed(headers)
    }

    /// Headers for an actual (non-preflight) response to a request from `origin`.
    pub fn response_headers(&self, origin: Option<&str>) -> HeaderList {
        let Some(origin) = origin.filter(|o| self.allows_origin(o)) else {
            return Vec::new();
        };
        let mut headers = self.origin_headers(origin);
        if !self.expose_headers.is_empty() {
            headers.push(("access-control-expose-headers", self.expose_headers.join(", ")));
        }
        headers
    }
}

/// Checks a configured origin: `scheme://host[:port]`, no path, or `*`.
pub fn valid_origin(origin: &str) -> bool {
    if origin == "*" {
        return true;
    }
    match url::Url::parse(origin) {
        Ok(url) => {
            matches!(url.scheme(), "https" | "http")
                && url.host_str().is_some()
                && url.path() == "/"
                && !origin.ends_with('/')
                && url.query().is_none()
                && url.username().is_empty()
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spa() -> CorsPolicy {
        CorsPolicy {
            origins: Origins::List(vec!["https://app.contoso.example".into()]),
            methods: vec!["GET".into(), "POST".into()],
            headers: vec!["authorization".into(), "content-type".into()],
            expose_headers: vec!["www-authenticate".into()],
            max_age_seconds: 600,
            credentials: false,
        }
    }

    fn header<'a>(headers: &'a HeaderList, name: &str) -> Option<&'a str> {
        headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }

    #[test]
    fn preflight_from_an_allowed_origin_is_answered() {
        let Preflight::Allowed(headers) = spa().preflight("https://app.contoso.example", "POST", Some("Authorization, Content-Type"))
        else {
            panic!("denied")
        };
        assert_eq!(header(&headers, "access-control-allow-origin"), Some("https://app.contoso.example"));
        assert_eq!(header(&headers, "access-control-allow-methods"), Some("GET, POST"));
        assert_eq!(header(&headers, "access-control-allow-headers"), Some("authorization, content-type"));
        assert_eq!(header(&headers, "access-control-max-age"), Some("600"));
        assert_eq!(header(&headers, "vary"), Some("Origin"));
    }

    #[test]
    fn preflight_from_another_origin_is_denied() {
        assert!(matches!(spa().preflight("https://evil.example", "GET", None), Preflight::Denied(_)));
    }

    #[test]
    fn preflight_for_a_method_or_header_not_allowed_is_denied() {
        assert!(matches!(spa().preflight("https://app.contoso.example", "DELETE", None), Preflight::Denied(_)));
        assert!(matches!(spa().preflight("https://app.contoso.example", "GET", Some("x-admin")), Preflight::Denied(_)));
    }

    #[test]
    fn actual_response_gets_headers_only_for_allowed_origins() {
        let headers = spa().response_headers(Some("https://app.contoso.example"));
        assert_eq!(header(&headers, "access-control-allow-origin"), Some("https://app.contoso.example"));
        assert_eq!(header(&headers, "access-control-expose-headers"), Some("www-authenticate"));
        assert!(spa().response_headers(Some("https://evil.example")).is_empty());
        assert!(spa().response_headers(None).is_empty());
    }

    #[test]
    fn wildcard_without_credentials_answers_star() {
        let policy = CorsPolicy { origins: Origins::Any, ..spa() };
        assert_eq!(header(&policy.response_headers(Some("https://x.example")), "access-control-allow-origin"), Some("*"));
    }

    #[test]
    fn configured_origins_are_checked() {
        assert!(valid_origin("https://app.contoso.example"));
        assert!(valid_origin("http://localhost:5173"));
        assert!(valid_origin("*"));
        for bad in ["https://app.example/", "https://app.example/path", "app.example", "ftp://x.example", "https://u@x.example"] {
            assert!(!valid_origin(bad), "{bad}");
        }
    }
}
