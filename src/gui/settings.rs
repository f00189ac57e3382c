//! The Settings screen: where the data lives, the recognition rules, and privacy.

use std::path::PathBuf;

use super::ScreenCtx;
use super::command::Command;
use super::style;
use super::widgets::file_picker::{Dialog, FilePicker};
use crate::store::{EncoderRow, Location, ServerUrl, Settings, choice};
use crate::vision::pipeline::BuiltinEncoder;

/// The Settings screen's state: an editable copy of the saved settings.
#[derive(Debug, Default)]
pub struct SettingsScreen {
    edit: Option<Settings>,
    encoders: Vec<EncoderRow>,
    loaded_version: Option<u64>,
    database: DatabaseChoice,
}

/// The "Open another database" form and the saved choice of the next start.
#[derive(Debug, Default)]
struct DatabaseChoice {
    /// Where the choice is saved (`None`: this user has no configuration folder).
    file: Option<PathBuf>,
    /// The saved choice, as last read.
    saved: Option<Result<Location, String>>,
    /// Whether the form is for a school server rather than a file.
    server: bool,
    /// What was typed: a file's path or the server's address.
    text: String,
    picker: FilePicker,
}

/// The location typed into the form: a file's full path, or a server's address (with or
/// without `postgresql://`).
pub fn typed_location(server: bool, text: &str) -> Result<Location, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err(if server {
            "Type the school server's address, like postgresql://teacher@school-server/rollcall"
                .to_owned()
        } else {
            "Type or choose the database file".to_owned()
        });
    }
    let location = if server {
        let url = if ServerUrl::is_server(text) {
            text.to_owned()
        } else {
            format!("postgresql://{text}")
        };
        Location::Server(url.parse()?)
    } else if ServerUrl::is_server(text) {
        return Err("That is a server address: choose \"The school's server\" first".to_owned());
    } else {
        Location::File(PathBuf::from(text))
    };
    choice::check(&location).map_err(|e| e.to_string())?;
    Ok(location)
}

/// One encoder offered on the screen.
#[derive(Clone, Debug, PartialEq)]
pub struct EncoderChoice {
    /// What the switch command is given (a built-in name or a registered id).
    pub key: String,
    /// A name for people.
    pub title: String,
    /// What was measured of it, for the teacher.
    pub measured: String,
    /// Whether attendance uses it now.
    pub active: bool,
}

/// The encoders to offer: the built-in ones first (whether registered yet or not), then the
/// trained models registered in the database.
#[must_use]
pub fn encoder_choices(rows: &[EncoderRow]) -> Vec<EncoderChoice> {
    let builtin_row = |b: BuiltinEncoder| {
        rows.iter()
            .find(|r| crate::workflow::encoders::builtin_of(r) == Some(b))
    };
    let mut out: Vec<EncoderChoice> = BuiltinEncoder::ALL
        .into_iter()
        .map(|b| EncoderChoice {
            key: b.name().to_owned(),
            title: b.title().to_owned(),
            measured: b.measured().to_owned(),
            active: builtin_row(b).is_some_and(|r| r.is_active),
        })
        .collect();
    out.extend(
        rows.iter()
            .filter(|r| crate::workflow::encoders::builtin_of(r).is_none())
            .map(|r| EncoderChoice {
                key: r.id.to_string(),
                title: r.name.clone(),
                measured: format!("threshold {:.3}, {}-D", r.default_threshold, r.dim),
                active: r.is_active,
            }),
    );
    out
}

impl SettingsScreen {
    /// The screen, saving the database choice in `choice_file` (the user's configuration
    /// folder in the window; a temporary file in tests).
    #[must_use]
    pub fn with_choice_file(choice_file: Option<PathBuf>) -> Self {
        Self {
            database: DatabaseChoice {
                file: choice_file,
                ..DatabaseChoice::default()
            },
            ..Self::default()
        }
    }

