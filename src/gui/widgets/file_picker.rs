//! Native file dialogs (rfd) run on their own thread, so the window keeps drawing while the
//! dialog is open; the chosen path arrives on a later frame.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, sync_channel};

/// What kind of dialog.
#[derive(Clone, Debug)]
pub enum Dialog {
    /// Choose an existing image file.
    OpenImage,
    /// Choose a folder.
    OpenFolder,
    /// Choose a ZIP file (a OneRoster bundle).
    OpenZip,
    /// Choose where to save a CSV file, suggesting a name.
    SaveCsv(String),
    /// Choose a database file (an existing one, or the name of a new one).
    Database,
}

/// A dialog that may be open.
#[derive(Debug, Default)]
pub struct FilePicker {
    pending: Option<Receiver<Option<PathBuf>>>,
}

impl FilePicker {
    /// Whether a dialog is open.
    #[must_use]
    pub fn is_open(&self) -> bool {
        self.pending.is_some()
    }

    /// Opens a dialog unless one is already open; `wake` repaints the window when it closes.
    pub fn open(&mut self, dialog: Dialog, wake: impl Fn() + Send + 'static) {
        if self.pending.is_some() {
            return;
        }
        let (tx, rx) = sync_channel(1);
        let spawned = std::thread::Builder::new()
            .name("file-dialog".into())
            .spawn(move || {
                let picked = match dialog {
                    Dialog::OpenImage => rfd::FileDialog::new()
                        .add_filter(
                            "Images",
                            &[
                                "jpg", "jpeg", "png", "bmp", "gif", "tif", "tiff", "webp", "pnm",
                                "ppm", "pgm",
                            ],
                        )
                        .pick_file(),
                    Dialog::OpenFolder => rfd::FileDialog::new().pick_folder(),
                    Dialog::OpenZip => rfd::FileDialog::new()
                        .add_filter("ZIP files", &["zip"])
                        .pick_file(),
                    Dialog::SaveCsv(name) => rfd::FileDialog::new()
                        .add_filter("CSV", &["csv"])
                        .set_file_name(name)
                        .save_file(),
                    Dialog::Database => rfd::FileDialog::new()
                        .add_filter("rollcall database", &["db", "sqlite"])
                        .set_file_name("rollcall.db")
                        .set_can_create_directories(true)
                        .save_file(),
                };
                // The receiver may be gone if the screen was closed; nothing to do then.
                let _ = tx.send(picked);
                wake();
            });
        match spawned {
            Ok(_) => self.pending = Some(rx),
            Err(err) => log::warn!("could not open a file dialog: {err}"),
        }
    }

    /// The chosen path, once the dialog has closed (`Some(None)` when it was cancelled).
    pub fn poll(&mut self) -> Option<Option<PathBuf>> {
        let rx = self.pending.as_ref()?;
        match rx.try_recv() {
            Ok(picked) => {
                self.pending = None;
                Some(picked)
            }
            Err(std::sync::mpsc::TryRecvError::Empty) => None,
            Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                self.pending = None;
                Some(None)
            }
        }
    }
}
