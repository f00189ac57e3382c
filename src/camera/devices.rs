//! Which video nodes are cameras, which format to ask a camera for, and how a remembered camera
//! is found again: pure functions over recorded capability data, so they are tested without a
//! device.
//!
//! On Linux a USB webcam shows up as two or more `/dev/videoN` nodes: one that captures
//! pictures and one that only carries metadata (nokhwa issue #171 lists both as cameras). A
//! node is a camera when its V4L2 `device_caps` has `V4L2_CAP_VIDEO_CAPTURE`. Node numbers
//! change across reboots and replugs (nokhwa issue #215), so a choice is remembered as the
//! card name plus the bus it sits on ([`CameraChoice`]).

use serde::{Deserialize, Serialize};

use super::error::{CameraError, permission_hint};
use super::{PREFERRED_FPS, PREFERRED_HEIGHT, PREFERRED_WIDTH};

/// `V4L2_CAP_VIDEO_CAPTURE`: the node captures single-planar video (linux/videodev2.h).
pub const CAP_VIDEO_CAPTURE: u32 = 0x0000_0001;
/// `V4L2_CAP_VIDEO_OUTPUT`.
pub const CAP_VIDEO_OUTPUT: u32 = 0x0000_0002;
/// `V4L2_CAP_VIDEO_CAPTURE_MPLANE`.
pub const CAP_VIDEO_CAPTURE_MPLANE: u32 = 0x0000_1000;
/// `V4L2_CAP_VIDEO_M2M_MPLANE`.
pub const CAP_VIDEO_M2M_MPLANE: u32 = 0x0000_4000;
/// `V4L2_CAP_VIDEO_M2M`.
pub const CAP_VIDEO_M2M: u32 = 0x0000_8000;
/// `V4L2_CAP_META_CAPTURE`: a metadata node (UVC cameras have one beside the video node).
pub const CAP_META_CAPTURE: u32 = 0x0080_0000;

/// The pixel formats nokhwa 0.10 decodes to RGB on V4L2 (its `fourcc_to_frameformat`; note it
/// knows grey as "GRAY", while V4L2 says "GREY", so grey-only infrared cameras are unusable).
pub const DECODABLE_FOURCCS: [&str; 5] = ["MJPG", "YUYV", "NV12", "RGB3", "BGR3"];

/// What `VIDIOC_QUERYCAP` said about a node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeCaps {
    /// The driver ("uvcvideo").
    pub driver: String,
    /// The device's name ("Integrated Camera: Integrated C").
    pub card: String,
    /// Where it is attached ("usb-0000:00:14.0-6"): steady across reboots for a given port.
    pub bus_info: String,
    /// The node's capability flags (`V4L2_CAP_*`); 0 when the driver does not report them.
    pub device_caps: u32,
}

/// Whether a node could be opened to ask.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NodeAccess {
    /// Opened and queried.
    Open {
        /// Its capabilities.
        caps: NodeCaps,
    },
    /// The OS refused (on Linux: not in the `video` group).
    PermissionDenied,
    /// Opening or querying failed otherwise.
    Failed {
        /// The OS message.
        message: String,
    },
}

/// One format a node offers: a pixel format at a size, with its whole-number frame rates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormatRecord {
    /// The V4L2 four-character code ("MJPG", "YUYV").
    pub fourcc: String,
    /// Width, pixels.
    pub width: u32,
    /// Height, pixels.
    pub height: u32,
    /// Frame rates, frames per second (empty when the driver lists none).
    pub fps: Vec<u32>,
}

impl FormatRecord {
    /// Whether rollcall can decode this pixel format.
    #[must_use]
    pub fn decodable(&self) -> bool {
        DECODABLE_FOURCCS.contains(&self.fourcc.as_str())
    }
}

/// Everything recorded about one `/dev/videoN` node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeRecord {
    /// N of `/dev/videoN`.
    pub index: u32,
    /// The device path.
    pub path: String,
    /// `/sys/class/video4linux/videoN/name`.
    pub sysfs_name: Option<String>,
    /// `/sys/class/video4linux/videoN/index`: the node's number within its device (a UVC
    /// camera's picture node is 0, its metadata node 1).
    pub sysfs_index: Option<u32>,
    /// Whether it opened, and its capabilities.
    pub access: NodeAccess,
    /// Its formats (empty when it could not be opened).
    pub formats: Vec<FormatRecord>,
}

