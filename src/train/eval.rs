//! Evaluation: embed a split, score pairs, and summarise with the core metrics (pair accuracy
//! at the seed's `d < 0.5` and at the model's threshold, ROC, AUC, EER, TAR at FAR 1 % and
//! 0.1 %, precision@1 and MAP@R). The evaluation pairs of a dataset are fixed: the seed's
//! pairs from `random.Random(1337)` for IDX data (identical to the Python anchors'), balanced
//! pairs with a fixed seed for face folders.

use candle_core::Module as _;

use super::TrainError;
use super::dataset::{DataKind, Dataset, Split};
use super::faces::{PairRow, load_chip};
use super::pairs::{Pair, balanced_pairs, seed_pairs};
use super::pyrandom::PyRandom;
use crate::core::Metric;
use crate::core::metrics::{self, RetrievalReport, ScoredPair, VerificationReport};
use crate::vision::ChipStyle;
use crate::vision::FaceEncoder;
use crate::vision::encoders::chip::chip_values;
use crate::vision::encoders::init::SplitMix64;
use crate::vision::encoders::{CardMetrics, Encoder, InputKind, TrainedEncoder};

/// The seed of the evaluation pairs (`anchors/perf/common.py`'s `PAIR_SEED`).
pub const PAIR_SEED: u32 = 1337;
/// Items embedded per forward pass when evaluating.
pub const EVAL_BATCH: usize = 1024;
/// At most this many test items enter the retrieval figures (each is a query against all).
pub const MAX_RETRIEVAL_ITEMS: usize = 2000;

/// Figures of one evaluation.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EvalReport {
    /// Pairs scored.
    pub pairs: usize,
    /// Accuracy with the seed's rule, "same" when distance < 0.5.
    pub accuracy_at_0_5: f64,
    /// The threshold used for `accuracy_at_threshold`.
    pub threshold: f32,
    /// Accuracy at `threshold`.
    pub accuracy_at_threshold: f64,
    /// ROC, AUC, EER, TAR at FAR.
    pub verification: VerificationReport,
    /// Precision@1 and MAP@R, when the items have labels.
    pub retrieval: Option<RetrievalReport>,
}

impl EvalReport {
    /// Summarises scored pairs; `threshold` is the model's recommended one.
    #[must_use]
    pub fn new(scored: &[ScoredPair], threshold: f32, retrieval: Option<RetrievalReport>) -> Self {
        Self {
            pairs: scored.len(),
            accuracy_at_0_5: metrics::accuracy_at(scored, 0.5),
            threshold,
            accuracy_at_threshold: metrics::accuracy_at(scored, threshold),
            verification: metrics::verification_report(scored),
            retrieval,
        }
    }

    /// The figures a model card keeps.
    #[must_use]
    pub fn card_metrics(&self) -> CardMetrics {
        let v = &self.verification;
        CardMetrics {
            pairs: self.pairs,
            accuracy_at_0_5: self.accuracy_at_0_5,
            accuracy_at_threshold: self.accuracy_at_threshold,
            auc: v.auc,
            eer: v.eer,
            best_accuracy: v.best_accuracy,
            best_threshold: v.best_threshold,
            tar_at_far_1: v.tar_at_far_1.0,
            tar_at_far_0_1: v.tar_at_far_0_1.0,
            precision_at_1: self.retrieval.map(|r| r.precision_at_1),
            map_at_r: self.retrieval.map(|r| r.map_at_r),
        }
    }
}

/// The fixed (train, test) evaluation pairs of a dataset.
#[must_use]
pub fn evaluation_pairs(dataset: &Dataset) -> (Vec<Pair>, Vec<Pair>) {
    match dataset.kind {
        DataKind::Idx => {
            let mut rng = PyRandom::new(PAIR_SEED);
            let train = seed_pairs(&dataset.train.labels, &mut rng);
            (train, seed_pairs(&dataset.test.labels, &mut rng))
        }
        DataKind::Faces => {
            let mut rng = SplitMix64::new(u64::from(PAIR_SEED));
            let train = balanced_pairs(&dataset.train.labels, &mut rng);
            (train, balanced_pairs(&dataset.test.labels, &mut rng))
        }
    }
}

/// Embeds every item of a split, in batches.
pub fn embed_split(encoder: &Encoder, split: &Split) -> Result<Vec<Vec<f32>>, TrainError> {
    let mut out = Vec::with_capacity(split.len());
    let all: Vec<usize> = (0..split.len()).collect();
    for chunk in all.chunks(EVAL_BATCH) {
        out.extend(encoder.forward(&split.batch(chunk)?)?.to_vec2::<f32>()?);
    }
    Ok(out)
}

