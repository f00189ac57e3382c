//! The training loop: [`train`] builds the encoder from a seed, runs AdamW over the sampled
//! pairs, triplets, mined class batches or items, reports progress over a channel, stops on
//! cancel or on a NaN/inf loss, and returns a [`TrainedModel`] (weights, card, history) that
//! [`TrainedModel::save`] writes atomically as `model.safetensors`, `model.json` and
//! `history.json`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::SyncSender;
use std::time::Instant;

use candle_core::{Device, Module as _, Tensor};
use candle_nn::{Optimizer as _, VarMap};

use super::TrainError;
use super::augment::augment_into;
use super::dataset::{Dataset, Split};
use super::eval::{embed_split, evaluation_pairs, score};
use super::losses::{self, LossConfig};
use super::miners;
use super::model::{EpochRecord, TrainedModel, finish};
use super::pairs::{Pair, pk_batches, random_triplets};
use super::recipe::{Sampling, TrainConfig};
use crate::core::Metric;
use crate::core::metrics;
use crate::vision::encoders::init::{SplitMix64, seeded_var_builder};
use crate::vision::encoders::{Encoder, InputKind};

/// A progress event. Steps may be dropped when the receiver is slow; epochs never are.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Progress {
    /// Training starts.
    Started {
        /// Epochs planned.
        epochs: usize,
        /// Steps per epoch.
        steps_per_epoch: usize,
        /// What one item is ("pairs", "triplets", "items").
        unit: String,
        /// Items per epoch.
        items_per_epoch: usize,
    },
    /// One optimisation step finished.
    Step {
        /// 1-based epoch.
        epoch: usize,
        /// 1-based step within the epoch.
        step: usize,
        /// Steps per epoch.
        steps_per_epoch: usize,
        /// The step's loss.
        loss: f32,
    },
    /// One epoch finished.
    Epoch(EpochRecord),
    /// Final evaluation is running.
    Evaluating,
}

/// What one step trains on.
enum Batch {
    Pairs(Vec<Pair>),
    Triplets(Vec<[usize; 3]>),
    Items(Vec<usize>),
}

/// The batches of one epoch.
fn epoch_batches(
    config: &TrainConfig,
    train: &Split,
    pairs: &[Pair],
    rng: &mut SplitMix64,
) -> Vec<Batch> {
    let bs = config.batch_size;
    match &config.sampling {
        Sampling::Pairs => {
            let mut order = pairs.to_vec();
            rng.shuffle(&mut order);
            order.chunks(bs).map(|c| Batch::Pairs(c.to_vec())).collect()
        }
        Sampling::Triplets => {
            let triplets = random_triplets(&train.labels, train.len(), rng);
            triplets
                .chunks(bs)
                .map(|c| Batch::Triplets(c.to_vec()))
                .collect()
        }
        Sampling::ClassBatches {
            classes_per_batch,
            per_class,
            ..
        } => pk_batches(&train.labels, *classes_per_batch, *per_class, rng)
            .into_iter()
            .map(Batch::Items)
            .collect(),
        Sampling::Items => {
            let mut order: Vec<usize> = (0..train.len()).collect();
            rng.shuffle(&mut order);
            order
                .chunks(bs)
                .filter(|c| c.len() > 1)
                .map(|c| Batch::Items(c.to_vec()))
                .collect()
        }
    }
}

/// The items `indices` as a tensor, randomly augmented (images only) per `config`.
fn gather(
    config: &TrainConfig,
    split: &Split,
    indices: &[usize],
    rng: &mut SplitMix64,
) -> Result<Tensor, TrainError> {
    let mut values = Vec::with_capacity(indices.len() * split.item_len());
    let aug = config.augment();
    for &i in indices {
        match split.item_shape[..] {
            [h, w, c] if !aug.is_identity() => {
                augment_into(split.item(i), (h, w, c), &aug, rng, &mut values);
            }
            _ => values.extend_from_slice(split.item(i)),
        }
    }
    let mut shape = vec![indices.len()];
    shape.extend(&split.item_shape);
    Ok(Tensor::from_vec(values, shape, &Device::Cpu)?)
}

