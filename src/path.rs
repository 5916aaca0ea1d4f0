//! Request paths in one canonical form, so a route cannot be bypassed by how a path is
//! written. The normalized path is both what routes match and what the origin receives.
//!
//! Rules: percent-encoded unreserved characters are decoded (`%61` → `a`), other escapes
//! are upper-cased; duplicate slashes collapse; a trailing slash is removed. Anything
//! whose meaning differs between servers is refused: dot segments (`.`, `..`, also
//! encoded), encoded `/` `\` `%` or NUL, backslashes, `;` parameters, control characters
//! and malformed escapes.

use std::fmt;

/// A path that passed [`normalize`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NormalizedPath(String);

impl NormalizedPath {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The segments between slashes; the root path has none.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('/').filter(|s| !s.is_empty())
    }
}

impl fmt::Display for NormalizedPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a path was refused (400 `path_invalid`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathProblem {
    NotAbsolute,
    TooLong,
    DotSegment,
    EncodedSeparator,
    Backslash,
    Parameter,
    ControlCharacter,
    BadEscape,
}

impl PathProblem {
    pub fn describe(self) -> &'static str {
        match self {
            PathProblem::NotAbsolute => "the path must start with /",
            PathProblem::TooLong => "the path is too long",
            PathProblem::DotSegment => "the path contains . or .. segments",
            PathProblem::EncodedSeparator => "the path contains an encoded /, \\, % or NUL",
            PathProblem::Backslash => "the path contains a backslash",
            PathProblem::Parameter => "the path contains ; parameters",
            PathProblem::ControlCharacter => "the path contains control or non-ASCII characters",
            PathProblem::BadEscape => "the path contains a malformed percent-escape",
        }
    }
}

pub const MAX_PATH_BYTES: usize = 4096;

