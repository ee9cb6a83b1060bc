//! The Aero2 Keys Cloudflare Worker: a thin adapter from HTTP, Workers KV and Durable
//! Objects to the pure rules in `aero2-keys`.
//!
//! - `router`: which code answers a request;
//! - `gate`, `proxy`: where a key is validated, and how a valid request reaches the origin;
//! - `management`, `operator`, `session`, `leaks`: the worker's own endpoints;
//! - `key_ring`: the per-application Durable Object (the source of truth), `replica` its
//!   regional copies (regional mode), and `registry`, the list of applications;
//! - `protocol`: the messages to Durable Objects; `kv`: all Workers KV access;
//! - `config`: every setting; `clock`: the one clock; `errors`, `views`, `body`: errors,
//!   JSON shapes and request bodies.

mod assertion;
mod body;
mod clock;
mod config;
mod errors;
mod gate;
#[cfg(feature = "instrumentation")]
mod instrumentation;
mod key_ring;
mod kv;
mod leaks;
mod limits;
mod management;
mod operator;
mod protocol;
mod proxy;
mod registry;
mod replica;
mod router;
mod schema;
mod session;
mod usage;
mod views;

pub use key_ring::KeyRingObject;
pub use registry::ApplicationRegistry;
pub use replica::ValidationReplica;

use worker::{event, Context, Env, Request, Response, Result};

#[event(fetch)]
pub async fn fetch(req: Request, env: Env, ctx: Context) -> Result<Response> {
    let config = config::Config::cached(&env);
    Ok(router::route(req, &env, &ctx, &config)
        .await
        .unwrap_or_else(errors::ApiError::into_response))
}
