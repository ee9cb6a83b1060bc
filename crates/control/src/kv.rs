//! All Workers KV access, and how the one namespace is shared.
//!
//! | KV key | value | written by |
//! |---|---|---|
//! | `hex(sha256(key))` (64 hex digits) | the key's record as compact text (`aero2_keys::gate::EdgeRecord::encode`), which the gate reads | the key ring's outbox |
//! | `app:<application id>` | that the application exists: `{"environment"}` | the key ring's outbox |
//! | `leak-report:<hex(sha256(body))>` | the answer to a secret-scanning report | the leak endpoint |
//!
//! A plaintext key is never a KV key or value.
//!
//! The `app:` records let the edge refuse a key of an application that does not exist
//! (anyone can mint well-formed keys: the checksum is public) with one KV read and no
//! Durable Object call. KV is eventually consistent, so a new application's keys can be
//! refused in other locations until its record propagates: at most KV's propagation
//! bound (60 seconds), since a miss is never cached here. A hit is cached for the
//! isolate's lifetime, because an application is never deleted.

use std::cell::RefCell;
use std::collections::HashSet;

use aero2_keys::{ApplicationId, Environment, KeyIdentity};
use serde::Serialize;
use worker::kv::KvStore;
use worker::Env;

use crate::config::KV_BINDING;
use crate::errors::ApiResult;

/// Revoked keys stay in KV as tombstones for this long, so the edge can say "revoked" or
/// "expired" rather than "unknown"; after that KV forgets them.
const TOMBSTONE_TTL_SECONDS: u64 = 7 * 24 * 60 * 60;
/// A processed secret-scanning report's answer is kept this long, so a replay changes
/// nothing.
const LEAK_REPORT_TTL_SECONDS: u64 = 30 * 24 * 60 * 60;
const LEAK_REPORT_PREFIX: &str = "leak-report:";
const APPLICATION_PREFIX: &str = "app:";
/// Applications this isolate has seen exist; cleared when it reaches this size.
const KNOWN_APPLICATIONS_CAP: usize = 50_000;

thread_local! {
    static KNOWN_APPLICATIONS: RefCell<HashSet<ApplicationId>> = RefCell::new(HashSet::new());
}

/// Whether a presented key could belong to an existing application, before its key ring
/// is asked (the management API): its application must exist, and while the application
/// is under a flood of failing keys (`flooded`, as the gate says), the key must also have
/// its own KV record, so forged keys cost a KV read and no Durable Object call. (During
/// such a flood, a key created within KV's propagation delay can be refused in other
/// locations; README.md says so.)
pub async fn key_may_exist(env: &Env, key: &KeyIdentity, flooded: bool) -> ApiResult<bool> {
    if !application_exists(env, key.application_id).await? {
        return Ok(false);
    }
    if !flooded {
        return Ok(true);
    }
    #[cfg(feature = "fault-injection")]
    crate::instrumentation::kv_read();
    Ok(store(env)?
        .get(&key.storage_id.to_hex())
        .text()
        .await?
        .is_some())
}

/// The value of an application's existence record.
#[derive(Serialize)]
pub struct ApplicationRecord {
    pub environment: Environment,
}

/// The KV key of an application's existence record.
pub fn application_key(application: ApplicationId) -> String {
    format!("{APPLICATION_PREFIX}{application}")
}

/// Whether the application exists: at most one KV read, none once this isolate has seen
/// it.
pub async fn application_exists(env: &Env, application: ApplicationId) -> ApiResult<bool> {
    if KNOWN_APPLICATIONS.with(|known| known.borrow().contains(&application)) {
        return Ok(true);
    }
    #[cfg(feature = "fault-injection")]
    crate::instrumentation::kv_read();
    let exists = store(env)?
        .get(&application_key(application))
        .text()
        .await?
        .is_some();
    if exists {
        KNOWN_APPLICATIONS.with(|known| {
            let mut known = known.borrow_mut();
            if known.len() >= KNOWN_APPLICATIONS_CAP {
                known.clear();
            }
            known.insert(application);
        });
    }
    Ok(exists)
}

fn store(env: &Env) -> ApiResult<KvStore> {
    Ok(env.kv(KV_BINDING)?)
}

/// Writes one of the key ring's records (already serialised): a key's edge record or an
/// application's. A revoked key's record is a tombstone that expires.
pub async fn put_ring_record(
    env: &Env,
    kv_key: &str,
    record_json: &str,
    tombstone: bool,
) -> Result<(), String> {
    let store = env.kv(KV_BINDING).map_err(|e| e.to_string())?;
    let put = store.put(kv_key, record_json).map_err(|e| e.to_string())?;
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
