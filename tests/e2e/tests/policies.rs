//! Key policies at the gate, in both validation modes: expiry, scopes, routes, origin and
//! address allowlists, rate limits, suspension, and a policy changed under traffic. Each
//! test runs once against a worker in strict mode and once in edge mode (KV alone).

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use aero2_e2e::*;
use serde_json::{json, Value};

fn start(mode: &str) -> Worker {
    Worker::start(
        &format!("policies-{mode}"),
        Options {
            vars: vec![
                ("SECRET_KEY_VALIDATION", mode.into()),
                ("PUBLISHABLE_KEY_VALIDATION", mode.into()),
            ],
            ..Options::default()
        },
    )
}

/// A request from `ip`, with more headers.
fn gate(
    w: &Worker,
    method: &str,
    path: &str,
    key: &str,
    ip: &str,
    extra: &[(&str, &str)],
) -> Reply {
    let auth = bearer(key);
    let mut headers = vec![("Authorization", auth.as_str()), ("CF-Connecting-IP", ip)];
    headers.extend_from_slice(extra);
    request(method, &w.url(path), &headers, None)
}

fn create(w: &Worker, admin: &str, body: Value) -> (String, String) {
    let created = w.post("/v1/keys", admin, Some(&body));
    assert_eq!(created.status, 201, "{}", created.body);
    (
        created.json["key"]["id"].as_str().unwrap().to_owned(),
        created.json["key"]["value"].as_str().unwrap().to_owned(),
    )
}

