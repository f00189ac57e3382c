//! dlib's ResNet face encoder (`dlib_face_recognition_resnet_model_v1`, the network of dlib's
//! `dnn_face_recognition_ex.cpp` and of the `face_recognition` package): a 150×150 aligned RGB
//! chip in, a 128-D embedding out, compared by Euclidean distance (same person at ≤ 0.6).
//!
//! The layout, input first (dlib's default paddings: a strided conv or pool has none):
//! ```text
//! (rgb - mean) / 256                               [B, 3, 150, 150]
//! stem: conv 7x7/2 -> affine -> relu              [B, 32, 72, 72]
//!       max_pool 3x3/2                            [B, 32, 35, 35]
//! levels.0: 3 × plain block (32)                  [B, 32, 35, 35]
//! levels.1: down block + 3 × plain (64)           [B, 64, 17, 17]
//! levels.2: down block + 2 × plain (128)          [B, 128, 8, 8]
//! levels.3: down block + 2 × plain (256)          [B, 256, 4, 4]   (conv path 3x3, pool 4x4)
//! levels.4: down block (256)                      [B, 256, 2, 2]   (conv path 1x1, pool 2x2)
//! mean over the plane, fc (no bias)               [B, 128]
//! ```
//! A plain block is `relu(x + affine(conv3x3(relu(affine(conv3x3(x))))))`. A down block's first
//! conv has stride 2 and no padding, and its shortcut is `avg_pool 2x2/2` of `x`; dlib's
//! `add_prev` adds tensors of different shapes by padding the smaller with zeros at the end of
//! each axis (extra channels, and the extra row and column where the two paths disagree).
//! Each affine layer (dlib's inference form of batch norm) is folded into its conv at load time.

use candle_core::{D, DType, Device, Module, Tensor};
use candle_nn::VarBuilder;
use image::RgbImage;

use super::conv::Conv;
use crate::core::{Metric, ModelId};
use crate::vision::{FaceEncoder, VisionError};

/// The converted weights of `dlib_face_recognition_resnet_model_v1.dat` (see
/// `assets/models/dlib/README.md`).
const BUNDLED_WEIGHTS: &[u8] =
    include_bytes!("../../../assets/models/dlib/dlib_face_recognition_resnet_model_v1.safetensors");

/// The safetensors metadata key holding the model's [`Config`] as JSON.
pub const CONFIG_KEY: &str = "config";

/// FNV-1a (32-bit) of the weights file, so embeddings from other weights get another model id.
pub(crate) fn fnv1a32(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5u32, |h, &b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// One stage of blocks at the same width.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LevelConfig {
    /// Channels of every conv in the level.
    pub channels: usize,
    /// Number of residual blocks.
    pub num_blocks: usize,
    /// Whether the first block halves the plane (stride-2 conv, 2×2 average-pool shortcut).
    pub downsample: bool,
}

/// The network's shape.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Config {
    /// The side of the square input chip.
    pub input_size: usize,
    /// Per-channel means (red, green, blue) subtracted before dividing by 256.
    pub mean_rgb: [f32; 3],
    /// Channels of the 7×7 stem conv.
    pub stem_channels: usize,
    /// The residual stages, input first.
    pub levels: Vec<LevelConfig>,
    /// The embedding size.
    pub embedding_dim: usize,
}

impl Config {
    /// dlib's face-recognition ResNet (`dlib_face_recognition_resnet_model_v1`).
    #[must_use]
    pub fn dlib_face_v1() -> Self {
        let level = |channels, num_blocks, downsample| LevelConfig {
            channels,
            num_blocks,
            downsample,
        };
        Self {
            input_size: 150,
            mean_rgb: [122.782, 117.001, 104.298],
            stem_channels: 32,
            levels: vec![
                level(32, 3, false),
                level(64, 4, true),
                level(128, 3, true),
                level(256, 3, true),
                level(256, 1, true),
            ],
            embedding_dim: 128,
        }
    }

