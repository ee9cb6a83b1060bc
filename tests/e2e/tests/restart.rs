//! State lives in Durable Object storage and KV, not in memory: it survives a restart of
//! wrangler dev, and a pending grace-period expiry still fires afterwards.

use std::time::{Duration, Instant};

use aero2_e2e::*;
use serde_json::json;

#[test]
fn state_survives_a_restart_and_pending_expiries_still_fire() {
    const GRACE_SECONDS: u64 = 20;
    let mut w = Worker::start("restart", Options::default());
    let app = w.create_application("Durable", "production");
    let extra = w.post(
        "/v1/keys",
        &app.secret.value,
        Some(&json!({"kind": "secret", "label": "to revoke"})),
    );
    let extra_id = extra.json["key"]["id"].as_str().unwrap().to_string();
    let extra_value = extra.json["key"]["value"].as_str().unwrap().to_string();
    assert_eq!(
        w.post(
            &format!("/v1/keys/{extra_id}/revoke"),
            &app.secret.value,
            None
        )
        .status,
        200
    );
    let rotated = w.post(
        &format!("/v1/keys/{}/rotate", app.publishable.id),
        &app.secret.value,
        // Longer than a restart on a slow, shared CI machine can take, so the old key is
        // provably still in its grace period afterwards.
        Some(&json!({"grace_period_seconds": GRACE_SECONDS})),
    );
    assert_eq!(rotated.status, 200);
    let rotated_at = Instant::now();
    let new_publishable = rotated.json["key"]["value"].as_str().unwrap().to_string();
    let before = w
        .get("/v1/keys?include_revoked=true", &app.secret.value)
        .json;
    let audit_before = w.get("/v1/audit_log", &app.secret.value).json["entries"]
        .as_array()
        .unwrap()
        .len();

    w.restart("TERM");
    let restarted_after = rotated_at.elapsed();

    assert_eq!(w.get("/v1/users", &app.secret.value).status, 200);
    assert_eq!(w.get("/v1/users", &extra_value).code(), "revoked_key");
    assert_eq!(
        w.get("/v1/client/a", &app.publishable.value).status,
        200,
        "still in its grace period ({restarted_after:?} after the rotation)"
    );
    assert_eq!(w.get("/v1/client/a", &new_publishable).status, 200);
    let after = w
        .get("/v1/keys?include_revoked=true", &app.secret.value)
        .json;
    let strip = |v: &serde_json::Value| {
        v["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| {
                (
                    k["id"].clone(),
                    k["status"].clone(),
                    k["expires_at"].clone(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(&before), strip(&after));
    // Nothing lost, and one entry more: the old publishable key was used during its grace
    // period after the restart (`key.grace_period_in_use`, a webhook reminder).
    let audit_after = w.get("/v1/audit_log", &app.secret.value).json["entries"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(audit_after.len(), audit_before + 1);
    assert_eq!(audit_after[0]["event"], "key.grace_period_in_use");
    assert_eq!(audit_after[0]["key_id"], app.publishable.id.as_str());
    let apps = w.get("/v1/applications", ADMIN_TOKEN);
    assert!(apps.body.contains(&app.id));

    // The expiry alarm set before the restart fires after it.
    std::thread::sleep(Duration::from_secs(GRACE_SECONDS).saturating_sub(rotated_at.elapsed()));
    wait_until("the expiry alarm", Duration::from_secs(30), || {
        let log = w.get("/v1/audit_log?event=key.expired", &app.secret.value);
        log.json["entries"].as_array().is_some_and(|e| e.len() == 1)
    });
    let log = w.get("/v1/audit_log?event=key.expired", &app.secret.value);
    assert_eq!(
        log.json["entries"][0]["key_id"],
        app.publishable.id.as_str()
    );
    assert_eq!(
        w.get("/v1/client/a", &app.publishable.value).code(),
        "expired_key"
    );
}
