//! The core must never panic on input: a panic in the worker is a 500 and a re-initialised
//! WASM instance, which throws away every cached key and token for all later requests.
//! These tests feed random and hostile inputs (seeded, so failures reproduce) to every
//! function that sees untrusted bytes, and require an answer, never a panic.

mod common;

use common::*;
use entra_edge::config::Config;
use entra_edge::discovery::OpenIdMetadata;
use entra_edge::extract::bearer_token;
use entra_edge::jwks::parse_jwks;
use entra_edge::path::normalize;
use entra_edge::request_id::choose;
use entra_edge::route::PathPattern;
use entra_edge::signature::NativeRsa;
use entra_edge::token::UnverifiedToken;
use entra_edge::token_version::TokenVersion;
use entra_edge::verify::authenticate;
use serde_json::json;

const ROUNDS: usize = 3000;

#[test]
fn bearer_extraction_never_panics() {
    let mut rng = Rng(1);
    for _ in 0..ROUNDS {
        let input = format!("{}{}", ["Bearer ", "bearer", "", "Basic "][rng.below(4)], rng.tricky(64));
        let _ = bearer_token(Some(&input));
    }
    let _ = bearer_token(Some(&"A".repeat(200_000)));
}

#[test]
fn token_parsing_never_panics_on_random_bytes() {
    let mut rng = Rng(2);
    let config = config();
    for _ in 0..ROUNDS {
        let raw = String::from_utf8_lossy(&rng.bytes(300)).into_owned();
        assert!(UnverifiedToken::parse(&raw, &config.token_rules()).is_err());
        let dotted = format!("{}.{}.{}", rng.tricky(40), rng.tricky(40), rng.tricky(40));
        assert!(UnverifiedToken::parse(&dotted, &config.token_rules()).is_err());
    }
}

#[test]
fn hostile_headers_and_claims_never_panic() {
    let config = config();
    let keys = test_keys();
    let deep = format!("{}1{}", "[".repeat(10_000), "]".repeat(10_000));
    let hostile_values = [
        json!(null),
        json!(true),
        json!(-1),
        json!(1e308),
        json!(u64::MAX),
        json!(i64::MIN),
        json!("\u{0000}"),
        json!([]),
        json!({}),
        json!("x".repeat(10_000)),
        serde_json::from_str::<serde_json::Value>(&"[".repeat(100).to_string().chars().chain("]".repeat(100).chars()).collect::<String>())
            .unwrap(),
    ];
    for name in [
        "alg", "kid", "typ", "x5t", "jku", "crit", "cty", "exp", "nbf", "iat", "aud", "iss", "tid", "ver", "scp", "roles", "sub", "oid",
        "azp", "idtyp", "acrs", "xms_cc",
    ] {
        for value in &hostile_values {
            let mut header = header(&keys[0].kid);
            header[name] = value.clone();
            let token = sign(&header, &v2_claims(), &keys[0].private);
            let _ = UnverifiedToken::parse(&token, &config.token_rules());
            let mut claims = v2_claims();
            claims[name] = value.clone();
            let token = sign(&common::header(&keys[0].kid), &claims, &keys[0].private);
            if let Ok(unverified) = UnverifiedToken::parse(&token, &config.token_rules()) {
                let tenant_keys = tenant_keys(vec![keys[0].jwk.clone()], "https://login.microsoftonline.com/{tenantid}/v2.0");
                let _ = block_on(authenticate(unverified, &tenant_keys, &NativeRsa, &config.token_rules(), NOW));
            }
        }
    }
    // Nesting deep enough to overflow a naive recursive parser.
    let token = format!("{}.{}.{}", b64(deep.as_bytes()), b64(deep.as_bytes()), b64(b"sig"));
    assert!(UnverifiedToken::parse(&token, &config.token_rules()).is_err());
}

