//! CPU kernels for MobileFaceNet as candle custom ops over NHWC tensors: a depthwise
//! convolution with its bias and PReLU fused in, the bias + PReLU that follows a 1×1
//! convolution (itself one matrix product in NHWC), and the im2col of the first 3×3
//! convolution. Channels are the innermost axis, so every inner loop runs over contiguous
//! channels and vectorises. Padding follows TensorFlow's: "same" pads `total = (out − 1)·s + k −
//! in` pixels, the smaller half before (so a stride-2 layer on an even size pads only the
//! bottom and right), and "valid" pads nothing.

use std::sync::Arc;

use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use crate::vision::gemm::{self, Dst, Operand};
use crate::vision::simd::{self, Wide, wide_vectors};

/// TensorFlow's padding modes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Padding {
    /// Output `ceil(in / stride)`; pad `total` with the smaller half first.
    Same,
    /// No padding: output `(in − k) / stride + 1`.
    Valid,
}

impl Padding {
    /// The output size and the padding before the first pixel, for one axis.
    #[must_use]
    pub fn plan(self, size_in: usize, kernel: usize, stride: usize) -> (usize, usize) {
        match self {
            Self::Same => {
                let out = size_in.div_ceil(stride);
                let total = ((out - 1) * stride + kernel).saturating_sub(size_in);
                (out, total / 2)
            }
            Self::Valid => ((size_in.saturating_sub(kernel)) / stride + 1, 0),
        }
    }
}

fn values<'a>(storage: &'a CpuStorage, layout: &Layout, op: &str) -> Result<&'a [f32]> {
    let CpuStorage::F32(v) = storage else {
        candle_core::bail!("{op}: only f32 tensors are supported")
    };
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&v[start..end]),
        None => candle_core::bail!("{op}: the input must be contiguous"),
    }
}

/// PReLU in place: `x` for `x ≥ 0`, `slope · x` below, per channel (branch-free, so the loop
/// vectorises).
#[inline]
fn prelu(row: &mut [f32], slope: &[f32]) {
    for (v, a) in row.iter_mut().zip(slope) {
        *v = v.max(0.0) + a * v.min(0.0);
    }
}

/// A depthwise `k × k` convolution of `[B, H, W, C]` with weights `[k, k, C]`, plus bias, then
/// PReLU when a slope is given.
#[derive(Clone, Debug)]
pub struct DepthwiseConv {
    /// `[k·k·C]`, tap-major: tap `(ky, kx)` holds every channel's weight.
    pub weight: Arc<Vec<f32>>,
    /// The bias and PReLU, applied in registers before each value is stored; `[C]` each.
    pub post: BiasPrelu,
    /// Filter side.
    pub kernel: usize,
    /// Stride in both directions.
    pub stride: usize,
    /// Padding mode.
    pub padding: Padding,
    /// Whether large outputs are split over rayon's threads (off when the caller already runs
    /// one face per thread).
    pub parallel: bool,
}

impl CustomOp1 for DepthwiseConv {
    fn name(&self) -> &'static str {
        "mobilefacenet-depthwise"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = values(storage, layout, self.name())?;
        let (b, h, w, c) = layout.shape().dims4()?;
        let k = self.kernel;
        if self.post.bias.len() != c || self.weight.len() != k * k * c {
            candle_core::bail!(
                "depthwise: weights for {} channels, input has {c}",
                self.post.bias.len()
            )
        }
        if h + 1 < k && self.padding == Padding::Valid {
            candle_core::bail!("depthwise: a {h}x{w} input is smaller than the {k}x{k} filter")
        }
        let (ho, pad_y) = self.padding.plan(h, k, self.stride);
        let (wo, pad_x) = self.padding.plan(w, k, self.stride);
        let mut out = vec![0f32; b * ho * wo * c];
        let plan = DepthwisePlan {
            weight: &self.weight,
            bias: &self.post.bias,
            slope: self.post.slope.as_deref().map(Vec::as_slice),
            k,
            s: self.stride,
            pad: (pad_y, pad_x),
            input: (h, w, c),
            first_row: 0,
            out: (ho, wo),
        };
        let wide = wide_vectors();
        let one_row = |(row_index, row): (usize, &mut [f32])| {
            let (bi, oy) = (row_index / ho, row_index % ho);
            let image = &x[bi * h * w * c..(bi + 1) * h * w * c];
            plan.row(image, oy, row, wide);
        };
        if !self.parallel || out.len() < PARALLEL_MIN_VALUES {
            out.chunks_mut(wo * c).enumerate().for_each(one_row);
        } else {
            out.par_chunks_mut(wo * c).enumerate().for_each(one_row);
        }
        Ok((CpuStorage::F32(out), Shape::from((b, ho, wo, c))))
    }
}

