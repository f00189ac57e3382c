//! Messages for the teacher (results of actions and errors), shown in the window rather than
//! only in a log.

use std::time::{Duration, Instant};

use crate::gui::style;

/// How serious a notice is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// Something worked.
    Info,
    /// Something worked with a caveat.
    Warning,
    /// Something failed; nothing was changed.
    Error,
}

/// One message.
#[derive(Clone, Debug)]
pub struct Notice {
    /// Severity.
    pub level: Level,
    /// The text.
    pub text: String,
    shown_at: Instant,
}

/// The list of recent messages.
#[derive(Debug, Default)]
pub struct Notices {
    items: Vec<Notice>,
}

impl Notices {
    /// Adds a message.
    pub fn push(&mut self, level: Level, text: impl Into<String>) {
        self.items.push(Notice {
            level,
            text: text.into(),
            shown_at: Instant::now(),
        });
        if self.items.len() > 6 {
            self.items.remove(0);
        }
    }

    /// The current messages, oldest first.
    #[must_use]
    pub fn items(&self) -> &[Notice] {
        &self.items
    }

    /// Draws the messages. Info and warnings go at the first repaint after eight seconds (no timer
    /// wakes the window for them); errors stay until dismissed.
    pub fn ui(&mut self, ui: &mut egui::Ui) {
        let now = Instant::now();
        self.items.retain(|n| {
            n.level == Level::Error || now.duration_since(n.shown_at) < Duration::from_secs(8)
        });
        let mut dismiss = None;
        for (i, n) in self.items.iter().enumerate() {
            ui.horizontal(|ui| {
                let (color, tag) = match n.level {
                    Level::Info => (style::OK, "Done"),
                    Level::Warning => (style::WARNING, "Warning"),
                    Level::Error => (style::ERROR, "Error"),
                };
                ui.colored_label(color, tag);
                ui.label(&n.text);
                if ui.small_button("Dismiss").clicked() {
                    dismiss = Some(i);
                }
            });
        }
        if let Some(i) = dismiss {
            self.items.remove(i);
        }
    }
}
