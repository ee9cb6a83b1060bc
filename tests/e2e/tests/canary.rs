//! Canary keys (#23), in workerd, in each validation mode: a decoy secret key is refused
//! exactly as an unknown key is (status, body, headers, KV reads), its every use is
//! recorded at once with the address, user agent, method, path and location, sent as the
//! `key.canary_used` webhook, and suspends the keys it names. Hostile cases first: a
//! restricted key naming keys past its reach, bodies that are not a canary, rotation, a
//! leak report.

mod github;

use std::time::Duration;

use aero2_e2e::*;
use aero2_keys::KeyKind;
use serde_json::{json, Value};

fn worker(name: &str, mode: &str, github: &p256::ecdsa::SigningKey) -> (Worker, Receiver) {
    let w = Worker::start(
        name,
        Options {
            test_build: true,
            vars: vec![
                ("SECRET_KEY_VALIDATION", mode.into()),
                ("PUBLISHABLE_KEY_VALIDATION", mode.into()),
                // No isolate cache: a suspension reaches the gate as soon as KV has it.
                ("EDGE_CACHE_SECONDS", "0".into()),
                ("WEBHOOK_ALLOW_HTTP", "true".into()),
                ("WEBHOOK_TIMEOUT_MS", "1000".into()),
                ("WEBHOOK_FIRST_RETRY_MS", "300".into()),
                ("GITHUB_SECRET_SCANNING_KEYS", github::trusted_keys(github)),
            ],
            ..Options::default()
        },
    );
    let receiver = Receiver::start(&w.log_dir);
    (w, receiver)
}

/// A request from a thief: its own address and user agent.
fn from_thief(w: &Worker, method: &str, path: &str, key: &str, ip: &str) -> Reply {
    let auth = bearer(key);
    request(
        method,
        &w.url(path),
        &[
            ("Authorization", auth.as_str()),
            ("CF-Connecting-IP", ip),
            ("User-Agent", "curl/8.4.0 (thief)"),
        ],
        None,
    )
}

/// What a client can see of an answer, apart from its date.
fn visible(reply: &Reply) -> (u16, Value, Vec<(String, String)>) {
    let mut headers: Vec<(String, String)> = reply
        .headers
        .iter()
        .filter(|(name, _)| !name.eq_ignore_ascii_case("date"))
        .map(|(name, value)| (name.to_ascii_lowercase(), value.clone()))
        .collect();
    headers.sort();
    (reply.status, reply.json.clone(), headers)
}

fn kv_reads(w: &Worker) -> u64 {
    request("GET", &w.url("/__instrumentation"), &[], None).json["kv_reads"]
        .as_u64()
        .unwrap()
}

fn entries(w: &Worker, key: &str, event: &str) -> Vec<Value> {
    let reply = w.get(&format!("/v1/audit_log?event={event}&limit=50"), key);
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json["entries"].as_array().unwrap().clone()
}

fn webhook_types(receiver: &Receiver, name: &str) -> Vec<(String, Value)> {
    receiver
        .received(name)
        .into_iter()
        .filter_map(|entry| serde_json::from_str::<Value>(entry["body"].as_str()?).ok())
        .map(|payload| (payload["type"].as_str().unwrap_or("").to_owned(), payload))
        .collect()
}

