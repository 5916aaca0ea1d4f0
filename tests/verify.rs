//! Token verification, end to end through the pure core: parse → keys → signature →
//! claims → Principal, with the native RSA backend and a fixed clock.

mod common;

use common::*;
use entra_edge::config::Config;
use entra_edge::principal::{Principal, TokenKind};
use entra_edge::reason::Reason;
use entra_edge::signature::NativeRsa;
use entra_edge::token::UnverifiedToken;
use entra_edge::token_version::TokenVersion;
use entra_edge::verify::authenticate;
use serde_json::{json, Value};

fn keys_for(version: TokenVersion) -> entra_edge::verify::TenantKeys<jwt_compact::alg::RsaPublicKey> {
    let jwks = test_keys().into_iter().map(|k| k.jwk).collect();
    match version {
        TokenVersion::V1 => tenant_keys(jwks, "https://sts.windows.net/{tenantid}/"),
        TokenVersion::V2 => tenant_keys(jwks, "https://login.microsoftonline.com/{tenantid}/v2.0"),
    }
}

fn check_with(token: &str, config: &Config, now: i64) -> Result<Principal, Reason> {
    let unverified = UnverifiedToken::parse(token, &config.token_rules()).map_err(|r| r.reason)?;
    let keys = keys_for(unverified.version());
    block_on(authenticate(unverified, &keys, &NativeRsa, &config.token_rules(), now)).map_err(|r| r.reason)
}

fn check(token: &str) -> Result<Principal, Reason> {
    check_with(token, &config(), NOW)
}

fn signed(claims: Value) -> String {
    let keys = test_keys();
    sign(&header(&keys[0].kid), &claims, &keys[0].private)
}

fn with(mut claims: Value, patch: Value) -> Value {
    for (k, v) in patch.as_object().unwrap() {
        claims[k] = v.clone();
    }
    claims
}

fn without(mut claims: Value, name: &str) -> Value {
    claims.as_object_mut().unwrap().remove(name);
    claims
}

fn with_header(patch: Value) -> String {
    let keys = test_keys();
    let mut h = header(&keys[0].kid);
    for (k, v) in patch.as_object().unwrap() {
        h[k] = v.clone();
    }
    sign(&h, &v2_claims(), &keys[0].private)
}

// ---- accepted tokens -------------------------------------------------------------------

#[test]
fn valid_v2_delegated_token_yields_a_principal() {
    let p = check(&signed(v2_claims())).unwrap();
    assert_eq!(p.tenant().as_str(), TENANT);
    assert_eq!(p.object_id(), Some("d621d57a-9995-4e93-9180-4eef25206cff"));
    assert_eq!(p.client_app_id(), Some("0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d"));
    assert_eq!(p.scopes(), ["Orders.Read", "Orders.Write"]);
    assert!(p.roles().is_empty());
    assert_eq!(p.kind(), TokenKind::Delegated);
    assert_eq!(p.version(), TokenVersion::V2);
    assert_eq!(p.expires_at(), NOW + 3600);
}

#[test]
fn valid_v1_app_only_token_yields_a_principal() {
    let p = check(&signed(v1_app_claims())).unwrap();
    assert_eq!(p.version(), TokenVersion::V1);
    assert_eq!(p.kind(), TokenKind::AppOnly);
    assert_eq!(p.client_app_id(), Some("7d6c5b4a-3928-4170-b6e5-d4c3b2a19080"));
    assert_eq!(p.roles(), ["Orders.Read.All"]);
    assert!(p.scopes().is_empty());
}

// ---- what kind of token: positive evidence only (ENTRA.md "Token kind") ------------------

/// A v2 app-only token: the service principal is its own subject, no `scp`.
fn v2_app_claims() -> Value {
    let sp = "7d6c5b4a-0000-4170-b6e5-d4c3b2a19080";
    with(without(v2_claims(), "scp"), json!({ "oid": sp, "sub": sp, "roles": ["Jobs.Run"], "idtyp": "app" }))
}

/// An ID token Entra issues when the API's own registration signs a user in.
fn v2_id_token_claims() -> Value {
    with(without(without(v2_claims(), "scp"), "azp"), json!({ "nonce": "n-0S6_WzA2Mj", "roles": ["Admin"] }))
}

fn token_type_of(claims: Value) -> Result<TokenKind, Reason> {
    check(&signed(claims)).map(|p| p.kind())
}

