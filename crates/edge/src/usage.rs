//! Usage counting for `edge` mode, where the gate never calls the Durable Object.
//!
//! Counts are batched per isolate by the core's [`UsageBatcher`] and sent to each
//! application's key ring after a response has gone out (`ctx.wait_until`), so recording
//! usage adds no round trip to any gated request. The trade-off: counts still buffered
//! when an isolate is evicted are lost. In `strict` mode the key ring counts usage itself.

use std::cell::RefCell;

use aero2_keys::usage::UsageBatcher;
use aero2_keys::{ApplicationId, KeyId, UnixMillis};
use worker::{Context, Env};

use crate::protocol::{to_key_ring, RingCommand};

thread_local! {
    /// At most every 5 seconds, or every 500 requests.
    static BATCH: RefCell<UsageBatcher> = const { RefCell::new(UsageBatcher::new(5_000, 500)) };
}

pub fn count(ctx: &Context, env: &Env, application: ApplicationId, key_id: KeyId, now: UnixMillis) {
    let due = BATCH.with(|batch| {
        let mut batch = batch.borrow_mut();
        batch
            .record(application, key_id, 1, now)
            .due
            .then(|| batch.take())
    });
    let Some(batch) = due else {
        return;
    };
    let env = env.clone();
    ctx.wait_until(async move {
        for (application, counts) in batch {
            // Usage is best effort; a failure here must never affect a request.
            let _ = to_key_ring(&env, application, &RingCommand::RecordUsage { counts }).await;
        }
    });
}
