//! The convolution block of the three nets: a 2-D convolution (stride 1, no padding), its bias,
//! an optional per-channel `PReLU` and an optional max pooling with PyTorch's `ceil_mode=True`.
//!
//! candle's CPU `conv2d` runs at a few GFLOP/s on these thin layers (3 to 64 channels), so the
//! block lowers the convolution to candle matrix products (gemm, multi-threaded) over `im2col`
//! matrices whose rows are plain slice copies of the input, one product per band of output
//! rows (or of whole small images) sized to stay in cache, then applies bias, `PReLU` and pooling
//! in one pass over each product. The `im2col` rows keep the input's full row width: output
//! pixel `(y, x)` of image `b` sits at column `(b * rows + y) * w + x` of its band, so every row
//! of the matrix is one contiguous copy per image; the `w - ow` columns past each output row
//! are ignored.

use candle_core::{Module, Result, Tensor};
use candle_nn::VarBuilder;

use super::pool::{activate, pool_column, pool_row, pooled_len, prelu};

/// Runs `f` on the elements of `t` in row-major order, without a copy when `t` is a
/// contiguous tensor on the CPU.
fn with_slice<R>(t: &Tensor, f: impl FnOnce(&[f32]) -> R) -> Result<R> {
    {
        let (storage, layout) = t.storage_and_layout();
        if let (candle_core::Storage::Cpu(cpu), Some((start, end))) =
            (&*storage, layout.contiguous_offsets())
        {
            return Ok(f(&cpu.as_slice::<f32>()?[start..end]));
        }
    }
    Ok(f(&t.flatten_all()?.to_vec1::<f32>()?))
}

/// How many `f32` one band's `im2col` matrix may hold (1 MiB, about a core's L2 cache).
const BAND_FLOATS: usize = 1 << 18;

/// The part of a layer's output done by one matrix product: images `b0 .. b0 + nb`, output
/// rows `r0 .. r0 + rows` of each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Band {
    b0: usize,
    nb: usize,
    r0: usize,
    rows: usize,
}

/// A convolution with bias, optional `PReLU` and optional ceil-mode max pooling.
pub(super) struct ConvBlock {
    /// `[c_out, k * k * c_in]`, columns ordered `(ky, kx, c_in)` like the `im2col` rows.
    weight: Tensor,
    bias: Vec<f32>,
    /// `PReLU` slopes per output channel; `None` for a plain convolution.
    alpha: Option<Vec<f32>>,
    c_in: usize,
    kernel: usize,
    /// `(kernel, stride)` of the max pooling after the activation.
    pool: Option<(usize, usize)>,
}

impl ConvBlock {
    /// Loads `conv_name.weight` `[c_out, c_in, k, k]`, `conv_name.bias` and, if given,
    /// `prelu_name.weight` `[c_out]`.
    pub fn new(
        vb: &VarBuilder,
        (c_in, c_out, kernel): (usize, usize, usize),
        conv_name: &str,
        prelu_name: Option<&str>,
        pool: Option<(usize, usize)>,
    ) -> Result<Self> {
        let vb_conv = vb.pp(conv_name);
        let weight = vb_conv
            .get((c_out, c_in, kernel, kernel), "weight")?
            .permute((0, 2, 3, 1))? // [c_out, ky, kx, c_in]
            .contiguous()?
            .reshape((c_out, kernel * kernel * c_in))?;
        let bias = vb_conv.get(c_out, "bias")?.to_vec1()?;
        let alpha = match prelu_name {
            Some(name) => Some(vb.pp(name).get(c_out, "weight")?.to_vec1()?),
            None => None,
        };
        Ok(Self {
            weight,
            bias,
            alpha,
            c_in,
            kernel,
            pool,
        })
    }

    /// Stacks the output channels of `other` (same input, kernel and pooling, no activation)
    /// after this block's, so two heads run as one product.
    pub fn concat(self, other: Self) -> Result<Self> {
        if self.alpha.is_some() || other.alpha.is_some() || self.kernel != other.kernel {
            candle_core::bail!("only plain convolutions of one kernel size can be stacked");
        }
        Ok(Self {
            weight: Tensor::cat(&[&self.weight, &other.weight], 0)?,
            bias: [self.bias, other.bias].concat(),
            ..self
        })
    }

