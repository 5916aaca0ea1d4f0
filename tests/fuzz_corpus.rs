//! The fuzz corpora and crash regressions, replayed on stable Rust: every file under
//! `fuzz/corpus/<target>/` and `fuzz/regressions/<target>/` goes through the same property
//! function its cargo-fuzz target calls (`fuzz/src/lib.rs`, included here), so `make test`
//! needs no nightly toolchain and a crash, once fixed, stays fixed.
//!
//! `cargo test --features cli --test fuzz_corpus -- --ignored write_seed_corpora` writes
//! fresh seed inputs (test fixtures and the hostile-input generator) to `fuzz/seeds/`,
//! which `make fuzz-cmin` minimizes into the committed corpora.

mod common;
#[path = "../fuzz/src/lib.rs"]
mod properties;

use std::fs;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use common::*;
use serde_json::{json, Value};

/// A fuzz target's property: returns, or panics naming what broke.
type Property = fn(&[u8]);

/// Every fuzz target, by its cargo-fuzz name, with the property it checks.
const TARGETS: [(&str, Property); 10] = [
    ("bearer", properties::bearer),
    ("token", properties::token),
    ("claims", properties::claims),
    ("jwks", properties::jwks),
    ("metadata", properties::metadata),
    ("path", properties::path),
    ("route", properties::route),
    ("config", properties::config_parser),
    ("cors", properties::cors),
    ("gcra", properties::gcra),
];

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = match fs::read_dir(dir) {
        Ok(entries) => entries.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_file()).collect(),
        Err(_) => Vec::new(),
    };
    files.sort();
    files
}

fn property(target: &str) -> Property {
    TARGETS.iter().find(|(name, _)| *name == target).map(|(_, f)| *f).expect("a known target")
}

/// Runs `target`'s property on one file, naming the file if the property breaks.
fn replay_file(target: &str, file: &Path) {
    let data = fs::read(file).unwrap();
    if let Err(panic) = catch_unwind(AssertUnwindSafe(|| property(target)(&data))) {
        let message = panic.downcast_ref::<String>().cloned().or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()));
        panic!("{target}: {} breaks a property: {}", file.display(), message.unwrap_or_default());
    }
}

/// Replays a target's corpus and regressions; returns how many inputs ran.
fn replay(target: &str) -> usize {
    let corpus = files_in(&fuzz_dir().join("corpus").join(target));
    assert!(!corpus.is_empty(), "fuzz/corpus/{target} has no seed inputs");
    let regressions = files_in(&fuzz_dir().join("regressions").join(target));
    for file in corpus.iter().chain(&regressions) {
        replay_file(target, file);
    }
    corpus.len() + regressions.len()
}

/// Replays one named crash regression (`fuzz/regressions/<target>/<name>`).
fn regression(target: &str, name: &str) {
    let file = fuzz_dir().join("regressions").join(target).join(name);
    assert!(file.is_file(), "{} is missing", file.display());
    replay_file(target, &file);
}

#[test]
fn every_fuzz_target_has_a_replay() {
    let targets: Vec<String> =
        files_in(&fuzz_dir().join("fuzz_targets")).iter().map(|p| p.file_stem().unwrap().to_string_lossy().into_owned()).collect();
    let mut replayed: Vec<String> = TARGETS.iter().map(|(name, _)| name.to_string()).collect();
    replayed.sort();
    assert_eq!(targets, replayed);
}

#[test]
fn bearer_corpus_keeps_its_properties() {
    replay("bearer");
}

#[test]
fn token_corpus_keeps_its_properties() {
    replay("token");
}

#[test]
fn claims_corpus_keeps_its_properties() {
    replay("claims");
}

#[test]
fn jwks_corpus_keeps_its_properties() {
    replay("jwks");
}

#[test]
fn metadata_corpus_keeps_its_properties() {
    replay("metadata");
}

#[test]
fn path_corpus_keeps_its_properties() {
    replay("path");
}

#[test]
fn route_corpus_keeps_its_properties() {
    replay("route");
}

#[test]
fn config_corpus_keeps_its_properties() {
    replay("config");
}

#[test]
fn cors_corpus_keeps_its_properties() {
    replay("cors");
}