/// The loss of one batch, or `None` when mining found nothing to learn from.
fn batch_loss(
    config: &TrainConfig,
    encoder: &Encoder,
    class_weights: Option<&Tensor>,
    train: &Split,
    batch: &Batch,
    rng: &mut SplitMix64,
) -> Result<Option<Tensor>, TrainError> {
    match (batch, &config.loss) {
        (Batch::Pairs(pairs), LossConfig::Contrastive { margin }) => {
            let n = pairs.len();
            let idx: Vec<usize> = pairs
                .iter()
                .map(|p| p.a)
                .chain(pairs.iter().map(|p| p.b))
                .collect();
            // Both twins in one forward pass: the same maths as two calls with shared weights.
            let e = encoder.forward(&gather(config, train, &idx, rng)?)?; // [2n, dim]
            let d = losses::pair_distance(&e.narrow(0, 0, n)?, &e.narrow(0, n, n)?)?;
            let y: Vec<f32> = pairs.iter().map(|p| f32::from(u8::from(p.same))).collect();
            let y = Tensor::from_vec(y, n, &Device::Cpu)?;
            Ok(Some(losses::contrastive(&d, &y, *margin)?))
        }
        (Batch::Triplets(t), LossConfig::Triplet { margin, squared }) => {
            let n = t.len();
            let idx: Vec<usize> = (0..3).flat_map(|k| t.iter().map(move |x| x[k])).collect();
            let e = encoder.forward(&gather(config, train, &idx, rng)?)?; // [3n, dim]
            let (a, p, ng) = (
                e.narrow(0, 0, n)?,
                e.narrow(0, n, n)?,
                e.narrow(0, 2 * n, n)?,
            );
            Ok(Some(losses::triplet(&a, &p, &ng, *margin, *squared)?))
        }
        (Batch::Items(items), LossConfig::Triplet { margin, squared }) => {
            let Sampling::ClassBatches {
                miner: Some(miner), ..
            } = config.sampling
            else {
                return Err(TrainError::Config(
                    "a triplet loss over class batches needs a miner".into(),
                ));
            };
            let e = encoder.forward(&gather(config, train, items, rng)?)?; // [n, dim]
            let rows = e.detach().to_vec2::<f32>()?;
            let n = rows.len();
            let mut dist = vec![0f32; n * n];
            for i in 0..n {
                for j in 0..n {
                    let d = Metric::Euclidean.distance(&rows[i], &rows[j]);
                    dist[i * n + j] = if *squared { d * d } else { d };
                }
            }
            let labels: Vec<u32> = items.iter().map(|&i| train.labels[i]).collect();
            let triplets = miners::mine(miner, &dist, &labels, *margin);
            if triplets.is_empty() {
                return Ok(None);
            }
            let pick = |k: usize| -> Result<Tensor, TrainError> {
                let ids: Vec<u32> = triplets.iter().map(|t| t[k] as u32).collect();
                Ok(e.index_select(&Tensor::new(ids, &Device::Cpu)?, 0)?)
            };
            Ok(Some(losses::triplet(
                &pick(0)?,
                &pick(1)?,
                &pick(2)?,
                *margin,
                *squared,
            )?))
        }
        (Batch::Items(items), LossConfig::CosFace { scale, margin }) => {
            let Some(w) = class_weights else {
                return Err(TrainError::Config("cosface needs class weights".into()));
            };
            let e = encoder.forward(&gather(config, train, items, rng)?)?;
            let labels: Vec<u32> = items.iter().map(|&i| train.labels[i]).collect();
            let labels = Tensor::new(labels, &Device::Cpu)?;
            Ok(Some(losses::cosface(&e, &labels, w, *scale, *margin)?))
        }
        _ => Err(TrainError::Config(
            "this loss does not go with this sampling".into(),
        )),
    }
}

/// Sends an event that must arrive (blocks while the receiver catches up; a receiver that
/// went away is ignored, training goes on).
fn send(tx: Option<&SyncSender<Progress>>, event: Progress) {
    if let Some(tx) = tx {
        let _ = tx.send(event);
    }
}

