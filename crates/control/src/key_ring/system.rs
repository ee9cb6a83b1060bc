//! The key ring's own operations, not a caller's: creating the application with its first
//! keys, secret-scanning reports, and what the alarm runs (expiries, the daily clean-up).

use std::collections::HashMap;

use aero2_keys::http::ErrorCode;
use aero2_keys::outbox::Outbox;
use aero2_keys::policy::Policy;
use aero2_keys::webhooks::EventType;
use aero2_keys::{KeyId, KeyKind, KeyRing, KeyStatus, RevocationReason, SystemRandom, UnixMillis};
use worker::Response;

use super::outbox::KV_BACKOFF;
use super::{KeyRingObject, Loaded};
use crate::config::Config;
use crate::errors::ApiResult;
use crate::json::json_response;
use crate::protocol::{ApplicationInfo, ClientInfo, LeakOutcome, LeakReport};
use crate::views::{ApplicationView, AuditDetail, CreatedApplication, CreatedKey, KeyView};

const DAY_MS: u64 = 24 * 60 * 60 * 1000;

impl KeyRingObject {
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
        let (publishable, publishable_record) = ring.create(
            KeyKind::Publishable,
            "default",
            Policy::default(),
            now,
            &mut rng,
        )?;
        let (secret, secret_record) =
            ring.create(KeyKind::Secret, "default", Policy::default(), now, &mut rng)?;
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
            webhooks: Default::default(),
            replicas: Default::default(),
        };
        self.store.insert_audit(
            now,
            "application.created",
            None,
            "operator",
            client,
            &AuditDetail::Application {
                name: &loaded.application.name,
            },
        )?;
        self.publish_application(&mut loaded, now)?;
        for record in [&publishable_record, &secret_record] {
            self.persist(&mut loaded, record, now)?;
            let detail = AuditDetail::Key {
                kind: record.kind,
                label: &record.label,
            };
            // No endpoint exists yet: this is the audit entry alone.
            self.key_event(
                &mut loaded,
                EventType::KeyCreated,
                record,
                "operator",
                client,
                &detail,
                now,
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
        // A canary found in public is recorded, and nothing else changes: it is planted to
        // be found, and a revoked canary would no longer be answered as an unknown key.
        if record.canary {
            self.key_event(
                loaded,
                EventType::KeyCanaryLeaked,
                &record,
                "secret_scanning",
                scanner,
                &detail,
                now,
            )?;
            return Ok(LeakOutcome::Canary);
        }
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
        self.key_event(
            loaded,
            EventType::KeyLeaked,
            &revoked,
            "secret_scanning",
            scanner,
            &detail,
            now,
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
                super::regional::mark_removed(loaded, record.storage_id);
                loaded.last_used.remove(&record.id);
            }
            let audit_cutoff = UnixMillis(now.0.saturating_sub(days(config.audit_retention_days)));
            self.store.prune_audit(audit_cutoff, now)?;
            self.store.prune_webhooks(now)?;
            loaded.retention_next_at = UnixMillis(now.0 + DAY_MS);
            self.store.set_retention_next_at(loaded.retention_next_at)
        })
    }

    /// Revokes every key whose grace period ended or that reached its own expiry (the
    /// alarm's work).
    /// A canary was used: the keys it names are suspended now (`key.suspended`, reason
    /// `canary_used`). Returns whether any was, so that the alarm writes them to KV and
    /// sends the webhooks at once.
    pub(super) fn suspend_for_canary(&self, canary: KeyId, now: UnixMillis) -> ApiResult<bool> {
        self.mutate(|loaded| {
            let suspended = loaded.ring.suspend_for_canary(canary, now);
            for record in &suspended {
                self.persist(loaded, record, now)?;
                self.key_event(
                    loaded,
                    EventType::KeySuspended,
                    record,
                    "system",
                    &ClientInfo::default(),
                    &AuditDetail::Suspension {
                        kind: record.kind,
                        label: &record.label,
                        reason: Some("canary_used"),
                        canary_key_id: Some(canary),
                    },
                    now,
                )?;
            }
            Ok(!suspended.is_empty())
        })
    }

    pub(super) fn expire_due(&self, now: UnixMillis) -> ApiResult<()> {
        self.mutate(|loaded| {
            for record in loaded.ring.expire_due(now) {
                self.persist(loaded, &record, now)?;
                let reason = match record.status {
                    KeyStatus::Revoked {
                        reason: RevocationReason::Expired,
                        ..
                    } => "the key reached its expiry time",
                    _ => "rotation grace period ended",
                };
                self.key_event(
                    loaded,
                    EventType::KeyExpired,
                    &record,
                    "system",
                    &ClientInfo::default(),
                    &AuditDetail::Expiry {
                        reason,
                        kind: record.kind,
                        label: &record.label,
                        effective_at: match record.status {
                            KeyStatus::Revoked { revoked_at, .. } => Some(revoked_at.to_rfc3339()),
                            _ => None,
                        },
                    },
                    now,
                )?;
            }
            Ok(())
        })
    }
}
