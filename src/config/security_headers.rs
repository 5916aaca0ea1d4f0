//! `[vars.ENTRA_EDGE.security_headers]`: the response security headers and the origin
//! headers removed, validated.

use serde::Deserialize;

use crate::security_headers::SecurityHeaders;

use super::{checks, Field, Problems};

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawSecurityHeaders {
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

/// The defaults (what a configuration without `security_headers` gets).
impl Default for SecurityHeaders {
    fn default() -> Self {
        RawSecurityHeaders::default().build(&Field::root().key("security_headers"), &mut Problems::default())
    }
}

fn valid_value(value: &str) -> bool {
    value.bytes().all(|b| (0x20..0x7f).contains(&b))
}

impl RawSecurityHeaders {
    pub fn build(self, at: &Field, problems: &mut Problems) -> SecurityHeaders {
        let mut add = Vec::new();
        for (name, field, value) in [
            ("strict-transport-security", "strict_transport_security", self.strict_transport_security),
            ("content-security-policy", "content_security_policy", self.content_security_policy),
            ("x-frame-options", "x_frame_options", self.x_frame_options),
            ("x-content-type-options", "x_content_type_options", self.x_content_type_options),
            ("referrer-policy", "referrer_policy", self.referrer_policy),
        ] {
            if !valid_value(&value) {
                problems.add(&at.key(field), "must be printable ASCII");
            } else if !value.is_empty() {
                add.push((name.to_string(), value));
            }
        }
        let mut remove = Vec::new();
        for (i, name) in self.remove.iter().enumerate() {
            let lower = name.to_ascii_lowercase();
            if !checks::is_header_name(&lower) {
                problems.add(&at.key("remove").index(i), format!("{name:?} is not a header name"));
            } else if lower.starts_with("access-control-")
                || lower == "www-authenticate"
                || lower == "content-type"
                || lower == "x-request-id"
            {
                problems.add(&at.key("remove").index(i), format!("{name:?} is needed by clients and cannot be removed"));
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
        let headers = raw.build(&Field::root().key("security_headers"), &mut Problems::default());
        assert!(!headers.add.iter().any(|(n, _)| n == "x-frame-options"));
    }

    #[test]
    fn headers_clients_need_cannot_be_removed() {
        let raw = RawSecurityHeaders { remove: vec!["WWW-Authenticate".into(), "bad name".into()], ..RawSecurityHeaders::default() };
        let mut problems = Problems::default();
        raw.build(&Field::root().key("security_headers"), &mut problems);
        let errors = problems.into_vec();
        assert_eq!(errors.len(), 2);
        assert_eq!(errors[0].field, "ENTRA_EDGE.security_headers.remove[0]");
    }
}
