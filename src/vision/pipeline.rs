//! The face pipeline: a frame or photo goes in; out come faces, each with a box, five
//! landmarks, a detection score, quality figures, an aligned chip and an embedding tagged with
//! the encoder's model id. Detection is MTCNN; alignment is dlib's 5-point shape predictor and
//! face chip for dlib-style encoders or InsightFace's 112×112 template for MobileFaceNet (or a
//! similarity fit of MTCNN's landmarks onto either); the encoder is any [`FaceEncoder`] and says
//! which chip it takes ([`ChipStyle`]).

use candle_core::Device;
use image::RgbImage;

use super::dlib::{DlibEncoder, ShapePredictor, chip_from_eyes_nose_mouth, dlib_chip};
use super::mobilefacenet::{MobileFaceNetEncoder, arcface_chip, arcface_chip_from_dlib5};
use super::mtcnn::{DetectorConfig, FaceDetection, Mtcnn};
use super::{ChipStyle, FaceEncoder, VisionError, quality};
use crate::core::quality::QualityFigures;
use crate::core::{BBox, Embedding, Point};

/// The face encoders built into rollcall.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum BuiltinEncoder {
    /// MobileFaceNet (192-D, 112×112 ArcFace chip): the default for new databases.
    MobileFaceNet,
    /// dlib's ResNet (128-D, 150×150 dlib chip).
    Dlib,
}

impl BuiltinEncoder {
    /// Every built-in encoder, the default first.
    pub const ALL: [Self; 2] = [Self::MobileFaceNet, Self::Dlib];

    /// The short name used on the command line (`--encoder dlib,mobilefacenet`).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::MobileFaceNet => "mobilefacenet",
            Self::Dlib => "dlib",
        }
    }

    /// A name for people.
    #[must_use]
    pub fn title(self) -> &'static str {
        match self {
            Self::MobileFaceNet => "MobileFaceNet face encoder (bundled)",
            Self::Dlib => "dlib ResNet face encoder (bundled)",
        }
    }

    /// What was measured of it, in a line for the teacher (`rollcall eval-faces --encoder
    /// mobilefacenet,dlib` on the held-out sets; see the README).
    #[must_use]
    pub fn measured(self) -> &'static str {
        match self {
            Self::MobileFaceNet => {
                "LFW: 98.9 % of same-person pairs accepted at 1 false accept in 1,000; one-shot top-1 96.7 %"
            }
            Self::Dlib => {
                "LFW: 85.3 % of same-person pairs accepted at 1 false accept in 1,000; one-shot top-1 91.0 %"
            }
        }
    }

    /// The encoder for a short name (case-insensitive).
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|e| e.name().eq_ignore_ascii_case(name.trim()))
    }

    /// Loads the encoder on `device`.
    pub fn load(self, device: &Device) -> Result<Box<dyn FaceEncoder>, VisionError> {
        Ok(match self {
            Self::MobileFaceNet => Box::new(MobileFaceNetEncoder::bundled(device)?),
            Self::Dlib => Box::new(DlibEncoder::bundled(device)?),
        })
    }

    /// Loads the encoder on the CPU.
    pub fn load_cpu(self) -> Result<Box<dyn FaceEncoder>, VisionError> {
        self.load(&Device::Cpu)
    }

    /// The built-in encoder whose embeddings carry `id`, if any.
    #[must_use]
    pub fn from_model_id(id: &str) -> Option<Self> {
        if id.starts_with(super::mobilefacenet::MODEL_ID_PREFIX) {
            Some(Self::MobileFaceNet)
        } else if id.starts_with("dlib-resnet-v1-") {
            Some(Self::Dlib)
        } else {
            None
        }
    }
}

/// Which five points a detected face is aligned by; the encoder's [`ChipStyle`] says which
/// template they are fitted onto (dlib's chip, or InsightFace's 112×112 one).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Alignment {
    /// dlib's 5-point shape predictor run inside a dlib-style box derived from the detector's:
    /// dlib's own chip for the dlib encoder (exactly what it was trained with), InsightFace's
    /// template through dlib's mean face for MobileFaceNet
    /// ([`arcface_chip_from_dlib5`](super::mobilefacenet::arcface_chip_from_dlib5)). The
    /// default for both: on tightly cropped photos MTCNN's landmarks go astray (Extended Yale
    /// B, README).
    ShapePredictor,
    /// MTCNN's five landmarks fitted onto the template by a similarity transform.
    Landmarks,
}

