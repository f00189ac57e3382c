//! Choosing the database this machine opens (the Settings screen and `rollcall database`):
//! the choice is checked by opening it, then saved outside any database
//! ([`crate::store::choice`]), and used from the next start.

use std::path::Path;

use anyhow::Context as _;

use crate::store::{self, Location, choice};

/// What opening a chosen database found, for the person who chose it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checked {
    /// Classes in it.
    pub classes: usize,
    /// Students in it (that this role may see, on a school server).
    pub students: usize,
}

/// Opens `location` the way rollcall will (creating a new file and its schema, or connecting
/// to the server and checking its schema), and counts what is there.
pub fn check(location: &Location) -> anyhow::Result<Checked> {
    choice::check(location)?;
    let store = super::open(location)?;
    Ok(Checked {
        classes: store.list_classes()?.len(),
        students: store.list_students(None)?.len(),
    })
}

/// Checks `location` and, when it opens, saves it as the choice in `choice_file`; nothing is
/// saved when it does not open.
pub fn choose(location: &Location, choice_file: &Path) -> anyhow::Result<Checked> {
    let checked = check(location)?;
    choice::save(choice_file, Some(location))?;
    Ok(checked)
}

/// Removes the saved choice: the default file is used from the next start.
pub fn forget(choice_file: &Path) -> anyhow::Result<()> {
    Ok(choice::save(choice_file, None)?)
}

/// The choice file of this user.
pub fn choice_file() -> anyhow::Result<std::path::PathBuf> {
    choice::default_choice_file()
        .context("could not find a configuration folder for this user (is HOME set?)")
}

/// The database to open and where that came from: `given` (`--db` or `ROLLCALL_DB`), else the
/// saved choice, else the default file.
pub fn resolve(given: Option<&Location>) -> anyhow::Result<(Location, choice::Source)> {
    choice::resolve(
        given,
        choice::default_choice_file().as_deref(),
        store::default_location(),
    )?
    .context("could not find a data folder for this user; pass --db PATH or set ROLLCALL_DB")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[test]
    fn a_database_that_opens_is_saved_and_one_that_does_not_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config/database");
        let db = dir.path().join("school/7B.db");
        let checked = choose(&Location::File(db.clone()), &file).unwrap();
        assert_eq!(
            checked,
            Checked {
                classes: 0,
                students: 0
            }
        );
        assert!(db.exists());
        assert_eq!(
            choice::load(&file).unwrap(),
            Some(Location::File(db.clone()))
        );
        // A file that is not a database is refused and the old choice stays.
        let junk = dir.path().join("notes.txt");
        std::fs::write(&junk, "not a database").unwrap();
        assert!(choose(&Location::File(junk), &file).is_err());
        assert_eq!(choice::load(&file).unwrap(), Some(Location::File(db)));
        forget(&file).unwrap();
        assert_eq!(choice::load(&file).unwrap(), None);
    }

    #[test]
    fn a_school_server_that_opens_is_saved() {
        let Some(server) = crate::store::cluster::TempCluster::start_or_skip("choosing a server")
        else {
            return;
        };
        server.create_database("chosen").unwrap();
        let url = server.url(crate::store::cluster::ADMIN, "chosen");
        let store = Store::connect(&url).unwrap();
        let class = store.add_class("7B").unwrap();
        store.add_student("Ada", None, &[class]).unwrap();
        drop(store);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("database");
        let location = Location::Server(url);
        let checked = choose(&location, &file).unwrap();
        assert_eq!(
            checked,
            Checked {
                classes: 1,
                students: 1
            }
        );
        assert_eq!(choice::load(&file).unwrap(), Some(location));
        // A server that is not there is refused, and the choice stays.
        let gone: Location = "postgresql://nobody@127.0.0.1:1/none?connect_timeout=2"
            .parse()
            .unwrap();
        assert!(choose(&gone, &file).is_err());
        assert!(matches!(
            choice::load(&file).unwrap(),
            Some(Location::Server(_))
        ));
    }
}
