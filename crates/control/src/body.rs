//! Reading request bodies with a size cap and a content-type check, so hostile bodies
//! (huge, nested, mistyped) end in a 4xx and never in a 500.

use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use worker::Request;

use aero2_keys::http::ErrorCode;

use crate::errors::{ApiError, ApiResult};

/// Larger than any valid management request by two orders of magnitude.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// Reads a JSON body. An empty body is `None`, for endpoints whose body is optional.
pub async fn read_optional_json<T: DeserializeOwned>(req: &mut Request) -> ApiResult<Option<T>> {
    let bytes = read_body(req, MAX_BODY_BYTES).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let is_json = req
        .headers()
        .get("Content-Type")
        .ok()
        .flatten()
        .and_then(|value| {
            value
                .split(';')
                .next()
                .map(|m| m.trim().to_ascii_lowercase())
        })
        .is_some_and(|mime| mime == "application/json");
    if !is_json {
        return Err(ErrorCode::UnsupportedMediaType.into());
    }
    // Every management body is an object. serde would also read a struct from an array
    // of its fields in order (`[null, null]`), which no client means and the schema
    // does not allow (found by schemathesis).
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        return Err(ApiError::with_detail(
            ErrorCode::InvalidRequest,
            "the request body must be a JSON object; see /openapi.json",
        ));
    }
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|err| ApiError::with_detail(ErrorCode::InvalidRequest, describe_json_error(&err)))
}

pub async fn read_json<T: DeserializeOwned>(req: &mut Request) -> ApiResult<T> {
    read_optional_json(req).await?.ok_or_else(|| {
        ApiError::with_detail(ErrorCode::InvalidRequest, "this endpoint needs a JSON body")
    })
}

/// serde_json's own messages can quote input (an unknown variant or field is echoed),
/// and a user may paste a key anywhere, so only the category, the position and a
/// missing field's name (which comes from our schema, not the input) are reported.
fn describe_json_error(err: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let what = match err.classify() {
        Category::Syntax | Category::Eof | Category::Io => "is not valid JSON",
        Category::Data => "does not match this endpoint's schema",
    };
    let message = err.to_string();
    let missing = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next())
        .filter(|field| field.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
    match missing {
        Some(field) => format!("the request body is missing the field \"{field}\""),
        None => format!(
            "the request body {what} (line {}, column {}); see /openapi.json",
            err.line(),
            err.column()
        ),
    }
}

/// Reads a whole body of at most `max_bytes`, refusing larger ones with a 413 before
/// reading them when they declare their length, and as soon as they pass it otherwise.
pub async fn read_body(req: &mut Request, max_bytes: usize) -> ApiResult<Vec<u8>> {
    let too_large = || {
        ApiError::with_detail(
            ErrorCode::PayloadTooLarge,
            format!("request bodies are limited to {max_bytes} bytes"),
        )
    };
    let declared = req
        .headers()
        .get("Content-Length")
        .ok()
        .flatten()
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|len| len > max_bytes as u64) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    let Ok(mut stream) = req.stream() else {
        // No body at all.
        return Ok(body);
    };
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| {
            ApiError::with_detail(
                ErrorCode::InvalidRequest,
                "the request body could not be read",
            )
        })?;
        if body.len() + chunk.len() > max_bytes {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
