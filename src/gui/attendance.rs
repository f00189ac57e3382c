//! The Attendance screen: pick a class and a camera, start taking attendance, watch the live
//! picture with each face boxed and labelled by what the engine decided, see the roll fill in,
//! correct it by hand, and settle the faces the engine was unsure about.

use std::collections::HashMap;
use std::path::PathBuf;

use super::command::Command;
pub use super::source_choice::SourceChoice;
use super::widgets::notices::{Level, Notices};
use super::workers::recognition::{LiveWorker, WorkerEvent};
use super::{ScreenCtx, clock_time, local_time, style};
use crate::camera::{CameraDevice, CameraThread, SourceSpec};
use crate::core::decision::DecisionRule;
use crate::core::rollcall::FaceOutcome;
use crate::core::{ClassId, ReviewId, SessionId, Status};
use crate::store::export::RollEntry;
use crate::store::{ClassRow, ReviewRow, SessionRow, Store};
use crate::workflow::live::LiveUpdate;

/// What the screen shows from the store.
#[derive(Clone, Debug, Default)]
pub struct AttendanceView {
    /// Every class.
    pub classes: Vec<ClassRow>,
    /// The selected class.
    pub class: Option<ClassRow>,
    /// Its open session.
    pub session: Option<SessionRow>,
    /// The roll of that session.
    pub roll: Vec<RollEntry>,
    /// Faces waiting for the teacher's decision.
    pub reviews: Vec<ReviewRow>,
}

impl AttendanceView {
    /// Loads the view for `class` (falling back to the first class).
    pub fn load(store: &Store, class: Option<ClassId>) -> crate::store::Result<Self> {
        let classes = store.list_classes()?;
        let class = class
            .and_then(|id| classes.iter().find(|c| c.id == id))
            .or_else(|| classes.first())
            .cloned();
        let session = match &class {
            Some(c) => store.open_session(c.id)?,
            None => None,
        };
        let (roll, reviews) = match &session {
            Some(s) => (
                store.session_roll(s.id)?,
                store.pending_reviews(Some(s.id))?,
            ),
            None => (Vec::new(), Vec::new()),
        };
        Ok(Self {
            classes,
            class,
            session,
            roll,
            reviews,
        })
    }
}

/// A running camera and recognition thread.
struct Live {
    camera: CameraThread,
    worker: LiveWorker,
    session: Option<SessionId>,
    rule: Option<DecisionRule>,
    gallery: (usize, usize),
    /// On a school server: online or not, changes waiting, and the last word about it.
    connection: Option<(bool, usize, String)>,
    last: Option<(LiveUpdate, (u32, u32))>,
    /// When the last frames were shown, for the displayed frame rate.
    shown: std::collections::VecDeque<std::time::Instant>,
}

impl Live {
    /// Frames shown per second over the last two seconds.
    fn shown_fps(&self) -> f64 {
        let (Some(first), Some(last)) = (self.shown.front(), self.shown.back()) else {
            return 0.0;
        };
        let span = last.duration_since(*first).as_secs_f64();
        if span > 0.0 {
            (self.shown.len() - 1) as f64 / span
        } else {
            0.0
        }
    }
}

/// The Attendance screen's state.
#[derive(Default)]
pub struct AttendanceScreen {
    class: Option<ClassId>,
    view: AttendanceView,
    loaded_version: Option<u64>,
    source: Option<SourceChoice>,
    replay_path: String,
    cameras: Option<Vec<CameraDevice>>,
    live: Option<Live>,
    frame: Option<egui::TextureHandle>,
    review_crops: HashMap<ReviewId, Option<egui::TextureHandle>>,
    side: Side,
    current_review: usize,
}

/// What the right-hand side of the screen shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Side {
    /// The session's roll.
    #[default]
    Roll,
    /// The faces waiting for review.
    Review,
}

impl std::fmt::Debug for AttendanceScreen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttendanceScreen")
            .field("live", &self.live.is_some())
            .finish_non_exhaustive()
    }
}

impl AttendanceScreen {
    /// The data on screen.
    #[must_use]
    pub fn view(&self) -> &AttendanceView {
        &self.view
    }

    /// Whether the camera and recognition are running.
    #[must_use]
    pub fn is_live(&self) -> bool {
        self.live.is_some()
    }

