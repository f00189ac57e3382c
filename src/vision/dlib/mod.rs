//! A port of dlib's face pipeline: the ResNet face encoder, the 5-point shape predictor and
//! face-chip alignment, with an importer for dlib's `.dat` files.

pub mod align;
pub mod chip;
mod conv;
pub mod converted;
pub mod import;
pub mod net_file;
pub mod resnet;
pub mod serialize;
pub mod shape;
pub mod sp_file;
#[cfg(test)]
mod testnet;

pub use align::{chip_from_eyes_nose_mouth, dlib_chip};
pub use resnet::DlibEncoder;
pub use shape::ShapePredictor;

/// Floating-point operations of one embedding by the bundled network (2 per multiply-add).
#[must_use]
pub fn resnet_flops() -> u64 {
    resnet::Config::dlib_face_v1().flops()
}
