//! The verified caller: what every later stage (authorization, rate limits, identity
//! headers) is allowed to know about a request.

use crate::claim_rules::HeldClaims;
use crate::tenant::TenantId;
use crate::token_version::TokenVersion;
use crate::verify::Verified;

/// Whether the token acts for a user or for an application alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    /// A user signed in; permissions are in `scp`.
    Delegated,
    /// A daemon (client credentials); permissions are in `roles`.
    AppOnly,
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Delegated => "delegated",
            TokenKind::AppOnly => "app",
        }
    }
}

/// An authenticated caller. Only `verify::authenticate` creates one, after the signature,
/// issuer, tenant, audience, lifetime and token-type checks have all passed: its only
/// constructor needs a [`Verified`] proof, which only the `verify` module can make.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal(Identity);

/// What a [`Principal`] says about the caller (built by `verify`; read through the accessors).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Identity {
    pub(crate) tenant: TenantId,
    pub(crate) object_id: Option<String>,
    pub(crate) subject: String,
    pub(crate) client_app_id: Option<String>,
    pub(crate) scopes: Vec<String>,
    pub(crate) roles: Vec<String>,
    pub(crate) version: TokenVersion,
    pub(crate) kind: TokenKind,
    pub(crate) expires_at: i64,
    /// `iat`, seconds since the Unix epoch (Entra always sends it).
    pub(crate) issued_at: Option<i64>,
    pub(crate) auth_contexts: Vec<String>,
    pub(crate) client_capabilities: Vec<String>,
    /// `upn` (v1) or `preferred_username` (v2): for logs only, never for decisions.
    pub(crate) username: Option<String>,
    /// The claims some route's claim rules name (None when no route has claim rules).
    pub(crate) claims: Option<Box<HeldClaims>>,
}

impl Principal {
    /// The one way to make a `Principal`: with the proof that verification passed.
    pub(crate) fn verified(_proof: Verified, identity: Identity) -> Principal {
        Principal(identity)
    }

    /// A copy changed by `f`, for tests that need a caller of some shape.
    #[cfg(test)]
    pub(crate) fn with(mut self, f: impl FnOnce(&mut Identity)) -> Principal {
        f(&mut self.0);
        self
    }

    pub fn tenant(&self) -> &TenantId {
        &self.0.tenant
    }
    /// `oid`: stable for the user or service principal across apps in the tenant.
    pub fn object_id(&self) -> Option<&str> {
        self.0.object_id.as_deref()
    }
    pub fn subject(&self) -> &str {
        &self.0.subject
    }
    /// `azp` (v2) or `appid` (v1).
    pub fn client_app_id(&self) -> Option<&str> {
        self.0.client_app_id.as_deref()
    }
    /// Delegated permissions (`scp`), split on spaces.
    pub fn scopes(&self) -> &[String] {
        &self.0.scopes
    }
    /// App roles / app permissions (`roles`).
    pub fn roles(&self) -> &[String] {
        &self.0.roles
    }
    pub fn version(&self) -> TokenVersion {
        self.0.version
    }
    pub fn kind(&self) -> TokenKind {
        self.0.kind
    }
    /// `exp`, seconds since the Unix epoch.
    pub fn expires_at(&self) -> i64 {
        self.0.expires_at
    }
    /// `iat`, seconds since the Unix epoch: when the token was issued (revocation
    /// "issued before" bounds compare it).
    pub fn issued_at(&self) -> Option<i64> {
        self.0.issued_at
    }
    /// Conditional Access auth contexts (`acrs`).
    pub fn auth_contexts(&self) -> &[String] {
        &self.0.auth_contexts
    }
    /// `upn` or `preferred_username`: display only (mutable, not unique across tenants).
    pub fn username(&self) -> Option<&str> {
        self.0.username.as_deref()
    }
    /// The claims named by the configuration's claim rules, as the token carried them.
    pub fn held_claims(&self) -> Option<&HeldClaims> {
        self.0.claims.as_deref()
    }
    /// Client capabilities (`xms_cc`).
    pub fn client_capabilities(&self) -> &[String] {
        &self.0.client_capabilities
    }
}

/// A verified delegated v2 caller for unit tests; adjust with `.with(|p| …)`.
#[cfg(test)]
pub(crate) fn sample() -> Principal {
    Principal(Identity {
        tenant: TenantId::parse("3c6d1c5e-8f0a-4b8e-9d3c-2a1f6e7b9c41").unwrap(),
        object_id: Some("d621d57a-9995-4e93-9180-4eef25206cff".into()),
        subject: "s".into(),
        client_app_id: Some("0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d".into()),
        scopes: vec![],
        roles: vec![],
        version: TokenVersion::V2,
        kind: TokenKind::Delegated,
        expires_at: 0,
        issued_at: None,
        auth_contexts: vec![],
        client_capabilities: vec![],
        username: Some("adele@contoso.example".into()),
        claims: None,
    })
}
