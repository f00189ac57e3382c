//! The workflows the command line and the window share, between the front ends (`cli`, `gui`)
//! and the libraries (`store`, `vision`, `train`, `camera`): opening the database, enrollment,
//! the face encoder switch and re-embedding, the live attendance engine, the settings a session
//! records, local times, and what the window is opened with.

pub mod database;
pub mod encoders;
pub mod enroll;
pub mod live;
pub mod offline;
pub mod train;

use anyhow::Context as _;

use crate::store::{self, Store};

/// What the window is opened with.
#[derive(Debug, Clone)]
pub struct WindowArgs {
    /// The database (a file or a school server).
    pub db: store::Location,
    /// The frame source chosen on the command line, if any.
    pub source: Option<crate::camera::SourceSpec>,
    /// Start taking attendance for this class as the window opens.
    pub attend: Option<String>,
    /// The screen to open on.
    pub screen: Option<WindowScreen>,
}

/// A screen the window can open on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum WindowScreen {
    /// Classes and students.
    Roster,
    /// Taking attendance: the camera and the roll.
    Attendance,
    /// Taking attendance: the faces waiting for review.
    Review,
    /// Training encoders.
    Training,
    /// Reports: sessions and their rolls.
    Reports,
    /// Reports: rates per student, the class's trend.
    Students,
    /// Settings.
    Settings,
}

/// The password typed for a school server in this process (the window's prompt, the CLI's),
/// kept in memory only so that the window's worker threads and a lesson reconnecting after a
/// network drop can connect as the same role; never written anywhere.
static TYPED_PASSWORD: std::sync::Mutex<Option<(store::ServerUrl, String)>> =
    std::sync::Mutex::new(None);

fn typed_password(url: &store::ServerUrl) -> Option<String> {
    let typed = TYPED_PASSWORD
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    typed
        .as_ref()
        .filter(|(u, _)| u == url)
        .map(|(_, p)| p.clone())
}

/// Opens the database with a message that names the file. A school server for which a
/// password was typed in this process ([`open_with_password`]) is opened with it.
pub fn open(location: &store::Location) -> anyhow::Result<Store> {
    if let store::Location::Server(url) = location
        && let Some(password) = typed_password(url)
    {
        return open_with_password(url, &password);
    }
    with_clock(
        Store::open_location(location)
            .with_context(|| format!("opening the database {location}"))?,
    )
}

/// [`open`] for a school server, with a password the user has just typed; once it connects,
/// [`open`] uses the password for this server for the rest of the process.
pub fn open_with_password(url: &store::ServerUrl, password: &str) -> anyhow::Result<Store> {
    let store = Store::connect_with_password(url, Some(password))
        .with_context(|| format!("opening the database {}", url.redacted()))?;
    *TYPED_PASSWORD
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) =
        Some((url.clone(), password.to_owned()));
    with_clock(store)
}

/// Whether opening failed because the server wants a password that none of libpq's places
/// holds (the caller may ask for one).
#[must_use]
pub fn needs_password(err: &anyhow::Error) -> bool {
    matches!(
        err.downcast_ref::<store::StoreError>(),
        Some(store::StoreError::PasswordNeeded(_))
    )
}

fn with_clock(store: Store) -> anyhow::Result<Store> {
    Ok(match fixed_clock()? {
        Some(ms) => store.with_clock(std::sync::Arc::new(move || ms)),
        None => store,
    })
}

/// The environment variable that stops the store's clock at one instant (Unix milliseconds),
/// so that two runs of the same commands write the same times: the tests compare the two
/// engines' exports byte for byte with it. Frame times of a replay are not affected.
pub const FIXED_CLOCK_ENV: &str = "ROLLCALL_FIXED_CLOCK_MS";

fn fixed_clock() -> anyhow::Result<Option<i64>> {
    match std::env::var(FIXED_CLOCK_ENV) {
        Ok(v) => {
            v.trim().parse::<i64>().map(Some).with_context(|| {
                format!("{FIXED_CLOCK_ENV}={v:?} is not a time in Unix milliseconds")
            })
        }
        Err(_) => Ok(None),
    }
}

/// Formats a Unix-milliseconds time in local time, "2026-11-29 08:01".
#[must_use]
pub fn local_time(ms: i64) -> String {
    use chrono::TimeZone as _;
    chrono::Local.timestamp_millis_opt(ms).single().map_or_else(
        || ms.to_string(),
        |t| t.format("%Y-%m-%d %H:%M").to_string(),
    )
}

/// Formats a Unix-milliseconds time in local time with seconds, "08:01:23".
#[must_use]
pub fn local_time_s(ms: i64) -> String {
    use chrono::TimeZone as _;
    chrono::Local
        .timestamp_millis_opt(ms)
        .single()
        .map_or_else(|| ms.to_string(), |t| t.format("%H:%M:%S").to_string())
}

/// The recognition settings a new session records: the active encoder at the class's
/// operating point ([`Store::operating_point`]). `None` when no encoder is active yet.
pub fn session_settings(
    store: &Store,
    class: &store::ClassRow,
) -> anyhow::Result<Option<store::SessionSettings>> {
    Ok(store
        .active_encoder()?
        .map(|e| store.operating_point(class, &e))
        .transpose()?)
}