    /// Draws the screen.
    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &mut ScreenCtx<'_>) {
        egui::ScrollArea::vertical()
            .id_salt("settings")
            .show(ui, |ui| self.settings_ui(ui, cx));
    }

    fn settings_ui(&mut self, ui: &mut egui::Ui, cx: &mut ScreenCtx<'_>) {
        if self.loaded_version != Some(cx.data_version) || self.edit.is_none() {
            match cx.store.settings() {
                Ok(s) => self.edit = Some(s),
                Err(err) => cx.error(format!("Could not read the settings: {err}")),
            }
            match cx.store.list_encoders() {
                Ok(rows) => self.encoders = rows,
                Err(err) => cx.error(format!("Could not read the encoders: {err}")),
            }
            self.database.saved = self
                .database
                .file
                .as_deref()
                .and_then(|f| choice::load(f).map_err(|e| e.to_string()).transpose());
            self.loaded_version = Some(cx.data_version);
        }
        ui.heading("Settings");
        self.database.ui(ui, cx);
        let Some(s) = self.edit.as_mut() else { return };

        ui.strong("Recognition rules");
        // A custom margin starts from the active encoder's own.
        let encoder_margin = self
            .encoders
            .iter()
            .find(|e| e.is_active)
            .map_or(crate::workflow::encoders::DLIB_MARGIN, |e| e.default_margin);
        egui::Grid::new("rules").num_columns(2).show(ui, |ui| {
            let l = ui.label("Frames to confirm");
            ui.add(egui::DragValue::new(&mut s.frames_to_confirm).range(1..=20))
                .labelled_by(l.id);
            ui.end_row();
            let l = ui.label("Out of the last frames");
            ui.add(egui::DragValue::new(&mut s.window_frames).range(1..=50))
                .labelled_by(l.id);
            ui.end_row();
            let mut custom = s.min_margin.is_some();
            ui.checkbox(&mut custom, "Custom margin");
            if custom {
                let m = s.min_margin.get_or_insert(encoder_margin);
                ui.add(egui::DragValue::new(m).range(0.0..=1.0).speed(0.005));
            } else {
                s.min_margin = None;
                ui.weak("the encoder's default");
            }
            ui.end_row();
        });
        ui.weak("A student is marked only when the best match clears the class threshold, beats the runner-up by the margin, and wins that many of the recent frames.");
        ui.add_space(style::SECTION_GAP);

        encoder_ui(&self.encoders, ui, cx);
        ui.add_space(style::SECTION_GAP);

        ui.strong("Privacy");
        ui.checkbox(
            &mut s.keep_evidence_crops,
            "Keep the face crop of each automatic mark as evidence",
        );
        let mut retain = s.retention_days.is_some();
        ui.horizontal(|ui| {
            ui.checkbox(&mut retain, "Delete photos and embeddings after");
            if retain {
                let d = s.retention_days.get_or_insert(365);
                ui.add(egui::DragValue::new(d).range(1..=3650).suffix(" days"));
            } else {
                s.retention_days = None;
            }
        });
        ui.weak("Attendance history is always kept; only biometric data is deleted.");
        ui.add_space(style::SECTION_GAP);

        ui.strong("Information system codes");
        egui::Grid::new("sis-codes").num_columns(4).show(ui, |ui| {
            let codes = &mut s.sis_codes;
            for (label, code) in [
                ("Present", &mut codes.present),
                ("Late", &mut codes.late),
                ("Absent", &mut codes.absent),
                ("Excused", &mut codes.excused),
            ] {
                let l = ui.label(label);
                ui.add(egui::TextEdit::singleline(code).desired_width(60.0))
                    .labelled_by(l.id);
            }
            ui.end_row();
        });
        ui.weak("The attendance codes the school's information system takes back, written by the Reports screen's \"Information system\" export (for example P, T, A, E).");
        ui.add_space(style::SECTION_GAP);

        ui.horizontal(|ui| {
            if ui.button("Save settings").clicked() {
                cx.commands.push(Command::SaveSettings(s.clone()));
            }
            if let Some(days) = s.retention_days
                && ui.button("Delete expired biometric data now").clicked()
            {
                cx.commands.push(Command::PurgeExpired(days));
            }
        });
    }
}

