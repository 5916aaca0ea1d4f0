//! Response hygiene: security headers on every answer, leaky origin headers removed.

use serde::Deserialize;

use crate::config::ConfigError;

/// Headers added to every response (unless the origin set them itself), and origin
/// headers removed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecurityHeaders {
    pub add: Vec<(String, String)>,
    /// Lowercase names of origin response headers to drop.
    pub remove: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawSecurityHeaders {
    strict_transport_security: String,
    content_security_policy: String,
    x_frame_options: String,
    x_content_type_options: String,
    referrer_policy: String,
    remove: Vec<String>,
}

impl Default for RawSecurityHeaders {
    fn default() -> Self {
        RawSecurityHeaders {
            strict_transport_security: "max-age=31536000; includeSubDomains".into(),
            content_security_policy: "frame-ancestors 'none'".into(),
            x_frame_options: "DENY".into(),
            x_content_type_options: "nosniff".into(),
            referrer_policy: "no-referrer".into(),
            remove: ["server", "x-powered-by", "x-aspnet-version", "x-aspnetmvc-version"].map(String::from).to_vec(),
        }
    }
}

impl Default for SecurityHeaders {
    fn default() -> Self {
        RawSecurityHeaders::default().build(&mut Vec::new())
    }
}

fn valid_value(value: &str) -> bool {
    value.bytes().all(|b| (0x20..0x7f).contains(&b))
}

impl RawSecurityHeaders {
    pub(crate) fn build(self, errors: &mut Vec<ConfigError>) -> SecurityHeaders {
        let mut add = Vec::new();
        for (name, field, value) in [
            ("strict-transport-security", "strict_transport_security", self.strict_transport_security),
            ("content-security-policy", "content_security_policy", self.content_security_policy),
            ("x-frame-options", "x_frame_options", self.x_frame_options),
            ("x-content-type-options", "x_content_type_options", self.x_content_type_options),
            ("referrer-policy", "referrer_policy", self.referrer_policy),
        ] {
            if !valid_value(&value) {
                errors
                    .push(ConfigError { field: format!("ENTRA_EDGE.security_headers.{field}"), message: "must be printable ASCII".into() });
            } else if !value.is_empty() {
                add.push((name.to_string(), value));
            }
        }
        let mut remove = Vec::new();
        for (i, name) in self.remove.iter().enumerate() {
            let lower = name.to_ascii_lowercase();
            if lower.is_empty() || !lower.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
                errors.push(ConfigError {
                    field: format!("ENTRA_EDGE.security_headers.remove[{i}]"),
                    message: format!("{name:?} is not a header name"),
                });
            } else if lower.starts_with("access-control-")
                || lower == "www-authenticate"
                || lower == "content-type"
                || lower == "x-request-id"
            {
                errors.push(ConfigError {
                    field: format!("ENTRA_EDGE.security_headers.remove[{i}]"),
                    message: format!("{name:?} is needed by clients and cannot be removed"),
                });
            } else {
                remove.push(lower);
            }
        }
        SecurityHeaders { add, remove }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secure_defaults() {
        let headers = SecurityHeaders::default();
        let names: Vec<_> = headers.add.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            ["strict-transport-security", "content-security-policy", "x-frame-options", "x-content-type-options", "referrer-policy"]
        );
        assert!(headers.remove.contains(&"server".to_string()));
        assert!(headers.remove.contains(&"x-powered-by".to_string()));
    }

    #[test]
    fn empty_value_disables_a_header() {
        let raw = RawSecurityHeaders { x_frame_options: String::new(), ..RawSecurityHeaders::default() };
        let headers = raw.build(&mut Vec::new());
        assert!(!headers.add.iter().any(|(n, _)| n == "x-frame-options"));
    }

    #[test]
    fn headers_clients_need_cannot_be_removed() {
        let raw = RawSecurityHeaders { remove: vec!["WWW-Authenticate".into(), "bad name".into()], ..RawSecurityHeaders::default() };
        let mut errors = Vec::new();
        raw.build(&mut errors);
        assert_eq!(errors.len(), 2);
        assert_eq!(errors[0].field, "ENTRA_EDGE.security_headers.remove[0]");
    }
}