/// A key as the API lists it, revoked or not.
fn key_view(w: &Worker, admin: &str, id: &str) -> Value {
    w.get("/v1/keys?include_revoked=true", admin).json["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == id)
        .unwrap()
        .clone()
}

fn patch(w: &Worker, admin: &str, id: &str, body: Value) -> Reply {
    request(
        "PATCH",
        &w.url(&format!("/v1/keys/{id}")),
        &[
            ("Authorization", &bearer(admin)),
            ("Content-Type", "application/json"),
        ],
        Some(&body.to_string()),
    )
}

fn expiry_scopes_and_rights(w: &Worker) {
    let app = w.create_application("Scoped", "production");
    let admin = &app.secret.value;
    // Refused at creation: past times, more than 10 years ahead, a field for the other kind.
    for (body, field) in [
        (
            json!({"kind": "secret", "expires_at": "2020-01-01T00:00:00Z"}),
            "expires_at",
        ),
        (
            json!({"kind": "secret", "expires_in_seconds": 400_000_000}),
            "expires_in_seconds",
        ),
        (
            json!({"kind": "publishable", "allowed_ips": ["10.0.0.0/8"]}),
            "allowed_ips",
        ),
        (
            json!({"kind": "secret", "allowed_origins": ["https://a.example"]}),
            "allowed_origins",
        ),
        (
            json!({"kind": "secret", "allowed_ips": ["10.0.0.1/8"]}),
            "allowed_ips",
        ),
    ] {
        let refused = w.post("/v1/keys", admin, Some(&body));
        assert_eq!(
            (refused.status, refused.code()),
            (400, "invalid_policy"),
            "{body}"
        );
        assert!(
            refused.json["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with(field),
            "{}",
            refused.body
        );
    }

    // Expiry: works until, then 401 expired_key, and the alarm revokes it as `expired`.
    let (temp_id, temp) = create(
        w,
        admin,
        json!({"kind": "secret", "label": "temp", "expires_in_seconds": 2}),
    );
    assert_eq!(
        gate(w, "GET", "/v1/users", &temp, "10.20.0.1", &[]).status,
        200
    );
    let view = key_view(w, admin, &temp_id);
    assert!(view["expires_at"].is_string(), "{view}");
    std::thread::sleep(Duration::from_millis(2_200));
    let expired = gate(w, "GET", "/v1/users", &temp, "10.20.0.2", &[]);
    assert_eq!((expired.status, expired.code()), (401, "expired_key"));
    wait_until(
        "the expiry in the audit log",
        Duration::from_secs(20),
        || {
            let log = w.get(
                &format!("/v1/audit_log?event=key.expired&key_id={temp_id}"),
                admin,
            );
            log.json["entries"].as_array().is_some_and(|e| e.len() == 1)
        },
    );
    let view = key_view(w, admin, &temp_id);
    assert_eq!(
        (view["status"].as_str(), view["revocation_reason"].as_str()),
        (Some("revoked"), Some("expired"))
    );

    // Scopes: a read-only management key.
    let (_, reader) = create(
        w,
        admin,
        json!({"kind": "secret", "label": "reader", "scopes": ["keys:read"]}),
    );
    assert_eq!(w.get("/v1/keys", &reader).status, 200);
    let denied = w.post("/v1/keys", &reader, Some(&json!({"kind": "publishable"})));
    assert_eq!((denied.status, denied.code()), (403, "insufficient_scope"));
    assert!(denied.json["error"]["message"]
        .as_str()
        .unwrap()
        .contains("keys:write"));
    let audit = w.get("/v1/audit_log", &reader);
    assert_eq!(audit.code(), "insufficient_scope");
    assert!(audit.json["error"]["message"]
        .as_str()
        .unwrap()
        .contains("audit:read"));
    assert_eq!(
        gate(w, "GET", "/v1/users", &reader, "10.20.0.3", &[]).status,
        200,
        "scopes do not limit the gate"
    );

    // Rights: a writer limited to some routes cannot make or rotate a stronger key.
    let (_, writer) = create(
        w,
        admin,
        json!({"kind": "secret", "label": "writer", "scopes": ["keys:read", "keys:write"], "routes": [{"path": "/v1/orders/*"}]}),
    );
    let stronger = w.post("/v1/keys", &writer, Some(&json!({"kind": "secret"})));
    assert_eq!((stronger.status, stronger.code()), (403, "rights_exceeded"));
    let narrower = w.post(
        "/v1/keys",
        &writer,
        Some(&json!({"kind": "secret", "scopes": ["keys:read"], "routes": [{"methods": ["GET"], "path": "/v1/orders/*"}]})),
    );
    assert_eq!(narrower.status, 201, "{}", narrower.body);
    let rotate_admin = w.post(&format!("/v1/keys/{}/rotate", app.secret.id), &writer, None);
    assert_eq!(rotate_admin.code(), "rights_exceeded");
    let revoke_admin = w.post(&format!("/v1/keys/{}/revoke", app.secret.id), &writer, None);
    assert_eq!(revoke_admin.code(), "rights_exceeded");
    // A publishable key reaches the frontend routes, which this writer does not: it can
    // mint none (the second attacker pass; it used to be allowed).
    let publishable = w.post("/v1/keys", &writer, Some(&json!({"kind": "publishable"})));
    assert_eq!(
        (publishable.status, publishable.code()),
        (403, "rights_exceeded")
    );
}

fn routes_addresses_and_origins(w: &Worker) {
    let app = w.create_application("Restricted", "production");
    let admin = &app.secret.value;
    let (_, orders) = create(
        w,
        admin,
        json!({"kind": "secret", "label": "orders", "routes": [{"methods": ["GET", "HEAD"], "path": "/v1/orders/*"}],
               "allowed_ips": ["203.0.113.0/24", "2001:db8::/32"]}),
    );
    assert_eq!(
        gate(w, "GET", "/v1/orders/7", &orders, "203.0.113.9", &[]).status,
        200
    );
    assert_eq!(
        gate(w, "GET", "/v1/orders", &orders, "2001:db8::5", &[]).status,
        200
    );
    for (method, path, ip, code) in [
        ("POST", "/v1/orders/7", "203.0.113.9", "route_not_allowed"),
        ("GET", "/v1/users", "203.0.113.9", "route_not_allowed"),
        ("GET", "/v1/ordersx", "203.0.113.9", "route_not_allowed"),
        ("GET", "/v1/orders/7", "203.0.114.1", "ip_not_allowed"),
        ("GET", "/v1/orders/7", "2001:db9::1", "ip_not_allowed"),
    ] {
        let refused = gate(w, method, path, &orders, ip, &[]);
        assert_eq!(
            (refused.status, refused.code()),
            (403, code),
            "{method} {path} from {ip}"
        );
    }
    // Found by review: the address list held at the gate but not on the management API.
    // A key held to a network manages nothing from outside it (its routes do not apply to
    // the management API; its address list does).
    assert_eq!(
        gate(w, "GET", "/v1/keys", &orders, "203.0.113.9", &[]).status,
        200
    );
    for ip in ["198.51.100.1", "2001:db9::1"] {
        let refused = gate(w, "GET", "/v1/keys", &orders, ip, &[]);
        assert_eq!(
            (refused.status, refused.code()),
            (403, "ip_not_allowed"),
            "{ip}"
        );
    }

    let (_, shop) = create(
        w,
        admin,
        json!({"kind": "publishable", "label": "shop", "allowed_origins": ["https://shop.example", "https://*.shop.example"]}),
    );
    let from_page = |origin: &str, header: &str| {
        gate(
            w,
            "GET",
            "/v1/client/x",
            &shop,
            "10.21.0.1",
            &[(header, origin)],
        )
    };
    let ok = from_page("https://eu.shop.example", "Origin");
    assert_eq!(ok.status, 200);
    assert_eq!(
        ok.header("Access-Control-Allow-Origin"),
        Some("https://eu.shop.example")
    );
    assert_eq!(
        from_page("https://shop.example/cart?x=1", "Referer").status,
        200,
        "Referer's origin, without Origin"
    );
    let evil = from_page("https://evil.example", "Origin");
    assert_eq!((evil.status, evil.code()), (403, "origin_not_allowed"));
    assert!(
        evil.header("Access-Control-Allow-Origin").is_none(),
        "an unlisted page cannot read even the refusal"
    );
    let bare = gate(w, "GET", "/v1/client/x", &shop, "10.21.0.1", &[]);
    assert_eq!(
        bare.code(),
        "origin_not_allowed",
        "neither header: refused unless null is listed"
    );

    // Report mode lets it through and records the origin, aggregated.
    let (report_id, reporting) = create(
        w,
        admin,
        json!({"kind": "publishable", "allowed_origins": ["https://shop.example"], "origin_policy": "report"}),
    );
    for _ in 0..3 {
        let through = gate(
            w,
            "GET",
            "/v1/client/x",
            &reporting,
            "10.21.0.2",
            &[("Origin", "https://other.example")],
        );
        assert_eq!(through.status, 200);
        assert_eq!(
            through.header("Access-Control-Allow-Origin"),
            Some("https://other.example")
        );
    }
    // The first report at once, the repeats when their 10 s window ends.
    wait_until("the origin report", Duration::from_secs(30), || {
        let log = w.get(
            &format!("/v1/audit_log?event=key.origin_not_allowed&key_id={report_id}"),
            admin,
        );
        // One entry per key and hour: two if the hour turned during the test.
        log.json["entries"].as_array().is_some_and(|entries| {
            let total: u64 = entries
                .iter()
                .map(|e| e["detail"]["count"].as_u64().unwrap_or(0))
                .sum();
            (1..=2).contains(&entries.len())
                && total == 3
                && entries[0]["detail"]["origins"] == json!(["https://other.example"])
        })
    });
}

fn rate_limits(w: &Worker) {
    let app = w.create_application("Limited", "production");
    let admin = &app.secret.value;
    // Hour-long windows, so the test does not straddle one.
    let (limited_id, limited) = create(
        w,
        admin,
        json!({"kind": "secret", "label": "limited", "rate_limit": {"requests": 5, "per_seconds": 3600}}),
    );
    let mut statuses = Vec::new();
    for i in 0..8 {
        statuses.push(gate(
            w,
            "GET",
            "/v1/users",
            &limited,
            &format!("10.22.0.{i}"),
            &[],
        ));
    }
    let allowed = statuses.iter().filter(|r| r.status == 200).count();
    assert_eq!(allowed, 5, "exactly the limit, in one isolate");
    let refused = statuses.last().unwrap();
    assert_eq!((refused.status, refused.code()), (429, "rate_limited"));
    assert!(
        refused.json.get("origin").is_none(),
        "the origin was not called"
    );
    let wait: u64 = refused.header("Retry-After").unwrap().parse().unwrap();
    assert!((1..=3600).contains(&wait));
    assert_eq!(
        refused.header("RateLimit-Policy"),
        Some("\"key\";q=5;w=3600")
    );
    assert_eq!(
        refused.header("RateLimit"),
        Some(format!("\"key\";r=0;t={wait}").as_str())
    );
    wait_until(
        "the aggregated rate-limit entry",
        Duration::from_secs(30),
        || {
            let log = w.get(
                &format!("/v1/audit_log?event=key.rate_limited&key_id={limited_id}"),
                admin,
            );
            // One entry per key and hour: two if the hour turned during the test.
            log.json["entries"].as_array().is_some_and(|entries| {
                let total: u64 = entries
                    .iter()
                    .map(|e| e["detail"]["count"].as_u64().unwrap_or(0))
                    .sum();
                (1..=2).contains(&entries.len()) && total == 3
            })
        },
    );
}

fn suspension_and_changes_under_traffic(w: &Worker) {
    let app = w.create_application("Suspended", "production");
    let admin = &app.secret.value;
    let last = w.post(&format!("/v1/keys/{}/suspend", app.secret.id), admin, None);
    assert_eq!((last.status, last.code()), (409, "last_active_secret_key"));
    let (id, key) = create(w, admin, json!({"kind": "secret", "label": "worker"}));
    let suspended = w.post(&format!("/v1/keys/{id}/suspend"), admin, None);
    assert_eq!(suspended.status, 200, "{}", suspended.body);
    assert!(suspended.json["key"]["suspended_at"].is_string());
    wait_until(
        "the suspension at the gate",
        Duration::from_secs(10),
        || gate(w, "GET", "/v1/users", &key, "10.23.0.1", &[]).code() == "suspended_key",
    );
    assert_eq!(w.get("/v1/keys", &key).code(), "suspended_key");
    assert_eq!(
        w.post(&format!("/v1/keys/{id}/suspend"), admin, None)
            .code(),
        "key_already_suspended"
    );
    assert_eq!(
        w.post(&format!("/v1/keys/{id}/resume"), admin, None).status,
        200
    );
    wait_until(
        "the resumption at the gate",
        Duration::from_secs(10),
        || gate(w, "GET", "/v1/users", &key, "10.23.0.1", &[]).status == 200,
    );

    // A policy changed while requests flow: once the PATCH has returned (strict) or KV has
    // caught up (edge), no request is served under the old policy.
    let running = AtomicBool::new(true);
    let served_after = AtomicU32::new(0);
    let refused_after = AtomicU32::new(0);
    let changed_at: std::sync::Mutex<Option<Instant>> = std::sync::Mutex::new(None);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            while running.load(Ordering::Relaxed) {
                let started = Instant::now();
                let reply = gate(w, "GET", "/v1/users", &key, "10.23.1.1", &[]);
                let settled = changed_at.lock().unwrap().is_some_and(|at| started > at);
                if settled && reply.status == 200 {
                    served_after.fetch_add(1, Ordering::Relaxed);
                }
                if settled && reply.code() == "ip_not_allowed" {
                    refused_after.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
        std::thread::sleep(Duration::from_millis(300));
        let changed = patch(
            w,
            admin,
            &id,
            json!({"label": "worker v2", "allowed_ips": ["198.51.100.0/24"]}),
        );
        assert_eq!(changed.status, 200, "{}", changed.body);
        assert_eq!(
            changed.json["key"]["allowed_ips"],
            json!(["198.51.100.0/24"])
        );
        // Edge mode reads KV, which the key ring has written before answering (locally a
        // single store): settled at once here, within KV's propagation bound in production.
        *changed_at.lock().unwrap() = Some(Instant::now());
        std::thread::sleep(Duration::from_millis(700));
        running.store(false, Ordering::Relaxed);
    });
    assert_eq!(
        served_after.load(Ordering::Relaxed),
        0,
        "a request was served under the old policy"
    );
    // And the check above is not vacuous: requests did start after the change, and were
    // refused under the new policy.
    assert!(
        refused_after.load(Ordering::Relaxed) > 0,
        "no request started after the change"
    );
    assert_eq!(
        gate(w, "GET", "/v1/users", &key, "198.51.100.4", &[]).status,
        200
    );
    let log = w.get(
        &format!("/v1/audit_log?event=key.updated&key_id={id}"),
        admin,
    );
    assert_eq!(
        log.json["entries"][0]["detail"]["fields"],
        json!(["label", "allowed_ips"])
    );
    assert!(
        !log.body.contains("198.51.100"),
        "the audit log names fields, never values"
    );
    let cleared = patch(w, admin, &id, json!({"allowed_ips": null}));
    assert!(
        cleared.json["key"].get("allowed_ips").is_none(),
        "{}",
        cleared.body
    );
    let nothing = patch(w, admin, &id, json!({}));
    assert_eq!((nothing.status, nothing.code()), (400, "invalid_request"));
    let kind = patch(w, admin, &id, json!({"kind": "publishable"}));
    assert_eq!(kind.status, 400, "the kind never changes");
}

#[test]
fn policies_in_strict_mode() {
    let w = start("strict");
    expiry_scopes_and_rights(&w);
    routes_addresses_and_origins(&w);
    rate_limits(&w);
    suspension_and_changes_under_traffic(&w);
}

#[test]
fn policies_in_edge_mode() {
    let w = start("edge");
    expiry_scopes_and_rights(&w);
    routes_addresses_and_origins(&w);
    rate_limits(&w);
    suspension_and_changes_under_traffic(&w);
}

#[test]
fn policies_in_regional_mode() {
    let w = start("regional");
    expiry_scopes_and_rights(&w);
    routes_addresses_and_origins(&w);
    rate_limits(&w);
    suspension_and_changes_under_traffic(&w);
}
