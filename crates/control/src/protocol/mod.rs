//! The messages the worker sends to Durable Objects. Keys cross this boundary only as
//! storage ids (hashes), never as values.
//!
//! `ring`: the key ring's commands; `replica`: a regional replica's; `registry`: the
//! operator registry's. This file: what they share, and the transport.

mod registry;
mod replica;
mod ring;

pub use registry::*;
pub use replica::*;
pub use ring::*;

pub use aero2_keys::gate::{ClientInfo, KeyEvent, Observed};
use aero2_keys::http::ErrorCode;
use serde::{de::DeserializeOwned, Serialize};
use worker::{Method, Request, RequestInit, Response, Stub};

use crate::errors::{ApiError, ApiResult};

/// Who is calling, for the audit log: the address the platform reports and the browser,
/// cut to size (`aero2_keys::gate::ClientInfo`).
pub fn client_info(req: &Request) -> ClientInfo {
    let header = |name| req.headers().get(name).ok().flatten();
    ClientInfo::new(
        header("CF-Connecting-IP").as_deref(),
        header("User-Agent").as_deref(),
    )
}

/// Whether the request came from a browser, by its headers
/// ([`aero2_keys::gate::is_browser_request`]).
pub fn from_browser(req: &Request) -> bool {
    let header = |name| req.headers().get(name).ok().flatten();
    aero2_keys::gate::is_browser_request(
        header("Origin").as_deref(),
        header("Sec-Fetch-Mode").as_deref(),
        header("Sec-Fetch-Site").as_deref(),
    )
}

/// Posts a command, as JSON, to a Durable Object.
async fn send<T: Serialize>(stub: Stub, command: &T) -> ApiResult<Response> {
    let body = serde_json::to_string(command).map_err(|_| ErrorCode::TemporarilyUnavailable)?;
    send_text(stub, body).await
}

/// Posts a message as it is: the gate's hand-written ones, and (test builds) a previous
/// release's.
pub(crate) async fn send_text(stub: Stub, body: String) -> ApiResult<Response> {
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_body(Some(body.into()));
    let req = Request::new_with_init("https://durable-object.internal/", &init)?;
    Ok(stub.fetch_with_request(req).await?)
}

/// Reads a command in a Durable Object. Parsed by serde_json from the text, not by
/// `Request::json` (JavaScript's `JSON.parse` then a conversion): that is one string across
/// the JavaScript boundary instead of one call per field, and integers above 2^53 (audit
/// cursors) keep their value.
pub async fn read_command<T: DeserializeOwned>(req: &mut Request) -> ApiResult<T> {
    let text = req.text().await?;
    serde_json::from_str(&text)
        .map_err(|_| ApiError::with_detail(ErrorCode::InvalidRequest, "unreadable command"))
}

/// Passes a Durable Object's successful answer through as the public response, and turns
/// an error answer back into an error.
pub async fn relay(mut response: Response) -> ApiResult<Response> {
    if response.status_code() < 400 {
        return Ok(response);
    }
    let body = response.bytes().await?;
    let mut error = ApiError::from_wire(&body);
    // The headers that go with an error (a 429's Retry-After and RateLimit, a 405's
    // Allow) come through with it.
    for name in ApiError::RELAYED_HEADERS {
        if let Some(value) = response.headers().get(name).ok().flatten() {
            error = error.with_header(name, value);
        }
    }
    Err(error)
}

/// Reads a Durable Object's JSON answer, turning its error responses back into errors.
pub async fn read_answer<T: DeserializeOwned>(mut response: Response) -> ApiResult<T> {
    let body = response.bytes().await?;
    if !(200..300).contains(&response.status_code()) {
        return Err(ApiError::from_wire(&body));
    }
    serde_json::from_slice(&body).map_err(|_| ErrorCode::TemporarilyUnavailable.into())
}
