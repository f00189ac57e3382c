//! What buttons ask for. Buttons never do work themselves: they push a [`Command`], and the
//! app runs all commands in one place once per frame ([`run`]), which keeps store writes out of
//! layout code and makes every action testable without drawing.

use std::fmt::Write as _;
use std::path::PathBuf;

use super::pipeline_cell::PipelineCell;
use crate::core::{ClassId, ReviewId, SessionId, Status, StudentId};
use crate::store::export::ExportOptions;
use crate::store::{Settings, Store};
use crate::workflow::enroll;

/// A photo for enrollment: a file, or a picture just taken with the camera (PNG bytes).
#[derive(Clone, PartialEq, Eq)]
pub enum PhotoInput {
    /// A photo file.
    File(PathBuf),
    /// A picture taken with the camera, encoded as PNG.
    Captured(std::sync::Arc<Vec<u8>>),
}

impl std::fmt::Debug for PhotoInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File(p) => write!(f, "File({})", p.display()),
            Self::Captured(b) => write!(f, "Captured({} bytes)", b.len()),
        }
    }
}

impl PhotoInput {
    /// Checks and embeds the photo without storing anything.
    pub fn prepare(
        &self,
        pipeline: &crate::vision::FacePipeline,
    ) -> anyhow::Result<enroll::PreparedPhoto> {
        match self {
            Self::File(path) => enroll::prepare_file(pipeline, path),
            Self::Captured(png) => enroll::prepare_photo(pipeline, png.to_vec()),
        }
    }
}

/// One action requested by the teacher.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// Switch screens.
    Show(super::screen::Screen),
    /// Add a class.
    AddClass(String),
    /// Remove a class (with its history if asked).
    RemoveClass {
        /// The class.
        class: ClassId,
        /// Also delete its sessions.
        with_history: bool,
    },
    /// Change a class's threshold override and late limit.
    SetClassSettings {
        /// The class.
        class: ClassId,
        /// Threshold override (`None` = encoder default).
        threshold: Option<f32>,
        /// Minutes after which arrivals are late.
        late_after_minutes: u32,
    },
    /// Add a student, optionally with a photo and consent.
    AddStudent {
        /// Name.
        name: String,
        /// School number.
        external_id: Option<String>,
        /// Class to join.
        class: ClassId,
        /// The photo.
        photo: Option<PhotoInput>,
        /// Who gave biometric consent.
        consent_by: Option<String>,
    },
    /// Add one student per photo in a folder (file name = student name), or, with `match_by`,
    /// enroll the ID photos of students on the roster whose file names name them.
    ImportFolder {
        /// The class they join (or, with `match_by`, the class whose students are matched).
        class: ClassId,
        /// The folder.
        folder: PathBuf,
        /// Who gave biometric consent for them.
        consent_by: String,
        /// How file names name students already on the roster (`None`: new students).
        match_by: Option<enroll::MatchBy>,
    },
    /// Import a OneRoster bundle (after the teacher saw its preview).
    ImportRoster(PathBuf),
    /// Store (or replace) a student's photo.
    EnrollPhoto {
        /// The student.
        student: StudentId,
        /// The photo.
        photo: PhotoInput,
        /// Who gave biometric consent (when not yet on record).
        consent_by: Option<String>,
    },
    /// Record consent.
    GiveConsent {
        /// The student.
        student: StudentId,
        /// Who gave it.
        by: String,
    },
    /// Withdraw consent (deletes biometrics).
    WithdrawConsent(StudentId),
    /// Rename a student.
    RenameStudent {
        /// The student.
        student: StudentId,
        /// New name.
        name: String,
    },
    /// Remove a student (keeps history).
    RemoveStudent(StudentId),
    /// Delete a student's biometric data.
    ForgetStudent(StudentId),
    /// Start the camera and recognition for a class (opening a session if none is open).
    StartLive {
        /// The class.
        class: ClassId,
        /// Where frames come from.
        source: super::source_choice::SourceChoice,
    },
    /// Stop the camera and recognition (the session stays open).
    StopLive,
    /// Start training with the Training screen's settings.
    StartTraining,
    /// Stop the training run at its next step.
    CancelTraining,
    /// Make an encoder (a built-in one's name, a registered id, or a trained model's folder)
    /// the one attendance uses, and re-embed.
    UseEncoder(String),
    /// Start a session now.
    StartSession(ClassId),
    /// Stop a session now.
    StopSession(SessionId),
    /// Set a status by hand.
    SetMark {
        /// The session.
        session: SessionId,
        /// The student.
        student: StudentId,
        /// The new status.
        status: Status,
    },
    /// Accept a review (as the candidate, or as another student).
    AcceptReview {
        /// The review.
        review: ReviewId,
        /// Who it is (`None` = the candidate).
        student: Option<StudentId>,
    },
    /// Reject a review.
    RejectReview(ReviewId),
    /// Write a CSV file.
    ExportCsv {
        /// Where.
        path: PathBuf,
        /// What.
        options: ExportOptions,
    },
    /// Save the settings.
    SaveSettings(Settings),
    /// Open a database (a file, created if new, or the school server) to check it, then save
    /// it as the one this machine opens from the next start.
    ChooseDatabase {
        /// The database.
        location: crate::store::Location,
        /// Where the choice is saved.
        choice_file: PathBuf,
    },
    /// Go back to the default database file from the next start.
    ForgetDatabase(PathBuf),
    /// Delete biometric data older than the retention period now.
    PurgeExpired(u32),
}

