//! What the gate sees that the audit log keeps: events that can repeat on every request,
//! the client that caused them, and the websites seen. Aggregated per key and hour by the
//! key ring, and coalesced before that by whoever saw them ([`crate::repeats`]).

use alloc::string::String;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use crate::repeats::Observation;

/// Events that can repeat on every request; the audit log keeps one entry per key and
/// hour for each. Nothing the client chooses is part of the event (an origin goes into
/// [`Observed`]), so that repeats can be coalesced whatever the client sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyEvent {
    /// A secret key, refused because a browser sent it.
    SecretInBrowser,
    /// A publishable key used from a website its policy does not list (`report` mode).
    OriginNotAllowed,
    /// A request refused by the key's rate limit.
    RateLimited,
}

impl KeyEvent {
    pub const ALL: [KeyEvent; 3] = [
        KeyEvent::SecretInBrowser,
        KeyEvent::OriginNotAllowed,
        KeyEvent::RateLimited,
    ];

    /// The name on the wire (`secret_in_browser`, …).
    pub const fn as_str(self) -> &'static str {
        match self {
            KeyEvent::SecretInBrowser => "secret_in_browser",
            KeyEvent::OriginNotAllowed => "origin_not_allowed",
            KeyEvent::RateLimited => "rate_limited",
        }
    }

    const fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// The events one request gave rise to (at most one of each).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EventSet(u8);

impl EventSet {
    pub fn add(&mut self, event: KeyEvent) {
        self.0 |= event.bit();
    }

    pub fn contains(self, event: KeyEvent) -> bool {
        self.0 & event.bit() != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = KeyEvent> {
        KeyEvent::ALL.into_iter().filter(move |e| self.contains(*e))
    }
}

/// Who is calling, as far as the audit log is concerned.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientInfo {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl ClientInfo {
    pub const MAX_USER_AGENT: usize = 256;
    pub const MAX_IP: usize = 64;

    /// From the headers the platform and the client sent, cut to size before anything
    /// keeps them.
    pub fn new(ip: Option<&str>, user_agent: Option<&str>) -> Self {
        ClientInfo {
            ip: ip.map(|ip| truncate(ip, Self::MAX_IP)),
            user_agent: user_agent.map(|ua| truncate(ua, Self::MAX_USER_AGENT)),
        }
    }
}

/// Cuts client-supplied text (user agents, reported URLs, origins) to at most `max_chars`
/// characters before it is stored.
pub fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((index, _)) => String::from(&text[..index]),
        None => String::from(text),
    }
}

/// What was seen of an event's occurrences: the last client, and the distinct origins
/// (at most [`Observed::MAX_ORIGINS`], each cut to [`Observed::MAX_ORIGIN_CHARS`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observed {
    pub client: ClientInfo,
    pub origins: Vec<String>,
}

impl Observed {
    /// Distinct origins listed, at most: the list is for people.
    pub const MAX_ORIGINS: usize = 10;
    pub const MAX_ORIGIN_CHARS: usize = 256;

    pub fn new(client: ClientInfo, origin: Option<&str>) -> Self {
        let mut observed = Observed {
            client,
            origins: Vec::new(),
        };
        observed.add_origins(origin.into_iter().map(String::from));
        observed
    }

    /// Adds origins not listed yet, while there is room.
    pub fn add_origins(&mut self, origins: impl IntoIterator<Item = String>) {
        for origin in origins {
            if self.origins.len() >= Self::MAX_ORIGINS {
                return;
            }
            let origin = truncate(&origin, Self::MAX_ORIGIN_CHARS);
            if !self.origins.contains(&origin) {
                self.origins.push(origin);
            }
        }
    }
}

impl Observation for Observed {
    fn merge(&mut self, later: Self) {
        self.client = later.client;
        self.add_origins(later.origins);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_keep_the_last_client_and_at_most_ten_short_origins() {
        let mut seen = Observed::new(ClientInfo::new(Some("10.0.0.1"), None), Some("https://a"));
        for i in 0..20 {
            let origin = alloc::format!("https://{i}{}", "x".repeat(300));
            seen.merge(Observed::new(
                ClientInfo::new(Some("10.0.0.2"), Some("ua")),
                Some(&origin),
            ));
        }
        assert_eq!(seen.client.ip.as_deref(), Some("10.0.0.2"));
        assert_eq!(seen.origins.len(), Observed::MAX_ORIGINS);
        assert!(seen
            .origins
            .iter()
            .all(|o| o.chars().count() <= Observed::MAX_ORIGIN_CHARS));
        let long = "é".repeat(400);
        assert_eq!(
            ClientInfo::new(None, Some(&long))
                .user_agent
                .unwrap()
                .chars()
                .count(),
            256
        );
    }

    #[test]
    fn event_sets_hold_each_event_once() {
        let mut set = EventSet::default();
        assert!(set.is_empty());
        set.add(KeyEvent::RateLimited);
        set.add(KeyEvent::OriginNotAllowed);
        set.add(KeyEvent::RateLimited);
        assert_eq!(
            set.iter().collect::<Vec<_>>(),
            [KeyEvent::OriginNotAllowed, KeyEvent::RateLimited]
        );
    }
}
