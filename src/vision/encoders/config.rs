//! The architectures a model file can hold, as one serde enum (the `encoder` field of
//! `model.json`), their named presets, and [`Encoder`], the built network.

use candle_core::{Module, Result, Tensor};
use candle_nn::VarBuilder;

use super::{face_head, seed_cnn, small_cnn};

/// An encoder architecture and its shape.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "arch", rename_all = "kebab-case")]
pub enum EncoderConfig {
    /// The seed tutorial's network.
    SeedCnn(seed_cnn::Config),
    /// The stronger small CNN.
    SmallCnn(small_cnn::Config),
    /// A head over a frozen pretrained face encoder.
    FaceHead(face_head::Config),
}

/// The preset names, for help texts and `--arch`.
pub const PRESETS: &[&str] = &["seed-cnn", "small-cnn", "face-head"];

/// What one training item is for an architecture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputKind {
    /// A square image, `side × side × channels`, values in `[0, 1]`.
    Image {
        /// Side in pixels.
        side: usize,
        /// 1 (grey) or 3 (RGB).
        channels: usize,
    },
    /// A vector from a frozen base encoder.
    Vector {
        /// Its length.
        dim: usize,
    },
}

impl EncoderConfig {
    /// The preset with this name (`seed-cnn`, `small-cnn`, `face-head`), shaped for digits
    /// (or for a 128-D base encoder).
    #[must_use]
    pub fn preset(name: &str) -> Option<Self> {
        match name {
            "seed-cnn" => Some(Self::SeedCnn(seed_cnn::Config::seed())),
            "small-cnn" => Some(Self::SmallCnn(small_cnn::Config::digits())),
            "face-head" => Some(Self::FaceHead(face_head::Config::dlib_128())),
            _ => None,
        }
    }

    /// The architecture's name (`seed-cnn`, ...).
    #[must_use]
    pub fn arch(&self) -> &'static str {
        match self {
            Self::SeedCnn(_) => "seed-cnn",
            Self::SmallCnn(_) => "small-cnn",
            Self::FaceHead(_) => "face-head",
        }
    }

    /// What the network takes.
    #[must_use]
    pub fn input(&self) -> InputKind {
        match self {
            Self::SeedCnn(c) => InputKind::Image {
                side: c.input_size,
                channels: c.in_channels,
            },
            Self::SmallCnn(c) => InputKind::Image {
                side: c.input_size,
                channels: c.in_channels,
            },
            Self::FaceHead(c) => InputKind::Vector { dim: c.input_dim },
        }
    }

    /// The embedding size.
    #[must_use]
    pub fn embedding_dim(&self) -> usize {
        match self {
            Self::SeedCnn(c) => c.embedding_dim,
            Self::SmallCnn(c) => c.embedding_dim,
            Self::FaceHead(c) => c.input_dim,
        }
    }

    /// The same architecture for square images of `side` pixels with `channels` channels
    /// (unchanged for a face head).
    #[must_use]
    pub fn for_images(mut self, side: usize, channels: usize) -> Self {
        match &mut self {
            Self::SeedCnn(c) => (c.input_size, c.in_channels) = (side, channels),
            Self::SmallCnn(c) => (c.input_size, c.in_channels) = (side, channels),
            Self::FaceHead(_) => {}
        }
        self
    }

    /// The same architecture with another embedding size (a face head keeps its base's size).
    #[must_use]
    pub fn with_embedding_dim(mut self, dim: usize) -> Self {
        match &mut self {
            Self::SeedCnn(c) => c.embedding_dim = dim,
            Self::SmallCnn(c) => c.embedding_dim = dim,
            Self::FaceHead(_) => {}
        }
        self
    }

    /// Whether embeddings are unit vectors (distances in `[0, 2]`).
    #[must_use]
    pub fn normalizes(&self) -> bool {
        match self {
            Self::SeedCnn(_) => false,
            Self::SmallCnn(c) => c.normalize,
            Self::FaceHead(_) => true,
        }
    }
}

/// A built encoder network.
#[derive(Clone, Debug)]
pub enum Encoder {
    /// See [`seed_cnn::SeedCnn`].
    SeedCnn(seed_cnn::SeedCnn),
    /// See [`small_cnn::SmallCnn`].
    SmallCnn(small_cnn::SmallCnn),
    /// See [`face_head::FaceHead`].
    FaceHead(face_head::FaceHead),
}

impl Encoder {
    /// Builds the network of `cfg` with weights from `vb`.
    pub fn new(cfg: &EncoderConfig, vb: &VarBuilder) -> Result<Self> {
        Ok(match cfg {
            EncoderConfig::SeedCnn(c) => Self::SeedCnn(seed_cnn::SeedCnn::new(c, vb)?),
            EncoderConfig::SmallCnn(c) => Self::SmallCnn(small_cnn::SmallCnn::new(c, vb)?),
            EncoderConfig::FaceHead(c) => Self::FaceHead(face_head::FaceHead::new(c, vb)?),
        })
    }
}

impl Module for Encoder {
    /// Images `[B, H, W, C]` (or vectors `[B, D]` for a head) → embeddings `[B, dim]`.
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        match self {
            Self::SeedCnn(m) => m.forward(xs),
            Self::SmallCnn(m) => m.forward(xs),
            Self::FaceHead(m) => m.forward(xs),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_round_trip_through_json() {
        for name in PRESETS {
            let cfg = EncoderConfig::preset(name).unwrap();
            assert_eq!(cfg.arch(), *name);
            let json = serde_json::to_string(&cfg).unwrap();
            assert!(json.contains(&format!("\"arch\":\"{name}\"")), "{json}");
            assert_eq!(serde_json::from_str::<EncoderConfig>(&json).unwrap(), cfg);
        }
        assert!(EncoderConfig::preset("resnet-9000").is_none());
        let faces = EncoderConfig::preset("seed-cnn")
            .unwrap()
            .for_images(64, 3)
            .with_embedding_dim(32);
        assert_eq!(
            faces.input(),
            InputKind::Image {
                side: 64,
                channels: 3
            }
        );
        assert_eq!(faces.embedding_dim(), 32);
    }
}
