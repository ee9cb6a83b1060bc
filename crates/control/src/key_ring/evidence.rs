//! What the key ring signs and exports so that its log can be checked offline: signed
//! checkpoints of the audit chain's head, the chained entries as JSON Lines, and signed
//! receipts of key changes (`crate::evidence` signs; `aero2_keys::audit_chain` chains).

use aero2_keys::http::ErrorCode;
use aero2_keys::usage::HOUR_MS;
use aero2_keys::{KeyId, UnixMillis};
use futures_util::stream;
use serde::Deserialize;
use serde_json::json;
use worker::Response;

use super::store::{int, text, Store};
use super::KeyRingObject;
use crate::config::{Config, ValidationMode};
use crate::errors::{ApiError, ApiResult};
use crate::evidence::{sign, CHECKPOINT_TYPE, RECEIPT_TYPE};
use crate::json::json_response;

/// Lines per chunk of an export: what the export holds in memory at once.
const EXPORT_PAGE: u32 = 500;

#[derive(Deserialize)]
struct CheckpointRow {
    seq: u64,
    iat: u64,
}

#[derive(Deserialize)]
struct ChainRow {
    chain_seq: Option<u64>,
    hash: Option<String>,
}

impl KeyRingObject {
    /// Signs the chain's head now (`GET …/audit_log/checkpoint`), and keeps the token.
    pub(super) async fn checkpoint(&self, issuer: &str, now: UnixMillis) -> ApiResult<Response> {
        let head = self.store.chain_due(now)?;
        let claims = json!({
            "iss": issuer,
            "app": self.application_id()?.to_string(),
            "seq": head.seq,
            "hash": head.hash,
            "iat": now.0 / 1000,
        });
        let config = Config::cached(&self.env);
        let token = sign(&config, CHECKPOINT_TYPE, &claims)
            .await
            .ok_or(ErrorCode::OriginSigningNotConfigured)?;
        self.keep_checkpoint(head.seq, &head.hash, now, &token)?;
        Ok(json_response(
            200,
            &json!({ "checkpoint": token, "seq": head.seq, "hash": head.hash }),
        ))
    }

    fn keep_checkpoint(&self, seq: u64, hash: &str, now: UnixMillis, token: &str) -> ApiResult<()> {
        self.store.sql.exec(
            "INSERT INTO checkpoints (seq, hash, iat, token) VALUES (?, ?, ?, ?)
             ON CONFLICT (seq) DO NOTHING",
            vec![int(seq), text(hash), int(now.0), text(token)],
        )?;
        Ok(())
    }

    /// While new entries arrive, a checkpoint at least every hour, kept, so that a later
    /// one can be shown to extend an earlier one. Best effort: without a signing key, none.
    pub(super) async fn checkpoint_hourly(&self, issuer: &str, now: UnixMillis) -> ApiResult<()> {
        if self.loaded.borrow().is_none() {
            return Ok(());
        }
        let head = self.store.chain_due(now)?;
        let last: Vec<CheckpointRow> = self
            .store
            .sql
            .exec(
                "SELECT seq, iat FROM checkpoints ORDER BY seq DESC LIMIT 1",
                None,
            )?
            .to_array()?;
        let due = match last.first() {
            Some(last) => head.seq > last.seq && now.0 >= last.iat.saturating_add(HOUR_MS),
            None => head.seq > 0,
        };
        if !due {
            return Ok(());
        }
        let claims = json!({
            "iss": issuer,
            "app": self.application_id()?.to_string(),
            "seq": head.seq,
            "hash": head.hash,
            "iat": now.0 / 1000,
        });
        if let Some(token) = sign(&Config::cached(&self.env), CHECKPOINT_TYPE, &claims).await {
            self.keep_checkpoint(head.seq, &head.hash, now, &token)?;
        }
        Ok(())
    }

