//! What the origin receives: which client headers pass, and the identity headers the
//! gateway adds from the verified [`Principal`].

use crate::gateway::HeaderEdit;
use crate::principal::Principal;
use crate::request_id::RequestIds;

/// Every header the gateway sets starts with this prefix; client-sent headers with it are
/// always removed, so the origin can trust any it sees.
pub const IDENTITY_HEADER_PREFIX: &str = "x-entra-";

pub const TENANT_ID: &str = "x-entra-tenant-id";
pub const OBJECT_ID: &str = "x-entra-object-id";
pub const SUBJECT: &str = "x-entra-subject";
pub const CLIENT_ID: &str = "x-entra-client-id";
pub const SCOPES: &str = "x-entra-scopes";
pub const ROLES: &str = "x-entra-roles";
pub const TOKEN_KIND: &str = "x-entra-token-kind";
pub const TOKEN_VERSION: &str = "x-entra-token-version";
pub const EXPIRES: &str = "x-entra-token-expires";
/// Carries the `ORIGIN_SECRET` secret (when bound) so the origin can refuse traffic that
/// did not come through the gateway.
pub const ORIGIN_SECRET_HEADER: &str = "x-entra-edge-secret";

/// Hop-by-hop headers (RFC 9110 §7.6.1) plus proxy credentials: never forwarded.
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// True for a hop-by-hop header name (folded), as the request filter drops them.
pub fn is_hop_by_hop(folded: &str) -> bool {
    HOP_BY_HOP.contains(&folded)
}

/// Response headers that describe the origin's connection, not the message: never relayed,
/// and neither is any name the origin's own `Connection` header lists (see
/// [`connection_listed`]; `headers.js` applies that rule in the forwarding call, since
/// the list is only known once the origin answered).
pub const HOP_BY_HOP_RESPONSE: [&str; 7] =
    ["connection", "keep-alive", "proxy-authenticate", "proxy-connection", "te", "trailer", "transfer-encoding"];

/// Prefixes of identity headers that other platforms and auth proxies set for their
/// origins, in folded form (see [`fold_name`]). A client-sent copy is never legitimate at
/// the first hop, so these are always removed; the list cannot be switched off.
///
/// Sources: this gateway (`x-entra-`); App Service / Functions authentication
/// (`X-MS-CLIENT-PRINCIPAL`, `-NAME`, `-ID`, `-IDP`, and `X-MS-TOKEN-{PROVIDER}-*`);
/// oauth2-proxy (`X-Auth-Request-*`); Google IAP (`X-Goog-Authenticated-User-*`); AWS ALB
/// (`X-Amzn-Oidc-*`); Cloudflare Access (`Cf-Access-*`); Grafana's auth proxy
/// (`X-WEBAUTH-*`).
pub const IDENTITY_HEADER_PREFIXES: [&str; 8] = [
    IDENTITY_HEADER_PREFIX,
    "x-ms-client-principal",
    "x-ms-token-",
    "x-auth-request-",
    "x-goog-authenticated-user-",
    "x-amzn-oidc-",
    "cf-access-",
    "x-webauth-",
];

