//! The Reports screen: sessions per class, the roll of one session, attendance rates per
//! student, and CSV export.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::command::Command;
use super::style;
use super::widgets::file_picker::{Dialog, FilePicker};
use super::{ScreenCtx, clock_time, local_time};
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
    /// Sessions present on time.
    pub present: usize,
    /// Sessions present, late.
    pub late: usize,
    /// Sessions absent.
    pub absent: usize,
    /// Sessions excused.
    pub excused: usize,
}

impl StudentRate {
    /// Sessions present or late.
    #[must_use]
    pub fn attended(&self) -> usize {
        self.present + self.late
    }

    /// Sessions that count (excused ones do not).
    #[must_use]
    pub fn expected(&self) -> usize {
        self.present + self.late + self.absent
    }

    /// Attendance rate in percent, `None` without counted sessions.
    #[must_use]
    pub fn percent(&self) -> Option<f64> {
        let expected = self.expected();
        (expected > 0).then(|| 100.0 * self.attended() as f64 / expected as f64)
    }

    fn count(&mut self, status: Status) {
        match status {
            Status::Present => self.present += 1,
            Status::Late => self.late += 1,
            Status::Absent => self.absent += 1,
            Status::Excused => self.excused += 1,
        }
    }
}

/// One session of a student's history.
#[derive(Clone, Debug, PartialEq)]
pub struct HistoryEntry {
    /// The session.
    pub session: SessionId,
    /// When it started.
    pub started_ms: i64,
    /// The student's status in it.
    pub status: Status,
}

/// How many came to one session, for the class's trend.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionPoint {
    /// The session.
    pub session: SessionId,
    /// When it started.
    pub started_ms: i64,
    /// Present or late.
    pub attended: usize,
    /// Students that count (excused ones do not).
    pub expected: usize,
}

impl SessionPoint {
    /// Attendance in percent, `None` when nobody counted.
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
    /// Each student's sessions, oldest first.
    pub history: BTreeMap<StudentId, Vec<HistoryEntry>>,
    /// Attendance per session, oldest first.
    pub trend: Vec<SessionPoint>,
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
        let mut history: BTreeMap<StudentId, Vec<HistoryEntry>> = BTreeMap::new();
        let mut trend = Vec::new();
        for s in sessions.iter().rev() {
            let mut point = SessionPoint {
                session: s.id,
                started_ms: s.started_ms,
                attended: 0,
                expected: 0,
            };
            for e in store.session_roll(s.id)? {
                let status = e.status();
                rates
                    .entry(e.student)
                    .or_insert_with(|| StudentRate {
                        student: e.student,
                        name: e.name.clone(),
                        present: 0,
                        late: 0,
                        absent: 0,
                        excused: 0,
                    })
                    .count(status);
                history.entry(e.student).or_default().push(HistoryEntry {
                    session: s.id,
                    started_ms: s.started_ms,
                    status,
                });
                point.expected += usize::from(status != Status::Excused);
                point.attended += usize::from(status.is_attending());
            }
            trend.push(point);
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
            history,
            trend,
        })
    }
}

/// The Reports screen's two views.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReportTab {
    /// The sessions and the roll of one.
    #[default]
    Sessions,
    /// Rates per student, the class's trend and one student's history.
    Students,
}

/// A column the student table sorts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RateColumn {
    /// By name.
    #[default]
    Name,
    /// Sessions present on time.
    Present,
    /// Sessions late.
    Late,
    /// Sessions absent.
    Absent,
    /// Sessions excused.
    Excused,
    /// The attendance rate.
    Rate,
}

impl RateColumn {
    const ALL: [Self; 6] = [
        Self::Name,
        Self::Present,
        Self::Late,
        Self::Absent,
        Self::Excused,
        Self::Rate,
    ];

    fn title(self) -> &'static str {
        match self {
            Self::Name => "Name",
            Self::Present => "Present",
            Self::Late => "Late",
            Self::Absent => "Absent",
            Self::Excused => "Excused",
            Self::Rate => "Rate",
        }
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
    layout: ExportFormat,
    bom: bool,
    picker: FilePicker,
    tab: ReportTab,
    sort: RateColumn,
    descending: bool,
    student: Option<StudentId>,
}

impl ReportsScreen {
    /// The data on screen.
    #[must_use]
    pub fn view(&self) -> &ReportView {
        &self.view
    }

    /// Shows the sessions or the students.
    pub fn show_tab(&mut self, tab: ReportTab) {
        self.tab = tab;
    }

