//! `explain` over tokens minted with the fixture keys: every verdict, every hint, the
//! worker's own answer (the same refusal the worker's untraced path gives), and the
//! signature never shown.

// Refusals are built once per refused request (see src/lib.rs).
#![allow(clippy::result_large_err)]

mod common;

use common::*;
use entra_edge::config::Config;
use entra_edge::explain::{explain, Explanation, Input, KeyMaterial, Keys, Outcome, Request, VerdictOutcome};
use entra_edge::gateway::{self, RequestHead, Start};
use entra_edge::jwks::parse_jwks;
use entra_edge::reason::Reason;
use entra_edge::signature::NativeRsa;
use entra_edge::tenant::TenantId;
use entra_edge::token::UnverifiedToken;
use entra_edge::token_version::TokenVersion;
use entra_edge::verify::authenticate;
use serde_json::{json, Value};

const USER_OID: &str = "d621d57a-9995-4e93-9180-4eef25206cff";
const DAEMON: &str = "7d6c5b4a-0000-4170-b6e5-d4c3b2a19080";

fn routes() -> Value {
    json!([
        { "name": "health", "path": "/health", "methods": ["GET"], "public": true },
        { "name": "read", "path": "/api/orders/**", "methods": ["GET"], "scopes": ["Orders.Read"] },
        { "name": "admin", "path": "/api/admin/**", "roles": ["Orders.Admin"] },
        { "name": "payouts", "path": "/api/payouts/**", "scopes": ["Orders.Read"], "auth_context": "c1" },
    ])
}

fn demo() -> Config {
    config_with(json!({ "routes": routes() }))
}

fn material(version: TokenVersion) -> KeyMaterial {
    let jwks: Vec<Value> = test_keys().into_iter().map(|k| k.jwk).collect();
    let jwks = parse_jwks(&serde_json::to_vec(&json!({ "keys": jwks })).unwrap()).unwrap();
    let issuer = match version {
        TokenVersion::V1 => "https://sts.windows.net/{tenantid}/",
        TokenVersion::V2 => "https://login.microsoftonline.com/{tenantid}/v2.0",
    };
    let metadata = entra_edge::discovery::OpenIdMetadata {
        issuer: issuer.into(),
        jwks_uri: "https://login.microsoftonline.com/common/discovery/v2.0/keys".into(),
        cloud_instance_name: None,
    };
    KeyMaterial { metadata, jwks }
}

type Loader = fn(&TenantId, TokenVersion) -> Result<KeyMaterial, String>;

fn published(_tenant: &TenantId, version: TokenVersion) -> Result<KeyMaterial, String> {
    Ok(material(version))
}

fn run_with(config: &Config, route: Option<&str>, token: &str, now: i64, keys: Keys<Loader>) -> Explanation {
    let request = route.map(|r| Request::parse(r).unwrap());
    block_on(explain(Input { config, request, token, now }, &NativeRsa, keys))
}

fn run(route: Option<&str>, token: &str) -> Explanation {
    run_with(&demo(), route, token, NOW, Keys::Load(published))
}

/// The worker's own, untraced path: `start` → `bearer_token` → `parse` → `authenticate` →
/// `authorize`, returning its refusal (or None when it forwards).
fn worker_refusal(config: &Config, route: &str, token: &str, now: i64) -> Option<Reason> {
    let request = Request::parse(route).unwrap();
    let head = RequestHead::plain(request.method, request.path);
    let admitted = match gateway::start(config, head) {
        Start::Admit(admitted) => admitted,
        Start::Refuse { refusal, .. } => return Some(refusal.reason),
        _ => return None,
    };
    let authentication = admitted.needs_token().then(|| {
        let header = format!("Bearer {token}");
        let raw = entra_edge::extract::bearer_token(Some(&header))?;
        let rules = config.token_rules();
        let unverified = UnverifiedToken::parse(raw, &rules)?;
        let material = material(unverified.version());
        let keys = tenant_keys(test_keys().into_iter().map(|k| k.jwk).collect(), &material.metadata.issuer);
        block_on(authenticate(unverified, &keys, &NativeRsa, &rules, now))
    });
    gateway::authorize(&admitted, authentication, &config.authority).refusal.map(|r| r.reason)
}

