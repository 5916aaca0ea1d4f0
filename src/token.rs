//! Untrusted tokens: structure and header policy (RFC 8725), before any key is touched.
//!
//! An [`UnverifiedToken`] can be inspected (tenant, version, `kid`) to find the right
//! keys, but its claims are private: only `verify::authenticate` turns it into a
//! `Principal`, so nothing downstream can act on an unverified claim.

use base64ct::{Base64UrlUnpadded, Encoding};
use jwt_compact::{Claims, UntrustedToken};
use serde::{Deserialize, Deserializer};

use crate::claims::EntraClaims;
use crate::config::TokenRules;
use crate::reason::{Reason, Refusal};
use crate::tenant::TenantId;
use crate::token_version::TokenVersion;
use crate::trace::Trace;

/// Entra tokens with many claims are a few KB; anything past this is not one of them.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// The only algorithm Entra uses for access tokens, and the only one accepted.
pub const ALGORITHM: &str = "RS256";

/// The header parameters that are refused whatever their value, read from the header
/// itself: jwt-compact reads `jku`, `x5u` and `cty` into its own fields, where `null` (and a
/// `cty` of `"JSON"`) cannot be told from absence, and does not model the others.
#[derive(Default, Deserialize)]
struct RefusedParameters {
    #[serde(default, deserialize_with = "present")]
    jku: bool,
    #[serde(default, deserialize_with = "present")]
    x5u: bool,
    #[serde(default, deserialize_with = "present")]
    jwk: bool,
    #[serde(default, deserialize_with = "present")]
    x5c: bool,
    #[serde(default, deserialize_with = "present")]
    crit: bool,
    #[serde(default, deserialize_with = "present")]
    cty: bool,
}

/// True when the key exists, whatever its value (even `null`).
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    serde::de::IgnoredAny::deserialize(deserializer).map(|_| true)
}

/// A token whose structure and header passed the policy; its signature is unchecked.
pub struct UnverifiedToken<'a> {
    pub(crate) signing_input: &'a str,
    pub(crate) signature: Vec<u8>,
    pub(crate) kid: String,
    pub(crate) claims: Claims<EntraClaims>,
    pub(crate) tenant: TenantId,
    pub(crate) version: TokenVersion,
}

