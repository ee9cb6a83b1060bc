//! Regional mode: replicas in several regions of one local workerd (the fault-injection
//! build takes the gate's region from `X-Aero2-Test-Region`), receipts in every mode, a
//! partitioned replica, and a chaos run of 1,000 changes under validation traffic.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aero2_e2e::*;
use serde_json::json;

fn start(name: &str, mode: &str, extra: &[(&'static str, &str)]) -> Worker {
    let mut vars = vec![
        ("SECRET_KEY_VALIDATION", mode.to_owned()),
        ("PUBLISHABLE_KEY_VALIDATION", mode.to_owned()),
    ];
    vars.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
    Worker::start(
        name,
        Options {
            test_build: true,
            vars,
            ..Options::default()
        },
    )
}

/// A frontend request with a publishable key, from `region`, from its own address (so no
/// address reaches the failed-attempt limit).
fn from_region(w: &Worker, region: &str, key: &str, n: u32) -> Reply {
    let ip = format!("10.{}.{}.{}", 60 + n / 62_500 % 100, n / 250 % 250, n % 250);
    request(
        "GET",
        &w.url("/v1/client/config"),
        &[
            ("Authorization", &bearer(key)),
            ("X-Aero2-Test-Region", region),
            ("CF-Connecting-IP", &ip),
        ],
        None,
    )
}

fn create_publishable(w: &Worker, admin: &str, label: &str) -> (String, String) {
    let reply = w.post(
        "/v1/keys",
        admin,
        Some(&json!({"kind": "publishable", "label": label})),
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
    (
        reply.json["key"]["id"].as_str().unwrap().to_owned(),
        reply.json["key"]["value"].as_str().unwrap().to_owned(),
    )
}

#[test]
fn every_change_answers_with_its_receipt_in_every_mode() {
    for (mode, low, high) in [
        ("strict", 0, 1_000),
        // KV's bound and the isolates' record cache (EDGE_CACHE_SECONDS, 5 by default;
        // the tests' workers set it to 0).
        ("edge", 59_000, 61_000),
        ("regional", 0, 1_000),
    ] {
        let w = start(&format!("receipts-{mode}"), mode, &[]);
        let app = w.create_application("Receipts", "production");
        let sk = &app.secret.value;
        let (id, key) = create_publishable(&w, sk, "web");
        // Regional: a replica in two regions holds the key.
        for (n, region) in ["weur", "apac"].into_iter().enumerate() {
            assert_eq!(from_region(&w, region, &key, n as u32).status, 200);
        }
        let before = wall_ms();
        let suspended = w.post(&format!("/v1/keys/{id}/suspend"), sk, None);
        assert_eq!(suspended.status, 200, "{}", suspended.body);
        let receipt = millis(&suspended.json["effective_at"]);
        assert!(
            (before + low..=wall_ms() + high).contains(&receipt),
            "{mode}: {receipt} against {before}"
        );
        if mode != "edge" {
            // From the receipt on, nowhere accepts the key.
            for (n, region) in ["weur", "apac", "enam"].into_iter().enumerate() {
                let reply = from_region(&w, region, &key, 10 + n as u32);
                assert_eq!(reply.code(), "suspended_key", "{mode} {region}");
            }
        }
        let log = w.get(
            &format!("/v1/audit_log?event=key.suspended&key_id={id}"),
            sk,
        );
        assert_eq!(
            log.json["entries"][0]["detail"]["effective_at"], suspended.json["effective_at"],
            "{mode}: the audit entry records the receipt"
        );
        let rotated = w.post(
            &format!("/v1/keys/{id}/rotate"),
            sk,
            Some(&json!({"grace_period_seconds": 0})),
        );
        assert!(rotated.json["effective_at"].is_string(), "{}", rotated.body);
        let revoked = w.post(
            &format!(
                "/v1/keys/{}/revoke",
                rotated.json["key"]["id"].as_str().unwrap()
            ),
            sk,
            None,
        );
        assert!(revoked.json["effective_at"].is_string(), "{}", revoked.body);
    }
}

#[test]
fn a_replica_cut_off_from_its_key_ring_refuses_the_key_from_its_lease_end() {
    let w = start(
        "partition",
        "regional",
        &[
            ("REGIONAL_LEASE_SECONDS", "6"),
            ("REGIONAL_CLOCK_MARGIN_MS", "1000"),
        ],
    );
    let app = w.create_application("Partitioned", "production");
    let sk = &app.secret.value;
    let (id, key) = create_publishable(&w, sk, "web");
    for (n, region) in ["weur", "apac"].into_iter().enumerate() {
        assert_eq!(from_region(&w, region, &key, n as u32).status, 200);
    }
    let cut = w.post(
        &format!("/__faults/applications/{}/partition", app.id),
        ADMIN_TOKEN,
        Some(&json!({"region": "apac", "for_ms": 30_000})),
    );
    assert_eq!(cut.status, 200, "{}", cut.body);
    let before = wall_ms();
    let revoked = w.post(&format!("/v1/keys/{id}/revoke"), sk, None);
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    let effective_at = millis(&revoked.json["effective_at"]);
    // The receipt is apac's lease end: later than now, at most a lease away.
    assert!(effective_at > wall_ms(), "{effective_at}");
    assert!(effective_at <= before + 6_000 + 500, "{effective_at}");
    // The replica that acknowledged refuses at once.
    assert_eq!(from_region(&w, "weur", &key, 2).code(), "revoked_key");
    // The cut-off one still answers from memory until its lease (less the margin) ends...
    assert_eq!(
        from_region(&w, "apac", &key, 3).status,
        200,
        "the partition is real: apac has not heard of the revocation"
    );
    // ...and refuses from the receipt on, failing closed to the key ring.
    std::thread::sleep(Duration::from_millis(
        effective_at.saturating_sub(wall_ms()) + 10,
    ));
    for n in 4..10 {
        assert_eq!(from_region(&w, "apac", &key, n).code(), "revoked_key");
    }
}

/// Validators in three regions hammer a pool of keys while a controller makes 1,000
/// changes (create, revoke, rotate with no grace, suspend). Once a change's receipt has
/// passed, no request with the key's old state is accepted anywhere; and no key that is
/// certainly active is refused.
#[test]
fn a_thousand_changes_under_traffic_in_three_regions_never_outlive_their_receipts() {
    let w = Arc::new(start("regional-chaos", "regional", &[]));
    let app = w.create_application("Chaos", "production");
    let sk = app.secret.value.clone();

    #[derive(Clone)]
    struct KeyState {
        value: String,
        /// When the create call returned: certainly active from then.
        active_from: u64,
        /// When a change that ends it was sent, and its receipt once answered.
        change_sent: Option<u64>,
        dead_from: Option<u64>,
    }
    impl KeyState {
        /// A key whose create (or rotate) call has just returned.
        fn active_now(value: String) -> Self {
            KeyState {
                value,
                active_from: wall_ms(),
                change_sent: None,
                dead_from: None,
            }
        }
    }
    let keys: Arc<Mutex<Vec<KeyState>>> = Arc::new(Mutex::new(Vec::new()));
    let mut ids: Vec<String> = Vec::new();
    for i in 0..20 {
        let (id, value) = create_publishable(&w, &sk, &format!("seed {i}"));
        ids.push(id);
        keys.lock().unwrap().push(KeyState::active_now(value));
    }
    /// One validation: the key's index, when it started and ended, its status.
    type Outcome = (usize, u64, u64, u16);
    let results: Arc<Mutex<Vec<Outcome>>> = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let counter = Arc::new(AtomicU32::new(0));
    let validators: Vec<_> = ["weur", "apac", "enam"]
        .into_iter()
        .flat_map(|region| [region, region])
        .map(|region| {
            let (w, keys, results, stop, counter) = (
                w.clone(),
                keys.clone(),
                results.clone(),
                stop.clone(),
                counter.clone(),
            );
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let n = counter.fetch_add(1, Ordering::Relaxed);
                    // Three requests in four with a key no change has touched yet.
                    let (index, value) = {
                        let keys = keys.lock().unwrap();
                        let live: Vec<usize> = (0..keys.len())
                            .filter(|i| keys[*i].change_sent.is_none())
                            .collect();
                        let index = if n % 4 != 0 && !live.is_empty() {
                            live[n as usize * 7919 % live.len()]
                        } else {
                            n as usize * 7919 % keys.len()
                        };
                        (index, keys[index].value.clone())
                    };
                    let started = wall_ms();
                    let status = from_region(&w, region, &value, n).status;
                    results
                        .lock()
                        .unwrap()
                        .push((index, started, wall_ms(), status));
                }
            })
        })
        .collect();

    let mut changes = 0;
    let mut suspended: Vec<usize> = Vec::new();
    let mut step = 0usize;
    while changes < 1_000 {
        step += 1;
        let live: Vec<usize> = {
            let keys = keys.lock().unwrap();
            (0..keys.len())
                .filter(|i| keys[*i].change_sent.is_none())
                .collect()
        };
        // Keep the application under its 100 keys that are not revoked.
        if live.len() + suspended.len() > 60 {
            let index = suspended.remove(0);
            let reply = w.post(&format!("/v1/keys/{}/revoke", ids[index]), &sk, None);
            assert_eq!(reply.status, 200, "{}", reply.body);
            changes += 1;
            continue;
        }
        if live.len() < 10 || step.is_multiple_of(4) {
            let (id, value) = create_publishable(&w, &sk, &format!("k{step}"));
            ids.push(id);
            keys.lock().unwrap().push(KeyState::active_now(value));
            changes += 1;
            continue;
        }
        let index = live[step * 31 % live.len()];
        let sent = wall_ms();
        keys.lock().unwrap()[index].change_sent = Some(sent);
        let id = ids[index].clone();
        let reply = match step % 3 {
            0 => w.post(&format!("/v1/keys/{id}/revoke"), &sk, None),
            1 => {
                suspended.push(index);
                w.post(&format!("/v1/keys/{id}/suspend"), &sk, None)
            }
            _ => {
                let reply = w.post(
                    &format!("/v1/keys/{id}/rotate"),
                    &sk,
                    Some(&json!({"grace_period_seconds": 0})),
                );
                let new_id = reply.json["key"]["id"].as_str().unwrap().to_owned();
                let value = reply.json["key"]["value"].as_str().unwrap().to_owned();
                ids.push(new_id);
                keys.lock().unwrap().push(KeyState::active_now(value));
                reply
            }
        };
        assert_eq!(reply.status, 200, "{}", reply.body);
        keys.lock().unwrap()[index].dead_from = Some(millis(&reply.json["effective_at"]));
        changes += 1;
    }
    stop.store(true, Ordering::Relaxed);
    for validator in validators {
        validator.join().unwrap();
    }

    let keys = keys.lock().unwrap();
    let results = results.lock().unwrap();
    let mut accepted_after_receipt = 0;
    let mut false_rejects: HashMap<u16, usize> = HashMap::new();
    let mut checked_dead = 0;
    let mut checked_live = 0;
    for &(index, started, ended, status) in results.iter() {
        let key = &keys[index];
        if let Some(dead_from) = key.dead_from {
            if started >= dead_from {
                checked_dead += 1;
                if status == 200 {
                    accepted_after_receipt += 1;
                }
            }
        }
        let certainly_active =
            started >= key.active_from && key.change_sent.is_none_or(|sent| ended < sent);
        if certainly_active {
            checked_live += 1;
            if status != 200 {
                *false_rejects.entry(status).or_default() += 1;
            }
        }
    }
    println!(
        "regional chaos: {changes} changes, {} requests, {checked_dead} after a receipt, {checked_live} with a certainly active key",
        results.len()
    );
    assert!(
        checked_dead > 100,
        "too few requests after receipts: {checked_dead}"
    );
    assert!(
        checked_live > 100,
        "too few requests with active keys: {checked_live}"
    );
    assert_eq!(accepted_after_receipt, 0, "a key outlived its receipt");
    assert!(false_rejects.is_empty(), "false rejects: {false_rejects:?}");
}
