//! The key ring's SQLite storage: a versioned schema with its migrations, and the rows of
//! the application, its key records and its KV outbox. (Usage and audit rows are in
//! `usage.rs` and `audit.rs`.)
//!
//! Nothing is written until the application is created: opening a store, and asking
//! whether it holds an application, only read. So a key of an application that was never
//! created cannot make a Durable Object grow storage.

use aero2_keys::http::ErrorCode;
use aero2_keys::outbox::Entry;
use aero2_keys::{KeyId, KeyRecord, UnixMillis};
use serde::Deserialize;
use worker::{console_error, SqlStorage};

use crate::errors::{ApiError, ApiResult};
use crate::protocol::ApplicationInfo;
use crate::schema::Schema;

/// The key ring's schema; `first_table` is the table the first build created first.
pub const SCHEMA: Schema = Schema {
    migrations: MIGRATIONS,
    first_table: "application",
};

const MIGRATIONS: &[&str] = &[
    // 1: the first build.
    "CREATE TABLE IF NOT EXISTS application (id TEXT PRIMARY KEY, info TEXT NOT NULL);
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
       last_used_at INTEGER NOT NULL, PRIMARY KEY (key_id, hour));",
    // 2: the outbox's retry time and sending order kept with each entry (before, the
    // order was the rowid and the retry time was not stored).
    "ALTER TABLE outbox ADD COLUMN not_before INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE outbox ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
     UPDATE outbox SET seq = rowid;",
    // 3: applications created before the edge checked that an application exists get
    // their `app:` KV record queued, so their keys keep working at the gate.
    "INSERT INTO outbox (storage_id, value, tombstone, version, attempts, not_before, seq)
       SELECT 'app:' || id, json_object('environment', json_extract(info, '$.environment')),
              0, 1, 0, 0, (SELECT COALESCE(MAX(seq), 0) + 1 FROM outbox)
       FROM application WHERE true -- (SQLite needs a WHERE before an upsert's ON)
     ON CONFLICT (storage_id) DO NOTHING;",
    // 4: events aggregated per key and hour (one audit entry, updated with a count), and
    // when the daily clean-up runs next.
    "CREATE TABLE aggregates (
       event TEXT NOT NULL, key_id TEXT NOT NULL, hour INTEGER NOT NULL,
       audit_seq INTEGER NOT NULL, count INTEGER NOT NULL, first_at INTEGER NOT NULL,
       PRIMARY KEY (event, key_id, hour));
     CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
     INSERT INTO meta (name, value) VALUES ('retention_next_at', 0) ON CONFLICT (name) DO NOTHING;",
    // 5: the distinct origins an aggregated entry lists (key.origin_not_allowed).
    "ALTER TABLE aggregates ADD COLUMN origins TEXT;",
    // 6: webhooks: endpoints (no secrets: see key_ring/webhooks.rs), the outbox of
    // messages, the last attempts per endpoint, and the reminders already sent.
    "CREATE TABLE webhook_endpoints (id TEXT PRIMARY KEY, info TEXT NOT NULL);
     CREATE TABLE webhook_messages (
       id TEXT NOT NULL, endpoint_id TEXT NOT NULL, event TEXT NOT NULL, body TEXT NOT NULL,
       created_at INTEGER NOT NULL, attempts INTEGER NOT NULL, next_attempt_at INTEGER,
       state TEXT NOT NULL, PRIMARY KEY (id, endpoint_id));
     CREATE INDEX webhook_messages_due ON webhook_messages (next_attempt_at) WHERE state = 'pending';
     CREATE TABLE webhook_attempts (
       seq INTEGER PRIMARY KEY AUTOINCREMENT, endpoint_id TEXT NOT NULL, message_id TEXT NOT NULL,
       event TEXT NOT NULL, attempt INTEGER NOT NULL, status INTEGER, error TEXT,
       latency_ms INTEGER NOT NULL, at INTEGER NOT NULL);
     CREATE INDEX webhook_attempts_by_endpoint ON webhook_attempts (endpoint_id, seq);
     CREATE TABLE reminders (
       key_id TEXT NOT NULL, reminder TEXT NOT NULL, for_at INTEGER NOT NULL,
       PRIMARY KEY (key_id, reminder, for_at));",
    // 7: regional mode: the leases granted to replicas, and the change counter pushed.
    "CREATE TABLE replica_leases (name TEXT PRIMARY KEY, info TEXT NOT NULL);
     INSERT INTO meta (name, value) VALUES ('replica_version', 0) ON CONFLICT (name) DO NOTHING;",
    // 8: edge mode's receipts still unknown: the audit entry of a change whose KV write
    // waits for a retry, and the KV keys it waits for.
    "CREATE TABLE pending_receipts (
       audit_seq INTEGER NOT NULL, kv_key TEXT NOT NULL, PRIMARY KEY (audit_seq, kv_key));
     CREATE INDEX pending_receipts_by_kv_key ON pending_receipts (kv_key);",
    // 9: the format of the key records this ring wrote to KV. Format 1 was JSON; the gate
    // reads the compact records of format 2 (`EdgeRecord::encode`), so a ring rewrites its
    // records when it first loads after the upgrade (`KeyRingObject::ensure_loaded`).
    "INSERT INTO meta (name, value) VALUES ('kv_record_format', 1) ON CONFLICT (name) DO NOTHING;",
    // 10: the hash chain (aero2_keys::audit_chain). `chain_seq` is the entry's place in
    // the chain, null while it is held: `hold` 1 until its receipt is known, 2 while its
    // hour is open (an aggregated entry still counting). Existing entries are chained in
    // order when the ring next loads. The head, and the signed checkpoints.
    "ALTER TABLE audit ADD COLUMN chain_seq INTEGER;
     ALTER TABLE audit ADD COLUMN prev_hash TEXT;
     ALTER TABLE audit ADD COLUMN hash TEXT;
     ALTER TABLE audit ADD COLUMN hold INTEGER NOT NULL DEFAULT 0;
     CREATE UNIQUE INDEX audit_by_chain ON audit (chain_seq);
     CREATE INDEX audit_unchained ON audit (hold, seq) WHERE chain_seq IS NULL;
     UPDATE audit SET hold = 2 WHERE seq IN (SELECT audit_seq FROM aggregates);
     UPDATE audit SET hold = 1 WHERE seq IN (SELECT audit_seq FROM pending_receipts);
     CREATE TABLE chain_head (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL, hash TEXT NOT NULL);
     INSERT INTO chain_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
     CREATE TABLE checkpoints (seq INTEGER PRIMARY KEY, hash TEXT NOT NULL, iat INTEGER NOT NULL, token TEXT NOT NULL);",
];

