//! OpenID Connect discovery: where a tenant's metadata lives and what it says.

use serde::Deserialize;

use crate::tenant::TenantId;
use crate::token_version::TokenVersion;

/// The placeholder that multi-tenant (`common`, `organizations`) metadata puts in `issuer`.
const TENANT_PLACEHOLDER: &str = "{tenantid}";

/// URL of the OpenID configuration document for a tenant and token version.
pub fn metadata_url(authority: &str, tenant: &TenantId, version: TokenVersion) -> String {
    match version {
        TokenVersion::V1 => format!("{authority}/{tenant}/.well-known/openid-configuration"),
        TokenVersion::V2 => format!("{authority}/{tenant}/v2.0/.well-known/openid-configuration"),
    }
}

/// The parts of an OpenID configuration document the gateway relies on.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
pub struct OpenIdMetadata {
    /// The issuer, possibly a `{tenantid}` template.
    pub issuer: String,
    pub jwks_uri: String,
}

impl OpenIdMetadata {
    /// Parses a metadata document, requiring an issuer and an http(s) `jwks_uri`.
    pub fn parse(json: &[u8]) -> Result<OpenIdMetadata, String> {
        let metadata: OpenIdMetadata = serde_json::from_slice(json).map_err(|e| format!("metadata is not valid JSON: {e}"))?;
        if metadata.issuer.is_empty() {
            return Err("metadata has an empty issuer".into());
        }
        if !(metadata.jwks_uri.starts_with("https://")
            || metadata.jwks_uri.starts_with("http://127.0.0.1")
            || metadata.jwks_uri.starts_with("http://localhost"))
        {
            return Err("metadata jwks_uri is not an https URL".into());
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

    #[test]
    fn metadata_urls_follow_entra_layout() {
        let host = "https://login.microsoftonline.com";
        assert_eq!(
            metadata_url(host, &tenant(), TokenVersion::V2),
            "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0/.well-known/openid-configuration"
        );
        assert_eq!(
            metadata_url(host, &tenant(), TokenVersion::V1),
            "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/.well-known/openid-configuration"
        );
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
    fn metadata_without_https_jwks_uri_is_rejected() {
        assert!(OpenIdMetadata::parse(br#"{"issuer":"x","jwks_uri":"http://evil.example/keys"}"#).is_err());
        assert!(OpenIdMetadata::parse(br#"{"issuer":"","jwks_uri":"https://a/keys"}"#).is_err());
        assert!(OpenIdMetadata::parse(br#"{"issuer":"x"}"#).is_err());
        assert!(OpenIdMetadata::parse(b"<html>").is_err());
    }
}
