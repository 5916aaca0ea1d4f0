//! Entra tenant ids: a GUID in canonical lowercase form.

use std::fmt;

/// The consumer (personal Microsoft account) tenant.
pub const CONSUMER_TENANT: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";

/// A tenant id that has been checked to be a GUID (`8-4-4-4-12` hex digits).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId(String);

impl TenantId {
    /// Parses a GUID, accepting either case and storing it lowercase.
    pub fn parse(value: &str) -> Option<TenantId> {
        is_guid(value).then(|| TenantId(value.to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// True for `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` with hex digits.
pub fn is_guid(value: &str) -> bool {
    let bytes = value.as_bytes();
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_a_guid_and_lowercases_it() {
        let tid = TenantId::parse("72F988BF-86F1-41AF-91AB-2D7CD011DB47").unwrap();
        assert_eq!(tid.as_str(), "72f988bf-86f1-41af-91ab-2d7cd011db47");
    }

    #[test]
    fn rejects_strings_that_are_not_guids() {
        for bad in [
            "",
            "common",
            "72f988bf86f141af91ab2d7cd011db47",
            "{72f988bf-86f1-41af-91ab-2d7cd011db47}",
            "72f988bf-86f1-41af-91ab-2d7cd011db4g",
            "72f988bf-86f1-41af-91ab-2d7cd011db47 ",
            "72f988bf-86f1-41af-91ab_2d7cd011db47",
        ] {
            assert!(TenantId::parse(bad).is_none(), "{bad:?} accepted");
        }
    }
}