#[test]
fn idtyp_app_with_oid_equal_to_sub_is_app_only() {
    assert_eq!(token_type_of(v2_app_claims()), Ok(TokenKind::AppOnly));
}

#[test]
fn oid_equal_to_sub_without_scp_is_app_only_without_idtyp() {
    assert_eq!(token_type_of(without(v2_app_claims(), "idtyp")), Ok(TokenKind::AppOnly));
}

#[test]
fn app_only_token_without_idtyp_is_refused_when_idtyp_is_required() {
    let config = config_with(json!({ "require_idtyp_for_app_tokens": true }));
    assert_eq!(check_with(&signed(without(v2_app_claims(), "idtyp")), &config, NOW).map(|p| p.kind()), Err(Reason::TokenTypeInvalid));
    assert_eq!(check_with(&signed(v2_app_claims()), &config, NOW).map(|p| p.kind()), Ok(TokenKind::AppOnly));
    assert_eq!(check_with(&signed(v2_claims()), &config, NOW).map(|p| p.kind()), Ok(TokenKind::Delegated));
}

#[test]
fn user_token_with_only_an_assigned_app_role_is_delegated() {
    let claims = with(without(v2_claims(), "scp"), json!({ "roles": ["Admin"] }));
    assert_eq!(token_type_of(claims), Ok(TokenKind::Delegated));
}

#[test]
fn idtyp_user_is_delegated() {
    assert_eq!(token_type_of(with(v2_claims(), json!({ "idtyp": "user" }))), Ok(TokenKind::Delegated));
}

#[test]
fn id_token_for_the_api_is_not_an_access_token() {
    assert_eq!(token_type_of(v2_id_token_claims()), Err(Reason::TokenTypeInvalid));
    // Even with the calling app added, its nonce gives it away.
    assert_eq!(token_type_of(with(v2_id_token_claims(), json!({ "azp": CLIENT_ID }))), Err(Reason::TokenTypeInvalid));
}

#[test]
fn id_token_only_claims_are_refused_one_by_one() {
    for claim in ["nonce", "at_hash", "c_hash"] {
        assert_eq!(token_type_of(with(v2_claims(), json!({ claim: "x" }))), Err(Reason::TokenTypeInvalid), "{claim}");
    }
}

#[test]
fn v2_access_token_without_azp_is_refused() {
    assert_eq!(token_type_of(without(v2_claims(), "azp")), Err(Reason::TokenTypeInvalid));
    assert_eq!(token_type_of(with(without(v2_claims(), "azp"), json!({ "appid": CLIENT_ID }))), Err(Reason::TokenTypeInvalid));
}

#[test]
fn v1_access_token_without_appid_is_refused() {
    assert_eq!(token_type_of(without(v1_app_claims(), "appid")), Err(Reason::TokenTypeInvalid));
}

#[test]
fn idtyp_app_with_scp_is_contradictory() {
    assert_eq!(token_type_of(with(v2_app_claims(), json!({ "scp": "Orders.Read" }))), Err(Reason::TokenTypeInvalid));
}

#[test]
fn idtyp_app_with_oid_other_than_sub_is_contradictory() {
    assert_eq!(token_type_of(with(v2_claims(), json!({ "idtyp": "app" }))), Err(Reason::TokenTypeInvalid));
    assert_eq!(token_type_of(without(v2_app_claims(), "oid")), Err(Reason::TokenTypeInvalid));
}

#[test]
fn empty_scp_is_no_evidence_of_a_user() {
    for scp in ["", " ", "  "] {
        assert_eq!(token_type_of(with(without(v2_app_claims(), "idtyp"), json!({ "scp": scp }))), Err(Reason::TokenTypeInvalid), "{scp:?}");
    }
}

#[test]
fn idtyp_user_without_any_other_sign_of_a_user_is_contradictory() {
    assert_eq!(token_type_of(with(without(v2_app_claims(), "idtyp"), json!({ "idtyp": "user" }))), Err(Reason::TokenTypeInvalid));
}

#[test]
fn unknown_idtyp_is_refused() {
    assert_eq!(token_type_of(with(v2_claims(), json!({ "idtyp": "device" }))), Err(Reason::TokenTypeInvalid));
}

#[test]
fn token_with_neither_oid_nor_scp_is_refused() {
    assert_eq!(token_type_of(without(without(v2_claims(), "scp"), "oid")), Err(Reason::TokenTypeInvalid));
}

