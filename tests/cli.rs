//! End-to-end tests of the built `rollcall` binary: each test gets its own database file in a
//! temporary folder and checks output, exit codes and the files written.

// Test helpers may panic: a panic is a failed test with a clear location.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// Each test is one user's story through the CLI, read top to bottom.
#![allow(clippy::too_many_lines)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use rollcall::store::cluster::{self, TempCluster};

struct Env {
    dir: tempfile::TempDir,
    /// `ROLLCALL_DB`: the file in `dir`, or a database on a PostgreSQL server.
    db: String,
    /// A fixed clock (`ROLLCALL_FIXED_CLOCK_MS`), so that two runs write the same times.
    clock_ms: Option<i64>,
    /// More environment variables for every command.
    vars: Vec<(String, String)>,
}

impl Env {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("rollcall.db").display().to_string();
        Self {
            dir,
            db,
            clock_ms: None,
            vars: Vec::new(),
        }
    }

    /// An environment whose database is `database` on the server `cluster` (as its admin).
    fn on_server(cluster: &TempCluster, database: &str) -> Self {
        cluster.create_database(database).unwrap();
        Self {
            dir: tempfile::tempdir().unwrap(),
            db: cluster.url(cluster::ADMIN, database).redacted(),
            clock_ms: None,
            vars: Vec::new(),
        }
    }

    /// An environment on the existing database `database` of `cluster`, logged in as `role`.
    fn as_role(cluster: &TempCluster, role: &str, database: &str) -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
            db: cluster.url(role, database).redacted(),
            clock_ms: None,
            vars: Vec::new(),
        }
    }

    /// An environment on the database `url` as typed.
    fn at_url(url: String) -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
            db: url,
            clock_ms: None,
            vars: Vec::new(),
        }
    }

    fn with_var(mut self, name: &str, value: &str) -> Self {
        self.vars.push((name.to_owned(), value.to_owned()));
        self
    }

    fn with_clock(mut self, ms: i64) -> Self {
        self.clock_ms = Some(ms);
        self
    }

    fn db(&self) -> &str {
        &self.db
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A replay folder `name` of `frames` copies of one demo photo, for `live --replay`.
    fn replay(&self, name: &str, photo: &str, frames: usize) -> String {
        let dir = self.path(name);
        std::fs::create_dir(&dir).unwrap();
        for i in 0..frames {
            std::fs::copy(demo_photo(photo), dir.join(format!("{i:02}.jpg"))).unwrap();
        }
        dir.to_str().unwrap().to_owned()
    }

    fn run(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_rollcall"));
        cmd.args(args).env("TZ", "UTC").env_remove("RUST_LOG");
        if let Some(ms) = self.clock_ms {
            cmd.env("ROLLCALL_FIXED_CLOCK_MS", ms.to_string());
        }
        // The platform data folder (offline copies, trained models) stays in the test's folder.
        if self.db.is_empty() {
            cmd.env_remove("ROLLCALL_DB");
        } else {
            cmd.env("ROLLCALL_DB", self.db());
        }
        cmd.env("XDG_DATA_HOME", self.dir.path().join("data"));
        // So does the saved database choice (`rollcall database use`).
        cmd.env("XDG_CONFIG_HOME", self.dir.path().join("config"));
        for (k, v) in &self.vars {
            cmd.env(k, v);
        }
        // libpq's own variables from the machine running the tests must not leak in.
        for k in [
            "PGPASSWORD",
            "PGPASSFILE",
            "PGSERVICE",
            "PGSERVICEFILE",
            "PGUSER",
            "PGHOST",
        ] {
            if !self.vars.iter().any(|(name, _)| name == k) {
                cmd.env_remove(k);
            }
        }
        cmd.output().unwrap()
    }

    /// Runs and expects success; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "rollcall {args:?} failed:\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Adds a student to `class` with a demo photo (consent by the student).
    fn enroll(&self, name: &str, class: &str, photo: &str) -> String {
        let p = demo_photo(photo);
        self.ok(&[
            "student",
            "add",
            "--name",
            name,
            "--class",
            class,
            "--photo",
            p.to_str().unwrap(),
            "--consent-by",
            "Self",
        ])
    }

    /// Runs and expects failure with exit code 1; returns stderr.
    fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(1),
            "rollcall {args:?} should fail: {out:?}"
        );
        String::from_utf8(out.stderr).unwrap()
    }
}

fn demo_photo(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("assets/demo")
        .join(name)
}

fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut rdr = csv::Reader::from_path(path).unwrap();
    let header = rdr.headers().unwrap().iter().map(str::to_owned).collect();
    let rows = rdr
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect();
    (header, rows)
}

#[test]
fn help_lists_every_command() {
    let env = Env::new();
    let help = env.ok(&["--help"]);
    for cmd in [
        "class", "student", "consent", "session", "mark", "export", "audit", "cameras", "database",
    ] {
        assert!(help.contains(cmd), "--help does not mention {cmd}:\n{help}");
    }
}

#[test]
fn the_issue_walkthrough_from_class_to_csv() {
    walkthrough(&Env::new());
}

/// The walkthrough on SQLite and on a PostgreSQL server, with the same fixed clock, writes the
/// same exports byte for byte.
#[test]
fn the_walkthrough_gives_the_same_exports_on_postgresql() {
    let Some(server) = TempCluster::start_or_skip("the walkthrough") else {
        return;
    };
    let clock = 1_788_940_800_000; // 2026-09-09 08:00 UTC
    let on_file = walkthrough(&Env::new().with_clock(clock));
    let env = Env::on_server(&server, "walkthrough").with_clock(clock);
    let on_server = walkthrough(&env);
    assert_eq!(
        String::from_utf8_lossy(&on_file.0),
        String::from_utf8_lossy(&on_server.0),
        "long export"
    );
    assert_eq!(on_file.1, on_server.1, "matrix export");
    assert_eq!(on_file, on_server);
    // The server's tables hold what the CLI wrote (read straight from PostgreSQL).
    assert!(
        env.ok(&["student", "list", "--class", "7B"])
            .contains("Grace Hopper")
    );
}

