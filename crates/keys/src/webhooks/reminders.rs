//! Reminders: events that fall due with time or use rather than with an operation.
//!
//! - `key.expiring_soon`, 7 days and then 1 day before a key's `expires_at`. A key whose
//!   expiry is already closer than a threshold when it is set gets the reminder of the
//!   nearest threshold at once, and only that one.
//! - `key.grace_period_in_use`: the old key of a rotation is still being used. Sent the
//!   first time it is used after the rotation, and again `grace_warning` (an hour) before
//!   the grace period ends if it has been used in the hour before that moment, or is used
//!   after it. That is when a team must finish its rollout.
//!
//! Each reminder is sent at most once for a given instant (the expiry or the end of the
//! grace period it is about): the caller records what was sent, and the functions here are
//! told through `sent`. Changing a key's expiry makes new reminders possible.

use alloc::vec::Vec;

use crate::lifecycle::{KeyRecord, KeyStatus};
use crate::time::UnixMillis;

const DAY_MS: u64 = 24 * 60 * 60 * 1000;

/// Which reminder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reminder {
    GraceFirstUse,
    GraceEnding,
    ExpiringInDays7,
    ExpiringInDays1,
}

impl Reminder {
    pub const ALL: [Reminder; 4] = [
        Reminder::GraceFirstUse,
        Reminder::GraceEnding,
        Reminder::ExpiringInDays7,
        Reminder::ExpiringInDays1,
    ];

    /// The name kept in storage and sent in the payload (`reminder`).
    pub const fn name(self) -> &'static str {
        match self {
            Reminder::GraceFirstUse => "first_use",
            Reminder::GraceEnding => "grace_period_ending",
            Reminder::ExpiringInDays7 => "7_days",
            Reminder::ExpiringInDays1 => "1_day",
        }
    }

    pub fn parse(name: &str) -> Option<Reminder> {
        Reminder::ALL.into_iter().find(|r| r.name() == name)
    }

    pub const fn is_grace(self) -> bool {
        matches!(self, Reminder::GraceFirstUse | Reminder::GraceEnding)
    }
}

/// How long before the end of a grace period `GraceEnding` falls due.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReminderSettings {
    pub grace_warning_ms: u64,
}

impl ReminderSettings {
    pub const DEFAULT: ReminderSettings = ReminderSettings {
        grace_warning_ms: 60 * 60 * 1000,
    };
}

/// One reminder about one instant (`for_at`: the expiry or the grace period's end).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Due {
    pub reminder: Reminder,
    pub for_at: UnixMillis,
}

/// What the reminders need to know about a key.
#[derive(Clone, Copy, Debug)]
pub struct KeyFacts<'a> {
    pub record: &'a KeyRecord,
    /// When the key last authenticated.
    pub last_used: Option<UnixMillis>,
    /// For a key in a grace period: when it was rotated (its successor's creation).
    pub rotated_at: Option<UnixMillis>,
}

/// The reminders of a key not yet sent that can still fall due, each with the instant it
/// does (at or before `now`: due now).
pub fn pending(
    key: KeyFacts<'_>,
    now: UnixMillis,
    settings: ReminderSettings,
    sent: impl Fn(Due) -> bool,
) -> Vec<(Due, UnixMillis)> {
    let mut out = Vec::new();
    let record = key.record;
    if record.status.is_revoked() {
        return out;
    }
    if let Some(expiry) = record.policy.expires_at.filter(|at| now < *at) {
        let due = |reminder| Due {
            reminder,
            for_at: expiry,
        };
        let day1 = due(Reminder::ExpiringInDays1);
        let day7 = due(Reminder::ExpiringInDays7);
        let at1 = UnixMillis(expiry.0.saturating_sub(DAY_MS));
        let at7 = UnixMillis(expiry.0.saturating_sub(7 * DAY_MS));
        if !sent(day1) {
            if now >= at1 {
                // Past both thresholds: the nearest one only.
                out.push((day1, now));
            } else {
                if !sent(day7) {
                    out.push((day7, at7));
                }
                out.push((day1, at1));
            }
        }
    }
    if let KeyStatus::Expiring { expires_at: end } = record.status {
        if now < end {
            let ending = Due {
                reminder: Reminder::GraceEnding,
                for_at: end,
            };
            let moment = UnixMillis(end.0.saturating_sub(settings.grace_warning_ms));
            let rotated = key.rotated_at.unwrap_or(UnixMillis(0));
            // "In use": used after the rotation, and no earlier than one warning period
            // before the moment.
            let in_use_since = UnixMillis(moment.0.saturating_sub(settings.grace_warning_ms));
            let in_use = key
                .last_used
                .is_some_and(|used| used >= rotated && used >= in_use_since);
            if !sent(ending) {
                if moment > now {
                    out.push((ending, moment));
                } else if in_use {
                    out.push((ending, now));
                }
            }
        }
    }
    out
}

