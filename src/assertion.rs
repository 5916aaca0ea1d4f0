//! The signed identity assertion (opt-in, `[vars.ENTRA_EDGE.assertion]`): per forwarded
//! request on a token-protected route, a short-lived JWS (RFC 7515, compact form) that the
//! origin verifies with the gateway's published public key, instead of trusting the
//! `x-entra-*` headers because of where they come from.
//!
//! This module is the pure part: the signing key and published keys (JWK, RFC 7517/7518
//! §6.2, P-256), their `kid` (RFC 7638 thumbprint unless the JWK names one), the settings,
//! the claims and the signing input. The shell (`src/edge/assertion.rs`) imports the key
//! into WebCrypto once per isolate and signs (ECDSA P-256 / SHA-256, `ES256`, RFC 7518
//! §3.4: WebCrypto's raw `r || s` output is exactly the JWS signature).
//!
//! Claims (README "Signed identity assertion"): `iss`, `aud`, `iat`, `exp`, `jti`; the
//! verified caller with Entra's claim names and shapes (`tid`, `oid`, `sub`, `azp`, `scp`
//! space-separated, `roles` array, `idtyp` `user`/`app`, `ver`) plus `token_exp` (the
//! access token's `exp`); the `route`; and the binding to this one request: `htm` (the
//! method, as RFC 9449 DPoP defines it) and `target` (the request-target in origin-form,
//! RFC 9112 §3.2.1: path and query exactly as the origin receives them, without scheme and
//! host, which tunnels and load balancers change — not DPoP's `htu`, which is a full URI
//! without the query), and `request_id`.

use base64ct::{Base64UrlUnpadded, Encoding};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::principal::{Principal, TokenKind};

/// The Workers secret holding the private signing key (a JWK, EC P-256 with `d`).
pub const SIGNING_KEY_SECRET: &str = "ASSERTION_SIGNING_KEY";
/// The header that carries the assertion unless `assertion.header` names another.
pub const DEFAULT_HEADER: &str = "x-entra-edge-assertion";
/// Where the public keys are published unless `assertion.jwks_path` says otherwise.
pub const DEFAULT_JWKS_PATH: &str = "/.well-known/entra-edge-assertion-keys";
/// The JWS `typ` (RFC 8725 §3.11 explicit typing): an origin that checks it cannot be fed
/// another JWT of the same issuer and key.
pub const TYP: &str = "entra-edge-assertion+jwt";
/// The JWS `alg`: ECDSA P-256 with SHA-256.
pub const ALG: &str = "ES256";
/// Default lifetime, seconds.
pub const DEFAULT_LIFETIME_SECONDS: u64 = 60;
/// Lifetime bounds, seconds: short enough that a leaked assertion is soon useless, long
/// enough for clock differences between the gateway and the origin.
pub const LIFETIME_BOUNDS: (u64, u64) = (5, 300);
/// At most this many additional public keys are published next to the current one (during
/// a rotation: the next key ahead of the switch, the previous one after it).
pub const MAX_ADDITIONAL_KEYS: usize = 2;

/// `assertion` settings, validated (built by `config::assertion`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssertionSettings {
    /// `iss`: names the gateway.
    pub issuer: String,
    /// `aud`: names the origin (default: the configured `origin` URL).
    pub audience: String,
    /// `exp - iat`, seconds.
    pub lifetime_seconds: u64,
    /// Lowercase header name carrying the assertion.
    pub header: String,
    /// Where the JWKS is answered at the edge (None: not published).
    pub jwks_path: Option<String>,
    /// Public keys published next to the current one during a rotation (never used to
    /// sign): the next key before the switch, the previous key after it.
    pub additional_keys: Vec<PublicKey>,
}

/// An EC P-256 public key as published (RFC 7518 §6.2.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey {
    pub kid: String,
    /// Base64url (no padding) of the 32-byte coordinates.
    pub x: String,
    pub y: String,
}

/// The private signing key from [`SIGNING_KEY_SECRET`]: its public part and `d`.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKey {
    pub public: PublicKey,
    /// Base64url (no padding) of the 32-byte private scalar.
    pub d: String,
}

