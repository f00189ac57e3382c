//! `rollcall server ...`: set up a school's PostgreSQL server and who may see what.

use clap::Subcommand;

use super::outln;
use crate::store::server::{SchoolRole, init_script};
use crate::store::{Location, Store};

/// Server subcommands.
#[derive(Debug, Subcommand)]
pub enum ServerCommand {
    /// Create or upgrade rollcall's tables on the server (--db postgresql://…, as the role that
    /// is to own them) and set up the teacher and office roles with row-level security.
    /// Safe to run again; run it again after upgrading rollcall.
    Init {
        /// Only print the SQL (for review, or to run with psql), without connecting.
        #[arg(long)]
        print: bool,
    },
    /// Create a teacher's login role if needed (no password: set it with psql's \password) and
    /// list it as teaching a class; a teacher sees only their own classes.
    Teacher {
        /// The teacher's database role, for example `ms_lee`.
        role: String,
        /// The class they teach (name or id); repeat for several.
        #[arg(long = "class", value_name = "CLASS")]
        classes: Vec<String>,
        /// Take the role off these classes instead.
        #[arg(long)]
        remove: bool,
    },
    /// Create an office login role if needed; the office manages the roster and consent of
    /// every class.
    Office {
        /// The database role, for example `office_kim`.
        role: String,
    },
    /// Copy a teacher's rollcall file (classes, students, photos, embeddings, consent,
    /// sessions, marks, reviews, audit) into the server. Importing it again changes nothing;
    /// where the two disagree nothing is imported and every disagreement is listed.
    Import {
        /// The teacher's SQLite file.
        file: std::path::PathBuf,
    },
}

/// Runs a server subcommand on `db`.
pub fn run(db: &Location, c: ServerCommand) -> anyhow::Result<()> {
    if let ServerCommand::Init { print: true } = c {
        outln!("{}", init_script()?);
        return Ok(());
    }
    let Location::Server(url) = db else {
        anyhow::bail!(
            "`rollcall server` works on a school's PostgreSQL server: pass --db postgresql://… \
             (or set ROLLCALL_DB); {db} is a file"
        );
    };
    let store = super::open(db)?;
    match c {
        ServerCommand::Init { .. } => {
            store.server_init()?;
            outln!(
                "Set up {} at schema version {}: roles rollcall_teacher and rollcall_office, \
                 row-level security on every class's data",
                url.redacted(),
                store.schema_version()?
            );
            outln!(
                "Next: `rollcall server office ROLE` and `rollcall server teacher ROLE --class CLASS`"
            );
        }
        ServerCommand::Teacher {
            role,
            classes,
            remove,
        } => teacher(&store, &role, &classes, remove)?,
        ServerCommand::Import { file } => import(&store, &file)?,
        ServerCommand::Office { role } => {
            store.add_school_role(&role, SchoolRole::Office)?;
            outln!(
                "{role} is in rollcall_office: it manages the roster and consent of every class"
            );
        }
    }
    Ok(())
}

fn teacher(store: &Store, role: &str, classes: &[String], remove: bool) -> anyhow::Result<()> {
    if !remove {
        store.add_school_role(role, SchoolRole::Teacher)?;
    }
    for key in classes {
        let class = store.find_class(key)?;
        if remove {
            store.unassign_teacher(role, class.id)?;
            outln!("{role} no longer teaches {}", class.name);
        } else {
            store.assign_teacher(role, class.id)?;
            outln!("{role} teaches {}", class.name);
        }
    }
    if classes.is_empty() && !remove {
        outln!("{role} is in rollcall_teacher; give it classes with --class");
    }
    Ok(())
}

fn import(store: &Store, file: &std::path::Path) -> anyhow::Result<()> {
    anyhow::ensure!(
        file.is_file(),
        "{} is not a file: give the teacher's rollcall database (rollcall.db)",
        file.display()
    );
    let source =
        Store::open(file).map_err(|err| anyhow::anyhow!("opening {}: {err}", file.display()))?;
    let name = file.display().to_string();
    let report = store.import_from(&source, &name)?;
    let rows: Vec<Vec<String>> = report
        .added
        .iter()
        .zip(&report.matched)
        .map(|((table, added), (_, matched))| {
            vec![table.clone(), added.to_string(), matched.to_string()]
        })
        .collect();
    super::table::print(&["what", "added", "already there"], &rows);
    if report.is_unchanged() {
        outln!("Nothing new in {name}: it was imported before");
    } else {
        outln!("Imported {name}");
    }
    Ok(())
}