fn signed(claims: Value) -> String {
    let keys = test_keys();
    sign(&header(&keys[0].kid), &claims, &keys[0].private)
}

fn with(mut claims: Value, patch: Value) -> Value {
    for (k, v) in patch.as_object().unwrap() {
        if v.is_null() {
            claims.as_object_mut().unwrap().remove(k);
        } else {
            claims[k] = v.clone();
        }
    }
    claims
}

fn app_only_v2() -> Value {
    with(v2_claims(), json!({ "scp": null, "idtyp": "app", "oid": DAEMON, "sub": DAEMON, "roles": ["Orders.Read.All"] }))
}

fn failed(explanation: &Explanation) -> Vec<(&str, Option<&str>)> {
    explanation.checks.iter().filter(|c| c.outcome == Outcome::Fail).map(|c| (c.name.as_str(), c.reason)).collect()
}

fn hints(explanation: &Explanation) -> Vec<&str> {
    explanation.hints.iter().map(|h| h.code).collect()
}

fn hint<'e>(explanation: &'e Explanation, code: &str) -> &'e str {
    &explanation.hints.iter().find(|h| h.code == code).unwrap_or_else(|| panic!("no {code} hint in {:?}", explanation.hints)).text
}

/// One row: a token on a route, the check that refuses it, the worker's answer, the hint.
struct Case {
    name: &'static str,
    config: Config,
    route: &'static str,
    token: String,
    failed: Option<(&'static str, Reason)>,
    hint: Option<&'static str>,
}

fn case(
    name: &'static str,
    route: &'static str,
    token: String,
    failed: Option<(&'static str, Reason)>,
    hint: Option<&'static str>,
) -> Case {
    Case { name, config: demo(), route, token, failed, hint }
}

fn cases() -> Vec<Case> {
    let v2_only = config_with(json!({ "routes": routes(), "token_versions": ["2.0"] }));
    let uri_only = config_with(json!({ "routes": routes(), "audiences": [APP_ID_URI] }));
    let guid_only = config_with(json!({ "routes": routes(), "audiences": [CLIENT_ID] }));
    let keys = test_keys();
    let mut tampered = signed(v2_claims());
    let body = encode(&with(v2_claims(), json!({ "scp": "Orders.Read Orders.Admin" })));
    let parts: Vec<&str> = tampered.split('.').collect();
    tampered = format!("{}.{body}.{}", parts[0], parts[2]);
    vec![
        case("a valid delegated token on its route", "GET /api/orders/1", signed(v2_claims()), None, None),
        case(
            "an expired token",
            "GET /api/orders/1",
            signed(with(v2_claims(), json!({ "exp": NOW - 8000 }))),
            Some(("claims.exp", Reason::TokenExpired)),
            Some("expired"),
        ),
        case(
            "a token not valid yet",
            "GET /api/orders/1",
            signed(with(v2_claims(), json!({ "nbf": NOW + 4000, "iat": NOW + 4000 }))),
            Some(("claims.nbf", Reason::TokenNotYetValid)),
            Some("not_yet_valid"),
        ),
        case(
            "a Microsoft Graph token (URI)",
            "GET /api/orders/1",
            signed(with(v2_claims(), json!({ "aud": "https://graph.microsoft.com" }))),
            Some(("claims.aud", Reason::AudienceMismatch)),
            Some("graph_token"),
        ),
        case(
            "a Microsoft Graph token (app id)",
            "GET /api/orders/1",
            signed(with(v2_claims(), json!({ "aud": "00000003-0000-0000-c000-000000000000" }))),
            Some(("claims.aud", Reason::AudienceMismatch)),
            Some("graph_token"),
        ),
        Case {
            config: v2_only,
            ..case(
                "a v1 token for a v2-only configuration",
                "GET /api/admin/x",
                signed(v1_app_claims()),
                Some(("token.version_accepted", Reason::TokenVersionNotAccepted)),
                Some("v1_token_for_v2_config"),
            )
        },
        Case {
            config: uri_only,
            ..case(
                "a client-id audience when only the App ID URI is configured",
                "GET /api/orders/1",
                signed(v2_claims()),
                Some(("claims.aud", Reason::AudienceMismatch)),
                Some("client_id_audience"),
            )
        },
        Case {
            config: guid_only,
            ..case(
                "an App ID URI audience when only the client id is configured",
                "GET /api/admin/x",
                signed(v1_app_claims()),
                Some(("claims.aud", Reason::AudienceMismatch)),
                Some("app_id_uri_audience"),
            )
        },
        case(
            "a token for another API",
            "GET /api/orders/1",
            signed(with(v2_claims(), json!({ "aud": "api://someone-else" }))),
            Some(("claims.aud", Reason::AudienceMismatch)),
            Some("other_audience"),
        ),
        case(
            "an ID token",
            "GET /api/orders/1",
            signed(with(v2_claims(), json!({ "nonce": "abc", "azp": null, "scp": null }))),
            Some(("token.access_token", Reason::TokenTypeInvalid)),
            Some("id_token"),
        ),
        case(
            "a tenant not in the list",
            "GET /api/orders/1",
            signed(with(v2_claims(), json!({ "tid": FOREIGN_TENANT, "iss": v2_issuer(FOREIGN_TENANT) }))),
            Some(("token.tenant_allowed", Reason::TenantNotAllowed)),
            Some("tenant_not_listed"),
        ),
        case(
            "an app-only token on a scope route",
            "GET /api/orders/1",
            signed(app_only_v2()),
            Some(("route.permissions", Reason::InsufficientScope)),
            Some("missing_scp"),
        ),
        case(
            "a user without the route's scope",
            "GET /api/orders/1",
            signed(with(v2_claims(), json!({ "scp": "Profile.Read" }))),
            Some(("route.permissions", Reason::InsufficientScope)),
            Some("scope_not_granted"),
        ),
        case(
            "a daemon without the route's role",
            "GET /api/admin/x",
            signed(v1_app_claims()),
            Some(("route.permissions", Reason::InsufficientRole)),
            None,
        ),
        case(
            "a v1 issuer on a v2 token",
            "GET /api/orders/1",
            signed(with(v2_claims(), json!({ "iss": v1_issuer(TENANT) }))),
            Some(("claims.iss", Reason::IssuerMismatch)),
            Some("issuer_form"),
        ),
        case("a tampered token", "GET /api/orders/1", tampered, Some(("signature", Reason::SignatureInvalid)), Some("signature")),
        case(
            "a kid the authority does not publish",
            "GET /api/orders/1",
            sign(&header("retired-key"), &v2_claims(), &keys[0].private),
            Some(("key.kid", Reason::SigningKeyUnknown)),
            Some("unknown_kid"),
        ),
        case(
            "an HS256 token",
            "GET /api/orders/1",
            format!("{}.{}.c2ln", encode(&json!({ "alg": "HS256", "kid": "k" })), encode(&v2_claims())),
            Some(("header.alg", Reason::AlgorithmNotAllowed)),
            None,
        ),
        case("a token that is not a JWS", "GET /api/orders/1", "abc".into(), Some(("token.structure", Reason::TokenMalformed)), None),
        case(
            "a token with a character a token cannot have",
            "GET /api/orders/1",
            "a.b.c;d".into(),
            Some(("request.authorization", Reason::TokenMalformed)),
            None,
        ),
        case("a path no route matches", "GET /internal", signed(v2_claims()), Some(("route", Reason::RouteNotFound)), None),
        case(
            "a method the route does not allow",
            "DELETE /api/orders/1",
            signed(v2_claims()),
            Some(("route", Reason::MethodNotAllowed)),
            None,
        ),
        case(
            "a missing auth context",
            "GET /api/payouts/1",
            signed(v2_claims()),
            Some(("route.auth_context", Reason::AuthContextRequired)),
            Some("auth_context"),
        ),
        case("a public route with any token", "GET /health", "not-a-token".into(), None, None),
    ]
}

#[test]
fn every_case_names_the_failing_check_the_workers_answer_and_the_hint() {
    for case in cases() {
        let explanation = run_with(&case.config, Some(case.route), &case.token, NOW, Keys::Load(published));
        let name = case.name;
        match case.failed {
            None => {
                assert_eq!(explanation.verdict.outcome, VerdictOutcome::Pass, "{name}: {:?}", explanation.checks);
                assert_eq!((explanation.verdict.status, explanation.verdict.exit_code()), (None, 0), "{name}");
                assert!(failed(&explanation).is_empty(), "{name}");
            }
            Some((check, reason)) => {
                assert_eq!(failed(&explanation), [(check, Some(reason.code()))], "{name}");
                assert_eq!(explanation.verdict.outcome, VerdictOutcome::Refused, "{name}");
                assert_eq!(explanation.verdict.reason, Some(reason.code()), "{name}");
                assert_eq!(explanation.verdict.status, Some(reason.status()), "{name}");
                assert_eq!(explanation.verdict.exit_code(), 1, "{name}");
            }
        }
        if let Some(code) = case.hint {
            assert!(hints(&explanation).contains(&code), "{name}: {:?}", explanation.hints);
        }
    }
}

#[test]
fn the_verdict_is_the_refusal_of_the_workers_own_untraced_path() {
    for case in cases() {
        let explanation = run_with(&case.config, Some(case.route), &case.token, NOW, Keys::Load(published));
        let worker = worker_refusal(&case.config, case.route, &case.token, NOW);
        assert_eq!(explanation.verdict.reason, worker.map(Reason::code), "{}", case.name);
    }
}

#[test]
fn checks_before_the_failing_one_passed_and_later_stages_are_not_reached() {
    let explanation = run(Some("GET /api/orders/1"), &signed(with(v2_claims(), json!({ "exp": NOW - 8000 }))));
    let position = explanation.checks.iter().position(|c| c.outcome == Outcome::Fail).unwrap();
    assert!(explanation.checks[..position].iter().all(|c| c.outcome == Outcome::Pass), "{:?}", explanation.checks);
    let after: Vec<_> = explanation.checks[position + 1..].iter().map(|c| (c.name.as_str(), c.outcome)).collect();
    assert_eq!(after, [("authorization", Outcome::NotReached)]);
}

#[test]
fn checks_run_in_the_workers_order() {
    let explanation = run(Some("GET /api/orders/1"), &signed(v2_claims()));
    let names: Vec<_> = explanation.checks.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "route",
            "request.authorization",
            "token.size",
            "token.structure",
            "header.alg",
            "header.key_parameters",
            "header.crit",
            "header.cty",
            "header.typ",
            "header.kid",
            "claims.types",
            "token.version",
            "token.version_accepted",
            "token.tid",
            "token.tenant_allowed",
            "claims.iss",
            "token.issuer_names_tid",
            "key.kid",
            "key.issuer",
            "key.cloud",
            "signature",
            "claims.exp",
            "claims.nbf",
            "claims.iat",
            "claims.aud",
            "claims.sub",
            "token.access_token",
            "token.kind",
            "route.permissions",
        ]
    );
    assert!(explanation.signature_checked);
}

