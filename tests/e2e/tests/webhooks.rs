//! Webhooks, end to end: the worker in workerd delivers to a local receiver that checks
//! every signature with the `standardwebhooks` npm package (tests/e2e/webhook-receiver.mjs).
//! Times are shortened through configuration: 1 s delivery timeout, retries from 300 ms,
//! endpoints disabled after 4 s of failure, the grace-period warning 3 s before the end.

mod github;

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;
use std::time::Duration;

use aero2_e2e::*;
use serde_json::{json, Value};

struct Setup {
    worker: Worker,
    receiver: Receiver,
    github: p256::ecdsa::SigningKey,
}

fn vars(github: &p256::ecdsa::SigningKey) -> Vec<(&'static str, String)> {
    vec![
        ("WEBHOOK_ALLOW_HTTP", "true".into()),
        ("WEBHOOK_TIMEOUT_MS", "1000".into()),
        ("WEBHOOK_FIRST_RETRY_MS", "300".into()),
        ("WEBHOOK_MAX_RETRY_MS", "1000".into()),
        ("WEBHOOK_DISABLE_AFTER_SECONDS", "4".into()),
        ("WEBHOOK_GRACE_WARNING_SECONDS", "3".into()),
        ("GITHUB_SECRET_SCANNING_KEYS", github::trusted_keys(github)),
    ]
}

/// One worker and one receiver for the tests that can share them (each uses its own
/// application and endpoint names).
fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| {
        let github = github::signing_key();
        let worker = Worker::start(
            "webhooks",
            Options {
                vars: vars(&github),
                ..Options::default()
            },
        );
        let receiver = Receiver::start(&worker.log_dir);
        Setup {
            worker,
            receiver,
            github,
        }
    })
}

fn send(w: &Worker, method: &str, path: &str, key: &str, body: Option<&Value>) -> Reply {
    let body = body.map(Value::to_string);
    let auth = bearer(key);
    let mut headers = vec![("Authorization", auth.as_str())];
    if body.is_some() {
        headers.push(("Content-Type", "application/json"));
    }
    request(method, &w.url(path), &headers, body.as_deref())
}

