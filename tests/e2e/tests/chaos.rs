//! Races and soak: concurrent creates, rotations and revocations on one application while
//! other clients validate keys through the gate, then a check of every invariant:
//!
//! - no revoked or expired key is accepted after its revoke call returned or its
//!   `expires_at`, and no key is refused while it is certainly active;
//! - no 5xx from the product (wrangler dev's own proxy dropping a POST is told apart,
//!   and the call's outcome read back: see [`dropped_by_dev_proxy`]);
//! - every rotation made exactly one new key;
//! - the audit log holds exactly one entry per successful operation;
//! - KV agrees with the Durable Object once the outbox has drained (checked by restarting
//!   the worker in edge mode, which reads KV alone).
//!
//! `race` runs 10 seconds in the test command; `soak` runs 20 seconds, or
//! `AERO2_SOAK_SECONDS` with `make soak`.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aero2_e2e::*;
use serde_json::json;

/// `2026-11-27T08:19:58.123Z` to milliseconds since the epoch.
fn parse_time(text: &str) -> u64 {
    let n = |range: std::ops::Range<usize>| text[range].parse::<i64>().unwrap();
    let (y, m, d) = (n(0..4), n(5..7), n(8..10));
    let (y, m) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    (days * 86_400_000 + n(11..13) * 3_600_000 + n(14..16) * 60_000 + n(17..19) * 1000 + n(20..23))
        as u64
}

/// What the test knows of a key. A key enters the ledger only after the call that made
/// it returned, so validators never use a key before it exists.
#[derive(Clone, Default)]
struct Facts {
    id: String,
    revoke_started_ms: Option<u64>,
    revoke_returned_ms: Option<u64>,
    expires_at_ms: Option<u64>,
    busy: bool,
    /// A rotation of it was dropped by the dev proxy and is being read back: whether it
    /// still works is not known for that moment, so no answer about it is judged.
    uncertain: bool,
}

#[derive(Default)]
struct Totals {
    requests: AtomicU64,
    accepted: AtomicU64,
    refused: AtomicU64,
    server_errors: AtomicU64,
    /// Management calls answered 503 temporarily_unavailable and sent again once, as the
    /// README tells clients to do. A second 503, or any other 5xx, is a server error.
    retried: AtomicU64,
    /// Management calls that wrangler dev's proxy dropped, each outcome read back.
    dropped: AtomicU64,
    false_accepts: AtomicU64,
    false_rejects: AtomicU64,
    creates: AtomicU64,
    rotations: AtomicU64,
    revocations: AtomicU64,
}

/// Whether wrangler dev's own proxy, in front of the worker, answered instead of it. When
/// its connection to the worker drops mid-request (workerd logs "disconnected: stream
/// disconnected prematurely"), it sends a GET again itself but answers a POST with this
/// plain-text 503. It is local development's plumbing, not the product: no Aero2 error is
/// plain text. The call may or may not have been made, so its outcome is read back from
/// the key list ([`listed_key`]). Seen about once in 300 s of the soak's traffic.
fn dropped_by_dev_proxy(reply: &Reply) -> bool {
    reply.status == 503 && reply.body.starts_with("Your worker restarted mid-request")
}

/// Every listed key, once a call that may still be under way has had a second to finish
/// (a key ring runs one change at a time, in order).
fn listed_keys(w: &Worker, admin: &str) -> Vec<serde_json::Value> {
    std::thread::sleep(Duration::from_secs(1));
    let listed = w.get("/v1/keys?include_revoked=true", admin);
    assert_eq!(listed.status, 200, "{}", listed.body);
    listed.json["keys"].as_array().unwrap().clone()
}

/// The listed key that `matches` ([`listed_keys`]).
fn listed_key(
    w: &Worker,
    admin: &str,
    matches: impl Fn(&serde_json::Value) -> bool,
) -> Option<serde_json::Value> {
    listed_keys(w, admin).into_iter().find(|k| matches(k))
}

