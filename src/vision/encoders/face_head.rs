//! `face-head`: a small residual MLP that fine-tunes a frozen pretrained face encoder. It takes
//! the base encoder's embedding `x` (e.g. the 128-D dlib ResNet vector) and returns
//! `normalize(x + W2·relu(W1·x + b1) + b2)`. `W2` and `b2` start at zero, so before training
//! the head is exactly the base encoder (up to the normalisation): training can only move
//! away from a known-good start. Only the head's weights are trained and stored; at run time
//! it is composed with the base (see `load::load_face_head_dir`).

use candle_core::{Module, Result, Tensor};
use candle_nn::{Init, VarBuilder};

use super::init::he_normal;
use super::small_cnn::l2_normalize;

/// The shape of a `face-head`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Config {
    /// The base encoder's embedding size (128 for the dlib ResNet); also the head's output.
    pub input_dim: usize,
    /// Width of the hidden layer.
    pub hidden_dim: usize,
    /// The model id of the frozen base encoder the head was trained on.
    pub base_model: String,
    /// The side of the base encoder's face chip, in pixels.
    pub chip_size: u32,
}

impl Config {
    /// A head for a 128-D base encoder (id filled in by the trainer).
    #[must_use]
    pub fn dlib_128() -> Self {
        Self {
            input_dim: 128,
            hidden_dim: 128,
            base_model: String::new(),
            chip_size: 150,
        }
    }

    /// A head for `base`: its embedding size (the hidden layer as wide), id and chip side.
    #[must_use]
    pub fn for_base(base: &dyn crate::vision::FaceEncoder) -> Self {
        Self {
            input_dim: base.dim(),
            hidden_dim: base.dim(),
            base_model: base.model_id().to_string(),
            chip_size: base.chip_size(),
        }
    }
}

/// The head.
#[derive(Clone, Debug)]
pub struct FaceHead {
    hidden: candle_nn::Linear,
    out: candle_nn::Linear,
}

impl FaceHead {
    /// Builds the head; weights come from `vb` (`hidden.*`, `out.*`).
    pub fn new(cfg: &Config, vb: &VarBuilder) -> Result<Self> {
        if cfg.input_dim == 0 || cfg.hidden_dim == 0 {
            candle_core::bail!("face-head: dimensions must be positive")
        }
        let (d, h) = (cfg.input_dim, cfg.hidden_dim);
        let vh = vb.pp("hidden");
        let hidden = candle_nn::Linear::new(
            vh.get_with_hints((h, d), "weight", he_normal(d))?,
            Some(vh.get_with_hints(h, "bias", Init::Const(0.0))?),
        );
        let vo = vb.pp("out");
        let out = candle_nn::Linear::new(
            vo.get_with_hints((d, h), "weight", Init::Const(0.0))?,
            Some(vo.get_with_hints(d, "bias", Init::Const(0.0))?),
        );
        Ok(Self { hidden, out })
    }
}

impl Module for FaceHead {
    /// `[B, input_dim]` base embeddings → `[B, input_dim]` unit vectors.
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let delta = self.out.forward(&self.hidden.forward(xs)?.relu()?)?;
        l2_normalize(&(xs + delta)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vision::encoders::init::seeded_var_builder;

    #[test]
    fn an_untrained_head_is_the_normalised_base() {
        let vm = candle_nn::VarMap::new();
        let cfg = Config {
            input_dim: 4,
            hidden_dim: 8,
            base_model: "b".into(),
            chip_size: 8,
        };
        let head = FaceHead::new(&cfg, &seeded_var_builder(&vm, 3)).unwrap();
        let x = Tensor::new(
            &[[3f32, 0., 4., 0.], [0., 2., 0., 0.]],
            &candle_core::Device::Cpu,
        )
        .unwrap();
        let y = head.forward(&x).unwrap().to_vec2::<f32>().unwrap();
        assert!((y[0][0] - 0.6).abs() < 1e-6 && (y[0][2] - 0.8).abs() < 1e-6);
        assert!((y[1][1] - 1.0).abs() < 1e-6);
    }
}
