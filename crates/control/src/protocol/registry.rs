//! Commands to the registry: applications, dashboard sessions, and the directory of
//! accounts (`directory.rs`).

use aero2_accounts::{AccountId, UserHandle};
use aero2_keys::ApplicationId;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use worker::{Env, Response};

use super::{
    fields, send, unknown_variant, ApplicationInfo, DirectoryCommand, Membership, Message,
};
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
    /// A person's session (their passkeys' user handle); none for the operator's.
    #[serde(default)]
    pub user_handle: Option<UserHandle>,
    /// The last passkey ceremony: the sign-in, or the latest step-up.
    #[serde(default)]
    pub authenticated_at: u64,
}

/// What a session cookie names: the session, and for a person their memberships and, when
/// asked about an application, the account that owns it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FoundSession {
    pub session: SessionRecord,
    #[serde(default)]
    pub memberships: Vec<Membership>,
    #[serde(default)]
    pub application_account: Option<AccountId>,
}

/// Read by [`Message::from_json`] (below), written by serde.
#[derive(Debug, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum RegistryCommand {
    Register {
        application: ApplicationInfo,
        account: Option<AccountId>,
    },
    /// Every application (the operator), or those of a person's accounts.
    List {
        person: Option<UserHandle>,
    },
    /// Dashboard sessions: a token is only ever sent as its SHA-256.
    CreateSession {
        token_hash: String,
        session: SessionRecord,
    },
    FindSession {
        token_hash: String,
        application: Option<ApplicationId>,
    },
    /// The operator's sessions, or a person's.
    ListSessions {
        person: Option<UserHandle>,
    },
    EndSession {
        id: String,
        person: Option<UserHandle>,
    },
    EndAllSessions {
        person: Option<UserHandle>,
    },
    Directory {
        command: DirectoryCommand,
    },
    /// Test builds only: moves a session's last passkey ceremony `by_ms` into the past
    /// (step-up is needed 5 minutes after it).
    #[cfg(feature = "fault-injection")]
    AgeSession {
        token_hash: String,
        by_ms: u64,
    },
}

/// The commands that name at most a person.
#[derive(Deserialize)]
struct Person {
    #[serde(default)]
    person: Option<UserHandle>,
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
                    #[serde(default)]
                    account: Option<AccountId>,
                }
                let Register {
                    application,
                    account,
                } = fields(text)?;
                RegistryCommand::Register {
                    application,
                    account,
                }
            }
            "list" => {
                #[derive(Deserialize)]
                struct List {
                    #[serde(default)]
                    person: Option<UserHandle>,
                }
                let List { person } = fields(text)?;
                RegistryCommand::List { person }
            }
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
                    #[serde(default)]
                    application: Option<ApplicationId>,
                }
                let FindSession {
                    token_hash,
                    application,
                } = fields(text)?;
                RegistryCommand::FindSession {
                    token_hash,
                    application,
                }
            }
            "list_sessions" => RegistryCommand::ListSessions {
                person: fields::<Person>(text)?.person,
            },
            "end_all_sessions" => RegistryCommand::EndAllSessions {
                person: fields::<Person>(text)?.person,
            },
            "end_session" => {
                #[derive(Deserialize)]
                struct EndSession {
                    id: String,
                    #[serde(default)]
                    person: Option<UserHandle>,
                }
                let EndSession { id, person } = fields(text)?;
                RegistryCommand::EndSession { id, person }
            }
            #[cfg(feature = "fault-injection")]
            "age_session" => {
                #[derive(Deserialize)]
                struct AgeSession {
                    token_hash: String,
                    by_ms: u64,
                }
                let AgeSession { token_hash, by_ms } = fields(text)?;
                RegistryCommand::AgeSession { token_hash, by_ms }
            }
            "directory" => {
                #[derive(Deserialize)]
                struct Directory {
                    command: DirectoryCommand,
                }
                let Directory { command } = fields(text)?;
                RegistryCommand::Directory { command }
            }
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
