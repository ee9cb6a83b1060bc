//! Identifiers: accounts, members and invitations (public, prefixed base62 like the
//! core's `app_…`), and the two binary WebAuthn ids.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use aero2_keys::{RandomError, RandomSource};
use serde::{Deserialize, Serialize};

use crate::b64;

aero2_keys::public_id!(
    /// A customer account (`acct_…`): owns applications and has members.
    AccountId,
    "acct_"
);
aero2_keys::public_id!(
    /// A member of an account (`mem_…`): a person with a role and passkeys.
    MemberId,
    "mem_"
);
aero2_keys::public_id!(
    /// An invitation to join an account (`inv_…`). Public: it names the invitation in the
    /// API and the audit log. The secret is the separate [`crate::InvitationToken`].
    InvitationId,
    "inv_"
);

/// A WebAuthn id (a user handle or a credential id) was not valid base64url of an
/// allowed length. (A malformed `acct_`, `mem_` or `inv_` id is the core's `IdError`.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WebAuthnIdError;

impl fmt::Display for WebAuthnIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("malformed identifier")
    }
}

impl core::error::Error for WebAuthnIdError {}

/// The WebAuthn user handle (`user.id`) of a member: 32 random bytes, generated once per
/// member and stored with it. It is opaque on purpose: authenticators keep it in the clear
/// and hand it back on sign-in, so it must say nothing about the member (not the `mem_`
/// id, not an e-mail address). Not a secret; compared in constant time anyway.
#[derive(Clone, Copy, Eq)]
pub struct UserHandle([u8; UserHandle::LEN]);

impl UserHandle {
    /// Bytes of a user handle (WebAuthn allows up to 64).
    pub const LEN: usize = 32;

    pub fn generate(rng: &mut impl RandomSource) -> Result<Self, RandomError> {
        let mut bytes = [0u8; Self::LEN];
        rng.fill_bytes(&mut bytes)?;
        Ok(Self(bytes))
    }

    pub const fn from_bytes(bytes: [u8; Self::LEN]) -> Self {
        Self(bytes)
    }

    /// Only handles of exactly [`UserHandle::LEN`] bytes are ours.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, WebAuthnIdError> {
        bytes.try_into().map(Self).map_err(|_| WebAuthnIdError)
    }

    pub const fn as_bytes(&self) -> &[u8; Self::LEN] {
        &self.0
    }

    pub fn to_base64url(&self) -> String {
        b64::encode(&self.0)
    }

    pub fn from_base64url(text: &str) -> Result<Self, WebAuthnIdError> {
        b64::decode_array(text).map(Self).ok_or(WebAuthnIdError)
    }
}

impl core::hash::Hash for UserHandle {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl PartialEq for UserHandle {
    fn eq(&self, other: &Self) -> bool {
        subtle::ConstantTimeEq::ct_eq(&self.0[..], &other.0[..]).into()
    }
}

impl fmt::Debug for UserHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UserHandle({})", self.to_base64url())
    }
}

impl Serialize for UserHandle {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_base64url())
    }
}

impl<'de> Deserialize<'de> for UserHandle {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <alloc::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::from_base64url(&text).map_err(serde::de::Error::custom)
    }
}

/// A passkey's credential id, chosen by the authenticator: 1 to 1023 bytes (WebAuthn
/// Level 3 caps it at 1023). Public; it names the credential in storage and in
/// `excludeCredentials` / `allowCredentials`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CredentialId(Vec<u8>);

impl CredentialId {
    /// The longest credential id WebAuthn allows.
    pub const MAX_LEN: usize = 1023;

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, WebAuthnIdError> {
        if bytes.is_empty() || bytes.len() > Self::MAX_LEN {
            return Err(WebAuthnIdError);
        }
        Ok(Self(bytes.to_vec()))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn to_base64url(&self) -> String {
        b64::encode(&self.0)
    }

    pub fn from_base64url(text: &str) -> Result<Self, WebAuthnIdError> {
        let bytes = b64::decode(text, Self::MAX_LEN).ok_or(WebAuthnIdError)?;
        Self::from_bytes(&bytes)
    }
}

impl fmt::Debug for CredentialId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CredentialId({})", self.to_base64url())
    }
}

impl Serialize for CredentialId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_base64url())
    }
}

impl<'de> Deserialize<'de> for CredentialId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <alloc::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::from_base64url(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::SeqRandom;
    use alloc::string::ToString;

    #[test]
    fn public_ids_round_trip_and_keep_their_sort() {
        let mut rng = SeqRandom(1);
        let account = AccountId::generate(&mut rng).unwrap();
        let text = account.to_string();
        assert!(text.starts_with("acct_") && text.len() == 21, "{text}");
        assert_eq!(AccountId::parse(&text), Ok(account));
        assert_eq!(
            MemberId::parse(&text),
            Err(aero2_keys::IdError),
            "an account id is no member id"
        );
        assert_eq!(
            AccountId::parse(account.body()),
            Err(aero2_keys::IdError),
            "bare body"
        );
        let member = MemberId::generate(&mut rng).unwrap();
        assert_eq!(
            MemberId::parse(&member.to_string()),
            Ok(member),
            "{member:?}"
        );
        let invitation = InvitationId::generate(&mut rng).unwrap();
        assert!(invitation.to_string().starts_with("inv_"));
        assert_eq!(
            serde_json::from_str::<InvitationId>(&serde_json::to_string(&invitation).unwrap())
                .unwrap(),
            invitation
        );
        for bad in [
            "",
            "acct_",
            "acct_123456789012345",
            "acct_12345678901234567",
            "acct_123456789012345-",
            "acct_12345678901234é",
            "ACCT_1234567890123456",
        ] {
            assert_eq!(AccountId::parse(bad), Err(aero2_keys::IdError), "{bad}");
        }
    }

    #[test]
    fn user_handles_are_32_random_bytes() {
        let mut rng = SeqRandom(2);
        let a = UserHandle::generate(&mut rng).unwrap();
        let b = UserHandle::generate(&mut rng).unwrap();
        assert_ne!(a, b);
        assert_eq!(a.to_base64url().len(), 43);
        assert_eq!(UserHandle::from_base64url(&a.to_base64url()), Ok(a));
        assert_eq!(UserHandle::from_slice(&[0; 31]), Err(WebAuthnIdError));
        assert_eq!(UserHandle::from_slice(&[0; 64]), Err(WebAuthnIdError));
        assert!(UserHandle::generate(&mut crate::testing::Broken).is_err());
    }

    #[test]
    fn credential_ids_are_1_to_1023_bytes() {
        assert!(CredentialId::from_bytes(&[]).is_err());
        assert!(CredentialId::from_bytes(&[7; 1023]).is_ok());
        assert!(CredentialId::from_bytes(&[7; 1024]).is_err());
        let id = CredentialId::from_bytes(&[1, 2, 250]).unwrap();
        assert_eq!(id.to_base64url(), "AQL6");
        assert_eq!(CredentialId::from_base64url("AQL6"), Ok(id.clone()));
        assert_eq!(
            CredentialId::from_base64url(&"A".repeat(1368)),
            Err(WebAuthnIdError),
            "1026 bytes"
        );
        assert_eq!(CredentialId::from_base64url("AQL6!"), Err(WebAuthnIdError));
        assert_eq!(alloc::format!("{id:?}"), "CredentialId(AQL6)");
    }
}
