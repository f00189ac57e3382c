//! Training runs the command line and the window share: what to train, typed
//! ([`TrainPlan`], which the window builds from its form) or as `rollcall train`'s options
//! ([`TrainRequest`]), loading its data, and where trained models go.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::train::faces::FaceOptions;
use crate::train::{self, DatasetSpec, LossConfig, Miner, Sampling, TrainConfig};
use crate::vision::encoders::EncoderConfig;

/// What to train: the data, the recipe and the settings that override it. `rollcall train`
/// takes it as its options; the Training screen fills it in from its form.
#[derive(Clone, Debug, clap::Args)]
pub struct TrainRequest {
    /// The data: `mnist` (built in), `idx:DIR` (MNIST-format files), `faces:DIR` (a folder per person).
    #[arg(long, default_value = "mnist")]
    pub dataset: String,
    /// The starting recipe: seed, best, triplet, batch-hard, semi-hard.
    #[arg(long, default_value = "seed")]
    pub recipe: String,
    /// The network: seed-cnn or small-cnn.
    #[arg(long)]
    pub arch: Option<String>,
    /// The loss: contrastive, triplet or cosface.
    #[arg(long)]
    pub loss: Option<String>,
    /// Mine triplets in P×K class batches: batch-all, batch-hard or semi-hard (triplet loss).
    #[arg(long)]
    pub miner: Option<String>,
    /// Passes over the training data.
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Pairs, triplets or items per step.
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Learning rate.
    #[arg(long)]
    pub lr: Option<f64>,
    /// AdamW weight decay (0 = Adam).
    #[arg(long)]
    pub weight_decay: Option<f64>,
    /// The loss margin.
    #[arg(long)]
    pub margin: Option<f32>,
    /// Embedding size.
    #[arg(long)]
    pub embedding_dim: Option<usize>,
    /// Seed of the weights and shuffles.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Random shifts of training images, in pixels (0 = none).
    #[arg(long)]
    pub max_shift: Option<usize>,
    /// Random rotations of training images, in degrees (0 = none).
    #[arg(long)]
    pub max_rotation: Option<f32>,
    /// Random scaling of training images, as a fraction (0.1 = ±10 %; 0 = none).
    #[arg(long)]
    pub max_scale: Option<f32>,
    /// Evaluate on the test split every N epochs (0 = only at the end).
    #[arg(long)]
    pub eval_every: Option<usize>,
    /// Face folders: chip side in pixels.
    #[arg(long, default_value_t = 64)]
    pub chip_size: u32,
    /// Train a `face-head` on top of a frozen pretrained face encoder instead of a CNN from
    /// scratch (face folders only): `dlib` or `mobilefacenet`, the bundled ones.
    #[arg(long, value_name = "ENCODER")]
    pub base: Option<String>,
    /// Face folders: 1 (grey) or 3 (colour) channels.
    #[arg(long, default_value_t = 1)]
    pub channels: usize,
    /// Face heads: where the base encoder's embeddings of the photos are kept between runs, so
    /// a photo is embedded once (default: the platform cache folder, e.g.
    /// ~/.cache/rollcall/embeddings).
    #[arg(long, value_name = "DIR", env = "ROLLCALL_EMBEDDING_CACHE")]
    pub embedding_cache: Option<PathBuf>,
    /// Face heads: embed every photo again and keep nothing (over `--embedding-cache` and its
    /// environment variable).
    #[arg(long)]
    pub no_embedding_cache: bool,
}

/// Where the embeddings a face head trains on are kept: `ROLLCALL_EMBEDDING_CACHE` when set,
/// else the platform cache folder, e.g. `~/.cache/rollcall/embeddings`.
#[must_use]
pub fn default_embedding_cache() -> Option<PathBuf> {
    std::env::var_os("ROLLCALL_EMBEDDING_CACHE")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            directories::ProjectDirs::from("", "", "rollcall")
                .map(|d| d.cache_dir().join("embeddings"))
        })
}

