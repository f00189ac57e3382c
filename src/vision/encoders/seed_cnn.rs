//! `seed-cnn`: the seed tutorial's network, exactly. Conv 4@5×5 tanh → AvgPool 2 → Conv 16@5×5
//! tanh → AvgPool 2 → Flatten → Dense 10 tanh (4,290 parameters on 28×28 digits), with
//! Keras' default initialisation (Glorot-uniform weights, zero biases).
//!
//! Tensors are NHWC inside; the flatten is in (row, column, channel) order.

use candle_core::{Module, Result, Tensor};
use candle_nn::{Init, VarBuilder};

use super::init::glorot;
use super::{conv, ops};

/// The shape of a `seed-cnn`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Config {
    /// Side of the square input, in pixels (28 for MNIST).
    pub input_size: usize,
    /// Input channels (1 grey, 3 RGB).
    pub in_channels: usize,
    /// Filters of the first convolution (4 in the seed).
    pub conv1_channels: usize,
    /// Filters of the second convolution (16 in the seed).
    pub conv2_channels: usize,
    /// Side of both kernels (5 in the seed).
    pub kernel_size: usize,
    /// Size of the embedding (the Dense layer, 10 in the seed).
    pub embedding_dim: usize,
}

impl Config {
    /// The seed tutorial's network on 28×28 grey digits.
    #[must_use]
    pub fn seed() -> Self {
        Self {
            input_size: 28,
            in_channels: 1,
            conv1_channels: 4,
            conv2_channels: 16,
            kernel_size: 5,
            embedding_dim: 10,
        }
    }

    /// The side of the feature map after the second pooling, or `None` if the input is too small.
    #[must_use]
    pub fn final_side(&self) -> Option<usize> {
        let k = self.kernel_size;
        let s1 = self.input_size.checked_sub(k)? + 1;
        let s2 = (s1 / 2).checked_sub(k)? + 1;
        (s2 >= 2).then_some(s2 / 2)
    }

    /// The number of weights and biases.
    #[must_use]
    pub fn parameter_count(&self) -> usize {
        let k2 = self.kernel_size * self.kernel_size;
        let flat = self.final_side().unwrap_or(0).pow(2) * self.conv2_channels;
        (k2 * self.in_channels + 1) * self.conv1_channels
            + (k2 * self.conv1_channels + 1) * self.conv2_channels
            + (flat + 1) * self.embedding_dim
    }
}

/// A convolution's weight `[C_out, C_in, k, k]` and bias `[C_out]`.
#[derive(Clone, Debug)]
pub(super) struct ConvLayer {
    weight: Tensor,
    bias: Tensor,
    padding: usize,
}

impl ConvLayer {
    pub(super) fn new(
        c_in: usize,
        c_out: usize,
        k: usize,
        padding: usize,
        init: Init,
        vb: &VarBuilder,
    ) -> Result<Self> {
        Ok(Self {
            weight: vb.get_with_hints((c_out, c_in, k, k), "weight", init)?,
            bias: vb.get_with_hints(c_out, "bias", Init::Const(0.0))?,
            padding,
        })
    }

    /// `[B, H, W, C_in]` → `[B, H', W', C_out]`.
    pub(super) fn forward(&self, x: &Tensor) -> Result<Tensor> {
        conv::conv2d_nhwc(x, &self.weight, &self.bias, self.padding)
    }

    /// Convolution, tanh and 2×2 average pooling in one fused op (no padding).
    pub(super) fn forward_tanh_pool(&self, x: &Tensor) -> Result<Tensor> {
        conv::conv_tanh_avg_pool_nhwc(x, &self.weight, &self.bias)
    }
}

/// The seed network.
#[derive(Clone, Debug)]
pub struct SeedCnn {
    conv1: ConvLayer,
    conv2: ConvLayer,
    dense: candle_nn::Linear,
}

impl SeedCnn {
    /// Builds the network; weights come from `vb` (`conv1.*`, `conv2.*`, `dense.*`).
    pub fn new(cfg: &Config, vb: &VarBuilder) -> Result<Self> {
        let k = cfg.kernel_size;
        let Some(side) = cfg.final_side() else {
            candle_core::bail!(
                "seed-cnn: a {0}x{0} input is too small for two {k}x{k} convolutions",
                cfg.input_size
            )
        };
        let (c1, c2) = (cfg.conv1_channels, cfg.conv2_channels);
        let conv1 = ConvLayer::new(
            cfg.in_channels,
            c1,
            k,
            0,
            glorot(cfg.in_channels * k * k, c1 * k * k),
            &vb.pp("conv1"),
        )?;
        let conv2 = ConvLayer::new(
            c1,
            c2,
            k,
            0,
            glorot(c1 * k * k, c2 * k * k),
            &vb.pp("conv2"),
        )?;
        let flat = side * side * c2;
        let vd = vb.pp("dense");
        let w = vd.get_with_hints(
            (cfg.embedding_dim, flat),
            "weight",
            glorot(flat, cfg.embedding_dim),
        )?;
        let b = vd.get_with_hints(cfg.embedding_dim, "bias", Init::Const(0.0))?;
        Ok(Self {
            conv1,
            conv2,
            dense: candle_nn::Linear::new(w, Some(b)),
        })
    }
}

impl Module for SeedCnn {
    /// `[B, H, W, C]` images in `[0, 1]` → `[B, embedding_dim]`.
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let x = self.conv1.forward_tanh_pool(xs)?; // [B, 12, 12, 4]
        let x = self.conv2.forward_tanh_pool(&x)?; // [B, 4, 4, 16]
        let x = x.flatten_from(1)?; // [B, 256]
        ops::tanh(&self.dense.forward(&x)?) // [B, 10]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vision::encoders::init::seeded_var_builder;

    #[test]
    fn the_seed_network_has_4290_parameters_and_embeds_to_10() {
        let cfg = Config::seed();
        assert_eq!(cfg.parameter_count(), 4290);
        let vm = candle_nn::VarMap::new();
        let net = SeedCnn::new(&cfg, &seeded_var_builder(&vm, 0)).unwrap();
        let n: usize = vm.all_vars().iter().map(|v| v.elem_count()).sum();
        assert_eq!(n, 4290);
        let x = Tensor::zeros(
            (3, 28, 28, 1),
            candle_core::DType::F32,
            &candle_core::Device::Cpu,
        )
        .unwrap();
        let y = net.forward(&x).unwrap();
        assert_eq!(y.dims(), &[3, 10]);
        // Zero input and zero biases give a zero embedding.
        assert!(
            y.abs()
                .unwrap()
                .sum_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap()
                < 1e-6
        );
        let small = Config {
            input_size: 10,
            ..Config::seed()
        };
        assert!(SeedCnn::new(&small, &seeded_var_builder(&vm, 0)).is_err());
    }
}