#[test]
fn issued_in_the_future_beyond_the_skew_is_refused() {
    assert_eq!(token_type_of(with(v2_claims(), json!({ "iat": NOW + 301 }))), Err(Reason::TokenNotYetValid));
    assert!(token_type_of(with(v2_claims(), json!({ "iat": NOW + 300 }))).is_ok());
}

// ---- signing-key provenance --------------------------------------------------------------

fn check_in_cloud(token: &str, metadata_cloud: Option<&str>, key_cloud: Option<&str>) -> Result<Principal, Reason> {
    let config = config();
    let unverified = UnverifiedToken::parse(token, &config.token_rules()).map_err(|r| r.reason)?;
    let jwks = test_keys()
        .into_iter()
        .map(|k| {
            let mut jwk = k.jwk;
            jwk["issuer"] = "https://login.microsoftonline.com/{tenantid}/v2.0".into();
            if let Some(cloud) = key_cloud {
                jwk["cloud_instance_name"] = cloud.into();
            }
            jwk
        })
        .collect();
    let keys = tenant_keys_in_cloud(jwks, "https://login.microsoftonline.com/{tenantid}/v2.0", metadata_cloud);
    block_on(authenticate(unverified, &keys, &NativeRsa, &config.token_rules(), NOW)).map_err(|r| r.reason)
}

#[test]
fn key_tagged_for_another_cloud_is_refused() {
    let token = signed(v2_claims());
    assert_eq!(
        check_in_cloud(&token, Some("microsoftonline.com"), Some("microsoftonline.us")).err(),
        Some(Reason::SigningKeyCloudMismatch)
    );
}

#[test]
fn a_verified_token_is_no_longer_trusted_once_its_key_is_tagged_for_another_cloud() {
    let tenant = entra_edge::tenant::TenantId::parse(TENANT).unwrap();
    let kid = test_keys()[0].kid.clone();
    let keys = |key_cloud: Option<&str>| {
        let jwks = test_keys()
            .into_iter()
            .map(|k| {
                let mut jwk = k.jwk;
                if let Some(cloud) = key_cloud {
                    jwk["cloud_instance_name"] = cloud.into();
                }
                jwk
            })
            .collect();
        tenant_keys_in_cloud(jwks, "https://login.microsoftonline.com/{tenantid}/v2.0", Some("microsoftonline.com"))
    };
    assert!(keys(None).still_trusts(&kid, &tenant));
    assert!(!keys(Some("microsoftonline.us")).still_trusts(&kid, &tenant));
    assert!(!keys(None).still_trusts("retired", &tenant));
}

#[test]
fn key_of_the_metadata_cloud_or_untagged_verifies() {
    let token = signed(v2_claims());
    assert!(check_in_cloud(&token, Some("microsoftonline.com"), Some("microsoftonline.com")).is_ok());
    assert!(check_in_cloud(&token, Some("microsoftonline.com"), None).is_ok());
    assert!(check_in_cloud(&token, None, Some("microsoftonline.us")).is_ok());
}

#[test]
fn second_published_key_verifies_too() {
    let keys = test_keys();
    assert!(check(&sign(&header(&keys[1].kid), &v2_claims(), &keys[1].private)).is_ok());
}

#[test]
fn either_configured_audience_is_accepted() {
    assert!(check(&signed(with(v2_claims(), json!({ "aud": APP_ID_URI })))).is_ok());
    assert!(check(&signed(with(v2_claims(), json!({ "aud": ["https://other", CLIENT_ID] })))).is_ok());
}

#[test]
fn second_allowed_tenant_is_accepted() {
    let claims = with(v2_claims(), json!({ "tid": OTHER_TENANT, "iss": v2_issuer(OTHER_TENANT) }));
    assert_eq!(check(&signed(claims)).unwrap().tenant().as_str(), OTHER_TENANT);
}

#[test]
fn expiry_within_clock_skew_is_accepted() {
    assert!(check_with(&signed(v2_claims()), &config(), NOW + 3600 + 300).is_ok());
}

#[test]
fn not_before_within_clock_skew_is_accepted() {
    assert!(check(&signed(with(v2_claims(), json!({ "nbf": NOW + 300 })))).is_ok());
}

#[test]
fn token_without_nbf_is_accepted() {
    assert!(check(&signed(without(v2_claims(), "nbf"))).is_ok());
}

// ---- any-tenant mode (tenants = ["*"]) -------------------------------------------------

