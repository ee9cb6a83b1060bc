//! The `aero2` binary from the outside: arguments refused, exit statuses, standard output
//! against standard error, scans of real trees, `--staged` in a real git repository, and
//! SARIF checked against the SARIF 2.1.0 schema. API commands run against a small fake
//! API on 127.0.0.1 that answers as the real one does (the real worker is exercised by
//! `tests/e2e/tests/cli.rs`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command as StdCommand;
use std::sync::{Arc, Mutex};

use aero2_keys::{ApiKey, ApplicationId, Environment, KeyKind, SystemRandom};
use assert_cmd::Command;
use serde_json::{json, Value};

fn key(kind: KeyKind) -> String {
    let app = ApplicationId::generate(&mut SystemRandom).unwrap();
    ApiKey::generate(kind, Environment::Live, app, &mut SystemRandom)
        .unwrap()
        .expose_secret()
        .to_owned()
}

fn broken(key: &str) -> String {
    let mut broken = key.to_owned();
    let last = broken.pop().unwrap();
    broken.push(if last == '0' { '1' } else { '0' });
    assert!(aero2_keys::parse(&broken).is_err());
    broken
}

fn hint(key: &str) -> String {
    format!("{}…{}", &key[..8], &key[key.len() - 4..])
}

/// The binary, with no credential or API URL from the environment of whoever runs the
/// tests.
fn aero2() -> Command {
    let mut command = Command::cargo_bin("aero2").unwrap();
    command
        .env_remove("AERO2_SECRET_KEY")
        .env_remove("AERO2_OPERATOR_TOKEN")
        .env_remove("AERO2_API_URL")
        .env_remove("AERO2_ALLOW_INSECURE_HTTP");
    command
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(command: &mut Command) -> Run {
    let output = command.output().unwrap();
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

// ---------------------------------------------------------------------------------------
// Arguments

#[test]
fn a_key_given_as_an_argument_is_refused_before_anything_is_sent() {
    let api = FakeApi::start(|_| (200, json!({"keys": []})));
    for kind in KeyKind::ALL {
        let value = key(kind);
        for args in [
            vec!["keys", "list", value.as_str()],
            vec!["keys", "create", "--label", value.as_str()],
            vec!["scan", value.as_str()],
        ] {
            let out = run(aero2().args(&args).env("AERO2_API_URL", &api.base));
            assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
            assert!(out.stdout.is_empty());
            assert!(!out.stderr.contains(&value), "the key was echoed");
            assert!(out.stderr.contains(&hint(&value)), "{}", out.stderr);
            assert!(out.stderr.contains("shell history") && out.stderr.contains("`ps`"));
        }
    }
    for flag in ["--key", "--token=abc", "--secret-key", "--api-key"] {
        let out = run(aero2().args(["keys", "list", flag, "x"]));
        assert_eq!(out.code, 2, "{flag}");
        assert!(out.stderr.contains("AERO2_SECRET_KEY"), "{}", out.stderr);
    }
    assert!(api.requests().is_empty(), "nothing may be sent");
}

#[test]
fn usage_errors_exit_2_and_help_exits_0_with_examples_and_exit_statuses() {
    assert_eq!(run(aero2().args(["keys", "frobnicate"])).code, 2);
    assert_eq!(run(aero2().args(["keys", "rotate"])).code, 2);
    assert_eq!(
        run(aero2().args(["keys", "rotate", "key_x", "--grace", "5y"])).code,
        2
    );
    let help = run(aero2().arg("--help"));
    assert_eq!(help.code, 0);
    for needle in [
        "Examples:",
        "Exit status:",
        "3  authentication failed (401)",
        "AERO2_SECRET_KEY",
    ] {
        assert!(help.stdout.contains(needle), "{needle}");
    }
    for command in [
        vec!["keys", "list"],
        vec!["keys", "create"],
        vec!["keys", "rotate"],
        vec!["keys", "revoke"],
        vec!["keys", "suspend"],
        vec!["keys", "resume"],
        vec!["keys", "update"],
        vec!["audit", "list"],
        vec!["audit", "export"],
        vec!["scan"],
        vec!["completions"],
    ] {
        let out = run(aero2().args(&command).arg("--help"));
        assert_eq!(out.code, 0);
        assert!(out.stdout.contains("Examples:"), "{command:?}");
    }
}

#[test]
fn completions_for_bash_zsh_and_fish() {
    for shell in ["bash", "zsh", "fish"] {
        let out = run(aero2().args(["completions", shell]));
        assert_eq!(out.code, 0);
        assert!(out.stdout.contains("aero2"), "{shell}");
        assert!(out.stdout.contains("rotate"), "{shell}");
    }
}

// ---------------------------------------------------------------------------------------
// Credentials

#[test]
fn missing_or_unusable_credentials_exit_3_without_a_request() {
    let api = FakeApi::start(|_| (200, json!({"keys": []})));
    let out = run(aero2()
        .args(["keys", "list"])
        .env("AERO2_API_URL", &api.base));
    assert_eq!(out.code, 3);
    assert!(out.stderr.contains("AERO2_SECRET_KEY"));

    let publishable = key(KeyKind::Publishable);
    let out = run(aero2()
        .args(["keys", "list"])
        .env("AERO2_API_URL", &api.base)
        .env("AERO2_SECRET_KEY", &publishable));
    assert_eq!(out.code, 3);
    assert!(out.stderr.contains("publishable") && !out.stderr.contains(&publishable));

    let bad = broken(&key(KeyKind::Secret));
    let out = run(aero2()
        .args(["keys", "list"])
        .env("AERO2_API_URL", &api.base)
        .env("AERO2_SECRET_KEY", &bad));
    assert_eq!(out.code, 3);
    assert!(out.stderr.contains("checksum") && !out.stderr.contains(&bad));

    let out = run(aero2()
        .args(["keys", "list", "--app", "app_0123456789abcdef"])
        .env("AERO2_API_URL", &api.base)
        .env("AERO2_SECRET_KEY", key(KeyKind::Secret)));
    assert_eq!(out.code, 3, "--app needs the operator token");
    assert!(out.stderr.contains("AERO2_OPERATOR_TOKEN"));
    assert!(api.requests().is_empty());
}

#[test]
fn plain_http_to_another_host_is_refused() {
    let out = run(aero2()
        .args(["keys", "list"])
        .env("AERO2_API_URL", "http://keys.example.com")
        .env("AERO2_SECRET_KEY", key(KeyKind::Secret)));
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("https"), "{}", out.stderr);
}

#[test]
fn the_key_goes_in_the_authorization_header_from_the_environment_or_a_file() {
    let api = FakeApi::start(|_| (200, json!({"keys": []})));
    let secret = key(KeyKind::Secret);
    let out = run(aero2()
        .args(["keys", "list", "--json"])
        .env("AERO2_API_URL", &api.base)
        .env("AERO2_SECRET_KEY", &secret));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        serde_json::from_str::<Value>(&out.stdout).unwrap(),
        json!({"keys": []})
    );

    let other = key(KeyKind::Secret);
    let out = run(aero2()
        .args(["keys", "list", "--key-file", "-"])
        .env("AERO2_API_URL", &api.base)
        .env("AERO2_SECRET_KEY", &secret)
        .write_stdin(format!("{other}\n")));
    assert_eq!(out.code, 0, "{}", out.stderr);

    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "operator-token-for-tests\n").unwrap();
    let out = run(aero2()
        .args([
            "keys",
            "list",
            "--app",
            "app_0123456789abcdef",
            "--key-file",
        ])
        .arg(&token_file)
        .env("AERO2_API_URL", &api.base));
    assert_eq!(out.code, 0, "{}", out.stderr);

    let requests = api.requests();
    assert_eq!(requests.len(), 3);
    assert_eq!(requests[0].path, "/v1/keys");
    assert_eq!(requests[0].authorization, format!("Bearer {secret}"));
    assert_eq!(
        requests[1].authorization,
        format!("Bearer {other}"),
        "the file wins"
    );
    assert_eq!(
        requests[2].path,
        "/v1/applications/app_0123456789abcdef/keys"
    );
    assert_eq!(requests[2].authorization, "Bearer operator-token-for-tests");
}

