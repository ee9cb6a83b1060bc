//! The verifier: the checks, in order, from the header's shape to the replay cache.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use ed25519_dalek::Signature;
use serde::{Deserialize, Serialize};

use crate::error::{ConfigError, Error, Reason};
use crate::jwks::{JwksCache, JwksFetcher};
use crate::replay::{ReplayCache, Verdict};

/// The JWT header's `typ` of a gate assertion.
pub const ASSERTION_TYPE: &str = "aero2-assertion+jwt";
/// The header that carries the assertion.
pub const ASSERTION_HEADER: &str = "x-aero2-assertion";
/// The gate makes assertions valid for exactly this long; none may claim more.
pub const MAX_LIFETIME_SECONDS: i64 = 60;

/// The identity headers the gate sends beside the assertion.
const IDENTITY_HEADERS: [&str; 4] = [
    "x-aero2-key-id",
    "x-aero2-application-id",
    "x-aero2-environment",
    "x-aero2-key-kind",
];

/// The claim an identity header states.
fn identity_claim<'a>(claims: &'a Claims, header: &str) -> &'a str {
    match header {
        "x-aero2-key-id" => &claims.sub,
        "x-aero2-application-id" => &claims.app,
        "x-aero2-environment" => &claims.env,
        _ => &claims.kind,
    }
}

/// One identity header as sent.
enum Sent {
    Absent,
    Value(String),
    /// Repeated, or not visible ASCII.
    Invalid,
}

/// The claims of a verified assertion. The axum layer puts them in the request's
/// extensions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The gate (`ASSERTION_ISSUER`).
    pub iss: String,
    /// The origin the request was sent to.
    pub aud: String,
    /// The id of the API key that passed the gate (`key_…`).
    pub sub: String,
    /// The application id (`app_…`).
    pub app: String,
    /// `live` or `test`.
    pub env: String,
    /// `publishable` or `secret`.
    pub kind: String,
    /// The request's method.
    pub htm: String,
    /// The request's path and query, exactly as forwarded.
    pub htu: String,
    /// Issued at, Unix seconds.
    pub iat: i64,
    /// Expires at, Unix seconds (`iat + 60`).
    pub exp: i64,
    /// A unique id: 128 random bits.
    pub jti: String,
    /// The signing key's id, from the JWT header.
    pub kid: String,
}

/// The claims as signed: every one required, of its type.
#[derive(Deserialize)]
struct SignedClaims {
    iss: String,
    aud: String,
    sub: String,
    app: String,
    env: String,
    kind: String,
    htm: String,
    htu: String,
    iat: i64,
    exp: i64,
    jti: String,
    nbf: Option<serde_json::Value>,
}

/// The time, injectable for tests. Any `Fn() -> SystemTime` is a clock.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> SystemTime;
}

impl<F: Fn() -> SystemTime + Send + Sync + 'static> Clock for F {
    fn now(&self) -> SystemTime {
        self()
    }
}