impl<'a> UnverifiedToken<'a> {
    /// Parses a compact JWS and applies every check that needs no key: size, structure,
    /// algorithm, forbidden header parameters, claim types, version and tenant.
    pub fn parse(raw: &'a str, rules: &TokenRules<'_>) -> Result<UnverifiedToken<'a>, Refusal> {
        Self::parse_traced(raw, rules, ())
    }

    /// [`parse`](Self::parse), naming each check to `trace` before it runs (`explain`).
    pub fn parse_traced(raw: &'a str, rules: &TokenRules<'_>, mut trace: impl Trace) -> Result<UnverifiedToken<'a>, Refusal> {
        let malformed = |detail: &str| Refusal::new(Reason::TokenMalformed, detail);
        trace.check("token.size");
        if raw.len() > MAX_TOKEN_BYTES {
            return Err(malformed("token is larger than any Entra access token"));
        }
        trace.check("token.structure");
        if raw.bytes().filter(|b| *b == b'.').count() != 2 {
            return Err(malformed("not a compact JWS (expected three dot-separated parts)"));
        }
        let token: UntrustedToken<'_> = UntrustedToken::try_from(raw).map_err(|err| {
            use jwt_compact::ParseError;
            match err {
                ParseError::InvalidBase64Encoding => malformed("token is not base64url-encoded"),
                ParseError::MalformedHeader(_) => malformed("token header is not a valid JSON object"),
                ParseError::UnsupportedContentType(_) => Refusal::new(Reason::HeaderNotAllowed, "the cty header parameter is not allowed"),
                _ => malformed("not a compact JWS"),
            }
        })?;

        trace.check("header.alg");
        if token.algorithm() != ALGORITHM {
            return Err(Refusal::new(Reason::AlgorithmNotAllowed, "only RS256 is accepted"));
        }
        let header = token.header();
        // jwt-compact decoded and parsed this header just above; only a refused parameter given
        // twice (which its flattened extras ignore) fails here, and is malformed.
        let refused: RefusedParameters = raw
            .split('.')
            .next()
            .and_then(|part| Base64UrlUnpadded::decode_vec(part).ok())
            .and_then(|json| serde_json::from_slice(&json).ok())
            .ok_or_else(|| malformed("token header is not a valid JSON object"))?;
        // Keys named or carried by the token itself would let the caller choose the key.
        trace.check("header.key_parameters");
        for (present, name) in [(refused.jku, "jku"), (refused.x5u, "x5u"), (refused.jwk, "jwk"), (refused.x5c, "x5c")] {
            if present {
                return Err(Refusal::new(Reason::HeaderNotAllowed, format!("the {name} header parameter is not allowed")));
            }
        }
        trace.check("header.crit");
        if refused.crit {
            return Err(Refusal::new(Reason::HeaderNotAllowed, "critical header extensions are not understood"));
        }
        trace.check("header.cty");
        if refused.cty {
            return Err(Refusal::new(Reason::HeaderNotAllowed, "the cty header parameter is not allowed"));
        }
        trace.check("header.typ");
        if header.token_type.as_deref().is_some_and(|typ| !typ.eq_ignore_ascii_case("JWT")) {
            return Err(Refusal::new(Reason::HeaderNotAllowed, "typ must be JWT"));
        }
        trace.check("header.kid");
        let kid = match header.key_id.as_deref() {
            Some(kid) if !kid.is_empty() => kid.to_owned(),
            _ => return Err(Refusal::new(Reason::SigningKeyUnknown, "token header has no kid")),
        };

        trace.check("claims.types");
        let claims: Claims<EntraClaims> =
            token.deserialize_claims_unchecked().map_err(|_| malformed("token claims are not valid (wrong JSON or claim types)"))?;

        trace.check("token.version");
        let version = match (claims.custom.ver.as_deref(), claims.custom.iss.as_deref()) {
            (Some(ver), _) => {
                TokenVersion::parse(ver).ok_or_else(|| Refusal::new(Reason::TokenVersionNotAccepted, "ver must be 1.0 or 2.0"))?
            }
            // Entra always sends ver; without it the issuer's form decides (v2 issuers end in
            // /v2.0). Safe either way: the issuer must still equal that version's metadata issuer.
            (None, Some(iss)) if iss.ends_with("/v2.0") => TokenVersion::V2,
            (None, Some(_)) => TokenVersion::V1,
            (None, None) => return Err(Refusal::new(Reason::ClaimMissing, "the ver and iss claims are missing")),
        };
        trace.check("token.version_accepted");
        if !rules.accepts_version(version) {
            return Err(Refusal::new(Reason::TokenVersionNotAccepted, format!("v{version} tokens are not accepted")));
        }
        trace.check("token.tid");
        let tenant = match claims.custom.tid.as_deref() {
            None => return Err(Refusal::new(Reason::ClaimMissing, "the tid claim is missing")),
            Some(tid) => TenantId::parse(tid).ok_or_else(|| Refusal::new(Reason::TenantInvalid, "tid is not a GUID"))?,
        };
        trace.check("token.tenant_allowed");
        if !rules.allows_tenant(&tenant) {
            return Err(Refusal::new(Reason::TenantNotAllowed, "the token's tenant is not allowed"));
        }

        let signing_input = raw.rsplit_once('.').map_or(raw, |(input, _)| input);
        Ok(UnverifiedToken { signing_input, signature: token.signature_bytes().to_vec(), kid, claims, tenant, version })
    }

    /// The tenant whose keys must verify this token.
    pub fn tenant(&self) -> &TenantId {
        &self.tenant
    }

    pub fn version(&self) -> TokenVersion {
        self.version
    }

    /// The key id named in the header.
    pub fn kid(&self) -> &str {
        &self.kid
    }
}
