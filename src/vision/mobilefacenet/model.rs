//! MobileFaceNet (Chen et al., 2018) in candle, as sirius-ai/MobileFaceNet_TF built it: a 3×3
//! stride-2 stem, a depthwise-separable layer, 15 inverted-residual bottlenecks, a 1×1 layer to
//! 512 channels, a 7×7 global depthwise convolution and two linear 1×1 layers to the 192-D
//! embedding. Batch norm is folded into every convolution's bias; activations are PReLU.
//!
//! The tensors run in NHWC order, so each 1×1 convolution is one matrix product; the depthwise
//! layers and the stem use the kernels of [`super::ops`]. The weight file keeps PyTorch's layout
//! (`[out, in, kh, kw]`, depthwise `[C, 1, kh, kw]`), written by `tools/convert_mobilefacenet.py`,
//! and the `vb.pp(..)` paths below are its tensor names.

use std::sync::Arc;

use candle_core::{DType, Module, Result, Tensor};
use candle_nn::VarBuilder;

use super::ops::{self, BiasPrelu, DepthwiseConv, Im2ColNhwc, Padding, PointwiseConv};

/// One stage of bottlenecks.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StageConfig {
    /// Channel expansion inside each bottleneck.
    pub expansion: usize,
    /// Output channels.
    pub channels: usize,
    /// Bottlenecks in the stage.
    pub repeats: usize,
    /// Stride of the stage's first bottleneck.
    pub stride: usize,
}

/// The network's shape.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Config {
    /// Side of the square input chip.
    pub input_size: usize,
    /// Channels of the stem.
    pub stem_channels: usize,
    /// The bottleneck stages.
    pub stages: Vec<StageConfig>,
    /// Channels of the last 1×1 layer and the global depthwise convolution.
    pub last_channels: usize,
    /// Embedding size.
    pub embedding_dim: usize,
}

impl Config {
    /// MobileFaceNet as published: 112×112 input, 192-D embedding, 1.29 M parameters.
    #[must_use]
    pub fn mobilefacenet() -> Self {
        let stage = |expansion, channels, repeats, stride| StageConfig {
            expansion,
            channels,
            repeats,
            stride,
        };
        Self {
            input_size: 112,
            stem_channels: 64,
            stages: vec![
                stage(2, 64, 5, 2),
                stage(4, 128, 1, 2),
                stage(2, 128, 6, 1),
                stage(4, 128, 1, 2),
                stage(2, 128, 2, 1),
            ],
            last_channels: 512,
            embedding_dim: 192,
        }
    }

    /// Checks the sizes line up: the input halves four times to the 7×7 of the global
    /// depthwise filter.
    pub fn validate(&self) -> std::result::Result<(), String> {
        let strides: usize = 2 * self.stages.iter().map(|s| s.stride).product::<usize>();
        if self.input_size == 0 || self.stages.is_empty() || self.embedding_dim == 0 {
            return Err("the configuration is empty".into());
        }
        if !self.input_size.is_multiple_of(strides) {
            return Err(format!(
                "input {} is not a multiple of the total stride {strides}",
                self.input_size
            ));
        }
        if self.stages.iter().any(|s| s.repeats == 0 || s.stride == 0) {
            return Err("a stage has no blocks or a zero stride".into());
        }
        Ok(())
    }

    /// Side of the feature map that the global depthwise convolution covers.
    #[must_use]
    pub fn final_size(&self) -> usize {
        self.input_size / (2 * self.stages.iter().map(|s| s.stride).product::<usize>())
    }

    /// Multiply-adds of one embedding.
    #[must_use]
    pub fn macs(&self) -> u64 {
        let mut side = self.input_size / 2;
        let c0 = self.stem_channels;
        let mut total = side * side * c0 * 27 + side * side * c0 * 9 + side * side * c0 * c0;
        let mut c_in = c0;
        for s in &self.stages {
            for r in 0..s.repeats {
                let stride = if r == 0 { s.stride } else { 1 };
                let mid = c_in * s.expansion;
                total += side * side * c_in * mid;
                side /= stride;
                total += side * side * mid * 9 + side * side * mid * s.channels;
                c_in = s.channels;
            }
        }
        let last = self.last_channels;
        total += side * side * c_in * last + side * side * last + last * last;
        total += last * self.embedding_dim;
        total as u64
    }
}

