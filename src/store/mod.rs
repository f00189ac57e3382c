//! The one SQLite file that holds everything: classes, students, enrollment photos and
//! embeddings, encoders, sessions, marks, the review queue, consent and the audit log.
//! The schema changes only through the numbered folders in `migrations/sqlite` (and, for a
//! school server, `migrations/postgres`), embedded here.

mod audit;
mod biometrics;
pub mod choice;
mod classes;
pub mod cluster;
mod consent;
pub mod db;
mod encoders;
mod enrollment;
pub mod export;
mod import;
mod lock;
mod marks;
pub mod offline;
pub mod oneroster;
mod review;
pub mod sample;
pub mod server;
mod sessions;
mod settings;
mod students;

use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};

use include_dir::{Dir, include_dir};
use rusqlite::{Connection, OpenFlags};
use rusqlite_migration::{Migrations, SchemaVersion};

use crate::core::EmbeddingError;
pub use db::Engine;
use db::{Db, DbError, OptionalExtension as _};

pub use audit::AuditEntry;
pub use classes::ClassRow;
pub use consent::ConsentRow;
pub use encoders::EncoderRow;
pub use enrollment::{EnrollmentRow, NewEnrollment, ReembedItem};
pub use import::ImportReport;
pub use lock::InstanceLock;
pub use marks::{AutoMark, MarkRow, RecordOutcome};
pub use review::ReviewRow;
pub use server::{Location, ServerUrl};
pub use sessions::{SessionRow, SessionSettings};
pub use settings::{Settings, SisCodes};
pub use students::StudentRow;

static MIGRATIONS_DIR: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/migrations/sqlite");

/// The embedded migrations, in order.
pub static MIGRATIONS: LazyLock<Result<Migrations<'static>, String>> =
    LazyLock::new(|| Migrations::from_directory(&MIGRATIONS_DIR).map_err(|err| err.to_string()));

/// How long a SQLite writer waits for another before giving up.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

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
    /// The school's PostgreSQL server reported an error.
    #[error("the school server: {0}")]
    Server(DbError),
    /// The school's PostgreSQL server cannot be reached (stopped, or the network is down).
    #[error("the school server cannot be reached: {0}")]
    Unreachable(DbError),
    /// The server wants a password and none was found in libpq's places.
    #[error(
        "the school server {0} asks for a password, and none was given: put it in ~/.pgpass \
         (or the file PGPASSFILE names), a service file, or PGPASSWORD; in a terminal rollcall \
         asks for it"
    )]
    PasswordNeeded(String),
    /// A OneRoster bundle that cannot be imported: every problem, with its file and line.
    #[error("{0}")]
    Roster(oneroster::Problems),
    /// A row could not be read (a damaged row, or a query the store got wrong).
    #[error("database error: {0}")]
    Db(DbError),
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

impl From<DbError> for StoreError {
    fn from(err: DbError) -> Self {
        match err {
            DbError::Sqlite(e) => Self::from(e),
            e @ DbError::Postgres(_) if e.is_connection_lost() => Self::Unreachable(e),
            e @ DbError::Postgres(_) => Self::Server(e),
            e => Self::Db(e),
        }
    }
}

impl StoreError {
    /// Whether a transaction failed only because a concurrent one got in the way, so that
    /// running it again is right (PostgreSQL's serialization failures and deadlocks).
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Server(e) if e.is_retryable())
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
    db: Db,
    path: Option<PathBuf>,
    server: Option<server::ServerUrl>,
    clock: Clock,
    /// Who the audit log names for changes made through this store.
    actor: String,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

/// The user name of this computer's session (`USER`, else `LOGNAME`), for the audit log of a
/// file; "teacher" when neither is set.
fn local_user() -> String {
    ["USER", "LOGNAME"]
        .into_iter()
        .filter_map(|k| std::env::var(k).ok())
        .map(|u| u.trim().to_owned())
        .find(|u| !u.is_empty())
        .unwrap_or_else(|| "teacher".to_owned())
}

