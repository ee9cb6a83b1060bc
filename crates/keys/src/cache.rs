//! A small per-isolate cache of edge records (edge mode): a key used again within
//! `ttl_ms` is answered without a KV read. It only holds records KV returned, never the
//! absence of one, so a new key is never refused because of it; and it adds `ttl_ms` to
//! edge mode's revocation bound, which the receipts and README state.

use alloc::string::String;

use crate::hashing::{self, Map};
use crate::time::UnixMillis;

pub struct RecordCache<V> {
    ttl_ms: u64,
    capacity: usize,
    entries: Map<String, (V, UnixMillis)>,
}

impl<V: Clone> RecordCache<V> {
    pub fn new(ttl_ms: u64, capacity: usize) -> Self {
        RecordCache {
            ttl_ms,
            capacity,
            entries: hashing::map(),
        }
    }

    /// The record fetched for `key` less than the TTL ago.
    pub fn get(&self, key: &str, now: UnixMillis) -> Option<V> {
        let (value, fetched_at) = self.entries.get(key)?;
        (now.0 < fetched_at.0.saturating_add(self.ttl_ms)).then(|| value.clone())
    }

    /// Keeps a record KV returned at `now`. When full, expired entries go first, then all.
    pub fn put(&mut self, key: String, value: V, now: UnixMillis) {
        if self.ttl_ms == 0 {
            return;
        }
        if self.entries.len() >= self.capacity && !self.entries.contains_key(&key) {
            let ttl = self.ttl_ms;
            self.entries
                .retain(|_, (_, at)| now.0 < at.0.saturating_add(ttl));
            if self.entries.len() >= self.capacity {
                self.entries.clear();
            }
        }
        self.entries.insert(key, (value, now));
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: UnixMillis = UnixMillis(1_800_000_000_000);

    #[test]
    fn a_record_is_served_until_exactly_its_ttl() {
        let mut cache = RecordCache::new(5_000, 10);
        cache.put("a".into(), 1, T);
        assert_eq!(cache.get("a", T), Some(1));
        assert_eq!(cache.get("a", UnixMillis(T.0 + 4_999)), Some(1));
        assert_eq!(
            cache.get("a", UnixMillis(T.0 + 5_000)),
            None,
            "then KV again"
        );
        assert_eq!(cache.get("b", T), None);
    }

    #[test]
    fn a_zero_ttl_caches_nothing_and_a_full_cache_makes_room() {
        let mut off = RecordCache::new(0, 10);
        off.put("a".into(), 1, T);
        assert!(off.is_empty());
        let mut cache = RecordCache::new(1_000, 2);
        cache.put("a".into(), 1, T);
        cache.put("b".into(), 2, UnixMillis(T.0 + 900));
        // Full: "a" has expired by then and goes; "b" stays.
        cache.put("c".into(), 3, UnixMillis(T.0 + 1_000));
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.get("b", UnixMillis(T.0 + 1_000)), Some(2));
        // Full of live entries: it starts afresh rather than grow.
        cache.put("d".into(), 4, UnixMillis(T.0 + 1_001));
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.get("d", UnixMillis(T.0 + 1_001)), Some(4));
    }
}
