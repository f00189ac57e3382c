//! The Settings screen: where the data lives, the recognition rules, and privacy.

use super::ScreenCtx;
use super::command::Command;
use super::style;
use crate::store::{EncoderRow, Settings};
use crate::vision::pipeline::BuiltinEncoder;

/// The Settings screen's state: an editable copy of the saved settings.
#[derive(Debug, Default)]
pub struct SettingsScreen {
    edit: Option<Settings>,
    encoders: Vec<EncoderRow>,
    loaded_version: Option<u64>,
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
            self.loaded_version = Some(cx.data_version);
        }
        let Some(s) = self.edit.as_mut() else { return };
        ui.heading("Settings");

        ui.strong("Data");
        match cx.store.location() {
            Some(crate::store::Location::File(p)) => {
                ui.label(format!("Database file: {}", p.display()));
                ui.weak("Everything (roster, photos, attendance) is in this one file. Choose another, or the school server (postgresql://…), with --db or ROLLCALL_DB.");
            }
            Some(crate::store::Location::Server(url)) => {
                ui.label(format!("School server: {}", url.redacted()));
                ui.weak("The roster, photos and attendance are on the school's PostgreSQL server; the password comes from PGPASSWORD, ~/.pgpass or a service file, never from rollcall.");
            }
            None => {
                ui.label("Database in memory (nothing is saved)");
            }
        }
        ui.add_space(style::SECTION_GAP);

        ui.strong("Recognition rules");
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
                let m = s.min_margin.get_or_insert(0.05);
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