/// Creates an endpoint; returns its id and secret.
fn create_endpoint(w: &Worker, key: &str, url: &str, events: Value) -> (String, String) {
    let reply = send(
        w,
        "POST",
        "/v1/webhook_endpoints",
        key,
        Some(&json!({"url": url, "events": events, "description": "tests"})),
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
    let secret = reply.json["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    (
        reply.json["endpoint"]["id"].as_str().unwrap().to_owned(),
        secret,
    )
}

/// The messages `name` received, parsed, with the receiver's notes.
fn messages(receiver: &Receiver, name: &str) -> Vec<Value> {
    receiver
        .received(name)
        .into_iter()
        .map(|mut entry| {
            entry["payload"] = serde_json::from_str(entry["body"].as_str().unwrap_or("null"))
                .unwrap_or(Value::Null);
            entry
        })
        .collect()
}

fn types(messages: &[Value]) -> Vec<String> {
    messages
        .iter()
        .map(|m| m["payload"]["type"].as_str().unwrap_or("").to_owned())
        .collect()
}

fn gate(w: &Worker, path: &str, key: &str, extra: &[(&str, &str)]) -> Reply {
    let auth = bearer(key);
    let mut headers = vec![("Authorization", auth.as_str())];
    headers.extend_from_slice(extra);
    request("GET", &w.url(path), &headers, None)
}

#[test]
fn every_event_type_arrives_signed_so_that_standardwebhooks_verifies_it() {
    let Setup {
        worker: w,
        receiver,
        github,
    } = setup();
    let app = w.create_application("Hooked", "production");
    let sk = app.secret.value.clone();
    let (endpoint, secret) = create_endpoint(w, &sk, &receiver.url("all"), json!(["*"]));
    receiver.configure("all", &json!({"secrets": [secret]}));
    let mut values = vec![sk.clone(), app.publishable.value.clone()];
    let mut create = |body: Value| {
        let reply = w.post("/v1/keys", &sk, Some(&body));
        assert_eq!(reply.status, 201, "{}", reply.body);
        values.push(reply.json["key"]["value"].as_str().unwrap().to_owned());
        (
            reply.json["key"]["id"].as_str().unwrap().to_owned(),
            reply.json["key"]["value"].as_str().unwrap().to_owned(),
        )
    };

    // key.created, key.updated, key.suspended, key.resumed
    let (limited_id, limited) = create(
        json!({"kind": "secret", "label": "limited", "rate_limit": {"requests": 1, "per_seconds": 3600}}),
    );
    let patched = send(
        w,
        "PATCH",
        &format!("/v1/keys/{limited_id}"),
        &sk,
        Some(&json!({"label": "renamed"})),
    );
    assert_eq!(patched.status, 200, "{}", patched.body);
    for action in ["suspend", "resume"] {
        let reply = w.post(&format!("/v1/keys/{limited_id}/{action}"), &sk, None);
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    // key.rate_limited
    assert_eq!(gate(w, "/v1/users", &limited, &[]).status, 200);
    assert_eq!(gate(w, "/v1/users", &limited, &[]).code(), "rate_limited");
    // key.secret_in_browser
    let browser = gate(w, "/v1/users", &sk, &[("Origin", "https://evil.example")]);
    assert_eq!(browser.code(), "secret_key_in_browser");
    // key.origin_not_allowed
    let (_, site_key) = create(json!({"kind": "publishable", "label": "site",
        "allowed_origins": ["https://shop.example"], "origin_policy": "report"}));
    let reported = gate(
        w,
        "/v1/client/config",
        &site_key,
        &[("Origin", "https://elsewhere.example")],
    );
    assert_eq!(reported.status, 200, "{}", reported.body);
    // key.expiring_soon: 4 s past one day away, so the 7-day reminder is due at once and
    // the 1-day one 4 s later.
    create(json!({"kind": "secret", "label": "expiring", "expires_in_seconds": 86_404}));
    // key.leaked
    let (leaked_id, leaked) = create(json!({"kind": "secret", "label": "leaked"}));
    let report = json!([{"token": leaked, "type": "aero2_secret_key",
        "url": "https://github.com/someone/repo/blob/main/.env", "source": "content"}])
    .to_string();
    let answer = github::report(w, github::KEY_ID, &github::sign(github, &report), &report);
    assert_eq!(answer.status, 200, "{}", answer.body);
    // key.revoked
    let (revoked_id, _) = create(json!({"kind": "publishable", "label": "gone"}));
    assert_eq!(
        w.post(&format!("/v1/keys/{revoked_id}/revoke"), &sk, None)
            .status,
        200
    );
    // webhook.test
    let test = w.post(&format!("/v1/webhook_endpoints/{endpoint}/test"), &sk, None);
    assert_eq!(test.status, 202, "{}", test.body);
    // key.rotated, key.grace_period_in_use (first use, then ending), key.expired
    let (old_id, old) = create(json!({"kind": "secret", "label": "rotating"}));
    let rotated = w.post(
        &format!("/v1/keys/{old_id}/rotate"),
        &sk,
        Some(&json!({"grace_period_seconds": 7})),
    );
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    values.push(rotated.json["key"]["value"].as_str().unwrap().to_owned());
    // The old key, still used during its grace period.
    for _ in 0..12 {
        gate(w, "/v1/users", &old, &[]);
        std::thread::sleep(Duration::from_millis(500));
    }

    let wanted: HashSet<&str> = [
        "key.created",
        "key.updated",
        "key.suspended",
        "key.resumed",
        "key.rate_limited",
        "key.secret_in_browser",
        "key.origin_not_allowed",
        "key.expiring_soon",
        "key.leaked",
        "key.revoked",
        "webhook.test",
        "key.rotated",
        "key.grace_period_in_use",
        "key.expired",
    ]
    .into();
    let complete = || {
        let got = messages(receiver, "all");
        let seen: HashSet<String> = types(&got).into_iter().collect();
        let reminders = got
            .iter()
            .filter(|m| {
                ["key.expiring_soon", "key.grace_period_in_use"]
                    .contains(&m["payload"]["type"].as_str().unwrap_or(""))
            })
            .count();
        wanted.iter().all(|t| seen.contains(*t)) && reminders >= 4
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !complete() {
        assert!(
            std::time::Instant::now() < deadline,
            "not every event type arrived: {:?}",
            types(&messages(receiver, "all"))
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let got = messages(receiver, "all");

    for message in &got {
        let body = message["body"].as_str().unwrap();
        assert_eq!(message["verified_by"], json!([true]), "{body}");
        assert!(verifies_in_rust(&secret, message), "{body}");
        assert_eq!(message["content_type"], "application/json");
        assert_eq!(message["answer"], 204);
        let payload = &message["payload"];
        assert!(payload["timestamp"].as_str().unwrap().ends_with('Z'));
        assert_eq!(payload["data"]["application_id"], app.id.as_str(), "{body}");
        for value in &values {
            assert!(!body.contains(value.as_str()), "a key's value in {body}");
        }
    }
    // One message per event: each webhook-id once (nothing here failed and was retried).
    let ids: Vec<&str> = got.iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids.iter().collect::<HashSet<_>>().len(),
        ids.len(),
        "{ids:?}"
    );
    let of_type = |t: &str| -> Vec<&Value> {
        got.iter()
            .filter(|m| m["payload"]["type"] == t)
            .map(|m| &m["payload"]["data"])
            .collect()
    };
    let reminders = |t: &str| -> Vec<String> {
        of_type(t)
            .iter()
            .map(|d| d["reminder"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    assert_eq!(reminders("key.expiring_soon"), ["7_days", "1_day"]);
    assert_eq!(
        reminders("key.grace_period_in_use"),
        ["first_use", "grace_period_ending"]
    );
    for data in of_type("key.grace_period_in_use") {
        assert_eq!(data["key_id"], old_id.as_str());
    }
    let rotated_data = &of_type("key.rotated")[0];
    assert_eq!(rotated_data["key_id"], old_id.as_str());
    assert_eq!(rotated_data["grace_period_seconds"], 7);
    assert!(rotated_data["new_key_id"]
        .as_str()
        .unwrap()
        .starts_with("key_"));
    assert!(of_type("key.expired")
        .iter()
        .any(|d| d["key_id"] == old_id.as_str()));
    assert!(of_type("key.leaked")
        .iter()
        .any(|d| d["key_id"] == leaked_id.as_str() && d["source"] == "content"));
    let updated = of_type("key.updated");
    assert_eq!(updated[0]["fields"], json!(["label"]));
    assert!(of_type("key.origin_not_allowed")[0]["origins"]
        .as_array()
        .unwrap()
        .contains(&json!("https://elsewhere.example")));
    assert_eq!(of_type("webhook.test")[0]["endpoint_id"], endpoint.as_str());
    // The hint is there to recognise the key; the value never is.
    assert!(of_type("key.created")[0]["hint"]
        .as_str()
        .unwrap()
        .contains('…'));

    // The deliveries say the same.
    let deliveries = w.get(&format!("/v1/webhook_endpoints/{endpoint}/deliveries"), &sk);
    assert_eq!(deliveries.status, 200);
    let rows = deliveries.json["deliveries"].as_array().unwrap();
    assert_eq!(rows.len(), got.len().min(100));
    assert!(rows
        .iter()
        .all(|r| r["delivered"] == true && r["status"] == 204 && r["attempt"] == 1));

    // The secret is shown once: never listed, never stored.
    let listed = w.get("/v1/webhook_endpoints", &sk);
    assert!(!listed.body.contains("whsec_"));
    assert_eq!(listed.json["endpoints"][0]["events"], json!(["*"]));
    assert_eq!(listed.json["endpoints"][0]["status"], "enabled");
    let secret_bytes = &secret["whsec_".len()..];
    assert!(
        !persisted_state_contains(&w.state_dir, secret_bytes),
        "the endpoint secret was found in local storage"
    );
    let audit = w.get("/v1/audit_log?event=webhook_endpoint.created", &sk);
    let entry = &audit.json["entries"][0];
    assert_eq!(entry["detail"]["host"], "127.0.0.1");
    assert!(!audit.body.contains("/hooks/"), "only the host is audited");
}

/// What the README's Rust receiver does: the `standardwebhooks` crate checks the message.
fn verifies_in_rust(secret: &str, message: &Value) -> bool {
    let mut headers = http::HeaderMap::new();
    for (name, field) in [
        ("webhook-id", "id"),
        ("webhook-timestamp", "timestamp"),
        ("webhook-signature", "signature"),
    ] {
        headers.insert(name, message[field].as_str().unwrap().parse().unwrap());
    }
    let Ok(webhook) = standardwebhooks::Webhook::new(secret) else {
        return false;
    };
    let body = message["body"].as_str().unwrap().as_bytes();
    webhook.verify(body, &headers).is_ok()
}

/// Whether any file of the worker's local state (KV, Durable Objects) holds `needle`.
fn persisted_state_contains(dir: &std::path::Path, needle: &str) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|entry| {
        let path = entry.path();
        if path.is_dir() {
            persisted_state_contains(&path, needle)
        } else {
            std::fs::read(&path).is_ok_and(|bytes| {
                bytes
                    .windows(needle.len())
                    .any(|window| window == needle.as_bytes())
            })
        }
    })
}

#[test]
fn a_failing_receiver_gets_the_same_message_again_until_it_answers() {
    let Setup {
        worker: w,
        receiver,
        ..
    } = setup();
    let app = w.create_application("Flaky", "production");
    let sk = &app.secret.value;
    let (endpoint, secret) = create_endpoint(w, sk, &receiver.url("flaky"), json!(["key.revoked"]));
    receiver.configure(
        "flaky",
        &json!({"secrets": [secret], "fail_first": 2, "status": 503}),
    );
    let sent = w.post(&format!("/v1/webhook_endpoints/{endpoint}/test"), sk, None);
    let message_id = sent.json["message_id"].as_str().unwrap().to_owned();
    wait_until("the third attempt", Duration::from_secs(20), || {
        messages(receiver, "flaky").len() >= 3
    });
    let got = messages(receiver, "flaky");
    assert_eq!(got.len(), 3, "no attempt after the delivery");
    assert!(got.iter().all(|m| m["id"] == message_id.as_str()));
    assert!(got.iter().all(|m| m["verified_by"] == json!([true])));
    let answers: Vec<u64> = got.iter().map(|m| m["answer"].as_u64().unwrap()).collect();
    assert_eq!(answers, [503, 503, 204]);
    // Backoff: the second retry waited longer than the first (300 ms, then 600 ms, each
    // within ±20 %).
    let at: Vec<u64> = got.iter().map(|m| m["at"].as_u64().unwrap()).collect();
    assert!(at[1] - at[0] >= 240, "{at:?}");
    assert!(at[2] - at[1] >= 480, "{at:?}");
    let deliveries = w.get(&format!("/v1/webhook_endpoints/{endpoint}/deliveries"), sk);
    let rows: Vec<(u64, Value, bool)> = deliveries.json["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["attempt"].as_u64().unwrap(),
                r["status"].clone(),
                r["delivered"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (3, json!(204), true),
            (2, json!(503), false),
            (1, json!(503), false)
        ]
    );
    let listed = w.get("/v1/webhook_endpoints", sk);
    assert_eq!(listed.json["endpoints"][0]["failing_since"], Value::Null);
}

#[test]
fn a_receiver_that_never_answers_times_out_is_disabled_and_can_be_enabled_and_resent_to() {
    let Setup {
        worker: w,
        receiver,
        ..
    } = setup();
    let app = w.create_application("Silent", "production");
    let sk = &app.secret.value;
    let (endpoint, secret) = create_endpoint(w, sk, &receiver.url("silent"), json!(["*"]));
    receiver.configure("silent", &json!({"secrets": [secret], "hang": true}));
    let sent = w.post(&format!("/v1/webhook_endpoints/{endpoint}/test"), sk, None);
    let message_id = sent.json["message_id"].as_str().unwrap().to_owned();
    wait_until(
        "the endpoint to be disabled",
        Duration::from_secs(30),
        || w.get("/v1/webhook_endpoints", sk).json["endpoints"][0]["status"] == "disabled",
    );
    let deliveries = w.get(&format!("/v1/webhook_endpoints/{endpoint}/deliveries"), sk);
    let rows = deliveries.json["deliveries"].as_array().unwrap();
    assert!(rows.len() >= 2, "{}", deliveries.body);
    for row in rows {
        assert_eq!(row["error"], "timeout", "{row}");
        assert_eq!(row["status"], Value::Null);
        let latency = row["latency_ms"].as_u64().unwrap();
        assert!((900..5_000).contains(&latency), "{latency}");
    }
    let disabled = w.get("/v1/audit_log?event=webhook_endpoint.disabled", sk);
    assert_eq!(disabled.json["entries"].as_array().unwrap().len(), 1);
    assert_eq!(disabled.json["entries"][0]["actor"], "system");
    // Disabled: nothing more is tried, and a test says why.
    let attempts = receiver.received("silent").len();
    let refused = w.post(&format!("/v1/webhook_endpoints/{endpoint}/test"), sk, None);
    assert_eq!(
        (refused.status, refused.code()),
        (409, "webhook_endpoint_disabled")
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(receiver.received("silent").len(), attempts);

    // Fixed, enabled, and the message sent again by hand.
    receiver.configure("silent", &json!({"secrets": [secret]}));
    let enabled = w.post(
        &format!("/v1/webhook_endpoints/{endpoint}/enable"),
        sk,
        None,
    );
    assert_eq!(enabled.status, 200, "{}", enabled.body);
    assert_eq!(enabled.json["endpoint"]["status"], "enabled");
    let again = w.post(
        &format!("/v1/webhook_endpoints/{endpoint}/enable"),
        sk,
        None,
    );
    assert_eq!(again.code(), "webhook_endpoint_enabled");
    let resent = w.post(
        &format!("/v1/webhook_endpoints/{endpoint}/messages/{message_id}/resend"),
        sk,
        None,
    );
    assert_eq!(resent.status, 202, "{}", resent.body);
    wait_until("the resent message", Duration::from_secs(15), || {
        messages(receiver, "silent")
            .iter()
            .any(|m| m["id"] == message_id.as_str() && m["answer"] == 204)
    });
    let unknown = w.post(
        &format!("/v1/webhook_endpoints/{endpoint}/messages/msg_AAAAAAAAAAAAAAAA/resend"),
        sk,
        None,
    );
    assert_eq!(
        (unknown.status, unknown.code()),
        (404, "webhook_message_not_found")
    );
}

#[test]
fn rotating_a_secret_signs_with_the_new_and_the_old_one_for_a_day() {
    let Setup {
        worker: w,
        receiver,
        ..
    } = setup();
    let app = w.create_application("Rotating", "production");
    let sk = &app.secret.value;
    let (endpoint, first) = create_endpoint(w, sk, &receiver.url("rotate"), json!(["*"]));
    let rotate = || {
        let reply = w.post(
            &format!("/v1/webhook_endpoints/{endpoint}/rotate_secret"),
            sk,
            None,
        );
        assert_eq!(reply.status, 200, "{}", reply.body);
        let expires = reply.json["endpoint"]["previous_secret_expires_at"]
            .as_str()
            .unwrap()
            .to_owned();
        (reply.json["secret"].as_str().unwrap().to_owned(), expires)
    };
    let rotated_at = wall_ms();
    let (second, expires) = rotate();
    assert_ne!(first, second);
    // The old secret signs for a day from the rotation, and no longer.
    let day = 24 * 60 * 60 * 1000;
    let until = millis(&json!(expires));
    assert!(
        (rotated_at + day - 60_000..=rotated_at + day + 60_000).contains(&until),
        "the previous secret stops at {expires}, not a day after the rotation"
    );
    receiver.configure("rotate", &json!({"secrets": [first, second]}));
    w.post(&format!("/v1/webhook_endpoints/{endpoint}/test"), sk, None);
    wait_until("a message", Duration::from_secs(15), || {
        !receiver.received("rotate").is_empty()
    });
    let got = messages(receiver, "rotate");
    assert_eq!(
        got[0]["verified_by"],
        json!([true, true]),
        "both secrets sign"
    );
    assert_eq!(got[0]["signature"].as_str().unwrap().split(' ').count(), 2);
    // Rotated again: the first secret no longer signs.
    let (third, _) = rotate();
    receiver.configure("rotate", &json!({"secrets": [first, second, third]}));
    w.post(&format!("/v1/webhook_endpoints/{endpoint}/test"), sk, None);
    wait_until("a second message", Duration::from_secs(15), || {
        receiver.received("rotate").len() >= 2
    });
    assert_eq!(
        messages(receiver, "rotate")[1]["verified_by"],
        json!([false, true, true])
    );
    let audit = w.get("/v1/audit_log?event=webhook_endpoint.secret_rotated", sk);
    assert_eq!(audit.json["entries"].as_array().unwrap().len(), 2);
    assert!(!audit.body.contains("whsec_"));
}

#[test]
fn deliveries_pending_when_the_worker_is_killed_still_arrive() {
    let github = github::signing_key();
    let mut settings = vars(&github);
    // Slow retries, so that messages are still waiting when the worker dies.
    settings.retain(|(name, _)| *name != "WEBHOOK_FIRST_RETRY_MS");
    settings.push(("WEBHOOK_FIRST_RETRY_MS", "3000".into()));
    let mut w = Worker::start(
        "webhooks-kill",
        Options {
            vars: settings,
            ..Options::default()
        },
    );
    let receiver = Receiver::start(&w.log_dir);
    let app = w.create_application("Crashing", "production");
    let sk = app.secret.value.clone();
    let (_, secret) = create_endpoint(&w, &sk, &receiver.url("crash"), json!(["key.created"]));
    receiver.configure(
        "crash",
        &json!({"secrets": [secret], "fail_first": 5, "status": 503}),
    );
    for i in 0..5 {
        let reply = w.post(
            "/v1/keys",
            &sk,
            Some(&json!({"kind": "publishable", "label": format!("k{i}")})),
        );
        assert_eq!(reply.status, 201);
    }
    wait_until("the first attempts", Duration::from_secs(15), || {
        receiver.received("crash").len() >= 5
    });
    w.restart("KILL");
    // Nothing is asked of the application after the restart: its alarm alone delivers.
    wait_until(
        "every message delivered after the crash",
        Duration::from_secs(45),
        || {
            let delivered: HashSet<String> = messages(&receiver, "crash")
                .iter()
                .filter(|m| m["answer"] == 204)
                .map(|m| m["id"].as_str().unwrap().to_owned())
                .collect();
            delivered.len() == 5
        },
    );
    let got = messages(&receiver, "crash");
    let mut per_id: HashMap<&str, usize> = HashMap::new();
    for m in &got {
        assert_eq!(m["verified_by"], json!([true]));
        *per_id.entry(m["id"].as_str().unwrap()).or_default() += 1;
    }
    assert_eq!(per_id.len(), 5, "five events, five ids");
}

#[test]
fn hostile_requests_to_the_webhook_api_are_refused() {
    let Setup {
        worker: w,
        receiver,
        ..
    } = setup();
    let app = w.create_application("Guarded", "production");
    let other = w.create_application("Other", "production");
    let sk = &app.secret.value;
    let (endpoint, _) = create_endpoint(w, sk, &receiver.url("guarded"), json!(["*"]));
    let create =
        |key: &str, body: Value| send(w, "POST", "/v1/webhook_endpoints", key, Some(&body));
    let code = |reply: Reply| (reply.status, reply.code().to_owned());
    let url = receiver.url("x");

    // Keys that may not manage webhooks.
    assert_eq!(
        code(create(&app.publishable.value, json!({"url": url}))),
        (403, "publishable_key_not_allowed".into())
    );
    let scoped = |scopes: Value| {
        w.post(
            "/v1/keys",
            sk,
            Some(&json!({"kind": "secret", "scopes": scopes})),
        )
        .json["key"]["value"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let keys_only = scoped(json!(["keys:read", "keys:write"]));
    assert_eq!(
        code(create(&keys_only, json!({"url": url}))),
        (403, "insufficient_scope".into())
    );
    assert_eq!(
        code(w.get("/v1/webhook_endpoints", &keys_only)),
        (403, "insufficient_scope".into())
    );
    let reader = scoped(json!(["webhooks:read"]));
    assert_eq!(w.get("/v1/webhook_endpoints", &reader).status, 200);
    assert_eq!(
        code(create(&reader, json!({"url": url}))),
        (403, "insufficient_scope".into())
    );
    // Found by review: events carry the key list and audit details, so pointing an
    // endpoint somewhere needs the rights to read both, not webhooks:write alone.
    let hooks_only = scoped(json!(["webhooks:write"]));
    let refused = create(&hooks_only, json!({"url": url}));
    assert_eq!(
        (refused.status, refused.code()),
        (403, "insufficient_scope")
    );
    assert!(refused.body.contains("keys:read"), "{}", refused.body);
    // The second attacker pass: the same key could rotate an endpoint's secret and read
    // the new one, then sign key.revoked or key.leaked messages the receiver trusts.
    let rotate = send(
        w,
        "POST",
        &format!("/v1/webhook_endpoints/{endpoint}/rotate_secret"),
        &hooks_only,
        None,
    );
    assert_eq!(
        (rotate.status, rotate.code()),
        (403, "insufficient_scope"),
        "{}",
        rotate.body
    );
    assert!(!rotate.body.contains("whsec_"), "{}", rotate.body);
    let hooks_and_reads = scoped(json!(["webhooks:write", "keys:read", "audit:read"]));
    let allowed = create(&hooks_and_reads, json!({"url": url}));
    assert_eq!(allowed.status, 201, "{}", allowed.body);
    // Deleted again: the count of endpoints below starts from none.
    let allowed_id = allowed.json["endpoint"]["id"].as_str().unwrap();
    let deleted = send(
        w,
        "DELETE",
        &format!("/v1/webhook_endpoints/{allowed_id}"),
        &hooks_and_reads,
        None,
    );
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    // A key in its grace period manages nothing.
    let (old_id, old) = {
        let reply = w.post("/v1/keys", sk, Some(&json!({"kind": "secret"})));
        (
            reply.json["key"]["id"].as_str().unwrap().to_owned(),
            reply.json["key"]["value"].as_str().unwrap().to_owned(),
        )
    };
    w.post(
        &format!("/v1/keys/{old_id}/rotate"),
        sk,
        Some(&json!({"grace_period_seconds": 600})),
    );
    assert_eq!(
        code(create(&old, json!({"url": url}))),
        (403, "key_in_grace_period".into())
    );

    // Another application's endpoint does not exist here, whatever is asked of it.
    let osk = &other.secret.value;
    for (method, path) in [
        ("DELETE", format!("/v1/webhook_endpoints/{endpoint}")),
        ("POST", format!("/v1/webhook_endpoints/{endpoint}/test")),
        (
            "POST",
            format!("/v1/webhook_endpoints/{endpoint}/rotate_secret"),
        ),
        (
            "GET",
            format!("/v1/webhook_endpoints/{endpoint}/deliveries"),
        ),
        ("POST", "/v1/webhook_endpoints/ep_..%2F..%2Fx/test".into()),
        ("DELETE", "/v1/webhook_endpoints/ep_AAAAAAAAAAAAAAA".into()),
    ] {
        let reply = send(w, method, &path, osk, None);
        assert!(
            [(404, "webhook_endpoint_not_found"), (400, "invalid_path")]
                .contains(&(reply.status, reply.code())),
            "{method} {path}: {}",
            reply.body
        );
    }

    // Bad bodies.
    for (body, expected) in [
        (json!({"url": "ftp://x.example/"}), "invalid_webhook_url"),
        (
            json!({"url": "https://user:pw@x.example/"}),
            "invalid_webhook_url",
        ),
        (
            json!({"url": "https://x.example/#part"}),
            "invalid_webhook_url",
        ),
        (json!({"url": "not a url"}), "invalid_webhook_url"),
        (json!({"url": "javascript:alert(1)"}), "invalid_webhook_url"),
        (
            json!({"url": format!("https://x.example/{}", "a".repeat(2100))}),
            "invalid_webhook_url",
        ),
        (
            json!({"url": url, "events": ["key.bogus"]}),
            "invalid_webhook_events",
        ),
        (json!({"url": url, "events": []}), "invalid_webhook_events"),
        (
            json!({"url": url, "events": ["webhook.test"]}),
            "invalid_webhook_events",
        ),
        (json!({"url": url, "events": null}), "invalid_request"),
        (
            json!({"url": url, "description": "bell\u{7}"}),
            "invalid_description",
        ),
        (
            json!({"url": url, "description": "\u{202e}evil"}),
            "invalid_description",
        ),
        (
            json!({"url": url, "secret": "whsec_mine"}),
            "invalid_request",
        ),
        (json!([{"url": url}]), "invalid_request"),
    ] {
        let reply = create(sk, body.clone());
        assert_eq!((reply.status, reply.code()), (400, expected), "{body}");
        assert!(!reply.body.contains("pw@"), "the URL is never echoed");
    }
    let huge = format!(
        r#"{{"url":"{url}","description":"{}"}}"#,
        "d".repeat(20_000)
    );
    let reply = request(
        "POST",
        &w.url("/v1/webhook_endpoints"),
        &[
            ("Authorization", &bearer(sk)),
            ("Content-Type", "application/json"),
        ],
        Some(&huge),
    );
    assert_eq!(reply.status, 413);
    let put = send(w, "PUT", "/v1/webhook_endpoints", sk, None);
    assert_eq!((put.status, put.header("Allow")), (405, Some("GET, POST")));

    // At most 10 endpoints.
    for i in 1..10 {
        create_endpoint(
            w,
            sk,
            &receiver.url(&format!("many{i}")),
            json!(["key.leaked"]),
        );
    }
    assert_eq!(
        code(create(sk, json!({"url": url}))),
        (409, "too_many_webhook_endpoints".into())
    );
    // Deleting one makes room; its id is then gone.
    let deleted = send(
        w,
        "DELETE",
        &format!("/v1/webhook_endpoints/{endpoint}"),
        sk,
        None,
    );
    assert_eq!(deleted.status, 204);
    assert_eq!(
        code(send(
            w,
            "DELETE",
            &format!("/v1/webhook_endpoints/{endpoint}"),
            sk,
            None
        )),
        (404, "webhook_endpoint_not_found".into())
    );
    assert_eq!(create(sk, json!({"url": url})).status, 201);

    // The operator reaches the same endpoints.
    let operator = w.get(
        &format!("/v1/applications/{}/webhook_endpoints", app.id),
        ADMIN_TOKEN,
    );
    assert_eq!(operator.status, 200);
    assert_eq!(operator.json["endpoints"].as_array().unwrap().len(), 10);
}

#[test]
fn production_settings_refuse_plain_http_and_local_addresses_and_need_a_secret() {
    let w = Worker::start(
        "webhooks-production",
        Options {
            without_webhook_secret: true,
            ..Options::default()
        },
    );
    let app = w.create_application("Production", "production");
    let sk = &app.secret.value;
    for url in [
        "http://hooks.example.com/x",
        "https://127.0.0.1/x",
        "https://10.1.2.3/x",
        "https://[::1]/x",
        "https://169.254.169.254/latest/meta-data",
        "https://localhost/x",
        "https://printer.local/x",
        // The same places, spelled so a string check would miss them: the worker judges
        // the host the WHATWG URL parser gives, as fetch would use it.
        "https://0x7f.1/x",
        "https://2130706433/x",
        "https://[::ffff:a9fe:a9fe]/x",
        "https://[64:ff9b::a9fe:a9fe]/x",
        "https://[2002:7f00:1::]/x",
        "https://[::127.0.0.1]/x",
        "https://224.0.0.1/x",
        "https://metadata.google.internal/computeMetadata/v1/",
        "https://LocalHost./x",
    ] {
        let reply = send(
            &w,
            "POST",
            "/v1/webhook_endpoints",
            sk,
            Some(&json!({"url": url})),
        );
        assert_eq!(
            (reply.status, reply.code()),
            (400, "invalid_webhook_url"),
            "{url}"
        );
    }
    let reply = send(
        &w,
        "POST",
        "/v1/webhook_endpoints",
        sk,
        Some(&json!({"url": "https://hooks.example.com/aero2"})),
    );
    assert_eq!(
        (reply.status, reply.code()),
        (503, "webhooks_not_configured")
    );
    assert_eq!(w.get("/v1/webhook_endpoints", sk).status, 200);
}