// ---------------------------------------------------------------------------------------
// API commands against a fake API

fn error(status: u16, code: &str) -> (u16, Value) {
    (
        status,
        json!({"error": {"code": code, "message": format!("the message of {code}")}}),
    )
}

#[test]
fn api_errors_show_code_and_message_and_exit_by_class() {
    for (status, code, exit) in [
        (400, "invalid_policy", 2),
        (401, "unknown_key", 3),
        (403, "insufficient_scope", 4),
        (404, "key_not_found", 5),
        (409, "last_active_secret_key", 4),
        (429, "rate_limited", 4),
        (500, "internal", 6),
        (503, "temporarily_unavailable", 6),
    ] {
        let api = FakeApi::start(move |_| error(status, code));
        let out = run(aero2()
            .args(["keys", "suspend", "key_0123456789abcdef"])
            .env("AERO2_API_URL", &api.base)
            .env("AERO2_SECRET_KEY", key(KeyKind::Secret)));
        assert_eq!(out.code, exit, "{status} {code}: {}", out.stderr);
        assert!(out.stdout.is_empty());
        assert!(
            out.stderr
                .contains(&format!("{status} {code}: the message of {code}")),
            "{}",
            out.stderr
        );
    }
    // Nothing listening: unreachable.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = run(aero2()
        .args(["keys", "list"])
        .env("AERO2_API_URL", format!("http://127.0.0.1:{port}"))
        .env("AERO2_SECRET_KEY", key(KeyKind::Secret)));
    assert_eq!(out.code, 6, "{}", out.stderr);
    assert!(out.stderr.contains("could not reach"));
}

