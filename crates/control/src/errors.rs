//! The worker's errors: a public [`ErrorCode`] (status and default message come from the
//! core's catalogue) with, at most, a more precise sentence. Rendered as
//! `{"error":{"code","message"}}`.

use aero2_keys::gate::Rejection;
use aero2_keys::http::ErrorCode;
use aero2_keys::LifecycleError;
use serde::{Deserialize, Serialize};
use worker::{console_error, Headers, Response};

use crate::json::json_response_with;

#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    /// Replaces the code's default message when there is something more precise to say.
    /// It never quotes a key.
    detail: Option<String>,
    /// Headers the answer needs (`Allow` on a 405, `Retry-After` on a 429, …).
    headers: Vec<(&'static str, String)>,
}

/// A failed authentication, reported to the gate in `X-Aero2-Failure`: the gate counts it
/// against the client's address (and a key's application) with its rate-limiting
/// bindings, answers 429 past the limit, and removes the header. The control plane keeps
/// no counts of its own: every request reaches it through the gate, which sees them all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// A key that did not authenticate at the management API (`FAILED_AUTH_APP_LIMITER`
    /// for its application, then `FAILED_AUTH_LIMITER`).
    Key(aero2_keys::ApplicationId),
    /// A session cookie that names no session (`FAILED_AUTH_LIMITER`).
    Session,
    /// A wrong operator token, or a wrong sign-in (`SIGN_IN_LIMITER`).
    SignIn,
}

impl Failure {
    /// The header's value: `key app_…`, `session` or `sign-in`.
    pub fn header(self) -> String {
        match self {
            Failure::Key(application) => format!("key {application}"),
            Failure::Session => "session".to_owned(),
            Failure::SignIn => "sign-in".to_owned(),
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn with_detail(code: ErrorCode, detail: impl Into<String>) -> Self {
        ApiError {
            code,
            detail: Some(detail.into()),
            headers: Vec::new(),
        }
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// 405, naming the methods that are accepted (RFC 9110 requires `Allow`).
    pub fn method_not_allowed(allow: &'static str) -> Self {
        ApiError::with_detail(
            ErrorCode::MethodNotAllowed,
            format!("this endpoint accepts {allow}"),
        )
        .with_header("Allow", allow)
    }

    /// Reports this error to the gate as a failed authentication.
    pub fn counted(self, failure: Failure) -> Self {
        self.with_header("X-Aero2-Failure", failure.header())
    }

    /// A 429 (or 503) that says when to come back.
    pub fn retry_after(code: ErrorCode, seconds: u64) -> Self {
        ApiError::from(code).with_header("Retry-After", seconds.to_string())
    }

    pub fn message(&self) -> &str {
        self.detail.as_deref().unwrap_or(self.code.message())
    }

    /// Decodes an error a Durable Object answered with (the same JSON shape).
    /// The headers of an error answer that [`crate::protocol::relay`] keeps when it
    /// relays a Durable Object's error.
    pub const RELAYED_HEADERS: [&'static str; 4] =
        ["Retry-After", "RateLimit-Policy", "RateLimit", "Allow"];

    pub fn from_wire(body: &[u8]) -> Self {
        serde_json::from_slice::<ErrorBody>(body)
            .map(|body| ApiError::with_detail(body.error.code, body.error.message))
            .unwrap_or_else(|_| {
                console_error!("a Durable Object answered with an undecodable error");
                ErrorCode::TemporarilyUnavailable.into()
            })
    }

    pub fn into_response(self) -> Response {
        let headers = Headers::new();
        if self.code.status() == 401 {
            let _ = headers.set(
                "WWW-Authenticate",
                &format!(
                    "Bearer realm=\"aero2\", error=\"invalid_token\", error_description=\"{}\"",
                    self.code
                ),
            );
        }
        for (name, value) in &self.headers {
            let _ = headers.set(name, value);
        }
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message().to_owned(),
            },
        };
        json_response_with(self.code.status(), &body, headers)
    }
}

#[derive(Serialize, Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Serialize, Deserialize)]
struct ErrorDetail {
    code: ErrorCode,
    message: String,
}

impl From<ErrorCode> for ApiError {
    fn from(code: ErrorCode) -> Self {
        ApiError {
            code,
            detail: None,
            headers: Vec::new(),
        }
    }
}

impl From<Rejection> for ApiError {
    fn from(rejection: Rejection) -> Self {
        match rejection {
            // Says what exactly is wrong with the key (a position, a length), never the key.
            Rejection::Malformed(err) => {
                ApiError::with_detail(ErrorCode::from(rejection), err.message())
            }
            _ => ErrorCode::from(rejection).into(),
        }
    }
}

impl From<LifecycleError> for ApiError {
    fn from(err: LifecycleError) -> Self {
        // An invalid policy names its field; the others are the code's own sentence.
        ApiError::with_detail(ErrorCode::from(err), err.to_string())
    }
}

/// Failures of the platform (storage, bindings, subrequests). The detail is logged for
/// operators; the client gets a retryable 503. Worker errors never carry key material:
/// keys are only ever handled as [`aero2_keys::ApiKey`], whose formatting is redacted.
impl From<worker::Error> for ApiError {
    fn from(err: worker::Error) -> Self {
        console_error!("platform error: {err}");
        ErrorCode::TemporarilyUnavailable.into()
    }
}

impl From<worker::kv::KvError> for ApiError {
    fn from(err: worker::kv::KvError) -> Self {
        console_error!("kv error: {err}");
        ErrorCode::TemporarilyUnavailable.into()
    }
}
