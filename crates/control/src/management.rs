//! The management API over HTTP: each request becomes one [`ManageOp`], sent with its
//! caller to the application's key ring, which authenticates the caller once before it
//! runs the operation.
//!
//! The same operations are reached with a secret key (`/v1/keys…`, `/v1/audit_log`, for
//! the key's own application) and by the operator (`/v1/applications/{id}/keys…`).

use aero2_keys::gate::wire::RequestFacts;
use aero2_keys::gate::{key_from_authorization, Rejection};
use aero2_keys::http::bodies::{
    CreateKeyRequest, CreateWebhookEndpointRequest, RotateRequest, UpdateKeyRequest,
};
use aero2_keys::http::query::{AuditPage, Query};
use aero2_keys::http::ErrorCode;
use aero2_keys::policy::PolicyError;
use aero2_keys::webhooks::endpoint::{check_syntax, check_url, Host, UrlParts};
use aero2_keys::{ApplicationId, EndpointId, KeyId, MessageId};
use worker::{web_sys, Env, Request, Response};

use crate::body::{read_json, read_optional_json};
use crate::clock::now;
use crate::config::Config;
use crate::errors::{ApiError, ApiResult, Failure};
use crate::kv;
use crate::methods::{allow, method};
use crate::protocol::from_browser;
use crate::protocol::{client_info, relay, to_key_ring, Actor, ClientInfo, ManageOp, RingCommand};

/// The request header by which the gate says that a key's application is flooded with
/// failing keys (`aero2_gate`'s isolate state).
pub const FLOODED_HEADER: &str = "X-Aero2-Flooded";

/// `/v1/keys…` and `/v1/audit_log` with one of the application's own keys. `rest` is the
/// path after `/v1`.
pub async fn with_key(
    req: &mut Request,
    rest: &[&str],
    query: Option<&str>,
    env: &Env,
) -> ApiResult<Response> {
    let header = req.headers().get("Authorization").ok().flatten();
    let key = key_from_authorization(header.as_deref())?;
    // The gate says when the application is flooded with failing keys (its isolate counts
    // them); the header comes from the gate alone, which drops any a client sends.
    let flooded = req.headers().has(FLOODED_HEADER).unwrap_or(false);
    let actor = Actor::Key {
        key,
        from_browser: from_browser(req),
        request: request_facts(req),
    };
    let client = client_info(req);
    let config = Config::cached(env);
    let op = operation(req, rest, query, &config).await?;
    // As at the gate: a key of an application that does not exist is refused here, and
    // answered exactly as an unknown key of one that does.
    let answer = if kv::key_may_exist(env, &key, flooded).await? {
        send(
            env,
            key.application_id,
            actor,
            client,
            op,
            issuer(req, &config),
        )
        .await
    } else {
        Err(Rejection::UnknownKey.into())
    };
    answer.map_err(|err| match err.code.status() {
        401 => err.counted(Failure::Key(key.application_id)),
        _ => err,
    })
}

/// What a canary's use records of a management request: its method, path and country.
/// (The path as the worker received it: the gate has normalised it.)
fn request_facts(req: &Request) -> RequestFacts {
    let url = req.inner().url();
    let target = aero2_keys::gate::RequestTarget::split(&url);
    RequestFacts {
        method: req.inner().method(),
        path: target.path.to_owned(),
        country: req.cf().and_then(|cf| cf.country()),
        ..RequestFacts::default()
    }
}

/// Sends a management operation to the application's key ring; its answer, or its error.
pub async fn send(
    env: &Env,
    application: ApplicationId,
    actor: Actor,
    client: ClientInfo,
    op: ManageOp,
    issuer: String,
) -> ApiResult<Response> {
    let command = RingCommand::Manage {
        actor,
        client,
        op: Box::new(op),
        issuer,
    };
    relay(to_key_ring(env, application, &command).await?).await
}

