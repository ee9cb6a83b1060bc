//! All Workers KV access, and how the one namespace is shared.
//!
//! | KV key | value | written by |
//! |---|---|---|
//! | `hex(sha256(key))` (64 hex digits) | the key's [`EdgeRecord`] | the key ring's outbox |
//! | `leak-report:<hex(sha256(body))>` | the answer to a secret-scanning report | the leak endpoint |
//!
//! A plaintext key is never a KV key or value.

use aero2_keys::gate::EdgeRecord;
use aero2_keys::http::ErrorCode;
use aero2_keys::StorageId;
use worker::kv::KvStore;
use worker::{console_error, Env};

use crate::config::KV_BINDING;
use crate::errors::{ApiError, ApiResult};

/// Revoked keys stay in KV as tombstones for this long, so the edge can say "revoked" or
/// "expired" rather than "unknown"; after that KV forgets them.
const TOMBSTONE_TTL_SECONDS: u64 = 7 * 24 * 60 * 60;
/// A processed secret-scanning report's answer is kept this long, so a replay changes
/// nothing.
const LEAK_REPORT_TTL_SECONDS: u64 = 30 * 24 * 60 * 60;
const LEAK_REPORT_PREFIX: &str = "leak-report:";

fn store(env: &Env) -> ApiResult<KvStore> {
    Ok(env.kv(KV_BINDING)?)
}

/// The edge record of a key, if KV has one.
pub async fn edge_record(env: &Env, storage_id: &StorageId) -> ApiResult<Option<EdgeRecord>> {
    #[cfg(feature = "instrumentation")]
    crate::instrumentation::kv_read();
    // Read as text and parse in Rust: one string crosses the JavaScript boundary, rather
    // than one call per field of a JavaScript object.
    let Some(text) = store(env)?.get(&storage_id.to_hex()).text().await? else {
        return Ok(None);
    };
    serde_json::from_str(&text).map(Some).map_err(|_| {
        console_error!("undecodable KV record for a key");
        ApiError::from(ErrorCode::TemporarilyUnavailable)
    })
}

/// Writes a key's edge record (already serialised). A revoked key's record is a tombstone
/// that expires.
pub async fn put_edge_record(
    env: &Env,
    storage_id_hex: &str,
    record_json: &str,
    tombstone: bool,
) -> Result<(), String> {
    let store = env.kv(KV_BINDING).map_err(|e| e.to_string())?;
    let put = store
        .put(storage_id_hex, record_json)
        .map_err(|e| e.to_string())?;
    let put = if tombstone {
        put.expiration_ttl(TOMBSTONE_TTL_SECONDS)
    } else {
        put
    };
    put.execute().await.map_err(|e| e.to_string())
}

/// The answer given to a secret-scanning report with this body hash, if it was processed.
pub async fn leak_report_answer(env: &Env, body_hash_hex: &str) -> ApiResult<Option<String>> {
    Ok(store(env)?
        .get(&format!("{LEAK_REPORT_PREFIX}{body_hash_hex}"))
        .text()
        .await?)
}

pub async fn remember_leak_report(env: &Env, body_hash_hex: &str, answer: String) -> ApiResult<()> {
    store(env)?
        .put(&format!("{LEAK_REPORT_PREFIX}{body_hash_hex}"), answer)?
        .expiration_ttl(LEAK_REPORT_TTL_SECONDS)
        .execute()
        .await?;
    Ok(())
}
