//! The database this machine opens when neither `--db` nor `ROLLCALL_DB` names one: a choice
//! saved in a one-line file in the platform's configuration folder (on Linux
//! `~/.config/rollcall/database`), written by the Settings screen and `rollcall database use`.
//! Without it, the default SQLite file in the data folder is used. A password is never saved:
//! a school server's password comes from libpq's own places (`~/.pgpass`, `PGPASSWORD`, a
//! service file) or a prompt.

use std::fmt;
use std::path::{Path, PathBuf};

use super::server::Location;

/// Where the database to open came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// The `--db` option (or the `ROLLCALL_DB` environment variable).
    Given,
    /// The choice saved in this file.
    Saved(PathBuf),
    /// The default file in the platform data folder.
    Default,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Given => f.write_str("--db or ROLLCALL_DB"),
            Self::Saved(p) => write!(f, "the choice saved in {}", p.display()),
            Self::Default => f.write_str("the default file"),
        }
    }
}

/// Errors reading or writing the saved choice. Messages are written for the person at the
/// keyboard and name the file.
#[derive(Debug, thiserror::Error)]
pub enum ChoiceError {
    /// The file exists but cannot be read or does not hold a location.
    #[error(
        "the saved database choice in {file} cannot be used ({why}); \
         run `rollcall database forget` or choose again in Settings"
    )]
    Unreadable {
        /// The choice file.
        file: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// A server URL with a password in it.
    #[error(
        "rollcall does not save passwords: remove the password from the URL and put it in \
         ~/.pgpass (readable by you only) or PGPASSWORD"
    )]
    Password,
    /// A relative file path, which would change meaning with the working folder.
    #[error("{0} is not a full path; give the database file's full path")]
    RelativePath(PathBuf),
    /// The file could not be written.
    #[error("could not save the database choice in {file}: {source}")]
    Write {
        /// The choice file.
        file: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// The choice file in the platform configuration folder (`None` when the platform has no
/// home folder).
#[must_use]
pub fn default_choice_file() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "rollcall").map(|d| d.config_dir().join("database"))
}

/// The saved choice in `file`; `None` when nothing is saved.
pub fn load(file: &Path) -> Result<Option<Location>, ChoiceError> {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => {
            return Err(ChoiceError::Unreadable {
                file: file.to_owned(),
                why: err.to_string(),
            });
        }
    };
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'));
    let Some(line) = line else {
        return Ok(None);
    };
    let unreadable = |why: String| ChoiceError::Unreadable {
        file: file.to_owned(),
        why,
    };
    let location: Location = line.parse().map_err(unreadable)?;
    check(&location).map_err(|e| unreadable(e.to_string()))?;
    Ok(Some(location))
}

/// Refuses what must not be saved: a URL with a password, a relative file path.
pub fn check(location: &Location) -> Result<(), ChoiceError> {
    match location {
        Location::Server(url) if url.has_password() => Err(ChoiceError::Password),
        Location::File(p) if !p.is_absolute() => Err(ChoiceError::RelativePath(p.clone())),
        _ => Ok(()),
    }
}

/// Saves `location` as the choice in `file` (replacing the file whole, so a crash leaves the
/// old choice or the new one); `None` removes the choice.
pub fn save(file: &Path, location: Option<&Location>) -> Result<(), ChoiceError> {
    let write = |source| ChoiceError::Write {
        file: file.to_owned(),
        source,
    };
    let Some(location) = location else {
        return match std::fs::remove_file(file) {
            Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(write(err)),
            _ => Ok(()),
        };
    };
    check(location)?;
    let text = match location {
        Location::File(p) => p.display().to_string(),
        Location::Server(url) => url.as_str().to_owned(),
    };
    if text.contains('\n') {
        return Err(ChoiceError::RelativePath(PathBuf::from(text)));
    }
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir).map_err(write)?;
    }
    let tmp = file.with_extension("new");
    std::fs::write(
        &tmp,
        format!(
            "# The database rollcall opens (written by rollcall; a file or a server)\n{text}\n"
        ),
    )
    .map_err(write)?;
    std::fs::rename(&tmp, file).map_err(write)
}

/// The database to open and where that came from: `given` (from `--db` or `ROLLCALL_DB`), else
/// the choice saved in `choice_file`, else `default`.
pub fn resolve(
    given: Option<&Location>,
    choice_file: Option<&Path>,
    default: Option<Location>,
) -> Result<Option<(Location, Source)>, ChoiceError> {
    if let Some(l) = given {
        return Ok(Some((l.clone(), Source::Given)));
    }
    if let Some(file) = choice_file
        && let Some(l) = load(file)?
    {
        return Ok(Some((l, Source::Saved(file.to_owned()))));
    }
    Ok(default.map(|l| (l, Source::Default)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_choice_is_saved_loaded_and_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config").join("database");
        assert_eq!(load(&file).unwrap(), None);
        let server: Location = "postgresql://teacher@school.example/rollcall?sslmode=require"
            .parse()
            .unwrap();
        save(&file, Some(&server)).unwrap();
        assert_eq!(load(&file).unwrap(), Some(server.clone()));
        let db = dir.path().join("class.db");
        save(&file, Some(&Location::File(db.clone()))).unwrap();
        assert_eq!(load(&file).unwrap(), Some(Location::File(db.clone())));
        // --db wins over the saved choice, which wins over the default.
        let default = Some(Location::File(dir.path().join("default.db")));
        let (l, from) = resolve(Some(&server), Some(&file), default.clone())
            .unwrap()
            .unwrap();
        assert_eq!((l, from), (server, Source::Given));
        let (l, from) = resolve(None, Some(&file), default.clone())
            .unwrap()
            .unwrap();
        assert_eq!((l, from), (Location::File(db), Source::Saved(file.clone())));
        save(&file, None).unwrap();
        assert!(!file.exists());
        save(&file, None).unwrap();
        let (l, from) = resolve(None, Some(&file), default.clone())
            .unwrap()
            .unwrap();
        assert_eq!((Some(l), from), (default, Source::Default));
    }

    #[test]
    fn a_password_or_a_relative_path_is_never_saved() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("database");
        let with_password: Location = "postgresql://teacher:secret@school.example/rollcall"
            .parse()
            .unwrap();
        let err = save(&file, Some(&with_password)).unwrap_err();
        assert!(matches!(err, ChoiceError::Password), "{err}");
        assert!(!err.to_string().contains("secret"));
        let err = save(&file, Some(&Location::File("class.db".into()))).unwrap_err();
        assert!(matches!(err, ChoiceError::RelativePath(_)), "{err}");
        assert!(!file.exists());
    }

    #[test]
    fn a_broken_choice_file_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("database");
        std::fs::write(&file, "postgresql://teacher@host/db?bogus=1\n").unwrap();
        let err = load(&file).unwrap_err().to_string();
        assert!(err.contains(&file.display().to_string()), "{err}");
        assert!(err.contains("rollcall database forget"), "{err}");
        std::fs::write(&file, "postgresql://t:pw@host/db\n").unwrap();
        let err = load(&file).unwrap_err().to_string();
        assert!(!err.contains("pw@"), "{err}");
        // Comments and blank lines are nothing saved.
        std::fs::write(&file, "# nothing yet\n\n").unwrap();
        assert_eq!(load(&file).unwrap(), None);
    }
}
