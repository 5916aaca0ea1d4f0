//! The Entra claims the gateway reads, as they appear in v1 and v2 access tokens.
//!
//! A claim of the wrong JSON type makes the whole token malformed: lenient parsing is
//! where confused-deputy bugs hide.

use serde::{Deserialize, Deserializer};

/// Custom (non-time) claims; `exp`/`nbf`/`iat` are read by jwt-compact's `Claims`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct EntraClaims {
    #[serde(default, deserialize_with = "string_or_array")]
    pub aud: Vec<String>,
    pub iss: Option<String>,
    pub tid: Option<String>,
    pub oid: Option<String>,
    pub sub: Option<String>,
    pub ver: Option<String>,
    /// Client application (v2).
    pub azp: Option<String>,
    /// Client application (v1).
    pub appid: Option<String>,
    /// Delegated permissions: one space-separated string.
    pub scp: Option<String>,
    /// App permissions or assigned app roles: an array.
    pub roles: Option<Vec<String>>,
    /// `app` for app-only tokens when the optional claim is enabled.
    pub idtyp: Option<String>,
    pub upn: Option<String>,
    pub preferred_username: Option<String>,
    /// Conditional Access authentication contexts satisfied by the token.
    pub acrs: Option<Vec<String>>,
    /// Client capabilities (`cp1` = can handle claims challenges).
    pub xms_cc: Option<Vec<String>>,
    /// Claims only ID tokens carry (OpenID Connect Core §2, §3.1.3.6, §3.3.2.11): their
    /// presence, whatever the value, marks a token that must not call an API.
    #[serde(default, deserialize_with = "present")]
    pub nonce: bool,
    #[serde(default, deserialize_with = "present")]
    pub at_hash: bool,
    #[serde(default, deserialize_with = "present")]
    pub c_hash: bool,
}

impl EntraClaims {
    /// The names of ID-token-only claims this token carries.
    pub fn id_token_claims(&self) -> Vec<&'static str> {
        [(self.nonce, "nonce"), (self.at_hash, "at_hash"), (self.c_hash, "c_hash")]
            .into_iter()
            .filter_map(|(present, name)| present.then_some(name))
            .collect()
    }
}

/// True when the claim exists, whatever its value (even `null`).
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    serde::de::IgnoredAny::deserialize(deserializer).map(|_| true)
}

/// `aud` is a string in Entra tokens but may be an array in any JWT (RFC 7519 §4.1.3).
fn string_or_array<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(deserializer)? {
        OneOrMany::One(one) => vec![one],
        OneOrMany::Many(many) => many,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audience_may_be_a_string_or_an_array() {
        let one: EntraClaims = serde_json::from_str(r#"{"aud":"api://a"}"#).unwrap();
        assert_eq!(one.aud, ["api://a"]);
        let many: EntraClaims = serde_json::from_str(r#"{"aud":["x","y"]}"#).unwrap();
        assert_eq!(many.aud, ["x", "y"]);
    }

    #[test]
    fn claim_of_the_wrong_type_is_an_error() {
        assert!(serde_json::from_str::<EntraClaims>(r#"{"roles":"Admin"}"#).is_err());
        assert!(serde_json::from_str::<EntraClaims>(r#"{"scp":["a"]}"#).is_err());
        assert!(serde_json::from_str::<EntraClaims>(r#"{"aud":7}"#).is_err());
        assert!(serde_json::from_str::<EntraClaims>(r#"{"tid":null}"#).unwrap().tid.is_none());
    }

    #[test]
    fn id_token_claims_are_detected_whatever_their_value() {
        let claims: EntraClaims = serde_json::from_str(r#"{"nonce":null,"at_hash":"x","c_hash":7}"#).unwrap();
        assert_eq!(claims.id_token_claims(), ["nonce", "at_hash", "c_hash"]);
        assert!(serde_json::from_str::<EntraClaims>("{}").unwrap().id_token_claims().is_empty());
    }
}
