//! Time for sources: wall-clock stamps, a monotonic clock for pacing, and sleeping. Replays take
//! a [`Clock`] so tests drive them with a [`ManualClock`] instead of waiting in real time.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A source of time.
pub trait Clock: Send + Sync {
    /// Wall-clock time, Unix milliseconds (frame stamps).
    fn wall_ms(&self) -> i64;
    /// Monotonic time since some fixed start (pacing).
    fn monotonic(&self) -> Duration;
    /// Waits for `duration` (a manual clock just moves on).
    fn sleep(&self, duration: Duration);
}

/// The real clock.
#[derive(Debug, Clone)]
pub struct SystemClock {
    start: Instant,
}

impl SystemClock {
    /// A real clock whose monotonic time starts now.
    #[must_use]
    pub fn new() -> Self {
        Self {
            start: Instant::now(),
        }
    }

    /// A shared real clock, as sources take it.
    #[must_use]
    pub fn shared() -> Arc<dyn Clock> {
        Arc::new(Self::new())
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    fn wall_ms(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64)
    }

    fn monotonic(&self) -> Duration {
        self.start.elapsed()
    }

    fn sleep(&self, duration: Duration) {
        std::thread::sleep(duration);
    }
}

/// A clock that only moves when told to or when something sleeps on it, for tests.
#[derive(Debug)]
pub struct ManualClock {
    state: Mutex<ManualState>,
}

#[derive(Debug)]
struct ManualState {
    wall_start_ms: i64,
    elapsed: Duration,
    slept: Duration,
}

impl ManualClock {
    /// A clock that reads `wall_start_ms` at monotonic time zero.
    #[must_use]
    pub fn new(wall_start_ms: i64) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(ManualState {
                wall_start_ms,
                elapsed: Duration::ZERO,
                slept: Duration::ZERO,
            }),
        })
    }

    /// Moves time on by `by` (work that took time: slow recognition, a stall).
    pub fn advance(&self, by: Duration) {
        self.lock().elapsed += by;
    }

    /// How long sources have slept on this clock in all.
    #[must_use]
    pub fn total_slept(&self) -> Duration {
        self.lock().slept
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ManualState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Clock for ManualClock {
    fn wall_ms(&self) -> i64 {
        let s = self.lock();
        s.wall_start_ms + s.elapsed.as_millis() as i64
    }

    fn monotonic(&self) -> Duration {
        self.lock().elapsed
    }

    fn sleep(&self, duration: Duration) {
        let mut s = self.lock();
        s.elapsed += duration;
        s.slept += duration;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::new(1_000);
        assert_eq!(clock.wall_ms(), 1_000);
        clock.sleep(Duration::from_millis(250));
        clock.advance(Duration::from_millis(50));
        assert_eq!(clock.wall_ms(), 1_300);
        assert_eq!(clock.monotonic(), Duration::from_millis(300));
        assert_eq!(clock.total_slept(), Duration::from_millis(250));
    }

    #[test]
    fn system_clock_reads_unix_time() {
        let clock = SystemClock::new();
        // 2020-01-01 in Unix milliseconds: the stamp is a real wall-clock time.
        assert!(clock.wall_ms() > 1_577_836_800_000);
        let a = clock.monotonic();
        assert!(clock.monotonic() >= a);
    }
}
