//! The Roster screen: classes, their students with photo thumbnails, consent and enrollment
//! state, and adding, renaming, enrolling, forgetting and removing students.

use std::path::PathBuf;

use super::ScreenCtx;
use super::capture::{CaptureDialog, CaptureResult};
use super::command::{Command, PhotoInput};
use super::style;
use super::widgets::file_picker::{Dialog, FilePicker};
use super::widgets::thumbnails::Thumbnails;
use crate::core::calibration::{Calibration, RecordedMatch, calibrate, what_if};
use crate::core::{ClassId, StudentId};
use crate::store::oneroster::RosterPlan;
use crate::store::{ClassRow, Store, StudentRow};
use crate::workflow::enroll;

/// What the Roster screen shows, computed from the store before drawing.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RosterView {
    /// Every class.
    pub classes: Vec<ClassRow>,
    /// The selected class.
    pub class: Option<ClassRow>,
    /// Its current students.
    pub students: Vec<StudentRow>,
    /// Pairs of its students whose photos are closer than threshold + margin, closest first.
    pub look_alikes: Vec<LookAlike>,
    /// What the class's threshold is calibrated from (`None` without an active encoder).
    pub evidence: Option<ClassEvidence>,
}

/// Two students of the class whose photos are close enough to be taken for each other.
#[derive(Clone, Debug, PartialEq)]
pub struct LookAlike {
    /// One student.
    pub a: StudentId,
    /// Their name.
    pub a_name: String,
    /// The other student.
    pub b: StudentId,
    /// Their name.
    pub b_name: String,
    /// The distance between their photos' embeddings.
    pub distance: f32,
    /// Closer than the threshold itself (not only within the margin).
    pub under_threshold: bool,
}

impl LookAlike {
    /// The name of the other student of the pair, when `student` is in it.
    #[must_use]
    pub fn other(&self, student: StudentId) -> Option<&str> {
        if student == self.a {
            Some(&self.b_name)
        } else if student == self.b {
            Some(&self.a_name)
        } else {
            None
        }
    }
}

/// The class's own data under the active encoder, for calibrating its rules on screen.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClassEvidence {
    /// The encoder's default threshold.
    pub default_threshold: f32,
    /// The margin in force.
    pub margin: f32,
    /// Distances between the class's enrolled students (the impostor distribution).
    pub pairs: Vec<(StudentId, StudentId, f32)>,
    /// Distances of confirmed matches (the genuine distribution).
    pub genuine: Vec<f32>,
    /// The marks and reviews the engine recorded in the class's sessions.
    pub recorded: Vec<RecordedMatch>,
}

impl ClassEvidence {
    fn load(store: &Store, class: &ClassRow) -> crate::store::Result<Option<Self>> {
        let Some(encoder) = store.active_encoder()? else {
            return Ok(None);
        };
        let (gallery, _) =
            store.class_gallery(class.id, &encoder.id, encoder.metric, encoder.dim)?;
        Ok(Some(Self {
            default_threshold: encoder.default_threshold,
            margin: store.operating_point(class, &encoder)?.margin,
            pairs: gallery.pairwise_distances(),
            genuine: store.genuine_distances(class.id, &encoder.id)?,
            recorded: store.recorded_matches(class.id, &encoder.id, None)?,
        }))
    }

    /// The calibration figures at `threshold`.
    #[must_use]
    pub fn calibrate(&self, threshold: f32) -> Calibration {
        calibrate(
            &self.pairs,
            &self.genuine,
            threshold,
            self.margin,
            0.0,
            self.default_threshold,
        )
    }
}

impl RosterView {
    /// Loads the view for `selected` (falling back to the first class).
    pub fn load(store: &Store, selected: Option<ClassId>) -> crate::store::Result<Self> {
        let classes = store.list_classes()?;
        let class = selected
            .and_then(|id| classes.iter().find(|c| c.id == id))
            .or_else(|| classes.first())
            .cloned();
        let students = match &class {
            Some(c) => store.list_students(Some(c.id))?,
            None => Vec::new(),
        };
        let evidence = match &class {
            Some(c) => ClassEvidence::load(store, c)?,
            None => None,
        };
        // The look-alike pairs at the class's saved threshold (the calibration report's list).
        let look_alikes = match (&class, &evidence) {
            (Some(c), Some(e)) => {
                let name = |id| {
                    students
                        .iter()
                        .find(|s| s.id == id)
                        .map(|s| s.display_name.clone())
                        .unwrap_or_default()
                };
                e.calibrate(c.threshold_override.unwrap_or(e.default_threshold))
                    .look_alikes
                    .iter()
                    .map(|l| LookAlike {
                        a: l.a,
                        a_name: name(l.a),
                        b: l.b,
                        b_name: name(l.b),
                        distance: l.distance,
                        under_threshold: l.under_threshold,
                    })
                    .collect()
            }
            _ => Vec::new(),
        };
        Ok(Self {
            classes,
            class,
            students,
            look_alikes,
            evidence,
        })
    }
}

/// The add-student form.
#[derive(Debug, Default)]
struct NewStudent {
    name: String,
    external_id: String,
    photo: String,
    consent_by: String,
}