fn any_tenant(patch: Value) -> Config {
    config_with(with(json!({ "tenants": ["*"] }), patch))
}

#[test]
fn any_tenant_mode_accepts_a_tenant_it_never_listed() {
    let claims = with(v2_claims(), json!({ "tid": FOREIGN_TENANT, "iss": v2_issuer(FOREIGN_TENANT) }));
    let principal = check_with(&signed(claims), &any_tenant(json!({})), NOW).unwrap();
    assert_eq!(principal.tenant().as_str(), FOREIGN_TENANT);
}

#[test]
fn any_tenant_mode_refuses_a_tid_that_is_not_the_issuers_tenant() {
    let claims = with(v2_claims(), json!({ "tid": FOREIGN_TENANT, "iss": v2_issuer(TENANT) }));
    assert_eq!(check_with(&signed(claims), &any_tenant(json!({})), NOW).unwrap_err(), Reason::IssuerMismatch);
}

#[test]
fn any_tenant_mode_refuses_a_denied_tenant_before_any_key_is_used() {
    let claims = with(v2_claims(), json!({ "tid": FOREIGN_TENANT, "iss": v2_issuer(FOREIGN_TENANT) }));
    let config = any_tenant(json!({ "denied_tenants": [FOREIGN_TENANT] }));
    assert_eq!(UnverifiedToken::parse(&signed(claims), &config.token_rules()).err().map(|r| r.reason), Some(Reason::TenantNotAllowed));
}

#[test]
fn any_tenant_mode_refuses_personal_accounts_unless_named() {
    const CONSUMERS: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";
    let claims = with(v2_claims(), json!({ "tid": CONSUMERS, "iss": v2_issuer(CONSUMERS) }));
    assert_eq!(check_with(&signed(claims.clone()), &any_tenant(json!({})), NOW).unwrap_err(), Reason::TenantNotAllowed);
    assert!(check_with(&signed(claims), &any_tenant(json!({ "tenants": ["*", CONSUMERS] })), NOW).is_ok());
}

#[test]
fn a_concrete_issuer_must_name_the_tokens_tenant() {
    // Multi-tenant metadata whose issuer is one tenant's, not a template: a token of
    // another tid with that issuer must not pass as its own tid.
    let keys = tenant_keys(test_keys().into_iter().map(|k| k.jwk).collect(), &v2_issuer(TENANT));
    let claims = with(v2_claims(), json!({ "tid": OTHER_TENANT, "iss": v2_issuer(TENANT) }));
    let token = signed(claims);
    let config = config();
    let unverified = UnverifiedToken::parse(&token, &config.token_rules()).unwrap();
    let result = block_on(authenticate(unverified, &keys, &NativeRsa, &config.token_rules(), NOW));
    assert_eq!(result.err().map(|r| r.reason), Some(Reason::IssuerMismatch));
}

// ---- claim rules ----------------------------------------------------------------------

fn claims_route_config() -> Config {
    config_with(json!({ "routes": [{ "path": "/**", "claims": [{ "name": "groups", "values": ["g-admins"] }] }] }))
}

fn claims_route_outcome(claims: Value) -> Result<(), Reason> {
    let config = claims_route_config();
    let principal = check_with(&signed(claims), &config, NOW)?;
    let entra_edge::policy::Access::Authenticated(requirements) = &config.routes.routes()[0].access else { unreachable!() };
    entra_edge::policy::authorize(requirements, &principal, &[], "https://login.microsoftonline.com").map_err(|r| r.reason)
}

#[test]
fn a_claim_named_by_a_route_rule_is_kept_from_the_verified_token() {
    assert_eq!(claims_route_outcome(with(v2_claims(), json!({ "groups": ["g-users", "g-admins"] }))), Ok(()));
    assert_eq!(claims_route_outcome(with(v2_claims(), json!({ "groups": ["g-users"] }))), Err(Reason::ClaimRuleFailed));
}

#[test]
fn a_claim_rule_on_a_claim_of_another_type_fails_closed() {
    assert_eq!(
        claims_route_outcome(with(v2_claims(), json!({ "groups": "g-admins" }))),
        Ok(()),
        "a single string is compared as one value"
    );
    assert_eq!(claims_route_outcome(with(v2_claims(), json!({ "groups": { "g-admins": true } }))), Err(Reason::ClaimRuleFailed));
    assert_eq!(claims_route_outcome(with(v2_claims(), json!({ "groups": [["g-admins"]] }))), Err(Reason::ClaimRuleFailed));
}

