//! Face alignment to dlib's face chip.
//!
//! * [`dlib_chip`]: dlib's `get_face_chip_details` + `extract_image_chip` for dlib's five
//!   landmarks (from [`ShapePredictor::shape5`](super::shape::ShapePredictor::shape5)): the
//!   least-squares similarity from dlib's 5-point template to the landmarks, sampled
//!   bilinearly. With `size = 150, padding = 0.25` this is the chip dlib's face encoder and
//!   `face_recognition` use, pixel for pixel.
//! * [`chip_from_eyes_nose_mouth`]: the same kind of chip from MTCNN-style points (eye
//!   centres, nose tip, mouth corners), fitted to a template taken from dlib's own mean face
//!   (the 68-point mean shape that `get_face_chip_details` uses), so that the chips look like
//!   dlib's.
//!
//! Coordinates are pixels with `(0, 0)` at the centre of the top-left pixel, as in dlib.

use image::RgbImage;

use super::chip::{ChipDetails, DRect, extract_image_chip};
use crate::core::Point;

/// dlib's 5-point chip template (`get_face_chip_details`), in the unit square before padding:
/// outer and inner corner of the eye on the image's right, outer and inner corner of the
/// other eye, base of the nose.
pub const DLIB_5_TEMPLATE: [(f64, f64); 5] = [
    (0.859_567_459_599_2, 0.213_498_153_801_4),
    (0.646_060_476_410_4, 0.228_967_438_767_7),
    (0.120_575_062_078_9, 0.213_727_452_684_8),
    (0.334_085_061_371_2, 0.229_064_240_324_2),
    (0.490_112_313_567_9, 0.627_797_531_647_5),
];

/// The MTCNN-style template in the same frame, from dlib's 68-point mean face (the table in
/// `get_face_chip_details`): the means of landmarks 36–41 and 42–47 (the eye on the image's
/// left, then the one on its right), landmark 30 (nose tip), and landmarks 48 and 54 (mouth
/// corners, image left then right).
pub const EYES_NOSE_MOUTH_TEMPLATE: [(f64, f64); 5] = [
    (
        (0.121_737 + 0.187_122 + 0.265_825 + 0.334_606 + 0.260_918 + 0.182_743) / 6.0,
        (0.216_423 + 0.178_758 + 0.179_852 + 0.231_733 + 0.245_099 + 0.244_077) / 6.0,
    ),
    (
        (0.645_647 + 0.714_428 + 0.793_132 + 0.858_516 + 0.797_51 + 0.719_335) / 6.0,
        (0.231_733 + 0.179_852 + 0.178_758 + 0.216_423 + 0.244_077 + 0.245_099) / 6.0,
    ),
    (0.490_127, 0.515_625),
    (0.254_149, 0.780_233),
    (0.726_104, 0.780_233),
];

/// How much each MTCNN-style point counts in the fit: dlib's own template is four eye corners
/// and the nose base, so its chips follow the eyes; weighting the eye centres likewise brings
/// the chips closer to dlib's. Measured with `parity_over_shared_faces`-style runs on 200 faces
/// (dlib's 68-point landmarks standing in for MTCNN), the median L2 distance between the
/// embedding of this chip and that of dlib's chip fell from 0.135 (equal weights) to 0.093.
pub const EYES_NOSE_MOUTH_WEIGHTS: [f64; 5] = [4.0, 4.0, 1.0, 0.5, 0.5];

/// The padding `face_recognition` uses around dlib's template (a quarter of the face width).
pub const DLIB_PADDING: f32 = 0.25;

/// A similarity transform `p -> [[a, -b], [b, a]] p + (tx, ty)` (scale, rotation, shift).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Similarity {
    /// `scale · cos(angle)`.
    pub a: f64,
    /// `scale · sin(angle)`.
    pub b: f64,
    /// Shift in x.
    pub tx: f64,
    /// Shift in y.
    pub ty: f64,
}

impl Similarity {
    /// Applies the transform to a point.
    #[must_use]
    pub fn apply(&self, (x, y): (f64, f64)) -> (f64, f64) {
        (
            self.a * x - self.b * y + self.tx,
            self.b * x + self.a * y + self.ty,
        )
    }
}

/// The least-squares similarity taking `from` onto `to` (Umeyama's solution without reflection,
/// as dlib's `find_similarity_transform`). Degenerate input (all `from` points equal) gives the
/// translation between the means.
#[must_use]
pub fn similarity(from: &[(f64, f64)], to: &[(f64, f64)]) -> Similarity {
    weighted_similarity(from, to, &vec![1.0; from.len()])
}

/// [`similarity`] with a weight per point pair (weighted least squares).
#[must_use]
pub fn weighted_similarity(from: &[(f64, f64)], to: &[(f64, f64)], weights: &[f64]) -> Similarity {
    let pairs = || from.iter().zip(to).zip(weights);
    let total: f64 = pairs().map(|(_, w)| w).sum();
    let total = if total > 0.0 { total } else { 1.0 };
    let (mut mf, mut mt) = ((0.0, 0.0), (0.0, 0.0));
    for ((f, t), w) in pairs() {
        mf = (mf.0 + w * f.0, mf.1 + w * f.1);
        mt = (mt.0 + w * t.0, mt.1 + w * t.1);
    }
    let (mf, mt) = ((mf.0 / total, mf.1 / total), (mt.0 / total, mt.1 / total));
    let (mut dot, mut cross, mut norm) = (0.0, 0.0, 0.0);
    for ((f, t), w) in pairs() {
        let (fx, fy, tx, ty) = (f.0 - mf.0, f.1 - mf.1, t.0 - mt.0, t.1 - mt.1);
        dot += w * (fx * tx + fy * ty);
        cross += w * (fx * ty - fy * tx);
        norm += w * (fx * fx + fy * fy);
    }
    let (a, b) = if norm > 0.0 {
        (dot / norm, cross / norm)
    } else {
        (1.0, 0.0)
    };
    Similarity {
        a,
        b,
        tx: mt.0 - (a * mf.0 - b * mf.1),
        ty: mt.1 - (b * mf.0 + a * mf.1),
    }
}

