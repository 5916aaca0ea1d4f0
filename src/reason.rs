//! Why a request was refused: stable reason codes and their HTTP meaning.
//!
//! The codes are part of the public interface (they appear in problem bodies and logs);
//! never rename one.

use std::fmt;

/// How a refusal is challenged under RFC 6750.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Challenge {
    /// `Bearer realm="…"` with no error: the request carried no token.
    Bare,
    /// `error="invalid_request"` (400).
    InvalidRequest,
    /// `error="invalid_token"` (401).
    InvalidToken,
    /// `error="insufficient_scope"` (403).
    InsufficientScope,
    /// `error="insufficient_claims"` with a claims challenge (401, Conditional Access step-up).
    InsufficientClaims,
    /// Not an authentication problem: no `WWW-Authenticate` header.
    None,
}

macro_rules! reasons {
    ($($variant:ident => ($code:literal, $status:literal, $challenge:ident, $title:literal),)*) => {
        /// A stable, machine-readable reason for refusing a request.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Reason { $($variant,)* }

        impl Reason {
            pub const ALL: &'static [Reason] = &[$(Reason::$variant,)*];

            /// The snake_case code used in problem bodies and logs.
            pub fn code(self) -> &'static str {
                match self { $(Reason::$variant => $code,)* }
            }

            pub fn status(self) -> u16 {
                match self { $(Reason::$variant => $status,)* }
            }

            pub fn challenge(self) -> Challenge {
                match self { $(Reason::$variant => Challenge::$challenge,)* }
            }

            /// A short human-readable summary (the problem `title`).
            pub fn title(self) -> &'static str {
                match self { $(Reason::$variant => $title,)* }
            }
        }
    };
}

reasons! {
    TokenMissing => ("token_missing", 401, Bare, "Authentication required"),
    AuthorizationMalformed => ("authorization_malformed", 400, InvalidRequest, "Malformed Authorization header"),
    TokenMalformed => ("token_malformed", 401, InvalidToken, "Malformed token"),
    AlgorithmNotAllowed => ("algorithm_not_allowed", 401, InvalidToken, "Token algorithm not allowed"),
    HeaderNotAllowed => ("header_not_allowed", 401, InvalidToken, "Token header parameter not allowed"),
    ClaimMissing => ("claim_missing", 401, InvalidToken, "Required claim missing"),
    TokenVersionNotAccepted => ("token_version_not_accepted", 401, InvalidToken, "Token version not accepted"),
    TenantInvalid => ("tenant_invalid", 401, InvalidToken, "Invalid tenant id"),
    TenantNotAllowed => ("tenant_not_allowed", 401, InvalidToken, "Tenant not allowed"),
    IssuerMismatch => ("issuer_mismatch", 401, InvalidToken, "Issuer mismatch"),
    SigningKeyUnknown => ("signing_key_unknown", 401, InvalidToken, "Unknown signing key"),
    SigningKeyIssuerMismatch => ("signing_key_issuer_mismatch", 401, InvalidToken, "Signing key belongs to another issuer"),
    SigningKeyCloudMismatch => ("signing_key_cloud_mismatch", 401, InvalidToken, "Signing key belongs to another cloud"),
    SignatureInvalid => ("signature_invalid", 401, InvalidToken, "Invalid signature"),
    TokenExpired => ("token_expired", 401, InvalidToken, "Token expired"),
    TokenNotYetValid => ("token_not_yet_valid", 401, InvalidToken, "Token not yet valid"),
    AudienceMismatch => ("audience_mismatch", 401, InvalidToken, "Audience mismatch"),
    TokenTypeInvalid => ("token_type_invalid", 401, InvalidToken, "Not an access token for this API"),
    TokenRevoked => ("token_revoked", 401, InvalidToken, "Token revoked"),
    PathInvalid => ("path_invalid", 400, None, "Invalid request path"),
    RouteNotFound => ("route_not_found", 404, None, "No route for this path"),
    MethodNotAllowed => ("method_not_allowed", 405, None, "Method not allowed"),
    InsufficientScope => ("insufficient_scope", 403, InsufficientScope, "Insufficient scope"),
    InsufficientRole => ("insufficient_role", 403, InsufficientScope, "Required app role missing"),
    DelegatedTokenRequired => ("delegated_token_required", 403, InsufficientScope, "User (delegated) token required"),
    AppOnlyRequired => ("app_only_required", 403, InsufficientScope, "App-only token required"),
    ClientNotAllowed => ("client_not_allowed", 403, InsufficientScope, "Client application not allowed"),
    TenantNotPermitted => ("tenant_not_permitted", 403, InsufficientScope, "Tenant not permitted on this route"),
    TenantMismatch => ("tenant_mismatch", 403, InsufficientScope, "Tenant mismatch"),
    InsufficientClaims => ("insufficient_claims", 401, InsufficientClaims, "Step-up authentication required"),
    AuthContextRequired => ("auth_context_required", 403, InsufficientScope, "Authentication context required"),
    ClaimRuleFailed => ("claim_rule_failed", 403, InsufficientScope, "Required claim value missing"),
    GroupsOverage => ("groups_overage", 403, InsufficientScope, "Group membership cannot be checked at the edge"),
    CorsPreflightDenied => ("cors_preflight_denied", 403, None, "CORS preflight denied"),
    RateLimited => ("rate_limited", 429, None, "Too many requests"),
    RateLimiterUnavailable => ("rate_limiter_unavailable", 503, None, "Rate limiter unavailable"),
    KeysUnavailable => ("keys_unavailable", 503, None, "Signing keys unavailable"),
    RevocationListUnavailable => ("revocation_list_unavailable", 503, None, "Revocation list unavailable"),
    ConfigInvalid => ("config_invalid", 500, None, "Gateway misconfigured"),
    OriginUnreachable => ("origin_unreachable", 502, None, "Origin unreachable"),
    OriginTimeout => ("origin_timeout", 504, None, "Origin timed out"),
    RequestBodyIncomplete => ("request_body_incomplete", 400, None, "Request body incomplete"),
    InternalError => ("internal_error", 500, None, "Internal error"),
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A refused request: the reason plus a safe, human-readable detail.
///
/// `detail` must never contain the token or any part of it; it names what was wrong
/// (a claim name, the expected form) and nothing the caller sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub reason: Reason,
    pub detail: String,
    /// Scopes that would satisfy the route (`scope="…"` in a 403 challenge).
    pub scope: Option<String>,
    /// Methods the path allows (`Allow` header of a 405).
    pub allow: Option<String>,
    /// A Conditional Access claims challenge (401 `insufficient_claims`).
    pub step_up: Option<StepUp>,
    /// Seconds until retrying may help (`Retry-After` of a 503 or 429).
    pub retry_after: Option<u64>,
    /// Internal detail (an upstream error, say): shown only with the `debug` option.
    pub internal: Option<String>,
}

