//! The management operations. Each takes the [`Caller`] that authentication made, and
//! first asks it for the scope the operation needs; operations on a key also check that
//! the key has no right the caller lacks, before and after any change.

use aero2_keys::http::ErrorCode;
use aero2_keys::policy::{Policy, Scope};
use aero2_keys::webhooks::EventType;
use aero2_keys::{
    ApiKey, GracePeriod, KeyId, KeyKind, KeyRecord, RevocationReason, Rotation, SystemRandom,
    UnixMillis,
};
use worker::Response;

use super::audit::{AuditQuery, Hold};
use super::auth::Caller;
use super::{KeyRingObject, Loaded};
use crate::config::{Config, ValidationMode};
use crate::errors::{ApiError, ApiResult};
use crate::json::json_response;
use crate::protocol::{ClientInfo, ManageOp};
use crate::views::{
    AuditDetail, CreatedKey, CreatedKeyResponse, KeyList, KeyResponse, KeyUsage, KeyView,
    RotationResponse,
};

/// Who did it, and from where, for the audit log.
struct By<'a> {
    caller: &'a Caller,
    name: String,
    client: &'a ClientInfo,
    /// The `iss` of the receipts it gets.
    issuer: &'a str,
}

impl KeyRingObject {
    /// Runs a management operation for a caller that `authenticate` let through.
    pub(super) async fn manage(
        &self,
        caller: &Caller,
        client: &ClientInfo,
        op: ManageOp,
        issuer: &str,
        now: UnixMillis,
    ) -> ApiResult<Response> {
        let answer = self.operate(caller, client, op, issuer, now).await;
        // While entries arrive, a signed checkpoint at least hourly (best effort).
        if let Err(err) = self.checkpoint_hourly(issuer, now).await {
            worker::console_error!("hourly checkpoint failed ({})", err.code);
        }
        answer
    }

    async fn operate(
        &self,
        caller: &Caller,
        client: &ClientInfo,
        op: ManageOp,
        issuer: &str,
        now: UnixMillis,
    ) -> ApiResult<Response> {
        // A member of the application's account: what their role allows, and step-up.
        let (environment, kinds) = self.read(|loaded| {
            let kinds: Vec<(KeyId, KeyKind)> = op
                .key_ids()
                .filter_map(|id| loaded.ring.get(id))
                .map(|r| (r.id, r.kind))
                .collect();
            Ok((loaded.application.environment, kinds))
        })?;
        caller.permit(&op, environment, |id| {
            kinds.iter().find(|(k, _)| *k == id).map(|(_, kind)| *kind)
        })?;
        let by = By {
            caller,
            name: caller.audit_name(),
            client,
            issuer,
        };
        match op {
            ManageOp::ListKeys { include_revoked } => {
                caller.require(Scope::KeysRead)?;
                self.list_keys(include_revoked)
            }
            ManageOp::KeyUsage { key_id } => {
                caller.require(Scope::KeysRead)?;
                self.key_exists(key_id)?;
                let hours = self.hourly_usage(key_id, now)?;
                Ok(json_response(200, &KeyUsage { key_id, hours }))
            }
            ManageOp::KeyReceipt { key_id } => {
                caller.require(Scope::KeysRead)?;
                self.key_receipt(issuer, key_id, now).await
            }
            ManageOp::AuditLog {
                cursor,
                limit,
                key_id,
                event,
            } => {
                caller.require(Scope::AuditRead)?;
                self.store.chain_due(now)?;
                let query = AuditQuery {
                    cursor,
                    limit,
                    key_id,
                    event: event.as_deref(),
                };
                Ok(json_response(200, &self.store.audit_page(&query)?))
            }
            ManageOp::AuditCheckpoint => {
                caller.require(Scope::AuditRead)?;
                self.checkpoint(issuer, now).await
            }
            ManageOp::AuditExport { from_seq } => {
                caller.require(Scope::AuditRead)?;
                self.export(from_seq, now)
            }
            op if op.is_webhook() => self.manage_webhooks(caller, client, op, now).await,
            op => {
                caller.require(Scope::KeysWrite)?;
                self.count_write(now)?;
                self.change(&by, op, now).await
            }
        }
    }

