//! The messages the worker sends to Durable Objects. Keys cross this boundary only as
//! storage ids (hashes), never as values.

use aero2_keys::{ApplicationId, Environment, KeyId, KeyKind, StorageId, UnixMillis};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use worker::{Env, Method, Request, RequestInit, Response};

use crate::config::{KEY_RING_BINDING, REGISTRY_BINDING};
use crate::error::{ApiError, ApiResult};

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

/// The caller of a management operation.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Actor {
    /// A request authenticated by one of the application's own keys.
    Key {
        storage_id: StorageId,
        from_browser: bool,
    },
    /// The operator, authenticated by `ADMIN_TOKEN`.
    Operator,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ApplicationInfo {
    pub id: ApplicationId,
    pub name: String,
    pub environment: Environment,
    pub created_at: UnixMillis,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct UsageCount {
    pub key_id: KeyId,
    pub requests: u32,
    pub last_used_at: UnixMillis,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum RingCommand {
    Init {
        application: ApplicationInfo,
        client: ClientInfo,
    },
    Validate {
        storage_id: StorageId,
        kind: KeyKind,
        from_browser: bool,
        client: ClientInfo,
    },
    ListKeys {
        actor: Actor,
        client: ClientInfo,
        include_revoked: bool,
    },
    CreateKey {
        actor: Actor,
        client: ClientInfo,
        kind: KeyKind,
        label: String,
    },
    RevokeKey {
        actor: Actor,
        client: ClientInfo,
        key_id: KeyId,
    },
    RotateKey {
        actor: Actor,
        client: ClientInfo,
        key_id: KeyId,
        grace_period_seconds: Option<u64>,
    },
    KeyUsage {
        actor: Actor,
        client: ClientInfo,
        key_id: KeyId,
    },
    AuditLog {
        actor: Actor,
        client: ClientInfo,
        cursor: Option<u64>,
        limit: u32,
        key_id: Option<KeyId>,
        event: Option<String>,
    },
    /// Usage counted at the edge in `edge` mode, sent in batches after the response.
    RecordUsage { counts: Vec<UsageCount> },
    /// A secret key refused at the edge because a browser sent it (`edge` mode).
    RecordBrowserExposure { key_id: KeyId, client: ClientInfo },
    /// Test builds only: make this key ring's KV writes fail for a while.
    #[cfg(feature = "fault-injection")]
    InjectKvFailure { fail_for_ms: u64 },
    /// A key a secret scanner found in public, with where it was found.
    ReportLeak {
        storage_id: StorageId,
        url: String,
        source: String,
    },
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
    Register { application: ApplicationInfo },
    List,
}

/// What the key ring answers to `Validate` when the key authenticates.
#[derive(Debug, Serialize, Deserialize)]
pub struct Validated {
    pub key_id: KeyId,
    pub kind: KeyKind,
}

async fn send<T: Serialize>(
    env: &Env,
    binding: &str,
    name: &str,
    command: &T,
) -> ApiResult<Response> {
    let stub = env.durable_object(binding)?.get_by_name(name)?;
    let body = serde_json::to_string(command).map_err(|_| ApiError::unavailable())?;
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
    crate::instrumentation::durable_object_call();
    send(env, KEY_RING_BINDING, &application.to_string(), command).await
}

pub async fn to_registry(env: &Env, command: &RegistryCommand) -> ApiResult<Response> {
    send(env, REGISTRY_BINDING, "registry", command).await
}

/// Reads a Durable Object's JSON answer, turning its error responses back into errors.
pub async fn read_answer<T: DeserializeOwned>(
    mut response: Response,
) -> ApiResult<Result<T, Response>> {
    if !(200..300).contains(&response.status_code()) {
        return Ok(Err(response));
    }
    let value = response.json::<T>().await?;
    Ok(Ok(value))
}
