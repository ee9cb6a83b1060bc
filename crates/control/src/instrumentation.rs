//! Counters for the tests and the benchmark, compiled only into the fault-injection build:
//! how many KV reads and Durable Object calls the control plane makes itself (a replica's
//! calls to its key ring, the management API's KV reads), counted rather than assumed.
//! `GET /__instrumentation` returns them, and the gate's test build adds its own; the
//! release bundle has neither.

use core::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;
use worker::Response;

use crate::json::json_response;

static KV_READS: AtomicU64 = AtomicU64::new(0);
static DURABLE_OBJECT_CALLS: AtomicU64 = AtomicU64::new(0);
static KEY_RING_CALLS: AtomicU64 = AtomicU64::new(0);
static REPLICA_CALLS: AtomicU64 = AtomicU64::new(0);

pub fn kv_read() {
    KV_READS.fetch_add(1, Ordering::Relaxed);
}

/// A call to an application's key ring (from the gate, or from a replica).
pub fn key_ring_call() {
    DURABLE_OBJECT_CALLS.fetch_add(1, Ordering::Relaxed);
    KEY_RING_CALLS.fetch_add(1, Ordering::Relaxed);
}

/// A call to a regional validation replica.
pub fn replica_call() {
    DURABLE_OBJECT_CALLS.fetch_add(1, Ordering::Relaxed);
    REPLICA_CALLS.fetch_add(1, Ordering::Relaxed);
}

#[derive(Serialize)]
struct Counters {
    kv_reads: u64,
    durable_object_calls: u64,
    key_ring_calls: u64,
    replica_calls: u64,
}

pub fn report() -> Response {
    json_response(
        200,
        &Counters {
            kv_reads: KV_READS.load(Ordering::Relaxed),
            durable_object_calls: DURABLE_OBJECT_CALLS.load(Ordering::Relaxed),
            key_ring_calls: KEY_RING_CALLS.load(Ordering::Relaxed),
            replica_calls: REPLICA_CALLS.load(Ordering::Relaxed),
        },
    )
}
