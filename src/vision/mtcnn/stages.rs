//! The three stages of `detect_face` (proposal, refinement, output) for [`Mtcnn`], each
//! spread over two threads: the pyramid levels of stage 1 are split between them, and the
//! crops of stages 2 and 3 are cut in two halves. Results are merged in the sequential order,
//! so the output does not depend on the split.

use candle_core::Tensor;

use super::boxes::{self, Candidate, Overlap};
use super::resample::AreaSampler;
use super::{DetectStats, FaceDetection, Mtcnn, nets};
use crate::core::{BBox, Point};
use crate::vision::VisionError;

/// The most crops R-Net or O-Net takes in one batch (facenet-pytorch's `fixed_batch_process`).
const MAX_BATCH: usize = 512;

/// Below this many crops, stages 2 and 3 run on one thread.
const MIN_CROPS_TO_SPLIT: usize = 4;

/// One crop's outputs: face probability, box offsets `[1..5]`, landmarks `[5..15]` (O-Net).
type CropOutput = [f32; 15];

/// Runs `a` on a named helper thread and `b` on this one, and returns both results.
fn join<A: Send, B>(
    a: impl FnOnce() -> A + Send,
    b: impl FnOnce() -> B,
) -> Result<(A, B), VisionError> {
    std::thread::scope(|scope| {
        let handle = std::thread::Builder::new()
            .name("mtcnn-helper".to_owned())
            .spawn_scoped(scope, a)
            .map_err(|source| VisionError::Io {
                context: "starting a face detection thread".to_owned(),
                source,
            })?;
        let b = b();
        let a = handle
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        Ok((a, b))
    })
}

/// Candidates of one pyramid level after its NMS, with the level's index and P-Net work.
struct Level {
    index: usize,
    found: Vec<Candidate>,
    macs: u64,
}

impl Mtcnn {
    /// P-Net on the given pyramid levels (index, scale), each followed by its own NMS.
    fn run_levels(
        &self,
        sampler: &AreaSampler,
        levels: &[(usize, f64)],
    ) -> Result<Vec<Level>, VisionError> {
        let full = sampler.full();
        let mut out = Vec::with_capacity(levels.len());
        for &(index, scale) in levels {
            let hs = (full.y1 as f64 * scale + 1.0) as usize;
            let ws = (full.x1 as f64 * scale + 1.0) as usize;
            let mut data = Vec::with_capacity(3 * hs * ws);
            sampler.resize_into(full, hs, ws, &mut data);
            let x = Tensor::from_vec(data, (1, 3, hs, ws), &self.device)?;
            let (reg, prob) = self.pnet.forward(&x)?;
            let (_, _, oh, ow) = prob.dims4()?;
            let face: Vec<f32> = prob.narrow(1, 1, 1)?.flatten_all()?.to_vec1()?;
            let reg: Vec<f32> = reg.flatten_all()?.to_vec1()?;
            let threshold = self.config.thresholds[0];
            let found = boxes::pnet_candidates(&face, &reg, (oh, ow), scale as f32, threshold);
            let keep = boxes::nms(&found, self.config.nms_iou_per_scale, Overlap::Union);
            out.push(Level {
                index,
                found: boxes::pick(&found, &keep),
                macs: nets::pnet_macs(hs, ws),
            });
        }
        Ok(out)
    }

    /// Stage 1: P-Net over the pyramid, NMS per level and over all levels, P-Net's regression
    /// and squaring. The levels are dealt largest first to whichever thread has less work.
    pub(super) fn propose(
        &self,
        sampler: &AreaSampler,
        scales: &[f64],
        stats: &mut DetectStats,
    ) -> Result<Vec<Candidate>, VisionError> {
        let (mut mine, mut theirs) = (Vec::new(), Vec::new());
        let (mut my_work, mut their_work) = (0.0, 0.0);
        for (index, &scale) in scales.iter().enumerate() {
            let work = scale * scale;
            if my_work <= their_work {
                mine.push((index, scale));
                my_work += work;
            } else {
                theirs.push((index, scale));
                their_work += work;
            }
        }
        let (a, b) = join(
            || self.run_levels(sampler, &theirs),
            || self.run_levels(sampler, &mine),
        )?;
        let mut levels = a?;
        levels.extend(b?);
        levels.sort_by_key(|level| level.index);
        stats.scales = levels.len();
        stats.pnet_macs = levels.iter().map(|level| level.macs).sum();
        let all: Vec<Candidate> = levels.into_iter().flat_map(|level| level.found).collect();
        let keep = boxes::nms(&all, self.config.nms_iou_pyramid, Overlap::Union);
        let mut out = boxes::pick(&all, &keep);
        for c in &mut out {
            boxes::apply_pnet_reg(c);
            boxes::rerec(c);
        }
        stats.pnet_boxes = out.len();
        Ok(out)
    }

