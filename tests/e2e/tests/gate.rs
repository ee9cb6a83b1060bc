//! The gate and the management API against the real worker in workerd (wrangler dev) with
//! local KV and Durable Objects. One worker serves every test here; each test makes its
//! own application, so the tests are independent and run in parallel.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use aero2_e2e::*;
use serde_json::json;

/// The worker these tests share, in the validation mode `AERO2_GATE_MODE` names (both key
/// kinds; default: the configured `strict`). `make test` runs this suite in each mode.
fn worker() -> &'static Worker {
    static WORKER: OnceLock<Worker> = OnceLock::new();
    WORKER.get_or_init(|| {
        let mut options = Options::default();
        if let Ok(mode) = std::env::var("AERO2_GATE_MODE") {
            options.vars = vec![
                ("SECRET_KEY_VALIDATION", mode.clone()),
                ("PUBLISHABLE_KEY_VALIDATION", mode),
            ];
        }
        Worker::start("gate", options)
    })
}

#[test]
fn each_key_kind_is_gated_and_the_origin_never_sees_the_key() {
    let w = worker();
    let app = w.create_application("Gate", "production");
    assert!(app.secret.value.starts_with("sk_live_"));
    assert!(app.publishable.value.starts_with("pk_live_"));

    let reply = request(
        "POST",
        &w.url("/v1/users?page=2"),
        &[
            ("Authorization", &bearer(&app.secret.value)),
            ("X-Aero2-Key-Id", "key_spoofedspoofed00"),
            ("Content-Type", "text/plain"),
        ],
        Some("hello"),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let seen = &reply.json;
    assert_eq!(seen["origin"], "aero2-demo-origin");
    assert_eq!(seen["path"], "/v1/users?page=2");
    assert_eq!(seen["method"], "POST");
    assert_eq!(seen["body_bytes"], 5);
    assert_eq!(seen["headers"]["x-aero2-application-id"], app.id.as_str());
    assert_eq!(seen["headers"]["x-aero2-key-id"], app.secret.id.as_str());
    assert_eq!(seen["headers"]["x-aero2-key-kind"], "secret");
    assert_eq!(seen["headers"]["x-aero2-environment"], "live");
    assert!(seen["headers"].get("authorization").is_none());
    assert!(!reply.body.contains(&app.secret.value));

    let reply = w.get("/v1/client/session", &app.publishable.value);
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json["headers"]["x-aero2-key-kind"], "publishable");

    let reply = w.get("/v1/users", &app.publishable.value);
    assert_eq!(reply.status, 403);
    assert_eq!(reply.code(), "publishable_key_not_allowed");
    assert!(reply.json["error"]["message"]
        .as_str()
        .unwrap()
        .contains("secret key"));

    let reply = w.get("/v1/client/session", &app.secret.value);
    assert_eq!(reply.status, 200, "secret keys work everywhere");
}

#[test]
fn development_applications_get_test_keys() {
    let app = worker().create_application("Dev", "development");
    assert!(app.secret.value.starts_with("sk_test_"));
    assert!(app.publishable.value.starts_with("pk_test_"));
    let reply = worker().get("/v1/anything", &app.secret.value);
    assert_eq!(reply.json["headers"]["x-aero2-environment"], "test");
}

