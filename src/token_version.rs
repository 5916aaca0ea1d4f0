//! Entra access-token versions (`ver` claim) and the discovery paths that belong to each.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TokenVersion {
    /// `ver: "1.0"`, issuer `https://sts.windows.net/{tid}/`.
    V1,
    /// `ver: "2.0"`, issuer `https://login.microsoftonline.com/{tid}/v2.0`.
    V2,
}

impl TokenVersion {
    pub fn parse(value: &str) -> Option<TokenVersion> {
        match value {
            "1.0" => Some(TokenVersion::V1),
            "2.0" => Some(TokenVersion::V2),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TokenVersion::V1 => "1.0",
            TokenVersion::V2 => "2.0",
        }
    }
}

impl fmt::Display for TokenVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