/// The import-a-folder form.
#[derive(Debug, Default)]
struct FolderImport {
    folder: String,
    consent_by: String,
    /// `None`: one new student per photo; else ID photos of students on the roster.
    match_by: Option<enroll::MatchBy>,
}

/// The roster-import form and its preview.
#[derive(Debug, Default)]
struct RosterImport {
    /// The bundle: a folder or a ZIP file.
    path: String,
    /// What importing it would change, or why it cannot be imported.
    preview: Option<(PathBuf, Result<RosterPlan, String>)>,
}

/// A dialog that asks before changing something.
#[derive(Debug, Clone, PartialEq)]
enum Dialogs {
    Rename {
        student: StudentId,
        name: String,
    },
    Enroll {
        student: StudentId,
        name: String,
        photo: String,
        consent_by: String,
        has_consent: bool,
    },
    Remove {
        student: StudentId,
        name: String,
    },
    Forget {
        student: StudentId,
        name: String,
    },
}

/// The class-rules form: an editable copy of the class's threshold override and late limit.
#[derive(Debug, Clone, PartialEq)]
struct RulesEdit {
    class: ClassId,
    threshold: Option<f32>,
    late_after_minutes: u32,
}

/// The order of the student table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StudentSort {
    /// By name.
    #[default]
    Name,
    /// By school id (students without one last).
    SchoolId,
    /// Students without consent first.
    Consent,
    /// Students without a photo first, then those with the most photo warnings.
    PhotoQuality,
}

impl StudentSort {
    const ALL: [Self; 4] = [
        Self::Name,
        Self::SchoolId,
        Self::Consent,
        Self::PhotoQuality,
    ];

    fn title(self) -> &'static str {
        match self {
            Self::Name => "Name",
            Self::SchoolId => "School id",
            Self::Consent => "Consent missing first",
            Self::PhotoQuality => "Photo problems first",
        }
    }
}

/// Where a picked file goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PickTarget {
    NewStudent,
    EnrollDialog,
    ImportFolder,
    RosterBundle,
}

/// The Roster screen's state.
#[derive(Debug)]
pub struct RosterScreen {
    selected: Option<ClassId>,
    view: RosterView,
    loaded_version: Option<u64>,
    new_class: String,
    new_student: NewStudent,
    import: FolderImport,
    roster: RosterImport,
    dialog: Option<Dialogs>,
    rules: Option<RulesEdit>,
    picker: FilePicker,
    pick_target: PickTarget,
    capture: Option<CaptureDialog>,
    captured: Option<std::sync::Arc<Vec<u8>>>,
    thumbnails: Option<Thumbnails>,
    search: String,
    sort: StudentSort,
    show_all_look_alikes: bool,
}

impl Default for RosterScreen {
    fn default() -> Self {
        Self {
            selected: None,
            view: RosterView::default(),
            loaded_version: None,
            new_class: String::new(),
            new_student: NewStudent::default(),
            import: FolderImport::default(),
            roster: RosterImport::default(),
            dialog: None,
            rules: None,
            picker: FilePicker::default(),
            pick_target: PickTarget::NewStudent,
            capture: None,
            captured: None,
            thumbnails: None,
            search: String::new(),
            sort: StudentSort::default(),
            show_all_look_alikes: false,
        }
    }
}

impl RosterScreen {
    /// The class whose students are shown.
    #[must_use]
    pub fn selected_class(&self) -> Option<ClassId> {
        self.view.class.as_ref().map(|c| c.id)
    }

    /// The data on screen.
    #[must_use]
    pub fn view(&self) -> &RosterView {
        &self.view
    }

    /// Draws the screen.
    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &mut ScreenCtx<'_>) {
        if self.loaded_version != Some(cx.data_version) {
            match RosterView::load(cx.store, self.selected) {
                Ok(view) => self.view = view,
                Err(err) => cx.error(format!("Could not read the roster: {err}")),
            }
            self.rules = None;
            self.loaded_version = Some(cx.data_version);
        }
        let ctx = ui.ctx().clone();
        let thumbnails = self.thumbnails.get_or_insert_with(|| {
            let c = ctx.clone();
            Thumbnails::new(move || c.request_repaint())
        });
        thumbnails.poll(&ctx);
        if let Some(picked) = self.picker.poll()
            && let Some(path) = picked
        {
            let text = path.display().to_string();
            match (self.pick_target, &mut self.dialog) {
                (PickTarget::EnrollDialog, Some(Dialogs::Enroll { photo, .. })) => {
                    *photo = text;
                }
                (PickTarget::ImportFolder, _) => self.import.folder = text,
                (PickTarget::RosterBundle, _) => {
                    self.roster.path = text;
                    self.preview_roster(cx);
                }
                _ => self.new_student.photo = text,
            }
        }

