//! Signing-key cache policy: how old a tenant's key set may be, what is stored in KV, and
//! when an unknown `kid` may trigger a refresh. Pure arithmetic on timestamps; the shell
//! does the reads, writes and fetches.

use serde::{Deserialize, Serialize};

use crate::config::KeySettings;
use crate::discovery::OpenIdMetadata;
use crate::tenant::TenantId;
use crate::token_version::TokenVersion;

/// How usable a cached key set is at a given time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Freshness {
    /// Younger than `refresh_after_seconds`: use it, fetch nothing.
    Fresh,
    /// Past refresh time but within `max_stale_seconds`: use it if a refresh fails.
    Stale,
    /// Past `max_stale_seconds`: never use it.
    Expired,
}

pub fn freshness(fetched_at: i64, now: i64, settings: &KeySettings) -> Freshness {
    let age = now.saturating_sub(fetched_at).max(0) as u64;
    if age < settings.refresh_after_seconds {
        Freshness::Fresh
    } else if age < settings.max_stale_seconds {
        Freshness::Stale
    } else {
        Freshness::Expired
    }
}

/// A tenant's keys are fetched from the authority at most once per cooldown window, whether
/// an unknown `kid` or old keys ask for it, so random `kid`s or an authority outage cannot
/// make the gateway hammer the authority.
pub fn may_fetch(last_fetch_at: i64, now: i64, settings: &KeySettings) -> bool {
    now.saturating_sub(last_fetch_at) >= settings.unknown_kid_cooldown_seconds as i64
}

/// The KV key of a tenant's key document.
pub fn kv_key(authority: &str, tenant: &TenantId, version: TokenVersion) -> String {
    let host = authority.split_once("://").map_or(authority, |(_, host)| host);
    format!("keys/{host}/{tenant}/v{version}")
}

/// What is stored in KV: the metadata and raw JWKS as fetched, and when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyDocument {
    pub fetched_at: i64,
    pub metadata: OpenIdMetadata,
    /// The JWKS JSON exactly as the authority served it.
    pub jwks: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> KeySettings {
        KeySettings { refresh_after_seconds: 3600, max_stale_seconds: 86_400, unknown_kid_cooldown_seconds: 300, fetch_timeout_ms: 3000 }
    }

    #[test]
    fn key_set_is_fresh_until_refresh_time() {
        assert_eq!(freshness(1000, 1000 + 3599, &settings()), Freshness::Fresh);
        assert_eq!(freshness(1000, 1000 + 3600, &settings()), Freshness::Stale);
    }

    #[test]
    fn key_set_expires_after_max_stale() {
        assert_eq!(freshness(1000, 1000 + 86_399, &settings()), Freshness::Stale);
        assert_eq!(freshness(1000, 1000 + 86_400, &settings()), Freshness::Expired);
    }

    #[test]
    fn clock_going_backwards_counts_as_fresh() {
        assert_eq!(freshness(5000, 4000, &settings()), Freshness::Fresh);
    }

    #[test]
    fn authority_is_asked_at_most_once_per_cooldown() {
        assert!(!may_fetch(1000, 1299, &settings()));
        assert!(may_fetch(1000, 1300, &settings()));
    }

    #[test]
    fn kv_key_names_authority_tenant_and_version() {
        let tenant = TenantId::parse("72f988bf-86f1-41af-91ab-2d7cd011db47").unwrap();
        assert_eq!(
            kv_key("https://login.microsoftonline.com", &tenant, TokenVersion::V2),
            "keys/login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0"
        );
    }
}
