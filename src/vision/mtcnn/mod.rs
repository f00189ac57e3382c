//! MTCNN face detection (Zhang et al. 2016): a proposal net (P-Net) slides over an image
//! pyramid, a refinement net (R-Net) re-scores 24 x 24 crops, and an output net (O-Net) gives
//! the final score, box and five landmarks from 48 x 48 crops. This follows facenet-pytorch
//! 2.6.0's `detect_face` step for step (pyramid, thresholds, the three NMS passes, `bbreg`,
//! `rerec`, `pad`, area resampling, pixel normalisation) with the weights it ships, converted
//! by `tools/convert_mtcnn.py` and embedded in the binary.
//!
//! Departures, all where facenet-pytorch would fail: an image too small for one pyramid level
//! gives no faces (facenet-pytorch raises), a box whose crop lies wholly outside the image is
//! dropped (facenet-pytorch would misalign its batch), and the settings refuse a minimum face
//! under 12 px and images over `max_pixels`.

mod bench;
mod boxes;
mod conv;
mod nets;
mod pool;
mod resample;
mod stages;
#[cfg(test)]
mod tests;

use std::time::Instant;

use candle_core::{DType, Device};
use candle_nn::VarBuilder;
use image::RgbImage;

use crate::core::{BBox, Point};
use crate::vision::VisionError;

pub use bench::{BenchReport, DetectStats, bench_detect, webcam_frame};
use nets::{ONet, PNet, RNet};
use resample::AreaSampler;

/// P-Net weights (facenet-pytorch `data/pnet.pt`, converted).
static PNET_WEIGHTS: &[u8] = include_bytes!("../../../assets/models/mtcnn/pnet.safetensors");
/// R-Net weights (facenet-pytorch `data/rnet.pt`, converted).
static RNET_WEIGHTS: &[u8] = include_bytes!("../../../assets/models/mtcnn/rnet.safetensors");
/// O-Net weights (facenet-pytorch `data/onet.pt`, converted).
static ONET_WEIGHTS: &[u8] = include_bytes!("../../../assets/models/mtcnn/onet.safetensors");

/// One detected face, in the pixels of the image given to [`Mtcnn::detect`].
#[derive(Clone, Debug, PartialEq)]
pub struct FaceDetection {
    /// The face box (after O-Net's regression; it may reach past the image edges).
    pub bbox: BBox,
    /// O-Net's face probability, in `[0, 1]`.
    pub score: f32,
    /// Eye on the image's left, eye on the image's right, nose tip, mouth corner on the image's
    /// left, mouth corner on the image's right.
    pub landmarks: [Point; 5],
}

/// Settings of the detector; the defaults are facenet-pytorch's.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct DetectorConfig {
    /// The smallest face searched for, in pixels (at least 12, P-Net's window).
    pub min_face_px: u32,
    /// Score thresholds of P-Net (inclusive), R-Net and O-Net (exclusive).
    pub thresholds: [f32; 3],
    /// Ratio between the sides of successive pyramid levels, in `(0, 1)`.
    pub scale_factor: f64,
    /// NMS `IoU` above which P-Net boxes of one pyramid level are merged.
    pub nms_iou_per_scale: f32,
    /// NMS `IoU` above which P-Net boxes of all levels together are merged.
    pub nms_iou_pyramid: f32,
    /// NMS `IoU` above which R-Net boxes are merged.
    pub nms_iou_refine: f32,
    /// NMS overlap (intersection over the smaller box) above which O-Net boxes are merged.
    pub nms_min_overlap_output: f32,
    /// The largest image accepted, in pixels (width x height); larger ones are refused with an
    /// error so a huge photo cannot exhaust memory (scale it down first).
    pub max_pixels: u64,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        Self {
            min_face_px: 20,
            thresholds: [0.6, 0.7, 0.7],
            scale_factor: 0.709,
            nms_iou_per_scale: 0.5,
            nms_iou_pyramid: 0.7,
            nms_iou_refine: 0.7,
            nms_min_overlap_output: 0.7,
            max_pixels: 4096 * 4096,
        }
    }
}

impl DetectorConfig {
    /// Checks every setting is in range.
    pub fn validate(&self) -> Result<(), VisionError> {
        let bad = |what: String| Err(VisionError::BadInput(format!("detector settings: {what}")));
        let unit = |v: f32| (0.0..=1.0).contains(&v);
        if self.min_face_px < 12 {
            return bad(format!(
                "min_face_px is {}, the least is 12",
                self.min_face_px
            ));
        }
        if !(self.scale_factor > 0.0 && self.scale_factor < 1.0) {
            return bad(format!(
                "scale_factor {} is not in (0, 1)",
                self.scale_factor
            ));
        }
        if !self.thresholds.iter().all(|&t| unit(t)) {
            return bad(format!(
                "thresholds {:?} are not in [0, 1]",
                self.thresholds
            ));
        }
        let nms = [
            self.nms_iou_per_scale,
            self.nms_iou_pyramid,
            self.nms_iou_refine,
            self.nms_min_overlap_output,
        ];
        if !nms.iter().all(|&t| unit(t)) {
            return bad(format!("NMS thresholds {nms:?} are not in [0, 1]"));
        }
        if self.max_pixels == 0 {
            return bad("max_pixels is 0".to_owned());
        }
        Ok(())
    }

    /// The pyramid scales for a `width` x `height` image (facenet-pytorch's loop, in `f64`).
    fn scales(&self, width: u32, height: u32) -> Vec<f64> {
        let m = 12.0 / f64::from(self.min_face_px);
        let mut min_side = f64::from(width.min(height)) * m;
        let mut scale = m;
        let mut scales = Vec::new();
        while min_side >= 12.0 {
            scales.push(scale);
            scale *= self.scale_factor;
            min_side *= self.scale_factor;
        }
        scales
    }
}

