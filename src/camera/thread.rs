//! The capture thread: runs a [`FrameSource`] on a named thread and keeps only the newest frame.
//!
//! The hand-over is a slot of one behind a mutex and condition variable: a new frame replaces
//! one nobody took (counted as dropped), so a slow consumer always gets the freshest picture and
//! frames never pile up. A source without a pace of its own ([`FrameSource::paced`]) is instead
//! read only once its last frame was taken, so batch replays lose nothing. Corrupt frames are skipped and counted; transient camera errors
//! (unplugged, busy, a failed read) are retried with [`Backoff`]; anything else ends the thread
//! with the error in [`CameraStats::last_error`]. A wake-up callback runs after every new frame
//! and status change, so a GUI repaints only when there is something new.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::error::CameraError;
use super::stats::{Backoff, CameraStats, FpsMeter};
use super::{Frame, FrameSource};

/// How long [`CameraThread::stop`] waits for the thread before leaving it to end on its own
/// (a source stuck in a driver call must not freeze the caller).
pub const STOP_WAIT: Duration = Duration::from_secs(1);
/// The capture thread's name.
pub const THREAD_NAME: &str = "rollcall-camera";

/// What [`CameraThread::next`] found.
#[derive(Debug)]
pub enum NextFrame {
    /// A frame newer than the last one taken.
    Frame(Frame),
    /// No new frame within the timeout.
    TimedOut,
    /// The source has ended (see [`CameraStats::last_error`] for why) and every frame is taken.
    Ended,
}

/// A wake-up callback (the GUI passes `ctx.request_repaint()`).
pub type Wake = Box<dyn Fn() + Send + Sync>;

struct State {
    slot: Option<Frame>,
    stats: CameraStats,
    meter: FpsMeter,
    stop: bool,
    exited: bool,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    wake: Wake,
    origin: Instant,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Changes the state, then wakes waiters and the callback (outside the lock).
    fn update(&self, change: impl FnOnce(&mut State)) {
        change(&mut self.lock());
        self.changed.notify_all();
        (self.wake)();
    }
}

/// A source running on its own thread; the newest frame waits in a slot of one.
///
/// Dropping it stops the thread.
pub struct CameraThread {
    shared: Arc<Shared>,
    handle: Option<JoinHandle<()>>,
}

impl CameraThread {
    /// Starts `source` on a thread named [`THREAD_NAME`], retrying with the default backoff.
    pub fn spawn(source: Box<dyn FrameSource + Send>, wake: Wake) -> Result<Self, CameraError> {
        Self::spawn_with(source, wake, Backoff::default())
    }

    /// Starts `source` with a chosen backoff between retries.
    pub fn spawn_with(
        source: Box<dyn FrameSource + Send>,
        wake: Wake,
        backoff: Backoff,
    ) -> Result<Self, CameraError> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                slot: None,
                stats: CameraStats {
                    source: source.name(),
                    ..CameraStats::default()
                },
                meter: FpsMeter::default(),
                stop: false,
                exited: false,
            }),
            changed: Condvar::new(),
            wake,
            origin: Instant::now(),
        });
        let for_thread = Arc::clone(&shared);
        let handle = std::thread::Builder::new()
            .name(THREAD_NAME.to_owned())
            .spawn(move || capture_loop(&for_thread, source, backoff))
            .map_err(|e| CameraError::Thread(e.to_string()))?;
        Ok(Self {
            shared,
            handle: Some(handle),
        })
    }

    /// The newest frame not taken yet, without waiting (the GUI calls this each repaint).
    #[must_use]
    pub fn try_take(&self) -> Option<Frame> {
        let mut state = self.shared.lock();
        let frame = state.slot.take();
        if frame.is_some() {
            state.stats.taken += 1;
            // An unpaced source waits for the slot to empty.
            self.shared.changed.notify_all();
        }
        frame
    }

    /// Waits up to `timeout` for a frame newer than the last one taken (the headless consumer).
    #[must_use]
    pub fn next(&self, timeout: Duration) -> NextFrame {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.lock();
        loop {
            if let Some(frame) = state.slot.take() {
                state.stats.taken += 1;
                self.shared.changed.notify_all();
                return NextFrame::Frame(frame);
            }
            if state.stats.ended {
                return NextFrame::Ended;
            }
            let now = Instant::now();
            if now >= deadline {
                return NextFrame::TimedOut;
            }
            state = self
                .shared
                .changed
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// A snapshot of the counters, fps and status.
    #[must_use]
    pub fn stats(&self) -> CameraStats {
        let now = self.shared.origin.elapsed();
        let mut state = self.shared.lock();
        let fps = if state.stats.ended {
            0.0
        } else {
            state.meter.fps(now)
        };
        CameraStats {
            fps,
            ..state.stats.clone()
        }
    }

    /// Whether the source has ended (played once, failed for good, or stopped).
    #[must_use]
    pub fn is_ended(&self) -> bool {
        self.shared.lock().stats.ended
    }

    /// Stops the thread and joins it. A source stuck in a driver call for more than
    /// [`STOP_WAIT`] is left to end on its own (it exits as soon as the call returns).
    pub fn stop(&mut self) {
        let Some(handle) = self.handle.take() else {
            return;
        };
        let mut state = self.shared.lock();
        state.stop = true;
        self.shared.changed.notify_all();
        let (state, _) = self
            .shared
            .changed
            .wait_timeout_while(state, STOP_WAIT, |s| !s.exited)
            .unwrap_or_else(PoisonError::into_inner);
        let exited = state.exited;
        drop(state);
        if exited {
            // A panic in the source was already recorded in the stats.
            let _ = handle.join();
        } else {
            log::warn!(
                "the camera thread did not stop within {} s (the source is not answering); it \
                 will end on its own",
                STOP_WAIT.as_secs()
            );
        }
    }
}

impl Drop for CameraThread {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Marks the thread as exited when it ends, also when the source panics.
struct ExitGuard<'a>(&'a Shared);

impl Drop for ExitGuard<'_> {
    fn drop(&mut self) {
        let panicked = std::thread::panicking();
        self.0.update(|s| {
            s.exited = true;
            s.stats.ended = true;
            s.stats.retrying = false;
            if panicked {
                s.stats.last_error = Some(
                    "the camera stopped unexpectedly (an internal error; see the log)".to_owned(),
                );
            }
        });
    }
}

