//! Regional mode, the key ring's side: it grants replicas their leases (with a copy of
//! their shard's records), pushes every change to each replica holding a live lease, and
//! says from when a change holds everywhere (the receipt, `effective_at`).
//!
//! The key ring stays the single writer. Its change counter (`replica_version`) and the
//! leases it granted are stored, so an evicted key ring still pushes to every replica that
//! may be answering, and never reuses a version.

use aero2_keys::gate::EdgeRecord;
use aero2_keys::http::ErrorCode;
use aero2_keys::regional::{effective_at, shard_of, Lease, Push};
use aero2_keys::{StorageId, UnixMillis};
use futures_util::future::{join_all, select, Either};
use serde::Deserialize;
use worker::{Delay, Response};

use super::store::{corrupt, int, text, Store};
use super::{KeyRingObject, Loaded};
use crate::config::Config;
use crate::errors::ApiResult;
use crate::json::json_response;
use crate::protocol::{to_replica, LeaseGrant, RecordAnswer, ReplicaCommand, ReplicaName};

/// The key ring's record of its replicas.
#[derive(Default)]
pub struct ReplicaState {
    /// Bumped once per batch of changes pushed; never reused.
    pub version: u64,
    /// Leases granted and not yet known to be over.
    pub leases: Vec<(ReplicaName, Lease)>,
    /// Records changed (or gone) since the last push.
    pub changed: Vec<StorageId>,
    pub removed: Vec<StorageId>,
}

#[derive(Deserialize)]
struct LeaseRow {
    info: String,
}

#[derive(Deserialize)]
struct VersionRow {
    value: u64,
}

impl Store {
    pub fn load_replicas(&self) -> ApiResult<ReplicaState> {
        let rows: Vec<LeaseRow> = self
            .sql
            .exec("SELECT info FROM replica_leases", None)?
            .to_array()?;
        let leases = rows
            .iter()
            .map(|row| serde_json::from_str(&row.info))
            .collect::<Result<Vec<(ReplicaName, Lease)>, _>>()
            .map_err(|_| corrupt("replica lease"))?;
        let version: Vec<VersionRow> = self
            .sql
            .exec(
                "SELECT value FROM meta WHERE name = 'replica_version'",
                None,
            )?
            .to_array()?;
        Ok(ReplicaState {
            version: version.first().map_or(0, |row| row.value),
            leases,
            changed: Vec::new(),
            removed: Vec::new(),
        })
    }

    fn save_lease(&self, replica: &ReplicaName, lease: Lease) -> ApiResult<()> {
        let info = serde_json::to_string(&(replica, lease)).map_err(|_| corrupt("lease"))?;
        self.sql.exec(
            "INSERT INTO replica_leases (name, info) VALUES (?, ?)
             ON CONFLICT (name) DO UPDATE SET info = excluded.info",
            vec![text(replica.object_name()), text(info)],
        )?;
        Ok(())
    }

    fn delete_lease(&self, replica: &ReplicaName) -> ApiResult<()> {
        self.sql.exec(
            "DELETE FROM replica_leases WHERE name = ?",
            vec![text(replica.object_name())],
        )?;
        Ok(())
    }

    fn save_replica_version(&self, version: u64) -> ApiResult<()> {
        self.sql.exec(
            "UPDATE meta SET value = ? WHERE name = 'replica_version'",
            vec![int(version)],
        )?;
        Ok(())
    }
}

/// The records of one shard, as replicas hold them.
fn shard_records(loaded: &Loaded, shard: u8, shards: u8) -> Vec<(StorageId, EdgeRecord)> {
    loaded
        .ring
        .keys()
        .iter()
        .filter(|record| shard_of(&record.storage_id, shards) == shard)
        .map(|record| {
            (
                record.storage_id,
                EdgeRecord::of(loaded.application.id, record),
            )
        })
        .collect()
}

impl KeyRingObject {
    /// `RenewLease`: a lease until now + the lease length, and a full copy.
    pub(super) fn renew_lease(&self, replica: ReplicaName, now: UnixMillis) -> ApiResult<Response> {
        #[cfg(feature = "fault-injection")]
        if self.is_partitioned(&replica, now) {
            return Err(ErrorCode::TemporarilyUnavailable.into());
        }
        let settings = Config::cached(&self.env).regional;
        self.mutate(|loaded| {
            if loaded.application.id != replica.application {
                return Err(ErrorCode::ApplicationNotFound.into());
            }
            let lease = Lease {
                until: UnixMillis(now.0 + settings.lease_ms),
            };
            self.store.save_lease(&replica, lease)?;
            match loaded
                .replicas
                .leases
                .iter_mut()
                .find(|(name, _)| *name == replica)
            {
                Some(slot) => slot.1 = lease,
                None => loaded.replicas.leases.push((replica, lease)),
            }
            let grant = LeaseGrant {
                version: loaded.replicas.version,
                lease,
                records: shard_records(loaded, replica.shard, settings.shards),
            };
            Ok(json_response(200, &grant))
        })
    }

