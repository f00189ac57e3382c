//! The app shell: owns the store and the screens, draws the tab bar and messages, and runs the
//! commands the screens pushed, once per frame.

use super::ScreenCtx;
use super::attendance::AttendanceScreen;
use super::command::{self, Command};
use super::pipeline_cell::PipelineCell;
use super::reports::ReportsScreen;
use super::roster::RosterScreen;
use super::screen::Screen;
use super::settings::SettingsScreen;
use super::style;
use super::training::TrainingScreen;
use super::widgets::notices::{Level, Notices};
use super::workers::commands::Jobs;
use crate::store::Store;
use std::path::PathBuf;

/// The screens that exist in this build, in tab order.
const TABS: [Screen; 5] = [
    Screen::Roster,
    Screen::Attendance,
    Screen::Training,
    Screen::Reports,
    Screen::Settings,
];

/// A window opened on this machine's offline copy because the school server could not be
/// reached at the start.
#[derive(Clone, Debug)]
struct OfflineStart {
    /// The server the lessons are sent to when it is back.
    server: crate::store::Location,
    /// Why it could not be reached.
    reason: String,
}

/// The whole application.
pub struct RollcallApp {
    store: Store,
    screen: Screen,
    data_version: u64,
    commands: Vec<Command>,
    notices: Notices,
    roster: RosterScreen,
    attendance: AttendanceScreen,
    training: TrainingScreen,
    reports: ReportsScreen,
    settings: SettingsScreen,
    jobs: Option<Jobs>,
    pipeline: PipelineCell,
    offline: Option<OfflineStart>,
    /// The school server being tried again from the offline banner: it answers with the
    /// server's store and how many offline changes were sent to it.
    reconnecting: Option<std::sync::mpsc::Receiver<anyhow::Result<(Store, usize)>>>,
    // Held for the life of the window; never read.
    #[allow(dead_code)]
    instance_lock: Option<crate::store::InstanceLock>,
}

impl std::fmt::Debug for RollcallApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RollcallApp")
            .field("screen", &self.screen)
            .finish_non_exhaustive()
    }
}

impl RollcallApp {
    /// The app on an open database, showing the Roster screen.
    #[must_use]
    pub fn new(store: Store) -> Self {
        Self {
            store,
            screen: Screen::Roster,
            data_version: 0,
            commands: Vec::new(),
            notices: Notices::default(),
            roster: RosterScreen::default(),
            attendance: AttendanceScreen::default(),
            training: TrainingScreen::default(),
            reports: ReportsScreen::default(),
            settings: SettingsScreen::with_choice_file(crate::store::choice::default_choice_file()),
            jobs: None,
            pipeline: PipelineCell::default(),
            offline: None,
            reconnecting: None,
            instance_lock: None,
        }
    }

    /// Saves the Settings screen's database choice in `file` instead of the user's
    /// configuration folder (for tests).
    #[must_use]
    pub fn with_choice_file(mut self, file: PathBuf) -> Self {
        self.settings = SettingsScreen::with_choice_file(Some(file));
        self
    }

    /// The app on this machine's offline copy of the school server `server`, which could not be
    /// reached (`reason`): lessons, reviews and marks by hand are taken on the copy and sent
    /// when the server is back; roster changes are refused, as the next refresh of the copy
    /// would drop them.
    #[must_use]
    pub fn offline_from(mut self, server: crate::store::Location, reason: String) -> Self {
        self.offline = Some(OfflineStart { server, reason });
        self
    }

    /// Whether the window runs on the offline copy.
    #[must_use]
    pub fn is_offline(&self) -> bool {
        self.offline.is_some()
    }

    /// Keeps the database's window lock for as long as the app lives.
    #[must_use]
    pub fn with_instance_lock(mut self, lock: Option<crate::store::InstanceLock>) -> Self {
        self.instance_lock = lock;
        self
    }

    /// The database.
    #[must_use]
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The screen on display.
    #[must_use]
    pub fn screen(&self) -> Screen {
        self.screen
    }