/// Exact identity header names (folded) that common servers, frameworks and proxies read
/// as "who is calling": oauth2-proxy's `X-Forwarded-*` set, the `REMOTE_USER` family
/// (Apache, Authelia, Authentik), generic user and tenant ids that multi-tenant origins
/// read (a client-supplied tenant id is the classic cross-tenant leak), Kong's consumer
/// headers, WSO2's and Envoy's JWT forwarding headers, Google API Gateway / Endpoints; and
/// the method and URL overrides that frameworks honour (`X-HTTP-Method-Override` and its
/// kin; IIS / Symfony / Zend's `X-Original-URL` / `X-Rewrite-URL`; `X-Forwarded-Prefix`;
/// nginx `auth_request`'s `X-Original-URI`; Traefik forward-auth's `X-Forwarded-Method` /
/// `X-Forwarded-Uri`, which Authelia and oauth2-proxy decide on; Envoy's `X-Envoy-Original-Path`),
/// with which an origin would act on another method or path than the one the gateway
/// authorized and the signed assertion binds.
pub const IDENTITY_HEADER_NAMES: [&str; 53] = [
    "x-forwarded-user",
    "x-forwarded-email",
    "x-forwarded-preferred-username",
    "x-forwarded-groups",
    "x-forwarded-access-token",
    "remote-user",
    "remote-email",
    "remote-groups",
    "remote-name",
    "x-remote-user",
    "x-remote-email",
    "x-remote-groups",
    "x-user",
    "x-user-id",
    "x-userid",
    "x-user-name",
    "x-username",
    "x-user-email",
    "x-user-roles",
    "x-user-groups",
    "x-email",
    "x-tenant",
    "x-tenant-id",
    "x-tenantid",
    "x-org-id",
    "x-organization-id",
    "x-authenticated-user",
    "x-authenticated-userid",
    "x-consumer-id",
    "x-consumer-username",
    "x-consumer-custom-id",
    "x-credential-identifier",
    "x-userinfo",
    "x-id-token",
    "x-access-token",
    "x-jwt-assertion",
    "x-jwt-payload",
    "x-goog-iap-jwt-assertion",
    "x-apigateway-api-userinfo",
    "x-endpoint-api-userinfo",
    "x-principal",
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
    "x-original-method",
    "x-original-url",
    "x-rewrite-url",
    "x-forwarded-prefix",
    "x-original-uri",
    "x-forwarded-method",
    "x-forwarded-uri",
    "x-envoy-original-path",
    "x-principal-id",
];

/// The form header names are compared in: ASCII letters lowercased, digits kept, every
/// other character (`_`, `.`, `~`, `+`, …) folded to `-`.
///
/// CGI, WSGI, PHP-FPM and Rack expose both `X_Entra_Roles` and `X-Entra-Roles` as
/// `HTTP_X_ENTRA_ROLES`, so an origin on such a stack cannot tell them apart (the Django
/// CVE-2015-0219 class); lighttpd's CGI/FastCGI/SCGI naming maps *every* non-alphanumeric
/// character to `_`, and PHP turns `.` and space into `_`. Folding the same way makes the
/// gateway compare names as the most permissive of them does.
pub fn fold_name(name: &str) -> String {
    name.bytes().map(|b| if b.is_ascii_alphanumeric() { b.to_ascii_lowercase() as char } else { '-' }).collect()
}

/// The header names a `Connection` header lists, folded: each is hop-by-hop for that
/// message and must not be forwarded (RFC 9110 §7.6.1). Applies to the client's request
/// and to the origin's response alike (`connectionListed` in `headers.js` is the same rule).
pub fn connection_listed(value: &str) -> Vec<String> {
    value.split(',').map(|name| fold_name(name.trim())).filter(|name| !name.is_empty()).collect()
}

/// Identity headers to remove from client requests: the built-in list plus the
/// operator's own (`extra_identity_headers`), all folded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentityHeaderPolicy {
    names: Vec<String>,
    prefixes: Vec<String>,
}

impl Default for IdentityHeaderPolicy {
    fn default() -> Self {
        IdentityHeaderPolicy::with_extra(&[])
    }
}

impl IdentityHeaderPolicy {
    /// The built-in list plus `extra`: names, or prefixes ending in `*` (already checked
    /// to be header-name characters by the configuration).
    pub fn with_extra(extra: &[String]) -> IdentityHeaderPolicy {
        let mut names: Vec<String> = IDENTITY_HEADER_NAMES.iter().map(|n| n.to_string()).collect();
        let mut prefixes: Vec<String> = IDENTITY_HEADER_PREFIXES.iter().map(|p| p.to_string()).collect();
        for entry in extra {
            match entry.strip_suffix('*') {
                Some(prefix) => prefixes.push(fold_name(prefix)),
                None => names.push(fold_name(entry)),
            }
        }
        names.sort();
        names.dedup();
        IdentityHeaderPolicy { names, prefixes }
    }

    /// Exact names, folded.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Prefixes, folded.
    pub fn prefixes(&self) -> &[String] {
        &self.prefixes
    }

