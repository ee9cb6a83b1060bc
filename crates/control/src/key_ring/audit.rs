//! The audit log: one row per management event and per notable use of a key, newest
//! first when read, kept in the key ring's SQLite storage, and hash-chained
//! (`aero2_keys::audit_chain`): each entry, once chained, names the hash of the one
//! before and never changes. An entry is held out of the chain while it can still change:
//! a change until its receipt (`effective_at`) is known, an aggregated entry until its
//! hour closes. Held entries are listed as `pending`, with no `seq`.

use aero2_keys::audit_chain::{self, Head};
use aero2_keys::{KeyId, UnixMillis};
use serde::Deserialize;
use serde_json::Value;

use aero2_keys::repeats::Seen;
use aero2_keys::usage::HOUR_MS;
use aero2_keys::webhooks::EventType;

use super::store::{corrupt, int, opt_text, text, Store};
use super::webhooks::key_data;
use super::KeyRingObject;
use crate::errors::ApiResult;
use crate::protocol::{ClientInfo, KeyEvent, Observed};
use crate::schema::before_cursor;
use crate::views::{AuditDetail, AuditEntryView, AuditLog};
use aero2_keys::gate::wire::SeenEvent;
use aero2_keys::repeats::MAX_HELD_EVENTS;

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
    #[serde(default)]
    chain_seq: Option<u64>,
    #[serde(default)]
    prev_hash: Option<String>,
    #[serde(default)]
    hash: Option<String>,
}

impl AuditRow {
    /// The entry as the chain hashes it and the export writes it (without `hash`).
    fn chained_object(&self, seq: u64, prev_hash: &str) -> serde_json::Map<String, Value> {
        let detail: Value = serde_json::from_str(&self.detail).unwrap_or(Value::Null);
        let actor: Value = if self.actor.starts_with('{') {
            serde_json::from_str(&self.actor).unwrap_or_else(|_| Value::from(self.actor.as_str()))
        } else {
            Value::from(self.actor.as_str())
        };
        let mut object = serde_json::Map::new();
        object.insert("seq".into(), Value::from(seq));
        object.insert("prev_hash".into(), Value::from(prev_hash));
        object.insert("at".into(), Value::from(UnixMillis(self.at).to_rfc3339()));
        object.insert("event".into(), Value::from(self.event.as_str()));
        object.insert(
            "key_id".into(),
            self.key_id.as_deref().map_or(Value::Null, Value::from),
        );
        object.insert("actor".into(), actor);
        object.insert(
            "ip".into(),
            self.ip.as_deref().map_or(Value::Null, Value::from),
        );
        object.insert(
            "user_agent".into(),
            self.user_agent.as_deref().map_or(Value::Null, Value::from),
        );
        object.insert("detail".into(), detail);
        object
    }
}

#[derive(Deserialize)]
struct HeadRow {
    seq: u64,
    hash: String,
}

/// Why an entry is held out of the chain.
#[derive(Clone, Copy)]
pub enum Hold {
    /// A change whose receipt is not known yet.
    Receipt = 1,
    /// An aggregated entry whose hour is still open.
    OpenHour = 2,
}

const AUDIT_COLUMNS: &str =
    "seq, at, event, key_id, actor, ip, user_agent, detail, chain_seq, prev_hash, hash";

/// One page of the audit log, newest first, before `cursor` (an entry id).
pub struct AuditQuery<'a> {
    pub cursor: Option<u64>,
    pub limit: u32,
    pub key_id: Option<KeyId>,
    pub event: Option<&'a str>,
}

