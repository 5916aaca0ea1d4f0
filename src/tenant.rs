//! Entra tenants: ids (a GUID in canonical lowercase form), which tenants the gateway
//! accepts ([`TenantPolicy`]), and where a tenant's metadata and keys are read
//! ([`Directory`]).

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

/// Where the metadata and signing keys for a tenant's tokens are read (the path segment
/// after the authority host): the tenant's own directory, or one of the multi-tenant
/// directories, whose `issuer` is the template `…/{tenantid}/…` (Microsoft identity
/// platform, "OpenID Connect on the Microsoft identity platform": the `{tenant}` value).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Directory {
    Tenant(TenantId),
    /// Work and school accounts of every tenant.
    Organizations,
    /// Every tenant and personal Microsoft accounts.
    Common,
}

impl fmt::Display for Directory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Directory::Tenant(tenant) => f.write_str(tenant.as_str()),
            Directory::Organizations => f.write_str("organizations"),
            Directory::Common => f.write_str("common"),
        }
    }
}

/// Which tenants' tokens the gateway accepts (`ENTRA_EDGE.tenants`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TenantPolicy {
    /// Only these tenants; each one's keys come from its own directory.
    Listed(Vec<TenantId>),
    /// `tenants = ["*"]`: every organization (work or school) tenant except `denied`, and the
    /// personal-account tenant only when `consumers` (it was named). The keys of every
    /// tenant come from one multi-tenant directory, so the `tid` a caller chooses never
    /// decides what the gateway fetches.
    AnyOrganization { consumers: bool, denied: Vec<TenantId> },
}

impl TenantPolicy {
    /// True when tokens of `tenant` are accepted.
    pub fn allows(&self, tenant: &TenantId) -> bool {
        match self {
            TenantPolicy::Listed(tenants) => tenants.contains(tenant),
            TenantPolicy::AnyOrganization { consumers, denied } => {
                !denied.contains(tenant) && (*consumers || tenant.as_str() != CONSUMER_TENANT)
            }
        }
    }

    /// Where the keys for a token of `tenant` (already allowed) are read.
    pub fn directory_for(&self, tenant: &TenantId) -> Directory {
        match self {
            TenantPolicy::Listed(_) => Directory::Tenant(tenant.clone()),
            TenantPolicy::AnyOrganization { consumers: false, .. } => Directory::Organizations,
            TenantPolicy::AnyOrganization { consumers: true, .. } => Directory::Common,
        }
    }

    /// Every directory the gateway may read keys from (what the cron keeps fresh).
    pub fn directories(&self) -> Vec<Directory> {
        match self {
            TenantPolicy::Listed(tenants) => tenants.iter().cloned().map(Directory::Tenant).collect(),
            TenantPolicy::AnyOrganization { consumers: false, .. } => vec![Directory::Organizations],
            TenantPolicy::AnyOrganization { consumers: true, .. } => vec![Directory::Common],
        }
    }

    /// The listed tenants (empty in any-organization mode).
    pub fn listed(&self) -> &[TenantId] {
        match self {
            TenantPolicy::Listed(tenants) => tenants,
            TenantPolicy::AnyOrganization { .. } => &[],
        }
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

    const CONTOSO: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    const FABRIKAM: &str = "5a8e2b71-0c4d-4f9e-a1b2-c3d4e5f60718";

    fn tid(value: &str) -> TenantId {
        TenantId::parse(value).unwrap()
    }

    #[test]
    fn listed_policy_allows_only_its_tenants_each_from_its_own_directory() {
        let policy = TenantPolicy::Listed(vec![tid(CONTOSO)]);
        assert!(policy.allows(&tid(CONTOSO)));
        assert!(!policy.allows(&tid(FABRIKAM)));
        assert_eq!(policy.directory_for(&tid(CONTOSO)), Directory::Tenant(tid(CONTOSO)));
        assert_eq!(policy.directories(), [Directory::Tenant(tid(CONTOSO))]);
    }

    #[test]
    fn any_organization_allows_every_tenant_but_the_denied_and_personal_accounts() {
        let policy = TenantPolicy::AnyOrganization { consumers: false, denied: vec![tid(FABRIKAM)] };
        assert!(policy.allows(&tid(CONTOSO)));
        assert!(!policy.allows(&tid(FABRIKAM)));
        assert!(!policy.allows(&tid(CONSUMER_TENANT)));
    }

    #[test]
    fn any_organization_reads_every_tenants_keys_from_one_directory() {
        let policy = TenantPolicy::AnyOrganization { consumers: false, denied: vec![] };
        assert_eq!(policy.directory_for(&tid(CONTOSO)), Directory::Organizations);
        assert_eq!(policy.directory_for(&tid(FABRIKAM)), Directory::Organizations);
        assert_eq!(policy.directories(), [Directory::Organizations]);
        assert_eq!(Directory::Organizations.to_string(), "organizations");
    }

    #[test]
    fn personal_accounts_are_allowed_only_when_named_and_then_keys_come_from_common() {
        let policy = TenantPolicy::AnyOrganization { consumers: true, denied: vec![] };
        assert!(policy.allows(&tid(CONSUMER_TENANT)));
        assert_eq!(policy.directory_for(&tid(CONTOSO)), Directory::Common);
        assert_eq!(policy.directories(), [Directory::Common]);
    }

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
