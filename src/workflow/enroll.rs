//! Enrolling a student's one photo, shared by the CLI and the window. A photo is first
//! prepared (decoded and checked) without touching the database, then stored in one
//! transaction, so a bad photo never leaves half a student behind.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::core::quality::{QualityFigures, QualityIssue, QualityLimits, assess};
use crate::core::{ClassId, Embedding, StudentId};
use crate::store::{NewEnrollment, Store};
use crate::vision::{FacePipeline, image_io};

/// A checked photo, ready to store.
#[derive(Clone, Debug, PartialEq)]
pub struct PreparedPhoto {
    /// The file's bytes, stored as they are.
    pub bytes: Vec<u8>,
    /// Its format ("jpeg", "png", ...).
    pub format: &'static str,
    /// The aligned face chip as PNG.
    pub face_crop: Vec<u8>,
    /// Quality figures and warnings as JSON.
    pub quality_json: String,
    /// The face's embedding from the pipeline's encoder.
    pub embedding: Embedding,
    /// What the teacher should know.
    pub report: EnrollReport,
}

/// What enrolling a photo found, for the teacher.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EnrollReport {
    /// Image size in pixels.
    pub width: u32,
    /// Image height in pixels.
    pub height: u32,
    /// The measured quality.
    pub quality: QualityFigures,
    /// Problems with the photo the teacher should know about (the photo was still accepted).
    pub warnings: Vec<String>,
}

impl PreparedPhoto {
    /// The enrollment record to store.
    #[must_use]
    pub fn enrollment(&self) -> NewEnrollment<'_> {
        NewEnrollment {
            photo: &self.bytes,
            photo_format: self.format,
            face_crop: Some(&self.face_crop),
            quality_json: Some(&self.quality_json),
            embedding: Some(&self.embedding),
        }
    }
}

/// Checks photo bytes without storing anything: decodes them, finds the main face, checks its
/// quality (refusing a photo without a usable face, with advice), aligns and embeds it.
pub fn prepare_photo(pipeline: &FacePipeline, bytes: Vec<u8>) -> anyhow::Result<PreparedPhoto> {
    let image = image_io::decode_rgb(&bytes)?;
    let format = image_io::format_name(&bytes).unwrap_or("image");
    let found = pipeline.analyze_main(&image)?;
    let figures = found.as_ref().map(|(f, _)| f.quality).unwrap_or_default();
    let issues = assess(&figures, &QualityLimits::default());
    let blocking: Vec<String> = issues
        .iter()
        .filter(|i| i.is_blocking())
        .map(QualityIssue::message)
        .collect();
    let Some((face, _)) = found.filter(|_| blocking.is_empty()) else {
        anyhow::bail!("this photo cannot be used: {}", blocking.join("; "));
    };
    let warnings: Vec<String> = issues.iter().map(QualityIssue::message).collect();
    let quality_json = serde_json::json!({ "figures": figures, "warnings": warnings }).to_string();
    let report = EnrollReport {
        width: image.width(),
        height: image.height(),
        quality: figures,
        warnings,
    };
    Ok(PreparedPhoto {
        face_crop: image_io::encode_png(&face.chip)?,
        bytes,
        format,
        quality_json,
        embedding: face.embedding,
        report,
    })
}

/// Reads and checks a photo file without storing anything.
pub fn prepare_file(pipeline: &FacePipeline, path: &Path) -> anyhow::Result<PreparedPhoto> {
    let bytes = image_io::read_file(path)?;
    prepare_photo(pipeline, bytes)
        .with_context(|| format!("enrolling the photo {}", path.display()))
}

/// Stores a prepared photo as the enrollment of an existing student (consent must be on record).
pub fn store_photo(store: &Store, student: StudentId, photo: &PreparedPhoto) -> anyhow::Result<()> {
    store.enroll(student, &photo.enrollment())?;
    Ok(())
}

