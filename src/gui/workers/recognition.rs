//! The recognition thread of the Attendance screen: it takes the newest camera frame (older
//! ones are dropped, never queued), runs the live engine on it with its own database
//! connection, and sends back what it decided.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, sync_channel};
use std::thread::JoinHandle;

use super::latest::Latest;
use crate::camera::Frame;
use crate::core::decision::DecisionRule;
use crate::core::{ClassId, SessionId};
use crate::workflow::live::{LiveEngine, LiveUpdate};
use crate::workflow::offline::{Lesson, LessonStore, open_for_lesson};

/// What the recognition thread reports.
#[derive(Debug, Clone, PartialEq)]
pub enum WorkerEvent {
    /// The engine is ready.
    Ready {
        /// The session being taken.
        session: SessionId,
        /// Students with a face enrolled.
        gallery: usize,
        /// Members without one (marked by hand).
        missing: usize,
        /// The rules in force.
        rule: DecisionRule,
    },
    /// A frame was processed.
    Update {
        /// What was decided.
        update: LiveUpdate,
        /// The frame's size (the boxes are in its pixels).
        frame_size: (u32, u32),
    },
    /// Where a lesson on a school server writes now (never sent for a file).
    Connection {
        /// On the server (`true`) or on this machine's offline copy.
        online: bool,
        /// Changes waiting in the copy for the server.
        waiting: usize,
        /// What happened, for the teacher.
        note: String,
    },
    /// The engine stopped because of an error.
    Failed(String),
}

/// The running recognition thread.
pub struct LiveWorker {
    slot: Arc<Latest<Frame>>,
    stop: Arc<AtomicBool>,
    events: Receiver<WorkerEvent>,
    handle: Option<JoinHandle<()>>,
    /// Frames replaced before the engine could take them.
    pub skipped: u64,
}

impl std::fmt::Debug for LiveWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveWorker")
            .field("skipped", &self.skipped)
            .finish_non_exhaustive()
    }
}

impl LiveWorker {
    /// Starts the engine for `class` on the database file `db`; `wake` repaints the window.
    pub fn start(
        db: crate::store::Location,
        class: ClassId,
        session: Option<SessionId>,
        wake: impl Fn() + Send + 'static,
    ) -> anyhow::Result<Self> {
        let slot = Arc::new(Latest::new());
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = sync_channel::<WorkerEvent>(8);
        let (slot2, stop2) = (Arc::clone(&slot), Arc::clone(&stop));
        let handle = std::thread::Builder::new()
            .name("recognition".into())
            .spawn(move || {
                let send = |e: WorkerEvent| {
                    // A full channel means the window is behind: drop this report, the next
                    // one carries the newest boxes, and marks are in the database anyway.
                    let _ = tx.try_send(e);
                    wake();
                };
                if let Err(err) = run(&db, class, session, &slot2, &stop2, &send) {
                    send(WorkerEvent::Failed(format!("{err:#}")));
                }
            })?;
        Ok(Self {
            slot,
            stop,
            events: rx,
            handle: Some(handle),
            skipped: 0,
        })
    }

    /// Gives the engine a new frame, replacing one it has not taken yet.
    pub fn offer(&mut self, frame: Frame) {
        if self.slot.put(frame) {
            self.skipped += 1;
        }
    }

    /// Reports since the last call.
    #[must_use]
    pub fn poll(&self) -> Vec<WorkerEvent> {
        self.events.try_iter().collect()
    }

    /// Stops the thread (after the frame in progress) and waits for it.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.slot.wake();
        if let Some(h) = self.handle.take() {
            // A panic in the engine was already reported as a failure or lost; nothing to add.
            let _ = h.join();
        }
    }
}

impl Drop for LiveWorker {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run(
    db: &crate::store::Location,
    class: ClassId,
    session: Option<SessionId>,
    slot: &Latest<Frame>,
    stop: &AtomicBool,
    send: &dyn Fn(WorkerEvent),
) -> anyhow::Result<()> {
    let opened = open_for_lesson(db, &class.0.to_string(), crate::workflow::open)?;
    let offline = match &opened {
        LessonStore::Offline { reason, .. } => Some(reason.clone()),
        LessonStore::Online { .. } => None,
    };
    let mut lesson = Lesson::new(opened, db, crate::workflow::open)?;
    let (pipeline, mut engine) = {
        let store = lesson.store()?;
        let pipeline = crate::workflow::enroll::pipeline_for(store)?;
        let engine = LiveEngine::start(store, &pipeline, class, session)?;
        (pipeline, engine)
    };
    let (gallery, missing) = engine.gallery_size();
    send(WorkerEvent::Ready {
        session: engine.session().id,
        gallery,
        missing,
        rule: engine.rule(),
    });
    let on_server = matches!(db, crate::store::Location::Server(_));
    if on_server {
        send(WorkerEvent::Connection {
            online: offline.is_none(),
            waiting: lesson.waiting(),
            note: offline.map_or_else(
                || "Taking attendance on the school server".to_owned(),
                |r| {
                    format!(
                        "Offline ({r}): taking attendance from this machine's copy of the roster"
                    )
                },
            ),
        });
    }
    let result = lesson_loop(&mut lesson, &mut engine, &pipeline, slot, stop, send);
    // Whatever the copy holds goes to the server now if it answers.
    let finished = lesson.finish(engine.session(), false);
    if on_server && let Ok((_, waiting)) = &finished {
        for note in lesson.take_events() {
            send(WorkerEvent::Connection {
                online: lesson.is_online(),
                waiting: waiting.total(),
                note,
            });
        }
    }
    result.and(finished.map(drop))
}

fn lesson_loop(
    lesson: &mut Lesson,
    engine: &mut LiveEngine,
    pipeline: &crate::vision::pipeline::FacePipeline,
    slot: &Latest<Frame>,
    stop: &AtomicBool,
    send: &dyn Fn(WorkerEvent),
) -> anyhow::Result<()> {
    loop {
        let Some(frame) = slot.wait_take(stop) else {
            return Ok(());
        };
        let update = engine.process(lesson, pipeline, &frame.image, frame.captured_ms)?;
        lesson.try_server(engine.session());
        for note in lesson.take_events() {
            send(WorkerEvent::Connection {
                online: lesson.is_online(),
                waiting: lesson.waiting(),
                note,
            });
        }
        send(WorkerEvent::Update {
            update,
            frame_size: frame.image.dimensions(),
        });
    }
}
