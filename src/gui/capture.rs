//! "Take photo": the camera in a dialog with live quality feedback (one face, size, blur,
//! light, pose) from a checking thread, a three-second countdown, and a review of the shot
//! before it is used for enrollment.

use std::sync::Arc;
use std::time::{Duration, Instant};

use image::RgbImage;

use super::workers::photo_check::Checker;
pub use super::workers::photo_check::FrameCheck;
use crate::camera::{CameraThread, SourceSpec};

/// What the dialog wants the screen to do.
#[derive(Clone, Debug, PartialEq)]
pub enum CaptureResult {
    /// Keep the dialog open.
    Open,
    /// Closed without a photo.
    Cancelled,
    /// This photo (PNG bytes) was chosen.
    Photo(Arc<Vec<u8>>),
}

/// The open dialog.
pub struct CaptureDialog {
    camera: CameraThread,
    checker: Checker,
    texture: Option<egui::TextureHandle>,
    latest: Option<RgbImage>,
    check: Option<FrameCheck>,
    countdown_until: Option<Instant>,
    shot: Option<(RgbImage, Option<FrameCheck>)>,
    shot_texture: Option<egui::TextureHandle>,
}

impl std::fmt::Debug for CaptureDialog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaptureDialog")
            .field("shot", &self.shot.is_some())
            .finish_non_exhaustive()
    }
}

/// Seconds of countdown before the shot.
const COUNTDOWN: Duration = Duration::from_secs(3);

impl CaptureDialog {
    /// Opens the camera `source` and the checking thread.
    pub fn open(ctx: &egui::Context, source: &SourceSpec) -> anyhow::Result<Self> {
        let c = ctx.clone();
        let camera = CameraThread::spawn(source.open()?, Box::new(move || c.request_repaint()))?;
        let c = ctx.clone();
        let checker = Checker::start(move || c.request_repaint())?;
        Ok(Self {
            camera,
            checker,
            texture: None,
            latest: None,
            check: None,
            countdown_until: None,
            shot: None,
            shot_texture: None,
        })
    }

    /// Draws the dialog; tells the caller when a photo was chosen or the dialog closed.
    #[allow(clippy::too_many_lines)] // the dialog drawn top to bottom, as the teacher sees it
    pub fn ui(&mut self, ctx: &egui::Context) -> CaptureResult {
        if let Some(frame) = self.camera.try_take() {
            let color = egui::ColorImage::from_rgb(
                [frame.image.width() as usize, frame.image.height() as usize],
                frame.image.as_raw(),
            );
            match &mut self.texture {
                Some(t) => t.set(color, egui::TextureOptions::LINEAR),
                None => {
                    self.texture =
                        Some(ctx.load_texture("capture-live", color, egui::TextureOptions::LINEAR));
                }
            }
            self.checker.offer(frame.image.clone());
            self.latest = Some(frame.image);
        }
        if let Some(c) = self.checker.try_result() {
            self.check = Some(c);
        }
        if let Some(until) = self.countdown_until {
            if Instant::now() >= until {
                self.countdown_until = None;
                if let Some(img) = self.latest.clone() {
                    let color = egui::ColorImage::from_rgb(
                        [img.width() as usize, img.height() as usize],
                        img.as_raw(),
                    );
                    self.shot_texture =
                        Some(ctx.load_texture("capture-shot", color, egui::TextureOptions::LINEAR));
                    self.shot = Some((img, self.check.clone()));
                }
            } else {
                ctx.request_repaint_after(Duration::from_millis(100));
            }
        }
        let mut result = CaptureResult::Open;
        egui::Modal::new(egui::Id::unique("capture-dialog")).show(ctx, |ui| {
            ui.heading("Take photo");
            if let (Some((img, check)), Some(t)) = (&self.shot, &self.shot_texture) {
                ui.add(egui::Image::new(t).max_size(egui::vec2(480.0, 360.0)));
                advice_ui(ui, check.as_ref());
                let usable = check.as_ref().is_some_and(|c| !c.blocking);
                let (mut retake, mut cancel) = (false, false);
                ui.horizontal(|ui| {
                    if ui
                        .add_enabled(usable, egui::Button::new("Use this photo"))
                        .clicked()
                    {
                        match crate::vision::image_io::encode_png(img) {
                            Ok(png) => result = CaptureResult::Photo(Arc::new(png)),
                            Err(err) => log::warn!("could not encode the photo: {err}"),
                        }
                    }
                    retake = ui.button("Retake").clicked();
                    cancel = ui.button("Cancel").clicked();
                });
                if retake {
                    self.shot = None;
                }
                if cancel {
                    result = CaptureResult::Cancelled;
                }
                return;
            }
            if let Some(t) = &self.texture {
                let resp = ui.add(egui::Image::new(t).max_size(egui::vec2(480.0, 360.0)));
                if let Some(c) = &self.check
                    && let Some(b) = c.face
                {
                    let r = resp.rect;
                    let (sx, sy) = (
                        r.width() / c.frame_size.0.max(1) as f32,
                        r.height() / c.frame_size.1.max(1) as f32,
                    );
                    let face = egui::Rect::from_min_size(
                        egui::pos2(r.left() + b.x * sx, r.top() + b.y * sy),
                        egui::vec2(b.width * sx, b.height * sy),
                    );
                    let color = if c.advice.is_empty() {
                        super::style::OK
                    } else {
                        super::style::WARNING
                    };
                    ui.painter_at(r).rect_stroke(
                        face,
                        2.0,
                        egui::Stroke::new(2.0, color),
                        egui::StrokeKind::Outside,
                    );
                }
            } else {
                ui.spinner();
                ui.label("Starting the camera…");
            }
            advice_ui(ui, self.check.as_ref());
            if let Some(err) = self.camera.stats().last_error {
                ui.colored_label(super::style::WARNING, err);
            }
            ui.horizontal(|ui| {
                if let Some(until) = self.countdown_until {
                    let left = until
                        .saturating_duration_since(Instant::now())
                        .as_secs_f32()
                        .ceil();
                    ui.heading(format!("{left:.0}…"));
                } else if ui
                    .add_enabled(
                        self.latest.is_some(),
                        egui::Button::new("Take photo in 3 s"),
                    )
                    .clicked()
                {
                    self.countdown_until = Some(Instant::now() + COUNTDOWN);
                }
                if ui.button("Cancel").clicked() {
                    result = CaptureResult::Cancelled;
                }
            });
        });
        result
    }
}

impl Drop for CaptureDialog {
    fn drop(&mut self) {
        self.camera.stop();
    }
}

fn advice_ui(ui: &mut egui::Ui, check: Option<&FrameCheck>) {
    match check {
        None => {
            ui.weak("Checking the picture…");
        }
        Some(c) if c.advice.is_empty() => {
            ui.colored_label(
                super::style::OK,
                "Good photo: one face, sharp, well lit, looking at the camera",
            );
        }
        Some(c) => {
            for a in &c.advice {
                ui.colored_label(
                    if c.blocking {
                        super::style::ERROR
                    } else {
                        super::style::WARNING
                    },
                    a,
                );
            }
        }
    }
}