fn created_key(value: &str, id: &str) -> Value {
    json!({
        "id": id, "kind": "secret", "label": "billing", "hint": hint(value),
        "status": "active", "created_at": "2026-11-29T09:00:00.000Z", "value": value,
    })
}

#[test]
fn create_prints_the_value_alone_on_standard_output() {
    let new = key(KeyKind::Secret);
    let answer = json!({"key": created_key(&new, "key_AAAAAAAAAAAAAAAA")});
    let api = FakeApi::start(move |_| (201, answer.clone()));
    let out = run(aero2()
        .args([
            "keys",
            "create",
            "--label",
            "billing",
            "--scopes",
            "keys:read,audit:read",
            "--expires-in",
            "30d",
            "--rate-limit",
            "100/min",
            "--route",
            "GET /v1/orders/*",
            "--allowed-ips",
            "203.0.113.0/24",
        ])
        .env("AERO2_API_URL", &api.base)
        .env("AERO2_SECRET_KEY", key(KeyKind::Secret)));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, format!("{new}\n"));
    assert!(!out.stderr.contains(&new));
    assert!(out.stderr.contains("key_AAAAAAAAAAAAAAAA") && out.stderr.contains(&hint(&new)));
    let request = &api.requests()[0];
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("POST", "/v1/keys")
    );
    assert_eq!(
        request.body,
        json!({
            "kind": "secret", "label": "billing", "scopes": ["keys:read", "audit:read"],
            "expires_in_seconds": 2_592_000, "rate_limit": {"requests": 100, "per_seconds": 60},
            "routes": [{"methods": ["GET"], "path": "/v1/orders/*"}],
            "allowed_ips": ["203.0.113.0/24"],
        })
    );
}

#[test]
fn rotate_prints_the_new_value_alone_and_a_zero_grace_needs_confirmation() {
    let old = key(KeyKind::Secret);
    let new = key(KeyKind::Secret);
    let answer = json!({
        "key": created_key(&new, "key_BBBBBBBBBBBBBBBB"),
        "previous_key": {"id": "key_AAAAAAAAAAAAAAAA", "kind": "secret", "label": "billing",
            "hint": hint(&old), "status": "expiring", "created_at": "2026-11-29T09:00:00Z",
            "expires_at": "2026-11-29T10:00:00.000Z"},
        "effective_at": "2026-11-29T09:00:00.000Z",
    });
    let api = FakeApi::start(move |_| (200, answer.clone()));
    let out = run(aero2()
        .args(["keys", "rotate", "key_AAAAAAAAAAAAAAAA", "--grace", "1h"])
        .env("AERO2_API_URL", &api.base)
        .env("AERO2_SECRET_KEY", &old));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, format!("{new}\n"));
    assert!(
        out.stderr.contains("2026-11-29T10:00:00.000Z"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("AERO2_SECRET_KEY"),
        "the key in use was rotated"
    );
    assert_eq!(
        api.requests()[0].body,
        json!({"grace_period_seconds": 3600})
    );

    // --grace 0 with no terminal and no --yes: refused, nothing sent.
    let out = run(aero2()
        .args(["keys", "rotate", "key_AAAAAAAAAAAAAAAA", "--grace", "0"])
        .env("AERO2_API_URL", &api.base)
        .env("AERO2_SECRET_KEY", &old));
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("--yes"), "{}", out.stderr);
    assert_eq!(api.requests().len(), 1);
    let out = run(aero2()
        .args([
            "keys",
            "rotate",
            "key_AAAAAAAAAAAAAAAA",
            "--grace",
            "0",
            "--yes",
        ])
        .env("AERO2_API_URL", &api.base)
        .env("AERO2_SECRET_KEY", &old));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(api.requests()[1].body, json!({"grace_period_seconds": 0}));
}

