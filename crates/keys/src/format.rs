//! What an Aero2 API key looks like.
//!
//! ```text
//! sk_live_ 3hG8kQ2mZ0pX7aLc 4s9D…(32 random)… 1aZ9Qx
//! prefix   application id   random part        CRC32 checksum
//! (8)      (16, public)     (16 pk / 32 sk)    (6, base62)
//! ```
//!
//! The application id is public and inside every key, so the edge can route a key to its
//! application without a lookup and a browser can read it from a publishable key.

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::{format, vec};
use core::fmt;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::ascii_search::find_from;
use crate::base62;
use crate::checksum::{self, CHECKSUM_LEN};
use crate::json_text::push_decimal;
use crate::random::{RandomError, RandomSource};
use crate::storage::StorageId;

/// `pk_live_`, `sk_test_`, …: every prefix has this many bytes.
pub const PREFIX_LEN: usize = 8;
/// Base62 characters of an application id.
pub const APPLICATION_ID_LEN: usize = 16;
/// Random base62 characters in a publishable key (about 95 bits): enough that a rotated
/// publishable key always differs from the old one.
const PUBLISHABLE_RANDOM_LEN: usize = 16;
/// Random base62 characters in a secret key: 32 × log2(62) ≈ 190.5 bits of CSPRNG output.
const SECRET_RANDOM_LEN: usize = 32;

/// A regular expression that matches every Aero2 key and nothing shorter or longer.
/// Secret scanners register this pattern; the README documents it and a test keeps the
/// two in step.
pub const KEY_PATTERN: &str =
    r"\b(?:pk_(?:live|test)_[0-9A-Za-z]{38}|sk_(?:live|test)_[0-9A-Za-z]{54})\b";

/// Secret keys only: the pattern to register with secret scanners, since publishable keys
/// are public by design.
pub const SECRET_KEY_PATTERN: &str = r"\bsk_(?:live|test)_[0-9A-Za-z]{54}\b";

/// Publishable keys identify an application in client code; secret keys authenticate
/// servers and have full API access.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyKind {
    Publishable,
    Secret,
}

impl KeyKind {
    pub const ALL: [KeyKind; 2] = [KeyKind::Publishable, KeyKind::Secret];

    pub const fn as_str(self) -> &'static str {
        match self {
            KeyKind::Publishable => "publishable",
            KeyKind::Secret => "secret",
        }
    }

    /// The full length of a key of this kind, prefix and checksum included.
    pub const fn key_len(self) -> usize {
        PREFIX_LEN + APPLICATION_ID_LEN + self.random_len() + CHECKSUM_LEN
    }

    const fn random_len(self) -> usize {
        match self {
            KeyKind::Publishable => PUBLISHABLE_RANDOM_LEN,
            KeyKind::Secret => SECRET_RANDOM_LEN,
        }
    }

    /// The key prefix for this kind in an environment, e.g. `sk_live_`.
    pub const fn prefix(self, environment: Environment) -> &'static str {
        match (self, environment) {
            (KeyKind::Publishable, Environment::Live) => "pk_live_",
            (KeyKind::Publishable, Environment::Test) => "pk_test_",
            (KeyKind::Secret, Environment::Live) => "sk_live_",
            (KeyKind::Secret, Environment::Test) => "sk_test_",
        }
    }

    fn from_prefix(prefix: &[u8]) -> Option<(KeyKind, Environment)> {
        match prefix {
            b"pk_live_" => Some((KeyKind::Publishable, Environment::Live)),
            b"pk_test_" => Some((KeyKind::Publishable, Environment::Test)),
            b"sk_live_" => Some((KeyKind::Secret, Environment::Live)),
            b"sk_test_" => Some((KeyKind::Secret, Environment::Test)),
            _ => None,
        }
    }
}

impl fmt::Display for KeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `live` keys belong to production applications, `test` keys to development ones, so a
/// test key can never be mistaken for a production key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Environment {
    Live,
    Test,
}

