//! The webhook tables: endpoints, the message outbox, attempts and reminders sent.

use aero2_keys::webhooks::reminders::{Due, Reminder};
use aero2_keys::webhooks::EventType;
use aero2_keys::{EndpointId, KeyId, MessageId, UnixMillis};
use serde::Deserialize;

use super::views::AttemptRow;
use super::{EndpointRecord, WebhookState, ATTEMPTS_KEPT, DELIVERY_BATCH, MESSAGE_RETENTION_MS};
use crate::errors::ApiResult;
use crate::key_ring::store::{corrupt, int, opt_text, text, Store};

#[derive(Deserialize)]
pub(super) struct InfoRow {
    pub(super) info: String,
}

#[derive(Deserialize)]
pub(super) struct NextRow {
    pub(super) next: Option<u64>,
}

#[derive(Deserialize)]
pub(super) struct CountRow {
    pub(super) count: u64,
}

#[derive(Deserialize)]
pub(super) struct ReminderRow {
    pub(super) key_id: String,
    pub(super) reminder: String,
    pub(super) for_at: u64,
}

#[derive(Clone, Deserialize)]
pub(super) struct MessageRow {
    pub(super) id: String,
    pub(super) endpoint_id: String,
    pub(super) event: String,
    pub(super) body: String,
    pub(super) attempts: u32,
}

impl Store {
    pub fn load_webhooks(&self) -> ApiResult<WebhookState> {
        let rows: Vec<InfoRow> = self
            .sql
            .exec("SELECT info FROM webhook_endpoints ORDER BY rowid", None)?
            .to_array()?;
        let endpoints = rows
            .iter()
            .map(|row| serde_json::from_str(&row.info))
            .collect::<Result<Vec<EndpointRecord>, _>>()
            .map_err(|_| corrupt("webhook endpoint"))?;
        let reminders: Vec<ReminderRow> = self
            .sql
            .exec("SELECT key_id, reminder, for_at FROM reminders", None)?
            .to_array()?;
        let reminders_sent = reminders
            .iter()
            .filter_map(|row| {
                Some((
                    KeyId::parse(&row.key_id).ok()?,
                    Reminder::parse(&row.reminder)?,
                    row.for_at,
                ))
            })
            .collect();
        Ok(WebhookState {
            endpoints,
            next_attempt_at: self.next_message_attempt()?,
            reminders_sent,
        })
    }

    pub(super) fn next_message_attempt(&self) -> ApiResult<Option<UnixMillis>> {
        let rows: Vec<NextRow> = self
            .sql
            .exec(
                "SELECT MIN(next_attempt_at) AS next FROM webhook_messages WHERE state = 'pending'",
                None,
            )?
            .to_array()?;
        Ok(rows.first().and_then(|row| row.next).map(UnixMillis))
    }

    pub(super) fn save_endpoint(&self, endpoint: &EndpointRecord) -> ApiResult<()> {
        let info = serde_json::to_string(endpoint).map_err(|_| corrupt("webhook endpoint"))?;
        self.sql.exec(
            "INSERT INTO webhook_endpoints (id, info) VALUES (?, ?)
             ON CONFLICT (id) DO UPDATE SET info = excluded.info",
            vec![text(endpoint.id.to_string()), text(info)],
        )?;
        Ok(())
    }

    pub(super) fn delete_endpoint(&self, id: EndpointId) -> ApiResult<()> {
        let id = || text(id.to_string());
        self.sql
            .exec("DELETE FROM webhook_endpoints WHERE id = ?", vec![id()])?;
        self.sql.exec(
            "DELETE FROM webhook_messages WHERE endpoint_id = ?",
            vec![id()],
        )?;
        self.sql.exec(
            "DELETE FROM webhook_attempts WHERE endpoint_id = ?",
            vec![id()],
        )?;
        Ok(())
    }

    pub(super) fn pending_count(&self, endpoint: EndpointId) -> ApiResult<u64> {
        let rows: Vec<CountRow> = self
            .sql
            .exec(
                "SELECT COUNT(*) AS count FROM webhook_messages WHERE endpoint_id = ? AND state = 'pending'",
                vec![text(endpoint.to_string())],
            )?
            .to_array()?;
        Ok(rows.first().map_or(0, |row| row.count))
    }

    pub(super) fn insert_message(
        &self,
        id: MessageId,
        endpoint: EndpointId,
        event: EventType,
        body: &str,
        now: UnixMillis,
        pending: bool,
    ) -> ApiResult<()> {
        self.sql.exec(
            "INSERT INTO webhook_messages (id, endpoint_id, event, body, created_at, attempts, next_attempt_at, state)
             VALUES (?, ?, ?, ?, ?, 0, ?, ?)",
            vec![
                text(id.to_string()),
                text(endpoint.to_string()),
                text(event.name()),
                text(body),
                int(now.0),
                if pending { int(now.0) } else { worker::SqlStorageValue::Null },
                text(if pending { "pending" } else { "failed" }),
            ],
        )?;
        Ok(())
    }