#[test]
fn revoke_needs_yes_without_a_terminal() {
    let answer = json!({
        "key": {"id": "key_AAAAAAAAAAAAAAAA", "kind": "secret", "label": "old", "hint": "sk_live_…abcd",
            "status": "revoked", "created_at": "2026-11-29T09:00:00Z"},
        "effective_at": "2026-11-29T09:00:00.000Z",
    });
    let api = FakeApi::start(move |_| (200, answer.clone()));
    let secret = key(KeyKind::Secret);
    let out = run(aero2()
        .args(["keys", "revoke", "key_AAAAAAAAAAAAAAAA"])
        .env("AERO2_API_URL", &api.base)
        .env("AERO2_SECRET_KEY", &secret));
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("--yes") && out.stderr.contains("key_AAAAAAAAAAAAAAAA"));
    assert!(api.requests().is_empty());
    let out = run(aero2()
        .args(["keys", "revoke", "key_AAAAAAAAAAAAAAAA", "--yes"])
        .env("AERO2_API_URL", &api.base)
        .env("AERO2_SECRET_KEY", &secret));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.is_empty(), "nothing for scripts unless --json");
    assert!(out.stderr.contains("revoked key_AAAAAAAAAAAAAAAA"));
    assert!(out.stderr.contains("effective_at 2026-11-29T09:00:00.000Z"));
    let request = &api.requests()[0];
    assert_eq!(request.path, "/v1/keys/key_AAAAAAAAAAAAAAAA/revoke");
}

/// Runs `aero2 args…` on a pseudo-terminal (util-linux `script`), typing `input`.
/// `None` when `script` is not installed.
fn on_terminal(args: &str, input: &str, env: &[(&str, &str)]) -> Option<Run> {
    if StdCommand::new("script").arg("--version").output().is_err() {
        return None;
    }
    let bin = assert_cmd::cargo::cargo_bin("aero2");
    let mut command = Command::new("script");
    command
        .args([
            "-q",
            "-e",
            "-c",
            &format!("{} {args}", bin.display()),
            "/dev/null",
        ])
        .env_remove("AERO2_SECRET_KEY")
        .env_remove("AERO2_OPERATOR_TOKEN")
        .write_stdin(input.to_owned());
    for (name, value) in env {
        command.env(name, value);
    }
    Some(run(&mut command))
}

#[test]
fn on_a_terminal_revoking_asks_first_and_names_the_key() {
    let api = FakeApi::start(|request| {
        let key = json!({"id": "key_AAAAAAAAAAAAAAAA", "kind": "secret", "label": "billing",
            "hint": "sk_live_…Qx9a", "status": "active", "created_at": "2026-11-29T09:00:00Z"});
        if request.method == "GET" {
            (200, json!({"keys": [key]}))
        } else {
            (
                200,
                json!({"key": key, "effective_at": "2026-11-29T09:00:00.000Z"}),
            )
        }
    });
    let secret = key(KeyKind::Secret);
    let env = [
        ("AERO2_API_URL", api.base.as_str()),
        ("AERO2_SECRET_KEY", secret.as_str()),
    ];
    let Some(declined) = on_terminal("keys revoke key_AAAAAAAAAAAAAAAA", "no\n", &env) else {
        eprintln!("skipped: util-linux script is not installed");
        return;
    };
    assert_eq!(declined.code, 4, "{}", declined.stdout);
    assert!(
        declined
            .stdout
            .contains("key_AAAAAAAAAAAAAAAA \"billing\" sk_live_…Qx9a (secret, active)"),
        "{}",
        declined.stdout
    );
    assert!(declined.stdout.contains("nothing was changed"));
    assert!(
        api.requests().iter().all(|r| r.method == "GET"),
        "declined, yet sent"
    );

    let confirmed =
        on_terminal("keys rotate key_AAAAAAAAAAAAAAAA --grace 0", "yes\n", &env).unwrap();
    assert!(
        confirmed.stdout.contains("no grace period"),
        "{}",
        confirmed.stdout
    );
    let posts: Vec<Request> = api
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].path, "/v1/keys/key_AAAAAAAAAAAAAAAA/rotate");
    assert!(!confirmed.stdout.contains(&secret));
}

