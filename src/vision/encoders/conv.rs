//! The NHWC convolution as a candle custom op: a few matrix products per image, reading the
//! image in place, with the bias (and for the seed network's block, tanh and 2×2 average
//! pooling) fused into the same op,
//! and a backward pass that skips the input gradient of the first layer. candle's own conv2d
//! backward (a direct transposed convolution) made the seed network about 15× slower than
//! PyTorch on two cores.

// The per-image passes are inlined into `simd::widest`'s copies, one per vector width.
#![allow(clippy::inline_always)]

use candle_core::{CpuStorage, CustomOp3, Device, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::ops::{fast_tanh, values};
use crate::vision::gemm::{self, Dst, Operand};
use crate::vision::simd;

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

    /// Rows of the weight matrix: kernel × kernel × channels.
    fn row(self) -> usize {
        self.kernel * self.kernel * self.channels
    }

    fn image_len(self) -> usize {
        self.height * self.width * self.channels
    }
}

/// Convolution of an NHWC input with a `[k·k·C, C_out]` weight matrix and a bias, stride 1.
///
/// It runs image by image, each image on one of rayon's threads, with no im2col matrix: for
/// each kernel row `ky`, the image read as overlapping rows (row `p` is the `k·C` values from
/// pixel `p` on, `ky` rows down) times that kernel row's weights is one single-threaded gemm.
/// Those rows run along the image's full width, so the product also yields `k − 1` columns
/// past each output row's end, which are left out. The backward pass reads the image the same
/// way, and each thread sums its images' weight gradient into its own accumulator, so the
/// long reduction over every pixel of the batch is split over the threads too. A padded input
/// is copied into a zero border first.
///
/// Inside an image the activation is planar (`[C_out, oh, W]`, rows the input's width): gemm's
/// kernels then run down the long pixel axis rather than across 4 or 16 channels. The result
/// is NHWC again.
struct Conv {
    kernel: usize,
    padding: usize,
    /// Fused tanh after the bias.
    tanh: bool,
    /// Fused 2×2 average pooling after the activation.
    pool: bool,
    /// The planar activation before pooling (`[B, C_out, oh, W]`), kept for the backward pass
    /// when pooling hides it from the op's result.
    cache: std::sync::Mutex<Option<Vec<f32>>>,
}

/// A product inside one image's work; the sizes are checked by the op, so an error here is a
/// bug, reported rather than hidden.
fn product(dst: Dst<'_>, lhs: Operand<'_>, rhs: Operand<'_>, accumulate: bool) -> Result<()> {
    gemm::matmul(dst, lhs, rhs, accumulate, 1).map_err(|e| candle_core::Error::Msg(e.to_string()))
}

