//! A training run on its own named thread: the same library function as `rollcall train`,
//! with progress over a bounded channel, cancel at any time, and at the end the saved model
//! with a sample of test pairs for the pair gallery.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, sync_channel};

use image::RgbImage;

use crate::train::{History, Progress};
use crate::workflow::train::{TrainPlan, load_plan};

/// A test pair with the images (when the data are images) and the trained distance.
#[derive(Clone, Debug)]
pub struct GalleryPair {
    /// First item, as a picture.
    pub a: Option<RgbImage>,
    /// Second item, as a picture.
    pub b: Option<RgbImage>,
    /// Distance between their embeddings.
    pub distance: f32,
    /// Ground truth.
    pub same: bool,
}

/// What a finished run produced.
#[derive(Clone, Debug)]
pub struct Finished {
    /// Where the model was saved.
    pub dir: PathBuf,
    /// Its id.
    pub model_id: String,
    /// Whether it embeds faces (and can take over attendance).
    pub is_face_model: bool,
    /// The recommended threshold.
    pub threshold: f32,
    /// Epochs and final figures.
    pub history: History,
    /// Test pairs for the gallery.
    pub gallery: Vec<GalleryPair>,
}

/// Messages from the training thread.
#[derive(Clone, Debug)]
pub enum JobEvent {
    /// The data is loaded and training starts; for a face head, how its photos were embedded.
    Loaded(Option<crate::train::faces::EmbedStats>),
    /// Training progress.
    Progress(Progress),
    /// Done.
    Finished(Box<Finished>),
    /// Failed or cancelled.
    Failed(String),
}

/// A running training.
pub struct TrainingJob {
    events: Receiver<JobEvent>,
    cancel: Arc<AtomicBool>,
}

impl std::fmt::Debug for TrainingJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrainingJob").finish_non_exhaustive()
    }
}

/// Pairs shown in the gallery.
const GALLERY_PAIRS: usize = 12;

impl TrainingJob {
    /// Starts training `plan`, saving into `models_dir/<model id>`.
    pub fn start(
        plan: TrainPlan,
        models_dir: PathBuf,
        wake: impl Fn() + Send + Sync + 'static,
    ) -> anyhow::Result<Self> {
        let (tx, rx) = sync_channel::<JobEvent>(256);
        let cancel = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&cancel);
        let wake = Arc::new(wake);
        std::thread::Builder::new()
            .name("training".into())
            .spawn(move || {
                let send = |e: JobEvent| {
                    // Steps may be dropped when the window is behind; the end never is (blocking).
                    let _ = tx.send(e);
                    wake();
                };
                match run(&plan, &models_dir, &flag, &send) {
                    Ok(f) => send(JobEvent::Finished(Box::new(f))),
                    Err(err) => send(JobEvent::Failed(format!("{err:#}"))),
                }
            })?;
        Ok(Self { events: rx, cancel })
    }

    /// Asks the run to stop at the next step.
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::SeqCst);
    }

    /// Events since the last call.
    #[must_use]
    pub fn poll(&self) -> Vec<JobEvent> {
        self.events.try_iter().collect()
    }
}

fn run(
    plan: &TrainPlan,
    models_dir: &std::path::Path,
    cancel: &AtomicBool,
    send: &dyn Fn(JobEvent),
) -> anyhow::Result<Finished> {
    let crate::workflow::train::LoadedPlan {
        config,
        dataset,
        embedded,
    } = load_plan(plan)?;
    send(JobEvent::Loaded(embedded));
    let (ptx, prx) = sync_channel::<Progress>(64);
    let model = std::thread::scope(|s| -> anyhow::Result<_> {
        // The sender moves into the worker, so the progress loop ends when training does.
        let (config, dataset) = (&config, &dataset);
        let worker = std::thread::Builder::new()
            .name("training-steps".into())
            .spawn_scoped(s, move || {
                crate::train::train(config, dataset, Some(&ptx), cancel)
            })?;
        for p in &prx {
            send(JobEvent::Progress(p));
        }
        worker
            .join()
            .map_err(|_| anyhow::anyhow!("the training thread panicked"))?
            .map_err(anyhow::Error::from)
    })?;
    let dir = models_dir.join(&model.card.model_id);
    model.save(&dir)?;
    let (_, test_pairs) = crate::train::eval::evaluation_pairs(&dataset);
    let embeddings = crate::train::eval::embed_split(&model.encoder, &dataset.test)?;
    let shape = &dataset.test.item_shape;
    let picture = |i: usize| -> Option<RgbImage> {
        let [h, w, c] = shape[..] else { return None };
        let values = dataset.test.item(i);
        Some(RgbImage::from_fn(w as u32, h as u32, |x, y| {
            let at = (y as usize * w + x as usize) * c;
            let v = |k: usize| {
                (values
                    .get(at + k.min(c - 1))
                    .copied()
                    .unwrap_or(0.0)
                    .clamp(0.0, 1.0)
                    * 255.0) as u8
            };
            image::Rgb([v(0), v(1), v(2)])
        }))
    };
    // Alternate same and different pairs, as the tutorial's figure does.
    let (same, diff): (
        Vec<&crate::train::pairs::Pair>,
        Vec<&crate::train::pairs::Pair>,
    ) = test_pairs.iter().partition(|p| p.same);
    let gallery = same
        .iter()
        .zip(diff.iter())
        .flat_map(|(s, d)| [*s, *d])
        .take(GALLERY_PAIRS)
        .map(|p| GalleryPair {
            a: picture(p.a),
            b: picture(p.b),
            distance: crate::core::Metric::Euclidean.distance(&embeddings[p.a], &embeddings[p.b]),
            same: p.same,
        })
        .collect();
    Ok(Finished {
        model_id: model.card.model_id.clone(),
        is_face_model: model.card.dataset.kind == crate::vision::encoders::card::DataKind::Faces,
        threshold: model.card.threshold,
        history: model.history.clone(),
        dir,
        gallery,
    })
}
