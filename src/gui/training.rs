//! The Training screen: pick the data (the bundled MNIST digits, an IDX folder, or a face
//! folder), a recipe and its settings, train a Siamese encoder on a background thread, watch
//! the loss and accuracy per epoch, then the ROC curve, the figures and a gallery of test pairs
//! like the tutorial's; a face model can take over attendance with one click.

use std::path::PathBuf;

use egui_plot::{Legend, Line, Plot, PlotPoints};

use super::command::Command;
use super::workers::training::{Finished, JobEvent, TrainingJob};
use super::{ScreenCtx, style};
use crate::train::DatasetSpec;
use crate::train::Progress;
use crate::train::faces::FaceOptions;
use crate::train::recipe::{RECIPES, Recipe};
use crate::workflow::train::{HeadBase, TrainPlan, set_margin};

/// Which data to train on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataChoice {
    /// The 10,000 MNIST digits built into rollcall.
    Mnist,
    /// A folder of MNIST-format IDX files.
    Idx,
    /// A folder of face photos, one sub-folder per person.
    Faces,
}

/// The form's values.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainingForm {
    /// The data.
    pub data: DataChoice,
    /// The folder for IDX or face data.
    pub folder: String,
    /// Train a face head on a bundled face encoder (face folders).
    pub face_head: bool,
    /// The bundled encoder the face head fine-tunes.
    pub head_base: HeadBase,
    /// The recipe.
    pub recipe: &'static Recipe,
    /// Passes over the data.
    pub epochs: usize,
    /// Items per step.
    pub batch_size: usize,
    /// Learning rate.
    pub learning_rate: f64,
    /// The loss margin.
    pub margin: f32,
    /// The random seed.
    pub seed: u64,
}

impl Default for TrainingForm {
    fn default() -> Self {
        Self {
            data: DataChoice::Mnist,
            folder: String::new(),
            face_head: true,
            head_base: HeadBase::MobileFaceNet,
            recipe: &RECIPES[0],
            epochs: 20,
            batch_size: 128,
            learning_rate: 1e-3,
            margin: 1.0,
            seed: 0,
        }
    }
}

impl TrainingForm {
    /// What the form asks to train, typed (no option strings in between).
    pub fn plan(&self) -> anyhow::Result<TrainPlan> {
        let folder = || -> anyhow::Result<PathBuf> {
            let f = self.folder.trim();
            anyhow::ensure!(!f.is_empty(), "Choose the folder of the data first");
            Ok(PathBuf::from(f))
        };
        let dataset = match self.data {
            DataChoice::Mnist => DatasetSpec::Mnist,
            DataChoice::Idx => DatasetSpec::Idx(folder()?),
            DataChoice::Faces => DatasetSpec::Faces(folder()?),
        };
        let mut config = self.recipe.config();
        config.epochs = self.epochs.max(1);
        config.batch_size = self.batch_size.max(2);
        config.optimizer.learning_rate = self.learning_rate;
        set_margin(&mut config, self.margin);
        config.seed = self.seed;
        config.eval_every = 1;
        Ok(TrainPlan {
            config,
            dataset,
            faces: FaceOptions {
                chip_size: 64,
                channels: 1,
                ..FaceOptions::default()
            },
            head_base: (self.data == DataChoice::Faces && self.face_head).then_some(self.head_base),
            embedding_cache: crate::workflow::train::default_embedding_cache(),
        })
    }

    /// The `rollcall train` command line that trains the same.
    #[must_use]
    pub fn command_line(&self) -> String {
        let dataset = match self.data {
            DataChoice::Mnist => "mnist".to_owned(),
            DataChoice::Idx => format!("idx:{}", self.folder.trim()),
            DataChoice::Faces => format!("faces:{}", self.folder.trim()),
        };
        let base = if self.data == DataChoice::Faces && self.face_head {
            format!(" --base {}", self.head_base.name())
        } else {
            String::new()
        };
        format!(
            "rollcall train --dataset {dataset} --recipe {} --epochs {} --batch-size {} --lr {} \
             --margin {} --seed {}{base}",
            self.recipe.name,
            self.epochs.max(1),
            self.batch_size.max(2),
            self.learning_rate,
            self.margin,
            self.seed
        )
    }
}