fn unix_ms(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_millis()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

/// Builds a [`Verifier`]; see [`Verifier::builder`].
pub struct Builder {
    issuer: String,
    audiences: Vec<String>,
    fetcher: Box<dyn JwksFetcher>,
    clock_tolerance: Duration,
    max_replay_entries: usize,
    jwks_cooldown: Duration,
    jwks_max_age: Duration,
    check_identity_headers: bool,
    max_token_bytes: usize,
    clock: Box<dyn Clock>,
}

impl Builder {
    /// Another audience accepted beside the first (one server that is both `ORIGIN_URL`
    /// and `TEST_ORIGIN_URL`).
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// The clock difference tolerated between the gate and this server. Default 5 s.
    pub fn clock_tolerance(mut self, tolerance: Duration) -> Self {
        self.clock_tolerance = tolerance;
        self
    }

    /// How many unexpired `jti`s the replay cache holds (per process). Default 100,000:
    /// size it for the peak requests per second times 65 s.
    pub fn max_replay_entries(mut self, entries: usize) -> Self {
        self.max_replay_entries = entries;
        self
    }

    /// Fetch the JWK Set again on an unknown `kid` at most this often. Default 60 s.
    pub fn jwks_cooldown(mut self, cooldown: Duration) -> Self {
        self.jwks_cooldown = cooldown;
        self
    }

    /// Fetch the JWK Set again after this long. Default 300 s (the gate's `max-age`).
    pub fn jwks_max_age(mut self, max_age: Duration) -> Self {
        self.jwks_max_age = max_age;
        self
    }

    /// Refuse a request whose `X-Aero2-Key-Id`, `-Application-Id`, `-Environment` or
    /// `-Key-Kind` header disagrees with the signed claims. Default true.
    pub fn check_identity_headers(mut self, check: bool) -> Self {
        self.check_identity_headers = check;
        self
    }

    /// The largest token accepted, in bytes. Default 16,384.
    pub fn max_token_bytes(mut self, bytes: usize) -> Self {
        self.max_token_bytes = bytes;
        self
    }

    /// The clock (default the system's), for tests.
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Box::new(clock);
        self
    }

    pub fn build(self) -> Result<Verifier, ConfigError> {
        if self.issuer.is_empty() {
            return Err(ConfigError(
                "the issuer is empty: the gate's ASSERTION_ISSUER",
            ));
        }
        if self.audiences.iter().any(String::is_empty) {
            return Err(ConfigError(
                "an audience is empty: this origin's URL as the gate calls it (ORIGIN_URL)",
            ));
        }
        if self.max_replay_entries == 0 {
            return Err(ConfigError("max_replay_entries must be at least 1"));
        }
        let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        Ok(Verifier {
            jwks: JwksCache::new(self.fetcher, ms(self.jwks_cooldown), ms(self.jwks_max_age)),
            replay: Mutex::new(ReplayCache::new(self.max_replay_entries)),
            tolerance_ms: ms(self.clock_tolerance),
            issuer: self.issuer,
            audiences: self.audiences,
            check_identity_headers: self.check_identity_headers,
            max_token_bytes: self.max_token_bytes,
            clock: self.clock,
        })
    }
}

/// Verifies the gate's assertions. Share one per process (`Arc<Verifier>`): it holds the
/// JWK Set cache and the replay cache.
pub struct Verifier {
    issuer: String,
    audiences: Vec<String>,
    jwks: JwksCache,
    replay: Mutex<ReplayCache>,
    tolerance_ms: i64,
    check_identity_headers: bool,
    max_token_bytes: usize,
    clock: Box<dyn Clock>,
}

/// What a request says of itself, owned, so that verifying it holds no borrow of the
/// request (whose body need not be `Sync`).
struct Input {
    token: Result<Option<String>, ()>,
    method: String,
    target: String,
    identity: Vec<(&'static str, Sent)>,
}

fn fail<T>(reason: Reason, detail: impl Into<std::borrow::Cow<'static, str>>) -> Result<T, Error> {
    Err(Error::new(reason, detail))
}

fn is_base64url(part: &str) -> bool {
    !part.is_empty()
        && part
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl Verifier {
    /// A verifier for assertions from `issuer` (the gate's `ASSERTION_ISSUER`) to
    /// `audience` (this origin as the gate's `ORIGIN_URL` names it), with the gate's keys
    /// from `fetcher` (see [`JwksFetcher`]).
    pub fn builder(
        issuer: impl Into<String>,
        audience: impl Into<String>,
        fetcher: impl JwksFetcher,
    ) -> Builder {
        Builder {
            issuer: issuer.into(),
            audiences: vec![audience.into()],
            fetcher: Box::new(fetcher),
            clock_tolerance: Duration::from_secs(5),
            max_replay_entries: 100_000,
            jwks_cooldown: Duration::from_secs(60),
            jwks_max_age: Duration::from_secs(300),
            check_identity_headers: true,
            max_token_bytes: 16_384,
            clock: Box::new(SystemTime::now),
        }
    }

    /// Verifies `token` for a request of `method` to `target` (its path and query exactly
    /// as received). No identity headers are compared.
    pub async fn verify_token(
        &self,
        token: Option<&str>,
        method: &str,
        target: &str,
    ) -> Result<Claims, Error> {
        let input = Input {
            token: Ok(token.map(str::to_owned)),
            method: method.to_owned(),
            target: target.to_owned(),
            identity: Vec::new(),
        };
        self.verify_input(input).await
    }

    /// Verifies the assertion of an `http` request: its `X-Aero2-Assertion`, method,
    /// path and query as received, and identity headers. The returned future does not
    /// borrow the request.
    pub fn verify_request<B>(
        &self,
        request: &http::Request<B>,
    ) -> impl Future<Output = Result<Claims, Error>> + Send + '_ {
        let input = self.input(request.method(), request.uri(), request.headers());
        self.verify_input(input)
    }

    /// The same, from the request's parts.
    pub fn verify_parts(
        &self,
        parts: &http::request::Parts,
    ) -> impl Future<Output = Result<Claims, Error>> + Send + '_ {
        let input = self.input(&parts.method, &parts.uri, &parts.headers);
        self.verify_input(input)
    }