/// The default store: the SQLite file in the platform data folder.
#[must_use]
pub fn default_location() -> Option<Location> {
    default_db_path().map(Location::File)
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
            db: Db::Sqlite(conn),
            path: Some(path.to_owned()),
            server: None,
            clock: system_clock(),
            actor: local_user(),
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
            db: Db::Sqlite(conn),
            path: None,
            server: None,
            clock: system_clock(),
            actor: local_user(),
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

    /// Who the audit log names for manual changes made through this store: the database role
    /// on a school server (each teacher and office worker connects as their own), the
    /// computer's user name for a file.
    #[must_use]
    pub fn actor(&self) -> &str {
        &self.actor
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

    /// Where this store lives (`None` for a database in memory).
    #[must_use]
    pub fn location(&self) -> Option<Location> {
        match (&self.path, &self.server) {
            (Some(p), _) => Some(Location::File(p.clone())),
            (None, Some(url)) => Some(Location::Server(url.clone())),
            (None, None) => None,
        }
    }

    /// Which engine this store runs on.
    #[must_use]
    pub fn engine(&self) -> Engine {
        self.db.engine()
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<usize> {
        match &self.db {
            Db::Sqlite(conn) => migrations()?
                .current_version(conn)
                .map(usize::from)
                .map_err(|err| StoreError::Migration(err.to_string())),
            Db::Postgres(_) => server::schema_version(&self.db),
        }
    }

    /// Runs SQLite's `PRAGMA integrity_check` and returns its findings (`["ok"]` when
    /// healthy). A PostgreSQL server checks its own pages, so there it only confirms that the
    /// schema is the one this build expects.
    pub fn integrity_check(&self) -> Result<Vec<String>> {
        match &self.db {
            Db::Sqlite(_) => Ok(self
                .db
                .query_map("PRAGMA integrity_check", [], |r| r.get::<_, String>(0))?),
            Db::Postgres(_) => {
                let found = self.schema_version()?;
                let expected = server::supported_schema_version()?;
                Ok(vec![if found == expected {
                    "ok".to_owned()
                } else {
                    format!("schema version {found}, expected {expected}")
                }])
            }
        }
    }

    /// Reads a setting.
    pub fn setting(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .db
            .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()?)
    }

    /// Writes a setting.
    pub fn set_setting(&self, key: &str, value: &str) -> Result<()> {
        self.db.execute(
            "INSERT INTO settings (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [key, value],
        )?;
        Ok(())
    }

    /// Copies the whole database to `dest` with SQLite's online backup (safe while in use).
    /// A school server is backed up with PostgreSQL's own tools (`pg_dump`), so there this
    /// is refused with that advice.
    pub fn backup_to(&self, dest: &Path) -> Result<()> {
        let Some(conn) = self.db.sqlite() else {
            return Err(StoreError::Invalid(
                "this is a PostgreSQL server: back it up with pg_dump (or the school's database \
                 backup), not with rollcall"
                    .to_owned(),
            ));
        };
        if dest.exists() {
            return Err(StoreError::Invalid(format!(
                "{} already exists: choose a new file name for the backup",
                dest.display()
            )));
        }
        let mut out = Connection::open(dest)?;
        restrict_permissions(dest)?;
        let backup = rusqlite::backup::Backup::new(conn, &mut out)?;
        backup.run_to_completion(256, std::time::Duration::from_millis(5), None)?;
        Ok(())
    }

    pub(crate) fn db(&self) -> &Db {
        &self.db
    }

    fn configure(&mut self) -> Result<()> {
        let Db::Sqlite(conn) = &mut self.db else {
            return Ok(());
        };
        // A writer waits for another rather than failing. The longest hold is a classroom's
        // offline copy sending what it took to the server: the copy stays locked until the
        // server answers, which a dropped network bounds by the client's timeouts (about 15 s).
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // Every transaction takes the write lock when it begins, waiting for it as above. A
        // deferred one that reads first and then writes while another connection commits gets
        // "database is locked" at once, without waiting.
        conn.set_transaction_behavior(rusqlite::TransactionBehavior::Immediate);
        // Reading one value forces SQLite to read the header, so a non-database fails here.
        conn.query_row("PRAGMA schema_version", [], |r| r.get::<_, i64>(0))?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        if self.path.is_some() {
            let mode = switch_to_wal(conn)?;
            if !mode.eq_ignore_ascii_case("wal") {
                log::warn!("SQLite refused WAL mode (journal mode is {mode:?})");
            }
        }
        // Every committed mark must survive a crash of the app.
        conn.pragma_update(None, "synchronous", "FULL")?;
        Ok(())
    }

    fn migrate(&mut self) -> Result<()> {
        let Db::Sqlite(conn) = &mut self.db else {
            return server::migrate(&self.db);
        };
        let m = migrations()?;
        let supported = supported_schema_version()?;
        match m.current_version(conn) {
            Ok(SchemaVersion::Outside(v)) => {
                return Err(StoreError::NewerSchema {
                    found: v.get(),
                    supported,
                });
            }
            Ok(_) => {}
            Err(err) => return Err(StoreError::Migration(err.to_string())),
        }
        match m.to_latest(conn) {
            Ok(()) => Ok(()),
            // Two processes opening a new file at the same moment both start the migration;
            // SQLite lets one finish and the other fails. The schema is then current all the same.
            Err(err) => match m.current_version(conn) {
                Ok(SchemaVersion::Inside(v)) if v.get() == supported => Ok(()),
                _ => Err(StoreError::Migration(err.to_string())),
            },
        }
    }

    /// Runs `f` in one transaction: all of its changes land, or none. On PostgreSQL a
    /// transaction that a concurrent classroom aborted is run again, so `f` may run more than
    /// once and must only talk to the database.
    pub(crate) fn in_transaction<T>(&self, f: impl FnMut(&Db) -> Result<T>) -> Result<T> {
        self.db.transaction(f, StoreError::is_retryable)
    }
}

/// Puts a file database in WAL mode, once for the file, and returns the journal mode it is in.
/// The switch needs the file to itself, and SQLite answers "database is locked" at once, without
/// the busy timeout, while another connection holds it: several lessons starting together open
/// (and create) one offline copy at the same moment. So it is tried again until
/// [`BUSY_TIMEOUT`].
fn switch_to_wal(conn: &Connection) -> Result<String> {
    let journal_mode = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, String>(0));
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    let mut pause = std::time::Duration::from_millis(2);
    loop {
        let mode = journal_mode("PRAGMA journal_mode")?;
        if mode.eq_ignore_ascii_case("wal") {
            return Ok(mode);
        }
        match journal_mode("PRAGMA journal_mode = WAL") {
            Err(err) if is_busy(&err) && std::time::Instant::now() < deadline => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(std::time::Duration::from_millis(50));
            }
            other => return Ok(other?),
        }
    }
}

fn is_busy(err: &rusqlite::Error) -> bool {
    matches!(
        err.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
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
pub(crate) fn duplicate_or(err: DbError, what: &'static str, key: &str) -> StoreError {
    if err.is_unique_violation() {
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
