//! `rollcall backup`, `rollcall restore` and `rollcall purge`.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;

use super::outln;
use crate::store::Store;

/// Arguments of `rollcall backup`.
#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The backup file to create (must not exist).
    file: PathBuf,
}

/// Arguments of `rollcall restore`.
#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The backup file to restore from.
    file: PathBuf,
    /// Replace the current database (it is first kept as DB.before-restore-TIME).
    #[arg(long)]
    yes: bool,
}

/// Arguments of `rollcall purge`.
#[derive(Debug, Args)]
pub struct PurgeArgs {
    /// Delete biometric data older than this many days (default: the retention setting).
    #[arg(long)]
    older_than_days: Option<u32>,
}

/// Runs `rollcall backup`.
pub fn run_backup(store: &Store, args: &BackupArgs) -> anyhow::Result<()> {
    store.backup_to(&args.file)?;
    let check = Store::open(&args.file).context("checking the backup")?;
    anyhow::ensure!(
        check.integrity_check()? == ["ok"],
        "the backup failed its integrity check"
    );
    outln!("Backed up to {} (integrity check ok)", args.file.display());
    Ok(())
}

/// Runs `rollcall restore`: checks the backup, keeps the current database aside, and copies
/// the backup in its place with SQLite's online backup.
pub fn run_restore(db: &crate::store::Location, args: &RestoreArgs) -> anyhow::Result<()> {
    let Some(db) = db.file() else {
        anyhow::bail!(
            "restore replaces a SQLite file; a school server ({db}) is restored with PostgreSQL's \
             own tools (pg_restore), and a teacher's file is moved onto it with `rollcall server import`"
        );
    };
    let backup = Store::open(&args.file)
        .with_context(|| format!("opening the backup {}", args.file.display()))?;
    anyhow::ensure!(
        backup.integrity_check()? == ["ok"],
        "the backup {} is damaged",
        args.file.display()
    );
    let classes = backup.list_classes()?.len();
    let students = backup.list_students(None)?.len();
    if !args.yes {
        anyhow::bail!(
            "restoring replaces {} with a backup holding {classes} class(es) and {students} student(s); \
             run again with --yes to do it (the current database is kept beside it)",
            db.display()
        );
    }
    let _lock = crate::store::InstanceLock::acquire(db)?;
    if db.exists() {
        let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S");
        let kept = db.with_extension(format!("db.before-restore-{stamp}"));
        {
            let current = Store::open(db)?;
            current.backup_to(&kept)?;
        }
        for suffix in ["", "-wal", "-shm"] {
            let p = PathBuf::from(format!("{}{suffix}", db.display()));
            if p.exists() {
                std::fs::remove_file(&p).with_context(|| format!("removing {}", p.display()))?;
            }
        }
        outln!("Kept the previous database as {}", kept.display());
    }
    backup.backup_to(db)?;
    outln!(
        "Restored {} from {} ({classes} classes, {students} students)",
        db.display(),
        args.file.display()
    );
    Ok(())
}

/// Runs `rollcall purge`.
pub fn run_purge(store: &Store, args: &PurgeArgs) -> anyhow::Result<()> {
    let Some(days) = args.older_than_days.or(store.settings()?.retention_days) else {
        anyhow::bail!("no retention period is set: pass --older-than-days N");
    };
    anyhow::ensure!(days >= 1, "the retention period must be at least one day");
    let n = store.purge_expired_biometrics(days)?;
    outln!(
        "Deleted the photos and embeddings of {n} student(s) enrolled more than {days} days ago"
    );
    Ok(())
}
