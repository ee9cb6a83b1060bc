//! Regional validation: replicas of an application's key records, one per region (and
//! shard), each holding its records in memory under a lease from the key ring.
//!
//! The rules here are pure and clocked by their callers:
//! - which region a gate is in ([`Region::locate`]) and which shard a key is in
//!   ([`shard_of`]);
//! - when a replica may answer from memory ([`Lease::serves`]): only before its lease ends,
//!   less a margin for the clocks of the two objects disagreeing;
//! - whether a pushed change follows on from what a replica holds ([`Replica::apply`]): a
//!   replica that missed one stops answering until it renews;
//! - the receipt of a change ([`effective_at`]): the instant from which no replica answers
//!   with the key's old state.

use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use crate::gate::EdgeRecord;
use crate::storage::StorageId;
use crate::time::UnixMillis;

/// A Durable Objects location hint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Region {
    Wnam,
    Enam,
    Sam,
    Weur,
    Eeur,
    Apac,
    Oc,
    Afr,
    Me,
}

impl Region {
    pub const ALL: [Region; 9] = [
        Region::Wnam,
        Region::Enam,
        Region::Sam,
        Region::Weur,
        Region::Eeur,
        Region::Apac,
        Region::Oc,
        Region::Afr,
        Region::Me,
    ];

    /// The location hint, as `get_by_name_with_location_hint` takes it.
    pub const fn hint(self) -> &'static str {
        match self {
            Region::Wnam => "wnam",
            Region::Enam => "enam",
            Region::Sam => "sam",
            Region::Weur => "weur",
            Region::Eeur => "eeur",
            Region::Apac => "apac",
            Region::Oc => "oc",
            Region::Afr => "afr",
            Region::Me => "me",
        }
    }

    pub fn parse(hint: &str) -> Option<Region> {
        Region::ALL.into_iter().find(|region| region.hint() == hint)
    }

    /// The region of a gate, from what the platform says of the request (`request.cf`):
    /// its continent, country and longitude. North America and Europe are split by
    /// longitude (west of 100°W and east of 20°E respectively), the Middle East by
    /// country. Unknown: `Enam`, the default home of a key ring.
    pub fn locate(
        continent: Option<&str>,
        country: Option<&str>,
        longitude: Option<f64>,
    ) -> Region {
        const MIDDLE_EAST: [&str; 17] = [
            "AE", "BH", "CY", "EG", "IL", "IQ", "IR", "JO", "KW", "LB", "OM", "PS", "QA", "SA",
            "SY", "TR", "YE",
        ];
        if country.is_some_and(|c| MIDDLE_EAST.contains(&c)) {
            return Region::Me;
        }
        match continent {
            Some("NA") if longitude.is_some_and(|lon| lon < -100.0) => Region::Wnam,
            Some("NA") => Region::Enam,
            Some("SA") => Region::Sam,
            Some("EU") if longitude.is_some_and(|lon| lon > 20.0) => Region::Eeur,
            Some("EU") => Region::Weur,
            Some("AS") => Region::Apac,
            Some("OC") => Region::Oc,
            Some("AF") => Region::Afr,
            _ => Region::Enam,
        }
    }
}

/// The shard of a key among `shards`, from its storage id (already uniformly random).
pub fn shard_of(storage_id: &StorageId, shards: u8) -> u8 {
    storage_id.as_bytes()[0] % shards.max(1)
}

/// A replica's lease, granted by the key ring until `until` (the key ring's clock).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub until: UnixMillis,
}

impl Lease {
    /// Whether a replica may answer from memory at `now` (its own clock). It stops
    /// `margin_ms` before the lease ends, so a replica whose clock is behind the key
    /// ring's by less than the margin still stops before the key ring counts on it.
    pub fn serves(&self, now: UnixMillis, margin_ms: u64) -> bool {
        now.0.saturating_add(margin_ms) < self.until.0
    }

    /// When to renew ahead of the end: at the start of the lease's last third, counted
    /// back from when the replica stops serving (`margin_ms` before the end).
    pub fn renew_at(&self, lease_ms: u64, margin_ms: u64) -> UnixMillis {
        UnixMillis(self.until.0.saturating_sub(margin_ms + lease_ms / 3))
    }
}

/// A change pushed by the key ring: the records that changed between two versions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Push {
    pub from_version: u64,
    pub to_version: u64,
    pub lease: Lease,
    /// Records added or changed (a revoked key is here with its revoked status).
    pub records: Vec<(StorageId, EdgeRecord)>,
    /// Records gone (long-revoked keys leaving the ring).
    pub removed: Vec<StorageId>,
}