/// What a node is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeVerdict {
    /// A camera rollcall can use.
    Camera,
    /// A camera rollcall cannot use (no permission, no decodable format).
    UnusableCamera(CameraProblem),
    /// Not a camera; the reason says what it is.
    NotACamera(String),
}

/// Why a camera cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CameraProblem {
    /// The OS refused to open it.
    PermissionDenied,
    /// It offers only formats rollcall cannot decode.
    NoUsableFormat {
        /// The formats it offers ("GREY, H264").
        offered: String,
    },
    /// It could not be opened or queried.
    Failed {
        /// The OS message.
        message: String,
    },
}

impl CameraProblem {
    /// The error for trying to use a camera with this problem.
    #[must_use]
    pub fn to_error(&self, device: &str) -> CameraError {
        let device = device.to_owned();
        match self {
            Self::PermissionDenied => CameraError::PermissionDenied {
                device,
                hint: permission_hint(),
            },
            Self::NoUsableFormat { offered } => CameraError::NoUsableFormat {
                device,
                offered: offered.clone(),
            },
            Self::Failed { message } => super::error::open_error(&device, message),
        }
    }
}

/// Decides what a node is from its recorded capabilities.
#[must_use]
pub fn classify_node(node: &NodeRecord) -> NodeVerdict {
    let caps = match &node.access {
        NodeAccess::Open { caps } => caps,
        NodeAccess::PermissionDenied | NodeAccess::Failed { .. } => {
            // It cannot be asked; a device's first node is its picture node.
            if node.sysfs_index.is_some_and(|i| i > 0) {
                return NodeVerdict::NotACamera(
                    "a secondary node (usually metadata) that could not be opened".to_owned(),
                );
            }
            return NodeVerdict::UnusableCamera(match &node.access {
                NodeAccess::Failed { message } => CameraProblem::Failed {
                    message: message.clone(),
                },
                _ => CameraProblem::PermissionDenied,
            });
        }
    };
    let flags = caps.device_caps;
    if flags == 0 {
        // An old driver that reports no per-node flags: fall back to the node number.
        if node.sysfs_index.is_some_and(|i| i > 0) {
            return NodeVerdict::NotACamera("a secondary node of its device".to_owned());
        }
    } else if flags & CAP_VIDEO_CAPTURE == 0 {
        let what = if flags & CAP_META_CAPTURE != 0 {
            "a metadata node (no pictures)".to_owned()
        } else if flags & (CAP_VIDEO_M2M | CAP_VIDEO_M2M_MPLANE) != 0 {
            "a memory-to-memory device (a codec or scaler, not a camera)".to_owned()
        } else if flags & CAP_VIDEO_CAPTURE_MPLANE != 0 {
            "a multi-planar capture device, which the camera library does not support".to_owned()
        } else if flags & CAP_VIDEO_OUTPUT != 0 {
            "a video output device".to_owned()
        } else {
            format!("not a video capture device (capabilities 0x{flags:08x})")
        };
        return NodeVerdict::NotACamera(what);
    }
    if node.formats.iter().any(FormatRecord::decodable) {
        return NodeVerdict::Camera;
    }
    let mut offered: Vec<&str> = node.formats.iter().map(|f| f.fourcc.as_str()).collect();
    offered.dedup();
    NodeVerdict::UnusableCamera(CameraProblem::NoUsableFormat {
        offered: if offered.is_empty() {
            "no formats".to_owned()
        } else {
            offered.join(", ")
        },
    })
}

/// A camera, as listed to the user.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CameraDevice {
    /// The OS index (N of `/dev/videoN` on Linux; nokhwa's index elsewhere).
    pub index: u32,
    /// Its name.
    pub name: String,
    /// Where it is attached ("usb-0000:00:14.0-6"), when known.
    pub bus: Option<String>,
    /// The device path, when there is one.
    pub path: Option<String>,
    /// The driver, when known.
    pub driver: Option<String>,
    /// Its formats (empty when unknown until opened).
    pub formats: Vec<FormatRecord>,
    /// Why it cannot be used, if it cannot.
    pub problem: Option<CameraProblem>,
}

impl CameraDevice {
    /// How it is named in messages: "Integrated Camera (/dev/video0)".
    #[must_use]
    pub fn label(&self) -> String {
        match &self.path {
            Some(path) => format!("{} ({path})", self.name),
            None => format!("{} (#{})", self.name, self.index),
        }
    }

    /// Whether it can be opened.
    #[must_use]
    pub fn usable(&self) -> bool {
        self.problem.is_none()
    }
}

