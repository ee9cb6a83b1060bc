//! `KeyRingObject`: one Durable Object per application, the source of truth for its keys.
//!
//! It serialises every create, revoke and rotate for its application, keeps the key records
//! and the audit log in its SQLite storage, mirrors each key's state into Workers KV through
//! an outbox, and revokes rotated keys from an alarm when their grace period ends.
//!
//! Invariant: the in-memory ring is only changed in synchronous sections that also write
//! SQLite, so no other request can observe a half-applied operation. Awaits (KV writes,
//! alarms) happen after those sections.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use aero2_keys::gate::{check_status, EdgeRecord, Rejection};
use aero2_keys::{
    ApiKey, GracePeriod, KeyId, KeyKind, KeyRecord, KeyRing, RevocationReason, StorageId,
    SystemRandom, UnixMillis,
};
use futures_util::lock::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::json;
use worker::{
    console_error, durable_object, DurableObject, Env, Request, Response, Result, ScheduledTime,
    SqlStorage, SqlStorageValue, State,
};

use crate::config::{default_grace_period, KV_BINDING};
use crate::error::{json_response, ApiError, ApiResult};
use crate::protocol::{Actor, ApplicationInfo, ClientInfo, LeakOutcome, RingCommand, Validated};
use crate::views::{ApplicationView, CreatedKey, KeyView};

