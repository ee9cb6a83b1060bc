//! The key ring's operations. Management operations take the [`Caller`] that
//! authentication made; the others (creating the application, secret-scanning reports,
//! the alarm's expiries) are the system's own.

use std::collections::HashMap;

use aero2_keys::http::ErrorCode;
use aero2_keys::outbox::Outbox;
use aero2_keys::{
    GracePeriod, KeyId, KeyKind, KeyRing, RevocationReason, SystemRandom, UnixMillis,
};

const DAY_MS: u64 = 24 * 60 * 60 * 1000;
use worker::Response;

use super::audit::AuditQuery;
use super::auth::Caller;
use super::outbox::KV_BACKOFF;
use super::{KeyRingObject, Loaded};
use crate::config::Config;
use crate::errors::ApiResult;
use crate::protocol::{ApplicationInfo, ClientInfo, LeakOutcome, LeakReport, ManageOp};
use crate::views::{
    json_response, ApplicationView, AuditDetail, CreatedApplication, CreatedKey,
    CreatedKeyResponse, KeyList, KeyResponse, KeyUsage, KeyView, RotationResponse,
};

impl KeyRingObject {
    /// Runs a management operation for a caller that `authenticate` let through.
    pub(super) async fn manage(
        &self,
        caller: &Caller,
        client: &ClientInfo,
        op: ManageOp,
        now: UnixMillis,
    ) -> ApiResult<Response> {
        let actor = caller.audit_name();
        match op {
            ManageOp::ListKeys { include_revoked } => self.list_keys(include_revoked),
            ManageOp::CreateKey { kind, label } => {
                self.create_key(kind, &label, &actor, client, now).await
            }
            ManageOp::RevokeKey { key_id } => self.revoke_key(key_id, &actor, client, now).await,
            ManageOp::RotateKey {
                key_id,
                grace_period_seconds,
            } => {
                let grace = match grace_period_seconds {
                    Some(seconds) => GracePeriod::from_seconds(seconds)?,
                    None => Config::cached(&self.env).default_grace_period,
                };
                self.rotate_key(key_id, grace, &actor, client, now).await
            }
            ManageOp::KeyUsage { key_id } => {
                self.key_exists(key_id)?;
                let hours = self.hourly_usage(key_id, now)?;
                Ok(json_response(200, &KeyUsage { key_id, hours }))
            }
            ManageOp::AuditLog {
                cursor,
                limit,
                key_id,
                event,
            } => {
                let query = AuditQuery {
                    cursor,
                    limit,
                    key_id,
                    event: event.as_deref(),
                };
                Ok(json_response(200, &self.store.audit_page(&query)?))
            }
        }
    }

