//! The Reports screen: sessions per class, the roll of one session, attendance rates per
//! student, and CSV export.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::command::Command;
use super::style;
use super::widgets::file_picker::{Dialog, FilePicker};
use super::{ScreenCtx, local_time};
use crate::core::{ClassId, SessionId, Status, StudentId};
use crate::store::export::{ExportFilter, ExportFormat, ExportOptions, RollEntry};
use crate::store::{ClassRow, SessionRow, Store};

/// Attendance of one student over the selected class's sessions.
#[derive(Clone, Debug, PartialEq)]
pub struct StudentRate {
    /// The student.
    pub student: StudentId,
    /// Their name.
    pub name: String,
    /// Sessions present or late.
    pub attended: usize,
    /// Sessions that count (excused ones do not).
    pub expected: usize,
}

impl StudentRate {
    /// Attendance rate in percent, `None` without counted sessions.
    #[must_use]
    pub fn percent(&self) -> Option<f64> {
        (self.expected > 0).then(|| 100.0 * self.attended as f64 / self.expected as f64)
    }
}

/// What the Reports screen shows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReportView {
    /// Every class.
    pub classes: Vec<ClassRow>,
    /// The selected class.
    pub class: Option<ClassRow>,
    /// Its sessions, newest first.
    pub sessions: Vec<SessionRow>,
    /// The selected session.
    pub session: Option<SessionRow>,
    /// The roll of the selected session.
    pub roll: Vec<RollEntry>,
    /// Rates per student over all sessions of the class, by name.
    pub rates: Vec<StudentRate>,
}

impl ReportView {
    /// Loads the view for the selected class and session (falling back to the first class and
    /// its newest session).
    pub fn load(
        store: &Store,
        class: Option<ClassId>,
        session: Option<SessionId>,
    ) -> crate::store::Result<Self> {
        let classes = store.list_classes()?;
        let class = class
            .and_then(|id| classes.iter().find(|c| c.id == id))
            .or_else(|| classes.first())
            .cloned();
        let sessions = match &class {
            Some(c) => store.list_sessions(Some(c.id), None, None)?,
            None => Vec::new(),
        };
        let session = session
            .and_then(|id| sessions.iter().find(|s| s.id == id))
            .or_else(|| sessions.first())
            .cloned();
        let roll = match &session {
            Some(s) => store.session_roll(s.id)?,
            None => Vec::new(),
        };
        let mut rates: BTreeMap<StudentId, StudentRate> = BTreeMap::new();
        for s in &sessions {
            for e in store.session_roll(s.id)? {
                let r = rates.entry(e.student).or_insert_with(|| StudentRate {
                    student: e.student,
                    name: e.name.clone(),
                    attended: 0,
                    expected: 0,
                });
                let status = e.status();
                r.expected += usize::from(status != Status::Excused);
                r.attended += usize::from(status.is_attending());
            }
        }
        let mut rates: Vec<StudentRate> = rates.into_values().collect();
        rates.sort_by_key(|r| r.name.to_lowercase());
        Ok(Self {
            classes,
            class,
            sessions,
            session,
            roll,
            rates,
        })
    }
}

/// The Reports screen's state.
#[derive(Debug, Default)]
pub struct ReportsScreen {
    class: Option<ClassId>,
    session: Option<SessionId>,
    view: ReportView,
    loaded_version: Option<u64>,
    export_path: String,
    matrix: bool,
    bom: bool,
    picker: FilePicker,
}

impl ReportsScreen {
    /// The data on screen.
    #[must_use]
    pub fn view(&self) -> &ReportView {
        &self.view
    }

