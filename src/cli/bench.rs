//! `rollcall bench ...`: performance figures printed as tables (run them with `--release`).

use std::time::Instant;

use clap::Subcommand;

use super::{outln, table};
use crate::core::{Embedding, Gallery, Metric, ModelId, StudentId};

/// Benchmarks.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Matching one face against N enrolled embeddings (1:N search), per metric.
    Match {
        /// Enrolled embeddings.
        #[arg(long, default_value_t = 10_000)]
        enrolled: usize,
        /// Embedding size.
        #[arg(long, default_value_t = 128)]
        dim: usize,
        /// Probes to time.
        #[arg(long, default_value_t = 200)]
        probes: usize,
    },
    /// Face detection of a 640x480 frame and embedding of one face, with FLOP counts.
    Faces {
        /// The photo the frame is made from.
        #[arg(long, default_value = "assets/demo/obama.jpg")]
        photo: std::path::PathBuf,
        /// Timed runs.
        #[arg(long, default_value_t = 20)]
        runs: usize,
        /// The anchor's results.json, printed beside ours (stored figures, not measured now).
        #[arg(long)]
        anchor: Option<std::path::PathBuf>,
        /// A Python with dlib-bin and face-recognition-models (the anchor's venv): times dlib
        /// on the same frame in this run (`tools/bench_dlib_faces.py`) and prints the ratios.
        #[arg(long)]
        anchor_python: Option<std::path::PathBuf>,
        /// The built-in encoders to time side by side.
        #[arg(long, value_delimiter = ',', default_values_t = ["mobilefacenet".to_owned(), "dlib".to_owned()])]
        encoder: Vec<String>,
    },
    /// The live engine on a multi-face clip made from the demo photos (1, 3 and 6 faces a
    /// frame): frames/s and per-frame p50/p95 with faces followed between full detections,
    /// against full detection and embedding of every face on every frame, and whether both
    /// found and decided the same faces.
    Live {
        /// Frames of each clip.
        #[arg(long, default_value_t = 150)]
        frames: usize,
        /// Faces a frame, one clip each (1 to 6).
        #[arg(long, value_delimiter = ',', default_values_t = [1, 3, 6])]
        faces: Vec<usize>,
        /// Time between frames, milliseconds (33: a 30 frames/s webcam).
        #[arg(long, default_value_t = 33)]
        interval_ms: i64,
        /// The built-in encoders, each on every clip.
        #[arg(long, value_delimiter = ',', default_values_t = ["mobilefacenet".to_owned(), "dlib".to_owned()])]
        encoder: Vec<String>,
    },
    /// The database engines side by side: marks per second with 1 and 8 classrooms writing at
    /// once, and the time to load a class gallery (SQLite file and a throwaway PostgreSQL server).
    Store {
        /// Students per class.
        #[arg(long, default_value_t = 40)]
        students: usize,
        /// Sessions each classroom runs.
        #[arg(long, default_value_t = 5)]
        rounds: usize,
        /// Gallery loads timed.
        #[arg(long, default_value_t = 50)]
        loads: usize,
    },
}

/// Runs a benchmark.
pub fn run(command: &BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Match {
            enrolled,
            dim,
            probes,
        } => bench_match(*enrolled, *dim, *probes),
        BenchCommand::Faces {
            photo,
            runs,
            anchor,
            anchor_python,
            encoder,
        } => {
            let encoders = super::eval::parse_encoders(encoder)?;
            bench_faces(
                photo,
                *runs,
                &encoders,
                anchor.as_deref(),
                anchor_python.as_deref(),
            )
        }
        BenchCommand::Live {
            frames,
            faces,
            interval_ms,
            encoder,
        } => super::bench_live::run(&super::bench_live::LiveBench {
            frames: *frames,
            faces: faces.clone(),
            encoders: super::eval::parse_encoders(encoder)?,
            frame_interval_ms: *interval_ms,
        }),
        BenchCommand::Store {
            students,
            rounds,
            loads,
        } => super::bench_store::run(super::bench_store::StoreBench {
            students: *students,
            rounds: *rounds,
            loads: *loads,
        }),
    }
}