    pub(super) fn due_messages(&self, now: UnixMillis) -> ApiResult<Vec<MessageRow>> {
        Ok(self
            .sql
            .exec(
                "SELECT id, endpoint_id, event, body, attempts FROM webhook_messages
                 WHERE state = 'pending' AND next_attempt_at <= ?
                 ORDER BY next_attempt_at LIMIT ?",
                vec![int(now.0), int(DELIVERY_BATCH as u64)],
            )?
            .to_array()?)
    }

    pub(super) fn set_message(
        &self,
        message: &MessageRow,
        attempts: u32,
        state: &str,
        next_attempt_at: Option<UnixMillis>,
    ) -> ApiResult<()> {
        self.sql.exec(
            "UPDATE webhook_messages SET attempts = ?, state = ?, next_attempt_at = ?
             WHERE id = ? AND endpoint_id = ?",
            vec![
                int(u64::from(attempts)),
                text(state),
                next_attempt_at.map_or(worker::SqlStorageValue::Null, |at| int(at.0)),
                text(message.id.clone()),
                text(message.endpoint_id.clone()),
            ],
        )?;
        Ok(())
    }

    pub(super) fn fail_pending(&self, endpoint: EndpointId) -> ApiResult<()> {
        self.sql.exec(
            "UPDATE webhook_messages SET state = 'failed', next_attempt_at = NULL
             WHERE endpoint_id = ? AND state = 'pending'",
            vec![text(endpoint.to_string())],
        )?;
        Ok(())
    }

    pub(super) fn resend(
        &self,
        endpoint: EndpointId,
        message: MessageId,
        now: UnixMillis,
    ) -> ApiResult<bool> {
        let rows: Vec<CountRow> = self
            .sql
            .exec(
                "UPDATE webhook_messages SET state = 'pending', next_attempt_at = ?
                 WHERE id = ? AND endpoint_id = ? RETURNING 1 AS count",
                vec![
                    int(now.0),
                    text(message.to_string()),
                    text(endpoint.to_string()),
                ],
            )?
            .to_array()?;
        Ok(!rows.is_empty())
    }

    pub(super) fn insert_attempt(&self, endpoint: &str, row: &AttemptRow) -> ApiResult<()> {
        self.sql.exec(
            "INSERT INTO webhook_attempts (endpoint_id, message_id, event, attempt, status, error, latency_ms, at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            vec![
                text(endpoint),
                text(row.message_id.clone()),
                text(row.event.clone()),
                int(u64::from(row.attempt)),
                row.status
                    .map_or(worker::SqlStorageValue::Null, |s| int(u64::from(s))),
                opt_text(row.error.clone()),
                int(row.latency_ms),
                int(row.at),
            ],
        )?;
        // Only the newest attempts of each endpoint are kept.
        self.sql.exec(
            "DELETE FROM webhook_attempts WHERE endpoint_id = ? AND seq <= (
               SELECT seq FROM webhook_attempts WHERE endpoint_id = ? ORDER BY seq DESC LIMIT 1 OFFSET ?)",
            vec![text(endpoint), text(endpoint), int(ATTEMPTS_KEPT)],
        )?;
        Ok(())
    }

    pub(super) fn attempts(&self, endpoint: EndpointId) -> ApiResult<Vec<AttemptRow>> {
        Ok(self
            .sql
            .exec(
                "SELECT message_id, event, attempt, status, error, latency_ms, at FROM webhook_attempts
                 WHERE endpoint_id = ? ORDER BY seq DESC LIMIT ?",
                vec![text(endpoint.to_string()), int(ATTEMPTS_KEPT)],
            )?
            .to_array()?)
    }

    pub(super) fn mark_reminder(&self, key_id: KeyId, due: Due) -> ApiResult<()> {
        self.sql.exec(
            "INSERT INTO reminders (key_id, reminder, for_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            vec![
                text(key_id.to_string()),
                text(due.reminder.name()),
                int(due.for_at.0),
            ],
        )?;
        Ok(())
    }

    /// The daily clean-up's share: finished messages, and reminders about past instants.
    pub fn prune_webhooks(&self, now: UnixMillis) -> ApiResult<()> {
        self.sql.exec(
            "DELETE FROM webhook_messages WHERE state != 'pending' AND created_at < ?",
            vec![int(now.0.saturating_sub(MESSAGE_RETENTION_MS))],
        )?;
        self.sql
            .exec("DELETE FROM reminders WHERE for_at < ?", vec![int(now.0)])?;
        Ok(())
    }
}