fn capture_loop(shared: &Shared, mut source: Box<dyn FrameSource + Send>, mut backoff: Backoff) {
    let _guard = ExitGuard(shared);
    let name = source.name();
    let paced = source.paced();
    let mut failing = false;
    loop {
        let state = shared.lock();
        // A source without a pace of its own is read only once its last frame was taken.
        let state = shared
            .changed
            .wait_while(state, |s| !paced && s.slot.is_some() && !s.stop)
            .unwrap_or_else(PoisonError::into_inner);
        if state.stop {
            return;
        }
        drop(state);
        match source.next_frame() {
            Ok(Some(frame)) => {
                if failing {
                    log::info!("{name}: frames are coming again");
                    failing = false;
                    backoff.reset();
                }
                let at = shared.origin.elapsed();
                shared.update(|s| {
                    s.stats.captured += 1;
                    s.stats.frame_size = Some(frame.image.dimensions());
                    if s.stats.retrying {
                        s.stats.retrying = false;
                        s.stats.last_error = None;
                    }
                    s.meter.record(at);
                    if s.slot.replace(frame).is_some() {
                        s.stats.dropped += 1;
                    }
                });
            }
            Ok(None) => {
                log::debug!("{name}: the source ended");
                return;
            }
            Err(err) if err.is_corrupt_frame() => {
                let mut count = 0;
                shared.update(|s| {
                    s.stats.corrupt_skipped += 1;
                    count = s.stats.corrupt_skipped;
                    s.stats.last_error = Some(err.to_string());
                });
                if count <= 3 || count % 100 == 0 {
                    log::warn!("{name}: {err} ({count} damaged frames skipped so far)");
                } else {
                    log::debug!("{name}: {err}");
                }
            }
            Err(err) if err.is_transient() => {
                if failing {
                    log::debug!("{name}: still failing: {err}");
                } else {
                    log::warn!("{name}: {err}; retrying");
                    failing = true;
                }
                let wait = backoff.next_wait();
                shared.update(|s| {
                    s.stats.retries += 1;
                    s.stats.retrying = true;
                    s.stats.last_error = Some(err.to_string());
                });
                let state = shared.lock();
                let (state, _) = shared
                    .changed
                    .wait_timeout_while(state, wait, |s| !s.stop)
                    .unwrap_or_else(PoisonError::into_inner);
                if state.stop {
                    return;
                }
            }
            Err(err) => {
                // Reported through the stats (the UI shows it); logged only for the record.
                log::debug!("{name}: {err}");
                shared.update(|s| s.stats.last_error = Some(err.to_string()));
                return;
            }
        }
    }
}
