//! The operator's dashboard sessions, kept server-side in the registry Durable Object.
//!
//! Signing in exchanges `ADMIN_TOKEN` for a random session token in a `__Host-` cookie
//! (HttpOnly, Secure, SameSite=Strict, host-only, 8 hours), so the operator token never
//! stays in the page. The registry stores only the token's SHA-256. Signing out ends the
//! session there, so a copied cookie stops working at once; the operator can list active
//! sessions, end one, or sign out everywhere. Changes made with a session also need its
//! CSRF token in `X-CSRF-Token` and, when the browser sends one, a same-origin `Origin`.
//! Sign-ins are limited per client address.

use aero2_keys::gate::RequestTarget;
use aero2_keys::http::ErrorCode;
use aero2_keys::{encode_hex, RandomSource, SystemRandom};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use worker::{Env, Request, Response};

use crate::clock::now;
use crate::config::Config;
use crate::errors::{ApiError, ApiResult, Failure};
use crate::json::json_response;
use crate::methods::{allow, method};
use crate::protocol::SessionRecord;
use crate::protocol::{client_info, read_answer, relay, to_registry, RegistryCommand};

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

fn random_hex<const N: usize>() -> ApiResult<String> {
    let mut bytes = [0u8; N];
    SystemRandom
        .fill_bytes(&mut bytes)
        .map_err(|_| ErrorCode::RandomUnavailable)?;
    Ok(encode_hex(&bytes))
}

fn token_hash(token: &str) -> String {
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
pub async fn from_request(req: &Request, env: &Env) -> ApiResult<Session> {
    let Some(token) = cookie_token(req) else {
        return Ok(Session::None);
    };
    let command = RegistryCommand::FindSession {
        token_hash: token_hash(&token),
    };
    match read_answer::<SessionRecord>(to_registry(env, &command).await?).await {
        Ok(session) => Ok(Session::Live(session)),
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
    Live(SessionRecord),
}

impl Session {
    /// The live session, or the error to answer when there is none: `not_signed_in`,
    /// reported to the gate as a failure when a cookie named no session.
    pub fn live(self) -> ApiResult<SessionRecord> {
        match self {
            Session::Live(session) => Ok(session),
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
}

impl<'a> SessionView<'a> {
    fn of(session: &'a SessionRecord) -> Self {
        SessionView {
            signed_in: true,
            session_id: Some(&session.id),
            csrf: Some(&session.csrf),
            expires_at: Some(aero2_keys::UnixMillis(session.expires_at).to_rfc3339()),
        }
    }

    const SIGNED_OUT: SessionView<'static> = SessionView {
        signed_in: false,
        session_id: None,
        csrf: None,
        expires_at: None,
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
    let Some(admin_token) = config.admin_token.as_deref() else {
        return Err(ErrorCode::OperatorApiDisabled.into());
    };
    match method.as_str() {
        "POST" => sign_in(req, env, admin_token).await,
        "GET" => {
            let session = from_request(req, env).await?.live()?;
            Ok(json_response(200, &SessionView::of(&session)))
        }
        _ => {
            // Signing out with a stale cookie (a tab left open after "sign out everywhere")
            // is no attack: nothing is counted, the cookie is cleared.
            if let Session::Live(session) = from_request(req, env).await? {
                if !allows(req, &session) {
                    return Err(ErrorCode::CsrfCheckFailed.into());
                }
                let command = RegistryCommand::EndSession { id: session.id };
                relay(to_registry(env, &command).await?).await?;
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
fn refuse_cross_site(req: &Request) -> ApiResult<()> {
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
    };
    let command = RegistryCommand::CreateSession {
        token_hash: token_hash(&token),
        session,
    };
    let session: SessionRecord = read_answer(to_registry(env, &command).await?).await?;
    let mut response = json_response(200, &SessionView::of(&session));
    response
        .headers_mut()
        .set("Set-Cookie", &cookie(&token, LIFETIME_MS / 1000))?;
    Ok(response)
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
    let current = authenticate(req, env, config).await?;
    let method = method(req);
    let time = |ms| aero2_keys::UnixMillis(ms).to_rfc3339();
    match rest {
        [] => {
            allow(&method, "GET, DELETE")?;
            if method == "DELETE" {
                relay(to_registry(env, &RegistryCommand::EndAllSessions).await?).await?;
                let mut response = json_response(200, &SessionView::SIGNED_OUT);
                response.headers_mut().set("Set-Cookie", &cookie("", 0))?;
                return Ok(response);
            }
            let sessions: Vec<SessionRecord> =
                read_answer(to_registry(env, &RegistryCommand::ListSessions).await?).await?;
            let sessions = sessions
                .into_iter()
                .map(|s| SessionItemView {
                    current: current.as_deref() == Some(s.id.as_str()),
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
            };
            relay(to_registry(env, &command).await?).await
        }
        _ => Err(ErrorCode::NotFound.into()),
    }
}

/// The operator is either a client sending `Authorization: Bearer <ADMIN_TOKEN>`, or the
/// dashboard with a session cookie (and, to change anything, its CSRF token). Returns the
/// session's id when a session was used. A token that does not match is reported to the
/// gate, which counts it against the address's sign-in limit and, past it, stops the
/// address's tokens before they get here.
pub async fn authenticate(req: &Request, env: &Env, config: &Config) -> ApiResult<Option<String>> {
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
        if token_matches(given, expected) {
            return Ok(None);
        }
        return Err(ApiError::with_detail(
            ErrorCode::InvalidAdminToken,
            "the operator API requires Authorization: Bearer <ADMIN_TOKEN>",
        )
        .counted(Failure::SignIn));
    }
    match from_request(req, env).await? {
        Session::Live(session) if allows(req, &session) => Ok(Some(session.id)),
        Session::Live(_) => Err(ErrorCode::CsrfCheckFailed.into()),
        Session::Unknown => {
            Err(ApiError::from(ErrorCode::InvalidAdminToken).counted(Failure::Session))
        }
        Session::None => Err(ErrorCode::InvalidAdminToken.into()),
    }
}