/// dlib's `chip_details(chip_points, img_points, dims)` for a square chip of side `size`, with
/// the template fitted to the points by weighted least squares (dlib: all weights 1).
#[must_use]
pub fn chip_details(
    template: &[(f64, f64); 5],
    weights: &[f64; 5],
    points: &[Point; 5],
    size: u32,
    padding: f32,
) -> ChipDetails {
    let (pad, side) = (f64::from(padding), f64::from(size));
    let from: Vec<_> = template
        .iter()
        .map(|&(x, y)| {
            (
                (pad + x) / (2.0 * pad + 1.0) * side,
                (pad + y) / (2.0 * pad + 1.0) * side,
            )
        })
        .collect();
    let to: Vec<_> = points
        .iter()
        .map(|p| (f64::from(p.x), f64::from(p.y)))
        .collect();
    let t = weighted_similarity(&from, &to, weights);
    let angle = t.b.atan2(t.a);
    let scale = t.a.hypot(t.b);
    let (cx, cy) = t.apply((side / 2.0, side / 2.0));
    // dlib's centered_drect: an inclusive rectangle, so width - 1 between the edges.
    let (half_w, half_h) = ((side * scale - 1.0) / 2.0, (side * scale - 1.0) / 2.0);
    ChipDetails {
        rect: DRect {
            left: cx - half_w,
            top: cy - half_h,
            right: cx + half_w,
            bottom: cy + half_h,
        },
        angle,
        rows: size,
        cols: size,
    }
}

/// dlib's face chip (`get_face_chip(img, shape, size, padding)`) from dlib's five landmarks.
#[must_use]
pub fn dlib_chip(image: &RgbImage, points: &[Point; 5], size: u32, padding: f32) -> RgbImage {
    extract_image_chip(
        image,
        &chip_details(&DLIB_5_TEMPLATE, &[1.0; 5], points, size, padding),
    )
}

/// A dlib-style face chip (padding 0.25) from MTCNN-style points: left eye centre, right eye
/// centre, nose tip, left mouth corner, right mouth corner (left and right as seen in the
/// image), fitted to [`EYES_NOSE_MOUTH_TEMPLATE`] with [`EYES_NOSE_MOUTH_WEIGHTS`].
#[must_use]
pub fn chip_from_eyes_nose_mouth(image: &RgbImage, points: &[Point; 5], size: u32) -> RgbImage {
    extract_image_chip(
        image,
        &chip_details(
            &EYES_NOSE_MOUTH_TEMPLATE,
            &EYES_NOSE_MOUTH_WEIGHTS,
            points,
            size,
            DLIB_PADDING,
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn similarity_recovers_a_known_transform() {
        let t = Similarity {
            a: 1.5 * 0.3f64.cos(),
            b: 1.5 * 0.3f64.sin(),
            tx: 12.0,
            ty: -4.0,
        };
        let from = [(0.0, 0.0), (10.0, 0.0), (3.0, 7.0), (-2.0, 5.0)];
        let to: Vec<_> = from.iter().map(|&p| t.apply(p)).collect();
        let got = similarity(&from, &to);
        for (g, w) in [(got.a, t.a), (got.b, t.b), (got.tx, t.tx), (got.ty, t.ty)] {
            assert!((g - w).abs() < 1e-12, "{got:?}");
        }
        // A point with weight zero does not pull the fit, however far off it is.
        let (mut from_w, mut to_w) = (from.to_vec(), to.clone());
        from_w.push((5.0, 5.0));
        to_w.push((1000.0, -70.0));
        let w = weighted_similarity(&from_w, &to_w, &[1.0, 2.0, 1.0, 3.0, 0.0]);
        assert!(
            (w.a - t.a).abs() < 1e-12 && (w.tx - t.tx).abs() < 1e-9,
            "{w:?}"
        );
        assert!(similarity(&from_w, &to_w).tx > t.tx + 10.0);
        // Degenerate input: no scale or rotation, only the shift of the means.
        let same = similarity(&[(1.0, 1.0); 3], &[(4.0, 5.0); 3]);
        assert_eq!(
            same,
            Similarity {
                a: 1.0,
                b: 0.0,
                tx: 3.0,
                ty: 4.0
            }
        );
    }

    #[test]
    fn template_points_map_to_the_template_positions_in_the_chip() {
        // Landmarks placed exactly where the template puts them in a 150-pixel chip give an
        // unrotated, unscaled chip rectangle centred on (75, 75). dlib's centered_drect makes
        // it 149 wide between its edges, so it spans 0.5..=149.5 (dlib's own half-pixel shift).
        let side = 150.0;
        let points = DLIB_5_TEMPLATE.map(|(x, y)| {
            Point::new(
                ((0.25 + x) / 1.5 * side) as f32,
                ((0.25 + y) / 1.5 * side) as f32,
            )
        });
        let d = chip_details(&DLIB_5_TEMPLATE, &[1.0; 5], &points, 150, 0.25);
        assert!(d.angle.abs() < 1e-6);
        let near = |v: f64, want: f64| (v - want).abs() < 1e-4;
        assert!(near(d.rect.left, 0.5) && near(d.rect.right, 149.5), "{d:?}");
        assert!(near(d.rect.top, 0.5) && near(d.rect.bottom, 149.5), "{d:?}");
    }
}