/// A deterministic pseudo-random vector (xorshift), so runs are comparable.
fn vector(seed: u64, dim: usize) -> Vec<f32> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..dim)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        })
        .collect()
}

fn bench_match(enrolled: usize, dim: usize, probes: usize) -> anyhow::Result<()> {
    anyhow::ensure!(
        enrolled > 0 && dim > 0 && probes > 0,
        "sizes must be positive"
    );
    let model = ModelId::new("bench");
    let mut rows = Vec::new();
    for metric in [Metric::Euclidean, Metric::Cosine] {
        let mut gallery = Gallery::new(model.clone(), metric, dim);
        for i in 0..enrolled {
            gallery.insert(
                StudentId(i as i64),
                &Embedding::new(model.clone(), vector(i as u64, dim))?,
            )?;
        }
        let queries: Vec<Embedding> = (0..probes)
            .map(|i| Embedding::new(model.clone(), vector(1_000_000 + i as u64, dim)))
            .collect::<Result<_, _>>()?;
        // Warm up, then time each probe.
        gallery.rank(&queries[0])?;
        let mut times: Vec<f64> = Vec::with_capacity(probes);
        let mut checksum = 0.0f32;
        for q in &queries {
            let t = Instant::now();
            let r = gallery.rank(q)?;
            times.push(t.elapsed().as_secs_f64() * 1e3);
            checksum += r.and_then(|r| r.best()).map_or(0.0, |b| b.distance);
        }
        times.sort_by(f64::total_cmp);
        let median = times[times.len() / 2];
        let p95 = times[(times.len() * 95 / 100).min(times.len() - 1)];
        let flops = 3.0 * (enrolled * dim) as f64;
        rows.push(vec![
            metric.to_string(),
            enrolled.to_string(),
            dim.to_string(),
            format!("{median:.3}"),
            format!("{p95:.3}"),
            format!("{:.1}", flops / (median * 1e-3) / 1e9),
            format!("{checksum:.1}"),
        ]);
    }
    outln!("1:N matching, one probe against the gallery (target: <= 1 ms for 10,000 x 128)");
    table::print(
        &[
            "metric",
            "enrolled",
            "dim",
            "median ms",
            "p95 ms",
            "GFLOP/s",
            "checksum",
        ],
        &rows,
    );
    if cfg!(debug_assertions) {
        outln!(
            "note: this is a debug build; run `cargo run --release -- bench match` for real figures"
        );
    }
    Ok(())
}

fn median_ms(times: &mut [f64]) -> f64 {
    times.sort_by(f64::total_cmp);
    times.get(times.len() / 2).copied().unwrap_or(0.0)
}

/// Runs `tools/bench_dlib_faces.py` with `python` on the same photo: dlib's median times in
/// milliseconds, by name.
fn measure_dlib(
    python: &std::path::Path,
    photo: &std::path::Path,
    runs: usize,
) -> anyhow::Result<std::collections::BTreeMap<String, f64>> {
    use anyhow::Context as _;
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/bench_dlib_faces.py");
    let out = std::process::Command::new(python)
        .arg(&script)
        .arg(photo)
        .arg(runs.to_string())
        .env("OMP_NUM_THREADS", "1")
        .output()
        .with_context(|| format!("running {}", python.display()))?;
    if !out.status.success() {
        // A Python traceback ends with the line that says what went wrong.
        let stderr = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = stderr.trim().lines().collect();
        anyhow::bail!(
            "{} {} failed: {}",
            python.display(),
            script.display(),
            lines[lines.len().saturating_sub(3)..].join("\n")
        );
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .context("reading the dlib timings (one JSON object expected)")?;
    Ok(v.as_object()
        .map(|o| {
            o.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_f64()?)))
                .collect()
        })
        .unwrap_or_default())
}

/// What one encoder measured in `bench faces`.
struct EncoderTimes {
    align_ms: f64,
    embed_ms: f64,
}