#[test]
fn the_expired_hint_says_by_how_long() {
    let explanation = run(Some("GET /api/orders/1"), &signed(with(v2_claims(), json!({ "exp": NOW - 8000 }))));
    assert!(hint(&explanation, "expired").contains("expired 2 h 13 min ago"), "{:?}", explanation.hints);
}

#[test]
fn the_v1_hint_explains_the_manifest_setting() {
    let config = config_with(json!({ "routes": routes(), "token_versions": ["2.0"] }));
    let explanation = run_with(&config, None, &signed(v1_app_claims()), NOW, Keys::Load(published));
    let text = hint(&explanation, "v1_token_for_v2_config");
    assert!(text.contains("accessTokenAcceptedVersion") && text.contains("requestedAccessTokenVersion"), "{text}");
}

#[test]
fn a_graph_token_is_named_even_when_an_earlier_check_refuses_it() {
    // Graph tokens carry a nonce in their header: their signature never verifies elsewhere.
    let mut token = signed(with(v2_claims(), json!({ "aud": "https://graph.microsoft.com" })));
    token.truncate(token.len() - 4);
    token.push_str("AAAA");
    let explanation = run(Some("GET /api/orders/1"), &token);
    assert_eq!(explanation.verdict.reason, Some("signature_invalid"));
    assert!(hints(&explanation).contains(&"graph_token"));
    assert!(!hints(&explanation).contains(&"signature"), "the Graph hint is the explanation");
}

