//! Counting sign-in attempts per key (an account, a client address) in fixed windows, so
//! that guessing passwords is slow while successful sign-ins cost nothing.
//!
//! An attempt is counted when it starts, before the password is checked, and given back
//! when it succeeds: however many attempts run at once, at most `max` failures per window
//! are ever verified. Keys are kept as 64-bit hashes (a key of any length costs the same)
//! and at most `capacity` of them, so memory stays bounded in entries and in bytes.

use std::{
    collections::HashMap,
    hash::{BuildHasher, RandomState},
    net::IpAddr,
    sync::{Mutex, MutexGuard, PoisonError},
    time::{Duration, Instant},
};

/// Attempts counted per key; a key whose window holds `max` attempts that did not succeed
/// (or have not finished) is refused until the window ends.
#[derive(Debug)]
pub struct AttemptLimiter {
    max: u32,
    window: Duration,
    capacity: usize,
    /// Keyed with a random seed per process, so that keys cannot be chosen to collide.
    hasher: RandomState,
    windows: Mutex<HashMap<u64, Window>>,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    attempts: u32,
}

/// An attempt counted against a key, to [give back](AttemptLimiter::succeeded) if it
/// succeeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    key: u64,
    started: Instant,
}

impl AttemptLimiter {
    /// A limiter allowing `max` unsuccessful attempts per key per `window`, remembering at
    /// most `capacity` keys (those whose windows started first are dropped first).
    pub fn new(max: u32, window: Duration, capacity: usize) -> Self {
        Self {
            max,
            window,
            capacity,
            hasher: RandomState::new(),
            windows: Mutex::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<u64, Window>> {
        self.windows.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts an attempt of `key`, or says how long to wait when its window is full.
    pub fn attempt(&self, key: &str, now: Instant) -> Result<Attempt, Duration> {
        let key = self.hasher.hash_one(key);
        let mut windows = self.lock();
        if windows.len() >= self.capacity && !windows.contains_key(&key) {
            self.make_room(&mut windows, now);
        }
        let window = windows.entry(key).or_insert(Window {
            started: now,
            attempts: 0,
        });
        if window.started + self.window <= now {
            *window = Window {
                started: now,
                attempts: 0,
            };
        }
        if window.attempts >= self.max {
            return Err(window.started + self.window - now);
        }
        window.attempts += 1;
        Ok(Attempt {
            key,
            started: window.started,
        })
    }

    /// Drops ended windows, then the one that started first if still full.
    fn make_room(&self, windows: &mut HashMap<u64, Window>, now: Instant) {
        windows.retain(|_, window| window.started + self.window > now);
        if windows.len() >= self.capacity
            && let Some(oldest) = windows
                .iter()
                .min_by_key(|(_, window)| window.started)
                .map(|(key, _)| *key)
        {
            windows.remove(&oldest);
        }
    }

    /// Gives back an attempt that succeeded (in the window it was counted in).
    pub fn succeeded(&self, attempt: Attempt) {
        let mut windows = self.lock();
        if let Some(window) = windows.get_mut(&attempt.key)
            && window.started == attempt.started
        {
            window.attempts = window.attempts.saturating_sub(1);
        }
    }

    /// Forgets every attempt of `key` (an account after a successful sign-in).
    pub fn clear(&self, key: &str) {
        let key = self.hasher.hash_one(key);
        self.lock().remove(&key);
    }
}

/// The key under which a client address is counted: an IPv4 address (also when written
/// as IPv4-mapped IPv6), or the /64 network of an IPv6 address, since one IPv6 client
/// usually holds a whole /64.
pub fn address_key(address: IpAddr) -> String {
    match address.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let network = u128::from(v6) & !u128::from(u64::MAX);
            format!("{}/64", std::net::Ipv6Addr::from(network))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn refuses_after_max_attempts_until_the_window_ends() {
        let limiter = AttemptLimiter::new(3, MINUTE, 100);
        let start = Instant::now();
        for _ in 0..3 {
            assert!(limiter.attempt("a", start).is_ok());
        }
        let later = start + Duration::from_secs(20);
        assert_eq!(limiter.attempt("a", later), Err(Duration::from_secs(40)));
        assert!(
            limiter.attempt("b", later).is_ok(),
            "other keys are not affected"
        );
        assert!(
            limiter.attempt("a", start + MINUTE).is_ok(),
            "a new window starts"
        );
    }

    #[test]
    fn attempts_count_as_they_start_and_successes_are_given_back() {
        let limiter = AttemptLimiter::new(2, MINUTE, 100);
        let now = Instant::now();
        let first = limiter.attempt("a", now).unwrap();
        let _second = limiter.attempt("a", now).unwrap();
        assert!(
            limiter.attempt("a", now).is_err(),
            "two attempts in flight use up the window"
        );
        limiter.succeeded(first);
        assert!(limiter.attempt("a", now).is_ok());
        limiter.clear("a");
        assert!(limiter.attempt("a", now).is_ok());
    }

    #[test]
    fn memory_stays_bounded_whatever_the_keys() {
        let limiter = AttemptLimiter::new(1, MINUTE, 10);
        let now = Instant::now();
        let long = "k".repeat(1 << 20);
        for key in 0..1000 {
            let key = format!("{key}{long}");
            let _ = limiter.attempt(&key, now + Duration::from_millis(key.len() as u64));
        }
        assert!(limiter.lock().len() <= 10);
    }

    #[test]
    fn ipv6_clients_are_counted_per_64_network() {
        let one: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let same_network: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let other_network: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_key(one), address_key(same_network));
        assert_ne!(address_key(one), address_key(other_network));
        assert_eq!(
            address_key("::ffff:192.0.2.7".parse().unwrap()),
            "192.0.2.7"
        );
        assert_eq!(address_key("192.0.2.7".parse().unwrap()), "192.0.2.7");
    }
}
