//! Rendering a refusal as an HTTP answer: RFC 6750 challenge plus an RFC 9457
//! `application/problem+json` body. Pure data, turned into a `Response` by the shell.

use serde::Serialize;

use crate::reason::{Challenge, Refusal};

/// Status, headers and body of an answer the gateway produces itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    detail: &'a str,
    reason: &'a str,
    request_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    debug: Option<&'a str>,
}

/// Per-request context of an answer.
#[derive(Clone, Copy, Debug)]
pub struct AnswerContext<'a> {
    pub realm: &'a str,
    pub request_id: &'a str,
    /// Include internal details (the `debug` option).
    pub debug: bool,
    /// The RFC 9728 metadata URL, added to every Bearer challenge (§5.1) when configured.
    pub resource_metadata: Option<&'a str>,
    /// The API's App ID URI when the metadata is on: the `scope` of a 403 challenge then
    /// names fully qualified scopes (`api://orders/Orders.Read`), as `scopes_supported` does
    /// and as a client must request them from Entra.
    pub scope_prefix: Option<&'a str>,
}

impl<'a> AnswerContext<'a> {
    /// What `config` says about answers (realm, `debug`, the RFC 9728 metadata URL and
    /// scope prefix); the defaults without one (an invalid configuration).
    pub fn of(config: Option<&'a crate::config::Config>, request_id: &'a str) -> AnswerContext<'a> {
        let resource = config.and_then(|c| c.protected_resource.as_ref());
        AnswerContext {
            realm: config.map_or(crate::config::DEFAULT_REALM, |c| c.realm.as_str()),
            request_id,
            debug: config.is_some_and(|c| c.debug),
            resource_metadata: resource.map(|r| r.metadata_url.as_str()),
            scope_prefix: resource.and_then(|r| r.app_id_uri.as_deref()),
        }
    }
}

/// The problem `type` URI for a reason code.
pub fn problem_type(code: &str) -> String {
    format!("urn:entra-edge:problem:{code}")
}

/// Builds the answer for a refusal.
pub fn refusal_answer(refusal: &Refusal, context: AnswerContext<'_>) -> Answer {
    let realm = context.realm;
    let reason = refusal.reason;
    let detail = quotable(&refusal.detail);
    let mut headers = vec![("content-type", "application/problem+json".to_string()), ("cache-control", "no-store".to_string())];
    let challenge = match reason.challenge() {
        Challenge::None => None,
        Challenge::Bare => Some(format!("Bearer realm=\"{realm}\"")),
        Challenge::InvalidRequest => Some(format!("Bearer realm=\"{realm}\", error=\"invalid_request\", error_description=\"{detail}\"")),
        Challenge::InvalidToken => Some(format!("Bearer realm=\"{realm}\", error=\"invalid_token\", error_description=\"{detail}\"")),
        Challenge::InsufficientScope => Some(match &refusal.scope {
            Some(scope) => format!(
                "Bearer realm=\"{realm}\", error=\"insufficient_scope\", error_description=\"{detail}\", scope=\"{}\"",
                quotable(&qualified(scope, context.scope_prefix))
            ),
            None => format!("Bearer realm=\"{realm}\", error=\"insufficient_scope\", error_description=\"{detail}\""),
        }),
        Challenge::InsufficientClaims => refusal.step_up.as_ref().map(|step_up| {
            format!(
                "Bearer realm=\"{realm}\", authorization_uri=\"{}\", error=\"insufficient_claims\", claims=\"{}\"",
                quotable(&step_up.authorization_uri),
                quotable(&step_up.claims)
            )
        }),
    };
    if let Some(allow) = &refusal.allow {
        headers.push(("allow", allow.clone()));
    }
    if let Some(seconds) = refusal.retry_after {
        headers.push(("retry-after", seconds.to_string()));
    }
    if let Some(mut challenge) = challenge {
        if let Some(url) = context.resource_metadata {
            challenge.push_str(", resource_metadata=\"");
            challenge.push_str(&quotable(url));
            challenge.push('"');
        }
        headers.push(("www-authenticate", challenge));
    }
    let problem = Problem {
        kind: problem_type(reason.code()),
        title: reason.title(),
        status: reason.status(),
        detail: &refusal.detail,
        reason: reason.code(),
        request_id: context.request_id,
        debug: refusal.internal.as_deref().filter(|_| context.debug),
    };
    let body = serde_json::to_string(&problem).unwrap_or_default();
    Answer { status: reason.status(), headers, body }
}

