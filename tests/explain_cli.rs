//! The `entra-edge explain` binary itself: token sources (argument, file, environment,
//! standard input), exit codes, JSON output, keys from a file or fetched from an authority on
//! 127.0.0.1, a pinned clock on a token of genuine Entra shape, and never the signature.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use common::*;
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_entra-edge");
/// 2025-11-30T08:00:00Z: the genuine-shape token is issued then, for 85 min.
const ISSUED: i64 = 1_764_489_600;

/// A fresh folder with a wrangler.toml (authority `authority`) and the fixture JWKS.
fn workspace(authority: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!("entra-edge-explain-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::SeqCst)));
    std::fs::create_dir_all(&dir).unwrap();
    let config = format!(
        r#"name = "explain-test"
[vars.ENTRA_EDGE]
origin = "https://orders.contoso.com"
authority = "{authority}"
tenants = ["{TENANT}"]
audiences = ["{CLIENT_ID}", "{APP_ID_URI}"]

[[vars.ENTRA_EDGE.routes]]
name = "read"
path = "/api/orders/**"
methods = ["GET"]
scopes = ["Orders.Read"]

[env.strict.vars.ENTRA_EDGE]
origin = "https://orders.contoso.com"
tenants = ["{TENANT}"]
audiences = ["{CLIENT_ID}"]
token_versions = ["2.0"]
routes = [{{ path = "/**" }}]
"#
    );
    std::fs::write(dir.join("wrangler.toml"), config).unwrap();
    std::fs::write(dir.join("jwks.json"), jwks().to_string()).unwrap();
    dir
}

fn jwks() -> Value {
    json!({ "keys": test_keys().into_iter().map(|k| k.jwk).collect::<Vec<_>>() })
}

/// A v2 access token with every claim Entra puts in one (a delegated call from a SPA).
fn genuine_shape() -> String {
    let keys = test_keys();
    let claims = json!({
        "aud": CLIENT_ID,
        "iss": v2_issuer(TENANT),
        "iat": ISSUED, "nbf": ISSUED, "exp": ISSUED + 5100,
        "aio": "AWQAm/8YAAAAx7kYp0lY9Wq0uTzF0wUM1nI2Zs1N3Tg9t0cQ5p2Vq1t3a8mXjv1b0gH6L0i3QH1kq1mJ1ty5g2Jg==",
        "azp": "0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d",
        "azpacr": "0",
        "name": "Adele Vance",
        "oid": "d621d57a-9995-4e93-9180-4eef25206cff",
        "preferred_username": "adele@contoso.example",
        "rh": "1.AXkAXhxtPAqPjkudPCofbnucQUeaL24xG15NjfcJqKt8bV55AAF5AA.",
        "scp": "Orders.Read",
        "sid": "00a1b2c3-d4e5-4f60-8a7b-9c0d1e2f3a4b",
        "sub": "IWMzMwQdjgbicCdDaEDco1xJAUOodBuGdB4jZPSf1Tw",
        "tid": TENANT,
        "uti": "hvlaVY8_5LWqWHgGT_YtfA",
        "ver": "2.0",
        "xms_ftd": "m1Fs0E7wGmL6kq1qk2pQ3uP0x5Xz4yV7nB2cD9eF1gH"
    });
    sign(&json!({ "typ": "JWT", "alg": "RS256", "kid": keys[0].kid }), &claims, &keys[0].private)
}

fn explain(dir: &PathBuf, args: &[&str], stdin: Option<&str>, env: Option<(&str, &str)>) -> Output {
    let mut command = Command::new(BIN);
    command.current_dir(dir).arg("explain").args(args);
    command.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() }).stdout(Stdio::piped()).stderr(Stdio::piped());
    if let Some((name, value)) = env {
        command.env(name, value);
    }
    let mut child = command.spawn().unwrap();
    if let Some(text) = stdin {
        child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    }
    child.wait_with_output().unwrap()
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

fn assert_no_signature(output: &Output, token: &str) {
    let signature = token.rsplit('.').next().unwrap();
    let all = text(output);
    assert!(!all.contains(signature), "the signature was printed:\n{all}");
    assert!(!all.contains(token), "the token was printed");
}

