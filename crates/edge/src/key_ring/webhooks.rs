//! Webhooks: the application's endpoints, a durable outbox of messages in SQLite, and
//! delivery from the alarm.
//!
//! An event is written to the outbox (one row per endpoint that wants it) in the same
//! synchronous section as the change and its audit entry, so it is never lost. The alarm
//! sends what is due: before sending it moves each message's next attempt past the
//! delivery timeout and sets the alarm for then, so a worker that dies mid-delivery sends
//! them again after it restarts (at least once; receivers de-duplicate by `webhook-id`).
//! Failures are retried with backoff and jitter ([`RetryPolicy`]) until the endpoint has
//! failed for 3 days without a success; it is then disabled, which is audited.
//!
//! Endpoint secrets are never stored: each is derived from `WEBHOOK_SECRET`, the
//! application, the endpoint and its secret's version ([`MasterSecret`]).

use std::collections::HashSet;

use aero2_keys::http::ErrorCode;
use aero2_keys::policy::Scope;
use aero2_keys::webhooks::delivery::{is_delivered, Health, HealthChange, RetryPolicy};
use aero2_keys::webhooks::endpoint::MAX_ENDPOINTS;
use aero2_keys::webhooks::reminders::{self, Due, KeyFacts, Reminder};
use aero2_keys::webhooks::signing::{signature_header, EndpointSecret, MasterSecret};
use aero2_keys::webhooks::{EventSet, EventType};
use aero2_keys::{
    ApplicationId, EndpointId, KeyId, KeyRecord, KeyStatus, MessageId, RandomSource, SystemRandom,
    UnixMillis,
};
use futures_util::future::{join_all, select, Either};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use worker::{
    AbortController, Delay, Fetch, Headers, Method, Request, RequestInit, RequestRedirect, Response,
};

use super::auth::Caller;
use super::store::{corrupt, int, opt_text, text, Store};
use super::{KeyRingObject, Loaded};
use crate::clock::now;
use crate::config::Config;
use crate::errors::ApiResult;
use crate::protocol::{ClientInfo, ManageOp};
use crate::views::{json_response, AuditDetail};

/// Messages sent per alarm run, at most; the rest wait for the next run, moments later.
const DELIVERY_BATCH: usize = 25;
/// Messages waiting for one endpoint, at most: past it, new events for that endpoint are
/// recorded as failed at once (they can be resent), so a dead endpoint cannot grow
/// storage without bound.
const MAX_PENDING_PER_ENDPOINT: u64 = 10_000;
/// Attempts kept per endpoint for `GET …/deliveries`.
const ATTEMPTS_KEPT: u64 = 100;
/// After a rotation, the old secret still signs for this long.
const PREVIOUS_SECRET_MS: u64 = 24 * 60 * 60 * 1000;
/// Delivered and failed messages are deleted after this.
const MESSAGE_RETENTION_MS: u64 = 30 * 24 * 60 * 60 * 1000;

/// An endpoint as stored. Its secret is not here: see the module's comment.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EndpointRecord {
    pub id: EndpointId,
    pub url: String,
    pub description: String,
    /// `None`: every event, including those added later.
    pub events: Option<Vec<EventType>>,
    pub created_at: UnixMillis,
    pub secret_version: u32,
    #[serde(default)]
    pub previous_secret_version: Option<u32>,
    #[serde(default)]
    pub previous_secret_until: Option<UnixMillis>,
    #[serde(default)]
    pub failing_since: Option<UnixMillis>,
    #[serde(default)]
    pub disabled_at: Option<UnixMillis>,
}

impl EndpointRecord {
    fn wants(&self, event: EventType) -> bool {
        let set = match &self.events {
            None => EventSet::ALL,
            Some(events) => events.iter().copied().collect(),
        };
        self.disabled_at.is_none() && set.contains(event)
    }

    fn health(&self) -> Health {
        Health {
            failing_since: self.failing_since,
            disabled_at: self.disabled_at,
        }
    }

    fn set_health(&mut self, health: Health) {
        self.failing_since = health.failing_since;
        self.disabled_at = health.disabled_at;
    }