/// The `iss` of checkpoints and receipts: `ASSERTION_ISSUER`, or the request's own origin
/// (the gate's, as for its assertions).
pub fn issuer(req: &Request, config: &Config) -> String {
    config.assertion_issuer.clone().unwrap_or_else(|| {
        let url = req.inner().url();
        aero2_keys::gate::RequestTarget::split(&url)
            .origin
            .to_owned()
    })
}

/// The operation a request asks for. `rest` is the path after `/v1` (secret key) or after
/// `/v1/applications/{id}` (operator): `keys`, `keys/{id}/revoke`, `audit_log`, ….
pub async fn operation(
    req: &mut Request,
    rest: &[&str],
    query: Option<&str>,
    config: &Config,
) -> ApiResult<ManageOp> {
    let method = method(req);
    let query = Query::parse(query)?;
    match rest {
        ["keys"] => {
            allow(&method, "GET, POST")?;
            if method == "GET" {
                return Ok(ManageOp::ListKeys {
                    include_revoked: query.boolean("include_revoked", false)?,
                });
            }
            let body: CreateKeyRequest = read_json(req).await?;
            let canary = body
                .canary()
                .map_err(|err| ApiError::with_detail(ErrorCode::InvalidCanary, err.to_string()))?;
            let policy = body.policy(now()).map_err(invalid_policy)?;
            Ok(ManageOp::CreateKey {
                kind: body.kind,
                label: body.label().to_owned(),
                policy,
                canary,
            })
        }
        ["keys", id] => {
            let key_id = parse_key_id(id)?;
            allow(&method, "PATCH")?;
            let change: UpdateKeyRequest = read_json(req).await?;
            if change.is_empty() {
                return Err(ApiError::with_detail(
                    ErrorCode::InvalidRequest,
                    "send at least one field to change: label, or a policy field",
                ));
            }
            Ok(ManageOp::UpdateKey { key_id, change })
        }
        ["keys", id, action] => {
            let key_id = parse_key_id(id)?;
            match *action {
                "revoke" => {
                    allow(&method, "POST")?;
                    Ok(ManageOp::RevokeKey { key_id })
                }
                "rotate" => {
                    allow(&method, "POST")?;
                    let body: Option<RotateRequest> = read_optional_json(req).await?;
                    Ok(ManageOp::RotateKey {
                        key_id,
                        grace_period_seconds: body.and_then(|b| b.grace_period_seconds),
                    })
                }
                "usage" => {
                    allow(&method, "GET")?;
                    Ok(ManageOp::KeyUsage { key_id })
                }
                "receipt" => {
                    allow(&method, "GET")?;
                    Ok(ManageOp::KeyReceipt { key_id })
                }
                "suspend" => {
                    allow(&method, "POST")?;
                    Ok(ManageOp::SuspendKey { key_id })
                }
                "resume" => {
                    allow(&method, "POST")?;
                    Ok(ManageOp::ResumeKey { key_id })
                }
                _ => Err(ErrorCode::NotFound.into()),
            }
        }
        ["audit_log"] => {
            allow(&method, "GET")?;
            audit_query(&query)
        }
        ["audit_log", "checkpoint"] => {
            allow(&method, "GET")?;
            Ok(ManageOp::AuditCheckpoint)
        }
        ["audit_log", "export"] => {
            allow(&method, "GET")?;
            let from_seq = query
                .number(
                    "from_seq",
                    1..=999_999_999_999_999_999,
                    ErrorCode::InvalidCursor,
                )?
                .unwrap_or(1);
            Ok(ManageOp::AuditExport { from_seq })
        }
        ["webhook_endpoints", ..] => webhook_operation(req, &method, &rest[1..], config).await,
        _ => Err(ErrorCode::NotFound.into()),
    }
}

