//! OAuth 2.0 Protected Resource Metadata (RFC 9728) for the API behind the gateway: how an
//! MCP or OAuth 2.1 client learns, from the API itself, which authorization server issues
//! its tokens and which scopes to ask for.
//!
//! The document is built once from the configuration (never from a request: RFC 9728 §3.3,
//! the `resource` must be the URL clients call, so it cannot come from `Host`), served at
//! `/.well-known/oauth-protected-resource` (and at the path-suffixed form of §3.1 when the
//! resource has a path), and named by `resource_metadata="…"` in every challenge (§5.1).

use serde_json::json;

use crate::tenant::{Directory, TenantPolicy};

/// The well-known path segment of RFC 9728 §3.
pub const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

/// A validated `[protected_resource]` table with its document prebuilt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProtectedResource {
    /// The resource identifier, exactly as configured (the URL clients call).
    pub resource: String,
    /// The metadata URL (RFC 9728 §3.1): the resource's origin + the well-known path +
    /// the resource's path. What challenges point to.
    pub metadata_url: String,
    /// Request paths answered with the document: the path-suffixed one, and the bare
    /// well-known path (clients that do not insert the resource's path try it).
    pub paths: Vec<String>,
    /// The JSON document.
    pub document: String,
    /// The API's App ID URI (what qualifies scope names), when configured.
    pub app_id_uri: Option<String>,
}

/// What the document is built from (all validated by the configuration).
pub struct Inputs<'a> {
    pub resource: &'a str,
    pub resource_name: Option<&'a str>,
    pub resource_documentation: Option<&'a str>,
    /// The API's App ID URI, prefix of fully qualified scope names (`api://…/Orders.Read`).
    pub app_id_uri: Option<&'a str>,
    /// Delegated scopes the routes require, in route order (short names).
    pub scopes: Vec<&'a str>,
    /// Whether some route requires app roles (app permissions are requested as
    /// `{App ID URI}/.default` in the client credentials flow).
    pub uses_roles: bool,
    pub authority: &'a str,
    pub tenants: &'a TenantPolicy,
}

impl ProtectedResource {
    /// Builds the metadata; `resource` must already be an absolute http(s) URL without
    /// query or fragment.
    pub fn build(inputs: Inputs<'_>) -> Result<ProtectedResource, String> {
        let url = url::Url::parse(inputs.resource).map_err(|e| format!("{:?} is not an absolute URL ({e})", inputs.resource))?;
        let origin = url.origin().ascii_serialization();
        let path = url.path().trim_end_matches('/');
        let metadata_path = format!("{WELL_KNOWN}{path}");
        let mut paths = vec![metadata_path.clone()];
        if !path.is_empty() {
            paths.push(WELL_KNOWN.to_string());
        }
        let mut document = serde_json::Map::new();
        document.insert("resource".into(), json!(inputs.resource));
        document.insert("authorization_servers".into(), json!(authorization_servers(inputs.authority, inputs.tenants)));
        if let Some(app_id_uri) = inputs.app_id_uri {
            let mut scopes: Vec<String> = Vec::new();
            for scope in &inputs.scopes {
                let qualified = format!("{app_id_uri}/{scope}");
                if !scopes.contains(&qualified) {
                    scopes.push(qualified);
                }
            }
            if inputs.uses_roles {
                scopes.push(format!("{app_id_uri}/.default"));
            }
            if !scopes.is_empty() {
                document.insert("scopes_supported".into(), json!(scopes));
            }
        }
        document.insert("bearer_methods_supported".into(), json!(["header"]));
        if let Some(name) = inputs.resource_name {
            document.insert("resource_name".into(), json!(name));
        }
        if let Some(documentation) = inputs.resource_documentation {
            document.insert("resource_documentation".into(), json!(documentation));
        }
        Ok(ProtectedResource {
            resource: inputs.resource.to_string(),
            metadata_url: format!("{origin}{metadata_path}"),
            paths,
            document: serde_json::Value::Object(document).to_string(),
            app_id_uri: inputs.app_id_uri.map(str::to_string),
        })
    }

    /// True when a normalized request path is one the document is served at (ASCII case
    /// ignored, as route literals are: a case-insensitive origin must never see it).
    pub fn serves(&self, path: &str) -> bool {
        self.paths.iter().any(|p| p.eq_ignore_ascii_case(path))
    }
}

