//! Replay sources: a reel of frames (an image folder, one image, an animation, the demo camera,
//! a synthetic pattern) played at a pace on an injected [`Clock`], once or looping.
//!
//! Pacing keeps to a fixed grid (frame k is due at start + k × interval) so it does not drift;
//! when the consumer or the decoder falls a whole interval behind, the grid restarts from now
//! instead of bursting frames to catch up.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::clock::Clock;
use super::error::CameraError;
use super::reels::{AnimationReel, FolderReel, Reel, StillReel};
use super::synthetic::{SyntheticOptions, SyntheticReel};
use super::{Frame, FrameSource, demo};

/// The pace of a replay when none is given.
pub const DEFAULT_REPLAY_FPS: f64 = 10.0;
/// The fastest pace a replay accepts.
pub const MAX_REPLAY_FPS: f64 = 240.0;

/// How fast a replay plays.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pacing {
    /// The file's own frame delays (animated GIF/PNG/WebP), else [`DEFAULT_REPLAY_FPS`].
    Natural,
    /// A fixed rate, frames per second.
    Fps(f64),
    /// As fast as the consumer takes frames, none dropped (batch marking of a folder).
    Unpaced,
}

impl Pacing {
    /// The pacing for a `--fps` value: none = natural, 0 = unpaced, else that rate.
    pub fn from_fps(fps: Option<f64>) -> Result<Self, CameraError> {
        match fps {
            None => Ok(Self::Natural),
            Some(0.0) => Ok(Self::Unpaced),
            Some(f) if f.is_finite() && f > 0.0 && f <= MAX_REPLAY_FPS => Ok(Self::Fps(f)),
            Some(f) => Err(CameraError::Invalid(format!(
                "the replay rate must be between 0 (as fast as possible) and {MAX_REPLAY_FPS} \
                 frames per second, not {f}"
            ))),
        }
    }
}

/// How a replay plays.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReplayOptions {
    /// The pace.
    pub pacing: Pacing,
    /// Start over after the last frame instead of ending.
    pub looping: bool,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        Self {
            pacing: Pacing::Natural,
            looping: false,
        }
    }
}

/// A [`FrameSource`] that plays a reel of frames.
pub struct ReplaySource {
    reel: Box<dyn Reel>,
    clock: Arc<dyn Clock>,
    options: ReplayOptions,
    /// The next frame of the reel to play.
    index: usize,
    /// The sequence number of the next frame yielded.
    seq: u64,
    /// When the next frame is due on the clock's monotonic time; `None` before the first.
    next_due: Option<Duration>,
    /// Whether the current pass has yielded a frame (a pass of only corrupt frames is fatal).
    good_this_pass: bool,
    /// The path or name shown when no frame can be read.
    origin: String,
}

impl ReplaySource {
    pub(crate) fn new(
        reel: Box<dyn Reel>,
        origin: String,
        options: ReplayOptions,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            reel,
            clock,
            options,
            index: 0,
            seq: 0,
            next_due: None,
            good_this_pass: false,
            origin,
        }
    }

    /// Replays what is at `path`: a folder of images (sorted by name, numbers in natural
    /// order), an animated GIF, PNG or WebP, or a single image.
    pub fn open_path(
        path: &Path,
        options: ReplayOptions,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, CameraError> {
        let origin = path.display().to_string();
        if path.is_dir() {
            return Self::folder(path, options, clock);
        }
        if !path.exists() {
            return Err(CameraError::ReplayNotFound { path: origin });
        }
        let reel: Box<dyn Reel> = match AnimationReel::open(path)? {
            Some(animation) => Box::new(animation),
            None => Box::new(StillReel::open(path)?),
        };
        Ok(Self::new(reel, origin, options, clock))
    }

    /// Replays the images of a folder, sorted by name (numbers in natural order: 2 before 10).
    pub fn folder(
        path: &Path,
        options: ReplayOptions,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, CameraError> {
        let reel = FolderReel::open(path)?;
        Ok(Self::new(
            Box::new(reel),
            path.display().to_string(),
            options,
            clock,
        ))
    }

    /// Replays one image: once, or again and again at the pace when looping.
    pub fn image(
        path: &Path,
        options: ReplayOptions,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, CameraError> {
        let reel = StillReel::open(path)?;
        Ok(Self::new(
            Box::new(reel),
            path.display().to_string(),
            options,
            clock,
        ))
    }

    /// The demo camera: rollcall's public-domain demo photos, each shown for a few seconds
    /// with a slow pan and zoom, looping. Needs no files on disk; the photos are decoded on
    /// the first frame (on the capture thread), not here.
    #[must_use]
    pub fn demo(clock: Arc<dyn Clock>) -> Self {
        let options = ReplayOptions {
            pacing: Pacing::Fps(demo::DEMO_FPS),
            looping: true,
        };
        Self::new(
            Box::new(demo::DemoReel::new()),
            demo::DEMO_NAME.to_owned(),
            options,
            clock,
        )
    }

    /// A generated test pattern; frame k shows k in its top-left pixel (see
    /// [`SyntheticOptions`]).
    #[must_use]
    pub fn synthetic(
        synthetic: SyntheticOptions,
        options: ReplayOptions,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self::new(
            Box::new(SyntheticReel::new(synthetic)),
            "synthetic pattern".to_owned(),
            options,
            clock,
        )
    }

    /// How many frames one pass has.
    #[must_use]
    pub fn len(&self) -> usize {
        self.reel.len()
    }

    /// Whether a pass has no frames (never true for an opened replay).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.reel.len() == 0
    }

    fn interval(&self, index: usize) -> Option<Duration> {
        let fps = match self.options.pacing {
            Pacing::Unpaced => return None,
            Pacing::Fps(fps) => fps,
            Pacing::Natural => {
                if let Some(natural) = self.reel.natural_interval(index) {
                    return Some(natural);
                }
                DEFAULT_REPLAY_FPS
            }
        };
        Some(Duration::from_secs_f64(1.0 / fps))
    }

    /// Waits until the frame is due, then returns the monotonic time it is shown at.
    fn wait_until_due(&mut self, index: usize) -> Duration {
        let now = self.clock.monotonic();
        if let Some(due) = self.next_due
            && now < due
        {
            self.clock.sleep(due.saturating_sub(now));
        }
        let shown = self.clock.monotonic();
        if let Some(interval) = self.interval(index) {
            // Keep to the grid unless a whole interval behind; then restart it from now.
            let base = match self.next_due {
                Some(due) if shown.saturating_sub(due) < interval => due,
                _ => shown,
            };
            self.next_due = Some(base + interval);
        }
        shown
    }
}

impl FrameSource for ReplaySource {
    fn name(&self) -> String {
        self.reel.name()
    }

    fn paced(&self) -> bool {
        self.options.pacing != Pacing::Unpaced
    }

    fn next_frame(&mut self) -> Result<Option<Frame>, CameraError> {
        let len = self.reel.len();
        if self.index >= len {
            if !self.good_this_pass {
                return Err(CameraError::NoReadableFrames {
                    path: self.origin.clone(),
                });
            }
            if !self.options.looping {
                return Ok(None);
            }
            self.index = 0;
            self.good_this_pass = false;
        }
        let index = self.index;
        self.index += 1;
        let image = self.reel.frame(index)?;
        self.wait_until_due(index);
        self.good_this_pass = true;
        let frame = Frame {
            image,
            captured_ms: self.clock.wall_ms(),
            seq: self.seq,
        };
        self.seq += 1;
        Ok(Some(frame))
    }
}
