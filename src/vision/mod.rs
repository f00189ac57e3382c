//! Computer vision: safe image decoding, face detection (MTCNN), alignment, the face encoders
//! (MobileFaceNet, the default, and dlib's ResNet), quality figures, and the pipeline that
//! joins them.

pub mod dlib;
pub mod encoder;
pub mod encoders;
pub mod gemm;
pub mod image_io;
pub mod mobilefacenet;
pub mod mtcnn;
pub mod pipeline;
pub mod quality;
pub mod simd;
pub mod stream;

pub use encoder::{ChipStyle, FaceEncoder, VisionError};
pub use pipeline::{Alignment, Face, FacePipeline, PipelineConfig, StreamFace};
pub use stream::{DetectPass, StreamConfig, StreamDetector};
