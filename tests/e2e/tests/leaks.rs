//! GitHub secret-scanning reports: signed with a test P-256 key configured in the worker,
//! as GitHub signs them. Only a genuine report revokes anything, and it revokes before
//! the response returns.

mod github;

use aero2_e2e::*;
use aero2_keys::StorageId;
use github::{report, sign, signing_key, trusted_keys, KEY_ID};
use serde_json::{json, Value};

#[test]
fn signed_reports_revoke_leaked_secret_keys_and_nothing_else_does() {
    let github = signing_key();
    let keys = trusted_keys(&github);
    let w = Worker::start(
        "leaks",
        Options {
            vars: vec![("GITHUB_SECRET_SCANNING_KEYS", keys)],
            ..Options::default()
        },
    );
    let app = w.create_application("Leaky", "production");
    let extra = w.post(
        "/v1/keys",
        &app.secret.value,
        Some(&json!({"kind": "secret", "label": "ci"})),
    );
    let extra_value = extra.json["key"]["value"].as_str().unwrap().to_string();
    let leaked_url = "https://github.com/someone/repo/blob/main/.env";
    let body = json!([
        {"token": app.secret.value, "type": "aero2_secret_key", "url": leaked_url, "source": "content"},
        {"token": app.publishable.value, "type": "aero2_secret_key", "url": leaked_url, "source": "content"},
        {"token": "sk_live_notarealkeyatall", "type": "aero2_secret_key", "url": leaked_url, "source": "content"},
    ])
    .to_string();
    let still_works = || assert_eq!(w.get("/v1/users", &app.secret.value).status, 200);

    // Nothing without a valid signature from a configured key.
    let forged = sign(&signing_key(), &body);
    assert_eq!(
        report(&w, KEY_ID, &forged, &body).code(),
        "invalid_signature"
    );
    still_works();
    let tampered = body.replace(leaked_url, "https://example.com");
    assert_eq!(
        report(&w, KEY_ID, &sign(&github, &body), &tampered).status,
        401
    );
    still_works();
    assert_eq!(
        report(&w, "unknown-identifier", &sign(&github, &body), &body).status,
        401
    );
    assert_eq!(
        report(&w, KEY_ID, "bm90IGEgc2lnbmF0dXJl", &body).status,
        401
    );
    let unsigned = request(
        "POST",
        &w.url("/v1/leaks/github"),
        &[("Content-Type", "application/json")],
        Some(&body),
    );
    assert_eq!(
        (unsigned.status, unsigned.code()),
        (401, "invalid_signature")
    );
    still_works();

    // A genuine report: the secret key is revoked before the response returns.
    let signature = sign(&github, &body);
    let reply = report(&w, KEY_ID, &signature, &body);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let refused = w.get("/v1/users", &app.secret.value);
    assert_eq!((refused.status, refused.code()), (401, "revoked_key"));
    let feedback = reply.json.as_array().unwrap();
    let hash = |token: &str| StorageId::of_key_text(token).to_hex();
    assert_eq!(
        feedback[0],
        json!({"token_hash": hash(&app.secret.value), "token_type": "aero2_secret_key", "label": "true_positive"})
    );
    assert_eq!(
        feedback[1]["label"], "false_positive",
        "publishable keys are public by design"
    );
    assert_eq!(feedback[2]["label"], "false_positive");
    assert_eq!(feedback[2]["token_hash"], hash("sk_live_notarealkeyatall"));
    assert!(!reply.body.contains(&app.secret.value));
    // The publishable key was reported but not revoked.
    assert_eq!(w.get("/v1/client/x", &app.publishable.value).status, 200);

    let audit = w.get("/v1/audit_log?event=key.leaked", &extra_value);
    let entries = audit.json["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{}", audit.body);
    assert_eq!(entries[0]["key_id"], app.secret.id.as_str());
    assert_eq!(entries[0]["detail"]["url"], leaked_url);
    assert_eq!(entries[0]["detail"]["source"], "content");
    let listed = w.get("/v1/keys?include_revoked=true", &extra_value);
    let leaked: Vec<&Value> = listed.json["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["revocation_reason"] == "leaked")
        .collect();
    assert_eq!(leaked.len(), 1);
    let reported = w.get("/v1/audit_log?event=key.leak_reported", &extra_value);
    assert_eq!(
        reported.json["entries"][0]["key_id"],
        app.publishable.id.as_str()
    );

    // A replay gets the same answer and changes nothing.
    let replay = report(&w, KEY_ID, &signature, &body);
    assert_eq!(replay.status, 200);
    assert_eq!(replay.json, reply.json);
    let audit = w.get("/v1/audit_log?event=key.leaked", &extra_value);
    assert_eq!(audit.json["entries"].as_array().unwrap().len(), 1);

    // Even the application's last active secret key goes when it leaks.
    let last = json!([{"token": extra_value, "type": "aero2_secret_key", "url": leaked_url, "source": "commit"}]).to_string();
    let reply = report(&w, KEY_ID, &sign(&github, &last), &last);
    assert_eq!(reply.json[0]["label"], "true_positive");
    assert_eq!(w.get("/v1/users", &extra_value).code(), "revoked_key");
    let operator = w.get(&format!("/v1/applications/{}/keys", app.id), ADMIN_TOKEN);
    assert!(operator.json["keys"]
        .as_array()
        .unwrap()
        .iter()
        .all(|k| k["kind"] != "secret"));
}

/// A report is refused by its declared size before it is read, and a report of 1,000
/// tokens across applications revokes every secret key in it: tokens are grouped by
/// application, one key-ring call each, so the Workers subrequest limit holds.
#[test]
fn a_thousand_token_report_revokes_every_key_and_huge_reports_are_refused_unread() {
    let github = signing_key();
    let keys = trusted_keys(&github);
    let w = Worker::start(
        "leaks-bulk",
        Options {
            vars: vec![("GITHUB_SECRET_SCANNING_KEYS", keys)],
            ..Options::default()
        },
    );

    // Larger than the 1 MiB limit: 413 by its Content-Length, before the body is read.
    // (wrangler dev's local proxy buffers a body before the worker sees the request, so
    // the body is sent whole; the worker decides on the header alone.)
    let huge = format!("[{}]", " ".repeat(2 << 20));
    let refused = report(&w, KEY_ID, "MEUCIQ==", &huge);
    assert_eq!((refused.status, refused.code()), (413, "payload_too_large"));

    // Ten applications of 99 secret keys each (100 live keys is the most an application
    // may have, one of them publishable), and 10 tokens that are not keys: 1,000 tokens.
    let mut secrets: Vec<String> = Vec::new();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..10)
            .map(|i| {
                let w = &w;
                scope.spawn(move || {
                    let app = w.create_application(&format!("Bulk {i}"), "production");
                    let mut values = vec![app.secret.value.clone()];
                    for _ in 0..98 {
                        let created = w.post(
                            "/v1/keys",
                            &app.secret.value,
                            Some(&json!({"kind": "secret", "label": "bulk"})),
                        );
                        assert_eq!(created.status, 201, "{}", created.body);
                        values.push(created.json["key"]["value"].as_str().unwrap().to_string());
                    }
                    values
                })
            })
            .collect();
        for handle in handles {
            secrets.extend(handle.join().unwrap());
        }
    });
    assert_eq!(secrets.len(), 990);
    let mut tokens: Vec<Value> = secrets
        .iter()
        .map(|token| json!({"token": token, "type": "aero2_secret_key", "url": "https://github.com/o/r/blob/x", "source": "content"}))
        .collect();
    for i in 0..10 {
        tokens.push(json!({"token": format!("not-a-key-{i}"), "type": "aero2_secret_key", "url": "", "source": "content"}));
    }
    let body = Value::Array(tokens).to_string();
    let answer = report(&w, KEY_ID, &sign(&github, &body), &body);
    assert_eq!(
        answer.status,
        200,
        "{}",
        &answer.body[..answer.body.len().min(300)]
    );
    let labels = answer.json.as_array().unwrap();
    assert_eq!(labels.len(), 1000);
    assert_eq!(
        labels
            .iter()
            .filter(|l| l["label"] == "true_positive")
            .count(),
        990
    );
    for (label, token) in labels.iter().zip(&secrets) {
        assert_eq!(label["token_hash"], StorageId::of_key_text(token).to_hex());
    }
    // Every one of them is refused now.
    for token in secrets.iter().step_by(37) {
        let reply = request(
            "GET",
            &w.url("/v1/users"),
            &[
                ("Authorization", &bearer(token)),
                ("CF-Connecting-IP", "10.11.0.1"),
            ],
            None,
        );
        assert_eq!(reply.code(), "revoked_key");
    }
}