/// Settings of the pipeline.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PipelineConfig {
    /// Detector settings.
    pub detector: DetectorConfig,
    /// Alignment method.
    pub alignment: Alignment,
    /// Photos larger than this (longest side, pixels) are scaled down for detection only;
    /// chips are always cut from the full-resolution image.
    pub max_detect_side_px: u32,
    /// When no face is found, search again with a border around the image.
    pub retry_with_border: bool,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            detector: DetectorConfig::default(),
            alignment: Alignment::ShapePredictor,
            max_detect_side_px: 1024,
            retry_with_border: true,
        }
    }
}

/// One analysed face.
#[derive(Clone, Debug, PartialEq)]
pub struct Face {
    /// The detector's box, in image pixels.
    pub bbox: BBox,
    /// Detection confidence.
    pub score: f32,
    /// The detector's five landmarks (eyes, nose, mouth corners), in image pixels.
    pub landmarks: [Point; 5],
    /// Size, sharpness, exposure and pose.
    pub quality: QualityFigures,
    /// The aligned face chip given to the encoder.
    pub chip: RgbImage,
    /// The embedding, tagged with the encoder's model id.
    pub embedding: Embedding,
}

/// One face of a video frame from [`FacePipeline::analyze_partly`].
#[derive(Clone, Debug, PartialEq)]
pub struct StreamFace {
    /// The detector's box, in image pixels.
    pub bbox: BBox,
    /// Detection confidence.
    pub score: f32,
    /// The aligned face chip, where an embedding was asked for.
    pub chip: Option<RgbImage>,
    /// The embedding, where one was asked for.
    pub embedding: Option<Embedding>,
}

/// Detector + aligner + encoder.
pub struct FacePipeline {
    detector: Mtcnn,
    shape: ShapePredictor,
    encoder: Box<dyn FaceEncoder>,
    config: PipelineConfig,
}