/// A weight and its values, as a kernel wants them.
fn vec_of(t: &Tensor) -> Result<Arc<Vec<f32>>> {
    Ok(Arc::new(t.flatten_all()?.to_vec1::<f32>()?))
}

/// A layer's `bias` and, when it has an activation, its `prelu` slopes, `[C]` each.
fn bias_prelu(c: usize, act: bool, vb: &VarBuilder) -> Result<BiasPrelu> {
    Ok(BiasPrelu {
        bias: vec_of(&vb.get(c, "bias")?)?,
        slope: if act {
            Some(vec_of(&vb.get(c, "prelu")?)?)
        } else {
            None
        },
    })
}

/// A 1×1 convolution (a matrix product in NHWC) with bias and an optional PReLU. The op's own
/// `parallel` is set at each call, by [`MobileFaceNet::forward_on`].
#[derive(Debug, Clone)]
pub(super) struct Pointwise(pub(super) PointwiseConv);

impl Pointwise {
    fn new(c_in: usize, c_out: usize, act: bool, vb: &VarBuilder) -> Result<Self> {
        let w = vb.get((c_out, c_in, 1, 1), "weight")?;
        Ok(Self(PointwiseConv {
            weight: vec_of(&w.reshape((c_out, c_in))?.t()?.contiguous()?)?,
            c_in,
            post: bias_prelu(c_out, act, vb)?,
            parallel: true,
        }))
    }

    /// `[B, H, W, C_in]` → `[B, H, W, C_out]`.
    fn forward(&self, x: &Tensor, parallel: bool) -> Result<Tensor> {
        ops::apply(
            x,
            PointwiseConv {
                parallel,
                ..self.0.clone()
            },
        )
    }
}

/// A depthwise convolution with bias and an optional PReLU; `parallel` as for [`Pointwise`].
#[derive(Debug, Clone)]
pub(super) struct Depthwise(pub(super) DepthwiseConv);

impl Depthwise {
    fn new(
        c: usize,
        k: usize,
        stride: usize,
        padding: Padding,
        act: bool,
        vb: &VarBuilder,
    ) -> Result<Self> {
        // [C, 1, k, k] → [k, k, C], tap-major.
        let w = vb
            .get((c, 1, k, k), "weight")?
            .reshape((c, k * k))?
            .t()?
            .contiguous()?;
        Ok(Self(DepthwiseConv {
            weight: vec_of(&w)?,
            post: bias_prelu(c, act, vb)?,
            kernel: k,
            stride,
            padding,
            parallel: true,
        }))
    }

    fn forward(&self, x: &Tensor, parallel: bool) -> Result<Tensor> {
        ops::apply(
            x,
            DepthwiseConv {
                parallel,
                ..self.0.clone()
            },
        )
    }
}

/// The 3×3 stride-2 stem over the RGB chip, as im2col + one product.
#[derive(Debug, Clone)]
pub(super) struct Stem(pub(super) Pointwise);

impl Stem {
    fn new(c_out: usize, vb: &VarBuilder) -> Result<Self> {
        let w = vb.get((c_out, 3, 3, 3), "weight")?; // [O, I, ky, kx]
        // Rows in im2col order `(ky·3 + kx)·3 + c`.
        let weight = w.permute((2, 3, 1, 0))?.contiguous()?;
        Ok(Self(Pointwise(PointwiseConv {
            weight: vec_of(&weight)?,
            c_in: 27,
            post: bias_prelu(c_out, true, vb)?,
            parallel: true,
        })))
    }

    /// `[B, S, S, 3]` → `[B, S/2, S/2, C]`.
    fn forward(&self, x: &Tensor, parallel: bool) -> Result<Tensor> {
        let (b, h, w, _) = x.dims4()?;
        let cols = ops::apply(
            x,
            Im2ColNhwc {
                kernel: 3,
                stride: 2,
                padding: Padding::Same,
                parallel,
            },
        )?; // [B·S/2·S/2, 27]
        let y = self.0.forward(&cols, parallel)?; // [B·S/2·S/2, C]
        y.reshape((b, h.div_ceil(2), w.div_ceil(2), self.0.0.post.bias.len()))
    }
}

/// An inverted-residual bottleneck: expand (PReLU), depthwise 3×3 (PReLU), project (linear),
/// plus the input when the shape is kept.
#[derive(Debug, Clone)]
pub(super) struct Bottleneck {
    pub(super) expand: Pointwise,
    pub(super) dw: Depthwise,
    pub(super) project: Pointwise,
    pub(super) residual: bool,
}

