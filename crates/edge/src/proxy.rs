//! Forwarding a gated request to the origin: without its key or the worker's cookies,
//! with the identity the gate established in `X-Aero2-*` headers that a client cannot
//! forge, and with `X-Aero2-Assertion`, a signed JWT the origin can verify
//! (`assertion.rs`). Which client headers pass is the core's rule
//! ([`aero2_keys::http::forwarding`]).

use aero2_keys::http::forwarding::{
    carries_secret_key, drop_request_header, forwardable_cookies, sets_worker_cookie,
    AssertionClaims,
};
use aero2_keys::http::ErrorCode;
use aero2_keys::{encode_hex, KeyIdentity, RandomSource, SystemRandom};
use worker::{web_sys, Fetch, Headers, Method, Request, RequestInit, RequestRedirect, Response};

use crate::assertion::{self, SigningKey};
use crate::clock::now;
use crate::config::Config;
use crate::errors::{ApiError, ApiResult};
use crate::protocol::Validated;

/// What the gate decided about a request, for the origin.
pub struct Forward<'a> {
    pub key: &'a KeyIdentity,
    pub validated: &'a Validated,
    /// The normalised path (`aero2_keys::http::path`), and the query as sent.
    pub path: &'a str,
    pub query: Option<&'a str>,
    /// The gate's own origin, for the assertion's `iss` when `ASSERTION_ISSUER` is unset.
    pub gate_origin: &'a str,
}

pub async fn forward(
    req: Request,
    config: &Config,
    signing_key: &SigningKey,
    forward: Forward<'_>,
) -> ApiResult<Response> {
    let origin = config.origin_for(forward.key.environment);
    if origin.is_empty() {
        return Err(ErrorCode::OriginNotConfigured.into());
    }
    let mut target = String::with_capacity(forward.path.len() + 64);
    target.push_str(forward.path);
    if let Some(query) = forward.query {
        target.push('?');
        target.push_str(query);
    }
    let destination = format!("{origin}{target}");
    let method_name = crate::router::method(&req);

    // Copy the headers inside JavaScript, then remove what the origin must not get. A
    // secret key in any header but Authorization, cookies included, as sent or
    // percent-decoded, is refused: the origin would get it.
    let client = req.headers();
    let headers =
        Headers(web_sys::Headers::new_with_headers(&client.0).map_err(worker::Error::from)?);
    let mut dropped: Vec<String> = Vec::new();
    for (name, value) in headers.entries() {
        if drop_request_header(&name) {
            dropped.push(name);
        } else if carries_secret_key(&value) {
            return Err(ErrorCode::SecretKeyOutsideAuthorization.into());
        }
    }
    for name in dropped {
        headers.delete(&name)?;
    }
    if let Some(cookies) = client
        .get("Cookie")
        .ok()
        .flatten()
        .and_then(|cookie| forwardable_cookies(&cookie))
    {
        if carries_secret_key(&cookies) {
            return Err(ErrorCode::SecretKeyOutsideAuthorization.into());
        }
        headers.set("Cookie", &cookies)?;
    }
    if let Some(address) = client.get("CF-Connecting-IP").ok().flatten() {
        headers.set("X-Aero2-Client-Ip", &address)?;
        // For the libraries that read this one: the platform's address, not the client's.
        headers.set("X-Forwarded-For", &address)?;
    }
    let key = forward.key;
    headers.set("X-Aero2-Application-Id", &key.application_id.to_string())?;
    headers.set("X-Aero2-Environment", key.environment.as_str())?;
    headers.set("X-Aero2-Key-Id", &forward.validated.key_id.to_string())?;
    headers.set("X-Aero2-Key-Kind", forward.validated.kind.as_str())?;

    let mut jti = [0u8; 16];
    SystemRandom
        .fill_bytes(&mut jti)
        .map_err(|_| ErrorCode::RandomUnavailable)?;
    let jti = encode_hex(&jti);
    let claims = AssertionClaims {
        issuer: config
            .assertion_issuer
            .as_deref()
            .unwrap_or(forward.gate_origin),
        audience: origin,
        key_id: forward.validated.key_id,
        application_id: key.application_id,
        environment: key.environment,
        kind: forward.validated.kind,
        method: &method_name,
        target: &target,
        issued_at: now().0 / 1000,
        jwt_id: &jti,
    };
    headers.set(
        "X-Aero2-Assertion",
        &assertion::sign(signing_key, &claims).await?,
    )?;

    // Only the gated methods get here, and `worker::Method` knows each of them.
    let method = Method::from(method_name);
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
    let response = Fetch::Request(outbound).send().await.map_err(|err| {
        worker::console_error!("origin request failed: {err}");
        ApiError::from(ErrorCode::OriginUnreachable)
    })?;
    without_worker_cookies(response)
}

/// The origin's answer without any `Set-Cookie` that sets one of the worker's own cookies
/// ([`sets_worker_cookie`]): the gate answers on the dashboard's host, so the origin could
/// otherwise plant or overwrite the dashboard's session. One header lookup when the origin
/// sets no cookie.
fn without_worker_cookies(response: Response) -> ApiResult<Response> {
    if !response.headers().has("Set-Cookie")? {
        return Ok(response);
    }
    // Iterating a Headers object yields each Set-Cookie on its own.
    let entries: Vec<(String, String)> = response.headers().entries().collect();
    if !entries
        .iter()
        .any(|(name, value)| name.eq_ignore_ascii_case("set-cookie") && sets_worker_cookie(value))
    {
        return Ok(response);
    }
    let headers = Headers::new();
    for (name, value) in entries {
        if !(name.eq_ignore_ascii_case("set-cookie") && sets_worker_cookie(&value)) {
            headers.append(&name, &value)?;
        }
    }
    Ok(response.with_headers(headers))
}
