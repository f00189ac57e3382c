//! MTCNN face detection (Zhang et al. 2016): a proposal net (P-Net) slides over an image
//! pyramid, a refinement net (R-Net) re-scores 24 x 24 crops, and an output net (O-Net) gives
//! the final score, box and five landmarks from 48 x 48 crops. This follows facenet-pytorch
//! 2.6.0's `detect_face` step for step (pyramid, thresholds, the three NMS passes, `bbreg`,
//! `rerec`, `pad`, area resampling, pixel normalisation) with the weights it ships, converted
//! by `tools/convert_mtcnn.py` and embedded in the binary.
//!
//! The one departure: a box whose crop lies wholly outside the image is dropped, where
//! facenet-pytorch would misalign its batch (or fail).

mod bench;
mod boxes;
mod conv;
mod nets;
mod resample;
#[cfg(test)]
mod tests;

use std::time::Instant;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use image::RgbImage;

use crate::core::{BBox, Point};
use crate::vision::VisionError;

pub use bench::{BenchReport, DetectStats, bench_detect, webcam_frame};
use boxes::{Candidate, Overlap};
use nets::{ONet, PNet, RNet};
use resample::AreaSampler;

/// P-Net weights (facenet-pytorch `data/pnet.pt`, converted).
static PNET_WEIGHTS: &[u8] = include_bytes!("../../../assets/models/mtcnn/pnet.safetensors");
/// R-Net weights (facenet-pytorch `data/rnet.pt`, converted).
static RNET_WEIGHTS: &[u8] = include_bytes!("../../../assets/models/mtcnn/rnet.safetensors");
/// O-Net weights (facenet-pytorch `data/onet.pt`, converted).
static ONET_WEIGHTS: &[u8] = include_bytes!("../../../assets/models/mtcnn/onet.safetensors");