/// The face pipeline with the encoder attendance uses: the active one (a built-in encoder or
/// a trained model), else the default built-in one, MobileFaceNet (registered in `store` and
/// made active). An existing database keeps the encoder it has. Enrollment and attendance embed
/// with this pipeline.
pub fn pipeline_for(store: &Store) -> anyhow::Result<FacePipeline> {
    let active = store.active_encoder()?;
    if let Some(which) = active.as_ref().and_then(super::encoders::builtin_of) {
        let pipeline = FacePipeline::builtin(which)?;
        if let Some(active) = &active {
            anyhow::ensure!(
                pipeline.encoder().model_id() == &active.id,
                "attendance is set to use {}, but this build of rollcall bundles {}; switch with `rollcall encoders use {}`",
                active.id,
                pipeline.encoder().model_id(),
                which.name()
            );
        }
        super::encoders::ensure_builtin(store, pipeline.encoder())?;
        return Ok(pipeline);
    }
    if let Some(active) = active {
        let pipeline =
            FacePipeline::with_model_dir(Path::new(&active.path)).with_context(|| {
                format!("loading the face model {} from {}", active.id, active.path)
            })?;
        anyhow::ensure!(
            *pipeline.encoder().model_id() == active.id,
            "the model folder {} now holds {}, not the registered {}",
            active.path,
            pipeline.encoder().model_id(),
            active.id
        );
        return Ok(pipeline);
    }
    let pipeline = FacePipeline::bundled()?;
    super::encoders::ensure_builtin(store, pipeline.encoder())?;
    Ok(pipeline)
}

/// A student name from a photo's file name: `Ada_Lovelace.jpg` -> "Ada Lovelace".
#[must_use]
pub fn name_from_file(path: &Path) -> Option<String> {
    let stem = path.file_stem()?.to_string_lossy();
    let name = stem.replace(['_', '.'], " ");
    let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
    (!name.is_empty()).then_some(name)
}

/// One photo of a folder import and what happened to it.
#[derive(Clone, Debug, PartialEq)]
pub struct ImportItem {
    /// The file.
    pub path: PathBuf,
    /// The student name taken from it.
    pub name: String,
    /// The new student, or why the file was skipped.
    pub result: Result<(StudentId, EnrollReport), String>,
}

/// Adds one student per image in `folder` (file name = student name) to `class`, each with
/// the consent record and photo, each in its own transaction. Files that are not readable
/// photos are skipped and reported; the others still go in.
pub fn import_folder(
    store: &Store,
    pipeline: &FacePipeline,
    folder: &Path,
    class: ClassId,
    consent_by: &str,
) -> anyhow::Result<Vec<ImportItem>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(folder)
        .with_context(|| format!("reading the folder {}", folder.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    anyhow::ensure!(
        !paths.is_empty(),
        "the folder {} has no files",
        folder.display()
    );
    let mut items = Vec::new();
    for path in paths {
        let Some(name) = name_from_file(&path) else {
            continue;
        };
        let result = prepare_file(pipeline, &path)
            .and_then(|photo| {
                let id = store.add_enrolled_student(
                    &name,
                    None,
                    &[class],
                    consent_by,
                    &photo.enrollment(),
                )?;
                Ok((id, photo.report))
            })
            .map_err(|err| format!("{err:#}"));
        items.push(ImportItem { path, name, result });
    }
    Ok(items)
}

/// How ID-photo file names name their students.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum MatchBy {
    /// `26001.jpg` is the student with school number 26001.
    SchoolNumber,
    /// `Ada_Lovelace.jpg` is the student called Ada Lovelace.
    Name,
    /// `stu-0001.jpg` is the student with that `sourcedId` from the roster import.
    SourcedId,
}

impl MatchBy {
    /// Words for the window.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::SchoolNumber => "school number",
            Self::Name => "name",
            Self::SourcedId => "sourcedId",
        }
    }
}

