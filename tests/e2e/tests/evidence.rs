//! Proving what happened (#23), in workerd: the hash-chained audit log, its signed
//! checkpoints and JSON Lines export, checked by a verifier that shares no code with the
//! product (tests/e2e/verify-audit.mjs: a standard JCS and JOSE library), and the signed
//! receipts of key changes.

use std::process::Command;

use aero2_e2e::*;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};

fn worker(name: &str, vars: Vec<(&'static str, String)>) -> Worker {
    Worker::start(
        name,
        Options {
            test_build: true,
            vars,
            ..Options::default()
        },
    )
}

/// A JWS's header and claims, decoded (the signature is checked by the verifier).
fn decode(token: &str) -> (Value, Value) {
    let mut parts = token.split('.');
    let mut part =
        || serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts.next().unwrap()).unwrap()).unwrap();
    (part(), part())
}

/// Runs the independent verifier on an export and a checkpoint.
fn verify(w: &Worker, export: &str, checkpoint: &str) -> (bool, String) {
    let path = scratch_dir("evidence-export").join("export.jsonl");
    std::fs::write(&path, export).unwrap();
    let out = Command::new("node")
        .current_dir(repo_root())
        .args([
            "tests/e2e/verify-audit.mjs",
            path.to_str().unwrap(),
            checkpoint,
            &w.url("/.well-known/jwks.json"),
        ])
        .output()
        .expect("node");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn a_log_of_more_than_ten_thousand_entries_exports_and_verifies_against_a_checkpoint() {
    let w = worker("evidence-chain", vec![]);
    let app = w.create_application("Evidence", "production");
    let key = &app.secret.value;
    // A few real changes, then a long log.
    let created = w.post(
        "/v1/keys",
        key,
        Some(&json!({"kind": "secret", "label": "ci"})),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.json["key"]["id"].as_str().unwrap();
    assert_eq!(
        w.post(&format!("/v1/keys/{id}/revoke"), key, None).status,
        200
    );
    let filled = w.post(
        &format!("/__faults/applications/{}/audit", app.id),
        ADMIN_TOKEN,
        Some(&json!({"count": 10_000})),
    );
    assert_eq!(filled.status, 200, "{}", filled.body);
    assert!(filled.json["seq"].as_u64().unwrap() > 10_000);

    // The listing shows each entry's place in the chain.
    let listed = w.get("/v1/audit_log?limit=3", key);
    let newest = &listed.json["entries"][0];
    assert_eq!(newest["pending"], false, "{}", listed.body);
    assert_eq!(newest["hash"].as_str().unwrap().len(), 64);
    assert_eq!(
        listed.json["entries"][1]["hash"], newest["prev_hash"],
        "each entry names the one before"
    );

    let checkpoint = w.get("/v1/audit_log/checkpoint", key);
    assert_eq!(checkpoint.status, 200, "{}", checkpoint.body);
    let token = checkpoint.json["checkpoint"].as_str().unwrap().to_owned();
    let (header, claims) = decode(&token);
    assert_eq!(header["typ"], "aero2-checkpoint+jwt");
    assert_eq!(header["alg"], "EdDSA");
    assert_eq!(claims["app"], app.id.as_str());
    assert_eq!(claims["seq"], checkpoint.json["seq"]);

    let export = w.get("/v1/audit_log/export", key);
    assert_eq!(export.status, 200);
    assert!(export
        .header("Content-Type")
        .unwrap()
        .starts_with("application/x-ndjson"));
    assert!(export.body.lines().count() > 10_000);
    assert!(
        !export.body.contains(&app.secret.value[20..]),
        "no key value"
    );
    let (ok, said) = verify(&w, &export.body, &token);
    assert!(ok, "{said}");
    assert!(said.contains("verified 1000"), "{said}");

    // Any change to an entry, and the loss of one, is caught.
    let mut lines: Vec<String> = export.body.lines().map(str::to_owned).collect();
    let tampered = lines[5].replace("\"test.filler\"", "\"key.created\"");
    let original = std::mem::replace(&mut lines[5], tampered);
    assert_ne!(lines[5], original, "the tamper changed something");
    let (ok, said) = verify(&w, &(lines.join("\n") + "\n"), &token);
    assert!(!ok && said.contains("does not match its hash"), "{said}");
    lines[5] = original;
    lines.remove(100);
    let (ok, said) = verify(&w, &(lines.join("\n") + "\n"), &token);
    assert!(!ok, "{said}");

    // An export from a later point ends at the same head.
    let tail = w.get("/v1/audit_log/export?from_seq=9990", key);
    assert_eq!(
        tail.body
            .lines()
            .next()
            .map(|l| serde_json::from_str::<Value>(l).unwrap()["seq"].clone()),
        Some(json!(9990))
    );
    let (ok, said) = verify(&w, &tail.body, &token);
    assert!(ok, "{said}");

    // The checkpoint is no assertion: the typ keeps the one from passing for the other.
    assert_ne!(header["typ"], "aero2-assertion+jwt");
}

#[test]
fn every_key_change_carries_a_signed_receipt_naming_its_chained_entry() {
    for (mode, vars) in [
        ("strict", vec![]),
        (
            "edge",
            vec![
                ("SECRET_KEY_VALIDATION", "edge".to_owned()),
                ("PUBLISHABLE_KEY_VALIDATION", "edge".to_owned()),
            ],
        ),
        (
            "regional",
            vec![
                ("SECRET_KEY_VALIDATION", "regional".to_owned()),
                ("PUBLISHABLE_KEY_VALIDATION", "regional".to_owned()),
            ],
        ),
    ] {
        let w = worker(&format!("evidence-receipts-{mode}"), vars);
        let app = w.create_application("Receipts", "production");
        let key = &app.secret.value;
        let revoked = w.post(
            &format!("/v1/keys/{}/revoke", app.publishable.id),
            key,
            None,
        );
        assert_eq!(revoked.status, 200, "{}", revoked.body);
        let token = revoked.json["receipt"]
            .as_str()
            .expect("a receipt")
            .to_owned();
        let (header, claims) = decode(&token);
        assert_eq!(header["typ"], "aero2-receipt+jwt", "{mode}");
        assert_eq!(claims["sub"], app.publishable.id.as_str());
        assert_eq!(claims["change"], "revoked");
        assert_eq!(claims["mode"], mode);
        assert_eq!(claims["effective_at"], revoked.json["effective_at"]);
        // The receipt names the audit entry that records the change, in the chain.
        let log = w.get("/v1/audit_log?event=key.revoked", key);
        let entry = &log.json["entries"][0];
        assert_eq!(entry["seq"], claims["seq"], "{mode}: {}", log.body);
        assert_eq!(entry["hash"], claims["hash"]);
        assert_eq!(entry["detail"]["effective_at"], claims["effective_at"]);
        // Signed by the key published in the JWKS.
        let jwks = request("GET", &w.url("/.well-known/jwks.json"), &[], None);
        assert!(jwks.body.contains(header["kid"].as_str().unwrap()));

        let rotated = w.post(
            &format!("/v1/keys/{}/rotate", app.secret.id),
            key,
            Some(&json!({"grace_period_seconds": 60})),
        );
        assert_eq!(rotated.status, 200, "{}", rotated.body);
        let (_, claims) = decode(rotated.json["receipt"].as_str().unwrap());
        assert_eq!(
            (claims["change"].as_str(), claims["sub"].as_str()),
            (Some("rotated"), Some(app.secret.id.as_str()))
        );
    }
}