/// `Σ a·b` in 16 lanes, so that it vectorises (a fixed order, so the same bits every run).
#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    const LANES: usize = 16;
    let mut acc = [0f32; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for l in 0..LANES {
            acc[l] += x[l] * y[l];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// Images handed to a thread at a time: enough work to hide rayon's cost per task.
const IMAGES_PER_TASK: usize = 4;

/// One image's sizes, as the op's passes need them.
#[derive(Clone, Copy)]
struct Sizes {
    /// The (padded) input's width and channels.
    width: usize,
    channels: usize,
    kernel: usize,
    /// Output height and width.
    oh: usize,
    ow: usize,
    /// Output channels.
    c_out: usize,
}

impl Sizes {
    fn new(g: ConvGeometry, c_out: usize) -> Self {
        Self {
            width: g.width + 2 * g.padding,
            channels: g.channels,
            kernel: g.kernel,
            oh: g.out_h(),
            ow: g.out_w(),
            c_out,
        }
    }

    /// Values of one output channel's plane: `oh` rows of the input's width.
    fn plane(self) -> usize {
        self.oh * self.width
    }

    /// Positions the products compute: up to the last output pixel, row by row at the
    /// input's width.
    fn span(self) -> usize {
        (self.oh - 1) * self.width + self.ow
    }

    /// Values of one kernel row: `k · C`.
    fn run(self) -> usize {
        self.kernel * self.channels
    }

    /// The (padded) image read as overlapping rows, `ky` rows down: `span × k·C`.
    fn window(self, image: &[f32], ky: usize) -> Operand<'_> {
        let offset = (ky * self.width * self.channels).min(image.len());
        Operand::strided(&image[offset..], self.span(), self.run(), self.channels, 1)
    }

    /// [`Self::window`] transposed: `k·C × span`.
    fn window_t(self, image: &[f32], ky: usize) -> Operand<'_> {
        let offset = (ky * self.width * self.channels).min(image.len());
        Operand::strided(&image[offset..], self.run(), self.span(), 1, self.channels)
    }

    /// The forward products on a one-channel image (the first layer), where each tap's
    /// window is a plain run of the image: one vectorised multiply-add over the image per tap
    /// and output channel, which costs less than setting up a gemm with 5 columns.
    #[inline(always)]
    fn one_channel_forward(self, image: &[f32], w: &[f32], plane: &mut [f32]) {
        let (k, c_out, span) = (self.kernel, self.c_out, self.span());
        for (co, dst) in plane.chunks_exact_mut(self.plane()).enumerate() {
            let dst = &mut dst[..span];
            dst.fill(0.0);
            for ky in 0..k {
                for kx in 0..k {
                    let tap = w[(ky * k + kx) * c_out + co];
                    let src = &image[ky * self.width + kx..][..span];
                    dst.iter_mut().zip(src).for_each(|(d, x)| *d += tap * x);
                }
            }
        }
    }

    /// The weight gradient on a one-channel image, added onto `grad_wt` (`[C_out, k·k]`): a
    /// dot product of each tap's run of the image with each output channel's gradient.
    #[inline(always)]
    fn one_channel_weight_grad(self, image: &[f32], pre: &[f32], grad_wt: &mut [f32]) {
        let (k, span) = (self.kernel, self.span());
        for ky in 0..k {
            for kx in 0..k {
                let src = &image[ky * self.width + kx..][..span];
                for (co, pre) in pre.chunks_exact(self.plane()).enumerate() {
                    grad_wt[co * k * k + ky * k + kx] += dot(src, &pre[..span]);
                }
            }
        }
    }

    /// 2×2 average pooling of a planar activation into an NHWC image `out`.
    #[inline(always)]
    fn pool_from_planes(self, plane: &[f32], out: &mut [f32]) {
        let (w, c_out) = (self.width, self.c_out);
        let (ph, pw) = (self.oh / 2, self.ow / 2);
        for (co, plane) in plane.chunks_exact(self.plane()).enumerate() {
            for py in 0..ph {
                let r0 = &plane[2 * py * w..];
                let r1 = &plane[(2 * py + 1) * w..];
                for px in 0..pw {
                    out[(py * pw + px) * c_out + co] =
                        0.25 * (r0[2 * px] + r0[2 * px + 1] + r1[2 * px] + r1[2 * px + 1]);
                }
            }
        }
    }

    /// A planar activation as an NHWC image `out`.
    #[inline(always)]
    fn interleave(self, plane: &[f32], out: &mut [f32]) {
        let (w, ow, c_out) = (self.width, self.ow, self.c_out);
        for (co, plane) in plane.chunks_exact(self.plane()).enumerate() {
            for y in 0..self.oh {
                for (x, v) in plane[y * w..y * w + ow].iter().enumerate() {
                    out[(y * ow + x) * c_out + co] = *v;
                }
            }
        }
    }
}

impl ConvGeometry {
    /// The image with its zero border, into `padded` (`[H + 2p, W + 2p, C]`); the image itself
    /// when there is no padding.
    #[inline(always)]
    fn padded<'a>(self, image: &'a [f32], padded: &'a mut [f32]) -> &'a [f32] {
        let p = self.padding;
        if p == 0 {
            return image;
        }
        let (w, c) = (self.width, self.channels);
        let row = (w + 2 * p) * c;
        for (y, src) in image.chunks_exact(w * c).enumerate() {
            padded[(y + p) * row + p * c..][..w * c].copy_from_slice(src);
        }
        padded
    }

