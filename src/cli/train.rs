//! `rollcall train`, `rollcall eval` and `rollcall models list`: train a Siamese encoder with
//! a progress bar and a final table, evaluate a model folder on a dataset or a pairs list,
//! and list the trained models. `--json` prints one JSON object for scripts.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use anyhow::Context as _;

use super::{outln, table};
use crate::train::faces::FaceOptions;
use crate::train::{self, DatasetSpec, EvalReport, Progress};
use crate::vision::encoders::{InputKind, ModelCard, TrainedEncoder, card};
use crate::workflow::train::{TrainRequest, models_dir, prepare_run};

/// Options of `rollcall train`.
#[derive(Clone, Debug, clap::Args)]
pub struct TrainArgs {
    /// What to train.
    #[command(flatten)]
    pub request: TrainRequest,
    /// The model folder to write (default: `models/<model id>` next to the database).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Print one JSON object instead of the progress bar and table.
    #[arg(long)]
    pub json: bool,
}

/// Options of `rollcall eval`.
#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// The model folder.
    #[arg(long, value_name = "DIR")]
    pub model: PathBuf,
    /// Evaluate on this dataset's test split (`mnist`, `idx:DIR`, `faces:DIR`).
    #[arg(long, conflicts_with = "pairs", required_unless_present = "pairs")]
    pub dataset: Option<String>,
    /// Evaluate on a pairs list `path_a,path_b,same`.
    #[arg(long, value_name = "FILE")]
    pub pairs: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `rollcall models ...`.