/// Revoked keys stay in KV as tombstones for this long, so the edge can say "revoked" or
/// "expired" rather than "unknown"; after that KV forgets them.
const TOMBSTONE_TTL_SECONDS: u64 = 7 * 24 * 60 * 60;
/// Usage counts are written to SQLite at most this long after the request.
const USAGE_FLUSH_MS: u64 = 5_000;
/// Hourly usage rows older than this are dropped.
const USAGE_RETENTION_HOURS: u64 = 30 * 24;
const HOUR_MS: u64 = 60 * 60 * 1000;
const MAX_KV_RETRY_MS: u64 = 60_000;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS application (id TEXT PRIMARY KEY, info TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS keys (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, event TEXT NOT NULL,
  key_id TEXT, actor TEXT NOT NULL, ip TEXT, user_agent TEXT, detail TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_by_key ON audit (key_id, seq);
CREATE TABLE IF NOT EXISTS outbox (
  storage_id TEXT PRIMARY KEY, value TEXT NOT NULL, tombstone INTEGER NOT NULL,
  version INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS usage (
  key_id TEXT NOT NULL, hour INTEGER NOT NULL, requests INTEGER NOT NULL,
  last_used_at INTEGER NOT NULL, PRIMARY KEY (key_id, hour));
";

struct Loaded {
    application: ApplicationInfo,
    ring: KeyRing,
    last_used: HashMap<KeyId, UnixMillis>,
}

#[durable_object]
pub struct KeyRingObject {
    state: State,
    env: Env,
    sql: SqlStorage,
    loaded: RefCell<Option<Loaded>>,
    /// Requests per (key, hour) not yet written to SQLite.
    usage: RefCell<HashMap<(KeyId, u64), (u32, UnixMillis)>>,
    usage_pending_since: Cell<Option<UnixMillis>>,
    /// The alarm time this instance last set, to avoid rewriting it on every request.
    alarm_at: Cell<Option<UnixMillis>>,
    /// KV writes are flushed by one task at a time, in outbox order, so an older state of
    /// a key can never overwrite a newer one in KV.
    kv_flush: Mutex<()>,
    /// Test builds only: KV writes fail until this time.
    #[cfg(feature = "fault-injection")]
    kv_fail_until: Cell<u64>,
}

fn now() -> UnixMillis {
    UnixMillis(worker::Date::now().as_millis())
}

fn int(value: u64) -> SqlStorageValue {
    SqlStorageValue::Integer(value as i64)
}

fn text(value: impl Into<String>) -> SqlStorageValue {
    SqlStorageValue::String(value.into())
}

fn opt_text(value: Option<impl Into<String>>) -> SqlStorageValue {
    value.map_or(SqlStorageValue::Null, text)
}

fn corrupt(what: &str) -> ApiError {
    console_error!("stored {what} could not be decoded");
    ApiError::unavailable()
}

#[derive(Deserialize)]
struct TextRow {
    value: String,
}

#[derive(Deserialize)]
struct LastUsedRow {
    key_id: String,
    last_used_at: u64,
}

#[derive(Deserialize)]
struct OutboxRow {
    storage_id: String,
    value: String,
    tombstone: u32,
    version: u64,
    attempts: u32,
}

#[derive(Deserialize, Serialize)]
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

#[derive(Deserialize)]
struct UsageRow {
    hour: u64,
    requests: u64,
}

impl DurableObject for KeyRingObject {
    fn new(state: State, env: Env) -> Self {
        let sql = state.storage().sql();
        if let Err(err) = sql.exec(SCHEMA, None) {
            console_error!("key ring schema could not be created: {err}");
        }
        KeyRingObject {
            state,
            env,
            sql,
            loaded: RefCell::new(None),
            usage: RefCell::new(HashMap::new()),
            usage_pending_since: Cell::new(None),
            alarm_at: Cell::new(None),
            kv_flush: Mutex::new(()),
            #[cfg(feature = "fault-injection")]
            kv_fail_until: Cell::new(0),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let command = match req.json::<RingCommand>().await {
            Ok(command) => command,
            Err(_) => {
                return Ok(
                    ApiError::bad_request("invalid_request", "unreadable command").into_response(),
                )
            }
        };
        Ok(self
            .handle(command, now())
            .await
            .unwrap_or_else(ApiError::into_response))
    }

    async fn alarm(&self) -> Result<Response> {
        let now = now();
        // The alarm that fired is gone; forget it so that rescheduling sets a new one.
        self.alarm_at.set(None);
        if let Err(err) = self.run_alarm(now).await {
            console_error!("key ring alarm failed ({}); it will be retried", err.code);
            return Err(worker::Error::RustError("alarm failed".into()));
        }
        Response::empty()
    }
}

impl KeyRingObject {
    async fn handle(&self, command: RingCommand, now: UnixMillis) -> ApiResult<Response> {
        match command {
            RingCommand::Init {
                application,
                client,
            } => self.init(application, &client, now).await,
            RingCommand::Validate {
                storage_id,
                kind,
                from_browser,
                client,
            } => {
                self.validate(&storage_id, kind, from_browser, &client, now)
                    .await
            }
            RingCommand::ListKeys {
                actor,
                client,
                include_revoked,
            } => {
                self.authenticate(&actor, &client, now).await?;
                self.list_keys(include_revoked)
            }
            RingCommand::CreateKey {
                actor,
                client,
                kind,
                label,
            } => {
                let actor = self.authenticate(&actor, &client, now).await?;
                self.create_key(kind, &label, &actor, &client, now).await
            }
            RingCommand::RevokeKey {
                actor,
                client,
                key_id,
            } => {
                let actor = self.authenticate(&actor, &client, now).await?;
                self.revoke_key(key_id, &actor, &client, now).await
            }
            RingCommand::RotateKey {
                actor,
                client,
                key_id,
                grace_period_seconds,
            } => {
                let actor = self.authenticate(&actor, &client, now).await?;
                let grace = match grace_period_seconds {
                    Some(seconds) => GracePeriod::from_seconds(seconds)?,
                    None => default_grace_period(&self.env),
                };
                self.rotate_key(key_id, grace, &actor, &client, now).await
            }
            RingCommand::KeyUsage {
                actor,
                client,
                key_id,
            } => {
                self.authenticate(&actor, &client, now).await?;
                self.key_usage(key_id, now)
            }
            RingCommand::AuditLog {
                actor,
                client,
                cursor,
                limit,
                key_id,
                event,
            } => {
                self.authenticate(&actor, &client, now).await?;
                self.audit_log(cursor, limit, key_id, event.as_deref())
            }
            RingCommand::RecordUsage { counts } => {
                self.ensure_loaded()?;
                let mut starts_batch = false;
                for count in counts {
                    starts_batch |=
                        self.count_usage(count.key_id, count.requests, count.last_used_at);
                }
                if starts_batch {
                    self.schedule(now).await?;
                }
                Ok(json_response(202, &json!({})))
            }
            #[cfg(feature = "fault-injection")]
            RingCommand::InjectKvFailure { fail_for_ms } => {
                self.kv_fail_until.set(now.0 + fail_for_ms);
                Ok(json_response(
                    200,
                    &json!({ "kv_writes_fail_until": now.0 + fail_for_ms }),
                ))
            }
            RingCommand::ReportLeak {
                storage_id,
                url,
                source,
            } => self.report_leak(&storage_id, &url, &source, now).await,
            RingCommand::RecordBrowserExposure { key_id, client } => {
                self.ensure_loaded()?;
                self.record_exposure(key_id, &client, now)?;
                Ok(json_response(202, &json!({})))
            }
        }
    }

    // ----- loading and persistence -------------------------------------------------------

    fn ensure_loaded(&self) -> ApiResult<()> {
        if self.loaded.borrow().is_some() {
            return Ok(());
        }
        let info: Vec<TextRow> = self
            .sql
            .exec("SELECT info AS value FROM application LIMIT 1", None)?
            .to_array()?;
        let Some(info) = info.into_iter().next() else {
            return Err(ApiError::new(
                404,
                "application_not_found",
                "no application has this id",
            ));
        };
        let application: ApplicationInfo =
            serde_json::from_str(&info.value).map_err(|_| corrupt("application"))?;
        let rows: Vec<TextRow> = self
            .sql
            .exec("SELECT record AS value FROM keys ORDER BY seq", None)?
            .to_array()?;
        let records = rows
            .iter()
            .map(|row| serde_json::from_str::<KeyRecord>(&row.value))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|_| corrupt("key record"))?;
        let last_used_rows: Vec<LastUsedRow> = self
            .sql
            .exec(
                "SELECT key_id, MAX(last_used_at) AS last_used_at FROM usage GROUP BY key_id",
                None,
            )?
            .to_array()?;
        let last_used = last_used_rows
            .into_iter()
            .filter_map(|row| {
                Some((
                    KeyId::parse(&row.key_id).ok()?,
                    UnixMillis(row.last_used_at),
                ))
            })
            .collect();
        let ring = KeyRing::from_records(application.id, application.environment, records);
        *self.loaded.borrow_mut() = Some(Loaded {
            application,
            ring,
            last_used,
        });
        Ok(())
    }

    /// Loads the ring; `false` when this Durable Object holds no application (a key or
    /// report for an application that was never created), other failures are errors.
    fn application_exists(&self) -> ApiResult<bool> {
        match self.ensure_loaded() {
            Ok(()) => Ok(true),
            Err(err) if err.code == "application_not_found" => Ok(false),
            Err(err) => Err(err),
        }
    }

    /// Runs a synchronous change against the loaded ring. If storage fails part-way, the
    /// in-memory copy is dropped and reloaded from SQLite on the next request, so memory
    /// never claims more than storage holds.
    fn mutate<T>(&self, change: impl FnOnce(&mut Loaded) -> ApiResult<T>) -> ApiResult<T> {
        self.ensure_loaded()?;
        let mut guard = self.loaded.borrow_mut();
        let loaded = guard.as_mut().ok_or_else(ApiError::unavailable)?;
        let result = change(loaded);
        if matches!(&result, Err(err) if err.status >= 500) {
            *guard = None;
        }
        result
    }

    fn save_record(&self, record: &KeyRecord) -> ApiResult<()> {
        let json = serde_json::to_string(record).map_err(|_| ApiError::unavailable())?;
        self.sql.exec(
            "INSERT INTO keys (id, record) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET record = excluded.record",
            vec![text(record.id.to_string()), text(json)],
        )?;
        Ok(())
    }

    /// Records the KV state a key must reach. Only the newest state per key is kept.
    fn enqueue_kv(&self, loaded: &Loaded, record: &KeyRecord) -> ApiResult<()> {
        let edge = EdgeRecord::of(loaded.application.id, record);
        let json = serde_json::to_string(&edge).map_err(|_| ApiError::unavailable())?;
        let tombstone = record.status.is_revoked();
        self.sql.exec(
            "INSERT INTO outbox (storage_id, value, tombstone, version) VALUES (?, ?, ?, 1)
             ON CONFLICT (storage_id) DO UPDATE SET value = excluded.value,
               tombstone = excluded.tombstone, version = outbox.version + 1, attempts = 0",
            vec![
                text(record.storage_id.to_hex()),
                text(json),
                int(u64::from(tombstone)),
            ],
        )?;
        Ok(())
    }

    /// Saves a changed record and queues its KV update, in one synchronous step.
    fn persist(&self, loaded: &Loaded, record: &KeyRecord) -> ApiResult<()> {
        self.save_record(record)?;
        self.enqueue_kv(loaded, record)
    }

    #[allow(clippy::too_many_arguments)]
    fn audit(
        &self,
        now: UnixMillis,
        event: &str,
        key_id: Option<KeyId>,
        actor: &str,
        client: &ClientInfo,
        detail: serde_json::Value,
    ) -> ApiResult<()> {
        self.sql.exec(
            "INSERT INTO audit (at, event, key_id, actor, ip, user_agent, detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
            vec![
                int(now.0),
                text(event),
                opt_text(key_id.map(|id| id.to_string())),
                text(actor),
                opt_text(client.ip.clone()),
                opt_text(client.user_agent.clone()),
                text(detail.to_string()),
            ],
        )?;
        Ok(())
    }

    /// Writes every pending outbox entry to KV, oldest first. Returns whether the outbox
    /// is now empty; on a failed write it stops, and the alarm retries with backoff.
    async fn flush_kv(&self) -> ApiResult<bool> {
        let _turn = self.kv_flush.lock().await;
        let kv = self.env.kv(KV_BINDING)?;
        loop {
            let rows: Vec<OutboxRow> = self
                .sql
                .exec(
                    "SELECT storage_id, value, tombstone, version, attempts FROM outbox ORDER BY rowid LIMIT 25",
                    None,
                )?
                .to_array()?;
            if rows.is_empty() {
                return Ok(true);
            }
            for row in rows {
                let written = self.write_kv(&kv, &row).await;
                if let Err(err) = written {
                    console_error!(
                        "KV write failed (attempt {}), queued for retry: {err}",
                        row.attempts + 1
                    );
                    self.sql.exec(
                        "UPDATE outbox SET attempts = attempts + 1 WHERE storage_id = ?",
                        vec![text(row.storage_id)],
                    )?;
                    return Ok(false);
                }
                // A newer state queued while this write was in flight keeps its row.
                self.sql.exec(
                    "DELETE FROM outbox WHERE storage_id = ? AND version = ?",
                    vec![text(row.storage_id), int(row.version)],
                )?;
            }
        }
    }

    async fn write_kv(
        &self,
        kv: &worker::kv::KvStore,
        row: &OutboxRow,
    ) -> std::result::Result<(), String> {
        #[cfg(feature = "fault-injection")]
        if now().0 < self.kv_fail_until.get() {
            return Err("injected KV write failure".into());
        }
        let put = kv
            .put(&row.storage_id, row.value.as_str())
            .map_err(|e| e.to_string())?;
        let put = if row.tombstone != 0 {
            put.expiration_ttl(TOMBSTONE_TTL_SECONDS)
        } else {
            put
        };
        put.execute().await.map_err(|e| e.to_string())
    }

    fn outbox_backoff(&self) -> ApiResult<Option<u64>> {
        #[derive(Deserialize)]
        struct Attempts {
            attempts: Option<u32>,
        }
        let rows: Vec<Attempts> = self
            .sql
            .exec("SELECT MAX(attempts) AS attempts FROM outbox", None)?
            .to_array()?;
        Ok(rows
            .into_iter()
            .next()
            .and_then(|row| row.attempts)
            .map(|attempts| (250u64 << attempts.min(8)).min(MAX_KV_RETRY_MS)))
    }

    /// Sets the alarm for the earliest of: the next grace-period end, the next KV retry,
    /// and the next usage flush.
    async fn schedule(&self, now: UnixMillis) -> ApiResult<()> {
        let next_expiry = self
            .loaded
            .borrow()
            .as_ref()
            .and_then(|loaded| loaded.ring.next_expiry());
        let kv_retry = self
            .outbox_backoff()?
            .map(|delay| UnixMillis(now.0 + delay));
        let usage_flush = self
            .usage_pending_since
            .get()
            .map(|since| UnixMillis(since.0 + USAGE_FLUSH_MS));
        let Some(next) = [next_expiry, kv_retry, usage_flush]
            .into_iter()
            .flatten()
            .min()
        else {
            return Ok(());
        };
        if self.alarm_at.get().is_some_and(|current| current <= next) {
            return Ok(());
        }
        let when = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(next.0 as f64));
        self.state
            .storage()
            .set_alarm(ScheduledTime::new(when))
            .await?;
        self.alarm_at.set(Some(next));
        Ok(())
    }

    /// Persists changes, then brings KV up to date and reschedules the alarm. KV failures
    /// do not fail the operation: the outbox keeps the change and the alarm retries it.
    async fn after_change(&self, now: UnixMillis) -> ApiResult<()> {
        self.flush_kv().await?;
        self.schedule(now).await
    }

    // ----- authentication ----------------------------------------------------------------

    /// Checks the caller of a management operation and returns how the audit log names it.
    async fn authenticate(
        &self,
        actor: &Actor,
        client: &ClientInfo,
        now: UnixMillis,
    ) -> ApiResult<String> {
        let (storage_id, from_browser) = match actor {
            Actor::Operator => {
                self.ensure_loaded()?;
                return Ok("operator".to_owned());
            }
            Actor::Key {
                storage_id,
                from_browser,
            } => (storage_id, *from_browser),
        };
        let validated = self.check_key(storage_id, None, now)?;
        self.record_usage(validated.key_id, now).await?;
        if validated.kind != KeyKind::Secret {
            return Err(ApiError::new(
                403,
                "publishable_key_not_allowed",
                "the management API requires a secret key",
            ));
        }
        if from_browser {
            self.record_exposure(validated.key_id, client, now)?;
            return Err(Rejection::SecretKeyInBrowser.into());
        }
        Ok(validated.key_id.to_string())
    }

    fn check_key(
        &self,
        storage_id: &StorageId,
        kind: Option<KeyKind>,
        now: UnixMillis,
    ) -> ApiResult<Validated> {
        self.ensure_loaded()?;
        let guard = self.loaded.borrow();
        let loaded = guard.as_ref().ok_or_else(ApiError::unavailable)?;
        let record = loaded
            .ring
            .find_by_storage_id(storage_id)
            .filter(|record| kind.is_none_or(|kind| record.kind == kind))
            .ok_or(Rejection::UnknownKey)?;
        check_status(&record.status, now)?;
        Ok(Validated {
            key_id: record.id,
            kind: record.kind,
        })
    }

    async fn validate(
        &self,
        storage_id: &StorageId,
        kind: KeyKind,
        from_browser: bool,
        client: &ClientInfo,
        now: UnixMillis,
    ) -> ApiResult<Response> {
        // An application that does not exist has no keys: the key is unknown.
        if !self.application_exists()? {
            return Err(Rejection::UnknownKey.into());
        }
        let validated = self.check_key(storage_id, Some(kind), now)?;
        self.record_usage(validated.key_id, now).await?;
        if validated.kind == KeyKind::Secret && from_browser {
            self.record_exposure(validated.key_id, client, now)?;
        }
        Ok(json_response(200, &validated))
    }

    fn record_exposure(
        &self,
        key_id: KeyId,
        client: &ClientInfo,
        now: UnixMillis,
    ) -> ApiResult<()> {
        self.audit(
            now,
            "key.secret_in_browser",
            Some(key_id),
            "system",
            client,
            json!({"message": "a secret key was sent from a browser and refused; it may be exposed in client code"}),
        )
    }

    // ----- usage -------------------------------------------------------------------------

    /// Counts a request with a key, and makes sure an alarm will write the counts out.
    /// The alarm is only set when a new batch starts, which keeps storage reads off the
    /// path of every validated request.
    async fn record_usage(&self, key_id: KeyId, now: UnixMillis) -> ApiResult<()> {
        if self.count_usage(key_id, 1, now) {
            self.schedule(now).await?;
        }
        Ok(())
    }

    /// Adds to the in-memory counts; returns whether this started a new batch.
    fn count_usage(&self, key_id: KeyId, requests: u32, at: UnixMillis) -> bool {
        let hour = at.0 / HOUR_MS;
        let mut usage = self.usage.borrow_mut();
        let entry = usage.entry((key_id, hour)).or_insert((0, at));
        entry.0 = entry.0.saturating_add(requests);
        entry.1 = entry.1.max(at);
        if let Some(loaded) = self.loaded.borrow_mut().as_mut() {
            let last = loaded.last_used.entry(key_id).or_insert(at);
            *last = (*last).max(at);
        }
        let starts_batch = self.usage_pending_since.get().is_none();
        if starts_batch {
            self.usage_pending_since.set(Some(at));
        }
        starts_batch
    }

    fn flush_usage(&self, now: UnixMillis) -> ApiResult<()> {
        let pending: Vec<_> = self.usage.borrow_mut().drain().collect();
        self.usage_pending_since.set(None);
        for ((key_id, hour), (requests, last_used_at)) in pending {
            self.sql.exec(
                "INSERT INTO usage (key_id, hour, requests, last_used_at) VALUES (?, ?, ?, ?)
                 ON CONFLICT (key_id, hour) DO UPDATE SET requests = requests + excluded.requests,
                   last_used_at = MAX(last_used_at, excluded.last_used_at)",
                vec![
                    text(key_id.to_string()),
                    int(hour),
                    int(u64::from(requests)),
                    int(last_used_at.0),
                ],
            )?;
        }
        let oldest_kept = (now.0 / HOUR_MS).saturating_sub(USAGE_RETENTION_HOURS);
        self.sql
            .exec("DELETE FROM usage WHERE hour < ?", vec![int(oldest_kept)])?;
        Ok(())
    }

    // ----- operations --------------------------------------------------------------------

    async fn init(
        &self,
        application: ApplicationInfo,
        client: &ClientInfo,
        now: UnixMillis,
    ) -> ApiResult<Response> {
        if self.application_exists()? {
            return Err(ApiError::new(
                409,
                "application_exists",
                "this application already exists",
            ));
        }
        let info = serde_json::to_string(&application).map_err(|_| ApiError::unavailable())?;
        let mut ring = KeyRing::new(application.id, application.environment);
        let mut rng = SystemRandom;
        let (publishable, publishable_record) =
            ring.create(KeyKind::Publishable, "default", now, &mut rng)?;
        let (secret, secret_record) = ring.create(KeyKind::Secret, "default", now, &mut rng)?;
        let loaded = Loaded {
            application,
            ring,
            last_used: HashMap::new(),
        };
        self.sql.exec(
            "INSERT INTO application (id, info) VALUES (?, ?)",
            vec![text(loaded.application.id.to_string()), text(info)],
        )?;
        self.audit(
            now,
            "application.created",
            None,
            "operator",
            client,
            json!({"name": loaded.application.name}),
        )?;
        for record in [&publishable_record, &secret_record] {
            self.persist(&loaded, record)?;
            self.audit(
                now,
                "key.created",
                Some(record.id),
                "operator",
                client,
                json!({"kind": record.kind, "label": record.label}),
            )?;
        }
        let body = json!({
            "application": ApplicationView::of(&loaded.application),
            "keys": [
                CreatedKey { key: KeyView::of(&publishable_record, None), value: publishable.expose_secret() },
                CreatedKey { key: KeyView::of(&secret_record, None), value: secret.expose_secret() },
            ],
        });
        *self.loaded.borrow_mut() = Some(loaded);
        self.after_change(now).await?;
        Ok(json_response(201, &body))
    }

    fn list_keys(&self, include_revoked: bool) -> ApiResult<Response> {
        let guard = self.loaded.borrow();
        let loaded = guard.as_ref().ok_or_else(ApiError::unavailable)?;
        let keys: Vec<KeyView> = loaded
            .ring
            .keys()
            .iter()
            .rev()
            .filter(|record| include_revoked || !record.status.is_revoked())
            .map(|record| KeyView::of(record, loaded.last_used.get(&record.id).copied()))
            .collect();
        Ok(json_response(200, &json!({ "keys": keys })))
    }

    async fn create_key(
        &self,
        kind: KeyKind,
        label: &str,
        actor: &str,
        client: &ClientInfo,
        now: UnixMillis,
    ) -> ApiResult<Response> {
        let (key, record): (ApiKey, KeyRecord) = self.mutate(|loaded| {
            let (key, record) = loaded.ring.create(kind, label, now, &mut SystemRandom)?;
            self.persist(loaded, &record)?;
            self.audit(
                now,
                "key.created",
                Some(record.id),
                actor,
                client,
                json!({"kind": kind, "label": record.label}),
            )?;
            Ok((key, record))
        })?;
        self.after_change(now).await?;
        Ok(json_response(
            201,
            &json!({ "key": CreatedKey { key: KeyView::of(&record, None), value: key.expose_secret() } }),
        ))
    }

    async fn revoke_key(
        &self,
        key_id: KeyId,
        actor: &str,
        client: &ClientInfo,
        now: UnixMillis,
    ) -> ApiResult<Response> {
        let record = self.mutate(|loaded| {
            let record = loaded.ring.revoke(key_id, now, RevocationReason::Revoked)?;
            self.persist(loaded, &record)?;
            self.audit(
                now,
                "key.revoked",
                Some(key_id),
                actor,
                client,
                json!({"kind": record.kind, "label": record.label}),
            )?;
            Ok(record)
        })?;
        self.after_change(now).await?;
        let last_used = self.last_used(key_id);
        Ok(json_response(
            200,
            &json!({ "key": KeyView::of(&record, last_used) }),
        ))
    }

    async fn rotate_key(
        &self,
        key_id: KeyId,
        grace: GracePeriod,
        actor: &str,
        client: &ClientInfo,
        now: UnixMillis,
    ) -> ApiResult<Response> {
        let rotation = self.mutate(|loaded| {
            let rotation = loaded.ring.rotate(key_id, now, grace, &mut SystemRandom)?;
            self.persist(loaded, &rotation.old_record)?;
            self.persist(loaded, &rotation.new_record)?;
            self.audit(
                now,
                "key.rotated",
                Some(key_id),
                actor,
                client,
                json!({
                    "new_key_id": rotation.new_record.id,
                    "grace_period_seconds": grace.seconds(),
                    "expires_at": rotation.old_record.expires_at().map(UnixMillis::to_rfc3339),
                }),
            )?;
            Ok(rotation)
        })?;
        self.after_change(now).await?;
        let last_used = self.last_used(key_id);
        Ok(json_response(
            200,
            &json!({
                "key": CreatedKey { key: KeyView::of(&rotation.new_record, None), value: rotation.new_key.expose_secret() },
                "previous_key": KeyView::of(&rotation.old_record, last_used),
            }),
        ))
    }

    fn last_used(&self, key_id: KeyId) -> Option<UnixMillis> {
        self.loaded
            .borrow()
            .as_ref()
            .and_then(|loaded| loaded.last_used.get(&key_id).copied())
    }

    fn key_usage(&self, key_id: KeyId, now: UnixMillis) -> ApiResult<Response> {
        if self
            .loaded
            .borrow()
            .as_ref()
            .is_none_or(|loaded| loaded.ring.get(key_id).is_none())
        {
            return Err(aero2_keys::LifecycleError::KeyNotFound.into());
        }
        self.flush_usage(now)?;
        let current_hour = now.0 / HOUR_MS;
        let first_hour = current_hour - 23;
        let rows: Vec<UsageRow> = self
            .sql
            .exec(
                "SELECT hour, requests FROM usage WHERE key_id = ? AND hour >= ? ORDER BY hour",
                vec![text(key_id.to_string()), int(first_hour)],
            )?
            .to_array()?;
        let counts: HashMap<u64, u64> = rows
            .into_iter()
            .map(|row| (row.hour, row.requests))
            .collect();
        let hours: Vec<_> = (first_hour..=current_hour)
            .map(|hour| {
                json!({
                    "hour_start": UnixMillis(hour * HOUR_MS).to_rfc3339(),
                    "requests": counts.get(&hour).copied().unwrap_or(0),
                })
            })
            .collect();
        Ok(json_response(
            200,
            &json!({ "key_id": key_id, "hours": hours }),
        ))
    }

    fn audit_log(
        &self,
        cursor: Option<u64>,
        limit: u32,
        key_id: Option<KeyId>,
        event: Option<&str>,
    ) -> ApiResult<Response> {
        let limit = limit.clamp(1, 100);
        let mut query = String::from(
            "SELECT seq, at, event, key_id, actor, ip, user_agent, detail FROM audit WHERE seq < ?",
        );
        let mut bindings = vec![int(cursor.unwrap_or(i64::MAX as u64))];
        if let Some(key_id) = key_id {
            query.push_str(" AND key_id = ?");
            bindings.push(text(key_id.to_string()));
        }
        if let Some(event) = event {
            query.push_str(" AND event = ?");
            bindings.push(text(event));
        }
        query.push_str(" ORDER BY seq DESC LIMIT ?");
        bindings.push(int(u64::from(limit)));
        let rows: Vec<AuditRow> = self.sql.exec(&query, bindings)?.to_array()?;
        let next_cursor = (rows.len() == limit as usize)
            .then(|| rows.last().map(|row| row.seq.to_string()))
            .flatten();
        let entries: Vec<_> = rows
            .into_iter()
            .map(|row| {
                json!({
                    "id": row.seq.to_string(),
                    "at": UnixMillis(row.at).to_rfc3339(),
                    "event": row.event,
                    "key_id": row.key_id,
                    "actor": row.actor,
                    "ip": row.ip,
                    "user_agent": row.user_agent,
                    "detail": serde_json::from_str::<serde_json::Value>(&row.detail).unwrap_or_default(),
                })
            })
            .collect();
        Ok(json_response(
            200,
            &json!({ "entries": entries, "next_cursor": next_cursor }),
        ))
    }

    /// A secret scanner found a key in public. A secret key is revoked at once, even the
    /// application's last one: a leaked key is worse than a locked-out application.
    async fn report_leak(
        &self,
        storage_id: &StorageId,
        url: &str,
        source: &str,
        now: UnixMillis,
    ) -> ApiResult<Response> {
        if !self.application_exists()? {
            return Ok(json_response(200, &LeakOutcome::Unknown));
        }
        let detail = json!({ "url": url, "source": source });
        let scanner = ClientInfo::default();
        let outcome = self.mutate(|loaded| {
            let Some(record) = loaded.ring.find_by_storage_id(storage_id).cloned() else {
                return Ok(LeakOutcome::Unknown);
            };
            let already_revoked = record.status.is_revoked();
            if record.kind == KeyKind::Publishable || already_revoked {
                self.audit(
                    now,
                    "key.leak_reported",
                    Some(record.id),
                    "secret_scanning",
                    &scanner,
                    detail.clone(),
                )?;
                return Ok(if already_revoked {
                    LeakOutcome::AlreadyRevoked
                } else {
                    LeakOutcome::Publishable
                });
            }
            let revoked = loaded
                .ring
                .revoke(record.id, now, RevocationReason::Leaked)?;
            self.persist(loaded, &revoked)?;
            self.audit(
                now,
                "key.leaked",
                Some(record.id),
                "secret_scanning",
                &scanner,
                detail.clone(),
            )?;
            Ok(LeakOutcome::Revoked)
        })?;
        if outcome == LeakOutcome::Revoked {
            self.after_change(now).await?;
        }
        Ok(json_response(200, &outcome))
    }

    async fn run_alarm(&self, now: UnixMillis) -> ApiResult<()> {
        if !self.application_exists()? {
            return Ok(());
        }
        self.mutate(|loaded| {
            for record in loaded.ring.expire_due(now) {
                self.persist(loaded, &record)?;
                self.audit(
                    now,
                    "key.expired",
                    Some(record.id),
                    "system",
                    &ClientInfo::default(),
                    json!({"reason": "rotation grace period ended", "kind": record.kind, "label": record.label}),
                )?;
            }
            Ok(())
        })?;
        self.flush_usage(now)?;
        self.flush_kv().await?;
        self.schedule(now).await
    }
}
