//! The pure core of Aero2 API keys.
//!
//! Everything here is deterministic given its inputs: time is passed in as [`UnixMillis`]
//! and randomness through a [`RandomSource`], so the same code runs natively in tests, in
//! the Cloudflare Worker and in the browser package without reading a clock or doing I/O.
//!
//! What it holds:
//! - the key format: [`parse`], [`identify`], [`ApiKey`], ids, the checksum and base62;
//! - storage ids (SHA-256) compared in constant time: [`StorageId`];
//! - the key lifecycle state machine: [`KeyRing`], [`KeyRecord`], [`KeyStatus`];
//! - the decisions of the gate ([`gate`]: is this key usable, on this route, from this
//!   client) and of the management API ([`rights`]: may this caller manage keys);
//! - the timers, outbox and usage batching a key ring runs on ([`timers`], [`outbox`],
//!   [`usage`]), and the coalescing of events that repeat per request ([`repeats`]), as
//!   state machines driven by `now`;
//! - key policies ([`policy`]): scopes, routes, origins, addresses and rate limits, each a
//!   pure check with its bounds;
//! - the edge's per-isolate record cache ([`cache`]), with its stated time to live;
//! - the HTTP-facing rules ([`http`]): the error-code catalogue, request bodies, query
//!   strings, path normalisation, CORS and what may be forwarded to the origin;
//! - regional validation ([`regional`]): regions, shards, leases, pushes and receipts;
//! - webhooks ([`webhooks`]): event types, endpoint URLs, Standard Webhooks signatures,
//!   the retry schedule and the reminders that fall due;
//! - a strict DER decoder for ECDSA signatures of secret-scanning reports ([`der`]).
//!
//! `no_std` (with `alloc`): nothing here needs an operating system, and the browser
//! package links it without std's panic and formatting machinery.

#![no_std]

extern crate alloc;
#[cfg(test)]
extern crate std;

pub mod ascii_search;
pub mod audit_chain;
pub mod base62;
pub mod cache;
mod checksum;
pub mod der;
mod format;
pub mod gate;
pub mod hashing;
pub mod http;
pub mod json_text;
mod lifecycle;
mod number;
pub mod outbox;
pub mod policy;
mod random;
pub mod regional;
pub mod rejection;
pub mod repeats;
pub mod rights;
mod storage;
mod time;
pub mod timers;
pub mod usage;
pub mod webhooks;

pub use checksum::CHECKSUM_LEN;
pub use format::{
    contains_secret_key, find_secret_key, identify, parse, ApiKey, ApplicationId, EndpointId,
    Environment, IdError, KeyId, KeyIdentity, KeyKind, MessageId, ParseError, ParsedKey,
    APPLICATION_ID_LEN, KEY_PATTERN, PREFIX_LEN, SECRET_KEY_PATTERN,
};
pub use lifecycle::{
    GracePeriod, KeyRecord, KeyRing, KeyStatus, LifecycleError, RevocationReason, Rotation,
};
pub use random::{RandomError, RandomSource, SystemRandom};
pub use storage::{encode_hex, StorageId, StorageIdError};
pub use time::UnixMillis;
