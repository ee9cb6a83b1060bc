//! The operator's boundaries: server-side dashboard sessions (sign-out ends them, they can
//! be listed and all ended), sign-in limits, a trimmed ADMIN_TOKEN, and that an
//! application's audit log names the operator without the operator's address.

use std::sync::OnceLock;

use aero2_e2e::*;
use serde_json::json;

fn worker() -> &'static Worker {
    static WORKER: OnceLock<Worker> = OnceLock::new();
    WORKER.get_or_init(|| Worker::start("operator", Options::default()))
}

struct Signed {
    cookie: String,
    csrf: String,
    id: String,
}

fn sign_in(w: &Worker, ip: &str, token: &str) -> Result<Signed, Reply> {
    let body = json!({ "token": token }).to_string();
    let reply = request(
        "POST",
        &w.url("/v1/dashboard/session"),
        &[
            ("Content-Type", "application/json"),
            ("CF-Connecting-IP", ip),
        ],
        Some(&body),
    );
    if reply.status != 200 {
        return Err(reply);
    }
    let set_cookie = reply.header("Set-Cookie").unwrap().to_owned();
    for attribute in [
        "HttpOnly",
        "Secure",
        "SameSite=Strict",
        "Path=/",
        "Max-Age=28800",
    ] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    assert!(
        !set_cookie.contains("Domain"),
        "a __Host- cookie has no Domain"
    );
    let value = set_cookie
        .strip_prefix("__Host-aero2_session=")
        .and_then(|rest| rest.split(';').next())
        .unwrap();
    Ok(Signed {
        cookie: format!("__Host-aero2_session={value}"),
        csrf: reply.json["csrf"].as_str().unwrap().to_owned(),
        id: reply.json["session_id"].as_str().unwrap().to_owned(),
    })
}

fn with_cookie(w: &Worker, method: &str, path: &str, session: &Signed) -> Reply {
    request(
        method,
        &w.url(path),
        &[
            ("Cookie", &session.cookie),
            ("X-CSRF-Token", &session.csrf),
            ("CF-Connecting-IP", "10.12.0.1"),
        ],
        None,
    )
}

#[test]
fn signing_out_ends_the_session_on_the_server_and_sessions_can_be_listed_and_ended() {
    let w = worker();
    let first = sign_in(w, "10.12.1.1", ADMIN_TOKEN).unwrap();
    let second = sign_in(w, "10.12.1.2", ADMIN_TOKEN).unwrap();
    assert_eq!(
        with_cookie(w, "GET", "/v1/applications", &first).status,
        200
    );

    let listed = with_cookie(w, "GET", "/v1/dashboard/sessions", &first);
    assert_eq!(listed.status, 200, "{}", listed.body);
    let sessions = listed.json["sessions"].as_array().unwrap();
    let mine = sessions
        .iter()
        .find(|s| s["id"] == first.id.as_str())
        .unwrap();
    assert_eq!(mine["current"], true);
    assert_eq!(mine["ip"], "10.12.1.1");
    let other = sessions
        .iter()
        .find(|s| s["id"] == second.id.as_str())
        .unwrap();
    assert_eq!(other["current"], false);
    assert!(
        !listed.body.contains(&first.cookie[21..]),
        "no token is listed"
    );

    // Sign-out ends the session itself: a copy of the cookie no longer works.
    let out = with_cookie(w, "DELETE", "/v1/dashboard/session", &second);
    assert_eq!(out.status, 200);
    assert!(out.header("Set-Cookie").unwrap().contains("Max-Age=0"));
    let copied = with_cookie(w, "GET", "/v1/applications", &second);
    assert_eq!((copied.status, copied.code()), (401, "not_signed_in"));

    // Ending one session by id, then every session.
    let third = sign_in(w, "10.12.1.3", ADMIN_TOKEN).unwrap();
    let ended = with_cookie(
        w,
        "DELETE",
        &format!("/v1/dashboard/sessions/{}", third.id),
        &first,
    );
    assert_eq!(ended.status, 200, "{}", ended.body);
    assert_eq!(
        with_cookie(w, "GET", "/v1/applications", &third).status,
        401
    );
    let again = with_cookie(
        w,
        "DELETE",
        &format!("/v1/dashboard/sessions/{}", third.id),
        &first,
    );
    assert_eq!((again.status, again.code()), (404, "session_not_found"));
    let fourth = sign_in(w, "10.12.1.4", ADMIN_TOKEN).unwrap();
    let everywhere = with_cookie(w, "DELETE", "/v1/dashboard/sessions", &first);
    assert_eq!(everywhere.status, 200);
    for session in [&first, &fourth] {
        assert_eq!(
            with_cookie(w, "GET", "/v1/applications", session).status,
            401
        );
    }
}