/// The format of the key records written to KV now (see migration 9).
pub const KV_RECORD_FORMAT: u64 = 2;

/// What is written to KV for one key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxValue {
    /// The key's `EdgeRecord` as compact text (`EdgeRecord::encode`, what the gate
    /// reads), or an application's existence record as JSON.
    pub json: String,
    /// A revoked key: written with an expiry.
    pub tombstone: bool,
}

pub use crate::schema::{int, opt_text, text};

pub fn corrupt(what: &str) -> ApiError {
    console_error!("stored {what} could not be decoded");
    ErrorCode::TemporarilyUnavailable.into()
}

#[derive(Deserialize)]
struct TextRow {
    value: String,
}

#[derive(Deserialize)]
struct MetaRow {
    value: u64,
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
    not_before: u64,
    seq: u64,
}

/// Everything the key ring keeps in memory, as stored.
pub struct Stored {
    pub application: ApplicationInfo,
    /// When the daily clean-up runs next.
    pub retention_next_at: UnixMillis,
    pub records: Vec<KeyRecord>,
    pub last_used: Vec<(KeyId, UnixMillis)>,
    pub outbox: Vec<Entry<String, OutboxValue>>,
}

pub struct Store {
    pub sql: SqlStorage,
}

impl Store {
    pub fn new(sql: SqlStorage) -> Self {
        Store { sql }
    }

    /// Brings the schema to the latest version. Only called for an application that
    /// exists or is being created.
    pub fn migrate(&self) -> ApiResult<()> {
        SCHEMA.migrate(&self.sql)
    }