/// Everything a replica holds. Records are found by a scan with constant-time comparison,
/// as in the key ring: an application has at most a few hundred keys, and a sorted or
/// hashed map would let lookup times depend on how close a forged storage id is to a real
/// one.
#[derive(Clone, Debug, Default)]
pub struct Replica {
    pub version: u64,
    pub lease: Option<Lease>,
    pub records: Vec<(StorageId, EdgeRecord)>,
    /// The newest version a push announced: a copy older than this, still on its way from
    /// a renewal that started before the push, must not replace what the push said.
    pub floor: u64,
}

/// What a replica did with a push.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    /// It follows on from what the replica held: applied.
    Applied,
    /// Already seen (a retry): nothing to do.
    Stale,
    /// A version was missed: the replica dropped its lease and answers nothing from memory
    /// until it renews with a full copy.
    Gap,
}

impl Replica {
    /// A full copy, at a renewal.
    pub fn renewed(version: u64, lease: Lease, records: Vec<(StorageId, EdgeRecord)>) -> Self {
        Replica {
            version,
            lease: Some(lease),
            records,
            floor: version,
        }
    }

    /// Takes a renewal's copy, unless a push already announced something newer (then the
    /// copy is stale and the replica renews again). Returns whether it was taken.
    pub fn renew(
        &mut self,
        version: u64,
        lease: Lease,
        records: Vec<(StorageId, EdgeRecord)>,
    ) -> bool {
        if version < self.floor || version < self.version {
            return false;
        }
        *self = Replica::renewed(version, lease, records);
        true
    }

    pub fn apply(&mut self, push: Push) -> Applied {
        self.floor = self.floor.max(push.to_version);
        if push.to_version <= self.version {
            return Applied::Stale;
        }
        if push.from_version != self.version || self.lease.is_none() {
            self.lease = None;
            return Applied::Gap;
        }
        for (storage_id, record) in push.records {
            match self.records.iter_mut().find(|(id, _)| *id == storage_id) {
                Some(slot) => slot.1 = record,
                None => self.records.push((storage_id, record)),
            }
        }
        self.records
            .retain(|(id, _)| !push.removed.iter().any(|gone| gone == id));
        self.version = push.to_version;
        self.lease = Some(push.lease);
        Applied::Applied
    }

    /// The record of a presented key, if this replica may answer from memory at `now`:
    /// `Some(None)` is an unknown key, `None` means "ask the key ring".
    pub fn lookup(
        &self,
        storage_id: &StorageId,
        now: UnixMillis,
        margin_ms: u64,
    ) -> Option<Option<&EdgeRecord>> {
        let lease = self.lease?;
        lease.serves(now, margin_ms).then(|| {
            self.records
                .iter()
                .find(|(id, _)| id == storage_id)
                .map(|(_, record)| record)
        })
    }
}

