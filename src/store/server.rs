//! The school server: where a store lives ([`Location`]), connecting to PostgreSQL with
//! credentials from libpq's usual places, and the server's numbered migrations.
//!
//! Credentials are never kept by rollcall: a password comes from the URL the user typed, from
//! `PGPASSWORD`, from a service file (`PGSERVICEFILE`, `~/.pg_service.conf`) or from the
//! password file (`PGPASSFILE`, `~/.pgpass`), exactly where `psql` looks for it, and a
//! location is only ever shown with its password removed ([`ServerUrl::redacted`]).

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::LazyLock;
use std::time::Duration;

use include_dir::{Dir, include_dir};

use super::db::{Db, OptionalExtension as _, PgConn};
use super::{Result, Store, StoreError, system_clock};

static POSTGRES_MIGRATIONS_DIR: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/migrations/postgres");

/// The server's migrations, in order: (version, folder name, SQL).
/// One server migration: its version, its folder's name and its SQL.
type Migration = (usize, String, String);

static POSTGRES_MIGRATIONS: LazyLock<std::result::Result<Vec<Migration>, String>> =
    LazyLock::new(|| {
        let mut out = Vec::new();
        for dir in POSTGRES_MIGRATIONS_DIR.dirs() {
            let name = dir
                .path()
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_owned();
            let version = name
                .split('-')
                .next()
                .and_then(|n| n.parse::<usize>().ok())
                .ok_or_else(|| format!("migration folder {name:?} does not start with a number"))?;
            let sql = dir
                .get_file(dir.path().join("up.sql"))
                .and_then(|f| f.contents_utf8())
                .ok_or_else(|| format!("migration {name} has no up.sql"))?
                .to_owned();
            out.push((version, name, sql));
        }
        out.sort_by_key(|(v, _, _)| *v);
        for (i, (v, name, _)) in out.iter().enumerate() {
            if *v != i + 1 {
                return Err(format!(
                    "migration {name} is out of sequence (expected {})",
                    i + 1
                ));
            }
        }
        Ok(out)
    });

/// Where a rollcall database lives: a SQLite file (one teacher) or a PostgreSQL server (a
/// school). Parsed from `--db` / `ROLLCALL_DB`: a `postgresql://` or `postgres://` URL is a
/// server, anything else a file path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// A SQLite file.
    File(PathBuf),
    /// A PostgreSQL server.
    Server(ServerUrl),
}

impl FromStr for Location {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        if ServerUrl::is_server(s) {
            s.parse().map(Self::Server)
        } else if s.trim().is_empty() {
            Err("the database location is empty".to_owned())
        } else {
            Ok(Self::File(PathBuf::from(s)))
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(p) => write!(f, "{}", p.display()),
            Self::Server(url) => write!(f, "{}", url.redacted()),
        }
    }
}

impl Location {
    /// The SQLite file, if this is one.
    #[must_use]
    pub fn file(&self) -> Option<&Path> {
        match self {
            Self::File(p) => Some(p),
            Self::Server(_) => None,
        }
    }
}

/// A PostgreSQL connection URL as the user gave it,
/// `postgresql://[user[:password]@][host][:port][/dbname][?param=value&…]`.
///
/// Besides what the `postgres` crate understands (`sslmode`, `connect_timeout`,
/// `application_name`, `options`, …), libpq's `service`, `passfile` and `sslrootcert` are
/// read here; `sslmode` also takes `verify-ca` and `verify-full`.
#[derive(Clone, PartialEq, Eq)]
pub struct ServerUrl(String);

impl fmt::Debug for ServerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ServerUrl").field(&self.redacted()).finish()
    }
}

impl FromStr for ServerUrl {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        let url = Self(s.trim().to_owned());
        url.parts()?;
        Ok(url)
    }
}

/// The pieces of a URL, before libpq's environment and files fill the gaps.
#[derive(Debug, Default)]
struct Parts {
    user: Option<String>,
    password: Option<String>,
    host: Option<String>,
    port: Option<u16>,
    dbname: Option<String>,
    params: BTreeMap<String, String>,
}

impl ServerUrl {
    /// A URL built by rollcall itself (known to parse).
    pub(crate) fn from_text(text: String) -> Self {
        Self(text)
    }

    /// A file name for this server, database and role (for the classroom's offline copy):
    /// `host_port_database_user` with anything but letters, digits, `.` and `-` as `_`.
    #[must_use]
    pub fn copy_key(&self) -> String {
        let env = |k: &str| std::env::var(k).ok();
        let (host, port, db, user) = match self.settings(&env) {
            Ok(s) => (s.host, s.port, s.dbname, s.user),
            Err(_) => (None, None, None, None),
        };
        let key = format!(
            "{}_{}_{}_{}",
            host.unwrap_or_default(),
            port.unwrap_or(5432),
            db.unwrap_or_default(),
            user.unwrap_or_default()
        );
        key.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    }

