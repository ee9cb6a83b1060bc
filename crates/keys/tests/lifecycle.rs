mod common;

use aero2_keys::policy::Policy;
use aero2_keys::{
    ApplicationId, Environment, GracePeriod, KeyKind, KeyRing, KeyStatus, LifecycleError,
    RevocationReason, UnixMillis,
};
use common::{usable, BrokenRandom, SeededRandom};

const T0: UnixMillis = UnixMillis(1_700_000_000_000);
const DAY_MS: u64 = 24 * 60 * 60 * 1000;

fn ring() -> (KeyRing, SeededRandom) {
    let mut rng = SeededRandom(42);
    let app = ApplicationId::generate(&mut rng).unwrap();
    (KeyRing::new(app, Environment::Live), rng)
}

fn at(ms: u64) -> UnixMillis {
    UnixMillis(T0.0 + ms)
}

#[test]
fn create_makes_an_active_key_that_stores_no_plaintext() {
    let (mut ring, mut rng) = ring();
    let (key, record) = ring
        .create(
            KeyKind::Secret,
            "  backend  ",
            Policy::default(),
            T0,
            &mut rng,
        )
        .unwrap();
    assert_eq!(record.status, KeyStatus::Active);
    assert_eq!(record.label, "backend");
    assert_eq!(record.created_at, T0);
    assert_eq!(record.storage_id, key.storage_id());
    assert_eq!(record.hint, key.hint());
    assert_eq!(key.application_id(), ring.application_id);
    assert!(usable(&record, T0));
    let json = serde_json::to_string(&ring).unwrap();
    assert!(!json.contains(key.expose_secret()));
    assert!(!json.contains(&key.expose_secret()[24..56]));
}

#[test]
fn create_validates_labels_and_bounds_live_keys() {
    let (mut ring, mut rng) = ring();
    for bad in ["", "   ", "a\nb", &"x".repeat(101)] {
        assert_eq!(
            ring.create(KeyKind::Secret, bad, Policy::default(), T0, &mut rng)
                .unwrap_err(),
            LifecycleError::InvalidLabel
        );
    }
    assert!(ring
        .create(
            KeyKind::Secret,
            &"é".repeat(100),
            Policy::default(),
            T0,
            &mut rng
        )
        .is_ok());
    for _ in 1..KeyRing::MAX_LIVE_KEYS {
        ring.create(KeyKind::Publishable, "web", Policy::default(), T0, &mut rng)
            .unwrap();
    }
    assert_eq!(
        ring.create(KeyKind::Publishable, "web", Policy::default(), T0, &mut rng)
            .unwrap_err(),
        LifecycleError::TooManyKeys
    );
    let (_, last) = (0, ring.keys()[1].id);
    ring.revoke(last, T0, RevocationReason::Revoked).unwrap();
    assert!(ring
        .create(KeyKind::Publishable, "web", Policy::default(), T0, &mut rng)
        .is_ok());
}

#[test]
fn revoke_takes_effect_at_once_and_only_once() {
    let (mut ring, mut rng) = ring();
    ring.create(KeyKind::Secret, "primary", Policy::default(), T0, &mut rng)
        .unwrap();
    let (_, second) = ring
        .create(KeyKind::Secret, "second", Policy::default(), T0, &mut rng)
        .unwrap();
    let revoked = ring
        .revoke(second.id, at(5), RevocationReason::Revoked)
        .unwrap();
    assert_eq!(
        revoked.status,
        KeyStatus::Revoked {
            revoked_at: at(5),
            reason: RevocationReason::Revoked
        }
    );
    assert!(!usable(&revoked, at(5)));
    assert_eq!(ring.get(second.id).unwrap(), &revoked);
    assert_eq!(
        ring.revoke(second.id, at(6), RevocationReason::Revoked),
        Err(LifecycleError::AlreadyRevoked)
    );
    let unknown = aero2_keys::KeyId::generate(&mut rng).unwrap();
    assert_eq!(
        ring.revoke(unknown, at(6), RevocationReason::Revoked),
        Err(LifecycleError::KeyNotFound)
    );
}

