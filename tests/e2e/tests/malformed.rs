//! The malformed-input catalogue: every hostile or mistaken request gets a 4xx with the
//! right stable code, never a 5xx, and no error echoes the key it was given.

use aero2_e2e::*;
use aero2_keys::{ApiKey, ApplicationId, Environment, KeyKind, SystemRandom};
use serde_json::json;

struct Case {
    name: &'static str,
    status: u16,
    code: &'static str,
    reply: (u16, String),
}

fn code_of(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["error"]["code"].as_str().map(str::to_owned))
        .or_else(|| {
            // Raw responses: find the JSON body after the headers.
            body.split("\r\n\r\n").nth(1).and_then(|b| {
                let start = b.find('{')?;
                let value: serde_json::Value =
                    serde_json::from_str(&b[start..b.rfind('}')? + 1]).ok()?;
                value["error"]["code"].as_str().map(str::to_owned)
            })
        })
        .unwrap_or_default()
}

#[test]
fn malformed_input_gets_the_right_4xx_and_never_a_5xx() {
    let w = Worker::start("malformed", Options::default());
    let app = w.create_application("Catalogue", "production");
    let sk = app.secret.value.clone();
    let auth = bearer(&sk);
    let host = w.base.trim_start_matches("http://").to_string();

    let send = |method: &str, path: &str, headers: &[(&str, &str)], body: Option<&str>| {
        let reply = request(method, &w.url(path), headers, body);
        (reply.status, reply.body)
    };
    let raw = |header_bytes: &[u8]| {
        let mut bytes =
            format!("GET /v1/users HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n").into_bytes();
        bytes.extend_from_slice(header_bytes);
        bytes.extend_from_slice(b"\r\n");
        raw_request(&w.base, &bytes)
    };
    let raw_method = |method: &str, path: &str, extra: &str| {
        let bytes = format!(
            "{method} {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {}\r\n{extra}Connection: close\r\n\r\n",
            app.publishable.value
        );
        raw_request(&w.base, bytes.as_bytes())
    };
    let raw_path = |path: &str, extra: &str| raw_method("GET", path, extra);
    let forged_session =
        |cookie: &str| send("GET", "/v1/applications", &[("Cookie", cookie)], None);
    let json_post = |path: &str, body: &str| {
        send(
            "POST",
            path,
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
            ],
            Some(body),
        )
    };

    let mut flipped = sk.clone();
    let replacement = if &sk[30..31] == "A" { "B" } else { "A" };
    flipped.replace_range(30..31, replacement);
    let mut lookalike = sk.clone().into_bytes();
    lookalike.splice(30..31, "а".bytes()); // Cyrillic a
    let mut zwj = sk.clone().into_bytes();
    zwj.splice(40..40, "\u{200D}".bytes());
    let app_id = ApplicationId::parse(&app.id).unwrap();
    let unknown = ApiKey::generate(
        KeyKind::Secret,
        Environment::Live,
        app_id,
        &mut SystemRandom,
    )
    .unwrap();
    let other_app = ApplicationId::generate(&mut SystemRandom).unwrap();
    let orphan = ApiKey::generate(
        KeyKind::Secret,
        Environment::Live,
        other_app,
        &mut SystemRandom,
    )
    .unwrap();
    let long_key = format!("Bearer sk_live_{}", "a".repeat(64 * 1024));
    let megabyte_key = format!("Authorization: Bearer sk_live_{}\r\n", "a".repeat(1 << 20));
    let big_headers: String = (0..100)
        .map(|i| format!("X-Flood-{i}: {}\r\n", "v".repeat(8000)))
        .collect();
    let many_headers: String = (0..90).map(|i| format!("X-Many-{i}: v\r\n")).collect();
    let bomb = format!("{}{}", "[".repeat(5_000), "]".repeat(5_000));
    let big_body = json!({"kind": "secret", "label": "x".repeat(20_000)}).to_string();
    let key_path = format!("/v1/keys/{}", app.publishable.id);

    let cases = vec![
        Case {
            name: "no Authorization header",
            status: 401,
            code: "missing_key",
            reply: send("GET", "/v1/users", &[], None),
        },
        Case {
            name: "empty Authorization header",
            status: 401,
            code: "missing_key",
            reply: raw(b"Authorization: \r\n"),
        },
        Case {
            name: "scheme without a key",
            status: 401,
            code: "malformed_key",
            reply: send("GET", "/v1/users", &[("Authorization", "Bearer")], None),
        },
        Case {
            name: "Basic credentials",
            status: 401,
            code: "malformed_key",
            reply: send(
                "GET",
                "/v1/users",
                &[("Authorization", "Basic dXNlcjpwYXNz")],
                None,
            ),
        },
        Case {
            name: "key without a scheme",
            status: 401,
            code: "malformed_key",
            reply: send("GET", "/v1/users", &[("Authorization", &sk)], None),
        },
        Case {
            name: "too short",
            status: 401,
            code: "malformed_key",
            reply: send(
                "GET",
                "/v1/users",
                &[("Authorization", "Bearer sk_live_abc")],
                None,
            ),
        },
        Case {
            name: "unknown prefix",
            status: 401,
            code: "malformed_key",
            reply: send(
                "GET",
                "/v1/users",
                &[("Authorization", &bearer(&sk.replacen("sk_", "rk_", 1)))],
                None,
            ),
        },
        Case {
            name: "one character changed",
            status: 401,
            code: "bad_checksum",
            reply: send(
                "GET",
                "/v1/users",
                &[("Authorization", &bearer(&flipped))],
                None,
            ),
        },
        Case {
            name: "truncated",
            status: 401,
            code: "malformed_key",
            reply: send(
                "GET",
                "/v1/users",
                &[("Authorization", &bearer(&sk[..61]))],
                None,
            ),
        },
        Case {
            name: "one character too many",
            status: 401,
            code: "malformed_key",
            reply: send(
                "GET",
                "/v1/users",
                &[("Authorization", &bearer(&format!("{sk}0")))],
                None,
            ),
        },
        Case {
            name: "Unicode look-alike",
            status: 401,
            code: "malformed_key",
            reply: raw(&[b"Authorization: Bearer ".as_slice(), &lookalike, b"\r\n"].concat()),
        },
        Case {
            name: "zero-width joiner",
            status: 401,
            code: "malformed_key",
            reply: raw(&[b"Authorization: Bearer ".as_slice(), &zwj, b"\r\n"].concat()),
        },
        Case {
            name: "invalid UTF-8 bytes",
            status: 401,
            code: "malformed_key",
            reply: raw(b"Authorization: Bearer sk_live_\xff\xfe\xfd\r\n"),
        },
        Case {
            name: "64 KiB key",
            status: 401,
            code: "malformed_key",
            reply: send("GET", "/v1/users", &[("Authorization", &long_key)], None),
        },
        // Header floods and a 1 MiB key are refused by the Workers runtime itself, before
        // the worker runs, with 431 (Cloudflare's edge has the same kind of limit).
        Case {
            name: "1 MiB key",
            status: 431,
            code: "",
            reply: raw(megabyte_key.as_bytes()),
        },
        Case {
            name: "100 headers of 8 KB",
            status: 431,
            code: "",
            reply: raw(big_headers.as_bytes()),
        },
        Case {
            name: "90 extra headers, no key",
            status: 401,
            code: "missing_key",
            reply: raw(many_headers.as_bytes()),
        },
        Case {
            name: "two keys in one header",
            status: 401,
            code: "malformed_key",
            reply: raw(format!("Authorization: {auth}\r\nAuthorization: {auth}\r\n").as_bytes()),
        },
        Case {
            name: "well-formed but never issued",
            status: 401,
            code: "unknown_key",
            reply: send(
                "GET",
                "/v1/users",
                &[("Authorization", &bearer(unknown.expose_secret()))],
                None,
            ),
        },
        Case {
            name: "key of an application that does not exist",
            status: 401,
            code: "unknown_key",
            reply: send(
                "GET",
                "/v1/users",
                &[("Authorization", &bearer(orphan.expose_secret()))],
                None,
            ),
        },
        Case {
            name: "create without a body",
            status: 400,
            code: "invalid_request",
            reply: send("POST", "/v1/keys", &[("Authorization", &auth)], None),
        },
        Case {
            name: "body is not JSON",
            status: 400,
            code: "invalid_request",
            reply: json_post("/v1/keys", "{\"kind\":"),
        },
        Case {
            name: "JSON with the wrong content type",
            status: 415,
            code: "unsupported_media_type",
            reply: send(
                "POST",
                "/v1/keys",
                &[("Authorization", &auth), ("Content-Type", "text/plain")],
                Some("{\"kind\":\"secret\"}"),
            ),
        },
        Case {
            name: "unknown key kind",
            status: 400,
            code: "invalid_request",
            reply: json_post("/v1/keys", "{\"kind\":\"admin\"}"),
        },
        Case {
            name: "unknown field",
            status: 400,
            code: "invalid_request",
            reply: json_post("/v1/keys", "{\"kind\":\"secret\",\"colour\":\"red\"}"),
        },
        Case {
            name: "unknown scope",
            status: 400,
            code: "invalid_policy",
            reply: json_post("/v1/keys", "{\"kind\":\"secret\",\"scopes\":[\"all\"]}"),
        },
        Case {
            name: "label too long",
            status: 400,
            code: "invalid_label",
            reply: json_post(
                "/v1/keys",
                &json!({"kind": "secret", "label": "x".repeat(101)}).to_string(),
            ),
        },
        Case {
            name: "label with a control character",
            status: 400,
            code: "invalid_label",
            reply: json_post("/v1/keys", "{\"kind\":\"secret\",\"label\":\"a\\u0000b\"}"),
        },
        Case {
            name: "body over the size limit",
            status: 413,
            code: "payload_too_large",
            reply: json_post("/v1/keys", &big_body),
        },
        Case {
            name: "deeply nested JSON",
            status: 400,
            code: "invalid_request",
            reply: json_post("/v1/keys", &bomb),
        },
        Case {
            name: "key id with path traversal",
            status: 400,
            code: "invalid_path",
            reply: send(
                "POST",
                "/v1/keys/key_%2e%2e%2f%2e%2e%2fetc/revoke",
                &[("Authorization", &auth)],
                None,
            ),
        },
        Case {
            name: "key id that does not exist",
            status: 404,
            code: "key_not_found",
            reply: send(
                "POST",
                "/v1/keys/key_0000000000000000/revoke",
                &[("Authorization", &auth)],
                None,
            ),
        },
        Case {
            name: "wrong method on revoke",
            status: 405,
            code: "method_not_allowed",
            reply: send(
                "GET",
                &format!("{key_path}/revoke"),
                &[("Authorization", &auth)],
                None,
            ),
        },
        Case {
            name: "wrong method on keys",
            status: 405,
            code: "method_not_allowed",
            reply: send("DELETE", "/v1/keys", &[("Authorization", &auth)], None),
        },
        Case {
            name: "unknown key action",
            status: 404,
            code: "not_found",
            reply: send(
                "POST",
                &format!("{key_path}/explode"),
                &[("Authorization", &auth)],
                None,
            ),
        },
        Case {
            name: "negative grace period",
            status: 400,
            code: "invalid_request",
            reply: json_post(
                &format!("{key_path}/rotate"),
                "{\"grace_period_seconds\":-5}",
            ),
        },
        Case {
            name: "grace period over 7 days",
            status: 400,
            code: "invalid_grace_period",
            reply: json_post(
                &format!("{key_path}/rotate"),
                "{\"grace_period_seconds\":1000000000}",
            ),
        },
        Case {
            name: "grace period as text",
            status: 400,
            code: "invalid_request",
            reply: json_post(
                &format!("{key_path}/rotate"),
                "{\"grace_period_seconds\":\"soon\"}",
            ),
        },
        Case {
            name: "audit limit 0",
            status: 400,
            code: "invalid_limit",
            reply: send(
                "GET",
                "/v1/audit_log?limit=0",
                &[("Authorization", &auth)],
                None,
            ),
        },
        Case {
            name: "audit limit not a number",
            status: 400,
            code: "invalid_limit",
            reply: send(
                "GET",
                "/v1/audit_log?limit=ten",
                &[("Authorization", &auth)],
                None,
            ),
        },
        Case {
            name: "audit cursor negative",
            status: 400,
            code: "invalid_cursor",
            reply: send(
                "GET",
                "/v1/audit_log?cursor=-1",
                &[("Authorization", &auth)],
                None,
            ),
        },
        Case {
            name: "audit key id malformed",
            status: 400,
            code: "invalid_key_id",
            reply: send(
                "GET",
                "/v1/audit_log?key_id=nope",
                &[("Authorization", &auth)],
                None,
            ),
        },
        Case {
            name: "audit event with SQL",
            status: 400,
            code: "invalid_event",
            reply: send(
                "GET",
                "/v1/audit_log?event=x%27%3BDROP%20TABLE%20audit",
                &[("Authorization", &auth)],
                None,
            ),
        },
        Case {
            name: "application name too long",
            status: 400,
            code: "invalid_name",
            reply: send(
                "POST",
                "/v1/applications",
                &[
                    ("Authorization", &bearer(ADMIN_TOKEN)),
                    ("Content-Type", "application/json"),
                ],
                Some(&json!({"name": "n".repeat(101), "environment": "production"}).to_string()),
            ),
        },
        Case {
            name: "application id malformed",
            status: 400,
            code: "invalid_path",
            reply: send(
                "GET",
                "/v1/applications/app_%00/keys",
                &[("Authorization", &bearer(ADMIN_TOKEN))],
                None,
            ),
        },
        Case {
            name: "operator token as a key",
            status: 401,
            code: "malformed_key",
            reply: send(
                "GET",
                "/v1/keys",
                &[("Authorization", &bearer(ADMIN_TOKEN))],
                None,
            ),
        },
        // Paths: one reading for every server behind the gate.
        Case {
            name: "encoded slash climbing out of a frontend route",
            status: 400,
            code: "invalid_path",
            reply: raw_path("/v1/client/..%2F..%2Fadmin", ""),
        },
        Case {
            name: "encoded backslash",
            status: 400,
            code: "invalid_path",
            reply: raw_path("/v1/client/..%5cadmin", ""),
        },
        Case {
            name: "Tomcat path parameter",
            status: 400,
            code: "invalid_path",
            reply: raw_path("/v1/client/..;/admin", ""),
        },
        Case {
            name: "empty segment",
            status: 400,
            code: "invalid_path",
            reply: raw_path("/v1/client//admin", ""),
        },
        Case {
            name: "encoded NUL in the path",
            status: 400,
            code: "invalid_path",
            reply: raw_path("/v1/client/%00.json", ""),
        },
        Case {
            name: "truncated escape in the path",
            status: 400,
            code: "invalid_path",
            reply: raw_path("/v1/client/%G1", ""),
        },
        // Found by the attacker review: these passed as frontend paths.
        Case {
            name: "double-encoded slash",
            status: 400,
            code: "invalid_path",
            reply: raw_path("/v1/client/..%252Fusers", ""),
        },
        Case {
            name: "overlong UTF-8 slash",
            status: 400,
            code: "invalid_path",
            reply: raw_path("/v1/client/%c0%af", ""),
        },
        Case {
            name: "fullwidth solidus",
            status: 400,
            code: "invalid_path",
            reply: raw_path("/v1/client/%ef%bc%8f..%ef%bc%8fusers", ""),
        },
        Case {
            name: "label with a right-to-left override",
            status: 400,
            code: "invalid_label",
            reply: json_post(
                "/v1/keys",
                "{\"kind\":\"secret\",\"label\":\"pay\\u202elacol\"}",
            ),
        },
        Case {
            name: "dot segments leading off the frontend routes",
            status: 403,
            code: "publishable_key_not_allowed",
            reply: raw_path("/v1/client/%2e%2e/admin", ""),
        },
        Case {
            name: "upper-case route with a publishable key",
            status: 403,
            code: "publishable_key_not_allowed",
            reply: raw_path("/V1/CLIENT/x", ""),
        },
        // Methods.
        Case {
            name: "TRACE to a gated path",
            status: 405,
            code: "method_not_allowed",
            reply: send("TRACE", "/v1/users", &[("Authorization", &auth)], None),
        },
        Case {
            name: "unknown method to the management API",
            status: 405,
            code: "method_not_allowed",
            reply: send("PROPFIND", "/v1/keys", &[("Authorization", &auth)], None),
        },
        // Headers and cookies.
        Case {
            name: "a preflight from an origin that is not an origin",
            status: 204,
            code: "",
            reply: raw_method(
                "OPTIONS",
                "/v1/client/x",
                "Origin: javascript:alert(1)\r\nAccess-Control-Request-Method: GET\r\n",
            ),
        },
        Case {
            name: "a forged session cookie",
            status: 401,
            // A well-formed cookie that names no session: sign in again.
            code: "not_signed_in",
            reply: forged_session(&format!("__Host-aero2_session={}", "a".repeat(64))),
        },
        Case {
            name: "the first build's stateless session cookie",
            status: 401,
            code: "invalid_admin_token",
            reply: forged_session("aero2_session=9999999999999.abc.def"),
        },
        Case {
            name: "a session cookie that is not hex",
            status: 401,
            code: "invalid_admin_token",
            reply: forged_session("__Host-aero2_session=../../etc/passwd; x=1"),
        },
        Case {
            name: "a 6 KB cookie",
            status: 401,
            code: "invalid_admin_token",
            reply: forged_session(&format!("__Host-aero2_session={}", "f".repeat(6000))),
        },
        Case {
            name: "gate headers with underscores and a forged client address",
            status: 200,
            code: "",
            reply: raw_path(
                "/v1/client/x",
                "X_Aero2_Key_Kind: secret\r\nX-Aero2-Client-Ip: 6.6.6.6\r\nForwarded: for=6.6.6.6\r\n",
            ),
        },
    ];
    assert!(cases.len() >= 66, "{} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let (status, body) = &case.reply;
        let code = code_of(body);
        if *status != case.status || code != case.code {
            failures.push(format!(
                "{}: expected {} {}, got {} {} ({})",
                case.name,
                case.status,
                case.code,
                status,
                code,
                &body[..body.len().min(300)]
            ));
        }
        assert!(*status < 500, "{} answered {status}", case.name);
        let lower = body.to_ascii_lowercase();
        if case.name.starts_with("a preflight from an origin") {
            assert!(!lower.contains("access-control-allow-origin"), "{body}");
        }
        assert!(
            !lower.contains("6.6.6.6") && !lower.contains("x_aero2"),
            "{} leaked a forged header",
            case.name
        );
        assert!(!body.contains(&sk[8..58]), "{} echoed the key", case.name);
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    // The application still works after all of that.
    assert_eq!(w.get("/v1/users", &sk).status, 200);
}