/// Row-level security: a teacher's own role sees, changes and exports only the classes listed
/// for it, through rollcall and through raw SQL; the office role sees the whole school.
#[test]
fn a_teacher_sees_only_their_own_classes_on_the_server() {
    let Some(server) = TempCluster::start_or_skip("row-level security") else {
        return;
    };
    let it = Env::on_server(&server, "school");
    assert!(it.ok(&["server", "init"]).contains("row-level security"));
    // Running it again changes nothing.
    it.ok(&["server", "init"]);
    it.ok(&["class", "add", "7A"]);
    it.ok(&["class", "add", "7B"]);
    it.enroll("Ada", "7A", "obama.jpg");
    it.enroll("Bob", "7B", "biden.jpg");
    it.ok(&["session", "start", "--class", "7B"]);
    it.ok(&[
        "mark",
        "--class",
        "7B",
        "--student",
        "Bob",
        "--status",
        "present",
    ]);
    it.ok(&["server", "teacher", "alice", "--class", "7A"]);
    it.ok(&["server", "office", "olga"]);

    let alice = Env::as_role(&server, "alice", "school");
    let classes = alice.ok(&["class", "list"]);
    assert!(
        classes.contains("7A") && !classes.contains("7B"),
        "{classes}"
    );
    let students = alice.ok(&["student", "list"]);
    assert!(
        students.contains("Ada") && !students.contains("Bob"),
        "{students}"
    );
    // Class B does not exist for her: not shown, not changed, not exported.
    let err = alice.fails(&["session", "show", "--class", "7B"]);
    assert!(err.contains("not found"), "{err}");
    let err = alice.fails(&[
        "mark",
        "--class",
        "7B",
        "--student",
        "Bob",
        "--status",
        "absent",
    ]);
    assert!(err.contains("not found"), "{err}");
    let csv = alice.path("b.csv");
    let err = alice.fails(&["export", "--class", "7B", "--out", csv.to_str().unwrap()]);
    assert!(err.contains("not found"), "{err}");
    let all = alice.path("all.csv");
    alice.ok(&["export", "--out", all.to_str().unwrap()]);
    let exported = std::fs::read_to_string(&all).unwrap();
    assert!(
        !exported.contains("Bob") && !exported.contains("7B"),
        "{exported}"
    );
    // She takes attendance in her own class, but the roster is the office's.
    alice.ok(&["session", "start", "--class", "7A"]);
    alice.ok(&[
        "mark",
        "--class",
        "7A",
        "--student",
        "Ada",
        "--status",
        "late",
    ]);
    let err = alice.fails(&["student", "add", "--name", "Eve", "--class", "7A"]);
    assert!(err.contains("permission denied"), "{err}");
    // The audit log names her role for her change.
    assert_eq!(
        server
            .psql(
                cluster::ADMIN,
                "school",
                "SELECT actor FROM audit_log WHERE action = 'mark_set' ORDER BY id DESC LIMIT 1"
            )
            .unwrap(),
        "alice"
    );
    // Raw SQL as her role: class B's rows are invisible and cannot be changed.
    let sql = |q: &str| server.psql("alice", "school", q).unwrap();
    assert_eq!(sql("SELECT count(*) FROM students"), "1");
    assert_eq!(sql("SELECT count(*) FROM enrollments"), "1");
    assert_eq!(sql("SELECT count(*) FROM embeddings"), "1");
    assert_eq!(sql("SELECT count(*) FROM marks"), "1");
    assert_eq!(sql("SELECT count(*) FROM sessions"), "1");
    assert!(
        server
            .psql("alice", "school", "UPDATE students SET display_name = 'X'")
            .is_err()
    );
    assert_eq!(
        sql("UPDATE marks SET status = 'absent' WHERE status = 'present'"),
        "UPDATE 0"
    );
    assert_eq!(
        sql("DELETE FROM enrollments WHERE student_id <> 0"),
        "DELETE 1"
    );
    assert!(
        server
            .psql("alice", "school", "DELETE FROM students")
            .is_err()
    );
    // Only her own photo went; Bob's photo and mark are untouched.
    let admin_sql = |q: &str| server.psql(cluster::ADMIN, "school", q).unwrap();
    assert_eq!(admin_sql("SELECT count(*) FROM enrollments"), "1");
    assert_eq!(
        admin_sql(
            "SELECT status FROM marks m JOIN students s ON s.id = m.student_id WHERE s.display_name = 'Bob'"
        ),
        "present"
    );

    // The office sees everyone and exports the whole school.
    let olga = Env::as_role(&server, "olga", "school");
    let students = olga.ok(&["student", "list"]);
    assert!(
        students.contains("Ada") && students.contains("Bob"),
        "{students}"
    );
    olga.ok(&["export", "--class", "7B", "--out", csv.to_str().unwrap()]);
    assert!(std::fs::read_to_string(&csv).unwrap().contains("Bob"));
    olga.ok(&["student", "add", "--name", "Eve", "--class", "7A"]);
    assert!(alice.ok(&["student", "list"]).contains("Eve"));
}

/// Eight classrooms take attendance from their cameras (replays) on one server at the same
/// time while the office enrolls and exports: every expected mark is there exactly once and no
/// process reports an error.
#[test]
fn eight_classrooms_and_the_office_at_once_on_one_server() {
    let Some(server) = TempCluster::start_or_skip("the concurrent classrooms") else {
        return;
    };
    let it = Env::on_server(&server, "school");
    let rooms = 8;
    two_face_rooms(&it, rooms);
    it.ok(&["class", "add", "Office"]);
    let frames = two_face_replay(&it, 10);
    let live: Vec<_> = (0..rooms).map(|r| spawn_lesson(&it, r, &frames)).collect();
    // The office, meanwhile: enrolls students and exports the whole school, again and again.
    for i in 0..4 {
        it.enroll(&format!("New {i}"), "Office", "obama3.jpg");
        let out = it.path(&format!("school-{i}.csv"));
        it.ok(&["export", "--out", out.to_str().unwrap()]);
    }
    for (r, child) in live.into_iter().enumerate() {
        let (stdout, stderr) = lesson_marked_both(r, child);
        assert!(!stderr.contains("error"), "room {r}: {stderr}");
        assert!(stdout.contains("20 frames, 2 marked"), "room {r}: {stdout}");
    }
    each_room_marked_once(&server, rooms);
    assert!(
        it.ok(&["student", "list", "--class", "Office"])
            .contains("New 3")
    );
}

/// A teacher's file moves onto the server: the server then exports exactly what the file did;
/// importing it again changes nothing; a file that disagrees is refused whole.
#[test]
fn a_teachers_file_moves_onto_the_server_once() {
    let Some(server) = TempCluster::start_or_skip("server import") else {
        return;
    };
    let clock = 1_788_940_800_000;
    let teacher = Env::new().with_clock(clock);
    let from_file = walkthrough(&teacher);
    let school = Env::on_server(&server, "school").with_clock(clock);
    let out = school.ok(&["server", "import", teacher.db()]);
    assert!(out.contains("Imported"), "{out}");
    let long = school.path("long.csv");
    school.ok(&[
        "export",
        "--class",
        "7B",
        "--format",
        "long",
        "--out",
        long.to_str().unwrap(),
    ]);
    assert_eq!(
        String::from_utf8_lossy(&std::fs::read(&long).unwrap()),
        String::from_utf8_lossy(&from_file.0)
    );
    let count = |table: &str| {
        server
            .psql(
                cluster::ADMIN,
                "school",
                &format!("SELECT count(*) FROM {table}"),
            )
            .unwrap()
    };
    let before: Vec<String> = [
        "students",
        "enrollments",
        "embeddings",
        "consents",
        "marks",
        "audit_log",
    ]
    .iter()
    .map(|t| count(t))
    .collect();
    assert_eq!(before[1], "1", "Ada's photo");
    let again = school.ok(&["server", "import", teacher.db()]);
    assert!(again.contains("Nothing new"), "{again}");
    let after: Vec<String> = [
        "students",
        "enrollments",
        "embeddings",
        "consents",
        "marks",
        "audit_log",
    ]
    .iter()
    .map(|t| count(t))
    .collect();
    assert_eq!(before, after);
    // Another teacher's file gives school number S-2 to someone else: refused, nothing written.
    let other = Env::new();
    other.ok(&["class", "add", "8C"]);
    other.ok(&[
        "student",
        "add",
        "--name",
        "Grace Smith",
        "--class",
        "8C",
        "--external-id",
        "S-2",
    ]);
    let err = school.fails(&["server", "import", other.db()]);
    assert!(
        err.contains("disagrees") && err.contains("Grace Smith"),
        "{err}"
    );
    assert_eq!(count("students"), after[0]);
    assert!(!school.ok(&["class", "list"]).contains("8C"));
    let missing = school.fails(&["server", "import", "/nonexistent/rollcall.db"]);
    assert!(missing.contains("is not a file"), "{missing}");
}

