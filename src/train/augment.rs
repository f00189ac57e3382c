//! Training-image augmentation: a random translation by whole pixels, and optionally a random
//! rotation and scaling about the centre (bilinear sampling, zero outside the image). Small
//! digit sets gain most from these.

use crate::vision::encoders::init::SplitMix64;

/// How much to perturb a training image.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Augment {
    /// Largest translation, in pixels.
    pub max_shift: usize,
    /// Largest rotation, in degrees.
    pub max_rotation_deg: f32,
    /// Largest relative change of size (0.1 = ±10 %).
    pub max_scale: f32,
}

impl Augment {
    /// Whether it changes nothing.
    #[must_use]
    pub fn is_identity(&self) -> bool {
        self.max_shift == 0 && self.max_rotation_deg == 0.0 && self.max_scale == 0.0
    }
}

/// Appends `src` (an `h × w × c` image) to `dst`, randomly perturbed by `aug`.
pub fn augment_into(
    src: &[f32],
    (h, w, c): (usize, usize, usize),
    aug: &Augment,
    rng: &mut SplitMix64,
    dst: &mut Vec<f32>,
) {
    let s = aug.max_shift as isize;
    let r = 2 * aug.max_shift + 1;
    let (dx, dy) = (rng.below(r) as isize - s, rng.below(r) as isize - s);
    if aug.max_rotation_deg == 0.0 && aug.max_scale == 0.0 {
        // Whole-pixel translation, exact.
        let (hi, wi) = (h as isize, w as isize);
        for y in 0..hi {
            for x in 0..wi {
                let (sy, sx) = (y - dy, x - dx);
                if (0..hi).contains(&sy) && (0..wi).contains(&sx) {
                    let at = (sy * wi + sx) as usize * c;
                    dst.extend_from_slice(&src[at..at + c]);
                } else {
                    dst.extend(std::iter::repeat_n(0.0, c));
                }
            }
        }
        return;
    }
    let angle = (2.0 * rng.next_f64() - 1.0) as f32 * aug.max_rotation_deg.to_radians();
    let scale = 1.0 + (2.0 * rng.next_f64() - 1.0) as f32 * aug.max_scale;
    let (sin, cos) = angle.sin_cos();
    let (cy, cx) = ((h as f32 - 1.0) / 2.0, (w as f32 - 1.0) / 2.0);
    let at = |y: isize, x: isize, ch: usize| -> f32 {
        if y < 0 || x < 0 || y >= h as isize || x >= w as isize {
            0.0
        } else {
            src[(y as usize * w + x as usize) * c + ch]
        }
    };
    for y in 0..h {
        for x in 0..w {
            // Inverse map: output pixel → source position.
            let (oy, ox) = (y as f32 - cy - dy as f32, x as f32 - cx - dx as f32);
            let sx = (cos * ox + sin * oy) / scale + cx;
            let sy = (-sin * ox + cos * oy) / scale + cy;
            let (x0, y0) = (sx.floor(), sy.floor());
            let (fx, fy) = (sx - x0, sy - y0);
            let (x0, y0) = (x0 as isize, y0 as isize);
            for ch in 0..c {
                let top = at(y0, x0, ch) * (1.0 - fx) + at(y0, x0 + 1, ch) * fx;
                let bottom = at(y0 + 1, x0, ch) * (1.0 - fx) + at(y0 + 1, x0 + 1, ch) * fx;
                dst.push(top * (1.0 - fy) + bottom * fy);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_rotation_or_scale_is_an_exact_shift_and_the_identity_is_a_copy() {
        let src: Vec<f32> = (0..9).map(|v| v as f32).collect();
        let mut out = Vec::new();
        augment_into(
            &src,
            (3, 3, 1),
            &Augment::default(),
            &mut SplitMix64::new(1),
            &mut out,
        );
        assert_eq!(out, src);
        // A zero-angle, zero-scale affine path would also reproduce the image; a rotation keeps
        // the centre pixel of an odd-sized image fixed.
        let aug = Augment {
            max_shift: 0,
            max_rotation_deg: 30.0,
            max_scale: 0.0,
        };
        let mut out = Vec::new();
        augment_into(&src, (3, 3, 1), &aug, &mut SplitMix64::new(2), &mut out);
        assert!((out[4] - 4.0).abs() < 1e-5);
        assert!(Augment::default().is_identity() && !aug.is_identity());
    }
}