    /// Messages shown to the teacher.
    #[must_use]
    pub fn notices(&self) -> &Notices {
        &self.notices
    }

    /// The Roster screen.
    #[must_use]
    pub fn roster(&self) -> &RosterScreen {
        &self.roster
    }

    /// The Reports screen.
    #[must_use]
    pub fn reports(&self) -> &ReportsScreen {
        &self.reports
    }

    /// Draws one frame and then runs the commands it produced.
    pub fn ui_root(&mut self, ui: &mut egui::Ui) {
        self.poll_reconnect();
        self.poll_jobs(ui.ctx());
        self.pump(ui.ctx());
        egui::Panel::top("tabs").show(ui, |ui| {
            ui.horizontal(|ui| {
                ui.strong("rollcall");
                ui.separator();
                for tab in TABS {
                    if ui
                        .selectable_label(self.screen == tab, tab.title())
                        .clicked()
                    {
                        self.commands.push(Command::Show(tab));
                    }
                }
            });
            if let Some(off) = &self.offline {
                let mut retry = false;
                ui.horizontal_wrapped(|ui| {
                    ui.colored_label(
                        style::WARNING,
                        format!(
                            "Offline: the school server {} cannot be reached. This is this \
                             machine's copy of the classes it took attendance for: lessons, \
                             reviews and marks by hand are kept here and sent when the server is \
                             back. Roster changes wait for the server.",
                            off.server
                        ),
                    )
                    .on_hover_text(&off.reason);
                    if self.reconnecting.is_some() {
                        ui.spinner();
                    } else {
                        retry = ui.button("Try the server again").clicked();
                    }
                });
                if retry {
                    self.try_server(ui.ctx());
                }
            }
        });
        let busy: Vec<String> = self
            .jobs
            .as_ref()
            .map(|j| j.pending().to_vec())
            .unwrap_or_default();
        let progress = self.jobs.as_ref().and_then(Jobs::progress);
        if !self.notices.items().is_empty() || !busy.is_empty() {
            egui::Panel::bottom("notices").show(ui, |ui| {
                for (i, label) in busy.iter().enumerate() {
                    ui.horizontal(|ui| {
                        ui.spinner();
                        ui.label(format!("{label}…"));
                        // The running job (the oldest) reports how far it is.
                        if let (0, Some((done, total))) = (i, progress) {
                            ui.add(
                                egui::ProgressBar::new(done as f32 / total.max(1) as f32)
                                    .desired_width(style::PROGRESS_WIDTH)
                                    .text(format!("{done} of {total}")),
                            );
                        }
                    });
                }
                // At most a few lines high, newest in view: the screen keeps its height.
                egui::ScrollArea::vertical()
                    .id_salt("notices")
                    .max_height(style::NOTICES_HEIGHT)
                    .stick_to_bottom(true)
                    .show(ui, |ui| self.notices.ui(ui));
            });
        }
        egui::CentralPanel::default().show(ui, |ui| {
            let mut cx = ScreenCtx {
                store: &self.store,
                data_version: self.data_version,
                commands: &mut self.commands,
                notices: &mut self.notices,
            };
            match self.screen {
                Screen::Roster => self.roster.ui(ui, &mut cx),
                Screen::Reports => self.reports.ui(ui, &mut cx),
                Screen::Settings => self.settings.ui(ui, &mut cx),
                Screen::Attendance => self.attendance.ui(ui, &mut cx),
                Screen::Training => self.training.ui(ui, &mut cx),
            }
        });
        if !self.commands.is_empty() {
            self.run_commands(ui.ctx());
            ui.ctx().request_repaint();
        }
    }

