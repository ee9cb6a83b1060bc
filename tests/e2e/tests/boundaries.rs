//! The boundaries of the gate, each tested as an attacker would try it: a key in its grace
//! period, browsers (CORS), what reaches the origin and how it can verify the gate, forged
//! keys, client addresses that fail too often, and ambiguous paths.
//!
//! Requests name their client address with `CF-Connecting-IP` (locally it passes through;
//! in production Cloudflare sets it), so each test's failures count against its own
//! address.

use std::sync::OnceLock;

use aero2_e2e::*;
use aero2_keys::KeyKind;
use serde_json::{json, Value};

fn worker() -> &'static Worker {
    static WORKER: OnceLock<Worker> = OnceLock::new();
    WORKER.get_or_init(|| Worker::start("boundaries", Options::default()))
}

fn from(ip: &str, method: &str, w: &Worker, path: &str, headers: &[(&str, &str)]) -> Reply {
    let mut all = vec![("CF-Connecting-IP", ip)];
    all.extend_from_slice(headers);
    request(method, &w.url(path), &all, None)
}

/// The key endpoints #13 added (`PATCH /v1/keys/{id}`, `…/suspend`, `…/resume`), each
/// tried by a key in its grace period, another application's key, a secret key from a
/// browser, a forged key and a malformed body: all refused, and the key is unchanged.
#[test]
fn the_key_policy_endpoints_refuse_grace_keys_other_applications_browsers_and_bad_bodies() {
    let w = worker();
    let app = w.create_application("Policy endpoints", "production");
    let admin = app.secret.value.clone();
    let target = w.post(
        "/v1/keys",
        &admin,
        Some(&json!({"kind": "secret", "label": "target"})),
    );
    assert_eq!(target.status, 201, "{}", target.body);
    let target_id = target.json["key"]["id"].as_str().unwrap().to_owned();
    // A key in its grace period: rotate a second admin key and keep the old value.
    let spare = w.post("/v1/keys", &admin, Some(&json!({"kind": "secret"})));
    let spare_id = spare.json["key"]["id"].as_str().unwrap().to_owned();
    let in_grace = spare.json["key"]["value"].as_str().unwrap().to_owned();
    let rotated = w.post(
        &format!("/v1/keys/{spare_id}/rotate"),
        &admin,
        Some(&json!({"grace_period_seconds": 3600})),
    );
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let other = w.create_application("Someone else", "production");
    let forged = forged_key(KeyKind::Secret, Some(&app.id));

    let call = |key: &str, method: &str, path: &str, body: Option<&str>, extra: &[(&str, &str)]| {
        let auth = bearer(key);
        let mut headers = vec![
            ("Authorization", auth.as_str()),
            ("CF-Connecting-IP", "198.51.100.77"),
            ("Content-Type", "application/json"),
        ];
        headers.extend_from_slice(extra);
        request(method, &w.url(path), &headers, body)
    };
    let patch_body = r#"{"label":"taken over"}"#;
    let operations: [(&str, String, Option<&str>); 3] = [
        ("PATCH", format!("/v1/keys/{target_id}"), Some(patch_body)),
        ("POST", format!("/v1/keys/{target_id}/suspend"), None),
        ("POST", format!("/v1/keys/{target_id}/resume"), None),
    ];
    for (method, path, body) in &operations {
        for (who, key, extra, expected) in [
            (
                "a key in its grace period",
                in_grace.as_str(),
                &[][..],
                (403, "key_in_grace_period"),
            ),
            (
                "another application's key",
                other.secret.value.as_str(),
                &[][..],
                (404, "key_not_found"),
            ),
            (
                "a secret key from a browser",
                admin.as_str(),
                &[("Origin", "https://shop.example")][..],
                (403, "secret_key_in_browser"),
            ),
            (
                "a forged key",
                forged.expose_secret(),
                &[][..],
                (401, "unknown_key"),
            ),
        ] {
            let reply = call(key, method, path, *body, extra);
            assert_eq!(
                (reply.status, reply.code()),
                expected,
                "{who}: {method} {path}"
            );
        }
    }
    // Malformed bodies for PATCH: not JSON, not an object, too large, an unknown field.
    let huge = format!(r#"{{"label":"{}"}}"#, "x".repeat(40_000));
    for (body, expected) in [
        ("not json", (400, "invalid_request")),
        ("[1,2]", (400, "invalid_request")),
        (huge.as_str(), (413, "payload_too_large")),
        (r#"{"kind":"publishable"}"#, (400, "invalid_request")),
    ] {
        let reply = call(
            &admin,
            "PATCH",
            &format!("/v1/keys/{target_id}"),
            Some(body),
            &[],
        );
        assert_eq!(
            (reply.status, reply.code()),
            expected,
            "{}",
            &body[..body.len().min(40)]
        );
    }
    // Nothing of it took effect.
    let listed = w.get("/v1/keys", &admin);
    let key = listed.json["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == json!(target_id))
        .unwrap()
        .clone();
    assert_eq!(key["label"], json!("target"));
    assert!(key.get("suspended_at").is_none_or(Value::is_null), "{key}");
}

// ----- 1. a key in its grace period -----------------------------------------------------

#[test]
fn a_key_in_its_grace_period_passes_the_gate_but_manages_nothing() {
    let w = worker();
    let app = w.create_application("Grace", "production");
    let old = app.secret.value.clone();
    let rotated = w.post(
        &format!("/v1/keys/{}/rotate", app.secret.id),
        &old,
        Some(&json!({"grace_period_seconds": 3600})),
    );
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let new = rotated.json["key"]["value"].as_str().unwrap().to_string();
    let new_id = rotated.json["key"]["id"].as_str().unwrap().to_string();

    // Deployments keep working through the grace period...
    assert_eq!(w.get("/v1/users", &old).status, 200);
    // ...but the old key can no longer list, create, rotate or revoke anything.
    let attempts = [
        w.get("/v1/keys", &old),
        w.post(
            "/v1/keys",
            &old,
            Some(&json!({"kind": "secret", "label": "attacker"})),
        ),
        w.post(
            &format!("/v1/keys/{new_id}/rotate"),
            &old,
            Some(&json!({"grace_period_seconds": 0})),
        ),
        w.post(&format!("/v1/keys/{new_id}/revoke"), &old, None),
        w.get("/v1/audit_log", &old),
    ];
    for reply in &attempts {
        assert_eq!(
            (reply.status, reply.code()),
            (403, "key_in_grace_period"),
            "{}",
            reply.body
        );
        assert!(reply.json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("replaced it"));
    }
    // The owner's new key is untouched and manages everything.
    assert_eq!(w.get("/v1/users", &new).status, 200);
    let listed = w.get("/v1/keys", &new);
    assert_eq!(listed.status, 200);
    assert_eq!(
        listed.json["keys"].as_array().unwrap().len(),
        3,
        "no key was created"
    );
    assert_eq!(w.get("/v1/keys", ADMIN_TOKEN).code(), "malformed_key");
    let by_operator = w.get(&format!("/v1/applications/{}/keys", app.id), ADMIN_TOKEN);
    assert_eq!(by_operator.status, 200);
}

// ----- 2. browsers on other origins (CORS) ------------------------------------------------

#[test]
fn a_preflight_on_a_frontend_route_is_answered_without_a_key() {
    let w = worker();
    let page = "https://shop.example";
    let reply = from(
        "198.51.100.20",
        "OPTIONS",
        w,
        "/v1/client/session",
        &[
            ("Origin", page),
            ("Access-Control-Request-Method", "POST"),
            (
                "Access-Control-Request-Headers",
                "authorization, content-type, x-request-id",
            ),
        ],
    );
    assert_eq!(reply.status, 204, "{}", reply.body);
    assert_eq!(reply.header("Access-Control-Allow-Origin"), Some(page));
    let methods = reply.header("Access-Control-Allow-Methods").unwrap();
    assert!(
        methods.contains("POST") && methods.contains("GET"),
        "{methods}"
    );
    let headers = reply.header("Access-Control-Allow-Headers").unwrap();
    for needed in ["authorization", "content-type", "x-request-id"] {
        assert!(headers.contains(needed), "{headers}");
    }
    assert_eq!(reply.header("Access-Control-Max-Age"), Some("600"));
    assert!(reply.header("Vary").unwrap().contains("Origin"));
    assert!(reply.header("Access-Control-Allow-Credentials").is_none());

    // A secret-key route has no CORS at all: no page can call it.
    let reply = from(
        "198.51.100.20",
        "OPTIONS",
        w,
        "/v1/users",
        &[("Origin", page), ("Access-Control-Request-Method", "GET")],
    );
    assert_eq!(reply.status, 401);
    assert!(reply.header("Access-Control-Allow-Origin").is_none());
}

#[test]
fn browser_answers_on_frontend_routes_can_be_read_by_the_page_errors_included() {
    let w = worker();
    let app = w.create_application("Cors", "production");
    let page = "https://shop.example";
    // A method the gate refuses, on a frontend route: the page can read that too.
    let refused_method = from(
        "198.51.100.21",
        "TRACE",
        w,
        "/v1/client/x",
        &[("Origin", page)],
    );
    assert_eq!(refused_method.status, 405);
    assert_eq!(
        refused_method.header("Access-Control-Allow-Origin"),
        Some(page)
    );
    let browser = |key: &str, path: &str| {
        let auth = bearer(key);
        from(
            "198.51.100.21",
            "GET",
            w,
            path,
            &[("Authorization", &auth), ("Origin", page)],
        )
    };
    let ok = browser(&app.publishable.value, "/v1/client/session");
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.json["origin"], "aero2-demo-origin");
    assert_eq!(ok.header("Access-Control-Allow-Origin"), Some(page));
    assert!(ok.header("Vary").unwrap().contains("Origin"));

    let secret = browser(&app.secret.value, "/v1/client/session");
    assert_eq!(
        (secret.status, secret.code()),
        (403, "secret_key_in_browser")
    );
    assert_eq!(secret.header("Access-Control-Allow-Origin"), Some(page));
    assert!(secret.header("Vary").unwrap_or("").contains("Origin"));

    let unknown = forged_key(KeyKind::Publishable, Some(&app.id));
    let refused = browser(unknown.expose_secret(), "/v1/client/session");
    assert_eq!((refused.status, refused.code()), (401, "unknown_key"));
    assert_eq!(refused.header("Access-Control-Allow-Origin"), Some(page));
    assert!(refused.header("Vary").unwrap_or("").contains("Origin"));
    assert!(refused
        .header("Access-Control-Expose-Headers")
        .unwrap()
        .contains("WWW-Authenticate"));

    // Off the frontend routes, no CORS header, even for a valid key's answer.
    let elsewhere = browser(&app.publishable.value, "/v1/users");
    assert_eq!(elsewhere.code(), "publishable_key_not_allowed");
    assert!(elsewhere.header("Access-Control-Allow-Origin").is_none());
}

// ----- 3. the origin -------------------------------------------------------------------

#[test]
fn nothing_of_the_operator_or_the_client_forged_reaches_the_origin() {
    let w = worker();
    let app = w.create_application("Headers", "production");
    let auth = bearer(&app.secret.value);
    let reply = request(
        "POST",
        &w.url("/v1/orders?x=1"),
        &[
            ("Authorization", &auth),
            ("CF-Connecting-IP", "203.0.113.7"),
            (
                "Cookie",
                "__Host-aero2_session=0123abcd; theme=dark; aero2_session=old",
            ),
            ("X_Aero2_Key_Kind", "publishable"),
            ("x_aero2_application_id", "app_AAAAAAAAAAAAAAAA"),
            ("X-Aero2-Client-Ip", "6.6.6.6"),
            ("X-Real-Ip", "6.6.6.6"),
            ("True-Client-Ip", "6.6.6.6"),
            ("Forwarded", "for=6.6.6.6"),
            ("X-Forwarded-For", "6.6.6.6"),
            // Found by the attacker review: each of these reached the origin.
            ("X-Client-IP", "6.6.6.6"),
            ("X-Cluster-Client-IP", "6.6.6.6"),
            ("Fastly-Client-Ip", "6.6.6.6"),
            ("Forwarded-For", "6.6.6.6"),
            ("Cf-Pseudo-IPv4", "6.6.6.6"),
            ("X-Forwarded-Host", "evil.example"),
            ("X-Original-URL", "/v1/admin"),
            ("X-Rewrite-URL", "/v1/admin"),
            ("X-HTTP-Method-Override", "DELETE"),
            ("X-Request-Id", "kept"),
            ("Content-Type", "application/json"),
        ],
        Some("{}"),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let seen = reply.json["headers"].as_object().unwrap();
    assert_eq!(seen["cookie"], "theme=dark");
    assert_eq!(seen["x-aero2-client-ip"], "203.0.113.7");
    assert_eq!(
        seen["x-forwarded-for"], "203.0.113.7",
        "the platform's address, not the client's"
    );
    assert_eq!(seen["x-aero2-key-kind"], "secret");
    assert_eq!(seen["x-aero2-application-id"], app.id.as_str());
    assert_eq!(seen["x-request-id"], "kept");
    for name in seen.keys() {
        let loose = name.to_ascii_lowercase().replace('_', "-");
        let gate_set = [
            "x-aero2-application-id",
            "x-aero2-environment",
            "x-aero2-key-id",
            "x-aero2-key-kind",
            "x-aero2-client-ip",
            "x-aero2-assertion",
        ];
        assert!(
            !loose.starts_with("x-aero2-") || gate_set.contains(&name.as_str()),
            "the client's {name} reached the origin"
        );
        assert!(
            !["x-real-ip", "true-client-ip", "forwarded", "authorization"]
                .contains(&loose.as_str()),
            "{name} reached the origin"
        );
    }
    assert!(!reply.body.contains("6.6.6.6") && !reply.body.contains("0123abcd"));
    for forged in ["evil.example", "/v1/admin", "DELETE"] {
        assert!(!reply.body.contains(forged), "{forged} reached the origin");
    }

    // Two Cookie fields arrive joined with a comma: the session cookie is still dropped.
    let host = w.base.trim_start_matches("http://");
    let raw = format!(
        "GET /v1/orders HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {}\r\nCookie: theme=dark\r\nCookie: __Host-aero2_session=0123abcd\r\nConnection: close\r\n\r\n",
        app.secret.value
    );
    let (status, response) = raw_request(&w.base, raw.as_bytes());
    assert_eq!(status, 200, "{response}");
    assert!(!raw_body(&response).contains("0123abcd"), "{response}");
}

/// #20.3: a secret key outside Authorization is refused, and its exposure is recorded
/// against it (its own KV record is read, in every mode); a key that does not exist gets
/// the same answer and records nothing.
#[test]
fn the_exposure_of_a_key_outside_authorization_is_recorded_in_every_mode() {
    for mode in ["strict", "edge", "regional"] {
        let w = Worker::start(
            &format!("exposure-{mode}"),
            Options {
                vars: vec![
                    ("SECRET_KEY_VALIDATION", mode.into()),
                    ("PUBLISHABLE_KEY_VALIDATION", mode.into()),
                ],
                ..Options::default()
            },
        );
        let app = w.create_application("Exposed", "production");
        let other = w.create_application("Presented", "production");
        let auth = bearer(&other.secret.value);
        // Forged first: well formed, this application's id, never issued.
        let forged = forged_key(KeyKind::Secret, Some(&app.id));
        let cookie = format!("theme=dark; k={}", forged.expose_secret());
        let refused = from(
            "10.31.0.1",
            "GET",
            &w,
            "/v1/orders",
            &[("Authorization", &auth), ("Cookie", &cookie)],
        );
        assert_eq!(
            (refused.status, refused.code()),
            (400, "secret_key_outside_authorization"),
            "{mode}"
        );
        // The live key, in a cookie beside another application's key in Authorization.
        let cookie = format!("theme=dark; k={}", app.secret.value);
        let exposed = from(
            "10.31.0.2",
            "GET",
            &w,
            "/v1/orders",
            &[("Authorization", &auth), ("Cookie", &cookie)],
        );
        assert_eq!(exposed.status, 400, "{mode}");
        assert_eq!(
            exposed.body, refused.body,
            "{mode}: the same answer, no oracle"
        );
        let entries = || {
            w.get(
                "/v1/audit_log?event=key.secret_outside_authorization",
                &app.secret.value,
            )
            .json["entries"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        };
        wait_until(
            &format!("{mode}: the exposure is recorded"),
            std::time::Duration::from_secs(15),
            || !entries().is_empty(),
        );
        let recorded = entries();
        assert_eq!(
            recorded.len(),
            1,
            "{mode}: only the live key's: {recorded:?}"
        );
        assert_eq!(recorded[0]["key_id"], app.secret.id.as_str(), "{mode}");
        assert_eq!(recorded[0]["detail"]["last_ip"], "10.31.0.2", "{mode}");
        // Nothing was recorded against the key that was in Authorization.
        let theirs = w.get(
            "/v1/audit_log?event=key.secret_outside_authorization",
            &other.secret.value,
        );
        assert_eq!(theirs.json["entries"], json!([]), "{mode}");
        // A suspended key can be resumed, so its exposure is feared all the same, and a
        // browser's request (Origin, Sec-Fetch-Mode) gets the same single refusal.
        let spare = w.post(
            "/v1/keys",
            &app.secret.value,
            Some(&json!({"kind": "secret", "label": "spare"})),
        );
        assert_eq!(spare.status, 201, "{mode}: {}", spare.body);
        let (spare_id, spare_value) = (
            spare.json["key"]["id"].as_str().unwrap().to_owned(),
            spare.json["key"]["value"].as_str().unwrap().to_owned(),
        );
        let suspended = w.post(
            &format!("/v1/keys/{spare_id}/suspend"),
            &app.secret.value,
            None,
        );
        assert_eq!(suspended.status, 200, "{mode}: {}", suspended.body);
        let query = format!("/v1/orders?token={spare_value}");
        let from_browser = from(
            "10.31.0.3",
            "GET",
            &w,
            &query,
            &[
                ("Authorization", &auth),
                ("Origin", "https://shop.example"),
                ("Sec-Fetch-Mode", "cors"),
            ],
        );
        assert_eq!(
            (from_browser.status, from_browser.code()),
            (400, "secret_key_outside_authorization"),
            "{mode}"
        );
        wait_until(
            &format!("{mode}: the suspended key's exposure is recorded"),
            std::time::Duration::from_secs(15),
            || {
                entries()
                    .iter()
                    .any(|entry| entry["key_id"] == spare_id.as_str())
            },
        );
        let recorded = entries();
        let spare_entry = recorded
            .iter()
            .find(|entry| entry["key_id"] == spare_id.as_str())
            .unwrap();
        assert_eq!(spare_entry["detail"]["last_ip"], "10.31.0.3", "{mode}");
        assert_eq!(recorded.len(), 2, "{mode}: {recorded:?}");
        // A key in its grace period still works: its exposure is counted in its entry.
        let rotated = w.post(
            &format!("/v1/keys/{}/rotate", app.secret.id),
            &app.secret.value,
            None,
        );
        assert_eq!(rotated.status, 200, "{mode}: {}", rotated.body);
        let in_grace = from(
            "10.31.0.4",
            "GET",
            &w,
            "/v1/orders",
            &[("Authorization", &auth), ("X-Api-Key", &app.secret.value)],
        );
        assert_eq!(
            in_grace.code(),
            "secret_key_outside_authorization",
            "{mode}"
        );
        // Management refuses a key in its grace period: read the log with its successor.
        let successor = rotated.json["key"]["value"].as_str().unwrap().to_owned();
        let grace_entry = || {
            w.get(
                "/v1/audit_log?event=key.secret_outside_authorization",
                &successor,
            )
            .json["entries"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .find(|entry| entry["key_id"] == app.secret.id.as_str())
                .unwrap()
        };
        wait_until(
            &format!("{mode}: the grace key's exposure is counted"),
            std::time::Duration::from_secs(15),
            || grace_entry()["detail"]["last_ip"] == "10.31.0.4",
        );
        assert_eq!(grace_entry()["detail"]["count"], 2, "{mode}");
    }
}

#[test]
fn a_secret_key_anywhere_but_authorization_is_refused_before_it_reaches_the_origin() {
    let w = worker();
    let app = w.create_application("Stray keys", "production");
    let auth = bearer(&app.secret.value);
    let in_query = from(
        "10.30.0.1",
        "GET",
        w,
        &format!("/v1/orders?api_key={}", app.secret.value),
        &[("Authorization", &auth)],
    );
    assert_eq!(
        (in_query.status, in_query.code()),
        (400, "secret_key_outside_authorization")
    );
    assert!(!in_query.body.contains(&app.secret.value));
    for header in ["X-Api-Key", "Authorisation", "X-Debug"] {
        let elsewhere = from(
            "10.30.0.1",
            "GET",
            w,
            "/v1/orders",
            &[("Authorization", &auth), (header, &app.secret.value)],
        );
        assert_eq!(
            elsewhere.code(),
            "secret_key_outside_authorization",
            "{header}"
        );
    }
    // Second attacker pass: in a cookie, percent-encoded in the query (once or twice), and
    // in the path, it reached the origin.
    let encoded = app.secret.value.replace('_', "%5F");
    let twice = app.secret.value.replace('_', "%255F");
    let cookie = format!("theme=dark; k={}", app.secret.value);
    for (what, path, headers) in [
        (
            "a cookie",
            "/v1/orders".to_owned(),
            vec![("Cookie", cookie.as_str())],
        ),
        (
            "an encoded query",
            format!("/v1/orders?k={encoded}"),
            vec![],
        ),
        (
            "a doubly encoded query",
            format!("/v1/orders?k={twice}"),
            vec![],
        ),
        (
            "the path",
            format!("/v1/orders/{}", app.secret.value),
            vec![],
        ),
        ("an encoded path", format!("/v1/orders/{encoded}"), vec![]),
    ] {
        let mut all = vec![("Authorization", auth.as_str())];
        all.extend(headers);
        let stray = from("10.30.0.2", "GET", w, &path, &all);
        assert_eq!(
            (stray.status, stray.code()),
            (400, "secret_key_outside_authorization"),
            "{what}: {}",
            stray.body
        );
        assert!(
            !stray.body.contains("aero2-demo-origin"),
            "{what} reached the origin"
        );
    }
    // The commonest mistake: the key sent elsewhere and nothing in Authorization (or
    // something that is not a key). Newcomer run, session 5: answered 401 missing_key, and
    // the exposure was not recorded. A key of its own, whose exposure nothing above
    // recorded (an exposure is recorded once per key and hour).
    let created = w.post(
        "/v1/keys",
        &app.secret.value,
        Some(&json!({"kind": "secret", "label": "sent without Authorization"})),
    );
    let (stray_id, stray_key) = (
        created.json["key"]["id"].as_str().unwrap().to_owned(),
        created.json["key"]["value"].as_str().unwrap().to_owned(),
    );
    let cookie = format!("theme=dark; k={stray_key}");
    for (what, path, headers) in [
        (
            "X-Api-Key alone",
            "/v1/orders".to_owned(),
            vec![("X-Api-Key", stray_key.as_str())],
        ),
        (
            "the query alone",
            format!("/v1/orders?key={stray_key}"),
            vec![],
        ),
        (
            "a cookie beside a malformed Authorization",
            "/v1/orders".to_owned(),
            vec![
                ("Authorization", "Bearer not-a-key"),
                ("Cookie", cookie.as_str()),
            ],
        ),
    ] {
        let stray = from("10.30.0.3", "GET", w, &path, &headers);
        assert_eq!(
            (stray.status, stray.code()),
            (400, "secret_key_outside_authorization"),
            "{what}: {}",
            stray.body
        );
    }
    wait_until(
        "the exposure without a key in Authorization is recorded",
        std::time::Duration::from_secs(15),
        || {
            let log = w.get(
                "/v1/audit_log?event=key.secret_outside_authorization",
                &app.secret.value,
            );
            log.json["entries"]
                .as_array()
                .is_some_and(|entries| entries.iter().any(|e| e["key_id"] == stray_id.as_str()))
        },
    );
    // A publishable key is public: in a query string it is merely passed along.
    let public = from(
        "10.30.0.1",
        "GET",
        w,
        &format!("/v1/orders?pk={}", app.publishable.value),
        &[("Authorization", &auth)],
    );
    assert_eq!(public.status, 200, "{}", public.body);
}

#[test]
fn every_forwarded_request_carries_an_assertion_the_origin_verifies() {
    let w = worker();
    let app = w.create_application("Assertion", "development");
    let reply = w.get("/v1/client/x?a=1&b=%20", &app.publishable.value);
    assert_eq!(reply.status, 200, "{}", reply.body);
    // The demo origin verified it with jose against the gate's JWKS.
    let claims = &reply.json["assertion"]["claims"];
    assert_eq!(claims["iss"], w.base.as_str());
    assert_eq!(claims["aud"], w.origin_url.as_str());
    assert_eq!(claims["sub"], app.publishable.id.as_str());
    assert_eq!(claims["app"], app.id.as_str());
    assert_eq!(claims["env"], "test");
    assert_eq!(claims["kind"], "publishable");
    assert_eq!(claims["htm"], "GET");
    assert_eq!(claims["htu"], "/v1/client/x?a=1&b=%20");
    let iat = claims["iat"].as_u64().unwrap();
    assert_eq!(claims["exp"].as_u64().unwrap() - iat, 60);
    assert_eq!(claims["jti"].as_str().unwrap().len(), 32);
    let second = w.get("/v1/client/x?a=1&b=%20", &app.publishable.value);
    assert_ne!(second.json["assertion"]["claims"]["jti"], claims["jti"]);

    // The JWKS publishes the public half, never the private one.
    let jwks = request("GET", &w.url("/.well-known/jwks.json"), &[], None);
    assert_eq!(jwks.status, 200);
    assert_eq!(
        jwks.header("Content-Type"),
        Some("application/jwk-set+json")
    );
    let private: Value = serde_json::from_str(w.signing_key.as_ref().unwrap()).unwrap();
    let key = &jwks.json["keys"][0];
    assert_eq!(key["kid"], private["kid"]);
    assert_eq!(key["x"], private["x"]);
    assert_eq!(
        (key["kty"].as_str(), key["crv"].as_str()),
        (Some("OKP"), Some("Ed25519"))
    );
    assert!(!jwks.body.contains(private["d"].as_str().unwrap()));
    assert_eq!(reply.json["assertion"]["kid"], private["kid"]);

    // Straight to the origin, forged identity headers are refused: no assertion.
    let forged = request(
        "GET",
        &format!("{}/v1/users", w.origin_url),
        &[
            ("X-Aero2-Key-Id", "key_AAAAAAAAAAAAAAAA"),
            ("X-Aero2-Key-Kind", "secret"),
        ],
        None,
    );
    assert_eq!(
        (forged.status, forged.json["error"].as_str()),
        (401, Some("assertion_refused"))
    );
    // Nor is an assertion made for another request reused.
    let token = reply.json["headers"]["x-aero2-assertion"]
        .as_str()
        .unwrap()
        .to_string();
    let replayed = request(
        "DELETE",
        &format!("{}/v1/client/x?a=1&b=%20", w.origin_url),
        &[("X-Aero2-Assertion", &token)],
        None,
    );
    assert_eq!(replayed.status, 401, "{}", replayed.body);
}

// ----- 5. forged keys --------------------------------------------------------------------

fn key_ring_storage_files(w: &Worker) -> usize {
    files_below(&w.state_dir)
        .iter()
        .filter(|(path, _)| path.to_string_lossy().contains("KeyRingObject"))
        .count()
}

#[test]
fn forged_keys_for_random_applications_create_no_storage_and_reveal_nothing() {
    // Its own worker: no other test may create storage while this one counts it.
    let w = &Worker::start("forged", Options::default());
    let app = w.create_application("Existing", "production");
    let before = key_ring_storage_files(w);
    assert!(before > 0, "the existing application has storage");
    for i in 0..500u32 {
        let kind = if i % 2 == 0 {
            KeyKind::Secret
        } else {
            KeyKind::Publishable
        };
        let forged = forged_key(kind, None);
        // A different address each time: this is about storage, not the failure limit.
        let ip = format!("10.5.{}.{}", i / 250, i % 250);
        let auth = bearer(forged.expose_secret());
        let path = if i % 5 == 0 {
            "/v1/keys"
        } else {
            "/v1/client/x"
        };
        let reply = from(&ip, "GET", w, path, &[("Authorization", &auth)]);
        assert_eq!(
            (reply.status, reply.code()),
            (401, "unknown_key"),
            "{i}: {}",
            reply.body
        );
    }
    assert_eq!(
        key_ring_storage_files(w),
        before,
        "a forged key created Durable Object storage"
    );

    // An unknown application is answered exactly as an unknown key of a real one.
    let of_existing = forged_key(KeyKind::Secret, Some(&app.id));
    let of_nothing = forged_key(KeyKind::Secret, None);
    for path in ["/v1/keys", "/v1/users"] {
        let a = from(
            "10.6.0.1",
            "GET",
            w,
            path,
            &[("Authorization", &bearer(of_existing.expose_secret()))],
        );
        let b = from(
            "10.6.0.2",
            "GET",
            w,
            path,
            &[("Authorization", &bearer(of_nothing.expose_secret()))],
        );
        assert_eq!((a.status, &a.json), (b.status, &b.json), "{path}");
        assert_eq!(a.header("WWW-Authenticate"), b.header("WWW-Authenticate"));
    }

    // A forged secret key sent outside Authorization, with nothing in Authorization: the
    // exposure path reads its KV record only (never a Durable Object), so it is refused
    // like a real one (400, the sender learns nothing about whether it exists), creates no
    // storage and records nothing against the application it names.
    let storage_before = key_ring_storage_files(w);
    for (i, names) in [Some(app.id.as_str()), None, None].into_iter().enumerate() {
        let forged = forged_key(KeyKind::Secret, names);
        let ip = format!("10.7.0.{i}");
        let in_header = from(
            &ip,
            "GET",
            w,
            "/v1/orders",
            &[("X-Api-Key", forged.expose_secret())],
        );
        let in_query = from(
            &ip,
            "GET",
            w,
            &format!("/v1/orders?key={}", forged.expose_secret()),
            &[],
        );
        for (what, reply) in [("a header", &in_header), ("the query", &in_query)] {
            assert_eq!(
                (reply.status, reply.code()),
                (400, "secret_key_outside_authorization"),
                "{i}, {what}: {}",
                reply.body
            );
            assert!(!reply.body.contains(forged.expose_secret()), "{what}");
        }
    }
    assert_eq!(
        key_ring_storage_files(w),
        storage_before,
        "a forged key sent outside Authorization created Durable Object storage"
    );
    let exposures = w.get(
        "/v1/audit_log?event=key.secret_outside_authorization",
        &app.secret.value,
    );
    assert_eq!(exposures.status, 200, "{}", exposures.body);
    assert_eq!(
        exposures.json["entries"].as_array().map(Vec::len),
        Some(0),
        "a forged key's exposure was recorded: {}",
        exposures.body
    );
    // A publishable key is public: in the query with nothing in Authorization it is not an
    // exposure, and the request simply has no key.
    let public = from(
        "10.7.1.1",
        "GET",
        w,
        &format!("/v1/orders?pk={}", app.publishable.value),
        &[],
    );
    assert_eq!(
        (public.status, public.code()),
        (401, "missing_key"),
        "{}",
        public.body
    );
}

#[test]
fn an_address_that_fails_too_often_is_refused_before_any_lookup() {
    let w = worker();
    let app = w.create_application("Limits", "production");
    let ip = "192.0.2.99";
    let forged = forged_key(KeyKind::Secret, Some(&app.id));
    let auth = bearer(forged.expose_secret());
    within_one_rate_window(20);
    let mut codes = Vec::new();
    for _ in 0..101 {
        codes.push(
            from(ip, "GET", w, "/v1/users", &[("Authorization", &auth)])
                .code()
                .to_owned(),
        );
    }
    assert!(codes[..100].iter().all(|c| c == "unknown_key"), "{codes:?}");
    assert_eq!(codes[100], "too_many_failed_attempts");
    // Now even a valid key from that address waits, and says how long.
    let good = bearer(&app.secret.value);
    let blocked = from(ip, "GET", w, "/v1/users", &[("Authorization", &good)]);
    assert_eq!(
        (blocked.status, blocked.code()),
        (429, "too_many_failed_attempts")
    );
    let wait: u64 = blocked.header("Retry-After").unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    let managed = from(ip, "GET", w, "/v1/keys", &[("Authorization", &good)]);
    assert_eq!(managed.code(), "too_many_failed_attempts");
    // Another address is not affected.
    assert_eq!(
        from(
            "192.0.2.100",
            "GET",
            w,
            "/v1/users",
            &[("Authorization", &good)]
        )
        .status,
        200
    );

    // An IPv6 host holds a whole /64: found by the attacker review, every address in it
    // had a limit of its own. Now they share one, however they are written.
    within_one_rate_window(20);
    for i in 0..100 {
        let ip = format!("2001:db8:77:1::{:x}", i + 1);
        let reply = from(&ip, "GET", w, "/v1/users", &[("Authorization", &auth)]);
        assert_eq!(reply.code(), "unknown_key");
    }
    for ip in ["2001:db8:77:1::ffff", "2001:0DB8:0077:0001:0:0:0:9"] {
        let limited = from(ip, "GET", w, "/v1/users", &[("Authorization", &auth)]);
        assert_eq!(limited.code(), "too_many_failed_attempts", "{ip}");
    }
    let elsewhere = from(
        "2001:db8:77:2::1",
        "GET",
        w,
        "/v1/users",
        &[("Authorization", &good)],
    );
    assert_eq!(elsewhere.status, 200);
}

// ----- 6. paths ----------------------------------------------------------------------------

/// Sends a raw request line, so no client library normalises the path first.
fn raw(w: &Worker, path: &str, key: &str) -> (u16, String) {
    let host = w.base.trim_start_matches("http://");
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\nCF-Connecting-IP: 10.7.0.1\r\nConnection: close\r\n\r\n"
    );
    raw_request(&w.base, request.as_bytes())
}

fn code_of(response: &str) -> String {
    serde_json::from_str::<Value>(raw_body(response).trim())
        .ok()
        .and_then(|v| v["error"]["code"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn origin_path(response: &str) -> Option<String> {
    let json: Value = serde_json::from_str(raw_body(response).trim()).ok()?;
    Some(json["path"].as_str()?.to_owned())
}

#[test]
fn ambiguous_paths_are_refused_and_every_other_path_is_read_one_way() {
    let w = worker();
    let app = w.create_application("Paths", "production");
    let pk = &app.publishable.value;
    for path in [
        "/v1/client/..%2Fusers",
        "/v1/client/..%2fusers",
        "/v1/client/%2e%2e%2fusers",
        "/v1/client/..%5Cusers",
        "/v1/client/..;/users",
        "/v1/client;/x",
        "//v1/client/x",
        "/v1/client//x",
        "/v1/client/%00",
        "/v1/client/x%2Ey",
    ] {
        let (status, response) = raw(w, path, pk);
        assert_eq!(
            (status, code_of(&response)),
            (400, "invalid_path".to_owned()),
            "{path}: {response}"
        );
    }
    // Dot segments and backslashes are resolved by the URL parser before the gate looks:
    // the route check then sees where they lead, and a publishable key cannot follow.
    for path in [
        "/v1/client/%2e%2e/users",
        "/v1/client/../users",
        "/v1/client/.%2E/users",
        "/v1/client\\..\\users",
        "/V1/Client/x",
    ] {
        let (status, response) = raw(w, path, pk);
        assert!(
            status == 400 || (status == 403 && code_of(&response) == "publishable_key_not_allowed"),
            "{path}: {status} {response}"
        );
        assert!(
            origin_path(&response).is_none(),
            "{path} reached the origin"
        );
    }
    // A lone `%2E` is a dot segment to the URL parser, resolved before the gate sees it.
    let (status, response) = raw(w, "/v1/client/x/%2E", pk);
    assert_eq!(
        (status, origin_path(&response).as_deref()),
        (200, Some("/v1/client/x/")),
        "{response}"
    );
    // Encoded unreserved characters are decoded once; the origin, the route check and the
    // assertion all see the same path.
    let (status, response) = raw(w, "/v1/%63lient/%7Ex", pk);
    assert_eq!(status, 200, "{response}");
    assert_eq!(origin_path(&response).as_deref(), Some("/v1/client/~x"));
    let body: Value = serde_json::from_str(raw_body(&response).trim()).unwrap();
    assert_eq!(body["assertion"]["claims"]["htu"], "/v1/client/~x");
}

/// The second attacker pass: escapes whose decoding spells an escape of an escape
/// (`%25%32%46` would reach the origin as `%252F`, a `/` to an origin that decodes twice),
/// compatibility characters that NFKC folds into path syntax, and method overrides in the
/// query string, with a publishable key and with a secret key held to one route.
#[test]
fn escapes_of_escapes_compatibility_characters_and_method_overrides_are_refused() {
    let w = worker();
    let app = w.create_application("Paths again", "production");
    let pk = &app.publishable.value;
    let held = w.post(
        "/v1/keys",
        &app.secret.value,
        Some(&json!({"kind": "secret", "routes": [{"methods": ["GET"], "path": "/v1/orders/*"}]})),
    );
    assert_eq!(held.status, 201, "{}", held.body);
    let held = held.json["key"]["value"].as_str().unwrap().to_owned();
    for (path, key) in [
        ("/v1/client/%25%32%46admin", pk.as_str()),
        ("/v1/client/%25%32%65%25%32%65%25%32%46admin", pk),
        ("/v1/client/%25%32f", pk),
        ("/v1/client/%E2%80%A5admin", pk),
        ("/v1/client/%EF%BC%85%32%46admin", pk),
        ("/v1/client/%CD%BE", pk),
        ("/v1/orders/%25%32%46admin", &held),
        ("/v1/orders/%E2%80%A5/admin", &held),
    ] {
        let (status, response) = raw(w, path, key);
        assert_eq!(
            (status, code_of(&response)),
            (400, "invalid_path".to_owned()),
            "{path}: {response}"
        );
        assert!(
            origin_path(&response).is_none(),
            "{path} reached the origin"
        );
    }
    for path in [
        "/v1/orders/1?_method=DELETE",
        "/v1/orders/1?a=1&%5Fmethod=DELETE",
        "/v1/orders/1?_METHOD=delete",
        "/v1/orders/1?.method=PUT",
        "/v1/orders/1?x-http-method-override=DELETE",
    ] {
        let (status, response) = raw(w, path, &held);
        assert_eq!(
            (status, code_of(&response)),
            (403, "method_override_not_allowed".to_owned()),
            "{path}: {response}"
        );
        assert!(
            origin_path(&response).is_none(),
            "{path} reached the origin"
        );
    }
    // Not refused: the same request without the override, and an override sent with a key
    // that may use every method anyway.
    let (status, response) = raw(w, "/v1/orders/1?method=x", &held);
    assert_eq!(status, 200, "{response}");
    let (status, response) = raw(w, "/v1/orders/1?_method=DELETE", &app.secret.value);
    assert_eq!(status, 200, "{response}");
}

// ----- 7. reach: what a restricted key may manage ------------------------------------------

/// The second attacker pass: a secret key held to `GET /v1/orders/*` could unlock, suspend
/// and revoke the site's publishable key, and mint an unrestricted one. A publishable key
/// reaches the frontend routes, so such a key may now do none of that; one whose routes
/// cover the frontend routes may, within its own expiry.
#[test]
fn a_restricted_key_reaches_no_publishable_key_beyond_its_own_reach() {
    let w = worker();
    let app = w.create_application("Reach", "production");
    let admin = app.secret.value.as_str();
    let site = w.post(
        "/v1/keys",
        admin,
        Some(&json!({"kind": "publishable", "label": "site", "allowed_origins": ["https://shop.example"]})),
    );
    assert_eq!(site.status, 201, "{}", site.body);
    let site_id = site.json["key"]["id"].as_str().unwrap().to_owned();
    let make = |body: Value| {
        let made = w.post("/v1/keys", admin, Some(&body));
        assert_eq!(made.status, 201, "{}", made.body);
        made.json["key"]["value"].as_str().unwrap().to_owned()
    };
    let orders = make(
        json!({"kind": "secret", "scopes": ["keys:read", "keys:write"],
        "routes": [{"methods": ["GET"], "path": "/v1/orders/*"}]}),
    );
    let patch = |key: &str, body: &str| {
        let auth = bearer(key);
        request(
            "PATCH",
            &w.url(&format!("/v1/keys/{site_id}")),
            &[
                ("Authorization", auth.as_str()),
                ("Content-Type", "application/json"),
            ],
            Some(body),
        )
    };
    let unlocked = patch(&orders, r#"{"allowed_origins":null}"#);
    assert_eq!(
        (unlocked.status, unlocked.code()),
        (403, "rights_exceeded"),
        "{}",
        unlocked.body
    );
    for action in ["suspend", "revoke", "rotate"] {
        let refused = w.post(&format!("/v1/keys/{site_id}/{action}"), &orders, None);
        assert_eq!(
            (refused.status, refused.code()),
            (403, "rights_exceeded"),
            "{action}"
        );
    }
    let minted = w.post("/v1/keys", &orders, Some(&json!({"kind": "publishable"})));
    assert_eq!((minted.status, minted.code()), (403, "rights_exceeded"));
    let listed = w.get("/v1/keys", admin);
    let site_now = listed.json["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == site_id.as_str())
        .unwrap()
        .clone();
    assert_eq!(site_now["status"], "active", "{site_now}");
    assert_eq!(
        site_now["allowed_origins"],
        json!(["https://shop.example"]),
        "{site_now}"
    );

    // A key whose routes cover the frontend routes, with an expiry: it manages publishable
    // keys that end no later than it does, and no others.
    let frontend = make(json!({"kind": "secret", "scopes": ["keys:write"],
        "routes": [{"path": "/v1/client/*"}], "expires_in_seconds": 3600}));
    let lasting = w.post("/v1/keys", &frontend, Some(&json!({"kind": "publishable"})));
    assert_eq!((lasting.status, lasting.code()), (403, "rights_exceeded"));
    let bounded = w.post(
        "/v1/keys",
        &frontend,
        Some(&json!({"kind": "publishable", "expires_in_seconds": 1800})),
    );
    assert_eq!(bounded.status, 201, "{}", bounded.body);
    let unlock_site = patch(&frontend, r#"{"allowed_origins":null}"#);
    assert_eq!(
        unlock_site.code(),
        "rights_exceeded",
        "the site key lasts longer than this key"
    );
}

/// The second attacker pass: the guard counted any secret key, so the last key with
/// `keys:write` could be revoked while a read-only key remained, and then nobody but the
/// operator could manage the application's keys.
#[test]
fn the_last_key_that_can_manage_keys_stays() {
    let w = worker();
    let app = w.create_application("Keeps a manager", "production");
    let admin = app.secret.value.as_str();
    let reader = w.post(
        "/v1/keys",
        admin,
        Some(&json!({"kind": "secret", "scopes": ["keys:read", "audit:read"]})),
    );
    assert_eq!(reader.status, 201, "{}", reader.body);
    let admin_id = app.secret.id.as_str();
    for (method, path, body) in [
        ("POST", format!("/v1/keys/{admin_id}/revoke"), None),
        ("POST", format!("/v1/keys/{admin_id}/suspend"), None),
        (
            "PATCH",
            format!("/v1/keys/{admin_id}"),
            Some(r#"{"scopes":["keys:read"]}"#),
        ),
    ] {
        let auth = bearer(admin);
        let refused = request(
            method,
            &w.url(&path),
            &[
                ("Authorization", auth.as_str()),
                ("Content-Type", "application/json"),
            ],
            body,
        );
        assert_eq!(
            (refused.status, refused.code()),
            (409, "last_active_secret_key"),
            "{method} {path}: {}",
            refused.body
        );
    }
    assert_eq!(
        w.get("/v1/keys", admin).status,
        200,
        "the admin key still works"
    );
}

/// The second attacker pass: the origin's `Set-Cookie: __Host-aero2_session=…` reached the
/// client on the gate's host, so an origin (or whoever controls one of its pages) could
/// plant a dashboard session. Its other cookies still arrive.
#[test]
fn the_origin_cannot_set_the_workers_cookies() {
    let w = worker();
    let app = w.create_application("Origin cookies", "production");
    let host = w.base.trim_start_matches("http://");
    let request = format!(
        "GET /v1/orders HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {}\r\n\
         CF-Connecting-IP: 10.7.0.9\r\n\
         X-Demo-Set-Cookie: __Host-aero2_session=planted; Path=/; Secure; HttpOnly\r\n\
         X-Demo-Set-Cookie: __host-AERO2_future=x; Path=/; Secure\r\n\
         X-Demo-Set-Cookie: theme=dark; Path=/\r\n\
         Connection: close\r\n\r\n",
        app.secret.value
    );
    let (status, response) = raw_request(&w.base, request.as_bytes());
    assert_eq!(status, 200, "{response}");
    let head = response
        .split("\r\n\r\n")
        .next()
        .unwrap()
        .to_ascii_lowercase();
    let set_cookies: Vec<&str> = head
        .lines()
        .filter_map(|line| line.strip_prefix("set-cookie:"))
        .map(str::trim)
        .collect();
    assert_eq!(set_cookies, ["theme=dark; path=/"], "{head}");
}