/// The default models folder: `models/` beside the database file.
#[must_use]
pub fn models_dir(db: &crate::store::Location) -> PathBuf {
    match db {
        crate::store::Location::File(file) => {
            file.parent().unwrap_or(Path::new(".")).join("models")
        }
        // Models trained at a classroom stay on that machine, in the platform data folder.
        crate::store::Location::Server(_) => crate::store::default_db_path()
            .as_deref()
            .and_then(Path::parent)
            .unwrap_or(Path::new("."))
            .join("models"),
    }
}

/// Sets the margin of whichever loss `config` trains with.
pub fn set_margin(config: &mut TrainConfig, m: f32) {
    match &mut config.loss {
        LossConfig::Contrastive { margin }
        | LossConfig::Triplet { margin, .. }
        | LossConfig::CosFace { margin, .. } => *margin = m,
    }
}

/// The training settings the arguments ask for.
pub fn config_from_request(a: &TrainRequest) -> anyhow::Result<TrainConfig> {
    let mut c = TrainConfig::recipe(&a.recipe)?;
    if let Some(arch) = &a.arch {
        c.encoder = EncoderConfig::preset(arch)
            .filter(|e| !matches!(e, EncoderConfig::FaceHead(_)))
            .with_context(|| format!("unknown network {arch:?} (seed-cnn or small-cnn; face-head trains on a pretrained face encoder)"))?;
    }
    let margin = a.margin;
    if let Some(loss) = &a.loss {
        (c.loss, c.sampling) = match loss.as_str() {
            "contrastive" => (
                LossConfig::Contrastive {
                    margin: margin.unwrap_or(1.0),
                },
                Sampling::Pairs,
            ),
            "triplet" => (
                LossConfig::Triplet {
                    margin: margin.unwrap_or(1.0),
                    squared: false,
                },
                Sampling::Triplets,
            ),
            "cosface" => (
                LossConfig::CosFace {
                    scale: 16.0,
                    margin: margin.unwrap_or(0.2),
                },
                Sampling::Items,
            ),
            other => anyhow::bail!("unknown loss {other:?} (contrastive, triplet or cosface)"),
        };
    } else if let Some(m) = margin {
        set_margin(&mut c, m);
    }
    if let Some(miner) = &a.miner {
        let miner: Miner = miner.parse().map_err(anyhow::Error::msg)?;
        if let LossConfig::Contrastive { .. } = c.loss {
            c.loss = LossConfig::Triplet {
                margin: margin.unwrap_or(0.5),
                squared: false,
            };
        }
        c.sampling = Sampling::ClassBatches {
            classes_per_batch: 8,
            per_class: 16,
            miner: Some(miner),
        };
    }
    if let Some(d) = a.embedding_dim {
        c.encoder = c.encoder.with_embedding_dim(d);
    }
    c.epochs = a.epochs.unwrap_or(c.epochs);
    c.batch_size = a.batch_size.unwrap_or(c.batch_size);
    c.optimizer.learning_rate = a.lr.unwrap_or(c.optimizer.learning_rate);
    c.optimizer.weight_decay = a.weight_decay.unwrap_or(c.optimizer.weight_decay);
    c.seed = a.seed.unwrap_or(c.seed);
    c.max_shift = a.max_shift.unwrap_or(c.max_shift);
    c.max_rotation_deg = a.max_rotation.unwrap_or(c.max_rotation_deg);
    c.max_scale = a.max_scale.unwrap_or(c.max_scale);
    c.eval_every = a.eval_every.unwrap_or(c.eval_every);
    Ok(c)
}

/// A pretrained face encoder that a face head is trained on: one of the bundled ones.
pub type HeadBase = crate::vision::pipeline::BuiltinEncoder;