impl Store {
    /// Inserts an audit entry and returns its id.
    pub fn insert_audit(
        &self,
        now: UnixMillis,
        event: &str,
        key_id: Option<KeyId>,
        actor: &str,
        client: &ClientInfo,
        detail: &AuditDetail<'_>,
    ) -> ApiResult<u64> {
        let detail = serde_json::to_string(detail).unwrap_or_else(|_| "{}".to_owned());
        let rows: Vec<SeqRow> = self.sql.exec(
            "INSERT INTO audit (at, event, key_id, actor, ip, user_agent, detail) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING seq",
            vec![
                int(now.0),
                text(event),
                opt_text(key_id.map(|id| id.to_string())),
                text(actor),
                opt_text(client.ip.clone()),
                opt_text(client.user_agent.clone()),
                text(detail),
            ],
        )?
        .to_array()?;
        rows.first()
            .map(|row| row.seq)
            .ok_or_else(|| corrupt("audit entry"))
    }

    /// Records a change's receipt in its audit entry, which may then be chained.
    pub fn set_audit_receipt(&self, seq: u64, effective_at: UnixMillis) -> ApiResult<()> {
        self.sql.exec(
            "UPDATE audit SET detail = json_set(detail, '$.effective_at', ?), hold = 0
             WHERE seq = ? AND chain_seq IS NULL",
            vec![text(effective_at.to_rfc3339()), int(seq)],
        )?;
        Ok(())
    }

    /// Holds entry `seq` out of the chain (see [`Hold`]).
    pub fn hold(&self, seq: u64, why: Hold) -> ApiResult<()> {
        self.sql.exec(
            "UPDATE audit SET hold = ? WHERE seq = ? AND chain_seq IS NULL",
            vec![int(why as u64), int(seq)],
        )?;
        Ok(())
    }

    /// The chain's head: its last entry's `seq` and `hash`.
    pub fn chain_head(&self) -> ApiResult<Head> {
        let rows: Vec<HeadRow> = self
            .sql
            .exec("SELECT seq, hash FROM chain_head WHERE id = 1", None)?
            .to_array()?;
        let row = rows
            .into_iter()
            .next()
            .ok_or_else(|| corrupt("chain head"))?;
        Ok(Head {
            seq: row.seq,
            hash: row.hash,
        })
    }

    /// Chains every entry that is no longer held, oldest first: the aggregated entries of
    /// hours that have closed, and changes whose receipt is known. Synchronous: nothing
    /// interleaves, so the chain has no gaps.
    pub fn chain_due(&self, now: UnixMillis) -> ApiResult<Head> {
        let hour_start = now.0 / HOUR_MS * HOUR_MS;
        self.sql.exec(
            "UPDATE audit SET hold = 0 WHERE hold = 2 AND chain_seq IS NULL AND at < ?",
            vec![int(hour_start)],
        )?;
        let mut head = self.chain_head()?;
        loop {
            let rows: Vec<AuditRow> = self
                .sql
                .exec(
                    &format!(
                        "SELECT {AUDIT_COLUMNS} FROM audit WHERE chain_seq IS NULL AND hold = 0
                         ORDER BY seq LIMIT 500"
                    ),
                    None,
                )?
                .to_array()?;
            if rows.is_empty() {
                return Ok(head);
            }
            for row in rows {
                let mut object = row.chained_object(head.seq + 1, &head.hash);
                object.remove("seq");
                object.remove("prev_hash");
                head = audit_chain::append(&head, &mut object);
                self.sql.exec(
                    "UPDATE audit SET chain_seq = ?, prev_hash = ?, hash = ? WHERE seq = ?",
                    vec![
                        int(head.seq),
                        opt_text(object.get("prev_hash").and_then(Value::as_str)),
                        text(head.hash.as_str()),
                        int(row.seq),
                    ],
                )?;
            }
            self.sql.exec(
                "UPDATE chain_head SET seq = ?, hash = ? WHERE id = 1",
                vec![int(head.seq), text(head.hash.as_str())],
            )?;
        }
    }

