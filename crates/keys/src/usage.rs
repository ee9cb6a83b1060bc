//! Usage counting in batches: requests per key and hour, buffered in memory and written
//! out together, at most [`UsageBatcher::flush_after_ms`] after the first request of a
//! batch or once it holds [`UsageBatcher::flush_after_requests`] requests.
//!
//! The same batcher serves the edge isolate (which sends its batches to each
//! application's key ring) and the key ring (which writes them to its storage).

use crate::hashing::{self, Map};
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use crate::format::{ApplicationId, KeyId};
use crate::time::UnixMillis;

pub const HOUR_MS: u64 = 60 * 60 * 1000;

/// Requests with one key in one hour.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageCount {
    pub key_id: KeyId,
    /// Hours since the Unix epoch.
    pub hour: u64,
    pub requests: u32,
    pub last_used_at: UnixMillis,
}

/// What recording a request changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Recorded {
    /// This request started a new batch: its flush deadline is now set.
    pub started_batch: bool,
    /// The batch should be written out now.
    pub due: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageBatcher {
    counts: Map<(ApplicationId, KeyId, u64), (u32, UnixMillis)>,
    started_at: Option<UnixMillis>,
    requests: u32,
    pub flush_after_ms: u64,
    pub flush_after_requests: u32,
}

impl UsageBatcher {
    pub fn new(flush_after_ms: u64, flush_after_requests: u32) -> Self {
        UsageBatcher {
            counts: hashing::map(),
            started_at: None,
            requests: 0,
            flush_after_ms,
            flush_after_requests,
        }
    }

    /// Counts `requests` with `key_id` at `at`.
    pub fn record(
        &mut self,
        application: ApplicationId,
        key_id: KeyId,
        requests: u32,
        at: UnixMillis,
    ) -> Recorded {
        let entry = self
            .counts
            .entry((application, key_id, at.0 / HOUR_MS))
            .or_insert((0, at));
        entry.0 = entry.0.saturating_add(requests);
        entry.1 = entry.1.max(at);
        self.requests = self.requests.saturating_add(requests);
        let started_batch = self.started_at.is_none();
        if started_batch {
            self.started_at = Some(at);
        }
        Recorded {
            started_batch,
            due: self.is_due(at),
        }
    }

    /// When the current batch must be written out, if there is one.
    pub fn deadline(&self) -> Option<UnixMillis> {
        self.started_at
            .map(|start| UnixMillis(start.0.saturating_add(self.flush_after_ms)))
    }

    pub fn is_due(&self, now: UnixMillis) -> bool {
        self.requests >= self.flush_after_requests || self.deadline().is_some_and(|at| now >= at)
    }

    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    /// Empties the batch, returning its counts grouped by application.
    pub fn take(&mut self) -> Vec<(ApplicationId, Vec<UsageCount>)> {
        let mut counts: Vec<_> = self.counts.drain().collect();
        self.started_at = None;
        self.requests = 0;
        // In order, so that each application's counts are together.
        counts.sort_unstable_by_key(|(key, _)| *key);
        let mut grouped: Vec<(ApplicationId, Vec<UsageCount>)> = Vec::new();
        for ((application, key_id, hour), (requests, last_used_at)) in counts {
            let count = UsageCount {
                key_id,
                hour,
                requests,
                last_used_at,
            };
            match grouped.last_mut() {
                Some((app, list)) if *app == application => list.push(count),
                _ => grouped.push((application, alloc::vec![count])),
            }
        }
        grouped
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn app(n: u8) -> ApplicationId {
        ApplicationId::parse(&alloc::format!("app_{}AAAAAAAAAAAAAAA", n % 10)).unwrap()
    }

    fn key(n: u8) -> KeyId {
        KeyId::parse(&alloc::format!("key_{}BBBBBBBBBBBBBBB", n % 10)).unwrap()
    }

    #[test]
    fn a_batch_is_due_after_its_time_or_its_size() {
        let mut batcher = UsageBatcher::new(5_000, 3);
        let first = batcher.record(app(1), key(1), 1, UnixMillis(10_000));
        assert_eq!(
            first,
            Recorded {
                started_batch: true,
                due: false
            }
        );
        assert_eq!(batcher.deadline(), Some(UnixMillis(15_000)));
        assert!(!batcher.is_due(UnixMillis(14_999)));
        assert!(batcher.is_due(UnixMillis(15_000)));
        let second = batcher.record(app(1), key(1), 1, UnixMillis(11_000));
        assert!(!second.started_batch && !second.due);
        assert!(
            batcher.record(app(2), key(2), 1, UnixMillis(11_000)).due,
            "3 requests"
        );
        let taken = batcher.take();
        assert_eq!(taken.len(), 2);
        assert_eq!(taken[0].1[0].requests + taken[1].1[0].requests, 3);
        assert!(batcher.is_empty() && batcher.deadline().is_none());
        assert!(
            batcher
                .record(app(1), key(1), 1, UnixMillis(20_000))
                .started_batch
        );
    }

    #[test]
    fn counts_are_kept_per_hour() {
        let mut batcher = UsageBatcher::new(u64::MAX, u32::MAX);
        batcher.record(app(1), key(1), 2, UnixMillis(HOUR_MS - 1));
        batcher.record(app(1), key(1), 3, UnixMillis(HOUR_MS));
        let taken = batcher.take();
        let hours: Vec<(u64, u32, UnixMillis)> = taken[0]
            .1
            .iter()
            .map(|c| (c.hour, c.requests, c.last_used_at))
            .collect();
        assert_eq!(
            hours,
            [(0, 2, UnixMillis(HOUR_MS - 1)), (1, 3, UnixMillis(HOUR_MS))]
        );
    }

    proptest! {
        /// Nothing is lost or counted twice, whatever the mix of applications and keys.
        #[test]
        fn every_request_is_counted_once(records in proptest::collection::vec((0u8..3, 0u8..3, 1u32..5, 0u64..10 * HOUR_MS), 0..100)) {
            let mut batcher = UsageBatcher::new(1_000, 10_000);
            let mut expected = 0u64;
            let mut counted = 0u64;
            for (a, k, n, at) in records {
                batcher.record(app(a), key(k), n, UnixMillis(at));
                expected += u64::from(n);
                if batcher.is_due(UnixMillis(at)) {
                    counted += batcher.take().iter().flat_map(|(_, c)| c).map(|c| u64::from(c.requests)).sum::<u64>();
                }
            }
            counted += batcher.take().iter().flat_map(|(_, c)| c).map(|c| u64::from(c.requests)).sum::<u64>();
            prop_assert_eq!(counted, expected);
        }
    }
}
