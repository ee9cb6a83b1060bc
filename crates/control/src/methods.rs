//! A request's method, and the endpoints' rule for it: every handler reads the method
//! here and refuses the ones it does not take with a 405 that lists those it does.

use worker::Request;

use crate::errors::{ApiError, ApiResult};

/// The request's method exactly as sent. (`worker::Method` turns every method it does not
/// know, `QUERY` or `PROPFIND`, into `GET`, so it must not be used to decide anything.)
pub fn method(req: &Request) -> String {
    req.inner().method()
}

/// Refuses a method the endpoint does not accept, with a 405 whose `Allow` header is
/// `allowed` (`"GET, POST"`): one string is both the rule and the header.
pub fn allow(method: &str, allowed: &'static str) -> ApiResult<()> {
    if allowed.split(", ").any(|name| name == method) {
        Ok(())
    } else {
        Err(ApiError::method_not_allowed(allowed))
    }
}