        egui::Panel::left("roster-classes")
            .resizable(true)
            .default_size(220.0)
            .show(ui, |ui| {
                egui::ScrollArea::vertical()
                    .id_salt("roster-classes")
                    .show(ui, |ui| self.classes_ui(ui, cx));
            });
        egui::CentralPanel::default().show(ui, |ui| self.students_ui(ui, cx));
        self.dialog_ui(&ctx, cx);
        self.roster_preview_ui(&ctx, cx);
        if let Some(capture) = self.capture.as_mut() {
            match capture.ui(&ctx) {
                CaptureResult::Open => {}
                CaptureResult::Cancelled => self.capture = None,
                CaptureResult::Photo(png) => {
                    self.captured = Some(png);
                    self.capture = None;
                }
            }
        }
    }

    fn classes_ui(&mut self, ui: &mut egui::Ui, cx: &mut ScreenCtx<'_>) {
        ui.heading("Classes");
        if self.view.classes.is_empty() {
            ui.weak("No classes yet: type a name below and press \"Add class\"");
        }
        let current = self.selected_class();
        for c in &self.view.classes {
            let label = format!("{}  ({} students)", c.name, c.student_count);
            if ui.selectable_label(current == Some(c.id), label).clicked() {
                self.selected = Some(c.id);
                self.loaded_version = None;
            }
        }
        ui.add_space(style::SECTION_GAP);
        let label = ui.label("New class");
        let edit = ui
            .add(egui::TextEdit::singleline(&mut self.new_class).hint_text("e.g. 7B"))
            .labelled_by(label.id);
        let enter = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        if (ui.button("Add class").clicked() || enter) && !self.new_class.trim().is_empty() {
            cx.commands
                .push(Command::AddClass(std::mem::take(&mut self.new_class)));
        }
        ui.add_space(style::SECTION_GAP);
        self.roster_import_ui(ui, cx);
    }

    /// Importing the school's roster: a OneRoster bundle, previewed before anything is written.
    fn roster_import_ui(&mut self, ui: &mut egui::Ui, cx: &mut ScreenCtx<'_>) {
        ui.strong("Roster from the school's system");
        ui.weak("A OneRoster bundle (1.1 or 1.2) from the information system, Clever, ClassLink or School Data Sync: a folder or a .zip.");
        let l = ui.label("Bundle");
        ui.add(
            egui::TextEdit::singleline(&mut self.roster.path)
                .hint_text("folder or .zip")
                .desired_width(f32::INFINITY),
        )
        .labelled_by(l.id);
        ui.horizontal_wrapped(|ui| {
            for (label, dialog) in [
                ("Choose folder…", Dialog::OpenFolder),
                ("Choose .zip…", Dialog::OpenZip),
            ] {
                if ui
                    .add_enabled(!self.picker.is_open(), egui::Button::new(label))
                    .clicked()
                {
                    self.pick_target = PickTarget::RosterBundle;
                    let ctx = ui.ctx().clone();
                    self.picker.open(dialog, move || ctx.request_repaint());
                }
            }
            if ui
                .add_enabled(
                    !self.roster.path.trim().is_empty(),
                    egui::Button::new("Preview import"),
                )
                .clicked()
            {
                self.preview_roster(cx);
            }
        });
    }

    /// Reads the bundle and works out what importing it would change (nothing is written).
    fn preview_roster(&mut self, cx: &mut ScreenCtx<'_>) {
        let path = PathBuf::from(self.roster.path.trim());
        let result = crate::store::oneroster::read_bundle(&path)
            .map_err(crate::store::StoreError::Roster)
            .and_then(|bundle| cx.store.plan_roster(&bundle))
            .map_err(|err| err.to_string());
        self.roster.preview = Some((path, result));
    }

    /// The preview: what the import changes, with Import and Cancel.
    fn roster_preview_ui(&mut self, ctx: &egui::Context, cx: &mut ScreenCtx<'_>) {
        let Some((path, result)) = &self.roster.preview else {
            return;
        };
        let (mut close, mut imported) = (false, false);
        egui::Modal::new(egui::Id::unique("roster-preview")).show(ctx, |ui| {
            ui.set_max_width(560.0);
            ui.heading("Import the roster");
            ui.label(path.display().to_string());
            ui.add_space(style::SECTION_GAP);
            match result {
                Err(problems) => {
                    ui.colored_label(
                        style::ERROR,
                        "This bundle cannot be imported; nothing was changed.",
                    );
                    egui::ScrollArea::vertical()
                        .max_height(280.0)
                        .show(ui, |ui| {
                            for line in problems.lines() {
                                ui.label(line.trim());
                            }
                        });
                    ui.add_space(style::SECTION_GAP);
                    close = ui.button("Close").clicked();
                }
                Ok(plan) => {
                    for line in plan.summary() {
                        ui.label(format!("• {line}"));
                    }
                    egui::ScrollArea::vertical()
                        .max_height(300.0)
                        .show(ui, |ui| {
                            preview_list(ui, "New classes", &plan.classes_added);
                            preview_list(ui, "Classes changed", &plan.classes_changed);
                            preview_list(ui, "New students", &plan.students_added);
                            preview_list(ui, "Students changed", &plan.students_changed);
                            preview_list(
                                ui,
                                "Students removed (photo deleted, attendance kept)",
                                &plan.students_removed,
                            );
                            let pairs = |v: &[(String, String)], word: &str| -> Vec<String> {
                                v.iter().map(|(a, b)| format!("{a} {word} {b}")).collect()
                            };
                            preview_list(ui, "Joining classes", &pairs(&plan.joined, "joins"));
                            preview_list(ui, "Leaving classes", &pairs(&plan.left, "leaves"));
                            preview_list(ui, "Teachers", &pairs(&plan.teachers_added, "teaches"));
                            preview_list(
                                ui,
                                "No longer teaching",
                                &pairs(&plan.teachers_removed, "no longer teaches"),
                            );
                            for note in &plan.notes {
                                ui.weak(note);
                            }
                        });
                    ui.add_space(style::SECTION_GAP);
                    ui.horizontal(|ui| {
                        if plan.is_unchanged() {
                            close = ui.button("Close").clicked();
                        } else {
                            if ui.button("Import").clicked() {
                                cx.commands.push(Command::ImportRoster(path.clone()));
                                close = true;
                                imported = true;
                            }
                            close |= ui.button("Cancel").clicked();
                        }
                    });
                }
            }
        });
        if close {
            self.roster.preview = None;
        }
        if imported {
            self.roster.path.clear();
        }
    }

    /// The class's threshold and late limit, with what the threshold would do: figures from the
    /// enrolled photos and confirmed matches, and a replay of the recorded sessions.
    #[allow(clippy::too_many_lines)] // the rules panel drawn top to bottom, as the teacher sees it
    fn rules_ui(&mut self, ui: &mut egui::Ui, cx: &mut ScreenCtx<'_>, class: &ClassRow) {
        let edit = match &mut self.rules {
            Some(e) if e.class == class.id => e,
            slot => slot.insert(RulesEdit {
                class: class.id,
                threshold: class.threshold_override,
                late_after_minutes: class.late_after_minutes,
            }),
        };
        let evidence = self.view.evidence.as_ref();
        let default = evidence.map(|e| e.default_threshold);
        egui::Grid::new("class-rules")
            .num_columns(2)
            .show(ui, |ui| {
                let mut own = edit.threshold.is_some();
                ui.checkbox(&mut own, "Own threshold for this class");
                match (own, default) {
                    (true, _) => {
                        let d = default.unwrap_or(0.6);
                        let t = edit.threshold.get_or_insert(d);
                        ui.horizontal(|ui| {
                            let l = ui.label("Threshold");
                            ui.add(
                                egui::Slider::new(t, 0.05..=(2.0 * d).max(0.1)).fixed_decimals(3),
                            )
                            .labelled_by(l.id);
                        });
                    }
                    (false, Some(d)) => {
                        edit.threshold = None;
                        ui.weak(format!("the encoder's default ({d:.3})"));
                    }
                    (false, None) => {
                        edit.threshold = None;
                        ui.weak("the encoder's default");
                    }
                }
                ui.end_row();
                let l = ui.label("Late after");
                ui.add(
                    egui::DragValue::new(&mut edit.late_after_minutes)
                        .range(0..=600)
                        .suffix(" min"),
                )
                .labelled_by(l.id);
                ui.end_row();
            });
        match evidence {
            Some(e) => {
                let t = edit.threshold.unwrap_or(e.default_threshold);
                let c = e.calibrate(t);
                let under = c.look_alikes.iter().filter(|l| l.under_threshold).count();
                ui.label(format!(
                    "At {t:.3}: {under} of {} pairs of enrolled students are closer than the threshold (they could be taken for each other).",
                    c.impostor_pairs
                ));
                if c.genuine_count > 0 {
                    let missed = c
                        .false_reject_rate
                        .map_or(0, |r| (r * c.genuine_count as f64).round() as usize);
                    ui.label(format!(
                        "{missed} of {} confirmed matches are farther than it (they would be missed).",
                        c.genuine_count
                    ));
                } else {
                    ui.weak("No confirmed matches yet: how many would be missed shows after the first session.");
                }
                // On the slider's grid (it rounds to 3 decimals), rounded down so the suggestion
                // stays under the pair it keeps apart (rounding 0.59706 up to 0.597 would not, for
                // a pair at 0.59712).
                match c.suggested_threshold.map(|s| (s * 1000.0).floor() / 1000.0) {
                    Some(s) if s < e.default_threshold => {
                        ui.horizontal(|ui| {
                            ui.label(format!(
                                "Suggested: {s:.3} (just under the closest pair of enrolled students)"
                            ));
                            if ui.button("Use the suggestion").clicked() {
                                edit.threshold = Some(s);
                            }
                        });
                    }
                    Some(_) => {
                        ui.label(format!(
                            "The encoder's default ({:.3}) keeps every pair of enrolled students apart.",
                            e.default_threshold
                        ));
                    }
                    None => {}
                }
                let w = what_if(&e.recorded, t, e.margin);
                if w.sessions > 0 {
                    ui.label(format!(
                        "In the {} recorded session(s): {} of {} camera marks would stay, {} would go to review, {} would not be recognised.",
                        w.sessions, w.kept, w.auto_marks, w.to_review, w.unrecognised
                    ));
                    ui.label(format!(
                        "Faces sent to review that would be marked: {} you confirmed, {} you decided against, {} not reviewed yet.",
                        w.gained_confirmed, w.gained_wrong, w.gained_unreviewed
                    ));
                    ui.weak("An estimate: faces farther than the threshold at the time were not recorded.");
                }
            }
            None => {
                ui.weak(
                    "Enroll students with photos to see what the threshold does for this class.",
                );
            }
        }
        if ui.button("Save class rules").clicked() {
            cx.commands.push(Command::SetClassSettings {
                class: class.id,
                threshold: edit.threshold,
                late_after_minutes: edit.late_after_minutes,
            });
        }
    }

    fn students_ui(&mut self, ui: &mut egui::Ui, cx: &mut ScreenCtx<'_>) {
        let Some(class) = self.view.class.clone() else {
            ui.heading("Welcome to rollcall");
            ui.label("Start by adding a class on the left (for example \"7B\"), then add its students with one photo each.");
            return;
        };
        ui.heading(format!("Class {}", class.name));
        // The forms and the look-alike summary take at most part of the height: the student
        // table below always keeps the rest.
        let forms_height = (ui.available_height() * 0.45).max(120.0);
        egui::ScrollArea::vertical()
            .id_salt("roster-forms")
            .max_height(forms_height)
            .auto_shrink([false, true])
            .show(ui, |ui| {
                egui::CollapsingHeader::new("Add a student")
                    .default_open(self.view.students.is_empty())
                    .show(ui, |ui| {
                        self.add_student_ui(ui, cx, class.id);
                    });
                egui::CollapsingHeader::new("Import a folder of photos").show(ui, |ui| {
                    self.import_ui(ui, cx, class.id);
                });
                egui::CollapsingHeader::new("Recognition rules for this class").show(ui, |ui| {
                    self.rules_ui(ui, cx, &class);
                });
                self.look_alikes_ui(ui);
            });
        ui.add_space(style::SECTION_GAP);
        if self.view.students.is_empty() {
            ui.weak("No students in this class yet: add the first one above.");
            return;
        }
        self.table_controls_ui(ui);
        self.students_table_ui(ui, cx);
    }

    /// How many look-alike pairs there are, the closest few, and all of them on request.
    fn look_alikes_ui(&mut self, ui: &mut egui::Ui) {
        let pairs = &self.view.look_alikes;
        if pairs.is_empty() {
            return;
        }
        let under = pairs.iter().filter(|p| p.under_threshold).count();
        let closest = &pairs[0];
        let title = format!(
            "Look-alike students: {} pair{} ({under} closer than the threshold); closest {} and {} ({:.2})",
            pairs.len(),
            if pairs.len() == 1 { "" } else { "s" },
            closest.a_name,
            closest.b_name,
            closest.distance
        );
        egui::CollapsingHeader::new(egui::RichText::new(title).color(style::WARNING))
            .id_salt("look-alikes")
            .show(ui, |ui| {
                ui.weak("They are never marked automatically when they could be confused: check their marks in the review queue. They are flagged in the table.");
                let shown = if self.show_all_look_alikes {
                    pairs.len()
                } else {
                    pairs.len().min(style::CLOSEST_SHOWN)
                };
                for p in &pairs[..shown] {
                    ui.label(format!(
                        "{} and {}: distance {:.2}{}",
                        p.a_name,
                        p.b_name,
                        p.distance,
                        if p.under_threshold {
                            " (closer than the threshold)"
                        } else {
                            ""
                        }
                    ));
                }
                if pairs.len() > style::CLOSEST_SHOWN {
                    let text = if self.show_all_look_alikes {
                        "Show the closest only".to_owned()
                    } else {
                        format!("Show all {} pairs", pairs.len())
                    };
                    if ui.small_button(text).clicked() {
                        self.show_all_look_alikes = !self.show_all_look_alikes;
                    }
                }
            });
    }

    /// Search and sort above the student table.
    fn table_controls_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal_wrapped(|ui| {
            let l = ui.label("Search");
            ui.add(
                egui::TextEdit::singleline(&mut self.search)
                    .hint_text("name or school id")
                    .desired_width(180.0),
            )
            .labelled_by(l.id);
            let l = ui.label("Sort by");
            egui::ComboBox::from_id_salt("roster-sort")
                .selected_text(self.sort.title())
                .show_ui(ui, |ui| {
                    for s in StudentSort::ALL {
                        ui.selectable_value(&mut self.sort, s, s.title());
                    }
                })
                .response
                .labelled_by(l.id);
            let shown = self.visible_students().len();
            let total = self.view.students.len();
            if shown == total {
                ui.weak(format!("{total} students"));
            } else {
                ui.weak(format!("showing {shown} of {total} students"));
            }
        });
    }

    /// Indices into the view's students that match the search, in the chosen order.
    #[must_use]
    pub fn visible_students(&self) -> Vec<usize> {
        let needle = self.search.trim().to_lowercase();
        let mut rows: Vec<usize> = (0..self.view.students.len())
            .filter(|&i| {
                let s = &self.view.students[i];
                needle.is_empty()
                    || s.display_name.to_lowercase().contains(&needle)
                    || s.external_id
                        .as_deref()
                        .is_some_and(|e| e.to_lowercase().contains(&needle))
            })
            .collect();
        let students = &self.view.students;
        let name = |i: &usize| students[*i].display_name.to_lowercase();
        match self.sort {
            StudentSort::Name => rows.sort_by_key(name),
            StudentSort::SchoolId => {
                rows.sort_by_key(|i| {
                    (
                        students[*i].external_id.is_none(),
                        students[*i].external_id.clone(),
                        name(i),
                    )
                });
            }
            // Missing consent first: those are the students to follow up.
            StudentSort::Consent => rows.sort_by_key(|i| (students[*i].has_consent, name(i))),
            // No photo first, then the most warnings.
            StudentSort::PhotoQuality => rows.sort_by_key(|i| {
                let s = &students[*i];
                (
                    s.has_photo,
                    std::cmp::Reverse(s.quality_warnings.len()),
                    name(i),
                )
            }),
        }
        rows
    }

    fn students_table_ui(&mut self, ui: &mut egui::Ui, cx: &mut ScreenCtx<'_>) {
        let rows = self.visible_students();
        let version = cx.data_version;
        let store = cx.store;
        let Some(thumbnails) = self.thumbnails.as_mut() else {
            return;
        };
        let view = &self.view;
        let mut actions: Vec<Dialogs> = Vec::new();
        let row_height = style::ROW_HEIGHT;
        egui_extras::TableBuilder::new(ui)
            .id_salt("roster-students")
            .striped(true)
            .cell_layout(egui::Layout::left_to_right(egui::Align::Center))
            .min_scrolled_height(style::MIN_TABLE_HEIGHT)
            .auto_shrink([false, false])
            .column(egui_extras::Column::exact(style::THUMBNAIL_PX + 8.0))
            .column(egui_extras::Column::auto().at_least(160.0))
            .column(egui_extras::Column::auto().at_least(70.0))
            .column(egui_extras::Column::auto().at_least(70.0))
            .column(egui_extras::Column::auto().at_least(100.0))
            .column(egui_extras::Column::remainder().at_least(150.0))
            .header(22.0, |mut h| {
                for title in ["Photo", "Name", "School id", "Consent", "Face", "Actions"] {
                    h.col(|ui| {
                        ui.strong(title);
                    });
                }
            })
            .body(|body| {
                body.rows(row_height, rows.len(), |mut row| {
                    let s = &view.students[rows[row.index()]];
                    row.col(|ui| {
                        let tex = thumbnails.get(s.id, version, || {
                            store
                                .enrollment(s.id)
                                .ok()
                                .flatten()
                                .map(|e| e.face_crop.unwrap_or(e.photo))
                        });
                        match tex {
                            Some(t) => {
                                ui.add(egui::Image::new(&t).max_size(egui::vec2(
                                    style::THUMBNAIL_PX,
                                    style::THUMBNAIL_PX,
                                )));
                            }
                            None if s.has_photo => {
                                ui.spinner();
                            }
                            None => {
                                ui.weak("none");
                            }
                        }
                    });
                    row.col(|ui| {
                        ui.label(&s.display_name);
                        let alike: Vec<String> = view
                            .look_alikes
                            .iter()
                            .filter_map(|p| {
                                p.other(s.id)
                                    .map(|n| format!("{n} (distance {:.2})", p.distance))
                            })
                            .collect();
                        if !alike.is_empty() {
                            ui.colored_label(style::WARNING, "look-alike")
                                .on_hover_text(format!("Could be taken for {}", alike.join(", ")));
                        }
                    });
                    row.col(|ui| {
                        ui.label(s.external_id.as_deref().unwrap_or(""));
                    });
                    row.col(|ui| {
                        if s.has_consent {
                            ui.label("given");
                        } else {
                            ui.colored_label(style::WARNING, "none");
                        }
                    });
                    row.col(|ui| {
                        face_status_ui(ui, s);
                    });
                    row.col(|ui| {
                        // Wraps to a second line in a narrow window instead of cutting
                        // buttons off.
                        ui.horizontal_wrapped(|ui| student_actions_ui(ui, s, &mut actions));
                    });
                });
            });
        if let Some(d) = actions.pop() {
            self.dialog = Some(d);
        }
    }

    fn add_student_ui(&mut self, ui: &mut egui::Ui, cx: &mut ScreenCtx<'_>, class: ClassId) {
        let f = &mut self.new_student;
        egui::Grid::new("new-student")
            .num_columns(2)
            .show(ui, |ui| {
                let l = ui.label("Name");
                ui.add(egui::TextEdit::singleline(&mut f.name).hint_text("Ada Lovelace"))
                    .labelled_by(l.id);
                ui.end_row();
                let l = ui.label("School id (optional)");
                ui.add(egui::TextEdit::singleline(&mut f.external_id))
                    .labelled_by(l.id);
                ui.end_row();
                let l = ui.label("Photo file");
                ui.horizontal(|ui| {
                    ui.add(
                        egui::TextEdit::singleline(&mut f.photo)
                            .hint_text("one face, looking at the camera"),
                    )
                    .labelled_by(l.id);
                    if ui
                        .add_enabled(!self.picker.is_open(), egui::Button::new("Choose photo…"))
                        .clicked()
                    {
                        self.pick_target = PickTarget::NewStudent;
                        let ctx = ui.ctx().clone();
                        self.picker
                            .open(Dialog::OpenImage, move || ctx.request_repaint());
                    }
                    if ui.button("Take photo…").clicked() {
                        match CaptureDialog::open(
                            ui.ctx(),
                            &crate::camera::SourceSpec::camera_or_demo().0,
                        ) {
                            Ok(d) => self.capture = Some(d),
                            Err(err) => cx.error(format!("Could not open the camera: {err:#}")),
                        }
                    }
                });
                ui.end_row();
                if self.captured.is_some() {
                    ui.label("");
                    ui.horizontal(|ui| {
                        ui.colored_label(style::OK, "Photo taken with the camera");
                        if ui.small_button("Discard photo").clicked() {
                            self.captured = None;
                        }
                    });
                    ui.end_row();
                }
                let l = ui.label("Consent given by");
                ui.add(
                    egui::TextEdit::singleline(&mut f.consent_by)
                        .hint_text("parent or guardian, e.g. Mary Lovelace (mother)"),
                )
                .labelled_by(l.id);
                ui.end_row();
            });
        if (!f.photo.trim().is_empty() || self.captured.is_some()) && f.consent_by.trim().is_empty()
        {
            ui.colored_label(
                style::WARNING,
                "A photo is only stored with a biometric consent: fill in who gave it",
            );
        }
        let ready = !f.name.trim().is_empty();
        if ui
            .add_enabled(ready, egui::Button::new("Add student"))
            .clicked()
        {
            let f = std::mem::take(&mut self.new_student);
            cx.commands.push(Command::AddStudent {
                name: f.name,
                external_id: Some(f.external_id).filter(|s| !s.trim().is_empty()),
                class,
                photo: self.captured.take().map(PhotoInput::Captured).or_else(|| {
                    Some(PathBuf::from(f.photo.trim()))
                        .filter(|p| !p.as_os_str().is_empty())
                        .map(PhotoInput::File)
                }),
                consent_by: Some(f.consent_by).filter(|s| !s.trim().is_empty()),
            });
        }
    }

    fn import_ui(&mut self, ui: &mut egui::Ui, cx: &mut ScreenCtx<'_>, class: ClassId) {
        let f = &mut self.import;
        ui.horizontal_wrapped(|ui| {
            let l = ui.label("The photos are");
            egui::ComboBox::from_id_salt("import-match")
                .selected_text(match_label(f.match_by))
                .show_ui(ui, |ui| {
                    for choice in [
                        None,
                        Some(enroll::MatchBy::SchoolNumber),
                        Some(enroll::MatchBy::Name),
                        Some(enroll::MatchBy::SourcedId),
                    ] {
                        ui.selectable_value(&mut f.match_by, choice, match_label(choice));
                    }
                })
                .response
                .labelled_by(l.id);
        });
        match f.match_by {
            None => ui.weak("One new student per photo: the file name is the name (Ada_Lovelace.jpg becomes \"Ada Lovelace\")."),
            Some(by) => ui.weak(format!("ID photos of this class's students, each file named by the student's {} (26001.jpg). Students with a photo keep it, so importing again resumes.", by.label())),
        };
        egui::Grid::new("import-folder")
            .num_columns(2)
            .show(ui, |ui| {
                let l = ui.label("Photo folder");
                ui.horizontal(|ui| {
                    ui.add(egui::TextEdit::singleline(&mut f.folder))
                        .labelled_by(l.id);
                    if ui
                        .add_enabled(!self.picker.is_open(), egui::Button::new("Choose folder…"))
                        .clicked()
                    {
                        self.pick_target = PickTarget::ImportFolder;
                        let ctx = ui.ctx().clone();
                        self.picker
                            .open(Dialog::OpenFolder, move || ctx.request_repaint());
                    }
                });
                ui.end_row();
                let l = ui.label("Consent for all given by");
                ui.add(
                    egui::TextEdit::singleline(&mut f.consent_by)
                        .hint_text("e.g. signed school consent forms 2026"),
                )
                .labelled_by(l.id);
                ui.end_row();
            });
        let ready = !f.folder.trim().is_empty() && !f.consent_by.trim().is_empty();
        if ui
            .add_enabled(ready, egui::Button::new("Import photos"))
            .clicked()
        {
            let f = std::mem::take(&mut self.import);
            cx.commands.push(Command::ImportFolder {
                class,
                folder: PathBuf::from(f.folder.trim()),
                consent_by: f.consent_by,
                match_by: f.match_by,
            });
        }
    }

    fn dialog_ui(&mut self, ctx: &egui::Context, cx: &mut ScreenCtx<'_>) {
        let Some(dialog) = self.dialog.as_mut() else {
            return;
        };
        let mut close = false;
        let mut browse = false;
        egui::Modal::new(egui::Id::unique("roster-dialog")).show(ctx, |ui| match dialog {
            Dialogs::Rename { student, name } => {
                ui.heading("Rename student");
                let l = ui.label("New name");
                ui.text_edit_singleline(name).labelled_by(l.id);
                ui.horizontal(|ui| {
                    if ui.button("Save name").clicked() {
                        cx.commands.push(Command::RenameStudent { student: *student, name: name.clone() });
                        close = true;
                    }
                    close |= ui.button("Cancel").clicked();
                });
            }
            Dialogs::Enroll { student, name, photo, consent_by, has_consent } => {
                ui.heading(format!("Photo of {name}"));
                let l = ui.label("Photo file");
                ui.horizontal(|ui| {
                    ui.text_edit_singleline(photo).labelled_by(l.id);
                    browse = ui.button("Choose photo…").clicked();
                });
                if !*has_consent {
                    let l = ui.label("Consent given by");
                    ui.text_edit_singleline(consent_by).labelled_by(l.id);
                }
                ui.horizontal(|ui| {
                    let ready = !photo.trim().is_empty() && (*has_consent || !consent_by.trim().is_empty());
                    if ui.add_enabled(ready, egui::Button::new("Store photo")).clicked() {
                        cx.commands.push(Command::EnrollPhoto {
                            student: *student,
                            photo: PhotoInput::File(PathBuf::from(photo.trim())),
                            consent_by: Some(consent_by.clone()).filter(|s| !s.trim().is_empty()),
                        });
                        close = true;
                    }
                    close |= ui.button("Cancel").clicked();
                });
            }
            Dialogs::Remove { student, name } => {
                ui.heading(format!("Remove {name}?"));
                ui.label("Their photo and embeddings are deleted now. Their attendance history stays in reports.");
                ui.horizontal(|ui| {
                    if ui.button("Remove student").clicked() {
                        cx.commands.push(Command::RemoveStudent(*student));
                        close = true;
                    }
                    close |= ui.button("Cancel").clicked();
                });
            }
            Dialogs::Forget { student, name } => {
                ui.heading(format!("Forget the face of {name}?"));
                ui.label("The photo, face crop and embeddings are deleted now; the student stays and is marked by hand.");
                ui.horizontal(|ui| {
                    if ui.button("Delete biometric data").clicked() {
                        cx.commands.push(Command::ForgetStudent(*student));
                        close = true;
                    }
                    close |= ui.button("Cancel").clicked();
                });
            }
        });
        if browse {
            self.pick_target = PickTarget::EnrollDialog;
            let c = ctx.clone();
            self.picker
                .open(Dialog::OpenImage, move || c.request_repaint());
        }
        if close {
            self.dialog = None;
        }
    }
}