/// What a command did: a message for the teacher, and whether stored data changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// A short sentence for the notice area (empty for silent commands).
    pub message: String,
    /// Whether screens must reload their data.
    pub data_changed: bool,
}

impl Outcome {
    fn changed(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            data_changed: true,
        }
    }
}

/// Whether a command is slow (face analysis) and belongs on the worker thread.
#[must_use]
pub fn is_slow(command: &Command) -> bool {
    matches!(
        command,
        Command::AddStudent { photo: Some(_), .. }
            | Command::EnrollPhoto { .. }
            | Command::ImportFolder { .. }
            | Command::ImportRoster(_)
            | Command::UseEncoder(_)
            | Command::ChooseDatabase { .. }
    )
}

/// Whether a command changes the roster, consent, encoders or settings, which a window on the
/// offline copy of a school server must not do (the copy's roster is replaced from the server
/// at the next lesson online, so such a change would be lost). Sessions, marks and reviews are
/// sent to the server from the copy.
#[must_use]
pub fn needs_server(command: &Command) -> bool {
    matches!(
        command,
        Command::AddClass(_)
            | Command::RemoveClass { .. }
            | Command::SetClassSettings { .. }
            | Command::AddStudent { .. }
            | Command::ImportFolder { .. }
            | Command::ImportRoster(_)
            | Command::EnrollPhoto { .. }
            | Command::GiveConsent { .. }
            | Command::WithdrawConsent(_)
            | Command::RenameStudent { .. }
            | Command::RemoveStudent(_)
            | Command::ForgetStudent(_)
            | Command::UseEncoder(_)
            | Command::SaveSettings(_)
            | Command::PurgeExpired(_)
    )
}

/// A short label for a slow command while it runs.
#[must_use]
pub fn label(command: &Command) -> String {
    match command {
        Command::AddStudent { name, .. } => format!("Adding {}", name.trim()),
        Command::EnrollPhoto { .. } => "Storing a photo".to_owned(),
        Command::ImportFolder {
            folder,
            match_by: Some(_),
            ..
        } => format!("Enrolling the ID photos in {}", folder.display()),
        Command::ImportFolder { folder, .. } => format!("Importing {}", folder.display()),
        Command::ImportRoster(path) => format!("Importing the roster {}", path.display()),
        Command::UseEncoder(which) => {
            format!("Switching attendance to {which} and re-embedding the roster")
        }
        Command::ChooseDatabase { location, .. } => format!("Opening {location}"),
        other => format!("{other:?}"),
    }
}

/// Chooses the database of the next start (no store involved).
fn database(command: &Command) -> anyhow::Result<Outcome> {
    let restart = "close the window and start rollcall again";
    Ok(match command {
        Command::ChooseDatabase {
            location,
            choice_file,
        } => {
            let checked = crate::workflow::database::choose(location, choice_file)?;
            Outcome::changed(format!(
                "{location} opened ({} classes, {} students). rollcall opens it from the next \
                 start: {restart}.",
                checked.classes, checked.students
            ))
        }
        Command::ForgetDatabase(choice_file) => {
            crate::workflow::database::forget(choice_file)?;
            Outcome::changed(format!(
                "rollcall opens the default file from the next start: {restart}."
            ))
        }
        other => anyhow::bail!("database() was given another command: {other:?}"),
    })
}

