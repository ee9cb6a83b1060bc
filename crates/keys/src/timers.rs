//! Deadlines for a Durable Object's one alarm.
//!
//! A Durable Object has a single alarm, but several things want to wake it: a rotated
//! key's grace period ending, a failed KV write's retry, buffered usage counts to write
//! out, the daily clean-up, webhooks to send. Each is a named timer here; the alarm is set
//! for the earliest, and only rewritten when that moves earlier (the quinn-proto `TimerTable` pattern: pure, driven by `now`).

use crate::time::UnixMillis;

/// Everything that can wake a key ring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timer {
    /// The earliest end of a rotation grace period.
    GraceExpiry,
    /// The next retry of a KV write that failed.
    OutboxRetry,
    /// Usage counts buffered in memory must reach storage by then.
    UsageFlush,
    /// The daily clean-up: old audit entries, long-revoked keys.
    Retention,
    /// The next webhook message to send.
    Webhooks,
    /// The next reminder (a key expiring soon, a rotated key still in use) to send.
    Reminders,
}

impl Timer {
    pub const ALL: [Timer; 6] = [
        Timer::GraceExpiry,
        Timer::OutboxRetry,
        Timer::UsageFlush,
        Timer::Retention,
        Timer::Webhooks,
        Timer::Reminders,
    ];

    const fn index(self) -> usize {
        self as usize
    }
}

/// One optional deadline per [`Timer`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TimerTable {
    deadlines: [Option<UnixMillis>; Timer::ALL.len()],
}

impl TimerTable {
    pub fn set(&mut self, timer: Timer, deadline: Option<UnixMillis>) {
        self.deadlines[timer.index()] = deadline;
    }

    pub fn get(&self, timer: Timer) -> Option<UnixMillis> {
        self.deadlines[timer.index()]
    }

    /// The earliest deadline of all, for the alarm.
    pub fn next(&self) -> Option<UnixMillis> {
        self.deadlines.iter().flatten().min().copied()
    }

    /// The timers whose deadline has come.
    pub fn due(&self, now: UnixMillis) -> impl Iterator<Item = Timer> + '_ {
        Timer::ALL
            .into_iter()
            .filter(move |timer| self.get(*timer).is_some_and(|at| at <= now))
    }
}

/// What this instance knows of the Durable Object's alarm, so that it is only written
/// when it must move earlier.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Alarm {
    armed_at: Option<UnixMillis>,
}

impl Alarm {
    /// Given the earliest deadline, the time to set the alarm to, or `None` when the alarm
    /// already fires no later than that. An alarm that fires early is harmless: the object
    /// recomputes its deadlines and sets the next one.
    pub fn arm(&mut self, next: Option<UnixMillis>) -> Option<UnixMillis> {
        let next = next?;
        if self.armed_at.is_some_and(|armed| armed <= next) {
            return None;
        }
        self.armed_at = Some(next);
        Some(next)
    }

    /// The alarm fired (or this instance is new and cannot know): forget it.
    pub fn fired(&mut self) {
        self.armed_at = None;
    }

    /// Setting the alarm failed: it may not be set, so the next `arm` must try again.
    pub fn failed(&mut self) {
        self.armed_at = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_earliest_deadline_wins_and_due_timers_are_listed() {
        let mut table = TimerTable::default();
        assert_eq!(table.next(), None);
        table.set(Timer::GraceExpiry, Some(UnixMillis(9_000)));
        table.set(Timer::UsageFlush, Some(UnixMillis(5_000)));
        table.set(Timer::OutboxRetry, Some(UnixMillis(7_000)));
        assert_eq!(table.next(), Some(UnixMillis(5_000)));
        assert_eq!(table.due(UnixMillis(4_999)).count(), 0);
        let due: alloc::vec::Vec<_> = table.due(UnixMillis(7_000)).collect();
        assert_eq!(due, [Timer::OutboxRetry, Timer::UsageFlush]);
        table.set(Timer::UsageFlush, None);
        assert_eq!(table.next(), Some(UnixMillis(7_000)));
    }

    #[test]
    fn the_alarm_is_only_rewritten_when_it_must_move_earlier() {
        let mut alarm = Alarm::default();
        assert_eq!(alarm.arm(None), None);
        assert_eq!(alarm.arm(Some(UnixMillis(10))), Some(UnixMillis(10)));
        assert_eq!(alarm.arm(Some(UnixMillis(10))), None);
        assert_eq!(
            alarm.arm(Some(UnixMillis(20))),
            None,
            "later: the armed one fires first"
        );
        assert_eq!(alarm.arm(Some(UnixMillis(5))), Some(UnixMillis(5)));
        alarm.fired();
        assert_eq!(alarm.arm(Some(UnixMillis(20))), Some(UnixMillis(20)));
        alarm.failed();
        assert_eq!(alarm.arm(Some(UnixMillis(20))), Some(UnixMillis(20)));
    }

    proptest::proptest! {
        /// The table answers as a plain scan would: `next` is the smallest deadline and
        /// `due` lists exactly the timers at or before `now`, in their fixed order.
        #[test]
        fn the_table_agrees_with_a_scan(
            deadlines in proptest::collection::vec(proptest::option::of(0u64..1_000), 6),
            now in 0u64..1_000,
        ) {
            let mut table = TimerTable::default();
            for (timer, deadline) in Timer::ALL.into_iter().zip(&deadlines) {
                table.set(timer, deadline.map(UnixMillis));
            }
            let smallest = deadlines.iter().flatten().min().copied().map(UnixMillis);
            proptest::prop_assert_eq!(table.next(), smallest);
            let due: alloc::vec::Vec<Timer> = table.due(UnixMillis(now)).collect();
            let expected: alloc::vec::Vec<Timer> = Timer::ALL
                .into_iter()
                .zip(&deadlines)
                .filter(|(_, d)| d.is_some_and(|at| at <= now))
                .map(|(timer, _)| timer)
                .collect();
            proptest::prop_assert_eq!(due, expected);
        }

        /// No deadline is missed and no write is wasted: after any run of `arm`, `fired`
        /// and `failed`, the alarm is armed for the earliest deadline asked for since it
        /// last fired or failed, and `arm` wrote it exactly when that moved it earlier.
        #[test]
        fn the_alarm_is_always_armed_for_the_earliest_deadline_asked_for(
            steps in proptest::collection::vec(proptest::option::of(proptest::option::of(0u64..100)), 1..40),
        ) {
            let mut alarm = Alarm::default();
            let mut earliest: Option<u64> = None;
            for step in steps {
                match step {
                    // `None`: the alarm fired (or a write failed): nothing is armed.
                    None => {
                        alarm.fired();
                        earliest = None;
                    }
                    Some(next) => {
                        let written = alarm.arm(next.map(UnixMillis));
                        let moved = next.is_some_and(|n| earliest.is_none_or(|e| n < e));
                        proptest::prop_assert_eq!(written.is_some(), moved);
                        if moved {
                            proptest::prop_assert_eq!(written, next.map(UnixMillis));
                            earliest = next;
                        }
                    }
                }
                proptest::prop_assert_eq!(alarm.armed_at, earliest.map(UnixMillis));
            }
        }
    }
}