    /// The secrets that sign a message sent at `now`: the current one, and the previous
    /// one during the day after a rotation.
    fn secrets(
        &self,
        master: &MasterSecret,
        application: ApplicationId,
        now: UnixMillis,
    ) -> Vec<EndpointSecret> {
        let mut secrets = vec![master.endpoint_secret(application, self.id, self.secret_version)];
        if let (Some(version), Some(until)) =
            (self.previous_secret_version, self.previous_secret_until)
        {
            if now < until {
                secrets.push(master.endpoint_secret(application, self.id, version));
            }
        }
        secrets
    }

    /// The host alone, for the audit log: a URL's path or query may hold a token.
    fn host(&self) -> String {
        worker::web_sys::Url::new(&self.url)
            .map(|url| url.hostname())
            .unwrap_or_default()
    }
}

/// What the webhooks keep in memory, loaded with the key ring.
#[derive(Default)]
pub struct WebhookState {
    pub endpoints: Vec<EndpointRecord>,
    /// The earliest next attempt of a message waiting to be sent.
    pub next_attempt_at: Option<UnixMillis>,
    /// Reminders already sent: key, reminder, the instant they were about.
    pub reminders_sent: HashSet<(KeyId, Reminder, u64)>,
}

// ----- the public shapes ----------------------------------------------------------------

#[derive(Serialize)]
struct EndpointView<'a> {
    id: EndpointId,
    url: &'a str,
    description: &'a str,
    /// The event types it receives; `["*"]` for all.
    events: Vec<&'static str>,
    status: &'static str,
    created_at: String,
    failing_since: Option<String>,
    disabled_at: Option<String>,
    /// While a rotation's previous secret still signs.
    previous_secret_expires_at: Option<String>,
}

impl<'a> EndpointView<'a> {
    fn of(endpoint: &'a EndpointRecord, now: UnixMillis) -> Self {
        EndpointView {
            id: endpoint.id,
            url: &endpoint.url,
            description: &endpoint.description,
            events: match &endpoint.events {
                None => vec!["*"],
                Some(events) => events.iter().map(|e| e.name()).collect(),
            },
            status: if endpoint.disabled_at.is_some() {
                "disabled"
            } else {
                "enabled"
            },
            created_at: endpoint.created_at.to_rfc3339(),
            failing_since: endpoint.failing_since.map(UnixMillis::to_rfc3339),
            disabled_at: endpoint.disabled_at.map(UnixMillis::to_rfc3339),
            previous_secret_expires_at: endpoint
                .previous_secret_until
                .filter(|until| now < *until)
                .map(UnixMillis::to_rfc3339),
        }
    }
}

#[derive(Serialize)]
struct EndpointResponse<'a> {
    endpoint: EndpointView<'a>,
}

/// The one response that carries an endpoint's secret.
#[derive(Serialize)]
struct EndpointWithSecret<'a> {
    endpoint: EndpointView<'a>,
    secret: String,
}

#[derive(Serialize)]
struct EndpointList<'a> {
    endpoints: Vec<EndpointView<'a>>,
}

#[derive(Serialize)]
struct MessageAccepted {
    message_id: MessageId,
}

#[derive(Serialize, Deserialize)]
struct AttemptRow {
    message_id: String,
    event: String,
    attempt: u32,
    status: Option<u16>,
    error: Option<String>,
    latency_ms: u64,
    at: u64,
}

#[derive(Serialize)]
struct DeliveryView {
    message_id: String,
    event: String,
    attempt: u32,
    /// The HTTP status the endpoint answered; `null` when it did not answer.
    status: Option<u16>,
    /// `timeout`, `connection_failed`, `redirect_not_followed` or `endpoint_queue_full`.
    error: Option<String>,
    delivered: bool,
    latency_ms: u64,
    at: String,
}

#[derive(Serialize)]
struct DeliveryList {
    deliveries: Vec<DeliveryView>,
}

/// The payload, as the Standard Webhooks specification shapes it.
#[derive(Serialize)]
struct Payload<'a> {
    #[serde(rename = "type")]
    event: &'static str,
    timestamp: String,
    data: &'a Map<String, Value>,
}

// ----- storage --------------------------------------------------------------------------

#[derive(Deserialize)]
struct InfoRow {
    info: String,
}

#[derive(Deserialize)]
struct NextRow {
    next: Option<u64>,
}

#[derive(Deserialize)]
struct CountRow {
    count: u64,
}

