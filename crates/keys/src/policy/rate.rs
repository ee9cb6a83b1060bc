//! Per-key rate limits in fixed windows: `requests` per `per_seconds`, windows aligned to
//! multiples of `per_seconds` since the Unix epoch, so every counter of a key agrees on
//! where a window starts. Refused requests do not count.

use core::fmt::Write;

use alloc::string::String;
use serde::{Deserialize, Serialize};

use crate::time::UnixMillis;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    #[serde(deserialize_with = "crate::number::whole_u32")]
    pub requests: u32,
    #[serde(deserialize_with = "crate::number::whole_u32")]
    pub per_seconds: u32,
}

/// The count of one key in its current window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Window {
    pub started_at: UnixMillis,
    pub count: u32,
}

/// What a rate limit says about one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateDecision {
    pub allowed: bool,
    /// Requests left in this window after this one.
    pub remaining: u32,
    /// Seconds until the window ends (rounded up, at least 1).
    pub reset_after_seconds: u64,
}

impl RateLimit {
    pub const MAX_REQUESTS: u32 = 1_000_000;
    pub const MAX_SECONDS: u32 = 86_400;

    pub fn is_valid(&self) -> bool {
        (1..=Self::MAX_REQUESTS).contains(&self.requests)
            && (1..=Self::MAX_SECONDS).contains(&self.per_seconds)
    }

    fn window_ms(&self) -> u64 {
        u64::from(self.per_seconds.max(1)) * 1000
    }

    pub fn window_start(&self, now: UnixMillis) -> UnixMillis {
        UnixMillis(now.0 - now.0 % self.window_ms())
    }

    /// Counts a request at `now` against `window` (starting a new window when the last
    /// one has ended), unless that would go past the limit.
    pub fn hit(&self, window: &mut Window, now: UnixMillis) -> RateDecision {
        let start = self.window_start(now);
        if window.started_at != start {
            *window = Window {
                started_at: start,
                count: 0,
            };
        }
        let allowed = window.count < self.requests;
        if allowed {
            window.count += 1;
        }
        let end = start.0 + self.window_ms();
        RateDecision {
            allowed,
            // saturating: a window counted under a higher limit, before the key's policy
            // was lowered, may hold more than the new limit.
            remaining: self.requests.saturating_sub(window.count),
            reset_after_seconds: (end - now.0).div_ceil(1000).max(1),
        }
    }

    /// `RateLimit-Policy`, as the IETF draft (draft-ietf-httpapi-ratelimit-headers) writes
    /// it: `"key";q=100;w=60`.
    pub fn policy_header(&self) -> String {
        let mut out = String::new();
        let _ = write!(out, "\"key\";q={};w={}", self.requests, self.per_seconds);
        out
    }
}

impl RateDecision {
    /// `RateLimit`: `"key";r=<remaining>;t=<seconds to reset>`.
    pub fn header(&self) -> String {
        self.header_named("key")
    }

