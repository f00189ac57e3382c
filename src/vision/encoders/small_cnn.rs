//! `small-cnn`: a stronger small encoder than the seed's. Per stage a 3×3 convolution
//! (padding one) with ReLU, 2×2 max pooling between stages, a hidden dense layer (or global average
//! pooling), a linear embedding layer and (by default) L2 normalisation, so distances lie in `[0, 2]`. He-normal weights.
//! The digits default (widths 32, 64, 128, a 256-wide hidden layer over the flattened 7×7
//! map, 64-D embeddings) has about 1.7 million parameters.

use candle_core::{Module, Result, Tensor};
use candle_nn::{Init, VarBuilder};

use super::init::{glorot, he_normal};
use super::ops;
use super::seed_cnn::ConvLayer;

/// The shape of a `small-cnn`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Config {
    /// Side of the square input, in pixels.
    pub input_size: usize,
    /// Input channels (1 grey, 3 RGB).
    pub in_channels: usize,
    /// Filters of each stage's convolution; every stage but the last ends in 2×2 max pooling.
    pub widths: Vec<usize>,
    /// Size of the embedding.
    pub embedding_dim: usize,
    /// L2-normalise the embedding.
    pub normalize: bool,
    /// Width of a hidden dense layer over the flattened last feature map (ReLU); 0 = global
    /// average pooling straight into the embedding layer.
    #[serde(default)]
    pub hidden_dim: usize,
}

impl Config {
    /// The default for 28×28 grey digits.
    #[must_use]
    pub fn digits() -> Self {
        Self {
            input_size: 28,
            in_channels: 1,
            widths: vec![32, 64, 128],
            embedding_dim: 64,
            normalize: true,
            hidden_dim: 256,
        }
    }
}

/// The network.
#[derive(Clone, Debug)]
pub struct SmallCnn {
    convs: Vec<ConvLayer>,
    hidden: Option<candle_nn::Linear>,
    embed: candle_nn::Linear,
    normalize: bool,
}

impl SmallCnn {
    /// Builds the network; weights come from `vb` (`conv{i}.*`, `embed.*`).
    pub fn new(cfg: &Config, vb: &VarBuilder) -> Result<Self> {
        if cfg.widths.is_empty() {
            candle_core::bail!("small-cnn: at least one stage is needed")
        }
        let pools = cfg.widths.len() - 1;
        if cfg.input_size >> pools < 1 || cfg.input_size < 1 << pools {
            candle_core::bail!(
                "small-cnn: a {0}x{0} input is too small for {pools} poolings",
                cfg.input_size
            )
        }
        let mut convs = Vec::new();
        let mut c_in = cfg.in_channels;
        for (i, &w) in cfg.widths.iter().enumerate() {
            convs.push(ConvLayer::new(
                c_in,
                w,
                3,
                1,
                he_normal(c_in * 9),
                &vb.pp(format!("conv{}", i + 1)),
            )?);
            c_in = w;
        }
        let linear =
            |i: usize, o: usize, init: Init, vb: VarBuilder| -> Result<candle_nn::Linear> {
                let w = vb.get_with_hints((o, i), "weight", init)?;
                let b = vb.get_with_hints(o, "bias", Init::Const(0.0))?;
                Ok(candle_nn::Linear::new(w, Some(b)))
            };
        let (hidden, feat) = if cfg.hidden_dim > 0 {
            let side = cfg.input_size >> pools;
            let flat = side * side * c_in;
            let h = linear(flat, cfg.hidden_dim, he_normal(flat), vb.pp("hidden"))?;
            (Some(h), cfg.hidden_dim)
        } else {
            (None, c_in)
        };
        let embed = linear(
            feat,
            cfg.embedding_dim,
            glorot(feat, cfg.embedding_dim),
            vb.pp("embed"),
        )?;
        Ok(Self {
            convs,
            hidden,
            embed,
            normalize: cfg.normalize,
        })
    }
}

/// Scales each row to unit L2 length (rows of zeros stay zero).
pub fn l2_normalize(x: &Tensor) -> Result<Tensor> {
    let norm = (x.sqr()?.sum_keepdim(1)? + 1e-12)?.sqrt()?;
    x.broadcast_div(&norm)
}

impl Module for SmallCnn {
    /// `[B, H, W, C]` images in `[0, 1]` → `[B, embedding_dim]`.
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let mut x = xs.clone();
        for (i, conv) in self.convs.iter().enumerate() {
            x = conv.forward(&x)?.relu()?;
            if i + 1 < self.convs.len() {
                x = ops::max_pool2_nhwc(&x)?;
            }
        }
        let x = match &self.hidden {
            Some(h) => h.forward(&x.flatten_from(1)?)?.relu()?, // [B, hidden]
            None => x.mean(1)?.mean(1)?,                        // [B, C]: global average pooling
        };
        let x = self.embed.forward(&x)?;
        if self.normalize {
            l2_normalize(&x)
        } else {
            Ok(x)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vision::encoders::init::seeded_var_builder;

    #[test]
    fn embeddings_have_unit_length() {
        let vm = candle_nn::VarMap::new();
        let net = SmallCnn::new(&Config::digits(), &seeded_var_builder(&vm, 1)).unwrap();
        let x = Tensor::rand(0f32, 1.0, (2, 28, 28, 1), &candle_core::Device::Cpu).unwrap();
        let y = net.forward(&x).unwrap();
        assert_eq!(y.dims(), &[2, 64]);
        for row in y.to_vec2::<f32>().unwrap() {
            let n: f32 = row.iter().map(|v| v * v).sum();
            assert!((n - 1.0).abs() < 1e-4);
        }
        let n: usize = vm.all_vars().iter().map(|v| v.elem_count()).sum();
        assert_eq!(
            n,
            (9 + 1) * 32
                + (9 * 32 + 1) * 64
                + (9 * 64 + 1) * 128
                + (7 * 7 * 128 + 1) * 256
                + (256 + 1) * 64
        );
    }
}
