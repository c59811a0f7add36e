//! Counting failed sign-ins per key (an account, a client address) in fixed windows, so that
//! guessing passwords is slow while successful sign-ins cost nothing.

use std::{
    collections::HashMap,
    sync::{Mutex, PoisonError},
    time::{Duration, Instant},
};

/// Failures counted per key; a key with `max` failures in the current window is refused
/// until the window ends. Holds at most `capacity` keys (the oldest windows are dropped
/// first), so memory stays bounded whatever the traffic.
#[derive(Debug)]
pub struct FailureLimiter {
    max: u32,
    window: Duration,
    capacity: usize,
    windows: Mutex<HashMap<String, Window>>,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    failures: u32,
}

impl FailureLimiter {
    /// A limiter allowing `max` failures per key per `window`.
    pub fn new(max: u32, window: Duration, capacity: usize) -> Self {
        Self {
            max,
            window,
            capacity,
            windows: Mutex::default(),
        }
    }

    /// `Err(wait)` when `key` has failed too often and must wait; `Ok` otherwise.
    pub fn check(&self, key: &str, now: Instant) -> Result<(), Duration> {
        let windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        match windows.get(key) {
            Some(window) if window.failures >= self.max => {
                let ends = window.started + self.window;
                if ends > now { Err(ends - now) } else { Ok(()) }
            }
            _ => Ok(()),
        }
    }

    /// Records a failure of `key`.
    pub fn fail(&self, key: &str, now: Instant) {
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        if windows.len() >= self.capacity && !windows.contains_key(key) {
            windows.retain(|_, window| window.started + self.window > now);
            if windows.len() >= self.capacity
                && let Some(oldest) = windows
                    .iter()
                    .min_by_key(|(_, window)| window.started)
                    .map(|(key, _)| key.clone())
            {
                windows.remove(&oldest);
            }
        }
        let window = windows.entry(key.to_owned()).or_insert(Window {
            started: now,
            failures: 0,
        });
        if window.started + self.window <= now {
            *window = Window {
                started: now,
                failures: 0,
            };
        }
        window.failures += 1;
    }

    /// Forgets `key`'s failures (after a successful sign-in).
    pub fn clear(&self, key: &str) {
        self.windows
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn refuses_after_max_failures_until_the_window_ends() {
        let limiter = FailureLimiter::new(3, MINUTE, 100);
        let start = Instant::now();
        for _ in 0..3 {
            assert!(limiter.check("a", start).is_ok());
            limiter.fail("a", start);
        }
        let later = start + Duration::from_secs(20);
        assert_eq!(limiter.check("a", later), Err(Duration::from_secs(40)));
        assert!(
            limiter.check("b", later).is_ok(),
            "other keys are not affected"
        );
        assert!(limiter.check("a", start + MINUTE).is_ok());
        limiter.fail("a", start + MINUTE);
        assert!(
            limiter.check("a", start + MINUTE).is_ok(),
            "a new window starts"
        );
    }

    #[test]
    fn clearing_forgets_failures() {
        let limiter = FailureLimiter::new(1, MINUTE, 100);
        let now = Instant::now();
        limiter.fail("a", now);
        assert!(limiter.check("a", now).is_err());
        limiter.clear("a");
        assert!(limiter.check("a", now).is_ok());
    }

    #[test]
    fn memory_stays_bounded() {
        let limiter = FailureLimiter::new(1, MINUTE, 10);
        let now = Instant::now();
        for key in 0..1000 {
            limiter.fail(&key.to_string(), now + Duration::from_millis(key));
        }
        assert!(limiter.windows.lock().unwrap().len() <= 10);
        assert!(
            limiter.check("999", now + MINUTE / 2).is_err(),
            "the newest stay"
        );
    }
}
