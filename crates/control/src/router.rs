//! Which code answers a request. The control plane's endpoints are the management API
//! (secret-key authenticated, scoped to the key's application: `management.rs`), the
//! operator API (`operator.rs`), the dashboard session, the secret-scanning endpoint and
//! the OpenAPI document, and the public keys that verify the gate's assertions. The gate
//! sends only these paths here (`aero2_keys::gate::route`); anything else is 404.

use aero2_keys::gate::RequestTarget;
use aero2_keys::http::path::normalize;
use aero2_keys::http::ErrorCode;
use worker::{Env, Request, Response};

use crate::assertion::jwks_response;
use crate::config::Config;
use crate::errors::{ApiError, ApiResult};
use crate::methods::{allow, method};
use crate::{accounts, boxed, leaks, management, operator, session};

pub async fn route(mut req: Request, env: &Env, config: &Config) -> ApiResult<Response> {
    let url = req.inner().url();
    let target = RequestTarget::split(&url);
    // The path as the gate read it (the same core function): routing and nothing else.
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
        #[cfg(feature = "fault-injection")]
        ["__instrumentation"] => Ok(crate::instrumentation::report()),
        ["v1", "keys", ..] | ["v1", "audit_log", ..] | ["v1", "webhook_endpoints", ..] => {
            boxed(management::with_key(
                &mut req,
                &segments[1..],
                target.query,
                env,
            ))
            .await
        }
        #[cfg(feature = "fault-injection")]
        ["__faults", "applications", application, fault] => {
            boxed(operator::inject_fault(
                &mut req,
                application,
                fault,
                env,
                config,
            ))
            .await
        }
        #[cfg(feature = "fault-injection")]
        ["__faults", "session", "age"] => boxed(session::age(&mut req, env)).await,
        ["v1", "dashboard", "session"] => boxed(session::handle(&mut req, env, config)).await,
        ["v1", "dashboard", "sessions", rest @ ..] => {
            boxed(session::sessions(&mut req, rest, env, config)).await
        }
        ["v1", "leaks", "github"] => {
            allow(&method, "POST")?;
            boxed(leaks::github_report(req, env, config)).await
        }
        ["v1", "applications"] => boxed(operator::applications(&mut req, env, config)).await,
        ["v1", "applications", application] => {
            boxed(operator::application(&mut req, application, env, config)).await
        }
        ["v1", "accounts", rest @ ..] => {
            boxed(accounts::accounts(
                &mut req,
                rest,
                target.query,
                env,
                config,
            ))
            .await
        }
        ["v1", "invitations", rest @ ..] => boxed(accounts::invitations(&mut req, rest, env)).await,
        ["v1", "passkeys", rest @ ..] => {
            boxed(accounts::passkeys(&mut req, rest, env, config)).await
        }
        ["v1", "applications", application, rest @ ..] if !rest.is_empty() => {
            boxed(operator::manage(
                &mut req,
                application,
                rest,
                target.query,
                env,
                config,
            ))
            .await
        }
        _ => Err(ErrorCode::NotFound.into()),
    }
}
