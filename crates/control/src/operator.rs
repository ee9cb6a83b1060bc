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
use crate::methods::{allow, method};
use crate::protocol::{
    relay, to_key_ring, to_registry, Actor, ApplicationInfo, ClientInfo, RegistryCommand,
    RingCommand,
};
use crate::session::authenticate;

/// `/v1/applications`: list (GET) or create (POST).
pub async fn applications(req: &mut Request, env: &Env, config: &Config) -> ApiResult<Response> {
    authenticate(req, env, config).await?;
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
    authenticate(req, env, config).await?;
    let application = parse_application_id(application)?;
    let op = operation(req, rest, query, config).await?;
    // An application's audit log names the operator, never the operator's address or
    // browser.
    send(env, application, Actor::Operator, ClientInfo::default(), op).await
}

fn parse_application_id(text: &str) -> ApiResult<ApplicationId> {
    ApplicationId::parse(text).map_err(|_| ErrorCode::ApplicationNotFound.into())
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
    let created = relay(
        to_key_ring(
            env,
            application.id,
            &RingCommand::Init {
                application: application.clone(),
                client: ClientInfo::default(),
            },
        )
        .await?,
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

/// Test builds only: `kv` makes an application's KV writes fail for a while
/// (`{"fail_for_ms"}`); `retention` runs its daily clean-up as if days had passed
/// (`{"days_later"}`); `partition` cuts one regional replica off from the key ring
/// (`{"region", "shard", "for_ms"}`).
#[cfg(feature = "fault-injection")]
pub async fn inject_fault(
    req: &mut Request,
    application: &str,
    fault: &str,
    env: &Env,
    config: &Config,
) -> ApiResult<Response> {
    authenticate(req, env, config).await?;
    let application = parse_application_id(application)?;
    if fault == "protocol" {
        return previous_release_message(req, application, env).await;
    }
    #[derive(serde::Deserialize)]
    struct Fault {
        fail_for_ms: Option<u64>,
        days_later: Option<u64>,
        region: Option<aero2_keys::regional::Region>,
        shard: Option<u8>,
        for_ms: Option<u64>,
    }
    let fault_body: Fault = read_json(req).await?;
    let command = match (fault, fault_body) {
        (
            "kv",
            Fault {
                fail_for_ms: Some(fail_for_ms),
                ..
            },
        ) => RingCommand::InjectKvFailure { fail_for_ms },
        (
            "retention",
            Fault {
                days_later: Some(days_later),
                ..
            },
        ) => RingCommand::RunRetention { days_later },
        (
            "partition",
            Fault {
                region: Some(region),
                for_ms: Some(for_ms),
                shard,
                ..
            },
        ) => RingCommand::PartitionReplica {
            replica: crate::protocol::ReplicaName {
                application,
                region,
                shard: shard.unwrap_or(0),
            },
            for_ms,
        },
        _ => return Err(ErrorCode::NotFound.into()),
    };
    relay(to_key_ring(env, application, &command).await?).await
}

/// Test builds only: delivers a message to the application's key ring, or to one of its
/// replicas, exactly as the body gives it, and answers with the object's answer as it is.
/// The protocol-skew tests send the previous release's messages this way, as its gates
/// would during a deploy.
#[cfg(feature = "fault-injection")]
async fn previous_release_message(
    req: &mut Request,
    application: aero2_keys::ApplicationId,
    env: &Env,
) -> ApiResult<Response> {
    #[derive(serde::Deserialize)]
    struct Delivery {
        /// `"key_ring"` or a region, for that region's replica (shard 0).
        to: String,
        message: String,
    }
    let delivery: Delivery = read_json(req).await?;
    let stub = if delivery.to == "key_ring" {
        env.durable_object(crate::config::KEY_RING_BINDING)?
            .get_by_name(&application.to_string())?
    } else {
        let region =
            aero2_keys::regional::Region::parse(&delivery.to).ok_or(ErrorCode::InvalidRequest)?;
        let replica = crate::protocol::ReplicaName {
            application,
            region,
            shard: 0,
        };
        env.durable_object(crate::config::REPLICA_BINDING)?
            .get_by_name(&replica.object_name())?
    };
    crate::protocol::send_text(stub, delivery.message).await
}
