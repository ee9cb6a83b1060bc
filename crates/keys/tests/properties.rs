mod common;

use aero2_keys::policy::Policy;
use aero2_keys::{
    parse, ApiKey, ApplicationId, Environment, GracePeriod, KeyKind, KeyRing, KeyStatus,
    RevocationReason, UnixMillis,
};
use common::{usable, SeededRandom};
use proptest::prelude::*;
use std::collections::HashSet;

fn kind() -> impl Strategy<Value = KeyKind> {
    prop_oneof![Just(KeyKind::Publishable), Just(KeyKind::Secret)]
}

fn environment() -> impl Strategy<Value = Environment> {
    prop_oneof![Just(Environment::Live), Just(Environment::Test)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn generated_keys_parse_back_to_their_fields(seed: u64, kind in kind(), environment in environment()) {
        let mut rng = SeededRandom(seed);
        let app = ApplicationId::generate(&mut rng).unwrap();
        let key = ApiKey::generate(kind, environment, app, &mut rng).unwrap();
        let parsed = parse(key.expose_secret()).unwrap();
        prop_assert_eq!(parsed.kind, kind);
        prop_assert_eq!(parsed.environment, environment);
        prop_assert_eq!(parsed.application_id, app);
        prop_assert_eq!(ApiKey::parse(key.expose_secret()).unwrap().storage_id(), key.storage_id());
    }

    #[test]
    fn any_single_character_change_is_rejected(
        seed: u64,
        kind in kind(),
        position in any::<prop::sample::Index>(),
        replacement in any::<char>(),
    ) {
        let mut rng = SeededRandom(seed);
        let app = ApplicationId::generate(&mut rng).unwrap();
        let key = ApiKey::generate(kind, Environment::Live, app, &mut rng).unwrap();
        let original = key.expose_secret();
        let index = position.index(original.len());
        prop_assume!(original.as_bytes()[index] as char != replacement);
        let mut changed: Vec<char> = original.chars().collect();
        changed[index] = replacement;
        let changed: String = changed.into_iter().collect();
        prop_assert!(parse(&changed).is_err(), "accepted a key changed at {}", index);
    }

    #[test]
    fn arbitrary_strings_never_panic(input in any::<String>()) {
        let _ = parse(&input);
    }

    #[test]
    fn prefixed_noise_never_panics(prefix in prop_oneof![Just("pk_live_"), Just("sk_test_")], body in "\\PC{0,80}") {
        let input = format!("{prefix}{body}");
        if let Err(err) = parse(&input) {
            prop_assert!(!err.to_string().is_empty());
        }
    }
}

#[derive(Clone, Debug)]
enum Operation {
    Create(KeyKind),
    Revoke(usize, bool),
    Rotate(usize, u64),
    Expire,
    Advance(u64),
}

fn operation() -> impl Strategy<Value = Operation> {
    prop_oneof![
        kind().prop_map(Operation::Create),
        (any::<usize>(), any::<bool>()).prop_map(|(i, leaked)| Operation::Revoke(i, leaked)),
        (
            any::<usize>(),
            prop_oneof![Just(0u64), 1..10u64, Just(604_800)]
        )
            .prop_map(|(i, grace)| Operation::Rotate(i, grace)),
        Just(Operation::Expire),
        prop_oneof![Just(1u64), 1..5_000u64, Just(604_800_000)].prop_map(Operation::Advance),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_operations_never_leave_a_revoked_key_valid(
        seed: u64,
        operations in prop::collection::vec(operation(), 1..60),
    ) {
        let mut rng = SeededRandom(seed);
        let app = ApplicationId::generate(&mut rng).unwrap();
        let mut ring = KeyRing::new(app, Environment::Test);
        let mut now = UnixMillis(1_700_000_000_000);
        let mut revoked = HashSet::new();
        for operation in operations {
            let ids: Vec<_> = ring.keys().iter().map(|r| r.id).collect();
            let pick = |i: usize| ids.get(i % ids.len().max(1)).copied();
            match operation {
                Operation::Create(kind) => { let _ = ring.create(kind, "k", Policy::default(), now, &mut rng); }
                Operation::Revoke(i, leaked) => if let Some(id) = pick(i) {
                    let reason = if leaked { RevocationReason::Leaked } else { RevocationReason::Revoked };
                    if ring.revoke(id, now, reason).is_ok() {
                        prop_assert!(!usable(ring.get(id).unwrap(), now));
                    }
                },
                Operation::Rotate(i, grace) => if let Some(id) = pick(i) {
                    if let Ok(rotation) = ring.rotate(id, now, GracePeriod::from_seconds(grace).unwrap(), &mut rng) {
                        prop_assert!(usable(&rotation.new_record, now));
                        prop_assert_eq!(usable(&rotation.old_record, now), grace > 0);
                    }
                },
                Operation::Expire => { ring.expire_due(now); }
                Operation::Advance(ms) => now = UnixMillis(now.0 + ms),
            }
            for record in ring.keys() {
                if let KeyStatus::Revoked { .. } = record.status {
                    revoked.insert(record.id);
                }
                if revoked.contains(&record.id) {
                    prop_assert!(matches!(record.status, KeyStatus::Revoked { .. }), "a revoked key came back");
                    prop_assert!(!usable(record, now));
                }
                if let Some(expires_at) = record.expires_at() {
                    prop_assert_eq!(usable(record, now), now < expires_at);
                }
            }
        }
    }
}
