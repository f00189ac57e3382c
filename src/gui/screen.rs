//! The window's screens (its tabs), beside the app that shows them.

/// The screens of the window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Screen {
    /// Classes, students and enrollment photos.
    Roster,
    /// Live attendance with the camera.
    Attendance,
    /// Training and evaluating encoders.
    Training,
    /// Sessions, tables and CSV export.
    Reports,
    /// Data folder, thresholds, privacy.
    Settings,
}

impl Screen {
    /// The tab label.
    #[must_use]
    pub fn title(self) -> &'static str {
        match self {
            Self::Roster => "Roster",
            Self::Attendance => "Attendance",
            Self::Training => "Training",
            Self::Reports => "Reports",
            Self::Settings => "Settings",
        }
    }
}
