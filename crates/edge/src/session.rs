//! Dashboard sessions for the operator.
//!
//! Signing in exchanges `ADMIN_TOKEN` for an HttpOnly, Secure, SameSite=Strict cookie, so
//! the token itself never stays in the page. The cookie is stateless:
//! `<expires_ms>.<csrf>.<mac>`, where the MAC is HMAC-SHA256 under a key derived from
//! `ADMIN_TOKEN` (changing the token signs every session out). State-changing requests
//! must also send the session's CSRF token in `X-CSRF-Token`, and a same-origin `Origin`.

use aero2_keys::gate::RequestTarget;
use aero2_keys::http::ErrorCode;
use aero2_keys::{encode_hex, RandomSource, SystemRandom, UnixMillis};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use worker::{Request, Response};

use crate::clock::now;
use crate::config::Config;
use crate::errors::{ApiError, ApiResult};
use crate::router::{allow, method};
use crate::views::json_response;

pub const COOKIE: &str = "aero2_session";
const LIFETIME_MS: u64 = 8 * 60 * 60 * 1000;

pub struct Session {
    pub csrf: String,
    pub expires_at: UnixMillis,
}

fn mac(admin_token: &str, expires: u64, csrf: &str) -> [u8; 32] {
    let key = Sha256::new()
        .chain_update(b"aero2 dashboard session v1\0")
        .chain_update(admin_token.as_bytes())
        .finalize();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes any key length");
    mac.update(format!("{expires}.{csrf}").as_bytes());
    mac.finalize().into_bytes().into()
}

/// Compares the given token with `ADMIN_TOKEN` in constant time. Both are hashed first
/// so that neither the content nor the length of the real token leaks through timing.
pub fn token_matches(given: &str, expected: &str) -> bool {
    let equal: bool = Sha256::digest(given.as_bytes())
        .ct_eq(&Sha256::digest(expected.as_bytes()))
        .into();
    !given.is_empty() && equal
}

/// The session in the request's cookie, if it is genuine and unexpired.
pub fn from_request(req: &Request, admin_token: &str) -> Option<Session> {
    let cookies = req.headers().get("Cookie").ok().flatten()?;
    let value = cookies
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)?
        .1;
    let mut parts = value.splitn(3, '.');
    let expires: u64 = parts.next()?.parse().ok()?;
    let csrf = parts.next()?;
    let given_mac = parts.next()?;
    let expected = encode_hex(&mac(admin_token, expires, csrf));
    let genuine: bool = given_mac.as_bytes().ct_eq(expected.as_bytes()).into();
    (genuine && now().0 < expires).then(|| Session {
        csrf: csrf.to_owned(),
        expires_at: UnixMillis(expires),
    })
}

/// Whether a cookie-authenticated request may change state: it carries the session's
/// CSRF token and, when the browser says where it comes from, comes from this origin.
pub fn allows(req: &Request, session: &Session) -> bool {
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
    csrf: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<String>,
}

fn session_body(session: &Session) -> SessionView<'_> {
    SessionView {
        signed_in: true,
        csrf: Some(&session.csrf),
        expires_at: Some(session.expires_at.to_rfc3339()),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignIn {
    token: String,
}

/// `/v1/dashboard/session`: POST signs in, GET says who is signed in, DELETE signs out.
pub async fn handle(req: &mut Request, config: &Config) -> ApiResult<Response> {
    let method = method(req);
    allow(&method, "GET, POST, DELETE")?;
    let Some(admin_token) = config.admin_token.as_deref() else {
        return Err(ErrorCode::OperatorApiDisabled.into());
    };
    match method.as_str() {
        "POST" => {
            let body: SignIn = crate::body::read_json(req).await?;
            if !token_matches(body.token.trim(), admin_token) {
                return Err(ApiError::with_detail(
                    ErrorCode::InvalidAdminToken,
                    "that is not the operator token",
                ));
            }
            let mut csrf_bytes = [0u8; 16];
            SystemRandom
                .fill_bytes(&mut csrf_bytes)
                .map_err(|_| ErrorCode::RandomUnavailable)?;
            let session = Session {
                csrf: encode_hex(&csrf_bytes),
                expires_at: UnixMillis(now().0 + LIFETIME_MS),
            };
            let value = format!(
                "{}.{}.{}",
                session.expires_at.0,
                session.csrf,
                encode_hex(&mac(admin_token, session.expires_at.0, &session.csrf))
            );
            let mut response = json_response(200, &session_body(&session));
            response
                .headers_mut()
                .set("Set-Cookie", &cookie(&value, LIFETIME_MS / 1000))?;
            Ok(response)
        }
        "GET" => match from_request(req, admin_token) {
            Some(session) => Ok(json_response(200, &session_body(&session))),
            None => Err(ErrorCode::NotSignedIn.into()),
        },
        _ => {
            let signed_out = SessionView {
                signed_in: false,
                csrf: None,
                expires_at: None,
            };
            let mut response = json_response(200, &signed_out);
            response.headers_mut().set("Set-Cookie", &cookie("", 0))?;
            Ok(response)
        }
    }
}
