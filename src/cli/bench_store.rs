//! `rollcall bench store`: the two database engines side by side in one run — marks written
//! per second by 1 and by 8 classrooms at once, and the time to load a class's gallery.
//! SQLite runs on a temporary file (WAL, full sync, as a teacher's file does); PostgreSQL on a
//! throwaway server started for the run ([`TempCluster`], as in the tests).

use std::time::Instant;

use super::{outln, table};
use crate::core::{ClassId, MarkSource, Metric, ModelId, SessionId, Status, StudentId};
use crate::store::cluster::{self, TempCluster};
use crate::store::sample::SampleSpec;
use crate::store::{AutoMark, EncoderRow, Location, Store};

/// What to measure.
#[derive(Clone, Copy, Debug)]
pub struct StoreBench {
    /// Students per class.
    pub students: usize,
    /// Sessions each classroom runs (every student marked once in each).
    pub rounds: usize,
    /// Gallery loads timed.
    pub loads: usize,
}

struct Figures {
    marks_per_s: Vec<(usize, f64)>,
    gallery_ms: f64,
}

const WRITERS: [usize; 2] = [1, 8];

/// Runs the benchmark on both engines and prints one table.
pub fn run(b: StoreBench) -> anyhow::Result<()> {
    anyhow::ensure!(
        (2..=500).contains(&b.students) && b.rounds > 0 && b.loads > 0,
        "students must be 2 to 500, rounds and loads positive"
    );
    let dir = tempfile::tempdir()?;
    let mut rows = Vec::new();
    let file = Location::File(dir.path().join("bench.db"));
    let sqlite = measure(&file, b)?;
    rows.push(row("SQLite (file)", &sqlite));
    let server = TempCluster::start();
    let postgres = match &server {
        Ok(server) => {
            server
                .create_database("bench")
                .map_err(anyhow::Error::msg)?;
            let location = Location::Server(server.url(cluster::ADMIN, "bench"));
            let f = measure(&location, b)?;
            rows.push(row("PostgreSQL (local server)", &f));
            Some(f)
        }
        Err(err) => {
            rows.push(vec![
                "PostgreSQL".to_owned(),
                format!("not measured: {err}"),
                String::new(),
                String::new(),
            ]);
            None
        }
    };
    outln!(
        "Store: {} students a class, {} sessions per classroom (each student marked once a session, one transaction a mark)",
        b.students,
        b.rounds
    );
    table::print(
        &[
            "engine",
            "marks/s, 1 writer",
            "marks/s, 8 writers",
            "gallery load ms",
        ],
        &rows,
    );
    if let Some(pg) = postgres {
        outln!(
            "PostgreSQL / SQLite: {:.2}× with 1 writer, {:.2}× with 8; gallery load {:.2}×",
            pg.marks_per_s[0].1 / sqlite.marks_per_s[0].1,
            pg.marks_per_s[1].1 / sqlite.marks_per_s[1].1,
            pg.gallery_ms / sqlite.gallery_ms
        );
    }
    outln!(
        "SQLite has one writer at a time (the others wait for it); PostgreSQL writes classrooms side by side. The server here is on this machine, with fsync off (a school's server has a network and real disk flushes in between)."
    );
    if cfg!(debug_assertions) {
        outln!(
            "note: this is a debug build; run `cargo run --release -- bench store` for real figures"
        );
    }
    Ok(())
}

fn row(engine: &str, f: &Figures) -> Vec<String> {
    vec![
        engine.to_owned(),
        format!("{:.0}", f.marks_per_s[0].1),
        format!("{:.0}", f.marks_per_s[1].1),
        format!("{:.2}", f.gallery_ms),
    ]
}

fn bench_encoder() -> EncoderRow {
    EncoderRow {
        id: ModelId::new("bench-128"),
        name: "bench (random embeddings)".to_owned(),
        path: "bench".to_owned(),
        metric: Metric::Euclidean,
        dim: 128,
        default_threshold: 0.6,
        default_margin: 0.05,
        is_active: false,
    }
}

fn measure(location: &Location, b: StoreBench) -> anyhow::Result<Figures> {
    let store = Store::open_location(location)?;
    let encoder = bench_encoder();
    store.register_encoder(&encoder)?;
    let max_writers = WRITERS.iter().copied().max().unwrap_or(1);
    let mut classes: Vec<(ClassId, Vec<StudentId>)> = Vec::new();
    for i in 0..max_writers {
        let built = store.add_sample_class(
            &SampleSpec {
                class_name: format!("Bench {i}"),
                students: b.students,
                sessions: 0,
                reviews: 0,
                seed: i as u64,
            },
            &encoder,
        )?;
        store.stop_session(built.open_session)?;
        classes.push((built.class, built.students));
    }
    let mut marks_per_s = Vec::new();
    for writers in WRITERS {
        let started = Instant::now();
        let total = std::thread::scope(|s| -> anyhow::Result<usize> {
            let handles: Vec<_> = classes
                .iter()
                .take(writers)
                .map(|(class, students)| {
                    std::thread::Builder::new()
                        .name("bench-writer".into())
                        .spawn_scoped(s, move || write_marks(location, *class, students, b.rounds))
                })
                .collect::<Result<_, _>>()?;
            let mut total = 0;
            for h in handles {
                total += h
                    .join()
                    .map_err(|_| anyhow::anyhow!("a writer thread panicked"))??;
            }
            Ok(total)
        })?;
        marks_per_s.push((writers, total as f64 / started.elapsed().as_secs_f64()));
    }
    let (class, _) = classes[0];
    let mut times = Vec::with_capacity(b.loads);
    for _ in 0..b.loads {
        let t = Instant::now();
        let (gallery, missing) =
            store.class_gallery(class, &encoder.id, encoder.metric, encoder.dim)?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
        // The sample class leaves a few students without consent; they are never in a gallery.
        anyhow::ensure!(
            !gallery.is_empty() && gallery.len() + missing <= b.students,
            "the gallery has {} of {} students",
            gallery.len(),
            b.students
        );
    }
    times.sort_by(f64::total_cmp);
    Ok(Figures {
        marks_per_s,
        gallery_ms: times[times.len() / 2],
    })
}

/// One classroom: its own connection, `rounds` sessions, every student marked once in each.
fn write_marks(
    location: &Location,
    class: ClassId,
    students: &[StudentId],
    rounds: usize,
) -> anyhow::Result<usize> {
    let store = Store::open_location(location)?;
    let mut written = 0;
    for _ in 0..rounds {
        let session: SessionId = store.start_session(class, None)?;
        for (i, &student) in students.iter().enumerate() {
            store.record_auto_mark(&AutoMark {
                session,
                student,
                status: Status::Present,
                source: MarkSource::Auto,
                frame_ms: store.now_ms() + i as i64,
                evidence: None,
                model_id: None,
                evidence_crop: None,
            })?;
            written += 1;
        }
        store.stop_session(session)?;
    }
    Ok(written)
}