#[test]
fn a_token_whose_groups_were_moved_out_is_refused_as_groups_overage() {
    let overage = json!({ "_claim_names": { "groups": "src1" }, "_claim_sources": { "src1": { "endpoint": "https://graph.microsoft.com/v1.0/users/x/getMemberObjects" } } });
    assert_eq!(claims_route_outcome(with(v2_claims(), overage)), Err(Reason::GroupsOverage));
}

#[test]
fn without_claim_rules_no_claim_is_kept() {
    let principal = check(&signed(with(v2_claims(), json!({ "groups": ["g-admins"] })))).unwrap();
    assert!(principal.held_claims().is_none());
}

// ---- RFC 8725: algorithms and header parameters ----------------------------------------

#[test]
fn alg_none_is_refused() {
    let token = format!("{}.{}.", encode(&json!({ "alg": "none", "kid": "test-key-1" })), encode(&v2_claims()));
    assert_eq!(check(&token), Err(Reason::AlgorithmNotAllowed));
}

#[test]
fn hs256_signed_with_the_public_key_is_refused() {
    use hmac_sha256::sign_hs256;
    let keys = test_keys();
    let secret = keys[0].jwk.to_string();
    let token = sign_hs256(&json!({ "alg": "HS256", "kid": keys[0].kid }), &v2_claims(), secret.as_bytes());
    assert_eq!(check(&token), Err(Reason::AlgorithmNotAllowed));
}

#[test]
fn other_rsa_algorithms_are_refused() {
    for alg in ["RS384", "RS512", "PS256", "ES256", "rs256"] {
        assert_eq!(check(&with_header(json!({ "alg": alg }))), Err(Reason::AlgorithmNotAllowed), "{alg}");
    }
}

#[test]
fn key_material_named_or_carried_by_the_token_is_refused() {
    for (name, value) in [
        ("jku", json!("https://evil.example/keys")),
        ("x5u", json!("https://evil.example/cert.pem")),
        ("jwk", json!({ "kty": "RSA", "n": "AQAB", "e": "AQAB" })),
        ("x5c", json!(["MIIB"])),
        ("jwk", Value::Null),
        // Found by the token fuzz property: jwt-compact reads a null `jku`/`x5u` as absent.
        ("jku", Value::Null),
        ("x5u", Value::Null),
    ] {
        assert_eq!(check(&with_header(json!({ name: value }))), Err(Reason::HeaderNotAllowed), "{name}");
    }
}

#[test]
fn critical_header_extensions_are_refused() {
    assert_eq!(check(&with_header(json!({ "crit": ["exp"], "exp": 1 }))), Err(Reason::HeaderNotAllowed));
}

#[test]
fn content_type_header_is_refused() {
    assert_eq!(check(&with_header(json!({ "cty": "JWT" }))), Err(Reason::HeaderNotAllowed));
    // Found by the token fuzz property: jwt-compact takes `cty: "json"` (any case) and a null
    // `cty` as its default content type, so they passed.
    for value in [json!("JSON"), json!("json"), Value::Null] {
        assert_eq!(check(&with_header(json!({ "cty": value }))), Err(Reason::HeaderNotAllowed), "{value}");
    }
}

#[test]
fn typ_other_than_jwt_is_refused() {
    assert_eq!(check(&with_header(json!({ "typ": "at+jwt+evil" }))), Err(Reason::HeaderNotAllowed));
    assert!(check(&with_header(json!({ "typ": "jwt" }))).is_ok());
}

#[test]
fn token_without_kid_is_refused() {
    let keys = test_keys();
    let token = sign(&json!({ "alg": "RS256", "typ": "JWT" }), &v2_claims(), &keys[0].private);
    assert_eq!(check(&token), Err(Reason::SigningKeyUnknown));
}

// ---- malformed input ---------------------------------------------------------------------

#[test]
fn malformed_structures_are_refused() {
    let good = signed(v2_claims());
    let parts: Vec<&str> = good.split('.').collect();
    for bad in [
        String::new(),
        "a.b".to_string(),
        "a.b.c.d".to_string(),
        format!("{}.{}", parts[0], parts[1]),
        format!("!!.{}.{}", parts[1], parts[2]),
        format!("{}.{}.{}", encode(&json!("just a string")), parts[1], parts[2]),
        format!("{}.{}.{}", b64(b"{not json"), parts[1], parts[2]),
        format!("{}.{}.{}", parts[0], b64(b"{not json"), parts[2]),
        format!("{}.{}.{}", parts[0], encode(&json!([1, 2])), parts[2]),
        format!("{}.{}.%%%", parts[0], parts[1]),
    ] {
        assert_eq!(check(&bad), Err(Reason::TokenMalformed), "{bad:?}");
    }
}