    /// Crops a padded image's gradient back to the image, adding it onto `image`.
    #[inline(always)]
    fn crop_into(self, padded: &[f32], image: &mut [f32]) {
        let p = self.padding;
        let (w, c) = (self.width, self.channels);
        let row = (w + 2 * p) * c;
        for (y, dst) in image.chunks_exact_mut(w * c).enumerate() {
            let src = &padded[(y + p) * row + p * c..][..w * c];
            dst.iter_mut().zip(src).for_each(|(d, s)| *d += s);
        }
    }

    /// Scratch for [`Self::padded`]: the padded image's size, or nothing without padding.
    fn scratch_len(self) -> usize {
        if self.padding == 0 {
            return 0;
        }
        (self.height + 2 * self.padding) * (self.width + 2 * self.padding) * self.channels
    }
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
        let (oh, ow) = (g.out_h(), g.out_w());
        if self.pool && (oh < 2 || ow < 2) {
            candle_core::bail!("conv: a {oh}x{ow} output is too small for 2x2 pooling")
        }
        let x = values(x_storage, x_layout, self.name())?;
        let w = values(w_storage, w_layout, self.name())?;
        let s = Sizes::new(g, c_out);
        let plane_len = s.plane() * c_out;
        let out_len = if self.pool {
            (oh / 2) * (ow / 2) * c_out
        } else {
            oh * ow * c_out
        };
        let mut out = vec![0f32; g.batch * out_len];
        // With pooling, each image's planes are kept for the backward pass; without, they are
        // scratch (the result itself is the activation).
        let mut act = if self.pool {
            vec![0f32; g.batch * plane_len]
        } else {
            Vec::new()
        };
        let mut kept: Vec<Option<&mut [f32]>> = if self.pool {
            act.chunks_mut(plane_len.max(1)).map(Some).collect()
        } else {
            (0..g.batch).map(|_| None).collect()
        };
        out.par_chunks_mut(out_len.max(1))
            .zip(x.par_chunks(g.image_len().max(1)))
            .zip(kept.par_iter_mut())
            .with_min_len(IMAGES_PER_TASK)
            .try_for_each_init(
                || (vec![0f32; g.scratch_len()], vec![0f32; plane_len]),
                |(padded, scratch), ((out, image), kept)| {
                    let plane: &mut [f32] = match kept {
                        Some(plane) => plane,
                        None => scratch,
                    };
                    simd::widest(ForwardImage {
                        conv: self,
                        g,
                        s,
                        w,
                        bias,
                        image,
                        padded,
                        plane,
                        out,
                    })
                },
            )?;
        drop(kept);
        let shape = if self.pool {
            if let Ok(mut cache) = self.cache.lock() {
                *cache = Some(act);
            }
            Shape::from((g.batch, oh / 2, ow / 2, c_out))
        } else {
            Shape::from((g.batch, oh, ow, c_out))
        };
        Ok((CpuStorage::F32(out), shape))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _b: &Tensor,
        res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let g = ConvGeometry::new(x.shape(), self.kernel, self.padding)?;
        let (rows, c_out) = w.dims2()?;
        let s = Sizes::new(g, c_out);
        // The activation after tanh: the kept planes when the op pools, else its NHWC result.
        let act = if self.pool {
            let Some(act) = self.cache.lock().ok().and_then(|mut c| c.take()) else {
                candle_core::bail!("conv: backward pass without a forward pass")
            };
            act
        } else {
            res.flatten_all()?.to_vec1::<f32>()?
        };
        let act_len = if self.pool {
            s.plane() * c_out
        } else {
            s.oh * s.ow * c_out
        };
        let grad = grad.flatten_all()?.to_vec1::<f32>()?;
        let xs = x.flatten_all()?.to_vec1::<f32>()?;
        let ws = w.flatten_all()?.to_vec1::<f32>()?;
        let per_image_out = if self.pool {
            (s.oh / 2) * (s.ow / 2) * c_out
        } else {
            s.oh * s.ow * c_out
        };
        // The first layer's input is data, not a variable: skip its gradient.
        let need_x = x.track_op();
        let mut grad_x = if need_x {
            vec![0f32; g.batch * g.image_len()]
        } else {
            Vec::new()
        };
        let mut slots: Vec<Option<&mut [f32]>> = if need_x {
            grad_x.chunks_mut(g.image_len().max(1)).map(Some).collect()
        } else {
            (0..g.batch).map(|_| None).collect()
        };
        let partials: Vec<Partial> = slots
            .par_iter_mut()
            .enumerate()
            .with_min_len(IMAGES_PER_TASK)
            .try_fold(
                || Partial::new(g, s),
                |mut p, (i, slot)| {
                    let image = Image {
                        grad: &grad[i * per_image_out..(i + 1) * per_image_out],
                        act: &act[i * act_len..(i + 1) * act_len],
                        x: &xs[i * g.image_len()..(i + 1) * g.image_len()],
                        grad_x: slot.as_deref_mut(),
                    };
                    simd::widest(BackwardImage {
                        partial: &mut p,
                        conv: self,
                        g,
                        s,
                        ws: &ws,
                        image,
                    })?;
                    Ok::<_, candle_core::Error>(p)
                },
            )
            .collect::<Result<_>>()?;
        drop(slots);
        let (grad_w, grad_b) = Partial::sum(&partials, rows, c_out);
        let device = Device::Cpu;
        let grad_x = if need_x {
            Some(Tensor::from_vec(
                grad_x,
                (g.batch, g.height, g.width, g.channels),
                &device,
            )?)
        } else {
            None
        };
        Ok((
            grad_x,
            Some(Tensor::from_vec(grad_w, (rows, c_out), &device)?),
            Some(Tensor::from_vec(grad_b, c_out, &device)?),
        ))
    }
}