#[derive(Debug, clap::Subcommand)]
pub enum ModelsCommand {
    /// List the trained model folders.
    List {
        /// The folder to look in (default: `models/` next to the database).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Runs `rollcall train`.
pub fn run_train(db: &crate::store::Location, a: &TrainArgs) -> anyhow::Result<()> {
    let load_started = std::time::Instant::now();
    let crate::workflow::train::LoadedPlan {
        config,
        dataset,
        embedded,
    } = prepare_run(&a.request)?;
    let load_s = load_started.elapsed().as_secs_f64();
    if let Some(e) = &embedded
        && !a.json
    {
        let cache = match &e.cache_file {
            Some(file) => format!("{} from the cache {}", e.cached, file.display()),
            None => "no cache".to_owned(),
        };
        outln!(
            "data: {} photos through the base encoder ({cache}) in {load_s:.1} s",
            e.photos
        );
    }
    let load_before = load_average();
    let (tx, rx) = std::sync::mpsc::sync_channel::<Progress>(64);
    let cancel = AtomicBool::new(false);
    let started = std::time::Instant::now();
    let result = std::thread::scope(|s| {
        let worker = std::thread::Builder::new()
            .name("train".into())
            .spawn_scoped(s, {
                // The sender moves into the worker, so the progress loop ends with it.
                let (config, dataset, cancel) = (&config, &dataset, &cancel);
                move || train::train(config, dataset, Some(&tx), cancel)
            })
            .context("starting the training thread");
        drop_progress_loop(&rx, a.json);
        worker.and_then(|w| {
            w.join()
                .map_err(|_| anyhow::anyhow!("the training thread panicked"))
        })
    })?;
    let model = result?;
    let wall_s = started.elapsed().as_secs_f64();
    let dir = a
        .out
        .clone()
        .unwrap_or_else(|| models_dir(db).join(&model.card.model_id));
    model.save(&dir)?;
    let epochs = &model.history.epochs;
    let mut speeds: Vec<f64> = epochs
        .iter()
        .skip(usize::from(epochs.len() > 1))
        .map(|e| e.items_per_second)
        .collect();
    speeds.sort_by(f64::total_cmp);
    let median_speed = speeds.get(speeds.len() / 2).copied().unwrap_or(0.0);
    let threads = std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
    if a.json {
        let out = serde_json::json!({
            "model_dir": dir,
            "model_id": model.card.model_id,
            "card": model.card,
            "epochs": model.history.epochs,
            "unit": model.history.unit,
            "median_items_per_second": median_speed,
            "data_load_seconds": load_s,
            "embedded": embedded.as_ref().map(|e| serde_json::json!({
                "photos": e.photos,
                "from_cache": e.cached,
                "cache_file": e.cache_file,
            })),
            "wall_seconds": wall_s,
            "threads": threads,
            "peak_rss_mib": peak_rss_mib(),
            "load_average_start": load_before,
            "load_average_end": load_average(),
        });
        outln!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    print_report(&model.card, &model.history.test);
    outln!(
        "training: {} epochs in {wall_s:.1} s, median {median_speed:.0} {}/s ({threads} threads, peak memory {:.0} MiB)",
        epochs.len(),
        model.history.unit,
        peak_rss_mib().unwrap_or(f64::NAN)
    );
    outln!("saved {} to {}", model.card.model_id, dir.display());
    Ok(())
}

/// Draws progress until the sender is gone (or prints nothing in JSON mode).
fn drop_progress_loop(rx: &std::sync::mpsc::Receiver<Progress>, quiet: bool) {
    let bar = if quiet {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(0)
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} steps  {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    while let Ok(event) = rx.recv() {
        match event {
            Progress::Started {
                epochs,
                steps_per_epoch,
                ..
            } => bar.set_length((epochs * steps_per_epoch) as u64),
            Progress::Step {
                epoch,
                step,
                steps_per_epoch,
                loss,
            } => {
                bar.set_prefix(format!("epoch {epoch}"));
                bar.set_position(((epoch - 1) * steps_per_epoch + step) as u64);
                bar.set_message(format!("loss {loss:.4}"));
            }
            Progress::Epoch(r) => {
                let test = match (r.test_accuracy_at_0_5, r.test_best_accuracy) {
                    (Some(acc), Some(best)) => {
                        format!(", test acc@0.5 {}, best {}", pct(acc), pct(best))
                    }
                    _ => String::new(),
                };
                if !quiet {
                    bar.suspend(|| {
                        outln!(
                            "epoch {}: loss {:.4}, {:.2} s, {:.0}/s{test}",
                            r.epoch,
                            r.loss,
                            r.seconds,
                            r.items_per_second
                        );
                    });
                }
            }
            Progress::Evaluating => {
                bar.finish_and_clear();
                if !quiet {
                    outln!("evaluating...");
                }
            }
        }
    }
}

fn print_report(card: &ModelCard, r: &EvalReport) {
    let v = &r.verification;
    let mut rows = vec![
        vec!["model".into(), card.model_id.clone()],
        vec![
            "data".into(),
            format!("{} ({} test pairs)", card.dataset.spec, r.pairs),
        ],
        vec![
            "accuracy, d < 0.5 (seed rule)".into(),
            pct(r.accuracy_at_0_5),
        ],
        vec![
            format!("accuracy, d < {:.3} (recommended)", r.threshold),
            pct(r.accuracy_at_threshold),
        ],
        vec![
            "best accuracy (any threshold)".into(),
            format!("{} at d < {:.3}", pct(v.best_accuracy), v.best_threshold),
        ],
        vec!["AUC".into(), format!("{:.4}", v.auc)],
        vec!["EER".into(), pct(v.eer)],
        vec!["TAR at FAR 1 %".into(), pct(v.tar_at_far_1.0)],
        vec!["TAR at FAR 0.1 %".into(), pct(v.tar_at_far_0_1.0)],
    ];
    if let Some(ret) = r.retrieval {
        rows.push(vec!["precision@1".into(), pct(ret.precision_at_1)]);
        rows.push(vec!["MAP@R".into(), pct(ret.map_at_r)]);
    }
    table::print(&["figure", "value"], &rows);
}

/// Runs `rollcall eval`.
pub fn run_eval(a: &EvalArgs) -> anyhow::Result<()> {
    let model = TrainedEncoder::load(&a.model, &candle_device())?;
    let report = if let Some(pairs) = &a.pairs {
        let rows = train::faces::read_pairs_csv(pairs)?;
        train::eval::evaluate_on_pairs(&model, &rows, None)?
    } else {
        let spec: DatasetSpec = a.dataset.as_deref().unwrap_or("mnist").parse()?;
        let faces = match model.card.encoder.input() {
            InputKind::Image { side, channels } => FaceOptions {
                chip_size: side as u32,
                channels,
                ..FaceOptions::default()
            },
            InputKind::Vector { .. } => anyhow::bail!(
                "a face head needs its base encoder, which this build does not have yet"
            ),
        };
        let dataset =
            train::load_dataset(&spec, &faces).with_context(|| format!("loading {spec}"))?;
        train::eval::evaluate_on_dataset(&model, &dataset)?
    };
    if a.json {
        outln!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({ "model_id": model.card.model_id, "report": report })
            )?
        );
    } else {
        print_report(&model.card, &report);
    }
    Ok(())
}

fn candle_device() -> crate::vision::encoders::load::Device {
    crate::vision::encoders::load::cpu()
}

/// Runs `rollcall models list`.
pub fn run_models(db: &crate::store::Location, c: &ModelsCommand) -> anyhow::Result<()> {
    let ModelsCommand::List { dir, json } = c;
    let dir = dir.clone().unwrap_or_else(|| models_dir(db));
    let mut cards: Vec<(PathBuf, ModelCard)> = Vec::new();
    if dir.is_dir() {
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))?
        {
            let path = entry?.path();
            if path.join(card::CARD_FILE).is_file() {
                match card::read_card(&path) {
                    Ok(c) => cards.push((path, c)),
                    Err(e) => log::warn!("skipping {}: {e}", path.display()),
                }
            }
        }
    }
    cards.sort_by(|a, b| a.0.cmp(&b.0));
    if *json {
        let list: Vec<_> = cards
            .iter()
            .map(|(p, c)| serde_json::json!({ "dir": p, "card": c }))
            .collect();
        outln!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    if cards.is_empty() {
        outln!(
            "no models in {} (train one with `rollcall train`)",
            dir.display()
        );
        return Ok(());
    }
    let rows: Vec<Vec<String>> = cards
        .iter()
        .map(|(p, c)| {
            vec![
                c.model_id.clone(),
                c.dataset.spec.clone(),
                c.training
                    .get("loss")
                    .and_then(|l| l.get("kind"))
                    .and_then(|k| k.as_str())
                    .unwrap_or("?")
                    .to_owned(),
                pct(c.metrics.accuracy_at_0_5),
                format!("{:.3}", c.threshold),
                format!("{:.4}", c.metrics.auc),
                p.display().to_string(),
            ]
        })
        .collect();
    table::print(
        &[
            "model",
            "data",
            "loss",
            "acc@0.5",
            "threshold",
            "AUC",
            "folder",
        ],
        &rows,
    );
    Ok(())
}

/// Peak resident memory of this process in MiB (Linux), for the figures.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    Some(line.split_whitespace().nth(1)?.parse::<f64>().ok()? / 1024.0)
}

/// The 1-minute load average (Linux).
fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn pct(x: f64) -> String {
    format!("{:.2} %", 100.0 * x)
}