/// The Entra v2 issuers of the accepted tenants (an authorization server's identifier is
/// its issuer, RFC 8414 §2). In any-tenant mode, the multi-tenant directory's address: its
/// metadata names the `{tenantid}` template as issuer, which is how Entra publishes it.
pub fn authorization_servers(authority: &str, tenants: &TenantPolicy) -> Vec<String> {
    tenants
        .directories()
        .iter()
        .map(|directory| match directory {
            Directory::Tenant(tenant) => format!("{authority}/{tenant}/v2.0"),
            other => format!("{authority}/{other}/v2.0"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tenant::TenantId;
    use serde_json::Value;

    const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    const AUTHORITY: &str = "https://login.microsoftonline.com";

    fn listed() -> TenantPolicy {
        TenantPolicy::Listed(vec![TenantId::parse(TENANT).unwrap()])
    }

    fn inputs<'a>(resource: &'a str, tenants: &'a TenantPolicy) -> Inputs<'a> {
        Inputs {
            resource,
            resource_name: None,
            resource_documentation: None,
            app_id_uri: Some("api://orders"),
            scopes: vec!["Orders.Read", "Orders.ReadWrite", "Orders.Read"],
            uses_roles: false,
            authority: AUTHORITY,
            tenants,
        }
    }

    fn document(resource: &ProtectedResource) -> Value {
        serde_json::from_str(&resource.document).unwrap()
    }

    #[test]
    fn the_document_names_the_configured_resource_and_the_tenants_v2_issuer() {
        let tenants = listed();
        let built = ProtectedResource::build(inputs("https://api.contoso.example", &tenants)).unwrap();
        let doc = document(&built);
        assert_eq!(doc["resource"], "https://api.contoso.example");
        assert_eq!(doc["authorization_servers"], json!([format!("{AUTHORITY}/{TENANT}/v2.0")]));
        assert_eq!(doc["bearer_methods_supported"], json!(["header"]));
    }

    #[test]
    fn scopes_are_fully_qualified_with_the_app_id_uri_once_each() {
        let tenants = listed();
        let doc = document(&ProtectedResource::build(inputs("https://api.contoso.example", &tenants)).unwrap());
        assert_eq!(doc["scopes_supported"], json!(["api://orders/Orders.Read", "api://orders/Orders.ReadWrite"]));
    }

    #[test]
    fn routes_with_app_roles_add_the_default_scope() {
        let tenants = listed();
        let mut with_roles = inputs("https://api.contoso.example", &tenants);
        with_roles.uses_roles = true;
        let doc = document(&ProtectedResource::build(with_roles).unwrap());
        assert_eq!(doc["scopes_supported"][2], "api://orders/.default");
    }

    #[test]
    fn a_resource_without_a_path_is_served_at_the_well_known_path() {
        let tenants = listed();
        let built = ProtectedResource::build(inputs("https://api.contoso.example", &tenants)).unwrap();
        assert_eq!(built.metadata_url, "https://api.contoso.example/.well-known/oauth-protected-resource");
        assert_eq!(built.paths, [WELL_KNOWN]);
    }

    #[test]
    fn a_resource_with_a_path_gets_the_path_suffixed_form_too() {
        let tenants = listed();
        let built = ProtectedResource::build(inputs("https://api.contoso.example/mcp", &tenants)).unwrap();
        assert_eq!(built.metadata_url, "https://api.contoso.example/.well-known/oauth-protected-resource/mcp");
        assert!(built.serves("/.well-known/oauth-protected-resource/mcp"));
        assert!(built.serves(WELL_KNOWN));
        assert!(!built.serves("/.well-known/oauth-protected-resource/other"));
        assert!(built.serves("/.WELL-KNOWN/oauth-protected-resource/MCP"));
        assert_eq!(document(&built)["resource"], "https://api.contoso.example/mcp");
    }

    #[test]
    fn any_tenant_mode_publishes_the_organizations_authority() {
        let tenants = TenantPolicy::AnyOrganization { consumers: false, denied: vec![] };
        assert_eq!(authorization_servers(AUTHORITY, &tenants), [format!("{AUTHORITY}/organizations/v2.0")]);
        let with_personal = TenantPolicy::AnyOrganization { consumers: true, denied: vec![] };
        assert_eq!(authorization_servers(AUTHORITY, &with_personal), [format!("{AUTHORITY}/common/v2.0")]);
    }

    #[test]
    fn without_an_app_id_uri_no_scopes_are_published() {
        let tenants = listed();
        let mut no_uri = inputs("https://api.contoso.example", &tenants);
        no_uri.app_id_uri = None;
        assert!(document(&ProtectedResource::build(no_uri).unwrap()).get("scopes_supported").is_none());
    }

    #[test]
    fn optional_name_and_documentation_appear_when_set() {
        let tenants = listed();
        let mut named = inputs("https://api.contoso.example", &tenants);
        named.resource_name = Some("Contoso Orders");
        named.resource_documentation = Some("https://docs.contoso.example/orders");
        let doc = document(&ProtectedResource::build(named).unwrap());
        assert_eq!(doc["resource_name"], "Contoso Orders");
        assert_eq!(doc["resource_documentation"], "https://docs.contoso.example/orders");
    }
}
