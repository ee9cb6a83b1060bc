//! Dashboard sessions, kept server-side in the registry Durable Object: a person's, made
//! by a passkey ceremony (`accounts.rs`), and the platform operator's.
//!
//! The operator signs in by exchanging `ADMIN_TOKEN` for a random session token. Either
//! way the token goes into a `__Host-` cookie (HttpOnly, Secure, SameSite=Strict,
//! host-only), never into the page, and the registry stores only its SHA-256. A person's
//! session ends after 30 minutes without use or 12 hours after sign-in; the operator's
//! after 8 hours. Signing out ends the session there, so a copied cookie stops working at
//! once; everyone can list their active sessions, end one, or sign out everywhere. Changes
//! made with a session also need its CSRF token in `X-CSRF-Token` and, when the browser
//! sends one, a same-origin `Origin`. Sign-ins are limited per client address (the gate).

use aero2_keys::gate::RequestTarget;
use aero2_keys::http::ErrorCode;
use aero2_keys::{encode_hex, ApplicationId, RandomSource, SystemRandom, UnixMillis};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use worker::{Env, Request, Response};

use crate::clock::now;
use crate::config::Config;
use crate::errors::{ApiError, ApiResult, Failure};
use crate::json::json_response;
use crate::methods::{allow, method};
use crate::protocol::{
    client_info, read_answer, relay, to_registry, Caller, DirectoryCommand, FoundSession,
    Membership, NewSession, RegistryCommand, SessionRecord,
};

pub const COOKIE: &str = "__Host-aero2_session";
const LIFETIME_MS: u64 = 8 * 60 * 60 * 1000;

/// Compares the given token with `ADMIN_TOKEN` in constant time. Both are hashed first
/// so that neither the content nor the length of the real token leaks through timing.
pub fn token_matches(given: &str, expected: &str) -> bool {
    let equal: bool = Sha256::digest(given.as_bytes())
        .ct_eq(&Sha256::digest(expected.as_bytes()))
        .into();
    !given.is_empty() && equal
}

pub fn random_hex<const N: usize>() -> ApiResult<String> {
    let mut bytes = [0u8; N];
    SystemRandom
        .fill_bytes(&mut bytes)
        .map_err(|_| ErrorCode::RandomUnavailable)?;
    Ok(encode_hex(&bytes))
}

pub fn token_hash(token: &str) -> String {
    encode_hex(&Sha256::digest(token.as_bytes()))
}

/// The session token in the request's cookie, if any.
fn cookie_token(req: &Request) -> Option<String> {
    let cookies = req.headers().get("Cookie").ok().flatten()?;
    cookies
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_owned())
        .filter(|value| value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// What the request's session cookie names (`Err` only when the registry cannot answer).
/// A cookie that names no session is a failed
/// authentication: the answer reports it to the gate (as an unknown key is), which counts
/// it against the address's failed-attempt limit and, past it, stops such requests before
/// they reach the registry, so a flood of made-up cookies cannot load the one object behind
/// every sign-in. It is not the sign-in limit: tabs still open after "sign out everywhere"
/// would otherwise lock their operator out.
///
/// `application`: also ask which account owns this application (for a person's rights).
pub async fn from_request(
    req: &Request,
    env: &Env,
    application: Option<ApplicationId>,
) -> ApiResult<Session> {
    let Some(token) = cookie_token(req) else {
        return Ok(Session::None);
    };
    let command = RegistryCommand::FindSession {
        token_hash: token_hash(&token),
        application,
    };
    match read_answer::<FoundSession>(to_registry(env, &command).await?).await {
        Ok(session) => Ok(Session::Live(Box::new(session))),
        Err(err) if err.code == ErrorCode::NotSignedIn => Ok(Session::Unknown),
        Err(err) => Err(err),
    }
}

/// What a request's session cookie names.
pub enum Session {
    /// No session cookie.
    None,
    /// A cookie that names no live session (made up, or ended): a failed authentication.
    Unknown,
    Live(Box<FoundSession>),
}

impl Session {
    /// The live session, or the error to answer when there is none: `not_signed_in`,
    /// reported to the gate as a failure when a cookie named no session.
    pub fn live(self) -> ApiResult<FoundSession> {
        match self {
            Session::Live(session) => Ok(*session),
            Session::Unknown => {
                Err(ApiError::from(ErrorCode::NotSignedIn).counted(Failure::Session))
            }
            Session::None => Err(ErrorCode::NotSignedIn.into()),
        }
    }
}

/// Whether a cookie-authenticated request may change state: it carries the session's
/// CSRF token and, when the browser says where it comes from, comes from this origin.
pub fn allows(req: &Request, session: &SessionRecord) -> bool {
    if matches!(method(req).as_str(), "GET" | "HEAD") {
        return true;
    }
    let header = |name| req.headers().get(name).ok().flatten();
    let csrf_ok: bool = header("X-CSRF-Token")
        .is_some_and(|token| bool::from(token.as_bytes().ct_eq(session.csrf.as_bytes())));
    let url = req.inner().url();
    let same_origin =
        header("Origin").is_none_or(|origin| origin == RequestTarget::split(&url).origin);
    csrf_ok && same_origin
}

fn cookie(value: &str, max_age_seconds: u64) -> String {
    format!(
        "{COOKIE}={value}; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age={max_age_seconds}"
    )
}

/// `GET /v1/dashboard/session` and its siblings.
#[derive(Serialize)]
struct SessionView<'a> {
    signed_in: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    session_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    csrf: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<String>,
    /// `operator` (signed in with ADMIN_TOKEN) or `member` (with a passkey).
    #[serde(skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    /// A person's: their membership of each of their accounts, with its role.
    #[serde(skip_serializing_if = "Option::is_none")]
    memberships: Option<&'a [Membership]>,
    /// A person's first membership (the dashboard opens that account).
    #[serde(skip_serializing_if = "Option::is_none")]
    member: Option<&'a Membership>,
    /// When the last passkey ceremony was: step-up actions need one in the last 5 minutes.
    #[serde(skip_serializing_if = "Option::is_none")]
    authenticated_at: Option<String>,
}