/// What a client needs to acquire a token satisfying an authentication context.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepUp {
    pub authorization_uri: String,
    /// Base64 of `{"access_token":{"acrs":{"essential":true,"value":"c1"}}}`.
    pub claims: String,
}

impl Refusal {
    pub fn new(reason: Reason, detail: impl Into<String>) -> Refusal {
        Refusal { reason, detail: detail.into(), scope: None, allow: None, step_up: None, retry_after: None, internal: None }
    }

    pub fn with_scope(mut self, scope: impl Into<String>) -> Refusal {
        self.scope = Some(scope.into());
        self
    }

    pub fn with_allow(mut self, allow: impl Into<String>) -> Refusal {
        self.allow = Some(allow.into());
        self
    }

    pub fn with_internal(mut self, internal: impl Into<String>) -> Refusal {
        self.internal = Some(internal.into());
        self
    }

    pub fn with_retry_after(mut self, seconds: u64) -> Refusal {
        self.retry_after = Some(seconds);
        self
    }

    pub fn with_step_up(mut self, step_up: StepUp) -> Refusal {
        self.step_up = Some(step_up);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn reason_codes_are_unique_snake_case() {
        let mut seen = HashSet::new();
        for reason in Reason::ALL {
            let code = reason.code();
            assert!(seen.insert(code), "duplicate code {code}");
            assert!(code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "{code}");
        }
    }

    #[test]
    fn token_problems_are_401_invalid_token() {
        assert_eq!(Reason::TokenExpired.status(), 401);
        assert_eq!(Reason::TokenExpired.challenge(), Challenge::InvalidToken);
        assert_eq!(Reason::TokenMissing.challenge(), Challenge::Bare);
    }

    #[test]
    fn a_revoked_token_is_401_invalid_token_and_an_unreadable_list_503() {
        assert_eq!((Reason::TokenRevoked.status(), Reason::TokenRevoked.challenge()), (401, Challenge::InvalidToken));
        assert_eq!(Reason::TokenRevoked.code(), "token_revoked");
        let unavailable = Reason::RevocationListUnavailable;
        assert_eq!((unavailable.status(), unavailable.challenge()), (503, Challenge::None));
    }

    #[test]
    fn key_outage_is_not_the_callers_fault() {
        assert_eq!(Reason::KeysUnavailable.status(), 503);
        assert_eq!(Reason::KeysUnavailable.challenge(), Challenge::None);
    }
}