/// One image's forward pass: the products, bias and tanh on its planes, then pooling or
/// interleaving into the NHWC result.
struct ForwardImage<'a> {
    conv: &'a Conv,
    g: ConvGeometry,
    s: Sizes,
    w: &'a [f32],
    bias: &'a [f32],
    image: &'a [f32],
    padded: &'a mut [f32],
    plane: &'a mut [f32],
    out: &'a mut [f32],
}

impl simd::Kernel for ForwardImage<'_> {
    type Output = Result<()>;

    #[inline(always)]
    fn run(self) -> Result<()> {
        let Self {
            conv,
            g,
            s,
            w,
            bias,
            image,
            padded,
            plane,
            out,
        } = self;
        let c_out = s.c_out;
        let image = g.padded(image, padded);
        if s.channels == 1 {
            s.one_channel_forward(image, w, plane);
        } else {
            let run = s.run();
            for ky in 0..conv.kernel {
                product(
                    Dst::strided(plane, s.span(), c_out, 1, s.plane()),
                    s.window(image, ky),
                    Operand::new(&w[ky * run * c_out..(ky + 1) * run * c_out], run, c_out),
                    ky > 0,
                )?;
            }
        }
        let tanh = conv.tanh;
        for (plane, b) in plane.chunks_exact_mut(s.plane().max(1)).zip(bias) {
            for v in plane {
                *v = if tanh { fast_tanh(*v + b) } else { *v + b };
            }
        }
        if conv.pool {
            s.pool_from_planes(plane, out);
        } else {
            s.interleave(plane, out);
        }
        Ok(())
    }
}

/// One image's backward pass, added onto a thread's sums.
struct BackwardImage<'a> {
    partial: &'a mut Partial,
    conv: &'a Conv,
    g: ConvGeometry,
    s: Sizes,
    ws: &'a [f32],
    image: Image<'a>,
}

impl simd::Kernel for BackwardImage<'_> {
    type Output = Result<()>;

    #[inline(always)]
    fn run(self) -> Result<()> {
        self.partial
            .add(self.conv, self.g, self.s, self.ws, self.image)
    }
}

