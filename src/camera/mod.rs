//! Camera capture and replay: where live frames come from.
//!
//! A [`FrameSource`] yields RGB [`Frame`]s stamped with wall-clock Unix milliseconds and a
//! sequence number. Sources are the webcam ([`NokhwaSource`]), replays of an image folder, a
//! single image or an animated GIF/PNG/WebP ([`ReplaySource`]), the built-in demo camera
//! (public-domain photos with a slow pan and zoom) and a synthetic pattern for tests.
//! [`SourceSpec`] names a source the way the command line does (`--camera 0`, `--replay DIR`,
//! `demo`) and opens it.
//!
//! [`CameraThread`] runs a source on a named thread and keeps only the newest frame (a slot of
//! one: a frame nobody took is replaced and counted as dropped), so capture never blocks the UI
//! and frames never pile up behind slow recognition. It retries transient camera errors with
//! backoff, skips corrupt frames, measures fps, and calls a wake-up callback per frame.
//!
//! How the GUI and the headless `live` command use it:
//!
//! - `let (spec, note) = cli::SourceArgs { .. }.spec()?` (or [`SourceSpec::parse_camera`],
//!   [`SourceSpec::camera_or_demo`], `SourceSpec::Camera(DeviceSelector::Choice(saved))`);
//!   `note` is why the demo camera was chosen.
//! - `let camera = CameraThread::spawn(spec.open()?, Box::new(move || ctx.request_repaint()))?`.
//! - GUI, each repaint: `camera.try_take()` (the newest frame not yet taken, or `None`) and
//!   `camera.stats()` ([`CameraStats::summary`] for the status line, `last_error`, `ended`).
//! - Headless: `camera.next(timeout)` → [`NextFrame::Frame`], `TimedOut` or `Ended`.
//! - `camera.stop()` or dropping it ends the thread. [`NokhwaSource::choice`] (or
//!   [`CameraChoice::of`] on a listed camera) is what to save in settings.
//!
//! This layer uses no other rollcall module; only it may use nokhwa (and its V4L2 bindings).

mod clock;
mod demo;
mod devices;
mod error;
mod nokhwa_source;
mod reels;
mod replay;
mod spec;
mod stats;
mod synthetic;
#[cfg(test)]
mod tests;
mod thread;
#[cfg(target_os = "linux")]
mod v4l_probe;
#[cfg(target_os = "linux")]
mod video_group;

use image::RgbImage;

pub use clock::{Clock, ManualClock, SystemClock};
pub use demo::{DEMO_NAME, demo_photos};
pub use devices::DeviceSelector;
pub use devices::{
    CameraChoice, CameraDevice, CameraProblem, ChosenFormat, DECODABLE_FOURCCS, FormatRecord,
    NodeAccess, NodeCaps, NodeRecord, NodeVerdict, Scan, choose_format, classify_node, scan_nodes,
};
pub use error::CameraError;
pub use nokhwa_source::{NokhwaSource, list_cameras};
pub use replay::{DEFAULT_REPLAY_FPS, Pacing, ReplayOptions, ReplaySource};
pub use spec::SourceSpec;
pub use stats::{Backoff, CameraStats, FpsMeter};
pub use synthetic::{SyntheticOptions, synthetic_index};
pub use thread::{CameraThread, NextFrame, STOP_WAIT, Wake};
#[cfg(target_os = "linux")]
pub use v4l_probe::probe_nodes;

/// The frame size rollcall asks cameras for and renders the demo camera at.
pub const PREFERRED_WIDTH: u32 = 640;
/// The frame height rollcall asks cameras for.
pub const PREFERRED_HEIGHT: u32 = 480;
/// The frame rate rollcall asks cameras for.
pub const PREFERRED_FPS: u32 = 30;

/// One captured picture.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    /// The pixels, 8-bit RGB.
    pub image: RgbImage,
    /// When it was captured, wall-clock Unix milliseconds (the frame time of attendance marks).
    pub captured_ms: i64,
    /// Counts up by one per frame a source yields (0 first), so gaps show dropped frames.
    pub seq: u64,
}

/// Something that yields frames: a camera, a replay, the demo camera.
///
/// `next_frame` blocks until the next frame is due (a camera's frame interval, a replay's
/// pace), so call it from a capture thread ([`CameraThread`]), never from the UI thread.
pub trait FrameSource {
    /// A short name for the UI and logs ("Integrated Camera", "replay of photos/").
    fn name(&self) -> String;

    /// The next frame; `Ok(None)` when the source has ended (a replay played once).
    ///
    /// Errors: [`CameraError::is_corrupt_frame`] means one frame was skipped and the next call
    /// goes on; [`CameraError::is_transient`] means try again later (unplugged, busy, stalled);
    /// anything else means the source cannot go on.
    fn next_frame(&mut self) -> Result<Option<Frame>, CameraError>;

    /// Whether the source keeps its own pace (a camera, a paced replay). One that does not (a
    /// replay at `--fps 0`) is read by [`CameraThread`] only once the previous frame was taken,
    /// so a batch run over a folder loses no frame.
    fn paced(&self) -> bool {
        true
    }
}

impl<S: FrameSource + ?Sized> FrameSource for Box<S> {
    fn name(&self) -> String {
        (**self).name()
    }

    fn next_frame(&mut self) -> Result<Option<Frame>, CameraError> {
        (**self).next_frame()
    }

    fn paced(&self) -> bool {
        (**self).paced()
    }
}
