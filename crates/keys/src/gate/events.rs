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
    /// A canary key was used: proof that it was stolen. Refused as an unknown key.
    CanaryUsed,
    /// A secret key sent outside `Authorization` (a cookie, the query, the path, another
    /// header), where logs and caches keep it: refused with 400, and recorded against it.
    SecretOutsideAuthorization,
}

impl KeyEvent {
    pub const ALL: [KeyEvent; 5] = [
        KeyEvent::SecretInBrowser,
        KeyEvent::OriginNotAllowed,
        KeyEvent::RateLimited,
        KeyEvent::CanaryUsed,
        KeyEvent::SecretOutsideAuthorization,
    ];

    /// The name on the wire (`secret_in_browser`, …).
    pub const fn as_str(self) -> &'static str {
        match self {
            KeyEvent::SecretInBrowser => "secret_in_browser",
            KeyEvent::OriginNotAllowed => "origin_not_allowed",
            KeyEvent::RateLimited => "rate_limited",
            KeyEvent::CanaryUsed => "canary_used",
            KeyEvent::SecretOutsideAuthorization => "secret_outside_authorization",
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

/// The request behind an event, as its host saw it. [`observe`] keeps of it only what
/// the event needs.
#[derive(Clone, Copy, Debug)]
pub struct SeenRequest<'a> {
    /// The address and user agent, whoever sent the request.
    pub client: &'a ClientInfo,
    pub from_browser: bool,
    /// `Origin`, or the origin of `Referer`.
    pub origin: Option<&'a str>,
    pub method: &'a str,
    pub path: &'a str,
    /// `request.cf`'s country, where the platform gives one.
    pub country: Option<&'a str>,
}

/// The longest request line (`METHOD /path`) an event keeps.
pub const MAX_REQUEST_CHARS: usize = 256;

/// What an event keeps of its request, and nothing more: the client only when it
/// matters (a browser or a page sent the request, or a canary's thief); the website only
/// for `origin_not_allowed`; the method, path and location only for `canary_used`, whose
/// every detail is evidence.
pub fn observe(event: KeyEvent, seen: &SeenRequest<'_>) -> Observed {
    let canary = event == KeyEvent::CanaryUsed;
    // Who sent a key outside Authorization is what its owner must find (never the path
    // or query, which may hold the key itself).
    let leaky_client = event == KeyEvent::SecretOutsideAuthorization;
    let client = if canary || leaky_client || seen.from_browser || seen.origin.is_some() {
        seen.client.clone()
    } else {
        ClientInfo::default()
    };
    let origin = (event == KeyEvent::OriginNotAllowed).then(|| seen.origin.unwrap_or("null"));
    let mut observed = Observed::new(client, origin);
    if canary {
        let line = alloc::format!("{} {}", seen.method, seen.path);
        observed.request = Some(truncate(&line, MAX_REQUEST_CHARS));
        observed.location = seen
            .country
            .filter(|country| !country.is_empty())
            .map(|country| truncate(country, 8));
    }
    observed
}

/// What was seen of an event's occurrences: the last client, and the distinct origins
/// (at most [`Observed::MAX_ORIGINS`], each cut to [`Observed::MAX_ORIGIN_CHARS`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observed {
    pub client: ClientInfo,
    pub origins: Vec<String>,
    /// The last request's method and path (`GET /v1/users`), for a canary's use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
    /// Where the last request came from (`request.cf`: its country), for a canary's use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

impl Observed {
    /// Distinct origins listed, at most: the list is for people.
    pub const MAX_ORIGINS: usize = 10;
    pub const MAX_ORIGIN_CHARS: usize = 256;

    pub fn new(client: ClientInfo, origin: Option<&str>) -> Self {
        let mut observed = Observed {
            client,
            origins: Vec::new(),
            request: None,
            location: None,
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
        if later.request.is_some() {
            self.request = later.request;
        }
        if later.location.is_some() {
            self.location = later.location;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_keeps_only_what_it_needs_of_its_request() {
        let client = ClientInfo::new(Some("203.0.113.9"), Some("curl/8"));
        let long_path = alloc::format!("/v1/{}", "p".repeat(400));
        let server = SeenRequest {
            client: &client,
            from_browser: false,
            origin: None,
            method: "POST",
            path: &long_path,
            country: Some("NL"),
        };
        // A server's rate-limited request: no client, no request line, no place.
        let limited = observe(KeyEvent::RateLimited, &server);
        assert_eq!(limited, Observed::default());
        // A canary's use keeps everything: it is evidence.
        let canary = observe(KeyEvent::CanaryUsed, &server);
        assert_eq!(canary.client, client);
        assert_eq!(canary.location.as_deref(), Some("NL"));
        let line = canary.request.unwrap();
        assert!(line.starts_with("POST /v1/ppp"));
        assert_eq!(line.chars().count(), MAX_REQUEST_CHARS);
        assert!(canary.origins.is_empty());
        // A page's refusal keeps the client and, for its own event, the website.
        let page = SeenRequest {
            origin: Some("https://evil.example"),
            country: Some(""),
            ..server
        };
        let origin = observe(KeyEvent::OriginNotAllowed, &page);
        assert_eq!(origin.client, client);
        assert_eq!(origin.origins, ["https://evil.example"]);
        assert_eq!((origin.request, origin.location), (None, None));
        assert_eq!(observe(KeyEvent::CanaryUsed, &page).location, None);
    }

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
