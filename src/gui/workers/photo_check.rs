//! The photo dialog's checking thread: it takes the newest camera frame (older ones are
//! dropped) and says whether it makes a good enrollment photo (one face, size, blur, light,
//! pose).

use std::sync::Arc;
use std::sync::mpsc::{Receiver, sync_channel};

use image::RgbImage;

use super::latest::Latest;
use crate::core::BBox;
use crate::core::quality::{QualityLimits, assess};

/// What the checking thread says about the newest frame.
#[derive(Clone, Debug, PartialEq)]
pub struct FrameCheck {
    /// The main face, if any.
    pub face: Option<BBox>,
    /// Problems, as advice for the teacher (empty = good photo).
    pub advice: Vec<String>,
    /// Whether a problem would make the photo unusable.
    pub blocking: bool,
    /// The frame size the box refers to.
    pub frame_size: (u32, u32),
}

/// The checking thread: it takes the newest frame offered and says what it finds.
pub struct Checker {
    slot: Arc<Latest<RgbImage>>,
    results: Receiver<FrameCheck>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl Checker {
    /// Starts the thread; `wake` repaints the window when a check is ready.
    pub fn start(wake: impl Fn() + Send + 'static) -> anyhow::Result<Self> {
        let slot = Arc::new(Latest::new());
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (tx, rx) = sync_channel(2);
        let (slot2, stop2) = (Arc::clone(&slot), Arc::clone(&stop));
        std::thread::Builder::new()
            .name("photo-check".into())
            .spawn(move || {
                let Ok(pipeline) = crate::vision::FacePipeline::bundled() else {
                    return;
                };
                let limits = QualityLimits::default();
                loop {
                    let Some(image) = slot2.wait_take(&stop2) else {
                        return;
                    };
                    let found = pipeline.analyze_main(&image).ok().flatten();
                    let figures = found.as_ref().map(|(f, _)| f.quality).unwrap_or_default();
                    let issues = assess(&figures, &limits);
                    let check = FrameCheck {
                        face: found.map(|(f, _)| f.bbox),
                        blocking: issues
                            .iter()
                            .any(crate::core::quality::QualityIssue::is_blocking),
                        advice: issues
                            .iter()
                            .map(crate::core::quality::QualityIssue::message)
                            .collect(),
                        frame_size: image.dimensions(),
                    };
                    if tx.try_send(check).is_ok() {
                        wake();
                    }
                }
            })?;
        Ok(Self {
            slot,
            results: rx,
            stop,
        })
    }

    /// Offers the newest frame (replacing one not checked yet).
    pub fn offer(&self, image: RgbImage) {
        self.slot.put(image);
    }

    /// The newest check, if one came since the last call.
    #[must_use]
    pub fn try_result(&self) -> Option<FrameCheck> {
        self.results.try_iter().last()
    }
}

impl Drop for Checker {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        self.slot.wake();
    }
}
