//! The hash maps the gate keeps per isolate: its record cache, rate windows, usage batch,
//! blocked addresses and known applications.
//!
//! hashbrown rather than `BTreeMap`: each `BTreeMap<K, V>` compiles its own copy of the
//! B-tree's node code, and with five of them the gate's wasm was 6 KB gzipped larger
//! (measured, about a tenth of it). Clients choose these keys (addresses, forged key and
//! application ids), so each map's hasher is keyed by a seed drawn from the CSPRNG when
//! the map is made: the positions are not predictable from outside, and a flood of
//! colliding keys cannot be prepared. Every map is also capped by its owner.

use foldhash::fast::FixedState;

use crate::random::{RandomSource, SystemRandom};

pub type Map<K, V> = hashbrown::HashMap<K, V, FixedState>;
pub type Set<K> = hashbrown::HashSet<K, FixedState>;

/// An empty map with a fresh random seed.
pub fn map<K, V>() -> Map<K, V> {
    Map::with_hasher(seeded())
}

/// An empty set with a fresh random seed.
pub fn set<K>() -> Set<K> {
    Set::with_hasher(seeded())
}

fn seeded() -> FixedState {
    let mut seed = [0u8; 8];
    // Without the CSPRNG (it does not fail in Workers) the maps still work, with a seed
    // an attacker could learn: the caps bound what that costs.
    let _ = SystemRandom.fill_bytes(&mut seed);
    FixedState::with_seed(u64::from_le_bytes(seed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::hash::BuildHasher;

    #[test]
    fn each_map_hashes_with_its_own_seed() {
        let (a, b) = (seeded(), seeded());
        assert_ne!(a.hash_one("203.0.113.9"), b.hash_one("203.0.113.9"));
        let mut map = map();
        map.insert("k", 1);
        assert_eq!(map.get("k"), Some(&1));
    }
}