/// Where a run is.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunState {
    /// Loading the data.
    pub loading: bool,
    /// Epochs planned.
    pub epochs: usize,
    /// Current epoch and step.
    pub epoch: usize,
    /// Step within the epoch.
    pub step: usize,
    /// Steps per epoch.
    pub steps_per_epoch: usize,
    /// Last step's loss.
    pub loss: f32,
    /// Mean loss per finished epoch.
    pub epoch_loss: Vec<[f64; 2]>,
    /// Test accuracy per evaluated epoch.
    pub epoch_accuracy: Vec<[f64; 2]>,
    /// Items per second of the last epoch.
    pub speed: f64,
    /// What one item is ("pairs", ...).
    pub unit: String,
    /// The final evaluation is running.
    pub evaluating: bool,
    /// How the data was loaded, when there is something to say (a face head's embeddings).
    pub data_note: Option<String>,
}

/// The Training screen's state.
#[derive(Default)]
pub struct TrainingScreen {
    form: TrainingForm,
    job: Option<TrainingJob>,
    run: RunState,
    finished: Option<Box<Finished>>,
    error: Option<String>,
    gallery_textures: Vec<(Option<egui::TextureHandle>, Option<egui::TextureHandle>)>,
}

impl std::fmt::Debug for TrainingScreen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrainingScreen")
            .field("running", &self.job.is_some())
            .field("run", &self.run)
            .finish_non_exhaustive()
    }
}

impl TrainingScreen {
    /// Whether a run is going.
    #[must_use]
    pub fn is_running(&self) -> bool {
        self.job.is_some()
    }

    /// The progress of the current or last run.
    #[must_use]
    pub fn run_state(&self) -> &RunState {
        &self.run
    }

    /// The last finished run.
    #[must_use]
    pub fn finished(&self) -> Option<&Finished> {
        self.finished.as_deref()
    }

    /// Why the last run failed or stopped.
    #[must_use]
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// Takes the training thread's reports (called every frame, whatever screen shows).
    pub fn pump(&mut self) {
        let Some(job) = &self.job else { return };
        let mut done = false;
        for event in job.poll() {
            match event {
                JobEvent::Loaded(embedded) => {
                    self.run.loading = false;
                    self.run.data_note = embedded.map(|e| {
                        format!(
                            "{} photos through the base encoder, {} of them from the cache",
                            e.photos, e.cached
                        )
                    });
                }
                JobEvent::Progress(p) => self.apply(p),
                JobEvent::Finished(f) => {
                    self.finished = Some(f);
                    self.gallery_textures.clear();
                    done = true;
                }
                JobEvent::Failed(err) => {
                    self.error = Some(err);
                    done = true;
                }
            }
        }
        if done {
            self.job = None;
            self.run.evaluating = false;
        }
    }

    fn apply(&mut self, p: Progress) {
        let r = &mut self.run;
        match p {
            Progress::Started {
                epochs,
                steps_per_epoch,
                unit,
                ..
            } => {
                r.epochs = epochs;
                r.steps_per_epoch = steps_per_epoch;
                r.unit = unit;
            }
            Progress::Step {
                epoch,
                step,
                steps_per_epoch,
                loss,
            } => {
                (r.epoch, r.step, r.steps_per_epoch, r.loss) = (epoch, step, steps_per_epoch, loss);
            }
            Progress::Epoch(e) => {
                r.epoch = e.epoch;
                r.epoch_loss.push([e.epoch as f64, e.loss]);
                if let Some(acc) = e.test_best_accuracy.or(e.test_accuracy_at_0_5) {
                    r.epoch_accuracy.push([e.epoch as f64, acc]);
                }
                r.speed = e.items_per_second;
            }
            Progress::Evaluating => r.evaluating = true,
        }
    }