/// The whole story in one mode: plant, steal, refuse, record, alert, suspend.
fn a_canary_fires(mode: &str) {
    let github = github::signing_key();
    let (w, receiver) = worker(&format!("canary-{mode}"), mode, &github);
    let app = w.create_application("Canaries", "production");
    let admin = &app.secret.value;
    let endpoint = w.post(
        "/v1/webhook_endpoints",
        admin,
        Some(&json!({"url": receiver.url("alerts"), "events": ["key.canary_used", "key.suspended", "key.canary_leaked"]})),
    );
    assert_eq!(endpoint.status, 201, "{}", endpoint.body);
    let secret = endpoint.json["secret"].as_str().unwrap();
    receiver.configure("alerts", &json!({"secrets": [secret]}));

    // The key a breach should stop: the backend's, and the canary that guards it.
    let backend = w.post(
        "/v1/keys",
        admin,
        Some(&json!({"kind": "secret", "label": "backend"})),
    );
    let backend_id = backend.json["key"]["id"].as_str().unwrap().to_owned();
    let backend_key = backend.json["key"]["value"].as_str().unwrap().to_owned();
    let created = w.post(
        "/v1/keys",
        admin,
        Some(&json!({"kind": "secret", "canary": true, "label": "CI decoy", "canary_suspends": [backend_id]})),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let canary_id = created.json["key"]["id"].as_str().unwrap().to_owned();
    let canary = created.json["key"]["value"].as_str().unwrap().to_owned();
    // It looks exactly like any secret key.
    assert!(canary.starts_with("sk_live_"));
    assert_eq!(canary.len(), backend_key.len());
    assert!(aero2_keys::identify(&canary).is_ok());
    assert_eq!(created.json["key"]["canary"], true);
    assert_eq!(created.json["key"]["canary_suspends"], json!([backend_id]));
    let listed = w.get("/v1/keys", admin);
    let row = listed.json["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == canary_id.as_str())
        .unwrap()
        .clone();
    assert_eq!(row["canary"], true);
    assert!(listed.json["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["id"] != canary_id.as_str())
        .all(|k| k["canary"] == false && k.get("canary_suspends").is_none()));
    // KV holds no more of it than of any key.
    assert!(!persisted_anywhere(&w, &canary));
    std::thread::sleep(Duration::from_millis(1500)); // KV has the records (edge mode)

    // Refused exactly as an unknown key of the same application, with the same KV reads.
    // One refusal first: the gate learns the application (a KV read the first time only).
    let warm = forged_key(KeyKind::Secret, Some(&app.id));
    from_thief(&w, "GET", "/v1/users", warm.expose_secret(), "198.51.100.1");
    let unknown = forged_key(KeyKind::Secret, Some(&app.id));
    let before = kv_reads(&w);
    let refused_unknown = from_thief(
        &w,
        "GET",
        "/v1/users",
        unknown.expose_secret(),
        "198.51.100.1",
    );
    let unknown_reads = kv_reads(&w) - before;
    let before = kv_reads(&w);
    let refused_canary = from_thief(&w, "POST", "/v1/payments", &canary, "198.51.100.7");
    let canary_reads = kv_reads(&w) - before;
    assert_eq!(refused_canary.status, 401, "{}", refused_canary.body);
    assert_eq!(visible(&refused_canary), visible(&refused_unknown));
    assert_eq!(canary_reads, unknown_reads, "the same storage reads");

    // Recorded at once, with everything a responder needs.
    wait_until("key.canary_used recorded", Duration::from_secs(10), || {
        !entries(&w, admin, "key.canary_used").is_empty()
    });
    let used = &entries(&w, admin, "key.canary_used")[0];
    assert_eq!(used["key_id"], canary_id.as_str());
    assert_eq!(used["ip"], "198.51.100.7");
    assert_eq!(used["user_agent"], "curl/8.4.0 (thief)");
    assert_eq!(used["detail"]["last_request"], "POST /v1/payments");
    assert_eq!(used["detail"]["count"], 1);
    if let Some(location) = used["detail"].get("last_location") {
        assert!(location.as_str().is_some_and(|l| !l.is_empty()), "{used}");
    }

    // The keys it names are suspended at once, and the gate refuses them.
    let suspended = w.get("/v1/keys", admin);
    let backend_row = suspended.json["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == backend_id.as_str())
        .unwrap()
        .clone();
    assert_eq!(backend_row["status"], "active");
    assert!(backend_row["suspended_at"].is_string(), "{backend_row}");
    let suspension = &entries(&w, admin, "key.suspended")[0];
    assert_eq!(suspension["key_id"], backend_id.as_str());
    assert_eq!(suspension["actor"], "system");
    assert_eq!(suspension["detail"]["reason"], "canary_used");
    assert_eq!(suspension["detail"]["canary_key_id"], canary_id.as_str());
    wait_until(
        "the gate refuses the suspended key",
        Duration::from_secs(10),
        || w.get("/v1/users", &backend_key).code() == "suspended_key",
    );

    // The webhooks went out at once, signed.
    wait_until(
        "the key.canary_used webhook",
        Duration::from_secs(10),
        || {
            let got = webhook_types(&receiver, "alerts");
            got.iter().any(|(t, _)| t == "key.canary_used")
                && got.iter().any(|(t, _)| t == "key.suspended")
        },
    );
    let got = webhook_types(&receiver, "alerts");
    let (_, alert) = got.iter().find(|(t, _)| t == "key.canary_used").unwrap();
    assert_eq!(alert["data"]["key_id"], canary_id.as_str());
    assert_eq!(alert["data"]["last_request"], "POST /v1/payments");
    assert_eq!(alert["data"]["last_ip"], "198.51.100.7");
    assert!(!alert.to_string().contains(&canary));
    assert!(receiver
        .received("alerts")
        .iter()
        .all(|entry| entry["verified_by"] == json!([true])));

    // At the management API too: the answer of an unknown key, and the use recorded.
    let unknown_manage = from_thief(
        &w,
        "GET",
        "/v1/keys",
        unknown.expose_secret(),
        "198.51.100.2",
    );
    let canary_manage = from_thief(&w, "GET", "/v1/keys", &canary, "198.51.100.8");
    assert_eq!(visible(&canary_manage), visible(&unknown_manage));
    wait_until(
        "the management use counted",
        Duration::from_secs(10),
        || entries(&w, admin, "key.canary_used")[0]["detail"]["count"] == 2,
    );
    let used = &entries(&w, admin, "key.canary_used")[0];
    assert_eq!(used["detail"]["last_request"], "GET /v1/keys");
    assert_eq!(used["detail"]["last_ip"], "198.51.100.8");

    // The owner resumes the backend key; the next use suspends it again.
    let resumed = w.post(&format!("/v1/keys/{backend_id}/resume"), admin, None);
    assert_eq!(resumed.status, 200, "{}", resumed.body);
    from_thief(&w, "GET", "/v1/users", &canary, "198.51.100.9");
    wait_until("suspended again", Duration::from_secs(10), || {
        entries(&w, admin, "key.suspended").len() >= 2
    });

    // A canary is never rotated; a leak report records it and changes nothing else.
    let rotated = w.post(&format!("/v1/keys/{canary_id}/rotate"), admin, None);
    assert_eq!((rotated.status, rotated.code()), (409, "key_is_canary"));
    let report = json!([{"token": canary, "type": "aero2_secret_key", "url": "https://github.com/o/r/blob/main/.env", "source": "content"}]).to_string();
    let answer = github::report(&w, github::KEY_ID, &github::sign(&github, &report), &report);
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.json[0]["label"], "true_positive");
    let leaked = entries(&w, admin, "key.canary_leaked");
    assert_eq!(leaked.len(), 1);
    assert_eq!(leaked[0]["key_id"], canary_id.as_str());
    let row = w.get("/v1/keys?include_revoked=true", admin).json["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == canary_id.as_str())
        .unwrap()
        .clone();
    assert_eq!(row["status"], "active", "a leak report revokes no canary");

    // Revoked, it is retired: still refused as unknown, no longer recorded.
    let revoked = w.post(&format!("/v1/keys/{canary_id}/revoke"), admin, None);
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    let count = entries(&w, admin, "key.canary_used")[0]["detail"]["count"].clone();
    std::thread::sleep(Duration::from_millis(1500));
    let retired = from_thief(&w, "GET", "/v1/users", &canary, "198.51.100.10");
    let unknown_again = from_thief(
        &w,
        "GET",
        "/v1/users",
        unknown.expose_secret(),
        "198.51.100.3",
    );
    assert_eq!(visible(&retired), visible(&unknown_again));
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        entries(&w, admin, "key.canary_used")[0]["detail"]["count"],
        count
    );
    assert!(!persisted_anywhere(&w, &canary));
}

/// Whether a key's value (or its secret part) is anywhere in the local KV and Durable
/// Object files.
fn persisted_anywhere(w: &Worker, key: &str) -> bool {
    let secret = &key.as_bytes()[24..];
    files_below(&w.state_dir)
        .iter()
        .any(|(_, bytes)| contains(bytes, key.as_bytes()) || contains(bytes, secret))
}

#[test]
fn a_canary_fires_in_strict_mode() {
    a_canary_fires("strict");
}

#[test]
fn a_canary_fires_in_edge_mode() {
    a_canary_fires("edge");
}

#[test]
fn a_canary_fires_in_regional_mode() {
    a_canary_fires("regional");
}

/// What a canary may name, and who may create one: hostile bodies and callers.
#[test]
fn only_a_secret_key_without_a_policy_naming_keys_within_reach_is_a_canary() {
    let w = Worker::start("canary-requests", Options::default());
    let app = w.create_application("Canary requests", "production");
    let other = w.create_application("Another", "production");
    let admin = &app.secret.value;
    let create = |key: &str, body: Value| w.post("/v1/keys", key, Some(&body));
    for (body, code) in [
        (
            json!({"kind": "publishable", "canary": true}),
            "invalid_canary",
        ),
        (
            json!({"kind": "secret", "canary": true, "scopes": ["keys:read"]}),
            "invalid_canary",
        ),
        (
            json!({"kind": "secret", "canary_suspends": [app.secret.id]}),
            "invalid_canary",
        ),
        (
            json!({"kind": "secret", "canary": true, "canary_suspends": ["sk_live_x"]}),
            "invalid_canary",
        ),
        (
            json!({"kind": "secret", "canary": true, "canary_suspends": "key_AAAAAAAAAAAAAAAA"}),
            "invalid_request",
        ),
        (
            json!({"kind": "secret", "canary": "true"}),
            "invalid_request",
        ),
    ] {
        let reply = create(admin, body.clone());
        assert_eq!(
            (reply.status, reply.code()),
            (400, code),
            "{body}: {}",
            reply.body
        );
        assert!(!reply.body.contains(&admin[10..]), "no key in an error");
    }
    // Another application's key, and a key that does not exist: not found, as on every
    // route that names a key; nothing is created.
    for id in [other.secret.id.as_str(), "key_AAAAAAAAAAAAAAAA"] {
        let reply = create(
            admin,
            json!({"kind": "secret", "canary": true, "canary_suspends": [id]}),
        );
        assert_eq!(
            (reply.status, reply.code()),
            (404, "key_not_found"),
            "{}",
            reply.body
        );
    }
    assert_eq!(
        w.get("/v1/keys", admin).json["keys"]
            .as_array()
            .unwrap()
            .len(),
        2,
        "no key was created"
    );
    // A key restricted to reading cannot create one; a key that may write keys but is
    // itself restricted cannot name a key with more rights than it has.
    let reader = create(
        admin,
        json!({"kind": "secret", "label": "reader", "scopes": ["keys:read"]}),
    );
    let reader = reader.json["key"]["value"].as_str().unwrap().to_owned();
    let reply = create(&reader, json!({"kind": "secret", "canary": true}));
    assert_eq!(
        (reply.status, reply.code()),
        (403, "insufficient_scope"),
        "{}",
        reply.body
    );
    let writer = create(
        admin,
        json!({"kind": "secret", "label": "writer", "scopes": ["keys:read", "keys:write"]}),
    );
    let writer = writer.json["key"]["value"].as_str().unwrap().to_owned();
    let reply = create(
        &writer,
        json!({"kind": "secret", "canary": true, "canary_suspends": [app.secret.id]}),
    );
    assert_eq!(
        (reply.status, reply.code()),
        (403, "rights_exceeded"),
        "{}",
        reply.body
    );
    // Within its reach: a canary with no targets needs no rights beyond keys:write.
    let reply = create(
        &writer,
        json!({"kind": "secret", "canary": true, "label": "decoy"}),
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
    let canary = reply.json["key"]["value"].as_str().unwrap().to_owned();
    // A canary manages nothing, and naming a canary to suspend is refused.
    assert_eq!(w.get("/v1/keys", &canary).code(), "unknown_key");
    let canary_id = reply.json["key"]["id"].as_str().unwrap();
    let reply = create(
        admin,
        json!({"kind": "secret", "canary": true, "canary_suspends": [canary_id]}),
    );
    assert_eq!(
        (reply.status, reply.code()),
        (409, "key_is_canary"),
        "{}",
        reply.body
    );
    // The application's only real secret key stays its last: a canary keeps no one in.
    let app2 = w.create_application("Lonely", "production");
    let reply = create(
        &app2.secret.value,
        json!({"kind": "secret", "canary": true}),
    );
    assert_eq!(reply.status, 201);
    let reply = w.post(
        &format!("/v1/keys/{}/revoke", app2.secret.id),
        &app2.secret.value,
        None,
    );
    assert_eq!(
        (reply.status, reply.code()),
        (409, "last_active_secret_key"),
        "{}",
        reply.body
    );
}
