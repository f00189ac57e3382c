//! `rollcall bench live`: the live engine on a fixed multi-face clip made from the bundled
//! public-domain demo photos (1, 3 and 6 faces a frame, each face drifting a little from frame
//! to frame), once with the fast settings (faces followed between full detections, decided
//! faces not embedded again) and once with the slow reference (full detection and embedding of
//! every face on every frame), per encoder. It prints the cost per frame and whether the fast
//! settings found and decided the same faces as the reference did.

use std::collections::BTreeSet;
use std::time::Instant;

use anyhow::Context as _;
use image::imageops::{self, FilterType};
use image::{Rgb, RgbImage};

use super::{outln, table};
use crate::core::BBox;
use crate::core::rollcall::FaceOutcome;
use crate::store::Store;
use crate::vision::FacePipeline;
use crate::vision::pipeline::{BuiltinEncoder, main_face};
use crate::workflow::live::{LiveEngine, LiveTuning};

/// What `bench live` runs.
#[derive(Clone, Debug)]
pub struct LiveBench {
    /// Frames of each clip.
    pub frames: usize,
    /// Faces a frame, one clip each.
    pub faces: Vec<usize>,
    /// Encoders, each run on every clip.
    pub encoders: Vec<BuiltinEncoder>,
    /// The time between frames of the clip, milliseconds (33: a 30 frames/s webcam).
    pub frame_interval_ms: i64,
}

/// The frame size of the clip (a webcam's 640x480).
const FRAME: (u32, u32) = (640, 480);
/// The background of the clip.
const BACKGROUND: Rgb<u8> = Rgb([40, 40, 44]);
/// How far a face drifts from its place, pixels, and over how many frames it swings once.
const DRIFT_PX: f64 = 14.0;
const DRIFT_PERIOD: f64 = 48.0;

/// One enrolled person of the clip, from the demo photos.
struct Person {
    name: &'static str,
    photo: &'static str,
}

const CLASS: [Person; 2] = [
    Person {
        name: "Barack Obama",
        photo: "obama.jpg",
    },
    Person {
        name: "Joe Biden",
        photo: "biden.jpg",
    },
];

/// The face tiles of a clip with `faces` faces: square crops around the face of each demo
/// photo in turn (mirrored on the second round, so no two tiles are the same picture).
fn tiles(pipeline: &FacePipeline, faces: usize, side: u32) -> anyhow::Result<Vec<RgbImage>> {
    let photos = crate::camera::demo_photos()?;
    let mut crops = Vec::with_capacity(photos.len());
    for (name, photo) in &photos {
        let found = pipeline.detect_photo(photo)?;
        let face = main_face(&found, photo.width(), photo.height())
            .with_context(|| format!("no face found in the demo photo {name}"))?;
        let b = face.bbox;
        let crop_side = (b.width.max(b.height) * 2.2)
            .min(photo.width().min(photo.height()) as f32)
            .max(1.0);
        let cx = b.x + b.width / 2.0;
        let cy = b.y + b.height / 2.0;
        let x = (cx - crop_side / 2.0).clamp(0.0, photo.width() as f32 - crop_side);
        let y = (cy - crop_side / 2.0).clamp(0.0, photo.height() as f32 - crop_side);
        let crop = imageops::crop_imm(
            photo,
            x as u32,
            y as u32,
            crop_side as u32,
            crop_side as u32,
        )
        .to_image();
        crops.push(imageops::resize(&crop, side, side, FilterType::Triangle));
    }
    Ok((0..faces)
        .map(|i| {
            let tile = &crops[i % crops.len()];
            if (i / crops.len()) % 2 == 1 {
                imageops::flip_horizontal(tile)
            } else {
                tile.clone()
            }
        })
        .collect())
}