#[test]
fn update_sends_only_what_changes_and_null_to_remove() {
    let answer = json!({"key": {"id": "key_AAAAAAAAAAAAAAAA", "hint": "sk_live_…abcd"}, "effective_at": null});
    let api = FakeApi::start(move |_| (200, answer.clone()));
    let out = run(aero2()
        .args([
            "keys",
            "update",
            "key_AAAAAAAAAAAAAAAA",
            "--label",
            "v2",
            "--scopes",
            "all",
            "--clear-rate-limit",
        ])
        .env("AERO2_API_URL", &api.base)
        .env("AERO2_SECRET_KEY", key(KeyKind::Secret)));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let request = &api.requests()[0];
    assert_eq!(request.method, "PATCH");
    assert_eq!(
        request.body,
        json!({"label": "v2", "scopes": null, "rate_limit": null})
    );
    let out = run(aero2()
        .args(["keys", "update", "key_AAAAAAAAAAAAAAAA"])
        .env("AERO2_API_URL", &api.base)
        .env("AERO2_SECRET_KEY", key(KeyKind::Secret)));
    assert_eq!(out.code, 2, "nothing to change");
}

#[test]
fn audit_export_pages_to_the_end_and_writes_oldest_first() {
    // Three pages of two, newest first, as the API pages them.
    let api = FakeApi::start(|request| {
        let cursor = request
            .path
            .split(['?', '&'])
            .find_map(|p| p.strip_prefix("cursor="))
            .unwrap_or("");
        let (ids, next) = match cursor {
            "" => ([6, 5], json!("5")),
            "5" => ([4, 3], json!("3")),
            "3" => ([2, 1], Value::Null),
            _ => return error(400, "invalid_cursor"),
        };
        let entries: Vec<Value> = ids
            .iter()
            .map(|id| json!({"id": format!("{id}"), "event": "key.created", "at": "2026-11-29T09:00:00.000Z"}))
            .collect();
        (200, json!({"entries": entries, "next_cursor": next}))
    });
    let out = run(aero2()
        .args(["audit", "export", "--event", "key.created"])
        .env("AERO2_API_URL", &api.base)
        .env("AERO2_SECRET_KEY", key(KeyKind::Secret)));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let ids: Vec<String> = out
        .stdout
        .lines()
        .map(|line| {
            serde_json::from_str::<Value>(line).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(ids, ["1", "2", "3", "4", "5", "6"]);
    assert!(out.stderr.contains("exported 6 entries"));
    let paths: Vec<String> = api.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(
        paths,
        [
            "/v1/audit_log?limit=100&event=key.created",
            "/v1/audit_log?limit=100&cursor=5&event=key.created",
            "/v1/audit_log?limit=100&cursor=3&event=key.created",
        ]
    );

    let out = run(aero2()
        .args(["audit", "list", "--limit", "2"])
        .env("AERO2_API_URL", &api.base)
        .env("AERO2_SECRET_KEY", key(KeyKind::Secret)));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("key.created"));
    assert!(out.stderr.contains("--cursor 5"), "{}", out.stderr);
}

// ---------------------------------------------------------------------------------------
// Scan

/// A tree with one real secret key, one key with a broken checksum and one publishable
/// key, plus an ignored file and a hidden one that hold the secret key too.
struct Tree {
    dir: tempfile::TempDir,
    secret: String,
    publishable: String,
    fake: String,
}

fn tree() -> Tree {
    let dir = tempfile::tempdir().unwrap();
    let secret = key(KeyKind::Secret);
    let publishable = key(KeyKind::Publishable);
    let fake = broken(&key(KeyKind::Secret));
    let root = dir.path();
    std::fs::create_dir_all(root.join("src/deep")).unwrap();
    std::fs::write(
        root.join("src/deep/config.rs"),
        format!("// settings\nconst KEY: &str = \"{secret}\";\n"),
    )
    .unwrap();
    std::fs::write(root.join("README.md"), format!("Example: `{fake}`\n")).unwrap();
    std::fs::write(
        root.join("web.js"),
        format!("init({{ key: '{publishable}' }});\n"),
    )
    .unwrap();
    std::fs::write(
        root.join("binary.bin"),
        [b"\x00\x01\x02".as_slice(), secret.as_bytes()].concat(),
    )
    .unwrap();
    Tree {
        dir,
        secret,
        publishable,
        fake,
    }
}

fn assert_no_values(text: &str, tree: &Tree) {
    assert!(
        !text.contains(&tree.secret),
        "a secret key's value was printed"
    );
    assert!(
        !text.contains(&tree.publishable),
        "a publishable key's value was printed"
    );
    assert!(
        !text.contains(&tree.fake[8..]),
        "the look-alike was printed"
    );
}

#[test]
fn scan_reports_exactly_the_real_secret_key_and_exits_1() {
    let tree = tree();
    let out = run(aero2().arg("scan").current_dir(tree.dir.path()));
    assert_eq!(out.code, 1, "{}", out.stderr);
    let errors: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.contains(": error:"))
        .collect();
    assert_eq!(errors.len(), 1, "{}", out.stdout);
    assert!(
        errors[0].starts_with("src/deep/config.rs:2:20: error: secret key"),
        "{}",
        errors[0]
    );
    assert!(errors[0].contains(&hint(&tree.secret)));
    let notes: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.contains(": note:"))
        .collect();
    assert_eq!(notes.len(), 1);
    assert!(
        notes[0].starts_with("web.js:1:14: note: publishable key"),
        "{}",
        notes[0]
    );
    assert_eq!(
        out.stdout.lines().count(),
        2,
        "the look-alike is never reported"
    );
    assert_no_values(&out.stdout, &tree);
    assert_no_values(&out.stderr, &tree);
    assert!(
        out.stderr.contains("1 file skipped: binary"),
        "{}",
        out.stderr
    );
}

