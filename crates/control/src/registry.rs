//! `ApplicationRegistry`: a single Durable Object holding what spans applications: the
//! list of applications, for the operator API, and the operator's dashboard sessions. Key
//! data lives in each application's own key ring, not here.
//!
//! Sessions are kept here, server-side, so that signing out ends a session for good (a
//! copied cookie stops working), the operator can see every active session, and "sign out
//! everywhere" exists. Only a session token's SHA-256 is stored.

use aero2_keys::http::ErrorCode;
use aero2_keys::UnixMillis;
use serde::Deserialize;
use worker::{durable_object, DurableObject, Env, Request, Response, Result, SqlStorage, State};

use crate::clock::now;
use crate::errors::{ApiError, ApiResult};
use crate::json::json_response;
use crate::protocol::{ApplicationInfo, RegistryCommand, SessionRecord};
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
    ],
    first_table: "applications",
};

/// A session's last-seen time is written at most this often.
const LAST_SEEN_RESOLUTION_MS: u64 = 60_000;

#[derive(Deserialize)]
struct InfoRow {
    info: String,
}

#[durable_object]
pub struct ApplicationRegistry {
    sql: SqlStorage,
}

impl DurableObject for ApplicationRegistry {
    fn new(state: State, _env: Env) -> Self {
        let sql = state.storage().sql();
        if let Err(err) = SCHEMA.migrate(&sql) {
            worker::console_error!("registry schema could not be migrated ({})", err.code);
        }
        ApplicationRegistry { sql }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let response = match crate::protocol::read_command::<RegistryCommand>(&mut req).await {
            Ok(command) => self.handle(command, now()),
            Err(err) => Err(err),
        };
        Ok(response.unwrap_or_else(ApiError::into_response))
    }
}

impl ApplicationRegistry {
    fn handle(&self, command: RegistryCommand, now: UnixMillis) -> ApiResult<Response> {
        match command {
            RegistryCommand::Register { application } => {
                let info = serde_json::to_string(&application)
                    .map_err(|_| ErrorCode::TemporarilyUnavailable)?;
                self.sql.exec(
                    "INSERT INTO applications (id, info) VALUES (?, ?) ON CONFLICT (id) DO NOTHING",
                    vec![text(application.id.to_string()), text(info)],
                )?;
                Ok(json_response(201, &Empty {}))
            }
            RegistryCommand::List => {
                let rows: Vec<InfoRow> = self
                    .sql
                    .exec("SELECT info FROM applications ORDER BY seq DESC", None)?
                    .to_array()?;
                let applications: Vec<ApplicationInfo> = rows
                    .iter()
                    .filter_map(|row| serde_json::from_str(&row.info).ok())
                    .collect();
                let applications = applications.iter().map(ApplicationView::of).collect();
                Ok(json_response(200, &ApplicationList { applications }))
            }
            RegistryCommand::CreateSession {
                token_hash,
                session,
            } => {
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
            RegistryCommand::FindSession { token_hash } => {
                let rows: Vec<SessionRecord> = self
                    .sql
                    .exec(
                        "SELECT id, csrf, created_at, last_seen_at, expires_at, ip, user_agent
                         FROM sessions WHERE token_hash = ? AND expires_at > ?",
                        vec![text(token_hash.clone()), int(now.0)],
                    )?
                    .to_array()?;
                let session = rows
                    .into_iter()
                    .next()
                    .ok_or(ApiError::from(ErrorCode::NotSignedIn))?;
                if now.0 >= session.last_seen_at + LAST_SEEN_RESOLUTION_MS {
                    self.sql.exec(
                        "UPDATE sessions SET last_seen_at = ? WHERE token_hash = ?",
                        vec![int(now.0), text(token_hash)],
                    )?;
                }
                Ok(json_response(200, &session))
            }
            RegistryCommand::ListSessions => {
                let sessions = self.live_sessions(now)?;
                Ok(json_response(200, &sessions))
            }
            RegistryCommand::EndSession { id } => {
                let ended = self
                    .sql
                    .exec("DELETE FROM sessions WHERE id = ?", vec![text(id)])?
                    .rows_written();
                if ended == 0 {
                    return Err(ErrorCode::SessionNotFound.into());
                }
                Ok(json_response(200, &Empty {}))
            }
            RegistryCommand::EndAllSessions => {
                self.sql.exec("DELETE FROM sessions", None)?;
                Ok(json_response(200, &Empty {}))
            }
        }
    }

    /// Sessions that have not expired, newest first; expired ones are deleted.
    fn live_sessions(&self, now: UnixMillis) -> ApiResult<Vec<SessionRecord>> {
        self.sql.exec(
            "DELETE FROM sessions WHERE expires_at <= ?",
            vec![int(now.0)],
        )?;
        Ok(self
            .sql
            .exec(
                "SELECT id, csrf, created_at, last_seen_at, expires_at, ip, user_agent
                 FROM sessions ORDER BY created_at DESC",
                None,
            )?
            .to_array()?)
    }
}
