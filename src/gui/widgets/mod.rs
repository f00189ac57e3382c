//! Small reusable widgets.

pub mod file_picker;
pub mod notices;
pub mod thumbnails;
