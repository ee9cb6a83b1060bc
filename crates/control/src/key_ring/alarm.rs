//! The key ring's one alarm: every deadline it has (grace expiry, KV retries, usage flush,
//! retention, webhook deliveries and reminders) merged by the core's `TimerTable`, and what
//! runs when it fires.

use aero2_keys::timers::{Timer, TimerTable};
use aero2_keys::UnixMillis;
use worker::ScheduledTime;

use super::KeyRingObject;
use crate::clock::now;
use crate::errors::ApiResult;

impl KeyRingObject {
    /// Every deadline the key ring has, from the state it is in.
    pub(super) fn timers(&self, now: UnixMillis) -> TimerTable {
        let mut table = TimerTable::default();
        if let Some(loaded) = self.loaded.borrow().as_ref() {
            table.set(Timer::GraceExpiry, loaded.ring.next_expiry());
            table.set(Timer::OutboxRetry, loaded.outbox.next_attempt());
            table.set(Timer::Retention, Some(loaded.retention_next_at));
            table.set(Timer::Webhooks, loaded.webhooks.next_attempt_at);
            table.set(Timer::Reminders, self.next_reminder(loaded, now));
        }
        // Counted usage and counted repeats of events reach storage on the same timer.
        let usage = self.usage.borrow().deadline();
        let repeats = self.repeats.borrow().deadline();
        table.set(Timer::UsageFlush, usage.into_iter().chain(repeats).min());
        table
    }

    /// Sets the alarm for the earliest deadline, unless it is already set no later. It reads the clock itself
    /// rather than take the request's `now`: after the awaits that came before, that instant
    /// may be in the past, and an alarm must never be.
    pub(super) async fn schedule(&self) -> ApiResult<()> {
        let mut alarm = self.alarm.get();
        // Never in the past: an alarm handler that sets the alarm to the very time it was
        // woken for finds it deleted when it returns (workerd takes it for the alarm that
        // just ran). Found by the webhook tests: deliveries stopped after a few retries.
        let now = now();
        let earliest = UnixMillis(now.0 + 1);
        let next = self.timers(now).next().map(|at| at.max(earliest));
        let Some(when) = alarm.arm(next) else {
            return Ok(());
        };
        self.alarm.set(alarm);
        let at = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(when.0 as f64));
        if let Err(err) = self.state.storage().set_alarm(ScheduledTime::new(at)).await {
            let mut alarm = self.alarm.get();
            alarm.failed();
            self.alarm.set(alarm);
            return Err(err.into());
        }
        Ok(())
    }

    /// Persisted changes go to the regional replicas and to KV, then the alarm is set for
    /// whatever remains. KV failures do not fail the operation: the outbox keeps the
    /// change and the alarm retries it. Returns the regional receipt: from when every
    /// replica answers with the change.
    pub(super) async fn after_change(&self, now: UnixMillis) -> ApiResult<UnixMillis> {
        let receipt = self.push_to_replicas(now).await?;
        self.flush_kv().await?;
        self.schedule().await?;
        Ok(receipt)
    }

    pub(super) async fn run_alarm(&self, now: UnixMillis) -> ApiResult<()> {
        if !self.application_exists()? {
            return Ok(());
        }
        let due: Vec<Timer> = self.timers(now).due(now).collect();
        for timer in due {
            match timer {
                Timer::GraceExpiry => self.expire_due(now)?,
                Timer::UsageFlush => {
                    self.flush_usage(now)?;
                    self.flush_repeats(now)?;
                }
                Timer::Retention => self.run_retention(now)?,
                Timer::Reminders => self.send_reminders(None, now)?,
                // Sent below, with whatever the expiries queued.
                Timer::OutboxRetry | Timer::Webhooks => {}
            }
        }
        self.after_change(now).await?;
        // Last: what the steps above queued goes out in this run too.
        self.deliver_webhooks(now).await?;
        self.schedule().await
    }
}