/// Never prints the private scalar.
impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("public", &self.public).finish_non_exhaustive()
    }
}

/// The RFC 7638 thumbprint of a P-256 public key: base64url(SHA-256 of the canonical JWK
/// `{"crv":"P-256","kty":"EC","x":…,"y":…}`). The default `kid`.
pub fn thumbprint(x: &str, y: &str) -> String {
    let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
    Base64UrlUnpadded::encode_string(&Sha256::digest(canonical.as_bytes()))
}

fn member<'a>(jwk: &'a serde_json::Map<String, serde_json::Value>, name: &str) -> Result<Option<&'a str>, String> {
    match jwk.get(name) {
        None => Ok(None),
        Some(serde_json::Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("\"{name}\" must be a string")),
    }
}

/// A base64url (unpadded) member that decodes to exactly 32 bytes (a P-256 coordinate or scalar).
fn coordinate(jwk: &serde_json::Map<String, serde_json::Value>, name: &str) -> Result<String, String> {
    let value = member(jwk, name)?.ok_or_else(|| format!("\"{name}\" is missing"))?;
    match Base64UrlUnpadded::decode_vec(value) {
        Ok(bytes) if bytes.len() == 32 => Ok(value.to_string()),
        Ok(bytes) => Err(format!("\"{name}\" is {} bytes; a P-256 key has 32", bytes.len())),
        Err(_) => Err(format!("\"{name}\" is not base64url without padding")),
    }
}

impl PublicKey {
    /// Reads an EC P-256 JWK (`kty` `EC`, `crv` `P-256`, `x`, `y`; `alg` if present `ES256`,
    /// `use` if present `sig`; `kid` optional, else the thumbprint). `private` allows `d`
    /// (the secret); a published key must not carry it.
    fn from_jwk(jwk: &serde_json::Map<String, serde_json::Value>, private: bool) -> Result<PublicKey, String> {
        if member(jwk, "kty")? != Some("EC") {
            return Err("\"kty\" must be \"EC\" (an ES256 key: ECDSA on P-256)".into());
        }
        if member(jwk, "crv")? != Some("P-256") {
            return Err("\"crv\" must be \"P-256\"".into());
        }
        if member(jwk, "alg")?.is_some_and(|alg| alg != ALG) {
            return Err("\"alg\", when present, must be \"ES256\"".into());
        }
        if member(jwk, "use")?.is_some_and(|u| u != "sig") {
            return Err("\"use\", when present, must be \"sig\"".into());
        }
        if !private && jwk.contains_key("d") {
            return Err("carries the private key (\"d\"); publish only the public part (kty, crv, x, y, kid)".into());
        }
        let x = coordinate(jwk, "x")?;
        let y = coordinate(jwk, "y")?;
        let kid = match member(jwk, "kid")? {
            None => thumbprint(&x, &y),
            Some(kid)
                if !kid.is_empty() && kid.len() <= 128 && kid.bytes().all(|b| (0x21..0x7f).contains(&b) && b != b'"' && b != b'\\') =>
            {
                kid.to_string()
            }
            Some(_) => return Err("\"kid\" must be 1–128 printable ASCII characters without quotes or backslashes".into()),
        };
        Ok(PublicKey { kid, x, y })
    }

    /// A published key from a configuration value (a JWK as a JSON/TOML table).
    pub fn parse(value: &serde_json::Value) -> Result<PublicKey, String> {
        match value {
            serde_json::Value::Object(jwk) => PublicKey::from_jwk(jwk, false),
            _ => Err("must be a JWK table such as { kty = \"EC\", crv = \"P-256\", x = \"…\", y = \"…\", kid = \"…\" }".into()),
        }
    }

    /// The JWK as published in the JWKS.
    fn to_json(&self) -> serde_json::Value {
        serde_json::json!({ "kty": "EC", "crv": "P-256", "x": self.x, "y": self.y, "kid": self.kid, "alg": ALG, "use": "sig" })
    }
}

