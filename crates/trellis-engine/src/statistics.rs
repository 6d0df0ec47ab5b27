//! Fresh planner statistics after bulk writes.
//!
//! PostgreSQL plans from statistics that autovacuum refreshes in its own time
//! (or never, where it is off); a form that grew by a large import is then
//! planned as if it were empty, and a list that should walk an index sorts the
//! whole range instead (docs/benchmarks.md measured 1,869 ms against 0.40 ms).
//! So the engine refreshes them itself: at the end of every import and sample
//! load, and whenever batch writes have added [`ANALYZE_AFTER`] records since
//! the last refresh. The refresh runs in the background; a write never waits for it.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::Engine;

/// Records written in batches between two refreshes.
pub(crate) const ANALYZE_AFTER: u64 = 50_000;

/// How many records batch writes added since the statistics were refreshed.
#[derive(Debug, Default)]
pub(crate) struct Unanalyzed(AtomicU64);

impl Engine {
    /// Counts `n` records written in a batch; refreshes the statistics past [`ANALYZE_AFTER`].
    pub(crate) fn wrote_in_bulk(&self, n: usize) {
        let before = self.unanalyzed.0.fetch_add(n as u64, Ordering::Relaxed);
        if before + n as u64 >= ANALYZE_AFTER && self.unanalyzed.0.swap(0, Ordering::Relaxed) >= ANALYZE_AFTER {
            self.refresh_statistics();
        }
    }

    /// Refreshes the planner's statistics in the background (after an import or a sample load).
    pub(crate) fn refresh_statistics(&self) {
        self.unanalyzed.0.store(0, Ordering::Relaxed);
        let store = self.store.clone();
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            match store.analyze().await {
                Ok(()) => tracing::info!(ms = started.elapsed().as_millis() as u64, "planner statistics refreshed after bulk writes"),
                Err(e) => tracing::warn!(error = %e, "refreshing the planner statistics failed; the next bulk write tries again"),
            }
        });
    }
}