    /// The student whose history is shown.
    #[must_use]
    pub fn selected_student(&self) -> Option<StudentId> {
        self.student
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
        ui.horizontal_wrapped(|ui| {
            ui.heading("Reports");
            let l = ui.label("Class");
            egui::ComboBox::from_id_salt("report-class")
                .selected_text(class.name.clone())
                .show_ui(ui, |ui| {
                    for c in &self.view.classes {
                        if ui.selectable_label(c.id == class.id, &c.name).clicked() {
                            self.class = Some(c.id);
                            self.session = None;
                            self.student = None;
                            self.loaded_version = None;
                        }
                    }
                })
                .response
                .labelled_by(l.id);
        });
        self.export_ui(ui, cx, class.id);
        ui.add_space(style::SECTION_GAP);
        if self.view.sessions.is_empty() {
            ui.weak("No sessions yet: start one on the Attendance screen.");
            return;
        }
        ui.horizontal(|ui| {
            ui.selectable_value(
                &mut self.tab,
                ReportTab::Sessions,
                format!("Sessions ({})", self.view.sessions.len()),
            );
            ui.selectable_value(
                &mut self.tab,
                ReportTab::Students,
                format!("Students ({})", self.view.rates.len()),
            );
        });
        ui.separator();
        match self.tab {
            ReportTab::Sessions => ui.columns(2, |cols| {
                self.sessions_ui(&mut cols[0]);
                roll_ui(&mut cols[1], self.view.session.as_ref(), &self.view.roll);
            }),
            ReportTab::Students => ui.columns(2, |cols| {
                self.rates_ui(&mut cols[0]);
                trend_ui(&mut cols[1], &self.view.trend);
                cols[1].add_space(style::SECTION_GAP);
                self.history_ui(&mut cols[1]);
            }),
        }
    }

