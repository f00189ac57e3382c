//! `rollcall database ...`: which database this machine opens (what the Settings screen's
//! "Data" section chooses).

use clap::Subcommand;

use super::outln;
use crate::store::{Location, choice};
use crate::workflow::database;

/// Database subcommands.
#[derive(Debug, Subcommand)]
pub enum DatabaseCommand {
    /// Show the database rollcall opens here, and why (--db, ROLLCALL_DB, the saved choice or
    /// the default file).
    Show,
    /// Open a database file (created if new) or a school server to check it, then open it from
    /// now on when neither --db nor ROLLCALL_DB names one. A password is never saved.
    Use {
        /// A SQLite file's full path, or postgresql://[user@]host[:port]/dbname.
        #[arg(value_name = "PATH|URL")]
        location: Location,
    },
    /// Go back to the default file in the data folder.
    Forget,
}

/// Runs a database subcommand (`given` is --db or ROLLCALL_DB, if set).
pub fn run(given: Option<&Location>, command: &DatabaseCommand) -> anyhow::Result<()> {
    let file = database::choice_file()?;
    match command {
        DatabaseCommand::Show => {
            let (location, from) = database::resolve(given)?;
            outln!("database: {location}");
            outln!("from:     {from}");
            if from == choice::Source::Given
                && let Ok(Some(saved)) = choice::load(&file)
            {
                outln!("saved:    {saved} (used when --db and ROLLCALL_DB are not set)");
            }
        }
        DatabaseCommand::Use { location } => {
            let location = match location {
                Location::File(p) if p.is_relative() => {
                    Location::File(std::path::absolute(p).unwrap_or_else(|_| p.clone()))
                }
                other => other.clone(),
            };
            let checked = database::choose(&location, &file)?;
            outln!(
                "rollcall opens {location} from now on ({} classes, {} students); saved in {}",
                checked.classes,
                checked.students,
                file.display()
            );
            if given.is_some() {
                outln!("note: --db or ROLLCALL_DB is set here, and wins over the saved choice");
            }
        }
        DatabaseCommand::Forget => {
            database::forget(&file)?;
            let (location, _) = database::resolve(None)?;
            outln!("rollcall opens the default file from now on: {location}");
        }
    }
    Ok(())
}
