//! Face detection for a video stream: a full detection (the MTCNN image pyramid) now and then,
//! and in between only the refinement and output nets run on the boxes of the previous frame
//! ([`Mtcnn::follow`](super::mtcnn::Mtcnn::follow)). A face that cannot be followed (it left,
//! turned away or moved too fast) makes the frame a full detection at once, so a face is lost
//! for no frame; a face that walks in is found at the next full detection.

use image::RgbImage;

use super::VisionError;
use super::mtcnn::FaceDetection;
use super::pipeline::FacePipeline;
use crate::core::BBox;

/// How often a stream is searched in full.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StreamConfig {
    /// Time between full detections while faces are followed, milliseconds of the frames'
    /// clock; 0 detects in full on every frame (the slow reference).
    pub full_every_ms: i64,
}

impl StreamConfig {
    /// A full detection on every frame.
    pub const EVERY_FRAME: Self = Self { full_every_ms: 0 };
}

impl Default for StreamConfig {
    /// Once a second: a student who walks in is found within a second, and at 30 frames a
    /// second 29 frames in 30 cost only the followed faces.
    fn default() -> Self {
        Self {
            full_every_ms: 1_000,
        }
    }
}

/// How a frame's faces were found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DetectPass {
    /// The whole frame was searched.
    Full,
    /// Only the faces of the previous frame were looked for again.
    Followed,
}

/// The detection state of one stream.
#[derive(Clone, Debug, Default)]
pub struct StreamDetector {
    config: StreamConfig,
    last: Vec<BBox>,
    last_full_ms: Option<i64>,
}

/// A previous face counts as found again when a new box overlaps it this much.
const FOUND_AGAIN_IOU: f32 = 0.3;

impl StreamDetector {
    /// A detector for a new stream.
    #[must_use]
    pub fn new(config: StreamConfig) -> Self {
        Self {
            config,
            last: Vec::new(),
            last_full_ms: None,
        }
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> StreamConfig {
        self.config
    }

    /// The faces of the frame taken at `frame_ms`, best first, and how they were found.
    pub fn detect(
        &mut self,
        pipeline: &FacePipeline,
        image: &RgbImage,
        frame_ms: i64,
    ) -> Result<(Vec<FaceDetection>, DetectPass), VisionError> {
        let full_due = self.config.full_every_ms <= 0
            || self.last.is_empty()
            || self.last_full_ms.is_none_or(|t| {
                frame_ms < t || frame_ms.saturating_sub(t) >= self.config.full_every_ms
            });
        if !full_due {
            let found = pipeline.detector().follow(image, &self.last)?;
            let all_found = self
                .last
                .iter()
                .all(|old| found.iter().any(|d| d.bbox.iou(old) >= FOUND_AGAIN_IOU));
            if all_found {
                self.last = found.iter().map(|d| d.bbox).collect();
                return Ok((found, DetectPass::Followed));
            }
            log::debug!(
                "stream: {} of {} faces not followed at {frame_ms} ms; detecting in full",
                self.last
                    .iter()
                    .filter(|old| !found.iter().any(|d| d.bbox.iou(old) >= FOUND_AGAIN_IOU))
                    .count(),
                self.last.len()
            );
        }
        let found = pipeline.detect(image)?;
        self.last = found.iter().map(|d| d.bbox).collect();
        self.last_full_ms = Some(frame_ms);
        Ok((found, DetectPass::Full))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vision::pipeline::BuiltinEncoder;
    use image::imageops;

    fn demo_frame(dx: i64) -> RgbImage {
        let photo = image::load_from_memory(include_bytes!("../../assets/demo/obama.jpg"))
            .expect("the demo photo decodes")
            .into_rgb8();
        let photo = imageops::resize(&photo, 320, 400, imageops::FilterType::Triangle);
        let mut frame = RgbImage::from_pixel(640, 480, image::Rgb([40, 40, 44]));
        imageops::overlay(&mut frame, &photo, 100 + dx, 40);
        frame
    }

    #[test]
    fn a_moving_face_is_followed_between_full_detections_and_a_lost_one_triggers_one() {
        let pipeline = FacePipeline::builtin(BuiltinEncoder::MobileFaceNet).expect("pipeline");
        let mut stream = StreamDetector::new(StreamConfig {
            full_every_ms: 1_000,
        });
        let (first, pass) = stream.detect(&pipeline, &demo_frame(0), 0).expect("detect");
        assert_eq!(pass, DetectPass::Full);
        assert_eq!(first.len(), 1, "{first:?}");
        for (i, dx) in [6, 12, 18, 24].into_iter().enumerate() {
            let frame = demo_frame(dx);
            let at = (i as i64 + 1) * 100;
            let (followed, pass) = stream.detect(&pipeline, &frame, at).expect("follow");
            assert_eq!(pass, DetectPass::Followed);
            assert_eq!(followed.len(), 1);
            // The followed box is where a full detection puts it.
            let full = pipeline.detect(&frame).expect("full");
            assert!(
                followed[0].bbox.iou(&full[0].bbox) > 0.8,
                "{followed:?} {full:?}"
            );
        }
        // The face is gone: that frame is searched in full and gives nothing.
        let empty = RgbImage::from_pixel(640, 480, image::Rgb([40, 40, 44]));
        let (none, pass) = stream.detect(&pipeline, &empty, 600).expect("detect");
        assert_eq!((none.len(), pass), (0, DetectPass::Full));
        // With no face to follow, every frame is a full one; a second after the last full
        // detection, a followed face is searched in full again.
        let (back, pass) = stream
            .detect(&pipeline, &demo_frame(0), 700)
            .expect("detect");
        assert_eq!((back.len(), pass), (1, DetectPass::Full));
        let (_, pass) = stream
            .detect(&pipeline, &demo_frame(0), 1_200)
            .expect("detect");
        assert_eq!(pass, DetectPass::Followed);
        let (_, pass) = stream
            .detect(&pipeline, &demo_frame(0), 1_700)
            .expect("detect");
        assert_eq!(pass, DetectPass::Full);
    }

    #[test]
    fn every_frame_mode_never_follows() {
        let pipeline = FacePipeline::builtin(BuiltinEncoder::MobileFaceNet).expect("pipeline");
        let mut stream = StreamDetector::new(StreamConfig::EVERY_FRAME);
        for t in 0..3 {
            let (faces, pass) = stream
                .detect(&pipeline, &demo_frame(t * 5), t * 33)
                .expect("detect");
            assert_eq!((faces.len(), pass), (1, DetectPass::Full));
        }
    }
}