impl SigningKey {
    /// Parses the secret's text: a JSON JWK with `kty` `EC`, `crv` `P-256`, `x`, `y` and
    /// `d` (what `make assertion-key` writes). The error says what is wrong, never the value.
    pub fn parse(secret: &str) -> Result<SigningKey, String> {
        let value: serde_json::Value = serde_json::from_str(secret.trim())
            .map_err(|_| "is not a JSON Web Key (JSON); generate one with make assertion-key".to_string())?;
        let serde_json::Value::Object(jwk) = value else { return Err("is not a JSON Web Key (a JSON object)".into()) };
        let public = PublicKey::from_jwk(&jwk, true)?;
        let d = coordinate(&jwk, "d").map_err(|e| format!("{e} (the private key: the secret must hold the private JWK)"))?;
        Ok(SigningKey { public, d })
    }
}

/// The JWKS published at `jwks_path` (RFC 7517 §5): the current key first, then the
/// additional ones, each once (an additional key equal to the current one — the next key
/// listed ahead of a rotation, once the secret holds it — is not repeated).
pub fn jwks_document(current: &PublicKey, additional: &[PublicKey]) -> String {
    let keys: Vec<_> = std::iter::once(current).chain(additional.iter().filter(|k| *k != current)).map(PublicKey::to_json).collect();
    serde_json::json!({ "keys": keys }).to_string()
}

impl AssertionSettings {
    /// The key the secret holds may be listed among the additional keys (that is how a
    /// rotation publishes it ahead), but no other key may share its `kid`: an origin would
    /// pick either.
    pub fn check_signing_key(&self, key: &SigningKey) -> Result<(), String> {
        if self.additional_keys.iter().any(|k| k.kid == key.public.kid && *k != key.public) {
            return Err(format!(
                "its kid {:?} names another key in ENTRA_EDGE.assertion.additional_public_keys; each key needs its own kid",
                key.public.kid
            ));
        }
        Ok(())
    }
}

/// What the assertion binds to: this request, as the origin receives it.
#[derive(Clone, Copy, Debug)]
pub struct BoundRequest<'a> {
    /// The method sent to the origin (`htm`).
    pub method: &'a str,
    /// Path and query exactly as in the origin's request line (`target`), see
    /// `config::Origin::request_target`.
    pub target: &'a str,
    /// The route's name.
    pub route: &'a str,
    pub request_id: &'a str,
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
    jti: &'a str,
    sub: &'a str,
    tid: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    oid: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    azp: Option<&'a str>,
    /// Space-separated, as Entra's `scp`; absent when there are none (as in app tokens).
    #[serde(skip_serializing_if = "Option::is_none")]
    scp: Option<String>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    roles: &'a [String],
    idtyp: &'a str,
    ver: &'a str,
    token_exp: i64,
    route: &'a str,
    htm: &'a str,
    target: &'a str,
    request_id: &'a str,
}

/// Builds signing inputs for one key under one configuration (made once per isolate).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssertionBuilder {
    issuer: String,
    audience: String,
    lifetime_seconds: i64,
    /// base64url of the protected header `{"alg":"ES256","typ":…,"kid":…}`, then `.`.
    header_prefix: String,
}

impl AssertionBuilder {
    pub fn new(settings: &AssertionSettings, kid: &str) -> AssertionBuilder {
        let header = serde_json::json!({ "alg": ALG, "typ": TYP, "kid": kid }).to_string();
        let mut header_prefix = Base64UrlUnpadded::encode_string(header.as_bytes());
        header_prefix.push('.');
        AssertionBuilder {
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
            lifetime_seconds: i64::try_from(settings.lifetime_seconds).unwrap_or(DEFAULT_LIFETIME_SECONDS as i64),
            header_prefix,
        }
    }

