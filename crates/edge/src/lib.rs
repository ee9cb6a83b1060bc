//! The Aero2 Keys Cloudflare Worker: a thin adapter from HTTP, Workers KV and Durable
//! Objects to the pure rules in `aero2-keys`.
//!
//! - `router`: which code answers a request;
//! - `gate`, `proxy`: where a key is validated, and how a valid request reaches the origin;
//! - `management`, `operator`, `session`, `leaks`: the worker's own endpoints;
//! - `key_ring`: the per-application Durable Object (the source of truth), `replica` its
//!   regional copies (regional mode), and `registry`, the list of applications;
//! - `protocol`: the messages to Durable Objects; `kv`: all Workers KV access;
//! - `assertion`: the signed assertion the origin verifies, and the JWKS;
//! - `limits`: per-address limits (failed attempts, sign-ins), the forged-key flood filter,
//!   and per-key rate limits in edge and regional mode;
//! - `schema`: SQLite schema versions and their migrations, for the Durable Objects;
//! - `usage`: usage batched per isolate (edge and regional mode);
//! - `config`: every setting; `clock`: the one clock; `errors`, `views`, `body`: errors,
//!   JSON shapes and request bodies.

// The size measurement build leaves out the Durable Objects, and with them some callers.
#![cfg_attr(feature = "gate-only", allow(dead_code, unused_imports))]

mod assertion;
mod body;
mod clock;
mod config;
mod errors;
mod gate;
#[cfg(feature = "instrumentation")]
mod instrumentation;
#[cfg(not(feature = "gate-only"))]
mod key_ring;
mod kv;
mod leaks;
mod limits;
mod management;
mod operator;
mod protocol;
mod proxy;
#[cfg(not(feature = "gate-only"))]
mod registry;
#[cfg(not(feature = "gate-only"))]
mod replica;
mod router;
mod schema;
mod session;
mod usage;
mod views;

#[cfg(not(feature = "gate-only"))]
pub use key_ring::KeyRingObject;
#[cfg(not(feature = "gate-only"))]
pub use registry::ApplicationRegistry;
#[cfg(not(feature = "gate-only"))]
pub use replica::ValidationReplica;

use worker::{event, Context, Env, Request, Response, Result};

#[event(fetch)]
pub async fn fetch(req: Request, env: Env, ctx: Context) -> Result<Response> {
    let config = config::Config::cached(&env);
    Ok(router::route(req, &env, &ctx, &config)
        .await
        .unwrap_or_else(errors::ApiError::into_response))
}
