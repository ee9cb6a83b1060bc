//! A durable outbox's rules, kept pure: what is pending, in what order it is sent, what a
//! success or a failure changes, and when to try again.
//!
//! The key ring mirrors each key's state into Workers KV through one of these. Each key
//! has at most one entry, holding its newest state and a version; a write that finishes
//! after a newer state was queued acknowledges an old version and so leaves the entry in
//! place, to be written again. Writes are sent one at a time, so the newest state is
//! always the last one written. The owner keeps the entries in durable storage as well,
//! so nothing is lost when it restarts.

use alloc::vec::Vec;

use crate::time::UnixMillis;

/// Exponential backoff: `base_ms`, doubled each attempt, at most `max_ms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    pub base_ms: u64,
    pub max_ms: u64,
}

impl Backoff {
    /// The wait after `attempts` failed attempts (1 or more).
    pub fn delay_ms(&self, attempts: u32) -> u64 {
        let doublings = attempts.saturating_sub(1).min(32);
        self.base_ms.saturating_mul(1 << doublings).min(self.max_ms)
    }

    /// The same wait with "equal jitter": half of it fixed, half chosen by `random`, so
    /// that many senders failing together do not retry together.
    pub fn jittered_ms(&self, attempts: u32, random: u64) -> u64 {
        let delay = self.delay_ms(attempts);
        let half = delay / 2;
        half + random % (delay - half + 1)
    }
}

/// One pending delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry<K, V> {
    pub key: K,
    pub value: V,
    /// Increases each time the entry's value is replaced.
    pub version: u64,
    /// Failed attempts since the value was last replaced.
    pub attempts: u32,
    /// Not to be sent before this instant (a retry's backoff).
    pub not_before: UnixMillis,
    /// Sending order: the order entries were first queued.
    pub seq: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outbox<K, V> {
    entries: Vec<Entry<K, V>>,
    next_seq: u64,
    backoff: Backoff,
}

impl<K: PartialEq + Clone, V: Clone> Outbox<K, V> {
    pub fn new(backoff: Backoff) -> Self {
        Self::from_entries(backoff, Vec::new())
    }

    /// Rebuilds an outbox from stored entries.
    pub fn from_entries(backoff: Backoff, mut entries: Vec<Entry<K, V>>) -> Self {
        entries.sort_by_key(|entry| entry.seq);
        let next_seq = entries.last().map_or(0, |entry| entry.seq + 1);
        Outbox {
            entries,
            next_seq,
            backoff,
        }
    }

    /// Queues `value` for `key`, replacing any pending value for it. Returns the entry to
    /// store. A replaced entry keeps its place in the order and is due at once.
    pub fn enqueue(&mut self, key: K, value: V, now: UnixMillis) -> &Entry<K, V> {
        let index = match self.entries.iter().position(|entry| entry.key == key) {
            Some(index) => {
                let entry = &mut self.entries[index];
                entry.value = value;
                entry.version += 1;
                entry.attempts = 0;
                entry.not_before = now;
                index
            }
            None => {
                self.entries.push(Entry {
                    key,
                    value,
                    version: 1,
                    attempts: 0,
                    not_before: now,
                    seq: self.next_seq,
                });
                self.next_seq += 1;
                self.entries.len() - 1
            }
        };
        &self.entries[index]
    }

    /// Entries that may be sent now, in sending order.
    pub fn due(&self, now: UnixMillis) -> Vec<Entry<K, V>> {
        self.entries
            .iter()
            .filter(|entry| entry.not_before <= now)
            .cloned()
            .collect()
    }