    /// Preselects the source named on the command line.
    pub fn choose_source(&mut self, spec: &SourceSpec) {
        self.source = match spec {
            SourceSpec::Demo => Some(SourceChoice::Demo),
            SourceSpec::Replay { path, .. } => {
                self.replay_path = path.display().to_string();
                Some(SourceChoice::Replay(path.clone()))
            }
            SourceSpec::Camera(selector) => crate::camera::list_cameras().ok().and_then(|scan| {
                selector
                    .select(&scan)
                    .ok()
                    .map(|c| SourceChoice::Camera(c.index))
            }),
        };
    }

    /// The source picked so far (by the teacher or on the command line).
    #[must_use]
    pub fn chosen_source(&self) -> Option<SourceChoice> {
        self.source.clone()
    }

    /// The cameras found when the screen first needed them.
    #[must_use]
    pub fn cameras(&self) -> &[CameraDevice] {
        self.cameras.as_deref().unwrap_or_default()
    }

    /// Starts the camera and the recognition thread for `class` on the database file `db`.
    pub fn start_live(
        &mut self,
        ctx: &egui::Context,
        db: Option<&crate::store::Location>,
        class: ClassId,
        source: &SourceChoice,
    ) -> anyhow::Result<()> {
        self.stop_live();
        let Some(db) = db else {
            anyhow::bail!("live attendance needs the database to be a file");
        };
        let c = ctx.clone();
        let camera =
            CameraThread::spawn(source.spec().open()?, Box::new(move || c.request_repaint()))?;
        let c = ctx.clone();
        let worker = LiveWorker::start(db.clone(), class, None, move || c.request_repaint())?;
        self.class = Some(class);
        self.live = Some(Live {
            camera,
            worker,
            session: None,
            rule: None,
            gallery: (0, 0),
            connection: None,
            last: None,
            shown: std::collections::VecDeque::new(),
        });
        Ok(())
    }

    /// Stops the camera and the recognition thread (the session stays open).
    pub fn stop_live(&mut self) {
        if let Some(mut live) = self.live.take() {
            live.worker.stop();
            live.camera.stop();
        }
    }

    /// Moves frames from the camera to the picture and to the recognition thread, and takes the
    /// thread's reports. Returns whether stored data changed (new marks or reviews). Called every
    /// frame whatever screen is showing, so attendance goes on while the teacher looks elsewhere.
    pub fn pump(&mut self, ctx: &egui::Context, notices: &mut Notices) -> bool {
        let Some(live) = self.live.as_mut() else {
            return false;
        };
        let mut changed = false;
        if let Some(frame) = live.camera.try_take() {
            let now = std::time::Instant::now();
            live.shown.push_back(now);
            while live
                .shown
                .front()
                .is_some_and(|t| now.duration_since(*t).as_secs_f64() > 2.0)
            {
                live.shown.pop_front();
            }
            let image = egui::ColorImage::from_rgb(
                [frame.image.width() as usize, frame.image.height() as usize],
                frame.image.as_raw(),
            );
            match &mut self.frame {
                Some(t) => t.set(image, egui::TextureOptions::LINEAR),
                None => {
                    self.frame =
                        Some(ctx.load_texture("live-frame", image, egui::TextureOptions::LINEAR));
                }
            }
            live.worker.offer(frame);
        }
        let mut failed = None;
        for event in live.worker.poll() {
            match event {
                WorkerEvent::Ready {
                    session,
                    gallery,
                    missing,
                    rule,
                } => {
                    live.session = Some(session);
                    live.rule = Some(rule);
                    live.gallery = (gallery, missing);
                    changed = true;
                }
                WorkerEvent::Update { update, frame_size } => {
                    for m in &update.marked {
                        notices.push(
                            Level::Info,
                            format!(
                                "{} marked {} (distance {:.2})",
                                m.name, m.status, m.distance
                            ),
                        );
                    }
                    changed |= !update.marked.is_empty() || update.reviews > 0;
                    live.last = Some((update, frame_size));
                }
                WorkerEvent::Connection {
                    online,
                    waiting,
                    note,
                } => {
                    notices.push(
                        if online { Level::Info } else { Level::Warning },
                        note.clone(),
                    );
                    live.connection = Some((online, waiting, note));
                    changed = true;
                }
                WorkerEvent::Failed(err) => failed = Some(err),
            }
        }
        if let Some(err) = failed {
            notices.push(Level::Error, format!("Attendance stopped: {err}"));
            self.stop_live();
            changed = true;
        }
        changed
    }

