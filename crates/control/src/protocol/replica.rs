//! Commands to a regional validation replica, and what it answers.

pub use aero2_keys::gate::wire::ReplicaName;
use aero2_keys::gate::EdgeRecord;
use aero2_keys::regional::{Lease, Push};
use aero2_keys::StorageId;
use serde::{Deserialize, Serialize};
use worker::{Env, Response};

use super::{command_of, fields, send, unknown_variant, Message};
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

/// Commands to a regional validation replica. Read by [`Message::from_json`] (below),
/// written by serde.
#[derive(Debug, Serialize)]
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

impl Message for ReplicaCommand {
    fn from_json(text: &str) -> serde_json::Result<Self> {
        Ok(match &*command_of(text)? {
            "lookup" => {
                #[derive(Deserialize)]
                struct Lookup {
                    #[serde(default)]
                    v: u8,
                    replica: ReplicaName,
                    storage_id: StorageId,
                }
                let Lookup {
                    v,
                    replica,
                    storage_id,
                } = fields(text)?;
                ReplicaCommand::Lookup {
                    v,
                    replica,
                    storage_id,
                }
            }
            "apply" => {
                #[derive(Deserialize)]
                struct Apply {
                    replica: ReplicaName,
                    push: Push,
                }
                let Apply { replica, push } = fields(text)?;
                ReplicaCommand::Apply { replica, push }
            }
            other => return unknown_variant(other),
        })
    }
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