/// Splits a serialized absolute request URL (`scheme://host[:port]/path[?query]`) into its
/// raw path and query, without re-parsing: the runtime already serialized it (WHATWG), so
/// the first `/` after the host starts the path and `?` the query.
pub fn split_url(url: &str) -> (&str, Option<&str>) {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let rest = &url[after_scheme..];
    let target = rest.find('/').map_or("/", |i| &rest[i..]);
    let target = target.split_once('#').map_or(target, |(before, _)| before);
    match target.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (target, None),
    }
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Normalizes the path part of a request URL (no query, no fragment).
pub fn normalize(raw: &str) -> Result<NormalizedPath, PathProblem> {
    if raw.len() > MAX_PATH_BYTES {
        return Err(PathProblem::TooLong);
    }
    if !raw.starts_with('/') {
        return Err(PathProblem::NotAbsolute);
    }
    let mut segments: Vec<String> = Vec::new();
    for raw_segment in raw.split('/').filter(|s| !s.is_empty()) {
        let bytes = raw_segment.as_bytes();
        let mut segment = String::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            match b {
                b'%' => {
                    let (hi, lo) = match (bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex)) {
                        (Some(hi), Some(lo)) => (hi, lo),
                        _ => return Err(PathProblem::BadEscape),
                    };
                    let decoded = hi * 16 + lo;
                    if matches!(decoded, b'/' | b'\\' | b'%' | 0) {
                        return Err(PathProblem::EncodedSeparator);
                    }
                    if is_unreserved(decoded) {
                        segment.push(decoded as char);
                    } else {
                        segment.push_str(&format!("%{decoded:02X}"));
                    }
                    i += 3;
                }
                b'\\' => return Err(PathProblem::Backslash),
                b';' => return Err(PathProblem::Parameter),
                0x21..=0x7e => {
                    segment.push(b as char);
                    i += 1;
                }
                _ => return Err(PathProblem::ControlCharacter),
            }
        }
        if segment == "." || segment == ".." {
            return Err(PathProblem::DotSegment);
        }
        segments.push(segment);
    }
    let mut path = String::with_capacity(raw.len());
    for segment in &segments {
        path.push('/');
        path.push_str(segment);
    }
    if path.is_empty() {
        path.push('/');
    }
    Ok(NormalizedPath(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(raw: &str) -> String {
        normalize(raw).unwrap().0
    }

    #[test]
    fn plain_paths_are_unchanged() {
        assert_eq!(ok("/"), "/");
        assert_eq!(ok("/api/orders/42"), "/api/orders/42");
    }

    #[test]
    fn duplicate_and_trailing_slashes_are_removed() {
        assert_eq!(ok("//api///orders/"), "/api/orders");
        assert_eq!(ok("///"), "/");
    }

    #[test]
    fn encoded_unreserved_characters_are_decoded() {
        assert_eq!(ok("/%61dmin/%7Euser"), "/admin/~user");
    }

    #[test]
    fn other_escapes_are_kept_in_upper_case() {
        assert_eq!(ok("/files/a%20b%3f"), "/files/a%20b%3F");
    }

    #[test]
    fn dot_segments_are_refused_even_when_encoded() {
        for raw in ["/a/../admin", "/a/./b", "/..", "/a/%2e%2e/admin", "/a/.%2E/admin", "/%2e/x"] {
            assert_eq!(normalize(raw), Err(PathProblem::DotSegment), "{raw}");
        }
    }

    #[test]
    fn dots_inside_a_segment_are_fine() {
        assert_eq!(ok("/v1.2/file.json/...x"), "/v1.2/file.json/...x");
    }

    #[test]
    fn encoded_separators_are_refused() {
        for raw in ["/a%2Fb", "/a%2fb", "/a%5Cb", "/a%25b", "/a%00"] {
            assert_eq!(normalize(raw), Err(PathProblem::EncodedSeparator), "{raw}");
        }
    }

    #[test]
    fn backslashes_and_parameters_are_refused() {
        assert_eq!(normalize("/admin\\x"), Err(PathProblem::Backslash));
        assert_eq!(normalize("/admin;jsessionid=1/x"), Err(PathProblem::Parameter));
    }

    #[test]
    fn malformed_escapes_are_refused() {
        for raw in ["/a%", "/a%4", "/a%zz", "/a%4g"] {
            assert_eq!(normalize(raw), Err(PathProblem::BadEscape), "{raw}");
        }
    }

    #[test]
    fn control_and_raw_non_ascii_characters_are_refused() {
        assert_eq!(normalize("/a\tb"), Err(PathProblem::ControlCharacter));
        assert_eq!(normalize("/a b"), Err(PathProblem::ControlCharacter));
        assert_eq!(normalize("/caf\u{e9}"), Err(PathProblem::ControlCharacter));
    }

    #[test]
    fn relative_and_oversized_paths_are_refused() {
        assert_eq!(normalize("api"), Err(PathProblem::NotAbsolute));
        assert_eq!(normalize(""), Err(PathProblem::NotAbsolute));
        assert_eq!(normalize(&format!("/{}", "a".repeat(5000))), Err(PathProblem::TooLong));
    }

    #[test]
    fn request_urls_split_into_path_and_query() {
        assert_eq!(split_url("https://api.example.com/a/b?x=1&y"), ("/a/b", Some("x=1&y")));
        assert_eq!(split_url("http://127.0.0.1:8787/"), ("/", None));
        assert_eq!(split_url("http://127.0.0.1:8787"), ("/", None));
        assert_eq!(split_url("https://h/p?q#frag"), ("/p", Some("q")));
        assert_eq!(split_url("https://h/p?"), ("/p", Some("")));
    }

    #[test]
    fn segments_are_split_on_slashes() {
        let path = normalize("/api/tenants/abc/orders").unwrap();
        assert_eq!(path.segments().collect::<Vec<_>>(), ["api", "tenants", "abc", "orders"]);
        assert_eq!(normalize("/").unwrap().segments().count(), 0);
    }
}