    fn input(&self, method: &http::Method, uri: &http::Uri, headers: &http::HeaderMap) -> Input {
        let mut tokens = headers.get_all(ASSERTION_HEADER).iter();
        let token = match (tokens.next(), tokens.next()) {
            (None, _) => Ok(None),
            (Some(value), None) => value.to_str().map(|t| Some(t.to_owned())).map_err(|_| ()),
            (Some(_), Some(_)) => Err(()),
        };
        let identity = if self.check_identity_headers {
            IDENTITY_HEADERS
                .iter()
                .map(|name| {
                    let mut values = headers.get_all(*name).iter();
                    let sent = match (values.next(), values.next()) {
                        (None, _) => Sent::Absent,
                        (Some(v), None) => v
                            .to_str()
                            .map_or(Sent::Invalid, |v| Sent::Value(v.to_owned())),
                        (Some(_), Some(_)) => Sent::Invalid,
                    };
                    (*name, sent)
                })
                .collect()
        } else {
            Vec::new()
        };
        Input {
            token,
            method: method.as_str().to_owned(),
            // The request target as received; an absolute-form target is read for its
            // path and query, which is what routers see.
            target: uri
                .path_and_query()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_default(),
            identity,
        }
    }

    fn now_ms(&self) -> i64 {
        unix_ms(self.clock.now())
    }