#[test]
fn a_session_cookie_changes_nothing_without_its_csrf_token() {
    let w = worker();
    let session = sign_in(w, "10.12.2.1", ADMIN_TOKEN).unwrap();
    let body = json!({"name": "x", "environment": "production"}).to_string();
    let without = request(
        "POST",
        &w.url("/v1/applications"),
        &[
            ("Cookie", &session.cookie),
            ("Content-Type", "application/json"),
            ("CF-Connecting-IP", "10.12.2.1"),
        ],
        Some(&body),
    );
    assert_eq!((without.status, without.code()), (403, "csrf_check_failed"));
    let forged = request(
        "DELETE",
        &w.url("/v1/dashboard/sessions"),
        &[
            ("Cookie", &session.cookie),
            ("X-CSRF-Token", &"0".repeat(32)),
            ("CF-Connecting-IP", "10.12.2.1"),
        ],
        None,
    );
    assert_eq!(forged.code(), "csrf_check_failed");
    assert_eq!(
        with_cookie(w, "GET", "/v1/applications", &session).status,
        200,
        "still signed in"
    );
}

#[test]
fn sign_ins_and_wrong_operator_tokens_are_limited_per_address() {
    let w = worker();
    let ip = "10.12.3.1";
    for attempt in 0..10 {
        let refused = sign_in(w, ip, "wrong-token-wrong-token").err().unwrap();
        assert_eq!(refused.code(), "invalid_admin_token", "attempt {attempt}");
    }
    // Only wrong tokens count: the eleventh goes over the limit, and from then on the
    // address waits, whatever it sends.
    let limited = sign_in(w, ip, "wrong-token-wrong-token").err().unwrap();
    assert_eq!(limited.status, 429);
    let limited = sign_in(w, ip, ADMIN_TOKEN).err().unwrap();
    assert_eq!(
        (limited.status, limited.code()),
        (429, "too_many_sign_in_attempts")
    );
    let wait: u64 = limited.header("Retry-After").unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait));
    // Even the right token waits at that address; another address signs in.
    assert!(sign_in(w, "10.12.3.2", ADMIN_TOKEN).is_ok());

    // Wrong operator tokens in Authorization count the same way.
    let ip = "10.12.3.3";
    let bearer_from = |token: &str| {
        request(
            "GET",
            &w.url("/v1/applications"),
            &[("Authorization", &bearer(token)), ("CF-Connecting-IP", ip)],
            None,
        )
    };
    for _ in 0..10 {
        assert_eq!(
            bearer_from("not-the-operator-token").code(),
            "invalid_admin_token"
        );
    }
    assert_eq!(
        bearer_from("not-the-operator-token").code(),
        "too_many_sign_in_attempts"
    );
    assert_eq!(bearer_from(ADMIN_TOKEN).code(), "too_many_sign_in_attempts");
}

#[test]
fn made_up_session_cookies_count_as_failed_attempts() {
    // Found by the attacker review: each made-up cookie was a free call to the one
    // registry object.
    let w = worker();
    let ip = "10.12.5.1";
    let attempt = |n: usize| {
        request(
            "GET",
            &w.url("/v1/applications"),
            &[
                ("Cookie", &format!("__Host-aero2_session={:064x}", n)),
                ("CF-Connecting-IP", ip),
            ],
            None,
        )
    };
    within_one_rate_window(20);
    for n in 0..100 {
        assert_eq!(attempt(n).code(), "not_signed_in", "{n}");
    }
    let limited = attempt(100);
    assert_eq!(
        (limited.status, limited.code()),
        (429, "too_many_failed_attempts")
    );
    assert!(limited.header("Retry-After").is_some());
    // Not the sign-in limit: the operator at that address can still sign in.
    assert!(sign_in(w, ip, ADMIN_TOKEN).is_ok());
}

#[test]
fn an_applications_audit_log_names_the_operator_but_not_the_operators_address() {
    let w = worker();
    let app = w.create_application("Audited", "production");
    let revoked = request(
        "POST",
        &w.url(&format!(
            "/v1/applications/{}/keys/{}/revoke",
            app.id, app.publishable.id
        )),
        &[
            ("Authorization", &bearer(ADMIN_TOKEN)),
            ("User-Agent", "operator-laptop/1.0"),
            ("CF-Connecting-IP", "203.0.113.50"),
        ],
        None,
    );
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    let log = w.get("/v1/audit_log", &app.secret.value);
    let entries = log.json["entries"].as_array().unwrap();
    assert!(entries.len() >= 4, "{}", log.body);
    for entry in entries {
        assert_eq!(entry["actor"], "operator");
        assert!(
            entry["ip"].is_null() && entry["user_agent"].is_null(),
            "{entry}"
        );
    }
    assert!(!log.body.contains("203.0.113.50") && !log.body.contains("operator-laptop"));
}

