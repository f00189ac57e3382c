//! dlib's `extract_image_chip` (`dlib/image_transforms/interpolation.h`) for RGB images,
//! reproduced step by step: a `chip_details` rectangle and angle, an image pyramid
//! (`pyramid_down<2>`) when the chip is much smaller than its source region, and bilinear
//! interpolation with black outside the source.

use image::{Rgb, RgbImage};

/// A rectangle with `f64` corners, inclusive like dlib's `drectangle` (width = right - left + 1).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DRect {
    /// Left edge.
    pub left: f64,
    /// Top edge.
    pub top: f64,
    /// Right edge (inclusive).
    pub right: f64,
    /// Bottom edge (inclusive).
    pub bottom: f64,
}

impl DRect {
    fn is_empty(&self) -> bool {
        self.top > self.bottom || self.left > self.right
    }

    fn width(&self) -> f64 {
        if self.is_empty() {
            0.0
        } else {
            self.right - self.left + 1.0
        }
    }

    fn height(&self) -> f64 {
        if self.is_empty() {
            0.0
        } else {
            self.bottom - self.top + 1.0
        }
    }

    fn area(&self) -> f64 {
        self.width() * self.height()
    }

    fn center(&self) -> (f64, f64) {
        (
            f64::midpoint(self.left, self.right),
            f64::midpoint(self.top, self.bottom),
        )
    }

    /// dlib's `rectangle(drectangle)`: each edge rounded half up.
    fn round(&self) -> [i64; 4] {
        let r = |v: f64| (v + 0.5).floor() as i64;
        [r(self.left), r(self.top), r(self.right), r(self.bottom)]
    }

    /// The smallest rectangle holding the points.
    fn around(points: &[(f64, f64)]) -> Self {
        let fold = |f: fn(f64, f64) -> f64, init: f64, pick: fn(&(f64, f64)) -> f64| {
            points.iter().map(pick).fold(init, f)
        };
        Self {
            left: fold(f64::min, f64::INFINITY, |p| p.0),
            top: fold(f64::min, f64::INFINITY, |p| p.1),
            right: fold(f64::max, f64::NEG_INFINITY, |p| p.0),
            bottom: fold(f64::max, f64::NEG_INFINITY, |p| p.1),
        }
    }

    /// `pyramid_down<2>::rect_down`: each corner mapped by `p / 2 - (1.25, 0.75)`.
    fn down(&self) -> Self {
        Self::around(&[
            (self.left / 2.0 - 1.25, self.top / 2.0 - 0.75),
            (self.right / 2.0 - 1.25, self.bottom / 2.0 - 0.75),
        ])
    }

    fn translate(&self, dx: f64, dy: f64) -> Self {
        Self {
            left: self.left + dx,
            top: self.top + dy,
            right: self.right + dx,
            bottom: self.bottom + dy,
        }
    }
}

/// Where a chip lies in an image (dlib's `chip_details`): a rectangle, rotated by `angle`
/// radians about its centre, sampled into `rows × cols` pixels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ChipDetails {
    /// The unrotated source rectangle.
    pub rect: DRect,
    /// The rotation, in radians.
    pub angle: f64,
    /// Chip height in pixels.
    pub rows: u32,
    /// Chip width in pixels.
    pub cols: u32,
}

fn rotate((cx, cy): (f64, f64), (x, y): (f64, f64), angle: f64) -> (f64, f64) {
    let (sin, cos) = if angle == 0.0 {
        (0.0, 1.0)
    } else {
        angle.sin_cos()
    };
    let (dx, dy) = (x - cx, y - cy);
    (cos * dx - sin * dy + cx, sin * dx + cos * dy + cy)
}

/// `pyramid_down<2>` on RGB: a 5×5 `[1 4 6 4 1]` filter in 16-bit integers, keeping every
/// other row and column; images of 8 pixels or less on a side become empty.
fn pyramid_down(img: &RgbImage) -> RgbImage {
    let (w, h) = (img.width() as usize, img.height() as usize);
    if w <= 8 || h <= 8 {
        return RgbImage::new(0, 0);
    }
    let (tw, th) = ((w - 3) / 2, (h - 3) / 2);
    let raw = img.as_raw();
    let mut temp = vec![0u16; h * tw * 3];
    for r in 0..h {
        for c in 0..tw {
            for ch in 0..3 {
                let at = |k: usize| u16::from(raw[(r * w + 2 * c + k) * 3 + ch]);
                temp[(r * tw + c) * 3 + ch] = at(0) + at(1) * 4 + at(2) * 6 + at(3) * 4 + at(4);
            }
        }
    }
    let mut out = RgbImage::new(tw as u32, th as u32);
    for (dr, r) in (2..h - 2).step_by(2).enumerate().take(th) {
        for c in 0..tw {
            let mut px = [0u8; 3];
            for (ch, v) in px.iter_mut().enumerate() {
                let at = |rr: usize| temp[(rr * tw + c) * 3 + ch];
                let sum = at(r - 2)
                    .wrapping_add(at(r - 1).wrapping_mul(4))
                    .wrapping_add(at(r).wrapping_mul(6))
                    .wrapping_add(at(r + 1).wrapping_mul(4))
                    .wrapping_add(at(r + 2));
                *v = (sum / 256) as u8;
            }
            out.put_pixel(c as u32, dr as u32, Rgb(px));
        }
    }
    out
}

