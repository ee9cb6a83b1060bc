//! Queuing key events for the endpoints that want them, and the reminders (grace period
//! in use, expiring soon) that time sends.

use aero2_keys::http::ErrorCode;
use aero2_keys::webhooks::reminders::{self, Due, KeyFacts, ReminderSettings};
use aero2_keys::webhooks::EventType;
use aero2_keys::{
    ApplicationId, EndpointId, KeyId, KeyRecord, KeyStatus, MessageId, SystemRandom, UnixMillis,
};
use serde::Serialize;
use serde_json::{Map, Value};

use super::views::{AttemptRow, Payload};
use super::MAX_PENDING_PER_ENDPOINT;
use crate::config::Config;
use crate::errors::ApiResult;
use crate::key_ring::{KeyRingObject, Loaded};
use crate::protocol::ClientInfo;
use crate::views::AuditDetail;

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
    pub(in crate::key_ring) fn notify(
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
    pub(in crate::key_ring) fn key_event(
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

    pub(super) fn key_facts<'a>(loaded: &'a Loaded, record: &'a KeyRecord) -> KeyFacts<'a> {
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

    /// The reminders of one key that are due at `now` and not yet sent; with `on_use`, also
    /// the one its latest use calls for (a rotated key still in use).
    fn reminders_due(
        loaded: &Loaded,
        record: &KeyRecord,
        now: UnixMillis,
        settings: ReminderSettings,
        on_use: bool,
    ) -> Vec<Due> {
        let facts = Self::key_facts(loaded, record);
        let sent = |due: Due| {
            loaded
                .webhooks
                .reminders_sent
                .contains(&(record.id, due.reminder, due.for_at.0))
        };
        let mut due = reminders::due(facts, now, settings, sent);
        if on_use {
            if let Some(used) = facts.last_used {
                due.extend(reminders::on_use(facts, used, settings, sent));
            }
        }
        due
    }

    /// The next instant a reminder of any key falls due.
    pub(in crate::key_ring) fn next_reminder(
        &self,
        loaded: &Loaded,
        now: UnixMillis,
    ) -> Option<UnixMillis> {
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
    pub(in crate::key_ring) fn send_reminders(
        &self,
        key_id: Option<KeyId>,
        now: UnixMillis,
    ) -> ApiResult<()> {
        let settings = Config::cached(&self.env).reminders;
        self.mutate(|loaded| {
            let mut found: Vec<(KeyRecord, Due)> = Vec::new();
            for record in loaded.ring.keys() {
                if key_id.is_some_and(|id| id != record.id) {
                    continue;
                }
                let due = Self::reminders_due(loaded, record, now, settings, key_id.is_some());
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
    /// Returns whether it sent one (the alarm must then be set for what comes next).
    pub(in crate::key_ring) fn after_use(&self, key_id: KeyId, now: UnixMillis) -> ApiResult<bool> {
        // Read first, write only when a reminder is due: a rotated key is used on every
        // request of its grace period, and most of those uses send nothing.
        let settings = Config::cached(&self.env).reminders;
        let due = self.loaded.borrow().as_ref().is_some_and(|loaded| {
            loaded.ring.get(key_id).is_some_and(|record| {
                matches!(record.status, KeyStatus::Expiring { .. })
                    && !Self::reminders_due(loaded, record, now, settings, true).is_empty()
            })
        });
        if due {
            self.send_reminders(Some(key_id), now)?;
        }
        Ok(due)
    }
}