    /// Whether `s` names a server rather than a file.
    #[must_use]
    pub fn is_server(s: &str) -> bool {
        let s = s.trim_start();
        s.starts_with("postgresql://") || s.starts_with("postgres://")
    }

    /// The URL as given (it may hold a password: never show or log it; see [`Self::redacted`]).
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the URL itself carries a password (which rollcall never saves).
    #[must_use]
    pub fn has_password(&self) -> bool {
        self.parts().is_ok_and(|p| p.password.is_some())
    }

    /// The URL with any password replaced by `***`, for messages and logs.
    #[must_use]
    pub fn redacted(&self) -> String {
        let Ok(p) = self.parts() else {
            return "postgresql://(unreadable URL)".to_owned();
        };
        let mut out = "postgresql://".to_owned();
        if let Some(user) = &p.user {
            out.push_str(&percent_encode(user));
            if p.password.is_some() {
                out.push_str(":***");
            }
            out.push('@');
        }
        out.push_str(p.host.as_deref().unwrap_or(""));
        if let Some(port) = p.port {
            let _ = write!(out, ":{port}");
        }
        if let Some(db) = &p.dbname {
            out.push('/');
            out.push_str(&percent_encode(db));
        }
        let params: Vec<String> = p
            .params
            .iter()
            .filter(|(k, _)| k.as_str() != "password")
            .map(|(k, v)| format!("{k}={}", percent_encode(v)))
            .collect();
        if !params.is_empty() {
            out.push('?');
            out.push_str(&params.join("&"));
        }
        out
    }

