//! Turning an [`UnverifiedToken`] into a [`Principal`]: issuer, key, signature, lifetime
//! and audience, in that order. Pure: keys, configuration and `now` are inputs.

use std::future::Future;

use crate::claim_rules::HeldClaims;
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
use crate::trace::Trace;

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
    held: Option<Box<HeldClaims>>,
    expires_at: Option<i64>,
    not_before: Option<i64>,
    issued_at: Option<i64>,
}

/// Verifies the token with the tenant's keys and validates its claims at time `now`
/// (seconds since the Unix epoch).
///
/// A `SigningKeyUnknown` refusal tells the caller that refreshing the key set may help.
///
/// Not an `async fn` itself: it returns [`authenticate_traced`]'s future as is, so the
/// request path holds one state machine, not a wrapper around it.
pub fn authenticate<'a, 't, B: SignatureBackend>(
    token: UnverifiedToken<'t>,
    tenant_keys: &'a TenantKeys<B::Key>,
    backend: &'a B,
    rules: &'a TokenRules<'a>,
    now: i64,
) -> impl Future<Output = Result<Principal, Refusal>> + use<'a, 't, B> {
    authenticate_traced(token, tenant_keys, backend, rules, now, ())
}

/// [`authenticate`], naming each check to `trace` before it runs (`explain`).
pub async fn authenticate_traced<B: SignatureBackend>(
    token: UnverifiedToken<'_>,
    tenant_keys: &TenantKeys<B::Key>,
    backend: &B,
    rules: &TokenRules<'_>,
    now: i64,
    mut trace: impl Trace,
) -> Result<Principal, Refusal> {
    let awaiting = prepare_traced(token, tenant_keys, &mut trace)?;
    trace.check("signature");
    let valid = backend.verify(awaiting.key(), awaiting.signing_input().as_bytes(), awaiting.signature()).await;
    awaiting.conclude_traced(valid, rules, now, trace)
}

/// A token that passed every check before its signature (issuer, tenant, key binding):
/// the key, signing input and signature to check, and the claims that [`conclude`]
/// validates once the signature backend has answered. [`prepare`] is the only way to
/// make one and `conclude` the only way on to a [`Principal`], so the signature check
/// cannot be skipped by construction: only by the caller reporting a verdict it never
/// asked for. It can own its parts ([`into_owned`]) to wait for the backend outside a
/// Rust future (the worker's one-call path, `src/edge/mod.rs`).
///
/// [`conclude`]: AwaitingSignature::conclude
/// [`into_owned`]: AwaitingSignature::into_owned
// Its fields are private: nothing between `prepare` and `conclude` can change what is checked
// (the claims `conclude` reads are the ones whose signature was checked).
pub struct AwaitingSignature<'a, K> {
    key: K,
    signing_input: std::borrow::Cow<'a, str>,
    signature: Vec<u8>,
    claims: jwt_compact::Claims<EntraClaims>,
    tenant: TenantId,
    version: TokenVersion,
}

/// The checks of [`authenticate`] before the signature.
pub fn prepare<'a, K: Clone>(token: UnverifiedToken<'a>, tenant_keys: &TenantKeys<K>) -> Result<AwaitingSignature<'a, K>, Refusal> {
    prepare_traced(token, tenant_keys, &mut ())
}

fn prepare_traced<'a, K: Clone>(
    token: UnverifiedToken<'a>,
    tenant_keys: &TenantKeys<K>,
    trace: &mut impl Trace,
) -> Result<AwaitingSignature<'a, K>, Refusal> {
    trace.check("claims.iss");
    let expected_issuer = tenant_keys.metadata.issuer_for(&token.tenant);
    if token.claims.custom.iss.as_deref() != Some(expected_issuer.as_str()) {
        return Err(Refusal::new(
            Reason::IssuerMismatch,
            format!("iss must be the issuer of the token's tenant for v{} tokens", token.version),
        ));
    }
    trace.check("token.issuer_names_tid");
    // tid decides the tenant everything downstream trusts (route tenants, tenant isolation,
    // rate-limit keys, x-entra-tenant-id): the issuer that vouches for the token must name it.
    // With a tenant's own metadata this holds by construction; with a multi-tenant template
    // (`{tenantid}`) it is what the substitution gives; a concrete issuer of another tenant
    // in multi-tenant metadata would otherwise let a token choose its tid.
    if !expected_issuer.split('/').any(|segment| segment.eq_ignore_ascii_case(token.tenant.as_str())) {
        return Err(Refusal::new(Reason::IssuerMismatch, "the issuer does not name the token's tenant (tid)"));
    }
    trace.check("key.kid");
    let key = tenant_keys
        .keys
        .find(&token.kid)
        .ok_or_else(|| Refusal::new(Reason::SigningKeyUnknown, "the token's kid is not among the authority's signing keys"))?;
    trace.check("key.issuer");
    if !key.may_sign_for(&expected_issuer, &token.tenant) {
        return Err(Refusal::new(Reason::SigningKeyIssuerMismatch, "the signing key is not valid for the token's issuer"));
    }
    trace.check("key.cloud");
    if !key.belongs_to_cloud(tenant_keys.metadata.cloud_instance_name.as_deref()) {
        return Err(Refusal::new(Reason::SigningKeyCloudMismatch, "the signing key is published for another cloud than this authority"));
    }
    Ok(AwaitingSignature {
        key: key.key.clone(),
        signing_input: std::borrow::Cow::Borrowed(token.signing_input),
        signature: token.signature,
        claims: token.claims,
        tenant: token.tenant,
        version: token.version,
    })
}