    /// `GET …/audit_log/export?from_seq=N`: the chained entries, oldest first, one JSON
    /// object per line, read a page at a time as the client reads, however long the log.
    pub(super) fn export(&self, from_seq: u64, now: UnixMillis) -> ApiResult<Response> {
        self.store.chain_due(now)?;
        let store = Store::new(self.store.sql.clone());
        let pages = stream::try_unfold(Some(from_seq.max(1)), move |next| {
            let store = Store::new(store.sql.clone());
            async move {
                let Some(from) = next else {
                    return Ok::<_, worker::Error>(None);
                };
                let entries = store
                    .chained_page(from, EXPORT_PAGE)
                    .map_err(|err| worker::Error::RustError(err.code.as_str().into()))?;
                if entries.is_empty() {
                    return Ok(None);
                }
                let last = entries
                    .last()
                    .and_then(|e| e["seq"].as_u64())
                    .unwrap_or(from);
                let mut chunk = Vec::with_capacity(entries.len() * 400);
                for entry in &entries {
                    chunk.extend_from_slice(entry.to_string().as_bytes());
                    chunk.push(b'\n');
                }
                let more = entries.len() as u32 == EXPORT_PAGE;
                Ok(Some((chunk, more.then_some(last + 1))))
            }
        });
        let mut response = Response::from_stream(pages)?;
        let headers = response.headers_mut();
        headers.set("Content-Type", "application/x-ndjson; charset=utf-8")?;
        headers.set("Cache-Control", "no-store")?;
        headers.set("X-Content-Type-Options", "nosniff")?;
        Ok(response)
    }

    /// `GET …/keys/{id}/receipt`: a signed receipt for the key's latest change, the ones
    /// nobody answered for included (the end of a rotation's grace period, its own expiry, a
    /// leak report, a canary's suspension). The same token a change's answer carries, signed
    /// now; `effective_at` is what the change's entry records.
    pub(super) async fn key_receipt(
        &self,
        issuer: &str,
        key_id: KeyId,
        now: UnixMillis,
    ) -> ApiResult<Response> {
        #[derive(Deserialize)]
        struct LatestChange {
            seq: u64,
            event: String,
            effective_at: Option<String>,
        }
        let kind = self.read(|loaded| {
            loaded
                .ring
                .get(key_id)
                .map(|record| record.kind)
                .ok_or_else(|| ErrorCode::KeyNotFound.into())
        })?;
        let rows: Vec<LatestChange> = self
            .store
            .sql
            .exec(
                "SELECT seq, event, json_extract(detail, '$.effective_at') AS effective_at
                 FROM audit WHERE key_id = ? AND event IN ('key.revoked', 'key.rotated',
                 'key.suspended', 'key.resumed', 'key.updated', 'key.expired', 'key.leaked')
                 ORDER BY seq DESC LIMIT 1",
                vec![text(key_id.to_string())],
            )?
            .to_array()?;
        let Some(latest) = rows.into_iter().next() else {
            return Err(ErrorCode::ReceiptNotFound.into());
        };
        let change = latest.event.trim_start_matches("key.");
        let mode = match Config::cached(&self.env).mode(kind) {
            ValidationMode::Strict => "strict",
            ValidationMode::Edge => "edge",
            ValidationMode::Regional => "regional",
        };
        let effective_at = latest.effective_at;
        let receipt = self
            .receipt(
                issuer,
                key_id,
                change,
                effective_at.as_deref(),
                mode,
                latest.seq,
                now,
            )
            .await?;
        Ok(json_response(
            200,
            &json!({"key_id": key_id, "change": change, "effective_at": effective_at, "receipt": receipt}),
        ))
    }

    /// A change's receipt: its time, the mode, and the chained audit entry that records
    /// it (`audit` is the entry's row). `None` without a signing key.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn receipt(
        &self,
        issuer: &str,
        key_id: KeyId,
        change: &str,
        effective_at: Option<&str>,
        mode: &str,
        audit: u64,
        now: UnixMillis,
    ) -> ApiResult<Option<String>> {
        // The entry is chained once its receipt is known; until then (edge mode, a KV
        // write waiting for its retry) the receipt says so with nulls.
        self.store.chain_due(now)?;
        let rows: Vec<ChainRow> = self
            .store
            .sql
            .exec(
                "SELECT chain_seq, hash FROM audit WHERE seq = ?",
                vec![int(audit)],
            )?
            .to_array()?;
        let row = rows
            .first()
            .ok_or_else(|| ApiError::from(ErrorCode::TemporarilyUnavailable))?;
        let claims = json!({
            "iss": issuer,
            "app": self.application_id()?.to_string(),
            "sub": key_id,
            "change": change,
            "effective_at": effective_at,
            "mode": mode,
            "seq": row.chain_seq,
            "hash": row.hash,
            "iat": now.0 / 1000,
        });
        Ok(sign(&Config::cached(&self.env), RECEIPT_TYPE, &claims).await)
    }
}
