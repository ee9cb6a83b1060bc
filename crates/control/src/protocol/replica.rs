//! Commands to a regional validation replica, and what it answers.

pub use aero2_keys::gate::wire::ReplicaName;
use aero2_keys::gate::EdgeRecord;
use aero2_keys::regional::{Lease, Push};
use aero2_keys::StorageId;
use serde::{Deserialize, Serialize};
use worker::{Env, Response};

use super::send;
use crate::config::REPLICA_BINDING;
use crate::errors::ApiResult;

/// What a replica (or the key ring, for a replica without a lease) says of a key: its
/// record, or none (an unknown key).
#[derive(Debug, Serialize, Deserialize)]
pub struct RecordAnswer {
    pub record: Option<EdgeRecord>,
}

/// A lease with the shard's records, at a version.
#[derive(Debug, Serialize, Deserialize)]
pub struct LeaseGrant {
    pub version: u64,
    pub lease: Lease,
    pub records: Vec<(StorageId, EdgeRecord)>,
}

/// Commands to a regional validation replica.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum ReplicaCommand {
    /// The gate asks for a presented key's record. From protocol version 2 (`v`) the
    /// answer is the compact record (`EdgeRecord::encode`) or `none`; the previous
    /// release's gates (no `v`) get [`RecordAnswer`] as JSON.
    Lookup {
        #[serde(default)]
        v: u8,
        replica: ReplicaName,
        storage_id: StorageId,
    },
    /// The key ring pushes a change.
    Apply { replica: ReplicaName, push: Push },
}

/// Sends a command to a regional replica, created near its region (a location hint).
pub async fn to_replica(
    env: &Env,
    replica: &ReplicaName,
    command: &ReplicaCommand,
) -> ApiResult<Response> {
    #[cfg(feature = "fault-injection")]
    crate::instrumentation::replica_call();
    let stub = env
        .durable_object(REPLICA_BINDING)?
        .get_by_name_with_location_hint(&replica.object_name(), replica.region.hint())?;
    send(stub, command).await
}