    /// Counts one management change against the application's limit
    /// (`MANAGEMENT_WRITES_PER_MINUTE` with a burst): 429 `too_many_requests`, with
    /// `Retry-After` and the RateLimit headers, past it. Called once the caller is known to
    /// hold the right to make the change, so a key without it cannot use up the owner's.
    pub(super) fn count_write(&self, now: UnixMillis) -> ApiResult<()> {
        let limit = Config::cached(&self.env).management_writes;
        let mut bucket = self.writes.get();
        let decision = limit.take(&mut bucket, now);
        self.writes.set(bucket);
        if decision.allowed {
            return Ok(());
        }
        Err(
            ApiError::retry_after(ErrorCode::TooManyRequests, decision.reset_after_seconds)
                .with_header("RateLimit-Policy", limit.policy_header())
                .with_header("RateLimit", decision.header_named("management")),
        )
    }

    /// Drops the oldest revoked records past the ring's bound
    /// ([`aero2_keys::KeyRing::forget_beyond_bound`]), each with an audit entry, in the same
    /// synchronous section as the change that grew the ring.
    fn forget_beyond_bound(&self, loaded: &mut Loaded, now: UnixMillis) -> ApiResult<()> {
        for record in loaded.ring.forget_beyond_bound() {
            self.store.delete_record(record.id)?;
            super::regional::mark_removed(loaded, record.storage_id);
            loaded.last_used.remove(&record.id);
            let revoked_at = match record.status {
                aero2_keys::KeyStatus::Revoked { revoked_at, .. } => revoked_at.to_rfc3339(),
                _ => String::new(),
            };
            self.store.insert_audit(
                now,
                "key.forgotten",
                Some(record.id),
                "system",
                &ClientInfo::default(),
                &AuditDetail::Forgotten {
                    reason:
                        "the key ring keeps at most 1000 records; the oldest revoked ones go first",
                    revoked_at,
                },
            )?;
        }
        Ok(())
    }