/// Bilinear interpolation as dlib's `interpolate_bilinear`: `None` unless all four neighbours
/// are inside; channels truncated to integers.
fn bilinear(img: &RgbImage, x: f64, y: f64) -> Option<Rgb<u8>> {
    let (left, top) = (x.floor(), y.floor());
    if left < 0.0
        || top < 0.0
        || left + 1.0 >= f64::from(img.width())
        || top + 1.0 >= f64::from(img.height())
    {
        return None;
    }
    let (l, t) = (left as u32, top as u32);
    let (lr, tb) = (x - left, y - top);
    let (tl, tr) = (img.get_pixel(l, t), img.get_pixel(l + 1, t));
    let (bl, br) = (img.get_pixel(l, t + 1), img.get_pixel(l + 1, t + 1));
    let mut out = [0u8; 3];
    for (c, o) in out.iter_mut().enumerate() {
        let v = |p: &Rgb<u8>| f64::from(p[c]);
        let value =
            (1.0 - tb) * ((1.0 - lr) * v(tl) + lr * v(tr)) + tb * ((1.0 - lr) * v(bl) + lr * v(br));
        *o = value as u8;
    }
    Some(Rgb(out))
}

/// The part of `img` inside `[left, top, right, bottom]` (inclusive, already inside the image).
fn crop(img: &RgbImage, [l, t, r, b]: [i64; 4]) -> RgbImage {
    if r < l || b < t {
        return RgbImage::new(0, 0);
    }
    image::imageops::crop_imm(
        img,
        l as u32,
        t as u32,
        (r - l + 1) as u32,
        (b - t + 1) as u32,
    )
    .to_image()
}