impl<'a> SessionView<'a> {
    fn of(found: &'a FoundSession) -> Self {
        let session = &found.session;
        let person = session.user_handle.is_some();
        SessionView {
            signed_in: true,
            session_id: Some(&session.id),
            csrf: Some(&session.csrf),
            expires_at: Some(UnixMillis(session.expires_at).to_rfc3339()),
            kind: Some(if person { "member" } else { "operator" }),
            memberships: person.then_some(found.memberships.as_slice()),
            member: found.memberships.first(),
            authenticated_at: person.then(|| UnixMillis(session.authenticated_at).to_rfc3339()),
        }
    }

    const SIGNED_OUT: SessionView<'static> = SessionView {
        signed_in: false,
        session_id: None,
        csrf: None,
        expires_at: None,
        kind: None,
        memberships: None,
        member: None,
        authenticated_at: None,
    };
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignIn {
    token: String,
}

/// `/v1/dashboard/session`: POST signs in, GET says who is signed in, DELETE signs this
/// session out.
pub async fn handle(req: &mut Request, env: &Env, config: &Config) -> ApiResult<Response> {
    let method = method(req);
    allow(&method, "GET, POST, DELETE")?;
    match method.as_str() {
        "POST" => {
            let Some(admin_token) = config.admin_token.as_deref() else {
                return Err(ErrorCode::OperatorApiDisabled.into());
            };
            sign_in(req, env, admin_token).await
        }
        "GET" => {
            let found = from_request(req, env, None).await?.live()?;
            Ok(json_response(200, &SessionView::of(&found)))
        }
        _ => {
            // Signing out with a stale cookie (a tab left open after "sign out everywhere")
            // is no attack: nothing is counted, the cookie is cleared.
            if let Session::Live(found) = from_request(req, env, None).await? {
                let session = found.session;
                if !allows(req, &session) {
                    return Err(ErrorCode::CsrfCheckFailed.into());
                }
                let command = RegistryCommand::EndSession {
                    id: session.id.clone(),
                    person: session.user_handle,
                };
                relay(to_registry(env, &command).await?).await?;
                if let Some(person) = session.user_handle {
                    let by = Caller::Person {
                        user_handle: person,
                        session_id: session.id,
                        authenticated_at: session.authenticated_at,
                    };
                    let client = client_info(req);
                    let signed_out = DirectoryCommand::SignedOut { by, client };
                    relay(
                        to_registry(
                            env,
                            &RegistryCommand::Directory {
                                command: signed_out,
                            },
                        )
                        .await?,
                    )
                    .await?;
                }
            }
            let mut response = json_response(200, &SessionView::SIGNED_OUT);
            response.headers_mut().set("Set-Cookie", &cookie("", 0))?;
            Ok(response)
        }
    }
}

