//! Checks shared by every section of the configuration: header names, GUID lists, URLs.

use crate::tenant::TenantId;

use super::{Field, Problems};

/// RFC 9110 §5.1 field-name characters (`tchar`).
pub fn is_header_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// A non-empty RFC 9110 field name.
pub fn is_header_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(is_header_name_byte)
}

/// Parses a list of GUIDs (`what` names them in messages: "tenant id", "client id"),
/// reporting each malformed or repeated one at its index; returns the good ones.
pub fn guid_list(values: &[String], at: &Field, what: &str, problems: &mut Problems) -> Vec<TenantId> {
    let mut parsed = Vec::new();
    for (i, value) in values.iter().enumerate() {
        match TenantId::parse(value) {
            Some(guid) if parsed.contains(&guid) => problems.add(&at.index(i), format!("duplicate {what} {value:?}")),
            Some(guid) => parsed.push(guid),
            None => problems.add(&at.index(i), format!("{value:?} is not a {what} (a GUID such as 72f988bf-86f1-41af-91ab-2d7cd011db47)")),
        }
    }
    parsed
}

/// Checks an absolute http(s) URL with no credentials, query or fragment and returns it
/// without a trailing slash. Plain `http` is only accepted for loopback hosts (local
/// testing) — a token verified against keys fetched in clear text proves nothing.
pub fn parse_base_url(value: &str, allow_path: bool) -> Result<String, String> {
    let url = url::Url::parse(value).map_err(|e| format!("{value:?} is not an absolute URL ({e})"))?;
    let loopback = matches!(url.host_str(), Some("127.0.0.1") | Some("localhost") | Some("[::1]"));
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => return Err(format!("{value:?} must use https (plain http is accepted only for 127.0.0.1/localhost)")),
        other => return Err(format!("{value:?} has scheme {other:?}; expected https")),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("{value:?} has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("{value:?} must not contain credentials"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("{value:?} must not have a query or fragment"));
    }
    if !allow_path && url.path() != "/" {
        return Err(format!("{value:?} must be a host only, without a path"));
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}
