//! OpenID Connect discovery: where a tenant's metadata lives and what it says.

use serde::Deserialize;

use crate::tenant::{Directory, TenantId};
use crate::token_version::TokenVersion;

/// The placeholder that multi-tenant (`common`, `organizations`) metadata puts in `issuer`.
const TENANT_PLACEHOLDER: &str = "{tenantid}";

/// URL of the OpenID configuration document of a directory (a tenant, or `organizations` /
/// `common` in any-tenant mode) and token version.
///
/// `app_id`: an API whose tokens are signed with its own keys (claims mapping, custom
/// signing keys) must read metadata with `?appid={client id}`, whose `jwks_uri` then lists
/// those keys (Microsoft identity platform, "Access tokens": validate the signature).
pub fn metadata_url(authority: &str, directory: &Directory, version: TokenVersion, app_id: Option<&str>) -> String {
    let mut url = match version {
        TokenVersion::V1 => format!("{authority}/{directory}/.well-known/openid-configuration"),
        TokenVersion::V2 => format!("{authority}/{directory}/v2.0/.well-known/openid-configuration"),
    };
    if let Some(app_id) = app_id {
        url.push_str("?appid=");
        url.push_str(app_id);
    }
    url
}

/// Checks that a `jwks_uri` names a place the configuration trusts for signing keys, and
/// returns the URL to fetch (with `?appid=` added when an app id is configured and the
/// authority did not already carry it).
///
/// Trusted: the authority's own scheme-host-port, or a `host[:port]` listed in
/// `allowed_hosts` over https. Plain http only when the authority itself is loopback http
/// (local testing). Credentials in the URL are refused. Compared after URL parsing, so
/// `127.0.0.1.attacker.example` or `127.0.0.1@attacker.example` are not the authority.
pub fn checked_jwks_uri(jwks_uri: &str, authority: &str, allowed_hosts: &[String], app_id: Option<&str>) -> Result<String, String> {
    let refuse = |why: &str| Err(format!("jwks_uri {jwks_uri:?} {why}"));
    let Ok(mut url) = url::Url::parse(jwks_uri) else { return refuse("is not an absolute URL") };
    let Ok(authority) = url::Url::parse(authority) else { return refuse("cannot be checked: the authority is not a URL") };
    if !url.username().is_empty() || url.password().is_some() {
        return refuse("carries credentials");
    }
    let host = url.host_str().unwrap_or("").to_ascii_lowercase();
    let port = url.port_or_known_default();
    let same_as_authority =
        url.scheme() == authority.scheme() && Some(host.as_str()) == authority.host_str() && port == authority.port_or_known_default();
    // Plain http is a local-testing affair: only when the authority itself is (loopback) http.
    let scheme_ok = url.scheme() == "https" || (url.scheme() == "http" && authority.scheme() == "http");
    if !scheme_ok {
        return refuse("must use https");
    }
    let listed = allowed_hosts.iter().any(|allowed| {
        let allowed = allowed.to_ascii_lowercase();
        let (allowed_host, allowed_port) = match allowed.rsplit_once(':') {
            Some((h, p)) if p.parse::<u16>().is_ok() => (h.to_string(), p.parse::<u16>().ok()),
            _ => (allowed.clone(), Some(443)),
        };
        allowed_host == host && allowed_port == port
    });
    if !(same_as_authority || listed) {
        return refuse(
            "is not on the authority's host (add its host to keys.allowed_jwks_hosts if the authority really publishes keys there)",
        );
    }
    if let Some(app_id) = app_id {
        // The configured app id wins over whatever `appid` the authority's document names
        // (in any spelling): the keys must be this API's own.
        let others: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(name, _)| !name.eq_ignore_ascii_case("appid"))
            .map(|(n, v)| (n.into_owned(), v.into_owned()))
            .collect();
        let mut pairs = url.query_pairs_mut();
        pairs.clear();
        for (name, value) in &others {
            pairs.append_pair(name, value);
        }
        pairs.append_pair("appid", app_id);
        drop(pairs);
    }
    Ok(url.into())
}

/// The parts of an OpenID configuration document the gateway relies on.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
pub struct OpenIdMetadata {
    /// The issuer, possibly a `{tenantid}` template.
    pub issuer: String,
    pub jwks_uri: String,
    /// The cloud the metadata belongs to (`microsoftonline.com`, …); keys tagged with
    /// another cloud are not valid under it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_instance_name: Option<String>,
}