    /// `LookupRecord`: the authoritative record of one key. A replica without a lease
    /// fails closed to it (JSON), and so does the gate when a KV record is in a format it
    /// does not read (`v` 2: the compact record, or `none`).
    pub(super) fn lookup_record(&self, v: u8, storage_id: &StorageId) -> ApiResult<Response> {
        let record = if self.application_exists()? {
            self.read(|loaded| {
                Ok(loaded
                    .ring
                    .find_by_storage_id(storage_id)
                    .map(|record| EdgeRecord::of(loaded.application.id, record)))
            })?
        } else {
            None
        };
        match v {
            0 | 1 => Ok(json_response(200, &RecordAnswer { record })),
            _ => crate::replica::compact_answer(record.as_ref()),
        }
    }

    /// Pushes what changed since the last push to every replica with a live lease, in
    /// parallel, and returns the receipt: now, or the latest lease end of a replica that
    /// did not acknowledge.
    pub(super) async fn push_to_replicas(&self, now: UnixMillis) -> ApiResult<UnixMillis> {
        let settings = Config::cached(&self.env).regional;
        // One synchronous step: take the changes, bump the version, drop ended leases.
        let pushes = self.mutate(|loaded| {
            let state = &mut loaded.replicas;
            let ended: Vec<ReplicaName> = state
                .leases
                .iter()
                .filter(|(_, lease)| lease.until <= now)
                .map(|(name, _)| *name)
                .collect();
            for name in &ended {
                self.store.delete_lease(name)?;
            }
            state.leases.retain(|(_, lease)| lease.until > now);
            // No replica holds a lease (always so outside regional mode): nothing to push,
            // and no version to write, since a replica that renews later gets a full copy.
            if state.leases.is_empty() {
                state.changed.clear();
                state.removed.clear();
            }
            if state.changed.is_empty() && state.removed.is_empty() {
                return Ok(Vec::new());
            }
            let changed = std::mem::take(&mut state.changed);
            let removed = std::mem::take(&mut state.removed);
            let from_version = state.version;
            state.version += 1;
            self.store.save_replica_version(state.version)?;
            let records: Vec<(StorageId, EdgeRecord)> = changed
                .iter()
                .filter_map(|id| {
                    loaded
                        .ring
                        .find_by_storage_id(id)
                        .map(|record| (*id, EdgeRecord::of(loaded.application.id, record)))
                })
                .collect();
            Ok(loaded
                .replicas
                .leases
                .iter()
                .map(|(name, lease)| {
                    let in_shard = |id: &StorageId| shard_of(id, settings.shards) == name.shard;
                    let push = Push {
                        from_version,
                        to_version: from_version + 1,
                        lease: *lease,
                        records: records
                            .iter()
                            .filter(|(id, _)| in_shard(id))
                            .cloned()
                            .collect(),
                        removed: removed.iter().filter(|id| in_shard(id)).copied().collect(),
                    };
                    (*name, *lease, push)
                })
                .collect())
        })?;
        if pushes.is_empty() {
            return Ok(now);
        }
        let sends = pushes.into_iter().map(|(name, lease, push)| async move {
            #[cfg(feature = "fault-injection")]
            if self.is_partitioned(&name, now) {
                return Some(lease);
            }
            let command = ReplicaCommand::Apply {
                replica: name,
                push,
            };
            let sending = to_replica(&self.env, &name, &command);
            let timeout = Delay::from(std::time::Duration::from_millis(settings.push_timeout_ms));
            futures_util::pin_mut!(sending);
            match select(sending, timeout).await {
                Either::Left((Ok(response), _)) if response.status_code() == 200 => None,
                _ => Some(lease),
            }
        });
        let unacknowledged: Vec<Lease> = join_all(sends).await.into_iter().flatten().collect();
        Ok(effective_at(crate::clock::now(), &unacknowledged))
    }

    #[cfg(feature = "fault-injection")]
    fn is_partitioned(&self, replica: &ReplicaName, now: UnixMillis) -> bool {
        self.partitions
            .borrow()
            .iter()
            .any(|(name, until)| name == replica && now < *until)
    }

    #[cfg(feature = "fault-injection")]
    pub(super) fn partition(&self, replica: ReplicaName, for_ms: u64, now: UnixMillis) {
        let mut partitions = self.partitions.borrow_mut();
        partitions.retain(|(name, until)| *name != replica && now < *until);
        partitions.push((replica, UnixMillis(now.0 + for_ms)));
    }
}

/// Marks a record as changed for the next push.
pub fn mark_changed(loaded: &mut Loaded, storage_id: StorageId) {
    if !loaded.replicas.changed.contains(&storage_id) {
        loaded.replicas.changed.push(storage_id);
    }
}

/// Marks a record as gone for the next push.
pub fn mark_removed(loaded: &mut Loaded, storage_id: StorageId) {
    loaded.replicas.changed.retain(|id| *id != storage_id);
    loaded.replicas.removed.push(storage_id);
}