    /// Up to `limit` chained entries from chain position `from_seq` on, oldest first, as
    /// the export writes them.
    pub fn chained_page(&self, from_seq: u64, limit: u32) -> ApiResult<Vec<Value>> {
        let rows: Vec<AuditRow> = self
            .sql
            .exec(
                &format!(
                    "SELECT {AUDIT_COLUMNS} FROM audit WHERE chain_seq >= ?
                     ORDER BY chain_seq LIMIT ?"
                ),
                vec![int(from_seq), int(u64::from(limit))],
            )?
            .to_array()?;
        Ok(rows
            .into_iter()
            .filter_map(|row| {
                let (seq, prev_hash, hash) =
                    (row.chain_seq?, row.prev_hash.clone()?, row.hash.clone()?);
                let mut object = row.chained_object(seq, &prev_hash);
                object.insert("hash".into(), Value::from(hash));
                Some(Value::Object(object))
            })
            .collect())
    }

    /// Notes that audit entry `seq` has no receipt until each of `kv_keys` is written.
    pub fn await_receipt(&self, seq: u64, kv_keys: &[String]) -> ApiResult<()> {
        for kv_key in kv_keys {
            self.sql.exec(
                "INSERT INTO pending_receipts (audit_seq, kv_key) VALUES (?, ?) ON CONFLICT DO NOTHING",
                vec![int(seq), text(kv_key)],
            )?;
        }
        Ok(())
    }

    /// `kv_key` was written: every audit entry that waited only for it gets its receipt,
    /// `effective_at`.
    pub fn receipt_landed(&self, kv_key: &str, effective_at: UnixMillis) -> ApiResult<()> {
        let waiting: Vec<SeqRow> = self
            .sql
            .exec(
                "DELETE FROM pending_receipts WHERE kv_key = ? RETURNING audit_seq AS seq",
                vec![text(kv_key)],
            )?
            .to_array()?;
        for row in waiting {
            let seq = row.seq;
            let still: Vec<SeqRow> = self
                .sql
                .exec(
                    "SELECT audit_seq AS seq FROM pending_receipts WHERE audit_seq = ? LIMIT 1",
                    vec![int(seq)],
                )?
                .to_array()?;
            if still.is_empty() {
                self.set_audit_receipt(seq, effective_at)?;
            }
        }
        Ok(())
    }

