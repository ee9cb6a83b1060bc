//! The audit log: one row per management event and per notable use of a key, newest
//! first when read, kept in the key ring's SQLite storage.

use aero2_keys::{KeyId, UnixMillis};
use serde::Deserialize;

use super::store::{int, opt_text, text, Store};
use super::KeyRingObject;
use crate::errors::ApiResult;
use crate::protocol::ClientInfo;
use crate::views::{AuditDetail, AuditEntryView, AuditLog};

#[derive(Deserialize)]
struct AuditRow {
    seq: u64,
    at: u64,
    event: String,
    key_id: Option<String>,
    actor: String,
    ip: Option<String>,
    user_agent: Option<String>,
    detail: String,
}

/// One page of the audit log, newest first, before `cursor` (an entry id).
pub struct AuditQuery<'a> {
    pub cursor: Option<u64>,
    pub limit: u32,
    pub key_id: Option<KeyId>,
    pub event: Option<&'a str>,
}

impl Store {
    pub fn insert_audit(
        &self,
        now: UnixMillis,
        event: &str,
        key_id: Option<KeyId>,
        actor: &str,
        client: &ClientInfo,
        detail: &AuditDetail<'_>,
    ) -> ApiResult<()> {
        let detail = serde_json::to_string(detail).unwrap_or_else(|_| "{}".to_owned());
        self.sql.exec(
            "INSERT INTO audit (at, event, key_id, actor, ip, user_agent, detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
            vec![
                int(now.0),
                text(event),
                opt_text(key_id.map(|id| id.to_string())),
                text(actor),
                opt_text(client.ip.clone()),
                opt_text(client.user_agent.clone()),
                text(detail),
            ],
        )?;
        Ok(())
    }

    pub fn audit_page(&self, query: &AuditQuery<'_>) -> ApiResult<AuditLog> {
        let limit = query.limit.clamp(1, 100);
        let mut sql = String::from(
            "SELECT seq, at, event, key_id, actor, ip, user_agent, detail FROM audit WHERE seq < ?",
        );
        let mut bindings = vec![int(query.cursor.unwrap_or(i64::MAX as u64))];
        if let Some(key_id) = query.key_id {
            sql.push_str(" AND key_id = ?");
            bindings.push(text(key_id.to_string()));
        }
        if let Some(event) = query.event {
            sql.push_str(" AND event = ?");
            bindings.push(text(event));
        }
        sql.push_str(" ORDER BY seq DESC LIMIT ?");
        bindings.push(int(u64::from(limit)));
        let rows: Vec<AuditRow> = self.sql.exec(&sql, bindings)?.to_array()?;
        let next_cursor = (rows.len() == limit as usize)
            .then(|| rows.last().map(|row| row.seq.to_string()))
            .flatten();
        let entries = rows
            .into_iter()
            .map(|row| AuditEntryView {
                id: row.seq.to_string(),
                at: UnixMillis(row.at).to_rfc3339(),
                event: row.event,
                key_id: row.key_id,
                actor: row.actor,
                ip: row.ip,
                user_agent: row.user_agent,
                detail: serde_json::from_str(&row.detail).unwrap_or_default(),
            })
            .collect();
        Ok(AuditLog {
            entries,
            next_cursor,
        })
    }
}

impl KeyRingObject {
    /// A secret key was refused because a browser sent it: its owner must know.
    pub(super) fn record_exposure(
        &self,
        key_id: KeyId,
        client: &ClientInfo,
        now: UnixMillis,
    ) -> ApiResult<()> {
        self.store.insert_audit(
            now,
            "key.secret_in_browser",
            Some(key_id),
            "system",
            client,
            &AuditDetail::Exposure {
                message: "a secret key was sent from a browser and refused; it may be exposed in client code",
            },
        )
    }
}