    /// The operations that change keys (`keys:write`). Each answer to a change of an
    /// existing key carries its receipt, `effective_at`, which its audit entry records too.
    async fn change(&self, by: &By<'_>, op: ManageOp, now: UnixMillis) -> ApiResult<Response> {
        // What a receipt says changed.
        let change = match &op {
            ManageOp::SuspendKey { .. } => "suspended",
            ManageOp::ResumeKey { .. } => "resumed",
            ManageOp::RevokeKey { .. } => "revoked",
            ManageOp::RotateKey { .. } => "rotated",
            _ => "updated",
        };
        let done = match op {
            ManageOp::CreateKey {
                kind,
                label,
                policy,
                canary,
            } => Done::Answered(match canary {
                None => self.create_key(by, kind, &label, policy, now)?,
                Some(suspends) => self.create_canary(by, &label, suspends, now)?,
            }),
            ManageOp::UpdateKey { key_id, change } => {
                let record = self.mutate(|loaded| {
                    // The key's rights before the change and after it are both checked.
                    let current = target(by, loaded, key_id)?;
                    let kind = current.kind;
                    if let Some(conflict) = change.conflict(kind, &current.policy) {
                        return Err(ApiError::with_detail(
                            ErrorCode::PolicyConflictsWithKey,
                            conflict.to_string(),
                        ));
                    }
                    let policy = change.apply(&current.policy, now).map_err(|err| {
                        ApiError::with_detail(ErrorCode::InvalidPolicy, err.to_string())
                    })?;
                    by.caller.may_hold(kind, &policy)?;
                    let (before, after) =
                        loaded
                            .ring
                            .update(key_id, change.label.as_deref(), policy, now)?;
                    let mut fields = before.policy.changed_fields(&after.policy);
                    if before.label != after.label {
                        fields.insert(0, "label");
                    }
                    let audit = self.save(
                        loaded,
                        by,
                        &after,
                        EventType::KeyUpdated,
                        &AuditDetail::Update { fields },
                        now,
                    )?;
                    Ok((after, audit))
                })?;
                Done::Key(Box::new(record.0), record.1)
            }
            ManageOp::SuspendKey { key_id } | ManageOp::ResumeKey { key_id } => {
                let suspend = matches!(op, ManageOp::SuspendKey { .. });
                let record = self.mutate(|loaded| {
                    target(by, loaded, key_id)?;
                    let (record, event) = if suspend {
                        (loaded.ring.suspend(key_id, now)?, EventType::KeySuspended)
                    } else {
                        (loaded.ring.resume(key_id)?, EventType::KeyResumed)
                    };
                    let detail = AuditDetail::Suspension {
                        kind: record.kind,
                        label: &record.label,
                        reason: None,
                        canary_key_id: None,
                    };
                    let audit = self.save(loaded, by, &record, event, &detail, now)?;
                    Ok((record, audit))
                })?;
                Done::Key(Box::new(record.0), record.1)
            }
            ManageOp::RevokeKey { key_id } => {
                let record = self.mutate(|loaded| {
                    target(by, loaded, key_id)?;
                    let record = loaded.ring.revoke(key_id, now, RevocationReason::Revoked)?;
                    let detail = AuditDetail::Key {
                        kind: record.kind,
                        label: &record.label,
                    };
                    let audit =
                        self.save(loaded, by, &record, EventType::KeyRevoked, &detail, now)?;
                    Ok((record, audit))
                })?;
                Done::Key(Box::new(record.0), record.1)
            }
            ManageOp::RotateKey {
                key_id,
                grace_period_seconds,
            } => {
                let grace = match grace_period_seconds {
                    Some(seconds) => GracePeriod::from_seconds(seconds)?,
                    None => Config::cached(&self.env).default_grace_period,
                };
                let (rotation, audit) = self.rotate_key(by, key_id, grace, now)?;
                Done::Rotated(Box::new(rotation), audit)
            }
            _ => return Err(ErrorCode::NotFound.into()),
        };
        // The change's audit entry stays out of the chain until its receipt is known:
        // held now, before anything is awaited, so that no other request chains it first.
        if let Done::Key(_, audit) | Done::Rotated(_, audit) = &done {
            self.store.hold(*audit, Hold::Receipt)?;
        }
        let regional = self.after_change(now).await?;
        // `None` where the receipt cannot be known yet: in edge mode, a KV write that failed
        // and waits in the outbox for its retry (the log says "queued for retry").
        // It is filled in when the write lands (`flush_kv`).
        let receipt = |kind: KeyKind, changed: &[&KeyRecord], audit: u64| {
            let config = Config::cached(&self.env);
            let at = match config.mode(kind) {
                ValidationMode::Strict => crate::clock::now(),
                ValidationMode::Edge => {
                    let pending = self.kv_writes_pending(changed);
                    if !pending.is_empty() {
                        self.store.await_receipt(audit, &pending)?;
                        return Ok(None);
                    }
                    edge_receipt(crate::clock::now(), &config)
                }
                ValidationMode::Regional => regional,
            };
            self.store.set_audit_receipt(audit, at)?;
            ApiResult::Ok(Some(at.to_rfc3339()))
        };
        let mode = |kind: KeyKind| match Config::cached(&self.env).mode(kind) {
            ValidationMode::Strict => "strict",
            ValidationMode::Edge => "edge",
            ValidationMode::Regional => "regional",
        };
        Ok(match done {
            Done::Answered(response) => response,
            Done::Key(record, audit) => {
                let effective_at = receipt(record.kind, &[&record], audit)?;
                let signed = self
                    .receipt(
                        by.issuer,
                        record.id,
                        change,
                        effective_at.as_deref(),
                        mode(record.kind),
                        audit,
                        now,
                    )
                    .await?;
                let key = KeyView::of(&record, self.last_used(record.id));
                json_response(
                    200,
                    &KeyResponse {
                        key,
                        effective_at,
                        receipt: signed,
                    },
                )
            }
            Done::Rotated(rotation, audit) => {
                let changed = [&rotation.old_record, &rotation.new_record];
                let effective_at = receipt(rotation.old_record.kind, &changed, audit)?;
                let signed = self
                    .receipt(
                        by.issuer,
                        rotation.old_record.id,
                        "rotated",
                        effective_at.as_deref(),
                        mode(rotation.old_record.kind),
                        audit,
                        now,
                    )
                    .await?;
                let last_used = self.last_used(rotation.old_record.id);
                json_response(
                    200,
                    &RotationResponse {
                        key: CreatedKey {
                            key: KeyView::of(&rotation.new_record, None),
                            value: rotation.new_key.expose_secret(),
                        },
                        previous_key: KeyView::of(&rotation.old_record, last_used),
                        effective_at,
                        receipt: signed,
                    },
                )
            }
        })
    }

