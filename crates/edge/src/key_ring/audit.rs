//! The audit log: one row per management event and per notable use of a key, newest
//! first when read, kept in the key ring's SQLite storage.

use aero2_keys::{KeyId, UnixMillis};
use serde::Deserialize;

use aero2_keys::usage::HOUR_MS;

use super::store::{corrupt, int, opt_text, text, Store};
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

#[derive(Deserialize)]
struct AggregateRow {
    audit_seq: u64,
    count: u64,
    first_at: u64,
}

#[derive(Deserialize)]
struct SeqRow {
    seq: u64,
}

impl Store {
    /// Deletes audit entries older than `cutoff`, and aggregation state of past hours.
    pub fn prune_audit(&self, cutoff: UnixMillis, now: UnixMillis) -> ApiResult<()> {
        self.sql
            .exec("DELETE FROM audit WHERE at < ?", vec![int(cutoff.0)])?;
        let current_hour = now.0 / HOUR_MS;
        self.sql.exec(
            "DELETE FROM aggregates WHERE hour < ?",
            vec![int(current_hour.saturating_sub(1))],
        )?;
        Ok(())
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
        self.record_aggregated(
            "key.secret_in_browser",
            key_id,
            client,
            now,
            "a secret key was sent from a browser and refused; it may be exposed in client code",
        )
    }

    /// Records an event that can repeat on every request as one audit entry per key and
    /// hour, with a count and the first and last client seen, so that a flood of them
    /// cannot grow the log without bound.
    pub(super) fn record_aggregated(
        &self,
        event: &str,
        key_id: KeyId,
        client: &ClientInfo,
        now: UnixMillis,
        message: &'static str,
    ) -> ApiResult<()> {
        let sql = &self.store.sql;
        let hour = now.0 / HOUR_MS;
        let key = || text(key_id.to_string());
        let existing: Vec<AggregateRow> = sql
            .exec(
                "SELECT audit_seq, count, first_at FROM aggregates WHERE event = ? AND key_id = ? AND hour = ?",
                vec![text(event), key(), int(hour)],
            )?
            .to_array()?;
        let (count, first_at) = existing
            .first()
            .map_or((1, now), |row| (row.count + 1, UnixMillis(row.first_at)));
        let detail = AuditDetail::Aggregated {
            message,
            count,
            first_seen_at: first_at.to_rfc3339(),
            last_seen_at: now.to_rfc3339(),
            last_ip: client.ip.as_deref(),
            last_user_agent: client.user_agent.as_deref(),
        };
        let detail = serde_json::to_string(&detail).unwrap_or_else(|_| "{}".to_owned());
        if let Some(row) = existing.first() {
            sql.exec(
                "UPDATE audit SET detail = ? WHERE seq = ?",
                vec![text(detail), int(row.audit_seq)],
            )?;
            sql.exec(
                "UPDATE aggregates SET count = ? WHERE event = ? AND key_id = ? AND hour = ?",
                vec![int(count), text(event), key(), int(hour)],
            )?;
            return Ok(());
        }
        let inserted: Vec<SeqRow> = sql
            .exec(
                "INSERT INTO audit (at, event, key_id, actor, ip, user_agent, detail)
                 VALUES (?, ?, ?, 'system', ?, ?, ?) RETURNING seq",
                vec![
                    int(now.0),
                    text(event),
                    key(),
                    opt_text(client.ip.clone()),
                    opt_text(client.user_agent.clone()),
                    text(detail),
                ],
            )?
            .to_array()?;
        let seq = inserted
            .first()
            .map(|row| row.seq)
            .ok_or_else(|| corrupt("audit entry"))?;
        sql.exec(
            "INSERT INTO aggregates (event, key_id, hour, audit_seq, count, first_at) VALUES (?, ?, ?, ?, 1, ?)",
            vec![text(event), key(), int(hour), int(seq), int(now.0)],
        )?;
        Ok(())
    }
}