/// Where each tile sits in the frame (its top-left corner) and the tile side, for `faces`.
fn layout(faces: usize) -> (u32, Vec<(i64, i64)>) {
    let (w, h) = (i64::from(FRAME.0), i64::from(FRAME.1));
    let (cols, rows, side) = match faces {
        0 | 1 => (1, 1, 300),
        2 | 3 => (faces as i64, 1, 190),
        _ => (faces.div_ceil(2) as i64, 2, 180),
    };
    let gap_x = (w - cols * i64::from(side)) / (cols + 1);
    let gap_y = (h - rows * i64::from(side)) / (rows + 1);
    let places = (0..faces as i64)
        .map(|i| {
            let (c, r) = (i % cols, i / cols);
            (
                gap_x + c * (i64::from(side) + gap_x),
                gap_y + r * (i64::from(side) + gap_y),
            )
        })
        .collect();
    (side, places)
}

/// Frame `index` of a clip: each tile at its place, drifting on its own phase.
fn frame(tiles: &[RgbImage], places: &[(i64, i64)], index: usize) -> RgbImage {
    let mut out = RgbImage::from_pixel(FRAME.0, FRAME.1, BACKGROUND);
    for (k, (tile, &(x, y))) in tiles.iter().zip(places).enumerate() {
        let phase = index as f64 / DRIFT_PERIOD * std::f64::consts::TAU + k as f64 * 1.7;
        let dx = (DRIFT_PX * phase.sin()).round() as i64;
        let dy = (DRIFT_PX * 0.5 * (phase * 0.7).cos()).round() as i64;
        imageops::overlay(&mut out, tile, x + dx, y + dy);
    }
    out
}

/// What a face's decision was, for comparing two runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Decision {
    /// Marked now or seen again after its mark.
    Decided(i64),
    /// Votes are being counted for this student.
    Confirming(i64),
    /// In doubt.
    Uncertain,
    /// Nobody enrolled.
    Unknown,
}

impl Decision {
    fn of(outcome: &FaceOutcome) -> Self {
        match *outcome {
            FaceOutcome::Marked { student, .. } | FaceOutcome::Seen { student } => {
                Self::Decided(student.0)
            }
            FaceOutcome::Confirming { student, .. } => Self::Confirming(student.0),
            FaceOutcome::Uncertain { .. } => Self::Uncertain,
            FaceOutcome::Unknown { .. } => Self::Unknown,
        }
    }
}

/// One run of one clip.
#[derive(Default)]
struct Run {
    frame_ms: Vec<f64>,
    full_detections: usize,
    embedded: usize,
    /// Per frame: each face's box and decision.
    faces: Vec<Vec<(BBox, Decision)>>,
    marked: BTreeSet<i64>,
    reviews: usize,
}

impl Run {
    fn found(&self) -> usize {
        self.faces.iter().map(Vec::len).sum()
    }

    fn decided(&self) -> usize {
        self.faces
            .iter()
            .flatten()
            .filter(|(_, d)| matches!(d, Decision::Decided(_)))
            .count()
    }

    /// The `p` quantile of the frame times, leaving out the first `skip` frames.
    fn percentile(&self, p: f64, skip: usize) -> f64 {
        let mut t = self.frame_ms.get(skip..).unwrap_or_default().to_vec();
        t.sort_by(f64::total_cmp);
        if t.is_empty() {
            return f64::NAN;
        }
        let i = ((t.len() - 1) as f64 * p).round() as usize;
        t[i.min(t.len() - 1)]
    }

    fn fps(&self) -> f64 {
        let total: f64 = self.frame_ms.iter().sum();
        self.frame_ms.len() as f64 / (total / 1e3)
    }
}

/// How the fast run compares with the reference, face by face.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Agreement {
    /// Faces of the reference found by the fast run in the same frame (box overlap at least a
    /// half).
    found: usize,
    /// Of those, how many got the same decision.
    same: usize,
    /// Faces of the reference not found whose decision was "nobody enrolled" (a stranger, or
    /// a one-frame false detection).
    missed_unknown: usize,
}

fn agreement(fast: &Run, reference: &Run) -> Agreement {
    let mut a = Agreement::default();
    for (f, r) in fast.faces.iter().zip(&reference.faces) {
        for (rb, rd) in r {
            let best = f
                .iter()
                .map(|(fb, fd)| (fb.iou(rb), fd))
                .max_by(|a, b| a.0.total_cmp(&b.0));
            match best {
                Some((iou, fd)) if iou >= 0.5 => {
                    a.found += 1;
                    a.same += usize::from(fd == rd);
                }
                _ => a.missed_unknown += usize::from(*rd == Decision::Unknown),
            }
        }
    }
    a
}