/// The most crops R-Net or O-Net takes in one batch (facenet-pytorch's `fixed_batch_process`).
const MAX_BATCH: usize = 512;

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

    /// Finds the faces in `image`, highest score first. An image too small to hold a face of
    /// `min_face_px` gives no faces; one over `max_pixels` gives an error.
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
        let pixels = u64::from(width) * u64::from(height);
        if pixels > self.config.max_pixels {
            return Err(VisionError::BadInput(format!(
                "the image is {width}x{height}; face detection takes at most {} pixels, \
                 scale it down first",
                self.config.max_pixels
            )));
        }
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

    /// Stage 1: P-Net over the pyramid, NMS per level and over all levels, P-Net's regression
    /// and squaring.
    fn propose(
        &self,
        sampler: &AreaSampler,
        scales: &[f64],
        stats: &mut DetectStats,
    ) -> Result<Vec<Candidate>, VisionError> {
        let (width, height) = (sampler.full().x1, sampler.full().y1);
        let mut all = Vec::new();
        let mut data = Vec::new();
        for &scale in scales {
            let hs = (height as f64 * scale + 1.0) as usize;
            let ws = (width as f64 * scale + 1.0) as usize;
            data.clear();
            sampler.resize_into(sampler.full(), hs, ws, &mut data);
            let x = Tensor::from_slice(&data, (1, 3, hs, ws), &self.device)?;
            let (reg, prob) = self.pnet.forward(&x)?;
            let (_, _, oh, ow) = prob.dims4()?;
            let face: Vec<f32> = prob.narrow(1, 1, 1)?.flatten_all()?.to_vec1()?;
            let reg: Vec<f32> = reg.flatten_all()?.to_vec1()?;
            let found = boxes::pnet_candidates(
                &face,
                &reg,
                (oh, ow),
                scale as f32,
                self.config.thresholds[0],
            );
            let keep = boxes::nms(&found, self.config.nms_iou_per_scale, Overlap::Union);
            all.extend(boxes::pick(&found, &keep));
            stats.pnet_macs += nets::pnet_macs(hs, ws);
        }
        stats.scales = scales.len();
        let keep = boxes::nms(&all, self.config.nms_iou_pyramid, Overlap::Union);
        let mut out = boxes::pick(&all, &keep);
        for c in &mut out {
            boxes::apply_pnet_reg(c);
            boxes::rerec(c);
        }
        stats.pnet_boxes = out.len();
        Ok(out)
    }

    /// The crops of `boxes` resized to `side` x `side`, in batches of at most [`MAX_BATCH`];
    /// boxes wholly outside the image are dropped.
    fn crops(
        sampler: &AreaSampler,
        boxes: Vec<Candidate>,
        side: usize,
    ) -> (Vec<Candidate>, Vec<f32>) {
        let full = sampler.full();
        let mut kept = Vec::with_capacity(boxes.len());
        let mut data = Vec::with_capacity(boxes.len() * 3 * side * side);
        for c in boxes {
            if let Some(window) = boxes::crop_window(&c, full.x1, full.y1) {
                sampler.resize_into(window, side, side, &mut data);
                kept.push(c);
            } else {
                log::debug!("MTCNN: dropped a box outside the image: {c:?}");
            }
        }
        (kept, data)
    }

    /// Stage 2: R-Net on 24 x 24 crops, threshold, NMS, regression and squaring.
    fn refine(
        &self,
        sampler: &AreaSampler,
        boxes: Vec<Candidate>,
        stats: &mut DetectStats,
    ) -> Result<Vec<Candidate>, VisionError> {
        const SIDE: usize = 24;
        let (boxes, data) = Self::crops(sampler, boxes, SIDE);
        stats.rnet_crops = boxes.len();
        let mut passed = Vec::new();
        for (chunk, pixels) in boxes
            .chunks(MAX_BATCH)
            .zip(data.chunks(MAX_BATCH * 3 * SIDE * SIDE))
        {
            let x = Tensor::from_slice(pixels, (chunk.len(), 3, SIDE, SIDE), &self.device)?;
            let (reg, prob) = self.rnet.forward(&x)?;
            let reg: Vec<Vec<f32>> = reg.to_vec2()?;
            let prob: Vec<Vec<f32>> = prob.to_vec2()?;
            for ((c, r), p) in chunk.iter().zip(reg).zip(prob) {
                if p[1] > self.config.thresholds[1] {
                    let mut c = *c;
                    c.score = p[1];
                    c.reg = [r[0], r[1], r[2], r[3]];
                    passed.push(c);
                }
            }
        }
        let keep = boxes::nms(&passed, self.config.nms_iou_refine, Overlap::Union);
        let mut out = boxes::pick(&passed, &keep);
        for c in &mut out {
            boxes::bbreg(c, c.reg);
            boxes::rerec(c);
        }
        Ok(out)
    }

    /// Stage 3: O-Net on 48 x 48 crops, threshold, landmarks, regression and the final
    /// "Min" NMS.
    fn output(
        &self,
        sampler: &AreaSampler,
        boxes: Vec<Candidate>,
        stats: &mut DetectStats,
    ) -> Result<Vec<FaceDetection>, VisionError> {
        const SIDE: usize = 48;
        let (boxes, data) = Self::crops(sampler, boxes, SIDE);
        stats.onet_crops = boxes.len();
        let mut passed = Vec::new();
        let mut marks = Vec::new();
        for (chunk, pixels) in boxes
            .chunks(MAX_BATCH)
            .zip(data.chunks(MAX_BATCH * 3 * SIDE * SIDE))
        {
            let x = Tensor::from_slice(pixels, (chunk.len(), 3, SIDE, SIDE), &self.device)?;
            let (reg, landmarks, prob) = self.onet.forward(&x)?;
            let reg: Vec<Vec<f32>> = reg.to_vec2()?;
            let landmarks: Vec<Vec<f32>> = landmarks.to_vec2()?;
            let prob: Vec<Vec<f32>> = prob.to_vec2()?;
            for (((c, r), l), p) in chunk.iter().zip(reg).zip(landmarks).zip(prob) {
                if p[1] <= self.config.thresholds[2] {
                    continue;
                }
                let mut c = *c;
                c.score = p[1];
                // Landmarks are fractions of the box before O-Net's regression.
                let w = c.x2 - c.x1 + 1.0;
                let h = c.y2 - c.y1 + 1.0;
                marks.push(std::array::from_fn(|j| {
                    Point::new(w * l[j] + c.x1 - 1.0, h * l[j + 5] + c.y1 - 1.0)
                }));
                boxes::bbreg(&mut c, [r[0], r[1], r[2], r[3]]);
                passed.push(c);
            }
        }
        let keep = boxes::nms(&passed, self.config.nms_min_overlap_output, Overlap::Min);
        Ok(keep
            .into_iter()
            .map(|i| {
                let c = passed[i];
                FaceDetection {
                    bbox: BBox::from_corners(c.x1, c.y1, c.x2, c.y2),
                    score: c.score,
                    landmarks: marks[i],
                }
            })
            .collect())
    }
}
