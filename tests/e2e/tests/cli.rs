//! The `aero2` command line against the real worker in workerd (wrangler dev): keys
//! list, create, rotate and revoke with `AERO2_SECRET_KEY`, the audit log's list and
//! export (paged past one page), exit statuses for 401, 404 and 409, and the operator
//! variant (`--app` with `AERO2_OPERATOR_TOKEN`).
//!
//! The binary is built with cargo on first use (`cargo build -p aero2-cli`), or taken
//! from `AERO2_CLI_BIN` when set.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Output};
use std::sync::OnceLock;

use aero2_e2e::*;
use aero2_keys::KeyKind;
use serde_json::Value;

fn worker() -> &'static Worker {
    static WORKER: OnceLock<Worker> = OnceLock::new();
    WORKER.get_or_init(|| Worker::start("cli", Options::default()))
}

/// The `aero2` binary: built once per test run, from this workspace.
fn aero2_bin() -> &'static str {
    static BIN: OnceLock<String> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Ok(bin) = std::env::var("AERO2_CLI_BIN") {
            return bin;
        }
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let output = Command::new(cargo)
            .args([
                "build",
                "-p",
                "aero2-cli",
                "--bin",
                "aero2",
                "--message-format=json-render-diagnostics",
            ])
            .current_dir(repo_root())
            .output()
            .expect("cargo build -p aero2-cli");
        assert!(
            output.status.success(),
            "cargo build -p aero2-cli failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "aero2")
            .find_map(|m| m["executable"].as_str().map(str::to_owned))
            .expect("cargo reported the aero2 executable")
    })
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `aero2 args…` against the worker with `env` as its only credentials.
fn aero2(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = Command::new(aero2_bin());
    command
        .args(args)
        .env_remove("AERO2_SECRET_KEY")
        .env_remove("AERO2_OPERATOR_TOKEN")
        .env("AERO2_API_URL", &worker().base)
        .current_dir(repo_root());
    for (name, value) in env {
        command.env(name, value);
    }
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().expect("run aero2");
    Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

fn hint(key: &str) -> String {
    format!("{}…{}", &key[..8], &key[key.len() - 4..])
}

/// The value alone on standard output, as `create` and `rotate` print it.
fn printed_value(run: &Run) -> String {
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.ends_with('\n') && run.stdout.lines().count() == 1,
        "{}",
        run.stdout
    );
    let value = run.stdout.trim_end().to_owned();
    assert!(aero2_keys::parse(&value).is_ok(), "not a key on stdout");
    value
}

