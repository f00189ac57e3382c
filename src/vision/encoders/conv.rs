//! The NHWC convolution as a candle custom op: im2col + candle's matmul, the bias (and for the
//! seed network's block, tanh and 2×2 average pooling) fused into the same op, and a backward
//! pass that reuses the forward pass's im2col matrix and skips the input gradient of the
//! first layer. candle's own conv2d backward (a direct transposed convolution) made the seed
//! network about 15× slower than PyTorch on two cores.

use candle_core::{CpuStorage, CustomOp1, CustomOp3, Device, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::ops::{fast_tanh, values};

/// The geometry of a stride-1 square convolution over an NHWC tensor.
#[derive(Clone, Copy, Debug)]
struct ConvGeometry {
    batch: usize,
    height: usize,
    width: usize,
    channels: usize,
    kernel: usize,
    padding: usize,
}

impl ConvGeometry {
    fn new(shape: &Shape, kernel: usize, padding: usize) -> Result<Self> {
        let (batch, height, width, channels) = shape.dims4()?;
        if height + 2 * padding < kernel || width + 2 * padding < kernel {
            candle_core::bail!(
                "conv: a {height}x{width} input is smaller than the {kernel}x{kernel} kernel"
            )
        }
        Ok(Self {
            batch,
            height,
            width,
            channels,
            kernel,
            padding,
        })
    }

    fn out_h(self) -> usize {
        self.height + 2 * self.padding - self.kernel + 1
    }

    fn out_w(self) -> usize {
        self.width + 2 * self.padding - self.kernel + 1
    }

    /// Length of one im2col row: kernel × kernel × channels.
    fn row(self) -> usize {
        self.kernel * self.kernel * self.channels
    }

    fn image_len(self) -> usize {
        self.height * self.width * self.channels
    }

    fn cols_len(self) -> usize {
        self.out_h() * self.out_w() * self.row()
    }

    /// Calls `f(row_offset, image_offset, len)` for every run of contiguous values that one
    /// output pixel's im2col row copies from the image (runs of kernel × channels values
    /// inside the image, shorter pieces at the padded border).
    fn for_each_run(self, mut f: impl FnMut(usize, usize, usize)) {
        let (k, c, p, w, h) = (
            self.kernel,
            self.channels,
            self.padding,
            self.width,
            self.height,
        );
        let (oh, ow, row) = (self.out_h(), self.out_w(), self.row());
        for oy in 0..oh {
            for ox in 0..ow {
                let base = (oy * ow + ox) * row;
                let interior = ox >= p && ox + k <= w + p;
                for ky in 0..k {
                    let iy = (oy + ky).wrapping_sub(p);
                    if iy >= h {
                        continue;
                    }
                    if interior {
                        f(base + ky * k * c, (iy * w + ox - p) * c, k * c);
                    } else {
                        for kx in 0..k {
                            let ix = (ox + kx).wrapping_sub(p);
                            if ix < w {
                                f(base + (ky * k + kx) * c, (iy * w + ix) * c, c);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// NHWC im2col: `[B, H, W, C]` → `[B·oh·ow, k·k·C]` (zeros where the kernel leaves the image).
struct Im2Col {
    kernel: usize,
    padding: usize,
}

impl CustomOp1 for Im2Col {
    fn name(&self) -> &'static str {
        "im2col-nhwc"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = values(storage, layout, self.name())?;
        let g = ConvGeometry::new(layout.shape(), self.kernel, self.padding)?;
        let mut out = vec![0f32; g.batch * g.cols_len()];
        out.par_chunks_mut(g.cols_len().max(1))
            .zip(x.par_chunks(g.image_len().max(1)))
            .for_each(|(cols, image)| {
                g.for_each_run(|dst, src, len| {
                    cols[dst..dst + len].copy_from_slice(&image[src..src + len]);
                });
            });
        Ok((
            CpuStorage::F32(out),
            Shape::from((g.batch * g.out_h() * g.out_w(), g.row())),
        ))
    }
}

/// The adjoint of [`Im2Col`]: sums im2col rows back into an NHWC image.
struct Col2Im {
    geometry: ConvGeometry,
}

impl CustomOp1 for Col2Im {
    fn name(&self) -> &'static str {
        "col2im-nhwc"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let cols = values(storage, layout, self.name())?;
        let g = self.geometry;
        let mut out = vec![0f32; g.batch * g.image_len()];
        out.par_chunks_mut(g.image_len().max(1))
            .zip(cols.par_chunks(g.cols_len().max(1)))
            .for_each(|(image, cols)| {
                g.for_each_run(|src, dst, len| {
                    for (d, s) in image[dst..dst + len].iter_mut().zip(&cols[src..src + len]) {
                        *d += s;
                    }
                });
            });
        Ok((
            CpuStorage::F32(out),
            Shape::from((g.batch, g.height, g.width, g.channels)),
        ))
    }
}

/// Convolution of an NHWC input with a `[k·k·C, C_out]` weight matrix and a bias, stride 1.
/// The forward pass keeps its im2col matrix for the backward pass.
struct Conv {
    kernel: usize,
    padding: usize,
    /// Fused tanh after the bias.
    tanh: bool,
    /// Fused 2×2 average pooling after the activation.
    pool: bool,
    /// The forward pass's im2col matrix and pre-pooling activation, for the backward pass.
    cache: std::sync::Mutex<Option<(Tensor, Vec<f32>)>>,
}

/// 2×2 average pooling of NHWC `images` (`[B, h, w, c]`, odd edges dropped).
fn avg_pool_values(x: &[f32], b: usize, h: usize, w: usize, c: usize) -> Vec<f32> {
    let (oh, ow) = (h / 2, w / 2);
    let mut out = vec![0f32; b * oh * ow * c];
    out.par_chunks_mut((oh * ow * c).max(1))
        .zip(x.par_chunks((h * w * c).max(1)))
        .for_each(|(o, image)| {
            for oy in 0..oh {
                for ox in 0..ow {
                    let r0 = (2 * oy * w + 2 * ox) * c;
                    let r1 = ((2 * oy + 1) * w + 2 * ox) * c;
                    for ch in 0..c {
                        o[(oy * ow + ox) * c + ch] = 0.25
                            * (image[r0 + ch]
                                + image[r0 + c + ch]
                                + image[r1 + ch]
                                + image[r1 + c + ch]);
                    }
                }
            }
        });
    out
}

impl CustomOp3 for Conv {
    fn name(&self) -> &'static str {
        "conv2d-nhwc"
    }

    fn cpu_fwd(
        &self,
        x_storage: &CpuStorage,
        x_layout: &Layout,
        w_storage: &CpuStorage,
        w_layout: &Layout,
        b_storage: &CpuStorage,
        b_layout: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let g = ConvGeometry::new(x_layout.shape(), self.kernel, self.padding)?;
        let (rows, c_out) = w_layout.shape().dims2()?;
        if rows != g.row() {
            candle_core::bail!("conv: weight has {rows} rows, expected {}", g.row())
        }
        let bias = values(b_storage, b_layout, self.name())?;
        if bias.len() != c_out {
            candle_core::bail!("conv: bias has {} values, expected {c_out}", bias.len())
        }
        let (cols, _) = Im2Col {
            kernel: self.kernel,
            padding: self.padding,
        }
        .cpu_fwd(x_storage, x_layout)?;
        let CpuStorage::F32(cols) = cols else {
            candle_core::bail!("conv: im2col returned another dtype")
        };
        let n = g.batch * g.out_h() * g.out_w();
        let cols = Tensor::from_vec(cols, (n, g.row()), &Device::Cpu)?;
        let w = Tensor::from_slice(
            values(w_storage, w_layout, self.name())?,
            (rows, c_out),
            &Device::Cpu,
        )?;
        let mut out = cols.matmul(&w)?.flatten_all()?.to_vec1::<f32>()?;
        let tanh = self.tanh;
        out.par_chunks_mut(c_out * 1024).for_each(|chunk| {
            for row in chunk.chunks_exact_mut(c_out) {
                for (v, b) in row.iter_mut().zip(bias) {
                    *v = if tanh { fast_tanh(*v + b) } else { *v + b };
                }
            }
        });
        let (oh, ow) = (g.out_h(), g.out_w());
        let (result, shape) = if self.pool {
            if oh < 2 || ow < 2 {
                candle_core::bail!("conv: a {oh}x{ow} output is too small for 2x2 pooling")
            }
            let pooled = avg_pool_values(&out, g.batch, oh, ow, c_out);
            (pooled, Shape::from((g.batch, oh / 2, ow / 2, c_out)))
        } else {
            (out.clone(), Shape::from((g.batch, oh, ow, c_out)))
        };
        if let Ok(mut cache) = self.cache.lock() {
            *cache = Some((cols, out));
        }
        Ok((CpuStorage::F32(result), shape))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _b: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let g = ConvGeometry::new(x.shape(), self.kernel, self.padding)?;
        let c_out = w.dim(1)?;
        let Some((cols, act)) = self.cache.lock().ok().and_then(|mut c| c.take()) else {
            candle_core::bail!("conv: backward pass without a forward pass")
        };
        let grad = self.pre_activation_grad(&grad.contiguous()?, &act, g, c_out)?;
        let grad = grad.reshape((g.batch * g.out_h() * g.out_w(), c_out))?;
        let grad_w = cols.t()?.matmul(&grad)?;
        let grad_b = grad.sum(0)?;
        // The first layer's input is data, not a variable: skip its gradient.
        let grad_x = if x.track_op() {
            Some(
                grad.matmul(&w.t()?)?
                    .apply_op1_no_bwd(&Col2Im { geometry: g })?,
            )
        } else {
            None
        };
        Ok((grad_x, Some(grad_w), Some(grad_b)))
    }
}

impl Conv {
    /// The gradient at the convolution's output (before the fused tanh and pooling), from the
    /// gradient of the op's result and the cached activation `act` (`[B, oh, ow, C_out]`).
    fn pre_activation_grad(
        &self,
        grad: &Tensor,
        act: &[f32],
        g: ConvGeometry,
        c_out: usize,
    ) -> Result<Tensor> {
        let (b, oh, ow) = (g.batch, g.out_h(), g.out_w());
        let grad = grad.flatten_all()?.to_vec1::<f32>()?;
        let mut out = vec![0f32; b * oh * ow * c_out];
        let (pool, tanh) = (self.pool, self.tanh);
        let (ph, pw) = (oh / 2, ow / 2);
        let per_image_out = if pool {
            ph * pw * c_out
        } else {
            oh * ow * c_out
        };
        out.par_chunks_mut(oh * ow * c_out)
            .zip(act.par_chunks(oh * ow * c_out))
            .zip(grad.par_chunks(per_image_out.max(1)))
            .for_each(|((o, y), gr)| {
                for py in 0..oh {
                    for px in 0..ow {
                        for ch in 0..c_out {
                            let at = (py * ow + px) * c_out + ch;
                            let up = if pool {
                                if py / 2 >= ph || px / 2 >= pw {
                                    0.0
                                } else {
                                    0.25 * gr[((py / 2) * pw + px / 2) * c_out + ch]
                                }
                            } else {
                                gr[at]
                            };
                            o[at] = if tanh { up * (1.0 - y[at] * y[at]) } else { up };
                        }
                    }
                }
            });
        Tensor::from_vec(out, (b, oh, ow, c_out), &Device::Cpu)
    }
}

/// A stride-1 convolution of an NHWC input `[B, H, W, C]` with a PyTorch-layout weight
/// `[C_out, C, k, k]` and a bias `[C_out]`, zero padding `padding`: `[B, oh, ow, C_out]`.
pub fn conv2d_nhwc(x: &Tensor, weight: &Tensor, bias: &Tensor, padding: usize) -> Result<Tensor> {
    conv_fused(x, weight, bias, padding, false, false)
}

/// [`conv2d_nhwc`] (no padding) followed by tanh and 2×2 average pooling, in one op: the
/// seed network's block. `[B, H, W, C]` → `[B, (H−k+1)/2, (W−k+1)/2, C_out]`.
pub fn conv_tanh_avg_pool_nhwc(x: &Tensor, weight: &Tensor, bias: &Tensor) -> Result<Tensor> {
    conv_fused(x, weight, bias, 0, true, true)
}

fn conv_fused(
    x: &Tensor,
    weight: &Tensor,
    bias: &Tensor,
    padding: usize,
    tanh: bool,
    pool: bool,
) -> Result<Tensor> {
    let (c_out, c_in, k, _) = weight.dims4()?;
    // [k, k, C, C_out] → [k·k·C, C_out], the order of an im2col row.
    let w = weight
        .permute((2, 3, 1, 0))?
        .contiguous()?
        .reshape((k * k * c_in, c_out))?;
    let op = Conv {
        kernel: k,
        padding,
        tanh,
        pool,
        cache: std::sync::Mutex::new(None),
    };
    x.contiguous()?.apply_op3(&w, &bias.contiguous()?, op)
}

#[cfg(test)]
mod tests {
    use super::super::ops::{avg_pool2_nhwc, tanh};
    use super::*;
    use crate::testdata::tensors::{max_abs_diff, seq};
    use candle_core::Var;

    #[test]
    fn conv_matches_candle_conv2d_forward_and_backward() {
        for padding in [0, 1, 2] {
            let x = Var::from_tensor(&seq(&[2, 3, 7, 6], 0.02)).unwrap();
            let w = Var::from_tensor(&seq(&[4, 3, 3, 3], 0.01)).unwrap();
            let b = Var::from_tensor(&seq(&[4], 0.1)).unwrap();
            // Reference: candle's NCHW conv2d.
            let want = x
                .conv2d(&w, padding, 1, 1, 1)
                .unwrap()
                .broadcast_add(&b.reshape((1, 4, 1, 1)).unwrap())
                .unwrap();
            let got = conv2d_nhwc(&x.permute((0, 2, 3, 1)).unwrap(), &w, &b, padding)
                .unwrap()
                .permute((0, 3, 1, 2))
                .unwrap();
            assert!(max_abs_diff(&want, &got) < 1e-5);
            let gw = want.sqr().unwrap().sum_all().unwrap().backward().unwrap();
            let gg = got.sqr().unwrap().sum_all().unwrap().backward().unwrap();
            for v in [&x, &w, &b] {
                let (a, c) = (gw.get(v).unwrap(), gg.get(v).unwrap());
                assert!(
                    max_abs_diff(a, c) < 1e-3,
                    "padding {padding}: {}",
                    max_abs_diff(a, c)
                );
            }
        }
    }

    #[test]
    fn the_fused_seed_block_matches_its_parts() {
        let x = Var::from_tensor(&seq(&[2, 9, 8, 2], 0.02)).unwrap();
        let w = Var::from_tensor(&seq(&[3, 2, 3, 3], 0.01)).unwrap();
        let b = Var::from_tensor(&seq(&[3], 0.1)).unwrap();
        let parts = avg_pool2_nhwc(&tanh(&conv2d_nhwc(&x, &w, &b, 0).unwrap()).unwrap()).unwrap();
        let fused = conv_tanh_avg_pool_nhwc(&x, &w, &b).unwrap();
        assert_eq!(fused.dims(), &[2, 3, 3, 3]);
        assert!(max_abs_diff(&parts, &fused) < 1e-6);
        let weights = seq(&[2, 3, 3, 3], 0.1);
        let gp = (parts * &weights)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let gf = (fused * &weights)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        for v in [&x, &w, &b] {
            assert!(max_abs_diff(gp.get(v).unwrap(), gf.get(v).unwrap()) < 1e-5);
        }
    }
}