fn face_status_ui(ui: &mut egui::Ui, s: &StudentRow) {
    if !s.has_photo {
        ui.weak(if s.has_consent {
            "no photo"
        } else {
            "manual only"
        });
    } else if s.quality_warnings.is_empty() {
        ui.label(if s.embedded_with.is_empty() {
            "photo stored"
        } else {
            "enrolled"
        });
    } else {
        ui.colored_label(
            style::WARNING,
            format!("{} warning(s)", s.quality_warnings.len()),
        )
        .on_hover_text(s.quality_warnings.join("\n"));
    }
}

/// The row's buttons: photo, rename, and under "More…" forget the face and remove (each asks
/// first).
fn student_actions_ui(ui: &mut egui::Ui, s: &StudentRow, actions: &mut Vec<Dialogs>) {
    let name = s.display_name.clone();
    if ui
        .small_button("Photo…")
        .on_hover_text("Store or replace the enrollment photo")
        .clicked()
    {
        actions.push(Dialogs::Enroll {
            student: s.id,
            name: name.clone(),
            photo: String::new(),
            consent_by: String::new(),
            has_consent: s.has_consent,
        });
    }
    if ui.small_button("Rename…").clicked() {
        actions.push(Dialogs::Rename {
            student: s.id,
            name: name.clone(),
        });
    }
    // The two that delete something sit in a menu, out of the way of a slip.
    ui.menu_button("More…", |ui| {
        if s.has_photo && ui.button("Forget face…").clicked() {
            actions.push(Dialogs::Forget {
                student: s.id,
                name: name.clone(),
            });
        }
        if ui.button("Remove…").clicked() {
            actions.push(Dialogs::Remove {
                student: s.id,
                name: name.clone(),
            });
        }
    });
}

/// What the folder import's choice says.
fn match_label(by: Option<enroll::MatchBy>) -> &'static str {
    match by {
        None => "new students (file name = name)",
        Some(enroll::MatchBy::SchoolNumber) => "ID photos named by school number",
        Some(enroll::MatchBy::Name) => "ID photos named by name",
        Some(enroll::MatchBy::SourcedId) => "ID photos named by sourcedId",
    }
}

/// A list in the roster preview, collapsed, with its length.
fn preview_list(ui: &mut egui::Ui, title: &str, items: &[String]) {
    if items.is_empty() {
        return;
    }
    egui::CollapsingHeader::new(format!("{title} ({})", items.len()))
        .id_salt(title)
        .show(ui, |ui| {
            for item in items {
                ui.label(item);
            }
        });
}