    fn parts(&self) -> std::result::Result<Parts, String> {
        let bad = |why: &str| format!("{} is not a PostgreSQL URL: {why}", self.redacted_raw());
        let rest = self
            .0
            .strip_prefix("postgresql://")
            .or_else(|| self.0.strip_prefix("postgres://"))
            .ok_or_else(|| bad("it must start with postgresql://"))?;
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let mut parts = Parts::default();
        let host_port = match authority.rsplit_once('@') {
            Some((userinfo, hp)) => {
                let (user, password) = match userinfo.split_once(':') {
                    Some((u, p)) => (u, Some(p)),
                    None => (userinfo, None),
                };
                parts.user = non_empty(percent_decode(user).map_err(|e| bad(&e))?);
                parts.password = password
                    .map(percent_decode)
                    .transpose()
                    .map_err(|e| bad(&e))?;
                hp
            }
            None => authority,
        };
        let (host, port) = match host_port.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || host_port.starts_with('[') => (h, Some(p)),
            _ => (host_port, None),
        };
        parts.host = non_empty(percent_decode(host).map_err(|e| bad(&e))?);
        parts.port = port
            .filter(|p| !p.is_empty())
            .map(|p| {
                p.parse::<u16>()
                    .map_err(|_| bad(&format!("port {p:?} is not a number")))
            })
            .transpose()?;
        parts.dbname = non_empty(percent_decode(path).map_err(|e| bad(&e))?);
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair
                .split_once('=')
                .ok_or_else(|| bad(&format!("{pair:?} is not name=value")))?;
            let v = percent_decode(v).map_err(|e| bad(&e))?;
            match k {
                "host" => parts.host = non_empty(v),
                "port" => {
                    parts.port = Some(
                        v.parse()
                            .map_err(|_| bad(&format!("port {v:?} is not a number")))?,
                    );
                }
                "user" => parts.user = non_empty(v),
                "password" => parts.password = Some(v),
                "dbname" => parts.dbname = non_empty(v),
                "sslmode"
                | "connect_timeout"
                | "application_name"
                | "options"
                | "service"
                | "passfile"
                | "sslrootcert"
                | "keepalives"
                | "keepalives_idle"
                | "target_session_attrs" => {
                    parts.params.insert(k.to_owned(), v);
                }
                other => {
                    return Err(bad(&format!(
                        "rollcall does not know the parameter {other:?}"
                    )));
                }
            }
        }
        if let Some(mode) = parts.params.get("sslmode") {
            SslMode::parse(mode).map_err(|e| bad(&e))?;
        }
        Ok(parts)
    }

    fn redacted_raw(&self) -> String {
        // Used while parsing fails: cut everything between "://" and "@" (user and password).
        match (self.0.find("://"), self.0.rfind('@')) {
            (Some(a), Some(b)) if b > a => format!("{}://***{}", &self.0[..a], &self.0[b..]),
            _ => self.0.clone(),
        }
    }

    /// The full connection settings: the URL, then libpq's environment variables, then the
    /// service file, then the password file, then libpq's defaults.
    fn settings(&self, env: &dyn Fn(&str) -> Option<String>) -> Result<Settings> {
        let p = self.parts().map_err(StoreError::Invalid)?;
        let mut s = Settings {
            host: p.host,
            port: p.port,
            user: p.user,
            password: p.password,
            dbname: p.dbname,
            sslmode: p.params.get("sslmode").cloned(),
            sslrootcert: p.params.get("sslrootcert").map(PathBuf::from),
            connect_timeout: p.params.get("connect_timeout").cloned(),
            application_name: p.params.get("application_name").cloned(),
            options: p.params.get("options").cloned(),
        };
        let fill = |slot: &mut Option<String>, var: &str| {
            if slot.is_none() {
                *slot = env(var).filter(|v| !v.is_empty());
            }
        };
        fill(&mut s.host, "PGHOST");
        fill(&mut s.user, "PGUSER");
        fill(&mut s.password, "PGPASSWORD");
        fill(&mut s.dbname, "PGDATABASE");
        fill(&mut s.sslmode, "PGSSLMODE");
        fill(&mut s.connect_timeout, "PGCONNECT_TIMEOUT");
        fill(&mut s.application_name, "PGAPPNAME");
        fill(&mut s.options, "PGOPTIONS");
        if s.port.is_none() {
            s.port = env("PGPORT").and_then(|v| v.parse().ok());
        }
        if s.sslrootcert.is_none() {
            s.sslrootcert = env("PGSSLROOTCERT").map(PathBuf::from);
        }
        let service = p
            .params
            .get("service")
            .cloned()
            .or_else(|| env("PGSERVICE"));
        if let Some(service) = service {
            let entries = read_service(&service, env)?;
            let get = |k: &str| entries.get(k).cloned();
            s.host = s.host.or_else(|| get("host"));
            s.user = s.user.or_else(|| get("user"));
            s.password = s.password.or_else(|| get("password"));
            s.dbname = s.dbname.or_else(|| get("dbname"));
            s.sslmode = s.sslmode.or_else(|| get("sslmode"));
            s.connect_timeout = s.connect_timeout.or_else(|| get("connect_timeout"));
            s.sslrootcert = s
                .sslrootcert
                .or_else(|| get("sslrootcert").map(PathBuf::from));
            if s.port.is_none() {
                s.port = get("port").and_then(|v| v.parse().ok());
            }
        }
        // libpq's defaults: the local socket, port 5432, the login name as user and database.
        let host = s
            .host
            .get_or_insert_with(|| "/var/run/postgresql".to_owned())
            .clone();
        let port = *s.port.get_or_insert(5432);
        let user = s
            .user
            .get_or_insert_with(|| {
                env("USER")
                    .or_else(|| env("LOGNAME"))
                    .unwrap_or_else(|| "postgres".to_owned())
            })
            .clone();
        let dbname = s.dbname.get_or_insert_with(|| user.clone()).clone();
        if s.password.is_none() {
            let passfile = p
                .params
                .get("passfile")
                .map(PathBuf::from)
                .or_else(|| env("PGPASSFILE").map(PathBuf::from))
                .or_else(|| env("HOME").map(|h| Path::new(&h).join(".pgpass")));
            if let Some(file) = passfile {
                s.password = password_from_file(&file, &host, port, &dbname, &user);
            }
        }
        if let Some(mode) = &s.sslmode {
            SslMode::parse(mode).map_err(StoreError::Invalid)?;
        }
        Ok(s)
    }
}

/// Everything needed to connect, after libpq's lookup rules.
#[derive(Debug, Default)]
struct Settings {
    host: Option<String>,
    port: Option<u16>,
    user: Option<String>,
    password: Option<String>,
    dbname: Option<String>,
    sslmode: Option<String>,
    sslrootcert: Option<PathBuf>,
    connect_timeout: Option<String>,
    application_name: Option<String>,
    options: Option<String>,
}

/// libpq's `sslmode`, as rollcall carries it out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SslMode {
    /// No TLS.
    Disable,
    /// TLS when the server offers it (the certificate is not checked), else plain.
    Prefer,
    /// TLS; the certificate is not checked (libpq's meaning of `require`).
    Require,
    /// TLS with the certificate checked against the trusted roots, but not the host name.
    VerifyCa,
    /// TLS with the certificate and the host name checked.
    VerifyFull,
}