#[test]
fn claims_of_the_wrong_type_make_the_token_malformed() {
    for patch in [json!({ "roles": "Admin" }), json!({ "scp": ["a"] }), json!({ "exp": "tomorrow" }), json!({ "tid": 5 })] {
        assert_eq!(check(&signed(with(v2_claims(), patch.clone()))), Err(Reason::TokenMalformed), "{patch}");
    }
}

#[test]
fn oversized_token_is_refused_without_parsing() {
    let token = signed(with(v2_claims(), json!({ "pad": "x".repeat(20_000) })));
    assert_eq!(check(&token), Err(Reason::TokenMalformed));
}

#[test]
fn extreme_timestamps_do_not_panic() {
    for exp in [json!(i64::MAX), json!(i64::MIN), json!(-1), json!(0)] {
        let result = check(&signed(with(v2_claims(), json!({ "exp": exp.clone(), "nbf": exp.clone() }))));
        assert!(result.is_err(), "{exp}");
    }
}

// ---- signature and keys ------------------------------------------------------------------

#[test]
fn tampered_claims_fail_the_signature_check() {
    let token = signed(v2_claims());
    let parts: Vec<&str> = token.split('.').collect();
    let forged = format!("{}.{}.{}", parts[0], encode(&with(v2_claims(), json!({ "scp": "Orders.Admin" }))), parts[2]);
    assert_eq!(check(&forged), Err(Reason::SignatureInvalid));
}

#[test]
fn signature_by_another_key_under_a_known_kid_is_refused() {
    let keys = test_keys();
    let token = sign(&header(&keys[0].kid), &v2_claims(), &keys[1].private);
    assert_eq!(check(&token), Err(Reason::SignatureInvalid));
}

#[test]
fn empty_or_truncated_signature_is_refused() {
    let token = signed(v2_claims());
    let (input, signature) = token.rsplit_once('.').unwrap();
    assert_eq!(check(&format!("{input}.")), Err(Reason::SignatureInvalid));
    assert_eq!(check(&format!("{input}.{}", &signature[..40])), Err(Reason::SignatureInvalid));
}

#[test]
fn unknown_kid_is_reported_so_keys_can_be_refreshed() {
    let keys = test_keys();
    assert_eq!(check(&sign(&header("rotated-away"), &v2_claims(), &keys[0].private)), Err(Reason::SigningKeyUnknown));
}

#[test]
fn key_bound_to_another_issuer_is_refused() {
    let keys = test_keys();
    let mut jwk = keys[0].jwk.clone();
    jwk["issuer"] = json!(v2_issuer(FOREIGN_TENANT));
    let tenant_keys = tenant_keys(vec![jwk], "https://login.microsoftonline.com/{tenantid}/v2.0");
    let config = config();
    let token = signed(v2_claims());
    let unverified = UnverifiedToken::parse(&token, &config.token_rules()).unwrap();
    let result = block_on(authenticate(unverified, &tenant_keys, &NativeRsa, &config.token_rules(), NOW));
    assert_eq!(result.unwrap_err().reason, Reason::SigningKeyIssuerMismatch);
}

// ---- lifetime ----------------------------------------------------------------------------

#[test]
fn expired_token_is_refused() {
    assert_eq!(check_with(&signed(v2_claims()), &config(), NOW + 3600 + 301), Err(Reason::TokenExpired));
}

#[test]
fn clock_skew_is_configurable() {
    let strict = config_with(json!({ "clock_skew_seconds": 0 }));
    assert_eq!(check_with(&signed(v2_claims()), &strict, NOW + 3601), Err(Reason::TokenExpired));
}

#[test]
fn token_not_yet_valid_is_refused() {
    assert_eq!(check(&signed(with(v2_claims(), json!({ "nbf": NOW + 301 })))), Err(Reason::TokenNotYetValid));
}

#[test]
fn token_without_exp_is_refused() {
    assert_eq!(check(&signed(without(v2_claims(), "exp"))), Err(Reason::ClaimMissing));
}

// ---- audience, issuer, tenant, version ---------------------------------------------------

