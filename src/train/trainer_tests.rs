//! Tests of the training loop on tiny synthetic data (milliseconds to seconds each).

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use super::*;
use crate::core::ModelId;
use crate::train::dataset::DataKind;
use crate::train::faces::{FaceOptions, embed_face_folder};
use crate::train::miners::Miner;
use crate::train::model::{EpochRecord, TrainedModel, fit_threshold};
use crate::train::recipe::OptimizerConfig;
use crate::vision::encoders::{EncoderConfig, TrainedEncoder, face_head, load, seed_cnn};
use crate::vision::{FaceEncoder, VisionError};

/// `classes` classes of `side`×`side` grey images: a bright 3×3 block at a class-specific
/// place on a faint seeded noise background.
fn synthetic(classes: u32, per_class: usize, side: usize, seed: u64) -> Split {
    let mut rng = SplitMix64::new(seed);
    let mut items = Vec::new();
    let mut labels = Vec::new();
    for i in 0..per_class * classes as usize {
        let c = (i % classes as usize) as u32;
        let (cy, cx) = (
            1 + (c as usize * 3) % (side - 4),
            1 + (c as usize * 5) % (side - 4),
        );
        for y in 0..side {
            for x in 0..side {
                let block = (cy..cy + 3).contains(&y) && (cx..cx + 3).contains(&x);
                items.push(if block { 0.9 } else { 0.0 } + 0.1 * rng.next_f64() as f32);
            }
        }
        labels.push(c);
    }
    Split {
        items,
        item_shape: vec![side, side, 1],
        labels,
    }
}

fn tiny_dataset() -> Dataset {
    Dataset {
        spec: "synthetic".into(),
        kind: DataKind::Idx,
        train: synthetic(4, 6, 12, 1),
        test: synthetic(4, 3, 12, 2),
        class_names: (0..4).map(|c| c.to_string()).collect(),
    }
}

fn tiny_config() -> TrainConfig {
    TrainConfig {
        encoder: EncoderConfig::SeedCnn(seed_cnn::Config {
            input_size: 12,
            kernel_size: 3,
            embedding_dim: 4,
            ..seed_cnn::Config::seed()
        }),
        loss: LossConfig::Contrastive { margin: 1.0 },
        sampling: Sampling::Pairs,
        optimizer: OptimizerConfig {
            learning_rate: 1e-2,
            weight_decay: 0.0,
            cosine_decay: false,
        },
        epochs: 30,
        batch_size: 8,
        seed: 3,
        max_shift: 0,
        max_rotation_deg: 0.0,
        max_scale: 0.0,
        eval_every: 0,
    }
}

fn run(config: &TrainConfig, data: &Dataset) -> Result<TrainedModel, TrainError> {
    train(config, data, None, &AtomicBool::new(false))
}

#[test]
fn the_loss_falls_on_a_few_synthetic_pairs() {
    let m = run(&tiny_config(), &tiny_dataset()).unwrap();
    let e = &m.history.epochs;
    assert_eq!(e.len(), 30);
    assert!(
        e[29].loss < 0.5 * e[0].loss,
        "loss {} -> {}",
        e[0].loss,
        e[29].loss
    );
    assert!(
        m.history.train.verification.best_accuracy > 0.9,
        "{:?}",
        m.history.train.verification.best_accuracy
    );
    assert!(m.card.model_id.starts_with("seed-cnn-"));
}

#[test]
fn triplets_mining_and_cosface_also_learn() {
    let data = tiny_dataset();
    let configs = [
        TrainConfig {
            loss: LossConfig::Triplet {
                margin: 1.0,
                squared: true,
            },
            sampling: Sampling::Triplets,
            ..tiny_config()
        },
        TrainConfig {
            loss: LossConfig::Triplet {
                margin: 0.5,
                squared: false,
            },
            sampling: Sampling::ClassBatches {
                classes_per_batch: 4,
                per_class: 3,
                miner: Some(Miner::BatchHard),
            },
            ..tiny_config()
        },
        TrainConfig {
            loss: LossConfig::CosFace {
                scale: 8.0,
                margin: 0.1,
            },
            sampling: Sampling::Items,
            ..tiny_config()
        },
    ];
    for c in configs {
        let m = run(&c, &data).unwrap();
        let e = &m.history.epochs;
        assert!(
            e.last().unwrap().loss < e[0].loss,
            "{}: {} -> {}",
            c.loss.name(),
            e[0].loss,
            e.last().unwrap().loss
        );
    }
}

