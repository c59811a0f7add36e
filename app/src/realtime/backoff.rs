//! Reconnect delays: full-jitter exponential backoff, `random(0, min(cap, base · 2^attempt))`.

use std::time::Duration;

/// The first delay's ceiling.
pub const BASE: Duration = Duration::from_millis(500);
/// The largest delay.
pub const CAP: Duration = Duration::from_secs(20);

/// Counts failed attempts and turns them into delays.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Backoff {
    attempt: u32,
}

impl Backoff {
    /// The delay before the next attempt, given a random number in `[0, 1)`; counts the
    /// attempt. `long` stretches the ceiling to the cap at once (for "too many connections").
    pub fn next_delay(&mut self, random: f64, long: bool) -> Duration {
        let ceiling = if long {
            CAP
        } else {
            BASE.saturating_mul(1u32 << self.attempt.min(16)).min(CAP)
        };
        self.attempt = self.attempt.saturating_add(1);
        ceiling.mul_f64(random.clamp(0.0, 1.0))
    }

    /// Starts again from the first delay (after a connection said `hello`).
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ceiling_doubles_from_half_a_second_up_to_twenty_seconds() {
        let mut backoff = Backoff::default();
        let ceilings: Vec<u128> = (0..9)
            .map(|_| backoff.next_delay(1.0, false).as_millis())
            .collect();
        assert_eq!(
            ceilings,
            [500, 1000, 2000, 4000, 8000, 16000, 20000, 20000, 20000]
        );
    }

    #[test]
    fn the_delay_is_a_random_share_of_the_ceiling() {
        let mut backoff = Backoff::default();
        backoff.next_delay(0.3, false);
        assert_eq!(backoff.next_delay(0.25, false), Duration::from_millis(250));
        assert_eq!(backoff.next_delay(0.0, false), Duration::ZERO);
    }

    #[test]
    fn reset_starts_over_and_long_waits_use_the_cap() {
        let mut backoff = Backoff::default();
        for _ in 0..5 {
            backoff.next_delay(0.5, false);
        }
        backoff.reset();
        assert_eq!(backoff.next_delay(1.0, false), BASE);
        assert_eq!(Backoff::default().next_delay(0.5, true), CAP / 2);
    }

    #[test]
    fn many_attempts_do_not_overflow() {
        let mut backoff = Backoff::default();
        for _ in 0..100 {
            assert!(backoff.next_delay(1.0, false) <= CAP);
        }
    }
}
