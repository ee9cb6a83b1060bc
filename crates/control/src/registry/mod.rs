//! `ApplicationRegistry`: a single Durable Object holding what spans applications: the
//! list of applications and the account each belongs to, the dashboard sessions (the
//! operator's and people's), and the directory of accounts, members, invitations and
//! passkeys (`directory.rs`, `ceremonies.rs`). Key data lives in each application's own
//! key ring, not here.
//!
//! Sessions are kept here, server-side, so that signing out ends a session for good (a
//! copied cookie stops working), everyone can see their active sessions, and "sign out
//! everywhere" exists. Only a session token's SHA-256 is stored. A person's session ends
//! after 30 minutes without use or 12 hours after sign-in; the operator's after 8 hours.

mod ceremonies;
mod directory;

use std::rc::Rc;

use aero2_accounts::session::{SESSION_ABSOLUTE_LIFETIME_MS, SESSION_IDLE_TIMEOUT_MS};
use aero2_accounts::{AccountId, UserHandle};
use aero2_keys::http::ErrorCode;
use aero2_keys::{ApplicationId, UnixMillis};
use serde::Deserialize;
use worker::{durable_object, DurableObject, Env, Request, Response, Result, SqlStorage, State};

use crate::clock::now;
use crate::config::Config;
use crate::errors::{ApiError, ApiResult};
use crate::json::json_response;
use crate::protocol::{ApplicationInfo, FoundSession, RegistryCommand, SessionRecord};
use crate::schema::{int, opt_text, text, Schema};
use crate::views::{ApplicationList, ApplicationView, Empty};

const SCHEMA: Schema = Schema {
    migrations: &[
        // 1: the first build.
        "CREATE TABLE IF NOT EXISTS applications (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, info TEXT NOT NULL)",
        // 2: server-side dashboard sessions.
        "CREATE TABLE sessions (
           token_hash TEXT PRIMARY KEY, id TEXT NOT NULL UNIQUE, csrf TEXT NOT NULL,
           created_at INTEGER NOT NULL, last_seen_at INTEGER NOT NULL,
           expires_at INTEGER NOT NULL, ip TEXT, user_agent TEXT)",
        // 3: accounts, members, invitations, passkeys and their audit log; the account of
        // each application; people's sessions; the pending passkey challenges.
        "CREATE TABLE accounts (id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at INTEGER NOT NULL);
         CREATE TABLE members (id TEXT PRIMARY KEY, account_id TEXT NOT NULL, user_handle TEXT NOT NULL,
           record TEXT NOT NULL, UNIQUE (account_id, user_handle));
         CREATE INDEX members_by_person ON members (user_handle);
         CREATE TABLE passkeys (id TEXT PRIMARY KEY, user_handle TEXT NOT NULL, name TEXT NOT NULL,
           created_at INTEGER NOT NULL, last_used_at INTEGER, record TEXT NOT NULL);
         CREATE INDEX passkeys_by_person ON passkeys (user_handle);
         CREATE TABLE invitations (id TEXT PRIMARY KEY, account_id TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE,
           record TEXT NOT NULL, member_id TEXT, name TEXT);
         CREATE TABLE account_audit (seq INTEGER PRIMARY KEY AUTOINCREMENT, account_id TEXT NOT NULL,
           at INTEGER NOT NULL, event TEXT NOT NULL, actor TEXT NOT NULL, ip TEXT, user_agent TEXT,
           detail TEXT NOT NULL);
         CREATE INDEX account_audit_by_account ON account_audit (account_id, seq);
         CREATE TABLE application_accounts (application_id TEXT PRIMARY KEY, account_id TEXT NOT NULL);
         CREATE TABLE challenges (id INTEGER PRIMARY KEY CHECK (id = 1), store TEXT NOT NULL);
         ALTER TABLE sessions ADD COLUMN user_handle TEXT;
         ALTER TABLE sessions ADD COLUMN authenticated_at INTEGER NOT NULL DEFAULT 0;",
    ],
    first_table: "applications",
};

/// A session's last-seen time is written at most this often.
const LAST_SEEN_RESOLUTION_MS: u64 = 60_000;

#[derive(Deserialize)]
struct InfoRow {
    info: String,
    #[serde(default)]
    account_id: Option<String>,
}

#[durable_object]
pub struct ApplicationRegistry {
    sql: SqlStorage,
    env: Env,
}

