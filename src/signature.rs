//! The one interface behind which RS256 signatures are checked.
//!
//! The worker verifies with the runtime's WebCrypto (native code, see `edge::webcrypto`);
//! host tests and native tools verify with jwt-compact's pure-Rust RSA ([`NativeRsa`]).
//! Keys are imported once, when a key set is loaded, never per request.

use crate::jwks::RsaJwk;

/// An RS256 (RSASSA-PKCS1-v1_5 with SHA-256) verifier.
#[allow(async_fn_in_trait)] // single-threaded runtime: no `Send` bound wanted
pub trait SignatureBackend {
    /// A public key in the backend's own form (a handle, cheap to clone: the signature
    /// check holds its own, `verify::AwaitingSignature`).
    type Key: Clone;

    /// Imports a JWKS key; an error means the key is unusable and is skipped.
    async fn import_key(&self, jwk: &RsaJwk) -> Result<Self::Key, String>;

    /// True when `signature` is a valid RS256 signature of `message` under `key`.
    async fn verify(&self, key: &Self::Key, message: &[u8], signature: &[u8]) -> bool;
}

#[cfg(not(target_arch = "wasm32"))]
pub use native::NativeRsa;

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use jwt_compact::alg::{Rsa, RsaPublicKey, RsaSignature};
    use jwt_compact::jwk::JsonWebKey;
    use jwt_compact::{Algorithm, AlgorithmSignature};

    use super::SignatureBackend;
    use crate::jwks::RsaJwk;

    /// jwt-compact's RSA (the `rsa` crate): correct everywhere, slow in WASM.
    #[derive(Clone, Copy, Debug, Default)]
    pub struct NativeRsa;

    impl SignatureBackend for NativeRsa {
        type Key = RsaPublicKey;

        async fn import_key(&self, jwk: &RsaJwk) -> Result<RsaPublicKey, String> {
            let jwk = JsonWebKey::Rsa {
                modulus: jwk.modulus.as_slice().into(),
                public_exponent: jwk.exponent.as_slice().into(),
                private_parts: None,
            };
            RsaPublicKey::try_from(&jwk).map_err(|e| e.to_string())
        }

        async fn verify(&self, key: &RsaPublicKey, message: &[u8], signature: &[u8]) -> bool {
            match RsaSignature::try_from_slice(signature) {
                Ok(signature) => Rsa::rs256().verify_signature(&signature, key, message),
                Err(_) => false,
            }
        }
    }
}
