//! `edge` validation mode (KV only) with the default grace period shortened through
//! configuration, as an operator would set it in wrangler.toml.

use std::time::{Duration, Instant};

use aero2_e2e::*;

#[test]
fn edge_mode_validates_from_kv_and_honours_the_configured_grace_period() {
    let w = Worker::start(
        "edge-mode",
        Options {
            vars: vec![
                ("SECRET_KEY_VALIDATION", "edge".into()),
                ("PUBLISHABLE_KEY_VALIDATION", "edge".into()),
                ("DEFAULT_GRACE_PERIOD_SECONDS", "2".into()),
            ],
            ..Options::default()
        },
    );
    let app = w.create_application("Edge", "production");
    let reply = w.get("/v1/users", &app.secret.value);
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.json["headers"]["x-aero2-key-id"],
        app.secret.id.as_str()
    );
    assert_eq!(
        w.get("/v1/users", &app.publishable.value).code(),
        "publishable_key_not_allowed"
    );

    // No grace period in the request: the configured 2 seconds apply.
    let rotated = w.post(
        &format!("/v1/keys/{}/rotate", app.secret.id),
        &app.secret.value,
        None,
    );
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let rotated_at = Instant::now();
    let new_secret = rotated.json["key"]["value"].as_str().unwrap().to_string();
    // The old key is in its grace period: it passes the gate, but the audit log is
    // management, so the new key reads it.
    let audit = w.get("/v1/audit_log?event=key.rotated", &new_secret);
    assert_eq!(
        audit.json["entries"][0]["detail"]["grace_period_seconds"],
        2
    );
    assert_eq!(w.get("/v1/users", &app.secret.value).status, 200);
    assert_eq!(w.get("/v1/users", &new_secret).status, 200);

    std::thread::sleep(Duration::from_millis(2_300).saturating_sub(rotated_at.elapsed()));
    // KV still says "expiring" until the alarm runs, but the edge checks expires_at itself.
    assert_eq!(w.get("/v1/users", &app.secret.value).code(), "expired_key");
    assert_eq!(w.get("/v1/users", &new_secret).status, 200);

    // Revocation reaches the edge through KV (immediate on one local node).
    let created = w.post(
        "/v1/keys",
        &new_secret,
        Some(&serde_json::json!({"kind": "publishable"})),
    );
    let id = created.json["key"]["id"].as_str().unwrap().to_string();
    let value = created.json["key"]["value"].as_str().unwrap().to_string();
    assert_eq!(w.get("/v1/client/x", &value).status, 200);
    assert_eq!(
        w.post(&format!("/v1/keys/{id}/revoke"), &new_secret, None)
            .status,
        200
    );
    assert_eq!(w.get("/v1/client/x", &value).code(), "revoked_key");

    // A secret key from a browser is refused at the edge and still audited.
    let reply = request(
        "GET",
        &w.url("/v1/users"),
        &[
            ("Authorization", &bearer(&new_secret)),
            ("Origin", "https://x.example"),
        ],
        None,
    );
    assert_eq!(reply.code(), "secret_key_in_browser");
    wait_until("the exposure audit entry", Duration::from_secs(10), || {
        let log = w.get("/v1/audit_log?event=key.secret_in_browser", &new_secret);
        log.json["entries"]
            .as_array()
            .is_some_and(|e| !e.is_empty())
    });
}

/// The isolate's record cache (`EDGE_CACHE_SECONDS`): a revoked key may pass at the edge
/// until the cached record is older than the TTL, and never after; the receipt counts it.
#[test]
fn the_edge_record_cache_holds_a_record_for_its_ttl_only_and_the_receipt_says_so() {
    let w = Worker::start(
        "edge-cache",
        Options {
            vars: vec![
                ("PUBLISHABLE_KEY_VALIDATION", "edge".into()),
                ("EDGE_CACHE_SECONDS", "3".into()),
            ],
            ..Options::default()
        },
    );
    let app = w.create_application("Cached", "production");
    let created = w.post(
        "/v1/keys",
        &app.secret.value,
        Some(&serde_json::json!({"kind": "publishable"})),
    );
    let id = created.json["key"]["id"].as_str().unwrap().to_string();
    let value = created.json["key"]["value"].as_str().unwrap().to_string();
    assert_eq!(w.get("/v1/client/x", &value).status, 200);
    let read_at = Instant::now();
    let sent = wall_ms();
    let revoked = w.post(&format!("/v1/keys/{id}/revoke"), &app.secret.value, None);
    let receipt = millis(&revoked.json["effective_at"]);
    let answered = wall_ms();
    // Bounded by when the request was sent and answered, so a slow machine cannot fail it.
    assert!(
        (sent + 62_000..=answered + 64_000).contains(&receipt),
        "60 s of KV and 3 s of cache: {receipt} against {sent}..{answered}"
    );
    // Within the TTL of the read above, the isolate may still pass it from its cache...
    if read_at.elapsed() < Duration::from_millis(2_500) {
        assert_eq!(
            w.get("/v1/client/x", &value).status,
            200,
            "served from the isolate's cache"
        );
    }
    // ...and past it, never.
    std::thread::sleep(Duration::from_millis(3_100).saturating_sub(read_at.elapsed()));
    assert_eq!(w.get("/v1/client/x", &value).code(), "revoked_key");
}
