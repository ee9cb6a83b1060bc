//! The worker's own endpoints: the management API (secret-key authenticated, scoped to the
//! key's application), the operator API (`ADMIN_TOKEN`) and the OpenAPI document. Every
//! other path goes to the gate.

use aero2_keys::gate::{key_from_authorization, RequestTarget};
use aero2_keys::requests::{CreateApplicationRequest, CreateKeyRequest, RotateRequest};
use aero2_keys::{ApplicationId, KeyId, SystemRandom, UnixMillis};
use worker::{Context, Env, Method, Request, Response};

use crate::body::{read_json, read_optional_json};
use crate::config::{admin_token, Config};
use crate::error::{ApiError, ApiResult};
use crate::gate::{self, from_browser};
use crate::protocol::{
    to_key_ring, to_registry, Actor, ApplicationInfo, ClientInfo, RegistryCommand, RingCommand,
};
use crate::session;

const OPENAPI: &str = include_str!("openapi.json");

pub async fn route(
    mut req: Request,
    env: &Env,
    ctx: &Context,
    config: &Config,
) -> ApiResult<Response> {
    let url = req.inner().url();
    let target = RequestTarget::split(&url);
    let segments: Vec<&str> = target.path.trim_start_matches('/').split('/').collect();
    let method = req.method();
    match segments.as_slice() {
        #[cfg(feature = "instrumentation")]
        ["__instrumentation"] => Ok(crate::instrumentation::report()),
        ["openapi.json"] => {
            expect(&method, &[Method::Get])?;
            Ok(Response::from_bytes(OPENAPI.as_bytes().to_vec())?.with_headers(json_headers()?))
        }
        ["v1", "keys", ..] | ["v1", "audit_log"] => {
            let header = req.headers().get("Authorization").ok().flatten();
            let key = key_from_authorization(header.as_deref())?;
            let actor = Actor::Key {
                storage_id: key.storage_id,
                from_browser: from_browser(&req),
            };
            let rest = &segments[1..];
            manage(&mut req, target.query, env, key.application_id, actor, rest).await
        }
        #[cfg(feature = "fault-injection")]
        ["__faults", "applications", application, "kv"] => {
            authenticate_operator(&req, env)?;
            let application = ApplicationId::parse(application).map_err(|_| {
                ApiError::new(404, "application_not_found", "no application has this id")
            })?;
            #[derive(serde::Deserialize)]
            struct Fault {
                fail_for_ms: u64,
            }
            let fault: Fault = read_json(&mut req).await?;
            to_key_ring(
                env,
                application,
                &RingCommand::InjectKvFailure {
                    fail_for_ms: fault.fail_for_ms,
                },
            )
            .await
        }
        ["v1", "dashboard", "session"] => session::handle(&mut req, admin_token(env)).await,
        ["v1", "leaks", "github"] => {
            expect(&method, &[Method::Post])?;
            crate::leaks::github_report(req, env).await
        }
        ["v1", "applications"] => {
            authenticate_operator(&req, env)?;
            match method {
                Method::Get => to_registry(env, &RegistryCommand::List).await,
                Method::Post => create_application(&mut req, env).await,
                _ => Err(ApiError::method_not_allowed("GET, POST")),
            }
        }
        ["v1", "applications", application, rest @ ..] if !rest.is_empty() => {
            authenticate_operator(&req, env)?;
            let application = ApplicationId::parse(application).map_err(|_| {
                ApiError::new(404, "application_not_found", "no application has this id")
            })?;
            manage(
                &mut req,
                target.query,
                env,
                application,
                Actor::Operator,
                rest,
            )
            .await
        }
        _ => gate::gate(req, &target, env, ctx, config).await,
    }
}

fn json_headers() -> ApiResult<worker::Headers> {
    let headers = worker::Headers::new();
    headers.set("Content-Type", "application/json; charset=utf-8")?;
    Ok(headers)
}

fn expect(method: &Method, allowed: &[Method]) -> ApiResult<()> {
    if allowed.contains(method) {
        return Ok(());
    }
    let names: Vec<String> = allowed.iter().map(|m| m.to_string()).collect();
    Err(ApiError::method_not_allowed(&names.join(", ")))
}

fn parse_key_id(text: &str) -> ApiResult<KeyId> {
    KeyId::parse(text).map_err(|_| {
        ApiError::new(
            404,
            "key_not_found",
            "no key with this id in this application",
        )
    })
}

