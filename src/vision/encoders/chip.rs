//! Turning a photo into what a CNN encoder takes: a centred square crop resized to the chip
//! size (used until face detection and alignment land), and the chip's pixels as `[0, 1]`
//! floats in (row, column, channel) order, grey or RGB. Training and inference share these,
//! so a model sees the same preprocessing in both.

use image::RgbImage;
use image::imageops::FilterType;

/// The largest centred square of `image`, resized to `side` × `side`.
#[must_use]
pub fn centre_square(image: &RgbImage, side: u32) -> RgbImage {
    let (w, h) = image.dimensions();
    let s = w.min(h).max(1);
    let crop =
        image::imageops::crop_imm(image, (w - s.min(w)) / 2, (h - s.min(h)) / 2, s, s).to_image();
    if s == side {
        crop
    } else {
        image::imageops::resize(&crop, side, side, FilterType::Triangle)
    }
}

/// The pixels of `chip` as `[0, 1]` floats, HWC; `channels` 1 gives grey (ITU-R 601 luma).
#[must_use]
pub fn chip_values(chip: &RgbImage, channels: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(chip.len() / 3 * channels);
    for p in chip.pixels() {
        let [r, g, b] = p.0.map(f32::from);
        if channels == 1 {
            out.push((0.299 * r + 0.587 * g + 0.114 * b) / 255.0);
        } else {
            out.extend([r / 255.0, g / 255.0, b / 255.0]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crops_the_centre_and_scales_values() {
        // A 6x4 image whose centre 4x4 square is white and whose side columns are black.
        let img = RgbImage::from_fn(6, 4, |x, _| {
            if (1..5).contains(&x) {
                image::Rgb([255; 3])
            } else {
                image::Rgb([0; 3])
            }
        });
        let sq = centre_square(&img, 4);
        assert_eq!(sq.dimensions(), (4, 4));
        assert!(sq.pixels().all(|p| p.0 == [255; 3]));
        let grey = chip_values(&centre_square(&img, 2), 1);
        assert_eq!(grey.len(), 4);
        assert!(grey.iter().all(|v| (v - 1.0).abs() < 1e-3));
        assert_eq!(chip_values(&sq, 3).len(), 48);
    }
}