    /// The claims of the assertion for `principal` on `request` at `now` (Unix seconds),
    /// as JSON. `jti` comes from 16 random bytes (unique per assertion: replay windows key
    /// on it).
    pub fn claims(&self, principal: &Principal, request: BoundRequest<'_>, now: i64, entropy: [u8; 16]) -> String {
        let jti = Base64UrlUnpadded::encode_string(&entropy);
        let claims = Claims {
            iss: &self.issuer,
            aud: &self.audience,
            iat: now,
            exp: now.saturating_add(self.lifetime_seconds),
            jti: &jti,
            sub: principal.subject(),
            tid: principal.tenant().as_str(),
            oid: principal.object_id(),
            azp: principal.client_app_id(),
            scp: (!principal.scopes().is_empty()).then(|| principal.scopes().join(" ")),
            roles: principal.roles(),
            idtyp: match principal.kind() {
                TokenKind::Delegated => "user",
                TokenKind::AppOnly => "app",
            },
            ver: principal.version().as_str(),
            token_exp: principal.expires_at(),
            route: request.route,
            htm: request.method,
            target: request.target,
            request_id: request.request_id,
        };
        // Serializing borrowed strings and numbers cannot fail.
        serde_json::to_string(&claims).unwrap_or_default()
    }

    /// The signing input for a forwarded request, or None when there is no verified caller:
    /// public routes get no assertion (there is no identity to assert, and an assertion
    /// without one would only be a replayable "came through the gateway" token; the
    /// header is still stripped from client requests there).
    pub fn for_request(&self, principal: Option<&Principal>, request: BoundRequest<'_>, now: i64, entropy: [u8; 16]) -> Option<String> {
        principal.map(|principal| self.signing_input(principal, request, now, entropy))
    }