    /// True when a client header of this name (any case, `_` or `-`) must not reach the origin.
    pub fn is_identity(&self, name: &str) -> bool {
        let folded = fold_name(name);
        self.names.contains(&folded) || self.prefixes.iter().any(|p| folded.starts_with(p.as_str()))
    }
}

/// Decides, for each client request header, whether it reaches the origin.
pub struct RequestHeaderFilter<'a> {
    /// Extra hop-by-hop names listed in the client's `Connection` header (folded).
    connection_listed: Vec<String>,
    forward_authorization: bool,
    identity: &'a IdentityHeaderPolicy,
}

impl<'a> RequestHeaderFilter<'a> {
    pub fn new(
        connection_header: Option<&str>,
        forward_authorization: bool,
        identity: &'a IdentityHeaderPolicy,
    ) -> RequestHeaderFilter<'a> {
        let connection_listed = connection_listed(connection_header.unwrap_or(""));
        RequestHeaderFilter { connection_listed, forward_authorization, identity }
    }

    /// The exact folded names [`keeps`](Self::keeps) refuses, for the shell to remove in
    /// one pass together with [`dropped_prefixes`](Self::dropped_prefixes).
    pub fn dropped_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = HOP_BY_HOP.to_vec();
        names.push("host");
        if !self.forward_authorization {
            names.push("authorization");
        }
        names.extend(self.connection_listed.iter().map(String::as_str));
        names.extend(self.identity.names().iter().map(String::as_str));
        names
    }

    /// The names the client's `Connection` header lists that the filter would keep without
    /// it (usually none: `keep-alive` and `close` are hop-by-hop already), "\n"-joined: the
    /// shell drops them besides its per-isolate lists, so a `Connection` header costs no
    /// per-request copy of those lists.
    pub fn connection_extras(&self) -> String {
        let base = RequestHeaderFilter {
            connection_listed: Vec::new(),
            forward_authorization: self.forward_authorization,
            identity: self.identity,
        };
        let mut extras = String::new();
        for name in self.connection_listed.iter().filter(|name| base.keeps(name)) {
            if !extras.is_empty() {
                extras.push('\n');
            }
            extras.push_str(name);
        }
        extras
    }

    /// The folded prefixes [`keeps`](Self::keeps) refuses.
    pub fn dropped_prefixes(&self) -> Vec<&str> {
        self.identity.prefixes().iter().map(String::as_str).collect()
    }

    /// Any spelling: compared after [`fold_name`].
    pub fn keeps(&self, name: &str) -> bool {
        let folded = fold_name(name);
        !(self.dropped_names().contains(&folded.as_str()) || self.dropped_prefixes().iter().any(|p| folded.starts_with(p)))
    }
}

/// The identity headers for the origin, in a fixed order.
pub fn identity_headers(principal: &Principal) -> Vec<(&'static str, String)> {
    let mut headers = vec![(TENANT_ID, principal.tenant().to_string())];
    if let Some(oid) = principal.object_id() {
        headers.push((OBJECT_ID, header_safe(oid)));
    }
    headers.push((SUBJECT, header_safe(principal.subject())));
    if let Some(client) = principal.client_app_id() {
        headers.push((CLIENT_ID, header_safe(client)));
    }
    headers.push((SCOPES, header_safe(&principal.scopes().join(" "))));
    headers.push((ROLES, header_safe(&principal.roles().join(" "))));
    headers.push((TOKEN_KIND, principal.kind().as_str().to_string()));
    headers.push((TOKEN_VERSION, principal.version().to_string()));
    headers.push((EXPIRES, principal.expires_at().to_string()));
    headers
}

/// What the origin receives besides the client's own (filtered) headers: the verified
/// identity, the gateway's secret, and the request id and trace context.
pub fn origin_request_edits(principal: Option<&Principal>, origin_secret: Option<&str>, ids: &RequestIds) -> Vec<HeaderEdit> {
    let mut edits: Vec<HeaderEdit> =
        principal.map(identity_headers).unwrap_or_default().into_iter().map(|(name, value)| HeaderEdit::set(name, value)).collect();
    if let Some(secret) = origin_secret {
        edits.push(HeaderEdit::set(ORIGIN_SECRET_HEADER, secret));
    }
    edits.push(HeaderEdit::set("x-request-id", ids.request_id.as_str()));
    edits.push(HeaderEdit::set("traceparent", ids.traceparent.as_str()));
    edits
}

