//! The demo camera: the public-domain photos of `assets/demo/` (compiled in, so it works from
//! any folder), each letterboxed into 640×480 and shown for a few seconds with a slow pan and
//! zoom so consecutive frames differ slightly, like video. The photos are decoded and scaled
//! once, on the first frame; each frame is then one crop and one small resize.

use image::imageops::{self, FilterType};
use image::{Rgb, RgbImage};

use super::error::CameraError;
use super::reels::Reel;
use super::reels::decode_bytes;
use super::{PREFERRED_HEIGHT, PREFERRED_WIDTH};

/// The name the demo camera goes by in the UI and on the command line.
pub const DEMO_NAME: &str = "Demo camera";
/// The demo camera's pace, frames per second.
pub const DEMO_FPS: f64 = 12.0;
/// How many frames each photo stays (3 s at [`DEMO_FPS`]).
pub const FRAMES_PER_PHOTO: usize = 36;
/// How far the zoom goes in over one photo (10 %).
const ZOOM: f64 = 0.10;
/// How far the view pans sideways over one photo, pixels of the output.
const PAN_PX: f64 = 24.0;
/// The letterbox colour.
const BACKGROUND: Rgb<u8> = Rgb([40, 40, 44]);

/// The photos, in the order shown (see `assets/demo/README.md` for their provenance).
const PHOTOS: [(&str, &[u8]); 4] = [
    ("obama.jpg", include_bytes!("../../assets/demo/obama.jpg")),
    ("biden.jpg", include_bytes!("../../assets/demo/biden.jpg")),
    ("obama2.jpg", include_bytes!("../../assets/demo/obama2.jpg")),
    ("obama3.jpg", include_bytes!("../../assets/demo/obama3.jpg")),
];

/// The demo photos, decoded, with their file names (for benchmarks that build clips from them).
pub fn demo_photos() -> Result<Vec<(&'static str, RgbImage)>, CameraError> {
    PHOTOS
        .iter()
        .map(|&(name, bytes)| {
            decode_bytes(bytes)
                .map(|photo| (name, photo))
                .map_err(|message| CameraError::Replay {
                    path: format!("the built-in demo photo {name}"),
                    message,
                })
        })
        .collect()
}

pub struct DemoReel {
    /// Each photo letterboxed onto a canvas (1 + [`ZOOM`]) times the output size; made on the
    /// first frame.
    canvases: Option<Vec<RgbImage>>,
}

impl DemoReel {
    pub fn new() -> Self {
        Self { canvases: None }
    }

    fn canvases(&mut self) -> Result<&[RgbImage], CameraError> {
        if self.canvases.is_none() {
            let started = std::time::Instant::now();
            let canvases = PHOTOS
                .iter()
                .map(|(name, bytes)| {
                    let photo = decode_bytes(bytes).map_err(|message| CameraError::Replay {
                        path: format!("the built-in demo photo {name}"),
                        message,
                    })?;
                    Ok(letterbox(&photo, canvas_size()))
                })
                .collect::<Result<Vec<_>, CameraError>>()?;
            log::debug!(
                "demo camera: {} photos prepared in {} ms",
                canvases.len(),
                started.elapsed().as_millis()
            );
            self.canvases = Some(canvases);
        }
        Ok(self.canvases.as_deref().unwrap_or_default())
    }
}

fn canvas_size() -> (u32, u32) {
    let scale = 1.0 + ZOOM;
    (
        (f64::from(PREFERRED_WIDTH) * scale).round() as u32,
        (f64::from(PREFERRED_HEIGHT) * scale).round() as u32,
    )
}

/// `photo` scaled to fit inside `(width, height)`, centred on the background colour.
fn letterbox(photo: &RgbImage, (width, height): (u32, u32)) -> RgbImage {
    let scale = (f64::from(width) / f64::from(photo.width()))
        .min(f64::from(height) / f64::from(photo.height()));
    let w = ((f64::from(photo.width()) * scale).round() as u32).clamp(1, width);
    let h = ((f64::from(photo.height()) * scale).round() as u32).clamp(1, height);
    let scaled = imageops::resize(photo, w, h, FilterType::Triangle);
    let mut canvas = RgbImage::from_pixel(width, height, BACKGROUND);
    imageops::overlay(
        &mut canvas,
        &scaled,
        i64::from((width - w) / 2),
        i64::from((height - h) / 2),
    );
    canvas
}

