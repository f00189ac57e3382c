//! Fast CPU kernels for the small CNN encoders, as candle custom ops with their gradients:
//! 2×2 average and max pooling over NHWC tensors and a vectorisable tanh (candle's scalar
//! tanh cost more than the seed network's convolutions). The convolution, which uses these, is
//! in `conv.rs`. Every tensor stays in NHWC order, so a convolution is
//! one matrix product.

use candle_core::{CpuStorage, CustomOp1, CustomOp3, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

/// The f32 values of a contiguous CPU tensor.
pub(super) fn values<'a>(storage: &'a CpuStorage, layout: &Layout, op: &str) -> Result<&'a [f32]> {
    let CpuStorage::F32(v) = storage else {
        candle_core::bail!("{op}: only f32 tensors are supported")
    };
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&v[start..end]),
        None => candle_core::bail!("{op}: the input must be contiguous"),
    }
}

/// 2×2 pooling, stride 2, over an NHWC tensor (odd trailing rows/columns are dropped).
#[derive(Clone, Copy)]
struct Pool2 {
    max: bool,
}

fn pool_dims(shape: &Shape) -> Result<(usize, usize, usize, usize)> {
    let (b, h, w, c) = shape.dims4()?;
    if h < 2 || w < 2 {
        candle_core::bail!("pool: a {h}x{w} input is too small for 2x2 pooling")
    }
    Ok((b, h, w, c))
}

impl CustomOp1 for Pool2 {
    fn name(&self) -> &'static str {
        if self.max {
            "max-pool2-nhwc"
        } else {
            "avg-pool2-nhwc"
        }
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = values(storage, layout, self.name())?;
        let (b, h, w, c) = pool_dims(layout.shape())?;
        let (oh, ow) = (h / 2, w / 2);
        let mut out = vec![0f32; b * oh * ow * c];
        let max = self.max;
        out.par_chunks_mut(oh * ow * c)
            .zip(x.par_chunks(h * w * c))
            .for_each(|(o, image)| {
                for oy in 0..oh {
                    for ox in 0..ow {
                        let (r0, r1) = ((2 * oy * w + 2 * ox) * c, ((2 * oy + 1) * w + 2 * ox) * c);
                        let dst = &mut o[(oy * ow + ox) * c..(oy * ow + ox + 1) * c];
                        for (ch, d) in dst.iter_mut().enumerate() {
                            let v = [
                                image[r0 + ch],
                                image[r0 + c + ch],
                                image[r1 + ch],
                                image[r1 + c + ch],
                            ];
                            *d = if max {
                                v[0].max(v[1]).max(v[2].max(v[3]))
                            } else {
                                0.25 * (v[0] + v[1] + v[2] + v[3])
                            };
                        }
                    }
                }
            });
        Ok((CpuStorage::F32(out), Shape::from((b, oh, ow, c))))
    }

    fn bwd(&self, arg: &Tensor, res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(arg.apply_op3_no_bwd(
            res,
            &grad.contiguous()?,
            &Pool2Bwd { max: self.max },
        )?))
    }
}

/// The gradient of [`Pool2`]: (input, output, output gradient) → input gradient. Max pooling
/// routes each gradient to the first input that holds the maximum.
struct Pool2Bwd {
    max: bool,
}

impl CustomOp3 for Pool2Bwd {
    fn name(&self) -> &'static str {
        "pool2-nhwc-bwd"
    }

    fn cpu_fwd(
        &self,
        x_storage: &CpuStorage,
        x_layout: &Layout,
        y_storage: &CpuStorage,
        y_layout: &Layout,
        g_storage: &CpuStorage,
        g_layout: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let x = values(x_storage, x_layout, self.name())?;
        let y = values(y_storage, y_layout, self.name())?;
        let g = values(g_storage, g_layout, self.name())?;
        let (b, h, w, c) = pool_dims(x_layout.shape())?;
        let (oh, ow) = (h / 2, w / 2);
        let mut out = vec![0f32; b * h * w * c];
        let max = self.max;
        out.par_chunks_mut(h * w * c)
            .zip(x.par_chunks(h * w * c))
            .zip(y.par_chunks(oh * ow * c).zip(g.par_chunks(oh * ow * c)))
            .for_each(|((dx, image), (pooled, grad))| {
                for oy in 0..oh {
                    for ox in 0..ow {
                        let at = [
                            (2 * oy * w + 2 * ox) * c,
                            (2 * oy * w + 2 * ox + 1) * c,
                            ((2 * oy + 1) * w + 2 * ox) * c,
                            ((2 * oy + 1) * w + 2 * ox + 1) * c,
                        ];
                        for ch in 0..c {
                            let o = (oy * ow + ox) * c + ch;
                            if max {
                                if let Some(&i) = at
                                    .iter()
                                    .find(|&&i| image[i + ch].total_cmp(&pooled[o]).is_eq())
                                {
                                    dx[i + ch] = grad[o];
                                }
                            } else {
                                for &i in &at {
                                    dx[i + ch] = 0.25 * grad[o];
                                }
                            }
                        }
                    }
                }
            });
        Ok((CpuStorage::F32(out), x_layout.shape().clone()))
    }
}

/// 2×2 average pooling with stride 2 of an NHWC tensor.
pub fn avg_pool2_nhwc(x: &Tensor) -> Result<Tensor> {
    x.contiguous()?.apply_op1(Pool2 { max: false })
}

/// 2×2 max pooling with stride 2 of an NHWC tensor.
pub fn max_pool2_nhwc(x: &Tensor) -> Result<Tensor> {
    x.contiguous()?.apply_op1(Pool2 { max: true })
}

