//! Enrolling a student's one photo, shared by the CLI and the window: checks the photo, the
//! consent, and stores it in one transaction.

use std::path::Path;

use anyhow::Context as _;

use crate::core::StudentId;
use crate::store::{NewEnrollment, Store};
use crate::vision::image_io;

/// What enrolling a photo did, for the teacher.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EnrollReport {
    /// Image size in pixels.
    pub width: u32,
    /// Image height in pixels.
    pub height: u32,
    /// Problems with the photo the teacher should know about.
    pub warnings: Vec<String>,
}

/// Reads a photo file and checks that it decodes, without storing anything.
pub fn read_photo(path: &Path) -> anyhow::Result<Vec<u8>> {
    let bytes = image_io::read_file(path)?;
    image_io::decode(&bytes).with_context(|| format!("reading the photo {}", path.display()))?;
    Ok(bytes)
}

/// Stores `bytes` as the enrollment photo of `student` (consent must be on record).
pub fn enroll_photo(
    store: &Store,
    student: StudentId,
    bytes: &[u8],
) -> anyhow::Result<EnrollReport> {
    let image = image_io::decode(bytes).context("reading the photo")?;
    let format = image_io::format_name(bytes).unwrap_or("image");
    store.enroll(
        student,
        &NewEnrollment {
            photo: bytes,
            photo_format: format,
            ..Default::default()
        },
    )?;
    Ok(EnrollReport {
        width: image.width(),
        height: image.height(),
        warnings: Vec::new(),
    })
}

/// Reads a photo file and enrolls it.
pub fn enroll_file(store: &Store, student: StudentId, path: &Path) -> anyhow::Result<EnrollReport> {
    let bytes = read_photo(path)?;
    enroll_photo(store, student, &bytes).with_context(|| format!("enrolling {}", path.display()))
}