/// Euclidean distances of `pairs` of embedded items.
#[must_use]
pub fn score(embeddings: &[Vec<f32>], pairs: &[Pair]) -> Vec<ScoredPair> {
    pairs
        .iter()
        .map(|p| ScoredPair {
            distance: Metric::Euclidean.distance(&embeddings[p.a], &embeddings[p.b]),
            same: p.same,
        })
        .collect()
}

/// Precision@1 and MAP@R of the first [`MAX_RETRIEVAL_ITEMS`] items.
#[must_use]
pub fn retrieval(embeddings: &[Vec<f32>], labels: &[u32]) -> RetrievalReport {
    let n = embeddings.len().min(MAX_RETRIEVAL_ITEMS);
    metrics::retrieval_report(&embeddings[..n], &labels[..n], Metric::Euclidean)
}

/// Evaluates a trained model on a dataset's test split, at the model's threshold.
pub fn evaluate_on_dataset(
    model: &TrainedEncoder,
    dataset: &Dataset,
) -> Result<EvalReport, TrainError> {
    let (_, test_pairs) = evaluation_pairs(dataset);
    let emb = embed_split(&model.encoder, &dataset.test)?;
    Ok(EvalReport::new(
        &score(&emb, &test_pairs),
        model.card.threshold,
        Some(retrieval(&emb, &dataset.test.labels)),
    ))
}

/// Evaluates a trained model on a pairs list of photos. A face head needs its `base` encoder.
pub fn evaluate_on_pairs(
    model: &TrainedEncoder,
    rows: &[PairRow],
    base: Option<&dyn FaceEncoder>,
) -> Result<EvalReport, TrainError> {
    let embed = |path: &std::path::Path| -> Result<Vec<f32>, TrainError> {
        let x = match (model.encoder_input(), base) {
            (InputKind::Image { side, channels }, _) => {
                let chip = load_chip(path, side as u32, true, ChipStyle::Dlib)?;
                candle_core::Tensor::from_vec(
                    chip_values(&chip, channels),
                    (1, side, side, channels),
                    model.device(),
                )?
            }
            (InputKind::Vector { dim }, Some(base)) => {
                let chip = load_chip(path, base.chip_size(), true, base.chip_style())?;
                let v = base
                    .embed(std::slice::from_ref(&chip))?
                    .pop()
                    .unwrap_or_default();
                candle_core::Tensor::from_vec(v, (1, dim), model.device())?
            }
            (InputKind::Vector { .. }, None) => {
                return Err(TrainError::Config(
                    "this model is a face head: it needs its base encoder to read photos".into(),
                ));
            }
        };
        Ok(model
            .embed_tensor(&x)?
            .to_vec2::<f32>()?
            .pop()
            .unwrap_or_default())
    };
    let mut scored = Vec::with_capacity(rows.len());
    let mut cache: std::collections::HashMap<&std::path::Path, Vec<f32>> =
        std::collections::HashMap::new();
    for row in rows {
        for p in [&row.a, &row.b] {
            if !cache.contains_key(p.as_path()) {
                cache.insert(p.as_path(), embed(p)?);
            }
        }
        let (a, b) = (&cache[row.a.as_path()], &cache[row.b.as_path()]);
        scored.push(ScoredPair {
            distance: Metric::Euclidean.distance(a, b),
            same: row.same,
        });
    }
    Ok(EvalReport::new(&scored, model.card.threshold, None))
}

/// What a trained model takes, from its card.
trait EncoderInput {
    fn encoder_input(&self) -> InputKind;
}

impl EncoderInput for TrainedEncoder {
    fn encoder_input(&self) -> InputKind {
        self.card.encoder.input()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scoring_uses_euclidean_distance() {
        let emb = vec![vec![0.0, 0.0], vec![3.0, 4.0], vec![0.0, 0.1]];
        let pairs = [
            Pair {
                a: 0,
                b: 1,
                same: false,
            },
            Pair {
                a: 0,
                b: 2,
                same: true,
            },
        ];
        let s = score(&emb, &pairs);
        assert!((s[0].distance - 5.0).abs() < 1e-6 && !s[0].same);
        let r = EvalReport::new(&s, 1.0, None);
        assert_eq!(
            (
                r.accuracy_at_0_5,
                r.accuracy_at_threshold,
                r.verification.auc
            ),
            (1.0, 1.0, 1.0)
        );
    }
}
