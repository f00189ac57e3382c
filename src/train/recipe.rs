//! Training settings ([`TrainConfig`]) and the named recipes: `seed` (the tutorial's, exactly)
//! and `best` (rollcall's strongest on digits), plus triplet variants for comparison.

use super::TrainError;
use super::losses::LossConfig;
use super::miners::Miner;
use crate::vision::encoders::{EncoderConfig, InputKind};

/// How training items are drawn each epoch.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Sampling {
    /// The seed's pairs (digits) or balanced pairs (faces), reshuffled every epoch.
    Pairs,
    /// As many random triplets as training items, drawn anew every epoch.
    Triplets,
    /// P classes × K items per batch; with a triplet loss, triplets are mined in the batch.
    ClassBatches {
        /// Classes per batch (P).
        classes_per_batch: usize,
        /// Items per class (K).
        per_class: usize,
        /// The miner (triplet loss only).
        miner: Option<Miner>,
    },
    /// Shuffled single items (classification-style losses).
    Items,
}

/// The optimiser: Adam (weight decay 0) or AdamW.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OptimizerConfig {
    /// The (peak) learning rate.
    pub learning_rate: f64,
    /// Decoupled weight decay (0 = plain Adam).
    pub weight_decay: f64,
    /// Anneal the learning rate to zero along a half cosine.
    pub cosine_decay: bool,
}

/// Everything that decides a training run (with the data, it fixes the result).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainConfig {
    /// The network.
    pub encoder: EncoderConfig,
    /// The loss.
    pub loss: LossConfig,
    /// How items are drawn.
    pub sampling: Sampling,
    /// The optimiser.
    pub optimizer: OptimizerConfig,
    /// Passes over the training data.
    pub epochs: usize,
    /// Pairs, triplets or items per step (P×K batches set their own size).
    pub batch_size: usize,
    /// Seed of the weights, shuffles and augmentation.
    pub seed: u64,
    /// Random translation of training images by up to this many pixels (0 = none).
    pub max_shift: usize,
    /// Random rotation of training images by up to this many degrees (0 = none).
    #[serde(default)]
    pub max_rotation_deg: f32,
    /// Random scaling of training images by up to this fraction (0 = none).
    #[serde(default)]
    pub max_scale: f32,
    /// Evaluate on the test split every this many epochs (0 = only at the end).
    pub eval_every: usize,
}

/// A named starting point for training: what the command line's `--recipe` and the Training
/// screen's list offer.
#[derive(Clone, Copy, Debug)]
pub struct Recipe {
    /// The name (`--recipe NAME`).
    pub name: &'static str,
    /// One line for the teacher.
    pub description: &'static str,
    config: fn() -> TrainConfig,
}

impl PartialEq for Recipe {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Recipe {
    /// Its training settings.
    #[must_use]
    pub fn config(&self) -> TrainConfig {
        (self.config)()
    }