/// `/webhook_endpoints…`; `rest` is what follows it.
async fn webhook_operation(
    req: &mut Request,
    method: &str,
    rest: &[&str],
    config: &Config,
) -> ApiResult<ManageOp> {
    let endpoint = |id: &str| {
        EndpointId::parse(id).map_err(|_| ApiError::from(ErrorCode::WebhookEndpointNotFound))
    };
    match rest {
        [] => {
            allow(method, "GET, POST")?;
            if method == "GET" {
                return Ok(ManageOp::ListWebhookEndpoints);
            }
            let body: CreateWebhookEndpointRequest = read_json(req).await?;
            Ok(ManageOp::CreateWebhookEndpoint {
                url: webhook_url(&body.url, config.webhook_allow_http)?,
                description: body.description()?,
                events: body.events()?,
            })
        }
        [id] => {
            let endpoint_id = endpoint(id)?;
            allow(method, "DELETE")?;
            Ok(ManageOp::DeleteWebhookEndpoint { endpoint_id })
        }
        [id, "deliveries"] => {
            let endpoint_id = endpoint(id)?;
            allow(method, "GET")?;
            Ok(ManageOp::WebhookDeliveries { endpoint_id })
        }
        [id, action @ ("rotate_secret" | "test" | "enable")] => {
            let endpoint_id = endpoint(id)?;
            allow(method, "POST")?;
            Ok(match *action {
                "rotate_secret" => ManageOp::RotateWebhookSecret { endpoint_id },
                "test" => ManageOp::TestWebhookEndpoint { endpoint_id },
                _ => ManageOp::EnableWebhookEndpoint { endpoint_id },
            })
        }
        [id, "messages", message, "resend"] => {
            let endpoint_id = endpoint(id)?;
            let message_id = MessageId::parse(message)
                .map_err(|_| ApiError::from(ErrorCode::WebhookMessageNotFound))?;
            allow(method, "POST")?;
            Ok(ManageOp::ResendWebhookMessage {
                endpoint_id,
                message_id,
            })
        }
        _ => Err(ErrorCode::NotFound.into()),
    }
}

/// An endpoint URL, parsed by the platform's own WHATWG URL parser (the one `fetch` uses)
/// and checked by the core's rules; the parsed form is what is stored. (The `url` crate
/// would parse it the same way, with its Unicode tables in the bundle.)
fn webhook_url(text: &str, allow_local: bool) -> ApiResult<String> {
    let invalid = |why: &'static str| ApiError::with_detail(ErrorCode::InvalidWebhookUrl, why);
    let text = text.trim();
    check_syntax(text, allow_local).map_err(|err| invalid(err.message()))?;
    let url = web_sys::Url::new(text).map_err(|_| invalid("url: not a valid URL"))?;
    let hostname = url.hostname();
    let host = match hostname.as_str() {
        "" => None,
        name => Some(
            name.trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<std::net::IpAddr>()
                .map_or(Host::Domain(name), Host::Ip),
        ),
    };
    let protocol = url.protocol();
    let href = url.href();
    let parts = UrlParts {
        scheme: protocol.trim_end_matches(':'),
        has_credentials: !url.username().is_empty() || !url.password().is_empty(),
        host,
        // `hash` is empty for "#" alone: look at the text too.
        has_fragment: !url.hash().is_empty() || href.contains('#'),
        // The text as given: the parser may add a `/`, and nothing else (check_syntax).
        len: text.len(),
    };
    check_url(&parts, allow_local).map_err(|err| invalid(err.message()))?;
    Ok(href)
}

fn invalid_policy(err: PolicyError) -> ApiError {
    ApiError::with_detail(ErrorCode::InvalidPolicy, err.to_string())
}

fn parse_key_id(text: &str) -> ApiResult<KeyId> {
    KeyId::parse(text).map_err(|_| ErrorCode::KeyNotFound.into())
}

fn audit_query(query: &Query) -> ApiResult<ManageOp> {
    let AuditPage { cursor, limit } = query.audit_page()?;
    let key_id = query
        .get("key_id")
        .map(|id| KeyId::parse(id).map_err(|_| ApiError::from(ErrorCode::InvalidKeyId)))
        .transpose()?;
    let event = query.get("event").map(str::to_owned);
    if event.as_deref().is_some_and(|e| {
        e.len() > 64
            || !e
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'.' || b == b'_')
    }) {
        return Err(ErrorCode::InvalidEvent.into());
    }
    Ok(ManageOp::AuditLog {
        cursor,
        limit,
        key_id,
        event,
    })
}
