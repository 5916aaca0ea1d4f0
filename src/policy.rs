//! Per-route authorization: what a verified [`Principal`] must have to use a route.
//! Pure: the route's requirements, the principal and the path's named segments in, a
//! decision out.

use base64ct::{Base64, Encoding};

use crate::claim_rules::{self, ClaimRule};
use crate::principal::{Principal, TokenKind};
use crate::reason::{Reason, Refusal, StepUp};
use crate::tenant::TenantId;
use crate::trace::Trace;

/// Whether a list must be matched by any one or by every entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Match {
    Any,
    All,
}

/// A list of scopes or roles and how it must be matched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Need {
    pub values: Vec<String>,
    pub mode: Match,
}

impl Need {
    /// Exact, case-sensitive comparison: `Orders.ReadWrite` never satisfies `Orders.Read`.
    fn satisfied_by(&self, held: &[String]) -> bool {
        let has = |v: &String| held.iter().any(|h| h == v);
        match self.mode {
            Match::Any => self.values.iter().any(has),
            Match::All => self.values.iter().all(has),
        }
    }

    fn describe(&self) -> String {
        let joiner = if self.mode == Match::Any { " or " } else { " and " };
        self.values.join(joiner)
    }
}

/// Token kinds a route accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KindRule {
    Any,
    DelegatedOnly,
    AppOnly,
}

/// Everything an authenticated route may require. Empty means "any valid token".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requirements {
    pub scopes: Option<Need>,
    pub roles: Option<Need>,
    /// Microsoft.Identity.Web's `RequiredScopeOrAppPermission`: either list suffices.
    pub scope_or_role: bool,
    pub token_kind: KindRule,
    /// Allowed client applications (`azp` / `appid`).
    pub clients: Option<Vec<String>>,
    /// Tenants allowed on this route (a subset of the global list).
    pub tenants: Option<Vec<TenantId>>,
    /// Named path segment that must equal the token's `tid`.
    pub tenant_segment: Option<String>,
    /// Conditional Access authentication context (`acrs`) required, e.g. `c1`.
    pub auth_context: Option<String>,
    /// Claim rules (`claims = [...]`), every one must pass.
    pub claims: Vec<ClaimRule>,
}

/// Who may use a route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Access {
    /// No token needed (and none is checked).
    Public,
    Authenticated(Requirements),
}

/// Decides whether `principal` may use a route with `requirements`.
/// `params` are the route's named segment values; `authority` builds step-up challenges.
pub fn authorize(requirements: &Requirements, principal: &Principal, params: &[(&str, &str)], authority: &str) -> Result<(), Refusal> {
    authorize_traced(requirements, principal, params, authority, ())
}

/// [`authorize`], naming each of the route's checks to `trace` before it runs (`explain`).
/// A requirement the route does not have is not named.
pub fn authorize_traced(
    requirements: &Requirements,
    principal: &Principal,
    params: &[(&str, &str)],
    authority: &str,
    mut trace: impl Trace,
) -> Result<(), Refusal> {
    let r = requirements;
    if r.token_kind != KindRule::Any {
        trace.check("route.token_kind");
    }
    match (r.token_kind, principal.kind()) {
        (KindRule::DelegatedOnly, TokenKind::AppOnly) => {
            return Err(Refusal::new(Reason::DelegatedTokenRequired, "this route needs a token acting for a signed-in user"));
        }
        (KindRule::AppOnly, TokenKind::Delegated) => {
            return Err(Refusal::new(Reason::AppOnlyRequired, "this route needs an app-only (client credentials) token"));
        }
        _ => {}
    }
    if let Some(tenants) = &r.tenants {
        trace.check("route.tenants");
        if !tenants.contains(principal.tenant()) {
            return Err(Refusal::new(Reason::TenantNotPermitted, "the token's tenant may not use this route"));
        }
    }
    if let Some(segment) = &r.tenant_segment {
        trace.check("route.tenant_segment");
        let claimed = params.iter().find(|(name, _)| name == segment).map(|(_, value)| *value);
        if !claimed.is_some_and(|value| value.eq_ignore_ascii_case(principal.tenant().as_str())) {
            return Err(Refusal::new(Reason::TenantMismatch, format!("the {{{segment}}} path segment must be the token's own tenant")));
        }
    }
    if let Some(clients) = &r.clients {
        trace.check("route.clients");
        if !principal.client_app_id().is_some_and(|client| clients.iter().any(|c| c.eq_ignore_ascii_case(client))) {
            return Err(Refusal::new(Reason::ClientNotAllowed, "the calling application may not use this route"));
        }
    }
    if r.scopes.is_some() || r.roles.is_some() {
        trace.check("route.permissions");
    }
    check_permissions(r, principal)?;
    if !r.claims.is_empty() {
        trace.check("route.claims");
        claim_rules::check(&r.claims, principal.held_claims())?;
    }
    if let Some(context) = &r.auth_context {
        trace.check("route.auth_context");
        if !principal.auth_contexts().iter().any(|c| c == context) {
            return Err(step_up(context, principal, authority));
        }
    }
    Ok(())
}