/// A throwaway database with the class of the clip enrolled by `which`.
fn class_store(
    dir: &std::path::Path,
    which: BuiltinEncoder,
    pipeline: &FacePipeline,
) -> anyhow::Result<(Store, crate::core::ClassId)> {
    let store = Store::open(&dir.join(format!("bench-live-{}.sqlite", which.name())))?;
    crate::workflow::encoders::use_encoder(&store, which.name())?;
    let class = store.add_class("Bench class")?;
    let photos = crate::camera::demo_photos()?;
    for person in &CLASS {
        let student = store.add_student(person.name, None, &[class])?;
        store.give_consent(student, "rollcall bench", None)?;
        let (_, photo) = photos
            .iter()
            .find(|(name, _)| *name == person.photo)
            .with_context(|| format!("the demo photo {} is not bundled", person.photo))?;
        let bytes = crate::vision::image_io::encode_png(photo)?;
        let prepared = crate::workflow::enroll::prepare_photo(pipeline, bytes)?;
        crate::workflow::enroll::store_photo(&store, student, &prepared)?;
    }
    Ok((store, class))
}

/// Runs one clip through a fresh session with `tuning`.
fn run_clip(
    store: &Store,
    class: crate::core::ClassId,
    pipeline: &FacePipeline,
    clip: (&[RgbImage], &[(i64, i64)]),
    b: &LiveBench,
    tuning: LiveTuning,
) -> anyhow::Result<Run> {
    let mut engine = LiveEngine::start(store, pipeline, class, None)?.with_tuning(tuning);
    let session = engine.session().id;
    let start_ms = engine.session().started_ms;
    let mut run = Run::default();
    let mut out = store;
    for i in 0..b.frames {
        let image = frame(clip.0, clip.1, i);
        let at = start_ms + i as i64 * b.frame_interval_ms;
        let t = Instant::now();
        let update = engine.process(&mut out, pipeline, &image, at)?;
        run.frame_ms.push(t.elapsed().as_secs_f64() * 1e3);
        run.full_detections += usize::from(update.full_detection);
        run.embedded += update.embedded;
        run.reviews += update.reviews;
        run.marked.extend(update.marked.iter().map(|m| m.student.0));
        run.faces.push(
            update
                .faces
                .iter()
                .map(|f| (f.bbox, Decision::of(&f.outcome)))
                .collect(),
        );
    }
    store.stop_session(session)?;
    Ok(run)
}

/// The first frame of the steady state: one second into the clip.
fn steady_from(b: &LiveBench) -> usize {
    usize::try_from(1_000 / b.frame_interval_ms.max(1)).unwrap_or(0)
}