impl OpenIdMetadata {
    /// Parses a metadata document, requiring an issuer and a `jwks_uri` (whose place is
    /// checked by [`checked_jwks_uri`] before it is fetched).
    pub fn parse(json: &[u8]) -> Result<OpenIdMetadata, String> {
        let metadata: OpenIdMetadata = serde_json::from_slice(json).map_err(|e| format!("metadata is not valid JSON: {e}"))?;
        if metadata.issuer.is_empty() {
            return Err("metadata has an empty issuer".into());
        }
        if metadata.jwks_uri.is_empty() {
            return Err("metadata has an empty jwks_uri".into());
        }
        Ok(metadata)
    }

    /// The exact issuer a token of `tenant` must carry.
    pub fn issuer_for(&self, tenant: &TenantId) -> String {
        resolve_issuer(&self.issuer, tenant)
    }
}

/// Substitutes the tenant into a `{tenantid}` issuer template (a no-op for concrete issuers).
pub fn resolve_issuer(template: &str, tenant: &TenantId) -> String {
    template.replace(TENANT_PLACEHOLDER, tenant.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant() -> TenantId {
        TenantId::parse("72f988bf-86f1-41af-91ab-2d7cd011db47").unwrap()
    }

    fn directory() -> Directory {
        Directory::Tenant(TenantId::parse("72f988bf-86f1-41af-91ab-2d7cd011db47").unwrap())
    }

    #[test]
    fn metadata_urls_follow_entra_layout() {
        let host = "https://login.microsoftonline.com";
        assert_eq!(
            metadata_url(host, &directory(), TokenVersion::V2, None),
            "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0/.well-known/openid-configuration"
        );
        assert_eq!(
            metadata_url(host, &directory(), TokenVersion::V1, None),
            "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/.well-known/openid-configuration"
        );
    }

    #[test]
    fn metadata_urls_carry_the_app_id_for_app_specific_keys() {
        let host = "https://login.microsoftonline.com";
        let app = Some("6e2f9a47-1b3c-4d5e-8f70-9a8b7c6d5e4f");
        assert!(metadata_url(host, &directory(), TokenVersion::V2, app)
            .ends_with("/v2.0/.well-known/openid-configuration?appid=6e2f9a47-1b3c-4d5e-8f70-9a8b7c6d5e4f"));
        assert!(metadata_url(host, &directory(), TokenVersion::V1, app)
            .ends_with("/.well-known/openid-configuration?appid=6e2f9a47-1b3c-4d5e-8f70-9a8b7c6d5e4f"));
    }

    const ENTRA: &str = "https://login.microsoftonline.com";

    #[test]
    fn jwks_uri_on_the_authority_host_is_accepted() {
        let uri = "https://login.microsoftonline.com/common/discovery/v2.0/keys";
        assert_eq!(checked_jwks_uri(uri, ENTRA, &[], None).unwrap(), uri);
        assert_eq!(
            checked_jwks_uri("http://127.0.0.1:8790/t/keys", "http://127.0.0.1:8790", &[], None).unwrap(),
            "http://127.0.0.1:8790/t/keys"
        );
    }

    #[test]
    fn jwks_uri_elsewhere_is_refused_however_it_is_spelled() {
        for uri in [
            "https://attacker.example/keys",
            "https://login.microsoftonline.com.attacker.example/keys",
            "https://login.microsoftonline.com@attacker.example/keys",
            "https://user:pw@login.microsoftonline.com/keys",
            "http://login.microsoftonline.com/keys",
            "https://login.microsoftonline.com:8443/keys",
            "ftp://login.microsoftonline.com/keys",
            "/relative/keys",
        ] {
            assert!(checked_jwks_uri(uri, ENTRA, &[], None).is_err(), "{uri}");
        }
        for uri in [
            "http://127.0.0.1.attacker.example/keys",
            "http://127.0.0.1@attacker.example/keys",
            "http://localhost.attacker.example/keys",
            "http://127.0.0.1:9999/keys",
            "https://attacker.example/keys",
        ] {
            assert!(checked_jwks_uri(uri, "http://127.0.0.1:8790", &[], None).is_err(), "{uri}");
        }
    }

    #[test]
    fn jwks_uri_on_an_allowed_host_is_accepted_over_https_only() {
        let allowed = vec!["keys.example.com".to_string(), "127.0.0.1:9999".to_string()];
        assert!(checked_jwks_uri("https://keys.example.com/k", ENTRA, &allowed, None).is_ok());
        assert!(checked_jwks_uri("https://KEYS.example.com:443/k", ENTRA, &allowed, None).is_ok());
        assert!(checked_jwks_uri("http://keys.example.com/k", ENTRA, &allowed, None).is_err());
        assert!(checked_jwks_uri("https://keys.example.com:8443/k", ENTRA, &allowed, None).is_err());
    }

    #[test]
    fn jwks_uri_gets_the_app_id_unless_it_already_has_one() {
        let app = Some("6e2f9a47-1b3c-4d5e-8f70-9a8b7c6d5e4f");
        assert_eq!(
            checked_jwks_uri("https://login.microsoftonline.com/t/discovery/v2.0/keys", ENTRA, &[], app).unwrap(),
            "https://login.microsoftonline.com/t/discovery/v2.0/keys?appid=6e2f9a47-1b3c-4d5e-8f70-9a8b7c6d5e4f"
        );
        let already = "https://login.microsoftonline.com/t/discovery/v2.0/keys?appid=6e2f9a47-1b3c-4d5e-8f70-9a8b7c6d5e4f";
        assert_eq!(checked_jwks_uri(already, ENTRA, &[], app).unwrap(), already);
    }

    #[test]
    fn the_configured_app_id_replaces_any_the_authority_names() {
        let app = Some("6e2f9a47-1b3c-4d5e-8f70-9a8b7c6d5e4f");
        for uri in ["https://login.microsoftonline.com/t/keys?appid=other", "https://login.microsoftonline.com/t/keys?AppId=other&x=1"] {
            let checked = checked_jwks_uri(uri, ENTRA, &[], app).unwrap();
            assert!(checked.ends_with("appid=6e2f9a47-1b3c-4d5e-8f70-9a8b7c6d5e4f"), "{checked}");
            assert!(!checked.to_ascii_lowercase().contains("appid=other"), "{checked}");
        }
    }

    #[test]
    fn metadata_cloud_instance_name_is_read_when_present() {
        let md =
            OpenIdMetadata::parse(br#"{"issuer":"x","jwks_uri":"https://a/keys","cloud_instance_name":"microsoftonline.us"}"#).unwrap();
        assert_eq!(md.cloud_instance_name.as_deref(), Some("microsoftonline.us"));
        assert_eq!(OpenIdMetadata::parse(br#"{"issuer":"x","jwks_uri":"https://a/keys"}"#).unwrap().cloud_instance_name, None);
    }

    #[test]
    fn issuer_template_is_resolved_with_the_tenant() {
        let md = OpenIdMetadata::parse(
            br#"{"issuer":"https://login.microsoftonline.com/{tenantid}/v2.0","jwks_uri":"https://login.microsoftonline.com/common/discovery/v2.0/keys"}"#,
        )
        .unwrap();
        assert_eq!(md.issuer_for(&tenant()), "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0");
    }

    #[test]
    fn concrete_issuer_is_unchanged() {
        let md = OpenIdMetadata::parse(
            br#"{"issuer":"https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/","jwks_uri":"https://login.microsoftonline.com/common/discovery/keys","extra":1}"#,
        )
        .unwrap();
        assert_eq!(md.issuer_for(&tenant()), "https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/");
    }

    #[test]
    fn metadata_without_issuer_or_jwks_uri_is_rejected() {
        assert!(OpenIdMetadata::parse(br#"{"issuer":"x","jwks_uri":""}"#).is_err());
        assert!(OpenIdMetadata::parse(br#"{"issuer":"","jwks_uri":"https://a/keys"}"#).is_err());
        assert!(OpenIdMetadata::parse(br#"{"issuer":"x"}"#).is_err());
        assert!(OpenIdMetadata::parse(b"<html>").is_err());
    }

    #[test]
    fn any_tenant_metadata_is_the_organizations_document() {
        assert_eq!(
            metadata_url("https://login.microsoftonline.com", &Directory::Organizations, TokenVersion::V2, None),
            "https://login.microsoftonline.com/organizations/v2.0/.well-known/openid-configuration"
        );
    }
}