const AT_INSIDE: &str = "2025-11-30T09:00:00Z";

#[test]
fn a_genuine_shape_token_passes_at_a_pinned_time_with_exit_0() {
    let dir = workspace("https://login.microsoftonline.com");
    let token = genuine_shape();
    let output = explain(&dir, &[&token, "--jwks", "jwks.json", "--at", AT_INSIDE, "--route", "GET /api/orders/7"], None, None);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("verdict: PASS"), "{stdout}");
    assert!(stdout.contains("\"preferred_username\": \"adele@contoso.example\""), "the claims are decoded");
    assert!(stdout.contains("signature (not shown)"));
    assert_no_signature(&output, &token);
}

#[test]
fn the_same_token_later_is_refused_with_exit_1_and_says_how_long_ago() {
    let dir = workspace("https://login.microsoftonline.com");
    let token = genuine_shape();
    let at = (ISSUED + 5100 + 3 * 3600).to_string();
    let output = explain(&dir, &[&token, "--jwks", "jwks.json", "--at", &at], None, None);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("REFUSED: 401 token_expired"), "{stdout}");
    assert!(stdout.contains("expired 3 h 0 min ago"), "{stdout}");
    assert!(stdout.contains("WWW-Authenticate: Bearer realm=\"entra-edge\", error=\"invalid_token\""), "{stdout}");
    assert_no_signature(&output, &token);
}

#[test]
fn the_token_is_read_from_standard_input_a_file_or_the_environment() {
    let dir = workspace("https://login.microsoftonline.com");
    let token = genuine_shape();
    let args = ["--jwks", "jwks.json", "--at", AT_INSIDE];
    let stdin = explain(&dir, &[&["-"][..], &args].concat(), Some(&format!("{token}\n")), None);
    assert_eq!(stdin.status.code(), Some(0), "{}", text(&stdin));
    std::fs::write(dir.join("token.txt"), format!("Bearer {token}\n")).unwrap();
    let file = explain(&dir, &[&["--token-file", "token.txt"][..], &args].concat(), None, None);
    assert_eq!(file.status.code(), Some(0), "{}", text(&file));
    let env = explain(&dir, &[&["--token-env", "MY_TOKEN"][..], &args].concat(), None, Some(("MY_TOKEN", &token)));
    assert_eq!(env.status.code(), Some(0), "{}", text(&env));
    let env_stdin = explain(&dir, &[&["--token-env", "MY_TOKEN"][..], &args].concat(), Some(&token), Some(("MY_TOKEN", "-")));
    assert_eq!(env_stdin.status.code(), Some(0), "{}", text(&env_stdin));
    for output in [stdin, file, env, env_stdin] {
        assert_no_signature(&output, &token);
    }
}

#[test]
fn json_output_has_checks_verdict_and_hints() {
    let dir = workspace("https://login.microsoftonline.com");
    let token = genuine_shape();
    let output = explain(&dir, &[&token, "--jwks", "jwks.json", "--at", "2026-01-01T00:00:00Z", "--json"], None, None);
    assert_eq!(output.status.code(), Some(1));
    let value: Value = serde_json::from_slice(&output.stdout).unwrap();
    let failed: Vec<_> = value["checks"].as_array().unwrap().iter().filter(|c| c["outcome"] == "fail").collect();
    assert_eq!(failed.len(), 1);
    assert_eq!((failed[0]["name"].as_str(), failed[0]["reason"].as_str()), (Some("claims.exp"), Some("token_expired")));
    assert_eq!(value["verdict"]["status"], 401);
    assert_eq!(value["hints"][0]["code"], "expired");
    assert_no_signature(&output, &token);
}

#[test]
fn a_v1_token_for_a_v2_only_environment_gets_the_manifest_hint() {
    let dir = workspace("https://login.microsoftonline.com");
    let keys = test_keys();
    let token = sign(&header(&keys[0].kid), &v1_app_claims(), &keys[0].private);
    let output = explain(&dir, &[&token, "--env", "strict", "--jwks", "jwks.json", "--at", &NOW.to_string()], None, None);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("accessTokenAcceptedVersion"));
}

