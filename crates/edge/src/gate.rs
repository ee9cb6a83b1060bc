//! The gate: where a key is validated. Every request that is not for the worker's own API
//! is authenticated by its API key, authorised for its route, and proxied to the origin
//! without the key (`proxy.rs`).
//!
//! The decisions are the core's ([`admit`], then [`authorize`]). In `strict` mode the
//! application's key ring makes them against its authoritative record (`key_ring`'s
//! `validate`); in `edge` mode this file makes them against the Workers KV record.

use aero2_keys::gate::{
    admit, authorize, is_browser_request, key_from_authorization, Rejection, RequestTarget,
};
use aero2_keys::http::ErrorCode;
use worker::{Context, Env, Request, Response};

use crate::clock::now;
use crate::config::{Config, ValidationMode};
use crate::errors::ApiResult;
use crate::protocol::{read_answer, to_key_ring, ClientInfo, RingCommand, Validated};
use crate::router::{allow, method};
use crate::{kv, proxy, usage};

/// Methods that are gated and forwarded. Others (`TRACE`, `CONNECT`, …) are refused: a
/// `TRACE` would echo the request, headers and all, back through the origin.
const GATED_METHODS: &str = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS";

pub async fn gate(
    req: Request,
    target: &RequestTarget<'_>,
    env: &Env,
    ctx: &Context,
    config: &Config,
) -> ApiResult<Response> {
    allow(&method(&req), GATED_METHODS)?;
    let header = req.headers().get("Authorization").ok().flatten();
    // Malformed keys and bad checksums stop here, before any storage read.
    let key = key_from_authorization(header.as_deref())?;
    let from_browser = from_browser(&req);
    let now = now();
    // Who sent it only matters for the audit entry of a browser exposure.
    let client = || {
        if from_browser {
            ClientInfo::of(&req)
        } else {
            ClientInfo::default()
        }
    };

    let validated = match config.mode(key.kind) {
        ValidationMode::Strict => {
            let command = RingCommand::Validate {
                key,
                path: target.path.to_owned(),
                from_browser,
                client: client(),
            };
            read_answer::<Validated>(to_key_ring(env, key.application_id, &command).await?).await?
        }
        ValidationMode::Edge => {
            let record = kv::edge_record(env, &key.storage_id)
                .await?
                .ok_or(Rejection::UnknownKey)?;
            admit(record.view(), &key, now)?;
            usage::count(ctx, env, record.application_id, record.key_id, now);
            if let Err(rejection) = authorize(
                record.kind,
                target.path,
                &config.frontend_routes,
                from_browser,
            ) {
                if rejection == Rejection::SecretKeyInBrowser {
                    let command = RingCommand::RecordBrowserExposure {
                        key_id: record.key_id,
                        client: client(),
                    };
                    let (env, application) = (env.clone(), record.application_id);
                    ctx.wait_until(async move {
                        let _ = to_key_ring(&env, application, &command).await;
                    });
                }
                return Err(rejection.into());
            }
            Validated {
                key_id: record.key_id,
                kind: record.kind,
            }
        }
    };
    if config.origin_url.is_empty() {
        return Err(ErrorCode::OriginNotConfigured.into());
    }
    proxy::forward(req, target, config, &key, &validated).await
}

/// Whether the request came from a browser, by its headers ([`is_browser_request`]).
pub fn from_browser(req: &Request) -> bool {
    let header = |name| req.headers().get(name).ok().flatten();
    is_browser_request(
        header("Origin").as_deref(),
        header("Sec-Fetch-Mode").as_deref(),
        header("Sec-Fetch-Site").as_deref(),
    )
}