    /// Creates the application with its first publishable and secret keys.
    pub(super) async fn init(
        &self,
        application: ApplicationInfo,
        client: &ClientInfo,
        now: UnixMillis,
    ) -> ApiResult<Response> {
        if self.application_exists()? {
            return Err(ErrorCode::ApplicationExists.into());
        }
        let mut ring = KeyRing::new(application.id, application.environment);
        let mut rng = SystemRandom;
        let (publishable, publishable_record) =
            ring.create(KeyKind::Publishable, "default", now, &mut rng)?;
        let (secret, secret_record) = ring.create(KeyKind::Secret, "default", now, &mut rng)?;
        // The first write to this object's storage.
        self.store.migrate()?;
        self.store.insert_application(&application)?;
        self.store
            .set_retention_next_at(UnixMillis(now.0 + DAY_MS))?;
        let mut loaded = Loaded {
            application,
            ring,
            last_used: HashMap::new(),
            outbox: Outbox::new(KV_BACKOFF),
            retention_next_at: UnixMillis(now.0 + DAY_MS),
        };
        let audit = |event, key_id, detail: &AuditDetail<'_>| {
            self.store
                .insert_audit(now, event, key_id, "operator", client, detail)
        };
        audit(
            "application.created",
            None,
            &AuditDetail::Application {
                name: &loaded.application.name,
            },
        )?;
        self.publish_application(&mut loaded, now)?;
        for record in [&publishable_record, &secret_record] {
            self.persist(&mut loaded, record, now)?;
            audit(
                "key.created",
                Some(record.id),
                &AuditDetail::Key {
                    kind: record.kind,
                    label: &record.label,
                },
            )?;
        }
        let response = json_response(
            201,
            &CreatedApplication {
                application: ApplicationView::of(&loaded.application),
                keys: [
                    CreatedKey {
                        key: KeyView::of(&publishable_record, None),
                        value: publishable.expose_secret(),
                    },
                    CreatedKey {
                        key: KeyView::of(&secret_record, None),
                        value: secret.expose_secret(),
                    },
                ],
            },
        );
        *self.loaded.borrow_mut() = Some(loaded);
        self.after_change(now).await?;
        Ok(response)
    }

    fn list_keys(&self, include_revoked: bool) -> ApiResult<Response> {
        let guard = self.loaded.borrow();
        let loaded = guard.as_ref().ok_or(crate::errors::ApiError::from(
            ErrorCode::TemporarilyUnavailable,
        ))?;
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

    async fn create_key(
        &self,
        kind: KeyKind,
        label: &str,
        actor: &str,
        client: &ClientInfo,
        now: UnixMillis,
    ) -> ApiResult<Response> {
        let (key, record) = self.mutate(|loaded| {
            let (key, record) = loaded.ring.create(kind, label, now, &mut SystemRandom)?;
            self.persist(loaded, &record, now)?;
            self.store.insert_audit(
                now,
                "key.created",
                Some(record.id),
                actor,
                client,
                &AuditDetail::Key {
                    kind,
                    label: &record.label,
                },
            )?;
            Ok((key, record))
        })?;
        self.after_change(now).await?;
        Ok(json_response(
            201,
            &CreatedKeyResponse {
                key: CreatedKey {
                    key: KeyView::of(&record, None),
                    value: key.expose_secret(),
                },
            },
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
            self.persist(loaded, &record, now)?;
            self.store.insert_audit(
                now,
                "key.revoked",
                Some(key_id),
                actor,
                client,
                &AuditDetail::Key {
                    kind: record.kind,
                    label: &record.label,
                },
            )?;
            Ok(record)
        })?;
        self.after_change(now).await?;
        let key = KeyView::of(&record, self.last_used(key_id));
        Ok(json_response(200, &KeyResponse { key }))
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
            self.persist(loaded, &rotation.old_record, now)?;
            self.persist(loaded, &rotation.new_record, now)?;
            self.store.insert_audit(
                now,
                "key.rotated",
                Some(key_id),
                actor,
                client,
                &AuditDetail::Rotation {
                    new_key_id: rotation.new_record.id,
                    grace_period_seconds: grace.seconds(),
                    expires_at: rotation.old_record.expires_at().map(UnixMillis::to_rfc3339),
                },
            )?;
            Ok(rotation)
        })?;
        self.after_change(now).await?;
        let last_used = self.last_used(key_id);
        Ok(json_response(
            200,
            &RotationResponse {
                key: CreatedKey {
                    key: KeyView::of(&rotation.new_record, None),
                    value: rotation.new_key.expose_secret(),
                },
                previous_key: KeyView::of(&rotation.old_record, last_used),
            },
        ))
    }

    /// A secret scanner found keys in public. A secret key is revoked at once, even the
    /// application's last one: a leaked key is worse than a locked-out application. One
    /// call carries every reported key of this application.
    pub(super) async fn report_leaks(
        &self,
        reports: &[LeakReport],
        now: UnixMillis,
    ) -> ApiResult<Response> {
        if !self.application_exists()? {
            let unknown = vec![LeakOutcome::Unknown; reports.len()];
            return Ok(json_response(200, &unknown));
        }
        let scanner = ClientInfo::default();
        let outcomes = self.mutate(|loaded| {
            let mut outcomes = Vec::with_capacity(reports.len());
            for report in reports {
                outcomes.push(self.report_leak(loaded, report, &scanner, now)?);
            }
            Ok(outcomes)
        })?;
        if outcomes.contains(&LeakOutcome::Revoked) {
            self.after_change(now).await?;
        }
        Ok(json_response(200, &outcomes))
    }

    fn report_leak(
        &self,
        loaded: &mut Loaded,
        report: &LeakReport,
        scanner: &ClientInfo,
        now: UnixMillis,
    ) -> ApiResult<LeakOutcome> {
        let detail = AuditDetail::Leak {
            url: &report.url,
            source: &report.source,
        };
        let Some(record) = loaded.ring.find_by_storage_id(&report.storage_id).cloned() else {
            return Ok(LeakOutcome::Unknown);
        };
        let already_revoked = record.status.is_revoked();
        if record.kind == KeyKind::Publishable || already_revoked {
            self.store.insert_audit(
                now,
                "key.leak_reported",
                Some(record.id),
                "secret_scanning",
                scanner,
                &detail,
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
        self.persist(loaded, &revoked, now)?;
        self.store.insert_audit(
            now,
            "key.leaked",
            Some(record.id),
            "secret_scanning",
            scanner,
            &detail,
        )?;
        Ok(LeakOutcome::Revoked)
    }

    /// The daily clean-up: audit entries past their retention, and keys revoked long
    /// enough ago leave the ring (their audit entries stay).
    pub(super) fn run_retention(&self, now: UnixMillis) -> ApiResult<()> {
        let config = Config::cached(&self.env);
        let days = |n: u64| n * DAY_MS;
        self.mutate(|loaded| {
            let cutoff = UnixMillis(
                now.0
                    .saturating_sub(days(config.revoked_key_retention_days)),
            );
            for record in loaded.ring.forget_revoked_before(cutoff) {
                self.store.delete_record(record.id)?;
                loaded.last_used.remove(&record.id);
            }
            let audit_cutoff = UnixMillis(now.0.saturating_sub(days(config.audit_retention_days)));
            self.store.prune_audit(audit_cutoff, now)?;
            loaded.retention_next_at = UnixMillis(now.0 + DAY_MS);
            self.store.set_retention_next_at(loaded.retention_next_at)
        })
    }

    /// Revokes every key whose grace period has ended (the alarm's work).
    pub(super) fn expire_due(&self, now: UnixMillis) -> ApiResult<()> {
        self.mutate(|loaded| {
            for record in loaded.ring.expire_due(now) {
                self.persist(loaded, &record, now)?;
                self.store.insert_audit(
                    now,
                    "key.expired",
                    Some(record.id),
                    "system",
                    &ClientInfo::default(),
                    &AuditDetail::Expiry {
                        reason: "rotation grace period ended",
                        kind: record.kind,
                        label: &record.label,
                    },
                )?;
            }
            Ok(())
        })
    }
}