impl Environment {
    pub const fn as_str(self) -> &'static str {
        match self {
            Environment::Live => "live",
            Environment::Test => "test",
        }
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A public identifier made of a fixed prefix and 16 random base62 characters (about 95
/// bits). Exported for the other crates' ids (`aero2-accounts`: `acct_`, `mem_`, `inv_`),
/// so every id parses, prints and serializes one way. The crate using it depends on serde
/// and has `extern crate alloc`.
#[macro_export]
#[doc(hidden)]
macro_rules! public_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name([u8; 16]);

        impl $name {
            /// The textual prefix, e.g. `app_`.
            pub const PREFIX: &'static str = $prefix;

            pub fn generate(
                rng: &mut impl $crate::RandomSource,
            ) -> Result<Self, $crate::RandomError> {
                let mut chars = [0u8; 16];
                $crate::base62::fill_random(&mut chars, rng)?;
                Ok(Self(chars))
            }

            /// Parses the prefixed form (`app_…`). The bare 16 characters are not accepted,
            /// so an id of one sort can never be passed where another is expected.
            pub fn parse(text: &str) -> Result<Self, $crate::IdError> {
                let body = text.strip_prefix(Self::PREFIX).ok_or($crate::IdError)?;
                Self::from_body(body.as_bytes()).ok_or($crate::IdError)
            }

            /// The 16 characters alone: only for a crate's own use, such as the
            /// application id inside a key.
            #[allow(dead_code)]
            pub(crate) fn from_body(body: &[u8]) -> Option<Self> {
                let chars: [u8; 16] = body.try_into().ok()?;
                chars
                    .iter()
                    .all(|&b| $crate::base62::is_base62(b))
                    .then_some(Self(chars))
            }

            /// The 16 base62 characters without the prefix.
            pub fn body(&self) -> &str {
                // Construction only admits base62 bytes, which are ASCII.
                ::core::str::from_utf8(&self.0).unwrap_or_default()
            }
        }

        impl ::core::fmt::Display for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.write_str(Self::PREFIX)?;
                f.write_str(self.body())
            }
        }

        impl ::core::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                ::core::fmt::Display::fmt(self, f)
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> Result<Self, D::Error> {
                let text = <::alloc::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                Self::parse(&text).map_err(::serde::de::Error::custom)
            }
        }
    };
}

public_id!(
    /// The public id of an application (`app_…`). It is embedded in each of its keys.
    ApplicationId,
    "app_"
);
public_id!(
    /// A webhook endpoint (`ep_…`).
    EndpointId,
    "ep_"
);
public_id!(
    /// One event sent to webhook endpoints (`msg_…`): the `webhook-id` header, the same on
    /// every attempt and every endpoint, so receivers can de-duplicate.
    MessageId,
    "msg_"
);
public_id!(
    /// The public id of a key record (`key_…`). It names a key in the API and the audit
    /// log; it is random, so it reveals nothing about the key's value.
    KeyId,
    "key_"
);

/// An id did not have its prefix followed by exactly 16 base62 characters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdError;

impl fmt::Display for IdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an id is its prefix followed by 16 characters from [0-9A-Za-z]")
    }
}

impl core::error::Error for IdError {}

/// Why a string is not a well-formed Aero2 key. No variant holds any of the input, so an
/// error can be logged or returned to a client without leaking key material.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ParseError {
    /// The input is empty.
    Empty,
    /// The input does not start with `pk_live_`, `pk_test_`, `sk_live_` or `sk_test_`.
    UnknownPrefix,
    /// The prefix is known but the key has the wrong number of characters.
    WrongLength {
        kind: KeyKind,
        expected: usize,
        actual: usize,
    },
    /// The character at `position` (0-based, counted in characters) is not in
    /// `[0-9A-Za-z]`.
    BadCharacter { position: usize },
    /// The key is well-formed but its checksum does not match: it was mistyped or altered.
    BadChecksum,
}

impl ParseError {
    /// A stable, machine-readable code shared by the worker's responses and the browser
    /// package: every structural problem is `malformed_key`, a checksum mismatch is
    /// `bad_checksum`.
    pub const fn code(&self) -> &'static str {
        match self {
            ParseError::BadChecksum => "bad_checksum",
            _ => "malformed_key",
        }
    }

    /// A stable name for the exact problem, finer than [`ParseError::code`].
    pub const fn reason(&self) -> &'static str {
        match self {
            ParseError::Empty => "empty",
            ParseError::UnknownPrefix => "unknown_prefix",
            ParseError::WrongLength { .. } => "wrong_length",
            ParseError::BadCharacter { .. } => "bad_character",
            ParseError::BadChecksum => "bad_checksum",
        }
    }
}

