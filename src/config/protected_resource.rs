//! The `protected_resource` table (RFC 9728 metadata), validated; off when absent.

use serde::Deserialize;

use crate::policy::Access;
use crate::resource_metadata::{Inputs, ProtectedResource};
use crate::route::RouteTable;
use crate::tenant::TenantPolicy;

use super::{checks, Field, Problems};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawProtectedResource {
    resource: String,
    app_id_uri: Option<String>,
    resource_name: Option<String>,
    resource_documentation: Option<String>,
}

pub(super) fn build(
    raw: RawProtectedResource,
    health_path: Option<&str>,
    authority: &str,
    tenants: &TenantPolicy,
    routes: Option<&RouteTable>,
    problems: &mut Problems,
) -> Option<ProtectedResource> {
    let at = Field::root().key("protected_resource");
    let before = problems.count();
    if let Err(message) = checks::parse_base_url(&raw.resource, true) {
        problems.add(&at.key("resource"), format!("{message} (the resource is the URL clients call, RFC 9728 §2)"));
    } else if let Ok(url) = url::Url::parse(&raw.resource) {
        // Its metadata path is derived from it and matched against normalized request paths.
        let path = url.path();
        if path != "/" && crate::path::normalize(path).map_or(true, |normalized| normalized.as_str() != path) {
            problems.add(
                &at.key("resource"),
                format!("{:?}: the path must be in normalized form (no trailing slash, no percent-encoded letters or digits, no //, dot segments or ;)", raw.resource),
            );
        }
    }
    if let Some(uri) = &raw.app_id_uri {
        if uri.is_empty() || uri.ends_with('/') || uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
            problems.add(
                &at.key("app_id_uri"),
                format!("{uri:?} must be the API's App ID URI (such as api://orders or https://api.contoso.com), without a trailing slash"),
            );
        }
    }
    if let Some(name) = &raw.resource_name {
        if name.trim().is_empty() || name.len() > 200 || name.chars().any(char::is_control) {
            problems.add(&at.key("resource_name"), "must be 1-200 printable characters");
        }
    }
    if let Some(documentation) = &raw.resource_documentation {
        if let Err(message) = checks::parse_base_url(documentation, true) {
            problems.add(&at.key("resource_documentation"), message);
        }
    }
    let authenticated = routes.into_iter().flat_map(|table| table.routes()).filter_map(|route| match &route.access {
        Access::Authenticated(requirements) => Some(requirements),
        Access::Public => None,
    });
    let mut scopes: Vec<&str> = Vec::new();
    let mut uses_roles = false;
    for requirements in authenticated {
        scopes.extend(requirements.scopes.iter().flat_map(|need| need.values.iter().map(String::as_str)));
        uses_roles |= requirements.roles.is_some();
    }
    if raw.app_id_uri.is_none() && (!scopes.is_empty() || uses_roles) {
        problems.add(
            &at.key("app_id_uri"),
            "is required when routes require scopes or roles: clients request api://…/Scope, and audiences may hold only the client id",
        );
    }
    if problems.count() != before {
        return None;
    }
    let inputs = Inputs {
        resource: &raw.resource,
        resource_name: raw.resource_name.as_deref(),
        resource_documentation: raw.resource_documentation.as_deref(),
        app_id_uri: raw.app_id_uri.as_deref(),
        scopes,
        uses_roles,
        authority,
        tenants,
    };
    let built = ProtectedResource::build(inputs).map_err(|message| problems.add(&at.key("resource"), message)).ok()?;
    if let Some(health) = health_path.filter(|health| built.serves(health)) {
        problems.add(&at.key("resource"), format!("its metadata is served at {health}, which is the health_path; move one of them"));
        return None;
    }
    Some(built)
}
