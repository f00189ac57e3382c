//! The few colours and spacings of the window, in one place (screens never make colours).

// This is the one file allowed to make colours.
#![allow(clippy::disallowed_methods)]

use egui::Color32;

/// Marked present (on time).
pub const PRESENT: Color32 = Color32::from_rgb(46, 160, 67);
/// Marked late.
pub const LATE: Color32 = Color32::from_rgb(214, 150, 20);
/// Absent (not seen).
pub const ABSENT: Color32 = Color32::from_rgb(150, 150, 150);
/// Excused.
pub const EXCUSED: Color32 = Color32::from_rgb(90, 140, 220);
/// A face the engine is unsure about.
pub const UNCERTAIN: Color32 = Color32::from_rgb(235, 160, 30);
/// A face nobody enrolled matches.
pub const UNKNOWN: Color32 = Color32::from_rgb(220, 60, 60);
/// A face still collecting votes.
pub const CONFIRMING: Color32 = Color32::from_rgb(120, 180, 240);
/// Warnings the teacher should read.
pub const WARNING: Color32 = Color32::from_rgb(230, 140, 0);
/// Errors the teacher must read.
pub const ERROR: Color32 = Color32::from_rgb(220, 60, 60);
/// Success messages.
pub const OK: Color32 = Color32::from_rgb(46, 160, 67);

/// Space between sections of a screen.
pub const SECTION_GAP: f32 = 12.0;
/// Width of a progress bar in the notice area, in points.
pub const PROGRESS_WIDTH: f32 = 220.0;
/// Side of a student thumbnail in tables.
pub const THUMBNAIL_PX: f32 = 40.0;
/// Height of a table row with a thumbnail.
pub const ROW_HEIGHT: f32 = 44.0;
/// Height of a table row of text.
pub const TEXT_ROW_HEIGHT: f32 = 22.0;
/// The smallest height a table scrolls in (below it, the screen scrolls instead).
pub const MIN_TABLE_HEIGHT: f32 = 120.0;
/// Side of a face crop in the review queue.
pub const REVIEW_CROP_PX: f32 = 96.0;
/// How many of a long summary (look-alike pairs) show before "show all".
pub const CLOSEST_SHOWN: usize = 3;
/// The most height the message area at the bottom takes (about three messages; it scrolls).
pub const NOTICES_HEIGHT: f32 = 90.0;
/// Height of the small plots on the Reports screen.
pub const PLOT_HEIGHT: f32 = 150.0;

/// The colour of an attendance status.
#[must_use]
pub fn status_color(status: crate::core::Status) -> Color32 {
    match status {
        crate::core::Status::Present => PRESENT,
        crate::core::Status::Late => LATE,
        crate::core::Status::Absent => ABSENT,
        crate::core::Status::Excused => EXCUSED,
    }
}

/// Sets the app-wide look (slightly larger text for readability at 1280×720).
pub fn apply(ctx: &egui::Context) {
    ctx.global_style_mut(|style| {
        style.spacing.item_spacing = egui::vec2(8.0, 6.0);
        style.spacing.button_padding = egui::vec2(8.0, 4.0);
    });
}
