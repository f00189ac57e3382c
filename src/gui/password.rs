//! The first screen when the school server asks for a password that none of libpq's places
//! (`~/.pgpass`, `PGPASSWORD`, a service file) holds: the teacher types it, and the window
//! opens on the server. The password stays in this process's memory only.

use super::RollcallApp;
use super::style;
use crate::store::{Location, ServerUrl};
use crate::workflow::WindowArgs;

/// The password question for `url`, and what the window opens with once connected.
pub struct PasswordPrompt {
    url: ServerUrl,
    args: WindowArgs,
    password: String,
    error: Option<String>,
}

impl std::fmt::Debug for PasswordPrompt {
    // Never the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordPrompt")
            .field("url", &self.url)
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

impl PasswordPrompt {
    /// The question for the server `url` (`args.db`).
    #[must_use]
    pub fn new(url: ServerUrl, args: WindowArgs) -> Self {
        Self {
            url,
            args,
            password: String::new(),
            error: None,
        }
    }

    /// Draws the question; returns the app once the server took the password.
    pub fn ui(&mut self, ui: &mut egui::Ui) -> Option<RollcallApp> {
        let mut submit = false;
        egui::CentralPanel::default().show(ui, |ui| {
            ui.heading("rollcall");
            ui.add_space(style::SECTION_GAP);
            ui.label(format!(
                "The school server {} asks for your password.",
                self.url.redacted()
            ));
            ui.horizontal(|ui| {
                let l = ui.label("Password");
                let field = ui
                    .add(
                        egui::TextEdit::singleline(&mut self.password)
                            .password(true)
                            .desired_width(240.0),
                    )
                    .labelled_by(l.id);
                if field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) {
                    submit = true;
                }
                if !field.has_focus() && self.password.is_empty() {
                    field.request_focus();
                }
                if ui.button("Connect").clicked() {
                    submit = true;
                }
            });
            if let Some(err) = &self.error {
                ui.colored_label(style::ERROR, err);
            }
            ui.weak("The password is kept in memory while rollcall runs and is never saved. To skip this question, put it in ~/.pgpass (readable by you only) or PGPASSWORD, as for psql.");
        });
        if !submit {
            return None;
        }
        let password = std::mem::take(&mut self.password);
        let opened = crate::workflow::offline::open_for_window(
            &self.args.db,
            |location| match location {
                Location::Server(url) => crate::workflow::open_with_password(url, &password),
                other @ Location::File(_) => crate::workflow::open(other),
            },
            crate::workflow::offline::open_copy,
        );
        match opened {
            Ok((store, offline)) => Some(super::build_app(store, offline, &self.args, None)),
            Err(err) => {
                let refused = crate::workflow::needs_password(&err)
                    || format!("{err:#}").contains("password authentication failed");
                self.error = Some(if refused {
                    "The server did not take that password; type it again.".to_owned()
                } else {
                    format!("{err:#}")
                });
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Root;
    use super::*;
    use crate::store::cluster::{ADMIN, TempCluster};
    use egui_kittest::Harness;
    use egui_kittest::kittest::Queryable as _;

    #[test]
    fn a_wrong_password_is_asked_again_and_the_right_one_opens_the_window() {
        let Some(server) = TempCluster::start_or_skip("the password question") else {
            return;
        };
        server.create_database("prompt").unwrap();
        server
            .psql(
                ADMIN,
                "prompt",
                "CREATE ROLE ms_lee LOGIN SUPERUSER PASSWORD 'correct horse'",
            )
            .unwrap();
        server.require_password_for("ms_lee").unwrap();
        let url = server.url("ms_lee", "prompt");
        // Without a password the server refuses, as the window finds at its start.
        let err = crate::workflow::open(&Location::Server(url.clone())).unwrap_err();
        assert!(crate::workflow::needs_password(&err), "{err:#}");
        let args = WindowArgs {
            db: Location::Server(url.clone()),
            source: None,
            attend: None,
            screen: None,
        };
        let mut h = Harness::builder()
            .with_size(egui::vec2(1024.0, 600.0))
            .build_ui_state(
                |ui, root: &mut Root| root.ui_root(ui),
                Root::Prompt(Box::new(PasswordPrompt::new(url, args))),
            );
        h.run();
        h.get_by_label_contains("asks for your password");
        h.get_by_label("Password").type_text("wrong");
        h.run();
        h.get_by_label("Connect").click();
        h.run();
        h.get_by_label_contains("did not take that password");
        assert!(matches!(h.state(), Root::Prompt(_)));
        assert!(h.query_by_label_contains("wrong").is_none());
        h.get_by_label("Password").type_text("correct horse");
        h.run();
        h.get_by_label("Connect").click();
        h.run();
        h.run();
        assert!(matches!(h.state(), Root::Main(_)), "{:?}", h.state());
        h.get_by_label("Roster");
    }
}