impl DepthwiseConv {
    /// The output height and width for an `h × w` input.
    #[must_use]
    pub fn output_size(&self, h: usize, w: usize) -> (usize, usize) {
        (
            self.padding.plan(h, self.kernel, self.stride).0,
            self.padding.plan(w, self.kernel, self.stride).0,
        )
    }

    /// The input rows that output rows `rows` read: `[first, end)`, inside `0..h`.
    #[must_use]
    pub fn input_rows(&self, h: usize, rows: std::ops::Range<usize>) -> std::ops::Range<usize> {
        if rows.is_empty() {
            return 0..0;
        }
        let (_, pad) = self.padding.plan(h, self.kernel, self.stride);
        let first = (rows.start * self.stride).saturating_sub(pad);
        let end = ((rows.end - 1) * self.stride + self.kernel).saturating_sub(pad);
        first.min(h)..end.min(h)
    }

    /// Output rows from `first_out` on of one `h × w` image with this layer's channels, into
    /// `out` (whole rows of `Wo·C`), on the calling thread. `slab` holds the input's rows from
    /// `first_row` on; it must hold every row that [`Self::input_rows`] names.
    pub fn band(
        &self,
        slab: &[f32],
        first_row: usize,
        (h, w): (usize, usize),
        first_out: usize,
        out: &mut [f32],
    ) -> Result<()> {
        let c = self.post.bias.len();
        let k = self.kernel;
        let (ho, pad_y) = self.padding.plan(h, k, self.stride);
        let (wo, pad_x) = self.padding.plan(w, k, self.stride);
        let out_rows = out.len() / (wo * c).max(1);
        let needed = self.input_rows(h, first_out..first_out + out_rows);
        let held = first_row..first_row + slab.len() / (w * c).max(1);
        if out.len() != out_rows * wo * c
            || first_out + out_rows > ho
            || self.weight.len() != k * k * c
            || (!needed.is_empty() && (needed.start < held.start || needed.end > held.end))
        {
            candle_core::bail!(
                "depthwise band: output rows {first_out}..{} of {ho} need input rows {needed:?}, \
                 the band holds {held:?}",
                first_out + out_rows
            )
        }
        let plan = DepthwisePlan {
            weight: &self.weight,
            bias: &self.post.bias,
            slope: self.post.slope.as_deref().map(Vec::as_slice),
            k,
            s: self.stride,
            pad: (pad_y, pad_x),
            input: (h, w, c),
            first_row,
            out: (ho, wo),
        };
        let wide = wide_vectors();
        for (i, row) in out.chunks_mut(wo * c).enumerate() {
            plan.row(slab, first_out + i, row, wide);
        }
        Ok(())
    }
}

/// One depthwise layer's sizes and weights, for its row kernel.
struct DepthwisePlan<'a> {
    weight: &'a [f32],
    bias: &'a [f32],
    slope: Option<&'a [f32]>,
    k: usize,
    s: usize,
    /// Padding before the first row and column.
    pad: (usize, usize),
    /// Input height, width, channels.
    input: (usize, usize, usize),
    /// The first input row held by the image slice (0 for a whole image, more for a band).
    first_row: usize,
    /// Output height, width.
    out: (usize, usize),
}

/// Channels summed in registers at a time by the depthwise kernel: four AVX-512 registers (so
/// four sums are in flight at once), eight AVX2 ones. Every layer has a multiple of 64.
const CHANNEL_BLOCK: usize = 64;

