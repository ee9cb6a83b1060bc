//! The KV outbox: each key's newest state, queued in the same synchronous step that saves
//! the record, then written to Workers KV. The rules (versions, order, backoff) are the
//! core's [`aero2_keys::outbox::Outbox`]; this file stores its entries and sends them.

use aero2_keys::gate::EdgeRecord;
use aero2_keys::http::ErrorCode;
use aero2_keys::outbox::{Backoff, Outbox};
use aero2_keys::{KeyRecord, UnixMillis};
use worker::console_error;

use super::store::OutboxValue;
use super::{KeyRingObject, Loaded};
use crate::clock::now;
use crate::config::Config;
use crate::errors::ApiResult;
use crate::kv;

/// Keyed by the KV key: a key's storage id in hex, or `app:<id>` for the application.
pub type KvOutbox = Outbox<String, OutboxValue>;

/// 250 ms, doubling, at most a minute between KV retries.
pub const KV_BACKOFF: Backoff = Backoff {
    base_ms: 250,
    max_ms: 60_000,
};

impl KeyRingObject {
    /// Saves a changed record and queues its KV update, in one synchronous step.
    pub(super) fn persist(
        &self,
        loaded: &mut Loaded,
        record: &KeyRecord,
        now: UnixMillis,
    ) -> ApiResult<()> {
        self.store.save_record(record)?;
        super::regional::mark_changed(loaded, record.storage_id);
        let value = OutboxValue {
            json: EdgeRecord::of(loaded.application.id, record).encode(),
            tombstone: record.status.is_revoked(),
        };
        let entry = loaded
            .outbox
            .enqueue(record.storage_id.to_hex(), value, now);
        self.store.save_outbox_entry(entry)
    }

    /// Queues the application's existence record (`app:<id>`), which lets the edge refuse
    /// keys of applications that do not exist without asking this object.
    pub(super) fn publish_application(
        &self,
        loaded: &mut Loaded,
        now: UnixMillis,
    ) -> ApiResult<()> {
        let record = kv::ApplicationRecord {
            environment: loaded.application.environment,
        };
        let value = OutboxValue {
            json: serde_json::to_string(&record).map_err(|_| ErrorCode::TemporarilyUnavailable)?,
            tombstone: false,
        };
        let entry = loaded
            .outbox
            .enqueue(kv::application_key(loaded.application.id), value, now);
        self.store.save_outbox_entry(entry)
    }

    /// The KV keys of `records` that still wait in the outbox for their write.
    pub(super) fn kv_writes_pending(&self, records: &[&KeyRecord]) -> Vec<String> {
        let guard = self.loaded.borrow();
        let Some(loaded) = guard.as_ref() else {
            return Vec::new();
        };
        records
            .iter()
            .map(|record| record.storage_id.to_hex())
            .filter(|kv_key| loaded.outbox.is_pending(kv_key))
            .collect()
    }

    /// Sends every due outbox entry to KV, oldest first, until none is due. A failed write
    /// waits for its backoff (the alarm retries it); the others go on.
    pub(super) async fn flush_kv(&self) -> ApiResult<()> {
        let _turn = self.kv_flush.lock().await;
        loop {
            self.ensure_loaded()?;
            let due = match self.loaded.borrow().as_ref() {
                Some(loaded) => loaded.outbox.due(now()),
                None => continue,
            };
            if due.is_empty() {
                return Ok(());
            }
            for entry in due {
                let written = self.write_kv(&entry.key, &entry.value).await;
                let mut guard = self.loaded.borrow_mut();
                let Some(loaded) = guard.as_mut() else {
                    break; // storage failed meanwhile; reload and look again
                };
                match written {
                    Ok(()) => {
                        if loaded.outbox.delivered(&entry.key, entry.version) {
                            self.store.delete_outbox_entry(&entry.key, entry.version)?;
                            // Edge mode's receipts that waited for this write: the change
                            // holds everywhere once KV has propagated it.
                            let config = Config::cached(&self.env);
                            let at = super::ops::edge_receipt(now(), &config);
                            self.store.receipt_landed(&entry.key, at)?;
                        }
                    }
                    Err(err) => {
                        console_error!(
                            "KV write failed (attempt {}), queued for retry: {err}",
                            entry.attempts + 1
                        );
                        if let Some(updated) =
                            loaded.outbox.failed(&entry.key, entry.version, now())
                        {
                            self.store.save_outbox_entry(updated)?;
                        }
                    }
                }
            }
        }
    }

    async fn write_kv(&self, kv_key: &str, value: &OutboxValue) -> Result<(), String> {
        #[cfg(feature = "fault-injection")]
        if now().0 < self.kv_fail_until.get() {
            return Err("injected KV write failure".into());
        }
        kv::put_ring_record(&self.env, kv_key, &value.json, value.tombstone).await
    }
}