#[test]
fn the_consumer_tenant_is_named_as_a_personal_account() {
    let consumer = "9188040d-6c67-4c5b-b112-36a304b66dad";
    let token = signed(with(v2_claims(), json!({ "tid": consumer, "iss": v2_issuer(consumer) })));
    let explanation = run(None, &token);
    assert!(hint(&explanation, "tenant_not_listed").contains("personal Microsoft account"));
}

#[test]
fn the_challenge_is_the_one_the_worker_sends() {
    let explanation = run(Some("GET /api/orders/1"), &signed(with(v2_claims(), json!({ "scp": "Profile.Read" }))));
    assert_eq!(
        explanation.verdict.challenge.as_deref(),
        Some("Bearer realm=\"entra-edge\", error=\"insufficient_scope\", error_description=\"requires scope Orders.Read\", scope=\"Orders.Read\"")
    );
    let expired = run(None, &signed(with(v2_claims(), json!({ "exp": NOW - 8000 }))));
    assert_eq!(
        expired.verdict.challenge.as_deref(),
        Some("Bearer realm=\"entra-edge\", error=\"invalid_token\", error_description=\"the token has expired\"")
    );
    let not_found = run(Some("GET /internal"), &signed(v2_claims()));
    assert_eq!((not_found.verdict.status, not_found.verdict.challenge.as_deref()), (Some(404), None));
}

