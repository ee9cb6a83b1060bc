//! The Aero2 Keys Cloudflare Worker: a thin adapter from HTTP, Workers KV and Durable
//! Objects to the pure rules in `aero2-keys`.

mod api;
mod body;
mod config;
mod error;
mod gate;
#[cfg(feature = "instrumentation")]
mod instrumentation;
mod key_ring;
mod leaks;
mod protocol;
mod registry;
mod session;
mod usage;
mod views;

pub use key_ring::KeyRingObject;
pub use registry::ApplicationRegistry;

use worker::{event, Context, Env, Request, Response, Result};

#[event(fetch)]
pub async fn fetch(req: Request, env: Env, ctx: Context) -> Result<Response> {
    let config = config::Config::cached(&env);
    Ok(api::route(req, &env, &ctx, &config)
        .await
        .unwrap_or_else(error::ApiError::into_response))
}
