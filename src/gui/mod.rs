//! The desktop window (eframe/egui): one struct per screen with a `ui` method, buttons that push
//! [`Command`]s run in one place per frame, and slow work on named threads.

pub mod app;
pub mod attendance;
pub mod capture;
pub mod command;
pub mod password;
pub mod pipeline_cell;
pub mod reports;
pub mod roster;
pub mod screen;
pub mod settings;
pub mod source_choice;
pub mod style;
pub mod training;
pub mod widgets;
pub mod workers;

pub use app::RollcallApp;
pub use command::Command;
pub use screen::Screen;

use crate::store::Store;
use widgets::notices::{Level, Notices};

/// What every screen gets while drawing: read access to the store, the data version (screens
/// reload their view when it changes), and where to push commands and messages.
pub struct ScreenCtx<'a> {
    /// The database (read it; change it only through commands).
    pub store: &'a Store,
    /// Increases whenever a command changed stored data.
    pub data_version: u64,
    /// Commands to run after this frame.
    pub commands: &'a mut Vec<Command>,
    /// Messages for the teacher.
    pub notices: &'a mut Notices,
}

impl ScreenCtx<'_> {
    /// Shows an error in the window (and logs it once).
    pub fn error(&mut self, message: impl Into<String>) {
        let message = message.into();
        log::warn!("{message}");
        self.notices.push(Level::Error, message);
    }
}

/// Formats Unix milliseconds as local "2026-11-29 08:01".
#[must_use]
pub fn local_time(ms: i64) -> String {
    crate::workflow::local_time(ms)
}

/// Formats Unix milliseconds as the local time of day, "08:01" (where the date is clear from
/// the session).
#[must_use]
pub fn clock_time(ms: i64) -> String {
    let full = local_time(ms);
    full.rsplit(' ').next().unwrap_or(&full).to_owned()
}

/// The window's application id: the menu entry's name (packaging/), so the desktop matches
/// the window to its entry and icon.
const APP_ID: &str = "io.github.rollcall.Rollcall";
/// The window's icon (`assets/icons/`).
const ICON_PNG: &[u8] = include_bytes!("../../assets/icons/hicolor/64x64/apps/rollcall.png");

/// The window's root: the password question first when the school server asks for one, then
/// the app.
#[derive(Debug)]
pub enum Root {
    /// Asking for the server's password.
    Prompt(Box<password::PasswordPrompt>),
    /// The app.
    Main(Box<RollcallApp>),
}

impl Root {
    /// Draws one frame.
    pub fn ui_root(&mut self, ui: &mut egui::Ui) {
        match self {
            Self::Prompt(prompt) => {
                if let Some(app) = prompt.ui(ui) {
                    *self = Self::Main(Box::new(app));
                    ui.ctx().request_repaint();
                }
            }
            Self::Main(app) => app.ui_root(ui),
        }
    }
}

impl eframe::App for Root {
    fn logic(&mut self, ctx: &egui::Context, frame: &mut eframe::Frame) {
        if let Self::Main(app) = self {
            eframe::App::logic(app.as_mut(), ctx, frame);
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.ui_root(ui);
    }
}

/// The app on an open store (`offline`: why the server could not be reached, when `store` is
/// this machine's copy), with what the command line asked for.
fn build_app(
    store: crate::store::Store,
    offline: Option<String>,
    args: &crate::workflow::WindowArgs,
    lock: Option<crate::store::InstanceLock>,
) -> RollcallApp {
    if let Some(reason) = &offline {
        log::warn!("opening the offline copy: {reason}");
    }
    let mut app = RollcallApp::new(store).with_instance_lock(lock);
    if let Some(reason) = offline {
        app = app.offline_from(args.db.clone(), reason);
    }
    if let Some(source) = &args.source {
        app.choose_source(source);
    }
    if let Some(screen) = args.screen {
        app.open_on(screen);
    }
    if let Some(class) = &args.attend {
        app.attend(class, args.source.as_ref());
    }
    app
}

/// Opens the window on the database (with the camera chosen on the command line, if any) and
/// runs until it is closed. A school server that cannot be reached opens this machine's
/// offline copy; one that asks for a password asks for it first.
pub fn run(args: crate::workflow::WindowArgs) -> anyhow::Result<()> {
    // One window per file; a school server takes any number of windows.
    let lock = args
        .db
        .file()
        .map(crate::store::InstanceLock::acquire)
        .transpose()?;
    let opened = crate::workflow::offline::open_for_window(
        &args.db,
        crate::workflow::open,
        crate::workflow::offline::open_copy,
    );
    let root = match opened {
        Ok((store, offline)) => Root::Main(Box::new(build_app(store, offline, &args, lock))),
        Err(err) => match args.db.clone() {
            crate::store::Location::Server(url) if crate::workflow::needs_password(&err) => {
                Root::Prompt(Box::new(password::PasswordPrompt::new(url, args)))
            }
            _ => return Err(err),
        },
    };
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("rollcall")
            .with_app_id(APP_ID)
            .with_icon(
                eframe::icon_data::from_png_bytes(ICON_PNG)
                    .map(std::sync::Arc::new)
                    .unwrap_or_default(),
            )
            .with_inner_size([1280.0, 800.0])
            .with_min_inner_size([960.0, 600.0]),
        ..Default::default()
    };
    eframe::run_native(
        "rollcall",
        options,
        Box::new(move |cc| {
            style::apply(&cc.egui_ctx);
            Ok(Box::new(root))
        }),
    )
    .map_err(|err| anyhow::anyhow!("could not open the window: {err}"))
}
