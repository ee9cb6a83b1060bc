//! Commands to the operator's registry: applications and dashboard sessions.

use serde::{Deserialize, Serialize};
use worker::{Env, Response};

use super::{send, ApplicationInfo};
use crate::config::REGISTRY_BINDING;
use crate::errors::ApiResult;

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

pub async fn to_registry(env: &Env, command: &RegistryCommand) -> ApiResult<Response> {
    send(
        env.durable_object(REGISTRY_BINDING)?
            .get_by_name("registry")?,
        command,
    )
    .await
}