    /// Runs every pending command: each one's message or error goes to the notice area.
    pub fn run_commands(&mut self, ctx: &egui::Context) {
        for cmd in std::mem::take(&mut self.commands) {
            if let Command::Show(screen) = cmd {
                self.screen = screen;
                continue;
            }
            match &cmd {
                Command::StartLive { class, source } => {
                    // Offline, a lesson still belongs to the server: it runs on the copy and
                    // moves to the server when it answers.
                    let db = match &self.offline {
                        Some(off) => Some(off.server.clone()),
                        None => self.store.location(),
                    };
                    if let Err(err) = self.attendance.start_live(ctx, db.as_ref(), *class, source) {
                        self.notices
                            .push(Level::Error, format!("Could not start attendance: {err:#}"));
                    } else if let Some(camera) = source.to_setting(self.attendance.cameras()) {
                        self.remember_camera(camera);
                    }
                    continue;
                }
                Command::StopLive => {
                    self.attendance.stop_live();
                    continue;
                }
                Command::StartTraining => {
                    let models = self.store.location().map_or_else(
                        || std::env::temp_dir().join("rollcall-models"),
                        |l| crate::workflow::train::models_dir(&l),
                    );
                    self.training.start(ctx, models);
                    continue;
                }
                Command::CancelTraining => {
                    self.training.cancel();
                    continue;
                }
                _ => {}
            }
            if self.offline.is_some() && command::needs_server(&cmd) {
                self.notices.push(
                    Level::Error,
                    "Offline: roster, consent and settings changes need the school server (the \
                     copy on this machine is replaced from it at the next lesson online). \
                     Attendance, reviews and marks by hand work offline.",
                );
                continue;
            }
            if command::is_slow(&cmd) {
                let label = command::label(&cmd);
                let submitted = match self.jobs.as_mut() {
                    Some(jobs) => jobs.submit(label, cmd),
                    None => Err(anyhow::anyhow!("the worker thread is not running")),
                };
                if let Err(err) = submitted {
                    self.notices.push(Level::Error, format!("{err:#}"));
                }
                continue;
            }
            let result = command::run(&self.store, &mut self.pipeline, &cmd, &|_, _| {});
            self.report(result);
        }
    }

    /// Feeds camera frames to recognition and takes its reports (also while hidden).
    pub fn pump(&mut self, ctx: &egui::Context) {
        if self.attendance.pump(ctx, &mut self.notices) {
            self.data_version += 1;
        }
        self.training.pump();
    }

    /// The Training screen.
    #[must_use]
    pub fn training(&self) -> &TrainingScreen {
        &self.training
    }

    /// The Attendance screen.
    #[must_use]
    pub fn attendance(&self) -> &AttendanceScreen {
        &self.attendance
    }

    /// Preselects the Attendance screen's camera (from `--camera` or `--replay`).
    pub fn choose_source(&mut self, spec: &crate::camera::SourceSpec) {
        self.attendance.choose_source(spec);
    }

    /// Opens the Attendance screen and starts taking attendance for `class` (name or id) with
    /// `source` (default: the first camera, else the demo camera).
    pub fn attend(&mut self, class: &str, source: Option<&crate::camera::SourceSpec>) {
        let c = match self.store.find_class(class) {
            Ok(c) => c,
            Err(err) => {
                self.notices
                    .push(Level::Error, format!("Cannot start attendance: {err}"));
                return;
            }
        };
        if let Some(spec) = source {
            self.attendance.choose_source(spec);
        }
        let choice = self.attendance.chosen_source().unwrap_or_else(|| {
            let first = crate::camera::list_cameras().ok().and_then(|scan| {
                scan.cameras
                    .into_iter()
                    .find(crate::camera::CameraDevice::usable)
            });
            first.map_or(super::source_choice::SourceChoice::Demo, |cam| {
                super::source_choice::SourceChoice::Camera(cam.index)
            })
        });
        self.commands.push(Command::Show(Screen::Attendance));
        self.commands.push(Command::StartLive {
            class: c.id,
            source: choice,
        });
    }

    /// Shows `screen` (and the part of it named) as the window opens.
    pub fn open_on(&mut self, screen: crate::workflow::WindowScreen) {
        use crate::workflow::WindowScreen as W;
        self.screen = match screen {
            W::Roster => Screen::Roster,
            W::Attendance | W::Review => Screen::Attendance,
            W::Training => Screen::Training,
            W::Reports | W::Students => Screen::Reports,
            W::Settings => Screen::Settings,
        };
        if screen == W::Review {
            self.attendance.show_side(super::attendance::Side::Review);
        }
        if screen == W::Students {
            self.reports.show_tab(super::reports::ReportTab::Students);
        }
    }

