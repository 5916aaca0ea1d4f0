//! Host-side helpers for testing the pure core: test keys, token forging, a tiny executor.
#![allow(dead_code)]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use base64ct::{Base64UrlUnpadded, Encoding};
use entra_edge::config::Config;
use entra_edge::discovery::OpenIdMetadata;
use entra_edge::jwks::{parse_jwks, KeySet, SigningKey};
use entra_edge::signature::{NativeRsa, SignatureBackend};
use entra_edge::verify::TenantKeys;
use jwt_compact::alg::{Rsa, RsaPrivateKey, RsaPublicKey};
use jwt_compact::jwk::JsonWebKey;
use jwt_compact::{Algorithm, AlgorithmSignature};
use serde_json::{json, Value};

pub const TENANT: &str = "3c6d1c5e-8f0a-4b8e-9d3c-2a1f6e7b9c41";
pub const OTHER_TENANT: &str = "5a8e2b71-0c4d-4f9e-a1b2-c3d4e5f60718";
pub const FOREIGN_TENANT: &str = "e9f8d7c6-b5a4-4321-8fed-cba987654321";
pub const CLIENT_ID: &str = "6e2f9a47-1b3c-4d5e-8f70-9a8b7c6d5e4f";
pub const APP_ID_URI: &str = "api://entra-edge-demo";
pub const NOW: i64 = 1_800_000_000;

/// Polls a future that never waits (the native backend is synchronous).
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(value) = future.as_mut().poll(&mut cx) {
            return value;
        }
    }
}

pub struct TestKey {
    pub kid: String,
    pub private: RsaPrivateKey,
    pub jwk: Value,
}

/// The two RSA keys in tests/fixtures (test-only keys).
pub fn test_keys() -> Vec<TestKey> {
    let text = include_str!("../fixtures/test-signing-keys.json");
    let doc: Value = serde_json::from_str(text).unwrap();
    doc["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            let mut private_jwk = k.clone();
            let kid = private_jwk.as_object_mut().unwrap().remove("kid").unwrap().as_str().unwrap().to_string();
            let parsed: JsonWebKey<'_> = serde_json::from_value(private_jwk.clone()).unwrap();
            let private = RsaPrivateKey::try_from(&parsed).unwrap();
            let jwk = json!({ "kty": "RSA", "use": "sig", "kid": kid, "x5t": kid, "n": k["n"], "e": k["e"] });
            TestKey { kid, private, jwk }
        })
        .collect()
}