#[test]
fn keys_list_create_rotate_and_revoke_with_the_secret_key() {
    let w = worker();
    let app = w.create_application("CLI", "production");
    let env = [("AERO2_SECRET_KEY", app.secret.value.as_str())];

    // List: a table naming both demo keys by id and hint, never a value.
    let listed = aero2(&["keys", "list"], &env);
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    for key in [&app.secret, &app.publishable] {
        assert!(listed.stdout.contains(&key.id), "{}", listed.stdout);
        assert!(listed.stdout.contains(&hint(&key.value)));
        assert!(!listed.stdout.contains(&key.value) && !listed.stderr.contains(&key.value));
    }
    let json = aero2(&["keys", "list", "--json"], &env);
    let list: Value = serde_json::from_str(&json.stdout).expect("JSON");
    assert_eq!(list["keys"].as_array().unwrap().len(), 2);

    // Create: the value alone on stdout, and it passes the gate.
    let created = aero2(
        &[
            "keys",
            "create",
            "--label",
            "billing",
            "--scopes",
            "keys:read,audit:read",
            "--rate-limit",
            "1000/min",
        ],
        &env,
    );
    let value = printed_value(&created);
    assert!(value.starts_with("sk_live_"));
    assert!(!created.stderr.contains(&value));
    assert_eq!(w.get("/v1/orders", &value).status, 200);
    let list: Value =
        serde_json::from_str(&aero2(&["keys", "list", "--json"], &env).stdout).unwrap();
    let billing = list["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["label"] == "billing")
        .expect("the new key is listed")
        .clone();
    let billing_id = billing["id"].as_str().unwrap().to_owned();
    assert_eq!(billing["hint"], hint(&value).as_str());
    assert_eq!(
        billing["scopes"],
        serde_json::json!(["keys:read", "audit:read"])
    );
    assert_eq!(billing["rate_limit"]["per_seconds"], 60);
    assert!(created.stderr.contains(&billing_id), "{}", created.stderr);

    // Rotate with a grace period: the new value alone on stdout; both keys pass.
    let rotated = aero2(&["keys", "rotate", &billing_id, "--grace", "1h"], &env);
    let new_value = printed_value(&rotated);
    assert_ne!(new_value, value);
    assert!(
        rotated.stderr.contains("can no longer manage keys"),
        "{}",
        rotated.stderr
    );
    assert_eq!(w.get("/v1/orders", &value).status, 200, "old key in grace");
    assert_eq!(w.get("/v1/orders", &new_value).status, 200);

    // Revoke the replacement (confirmed with --yes): the next request is refused.
    let list: Value =
        serde_json::from_str(&aero2(&["keys", "list", "--json"], &env).stdout).unwrap();
    let new_id = list["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["rotated_from"] == billing_id.as_str())
        .and_then(|k| k["id"].as_str())
        .expect("the rotated key is listed")
        .to_owned();
    let refused = aero2(&["keys", "revoke", &new_id], &env);
    assert_eq!(refused.code, 2, "no terminal, no --yes: {}", refused.stderr);
    assert_eq!(w.get("/v1/orders", &new_value).status, 200, "not revoked");
    let revoked = aero2(&["keys", "revoke", &new_id, "--yes"], &env);
    assert_eq!(revoked.code, 0, "{}", revoked.stderr);
    assert!(revoked.stdout.is_empty());
    assert!(
        revoked.stderr.contains("effective_at"),
        "{}",
        revoked.stderr
    );
    let gate = w.get("/v1/orders", &new_value);
    assert_eq!((gate.status, gate.code()), (401, "revoked_key"));

    // Suspend and resume the publishable key; update the label.
    assert_eq!(
        aero2(&["keys", "suspend", &app.publishable.id], &env).code,
        0
    );
    assert_eq!(
        w.get("/v1/client/session", &app.publishable.value).code(),
        "suspended_key"
    );
    assert_eq!(
        aero2(&["keys", "resume", &app.publishable.id], &env).code,
        0
    );
    assert_eq!(
        w.get("/v1/client/session", &app.publishable.value).status,
        200
    );
    let updated = aero2(
        &[
            "keys",
            "update",
            &app.publishable.id,
            "--label",
            "web",
            "--json",
        ],
        &env,
    );
    assert_eq!(updated.code, 0, "{}", updated.stderr);
    let updated: Value = serde_json::from_str(&updated.stdout).unwrap();
    assert_eq!(updated["key"]["label"], "web");
}

#[test]
fn api_errors_exit_by_class() {
    let w = worker();
    let app = w.create_application("CLI errors", "production");
    let env = [("AERO2_SECRET_KEY", app.secret.value.as_str())];

    // 401: a well-formed key that was never issued.
    let forged = forged_key(KeyKind::Secret, Some(&app.id));
    let unknown = aero2(
        &["keys", "list"],
        &[("AERO2_SECRET_KEY", forged.expose_secret())],
    );
    assert_eq!(unknown.code, 3, "{}", unknown.stderr);
    assert!(
        unknown.stderr.contains("401 unknown_key"),
        "{}",
        unknown.stderr
    );
    assert!(!unknown.stderr.contains(forged.expose_secret()));

    // 404: a key id this application does not have.
    let missing = aero2(&["keys", "revoke", "key_0000000000000000", "--yes"], &env);
    assert_eq!(missing.code, 5, "{}", missing.stderr);
    assert!(
        missing.stderr.contains("404 key_not_found"),
        "{}",
        missing.stderr
    );

    // 409: the last active secret key cannot be revoked.
    let last = aero2(&["keys", "revoke", &app.secret.id, "--yes"], &env);
    assert_eq!(last.code, 4, "{}", last.stderr);
    assert!(
        last.stderr.contains("409 last_active_secret_key"),
        "{}",
        last.stderr
    );

    // 400: a policy the API refuses.
    let invalid = aero2(
        &[
            "keys",
            "create",
            "--kind",
            "publishable",
            "--allowed-ips",
            "10.0.0.0/8",
        ],
        &env,
    );
    assert_eq!(invalid.code, 2, "{}", invalid.stderr);
    assert!(
        invalid.stderr.contains("400 invalid_policy"),
        "{}",
        invalid.stderr
    );
    assert!(invalid.stdout.is_empty());

    // Unreachable.
    let port = free_port();
    let mut command = Command::new(aero2_bin());
    let down = command
        .args(["keys", "list"])
        .env("AERO2_SECRET_KEY", &app.secret.value)
        .env("AERO2_API_URL", format!("http://127.0.0.1:{port}"))
        .output()
        .unwrap();
    assert_eq!(down.status.code(), Some(6));
}

/// `pairs` suspensions and resumptions of the application's publishable key: audit entries.
fn suspend_and_resume(w: &Worker, app: &Application, pairs: usize) {
    for _ in 0..pairs {
        for action in ["suspend", "resume"] {
            let reply = w.post(
                &format!("/v1/keys/{}/{action}", app.publishable.id),
                &app.secret.value,
                None,
            );
            assert_eq!(reply.status, 200, "{}", reply.body);
        }
    }
}

#[test]
fn the_audit_log_is_listed_and_exported_oldest_first_across_pages() {
    let w = worker();
    let app = w.create_application("CLI audit", "production");
    let env = [("AERO2_SECRET_KEY", app.secret.value.as_str())];
    // More than one page (100 entries): 55 suspend and resume pairs.
    suspend_and_resume(w, &app, 55);

    let listed = aero2(&["audit", "list", "--limit", "5"], &env);
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    assert!(listed.stdout.contains("key.resumed"), "{}", listed.stdout);
    assert!(listed.stderr.contains("--cursor"), "{}", listed.stderr);
    let filtered = aero2(
        &["audit", "list", "--event", "key.suspended", "--json"],
        &env,
    );
    let page: Value = serde_json::from_str(&filtered.stdout).unwrap();
    let entries = page["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 50, "the API's default page");
    assert!(entries.iter().all(|e| e["event"] == "key.suspended"));

    let export = aero2(&["audit", "export"], &env);
    assert_eq!(export.code, 0, "{}", export.stderr);
    let lines: Vec<Value> = export
        .stdout
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object a line"))
        .collect();
    assert!(lines.len() > 110, "{} entries", lines.len());
    // Oldest first: the times never go back, and the newest entry comes last.
    let times: Vec<u64> = lines.iter().map(|e| millis(&e["at"])).collect();
    assert!(times.windows(2).all(|t| t[0] <= t[1]), "not oldest first");
    assert_eq!(lines.last().unwrap()["event"], "key.resumed");
    assert_eq!(
        lines
            .iter()
            .filter(|e| e["event"] == "key.suspended")
            .count(),
        55
    );
    // The hash chain, every entry once: seq 1, 2, 3, … with no gaps or repeats.
    let seqs: Vec<u64> = lines.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=lines.len() as u64).collect::<Vec<_>>());
    assert!(lines
        .iter()
        .all(|e| e["hash"].is_string() && e["prev_hash"].is_string()));
    assert!(!export.stdout.contains(&app.secret.value));
    // From a later entry on, the same entries.
    let later = aero2(&["audit", "export", "--from-seq", "100"], &env);
    assert_eq!(later.code, 0, "{}", later.stderr);
    let first: Value = serde_json::from_str(later.stdout.lines().next().unwrap()).unwrap();
    assert_eq!(first, lines[99]);

    let only_key = aero2(
        &[
            "audit",
            "export",
            "--key-id",
            &app.publishable.id,
            "--event",
            "key.resumed",
        ],
        &env,
    );
    assert_eq!(only_key.stdout.lines().count(), 55, "{}", only_key.stderr);
}

#[test]
fn a_canary_is_created_and_listed_from_the_command_line() {
    let w = worker();
    let app = w.create_application("CLI canary", "production");
    let env = [("AERO2_SECRET_KEY", app.secret.value.as_str())];
    let guarded = aero2(&["keys", "create", "--label", "backend"], &env);
    let guarded = printed_value(&guarded);
    let guarded_id = w.get("/v1/keys", &app.secret.value).json["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["label"] == "backend")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // --canary-suspends alone is a usage error, before anything is sent.
    let alone = aero2(&["keys", "create", "--canary-suspends", &guarded_id], &env);
    assert_eq!(alone.code, 2, "{}", alone.stderr);
    // A canary with a policy is refused by the API: 400 invalid_canary, exit status 2.
    let with_policy = aero2(&["keys", "create", "--canary", "--scopes", "none"], &env);
    assert_eq!(with_policy.code, 2, "{}", with_policy.stderr);
    assert!(
        with_policy.stderr.contains("invalid_canary"),
        "{}",
        with_policy.stderr
    );

    let created = aero2(
        &[
            "keys",
            "create",
            "--canary",
            "--label",
            "CI decoy",
            "--canary-suspends",
            &guarded_id,
        ],
        &env,
    );
    let canary = printed_value(&created);
    assert!(canary.starts_with("sk_live_"));
    let listed = aero2(&["keys", "list"], &env);
    assert!(listed.stdout.contains("canary"), "{}", listed.stdout);
    // Used: refused as unknown, and the key it guards is suspended.
    assert_eq!(w.get("/v1/users", &canary).code(), "unknown_key");
    wait_until(
        "the guarded key is suspended",
        std::time::Duration::from_secs(10),
        || w.get("/v1/users", &guarded).code() == "suspended_key",
    );
}

#[test]
fn audit_verify_checks_the_chain_and_the_signed_checkpoint() {
    let w = worker();
    let app = w.create_application("CLI verify", "production");
    let env = [("AERO2_SECRET_KEY", app.secret.value.as_str())];
    suspend_and_resume(w, &app, 30);

    // Against the API: the checkpoint's signature, then every entry's hash.
    let verified = aero2(&["audit", "verify"], &env);
    assert_eq!(verified.code, 0, "{}", verified.stderr);
    assert!(
        verified.stderr.contains("verified: entries 1 to "),
        "{}",
        verified.stderr
    );
    assert!(
        verified.stdout.is_empty(),
        "nothing for scripts on standard output"
    );

    // A saved export verifies the same; the checkpoint is fetched fresh each time.
    let export = aero2(&["audit", "export"], &env);
    assert_eq!(export.code, 0, "{}", export.stderr);
    let dir = std::env::temp_dir().join(format!("aero2-cli-verify-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let check_file = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        aero2(&["audit", "verify", "--file", path.to_str().unwrap()], &env)
    };
    let saved = check_file("audit.jsonl", &export.stdout);
    assert_eq!(saved.code, 0, "{}", saved.stderr);

    let lines: Vec<&str> = export.stdout.lines().collect();
    // One entry's content changed: caught by its hash, exit status 7.
    let mut altered: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    altered[10] = if lines[10].contains("\"key.suspended\"") {
        lines[10].replace("\"key.suspended\"", "\"key.resumed\"")
    } else {
        lines[10].replace("\"key.resumed\"", "\"key.suspended\"")
    };
    assert_ne!(altered[10], lines[10], "the tamper changed something");
    let tampered = check_file("tampered.jsonl", &(altered.join("\n") + "\n"));
    assert_eq!(tampered.code, 7, "{}", tampered.stderr);
    assert!(
        tampered.stderr.contains("does not match its hash"),
        "{}",
        tampered.stderr
    );
    // One entry removed: the chain breaks there.
    let mut gapped: Vec<&str> = lines.clone();
    gapped.remove(20);
    let gap = check_file("gap.jsonl", &(gapped.join("\n") + "\n"));
    assert_eq!(gap.code, 7, "{}", gap.stderr);
    assert!(gap.stderr.contains("does not follow"), "{}", gap.stderr);
    // The newest entries cut off: it no longer reaches the checkpoint.
    let cut = check_file("cut.jsonl", &(lines[..lines.len() - 5].join("\n") + "\n"));
    assert_eq!(cut.code, 7, "{}", cut.stderr);
    assert!(cut.stderr.contains("cut short"), "{}", cut.stderr);
    // Not an export at all.
    let junk = check_file("junk.jsonl", "not json\n");
    assert_eq!(junk.code, 7, "{}", junk.stderr);
    // Another application's export, honestly chained, does not match this checkpoint.
    let other = w.create_application("CLI verify, another", "production");
    let other_export = aero2(
        &["audit", "export"],
        &[("AERO2_SECRET_KEY", other.secret.value.as_str())],
    );
    let mixed = check_file("other.jsonl", &other_export.stdout);
    assert_eq!(mixed.code, 7, "{}", mixed.stderr);
    for run in [&verified, &saved, &tampered, &gap, &cut, &mixed] {
        assert!(!run.stderr.contains(&app.secret.value[8..]), "no key value");
    }
}

/// A man in the middle of the CLI's reads: serves `checkpoint` as the API's checkpoint and
/// relays every other GET to the worker, as sent.
fn serving_checkpoint(base: &str, checkpoint: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().unwrap());
    let base = base.to_owned();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let _ = relay(stream, &base, &checkpoint);
        }
    });
    url
}

