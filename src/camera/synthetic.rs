//! A generated test pattern: frames whose content encodes their number, with chosen frames
//! reported as corrupt, for testing consumers of frames without files or a camera.

use image::{Rgb, RgbImage};

use super::error::CameraError;
use super::reels::Reel;

/// What the synthetic pattern looks like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntheticOptions {
    /// Frame width, pixels (at least 1).
    pub width: u32,
    /// Frame height, pixels (at least 1).
    pub height: u32,
    /// Frames per pass (at least 1).
    pub frames: usize,
    /// Frame numbers (within a pass) that fail as corrupt instead.
    pub corrupt: Vec<usize>,
}

impl Default for SyntheticOptions {
    fn default() -> Self {
        Self {
            width: 64,
            height: 48,
            frames: 100,
            corrupt: Vec::new(),
        }
    }
}

/// Reads the frame number a synthetic frame carries (its top-left pixel: red = low byte,
/// green = high byte).
#[must_use]
pub fn synthetic_index(image: &RgbImage) -> Option<usize> {
    let p = image.get_pixel_checked(0, 0)?;
    Some(usize::from(p[0]) | (usize::from(p[1]) << 8))
}

pub struct SyntheticReel {
    options: SyntheticOptions,
}

impl SyntheticReel {
    pub fn new(mut options: SyntheticOptions) -> Self {
        options.width = options.width.max(1);
        options.height = options.height.max(1);
        options.frames = options.frames.max(1);
        Self { options }
    }
}

impl Reel for SyntheticReel {
    fn len(&self) -> usize {
        self.options.frames
    }

    fn frame(&mut self, index: usize) -> Result<RgbImage, CameraError> {
        if self.options.corrupt.contains(&index) {
            return Err(CameraError::CorruptFrame {
                what: format!("synthetic frame {index}"),
                message: "marked corrupt by the test pattern".to_owned(),
            });
        }
        let (w, h) = (self.options.width, self.options.height);
        // A bright square that moves one pixel per frame over a grey gradient.
        let side = (w.min(h) / 4).max(1);
        let x0 = (index as u32) % w;
        let y0 = (index as u32 / 2) % h;
        let mut image = RgbImage::from_fn(w, h, |x, y| {
            let in_square = x.wrapping_sub(x0) < side && y.wrapping_sub(y0) < side;
            if in_square {
                Rgb([250, 250, 250])
            } else {
                let v = ((x + y) * 255 / (w + h)) as u8;
                Rgb([v, v, 96])
            }
        });
        image.put_pixel(
            0,
            0,
            Rgb([(index & 0xff) as u8, ((index >> 8) & 0xff) as u8, 0]),
        );
        Ok(image)
    }

    fn name(&self) -> String {
        "synthetic pattern".to_owned()
    }
}
