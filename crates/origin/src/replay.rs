//! A bounded replay cache: each accepted `jti` is held until it expires, never evicted
//! earlier; when full of unexpired entries, new tokens are refused rather than an older
//! one forgotten (which would let it be replayed).

use std::collections::{BTreeMap, HashMap};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    Fresh,
    Replayed,
    Full,
}

#[derive(Debug)]
pub(crate) struct ReplayCache {
    max_entries: usize,
    /// jti → the second it may be forgotten after.
    held: HashMap<String, i64>,
    /// That second → the jtis held until then.
    by_expiry: BTreeMap<i64, Vec<String>>,
}

impl ReplayCache {
    pub(crate) fn new(max_entries: usize) -> Self {
        ReplayCache {
            max_entries,
            held: HashMap::new(),
            by_expiry: BTreeMap::new(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.held.len()
    }

    /// Records `jti` until `until` (Unix seconds), `now` in Unix seconds.
    pub(crate) fn remember(&mut self, jti: &str, until: i64, now: i64) -> Verdict {
        self.purge(now);
        if self.held.contains_key(jti) {
            return Verdict::Replayed;
        }
        if self.held.len() >= self.max_entries {
            return Verdict::Full;
        }
        self.held.insert(jti.to_owned(), until);
        self.by_expiry
            .entry(until)
            .or_default()
            .push(jti.to_owned());
        Verdict::Fresh
    }

    /// Forgets every entry whose second has passed.
    fn purge(&mut self, now: i64) {
        while let Some(entry) = self.by_expiry.first_entry() {
            if *entry.key() >= now {
                break;
            }
            for jti in entry.remove() {
                self.held.remove(&jti);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_each_entry_until_it_expires_and_refuses_when_full() {
        let mut cache = ReplayCache::new(2);
        assert_eq!(cache.remember("a", 100, 50), Verdict::Fresh);
        assert_eq!(cache.remember("a", 100, 60), Verdict::Replayed);
        assert_eq!(cache.remember("b", 101, 60), Verdict::Fresh);
        assert_eq!(cache.remember("c", 102, 60), Verdict::Full);
        // Still held at its second; gone after it.
        assert_eq!(cache.remember("a", 100, 100), Verdict::Replayed);
        assert_eq!(cache.remember("c", 160, 101), Verdict::Fresh);
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.remember("a", 161, 101), Verdict::Full);
        assert_eq!(cache.remember("a", 161, 102), Verdict::Fresh);
        assert_eq!(cache.len(), 2);
    }
}
