//! Naming a frame source the way the command line and settings do, and opening it:
//! `--camera 0`, `--camera "HD Pro Webcam"`, `--camera demo`, `--replay photos/`.

use std::path::PathBuf;
use std::sync::Arc;

use super::clock::{Clock, SystemClock};
use super::devices::DeviceSelector;
use super::error::CameraError;
use super::nokhwa_source::{NokhwaSource, list_cameras};
use super::replay::{ReplayOptions, ReplaySource};
use super::{FrameSource, demo};

/// A frame source by name.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceSpec {
    /// A camera.
    Camera(DeviceSelector),
    /// A replay of a folder, an image or an animation.
    Replay {
        /// What to replay.
        path: PathBuf,
        /// How.
        options: ReplayOptions,
    },
    /// The built-in demo camera.
    Demo,
}

impl SourceSpec {
    /// Reads `--camera` text: "demo" is the demo camera, else a camera number or name.
    #[must_use]
    pub fn parse_camera(text: &str) -> Self {
        if text.trim().eq_ignore_ascii_case("demo") {
            Self::Demo
        } else {
            Self::Camera(DeviceSelector::parse(text))
        }
    }

    /// The first usable camera when there is one, else the demo camera. The second value
    /// says why the demo camera was chosen (for a note to the user).
    #[must_use]
    pub fn camera_or_demo() -> (Self, Option<String>) {
        match list_cameras().and_then(|scan| DeviceSelector::First.select(&scan).map(|_| ())) {
            Ok(()) => (Self::Camera(DeviceSelector::First), None),
            Err(err) => (Self::Demo, Some(err.to_string())),
        }
    }

    /// A short description: "camera 0", "replay of photos/", "Demo camera".
    #[must_use]
    pub fn label(&self) -> String {
        match self {
            Self::Camera(DeviceSelector::First) => "the first camera".to_owned(),
            Self::Camera(DeviceSelector::Index(i)) => format!("camera {i}"),
            Self::Camera(DeviceSelector::Name(n)) => format!("camera {n:?}"),
            Self::Camera(DeviceSelector::Choice(c)) => format!("camera {:?}", c.name),
            Self::Replay { path, .. } => format!("replay of {}", path.display()),
            Self::Demo => demo::DEMO_NAME.to_owned(),
        }
    }

    /// Opens the source on the real clock. Quick: a camera is found now but opened on the
    /// first frame (on the capture thread); a folder is listed, not decoded.
    pub fn open(&self) -> Result<Box<dyn FrameSource + Send>, CameraError> {
        self.open_with_clock(SystemClock::shared())
    }

    /// Opens the source with a chosen clock (tests pass a manual one).
    pub fn open_with_clock(
        &self,
        clock: Arc<dyn Clock>,
    ) -> Result<Box<dyn FrameSource + Send>, CameraError> {
        Ok(match self {
            Self::Camera(selector) => Box::new(NokhwaSource::open(selector, clock)?),
            Self::Replay { path, options } => {
                Box::new(ReplaySource::open_path(path, *options, clock)?)
            }
            Self::Demo => Box::new(ReplaySource::demo(clock)),
        })
    }
}