impl std::fmt::Debug for FacePipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FacePipeline")
            .field("encoder", self.encoder.model_id())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl FacePipeline {
    /// The bundled pipeline with the default encoder (MTCNN + MobileFaceNet) on the CPU.
    pub fn bundled() -> Result<Self, VisionError> {
        Self::builtin(BuiltinEncoder::MobileFaceNet)
    }

    /// The bundled detector with a built-in encoder, on the CPU.
    pub fn builtin(encoder: BuiltinEncoder) -> Result<Self, VisionError> {
        Self::builtin_with(encoder, PipelineConfig::default())
    }

    /// [`Self::builtin`] with the given settings.
    pub fn builtin_with(
        encoder: BuiltinEncoder,
        config: PipelineConfig,
    ) -> Result<Self, VisionError> {
        let device = Device::Cpu;
        Self::new(config, encoder.load(&device)?, &device)
    }

    /// The bundled detector with a trained face model folder as the encoder (a CNN trained on
    /// face folders, or a face head on top of the bundled dlib encoder), on the CPU.
    pub fn with_model_dir(dir: &std::path::Path) -> Result<Self, VisionError> {
        Self::with_model_dir_and(dir, PipelineConfig::default())
    }

    /// [`Self::with_model_dir`] with the given settings.
    pub fn with_model_dir_and(
        dir: &std::path::Path,
        config: PipelineConfig,
    ) -> Result<Self, VisionError> {
        let device = Device::Cpu;
        // A face head names its base; a CNN has none.
        let card = super::encoders::card::read_card(dir)?;
        let base = match &card.encoder {
            super::encoders::EncoderConfig::FaceHead(head) => {
                let builtin = BuiltinEncoder::from_model_id(&head.base_model).ok_or_else(|| {
                    VisionError::BadModel {
                        model: dir.display().to_string(),
                        reason: format!(
                            "its base encoder {} is not one of the bundled ones",
                            head.base_model
                        ),
                    }
                })?;
                Some(std::sync::Arc::from(builtin.load(&device)?))
            }
            _ => None,
        };
        let encoder = super::encoders::load::load_model_dir_with_base(dir, &device, base)?;
        Self::new(config, encoder, &device)
    }

    /// The bundled detector and the dlib encoder on the CPU, with the given settings (the
    /// dlib-chip [`Alignment`] settings apply to it).
    pub fn dlib_with(config: PipelineConfig) -> Result<Self, VisionError> {
        Self::builtin_with(BuiltinEncoder::Dlib, config)
    }

    /// A pipeline with the bundled detector and aligner and the given encoder.
    pub fn new(
        config: PipelineConfig,
        encoder: Box<dyn FaceEncoder>,
        device: &Device,
    ) -> Result<Self, VisionError> {
        Ok(Self {
            detector: Mtcnn::new(config.detector.clone(), device)?,
            shape: ShapePredictor::bundled()?,
            encoder,
            config,
        })
    }

    /// The encoder in use.
    #[must_use]
    pub fn encoder(&self) -> &dyn FaceEncoder {
        self.encoder.as_ref()
    }

    /// The detector.
    #[must_use]
    pub fn detector(&self) -> &Mtcnn {
        &self.detector
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> &PipelineConfig {
        &self.config
    }

    /// Finds faces, best first, in the coordinates of `image`. Large images are scaled down
    /// for the detector; when nothing is found, the image is searched again inside a border
    /// (a face that fills a tightly cropped photo, like an ID photo, is found that way).
    pub fn detect(&self, image: &RgbImage) -> Result<Vec<FaceDetection>, VisionError> {
        let found = self.detect_scaled(image)?;
        if !found.is_empty() || !self.config.retry_with_border {
            return Ok(found);
        }
        self.detect_in_border(image)
    }

    /// Finds the faces of a photo (an enrollment photo, a training or test image), as
    /// [`Self::detect`] does for a camera frame, plus one more check. A face that fills a tight
    /// crop is larger than the detector's largest window, and the detector may then report a
    /// small false "face" inside it (its nose and mouth). So when the largest face found is
    /// narrower than half the picture, the picture is also searched inside a border, and a
    /// face found there that is half as large again and covers the first one wins.
    pub fn detect_photo(&self, image: &RgbImage) -> Result<Vec<FaceDetection>, VisionError> {
        let found = self.detect(image)?;
        let short_side = image.width().min(image.height()) as f32;
        let Some(largest) = found
            .iter()
            .max_by(|a, b| a.bbox.area().total_cmp(&b.bbox.area()))
        else {
            return Ok(found);
        };
        if !self.config.retry_with_border || largest.bbox.width >= 0.5 * short_side {
            return Ok(found);
        }
        let framed = self.detect_in_border(image)?;
        let covers = |d: &FaceDetection| {
            d.bbox.width >= 1.5 * largest.bbox.width && d.bbox.contains(largest.bbox.center())
        };
        Ok(if framed.iter().any(covers) {
            framed
        } else {
            found
        })
    }

    /// Searches `image` inside a grey border a quarter of its longest side wide; coordinates
    /// are those of `image`.
    fn detect_in_border(&self, image: &RgbImage) -> Result<Vec<FaceDetection>, VisionError> {
        if image.width() < 24 || image.height() < 24 {
            return Ok(Vec::new());
        }
        let pad = (image.width().max(image.height()) / 4).max(1);
        let mut framed = RgbImage::from_pixel(
            image.width() + 2 * pad,
            image.height() + 2 * pad,
            image::Rgb([128, 128, 128]),
        );
        image::imageops::replace(&mut framed, image, i64::from(pad), i64::from(pad));
        let shift = pad as f32;
        Ok(self
            .detect_scaled(&framed)?
            .into_iter()
            .map(|mut d| {
                d.bbox = BBox::new(
                    d.bbox.x - shift,
                    d.bbox.y - shift,
                    d.bbox.width,
                    d.bbox.height,
                );
                for p in &mut d.landmarks {
                    *p = Point::new(p.x - shift, p.y - shift);
                }
                d
            })
            .collect())
    }

    fn detect_scaled(&self, image: &RgbImage) -> Result<Vec<FaceDetection>, VisionError> {
        let longest = image.width().max(image.height());
        if longest <= self.config.max_detect_side_px || self.config.max_detect_side_px == 0 {
            return self.detector.detect(image);
        }
        let scale = self.config.max_detect_side_px as f32 / longest as f32;
        let (w, h) = (
            ((image.width() as f32 * scale).round() as u32).max(1),
            ((image.height() as f32 * scale).round() as u32).max(1),
        );
        let small = image::imageops::resize(image, w, h, image::imageops::FilterType::Triangle);
        let (sx, sy) = (
            image.width() as f32 / w as f32,
            image.height() as f32 / h as f32,
        );
        let mut found = self.detector.detect(&small)?;
        for d in &mut found {
            d.bbox = BBox::new(
                d.bbox.x * sx,
                d.bbox.y * sy,
                d.bbox.width * sx,
                d.bbox.height * sy,
            );
            for p in &mut d.landmarks {
                *p = Point::new(p.x * sx, p.y * sy);
            }
        }
        Ok(found)
    }

    /// The aligned chip of a detected face.
    #[must_use]
    pub fn chip(&self, image: &RgbImage, detection: &FaceDetection) -> RgbImage {
        let size = self.encoder.chip_size();
        let style = self.encoder.chip_style();
        match self.config.alignment {
            Alignment::ShapePredictor => {
                let rect = shape_rect(detection, image.width(), image.height());
                let points = self.shape.shape5(image, rect);
                match style {
                    ChipStyle::Dlib => dlib_chip(image, &points, size, 0.25),
                    ChipStyle::ArcFace => arcface_chip_from_dlib5(image, &points, size),
                }
            }
            Alignment::Landmarks => match style {
                ChipStyle::Dlib => chip_from_eyes_nose_mouth(image, &detection.landmarks, size),
                ChipStyle::ArcFace => arcface_chip(image, &detection.landmarks, size),
            },
        }
    }

    /// Every face in `image`, best first, each aligned, measured and embedded (one batch).
    pub fn analyze(&self, image: &RgbImage) -> Result<Vec<Face>, VisionError> {
        let detections = self.detect(image)?;
        self.analyze_detections(image, &detections)
    }

    /// Aligns, measures and embeds the given detections of `image`.
    pub fn analyze_detections(
        &self,
        image: &RgbImage,
        detections: &[FaceDetection],
    ) -> Result<Vec<Face>, VisionError> {
        if detections.is_empty() {
            return Ok(Vec::new());
        }
        let chips: Vec<RgbImage> = detections.iter().map(|d| self.chip(image, d)).collect();
        let vectors = self.encoder.embed(&chips)?;
        let model = self.encoder.model_id().clone();
        detections
            .iter()
            .zip(chips)
            .zip(vectors)
            .map(|((d, chip), v)| {
                Ok(Face {
                    bbox: d.bbox,
                    score: d.score,
                    landmarks: d.landmarks,
                    quality: quality::measure(d, &chip, detections.len()),
                    embedding: Embedding::new(model.clone(), v).map_err(|err| {
                        VisionError::BadInput(format!(
                            "the encoder produced a bad embedding: {err}"
                        ))
                    })?,
                    chip,
                })
            })
            .collect()
    }

    /// Aligns and embeds (in one batch) only the detections of a video frame for which `embed`
    /// says so; the others get neither chip nor embedding (cut one with [`Self::chip`] when
    /// it is needed after all). The live engine skips faces whose track is already decided.
    pub fn analyze_partly(
        &self,
        image: &RgbImage,
        detections: &[FaceDetection],
        embed: &[bool],
    ) -> Result<Vec<StreamFace>, VisionError> {
        if detections.len() != embed.len() {
            return Err(VisionError::BadInput(format!(
                "{} detections but {} embedding choices",
                detections.len(),
                embed.len()
            )));
        }
        let wanted: Vec<RgbImage> = detections
            .iter()
            .zip(embed)
            .filter(|(_, e)| **e)
            .map(|(d, _)| self.chip(image, d))
            .collect();
        let mut vectors = if wanted.is_empty() {
            Vec::new()
        } else {
            self.encoder.embed(&wanted)?
        }
        .into_iter();
        let mut chips = wanted.into_iter();
        let model = self.encoder.model_id().clone();
        detections
            .iter()
            .zip(embed)
            .map(|(d, &e)| {
                let (chip, embedding) = if e {
                    let v = vectors.next().ok_or_else(|| {
                        VisionError::BadInput("the encoder returned too few embeddings".into())
                    })?;
                    let embedding = Embedding::new(model.clone(), v).map_err(|err| {
                        VisionError::BadInput(format!(
                            "the encoder produced a bad embedding: {err}"
                        ))
                    })?;
                    (chips.next(), Some(embedding))
                } else {
                    (None, None)
                };
                Ok(StreamFace {
                    bbox: d.bbox,
                    score: d.score,
                    chip,
                    embedding,
                })
            })
            .collect()
    }

    /// Embeds the face inside `rect` taken as dlib's own face box (no detector): the shape
    /// predictor finds the landmarks inside it. The anchor's fallback when no face is detected
    /// is the whole image used this way.
    /// An ArcFace-style encoder gets its chip fitted from the same five points
    /// ([`arcface_chip_from_dlib5`]).
    pub fn embed_rect(&self, image: &RgbImage, rect: BBox) -> Result<Embedding, VisionError> {
        let points = self.shape.shape5(image, rect);
        let size = self.encoder.chip_size();
        let chip = match self.encoder.chip_style() {
            ChipStyle::Dlib => dlib_chip(image, &points, size, 0.25),
            ChipStyle::ArcFace => arcface_chip_from_dlib5(image, &points, size),
        };
        let v = self
            .encoder
            .embed(std::slice::from_ref(&chip))?
            .pop()
            .ok_or_else(|| VisionError::BadInput("the encoder returned nothing".into()))?;
        Embedding::new(self.encoder.model_id().clone(), v).map_err(|err| {
            VisionError::BadInput(format!("the encoder produced a bad embedding: {err}"))
        })
    }

    /// The aligned chip (`size` × `size`, on dlib's template or InsightFace's, as `style`
    /// says) of the main face of a photo, `None` without a face.
    pub fn aligned_chip(
        &self,
        image: &RgbImage,
        size: u32,
        style: ChipStyle,
    ) -> Result<Option<RgbImage>, VisionError> {
        let detections = self.detect_photo(image)?;
        Ok(
            main_face(&detections, image.width(), image.height()).map(|d| {
                let points = self
                    .shape
                    .shape5(image, shape_rect(d, image.width(), image.height()));
                match style {
                    ChipStyle::Dlib => dlib_chip(image, &points, size, 0.25),
                    ChipStyle::ArcFace => arcface_chip_from_dlib5(image, &points, size),
                }
            }),
        )
    }

    /// The main face of a photo (the enrollment case, see [`main_face`] and
    /// [`Self::detect_photo`]), with how many faces there were; `None` when no face was found.
    pub fn analyze_main(&self, image: &RgbImage) -> Result<Option<(Face, usize)>, VisionError> {
        let detections = self.detect_photo(image)?;
        let count = detections.len();
        let Some(main) = main_face(&detections, image.width(), image.height()) else {
            return Ok(None);
        };
        let mut faces = self.analyze_detections(image, std::slice::from_ref(main))?;
        Ok(faces.pop().map(|mut f| {
            f.quality.faces_found = count;
            (f, count)
        }))
    }
}

/// The square box dlib's own (HOG) detector would most likely give for an MTCNN detection:
/// dlib's shape predictor was trained on those boxes, and MTCNN's are taller and placed
/// differently. The coefficients are a least-squares fit of dlib's boxes against MTCNN's box
/// and landmarks on 594 photos of the LFW *training* identities (`tools/fit_dlib_rect.py`);
/// every term is relative to the MTCNN box, so the mapping does not depend on where the face
/// is or how large it is.
#[must_use]
pub fn dlib_rect(d: &FaceDetection) -> BBox {
    let b = d.bbox;
    let (w, h) = (b.width, b.height);
    let c = b.center();
    let [l_eye, r_eye, nose, l_mouth, r_mouth] = d.landmarks;
    let eye = Point::new(
        f32::midpoint(l_eye.x, r_eye.x),
        f32::midpoint(l_eye.y, r_eye.y),
    );
    let mouth = Point::new(
        f32::midpoint(l_mouth.x, r_mouth.x),
        f32::midpoint(l_mouth.y, r_mouth.y),
    );
    let cx = c.x - 0.0332 * w
        + 0.3154 * (nose.x - c.x)
        + 0.274 * (eye.x - c.x)
        + 0.1154 * (mouth.x - c.x);
    let cy = c.y - 0.0255 * h
        + 0.1301 * (eye.y - c.y)
        + 0.2132 * (mouth.y - c.y)
        + 0.3015 * (nose.y - c.y);
    let side = (0.6181 * w + 0.2323 * h - 0.0948 * l_eye.distance(r_eye)
        + 0.483 * eye.distance(mouth))
    .max(1.0);
    BBox::new(cx - side / 2.0, cy - side / 2.0, side, side)
}

/// The box the shape predictor starts from: [`dlib_rect`], cut to the picture when it sticks
/// out (and is still mostly inside). The predictor reads pixels around its current estimate;
/// outside the picture they are black. Measured with `rollcall eval-faces`: a little better on
/// the close-ups of Extended Yale B (AUC 0.9703 → 0.9718 on the light ≤ 35° subset), no change
/// on LFW.
#[must_use]
pub fn shape_rect(d: &FaceDetection, width: u32, height: u32) -> BBox {
    let r = dlib_rect(d);
    let (w, h) = (width as f32, height as f32);
    let (x0, y0) = (r.x.max(0.0), r.y.max(0.0));
    let (x1, y1) = (r.right().min(w), r.bottom().min(h));
    if x1 - x0 < 0.5 * r.width || y1 - y0 < 0.5 * r.height {
        // Mostly outside: keep the estimate rather than a sliver.
        return r;
    }
    BBox::new(x0, y0, x1 - x0, y1 - y0)
}

/// The main face of a photo: the face the photo is of. Each face scores its area inside the
/// picture, times the square of the share of it that is inside (someone half out of the frame
/// is a bystander), times a weight that falls from 1 at the centre to 0.5 at the corners
/// (people frame the person they photograph). The highest score wins.
#[must_use]
pub fn main_face(detections: &[FaceDetection], width: u32, height: u32) -> Option<&FaceDetection> {
    let (w, h) = (width as f32, height as f32);
    let half_diagonal = (w.hypot(h) / 2.0).max(1.0);
    let score = |d: &FaceDetection| {
        let b = d.bbox;
        let vw = (b.right().min(w) - b.x.max(0.0)).max(0.0);
        let vh = (b.bottom().min(h) - b.y.max(0.0)).max(0.0);
        let visible = vw * vh;
        let inside = if b.area() > 0.0 {
            visible / b.area()
        } else {
            0.0
        };
        let c = b.center();
        let off_centre = ((c.x - w / 2.0).hypot(c.y - h / 2.0) / half_diagonal).min(1.0);
        visible * inside * inside * (1.0 - 0.5 * off_centre)
    };
    detections
        .iter()
        .max_by(|a, b| score(a).total_cmp(&score(b)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata::repo_file;
    use crate::vision::image_io;

    fn demo(name: &str) -> RgbImage {
        image_io::load_rgb(&repo_file(&format!("assets/demo/{name}"))).unwrap()
    }

    #[test]
    fn the_demo_photos_give_one_face_each_and_the_same_person_matches() {
        let p = FacePipeline::builtin(BuiltinEncoder::Dlib).unwrap();
        let mut embeddings = Vec::new();
        for name in ["obama.jpg", "obama2.jpg", "biden.jpg"] {
            let t = std::time::Instant::now();
            let (face, count) = p.analyze_main(&demo(name)).unwrap().unwrap();
            eprintln!(
                "{name}: {count} face(s), {:?}, quality {:?}, {:?}",
                face.bbox,
                face.quality,
                t.elapsed()
            );
            assert_eq!(face.chip.dimensions(), (150, 150));
            assert!(
                face.quality.interocular_px > 30.0,
                "{name}: {:?}",
                face.quality
            );
            embeddings.push(face.embedding);
        }
        let d = |a: &Embedding, b: &Embedding| {
            crate::core::Metric::Euclidean.distance(&a.values, &b.values)
        };
        assert!(
            d(&embeddings[0], &embeddings[1]) < 0.6,
            "Obama vs Obama: {}",
            d(&embeddings[0], &embeddings[1])
        );
        assert!(
            d(&embeddings[0], &embeddings[2]) > 0.6,
            "Obama vs Biden: {}",
            d(&embeddings[0], &embeddings[2])
        );
    }

    #[test]
    fn the_default_encoder_is_mobilefacenet_and_tells_the_demo_people_apart() {
        let p = FacePipeline::bundled().unwrap();
        assert_eq!(p.encoder().chip_style(), ChipStyle::ArcFace);
        let t = p.encoder().default_threshold();
        let faces: Vec<Face> = ["obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg"]
            .iter()
            .map(|n| p.analyze_main(&demo(n)).unwrap().unwrap().0)
            .collect();
        for f in &faces {
            assert_eq!(f.chip.dimensions(), (112, 112));
            assert_eq!(f.embedding.values.len(), 192);
        }
        let d = |a: usize, b: usize| {
            crate::core::Metric::Euclidean
                .distance(&faces[a].embedding.values, &faces[b].embedding.values)
        };
        for (a, b) in [(0, 1), (0, 2), (1, 2)] {
            assert!(d(a, b) < t, "Obama {a} vs {b}: {} (threshold {t})", d(a, b));
        }
        for a in 0..3 {
            assert!(
                d(a, 3) > t,
                "Obama {a} vs Biden: {} (threshold {t})",
                d(a, 3)
            );
        }
        // The eye-only fallback chip of a box still recognises the person.
        let img = demo("obama2.jpg");
        let box_of = faces[1].bbox;
        let e = p.embed_rect(&img, box_of).unwrap();
        let fallback =
            crate::core::Metric::Euclidean.distance(&e.values, &faces[0].embedding.values);
        assert!(fallback < t, "fallback chip: {fallback}");
    }

    #[test]
    fn both_alignments_agree_on_who_is_who() {
        let device = Device::Cpu;
        let config = PipelineConfig {
            alignment: Alignment::Landmarks,
            ..PipelineConfig::default()
        };
        let p = FacePipeline::new(
            config,
            Box::new(DlibEncoder::bundled(&device).unwrap()),
            &device,
        )
        .unwrap();
        let a = p
            .analyze_main(&demo("obama.jpg"))
            .unwrap()
            .unwrap()
            .0
            .embedding;
        let b = p
            .analyze_main(&demo("obama2.jpg"))
            .unwrap()
            .unwrap()
            .0
            .embedding;
        let c = p
            .analyze_main(&demo("biden.jpg"))
            .unwrap()
            .unwrap()
            .0
            .embedding;
        let d = |x: &Embedding, y: &Embedding| {
            crate::core::Metric::Euclidean.distance(&x.values, &y.values)
        };
        assert!(
            d(&a, &b) < 0.6 && d(&a, &c) > 0.6,
            "{} {}",
            d(&a, &b),
            d(&a, &c)
        );
    }

    #[test]
    fn the_main_face_is_the_largest_visible_one() {
        let det = |x: f32, w: f32| FaceDetection {
            bbox: BBox::new(x, 50.0, w, w),
            score: 0.99,
            landmarks: [Point::default(); 5],
        };
        // A 120-px face half outside the left edge (60 px visible) loses to a 90-px face inside.
        let faces = [det(-60.0, 120.0), det(80.0, 90.0), det(200.0, 40.0)];
        assert_eq!(main_face(&faces, 250, 250).unwrap().bbox.x, 80.0);
        assert!(main_face(&[], 250, 250).is_none());
    }

    #[test]
    fn images_without_faces_give_no_faces() {
        let p = FacePipeline::builtin(BuiltinEncoder::Dlib).unwrap();
        for img in [
            RgbImage::new(1, 1),
            RgbImage::new(640, 480),
            RgbImage::from_pixel(5000, 10, image::Rgb([200, 10, 10])),
        ] {
            assert!(p.analyze(&img).unwrap().is_empty());
            assert!(p.analyze_main(&img).unwrap().is_none());
        }
    }
}
