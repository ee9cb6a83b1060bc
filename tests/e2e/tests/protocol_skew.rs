//! Rolling deploys: during a deploy, gates of the previous release (protocol version 1,
//! the single Worker up to commit 32e75f6) still talk to the new control plane's Durable
//! Objects. Each message below is written out as that release serialised it
//! (`crates/edge/src/protocol/{ring,replica}.rs` there), and delivered as it is through
//! the test build's `/__faults/applications/{id}/protocol`. The new control plane must act
//! on each one and answer in the form that release reads.

use std::time::Duration;

use aero2_e2e::*;
use serde_json::{json, Value};

fn worker() -> Worker {
    Worker::start(
        "protocol-skew",
        Options {
            test_build: true,
            ..Options::default()
        },
    )
}

/// Delivers `message` (the previous release's JSON) to the key ring, or to the replica of
/// a region, and returns the object's answer.
fn deliver(w: &Worker, application: &str, to: &str, message: &Value) -> Reply {
    w.post(
        &format!("/__faults/applications/{application}/protocol"),
        ADMIN_TOKEN,
        Some(&json!({"to": to, "message": message.to_string()})),
    )
}

/// The key's identity as version 1 sent it: `{kind, environment, application_id,
/// storage_id}` (`aero2_keys::KeyIdentity`, unchanged since).
fn identity(key: &str) -> Value {
    serde_json::to_value(aero2_keys::identify(key).expect("a valid key")).unwrap()
}

/// A report the key ring took (`202`).
fn accepted(recorded: &Reply) {
    assert!(
        recorded.status < 300,
        "{} {}",
        recorded.status,
        recorded.body
    );
}

fn now_ms() -> u64 {
    wall_ms()
}

#[test]
fn the_previous_releases_strict_validation_is_still_answered() {
    let w = worker();
    let app = w.create_application("Skew", "production");
    let validate = |key: &str| {
        json!({
            "command": "validate",
            "key": identity(key),
            "request": {"method": "GET", "path": "/v1/users", "client_ip": "203.0.113.5", "origin": null},
            "from_browser": false,
            "client": {"ip": "203.0.113.5", "user_agent": "previous-release-gate"},
        })
    };
    let answer = deliver(&w, &app.id, "key_ring", &validate(&app.secret.value));
    assert_eq!(answer.status, 200, "{}", answer.body);
    // Version 1's `Validated`: the key, its kind and whether the page may read the answer.
    assert_eq!(
        answer.json["key_id"],
        app.secret.id.as_str(),
        "{}",
        answer.body
    );
    assert_eq!(answer.json["kind"], "secret");
    // Version 1 said `cors: true` when the request had no origin to refuse.
    assert_eq!(answer.json["cors"], true);

    // A revoked key is refused in version 1's error form.
    let revoked = w.post(
        &format!("/v1/keys/{}/revoke", app.publishable.id),
        &app.secret.value,
        None,
    );
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    let refused = deliver(&w, &app.id, "key_ring", &validate(&app.publishable.value));
    assert_eq!(refused.status, 401, "{}", refused.body);
    assert_eq!(refused.code(), "revoked_key", "{}", refused.body);

    // A well-formed key the application never issued.
    let forged = forged_key(aero2_keys::KeyKind::Secret, Some(&app.id));
    let unknown = deliver(&w, &app.id, "key_ring", &validate(forged.expose_secret()));
    assert_eq!(unknown.status, 401, "{}", unknown.body);
    assert_eq!(unknown.code(), "unknown_key", "{}", unknown.body);
}

#[test]
fn the_previous_releases_usage_and_events_are_recorded() {
    let w = worker();
    let app = w.create_application("Skew usage", "production");
    let now = now_ms();
    // Version 1's usage batch: `counts`, no version field.
    let usage = json!({
        "command": "record_usage",
        "counts": [{"key_id": app.publishable.id, "hour": now / 3_600_000, "requests": 4, "last_used_at": now}],
    });
    accepted(&deliver(&w, &app.id, "key_ring", &usage));
    let hours = w.get(
        &format!("/v1/keys/{}/usage", app.publishable.id),
        &app.secret.value,
    );
    assert_eq!(hours.json["hours"][23]["requests"], 4, "{}", hours.body);

    // Version 1's events: `events`, each with its key, count and what was observed.
    let events = json!({
        "command": "record_events",
        "events": [{
            "key_id": app.secret.id,
            "event": "secret_in_browser",
            "count": 3,
            "last_at": now,
            "observed": {"client": {"ip": "198.51.100.77", "user_agent": "Mozilla/5.0"}, "origins": ["https://shop.example"]},
        }],
    });
    accepted(&deliver(&w, &app.id, "key_ring", &events));
    let log = w.get(
        "/v1/audit_log?event=key.secret_in_browser",
        &app.secret.value,
    );
    let entry = &log.json["entries"][0];
    assert_eq!(entry["key_id"], app.secret.id.as_str(), "{}", log.body);
    assert_eq!(entry["detail"]["count"], 3, "{}", log.body);
    assert_eq!(entry["detail"]["last_ip"], "198.51.100.77", "{}", log.body);
}