    /// Floating-point operations (2 per multiply-add) of one chip through the convolutions and
    /// the final layer. Pooling, additions and `ReLU`s (well under 1 % more) are not counted.
    #[must_use]
    pub fn flops(&self) -> u64 {
        let out = |side: usize, k: usize, stride: usize| {
            let pad = if stride == 1 { k / 2 } else { 0 };
            (side + 2 * pad).saturating_sub(k) / stride + 1
        };
        let mut side = out(self.input_size, 7, 2);
        let mut macs = self.stem_channels * 3 * 49 * side * side;
        side = side.saturating_sub(3) / 2 + 1; // max pool 3x3/2
        let mut c = self.stem_channels;
        for level in &self.levels {
            for b in 0..level.num_blocks {
                let down = level.downsample && b == 0;
                let n = level.channels;
                let conv_side = out(side, 3, if down { 2 } else { 1 });
                macs += (n * c + n * n) * 9 * conv_side * conv_side;
                // add_prev keeps the larger of the two paths' planes.
                side = conv_side.max(if down {
                    side.saturating_sub(2) / 2 + 1
                } else {
                    side
                });
                c = n;
            }
        }
        2 * (macs + self.embedding_dim * c) as u64
    }

    /// Checks that every layer has channels and a plane at least as large as its window.
    pub fn validate(&self) -> Result<(), String> {
        let widths = self.levels.iter().map(|l| l.channels);
        if self.stem_channels == 0 || self.embedding_dim == 0 || widths.clone().any(|c| c == 0) {
            return Err("a layer has no channels".into());
        }
        let too_small = |what: &str| {
            Err(format!(
                "a {}-pixel input is too small for {what}",
                self.input_size
            ))
        };
        if self.input_size < 7 || (self.input_size - 7) / 2 + 1 < 3 {
            return too_small("the stem");
        }
        let mut side = ((self.input_size - 7) / 2 + 1 - 3) / 2 + 1;
        for level in &self.levels {
            if level.downsample && level.num_blocks > 0 {
                if side < 3 {
                    return too_small("a stride-2 block");
                }
                side = ((side - 3) / 2 + 1).max((side - 2) / 2 + 1);
            }
        }
        Ok(())
    }
}

/// A conv followed by dlib's affine layer, folded into one conv with bias.
fn conv_affine(
    in_c: usize,
    out_c: usize,
    kernel: usize,
    stride: usize,
    vb: &VarBuilder,
    conv: &str,
    affine: &str,
) -> candle_core::Result<Conv> {
    // dlib's default padding: kernel/2 when the stride is 1, else none.
    let padding = if stride == 1 { kernel / 2 } else { 0 };
    let w = vb.get((out_c, in_c, kernel, kernel), &format!("{conv}.weight"))?; // [out, in, k, k]
    let b = vb.get(out_c, &format!("{conv}.bias"))?; // [out]
    let gamma = vb.get(out_c, &format!("{affine}.weight"))?; // [out]
    let beta = vb.get(out_c, &format!("{affine}.bias"))?; // [out]
    let w = w.broadcast_mul(&gamma.reshape((out_c, 1, 1, 1))?)?;
    let b = ((b * &gamma)? + beta)?;
    Conv::new(w, b, stride, padding)
}

/// Adds two `[B, C, H, W]` tensors the way dlib's `add_prev` does: the result has the larger
/// size on every axis and the missing values of the smaller tensor count as zero.
fn add_zero_padded(a: &Tensor, b: &Tensor) -> candle_core::Result<Tensor> {
    let (da, db) = (a.dims4()?, b.dims4()?);
    let pad = |t: &Tensor, d: (usize, usize, usize, usize)| -> candle_core::Result<Tensor> {
        let mut t = t.clone();
        for (axis, (have, want)) in [(1, (d.1, da.1.max(db.1))), (2, (d.2, da.2.max(db.2)))]
            .into_iter()
            .chain([(3, (d.3, da.3.max(db.3)))])
        {
            if have < want {
                t = t.pad_with_zeros(axis, 0, want - have)?;
            }
        }
        Ok(t)
    };
    pad(a, da)? + pad(b, db)?
}

struct Block {
    conv1: Conv,
    conv2: Conv,
    downsample: bool,
}

impl Block {
    fn new(
        in_c: usize,
        out_c: usize,
        downsample: bool,
        vb: &VarBuilder,
    ) -> candle_core::Result<Self> {
        let stride = if downsample { 2 } else { 1 };
        Ok(Self {
            conv1: conv_affine(in_c, out_c, 3, stride, vb, "conv1", "affine1")?,
            conv2: conv_affine(out_c, out_c, 3, 1, vb, "conv2", "affine2")?,
            downsample,
        })
    }
}