    /// Draws the screen.
    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &mut ScreenCtx<'_>) {
        if self.loaded_version != Some(cx.data_version) {
            match AttendanceView::load(cx.store, self.class) {
                Ok(v) => self.view = v,
                Err(err) => cx.error(format!("Could not read the attendance: {err}")),
            }
            self.review_crops
                .retain(|id, _| self.view.reviews.iter().any(|r| r.id == *id));
            self.loaded_version = Some(cx.data_version);
        }
        let Some(class) = self.view.class.clone() else {
            ui.heading("Attendance");
            ui.label("No classes yet: add a class and its students on the Roster screen first.");
            return;
        };
        self.controls_ui(ui, cx, &class);
        ui.add_space(style::SECTION_GAP);
        ui.columns(2, |cols| {
            self.picture_ui(&mut cols[0]);
            self.side_ui(&mut cols[1], cx);
        });
    }

    #[allow(clippy::too_many_lines)] // the controls drawn left to right, as the teacher sees them
    fn controls_ui(&mut self, ui: &mut egui::Ui, cx: &mut ScreenCtx<'_>, class: &ClassRow) {
        ui.horizontal_wrapped(|ui| {
            ui.heading("Attendance");
            let l = ui.label("Class");
            egui::ComboBox::from_id_salt("attendance-class")
                .selected_text(class.name.clone())
                .show_ui(ui, |ui| {
                    for c in &self.view.classes {
                        if ui.selectable_label(c.id == class.id, &c.name).clicked()
                            && c.id != class.id
                        {
                            self.class = Some(c.id);
                            self.loaded_version = None;
                        }
                    }
                })
                .response
                .labelled_by(l.id);
            let cameras = self.cameras.get_or_insert_with(|| {
                crate::camera::list_cameras()
                    .map(|s| s.cameras.into_iter().filter(CameraDevice::usable).collect())
                    .unwrap_or_default()
            });
            let source = self.source.get_or_insert_with(|| {
                cameras
                    .first()
                    .map_or(SourceChoice::Demo, |c| SourceChoice::Camera(c.index))
            });
            let label = match source {
                SourceChoice::Demo => "Demo camera".to_owned(),
                SourceChoice::Camera(i) => cameras
                    .iter()
                    .find(|c| c.index == *i)
                    .map_or_else(|| format!("camera {i}"), CameraDevice::label),
                SourceChoice::Replay(_) => "Replay a folder".to_owned(),
            };
            let l_camera = ui.label("Camera");
            egui::ComboBox::from_id_salt("attendance-camera")
                .selected_text(label)
                .show_ui(ui, |ui| {
                    for c in cameras.iter() {
                        ui.selectable_value(source, SourceChoice::Camera(c.index), c.label());
                    }
                    ui.selectable_value(source, SourceChoice::Demo, "Demo camera");
                    ui.selectable_value(
                        source,
                        SourceChoice::Replay(PathBuf::from(self.replay_path.trim())),
                        "Replay a folder",
                    );
                })
                .response
                .labelled_by(l_camera.id);
            if cameras.is_empty() {
                ui.weak("(no camera found: the demo camera plays sample photos)");
            }
            if let SourceChoice::Replay(path) = source {
                let l = ui.label("Replay folder");
                if ui
                    .add(egui::TextEdit::singleline(&mut self.replay_path).desired_width(200.0))
                    .labelled_by(l.id)
                    .changed()
                {
                    *path = PathBuf::from(self.replay_path.trim());
                }
            }
        });
        ui.horizontal_wrapped(|ui| {
            if self.live.is_some() {
                if ui.button("Pause camera").clicked() {
                    cx.commands.push(Command::StopLive);
                }
            } else if ui.button("Start taking attendance").clicked() {
                let source = self.source.clone().unwrap_or(SourceChoice::Demo);
                cx.commands.push(Command::StartLive { class: class.id, source });
            }
            if let Some(s) = &self.view.session {
                ui.label(format!("Session #{} started {}", s.id, local_time(s.started_ms)));
                if ui.button("End session").clicked() {
                    cx.commands.push(Command::StopLive);
                    cx.commands.push(Command::StopSession(s.id));
                }
            } else {
                ui.weak("No session open: starting attendance opens one.");
            }
            if let Some(live) = &self.live {
                let stats = live.camera.stats();
                let ms = live.last.as_ref().map_or(0.0, |(u, _)| u.analyze_ms);
                ui.weak(format!(
                    "{} · shown {:.1} fps · recognition {ms:.0} ms/frame · {} frames skipped",
                    stats.summary(),
                    live.shown_fps(),
                    live.worker.skipped
                ));
                if let Some(err) = &stats.last_error {
                    ui.colored_label(style::WARNING, err);
                }
                match &live.connection {
                    Some((true, 0, _)) => {
                        ui.weak("School server: online");
                    }
                    Some((true, waiting, _)) => {
                        ui.weak(format!("School server: online · {waiting} changes waiting"));
                    }
                    Some((false, waiting, _)) => {
                        ui.colored_label(
                            style::WARNING,
                            format!(
                                "Offline: the school server cannot be reached · {waiting} changes waiting on this machine"
                            ),
                        );
                    }
                    None => {}
                }
                if let Some(rule) = live.rule {
                    ui.weak(format!(
                        "{} enrolled, {} without a face · threshold {:.2}, margin {:.2}, {} of {} frames",
                        live.gallery.0, live.gallery.1, rule.max_distance, rule.min_margin, rule.frames_to_confirm, rule.window_frames
                    ));
                } else {
                    ui.spinner();
                    ui.weak("loading the face models…");
                }
            }
        });
    }

    fn picture_ui(&mut self, ui: &mut egui::Ui) {
        let Some(texture) = &self.frame else {
            ui.weak(if self.live.is_some() {
                "Waiting for the first frame…"
            } else {
                "The camera picture appears here once attendance starts."
            });
            return;
        };
        let size = texture.size_vec2();
        let scale = (ui.available_width() / size.x).min(1.5);
        let response = ui.add(egui::Image::new(texture).fit_to_exact_size(size * scale));
        let Some((update, frame_size)) = self.live.as_ref().and_then(|l| l.last.as_ref()) else {
            return;
        };
        let rect = response.rect;
        let sx = rect.width() / frame_size.0.max(1) as f32;
        let sy = rect.height() / frame_size.1.max(1) as f32;
        let painter = ui.painter_at(rect);
        for face in &update.faces {
            let b = face.bbox;
            let r = egui::Rect::from_min_size(
                egui::pos2(rect.left() + b.x * sx, rect.top() + b.y * sy),
                egui::vec2(b.width * sx, b.height * sy),
            );
            let color = outcome_color(&face.outcome);
            painter.rect_stroke(
                r,
                2.0,
                egui::Stroke::new(2.0, color),
                egui::StrokeKind::Outside,
            );
            painter.text(
                r.left_top() - egui::vec2(0.0, 2.0),
                egui::Align2::LEFT_BOTTOM,
                &face.label,
                egui::FontId::proportional(14.0),
                color,
            );
        }
    }

    /// Shows the roll or the review queue on the right.
    pub fn show_side(&mut self, side: Side) {
        self.side = side;
    }

    fn side_ui(&mut self, ui: &mut egui::Ui, cx: &mut ScreenCtx<'_>) {
        let Some(session) = self.view.session.clone() else {
            ui.weak("The roll appears here once a session is open.");
            return;
        };
        let present = self
            .view
            .roll
            .iter()
            .filter(|e| e.status().is_attending())
            .count();
        ui.horizontal(|ui| {
            ui.selectable_value(
                &mut self.side,
                Side::Roll,
                format!("Roll: {present} of {} here", self.view.roll.len()),
            );
            let waiting = self.view.reviews.len();
            let text = egui::RichText::new(format!("Faces to review ({waiting})"));
            ui.selectable_value(
                &mut self.side,
                Side::Review,
                if waiting > 0 {
                    text.color(style::UNCERTAIN)
                } else {
                    text
                },
            );
        });
        ui.separator();
        match self.side {
            Side::Roll => self.roll_ui(ui, cx, session.id),
            Side::Review => self.reviews_ui(ui, cx),
        }
    }

    fn roll_ui(&mut self, ui: &mut egui::Ui, cx: &mut ScreenCtx<'_>, session: SessionId) {
        let roll = &self.view.roll;
        egui_extras::TableBuilder::new(ui)
            .id_salt("attendance-roll")
            .striped(true)
            .cell_layout(egui::Layout::left_to_right(egui::Align::Center))
            .min_scrolled_height(style::MIN_TABLE_HEIGHT)
            .auto_shrink([false, false])
            // The buttons keep their room; a long name is clipped before they are.
            .column(egui_extras::Column::remainder().at_least(100.0).clip(true))
            .column(egui_extras::Column::auto().at_least(56.0))
            .column(egui_extras::Column::auto().at_least(44.0))
            .column(egui_extras::Column::auto())
            .header(style::TEXT_ROW_HEIGHT, |mut h| {
                for title in ["Name", "Status", "Time", "Change"] {
                    h.col(|ui| {
                        ui.strong(title);
                    });
                }
            })
            .body(|body| {
                body.rows(style::TEXT_ROW_HEIGHT + 4.0, roll.len(), |mut row| {
                    let e = &roll[row.index()];
                    let status = e.status();
                    row.col(|ui| {
                        ui.label(&e.name);
                    });
                    row.col(|ui| {
                        ui.colored_label(style::status_color(status), status.as_str());
                    });
                    row.col(|ui| {
                        ui.label(
                            e.mark
                                .as_ref()
                                .map(|m| clock_time(m.frame_ms.unwrap_or(m.marked_ms)))
                                .unwrap_or_default(),
                        );
                    });
                    row.col(|ui| {
                        for (s, text) in [
                            (Status::Present, "Present"),
                            (Status::Absent, "Absent"),
                            (Status::Excused, "Excused"),
                        ] {
                            if status != s
                                && ui
                                    .small_button(text)
                                    .on_hover_text(format!("Mark {} {}", e.name, s))
                                    .clicked()
                            {
                                cx.commands.push(Command::SetMark {
                                    session,
                                    student: e.student,
                                    status: s,
                                });
                            }
                        }
                    });
                });
            });
    }

    /// The faces the engine was unsure about, one card each with a large crop, scrolled
    /// virtually; the selected card takes the keyboard shortcuts.
    fn reviews_ui(&mut self, ui: &mut egui::Ui, cx: &mut ScreenCtx<'_>) {
        if self.view.reviews.is_empty() {
            ui.weak("No faces waiting for review.");
            return;
        }
        self.current_review = self.current_review.min(self.view.reviews.len() - 1);
        let moved = self.review_keys_ui(ui, cx);
        let reviews = &self.view.reviews;
        ui.weak(format!(
            "Keys: {} it is the first name · {} the second · {} nobody enrolled · {} next and previous",
            REVIEW_KEYS.accept, REVIEW_KEYS.runner_up, REVIEW_KEYS.reject, REVIEW_KEYS.move_by
        ));
        // The crop beside four lines: who, how close, why, and the buttons.
        let row_height = style::REVIEW_CROP_PX + 24.0;
        let spacing = ui.spacing().item_spacing.y;
        let mut area = egui::ScrollArea::vertical()
            .id_salt("reviews")
            .auto_shrink([false, false]);
        if moved {
            // Keep the selected card in view, a card from the top.
            let top = (self.current_review.saturating_sub(1)) as f32 * (row_height + spacing);
            area = area.vertical_scroll_offset(top);
        }
        let ctx = ui.ctx().clone();
        let mut picked = None;
        area.show_rows(ui, row_height, reviews.len(), |ui, range| {
            for i in range {
                let r = &reviews[i];
                let crop = self.review_crops.entry(r.id).or_insert_with(|| {
                    let png = cx.store.review_crop(r.id).ok().flatten()?;
                    let img = crate::vision::image_io::decode_rgb(&png).ok()?;
                    let color = egui::ColorImage::from_rgb(
                        [img.width() as usize, img.height() as usize],
                        img.as_raw(),
                    );
                    Some(ctx.load_texture(
                        format!("review-{}", r.id),
                        color,
                        egui::TextureOptions::LINEAR,
                    ))
                });
                let (rect, response) = ui.allocate_exact_size(
                    egui::vec2(ui.available_width(), row_height),
                    egui::Sense::click(),
                );
                if response.clicked() {
                    picked = Some(i);
                }
                if i == self.current_review {
                    ui.painter().rect_stroke(
                        rect,
                        4.0,
                        egui::Stroke::new(2.0, style::UNCERTAIN),
                        egui::StrokeKind::Inside,
                    );
                }
                ui.scope_builder(
                    egui::UiBuilder::new()
                        .max_rect(rect.shrink(4.0))
                        .layout(egui::Layout::left_to_right(egui::Align::Center)),
                    |ui| review_card_ui(ui, cx, r, i, reviews.len(), crop.as_ref()),
                );
            }
        });
        if let Some(i) = picked {
            self.current_review = i;
        }
    }

    /// The keyboard shortcuts of the review queue, when no text field has the keyboard.
    /// Returns whether the selection moved.
    fn review_keys_ui(&mut self, ui: &egui::Ui, cx: &mut ScreenCtx<'_>) -> bool {
        if ui.ctx().egui_wants_keyboard_input() {
            return false;
        }
        let Some(r) = self.view.reviews.get(self.current_review) else {
            return false;
        };
        let (accept, runner_up, reject, next, previous) = ui.input(|i| {
            (
                i.key_pressed(egui::Key::A) || i.key_pressed(egui::Key::Enter),
                i.key_pressed(egui::Key::S),
                i.key_pressed(egui::Key::N),
                i.key_pressed(egui::Key::ArrowDown) || i.key_pressed(egui::Key::J),
                i.key_pressed(egui::Key::ArrowUp) || i.key_pressed(egui::Key::K),
            )
        });
        if accept {
            cx.commands.push(Command::AcceptReview {
                review: r.id,
                student: None,
            });
        } else if runner_up && let Some(id) = r.runner_up {
            cx.commands.push(Command::AcceptReview {
                review: r.id,
                student: Some(id),
            });
        } else if reject {
            cx.commands.push(Command::RejectReview(r.id));
        }
        let last = self.view.reviews.len() - 1;
        let before = self.current_review;
        if next {
            self.current_review = (self.current_review + 1).min(last);
        }
        if previous {
            self.current_review = self.current_review.saturating_sub(1);
        }
        before != self.current_review
    }
}

