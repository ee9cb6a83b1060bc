//! The Aero2 Keys control plane, a Cloudflare Worker of its own: a thin adapter from HTTP,
//! Workers KV and Durable Objects to the pure rules in `aero2-keys`. Gated requests never
//! load it; the gate (`crates/gate`) forwards the API's own paths here through a service
//! binding, and calls the Durable Objects below by their binding.
//!
//! - `router`: which code answers a request;
//! - `management`, `operator`, `session`, `leaks`: the API's endpoints;
//! - `key_ring`: the per-application Durable Object (the source of truth; it makes strict
//!   mode's gate decision with the core's `verify`), `replica` its regional copies
//!   (regional mode), and `registry`, the list of applications and dashboard sessions;
//! - `protocol`: the messages to Durable Objects (the gate's, `aero2_keys::gate::wire`,
//!   among them); `kv`: all Workers KV access;
//! - `assertion`: the public keys that verify the gate's assertions (the JWKS);
//! - failed authentications are reported to the gate (`errors::Failure`), which counts
//!   them per address with its rate-limiting bindings;
//! - `schema`: SQLite schema versions and their migrations, for the Durable Objects;
//! - `config`: every setting; `clock`: the one clock; `errors`, `views`, `body`: errors,
//!   JSON shapes and request bodies.

mod accounts;
mod assertion;
mod body;
mod clock;
mod config;
mod errors;
mod evidence;
#[cfg(feature = "fault-injection")]
mod instrumentation;
mod json;
mod key_ring;
mod kv;
mod leaks;
mod management;
mod methods;
mod operator;
mod protocol;
mod registry;
mod replica;
mod router;
mod schema;
mod session;
mod views;
mod webcrypto;

pub use key_ring::KeyRingObject;
pub use registry::ApplicationRegistry;
pub use replica::ValidationReplica;

use worker::{event, Context, Env, Request, Response, Result};

#[event(fetch)]
pub async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let config = config::Config::cached(&env);
    Ok(router::route(req, &env, &config)
        .await
        .unwrap_or_else(errors::ApiError::into_response))
}