/// Refuses a request a page on another site made the browser send: an `Origin` that is
/// not this one, or `Sec-Fetch-Site` other than `same-origin` or `none` (typed by the
/// person). Such a page can POST here from the operator's own address (a `no-cors` fetch,
/// a form); if that counted as a sign-in attempt, it could keep the operator locked out.
pub fn refuse_cross_site(req: &Request) -> ApiResult<()> {
    let header = |name| req.headers().get(name).ok().flatten();
    let url = req.inner().url();
    let own = RequestTarget::split(&url).origin;
    let other_origin = header("Origin").is_some_and(|origin| origin != own);
    let other_site = header("Sec-Fetch-Site")
        .is_some_and(|site| !matches!(site.as_str(), "same-origin" | "none"));
    if other_origin || other_site {
        return Err(ErrorCode::CrossSiteRequest.into());
    }
    Ok(())
}

async fn sign_in(req: &mut Request, env: &Env, admin_token: &str) -> ApiResult<Response> {
    let now = now();
    // What another site can send is refused before anything is counted: a cross-site
    // origin here, and a body that is not JSON (all a `no-cors` request can send) when it
    // is read. Only wrong tokens count against the address (the gate counts them, and
    // past the limit refuses sign-ins from it before they get here).
    refuse_cross_site(req)?;
    let body: SignIn = crate::body::read_json(req).await?;
    if !token_matches(body.token.trim(), admin_token) {
        return Err(ApiError::with_detail(
            ErrorCode::InvalidAdminToken,
            "that is not the operator token",
        )
        .counted(Failure::SignIn));
    }
    let token = random_hex::<32>()?;
    let client = client_info(req);
    let now = now.0;
    let session = SessionRecord {
        id: format!("ses_{}", random_hex::<8>()?),
        csrf: random_hex::<16>()?,
        created_at: now,
        last_seen_at: now,
        expires_at: now + LIFETIME_MS,
        ip: client.ip,
        user_agent: client.user_agent,
        user_handle: None,
        authenticated_at: now,
    };
    let command = RegistryCommand::CreateSession {
        token_hash: token_hash(&token),
        session,
    };
    let session: SessionRecord = read_answer(to_registry(env, &command).await?).await?;
    let found = FoundSession {
        session,
        memberships: Vec::new(),
        application_account: None,
    };
    let mut response = json_response(200, &SessionView::of(&found));
    response
        .headers_mut()
        .set("Set-Cookie", &cookie(&token, LIFETIME_MS / 1000))?;
    Ok(response)
}

/// A new person's session: its token (for the cookie) and what the registry stores.
pub fn new_session() -> ApiResult<(String, NewSession)> {
    let token = random_hex::<32>()?;
    let session = NewSession {
        token_hash: token_hash(&token),
        id: format!("ses_{}", random_hex::<8>()?),
        csrf: random_hex::<16>()?,
    };
    Ok((token, session))
}

/// The cookie of a person's new session (at most 12 hours; the registry ends it sooner
/// when it is not used for 30 minutes).
pub fn person_cookie(token: &str) -> String {
    cookie(
        token,
        aero2_accounts::session::SESSION_ABSOLUTE_LIFETIME_MS / 1000,
    )
}

#[derive(Serialize)]
struct SessionListView {
    sessions: Vec<SessionItemView>,
}

#[derive(Serialize)]
struct SessionItemView {
    id: String,
    created_at: String,
    last_seen_at: String,
    expires_at: String,
    ip: Option<String>,
    user_agent: Option<String>,
    current: bool,
}

/// `/v1/dashboard/sessions`: list (GET) or end every session (DELETE);
/// `/v1/dashboard/sessions/{id}`: end one (DELETE). Operator only.
pub async fn sessions(
    req: &mut Request,
    rest: &[&str],
    env: &Env,
    config: &Config,
) -> ApiResult<Response> {
    let who = authenticate(req, env, config, None).await?;
    let current = who.session_id();
    let person = who.person();
    let method = method(req);
    let time = |ms| aero2_keys::UnixMillis(ms).to_rfc3339();
    match rest {
        [] => {
            allow(&method, "GET, DELETE")?;
            if method == "DELETE" {
                relay(to_registry(env, &RegistryCommand::EndAllSessions { person }).await?).await?;
                let mut response = json_response(200, &SessionView::SIGNED_OUT);
                response.headers_mut().set("Set-Cookie", &cookie("", 0))?;
                return Ok(response);
            }
            let sessions: Vec<SessionRecord> =
                read_answer(to_registry(env, &RegistryCommand::ListSessions { person }).await?)
                    .await?;
            let sessions = sessions
                .into_iter()
                .map(|s| SessionItemView {
                    current: current == Some(s.id.as_str()),
                    created_at: time(s.created_at),
                    last_seen_at: time(s.last_seen_at),
                    expires_at: time(s.expires_at),
                    id: s.id,
                    ip: s.ip,
                    user_agent: s.user_agent,
                })
                .collect();
            Ok(json_response(200, &SessionListView { sessions }))
        }
        [id] => {
            allow(&method, "DELETE")?;
            let command = RegistryCommand::EndSession {
                id: (*id).to_owned(),
                person,
            };
            relay(to_registry(env, &command).await?).await
        }
        _ => Err(ErrorCode::NotFound.into()),
    }
}

