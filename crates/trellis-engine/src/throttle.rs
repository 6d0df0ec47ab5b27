//! Sliding-window limits on the engine's clock: wrong passwords per email,
//! anonymous submissions per public link and address. Kept per process (each
//! instance counts its own), which bounds a flood without a shared store.

use std::collections::HashMap;
use std::sync::Mutex;

use jiff::{SignedDuration, Timestamp};

/// At most `max` events per key within `span`.
pub(crate) struct Window {
    max: usize,
    span: SignedDuration,
    seen: Mutex<HashMap<String, Vec<Timestamp>>>,
}

/// Keys kept before stale ones are swept out, so a spray of keys cannot grow memory without end.
const SWEEP_AT: usize = 10_000;

impl Window {
    pub(crate) fn new(max: usize, span: SignedDuration) -> Window {
        Window { max, span, seen: Mutex::default() }
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<Timestamp>>> {
        self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Seconds until `key` may go again, when its window is full.
    pub(crate) fn wait(&self, key: &str, now: Timestamp) -> Option<u64> {
        let map = self.map();
        let recent: Vec<&Timestamp> = map.get(key)?.iter().filter(|t| now.duration_since(**t) < self.span).collect();
        if recent.len() < self.max {
            return None;
        }
        let oldest = recent.iter().min()?;
        Some((self.span - now.duration_since(**oldest)).as_secs().max(1) as u64)
    }

    /// Counts one event for `key`; returns how many are in its window now.
    pub(crate) fn note(&self, key: &str, now: Timestamp) -> usize {
        let mut map = self.map();
        if map.len() >= SWEEP_AT {
            let span = self.span;
            map.retain(|_, ts| ts.iter().any(|t| now.duration_since(*t) < span));
        }
        let list = map.entry(key.to_owned()).or_default();
        list.retain(|t| now.duration_since(*t) < self.span);
        list.push(now);
        list.len()
    }

    /// Counts one event unless the window is full: `Err(seconds to wait)`.
    pub(crate) fn take(&self, key: &str, now: Timestamp) -> Result<(), u64> {
        if let Some(wait) = self.wait(key, now) {
            return Err(wait);
        }
        self.note(key, now);
        Ok(())
    }

    pub(crate) fn forget(&self, key: &str) {
        self.map().remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_window_waits_until_its_oldest_event_is_old_enough() {
        let w = Window::new(2, SignedDuration::from_mins(1));
        let t0 = Timestamp::UNIX_EPOCH;
        assert_eq!(w.take("a", t0), Ok(()));
        assert_eq!(w.take("a", t0 + SignedDuration::from_secs(20)), Ok(()));
        assert_eq!(w.take("a", t0 + SignedDuration::from_secs(30)), Err(30));
        assert_eq!(w.take("b", t0 + SignedDuration::from_secs(30)), Ok(()), "keys count apart");
        assert_eq!(w.take("a", t0 + SignedDuration::from_secs(60)), Ok(()));
        w.forget("a");
        assert_eq!(w.wait("a", t0 + SignedDuration::from_secs(61)), None);
    }
}
