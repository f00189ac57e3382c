//! Area resampling, bit-exact with PyTorch's `interpolate(mode="area")` (that is
//! `adaptive_avg_pool2d`), which facenet-pytorch uses for the image pyramid and for the R-Net
//! and O-Net crops, followed by its pixel normalisation `(x - 127.5) * 0.0078125`.
//!
//! Output cell `i` of `n` over an input run of `len` pixels averages input pixels
//! `floor(i * len / n) .. ceil((i + 1) * len / n)`. Every window sum comes from one summed-area
//! table of the whole image built once per frame, so a pyramid level or a crop costs four
//! look-ups per output value whatever its scale. The table holds wrapping `u32` sums: a window
//! sum is the exact integer as long as the window itself sums below 2^32 (over 16 million
//! pixels of 255), and PyTorch's `f32` window sums of whole numbers are exact too, so
//! `sum / kh / kw` rounds the same way as PyTorch's kernel.

use image::RgbImage;

use super::boxes::CropWindow;

/// facenet-pytorch's pixel normalisation: `(x - 127.5) * 0.0078125`.
fn normalise(mean: f32) -> f32 {
    (mean - 127.5) * 0.007_812_5
}

/// The windows `[start, end)` that PyTorch's adaptive pooling averages for each output cell.
fn windows(len: usize, n: usize) -> Vec<(usize, usize)> {
    (0..n)
        .map(|i| (i * len / n, ((i + 1) * len).div_ceil(n)))
        .collect()
}

/// A summed-area table of an RGB image: entry `(y, x, c)` holds the sum of channel `c` over
/// rows `0..y` and columns `0..x`, wrapping modulo 2^32.
pub(super) struct AreaSampler {
    width: usize,
    height: usize,
    /// `(height + 1) * (width + 1) * 3` sums, row-major, channels interleaved.
    table: Vec<u32>,
}

impl AreaSampler {
    /// Builds the table of `image` (one pass over its pixels).
    pub fn new(image: &RgbImage) -> Self {
        let (width, height) = (image.width() as usize, image.height() as usize);
        let stride = (width + 1) * 3;
        let mut table = vec![0u32; (height + 1) * stride];
        let pixels = image.as_raw();
        for y in 0..height {
            let (done, rest) = table.split_at_mut((y + 1) * stride);
            let above = &done[y * stride..];
            let row = &mut rest[..stride];
            let src = &pixels[y * width * 3..(y + 1) * width * 3];
            let mut run = [0u32; 3];
            for ((dst, up), px) in row[3..]
                .chunks_exact_mut(3)
                .zip(above[3..].chunks_exact(3))
                .zip(src.chunks_exact(3))
            {
                run[0] = run[0].wrapping_add(u32::from(px[0]));
                run[1] = run[1].wrapping_add(u32::from(px[1]));
                run[2] = run[2].wrapping_add(u32::from(px[2]));
                dst[0] = up[0].wrapping_add(run[0]);
                dst[1] = up[1].wrapping_add(run[1]);
                dst[2] = up[2].wrapping_add(run[2]);
            }
        }
        Self {
            width,
            height,
            table,
        }
    }

    /// The whole image as a crop window.
    pub fn full(&self) -> CropWindow {
        CropWindow {
            x0: 0,
            y0: 0,
            x1: self.width,
            y1: self.height,
        }
    }

    /// Resizes the `crop` of the image to `out_h` x `out_w` by area averaging, normalises it and
    /// appends it to `out` as planes `[3, out_h, out_w]` (the layout of one NCHW batch item).
    /// The crop must lie inside the image and be non-empty.
    pub fn resize_into(&self, crop: CropWindow, out_h: usize, out_w: usize, out: &mut Vec<f32>) {
        debug_assert!(crop.x0 < crop.x1 && crop.x1 <= self.width);
        debug_assert!(crop.y0 < crop.y1 && crop.y1 <= self.height);
        let stride = (self.width + 1) * 3;
        // Per output column: table offsets of its left and right edges, and its width.
        let cols: Vec<(usize, usize, f32)> = windows(crop.x1 - crop.x0, out_w)
            .into_iter()
            .map(|(xa, xb)| ((crop.x0 + xa) * 3, (crop.x0 + xb) * 3, (xb - xa) as f32))
            .collect();
        let rows = windows(crop.y1 - crop.y0, out_h);
        let base = out.len();
        out.resize(base + 3 * out_h * out_w, 0.0);
        for (c, plane) in out[base..].chunks_exact_mut(out_h * out_w).enumerate() {
            for (&(ya, yb), dst) in rows.iter().zip(plane.chunks_exact_mut(out_w)) {
                let top = &self.table[(crop.y0 + ya) * stride + c..];
                let bottom = &self.table[(crop.y0 + yb) * stride + c..];
                let kh = (yb - ya) as f32;
                for (d, &(l, r, kw)) in dst.iter_mut().zip(&cols) {
                    let sum = bottom[r]
                        .wrapping_sub(bottom[l])
                        .wrapping_sub(top[r])
                        .wrapping_add(top[l]);
                    *d = normalise(sum as f32 / kh / kw);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_follow_adaptive_pooling() {
        // 5 -> 2: [0, 3) and [2, 5) overlap by one, as PyTorch's adaptive windows do.
        assert_eq!(windows(5, 2), vec![(0, 3), (2, 5)]);
        // 2 -> 4 (upsampling) repeats each pixel.
        assert_eq!(windows(2, 4), vec![(0, 1), (0, 1), (1, 2), (1, 2)]);
        assert_eq!(windows(4, 2), vec![(0, 2), (2, 4)]);
    }

    #[test]
    fn resizing_averages_each_window_and_normalises() {
        // A 3 x 2 image whose red channel is 0, 30, 60 / 90, 120, 150 (row-major), green 255,
        // blue the column index.
        let image = RgbImage::from_fn(3, 2, |x, y| {
            image::Rgb([((y * 3 + x) * 30) as u8, 255, x as u8])
        });
        let sampler = AreaSampler::new(&image);
        let mut out = Vec::new();
        sampler.resize_into(sampler.full(), 1, 2, &mut out);
        // Columns [0, 2) and [1, 3) over both rows.
        let red = [
            (0.0 + 30.0 + 90.0 + 120.0) / 4.0,
            (30.0 + 60.0 + 120.0 + 150.0) / 4.0,
        ];
        let expect: Vec<f32> = [red[0], red[1], 255.0, 255.0, 0.5, 1.5]
            .iter()
            .map(|&m| normalise(m))
            .collect();
        assert_eq!(out, expect);
        // A crop of the right-bottom pixel, upsampled to 2 x 2, appended after the first.
        let crop = CropWindow {
            x0: 2,
            y0: 1,
            x1: 3,
            y1: 2,
        };
        sampler.resize_into(crop, 2, 2, &mut out);
        assert_eq!(out.len(), 6 + 12);
        assert_eq!(&out[6..10], &[normalise(150.0); 4]);
        assert_eq!(&out[14..18], &[normalise(2.0); 4]);
    }
}