#[test]
fn scan_exits_0_when_only_publishable_keys_are_found() {
    let tree = tree();
    let out = run(aero2()
        .args(["scan", "web.js", "README.md"])
        .current_dir(tree.dir.path()));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout.lines().count(), 1);
}

#[test]
fn scan_reads_standard_input_with_a_dash() {
    let secret = key(KeyKind::Secret);
    let out = run(aero2()
        .args(["scan", "-"])
        .write_stdin(format!("+ token = {secret}\n")));
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stdout.starts_with("<stdin>:1:11: error: secret key"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains(&secret));
    let clean = run(aero2().args(["scan", "-"]).write_stdin("nothing here\n"));
    assert_eq!(clean.code, 0);
}

#[test]
fn scan_follows_ignore_and_hidden_rules_like_ripgrep() {
    let tree = tree();
    let root = tree.dir.path();
    std::fs::create_dir_all(root.join(".config")).unwrap();
    std::fs::write(root.join(".config/env"), &tree.secret).unwrap();
    std::fs::write(root.join("generated.txt"), &tree.secret).unwrap();
    std::fs::write(root.join(".ignore"), "generated.txt\n").unwrap();
    let found = |args: &[&str]| -> Vec<String> {
        let out = run(aero2()
            .arg("scan")
            .args(args)
            .args(["--format", "json"])
            .current_dir(root));
        let report: Value = serde_json::from_str(&out.stdout).unwrap();
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["kind"] == "secret")
            .map(|f| f["path"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(found(&[]), ["src/deep/config.rs"]);
    assert_eq!(found(&["--hidden"]), [".config/env", "src/deep/config.rs"]);
    assert_eq!(
        found(&["--no-ignore"]),
        ["generated.txt", "src/deep/config.rs"]
    );
    assert_eq!(found(&["--binary"]), ["binary.bin", "src/deep/config.rs"]);
    // A path given explicitly is scanned even if it is ignored.
    assert_eq!(found(&["generated.txt"]), ["generated.txt"]);
    let missing = run(aero2().args(["scan", "no/such/path"]).current_dir(root));
    assert_eq!(missing.code, 2);
}

#[test]
fn scan_json_holds_hints_lines_and_columns() {
    let tree = tree();
    let out = run(aero2()
        .args(["scan", "--format", "json"])
        .current_dir(tree.dir.path()));
    assert_eq!(out.code, 1);
    assert_no_values(&out.stdout, &tree);
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 2);
    assert_eq!(findings[0]["path"], "src/deep/config.rs");
    assert_eq!(
        (findings[0]["line"].as_u64(), findings[0]["column"].as_u64()),
        (Some(2), Some(20))
    );
    assert_eq!(findings[0]["hint"], hint(&tree.secret));
    assert_eq!(findings[0]["severity"], "error");
    assert_eq!(findings[1]["kind"], "publishable");
    assert_eq!(report["summary"]["secret_keys"], 1);
}

fn sarif_validator() -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sarif-2.1.0-rtm.5.json"),
        )
        .unwrap(),
    )
    .unwrap();
    jsonschema::validator_for(&schema).expect("the SARIF schema compiles")
}

