//! Where the Attendance screen's frames come from, as the teacher picks it, and how the choice
//! is remembered in the settings.

use std::path::PathBuf;

use crate::camera::{CameraDevice, DeviceSelector, Pacing, ReplayOptions, SourceSpec};

/// Where frames come from, as the teacher picks it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceChoice {
    /// The built-in demo camera.
    Demo,
    /// A camera, by its OS index.
    Camera(u32),
    /// A folder of images.
    Replay(PathBuf),
}

impl SourceChoice {
    /// How the choice is remembered in settings: "demo", "replay:PATH", or the camera's name and
    /// USB port as JSON (steadier than its number across reboots and replugs).
    #[must_use]
    pub fn to_setting(&self, cameras: &[CameraDevice]) -> Option<String> {
        match self {
            Self::Demo => Some("demo".to_owned()),
            Self::Replay(p) => Some(format!("replay:{}", p.display())),
            Self::Camera(i) => cameras
                .iter()
                .find(|c| c.index == *i)
                .and_then(|c| serde_json::to_string(&crate::camera::CameraChoice::of(c)).ok()),
        }
    }

    /// The remembered choice, if it still applies (a remembered camera must be plugged in).
    #[must_use]
    pub fn from_setting(text: &str, cameras: &[CameraDevice]) -> Option<Self> {
        if text == "demo" {
            return Some(Self::Demo);
        }
        if let Some(path) = text.strip_prefix("replay:") {
            return Some(Self::Replay(PathBuf::from(path)));
        }
        let choice: crate::camera::CameraChoice = serde_json::from_str(text).ok()?;
        choice.find(cameras).map(|c| Self::Camera(c.index))
    }

    /// The source to open.
    #[must_use]
    pub fn spec(&self) -> SourceSpec {
        match self {
            Self::Demo => SourceSpec::Demo,
            Self::Camera(i) => SourceSpec::Camera(DeviceSelector::Index(*i)),
            Self::Replay(path) => SourceSpec::Replay {
                path: path.clone(),
                options: ReplayOptions {
                    pacing: Pacing::Fps(10.0),
                    looping: true,
                },
            },
        }
    }
}