    async fn verify_input(&self, input: Input) -> Result<Claims, Error> {
        let token = match input.token {
            Ok(Some(token)) if !token.is_empty() => token,
            Ok(_) => {
                return fail(
                    Reason::Missing,
                    "no X-Aero2-Assertion header: the request did not come through the gate",
                )
            }
            Err(()) => {
                return fail(
                    Reason::Malformed,
                    "X-Aero2-Assertion is repeated or not visible ASCII",
                )
            }
        };
        if token.len() > self.max_token_bytes {
            return fail(
                Reason::Malformed,
                format!("the token is longer than {} bytes", self.max_token_bytes),
            );
        }

        // The header, strictly, before any key is looked up.
        let parts: Vec<&str> = token.split('.').collect();
        let [header, payload, signature] = parts[..] else {
            return fail(Reason::Malformed, "not a compact JWS (three parts)");
        };
        if ![header, payload, signature].into_iter().all(is_base64url) {
            return fail(Reason::Malformed, "not a compact JWS (base64url parts)");
        }
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header_json = engine
            .decode(header)
            .map_err(|_| Error::new(Reason::Malformed, "the JWT header is not base64url"))?;
        let serde_json::Value::Object(header_fields) = serde_json::from_slice(&header_json)
            .map_err(|_| Error::new(Reason::Malformed, "the JWT header is not JSON"))?
        else {
            return fail(Reason::Malformed, "the JWT header is not a JSON object");
        };
        if header_fields.get("typ").and_then(|t| t.as_str()) != Some(ASSERTION_TYPE) {
            return fail(Reason::WrongType, "the JWT type is not aero2-assertion+jwt");
        }
        if header_fields.get("alg").and_then(|a| a.as_str()) != Some("EdDSA") {
            return fail(Reason::WrongAlgorithm, "the JWT algorithm is not EdDSA");
        }
        let kid = match header_fields.get("kid").and_then(|k| k.as_str()) {
            Some(kid) if !kid.is_empty() => kid.to_owned(),
            _ => return fail(Reason::Malformed, "the JWT header has no kid"),
        };
        if header_fields.contains_key("crit") || header_fields.contains_key("b64") {
            return fail(
                Reason::Malformed,
                "the JWT header has crit or b64, which assertions never use",
            );
        }
        let signature: [u8; 64] = engine
            .decode(signature)
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or_else(|| Error::new(Reason::BadSignature, "the signature is not 64 bytes"))?;

        let key = self.jwks.key(&kid, || self.now_ms()).await?;
        let signing_input = &token[..header.len() + 1 + payload.len()];
        key.verify_strict(signing_input.as_bytes(), &Signature::from_bytes(&signature))
            .map_err(|_| Error::new(Reason::BadSignature, "the signature does not verify"))?;

        // Signed by the gate: now the claims.
        let payload_json = engine
            .decode(payload)
            .map_err(|_| Error::new(Reason::Malformed, "the claims are not base64url"))?;
        let signed: SignedClaims = serde_json::from_slice(&payload_json).map_err(|_| {
            Error::new(
                Reason::Malformed,
                "the claims are not the assertion's (each present, strings and integer times)",
            )
        })?;
        if signed.iss != self.issuer {
            return fail(Reason::WrongIssuer, "iss is not the configured issuer");
        }
        if !self.audiences.contains(&signed.aud) {
            return fail(
                Reason::WrongAudience,
                "aud is not this origin: the assertion was made for another one",
            );
        }
        let now = self.now_ms();
        let tolerance = self.tolerance_ms;
        let (iat, exp) = (
            signed.iat.saturating_mul(1000),
            signed.exp.saturating_mul(1000),
        );
        if signed.exp <= signed.iat {
            return fail(Reason::Malformed, "exp is not after iat");
        }
        let lifetime = signed.exp.saturating_sub(signed.iat);
        if lifetime > MAX_LIFETIME_SECONDS {
            return fail(
                Reason::LifetimeTooLong,
                format!("exp is {lifetime} s after iat, more than {MAX_LIFETIME_SECONDS}"),
            );
        }
        if now >= exp.saturating_add(tolerance) {
            return fail(
                Reason::Expired,
                format!(
                    "expired {} s ago (tolerance {} ms)",
                    now.saturating_sub(exp) / 1000,
                    tolerance
                ),
            );
        }
        if now.saturating_sub(iat) > (MAX_LIFETIME_SECONDS * 1000).saturating_add(tolerance) {
            return fail(Reason::Expired, "issued more than a lifetime ago");
        }
        if iat > now.saturating_add(tolerance) {
            return fail(
                Reason::NotYetValid,
                format!(
                    "issued {} s in the future (tolerance {} ms)",
                    (iat.saturating_sub(now) + 999) / 1000,
                    tolerance
                ),
            );
        }
        if let Some(nbf) = &signed.nbf {
            let in_future = nbf
                .as_f64()
                .is_none_or(|nbf| nbf * 1000.0 > (now.saturating_add(tolerance)) as f64);
            if in_future {
                return fail(Reason::NotYetValid, "nbf is in the future");
            }
        }
        if signed.htm != input.method {
            return fail(Reason::WrongMethod, "htm is not this request's method");
        }
        if signed.htu != input.target {
            return fail(
                Reason::WrongTarget,
                "htu is not this request's path and query",
            );
        }
        let claims = Claims {
            iss: signed.iss,
            aud: signed.aud,
            sub: signed.sub,
            app: signed.app,
            env: signed.env,
            kind: signed.kind,
            htm: signed.htm,
            htu: signed.htu,
            iat: signed.iat,
            exp: signed.exp,
            jti: signed.jti,
            kid,
        };
        for (name, sent) in &input.identity {
            let agrees = match sent {
                Sent::Absent => true,
                Sent::Value(value) => value == identity_claim(&claims, name),
                Sent::Invalid => false,
            };
            if !agrees {
                return fail(
                    Reason::HeaderMismatch,
                    format!("{name} disagrees with the signed claims"),
                );
            }
        }

        // Last: only a token that passed every other check takes a place in the cache. It
        // is held as long as it could be accepted: until exp plus the tolerance.
        let until = exp.saturating_add(tolerance).saturating_add(999) / 1000;
        let verdict = self
            .replay
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remember(&claims.jti, until, now / 1000);
        match verdict {
            Verdict::Fresh => Ok(claims),
            Verdict::Replayed => fail(Reason::Replayed, "this jti was already accepted"),
            Verdict::Full => fail(
                Reason::ReplayCacheFull,
                "the replay cache is full of unexpired tokens; raise max_replay_entries",
            ),
        }
    }

    /// How many `jti`s the replay cache holds now.
    pub fn replay_entries(&self) -> usize {
        self.replay.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("issuer", &self.issuer)
            .field("audiences", &self.audiences)
            .finish_non_exhaustive()
    }
}

/// Shared verifiers verify too.
impl Verifier {
    /// Wraps the verifier for sharing (what the axum layer takes).
    pub fn shared(self) -> Arc<Verifier> {
        Arc::new(self)
    }
}