/// Runs a data command against the store. Screen switches are handled by the app; the
/// commands are run by area: photos and the encoder, imports, the roster, attendance and
/// data, and the database choice.
pub fn run(
    store: &Store,
    pipeline: &mut PipelineCell,
    command: &Command,
    progress: &dyn Fn(usize, usize),
) -> anyhow::Result<Outcome> {
    match command {
        Command::Show(_)
        | Command::StartLive { .. }
        | Command::StopLive
        | Command::StartTraining
        | Command::CancelTraining => Ok(Outcome {
            message: String::new(),
            data_changed: false,
        }),
        Command::AddStudent { .. } | Command::UseEncoder(_) | Command::EnrollPhoto { .. } => {
            photos(store, pipeline, command, progress)
        }
        Command::ImportRoster(_) | Command::ImportFolder { .. } => {
            imports(store, pipeline, command, progress)
        }
        Command::AddClass(_)
        | Command::RemoveClass { .. }
        | Command::SetClassSettings { .. }
        | Command::GiveConsent { .. }
        | Command::WithdrawConsent(_)
        | Command::RenameStudent { .. }
        | Command::RemoveStudent(_)
        | Command::ForgetStudent(_) => roster(store, command),
        Command::StartSession(_)
        | Command::StopSession(_)
        | Command::SetMark { .. }
        | Command::AcceptReview { .. }
        | Command::RejectReview(_)
        | Command::ExportCsv { .. }
        | Command::SaveSettings(_)
        | Command::PurgeExpired(_) => attendance(store, command),
        Command::ChooseDatabase { .. } | Command::ForgetDatabase(_) => database(command),
    }
}

/// Enrolling one photo (a new student's or an existing one's) and the encoder switch.
fn photos(
    store: &Store,
    pipeline: &mut PipelineCell,
    command: &Command,
    progress: &dyn Fn(usize, usize),
) -> anyhow::Result<Outcome> {
    Ok(match command {
        Command::AddStudent {
            name,
            external_id,
            class,
            photo,
            consent_by,
        } => {
            let external_id = external_id
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty());
            let consent_by = consent_by
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty());
            // Check everything before writing anything; then one transaction.
            let Some(path) = photo else {
                let id = store.add_student(name, external_id, &[*class])?;
                if let Some(by) = consent_by {
                    store.give_consent(id, by, None)?;
                }
                return Ok(Outcome::changed(format!(
                    "Added {} without a photo",
                    name.trim()
                )));
            };
            let Some(by) = consent_by else {
                anyhow::bail!("A photo needs a biometric consent record: fill in who gave consent");
            };
            let prepared = path.prepare(&*pipeline.get(store)?)?;
            store.add_enrolled_student(name, external_id, &[*class], by, &prepared.enrollment())?;
            Outcome::changed(with_warnings(
                format!("Added {} with their photo", name.trim()),
                &prepared.report.warnings,
            ))
        }
        Command::UseEncoder(which) => {
            let row = crate::workflow::encoders::use_encoder(store, which)?;
            let report =
                crate::workflow::encoders::reembed(store, &*pipeline.get(store)?, progress)?;
            let no_face = if report.no_face > 0 {
                format!(", no face found in {}", report.no_face)
            } else {
                String::new()
            };
            Outcome::changed(format!(
                "Attendance now uses {}; re-embedded {} enrollment photo(s){no_face}",
                row.id, report.embedded
            ))
        }
        Command::EnrollPhoto {
            student,
            photo,
            consent_by,
        } => {
            let prepared = photo.prepare(&*pipeline.get(store)?)?;
            if let Some(by) = consent_by
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
            {
                store.give_consent(*student, by, None)?;
            }
            enroll::store_photo(store, *student, &prepared)?;
            let name = store.student(*student)?.display_name;
            Outcome::changed(with_warnings(
                format!("Stored the photo of {name}"),
                &prepared.report.warnings,
            ))
        }
        other => anyhow::bail!("photos() was given another command: {other:?}"),
    })
}

/// Imports: a OneRoster bundle, a folder of photos (new students, or the roster's ID photos).
fn imports(
    store: &Store,
    pipeline: &mut PipelineCell,
    command: &Command,
    progress: &dyn Fn(usize, usize),
) -> anyhow::Result<Outcome> {
    Ok(match command {
        Command::ImportRoster(path) => {
            let bundle = crate::store::oneroster::read_bundle(path)?;
            let plan = store.import_roster(&bundle)?;
            Outcome::changed(format!(
                "Imported the roster {}: {}",
                path.display(),
                plan.summary().join(", ")
            ))
        }
        Command::ImportFolder {
            class,
            folder,
            consent_by,
            match_by: Some(by),
        } => {
            let report = enroll::import_id_photos(
                store,
                &*pipeline.get(store)?,
                folder,
                *by,
                Some(*class),
                (consent_by, false),
                progress,
            )?;
            let mut message = format!(
                "Enrolled {} ID photo(s); {} student(s) had one already; {} refused; {} file(s) matched nobody; {} student(s) of the class still without a photo",
                report.enrolled.len(),
                report.already.len(),
                report.refused.len(),
                report.unmatched.len(),
                report.without_photo.len()
            );
            for (path, name, why) in &report.refused {
                let _ = write!(message, "; refused {} ({name}): {why}", path.display());
            }
            for (path, why) in report.unmatched.iter().take(5) {
                let _ = write!(message, "; {}: {why}", path.display());
            }
            Outcome::changed(message)
        }
        Command::ImportFolder {
            class,
            folder,
            consent_by,
            match_by: None,
        } => {
            anyhow::ensure!(
                !consent_by.trim().is_empty(),
                "Fill in who gave consent for these students"
            );
            let items =
                enroll::import_folder(store, &*pipeline.get(store)?, folder, *class, consent_by)?;
            let added = items.iter().filter(|i| i.result.is_ok()).count();
            let mut message = format!("Imported {added} of {} photos", items.len());
            for item in items.iter().filter(|i| i.result.is_err()) {
                if let Err(err) = &item.result {
                    message.push_str("; skipped ");
                    message.push_str(&item.path.display().to_string());
                    message.push_str(": ");
                    message.push_str(err);
                }
            }
            Outcome::changed(message)
        }
        other => anyhow::bail!("imports() was given another command: {other:?}"),
    })
}