impl Bottleneck {
    fn new(
        c_in: usize,
        c_out: usize,
        expansion: usize,
        stride: usize,
        vb: &VarBuilder,
    ) -> Result<Self> {
        let mid = c_in * expansion;
        Ok(Self {
            expand: Pointwise::new(c_in, mid, true, &vb.pp("expand"))?,
            dw: Depthwise::new(mid, 3, stride, Padding::Same, true, &vb.pp("dw"))?,
            project: Pointwise::new(mid, c_out, false, &vb.pp("project"))?,
            residual: stride == 1 && c_in == c_out,
        })
    }
}

impl Bottleneck {
    fn forward(&self, x: &Tensor, parallel: bool) -> Result<Tensor> {
        let y = self.expand.forward(x, parallel)?;
        let y = self.dw.forward(&y, parallel)?;
        let y = self.project.forward(&y, parallel)?;
        if self.residual { y + x } else { Ok(y) }
    }
}

/// The network.
#[derive(Debug, Clone)]
pub struct MobileFaceNet {
    cfg: Config,
    pub(super) conv1: Stem,
    pub(super) dw_conv1: Depthwise,
    pub(super) pw_conv1: Pointwise,
    pub(super) blocks: Vec<Bottleneck>,
    pub(super) conv2: Pointwise,
    pub(super) gdc: Depthwise,
    pub(super) linear: Pointwise,
    pub(super) embedding: Pointwise,
}

impl MobileFaceNet {
    /// Builds the network from weights named as in `tools/convert_mobilefacenet.py`.
    pub fn new(cfg: &Config, vb: &VarBuilder) -> Result<Self> {
        let c0 = cfg.stem_channels;
        let mut blocks = Vec::new();
        let mut c_in = c0;
        for stage in &cfg.stages {
            for r in 0..stage.repeats {
                let stride = if r == 0 { stage.stride } else { 1 };
                let vb = vb.pp(format!("blocks.{}", blocks.len()));
                blocks.push(Bottleneck::new(
                    c_in,
                    stage.channels,
                    stage.expansion,
                    stride,
                    &vb,
                )?);
                c_in = stage.channels;
            }
        }
        let last = cfg.last_channels;
        let k = cfg.final_size();
        Ok(Self {
            cfg: cfg.clone(),
            conv1: Stem::new(c0, &vb.pp("conv1"))?,
            dw_conv1: Depthwise::new(c0, 3, 1, Padding::Same, true, &vb.pp("dw_conv1"))?,
            pw_conv1: Pointwise::new(c0, c0, false, &vb.pp("pw_conv1"))?,
            blocks,
            conv2: Pointwise::new(c_in, last, true, &vb.pp("conv2"))?,
            gdc: Depthwise::new(last, k, 1, Padding::Valid, false, &vb.pp("gdc"))?,
            linear: Pointwise::new(last, last, false, &vb.pp("linear"))?,
            embedding: Pointwise::new(last, cfg.embedding_dim, false, &vb.pp("embedding"))?,
        })
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The weights' data type.
    #[must_use]
    pub fn dtype(&self) -> DType {
        DType::F32
    }
}

impl MobileFaceNet {
    /// `[B, 112, 112, 3]` normalised RGB chips (NHWC) to `[B, 192]` raw (not normalised)
    /// embeddings. With `parallel`, large layers are split over rayon's threads; without it
    /// everything runs on the calling thread (for one face per thread).
    pub fn forward_on(&self, x: &Tensor, parallel: bool) -> Result<Tensor> {
        let p = parallel;
        let x = self.conv1.forward(x, p)?; // [B, 56, 56, 64]
        let x = self.dw_conv1.forward(&x, p)?;
        let mut x = self.pw_conv1.forward(&x, p)?; // [B, 56, 56, 64]
        for block in &self.blocks {
            x = block.forward(&x, p)?; // … [B, 7, 7, 128]
        }
        let x = self.conv2.forward(&x, p)?; // [B, 7, 7, 512]
        let x = self.gdc.forward(&x, p)?; // [B, 1, 1, 512]
        let x = self.linear.forward(&x, p)?; // [B, 1, 1, 512]
        let x = self.embedding.forward(&x, p)?; // [B, 1, 1, 192]
        x.flatten_from(1) // [B, 192]
    }
}

impl Module for MobileFaceNet {
    /// [`MobileFaceNet::forward_on`], splitting large layers over rayon's threads.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.forward_on(x, true)
    }
}