/// One image's share of the backward pass.
struct Image<'a> {
    /// The gradient of the op's result.
    grad: &'a [f32],
    /// The activation after tanh (see [`Conv::pre_activation_grad`]).
    act: &'a [f32],
    /// The input.
    x: &'a [f32],
    /// Where the input's gradient goes, when it is wanted.
    grad_x: Option<&'a mut [f32]>,
}

/// One thread's sums and scratch space in the backward pass.
struct Partial {
    /// The weight gradient, transposed: `[C_out, k·k·C]`.
    grad_wt: Vec<f32>,
    grad_b: Vec<f32>,
    /// The gradient at the convolution's output, planar.
    pre: Vec<f32>,
    /// The padded image, and its gradient.
    padded: Vec<f32>,
    grad_padded: Vec<f32>,
    /// One kernel row's share of the input gradient, `span × k·C`.
    rows: Vec<f32>,
}

impl Partial {
    fn new(g: ConvGeometry, s: Sizes) -> Self {
        Self {
            grad_wt: vec![0f32; g.row() * s.c_out],
            grad_b: vec![0f32; s.c_out],
            pre: vec![0f32; s.plane() * s.c_out],
            padded: vec![0f32; g.scratch_len()],
            grad_padded: vec![0f32; g.scratch_len()],
            rows: vec![0f32; s.span() * s.run()],
        }
    }

    /// Adds one image's weight and bias gradients, and writes its input gradient.
    #[inline(always)]
    fn add(
        &mut self,
        conv: &Conv,
        g: ConvGeometry,
        s: Sizes,
        ws: &[f32],
        image: Image<'_>,
    ) -> Result<()> {
        let (rows, c_out, run, span, plane) = (g.row(), s.c_out, s.run(), s.span(), s.plane());
        conv.pre_activation_grad(image.grad, image.act, s, &mut self.pre);
        let x = g.padded(image.x, &mut self.padded);
        // The positions past each output row's end hold zero in `pre`, so they add nothing.
        let pre = Operand::strided(&self.pre, span, c_out, 1, plane);
        if s.channels == 1 {
            s.one_channel_weight_grad(x, &self.pre, &mut self.grad_wt);
        } else {
            for ky in 0..g.kernel {
                // grad_w[ky] += windowᵀ · pre, kept column-major (gemm runs down the k·C rows).
                product(
                    Dst::strided(&mut self.grad_wt[ky * run..], run, c_out, 1, rows),
                    s.window_t(x, ky),
                    pre,
                    true,
                )?;
            }
        }
        for (sum, plane) in self
            .grad_b
            .iter_mut()
            .zip(self.pre.chunks_exact(plane.max(1)))
        {
            *sum += plane.iter().sum::<f32>();
        }
        let Some(grad_x) = image.grad_x else {
            return Ok(());
        };
        let padded = g.padding > 0;
        let target: &mut [f32] = if padded {
            self.grad_padded.fill(0.0);
            &mut self.grad_padded
        } else {
            grad_x
        };
        let row_values = s.width * s.channels;
        for ky in 0..g.kernel {
            // The window's gradient, pre · w[ky]ᵀ, summed back onto the pixels it read.
            let w_ky = &ws[ky * run * c_out..(ky + 1) * run * c_out];
            product(
                Dst::row_major(&mut self.rows, span, run),
                pre,
                Operand::transpose_of(w_ky, c_out, run),
                false,
            )?;
            for (p, values) in self.rows.chunks_exact(run).enumerate() {
                let at = ky * row_values + p * s.channels;
                target[at..at + run]
                    .iter_mut()
                    .zip(values)
                    .for_each(|(d, v)| *d += v);
            }
        }
        if padded {
            g.crop_into(&self.grad_padded, grad_x);
        }
        Ok(())
    }

