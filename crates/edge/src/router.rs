//! Which code answers a request. The worker's own endpoints are the management API
//! (secret-key authenticated, scoped to the key's application: `management.rs`), the
//! operator API (`operator.rs`), the dashboard session, the secret-scanning endpoint and
//! the OpenAPI document, and the public keys that verify the gate's assertions. Every other
//! path goes to the gate (`gate.rs`).

use aero2_keys::gate::RequestTarget;
use aero2_keys::http::path::normalize;
use aero2_keys::http::ErrorCode;
use worker::{Context, Env, Request, Response};

use crate::assertion::jwks_response;
use crate::config::{Config, ASSETS_BINDING};
use crate::errors::{ApiError, ApiResult};
use crate::gate::Gated;
use crate::{gate, leaks, management, operator, session};

pub async fn route(
    mut req: Request,
    env: &Env,
    ctx: &Context,
    config: &Config,
) -> ApiResult<Response> {
    let url = req.inner().url();
    let target = RequestTarget::split(&url);
    // One path for everything below: routing, the route check, the forwarded URL and
    // the signed assertion.
    let path = normalize(target.path).map_err(|_| ApiError::from(ErrorCode::InvalidPath))?;
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let method = method(&req);
    match segments.as_slice() {
        [".well-known", "jwks.json"] => {
            allow(&method, "GET, HEAD")?;
            jwks_response(
                config
                    .signing_key
                    .as_ref()
                    .map(|key| key.public_jwk())
                    .as_ref(),
                &config.previous_public_keys,
            )
        }
        #[cfg(feature = "instrumentation")]
        ["__instrumentation"] => Ok(crate::instrumentation::report()),
        // A static asset (`www/openapi.json`): 100 KB of JSON is not worth carrying in the
        // wasm bundle (10 KB gzipped) when the assets binding serves it as well.
        ["openapi.json"] => {
            allow(&method, "GET, HEAD")?;
            Ok(env.assets(ASSETS_BINDING)?.fetch_request(req).await?)
        }
        ["v1", "keys", ..] | ["v1", "audit_log"] | ["v1", "webhook_endpoints", ..] => {
            management::with_key(&mut req, &segments[1..], target.query, env).await
        }
        #[cfg(feature = "fault-injection")]
        ["__faults", "applications", application, fault] => {
            operator::inject_fault(&mut req, application, fault, env, config).await
        }
        ["v1", "dashboard", "session"] => session::handle(&mut req, env, config).await,
        ["v1", "dashboard", "sessions", rest @ ..] => {
            session::sessions(&mut req, rest, env, config).await
        }
        ["v1", "leaks", "github"] => {
            allow(&method, "POST")?;
            leaks::github_report(req, env, config).await
        }
        ["v1", "applications"] => operator::applications(&mut req, env, config).await,
        ["v1", "applications", application, rest @ ..] if !rest.is_empty() => {
            operator::manage(&mut req, application, rest, target.query, env, config).await
        }
        _ => {
            let gated = Gated {
                path: &path,
                query: target.query,
                gate_origin: target.origin,
            };
            gate::gate(req, gated, env, ctx, config).await
        }
    }
}

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