    /// `RateLimit` for the policy `name` (the name its `RateLimit-Policy` gives).
    pub fn header_named(&self, name: &str) -> String {
        let mut out = String::new();
        let _ = write!(
            out,
            "\"{name}\";r={};t={}",
            self.remaining, self.reset_after_seconds
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_limit_reads_whole_numbers_in_any_json_spelling() {
        // Found by schemathesis: 66326.0 is an integer to JSON Schema.
        let limit: RateLimit =
            serde_json::from_str(r#"{"requests":536.0,"per_seconds":60}"#).unwrap();
        assert_eq!((limit.requests, limit.per_seconds), (536, 60));
        for bad in [
            r#"{"requests":1.5,"per_seconds":60}"#,
            r#"{"requests":-1,"per_seconds":60}"#,
            r#"{"requests":4294967296,"per_seconds":60}"#,
            r#"{"requests":null,"per_seconds":60}"#,
            r#"{"per_seconds":60}"#,
        ] {
            assert!(serde_json::from_str::<RateLimit>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_last_request_inside_a_window_passes_and_the_first_past_it_does_not() {
        let limit = RateLimit {
            requests: 3,
            per_seconds: 10,
        };
        let mut window = Window::default();
        let at = |ms| UnixMillis(1_000_000 + ms);
        for (i, remaining) in [2, 1, 0].into_iter().enumerate() {
            let decision = limit.hit(&mut window, at(i as u64 * 100));
            assert!(decision.allowed);
            assert_eq!(decision.remaining, remaining);
        }
        let refused = limit.hit(&mut window, at(9_999));
        assert!(!refused.allowed);
        assert_eq!((refused.remaining, refused.reset_after_seconds), (0, 1));
        assert_eq!(window.count, 3, "refused requests do not count");
        // The window ends at exactly 1_010_000: the next one starts fresh.
        let next = limit.hit(&mut window, at(10_000));
        assert!(next.allowed);
        assert_eq!((next.remaining, next.reset_after_seconds), (2, 10));
    }

    #[test]
    fn headers_follow_the_ietf_draft() {
        let limit = RateLimit {
            requests: 100,
            per_seconds: 60,
        };
        assert_eq!(limit.policy_header(), "\"key\";q=100;w=60");
        let mut window = Window::default();
        let decision = limit.hit(&mut window, UnixMillis(60_000 * 5 + 48_500));
        assert_eq!(decision.header(), "\"key\";r=99;t=12");
    }

    #[test]
    fn limits_are_bounded() {
        assert!(RateLimit {
            requests: 1,
            per_seconds: 1
        }
        .is_valid());
        assert!(!RateLimit {
            requests: 0,
            per_seconds: 1
        }
        .is_valid());
        assert!(!RateLimit {
            requests: 1,
            per_seconds: 0
        }
        .is_valid());
        assert!(!RateLimit {
            requests: 1,
            per_seconds: 86_401
        }
        .is_valid());
        assert!(!RateLimit {
            requests: 1_000_001,
            per_seconds: 1
        }
        .is_valid());
    }

    proptest::proptest! {
        /// In any window, at most `requests` are allowed, whatever the arrival times.
        #[test]
        fn never_more_than_the_limit_per_window(requests in 1u32..20, per_seconds in 1u32..5, gaps in proptest::collection::vec(0u64..1500, 1..200)) {
            let limit = RateLimit { requests, per_seconds };
            let mut window = Window::default();
            let mut now = 0;
            let mut allowed: alloc::collections::BTreeMap<u64, u32> = Default::default();
            for gap in gaps {
                now += gap;
                if limit.hit(&mut window, UnixMillis(now)).allowed {
                    *allowed.entry(limit.window_start(UnixMillis(now)).0).or_default() += 1;
                }
            }
            proptest::prop_assert!(allowed.values().all(|n| *n <= requests));
        }

        /// Edge mode: each isolate keeps its own window, so a key spread over `isolates`
        /// may pass up to `isolates × requests` in a window, never more; and traffic that
        /// lands on one isolate gets exactly the limit. This is the bound README.md states.
        #[test]
        fn isolates_counting_alone_pass_at_most_their_number_times_the_limit(
            requests in 1u32..10,
            isolates in 1usize..6,
            arrivals in proptest::collection::vec((0usize..6, 0u64..400), 1..300),
        ) {
            let limit = RateLimit { requests, per_seconds: 1 };
            let mut windows = alloc::vec![Window::default(); isolates];
            let mut now = 0;
            let mut allowed: alloc::collections::BTreeMap<u64, u32> = Default::default();
            let mut one_isolate = Window::default();
            let mut allowed_by_one: alloc::collections::BTreeMap<u64, u32> = Default::default();
            let mut offered: alloc::collections::BTreeMap<u64, u32> = Default::default();
            for (isolate, gap) in arrivals {
                now += gap;
                let at = UnixMillis(now);
                let start = limit.window_start(at).0;
                *offered.entry(start).or_default() += 1;
                if limit.hit(&mut windows[isolate % isolates], at).allowed {
                    *allowed.entry(start).or_default() += 1;
                }
                if limit.hit(&mut one_isolate, at).allowed {
                    *allowed_by_one.entry(start).or_default() += 1;
                }
            }
            let bound = requests * isolates as u32;
            proptest::prop_assert!(allowed.values().all(|n| *n <= bound));
            for (start, offered) in offered {
                let by_one = allowed_by_one.get(&start).copied().unwrap_or(0);
                proptest::prop_assert_eq!(by_one, offered.min(requests));
            }
        }
    }
}
