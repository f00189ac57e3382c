//! A 2-D convolution for small images that is faster on the CPU than candle's general one:
//! an `im2col` custom op that copies whole input rows (no per-call layout changes), with a row
//! of ones so that the bias rides along in the single matrix product with the flattened filters
//! (flattened once, at load time). On other devices it falls back to candle's `conv2d`.

use candle_core::{CpuStorage, CustomOp1, Layout, Module, Shape, Tensor};

/// `[B, C, H, W]` to `[B, C·k·k + 1, Ho·Wo]`: row `(c·k + ky)·k + kx` holds the input value
/// under filter tap `(c, ky, kx)` for every output position (zero outside the image), and the
/// last row is all ones (for the bias).
struct Im2Col {
    kernel: usize,
    stride: usize,
    padding: usize,
}

impl Im2Col {
    fn out_size(&self, side: usize) -> usize {
        (side + 2 * self.padding - self.kernel) / self.stride + 1
    }
}

impl CustomOp1 for Im2Col {
    fn name(&self) -> &'static str {
        "dlib-im2col"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let CpuStorage::F32(data) = storage else {
            candle_core::bail!("im2col expects f32 input");
        };
        let (b, c, h, w) = layout.shape().dims4()?;
        let Some((start, end)) = layout.contiguous_offsets() else {
            candle_core::bail!("im2col expects a contiguous input");
        };
        if h + 2 * self.padding < self.kernel || w + 2 * self.padding < self.kernel {
            candle_core::bail!(
                "im2col: a {h}x{w} input is smaller than the {}x{} filter",
                self.kernel,
                self.kernel
            );
        }
        let input = &data[start..end];
        let (k, s, p) = (self.kernel, self.stride, self.padding as isize);
        let (ho, wo) = (self.out_size(h), self.out_size(w));
        let n = ho * wo;
        let rows = c * k * k + 1;
        let mut out = vec![0.0f32; b * rows * n];
        for bi in 0..b {
            let img = &input[bi * c * h * w..(bi + 1) * c * h * w];
            let cols = &mut out[bi * rows * n..(bi + 1) * rows * n];
            for ci in 0..c {
                let plane = &img[ci * h * w..(ci + 1) * h * w];
                for ky in 0..k {
                    for kx in 0..k {
                        let row = &mut cols[((ci * k + ky) * k + kx) * n..][..n];
                        // The output columns whose input x is inside the image.
                        let x0 = (p - kx as isize).max(0) as usize;
                        let first = x0.div_ceil(s);
                        let last = ((w as isize - 1 + p - kx as isize).div_euclid(s as isize) + 1)
                            .clamp(0, wo as isize) as usize;
                        for oy in 0..ho {
                            let iy = (oy * s + ky) as isize - p;
                            if iy < 0 || iy >= h as isize || first >= last {
                                continue;
                            }
                            let src = &plane[iy as usize * w..][..w];
                            let dst = &mut row[oy * wo..][..wo];
                            if s == 1 {
                                let ix0 = (first + kx) as isize - p;
                                dst[first..last]
                                    .copy_from_slice(&src[ix0 as usize..][..last - first]);
                            } else {
                                for (ox, d) in dst.iter_mut().enumerate().take(last).skip(first) {
                                    *d = src[((ox * s + kx) as isize - p) as usize];
                                }
                            }
                        }
                    }
                }
            }
            cols[(rows - 1) * n..].fill(1.0);
        }
        Ok((CpuStorage::F32(out), Shape::from((b, rows, n))))
    }
}

/// A convolution with bias and square filters.
pub struct Conv {
    /// `[out, in·k·k + 1]`: the filters flattened, with the bias as the last column.
    packed: Tensor,
    /// `[out, in, k, k]` and `[out]`, for devices other than the CPU.
    weight: Tensor,
    bias: Tensor,
    kernel: usize,
    stride: usize,
    padding: usize,
}

impl Conv {
    /// A convolution from filters `[out, in, k, k]` and a bias `[out]`.
    pub fn new(
        weight: Tensor,
        bias: Tensor,
        stride: usize,
        padding: usize,
    ) -> candle_core::Result<Self> {
        let (out_c, in_c, k, _) = weight.dims4()?;
        let packed = Tensor::cat(
            &[
                weight.reshape((out_c, in_c * k * k))?,
                bias.reshape((out_c, 1))?,
            ],
            1,
        )?;
        Ok(Self {
            packed,
            weight,
            bias,
            kernel: k,
            stride,
            padding,
        })
    }
}

impl Module for Conv {
    /// `[B, in, H, W]` to `[B, out, Ho, Wo]`.
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        if !x.device().is_cpu() {
            let y = x.conv2d(&self.weight, self.padding, self.stride, 1, 1)?;
            return y.broadcast_add(&self.bias.reshape((1, (), 1, 1))?);
        }
        let (b, _, h, w) = x.dims4()?;
        let op = Im2Col {
            kernel: self.kernel,
            stride: self.stride,
            padding: self.padding,
        };
        let (ho, wo) = (op.out_size(h), op.out_size(w));
        let cols = x.contiguous()?.apply_op1_no_bwd(&op)?; // [B, in·k·k + 1, Ho·Wo]
        let y = self.packed.broadcast_left(b)?.matmul(&cols)?; // [B, out, Ho·Wo]
        y.reshape((b, (), ho, wo))
    }
}

#[cfg(test)]
mod tests {
    use candle_core::{Device, Tensor};

    use super::*;

    #[test]
    fn matches_candle_conv2d_for_every_stride_and_padding_used() {
        let dev = Device::Cpu;
        for (c_in, side, k, stride, padding) in [
            (3, 15, 7, 2, 0),
            (4, 9, 3, 1, 1),
            (4, 9, 3, 2, 0),
            (2, 4, 3, 2, 0),
            (2, 1, 3, 1, 1),
            (2, 8, 3, 1, 0),
        ] {
            let x = Tensor::randn(0f32, 1.0, (2, c_in, side, side), &dev).unwrap();
            let w = Tensor::randn(0f32, 1.0, (5, c_in, k, k), &dev).unwrap();
            let b = Tensor::randn(0f32, 1.0, 5, &dev).unwrap();
            let want = x
                .conv2d(&w, padding, stride, 1, 1)
                .unwrap()
                .broadcast_add(&b.reshape((1, 5, 1, 1)).unwrap())
                .unwrap();
            let got = Conv::new(w, b, stride, padding)
                .unwrap()
                .forward(&x)
                .unwrap();
            assert_eq!(got.dims(), want.dims());
            let diff = (got - want)
                .unwrap()
                .abs()
                .unwrap()
                .max_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap();
            assert!(diff < 1e-4, "k{k} s{stride} p{padding}: {diff}");
        }
    }
}
