//! The engine's clock. Nothing in Trellis reads the system time except
//! through this, so tests and demos can set the time (`--clock manual`).

use std::sync::{Arc, Mutex};

use jiff::Timestamp;

#[derive(Debug, Clone)]
pub enum Clock {
    System,
    /// A clock that only moves when told to.
    Manual(Arc<Mutex<Timestamp>>),
}

impl Clock {
    pub fn manual(start: Timestamp) -> Clock {
        Clock::Manual(Arc::new(Mutex::new(start)))
    }

    /// The current time, to the microsecond: both databases keep microseconds,
    /// so what a write returns is exactly what a later read returns.
    pub fn now(&self) -> Timestamp {
        let t = match self {
            Clock::System => Timestamp::now(),
            Clock::Manual(t) => *t.lock().expect("clock lock"),
        };
        let micros = t.as_microsecond();
        Timestamp::from_microsecond(micros).expect("in range")
    }

    /// Moves a manual clock; false for the system clock.
    pub fn set(&self, to: Timestamp) -> bool {
        match self {
            Clock::System => false,
            Clock::Manual(t) => {
                *t.lock().expect("clock lock") = to;
                true
            }
        }
    }
}
