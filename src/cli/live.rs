//! `rollcall live`: the live engine (`workflow::live`) headless, printing each decision.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Args;

use super::cameras::SourceArgs;
use super::outln;
use crate::camera::{CameraThread, NextFrame};
use crate::core::SessionId;
use crate::core::rollcall::FaceOutcome;

use crate::workflow::live::{LiveEngine, LiveTuning};
use crate::workflow::offline::{Lesson, LessonStore, open_for_lesson};

/// Arguments of `rollcall live`.
#[derive(Debug, Args)]
pub struct LiveArgs {
    /// The class (name or id).
    #[arg(long)]
    pub class: String,
    /// The session id (default: the class's open session, or a new one).
    #[arg(long)]
    pub session: Option<i64>,
    /// Where frames come from.
    #[command(flatten)]
    pub source: SourceArgs,
    /// Stop after this many seconds (default: when the source ends; a camera runs until Ctrl-C).
    #[arg(long)]
    pub seconds: Option<f64>,
    /// Stop the session when done.
    #[arg(long)]
    pub stop: bool,
    /// Search every frame in full and embed every face of every frame (slower; by default
    /// faces are followed between full detections once a second, and a decided face is
    /// embedded again every half second).
    #[arg(long)]
    pub every_frame: bool,
}

/// Runs `rollcall live` on `db`. On a school server that cannot be reached, the lesson runs
/// on this machine's offline copy of the class and waits there for the server.
pub fn run_lesson(db: &crate::store::Location, args: &LiveArgs) -> anyhow::Result<()> {
    let opened = open_for_lesson(db, &args.class, super::open)?;
    match &opened {
        LessonStore::Online { sent, .. } if sent.total() > 0 => outln!(
            "Sent what this machine took offline: {} session(s), {} mark(s), {} face(s) to review",
            sent.sessions,
            sent.marks,
            sent.reviews
        ),
        LessonStore::Offline { reason, .. } => outln!(
            "Offline: {reason}. Taking attendance from the copy of the roster kept on this machine; the marks wait here and are sent when the server is back (`rollcall sync`, or the next lesson)."
        ),
        LessonStore::Online { .. } => {}
    }
    let mut lesson = Lesson::new(opened, db, super::open)?;
    run(&mut lesson, args)
}

/// Runs `rollcall sync`: sends what was taken offline to the school server.
pub fn run_sync(db: &crate::store::Location) -> anyhow::Result<()> {
    let crate::store::Location::Server(url) = db else {
        anyhow::bail!(
            "`rollcall sync` is for a school server (--db postgresql://…); {db} is a file"
        );
    };
    match super::open(db) {
        Ok(server) => {
            let sent = crate::workflow::offline::send_waiting(url, &server)?;
            outln!(
                "Sent {} session(s), {} mark(s) and {} face(s) to review to {}",
                sent.sessions,
                sent.marks,
                sent.reviews,
                url.redacted()
            );
            Ok(())
        }
        Err(err) => {
            let waiting = crate::workflow::offline::waiting(url)?;
            Err(err.context(format!(
                "{} change(s) are waiting on this machine and stay there",
                waiting.total()
            )))
        }
    }
}

/// Runs the engine headless on the lesson's store, printing each decision.
#[allow(clippy::too_many_lines)] // the headless lesson loop: frame, decide, print, reconnect, in order
fn run(lesson: &mut Lesson, args: &LiveArgs) -> anyhow::Result<()> {
    let (class, pipeline, mut engine) = {
        let store = lesson.store()?;
        let class = store.find_class(&args.class)?;
        let pipeline = crate::workflow::enroll::pipeline_for(store)?;
        let mut engine =
            LiveEngine::start(store, &pipeline, class.id, args.session.map(SessionId))?;
        if args.every_frame {
            engine = engine.with_tuning(LiveTuning::REFERENCE);
        }
        (class, pipeline, engine)
    };
    let (gallery, missing) = engine.gallery_size();
    let rule = engine.rule();
    outln!(
        "Session #{} of class {}: {gallery} students with a face, {missing} without; threshold {:.3}, margin {:.3}, {} of {} frames",
        engine.session().id,
        class.name,
        rule.max_distance,
        rule.min_margin,
        rule.frames_to_confirm,
        rule.window_frames
    );
    let (spec, note) = args.source.spec()?;
    if let Some(note) = note {
        outln!("{note}");
    }
    let mut camera =
        CameraThread::spawn(spec.open()?, Box::new(|| {})).context("starting the camera")?;
    let deadline = args
        .seconds
        .map(|s| Instant::now() + Duration::from_secs_f64(s.max(0.0)));
    let (mut frames, mut marked, mut reviews) = (0usize, 0usize, 0usize);
    let mut frame_ms = Vec::new();
    loop {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        let frame = match camera.next(Duration::from_millis(500)) {
            NextFrame::Frame(f) => f,
            NextFrame::TimedOut => continue,
            NextFrame::Ended => break,
        };
        frames += 1;
        let update = engine.process(lesson, &pipeline, &frame.image, frame.captured_ms)?;
        frame_ms.push(update.analyze_ms);
        lesson.try_server(engine.session());
        for event in lesson.take_events() {
            outln!(
                "{}  {event}",
                crate::workflow::local_time_s(update.frame_ms)
            );
        }
        for m in &update.marked {
            marked += 1;
            outln!(
                "{}  mark    {} ({}): distance {:.3}, margin {:.3}",
                crate::workflow::local_time_s(update.frame_ms),
                m.name,
                m.status,
                m.distance,
                m.margin
            );
        }
        if update.reviews > 0 {
            reviews += update.reviews;
            for f in update
                .faces
                .iter()
                .filter(|f| matches!(f.outcome, FaceOutcome::Uncertain { .. }))
            {
                outln!(
                    "{}  review  {}",
                    crate::workflow::local_time_s(update.frame_ms),
                    f.label
                );
            }
        }
    }
    let stats = camera.stats();
    camera.stop();
    if let Some(err) = &stats.last_error {
        outln!("camera: {err}");
    }
    frame_ms.sort_by(f64::total_cmp);
    let at = |p: f64| {
        frame_ms
            .get(((frame_ms.len().saturating_sub(1)) as f64 * p).round() as usize)
            .copied()
            .unwrap_or(0.0)
    };
    outln!(
        "{frames} frames, {marked} marked, {reviews} sent to review ({}); analysis {:.1} ms a frame (p50), {:.1} ms (p95)",
        stats.summary(),
        at(0.5),
        at(0.95)
    );
    let (stopped, waiting) = lesson.finish(engine.session(), args.stop)?;
    if let Some(s) = stopped {
        outln!("Stopped session #{} ({} marked)", s.id, s.mark_count);
    }
    for event in lesson.take_events() {
        outln!("{event}");
    }
    if waiting.total() > 0 {
        outln!("{} change(s) waiting for the server", waiting.total());
    }
    Ok(())
}
