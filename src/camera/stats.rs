//! What the capture thread reports ([`CameraStats`]), how it measures fps ([`FpsMeter`]) and
//! how long it waits before retrying a camera ([`Backoff`]).

use std::collections::VecDeque;
use std::time::Duration;

/// A snapshot of a capture thread's state, for a status line.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct CameraStats {
    /// The source's name.
    pub source: String,
    /// Frames captured over the last second.
    pub fps: f64,
    /// Frames the source yielded.
    pub captured: u64,
    /// Frames the consumer took.
    pub taken: u64,
    /// Frames replaced by a newer one before the consumer took them.
    pub dropped: u64,
    /// Damaged frames skipped.
    pub corrupt_skipped: u64,
    /// Errors after which the thread waited and retried (unplugged, busy, read failures).
    pub retries: u64,
    /// The newest error, as text; cleared when frames flow again after a retry.
    pub last_error: Option<String>,
    /// Whether the thread is waiting to retry a failed camera right now.
    pub retrying: bool,
    /// Whether the source has ended (a replay played once, or a fatal error: see `last_error`).
    pub ended: bool,
    /// The newest frame's size, pixels.
    pub frame_size: Option<(u32, u32)>,
}

impl CameraStats {
    /// One line for a status bar: "Demo camera · 12.0 fps · 3 dropped".
    #[must_use]
    pub fn summary(&self) -> String {
        let mut parts = vec![self.source.clone()];
        if self.ended {
            parts.push("ended".to_owned());
        } else {
            parts.push(format!("{:.1} fps", self.fps));
        }
        if self.dropped > 0 {
            parts.push(format!("{} dropped", self.dropped));
        }
        if self.corrupt_skipped > 0 {
            parts.push(format!("{} damaged skipped", self.corrupt_skipped));
        }
        if let Some(error) = &self.last_error {
            parts.push(error.clone());
        }
        parts.join(" · ")
    }
}

/// Counts events over a sliding window (one second) to give a rate.
#[derive(Debug, Clone)]
pub struct FpsMeter {
    window: Duration,
    times: VecDeque<Duration>,
}

impl Default for FpsMeter {
    fn default() -> Self {
        Self::new(Duration::from_secs(1))
    }
}

impl FpsMeter {
    /// A meter over `window` (non-zero).
    #[must_use]
    pub fn new(window: Duration) -> Self {
        Self {
            window: window.max(Duration::from_millis(1)),
            times: VecDeque::new(),
        }
    }

    /// Records one frame at monotonic time `at` (non-decreasing).
    pub fn record(&mut self, at: Duration) {
        self.times.push_back(at);
        self.expire(at);
    }

    /// Frames per second over the window that ends at `now`.
    pub fn fps(&mut self, now: Duration) -> f64 {
        self.expire(now);
        self.times.len() as f64 / self.window.as_secs_f64()
    }

    fn expire(&mut self, now: Duration) {
        while let Some(&first) = self.times.front() {
            if now.saturating_sub(first) >= self.window {
                self.times.pop_front();
            } else {
                break;
            }
        }
    }
}

/// Exponential backoff: `initial`, doubling up to `max`, reset after a success.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backoff {
    /// The first wait.
    pub initial: Duration,
    /// The longest wait.
    pub max: Duration,
    current: Option<Duration>,
}

impl Default for Backoff {
    /// 250 ms, 500 ms, 1 s, 2 s, then every 4 s: a replugged camera is back within seconds
    /// without hammering the driver while it is gone.
    fn default() -> Self {
        Self::new(Duration::from_millis(250), Duration::from_secs(4))
    }
}

impl Backoff {
    /// A backoff from `initial` up to `max`.
    #[must_use]
    pub fn new(initial: Duration, max: Duration) -> Self {
        Self {
            initial,
            max: max.max(initial),
            current: None,
        }
    }

    /// The wait before the next try.
    pub fn next_wait(&mut self) -> Duration {
        let wait = match self.current {
            None => self.initial,
            Some(previous) => (previous * 2).min(self.max),
        };
        self.current = Some(wait);
        wait
    }

    /// Starts over after a success.
    pub fn reset(&mut self) {
        self.current = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn fps_counts_frames_in_the_last_second() {
        let mut meter = FpsMeter::default();
        for i in 0..30 {
            meter.record(MS(1_000 + i * 33));
        }
        // 30 frames between 1.000 s and 1.957 s: all inside the second that ends at 1.990 s.
        assert_eq!(meter.fps(MS(1_990)), 30.0);
        // Half a second later only the frames after 1.490 s count: 1.495 … 1.957 is 15 frames.
        assert_eq!(meter.fps(MS(2_490)), 15.0);
        assert_eq!(meter.fps(MS(5_000)), 0.0);
    }

    #[test]
    fn backoff_doubles_to_its_cap_and_resets() {
        let mut b = Backoff::default();
        let waits: Vec<u64> = (0..6).map(|_| b.next_wait().as_millis() as u64).collect();
        assert_eq!(waits, [250, 500, 1_000, 2_000, 4_000, 4_000]);
        b.reset();
        assert_eq!(b.next_wait(), MS(250));
    }

    #[test]
    fn summary_reads_like_a_status_line() {
        let stats = CameraStats {
            source: "Demo camera".into(),
            fps: 12.0,
            dropped: 3,
            ..CameraStats::default()
        };
        assert_eq!(stats.summary(), "Demo camera · 12.0 fps · 3 dropped");
    }
}
