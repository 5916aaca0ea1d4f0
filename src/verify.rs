//! Turning an [`UnverifiedToken`] into a [`Principal`]: issuer, key, signature, lifetime
//! and audience, in that order. Pure: keys, configuration and `now` are inputs.

use crate::claims::EntraClaims;
use crate::config::TokenRules;
use crate::discovery::OpenIdMetadata;
use crate::jwks::KeySet;
use crate::principal::{Identity, Principal, TokenKind};
use crate::reason::{Reason, Refusal};
use crate::signature::SignatureBackend;
use crate::tenant::TenantId;
use crate::token::UnverifiedToken;
use crate::token_version::TokenVersion;

/// Metadata and signing keys of one tenant (and token version) of the authority.
pub struct TenantKeys<K> {
    pub metadata: OpenIdMetadata,
    pub keys: KeySet<K>,
}

impl<K> TenantKeys<K> {
    /// The key-binding checks of [`authenticate`] for a token of `tenant` signed with `kid`
    /// (published, bound to the tenant's issuer and to this metadata's cloud), without the
    /// signature: for a token verified earlier, when the keys may have changed since.
    pub fn still_trusts(&self, kid: &str, tenant: &TenantId) -> bool {
        self.keys.find(kid).is_some_and(|key| {
            key.may_sign_for(&self.metadata.issuer_for(tenant), tenant)
                && key.belongs_to_cloud(self.metadata.cloud_instance_name.as_deref())
        })
    }
}

/// Proof that a token passed every check of [`authenticate`]: its field is private to this
/// module, so nothing else can make one, and a `Principal` cannot be made without one.
pub struct Verified(());

/// Claims whose signature has been checked against the authority's key.
/// Only [`authenticate`] creates one.
struct VerifiedClaims {
    custom: EntraClaims,
    expires_at: Option<i64>,
    not_before: Option<i64>,
    issued_at: Option<i64>,
}

/// Verifies the token with the tenant's keys and validates its claims at time `now`
/// (seconds since the Unix epoch).
///
/// A `SigningKeyUnknown` refusal tells the caller that refreshing the key set may help.
pub async fn authenticate<B: SignatureBackend>(
    token: UnverifiedToken<'_>,
    tenant_keys: &TenantKeys<B::Key>,
    backend: &B,
    rules: &TokenRules<'_>,
    now: i64,
) -> Result<Principal, Refusal> {
    let expected_issuer = tenant_keys.metadata.issuer_for(&token.tenant);
    if token.claims.custom.iss.as_deref() != Some(expected_issuer.as_str()) {
        return Err(Refusal::new(
            Reason::IssuerMismatch,
            format!("iss must be the issuer of the token's tenant for v{} tokens", token.version),
        ));
    }
    let key = tenant_keys
        .keys
        .find(&token.kid)
        .ok_or_else(|| Refusal::new(Reason::SigningKeyUnknown, "the token's kid is not among the authority's signing keys"))?;
    if !key.may_sign_for(&expected_issuer, &token.tenant) {
        return Err(Refusal::new(Reason::SigningKeyIssuerMismatch, "the signing key is not valid for the token's issuer"));
    }
    if !key.belongs_to_cloud(tenant_keys.metadata.cloud_instance_name.as_deref()) {
        return Err(Refusal::new(Reason::SigningKeyCloudMismatch, "the signing key is published for another cloud than this authority"));
    }
    if !backend.verify(&key.key, token.signing_input.as_bytes(), &token.signature).await {
        return Err(Refusal::new(Reason::SignatureInvalid, "the signature does not verify"));
    }
    let verified = VerifiedClaims {
        expires_at: token.claims.expiration.map(|t| t.timestamp()),
        not_before: token.claims.not_before.map(|t| t.timestamp()),
        issued_at: token.claims.issued_at.map(|t| t.timestamp()),
        custom: token.claims.custom,
    };
    validate(verified, token.tenant, token.version, rules, now)
}

