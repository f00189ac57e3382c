//! The three MTCNN networks as candle modules, layer for layer as facenet-pytorch's `PNet`,
//! `RNet` and `ONet`; the names given to `vb.pp` are the keys of their state dicts (and of
//! `assets/models/mtcnn/*.safetensors`).

use candle_core::{Module, Result, Tensor};
use candle_nn::{Linear, PReLU, VarBuilder, linear, prelu};

use super::conv::ConvBlock;

/// `conv{i}` followed by `prelu{i}`, then the given ceil-mode max pooling.
fn conv_prelu(
    vb: &VarBuilder,
    shape: (usize, usize, usize),
    i: usize,
    pool: Option<(usize, usize)>,
) -> Result<ConvBlock> {
    let prelu = format!("prelu{i}");
    ConvBlock::new(vb, shape, &format!("conv{i}"), Some(&prelu), pool)
}

/// A fully connected layer followed by a `PReLU`, as `dense{i}` and `prelu{i}`.
struct DensePrelu {
    dense: Linear,
    prelu: PReLU,
}

impl DensePrelu {
    fn new(d_in: usize, d_out: usize, i: usize, vb: &VarBuilder) -> Result<Self> {
        let dense = linear(d_in, d_out, vb.pp(format!("dense{i}")))?;
        let prelu = prelu(Some(d_out), vb.pp(format!("prelu{i}")))?;
        Ok(Self { dense, prelu })
    }
}

impl Module for DensePrelu {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.prelu.forward(&self.dense.forward(x)?)
    }
}

/// Flattens `[b, c, h, w]` in the order `w, h, c`, as the Caffe-converted dense layers expect
/// (facenet-pytorch's `x.permute(0, 3, 2, 1)` before `view`).
fn flatten_whc(x: &Tensor) -> Result<Tensor> {
    x.permute((0, 3, 2, 1))?.contiguous()?.flatten_from(1)
}

/// The proposal net: fully convolutional, one 12 x 12 window per output cell, stride 2.
pub(super) struct PNet {
    conv1: ConvBlock,
    conv2: ConvBlock,
    conv3: ConvBlock,
    /// `conv4_1` (face / not face) and `conv4_2` (box offsets) stacked: 6 channels.
    heads: ConvBlock,
}

impl PNet {
    pub fn new(vb: &VarBuilder) -> Result<Self> {
        let head = |name: &str, c_out| ConvBlock::new(vb, (32, c_out, 1), name, None, None);
        Ok(Self {
            conv1: conv_prelu(vb, (3, 10, 3), 1, Some((2, 2)))?,
            conv2: conv_prelu(vb, (10, 16, 3), 2, None)?,
            conv3: conv_prelu(vb, (16, 32, 3), 3, None)?,
            heads: head("conv4_1", 2)?.concat(head("conv4_2", 4)?)?,
        })
    }

    /// `x`: `[b, 3, h, w]` normalised pixels. Returns the box offsets `[b, 4, h', w']` and the
    /// softmax over (not face, face) `[b, 2, h', w']`, with `h' = ceil((h - 2) / 2) - 4`.
    pub fn forward(&self, x: &Tensor) -> Result<(Tensor, Tensor)> {
        let x = self.conv1.forward(x)?; // [b, 10, ceil((h - 2) / 2), ..]
        let x = self.conv2.forward(&x)?; // [b, 16, .. - 2, ..]
        let x = self.conv3.forward(&x)?; // [b, 32, h', w']
        let y = self.heads.forward(&x)?; // [b, 6, h', w']
        let prob = candle_nn::ops::softmax(&y.narrow(1, 0, 2)?, 1)?; // [b, 2, h', w']
        let reg = y.narrow(1, 2, 4)?; // [b, 4, h', w']
        Ok((reg, prob))
    }
}

/// The refinement net on 24 x 24 crops.
pub(super) struct RNet {
    conv1: ConvBlock,
    conv2: ConvBlock,
    conv3: ConvBlock,
    dense4: DensePrelu,
    dense5_1: Linear,
    dense5_2: Linear,
}

impl RNet {
    pub fn new(vb: &VarBuilder) -> Result<Self> {
        Ok(Self {
            conv1: conv_prelu(vb, (3, 28, 3), 1, Some((3, 2)))?,
            conv2: conv_prelu(vb, (28, 48, 3), 2, Some((3, 2)))?,
            conv3: conv_prelu(vb, (48, 64, 2), 3, None)?,
            dense4: DensePrelu::new(576, 128, 4, vb)?,
            dense5_1: linear(128, 2, vb.pp("dense5_1"))?,
            dense5_2: linear(128, 4, vb.pp("dense5_2"))?,
        })
    }

    /// `x`: `[n, 3, 24, 24]`. Returns the box offsets `[n, 4]` and (not face, face) `[n, 2]`.
    pub fn forward(&self, x: &Tensor) -> Result<(Tensor, Tensor)> {
        let x = self.conv1.forward(x)?; // [n, 28, 22, 22] pooled to [n, 28, 11, 11]
        let x = self.conv2.forward(&x)?; // [n, 48, 9, 9] pooled to [n, 48, 4, 4]
        let x = self.conv3.forward(&x)?; // [n, 64, 3, 3]
        let x = self.dense4.forward(&flatten_whc(&x)?)?; // [n, 128]
        let prob = candle_nn::ops::softmax(&self.dense5_1.forward(&x)?, 1)?; // [n, 2]
        let reg = self.dense5_2.forward(&x)?; // [n, 4]
        Ok((reg, prob))
    }
}