#[test]
fn the_last_active_secret_key_cannot_be_revoked_unless_leaked() {
    let (mut ring, mut rng) = ring();
    let (_, public) = ring
        .create(KeyKind::Publishable, "web", Policy::default(), T0, &mut rng)
        .unwrap();
    let (_, secret) = ring
        .create(KeyKind::Secret, "server", Policy::default(), T0, &mut rng)
        .unwrap();
    assert_eq!(
        ring.revoke(secret.id, at(1), RevocationReason::Revoked),
        Err(LifecycleError::LastActiveSecretKey)
    );
    assert_eq!(ring.get(secret.id).unwrap().status, KeyStatus::Active);
    // The last publishable key may go: it cannot lock a server out.
    assert!(ring
        .revoke(public.id, at(1), RevocationReason::Revoked)
        .is_ok());
    // An expiring secret key is no substitute for an active one...
    let rotation = ring
        .rotate(secret.id, at(2), GracePeriod::DEFAULT, &mut rng)
        .unwrap();
    // ...but once rotated, the old key may be revoked early.
    assert!(ring
        .revoke(rotation.old_record.id, at(3), RevocationReason::Revoked)
        .is_ok());
    assert_eq!(
        ring.revoke(rotation.new_record.id, at(3), RevocationReason::Revoked),
        Err(LifecycleError::LastActiveSecretKey)
    );
    let leaked = ring
        .revoke(rotation.new_record.id, at(4), RevocationReason::Leaked)
        .unwrap();
    assert!(!usable(&leaked, at(4)));
}

/// A secret key past its own `expires_at` is refused by the gate at once, though it stays
/// `active` until the alarm revokes it: it must not count as the key that keeps the
/// application in. Checked at the exact boundary, with an injected clock.
#[test]
fn a_secret_key_past_its_own_expiry_does_not_keep_the_application_in() {
    let lasting_and_expiring = || {
        let (mut ring, mut rng) = ring();
        let (_, lasting) = ring
            .create(KeyKind::Secret, "lasting", Policy::default(), T0, &mut rng)
            .unwrap();
        let expiring_policy = Policy {
            expires_at: Some(at(100)),
            ..Policy::default()
        };
        let (_, expiring) = ring
            .create(KeyKind::Secret, "temp", expiring_policy, T0, &mut rng)
            .unwrap();
        (ring, lasting, expiring)
    };
    // One millisecond before its end, the expiring key still works: the other may go.
    let (mut ring, lasting, _) = lasting_and_expiring();
    assert!(ring.suspend(lasting.id, at(99)).is_ok());
    let (mut ring, lasting, _) = lasting_and_expiring();
    assert!(ring
        .revoke(lasting.id, at(99), RevocationReason::Revoked)
        .is_ok());
    // At its end it works no more, so the lasting key is the last one.
    let (mut ring, lasting, expiring) = lasting_and_expiring();
    assert_eq!(
        ring.suspend(lasting.id, at(100)),
        Err(LifecycleError::LastActiveSecretKey)
    );
    assert_eq!(
        ring.revoke(lasting.id, at(100), RevocationReason::Revoked),
        Err(LifecycleError::LastActiveSecretKey)
    );
    assert_eq!(ring.get(lasting.id).unwrap().status, KeyStatus::Active);
    // The expired key itself may be revoked early, before the alarm: it opens nothing.
    assert!(ring
        .revoke(expiring.id, at(100), RevocationReason::Revoked)
        .is_ok());
}