/// The server killed with SIGKILL: commands say it cannot be reached (no panic, exit 1), and
/// after the restart every committed change is there.
#[test]
fn a_killed_server_gives_a_clear_error_and_loses_nothing() {
    let Some(server) = TempCluster::start_or_skip("the killed server") else {
        return;
    };
    let it = Env::on_server(&server, "school");
    it.ok(&["class", "add", "7B"]);
    it.ok(&["student", "add", "--name", "Ada", "--class", "7B"]);
    it.ok(&["session", "start", "--class", "7B"]);
    it.ok(&[
        "mark",
        "--class",
        "7B",
        "--student",
        "Ada",
        "--status",
        "present",
    ]);
    server.kill().unwrap();
    let err = it.fails(&["student", "list"]);
    assert!(err.contains("school server cannot be reached"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    server.restart().unwrap();
    let roll = it.ok(&["session", "show", "--class", "7B"]);
    assert!(roll.contains("Ada") && roll.contains("present"), "{roll}");
}

/// A role that must give its password: without one rollcall says where to put it; from
/// PGPASSWORD or a private password file it connects; a password file others can read is
/// ignored, as libpq does; the password never shows in rollcall's output or log.
#[test]
fn a_password_comes_from_libpqs_places_and_never_shows() {
    let Some(server) = TempCluster::start_or_skip("passwords") else {
        return;
    };
    let it = Env::on_server(&server, "school");
    it.ok(&["server", "init"]);
    it.ok(&["server", "teacher", "pw_teacher"]);
    server
        .psql(
            cluster::ADMIN,
            "school",
            "ALTER ROLE pw_teacher PASSWORD 's3cret-Pw'",
        )
        .unwrap();
    server.require_password_for("pw_teacher").unwrap();
    let as_teacher = || Env::as_role(&server, "pw_teacher", "school");
    let err = as_teacher().fails(&["class", "list"]);
    assert!(
        err.contains("asks for a password") && err.contains("~/.pgpass"),
        "{err}"
    );
    let wrong = as_teacher()
        .with_var("PGPASSWORD", "wrong")
        .fails(&["class", "list"]);
    assert!(wrong.contains("password authentication failed"), "{wrong}");
    let out = as_teacher()
        .with_var("PGPASSWORD", "s3cret-Pw")
        .run(&["-vv", "class", "list"]);
    assert!(out.status.success(), "{out:?}");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!all.contains("s3cret"), "{all}");
    let pgpass = it.path("pgpass");
    std::fs::write(
        &pgpass,
        format!("127.0.0.1:{}:school:pw_teacher:s3cret-Pw\n", server.port()),
    )
    .unwrap();
    let with_file = || as_teacher().with_var("PGPASSFILE", pgpass.to_str().unwrap());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(
            with_file()
                .fails(&["class", "list"])
                .contains("asks for a password")
        );
        std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    with_file().ok(&["class", "list"]);
}

/// A lesson started while the server is down runs from the roster copy this machine kept
/// at the last lesson, and everything it marked reaches the server once, when it is back.
#[test]
fn a_lesson_taken_offline_reaches_the_server_once_it_is_back() {
    let Some(server) = TempCluster::start_or_skip("the offline lesson") else {
        return;
    };
    let it = Env::on_server(&server, "school");
    let data = it.path("data");
    let it = it.with_var("XDG_DATA_HOME", data.to_str().unwrap());
    it.ok(&["class", "add", "7B"]);
    it.enroll("Barack Obama", "7B", "obama.jpg");
    it.enroll("Joe Biden", "7B", "biden.jpg");
    let (monday, tuesday) = (
        it.replay("monday", "obama2.jpg", 5),
        it.replay("tuesday", "biden.jpg", 5),
    );
    // Monday, online: the lesson keeps a copy of the class's roster on this machine.
    let out = it.ok(&[
        "live", "--class", "7B", "--replay", &monday, "--fps", "0", "--stop",
    ]);
    assert!(
        out.contains("Barack Obama (present)") && !out.contains("Offline"),
        "{out}"
    );
    assert!(data.join("rollcall/offline").is_dir());
    // Tuesday, the server is down: the lesson runs from the copy.
    server.kill().unwrap();
    let out = it.ok(&[
        "live", "--class", "7B", "--replay", &tuesday, "--fps", "0", "--stop",
    ]);
    assert!(
        out.contains("Offline: ") && out.contains("the school server cannot be reached"),
        "{out}"
    );
    assert!(out.contains("Joe Biden (present)"), "{out}");
    assert!(out.contains("2 change(s) waiting for the server"), "{out}");
    let err = it.fails(&["sync"]);
    assert!(
        err.contains("2 change(s) are waiting on this machine"),
        "{err}"
    );
    // The server is back: one sync sends everything, a second finds nothing.
    server.restart().unwrap();
    let out = it.ok(&["sync"]);
    assert!(out.contains("Sent 1 session(s), 1 mark(s)"), "{out}");
    assert!(it.ok(&["sync"]).contains("Sent 0 session(s), 0 mark(s)"));
    let sql = |q: &str| server.psql(cluster::ADMIN, "school", q).unwrap();
    assert_eq!(sql("SELECT count(*) FROM sessions"), "2");
    assert_eq!(
        sql(
            "SELECT string_agg(s.display_name, ',' ORDER BY k.session_id) FROM marks k
             JOIN students s ON s.id = k.student_id"
        ),
        "Barack Obama,Joe Biden"
    );
    assert_eq!(
        sql("SELECT count(*) FROM sessions WHERE ended_ms IS NULL"),
        "0"
    );
}

/// The window started while the server is down opens this machine's offline copy, takes the
/// lesson there (a real window under Xvfb, the camera a replay), and what it marked reaches the
/// server with `rollcall sync` once the server is back.
#[test]
fn a_window_started_offline_takes_the_lesson_on_the_copy() {
    let Some(server) = TempCluster::start_or_skip("the offline window") else {
        return;
    };
    if Command::new("Xvfb").arg("-help").output().is_err() {
        eprintln!("note: Xvfb is not installed; skipping the offline window test");
        return;
    }
    let it = Env::on_server(&server, "school");
    it.ok(&["class", "add", "7B"]);
    it.enroll("Barack Obama", "7B", "obama.jpg");
    it.enroll("Joe Biden", "7B", "biden.jpg");
    let (monday, tuesday) = (
        it.replay("monday", "obama2.jpg", 8),
        it.replay("tuesday", "biden.jpg", 8),
    );
    it.ok(&[
        "live", "--class", "7B", "--replay", &monday, "--fps", "0", "--stop",
    ]);
    let offline_dir = it.path("data/rollcall/offline");
    let copy = std::fs::read_dir(&offline_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "db"))
        .expect("the online lesson kept an offline copy");
    server.kill().unwrap();

    let display = format!(":{}", 40 + std::process::id() % 50);
    let mut xvfb = Command::new("Xvfb")
        .args([
            display.as_str(),
            "-screen",
            "0",
            "1024x600x24",
            "-nolisten",
            "tcp",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(1));
    let log = std::fs::File::create(it.path("window.log")).unwrap();
    let mut window = Command::new(env!("CARGO_BIN_EXE_rollcall"))
        .args(["--attend", "7B", "--replay", &tuesday])
        .env("ROLLCALL_DB", it.db())
        .env("XDG_DATA_HOME", it.path("data"))
        .env("XDG_CONFIG_HOME", it.path("config"))
        .env("DISPLAY", &display)
        .env("LIBGL_ALWAYS_SOFTWARE", "1")
        .env("TZ", "UTC")
        .env_remove("RUST_LOG")
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    // The lesson runs on the copy: wait for Joe Biden's mark there.
    let on_copy = Env::at_url(copy.to_str().unwrap().to_owned());
    let mut marked = false;
    for _ in 0..120 {
        std::thread::sleep(std::time::Duration::from_millis(500));
        if window.try_wait().unwrap().is_some() {
            break;
        }
        let out = on_copy.run(&["export", "--class", "7B", "--format", "long"]);
        if String::from_utf8_lossy(&out.stdout).contains("Joe Biden") {
            let rows = String::from_utf8_lossy(&out.stdout).into_owned();
            marked = rows
                .lines()
                .any(|l| l.contains("Joe Biden") && l.contains("present"));
            if marked {
                break;
            }
        }
    }
    let still_running = window.try_wait().unwrap().is_none();
    // The lid is shut mid-lesson: what was marked is already on the disk.
    let _ = window.kill();
    let _ = window.wait();
    let _ = xvfb.kill();
    let _ = xvfb.wait();
    let log = std::fs::read_to_string(it.path("window.log")).unwrap();
    assert!(still_running, "the window exited early:\n{log}");
    assert!(marked, "no mark on the copy after a minute:\n{log}");
    assert!(log.contains("opening the offline copy"), "{log}");

    server.restart().unwrap();
    let out = it.ok(&["sync"]);
    assert!(out.contains("1 mark(s)"), "{out}");
    let sql = |q: &str| server.psql(cluster::ADMIN, "school", q).unwrap();
    assert_eq!(
        sql(
            "SELECT string_agg(s.display_name, ',' ORDER BY k.session_id) FROM marks k
             JOIN students s ON s.id = k.student_id"
        ),
        "Barack Obama,Joe Biden"
    );
}

/// Eight classrooms taking attendance, and the office enrolling, while the server is killed
/// with SIGKILL and started again, three times here (`ROLLCALL_FAULT_KILLS=20` for the long
/// run): every lesson carries on in its offline copy, the office's commands fail clearly and
/// are tried again, and afterwards every expected mark and student is on the server once.
#[test]
fn marks_survive_the_server_being_killed_during_lessons() {
    let Some(server) = TempCluster::start_or_skip("the server faults") else {
        return;
    };
    let kills: usize = std::env::var("ROLLCALL_FAULT_KILLS")
        .ok()
        .and_then(|k| k.parse().ok())
        .unwrap_or(3);
    let it = Env::on_server(&server, "school");
    let rooms = 8;
    it.ok(&["class", "add", "Office"]);
    two_face_rooms(&it, rooms);
    // Long enough for every kill to land in the middle of the lessons.
    let per_face = 6 + 7 * kills;
    let frames = two_face_replay(&it, per_face);
    let lessons: Vec<_> = (0..rooms).map(|r| spawn_lesson(&it, r, &frames)).collect();
    // The office enrolls through the outages: a command the outage cut off says so, and is
    // run again (a student it did add is found by the school number, not added twice).
    let office = std::thread::scope(|scope| {
        let office = scope.spawn(|| {
            let mut failures = 0;
            for i in 0..6 {
                let id = format!("N-{i}");
                loop {
                    let photo = demo_photo("obama3.jpg");
                    let out = it.run(&[
                        "student",
                        "add",
                        "--name",
                        &format!("New {i}"),
                        "--class",
                        "Office",
                        "--external-id",
                        &id,
                        "--photo",
                        photo.to_str().unwrap(),
                        "--consent-by",
                        "Self",
                    ]);
                    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
                    if out.status.success() || stderr.contains("already exists") {
                        break;
                    }
                    assert!(stderr.contains("cannot be reached"), "office: {stderr}");
                    failures += 1;
                    std::thread::sleep(std::time::Duration::from_millis(300));
                }
            }
            failures
        });
        std::thread::sleep(std::time::Duration::from_millis(1500));
        for _ in 0..kills {
            server.kill().unwrap();
            std::thread::sleep(std::time::Duration::from_millis(1200));
            server.restart().unwrap();
            std::thread::sleep(std::time::Duration::from_millis(800));
        }
        office.join().unwrap()
    });
    let mut went_offline = 0;
    for (r, child) in lessons.into_iter().enumerate() {
        went_offline += usize::from(lesson_marked_both(r, child).0.contains("Offline"));
    }
    assert!(went_offline > 0, "no lesson noticed the server going away");
    // Whatever waited when its lesson ended is sent now (once more changes nothing).
    it.ok(&["sync"]);
    it.ok(&["sync"]);
    each_room_marked_once(&server, rooms);
    let sql = |q: &str| server.psql(cluster::ADMIN, "school", q).unwrap();
    assert_eq!(
        sql("SELECT count(*) FROM students WHERE external_id LIKE 'N-%'"),
        "6",
        "the office's students, each once ({office} command(s) cut off by an outage)"
    );
}

/// TLS: a role the server accepts over TLS only connects with `sslmode=require`, and with
/// `verify-full` when the server's certificate is trusted through `sslrootcert`; without TLS,
/// or with an untrusted certificate under `verify-full`, it is refused.
#[test]
fn a_server_can_be_reached_over_tls_only() {
    let Some(server) = TempCluster::start_or_skip("TLS") else {
        return;
    };
    let it = Env::on_server(&server, "school");
    it.ok(&["server", "init"]);
    it.ok(&["class", "add", "7B"]);
    it.ok(&["server", "teacher", "tls_teacher", "--class", "7B"]);
    let cert = server.enable_tls_for("tls_teacher").unwrap();
    let url = |query: &str| {
        Env::at_url(format!(
            "postgresql://tls_teacher@127.0.0.1:{}/school?connect_timeout=3&{query}",
            server.port()
        ))
    };
    let plain = url("sslmode=disable").fails(&["class", "list"]);
    assert!(
        plain.contains("no encryption") || plain.contains("rejects"),
        "{plain}"
    );
    assert!(url("sslmode=require").ok(&["class", "list"]).contains("7B"));
    assert!(url("sslmode=prefer").ok(&["class", "list"]).contains("7B"));
    let trusted = format!("sslmode=verify-full&sslrootcert={}", cert.display());
    assert!(url(&trusted).ok(&["class", "list"]).contains("7B"));
    let untrusted = url("sslmode=verify-full").fails(&["class", "list"]);
    assert!(untrusted.contains("certificate"), "{untrusted}");
}

/// The issue's walkthrough; returns the long and the matrix export.
fn walkthrough(env: &Env) -> (Vec<u8>, Vec<u8>) {
    env.ok(&["class", "add", "7B"]);
    let photo = demo_photo("obama.jpg");
    let out = env.ok(&[
        "student",
        "add",
        "--name",
        "Ada Lovelace",
        "--class",
        "7B",
        "--photo",
        photo.to_str().unwrap(),
        "--consent-by",
        "Anne Isabella Byron (mother)",
    ]);
    assert!(out.contains("Added Ada Lovelace"), "{out}");
    env.ok(&[
        "student",
        "add",
        "--name",
        "=HYPERLINK(\"x\")",
        "--class",
        "7B",
    ]);
    env.ok(&[
        "student",
        "add",
        "--name",
        "Grace Hopper",
        "--class",
        "7B",
        "--external-id",
        "S-2",
    ]);
    env.ok(&["session", "start", "--class", "7B"]);
    env.ok(&[
        "mark",
        "--class",
        "7B",
        "--student",
        "Ada Lovelace",
        "--status",
        "present",
    ]);
    env.ok(&[
        "mark",
        "--class",
        "7B",
        "--student",
        "S-2",
        "--status",
        "excused",
        "--note",
        "dentist",
    ]);
    let roll = env.ok(&["session", "show", "--class", "7B"]);
    assert!(
        roll.contains("Ada Lovelace") && roll.contains("excused"),
        "{roll}"
    );

    let csv = env.path("a.csv");
    let out = env.ok(&[
        "export",
        "--class",
        "7B",
        "--format",
        "long",
        "--out",
        csv.to_str().unwrap(),
    ]);
    assert!(out.contains("Wrote 3 rows"), "{out}");
    let (header, rows) = read_csv(&csv);
    assert_eq!(
        header,
        [
            "date",
            "class",
            "session",
            "student_id",
            "external_id",
            "name",
            "status",
            "time",
            "source",
            "score",
            "margin",
            "student_sourced_id",
            "class_sourced_id"
        ]
    );
    let status_of = |name: &str| {
        rows.iter()
            .find(|r| r[5] == name)
            .map(|r| r[6].clone())
            .unwrap()
    };
    assert_eq!(status_of("Ada Lovelace"), "present");
    assert_eq!(status_of("Grace Hopper"), "excused");
    // The formula is exported as text, with a leading apostrophe.
    assert_eq!(status_of("'=HYPERLINK(\"x\")"), "absent");
    let raw = std::fs::read_to_string(&csv).unwrap();
    assert!(raw.contains("\"'=HYPERLINK(\"\"x\"\")\""), "{raw}");

    let matrix = env.path("m.csv");
    env.ok(&[
        "export",
        "--format",
        "matrix",
        "--bom",
        "--out",
        matrix.to_str().unwrap(),
    ]);
    let bytes = std::fs::read(&matrix).unwrap();
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"));

    let audit = env.ok(&["audit"]);
    assert!(
        audit.contains("mark_set") && audit.contains("dentist"),
        "{audit}"
    );
    env.ok(&["session", "stop", "--class", "7B"]);
    assert!(env.ok(&["session", "list"]).contains("7B"));
    (raw.into_bytes(), bytes)
}

#[test]
fn a_photo_without_consent_is_refused_and_nothing_is_written() {
    let env = Env::new();
    env.ok(&["class", "add", "7B"]);
    let photo = demo_photo("biden.jpg");
    let err = env.fails(&[
        "student",
        "add",
        "--name",
        "Joe",
        "--class",
        "7B",
        "--photo",
        photo.to_str().unwrap(),
    ]);
    assert!(err.contains("--consent-by"), "{err}");
    assert!(env.ok(&["student", "list"]).contains("No students yet"));
}

#[test]
fn bad_input_gives_clear_errors_and_exit_code_1() {
    let env = Env::new();
    let err = env.fails(&["student", "add", "--name", "Ada", "--class", "NoSuchClass"]);
    assert!(err.contains("class \"NoSuchClass\" not found"), "{err}");
    env.ok(&["class", "add", "7B"]);
    assert!(
        env.fails(&["class", "add", "7B"])
            .contains("already exists")
    );
    let broken = env.path("broken.jpg");
    std::fs::write(&broken, b"\xFF\xD8\xFF\xE0 truncated").unwrap();
    let err = env.fails(&[
        "student",
        "add",
        "--name",
        "Ada",
        "--class",
        "7B",
        "--photo",
        broken.to_str().unwrap(),
        "--consent-by",
        "Mum",
    ]);
    assert!(err.contains("photo"), "{err}");
    assert!(
        env.ok(&["student", "list"]).contains("No students yet"),
        "nothing half-written"
    );
    let err = env.fails(&["mark", "--class", "7B", "--student", "Ada"]);
    assert!(err.contains("no sessions yet"), "{err}");
    // Usage errors are clap's exit code 2.
    let out = env.run(&[
        "mark",
        "--class",
        "7B",
        "--student",
        "Ada",
        "--status",
        "here",
    ]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_database_from_a_newer_version_is_refused() {
    let env = Env::new();
    env.ok(&["class", "add", "7B"]);
    let conn = rusqlite::Connection::open(env.db()).unwrap();
    conn.pragma_update(None, "user_version", 500).unwrap();
    drop(conn);
    let err = env.fails(&["class", "list"]);
    assert!(err.contains("newer version of rollcall"), "{err}");
}

#[test]
fn the_db_flag_overrides_the_environment() {
    let env = Env::new();
    let other = env.path("other.db");
    env.ok(&["--db", other.to_str().unwrap(), "class", "add", "X"]);
    assert!(other.exists());
    assert!(env.ok(&["class", "list"]).contains("No classes yet"));
}

/// `rollcall database use` saves which database this machine opens without --db or
/// ROLLCALL_DB (after opening it to check it); `show` says where the choice came from;
/// `forget` goes back to the default file; --db still wins.
#[test]
fn the_saved_database_choice_is_used_until_forgotten() {
    let env = Env::at_url(String::new());
    let show = env.ok(&["database", "show"]);
    assert!(show.contains("from:     the default file"), "{show}");
    assert!(
        show.contains(&env.path("data").display().to_string()),
        "{show}"
    );
    env.ok(&["class", "add", "Default class"]);

    let chosen = env.path("school/7B.db");
    let out = env.ok(&["database", "use", chosen.to_str().unwrap()]);
    assert!(out.contains("0 classes, 0 students"), "{out}");
    assert!(chosen.exists());
    let show = env.ok(&["database", "show"]);
    assert!(
        show.contains(&format!("database: {}", chosen.display())),
        "{show}"
    );
    assert!(show.contains("the choice saved in"), "{show}");
    env.ok(&["class", "add", "7B"]);
    let classes = env.ok(&["class", "list"]);
    assert!(
        classes.contains("7B") && !classes.contains("Default class"),
        "{classes}"
    );
    // --db wins over the saved choice.
    let other = env.path("other.db");
    let show = env.ok(&["--db", other.to_str().unwrap(), "database", "show"]);
    assert!(show.contains("from:     --db or ROLLCALL_DB"), "{show}");
    assert!(
        show.contains(&format!("saved:    {}", chosen.display())),
        "{show}"
    );

    // Nothing is saved that would not open, or that holds a password.
    let junk = env.path("notes.txt");
    std::fs::write(&junk, "not a database").unwrap();
    env.fails(&["database", "use", junk.to_str().unwrap()]);
    let err = env.fails(&["database", "use", "postgresql://t:hunter2@localhost:1/x"]);
    assert!(
        err.contains("does not save passwords") && !err.contains("hunter2"),
        "{err}"
    );
    assert!(
        env.ok(&["database", "show"])
            .contains(&chosen.display().to_string())
    );

    // A broken choice file is named in the error, and `forget` still works.
    let file = env.path("config/rollcall/database");
    std::fs::write(&file, "postgresql://host/db?colour=red\n").unwrap();
    let err = env.fails(&["class", "list"]);
    assert!(
        err.contains(&file.display().to_string()) && err.contains("forget"),
        "{err}"
    );
    env.ok(&["database", "forget"]);
    assert!(env.ok(&["class", "list"]).contains("Default class"));
}

/// On a file, the audit log names the computer's user for a manual change.
#[test]
fn the_audit_log_names_who_changed_a_mark() {
    let env = Env::new().with_var("USER", "ms_lee");
    env.ok(&["class", "add", "7B"]);
    env.ok(&["student", "add", "--name", "Ada", "--class", "7B"]);
    env.ok(&["session", "start", "--class", "7B"]);
    env.ok(&[
        "mark",
        "--class",
        "7B",
        "--student",
        "Ada",
        "--status",
        "excused",
    ]);
    let audit = env.ok(&["audit"]);
    let line = audit
        .lines()
        .find(|l| l.contains("mark_set"))
        .unwrap_or_default();
    assert!(line.contains("ms_lee"), "{audit}");
}

#[test]
fn backup_and_restore_round_trip() {
    let env = Env::new();
    env.ok(&["class", "add", "7B"]);
    env.ok(&["student", "add", "--name", "Ada", "--class", "7B"]);
    let backup = env.path("backup.db");
    assert!(
        env.ok(&["backup", backup.to_str().unwrap()])
            .contains("integrity check ok")
    );
    assert!(
        env.fails(&["backup", backup.to_str().unwrap()])
            .contains("already exists")
    );
    env.ok(&["class", "add", "8C"]);
    // Without --yes nothing happens.
    let err = env.fails(&["restore", backup.to_str().unwrap()]);
    assert!(err.contains("--yes"), "{err}");
    assert!(env.ok(&["class", "list"]).contains("8C"));
    let out = env.ok(&["restore", backup.to_str().unwrap(), "--yes"]);
    assert!(out.contains("Restored"), "{out}");
    let classes = env.ok(&["class", "list"]);
    assert!(
        classes.contains("7B") && !classes.contains("8C"),
        "{classes}"
    );
    assert!(env.ok(&["student", "list"]).contains("Ada"));
    // The database from before the restore was kept.
    let kept = std::fs::read_dir(env.dir.path())
        .unwrap()
        .filter_map(Result::ok)
        .any(|e| e.file_name().to_string_lossy().contains("before-restore"));
    assert!(kept);
    // A damaged backup is refused and the database is untouched.
    let junk = env.path("junk.db");
    std::fs::write(
        &junk,
        b"not a database at all, sorry..................................",
    )
    .unwrap();
    assert!(
        env.fails(&["restore", junk.to_str().unwrap(), "--yes"])
            .contains("backup")
    );
    assert!(env.ok(&["class", "list"]).contains("7B"));
}

#[test]
fn class_sample_builds_a_real_sized_class_to_try() {
    let env = Env::new();
    let out = env.ok(&["class", "sample", "--name", "9C"]);
    assert!(
        out.contains("40 students (5 look-alike pairs), 30 past sessions"),
        "{out}"
    );
    assert!(out.contains("20 faces to review"), "{out}");
    let list = env.ok(&["class", "list"]);
    assert!(
        list.contains("9C") && list.contains("40") && list.contains("31"),
        "{list}"
    );
    let reviews = env.ok(&["review", "list"]);
    assert_eq!(
        reviews.lines().count(),
        21,
        "a header and 20 faces: {reviews}"
    );
    // The same name twice and an impossible size are refused, and add nothing.
    assert!(
        env.fails(&["class", "sample", "--name", "9C"])
            .contains("already exists")
    );
    let err = env.fails(&["class", "sample", "--name", "Huge", "--students", "100000"]);
    assert!(err.contains("2 to 500 students"), "{err}");
    assert!(!env.ok(&["class", "list"]).contains("Huge"));
    let csv = env.path("9C.csv");
    env.ok(&[
        "export",
        "--class",
        "9C",
        "--format",
        "matrix",
        "--out",
        csv.to_str().unwrap(),
    ]);
    let (_, rows) = read_csv(&csv);
    assert_eq!(rows.len(), 40);
}

#[test]
fn review_queue_and_purge_commands() {
    let env = Env::new();
    assert!(env.ok(&["review", "list"]).contains("No faces are waiting"));
    assert!(env.fails(&["review", "accept", "99"]).contains("not found"));
    assert!(env.fails(&["purge"]).contains("no retention period"));
    assert!(
        env.ok(&["purge", "--older-than-days", "30"])
            .contains("0 student(s)")
    );
}

#[test]
fn cameras_lists_or_explains_and_always_exits_0() {
    let env = Env::new();
    let out = env.ok(&["cameras"]);
    // Without a camera (CI, this machine) it explains what to do; with one it lists it.
    assert!(
        out.contains("No camera found") && out.contains("--camera demo")
            || out.contains("Choose one with --camera N"),
        "{out}"
    );
    let json: serde_json::Value = serde_json::from_str(&env.ok(&["cameras", "--json"])).unwrap();
    assert!(
        json["cameras"].is_array() && json["not_cameras"].is_array(),
        "{json}"
    );
}

#[test]
fn cameras_check_runs_the_demo_camera_and_a_replay_folder() {
    let env = Env::new();
    // Five seconds: preparing the demo photos takes about half a second on a busy machine.
    let out = env.ok(&["cameras", "--check", "5", "--camera", "demo"]);
    assert!(out.starts_with("Demo camera: "), "{out}");
    assert!(out.contains("frames 640x480"), "{out}");

    let folder = env.path("frames");
    std::fs::create_dir(&folder).unwrap();
    for name in ["obama.jpg", "biden.jpg"] {
        std::fs::copy(demo_photo(name), folder.join(name)).unwrap();
    }
    std::fs::write(folder.join("broken.jpg"), b"\xff\xd8 not really").unwrap();
    let out = env.ok(&[
        "cameras",
        "--check",
        "20",
        "--replay",
        folder.to_str().unwrap(),
        "--fps",
        "0",
    ]);
    assert!(out.contains("captured 2 frames"), "{out}");
    assert!(out.contains("damaged skipped 1"), "{out}");

    let err = env.fails(&["cameras", "--check", "1", "--replay", "no/such/folder"]);
    assert!(err.contains("nothing to replay at no/such/folder"), "{err}");
}

#[test]
fn importing_a_folder_adds_one_student_per_photo() {
    let env = Env::new();
    env.ok(&["class", "add", "7B"]);
    let photos = env.path("photos");
    std::fs::create_dir(&photos).unwrap();
    std::fs::copy(demo_photo("obama.jpg"), photos.join("Barack_Obama.jpg")).unwrap();
    std::fs::write(photos.join("notes.txt"), b"not a photo").unwrap();
    let out = env.ok(&[
        "student",
        "import",
        "--class",
        "7B",
        "--folder",
        photos.to_str().unwrap(),
        "--consent-by",
        "Signed forms",
    ]);
    assert!(out.contains("Imported 1 of 2 photos"), "{out}");
    assert!(
        out.contains("skipped") && out.contains("notes.txt"),
        "{out}"
    );
    let list = env.ok(&["student", "list", "--class", "7B"]);
    assert!(
        list.contains("Barack Obama") && !list.contains("notes"),
        "{list}"
    );
}

#[test]
fn a_roster_from_the_information_system_then_its_id_photos() {
    let env = Env::new();
    let bundle = env.path("roster.zip");
    env.ok(&["roster", "example", bundle.to_str().unwrap()]);
    let preview = env.ok(&[
        "roster",
        "import",
        "--oneroster",
        bundle.to_str().unwrap(),
        "--dry-run",
    ]);
    assert!(
        preview.contains("6 new classes")
            && preview.contains("150 new students")
            && preview.contains("nothing was written"),
        "{preview}"
    );
    assert!(
        env.ok(&["class", "list"]).contains("No classes"),
        "the preview wrote nothing"
    );
    let out = env.ok(&["roster", "import", "--oneroster", bundle.to_str().unwrap()]);
    assert!(out.contains("Imported."), "{out}");
    let again = env.ok(&["roster", "import", "--oneroster", bundle.to_str().unwrap()]);
    assert!(again.contains("already up to date"), "{again}");

    // The school's ID photos, named by school number: two match, one names nobody, one is no
    // face at all, one is not a photo.
    let photos = env.path("id-photos");
    std::fs::create_dir(&photos).unwrap();
    std::fs::copy(demo_photo("obama.jpg"), photos.join("26001.jpg")).unwrap();
    std::fs::copy(demo_photo("biden.jpg"), photos.join("26003.JPG")).unwrap();
    std::fs::copy(demo_photo("obama2.jpg"), photos.join("99999.jpg")).unwrap();
    image::RgbImage::from_pixel(320, 240, image::Rgb([200, 200, 190]))
        .save(photos.join("26005.png"))
        .unwrap();
    std::fs::write(photos.join("Thumbs.db"), b"not a photo").unwrap();
    let args = [
        "student",
        "import",
        "--folder",
        photos.to_str().unwrap(),
        "--match",
        "school-number",
        "--class",
        "Science 7",
        "--consent-by",
        "Signed school forms 2026",
    ];
    let out = env.ok(&args);
    assert!(
        out.contains(
            "Enrolled 2 photo(s); 0 student(s) had one already; 1 refused; 2 file(s) unmatched"
        ),
        "{out}"
    );
    assert!(
        out.contains("refused") && out.contains("26005.png") && out.contains("No face found"),
        "{out}"
    );
    assert!(
        out.contains("99999.jpg: no student has the school number"),
        "{out}"
    );
    assert!(out.contains("Thumbs.db: not a photo"), "{out}");
    assert!(
        out.contains("Still without a photo in Science 7 (38)"),
        "{out}"
    );
    let list = env.ok(&["student", "list", "--class", "Science 7"]);
    let with_photo = list
        .lines()
        .filter(|l| (l.contains("26001") || l.contains("26003")) && l.contains(" yes "))
        .count();
    assert_eq!(with_photo, 2, "{list}");
    let consent = env.ok(&["consent", "list", "--student", "26001"]);
    assert!(consent.contains("Signed school forms 2026"), "{consent}");

    // Run again: it resumes, leaving the two enrolled students alone.
    let out = env.ok(&args);
    assert!(
        out.contains("Enrolled 0 photo(s); 2 student(s) had one already"),
        "{out}"
    );

    // The lesson goes back to the information system with its codes.
    env.ok(&["settings", "set", "sis-code-late", "TD"]);
    assert!(
        env.ok(&["settings", "show"])
            .contains("sis-code-late        TD")
    );
    let err = env.fails(&["settings", "set", "sis-code-absent", " "]);
    assert!(err.contains("must be 1 to 12 characters"), "{err}");
    env.ok(&["session", "start", "--class", "Science 7"]);
    env.ok(&["mark", "--class", "Science 7", "--student", "26001"]);
    env.ok(&[
        "mark",
        "--class",
        "Science 7",
        "--student",
        "26008",
        "--status",
        "late",
    ]);
    env.ok(&["session", "stop", "--class", "Science 7"]);
    let sis = env.path("sis.csv");
    let out = env.ok(&[
        "export",
        "--format",
        "sis",
        "--class",
        "Science 7",
        "--out",
        sis.to_str().unwrap(),
    ]);
    assert!(
        out.contains("Wrote 40 rows (1 sessions, 40 students)"),
        "{out}"
    );
    let (header, rows) = read_csv(&sis);
    assert_eq!(header[0], "school_number");
    let code = |number: &str| {
        let r = rows.iter().find(|r| r[0] == number).unwrap();
        (r[1].clone(), r[2].clone(), r[10].clone())
    };
    assert_eq!(
        code("26001"),
        ("stu-0001".into(), "Amara Adeyemi".into(), "P".into())
    );
    assert_eq!(
        code("26008"),
        ("stu-0008".into(), "Hiro Smith, Jr.".into(), "TD".into())
    );
    assert_eq!(code("26002").2, "A");
}

#[test]
fn a_photo_without_a_face_is_refused_with_advice() {
    let env = Env::new();
    env.ok(&["class", "add", "7B"]);
    let blank = env.path("wall.png");
    image::RgbImage::from_pixel(320, 240, image::Rgb([200, 200, 190]))
        .save(&blank)
        .unwrap();
    let err = env.fails(&[
        "student",
        "add",
        "--name",
        "Nobody",
        "--class",
        "7B",
        "--photo",
        blank.to_str().unwrap(),
        "--consent-by",
        "Mum",
    ]);
    assert!(err.contains("No face found"), "{err}");
    assert!(env.ok(&["student", "list"]).contains("No students yet"));
}

#[test]
fn faces_and_identify_describe_a_photo() {
    let env = Env::new();
    let obama = demo_photo("obama.jpg");
    let faces = env.ok(&["faces", obama.to_str().unwrap()]);
    assert!(faces.contains("face(s)") && faces.contains("1*"), "{faces}");
    env.ok(&["class", "add", "7B"]);
    env.ok(&[
        "student",
        "add",
        "--name",
        "Barack Obama",
        "--class",
        "7B",
        "--photo",
        obama.to_str().unwrap(),
        "--consent-by",
        "Self",
    ]);
    let biden = demo_photo("biden.jpg");
    env.ok(&[
        "student",
        "add",
        "--name",
        "Joe Biden",
        "--class",
        "7B",
        "--photo",
        biden.to_str().unwrap(),
        "--consent-by",
        "Self",
    ]);
    // A new database enrolls with the default encoder, MobileFaceNet.
    let list = env.ok(&["student", "list"]);
    assert!(list.contains("mobilefacenet-"), "{list}");
    let other = demo_photo("obama2.jpg");
    let out = env.ok(&["identify", other.to_str().unwrap()]);
    let first_match = out.lines().nth(1).unwrap_or_default();
    assert!(
        first_match.contains("Barack Obama") && first_match.contains("match"),
        "{out}"
    );
    assert!(env.ok(&["encoders", "list"]).contains('*'));
}

#[test]
fn live_marks_enrolled_students_from_a_replay_and_never_a_stranger() {
    let env = Env::new();
    env.ok(&["class", "add", "7B"]);
    let obama = demo_photo("obama.jpg");
    env.ok(&[
        "student",
        "add",
        "--name",
        "Barack Obama",
        "--class",
        "7B",
        "--photo",
        obama.to_str().unwrap(),
        "--consent-by",
        "Self",
    ]);
    // Frames: another photo of Obama five times, then Biden (never enrolled) five times.
    let frames = env.path("frames");
    std::fs::create_dir(&frames).unwrap();
    for i in 0..5 {
        std::fs::copy(demo_photo("obama2.jpg"), frames.join(format!("{i:02}.jpg"))).unwrap();
        std::fs::copy(
            demo_photo("biden.jpg"),
            frames.join(format!("{:02}.jpg", i + 5)),
        )
        .unwrap();
    }
    let out = env.ok(&[
        "live",
        "--class",
        "7B",
        "--replay",
        frames.to_str().unwrap(),
        "--fps",
        "0",
        "--stop",
    ]);
    assert!(out.contains("mark    Barack Obama (present)"), "{out}");
    assert!(out.contains("10 frames, 1 marked"), "{out}");
    let roll = env.ok(&["session", "show", "--class", "7B"]);
    assert!(roll.contains("present") && roll.contains("auto"), "{roll}");
    // The evidence is in the export: distance and margin.
    let csv_out = env.path("a.csv");
    env.ok(&["export", "--out", csv_out.to_str().unwrap()]);
    let (_, rows) = read_csv(&csv_out);
    let score: f32 = rows[0][9].parse().unwrap();
    let threshold = rollcall::vision::mobilefacenet::DEFAULT_THRESHOLD;
    assert!(score > 0.0 && score < threshold, "{rows:?}");
    // What if the threshold were stricter than Obama's distance? He would not be recognised.
    let what_if = |t: f32| -> serde_json::Value {
        let t = t.to_string();
        let out = env.ok(&["calibrate", "--class", "7B", "--what-if", &t, "--json"]);
        serde_json::from_str::<serde_json::Value>(&out).unwrap()["what_if"].clone()
    };
    let same = what_if(threshold);
    assert_eq!(
        (same["auto_marks"].as_u64(), same["kept"].as_u64()),
        (Some(1), Some(1))
    );
    let strict = what_if(score - 0.01);
    assert_eq!(strict["unrecognised"].as_u64(), Some(1), "{strict}");
    // Obama is the only student, so there is no runner-up and no margin to miss.
    assert!(rows[0][10].is_empty(), "{rows:?}");
    let text = env.ok(&[
        "calibrate",
        "--class",
        "7B",
        "--what-if",
        &threshold.to_string(),
        "--what-if-margin",
        "0.9",
        "--session",
        "1",
    ]);
    let count = |row: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(row))
            .and_then(|l| l.split_whitespace().last())
    };
    assert_eq!(count("still marked"), Some("1"), "{text}");
    assert_eq!(count("sent to review instead"), Some("0"), "{text}");
    let err = env.fails(&["calibrate", "--class", "7B", "--what-if", "0"]);
    assert!(err.contains("what-if threshold"), "{err}");
}

#[test]
fn calibrate_reports_the_class_figures_and_look_alikes() {
    let env = Env::new();
    env.ok(&["class", "add", "7B"]);
    for (name, photo) in [
        ("Twin A", "obama.jpg"),
        ("Twin B", "obama2.jpg"),
        ("Joe Biden", "biden.jpg"),
    ] {
        env.enroll(name, "7B", photo);
    }
    let out = env.ok(&["calibrate", "--class", "7B"]);
    assert!(
        out.contains("3 enrolled")
            && out.contains("Impostor pairs (enrolled students compared with each other): 3"),
        "{out}"
    );
    // Twin A and Twin B are the same person: closer than the threshold.
    assert!(
        out.contains("Twin A") && out.contains("under the threshold"),
        "{out}"
    );
    assert!(out.contains("Suggested threshold"), "{out}");
    let json: serde_json::Value =
        serde_json::from_str(&env.ok(&["calibrate", "--class", "7B", "--json"])).unwrap();
    assert_eq!(json["impostor_pairs"], 3);
    assert!(json["false_accept_rate"].as_f64().unwrap() > 0.0);
}

#[test]
fn a_trained_face_head_can_take_over_attendance() {
    let Some(shared) = common::shared_dir("a_trained_face_head_can_take_over_attendance") else {
        return;
    };
    let env = Env::new();
    env.ok(&["class", "add", "7B"]);
    for (name, photo) in [("Barack Obama", "obama.jpg"), ("Joe Biden", "biden.jpg")] {
        env.enroll(name, "7B", photo);
    }
    let att = format!("faces:{}", shared.join("data/faces/att_faces").display());
    let models = env.path("models");
    let out = env.ok(&[
        "train",
        "--dataset",
        &att,
        "--base",
        "dlib",
        "--recipe",
        "batch-hard",
        "--epochs",
        "1",
        "--out",
        models.join("head").to_str().unwrap(),
    ]);
    assert!(out.contains("face-head-"), "{out}");
    let out = env.ok(&["encoders", "use", models.join("head").to_str().unwrap()]);
    assert!(
        out.contains("Attendance now uses face-head-") && out.contains("Embedded 2 photo(s)"),
        "{out}"
    );
    let list = env.ok(&["student", "list"]);
    assert!(list.contains("face-head-"), "{list}");
    let out = env.ok(&["identify", demo_photo("obama2.jpg").to_str().unwrap()]);
    assert!(
        out.lines()
            .nth(1)
            .unwrap_or_default()
            .contains("Barack Obama"),
        "{out}"
    );
    // Back to the default encoder: its embeddings are still there.
    let id = env
        .ok(&["encoders", "list"])
        .lines()
        .find(|l| l.contains("mobilefacenet-"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_owned();
    assert!(
        env.ok(&["encoders", "use", &id])
            .contains("Embedded 0 photo(s)")
    );
}

/// `eval-faces` on a tiny face set made of the bundled demo photos (the shared research sets
/// are not needed): three photos of one man and one of another.
#[test]
fn eval_faces_measures_a_small_face_set() {
    let env = Env::new();
    let data = env.path("faces");
    let set = data.join("demo");
    std::fs::create_dir_all(&set).unwrap();
    for (person, photo) in [
        ("obama", "obama.jpg"),
        ("obama", "obama2.jpg"),
        ("obama", "obama3.jpg"),
        ("biden", "biden.jpg"),
    ] {
        std::fs::create_dir_all(set.join(person)).unwrap();
        std::fs::copy(demo_photo(photo), set.join(person).join(photo)).unwrap();
    }
    std::fs::write(
        set.join("manifest.csv"),
        "path,identity\ndemo/obama/obama.jpg,obama\ndemo/obama/obama2.jpg,obama\ndemo/obama/obama3.jpg,obama\ndemo/biden/biden.jpg,biden\n",
    )
    .unwrap();
    std::fs::write(
        set.join("pairs.csv"),
        "path_a,path_b,same\ndemo/obama/obama.jpg,demo/obama/obama2.jpg,1\ndemo/obama/obama.jpg,demo/obama/obama3.jpg,1\ndemo/obama/obama2.jpg,demo/biden/biden.jpg,0\ndemo/obama/obama3.jpg,demo/biden/biden.jpg,0\n",
    )
    .unwrap();
    let cache = env.path("cache");
    let eval = || {
        env.ok(&[
            "eval-faces",
            "--data",
            data.to_str().unwrap(),
            "--sets",
            "demo",
            "--cache",
            cache.to_str().unwrap(),
            "--json",
        ])
    };
    let out = eval();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let r = &v[0];
    assert_eq!(r["images"], 4);
    let close = |v: &serde_json::Value, want: f64| (v.as_f64().unwrap() - want).abs() < 1e-6;
    let threshold = f64::from(rollcall::vision::mobilefacenet::DEFAULT_THRESHOLD);
    assert_eq!(r["encoder"], "mobilefacenet");
    assert!(close(&r["threshold"], threshold), "{}", r["threshold"]);
    let pairs = &r["verification"][0];
    assert_eq!(pairs["pairs"], 4);
    assert!(close(&pairs["auc"], 1.0), "{pairs}");
    assert!(close(&pairs["accuracy"], 1.0), "{pairs}");
    // Obama's first photo is enrolled, the other two are probes and are found.
    let closed = &r["closed_set"];
    assert_eq!(
        (closed["gallery"].as_u64(), closed["genuine"].as_u64()),
        (Some(2), Some(2))
    );
    assert!(close(&closed["top1"], 1.0), "{closed}");
    // Two people are too few for the open-set draws.
    assert!(r["open_set"].is_null());
    // The embeddings are cached: a second run reads them back.
    assert!(std::fs::read_dir(&cache).unwrap().count() == 1);
    assert_eq!(eval(), out);
    // Both encoders side by side: dlib at its own threshold, and MobileFaceNet set beside it.
    let both = env.ok(&[
        "eval-faces",
        "--data",
        data.to_str().unwrap(),
        "--sets",
        "demo",
        "--cache",
        cache.to_str().unwrap(),
        "--encoder",
        "mobilefacenet,dlib",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&both).unwrap();
    assert_eq!(
        (v[0]["encoder"].as_str(), v[1]["encoder"].as_str()),
        (Some("mobilefacenet"), Some("dlib"))
    );
    assert!(close(&v[1]["threshold"], 0.6), "{}", v[1]["threshold"]);
    let reference = &v[1]["against_reference"];
    assert_eq!(
        (reference["ours"].as_str(), reference["theirs"].as_str()),
        (Some("mobilefacenet"), Some("dlib"))
    );
    let figures = reference["figures"].as_array().unwrap();
    assert!(
        figures
            .iter()
            .any(|f| f["figure"] == "pairs.csv: TAR @FAR 0.1%"),
        "{reference}"
    );
    let err = env.fails(&[
        "eval-faces",
        "--data",
        data.to_str().unwrap(),
        "--encoder",
        "vgg",
    ]);
    assert!(err.contains("unknown encoder \"vgg\""), "{err}");
}

/// Adds `rooms` classes "Room r", each with "Obama r" and "Biden r" enrolled.
fn two_face_rooms(it: &Env, rooms: usize) {
    for r in 0..rooms {
        let class = format!("Room {r}");
        it.ok(&["class", "add", &class]);
        it.enroll(&format!("Obama {r}"), &class, "obama.jpg");
        it.enroll(&format!("Biden {r}"), &class, "biden.jpg");
    }
}

/// A replay folder: `per_face` frames of Obama's other photo, then as many of Biden's.
fn two_face_replay(it: &Env, per_face: usize) -> String {
    let frames = it.path("frames");
    std::fs::create_dir(&frames).unwrap();
    for i in 0..per_face {
        std::fs::copy(demo_photo("obama2.jpg"), frames.join(format!("{i:03}.jpg"))).unwrap();
        std::fs::copy(
            demo_photo("biden.jpg"),
            frames.join(format!("{:03}.jpg", i + per_face)),
        )
        .unwrap();
    }
    frames.to_str().unwrap().to_owned()
}

/// Starts `rollcall live` for "Room r" on every frame of `frames`, in the background.
fn spawn_lesson(it: &Env, r: usize, frames: &str) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_rollcall"))
        .args(["live", "--class", &format!("Room {r}"), "--replay", frames])
        .args(["--fps", "0", "--stop"])
        .env("ROLLCALL_DB", it.db())
        .env("XDG_DATA_HOME", it.path("data"))
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits for room `r`'s lesson: it succeeded and marked both its students. Returns its
/// standard output and error.
fn lesson_marked_both(r: usize, child: std::process::Child) -> (String, String) {
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "room {r} failed:\n{stdout}\n{stderr}");
    for name in ["Obama", "Biden"] {
        assert!(
            stdout.contains(&format!("{name} {r} (present)")),
            "room {r}: {stdout}"
        );
    }
    (stdout, stderr)
}

/// On the server: two marks a room, each of its own class's students, none doubled, and no
/// session left open.
fn each_room_marked_once(server: &TempCluster, rooms: usize) {
    let sql = |q: &str| server.psql(cluster::ADMIN, "school", q).unwrap();
    assert_eq!(sql("SELECT count(*) FROM marks"), (2 * rooms).to_string());
    assert_eq!(
        sql(
            "SELECT count(*) FROM marks k JOIN sessions x ON x.id = k.session_id
             JOIN class_members m ON m.class_id = x.class_id AND m.student_id = k.student_id"
        ),
        (2 * rooms).to_string()
    );
    assert_eq!(
        sql(
            "SELECT count(*) FROM (SELECT 1 FROM marks GROUP BY session_id, student_id HAVING count(*) > 1) d"
        ),
        "0"
    );
    assert_eq!(
        sql("SELECT count(DISTINCT session_id) FROM marks"),
        rooms.to_string()
    );
    assert_eq!(
        sql("SELECT count(*) FROM sessions WHERE ended_ms IS NULL"),
        "0"
    );
}
