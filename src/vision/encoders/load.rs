//! Loading a trained model folder (`model.json` + `model.safetensors`): as a network to embed
//! tensors (evaluation), or as a [`FaceEncoder`] for attendance. A CNN trained on face
//! folders is a face encoder by itself; a `face-head` needs its frozen base encoder, whose
//! model id must match the one the head was trained on.

use std::path::Path;
use std::sync::Arc;

use candle_core::{DType, Module as _, Tensor};
use image::RgbImage;

use super::card::{DataKind, ModelCard, WEIGHTS_FILE, model_id_for, read_card};
use super::chip::chip_values;
use super::config::{Encoder, EncoderConfig, InputKind};
use crate::core::{Metric, ModelId};
use crate::vision::{FaceEncoder, VisionError};

pub use candle_core::Device;

/// The CPU device (what the CLI uses; callers above vision never name candle).
#[must_use]
pub fn cpu() -> Device {
    Device::Cpu
}

/// A trained network with its card.
#[derive(Clone, Debug)]
pub struct TrainedEncoder {
    /// The card.
    pub card: ModelCard,
    /// The network.
    pub encoder: Encoder,
    device: Device,
}

impl TrainedEncoder {
    /// Loads a model folder, checking that the weights are the ones the card's id names.
    pub fn load(dir: &Path, device: &Device) -> Result<Self, VisionError> {
        let card = read_card(dir)?;
        let path = dir.join(WEIGHTS_FILE);
        let bad = |reason: String| VisionError::BadModel {
            model: path.display().to_string(),
            reason,
        };
        let bytes = std::fs::read(&path).map_err(|source| VisionError::Io {
            context: format!("reading {}", path.display()),
            source,
        })?;
        let id = model_id_for(card.encoder.arch(), &bytes);
        if id != card.model_id {
            return Err(bad(format!(
                "the weights do not match the card (card says {}, the file hashes to {id}): the folder was changed or damaged",
                card.model_id
            )));
        }
        let tensors = candle_core::safetensors::load_buffer(&bytes, device)
            .map_err(|e| bad(format!("not a safetensors file: {e}")))?;
        let vb = candle_nn::VarBuilder::from_tensors(tensors, DType::F32, device);
        let encoder = Encoder::new(&card.encoder, &vb)
            .map_err(|e| bad(format!("weights do not fit the architecture: {e}")))?;
        Ok(Self {
            card,
            encoder,
            device: device.clone(),
        })
    }

    /// Embeds a batch: images `[B, H, W, C]` in `[0, 1]` (or base vectors `[B, D]`).
    pub fn embed_tensor(&self, x: &Tensor) -> Result<Tensor, VisionError> {
        Ok(self.encoder.forward(x)?)
    }

    /// The device the weights live on.
    #[must_use]
    pub fn device(&self) -> &Device {
        &self.device
    }
}

/// A CNN trained on face folders, as a face encoder.
struct CnnFaceEncoder {
    model: TrainedEncoder,
    id: ModelId,
    side: usize,
    channels: usize,
}

impl FaceEncoder for CnnFaceEncoder {
    fn model_id(&self) -> &ModelId {
        &self.id
    }

    fn metric(&self) -> Metric {
        self.model.card.metric
    }

    fn dim(&self) -> usize {
        self.model.card.encoder.embedding_dim()
    }

    fn chip_size(&self) -> u32 {
        self.side as u32
    }

    fn default_threshold(&self) -> f32 {
        self.model.card.threshold
    }

    fn embed(&self, chips: &[RgbImage]) -> Result<Vec<Vec<f32>>, VisionError> {
        if chips.is_empty() {
            return Ok(Vec::new());
        }
        let mut values = Vec::with_capacity(chips.len() * self.side * self.side * self.channels);
        for chip in chips {
            if chip.dimensions() != (self.side as u32, self.side as u32) {
                return Err(VisionError::BadInput(format!(
                    "{} expects {}x{} face chips, got {}x{}",
                    self.id,
                    self.side,
                    self.side,
                    chip.width(),
                    chip.height()
                )));
            }
            values.extend(chip_values(chip, self.channels));
        }
        let x = Tensor::from_vec(
            values,
            (chips.len(), self.side, self.side, self.channels),
            self.model.device(),
        )?;
        Ok(self.model.embed_tensor(&x)?.to_vec2::<f32>()?)
    }
}