#[test]
fn rotate_keeps_the_old_key_for_the_grace_period() {
    let (mut ring, mut rng) = ring();
    let (old_key, old) = ring
        .create(KeyKind::Secret, "server", Policy::default(), T0, &mut rng)
        .unwrap();
    let rotation = ring
        .rotate(old.id, at(10), GracePeriod::DEFAULT, &mut rng)
        .unwrap();
    let expires_at = at(10 + DAY_MS);
    assert_eq!(
        rotation.old_record.status,
        KeyStatus::Expiring { expires_at }
    );
    assert_eq!(rotation.new_record.status, KeyStatus::Active);
    assert_eq!(rotation.new_record.rotated_from, Some(old.id));
    assert_eq!(rotation.new_record.label, "server");
    assert_eq!(rotation.new_record.kind, KeyKind::Secret);
    assert_ne!(rotation.new_key.storage_id(), old_key.storage_id());
    assert_eq!(rotation.new_key.hint(), rotation.new_record.hint);
    assert_eq!(ring.next_expiry(), Some(expires_at));

    // The exact boundary: valid one millisecond before, invalid at the instant.
    let old = ring.get(old.id).unwrap().clone();
    assert!(usable(&old, at(10)));
    assert!(usable(&old, UnixMillis(expires_at.0 - 1)));
    assert!(!usable(&old, expires_at));
    assert!(!usable(&old, UnixMillis(expires_at.0 + 1)));

    // Expiry before the instant changes nothing; at it, the key is revoked as of then.
    assert!(ring.expire_due(UnixMillis(expires_at.0 - 1)).is_empty());
    let late = UnixMillis(expires_at.0 + 5_000);
    let expired = ring.expire_due(late);
    assert_eq!(expired.len(), 1);
    assert_eq!(
        expired[0].status,
        KeyStatus::Revoked {
            revoked_at: expires_at,
            reason: RevocationReason::GraceExpired
        }
    );
    assert!(ring.expire_due(late).is_empty());
    assert_eq!(ring.next_expiry(), None);
    assert!(usable(ring.get(rotation.new_record.id).unwrap(), late));
}

#[test]
fn expire_exactly_at_the_boundary() {
    let (mut ring, mut rng) = ring();
    let (_, old) = ring
        .create(KeyKind::Publishable, "web", Policy::default(), T0, &mut rng)
        .unwrap();
    ring.rotate(old.id, T0, GracePeriod::DEFAULT, &mut rng)
        .unwrap();
    let boundary = at(DAY_MS);
    let mut record = ring.get(old.id).unwrap().clone();
    assert!(!record.expire(UnixMillis(boundary.0 - 1)));
    assert!(record.expire(boundary));
    assert!(!usable(&record, boundary));
}

#[test]
fn rotate_with_zero_grace_revokes_at_once() {
    let (mut ring, mut rng) = ring();
    let (_, old) = ring
        .create(KeyKind::Secret, "server", Policy::default(), T0, &mut rng)
        .unwrap();
    let rotation = ring
        .rotate(old.id, at(1), GracePeriod::NONE, &mut rng)
        .unwrap();
    assert_eq!(
        rotation.old_record.status,
        KeyStatus::Revoked {
            revoked_at: at(1),
            reason: RevocationReason::Rotated
        }
    );
    assert!(!usable(&rotation.old_record, at(1)));
    assert_eq!(ring.next_expiry(), None);
}

#[test]
fn invalid_rotations_are_typed_errors_and_change_nothing() {
    let (mut ring, mut rng) = ring();
    ring.create(KeyKind::Secret, "server", Policy::default(), T0, &mut rng)
        .unwrap();
    let (_, key) = ring
        .create(KeyKind::Secret, "worker", Policy::default(), T0, &mut rng)
        .unwrap();
    ring.rotate(key.id, at(1), GracePeriod::DEFAULT, &mut rng)
        .unwrap();
    let before = ring.clone();
    assert_eq!(
        ring.rotate(key.id, at(2), GracePeriod::DEFAULT, &mut rng)
            .unwrap_err(),
        LifecycleError::AlreadyRotating
    );
    ring.revoke(key.id, at(3), RevocationReason::Revoked)
        .unwrap();
    let after_revoke = ring.clone();
    assert_eq!(
        ring.rotate(key.id, at(4), GracePeriod::DEFAULT, &mut rng)
            .unwrap_err(),
        LifecycleError::RotateRevoked
    );
    assert_eq!(ring, after_revoke);
    assert_ne!(before, after_revoke);
    let active = ring.keys()[0].id;
    assert_eq!(
        ring.rotate(active, at(4), GracePeriod::DEFAULT, &mut BrokenRandom)
            .unwrap_err(),
        LifecycleError::Random(aero2_keys::RandomError)
    );
    assert_eq!(ring, after_revoke);
}

#[test]
fn grace_periods_are_bounded() {
    assert_eq!(GracePeriod::default().seconds(), 86_400);
    assert_eq!(GracePeriod::from_seconds(0).unwrap(), GracePeriod::NONE);
    assert_eq!(
        GracePeriod::from_seconds(604_800).unwrap().seconds(),
        604_800
    );
    assert_eq!(
        GracePeriod::from_seconds(604_801),
        Err(LifecycleError::GracePeriodOutOfRange { seconds: 604_801 })
    );
    assert!(serde_json::from_str::<GracePeriod>("604801").is_err());
    assert!(serde_json::from_str::<GracePeriod>("-1").is_err());
    assert_eq!(
        serde_json::from_str::<GracePeriod>("3600")
            .unwrap()
            .seconds(),
        3600
    );
}