fn check_permissions(r: &Requirements, principal: &Principal) -> Result<(), Refusal> {
    let scopes_ok = r.scopes.as_ref().map(|need| need.satisfied_by(principal.scopes()));
    let roles_ok = r.roles.as_ref().map(|need| need.satisfied_by(principal.roles()));
    let scope_hint = |refusal: Refusal| match &r.scopes {
        Some(need) => refusal.with_scope(need.values.join(" ")),
        None => refusal,
    };
    let missing_scope = || {
        scope_hint(Refusal::new(
            Reason::InsufficientScope,
            format!("requires scope {}", r.scopes.as_ref().map(Need::describe).unwrap_or_default()),
        ))
    };
    let missing_role = || {
        scope_hint(Refusal::new(
            Reason::InsufficientRole,
            format!("requires app role {}", r.roles.as_ref().map(Need::describe).unwrap_or_default()),
        ))
    };

    if r.scope_or_role {
        if scopes_ok == Some(true) || roles_ok == Some(true) {
            return Ok(());
        }
        // Explain in the terms of the caller's kind of token.
        return Err(match principal.kind() {
            TokenKind::Delegated => missing_scope(),
            TokenKind::AppOnly => missing_role(),
        });
    }
    if scopes_ok == Some(false) {
        return Err(missing_scope());
    }
    if roles_ok == Some(false) {
        return Err(missing_role());
    }
    Ok(())
}

