//! Every error the worker returns: JSON `{"error":{"code","message"}}` with a stable code.

use aero2_keys::gate::Rejection;
use aero2_keys::LifecycleError;
use serde::Serialize;
use worker::{console_error, Headers, Response};

#[derive(Debug)]
pub struct ApiError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn not_found() -> Self {
        Self::new(404, "not_found", "no such endpoint")
    }

    pub fn method_not_allowed(allowed: &str) -> Self {
        Self::new(
            405,
            "method_not_allowed",
            format!("this endpoint accepts {allowed}"),
        )
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(400, code, message)
    }

    pub fn unavailable() -> Self {
        Self::new(
            503,
            "temporarily_unavailable",
            "the service could not complete the request; retry shortly",
        )
    }

    pub fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: &self.message,
            },
        };
        let headers = Headers::new();
        if self.status == 401 {
            let _ = headers.set(
                "WWW-Authenticate",
                &format!(
                    "Bearer realm=\"aero2\", error=\"invalid_token\", error_description=\"{}\"",
                    self.code
                ),
            );
        }
        json_response_with(self.status, &body, headers)
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorDetail<'a>,
}

#[derive(Serialize)]
struct ErrorDetail<'a> {
    code: &'a str,
    message: &'a str,
}

impl From<Rejection> for ApiError {
    fn from(rejection: Rejection) -> Self {
        ApiError::new(
            rejection.http_status(),
            rejection.code(),
            rejection.to_string(),
        )
    }
}

impl From<LifecycleError> for ApiError {
    fn from(err: LifecycleError) -> Self {
        let status = match err {
            LifecycleError::KeyNotFound => 404,
            LifecycleError::GracePeriodOutOfRange { .. } | LifecycleError::InvalidLabel => 400,
            LifecycleError::Random(_) => 503,
            LifecycleError::AlreadyRevoked
            | LifecycleError::AlreadyRotating
            | LifecycleError::RotateRevoked
            | LifecycleError::LastActiveSecretKey
            | LifecycleError::TooManyKeys => 409,
        };
        ApiError::new(status, err.code(), err.to_string())
    }
}

/// Failures of the platform (storage, bindings, subrequests). The detail is logged for
/// operators; the client gets a retryable 503. Worker errors never carry key material:
/// keys are only ever handled as [`aero2_keys::ApiKey`], whose formatting is redacted.
impl From<worker::Error> for ApiError {
    fn from(err: worker::Error) -> Self {
        console_error!("platform error: {err}");
        ApiError::unavailable()
    }
}

impl From<worker::kv::KvError> for ApiError {
    fn from(err: worker::kv::KvError) -> Self {
        console_error!("kv error: {err}");
        ApiError::unavailable()
    }
}

/// A JSON response that no cache or proxy may keep: some carry a key's value once.
pub fn json_response<T: Serialize>(status: u16, value: &T) -> Response {
    json_response_with(status, value, Headers::new())
}

fn json_response_with<T: Serialize>(status: u16, value: &T, headers: Headers) -> Response {
    let body = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
    let _ = headers.set("Content-Type", "application/json; charset=utf-8");
    let _ = headers.set("Cache-Control", "no-store");
    let _ = headers.set("X-Content-Type-Options", "nosniff");
    Response::builder()
        .with_status(status)
        .with_headers(headers)
        .fixed(body)
}