#[test]
fn records_serialize_with_a_flat_status() {
    let (mut ring, mut rng) = ring();
    let (_, record) = ring
        .create(KeyKind::Secret, "server", Policy::default(), T0, &mut rng)
        .unwrap();
    let value = serde_json::to_value(&record).unwrap();
    assert_eq!(value["status"], "active");
    assert_eq!(value["kind"], "secret");
    let rotation = ring
        .rotate(record.id, T0, GracePeriod::DEFAULT, &mut rng)
        .unwrap();
    let value = serde_json::to_value(&rotation.old_record).unwrap();
    assert_eq!(value["status"], "expiring");
    assert_eq!(value["expires_at"], T0.0 + DAY_MS);
    let back: aero2_keys::KeyRecord = serde_json::from_value(value).unwrap();
    assert_eq!(back, rotation.old_record);
}

#[test]
fn long_revoked_keys_are_forgotten_and_nothing_else() {
    let (mut ring, mut rng) = ring();
    let (_, old) = ring
        .create(
            KeyKind::Publishable,
            "old",
            Policy::default(),
            at(0),
            &mut rng,
        )
        .unwrap();
    let (_, recent) = ring
        .create(
            KeyKind::Publishable,
            "recent",
            Policy::default(),
            at(0),
            &mut rng,
        )
        .unwrap();
    let (_, live) = ring
        .create(KeyKind::Secret, "live", Policy::default(), at(0), &mut rng)
        .unwrap();
    ring.revoke(old.id, at(10), RevocationReason::Revoked)
        .unwrap();
    ring.revoke(recent.id, at(20), RevocationReason::Revoked)
        .unwrap();
    // Exactly at the cutoff is kept; strictly before is forgotten.
    let forgotten = ring.forget_revoked_before(at(20));
    assert_eq!(forgotten.iter().map(|r| r.id).collect::<Vec<_>>(), [old.id]);
    let left: Vec<_> = ring.keys().iter().map(|r| r.id).collect();
    assert_eq!(left, [recent.id, live.id]);
    assert!(ring.forget_revoked_before(at(20)).is_empty());
}

fn expiring_at(ms: u64) -> Policy {
    Policy {
        expires_at: Some(at(ms)),
        ..Policy::default()
    }
}

#[test]
fn a_key_expires_at_its_own_expires_at_to_the_millisecond() {
    let (mut ring, mut rng) = ring();
    let (_, record) = ring
        .create(KeyKind::Secret, "temp", expiring_at(10_000), T0, &mut rng)
        .unwrap();
    let app = ring.application_id;
    let key = |record: &aero2_keys::KeyRecord, now| {
        aero2_keys::gate::admit(
            record.view(app),
            &aero2_keys::KeyIdentity {
                kind: record.kind,
                environment: ring.environment,
                application_id: app,
                storage_id: record.storage_id,
            },
            now,
        )
    };
    assert_eq!(key(&record, at(9_999)), Ok(()));
    assert_eq!(
        key(&record, at(10_000)),
        Err(aero2_keys::gate::Rejection::ExpiredKey)
    );
    assert_eq!(ring.next_expiry(), Some(at(10_000)));
    // The alarm may run late: the revocation is dated at the expiry, reason `expired`.
    assert!(ring.expire_due(at(9_999)).is_empty());
    let expired = ring.expire_due(at(12_345));
    assert_eq!(expired.len(), 1);
    assert_eq!(
        expired[0].status,
        KeyStatus::Revoked {
            revoked_at: at(10_000),
            reason: RevocationReason::Expired
        }
    );
    assert_eq!(ring.next_expiry(), None);
}

