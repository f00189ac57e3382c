//! The one SQLite file that holds everything: classes, students, enrollment photos and
//! embeddings, encoders, sessions, marks, the review queue, consent and the audit log.
//! The schema changes only through the numbered folders in `migrations/`, embedded here.

mod audit;
mod classes;
mod consent;
mod encoders;
mod enrollment;
pub mod export;
mod lock;
mod marks;
mod review;
pub mod sample;
mod sessions;
mod settings;
mod students;

use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};

use include_dir::{Dir, include_dir};
use rusqlite::{Connection, OpenFlags, OptionalExtension as _};
use rusqlite_migration::{Migrations, SchemaVersion};

use crate::core::EmbeddingError;

pub use audit::AuditEntry;
pub use classes::ClassRow;
pub use consent::ConsentRow;
pub use encoders::EncoderRow;
pub use enrollment::{EnrollmentRow, NewEnrollment, ReembedItem};
pub use lock::InstanceLock;
pub use marks::{AutoMark, MarkRow, RecordOutcome};
pub use review::ReviewRow;
pub use sessions::{SessionRow, SessionSettings};
pub use settings::Settings;
pub use students::StudentRow;

static MIGRATIONS_DIR: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/migrations");

/// The embedded migrations, in order.
pub static MIGRATIONS: LazyLock<Result<Migrations<'static>, String>> =
    LazyLock::new(|| Migrations::from_directory(&MIGRATIONS_DIR).map_err(|err| err.to_string()));

/// The environment variable that overrides the database path.
pub const DB_ENV: &str = "ROLLCALL_DB";

/// Errors from the store. Messages are written for the teacher.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite reported an error.
    #[error("database error: {0}")]
    Sqlite(rusqlite::Error),
    /// The disk (or the database's size limit) is full; the change was not made.
    #[error("the disk is full, so nothing was changed; free some space and try again ({0})")]
    DiskFull(rusqlite::Error),
    /// The database file cannot be written; the change was not made.
    #[error("the database file is read-only, so nothing was changed; check its permissions ({0})")]
    ReadOnly(rusqlite::Error),
    /// Migrating the schema failed.
    #[error("could not update the database schema: {0}")]
    Migration(String),
    /// The file was written by a newer rollcall.
    #[error(
        "this database was written by a newer version of rollcall (schema version {found}; this \
         version understands up to {supported}). Update rollcall to open it; the file was not changed"
    )]
    NewerSchema {
        /// Version found in the file.
        found: usize,
        /// Highest version this build knows.
        supported: usize,
    },
    /// The file is not a SQLite database.
    #[error("{path} is not a rollcall database (or it is damaged): {reason}")]
    NotADatabase {
        /// The file.
        path: PathBuf,
        /// What SQLite said.
        reason: String,
    },
    /// Something named by the user does not exist.
    #[error("{what} {key:?} not found")]
    NotFound {
        /// "class", "student", ...
        what: &'static str,
        /// What was looked up.
        key: String,
    },
    /// A name matches several rows.
    #[error("{what} {key:?} is ambiguous: {candidates}. Use the numeric id instead")]
    Ambiguous {
        /// "student", ...
        what: &'static str,
        /// What was looked up.
        key: String,
        /// The matches, described.
        candidates: String,
    },
    /// Something already exists.
    #[error("{what} {key:?} already exists")]
    Duplicate {
        /// "class", ...
        what: &'static str,
        /// The duplicate key.
        key: String,
    },
    /// A request that breaks a rule (a message for the teacher).
    #[error("{0}")]
    Invalid(String),
    /// A stored embedding could not be read.
    #[error("stored embedding is damaged: {0}")]
    Embedding(#[from] EmbeddingError),
    /// File-system error around the database file.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The OS error.
        source: std::io::Error,
    },
}

impl From<rusqlite::Error> for StoreError {
    fn from(err: rusqlite::Error) -> Self {
        match err.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DiskFull) => Self::DiskFull(err),
            Some(rusqlite::ErrorCode::ReadOnly) => Self::ReadOnly(err),
            _ => Self::Sqlite(err),
        }
    }
}

/// Shorthand for store results.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A source of the current time in Unix milliseconds, replaceable in tests.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The system clock.
#[must_use]
pub fn system_clock() -> Clock {
    Arc::new(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
    })
}

/// An open rollcall database.
pub struct Store {
    conn: Connection,
    path: Option<PathBuf>,
    clock: Clock,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// The default database location: the platform data folder
/// (on Linux `~/.local/share/rollcall/rollcall.db`).
#[must_use]
pub fn default_db_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "rollcall").map(|d| d.data_dir().join("rollcall.db"))
}

fn migrations() -> Result<&'static Migrations<'static>> {
    MIGRATIONS
        .as_ref()
        .map_err(|err| StoreError::Migration(err.clone()))
}

/// The schema version this build creates.
pub fn supported_schema_version() -> Result<usize> {
    let m = migrations()?;
    let mut probe = Connection::open_in_memory()?;
    m.to_latest(&mut probe)
        .map_err(|err| StoreError::Migration(err.to_string()))?;
    Ok(m.current_version(&probe).map_or(0, usize::from))
}

