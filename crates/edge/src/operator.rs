//! The operator API: `ADMIN_TOKEN` (or a dashboard session) lists and creates
//! applications and manages any application's keys through the same operations as the
//! management API.

use aero2_keys::http::bodies::CreateApplicationRequest;
use aero2_keys::http::ErrorCode;
use aero2_keys::{ApplicationId, SystemRandom};
use worker::{Env, Request, Response};

use crate::body::read_json;
use crate::clock::now;
use crate::config::Config;
use crate::errors::{ApiError, ApiResult};
use crate::management::{operation, send};
use crate::protocol::{
    to_key_ring, to_registry, Actor, ApplicationInfo, ClientInfo, RegistryCommand, RingCommand,
};
use crate::router::{allow, method};
use crate::session;

/// `/v1/applications`: list (GET) or create (POST).
pub async fn applications(req: &mut Request, env: &Env, config: &Config) -> ApiResult<Response> {
    authenticate(req, config)?;
    let method = method(req);
    allow(&method, "GET, POST")?;
    if method == "GET" {
        return to_registry(env, &RegistryCommand::List).await;
    }
    create_application(req, env).await
}

/// `/v1/applications/{id}/…`: the management API for any application.
pub async fn manage(
    req: &mut Request,
    application: &str,
    rest: &[&str],
    query: Option<&str>,
    env: &Env,
    config: &Config,
) -> ApiResult<Response> {
    authenticate(req, config)?;
    let application = parse_application_id(application)?;
    let client = ClientInfo::of(req);
    let op = operation(req, rest, query).await?;
    send(env, application, Actor::Operator, client, op).await
}

fn parse_application_id(text: &str) -> ApiResult<ApplicationId> {
    ApplicationId::parse(text).map_err(|_| ErrorCode::ApplicationNotFound.into())
}

/// The operator is either a client sending `Authorization: Bearer <ADMIN_TOKEN>`, or the
/// dashboard with a session cookie (and, to change anything, its CSRF token).
pub fn authenticate(req: &Request, config: &Config) -> ApiResult<()> {
    let Some(expected) = config.admin_token.as_deref() else {
        return Err(ErrorCode::OperatorApiDisabled.into());
    };
    let header = req.headers().get("Authorization").ok().flatten();
    if let Some(header) = header.filter(|h| !h.trim().is_empty()) {
        let given = header
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .unwrap_or_default();
        if session::token_matches(given, expected) {
            return Ok(());
        }
        return Err(ApiError::with_detail(
            ErrorCode::InvalidAdminToken,
            "the operator API requires Authorization: Bearer <ADMIN_TOKEN>",
        ));
    }
    match session::from_request(req, expected) {
        Some(session) if session::allows(req, &session) => Ok(()),
        Some(_) => Err(ErrorCode::CsrfCheckFailed.into()),
        None => Err(ErrorCode::InvalidAdminToken.into()),
    }
}

async fn create_application(req: &mut Request, env: &Env) -> ApiResult<Response> {
    let body: CreateApplicationRequest = read_json(req).await?;
    let new = body
        .validate()
        .map_err(|err| ApiError::from(err.error_code()))?;
    let application = ApplicationInfo {
        id: ApplicationId::generate(&mut SystemRandom).map_err(|_| ErrorCode::RandomUnavailable)?,
        name: new.name,
        environment: new.environment,
        created_at: now(),
    };
    let client = ClientInfo::of(req);
    let created = to_key_ring(
        env,
        application.id,
        &RingCommand::Init {
            application: application.clone(),
            client,
        },
    )
    .await?;
    if created.status_code() == 201 {
        // The keys exist and are about to be shown once: a failure to list the
        // application must not lose them, so it is logged rather than returned.
        if let Err(err) = to_registry(env, &RegistryCommand::Register { application }).await {
            worker::console_error!("application created but not registered: {}", err.code);
        }
    }
    Ok(created)
}

/// Test builds only: make an application's KV writes fail for a while.
#[cfg(feature = "fault-injection")]
pub async fn inject_kv_failure(
    req: &mut Request,
    application: &str,
    env: &Env,
    config: &Config,
) -> ApiResult<Response> {
    authenticate(req, config)?;
    let application = parse_application_id(application)?;
    #[derive(serde::Deserialize)]
    struct Fault {
        fail_for_ms: u64,
    }
    let fault: Fault = read_json(req).await?;
    to_key_ring(
        env,
        application,
        &RingCommand::InjectKvFailure {
            fail_for_ms: fault.fail_for_ms,
        },
    )
    .await
}