    /// Starts a run (from the Start button's command).
    pub fn start(&mut self, ctx: &egui::Context, models_dir: PathBuf) {
        if self.job.is_some() {
            return;
        }
        let c = ctx.clone();
        let started = self
            .form
            .plan()
            .and_then(|plan| TrainingJob::start(plan, models_dir, move || c.request_repaint()));
        match started {
            Ok(job) => {
                self.job = Some(job);
                self.run = RunState {
                    loading: true,
                    epochs: self.form.epochs,
                    ..RunState::default()
                };
                self.error = None;
                self.finished = None;
            }
            Err(err) => self.error = Some(format!("Could not start training: {err:#}")),
        }
    }

    /// Cancels the run (it stops at the next step).
    pub fn cancel(&mut self) {
        if let Some(job) = &self.job {
            job.cancel();
        }
    }

    /// Draws the screen.
    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &mut ScreenCtx<'_>) {
        egui::Panel::left("training-form")
            .resizable(true)
            .default_size(300.0)
            .show(ui, |ui| {
                egui::ScrollArea::vertical()
                    .id_salt("training-form")
                    .show(ui, |ui| self.form_ui(ui, cx));
            });
        egui::CentralPanel::default().show(ui, |ui| {
            egui::ScrollArea::vertical()
                .id_salt("training-results")
                .show(ui, |ui| self.results_ui(ui, cx));
        });
    }

    fn form_ui(&mut self, ui: &mut egui::Ui, cx: &mut ScreenCtx<'_>) {
        ui.heading("Train an encoder");
        let running = self.job.is_some();
        ui.add_enabled_ui(!running, |ui| {
            let f = &mut self.form;
            data_ui(f, ui);
            ui.add_space(style::SECTION_GAP);
            let l = ui.strong("Recipe");
            egui::ComboBox::from_id_salt("training-recipe")
                .selected_text(f.recipe.name)
                .show_ui(ui, |ui| {
                    for r in RECIPES {
                        ui.selectable_value(&mut f.recipe, r, r.name)
                            .on_hover_text(r.description);
                    }
                })
                .response
                .labelled_by(l.id);
            ui.weak(f.recipe.description);
            egui::Grid::new("training-settings")
                .num_columns(2)
                .show(ui, |ui| {
                    let l = ui.label("Epochs");
                    ui.add(egui::DragValue::new(&mut f.epochs).range(1..=500))
                        .labelled_by(l.id);
                    ui.end_row();
                    let l = ui.label("Batch size");
                    ui.add(egui::DragValue::new(&mut f.batch_size).range(2..=4096))
                        .labelled_by(l.id);
                    ui.end_row();
                    let l = ui.label("Learning rate");
                    ui.add(
                        egui::DragValue::new(&mut f.learning_rate)
                            .range(1e-6..=1.0)
                            .speed(1e-4),
                    )
                    .labelled_by(l.id);
                    ui.end_row();
                    let l = ui.label("Loss margin");
                    ui.add(
                        egui::DragValue::new(&mut f.margin)
                            .range(0.0..=10.0)
                            .speed(0.01),
                    )
                    .labelled_by(l.id);
                    ui.end_row();
                    let l = ui.label("Seed");
                    ui.add(egui::DragValue::new(&mut f.seed)).labelled_by(l.id);
                    ui.end_row();
                });
        });
        ui.add_space(style::SECTION_GAP);
        if running {
            if ui.button("Cancel training").clicked() {
                cx.commands.push(Command::CancelTraining);
            }
        } else {
            let ready = self.form.data == DataChoice::Mnist || !self.form.folder.trim().is_empty();
            if ui
                .add_enabled(ready, egui::Button::new("Start training"))
                .clicked()
            {
                cx.commands.push(Command::StartTraining);
            }
        }
        ui.weak("The same run from the command line:");
        ui.monospace(self.form.command_line());
    }

    fn results_ui(&mut self, ui: &mut egui::Ui, cx: &mut ScreenCtx<'_>) {
        if let Some(err) = &self.error {
            ui.colored_label(style::ERROR, err);
        }
        let r = &self.run;
        if self.job.is_some() {
            ui.horizontal(|ui| {
                ui.spinner();
                if r.loading {
                    ui.label("Loading the data…");
                } else if r.evaluating {
                    ui.label("Evaluating on the test pairs…");
                } else {
                    ui.label(format!(
                        "Epoch {} of {} · step {} of {} · loss {:.4}{}",
                        r.epoch.max(1),
                        r.epochs,
                        r.step,
                        r.steps_per_epoch,
                        r.loss,
                        if r.speed > 0.0 {
                            format!(" · {:.0} {}/s", r.speed, r.unit)
                        } else {
                            String::new()
                        }
                    ));
                }
            });
            let total = (r.epochs * r.steps_per_epoch).max(1);
            let done = r.epoch.saturating_sub(1) * r.steps_per_epoch + r.step;
            ui.add(egui::ProgressBar::new(done as f32 / total as f32).show_percentage());
        } else if self.finished.is_none() && r.epoch_loss.is_empty() {
            ui.heading("No training yet");
            ui.label("Pick the data and a recipe on the left and press \"Start training\". The seed recipe trains the tutorial's network on the MNIST digits in a minute or two.");
            return;
        }
        if let Some(note) = &r.data_note {
            ui.weak(note);
        }
        ui.columns(2, |cols| {
            plot_ui(&mut cols[0], "Loss per epoch", "loss", &r.epoch_loss, None);
            plot_ui(
                &mut cols[1],
                "Test accuracy per epoch",
                "accuracy",
                &r.epoch_accuracy,
                Some((0.0, 1.0)),
            );
        });
        if let Some(f) = self.finished.as_deref() {
            finished_ui(ui, f, &mut self.gallery_textures, cx);
        }
    }
}