impl Store {
    /// Opens (creating if needed) the database at `path`, brings the schema up to date, and
    /// refuses a database written by a newer version. A new file and its folder are created
    /// readable by the owner only.
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            create_private_dir(dir)?;
        }
        let existed = path.exists();
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|err| StoreError::NotADatabase {
            path: path.to_owned(),
            reason: err.to_string(),
        })?;
        if !existed {
            restrict_permissions(path)?;
        }
        let mut store = Self {
            conn,
            path: Some(path.to_owned()),
            clock: system_clock(),
        };
        store.configure().map_err(|err| match err {
            StoreError::Sqlite(e) if is_not_a_database(&e) => StoreError::NotADatabase {
                path: path.to_owned(),
                reason: e.to_string(),
            },
            other => other,
        })?;
        store.migrate()?;
        Ok(store)
    }

    /// An empty database in memory, for tests.
    pub fn open_in_memory() -> Result<Self> {
        let conn = Connection::open_in_memory()?;
        let mut store = Self {
            conn,
            path: None,
            clock: system_clock(),
        };
        store.configure()?;
        store.migrate()?;
        Ok(store)
    }

    /// Replaces the clock (tests use a fixed one).
    #[must_use]
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The current time in Unix milliseconds, from the store's clock.
    #[must_use]
    pub fn now_ms(&self) -> i64 {
        (self.clock)()
    }

    /// The file this store was opened from (`None` in memory).
    #[must_use]
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<usize> {
        migrations()?
            .current_version(&self.conn)
            .map(usize::from)
            .map_err(|err| StoreError::Migration(err.to_string()))
    }

    /// Runs `PRAGMA integrity_check` and returns its findings (`["ok"]` when healthy).
    pub fn integrity_check(&self) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare("PRAGMA integrity_check")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Reads a setting.
    pub fn setting(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()?)
    }

    /// Writes a setting.
    pub fn set_setting(&self, key: &str, value: &str) -> Result<()> {
        self.conn.execute(
            "INSERT INTO settings (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [key, value],
        )?;
        Ok(())
    }

    /// Copies the whole database to `dest` with SQLite's online backup (safe while in use).
    pub fn backup_to(&self, dest: &Path) -> Result<()> {
        if dest.exists() {
            return Err(StoreError::Invalid(format!(
                "{} already exists: choose a new file name for the backup",
                dest.display()
            )));
        }
        let mut out = Connection::open(dest)?;
        restrict_permissions(dest)?;
        let backup = rusqlite::backup::Backup::new(&self.conn, &mut out)?;
        backup.run_to_completion(256, std::time::Duration::from_millis(5), None)?;
        Ok(())
    }

    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    fn configure(&mut self) -> Result<()> {
        self.conn.busy_timeout(std::time::Duration::from_secs(5))?;
        // Reading one value forces SQLite to read the header, so a non-database fails here.
        self.conn
            .query_row("PRAGMA schema_version", [], |r| r.get::<_, i64>(0))?;
        self.conn.pragma_update(None, "foreign_keys", "ON")?;
        if self.path.is_some() {
            let mode: String = self
                .conn
                .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
            if !mode.eq_ignore_ascii_case("wal") {
                log::warn!("SQLite refused WAL mode (journal mode is {mode:?})");
            }
        }
        // Every committed mark must survive a crash of the app.
        self.conn.pragma_update(None, "synchronous", "FULL")?;
        Ok(())
    }

    fn migrate(&mut self) -> Result<()> {
        let m = migrations()?;
        let supported = supported_schema_version()?;
        match m.current_version(&self.conn) {
            Ok(SchemaVersion::Outside(v)) => {
                return Err(StoreError::NewerSchema {
                    found: v.get(),
                    supported,
                });
            }
            Ok(_) => {}
            Err(err) => return Err(StoreError::Migration(err.to_string())),
        }
        m.to_latest(&mut self.conn)
            .map_err(|err| StoreError::Migration(err.to_string()))
    }

    /// Runs `f` in one transaction: all of its changes land, or none.
    pub(crate) fn in_transaction<T>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T>,
    ) -> Result<T> {
        let tx = self.conn.unchecked_transaction()?;
        let value = f(&tx)?;
        tx.commit()?;
        Ok(value)
    }
}

fn is_not_a_database(err: &rusqlite::Error) -> bool {
    matches!(
        err.sqlite_error_code(),
        Some(rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt)
    )
}

fn create_private_dir(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(|source| StoreError::Io {
        context: format!("could not create the data folder {}", dir.display()),
        source,
    })
}

fn restrict_permissions(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(
            |source| StoreError::Io {
                context: format!("could not make {} private", path.display()),
                source,
            },
        )?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Maps a UNIQUE-constraint failure to [`StoreError::Duplicate`].
pub(crate) fn duplicate_or(err: rusqlite::Error, what: &'static str, key: &str) -> StoreError {
    if err.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation)
        && err.to_string().contains("UNIQUE")
    {
        StoreError::Duplicate {
            what,
            key: key.to_owned(),
        }
    } else {
        StoreError::from(err)
    }
}

#[cfg(test)]
mod tests;