    /// Saves a changed record (and queues it for KV) with its audit entry and webhook
    /// message; returns the audit entry's id.
    fn save(
        &self,
        loaded: &mut Loaded,
        by: &By<'_>,
        record: &KeyRecord,
        event: EventType,
        detail: &AuditDetail<'_>,
        now: UnixMillis,
    ) -> ApiResult<u64> {
        self.persist(loaded, record, now)?;
        self.key_event(loaded, event, record, &by.name, by.client, detail, now)
    }

    fn list_keys(&self, include_revoked: bool) -> ApiResult<Response> {
        let guard = self.loaded.borrow();
        let loaded = guard
            .as_ref()
            .ok_or(ApiError::from(ErrorCode::TemporarilyUnavailable))?;
        let keys: Vec<KeyView> = loaded
            .ring
            .keys()
            .iter()
            .rev()
            .filter(|record| include_revoked || !record.status.is_revoked())
            .map(|record| KeyView::of(record, loaded.last_used.get(&record.id).copied()))
            .collect();
        Ok(json_response(200, &KeyList { keys }))
    }

    fn key_exists(&self, key_id: KeyId) -> ApiResult<()> {
        let exists = self
            .loaded
            .borrow()
            .as_ref()
            .is_some_and(|loaded| loaded.ring.get(key_id).is_some());
        if exists {
            Ok(())
        } else {
            Err(ErrorCode::KeyNotFound.into())
        }
    }

    fn last_used(&self, key_id: KeyId) -> Option<UnixMillis> {
        self.loaded
            .borrow()
            .as_ref()
            .and_then(|loaded| loaded.last_used.get(&key_id).copied())
    }

    fn create_key(
        &self,
        by: &By<'_>,
        kind: KeyKind,
        label: &str,
        policy: Policy,
        now: UnixMillis,
    ) -> ApiResult<Response> {
        by.caller.may_hold(kind, &policy)?;
        let (key, record) = self.mutate(|loaded| {
            let (key, record) = loaded
                .ring
                .create(kind, label, policy, now, &mut SystemRandom)?;
            self.record_created(loaded, by, &record, now)?;
            Ok((key, record))
        })?;
        Ok(created_answer(&key, &record))
    }

    /// A new key's audit entry, and the ring kept within its bound.
    fn record_created(
        &self,
        loaded: &mut Loaded,
        by: &By<'_>,
        record: &KeyRecord,
        now: UnixMillis,
    ) -> ApiResult<()> {
        let detail = AuditDetail::Key {
            kind: record.kind,
            label: &record.label,
        };
        self.save(loaded, by, record, EventType::KeyCreated, &detail, now)?;
        self.forget_beyond_bound(loaded, now)
    }

