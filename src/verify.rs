//! Turning an [`UnverifiedToken`] into a [`Principal`]: issuer, key, signature, lifetime
//! and audience, in that order. Pure: keys, configuration and `now` are inputs.

use crate::claims::EntraClaims;
use crate::config::Config;
use crate::discovery::OpenIdMetadata;
use crate::jwks::KeySet;
use crate::principal::{Principal, TokenKind};
use crate::reason::{Reason, Refusal};
use crate::signature::SignatureBackend;
use crate::token::UnverifiedToken;

/// Metadata and signing keys of one tenant (and token version) of the authority.
pub struct TenantKeys<K> {
    pub metadata: OpenIdMetadata,
    pub keys: KeySet<K>,
}

/// Claims whose signature has been checked against the authority's key.
/// Only [`authenticate`] creates one.
struct VerifiedClaims {
    custom: EntraClaims,
    expires_at: Option<i64>,
    not_before: Option<i64>,
}

/// Verifies the token with the tenant's keys and validates its claims at time `now`
/// (seconds since the Unix epoch).
///
/// A `SigningKeyUnknown` refusal tells the caller that refreshing the key set may help.
pub async fn authenticate<B: SignatureBackend>(
    token: UnverifiedToken<'_>,
    tenant_keys: &TenantKeys<B::Key>,
    backend: &B,
    config: &Config,
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
    if !backend.verify(&key.key, token.signing_input.as_bytes(), &token.signature).await {
        return Err(Refusal::new(Reason::SignatureInvalid, "the signature does not verify"));
    }
    let verified = VerifiedClaims {
        expires_at: token.claims.expiration.map(|t| t.timestamp()),
        not_before: token.claims.not_before.map(|t| t.timestamp()),
        custom: token.claims.custom,
    };
    validate(verified, token.tenant, token.version, config, now)
}

fn validate(
    claims: VerifiedClaims,
    tenant: crate::tenant::TenantId,
    version: crate::token_version::TokenVersion,
    config: &Config,
    now: i64,
) -> Result<Principal, Refusal> {
    let skew = i64::try_from(config.clock_skew_seconds).unwrap_or(i64::MAX);
    let expires_at = claims.expires_at.ok_or_else(|| Refusal::new(Reason::ClaimMissing, "the exp claim is missing"))?;
    if now > expires_at.saturating_add(skew) {
        return Err(Refusal::new(Reason::TokenExpired, "the token has expired"));
    }
    if let Some(not_before) = claims.not_before {
        if now < not_before.saturating_sub(skew) {
            return Err(Refusal::new(Reason::TokenNotYetValid, "the token is not valid yet (nbf)"));
        }
    }

    let custom = claims.custom;
    if custom.aud.is_empty() {
        return Err(Refusal::new(Reason::ClaimMissing, "the aud claim is missing"));
    }
    if !custom.aud.iter().any(|aud| config.accepts_audience(aud)) {
        let graph = custom.aud.iter().any(|a| a.starts_with("https://graph.microsoft.com") || a == "00000003-0000-0000-c000-000000000000");
        let detail = if graph {
            "the token is for Microsoft Graph, not this API: request a token for this API's scope"
        } else {
            "the token was issued for another audience"
        };
        return Err(Refusal::new(Reason::AudienceMismatch, detail));
    }
    let subject = custom.sub.filter(|s| !s.is_empty()).ok_or_else(|| Refusal::new(Reason::ClaimMissing, "the sub claim is missing"))?;

    let scopes: Vec<String> = custom.scp.as_deref().unwrap_or("").split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect();
    let kind = match custom.idtyp.as_deref() {
        Some("app") => TokenKind::AppOnly,
        Some("user") => TokenKind::Delegated,
        _ if custom.scp.is_some() => TokenKind::Delegated,
        _ => TokenKind::AppOnly,
    };
    Ok(Principal {
        tenant,
        object_id: custom.oid,
        subject,
        client_app_id: custom.azp.or(custom.appid),
        scopes,
        roles: custom.roles.unwrap_or_default(),
        version,
        kind,
        expires_at,
        auth_contexts: custom.acrs.unwrap_or_default(),
        client_capabilities: custom.xms_cc.unwrap_or_default(),
        username: custom.upn.or(custom.preferred_username),
    })
}
