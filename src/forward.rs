//! What the origin receives: which client headers pass, and the identity headers the
//! gateway adds from the verified [`Principal`].

use crate::principal::Principal;

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

/// Decides, for each client request header, whether it reaches the origin.
pub struct RequestHeaderFilter {
    /// Extra hop-by-hop names listed in the client's `Connection` header.
    connection_listed: Vec<String>,
    forward_authorization: bool,
}

impl RequestHeaderFilter {
    pub fn new(connection_header: Option<&str>, forward_authorization: bool) -> RequestHeaderFilter {
        let connection_listed = connection_header
            .unwrap_or("")
            .split(',')
            .map(|name| name.trim().to_ascii_lowercase())
            .filter(|name| !name.is_empty())
            .collect();
        RequestHeaderFilter { connection_listed, forward_authorization }
    }

    /// The exact names [`keeps`](Self::keeps) refuses besides the identity prefix, for
    /// the shell to remove in one pass.
    pub fn dropped_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = HOP_BY_HOP.to_vec();
        names.push("host");
        if !self.forward_authorization {
            names.push("authorization");
        }
        names.extend(self.connection_listed.iter().map(String::as_str));
        names
    }

    /// `name` must be lowercase (as the Fetch API's Headers iterator yields them).
    pub fn keeps(&self, name: &str) -> bool {
        !(name.starts_with(IDENTITY_HEADER_PREFIX) || self.dropped_names().contains(&name))
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

    #[test]
    fn hop_by_hop_and_host_headers_are_dropped() {
        let filter = RequestHeaderFilter::new(None, false);
        for name in ["connection", "keep-alive", "te", "transfer-encoding", "upgrade", "proxy-authorization", "host"] {
            assert!(!filter.keeps(name), "{name}");
        }
        assert!(filter.keeps("content-type"));
        assert!(filter.keeps("accept"));
    }

    #[test]
    fn headers_named_in_connection_are_dropped() {
        let filter = RequestHeaderFilter::new(Some("close, X-Debug-Hop"), false);
        assert!(!filter.keeps("x-debug-hop"));
        assert!(filter.keeps("x-other"));
    }

    #[test]
    fn client_supplied_identity_headers_are_always_dropped() {
        let filter = RequestHeaderFilter::new(None, true);
        assert!(!filter.keeps("x-entra-tenant-id"));
        assert!(!filter.keeps("x-entra-anything-new"));
    }

    #[test]
    fn authorization_is_forwarded_only_when_configured() {
        assert!(!RequestHeaderFilter::new(None, false).keeps("authorization"));
        assert!(RequestHeaderFilter::new(None, true).keeps("authorization"));
    }

    #[test]
    fn header_safe_encodes_control_and_non_ascii_bytes() {
        assert_eq!(header_safe("a b"), "a b");
        assert_eq!(header_safe("x\r\ny"), "x%0D%0Ay");
        assert_eq!(header_safe("é%"), "%C3%A9%25");
    }
}
