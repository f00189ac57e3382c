//! Computer vision: safe image decoding, face detection, alignment, quality figures and the
//! encoders (candle models) that turn faces and digits into embeddings.

pub mod encoder;
pub mod image_io;
pub mod mtcnn;

pub use encoder::{FaceEncoder, VisionError};
pub mod dlib;