    /// The recipe called `name`.
    pub fn find(name: &str) -> Result<&'static Self, TrainError> {
        RECIPES.iter().find(|r| r.name == name).ok_or_else(|| {
            TrainError::Config(format!(
                "unknown recipe {name:?} (one of {})",
                RECIPES
                    .iter()
                    .map(|r| r.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
    }
}

/// Every recipe, the seed tutorial's first.
pub const RECIPES: &[Recipe] = &[
    Recipe {
        name: "seed",
        description: "The tutorial's network and contrastive loss on the tutorial's pairs",
        config: TrainConfig::seed_recipe,
    },
    Recipe {
        name: "best",
        description: "A stronger CNN with a normalised-softmax (CosFace) loss and augmentation",
        config: TrainConfig::best_recipe,
    },
    Recipe {
        name: "triplet",
        description: "The tutorial's network with triplet loss on random triplets",
        config: TrainConfig::triplet_recipe,
    },
    Recipe {
        name: "batch-hard",
        description: "Triplet loss on the hardest positive and negative of each batch",
        config: || TrainConfig::mined_recipe(Miner::BatchHard),
    },
    Recipe {
        name: "semi-hard",
        description: "Triplet loss on FaceNet's semi-hard negatives",
        config: || TrainConfig::mined_recipe(Miner::SemiHard),
    },
];

impl TrainConfig {
    /// The seed tutorial: `seed-cnn`, contrastive loss (margin 1), Adam 1e-3, batch 128, 20 epochs.
    #[must_use]
    pub fn seed_recipe() -> Self {
        Self {
            encoder: EncoderConfig::SeedCnn(crate::vision::encoders::seed_cnn::Config::seed()),
            loss: LossConfig::Contrastive { margin: 1.0 },
            sampling: Sampling::Pairs,
            optimizer: OptimizerConfig {
                learning_rate: 1e-3,
                weight_decay: 0.0,
                cosine_decay: false,
            },
            epochs: 20,
            batch_size: 128,
            seed: 0,
            max_shift: 0,
            max_rotation_deg: 0.0,
            max_scale: 0.0,
            eval_every: 1,
        }
    }

    /// rollcall's best digits recipe: `small-cnn` with normalised 64-D embeddings, an
    /// additive-margin softmax (s 24, m 0.3), AdamW with cosine decay, random shifts (±2 px),
    /// rotations (±12°) and scaling (±10 %).
    #[must_use]
    pub fn best_recipe() -> Self {
        Self {
            encoder: EncoderConfig::SmallCnn(crate::vision::encoders::small_cnn::Config::digits()),
            loss: LossConfig::CosFace {
                scale: 24.0,
                margin: 0.3,
            },
            sampling: Sampling::Items,
            optimizer: OptimizerConfig {
                learning_rate: 3e-3,
                weight_decay: 5e-4,
                cosine_decay: true,
            },
            epochs: 30,
            batch_size: 128,
            seed: 0,
            max_shift: 2,
            max_rotation_deg: 12.0,
            max_scale: 0.1,
            eval_every: 5,
        }
    }

    /// The seed network with random triplets (plain distances, margin 1, as the PyTorch anchor).
    #[must_use]
    pub fn triplet_recipe() -> Self {
        Self {
            loss: LossConfig::Triplet {
                margin: 1.0,
                squared: false,
            },
            sampling: Sampling::Triplets,
            ..Self::seed_recipe()
        }
    }

    /// The seed network with triplets mined by `miner` in 8×16 class batches.
    #[must_use]
    pub fn mined_recipe(miner: Miner) -> Self {
        Self {
            loss: LossConfig::Triplet {
                margin: 0.5,
                squared: false,
            },
            sampling: Sampling::ClassBatches {
                classes_per_batch: 8,
                per_class: 16,
                miner: Some(miner),
            },
            ..Self::seed_recipe()
        }
    }

    /// The recipe called `name` (see [`RECIPES`]).
    pub fn recipe(name: &str) -> Result<Self, TrainError> {
        Recipe::find(name).map(Recipe::config)
    }

    /// The augmentation settings.
    #[must_use]
    pub fn augment(&self) -> super::augment::Augment {
        super::augment::Augment {
            max_shift: self.max_shift,
            max_rotation_deg: self.max_rotation_deg,
            max_scale: self.max_scale,
        }
    }

    /// Checks that the settings fit together and fit the data's item shape.
    pub fn validate(&self, item_shape: &[usize]) -> Result<(), TrainError> {
        let bad = |m: String| Err(TrainError::Config(m));
        if self.epochs == 0 || self.batch_size < 2 {
            return bad("epochs must be at least 1 and the batch size at least 2".into());
        }
        if !(self.optimizer.learning_rate.is_finite() && self.optimizer.learning_rate > 0.0) {
            return bad("the learning rate must be a positive number".into());
        }
        match (&self.loss, &self.sampling) {
            (LossConfig::Contrastive { .. }, Sampling::Pairs)
            | (
                LossConfig::Triplet { .. },
                Sampling::Triplets | Sampling::ClassBatches { miner: Some(_), .. },
            )
            | (
                LossConfig::CosFace { .. },
                Sampling::Items | Sampling::ClassBatches { miner: None, .. },
            ) => {}
            (loss, sampling) => {
                return bad(format!(
                    "the {} loss does not go with {:?} sampling (contrastive: pairs; triplet: triplets or mined class batches; cosface: items or class batches)",
                    loss.name(),
                    sampling
                ));
            }
        }
        if let Sampling::ClassBatches {
            classes_per_batch,
            per_class,
            ..
        } = self.sampling
            && (classes_per_batch < 2 || per_class < 2)
        {
            return bad("class batches need at least 2 classes and 2 items per class".into());
        }
        let fits = match self.encoder.input() {
            InputKind::Image { side, channels } => item_shape == [side, side, channels],
            InputKind::Vector { dim } => item_shape == [dim],
        };
        if !fits {
            return bad(format!(
                "the {} network takes {:?} but the data's items are {item_shape:?}",
                self.encoder.arch(),
                self.encoder.input()
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipes_are_valid_for_digits() {
        for r in RECIPES {
            TrainConfig::recipe(r.name)
                .unwrap()
                .validate(&[28, 28, 1])
                .unwrap();
            assert_eq!(TrainConfig::recipe(r.name).unwrap(), r.config());
            assert!(!r.description.is_empty());
        }
        assert!(TrainConfig::recipe("magic").is_err());
        let wrong = TrainConfig {
            sampling: Sampling::Items,
            ..TrainConfig::seed_recipe()
        };
        assert!(
            wrong
                .validate(&[28, 28, 1])
                .unwrap_err()
                .to_string()
                .contains("does not go with")
        );
        assert!(TrainConfig::seed_recipe().validate(&[32, 32, 3]).is_err());
    }
}