impl DepthwisePlan<'_> {
    /// Output row `oy` of one image, into `row` (`[Wo · C]`), on vectors up to `wide` wide
    /// ([`simd::at_most`]).
    fn row(&self, image: &[f32], oy: usize, row: &mut [f32], wide: Wide) {
        simd::at_most(
            wide,
            DepthwiseRow {
                plan: self,
                image,
                oy,
                row,
            },
        );
    }

    /// The kernel itself, inlined into each of [`simd::at_most`]'s copies so that each is
    /// compiled for its vector width. Each block of 64 channels is summed over the taps in registers, then
    /// gets PReLU and is stored once. Multiply and add stay separate (no fused multiply-add),
    /// so every path gives the same bits.
    #[allow(clippy::inline_always)] // It must be inlined into each wrapper to get its vector width.
    #[inline(always)]
    fn row_portable(&self, image: &[f32], oy: usize, row: &mut [f32]) {
        let (k, s) = (self.k, self.s);
        let (h, w, c) = self.input;
        let (pad_y, pad_x) = self.pad;
        let rows: Vec<usize> = (0..k)
            .filter_map(|ky| (oy * s + ky).checked_sub(pad_y).filter(|&iy| iy < h))
            .collect();
        let first_ky = (pad_y).saturating_sub(oy * s);
        // (input offset, weight offset) of each tap inside the image, per output pixel.
        let mut taps: Vec<(usize, usize)> = Vec::with_capacity(k * k);
        for ox in 0..self.out.1 {
            let first_kx = pad_x.saturating_sub(ox * s);
            taps.clear();
            for (r, &iy) in rows.iter().enumerate() {
                for kx in (first_kx..k).take_while(|&kx| ox * s + kx - pad_x < w) {
                    let ix = ox * s + kx - pad_x;
                    taps.push((
                        ((iy - self.first_row) * w + ix) * c,
                        ((first_ky + r) * k + kx) * c,
                    ));
                }
            }
            let dst = &mut row[ox * c..(ox + 1) * c];
            let mut c0 = 0;
            while c0 + CHANNEL_BLOCK <= c {
                let mut acc = [0f32; CHANNEL_BLOCK];
                acc.copy_from_slice(&self.bias[c0..c0 + CHANNEL_BLOCK]);
                for &(src, tap) in &taps {
                    let v = &image[src + c0..src + c0 + CHANNEL_BLOCK];
                    let t = &self.weight[tap + c0..tap + c0 + CHANNEL_BLOCK];
                    for j in 0..CHANNEL_BLOCK {
                        acc[j] += v[j] * t[j];
                    }
                }
                if let Some(slope) = self.slope {
                    prelu(&mut acc, &slope[c0..c0 + CHANNEL_BLOCK]);
                }
                dst[c0..c0 + CHANNEL_BLOCK].copy_from_slice(&acc);
                c0 += CHANNEL_BLOCK;
            }
            // Channels past the last whole block.
            for ch in c0..c {
                let mut a = self.bias[ch];
                for &(src, tap) in &taps {
                    a += image[src + ch] * self.weight[tap + ch];
                }
                if let Some(slope) = self.slope {
                    a = a.max(0.0) + slope[ch] * a.min(0.0);
                }
                dst[ch] = a;
            }
        }
    }
}

/// One output row of a depthwise layer, as a [`simd::Kernel`].
struct DepthwiseRow<'p, 'a> {
    plan: &'p DepthwisePlan<'a>,
    image: &'p [f32],
    oy: usize,
    row: &'p mut [f32],
}

impl simd::Kernel for DepthwiseRow<'_, '_> {
    type Output = ();
    #[allow(clippy::inline_always)] // Built into each vector width's copy.
    #[inline(always)]
    fn run(self) {
        self.plan.row_portable(self.image, self.oy, self.row);
    }
}

/// `x + bias`, then PReLU when a slope is given, over the last axis: in place on the fresh output
/// of a matrix product, or in registers inside the depthwise kernel.
#[derive(Clone, Debug)]
pub struct BiasPrelu {
    /// `[C]`.
    pub bias: Arc<Vec<f32>>,
    /// `[C]`, or `None` for bias only.
    pub slope: Option<Arc<Vec<f32>>>,
}

impl BiasPrelu {
    /// Applies the bias and PReLU to the rows of `x`, on this thread or split over rayon's.
    pub fn apply(&self, x: &mut [f32], parallel: bool) {
        let c = self.bias.len();
        // Small tensors stay on this thread: handing them out costs more than the work.
        if !parallel || x.len() < PARALLEL_MIN_VALUES {
            self.rows(x);
        } else {
            let per_task = (x.len() / rayon::current_num_threads().max(1))
                .div_ceil(c)
                .max(1)
                * c;
            x.par_chunks_mut(per_task)
                .for_each(|chunk| self.rows(chunk));
        }
    }