/// The result of looking for cameras.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Scan {
    /// The cameras, usable or not, by index.
    pub cameras: Vec<CameraDevice>,
    /// Nodes that are not cameras: (path, what they are).
    pub skipped: Vec<(String, String)>,
}

/// Sorts recorded nodes into cameras and the rest.
#[must_use]
pub fn scan_nodes(nodes: &[NodeRecord]) -> Scan {
    let mut scan = Scan::default();
    let mut nodes: Vec<&NodeRecord> = nodes.iter().collect();
    nodes.sort_by_key(|n| n.index);
    for node in nodes {
        let problem = match classify_node(node) {
            NodeVerdict::NotACamera(reason) => {
                scan.skipped.push((node.path.clone(), reason));
                continue;
            }
            NodeVerdict::Camera => None,
            NodeVerdict::UnusableCamera(problem) => Some(problem),
        };
        let caps = match &node.access {
            NodeAccess::Open { caps } => Some(caps),
            _ => None,
        };
        let name = caps
            .map(|c| c.card.trim().to_owned())
            .filter(|n| !n.is_empty())
            .or_else(|| node.sysfs_name.clone())
            .unwrap_or_else(|| node.path.clone());
        scan.cameras.push(CameraDevice {
            index: node.index,
            name,
            bus: caps.map(|c| c.bus_info.clone()).filter(|b| !b.is_empty()),
            path: Some(node.path.clone()),
            driver: caps.map(|c| c.driver.clone()),
            formats: node.formats.clone(),
            problem,
        });
    }
    scan
}

/// A format to ask a camera for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChosenFormat {
    /// The four-character code.
    pub fourcc: String,
    /// Width, pixels.
    pub width: u32,
    /// Height, pixels.
    pub height: u32,
    /// Frames per second.
    pub fps: u32,
}

/// Picks the format to ask for: MJPEG 640×480 at 30 fps when offered (cheap to transfer, so
/// USB 2 cameras reach full rate), then YUYV at that size, then whatever decodable format is
/// closest to 640×480 with a frame rate near 30.
#[must_use]
pub fn choose_format(formats: &[FormatRecord]) -> Option<ChosenFormat> {
    let fourcc_rank = |f: &str| DECODABLE_FOURCCS.iter().position(|&d| d == f);
    formats
        .iter()
        .filter_map(|f| {
            let rank = fourcc_rank(&f.fourcc)?;
            let fps = f
                .fps
                .iter()
                .copied()
                .min_by_key(|&r| fps_penalty(r))
                .unwrap_or(PREFERRED_FPS);
            let size_distance =
                f.width.abs_diff(PREFERRED_WIDTH) + f.height.abs_diff(PREFERRED_HEIGHT);
            let key = (size_distance, fps_penalty(fps), rank);
            Some((key, f, fps))
        })
        .min_by_key(|(key, _, _)| *key)
        .map(|(_, f, fps)| ChosenFormat {
            fourcc: f.fourcc.clone(),
            width: f.width,
            height: f.height,
            fps,
        })
}

/// How far a frame rate is from ideal: 0 from 25 to 60 fps, else the distance to 30.
fn fps_penalty(fps: u32) -> u32 {
    if (25..=60).contains(&fps) {
        0
    } else {
        fps.abs_diff(PREFERRED_FPS)
    }
}

/// A remembered camera: its name and the bus it sits on, steadier than an index (which moves
/// across reboots and replugs). Store it in settings; serialises as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CameraChoice {
    /// The camera's name.
    pub name: String,
    /// Where it was attached, when known.
    pub bus: Option<String>,
}

impl CameraChoice {
    /// Remembers `camera`.
    #[must_use]
    pub fn of(camera: &CameraDevice) -> Self {
        Self {
            name: camera.name.clone(),
            bus: camera.bus.clone(),
        }
    }

    /// Finds the remembered camera among `cameras`: the same name on the same bus, else the
    /// same name on another port (it was replugged elsewhere). Usable cameras first.
    #[must_use]
    pub fn find<'a>(&self, cameras: &'a [CameraDevice]) -> Option<&'a CameraDevice> {
        let by_name = || cameras.iter().filter(|c| c.name == self.name);
        by_name()
            .find(|c| c.bus == self.bus && c.usable())
            .or_else(|| by_name().find(|c| c.usable()))
            .or_else(|| by_name().next())
    }
}

#[cfg(test)]
#[path = "devices_tests.rs"]
mod tests;

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
