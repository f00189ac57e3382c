//! `rollcall import-weights dlib FILE` on any bytes: a converted model or a clear error.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(converted) = rollcall::vision::dlib::import::convert(data) {
        let _ = converted.to_safetensors();
    }
});