impl Module for Block {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let y = self.conv1.forward(x)?.relu()?; // [B, C, H', W']
        let y = self.conv2.forward(&y)?; // [B, C, H', W']
        let shortcut = if self.downsample {
            x.avg_pool2d_with_stride(2, 2)? // [B, C_in, H/2, W/2]
        } else {
            x.clone()
        };
        add_zero_padded(&y, &shortcut)?.relu()
    }
}

/// The network itself (candle module); [`DlibEncoder`] wraps it as a [`FaceEncoder`].
pub struct DlibResNet {
    stem: Conv,
    blocks: Vec<Block>,
    fc: Tensor, // [embedding_dim, channels]
    cfg: Config,
}

impl DlibResNet {
    /// Builds the network from weights named as in the converted safetensors file.
    pub fn new(cfg: &Config, vb: &VarBuilder) -> candle_core::Result<Self> {
        let stem = conv_affine(3, cfg.stem_channels, 7, 2, &vb.pp("stem"), "conv", "affine")?;
        let mut blocks = Vec::new();
        let mut in_c = cfg.stem_channels;
        for (l, level) in cfg.levels.iter().enumerate() {
            for b in 0..level.num_blocks {
                let vb = vb.pp(format!("levels.{l}.blocks.{b}"));
                blocks.push(Block::new(
                    in_c,
                    level.channels,
                    level.downsample && b == 0,
                    &vb,
                )?);
                in_c = level.channels;
            }
        }
        let fc = vb.get((cfg.embedding_dim, in_c), "fc.weight")?;
        Ok(Self {
            stem,
            blocks,
            fc,
            cfg: cfg.clone(),
        })
    }

    /// The configuration it was built with.
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.cfg
    }
}

impl Module for DlibResNet {
    /// `[B, 3, S, S]` normalised chips to `[B, embedding_dim]` embeddings.
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let x = self.stem.forward(x)?.relu()?; // [B, 32, 72, 72]
        let mut x = x.max_pool2d_with_stride(3, 2)?; // [B, 32, 35, 35]
        for block in &self.blocks {
            x = block.forward(&x)?;
        }
        let x = x.flatten_from(2)?.mean(D::Minus1)?; // [B, 256]
        x.matmul(&self.fc.t()?) // [B, 128]
    }
}

/// dlib's face encoder as a [`FaceEncoder`]: Euclidean distance, threshold 0.6.
pub struct DlibEncoder {
    net: DlibResNet,
    device: Device,
    model_id: ModelId,
}

impl DlibEncoder {
    /// The encoder with the weights built into rollcall.
    pub fn bundled(device: &Device) -> Result<Self, VisionError> {
        Self::from_safetensors(BUNDLED_WEIGHTS, "bundled dlib ResNet", device)
    }

    /// An encoder from a converted safetensors file's bytes (see `rollcall import-weights`).
    pub fn from_safetensors(
        bytes: &[u8],
        name: &str,
        device: &Device,
    ) -> Result<Self, VisionError> {
        let bad = |reason: String| VisionError::BadModel {
            model: name.to_owned(),
            reason,
        };
        let (_, meta) = safetensors::SafeTensors::read_metadata(bytes)
            .map_err(|e| bad(format!("not a safetensors file: {e}")))?;
        let meta = meta.metadata().clone().unwrap_or_default();
        let cfg: Config = meta
            .get(CONFIG_KEY)
            .ok_or_else(|| bad("no config in the file's metadata".into()))
            .and_then(|c| serde_json::from_str(c).map_err(|e| bad(format!("bad config: {e}"))))?;
        cfg.validate().map_err(bad)?;
        let vb = VarBuilder::from_slice_safetensors(bytes, DType::F32, device)?;
        let net = DlibResNet::new(&cfg, &vb).map_err(|e| bad(e.to_string()))?;
        Ok(Self {
            net,
            device: device.clone(),
            model_id: ModelId::new(format!("dlib-resnet-v1-{:08x}", fnv1a32(bytes))),
        })
    }

