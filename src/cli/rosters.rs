//! `rollcall roster ...`: rosters from the school's information system (OneRoster bundles).

use std::path::PathBuf;

use clap::Subcommand;

use super::outln;
use crate::store::Store;
use crate::store::oneroster::{self, RosterPlan, example};

/// Roster subcommands.
#[derive(Debug, Subcommand)]
pub enum RosterCommand {
    /// Import a OneRoster bundle (1.1 or 1.2; a folder or a ZIP file, bulk or delta) exported
    /// by the school's information system, Clever, ClassLink or School Data Sync: classes,
    /// students with their school numbers, memberships and who teaches what. Everything is
    /// checked first; a bundle with problems changes nothing. The same bundle again changes
    /// nothing.
    Import {
        /// The bundle: a folder holding manifest.csv and the other files, or a .zip of it.
        #[arg(long, value_name = "DIR|ZIP")]
        oneroster: PathBuf,
        /// Only show what would change; write nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Write a made-up OneRoster bundle to try the import with (2 schools, 6 sections, 150
    /// students), its delta, or a broken variant.
    Example {
        /// The folder to write (or a file name ending in .zip).
        path: PathBuf,
        /// Which bundle.
        #[arg(long, value_enum, default_value = "bulk")]
        variant: example::Variant,
        /// Which OneRoster version's columns.
        #[arg(long, value_enum, default_value = "1.2")]
        oneroster_version: example::Version,
    },
}

/// Runs a roster subcommand; `open` opens the database when the command needs it.
pub fn run(
    open: impl FnOnce() -> anyhow::Result<Store>,
    command: RosterCommand,
) -> anyhow::Result<()> {
    match command {
        RosterCommand::Import { oneroster, dry_run } => {
            let bundle = oneroster::read_bundle(&oneroster)?;
            let store = open()?;
            outln!(
                "{} (OneRoster {}): {} organisations, {} classes, {} users, {} enrollments",
                oneroster.display(),
                bundle.version,
                bundle.orgs.len(),
                bundle.classes.len(),
                bundle.users.len(),
                bundle.enrollments.len()
            );
            let plan = if dry_run {
                store.plan_roster(&bundle)?
            } else {
                store.import_roster(&bundle)?
            };
            print_plan(&plan);
            if plan.is_unchanged() {
                outln!("Nothing to do: the roster is already up to date.");
            } else if dry_run {
                outln!("Preview only (--dry-run): nothing was written.");
            } else {
                outln!("Imported.");
            }
            Ok(())
        }
        RosterCommand::Example {
            path,
            variant,
            oneroster_version,
        } => {
            example::write(&path, variant, oneroster_version)?;
            outln!("Wrote the example bundle to {}", path.display());
            Ok(())
        }
    }
}

/// How many names a list shows before "… and N more".
const SHOWN: usize = 12;

fn print_plan(plan: &RosterPlan) {
    for line in plan.summary() {
        outln!("  {line}");
    }
    let list = |title: &str, items: Vec<String>| {
        if items.is_empty() {
            return;
        }
        outln!("{title}:");
        for item in items.iter().take(SHOWN) {
            outln!("  {item}");
        }
        if items.len() > SHOWN {
            outln!("  … and {} more", items.len() - SHOWN);
        }
    };
    let pairs = |v: &[(String, String)], word: &str| {
        v.iter()
            .map(|(a, b)| format!("{a} {word} {b}"))
            .collect::<Vec<_>>()
    };
    list("New classes", plan.classes_added.clone());
    list("Classes changed", plan.classes_changed.clone());
    list("New students", plan.students_added.clone());
    list("Students changed", plan.students_changed.clone());
    list("Students removed", plan.students_removed.clone());
    list("Joining", pairs(&plan.joined, "joins"));
    list("Leaving", pairs(&plan.left, "leaves"));
    list("Teachers assigned", pairs(&plan.teachers_added, "teaches"));
    list(
        "Teachers no longer assigned",
        pairs(&plan.teachers_removed, "no longer teaches"),
    );
    list("Notes", plan.notes.clone());
}