/// Times one encoder on the benchmark frame's main face: alignment, one embedding, a batch of 4
/// (per face), and the whole frame. Returns its rows and figures.
fn bench_encoder(
    which: crate::vision::pipeline::BuiltinEncoder,
    frame: &image::RgbImage,
    main: &crate::vision::mtcnn::FaceDetection,
    runs: usize,
) -> anyhow::Result<(Vec<Vec<String>>, EncoderTimes)> {
    use crate::vision::pipeline::BuiltinEncoder;
    let pipeline = crate::vision::FacePipeline::builtin(which)?;
    let chip = pipeline.chip(frame, main);
    let batch = vec![chip.clone(); 4];
    pipeline.encoder().embed(&batch)?;
    let (mut embed, mut batched, mut align, mut whole) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        let t = Instant::now();
        let c = pipeline.chip(frame, main);
        align.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        pipeline.encoder().embed(std::slice::from_ref(&c))?;
        embed.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        pipeline.encoder().embed(&batch)?;
        batched.push(t.elapsed().as_secs_f64() * 1e3 / 4.0);
        let t = Instant::now();
        pipeline.analyze(frame)?;
        whole.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let (gflop, target, target_batch, name, chip_name) = match which {
        BuiltinEncoder::Dlib => (
            crate::vision::dlib::resnet_flops() as f64 / 1e9,
            "<= 30",
            "",
            "dlib ResNet",
            "shape predictor + dlib chip",
        ),
        BuiltinEncoder::MobileFaceNet => (
            2.0 * crate::vision::mobilefacenet::macs() as f64 / 1e9,
            "<= 5",
            "<= 3",
            "MobileFaceNet",
            "shape predictor + ArcFace chip",
        ),
    };
    let times = EncoderTimes {
        align_ms: median_ms(&mut align),
        embed_ms: median_ms(&mut embed),
    };
    let batched_ms = median_ms(&mut batched);
    let whole_ms = median_ms(&mut whole);
    let gflops = |ms: f64| format!("{:.1}", gflop / (ms / 1e3));
    let rows = vec![
        vec![
            format!("rollcall alignment ({chip_name})"),
            format!("{:.1}", times.align_ms),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
        ],
        vec![
            format!("rollcall {name} embedding, one face"),
            format!("{:.1}", times.embed_ms),
            target.to_owned(),
            format!("{gflop:.2}"),
            gflops(times.embed_ms),
            String::new(),
        ],
        vec![
            format!("rollcall {name} embedding, batch of 4 (per face)"),
            format!("{batched_ms:.1}"),
            target_batch.to_owned(),
            format!("{gflop:.2}"),
            gflops(batched_ms),
            String::new(),
        ],
        vec![
            format!("rollcall whole frame with {name} (detect + align + embed)"),
            format!("{whole_ms:.1}"),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
        ],
    ];
    Ok((rows, times))
}

