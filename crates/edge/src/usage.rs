//! What the gate reports to key rings in `edge` and `regional` mode, where it makes the
//! decisions itself: usage counts, and the events that can repeat on every request
//! (rate-limited, secret key from a browser, unlisted website in report mode).
//!
//! Both are batched per isolate by the core ([`UsageBatcher`], [`Repeats`]) and sent to
//! each application's key ring after a response has gone out (`ctx.wait_until`), so they
//! add no round trip to any gated request, and a flood of refused requests does not
//! become a flood of Durable Object calls. The trade-off: counts still buffered when an
//! isolate is evicted are lost. In `strict` mode the key ring counts both itself.

use std::cell::RefCell;

use aero2_keys::repeats::{Repeats, Seen};
use aero2_keys::usage::UsageBatcher;
use aero2_keys::{ApplicationId, KeyId, UnixMillis};
use std::time::Duration;
use worker::{Context, Delay, Env};

use crate::protocol::{to_key_ring, KeyEvent, Observed, RingCommand, SeenEvent};

/// Repeats of one event with one key are sent at most this often, as one count.
pub const EVENT_WINDOW_MS: u64 = 10_000;
/// Events held per isolate, at most; past that, each is sent on its own.
pub const MAX_HELD_EVENTS: usize = 1_000;

type EventKey = (ApplicationId, KeyId, KeyEvent);

thread_local! {
    /// At most every 5 seconds, or every 500 requests.
    static BATCH: RefCell<UsageBatcher> = const { RefCell::new(UsageBatcher::new(5_000, 500)) };
    static EVENTS: RefCell<Repeats<EventKey, Observed>> =
        const { RefCell::new(Repeats::new(EVENT_WINDOW_MS, MAX_HELD_EVENTS)) };
}

/// An event the gate saw: the first of its window is sent now, repeats later as a count.
/// When a window starts holding repeats, this request also waits (after its response) for
/// the window's end and sends them, so a burst's count arrives even if no request follows.
pub fn event(
    ctx: &Context,
    env: &Env,
    (application, key_id): (ApplicationId, KeyId),
    event: KeyEvent,
    observed: Observed,
    now: UnixMillis,
) {
    let recorded = EVENTS.with(|events| {
        events
            .borrow_mut()
            .record((application, key_id, event), observed, now)
    });
    if !recorded.send.is_empty() || recorded.look_again_at.is_some() {
        ctx.wait_until(report(env.clone(), recorded.send, recorded.look_again_at));
    }
}

/// Sends the counted repeats whose window is over; one comparison when none is.
pub fn flush_events(ctx: &Context, env: &Env, now: UnixMillis) {
    let due = EVENTS.with(|events| events.borrow_mut().take_due(now));
    if !due.is_empty() {
        ctx.wait_until(report(env.clone(), due, None));
    }
}

/// Sends `due`, then, if asked, waits for a window's end to send what it held. (One
/// future for both callers: each `wait_until` future is a state machine in the bundle.)
async fn report(env: Env, due: Vec<Seen<EventKey, Observed>>, wake_at: Option<UnixMillis>) {
    send_events(&env, due).await;
    if let Some(at) = wake_at {
        // Until the window's end by this isolate's clock: a timer may fire early.
        while crate::clock::now() < at {
            let wait = at.0.saturating_sub(crate::clock::now().0).max(1);
            Delay::from(Duration::from_millis(wait)).await;
        }
        let due = EVENTS.with(|events| events.borrow_mut().take_due(crate::clock::now()));
        send_events(&env, due).await;
    }
}

async fn send_events(env: &Env, due: Vec<Seen<EventKey, Observed>>) {
    let mut by_application: Vec<(ApplicationId, Vec<SeenEvent>)> = Vec::new();
    for seen in due {
        let (application, key_id, event) = seen.event;
        let one = SeenEvent {
            key_id,
            event,
            count: seen.count,
            last_at: seen.last_at,
            observed: seen.client,
        };
        match by_application
            .iter_mut()
            .find(|(app, _)| *app == application)
        {
            Some((_, events)) => events.push(one),
            None => by_application.push((application, vec![one])),
        }
    }
    for (application, events) in by_application {
        // Best effort, like usage: a failure here must never affect a request.
        let _ = to_key_ring(env, application, &RingCommand::RecordEvents { events }).await;
    }
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