/// The other direction of a deploy's skew: a gate of a later release (or any gate, after
/// the control plane alone was rolled back) reports an event kind this control plane does
/// not know. The batch's known events are still recorded, and the unknown one is named in
/// the control plane's log instead of the whole batch being refused without a word.
#[test]
fn an_unknown_event_kind_does_not_take_the_batchs_known_events_with_it() {
    let w = worker();
    let app = w.create_application("Skew later events", "production");
    let now = now_ms();
    let observed =
        json!({"client": {"ip": "198.51.100.78", "user_agent": "Mozilla/5.0"}, "origins": []});
    let events = json!({
        "command": "record_events",
        "v": 2,
        "events": [
            {"key_id": app.secret.id, "event": "secret_in_screenshot", "count": 2, "last_at": now, "observed": observed},
            {"key_id": app.secret.id, "event": "rate_limited", "count": 5, "last_at": now, "observed": observed},
        ],
    });
    accepted(&deliver(&w, &app.id, "key_ring", &events));
    let log = w.get("/v1/audit_log?event=key.rate_limited", &app.secret.value);
    let entry = &log.json["entries"][0];
    assert_eq!(entry["key_id"], app.secret.id.as_str(), "{}", log.body);
    assert_eq!(entry["detail"]["count"], 5, "{}", log.body);
    wait_until(
        "the control plane's log line",
        Duration::from_secs(5),
        || w.logs().contains("not recorded: 2 × secret_in_screenshot"),
    );
}

/// A report its key ring refuses is not sent again, so its events are lost; but not
/// silently: the gate's log names the report's kind and the answer's status.
#[test]
fn an_event_report_its_key_ring_refuses_is_named_in_the_gates_log() {
    let w = Worker::start(
        "protocol-skew-refused",
        Options {
            test_build: true,
            vars: vec![("SECRET_KEY_VALIDATION", "edge".into())],
            ..Options::default()
        },
    );
    let app = w.create_application("Skew refused reports", "production");
    let refusing = w.post(
        &format!("/__faults/applications/{}/reports", app.id),
        ADMIN_TOKEN,
        Some(&json!({"for_ms": 120_000})),
    );
    assert_eq!(refusing.status, 200, "{}", refusing.body);
    // Refused at the edge and reported to the key ring as a `secret_in_browser` event.
    let reply = request(
        "GET",
        &w.url("/v1/users"),
        &[
            ("Authorization", &bearer(&app.secret.value)),
            ("Origin", "https://x.example"),
        ],
        None,
    );
    assert_eq!(reply.code(), "secret_key_in_browser");
    wait_until("the gate's log line", Duration::from_secs(15), || {
        w.logs()
            .contains("gate: a key ring refused a record_events report (503); it is not sent again")
    });
    let log = w.get(
        "/v1/audit_log?event=key.secret_in_browser",
        &app.secret.value,
    );
    assert_eq!(log.json["entries"], json!([]), "{}", log.body);
}

#[test]
fn the_previous_releases_record_lookups_get_json_records() {
    let w = Worker::start(
        "protocol-skew-regional",
        Options {
            test_build: true,
            vars: vec![
                ("SECRET_KEY_VALIDATION", "regional".into()),
                ("PUBLISHABLE_KEY_VALIDATION", "regional".into()),
            ],
            ..Options::default()
        },
    );
    let app = w.create_application("Skew lookups", "production");
    let storage_id = identity(&app.secret.value)["storage_id"].clone();
    // A replica without a lease asked the key ring for one record: version 1 had no `v`,
    // and read the record as JSON.
    let from_ring = deliver(
        &w,
        &app.id,
        "key_ring",
        &json!({"command": "lookup_record", "storage_id": storage_id}),
    );
    assert_eq!(from_ring.status, 200, "{}", from_ring.body);
    assert_eq!(
        from_ring.json["record"]["key_id"],
        app.secret.id.as_str(),
        "{}",
        from_ring.body
    );
    assert_eq!(from_ring.json["record"]["kind"], "secret");

    // A gate asked its region's replica.
    let lookup = json!({
        "command": "lookup",
        "replica": {"application": app.id, "region": "weur", "shard": 0},
        "storage_id": storage_id,
    });
    let mut from_replica = deliver(&w, &app.id, "weur", &lookup);
    // The replica takes its lease from the key ring first; a moment's retry covers that.
    wait_until("the replica's answer", Duration::from_secs(10), || {
        from_replica = deliver(&w, &app.id, "weur", &lookup);
        from_replica.status == 200
    });
    assert_eq!(
        from_replica.json["record"]["key_id"],
        app.secret.id.as_str(),
        "{}",
        from_replica.body
    );
    // An unknown key: no record, in the same form.
    let forged = forged_key(aero2_keys::KeyKind::Secret, Some(&app.id));
    let unknown = json!({
        "command": "lookup",
        "replica": {"application": app.id, "region": "weur", "shard": 0},
        "storage_id": identity(forged.expose_secret())["storage_id"],
    });
    let none = deliver(&w, &app.id, "weur", &unknown);
    assert_eq!(none.status, 200, "{}", none.body);
    assert!(none.json["record"].is_null(), "{}", none.body);
}
