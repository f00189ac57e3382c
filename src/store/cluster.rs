//! A throwaway PostgreSQL server: a fresh `initdb` cluster in a temporary folder, on a free
//! port of the loopback interface, stopped and deleted when dropped. The tests and
//! `rollcall bench store` run the real server from the Debian package on it, and the fault
//! tests kill it with SIGKILL and start it again.
//!
//! PostgreSQL refuses to run as root, so as root the cluster belongs to the unprivileged
//! `postgres` user (created by the Debian package) and every server command runs through
//! `runuser -u postgres`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::server::ServerUrl;

/// The superuser the cluster is created with.
pub const ADMIN: &str = "rollcall_admin";

/// Set by `tools/test.sh`: a cluster that cannot be started fails the test instead of skipping.
pub const REQUIRE_ENV: &str = "ROLLCALL_REQUIRE_POSTGRES";

/// A running throwaway cluster.
#[derive(Debug)]
pub struct TempCluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    run_as: Option<String>,
    port: u16,
}

impl TempCluster {
    /// Creates and starts a cluster. Errors say what is missing (the package, the user).
    pub fn start() -> Result<Self, String> {
        let bin = find_bin_dir()?;
        let run_as = is_root().then(|| "postgres".to_owned());
        let dir = tempfile::Builder::new()
            .prefix("rollcall-pg-")
            .tempdir()
            .map_err(|e| format!("could not make a temporary folder: {e}"))?;
        if let Some(user) = &run_as {
            let status = Command::new("chown")
                .arg(user)
                .arg(dir.path())
                .status()
                .map_err(|e| format!("chown: {e}"))?;
            if !status.success() {
                return Err(format!(
                    "could not give {} to the user {user:?} (is the postgresql package installed?)",
                    dir.path().display()
                ));
            }
        }
        let port = free_port()?;
        let cluster = Self {
            dir,
            bin,
            run_as,
            port,
        };
        let data = cluster.data_dir();
        cluster.run_tool(
            "initdb",
            &[
                "-D",
                &data.display().to_string(),
                "-U",
                ADMIN,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ],
        )?;
        cluster.start_server()?;
        Ok(cluster)
    }

    /// Starts a cluster, or returns `None` with a note on standard error when PostgreSQL is not
    /// installed, unless [`REQUIRE_ENV`] is set, when it panics (so CI cannot skip).
    #[must_use]
    pub fn start_or_skip(what: &str) -> Option<Self> {
        match Self::start() {
            Ok(c) => Some(c),
            Err(err) if std::env::var_os(REQUIRE_ENV).is_none() => {
                #[allow(clippy::print_stderr)]
                {
                    eprintln!(
                        "note: {what} skipped on PostgreSQL: {err} (tools/setup.sh --test installs it)"
                    );
                }
                None
            }
            Err(err) => panic!("{REQUIRE_ENV} is set but PostgreSQL could not be started: {err}"),
        }
    }

    /// The port the server listens on (127.0.0.1).
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A URL for `database` as `user` (trust authentication on loopback, no TLS).
    #[must_use]
    pub fn url(&self, user: &str, database: &str) -> ServerUrl {
        let text = format!(
            "postgresql://{user}@127.0.0.1:{}/{database}?sslmode=disable&connect_timeout=3",
            self.port
        );
        ServerUrl::from_text(text)
    }

    /// Creates an empty database owned by the admin role.
    pub fn create_database(&self, name: &str) -> Result<(), String> {
        self.psql(ADMIN, "postgres", &format!("CREATE DATABASE \"{name}\""))
            .map(drop)
    }

    /// Runs SQL through `psql` as `user` (stops at the first error) and returns what it
    /// printed, unaligned and without headers: `SELECT count(*) …` gives `"3"`, an `UPDATE`
    /// gives `"UPDATE 0"`.
    pub fn psql(&self, user: &str, database: &str, sql: &str) -> Result<String, String> {
        self.run_tool(
            "psql",
            &[
                "-X",
                "-t",
                "-A",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                user,
                "-d",
                database,
                "-c",
                sql,
            ],
        )
        .map(|out| out.trim().to_owned())
    }

    /// Makes `role` log in with its password over TCP (scram-sha-256) instead of being
    /// trusted, as a school's server would, and reloads the server's settings.
    pub fn require_password_for(&self, role: &str) -> Result<(), String> {
        let hba = self.data_dir().join("pg_hba.conf");
        let old =
            std::fs::read_to_string(&hba).map_err(|e| format!("reading {}: {e}", hba.display()))?;
        let line = format!("host all {role} 127.0.0.1/32 scram-sha-256\n");
        std::fs::write(&hba, line + &old).map_err(|e| format!("writing {}: {e}", hba.display()))?;
        self.run_tool(
            "pg_ctl",
            &["-D", &self.data_dir().display().to_string(), "reload"],
        )
        .map(drop)?;
        // The reload is asynchronous; give the postmaster a moment to read the file.
        std::thread::sleep(Duration::from_millis(300));
        Ok(())
    }

