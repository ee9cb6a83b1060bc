//! The audit chain's promise: any change to any field of any entry, a removal or a
//! reorder breaks verification against the head a checkpoint names.

use aero2_keys::audit_chain::{append, verify_from, Head};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

/// Entries shaped like the log's: strings with any characters, nulls, whole numbers, and
/// nested details.
fn entry() -> impl Strategy<Value = Map<String, Value>> {
    (
        "[a-z._]{1,20}",
        proptest::option::of("\\PC{0,12}"),
        proptest::option::of("[0-9.:a-f]{1,39}"),
        "\\PC{0,20}",
        0u64..1 << 53,
        proptest::collection::vec(("[a-z_]{1,8}", "\\PC{0,8}"), 0..4),
    )
        .prop_map(|(event, key_id, ip, agent, count, extra)| {
            let mut detail = Map::new();
            detail.insert("count".into(), json!(count));
            for (name, value) in extra {
                detail.insert(name, json!(value));
            }
            json!({
                "at": "2026-12-05T01:00:00.000Z",
                "event": event,
                "key_id": key_id,
                "actor": "operator",
                "ip": ip,
                "user_agent": agent,
                "detail": detail,
            })
            .as_object()
            .unwrap()
            .clone()
        })
}

fn chained(entries: Vec<Map<String, Value>>) -> (Vec<Value>, Head) {
    let mut head = Head::genesis();
    let mut log = Vec::new();
    for mut entry in entries {
        head = append(&head, &mut entry);
        log.push(Value::Object(entry));
    }
    (log, head)
}

/// Whether `log` passes as the whole log that `head` checkpoints.
fn passes(log: &[Value], head: &Head) -> bool {
    verify_from(Some(1), log) == Ok(head.clone())
}

/// Every place in an entry where a value can change: (field, path inside detail).
const FIELDS: [&str; 9] = [
    "seq",
    "prev_hash",
    "hash",
    "at",
    "event",
    "key_id",
    "actor",
    "ip",
    "detail",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn an_untouched_log_verifies(entries in proptest::collection::vec(entry(), 1..12)) {
        let (log, head) = chained(entries);
        prop_assert!(passes(&log, &head));
    }

    #[test]
    fn changing_any_field_breaks_it(
        entries in proptest::collection::vec(entry(), 1..12),
        which in any::<prop::sample::Index>(),
        field in 0..FIELDS.len(),
        replacement in "\\PC{0,6}",
    ) {
        let (mut log, head) = chained(entries);
        let i = which.index(log.len());
        let object = log[i].as_object_mut().unwrap();
        let name = FIELDS[field];
        let changed = match (name, object.get(name).cloned()) {
            ("detail", Some(Value::Object(mut detail))) => {
                // A count raised by one, or a field slipped in.
                let count = detail["count"].as_u64().unwrap();
                detail.insert("count".into(), json!(count + 1));
                Value::Object(detail)
            }
            ("seq", Some(seq)) => json!(seq.as_u64().unwrap() + 7),
            (_, Some(Value::String(old))) if old != replacement => json!(replacement),
            (_, Some(Value::String(old))) => json!(format!("{old}x")),
            (_, _) => json!("changed"),
        };
        object.insert(name.into(), changed);
        prop_assert!(!passes(&log, &head), "changing {name} of entry {i} went unnoticed");
    }

    #[test]
    fn removing_a_field_breaks_it(
        entries in proptest::collection::vec(entry(), 1..12),
        which in any::<prop::sample::Index>(),
        field in 0..FIELDS.len(),
    ) {
        let (mut log, head) = chained(entries);
        let i = which.index(log.len());
        log[i].as_object_mut().unwrap().remove(FIELDS[field]);
        prop_assert!(!passes(&log, &head));
    }

    #[test]
    fn removing_an_entry_breaks_it(
        entries in proptest::collection::vec(entry(), 1..12),
        which in any::<prop::sample::Index>(),
    ) {
        let (mut log, head) = chained(entries);
        log.remove(which.index(log.len()));
        prop_assert!(!passes(&log, &head));
    }

    #[test]
    fn reordering_breaks_it(
        entries in proptest::collection::vec(entry(), 2..12),
        a in any::<prop::sample::Index>(),
        b in any::<prop::sample::Index>(),
    ) {
        let (mut log, head) = chained(entries);
        let (a, b) = (a.index(log.len()), b.index(log.len()));
        prop_assume!(a != b && log[a] != log[b]);
        log.swap(a, b);
        prop_assert!(!passes(&log, &head));
    }
}