    /// Saves the camera choice in the settings, when it changed.
    fn remember_camera(&mut self, camera: String) {
        let saved = self.store.settings().and_then(|s| {
            if s.camera.as_deref() == Some(camera.as_str()) {
                return Ok(());
            }
            self.store.save_settings(&crate::store::Settings {
                camera: Some(camera),
                ..s
            })
        });
        if let Err(err) = saved {
            log::warn!("could not remember the camera: {err}");
        }
    }

    /// Whether slow work is queued or running (enrollment, import, trying the server).
    #[must_use]
    pub fn is_busy(&self) -> bool {
        self.reconnecting.is_some() || self.jobs.as_ref().is_some_and(|j| !j.pending().is_empty())
    }

    /// Tries the school server of an offline window again on a thread: when it answers, what
    /// this machine took offline is sent, and the window goes on on the server.
    fn try_server(&mut self, ctx: &egui::Context) {
        let Some(off) = &self.offline else { return };
        let crate::store::Location::Server(url) = off.server.clone() else {
            return;
        };
        // The window's store is the copy; the thread opens its own connection to it.
        let Some(copy) = self.store.location() else {
            return;
        };
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let c = ctx.clone();
        let spawned = std::thread::Builder::new()
            .name("reconnect".into())
            .spawn(move || {
                let result = (|| -> anyhow::Result<(Store, usize)> {
                    let server = crate::workflow::open(&crate::store::Location::Server(url))?;
                    let sent = crate::workflow::open(&copy)?.send_waiting_changes(&server)?;
                    Ok((server, sent.total()))
                })();
                let _ = tx.send(result);
                c.request_repaint();
            });
        match spawned {
            Ok(_) => self.reconnecting = Some(rx),
            Err(err) => self
                .notices
                .push(Level::Error, format!("Could not try the server: {err}")),
        }
    }

    /// Takes the answer of [`Self::try_server`], if it came.
    fn poll_reconnect(&mut self) {
        let Some(rx) = &self.reconnecting else { return };
        let answer = match rx.try_recv() {
            Ok(answer) => answer,
            Err(std::sync::mpsc::TryRecvError::Empty) => return,
            Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                Err(anyhow::anyhow!("the reconnecting thread stopped"))
            }
        };
        self.reconnecting = None;
        match answer {
            Ok((server, sent)) => {
                // Fresh connections for the workers, on the server now.
                self.store = server;
                self.jobs = None;
                self.pipeline = PipelineCell::default();
                self.offline = None;
                self.data_version += 1;
                self.notices.push(
                    Level::Info,
                    format!(
                        "Back online on the school server: sent the {sent} change(s) taken on \
                         this machine"
                    ),
                );
            }
            Err(err) => self.notices.push(
                Level::Error,
                format!("The school server still cannot be reached: {err:#}"),
            ),
        }
    }

    fn poll_jobs(&mut self, ctx: &egui::Context) {
        let jobs = self.jobs.get_or_insert_with(|| {
            let c = ctx.clone();
            Jobs::new(self.store.location(), move || c.request_repaint())
        });
        for (_, result) in jobs.poll() {
            self.report(result);
        }
    }

    fn report(&mut self, result: anyhow::Result<command::Outcome>) {
        match result {
            Ok(outcome) => {
                if outcome.data_changed {
                    self.data_version += 1;
                }
                if !outcome.message.is_empty() {
                    self.notices.push(Level::Info, outcome.message);
                }
            }
            Err(err) => {
                log::warn!("{err:#}");
                self.notices.push(Level::Error, format!("{err:#}"));
            }
        }
    }
}

impl eframe::App for RollcallApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        // Attendance goes on while the window is hidden or minimised.
        self.pump(ctx);
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.ui_root(ui);
    }
}

#[cfg(test)]
mod tests;
