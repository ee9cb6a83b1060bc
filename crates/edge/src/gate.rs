//! The gate: where a key is validated. Every request that is not for the worker's own API
//! is authenticated by its API key, authorised for its route, and proxied to the origin
//! without the key (`proxy.rs`).
//!
//! The decisions are the core's ([`admit`], then [`authorize`]). In `strict` mode the
//! application's key ring makes them against its authoritative record (`key_ring`'s
//! `validate`); in `edge` mode this file makes them against the Workers KV record.
//!
//! Before any storage read: the method, the key's format and checksum, the client
//! address's failure count, a CORS preflight, and whether requests can be signed for the
//! origin at all. Then, in strict mode, whether the key's application exists (one KV read
//! at most, none once seen) before the Durable Object is asked.

use aero2_keys::gate::{admit, authorize, is_browser_request, key_from_authorization, Rejection};
use aero2_keys::http::cors::{self, is_preflight, reflectable_origin};
use aero2_keys::http::ErrorCode;
use aero2_keys::{KeyIdentity, UnixMillis};
use worker::{web_sys, Context, Env, Headers, Request, Response};

use crate::clock::now;
use crate::config::{Config, ValidationMode};
use crate::errors::{ApiError, ApiResult};
use crate::protocol::{read_answer, to_key_ring, ClientInfo, RingCommand, Validated};
use crate::proxy::{self, Forward};
use crate::router::{allow, method};
use crate::{kv, limits, usage};

/// Methods that are gated and forwarded. Others (`TRACE`, `CONNECT`, …) are refused: a
/// `TRACE` would echo the request, headers and all, back through the origin.
const GATED_METHODS: &str = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS";

/// A request the router sent to the gate, with its path already normalised.
pub struct Gated<'a> {
    pub path: &'a str,
    pub query: Option<&'a str>,
    /// `scheme://host[:port]` of the request.
    pub gate_origin: &'a str,
}

pub async fn gate(
    req: Request,
    target: Gated<'_>,
    env: &Env,
    ctx: &Context,
    config: &Config,
) -> ApiResult<Response> {
    let header = |name| req.headers().get(name).ok().flatten();
    let method = method(&req);
    allow(&method, GATED_METHODS)?;
    // CORS applies to frontend routes only: no page can call a secret-key route.
    let frontend = config.frontend_routes.matches(target.path);
    let cors_origin = header("Origin")
        .filter(|_| frontend)
        .and_then(|origin| reflectable_origin(&origin).map(str::to_owned));
    if frontend
        && is_preflight(
            &method,
            header("Origin").as_deref(),
            header("Access-Control-Request-Method").as_deref(),
        )
    {
        return preflight(
            cors_origin.as_deref(),
            header("Access-Control-Request-Headers"),
        );
    }
    let response = validate_and_forward(req, &target, env, ctx, config)
        .await
        .unwrap_or_else(ApiError::into_response);
    match cors_origin {
        Some(origin) => with_cors(response, &origin),
        None => Ok(response),
    }
}

async fn validate_and_forward(
    req: Request,
    target: &Gated<'_>,
    env: &Env,
    ctx: &Context,
    config: &Config,
) -> ApiResult<Response> {
    let header = req.headers().get("Authorization").ok().flatten();
    // Malformed keys and bad checksums stop here, before any storage read.
    let key = key_from_authorization(header.as_deref())?;
    let now = now();
    let address = limits::client_address(&req);
    limits::FAILED_AUTH.refuse_if_blocked(&address, now)?;
    // Nothing is forwarded unsigned: without a signing key, no request needs a lookup.
    let Some(signing_key) = config.signing_key.as_ref() else {
        return Err(ErrorCode::OriginSigningNotConfigured.into());
    };
    let validated = match validate(&req, &key, target.path, env, ctx, config, now).await {
        Ok(validated) => validated,
        // A key that does not authenticate counts against its address.
        Err(err) if err.code.status() == 401 => {
            return Err(limits::FAILED_AUTH
                .count(env, &address, now)
                .await
                .unwrap_or(err));
        }
        Err(err) => return Err(err),
    };
    let forward = Forward {
        key: &key,
        validated: &validated,
        path: target.path,
        query: target.query,
        gate_origin: target.gate_origin,
    };
    proxy::forward(req, config, signing_key, forward).await
}

async fn validate(
    req: &Request,
    key: &KeyIdentity,
    path: &str,
    env: &Env,
    ctx: &Context,
    config: &Config,
    now: UnixMillis,
) -> ApiResult<Validated> {
    let from_browser = from_browser(req);
    // Who sent it only matters for the audit entry of a browser exposure.
    let client = || {
        if from_browser {
            ClientInfo::of(req)
        } else {
            ClientInfo::default()
        }
    };
    match config.mode(key.kind) {
        ValidationMode::Strict => {
            // Forged keys name applications at random: refuse those here, without
            // waking (or creating) a Durable Object.
            if !kv::application_exists(env, key.application_id).await? {
                return Err(Rejection::UnknownKey.into());
            }
            let command = RingCommand::Validate {
                key: *key,
                path: path.to_owned(),
                from_browser,
                client: client(),
            };
            read_answer(to_key_ring(env, key.application_id, &command).await?).await
        }
        ValidationMode::Edge => {
            let record = kv::edge_record(env, &key.storage_id)
                .await?
                .ok_or(Rejection::UnknownKey)?;
            admit(record.view(), key, now)?;
            usage::count(ctx, env, record.application_id, record.key_id, now);
            if let Err(rejection) =
                authorize(record.kind, path, &config.frontend_routes, from_browser)
            {
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
            Ok(Validated {
                key_id: record.key_id,
                kind: record.kind,
            })
        }
    }
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

/// 204 to a preflight on a frontend route, with no storage read.
fn preflight(origin: Option<&str>, requested_headers: Option<String>) -> ApiResult<Response> {
    let headers = Headers::new();
    if let Some(origin) = origin {
        headers.set("Access-Control-Allow-Origin", origin)?;
        headers.set("Access-Control-Allow-Methods", cors::ALLOW_METHODS)?;
        headers.set(
            "Access-Control-Allow-Headers",
            &cors::allow_headers(requested_headers.as_deref()),
        )?;
        headers.set("Access-Control-Max-Age", &cors::MAX_AGE_SECONDS.to_string())?;
    }
    headers.set(
        "Vary",
        "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
    )?;
    Ok(Response::empty()?.with_status(204).with_headers(headers))
}

/// Lets the page read the answer, the origin's or the gate's own error.
fn with_cors(response: Response, origin: &str) -> ApiResult<Response> {
    // An origin's response has immutable headers: work on a copy.
    let headers = Headers(
        web_sys::Headers::new_with_headers(&response.headers().0).map_err(worker::Error::from)?,
    );
    headers.set("Access-Control-Allow-Origin", origin)?;
    headers.set("Access-Control-Expose-Headers", cors::EXPOSE_HEADERS)?;
    headers.append("Vary", "Origin")?;
    Ok(response.with_headers(headers))
}