/// Runs the benchmark and prints its table.
#[allow(clippy::too_many_lines)] // the table built clip by clip, in the order it prints
pub fn run(b: &LiveBench) -> anyhow::Result<()> {
    anyhow::ensure!(b.frames > 0, "--frames must be at least 1");
    anyhow::ensure!(
        b.faces.iter().all(|&n| (1..=6).contains(&n)),
        "--faces takes 1 to 6 faces a frame"
    );
    anyhow::ensure!(b.frame_interval_ms > 0, "--interval-ms must be positive");
    let dir = tempfile::tempdir().context("making a folder for the benchmark's database")?;
    let fast = LiveTuning::default();
    outln!(
        "Live engine on {}x{} clips of {} frames, {} ms apart, made from the bundled demo photos \
         (class: {}; {} hardware threads)",
        FRAME.0,
        FRAME.1,
        b.frames,
        b.frame_interval_ms,
        CLASS.map(|p| p.name).join(", "),
        std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
    );
    outln!(
        "fast: full detection every {} ms, a decided face embedded again every {} ms; \
         reference: full detection and embedding of every face on every frame",
        fast.stream.full_every_ms,
        fast.settled_refresh_ms
    );
    let mut rows = Vec::new();
    for &which in &b.encoders {
        let pipeline = FacePipeline::builtin(which)?;
        let (store, class) = class_store(dir.path(), which, &pipeline)?;
        for &faces in &b.faces {
            let (side, places) = layout(faces);
            let tiles = tiles(&pipeline, faces, side)?;
            let clip = (tiles.as_slice(), places.as_slice());
            let reference = run_clip(&store, class, &pipeline, clip, b, LiveTuning::REFERENCE)?;
            let quick = run_clip(&store, class, &pipeline, clip, b, fast)?;
            let a = agreement(&quick, &reference);
            let steady = steady_from(b);
            for (label, r) in [("reference", &reference), ("fast", &quick)] {
                let is_fast = label == "fast";
                rows.push(vec![
                    which.name().to_owned(),
                    faces.to_string(),
                    label.to_owned(),
                    format!("{:.1}", r.fps()),
                    format!("{:.1}", r.percentile(0.5, 0)),
                    format!("{:.1}", r.percentile(0.95, 0)),
                    format!("{:.1}", r.percentile(0.5, steady)),
                    format!("{:.1}", r.percentile(0.95, steady)),
                    format!("{}", r.full_detections),
                    format!("{}", r.embedded),
                    format!("{}", r.found()),
                    format!("{}", r.decided()),
                    if is_fast {
                        let missed = reference.found() - a.found;
                        let unknown = if missed > 0 {
                            format!(
                                " ({} of the {missed} missed: nobody enrolled)",
                                a.missed_unknown
                            )
                        } else {
                            String::new()
                        };
                        format!(
                            "{}/{} found{unknown}, {} same",
                            a.found,
                            reference.found(),
                            a.same
                        )
                    } else {
                        String::new()
                    },
                    format!(
                        "{}{}",
                        r.marked.len(),
                        if is_fast && r.marked != reference.marked {
                            " (differs)"
                        } else {
                            ""
                        }
                    ),
                    r.reviews.to_string(),
                ]);
            }
        }
    }
    table::print(
        &[
            "encoder",
            "faces",
            "settings",
            "frames/s",
            "p50 ms",
            "p95 ms",
            "steady p50",
            "steady p95",
            "full det.",
            "embedded",
            "faces found",
            "decided",
            "vs reference",
            "marked",
            "reviews",
        ],
        &rows,
    );
    outln!(
        "steady: every frame but those of the first second ({} frames), by when every face of the clip \
         is found and decided",
        steady_from(b).min(b.frames)
    );
    outln!(
        "targets (issue 17): 3 faces, fast, steady: p50 <= 20 ms, p95 <= 35 ms, every reference \
         face found with the same decision"
    );
    if cfg!(debug_assertions) {
        outln!("note: this is a debug build; the dev profile is optimised, so figures are real");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_layout_keeps_every_drifting_tile_inside_the_frame() {
        for faces in 1..=6 {
            let (side, places) = layout(faces);
            assert_eq!(places.len(), faces);
            for &(x, y) in &places {
                let margin = DRIFT_PX as i64 + 1;
                assert!(x >= margin && y >= margin / 2, "{faces}: {x},{y}");
                assert!(
                    x + i64::from(side) + margin <= i64::from(FRAME.0),
                    "{faces}: {x}"
                );
                assert!(
                    y + i64::from(side) + margin / 2 <= i64::from(FRAME.1),
                    "{faces}: {y}"
                );
            }
        }
    }

    #[test]
    fn a_fast_run_that_misses_a_face_or_decides_otherwise_shows_it() {
        let b = BBox::new(10.0, 10.0, 100.0, 100.0);
        let far = BBox::new(300.0, 10.0, 100.0, 100.0);
        let reference = Run {
            faces: vec![
                vec![(b, Decision::Confirming(1)), (far, Decision::Unknown)],
                vec![(b, Decision::Decided(1))],
            ],
            ..Run::default()
        };
        let fast = Run {
            faces: vec![
                vec![(b, Decision::Confirming(1))],
                vec![(b, Decision::Confirming(1))],
            ],
            ..Run::default()
        };
        let a = agreement(&fast, &reference);
        assert_eq!((a.found, a.same, a.missed_unknown), (2, 1, 1));
        let a = agreement(&reference, &reference);
        assert_eq!((a.found, a.same, a.missed_unknown), (3, 3, 0));
    }
}