/// The reminders due at `now`.
pub fn due(
    key: KeyFacts<'_>,
    now: UnixMillis,
    settings: ReminderSettings,
    sent: impl Fn(Due) -> bool,
) -> Vec<Due> {
    pending(key, now, settings, sent)
        .into_iter()
        .filter(|(_, at)| *at <= now)
        .map(|(due, _)| due)
        .collect()
}

/// The next instant a reminder of this key falls due, for the alarm.
pub fn next_at(
    key: KeyFacts<'_>,
    now: UnixMillis,
    settings: ReminderSettings,
    sent: impl Fn(Due) -> bool,
) -> Option<UnixMillis> {
    pending(key, now, settings, sent)
        .into_iter()
        .map(|(_, at)| at)
        .min()
}

/// The reminder a use of a key in its grace period calls for: the first use after the
/// rotation, unless the grace period is already ending (then `GraceEnding`, from
/// [`due`]).
pub fn on_use(
    key: KeyFacts<'_>,
    used_at: UnixMillis,
    settings: ReminderSettings,
    sent: impl Fn(Due) -> bool,
) -> Option<Due> {
    let KeyStatus::Expiring { expires_at: end } = key.record.status else {
        return None;
    };
    if used_at >= end || key.rotated_at.is_some_and(|rotated| used_at < rotated) {
        return None;
    }
    let first = Due {
        reminder: Reminder::GraceFirstUse,
        for_at: end,
    };
    let ending_moment = UnixMillis(end.0.saturating_sub(settings.grace_warning_ms));
    (!sent(first) && used_at < ending_moment).then_some(first)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{ApiKey, ApplicationId, Environment, KeyId, KeyKind};
    use crate::lifecycle::RevocationReason;
    use crate::policy::Policy;
    use std::collections::HashSet;

    const NOW: UnixMillis = UnixMillis(1_800_000_000_000);
    const HOUR: u64 = 60 * 60 * 1000;

    struct Zero;
    impl crate::random::RandomSource for Zero {
        fn fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), crate::random::RandomError> {
            dest.fill(1);
            Ok(())
        }
    }

    fn record(expires_at: Option<UnixMillis>, status: KeyStatus) -> KeyRecord {
        let app = ApplicationId::parse("app_AAAAAAAAAAAAAAAA").unwrap();
        let key = ApiKey::generate(KeyKind::Secret, Environment::Live, app, &mut Zero).unwrap();
        KeyRecord {
            id: KeyId::parse("key_AAAAAAAAAAAAAAAA").unwrap(),
            kind: KeyKind::Secret,
            label: "l".into(),
            hint: key.hint(),
            storage_id: key.storage_id(),
            created_at: UnixMillis(NOW.0 - 30 * DAY_MS),
            status,
            rotated_from: None,
            policy: Policy {
                expires_at,
                ..Policy::default()
            },
            suspended_at: None,
            canary: false,
            canary_suspends: alloc::vec::Vec::new(),
        }
    }

    fn facts(record: &KeyRecord) -> KeyFacts<'_> {
        KeyFacts {
            record,
            last_used: None,
            rotated_at: None,
        }
    }

    const S: ReminderSettings = ReminderSettings::DEFAULT;

    #[test]
    fn expiry_reminders_fall_due_seven_days_then_one_day_before_to_the_millisecond() {
        let expiry = UnixMillis(NOW.0 + 10 * DAY_MS);
        let key = record(Some(expiry), KeyStatus::Active);
        let mut sent = HashSet::new();
        let at7 = UnixMillis(expiry.0 - 7 * DAY_MS);
        assert_eq!(
            next_at(facts(&key), NOW, S, |d| sent.contains(&d)),
            Some(at7)
        );
        assert!(due(facts(&key), UnixMillis(at7.0 - 1), S, |d| sent.contains(&d)).is_empty());
        let seven = due(facts(&key), at7, S, |d| sent.contains(&d));
        assert_eq!(
            seven,
            [Due {
                reminder: Reminder::ExpiringInDays7,
                for_at: expiry
            }]
        );
        sent.insert(seven[0]);
        let at1 = UnixMillis(expiry.0 - DAY_MS);
        assert_eq!(
            next_at(facts(&key), at7, S, |d| sent.contains(&d)),
            Some(at1)
        );
        assert!(due(facts(&key), UnixMillis(at1.0 - 1), S, |d| sent.contains(&d)).is_empty());
        let one = due(facts(&key), at1, S, |d| sent.contains(&d));
        assert_eq!(one[0].reminder, Reminder::ExpiringInDays1);
        sent.insert(one[0]);
        assert_eq!(next_at(facts(&key), at1, S, |d| sent.contains(&d)), None);
    }

    #[test]
    fn an_expiry_closer_than_both_thresholds_gets_the_nearest_reminder_only_and_at_once() {
        let expiry = UnixMillis(NOW.0 + 5 * HOUR);
        let key = record(Some(expiry), KeyStatus::Active);
        let now_due = due(facts(&key), NOW, S, |_| false);
        assert_eq!(
            now_due,
            [Due {
                reminder: Reminder::ExpiringInDays1,
                for_at: expiry
            }]
        );
        assert_eq!(next_at(facts(&key), NOW, S, |_| false), Some(NOW));
        // Between the thresholds: the 7-day reminder at once, the 1-day one on time.
        let expiry = UnixMillis(NOW.0 + 3 * DAY_MS);
        let key = record(Some(expiry), KeyStatus::Active);
        assert_eq!(
            due(facts(&key), NOW, S, |_| false)[0].reminder,
            Reminder::ExpiringInDays7
        );
        // A changed expiry is a new instant: its reminders can be sent again.
        let sent_for_old = |d: Due| d.for_at == UnixMillis(0);
        assert!(!due(facts(&key), NOW, S, sent_for_old).is_empty());
    }

    #[test]
    fn no_reminders_for_revoked_or_past_keys() {
        let expiry = UnixMillis(NOW.0 + HOUR);
        let revoked = record(
            Some(expiry),
            KeyStatus::Revoked {
                revoked_at: NOW,
                reason: RevocationReason::Revoked,
            },
        );
        assert!(pending(facts(&revoked), NOW, S, |_| false).is_empty());
        let active = record(Some(expiry), KeyStatus::Active);
        assert!(pending(facts(&active), expiry, S, |_| false).is_empty());
    }

    #[test]
    fn a_rotated_key_is_reminded_when_first_used_and_when_its_grace_period_is_ending_in_use() {
        let rotated_at = NOW;
        let end = UnixMillis(NOW.0 + 24 * HOUR);
        let key = record(None, KeyStatus::Expiring { expires_at: end });
        let first = Due {
            reminder: Reminder::GraceFirstUse,
            for_at: end,
        };
        let in_grace = |last_used| KeyFacts {
            record: &key,
            last_used,
            rotated_at: Some(rotated_at),
        };
        // A use from before the rotation (a late usage batch) is not "still in use".
        assert_eq!(
            on_use(in_grace(None), UnixMillis(NOW.0 - 1), S, |_| false),
            None
        );
        assert_eq!(on_use(in_grace(None), NOW, S, |_| false), Some(first));
        assert_eq!(on_use(in_grace(None), NOW, S, |d| d == first), None);
        // The ending reminder: due at end - 1 h, if used within the hour before that.
        let moment = UnixMillis(end.0 - HOUR);
        assert_eq!(next_at(in_grace(None), NOW, S, |_| false), Some(moment));
        let used_recently = Some(UnixMillis(moment.0 - HOUR));
        let ending = due(in_grace(used_recently), moment, S, |_| false);
        assert_eq!(ending[0].reminder, Reminder::GraceEnding);
        let used_long_ago = Some(UnixMillis(moment.0 - HOUR - 1));
        assert!(due(in_grace(used_long_ago), moment, S, |_| false).is_empty());
        assert_eq!(
            next_at(in_grace(used_long_ago), moment, S, |_| false),
            None,
            "nothing to wake for until it is used again"
        );
        // Used after the moment: due then.
        let late_use = UnixMillis(moment.0 + 10);
        assert_eq!(
            due(in_grace(Some(late_use)), late_use, S, |_| false)[0].reminder,
            Reminder::GraceEnding
        );
        // A first use after the moment is the ending reminder, not the first-use one.
        assert_eq!(on_use(in_grace(None), late_use, S, |_| false), None);
        // Never at or after the end.
        assert!(due(in_grace(Some(end)), end, S, |_| false).is_empty());
    }

    #[test]
    fn names_round_trip() {
        for reminder in Reminder::ALL {
            assert_eq!(Reminder::parse(reminder.name()), Some(reminder));
        }
    }
}