#[test]
fn the_same_seed_gives_the_same_weights_and_figures() {
    let data = tiny_dataset();
    let c = TrainConfig {
        epochs: 3,
        max_shift: 1,
        ..tiny_config()
    };
    let (a, b) = (run(&c, &data).unwrap(), run(&c, &data).unwrap());
    assert_eq!(a.weights, b.weights);
    assert_eq!(a.card, b.card);
    assert_eq!(a.history.test, b.history.test);
    let other = run(&TrainConfig { seed: 4, ..c }, &data).unwrap();
    assert_ne!(a.weights, other.weights);
}

#[test]
fn nan_cancel_and_bad_settings_are_clear_errors() {
    let mut data = tiny_dataset();
    data.train.items[5] = f32::NAN;
    let err = run(&tiny_config(), &data).unwrap_err();
    assert!(
        matches!(err, TrainError::NotFinite { epoch: 1, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("diverged"));
    let cancelled = train(
        &tiny_config(),
        &tiny_dataset(),
        None,
        &AtomicBool::new(true),
    );
    assert!(matches!(cancelled, Err(TrainError::Cancelled)));
    let wrong = TrainConfig {
        encoder: EncoderConfig::preset("seed-cnn").unwrap(),
        ..tiny_config()
    };
    assert!(
        run(&wrong, &tiny_dataset())
            .unwrap_err()
            .to_string()
            .contains("takes")
    );
}

#[test]
fn progress_events_arrive_in_order() {
    let (tx, rx) = std::sync::mpsc::sync_channel(1000);
    let c = TrainConfig {
        epochs: 2,
        eval_every: 1,
        ..tiny_config()
    };
    train(&c, &tiny_dataset(), Some(&tx), &AtomicBool::new(false)).unwrap();
    drop(tx);
    let events: Vec<Progress> = rx.iter().collect();
    assert!(matches!(events[0], Progress::Started { epochs: 2, .. }));
    let epochs: Vec<&EpochRecord> = events
        .iter()
        .filter_map(|e| {
            if let Progress::Epoch(r) = e {
                Some(r)
            } else {
                None
            }
        })
        .collect();
    assert_eq!(epochs.len(), 2);
    assert!(epochs[1].test_accuracy_at_0_5.is_some() && epochs[1].items_per_second > 0.0);
    assert!(matches!(events.last(), Some(Progress::Evaluating)));
}

#[test]
fn a_saved_model_loads_back_and_a_damaged_one_is_refused() {
    let data = tiny_dataset();
    let m = run(
        &TrainConfig {
            epochs: 2,
            ..tiny_config()
        },
        &data,
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    m.save(dir.path()).unwrap();
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 3, "no temporary files left: {names:?}");
    let loaded = TrainedEncoder::load(dir.path(), &candle_core::Device::Cpu).unwrap();
    assert_eq!(loaded.card, m.card);
    let x = data.test.batch(&[0, 1, 2]).unwrap();
    let want = m.encoder.forward(&x).unwrap().to_vec2::<f32>().unwrap();
    assert_eq!(
        loaded.embed_tensor(&x).unwrap().to_vec2::<f32>().unwrap(),
        want
    );
    // A digits model is not a face encoder.
    let err = load::load_model_dir(dir.path(), &candle_core::Device::Cpu)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("not faces"), "{err}");
    let weights = dir.path().join("model.safetensors");
    let mut bytes = std::fs::read(&weights).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&weights, bytes).unwrap();
    let err = TrainedEncoder::load(dir.path(), &candle_core::Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(err.contains("do not match the card"), "{err}");
}

/// A frozen stand-in for the pretrained face encoder: the mean colour of each quarter of the
/// chip (4 quarters × 3 channels = 12-D). Fixed maths, no weights.
struct QuarterColours(ModelId);

impl FaceEncoder for QuarterColours {
    fn model_id(&self) -> &ModelId {
        &self.0
    }
    fn metric(&self) -> crate::core::Metric {
        crate::core::Metric::Euclidean
    }
    fn dim(&self) -> usize {
        12
    }
    fn chip_size(&self) -> u32 {
        8
    }
    fn default_threshold(&self) -> f32 {
        0.6
    }
    fn embed(&self, chips: &[image::RgbImage]) -> Result<Vec<Vec<f32>>, VisionError> {
        Ok(chips
            .iter()
            .map(|c| {
                let mut v = vec![0f32; 12];
                for (x, y, p) in c.enumerate_pixels() {
                    let q = (usize::from(y >= 4) * 2 + usize::from(x >= 4)) * 3;
                    for ch in 0..3 {
                        v[q + ch] += f32::from(p.0[ch]) / 255.0 / 16.0;
                    }
                }
                v
            })
            .collect())
    }
}

/// Six people of four 16×16 photos each, told apart by the colours of their quarters.
fn quarter_folder(dir: &std::path::Path) {
    let mut rng = SplitMix64::new(9);
    for who in 0..6u8 {
        let folder = dir.join(format!("p{who}"));
        std::fs::create_dir_all(&folder).unwrap();
        for i in 0..4 {
            let img = image::RgbImage::from_fn(16, 16, |x, y| {
                let base = if (x < 8) == (who % 2 == 0) {
                    40 * who
                } else {
                    255 - 30 * who
                };
                image::Rgb([
                    base,
                    base.wrapping_add((y * 3) as u8),
                    (rng.below(60) + 20 * (y as usize / 8)) as u8,
                ])
            });
            img.save(folder.join(format!("{i}.png"))).unwrap();
        }
    }
}

#[test]
fn a_face_head_trains_on_a_frozen_encoder_and_composes_with_it() {
    let dir = tempfile::tempdir().unwrap();
    quarter_folder(dir.path());
    let base: Arc<dyn FaceEncoder> = Arc::new(QuarterColours(ModelId::new("quarters-v1")));
    let data = embed_face_folder(
        dir.path(),
        base.as_ref(),
        &FaceOptions {
            chip_size: 8,
            channels: 3,
            seed: 1,
            test_fraction: 0.34,
            align: false,
        },
        None,
    )
    .unwrap()
    .0;
    assert_eq!(data.train.item_shape, [12]);
    let config = TrainConfig {
        encoder: EncoderConfig::FaceHead(face_head::Config {
            input_dim: 12,
            hidden_dim: 16,
            base_model: "quarters-v1".into(),
            chip_size: 8,
        }),
        loss: LossConfig::Triplet {
            margin: 0.2,
            squared: false,
        },
        sampling: Sampling::ClassBatches {
            classes_per_batch: 4,
            per_class: 4,
            miner: Some(Miner::SemiHard),
        },
        epochs: 5,
        ..tiny_config()
    };
    let m = run(&config, &data).unwrap();
    let out = tempfile::tempdir().unwrap();
    m.save(out.path()).unwrap();
    let enc =
        load::load_face_head_dir(out.path(), &candle_core::Device::Cpu, base.clone()).unwrap();
    assert_eq!(
        (enc.dim(), enc.chip_size(), enc.model_id().as_str()),
        (12, 8, m.card.model_id.as_str())
    );
    let chip = image::RgbImage::from_pixel(8, 8, image::Rgb([10, 200, 30]));
    let v = &enc.embed(std::slice::from_ref(&chip)).unwrap()[0];
    assert!((v.iter().map(|x| x * x).sum::<f32>() - 1.0).abs() < 1e-4);
    let wrong: Arc<dyn FaceEncoder> = Arc::new(QuarterColours(ModelId::new("other")));
    let err = load::load_face_head_dir(out.path(), &candle_core::Device::Cpu, wrong)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("quarters-v1"), "{err}");
    assert!(
        load::load_model_dir(out.path(), &candle_core::Device::Cpu)
            .err()
            .unwrap()
            .to_string()
            .contains("base encoder")
    );
}

