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
    seen: Mutex<Seen>,
}

#[derive(Default)]
struct Seen {
    keys: HashMap<String, Vec<Timestamp>>,
    /// The number of keys at which stale ones are next swept out: twice what
    /// was left by the last sweep, so a spray of keys costs amortised O(1).
    sweep_at: usize,
}

/// Keys kept before stale ones are first swept out.
const SWEEP_AT: usize = 10_000;
/// Longer keys (an email as sent, say) are kept by their hash, so a key costs bounded memory.
const KEY_BYTES: usize = 128;

fn key_of(key: &str) -> String {
    if key.len() <= KEY_BYTES {
        return key.to_owned();
    }
    use sha2::Digest;
    format!("#{}", hex::encode(sha2::Sha256::digest(key.as_bytes())))
}

impl Window {
    pub(crate) fn new(max: usize, span: SignedDuration) -> Window {
        Window { max, span, seen: Mutex::new(Seen { keys: HashMap::new(), sweep_at: SWEEP_AT }) }
    }

    fn seen(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Counts one event for `key` unless its window is full, in one step
    /// (so parallel callers cannot all pass before any is counted): `Ok(the
    /// events in the window now)` or `Err(seconds until it may go again)`.
    pub(crate) fn take(&self, key: &str, now: Timestamp) -> Result<usize, u64> {
        let span = self.span;
        let mut seen = self.seen();
        if seen.keys.len() >= seen.sweep_at {
            seen.keys.retain(|_, ts| ts.iter().any(|t| now.duration_since(*t) < span));
            seen.sweep_at = (seen.keys.len() * 2).max(SWEEP_AT);
        }
        let list = seen.keys.entry(key_of(key)).or_default();
        list.retain(|t| now.duration_since(*t) < span);
        if list.len() >= self.max {
            let oldest = list.iter().min().copied().unwrap_or(now);
            return Err((span - now.duration_since(oldest)).as_secs().max(1) as u64);
        }
        list.push(now);
        Ok(list.len())
    }

    /// Takes back the newest event of `key` (one that turned out not to count).
    pub(crate) fn give_back(&self, key: &str) {
        let mut seen = self.seen();
        if let Some(list) = seen.keys.get_mut(&key_of(key)) {
            let newest = list.iter().enumerate().max_by_key(|(_, t)| **t).map(|(i, _)| i);
            if let Some(i) = newest {
                list.swap_remove(i);
            }
        }
    }

    pub(crate) fn forget(&self, key: &str) {
        self.seen().keys.remove(&key_of(key));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_window_waits_until_its_oldest_event_is_old_enough() {
        let w = Window::new(2, SignedDuration::from_mins(1));
        let t0 = Timestamp::UNIX_EPOCH;
        assert_eq!(w.take("a", t0), Ok(1));
        assert_eq!(w.take("a", t0 + SignedDuration::from_secs(20)), Ok(2));
        assert_eq!(w.take("a", t0 + SignedDuration::from_secs(30)), Err(30));
        assert_eq!(w.take("b", t0 + SignedDuration::from_secs(30)), Ok(1), "keys count apart");
        assert_eq!(w.take("a", t0 + SignedDuration::from_secs(60)), Ok(2), "the first has left the window");
        w.forget("a");
        assert_eq!(w.take("a", t0 + SignedDuration::from_secs(61)), Ok(1));
        assert_eq!(w.take("a", t0 + SignedDuration::from_secs(62)), Ok(2));
        w.give_back("a");
        assert_eq!(w.take("a", t0 + SignedDuration::from_secs(63)), Ok(2), "an event given back no longer counts");
    }

    #[test]
    fn a_spray_of_keys_is_swept_and_long_keys_are_kept_by_their_hash() {
        let w = Window::new(1, SignedDuration::from_secs(1));
        let t0 = Timestamp::UNIX_EPOCH;
        for i in 0..SWEEP_AT {
            assert!(w.take(&i.to_string(), t0).is_ok());
        }
        let later = t0 + SignedDuration::from_secs(2);
        assert!(w.take("fresh", later).is_ok());
        assert_eq!(w.seen().keys.len(), 1, "stale keys went at the sweep");
        let long = "x".repeat(10_000);
        assert!(w.take(&long, later).is_ok());
        assert!(w.take(&long, later).is_err(), "a long key still counts");
        assert!(w.seen().keys.keys().all(|k| k.len() <= KEY_BYTES));
    }
}
