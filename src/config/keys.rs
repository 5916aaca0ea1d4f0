//! `[vars.ENTRA_EDGE.keys]`: signing-key cache, refresh and fetch settings, validated.

use serde::Deserialize;

use crate::tenant::TenantId;

use super::{Field, KeySettings, Problems};

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawKeySettings {
    refresh_after_seconds: u64,
    max_stale_seconds: u64,
    unknown_kid_cooldown_seconds: u64,
    fetch_timeout_ms: u64,
    app_id: Option<String>,
    allowed_jwks_hosts: Vec<String>,
}

impl Default for RawKeySettings {
    fn default() -> Self {
        let d = KeySettings::default();
        RawKeySettings {
            refresh_after_seconds: d.refresh_after_seconds,
            max_stale_seconds: d.max_stale_seconds,
            unknown_kid_cooldown_seconds: d.unknown_kid_cooldown_seconds,
            fetch_timeout_ms: d.fetch_timeout_ms,
            app_id: d.app_id,
            allowed_jwks_hosts: d.allowed_jwks_hosts,
        }
    }
}

impl RawKeySettings {
    pub(super) fn build(self, at: &Field, problems: &mut Problems) -> KeySettings {
        if self.refresh_after_seconds == 0 {
            problems.add(&at.key("refresh_after_seconds"), "must be at least 1");
        }
        if self.max_stale_seconds < self.refresh_after_seconds {
            problems.add(&at.key("max_stale_seconds"), "must be at least keys.refresh_after_seconds");
        }
        if self.fetch_timeout_ms == 0 || self.fetch_timeout_ms > 30_000 {
            problems.add(&at.key("fetch_timeout_ms"), "must be between 1 and 30000");
        }
        let app_id = match self.app_id.as_deref() {
            None => None,
            Some(value) => match TenantId::parse(value) {
                // The same GUID shape as a tenant id; kept in the lowercase form Entra prints.
                Some(guid) => Some(guid.as_str().to_string()),
                None => {
                    problems.add(
                        &at.key("app_id"),
                        format!("{value:?} is not an application (client) id: a GUID such as 6e2f9a47-1b3c-4d5e-8f70-9a8b7c6d5e4f"),
                    );
                    None
                }
            },
        };
        for (i, host) in self.allowed_jwks_hosts.iter().enumerate() {
            if host.contains('*') {
                problems.add(
                    &at.key("allowed_jwks_hosts").index(i),
                    format!("{host:?}: wildcards are not supported; list each host (and :port if not 443)"),
                );
                continue;
            }
            let valid = url::Url::parse(&format!("https://{host}/"))
                .ok()
                .is_some_and(|u| u.path() == "/" && u.username().is_empty() && u.query().is_none() && !host.contains(['/', '@', '?', '#']));
            if !valid || host.is_empty() {
                problems.add(
                    &at.key("allowed_jwks_hosts").index(i),
                    format!("{host:?} is not a host or host:port (such as \"keys.example.com\")"),
                );
            }
        }

        KeySettings {
            refresh_after_seconds: self.refresh_after_seconds,
            max_stale_seconds: self.max_stale_seconds,
            unknown_kid_cooldown_seconds: self.unknown_kid_cooldown_seconds,
            fetch_timeout_ms: self.fetch_timeout_ms,
            app_id,
            allowed_jwks_hosts: self.allowed_jwks_hosts.iter().map(|h| h.to_ascii_lowercase()).collect(),
        }
    }
}
