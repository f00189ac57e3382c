//! The model card, `model.json`: what a trained model folder holds besides its weights
//! (architecture, data, training settings, test figures, the recommended threshold), and
//! the model id rule: architecture name + the first 12 hex digits of the SHA-256 of
//! `model.safetensors`, so the id changes whenever the weights do.

use std::path::Path;

use sha2::{Digest as _, Sha256};

use super::config::EncoderConfig;
use crate::core::Metric;
use crate::vision::VisionError;

/// The weights file of a model folder.
pub const WEIGHTS_FILE: &str = "model.safetensors";
/// The card file of a model folder.
pub const CARD_FILE: &str = "model.json";
/// The training history file of a model folder.
pub const HISTORY_FILE: &str = "history.json";
/// The card format this build writes and reads.
pub const CARD_FORMAT: u32 = 1;

/// What the model was trained on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DataKind {
    /// Small grey images in IDX files (MNIST, Fashion-MNIST).
    Idx,
    /// Face photos, one folder per identity.
    Faces,
}

/// The data a model was trained and tested on.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DatasetInfo {
    /// The `--dataset` text (`mnist`, `idx:DIR`, `faces:DIR`).
    pub spec: String,
    /// The kind of data.
    pub kind: DataKind,
    /// Number of classes (digits or identities) in the training split.
    pub train_classes: usize,
    /// Training items.
    pub train_items: usize,
    /// Test (validation) items.
    pub test_items: usize,
}

/// The test figures stored in a card (the ROC curve stays in `history.json`).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CardMetrics {
    /// Test pairs scored.
    pub pairs: usize,
    /// Pair accuracy with the seed's rule, distance < 0.5.
    pub accuracy_at_0_5: f64,
    /// Pair accuracy at the recommended threshold.
    pub accuracy_at_threshold: f64,
    /// Area under the ROC curve.
    pub auc: f64,
    /// Equal error rate.
    pub eer: f64,
    /// The best accuracy over all thresholds on the test pairs (an oracle).
    pub best_accuracy: f64,
    /// The threshold of `best_accuracy`.
    pub best_threshold: f32,
    /// True-accept rate at a false-accept rate of 1 %.
    pub tar_at_far_1: f64,
    /// True-accept rate at a false-accept rate of 0.1 %.
    pub tar_at_far_0_1: f64,
    /// Precision@1 over the test items (each a query against the others).
    pub precision_at_1: Option<f64>,
    /// MAP@R over the test items.
    pub map_at_r: Option<f64>,
}

/// The contents of `model.json`.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ModelCard {
    /// [`CARD_FORMAT`].
    pub format: u32,
    /// Architecture + weights hash, see [`model_id_for`].
    pub model_id: String,
    /// The architecture and its shape.
    pub encoder: EncoderConfig,
    /// How embeddings are compared.
    pub metric: Metric,
    /// The recommended distance threshold ("same" when distance < threshold).
    pub threshold: f32,
    /// How the threshold was chosen, for a human.
    pub threshold_rule: String,
    /// The data.
    pub dataset: DatasetInfo,
    /// The training settings (the trainer's config, as written by the train layer).
    pub training: serde_json::Value,
    /// Test figures.
    pub metrics: CardMetrics,
    /// The rollcall version that wrote the card.
    pub rollcall_version: String,
}

/// The model id of weights `bytes` for architecture `arch`: `arch-<12 hex digits of SHA-256>`.
#[must_use]
pub fn model_id_for(arch: &str, bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let hex: String = digest.iter().take(6).fold(String::new(), |mut s, b| {
        use std::fmt::Write as _;
        let _ = write!(s, "{b:02x}");
        s
    });
    format!("{arch}-{hex}")
}

/// Reads and checks the card of a model folder.
pub fn read_card(dir: &Path) -> Result<ModelCard, VisionError> {
    let path = dir.join(CARD_FILE);
    let text = std::fs::read_to_string(&path).map_err(|source| VisionError::Io {
        context: format!("reading {}", path.display()),
        source,
    })?;
    let card: ModelCard = serde_json::from_str(&text).map_err(|e| VisionError::BadModel {
        model: path.display().to_string(),
        reason: format!("not a rollcall model card: {e}"),
    })?;
    if card.format != CARD_FORMAT {
        return Err(VisionError::BadModel {
            model: path.display().to_string(),
            reason: format!(
                "card format {} (this rollcall reads {CARD_FORMAT})",
                card.format
            ),
        });
    }
    Ok(card)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_ids_hash_the_weights() {
        // SHA-256("abc") = ba7816bf8f01cfea... (FIPS 180-2 test vector).
        assert_eq!(model_id_for("seed-cnn", b"abc"), "seed-cnn-ba7816bf8f01");
        assert_ne!(
            model_id_for("seed-cnn", b"abd"),
            model_id_for("seed-cnn", b"abc")
        );
    }

    #[test]
    fn a_missing_or_foreign_card_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(read_card(dir.path()), Err(VisionError::Io { .. })));
        std::fs::write(dir.path().join(CARD_FILE), "{\"hello\": 1}").unwrap();
        let err = read_card(dir.path()).unwrap_err().to_string();
        assert!(err.contains("not a rollcall model card"), "{err}");
    }
}
