//! Computer vision: safe image decoding, face detection, alignment, quality figures and the
//! encoders (candle models) that turn faces and digits into embeddings.

pub mod encoder;
pub mod encoders;
pub mod image_io;

pub use encoder::{FaceEncoder, VisionError};