impl SslMode {
    fn parse(s: &str) -> std::result::Result<Self, String> {
        Ok(match s {
            "disable" => Self::Disable,
            // libpq's "allow" tries plain first; TLS when offered is at least as safe.
            "allow" | "prefer" => Self::Prefer,
            "require" => Self::Require,
            "verify-ca" => Self::VerifyCa,
            "verify-full" => Self::VerifyFull,
            other => {
                return Err(format!(
                    "sslmode {other:?} is not one of disable, allow, prefer, require, verify-ca, \
                     verify-full"
                ));
            }
        })
    }
}

/// Reads one section of the PostgreSQL service file (`PGSERVICEFILE`, else
/// `~/.pg_service.conf`, else `$PGSYSCONFDIR/pg_service.conf`).
fn read_service(
    name: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<BTreeMap<String, String>> {
    let candidates: Vec<PathBuf> = [
        env("PGSERVICEFILE").map(PathBuf::from),
        env("HOME").map(|h| Path::new(&h).join(".pg_service.conf")),
        Some(
            env("PGSYSCONFDIR")
                .map_or_else(|| PathBuf::from("/etc/postgresql-common"), PathBuf::from)
                .join("pg_service.conf"),
        ),
    ]
    .into_iter()
    .flatten()
    .collect();
    for file in &candidates {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        let mut in_section = false;
        let mut found = false;
        let mut entries = BTreeMap::new();
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                in_section = section.trim() == name;
                found |= in_section;
            } else if in_section && let Some((k, v)) = line.split_once('=') {
                entries.insert(k.trim().to_owned(), v.trim().to_owned());
            }
        }
        if found {
            return Ok(entries);
        }
    }
    Err(StoreError::Invalid(format!(
        "the PostgreSQL service {name:?} is not defined in any service file (looked in {})",
        candidates
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )))
}

/// The password for this connection from a libpq password file
/// (`hostname:port:database:username:password`, `*` matches anything, `\` escapes).
/// Like libpq, a file that others can read is ignored, with a warning.
fn password_from_file(file: &Path, host: &str, port: u16, db: &str, user: &str) -> Option<String> {
    let text = std::fs::read_to_string(file).ok()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        if let Ok(meta) = std::fs::metadata(file)
            && meta.permissions().mode() & 0o077 != 0
        {
            log::warn!(
                "the password file {} can be read by other users, so it is ignored (chmod 0600 it)",
                file.display()
            );
            return None;
        }
    }
    // A socket directory counts as "localhost" in the password file, as in libpq.
    let host = if host.starts_with('/') {
        "localhost"
    } else {
        host
    };
    let port = port.to_string();
    for line in text.lines() {
        if line.trim_start().starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let fields = split_pgpass(line);
        if fields.len() < 5 {
            continue;
        }
        let matches = |pattern: &str, value: &str| pattern == "*" || pattern == value;
        if matches(&fields[0], host)
            && matches(&fields[1], &port)
            && matches(&fields[2], db)
            && matches(&fields[3], user)
        {
            return Some(fields[4..].join(":"));
        }
    }
    None
}

fn split_pgpass(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(next) = chars.next()
                    && let Some(last) = fields.last_mut()
                {
                    last.push(next);
                }
            }
            ':' if fields.len() < 5 => fields.push(String::new()),
            c => {
                if let Some(last) = fields.last_mut() {
                    last.push(c);
                }
            }
        }
    }
    fields
}

fn non_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

fn percent_decode(s: &str) -> std::result::Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("bad percent escape at {:?}", &s[i..]))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "a percent escape is not UTF-8".to_owned())
}

fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// How long a connection attempt waits before the server counts as unreachable, unless
/// `connect_timeout` says otherwise. A classroom falls back to its offline copy after this.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Connects to the server with libpq's lookup rules for credentials and TLS.
fn connect(url: &ServerUrl, typed_password: Option<&str>) -> Result<postgres::Client> {
    let env = |k: &str| std::env::var(k).ok();
    let mut s = url.settings(&env)?;
    if let Some(p) = typed_password {
        s.password = Some(p.to_owned());
    }
    let had_password = s.password.is_some();
    let mut config = postgres::Config::new();
    if let Some(host) = &s.host {
        config.host(host);
    }
    if let Some(port) = s.port {
        config.port(port);
    }
    if let Some(user) = &s.user {
        config.user(user);
    }
    if let Some(password) = &s.password {
        config.password(password);
    }
    if let Some(db) = &s.dbname {
        config.dbname(db);
    }
    if let Some(options) = &s.options {
        config.options(options);
    }
    config.application_name(s.application_name.as_deref().unwrap_or("rollcall"));
    let timeout = s
        .connect_timeout
        .as_deref()
        .and_then(|t| t.parse::<u64>().ok())
        .filter(|t| *t > 0)
        .map_or(DEFAULT_CONNECT_TIMEOUT, Duration::from_secs);
    config.connect_timeout(timeout);
    // A classroom whose network drops in the middle of a query notices within seconds.
    config.keepalives(true);
    config.keepalives_idle(Duration::from_secs(5));
    config.tcp_user_timeout(Duration::from_secs(10));
    let mode = s
        .sslmode
        .as_deref()
        .map_or(Ok(SslMode::Prefer), SslMode::parse)
        .map_err(StoreError::Invalid)?;
    let who = url.redacted();
    let failed = |err: postgres::Error| {
        let wrong = err.code() == Some(&postgres::error::SqlState::INVALID_PASSWORD);
        let missing = std::error::Error::source(&err)
            .is_some_and(|s| s.to_string().contains("password missing"));
        if missing || (wrong && !had_password) {
            StoreError::PasswordNeeded(who.clone())
        } else {
            StoreError::from(super::db::DbError::from(err))
        }
    };
    if mode == SslMode::Disable {
        config.ssl_mode(postgres::config::SslMode::Disable);
        return config.connect(postgres::NoTls).map_err(failed);
    }
    config.ssl_mode(if mode == SslMode::Prefer {
        postgres::config::SslMode::Prefer
    } else {
        postgres::config::SslMode::Require
    });
    let mut tls = native_tls::TlsConnector::builder();
    match mode {
        SslMode::Prefer | SslMode::Require => {
            tls.danger_accept_invalid_certs(true);
        }
        SslMode::VerifyCa => {
            tls.danger_accept_invalid_hostnames(true);
        }
        SslMode::VerifyFull | SslMode::Disable => {}
    }
    if let Some(root) = &s.sslrootcert {
        let pem = std::fs::read(root).map_err(|source| StoreError::Io {
            context: format!(
                "could not read the server's root certificate {}",
                root.display()
            ),
            source,
        })?;
        let cert = native_tls::Certificate::from_pem(&pem).map_err(|err| {
            StoreError::Invalid(format!(
                "{} is not a PEM certificate: {err}",
                root.display()
            ))
        })?;
        tls.add_root_certificate(cert);
    }
    let tls = tls
        .build()
        .map_err(|err| StoreError::Invalid(format!("could not set up TLS for {who}: {err}")))?;
    config
        .connect(postgres_native_tls::MakeTlsConnector::new(tls))
        .map_err(failed)
}

impl Store {
    /// Connects to a school's PostgreSQL server, brings its schema up to date (creating it on
    /// an empty database) and refuses a schema written by a newer rollcall.
    pub fn connect(url: &ServerUrl) -> Result<Self> {
        Self::connect_with_password(url, None)
    }

    /// [`Store::connect`] with a password the user has just typed (kept in this process's
    /// memory only, to connect again after the server restarts; never written anywhere).
    pub fn connect_with_password(url: &ServerUrl, password: Option<&str>) -> Result<Self> {
        let client = connect(url, password)?;
        let (again, typed) = (url.clone(), password.map(str::to_owned));
        let reconnect = Box::new(move || connect(&again, typed.as_deref()));
        let mut store = Self {
            db: Db::Postgres(Box::new(std::cell::RefCell::new(PgConn::new(
                client,
                Some(reconnect),
            )))),
            path: None,
            server: Some(url.clone()),
            clock: system_clock(),
            actor: String::new(),
        };
        store.migrate()?;
        store.actor = store
            .db()
            .query_row("SELECT CAST(current_user AS TEXT)", [], |r| r.get(0))?;
        Ok(store)
    }

    /// Opens the store at `location`: a SQLite file ([`Store::open`]) or a server
    /// ([`Store::connect`]).
    pub fn open_location(location: &Location) -> Result<Self> {
        match location {
            Location::File(path) => Self::open(path),
            Location::Server(url) => Self::connect(url),
        }
    }
}

/// The roles, grants and row-level security policies of a school server (`src/store/access.sql`).
pub const ACCESS_SQL: &str = include_str!("access.sql");