fn plot_ui(
    ui: &mut egui::Ui,
    title: &str,
    name: &str,
    points: &[[f64; 2]],
    y_range: Option<(f64, f64)>,
) {
    ui.strong(title);
    let mut plot = Plot::new(title)
        .height(180.0)
        .legend(Legend::default())
        .x_axis_label("epoch");
    if let Some((lo, hi)) = y_range {
        plot = plot.include_y(lo).include_y(hi);
    }
    plot.show(ui, |p| {
        p.line(Line::new(name, PlotPoints::from(points.to_vec())));
    });
}

fn finished_ui(
    ui: &mut egui::Ui,
    f: &Finished,
    textures: &mut Vec<(Option<egui::TextureHandle>, Option<egui::TextureHandle>)>,
    cx: &mut ScreenCtx<'_>,
) {
    let test = &f.history.test;
    let v = &test.verification;
    ui.add_space(style::SECTION_GAP);
    ui.heading(format!("Model {}", f.model_id));
    ui.label(format!("Saved in {}", f.dir.display()));
    ui.columns(2, |cols| {
        let ui = &mut cols[0];
        ui.strong(format!("ROC curve on the test pairs (AUC {:.4}, EER {:.2}%)", v.auc, 100.0 * v.eer));
        let roc: Vec<[f64; 2]> = v.roc.iter().map(|p| [p.far, p.tar]).collect();
        Plot::new("roc").height(220.0).data_aspect(1.0).include_x(0.0).include_x(1.0).include_y(0.0).include_y(1.0)
            .x_axis_label("false-accept rate").y_axis_label("true-accept rate")
            .show(ui, |p| p.line(Line::new("ROC", PlotPoints::from(roc))));
        let ui = &mut cols[1];
        ui.strong("Figures on the test pairs");
        egui::Grid::new("figures").striped(true).show(ui, |ui| {
            let mut row = |k: &str, v: String| {
                ui.label(k);
                ui.label(v);
                ui.end_row();
            };
            row("Pairs", test.pairs.to_string());
            row("Accuracy, distance < 0.5 (the tutorial's rule)", format!("{:.2}%", 100.0 * test.accuracy_at_0_5));
            row(&format!("Accuracy at the recommended threshold {:.3}", f.threshold), format!("{:.2}%", 100.0 * test.accuracy_at_threshold));
            row("Best accuracy (any threshold)", format!("{:.2}% at {:.3}", 100.0 * v.best_accuracy, v.best_threshold));
            row("True accepts at 1% false accepts", format!("{:.2}%", 100.0 * v.tar_at_far_1.0));
            if let Some(rt) = &test.retrieval {
                row("Precision@1", format!("{:.2}%", 100.0 * rt.precision_at_1));
                row("MAP@R", format!("{:.2}%", 100.0 * rt.map_at_r));
            }
        });
        if f.is_face_model {
            if ui.button("Use for attendance").on_hover_text("Register this model, make attendance use it, and re-embed every enrollment photo").clicked() {
                cx.commands.push(Command::UseEncoder(f.dir.display().to_string()));
            }
        } else {
            ui.weak("This model was trained on digits or clothes: it cannot take attendance.");
        }
    });
    if f.gallery.iter().all(|p| p.a.is_none()) {
        return;
    }
    ui.add_space(style::SECTION_GAP);
    ui.strong(format!(
        "Test pairs: distance, green when right at the threshold {:.3}",
        f.threshold
    ));
    let ctx = ui.ctx().clone();
    if textures.len() != f.gallery.len() {
        *textures = f
            .gallery
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let tex = |img: &Option<image::RgbImage>, side: &str| {
                    img.as_ref().map(|im| {
                        let c = egui::ColorImage::from_rgb(
                            [im.width() as usize, im.height() as usize],
                            im.as_raw(),
                        );
                        ctx.load_texture(
                            format!("pair-{i}-{side}"),
                            c,
                            egui::TextureOptions::NEAREST,
                        )
                    })
                };
                (tex(&p.a, "a"), tex(&p.b, "b"))
            })
            .collect();
    }
    ui.horizontal_wrapped(|ui| {
        for (p, (ta, tb)) in f.gallery.iter().zip(textures.iter()) {
            ui.vertical(|ui| {
                for t in [ta, tb].into_iter().flatten() {
                    ui.add(egui::Image::new(t).fit_to_exact_size(egui::vec2(56.0, 56.0)));
                }
                let right = (p.distance < f.threshold) == p.same;
                ui.colored_label(
                    if right { style::OK } else { style::ERROR },
                    format!("{:.2}", p.distance),
                );
            });
        }
    });
}

