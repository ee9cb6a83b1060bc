//! The gate: every request that is not for the worker's own API is authenticated by its
//! API key, authorised for its route, and proxied to the origin without the key.

use aero2_keys::gate::{
    authorize, is_browser_request, key_from_authorization, EdgeRecord, Rejection, RequestTarget,
};
use aero2_keys::{KeyIdentity, UnixMillis};
use worker::{
    web_sys, Context, Env, Fetch, Headers, Method, Request, RequestInit, RequestRedirect, Response,
};

use crate::config::{Config, ValidationMode, KV_BINDING};
use crate::error::{ApiError, ApiResult};
use crate::protocol::{read_answer, to_key_ring, ClientInfo, RingCommand, Validated};
use crate::usage;

/// Headers the gate sets for the origin. Any a client sends itself are dropped, so the
/// origin can trust them.
const FORWARDED_PREFIX: &str = "x-aero2-";

pub async fn gate(
    req: Request,
    target: &RequestTarget<'_>,
    env: &Env,
    ctx: &Context,
    config: &Config,
) -> ApiResult<Response> {
    let header = req.headers().get("Authorization").ok().flatten();
    // Malformed keys and bad checksums stop here, before any storage read.
    let key = key_from_authorization(header.as_deref())?;
    let from_browser = from_browser(&req);
    let now = UnixMillis(worker::Date::now().as_millis());

    let validated = match config.mode(key.kind) {
        ValidationMode::Strict => {
            let command = RingCommand::Validate {
                storage_id: key.storage_id,
                kind: key.kind,
                from_browser,
                // Who sent it only matters for the audit entry of a browser exposure.
                client: if from_browser {
                    ClientInfo::of(&req)
                } else {
                    ClientInfo::default()
                },
            };
            let answer = to_key_ring(env, key.application_id, &command).await?;
            match read_answer::<Validated>(answer).await? {
                Ok(validated) => validated,
                // The key ring's refusal is already the public error response.
                Err(refusal) => return Ok(refusal),
            }
        }
        ValidationMode::Edge => {
            #[cfg(feature = "instrumentation")]
            crate::instrumentation::kv_read();
            // Read as text and parse in Rust: one string crosses the JavaScript boundary,
            // rather than one call per field of a JavaScript object.
            let text = env
                .kv(KV_BINDING)?
                .get(&key.storage_id.to_hex())
                .text()
                .await?
                .ok_or(Rejection::UnknownKey)?;
            let record: EdgeRecord = serde_json::from_str(&text).map_err(|_| {
                worker::console_error!("undecodable KV record for a key");
                ApiError::unavailable()
            })?;
            record.check(&key, now)?;
            usage::count(ctx, env, record.application_id, record.key_id, now);
            if from_browser && record.kind == aero2_keys::KeyKind::Secret {
                let (env, application, key_id, client) = (
                    env.clone(),
                    record.application_id,
                    record.key_id,
                    ClientInfo::of(&req),
                );
                ctx.wait_until(async move {
                    let _ = to_key_ring(
                        &env,
                        application,
                        &RingCommand::RecordBrowserExposure { key_id, client },
                    )
                    .await;
                });
            }
            Validated {
                key_id: record.key_id,
                kind: record.kind,
            }
        }
    };
    authorize(key.kind, target.path, &config.frontend_routes, from_browser)?;
    proxy(req, target, config, &key, &validated).await
}

pub fn from_browser(req: &Request) -> bool {
    let header = |name| req.headers().get(name).ok().flatten();
    is_browser_request(
        header("Origin").as_deref(),
        header("Sec-Fetch-Mode").as_deref(),
        header("Sec-Fetch-Site").as_deref(),
    )
}

async fn proxy(
    req: Request,
    target: &RequestTarget<'_>,
    config: &Config,
    key: &KeyIdentity,
    validated: &Validated,
) -> ApiResult<Response> {
    if config.origin_url.is_empty() {
        return Err(ApiError::new(
            502,
            "origin_not_configured",
            "ORIGIN_URL is not set",
        ));
    }
    let mut destination = format!("{}{}", config.origin_url, target.path);
    if let Some(query) = target.query {
        destination.push('?');
        destination.push_str(query);
    }
    // Copy the headers inside JavaScript, then remove what the origin must not get; only
    // header names cross into wasm.
    let headers =
        Headers(web_sys::Headers::new_with_headers(&req.headers().0).map_err(worker::Error::from)?);
    let drop: Vec<String> = headers
        .keys()
        .filter(|name| {
            name == "authorization" || name == "host" || name.starts_with(FORWARDED_PREFIX)
        })
        .collect();
    for name in drop {
        headers.delete(&name)?;
    }
    headers.set("X-Aero2-Application-Id", &key.application_id.to_string())?;
    headers.set("X-Aero2-Environment", key.environment.as_str())?;
    headers.set("X-Aero2-Key-Id", &validated.key_id.to_string())?;
    headers.set("X-Aero2-Key-Kind", validated.kind.as_str())?;

    let method = req.method();
    let body = match method {
        Method::Get | Method::Head => None,
        _ => req.inner().body().map(Into::into),
    };
    let mut init = RequestInit::new();
    init.with_method(method)
        .with_headers(headers)
        .with_redirect(RequestRedirect::Manual)
        .with_body(body);
    let outbound = Request::new_with_init(&destination, &init)?;
    Fetch::Request(outbound).send().await.map_err(|err| {
        worker::console_error!("origin request failed: {err}");
        ApiError::new(
            502,
            "origin_unreachable",
            "the origin server could not be reached",
        )
    })
}