#[test]
fn mutated_valid_tokens_never_panic_and_never_verify() {
    let mut rng = Rng(3);
    let config = config();
    let keys = test_keys();
    let original = sign(&header(&keys[0].kid), &v2_claims(), &keys[0].private);
    let tenant_keys = tenant_keys(vec![keys[0].jwk.clone()], "https://login.microsoftonline.com/{tenantid}/v2.0");
    for _ in 0..300 {
        let mutated = rng.mutate(&original);
        if mutated == original {
            continue;
        }
        if let Ok(unverified) = UnverifiedToken::parse(&mutated, &config.token_rules()) {
            let result = block_on(authenticate(unverified, &tenant_keys, &NativeRsa, &config.token_rules(), NOW));
            // A mutation may only survive if it left the signed bytes and signature intact
            // (e.g. a change that base64url decoding ignores).
            if let Ok(principal) = result {
                assert_eq!(principal.tenant().as_str(), TENANT, "mutation {mutated:?} verified with different claims");
            }
        }
    }
}

#[test]
fn path_normalization_never_panics() {
    let mut rng = Rng(4);
    for _ in 0..ROUNDS {
        let _ = normalize(&format!("/{}", rng.tricky(80)));
        let _ = normalize(&String::from_utf8_lossy(&rng.bytes(80)));
        let _ = PathPattern::parse(&format!("/{}", rng.tricky(40)));
    }
}

#[test]
fn configuration_parsing_never_panics() {
    let mut rng = Rng(5);
    let valid = json!({
        "origin": "https://api.example.com", "tenants": [TENANT], "audiences": [CLIENT_ID],
        "routes": [{ "path": "/api/{tenant}/**", "scopes": ["A"], "tenant_segment": "tenant", "cors": { "origins": ["https://a.example"] } }],
    })
    .to_string();
    assert!(Config::from_json(&valid).is_ok());
    for _ in 0..ROUNDS {
        let _ = Config::from_json(&rng.mutate(&valid));
        let _ = Config::from_json(&rng.tricky(100));
    }
}

#[test]
fn authority_documents_never_panic() {
    let mut rng = Rng(6);
    let jwks = json!({ "keys": [test_keys()[0].jwk] }).to_string();
    let metadata = r#"{"issuer":"https://login.microsoftonline.com/{tenantid}/v2.0","jwks_uri":"https://login.microsoftonline.com/common/discovery/v2.0/keys"}"#;
    for _ in 0..ROUNDS {
        let _ = parse_jwks(rng.mutate(&jwks).as_bytes());
        let _ = parse_jwks(&rng.bytes(200));
        let _ = OpenIdMetadata::parse(rng.mutate(metadata).as_bytes());
    }
    let _ = TokenVersion::parse("2.0");
}

#[test]
fn request_ids_never_panic() {
    let mut rng = Rng(7);
    for _ in 0..ROUNDS {
        let mut random = [0u8; 24];
        random.iter_mut().for_each(|b| *b = rng.next() as u8);
        let ids = choose(Some(&rng.tricky(200)), Some(&rng.tricky(60)), random);
        assert!(!ids.request_id.is_empty() && ids.request_id.len() <= 128);
        assert!(ids.request_id.bytes().all(|b| b.is_ascii_graphic()));
    }
}

#[test]
fn assertion_keys_and_settings_never_panic() {
    use entra_edge::assertion::SigningKey;
    let mut rng = Rng(8);
    // RFC 7515 Appendix A.3's P-256 key.
    let secret = r#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","d":"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"}"#;
    assert!(SigningKey::parse(secret).is_ok());
    let config = json!({
        "origin": "https://api.example.com", "tenants": [TENANT], "audiences": [CLIENT_ID], "routes": [{ "path": "/**" }],
        "assertion": { "issuer": "gw", "lifetime_seconds": 60, "header": "x-a", "jwks_path": "/k",
                       "additional_public_keys": [{ "kty": "EC", "crv": "P-256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0" }] },
    })
    .to_string();
    assert!(Config::from_json(&config).is_ok());
    for _ in 0..ROUNDS {
        let _ = SigningKey::parse(&rng.mutate(secret));
        let _ = SigningKey::parse(&rng.tricky(120));
        let _ = Config::from_json(&rng.mutate(&config));
    }
}
