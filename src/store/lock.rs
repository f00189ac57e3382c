//! One window per database: the window holds an exclusive lock on `<db>.lock` while it runs,
//! so a second window (or a restore) is refused with a clear message. Command-line commands do
//! not take the lock; SQLite's WAL mode and busy timeout let them work next to the window.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use super::{Result, StoreError};

/// Held while a window (or a restore) owns the database; released when dropped.
#[derive(Debug)]
pub struct InstanceLock {
    _file: File,
    path: PathBuf,
}

impl InstanceLock {
    /// Takes the lock of the database at `db`, or explains who holds it.
    pub fn acquire(db: &Path) -> Result<Self> {
        let path = PathBuf::from(format!("{}.lock", db.display()));
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
                context: format!("creating {}", dir.display()),
                source,
            })?;
        }
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|source| StoreError::Io {
                context: format!("opening {}", path.display()),
                source,
            })?;
        match file.try_lock() {
            Ok(()) => Ok(Self { _file: file, path }),
            Err(TryLockError::WouldBlock) => Err(StoreError::Invalid(format!(
                "rollcall is already open on {} in another window (or a restore is running). Use that \
                 window, or close it first; command-line commands still work next to it",
                db.display()
            ))),
            Err(TryLockError::Error(source)) => Err(StoreError::Io {
                context: format!("locking {}", path.display()),
                source,
            }),
        }
    }

    /// The lock file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("a.db");
        let first = InstanceLock::acquire(&db).unwrap();
        let err = InstanceLock::acquire(&db).unwrap_err();
        assert!(err.to_string().contains("already open"), "{err}");
        drop(first);
        InstanceLock::acquire(&db).unwrap();
    }
}