/// A face head composed with its frozen base encoder.
struct HeadFaceEncoder {
    base: Arc<dyn FaceEncoder>,
    head: TrainedEncoder,
    id: ModelId,
}

impl FaceEncoder for HeadFaceEncoder {
    fn model_id(&self) -> &ModelId {
        &self.id
    }

    fn metric(&self) -> Metric {
        self.head.card.metric
    }

    fn dim(&self) -> usize {
        self.head.card.encoder.embedding_dim()
    }

    fn chip_size(&self) -> u32 {
        self.base.chip_size()
    }

    fn chip_style(&self) -> crate::vision::ChipStyle {
        self.base.chip_style()
    }

    fn default_threshold(&self) -> f32 {
        self.head.card.threshold
    }

    fn embed(&self, chips: &[RgbImage]) -> Result<Vec<Vec<f32>>, VisionError> {
        let base = self.base.embed(chips)?;
        if base.is_empty() {
            return Ok(Vec::new());
        }
        let dim = self.base.dim();
        let flat: Vec<f32> = base.into_iter().flatten().collect();
        let x = Tensor::from_vec(flat, (chips.len(), dim), self.head.device())?;
        Ok(self.head.embed_tensor(&x)?.to_vec2::<f32>()?)
    }
}

fn not_a_face_model(dir: &Path, reason: &str) -> VisionError {
    VisionError::BadModel {
        model: dir.display().to_string(),
        reason: reason.to_owned(),
    }
}

/// Loads a CNN trained on face folders as a face encoder. A `face-head` needs its base: use
/// [`load_face_head_dir`] (or [`load_model_dir_with_base`]).
pub fn load_model_dir(dir: &Path, device: &Device) -> Result<Box<dyn FaceEncoder>, VisionError> {
    load_model_dir_with_base(dir, device, None)
}

/// Loads any face model folder: a CNN by itself, a `face-head` on top of `base`.
pub fn load_model_dir_with_base(
    dir: &Path,
    device: &Device,
    base: Option<Arc<dyn FaceEncoder>>,
) -> Result<Box<dyn FaceEncoder>, VisionError> {
    let model = TrainedEncoder::load(dir, device)?;
    if model.card.dataset.kind != DataKind::Faces {
        return Err(not_a_face_model(
            dir,
            "it was trained on digits or clothes, not faces; it cannot take attendance",
        ));
    }
    let id = ModelId::new(model.card.model_id.clone());
    match (&model.card.encoder, model.card.encoder.input()) {
        (EncoderConfig::FaceHead(cfg), _) => {
            let Some(base) = base else {
                return Err(not_a_face_model(
                    dir,
                    &format!(
                        "it is a face head and needs its base encoder {}",
                        cfg.base_model
                    ),
                ));
            };
            if base.model_id().as_str() != cfg.base_model || base.dim() != cfg.input_dim {
                return Err(not_a_face_model(
                    dir,
                    &format!(
                        "it was trained on base encoder {} ({}-D), not {} ({}-D)",
                        cfg.base_model,
                        cfg.input_dim,
                        base.model_id(),
                        base.dim()
                    ),
                ));
            }
            Ok(Box::new(HeadFaceEncoder {
                base,
                head: model,
                id,
            }))
        }
        (_, InputKind::Image { side, channels }) => Ok(Box::new(CnnFaceEncoder {
            model,
            id,
            side,
            channels,
        })),
        (_, InputKind::Vector { .. }) => Err(not_a_face_model(dir, "unknown vector model")),
    }
}

/// Loads a `face-head` folder on top of its frozen base encoder.
pub fn load_face_head_dir(
    dir: &Path,
    device: &Device,
    base: Arc<dyn FaceEncoder>,
) -> Result<Box<dyn FaceEncoder>, VisionError> {
    load_model_dir_with_base(dir, device, Some(base))
}