#[test]
fn wrong_audience_is_refused() {
    assert_eq!(check(&signed(with(v2_claims(), json!({ "aud": "api://someone-else" })))), Err(Reason::AudienceMismatch));
    assert_eq!(check(&signed(without(v2_claims(), "aud"))), Err(Reason::ClaimMissing));
}

#[test]
fn graph_token_is_refused_with_an_explanation() {
    let config = config();
    let token = signed(with(v2_claims(), json!({ "aud": "00000003-0000-0000-c000-000000000000" })));
    let unverified = UnverifiedToken::parse(&token, &config.token_rules()).unwrap();
    let refusal = block_on(authenticate(unverified, &keys_for(TokenVersion::V2), &NativeRsa, &config.token_rules(), NOW)).unwrap_err();
    assert_eq!(refusal.reason, Reason::AudienceMismatch);
    assert!(refusal.detail.contains("Microsoft Graph"));
}

#[test]
fn issuer_of_another_tenant_is_refused() {
    assert_eq!(check(&signed(with(v2_claims(), json!({ "iss": v2_issuer(OTHER_TENANT) })))), Err(Reason::IssuerMismatch));
}

#[test]
fn issuer_of_the_other_token_version_is_refused() {
    assert_eq!(check(&signed(with(v2_claims(), json!({ "iss": v1_issuer(TENANT) })))), Err(Reason::IssuerMismatch));
}

#[test]
fn lookalike_issuers_are_refused() {
    for iss in [
        format!("https://login.microsoftonline.com/{TENANT}/v2.0/"),
        format!("https://login.microsoftonline.com.evil.example/{TENANT}/v2.0"),
        format!("https://login.microsoftonline.com/{}/v2.0", TENANT.to_uppercase()),
        "https://login.microsoftonline.com/{tenantid}/v2.0".to_string(),
    ] {
        assert_eq!(check(&signed(with(v2_claims(), json!({ "iss": iss.clone() })))), Err(Reason::IssuerMismatch), "{iss}");
    }
    assert_eq!(check(&signed(without(v2_claims(), "iss"))), Err(Reason::IssuerMismatch));
}

#[test]
fn tenant_not_in_the_allow_list_is_refused() {
    let claims = with(v2_claims(), json!({ "tid": FOREIGN_TENANT, "iss": v2_issuer(FOREIGN_TENANT) }));
    assert_eq!(check(&signed(claims)), Err(Reason::TenantNotAllowed));
}

#[test]
fn tid_that_is_not_a_guid_is_refused() {
    assert_eq!(check(&signed(with(v2_claims(), json!({ "tid": "common" })))), Err(Reason::TenantInvalid));
    assert_eq!(check(&signed(without(v2_claims(), "tid"))), Err(Reason::ClaimMissing));
}

#[test]
fn tid_and_iss_of_different_tenants_are_refused() {
    // Both tenants are allowed; the token claims one tenant and another's issuer.
    let claims = with(v2_claims(), json!({ "tid": OTHER_TENANT, "iss": v2_issuer(TENANT) }));
    assert_eq!(check(&signed(claims)), Err(Reason::IssuerMismatch));
}

#[test]
fn unknown_version_is_refused() {
    assert_eq!(check(&signed(with(v2_claims(), json!({ "ver": "3.0" })))), Err(Reason::TokenVersionNotAccepted));
}

#[test]
fn missing_version_is_taken_from_the_issuer_form() {
    assert_eq!(check(&signed(without(v2_claims(), "ver"))).unwrap().version(), TokenVersion::V2);
    assert_eq!(check(&signed(without(v1_app_claims(), "ver"))).unwrap().version(), TokenVersion::V1);
    // The issuer must still be exactly that version's issuer.
    let v1_issuer_on_v2_shape = with(without(v2_claims(), "ver"), json!({ "iss": format!("https://login.microsoftonline.com/{TENANT}/") }));
    assert_eq!(check(&signed(v1_issuer_on_v2_shape)), Err(Reason::IssuerMismatch));
    assert_eq!(check(&signed(without(without(v2_claims(), "ver"), "iss"))), Err(Reason::ClaimMissing));
}

#[test]
fn version_not_enabled_in_config_is_refused() {
    let v2_only = config_with(json!({ "token_versions": ["2.0"] }));
    assert_eq!(check_with(&signed(v1_app_claims()), &v2_only, NOW), Err(Reason::TokenVersionNotAccepted));
}