#[test]
fn gcra_corpus_keeps_its_properties() {
    replay("gcra");
}

// ---- crash regressions: each input a fuzz property broke, fixed in the core -------------

#[test]
fn a_route_literal_still_guards_its_percent_encoded_spelling() {
    // `/files/a%20b/x` reached the origin as `/files/a b/x` but matched only `/**`.
    regression("route", "encoded-space-escapes-its-literal-route");
}

#[test]
fn gcra_answers_any_clock_against_any_stored_state() {
    // `tat - now` overflowed for a clock and a stored TAT far apart (and at i64::MAX).
    regression("gcra", "far-apart-clock-and-state-overflowed");
}

#[test]
fn a_json_content_type_is_refused_like_any_cty() {
    // jwt-compact takes `cty: "JSON"` as its default content type: the parser let it through.
    regression("token", "cty-json-passed-as-the-default-content-type");
}

#[test]
fn a_null_jku_is_refused_like_any_jku() {
    // jwt-compact reads `"jku": null` as absent: the parser let it through.
    regression("token", "null-jku-passed-as-absent");
}

#[test]
fn a_key_with_an_empty_modulus_is_skipped_not_miscounted() {
    // The bit count of an empty (or all-zero) modulus underflowed.
    regression("jwks", "empty-modulus-underflowed-the-bit-count");
}

// ---- seeds ------------------------------------------------------------------------------

fn structured_token(header: &Value, claims: &Value) -> Vec<u8> {
    let mut out = header.to_string().into_bytes();
    out.push(0);
    out.extend(claims.to_string().as_bytes());
    out.push(0);
    out.extend(b"sig");
    out
}

fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    let mut seeds: Vec<(&'static str, Vec<u8>)> = Vec::new();
    let mut rng = Rng(16);
    let keys = test_keys();
    let hostile = [json!(null), json!(true), json!(-1), json!(1e308), json!(u64::MAX), json!(i64::MIN), json!([]), json!({}), json!("")];

    // bearer and token: signed fixtures, their structured form, hostile headers and claims.
    let tokens =
        [sign(&header(&keys[0].kid), &v2_claims(), &keys[0].private), sign(&header(&keys[1].kid), &v1_app_claims(), &keys[1].private)];
    for token in &tokens {
        for prefix in ["Bearer ", "bearer\t", "BEARER  ", "Basic ", ""] {
            seeds.push(("bearer", format!("{prefix}{token}").into_bytes()));
        }
        seeds.push(("token", token.clone().into_bytes()));
    }
    for _ in 0..40 {
        seeds.push(("bearer", format!("{}{}", ["Bearer ", "bearer", "", "Basic "][rng.below(4)], rng.tricky(64)).into_bytes()));
        seeds.push(("token", rng.mutate(&tokens[0]).into_bytes()));
    }
    for (claims, kid) in [(v2_claims(), &keys[0].kid), (v1_app_claims(), &keys[1].kid)] {
        seeds.push(("token", structured_token(&header(kid), &claims)));
        seeds.push(("claims", claims.to_string().into_bytes()));
        for name in ["alg", "kid", "typ", "jku", "x5u", "jwk", "x5c", "crit", "cty"] {
            let mut h = header(kid);
            h[name] = hostile[rng.below(hostile.len())].clone();
            seeds.push(("token", structured_token(&h, &claims)));
        }
        for name in ["exp", "nbf", "iat", "aud", "iss", "tid", "ver", "scp", "roles", "idtyp", "acrs", "xms_cc", "nonce"] {
            for value in &hostile {
                let mut c = claims.clone();
                c[name] = value.clone();
                seeds.push(("claims", c.to_string().into_bytes()));
            }
        }
    }

    // authority documents
    let jwks = json!({ "keys": [keys[0].jwk, keys[1].jwk] }).to_string();
    seeds.push(("jwks", jwks.clone().into_bytes()));
    seeds.push(("jwks", include_bytes!("fixtures/test-signing-keys.json").to_vec()));
    for _ in 0..20 {
        seeds.push(("jwks", rng.mutate(&jwks).into_bytes()));
    }
    for doc in [
        json!({ "issuer": "https://login.microsoftonline.com/{tenantid}/v2.0", "jwks_uri": "https://login.microsoftonline.com/common/discovery/v2.0/keys", "cloud_instance_name": "microsoftonline.com" }),
        json!({ "issuer": format!("https://sts.windows.net/{TENANT}/"), "jwks_uri": "https://login.microsoftonline.com/common/discovery/keys?appid=x" }),
        json!({ "issuer": "http://127.0.0.1:8790/t/v2.0", "jwks_uri": "http://127.0.0.1:8790/keys" }),
        json!({ "issuer": "x", "jwks_uri": "https://user:pw@keys.contoso.example/k?AppId=1&a=b" }),
    ] {
        seeds.push(("metadata", doc.to_string().into_bytes()));
    }

    // paths and routes
    for path in [
        "/",
        "/api/orders/42",
        "//api///orders/",
        "/%61dmin/%7Euser",
        "/files/a%20b%3f",
        "/a/../admin",
        "/a/%2e%2e/admin",
        "/v1.2/x/...x",
        "/a%2Fb",
        "/a%5Cb",
        "/admin\\x",
        "/admin;jsessionid=1/x",
        "/a%4g",
        "/caf\u{e9}",
        "https://h/p?q#frag",
        "http://127.0.0.1:8787",
    ] {
        seeds.push(("path", path.as_bytes().to_vec()));
    }
    for _ in 0..40 {
        seeds.push(("path", format!("/{}", rng.tricky(80)).into_bytes()));
    }
    for route in [
        "GET /api/orders/{id}\n/api/**\nDELETE /api/orders/7",
        "/health\nGET,POST /orders\n/**\nPUT /ORDERS/",
        "/admin/**\n/**\nGET /%61dmin/users",
        "/api/tenants/{tenant}/orders\nGET /api/tenants/3c6d1c5e-8f0a-4b8e-9d3c-2a1f6e7b9c41/orders",
        "/files/a b/**\n/**\nGET /files/a%20b/x",
    ] {
        seeds.push(("route", route.as_bytes().to_vec()));
    }

    // configuration: the shipped wrangler.toml and JSON forms
    seeds.push(("config", include_bytes!("../wrangler.toml").to_vec()));
    let valid = json!({
        "origin": "https://api.example.com", "tenants": [TENANT], "audiences": [CLIENT_ID],
        "routes": [
            { "path": "/api/{tenant}/**", "scopes": ["A"], "tenant_segment": "tenant", "cors": { "origins": ["https://a.example"], "credentials": true } },
            { "path": "/public", "public": true, "rate_limit": { "key": ["ip"], "windows": [{ "requests": 10, "period_seconds": 60, "burst": 5 }] } },
        ],
    })
    .to_string();
    seeds.push(("config", valid.clone().into_bytes()));
    for _ in 0..20 {
        seeds.push(("config", rng.mutate(&valid).into_bytes()));
    }

    // CORS: origins, methods, headers, credentials, then the preflight.
    for cors in [
        "https://app.contoso.example\nGET,POST\nauthorization,content-type\n0\nhttps://app.contoso.example\nPOST\nContent-Type",
        "*\nGET\n\n0\nhttps://evil.example\nGET",
        "https://a.example,https://b.example\nPUT\nx-custom\n1\nHTTPS://B.EXAMPLE\nPUT\nx-custom, authorization",
    ] {
        seeds.push(("cors", cors.as_bytes().to_vec()));
    }

    // GCRA: random windows and clocks.
    for _ in 0..20 {
        seeds.push(("gcra", rng.bytes(120)));
    }
    seeds
}

#[test]
#[ignore = "writes fuzz/seeds/; run by hand before `make fuzz-cmin`"]
fn write_seed_corpora() {
    let root = fuzz_dir().join("seeds");
    for (i, (target, data)) in seeds().into_iter().enumerate() {
        let dir = root.join(target);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(format!("seed-{i:04}")), data).unwrap();
    }
}

#[test]
fn seed_inputs_keep_their_properties() {
    for (target, data) in seeds() {
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| property(target)(&data))) {
            let message = panic.downcast_ref::<String>().cloned().or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()));
            panic!("{target}: seed {:?} breaks a property: {}", String::from_utf8_lossy(&data), message.unwrap_or_default());
        }
    }
}
