//! Commands to a regional validation replica, and what it answers.

use aero2_keys::gate::EdgeRecord;
use aero2_keys::regional::{Lease, Push, Region};
use aero2_keys::{ApplicationId, StorageId};
use serde::{Deserialize, Serialize};
use worker::{Env, Response};

use super::send;
use crate::config::REPLICA_BINDING;
use crate::errors::ApiResult;

/// A regional validation replica: one per application, region and shard.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicaName {
    pub application: ApplicationId,
    pub region: Region,
    pub shard: u8,
}

impl ReplicaName {
    /// The Durable Object's name: `app_…/weur/0`.
    pub fn object_name(&self) -> String {
        format!("{}/{}/{}", self.application, self.region.hint(), self.shard)
    }
}

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
    /// The gate asks for a presented key's record.
    Lookup {
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
    #[cfg(feature = "instrumentation")]
    crate::instrumentation::replica_call();
    let stub = env
        .durable_object(REPLICA_BINDING)?
        .get_by_name_with_location_hint(&replica.object_name(), replica.region.hint())?;
    send(stub, command).await
}