/// Trains an encoder on `dataset`. Progress goes to `progress` (if any); setting `cancel`
/// stops training at the next step with [`TrainError::Cancelled`]. Deterministic for a given
/// config (seed included), dataset and thread count.
#[allow(clippy::too_many_lines)] // the training loop, with its cancel, progress and early-stop checks in place
pub fn train(
    config: &TrainConfig,
    dataset: &Dataset,
    progress: Option<&SyncSender<Progress>>,
    cancel: &AtomicBool,
) -> Result<TrainedModel, TrainError> {
    let train = &dataset.train;
    config.validate(&train.item_shape)?;
    if train.num_classes() < 2 || dataset.test.num_classes() < 1 {
        return Err(TrainError::Data(
            "the data needs at least two classes to train on".into(),
        ));
    }
    let varmap = VarMap::new();
    let encoder = Encoder::new(&config.encoder, &seeded_var_builder(&varmap, config.seed))?;
    let head_vars = VarMap::new();
    let class_weights = match &config.loss {
        LossConfig::CosFace { .. } => {
            Some(seeded_var_builder(&head_vars, config.seed).get_with_hints(
                (train.num_classes(), config.encoder.embedding_dim()),
                "class_weights",
                candle_nn::Init::Randn {
                    mean: 0.0,
                    stdev: 1.0,
                },
            )?)
        }
        _ => None,
    };
    let mut vars = varmap.all_vars();
    vars.extend(head_vars.all_vars());
    let opt = &config.optimizer;
    let mut adam = candle_nn::AdamW::new(
        vars,
        candle_nn::ParamsAdamW {
            lr: opt.learning_rate,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-7,
            weight_decay: opt.weight_decay,
        },
    )?;
    let (train_pairs, test_pairs) = evaluation_pairs(dataset);
    if matches!(config.sampling, Sampling::Pairs) && train_pairs.is_empty() {
        return Err(TrainError::Data(
            "no training pairs: every class needs at least two items".into(),
        ));
    }
    let unit = match config.sampling {
        Sampling::Pairs => "pairs",
        Sampling::Triplets => "triplets",
        Sampling::ClassBatches { .. } | Sampling::Items => "items",
    };
    let mut rng = SplitMix64::new(config.seed ^ 0x5EED);
    let steps_per_epoch = epoch_batches(config, train, &train_pairs, &mut rng.clone()).len();
    let total_steps = (steps_per_epoch * config.epochs).max(1);
    send(
        progress,
        Progress::Started {
            epochs: config.epochs,
            steps_per_epoch,
            unit: unit.into(),
            items_per_epoch: match config.sampling {
                Sampling::Pairs => train_pairs.len(),
                _ => train.len(),
            },
        },
    );
    let mut records = Vec::with_capacity(config.epochs);
    let mut step_no = 0usize;
    for epoch in 1..=config.epochs {
        let batches = epoch_batches(config, train, &train_pairs, &mut rng);
        let started = Instant::now();
        let (mut loss_sum, mut steps, mut items) = (0.0f64, 0usize, 0usize);
        for (s, batch) in batches.iter().enumerate() {
            if cancel.load(Ordering::Relaxed) {
                return Err(TrainError::Cancelled);
            }
            if opt.cosine_decay {
                let t = step_no as f64 / total_steps as f64;
                adam.set_learning_rate(
                    opt.learning_rate * 0.5 * (1.0 + (std::f64::consts::PI * t).cos()),
                );
            }
            step_no += 1;
            items += match batch {
                Batch::Pairs(p) => p.len(),
                Batch::Triplets(t) => t.len(),
                Batch::Items(i) => i.len(),
            };
            let Some(loss) = batch_loss(
                config,
                &encoder,
                class_weights.as_ref(),
                train,
                batch,
                &mut rng,
            )?
            else {
                continue;
            };
            let value = loss.to_scalar::<f32>()?;
            if !value.is_finite() {
                return Err(TrainError::NotFinite {
                    epoch,
                    step: s + 1,
                    loss: value,
                });
            }
            adam.backward_step(&loss)?;
            loss_sum += f64::from(value);
            steps += 1;
            if let Some(tx) = progress {
                let _ = tx.try_send(Progress::Step {
                    epoch,
                    step: s + 1,
                    steps_per_epoch,
                    loss: value,
                });
            }
        }
        let seconds = started.elapsed().as_secs_f64();
        let mut record = EpochRecord {
            epoch,
            loss: loss_sum / steps.max(1) as f64,
            seconds,
            items_per_second: items as f64 / seconds.max(1e-9),
            test_accuracy_at_0_5: None,
            test_auc: None,
            test_best_accuracy: None,
        };
        if config.eval_every > 0 && (epoch % config.eval_every == 0 || epoch == config.epochs) {
            let emb = embed_split(&encoder, &dataset.test)?;
            let scored = score(&emb, &test_pairs);
            record.test_accuracy_at_0_5 = Some(metrics::accuracy_at(&scored, 0.5));
            record.test_auc = Some(metrics::auc(&scored));
            record.test_best_accuracy = Some(metrics::best_threshold(&scored).0);
        }
        send(progress, Progress::Epoch(record.clone()));
        records.push(record);
    }
    send(progress, Progress::Evaluating);
    finish(
        config,
        dataset,
        encoder,
        &varmap,
        records,
        unit,
        &train_pairs,
        &test_pairs,
    )
}

/// Item shapes an encoder config can take, for error messages and the CLI.
#[must_use]
pub fn input_description(kind: InputKind) -> String {
    match kind {
        InputKind::Image { side, channels } => {
            format!("{side}x{side} images with {channels} channel(s)")
        }
        InputKind::Vector { dim } => format!("{dim}-D vectors"),
    }
}

#[cfg(test)]
#[path = "trainer_tests.rs"]
mod tests;