#[test]
fn the_threshold_sits_in_the_middle_of_the_widest_best_gap() {
    use crate::core::metrics::ScoredPair;
    let p = |distance: f32, same: bool| ScoredPair { distance, same };
    // Separable: same pairs up to 0.4, different from 1.0: the middle of the gap is 0.7
    // (metrics::best_threshold would give 0.7 too here, but the edge on a looser set).
    assert!(
        (fit_threshold(&[p(0.1, true), p(0.4, true), p(1.0, false), p(1.3, false)]) - 0.7).abs()
            < 1e-6
    );
    // One different pair at 0.3 inside the same pairs: best accuracy 4/5 is reached between
    // 0.4 and 1.0 (width 0.6) and not elsewhere.
    let t = fit_threshold(&[
        p(0.1, true),
        p(0.3, false),
        p(0.4, true),
        p(1.0, false),
        p(1.3, false),
    ]);
    assert!((t - 0.7).abs() < 1e-6, "{t}");
    assert_eq!(fit_threshold(&[]), 0.0);
}

/// [`QuarterColours`], counting the chips it embeds.
struct Counting(QuarterColours, std::sync::atomic::AtomicUsize);

impl FaceEncoder for Counting {
    fn model_id(&self) -> &ModelId {
        self.0.model_id()
    }
    fn metric(&self) -> crate::core::Metric {
        self.0.metric()
    }
    fn dim(&self) -> usize {
        self.0.dim()
    }
    fn chip_size(&self) -> u32 {
        self.0.chip_size()
    }
    fn default_threshold(&self) -> f32 {
        self.0.default_threshold()
    }
    fn embed(&self, chips: &[image::RgbImage]) -> Result<Vec<Vec<f32>>, VisionError> {
        self.1
            .fetch_add(chips.len(), std::sync::atomic::Ordering::SeqCst);
        self.0.embed(chips)
    }
}

