//! Writing JSON responses: the one place that sets their content type and the headers
//! that keep them out of caches (some carry a key's value, once) and out of MIME sniffing.

use serde::Serialize;
use worker::{Headers, Response};

/// A JSON response that no cache or proxy may keep: some carry a key's value once.
pub fn json_response<T: Serialize>(status: u16, value: &T) -> Response {
    json_response_with(status, value, Headers::new())
}

pub fn json_response_with<T: Serialize>(status: u16, value: &T, headers: Headers) -> Response {
    let body = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
    let _ = headers.set("Content-Type", "application/json; charset=utf-8");
    let _ = headers.set("Cache-Control", "no-store");
    let _ = headers.set("X-Content-Type-Options", "nosniff");
    Response::builder()
        .with_status(status)
        .with_headers(headers)
        .fixed(body)
}