    /// Applies the bias and PReLU to whole rows of `C` values, on the calling thread.
    pub fn rows(&self, rows: &mut [f32]) {
        let c = self.bias.len();
        for row in rows.chunks_exact_mut(c) {
            match &self.slope {
                Some(slope) => {
                    for ((v, b), a) in row.iter_mut().zip(self.bias.iter()).zip(slope.iter()) {
                        let y = *v + b;
                        *v = y.max(0.0) + a * y.min(0.0);
                    }
                }
                None => row
                    .iter_mut()
                    .zip(self.bias.iter())
                    .for_each(|(v, b)| *v += b),
            }
        }
    }
}

/// A 1×1 convolution of `[B, H, W, C_in]` as one matrix product with weights `[C_in, C_out]`,
/// then bias and PReLU. It calls gemm itself ([`crate::vision::gemm`]), without candle's
/// zero-filled output and with the threading chosen by the caller.
#[derive(Clone, Debug)]
pub struct PointwiseConv {
    /// `[C_in · C_out]`, row-major: row `i` holds input channel `i`'s weights.
    pub weight: Arc<Vec<f32>>,
    /// Input channels.
    pub c_in: usize,
    /// The bias and PReLU after the product; its bias has `C_out` values.
    pub post: BiasPrelu,
    /// Whether gemm and the bias may use rayon's threads.
    pub parallel: bool,
}

impl CustomOp1 for PointwiseConv {
    fn name(&self) -> &'static str {
        "mobilefacenet-pointwise"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = values(storage, layout, self.name())?;
        let dims = layout.shape().dims();
        let (k, n) = (self.c_in, self.post.bias.len());
        if dims.last() != Some(&k) || self.weight.len() != k * n {
            candle_core::bail!("pointwise: weights for {k} channels, input {dims:?}")
        }
        let m = x.len() / k;
        if m * k != x.len() {
            candle_core::bail!("pointwise: {} values are not rows of {k}", x.len())
        }
        let mut out = vec![0f32; m * n];
        let threads = rayon::current_num_threads();
        let threads = if self.parallel && m * n * k >= PARALLEL_MIN_MACS {
            threads
        } else {
            1
        };
        gemm::matmul(
            Dst::row_major(&mut out, m, n),
            Operand::new(x, m, k),
            Operand::new(&self.weight, k, n),
            false,
            threads,
        )
        .map_err(|e| candle_core::Error::Msg(e.to_string()))?;
        self.post.apply(&mut out, self.parallel);
        let mut shape = dims.to_vec();
        if let Some(last) = shape.last_mut() {
            *last = n;
        }
        Ok((CpuStorage::F32(out), Shape::from(shape)))
    }
}

impl PointwiseConv {
    /// `out = x · W + bias`, then PReLU, then `+ residual` when given, for whole rows of `x`
    /// (`[rows, C_in]` into `[rows, C_out]`), on the calling thread.
    pub fn band(&self, x: &[f32], out: &mut [f32], residual: Option<&[f32]>) -> Result<()> {
        let (k, n) = (self.c_in, self.post.bias.len());
        let m = x.len() / k.max(1);
        if m * k != x.len() || out.len() != m * n || residual.is_some_and(|r| r.len() != m * n) {
            candle_core::bail!(
                "pointwise band: {} input values for {k} channels, {} outputs for {n}",
                x.len(),
                out.len()
            )
        }
        gemm::matmul(
            Dst::row_major(out, m, n),
            Operand::new(x, m, k),
            Operand::new(&self.weight, k, n),
            false,
            1,
        )
        .map_err(|e| candle_core::Error::Msg(e.to_string()))?;
        self.post.rows(out);
        if let Some(r) = residual {
            out.iter_mut().zip(r).for_each(|(y, r)| *y += r);
        }
        Ok(())
    }
}

/// Below this many multiply-adds a matrix product runs on the calling thread.
const PARALLEL_MIN_MACS: usize = 2 * 1024 * 1024;

/// Below this many output values an op runs on the calling thread.
const PARALLEL_MIN_VALUES: usize = 64 * 1024;

/// `[B, H, W, C]` to `[B·Ho·Wo, k·k·C]` for a `k × k` convolution: column `(ky·k + kx)·C + c`
/// holds input channel `c` under tap `(ky, kx)`, zero outside the image.
#[derive(Clone, Copy, Debug)]
pub struct Im2ColNhwc {
    /// Filter side.
    pub kernel: usize,
    /// Stride.
    pub stride: usize,
    /// Padding mode.
    pub padding: Padding,
    /// Whether the rows are split over rayon's threads.
    pub parallel: bool,
}

