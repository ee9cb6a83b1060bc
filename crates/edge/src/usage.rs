//! Usage counting for `edge` mode, where the gate never calls the Durable Object.
//!
//! Counts are batched per isolate and sent after a response has gone out
//! (`ctx.wait_until`), at most every few seconds, so recording usage adds no round trip to
//! any gated request. The trade-off: counts still buffered when an isolate is evicted are
//! lost. In `strict` mode the key ring counts usage itself during validation.

use std::cell::RefCell;
use std::collections::HashMap;

use aero2_keys::{ApplicationId, KeyId, UnixMillis};
use worker::{Context, Env};

use crate::protocol::{to_key_ring, RingCommand, UsageCount};

const FLUSH_AFTER_MS: u64 = 5_000;
const FLUSH_AFTER_REQUESTS: u32 = 500;

type Counts = HashMap<ApplicationId, HashMap<KeyId, (u32, UnixMillis)>>;

#[derive(Default)]
struct Batch {
    started_at: Option<UnixMillis>,
    requests: u32,
    counts: Counts,
}

thread_local! {
    static BATCH: RefCell<Batch> = RefCell::new(Batch::default());
}

pub fn count(ctx: &Context, env: &Env, application: ApplicationId, key_id: KeyId, now: UnixMillis) {
    let due = BATCH.with(|batch| {
        let mut batch = batch.borrow_mut();
        let entry = batch
            .counts
            .entry(application)
            .or_default()
            .entry(key_id)
            .or_insert((0, now));
        entry.0 = entry.0.saturating_add(1);
        entry.1 = entry.1.max(now);
        batch.requests = batch.requests.saturating_add(1);
        let started_at = *batch.started_at.get_or_insert(now);
        let due = batch.requests >= FLUSH_AFTER_REQUESTS || now.0 >= started_at.0 + FLUSH_AFTER_MS;
        due.then(|| std::mem::take(&mut *batch).counts)
    });
    if let Some(counts) = due {
        let env = env.clone();
        ctx.wait_until(async move {
            for (application, keys) in counts {
                let counts = keys
                    .into_iter()
                    .map(|(key_id, (requests, last_used_at))| UsageCount {
                        key_id,
                        requests,
                        last_used_at,
                    })
                    .collect();
                // Usage is best effort; a failure here must never affect a request.
                let _ = to_key_ring(&env, application, &RingCommand::RecordUsage { counts }).await;
            }
        });
    }
}
