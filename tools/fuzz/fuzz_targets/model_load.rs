//! A damaged or foreign model file (truncated safetensors, wrong shapes) must be refused with
//! an error when loaded as the face encoder or the shape predictor.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = rollcall::vision::dlib::DlibEncoder::from_safetensors(data, "fuzz", &candle_core::Device::Cpu);
    let _ = rollcall::vision::dlib::ShapePredictor::from_safetensors(data, "fuzz");
});