/// Who a dashboard or operator request comes from.
pub enum Who {
    /// `Authorization: Bearer <ADMIN_TOKEN>` (no session), or the operator's session.
    Operator { session_id: Option<String> },
    /// A person signed in with a passkey.
    Person(FoundSession),
}

impl Who {
    pub fn session_id(&self) -> Option<&str> {
        match self {
            Who::Operator { session_id } => session_id.as_deref(),
            Who::Person(found) => Some(&found.session.id),
        }
    }

    /// A person's passkeys' user handle; none for the operator.
    pub fn person(&self) -> Option<aero2_accounts::UserHandle> {
        match self {
            Who::Operator { .. } => None,
            Who::Person(found) => found.session.user_handle,
        }
    }

    /// As the directory names callers.
    pub fn caller(&self) -> Caller {
        match self {
            Who::Operator { .. } => Caller::Operator,
            Who::Person(found) => Caller::Person {
                user_handle: found.session.user_handle.unwrap_or_else(|| {
                    aero2_accounts::UserHandle::from_bytes([0; aero2_accounts::UserHandle::LEN])
                }),
                session_id: found.session.id.clone(),
                authenticated_at: found.session.authenticated_at,
            },
        }
    }

    /// The operator, or 403 for a person: the platform's own tasks.
    pub fn operator_only(&self) -> ApiResult<()> {
        match self {
            Who::Operator { .. } => Ok(()),
            Who::Person(_) => Err(ApiError::with_detail(
                ErrorCode::InsufficientRole,
                "this is the platform operator's task",
            )),
        }
    }
}

/// The caller of a dashboard or operator request: a client sending `Authorization:
/// Bearer <ADMIN_TOKEN>`, or the dashboard with a session cookie (and, to change
/// anything, its CSRF token), the operator's or a person's. `application`: also find the
/// account that owns it (a person's rights there). A token that does not match is reported
/// to the gate, which counts it against the address's sign-in limit and, past it, stops
/// the address's tokens before they get here.
pub async fn authenticate(
    req: &Request,
    env: &Env,
    config: &Config,
    application: Option<ApplicationId>,
) -> ApiResult<Who> {
    let header = req.headers().get("Authorization").ok().flatten();
    if let Some(header) = header.filter(|h| !h.trim().is_empty()) {
        let Some(expected) = config.admin_token.as_deref() else {
            return Err(ErrorCode::OperatorApiDisabled.into());
        };
        let given = header
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .unwrap_or_default();
        if token_matches(given, expected) {
            return Ok(Who::Operator { session_id: None });
        }
        return Err(ApiError::with_detail(
            ErrorCode::InvalidAdminToken,
            "the operator API requires Authorization: Bearer <ADMIN_TOKEN>",
        )
        .counted(Failure::SignIn));
    }
    match from_request(req, env, application).await? {
        Session::Live(found) if !allows(req, &found.session) => {
            Err(ErrorCode::CsrfCheckFailed.into())
        }
        Session::Live(found) if found.session.user_handle.is_some() => Ok(Who::Person(*found)),
        // The operator's session stops working when ADMIN_TOKEN is unset.
        Session::Live(_) if config.admin_token.is_none() => {
            Err(ErrorCode::OperatorApiDisabled.into())
        }
        Session::Live(found) => Ok(Who::Operator {
            session_id: Some(found.session.id),
        }),
        // An ended session (signed out, expired, or its person removed from their last
        // account), or a made-up cookie: sign in again. Counted as a failed attempt.
        Session::Unknown => Err(ApiError::from(ErrorCode::NotSignedIn).counted(Failure::Session)),
        Session::None => Err(ErrorCode::InvalidAdminToken.into()),
    }
}

/// Test builds only: `POST /__faults/session/age` `{"seconds"}` moves the cookie's
/// session's last passkey ceremony that far into the past.
#[cfg(feature = "fault-injection")]
pub async fn age(req: &mut Request, env: &Env) -> ApiResult<Response> {
    #[derive(Deserialize)]
    struct Age {
        seconds: u64,
    }
    let token = cookie_token(req).ok_or(ErrorCode::NotSignedIn)?;
    let body: Age = crate::body::read_json(req).await?;
    let command = RegistryCommand::AgeSession {
        token_hash: token_hash(&token),
        by_ms: body.seconds * 1000,
    };
    relay(to_registry(env, &command).await?).await
}