/// The MTCNN face detector with its bundled weights.
pub struct Mtcnn {
    config: DetectorConfig,
    device: Device,
    pnet: PNet,
    rnet: RNet,
    onet: ONet,
}

fn load<T>(
    name: &str,
    bytes: &'static [u8],
    device: &Device,
    build: impl FnOnce(&VarBuilder) -> candle_core::Result<T>,
) -> Result<T, VisionError> {
    let bad = |e: candle_core::Error| VisionError::BadModel {
        model: format!("MTCNN {name} (bundled)"),
        reason: e.to_string(),
    };
    let vb = VarBuilder::from_slice_safetensors(bytes, DType::F32, device).map_err(bad)?;
    build(&vb).map_err(bad)
}

impl Mtcnn {
    /// Loads the bundled weights onto `device` after checking `config`.
    pub fn new(config: DetectorConfig, device: &Device) -> Result<Self, VisionError> {
        config.validate()?;
        Ok(Self {
            pnet: load("P-Net", PNET_WEIGHTS, device, PNet::new)?,
            rnet: load("R-Net", RNET_WEIGHTS, device, RNet::new)?,
            onet: load("O-Net", ONET_WEIGHTS, device, ONet::new)?,
            config,
            device: device.clone(),
        })
    }

    /// The settings in use.
    #[must_use]
    pub fn config(&self) -> &DetectorConfig {
        &self.config
    }

    /// Refuses an image over `max_pixels`, so a huge photo cannot exhaust memory.
    fn check_size(&self, width: u32, height: u32) -> Result<(), VisionError> {
        if u64::from(width) * u64::from(height) > self.config.max_pixels {
            return Err(VisionError::BadInput(format!(
                "the image is {width}x{height}; face detection takes at most {} pixels, \
                 scale it down first",
                self.config.max_pixels
            )));
        }
        Ok(())
    }

    /// Finds the faces in `image`, highest score first. An image too small to hold a face of
    /// `min_face_px` gives no faces; one over `max_pixels` gives an error. The work is shared
    /// between this thread and one scoped helper thread (plus candle's matrix-product pool).
    pub fn detect(&self, image: &RgbImage) -> Result<Vec<FaceDetection>, VisionError> {
        Ok(self.detect_with_stats(image)?.0)
    }

    /// [`Mtcnn::detect`], also returning how much work and time each stage took.
    pub fn detect_with_stats(
        &self,
        image: &RgbImage,
    ) -> Result<(Vec<FaceDetection>, DetectStats), VisionError> {
        let started = Instant::now();
        let mut stats = DetectStats::default();
        let (width, height) = image.dimensions();
        self.check_size(width, height)?;
        let scales = self.config.scales(width, height);
        if scales.is_empty() {
            return Ok((Vec::new(), stats));
        }
        let sampler = AreaSampler::new(image);
        let boxes = self.propose(&sampler, &scales, &mut stats)?;
        stats.pnet_time = started.elapsed();
        let boxes = self.refine(&sampler, boxes, &mut stats)?;
        stats.rnet_time = started.elapsed().saturating_sub(stats.pnet_time);
        let faces = self.output(&sampler, boxes, &mut stats)?;
        stats.faces = faces.len();
        stats.total_time = started.elapsed();
        stats.onet_time = stats
            .total_time
            .saturating_sub(stats.pnet_time + stats.rnet_time);
        log::debug!("MTCNN on {width}x{height}: {stats:?}");
        Ok((faces, stats))
    }

    /// Finds again, in a new frame, the faces that were at `previous` in an earlier one, without
    /// the proposal stage: each box (squared, and once more enlarged by a quarter, in case the
    /// face moved or came closer) goes through R-Net and O-Net as a P-Net proposal would, with
    /// the same thresholds and NMS passes. A face that moved by a fraction of its size is found
    /// again; one that left the frame, or was turned away, is not. It costs a few crops per
    /// face instead of the image pyramid, and cannot find a face that is not near a previous
    /// box (run [`Mtcnn::detect`] for those).
    pub fn follow(
        &self,
        image: &RgbImage,
        previous: &[BBox],
    ) -> Result<Vec<FaceDetection>, VisionError> {
        let (width, height) = image.dimensions();
        self.check_size(width, height)?;
        let min_side = self.config.min_face_px as f32;
        let mut seeds = Vec::with_capacity(previous.len() * 2);
        for b in previous {
            if !(b.width.is_finite() && b.height.is_finite() && b.x.is_finite() && b.y.is_finite())
            {
                continue;
            }
            for grow in [1.0_f32, 1.25] {
                let (cx, cy) = (b.x + b.width * 0.5, b.y + b.height * 0.5);
                let side = (b.width.max(b.height) * grow).max(min_side);
                let mut c = boxes::Candidate::new(
                    cx - side * 0.5,
                    cy - side * 0.5,
                    cx + side * 0.5,
                    cy + side * 0.5,
                    1.0,
                );
                boxes::rerec(&mut c);
                seeds.push(c);
            }
        }
        if seeds.is_empty() {
            return Ok(Vec::new());
        }
        let started = Instant::now();
        let mut stats = DetectStats::default();
        let sampler = AreaSampler::new(image);
        let refined = self.refine(&sampler, seeds, &mut stats)?;
        let faces = self.output(&sampler, refined, &mut stats)?;
        log::trace!(
            "MTCNN follow of {} boxes on {width}x{height}: {} faces in {:?}",
            previous.len(),
            faces.len(),
            started.elapsed()
        );
        Ok(faces)
    }
}
