//! Usage: requests per key and hour. Counted in memory by the core's
//! [`aero2_keys::usage::UsageBatcher`] (keeping storage writes off the path of every
//! validated request) and written to SQLite by the alarm, at most a few seconds later.

use std::collections::HashMap;

use aero2_keys::usage::{UsageCount, HOUR_MS};
use aero2_keys::{ApplicationId, KeyId, UnixMillis};
use serde::Deserialize;

use super::store::{int, text, Store};
use super::KeyRingObject;
use crate::errors::ApiResult;
use crate::views::HourUsage;

/// Hourly usage rows older than this are dropped.
const USAGE_RETENTION_HOURS: u64 = 30 * 24;

#[derive(Deserialize)]
struct UsageRow {
    hour: u64,
    requests: u64,
}

impl Store {
    fn add_usage(&self, count: &UsageCount) -> ApiResult<()> {
        self.sql.exec(
            "INSERT INTO usage (key_id, hour, requests, last_used_at) VALUES (?, ?, ?, ?)
             ON CONFLICT (key_id, hour) DO UPDATE SET requests = requests + excluded.requests,
               last_used_at = MAX(last_used_at, excluded.last_used_at)",
            vec![
                text(count.key_id.to_string()),
                int(count.hour),
                int(u64::from(count.requests)),
                int(count.last_used_at.0),
            ],
        )?;
        Ok(())
    }

    fn hourly_usage(&self, key_id: KeyId, first_hour: u64) -> ApiResult<HashMap<u64, u64>> {
        let rows: Vec<UsageRow> = self
            .sql
            .exec(
                "SELECT hour, requests FROM usage WHERE key_id = ? AND hour >= ? ORDER BY hour",
                vec![text(key_id.to_string()), int(first_hour)],
            )?
            .to_array()?;
        Ok(rows
            .into_iter()
            .map(|row| (row.hour, row.requests))
            .collect())
    }
}

impl KeyRingObject {
    /// Counts one request with a key, and sets the alarm when this starts a batch.
    pub(super) async fn record_usage(&self, key_id: KeyId, now: UnixMillis) -> ApiResult<()> {
        let application = self.application_id()?;
        let started = self.count_usage(application, key_id, 1, now);
        if self.after_use(key_id, now)? || started {
            self.schedule().await?;
        }
        Ok(())
    }

    /// Usage counted by a gate (edge mode). Returns whether the alarm must be looked at.
    pub(super) fn record_usage_counts(
        &self,
        counts: &[UsageCount],
        now: UnixMillis,
    ) -> ApiResult<bool> {
        self.ensure_loaded()?;
        let application = self.application_id()?;
        let mut started = false;
        for count in counts {
            started |= self.count_usage(
                application,
                count.key_id,
                count.requests,
                count.last_used_at,
            );
            started |= self.after_use(count.key_id, now)?;
        }
        Ok(started)
    }

    /// Adds to the in-memory counts; returns whether this started a new batch (whose
    /// flush the alarm must be set for).
    pub(super) fn count_usage(
        &self,
        application: ApplicationId,
        key_id: KeyId,
        requests: u32,
        at: UnixMillis,
    ) -> bool {
        if let Some(loaded) = self.loaded.borrow_mut().as_mut() {
            let last = loaded.last_used.entry(key_id).or_insert(at);
            *last = (*last).max(at);
        }
        self.usage
            .borrow_mut()
            .record(application, key_id, requests, at)
            .started_batch
    }

    pub(super) fn flush_usage(&self, now: UnixMillis) -> ApiResult<()> {
        let batch = self.usage.borrow_mut().take();
        for count in batch.iter().flat_map(|(_, counts)| counts) {
            self.store.add_usage(count)?;
        }
        let oldest_kept = (now.0 / HOUR_MS).saturating_sub(USAGE_RETENTION_HOURS);
        self.store
            .sql
            .exec("DELETE FROM usage WHERE hour < ?", vec![int(oldest_kept)])?;
        Ok(())
    }

    /// Requests per hour over the last 24 hours, the current hour included.
    pub(super) fn hourly_usage(&self, key_id: KeyId, now: UnixMillis) -> ApiResult<Vec<HourUsage>> {
        self.flush_usage(now)?;
        let current_hour = now.0 / HOUR_MS;
        let first_hour = current_hour - 23;
        let counts = self.store.hourly_usage(key_id, first_hour)?;
        Ok((first_hour..=current_hour)
            .map(|hour| HourUsage::of(hour, counts.get(&hour).copied().unwrap_or(0)))
            .collect())
    }
}
