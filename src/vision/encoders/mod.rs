//! The trainable encoders (candle models, one file each, with a serde config) and what it
//! takes to build, save and load them: deterministic initialisation, fast CPU ops, the model
//! card, photo-to-chip preprocessing, and loading a trained folder as a [`super::FaceEncoder`].

pub mod card;
pub mod chip;
pub mod config;
pub mod conv;
pub mod face_head;
pub mod init;
pub mod load;
pub mod ops;
pub mod seed_cnn;
pub mod small_cnn;

pub use card::{CardMetrics, DataKind, DatasetInfo, ModelCard};
pub use config::{Encoder, EncoderConfig, InputKind, PRESETS};
pub use load::{TrainedEncoder, load_face_head_dir, load_model_dir, load_model_dir_with_base};
