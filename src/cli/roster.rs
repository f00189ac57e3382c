//! `rollcall student ...` and `rollcall consent ...`

use std::path::{Path, PathBuf};

use clap::Subcommand;

use super::{outln, table};
use crate::store::Store;
use crate::workflow::enroll;

/// Student subcommands.
#[derive(Debug, Subcommand)]
pub enum StudentCommand {
    /// Add a student, optionally with their enrollment photo.
    Add {
        /// The name shown to the teacher.
        #[arg(long)]
        name: String,
        /// Class(es) the student belongs to (name or id); repeat for several.
        #[arg(long = "class", value_name = "CLASS")]
        classes: Vec<String>,
        /// School number or other identifier.
        #[arg(long)]
        external_id: Option<String>,
        /// The enrollment photo (one face, looking at the camera).
        #[arg(long, value_name = "FILE")]
        photo: Option<PathBuf>,
        /// Who gave biometric consent, e.g. "Mary Lovelace (mother)"; required with --photo
        /// unless consent is already on record.
        #[arg(long, value_name = "NAME")]
        consent_by: Option<String>,
    },
    /// Enroll a folder of photos. With --match, the school's ID photos of students already on
    /// the roster (`26001.jpg` by school number, `Ada_Lovelace.jpg` by name, `stu-0001.jpg` by
    /// sourcedId); run it again to resume. Without it, one new student per photo (the file name
    /// is the name) in --class.
    Import {
        /// The class: the one new students join, or (with --match) the only class to match in.
        #[arg(long, required_unless_present = "match_by")]
        class: Option<String>,
        /// The folder of photos.
        #[arg(long)]
        folder: PathBuf,
        /// Who gave biometric consent for these students (e.g. "signed school forms 2026");
        /// recorded for each student who has none on record.
        #[arg(long, value_name = "WHO")]
        consent_by: String,
        /// Enroll students already on the roster, whose file names give their school number,
        /// name or sourcedId.
        #[arg(long = "match", value_enum, value_name = "KEY")]
        match_by: Option<enroll::MatchBy>,
        /// With --match: replace the photos of students who have one (otherwise they are left
        /// alone, so a rerun resumes).
        #[arg(long, requires = "match_by")]
        replace: bool,
    },
    /// List students.
    List {
        /// Only this class.
        #[arg(long)]
        class: Option<String>,
    },
    /// Store (or replace) a student's enrollment photo.
    Enroll {
        /// The student (id, school number or name).
        student: String,
        /// The photo.
        #[arg(long, value_name = "FILE")]
        photo: PathBuf,
        /// Who gave biometric consent, if not already on record.
        #[arg(long, value_name = "NAME")]
        consent_by: Option<String>,
    },
    /// Rename a student.
    Rename {
        /// The student (id, school number or name).
        student: String,
        /// The new name.
        new_name: String,
    },
    /// Add a student to another class.
    Join {
        /// The student (id, school number or name).
        student: String,
        /// The class.
        #[arg(long)]
        class: String,
    },
    /// Remove a student: biometric data is deleted, attendance history is kept.
    Remove {
        /// The student (id, school number or name).
        student: String,
    },
    /// Delete a student's photo, face crop and embeddings now (the student stays).
    Forget {
        /// The student (id, school number or name).
        student: String,
    },
}

/// Consent subcommands.
#[derive(Debug, Subcommand)]
pub enum ConsentCommand {
    /// Record that consent was given.
    Give {
        /// The student (id, school number or name).
        #[arg(long)]
        student: String,
        /// Who gave it, e.g. "Mary Lovelace (mother)".
        #[arg(long)]
        by: String,
        /// What it covers.
        #[arg(long)]
        purpose: Option<String>,
    },
    /// Withdraw consent: the student's biometric data is deleted at once.
    Withdraw {
        /// The student (id, school number or name).
        #[arg(long)]
        student: String,
    },
    /// Show a student's consent history.
    List {
        /// The student (id, school number or name).
        #[arg(long)]
        student: String,
    },
}

