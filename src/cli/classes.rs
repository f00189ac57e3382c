//! `rollcall class ...`

use clap::Subcommand;

use super::{outln, table};
use crate::store::Store;
use crate::store::sample::SampleSpec;
use crate::vision::pipeline::BuiltinEncoder;

/// Class subcommands.
#[derive(Debug, Subcommand)]
pub enum ClassCommand {
    /// Add a class.
    Add {
        /// Its name, for example 7B.
        name: String,
    },
    /// List classes.
    List,
    /// Change a class's settings.
    Set {
        /// The class (name or id).
        class: String,
        /// Distance threshold for this class (overrides the encoder's default).
        #[arg(long, conflicts_with = "clear_threshold")]
        threshold: Option<f32>,
        /// Go back to the encoder's default threshold.
        #[arg(long)]
        clear_threshold: bool,
        /// Minutes after the start after which arrivals count as late.
        #[arg(long)]
        late_after: Option<u32>,
    },
    /// Add a made-up class to try rollcall at real size: synthetic students with drawn photos
    /// (no real person), school days of past sessions, and faces waiting for review today.
    /// Its students match nobody in front of a camera.
    Sample {
        /// The new class's name.
        #[arg(long, default_value = "Sample 9C")]
        name: String,
        /// Students in it (2 to 500).
        #[arg(long, default_value_t = 40)]
        students: usize,
        /// Past sessions, one per school day before today (up to 400).
        #[arg(long, default_value_t = 30)]
        sessions: usize,
        /// Faces waiting for review in today's open session (up to 500).
        #[arg(long, default_value_t = 20)]
        reviews: usize,
        /// The same seed builds the same class.
        #[arg(long, default_value_t = 7)]
        seed: u64,
    },
    /// Remove a class.
    Remove {
        /// The class (name or id).
        class: String,
        /// Also delete its sessions and marks (export them first).
        #[arg(long)]
        with_history: bool,
    },
}

/// Runs a class subcommand.
pub fn run(store: &Store, command: ClassCommand) -> anyhow::Result<()> {
    match command {
        ClassCommand::Add { name } => {
            let id = store.add_class(&name)?;
            outln!("Added class {} (#{id})", name.trim());
        }
        ClassCommand::List => {
            let classes = store.list_classes()?;
            if classes.is_empty() {
                outln!("No classes yet. Add one with: rollcall class add 7B");
                return Ok(());
            }
            let rows: Vec<Vec<String>> = classes
                .iter()
                .map(|c| {
                    vec![
                        c.id.to_string(),
                        c.name.clone(),
                        c.student_count.to_string(),
                        c.session_count.to_string(),
                        c.threshold_override
                            .map_or_else(|| "default".to_owned(), |t| format!("{t:.3}")),
                        c.late_after_minutes.to_string(),
                    ]
                })
                .collect();
            table::print(
                &[
                    "id",
                    "class",
                    "students",
                    "sessions",
                    "threshold",
                    "late after (min)",
                ],
                &rows,
            );
        }
        ClassCommand::Set {
            class,
            threshold,
            clear_threshold,
            late_after,
        } => {
            let c = store.find_class(&class)?;
            if threshold.is_some() || clear_threshold {
                store.set_class_threshold(c.id, threshold)?;
            }
            if let Some(m) = late_after {
                store.set_class_late_after(c.id, m)?;
            }
            let c = store.class(c.id)?;
            outln!(
                "Class {}: threshold {}, late after {} min",
                c.name,
                c.threshold_override
                    .map_or_else(|| "encoder default".to_owned(), |t| format!("{t:.3}")),
                c.late_after_minutes
            );
        }
        ClassCommand::Sample {
            name,
            students,
            sessions,
            reviews,
            seed,
        } => add_sample(
            store,
            &SampleSpec {
                class_name: name,
                students,
                sessions,
                reviews,
                seed,
            },
        )?,
        ClassCommand::Remove {
            class,
            with_history,
        } => {
            let c = store.find_class(&class)?;
            store.remove_class(c.id, with_history)?;
            outln!("Removed class {}", c.name);
        }
    }
    Ok(())
}

/// Runs `rollcall class sample`.
fn add_sample(store: &Store, spec: &SampleSpec) -> anyhow::Result<()> {
    // The embeddings are made for the encoder attendance uses (the default one in a
    // new database), so the look-alike figures read as they would for a real class.
    let encoder = match store.active_encoder()? {
        Some(e) => e,
        None => crate::workflow::encoders::ensure_builtin(
            store,
            BuiltinEncoder::MobileFaceNet.load_cpu()?.as_ref(),
        )?,
    };
    let built = store.add_sample_class(spec, &encoder)?;
    outln!(
        "Added the sample class {} (#{}): {} students ({} look-alike pairs), {} past sessions, and today's open session #{} with {} faces to review. Embeddings are random vectors for {}.",
        spec.class_name.trim(),
        built.class,
        built.students.len(),
        built.look_alikes.len(),
        built.past_sessions.len(),
        built.open_session,
        built.reviews.len(),
        encoder.id
    );
    Ok(())
}
