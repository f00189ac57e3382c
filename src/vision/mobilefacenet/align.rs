//! The 112×112 face chip of ArcFace-style encoders (InsightFace's `norm_crop`): the
//! least-squares similarity that takes the five MTCNN landmarks onto InsightFace's template,
//! sampled bilinearly, black outside the picture (OpenCV's `warpAffine` with a constant border).
//! Pixel coordinates have `(0, 0)` at the centre of the top-left pixel.

use image::{Rgb, RgbImage};

use crate::core::Point;
use crate::vision::dlib::align::{
    DLIB_5_TEMPLATE, EYES_NOSE_MOUTH_TEMPLATE, Similarity, similarity,
};

/// InsightFace's five-point template for a 112×112 chip: the eye on the image's left, the eye
/// on its right, the nose tip, the mouth corner on the image's left, the one on its right.
pub const ARCFACE_TEMPLATE_112: [(f64, f64); 5] = [
    (38.2946, 51.6963),
    (73.5318, 51.5014),
    (56.0252, 71.7366),
    (41.5493, 92.3655),
    (70.7299, 92.2041),
];

/// The template scaled to a chip of side `size`.
fn template(size: u32) -> Vec<(f64, f64)> {
    let s = f64::from(size) / 112.0;
    ARCFACE_TEMPLATE_112
        .iter()
        .map(|&(x, y)| (x * s, y * s))
        .collect()
}

/// The chip of side `size` for MTCNN's five landmarks (eyes, nose tip, mouth corners, each pair
/// image-left first).
#[must_use]
pub fn arcface_chip(image: &RgbImage, landmarks: &[Point; 5], size: u32) -> RgbImage {
    let from: Vec<(f64, f64)> = landmarks
        .iter()
        .map(|p| (f64::from(p.x), f64::from(p.y)))
        .collect();
    warp(image, &similarity(&from, &template(size)), size)
}

/// Where dlib's five shape-predictor points (outer and inner corner of the eye on the image's
/// right, the same of the other eye, the nose base) fall on InsightFace's 112×112 template:
/// dlib's mean face carries both its own five points and the eye centres, nose tip and mouth
/// corners, so the similarity that takes the latter onto InsightFace's template places the
/// former.
#[must_use]
pub fn dlib5_template_112() -> [(f64, f64); 5] {
    let to_arcface = similarity(&EYES_NOSE_MOUTH_TEMPLATE, &ARCFACE_TEMPLATE_112);
    DLIB_5_TEMPLATE.map(|p| to_arcface.apply(p))
}

/// The chip of side `size` from dlib's five shape-predictor points (the fallback when the
/// detector found no face and only the shape predictor's points are known).
#[must_use]
pub fn arcface_chip_from_dlib5(image: &RgbImage, points: &[Point; 5], size: u32) -> RgbImage {
    let s = f64::from(size) / 112.0;
    let template: Vec<(f64, f64)> = dlib5_template_112()
        .iter()
        .map(|&(x, y)| (x * s, y * s))
        .collect();
    let from: Vec<(f64, f64)> = points
        .iter()
        .map(|p| (f64::from(p.x), f64::from(p.y)))
        .collect();
    warp(image, &similarity(&from, &template), size)
}

/// Samples `image` at the inverse of `to_chip` for each chip pixel.
fn warp(image: &RgbImage, to_chip: &Similarity, size: u32) -> RgbImage {
    let mut chip = RgbImage::new(size, size);
    let det = to_chip.a * to_chip.a + to_chip.b * to_chip.b;
    if det <= f64::EPSILON || image.width() == 0 || image.height() == 0 {
        return chip;
    }
    // The inverse similarity: p = A⁻¹ (q − t), A⁻¹ = [[a, b], [−b, a]] / det.
    let (ia, ib) = (to_chip.a / det, to_chip.b / det);
    let (w, h) = (i64::from(image.width()), i64::from(image.height()));
    let pixel = |x: i64, y: i64| -> [f64; 3] {
        if x < 0 || y < 0 || x >= w || y >= h {
            [0.0; 3]
        } else {
            let p = image.get_pixel(x as u32, y as u32).0;
            [f64::from(p[0]), f64::from(p[1]), f64::from(p[2])]
        }
    };
    for (cx, cy, out) in chip.enumerate_pixels_mut() {
        let (qx, qy) = (f64::from(cx) - to_chip.tx, f64::from(cy) - to_chip.ty);
        let (px, py) = (ia * qx + ib * qy, -ib * qx + ia * qy);
        let (x0, y0) = (px.floor(), py.floor());
        let (fx, fy) = (px - x0, py - y0);
        let (x0, y0) = (x0 as i64, y0 as i64);
        let (p00, p10, p01, p11) = (
            pixel(x0, y0),
            pixel(x0 + 1, y0),
            pixel(x0, y0 + 1),
            pixel(x0 + 1, y0 + 1),
        );
        let mut v = [0u8; 3];
        for c in 0..3 {
            let top = p00[c] * (1.0 - fx) + p10[c] * fx;
            let bottom = p01[c] * (1.0 - fx) + p11[c] * fx;
            v[c] = (top * (1.0 - fy) + bottom * fy).round().clamp(0.0, 255.0) as u8;
        }
        *out = Rgb(v);
    }
    chip
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn landmarks_on_the_template_give_the_picture_itself() {
        let mut image = RgbImage::new(112, 112);
        for (x, y, p) in image.enumerate_pixels_mut() {
            *p = Rgb([x as u8, y as u8, (x + y) as u8]);
        }
        let points = ARCFACE_TEMPLATE_112.map(|(x, y)| Point::new(x as f32, y as f32));
        assert_eq!(arcface_chip(&image, &points, 112), image);
    }

    #[test]
    fn dlibs_points_land_between_the_eyes_and_above_the_mouth() {
        let t = dlib5_template_112();
        let [(ex_r, ey_r), ..] = ARCFACE_TEMPLATE_112[1..2] else {
            unreachable!()
        };
        let (ex_l, ey_l) = ARCFACE_TEMPLATE_112[0];
        // The two corners of each eye sit either side of that eye's centre.
        assert!(t[0].0 > ex_r && t[1].0 < ex_r && (t[0].1 - ey_r).abs() < 6.0);
        assert!(t[2].0 < ex_l && t[3].0 > ex_l && (t[2].1 - ey_l).abs() < 6.0);
        // The nose base is below the nose tip and above the mouth.
        assert!(t[4].1 > ARCFACE_TEMPLATE_112[2].1 && t[4].1 < ARCFACE_TEMPLATE_112[3].1);
        assert!((t[4].0 - 56.0).abs() < 3.0);
    }

    #[test]
    fn a_face_twice_as_large_and_shifted_is_scaled_back() {
        // A picture whose value is its x coordinate / 2 + 10: the chip of landmarks at 2·t + 20
        // reads x = 2·cx + 20, so each chip pixel holds cx + 20.
        let mut image = RgbImage::new(300, 300);
        for (x, _, p) in image.enumerate_pixels_mut() {
            *p = Rgb([(x / 2 + 10).min(255) as u8, 0, 0]);
        }
        let points = ARCFACE_TEMPLATE_112
            .map(|(x, y)| Point::new((2.0 * x + 20.0) as f32, (2.0 * y + 20.0) as f32));
        let chip = arcface_chip(&image, &points, 112);
        for cx in [0u32, 30, 111] {
            let want = cx as i32 + 20;
            assert!(
                (i32::from(chip.get_pixel(cx, 50)[0]) - want).abs() <= 1,
                "{cx}"
            );
        }
    }
}