    /// Splits the output into bands small enough for their `im2col` matrix to stay in cache:
    /// whole images when one fits, else runs of rows (a multiple of the pooling stride, when
    /// pooling windows do not overlap; with overlapping windows a whole image is one band).
    fn bands(&self, n: usize, oh: usize, w: usize) -> Vec<Band> {
        let per_row = self.kernel * self.kernel * self.c_in * w;
        let budget = (BAND_FLOATS / per_row).max(1);
        if budget >= oh {
            let per_band = budget / oh;
            return (0..n)
                .step_by(per_band)
                .map(|b0| Band {
                    b0,
                    nb: per_band.min(n - b0),
                    r0: 0,
                    rows: oh,
                })
                .collect();
        }
        let step = match self.pool {
            None => budget,
            Some((pk, ps)) if pk == ps => (budget / ps).max(1) * ps,
            Some(_) => oh,
        };
        (0..n)
            .flat_map(|b0| {
                (0..oh).step_by(step).map(move |r0| Band {
                    b0,
                    nb: 1,
                    r0,
                    rows: step.min(oh - r0),
                })
            })
            .collect()
    }

    /// The `im2col` matrix `[k * k * c_in, nb * rows * w]` of one band of `src`
    /// (`[n, c_in, h, w]`): row `(ky, kx, c)` holds, for each image of the band, input rows
    /// `r0 + ky ..` of channel `c` shifted by `kx`, one contiguous copy per image.
    fn im2col(&self, src: &[f32], (h, w): (usize, usize), band: Band) -> Vec<f32> {
        let (c, k) = (self.c_in, self.kernel);
        let span = (band.rows - 1) * w + w + 1 - k;
        let mut col = Vec::with_capacity(k * k * c * band.nb * band.rows * w);
        for row in 0..k * k * c {
            let (tap, ch) = (row / c, row % c);
            let offset = (band.r0 + tap / k) * w + tap % k;
            for b in band.b0..band.b0 + band.nb {
                let start = (b * c + ch) * h * w + offset;
                col.extend_from_slice(&src[start..start + span]);
                // The last k - 1 columns of the last output row are never read.
                col.resize(col.len() + (k - 1), 0.0);
            }
        }
        col
    }

    /// Bias, `PReLU` and pooling over the product `y` of one band (`[c_out, nb, rows, w]`, the
    /// first `w - k + 1` columns of each row valid), written into `out` (`[n, c_out, ph, pw]`).
    ///
    /// Pooling is done before the activation, on the window's largest and smallest raw values:
    /// adding the bias keeps their order and `PReLU` is monotone for a slope >= 0 and V-shaped
    /// for a slope < 0, so the largest activated value of a window is the activation of its
    /// largest raw value or of its smallest; the result is exactly max-of-`PReLU`, with one
    /// activation per output instead of one per input.
    fn finish(&self, y: &[f32], band: Band, w: usize, (ph, pw): (usize, usize), out: &mut [f32]) {
        let c_out = self.bias.len();
        let ow = w + 1 - self.kernel;
        let mut hmax = vec![0.0; band.rows * pw];
        let mut hmin = vec![0.0; band.rows * pw];
        let (mut vmax, mut vmin) = (vec![0.0; pw], vec![0.0; pw]);
        for (co, planes) in y.chunks_exact(band.nb * band.rows * w).enumerate() {
            let (bias, alpha) = (self.bias[co], self.alpha.as_ref().map(|a| a[co]));
            let need_min = alpha.is_some_and(|a| a < 0.0);
            for (b, plane) in planes.chunks_exact(band.rows * w).enumerate() {
                let dst = &mut out[((band.b0 + b) * c_out + co) * ph * pw..][..ph * pw];
                let Some((pk, ps)) = self.pool else {
                    let dst = &mut dst[band.r0 * ow..(band.r0 + band.rows) * ow];
                    for (src, d) in plane.chunks_exact(w).zip(dst.chunks_exact_mut(ow)) {
                        activate(&src[..ow], d, bias, alpha);
                    }
                    continue;
                };
                // Pool each row across, then the pooled rows down, then activate.
                for (r, src) in plane.chunks_exact(w).enumerate() {
                    let (src, at) = (&src[..ow], r * pw..(r + 1) * pw);
                    pool_row(src, &mut hmax[at.clone()], (pk, ps), f32::max);
                    if need_min {
                        pool_row(src, &mut hmin[at], (pk, ps), f32::min);
                    }
                }
                let n_pooled = if pk == ps {
                    band.rows.div_ceil(ps)
                } else {
                    pooled_len(band.rows, pk, ps)
                };
                let first_pooled = band.r0 / ps;
                let dst = &mut dst[first_pooled * pw..(first_pooled + n_pooled) * pw];
                for (py, d) in dst.chunks_exact_mut(pw).enumerate() {
                    let window = py * ps * pw..((py * ps + pk).min(band.rows)) * pw;
                    pool_column(&hmax[window.clone()], &mut vmax, f32::max);
                    if need_min {
                        pool_column(&hmin[window], &mut vmin, f32::min);
                        for ((d, &hi), &lo) in d.iter_mut().zip(&vmax).zip(&vmin) {
                            *d = prelu(hi + bias, alpha).max(prelu(lo + bias, alpha));
                        }
                    } else {
                        for (d, &hi) in d.iter_mut().zip(&vmax) {
                            *d = prelu(hi + bias, alpha);
                        }
                    }
                }
            }
        }
    }
}

