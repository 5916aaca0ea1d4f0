//! `[vars.ENTRA_EDGE.assertion]`: the signed identity assertion (opt-in; README "Signed
//! identity assertion"), validated. The private key is the `ASSERTION_SIGNING_KEY` secret,
//! read by the worker (a secret is not part of the configuration file).

use serde::Deserialize;

use crate::assertion::{
    AssertionSettings, PublicKey, DEFAULT_HEADER, DEFAULT_JWKS_PATH, DEFAULT_LIFETIME_SECONDS, LIFETIME_BOUNDS, MAX_ADDITIONAL_KEYS,
};
use crate::forward::fold_name;

use super::{checks, Field, Problems};

/// Headers the assertion cannot travel in: the ones the gateway sets or handles itself
/// (hop-by-hop ones are [`crate::forward::is_hop_by_hop`]), folded.
const RESERVED_HEADERS: [&str; 19] = [
    "authorization",
    "host",
    "content-type",
    "content-length",
    "content-encoding",
    "cookie",
    "x-request-id",
    "traceparent",
    "tracestate",
    crate::forward::TENANT_ID,
    crate::forward::OBJECT_ID,
    crate::forward::SUBJECT,
    crate::forward::CLIENT_ID,
    crate::forward::SCOPES,
    crate::forward::ROLES,
    crate::forward::TOKEN_KIND,
    crate::forward::TOKEN_VERSION,
    crate::forward::EXPIRES,
    crate::forward::ORIGIN_SECRET_HEADER,
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAssertion {
    #[serde(default = "default_issuer")]
    issuer: String,
    /// Default: the configured `origin`.
    audience: Option<String>,
    #[serde(default = "default_lifetime")]
    lifetime_seconds: u64,
    #[serde(default = "default_header")]
    header: String,
    #[serde(default = "default_jwks_path")]
    jwks_path: String,
    #[serde(default)]
    additional_public_keys: Vec<serde_json::Value>,
}

fn default_issuer() -> String {
    "entra-edge".into()
}
fn default_lifetime() -> u64 {
    DEFAULT_LIFETIME_SECONDS
}
fn default_header() -> String {
    DEFAULT_HEADER.into()
}
fn default_jwks_path() -> String {
    DEFAULT_JWKS_PATH.into()
}

/// A claim value the origin compares exactly: non-empty, no surrounding spaces, no control
/// characters, at most 512 bytes.
fn valid_name(value: &str) -> bool {
    !value.is_empty() && value.trim() == value && value.len() <= 512 && !value.chars().any(char::is_control)
}

impl RawAssertion {
    /// `origin` is the configured origin as written (the default audience); `health_path`
    /// the validated health endpoint (the key document cannot share its path).
    pub(super) fn build(self, at: &Field, origin: &str, health_path: Option<&str>, problems: &mut Problems) -> AssertionSettings {
        if !valid_name(&self.issuer) {
            problems
                .add(&at.key("issuer"), "must be a non-empty string without surrounding spaces or control characters (at most 512 bytes)");
        }
        let audience = self.audience.unwrap_or_else(|| origin.trim_end_matches('/').to_string());
        if !valid_name(&audience) {
            problems.add(
                &at.key("audience"),
                "must be a non-empty string without surrounding spaces or control characters (at most 512 bytes)",
            );
        }
        let (min, max) = LIFETIME_BOUNDS;
        if !(min..=max).contains(&self.lifetime_seconds) {
            problems.add(&at.key("lifetime_seconds"), format!("must be between {min} and {max} seconds"));
        }
        let header = self.header.to_ascii_lowercase();
        if !checks::is_header_name(&header) {
            problems.add(&at.key("header"), format!("{:?} is not a header name", self.header));
        } else if RESERVED_HEADERS.contains(&fold_name(&header).as_str()) || crate::forward::is_hop_by_hop(&fold_name(&header)) {
            problems.add(
                &at.key("header"),
                format!("{:?} is a header the gateway sets or handles itself; choose another (default {DEFAULT_HEADER:?})", self.header),
            );
        }
        let jwks_path = match self.jwks_path.as_str() {
            "" => None,
            path => match crate::path::normalize(path) {
                Ok(normalized) if normalized.as_str() == path && path != "/" => {
                    if health_path == Some(path) {
                        problems.add(&at.key("jwks_path"), "must differ from health_path");
                    }
                    Some(path.to_string())
                }
                _ => {
                    problems.add(
                        &at.key("jwks_path"),
                        format!("must be a normalized absolute path such as {DEFAULT_JWKS_PATH}, or \"\" to not publish the keys"),
                    );
                    None
                }
            },
        };
        if self.additional_public_keys.len() > MAX_ADDITIONAL_KEYS {
            problems.add(
                &at.key("additional_public_keys"),
                format!("at most {MAX_ADDITIONAL_KEYS} keys: the next key ahead of a rotation and the previous one after it"),
            );
        }
        let mut additional_keys: Vec<PublicKey> = Vec::new();
        for (i, value) in self.additional_public_keys.iter().enumerate() {
            match PublicKey::parse(value) {
                Ok(key) if additional_keys.iter().any(|k| k.kid == key.kid) => {
                    problems.add(&at.key("additional_public_keys").index(i), format!("duplicate kid {:?}", key.kid))
                }
                Ok(key) => additional_keys.push(key),
                Err(message) => problems.add(&at.key("additional_public_keys").index(i), message),
            }
        }
        AssertionSettings { issuer: self.issuer, audience, lifetime_seconds: self.lifetime_seconds, header, jwks_path, additional_keys }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, ConfigError};

    const X: &str = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
    const Y: &str = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";

    fn parse(assertion: serde_json::Value) -> Result<Config, Vec<ConfigError>> {
        Config::from_json(
            &serde_json::json!({
                "origin": "https://orders-origin.contoso.com/v1",
                "tenants": ["72f988bf-86f1-41af-91ab-2d7cd011db47"],
                "audiences": ["api://orders"],
                "routes": [{ "path": "/**" }],
                "assertion": assertion,
            })
            .to_string(),
        )
    }

    fn fields(assertion: serde_json::Value) -> Vec<String> {
        parse(assertion).unwrap_err().into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn without_the_table_there_is_no_assertion() {
        let config = Config::from_json(
            r#"{"origin":"https://a.example.com","tenants":["72f988bf-86f1-41af-91ab-2d7cd011db47"],"audiences":["x"],"routes":[{"path":"/**"}]}"#,
        )
        .unwrap();
        assert_eq!(config.assertion, None);
    }

    #[test]
    fn an_empty_table_turns_it_on_with_the_documented_defaults() {
        let settings = parse(serde_json::json!({})).unwrap().assertion.unwrap();
        assert_eq!(settings.issuer, "entra-edge");
        assert_eq!(settings.audience, "https://orders-origin.contoso.com/v1", "the origin is the default audience");
        assert_eq!(settings.lifetime_seconds, 60);
        assert_eq!(settings.header, "x-entra-edge-assertion");
        assert_eq!(settings.jwks_path.as_deref(), Some("/.well-known/entra-edge-assertion-keys"));
        assert!(settings.additional_keys.is_empty());
    }

    #[test]
    fn issuer_audience_header_and_path_are_configurable() {
        let settings = parse(serde_json::json!({
            "issuer": "https://gateway.contoso.com", "audience": "orders-origin", "lifetime_seconds": 30,
            "header": "X-Gateway-Assertion", "jwks_path": "/keys/assertion",
        }))
        .unwrap()
        .assertion
        .unwrap();
        assert_eq!((settings.issuer.as_str(), settings.audience.as_str()), ("https://gateway.contoso.com", "orders-origin"));
        assert_eq!(settings.lifetime_seconds, 30);
        assert_eq!(settings.header, "x-gateway-assertion");
        assert_eq!(settings.jwks_path.as_deref(), Some("/keys/assertion"));
        let off = parse(serde_json::json!({ "jwks_path": "" })).unwrap().assertion.unwrap();
        assert_eq!(off.jwks_path, None);
    }

    #[test]
    fn the_lifetime_is_bounded() {
        for bad in [0, 4, 301, 86_400] {
            assert_eq!(fields(serde_json::json!({ "lifetime_seconds": bad })), ["ENTRA_EDGE.assertion.lifetime_seconds"], "{bad}");
        }
        for good in [5, 300] {
            assert!(parse(serde_json::json!({ "lifetime_seconds": good })).is_ok(), "{good}");
        }
    }

    #[test]
    fn the_header_cannot_be_one_the_gateway_handles() {
        for bad in ["Authorization", "x-entra-tenant-id", "X_Entra_Edge_Secret", "traceparent", "host", "not a name", ""] {
            assert_eq!(fields(serde_json::json!({ "header": bad })), ["ENTRA_EDGE.assertion.header"], "{bad:?}");
        }
    }

    #[test]
    fn a_custom_header_is_stripped_from_clients_under_every_spelling() {
        let config = parse(serde_json::json!({ "header": "X-Gateway-Assertion" })).unwrap();
        for spelling in ["x-gateway-assertion", "X_Gateway_Assertion", "x.gateway.assertion"] {
            assert!(config.identity_headers.is_identity(spelling), "{spelling}");
        }
        let default = parse(serde_json::json!({})).unwrap();
        assert!(default.identity_headers.is_identity("X_Entra_Edge_Assertion"));
    }

    #[test]
    fn issuer_and_audience_must_be_exact_names() {
        assert_eq!(
            fields(serde_json::json!({ "issuer": "", "audience": " padded " })),
            ["ENTRA_EDGE.assertion.issuer", "ENTRA_EDGE.assertion.audience"]
        );
    }

    #[test]
    fn the_key_document_path_must_be_normalized_and_not_the_health_path() {
        for bad in ["keys", "/a//b", "/", "/keys/"] {
            assert_eq!(fields(serde_json::json!({ "jwks_path": bad })), ["ENTRA_EDGE.assertion.jwks_path"], "{bad}");
        }
        assert_eq!(fields(serde_json::json!({ "jwks_path": "/.well-known/entra-edge/health" })), ["ENTRA_EDGE.assertion.jwks_path"]);
    }

    #[test]
    fn additional_keys_are_public_p256_keys_named_by_index() {
        let good = serde_json::json!({ "kty": "EC", "crv": "P-256", "x": X, "y": Y, "kid": "2026-05" });
        let settings = parse(serde_json::json!({ "additional_public_keys": [good] })).unwrap().assertion.unwrap();
        assert_eq!(settings.additional_keys[0].kid, "2026-05");
        let private = serde_json::json!({ "kty": "EC", "crv": "P-256", "x": X, "y": Y, "d": X });
        let errors = parse(serde_json::json!({ "additional_public_keys": [good, private] })).unwrap_err();
        assert_eq!(errors[0].field, "ENTRA_EDGE.assertion.additional_public_keys[1]");
        assert!(errors[0].message.contains("private"), "{}", errors[0]);
        assert_eq!(
            fields(serde_json::json!({ "additional_public_keys": [good, good] })),
            ["ENTRA_EDGE.assertion.additional_public_keys[1]"]
        );
        assert_eq!(
            fields(serde_json::json!({ "additional_public_keys": [good, good, good] }))[0],
            "ENTRA_EDGE.assertion.additional_public_keys"
        );
    }

    #[test]
    fn unknown_fields_are_named() {
        assert_eq!(fields(serde_json::json!({ "lifetime": 60 })), ["ENTRA_EDGE.assertion.lifetime"]);
    }
}
