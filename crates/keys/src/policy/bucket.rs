//! A token bucket: what limits the management changes one application may make. `burst`
//! changes at once, then `per_minute` a minute, refilled continuously. Kept exactly by the
//! application's key ring, which sees every change; time is passed in.

use core::fmt::Write;

use alloc::string::String;

use crate::policy::RateDecision;
use crate::time::UnixMillis;

/// Thousandths of a token, so that refills are exact to the millisecond at any rate.
const MILLI: u64 = 1_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenBucket {
    /// Tokens added per minute (at least 1).
    pub per_minute: u32,
    /// Tokens held at most: the changes allowed at once (at least 1).
    pub burst: u32,
}

/// A bucket's state. A new one is full.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Bucket {
    /// Thousandths of a token, or `None` before the first take (full).
    milli_tokens: Option<u64>,
    updated_at: UnixMillis,
}

impl TokenBucket {
    fn capacity(&self) -> u64 {
        u64::from(self.burst.max(1)) * MILLI
    }

    /// Thousandths of a token added per millisecond, times 60,000: kept as a ratio.
    fn refill(&self, bucket: &Bucket, now: UnixMillis) -> u64 {
        let held = bucket.milli_tokens.unwrap_or(self.capacity());
        let elapsed = now.0.saturating_sub(bucket.updated_at.0);
        // per_minute tokens per 60,000 ms = per_minute thousandths per 60 ms.
        let added = elapsed.saturating_mul(u64::from(self.per_minute.max(1))) / 60;
        held.saturating_add(added).min(self.capacity())
    }

    /// Takes one token at `now` if there is one.
    pub fn take(&self, bucket: &mut Bucket, now: UnixMillis) -> RateDecision {
        let mut held = self.refill(bucket, now);
        let allowed = held >= MILLI;
        if allowed {
            held -= MILLI;
        }
        *bucket = Bucket {
            milli_tokens: Some(held),
            updated_at: now,
        };
        // Until the next whole token: (MILLI - fraction) thousandths at per_minute/60 per ms.
        let missing = MILLI - held % MILLI;
        let wait_ms = (missing * 60).div_ceil(u64::from(self.per_minute.max(1)));
        RateDecision {
            allowed,
            remaining: u32::try_from(held / MILLI).unwrap_or(u32::MAX),
            reset_after_seconds: wait_ms.div_ceil(1000).max(1),
        }
    }

    /// `RateLimit-Policy` (draft-ietf-httpapi-ratelimit-headers): `burst` changes per the
    /// time it takes to refill them.
    pub fn policy_header(&self) -> String {
        let window =
            (u64::from(self.burst.max(1)) * 60).div_ceil(u64::from(self.per_minute.max(1)));
        let mut out = String::new();
        let _ = write!(out, "\"management\";q={};w={}", self.burst, window);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: UnixMillis = UnixMillis(1_800_000_000_000);

    fn at(ms: u64) -> UnixMillis {
        UnixMillis(T0.0 + ms)
    }

    #[test]
    fn a_full_bucket_allows_the_burst_then_one_token_per_interval() {
        let limit = TokenBucket {
            per_minute: 60,
            burst: 3,
        };
        let mut bucket = Bucket::default();
        for remaining in [2, 1, 0] {
            let decision = limit.take(&mut bucket, T0);
            assert!(decision.allowed);
            assert_eq!(decision.remaining, remaining);
        }
        let refused = limit.take(&mut bucket, T0);
        assert!(!refused.allowed);
        assert_eq!(refused.reset_after_seconds, 1);
        // 60 a minute: one token each 1,000 ms, exactly.
        assert!(!limit.take(&mut bucket, at(999)).allowed);
        assert!(limit.take(&mut bucket, at(1_000)).allowed);
        assert!(!limit.take(&mut bucket, at(1_999)).allowed);
        assert!(limit.take(&mut bucket, at(2_000)).allowed);
        // Idle for long: full again, never more than the burst.
        for _ in 0..3 {
            assert!(limit.take(&mut bucket, at(3_600_000)).allowed);
        }
        assert!(!limit.take(&mut bucket, at(3_600_000)).allowed);
    }

    #[test]
    fn refused_takes_cost_nothing_and_slow_rates_wait_longer() {
        let limit = TokenBucket {
            per_minute: 2,
            burst: 1,
        };
        let mut bucket = Bucket::default();
        assert!(limit.take(&mut bucket, T0).allowed);
        // One token each 30 s; refusals in between do not push the next one back.
        for ms in [1, 10_000, 29_999] {
            let refused = limit.take(&mut bucket, at(ms));
            assert!(!refused.allowed, "{ms}");
        }
        assert_eq!(limit.take(&mut bucket, at(29_000)).reset_after_seconds, 1);
        assert!(limit.take(&mut bucket, at(30_000)).allowed);
        let refused = limit.take(&mut bucket, at(30_000));
        assert_eq!(refused.reset_after_seconds, 30);
        assert_eq!(limit.policy_header(), "\"management\";q=1;w=30");
    }

    proptest::proptest! {
        /// Over any span, no more than `burst + per_minute × minutes` changes pass.
        #[test]
        fn never_more_than_the_burst_plus_the_refill(
            per_minute in 1u32..200,
            burst in 1u32..50,
            gaps in proptest::collection::vec(0u64..5_000, 1..300),
        ) {
            let limit = TokenBucket { per_minute, burst };
            let mut bucket = Bucket::default();
            let mut now = T0;
            let mut allowed = 0u64;
            for gap in gaps {
                now = UnixMillis(now.0 + gap);
                if limit.take(&mut bucket, now).allowed {
                    allowed += 1;
                }
            }
            let span = now.0 - T0.0;
            let bound = u64::from(burst) + span * u64::from(per_minute) / 60_000;
            proptest::prop_assert!(allowed <= bound, "{} > {}", allowed, bound);
        }
    }
}