/// Detection of a 640x480 frame and embedding of one face by each encoder, with FLOP counts,
/// beside the `dlib`/`face_recognition` anchor's figures.
#[allow(clippy::too_many_lines)] // one table, measured row by row in the order it prints
fn bench_faces(
    photo: &std::path::Path,
    runs: usize,
    encoders: &[crate::vision::pipeline::BuiltinEncoder],
    anchor: Option<&std::path::Path>,
    anchor_python: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    use crate::vision::pipeline::BuiltinEncoder;
    use crate::vision::{FacePipeline, image_io, mtcnn};
    let runs = runs.max(1);
    let pipeline = FacePipeline::builtin(BuiltinEncoder::MobileFaceNet)?;
    let frame = mtcnn::webcam_frame(&image_io::load_rgb(photo)?);
    let det = mtcnn::bench_detect(pipeline.detector(), &frame, runs)?;
    let s = &det.mean;
    let det_gflop = 2.0 * (s.pnet_macs + s.rnet_macs() + s.onet_macs()) as f64 / 1e9;
    let det_ms = s.total_time.as_secs_f64() * 1e3;
    let detections = pipeline.detect(&frame)?;
    let main = crate::vision::pipeline::main_face(&detections, frame.width(), frame.height())
        .ok_or_else(|| anyhow::anyhow!("no face in the benchmark frame"))?;
    outln!(
        "Face pipeline on a {}x{} frame made from {} ({runs} runs, {} face(s) found; {} hardware threads)",
        frame.width(),
        frame.height(),
        photo.display(),
        detections.len(),
        std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
    );
    let row = |cells: [String; 6]| cells.to_vec();
    let stage = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    let mut rows = vec![row([
        "rollcall MTCNN detection".to_owned(),
        format!("{det_ms:.1}"),
        "<= 40".to_owned(),
        format!("{det_gflop:.2}"),
        format!("{:.1}", det_gflop / (det_ms / 1e3)),
        format!(
            "P {:.1} / R {:.1} / O {:.1} ms",
            stage(s.pnet_time),
            stage(s.rnet_time),
            stage(s.onet_time)
        ),
    ])];
    // dlib's own figures are set beside rollcall's dlib port when it was timed, else beside
    // the first encoder.
    let mut compared: Option<EncoderTimes> = None;
    for &which in encoders {
        let (encoder_rows, times) = bench_encoder(which, &frame, main, runs)?;
        rows.extend(encoder_rows);
        if compared.is_none() || which == BuiltinEncoder::Dlib {
            compared = Some(times);
        }
    }
    let (align_ms, embed_ms) = compared.map_or((f64::NAN, f64::NAN), |t| (t.align_ms, t.embed_ms));
    // A row of the reference system's figures: its time and where it comes from.
    let reference = |label: &str, ms: f64, note: String| {
        row([
            label.to_owned(),
            format!("{ms:.1}"),
            String::new(),
            String::new(),
            String::new(),
            note,
        ])
    };
    if let Some(path) = anchor {
        match std::fs::read_to_string(path)
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        {
            Some(v) => {
                let get = |keys: &[&str]| {
                    keys.iter()
                        .try_fold(&v, |v, k| v.get(*k))
                        .and_then(serde_json::Value::as_f64)
                };
                let stored =
                    |label: &str, ms: f64| reference(label, ms, "anchor's stored figure".into());
                if let Some(ms) = get(&[
                    "detectors",
                    "scenes_640w",
                    "detectors",
                    "hog_up0",
                    "median_wall_ms",
                ]) {
                    rows.push(stored("dlib HOG detection, upsample 0 (640 wide)", ms));
                }
                if let Some(ms) = get(&[
                    "detectors",
                    "scenes_640w",
                    "detectors",
                    "hog_up1",
                    "median_wall_ms",
                ]) {
                    rows.push(stored("dlib HOG detection, upsample 1 (640 wide)", ms));
                }
                if let Some(ms) = get(&["datasets", "lfw", "speed", "encode_wall_ms"]) {
                    rows.push(stored("face_recognition encoding, one face", ms));
                }
            }
            None => outln!("(could not read the anchor figures at {})", path.display()),
        }
    }
    // When the anchor cannot be run, rollcall's own figures still print, and the command then
    // fails with the anchor's reason.
    let mut anchor_failed = None;
    if let Some(python) = anchor_python {
        let dlib = measure_dlib(python, photo, runs).unwrap_or_else(|err| {
            anchor_failed = Some(err);
            std::collections::BTreeMap::new()
        });
        let now = |label: &str, ms: Option<f64>, ours: f64| {
            ms.map(|ms| {
                let ratio = ms / ours;
                reference(
                    label,
                    ms,
                    format!("measured now; dlib / rollcall = {ratio:.2}"),
                )
            })
        };
        rows.extend(
            [
                ("dlib HOG detection, upsample 0", "hog_upsample0_ms", det_ms),
                (
                    "dlib HOG detection, upsample 1 (face_recognition's default)",
                    "hog_upsample1_ms",
                    det_ms,
                ),
                (
                    "dlib alignment (shape predictor + chip)",
                    "align_ms",
                    align_ms,
                ),
                ("dlib ResNet encoding, one face", "encode_ms", embed_ms),
            ]
            .into_iter()
            .filter_map(|(label, key, ours)| now(label, dlib.get(key).copied(), ours)),
        );
    }
    table::print(
        &[
            "step",
            "median ms",
            "target ms",
            "GFLOP",
            "GFLOP/s",
            "notes",
        ],
        &rows,
    );
    if cfg!(debug_assertions) {
        outln!(
            "note: this is a debug build; run `cargo run --release -- bench faces` for real figures"
        );
    }
    match anchor_failed {
        Some(err) => Err(err.context(
            "the dlib anchor could not be measured beside rollcall (rollcall's own figures are above)",
        )),
        None => Ok(()),
    }
}