/// Everything `rollcall server init` runs on an empty server, as one script for `psql`: the
/// numbered migrations (each recorded in `rollcall_schema`) and then [`ACCESS_SQL`].
pub fn init_script() -> Result<String> {
    let migrations = POSTGRES_MIGRATIONS
        .as_ref()
        .map_err(|err| StoreError::Migration(err.clone()))?;
    let mut out = String::from(
        "-- rollcall server init: run as the role that is to own rollcall's tables.\n\
         BEGIN;\n\
         CREATE TABLE IF NOT EXISTS rollcall_schema (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_ms BIGINT NOT NULL);\n",
    );
    for (version, name, sql) in migrations {
        let _ = write!(out, "\n-- migration {name}\n{sql}\n");
        let _ = writeln!(
            out,
            "INSERT INTO rollcall_schema (version, name, applied_ms) VALUES ({version}, '{name}', (extract(epoch from now()) * 1000)::bigint);"
        );
    }
    out.push_str("\n-- who may see what\n");
    out.push_str(ACCESS_SQL);
    out.push_str("\nCOMMIT;\n");
    Ok(out)
}

/// Which of the two groups a school role joins.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SchoolRole {
    /// `rollcall_teacher`: the classes listed for it.
    Teacher,
    /// `rollcall_office`: the roster and consent of the whole school.
    Office,
}

impl SchoolRole {
    fn group(self) -> &'static str {
        match self {
            Self::Teacher => "rollcall_teacher",
            Self::Office => "rollcall_office",
        }
    }
}

/// A database role name rollcall will put into DDL: lower-case letters, digits and `_`,
/// starting with a letter or `_`, at most 63 bytes (PostgreSQL's limit), not a `pg_` role.
fn check_role_name(role: &str) -> Result<()> {
    let ok = !role.is_empty()
        && role.len() <= 63
        && !role.starts_with("pg_")
        && role.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && role
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "{role:?} is not a role name rollcall accepts: use lower-case letters, digits and _ \
             (for example ms_lee), at most 63 characters"
        )))
    }
}

impl Store {
    fn require_server(&self, what: &str) -> Result<()> {
        if self.engine() == super::Engine::Postgres {
            Ok(())
        } else {
            Err(StoreError::Invalid(format!(
                "{what} is for a school's PostgreSQL server; this database is a file. \
                 Pass --db postgresql://…"
            )))
        }
    }

    /// Sets up the school roles and row-level security on the server (the schema is already
    /// current: connecting migrated it). Safe to run again, and needed again after an upgrade
    /// that adds tables.
    pub fn server_init(&self) -> Result<()> {
        self.require_server("server init")?;
        self.in_transaction(|tx| Ok(tx.batch(ACCESS_SQL)?))
    }

    /// Creates the login role `role` if it does not exist (without a password: the IT person
    /// sets one with psql's `\password`, or uses the school's own authentication) and makes it
    /// a member of the teacher or office group.
    pub fn add_school_role(&self, role: &str, kind: SchoolRole) -> Result<()> {
        self.require_server("adding a school role")?;
        check_role_name(role)?;
        let group = kind.group();
        // A role name cannot be a query parameter; check_role_name allows no quote or space.
        let sql = format!(
            "DO $$ BEGIN
                 IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
                     CREATE ROLE \"{role}\" LOGIN;
                 END IF;
             END $$;
             GRANT {group} TO \"{role}\";"
        );
        self.in_transaction(|tx| Ok(tx.batch(&sql)?))
    }

    /// Lists `teacher` (a database role, or on a file simply a name) as teaching `class`.
    pub fn assign_teacher(&self, teacher: &str, class: crate::core::ClassId) -> Result<()> {
        if self.engine() == super::Engine::Postgres {
            check_role_name(teacher)?;
        }
        self.class(class)?;
        let now = self.now_ms();
        self.in_transaction(|tx| {
            tx.execute(
                "INSERT INTO class_teachers (class_id, teacher) VALUES (?1, ?2)
                 ON CONFLICT DO NOTHING",
                super::db::params![class.0, teacher],
            )?;
            tx.execute(
                "INSERT INTO audit_log (at_ms, actor, action, details)
                 VALUES (?1, ?3, 'teacher_assigned', ?2)",
                super::db::params![
                    now,
                    format!("{teacher} teaches class #{}", class.0),
                    self.actor()
                ],
            )?;
            Ok(())
        })
    }