#[test]
fn a_metadata_file_gives_the_issuer_for_offline_keys() {
    let dir = workspace("https://login.microsoftonline.com");
    let token = genuine_shape();
    let metadata = json!({ "issuer": "https://login.microsoftonline.com/{tenantid}/v2.0", "jwks_uri": "https://login.microsoftonline.com/common/discovery/v2.0/keys" });
    std::fs::write(dir.join("metadata.json"), metadata.to_string()).unwrap();
    let output = explain(&dir, &[&token, "--jwks", "jwks.json", "--metadata", "metadata.json", "--at", AT_INSIDE], None, None);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let other = json!({ "issuer": "https://login.microsoftonline.us/{tenantid}/v2.0", "jwks_uri": "https://login.microsoftonline.us/common/discovery/v2.0/keys" });
    std::fs::write(dir.join("metadata.json"), other.to_string()).unwrap();
    let output = explain(&dir, &[&token, "--jwks", "jwks.json", "--metadata", "metadata.json", "--at", AT_INSIDE], None, None);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("401 issuer_mismatch"));
}

#[test]
fn skipping_the_signature_warns_and_exits_3() {
    let dir = workspace("https://login.microsoftonline.com");
    let token = genuine_shape();
    let output = explain(&dir, &[&token, "--skip-signature", "--at", AT_INSIDE], None, None);
    assert_eq!(output.status.code(), Some(3), "{}", text(&output));
    assert!(String::from_utf8_lossy(&output.stderr).contains("WARNING: --skip-signature"));
    assert!(String::from_utf8_lossy(&output.stdout).contains("UNVERIFIED"));
}

#[test]
fn usage_and_configuration_errors_exit_2_without_echoing_the_token() {
    let dir = workspace("https://login.microsoftonline.com");
    let token = genuine_shape();
    for args in [
        vec!["--jwks", "jwks.json"],
        vec![token.as_str(), "--bogus"],
        vec![token.as_str(), "--at", "yesterday"],
        vec![token.as_str(), "--route", "/api/orders"],
        vec![token.as_str(), "--config", "missing.toml"],
        vec![token.as_str(), "--env", "nowhere", "--skip-signature"],
        vec![token.as_str(), "--jwks", "missing.json"],
    ] {
        let output = explain(&dir, &args, None, None);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {}", text(&output));
        assert_no_signature(&output, &token);
    }
}

/// Serves the OpenID metadata and the JWKS on 127.0.0.1, `requests` times, then stops.
fn authority(requests: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let jwks_uri = format!("{base}/{TENANT}/discovery/v2.0/keys");
    std::thread::spawn(move || {
        for stream in listener.incoming().take(requests) {
            let mut stream = stream.unwrap();
            let mut request = Vec::new();
            let mut byte = [0u8; 1];
            while !request.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
                request.push(byte[0]);
            }
            let head = String::from_utf8_lossy(&request);
            let body = if head.contains("openid-configuration") {
                json!({ "issuer": "https://login.microsoftonline.com/{tenantid}/v2.0", "jwks_uri": jwks_uri }).to_string()
            } else {
                jwks().to_string()
            };
            let answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    base
}

#[test]
fn keys_are_fetched_from_the_configured_authority() {
    let base = authority(2);
    let dir = workspace(&base);
    let token = genuine_shape();
    let output = explain(&dir, &[&token, "--at", AT_INSIDE], None, None);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains(&format!("keys fetched from {base}/{TENANT}/v2.0/.well-known/openid-configuration")), "{stdout}");
}

#[test]
fn an_unreachable_authority_is_an_error_not_a_refusal() {
    // A port nothing listens on: bound, then released.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = workspace(&format!("http://127.0.0.1:{port}"));
    let output = explain(&dir, &[&genuine_shape(), "--at", AT_INSIDE], None, None);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("503 keys_unavailable"));
}