impl DurableObject for ApplicationRegistry {
    fn new(state: State, env: Env) -> Self {
        let sql = state.storage().sql();
        if let Err(err) = SCHEMA.migrate(&sql) {
            worker::console_error!("registry schema could not be migrated ({})", err.code);
        }
        ApplicationRegistry { sql, env }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let response = match crate::protocol::read_command::<RegistryCommand>(&mut req).await {
            Ok(RegistryCommand::Directory { command }) => {
                crate::boxed(self.directory(command, now())).await
            }
            Ok(command) => self.handle(command, now()),
            Err(err) => Err(err),
        };
        Ok(response.unwrap_or_else(ApiError::into_response))
    }
}

/// `user_handle IS ?`: a person's sessions, or (`None`) the operator's.
fn whose(person: Option<UserHandle>) -> worker::SqlStorageValue {
    opt_text(person.map(|p| p.to_base64url()))
}

impl ApplicationRegistry {
    fn config(&self) -> Rc<Config> {
        Config::cached(&self.env)
    }

    fn handle(&self, command: RegistryCommand, now: UnixMillis) -> ApiResult<Response> {
        match command {
            RegistryCommand::Register {
                application,
                account,
            } => {
                let info = serde_json::to_string(&application)
                    .map_err(|_| ErrorCode::TemporarilyUnavailable)?;
                self.sql.exec(
                    "INSERT INTO applications (id, info) VALUES (?, ?) ON CONFLICT (id) DO NOTHING",
                    vec![text(application.id.to_string()), text(info)],
                )?;
                if let Some(account) = account {
                    self.sql.exec(
                        "INSERT INTO application_accounts (application_id, account_id) VALUES (?, ?)
                         ON CONFLICT (application_id) DO NOTHING",
                        vec![text(application.id.to_string()), text(account.to_string())],
                    )?;
                }
                Ok(json_response(201, &Empty {}))
            }
            RegistryCommand::List { person } => {
                let rows: Vec<InfoRow> = match person {
                    None => self
                        .sql
                        .exec(
                            "SELECT applications.info AS info, application_accounts.account_id AS account_id
                             FROM applications LEFT JOIN application_accounts
                               ON application_accounts.application_id = applications.id
                             ORDER BY applications.seq DESC",
                            None,
                        )?
                        .to_array()?,
                    Some(person) => self
                        .sql
                        .exec(
                            "SELECT applications.info AS info, application_accounts.account_id AS account_id
                             FROM applications
                             JOIN application_accounts ON application_accounts.application_id = applications.id
                             JOIN members ON members.account_id = application_accounts.account_id
                             WHERE members.user_handle = ? ORDER BY applications.seq DESC",
                            vec![text(person.to_base64url())],
                        )?
                        .to_array()?,
                };
                let applications: Vec<(ApplicationInfo, Option<String>)> = rows
                    .into_iter()
                    .filter_map(|row| Some((serde_json::from_str(&row.info).ok()?, row.account_id)))
                    .collect();
                let applications = applications
                    .iter()
                    .map(|(app, account)| ApplicationView {
                        account_id: account.as_deref(),
                        ..ApplicationView::of(app)
                    })
                    .collect();
                Ok(json_response(200, &ApplicationList { applications }))
            }
            RegistryCommand::CreateSession {
                token_hash,
                session,
            } => {
                // The operator's sessions only: people's start with a passkey ceremony.
                // Expired sessions go when a new one comes, not on every lookup.
                self.sql.exec(
                    "DELETE FROM sessions WHERE expires_at <= ?",
                    vec![int(now.0)],
                )?;
                self.sql.exec(
                    "INSERT INTO sessions (token_hash, id, csrf, created_at, last_seen_at, expires_at, ip, user_agent)
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    vec![
                        text(token_hash),
                        text(session.id.clone()),
                        text(session.csrf.clone()),
                        int(session.created_at),
                        int(session.last_seen_at),
                        int(session.expires_at),
                        opt_text(session.ip.clone()),
                        opt_text(session.user_agent.clone()),
                    ],
                )?;
                Ok(json_response(201, &session))
            }
            RegistryCommand::FindSession {
                token_hash,
                application,
            } => self.find_session(&token_hash, application, now),
            RegistryCommand::ListSessions { person } => {
                let sessions = self.live_sessions(person, now)?;
                Ok(json_response(200, &sessions))
            }
            RegistryCommand::EndSession { id, person } => {
                let ended = self
                    .sql
                    .exec(
                        "DELETE FROM sessions WHERE id = ? AND user_handle IS ?",
                        vec![text(id), whose(person)],
                    )?
                    .rows_written();
                if ended == 0 {
                    return Err(ErrorCode::SessionNotFound.into());
                }
                Ok(json_response(200, &Empty {}))
            }
            RegistryCommand::EndAllSessions { person } => {
                self.sql.exec(
                    "DELETE FROM sessions WHERE user_handle IS ?",
                    vec![whose(person)],
                )?;
                Ok(json_response(200, &Empty {}))
            }
            RegistryCommand::Directory { .. } => Err(ErrorCode::TemporarilyUnavailable.into()),
            #[cfg(feature = "fault-injection")]
            RegistryCommand::AgeSession { token_hash, by_ms } => {
                self.sql.exec(
                    "UPDATE sessions SET authenticated_at = authenticated_at - ? WHERE token_hash = ?",
                    vec![int(by_ms), text(token_hash)],
                )?;
                Ok(json_response(200, &Empty {}))
            }
        }
    }