#[test]
fn a_capable_client_gets_the_claims_challenge() {
    let token = signed(with(v2_claims(), json!({ "xms_cc": ["cp1"] })));
    let explanation = run(Some("GET /api/payouts/1"), &token);
    assert_eq!(explanation.verdict.reason, Some("insufficient_claims"));
    assert!(explanation.verdict.challenge.as_deref().unwrap().contains("error=\"insufficient_claims\", claims=\""));
}

#[test]
fn without_a_route_only_the_token_is_checked() {
    let explanation = run(None, &signed(v2_claims()));
    assert_eq!(explanation.verdict.outcome, VerdictOutcome::Pass);
    assert_eq!(explanation.checks.first().map(|c| (c.name.as_str(), c.outcome)), Some(("route", Outcome::Skipped)));
    assert_eq!(explanation.checks.last().map(|c| (c.name.as_str(), c.outcome)), Some(("authorization", Outcome::Skipped)));
}

#[test]
fn a_public_route_does_not_look_at_the_token() {
    let explanation = run(Some("GET /health"), "whatever");
    assert_eq!(explanation.verdict.outcome, VerdictOutcome::Pass);
    assert_eq!(explanation.checks.iter().map(|c| c.outcome).collect::<Vec<_>>(), [Outcome::Pass, Outcome::Skipped]);
}

