//! Commands to an application's key ring, and what it answers.

use aero2_keys::http::bodies::UpdateKeyRequest;
use aero2_keys::http::ErrorCode;
use aero2_keys::policy::{Facts, Policy, RateDecision, RateLimit};
use aero2_keys::repeats::Observation;
use aero2_keys::usage::UsageCount;
use aero2_keys::webhooks::EventType;
use aero2_keys::{
    ApplicationId, EndpointId, Environment, KeyId, KeyIdentity, KeyKind, MessageId, StorageId,
    UnixMillis,
};
use serde::{Deserialize, Serialize};
use worker::{Env, Response};

use super::{send, ClientInfo, ReplicaName};
use crate::config::KEY_RING_BINDING;
use crate::errors::{ApiError, ApiResult};

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
    /// Strict-mode validation of a gated request.
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
    /// Usage counted at the edge in `edge` mode, sent in batches after the response.
    RecordUsage { counts: Vec<UsageCount> },
    /// What the edge saw that the audit log keeps, aggregated per key and hour (`edge`
    /// and `regional` mode; in strict mode the key ring sees it itself). Repeats are
    /// already coalesced by the isolate ([`aero2_keys::repeats`]).
    RecordEvents { events: Vec<SeenEvent> },
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
    LookupRecord { storage_id: StorageId },
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

/// What the policy checks need of a gated request.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RequestFacts {
    pub method: String,
    /// The normalised path.
    pub path: String,
    /// `CF-Connecting-IP`.
    pub client_ip: Option<String>,
    /// `Origin`, or the origin of `Referer`.
    pub origin: Option<String>,
    /// Whether the query names a method override (`_method`). (Absent in the messages of
    /// gates from before it was added: they did not check it.)
    #[serde(default)]
    pub method_override: bool,
}

impl RequestFacts {
    pub fn facts(&self) -> Facts<'_> {
        Facts {
            method: &self.method,
            path: &self.path,
            client_ip: self.client_ip.as_deref().and_then(|ip| ip.parse().ok()),
            origin: self.origin.as_deref(),
            method_override: self.method_override,
        }
    }
}

/// Events that can repeat on every request; the audit log keeps one entry per key and
/// hour for each. Nothing the client chooses is part of the event (an origin goes into
/// [`Observed`]), so that repeats can be coalesced whatever the client sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyEvent {
    /// A secret key, refused because a browser sent it.
    SecretInBrowser,
    /// A publishable key used from a website its policy does not list (`report` mode).
    OriginNotAllowed,
    /// A request refused by the key's rate limit.
    RateLimited,
}

/// What was seen of an event's occurrences: the last client, and the distinct origins
/// (at most [`Observed::MAX_ORIGINS`], each cut to [`Observed::MAX_ORIGIN_CHARS`]).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Observed {
    pub client: ClientInfo,
    pub origins: Vec<String>,
}

impl Observed {
    /// Distinct origins listed, at most: the list is for people.
    pub const MAX_ORIGINS: usize = 10;
    pub const MAX_ORIGIN_CHARS: usize = 256;

    pub fn new(client: ClientInfo, origin: Option<&str>) -> Self {
        let mut observed = Observed {
            client,
            origins: Vec::new(),
        };
        observed.add_origins(origin.into_iter().map(str::to_owned));
        observed
    }

    /// Adds origins not listed yet, while there is room.
    pub fn add_origins(&mut self, origins: impl IntoIterator<Item = String>) {
        for origin in origins {
            if self.origins.len() >= Self::MAX_ORIGINS {
                return;
            }
            let origin = super::truncate(origin, Self::MAX_ORIGIN_CHARS);
            if !self.origins.contains(&origin) {
                self.origins.push(origin);
            }
        }
    }
}

impl Observation for Observed {
    fn merge(&mut self, later: Self) {
        self.client = later.client;
        self.add_origins(later.origins);
    }
}

/// `count` occurrences of `event` with one key, the last at `last_at`.
#[derive(Debug, Serialize, Deserialize)]
pub struct SeenEvent {
    pub key_id: KeyId,
    pub event: KeyEvent,
    pub count: u32,
    pub last_at: UnixMillis,
    pub observed: Observed,
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

/// What the key ring answers to `Validate` when the key may be used.
#[derive(Debug, Serialize, Deserialize)]
pub struct Validated {
    pub key_id: KeyId,
    pub kind: KeyKind,
    /// Whether the page's origin may read the answer (CORS), by the key's policy.
    pub cors: bool,
    /// The key's rate limit and what it said, when it has one. A refusal is `allowed:
    /// false`: the gate answers it with 429 and the rate-limit headers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<RateVerdict>,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct RateVerdict {
    pub limit: RateLimit,
    pub allowed: bool,
    pub remaining: u32,
    pub reset_after_seconds: u64,
}

impl RateVerdict {
    pub fn of(limit: RateLimit, decision: RateDecision) -> Self {
        RateVerdict {
            limit,
            allowed: decision.allowed,
            remaining: decision.remaining,
            reset_after_seconds: decision.reset_after_seconds,
        }
    }

    /// The 429 for a refusal: `Retry-After`, `RateLimit-Policy` and `RateLimit`.
    pub fn refusal(&self) -> ApiError {
        let decision = RateDecision {
            allowed: false,
            remaining: self.remaining,
            reset_after_seconds: self.reset_after_seconds,
        };
        ApiError::retry_after(ErrorCode::RateLimited, self.reset_after_seconds)
            .with_header("RateLimit-Policy", self.limit.policy_header())
            .with_header("RateLimit", decision.header())
    }
}

/// Sends a command to an application's key ring. Its response is the public response.
pub async fn to_key_ring(
    env: &Env,
    application: ApplicationId,
    command: &RingCommand,
) -> ApiResult<Response> {
    #[cfg(feature = "instrumentation")]
    crate::instrumentation::key_ring_call();
    let stub = env
        .durable_object(KEY_RING_BINDING)?
        .get_by_name(&application.to_string())?;
    send(stub, command).await
}
