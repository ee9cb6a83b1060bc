//! Commands to an application's key ring, and what it answers.

use aero2_accounts::{MemberId, Role};
use aero2_keys::gate::wire::{RequestFacts, SeenEvent, UsageReport, VerifyRequest};
use aero2_keys::http::bodies::UpdateKeyRequest;
use aero2_keys::policy::{Policy, RateLimit};
use aero2_keys::webhooks::EventType;
use aero2_keys::{
    ApplicationId, EndpointId, Environment, KeyId, KeyIdentity, KeyKind, MessageId, StorageId,
    UnixMillis,
};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::borrow::Cow;
use worker::{Env, Response};

use super::{command_of, fields, send, unknown_variant, ClientInfo, Message, ReplicaName};
use crate::config::KEY_RING_BINDING;
use crate::errors::ApiResult;

/// The caller of a management operation, as the worker saw it. The key ring decides what
/// it may do (`aero2_keys::rights`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", try_from = "ActorFields")]
pub enum Actor {
    /// A request authenticated by one of the application's own keys.
    Key {
        key: KeyIdentity,
        from_browser: bool,
        /// The request's method, path and country: what a canary's use records.
        request: RequestFacts,
    },
    /// The operator, authenticated by `ADMIN_TOKEN` or a dashboard session.
    Operator,
    /// A member of the application's account, signed in with a passkey: what their role
    /// allows (`aero2_accounts::may`), step-up actions only within 5 minutes of a passkey
    /// ceremony (`stepped_up`).
    Member(MemberActor),
}

/// A member acting on an application of their account, as the registry found them.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MemberActor {
    pub id: MemberId,
    pub name: String,
    pub role: Role,
    /// A passkey ceremony less than 5 minutes ago.
    pub stepped_up: bool,
}

/// An [`Actor`] as its fields, read by name rather than by serde's tagged-enum derive
/// (see [`Message`], why).
#[derive(Deserialize)]
struct ActorFields {
    #[serde(rename = "type")]
    kind: ActorKind,
    key: Option<KeyIdentity>,
    from_browser: Option<bool>,
    request: Option<RequestFacts>,
    id: Option<MemberId>,
    name: Option<String>,
    role: Option<Role>,
    stepped_up: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum ActorKind {
    Key,
    Operator,
    Member,
}

impl TryFrom<ActorFields> for Actor {
    type Error = &'static str;

