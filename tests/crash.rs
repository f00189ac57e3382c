//! Crash safety: runs marking (`rollcall live`), enrollment (`rollcall student import`) and
//! re-embedding (`rollcall encoders reembed`) in a child process, kills it with SIGKILL at a
//! random moment, and after every kill checks that nothing committed was lost and nothing
//! half-written is there. `ROLLCALL_CRASH_KILLS` sets how many runs must be killed mid-way
//! (default 12 in the test suite; the README's figure comes from a run with 120). Runs that
//! finish before their kill time are checked too and do not count.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use rollcall::store::Store;

fn rollcall(db: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rollcall"));
    c.args(args)
        .env("ROLLCALL_DB", db)
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c
}

fn must(db: &Path, args: &[&str]) {
    let status = rollcall(db, args).status().unwrap();
    assert!(status.success(), "rollcall {args:?} failed");
}

/// A small xorshift generator so the kill times are reproducible from the seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

/// Marks as (session, student, status, source); they may only ever be added to or changed
/// by a later command, never lost.
fn marks(db: &Path) -> BTreeSet<(i64, i64)> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare("SELECT session_id, student_id FROM marks")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn check_invariants(db: &Path) {
    let store = Store::open(db).expect("the database opens after a crash");
    assert_eq!(store.integrity_check().unwrap(), vec!["ok".to_owned()]);
    let conn = rusqlite::Connection::open(db).unwrap();
    let count = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(
        count(
            "SELECT count(*) FROM (SELECT 1 FROM marks GROUP BY session_id, student_id HAVING count(*) > 1)"
        ),
        0
    );
    assert_eq!(
        count(
            "SELECT count(*) FROM (SELECT 1 FROM sessions WHERE ended_ms IS NULL GROUP BY class_id HAVING count(*) > 1)"
        ),
        0
    );
    // Every enrollment is whole: photo, crop, quality and consent.
    assert_eq!(
        count(
            "SELECT count(*) FROM enrollments WHERE length(photo) = 0 OR face_crop IS NULL OR quality_json IS NULL"
        ),
        0
    );
    assert_eq!(
        count(
            "SELECT count(*) FROM enrollments e WHERE NOT EXISTS (SELECT 1 FROM consents c WHERE c.student_id = e.student_id)"
        ),
        0
    );
    // Every embedding is a whole vector of its encoder's size, of an existing enrollment.
    assert_eq!(
        count(
            "SELECT count(*) FROM embeddings b JOIN encoders e ON e.id = b.model_id WHERE length(b.vector) != 4 * e.dim"
        ),
        0
    );
    assert_eq!(
        count(
            "SELECT count(*) FROM embeddings b WHERE NOT EXISTS (SELECT 1 FROM enrollments e WHERE e.student_id = b.student_id)"
        ),
        0
    );
    // Students added by an import always come with their photo (one transaction each).
    assert_eq!(
        count(
            "SELECT count(*) FROM students s WHERE s.display_name LIKE 'Import %' AND NOT EXISTS (SELECT 1 FROM enrollments e WHERE e.student_id = s.id)"
        ),
        0
    );
    let fk: i64 = conn
        .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(fk, 0);
}

#[test]
#[allow(clippy::too_many_lines)] // one test story: the kill loop and its checks
fn killing_the_app_at_random_never_loses_or_corrupts_anything() {
    let kills_wanted: usize = std::env::var("ROLLCALL_CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12);
    // About half the runs end before their kill time; the cap only stops a broken loop.
    let max_runs = kills_wanted.max(1) * 6;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crash.db");
    let demo = common::repo_file("assets/demo");
    must(&db, &["class", "add", "7B"]);
    // Imports go to another class: copies of the same photos in 7B would be "twins", which
    // are rightly never marked automatically.
    must(&db, &["class", "add", "8C"]);
    for (name, photo) in [("Barack Obama", "obama.jpg"), ("Joe Biden", "biden.jpg")] {
        let p = demo.join(photo);
        must(
            &db,
            &[
                "student",
                "add",
                "--name",
                name,
                "--class",
                "7B",
                "--photo",
                p.to_str().unwrap(),
                "--consent-by",
                "Self",
            ],
        );
    }
    let frames = dir.path().join("frames");
    std::fs::create_dir(&frames).unwrap();
    for (i, photo) in ["obama2.jpg", "biden.jpg", "obama3.jpg"].iter().enumerate() {
        std::fs::copy(demo.join(photo), frames.join(format!("{i}.jpg"))).unwrap();
    }
    let seed = std::env::var("ROLLCALL_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5EED_1234_u64);
    let mut rng = Rng(seed | 1);
    let mut seen = marks(&db);
    let (mut killed, mut finished) = (0usize, 0usize);
    let mut i = 0;
    while killed < kills_wanted && i < max_runs {
        i += 1;
        let workload = rng.below(3);
        let mut cmd = match workload {
            0 => rollcall(
                &db,
                &[
                    "live",
                    "--class",
                    "7B",
                    "--replay",
                    frames.to_str().unwrap(),
                    "--fps",
                    "0",
                    "--loop",
                    "--seconds",
                    "4",
                    "--stop",
                ],
            ),
            1 => {
                let batch: PathBuf = dir.path().join(format!("import{i}"));
                std::fs::create_dir(&batch).unwrap();
                for (j, photo) in ["obama.jpg", "biden.jpg", "obama2.jpg"].iter().enumerate() {
                    std::fs::copy(demo.join(photo), batch.join(format!("Import_{i}_{j}.jpg")))
                        .unwrap();
                }
                rollcall(
                    &db,
                    &[
                        "student",
                        "import",
                        "--class",
                        "8C",
                        "--folder",
                        batch.to_str().unwrap(),
                        "--consent-by",
                        "Forms",
                    ],
                )
            }
            _ => {
                // Make re-embedding necessary: drop some embeddings, then re-embed.
                rusqlite::Connection::open(&db)
                    .unwrap()
                    .execute("DELETE FROM embeddings WHERE student_id IN (SELECT student_id FROM embeddings ORDER BY random() LIMIT 4)", [])
                    .unwrap();
                rollcall(&db, &["encoders", "reembed"])
            }
        };
        let mut child = cmd.spawn().unwrap();
        // Kill somewhere inside the run (live runs for about five seconds, the others for one
        // to three), sometimes after it finished on its own.
        let span = if workload == 0 { 7_000 } else { 3_000 };
        std::thread::sleep(Duration::from_millis(100 + rng.below(span)));
        if child.try_wait().unwrap().is_some() {
            finished += 1;
        } else {
            child.kill().unwrap(); // SIGKILL on Unix.
            killed += 1;
        }
        child.wait().unwrap();
        check_invariants(&db);
        let now = marks(&db);
        assert!(
            now.is_superset(&seen),
            "iteration {i} (workload {workload}): committed marks were lost"
        );
        seen = now;
    }
    eprintln!(
        "crash test: {i} runs, {killed} killed mid-way (SIGKILL), {finished} finished first; every check passed; {} marks kept",
        seen.len()
    );
    assert!(
        killed >= kills_wanted,
        "only {killed} of {i} runs were killed: the kill times are too late"
    );
}