    /// The JWS signing input (RFC 7515 §5.1): `base64url(header) . base64url(claims)`.
    /// The shell signs its bytes and appends `.` and the signature.
    pub fn signing_input(&self, principal: &Principal, request: BoundRequest<'_>, now: i64, entropy: [u8; 16]) -> String {
        let claims = self.claims(principal, request, now, entropy);
        let mut input = String::with_capacity(self.header_prefix.len() + claims.len() * 4 / 3 + 4);
        input.push_str(&self.header_prefix);
        input.push_str(&Base64UrlUnpadded::encode_string(claims.as_bytes()));
        input
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7515 Appendix A.3's P-256 key.
    const X: &str = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
    const Y: &str = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";
    const D: &str = "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI";

    fn settings() -> AssertionSettings {
        AssertionSettings {
            issuer: "https://gateway.contoso.com".into(),
            audience: "https://orders-origin.contoso.com".into(),
            lifetime_seconds: 60,
            header: DEFAULT_HEADER.into(),
            jwks_path: Some(DEFAULT_JWKS_PATH.into()),
            additional_keys: vec![],
        }
    }

    fn secret(extra: serde_json::Value) -> String {
        let mut jwk = serde_json::json!({ "kty": "EC", "crv": "P-256", "x": X, "y": Y, "d": D });
        for (k, v) in extra.as_object().unwrap() {
            if v.is_null() {
                jwk.as_object_mut().unwrap().remove(k);
            } else {
                jwk[k] = v.clone();
            }
        }
        jwk.to_string()
    }

    fn request<'a>(method: &'a str, target: &'a str) -> BoundRequest<'a> {
        BoundRequest { method, target, route: "read-orders", request_id: "req-1" }
    }

    fn decode(part: &str) -> serde_json::Value {
        serde_json::from_slice(&Base64UrlUnpadded::decode_vec(part).unwrap()).unwrap()
    }

    fn claims_of(principal: &Principal, req: BoundRequest<'_>, now: i64) -> serde_json::Value {
        let builder = AssertionBuilder::new(&settings(), "k1");
        serde_json::from_str(&builder.claims(principal, req, now, [1; 16])).unwrap()
    }

    #[test]
    fn the_kid_is_the_rfc_7638_thumbprint_unless_the_key_names_one() {
        // RFC 7638 §3.1 computes over the same canonical form; checked against an
        // independent SHA-256 of the canonical JSON.
        let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{X}","y":"{Y}"}}"#);
        let expected = Base64UrlUnpadded::encode_string(&Sha256::digest(canonical.as_bytes()));
        assert_eq!(SigningKey::parse(&secret(serde_json::json!({}))).unwrap().public.kid, expected);
        assert_eq!(SigningKey::parse(&secret(serde_json::json!({ "kid": "2026-11" }))).unwrap().public.kid, "2026-11");
    }

    #[test]
    fn a_signing_key_must_be_a_private_p256_jwk() {
        for (extra, says) in [
            (serde_json::json!({ "d": null }), "\"d\""),
            (serde_json::json!({ "kty": "RSA" }), "kty"),
            (serde_json::json!({ "crv": "P-384" }), "crv"),
            (serde_json::json!({ "alg": "HS256" }), "alg"),
            (serde_json::json!({ "use": "enc" }), "use"),
            (serde_json::json!({ "x": "AAAA" }), "32"),
            (serde_json::json!({ "y": "not base64!" }), "base64url"),
            (serde_json::json!({ "kid": "" }), "kid"),
        ] {
            let err = SigningKey::parse(&secret(extra.clone())).unwrap_err();
            assert!(err.contains(says), "{extra}: {err}");
        }
        assert!(SigningKey::parse("not json").unwrap_err().contains("JSON"));
        assert!(SigningKey::parse("[]").is_err());
    }

    #[test]
    fn a_parse_error_never_contains_the_private_scalar() {
        let err = SigningKey::parse(&secret(serde_json::json!({ "d": format!("{D}A") }))).unwrap_err();
        assert!(!err.contains(D), "{err}");
        assert!(!format!("{:?}", SigningKey::parse(&secret(serde_json::json!({}))).unwrap()).contains(D));
    }

    #[test]
    fn a_published_key_must_not_carry_the_private_scalar() {
        let with_d: serde_json::Value = serde_json::from_str(&secret(serde_json::json!({}))).unwrap();
        assert!(PublicKey::parse(&with_d).unwrap_err().contains("private"));
        let public = serde_json::json!({ "kty": "EC", "crv": "P-256", "x": X, "y": Y, "kid": "old" });
        assert_eq!(PublicKey::parse(&public).unwrap().kid, "old");
        assert!(PublicKey::parse(&serde_json::json!("a string")).is_err());
    }

    #[test]
    fn the_jwks_lists_the_current_key_first_then_the_additional_ones_each_once() {
        let current = SigningKey::parse(&secret(serde_json::json!({ "kid": "new" }))).unwrap().public;
        let previous = PublicKey { kid: "old".into(), x: Y.into(), y: X.into() };
        let jwks: serde_json::Value = serde_json::from_str(&jwks_document(&current, &[current.clone(), previous])).unwrap();
        let keys = jwks["keys"].as_array().unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[0], serde_json::json!({ "kty": "EC", "crv": "P-256", "x": X, "y": Y, "kid": "new", "alg": "ES256", "use": "sig" }));
        assert_eq!(keys[1]["kid"], "old");
        assert!(keys.iter().all(|k| k.get("d").is_none()));
    }

    #[test]
    fn another_key_may_not_share_the_current_kid_but_the_current_key_may_be_listed() {
        let key = SigningKey::parse(&secret(serde_json::json!({ "kid": "k" }))).unwrap();
        let mut settings = settings();
        settings.additional_keys = vec![PublicKey { kid: "k".into(), x: Y.into(), y: X.into() }];
        assert!(settings.check_signing_key(&key).unwrap_err().contains("additional_public_keys"));
        settings.additional_keys = vec![key.public.clone()];
        assert_eq!(settings.check_signing_key(&key), Ok(()));
    }

    #[test]
    fn the_protected_header_names_es256_the_assertion_type_and_the_kid() {
        let builder = AssertionBuilder::new(&settings(), "k1");
        let input = builder.signing_input(&crate::principal::sample(), request("GET", "/api/orders"), 1_000, [0; 16]);
        let (header, _) = input.split_once('.').unwrap();
        assert_eq!(decode(header), serde_json::json!({ "alg": "ES256", "typ": "entra-edge-assertion+jwt", "kid": "k1" }));
        assert_eq!(input.matches('.').count(), 1, "signing input is header.claims; the shell appends .signature");
    }

