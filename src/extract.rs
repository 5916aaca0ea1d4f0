//! Finding the bearer token in a request (RFC 6750 §2.1, header only).
//!
//! Tokens in query strings or form bodies are not accepted: URLs end up in logs.

use crate::reason::{Reason, Refusal};

/// An `Authorization` header longer than this is refused before any parsing.
pub const MAX_AUTHORIZATION_BYTES: usize = 16 * 1024 + 64;

/// Extracts the token from the `Authorization` header value, if any.
///
/// Several `Authorization` headers arrive joined by `, `, which is not a valid token, so
/// they are refused rather than guessed between.
pub fn bearer_token(authorization: Option<&str>) -> Result<&str, Refusal> {
    let value = match authorization {
        None => return Err(Refusal::new(Reason::TokenMissing, "no bearer token was sent")),
        Some(value) => value,
    };
    if value.len() > MAX_AUTHORIZATION_BYTES {
        return Err(Refusal::new(Reason::AuthorizationMalformed, "the Authorization header is too large"));
    }
    let value = value.trim_matches(|c| c == ' ' || c == '\t');
    let (scheme, rest) = value.split_once([' ', '\t']).unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        // Another scheme (Basic, …) is simply not a bearer token: challenge for one.
        return Err(Refusal::new(Reason::TokenMissing, "the Authorization header does not carry a bearer token"));
    }
    let token = rest.trim_start_matches([' ', '\t']);
    if token.is_empty() {
        return Err(Refusal::new(Reason::AuthorizationMalformed, "the Bearer scheme has no token"));
    }
    if !is_b64token(token) {
        return Err(Refusal::new(Reason::TokenMalformed, "the bearer token has characters a token cannot contain"));
    }
    Ok(token)
}

/// RFC 6750 `b64token`: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_b64token(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty() && body.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extracts_the_token_after_the_bearer_scheme() {
        assert_eq!(bearer_token(Some("Bearer abc.def.ghi")), Ok("abc.def.ghi"));
    }

    #[test]
    fn scheme_is_case_insensitive() {
        assert_eq!(bearer_token(Some("bearer a.b.c")), Ok("a.b.c"));
        assert_eq!(bearer_token(Some("BEARER  a.b.c")), Ok("a.b.c"));
    }

    #[test]
    fn no_header_means_no_token() {
        assert_eq!(bearer_token(None).unwrap_err().reason, Reason::TokenMissing);
    }

    #[test]
    fn another_scheme_is_treated_as_no_token() {
        assert_eq!(bearer_token(Some("Basic dXNlcjpwYXNz")).unwrap_err().reason, Reason::TokenMissing);
    }

    #[test]
    fn bearer_without_token_is_a_malformed_request() {
        assert_eq!(bearer_token(Some("Bearer")).unwrap_err().reason, Reason::AuthorizationMalformed);
        assert_eq!(bearer_token(Some("Bearer   ")).unwrap_err().reason, Reason::AuthorizationMalformed);
    }

    #[test]
    fn two_authorization_headers_are_refused() {
        assert_eq!(bearer_token(Some("Bearer a.b.c, Bearer d.e.f")).unwrap_err().reason, Reason::TokenMalformed);
    }

    #[test]
    fn characters_outside_b64token_are_refused() {
        for bad in ["Bearer a.b.c\"", "Bearer a b", "Bearer ====", "Bearer a.b.c;x"] {
            assert!(bearer_token(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn oversized_header_is_refused_before_parsing() {
        let huge = format!("Bearer {}", "a".repeat(100_000));
        assert_eq!(bearer_token(Some(&huge)).unwrap_err().reason, Reason::AuthorizationMalformed);
    }
}
