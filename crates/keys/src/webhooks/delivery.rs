//! When a delivery that failed is tried again, and when an endpoint that keeps failing is
//! disabled.
//!
//! Retries back off exponentially (5 s, 10 s, 20 s, … capped at an hour) with ±20 %
//! jitter, so endpoints that come back are not hit by every queued message at once. A
//! message is retried for as long as its endpoint may still recover: until the endpoint is
//! disabled, which happens when it has failed without a single success for 3 days. The
//! numbers are configuration so that the tests can run them in seconds.

use crate::time::UnixMillis;

/// The retry schedule and the endpoint's patience.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The wait after the first failure; doubled after each one.
    pub first_retry_ms: u64,
    /// The longest wait between attempts.
    pub max_retry_ms: u64,
    /// An endpoint that has failed for this long without a success is disabled; its
    /// messages stop being retried.
    pub disable_after_ms: u64,
}

impl RetryPolicy {
    pub const DEFAULT: RetryPolicy = RetryPolicy {
        first_retry_ms: 5_000,
        max_retry_ms: 60 * 60 * 1000,
        disable_after_ms: 3 * 24 * 60 * 60 * 1000,
    };

    /// When to try again after the `failures`-th failed attempt (1 for the first), at
    /// `now`. `jitter` is a uniformly random `u32`: the wait is scaled by 0.8 to 1.2.
    pub fn next_attempt(&self, failures: u32, now: UnixMillis, jitter: u32) -> UnixMillis {
        let doublings = failures.saturating_sub(1).min(40);
        let wait = self
            .first_retry_ms
            .saturating_mul(1u64 << doublings)
            .min(self.max_retry_ms);
        // wait × (0.8 + 0.4 × jitter / 2^32), in integers.
        let spread = wait / 5 * 2;
        let jittered = wait - wait / 5 + ((u128::from(spread) * u128::from(jitter)) >> 32) as u64;
        UnixMillis(now.0.saturating_add(jittered.max(1)))
    }
}

/// An endpoint's record of failure.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Health {
    /// The first failure since the last success, while failing.
    pub failing_since: Option<UnixMillis>,
    pub disabled_at: Option<UnixMillis>,
}

/// What an attempt's outcome did to an endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HealthChange {
    Unchanged,
    Recovered,
    Disabled,
}

impl Health {
    pub fn is_disabled(&self) -> bool {
        self.disabled_at.is_some()
    }

    /// A delivery succeeded (a 2xx answer).
    pub fn succeeded(&mut self) -> HealthChange {
        match self.failing_since.take() {
            Some(_) => HealthChange::Recovered,
            None => HealthChange::Unchanged,
        }
    }

    /// A delivery failed at `now`. The endpoint is disabled once it has been failing for
    /// `disable_after_ms`, to the millisecond.
    pub fn failed(&mut self, now: UnixMillis, policy: &RetryPolicy) -> HealthChange {
        if self.is_disabled() {
            return HealthChange::Unchanged;
        }
        let since = *self.failing_since.get_or_insert(now);
        if now.0.saturating_sub(since.0) >= policy.disable_after_ms {
            self.disabled_at = Some(now);
            return HealthChange::Disabled;
        }
        HealthChange::Unchanged
    }

    /// Enabled again by its owner: a fresh start.
    pub fn enable(&mut self) {
        *self = Health::default();
    }
}

/// Whether an HTTP status is a delivery. Redirects are not followed (the URL is the one
/// the owner registered), so a 3xx is a failure.
pub fn is_delivered(status: u16) -> bool {
    (200..300).contains(&status)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: UnixMillis = UnixMillis(1_800_000_000_000);

    #[test]
    fn waits_double_from_five_seconds_up_to_an_hour_within_twenty_percent() {
        let policy = RetryPolicy::DEFAULT;
        let wait = |failures, jitter| policy.next_attempt(failures, NOW, jitter).0 - NOW.0;
        // Jitter at its extremes: 0.8× and (just under) 1.2×.
        assert_eq!(wait(1, 0), 4_000);
        assert_eq!(wait(1, u32::MAX), 5_999);
        assert_eq!(wait(1, 1 << 31), 5_000, "the middle is the nominal wait");
        assert_eq!(wait(2, 1 << 31), 10_000);
        assert_eq!(wait(3, 1 << 31), 20_000);
        assert_eq!(wait(10, 1 << 31), 2_560_000);
        assert_eq!(wait(11, 1 << 31), 3_600_000, "capped at an hour");
        assert_eq!(wait(1_000, 1 << 31), 3_600_000, "no overflow");
    }

    #[test]
    fn retries_span_more_than_a_day_before_an_endpoint_is_disabled() {
        let policy = RetryPolicy::DEFAULT;
        let mut health = Health::default();
        let mut now = NOW;
        let mut attempts = 0;
        loop {
            attempts += 1;
            if health.failed(now, &policy) == HealthChange::Disabled {
                break;
            }
            // The shortest waits jitter allows: the most attempts.
            now = policy.next_attempt(attempts, now, 0);
        }
        assert!(now.0 - NOW.0 >= 24 * 60 * 60 * 1000);
        assert!(now.0 - NOW.0 >= policy.disable_after_ms);
        // About 80 attempts at nominal waits; at the shortest jitter allows, about 100.
        assert!((70..=110).contains(&attempts), "{attempts}");
    }

    #[test]
    fn an_endpoint_is_disabled_after_failing_for_exactly_the_limit() {
        let policy = RetryPolicy {
            first_retry_ms: 10,
            max_retry_ms: 100,
            disable_after_ms: 1_000,
        };
        let mut health = Health::default();
        assert_eq!(health.failed(NOW, &policy), HealthChange::Unchanged);
        assert_eq!(health.failing_since, Some(NOW));
        assert_eq!(
            health.failed(UnixMillis(NOW.0 + 999), &policy),
            HealthChange::Unchanged,
            "a millisecond before the limit"
        );
        assert_eq!(
            health.failed(UnixMillis(NOW.0 + 1_000), &policy),
            HealthChange::Disabled
        );
        assert!(health.is_disabled());
        assert_eq!(
            health.failed(UnixMillis(NOW.0 + 2_000), &policy),
            HealthChange::Unchanged
        );
        health.enable();
        assert_eq!(health, Health::default());
    }

    #[test]
    fn a_success_resets_the_failure_clock() {
        let policy = RetryPolicy {
            first_retry_ms: 10,
            max_retry_ms: 100,
            disable_after_ms: 1_000,
        };
        let mut health = Health::default();
        health.failed(NOW, &policy);
        assert_eq!(health.succeeded(), HealthChange::Recovered);
        assert_eq!(health.succeeded(), HealthChange::Unchanged);
        assert_eq!(
            health.failed(UnixMillis(NOW.0 + 1_500), &policy),
            HealthChange::Unchanged,
            "failing again starts a new period"
        );
    }

    #[test]
    fn only_2xx_is_delivered() {
        assert!(is_delivered(200));
        assert!(is_delivered(204));
        assert!(is_delivered(299));
        for status in [100, 199, 300, 301, 304, 400, 410, 429, 500, 503] {
            assert!(!is_delivered(status), "{status}");
        }
    }
}