impl CustomOp1 for Im2ColNhwc {
    fn name(&self) -> &'static str {
        "mobilefacenet-im2col"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = values(storage, layout, self.name())?;
        let (b, h, w, c) = layout.shape().dims4()?;
        let (k, s) = (self.kernel, self.stride);
        let (ho, pad_y) = self.padding.plan(h, k, s);
        let (wo, pad_x) = self.padding.plan(w, k, s);
        let cols = k * k * c;
        let mut out = vec![0f32; b * ho * wo * cols];
        let one_row = |(row_index, row): (usize, &mut [f32])| {
            let (bi, oy) = (row_index / ho, row_index % ho);
            let image = &x[bi * h * w * c..(bi + 1) * h * w * c];
            for ox in 0..wo {
                let dst = &mut row[ox * cols..(ox + 1) * cols];
                for ky in 0..k {
                    let Some(iy) = (oy * s + ky).checked_sub(pad_y).filter(|&iy| iy < h) else {
                        continue;
                    };
                    for kx in 0..k {
                        let Some(ix) = (ox * s + kx).checked_sub(pad_x).filter(|&ix| ix < w) else {
                            continue;
                        };
                        dst[(ky * k + kx) * c..][..c]
                            .copy_from_slice(&image[(iy * w + ix) * c..][..c]);
                    }
                }
            }
        };
        if self.parallel {
            out.par_chunks_mut(wo * cols).enumerate().for_each(one_row);
        } else {
            out.chunks_mut(wo * cols).enumerate().for_each(one_row);
        }
        Ok((CpuStorage::F32(out), Shape::from((b * ho * wo, cols))))
    }
}

impl Im2ColNhwc {
    /// The im2col rows of output rows from `first_out` on, of one whole `h × w × c` image, into
    /// `out` (`[rows · Wo, k·k·c]`; every value is written), on the calling thread.
    pub fn band(
        &self,
        image: &[f32],
        (h, w, c): (usize, usize, usize),
        first_out: usize,
        out: &mut [f32],
    ) -> Result<()> {
        let (k, s) = (self.kernel, self.stride);
        let (ho, pad_y) = self.padding.plan(h, k, s);
        let (wo, pad_x) = self.padding.plan(w, k, s);
        let cols = k * k * c;
        let rows = out.len() / (wo * cols).max(1);
        if image.len() != h * w * c || out.len() != rows * wo * cols || first_out + rows > ho {
            candle_core::bail!("im2col band: output rows {first_out}.. of {ho} do not fit")
        }
        out.fill(0.0);
        for (i, row) in out.chunks_mut(wo * cols).enumerate() {
            let oy = first_out + i;
            for ox in 0..wo {
                let dst = &mut row[ox * cols..(ox + 1) * cols];
                for ky in 0..k {
                    let Some(iy) = (oy * s + ky).checked_sub(pad_y).filter(|&iy| iy < h) else {
                        continue;
                    };
                    for kx in 0..k {
                        let Some(ix) = (ox * s + kx).checked_sub(pad_x).filter(|&ix| ix < w) else {
                            continue;
                        };
                        dst[(ky * k + kx) * c..][..c]
                            .copy_from_slice(&image[(iy * w + ix) * c..][..c]);
                    }
                }
            }
        }
        Ok(())
    }
}

