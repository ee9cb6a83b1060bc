//! The applications API of the dashboard and the operator: the operator (`ADMIN_TOKEN`
//! or its session) lists and creates applications and manages any application's keys;
//! a person signed in with a passkey, those of their accounts, as their role allows. Both
//! go through the same operations as the management API. Another account's application
//! is 404, answered exactly as one that does not exist.

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
    client_info, relay, to_key_ring, to_registry, Actor, ApplicationInfo, ClientInfo,
    DirectoryCommand, MemberActor, RegistryCommand, RingCommand,
};
use crate::session::{authenticate, Who};

/// `/v1/applications`: list (GET: all of them for the operator, those of the person's
/// accounts) or create (POST).
pub async fn applications(req: &mut Request, env: &Env, config: &Config) -> ApiResult<Response> {
    let who = authenticate(req, env, config, None).await?;
    let method = method(req);
    allow(&method, "GET, POST")?;
    if method == "GET" {
        let person = who.person();
        return to_registry(env, &RegistryCommand::List { person }).await;
    }
    create_application(req, &who, env).await
}

/// `PATCH /v1/applications/{id}` `{"account_id"}`: the operator moves an application into
/// an account.
pub async fn application(
    req: &mut Request,
    application: &str,
    env: &Env,
    config: &Config,
) -> ApiResult<Response> {
    let who = authenticate(req, env, config, None).await?;
    allow(&method(req), "PATCH")?;
    who.operator_only()?;
    let application = parse_application_id(application)?;
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Move {
        account_id: String,
    }
    let body: Move = read_json(req).await?;
    let account = aero2_accounts::AccountId::parse(&body.account_id)
        .map_err(|_| ApiError::from(ErrorCode::AccountNotFound))?;
    let command = DirectoryCommand::MoveApplication {
        application,
        account,
    };
    relay(to_registry(env, &RegistryCommand::Directory { command }).await?).await
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
    let application = parse_application_id(application)?;
    let who = authenticate(req, env, config, Some(application)).await?;
    let (actor, client) = match &who {
        // An application's audit log names the operator, never the operator's address or
        // browser.
        Who::Operator { .. } => (Actor::Operator, ClientInfo::default()),
        Who::Person(found) => {
            let membership = found
                .application_account
                .and_then(|account| found.memberships.iter().find(|m| m.account_id == account))
                .ok_or(ErrorCode::ApplicationNotFound)?;
            let step_up_ends = found
                .session
                .authenticated_at
                .saturating_add(aero2_accounts::session::STEP_UP_WINDOW_MS);
            let member = MemberActor {
                id: membership.member_id,
                name: membership.name.clone(),
                role: membership.role,
                stepped_up: now().0 < step_up_ends,
            };
            (Actor::Member(member), client_info(req))
        }
    };
    let op = operation(req, rest, query, config).await?;
    let issuer = crate::management::issuer(req, config);
    send(env, application, actor, client, op, issuer).await
}

fn parse_application_id(text: &str) -> ApiResult<ApplicationId> {
    ApplicationId::parse(text).map_err(|_| ErrorCode::ApplicationNotFound.into())
}

async fn create_application(req: &mut Request, who: &Who, env: &Env) -> ApiResult<Response> {
    let body: CreateApplicationRequest = read_json(req).await?;
    let account = body
        .account_id
        .as_deref()
        .map(|id| {
            aero2_accounts::AccountId::parse(id)
                .map_err(|_| ApiError::from(ErrorCode::AccountNotFound))
        })
        .transpose()?;
    let new = body
        .validate()
        .map_err(|err| ApiError::from(err.error_code()))?;
    match (who, account) {
        // A person creates applications in an account where they are an admin or owner;
        // the operator may name any account, or none.
        (Who::Person(_), None) => {
            return Err(ApiError::with_detail(
                ErrorCode::InvalidRequest,
                "send account_id: the account the application belongs to",
            ))
        }
        (who, Some(account)) => {
            let command = DirectoryCommand::MayCreateApplication {
                by: who.caller(),
                account,
            };
            relay(to_registry(env, &RegistryCommand::Directory { command }).await?).await?;
        }
        (Who::Operator { .. }, None) => {}
    }
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
        let register = RegistryCommand::Register {
            application,
            account,
        };
        if let Err(err) = to_registry(env, &register).await {
            worker::console_error!("application created but not registered: {}", err.code);
        }
    }
    Ok(created)
}

/// Test builds only: `kv` makes an application's KV writes fail for a while
/// (`{"fail_for_ms"}`); `retention` runs its daily clean-up as if days had passed
/// (`{"days_later"}`); `partition` cuts one regional replica off from the key ring
/// (`{"region", "shard", "for_ms"}`); `reports` makes its key ring refuse the gates' event
/// reports (`{"for_ms"}`).
#[cfg(feature = "fault-injection")]
pub async fn inject_fault(
    req: &mut Request,
    application: &str,
    fault: &str,
    env: &Env,
    config: &Config,
) -> ApiResult<Response> {
    authenticate(req, env, config, None)
        .await?
        .operator_only()?;
    let application = parse_application_id(application)?;
    if fault == "protocol" {
        return previous_release_message(req, application, env).await;
    }
    #[derive(serde::Deserialize)]
    struct Fault {
        fail_for_ms: Option<u64>,
        days_later: Option<u64>,
        count: Option<u32>,
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
            "reports",
            Fault {
                for_ms: Some(for_ms),
                region: None,
                ..
            },
        ) => RingCommand::RefuseReports { for_ms },
        (
            "retention",
            Fault {
                days_later: Some(days_later),
                ..
            },
        ) => RingCommand::RunRetention { days_later },
        (
            "audit",
            Fault {
                count: Some(count), ..
            },
        ) => RingCommand::FillAudit {
            count: count.min(50_000),
        },
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