#[test]
fn sarif_is_valid_sarif_2_1_0_with_locations_and_hints_only() {
    let validator = sarif_validator();
    let tree = tree();
    let out = run(aero2()
        .args(["scan", "--format", "sarif"])
        .current_dir(tree.dir.path()));
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_no_values(&out.stdout, &tree);
    let sarif: Value = serde_json::from_str(&out.stdout).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&sarif)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(errors.is_empty(), "not valid SARIF 2.1.0: {errors:#?}");
    // What GitHub code scanning needs beyond the schema.
    assert_eq!(sarif["version"], "2.1.0");
    let run = &sarif["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "aero2");
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    let secret = &results[0];
    assert_eq!(secret["ruleId"], "aero2/secret-key");
    assert_eq!(secret["level"], "error");
    let location = &secret["locations"][0]["physicalLocation"];
    assert_eq!(location["artifactLocation"]["uri"], "src/deep/config.rs");
    assert_eq!(location["artifactLocation"]["uriBaseId"], "%SRCROOT%");
    assert_eq!(location["region"]["startLine"], 2);
    assert_eq!(location["region"]["startColumn"], 20);
    assert_eq!(location["region"]["endColumn"], 82);
    assert!(secret["message"]["text"]
        .as_str()
        .unwrap()
        .contains(&hint(&tree.secret)));
    assert_eq!(results[1]["level"], "note");
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert!(rules[0]["properties"]["security-severity"].is_string());

    // A clean tree is valid SARIF too, with no results.
    let empty = tempfile::tempdir().unwrap();
    let out = self::run(
        aero2()
            .args(["scan", "--format", "sarif"])
            .current_dir(empty.path()),
    );
    assert_eq!(out.code, 0);
    let sarif: Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(validator.is_valid(&sarif));
    // And the check itself rejects what is not SARIF.
    assert!(!validator.is_valid(&json!({"version": "2.1.0", "runs": [{"results": []}]})));
}

// ---------------------------------------------------------------------------------------
// --staged and the hook

fn git(dir: &Path, args: &[&str]) {
    let status = StdCommand::new("git")
        .args([
            "-c",
            "user.name=Test",
            "-c",
            "user.email=test@example.com",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .status()
        .unwrap();
    assert!(status.success(), "git {args:?}");
}

fn repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    git(dir.path(), &["init", "-q", "-b", "main"]);
    std::fs::write(dir.path().join("README.md"), "hello\n").unwrap();
    git(dir.path(), &["add", "README.md"]);
    git(dir.path(), &["commit", "-q", "-m", "first"]);
    dir
}

#[test]
fn staged_scans_the_index_not_the_work_tree() {
    let repo = repo();
    let root = repo.path();
    let secret = key(KeyKind::Secret);
    let publishable = key(KeyKind::Publishable);
    let staged = |root: &Path| {
        run(aero2()
            .args(["scan", "--staged"])
            .current_dir(root)
            .env("HOME", root))
    };

    // Nothing staged.
    assert_eq!(staged(root).code, 0);

    // Staged with the key, then removed from the work tree only: the commit would still
    // record it.
    std::fs::create_dir_all(root.join("cfg")).unwrap();
    std::fs::write(root.join("cfg/app.toml"), format!("key = \"{secret}\"\n")).unwrap();
    git(root, &["add", "cfg/app.toml"]);
    std::fs::write(root.join("cfg/app.toml"), "key = \"\"\n").unwrap();
    let out = staged(root);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stdout
            .starts_with("cfg/app.toml:1:8: error: secret key"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains(&secret) && !out.stderr.contains(&secret));
    assert!(out.stderr.contains("This commit would record a secret key"));

    // The clean version staged, the key only in the work tree (and in an untracked file).
    git(root, &["add", "cfg/app.toml"]);
    std::fs::write(root.join("cfg/app.toml"), format!("key = \"{secret}\"\n")).unwrap();
    std::fs::write(root.join("untracked.txt"), &secret).unwrap();
    assert_eq!(staged(root).code, 0);

    // A publishable key staged is information only; paths limit the scan.
    std::fs::write(root.join("web.js"), &publishable).unwrap();
    git(root, &["add", "web.js", "untracked.txt"]);
    let out = run(aero2()
        .args(["scan", "--staged", "web.js"])
        .current_dir(root));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout.lines().count(), 1);
    assert_eq!(staged(root).code, 1, "untracked.txt is staged now");
}