#[test]
fn create_list_and_revoke_with_the_next_request_refused() {
    let w = worker();
    let app = w.create_application("Lifecycle", "production");
    let created = w.post(
        "/v1/keys",
        &app.secret.value,
        Some(&json!({"kind": "secret", "label": "billing service"})),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let value = created.json["key"]["value"].as_str().unwrap().to_string();
    let id = created.json["key"]["id"].as_str().unwrap().to_string();
    assert_eq!(created.json["key"]["label"], "billing service");
    assert_eq!(created.json["key"]["status"], "active");
    assert_eq!(created.header("Cache-Control"), Some("no-store"));
    assert_eq!(
        created.json["key"]["hint"].as_str().unwrap(),
        format!("sk_live_…{}", &value[value.len() - 4..])
    );

    let listed = w.get("/v1/keys", &app.secret.value);
    assert_eq!(listed.status, 200);
    let keys = listed.json["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 3);
    assert!(keys.iter().any(|k| k["id"] == id.as_str()));
    assert!(keys.iter().all(|k| k.get("value").is_none()));
    assert!(!listed.body.contains(&value));
    assert!(!listed.body.contains(&app.secret.value));

    assert_eq!(w.get("/v1/orders", &value).status, 200);
    let revoked = w.post(&format!("/v1/keys/{id}/revoke"), &app.secret.value, None);
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    assert_eq!(revoked.json["key"]["status"], "revoked");
    assert_eq!(revoked.json["key"]["revocation_reason"], "revoked");
    // The very next request with the revoked key is refused.
    let refused = w.get("/v1/orders", &value);
    assert_eq!(refused.status, 401);
    assert_eq!(refused.code(), "revoked_key");
    assert!(refused
        .header("WWW-Authenticate")
        .unwrap()
        .starts_with("Bearer"));
    assert!(!refused.body.contains(&value));

    let again = w.post(&format!("/v1/keys/{id}/revoke"), &app.secret.value, None);
    assert_eq!((again.status, again.code()), (409, "key_already_revoked"));

    let last = w.post(
        &format!("/v1/keys/{}/revoke", app.secret.id),
        &app.secret.value,
        None,
    );
    assert_eq!((last.status, last.code()), (409, "last_active_secret_key"));
    assert_eq!(w.get("/v1/orders", &app.secret.value).status, 200);

    let active_only = w.get("/v1/keys", &app.secret.value);
    assert_eq!(active_only.json["keys"].as_array().unwrap().len(), 2);
    let all = w.get("/v1/keys?include_revoked=true", &app.secret.value);
    assert_eq!(all.json["keys"].as_array().unwrap().len(), 3);
}

#[test]
fn rotation_keeps_the_old_key_for_the_grace_period_only() {
    let w = worker();
    let app = w.create_application("Rotation", "production");
    let old = app.secret.clone();
    let rotated = w.post(
        &format!("/v1/keys/{}/rotate", old.id),
        &old.value,
        Some(&json!({"grace_period_seconds": 3})),
    );
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let new_value = rotated.json["key"]["value"].as_str().unwrap().to_string();
    assert_ne!(new_value, old.value);
    assert_eq!(rotated.json["key"]["rotated_from"], old.id.as_str());
    assert_eq!(rotated.json["previous_key"]["status"], "expiring");
    assert!(rotated.json["previous_key"]["expires_at"].is_string());
    let rotated_at = Instant::now();

    // Both keys work during the grace period.
    assert_eq!(w.get("/v1/data", &old.value).status, 200);
    assert_eq!(w.get("/v1/data", &new_value).status, 200);
    let again = w.post(&format!("/v1/keys/{}/rotate", old.id), &new_value, None);
    assert_eq!((again.status, again.code()), (409, "key_already_rotating"));

    std::thread::sleep(
        Duration::from_secs(3).saturating_sub(rotated_at.elapsed()) + Duration::from_millis(300),
    );
    let expired = w.get("/v1/data", &old.value);
    assert_eq!((expired.status, expired.code()), (401, "expired_key"));
    assert_eq!(w.get("/v1/data", &new_value).status, 200);

    // The alarm records the expiry in the audit log.
    let expiry_log = format!("/v1/audit_log?event=key.expired&key_id={}", old.id);
    wait_until("the key.expired entry", Duration::from_secs(20), || {
        let log = w.get(&expiry_log, &new_value);
        log.json["entries"].as_array().is_some_and(|e| e.len() == 1)
    });
    assert_eq!(
        w.get(&expiry_log, &new_value).json["entries"][0]["actor"],
        "system"
    );
    let listed = w.get("/v1/keys?include_revoked=true", &new_value);
    let old_view = listed.json["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == old.id.as_str())
        .unwrap()
        .clone();
    assert_eq!(old_view["status"], "revoked");
    assert_eq!(old_view["revocation_reason"], "grace_expired");

    let bad = w.post(
        &format!("/v1/keys/{}/rotate", app.publishable.id),
        &new_value,
        Some(&json!({"grace_period_seconds": 604801})),
    );
    assert_eq!((bad.status, bad.code()), (400, "invalid_grace_period"));
    let immediate = w.post(
        &format!("/v1/keys/{}/rotate", app.publishable.id),
        &new_value,
        Some(&json!({"grace_period_seconds": 0})),
    );
    assert_eq!(immediate.status, 200);
    assert_eq!(immediate.json["previous_key"]["status"], "revoked");
    assert_eq!(
        w.get("/v1/client/x", &app.publishable.value).code(),
        "revoked_key"
    );
}

#[test]
fn a_secret_key_from_a_browser_is_refused_and_audited() {
    let w = worker();
    let app = w.create_application("Browser", "production");
    let reply = request(
        "GET",
        &w.url("/v1/users"),
        &[
            ("Authorization", &bearer(&app.secret.value)),
            ("Origin", "https://shop.example"),
        ],
        None,
    );
    assert_eq!((reply.status, reply.code()), (403, "secret_key_in_browser"));
    assert!(reply.json["error"]["message"]
        .as_str()
        .unwrap()
        .contains("client code"));
    let reply = request(
        "GET",
        &w.url("/v1/client/x"),
        &[
            ("Authorization", &bearer(&app.secret.value)),
            ("Sec-Fetch-Mode", "cors"),
            ("Sec-Fetch-Site", "same-origin"),
        ],
        None,
    );
    assert_eq!(reply.code(), "secret_key_in_browser");
    // A publishable key from a browser is what publishable keys are for.
    let reply = request(
        "GET",
        &w.url("/v1/client/x"),
        &[
            ("Authorization", &bearer(&app.publishable.value)),
            ("Origin", "https://shop.example"),
        ],
        None,
    );
    assert_eq!(reply.status, 200);

    // Repeated exposures are one entry per key and hour, with a count and the first and
    // last client, not a row per request.
    for i in 0..5 {
        let reply = request(
            "GET",
            &w.url("/v1/users"),
            &[
                ("Authorization", &bearer(&app.secret.value)),
                ("Origin", "https://shop.example"),
                ("CF-Connecting-IP", &format!("198.51.100.{i}")),
            ],
            None,
        );
        assert_eq!(reply.code(), "secret_key_in_browser");
    }
    // The first exposure is recorded at once; the repeats are counted in memory and
    // recorded together when their window (10 s) ends, so a flood costs no write each.
    let total_of = |log: &Reply| -> u64 {
        log.json["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["detail"]["count"].as_u64().unwrap())
            .sum()
    };
    let audit = || {
        w.get(
            "/v1/audit_log?event=key.secret_in_browser",
            &app.secret.value,
        )
    };
    assert!(
        total_of(&audit()) < 7,
        "the repeats are recorded when their window ends, not one by one"
    );
    wait_until("the repeats' count", Duration::from_secs(25), || {
        total_of(&audit()) == 7
    });
    let log = audit();
    let entries = log.json["entries"].as_array().unwrap();
    // One entry, or two if the hour turned during the test.
    assert!((1..=2).contains(&entries.len()), "{}", log.body);
    let newest = &entries[0];
    assert_eq!(newest["key_id"], app.secret.id.as_str());
    assert_eq!(newest["detail"]["last_ip"], "198.51.100.4");
    if entries.len() == 1 {
        assert_eq!(newest["ip"], "127.0.0.1", "the first client");
    }
}

#[test]
fn one_application_cannot_see_or_touch_another() {
    let w = worker();
    let a = w.create_application("Tenant A", "production");
    let b = w.create_application("Tenant B", "production");
    let listed = w.get("/v1/keys", &a.secret.value);
    assert!(!listed.body.contains(&b.secret.id));
    assert!(!listed.body.contains(&b.publishable.id));
    let revoke = w.post(
        &format!("/v1/keys/{}/revoke", b.publishable.id),
        &a.secret.value,
        None,
    );
    assert_eq!((revoke.status, revoke.code()), (404, "key_not_found"));
    let rotate = w.post(
        &format!("/v1/keys/{}/rotate", b.secret.id),
        &a.secret.value,
        None,
    );
    assert_eq!((rotate.status, rotate.code()), (404, "key_not_found"));
    let log = w.get(
        &format!("/v1/audit_log?key_id={}", b.secret.id),
        &a.secret.value,
    );
    assert_eq!(log.json["entries"].as_array().unwrap().len(), 0);
    assert_eq!(w.get("/v1/users", &b.secret.value).status, 200);
    // A publishable key cannot use the management API at all.
    let reply = w.get("/v1/keys", &a.publishable.value);
    assert_eq!(
        (reply.status, reply.code()),
        (403, "publishable_key_not_allowed")
    );
}

#[test]
fn the_audit_log_records_each_action_and_pages_newest_first() {
    let w = worker();
    let app = w.create_application("Audit", "production");
    let created = w.post(
        "/v1/keys",
        &app.secret.value,
        Some(&json!({"kind": "publishable", "label": "web"})),
    );
    let id = created.json["key"]["id"].as_str().unwrap().to_string();
    w.post(&format!("/v1/keys/{id}/rotate"), &app.secret.value, None);
    w.post(&format!("/v1/keys/{id}/revoke"), &app.secret.value, None);

    let page = w.get("/v1/audit_log?limit=2", &app.secret.value);
    assert_eq!(page.status, 200, "{}", page.body);
    let entries = page.json["entries"].as_array().unwrap();
    let events: Vec<_> = entries
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["key.revoked", "key.rotated"]);
    assert_eq!(entries[0]["actor"], app.secret.id.as_str());
    assert!(entries[0]["user_agent"]
        .as_str()
        .unwrap()
        .starts_with("ureq"));
    let cursor = page.json["next_cursor"].as_str().unwrap();
    let rest = w.get(&format!("/v1/audit_log?cursor={cursor}"), &app.secret.value);
    let events: Vec<_> = rest.json["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        events,
        [
            "key.created",
            "key.created",
            "key.created",
            "application.created"
        ]
    );
    assert!(rest.json["next_cursor"].is_null());
    let rotated = w.get("/v1/audit_log?event=key.rotated", &app.secret.value);
    let entry = &rotated.json["entries"][0];
    assert_eq!(entry["detail"]["grace_period_seconds"], 86400);
    assert!(
        !rotated.body.contains("pk_live_"),
        "the audit log never holds key values"
    );
}

#[test]
fn usage_is_counted_per_key() {
    let w = worker();
    let app = w.create_application("Usage", "production");
    for _ in 0..3 {
        assert_eq!(w.get("/v1/client/x", &app.publishable.value).status, 200);
    }
    let usage = || {
        w.get(
            &format!("/v1/keys/{}/usage", app.publishable.id),
            &app.secret.value,
        )
    };
    // In edge and regional modes the gate sends usage in batches, with its next gated
    // request 5 s later: the secret key's requests bring the batch in.
    wait_until("the usage counts", Duration::from_secs(20), || {
        w.get("/v1/users", &app.secret.value);
        std::thread::sleep(Duration::from_millis(500));
        usage().json["hours"][23]["requests"] == 3
    });
    let usage = usage();
    assert_eq!(usage.status, 200, "{}", usage.body);
    let hours = usage.json["hours"].as_array().unwrap();
    assert_eq!(hours.len(), 24);
    assert_eq!(hours.last().unwrap()["requests"], 3);
    let listed = w.get("/v1/keys", &app.secret.value);
    let key = listed.json["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == app.publishable.id.as_str())
        .unwrap()
        .clone();
    assert!(key["last_used_at"].is_string());
}

#[test]
fn the_operator_api_needs_the_admin_token() {
    let w = worker();
    let reply = request("GET", &w.url("/v1/applications"), &[], None);
    assert_eq!((reply.status, reply.code()), (401, "invalid_admin_token"));
    let reply = w.get("/v1/applications", "wrong-token-wrong-token");
    assert_eq!((reply.status, reply.code()), (401, "invalid_admin_token"));
    let app = w.create_application("Listed", "production");
    let reply = w.get("/v1/applications", ADMIN_TOKEN);
    assert_eq!(reply.status, 200);
    assert!(reply.json["applications"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["id"] == app.id.as_str()));
    // The operator manages any application's keys.
    let keys = w.get(&format!("/v1/applications/{}/keys", app.id), ADMIN_TOKEN);
    assert_eq!(keys.json["keys"].as_array().unwrap().len(), 2);
    let reply = w.get("/v1/applications/app_doesnotexist0000/keys", ADMIN_TOKEN);
    assert_eq!((reply.status, reply.code()), (404, "application_not_found"));
    let reply = w.post(
        "/v1/applications",
        ADMIN_TOKEN,
        Some(&json!({"name": "x", "environment": "staging"})),
    );
    assert_eq!((reply.status, reply.code()), (400, "invalid_environment"));
}

#[test]
fn the_openapi_document_describes_every_endpoint() {
    let w = worker();
    let doc = request("GET", &w.url("/openapi.json"), &[], None);
    assert_eq!(doc.status, 200);
    assert_eq!(doc.json["openapi"].as_str().unwrap(), "3.1.0");
    let paths = doc.json["paths"].as_object().unwrap();
    let app = w.create_application("OpenAPI", "production");
    let mut checked = 0;
    for (path, item) in paths {
        for method in item
            .as_object()
            .unwrap()
            .keys()
            .filter(|m| ["get", "post"].contains(&m.as_str()))
        {
            let concrete = path
                .replace("{key_id}", &app.publishable.id)
                .replace("{application_id}", &app.id)
                .replace("{path}", "anything");
            let token = if path.starts_with("/v1/applications") {
                ADMIN_TOKEN
            } else {
                &app.secret.value
            };
            let reply = request(
                &method.to_uppercase(),
                &w.url(&concrete),
                &[("Authorization", &bearer(token))],
                None,
            );
            assert!(
                !["not_found", "method_not_allowed"].contains(&reply.code()) && reply.status < 500,
                "{method} {path} is documented but answers {} {}",
                reply.status,
                reply.body
            );
            checked += 1;
        }
    }
    assert!(checked >= 16, "only {checked} operations documented");
}

#[test]
fn the_kv_store_never_holds_a_plaintext_key() {
    let w = worker();
    let app = w.create_application("At rest", "production");
    let extra = w.post(
        "/v1/keys",
        &app.secret.value,
        Some(&json!({"kind": "secret", "label": "x"})),
    );
    let extra_value = extra.json["key"]["value"].as_str().unwrap().to_string();
    let rotated = w.post(
        &format!("/v1/keys/{}/rotate", app.publishable.id),
        &app.secret.value,
        None,
    );
    let rotated_value = rotated.json["key"]["value"].as_str().unwrap().to_string();
    let values = [
        &app.secret.value,
        &app.publishable.value,
        &extra_value,
        &rotated_value,
    ];

    let files = files_below(&w.state_dir);
    assert!(
        !files.is_empty(),
        "no persisted state under {}",
        w.state_dir.display()
    );
    let hash = aero2_keys::ApiKey::parse(&extra_value)
        .unwrap()
        .storage_id()
        .to_hex();
    assert!(
        files
            .iter()
            .any(|(_, bytes)| contains(bytes, hash.as_bytes())),
        "the KV record of the key (its SHA-256) should be in the persisted state"
    );
    for value in values {
        let random_part = &value[24..value.len() - 6];
        for (path, bytes) in &files {
            assert!(
                !contains(bytes, value.as_bytes()),
                "{} holds a key",
                path.display()
            );
            assert!(
                !contains(bytes, random_part.as_bytes()),
                "{} holds a key's random part",
                path.display()
            );
        }
        assert!(!w.logs().contains(random_part), "a log holds a key");
    }
}