    /// Whether a value for `key` still waits to be delivered.
    pub fn is_pending(&self, key: &K) -> bool {
        self.entries.iter().any(|entry| entry.key == *key)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// `version` of `key` was delivered. Returns whether the entry is done (removed); a
    /// newer version queued meanwhile stays.
    pub fn delivered(&mut self, key: &K, version: u64) -> bool {
        let before = self.entries.len();
        self.entries
            .retain(|entry| !(entry.key == *key && entry.version == version));
        self.entries.len() < before
    }

    /// Sending `version` of `key` failed at `now`: it waits for its backoff. Returns the
    /// updated entry to store, or `None` if a newer version replaced it meanwhile (that
    /// one is due at once and keeps its own count).
    pub fn failed(&mut self, key: &K, version: u64, now: UnixMillis) -> Option<&Entry<K, V>> {
        let backoff = self.backoff;
        let entry = self
            .entries
            .iter_mut()
            .find(|entry| entry.key == *key && entry.version == version)?;
        entry.attempts = entry.attempts.saturating_add(1);
        entry.not_before = UnixMillis(now.0.saturating_add(backoff.delay_ms(entry.attempts)));
        Some(entry)
    }

    /// When the owner must wake to send what is pending.
    pub fn next_attempt(&self) -> Option<UnixMillis> {
        self.entries.iter().map(|entry| entry.not_before).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::collections::BTreeMap;
    use proptest::prelude::*;

    const BACKOFF: Backoff = Backoff {
        base_ms: 250,
        max_ms: 60_000,
    };

    #[test]
    fn backoff_doubles_up_to_its_cap_and_jitter_stays_within_it() {
        let delays: Vec<u64> = (1..=10).map(|a| BACKOFF.delay_ms(a)).collect();
        assert_eq!(
            delays,
            [250, 500, 1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000]
        );
        assert_eq!(BACKOFF.delay_ms(u32::MAX), 60_000);
        for random in [0, 1, 7, u64::MAX] {
            let jittered = BACKOFF.jittered_ms(3, random);
            assert!((500..=1000).contains(&jittered), "{jittered}");
        }
        assert_eq!(BACKOFF.jittered_ms(3, 0), 500);
        assert_eq!(BACKOFF.jittered_ms(3, 500), 1000);
    }

    #[test]
    fn a_late_acknowledgement_of_an_old_version_keeps_the_newer_state() {
        let mut outbox = Outbox::new(BACKOFF);
        let now = UnixMillis(0);
        let v1 = outbox.enqueue("k", "active", now).version;
        let in_flight = outbox.due(now);
        assert_eq!(in_flight.len(), 1);
        // Revoked while the write of "active" is in flight.
        let v2 = outbox.enqueue("k", "revoked", now).version;
        assert!(!outbox.delivered(&"k", v1));
        let due = outbox.due(now);
        assert_eq!((due[0].value, due[0].version), ("revoked", v2));
        assert!(outbox.is_pending(&"k"));
        assert!(outbox.delivered(&"k", v2));
        assert!(!outbox.is_pending(&"k"));
        assert!(outbox.is_empty());
    }

    #[test]
    fn failures_back_off_and_a_new_value_is_due_at_once() {
        let mut outbox = Outbox::new(BACKOFF);
        outbox.enqueue("a", 1, UnixMillis(0));
        outbox.enqueue("b", 2, UnixMillis(0));
        let failed = outbox.failed(&"a", 1, UnixMillis(1_000)).unwrap();
        assert_eq!((failed.attempts, failed.not_before), (1, UnixMillis(1_250)));
        assert_eq!(outbox.due(UnixMillis(1_000)).len(), 1, "only b");
        assert_eq!(outbox.next_attempt(), Some(UnixMillis(0)));
        assert!(outbox.delivered(&"b", 1));
        assert_eq!(outbox.next_attempt(), Some(UnixMillis(1_250)));
        outbox.failed(&"a", 1, UnixMillis(1_250));
        assert_eq!(outbox.next_attempt(), Some(UnixMillis(1_750)));
        // A newer state replaces the failing one and is due at once, its count reset.
        let entry = outbox.enqueue("a", 3, UnixMillis(1_300));
        assert_eq!((entry.version, entry.attempts, entry.seq), (2, 0, 0));
        assert_eq!(outbox.due(UnixMillis(1_300)).len(), 1);
        assert!(outbox.failed(&"a", 1, UnixMillis(1_300)).is_none(), "stale");
    }

    #[test]
    fn order_survives_a_reload() {
        let mut outbox = Outbox::new(BACKOFF);
        for key in ["x", "y", "z"] {
            outbox.enqueue(key, 0, UnixMillis(0));
        }
        outbox.enqueue("x", 1, UnixMillis(0));
        let mut stored = outbox.due(UnixMillis(0));
        stored.reverse();
        let reloaded = Outbox::from_entries(BACKOFF, stored);
        let keys: Vec<_> = reloaded.due(UnixMillis(0)).iter().map(|e| e.key).collect();
        assert_eq!(keys, ["x", "y", "z"]);
        let mut reloaded = reloaded;
        assert_eq!(reloaded.enqueue("w", 0, UnixMillis(0)).seq, 3);
    }

    #[derive(Clone, Debug)]
    enum Step {
        /// Queue a new state for key `k`.
        Change(u8),
        /// Start sending the first due entry (if nothing is in flight).
        Send,
        /// The write in flight lands in KV.
        Land,
        /// The write in flight fails.
        Fail,
        /// Time passes.
        Wait(u16),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (0u8..4).prop_map(Step::Change),
            Just(Step::Send),
            Just(Step::Land),
            Just(Step::Fail),
            (0u16..2_000).prop_map(Step::Wait),
        ]
    }

    proptest! {
        /// Whatever interleaving of changes, sends, successes and failures, draining the
        /// outbox leaves KV holding each key's newest state, and nothing is pending.
        #[test]
        fn kv_ends_at_the_newest_state(steps in proptest::collection::vec(step(), 0..200)) {
            let mut outbox = Outbox::new(BACKOFF);
            let mut kv: BTreeMap<u8, u32> = BTreeMap::new();
            let mut newest: BTreeMap<u8, u32> = BTreeMap::new();
            let mut in_flight: Option<Entry<u8, u32>> = None;
            let mut now = UnixMillis(0);
            let mut counter = 0u32;
            let mut run = |step: &Step, outbox: &mut Outbox<u8, u32>, in_flight: &mut Option<Entry<u8, u32>>, now: &mut UnixMillis| {
                match *step {
                    Step::Change(k) => {
                        counter += 1;
                        newest.insert(k, counter);
                        outbox.enqueue(k, counter, *now);
                    }
                    Step::Send => {
                        if in_flight.is_none() {
                            *in_flight = outbox.due(*now).into_iter().next();
                        }
                    }
                    Step::Land => {
                        if let Some(entry) = in_flight.take() {
                            kv.insert(entry.key, entry.value);
                            outbox.delivered(&entry.key, entry.version);
                        }
                    }
                    Step::Fail => {
                        if let Some(entry) = in_flight.take() {
                            outbox.failed(&entry.key, entry.version, *now);
                        }
                    }
                    Step::Wait(ms) => *now = UnixMillis(now.0 + u64::from(ms)),
                }
            };
            for s in &steps {
                run(s, &mut outbox, &mut in_flight, &mut now);
            }
            // Drain: let the in-flight write land, then send everything as it comes due.
            run(&Step::Land, &mut outbox, &mut in_flight, &mut now);
            let mut rounds = 0;
            while let Some(at) = outbox.next_attempt() {
                now = now.max(at);
                run(&Step::Send, &mut outbox, &mut in_flight, &mut now);
                run(&Step::Land, &mut outbox, &mut in_flight, &mut now);
                rounds += 1;
                prop_assert!(rounds < 1_000);
            }
            prop_assert_eq!(kv, newest);
        }
    }
}
