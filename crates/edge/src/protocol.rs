//! The messages the worker sends to Durable Objects. Keys cross this boundary only as
//! storage ids (hashes), never as values.

use aero2_keys::gate::EdgeRecord;
use aero2_keys::http::bodies::UpdateKeyRequest;
use aero2_keys::http::ErrorCode;
use aero2_keys::policy::{Facts, Policy, RateDecision, RateLimit};
use aero2_keys::regional::{Lease, Push, Region};
use aero2_keys::usage::UsageCount;
use aero2_keys::webhooks::EventType;
use aero2_keys::{
    ApplicationId, EndpointId, Environment, KeyId, KeyIdentity, KeyKind, MessageId, StorageId,
    UnixMillis,
};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use worker::{Env, Method, Request, RequestInit, Response};

use crate::config::{KEY_RING_BINDING, REGISTRY_BINDING, REPLICA_BINDING};
use crate::errors::{ApiError, ApiResult};

/// A dashboard session, as the registry stores it (never the token itself).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SessionRecord {
    pub id: String,
    pub csrf: String,
    pub created_at: u64,
    pub last_seen_at: u64,
    pub expires_at: u64,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// Who is calling, as far as the audit log is concerned.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ClientInfo {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl ClientInfo {
    const MAX_USER_AGENT: usize = 256;

    pub fn of(req: &Request) -> Self {
        let header = |name| req.headers().get(name).ok().flatten();
        ClientInfo {
            ip: header("CF-Connecting-IP").map(|ip| truncate(ip, 64)),
            user_agent: header("User-Agent").map(|ua| truncate(ua, Self::MAX_USER_AGENT)),
        }
    }
}

/// Cuts client-supplied text (user agents, reported URLs) to at most `max_chars`
/// characters before it is stored.
pub fn truncate(mut text: String, max_chars: usize) -> String {
    if let Some((index, _)) = text.char_indices().nth(max_chars) {
        text.truncate(index);
    }
    text
}

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
    /// Something the edge saw that the audit log keeps, aggregated per key and hour
    /// (`edge` mode; in strict mode the key ring sees it itself).
    RecordEvent {
        key_id: KeyId,
        event: KeyEvent,
        client: ClientInfo,
    },
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
}

impl RequestFacts {
    pub fn facts(&self) -> Facts<'_> {
        Facts {
            method: &self.method,
            path: &self.path,
            client_ip: self.client_ip.as_deref().and_then(|ip| ip.parse().ok()),
            origin: self.origin.as_deref(),
        }
    }
}

/// Events that can repeat on every request; the audit log keeps one entry per key and
/// hour for each.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum KeyEvent {
    /// A secret key, refused because a browser sent it.
    SecretInBrowser,
    /// A publishable key used from a website its policy does not list (`report` mode).
    OriginNotAllowed { origin: String },
    /// A request refused by the key's rate limit.
    RateLimited,
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

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum RegistryCommand {
    Register {
        application: ApplicationInfo,
    },
    List,
    /// Dashboard sessions: a token is only ever sent as its SHA-256.
    CreateSession {
        token_hash: String,
        session: SessionRecord,
    },
    FindSession {
        token_hash: String,
    },
    ListSessions,
    EndSession {
        id: String,
    },
    EndAllSessions,
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

async fn send<T: Serialize>(
    env: &Env,
    binding: &str,
    name: &str,
    command: &T,
) -> ApiResult<Response> {
    let stub = env.durable_object(binding)?.get_by_name(name)?;
    let body = serde_json::to_string(command).map_err(|_| ErrorCode::TemporarilyUnavailable)?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_body(Some(body.into()));
    let req = Request::new_with_init("https://durable-object.internal/", &init)?;
    Ok(stub.fetch_with_request(req).await?)
}

/// Sends a command to an application's key ring. Its response is the public response.
pub async fn to_key_ring(
    env: &Env,
    application: ApplicationId,
    command: &RingCommand,
) -> ApiResult<Response> {
    #[cfg(feature = "instrumentation")]
    crate::instrumentation::key_ring_call();
    send(env, KEY_RING_BINDING, &application.to_string(), command).await
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
    let body = serde_json::to_string(command).map_err(|_| ErrorCode::TemporarilyUnavailable)?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_body(Some(body.into()));
    let req = Request::new_with_init("https://durable-object.internal/", &init)?;
    Ok(stub.fetch_with_request(req).await?)
}

pub async fn to_registry(env: &Env, command: &RegistryCommand) -> ApiResult<Response> {
    send(env, REGISTRY_BINDING, "registry", command).await
}

/// Reads a command in a Durable Object. Parsed by serde_json from the text, not by
/// `Request::json` (JavaScript's `JSON.parse` then a conversion): that is one string across
/// the JavaScript boundary instead of one call per field, and integers above 2^53 (audit
/// cursors) keep their value.
pub async fn read_command<T: DeserializeOwned>(req: &mut Request) -> ApiResult<T> {
    let text = req.text().await?;
    serde_json::from_str(&text)
        .map_err(|_| ApiError::with_detail(ErrorCode::InvalidRequest, "unreadable command"))
}

/// Passes a Durable Object's successful answer through as the public response, and turns
/// an error answer back into an error.
pub async fn relay(mut response: Response) -> ApiResult<Response> {
    if response.status_code() < 400 {
        return Ok(response);
    }
    let body = response.bytes().await?;
    Err(ApiError::from_wire(&body))
}

/// Reads a Durable Object's JSON answer, turning its error responses back into errors.
pub async fn read_answer<T: DeserializeOwned>(mut response: Response) -> ApiResult<T> {
    let body = response.bytes().await?;
    if !(200..300).contains(&response.status_code()) {
        return Err(ApiError::from_wire(&body));
    }
    serde_json::from_slice(&body).map_err(|_| ErrorCode::TemporarilyUnavailable.into())
}