#[test]
fn token_without_sub_is_refused() {
    assert_eq!(check(&signed(without(v2_claims(), "sub"))), Err(Reason::ClaimMissing));
}

mod hmac_sha256 {
    //! Just enough HMAC-SHA256 to forge the classic "HS256 with the RSA public key" token.
    use super::*;
    use sha2::{Digest, Sha256};

    pub fn sign_hs256(header: &Value, claims: &Value, secret: &[u8]) -> String {
        let input = format!("{}.{}", encode(header), encode(claims));
        let mut key = [0u8; 64];
        if secret.len() > 64 {
            key[..32].copy_from_slice(&Sha256::digest(secret));
        } else {
            key[..secret.len()].copy_from_slice(secret);
        }
        let inner: Vec<u8> = key.iter().map(|b| b ^ 0x36).chain(input.bytes()).collect();
        let inner_hash = Sha256::digest(&inner);
        let outer: Vec<u8> = key.iter().map(|b| b ^ 0x5c).chain(inner_hash).collect();
        format!("{input}.{}", b64(&Sha256::digest(&outer)))
    }
}

// ---- the signature check as a separate step (the worker's one-call path) -----------------

/// `verify::prepare`, the backend's verdict on the signature, then `conclude`: the steps
/// the worker runs with WebCrypto in between (src/edge/resume.rs).
fn check_in_steps(token: &str, verdict: impl FnOnce(&jwt_compact::alg::RsaPublicKey, &[u8], &[u8]) -> bool) -> Result<Principal, Reason> {
    let config = config();
    let rules = config.token_rules();
    let unverified = UnverifiedToken::parse(token, &rules).map_err(|r| r.reason)?;
    let keys = keys_for(unverified.version());
    let awaiting = entra_edge::verify::prepare(unverified, &keys).map_err(|r| r.reason)?.into_owned();
    let valid = verdict(awaiting.key(), awaiting.signing_input().as_bytes(), awaiting.signature());
    awaiting.conclude(valid, &rules, NOW).map_err(|r| r.reason)
}

fn native_verdict(key: &jwt_compact::alg::RsaPublicKey, message: &[u8], signature: &[u8]) -> bool {
    use entra_edge::signature::SignatureBackend;
    block_on(NativeRsa.verify(key, message, signature))
}

#[test]
fn a_token_checked_in_steps_yields_the_same_principal_as_authenticate() {
    let token = signed(v2_claims());
    let in_steps = check_in_steps(&token, native_verdict).unwrap();
    let at_once = check(&token).unwrap();
    assert_eq!(format!("{in_steps:?}"), format!("{at_once:?}"));
}

#[test]
fn a_signature_the_backend_rejects_is_refused_in_steps() {
    assert_eq!(check_in_steps(&signed(v2_claims()), |_, _, _| false).unwrap_err(), Reason::SignatureInvalid);
}

#[test]
fn a_tampered_payload_is_refused_in_steps_by_the_real_backend() {
    let token = signed(v2_claims());
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let other = signed(with(v2_claims(), json!({ "oid": "00000000-0000-0000-0000-00000000beef" })));
    parts[1] = other.split('.').nth(1).unwrap().to_owned();
    assert_eq!(check_in_steps(&parts.join("."), native_verdict).unwrap_err(), Reason::SignatureInvalid);
}

#[test]
fn claims_are_checked_only_after_the_signature_verdict() {
    // An expired token whose signature does not verify is refused for the signature: no
    // claim of an unverified payload decides the answer.
    let expired = signed(with(v2_claims(), json!({ "exp": NOW - 3600, "nbf": NOW - 7200, "iat": NOW - 7200 })));
    assert_eq!(check_in_steps(&expired, |_, _, _| false).unwrap_err(), Reason::SignatureInvalid);
    assert_eq!(check_in_steps(&expired, native_verdict).unwrap_err(), Reason::TokenExpired);
}

#[test]
fn the_issuer_and_key_binding_are_checked_before_the_signature() {
    let wrong_issuer = signed(with(v2_claims(), json!({ "iss": "https://login.microsoftonline.com/another/v2.0" })));
    let asked = std::cell::Cell::new(false);
    let result = check_in_steps(&wrong_issuer, |_, _, _| {
        asked.set(true);
        true
    });
    assert_eq!(result.unwrap_err(), Reason::IssuerMismatch);
    assert!(!asked.get(), "no signature check for a token refused before it");
}