    fn export_ui(&mut self, ui: &mut egui::Ui, cx: &mut ScreenCtx<'_>, class: ClassId) {
        ui.horizontal_wrapped(|ui| {
            let l = ui.label("Layout");
            egui::ComboBox::from_id_salt("export-layout")
                .selected_text(layout_label(self.layout))
                .show_ui(ui, |ui| {
                    for layout in [ExportFormat::Long, ExportFormat::Matrix, ExportFormat::Sis] {
                        ui.selectable_value(&mut self.layout, layout, layout_label(layout));
                    }
                })
                .response
                .labelled_by(l.id);
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
            format: self.layout,
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
        let selected = self.view.session.as_ref().map(|s| s.id);
        let sessions = &self.view.sessions;
        let mut picked = None;
        egui_extras::TableBuilder::new(ui)
            .id_salt("report-sessions")
            .striped(true)
            .sense(egui::Sense::click())
            .cell_layout(egui::Layout::left_to_right(egui::Align::Center))
            .min_scrolled_height(style::MIN_TABLE_HEIGHT)
            .auto_shrink([false, false])
            .column(egui_extras::Column::auto().at_least(40.0))
            .column(egui_extras::Column::auto().at_least(130.0))
            .column(egui_extras::Column::auto().at_least(50.0))
            .column(egui_extras::Column::remainder())
            .header(style::TEXT_ROW_HEIGHT, |mut h| {
                for title in ["Session", "Started", "Ended", "Marked"] {
                    h.col(|ui| {
                        ui.strong(title);
                    });
                }
            })
            .body(|body| {
                body.rows(style::TEXT_ROW_HEIGHT, sessions.len(), |mut row| {
                    let s = &sessions[row.index()];
                    row.set_selected(selected == Some(s.id));
                    row.col(|ui| {
                        if ui
                            .selectable_label(selected == Some(s.id), format!("#{}", s.id))
                            .clicked()
                        {
                            picked = Some(s.id);
                        }
                    });
                    row.col(|ui| {
                        ui.label(local_time(s.started_ms));
                    });
                    row.col(|ui| {
                        ui.label(s.ended_ms.map_or_else(|| "open".to_owned(), clock_time));
                    });
                    row.col(|ui| {
                        ui.label(s.mark_count.to_string());
                    });
                    if row.response().clicked() {
                        picked = Some(s.id);
                    }
                });
            });
        if let Some(id) = picked {
            self.session = Some(id);
            self.loaded_version = None;
        }
    }

    /// The rates in the chosen order.
    #[must_use]
    pub fn sorted_rates(&self) -> Vec<&StudentRate> {
        let mut rows: Vec<&StudentRate> = self.view.rates.iter().collect();
        let name = |r: &&StudentRate| r.name.to_lowercase();
        match self.sort {
            RateColumn::Name => rows.sort_by_key(name),
            RateColumn::Present => rows.sort_by_key(|r| (r.present, name(r))),
            RateColumn::Late => rows.sort_by_key(|r| (r.late, name(r))),
            RateColumn::Absent => rows.sort_by_key(|r| (r.absent, name(r))),
            RateColumn::Excused => rows.sort_by_key(|r| (r.excused, name(r))),
            RateColumn::Rate => rows.sort_by(|a, b| {
                a.percent()
                    .unwrap_or(-1.0)
                    .total_cmp(&b.percent().unwrap_or(-1.0))
                    .then_with(|| name(a).cmp(&name(b)))
            }),
        }
        if self.descending {
            rows.reverse();
        }
        rows
    }

    fn rates_ui(&mut self, ui: &mut egui::Ui) {
        ui.weak(
            "Click a column to sort by it (again to reverse), a name for the student's sessions.",
        );
        let rows = self.sorted_rates();
        let mut picked = None;
        let mut sort = None;
        let (current, descending) = (self.sort, self.descending);
        let selected = self.student;
        egui_extras::TableBuilder::new(ui)
            .id_salt("report-rates")
            .striped(true)
            .cell_layout(egui::Layout::left_to_right(egui::Align::Center))
            .min_scrolled_height(style::MIN_TABLE_HEIGHT)
            .auto_shrink([false, false])
            .column(egui_extras::Column::auto().at_least(150.0))
            .columns(egui_extras::Column::auto().at_least(48.0), 5)
            .header(style::TEXT_ROW_HEIGHT, |mut h| {
                for column in RateColumn::ALL {
                    h.col(|ui| {
                        if ui
                            .add(
                                egui::Button::new(egui::RichText::new(column.title()).strong())
                                    .frame(false),
                            )
                            .on_hover_text(format!("Sort by {}", column.title().to_lowercase()))
                            .clicked()
                        {
                            sort = Some(column);
                        }
                        if current == column {
                            sort_arrow(ui, descending);
                        }
                    });
                }
            })
            .body(|body| {
                body.rows(style::TEXT_ROW_HEIGHT, rows.len(), |mut row| {
                    let r = rows[row.index()];
                    row.col(|ui| {
                        if ui
                            .selectable_label(selected == Some(r.student), &r.name)
                            .clicked()
                        {
                            picked = Some(r.student);
                        }
                    });
                    for n in [r.present, r.late, r.absent, r.excused] {
                        row.col(|ui| {
                            ui.label(n.to_string());
                        });
                    }
                    row.col(|ui| {
                        ui.label(
                            r.percent()
                                .map_or_else(|| "–".to_owned(), |p| format!("{p:.0}%")),
                        );
                    });
                });
            });
        if let Some(column) = sort {
            if column == self.sort {
                self.descending = !self.descending;
            } else {
                self.sort = column;
                self.descending = false;
            }
        }
        if picked.is_some() {
            self.student = picked;
        }
    }

    fn history_ui(&mut self, ui: &mut egui::Ui) {
        let Some(rate) = self
            .student
            .and_then(|id| self.view.rates.iter().find(|r| r.student == id))
        else {
            ui.weak("Click a student's name to see their sessions.");
            return;
        };
        ui.strong(format!(
            "{}: {} of {} sessions attended ({}), {} late, {} excused",
            rate.name,
            rate.attended(),
            rate.expected(),
            rate.percent()
                .map_or_else(|| "–".to_owned(), |p| format!("{p:.0}%")),
            rate.late,
            rate.excused
        ));
        let entries = self
            .view
            .history
            .get(&rate.student)
            .map_or(&[][..], Vec::as_slice);
        egui_extras::TableBuilder::new(ui)
            .id_salt("report-history")
            .striped(true)
            .min_scrolled_height(style::MIN_TABLE_HEIGHT)
            .auto_shrink([false, false])
            .column(egui_extras::Column::auto().at_least(60.0))
            .column(egui_extras::Column::auto().at_least(130.0))
            .column(egui_extras::Column::remainder())
            .header(style::TEXT_ROW_HEIGHT, |mut h| {
                for title in ["Session", "Started", "Status"] {
                    h.col(|ui| {
                        ui.strong(title);
                    });
                }
            })
            .body(|body| {
                // Newest first, like the sessions list.
                body.rows(style::TEXT_ROW_HEIGHT, entries.len(), |mut row| {
                    let e = &entries[entries.len() - 1 - row.index()];
                    row.col(|ui| {
                        ui.label(format!("#{}", e.session));
                    });
                    row.col(|ui| {
                        ui.label(local_time(e.started_ms));
                    });
                    row.col(|ui| {
                        ui.colored_label(style::status_color(e.status), e.status.as_str());
                    });
                });
            });
    }
}

/// A small painted triangle: up for ascending, down for descending (the default fonts have no
/// arrow glyphs).
fn sort_arrow(ui: &mut egui::Ui, descending: bool) {
    let (rect, _) = ui.allocate_exact_size(egui::vec2(8.0, 8.0), egui::Sense::hover());
    let (top, bottom) = (rect.top(), rect.bottom());
    let points = if descending {
        vec![
            rect.left_top(),
            rect.right_top(),
            egui::pos2(rect.center().x, bottom),
        ]
    } else {
        vec![
            rect.left_bottom(),
            rect.right_bottom(),
            egui::pos2(rect.center().x, top),
        ]
    };
    let color = ui.visuals().strong_text_color();
    ui.painter().add(egui::Shape::convex_polygon(
        points,
        color,
        egui::Stroke::NONE,
    ));
}

/// The class's attendance per session over time, as a small plot.
fn trend_ui(ui: &mut egui::Ui, trend: &[SessionPoint]) {
    let points: Vec<[f64; 2]> = trend
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.percent().map(|v| [(i + 1) as f64, v]))
        .collect();
    let mean = if points.is_empty() {
        0.0
    } else {
        points.iter().map(|p| p[1]).sum::<f64>() / points.len() as f64
    };
    ui.strong(format!(
        "Class attendance over {} sessions (mean {mean:.0}%)",
        trend.len()
    ));
    egui_plot::Plot::new("class-trend")
        .height(style::PLOT_HEIGHT)
        .include_y(0.0)
        .include_y(100.0)
        .include_x(1.0)
        .allow_drag(false)
        .allow_zoom(false)
        .allow_scroll(false)
        .x_axis_label("session (oldest first)")
        .y_axis_label("% attended")
        .show(ui, |p| {
            p.line(egui_plot::Line::new(
                "attended",
                egui_plot::PlotPoints::from(points.clone()),
            ));
            p.points(
                egui_plot::Points::new("sessions", egui_plot::PlotPoints::from(points)).radius(2.5),
            );
        });
}

fn roll_ui(ui: &mut egui::Ui, session: Option<&SessionRow>, roll: &[RollEntry]) {
    let Some(s) = session else { return };
    ui.strong(format!("Session #{} on {}", s.id, local_time(s.started_ms)));
    egui_extras::TableBuilder::new(ui)
        .id_salt("report-roll")
        .striped(true)
        .min_scrolled_height(style::MIN_TABLE_HEIGHT)
        .auto_shrink([false, false])
        .column(egui_extras::Column::auto().at_least(140.0))
        .column(egui_extras::Column::auto().at_least(60.0))
        .column(egui_extras::Column::auto().at_least(50.0))
        .column(egui_extras::Column::auto().at_least(50.0))
        .column(egui_extras::Column::remainder())
        .header(style::TEXT_ROW_HEIGHT, |mut h| {
            for title in ["Name", "Status", "Time", "Source", "Distance"] {
                h.col(|ui| {
                    ui.strong(title);
                });
            }
        })
        .body(|body| {
            body.rows(style::TEXT_ROW_HEIGHT, roll.len(), |mut row| {
                let e = &roll[row.index()];
                let m = e.mark.as_ref();
                row.col(|ui| {
                    ui.label(&e.name);
                });
                row.col(|ui| {
                    ui.colored_label(style::status_color(e.status()), e.status().as_str());
                });
                row.col(|ui| {
                    ui.label(
                        m.map(|m| clock_time(m.frame_ms.unwrap_or(m.marked_ms)))
                            .unwrap_or_default(),
                    );
                });
                row.col(|ui| {
                    ui.label(m.map_or("", |m| m.source.as_str()));
                });
                row.col(|ui| {
                    ui.label(
                        m.and_then(|m| m.score)
                            .map(|v| format!("{v:.3}"))
                            .unwrap_or_default(),
                    );
                });
            });
        });
}

/// The name of an export layout in the window.
fn layout_label(layout: ExportFormat) -> &'static str {
    match layout {
        ExportFormat::Long => "One row per student and session",
        ExportFormat::Matrix => "Matrix (students × sessions)",
        ExportFormat::Sis => "Information system (codes from Settings)",
    }
}
