//! The accounts API: accounts and their members and invitations, passkey registration
//! and sign-in, a person's own passkeys, and each account's audit log. This file reads
//! requests and authenticates their callers; the directory (in the registry Durable
//! Object) decides what each caller may do, with the rules of `aero2_accounts`.
//!
//! A ceremony's answer that is refused (a made-up invitation token, a passkey response
//! that does not verify) is reported to the gate as a failed sign-in: past the address's
//! limit, the gate answers 429 before anything reaches storage.

use aero2_accounts::{AccountId, InvitationId, MemberId, Role};
use aero2_keys::http::ErrorCode;
use serde::Deserialize;
use serde_json::value::RawValue;
use worker::{Env, Request, Response};

use crate::body::read_json;
use crate::config::Config;
use crate::errors::{ApiError, ApiResult, Failure};
use crate::methods::{allow, method};
use crate::protocol::{client_info, relay, to_registry, Caller, DirectoryCommand, RegistryCommand};
use crate::session::{
    authenticate, from_request, new_session, person_cookie, refuse_cross_site, Session, Who,
};

async fn directory(env: &Env, command: DirectoryCommand) -> ApiResult<Response> {
    relay(to_registry(env, &RegistryCommand::Directory { command }).await?).await
}

/// A refused ceremony counts as a failed sign-in at the gate.
fn counted(result: ApiResult<Response>) -> ApiResult<Response> {
    result.map_err(|err| match err.code {
        ErrorCode::InvitationNotFound | ErrorCode::PasskeyNotAccepted => {
            err.counted(Failure::SignIn)
        }
        _ => err,
    })
}

fn account_id(text: &str) -> ApiResult<AccountId> {
    AccountId::parse(text).map_err(|_| ErrorCode::AccountNotFound.into())
}

fn parse_role(text: &str) -> ApiResult<Role> {
    Role::parse(text).ok_or_else(|| ErrorCode::InvalidRole.into())
}

/// The request's live person session, if it has one (for a step-up or an added passkey).
async fn signed_in_person(req: &Request, env: &Env) -> ApiResult<Option<Caller>> {
    match from_request(req, env, None).await? {
        Session::Live(found) if found.session.user_handle.is_some() => {
            if !crate::session::allows(req, &found.session) {
                return Err(ErrorCode::CsrfCheckFailed.into());
            }
            Ok(Some(Who::Person(*found).caller()))
        }
        _ => Ok(None),
    }
}

/// A `credential.toJSON()` body, passed on as text.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CeremonyAnswer {
    credential: Box<RawValue>,
    #[serde(default)]
    name: Option<String>,
}

/// Sets the new session's cookie on a successful sign-in or registration. (A Durable
/// Object's answer has immutable headers: the answer is copied.)
async fn with_cookie(mut response: Response, token: &str) -> ApiResult<Response> {
    let status = response.status_code();
    if !(200..300).contains(&status) {
        return Ok(response);
    }
    let body = response.bytes().await?;
    let headers = worker::Headers::new();
    for (name, value) in response.headers().entries() {
        headers.set(&name, &value)?;
    }
    headers.set("Set-Cookie", &person_cookie(token))?;
    Ok(Response::from_bytes(body)?
        .with_status(status)
        .with_headers(headers))
}

/// `/v1/accounts…`
pub async fn accounts(
    req: &mut Request,
    rest: &[&str],
    query: Option<&str>,
    env: &Env,
    config: &Config,
) -> ApiResult<Response> {
    let who = authenticate(req, env, config, None).await?;
    let by = who.caller();
    let method = method(req);
    let client = client_info(req);
    match rest {
        [] => {
            allow(&method, "GET, POST")?;
            if method == "GET" {
                return directory(env, DirectoryCommand::ListAccounts { by }).await;
            }
            who.operator_only()?;
            #[derive(Deserialize)]
            #[serde(deny_unknown_fields)]
            struct NewAccount {
                name: String,
            }
            let body: NewAccount = read_json(req).await?;
            directory(
                env,
                DirectoryCommand::CreateAccount {
                    name: body.name,
                    client,
                },
            )
            .await
        }
        [account, "invitations"] => {
            let account = account_id(account)?;
            allow(&method, "GET, POST")?;
            if method == "GET" {
                return directory(env, DirectoryCommand::ListInvitations { by, account }).await;
            }
            #[derive(Deserialize)]
            #[serde(deny_unknown_fields)]
            struct NewInvitation {
                role: String,
                #[serde(default)]
                name: Option<String>,
                #[serde(default)]
                member_id: Option<String>,
            }
            let body: NewInvitation = read_json(req).await?;
            let member = body
                .member_id
                .as_deref()
                .map(|id| {
                    MemberId::parse(id).map_err(|_| ApiError::from(ErrorCode::MemberNotFound))
                })
                .transpose()?;
            let command = DirectoryCommand::CreateInvitation {
                by,
                account,
                role: parse_role(&body.role)?,
                member,
                name: body.name,
                client,
            };
            directory(env, command).await
        }
        [account, "invitations", invitation] => {
            let account = account_id(account)?;
            allow(&method, "DELETE")?;
            let invitation = InvitationId::parse(invitation)
                .map_err(|_| ApiError::from(ErrorCode::InvitationNotFound))?;
            let command = DirectoryCommand::RevokeInvitation {
                by,
                account,
                invitation,
                client,
            };
            directory(env, command).await
        }
        [account, "members"] => {
            let account = account_id(account)?;
            allow(&method, "GET")?;
            directory(env, DirectoryCommand::ListMembers { by, account }).await
        }
        [account, "members", member] => {
            let account = account_id(account)?;
            allow(&method, "PATCH, DELETE")?;
            let member =
                MemberId::parse(member).map_err(|_| ApiError::from(ErrorCode::MemberNotFound))?;
            if method == "DELETE" {
                let command = DirectoryCommand::RemoveMember {
                    by,
                    account,
                    member,
                    client,
                };
                return directory(env, command).await;
            }
            #[derive(Deserialize)]
            #[serde(deny_unknown_fields)]
            struct NewRole {
                role: String,
            }
            let body: NewRole = read_json(req).await?;
            let command = DirectoryCommand::ChangeRole {
                by,
                account,
                member,
                role: parse_role(&body.role)?,
                client,
            };
            directory(env, command).await
        }
        [account, "audit_log"] => {
            let account = account_id(account)?;
            allow(&method, "GET")?;
            let query = aero2_keys::http::query::Query::parse(query)?;
            let aero2_keys::http::query::AuditPage { cursor, limit } = query.audit_page()?;
            let command = DirectoryCommand::AuditLog {
                by,
                account,
                cursor,
                limit,
            };
            directory(env, command).await
        }
        _ => Err(ErrorCode::NotFound.into()),
    }
}