/// Runs a student subcommand.
#[allow(clippy::too_many_lines)] // one short arm per student subcommand
pub fn run_student(store: &Store, command: StudentCommand) -> anyhow::Result<()> {
    match command {
        StudentCommand::Add {
            name,
            classes,
            external_id,
            photo,
            consent_by,
        } => {
            let class_ids = classes
                .iter()
                .map(|c| store.find_class(c).map(|c| c.id))
                .collect::<Result<Vec<_>, _>>()?;
            // Check the photo and the consent before writing anything; then one transaction.
            let Some(path) = photo else {
                let id = store.add_student(&name, external_id.as_deref(), &class_ids)?;
                if let Some(by) = &consent_by {
                    store.give_consent(id, by, None)?;
                }
                outln!("Added {} (#{id}) without a photo", name.trim());
                return Ok(());
            };
            let Some(by) = consent_by else {
                anyhow::bail!(
                    "a photo of {} needs a biometric consent record: add --consent-by \"NAME (relationship)\" \
                     naming who gave consent, or add the student without --photo and mark them by hand",
                    name.trim()
                );
            };
            let pipeline = enroll::pipeline_for(store)?;
            let prepared = enroll::prepare_file(&pipeline, &path)?;
            let id = store.add_enrolled_student(
                &name,
                external_id.as_deref(),
                &class_ids,
                &by,
                &prepared.enrollment(),
            )?;
            outln!("Added {} (#{id})", name.trim());
            print_report(&path, &prepared.report);
        }
        StudentCommand::Import {
            class,
            folder,
            consent_by,
            match_by: Some(by),
            replace,
        } => {
            let class = class.map(|c| store.find_class(&c)).transpose()?;
            let pipeline = enroll::pipeline_for(store)?;
            let bar = indicatif::ProgressBar::new(0);
            bar.set_style(
                indicatif::ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} photos")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar.set_prefix("Enrolling");
            let report = enroll::import_id_photos(
                store,
                &pipeline,
                &folder,
                by,
                class.as_ref().map(|c| c.id),
                (&consent_by, replace),
                &|done, total| {
                    bar.set_length(total as u64);
                    bar.set_position(done as u64);
                },
            )?;
            bar.finish_and_clear();
            print_id_photos(&report, class.as_ref().map(|c| c.name.as_str()));
        }
        StudentCommand::Import {
            class,
            folder,
            consent_by,
            match_by: None,
            ..
        } => {
            let Some(class) = class else {
                anyhow::bail!("say which class the new students join (--class), or use --match");
            };
            let c = store.find_class(&class)?;
            let pipeline = enroll::pipeline_for(store)?;
            let items = enroll::import_folder(store, &pipeline, &folder, c.id, &consent_by)?;
            let added = items.iter().filter(|i| i.result.is_ok()).count();
            for item in &items {
                match &item.result {
                    Ok((id, report)) => {
                        outln!("added   {} (#{id}) from {}", item.name, item.path.display());
                        for w in &report.warnings {
                            outln!("        warning: {w}");
                        }
                    }
                    Err(err) => outln!("skipped {}: {err}", item.path.display()),
                }
            }
            outln!(
                "Imported {added} of {} photos into class {}",
                items.len(),
                c.name
            );
        }
        StudentCommand::List { class } => {
            let class = class.map(|c| store.find_class(&c)).transpose()?;
            let students = store.list_students(class.as_ref().map(|c| c.id))?;
            if students.is_empty() {
                outln!(
                    "No students yet. Add one with: rollcall student add --name \"Ada Lovelace\" --class 7B"
                );
                return Ok(());
            }
            let rows: Vec<Vec<String>> = students
                .iter()
                .map(|s| {
                    vec![
                        s.id.to_string(),
                        s.display_name.clone(),
                        s.external_id.clone().unwrap_or_default(),
                        s.classes.join(", "),
                        if s.has_photo { "yes" } else { "no" }.to_owned(),
                        if s.has_consent { "yes" } else { "no" }.to_owned(),
                        s.embedded_with.join(", "),
                        s.quality_warnings.len().to_string(),
                    ]
                })
                .collect();
            table::print(
                &[
                    "id",
                    "name",
                    "school id",
                    "classes",
                    "photo",
                    "consent",
                    "embedded with",
                    "warnings",
                ],
                &rows,
            );
        }
        StudentCommand::Enroll {
            student,
            photo,
            consent_by,
        } => {
            let s = store.find_student(&student, None)?;
            let pipeline = enroll::pipeline_for(store)?;
            let prepared = enroll::prepare_file(&pipeline, &photo)?;
            if let Some(by) = &consent_by {
                store.give_consent(s.id, by, None)?;
            }
            enroll::store_photo(store, s.id, &prepared)?;
            print_report(&photo, &prepared.report);
        }
        StudentCommand::Rename { student, new_name } => {
            let s = store.find_student(&student, None)?;
            store.rename_student(s.id, &new_name)?;
            outln!("Renamed {} to {}", s.display_name, new_name.trim());
        }
        StudentCommand::Join { student, class } => {
            let s = store.find_student(&student, None)?;
            let c = store.find_class(&class)?;
            store.add_to_class(s.id, c.id)?;
            outln!("{} is now in class {}", s.display_name, c.name);
        }
        StudentCommand::Remove { student } => {
            let s = store.find_student(&student, None)?;
            store.remove_student(s.id)?;
            outln!(
                "Removed {}: biometric data deleted, attendance history kept",
                s.display_name
            );
        }
        StudentCommand::Forget { student } => {
            let s = store.find_student(&student, None)?;
            store.forget_biometrics(s.id, store.actor())?;
            outln!(
                "Deleted the photo, face crop and embeddings of {}",
                s.display_name
            );
        }
    }
    Ok(())
}