    /// Turns TLS on with a fresh self-signed certificate for 127.0.0.1 (made with `openssl`)
    /// and makes `role` connect over TLS only. Returns the certificate (PEM), which a client
    /// can trust with `sslrootcert`.
    pub fn enable_tls_for(&self, role: &str) -> Result<PathBuf, String> {
        let data = self.data_dir();
        let (crt, key) = (data.join("server.crt"), data.join("server.key"));
        let out = Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=127.0.0.1",
            ])
            .args([
                "-addext",
                "subjectAltName=IP:127.0.0.1,DNS:localhost",
                "-keyout",
            ])
            .arg(&key)
            .arg("-out")
            .arg(&crt)
            .output()
            .map_err(|e| format!("could not run openssl: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "openssl failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        if let Some(user) = &self.run_as {
            for f in [&crt, &key] {
                let _ = Command::new("chown").arg(user).arg(f).status();
            }
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| e.to_string())?;
        }
        let conf = data.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf).map_err(|e| e.to_string())?;
        text.push_str("\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n");
        std::fs::write(&conf, text).map_err(|e| e.to_string())?;
        let hba = data.join("pg_hba.conf");
        let old = std::fs::read_to_string(&hba).map_err(|e| e.to_string())?;
        let lines = format!(
            "hostssl all {role} 127.0.0.1/32 trust\nhostnossl all {role} 127.0.0.1/32 reject\n"
        );
        std::fs::write(&hba, lines + &old).map_err(|e| e.to_string())?;
        self.run_tool("pg_ctl", &["-D", &data.display().to_string(), "reload"])?;
        std::thread::sleep(Duration::from_millis(500));
        Ok(crt)
    }

    /// Kills the server the hard way (SIGKILL to the postmaster and every backend), as a
    /// crash or a pulled plug would, and waits until nothing answers on the port.
    pub fn kill(&self) -> Result<(), String> {
        let pid_file = self.data_dir().join("postmaster.pid");
        let text = std::fs::read_to_string(&pid_file)
            .map_err(|e| format!("reading {}: {e}", pid_file.display()))?;
        let pid: u32 = text
            .lines()
            .next()
            .and_then(|l| l.trim().parse().ok())
            .ok_or_else(|| format!("{} holds no pid", pid_file.display()))?;
        let mut victims = vec![pid];
        victims.extend(children_of(pid));
        for p in &victims {
            let _ = Command::new("kill")
                .arg("-KILL")
                .arg(p.to_string())
                .stderr(std::process::Stdio::null())
                .status();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
            if Instant::now() > deadline {
                return Err("the killed server still answers".to_owned());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// Starts the server again after [`TempCluster::kill`]. A killed postmaster can linger as
    /// a zombie, so its pid file and socket lock are cleared first; PostgreSQL then recovers
    /// from its write-ahead log, as after a power cut.
    pub fn restart(&self) -> Result<(), String> {
        let _ = std::fs::remove_file(self.data_dir().join("postmaster.pid"));
        let _ = std::fs::remove_file(self.dir.path().join(format!(".s.PGSQL.{}.lock", self.port)));
        self.start_server()
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn start_server(&self) -> Result<(), String> {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100",
            self.port,
            self.dir.path().display()
        );
        self.run_tool(
            "pg_ctl",
            &[
                "-D",
                &self.data_dir().display().to_string(),
                "-l",
                &self.dir.path().join("server.log").display().to_string(),
                "-o",
                &options,
                "-w",
                "-t",
                "60",
                "start",
            ],
        )
        .map(drop)
    }

    fn run_tool(&self, tool: &str, args: &[&str]) -> Result<String, String> {
        let program = self.bin.join(tool);
        let mut cmd = match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.arg("-u").arg(user).arg("--").arg(&program);
                c
            }
            None => Command::new(&program),
        };
        // The server's own messages go to its log; keep the tool's in the error.
        let out = cmd
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .map_err(|e| format!("could not run {}: {e}", program.display()))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            let log =
                std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default();
            Err(format!(
                "{tool} failed ({}): {}{}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                log.lines().rev().take(10).collect::<Vec<_>>().join("\n")
            ))
        }
    }
}

impl Drop for TempCluster {
    fn drop(&mut self) {
        let data = self.data_dir().display().to_string();
        if self
            .run_tool("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"])
            .is_err()
        {
            let _ = self.kill();
        }
    }
}

/// The folder holding `initdb` and `pg_ctl`: `ROLLCALL_PG_BIN`, else `pg_config --bindir`,
/// else the newest `/usr/lib/postgresql/N/bin` (Debian keeps them off the PATH).
fn find_bin_dir() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os("ROLLCALL_PG_BIN") {
        return Ok(PathBuf::from(dir));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((v, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Ok(bin);
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        let bin = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if bin.join("initdb").is_file() {
            return Ok(bin);
        }
    }
    Err("PostgreSQL's server programs (initdb, pg_ctl) are not installed".to_owned())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))
        .map_err(|e| format!("no free port on 127.0.0.1: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}

/// The processes whose parent is `pid` (the server's backends), from `/proc`.
fn children_of(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(child) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let status =
            std::fs::read_to_string(Path::new("/proc").join(child.to_string()).join("status"))
                .unwrap_or_default();
        let parent = status
            .lines()
            .find_map(|l| l.strip_prefix("PPid:"))
            .and_then(|p| p.trim().parse::<u32>().ok());
        if parent == Some(pid) {
            out.push(child);
        }
    }
    out
}
