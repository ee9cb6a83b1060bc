//! Webhooks: key events delivered to an application's own endpoints, signed in the
//! Standard Webhooks format (standardwebhooks.com) and retried until they are delivered.
//!
//! The pure parts live here, each driven by its inputs alone:
//! - [`EventType`]: the events there are, and their names on the wire;
//! - [`endpoint`]: which URLs an endpoint may have, and the other limits of a request;
//! - [`signing`]: endpoint secrets (derived, never stored) and the signature header;
//! - [`delivery`]: when a failed delivery is tried again, and when an endpoint that keeps
//!   failing is disabled;
//! - [`reminders`]: when `key.expiring_soon` and `key.grace_period_in_use` fall due.

pub mod delivery;
pub mod endpoint;
pub mod reminders;
pub mod signing;

use core::fmt;

use serde::{Deserialize, Serialize};

/// Every event a webhook endpoint can receive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventType {
    KeyCreated,
    KeyUpdated,
    KeyRotated,
    KeyRevoked,
    /// A grace period or a key's own `expires_at` ended.
    KeyExpired,
    KeySuspended,
    KeyResumed,
    /// A secret scanner found the key in public.
    KeyLeaked,
    /// A browser sent a secret key (at most one per key and hour).
    KeySecretInBrowser,
    /// The old key of a rotation is still in use: when first seen, and again before the
    /// grace period ends.
    KeyGracePeriodInUse,
    /// 7 days, then 1 day, before a key's `expires_at`.
    KeyExpiringSoon,
    /// Requests past a key's rate limit (at most one per key and hour).
    KeyRateLimited,
    /// A publishable key used from a website its policy does not list (at most one per
    /// key and hour).
    KeyOriginNotAllowed,
    /// A canary key was used: proof of a breach. The first use of each hour is sent at
    /// once; the keys the canary names are suspended.
    KeyCanaryUsed,
    /// A secret scanner found a canary key in public: recorded, nothing changed.
    KeyCanaryLeaked,
    /// A secret key sent outside `Authorization` (a cookie, the query, the path, another
    /// header), where logs and caches keep it (at most one per key and hour).
    KeySecretOutsideAuthorization,
    /// Sent on request to check an endpoint; every endpoint receives it.
    WebhookTest,
}

impl EventType {
    pub const ALL: [EventType; 17] = [
        EventType::KeyCreated,
        EventType::KeyUpdated,
        EventType::KeyRotated,
        EventType::KeyRevoked,
        EventType::KeyExpired,
        EventType::KeySuspended,
        EventType::KeyResumed,
        EventType::KeyLeaked,
        EventType::KeySecretInBrowser,
        EventType::KeyGracePeriodInUse,
        EventType::KeyExpiringSoon,
        EventType::KeyRateLimited,
        EventType::KeyOriginNotAllowed,
        EventType::KeyCanaryUsed,
        EventType::KeyCanaryLeaked,
        EventType::KeySecretOutsideAuthorization,
        EventType::WebhookTest,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            EventType::KeyCreated => "key.created",
            EventType::KeyUpdated => "key.updated",
            EventType::KeyRotated => "key.rotated",
            EventType::KeyRevoked => "key.revoked",
            EventType::KeyExpired => "key.expired",
            EventType::KeySuspended => "key.suspended",
            EventType::KeyResumed => "key.resumed",
            EventType::KeyLeaked => "key.leaked",
            EventType::KeySecretInBrowser => "key.secret_in_browser",
            EventType::KeyGracePeriodInUse => "key.grace_period_in_use",
            EventType::KeyExpiringSoon => "key.expiring_soon",
            EventType::KeyRateLimited => "key.rate_limited",
            EventType::KeyOriginNotAllowed => "key.origin_not_allowed",
            EventType::KeyCanaryUsed => "key.canary_used",
            EventType::KeyCanaryLeaked => "key.canary_leaked",
            EventType::KeySecretOutsideAuthorization => "key.secret_outside_authorization",
            EventType::WebhookTest => "webhook.test",
        }
    }

    pub fn parse(name: &str) -> Option<EventType> {
        EventType::ALL
            .into_iter()
            .find(|event| event.name() == name)
    }

    /// Whether an endpoint can choose this event (`webhook.test` always comes).
    pub const fn is_subscribable(self) -> bool {
        !matches!(self, EventType::WebhookTest)
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for EventType {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for EventType {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = <alloc::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        EventType::parse(&name).ok_or_else(|| {
            serde::de::Error::custom("an event type listed in /openapi.json (WebhookEventType)")
        })
    }
}

/// The events an endpoint receives: a set of [`EventType`]s, kept as bits so that the
/// check on every event is one AND.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EventSet(u32);

impl EventSet {
    /// Every event there is, including those added later: an endpoint created without a
    /// list receives them all.
    pub const ALL: EventSet = EventSet(u32::MAX);

    pub fn with(self, event: EventType) -> EventSet {
        EventSet(self.0 | 1 << event as u32)
    }

    pub fn contains(self, event: EventType) -> bool {
        event == EventType::WebhookTest || self.0 & (1 << event as u32) != 0
    }

    pub fn is_all(self) -> bool {
        self == EventSet::ALL
    }

    /// The listed events, in a stable order (empty for [`EventSet::ALL`]).
    pub fn events(self) -> impl Iterator<Item = EventType> {
        EventType::ALL
            .into_iter()
            .filter(move |event| !self.is_all() && event.is_subscribable() && self.contains(*event))
    }
}

impl FromIterator<EventType> for EventSet {
    fn from_iter<I: IntoIterator<Item = EventType>>(events: I) -> Self {
        events.into_iter().fold(EventSet::default(), EventSet::with)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        let mut names: alloc::vec::Vec<&str> = EventType::ALL.iter().map(|e| e.name()).collect();
        for event in EventType::ALL {
            assert_eq!(EventType::parse(event.name()), Some(event));
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), EventType::ALL.len());
        assert_eq!(EventType::parse("key.Created"), None);
        assert_eq!(EventType::parse("key.created "), None);
    }

    #[test]
    fn an_event_set_holds_what_was_chosen_and_the_test_event_always() {
        let set: EventSet = [EventType::KeyRevoked, EventType::KeyLeaked]
            .into_iter()
            .collect();
        assert!(set.contains(EventType::KeyRevoked));
        assert!(set.contains(EventType::KeyLeaked));
        assert!(!set.contains(EventType::KeyCreated));
        assert!(set.contains(EventType::WebhookTest));
        assert_eq!(
            set.events().collect::<alloc::vec::Vec<_>>(),
            [EventType::KeyRevoked, EventType::KeyLeaked]
        );
        assert!(EventSet::ALL.contains(EventType::KeyExpiringSoon));
        assert_eq!(EventSet::ALL.events().count(), 0);
        assert!(!EventSet::default().contains(EventType::KeyCreated));
    }
}