/// What to train, typed: the settings, the data, how face photos become chips, and, for a face
/// head, the frozen encoder under it. The Training screen builds one from its form; `rollcall
/// train` from its options ([`plan_from_request`]).
#[derive(Clone, Debug)]
pub struct TrainPlan {
    /// The recipe with its overrides.
    pub config: TrainConfig,
    /// The data.
    pub dataset: DatasetSpec,
    /// Chip size and channels for face folders.
    pub faces: FaceOptions,
    /// Train a face head on this encoder instead of a network from scratch (face folders).
    pub head_base: Option<HeadBase>,
    /// Where a face head's base embeddings are kept between runs (`None`: embed every photo).
    pub embedding_cache: Option<PathBuf>,
}

/// A plan with its data loaded, ready for [`train::train`].
#[derive(Debug)]
pub struct LoadedPlan {
    /// The settings, with the network fitted to the data.
    pub config: TrainConfig,
    /// The data.
    pub dataset: train::Dataset,
    /// For a face head: how many photos were embedded and how many came from the cache.
    pub embedded: Option<train::faces::EmbedStats>,
}

/// The plan `rollcall train`'s options ask for.
pub fn plan_from_request(a: &TrainRequest) -> anyhow::Result<TrainPlan> {
    let dataset: DatasetSpec = a.dataset.parse()?;
    let head_base = match a.base.as_deref() {
        None => None,
        Some(_) if !matches!(dataset, DatasetSpec::Faces(_)) => {
            anyhow::bail!("--base trains a face head: use it with --dataset faces:DIR")
        }
        Some(name) => Some(HeadBase::from_name(name).with_context(|| {
            format!(
                "unknown base encoder {name:?}: the bundled ones are `dlib` and `mobilefacenet`"
            )
        })?),
    };
    Ok(TrainPlan {
        config: config_from_request(a)?,
        dataset,
        faces: FaceOptions {
            chip_size: a.chip_size,
            channels: a.channels,
            ..FaceOptions::default()
        },
        head_base,
        embedding_cache: if a.no_embedding_cache {
            None
        } else {
            a.embedding_cache.clone().or_else(default_embedding_cache)
        },
    })
}

/// The training settings and the data of a plan (shared by `rollcall train` and the Training
/// screen): the dataset loaded (face folders aligned, or embedded by the base encoder for a
/// face head), and the network fitted to it.
pub fn load_plan(plan: &TrainPlan) -> anyhow::Result<LoadedPlan> {
    let spec = &plan.dataset;
    let faces = &plan.faces;
    let mut config = plan.config.clone();
    if matches!(spec, DatasetSpec::Faces(_)) {
        config.encoder = config
            .encoder
            .for_images(faces.chip_size as usize, faces.channels);
    }
    let mut embedded = None;
    let dataset = match (spec, plan.head_base) {
        (_, None) => train::load_dataset(spec, faces).with_context(|| format!("loading {spec}"))?,
        (DatasetSpec::Faces(dir), Some(head_base)) => {
            let base = head_base.load(&crate::vision::encoders::load::cpu())?;
            config.encoder = EncoderConfig::FaceHead(
                crate::vision::encoders::face_head::Config::for_base(base.as_ref()),
            );
            let (dataset, stats) = train::faces::embed_face_folder(
                dir,
                base.as_ref(),
                faces,
                plan.embedding_cache.as_deref(),
            )
            .with_context(|| format!("embedding {spec} with {}", base.model_id()))?;
            embedded = Some(stats);
            dataset
        }
        (_, Some(_)) => anyhow::bail!("a face head trains on face folders (faces:DIR)"),
    };
    if let [side, _, channels] = dataset.train.item_shape[..]
        && matches!(spec, DatasetSpec::Idx(_))
    {
        config.encoder = config.encoder.for_images(side, channels);
    }
    Ok(LoadedPlan {
        config,
        dataset,
        embedded,
    })
}

/// [`load_plan`] of what `rollcall train`'s options ask for.
pub fn prepare_run(a: &TrainRequest) -> anyhow::Result<LoadedPlan> {
    load_plan(&plan_from_request(a)?)
}