    /// Draws the screen.
    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &mut ScreenCtx<'_>) {
        if self.loaded_version != Some(cx.data_version) {
            match ReportView::load(cx.store, self.class, self.session) {
                Ok(v) => self.view = v,
                Err(err) => cx.error(format!("Could not read the reports: {err}")),
            }
            self.loaded_version = Some(cx.data_version);
        }
        if let Some(Some(path)) = self.picker.poll() {
            self.export_path = path.display().to_string();
            self.export(cx);
        }
        let Some(class) = self.view.class.clone() else {
            ui.heading("Reports");
            ui.label("No classes yet: add one on the Roster screen.");
            return;
        };
        ui.heading("Reports");
        ui.horizontal(|ui| {
            egui::ComboBox::new("report-class", "Class")
                .selected_text(class.name.clone())
                .show_ui(ui, |ui| {
                    for c in &self.view.classes {
                        if ui.selectable_label(c.id == class.id, &c.name).clicked() {
                            self.class = Some(c.id);
                            self.session = None;
                            self.loaded_version = None;
                        }
                    }
                });
        });
        self.export_ui(ui, cx, class.id);
        ui.add_space(style::SECTION_GAP);
        if self.view.sessions.is_empty() {
            ui.weak("No sessions yet: start one on the Attendance screen.");
            return;
        }
        ui.columns(2, |cols| {
            self.sessions_ui(&mut cols[0]);
            cols[0].add_space(style::SECTION_GAP);
            rates_ui(&mut cols[0], &self.view.rates);
            roll_ui(&mut cols[1], self.view.session.as_ref(), &self.view.roll);
        });
    }

    fn export_ui(&mut self, ui: &mut egui::Ui, cx: &mut ScreenCtx<'_>, class: ClassId) {
        ui.horizontal(|ui| {
            ui.checkbox(&mut self.matrix, "Matrix (students × sessions)");
            ui.checkbox(&mut self.bom, "Byte-order mark for Excel");
            let l = ui.label("File");
            ui.add(egui::TextEdit::singleline(&mut self.export_path).desired_width(220.0))
                .labelled_by(l.id);
            if ui
                .add_enabled(
                    !self.export_path.trim().is_empty(),
                    egui::Button::new("Export"),
                )
                .clicked()
            {
                self.export(cx);
            }
            if ui
                .add_enabled(!self.picker.is_open(), egui::Button::new("Export CSV…"))
                .clicked()
            {
                let ctx = ui.ctx().clone();
                let name = self.view.class.as_ref().map_or_else(
                    || "attendance.csv".to_owned(),
                    |c| format!("attendance-{}.csv", c.name),
                );
                self.picker
                    .open(Dialog::SaveCsv(name), move || ctx.request_repaint());
            }
        });
        self.class = Some(class);
    }

    fn export(&mut self, cx: &mut ScreenCtx<'_>) {
        let options = ExportOptions {
            format: if self.matrix {
                ExportFormat::Matrix
            } else {
                ExportFormat::Long
            },
            bom: self.bom,
            filter: ExportFilter {
                class: self.view.class.as_ref().map(|c| c.id),
                ..ExportFilter::default()
            },
        };
        cx.commands.push(Command::ExportCsv {
            path: PathBuf::from(self.export_path.trim()),
            options,
        });
    }

    fn sessions_ui(&mut self, ui: &mut egui::Ui) {
        ui.strong("Sessions");
        let selected = self.view.session.as_ref().map(|s| s.id);
        egui::ScrollArea::vertical()
            .id_salt("sessions")
            .max_height(220.0)
            .show(ui, |ui| {
                for s in &self.view.sessions {
                    let end = s.ended_ms.map_or_else(|| "open".to_owned(), local_time);
                    let label = format!(
                        "#{}  {} – {}  ({} marked)",
                        s.id,
                        local_time(s.started_ms),
                        end,
                        s.mark_count
                    );
                    if ui.selectable_label(selected == Some(s.id), label).clicked() {
                        self.session = Some(s.id);
                        self.loaded_version = None;
                    }
                }
            });
    }
}

fn rates_ui(ui: &mut egui::Ui, rates: &[StudentRate]) {
    ui.strong("Attendance rate per student");
    egui::Grid::new("rates").striped(true).show(ui, |ui| {
        for r in rates {
            ui.label(&r.name);
            ui.label(format!("{} of {}", r.attended, r.expected));
            ui.label(
                r.percent()
                    .map_or_else(|| "–".to_owned(), |p| format!("{p:.0}%")),
            );
            ui.end_row();
        }
    });
}

fn roll_ui(ui: &mut egui::Ui, session: Option<&SessionRow>, roll: &[RollEntry]) {
    let Some(s) = session else { return };
    ui.strong(format!("Session #{} on {}", s.id, local_time(s.started_ms)));
    egui::Grid::new("roll").striped(true).show(ui, |ui| {
        for title in ["Name", "Status", "Time", "Source", "Distance"] {
            ui.strong(title);
        }
        ui.end_row();
        for e in roll {
            let m = e.mark.as_ref();
            ui.label(&e.name);
            ui.colored_label(style::status_color(e.status()), e.status().as_str());
            ui.label(
                m.map(|m| local_time(m.frame_ms.unwrap_or(m.marked_ms)))
                    .unwrap_or_default(),
            );
            ui.label(m.map_or("", |m| m.source.as_str()));
            ui.label(
                m.and_then(|m| m.score)
                    .map(|v| format!("{v:.3}"))
                    .unwrap_or_default(),
            );
            ui.end_row();
        }
    });
}
