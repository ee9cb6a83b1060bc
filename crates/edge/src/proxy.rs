//! Forwarding a gated request to the origin: without its key, with the identity the gate
//! established in `X-Aero2-*` headers that a client cannot forge.

use aero2_keys::gate::RequestTarget;
use aero2_keys::http::ErrorCode;
use aero2_keys::KeyIdentity;
use worker::{web_sys, Fetch, Headers, Method, Request, RequestInit, RequestRedirect, Response};

use crate::config::Config;
use crate::errors::ApiResult;
use crate::protocol::Validated;

/// Headers the gate sets for the origin. Any a client sends itself are dropped, so the
/// origin can trust them.
const FORWARDED_PREFIX: &str = "x-aero2-";

pub async fn forward(
    req: Request,
    target: &RequestTarget<'_>,
    config: &Config,
    key: &KeyIdentity,
    validated: &Validated,
) -> ApiResult<Response> {
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

    // Only the gated methods get here, and `worker::Method` knows each of them.
    let method = Method::from(crate::router::method(&req));
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
        ErrorCode::OriginUnreachable.into()
    })
}