/// `Orders.Read Orders.ReadWrite` → `api://orders/Orders.Read api://orders/Orders.ReadWrite`.
fn qualified(scopes: &str, prefix: Option<&str>) -> String {
    match prefix {
        None => scopes.to_string(),
        Some(prefix) => scopes.split(' ').filter(|s| !s.is_empty()).map(|s| format!("{prefix}/{s}")).collect::<Vec<_>>().join(" "),
    }
}

/// RFC 6750 `error_description` allows only `%x20-21 / %x23-5B / %x5D-7E`.
fn quotable(text: &str) -> String {
    text.chars().map(|c| if (' '..='~').contains(&c) && c != '"' && c != '\\' { c } else { '?' }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reason::Reason;

    fn refusal_answer(refusal: &Refusal, realm: &str) -> Answer {
        super::refusal_answer(
            refusal,
            AnswerContext { realm, request_id: "req-1", debug: false, resource_metadata: None, scope_prefix: None },
        )
    }

    fn header<'a>(answer: &'a Answer, name: &str) -> Option<&'a str> {
        answer.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }

    #[test]
    fn missing_token_gets_a_bare_challenge() {
        let answer = refusal_answer(&Refusal::new(Reason::TokenMissing, "no bearer token was sent"), "api");
        assert_eq!(answer.status, 401);
        assert_eq!(header(&answer, "www-authenticate"), Some("Bearer realm=\"api\""));
    }

    #[test]
    fn token_problem_gets_invalid_token_with_description() {
        let answer = refusal_answer(&Refusal::new(Reason::TokenExpired, "the token has expired"), "api");
        assert_eq!(
            header(&answer, "www-authenticate"),
            Some("Bearer realm=\"api\", error=\"invalid_token\", error_description=\"the token has expired\"")
        );
    }

    #[test]
    fn body_is_problem_json_with_reason_code() {
        let answer = refusal_answer(&Refusal::new(Reason::AudienceMismatch, "wrong audience"), "api");
        assert_eq!(header(&answer, "content-type"), Some("application/problem+json"));
        assert_eq!(header(&answer, "cache-control"), Some("no-store"));
        let body: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
        assert_eq!(body["reason"], "audience_mismatch");
        assert_eq!(body["status"], 401);
        assert_eq!(body["type"], "urn:entra-edge:problem:audience_mismatch");
        assert_eq!(body["title"], "Audience mismatch");
        assert_eq!(body["detail"], "wrong audience");
        assert_eq!(body["request_id"], "req-1");
    }

    #[test]
    fn internal_details_appear_only_in_debug_mode() {
        let refusal =
            Refusal::new(Reason::OriginUnreachable, "the origin could not be reached").with_internal("connect ECONNREFUSED 10.0.0.7:8443");
        let quiet = super::refusal_answer(
            &refusal,
            AnswerContext { realm: "api", request_id: "r", debug: false, resource_metadata: None, scope_prefix: None },
        );
        assert!(!quiet.body.contains("ECONNREFUSED"));
        let loud = super::refusal_answer(
            &refusal,
            AnswerContext { realm: "api", request_id: "r", debug: true, resource_metadata: None, scope_prefix: None },
        );
        assert!(loud.body.contains("ECONNREFUSED"));
    }

    #[test]
    fn server_side_problems_have_no_challenge() {
        let answer = refusal_answer(&Refusal::new(Reason::KeysUnavailable, "authority unreachable").with_retry_after(8), "api");
        assert_eq!(answer.status, 503);
        assert_eq!(header(&answer, "retry-after"), Some("8"));
        assert_eq!(header(&answer, "www-authenticate"), None);
    }

    #[test]
    fn insufficient_scope_names_the_scopes_that_would_do() {
        let refusal = Refusal::new(Reason::InsufficientScope, "needs Orders.Read").with_scope("Orders.Read Orders.ReadWrite");
        let answer = refusal_answer(&refusal, "api");
        assert_eq!(answer.status, 403);
        assert_eq!(
            header(&answer, "www-authenticate"),
            Some("Bearer realm=\"api\", error=\"insufficient_scope\", error_description=\"needs Orders.Read\", scope=\"Orders.Read Orders.ReadWrite\"")
        );
    }

    #[test]
    fn method_not_allowed_lists_the_allowed_methods() {
        let answer = refusal_answer(&Refusal::new(Reason::MethodNotAllowed, "x").with_allow("GET, HEAD"), "api");
        assert_eq!(answer.status, 405);
        assert_eq!(header(&answer, "allow"), Some("GET, HEAD"));
    }

    #[test]
    fn step_up_is_a_claims_challenge() {
        let step_up = crate::reason::StepUp {
            authorization_uri: "https://login.microsoftonline.com/common/oauth2/authorize".into(),
            claims: "eyJ9".into(),
        };
        let answer = refusal_answer(&Refusal::new(Reason::InsufficientClaims, "x").with_step_up(step_up), "");
        assert_eq!(answer.status, 401);
        assert_eq!(
            header(&answer, "www-authenticate"),
            Some("Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", error=\"insufficient_claims\", claims=\"eyJ9\"")
        );
    }

    #[test]
    fn description_cannot_break_out_of_its_quotes() {
        let answer = refusal_answer(&Refusal::new(Reason::TokenMalformed, "a\"b\\c\r\nd"), "api");
        assert!(header(&answer, "www-authenticate").unwrap().ends_with("error_description=\"a?b?c??d\""));
    }

    fn with_metadata(refusal: &Refusal) -> Answer {
        let url = "https://api.contoso.example/.well-known/oauth-protected-resource";
        super::refusal_answer(
            refusal,
            AnswerContext { realm: "api", request_id: "r", debug: false, resource_metadata: Some(url), scope_prefix: Some("api://orders") },
        )
    }

    #[test]
    fn every_bearer_challenge_names_the_resource_metadata_when_configured() {
        let suffix = ", resource_metadata=\"https://api.contoso.example/.well-known/oauth-protected-resource\"";
        let missing = with_metadata(&Refusal::new(Reason::TokenMissing, "no token"));
        assert_eq!(header(&missing, "www-authenticate").unwrap(), format!("Bearer realm=\"api\"{suffix}"));
        let expired = with_metadata(&Refusal::new(Reason::TokenExpired, "expired"));
        assert!(header(&expired, "www-authenticate").unwrap().ends_with(suffix));
    }

    #[test]
    fn insufficient_scope_keeps_its_scope_beside_the_resource_metadata() {
        let answer = with_metadata(&Refusal::new(Reason::InsufficientScope, "needs Orders.Read").with_scope("Orders.Read"));
        let challenge = header(&answer, "www-authenticate").unwrap();
        assert!(
            challenge.contains("error=\"insufficient_scope\"") && challenge.contains("scope=\"api://orders/Orders.Read\""),
            "{challenge}"
        );
        assert!(challenge.contains("resource_metadata=\""), "{challenge}");
    }

    #[test]
    fn answers_without_a_challenge_get_no_resource_metadata() {
        let answer = with_metadata(&Refusal::new(Reason::RouteNotFound, "no route"));
        assert_eq!(header(&answer, "www-authenticate"), None);
    }
}