/// `/v1/invitations/{token}/registration/options` and `…/registration`: a new member (or
/// one re-enrolled) registers a passkey with an invitation's token.
pub async fn invitations(req: &mut Request, rest: &[&str], env: &Env) -> ApiResult<Response> {
    let [token, "registration", tail @ ..] = rest else {
        return Err(ErrorCode::NotFound.into());
    };
    allow(&method(req), "POST")?;
    refuse_cross_site(req)?;
    let invitation_token = Some((*token).to_owned());
    match tail {
        ["options"] => counted(
            directory(
                env,
                DirectoryCommand::RegistrationOptions {
                    invitation_token,
                    by: None,
                },
            )
            .await,
        ),
        [] => {
            let body: CeremonyAnswer = read_json(req).await?;
            let (cookie_token, session) = new_session()?;
            let command = DirectoryCommand::Register {
                invitation_token,
                by: None,
                response: body.credential.get().to_owned(),
                name: body.name,
                session,
                client: client_info(req),
            };
            with_cookie(counted(directory(env, command).await)?, &cookie_token).await
        }
        _ => Err(ErrorCode::NotFound.into()),
    }
}

/// `/v1/passkeys…`: sign-in and step-up, adding a passkey, and a person's own passkeys.
pub async fn passkeys(
    req: &mut Request,
    rest: &[&str],
    env: &Env,
    config: &Config,
) -> ApiResult<Response> {
    let method = method(req);
    match rest {
        ["authentication", tail @ ..] => {
            allow(&method, "POST")?;
            refuse_cross_site(req)?;
            // With a live session this is a step-up of that session; without, a sign-in.
            let by = signed_in_person(req, env).await?;
            match tail {
                ["options"] => directory(env, DirectoryCommand::SignInOptions { by }).await,
                [] => {
                    let body: CeremonyAnswer = read_json(req).await?;
                    let (cookie_token, session) = new_session()?;
                    let step_up = by.is_some();
                    let command = DirectoryCommand::SignIn {
                        response: body.credential.get().to_owned(),
                        session,
                        step_up: by,
                        client: client_info(req),
                    };
                    let answer = counted(directory(env, command).await)?;
                    if step_up {
                        return Ok(answer);
                    }
                    with_cookie(answer, &cookie_token).await
                }
                _ => Err(ErrorCode::NotFound.into()),
            }
        }
        ["registration", tail @ ..] => {
            allow(&method, "POST")?;
            let by = signed_in_person(req, env)
                .await?
                .ok_or(ErrorCode::NotSignedIn)?;
            match tail {
                ["options"] => {
                    let command = DirectoryCommand::RegistrationOptions {
                        invitation_token: None,
                        by: Some(by),
                    };
                    directory(env, command).await
                }
                [] => {
                    let body: CeremonyAnswer = read_json(req).await?;
                    let (_, session) = new_session()?;
                    let command = DirectoryCommand::Register {
                        invitation_token: None,
                        by: Some(by),
                        response: body.credential.get().to_owned(),
                        name: None,
                        session,
                        client: client_info(req),
                    };
                    directory(env, command).await
                }
                _ => Err(ErrorCode::NotFound.into()),
            }
        }
        [] => {
            allow(&method, "GET")?;
            let by = authenticate(req, env, config, None).await?.caller();
            directory(env, DirectoryCommand::ListPasskeys { by }).await
        }
        [passkey] => {
            allow(&method, "PATCH, DELETE")?;
            let by = authenticate(req, env, config, None).await?.caller();
            let passkey = (*passkey).to_owned();
            if method == "DELETE" {
                let command = DirectoryCommand::RemovePasskey {
                    by,
                    passkey,
                    client: client_info(req),
                };
                return directory(env, command).await;
            }
            #[derive(Deserialize)]
            #[serde(deny_unknown_fields)]
            struct Rename {
                name: String,
            }
            let body: Rename = read_json(req).await?;
            let command = DirectoryCommand::RenamePasskey {
                by,
                passkey,
                name: body.name,
            };
            directory(env, command).await
        }
        _ => Err(ErrorCode::NotFound.into()),
    }
}