impl DatabaseChoice {
    /// The "Data" section: where the data is now, which database the next start opens, and
    /// the form to choose another.
    fn ui(&mut self, ui: &mut egui::Ui, cx: &mut ScreenCtx<'_>) {
        if let Some(Some(path)) = self.picker.poll() {
            self.server = false;
            self.text = path.display().to_string();
        }
        ui.strong("Data");
        let current = cx.store.location();
        match &current {
            Some(Location::File(p)) => {
                ui.label(format!("Database file: {}", p.display()));
                ui.weak("Everything (roster, photos, attendance) is in this one file.");
            }
            Some(Location::Server(url)) => {
                ui.label(format!("School server: {}", url.redacted()));
                ui.weak("The roster, photos and attendance are on the school's PostgreSQL server; the password comes from PGPASSWORD, ~/.pgpass or a service file, never from rollcall.");
            }
            None => {
                ui.label("Database in memory (nothing is saved)");
            }
        }
        let Some(file) = self.file.clone() else {
            ui.weak("This user has no configuration folder: choose the database with --db or ROLLCALL_DB.");
            ui.add_space(style::SECTION_GAP);
            return;
        };
        match &self.saved {
            Some(Ok(next)) if Some(next) != current.as_ref() => {
                ui.colored_label(style::WARNING, format!("From the next start: {next}"));
            }
            Some(Err(why)) => {
                ui.colored_label(style::ERROR, why);
            }
            _ => {}
        }
        ui.horizontal_wrapped(|ui| {
            ui.label("Open another database:");
            ui.radio_value(&mut self.server, false, "A database file");
            ui.radio_value(&mut self.server, true, "The school's server");
        });
        ui.horizontal(|ui| {
            let (label, hint) = if self.server {
                (
                    "Server address",
                    "postgresql://teacher@school-server/rollcall",
                )
            } else {
                ("Database file", "/home/teacher/rollcall.db")
            };
            let l = ui.label(label);
            ui.add(
                egui::TextEdit::singleline(&mut self.text)
                    .hint_text(hint)
                    .desired_width(340.0),
            )
            .labelled_by(l.id);
            if !self.server
                && ui
                    .add_enabled(!self.picker.is_open(), egui::Button::new("Browse…"))
                    .clicked()
            {
                let ctx = ui.ctx().clone();
                self.picker
                    .open(Dialog::Database, move || ctx.request_repaint());
            }
        });
        ui.horizontal(|ui| {
            if ui
                .button("Open and use from the next start")
                .on_hover_text(
                    "Opens it now to check it (a new file is created), then saves the choice",
                )
                .clicked()
            {
                match typed_location(self.server, &self.text) {
                    Ok(location) => cx.commands.push(Command::ChooseDatabase {
                        location,
                        choice_file: file.clone(),
                    }),
                    Err(why) => cx.error(why),
                }
            }
            if self.saved.is_some() && ui.button("Back to the default file").clicked() {
                cx.commands.push(Command::ForgetDatabase(file.clone()));
            }
        });
        ui.weak(format!(
            "The choice is saved in {}; --db and ROLLCALL_DB still win over it. A server's password is never saved: put it in ~/.pgpass (readable by you only) or PGPASSWORD.",
            file.display()
        ));
        ui.add_space(style::SECTION_GAP);
    }
}

/// The face encoder section: which encoder attendance uses, what was measured of each, and the
/// switch (which re-embeds the roster on the worker thread, with progress below).
fn encoder_ui(encoders: &[EncoderRow], ui: &mut egui::Ui, cx: &mut ScreenCtx<'_>) {
    ui.strong("Face encoder");
    egui::Grid::new("encoders")
        .num_columns(3)
        .striped(true)
        .show(ui, |ui| {
            for choice in encoder_choices(encoders) {
                ui.label(&choice.title);
                ui.weak(&choice.measured);
                if choice.active {
                    ui.colored_label(style::OK, "in use");
                } else if ui
                    .button("Use for attendance")
                    .on_hover_text("Re-embeds every enrollment photo with this encoder")
                    .clicked()
                {
                    cx.commands.push(Command::UseEncoder(choice.key.clone()));
                }
                ui.end_row();
            }
        });
    ui.weak("Embeddings of different encoders are never compared. Switching re-embeds the roster's photos; the old embeddings are kept, so switching back is instant.");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typed_database_is_a_full_path_or_a_server_without_a_password() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("7B.db");
        assert_eq!(
            typed_location(false, &format!(" {} ", file.display())),
            Ok(Location::File(file))
        );
        let server = typed_location(true, "teacher@school-server:5433/rollcall").unwrap();
        assert_eq!(
            server.to_string(),
            "postgresql://teacher@school-server:5433/rollcall"
        );
        assert_eq!(
            typed_location(true, "postgresql://teacher@school-server/rollcall")
                .unwrap()
                .to_string(),
            "postgresql://teacher@school-server/rollcall"
        );
        for (server, text, why) in [
            (false, "", "choose the database file"),
            (true, "  ", "server's address"),
            (false, "class.db", "not a full path"),
            (
                false,
                "postgresql://school-server/rollcall",
                "a server address",
            ),
            (
                true,
                "teacher:pw@school-server/rollcall",
                "does not save passwords",
            ),
            (
                true,
                "school-server/rollcall?colour=red",
                "does not know the parameter",
            ),
        ] {
            let err = typed_location(server, text).unwrap_err();
            assert!(err.contains(why), "{text:?}: {err}");
            assert!(!err.contains(":pw@"), "{err}");
        }
    }
}
