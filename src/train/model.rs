//! What training produces: the per-epoch records, the history, and the [`TrainedModel`]
//! (weights, card, history) with its atomic [`TrainedModel::save`]; the final evaluation that
//! fits the recommended threshold on the training pairs and fills the card.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Tensor};
use candle_nn::VarMap;

use super::TrainError;
use super::augment::augment_into;
use super::dataset::Dataset;
use super::eval::{EvalReport, embed_split, retrieval, score};
use super::pairs::Pair;
use super::recipe::TrainConfig;
use crate::core::Metric;
use crate::core::metrics;
use crate::vision::encoders::card::{
    CARD_FILE, CARD_FORMAT, HISTORY_FILE, WEIGHTS_FILE, model_id_for,
};
use crate::vision::encoders::init::SplitMix64;
use crate::vision::encoders::{DatasetInfo, Encoder, ModelCard};

/// How the threshold is chosen without augmentation.
const THRESHOLD_RULE: &str = "the middle of the widest range of distances that give the best accuracy on the \
     training pairs (same when distance < threshold)";
/// How the threshold is chosen with augmentation.
const THRESHOLD_RULE_AUGMENTED: &str = "the middle of the widest range of distances that give the best accuracy \
     on the training pairs, each image randomly augmented as in training (same when distance < threshold)";

/// One epoch's figures.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EpochRecord {
    /// 1-based epoch.
    pub epoch: usize,
    /// Mean training loss.
    pub loss: f64,
    /// Seconds spent in training steps (evaluation excluded).
    pub seconds: f64,
    /// Training items (pairs, triplets or items) per second.
    pub items_per_second: f64,
    /// Test figures, when evaluated after this epoch.
    pub test_accuracy_at_0_5: Option<f64>,
    /// Test AUC, when evaluated.
    pub test_auc: Option<f64>,
    /// Test best accuracy (any threshold), when evaluated.
    pub test_best_accuracy: Option<f64>,
}

/// The contents of `history.json`.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct History {
    /// The settings.
    pub config: TrainConfig,
    /// What one training item is.
    pub unit: String,
    /// Per-epoch figures.
    pub epochs: Vec<EpochRecord>,
    /// Final figures on the training pairs (the threshold is fitted there).
    pub train: EvalReport,
    /// Final figures on the test pairs, at the recommended threshold.
    pub test: EvalReport,
}

/// A trained model, in memory.
#[derive(Clone, Debug)]
pub struct TrainedModel {
    /// The card (`model.json`).
    pub card: ModelCard,
    /// The weights, as `model.safetensors` bytes.
    pub weights: Vec<u8>,
    /// The history (`history.json`).
    pub history: History,
    /// The trained network, ready to embed.
    pub encoder: Encoder,
}

impl TrainedModel {
    /// Writes the three files into `dir` (created if needed), each atomically (a temporary
    /// file in the same folder, then a rename), weights first and card last, so a folder with
    /// a card always has matching weights.
    pub fn save(&self, dir: &Path) -> Result<PathBuf, TrainError> {
        let io = |context: String| move |source| TrainError::Io { context, source };
        std::fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
        let json = |v: &dyn erased::Json| v.to_json();
        let files: [(&str, Vec<u8>); 3] = [
            (WEIGHTS_FILE, self.weights.clone()),
            (HISTORY_FILE, json(&self.history)?),
            (CARD_FILE, json(&self.card)?),
        ];
        for (name, bytes) in files {
            let path = dir.join(name);
            let mut tmp = tempfile::NamedTempFile::new_in(dir)
                .map_err(io(format!("writing {}", path.display())))?;
            std::io::Write::write_all(&mut tmp, &bytes)
                .map_err(io(format!("writing {}", path.display())))?;
            tmp.as_file()
                .sync_all()
                .map_err(io(format!("writing {}", path.display())))?;
            tmp.persist(&path).map_err(|e| TrainError::Io {
                context: format!("writing {}", path.display()),
                source: e.error,
            })?;
        }
        Ok(dir.to_path_buf())
    }
}

mod erased {
    //! Pretty JSON of the two serialisable files.
    use super::TrainError;

    pub trait Json {
        fn to_json(&self) -> Result<Vec<u8>, TrainError>;
    }

    impl<T: serde::Serialize> Json for T {
        fn to_json(&self) -> Result<Vec<u8>, TrainError> {
            serde_json::to_vec_pretty(self)
                .map_err(|e| TrainError::Data(format!("could not write JSON: {e}")))
        }
    }
}