impl Module for ConvBlock {
    /// `[n, c_in, h, w]` to `[n, c_out, oh, ow]`, `oh = h - k + 1`, or the pooled size.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (n, c, h, w) = x.dims4()?;
        let k = self.kernel;
        if c != self.c_in || h < k || w < k {
            candle_core::bail!("conv {k}x{k} over {c} channels given [{n}, {c}, {h}, {w}]");
        }
        let (oh, ow) = (h + 1 - k, w + 1 - k);
        let (ph, pw) = match self.pool {
            Some((pk, _)) if oh < pk || ow < pk => {
                candle_core::bail!("max pool {pk}x{pk} on a {oh}x{ow} map")
            }
            Some((pk, ps)) => (pooled_len(oh, pk, ps), pooled_len(ow, pk, ps)),
            None => (oh, ow),
        };
        let c_out = self.bias.len();
        let kkc = k * k * c;
        let out = with_slice(x, |src| -> Result<Vec<f32>> {
            let mut out = vec![0.0; n * c_out * ph * pw];
            for band in self.bands(n, oh, w) {
                let col = self.im2col(src, (h, w), band);
                let col = Tensor::from_vec(col, (kkc, band.nb * band.rows * w), x.device())?;
                let y = self.weight.matmul(&col)?; // [c_out, nb, rows, w]
                with_slice(&y, |y| self.finish(y, band, w, (ph, pw), &mut out))?;
            }
            Ok(out)
        })??;
        Tensor::from_vec(out, (n, c_out, ph, pw), x.device())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use candle_core::{DType, Device};

    use super::*;
    use crate::testdata::tensors::max_abs_diff;

    /// The same layers from candle's own ops: conv2d, `PReLU`, and ceil-mode pooling by padding
    /// with the edge (a window past the edge always contains the edge it repeats).
    fn reference(x: &Tensor, vars: &HashMap<String, Tensor>, pool: (usize, usize)) -> Tensor {
        let y = x
            .conv2d(&vars["c.weight"], 0, 1, 1, 1)
            .unwrap()
            .broadcast_add(&vars["c.bias"].reshape((1, (), 1, 1)).unwrap())
            .unwrap();
        let y = candle_nn::PReLU::new(vars["p.weight"].clone(), false)
            .forward(&y)
            .unwrap();
        let (_, _, h, w) = y.dims4().unwrap();
        let (k, s) = pool;
        let pad = |n: usize| (pooled_len(n, k, s) - 1) * s + k - n;
        y.pad_with_same(2, 0, pad(h))
            .unwrap()
            .pad_with_same(3, 0, pad(w))
            .unwrap()
            .max_pool2d_with_stride(k, s)
            .unwrap()
    }