pub fn b64(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

pub fn encode(value: &Value) -> String {
    b64(value.to_string().as_bytes())
}

/// Signs `header.claims` with RS256 under `key`.
pub fn sign(header: &Value, claims: &Value, key: &RsaPrivateKey) -> String {
    let input = format!("{}.{}", encode(header), encode(claims));
    let signature = Rsa::rs256().sign(key, input.as_bytes());
    format!("{input}.{}", b64(signature.as_bytes().as_ref()))
}

pub fn v2_issuer(tid: &str) -> String {
    format!("https://login.microsoftonline.com/{tid}/v2.0")
}

pub fn v1_issuer(tid: &str) -> String {
    format!("https://sts.windows.net/{tid}/")
}

pub fn header(kid: &str) -> Value {
    json!({ "typ": "JWT", "alg": "RS256", "kid": kid })
}

/// Claims of a valid v2 delegated token at [`NOW`].
pub fn v2_claims() -> Value {
    json!({
        "aud": CLIENT_ID, "iss": v2_issuer(TENANT), "iat": NOW - 60, "nbf": NOW - 60, "exp": NOW + 3600,
        "tid": TENANT, "oid": "d621d57a-9995-4e93-9180-4eef25206cff", "sub": "IWMzMwQdjgbicCdDaEDco1xJAUOodBuGdB4jZPSf1Tw",
        "azp": "0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d", "azpacr": "0", "scp": "Orders.Read Orders.Write", "ver": "2.0",
    })
}

/// Claims of a valid v1 app-only token at [`NOW`].
pub fn v1_app_claims() -> Value {
    json!({
        "aud": APP_ID_URI, "iss": v1_issuer(TENANT), "iat": NOW - 60, "nbf": NOW - 60, "exp": NOW + 3600,
        "tid": TENANT, "oid": "7d6c5b4a-0000-4170-b6e5-d4c3b2a19080", "sub": "7d6c5b4a-0000-4170-b6e5-d4c3b2a19080",
        "appid": "7d6c5b4a-3928-4170-b6e5-d4c3b2a19080", "appidacr": "1", "roles": ["Orders.Read.All"], "ver": "1.0",
    })
}

pub fn config() -> Config {
    Config::from_json(
        &json!({
            "origin": "https://api.example.com",
            "tenants": [TENANT, OTHER_TENANT],
            "audiences": [CLIENT_ID, APP_ID_URI],
            "routes": [{ "path": "/**" }],
        })
        .to_string(),
    )
    .unwrap()
}

pub fn config_with(patch: Value) -> Config {
    let mut value = json!({
        "origin": "https://api.example.com",
        "tenants": [TENANT, OTHER_TENANT],
        "audiences": [CLIENT_ID, APP_ID_URI],
        "routes": [{ "path": "/**" }],
    });
    for (k, v) in patch.as_object().unwrap() {
        value[k] = v.clone();
    }
    Config::from_json(&value.to_string()).unwrap()
}

/// Tenant keys as the authority would serve them: the given JWKs and metadata for `version`.
pub fn tenant_keys(jwks: Vec<Value>, issuer_template: &str) -> TenantKeys<RsaPublicKey> {
    tenant_keys_in_cloud(jwks, issuer_template, None)
}

/// [`tenant_keys`] under metadata that names its cloud (`cloud_instance_name`).
pub fn tenant_keys_in_cloud(jwks: Vec<Value>, issuer_template: &str, cloud: Option<&str>) -> TenantKeys<RsaPublicKey> {
    let doc = serde_json::to_vec(&json!({ "keys": jwks })).unwrap();
    let keys = parse_jwks(&doc)
        .unwrap()
        .into_iter()
        .map(|jwk| SigningKey {
            key: block_on(NativeRsa.import_key(&jwk)).unwrap(),
            kid: jwk.kid,
            issuer: jwk.issuer,
            cloud_instance_name: jwk.cloud_instance_name,
        })
        .collect();
    TenantKeys {
        metadata: OpenIdMetadata {
            issuer: issuer_template.to_string(),
            jwks_uri: "https://login.microsoftonline.com/common/discovery/v2.0/keys".into(),
            cloud_instance_name: cloud.map(str::to_string),
        },
        keys: KeySet::new(keys),
    }
}

/// xorshift64*: small, deterministic, good enough to explore input shapes.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub fn bytes(&mut self, max: usize) -> Vec<u8> {
        let len = self.below(max + 1);
        (0..len).map(|_| self.next() as u8).collect()
    }
    /// Bytes drawn mostly from characters that matter to the parsers.
    pub fn tricky(&mut self, max: usize) -> String {
        const ALPHABET: &[u8] = b"aZ09-_.~+/=%2e2F5c00;:/\\ \t\r\n\"{}[],:eyJ\x00\x7f";
        let len = self.below(max + 1);
        let mut s: String = (0..len).map(|_| ALPHABET[self.below(ALPHABET.len())] as char).collect();
        if self.below(8) == 0 {
            s.push('\u{e9}');
        }
        s
    }
    pub fn mutate(&mut self, input: &str) -> String {
        let mut bytes = input.as_bytes().to_vec();
        for _ in 0..=self.below(4) {
            if bytes.is_empty() {
                break;
            }
            let i = self.below(bytes.len());
            match self.below(4) {
                0 => bytes[i] ^= 1 << self.below(8),
                1 => {
                    bytes.remove(i);
                }
                2 => bytes.insert(i, self.next() as u8),
                _ => bytes.truncate(i),
            }
        }
        String::from_utf8_lossy(&bytes).into_owned()
    }
}