/// tanh by the rational approximation Eigen uses for f32 (error below 1e-6, exact ±1 in the
/// tails). Written without `mul_add`, which is a slow library call without FMA enabled.
#[must_use]
#[inline]
pub fn fast_tanh(x: f32) -> f32 {
    let x = x.clamp(-7.905_311, 7.905_311);
    let x2 = x * x;
    let p = x2 * -2.760_768_5e-16 + 2.000_188e-13;
    let p = x2 * p + -8.604_672e-11;
    let p = x2 * p + 5.122_297e-8;
    let p = x2 * p + 1.485_722_4e-5;
    let p = x2 * p + 6.372_619_3e-4;
    let p = x2 * p + 4.893_524_6e-3;
    let q = x2 * 1.198_258_4e-6 + 1.185_347_1e-4;
    let q = x2 * q + 2.268_434_6e-3;
    let q = x2 * q + 4.893_525e-3;
    x * p / q
}

/// Element-wise [`fast_tanh`] with gradient `1 − tanh²`.
struct Tanh;

impl CustomOp1 for Tanh {
    fn name(&self) -> &'static str {
        "fast-tanh"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = values(storage, layout, self.name())?;
        let mut out = vec![0f32; x.len()];
        out.par_chunks_mut(1 << 15)
            .zip(x.par_chunks(1 << 15))
            .for_each(|(o, i)| {
                for (o, &i) in o.iter_mut().zip(i) {
                    *o = fast_tanh(i);
                }
            });
        Ok((CpuStorage::F32(out), layout.shape().clone()))
    }

    fn bwd(&self, _arg: &Tensor, res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(res.apply_op2_no_bwd(&grad.contiguous()?, &TanhBwd)?))
    }
}

/// The gradient of [`Tanh`] in one pass: (tanh output, output gradient) → `g · (1 − y²)`.
struct TanhBwd;

impl candle_core::CustomOp2 for TanhBwd {
    fn name(&self) -> &'static str {
        "fast-tanh-bwd"
    }

    fn cpu_fwd(
        &self,
        y_storage: &CpuStorage,
        y_layout: &Layout,
        g_storage: &CpuStorage,
        g_layout: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let y = values(y_storage, y_layout, self.name())?;
        let g = values(g_storage, g_layout, self.name())?;
        let mut out = vec![0f32; y.len()];
        out.par_chunks_mut(1 << 15)
            .zip(y.par_chunks(1 << 15).zip(g.par_chunks(1 << 15)))
            .for_each(|(o, (y, g))| {
                for ((o, &y), &g) in o.iter_mut().zip(y).zip(g) {
                    *o = g * (1.0 - y * y);
                }
            });
        Ok((CpuStorage::F32(out), y_layout.shape().clone()))
    }
}

/// Element-wise tanh (see [`fast_tanh`]).
pub fn tanh(x: &Tensor) -> Result<Tensor> {
    x.contiguous()?.apply_op1(Tanh)
}

#[cfg(test)]
mod tests {
    use super::super::conv::conv2d_nhwc;
    use super::*;
    use crate::testdata::tensors::{max_abs_diff, seq};
    use candle_core::{DType, Var};

    #[test]
    fn pools_match_candle_forward_and_backward() {
        let x = Var::from_tensor(&seq(&[2, 2, 6, 4], 0.03)).unwrap();
        for max in [false, true] {
            let want = if max {
                x.max_pool2d(2).unwrap()
            } else {
                x.avg_pool2d(2).unwrap()
            };
            let nhwc = x.permute((0, 2, 3, 1)).unwrap();
            let got = if max {
                max_pool2_nhwc(&nhwc)
            } else {
                avg_pool2_nhwc(&nhwc)
            };
            let got = got.unwrap().permute((0, 3, 1, 2)).unwrap();
            assert!(max_abs_diff(&want, &got) < 1e-6);
            let weights = seq(&[2, 2, 3, 2], 0.1);
            let gw = (want * &weights)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            let gg = (got * &weights)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            // candle 0.11's max_pool2d backward also divides by the window size (4); ours
            // routes the whole gradient to the maximum, as PyTorch does.
            let want_grad = if max {
                (gw.get(&x).unwrap() * 4.0).unwrap()
            } else {
                gw.get(&x).unwrap().clone()
            };
            assert!(
                max_abs_diff(&want_grad, gg.get(&x).unwrap()) < 1e-6,
                "max pooling: {max}"
            );
        }
    }

    #[test]
    fn fast_tanh_is_close_to_std_and_has_the_right_gradient() {
        for i in -2000..=2000 {
            let x = i as f32 * 0.01;
            assert!((fast_tanh(x) - x.tanh()).abs() < 2e-6, "{x}");
        }
        let x = Var::from_tensor(&seq(&[3, 5], 0.05)).unwrap();
        let g1 = tanh(&x).unwrap().sum_all().unwrap().backward().unwrap();
        let g2 = x.tanh().unwrap().sum_all().unwrap().backward().unwrap();
        assert!(max_abs_diff(g1.get(&x).unwrap(), g2.get(&x).unwrap()) < 1e-5);
        assert_eq!(
            tanh(&x.as_tensor().to_dtype(DType::F32).unwrap())
                .unwrap()
                .dims(),
            &[3, 5]
        );
    }

    #[test]
    fn bad_shapes_are_errors() {
        let x = seq(&[1, 2, 2, 1], 1.0);
        let w = seq(&[1, 1, 5, 5], 1.0);
        assert!(conv2d_nhwc(&x, &w, &seq(&[1], 1.0), 0).is_err());
        assert!(avg_pool2_nhwc(&seq(&[1, 1, 1, 1], 1.0)).is_err());
    }
}