fn relay(mut stream: TcpStream, base: &str, checkpoint: &str) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut authorization = None;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("authorization") {
                authorization = Some(value.trim().to_owned());
            }
        }
    }
    let mut parts = request_line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    let (status, content_type, body) = if path.ends_with("/audit_log/checkpoint") {
        let body = serde_json::json!({ "checkpoint": checkpoint }).to_string();
        (200, "application/json".to_owned(), body)
    } else {
        let headers: Vec<(&str, &str)> = authorization
            .iter()
            .map(|value| ("Authorization", value.as_str()))
            .collect();
        let reply = request(method, &format!("{base}{target}"), &headers, None);
        let content_type = reply.header("content-type").unwrap_or("text/plain");
        (reply.status, content_type.to_owned(), reply.body)
    };
    write!(
        stream,
        "HTTP/1.1 {status} Relayed\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// The checkpoint's claims re-signed by a key the gate never had, under the gate's `kid`.
fn resigned(token: &str) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use ed25519_dalek::{Signer, SigningKey};
    let mut parts = token.split('.');
    let input = format!("{}.{}", parts.next().unwrap(), parts.next().unwrap());
    let forger = SigningKey::from_bytes(&[7; 32]);
    let signature = forger.sign(input.as_bytes()).to_bytes();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// `aero2 audit verify` trusts the checkpoint only as far as the published key signed it:
/// served a forged one (by a man in the middle, or by whoever changed the log), it exits
/// 7; served another application's genuine one, it exits 7; served this application's own
/// earlier one, it verifies (the log extends it).
#[test]
fn audit_verify_refuses_a_forged_or_borrowed_checkpoint() {
    let w = worker();
    let app = w.create_application("CLI forged checkpoint", "production");
    let other = w.create_application("CLI borrowed checkpoint", "production");
    suspend_and_resume(w, &app, 3);
    let checkpoint_of = |key: &str| {
        let reply = w.get("/v1/audit_log/checkpoint", key);
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.json["checkpoint"].as_str().unwrap().to_owned()
    };
    let earlier = checkpoint_of(&app.secret.value);
    suspend_and_resume(w, &app, 2);
    let genuine = checkpoint_of(&app.secret.value);
    let borrowed = checkpoint_of(&other.secret.value);
    let verify_with = |checkpoint: String| {
        let url = serving_checkpoint(&w.base, checkpoint);
        aero2(
            &["audit", "verify"],
            &[
                ("AERO2_SECRET_KEY", app.secret.value.as_str()),
                ("AERO2_API_URL", url.as_str()),
            ],
        )
    };
    let cases = [
        // The relay itself changes nothing: the genuine checkpoint verifies through it.
        ("genuine", genuine.clone(), 0, "verified: entries 1 to "),
        (
            "forged",
            resigned(&genuine),
            7,
            "the checkpoint does not verify",
        ),
        ("borrowed", borrowed, 7, "for another application"),
        ("earlier", earlier, 0, "verified: entries 1 to "),
    ];
    for (case, checkpoint, code, says) in cases {
        let run = verify_with(checkpoint);
        assert_eq!(run.code, code, "{case}: {}", run.stderr);
        assert!(run.stderr.contains(says), "{case}: {}", run.stderr);
        assert!(!run.stderr.contains(&app.secret.value[8..]), "no key value");
    }
}

#[test]
fn the_operator_manages_any_application_with_app() {
    let w = worker();
    let app = w.create_application("CLI operator", "development");
    let app_id = app.id.as_str();
    let env = [("AERO2_OPERATOR_TOKEN", ADMIN_TOKEN)];

    let listed = aero2(&["keys", "list", "--app", app_id], &env);
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    assert!(listed.stdout.contains(&app.secret.id));

    let created = aero2(
        &[
            "keys",
            "create",
            "--app",
            app_id,
            "--label",
            "from the operator",
        ],
        &env,
    );
    let value = printed_value(&created);
    assert!(value.starts_with("sk_test_"), "a development application");
    assert_eq!(w.get("/v1/anything", &value).status, 200);

    let export = aero2(&["audit", "export", "--app", app_id], &env);
    assert_eq!(export.code, 0, "{}", export.stderr);
    let last: Value = serde_json::from_str(export.stdout.lines().last().unwrap()).unwrap();
    assert_eq!(last["event"], "key.created");
    assert_eq!(last["actor"], "operator");

    // The token from standard input works the same; a wrong token is a 401.
    let mut command = Command::new(aero2_bin());
    let from_stdin = command
        .args(["keys", "list", "--app", app_id, "--key-file", "-"])
        .env_remove("AERO2_OPERATOR_TOKEN")
        .env("AERO2_API_URL", &w.base)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = from_stdin.stdin.as_ref().unwrap();
        writeln!(stdin, "{ADMIN_TOKEN}").unwrap();
    }
    let output = from_stdin.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0));

    let wrong = aero2(
        &["keys", "list", "--app", app_id],
        &[("AERO2_OPERATOR_TOKEN", "not-the-operator-token-0000")],
    );
    assert_eq!(wrong.code, 3, "{}", wrong.stderr);
    assert!(
        wrong.stderr.contains("invalid_admin_token"),
        "{}",
        wrong.stderr
    );

    // An application that does not exist: 404.
    let missing = aero2(&["keys", "list", "--app", "app_0000000000000000"], &env);
    assert_eq!(missing.code, 5, "{}", missing.stderr);
}
