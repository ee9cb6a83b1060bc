//! The pure core of Aero2 API keys.
//!
//! Everything here is deterministic given its inputs: time is passed in as [`UnixMillis`]
//! and randomness through a [`RandomSource`], so the same code runs natively in tests, in
//! the Cloudflare Worker and in the browser package without reading a clock or doing I/O.
//!
//! `no_std` (with `alloc`): nothing here needs an operating system, and the browser
//! package links it without std's panic and formatting machinery.

#![no_std]

extern crate alloc;
#[cfg(test)]
extern crate std;

pub mod base62;
mod checksum;
mod format;
pub mod gate;
mod lifecycle;
mod random;
pub mod requests;
pub mod signature;
mod storage;
mod time;

pub use format::{
    identify, parse, ApiKey, ApplicationId, Environment, IdError, KeyId, KeyIdentity, KeyKind,
    ParseError, ParsedKey, APPLICATION_ID_LEN, CHECKSUM_LEN, KEY_PATTERN, PREFIX_LEN,
    SECRET_KEY_PATTERN,
};
pub use lifecycle::{
    GracePeriod, KeyRecord, KeyRing, KeyStatus, LifecycleError, RevocationReason, Rotation,
};
pub use random::{RandomError, RandomSource, SystemRandom};
pub use storage::{encode_hex, StorageId, StorageIdError};
pub use time::UnixMillis;
