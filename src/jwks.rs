//! JSON Web Key Sets: parsing the authority's keys and choosing the one a token names.

use base64ct::{Base64UrlUnpadded, Encoding};
use serde::Deserialize;

use crate::discovery::resolve_issuer;
use crate::tenant::TenantId;

/// RSA keys shorter than this are refused (RFC 7518 §3.3).
const MIN_MODULUS_BITS: usize = 2048;
/// Larger moduli are not used by Entra and only cost verification time.
const MAX_MODULUS_BITS: usize = 8192;

/// A usable RSA signing key from a JWKS, with its modulus and exponent decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RsaJwk {
    pub kid: String,
    /// The key's own issuer (Entra v2 JWKS), possibly a `{tenantid}` template.
    pub issuer: Option<String>,
    /// The cloud the key belongs to (`microsoftonline.com`, `microsoftonline.us`, …).
    pub cloud_instance_name: Option<String>,
    /// Base64url forms, as WebCrypto's JWK import wants them.
    pub n: String,
    pub e: String,
    /// Big-endian bytes, as native RSA wants them.
    pub modulus: Vec<u8>,
    pub exponent: Vec<u8>,
}

#[derive(Deserialize)]
struct RawJwks {
    keys: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawJwk {
    kty: String,
    #[serde(rename = "use")]
    key_use: Option<String>,
    alg: Option<String>,
    kid: Option<String>,
    issuer: Option<String>,
    cloud_instance_name: Option<String>,
    n: Option<String>,
    e: Option<String>,
}

/// Parses a JWKS document and keeps the RSA signature keys that are safe to use.
///
/// Keys of other types, for encryption, or malformed are skipped (one bad key must not
/// take the others down); a set with no usable key at all is an error.
pub fn parse_jwks(json: &[u8]) -> Result<Vec<RsaJwk>, String> {
    let raw: RawJwks = serde_json::from_slice(json).map_err(|e| format!("JWKS is not valid JSON: {e}"))?;
    let keys: Vec<RsaJwk> =
        raw.keys.into_iter().filter_map(|value| serde_json::from_value::<RawJwk>(value).ok()).filter_map(usable_key).collect();
    if keys.is_empty() {
        return Err("JWKS has no usable RS256 signing key".into());
    }
    Ok(keys)
}

fn usable_key(raw: RawJwk) -> Option<RsaJwk> {
    if raw.kty != "RSA" || raw.key_use.as_deref().is_some_and(|u| u != "sig") {
        return None;
    }
    if raw.alg.as_deref().is_some_and(|a| a != "RS256") {
        return None;
    }
    let (kid, n, e) = (raw.kid?, raw.n?, raw.e?);
    let modulus = strip_leading_zeros(Base64UrlUnpadded::decode_vec(&n).ok()?);
    let exponent = strip_leading_zeros(Base64UrlUnpadded::decode_vec(&e).ok()?);
    // Leading zeros are stripped, so the first byte (if any) is non-zero; an empty or all-zero
    // `n` has no bits.
    let bits = modulus.first().map_or(0, |first| modulus.len() * 8 - first.leading_zeros() as usize);
    if kid.is_empty() || !(MIN_MODULUS_BITS..=MAX_MODULUS_BITS).contains(&bits) || exponent.is_empty() || exponent.len() > 8 {
        return None;
    }
    Some(RsaJwk { kid, issuer: raw.issuer, cloud_instance_name: raw.cloud_instance_name, n, e, modulus, exponent })
}

fn strip_leading_zeros(mut bytes: Vec<u8>) -> Vec<u8> {
    let zeros = bytes.iter().take_while(|b| **b == 0).count();
    bytes.drain(..zeros);
    bytes
}

/// One key of a set, imported into whatever form the signature backend uses.
#[derive(Debug)]
pub struct SigningKey<K> {
    pub kid: String,
    pub issuer: Option<String>,
    pub cloud_instance_name: Option<String>,
    pub key: K,
}

impl<K> SigningKey<K> {
    /// Microsoft.Identity.Web's signing-key issuer check: a key that declares an issuer
    /// may only sign tokens of that issuer.
    pub fn may_sign_for(&self, token_issuer: &str, tenant: &TenantId) -> bool {
        self.issuer.as_deref().is_none_or(|template| resolve_issuer(template, tenant) == token_issuer)
    }

    /// Microsoft.IdentityModel's cloud check: a key tagged with a `cloud_instance_name` may
    /// only sign for metadata of the same cloud. Either side absent means no constraint.
    pub fn belongs_to_cloud(&self, metadata_cloud: Option<&str>) -> bool {
        match (self.cloud_instance_name.as_deref(), metadata_cloud) {
            (Some(key), Some(metadata)) => key.eq_ignore_ascii_case(metadata),
            _ => true,
        }
    }
}

/// The signing keys of one tenant's authority, ready to verify with.
#[derive(Debug)]
pub struct KeySet<K> {
    keys: Vec<SigningKey<K>>,
}

impl<K> KeySet<K> {
    pub fn new(keys: Vec<SigningKey<K>>) -> KeySet<K> {
        KeySet { keys }
    }