#[test]
fn skipping_the_signature_is_never_a_pass() {
    let explanation = run_with(&demo(), Some("GET /api/orders/1"), &signed(v2_claims()), NOW, Keys::Skip);
    assert_eq!(explanation.verdict.outcome, VerdictOutcome::Unverified);
    assert_eq!(explanation.verdict.exit_code(), 3);
    assert!(!explanation.signature_checked);
    let skipped: Vec<_> = explanation.checks.iter().filter(|c| c.outcome == Outcome::Skipped).map(|c| c.name.as_str()).collect();
    assert_eq!(skipped, ["key.kid", "key.issuer", "key.cloud", "signature"]);
    // A forged signature changes nothing when it is not checked.
    let mut forged = signed(v2_claims());
    forged.truncate(forged.len() - 4);
    forged.push_str("AAAA");
    let forged = run_with(&demo(), Some("GET /api/orders/1"), &forged, NOW, Keys::Skip);
    assert_eq!(forged.verdict.outcome, VerdictOutcome::Unverified);
}

#[test]
fn skipping_the_signature_still_refuses_what_the_claims_refuse() {
    let token = signed(with(v2_claims(), json!({ "exp": NOW - 8000 })));
    let explanation = run_with(&demo(), None, &token, NOW, Keys::Skip);
    assert_eq!((explanation.verdict.outcome, explanation.verdict.reason), (VerdictOutcome::Refused, Some("token_expired")));
    assert!(explanation.verdict.detail.contains("signature was not checked"));
}

#[test]
fn keys_that_cannot_be_loaded_are_an_error_not_a_refusal() {
    fn unreachable(_: &TenantId, _: TokenVersion) -> Result<KeyMaterial, String> {
        Err("GET https://login.microsoftonline.com/…: connection refused".into())
    }
    let explanation = run_with(&demo(), None, &signed(v2_claims()), NOW, Keys::Load(unreachable));
    assert_eq!(explanation.verdict.outcome, VerdictOutcome::Error);
    assert_eq!((explanation.verdict.status, explanation.verdict.exit_code()), (Some(503), 2));
    assert_eq!(failed(&explanation), [("keys", Some("keys_unavailable"))]);
}

#[test]
fn the_pinned_clock_decides_the_lifetime() {
    let token = signed(v2_claims());
    let inside = run_with(&demo(), None, &token, NOW + 3000, Keys::Load(published));
    assert_eq!(inside.verdict.outcome, VerdictOutcome::Pass);
    let after = run_with(&demo(), None, &token, NOW + 3600 + 301, Keys::Load(published));
    assert_eq!(after.verdict.reason, Some("token_expired"));
    assert!(hint(&after, "expired").contains("expired 5 min 1 s ago"), "{:?}", after.hints);
}

#[test]
fn the_signature_is_never_in_the_output_but_header_and_claims_are_decoded() {
    for case in cases() {
        let explanation = run_with(&case.config, Some(case.route), &case.token, NOW, Keys::Load(published));
        let json = serde_json::to_string(&explanation).unwrap();
        if let Some(signature) = case.token.split('.').nth(2).filter(|s| s.len() > 8) {
            assert!(!json.contains(signature), "{}: signature in the output", case.name);
        }
    }
    let explanation = run(None, &signed(v2_claims()));
    assert_eq!(explanation.header.as_ref().unwrap()["alg"], "RS256");
    assert_eq!(explanation.claims.as_ref().unwrap()["oid"], USER_OID);
}

#[test]
fn the_json_shape_has_stable_field_names() {
    let value = serde_json::to_value(run(Some("GET /api/orders/1"), &signed(with(v2_claims(), json!({ "exp": NOW - 8000 }))))).unwrap();
    for field in ["request", "route", "header", "claims", "signature_checked", "checks", "verdict", "hints"] {
        assert!(value.get(field).is_some(), "{field}");
    }
    let check = &value["checks"].as_array().unwrap().iter().find(|c| c["outcome"] == "fail").unwrap();
    assert_eq!(check["name"], "claims.exp");
    assert_eq!(check["reason"], "token_expired");
    assert!(check["detail"].is_string());
    assert_eq!(value["verdict"]["status"], 401);
    assert_eq!(value["verdict"]["reason"], "token_expired");
    assert_eq!(value["verdict"]["outcome"], "refused");
    assert!(value["verdict"]["challenge"].as_str().unwrap().starts_with("Bearer "));
    assert_eq!(value["hints"][0]["code"], "expired");
    assert!(value["hints"][0]["text"].is_string());
}