#[derive(Deserialize)]
struct ReminderRow {
    key_id: String,
    reminder: String,
    for_at: u64,
}

#[derive(Clone, Deserialize)]
struct MessageRow {
    id: String,
    endpoint_id: String,
    event: String,
    body: String,
    attempts: u32,
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

    fn next_message_attempt(&self) -> ApiResult<Option<UnixMillis>> {
        let rows: Vec<NextRow> = self
            .sql
            .exec(
                "SELECT MIN(next_attempt_at) AS next FROM webhook_messages WHERE state = 'pending'",
                None,
            )?
            .to_array()?;
        Ok(rows.first().and_then(|row| row.next).map(UnixMillis))
    }

    fn save_endpoint(&self, endpoint: &EndpointRecord) -> ApiResult<()> {
        let info = serde_json::to_string(endpoint).map_err(|_| corrupt("webhook endpoint"))?;
        self.sql.exec(
            "INSERT INTO webhook_endpoints (id, info) VALUES (?, ?)
             ON CONFLICT (id) DO UPDATE SET info = excluded.info",
            vec![text(endpoint.id.to_string()), text(info)],
        )?;
        Ok(())
    }

    fn delete_endpoint(&self, id: EndpointId) -> ApiResult<()> {
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

    fn pending_count(&self, endpoint: EndpointId) -> ApiResult<u64> {
        let rows: Vec<CountRow> = self
            .sql
            .exec(
                "SELECT COUNT(*) AS count FROM webhook_messages WHERE endpoint_id = ? AND state = 'pending'",
                vec![text(endpoint.to_string())],
            )?
            .to_array()?;
        Ok(rows.first().map_or(0, |row| row.count))
    }

    fn insert_message(
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

    fn due_messages(&self, now: UnixMillis) -> ApiResult<Vec<MessageRow>> {
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

    fn set_message(
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

    fn fail_pending(&self, endpoint: EndpointId) -> ApiResult<()> {
        self.sql.exec(
            "UPDATE webhook_messages SET state = 'failed', next_attempt_at = NULL
             WHERE endpoint_id = ? AND state = 'pending'",
            vec![text(endpoint.to_string())],
        )?;
        Ok(())
    }

    fn resend(&self, endpoint: EndpointId, message: MessageId, now: UnixMillis) -> ApiResult<bool> {
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

    fn insert_attempt(&self, endpoint: &str, row: &AttemptRow) -> ApiResult<()> {
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

    fn attempts(&self, endpoint: EndpointId) -> ApiResult<Vec<AttemptRow>> {
        Ok(self
            .sql
            .exec(
                "SELECT message_id, event, attempt, status, error, latency_ms, at FROM webhook_attempts
                 WHERE endpoint_id = ? ORDER BY seq DESC LIMIT ?",
                vec![text(endpoint.to_string()), int(ATTEMPTS_KEPT)],
            )?
            .to_array()?)
    }

    fn mark_reminder(&self, key_id: KeyId, due: Due) -> ApiResult<()> {
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

// ----- events ---------------------------------------------------------------------------

/// What a key event's `data` says about its key: never its value.
pub fn key_data(
    application: ApplicationId,
    record: &KeyRecord,
    detail: &impl Serialize,
) -> Map<String, Value> {
    let mut data = Map::new();
    data.insert("application_id".into(), application.to_string().into());
    data.insert("key_id".into(), record.id.to_string().into());
    data.insert(
        "kind".into(),
        serde_json::to_value(record.kind).unwrap_or(Value::Null),
    );
    data.insert("label".into(), record.label.clone().into());
    data.insert("hint".into(), record.hint.clone().into());
    data.insert("status".into(), record.status.name().into());
    if let Ok(Value::Object(extra)) = serde_json::to_value(detail) {
        for (name, value) in extra {
            data.entry(name).or_insert(value);
        }
    }
    data
}

impl KeyRingObject {
    /// Queues an event for every endpoint that wants it. Called in the same synchronous
    /// section as the change it reports, so the two are stored together.
    pub(super) fn notify(
        &self,
        loaded: &mut Loaded,
        event: EventType,
        data: &Map<String, Value>,
        only: Option<EndpointId>,
        now: UnixMillis,
    ) -> ApiResult<Option<MessageId>> {
        let targets: Vec<EndpointId> = loaded
            .webhooks
            .endpoints
            .iter()
            .filter(|endpoint| endpoint.wants(event) && only.is_none_or(|id| id == endpoint.id))
            .map(|endpoint| endpoint.id)
            .collect();
        if targets.is_empty() {
            return Ok(None);
        }
        let id =
            MessageId::generate(&mut SystemRandom).map_err(|_| ErrorCode::RandomUnavailable)?;
        let payload = Payload {
            event: event.name(),
            timestamp: now.to_rfc3339(),
            data,
        };
        let body =
            serde_json::to_string(&payload).map_err(|_| ErrorCode::TemporarilyUnavailable)?;
        for endpoint in targets {
            let room = self.store.pending_count(endpoint)? < MAX_PENDING_PER_ENDPOINT;
            self.store
                .insert_message(id, endpoint, event, &body, now, room)?;
            if !room {
                self.store.insert_attempt(
                    &endpoint.to_string(),
                    &AttemptRow {
                        message_id: id.to_string(),
                        event: event.name().into(),
                        attempt: 0,
                        status: None,
                        error: Some("endpoint_queue_full".into()),
                        latency_ms: 0,
                        at: now.0,
                    },
                )?;
            }
        }
        let next = &mut loaded.webhooks.next_attempt_at;
        *next = Some(next.map_or(now, |at| at.min(now)));
        Ok(Some(id))
    }

    /// A key event: its audit entry and its webhook message, stored together.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn key_event(
        &self,
        loaded: &mut Loaded,
        event: EventType,
        record: &KeyRecord,
        actor: &str,
        client: &ClientInfo,
        detail: &AuditDetail<'_>,
        now: UnixMillis,
    ) -> ApiResult<u64> {
        let seq =
            self.store
                .insert_audit(now, event.name(), Some(record.id), actor, client, detail)?;
        let data = key_data(loaded.application.id, record, detail);
        self.notify(loaded, event, &data, None, now)?;
        Ok(seq)
    }

    // ----- reminders ----------------------------------------------------------------------

    fn key_facts<'a>(loaded: &'a Loaded, record: &'a KeyRecord) -> KeyFacts<'a> {
        let rotated_at = match record.status {
            KeyStatus::Expiring { .. } => loaded
                .ring
                .keys()
                .iter()
                .find(|other| other.rotated_from == Some(record.id))
                .map(|successor| successor.created_at),
            _ => None,
        };
        KeyFacts {
            record,
            last_used: loaded.last_used.get(&record.id).copied(),
            rotated_at,
        }
    }

    /// The next instant a reminder of any key falls due.
    pub(super) fn next_reminder(&self, loaded: &Loaded, now: UnixMillis) -> Option<UnixMillis> {
        let settings = Config::cached(&self.env).reminders;
        let sent = &loaded.webhooks.reminders_sent;
        loaded
            .ring
            .keys()
            .iter()
            .filter(|record| {
                record.policy.expires_at.is_some()
                    || matches!(record.status, KeyStatus::Expiring { .. })
            })
            .filter_map(|record| {
                reminders::next_at(Self::key_facts(loaded, record), now, settings, |due| {
                    sent.contains(&(record.id, due.reminder, due.for_at.0))
                })
            })
            .min()
    }

    /// Sends every reminder due at `now` (the alarm's work), or only those of `key_id`
    /// after it was used.
    pub(super) fn send_reminders(&self, key_id: Option<KeyId>, now: UnixMillis) -> ApiResult<()> {
        let settings = Config::cached(&self.env).reminders;
        self.mutate(|loaded| {
            let mut found: Vec<(KeyRecord, Due)> = Vec::new();
            for record in loaded.ring.keys() {
                if key_id.is_some_and(|id| id != record.id) {
                    continue;
                }
                let facts = Self::key_facts(loaded, record);
                let sent = |due: Due| {
                    loaded.webhooks.reminders_sent.contains(&(
                        record.id,
                        due.reminder,
                        due.for_at.0,
                    ))
                };
                let mut due = reminders::due(facts, now, settings, sent);
                if key_id.is_some() {
                    if let Some(used) = facts.last_used {
                        due.extend(reminders::on_use(facts, used, settings, sent));
                    }
                }
                found.extend(due.into_iter().map(|due| (record.clone(), due)));
            }
            for (record, due) in found {
                self.store.mark_reminder(record.id, due)?;
                loaded
                    .webhooks
                    .reminders_sent
                    .insert((record.id, due.reminder, due.for_at.0));
                let (event, detail) = if due.reminder.is_grace() {
                    (
                        EventType::KeyGracePeriodInUse,
                        AuditDetail::Reminder {
                            reminder: due.reminder.name(),
                            grace_period_ends_at: Some(due.for_at.to_rfc3339()),
                            expires_at: None,
                            last_used_at: loaded
                                .last_used
                                .get(&record.id)
                                .map(|at| at.to_rfc3339()),
                        },
                    )
                } else {
                    (
                        EventType::KeyExpiringSoon,
                        AuditDetail::Reminder {
                            reminder: due.reminder.name(),
                            grace_period_ends_at: None,
                            expires_at: Some(due.for_at.to_rfc3339()),
                            last_used_at: None,
                        },
                    )
                };
                self.key_event(
                    loaded,
                    event,
                    &record,
                    "system",
                    &ClientInfo::default(),
                    &detail,
                    now,
                )?;
            }
            Ok(())
        })
    }

    /// After a key was used: sends a reminder if it is in a grace period and one is due.
    /// Returns whether it looked (the alarm may then have something to send).
    pub(super) fn after_use(&self, key_id: KeyId, now: UnixMillis) -> ApiResult<bool> {
        let in_grace = self.loaded.borrow().as_ref().is_some_and(|loaded| {
            loaded.ring.get(key_id).is_some_and(|record| {
                matches!(record.status, KeyStatus::Expiring { .. })
                    && !Reminder::ALL.iter().filter(|r| r.is_grace()).all(|r| {
                        record.expires_at().is_some_and(|end| {
                            loaded
                                .webhooks
                                .reminders_sent
                                .contains(&(key_id, *r, end.0))
                        })
                    })
            })
        });
        if in_grace {
            self.send_reminders(Some(key_id), now)?;
        }
        Ok(in_grace)
    }

    // ----- the API ------------------------------------------------------------------------

    /// The webhook operations, for a caller that `authenticate` let through.
    pub(super) async fn manage_webhooks(
        &self,
        caller: &Caller,
        client: &ClientInfo,
        op: ManageOp,
        now: UnixMillis,
    ) -> ApiResult<Response> {
        let config = Config::cached(&self.env);
        let actor = caller.audit_name();
        let audit = |loaded: &Loaded, event: &str, endpoint: &EndpointRecord| {
            let _ = loaded;
            self.store.insert_audit(
                now,
                event,
                None,
                &actor,
                client,
                &AuditDetail::Webhook {
                    endpoint_id: endpoint.id,
                    host: endpoint.host(),
                },
            )
        };
        let response = match op {
            ManageOp::ListWebhookEndpoints => {
                caller.require(Scope::WebhooksRead)?;
                return self.read(|loaded| {
                    let endpoints = loaded
                        .webhooks
                        .endpoints
                        .iter()
                        .map(|endpoint| EndpointView::of(endpoint, now))
                        .collect();
                    Ok(json_response(200, &EndpointList { endpoints }))
                });
            }
            ManageOp::WebhookDeliveries { endpoint_id } => {
                caller.require(Scope::WebhooksRead)?;
                self.endpoint(endpoint_id)?;
                let deliveries = self
                    .store
                    .attempts(endpoint_id)?
                    .into_iter()
                    .map(|row| DeliveryView {
                        delivered: row.status.is_some_and(is_delivered),
                        message_id: row.message_id,
                        event: row.event,
                        attempt: row.attempt,
                        status: row.status,
                        error: row.error,
                        latency_ms: row.latency_ms,
                        at: UnixMillis(row.at).to_rfc3339(),
                    })
                    .collect();
                return Ok(json_response(200, &DeliveryList { deliveries }));
            }
            ManageOp::CreateWebhookEndpoint {
                url,
                description,
                events,
            } => {
                caller.require(Scope::WebhooksWrite)?;
                let master = master_secret(&config)?;
                let endpoint = self.mutate(|loaded| {
                    if loaded.webhooks.endpoints.len() >= MAX_ENDPOINTS {
                        return Err(ErrorCode::TooManyWebhookEndpoints.into());
                    }
                    let endpoint = EndpointRecord {
                        id: EndpointId::generate(&mut SystemRandom)
                            .map_err(|_| ErrorCode::RandomUnavailable)?,
                        url,
                        description,
                        events,
                        created_at: now,
                        secret_version: 1,
                        previous_secret_version: None,
                        previous_secret_until: None,
                        failing_since: None,
                        disabled_at: None,
                    };
                    self.store.save_endpoint(&endpoint)?;
                    audit(loaded, "webhook_endpoint.created", &endpoint)?;
                    loaded.webhooks.endpoints.push(endpoint.clone());
                    Ok(endpoint)
                })?;
                return self.with_secret(201, master, &endpoint, now);
            }
            ManageOp::DeleteWebhookEndpoint { endpoint_id } => {
                caller.require(Scope::WebhooksWrite)?;
                self.mutate(|loaded| {
                    let index = position(loaded, endpoint_id)?;
                    let endpoint = loaded.webhooks.endpoints.remove(index);
                    self.store.delete_endpoint(endpoint_id)?;
                    audit(loaded, "webhook_endpoint.deleted", &endpoint)
                })?;
                self.refresh_next_attempt()?;
                Response::empty().map(|r| r.with_status(204))?
            }
            ManageOp::RotateWebhookSecret { endpoint_id } => {
                caller.require(Scope::WebhooksWrite)?;
                let master = master_secret(&config)?;
                let endpoint = self.mutate(|loaded| {
                    let index = position(loaded, endpoint_id)?;
                    let endpoint = &mut loaded.webhooks.endpoints[index];
                    endpoint.previous_secret_version = Some(endpoint.secret_version);
                    endpoint.previous_secret_until = Some(UnixMillis(now.0 + PREVIOUS_SECRET_MS));
                    endpoint.secret_version += 1;
                    let endpoint = endpoint.clone();
                    self.store.save_endpoint(&endpoint)?;
                    audit(loaded, "webhook_endpoint.secret_rotated", &endpoint)?;
                    Ok(endpoint)
                })?;
                self.with_secret(200, master, &endpoint, now)?
            }
            ManageOp::EnableWebhookEndpoint { endpoint_id } => {
                caller.require(Scope::WebhooksWrite)?;
                let endpoint = self.mutate(|loaded| {
                    let index = position(loaded, endpoint_id)?;
                    let endpoint = &mut loaded.webhooks.endpoints[index];
                    if endpoint.disabled_at.is_none() {
                        return Err(ErrorCode::WebhookEndpointEnabled.into());
                    }
                    let mut health = endpoint.health();
                    health.enable();
                    endpoint.set_health(health);
                    let endpoint = endpoint.clone();
                    self.store.save_endpoint(&endpoint)?;
                    audit(loaded, "webhook_endpoint.enabled", &endpoint)?;
                    Ok(endpoint)
                })?;
                json_response(
                    200,
                    &EndpointResponse {
                        endpoint: EndpointView::of(&endpoint, now),
                    },
                )
            }
            ManageOp::TestWebhookEndpoint { endpoint_id } => {
                caller.require(Scope::WebhooksWrite)?;
                let message_id = self.mutate(|loaded| {
                    let index = position(loaded, endpoint_id)?;
                    if loaded.webhooks.endpoints[index].disabled_at.is_some() {
                        return Err(ErrorCode::WebhookEndpointDisabled.into());
                    }
                    let mut data = Map::new();
                    data.insert(
                        "application_id".into(),
                        loaded.application.id.to_string().into(),
                    );
                    data.insert("endpoint_id".into(), endpoint_id.to_string().into());
                    self.notify(
                        loaded,
                        EventType::WebhookTest,
                        &data,
                        Some(endpoint_id),
                        now,
                    )?
                    .ok_or_else(|| ErrorCode::TemporarilyUnavailable.into())
                })?;
                json_response(202, &MessageAccepted { message_id })
            }
            ManageOp::ResendWebhookMessage {
                endpoint_id,
                message_id,
            } => {
                caller.require(Scope::WebhooksWrite)?;
                self.mutate(|loaded| {
                    let index = position(loaded, endpoint_id)?;
                    if loaded.webhooks.endpoints[index].disabled_at.is_some() {
                        return Err(ErrorCode::WebhookEndpointDisabled.into());
                    }
                    if !self.store.resend(endpoint_id, message_id, now)? {
                        return Err(ErrorCode::WebhookMessageNotFound.into());
                    }
                    let next = &mut loaded.webhooks.next_attempt_at;
                    *next = Some(next.map_or(now, |at| at.min(now)));
                    Ok(())
                })?;
                json_response(202, &MessageAccepted { message_id })
            }
            _ => return Err(ErrorCode::NotFound.into()),
        };
        self.schedule(now).await?;
        Ok(response)
    }

    /// The one kind of answer that shows an endpoint's secret: after creation and rotation.
    fn with_secret(
        &self,
        status: u16,
        master: &MasterSecret,
        endpoint: &EndpointRecord,
        now: UnixMillis,
    ) -> ApiResult<Response> {
        let secret = master
            .endpoint_secret(self.application_id()?, endpoint.id, endpoint.secret_version)
            .expose();
        Ok(json_response(
            status,
            &EndpointWithSecret {
                endpoint: EndpointView::of(endpoint, now),
                secret,
            },
        ))
    }

    fn endpoint(&self, id: EndpointId) -> ApiResult<EndpointRecord> {
        self.read(|loaded| Ok(loaded.webhooks.endpoints[position(loaded, id)?].clone()))
    }

    fn refresh_next_attempt(&self) -> ApiResult<()> {
        let next = self.store.next_message_attempt()?;
        if let Some(loaded) = self.loaded.borrow_mut().as_mut() {
            loaded.webhooks.next_attempt_at = next;
        }
        Ok(())
    }

    // ----- delivery -----------------------------------------------------------------------

    /// Sends the messages that are due (the alarm's work).
    pub(super) async fn deliver_webhooks(&self, now: UnixMillis) -> ApiResult<()> {
        let config = Config::cached(&self.env);
        let Some(master) = config.webhook_secret.as_ref() else {
            return Ok(());
        };
        let due = self.store.due_messages(now)?;
        if due.is_empty() {
            return self.refresh_next_attempt();
        }
        // A lease: if this run dies mid-way, the alarm set here sends them again.
        let lease = UnixMillis(now.0 + config.webhook_timeout_ms + 5_000);
        for message in &due {
            self.store
                .set_message(message, message.attempts, "pending", Some(lease))?;
        }
        self.refresh_next_attempt()?;
        self.schedule(now).await?;

        let application = self.application_id()?;
        let endpoints: Vec<EndpointRecord> = self
            .loaded
            .borrow()
            .as_ref()
            .map(|loaded| loaded.webhooks.endpoints.clone())
            .unwrap_or_default();
        let timeout_ms = config.webhook_timeout_ms;
        let sends = due.iter().filter_map(|message| {
            let endpoint = endpoints
                .iter()
                .find(|e| e.id.to_string() == message.endpoint_id && e.disabled_at.is_none())?;
            let secrets = endpoint.secrets(master, application, now);
            Some(async move {
                let outcome = send(
                    &endpoint.url,
                    &message.id,
                    &message.body,
                    &secrets,
                    timeout_ms,
                )
                .await;
                (message.clone(), endpoint.id, outcome)
            })
        });
        let outcomes = join_all(sends).await;
        let finished = crate::clock::now();
        self.mutate(|loaded| {
            for (message, endpoint_id, outcome) in outcomes {
                self.record_outcome(
                    loaded,
                    &message,
                    endpoint_id,
                    &outcome,
                    finished,
                    &config.webhook_retry,
                )?;
            }
            Ok(())
        })?;
        self.refresh_next_attempt()
    }

    fn record_outcome(
        &self,
        loaded: &mut Loaded,
        message: &MessageRow,
        endpoint_id: EndpointId,
        outcome: &Outcome,
        now: UnixMillis,
        retry: &RetryPolicy,
    ) -> ApiResult<()> {
        let attempt = message.attempts + 1;
        self.store.insert_attempt(
            &message.endpoint_id,
            &AttemptRow {
                message_id: message.id.clone(),
                event: message.event.clone(),
                attempt,
                status: outcome.status,
                error: outcome.error.map(str::to_owned),
                latency_ms: outcome.latency_ms,
                at: now.0,
            },
        )?;
        let Ok(index) = position(loaded, endpoint_id) else {
            return Ok(()); // deleted meanwhile: its messages went with it
        };
        let endpoint = &mut loaded.webhooks.endpoints[index];
        let mut health = endpoint.health();
        if outcome.status.is_some_and(is_delivered) {
            self.store
                .set_message(message, attempt, "delivered", None)?;
            if health.succeeded() == HealthChange::Recovered {
                endpoint.set_health(health);
                self.store.save_endpoint(endpoint)?;
            }
            return Ok(());
        }
        match health.failed(now, retry) {
            HealthChange::Disabled => {
                endpoint.set_health(health);
                let endpoint = endpoint.clone();
                self.store.save_endpoint(&endpoint)?;
                self.store.set_message(message, attempt, "failed", None)?;
                self.store.fail_pending(endpoint.id)?;
                self.store.insert_audit(
                    now,
                    "webhook_endpoint.disabled",
                    None,
                    "system",
                    &ClientInfo::default(),
                    &AuditDetail::Webhook {
                        endpoint_id: endpoint.id,
                        host: endpoint.host(),
                    },
                )?;
            }
            _ => {
                if endpoint.failing_since != health.failing_since {
                    endpoint.set_health(health);
                    self.store.save_endpoint(endpoint)?;
                }
                let mut jitter = [0u8; 4];
                let _ = SystemRandom.fill_bytes(&mut jitter);
                let next = retry.next_attempt(attempt, now, u32::from_le_bytes(jitter));
                self.store
                    .set_message(message, attempt, "pending", Some(next))?;
            }
        }
        Ok(())
    }
}

fn master_secret(config: &Config) -> ApiResult<&MasterSecret> {
    config
        .webhook_secret
        .as_ref()
        .ok_or_else(|| ErrorCode::WebhooksNotConfigured.into())
}

fn position(loaded: &Loaded, id: EndpointId) -> ApiResult<usize> {
    loaded
        .webhooks
        .endpoints
        .iter()
        .position(|endpoint| endpoint.id == id)
        .ok_or_else(|| ErrorCode::WebhookEndpointNotFound.into())
}

/// One attempt's result.
struct Outcome {
    status: Option<u16>,
    error: Option<&'static str>,
    latency_ms: u64,
}

/// Sends one signed message, waiting at most `timeout_ms` for the answer. Redirects are
/// not followed: the endpoint is the URL its owner registered.
async fn send(
    url: &str,
    message_id: &str,
    body: &str,
    secrets: &[EndpointSecret],
    timeout_ms: u64,
) -> Outcome {
    let started = now();
    let timestamp = started.0 / 1000;
    let failed = |error| Outcome {
        status: None,
        error: Some(error),
        latency_ms: now().0.saturating_sub(started.0),
    };
    let headers = Headers::new();
    let signature = signature_header(secrets, message_id, timestamp, body.as_bytes());
    for (name, value) in [
        ("Content-Type", "application/json"),
        ("User-Agent", "Aero2-Webhooks/1"),
        ("webhook-id", message_id),
        ("webhook-timestamp", &timestamp.to_string()),
        ("webhook-signature", &signature),
    ] {
        if headers.set(name, value).is_err() {
            return failed("connection_failed");
        }
    }
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(body.into()))
        .with_redirect(RequestRedirect::Manual);
    let Ok(request) = Request::new_with_init(url, &init) else {
        return failed("connection_failed");
    };
    let controller = AbortController::default();
    let signal = controller.signal();
    let fetch = Fetch::Request(request);
    let sending = fetch.send_with_signal(&signal);
    let timeout = Delay::from(std::time::Duration::from_millis(timeout_ms));
    futures_util::pin_mut!(sending);
    match select(sending, timeout).await {
        Either::Left((Ok(response), _)) => {
            let status = response.status_code();
            Outcome {
                status: Some(status),
                error: (300..400)
                    .contains(&status)
                    .then_some("redirect_not_followed"),
                latency_ms: now().0.saturating_sub(started.0),
            }
        }
        Either::Left((Err(_), _)) => failed("connection_failed"),
        Either::Right(_) => {
            controller.abort();
            failed("timeout")
        }
    }
}
