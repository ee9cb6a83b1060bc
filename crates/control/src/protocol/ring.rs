//! Commands to an application's key ring, and what it answers.

use aero2_keys::gate::wire::{EventReport, RequestFacts, UsageReport, VerifyRequest};
use aero2_keys::http::bodies::UpdateKeyRequest;
use aero2_keys::policy::{Policy, RateLimit};
use aero2_keys::webhooks::EventType;
use aero2_keys::{
    ApplicationId, EndpointId, Environment, KeyId, KeyIdentity, KeyKind, MessageId, StorageId,
    UnixMillis,
};
use serde::{Deserialize, Serialize};
use worker::{Env, Response};

use super::{send, ClientInfo, ReplicaName};
use crate::config::KEY_RING_BINDING;
use crate::errors::ApiResult;

/// The caller of a management operation, as the worker saw it. The key ring decides what
/// it may do (`aero2_keys::rights`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Actor {
    /// A request authenticated by one of the application's own keys.
    Key {
        key: KeyIdentity,
        from_browser: bool,
    },
    /// The operator, authenticated by `ADMIN_TOKEN` or a dashboard session.
    Operator,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ApplicationInfo {
    pub id: ApplicationId,
    pub name: String,
    pub environment: Environment,
    pub created_at: UnixMillis,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum RingCommand {
    Init {
        application: ApplicationInfo,
        client: ClientInfo,
    },
    /// Strict mode: the gate asks for its decision on a request (protocol version 2, the
    /// core's `VerifyRequest`); the answer is the verdict as one line
    /// (`aero2_keys::gate::wire::WireVerdict`).
    Verify(VerifyRequest),
    /// The previous release's strict-mode validation (protocol version 1), still accepted
    /// during a deploy: the same decision, answered as JSON ([`ValidatedV1`]).
    Validate {
        key: KeyIdentity,
        request: RequestFacts,
        from_browser: bool,
        client: ClientInfo,
    },
    /// Every management operation travels in this one variant: the key ring
    /// authenticates `actor` once, before it looks at `op`, so no operation can be
    /// reached without that check.
    Manage {
        actor: Actor,
        client: ClientInfo,
        op: ManageOp,
    },
    /// Usage counted at the edge in `edge` and `regional` mode, sent in batches after
    /// the response (`aero2_keys::gate::wire::UsageReport`; version 1 had no `v`).
    RecordUsage(UsageReport),
    /// What the edge saw that the audit log keeps, aggregated per key and hour (`edge`
    /// and `regional` mode; in strict mode the key ring sees it itself). Repeats are
    /// already coalesced by the isolate ([`aero2_keys::repeats`]).
    RecordEvents(EventReport),
    /// Test builds only: make this key ring's KV writes fail for a while.
    #[cfg(feature = "fault-injection")]
    InjectKvFailure { fail_for_ms: u64 },
    /// Test builds only: run the daily clean-up as if it were `days_later` days from now.
    #[cfg(feature = "fault-injection")]
    RunRetention { days_later: u64 },
    /// Keys a secret scanner found in public, all of this application's in one call.
    ReportLeaks { reports: Vec<LeakReport> },
    /// Regional mode: a replica asks for (or renews) its lease, with a full copy of its
    /// shard's records.
    RenewLease { replica: ReplicaName },
    /// Regional mode: a replica without a lease asks for one record (it fails closed to
    /// the key ring).
    LookupRecord {
        #[serde(default)]
        v: u8,
        storage_id: StorageId,
    },
    /// Test builds only: pushes to this replica are dropped, and its renewals refused,
    /// for a while (a network partition).
    #[cfg(feature = "fault-injection")]
    PartitionReplica { replica: ReplicaName, for_ms: u64 },
}

/// One key a secret scanner found, with where it was found.
#[derive(Debug, Serialize, Deserialize)]
pub struct LeakReport {
    pub storage_id: StorageId,
    pub url: String,
    pub source: String,
}

/// The management operations, once the caller is known.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "snake_case")]
pub enum ManageOp {
    ListKeys {
        include_revoked: bool,
    },
    CreateKey {
        kind: KeyKind,
        label: String,
        policy: Policy,
    },
    UpdateKey {
        key_id: KeyId,
        change: UpdateKeyRequest,
    },
    SuspendKey {
        key_id: KeyId,
    },
    ResumeKey {
        key_id: KeyId,
    },
    RevokeKey {
        key_id: KeyId,
    },
    RotateKey {
        key_id: KeyId,
        grace_period_seconds: Option<u64>,
    },
    KeyUsage {
        key_id: KeyId,
    },
    AuditLog {
        cursor: Option<u64>,
        limit: u32,
        key_id: Option<KeyId>,
        event: Option<String>,
    },
    ListWebhookEndpoints,
    /// `url` was checked at the edge (scheme, credentials, length, local addresses).
    CreateWebhookEndpoint {
        url: String,
        description: String,
        /// `None`: every event.
        events: Option<Vec<EventType>>,
    },
    DeleteWebhookEndpoint {
        endpoint_id: EndpointId,
    },
    RotateWebhookSecret {
        endpoint_id: EndpointId,
    },
    TestWebhookEndpoint {
        endpoint_id: EndpointId,
    },
    EnableWebhookEndpoint {
        endpoint_id: EndpointId,
    },
    WebhookDeliveries {
        endpoint_id: EndpointId,
    },
    ResendWebhookMessage {
        endpoint_id: EndpointId,
        message_id: MessageId,
    },
}

impl ManageOp {
    /// Whether this is one of the webhook operations (`webhooks:read`, `webhooks:write`).
    pub fn is_webhook(&self) -> bool {
        matches!(
            self,
            ManageOp::ListWebhookEndpoints
                | ManageOp::CreateWebhookEndpoint { .. }
                | ManageOp::DeleteWebhookEndpoint { .. }
                | ManageOp::RotateWebhookSecret { .. }
                | ManageOp::TestWebhookEndpoint { .. }
                | ManageOp::EnableWebhookEndpoint { .. }
                | ManageOp::WebhookDeliveries { .. }
                | ManageOp::ResendWebhookMessage { .. }
        )
    }
}

/// What the key ring did with a reported key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeakOutcome {
    /// A secret key, revoked now.
    Revoked,
    AlreadyRevoked,
    /// Publishable keys are public by design; the report is recorded, nothing revoked.
    Publishable,
    Unknown,
}

/// The previous release's answer to `Validate` when the key may be used (protocol
/// version 1).
#[derive(Debug, Serialize, Deserialize)]
pub struct ValidatedV1 {
    pub key_id: KeyId,
    pub kind: KeyKind,
    /// Whether the page's origin may read the answer (CORS), by the key's policy.
    pub cors: bool,
    /// The key's rate limit and what it said, when it has one. A refusal is `allowed:
    /// false`: the gate answers it with 429 and the rate-limit headers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<RateVerdictV1>,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct RateVerdictV1 {
    pub limit: RateLimit,
    pub allowed: bool,
    pub remaining: u32,
    pub reset_after_seconds: u64,
}

/// Sends a command to an application's key ring. Its response is the public response.
pub async fn to_key_ring(
    env: &Env,
    application: ApplicationId,
    command: &RingCommand,
) -> ApiResult<Response> {
    #[cfg(feature = "fault-injection")]
    crate::instrumentation::key_ring_call();
    let stub = env
        .durable_object(KEY_RING_BINDING)?
        .get_by_name(&application.to_string())?;
    send(stub, command).await
}