    /// Takes `teacher` off `class`.
    pub fn unassign_teacher(&self, teacher: &str, class: crate::core::ClassId) -> Result<()> {
        let now = self.now_ms();
        let n = self.in_transaction(|tx| {
            let n = tx.execute(
                "DELETE FROM class_teachers WHERE class_id = ?1 AND teacher = ?2",
                super::db::params![class.0, teacher],
            )?;
            tx.execute(
                "INSERT INTO audit_log (at_ms, actor, action, details)
                 VALUES (?1, ?3, 'teacher_unassigned', ?2)",
                super::db::params![
                    now,
                    format!("{teacher} no longer teaches class #{}", class.0),
                    self.actor()
                ],
            )?;
            Ok(n)
        })?;
        if n == 0 {
            return Err(StoreError::NotFound {
                what: "teacher of that class",
                key: teacher.to_owned(),
            });
        }
        Ok(())
    }

    /// The teachers listed for `class`, by name.
    pub fn class_teachers(&self, class: crate::core::ClassId) -> Result<Vec<String>> {
        Ok(self.db().query_map(
            "SELECT teacher FROM class_teachers WHERE class_id = ?1 ORDER BY teacher",
            [class.0],
            |r| r.get(0),
        )?)
    }
}

/// An arbitrary, fixed key for the advisory lock that keeps two rollcall processes from
/// migrating the same server at once.
const MIGRATION_LOCK: i64 = 0x726f_6c6c_6361_6c6c;

/// The highest server schema version this build knows.
pub fn supported_schema_version() -> Result<usize> {
    let migrations = POSTGRES_MIGRATIONS
        .as_ref()
        .map_err(|err| StoreError::Migration(err.clone()))?;
    Ok(migrations.len())
}

/// The server's schema version (0 on an empty database).
pub(crate) fn schema_version(db: &Db) -> Result<usize> {
    let exists: bool = db.query_row(
        "SELECT to_regclass('rollcall_schema') IS NOT NULL",
        [],
        |r| r.get(0),
    )?;
    if !exists {
        return Ok(0);
    }
    let v: Option<i64> = db
        .query_row("SELECT max(version) FROM rollcall_schema", [], |r| r.get(0))
        .optional()?
        .flatten();
    Ok(v.map_or(0, |v| v.max(0) as usize))
}

