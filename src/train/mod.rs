//! Training and evaluating Siamese encoders: datasets (IDX digits, face folders, pairs lists),
//! the seed tutorial's pair sampling, random triplets and online mining, the losses, the
//! training loop (a library function driven by the CLI and the GUI alike) and evaluation.

pub mod augment;
pub mod dataset;
pub mod embed_cache;
pub mod eval;
pub mod faces;
pub mod idx;
pub mod losses;
pub mod miners;
pub mod model;
pub mod pairs;
pub mod pyrandom;
pub mod recipe;
pub mod trainer;

pub use dataset::{Dataset, DatasetSpec, Split};
pub use eval::EvalReport;
pub use losses::LossConfig;
pub use miners::Miner;
pub use model::{EpochRecord, History, TrainedModel, fit_threshold};
pub use recipe::{OptimizerConfig, Sampling, TrainConfig};
pub use trainer::{Progress, train};

use crate::vision::VisionError;
use crate::vision::image_io::ImageLoadError;

/// Errors of the train layer, written for the person training.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// An IDX file is missing or damaged.
    #[error(transparent)]
    Idx(#[from] idx::IdxError),
    /// A photo could not be read.
    #[error("{path}: {source}")]
    Image {
        /// The photo.
        path: String,
        /// Why.
        source: ImageLoadError,
    },
    /// The vision layer failed (a model file, an encoder).
    #[error(transparent)]
    Vision(#[from] VisionError),
    /// A tensor operation failed.
    #[error("model computation failed: {0}")]
    Candle(#[from] candle_core::Error),
    /// The data cannot be used as asked.
    #[error("{0}")]
    Data(String),
    /// The settings do not fit together.
    #[error("{0}")]
    Config(String),
    /// The loss became NaN or infinite.
    #[error(
        "training diverged at epoch {epoch}, step {step}: the loss is {loss} (try a lower learning rate)"
    )]
    NotFinite {
        /// 1-based epoch.
        epoch: usize,
        /// 1-based step within the epoch.
        step: usize,
        /// The loss value.
        loss: f32,
    },
    /// Training was cancelled.
    #[error("training was cancelled")]
    Cancelled,
    /// File-system error.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The OS error.
        source: std::io::Error,
    },
}

/// Loads a dataset by spec: `mnist` (bundled), `idx:DIR`, or `faces:DIR` (as chips with `faces`).
pub fn load_dataset(spec: &DatasetSpec, faces: &faces::FaceOptions) -> Result<Dataset, TrainError> {
    match spec {
        DatasetSpec::Mnist => dataset::load_bundled_mnist(),
        DatasetSpec::Idx(dir) => dataset::load_idx_dir(dir),
        DatasetSpec::Faces(dir) => faces::load_face_folder(dir, faces),
    }
}
