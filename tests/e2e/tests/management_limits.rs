//! Management floods (the second attacker pass): a key with `keys:write` made 300
//! create-and-revoke pairs in 4.8 s and thousands more at about 80 a second, and every
//! revoked record stayed in the ring for 30 days. Changes are now limited per application,
//! and the ring as a whole is bounded.

use aero2_e2e::*;
use serde_json::json;

/// Past the application's limit (here 3 at once, then 6 a minute), changes get 429
/// `too_many_requests` with `Retry-After` and the RateLimit headers; reads go on, and the
/// limit is the application's, not the key's.
#[test]
fn management_changes_are_limited_per_application() {
    let w = Worker::start(
        "management-limits",
        Options {
            vars: vec![
                ("MANAGEMENT_WRITES_PER_MINUTE", "6".into()),
                ("MANAGEMENT_WRITE_BURST", "3".into()),
            ],
            ..Options::default()
        },
    );
    let app = w.create_application("Flooded", "production");
    let admin = app.secret.value.as_str();
    let mut created = Vec::new();
    for i in 0..2 {
        let body = json!({"kind": "publishable", "label": format!("k{i}")});
        let reply = w.post("/v1/keys", admin, Some(&body));
        assert_eq!(reply.status, 201, "change {i}: {}", reply.body);
        created.push(reply.json["key"]["id"].as_str().unwrap().to_owned());
    }
    let second = w.post(
        "/v1/keys",
        admin,
        Some(&json!({"kind": "secret", "label": "second"})),
    );
    assert_eq!(second.status, 201, "{}", second.body);
    let second = second.json["key"]["value"].as_str().unwrap().to_owned();
    let refused = w.post(&format!("/v1/keys/{}/revoke", created[0]), admin, None);
    assert_eq!(
        (refused.status, refused.code()),
        (429, "too_many_requests"),
        "{}",
        refused.body
    );
    let retry: u64 = refused.header("Retry-After").unwrap().parse().unwrap();
    assert!((1..=10).contains(&retry), "{retry}");
    assert_eq!(
        refused.header("RateLimit-Policy"),
        Some("\"management\";q=3;w=30")
    );
    assert!(refused
        .header("RateLimit")
        .unwrap()
        .starts_with("\"management\";r=0;t="));
    // Nothing changed, and reading is not limited.
    let keys = w.get("/v1/keys", admin);
    assert_eq!(keys.status, 200);
    assert_eq!(
        keys.json["keys"].as_array().unwrap().len(),
        5,
        "{}",
        keys.body
    );
    // A second key of the same application shares the limit.
    let other = w.post("/v1/keys", &second, Some(&json!({"kind": "publishable"})));
    assert_eq!(other.code(), "too_many_requests", "{}", other.body);
    // One token comes back every 10 s.
    std::thread::sleep(std::time::Duration::from_millis(10_500));
    let again = w.post(&format!("/v1/keys/{}/revoke", created[0]), admin, None);
    assert_eq!(again.status, 200, "{}", again.body);
    // Another application has its own limit.
    let elsewhere = w.create_application("Quiet", "production");
    let reply = w.post(
        "/v1/keys",
        &elsewhere.secret.value,
        Some(&json!({"kind": "publishable"})),
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
}

/// Create-and-revoke loops no longer grow the ring without bound: past 1,000 records the
/// oldest revoked ones are dropped, each with a `key.forgotten` audit entry, and the live
/// keys and the gate are untouched.
#[test]
fn the_ring_is_bounded_and_says_what_it_dropped() {
    let w = Worker::start("ring-bound", Options::default());
    let app = w.create_application("Churn", "production");
    let admin = app.secret.value.as_str();
    let first = w.post(
        "/v1/keys",
        admin,
        Some(&json!({"kind": "publishable", "label": "first"})),
    );
    let first_id = first.json["key"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        w.post(&format!("/v1/keys/{first_id}/revoke"), admin, None)
            .status,
        200
    );
    // The ring now holds the two starting keys and one revoked; fill it past its bound.
    for i in 0..1_000 {
        let made = w.post(
            "/v1/keys",
            admin,
            Some(&json!({"kind": "publishable", "label": "churn"})),
        );
        assert_eq!(made.status, 201, "create {i}: {}", made.body);
        let id = made.json["key"]["id"].as_str().unwrap();
        let revoked = w.post(&format!("/v1/keys/{id}/revoke"), admin, None);
        assert_eq!(revoked.status, 200, "revoke {i}: {}", revoked.body);
    }
    let all = w.get("/v1/keys?include_revoked=true", admin);
    let listed = all.json["keys"].as_array().unwrap();
    assert_eq!(listed.len(), 1_000, "the ring holds exactly its bound");
    assert!(
        listed.iter().all(|k| k["id"] != first_id.as_str()),
        "the oldest revoked went first"
    );
    assert!(listed
        .iter()
        .any(|k| k["id"] == app.secret.id.as_str() && k["status"] == "active"));
    let forgotten = w.get(
        &format!("/v1/audit_log?event=key.forgotten&key_id={first_id}"),
        admin,
    );
    assert_eq!(
        forgotten.json["entries"].as_array().unwrap().len(),
        1,
        "{}",
        forgotten.body
    );
    assert_eq!(forgotten.json["entries"][0]["actor"], "system");
    // The application's keys still work at the gate.
    let gated = request(
        "GET",
        &w.url("/v1/orders"),
        &[("Authorization", &bearer(admin))],
        None,
    );
    assert_eq!(gated.status, 200, "{}", gated.body);
}