/// The output net on 48 x 48 crops: final score, box offsets and five landmarks.
pub(super) struct ONet {
    conv1: ConvBlock,
    conv2: ConvBlock,
    conv3: ConvBlock,
    conv4: ConvBlock,
    dense5: DensePrelu,
    dense6_1: Linear,
    dense6_2: Linear,
    dense6_3: Linear,
}

impl ONet {
    pub fn new(vb: &VarBuilder) -> Result<Self> {
        Ok(Self {
            conv1: conv_prelu(vb, (3, 32, 3), 1, Some((3, 2)))?,
            conv2: conv_prelu(vb, (32, 64, 3), 2, Some((3, 2)))?,
            conv3: conv_prelu(vb, (64, 64, 3), 3, Some((2, 2)))?,
            conv4: conv_prelu(vb, (64, 128, 2), 4, None)?,
            dense5: DensePrelu::new(1152, 256, 5, vb)?,
            dense6_1: linear(256, 2, vb.pp("dense6_1"))?,
            dense6_2: linear(256, 4, vb.pp("dense6_2"))?,
            dense6_3: linear(256, 10, vb.pp("dense6_3"))?,
        })
    }

    /// `x`: `[n, 3, 48, 48]`. Returns the box offsets `[n, 4]`, the landmarks `[n, 10]` (five
    /// x then five y, as fractions of the box) and (not face, face) `[n, 2]`.
    pub fn forward(&self, x: &Tensor) -> Result<(Tensor, Tensor, Tensor)> {
        let x = self.conv1.forward(x)?; // [n, 32, 46, 46] pooled to [n, 32, 23, 23]
        let x = self.conv2.forward(&x)?; // [n, 64, 21, 21] pooled to [n, 64, 10, 10]
        let x = self.conv3.forward(&x)?; // [n, 64, 8, 8] pooled to [n, 64, 4, 4]
        let x = self.conv4.forward(&x)?; // [n, 128, 3, 3]
        let x = self.dense5.forward(&flatten_whc(&x)?)?; // [n, 256]
        let prob = candle_nn::ops::softmax(&self.dense6_1.forward(&x)?, 1)?; // [n, 2]
        let reg = self.dense6_2.forward(&x)?; // [n, 4]
        let landmarks = self.dense6_3.forward(&x)?; // [n, 10]
        Ok((reg, landmarks, prob))
    }
}

/// Multiply-accumulates of P-Net on an `h` x `w` input (convolutions and dense layers only).
pub(super) fn pnet_macs(h: usize, w: usize) -> u64 {
    let conv = |hw: (usize, usize), c_in: usize, c_out: usize, k: usize| {
        let (oh, ow) = (hw.0 + 1 - k, hw.1 + 1 - k);
        ((oh * ow * c_out * c_in * k * k) as u64, (oh, ow))
    };
    let (m1, s) = conv((h, w), 3, 10, 3);
    let s = (s.0.div_ceil(2), s.1.div_ceil(2));
    let (m2, s) = conv(s, 10, 16, 3);
    let (m3, s) = conv(s, 16, 32, 3);
    m1 + m2 + m3 + (s.0 * s.1 * 32 * 6) as u64
}

/// Multiply-accumulates of R-Net per 24 x 24 crop (see the shapes in `RNet::forward`).
pub(super) const RNET_MACS_PER_CROP: u64 =
    22 * 22 * 28 * 27 + 9 * 9 * 48 * 28 * 9 + 3 * 3 * 64 * 48 * 4 + 576 * 128 + 128 * 6;

/// Multiply-accumulates of O-Net per 48 x 48 crop (see the shapes in `ONet::forward`).
pub(super) const ONET_MACS_PER_CROP: u64 = 46 * 46 * 32 * 27
    + 21 * 21 * 64 * 32 * 9
    + 8 * 8 * 64 * 64 * 9
    + 3 * 3 * 128 * 64 * 4
    + 1152 * 256
    + 256 * 16;

#[cfg(test)]
mod tests {
    use candle_core::{Device, IndexOp};

    use super::*;

    #[test]
    fn flattening_runs_width_then_height_then_channel() {
        // [1, 2, 1, 2]: channel 0 = (0, 1), channel 1 = (2, 3) along the width.
        let x = Tensor::arange(0f32, 4.0, &Device::Cpu)
            .unwrap()
            .reshape((1, 2, 1, 2))
            .unwrap();
        let flat: Vec<f32> = flatten_whc(&x).unwrap().i(0).unwrap().to_vec1().unwrap();
        assert_eq!(flat, vec![0.0, 2.0, 1.0, 3.0]);
    }

    #[test]
    fn mac_counts_match_the_layer_shapes() {
        // P-Net on its 12 x 12 window: 10x10x10x27 + 3x3x16x90 + 1x1x32x144 + 1x1x32x6.
        assert_eq!(pnet_macs(12, 12), 27_000 + 12_960 + 4_608 + 192);
        assert_eq!(
            RNET_MACS_PER_CROP,
            365_904 + 979_776 + 110_592 + 73_728 + 768
        );
        assert_eq!(
            ONET_MACS_PER_CROP,
            1_828_224 + 8_128_512 + 2_359_296 + 294_912 + 294_912 + 4_096
        );
    }
}
