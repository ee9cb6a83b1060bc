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

use std::future::Future;
use std::pin::Pin;

use worker::{event, Context, Env, Request, Response, Result};

/// An endpoint's future, boxed where it is dispatched. Unboxed, the compiler inlined every
/// endpoint's async state machine into its dispatcher's (the Worker's `fetch`, each
/// Durable Object's), and the size profile named three functions of 80 to 120 KB after
/// `js_sys::futures::future_to_promise`, which said nothing of where the code was. Boxed,
/// each endpoint is a function of its own in the profile (BENCHMARKS.md §5), for one
/// allocation per request; the total barely changed (measured: 3 KB gzipped less).
pub(crate) fn boxed<'a, T>(
    future: impl Future<Output = T> + 'a,
) -> Pin<Box<dyn Future<Output = T> + 'a>> {
    Box::pin(future)
}

#[event(fetch)]
pub async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let config = config::Config::cached(&env);
    Ok(router::route(req, &env, &config)
        .await
        .unwrap_or_else(errors::ApiError::into_response))
}