#[test]
fn a_route_is_given_as_method_and_path() {
    assert_eq!(Request::parse("GET /api/orders").map(|r| (r.method, r.path)), Ok(("GET", "/api/orders")));
    assert_eq!(Request::parse("GET /api/orders?page=2").map(|r| r.path), Ok("/api/orders"), "the worker routes on the path");
    for bad in ["/api/orders", "GET api/orders", "", "G-T /x"] {
        assert!(Request::parse(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn every_check_a_passing_token_goes_through_is_described() {
    // A route with every requirement, and a token that satisfies them all.
    let config = config_with(json!({ "routes": [{
        "name": "everything", "path": "/api/tenants/{tenant}/**", "token_kind": "delegated", "tenants": [TENANT],
        "tenant_segment": "tenant", "clients": ["0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d"], "scopes": ["Orders.Read"], "auth_context": "c1",
    }] }));
    let token = signed(with(v2_claims(), json!({ "acrs": ["c1"] })));
    let route = format!("GET /api/tenants/{TENANT}/orders");
    let explanation = run_with(&config, Some(&route), &token, NOW, Keys::Load(published));
    assert_eq!(explanation.verdict.outcome, VerdictOutcome::Pass, "{:?}", explanation.checks);
    let route_checks: Vec<_> = explanation.checks.iter().filter(|c| c.name.starts_with("route.")).map(|c| c.name.as_str()).collect();
    assert_eq!(
        route_checks,
        ["route.token_kind", "route.tenants", "route.tenant_segment", "route.clients", "route.permissions", "route.auth_context"]
    );
    for check in &explanation.checks {
        assert!(!check.detail.is_empty() && check.detail != check.name, "{} has no description", check.name);
    }
}

#[test]
fn a_claim_rule_refusal_is_pinned_on_the_routes_claim_check() {
    let config = config_with(json!({ "routes": [{ "path": "/**", "claims": [{ "name": "groups", "values": ["g-admins"] }] }] }));
    let member =
        run_with(&config, Some("GET /x"), &signed(with(v2_claims(), json!({ "groups": ["g-admins"] }))), NOW, Keys::Load(published));
    assert!(failed(&member).is_empty(), "{:?}", member.checks);
    let outsider =
        run_with(&config, Some("GET /x"), &signed(with(v2_claims(), json!({ "groups": ["g-users"] }))), NOW, Keys::Load(published));
    assert_eq!(failed(&outsider), [("route.claims", Some("claim_rule_failed"))]);
    assert_eq!(outsider.verdict.status, Some(403));
}

#[test]
fn any_tenant_mode_explains_a_tenant_it_never_listed() {
    let config = config_with(json!({ "tenants": ["*"], "routes": routes() }));
    let claims = with(v2_claims(), json!({ "tid": FOREIGN_TENANT, "iss": v2_issuer(FOREIGN_TENANT) }));
    let explanation = run_with(&config, Some("GET /api/orders/1"), &signed(claims), NOW, Keys::Load(published));
    assert!(failed(&explanation).is_empty(), "{:?}", explanation.checks);
    let forged = with(v2_claims(), json!({ "tid": FOREIGN_TENANT, "iss": v2_issuer(TENANT) }));
    let explanation = run_with(&config, Some("GET /api/orders/1"), &signed(forged), NOW, Keys::Load(published));
    assert_eq!(failed(&explanation), [("claims.iss", Some("issuer_mismatch"))]);
}
