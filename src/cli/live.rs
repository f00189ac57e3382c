//! `rollcall live`: the live engine (`workflow::live`) headless, printing each decision.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Args;

use super::cameras::SourceArgs;
use super::outln;
use crate::camera::{CameraThread, NextFrame};
use crate::core::SessionId;
use crate::core::rollcall::FaceOutcome;
use crate::store::Store;

use crate::workflow::live::LiveEngine;

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
}

/// Runs `rollcall live`: the engine headless, printing each decision.
pub fn run(store: &Store, args: &LiveArgs) -> anyhow::Result<()> {
    let class = store.find_class(&args.class)?;
    let pipeline = crate::workflow::enroll::pipeline_for(store)?;
    let mut engine = LiveEngine::start(store, &pipeline, class.id, args.session.map(SessionId))?;
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
        let update = engine.process(store, &pipeline, &frame.image, frame.captured_ms)?;
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
    outln!(
        "{frames} frames, {marked} marked, {reviews} sent to review ({})",
        stats.summary()
    );
    if args.stop {
        let s = store.stop_session(engine.session().id)?;
        outln!("Stopped session #{} ({} marked)", s.id, s.mark_count);
    }
    Ok(())
}
