//! Typed application settings that belong with the data (so a backup carries them).

use super::{Result, Store, StoreError};
use crate::core::Status;

const KEY: &str = "app_settings";

/// Settings of the recognition rules and of privacy.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Votes for the same student needed to mark them (K of the last N frames).
    pub frames_to_confirm: u32,
    /// The number of recent frames of a face that are counted (N).
    pub window_frames: u32,
    /// Margin between the best and second-best student (`None` = the encoder's default).
    pub min_margin: Option<f32>,
    /// Keep the face crop of each automatic mark as evidence (off by default).
    pub keep_evidence_crops: bool,
    /// Delete photos, crops and embeddings older than this many days (`None` = keep until the
    /// student is removed or forgotten).
    pub retention_days: Option<u32>,
    /// The camera chosen last (a stable device key, or "demo").
    pub camera: Option<String>,
    /// The codes the school's information system uses for each status, for its export.
    pub sis_codes: SisCodes,
}

/// The attendance codes of the school's information system, one per status.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct SisCodes {
    /// Present (default `P`).
    pub present: String,
    /// Late, tardy (default `T`).
    pub late: String,
    /// Absent (default `A`).
    pub absent: String,
    /// Excused (default `E`).
    pub excused: String,
}

impl Default for SisCodes {
    fn default() -> Self {
        Self {
            present: "P".into(),
            late: "T".into(),
            absent: "A".into(),
            excused: "E".into(),
        }
    }
}

impl SisCodes {
    /// The code of a status.
    #[must_use]
    pub fn code(&self, status: Status) -> &str {
        match status {
            Status::Present => &self.present,
            Status::Late => &self.late,
            Status::Absent => &self.absent,
            Status::Excused => &self.excused,
        }
    }

    /// (status, code) for each status, in the order the window lists them.
    #[must_use]
    pub fn pairs(&self) -> [(Status, &str); 4] {
        [
            Status::Present,
            Status::Late,
            Status::Absent,
            Status::Excused,
        ]
        .map(|s| (s, self.code(s)))
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            frames_to_confirm: 3,
            window_frames: 5,
            min_margin: None,
            keep_evidence_crops: false,
            retention_days: None,
            camera: None,
            sis_codes: SisCodes::default(),
        }
    }
}

impl Settings {
    /// Checks the values.
    pub fn validate(&self) -> Result<()> {
        if self.frames_to_confirm == 0
            || self.window_frames < self.frames_to_confirm
            || self.window_frames > 100
        {
            return Err(StoreError::Invalid(format!(
                "frames to confirm ({}) must be at least 1 and at most the window ({}, at most 100)",
                self.frames_to_confirm, self.window_frames
            )));
        }
        if let Some(m) = self.min_margin
            && !(m.is_finite() && m >= 0.0)
        {
            return Err(StoreError::Invalid(format!(
                "the margin must be zero or more, not {m}"
            )));
        }
        for (status, code) in self.sis_codes.pairs() {
            if code.trim().is_empty()
                || code.chars().count() > 12
                || code.chars().any(char::is_control)
            {
                return Err(StoreError::Invalid(format!(
                    "the information-system code for {status} must be 1 to 12 characters, not {code:?}"
                )));
            }
        }
        if self.retention_days == Some(0) {
            return Err(StoreError::Invalid(
                "the retention period must be at least one day".into(),
            ));
        }
        Ok(())
    }
}

impl Store {
    /// The settings (defaults where nothing was saved; damaged values fall back to defaults
    /// with a warning).
    pub fn settings(&self) -> Result<Settings> {
        Ok(match self.setting(KEY)? {
            Some(text) => serde_json::from_str(&text).unwrap_or_else(|err| {
                log::warn!("the saved settings could not be read ({err}); using defaults");
                Settings::default()
            }),
            None => Settings::default(),
        })
    }

    /// Validates and saves the settings (logged).
    pub fn save_settings(&self, settings: &Settings) -> Result<()> {
        settings.validate()?;
        let text =
            serde_json::to_string(settings).map_err(|err| StoreError::Invalid(err.to_string()))?;
        self.set_setting(KEY, &text)?;
        self.log_audit(self.actor(), "settings_changed", None, None, &text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip_and_are_validated() {
        let store = Store::open_in_memory().unwrap();
        assert_eq!(store.settings().unwrap(), Settings::default());
        let s = Settings {
            frames_to_confirm: 2,
            window_frames: 4,
            keep_evidence_crops: true,
            retention_days: Some(365),
            ..Settings::default()
        };
        store.save_settings(&s).unwrap();
        assert_eq!(store.settings().unwrap(), s);
        let bad = Settings {
            frames_to_confirm: 5,
            window_frames: 3,
            ..Settings::default()
        };
        assert!(store.save_settings(&bad).is_err());
        assert_eq!(store.settings().unwrap(), s);
        store.set_setting(KEY, "{not json").unwrap();
        assert_eq!(store.settings().unwrap(), Settings::default());
    }
}
