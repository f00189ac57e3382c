//! Any bytes given as a photo (enrollment, import, replay frame) must decode or give an error,
//! never panic or allocate without bound.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(image) = rollcall::vision::image_io::decode(data) {
        let rgb = image.to_rgb8();
        assert!(rgb.width() > 0 && rgb.height() > 0);
        let _ = rollcall::vision::image_io::format_name(data);
    }
});