    fn try_from(fields: ActorFields) -> Result<Self, Self::Error> {
        match fields {
            ActorFields {
                kind: ActorKind::Key,
                key: Some(key),
                from_browser: Some(from_browser),
                request,
                ..
            } => Ok(Actor::Key {
                key,
                from_browser,
                request: request.unwrap_or_default(),
            }),
            ActorFields {
                kind: ActorKind::Operator,
                ..
            } => Ok(Actor::Operator),
            ActorFields {
                kind: ActorKind::Member,
                id: Some(id),
                name: Some(name),
                role: Some(role),
                stepped_up: Some(stepped_up),
                ..
            } => Ok(Actor::Member(MemberActor {
                id,
                name,
                role,
                stepped_up,
            })),
            _ => Err("a key actor needs key and from_browser, a member actor its id, name, role and step-up"),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ApplicationInfo {
    pub id: ApplicationId,
    pub name: String,
    pub environment: Environment,
    pub created_at: UnixMillis,
}

/// Read by [`Message::from_json`] (below), written by serde. The gate's commands (verify,
/// validate, usage and events) are written by the gate (`aero2_keys::gate::wire`) and only
/// read here: the control plane carries no code to write them.
#[derive(Debug, Serialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum RingCommand {
    Init {
        application: ApplicationInfo,
        client: ClientInfo,
    },
    /// Strict mode: the gate asks for its decision on a request (protocol version 2, the
    /// core's `VerifyRequest`); the answer is the verdict as one line
    /// (`aero2_keys::gate::wire::WireVerdict`).
    #[serde(skip_serializing)]
    Verify(VerifyRequest),
    /// The previous release's strict-mode validation (protocol version 1), still accepted
    /// during a deploy: the same decision, answered as JSON ([`ValidatedV1`]).
    #[serde(skip_serializing)]
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
        /// Boxed: the largest variant by far, and every other command would pay its size.
        op: Box<ManageOp>,
        /// The `iss` of the checkpoints and receipts this operation signs.
        issuer: String,
    },
    /// Usage counted at the edge in `edge` and `regional` mode, sent in batches after
    /// the response (`aero2_keys::gate::wire::UsageReport`; version 1 had no `v`).
    #[serde(skip_serializing)]
    RecordUsage(UsageReport),
    /// What the edge saw that the audit log keeps, aggregated per key and hour (`edge`
    /// and `regional` mode; in strict mode the key ring sees it itself). Repeats are
    /// already coalesced by the isolate ([`aero2_keys::repeats`]). Written by
    /// `aero2_keys::gate::wire::EventReport`, read event by event ([`ReceivedEvents`]).
    #[serde(skip_serializing)]
    RecordEvents(ReceivedEvents),
    /// Test builds only: make this key ring's KV writes fail for a while.
    #[cfg(feature = "fault-injection")]
    InjectKvFailure { fail_for_ms: u64 },
    /// Test builds only: refuse gates' event reports (503) for a while.
    #[cfg(feature = "fault-injection")]
    RefuseReports { for_ms: u64 },
    /// Test builds only: run the daily clean-up as if it were `days_later` days from now.
    #[cfg(feature = "fault-injection")]
    RunRetention { days_later: u64 },
    /// Test builds only: append `count` entries (`test.filler`) to the audit log, chained
    /// as any other: a log of export size without thousands of API calls.
    #[cfg(feature = "fault-injection")]
    FillAudit { count: u32 },
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

/// A gate's event report, read one event at a time: an event this release cannot read
/// costs only itself, not its batch. During a deploy, or after the control plane alone
/// was rolled back, a gate can be of a later release than its control plane and report a
/// kind this one does not know. Those events are set aside, to be logged by name and
/// count; the others are recorded.
#[derive(Debug, Default)]
pub struct ReceivedEvents {
    pub events: Vec<SeenEvent>,
    /// The events that could not be read, by kind: the `event` name if that is made of
    /// the characters event kinds use (at most 64 of `a-z`, `0-9`, `_`, `.`), else
    /// "unreadable", so that nothing a sender wrote reaches a log as it is; and how many.
    /// At most [`Self::NAMED_KINDS`] kinds are kept, so that the log line stays short.
    unreadable: Vec<(String, u32)>,
    /// How many unreadable events were of kinds past the first few.
    unreadable_elsewhere: u32,
}

impl ReceivedEvents {
    fn read(events: &[&RawValue]) -> ReceivedEvents {
        /// What an event names of itself, read when the whole event cannot be.
        #[derive(Deserialize, Default)]
        struct Named<'a> {
            #[serde(borrow, default)]
            event: Cow<'a, str>,
            #[serde(default)]
            count: u32,
        }
        let mut received = ReceivedEvents::default();
        for event in events {
            match serde_json::from_str::<SeenEvent>(event.get()) {
                Ok(seen) => received.events.push(seen),
                Err(_) => {
                    let named = serde_json::from_str::<Named>(event.get()).unwrap_or_default();
                    let plain = !named.event.is_empty()
                        && named.event.len() <= 64
                        && named.event.bytes().all(|b| {
                            b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.'
                        });
                    let name = if plain { &named.event } else { "unreadable" };
                    received.set_aside(name, named.count.max(1));
                }
            }
        }
        received
    }

    /// How many kinds of unreadable events the log line names; the rest are counted.
    const NAMED_KINDS: usize = 8;

    fn set_aside(&mut self, kind: &str, count: u32) {
        if let Some((_, counted)) = self.unreadable.iter_mut().find(|(name, _)| name == kind) {
            *counted = counted.saturating_add(count);
        } else if self.unreadable.len() < Self::NAMED_KINDS {
            self.unreadable.push((kind.to_string(), count));
        } else {
            self.unreadable_elsewhere = self.unreadable_elsewhere.saturating_add(count);
        }
    }

    /// Whether any event was set aside.
    pub fn any_unreadable(&self) -> bool {
        !self.unreadable.is_empty()
    }

    /// The log line for the events set aside: `2 × secret_in_screenshot, 1 × unreadable`,
    /// with `, and N events of other kinds` past the first few kinds.
    pub fn unreadable_summary(&self) -> String {
        let mut summary = String::new();
        for (i, (name, count)) in self.unreadable.iter().enumerate() {
            if i > 0 {
                summary.push_str(", ");
            }
            summary.push_str(&format!("{count} × {name}"));
        }
        if self.unreadable_elsewhere > 0 {
            let elsewhere = self.unreadable_elsewhere;
            summary.push_str(&format!(", and {elsewhere} events of other kinds"));
        }
        summary
    }
}

/// One key a secret scanner found, with where it was found.
#[derive(Debug, Serialize, Deserialize)]
pub struct LeakReport {
    pub storage_id: StorageId,
    pub url: String,
    pub source: String,
}

/// The management operations, once the caller is known. Read by [`Message::from_json`]
/// (below), written by serde.
#[derive(Debug, Serialize)]
#[serde(tag = "name", rename_all = "snake_case")]
pub enum ManageOp {
    ListKeys {
        include_revoked: bool,
    },
    CreateKey {
        kind: KeyKind,
        label: String,
        policy: Policy,
        /// A canary, and the keys its use suspends.
        #[serde(skip_serializing_if = "Option::is_none")]
        canary: Option<Vec<KeyId>>,
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
    /// A signed receipt for the key's latest change (the automatic ones included).
    KeyReceipt {
        key_id: KeyId,
    },
    AuditLog {
        cursor: Option<u64>,
        limit: u32,
        key_id: Option<KeyId>,
        event: Option<String>,
    },
    /// A signed checkpoint of the audit chain's head.
    AuditCheckpoint,
    /// The chained entries from `from_seq` on, as JSON Lines.
    AuditExport {
        from_seq: u64,
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
    /// The key an operation acts on, if it names one.
    pub fn key_id(&self) -> Option<KeyId> {
        match self {
            ManageOp::UpdateKey { key_id, .. }
            | ManageOp::SuspendKey { key_id }
            | ManageOp::ResumeKey { key_id }
            | ManageOp::RevokeKey { key_id }
            | ManageOp::RotateKey { key_id, .. }
            | ManageOp::KeyUsage { key_id }
            | ManageOp::KeyReceipt { key_id } => Some(*key_id),
            _ => None,
        }
    }

    /// Every existing key the operation names: its key, or a canary's keys to suspend.
    pub fn key_ids(&self) -> impl Iterator<Item = KeyId> + '_ {
        let suspends = match self {
            ManageOp::CreateKey {
                canary: Some(suspends),
                ..
            } => suspends.as_slice(),
            _ => &[],
        };
        self.key_id().into_iter().chain(suspends.iter().copied())
    }

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

impl Message for RingCommand {
    fn from_json(text: &str) -> serde_json::Result<Self> {
        Ok(match &*command_of(text)? {
            "init" => {
                #[derive(Deserialize)]
                struct Init {
                    application: ApplicationInfo,
                    client: ClientInfo,
                }
                let Init {
                    application,
                    client,
                } = fields(text)?;
                RingCommand::Init {
                    application,
                    client,
                }
            }
            "verify" => RingCommand::Verify(fields(text)?),
            "validate" => {
                #[derive(Deserialize)]
                struct Validate {
                    key: KeyIdentity,
                    request: RequestFacts,
                    from_browser: bool,
                    client: ClientInfo,
                }
                let Validate {
                    key,
                    request,
                    from_browser,
                    client,
                } = fields(text)?;
                RingCommand::Validate {
                    key,
                    request,
                    from_browser,
                    client,
                }
            }
            "manage" => {
                #[derive(Deserialize)]
                struct Manage<'a> {
                    actor: Actor,
                    client: ClientInfo,
                    #[serde(borrow)]
                    op: &'a RawValue,
                    #[serde(default)]
                    issuer: String,
                }
                let Manage {
                    actor,
                    client,
                    op,
                    issuer,
                } = fields(text)?;
                RingCommand::Manage {
                    actor,
                    client,
                    op: Box::new(ManageOp::from_json(op.get())?),
                    issuer,
                }
            }
            "record_usage" => RingCommand::RecordUsage(fields(text)?),
            "record_events" => {
                #[derive(Deserialize)]
                struct RecordEvents<'a> {
                    #[serde(borrow)]
                    events: Vec<&'a RawValue>,
                }
                let RecordEvents { events } = fields(text)?;
                RingCommand::RecordEvents(ReceivedEvents::read(&events))
            }
            #[cfg(feature = "fault-injection")]
            "inject_kv_failure" => {
                #[derive(Deserialize)]
                struct InjectKvFailure {
                    fail_for_ms: u64,
                }
                let InjectKvFailure { fail_for_ms } = fields(text)?;
                RingCommand::InjectKvFailure { fail_for_ms }
            }
            #[cfg(feature = "fault-injection")]
            "refuse_reports" => {
                #[derive(Deserialize)]
                struct RefuseReports {
                    for_ms: u64,
                }
                let RefuseReports { for_ms } = fields(text)?;
                RingCommand::RefuseReports { for_ms }
            }
            #[cfg(feature = "fault-injection")]
            "fill_audit" => {
                #[derive(Deserialize)]
                struct FillAudit {
                    count: u32,
                }
                let FillAudit { count } = fields(text)?;
                RingCommand::FillAudit { count }
            }
            #[cfg(feature = "fault-injection")]
            "run_retention" => {
                #[derive(Deserialize)]
                struct RunRetention {
                    days_later: u64,
                }
                let RunRetention { days_later } = fields(text)?;
                RingCommand::RunRetention { days_later }
            }
            "report_leaks" => {
                #[derive(Deserialize)]
                struct ReportLeaks {
                    reports: Vec<LeakReport>,
                }
                let ReportLeaks { reports } = fields(text)?;
                RingCommand::ReportLeaks { reports }
            }
            "renew_lease" => {
                #[derive(Deserialize)]
                struct RenewLease {
                    replica: ReplicaName,
                }
                let RenewLease { replica } = fields(text)?;
                RingCommand::RenewLease { replica }
            }
            "lookup_record" => {
                #[derive(Deserialize)]
                struct LookupRecord {
                    #[serde(default)]
                    v: u8,
                    storage_id: StorageId,
                }
                let LookupRecord { v, storage_id } = fields(text)?;
                RingCommand::LookupRecord { v, storage_id }
            }
            #[cfg(feature = "fault-injection")]
            "partition_replica" => {
                #[derive(Deserialize)]
                struct PartitionReplica {
                    replica: ReplicaName,
                    for_ms: u64,
                }
                let PartitionReplica { replica, for_ms } = fields(text)?;
                RingCommand::PartitionReplica { replica, for_ms }
            }
            other => return unknown_variant(other),
        })
    }
}

impl Message for ManageOp {
    fn from_json(text: &str) -> serde_json::Result<Self> {
        #[derive(Deserialize)]
        struct Tag<'a> {
            #[serde(borrow)]
            name: Cow<'a, str>,
        }
        /// The operations on one key, which name nothing else.
        #[derive(Deserialize)]
        struct OnKey {
            key_id: KeyId,
        }
        /// The operations on one webhook endpoint, which name nothing else.
        #[derive(Deserialize)]
        struct OnEndpoint {
            endpoint_id: EndpointId,
        }
        let key_id = || fields::<OnKey>(text).map(|op| op.key_id);
        let endpoint_id = || fields::<OnEndpoint>(text).map(|op| op.endpoint_id);
        Ok(match &*fields::<Tag>(text)?.name {
            "list_keys" => {
                #[derive(Deserialize)]
                struct ListKeys {
                    include_revoked: bool,
                }
                let ListKeys { include_revoked } = fields(text)?;
                ManageOp::ListKeys { include_revoked }
            }
            "create_key" => {
                #[derive(Deserialize)]
                struct CreateKey {
                    kind: KeyKind,
                    label: String,
                    policy: Policy,
                    #[serde(default)]
                    canary: Option<Vec<KeyId>>,
                }
                let CreateKey {
                    kind,
                    label,
                    policy,
                    canary,
                } = fields(text)?;
                ManageOp::CreateKey {
                    kind,
                    label,
                    policy,
                    canary,
                }
            }
            "update_key" => {
                #[derive(Deserialize)]
                struct UpdateKey {
                    key_id: KeyId,
                    change: UpdateKeyRequest,
                }
                let UpdateKey { key_id, change } = fields(text)?;
                ManageOp::UpdateKey { key_id, change }
            }
            "suspend_key" => ManageOp::SuspendKey { key_id: key_id()? },
            "resume_key" => ManageOp::ResumeKey { key_id: key_id()? },
            "revoke_key" => ManageOp::RevokeKey { key_id: key_id()? },
            "rotate_key" => {
                #[derive(Deserialize)]
                struct RotateKey {
                    key_id: KeyId,
                    grace_period_seconds: Option<u64>,
                }
                let RotateKey {
                    key_id,
                    grace_period_seconds,
                } = fields(text)?;
                ManageOp::RotateKey {
                    key_id,
                    grace_period_seconds,
                }
            }
            "key_usage" => ManageOp::KeyUsage { key_id: key_id()? },
            "key_receipt" => ManageOp::KeyReceipt { key_id: key_id()? },
            "audit_log" => {
                #[derive(Deserialize)]
                struct AuditLog {
                    cursor: Option<u64>,
                    limit: u32,
                    key_id: Option<KeyId>,
                    event: Option<String>,
                }
                let AuditLog {
                    cursor,
                    limit,
                    key_id,
                    event,
                } = fields(text)?;
                ManageOp::AuditLog {
                    cursor,
                    limit,
                    key_id,
                    event,
                }
            }
            "audit_checkpoint" => ManageOp::AuditCheckpoint,
            "audit_export" => {
                #[derive(Deserialize)]
                struct AuditExport {
                    from_seq: u64,
                }
                let AuditExport { from_seq } = fields(text)?;
                ManageOp::AuditExport { from_seq }
            }
            "list_webhook_endpoints" => ManageOp::ListWebhookEndpoints,
            "create_webhook_endpoint" => {
                #[derive(Deserialize)]
                struct CreateWebhookEndpoint {
                    url: String,
                    description: String,
                    events: Option<Vec<EventType>>,
                }
                let CreateWebhookEndpoint {
                    url,
                    description,
                    events,
                } = fields(text)?;
                ManageOp::CreateWebhookEndpoint {
                    url,
                    description,
                    events,
                }
            }
            "delete_webhook_endpoint" => ManageOp::DeleteWebhookEndpoint {
                endpoint_id: endpoint_id()?,
            },
            "rotate_webhook_secret" => ManageOp::RotateWebhookSecret {
                endpoint_id: endpoint_id()?,
            },
            "test_webhook_endpoint" => ManageOp::TestWebhookEndpoint {
                endpoint_id: endpoint_id()?,
            },
            "enable_webhook_endpoint" => ManageOp::EnableWebhookEndpoint {
                endpoint_id: endpoint_id()?,
            },
            "webhook_deliveries" => ManageOp::WebhookDeliveries {
                endpoint_id: endpoint_id()?,
            },
            "resend_webhook_message" => {
                #[derive(Deserialize)]
                struct ResendWebhookMessage {
                    endpoint_id: EndpointId,
                    message_id: MessageId,
                }
                let ResendWebhookMessage {
                    endpoint_id,
                    message_id,
                } = fields(text)?;
                ManageOp::ResendWebhookMessage {
                    endpoint_id,
                    message_id,
                }
            }
            other => return unknown_variant(other),
        })
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
    /// A canary key: recorded as `key.canary_leaked`, nothing changed.
    Canary,
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
