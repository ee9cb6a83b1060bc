//! Proving what happened (#23), in workerd: the hash-chained audit log, its signed
//! checkpoints and JSON Lines export, checked by a verifier that shares no code with the
//! product (tests/e2e/verify-audit.mjs: a standard JCS and JOSE library), and the signed
//! receipts of key changes.

use std::process::Command;
use std::time::Duration;

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

/// A receipt's claims, once its EdDSA signature has been checked against the JWKS.
fn verified_receipt(w: &Worker, token: &str) -> Value {
    use jsonwebtoken::jwk::JwkSet;
    use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
    let header = decode_header(token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("aero2-receipt+jwt"));
    let jwks: JwkSet =
        serde_json::from_str(&request("GET", &w.url("/.well-known/jwks.json"), &[], None).body)
            .unwrap();
    let jwk = jwks.find(&header.kid.unwrap()).expect("a published key");
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_aud = false;
    decode::<Value>(token, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
        .expect("a valid signature")
        .claims
}

/// The changes nobody answered for have receipts too: the end of a rotation's grace period
/// is signed on request, with the instant the old key stopped working.
#[test]
fn a_grace_periods_end_has_a_receipt_on_request() {
    let w = worker("evidence-grace-receipt", vec![]);
    let app = w.create_application("Grace receipt", "production");
    let key = &app.secret.value;

    // Hostile first: another application's key, a key id that does not exist, a key that
    // never changed, a publishable key, and a secret key without keys:read.
    let other = w.create_application("Another", "production");
    let theirs = w.get(&format!("/v1/keys/{}/receipt", other.secret.id), key);
    assert_eq!((theirs.status, theirs.code()), (404, "key_not_found"));
    let unknown = w.get("/v1/keys/key_0000000000000000/receipt", key);
    assert_eq!(unknown.status, 404);
    let unchanged = w.get(&format!("/v1/keys/{}/receipt", app.secret.id), key);
    assert_eq!(
        (unchanged.status, unchanged.code()),
        (404, "receipt_not_found")
    );
    let from_publishable = w.get(
        &format!("/v1/keys/{}/receipt", app.secret.id),
        &app.publishable.value,
    );
    assert_eq!(from_publishable.status, 403, "{}", from_publishable.body);
    let gate_only = w.post(
        "/v1/keys",
        key,
        Some(&json!({"kind": "secret", "label": "no rights", "scopes": []})),
    );
    let gate_only = gate_only.json["key"]["value"].as_str().unwrap().to_owned();
    let refused = w.get(&format!("/v1/keys/{}/receipt", app.secret.id), &gate_only);
    assert_eq!(refused.status, 403, "{}", refused.body);
    // A secret key sent by a browser page, and a rotated key in its grace period (it still
    // passes the gate, but manages and reads nothing of the management API).
    let from_browser = request(
        "GET",
        &w.url(&format!("/v1/keys/{}/receipt", app.secret.id)),
        &[
            ("Authorization", &bearer(key)),
            ("Origin", "https://attacker.example"),
            ("Sec-Fetch-Mode", "cors"),
            ("Sec-Fetch-Site", "cross-site"),
        ],
        None,
    );
    assert_eq!(
        (from_browser.status, from_browser.code()),
        (403, "secret_key_in_browser"),
        "{}",
        from_browser.body
    );
    assert!(from_browser.json.get("receipt").is_none());
    let spare = w.post(
        "/v1/keys",
        key,
        Some(&json!({"kind": "secret", "label": "rotated in a test"})),
    );
    assert_eq!(spare.status, 201, "{}", spare.body);
    let spare_id = spare.json["key"]["id"].as_str().unwrap().to_owned();
    let spare_value = spare.json["key"]["value"].as_str().unwrap().to_owned();
    let spare_rotated = w.post(
        &format!("/v1/keys/{spare_id}/rotate"),
        key,
        Some(&json!({"grace_period_seconds": 3600})),
    );
    assert_eq!(spare_rotated.status, 200, "{}", spare_rotated.body);
    for id in [&spare_id, &app.secret.id] {
        let in_grace = w.get(&format!("/v1/keys/{id}/receipt"), &spare_value);
        assert_eq!(
            (in_grace.status, in_grace.code()),
            (403, "key_in_grace_period"),
            "{}",
            in_grace.body
        );
    }

    // Rotated with a 1 s grace period: the alarm revokes the old key by itself.
    let rotated = w.post(
        &format!("/v1/keys/{}/rotate", app.secret.id),
        key,
        Some(&json!({"grace_period_seconds": 1})),
    );
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let grace_end = rotated.json["previous_key"]["expires_at"]
        .as_str()
        .unwrap()
        .to_owned();
    let new_key = rotated.json["key"]["value"].as_str().unwrap().to_owned();
    // Right after the rotation, the latest change is the rotation.
    let now = w.get(&format!("/v1/keys/{}/receipt", app.secret.id), &new_key);
    assert_eq!(now.status, 200, "{}", now.body);
    assert_eq!(now.json["change"], "rotated");
    wait_until(
        "the grace period's end is recorded",
        Duration::from_secs(15),
        || {
            !w.get("/v1/audit_log?event=key.expired", &new_key).json["entries"]
                .as_array()
                .unwrap()
                .is_empty()
        },
    );
    let answer = w.get(&format!("/v1/keys/{}/receipt", app.secret.id), &new_key);
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.json["change"], "expired");
    assert_eq!(
        millis(&answer.json["effective_at"]),
        millis(&json!(grace_end)),
        "the grace period's end, not when the alarm ran"
    );
    let claims = verified_receipt(&w, answer.json["receipt"].as_str().unwrap());
    assert_eq!(claims["sub"], app.secret.id.as_str());
    assert_eq!(claims["app"], app.id.as_str());
    assert_eq!(claims["change"], "expired");
    assert_eq!(claims["mode"], "strict");
    assert_eq!(claims["effective_at"], answer.json["effective_at"]);
    // It names the chained entry of the expiry.
    let log = w.get("/v1/audit_log?event=key.expired", &new_key);
    let entry = &log.json["entries"][0];
    assert_eq!(entry["seq"], claims["seq"], "{}", log.body);
    assert_eq!(entry["hash"], claims["hash"]);
    assert_eq!(entry["detail"]["effective_at"], claims["effective_at"]);
    // The operator gets the same from the application's route.
    let operator = request(
        "GET",
        &w.url(&format!(
            "/v1/applications/{}/keys/{}/receipt",
            app.id, app.secret.id
        )),
        &[("Authorization", &bearer(ADMIN_TOKEN))],
        None,
    );
    assert_eq!(operator.status, 200, "{}", operator.body);
    assert_eq!(operator.json["change"], "expired");
}