#[test]
fn whichever_ends_first_a_grace_period_or_an_expiry_decides() {
    let (mut ring, mut rng) = ring();
    let (_, record) = ring
        .create(
            KeyKind::Publishable,
            "web",
            expiring_at(5_000),
            T0,
            &mut rng,
        )
        .unwrap();
    let rotation = ring
        .rotate(
            record.id,
            at(1_000),
            GracePeriod::from_seconds(60).unwrap(),
            &mut rng,
        )
        .unwrap();
    // The new key inherits the restrictions, the expiry included.
    assert_eq!(rotation.new_record.policy, expiring_at(5_000));
    assert_eq!(ring.next_expiry(), Some(at(5_000)));
    let expired = ring.expire_due(at(5_000));
    assert_eq!(expired.len(), 2);
    assert!(expired.iter().all(|r| matches!(
        r.status,
        KeyStatus::Revoked {
            reason: RevocationReason::Expired,
            ..
        }
    )));
}

#[test]
fn suspend_and_resume_lose_nothing_and_never_lock_the_application_out() {
    let (mut ring, mut rng) = ring();
    let (_, only) = ring
        .create(KeyKind::Secret, "only", Policy::default(), T0, &mut rng)
        .unwrap();
    assert_eq!(
        ring.suspend(only.id, at(1)).unwrap_err(),
        LifecycleError::LastActiveSecretKey
    );
    let (_, second) = ring
        .create(KeyKind::Secret, "second", Policy::default(), T0, &mut rng)
        .unwrap();
    let suspended = ring.suspend(second.id, at(2)).unwrap();
    assert_eq!(suspended.suspended_at, Some(at(2)));
    assert_eq!(
        ring.suspend(second.id, at(3)).unwrap_err(),
        LifecycleError::AlreadySuspended
    );
    // With the second key suspended, the first is the last usable one again.
    assert_eq!(
        ring.revoke(only.id, at(4), RevocationReason::Revoked)
            .unwrap_err(),
        LifecycleError::LastActiveSecretKey
    );
    assert_eq!(
        ring.suspend(only.id, at(4)).unwrap_err(),
        LifecycleError::LastActiveSecretKey
    );
    let resumed = ring.resume(second.id).unwrap();
    assert_eq!(resumed.suspended_at, None);
    assert_eq!(resumed.policy, second.policy);
    assert_eq!(resumed.storage_id, second.storage_id);
    assert_eq!(
        ring.resume(second.id).unwrap_err(),
        LifecycleError::NotSuspended
    );
    ring.revoke(second.id, at(5), RevocationReason::Revoked)
        .unwrap();
    assert_eq!(
        ring.resume(second.id).unwrap_err(),
        LifecycleError::AlreadyRevoked
    );
}