fn query_value(query: Option<&str>, name: &str) -> Option<String> {
    form_urlencoded::parse(query?.as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// Key management for one application. `rest` is the path after `/v1` (secret key) or
/// after `/v1/applications/{id}` (operator): `keys`, `keys/{id}/revoke`, `audit_log`, ….
async fn manage(
    req: &mut Request,
    query: Option<&str>,
    env: &Env,
    application: ApplicationId,
    actor: Actor,
    rest: &[&str],
) -> ApiResult<Response> {
    let client = ClientInfo::of(req);
    let method = req.method();
    let command = match rest {
        ["keys"] => match method {
            Method::Get => RingCommand::ListKeys {
                actor,
                client,
                include_revoked: query_value(query, "include_revoked").as_deref() == Some("true"),
            },
            Method::Post => {
                let body: CreateKeyRequest = read_json(req).await?;
                RingCommand::CreateKey {
                    actor,
                    client,
                    kind: body.kind,
                    label: body.label().to_owned(),
                }
            }
            _ => return Err(ApiError::method_not_allowed("GET, POST")),
        },
        ["keys", id, action] => {
            let key_id = parse_key_id(id)?;
            match *action {
                "revoke" => {
                    expect(&method, &[Method::Post])?;
                    RingCommand::RevokeKey {
                        actor,
                        client,
                        key_id,
                    }
                }
                "rotate" => {
                    expect(&method, &[Method::Post])?;
                    let body: Option<RotateRequest> = read_optional_json(req).await?;
                    RingCommand::RotateKey {
                        actor,
                        client,
                        key_id,
                        grace_period_seconds: body.and_then(|b| b.grace_period_seconds),
                    }
                }
                "usage" => {
                    expect(&method, &[Method::Get])?;
                    RingCommand::KeyUsage {
                        actor,
                        client,
                        key_id,
                    }
                }
                _ => return Err(ApiError::not_found()),
            }
        }
        ["audit_log"] => {
            expect(&method, &[Method::Get])?;
            let cursor = query_value(query, "cursor")
                .map(|c| {
                    c.parse::<u64>().map_err(|_| {
                        ApiError::bad_request(
                            "invalid_cursor",
                            "cursor must be a value returned as next_cursor",
                        )
                    })
                })
                .transpose()?;
            let limit = match query_value(query, "limit") {
                None => 50,
                Some(limit) => limit
                    .parse::<u32>()
                    .ok()
                    .filter(|l| (1..=100).contains(l))
                    .ok_or_else(|| {
                        ApiError::bad_request("invalid_limit", "limit must be between 1 and 100")
                    })?,
            };
            let key_id = query_value(query, "key_id")
                .map(|id| {
                    KeyId::parse(&id).map_err(|_| {
                        ApiError::bad_request(
                            "invalid_key_id",
                            "key_id must be a key id such as key_…",
                        )
                    })
                })
                .transpose()?;
            let event = query_value(query, "event");
            if event.as_deref().is_some_and(|e| {
                e.len() > 64
                    || !e
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b == b'.' || b == b'_')
            }) {
                return Err(ApiError::bad_request(
                    "invalid_event",
                    "event must be an event name such as key.revoked",
                ));
            }
            RingCommand::AuditLog {
                actor,
                client,
                cursor,
                limit,
                key_id,
                event,
            }
        }
        _ => return Err(ApiError::not_found()),
    };
    to_key_ring(env, application, &command).await
}

/// The operator is either a client sending `Authorization: Bearer <ADMIN_TOKEN>`, or the
/// dashboard with a session cookie (and, to change anything, its CSRF token).
fn authenticate_operator(req: &Request, env: &Env) -> ApiResult<()> {
    let Some(expected) = admin_token(env) else {
        return Err(ApiError::new(
            403,
            "operator_api_disabled",
            "set the ADMIN_TOKEN secret (at least 16 characters) to use the operator API",
        ));
    };
    let header = req.headers().get("Authorization").ok().flatten();
    if let Some(header) = header.filter(|h| !h.trim().is_empty()) {
        let given = header
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .unwrap_or_default();
        if session::token_matches(given, &expected) {
            return Ok(());
        }
        return Err(ApiError::new(
            401,
            "invalid_admin_token",
            "the operator API requires Authorization: Bearer <ADMIN_TOKEN>",
        ));
    }
    match session::from_request(req, &expected) {
        Some(session) if session::allows(req, &session) => Ok(()),
        Some(_) => Err(ApiError::new(
            403,
            "csrf_check_failed",
            "send the session's CSRF token in X-CSRF-Token, from this origin",
        )),
        None => Err(ApiError::new(
            401,
            "invalid_admin_token",
            "the operator API requires Authorization: Bearer <ADMIN_TOKEN> or a dashboard session",
        )),
    }
}

async fn create_application(req: &mut Request, env: &Env) -> ApiResult<Response> {
    let body: CreateApplicationRequest = read_json(req).await?;
    let new = body
        .validate()
        .map_err(|err| ApiError::bad_request(err.code(), err.to_string()))?;
    let application = ApplicationInfo {
        id: ApplicationId::generate(&mut SystemRandom).map_err(|_| ApiError::unavailable())?,
        name: new.name,
        environment: new.environment,
        created_at: UnixMillis(worker::Date::now().as_millis()),
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
