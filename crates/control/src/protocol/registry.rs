//! Commands to the operator's registry: applications and dashboard sessions.

use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use worker::{Env, Response};

use super::{fields, send, unknown_variant, ApplicationInfo, Message};
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

/// Read by [`Message::from_json`] (below), written by serde.
#[derive(Debug, Serialize)]
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

impl Message for RegistryCommand {
    fn from_json(text: &str) -> serde_json::Result<Self> {
        #[derive(Deserialize)]
        struct Tag<'a> {
            #[serde(borrow)]
            op: Cow<'a, str>,
        }
        Ok(match &*fields::<Tag>(text)?.op {
            "register" => {
                #[derive(Deserialize)]
                struct Register {
                    application: ApplicationInfo,
                }
                let Register { application } = fields(text)?;
                RegistryCommand::Register { application }
            }
            "list" => RegistryCommand::List,
            "create_session" => {
                #[derive(Deserialize)]
                struct CreateSession {
                    token_hash: String,
                    session: SessionRecord,
                }
                let CreateSession {
                    token_hash,
                    session,
                } = fields(text)?;
                RegistryCommand::CreateSession {
                    token_hash,
                    session,
                }
            }
            "find_session" => {
                #[derive(Deserialize)]
                struct FindSession {
                    token_hash: String,
                }
                let FindSession { token_hash } = fields(text)?;
                RegistryCommand::FindSession { token_hash }
            }
            "list_sessions" => RegistryCommand::ListSessions,
            "end_session" => {
                #[derive(Deserialize)]
                struct EndSession {
                    id: String,
                }
                let EndSession { id } = fields(text)?;
                RegistryCommand::EndSession { id }
            }
            "end_all_sessions" => RegistryCommand::EndAllSessions,
            other => return unknown_variant(other),
        })
    }
}

pub async fn to_registry(env: &Env, command: &RegistryCommand) -> ApiResult<Response> {
    send(
        env.durable_object(REGISTRY_BINDING)?
            .get_by_name("registry")?,
        command,
    )
    .await
}
