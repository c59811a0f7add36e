//! The scheduler's clock: the system's, or one that starts at a chosen instant and runs
//! with the runtime's time, so tests can pause and advance it.

use chrono::{DateTime, Utc};
use tokio::time::Instant;

/// Where the scheduler reads the time.
#[derive(Debug, Clone, Copy, Default)]
pub enum Clock {
    /// The system's wall clock.
    #[default]
    System,
    /// `start` at the runtime instant `at`, moving with the runtime's (pausable) time.
    Starting {
        /// The wall time at `at`.
        start: DateTime<Utc>,
        /// The runtime's instant at `start`.
        at: Instant,
    },
}

impl Clock {
    /// A clock that reads `start` now and then moves with the runtime's time.
    pub fn starting_at(start: DateTime<Utc>) -> Self {
        Self::Starting {
            start,
            at: Instant::now(),
        }
    }

    /// The current time.
    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Self::System => Utc::now(),
            Self::Starting { start, at } => {
                *start + chrono::Duration::from_std(at.elapsed()).unwrap_or(chrono::Duration::MAX)
            }
        }
    }
}
