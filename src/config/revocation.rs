//! `[vars.ENTRA_EDGE.revocation]`: the emergency revocation list, validated.

use serde::Deserialize;

use crate::revocation::{OnError, RevocationSettings};

use super::{Field, Problems};

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawRevocation {
    enabled: bool,
    refresh_seconds: u64,
    on_error: OnError,
}

impl Default for RawRevocation {
    fn default() -> Self {
        let d = RevocationSettings::default();
        RawRevocation { enabled: false, refresh_seconds: d.refresh_seconds, on_error: d.on_error }
    }
}

impl RawRevocation {
    /// The settings when the list is enabled, `None` when it is off.
    pub(super) fn build(self, at: &Field, problems: &mut Problems) -> Option<RevocationSettings> {
        if !(1..=300).contains(&self.refresh_seconds) {
            problems.add(&at.key("refresh_seconds"), "must be between 1 and 300");
        }
        self.enabled.then_some(RevocationSettings { refresh_seconds: self.refresh_seconds, on_error: self.on_error })
    }
}