    pub fn find(&self, kid: &str) -> Option<&SigningKey<K>> {
        self.keys.iter().find(|k| k.kid == kid)
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(bytes: &[u8]) -> String {
        Base64UrlUnpadded::encode_string(bytes)
    }

    fn modulus(bits: usize) -> String {
        let mut bytes = vec![0xab; bits / 8];
        bytes[0] = 0xc1;
        b64(&bytes)
    }

    fn jwks(keys: serde_json::Value) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({ "keys": keys })).unwrap()
    }

    #[test]
    fn parses_entra_shaped_keys() {
        let doc = jwks(serde_json::json!([{
            "kty": "RSA", "use": "sig", "kid": "k1", "x5t": "k1", "n": modulus(2048), "e": "AQAB",
            "x5c": ["MIIC..."], "issuer": "https://login.microsoftonline.com/{tenantid}/v2.0"
        }]));
        let keys = parse_jwks(&doc).unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].kid, "k1");
        assert_eq!(keys[0].exponent, vec![1, 0, 1]);
        assert_eq!(keys[0].modulus.len(), 256);
        assert_eq!(keys[0].issuer.as_deref(), Some("https://login.microsoftonline.com/{tenantid}/v2.0"));
    }

    #[test]
    fn skips_unusable_keys_and_keeps_the_rest() {
        let doc = jwks(serde_json::json!([
            { "kty": "RSA", "use": "enc", "kid": "enc", "n": modulus(2048), "e": "AQAB" },
            { "kty": "EC", "kid": "ec", "crv": "P-256", "x": "AA", "y": "AA" },
            { "kty": "RSA", "kid": "weak", "n": modulus(1024), "e": "AQAB" },
            { "kty": "RSA", "kid": "ps", "alg": "PS256", "n": modulus(2048), "e": "AQAB" },
            { "kty": "RSA", "kid": "bad-b64", "n": "!!!", "e": "AQAB" },
            { "kty": "RSA", "n": modulus(2048), "e": "AQAB" },
            { "kty": "RSA", "kid": 7, "n": modulus(2048), "e": "AQAB" },
            { "kty": "RSA", "kid": "good", "n": modulus(2048), "e": "AQAB" }
        ]));
        let kids: Vec<_> = parse_jwks(&doc).unwrap().into_iter().map(|k| k.kid).collect();
        assert_eq!(kids, ["good"]);
    }

    #[test]
    fn a_key_whose_modulus_is_empty_or_zero_is_skipped() {
        // Found by the jwks fuzz target: the bit count underflowed for an empty modulus.
        for n in ["", "AA", "AAAA"] {
            let doc = jwks(serde_json::json!([{ "kty": "RSA", "kid": "zero", "n": n, "e": "AQAB" }]));
            assert!(parse_jwks(&doc).is_err(), "n = {n:?}");
        }
    }

    #[test]
    fn set_without_usable_keys_is_an_error() {
        assert!(parse_jwks(&jwks(serde_json::json!([]))).is_err());
        assert!(parse_jwks(b"{}").is_err());
        assert!(parse_jwks(b"not json").is_err());
    }

    #[test]
    fn key_issuer_must_match_the_tokens_issuer() {
        let tenant = TenantId::parse("72f988bf-86f1-41af-91ab-2d7cd011db47").unwrap();
        let key = SigningKey {
            kid: "k".into(),
            issuer: Some("https://login.microsoftonline.com/{tenantid}/v2.0".into()),
            cloud_instance_name: None,
            key: (),
        };
        assert!(key.may_sign_for("https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0", &tenant));
        assert!(!key.may_sign_for("https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000/v2.0", &tenant));
        let any = SigningKey { kid: "k".into(), issuer: None, cloud_instance_name: None, key: () };
        assert!(any.may_sign_for("anything", &tenant));
    }

    #[test]
    fn key_of_another_cloud_does_not_belong_to_this_authority() {
        let us = SigningKey { kid: "k".into(), issuer: None, cloud_instance_name: Some("microsoftonline.us".into()), key: () };
        assert!(!us.belongs_to_cloud(Some("microsoftonline.com")));
        assert!(us.belongs_to_cloud(Some("microsoftonline.us")));
        assert!(us.belongs_to_cloud(None), "metadata without a cloud: no constraint");
        let untagged = SigningKey { kid: "k".into(), issuer: None, cloud_instance_name: None, key: () };
        assert!(untagged.belongs_to_cloud(Some("microsoftonline.com")));
    }

    #[test]
    fn key_cloud_is_read_from_the_jwks() {
        let doc = jwks(
            serde_json::json!([{ "kty": "RSA", "kid": "k", "n": modulus(2048), "e": "AQAB", "cloud_instance_name": "microsoftonline.us" }]),
        );
        assert_eq!(parse_jwks(&doc).unwrap()[0].cloud_instance_name.as_deref(), Some("microsoftonline.us"));
    }
}