fn validate(
    claims: VerifiedClaims,
    tenant: TenantId,
    version: TokenVersion,
    rules: &TokenRules<'_>,
    now: i64,
) -> Result<Principal, Refusal> {
    let skew = i64::try_from(rules.clock_skew_seconds).unwrap_or(i64::MAX);
    let expires_at = claims.expires_at.ok_or_else(|| Refusal::new(Reason::ClaimMissing, "the exp claim is missing"))?;
    if now > expires_at.saturating_add(skew) {
        return Err(Refusal::new(Reason::TokenExpired, "the token has expired"));
    }
    if let Some(not_before) = claims.not_before {
        if now < not_before.saturating_sub(skew) {
            return Err(Refusal::new(Reason::TokenNotYetValid, "the token is not valid yet (nbf)"));
        }
    }
    // Entra sets iat = nbf; an iat in the future marks a broken clock or a forged token.
    if let Some(issued_at) = claims.issued_at {
        if now < issued_at.saturating_sub(skew) {
            return Err(Refusal::new(Reason::TokenNotYetValid, "the token was issued in the future (iat)"));
        }
    }

    let custom = claims.custom;
    if custom.aud.is_empty() {
        return Err(Refusal::new(Reason::ClaimMissing, "the aud claim is missing"));
    }
    if !custom.aud.iter().any(|aud| rules.accepts_audience(aud)) {
        let graph = custom.aud.iter().any(|a| crate::config::is_graph_audience(a));
        let detail = if graph {
            "the token is for Microsoft Graph, not this API: request a token for this API's scope"
        } else {
            "the token was issued for another audience"
        };
        return Err(Refusal::new(Reason::AudienceMismatch, detail));
    }
    let subject =
        custom.sub.clone().filter(|s| !s.is_empty()).ok_or_else(|| Refusal::new(Reason::ClaimMissing, "the sub claim is missing"))?;

    let client_app_id = calling_app(&custom, version)?;
    let kind = token_kind(&custom, &subject, rules.require_idtyp_for_app_tokens)?;
    let scopes: Vec<String> = custom.scp.as_deref().unwrap_or("").split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect();
    Ok(Principal::verified(
        Verified(()),
        Identity {
            tenant,
            object_id: custom.oid,
            subject,
            client_app_id: Some(client_app_id),
            scopes,
            roles: custom.roles.unwrap_or_default(),
            version,
            kind,
            expires_at,
            issued_at: claims.issued_at,
            auth_contexts: custom.acrs.unwrap_or_default(),
            client_capabilities: custom.xms_cc.unwrap_or_default(),
            username: custom.upn.or(custom.preferred_username),
        },
    ))
}

fn not_an_access_token(why: &str) -> Refusal {
    Refusal::new(Reason::TokenTypeInvalid, format!("{why}: an ID token cannot call an API; request an access token for this API's scope"))
}

/// The calling application. Access tokens always name it (`azp` in v2, `appid` in v1); ID
/// tokens never do, so a token without it is not an access token (RFC 8725 §3.11–3.12).
fn calling_app(custom: &EntraClaims, version: TokenVersion) -> Result<String, Refusal> {
    let ids = custom.id_token_claims();
    if !ids.is_empty() {
        return Err(not_an_access_token(&format!("the token carries {}, which only ID tokens carry", ids.join(", "))));
    }
    let (claim, value) = match version {
        TokenVersion::V2 => ("azp", &custom.azp),
        TokenVersion::V1 => ("appid", &custom.appid),
    };
    match value.as_deref() {
        Some(app) if !app.is_empty() => Ok(app.to_owned()),
        _ => Err(not_an_access_token(&format!("the token has no {claim} (the calling app), which every v{version} access token carries"))),
    }
}

/// Delegated or app-only, from positive evidence only (Microsoft's claims-validation
/// guidance; ENTRA.md "Token kind"):
/// - `idtyp` when present: `app` (and then no `scp`, and `oid` = `sub`) or `user`;
/// - otherwise `scp`, or `oid` ≠ `sub`, means a user; `oid` = `sub` without `scp` means the
///   service principal itself (unless `require_idtyp` asks for `idtyp = app`);
/// - anything else (no `oid`, no `scp`; contradictions) is not a token this API can trust
///   to say who is calling.
fn token_kind(custom: &EntraClaims, subject: &str, require_idtyp: bool) -> Result<TokenKind, Refusal> {
    let invalid = |detail: &str| Refusal::new(Reason::TokenTypeInvalid, detail);
    let oid_is_sub = custom.oid.as_deref() == Some(subject);
    let oid_differs = custom.oid.as_deref().is_some_and(|oid| oid != subject);
    if custom.scp.as_deref().is_some_and(|scp| scp.trim().is_empty()) {
        // Entra omits scp rather than sending it empty: an empty one is evidence of nothing.
        return Err(invalid("scp is present but names no scope"));
    }
    match custom.idtyp.as_deref() {
        Some("app") if custom.scp.is_some() => Err(invalid("idtyp says app-only but the token carries delegated scopes (scp)")),
        Some("app") if !oid_is_sub => Err(invalid("idtyp says app-only but oid is not the token's subject")),
        Some("app") => Ok(TokenKind::AppOnly),
        // A user's sub is pairwise per app and never equals their oid.
        Some("user") if custom.scp.is_none() && !oid_differs => Err(invalid("idtyp says user but nothing else in the token names a user")),
        Some("user") => Ok(TokenKind::Delegated),
        Some(_) => Err(invalid("idtyp must be app or user")),
        None if custom.scp.is_some() || oid_differs => Ok(TokenKind::Delegated),
        None if oid_is_sub && require_idtyp => {
            Err(invalid("app-only tokens must carry idtyp = app (enable the idtyp optional claim for this API)"))
        }
        None if oid_is_sub => Ok(TokenKind::AppOnly),
        None => Err(invalid("the token has neither scp nor oid, so nothing says whether a user or an application is calling")),
    }
}
