//! The classroom side of a school server: where this machine keeps its offline copy of a
//! server's rosters, opening a lesson from it when the server cannot be reached, and sending
//! what was taken offline once the server is back.

use std::path::PathBuf;

use anyhow::Context as _;

use crate::core::ClassId;
use crate::store::offline::Waiting;
use crate::store::{Location, ServerUrl, Store, StoreError};

/// The offline copy of `url`'s rosters on this machine: one SQLite file per server, database
/// and role, in the platform data folder (`~/.local/share/rollcall/offline/`).
#[must_use]
pub fn copy_path(url: &ServerUrl) -> Option<PathBuf> {
    let dir = crate::store::default_db_path()?.parent()?.join("offline");
    Some(dir.join(format!("{}.db", url.copy_key())))
}

/// Opens (creating if needed) the offline copy of `url`.
pub fn open_copy(url: &ServerUrl) -> anyhow::Result<Store> {
    let path = copy_path(url).context("this user has no data folder for an offline copy")?;
    super::open(&Location::File(path.clone()))
        .with_context(|| format!("opening the offline copy {}", path.display()))
}

/// Where a lesson runs.
pub enum LessonStore {
    /// On the server; the class's offline copy was refreshed and earlier offline changes sent.
    Online {
        /// The server.
        server: Store,
        /// What had been waiting and was sent now.
        sent: Waiting,
    },
    /// On the offline copy, because the server cannot be reached.
    Offline {
        /// The copy.
        copy: Store,
        /// Why the server could not be used.
        reason: String,
    },
}

/// Opens the store a lesson of `class` (name or id) runs on. A file is used as it is. On a
/// server, the class's offline copy is refreshed and anything taken offline before is sent
/// first; when the server cannot be reached, the lesson runs on the copy, if it holds the class.
/// `open` opens the server (the CLI's asks for a password in a terminal).
pub fn open_for_lesson(
    location: &Location,
    class: &str,
    open: impl Fn(&Location) -> anyhow::Result<Store>,
) -> anyhow::Result<LessonStore> {
    let Location::Server(url) = location else {
        return Ok(LessonStore::Online {
            server: open(location)?,
            sent: Waiting::default(),
        });
    };
    match open(location) {
        Ok(server) => {
            let copy = open_copy(url)?;
            let sent = copy.send_waiting_changes(&server)?;
            let c = server.find_class(class)?;
            copy.refresh_offline_copy(&server, c.id)?;
            Ok(LessonStore::Online { server, sent })
        }
        Err(err) if is_unreachable(&err) => {
            let copy = open_copy(url)?;
            copy.find_class(class).map_err(|_| {
                anyhow::anyhow!(
                    "{err:#}; and this machine has no offline copy of class {class:?} (a lesson \
                     taken once while the server is up keeps one)"
                )
            })?;
            Ok(LessonStore::Offline {
                copy,
                reason: format!("{err:#}"),
            })
        }
        Err(err) => Err(err),
    }
}

/// Sends what the offline copy of `url` holds to the server (`rollcall sync`).
pub fn send_waiting(url: &ServerUrl, server: &Store) -> anyhow::Result<Waiting> {
    let copy = open_copy(url)?;
    Ok(copy.send_waiting_changes(server)?)
}

/// What is waiting in the offline copy of `url`.
pub fn waiting(url: &ServerUrl) -> anyhow::Result<Waiting> {
    Ok(open_copy(url)?.waiting_changes()?)
}

/// Refreshes the offline copy of `class` from `server`.
pub fn refresh(url: &ServerUrl, server: &Store, class: ClassId) -> anyhow::Result<()> {
    Ok(open_copy(url)?.refresh_offline_copy(server, class)?)
}

fn is_unreachable(err: &anyhow::Error) -> bool {
    matches!(
        err.downcast_ref::<StoreError>(),
        Some(StoreError::Unreachable(_))
    )
}