#[test]
fn a_second_run_takes_the_embeddings_from_the_cache_and_embeds_only_changed_photos() {
    use std::sync::atomic::Ordering::SeqCst;
    let dir = tempfile::tempdir().unwrap();
    quarter_folder(dir.path());
    let cache = tempfile::tempdir().unwrap();
    let encoder = Counting(
        QuarterColours(ModelId::new("quarters-v1")),
        std::sync::atomic::AtomicUsize::new(0),
    );
    let opts = FaceOptions {
        chip_size: 8,
        channels: 3,
        seed: 1,
        test_fraction: 0.34,
        align: false,
    };
    let (plain, stats) = embed_face_folder(dir.path(), &encoder, &opts, None).unwrap();
    assert_eq!(
        (stats.photos, stats.cached, stats.cache_file),
        (24, 0, None)
    );
    assert_eq!(encoder.1.swap(0, SeqCst), 24);

    let (first, stats) =
        embed_face_folder(dir.path(), &encoder, &opts, Some(cache.path())).unwrap();
    assert_eq!((stats.photos, stats.cached), (24, 0));
    assert_eq!(encoder.1.swap(0, SeqCst), 24);
    assert!(stats.cache_file.unwrap().exists());

    let (second, stats) =
        embed_face_folder(dir.path(), &encoder, &opts, Some(cache.path())).unwrap();
    assert_eq!((stats.photos, stats.cached), (24, 24));
    assert_eq!(encoder.1.swap(0, SeqCst), 0, "nothing is embedded again");
    for data in [&first, &second] {
        assert_eq!(data.train.items, plain.train.items);
        assert_eq!(data.test.items, plain.test.items);
        assert_eq!(data.train.labels, plain.train.labels);
    }

    // An edited photo is embedded again; the others still come from the cache.
    image::RgbImage::from_pixel(16, 16, image::Rgb([200, 10, 10]))
        .save(dir.path().join("p0").join("0.png"))
        .unwrap();
    let (edited, stats) =
        embed_face_folder(dir.path(), &encoder, &opts, Some(cache.path())).unwrap();
    assert_eq!((stats.photos, stats.cached), (24, 23));
    assert_eq!(encoder.1.swap(0, SeqCst), 1);
    let fresh = embed_face_folder(dir.path(), &encoder, &opts, None)
        .unwrap()
        .0;
    assert_eq!(edited.train.items, fresh.train.items);
    assert_eq!(edited.test.items, fresh.test.items);
}