    #[test]
    fn the_block_matches_candle_conv_prelu_and_ceil_pooling() {
        let dev = Device::Cpu;
        let mut vars = HashMap::new();
        vars.insert(
            "c.weight".to_owned(),
            Tensor::randn(0f32, 0.3, (5, 3, 3, 3), &dev).unwrap(),
        );
        vars.insert(
            "c.bias".to_owned(),
            Tensor::randn(0f32, 0.3, 5, &dev).unwrap(),
        );
        // Slopes of both signs, as in the MTCNN weights.
        vars.insert(
            "p.weight".to_owned(),
            Tensor::new(&[0.25f32, -0.5, 1.2, 0.0, -1.0], &dev).unwrap(),
        );
        let vb = VarBuilder::from_tensors(vars.clone(), DType::F32, &dev);
        // Odd sizes so the last pooling window is partial: a batch of 2 small images (one
        // band), and one image tall enough to be cut into bands of rows.
        let small = Tensor::randn(0f32, 1.0, (2, 3, 12, 15), &dev).unwrap();
        let tall = Tensor::randn(0f32, 1.0, (1, 3, 203, 300), &dev).unwrap();
        for x in [&small, &tall] {
            for pool in [(2, 2), (3, 2)] {
                let block = ConvBlock::new(&vb, (3, 5, 3), "c", Some("p"), Some(pool)).unwrap();
                let got = block.forward(x).unwrap();
                let want = reference(x, &vars, pool);
                assert_eq!(got.dims(), want.dims(), "pool {pool:?}");
                assert!(max_abs_diff(&got, &want) < 1e-5, "pool {pool:?}");
            }
        }
        let x = &small;
        // Without pooling or activation it is the plain convolution plus bias.
        let plain = ConvBlock::new(&vb, (3, 5, 3), "c", None, None).unwrap();
        let want = x
            .conv2d(&vars["c.weight"], 0, 1, 1, 1)
            .unwrap()
            .broadcast_add(&vars["c.bias"].reshape((1, (), 1, 1)).unwrap())
            .unwrap();
        assert!(max_abs_diff(&plain.forward(x).unwrap(), &want) < 1e-5);
        let want_tall = tall
            .conv2d(&vars["c.weight"], 0, 1, 1, 1)
            .unwrap()
            .broadcast_add(&vars["c.bias"].reshape((1, (), 1, 1)).unwrap())
            .unwrap();
        assert!(max_abs_diff(&plain.forward(&tall).unwrap(), &want_tall) < 1e-5);
        // Two stacked heads give both outputs in one map.
        let both = ConvBlock::new(&vb, (3, 5, 3), "c", None, None)
            .unwrap()
            .concat(ConvBlock::new(&vb, (3, 5, 3), "c", None, None).unwrap())
            .unwrap();
        let out = both.forward(x).unwrap();
        assert_eq!(out.dims(), &[2, 10, 10, 13]);
        assert!(max_abs_diff(&out.narrow(1, 5, 5).unwrap(), &want) < 1e-5);
    }

    #[test]
    fn bands_cover_the_output_once() {
        let dev = Device::Cpu;
        let mut vars = HashMap::new();
        vars.insert(
            "c.weight".to_owned(),
            Tensor::zeros((4, 3, 3, 3), DType::F32, &dev).unwrap(),
        );
        vars.insert(
            "c.bias".to_owned(),
            Tensor::zeros(4, DType::F32, &dev).unwrap(),
        );
        let vb = VarBuilder::from_tensors(vars, DType::F32, &dev);
        let block = |pool| ConvBlock::new(&vb, (3, 4, 3), "c", None, pool).unwrap();
        // 201 output rows of width 300: 27 * 300 floats a row, 32 rows a band, cut at even
        // rows for 2 x 2 pooling, and not cut at all for overlapping 3 x 3 / 2 windows.
        let rows = |bands: Vec<Band>| bands.iter().map(|b| b.rows).collect::<Vec<_>>();
        assert_eq!(
            rows(block(None).bands(1, 201, 300)),
            [32, 32, 32, 32, 32, 32, 9]
        );
        assert_eq!(
            rows(block(Some((2, 2))).bands(1, 201, 300)),
            [32, 32, 32, 32, 32, 32, 9]
        );
        assert_eq!(rows(block(Some((3, 2))).bands(2, 201, 300)), [201, 201]);
        // Small images are grouped whole: 22 rows of 27 * 24 fit 18 to a band.
        let grouped = block(Some((3, 2))).bands(40, 22, 24);
        assert_eq!(
            grouped.iter().map(|b| b.nb).collect::<Vec<_>>(),
            [18, 18, 4]
        );
        assert_eq!(grouped[2].b0, 36);
    }

    #[test]
    fn inputs_smaller_than_the_kernel_or_pool_are_errors() {
        let dev = Device::Cpu;
        let mut vars = HashMap::new();
        vars.insert(
            "c.weight".to_owned(),
            Tensor::zeros((1, 1, 3, 3), DType::F32, &dev).unwrap(),
        );
        vars.insert(
            "c.bias".to_owned(),
            Tensor::zeros(1, DType::F32, &dev).unwrap(),
        );
        let vb = VarBuilder::from_tensors(vars, DType::F32, &dev);
        let block = ConvBlock::new(&vb, (1, 1, 3), "c", None, Some((3, 2))).unwrap();
        let x = |h, w| Tensor::zeros((1, 1, h, w), DType::F32, &dev).unwrap();
        assert!(block.forward(&x(2, 9)).is_err());
        assert!(block.forward(&x(4, 9)).is_err());
        assert_eq!(block.forward(&x(5, 9)).unwrap().dims(), &[1, 1, 1, 3]);
        assert!(
            block
                .forward(&Tensor::zeros((1, 2, 5, 5), DType::F32, &dev).unwrap())
                .is_err()
        );
    }
}
