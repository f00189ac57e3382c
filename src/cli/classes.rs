//! `rollcall class ...`

use clap::Subcommand;

use super::{outln, table};
use crate::store::Store;

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