    /// The crops of `boxes` resized to `side` x `side` and the outputs of `forward` on them
    /// (in batches of at most [`MAX_BATCH`], two halves on two threads). Boxes wholly outside
    /// the image are dropped.
    fn score_crops(
        &self,
        sampler: &AreaSampler,
        boxes: Vec<Candidate>,
        side: usize,
        forward: &(dyn Fn(&Tensor) -> candle_core::Result<Vec<CropOutput>> + Sync),
    ) -> Result<(Vec<Candidate>, Vec<CropOutput>), VisionError> {
        let full = sampler.full();
        let per_crop = 3 * side * side;
        let mut kept = Vec::with_capacity(boxes.len());
        let mut data = Vec::with_capacity(boxes.len() * per_crop);
        for c in boxes {
            if let Some(window) = boxes::crop_window(&c, full.x1, full.y1) {
                sampler.resize_into(window, side, side, &mut data);
                kept.push(c);
            } else {
                log::debug!("MTCNN: dropped a box outside the image: {c:?}");
            }
        }
        let run = |from: usize, to: usize| -> Result<Vec<CropOutput>, VisionError> {
            let mut rows = Vec::with_capacity(to - from);
            for start in (from..to).step_by(MAX_BATCH) {
                let end = (start + MAX_BATCH).min(to);
                let pixels = &data[start * per_crop..end * per_crop];
                let x = Tensor::from_slice(pixels, (end - start, 3, side, side), &self.device)?;
                rows.extend(forward(&x)?);
            }
            Ok(rows)
        };
        let n = kept.len();
        let rows = if n >= MIN_CROPS_TO_SPLIT {
            let (a, b) = join(|| run(n / 2, n), || run(0, n / 2))?;
            let mut rows = b?;
            rows.extend(a?);
            rows
        } else {
            run(0, n)?
        };
        Ok((kept, rows))
    }

    /// Stage 2: R-Net on 24 x 24 crops, threshold, NMS, regression and squaring.
    pub(super) fn refine(
        &self,
        sampler: &AreaSampler,
        boxes: Vec<Candidate>,
        stats: &mut DetectStats,
    ) -> Result<Vec<Candidate>, VisionError> {
        let forward = |x: &Tensor| -> candle_core::Result<Vec<CropOutput>> {
            let (reg, prob) = self.rnet.forward(x)?;
            let (reg, prob): (Vec<Vec<f32>>, Vec<Vec<f32>>) = (reg.to_vec2()?, prob.to_vec2()?);
            Ok(reg
                .iter()
                .zip(&prob)
                .map(|(r, p)| {
                    let mut row = [0.0; 15];
                    row[0] = p[1];
                    row[1..5].copy_from_slice(r);
                    row
                })
                .collect())
        };
        let (boxes, rows) = self.score_crops(sampler, boxes, 24, &forward)?;
        stats.rnet_crops = boxes.len();
        let mut passed = Vec::new();
        for (c, row) in boxes.iter().zip(&rows) {
            if row[0] > self.config.thresholds[1] {
                let mut c = *c;
                c.score = row[0];
                c.reg = [row[1], row[2], row[3], row[4]];
                passed.push(c);
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
    pub(super) fn output(
        &self,
        sampler: &AreaSampler,
        boxes: Vec<Candidate>,
        stats: &mut DetectStats,
    ) -> Result<Vec<FaceDetection>, VisionError> {
        let forward = |x: &Tensor| -> candle_core::Result<Vec<CropOutput>> {
            let (reg, landmarks, prob) = self.onet.forward(x)?;
            let reg: Vec<Vec<f32>> = reg.to_vec2()?;
            let landmarks: Vec<Vec<f32>> = landmarks.to_vec2()?;
            let prob: Vec<Vec<f32>> = prob.to_vec2()?;
            Ok(reg
                .iter()
                .zip(&landmarks)
                .zip(&prob)
                .map(|((r, l), p)| {
                    let mut row = [0.0; 15];
                    row[0] = p[1];
                    row[1..5].copy_from_slice(r);
                    row[5..].copy_from_slice(l);
                    row
                })
                .collect())
        };
        let (boxes, rows) = self.score_crops(sampler, boxes, 48, &forward)?;
        stats.onet_crops = boxes.len();
        let mut passed = Vec::new();
        let mut marks = Vec::new();
        for (c, row) in boxes.iter().zip(&rows) {
            if row[0] <= self.config.thresholds[2] {
                continue;
            }
            let mut c = *c;
            c.score = row[0];
            // Landmarks are fractions of the box before O-Net's regression.
            let w = c.x2 - c.x1 + 1.0;
            let h = c.y2 - c.y1 + 1.0;
            marks.push(std::array::from_fn(|j| {
                Point::new(w * row[5 + j] + c.x1 - 1.0, h * row[10 + j] + c.y1 - 1.0)
            }));
            boxes::bbreg(&mut c, [row[1], row[2], row[3], row[4]]);
            passed.push(c);
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
