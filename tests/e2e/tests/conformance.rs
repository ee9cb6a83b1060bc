//! API conformance: the worker checked against its own `/openapi.json` by schemathesis
//! with every check (`-c all`), and each class of failure schemathesis once found, kept as
//! a plain regression test.

use std::process::Command;
use std::sync::OnceLock;

use aero2_e2e::*;
use serde_json::json;

fn worker() -> &'static Worker {
    static WORKER: OnceLock<Worker> = OnceLock::new();
    WORKER.get_or_init(|| Worker::start("conformance", Options::default()))
}

#[test]
fn a_405_names_the_methods_that_are_allowed() {
    let w = worker();
    let app = w.create_application("Methods", "production");
    let auth = bearer(&app.secret.value);
    let cases: [(&str, &str, &str, &str); 6] = [
        ("PUT", "/v1/keys", auth.as_str(), "GET, POST"),
        ("DELETE", "/openapi.json", "", "GET, HEAD"),
        (
            "GET",
            &*format!("/v1/keys/{}/revoke", app.secret.id),
            auth.as_str(),
            "POST",
        ),
        // worker::Method reads unknown methods as GET; these must not be listed or proxied.
        ("QUERY", "/v1/keys", auth.as_str(), "GET, POST"),
        ("PROPFIND", "/v1/applications", "", "GET, POST"),
        // A TRACE would have the origin echo the request back; it never reaches it.
        (
            "TRACE",
            "/v1/users",
            auth.as_str(),
            "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS",
        ),
    ];
    for (method, path, authorization, allowed) in cases {
        let mut headers = vec![];
        if !authorization.is_empty() {
            headers.push(("Authorization", authorization));
        }
        if path == "/v1/applications" {
            headers.push(("Authorization", "Bearer e2e-operator-token-3f9a1c07d2b8"));
        }
        let reply = request(method, &w.url(path), &headers, None);
        assert_eq!(
            (reply.status, reply.code()),
            (405, "method_not_allowed"),
            "{method} {path}: {}",
            reply.body
        );
        assert_eq!(reply.header("Allow"), Some(allowed), "{method} {path}");
        assert!(
            reply.json.get("origin").is_none(),
            "{method} reached the origin"
        );
    }
}

#[test]
fn an_integer_valued_number_is_an_integer() {
    let w = worker();
    let app = w.create_application("Numbers", "production");
    let path = format!("/v1/keys/{}/rotate", app.publishable.id);
    let fraction = w.post(
        &path,
        &app.secret.value,
        Some(&json!({"grace_period_seconds": 0.5})),
    );
    assert_eq!((fraction.status, fraction.code()), (400, "invalid_request"));
    let null = w.post(
        &path,
        &app.secret.value,
        Some(&json!({"grace_period_seconds": null})),
    );
    assert_eq!((null.status, null.code()), (400, "invalid_request"));
    let whole = w.post(
        &path,
        &app.secret.value,
        Some(&json!({"grace_period_seconds": 73047.0})),
    );
    assert_eq!(whole.status, 200, "{}", whole.body);
    let audit = w.get("/v1/audit_log?event=key.rotated", &app.secret.value);
    assert_eq!(
        audit.json["entries"][0]["detail"]["grace_period_seconds"],
        73047
    );
}

#[test]
fn an_empty_parameter_is_absent_and_a_repeated_one_is_refused() {
    let w = worker();
    let app = w.create_application("Queries", "production");
    let sk = &app.secret.value;
    let empty = w.get("/v1/audit_log?cursor=&key_id=&event=", sk);
    assert_eq!(empty.status, 200, "{}", empty.body);
    assert!(!empty.json["entries"].as_array().unwrap().is_empty());
    for query in [
        "include_revoked=null&include_revoked=null",
        "include_revoked=true&include_revoked=false",
        "include_revoked=null",
        "include_revoked=1",
    ] {
        let reply = w.get(&format!("/v1/keys?{query}"), sk);
        assert_eq!(
            (reply.status, reply.code()),
            (400, "invalid_parameter"),
            "{query}"
        );
    }
    let repeated = w.get("/v1/audit_log?limit=1&limit=2", sk);
    assert_eq!(
        (repeated.status, repeated.code()),
        (400, "invalid_parameter")
    );
    assert_eq!(w.get("/v1/keys?include_revoked=false", sk).status, 200);
    // Cursors past 2^53 keep their value on the way to the Durable Object.
    let big = w.get("/v1/audit_log?cursor=843423379223260822", sk);
    assert_eq!(big.status, 200, "{}", big.body);
}

/// Every operation in /openapi.json, with every schemathesis check: status codes, content
/// types, response schemas, negative and positive data, undeclared methods, stateful
/// sequences. `AERO2_SCHEMATHESIS_EXAMPLES` sets the examples per operation (default 25).
#[test]
fn schemathesis_finds_no_failure_against_the_openapi_document() {
    let w = worker();
    let app = w.create_application("Schemathesis", "production");
    let root = repo_root();
    let program = root.join("target/tools/python/bin/schemathesis");
    assert!(
        program.exists(),
        "schemathesis is missing: scripts/setup.sh installs it into target/tools/python"
    );
    let examples = std::env::var("AERO2_SCHEMATHESIS_EXAMPLES").unwrap_or_else(|_| "25".to_owned());
    let scratch = scratch_dir("schemathesis");
    let output = Command::new(program)
        .current_dir(&scratch)
        .env("AERO2_SECRET_KEY", &app.secret.value)
        .env("AERO2_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("SCHEMATHESIS_HOOKS", "schemathesis_hooks")
        .env("PYTHONPATH", root.join("tests/e2e"))
        .args(["--config-file"])
        .arg(root.join("tests/e2e/schemathesis.toml"))
        .args(["--no-color", "run"])
        .arg(w.url("/openapi.json"))
        // Every check runs (schemathesis' default); `--checks all` is not passed, as on the
        // command line it would override the per-operation settings in schemathesis.toml.
        .args([
            "--max-examples",
            &examples,
            "--generation-database",
            "none",
            "--seed",
            "20261129",
        ])
        .output()
        .expect("run schemathesis");
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    // The output can quote response bodies, and a rotation's body holds a new key: it is
    // printed only to explain a failure, never written to a file.
    let summary = text
        .lines()
        .find(|line| line.contains(" generated, "))
        .unwrap_or("no summary")
        .trim()
        .to_owned();
    assert!(output.status.success(), "schemathesis failed:\n{text}");
    assert!(summary.contains("passed"), "{summary}");
    println!("schemathesis: {summary}");
}

/// The second attacker pass: `/openapi.json` named the session cookie `aero2_session`, but
/// the dashboard sets `__Host-aero2_session`.
#[test]
fn the_documented_session_cookie_is_the_one_set() {
    let w = worker();
    let document = request("GET", &w.url("/openapi.json"), &[], None);
    let documented = document.json["components"]["securitySchemes"]["sessionCookie"]["name"]
        .as_str()
        .unwrap()
        .to_owned();
    let signed_in = request(
        "POST",
        &w.url("/v1/dashboard/session"),
        &[
            ("Content-Type", "application/json"),
            ("CF-Connecting-IP", "10.44.0.1"),
        ],
        Some(&json!({ "token": ADMIN_TOKEN }).to_string()),
    );
    assert_eq!(signed_in.status, 200, "{}", signed_in.body);
    let set = signed_in.header("Set-Cookie").unwrap();
    assert!(
        set.starts_with(&format!("{documented}=")),
        "{documented} vs {set}"
    );
}