/// Brings the server's schema up to date, one migration per transaction, under an advisory
/// lock so that classrooms starting at the same moment do not race. A schema that is already
/// current needs no rights beyond reading it, so teachers' roles never run DDL.
pub(crate) fn migrate(db: &Db) -> Result<()> {
    let migrations = POSTGRES_MIGRATIONS
        .as_ref()
        .map_err(|err| StoreError::Migration(err.clone()))?;
    let supported = migrations.len();
    let found = schema_version(db)?;
    if found > supported {
        return Err(StoreError::NewerSchema { found, supported });
    }
    if found == supported {
        return Ok(());
    }
    db.transaction(
        |tx| {
            tx.query_row(
                "SELECT pg_advisory_xact_lock(?1)::text",
                [MIGRATION_LOCK],
                |_| Ok(()),
            )?;
            tx.batch(
                "CREATE TABLE IF NOT EXISTS rollcall_schema (
                     version     BIGINT PRIMARY KEY,
                     name        TEXT   NOT NULL,
                     applied_ms  BIGINT NOT NULL
                 )",
            )?;
            let current = schema_version(tx)?;
            for (version, name, sql) in migrations.iter().skip(current) {
                tx.batch(sql).map_err(|err| {
                    StoreError::Migration(format!("migration {name} failed on the server: {err}"))
                })?;
                tx.execute(
                    "INSERT INTO rollcall_schema (version, name, applied_ms) VALUES (?1, ?2, ?3)",
                    super::db::params![*version, name.as_str(), (system_clock())()],
                )?;
            }
            Ok(())
        },
        StoreError::is_retryable,
    )
    .map_err(|err| match err {
        StoreError::Server(e)
            if e.to_string().contains("permission denied")
                || e.to_string().contains("must be owner") =>
        {
            StoreError::Migration(format!(
                "the school server's rollcall schema is at version {found} and this rollcall \
                 needs version {supported}, but this database role may not change the schema. \
                 Ask the school's IT person to run `rollcall server init` with the owner role ({e})"
            ))
        }
        other => other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let vars: BTreeMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| vars.get(k).cloned()
    }

    fn url(s: &str) -> ServerUrl {
        s.parse().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_location_is_a_server_only_with_a_postgres_scheme() {
        assert!(matches!(
            "postgresql://h/db".parse::<Location>(),
            Ok(Location::Server(_))
        ));
        assert!(matches!(
            "postgres://h/db".parse::<Location>(),
            Ok(Location::Server(_))
        ));
        assert_eq!(
            "class.db".parse::<Location>(),
            Ok(Location::File(PathBuf::from("class.db")))
        );
        assert!("postgresql://h/db?colour=red".parse::<Location>().is_err());
        assert!(
            "postgresql://h/db?sslmode=sometimes"
                .parse::<Location>()
                .is_err()
        );
        assert!("postgresql://h:port/db".parse::<Location>().is_err());
    }

    #[test]
    fn a_password_never_shows() {
        let u =
            url("postgresql://ms%20lee:s3cret@school.example:5433/rollcall?sslmode=verify-full");
        let shown = u.redacted();
        assert!(!shown.contains("s3cret"), "{shown}");
        assert_eq!(
            shown,
            "postgresql://ms%20lee:***@school.example:5433/rollcall?sslmode=verify-full"
        );
        assert!(!format!("{u:?}").contains("s3cret"));
        assert!(!Location::Server(u).to_string().contains("s3cret"));
        let bad = "postgresql://me:s3cret@h:notaport/db".parse::<ServerUrl>();
        assert!(
            bad.as_ref().is_err_and(|e| !e.contains("s3cret")),
            "{bad:?}"
        );
    }

    #[test]
    fn settings_come_from_the_url_then_the_environment_then_defaults() {
        let env = env_of(&[
            ("PGHOST", "envhost"),
            ("PGUSER", "envuser"),
            ("PGPORT", "6000"),
        ]);
        let s = url("postgresql://urluser@/school")
            .settings(&env)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.host.as_deref(), Some("envhost"));
        assert_eq!(s.user.as_deref(), Some("urluser"));
        assert_eq!(s.port, Some(6000));
        assert_eq!(s.dbname.as_deref(), Some("school"));
        let s = url("postgresql://")
            .settings(&env_of(&[("USER", "ms_lee")]))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.host.as_deref(), Some("/var/run/postgresql"));
        assert_eq!(s.port, Some(5432));
        assert_eq!(s.dbname.as_deref(), Some("ms_lee"));
    }

    #[test]
    fn the_password_file_and_the_service_file_are_read_like_libpq() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let pass = dir.path().join("pgpass");
        std::fs::write(
            &pass,
            "# comment\nother:5432:*:*:wrong\nschool.example:*:rollcall:ms_lee:pa\\:ss:word\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let service = dir.path().join("services");
        std::fs::write(
            &service,
            "[other]\nhost=nowhere\n\n[school]\nhost=school.example\ndbname=rollcall\nuser=ms_lee\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let pass_s = pass.display().to_string();
        let service_s = service.display().to_string();
        let env = env_of(&[("PGPASSFILE", &pass_s), ("PGSERVICEFILE", &service_s)]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&pass, std::fs::Permissions::from_mode(0o644))
                .unwrap_or_else(|e| panic!("{e}"));
            let s = url("postgresql://?service=school")
                .settings(&env)
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(
                s.password, None,
                "a password file others can read is ignored"
            );
            std::fs::set_permissions(&pass, std::fs::Permissions::from_mode(0o600))
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let s = url("postgresql://?service=school")
            .settings(&env)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.host.as_deref(), Some("school.example"));
        assert_eq!(s.user.as_deref(), Some("ms_lee"));
        assert_eq!(s.password.as_deref(), Some("pa:ss:word"));
        let missing = url("postgresql://?service=nope").settings(&env);
        assert!(matches!(missing, Err(StoreError::Invalid(m)) if m.contains("nope")));
    }

    #[test]
    fn the_server_migrations_are_numbered_and_match_sqlite_table_for_table() {
        let migrations = POSTGRES_MIGRATIONS
            .as_ref()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            migrations.len(),
            super::super::supported_schema_version().unwrap_or_else(|e| panic!("{e}")),
            "every SQLite migration needs its PostgreSQL twin"
        );
        let sqlite = super::super::MIGRATIONS_DIR
            .dirs()
            .map(|d| {
                d.path()
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or("")
                    .to_owned()
            })
            .collect::<std::collections::BTreeSet<_>>();
        for (_, name, sql) in migrations {
            assert!(sqlite.contains(name), "{name} has no SQLite twin");
            let sqlite_sql = super::super::MIGRATIONS_DIR
                .get_file(format!("{name}/up.sql"))
                .and_then(|f| f.contents_utf8())
                .unwrap_or_default();
            let objects = |text: &str| -> Vec<String> {
                text.lines()
                    .map(str::trim)
                    .filter(|l| l.starts_with("CREATE "))
                    .map(|l| l.split('(').next().unwrap_or(l).trim().to_owned())
                    .collect()
            };
            assert_eq!(
                objects(sql),
                objects(sqlite_sql),
                "{name}: tables and indexes differ"
            );
        }
    }
}