    #[test]
    fn the_claims_carry_issuer_audience_and_a_lifetime_from_now() {
        let claims = claims_of(&crate::principal::sample(), request("GET", "/api/orders"), 1_000);
        assert_eq!(claims["iss"], "https://gateway.contoso.com");
        assert_eq!(claims["aud"], "https://orders-origin.contoso.com");
        assert_eq!(claims["iat"], 1_000);
        assert_eq!(claims["exp"], 1_060);
    }

    #[test]
    fn the_claims_bind_the_method_the_target_the_route_and_the_request_id() {
        let claims = claims_of(&crate::principal::sample(), request("DELETE", "/v1/api/orders/7?force=1"), 0);
        assert_eq!(claims["htm"], "DELETE");
        assert_eq!(claims["target"], "/v1/api/orders/7?force=1");
        assert_eq!(claims["route"], "read-orders");
        assert_eq!(claims["request_id"], "req-1");
    }

    #[test]
    fn the_claims_carry_the_verified_identity_with_entra_names() {
        let principal = crate::principal::sample().with(|p| {
            p.scopes = vec!["Orders.Read".into(), "Orders.Write".into()];
            p.roles = vec!["Admin".into()];
            p.expires_at = 4_000;
        });
        let claims = claims_of(&principal, request("GET", "/"), 0);
        assert_eq!(claims["tid"], principal.tenant().as_str());
        assert_eq!(claims["oid"], "d621d57a-9995-4e93-9180-4eef25206cff");
        assert_eq!(claims["sub"], "s");
        assert_eq!(claims["azp"], "0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d");
        assert_eq!(claims["scp"], "Orders.Read Orders.Write");
        assert_eq!(claims["roles"], serde_json::json!(["Admin"]));
        assert_eq!(claims["idtyp"], "user");
        assert_eq!(claims["ver"], "2.0");
        assert_eq!(claims["token_exp"], 4_000);
        assert!(claims.get("upn").is_none() && claims.get("preferred_username").is_none(), "no display names");
    }

    #[test]
    fn an_app_only_caller_has_no_scp_and_idtyp_app() {
        let principal = crate::principal::sample().with(|p| {
            p.kind = TokenKind::AppOnly;
            p.object_id = None;
            p.roles = vec![];
        });
        let claims = claims_of(&principal, request("GET", "/"), 0);
        assert_eq!(claims["idtyp"], "app");
        assert!(claims.get("scp").is_none());
        assert!(claims.get("roles").is_none());
        assert!(claims.get("oid").is_none());
    }

    #[test]
    fn a_public_route_gets_no_assertion() {
        let builder = AssertionBuilder::new(&settings(), "k1");
        assert_eq!(builder.for_request(None, request("GET", "/health"), 0, [0; 16]), None);
        assert!(builder.for_request(Some(&crate::principal::sample()), request("GET", "/api"), 0, [0; 16]).is_some());
    }

    #[test]
    fn every_assertion_has_its_own_jti() {
        let builder = AssertionBuilder::new(&settings(), "k1");
        let principal = crate::principal::sample();
        let a: serde_json::Value = serde_json::from_str(&builder.claims(&principal, request("GET", "/"), 0, [1; 16])).unwrap();
        let b: serde_json::Value = serde_json::from_str(&builder.claims(&principal, request("GET", "/"), 0, [2; 16])).unwrap();
        assert_ne!(a["jti"], b["jti"]);
        assert_eq!(a["jti"].as_str().unwrap().len(), 22, "128 bits, base64url");
    }

    #[test]
    fn claim_values_are_json_escaped_not_spliced() {
        let principal = crate::principal::sample().with(|p| p.subject = "a\",\"aud\":\"evil".into());
        let claims = claims_of(&principal, request("GET", "/x?q=%22"), 0);
        assert_eq!(claims["aud"], "https://orders-origin.contoso.com");
        assert_eq!(claims["sub"], "a\",\"aud\":\"evil");
    }
}