impl<K> AwaitingSignature<'_, K> {
    /// The authority's key the token names (`kid`), bound to its issuer and cloud.
    pub fn key(&self) -> &K {
        &self.key
    }

    /// The JWS signing input, `header.payload` (RFC 7515 §5.2), as the token carried it.
    pub fn signing_input(&self) -> &str {
        &self.signing_input
    }

    /// The decoded signature.
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// The same check, owning its signing input (to wait beyond the token's borrow).
    pub fn into_owned(self) -> AwaitingSignature<'static, K> {
        AwaitingSignature {
            key: self.key,
            signing_input: std::borrow::Cow::Owned(self.signing_input.into_owned()),
            signature: self.signature,
            claims: self.claims,
            tenant: self.tenant,
            version: self.version,
        }
    }

    /// The rest of [`authenticate`], given the backend's verdict on the signature
    /// (`signature_valid`: RSASSA-PKCS1-v1_5 with SHA-256 over `signing_input` under `key`
    /// verified): refused with `signature_invalid` unless it verified, then the claims.
    pub fn conclude(self, signature_valid: bool, rules: &TokenRules<'_>, now: i64) -> Result<Principal, Refusal> {
        self.conclude_traced(signature_valid, rules, now, ())
    }

    fn conclude_traced(self, signature_valid: bool, rules: &TokenRules<'_>, now: i64, mut trace: impl Trace) -> Result<Principal, Refusal> {
        if !signature_valid {
            return Err(Refusal::new(Reason::SignatureInvalid, "the signature does not verify"));
        }
        let held = if rules.claim_names.is_empty() {
            None
        } else {
            trace.check("claims.unique");
            Some(Box::new(held_claims(&self.signing_input, rules.claim_names)?))
        };
        let verified = VerifiedClaims {
            held,
            expires_at: self.claims.expiration.map(|t| t.timestamp()),
            not_before: self.claims.not_before.map(|t| t.timestamp()),
            issued_at: self.claims.issued_at.map(|t| t.timestamp()),
            custom: self.claims.custom,
        };
        validate(verified, self.tenant, self.version, rules, now, trace)
    }
}

fn validate(
    claims: VerifiedClaims,
    tenant: TenantId,
    version: TokenVersion,
    rules: &TokenRules<'_>,
    now: i64,
    mut trace: impl Trace,
) -> Result<Principal, Refusal> {
    let skew = i64::try_from(rules.clock_skew_seconds).unwrap_or(i64::MAX);
    trace.check("claims.exp");
    let expires_at = claims.expires_at.ok_or_else(|| Refusal::new(Reason::ClaimMissing, "the exp claim is missing"))?;
    if now > expires_at.saturating_add(skew) {
        return Err(Refusal::new(Reason::TokenExpired, "the token has expired"));
    }
    trace.check("claims.nbf");
    if let Some(not_before) = claims.not_before {
        if now < not_before.saturating_sub(skew) {
            return Err(Refusal::new(Reason::TokenNotYetValid, "the token is not valid yet (nbf)"));
        }
    }
    trace.check("claims.iat");
    // Entra sets iat = nbf; an iat in the future marks a broken clock or a forged token.
    if let Some(issued_at) = claims.issued_at {
        if now < issued_at.saturating_sub(skew) {
            return Err(Refusal::new(Reason::TokenNotYetValid, "the token was issued in the future (iat)"));
        }
    }

    let custom = claims.custom;
    trace.check("claims.aud");
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
    trace.check("claims.sub");
    let subject =
        custom.sub.clone().filter(|s| !s.is_empty()).ok_or_else(|| Refusal::new(Reason::ClaimMissing, "the sub claim is missing"))?;

    trace.check("token.access_token");
    let client_app_id = calling_app(&custom, version)?;
    trace.check("token.kind");
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
            claims: claims.held,
        },
    ))
}

/// The claims the routes' claim rules name, read from the (verified) payload of
/// `signing_input` (`header.payload`). Only runs when some route has claim rules.
fn held_claims(signing_input: &str, names: &[String]) -> Result<HeldClaims, Refusal> {
    use base64ct::{Base64UrlUnpadded, Encoding};
    let malformed = || Refusal::new(Reason::TokenMalformed, "token claims are not a JSON object");
    let payload = signing_input.split_once('.').map(|(_, payload)| payload).ok_or_else(malformed)?;
    let bytes = Base64UrlUnpadded::decode_vec(payload).map_err(|_| malformed())?;
    let claims: crate::claim_rules::UniqueKeys = serde_json::from_slice(&bytes)
        .map_err(|_| Refusal::new(Reason::TokenMalformed, "token claims are not a JSON object with unique names"))?;
    Ok(HeldClaims::keep(&claims.0, names))
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