/// Final evaluation, threshold, card and weights.
#[allow(clippy::too_many_arguments)]
pub(super) fn finish(
    config: &TrainConfig,
    dataset: &Dataset,
    encoder: Encoder,
    varmap: &VarMap,
    epochs: Vec<EpochRecord>,
    unit: &str,
    train_pairs: &[Pair],
    test_pairs: &[Pair],
) -> Result<TrainedModel, TrainError> {
    // The threshold is fitted on the training pairs, never on the test pairs.
    let train_emb = embed_split(&encoder, &dataset.train)?;
    let train_scored = score(&train_emb, train_pairs);
    // With augmentation, the threshold is fitted on the training pairs as training saw them
    // (one fixed random augmentation of each image): the memorised originals sit closer
    // together than unseen images do, and a threshold fitted on them comes out too strict.
    let aug = config.augment();
    let (threshold, threshold_rule) = match dataset.train.item_shape[..] {
        [h, w, c] if !aug.is_identity() => {
            let mut rng = SplitMix64::new(config.seed ^ 0x7E57);
            let mut augmented = dataset.train.clone();
            let mut values = Vec::with_capacity(augmented.items.len());
            for i in 0..augmented.len() {
                augment_into(
                    dataset.train.item(i),
                    (h, w, c),
                    &aug,
                    &mut rng,
                    &mut values,
                );
            }
            augmented.items = values;
            let scored = score(&embed_split(&encoder, &augmented)?, train_pairs);
            (fit_threshold(&scored), THRESHOLD_RULE_AUGMENTED)
        }
        _ => (fit_threshold(&train_scored), THRESHOLD_RULE),
    };
    let train_report = EvalReport::new(&train_scored, threshold, None);
    let test_emb = embed_split(&encoder, &dataset.test)?;
    let test_report = EvalReport::new(
        &score(&test_emb, test_pairs),
        threshold,
        Some(retrieval(&test_emb, &dataset.test.labels)),
    );
    let tensors: HashMap<String, Tensor> = {
        let data = varmap
            .data()
            .lock()
            .map_err(|_| TrainError::Data("variable map lock poisoned".into()))?;
        data.iter()
            .map(|(k, v)| Ok((k.clone(), v.as_tensor().to_dtype(DType::F32)?)))
            .collect::<Result<_, TrainError>>()?
    };
    let mut sorted: Vec<(&String, &Tensor)> = tensors.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let weights = safetensors::serialize(sorted, None)
        .map_err(|e| TrainError::Data(format!("could not serialise the weights: {e}")))?;
    let card = ModelCard {
        format: CARD_FORMAT,
        model_id: model_id_for(config.encoder.arch(), &weights),
        encoder: config.encoder.clone(),
        metric: Metric::Euclidean,
        threshold,
        threshold_rule: threshold_rule.into(),
        dataset: DatasetInfo {
            spec: dataset.spec.clone(),
            kind: dataset.kind,
            train_classes: dataset.train.num_classes(),
            train_items: dataset.train.len(),
            test_items: dataset.test.len(),
        },
        training: serde_json::to_value(config).map_err(|e| TrainError::Data(e.to_string()))?,
        metrics: test_report.card_metrics(),
        rollcall_version: env!("CARGO_PKG_VERSION").into(),
    };
    let history = History {
        config: config.clone(),
        unit: unit.into(),
        epochs,
        train: train_report,
        test: test_report,
    };
    Ok(TrainedModel {
        card,
        weights,
        history,
        encoder,
    })
}

/// The recommended threshold: the middle of the widest range of thresholds that reach the
/// best accuracy on `scored` (the training pairs). On well-separated training pairs every
/// threshold between the farthest same pair and the nearest different pair is "best"; the
/// middle of that gap generalises better than its edge.
#[must_use]
pub fn fit_threshold(scored: &[metrics::ScoredPair]) -> f32 {
    let mut sorted: Vec<metrics::ScoredPair> = scored
        .iter()
        .copied()
        .filter(|p| p.distance.is_finite())
        .collect();
    if sorted.is_empty() {
        return 0.0;
    }
    sorted.sort_by(|a, b| a.distance.total_cmp(&b.distance));
    // correct[i] = pairs right when the threshold lies just above sorted[i - 1] (i = 0: below all).
    let mut correct = sorted.iter().filter(|p| !p.same).count();
    let mut counts = vec![correct];
    for p in &sorted {
        correct = if p.same { correct + 1 } else { correct - 1 };
        counts.push(correct);
    }
    let best = counts.iter().copied().max().unwrap_or(0);
    // The widest run of gaps at the best count, measured in distance.
    let gap_lo = |i: usize| {
        if i == 0 {
            sorted[0].distance - 1e-3
        } else {
            sorted[i - 1].distance
        }
    };
    let gap_hi = |i: usize| {
        sorted
            .get(i)
            .map_or(sorted[sorted.len() - 1].distance + 1e-3, |p| p.distance)
    };
    let (mut best_range, mut i) = ((gap_lo(0), gap_hi(0)), 0);
    let mut widest = f32::NEG_INFINITY;
    while i < counts.len() {
        if counts[i] == best {
            let start = i;
            while i + 1 < counts.len() && counts[i + 1] == best {
                i += 1;
            }
            let (lo, hi) = (gap_lo(start), gap_hi(i));
            if hi - lo > widest {
                widest = hi - lo;
                best_range = (lo, hi);
            }
        }
        i += 1;
    }
    f32::midpoint(best_range.0, best_range.1)
}