#[test]
fn updates_change_label_and_policy_but_never_the_kind_and_are_validated() {
    let (mut ring, mut rng) = ring();
    let (_, web) = ring
        .create(KeyKind::Publishable, "web", Policy::default(), T0, &mut rng)
        .unwrap();
    let origins: Policy =
        serde_json::from_str(r#"{"allowed_origins":["https://shop.example"]}"#).unwrap();
    let (before, after) = ring
        .update(web.id, Some(" storefront "), origins.clone(), at(1))
        .unwrap();
    assert_eq!(before.label, "web");
    assert_eq!(
        (after.label.as_str(), &after.policy, after.kind),
        ("storefront", &origins, KeyKind::Publishable)
    );
    let secret_only: Policy = serde_json::from_str(r#"{"scopes":["keys:read"]}"#).unwrap();
    assert!(matches!(
        ring.update(web.id, None, secret_only, at(2)).unwrap_err(),
        LifecycleError::InvalidPolicy(err) if err.field == "scopes"
    ));
    assert_eq!(
        ring.get(web.id).unwrap().policy,
        origins,
        "a refused update changes nothing"
    );
    assert!(matches!(
        ring.create(KeyKind::Secret, "x", expiring_at(0), T0, &mut rng).unwrap_err(),
        LifecycleError::InvalidPolicy(err) if err.field == "expires_at"
    ));
}

#[test]
fn labels_cannot_hide_or_reorder_text() {
    let (mut ring, mut rng) = ring();
    // Found by the attacker review: bidi overrides and zero-width characters passed.
    for bad in [
        "pay\u{202E}lacoL",
        "a\u{200B}b",
        "line\u{2028}break",
        "\u{FEFF}bom",
    ] {
        assert_eq!(
            ring.create(KeyKind::Secret, bad, Policy::default(), T0, &mut rng)
                .unwrap_err(),
            LifecycleError::InvalidLabel,
            "{bad:?}"
        );
    }
    assert!(ring
        .create(
            KeyKind::Secret,
            "café ☕ 東京",
            Policy::default(),
            T0,
            &mut rng
        )
        .is_ok());
}

fn scoped(scopes: &str) -> Policy {
    serde_json::from_str(&format!(r#"{{"scopes":{scopes}}}"#)).unwrap()
}

/// Second attacker pass: the guard keeps a key that can manage keys, not just any secret
/// key. A read-only key, or one that only passes the gate, does not keep the application
/// in: with it alone, nobody but the operator could manage the keys again.
#[test]
fn the_last_key_that_can_manage_keys_cannot_be_revoked_suspended_or_narrowed() {
    let (mut ring, mut rng) = ring();
    let (_, admin) = ring
        .create(KeyKind::Secret, "admin", Policy::default(), T0, &mut rng)
        .unwrap();
    let (_, reader) = ring
        .create(
            KeyKind::Secret,
            "reader",
            scoped(r#"["keys:read","audit:read"]"#),
            T0,
            &mut rng,
        )
        .unwrap();
    let (_, gate_only) = ring
        .create(KeyKind::Secret, "gate only", scoped("[]"), T0, &mut rng)
        .unwrap();
    for attempt in [
        ring.clone()
            .revoke(admin.id, at(1), RevocationReason::Revoked)
            .map(drop),
        ring.clone().suspend(admin.id, at(1)).map(drop),
        ring.clone()
            .update(admin.id, None, scoped(r#"["keys:read"]"#), at(1))
            .map(drop),
    ] {
        assert_eq!(attempt, Err(LifecycleError::LastActiveSecretKey));
    }
    // Narrowing it while keeping keys:write is fine; so is changing the others.
    assert!(ring
        .clone()
        .update(admin.id, None, scoped(r#"["keys:write"]"#), at(1))
        .is_ok());
    assert!(ring
        .clone()
        .revoke(reader.id, at(1), RevocationReason::Revoked)
        .is_ok());
    assert!(ring.clone().suspend(gate_only.id, at(1)).is_ok());
    // With a second key that can write, either one may go.
    let (_, writer) = ring
        .create(
            KeyKind::Secret,
            "writer",
            scoped(r#"["keys:write"]"#),
            T0,
            &mut rng,
        )
        .unwrap();
    assert!(ring
        .clone()
        .revoke(admin.id, at(2), RevocationReason::Revoked)
        .is_ok());
    assert!(ring
        .clone()
        .revoke(writer.id, at(2), RevocationReason::Revoked)
        .is_ok());
    // A leak still revokes the last one: locking out is the lesser harm.
    ring.revoke(writer.id, at(3), RevocationReason::Revoked)
        .unwrap();
    assert!(ring
        .revoke(admin.id, at(4), RevocationReason::Leaked)
        .is_ok());
}

/// Second attacker pass: 300 create-and-revoke pairs in 5 s, at no limit, left every
/// revoked record in the ring for 30 days. The ring as a whole is bounded: past
/// `MAX_RECORDS`, the oldest revoked records go first, and live keys never.
#[test]
fn the_ring_keeps_at_most_its_bound_dropping_the_oldest_revoked_records() {
    let (mut ring, mut rng) = ring();
    let (_, admin) = ring
        .create(KeyKind::Secret, "admin", Policy::default(), T0, &mut rng)
        .unwrap();
    let mut first_revoked = Vec::new();
    let cycles = KeyRing::MAX_RECORDS + 50;
    for i in 0..cycles as u64 {
        let (_, record) = ring
            .create(
                KeyKind::Publishable,
                "loop",
                Policy::default(),
                at(i * 2),
                &mut rng,
            )
            .unwrap();
        ring.revoke(record.id, at(i * 2 + 1), RevocationReason::Revoked)
            .unwrap();
        if first_revoked.len() < 51 {
            first_revoked.push(record.id);
        }
        let forgotten = ring.forget_beyond_bound();
        assert!(ring.keys().len() <= KeyRing::MAX_RECORDS);
        assert!(forgotten.iter().all(|r| r.status.is_revoked()));
    }
    assert_eq!(ring.keys().len(), KeyRing::MAX_RECORDS);
    assert!(ring.get(admin.id).is_some(), "a live key is never dropped");
    // The 51 oldest revoked records went, in order; the 52nd stayed.
    for id in &first_revoked[..51] {
        assert!(ring.get(*id).is_none());
    }
    assert_eq!(
        ring.forget_beyond_bound(),
        Vec::new(),
        "nothing more to drop"
    );
}

#[test]
fn a_canary_looks_like_a_secret_key_cannot_be_rotated_and_keeps_no_application_in() {
    let (mut ring, mut rng) = ring();
    let (real_key, real) = ring
        .create(KeyKind::Secret, "backend", Policy::default(), T0, &mut rng)
        .unwrap();
    let (key, canary) = ring
        .create_canary("ci-decoy", vec![real.id], T0, &mut rng)
        .unwrap();
    // The same prefix, length and checksum as any secret key: only the record knows.
    let parsed = aero2_keys::identify(key.expose_secret()).unwrap();
    assert_eq!(parsed.kind, KeyKind::Secret);
    assert!(key.expose_secret().starts_with("sk_live_"));
    assert_eq!(key.expose_secret().len(), real_key.expose_secret().len());
    assert!(canary.canary);
    assert_eq!(canary.canary_suspends, [real.id]);
    assert_eq!(ring.get(canary.id), Some(&canary), "kept as returned");
    assert_eq!(
        ring.rotate(
            canary.id,
            T0,
            GracePeriod::from_seconds(0).unwrap(),
            &mut rng
        )
        .unwrap_err(),
        LifecycleError::RotateCanary
    );
    // The canary is no usable key for the last-key guard: the real key stays the last.
    assert_eq!(
        ring.revoke(real.id, T0, RevocationReason::Revoked)
            .unwrap_err(),
        LifecycleError::LastActiveSecretKey
    );
    assert_eq!(
        ring.suspend(real.id, T0).unwrap_err(),
        LifecycleError::LastActiveSecretKey
    );
    // A stored ring keeps what makes a canary one.
    let json = serde_json::to_string(&ring).unwrap();
    let again: KeyRing = serde_json::from_str(&json).unwrap();
    assert_eq!(again.get(canary.id), Some(&canary));
    assert!(!json.contains(key.expose_secret()));
}

#[test]
fn a_canarys_use_suspends_its_keys_even_the_last_one_and_only_those_still_live() {
    let (mut ring, mut rng) = ring();
    let secret = |ring: &mut KeyRing, rng: &mut SeededRandom, label| {
        ring.create(KeyKind::Secret, label, Policy::default(), T0, rng)
            .unwrap()
            .1
    };
    let only = secret(&mut ring, &mut rng, "only");
    let (_, canary) = ring
        .create_canary("decoy", vec![only.id], T0, &mut rng)
        .unwrap();
    let suspended = ring.suspend_for_canary(canary.id, at(5));
    assert_eq!(suspended.len(), 1);
    assert_eq!(suspended[0].id, only.id);
    assert_eq!(ring.get(only.id).unwrap().suspended_at, Some(at(5)));
    // Again: nothing more to suspend, and the first time is kept.
    assert!(ring.suspend_for_canary(canary.id, at(6)).is_empty());
    assert_eq!(ring.get(only.id).unwrap().suspended_at, Some(at(5)));
    // Resumed by a member, suspended again by the next use.
    ring.resume(only.id).unwrap();
    assert_eq!(ring.suspend_for_canary(canary.id, at(7)).len(), 1);

    // A revoked key stays revoked; a key not named is untouched; a real key is no canary.
    let (mut ring, mut rng) = self::ring();
    let kept = secret(&mut ring, &mut rng, "kept");
    let named = secret(&mut ring, &mut rng, "named");
    let gone = secret(&mut ring, &mut rng, "gone");
    ring.revoke(gone.id, T0, RevocationReason::Revoked).unwrap();
    let (_, canary) = ring
        .create_canary("decoy", vec![named.id, gone.id], T0, &mut rng)
        .unwrap();
    assert!(ring.suspend_for_canary(kept.id, at(1)).is_empty());
    let suspended = ring.suspend_for_canary(canary.id, at(1));
    assert_eq!(
        suspended.iter().map(|r| r.id).collect::<Vec<_>>(),
        [named.id]
    );
    assert_eq!(ring.get(kept.id).unwrap().suspended_at, None);
    assert!(ring.get(gone.id).unwrap().status.is_revoked());
}