    pub fn audit_page(&self, query: &AuditQuery<'_>) -> ApiResult<AuditLog> {
        let limit = query.limit.clamp(1, 100);
        let mut sql = format!("SELECT {AUDIT_COLUMNS} FROM audit WHERE seq < ?");
        let mut bindings = vec![before_cursor(query.cursor)];
        if let Some(key_id) = query.key_id {
            sql.push_str(" AND key_id = ?");
            bindings.push(text(key_id.to_string()));
        }
        if let Some(event) = query.event {
            sql.push_str(" AND event = ?");
            bindings.push(text(event));
        }
        // One row more than the page: whether it exists says whether there is a next page.
        sql.push_str(" ORDER BY seq DESC LIMIT ?");
        bindings.push(int(u64::from(limit) + 1));
        let mut rows: Vec<AuditRow> = self.sql.exec(&sql, bindings)?.to_array()?;
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let next_cursor = more
            .then(|| rows.last().map(|row| row.seq.to_string()))
            .flatten();
        let entries = rows
            .into_iter()
            .map(|row| AuditEntryView {
                id: row.seq.to_string(),
                at: UnixMillis(row.at).to_rfc3339(),
                event: row.event,
                key_id: row.key_id,
                actor: AuditEntryView::actor(row.actor),
                ip: row.ip,
                user_agent: row.user_agent,
                // `null` for a detail that is not JSON (none is: the key ring writes each).
                detail: serde_json::value::RawValue::from_string(row.detail).unwrap_or_default(),
                pending: row.chain_seq.is_none(),
                seq: row.chain_seq,
                prev_hash: row.prev_hash,
                hash: row.hash,
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
    origins: Option<String>,
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

/// How many times an event happened, the last time, and what was seen of it.
#[derive(Clone, Copy)]
struct Occurrences<'a> {
    count: u32,
    at: UnixMillis,
    observed: &'a Observed,
}

impl KeyRingObject {
    /// One occurrence of an event this object saw itself (strict mode): the first of its
    /// window is recorded at once, repeats are counted in memory and recorded as one count
    /// when the window ends (`Timer::UsageFlush`), so that a flood of refused requests
    /// costs no SQLite write per request. Returns whether the alarm must be looked at: a
    /// webhook message may wait, or a window now holds repeats to record.
    pub(super) fn note_event(
        &self,
        key_id: KeyId,
        event: KeyEvent,
        observed: Observed,
        now: UnixMillis,
    ) -> ApiResult<bool> {
        let recorded = self
            .repeats
            .borrow_mut()
            .record((key_id, event), observed, now);
        Ok(self.record_repeats(recorded.send)? || recorded.look_again_at.is_some())
    }

    /// Events a gate saw and coalesced (edge and regional mode). Returns whether the alarm
    /// must be looked at.
    pub(super) fn record_seen_events(
        &self,
        events: &[SeenEvent],
        now: UnixMillis,
    ) -> ApiResult<bool> {
        self.ensure_loaded()?;
        let mut started = false;
        // A gate sends at most a full map of repeats and the event at hand.
        for seen in events.iter().take(MAX_HELD_EVENTS + 1) {
            // An isolate's clock could be off: never record it in the future.
            let at = seen.last_at.min(now);
            started |=
                self.record_event(seen.key_id, seen.event, seen.count, &seen.observed, at)?;
        }
        Ok(started)
    }

    /// Records the counted repeats whose window is over at `now`.
    pub(super) fn flush_repeats(&self, now: UnixMillis) -> ApiResult<bool> {
        let due = self.repeats.borrow_mut().take_due(now);
        self.record_repeats(due)
    }

    fn record_repeats(&self, due: Vec<Seen<(KeyId, KeyEvent), Observed>>) -> ApiResult<bool> {
        let mut started = false;
        for seen in due {
            let ((key_id, event), observed) = (seen.event, seen.client);
            started |= self.record_event(key_id, event, seen.count, &observed, seen.last_at)?;
        }
        Ok(started)
    }

    /// Records `count` occurrences of an event, the last at `at`, aggregated per key and
    /// hour. Returns whether it was the first of its hour (then a webhook message may wait
    /// to be sent).
    pub(super) fn record_event(
        &self,
        key_id: KeyId,
        event: KeyEvent,
        count: u32,
        observed: &Observed,
        at: UnixMillis,
    ) -> ApiResult<bool> {
        let (name, message) = match event {
            KeyEvent::SecretInBrowser => (
                EventType::KeySecretInBrowser,
                "a secret key was sent from a browser and refused; it may be exposed in client code",
            ),
            KeyEvent::OriginNotAllowed => (
                EventType::KeyOriginNotAllowed,
                "a publishable key was used from a website its policy does not list; let through because the policy only reports",
            ),
            KeyEvent::RateLimited => (
                EventType::KeyRateLimited,
                "requests past the key's rate limit were refused",
            ),
            KeyEvent::CanaryUsed => (
                EventType::KeyCanaryUsed,
                "a canary key was used: it was taken from where it was planted. It was refused as an unknown key is",
            ),
            KeyEvent::SecretOutsideAuthorization => (
                EventType::KeySecretOutsideAuthorization,
                "a secret key was sent outside the Authorization header (a cookie, the query, the path or another header) and refused; logs and caches on the way may hold it: rotate it",
            ),
        };
        let seen = Occurrences {
            count,
            at,
            observed,
        };
        let mut started = self.record_aggregated(name, key_id, &seen, message)?;
        if event == KeyEvent::CanaryUsed {
            // Every use, not only the first of the hour: a key resumed in between is
            // suspended again.
            started |= self.suspend_for_canary(key_id, at)?;
        }
        Ok(started)
    }

    /// Records an event that can repeat on every request as one audit entry per key and
    /// hour, with a count and the first and last client seen, so that a flood of them
    /// cannot grow the log without bound. The first of each hour is also sent to webhooks.
    fn record_aggregated(
        &self,
        event_type: EventType,
        key_id: KeyId,
        seen: &Occurrences<'_>,
        message: &'static str,
    ) -> ApiResult<bool> {
        let Occurrences {
            count: added,
            at: now,
            observed,
        } = *seen;
        let client = &observed.client;
        let event = event_type.name();
        let sql = &self.store.sql;
        let hour = now.0 / HOUR_MS;
        let key = || text(key_id.to_string());
        // The hour's entry, while it is still held out of the chain (a chained entry never
        // changes: a late count for a closed hour starts an entry of its own).
        let existing: Vec<AggregateRow> = sql
            .exec(
                "SELECT aggregates.audit_seq AS audit_seq, count, first_at, origins FROM aggregates
                 JOIN audit ON audit.seq = aggregates.audit_seq AND audit.chain_seq IS NULL
                 WHERE aggregates.event = ? AND aggregates.key_id = ? AND aggregates.hour = ?",
                vec![text(event), key(), int(hour)],
            )?
            .to_array()?;
        let added = u64::from(added.max(1));
        let (count, first_at) = existing.first().map_or((added, now), |row| {
            (row.count.saturating_add(added), UnixMillis(row.first_at))
        });
        // The distinct origins seen this hour, at most a few: the list is for people.
        let mut listed = Observed {
            origins: existing
                .first()
                .and_then(|row| row.origins.as_deref())
                .and_then(|json| serde_json::from_str(json).ok())
                .unwrap_or_default(),
            ..Observed::default()
        };
        listed.add_origins(observed.origins.iter().cloned());
        let origins = listed.origins;
        let origins_json =
            (!origins.is_empty()).then(|| serde_json::to_string(&origins).unwrap_or_default());
        let detail = AuditDetail::Aggregated {
            message,
            count,
            first_seen_at: first_at.to_rfc3339(),
            last_seen_at: now.to_rfc3339(),
            last_ip: client.ip.as_deref(),
            last_user_agent: client.user_agent.as_deref(),
            origins: (!origins.is_empty()).then_some(&origins),
            last_request: observed.request.as_deref(),
            last_location: observed.location.as_deref(),
        };
        let detail_json = serde_json::to_string(&detail).unwrap_or_else(|_| "{}".to_owned());
        if let Some(row) = existing.first() {
            sql.exec(
                "UPDATE audit SET detail = ? WHERE seq = ?",
                vec![text(detail_json), int(row.audit_seq)],
            )?;
            sql.exec(
                "UPDATE aggregates SET count = ?, origins = ? WHERE event = ? AND key_id = ? AND hour = ?",
                vec![int(count), opt_text(origins_json), text(event), key(), int(hour)],
            )?;
            return Ok(false);
        }
        let inserted: Vec<SeqRow> = sql
            .exec(
                "INSERT INTO audit (at, event, key_id, actor, ip, user_agent, detail, hold)
                 VALUES (?, ?, ?, 'system', ?, ?, ?, ?) RETURNING seq",
                vec![
                    int(now.0),
                    text(event),
                    key(),
                    opt_text(client.ip.clone()),
                    opt_text(client.user_agent.clone()),
                    text(detail_json),
                    int(Hold::OpenHour as u64),
                ],
            )?
            .to_array()?;
        let seq = inserted
            .first()
            .map(|row| row.seq)
            .ok_or_else(|| corrupt("audit entry"))?;
        sql.exec(
            "INSERT INTO aggregates (event, key_id, hour, audit_seq, count, first_at, origins) VALUES (?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (event, key_id, hour) DO UPDATE SET audit_seq = excluded.audit_seq,
               count = excluded.count, first_at = excluded.first_at, origins = excluded.origins",
            vec![text(event), key(), int(hour), int(seq), int(count), int(now.0), opt_text(origins_json)],
        )?;
        let mut guard = self.loaded.borrow_mut();
        if let Some(loaded) = guard.as_mut() {
            if let Some(record) = loaded.ring.get(key_id).cloned() {
                let data = key_data(loaded.application.id, &record, &detail);
                self.notify(loaded, event_type, &data, None, now)?;
            }
        }
        Ok(true)
    }
}