/// Applies a custom op to a tensor made contiguous first.
pub fn apply(x: &Tensor, op: impl CustomOp1 + Send + Sync + 'static) -> Result<Tensor> {
    x.contiguous()?.apply_op1(op)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_padding_pads_the_bottom_right_of_an_even_stride_2_input() {
        // TensorFlow: 112 → 56 with a 3×3 stride-2 filter pads 0 before and 1 after.
        assert_eq!(Padding::Same.plan(112, 3, 2), (56, 0));
        assert_eq!(Padding::Same.plan(56, 3, 1), (56, 1));
        assert_eq!(Padding::Same.plan(7, 3, 2), (4, 1));
        assert_eq!(Padding::Valid.plan(7, 7, 1), (1, 0));
    }

    /// The depthwise layer written out plainly: every output value from its taps.
    fn naive_depthwise(
        x: &[f32],
        (h, w, c): (usize, usize, usize),
        op: &DepthwiseConv,
    ) -> (Vec<f32>, usize, usize) {
        let k = op.kernel;
        let (ho, py) = op.padding.plan(h, k, op.stride);
        let (wo, px) = op.padding.plan(w, k, op.stride);
        let mut out = vec![0f32; ho * wo * c];
        for oy in 0..ho {
            for ox in 0..wo {
                for ch in 0..c {
                    let mut a = op.post.bias[ch];
                    for ky in 0..k {
                        for kx in 0..k {
                            let iy = (oy * op.stride + ky) as isize - py as isize;
                            let ix = (ox * op.stride + kx) as isize - px as isize;
                            if (0..h as isize).contains(&iy) && (0..w as isize).contains(&ix) {
                                let (iy, ix) = (iy as usize, ix as usize);
                                a += x[(iy * w + ix) * c + ch] * op.weight[(ky * k + kx) * c + ch];
                            }
                        }
                    }
                    if let Some(slope) = &op.post.slope {
                        a = a.max(0.0) + slope[ch] * a.min(0.0);
                    }
                    out[(oy * wo + ox) * c + ch] = a;
                }
            }
        }
        (out, ho, wo)
    }

    #[test]
    fn the_depthwise_kernel_matches_the_plain_loops_on_every_vector_width() {
        // 80 channels: one whole block of 64 and 16 left over; odd and even sizes, both
        // strides, both paddings, with and without PReLU.
        let (h, w, c) = (9, 8, 80);
        let x: Vec<f32> = (0..h * w * c)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 25.0)
            .collect();
        for (k, stride, padding, act) in [
            (3, 1, Padding::Same, true),
            (3, 2, Padding::Same, true),
            (3, 2, Padding::Same, false),
            (7, 1, Padding::Valid, false),
        ] {
            let op = DepthwiseConv {
                weight: Arc::new(
                    (0..k * k * c)
                        .map(|i| ((i * 13 % 29) as f32 - 14.0) / 9.0)
                        .collect(),
                ),
                post: BiasPrelu {
                    bias: Arc::new((0..c).map(|i| i as f32 / 40.0 - 1.0).collect()),
                    slope: act.then(|| Arc::new((0..c).map(|i| i as f32 / 100.0).collect())),
                },
                kernel: k,
                stride,
                padding,
                parallel: false,
            };
            let (want, ho, wo) = naive_depthwise(&x, (h, w, c), &op);
            let (pad_y, pad_x) = (padding.plan(h, k, stride).1, padding.plan(w, k, stride).1);
            let plan = DepthwisePlan {
                weight: &op.weight,
                bias: &op.post.bias,
                slope: op.post.slope.as_deref().map(Vec::as_slice),
                k,
                s: stride,
                pad: (pad_y, pad_x),
                input: (h, w, c),
                first_row: 0,
                out: (ho, wo),
            };
            // Each width this CPU has (`at_most` runs a missing one on the next narrower).
            for wide in [Wide::Baseline, Wide::Avx2, Wide::Avx512] {
                let mut got = vec![0f32; ho * wo * c];
                for (oy, row) in got.chunks_mut(wo * c).enumerate() {
                    plan.row(&x, oy, row, wide);
                }
                let worst = got
                    .iter()
                    .zip(&want)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0f32, f32::max);
                assert!(
                    worst < 1e-4,
                    "{k}x{k} stride {stride} {padding:?} on {wide:?}: {worst}"
                );
            }
            // And through candle, as the network calls it.
            let t = Tensor::from_vec(x.clone(), (1, h, w, c), &candle_core::Device::Cpu).unwrap();
            let y = apply(&t, op.clone()).unwrap();
            assert_eq!(y.dims(), &[1, ho, wo, c]);
            let got = y.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            let worst = got
                .iter()
                .zip(&want)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            assert!(
                worst < 1e-4,
                "{k}x{k} stride {stride} through candle: {worst}"
            );
            // In bands, each from a slab of only the input rows it reads (as a team runs it),
            // and refused a slab that lacks one.
            let row = w * c;
            for first in 0..ho {
                for end in first + 1..=ho {
                    let need = op.input_rows(h, first..end);
                    let slab = &x[need.start * row..need.end * row];
                    let mut got = vec![0f32; (end - first) * wo * c];
                    op.band(slab, need.start, (h, w), first, &mut got).unwrap();
                    assert_eq!(
                        got,
                        want[first * wo * c..end * wo * c],
                        "rows {first}..{end}"
                    );
                    if need.len() > 1 {
                        let short = &x[(need.start + 1) * row..need.end * row];
                        assert!(
                            op.band(short, need.start + 1, (h, w), first, &mut got)
                                .is_err()
                        );
                    }
                }
            }
        }
    }
}