#[test]
fn the_admin_token_is_compared_trimmed() {
    let w = worker();
    for padded in [format!("  {ADMIN_TOKEN}"), format!("{ADMIN_TOKEN}\t ")] {
        let reply = request(
            "GET",
            &w.url("/v1/applications"),
            &[
                ("Authorization", &format!("Bearer {padded}")),
                ("CF-Connecting-IP", "10.12.4.1"),
            ],
            None,
        );
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    assert!(sign_in(w, "10.12.4.2", &format!(" {ADMIN_TOKEN} ")).is_ok());
}

/// The second attacker pass: the sign-in counter went up before the request was read, so
/// any page the operator visited could keep the operator's address at 429 with a dozen
/// `fetch(…, {method: "POST", mode: "no-cors"})` calls a minute. Cross-site sign-ins (another
/// `Origin`, `Sec-Fetch-Site: cross-site`, or a body that is not JSON, all that a no-cors
/// request can send) are refused before anything is counted.
#[test]
fn a_page_on_another_site_cannot_lock_the_operator_out() {
    let w = worker();
    let ip = "10.12.9.1";
    let body = json!({ "token": "wrong-token-wrong-token" }).to_string();
    for attempt in 0..30 {
        let (origin_header, site, content_type) = match attempt % 3 {
            0 => (
                Some("https://evil.example"),
                None,
                "text/plain;charset=UTF-8",
            ),
            1 => (Some("https://evil.example"), None, "application/json"),
            _ => (None, Some("cross-site"), "application/json"),
        };
        let mut headers = vec![("Content-Type", content_type), ("CF-Connecting-IP", ip)];
        if let Some(origin) = origin_header {
            headers.push(("Origin", origin));
        }
        if let Some(site) = site {
            headers.push(("Sec-Fetch-Site", site));
        }
        let refused = request(
            "POST",
            &w.url("/v1/dashboard/session"),
            &headers,
            Some(&body),
        );
        assert!(
            matches!(
                (refused.status, refused.code()),
                (403, "cross_site_request") | (415, "unsupported_media_type")
            ),
            "attempt {attempt}: {} {}",
            refused.status,
            refused.body
        );
    }
    // The operator, on the dashboard's own page, signs in at once.
    let own_origin = w.base.clone();
    let signed = request(
        "POST",
        &w.url("/v1/dashboard/session"),
        &[
            ("Content-Type", "application/json"),
            ("CF-Connecting-IP", ip),
            ("Origin", &own_origin),
            ("Sec-Fetch-Site", "same-origin"),
        ],
        Some(&json!({ "token": ADMIN_TOKEN }).to_string()),
    );
    assert_eq!(signed.status, 200, "{}", signed.body);
}

/// The dashboard's address as people type it, without the trailing slash, leads to the
/// dashboard (newcomer run, session 5: it was gated, and answered 401 `missing_key`).
#[test]
fn the_dashboard_without_its_trailing_slash_redirects_to_it() {
    let w = worker();
    let bare = request("GET", &w.url("/dashboard"), &[], None);
    assert!(
        (300..400).contains(&bare.status),
        "{} {}",
        bare.status,
        bare.body
    );
    let location = bare.header("Location").unwrap_or_default();
    assert!(location.ends_with("/dashboard/"), "{location}");
    let page = request("GET", &w.url("/dashboard/"), &[], None);
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("<html"),
        "{}",
        &page.body[..page.body.len().min(200)]
    );
}

/// An audit page's SQL bound stays within JavaScript's exact integers: the first page's
/// default bound (`i64::MAX`) was logged on every read as "outside the JavaScript
/// safe-integer range" (newcomer run, session 5).
#[test]
fn reading_the_audit_log_logs_no_unsafe_integer() {
    let w = worker();
    let app = w.create_application("Audit bound", "production");
    for path in ["/v1/audit_log", "/v1/audit_log?cursor=999999999999999999"] {
        let page = w.get(path, &app.secret.value);
        assert_eq!(page.status, 200, "{path}: {}", page.body);
        assert!(
            !page.json["entries"].as_array().unwrap().is_empty(),
            "{path}"
        );
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(
        !w.logs().contains("safe-integer"),
        "a SQL parameter lost precision"
    );
}