/// A management call as a client makes it: a 503 `temporarily_unavailable` (retryable, as
/// the README says) is sent again once after a short pause, and counted.
fn managed(totals: &Totals, call: impl Fn() -> Reply) -> Reply {
    let reply = call();
    if reply.status == 503 && reply.code() == "temporarily_unavailable" {
        eprintln!("retrying a 503: {}", reply.body);
        totals.retried.fetch_add(1, Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(200));
        let again = call();
        if again.status >= 500 {
            eprintln!(
                "a 5xx again after the retry: {} {}",
                again.status, again.body
            );
        }
        return again;
    }
    if dropped_by_dev_proxy(&reply) {
        eprintln!(
            "wrangler dev's proxy dropped a call at {}: reading its outcome back",
            wall_ms()
        );
        totals.dropped.fetch_add(1, Ordering::Relaxed);
    } else if reply.status >= 500 {
        eprintln!("a 5xx: {} {}", reply.status, reply.body);
    }
    reply
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn run(name: &str, seconds: u64) {
    let mut w = Worker::start(name, Options::default());
    let app = w.create_application("Chaos", "production");
    let admin = app.secret.value.clone();
    let ledger: Mutex<HashMap<String, Facts>> = Mutex::new(HashMap::new());
    ledger.lock().unwrap().insert(
        app.publishable.value.clone(),
        Facts {
            id: app.publishable.id.clone(),
            ..Facts::default()
        },
    );
    let totals = Totals::default();
    let violations = Mutex::new(Vec::<String>::new());
    let stop = AtomicBool::new(false);
    let deadline = Instant::now() + Duration::from_secs(seconds);

    let pick = |rng: &mut Rng, usable: &dyn Fn(&Facts) -> bool| -> Option<(String, Facts)> {
        let book = ledger.lock().unwrap();
        let candidates: Vec<_> = book.iter().filter(|(_, f)| usable(f)).collect();
        candidates
            .get(rng.below(candidates.len()))
            .map(|(k, f)| ((*k).clone(), (*f).clone()))
    };

    std::thread::scope(|scope| {
        let w = &w;
        let admin = admin.as_str();
        // Creators.
        scope.spawn(|| {
            let mut rng = Rng(wall_ms() | 1);
            let mut made = 0u64;
            while Instant::now() < deadline {
                let kind = if rng.below(2) == 0 {
                    "publishable"
                } else {
                    "secret"
                };
                made += 1;
                // Each its own label, so that a dropped call's key can be found.
                let label = format!("chaos {made}");
                let reply = managed(&totals, || {
                    w.post(
                        "/v1/keys",
                        admin,
                        Some(&json!({"kind": kind, "label": label})),
                    )
                });
                if reply.status == 201 {
                    totals.creates.fetch_add(1, Ordering::Relaxed);
                    let value = reply.json["key"]["value"].as_str().unwrap().to_string();
                    let id = reply.json["key"]["id"].as_str().unwrap().to_string();
                    ledger.lock().unwrap().insert(
                        value,
                        Facts {
                            id,
                            ..Facts::default()
                        },
                    );
                } else if dropped_by_dev_proxy(&reply) {
                    // Made or not: counted if it is listed. Its value was never seen, so
                    // no one validates it.
                    if listed_key(w, admin, |k| k["label"] == label.as_str()).is_some() {
                        totals.creates.fetch_add(1, Ordering::Relaxed);
                    }
                } else if reply.status >= 500 {
                    totals.server_errors.fetch_add(1, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(150));
            }
        });
        // Rotators and revokers: one operation per key at a time (`busy`), as a client would.
        for role in ["rotate", "revoke", "rotate"] {
            let (ledger, totals, pick) = (&ledger, &totals, &pick);
            scope.spawn(move || {
                let mut rng = Rng(wall_ms().wrapping_mul(31) | 1);
                while Instant::now() < deadline {
                    let usable = |f: &Facts| {
                        !f.busy && f.revoke_started_ms.is_none() && f.expires_at_ms.is_none()
                    };
                    let Some((value, facts)) = pick(&mut rng, &usable) else {
                        std::thread::sleep(Duration::from_millis(50));
                        continue;
                    };
                    ledger.lock().unwrap().get_mut(&value).unwrap().busy = true;
                    if role == "rotate" {
                        let grace = 1 + rng.below(3) as u64;
                        let reply = managed(totals, || {
                            w.post(
                                &format!("/v1/keys/{}/rotate", facts.id),
                                admin,
                                Some(&json!({"grace_period_seconds": grace})),
                            )
                        });
                        let mut book = ledger.lock().unwrap();
                        if reply.status == 200 {
                            totals.rotations.fetch_add(1, Ordering::Relaxed);
                            let expires = reply.json["previous_key"]["expires_at"]
                                .as_str()
                                .map(parse_time);
                            book.get_mut(&value).unwrap().expires_at_ms = expires;
                            let new_value =
                                reply.json["key"]["value"].as_str().unwrap().to_string();
                            let new_id = reply.json["key"]["id"].as_str().unwrap().to_string();
                            book.insert(
                                new_value,
                                Facts {
                                    id: new_id,
                                    ..Facts::default()
                                },
                            );
                        } else if dropped_by_dev_proxy(&reply) {
                            book.get_mut(&value).unwrap().uncertain = true;
                            drop(book);
                            // Rotated if a key names it as its predecessor; the old key
                            // then ends at its grace period's end, read from the list.
                            let keys = listed_keys(w, admin);
                            let id = facts.id.as_str();
                            book = ledger.lock().unwrap();
                            if keys.iter().any(|k| k["rotated_from"] == id) {
                                totals.rotations.fetch_add(1, Ordering::Relaxed);
                                let ends = keys
                                    .iter()
                                    .find(|k| k["id"] == id)
                                    .and_then(|k| k["expires_at"].as_str())
                                    .map(parse_time)
                                    .unwrap_or_else(wall_ms);
                                book.get_mut(&value).unwrap().expires_at_ms = Some(ends);
                            }
                            book.get_mut(&value).unwrap().uncertain = false;
                        } else if reply.status >= 500 {
                            totals.server_errors.fetch_add(1, Ordering::Relaxed);
                        }
                        book.get_mut(&value).unwrap().busy = false;
                    } else {
                        ledger
                            .lock()
                            .unwrap()
                            .get_mut(&value)
                            .unwrap()
                            .revoke_started_ms = Some(wall_ms());
                        let reply = managed(totals, || {
                            w.post(&format!("/v1/keys/{}/revoke", facts.id), admin, None)
                        });
                        // Revoked or not: read back, as the list says it now.
                        let revoked = dropped_by_dev_proxy(&reply)
                            && listed_key(w, admin, |k| k["id"] == facts.id.as_str())
                                .is_some_and(|k| k["status"] == "revoked");
                        let mut book = ledger.lock().unwrap();
                        let entry = book.get_mut(&value).unwrap();
                        entry.busy = false;
                        if reply.status == 200 || revoked {
                            totals.revocations.fetch_add(1, Ordering::Relaxed);
                            entry.revoke_returned_ms = Some(wall_ms());
                        } else {
                            if reply.status >= 500 && !dropped_by_dev_proxy(&reply) {
                                totals.server_errors.fetch_add(1, Ordering::Relaxed);
                            }
                            entry.revoke_started_ms = None;
                        }
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            });
        }
        // Validators.
        for seed in 0..3u64 {
            let (ledger, totals, violations, stop) = (&ledger, &totals, &violations, &stop);
            scope.spawn(move || {
                let mut rng = Rng((wall_ms() + seed * 7919) | 1);
                while Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
                    // Three times in four, a key that should still work; otherwise any key.
                    let want_live = rng.below(4) != 0;
                    let candidates: Vec<String> = {
                        let book = ledger.lock().unwrap();
                        let live: Vec<String> = book
                            .iter()
                            .filter(|(_, f)| {
                                f.revoke_started_ms.is_none()
                                    && f.expires_at_ms.is_none()
                                    && !f.uncertain
                            })
                            .map(|(k, _)| k.clone())
                            .collect();
                        if want_live && !live.is_empty() {
                            live
                        } else {
                            book.keys().cloned().collect()
                        }
                    };
                    let value = candidates[rng.below(candidates.len())].clone();
                    let start = wall_ms();
                    // Refusing revoked keys on purpose: each request from its own address,
                    // so the per-address failure limit (tested in boundaries.rs) stays out
                    // of this test.
                    let address = format!("10.9.{}.{}", rng.below(256), rng.below(256));
                    let reply = request(
                        "GET",
                        &w.url("/v1/client/chaos"),
                        &[
                            ("Authorization", &bearer(&value)),
                            ("CF-Connecting-IP", &address),
                        ],
                        None,
                    );
                    let end = wall_ms();
                    totals.requests.fetch_add(1, Ordering::Relaxed);
                    if reply.body.contains(&value) {
                        violations
                            .lock()
                            .unwrap()
                            .push("a gated response echoed the key".into());
                    }
                    let facts = ledger.lock().unwrap().get(&value).cloned().unwrap();
                    if facts.uncertain {
                        continue;
                    }
                    match reply.status {
                        200 => {
                            totals.accepted.fetch_add(1, Ordering::Relaxed);
                            let revoked_before =
                                facts.revoke_returned_ms.is_some_and(|t| t <= start);
                            let expired_before = facts.expires_at_ms.is_some_and(|t| t <= start);
                            if revoked_before || expired_before {
                                totals.false_accepts.fetch_add(1, Ordering::Relaxed);
                                violations.lock().unwrap().push(format!(
                                    "accepted {} at {start}: {:?} {:?}",
                                    facts.id, facts.revoke_returned_ms, facts.expires_at_ms
                                ));
                            }
                        }
                        401 => {
                            totals.refused.fetch_add(1, Ordering::Relaxed);
                            let revoke_pending = facts.revoke_started_ms.is_some_and(|t| t <= end);
                            let may_have_expired = facts.expires_at_ms.is_some_and(|t| t <= end);
                            if !revoke_pending && !may_have_expired {
                                totals.false_rejects.fetch_add(1, Ordering::Relaxed);
                                violations.lock().unwrap().push(format!(
                                    "refused active {} ({}) at {start}",
                                    facts.id,
                                    reply.code()
                                ));
                            }
                        }
                        status => {
                            if status >= 500 {
                                totals.server_errors.fetch_add(1, Ordering::Relaxed);
                            }
                            violations.lock().unwrap().push(format!(
                                "unexpected {status} for {}: {}",
                                facts.id, reply.body
                            ));
                        }
                    }
                }
            });
        }
    });

    let t = |a: &AtomicU64| a.load(Ordering::Relaxed);
    println!(
        "{name}: {seconds} s, {} gated requests ({} accepted, {} refused), {} creates, {} rotations, {} revocations, {} 5xx, {} retried 503s, {} calls dropped by wrangler dev's proxy (outcome read back), {} false accepts, {} false rejects",
        t(&totals.requests), t(&totals.accepted), t(&totals.refused), t(&totals.creates), t(&totals.rotations), t(&totals.revocations),
        t(&totals.server_errors), t(&totals.retried), t(&totals.dropped), t(&totals.false_accepts), t(&totals.false_rejects)
    );
    let violations = violations.into_inner().unwrap();
    assert!(
        violations.is_empty(),
        "{} violations:\n{}",
        violations.len(),
        violations.join("\n")
    );
    assert_eq!(t(&totals.server_errors), 0);
    // The dev proxy's drops are rare (about one in 300 s); many would be something else.
    assert!(
        t(&totals.dropped) <= 3,
        "{} calls dropped by the dev proxy",
        t(&totals.dropped)
    );
    assert!(t(&totals.requests) > 0 && t(&totals.rotations) > 0 && t(&totals.revocations) > 0);

    // Exactly one audit entry per successful operation.
    let mut counts: HashMap<String, u64> = HashMap::new();
    let mut cursor = String::new();
    loop {
        let page = w.get(&format!("/v1/audit_log?limit=100{cursor}"), &admin);
        for entry in page.json["entries"].as_array().unwrap() {
            *counts
                .entry(entry["event"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
        match page.json["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    let count = |event: &str| counts.get(event).copied().unwrap_or(0);
    assert_eq!(count("key.created"), 2 + t(&totals.creates));
    assert_eq!(count("key.rotated"), t(&totals.rotations));
    assert_eq!(count("key.revoked"), t(&totals.revocations));

    // Every rotation made exactly one new key; nothing else appeared. A ring keeps at most
    // 1,000 records: past that, the oldest revoked ones are forgotten, each with its
    // `key.forgotten` entry (a soak of a few minutes gets there).
    let listed = w.get("/v1/keys?include_revoked=true", &admin);
    let keys = listed.json["keys"].as_array().unwrap().clone();
    let forgotten = count("key.forgotten");
    assert!(keys.len() <= 1_000, "{} records", keys.len());
    assert_eq!(
        keys.len() as u64 + forgotten,
        2 + t(&totals.creates) + t(&totals.rotations)
    );
    let mut successors: HashMap<&str, usize> = HashMap::new();
    for key in &keys {
        if let Some(from) = key["rotated_from"].as_str() {
            *successors.entry(from).or_default() += 1;
        }
    }
    // A forgotten key may have been a rotation's new key; none was made twice.
    assert!(successors.len() as u64 + forgotten >= t(&totals.rotations));
    assert!(successors.len() as u64 <= t(&totals.rotations));
    assert!(successors.values().all(|&n| n == 1));

    // KV agrees with the Durable Object: restart in edge mode (KV only) and compare.
    std::thread::sleep(Duration::from_secs(4)); // let every short grace period end
                                                // Every key issued in the run, by value and id (a forgotten one, revoked and then
                                                // dropped past 1,000 records, is listed nowhere after the restart).
    let issued: Vec<(String, String)> = ledger
        .lock()
        .unwrap()
        .iter()
        .map(|(value, f)| (value.clone(), f.id.clone()))
        .collect();
    w.set_vars(vec![
        ("SECRET_KEY_VALIDATION", "edge".into()),
        ("PUBLISHABLE_KEY_VALIDATION", "edge".into()),
    ]);
    w.restart("TERM");
    let relisted = w.get("/v1/keys?include_revoked=true", &admin);
    let now_status: HashMap<String, String> = relisted.json["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["id"].as_str().unwrap().to_string(),
                k["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let mut disagreements = Vec::new();
    for (n, (value, id)) in issued.into_iter().enumerate() {
        let listed = now_status.get(&id).map_or("forgotten", String::as_str);
        let expected_valid = listed == "active";
        // One address per key: most of these are refused on purpose.
        let address = format!("10.8.{}.{}", n / 250, n % 250);
        let reply = request(
            "GET",
            &w.url("/v1/client/agree"),
            &[
                ("Authorization", &bearer(&value)),
                ("CF-Connecting-IP", &address),
            ],
            None,
        );
        if (reply.status == 200) != expected_valid {
            disagreements.push(format!(
                "{id}: listed {listed} but the edge answered {} {}",
                reply.status,
                reply.code()
            ));
        }
    }
    assert!(
        disagreements.is_empty(),
        "KV and the Durable Object disagree:\n{}",
        disagreements.join("\n")
    );
    stop.store(true, Ordering::Relaxed);

    // Secrets at rest and in logs: no key created in this run appears in the persisted
    // state (KV, Durable Object storage), in any log or in a listing, whole or as its
    // random part.
    let values: Vec<String> = ledger
        .lock()
        .unwrap()
        .keys()
        .cloned()
        .chain([admin.clone()])
        .collect();
    let files: Vec<(std::path::PathBuf, String)> = files_below(&w.state_dir)
        .into_iter()
        .map(|(path, bytes)| (path, String::from_utf8_lossy(&bytes).into_owned()))
        .collect();
    let logs = w.logs();
    assert!(!files.is_empty());
    let random_parts: HashSet<&str> = values.iter().map(|v| &v[24..v.len() - 6]).collect();
    let whole: HashSet<&str> = values.iter().map(String::as_str).collect();
    for (path, text) in &files {
        let found = occurrences(text, &random_parts, u8::is_ascii_alphanumeric);
        assert!(found.is_empty(), "{} holds a key", path.display());
    }
    let found = occurrences(&logs, &random_parts, u8::is_ascii_alphanumeric);
    assert!(found.is_empty(), "a log holds a key");
    for body in [&listed.body, &relisted.body] {
        let found = occurrences(body, &whole, |b| b.is_ascii_alphanumeric() || *b == b'_');
        assert!(found.is_empty(), "a listing holds a key");
    }
    println!(
        "{name}: scanned {} files and {} bytes of logs for {} keys: none found",
        files.len(),
        logs.len(),
        values.len()
    );
}

/// Which of `needles` occur in `text`, each a run of bytes that `part_of` accepts: one
/// pass over the text per needle length, looking each window up, instead of one search
/// per needle. A 300 s soak issues thousands of keys and writes tens of megabytes of
/// logs; searching for each key in turn took many minutes.
fn occurrences<'a>(
    text: &str,
    needles: &HashSet<&'a str>,
    part_of: fn(&u8) -> bool,
) -> Vec<&'a str> {
    let mut lengths: Vec<usize> = needles.iter().map(|n| n.len()).collect();
    lengths.sort_unstable();
    lengths.dedup();
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut run = 0;
    for end in 0..bytes.len() {
        run = if part_of(&bytes[end]) { run + 1 } else { 0 };
        for &length in &lengths {
            if run >= length {
                // The window is all ASCII, so these are character boundaries.
                if let Some(needle) = needles.get(&text[end + 1 - length..=end]) {
                    found.push(*needle);
                }
            }
        }
    }
    found
}

#[test]
fn occurrences_finds_a_needle_inside_a_longer_run_and_nothing_else() {
    let needles: HashSet<&str> = ["abcd", "xyz12345"].into_iter().collect();
    let found = occurrences(
        "--zzabcdzz xyz1234 é abcd",
        &needles,
        u8::is_ascii_alphanumeric,
    );
    assert_eq!(found, vec!["abcd", "abcd"]);
    assert!(occurrences("ab cd", &needles, u8::is_ascii_alphanumeric).is_empty());
}

#[test]
fn race_concurrent_management_while_validating() {
    run("race", 10);
}

#[test]
fn soak_mixed_traffic_with_rotations_and_revocations() {
    let seconds = std::env::var("AERO2_SOAK_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    run("soak", seconds);
}
