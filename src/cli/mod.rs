//! The command-line interface: every GUI action as a subcommand, so everything is scriptable.
//! `rollcall` with no subcommand opens the window.

mod admin;
mod bench;
mod bench_live;
mod bench_store;
pub mod cameras;
mod classes;
mod database;
pub mod encoders;
mod eval;
mod export;
mod faces;
mod import;
pub mod live;
mod review;
mod roster;
mod rosters;
mod server;
mod sessions;
mod settings;
mod table;
pub mod train;

use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

pub use cameras::SourceArgs;

use crate::store::{self};
use crate::workflow::{WindowArgs, WindowScreen};

/// Takes class attendance by face, offline.
#[derive(Debug, Parser)]
#[command(name = "rollcall", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// The database: a SQLite file or a school server, postgresql://[user@]host[:port]/dbname
    /// (credentials from libpq's usual places: PGPASSWORD, ~/.pgpass, a service file). Without
    /// it: the choice saved by `rollcall database use` (or Settings), else the file in the
    /// platform data folder, e.g. ~/.local/share/rollcall/rollcall.db.
    #[arg(long, global = true, env = store::DB_ENV, value_name = "PATH|URL")]
    pub db: Option<store::Location>,

    /// More log output (-v info, -vv debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// The camera or replay the window's Attendance screen starts with (without a command).
    #[command(flatten)]
    pub source: cameras::SourceArgs,

    /// Open the window straight on taking attendance for this class (name or id).
    #[arg(long, value_name = "CLASS")]
    pub attend: Option<String>,

    /// The screen the window opens on (without a command).
    #[arg(long, value_enum, value_name = "SCREEN")]
    pub screen: Option<WindowScreen>,

    /// What to do; without a command the window opens.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Add, list, configure or remove classes.
    #[command(subcommand)]
    Class(classes::ClassCommand),
    /// Import the school's roster (OneRoster bundles from its information system).
    #[command(subcommand)]
    Roster(rosters::RosterCommand),
    /// Add, list, rename, enroll or remove students.
    #[command(subcommand)]
    Student(roster::StudentCommand),
    /// Record or withdraw biometric consent for a student.
    #[command(subcommand)]
    Consent(roster::ConsentCommand),
    /// Start, stop, list or show attendance sessions.
    #[command(subcommand)]
    Session(sessions::SessionCommand),
    /// Take attendance headless: frames from a camera or replay, marks printed as they happen.
    Live(live::LiveArgs),
    /// Send the lessons this machine took while the school server was unreachable.
    Sync,
    /// Set a student's status in a session by hand (present, late, absent, excused).
    Mark(sessions::MarkArgs),
    /// Export attendance as CSV.
    Export(export::ExportArgs),
    /// Show the audit log of manual changes.
    Audit(sessions::AuditArgs),
    /// List, accept or reject the faces the engine was unsure about.
    #[command(subcommand)]
    Review(review::ReviewCommand),
    /// Check a class's threshold against its own data and list look-alike students.
    Calibrate(review::CalibrateArgs),
    /// Show or change the settings (recognition rules, privacy, information-system codes).
    #[command(subcommand)]
    Settings(settings::SettingsCommand),
    /// Show or choose the database this machine opens (a file or the school server).
    #[command(subcommand)]
    Database(database::DatabaseCommand),
    /// Copy the whole database to a new file (safe while rollcall runs).
    Backup(admin::BackupArgs),
    /// Replace the database with a backup (the current one is kept beside it).
    Restore(admin::RestoreArgs),
    /// Delete biometric data older than the retention period now.
    Purge(admin::PurgeArgs),
    /// Set up a school's PostgreSQL server: tables, teacher and office roles, who sees what.
    #[command(subcommand)]
    Server(server::ServerCommand),
    /// Show the faces found in a photo: boxes, landmarks and quality.
    Faces(faces::FacesArgs),
    /// Show the enrolled students closest to each face in a photo.
    Identify(faces::IdentifyArgs),
    /// List the face encoders, switch the one attendance uses, re-embed photos.
    #[command(subcommand)]
    Encoders(encoders::EncoderCommand),
    /// Simulate classrooms from held-out face photos: marks, wrong marks, strangers, reviews.
    EvalClassroom(eval::classroom::ClassroomArgs),
    /// Measure the face pipeline on labelled face sets (verification and identification).
    EvalFaces(eval::EvalFacesArgs),
    /// Performance figures as tables (build with --release).
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// List the cameras and their formats, or check a camera or replay (--check SECONDS).
    Cameras(cameras::CamerasArgs),
    /// Convert pretrained weights of other tools (dlib) to safetensors.
    #[command(subcommand)]
    ImportWeights(import::ImportCommand),
    /// Train a Siamese encoder (MNIST digits, IDX data or face folders).
    Train(Box<train::TrainArgs>),
    /// Evaluate a trained model on a dataset or a pairs list.
    Eval(train::EvalArgs),
    /// List trained models.
    #[command(subcommand)]
    Models(train::ModelsCommand),
}

