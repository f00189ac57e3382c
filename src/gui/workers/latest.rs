//! A slot of one for the newest value a worker thread should take: putting a value replaces
//! the one not taken yet (a worker never falls behind a camera), and the worker waits for a
//! value or for the signal to stop.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::Duration;

/// How often a waiting worker looks at its stop flag even when nobody wakes it.
const STOP_POLL: Duration = Duration::from_millis(200);

/// The newest value, and a condition variable to wake the worker that takes it.
#[derive(Debug, Default)]
pub struct Latest<T> {
    value: Mutex<Option<T>>,
    ready: Condvar,
}

impl<T> Latest<T> {
    /// An empty slot.
    #[must_use]
    pub fn new() -> Self {
        Self {
            value: Mutex::new(None),
            ready: Condvar::new(),
        }
    }

    /// Puts `value` in the slot and wakes the worker; `true` when it replaced a value the
    /// worker had not taken.
    pub fn put(&self, value: T) -> bool {
        let replaced = self
            .value
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .replace(value)
            .is_some();
        self.ready.notify_one();
        replaced
    }

    /// Waits for a value and takes it; `None` once `stop` is set.
    pub fn wait_take(&self, stop: &AtomicBool) -> Option<T> {
        let mut guard = self.value.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if stop.load(Ordering::SeqCst) {
                return None;
            }
            if let Some(v) = guard.take() {
                return Some(v);
            }
            guard = self
                .ready
                .wait_timeout(guard, STOP_POLL)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Wakes a waiting worker (after setting its stop flag).
    pub fn wake(&self) {
        self.ready.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn the_newest_value_wins_and_stop_ends_the_wait() {
        let slot = Latest::new();
        assert!(!slot.put(1));
        assert!(slot.put(2), "an untaken value is replaced");
        let stop = AtomicBool::new(false);
        assert_eq!(slot.wait_take(&stop), Some(2));
        let slot = Arc::new(Latest::<u32>::new());
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (Arc::clone(&slot), Arc::clone(&stop));
        let waiter = std::thread::Builder::new()
            .name("latest-test".into())
            .spawn(move || s.wait_take(&st))
            .unwrap();
        stop.store(true, Ordering::SeqCst);
        slot.wake();
        assert_eq!(waiter.join().unwrap(), None);
    }
}
