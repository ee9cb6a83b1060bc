//! Members as storage keeps them, and the rules for their display names.

use alloc::string::String;
use core::fmt;

use aero2_keys::{RandomError, RandomSource, UnixMillis};
use serde::{Deserialize, Serialize};

use crate::ids::{AccountId, MemberId, UserHandle};
use crate::roles::Role;

/// The longest display name, in characters.
pub const MAX_DISPLAY_NAME_CHARS: usize = 64;

/// A person in an account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub id: MemberId,
    pub account: AccountId,
    pub display_name: DisplayName,
    pub role: Role,
    /// The WebAuthn `user.id` of all of this member's passkeys.
    pub user_handle: UserHandle,
    pub joined_at: UnixMillis,
}

impl Member {
    /// A new member with fresh ids (for an account's first owner, or an accepted
    /// invitation, whose role comes from [`crate::Invitation::accept`]).
    pub fn new(
        account: AccountId,
        display_name: DisplayName,
        role: Role,
        now: UnixMillis,
        rng: &mut impl RandomSource,
    ) -> Result<Member, RandomError> {
        Ok(Member {
            id: MemberId::generate(rng)?,
            account,
            display_name,
            role,
            user_handle: UserHandle::generate(rng)?,
            joined_at: now,
        })
    }
}

/// A member's display name: 1 to 64 characters once trimmed, no control characters (no
/// line breaks to forge audit-log lines, no bidirectional overrides to disguise a name).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct DisplayName(String);

/// The display name is empty, too long, or has a control or formatting character.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DisplayNameError;

impl fmt::Display for DisplayNameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a display name has 1 to 64 characters and no control characters")
    }
}

impl core::error::Error for DisplayNameError {}

impl DisplayName {
    /// The core's rule for every name (`aero2_keys::http::bodies::clean_name`): no control
    /// characters, no bidirectional overrides or zero-width characters that could disguise
    /// a name or forge an audit line, not only spaces; kept trimmed.
    pub fn parse(text: &str) -> Result<Self, DisplayNameError> {
        aero2_keys::http::bodies::clean_name(text, MAX_DISPLAY_NAME_CHARS)
            .map(|name| DisplayName(name.into()))
            .ok_or(DisplayNameError)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DisplayName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for DisplayName {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <alloc::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        DisplayName::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::SeqRandom;

    #[test]
    fn display_names_are_trimmed_bounded_and_printable() {
        assert_eq!(
            DisplayName::parse("  Ada Lovelace ").unwrap().as_str(),
            "Ada Lovelace"
        );
        assert_eq!(DisplayName::parse("Zoë 🦀").unwrap().as_str(), "Zoë 🦀");
        assert!(DisplayName::parse(&"é".repeat(64)).is_ok());
        for bad in [
            String::new(),
            "   ".into(),
            "é".repeat(65),
            "Ada\nadmin: yes".into(),
            "Ada\u{202e}nimda".into(),
            "A\u{200b}da".into(),
            "Ada\u{0}".into(),
        ] {
            assert_eq!(DisplayName::parse(&bad), Err(DisplayNameError), "{bad:?}");
        }
        assert!(serde_json::from_str::<DisplayName>("\"a\\nb\"").is_err());
    }

    #[test]
    fn a_new_member_gets_fresh_ids_and_round_trips() {
        let mut rng = SeqRandom(4);
        let account = AccountId::generate(&mut rng).unwrap();
        let name = DisplayName::parse("Ada").unwrap();
        let a = Member::new(account, name.clone(), Role::Owner, UnixMillis(5), &mut rng).unwrap();
        let b = Member::new(account, name, Role::Viewer, UnixMillis(5), &mut rng).unwrap();
        assert_ne!(a.id, b.id);
        assert_ne!(a.user_handle, b.user_handle);
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(serde_json::from_str::<Member>(&json).unwrap(), a);
    }
}