/// How the form names a face head's base encoder.
fn head_base_label(base: HeadBase) -> &'static str {
    match base {
        HeadBase::MobileFaceNet => "MobileFaceNet (the default)",
        HeadBase::Dlib => "dlib ResNet",
    }
}

/// The form's data section: which data, its folder, and for face folders the face head.
fn data_ui(f: &mut TrainingForm, ui: &mut egui::Ui) {
    ui.strong("Data");
    ui.radio_value(&mut f.data, DataChoice::Mnist, "MNIST digits (built in)");
    ui.radio_value(
        &mut f.data,
        DataChoice::Idx,
        "An IDX folder (MNIST, Fashion-MNIST)",
    );
    ui.radio_value(
        &mut f.data,
        DataChoice::Faces,
        "A face folder (one sub-folder per person)",
    );
    if f.data != DataChoice::Mnist {
        let l = ui.label("Data folder");
        ui.text_edit_singleline(&mut f.folder).labelled_by(l.id);
    }
    if f.data == DataChoice::Faces {
        ui.checkbox(
            &mut f.face_head,
            "Fine-tune a bundled face encoder (a face head)",
        );
        if f.face_head {
            ui.horizontal(|ui| {
                let l = ui.label("Encoder");
                egui::ComboBox::from_id_salt("training-head-base")
                    .selected_text(head_base_label(f.head_base))
                    .show_ui(ui, |ui| {
                        for b in HeadBase::ALL {
                            ui.selectable_value(&mut f.head_base, b, head_base_label(b));
                        }
                    })
                    .response
                    .labelled_by(l.id);
            });
        }
    }
}
