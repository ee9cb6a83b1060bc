//! What can be measured on this machine, set beside the model: a replica's memory (counted
//! natively by this binary's allocator), and the local benchmark's figures
//! (target/bench/*/report.json, from `make bench`) when a run left them.

use std::alloc::{GlobalAlloc, Layout, System};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};

use aero2_keys::gate::EdgeRecord;
use aero2_keys::policy::Policy;
use aero2_keys::regional::{Lease, Replica};
use aero2_keys::{
    ApplicationId, KeyId, KeyKind, KeyStatus, RandomSource, StorageId, SystemRandom, UnixMillis,
};

/// Counts the bytes allocated and not yet freed.
pub struct CountingAllocator;

static LIVE: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// Bytes a replica holds for `keys` records, each with `policy`.
fn replica_bytes(keys: usize, policy: &Policy) -> usize {
    let mut rng = SystemRandom;
    let application = ApplicationId::generate(&mut rng).expect("CSPRNG");
    let mut records = Vec::new();
    let before = LIVE.load(Ordering::Relaxed);
    for _ in 0..keys {
        let mut bytes = [0u8; 32];
        rng.fill_bytes(&mut bytes).expect("CSPRNG");
        records.push((
            StorageId::from_bytes(bytes),
            EdgeRecord {
                application_id: application,
                key_id: KeyId::generate(&mut rng).expect("CSPRNG"),
                kind: KeyKind::Secret,
                status: KeyStatus::Active,
                policy: policy.clone(),
                suspended: false,
                canary: false,
            },
        ));
    }
    let replica = Replica::renewed(
        1,
        Lease {
            until: UnixMillis(0),
        },
        records,
    );
    let bytes = LIVE.load(Ordering::Relaxed) - before;
    drop(replica);
    bytes
}

pub fn render(out: &mut String) {
    let full: Policy = serde_json::from_value(serde_json::json!({
        "expires_at": 1_900_000_000_000u64,
        "scopes": ["keys:read"],
        "allowed_ips": (0..50).map(|i| format!("10.{i}.0.0/16")).collect::<Vec<_>>(),
        "routes": (0..50).map(|i| serde_json::json!({"methods": ["GET"], "path": format!("/v1/r{i}/*")})).collect::<Vec<_>>(),
        "rate_limit": {"requests": 100, "per_seconds": 60},
    }))
    .expect("a policy");
    let plain = replica_bytes(10_000, &Policy::default());
    let heavy = replica_bytes(10_000, &full);
    let _ = writeln!(
        out,
        "## Measured on this machine\n\n\
         Replica memory for 10,000 keys, counted by this binary's allocator (native, 64-bit; the\n\
         worker's wasm32 build has 4-byte pointers, so it holds somewhat less):\n\n\
         | records | bytes | per key |\n|---|---|---|\n\
         | 10,000 keys without a policy | {plain} | {} |\n\
         | 10,000 keys with a full policy (50 ranges, 50 routes, scopes, expiry, rate limit) | {heavy} | {} |\n\n\
         An application has at most 100 keys that are not revoked, so a replica holds far fewer.\n",
        plain / 10_000,
        heavy / 10_000
    );
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench");
    let report = ["full", "smoke"].iter().find_map(|run| {
        let text = std::fs::read_to_string(root.join(run).join("report.json")).ok()?;
        Some((*run, serde_json::from_str::<serde_json::Value>(&text).ok()?))
    });
    let Some((run, report)) = report else {
        let _ = writeln!(
            out,
            "No local benchmark report found: run `make bench` for the local figures."
        );
        return;
    };
    let c = &report["counts"];
    let count = |key: &str, field: &str| {
        c[key][field]
            .as_f64()
            .map_or("–".into(), |v| format!("{v}"))
    };
    let _ = writeln!(
        out,
        "From the local benchmark (`{run}` run of {}; one workerd, so no geography):\n\n\
         | | model | measured locally |\n|---|---|---|\n\
         | Durable Object calls per validated request, strict | 1 | {} |\n\
         | Durable Object calls per validated request, regional | 1 | {} |\n\
         | Durable Object calls per validated request, edge | 0 | {} |\n\
         | key ring calls per forged key of an existing application, strict | 1 | {} |\n\
         | key ring calls per forged key of an existing application, regional | 0 | {} |",
        report["finished_at"].as_str().unwrap_or("?"),
        count("strict_repeated", "durable_object_calls_per_request"),
        count("regional_repeated", "durable_object_calls_per_request"),
        count("edge_repeated", "durable_object_calls_per_request"),
        count("strict_forged", "key_ring_calls_per_request"),
        count("regional_forged", "key_ring_calls_per_request"),
    );
    if let Some(fanout) = report["fanout"].as_array() {
        let _ = writeln!(
            out,
            "\nPush fan-out: the revoke API's latency against the number of replicas holding a lease\n\
             (locally every replica is in the same process, so this is the cost of the calls alone;\n\
             the model adds the inter-region latencies):\n\n| replicas | p50 ms | max ms |\n|---|---|---|"
        );
        for row in fanout {
            let _ = writeln!(
                out,
                "| {} | {} | {} |",
                row["replicas"], row["revoke_p50_ms"], row["revoke_max_ms"]
            );
        }
    }
}
