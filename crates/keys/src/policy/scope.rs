//! Management scopes: what a secret key may do with the management API. A key without
//! `scopes` may do everything; with them, only what they name.

use alloc::vec::Vec;
use core::fmt;

use serde::{Deserialize, Serialize};

/// One management right.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// List keys and read their usage.
    KeysRead,
    /// Create, rotate, revoke, suspend, resume and edit keys.
    KeysWrite,
    /// Read the audit log.
    AuditRead,
    /// List webhook endpoints and their deliveries.
    WebhooksRead,
    /// Create, delete and test webhook endpoints, rotate their secrets, resend messages.
    WebhooksWrite,
}

impl Scope {
    pub const ALL: [Scope; 5] = [
        Scope::KeysRead,
        Scope::KeysWrite,
        Scope::AuditRead,
        Scope::WebhooksRead,
        Scope::WebhooksWrite,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Scope::KeysRead => "keys:read",
            Scope::KeysWrite => "keys:write",
            Scope::AuditRead => "audit:read",
            Scope::WebhooksRead => "webhooks:read",
            Scope::WebhooksWrite => "webhooks:write",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }

    pub fn parse(text: &str) -> Option<Scope> {
        Self::ALL.into_iter().find(|scope| scope.as_str() == text)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of scopes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Scopes(u8);

impl Scopes {
    pub const ALL: Scopes = Scopes(0b1_1111);

    pub fn contains(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }

    pub fn is_subset(self, other: Scopes) -> bool {
        self.0 & !other.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::ALL.into_iter().filter(move |s| self.contains(*s))
    }

    /// The set as a number (one bit per scope), for compact records.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// The set a number names, or `None` when it names a scope that does not exist.
    pub const fn from_bits(bits: u8) -> Option<Scopes> {
        if bits & !Scopes::ALL.0 == 0 {
            Some(Scopes(bits))
        } else {
            None
        }
    }
}

impl FromIterator<Scope> for Scopes {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        Scopes(iter.into_iter().fold(0, |bits, scope| bits | scope.bit()))
    }
}

impl Serialize for Scopes {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter().map(Scope::as_str))
    }
}

impl<'de> Deserialize<'de> for Scopes {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let names = Vec::<alloc::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        names
            .iter()
            .map(|name| {
                Scope::parse(name).ok_or_else(|| {
                    serde::de::Error::custom("scopes are keys:read, keys:write, audit:read, webhooks:read and webhooks:write")
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_round_trip_and_unknown_ones_are_refused() {
        let read: Scopes =
            serde_json::from_str(r#"["keys:read","audit:read","keys:read"]"#).unwrap();
        assert!(read.contains(Scope::KeysRead) && read.contains(Scope::AuditRead));
        assert!(!read.contains(Scope::KeysWrite));
        assert_eq!(
            serde_json::to_string(&read).unwrap(),
            r#"["keys:read","audit:read"]"#
        );
        assert!(read.is_subset(Scopes::ALL) && !Scopes::ALL.is_subset(read));
        assert!(Scopes::default().is_subset(read));
        assert!(serde_json::from_str::<Scopes>(r#"["keys:admin"]"#).is_err());
        assert!(serde_json::from_str::<Scopes>(r#"["KEYS:READ"]"#).is_err());
        assert_eq!(
            serde_json::from_str::<Scopes>("[]").unwrap(),
            Scopes::default()
        );
    }

    #[test]
    fn all_is_exactly_every_scope() {
        assert_eq!(Scope::ALL.into_iter().collect::<Scopes>(), Scopes::ALL);
        let webhooks: Scopes = serde_json::from_str(r#"["webhooks:read"]"#).unwrap();
        assert!(webhooks.contains(Scope::WebhooksRead) && !webhooks.contains(Scope::WebhooksWrite));
    }
}