/// The keys of the review queue, as shown to the teacher.
struct ReviewKeys {
    accept: &'static str,
    runner_up: &'static str,
    reject: &'static str,
    move_by: &'static str,
}

const REVIEW_KEYS: ReviewKeys = ReviewKeys {
    accept: "A or Enter",
    runner_up: "S",
    reject: "N",
    move_by: "Down/Up (J/K)",
};

/// One face waiting for review: the crop, who it may be, why the engine doubted, and the
/// decisions.
fn review_card_ui(
    ui: &mut egui::Ui,
    cx: &mut ScreenCtx<'_>,
    r: &ReviewRow,
    index: usize,
    count: usize,
    crop: Option<&egui::TextureHandle>,
) {
    let side = egui::vec2(style::REVIEW_CROP_PX, style::REVIEW_CROP_PX);
    match crop {
        Some(t) => {
            ui.add(egui::Image::new(t).fit_to_exact_size(side));
        }
        None => {
            ui.allocate_ui(side, |ui| ui.weak("no crop"));
        }
    }
    ui.vertical(|ui| {
        let candidate = r.candidate_name.clone().unwrap_or_default();
        ui.add(egui::Label::new(format!("Face {} of {count}: {candidate}?", index + 1)).truncate());
        ui.add(
            egui::Label::new(format!(
                "distance {:.2}{}",
                r.score.unwrap_or(f32::NAN),
                r.runner_up_name
                    .as_ref()
                    .map_or_else(String::new, |n| format!(
                        ", or {n} {:.2}",
                        r.runner_up_score.unwrap_or(f32::NAN)
                    ))
            ))
            .truncate(),
        );
        ui.add(
            egui::Label::new(
                egui::RichText::new(format!(
                    "{} · {}",
                    reason_text(&r.reason),
                    clock_time(r.frame_ms)
                ))
                .weak(),
            )
            .truncate(),
        );
        ui.horizontal_wrapped(|ui| {
            if ui.small_button(format!("It is {candidate}")).clicked() {
                cx.commands.push(Command::AcceptReview {
                    review: r.id,
                    student: None,
                });
            }
            if let (Some(id), Some(name)) = (r.runner_up, &r.runner_up_name)
                && ui.small_button(format!("It is {name}")).clicked()
            {
                cx.commands.push(Command::AcceptReview {
                    review: r.id,
                    student: Some(id),
                });
            }
            if ui.small_button("Nobody enrolled").clicked() {
                cx.commands.push(Command::RejectReview(r.id));
            }
        });
    });
}

/// Why the engine doubted, in the teacher's words.
fn reason_text(stored: &str) -> String {
    crate::core::rollcall::UncertainReason::from_stored(stored)
        .map_or_else(|| stored.replace('_', " "), |r| r.describe().to_owned())
}

impl Drop for AttendanceScreen {
    fn drop(&mut self) {
        self.stop_live();
    }
}

fn outcome_color(outcome: &FaceOutcome) -> egui::Color32 {
    match outcome {
        FaceOutcome::Marked { status, .. } => style::status_color(*status),
        FaceOutcome::Seen { .. } => style::PRESENT,
        FaceOutcome::Confirming { .. } => style::CONFIRMING,
        FaceOutcome::Uncertain { .. } => style::UNCERTAIN,
        FaceOutcome::Unknown { .. } => style::UNKNOWN,
    }
}