/// Runs a consent subcommand.
pub fn run_consent(store: &Store, command: ConsentCommand) -> anyhow::Result<()> {
    match command {
        ConsentCommand::Give {
            student,
            by,
            purpose,
        } => {
            let s = store.find_student(&student, None)?;
            store.give_consent(s.id, &by, purpose.as_deref())?;
            outln!(
                "Recorded consent for {} given by {}",
                s.display_name,
                by.trim()
            );
        }
        ConsentCommand::Withdraw { student } => {
            let s = store.find_student(&student, None)?;
            store.withdraw_consent(s.id)?;
            outln!(
                "Consent withdrawn for {}: their photo and embeddings were deleted",
                s.display_name
            );
        }
        ConsentCommand::List { student } => {
            let s = store.find_student(&student, None)?;
            let rows: Vec<Vec<String>> = store
                .consents(s.id)?
                .iter()
                .map(|c| {
                    vec![
                        crate::workflow::local_time(c.given_ms),
                        c.given_by.clone(),
                        c.purpose.clone(),
                        c.withdrawn_ms
                            .map(crate::workflow::local_time)
                            .unwrap_or_default(),
                    ]
                })
                .collect();
            if rows.is_empty() {
                outln!("No consent on record for {}", s.display_name);
            } else {
                table::print(&["given", "by", "purpose", "withdrawn"], &rows);
            }
        }
    }
    Ok(())
}

/// Prints what enrolling a photo found.
fn print_report(path: &Path, report: &enroll::EnrollReport) {
    let q = &report.quality;
    outln!(
        "Stored the photo {} ({}x{}; face with {:.0} px between the eyes, sharpness {:.0}, light {:.0}/255)",
        path.display(),
        report.width,
        report.height,
        q.interocular_px,
        q.sharpness,
        q.brightness
    );
    for w in &report.warnings {
        outln!("  warning: {w}");
    }
}

fn print_id_photos(report: &enroll::IdPhotoReport, class: Option<&str>) {
    for (path, name) in &report.enrolled {
        outln!("enrolled {name} from {}", path.display());
    }
    for (path, name, why) in &report.refused {
        outln!("refused  {} ({name}): {why}", path.display());
    }
    for (path, why) in &report.unmatched {
        outln!("unmatched {}: {why}", path.display());
    }
    outln!(
        "Enrolled {} photo(s); {} student(s) had one already; {} refused; {} file(s) unmatched.",
        report.enrolled.len(),
        report.already.len(),
        report.refused.len(),
        report.unmatched.len()
    );
    if !report.without_photo.is_empty() {
        outln!(
            "Still without a photo{} ({}): {}",
            class.map(|c| format!(" in {c}")).unwrap_or_default(),
            report.without_photo.len(),
            report.without_photo.join(", ")
        );
    }
}
