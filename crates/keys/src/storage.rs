use core::fmt;

use alloc::string::String;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The SHA-256 of a key's full text: the only form in which a key is ever stored.
///
/// A key has at least 95 bits of CSPRNG output, so an unsalted fast hash is enough: there
/// is no dictionary to attack, and the edge must compute it on every request.
#[derive(Clone, Copy)]
pub struct StorageId([u8; 32]);

impl StorageId {
    /// Hashes a key's text. Callers normally use [`crate::ApiKey::storage_id`].
    pub fn of_key_text(key: &str) -> Self {
        StorageId(Sha256::digest(key.as_bytes()).into())
    }

    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        StorageId(bytes)
    }

    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lowercase hex, 64 characters: the Workers KV key of the record.
    pub fn to_hex(&self) -> String {
        encode_hex(&self.0)
    }

    pub fn from_hex(text: &str) -> Result<Self, StorageIdError> {
        let bytes = text.as_bytes();
        if bytes.len() != 64 {
            return Err(StorageIdError);
        }
        let mut out = [0u8; 32];
        for (slot, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
            *slot = (hex_value(pair[0])? << 4) | hex_value(pair[1])?;
        }
        Ok(StorageId(out))
    }
}

/// Lowercase hexadecimal, two characters a byte.
pub fn encode_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(HEX[(byte >> 4) as usize] as char);
        out.push(HEX[(byte & 0xf) as usize] as char);
    }
    out
}

fn hex_value(digit: u8) -> Result<u8, StorageIdError> {
    match digit {
        b'0'..=b'9' => Ok(digit - b'0'),
        b'a'..=b'f' => Ok(digit - b'a' + 10),
        _ => Err(StorageIdError),
    }
}

/// Compared in constant time: a storage id is derived from a secret, and a timing
/// difference must not reveal how many leading bytes two ids share.
impl PartialEq for StorageId {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for StorageId {}

impl fmt::Debug for StorageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StorageId({})", self.to_hex())
    }
}

impl Serialize for StorageId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for StorageId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <alloc::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        StorageId::from_hex(&text).map_err(serde::de::Error::custom)
    }
}

/// A storage id was not 64 lowercase hex digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StorageIdError;

impl fmt::Display for StorageIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a storage id is 64 lowercase hexadecimal digits")
    }
}

impl core::error::Error for StorageIdError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_sha256_of_the_key_text() {
        // SHA-256("abc"), from FIPS 180-2.
        assert_eq!(
            StorageId::of_key_text("abc").to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn hex_round_trips_and_rejects_bad_text() {
        let id = StorageId::of_key_text("sk_test_x");
        assert_eq!(StorageId::from_hex(&id.to_hex()), Ok(id));
        assert_eq!(StorageId::from_hex("ab"), Err(StorageIdError));
        assert_eq!(StorageId::from_hex(&"G".repeat(64)), Err(StorageIdError));
        assert_eq!(
            StorageId::from_hex(&id.to_hex().to_uppercase()),
            Err(StorageIdError)
        );
        assert_eq!(StorageId::from_hex(&"é".repeat(32)), Err(StorageIdError));
    }

    #[test]
    fn equality_compares_every_byte() {
        let a = StorageId::from_bytes([7; 32]);
        let mut last_differs = [7; 32];
        last_differs[31] = 8;
        assert_eq!(a, StorageId::from_bytes([7; 32]));
        assert_ne!(a, StorageId::from_bytes(last_differs));
    }
}