/// The view of frame `step` of `steps` of a photo: a crop of `canvas` that starts as the whole
/// canvas and ends [`ZOOM`] closer, drifting sideways (`direction` ±1), scaled to the output.
fn view(canvas: &RgbImage, step: usize, steps: usize, direction: f64) -> RgbImage {
    let t = step as f64 / (steps.max(2) - 1) as f64;
    let (cw, ch) = (f64::from(canvas.width()), f64::from(canvas.height()));
    let zoom = 1.0 + ZOOM * t;
    let (w, h) = (cw / zoom, ch / zoom);
    let cx = cw / 2.0 + direction * PAN_PX * (t - 0.5);
    let x = (cx - w / 2.0).clamp(0.0, cw - w);
    let y = (ch - h) / 2.0;
    let crop = imageops::crop_imm(canvas, x as u32, y as u32, w as u32, h as u32).to_image();
    imageops::resize(
        &crop,
        PREFERRED_WIDTH,
        PREFERRED_HEIGHT,
        FilterType::Triangle,
    )
}

impl Reel for DemoReel {
    fn len(&self) -> usize {
        PHOTOS.len() * FRAMES_PER_PHOTO
    }

    fn frame(&mut self, index: usize) -> Result<RgbImage, CameraError> {
        let photo = index / FRAMES_PER_PHOTO;
        let step = index % FRAMES_PER_PHOTO;
        let direction = if photo.is_multiple_of(2) { 1.0 } else { -1.0 };
        let canvases = self.canvases()?;
        let canvas = canvases
            .get(photo)
            .ok_or_else(|| CameraError::CorruptFrame {
                what: format!("demo frame {index}"),
                message: "no such demo photo".to_owned(),
            })?;
        Ok(view(canvas, step, FRAMES_PER_PHOTO, direction))
    }

    fn name(&self) -> String {
        DEMO_NAME.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mean_abs_diff(a: &RgbImage, b: &RgbImage) -> f64 {
        let sum: u64 = a
            .as_raw()
            .iter()
            .zip(b.as_raw())
            .map(|(x, y)| u64::from(x.abs_diff(*y)))
            .sum();
        sum as f64 / a.as_raw().len() as f64
    }

    #[test]
    fn demo_frames_are_640x480_and_move_a_little() {
        let mut reel = DemoReel::new();
        assert_eq!(reel.len(), 4 * FRAMES_PER_PHOTO);
        let a = reel.frame(0).unwrap();
        let b = reel.frame(1).unwrap();
        let last = reel.frame(FRAMES_PER_PHOTO - 1).unwrap();
        let next_photo = reel.frame(FRAMES_PER_PHOTO).unwrap();
        assert_eq!(a.dimensions(), (PREFERRED_WIDTH, PREFERRED_HEIGHT));
        // Neighbouring frames differ slightly (a pan/zoom step); a new photo differs a lot.
        let step = mean_abs_diff(&a, &b);
        let far = mean_abs_diff(&a, &last);
        let cut = mean_abs_diff(&last, &next_photo);
        assert!(step > 0.0 && step < far, "step {step}, far {far}");
        assert!(cut > step * 4.0, "cut {cut}, step {step}");
    }

    #[test]
    fn letterbox_keeps_the_aspect_ratio() {
        let tall = RgbImage::from_pixel(100, 200, Rgb([255, 0, 0]));
        let boxed = letterbox(&tall, (640, 480));
        assert_eq!(boxed.dimensions(), (640, 480));
        // 100×200 scaled to 240×480, centred: columns 200..440 are photo, the rest background.
        assert_eq!(*boxed.get_pixel(320, 240), Rgb([255, 0, 0]));
        assert_eq!(*boxed.get_pixel(100, 240), BACKGROUND);
        assert_eq!(*boxed.get_pixel(540, 240), BACKGROUND);
    }
}