impl ParseError {
    /// A sentence for people, holding no part of the input. Built without `core::fmt` so
    /// that the browser package, which links it, stays small.
    pub fn message(&self) -> String {
        // Sized for the longest sentence, so that writing it never reallocates.
        let mut out = String::with_capacity(96);
        match self {
            ParseError::Empty => out.push_str("the API key is empty"),
            ParseError::UnknownPrefix => {
                out.push_str("the API key must start with pk_live_, pk_test_, sk_live_ or sk_test_")
            }
            ParseError::WrongLength {
                kind,
                expected,
                actual,
            } => {
                out.push_str("a ");
                out.push_str(kind.as_str());
                out.push_str(" key has ");
                push_decimal(&mut out, *expected);
                out.push_str(" characters, but this one has ");
                push_decimal(&mut out, *actual);
            }
            ParseError::BadCharacter { position } => {
                out.push_str("the API key has a character outside [0-9A-Za-z] at position ");
                push_decimal(&mut out, *position);
                out.push_str(" (counting from 0)");
            }
            ParseError::BadChecksum => out.push_str(
                "the API key's checksum does not match: it was mistyped, truncated or altered",
            ),
        }
        out
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl core::error::Error for ParseError {}

/// The public facts a well-formed key states about itself. It holds none of the key's
/// secret part, so it is safe to keep, log and pass around.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParsedKey {
    pub kind: KeyKind,
    pub environment: Environment,
    pub application_id: ApplicationId,
}

/// Checks a key's structure and checksum without any storage lookup.
///
/// Linear in the input's length, allocation-free and panic-free for any input, including
/// non-ASCII text and inputs megabytes long.
pub fn parse(input: &str) -> Result<ParsedKey, ParseError> {
    let bytes = input.as_bytes();
    if bytes.is_empty() {
        return Err(ParseError::Empty);
    }
    let (kind, environment) = bytes
        .get(..PREFIX_LEN)
        .and_then(KeyKind::from_prefix)
        .ok_or(ParseError::UnknownPrefix)?;
    let expected = kind.key_len();

    if bytes.len() != expected {
        // Count characters, not bytes, so a key with one non-ASCII look-alike is reported
        // as a bad character rather than as the wrong length.
        // (Bytes that do not continue a UTF-8 sequence: `chars().count()` without the
        // decoder, which a refusal's first answer after V8 drops its baseline code would
        // compile.)
        let actual = bytes.iter().filter(|&&byte| byte & 0xC0 != 0x80).count();
        if actual != expected {
            return Err(ParseError::WrongLength {
                kind,
                expected,
                actual,
            });
        }
        // Bytes and characters differ in number, so a non-ASCII character is present,
        // and it is after the prefix because the prefix matched byte for byte.
        let offset = input
            .chars()
            .skip(PREFIX_LEN)
            .position(|c| !c.is_ascii_alphanumeric())
            .unwrap_or(0);
        return Err(ParseError::BadCharacter {
            position: PREFIX_LEN + offset,
        });
    }
    // The byte length is right. Every byte before the first bad one is ASCII, so its byte
    // index is also its character index. (`get` and `split_at_checked` rather than
    // indexing: this function has no panic path at all.)
    let (_, body) = bytes
        .split_at_checked(PREFIX_LEN)
        .ok_or(ParseError::UnknownPrefix)?;
    // A branch-free pass the compiler vectorises; the position is only searched for when
    // something is wrong.
    if !body
        .iter()
        .fold(true, |valid, byte| valid & byte.is_ascii_alphanumeric())
    {
        let offset = body
            .iter()
            .position(|&b| !base62::is_base62(b))
            .unwrap_or(0);
        return Err(ParseError::BadCharacter {
            position: PREFIX_LEN + offset,
        });
    }
    let (payload, stated) = bytes
        .split_at_checked(expected - CHECKSUM_LEN)
        .ok_or(ParseError::BadChecksum)?;
    if !checksum::matches(payload, stated) {
        return Err(ParseError::BadChecksum);
    }
    let application_id = body
        .get(..APPLICATION_ID_LEN)
        .and_then(ApplicationId::from_body)
        .ok_or(ParseError::BadChecksum)?;
    Ok(ParsedKey {
        kind,
        environment,
        application_id,
    })
}

/// Whether `text` holds a well-formed secret key anywhere in it (checksum included, so a
/// random run of characters is not mistaken for one). The gate refuses a secret key
/// anywhere but `Authorization`: in a query string or another header, the origin (and
/// its logs) would receive it.
pub fn contains_secret_key(text: &str) -> bool {
    find_secret_key(text).is_some()
}

/// The first well-formed secret key in `text` ([`contains_secret_key`]), as the identity
/// the gate looks it up by, so that its exposure can be recorded against it.
pub fn find_secret_key(text: &str) -> Option<KeyIdentity> {
    let len = KeyKind::Secret.key_len();
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(start) = find_from(text, b"sk_", from) {
        if let Some(candidate) = bytes.get(start..start + len) {
            // A key is ASCII, so a candidate window is valid UTF-8 when the key is there.
            let found = core::str::from_utf8(candidate)
                .ok()
                .and_then(|candidate| identify(candidate).ok())
                .filter(|key| key.kind == KeyKind::Secret);
            if found.is_some() {
                return found;
            }
        }
        from = start + 3;
    }
    None
}

/// What a presented key states about itself, and the storage id to look it up under.
///
/// Made without copying the key: the secret stays in the caller's buffer, and only its
/// hash is kept. This is what the edge needs for every request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyIdentity {
    pub kind: KeyKind,
    pub environment: Environment,
    pub application_id: ApplicationId,
    pub storage_id: StorageId,
}