/// A claims challenge when the client can handle one (`xms_cc` has `cp1`), else a plain 403.
fn step_up(context: &str, principal: &Principal, authority: &str) -> Refusal {
    if principal.client_capabilities().iter().any(|c| c == "cp1") {
        let claims = serde_json::json!({ "access_token": { "acrs": { "essential": true, "value": context } } }).to_string();
        Refusal::new(Reason::InsufficientClaims, format!("this route requires authentication context {context}")).with_step_up(StepUp {
            authorization_uri: format!("{authority}/common/oauth2/authorize"),
            claims: Base64::encode_string(claims.as_bytes()),
        })
    } else {
        Refusal::new(
            Reason::AuthContextRequired,
            format!("this route requires authentication context {context}; the client cannot handle claims challenges"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TENANT: &str = "3c6d1c5e-8f0a-4b8e-9d3c-2a1f6e7b9c41";
    const OTHER: &str = "5a8e2b71-0c4d-4f9e-a1b2-c3d4e5f60718";
    const SPA: &str = "0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d";
    const AUTHORITY: &str = "https://login.microsoftonline.com";

    fn user(scopes: &[&str]) -> Principal {
        crate::principal::sample().with(|p| {
            p.client_app_id = Some(SPA.into());
            p.scopes = scopes.iter().map(|s| s.to_string()).collect();
        })
    }

    fn daemon(roles: &[&str]) -> Principal {
        user(&[]).with(|p| {
            p.roles = roles.iter().map(|s| s.to_string()).collect();
            p.kind = TokenKind::AppOnly;
        })
    }

    fn none() -> Requirements {
        Requirements {
            scopes: None,
            roles: None,
            scope_or_role: false,
            token_kind: KindRule::Any,
            clients: None,
            tenants: None,
            tenant_segment: None,
            auth_context: None,
            claims: Vec::new(),
        }
    }

    fn need(values: &[&str], mode: Match) -> Option<Need> {
        Some(Need { values: values.iter().map(|s| s.to_string()).collect(), mode })
    }

    fn reason(r: &Requirements, p: &Principal) -> Option<Reason> {
        authorize(r, p, &[], AUTHORITY).err().map(|e| e.reason)
    }

    #[test]
    fn no_requirements_admit_any_verified_token() {
        assert_eq!(reason(&none(), &user(&[])), None);
        assert_eq!(reason(&none(), &daemon(&[])), None);
    }

    #[test]
    fn any_of_scopes_needs_one() {
        let r = Requirements { scopes: need(&["Orders.Read", "Orders.ReadWrite"], Match::Any), ..none() };
        assert_eq!(reason(&r, &user(&["Orders.ReadWrite"])), None);
        assert_eq!(reason(&r, &user(&["Profile.Read"])), Some(Reason::InsufficientScope));
    }

    #[test]
    fn all_of_scopes_needs_every_one() {
        let r = Requirements { scopes: need(&["Orders.Read", "Orders.Write"], Match::All), ..none() };
        assert_eq!(reason(&r, &user(&["Orders.Read", "Orders.Write"])), None);
        assert_eq!(reason(&r, &user(&["Orders.Read"])), Some(Reason::InsufficientScope));
    }

    #[test]
    fn scopes_compare_exactly_and_case_sensitively() {
        let r = Requirements { scopes: need(&["Orders.Read"], Match::Any), ..none() };
        assert_eq!(reason(&r, &user(&["Orders.ReadWrite"])), Some(Reason::InsufficientScope));
        assert_eq!(reason(&r, &user(&["orders.read"])), Some(Reason::InsufficientScope));
        assert_eq!(reason(&r, &user(&["Orders"])), Some(Reason::InsufficientScope));
    }

    #[test]
    fn insufficient_scope_names_the_scopes_that_would_satisfy() {
        let r = Requirements { scopes: need(&["Orders.Read", "Orders.ReadWrite"], Match::Any), ..none() };
        let refusal = authorize(&r, &user(&[]), &[], AUTHORITY).unwrap_err();
        assert_eq!(refusal.scope.as_deref(), Some("Orders.Read Orders.ReadWrite"));
    }

    #[test]
    fn roles_any_and_all() {
        let any = Requirements { roles: need(&["Admin", "Auditor"], Match::Any), ..none() };
        assert_eq!(reason(&any, &daemon(&["Auditor"])), None);
        assert_eq!(reason(&any, &daemon(&["Reader"])), Some(Reason::InsufficientRole));
        let all = Requirements { roles: need(&["Admin", "Auditor"], Match::All), ..none() };
        assert_eq!(reason(&all, &daemon(&["Admin"])), Some(Reason::InsufficientRole));
    }

    #[test]
    fn user_with_an_assigned_app_role_passes_a_role_rule() {
        let r = Requirements { roles: need(&["Admin"], Match::Any), ..none() };
        let admin = user(&[]).with(|p| p.roles = vec!["Admin".into()]);
        assert_eq!(reason(&r, &admin), None);
    }

    #[test]
    fn scopes_and_roles_are_both_required_by_default() {
        let r = Requirements { scopes: need(&["Orders.Read"], Match::Any), roles: need(&["Admin"], Match::Any), ..none() };
        assert_eq!(reason(&r, &user(&["Orders.Read"])), Some(Reason::InsufficientRole));
    }

    #[test]
    fn scope_or_role_lets_users_pass_by_scope_and_daemons_by_role() {
        let r = Requirements {
            scopes: need(&["Orders.Read"], Match::Any),
            roles: need(&["Orders.Read.All"], Match::Any),
            scope_or_role: true,
            ..none()
        };
        assert_eq!(reason(&r, &user(&["Orders.Read"])), None);
        assert_eq!(reason(&r, &daemon(&["Orders.Read.All"])), None);
        assert_eq!(reason(&r, &user(&["Other"])), Some(Reason::InsufficientScope));
        assert_eq!(reason(&r, &daemon(&["Other"])), Some(Reason::InsufficientRole));
    }

    #[test]
    fn token_kind_rules() {
        let delegated = Requirements { token_kind: KindRule::DelegatedOnly, ..none() };
        assert_eq!(reason(&delegated, &daemon(&[])), Some(Reason::DelegatedTokenRequired));
        assert_eq!(reason(&delegated, &user(&[])), None);
        let app = Requirements { token_kind: KindRule::AppOnly, ..none() };
        assert_eq!(reason(&app, &user(&[])), Some(Reason::AppOnlyRequired));
        assert_eq!(reason(&app, &daemon(&[])), None);
    }

    #[test]
    fn client_allow_list() {
        let r = Requirements { clients: Some(vec![SPA.to_uppercase()]), ..none() };
        assert_eq!(reason(&r, &user(&[])), None);
        let other = user(&[]).with(|p| p.client_app_id = Some("7d6c5b4a-3928-4170-b6e5-d4c3b2a19080".into()));
        assert_eq!(reason(&r, &other), Some(Reason::ClientNotAllowed));
        let unknown = user(&[]).with(|p| p.client_app_id = None);
        assert_eq!(reason(&r, &unknown), Some(Reason::ClientNotAllowed));
    }

    #[test]
    fn route_tenant_list_narrows_the_global_one() {
        let r = Requirements { tenants: Some(vec![TenantId::parse(OTHER).unwrap()]), ..none() };
        assert_eq!(reason(&r, &user(&[])), Some(Reason::TenantNotPermitted));
    }

    #[test]
    fn tenant_segment_must_be_the_tokens_own_tenant() {
        let r = Requirements { tenant_segment: Some("tenant".into()), ..none() };
        assert!(authorize(&r, &user(&[]), &[("tenant", TENANT)], AUTHORITY).is_ok());
        assert!(authorize(&r, &user(&[]), &[("tenant", &TENANT.to_uppercase())], AUTHORITY).is_ok());
        let err = authorize(&r, &user(&[]), &[("tenant", OTHER)], AUTHORITY).unwrap_err();
        assert_eq!(err.reason, Reason::TenantMismatch);
        assert_eq!(authorize(&r, &user(&[]), &[], AUTHORITY).unwrap_err().reason, Reason::TenantMismatch);
    }

    #[test]
    fn missing_auth_context_is_a_claims_challenge_for_capable_clients() {
        let r = Requirements { auth_context: Some("c1".into()), ..none() };
        let capable = user(&[]).with(|p| p.client_capabilities = vec!["cp1".into()]);
        let refusal = authorize(&r, &capable, &[], AUTHORITY).unwrap_err();
        assert_eq!(refusal.reason, Reason::InsufficientClaims);
        let step_up = refusal.step_up.unwrap();
        assert_eq!(step_up.authorization_uri, "https://login.microsoftonline.com/common/oauth2/authorize");
        let claims = Base64::decode_vec(&step_up.claims).unwrap();
        assert_eq!(String::from_utf8(claims).unwrap(), r#"{"access_token":{"acrs":{"essential":true,"value":"c1"}}}"#);
    }

    #[test]
    fn missing_auth_context_is_a_plain_403_for_other_clients() {
        let r = Requirements { auth_context: Some("c1".into()), ..none() };
        assert_eq!(reason(&r, &user(&[])), Some(Reason::AuthContextRequired));
        let satisfied = user(&[]).with(|p| p.auth_contexts = vec!["c1".into()]);
        assert_eq!(reason(&r, &satisfied), None);
    }
}
