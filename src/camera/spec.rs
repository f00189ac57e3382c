//! Naming a frame source the way the command line and settings do, and opening it:
//! `--camera 0`, `--camera "HD Pro Webcam"`, `--camera demo`, `--replay photos/`.

use std::path::PathBuf;
use std::sync::Arc;

use super::clock::{Clock, SystemClock};
use super::devices::{CameraChoice, CameraDevice, Scan};
use super::error::CameraError;
use super::nokhwa_source::{NokhwaSource, list_cameras};
use super::replay::{ReplayOptions, ReplaySource};
use super::{FrameSource, demo};

/// Which camera.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceSelector {
    /// The first usable camera.
    First,
    /// The camera with this OS index (N of `/dev/videoN` on Linux), as `rollcall cameras` lists.
    Index(u32),
    /// The camera whose name is this (case-insensitive), or contains it when only one does; a
    /// device path (`/dev/video2`) or bus ("usb-0000:00:14.0-1") also works.
    Name(String),
    /// A camera remembered in settings.
    Choice(CameraChoice),
}

impl DeviceSelector {
    /// Reads `--camera` text: a number is an index, anything else a name.
    #[must_use]
    pub fn parse(text: &str) -> Self {
        let text = text.trim();
        match text.parse::<u32>() {
            Ok(index) => Self::Index(index),
            Err(_) => Self::Name(text.to_owned()),
        }
    }

    /// Finds the camera in `scan`; a camera that is there but cannot be used is an error that
    /// says why (permission, formats), and so is a node that is not a camera.
    pub fn select<'a>(&self, scan: &'a Scan) -> Result<&'a CameraDevice, CameraError> {
        let not_found = |wanted: String| {
            let available = if scan.cameras.is_empty() {
                "none".to_owned()
            } else {
                scan.cameras
                    .iter()
                    .map(|c| format!("{} {:?}", c.index, c.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            CameraError::NotFound { wanted, available }
        };
        let found = match self {
            Self::First => {
                if let Some(camera) = scan.cameras.iter().find(|c| c.usable()) {
                    return Ok(camera);
                }
                // Nothing usable: say why about the first camera there is.
                return Err(scan.cameras.first().map_or(CameraError::NoCamera, |c| {
                    c.problem
                        .as_ref()
                        .map_or(CameraError::NoCamera, |p| p.to_error(&c.label()))
                }));
            }
            Self::Index(index) => {
                let found = scan.cameras.iter().find(|c| c.index == *index);
                if found.is_none() {
                    let path = format!("/dev/video{index}");
                    if let Some((_, reason)) = scan.skipped.iter().find(|(p, _)| *p == path) {
                        return Err(CameraError::Invalid(format!(
                            "{path} is not a camera: it is {reason}; run `rollcall cameras` to \
                             see the cameras"
                        )));
                    }
                }
                found.ok_or_else(|| not_found(index.to_string()))?
            }
            Self::Name(name) => {
                let wanted = name.to_lowercase();
                let exact = scan.cameras.iter().find(|c| {
                    c.name.to_lowercase() == wanted
                        || c.path.as_deref() == Some(name.as_str())
                        || c.bus.as_deref() == Some(name.as_str())
                });
                let partial: Vec<&CameraDevice> = scan
                    .cameras
                    .iter()
                    .filter(|c| c.name.to_lowercase().contains(&wanted))
                    .collect();
                match (exact, partial.as_slice()) {
                    (Some(camera), _) | (None, &[camera]) => camera,
                    (None, []) => return Err(not_found(name.clone())),
                    (None, _) => {
                        return Err(CameraError::Invalid(format!(
                            "{name:?} matches several cameras ({}); give the full name or the \
                             number",
                            partial
                                .iter()
                                .map(|c| c.label())
                                .collect::<Vec<_>>()
                                .join(", ")
                        )));
                    }
                }
            }
            Self::Choice(choice) => choice
                .find(&scan.cameras)
                .ok_or_else(|| not_found(choice.name.clone()))?,
        };
        match &found.problem {
            Some(problem) => Err(problem.to_error(&found.label())),
            None => Ok(found),
        }
    }
}

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
