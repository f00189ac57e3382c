//! The classroom side of a school server: where this machine keeps its offline copy of a
//! server's rosters, opening a lesson from it when the server cannot be reached, and sending
//! what was taken offline once the server is back.

use std::path::PathBuf;

use anyhow::Context as _;

use super::live::Writes as _;
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

/// The database the window opens: `location` itself, or, when it is a school server that
/// cannot be reached, this machine's offline copy of it (if it holds a class), with the reason.
pub fn open_for_window(
    location: &Location,
    open: impl Fn(&Location) -> anyhow::Result<Store>,
    copy_of: impl Fn(&ServerUrl) -> anyhow::Result<Store>,
) -> anyhow::Result<(Store, Option<String>)> {
    let err = match open(location) {
        Ok(store) => return Ok((store, None)),
        Err(err) => err,
    };
    let Location::Server(url) = location else {
        return Err(err);
    };
    if !is_unreachable(&err) {
        return Err(err);
    }
    let copy = copy_of(url)?;
    if copy.list_classes()?.is_empty() {
        anyhow::bail!(
            "{err:#}; and this machine has no offline copy of its classes yet (a lesson taken \
             once while the server is up keeps one)"
        );
    }
    Ok((copy, Some(format!("{err:#}"))))
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

/// How a lesson opens its server again (the CLI's asks for a password in a terminal).
type Opener = dyn Fn(&Location) -> anyhow::Result<Store>;

/// How often a lesson that lost its server tries to reach it again.
const RECONNECT_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// The stores of one live lesson: the server while it answers, the offline copy when it does
/// not. A mark decided while the server goes away is written to the copy, never lost, and the
/// lesson keeps trying the server; once it answers, what was written meanwhile is sent and the
/// lesson carries on there.
pub struct Lesson {
    server: Option<Store>,
    copy: Option<Store>,
    location: Location,
    open: Box<Opener>,
    last_try: std::time::Instant,
    events: Vec<String>,
}

impl Lesson {
    /// A lesson from what [`open_for_lesson`] opened; `open` reconnects to the server.
    pub fn new(
        opened: LessonStore,
        location: &Location,
        open: impl Fn(&Location) -> anyhow::Result<Store> + 'static,
    ) -> anyhow::Result<Self> {
        let (server, copy) = match opened {
            LessonStore::Online { server, .. } => {
                let copy = match location {
                    Location::Server(url) => Some(open_copy(url)?),
                    Location::File(_) => None,
                };
                (Some(server), copy)
            }
            LessonStore::Offline { copy, .. } => (None, Some(copy)),
        };
        Ok(Self {
            server,
            copy,
            location: location.clone(),
            open: Box::new(open),
            last_try: std::time::Instant::now(),
            events: Vec::new(),
        })
    }

    /// The store in use now.
    pub fn store(&self) -> anyhow::Result<&Store> {
        self.server
            .as_ref()
            .or(self.copy.as_ref())
            .context("the lesson has no store")
    }

    /// Changes waiting in this machine's copy for the server (0 for a file).
    #[must_use]
    pub fn waiting(&self) -> usize {
        self.copy
            .as_ref()
            .and_then(|c| c.waiting_changes().ok())
            .map_or(0, |w| w.total())
    }

    /// Whether the lesson runs on the server now.
    #[must_use]
    pub fn is_online(&self) -> bool {
        self.server.is_some()
    }

    /// What happened since the last call (went offline, came back, sent N changes), for the
    /// teacher.
    pub fn take_events(&mut self) -> Vec<String> {
        std::mem::take(&mut self.events)
    }

    /// While offline, tries the server again (at most once a second); when it answers, sends
    /// what was written to the copy and goes on there. A session that started on the copy
    /// (the lesson began offline) stays there until the lesson ends and is sent then.
    pub fn try_server(&mut self, session: &crate::store::SessionRow) {
        if self.server.is_some() || self.last_try.elapsed() < RECONNECT_EVERY {
            return;
        }
        self.last_try = std::time::Instant::now();
        let Some(copy) = &self.copy else { return };
        let Ok(server) = (self.open)(&self.location) else {
            return;
        };
        // Only a lesson that began on the server may move back to it mid-way: its session has
        // the server's number.
        let ours = server
            .session(session.id)
            .is_ok_and(|s| s.class_id == session.class_id && s.started_ms == session.started_ms);
        if !ours {
            return;
        }
        match copy.send_waiting_changes(&server) {
            Ok(sent) => {
                self.events.push(format!(
                    "Back online: sent the {} change(s) made meanwhile",
                    sent.total()
                ));
                self.server = Some(server);
            }
            Err(err) => self.events.push(format!(
                "The server is back but the changes could not be sent yet: {err}"
            )),
        }
    }

    /// Ends the lesson: stops `session` when asked, then sends whatever waits in the copy if the
    /// server can be reached. Returns the stopped session (if stopped) and what still waits.
    pub fn finish(
        &mut self,
        session: &crate::store::SessionRow,
        stop: bool,
    ) -> anyhow::Result<(Option<crate::store::SessionRow>, Waiting)> {
        let stopped = if stop {
            Some(self.write(session, |s| s.stop_session(session.id))?)
        } else {
            None
        };
        let Some(copy) = &self.copy else {
            return Ok((stopped, Waiting::default()));
        };
        if copy.waiting_changes()?.total() > 0 {
            let server = match self.server.take() {
                Some(s) => Some(s),
                None => (self.open)(&self.location).ok(),
            };
            if let Some(server) = server {
                match copy.send_waiting_changes(&server) {
                    Ok(sent) if sent.total() > 0 => self.events.push(format!(
                        "Sent what was taken offline: {} session(s), {} mark(s), {} face(s) to review",
                        sent.sessions, sent.marks, sent.reviews
                    )),
                    Ok(_) => {}
                    Err(err) => self.events.push(format!("Could not send the offline changes yet: {err}")),
                }
                self.server = Some(server);
            }
        }
        Ok((stopped, copy.waiting_changes()?))
    }
}

impl super::live::Writes for Lesson {
    fn write<T>(
        &mut self,
        session: &crate::store::SessionRow,
        f: impl Fn(&Store) -> crate::store::Result<T>,
    ) -> anyhow::Result<T> {
        if let Some(server) = &self.server {
            match f(server) {
                Err(StoreError::Unreachable(err)) if self.copy.is_some() => {
                    self.server = None;
                    self.last_try = std::time::Instant::now();
                    self.events.push(format!(
                        "Offline: the school server cannot be reached ({err}); carrying on with this machine's copy"
                    ));
                    if let Some(copy) = &self.copy {
                        copy.mirror_session(session)?;
                    }
                }
                other => return Ok(other?),
            }
        }
        let copy = self.copy.as_ref().context("the lesson has no store")?;
        // Another lesson on this machine may have sent the copy's changes (and with them this
        // session's row) to the server meanwhile: carry the session over again.
        if copy.session(session.id).is_err() {
            copy.mirror_session(session)?;
        }
        Ok(f(copy)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_opens_the_offline_copy_only_when_the_server_cannot_be_reached() {
        let dir = tempfile::tempdir().unwrap();
        let gone: Location = "postgresql://teacher@127.0.0.1:1/school?connect_timeout=2"
            .parse()
            .unwrap();
        let copy_file = dir.path().join("copy.db");
        let copy_of = |_: &ServerUrl| super::super::open(&Location::File(copy_file.clone()));
        // No copy with a class yet: the error says why and what would help.
        let err = open_for_window(&gone, super::super::open, copy_of).unwrap_err();
        let err = format!("{err:#}");
        assert!(
            err.contains("cannot be reached") && err.contains("no offline copy"),
            "{err}"
        );
        copy_of(&ServerUrl::from_text(String::new()))
            .unwrap()
            .add_class("7B")
            .unwrap();
        let (store, reason) = open_for_window(&gone, super::super::open, copy_of).unwrap();
        assert_eq!(store.list_classes().unwrap()[0].name, "7B");
        assert!(reason.unwrap().contains("cannot be reached"));
        // A file is opened as it is, and a file that cannot be opened is an error, not a copy.
        let file = Location::File(dir.path().join("teacher.db"));
        let (_, reason) = open_for_window(&file, super::super::open, copy_of).unwrap();
        assert!(reason.is_none());
        std::fs::write(dir.path().join("junk.db"), "not a database").unwrap();
        let junk = Location::File(dir.path().join("junk.db"));
        assert!(open_for_window(&junk, super::super::open, copy_of).is_err());
    }
}