    /// A canary: it has no rights (it is refused everywhere), so creating one needs only
    /// `keys:write`; each key it will suspend must be within the caller's reach, live, and
    /// no canary itself.
    fn create_canary(
        &self,
        by: &By<'_>,
        label: &str,
        suspends: Vec<KeyId>,
        now: UnixMillis,
    ) -> ApiResult<Response> {
        let (key, record) = self.mutate(|loaded| {
            // What the body's shape cannot say is answered as for any route naming a key:
            // 404 for a key this application does not have, 409 for one in the wrong state.
            for &id in &suspends {
                let record = target(by, loaded, id).map_err(|err| match err.code {
                    ErrorCode::KeyNotFound => ApiError::with_detail(
                        ErrorCode::KeyNotFound,
                        format!("canary_suspends names {id}, which this application does not have"),
                    ),
                    _ => err,
                })?;
                if record.status.is_revoked() {
                    return Err(ApiError::with_detail(
                        ErrorCode::KeyRevoked,
                        format!("canary_suspends names {id}, which is revoked"),
                    ));
                }
                if record.canary {
                    return Err(ApiError::with_detail(
                        ErrorCode::KeyIsCanary,
                        format!("canary_suspends names {id}, another canary"),
                    ));
                }
            }
            let (key, record) =
                loaded
                    .ring
                    .create_canary(label, suspends, now, &mut SystemRandom)?;
            self.record_created(loaded, by, &record, now)?;
            Ok((key, record))
        })?;
        Ok(created_answer(&key, &record))
    }

    fn rotate_key(
        &self,
        by: &By<'_>,
        key_id: KeyId,
        grace: GracePeriod,
        now: UnixMillis,
    ) -> ApiResult<(Rotation, u64)> {
        self.mutate(|loaded| {
            // The new key inherits the old key's rights: the caller must hold them.
            target(by, loaded, key_id)?;
            let rotation = loaded.ring.rotate(key_id, now, grace, &mut SystemRandom)?;
            self.persist(loaded, &rotation.new_record, now)?;
            self.forget_beyond_bound(loaded, now)?;
            let detail = AuditDetail::Rotation {
                new_key_id: rotation.new_record.id,
                grace_period_seconds: grace.seconds(),
                expires_at: rotation.old_record.expires_at().map(UnixMillis::to_rfc3339),
            };
            // The entry is the rotated key's, as its other entries are.
            let audit = self.save(
                loaded,
                by,
                &rotation.old_record,
                EventType::KeyRotated,
                &detail,
                now,
            )?;
            Ok((rotation, audit))
        })
    }
}

/// A change made, waiting for its receipt before it is answered.
enum Done {
    /// Answered without a receipt (a new key).
    Answered(Response),
    Key(Box<KeyRecord>, u64),
    Rotated(Box<Rotation>, u64),
}

/// Workers KV's documented propagation bound: edge mode's receipts.
const KV_PROPAGATION_MS: u64 = 60_000;

/// Edge mode's receipt for a change whose KV write landed at `written_at`: KV's
/// propagation bound, and the isolates' record cache.
pub(super) fn edge_receipt(written_at: UnixMillis, config: &Config) -> UnixMillis {
    UnixMillis(written_at.0 + KV_PROPAGATION_MS + config.edge_cache_ms)
}

/// The key an operation acts on, if the caller may act on it: it exists, and has no
/// right the caller lacks.
/// 201 with the new key, its value shown this once.
fn created_answer(key: &ApiKey, record: &KeyRecord) -> Response {
    let key = CreatedKey {
        key: KeyView::of(record, None),
        value: key.expose_secret(),
    };
    json_response(201, &CreatedKeyResponse { key })
}

fn target<'a>(by: &By<'_>, loaded: &'a Loaded, key_id: KeyId) -> ApiResult<&'a KeyRecord> {
    let record = loaded
        .ring
        .get(key_id)
        .ok_or(ApiError::from(ErrorCode::KeyNotFound))?;
    by.caller.may_hold(record.kind, &record.policy)?;
    Ok(record)
}