    /// The threads' sums: the weight gradient `[k·k·C, C_out]` and the bias gradient.
    fn sum(partials: &[Self], rows: usize, c_out: usize) -> (Vec<f32>, Vec<f32>) {
        let mut grad_w = vec![0f32; rows * c_out];
        let mut grad_b = vec![0f32; c_out];
        for p in partials {
            for (co, column) in p.grad_wt.chunks_exact(rows.max(1)).enumerate() {
                for (r, v) in column.iter().enumerate() {
                    grad_w[r * c_out + co] += v;
                }
            }
            grad_b.iter_mut().zip(&p.grad_b).for_each(|(s, v)| *s += v);
        }
        (grad_w, grad_b)
    }
}

impl Conv {
    /// One image's gradient at the convolution's output (before the fused tanh and pooling),
    /// planar into `out` (`[C_out, oh, W]`, zero past each row's `ow` outputs), from the
    /// gradient `grad` of the op's result (NHWC) and the activation `act` (planar like `out`
    /// when the op pools, NHWC when it does not).
    #[inline(always)]
    fn pre_activation_grad(&self, grad: &[f32], act: &[f32], s: Sizes, out: &mut [f32]) {
        let (oh, ow, w, c_out, plane) = (s.oh, s.ow, s.width, s.c_out, s.plane());
        out.fill(0.0);
        if self.pool {
            let (ph, pw) = (oh / 2, ow / 2);
            for (co, out) in out.chunks_exact_mut(plane).enumerate() {
                for py in 0..ph {
                    for px in 0..pw {
                        let up = 0.25 * grad[(py * pw + px) * c_out + co];
                        let at = 2 * py * w + 2 * px;
                        out[at] = up;
                        out[at + 1] = up;
                        out[at + w] = up;
                        out[at + w + 1] = up;
                    }
                }
            }
            if self.tanh {
                for (o, a) in out.iter_mut().zip(act) {
                    *o *= 1.0 - a * a;
                }
            }
        } else {
            for (co, out) in out.chunks_exact_mut(plane).enumerate() {
                for y in 0..oh {
                    for x in 0..ow {
                        let at = (y * ow + x) * c_out + co;
                        let a = if self.tanh {
                            1.0 - act[at] * act[at]
                        } else {
                            1.0
                        };
                        out[y * w + x] = grad[at] * a;
                    }
                }
            }
        }
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
    use crate::testdata::tensors::{max_abs, max_abs_diff, seq};
    use candle_core::Var;

    #[test]
    fn conv_matches_candle_conv2d_forward_and_backward() {
        // 11 images: several per thread and a remainder, so that scratch reused from one image
        // to the next (the padded copy, the planes) is tested too.
        // One input channel takes the direct path, three the products over the image's rows.
        for (c_in, padding) in [(1, 0), (1, 2), (3, 0), (3, 1), (3, 2)] {
            let x = Var::from_tensor(&seq(&[11, c_in, 7, 6], 0.02)).unwrap();
            let w = Var::from_tensor(&seq(&[4, c_in, 3, 3], 0.01)).unwrap();
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
                // Relative to the gradient's size: the sums run in another order.
                let err = max_abs_diff(a, c) / max_abs(a).max(1.0);
                assert!(
                    err < 1e-5,
                    "{c_in} channels, padding {padding}: {} of {}",
                    max_abs_diff(a, c),
                    max_abs(a)
                );
            }
        }
    }

    #[test]
    fn the_fused_seed_block_matches_its_parts() {
        let x = Var::from_tensor(&seq(&[9, 9, 8, 2], 0.02)).unwrap();
        let w = Var::from_tensor(&seq(&[3, 2, 3, 3], 0.01)).unwrap();
        let b = Var::from_tensor(&seq(&[3], 0.1)).unwrap();
        let parts = avg_pool2_nhwc(&tanh(&conv2d_nhwc(&x, &w, &b, 0).unwrap()).unwrap()).unwrap();
        let fused = conv_tanh_avg_pool_nhwc(&x, &w, &b).unwrap();
        assert_eq!(fused.dims(), &[9, 3, 3, 3]);
        assert!(max_abs_diff(&parts, &fused) < 1e-6);
        let weights = seq(&[9, 3, 3, 3], 0.1);
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