/// Parses a key and computes its storage id: the whole per-request cost of validation
/// before any storage read.
pub fn identify(input: &str) -> Result<KeyIdentity, ParseError> {
    let parsed = parse(input)?;
    Ok(KeyIdentity {
        kind: parsed.kind,
        environment: parsed.environment,
        application_id: parsed.application_id,
        storage_id: StorageId::of_key_text(input),
    })
}

/// A complete, well-formed API key, including its secret part.
///
/// `Debug` and `Display` show only the hint (prefix and last 4 characters). The full value
/// is reachable through [`ApiKey::expose_secret`] alone, and it is wiped from memory when
/// the key is dropped.
#[derive(Clone)]
pub struct ApiKey {
    value: Zeroizing<String>,
    parsed: ParsedKey,
}

impl ApiKey {
    /// Parses and keeps a key received from a client.
    pub fn parse(input: &str) -> Result<Self, ParseError> {
        let parsed = parse(input)?;
        Ok(ApiKey {
            value: Zeroizing::new(input.to_owned()),
            parsed,
        })
    }

    /// Generates a fresh key for an application from a CSPRNG.
    pub fn generate(
        kind: KeyKind,
        environment: Environment,
        application_id: ApplicationId,
        rng: &mut impl RandomSource,
    ) -> Result<Self, RandomError> {
        let len = kind.key_len();
        let mut buf = Zeroizing::new(vec![0u8; len]);
        buf[..PREFIX_LEN].copy_from_slice(kind.prefix(environment).as_bytes());
        buf[PREFIX_LEN..][..APPLICATION_ID_LEN].copy_from_slice(&application_id.0);
        let random_start = PREFIX_LEN + APPLICATION_ID_LEN;
        base62::fill_random(&mut buf[random_start..len - CHECKSUM_LEN], rng)?;
        let sum = checksum::compute(&buf[..len - CHECKSUM_LEN]);
        buf[len - CHECKSUM_LEN..].copy_from_slice(&sum);
        // Every byte written above is ASCII, so this cannot fail; an error would be a bug
        // in this function and is reported as an unusable generator rather than a panic.
        let value = String::from_utf8(core::mem::take(&mut *buf)).map_err(|_| RandomError)?;
        Ok(ApiKey {
            value: Zeroizing::new(value),
            parsed: ParsedKey {
                kind,
                environment,
                application_id,
            },
        })
    }

    pub fn kind(&self) -> KeyKind {
        self.parsed.kind
    }

    pub fn environment(&self) -> Environment {
        self.parsed.environment
    }

    pub fn application_id(&self) -> ApplicationId {
        self.parsed.application_id
    }

    pub fn parsed(&self) -> ParsedKey {
        self.parsed
    }

    /// The SHA-256 under which this key is stored. The key itself is never stored.
    pub fn storage_id(&self) -> StorageId {
        StorageId::of_key_text(&self.value)
    }

    /// What may be shown of a key anywhere: its prefix and last 4 characters.
    pub fn hint(&self) -> String {
        hint_of(&self.value)
    }

    /// The full key. Call this only to hand a newly created key to its owner once, or to
    /// put it in an `Authorization` header.
    pub fn expose_secret(&self) -> &str {
        &self.value
    }
}

/// The prefix and last 4 characters of a string, for display. Never more.
fn hint_of(text: &str) -> String {
    let prefix = text.get(..PREFIX_LEN).unwrap_or("");
    let last4 = text.get(text.len().saturating_sub(4)..).unwrap_or("");
    format!("{prefix}…{last4}")
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ApiKey").field(&self.hint()).finish()
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.hint())
    }
}

/// Equality on the key's storage id, in constant time.
impl PartialEq for ApiKey {
    fn eq(&self, other: &Self) -> bool {
        self.storage_id() == other.storage_id()
    }
}

impl Eq for ApiKey {}