/// Classes, students and consent.
fn roster(store: &Store, command: &Command) -> anyhow::Result<Outcome> {
    Ok(match command {
        Command::AddClass(name) => {
            store.add_class(name)?;
            Outcome::changed(format!("Added class {}", name.trim()))
        }
        Command::RemoveClass {
            class,
            with_history,
        } => {
            let c = store.class(*class)?;
            store.remove_class(*class, *with_history)?;
            Outcome::changed(format!("Removed class {}", c.name))
        }
        Command::SetClassSettings {
            class,
            threshold,
            late_after_minutes,
        } => {
            store.set_class_threshold(*class, *threshold)?;
            store.set_class_late_after(*class, *late_after_minutes)?;
            Outcome::changed("Saved the class settings")
        }
        Command::GiveConsent { student, by } => {
            store.give_consent(*student, by, None)?;
            Outcome::changed("Recorded the consent")
        }
        Command::WithdrawConsent(student) => {
            store.withdraw_consent(*student)?;
            Outcome::changed("Consent withdrawn: the photo and embeddings were deleted")
        }
        Command::RenameStudent { student, name } => {
            store.rename_student(*student, name)?;
            Outcome::changed(format!("Renamed to {}", name.trim()))
        }
        Command::RemoveStudent(student) => {
            let s = store.student(*student)?;
            store.remove_student(*student)?;
            Outcome::changed(format!(
                "Removed {}; their attendance history is kept",
                s.display_name
            ))
        }
        Command::ForgetStudent(student) => {
            let s = store.student(*student)?;
            store.forget_biometrics(*student, store.actor())?;
            Outcome::changed(format!(
                "Deleted the photo and embeddings of {}",
                s.display_name
            ))
        }
        other => anyhow::bail!("roster() was given another command: {other:?}"),
    })
}

/// Sessions, marks, reviews, exports and the settings.
fn attendance(store: &Store, command: &Command) -> anyhow::Result<Outcome> {
    Ok(match command {
        Command::StartSession(class) => {
            let c = store.class(*class)?;
            let settings = crate::workflow::session_settings(store, &c)?;
            let id = store.start_session(*class, settings.as_ref())?;
            Outcome::changed(format!("Started session #{id} for class {}", c.name))
        }
        Command::StopSession(session) => {
            let s = store.stop_session(*session)?;
            Outcome::changed(format!(
                "Stopped session #{} ({} marked)",
                s.id, s.mark_count
            ))
        }
        Command::SetMark {
            session,
            student,
            status,
        } => {
            store.set_mark(*session, *student, *status, store.actor(), "")?;
            Outcome::changed(format!(
                "{} is {status}",
                store.student(*student)?.display_name
            ))
        }
        Command::AcceptReview { review, student } => {
            store.accept_review(*review, *student)?;
            Outcome::changed("Accepted: the student is marked")
        }
        Command::RejectReview(review) => {
            store.reject_review(*review)?;
            Outcome::changed("Rejected: nobody was marked")
        }
        Command::ExportCsv { path, options } => {
            let summary = store.export_csv_file(options, &chrono::Local, path)?;
            Outcome::changed(format!("Wrote {} rows to {}", summary.rows, path.display()))
        }
        Command::SaveSettings(settings) => {
            store.save_settings(settings)?;
            Outcome::changed("Saved the settings")
        }
        Command::PurgeExpired(days) => {
            let n = store.purge_expired_biometrics(*days)?;
            Outcome::changed(format!(
                "Deleted the biometric data of {n} student(s) enrolled more than {days} days ago"
            ))
        }

        other => anyhow::bail!("attendance() was given another command: {other:?}"),
    })
}

/// Appends the photo's warnings to a message.
fn with_warnings(mut message: String, warnings: &[String]) -> String {
    for w in warnings {
        message.push_str(". ");
        message.push_str(w);
    }
    message
}