/// What an ID-photo import did, file by file and student by student.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IdPhotoReport {
    /// Photos stored: (file, student).
    pub enrolled: Vec<(PathBuf, String)>,
    /// Students who had a photo already, so their file was left alone (a rerun resumes).
    pub already: Vec<(PathBuf, String)>,
    /// Photos refused: (file, student, why), by the quality gate or because they are damaged.
    pub refused: Vec<(PathBuf, String, String)>,
    /// Files that name no student, or more than one: (file, why).
    pub unmatched: Vec<(PathBuf, String)>,
    /// Students (of the class, or of the school) still without a photo afterwards.
    pub without_photo: Vec<String>,
}

fn normalise(text: &str, by: MatchBy) -> String {
    match by {
        MatchBy::Name => text
            .replace(['_', '.'], " ")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase(),
        MatchBy::SchoolNumber | MatchBy::SourcedId => text.trim().to_lowercase(),
    }
}

/// Enrolls the ID photos in `folder` whose file names match students already on the roster
/// (of `class`, or of the whole school), recording consent by `consent_by` where none is on
/// record. Each photo is its own transaction, and students with a photo are skipped unless
/// `replace`, so an interrupted import run again picks up where it stopped. `progress` is told
/// (done, total) after each file.
#[allow(clippy::too_many_lines)] // one pass over the folder, filling its report
pub fn import_id_photos(
    store: &Store,
    pipeline: &FacePipeline,
    folder: &Path,
    by: MatchBy,
    class: Option<ClassId>,
    options: (&str, bool),
    progress: &dyn Fn(usize, usize),
) -> anyhow::Result<IdPhotoReport> {
    let (consent_by, replace) = options;
    anyhow::ensure!(
        !consent_by.trim().is_empty(),
        "say who gave consent for these students"
    );
    let mut paths: Vec<PathBuf> = std::fs::read_dir(folder)
        .with_context(|| format!("reading the folder {}", folder.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && !p
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    paths.sort();
    anyhow::ensure!(
        paths.iter().any(|p| is_photo_name(p)),
        "the folder {} has no photos (.jpg, .png, ...)",
        folder.display()
    );
    let students = store.list_students(class)?;
    let key_of = |s: &crate::store::StudentRow| match by {
        MatchBy::SchoolNumber => s.external_id.clone(),
        MatchBy::Name => Some(s.display_name.clone()),
        MatchBy::SourcedId => s.sourced_id.clone(),
    };
    let mut by_key: std::collections::HashMap<String, Vec<usize>> =
        std::collections::HashMap::new();
    for (i, s) in students.iter().enumerate() {
        if let Some(key) = key_of(s) {
            by_key.entry(normalise(&key, by)).or_default().push(i);
        }
    }
    let mut report = IdPhotoReport::default();
    let mut has_photo: Vec<bool> = students.iter().map(|s| s.has_photo).collect();
    let mut claimed: std::collections::HashMap<usize, PathBuf> = std::collections::HashMap::new();
    let total = paths.len();
    for (done, path) in paths.into_iter().enumerate() {
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let matches = by_key
            .get(&normalise(&stem, by))
            .map_or(&[][..], Vec::as_slice);
        if !is_photo_name(&path) {
            report
                .unmatched
                .push((path, "not a photo (.jpg, .png, ...)".to_owned()));
            progress(done + 1, total);
            continue;
        }
        match matches {
            [] => report
                .unmatched
                .push((path, format!("no student has the {} {stem:?}", by.label()))),
            [i] => {
                let i = *i;
                let s = &students[i];
                if let Some(first) = claimed.get(&i) {
                    report.unmatched.push((
                        path,
                        format!(
                            "{} has a photo in this folder already ({})",
                            s.display_name,
                            first.display()
                        ),
                    ));
                } else if has_photo[i] && !replace {
                    claimed.insert(i, path.clone());
                    report.already.push((path, s.display_name.clone()));
                } else {
                    claimed.insert(i, path.clone());
                    match enroll_one(store, pipeline, &path, s, consent_by) {
                        Ok(()) => {
                            has_photo[i] = true;
                            report.enrolled.push((path, s.display_name.clone()));
                        }
                        Err(err) => {
                            report
                                .refused
                                .push((path, s.display_name.clone(), format!("{err:#}")));
                        }
                    }
                }
            }
            several => report.unmatched.push((
                path,
                format!(
                    "{} students have the {} {stem:?}; enroll them one by one",
                    several.len(),
                    by.label()
                ),
            )),
        }
        progress(done + 1, total);
    }
    report.without_photo = students
        .iter()
        .zip(&has_photo)
        .filter(|(_, has)| !**has)
        .map(|(s, _)| s.display_name.clone())
        .collect();
    Ok(report)
}

/// Whether a file name says it is a photo the image decoder reads.
fn is_photo_name(path: &Path) -> bool {
    path.extension().is_some_and(|e| {
        matches!(
            e.to_string_lossy().to_ascii_lowercase().as_str(),
            "jpg" | "jpeg" | "png" | "bmp" | "gif" | "tif" | "tiff" | "webp" | "pnm" | "ppm"
        )
    })
}

fn enroll_one(
    store: &Store,
    pipeline: &FacePipeline,
    path: &Path,
    student: &crate::store::StudentRow,
    consent_by: &str,
) -> anyhow::Result<()> {
    let bytes = image_io::read_file(path)?;
    let photo = prepare_photo(pipeline, bytes)?;
    if !student.has_consent {
        store.give_consent(student.id, consent_by.trim(), None)?;
    }
    store_photo(store, student.id, &photo)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_file_names() {
        assert_eq!(
            name_from_file(Path::new("/x/Ada_Lovelace.jpg")).as_deref(),
            Some("Ada Lovelace")
        );
        assert_eq!(
            name_from_file(Path::new("Grace  Hopper.PNG")).as_deref(),
            Some("Grace Hopper")
        );
        assert_eq!(
            name_from_file(Path::new("J.R.R_Tolkien.jpeg")).as_deref(),
            Some("J R R Tolkien")
        );
        assert_eq!(name_from_file(Path::new("__.jpg")), None);
    }

    #[test]
    fn a_folder_import_keeps_good_photos_and_reports_bad_ones() {
        let dir = tempfile::tempdir().unwrap();
        let demo = crate::testdata::repo_file("assets/demo");
        std::fs::copy(demo.join("obama.jpg"), dir.path().join("Barack_Obama.jpg")).unwrap();
        std::fs::copy(demo.join("biden.jpg"), dir.path().join("Joe_Biden.jpg")).unwrap();
        std::fs::write(
            dir.path().join("Broken_File.jpg"),
            b"\xFF\xD8\xFF truncated",
        )
        .unwrap();
        let store = Store::open_in_memory().unwrap();
        let class = store.add_class("7B").unwrap();
        let pipeline = pipeline_for(&store).unwrap();
        let items = import_folder(
            &store,
            &pipeline,
            dir.path(),
            class,
            "School consent forms 2026",
        )
        .unwrap();
        assert_eq!(items.len(), 3);
        let ok: Vec<&str> = items
            .iter()
            .filter(|i| i.result.is_ok())
            .map(|i| i.name.as_str())
            .collect();
        assert_eq!(ok, vec!["Barack Obama", "Joe Biden"]);
        let broken = items.iter().find(|i| i.name == "Broken File").unwrap();
        assert!(
            broken.result.as_ref().unwrap_err().contains("damaged"),
            "{:?}",
            broken.result
        );
        let students = store.list_students(Some(class)).unwrap();
        assert_eq!(students.len(), 2);
        assert!(
            students
                .iter()
                .all(|s| s.has_photo && s.has_consent && s.embedded_with.len() == 1)
        );
    }
}