/// dlib's `extract_image_chip(img, location, chip)` with bilinear interpolation.
#[must_use]
pub fn extract_image_chip(img: &RgbImage, loc: &ChipDetails) -> RgbImage {
    let (rows, cols) = (loc.rows, loc.cols);
    let mut chip = RgbImage::new(cols, rows);
    let size = f64::from(rows) * f64::from(cols);
    if size == 0.0 || loc.rect.is_empty() {
        return chip;
    }
    // dlib compares exactly, so a chip is copied only when it is exactly the rectangle.
    #[allow(clippy::float_cmp)]
    let plain_copy = loc.angle == 0.0
        && f64::from(rows) == loc.rect.height()
        && f64::from(cols) == loc.rect.width();
    if plain_copy {
        // dlib's basic_extract_image_chip: a plain copy, black outside the image.
        let [l, t, _, _] = loc.rect.round();
        for (c, r, px) in chip.enumerate_pixels_mut() {
            let (x, y) = (l + i64::from(c), t + i64::from(r));
            if x >= 0 && y >= 0 && x < i64::from(img.width()) && y < i64::from(img.height()) {
                *px = *img.get_pixel(x as u32, y as u32);
            }
        }
        return chip;
    }
    // How deep a pyramid the chip needs, and the image region (with a margin) it reads.
    let (mut depth, mut grow, mut rect) = (0usize, 2.0f64, loc.rect.down());
    while rect.area() > size {
        rect = rect.down();
        depth += 1;
        grow = grow * 2.0 + 2.0;
    }
    let r = loc.rect;
    let center = r.center();
    let corners = [
        (r.left, r.top),
        (r.right, r.top),
        (r.left, r.bottom),
        (r.right, r.bottom),
    ];
    let rotated: Vec<_> = corners
        .iter()
        .map(|&p| rotate(center, p, loc.angle))
        .collect();
    let rot = DRect::around(&rotated);
    let grown = DRect {
        left: (rot.left - grow).max(0.0),
        top: (rot.top - grow).max(0.0),
        right: (rot.right + grow).min(f64::from(img.width()) - 1.0),
        bottom: (rot.bottom + grow).min(f64::from(img.height()) - 1.0),
    };
    let bbox = grown.round();
    let base = crop(img, bbox);
    let mut levels: Vec<RgbImage> = Vec::with_capacity(depth);
    for i in 0..depth {
        let next = pyramid_down(levels.get(i.wrapping_sub(1)).unwrap_or(&base));
        levels.push(next);
    }
    // The level to sample from, and the chip's rectangle in that level's coordinates.
    let mut rect = loc.rect.translate(-(bbox[0] as f64), -(bbox[1] as f64));
    let mut level = None;
    while rect.down().area() > size {
        level = Some(level.map_or(0, |l: usize| l + 1));
        rect = rect.down();
    }
    let source = level.and_then(|l| levels.get(l)).unwrap_or(&base);
    // The affine map sending chip corners (0,0), (cols-1,0), (0,rows-1) to the rotated rect.
    let c = rect.center();
    let a = rotate(c, (rect.left, rect.top), loc.angle);
    let b = rotate(c, (rect.right, rect.top), loc.angle);
    let d = rotate(c, (rect.left, rect.bottom), loc.angle);
    let (sx, sy) = (f64::from(cols.max(2) - 1), f64::from(rows.max(2) - 1));
    let m = [
        (b.0 - a.0) / sx,
        (d.0 - a.0) / sy,
        (b.1 - a.1) / sx,
        (d.1 - a.1) / sy,
    ];
    for (x, y, px) in chip.enumerate_pixels_mut() {
        let (x, y) = (f64::from(x), f64::from(y));
        let (ix, iy) = (m[0] * x + m[1] * y + a.0, m[2] * x + m[3] * y + a.1);
        if let Some(v) = bilinear(source, ix, iy) {
            *px = v;
        }
    }
    chip
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pyramid_down_of_a_flat_image_stays_flat_and_has_dlibs_size() {
        let img = RgbImage::from_pixel(21, 12, Rgb([200, 10, 255]));
        let down = pyramid_down(&img);
        assert_eq!(down.dimensions(), (9, 4));
        // 16 · 16 · 255 / 256 = 255 exactly: the 16-bit sums do not overflow.
        assert!(down.pixels().all(|p| *p == Rgb([200, 10, 255])));
        assert_eq!(pyramid_down(&RgbImage::new(8, 100)).dimensions(), (0, 0));
    }

    #[test]
    fn an_unrotated_chip_of_the_same_size_is_a_plain_copy() {
        let mut img = RgbImage::new(10, 10);
        for (x, y, p) in img.enumerate_pixels_mut() {
            *p = Rgb([x as u8, y as u8, 7]);
        }
        let rect = DRect {
            left: 6.0,
            top: -1.0,
            right: 9.0,
            bottom: 2.0,
        };
        let chip = extract_image_chip(
            &img,
            &ChipDetails {
                rect,
                angle: 0.0,
                rows: 4,
                cols: 4,
            },
        );
        assert_eq!(*chip.get_pixel(0, 1), Rgb([6, 0, 7]));
        assert_eq!(*chip.get_pixel(0, 0), Rgb([0, 0, 0])); // above the image
        // A chip entirely outside the image is black, not a panic.
        let far = DRect {
            left: 500.0,
            top: 500.0,
            right: 900.0,
            bottom: 900.0,
        };
        let chip = extract_image_chip(
            &img,
            &ChipDetails {
                rect: far,
                angle: 0.3,
                rows: 5,
                cols: 5,
            },
        );
        assert!(chip.pixels().all(|p| *p == Rgb([0, 0, 0])));
    }

    #[test]
    fn a_half_size_chip_interpolates_between_pixels() {
        // A horizontal ramp sampled at half resolution, no rotation: every chip pixel sits on
        // an image pixel, so the values are the ramp's.
        let img = RgbImage::from_fn(40, 40, |x, _| Rgb([(x * 5) as u8, 0, 0]));
        let rect = DRect {
            left: 10.0,
            top: 10.0,
            right: 28.0,
            bottom: 28.0,
        };
        let chip = extract_image_chip(
            &img,
            &ChipDetails {
                rect,
                angle: 0.0,
                rows: 10,
                cols: 10,
            },
        );
        assert_eq!(chip.get_pixel(0, 0)[0], 50);
        assert_eq!(chip.get_pixel(9, 9)[0], 140);
        assert_eq!(chip.get_pixel(1, 5)[0], 60);
    }
}
