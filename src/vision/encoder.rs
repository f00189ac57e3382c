//! What every face encoder offers the rest of the app, so the pretrained network and a model
//! from the Training screen are interchangeable, and the errors of the vision layer.

use image::RgbImage;

use crate::core::{Metric, ModelId};

/// Errors of the vision layer.
#[derive(Debug, thiserror::Error)]
pub enum VisionError {
    /// A tensor operation failed.
    #[error("model computation failed: {0}")]
    Candle(#[from] candle_core::Error),
    /// An image could not be read.
    #[error(transparent)]
    Image(#[from] super::image_io::ImageLoadError),
    /// A model file is missing, damaged or of the wrong kind.
    #[error("model {model}: {reason}")]
    BadModel {
        /// Which model (file or id).
        model: String,
        /// What is wrong, for a human.
        reason: String,
    },
    /// Input the model cannot take.
    #[error("{0}")]
    BadInput(String),
    /// File-system error.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The OS error.
        source: std::io::Error,
    },
}

/// How an encoder wants its face chips cut.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ChipStyle {
    /// dlib's face chip (padding 0.25), from dlib's shape predictor or MTCNN's landmarks
    /// (the pipeline's [`Alignment`](super::Alignment) setting).
    #[default]
    Dlib,
    /// InsightFace's 112×112 template fitted to MTCNN's five landmarks.
    ArcFace,
}

/// A network that maps aligned face chips to embeddings.
pub trait FaceEncoder: Send + Sync {
    /// The id every embedding from this encoder is tagged with.
    fn model_id(&self) -> &ModelId;

    /// How its embeddings are compared.
    fn metric(&self) -> Metric;

    /// The embedding size.
    fn dim(&self) -> usize;

    /// The side of the square face chip it expects, in pixels.
    fn chip_size(&self) -> u32;

    /// How the chips it takes are aligned.
    fn chip_style(&self) -> ChipStyle {
        ChipStyle::Dlib
    }

    /// The recommended distance threshold (from its model card).
    fn default_threshold(&self) -> f32;

    /// Embeds a batch of aligned face chips (each `chip_size` × `chip_size`), one vector each.
    fn embed(&self, chips: &[RgbImage]) -> Result<Vec<Vec<f32>>, VisionError>;
}