/// The receipt of a change: from when no replica answers with the old state. Replicas
/// that acknowledged the push hold the new state when the key ring answers (`now`); one
/// that did not may answer from memory until its lease ends.
pub fn effective_at(now: UnixMillis, unacknowledged_leases: &[Lease]) -> UnixMillis {
    unacknowledged_leases
        .iter()
        .map(|lease| lease.until)
        .fold(now, UnixMillis::max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{ApplicationId, KeyId, KeyKind};
    use crate::lifecycle::{KeyStatus, RevocationReason};
    use crate::policy::Policy;

    fn record(status: KeyStatus) -> EdgeRecord {
        EdgeRecord {
            application_id: ApplicationId::parse("app_AAAAAAAAAAAAAAAA").unwrap(),
            key_id: KeyId::parse("key_AAAAAAAAAAAAAAAA").unwrap(),
            kind: KeyKind::Secret,
            status,
            policy: Policy::default(),
            suspended: false,
            canary: false,
        }
    }

    fn sid(byte: u8) -> StorageId {
        StorageId::from_bytes([byte; 32])
    }

    const T: UnixMillis = UnixMillis(1_800_000_000_000);

    #[test]
    fn gates_find_their_region_from_the_platforms_facts() {
        assert_eq!(
            Region::locate(Some("NA"), Some("US"), Some(-122.4)),
            Region::Wnam
        );
        assert_eq!(
            Region::locate(Some("NA"), Some("US"), Some(-77.0)),
            Region::Enam
        );
        assert_eq!(
            Region::locate(Some("NA"), Some("US"), Some(-100.0)),
            Region::Enam
        );
        assert_eq!(
            Region::locate(Some("EU"), Some("FR"), Some(2.3)),
            Region::Weur
        );
        assert_eq!(
            Region::locate(Some("EU"), Some("PL"), Some(21.0)),
            Region::Eeur
        );
        assert_eq!(
            Region::locate(Some("AS"), Some("AE"), Some(55.3)),
            Region::Me
        );
        assert_eq!(
            Region::locate(Some("EU"), Some("TR"), Some(28.9)),
            Region::Me
        );
        assert_eq!(
            Region::locate(Some("AS"), Some("JP"), Some(139.7)),
            Region::Apac
        );
        assert_eq!(
            Region::locate(Some("OC"), Some("AU"), Some(151.2)),
            Region::Oc
        );
        assert_eq!(Region::locate(Some("AF"), Some("ZA"), None), Region::Afr);
        assert_eq!(Region::locate(Some("SA"), Some("BR"), None), Region::Sam);
        assert_eq!(Region::locate(None, None, None), Region::Enam);
        for region in Region::ALL {
            assert_eq!(Region::parse(region.hint()), Some(region));
        }
    }

    #[test]
    fn shards_spread_keys_and_one_shard_holds_all() {
        assert_eq!(shard_of(&sid(7), 1), 0);
        assert_eq!(shard_of(&sid(7), 4), 3);
        assert_eq!(shard_of(&sid(8), 4), 0);
        assert_eq!(shard_of(&sid(9), 0), 0, "0 shards is read as 1");
    }

    #[test]
    fn a_lease_serves_until_its_end_less_the_margin_to_the_millisecond() {
        let lease = Lease {
            until: UnixMillis(T.0 + 30_000),
        };
        assert!(lease.serves(UnixMillis(T.0 + 27_999), 2_000));
        assert!(!lease.serves(UnixMillis(T.0 + 28_000), 2_000));
        assert_eq!(lease.renew_at(30_000, 2_000), UnixMillis(T.0 + 18_000));
    }

    #[test]
    fn a_replica_applies_pushes_in_order_and_stops_serving_after_a_gap() {
        let lease = Lease {
            until: UnixMillis(T.0 + 30_000),
        };
        let active = record(KeyStatus::Active);
        let mut replica = Replica::renewed(5, lease, alloc::vec![(sid(1), active.clone())]);
        assert_eq!(replica.lookup(&sid(1), T, 2_000), Some(Some(&active)));
        assert_eq!(
            replica.lookup(&sid(2), T, 2_000),
            Some(None),
            "unknown, from memory"
        );
        let revoked = record(KeyStatus::Revoked {
            revoked_at: T,
            reason: RevocationReason::Revoked,
        });
        let push = |from, to, records| Push {
            from_version: from,
            to_version: to,
            lease,
            records,
            removed: alloc::vec![],
        };
        assert_eq!(
            replica.apply(push(5, 6, alloc::vec![(sid(1), revoked.clone())])),
            Applied::Applied
        );
        assert_eq!(replica.lookup(&sid(1), T, 2_000), Some(Some(&revoked)));
        assert_eq!(replica.apply(push(5, 6, alloc::vec![])), Applied::Stale);
        // Version 7 was missed: 7 -> 8 does not follow on from 6.
        assert_eq!(replica.apply(push(7, 8, alloc::vec![])), Applied::Gap);
        assert_eq!(replica.lookup(&sid(1), T, 2_000), None, "ask the key ring");
        // And it stays that way until it renews.
        assert_eq!(replica.apply(push(8, 9, alloc::vec![])), Applied::Gap);
        let removal = Push {
            removed: alloc::vec![sid(1)],
            ..push(9, 10, alloc::vec![])
        };
        let mut fresh = Replica::renewed(9, lease, alloc::vec![(sid(1), revoked)]);
        assert_eq!(fresh.apply(removal), Applied::Applied);
        assert_eq!(fresh.lookup(&sid(1), T, 2_000), Some(None));
        // Past the lease: nothing from memory.
        assert_eq!(fresh.lookup(&sid(1), UnixMillis(T.0 + 28_000), 2_000), None);
    }

    #[test]
    fn a_renewal_older_than_a_push_already_seen_is_not_taken() {
        let lease = Lease {
            until: UnixMillis(T.0 + 30_000),
        };
        let mut replica = Replica::default();
        // A push for 3 -> 4 arrives before the renewal that started at version 3.
        let push = Push {
            from_version: 3,
            to_version: 4,
            lease,
            records: alloc::vec![],
            removed: alloc::vec![],
        };
        assert_eq!(replica.apply(push), Applied::Gap);
        assert!(
            !replica.renew(3, lease, alloc::vec![]),
            "older than the push"
        );
        assert_eq!(replica.lookup(&sid(1), T, 0), None);
        assert!(replica.renew(4, lease, alloc::vec![]));
        assert_eq!(replica.lookup(&sid(1), T, 0), Some(None));
        assert!(!replica.renew(3, lease, alloc::vec![]), "never goes back");
    }

    #[test]
    fn a_receipt_is_now_or_the_latest_lease_end_of_a_replica_that_did_not_answer() {
        assert_eq!(effective_at(T, &[]), T);
        let leases = [
            Lease {
                until: UnixMillis(T.0 + 5_000),
            },
            Lease {
                until: UnixMillis(T.0 + 29_000),
            },
        ];
        assert_eq!(effective_at(T, &leases), UnixMillis(T.0 + 29_000));
        let ended = [Lease {
            until: UnixMillis(T.0 - 1),
        }];
        assert_eq!(effective_at(T, &ended), T);
    }
}