/// Percent-encodes anything outside visible ASCII and space (and `%` itself), so a claim
/// value can never split or corrupt a header.
pub fn header_safe(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if (0x20..0x7f).contains(&byte) && byte != b'%' {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(connection: Option<&str>, forward_authorization: bool) -> RequestHeaderFilter<'static> {
        static DEFAULT: std::sync::OnceLock<IdentityHeaderPolicy> = std::sync::OnceLock::new();
        RequestHeaderFilter::new(connection, forward_authorization, DEFAULT.get_or_init(IdentityHeaderPolicy::default))
    }

    #[test]
    fn hop_by_hop_and_host_headers_are_dropped() {
        let filter = filter(None, false);
        for name in ["connection", "keep-alive", "te", "transfer-encoding", "upgrade", "proxy-authorization", "host"] {
            assert!(!filter.keeps(name), "{name}");
        }
        assert!(filter.keeps("content-type"));
        assert!(filter.keeps("accept"));
    }

    #[test]
    fn headers_named_in_connection_are_dropped() {
        let filter = filter(Some("close, X-Debug-Hop, X_Other_Hop"), false);
        assert!(!filter.keeps("x-debug-hop"));
        assert!(!filter.keeps("x-other-hop"));
        assert!(filter.keeps("x-other"));
    }

    #[test]
    fn connection_extras_are_only_the_names_the_lists_do_not_already_drop() {
        assert_eq!(filter(Some("keep-alive"), false).connection_extras(), "");
        assert_eq!(filter(Some("Keep-Alive, Upgrade, x-entra-tenant-id"), false).connection_extras(), "");
        // `close` is a connection option, and a header of that name is hop-by-hop too.
        assert_eq!(filter(Some("close, X-Debug-Hop, X_Other_Hop"), false).connection_extras(), "close\nx-debug-hop\nx-other-hop");
        assert_eq!(filter(None, false).connection_extras(), "");
    }

    #[test]
    fn a_connection_header_lists_folded_names_and_skips_empty_items() {
        assert_eq!(connection_listed("keep-alive, X-Hop-Test,,  x_other "), ["keep-alive", "x-hop-test", "x-other"]);
        assert!(connection_listed("").is_empty());
    }

    #[test]
    fn client_supplied_identity_headers_are_always_dropped() {
        let filter = filter(None, true);
        assert!(!filter.keeps("x-entra-tenant-id"));
        assert!(!filter.keeps("x-entra-anything-new"));
    }

    #[test]
    fn identity_headers_are_dropped_under_every_spelling() {
        let filter = filter(None, false);
        for name in ["X_Entra_Roles", "X-Entra_Tenant_Id", "x_entra_object_id", "X-ENTRA-SCOPES", "x-entra_edge_secret"] {
            assert!(!filter.keeps(name), "{name}");
        }
    }

    #[test]
    fn identity_headers_of_other_platforms_are_dropped() {
        let filter = filter(None, false);
        for name in [
            "X-MS-CLIENT-PRINCIPAL",
            "X-MS-CLIENT-PRINCIPAL-NAME",
            "X-MS-CLIENT-PRINCIPAL-ID",
            "X-MS-CLIENT-PRINCIPAL-IDP",
            "X-MS-TOKEN-AAD-ACCESS-TOKEN",
            "X-MS-TOKEN-AAD-ID-TOKEN",
            "Remote-User",
            "REMOTE_USER",
            "X-Remote-User",
            "X-Forwarded-User",
            "x_forwarded_user",
            "X-Forwarded-Email",
            "X-Forwarded-Preferred-Username",
            "X-Forwarded-Groups",
            "X-Forwarded-Access-Token",
            "X-Auth-Request-User",
            "X-Auth-Request-Email",
            "X-Auth-Request-Access-Token",
            "X-User-Id",
            "X-Tenant-Id",
            "X_Tenant_Id",
            "Cf-Access-Authenticated-User-Email",
            "Cf_Access_Jwt_Assertion",
            "X-Goog-Authenticated-User-Email",
            "X-Amzn-Oidc-Identity",
            "X-WEBAUTH-USER",
            "X-Consumer-Username",
            "X-Jwt-Payload",
        ] {
            assert!(!filter.keeps(name), "{name}");
        }
    }

    #[test]
    fn ordinary_headers_with_underscores_still_reach_the_origin() {
        let filter = filter(None, false);
        for name in ["X_API_KEY", "x-request-source", "x_custom", "accept", "content-type", "x-forwarded-for", "x-forwarded-proto"] {
            assert!(filter.keeps(name), "{name}");
        }
    }

    #[test]
    fn operator_named_identity_headers_and_prefixes_are_dropped() {
        let policy = IdentityHeaderPolicy::with_extra(&["X-MyApp-User-*".into(), "x_acme_role".into()]);
        let filter = RequestHeaderFilter::new(None, false, &policy);
        for name in ["x-myapp-user-id", "X_MYAPP_USER_TENANT", "X-Acme-Role", "x_acme_role"] {
            assert!(!filter.keeps(name), "{name}");
        }
        assert!(filter.keeps("x-myapp-version"));
        assert!(filter.keeps("x-acme-roles"));
    }

    #[test]
    fn every_built_in_identity_header_is_already_folded() {
        for name in IDENTITY_HEADER_NAMES.iter().chain(IDENTITY_HEADER_PREFIXES.iter()) {
            assert_eq!(fold_name(name), *name);
        }
    }

    #[test]
    fn folding_lowercases_and_turns_every_other_character_into_a_dash() {
        assert_eq!(fold_name("X_Entra_Roles"), "x-entra-roles");
        assert_eq!(fold_name("Content-Type"), "content-type");
        assert_eq!(fold_name("X-Entra.Roles"), "x-entra-roles");
        assert_eq!(fold_name("x.entra~tenant+id"), "x-entra-tenant-id");
    }

    #[test]
    fn identity_headers_are_dropped_whatever_punctuation_separates_the_words() {
        let filter = filter(None, false);
        for name in [
            "x-entra.roles",
            "x.entra-tenant-id",
            "x-entra~roles",
            "x-entra!roles",
            "x-entra'roles",
            "x-user.id",
            "remote.user",
            "cf-access.authenticated-user-email",
            "x|tenant|id",
        ] {
            assert!(!filter.keeps(name), "{name}");
        }
    }

    #[test]
    fn authorization_is_forwarded_only_when_configured() {
        assert!(!filter(None, false).keeps("authorization"));
        assert!(filter(None, true).keeps("authorization"));
        assert!(!filter(None, false).keeps("Authorization"));
    }

    #[test]
    fn the_origin_gets_the_verified_identity_the_secret_and_the_request_ids() {
        let ids = crate::request_id::choose(Some("req-1"), None, [7; 24]);
        let principal = crate::principal::sample();
        let edits = origin_request_edits(Some(&principal), Some("s3cret"), &ids);
        let value = |name: &str| edits.iter().find(|e| e.name == name).map(|e| e.value.as_str());
        assert_eq!(value(TENANT_ID), Some(principal.tenant().as_str()));
        assert_eq!(value(ORIGIN_SECRET_HEADER), Some("s3cret"));
        assert_eq!(value("x-request-id"), Some("req-1"));
        assert!(value("traceparent").is_some());
        let public = origin_request_edits(None, None, &ids);
        assert!(public.iter().all(|e| !e.name.starts_with(IDENTITY_HEADER_PREFIX)), "a public route sends no identity");
    }

    #[test]
    fn header_safe_encodes_control_and_non_ascii_bytes() {
        assert_eq!(header_safe("a b"), "a b");
        assert_eq!(header_safe("x\r\ny"), "x%0D%0Ay");
        assert_eq!(header_safe("é%"), "%C3%A9%25");
    }
}