#[test]
fn the_pre_commit_hook_refuses_a_commit_with_a_secret_key() {
    let repo = repo();
    let root = repo.path();
    let bin = assert_cmd::cargo::cargo_bin("aero2");
    let out = run(aero2().args(["scan", "--install-hook"]).current_dir(root));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let hook = root.join(".git/hooks/pre-commit");
    let text = std::fs::read_to_string(&hook).unwrap();
    assert!(text.contains("scan --staged"));
    // Installing again is a no-op; a different hook is kept unless --force.
    assert_eq!(
        run(aero2().args(["scan", "--install-hook"]).current_dir(root)).code,
        0
    );
    std::fs::write(&hook, "#!/bin/sh\nexit 0\n").unwrap();
    let out = run(aero2().args(["scan", "--install-hook"]).current_dir(root));
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert!(out.stderr.contains("--force"));
    assert_eq!(
        std::fs::read_to_string(&hook).unwrap(),
        "#!/bin/sh\nexit 0\n"
    );
    assert_eq!(
        run(aero2()
            .args(["scan", "--install-hook", "--force"])
            .current_dir(root))
        .code,
        0
    );

    // The hook runs the binary under test.
    let secret = key(KeyKind::Secret);
    std::fs::write(root.join("leak.txt"), &secret).unwrap();
    git(root, &["add", "leak.txt"]);
    let commit = StdCommand::new("git")
        .args([
            "-c",
            "user.name=T",
            "-c",
            "user.email=t@example.com",
            "commit",
            "-q",
            "-m",
            "leak",
        ])
        .current_dir(root)
        .env("AERO2_BIN", &bin)
        .output()
        .unwrap();
    assert!(!commit.status.success(), "the commit went through");
    let stderr = String::from_utf8_lossy(&commit.stderr);
    assert!(
        stderr.contains("leak.txt:1:1: error")
            || String::from_utf8_lossy(&commit.stdout).contains("leak.txt:1:1: error")
    );
    assert!(!stderr.contains(&secret));
    // Without the key, the commit goes through.
    std::fs::write(root.join("leak.txt"), "nothing\n").unwrap();
    git(root, &["add", "leak.txt"]);
    let commit = StdCommand::new("git")
        .args([
            "-c",
            "user.name=T",
            "-c",
            "user.email=t@example.com",
            "commit",
            "-q",
            "-m",
            "clean",
        ])
        .current_dir(root)
        .env("AERO2_BIN", &bin)
        .status()
        .unwrap();
    assert!(commit.success());
}

// ---------------------------------------------------------------------------------------
// The fake API

#[derive(Clone, Debug)]
struct Request {
    method: String,
    path: String,
    authorization: String,
    body: Value,
}

type Handler = dyn Fn(&Request) -> (u16, Value) + Send + Sync;

/// An HTTP/1.1 server on 127.0.0.1 that answers every request with `handler`'s JSON and
/// records what it got.
struct FakeApi {
    base: String,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl FakeApi {
    fn start(handler: impl Fn(&Request) -> (u16, Value) + Send + Sync + 'static) -> FakeApi {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&requests);
        let handler: Arc<Handler> = Arc::new(handler);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    continue;
                }
                let mut parts = line.split_whitespace();
                let method = parts.next().unwrap_or("").to_owned();
                let path = parts.next().unwrap_or("").to_owned();
                let mut length = 0;
                let mut authorization = String::new();
                loop {
                    let mut header = String::new();
                    reader.read_line(&mut header).unwrap();
                    let header = header.trim_end();
                    if header.is_empty() {
                        break;
                    }
                    let (name, value) = header.split_once(':').unwrap();
                    match name.to_ascii_lowercase().as_str() {
                        "content-length" => length = value.trim().parse().unwrap(),
                        "authorization" => authorization = value.trim().to_owned(),
                        _ => {}
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                let request = Request {
                    method,
                    path,
                    authorization,
                    body: serde_json::from_slice(&body).unwrap_or(Value::Null),
                };
                let (status, answer) = handler(&request);
                recorded.lock().unwrap().push(request);
                let text = answer.to_string();
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                    text.len()
                );
            }
        });
        FakeApi { base, requests }
    }

    fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}