    /// The chips as the network's input tensor: `(rgb - mean) / 256`, `[B, 3, S, S]`.
    fn input(&self, chips: &[RgbImage]) -> Result<Tensor, VisionError> {
        let cfg = self.net.config();
        let s = cfg.input_size;
        let mut data = Vec::with_capacity(chips.len() * 3 * s * s);
        for (i, chip) in chips.iter().enumerate() {
            if chip.dimensions() != (s as u32, s as u32) {
                return Err(VisionError::BadInput(format!(
                    "face chip {i} is {}x{}, the dlib encoder takes {s}x{s}",
                    chip.width(),
                    chip.height()
                )));
            }
            for (c, mean) in cfg.mean_rgb.iter().enumerate() {
                data.extend(chip.pixels().map(|p| (f32::from(p[c]) - mean) / 256.0));
            }
        }
        Ok(Tensor::from_vec(
            data,
            (chips.len(), 3, s, s),
            &self.device,
        )?)
    }
}

impl FaceEncoder for DlibEncoder {
    fn model_id(&self) -> &ModelId {
        &self.model_id
    }

    fn metric(&self) -> Metric {
        Metric::Euclidean
    }

    fn dim(&self) -> usize {
        self.net.config().embedding_dim
    }

    fn chip_size(&self) -> u32 {
        self.net.config().input_size as u32
    }

    fn default_threshold(&self) -> f32 {
        0.6
    }

    fn embed(&self, chips: &[RgbImage]) -> Result<Vec<Vec<f32>>, VisionError> {
        if chips.is_empty() {
            return Ok(Vec::new());
        }
        let out = self.net.forward(&self.input(chips)?)?; // [B, 128]
        Ok(out.to_vec2::<f32>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flop_count_of_dlibs_network() {
        // By hand, multiply-adds: stem 32·3·49·72² = 24,385,536; level 0: 3 · 2·32·32·9·35²
        // = 67,737,600; level 1: (64·32 + 64²)·9·17² + 3 · 2·64²·9·17² = 79,902,720; level 2:
        // (128·64 + 128²)·9·8² + 2 · 2·128²·9·8² = 51,904,512; level 3: (256·128 + 256²)·9·3²
        // + 2 · 2·256²·9·4² = 45,711,360; level 4: 2·256²·9 = 1,179,648; fc 128·256 = 32,768.
        // Total 270,854,144 multiply-adds.
        assert_eq!(Config::dlib_face_v1().flops(), 2 * 270_854_144);
    }

    #[test]
    fn configs_too_small_for_their_layers_are_refused() {
        let mut cfg = Config::dlib_face_v1();
        assert_eq!(cfg.validate(), Ok(()));
        cfg.input_size = 60; // Planes 27, 13, 6, 3, 1: too small for the last stride-2 block.
        assert!(cfg.validate().unwrap_err().contains("too small"));
        cfg.input_size = 3;
        assert!(cfg.validate().is_err());
        cfg = Config::dlib_face_v1();
        cfg.levels[2].channels = 0;
        assert!(cfg.validate().is_err());
    }

    #[test]
    fn zero_padded_add_follows_dlib() {
        let dev = Device::Cpu;
        // [1, 1, 2, 2] + [1, 2, 1, 1]: the result is [1, 2, 2, 2], missing values are zero.
        let a = Tensor::new(&[[[[1f32, 2.0], [3.0, 4.0]]]], &dev).unwrap();
        let b = Tensor::new(&[[[[10f32]], [[20.0]]]], &dev).unwrap();
        let sum = add_zero_padded(&a, &b).unwrap();
        let want = [[[11f32, 2.0], [3.0, 4.0]], [[20.0, 0.0], [0.0, 0.0]]];
        assert_eq!(sum.squeeze(0).unwrap().to_vec3::<f32>().unwrap(), want);
    }

    #[test]
    fn bad_weight_files_are_errors() {
        let dev = Device::Cpu;
        assert!(matches!(
            DlibEncoder::from_safetensors(b"not safetensors", "x", &dev),
            Err(VisionError::BadModel { .. })
        ));
        // The shape predictor's file is a valid safetensors file but not this network.
        let other = include_bytes!(
            "../../../assets/models/dlib/shape_predictor_5_face_landmarks.safetensors"
        );
        assert!(DlibEncoder::from_safetensors(other, "x", &dev).is_err());
    }
}
