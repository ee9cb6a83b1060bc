//! Bearer secrets (invitation and session tokens) and the only form in which they are
//! stored: their SHA-256.

use alloc::string::String;
use core::fmt;

use aero2_keys::{base62, encode_hex, RandomError, RandomSource};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// Base62 characters of a token: 43 × log2(62) ≈ 256 bits of CSPRNG output, far above the
/// 128 bits asked for, so an unsalted fast hash is enough to store it.
pub(crate) const TOKEN_LEN: usize = 43;

/// The text of a token, wiped from memory when dropped. Never printed.
#[derive(Clone)]
pub(crate) struct SecretText(Zeroizing<[u8; TOKEN_LEN]>);

impl SecretText {
    pub(crate) fn generate(rng: &mut impl RandomSource) -> Result<Self, RandomError> {
        let mut chars = Zeroizing::new([0u8; TOKEN_LEN]);
        base62::fill_random(&mut chars[..], rng)?;
        Ok(Self(chars))
    }

    /// Exactly [`TOKEN_LEN`] base62 characters, or `None`. Never echoes the input.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let bytes = text.as_bytes();
        if bytes.len() != TOKEN_LEN || !bytes.iter().all(|&b| base62::is_base62(b)) {
            return None;
        }
        let mut chars = Zeroizing::new([0u8; TOKEN_LEN]);
        chars.copy_from_slice(bytes);
        Some(Self(chars))
    }

    pub(crate) fn as_str(&self) -> &str {
        // Only base62 bytes get in, and they are ASCII.
        core::str::from_utf8(&self.0[..]).unwrap_or_default()
    }

    pub(crate) fn hash(&self) -> TokenHash {
        TokenHash(Sha256::digest(&self.0[..]).into())
    }
}

/// The SHA-256 of a token's text: what storage keeps and looks tokens up by. Compared in
/// constant time. Its `Debug` shows a short prefix only, enough to correlate log lines.
#[derive(Clone, Copy, Eq)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// 64 lowercase hex digits: a storage key.
    pub fn to_hex(&self) -> String {
        encode_hex(&self.0)
    }

    pub fn from_hex(text: &str) -> Option<Self> {
        aero2_keys::StorageId::from_hex(text)
            .ok()
            .map(|id| Self(*id.as_bytes()))
    }
}

impl core::hash::Hash for TokenHash {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl PartialEq for TokenHash {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenHash({}…)", encode_hex(&self.0[..4]))
    }
}

impl Serialize for TokenHash {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for TokenHash {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <alloc::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::from_hex(&text).ok_or_else(|| serde::de::Error::custom("malformed token hash"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Broken, SeqRandom};

    #[test]
    fn tokens_are_43_base62_characters_hashed_with_sha256() {
        let token = SecretText::generate(&mut SeqRandom(5)).unwrap();
        assert_eq!(token.as_str().len(), TOKEN_LEN);
        assert!(token.as_str().bytes().all(base62::is_base62));
        let expected: [u8; 32] = Sha256::digest(token.as_str().as_bytes()).into();
        assert_eq!(token.hash(), TokenHash::from_bytes(expected));
        assert_eq!(
            SecretText::parse(token.as_str()).unwrap().hash(),
            token.hash()
        );
        assert!(SecretText::generate(&mut Broken).is_err());
    }

    #[test]
    fn parse_refuses_anything_but_43_base62() {
        assert!(SecretText::parse("").is_none());
        assert!(SecretText::parse(&"a".repeat(42)).is_none());
        assert!(SecretText::parse(&"a".repeat(44)).is_none());
        assert!(SecretText::parse(&alloc::format!("{}-", "a".repeat(42))).is_none());
        assert!(SecretText::parse(&alloc::format!("{}é", "a".repeat(41))).is_none());
        assert!(SecretText::parse(&"a".repeat(43)).is_some());
    }

    #[test]
    fn hash_hex_round_trips_and_debug_is_short() {
        let hash = SecretText::parse(&"b".repeat(43)).unwrap().hash();
        assert_eq!(TokenHash::from_hex(&hash.to_hex()), Some(hash));
        assert_eq!(TokenHash::from_hex("00"), None);
        let debug = alloc::format!("{hash:?}");
        assert!(debug.len() < 24, "{debug}");
        let json = serde_json::to_string(&hash).unwrap();
        assert_eq!(serde_json::from_str::<TokenHash>(&json).unwrap(), hash);
    }
}