/// Parses the arguments, runs the command (or `open_window` with the database path when there
/// is none), and turns errors into a message and exit code 1.
#[must_use]
pub fn main(open_window: impl FnOnce(WindowArgs) -> anyhow::Result<()>) -> ExitCode {
    let cli = Cli::parse();
    let level = match cli.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(level)).init();
    let result = if let Some(command) = cli.command {
        run(cli.db.as_ref(), command)
    } else {
        let chosen = cli.source.camera.is_some() || cli.source.replay.is_some();
        db_location(cli.db.as_ref())
            .and_then(|db| {
                let source = if chosen {
                    Some(cli.source.spec()?.0)
                } else {
                    None
                };
                open_window(WindowArgs {
                    db,
                    source,
                    attend: cli.attend.clone(),
                    screen: cli.screen,
                })
            })
            .map(|()| ExitCode::SUCCESS)
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            #[allow(clippy::print_stderr)]
            {
                eprintln!("error: {err}");
                for cause in err.chain().skip(1) {
                    eprintln!("  caused by: {cause}");
                }
            }
            ExitCode::FAILURE
        }
    }
}

/// Runs one subcommand on the database `db` (the platform default when `None`).
pub fn run(db: Option<&store::Location>, command: Command) -> anyhow::Result<ExitCode> {
    if let Command::Database(c) = &command {
        // Works even when the saved choice is broken (to fix it).
        return database::run(db, c).map(|()| ExitCode::SUCCESS);
    }
    let db = db_location(db)?;
    match command {
        Command::Class(c) => classes::run(&open(&db)?, c),
        Command::Roster(c) => rosters::run(|| open(&db), c),
        Command::Student(c) => roster::run_student(&open(&db)?, c),
        Command::Consent(c) => roster::run_consent(&open(&db)?, c),
        Command::Session(c) => sessions::run(&open(&db)?, c),
        Command::Mark(a) => sessions::run_mark(&open(&db)?, &a),
        Command::Live(a) => live::run_lesson(&db, &a),
        Command::Sync => live::run_sync(&db),
        Command::Export(a) => export::run(&open(&db)?, &a),
        Command::Audit(a) => sessions::run_audit(&open(&db)?, &a),
        Command::Review(c) => review::run_review(&open(&db)?, c),
        Command::Calibrate(a) => review::run_calibrate(&open(&db)?, &a),
        Command::Settings(c) => settings::run(&open(&db)?, &c),
        Command::Database(c) => database::run(Some(&db), &c),
        Command::Backup(a) => admin::run_backup(&open(&db)?, &a),
        Command::Restore(a) => admin::run_restore(&db, &a),
        Command::Purge(a) => admin::run_purge(&open(&db)?, &a),
        Command::Server(c) => server::run(&db, c),
        Command::Bench(c) => bench::run(&c),
        Command::EvalFaces(a) => eval::run(&a),
        Command::EvalClassroom(a) => eval::classroom::run(&a),
        Command::Faces(a) => faces::run_faces(&a),
        Command::Identify(a) => faces::run_identify(&open(&db)?, &a),
        Command::Encoders(c) => encoders::run(&open(&db)?, &c),
        Command::Cameras(a) => cameras::run(&a),
        Command::ImportWeights(c) => import::run(c),
        Command::Train(a) => train::run_train(&db, &a),
        Command::Eval(a) => train::run_eval(&a),
        Command::Models(c) => train::run_models(&db, &c),
    }
    .map(|()| ExitCode::SUCCESS)
}

/// Opens the database. When a school server asks for a password that none of libpq's places
/// holds and rollcall runs in a terminal, it asks for it (without echo) and tries once more;
/// the password is used for this connection only.
pub fn open(location: &store::Location) -> anyhow::Result<store::Store> {
    use std::io::IsTerminal as _;
    match crate::workflow::open(location) {
        Err(err)
            if matches!(
                err.downcast_ref::<store::StoreError>(),
                Some(store::StoreError::PasswordNeeded(_))
            ) && std::io::stdin().is_terminal() =>
        {
            let store::Location::Server(url) = location else {
                return Err(err);
            };
            let password = rpassword::prompt_password(format!("Password for {}: ", url.redacted()))
                .context("reading the password")?;
            crate::workflow::open_with_password(url, &password)
        }
        other => other,
    }
}

/// The database: `--db`, else `ROLLCALL_DB` (handled by clap), else the choice saved by
/// `rollcall database use` or the Settings screen, else the platform default file.
pub fn db_location(explicit: Option<&store::Location>) -> anyhow::Result<store::Location> {
    Ok(crate::workflow::database::resolve(explicit)?.0)
}

/// Prints a line on standard output (the CLI's own output channel).
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::cli::write_out(::std::format_args!($($arg)*))
    };
}
pub(crate) use outln;

/// Writes one line of command output. When the reader has gone away (`rollcall ... | head`),
/// the command stops quietly instead of failing: everything it wrote to the database so far is
/// committed.
pub fn write_out(args: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    if let Err(err) = out.write_fmt(args).and_then(|()| out.write_all(b"\n")) {
        if err.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        log::warn!("could not write to standard output: {err}");
    }
}

/// Parses a local date "YYYY-MM-DD" into the Unix milliseconds of its first moment; with
/// `next_day`, of the first moment of the following day (for inclusive end dates).
pub fn parse_local_date(text: &str, next_day: bool) -> anyhow::Result<i64> {
    use chrono::TimeZone as _;
    let date = chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .with_context(|| format!("{text:?} is not a date like 2026-09-01"))?;
    let date = if next_day {
        date.succ_opt().context("date out of range")?
    } else {
        date
    };
    let midnight = date.and_hms_opt(0, 0, 0).context("date out of range")?;
    let local = chrono::Local
        .from_local_datetime(&midnight)
        .earliest()
        .context("that date has no midnight in the local time zone")?;
    Ok(local.timestamp_millis())
}