    /// Reads everything, migrating first; `None` when no application was ever created here.
    pub fn load(&self) -> ApiResult<Option<Stored>> {
        if SCHEMA.version(&self.sql)? == 0 {
            return Ok(None);
        }
        self.migrate()?;
        let info: Vec<TextRow> = self
            .sql
            .exec("SELECT info AS value FROM application LIMIT 1", None)?
            .to_array()?;
        let Some(info) = info.into_iter().next() else {
            return Ok(None);
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
            .collect::<Result<Vec<_>, _>>()
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
        let outbox_rows: Vec<OutboxRow> = self
            .sql
            .exec(
                "SELECT storage_id, value, tombstone, version, attempts, not_before, seq FROM outbox",
                None,
            )?
            .to_array()?;
        let outbox = outbox_rows
            .into_iter()
            .map(|row| Entry {
                key: row.storage_id,
                value: OutboxValue {
                    json: row.value,
                    tombstone: row.tombstone != 0,
                },
                version: row.version,
                attempts: row.attempts,
                not_before: UnixMillis(row.not_before),
                seq: row.seq,
            })
            .collect();
        let retention: Vec<MetaRow> = self
            .sql
            .exec(
                "SELECT value FROM meta WHERE name = 'retention_next_at'",
                None,
            )?
            .to_array()?;
        Ok(Some(Stored {
            retention_next_at: UnixMillis(retention.first().map_or(0, |row| row.value)),
            application,
            records,
            last_used,
            outbox,
        }))
    }

    pub fn insert_application(&self, application: &ApplicationInfo) -> ApiResult<()> {
        let info =
            serde_json::to_string(application).map_err(|_| ErrorCode::TemporarilyUnavailable)?;
        self.sql.exec(
            "INSERT INTO application (id, info) VALUES (?, ?)",
            vec![text(application.id.to_string()), text(info)],
        )?;
        Ok(())
    }

    pub fn save_record(&self, record: &KeyRecord) -> ApiResult<()> {
        let json = serde_json::to_string(record).map_err(|_| ErrorCode::TemporarilyUnavailable)?;
        self.sql.exec(
            "INSERT INTO keys (id, record) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET record = excluded.record",
            vec![text(record.id.to_string()), text(json)],
        )?;
        Ok(())
    }

    pub fn save_outbox_entry(&self, entry: &Entry<String, OutboxValue>) -> ApiResult<()> {
        self.sql.exec(
            "INSERT INTO outbox (storage_id, value, tombstone, version, attempts, not_before, seq)
             VALUES (?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (storage_id) DO UPDATE SET value = excluded.value,
               tombstone = excluded.tombstone, version = excluded.version,
               attempts = excluded.attempts, not_before = excluded.not_before",
            vec![
                text(entry.key.clone()),
                text(entry.value.json.clone()),
                int(u64::from(entry.value.tombstone)),
                int(entry.version),
                int(u64::from(entry.attempts)),
                int(entry.not_before.0),
                int(entry.seq),
            ],
        )?;
        Ok(())
    }

    /// The format of the key records this ring last wrote to KV.
    pub fn kv_record_format(&self) -> ApiResult<u64> {
        let rows: Vec<MetaRow> = self
            .sql
            .exec(
                "SELECT value FROM meta WHERE name = 'kv_record_format'",
                None,
            )?
            .to_array()?;
        Ok(rows.first().map_or(KV_RECORD_FORMAT, |row| row.value))
    }

    pub fn set_kv_record_format(&self, format: u64) -> ApiResult<()> {
        self.sql.exec(
            "UPDATE meta SET value = ? WHERE name = 'kv_record_format'",
            vec![int(format)],
        )?;
        Ok(())
    }

    pub fn set_retention_next_at(&self, at: UnixMillis) -> ApiResult<()> {
        self.sql.exec(
            "UPDATE meta SET value = ? WHERE name = 'retention_next_at'",
            vec![int(at.0)],
        )?;
        Ok(())
    }

    pub fn delete_record(&self, key_id: aero2_keys::KeyId) -> ApiResult<()> {
        self.sql.exec(
            "DELETE FROM keys WHERE id = ?",
            vec![text(key_id.to_string())],
        )?;
        Ok(())
    }

    pub fn delete_outbox_entry(&self, storage_id: &str, version: u64) -> ApiResult<()> {
        self.sql.exec(
            "DELETE FROM outbox WHERE storage_id = ? AND version = ?",
            vec![text(storage_id), int(version)],
        )?;
        Ok(())
    }
}