    /// The session a cookie's token names, touched. A person's ends 30 minutes after its
    /// last use or 12 hours after sign-in, and with their last membership; their
    /// memberships come with it, and the account of `application` when one is named.
    fn find_session(
        &self,
        token_hash: &str,
        application: Option<ApplicationId>,
        now: UnixMillis,
    ) -> ApiResult<Response> {
        let rows: Vec<SessionRecord> = self
            .sql
            .exec(
                "SELECT id, csrf, created_at, last_seen_at, expires_at, ip, user_agent, user_handle, authenticated_at
                 FROM sessions WHERE token_hash = ? AND expires_at > ?",
                vec![text(token_hash), int(now.0)],
            )?
            .to_array()?;
        let mut session = rows
            .into_iter()
            .next()
            .ok_or(ApiError::from(ErrorCode::NotSignedIn))?;
        let memberships = match &session.user_handle {
            Some(person) => {
                let memberships = self.memberships(person)?;
                if memberships.is_empty() {
                    self.sql.exec(
                        "DELETE FROM sessions WHERE token_hash = ?",
                        vec![text(token_hash)],
                    )?;
                    return Err(ErrorCode::NotSignedIn.into());
                }
                memberships
            }
            None => Vec::new(),
        };
        if now.0 >= session.last_seen_at + LAST_SEEN_RESOLUTION_MS {
            session.last_seen_at = now.0;
            if session.user_handle.is_some() {
                session.expires_at = (now.0 + SESSION_IDLE_TIMEOUT_MS)
                    .min(session.created_at + SESSION_ABSOLUTE_LIFETIME_MS);
            }
            self.sql.exec(
                "UPDATE sessions SET last_seen_at = ?, expires_at = ? WHERE token_hash = ?",
                vec![int(now.0), int(session.expires_at), text(token_hash)],
            )?;
        }
        let application_account = match application {
            Some(application) => self.account_of(application)?,
            None => None,
        };
        Ok(json_response(
            200,
            &FoundSession {
                session,
                memberships,
                application_account,
            },
        ))
    }

    /// The account an application belongs to, if any.
    fn account_of(&self, application: ApplicationId) -> ApiResult<Option<AccountId>> {
        #[derive(Deserialize)]
        struct Row {
            account_id: String,
        }
        let rows: Vec<Row> = self
            .sql
            .exec(
                "SELECT account_id FROM application_accounts WHERE application_id = ?",
                vec![text(application.to_string())],
            )?
            .to_array()?;
        Ok(rows
            .first()
            .and_then(|row| AccountId::parse(&row.account_id).ok()))
    }

    /// The operator's, or a person's, sessions that have not expired, newest first;
    /// expired ones are deleted.
    fn live_sessions(
        &self,
        person: Option<UserHandle>,
        now: UnixMillis,
    ) -> ApiResult<Vec<SessionRecord>> {
        self.sql.exec(
            "DELETE FROM sessions WHERE expires_at <= ?",
            vec![int(now.0)],
        )?;
        Ok(self
            .sql
            .exec(
                "SELECT id, csrf, created_at, last_seen_at, expires_at, ip, user_agent, user_handle, authenticated_at
                 FROM sessions WHERE user_handle IS ? ORDER BY created_at DESC",
                vec![whose(person)],
            )?
            .to_array()?)
    }
}
