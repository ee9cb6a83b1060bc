//! The gate's public keys: reading a JWK Set, fetching it through an injected fetcher,
//! and caching it (refetched after a maximum age, and on an unknown `kid` at most once per
//! cooldown; failed fetches are retried at most once a second).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use base64::Engine;
use ed25519_dalek::VerifyingKey;
use serde::Deserialize;

use crate::error::{Error, Reason};

/// The error a fetcher returns.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The future a [`JwksFetcher`] returns: the JWK Set document's bytes.
pub type FetchFuture<'a> = Pin<Box<dyn Future<Output = Result<Vec<u8>, BoxError>> + Send + 'a>>;

/// Fetches the gate's JWK Set (`GET https://<gate>/.well-known/jwks.json`), with whatever
/// HTTP client the application already has. It should time out on its own (a few seconds)
/// and fail on any status but 200.
///
/// Any `Fn() -> impl Future<Output = Result<Vec<u8>, BoxError>>` is a fetcher:
///
/// ```ignore
/// let client = reqwest::Client::new();
/// let fetcher = move || {
///     let client = client.clone();
///     async move {
///         let response = client.get("https://keys.example.com/.well-known/jwks.json")
///             .timeout(std::time::Duration::from_secs(5)).send().await?.error_for_status()?;
///         Ok::<_, aero2_origin::BoxError>(response.bytes().await?.to_vec())
///     }
/// };
/// ```
pub trait JwksFetcher: Send + Sync + 'static {
    fn fetch(&self) -> FetchFuture<'_>;
}

impl<F, Fut> JwksFetcher for F
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Vec<u8>, BoxError>> + Send + 'static,
{
    fn fetch(&self) -> FetchFuture<'_> {
        Box::pin(self())
    }
}

/// A fixed JWK Set, for tests or an origin that pins the gate's keys.
#[derive(Clone, Debug)]
pub struct StaticJwks(pub Vec<u8>);

impl JwksFetcher for StaticJwks {
    fn fetch(&self) -> FetchFuture<'_> {
        let body = self.0.clone();
        Box::pin(async move { Ok(body) })
    }
}

#[derive(Deserialize)]
struct JwkSet {
    keys: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct Jwk {
    kty: String,
    crv: Option<String>,
    x: Option<String>,
    kid: Option<String>,
    alg: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    key_ops: Option<Vec<String>>,
}

/// The Ed25519 verification keys of a JWK Set by `kid`. Members of other types, with
/// another use or algorithm, or that are not valid keys are left out; a `kid` that two
/// Ed25519 keys share is left out too, as ambiguous.
pub(crate) fn parse_jwks(body: &[u8]) -> Result<HashMap<String, VerifyingKey>, &'static str> {
    let set: JwkSet = serde_json::from_slice(body).map_err(|_| "not a JWK Set")?;
    let mut keys = HashMap::new();
    let mut ambiguous = Vec::new();
    for member in set.keys {
        let Ok(jwk) = serde_json::from_value::<Jwk>(member) else {
            continue;
        };
        let usable = jwk.kty == "OKP"
            && jwk.crv.as_deref() == Some("Ed25519")
            && jwk.alg.as_deref().is_none_or(|a| a == "EdDSA")
            && jwk.use_.as_deref().is_none_or(|u| u == "sig")
            && jwk
                .key_ops
                .as_ref()
                .is_none_or(|ops| ops.iter().any(|o| o == "verify"));
        let (true, Some(kid), Some(x)) = (usable, jwk.kid, jwk.x) else {
            continue;
        };
        let Ok(bytes) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(x) else {
            continue;
        };
        let Ok(bytes) = <[u8; 32]>::try_from(bytes.as_slice()) else {
            continue;
        };
        let Ok(key) = VerifyingKey::from_bytes(&bytes) else {
            continue;
        };
        if key.is_weak() {
            continue;
        }
        if keys.insert(kid.clone(), key).is_some() {
            ambiguous.push(kid);
        }
    }
    for kid in ambiguous {
        keys.remove(&kid);
    }
    Ok(keys)
}

#[derive(Default)]
struct State {
    keys: Arc<HashMap<String, VerifyingKey>>,
    /// When the set was last fetched successfully, in Unix ms.
    fetched_at: Option<i64>,
    /// When a fetch last failed, in Unix ms.
    failed_at: Option<i64>,
}

pub(crate) struct JwksCache {
    fetcher: Box<dyn JwksFetcher>,
    cooldown_ms: i64,
    max_age_ms: i64,
    state: Mutex<State>,
    /// One fetch at a time; the others wait for its result.
    refreshing: tokio::sync::Mutex<()>,
}

/// A failed fetch is not retried sooner than this, so a broken JWK Set endpoint is not
/// hammered by every request.
const RETRY_AFTER_FAILURE_MS: i64 = 1_000;

enum Lookup {
    Found(VerifyingKey),
    Unknown,
    Refresh,
}

impl JwksCache {
    pub(crate) fn new(fetcher: Box<dyn JwksFetcher>, cooldown_ms: i64, max_age_ms: i64) -> Self {
        JwksCache {
            fetcher,
            cooldown_ms,
            max_age_ms,
            state: Mutex::new(State::default()),
            refreshing: tokio::sync::Mutex::new(()),
        }
    }

    fn lookup(&self, kid: &str, now: i64) -> Lookup {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let Some(fetched_at) = state.fetched_at else {
            return Lookup::Refresh;
        };
        let age = now.saturating_sub(fetched_at);
        if age >= self.max_age_ms {
            return Lookup::Refresh;
        }
        match state.keys.get(kid) {
            Some(key) => Lookup::Found(*key),
            None if age >= self.cooldown_ms => Lookup::Refresh,
            None => Lookup::Unknown,
        }
    }

    /// The key for `kid`, fetching the set when it is missing, stale, or lacks `kid` and
    /// was fetched longer than the cooldown ago. `now` gives the time in Unix ms.
    pub(crate) async fn key(
        &self,
        kid: &str,
        now: impl Fn() -> i64,
    ) -> Result<VerifyingKey, Error> {
        match self.lookup(kid, now()) {
            Lookup::Found(key) => return Ok(key),
            Lookup::Unknown => return Err(unknown_key()),
            Lookup::Refresh => {}
        }
        let _refreshing = self.refreshing.lock().await;
        // Another request may have refreshed the set while this one waited.
        let now_ms = now();
        match self.lookup(kid, now_ms) {
            Lookup::Found(key) => return Ok(key),
            Lookup::Unknown => return Err(unknown_key()),
            Lookup::Refresh => {}
        }
        let (failed_recently, usable) = {
            let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            let failed_recently = state
                .failed_at
                .is_some_and(|at| now_ms.saturating_sub(at) < RETRY_AFTER_FAILURE_MS);
            let usable = state
                .fetched_at
                .is_some_and(|at| now_ms.saturating_sub(at) < self.max_age_ms);
            (failed_recently, usable)
        };
        if failed_recently {
            // Fresh keys without this kid: it is unknown. Otherwise there are no keys.
            return Err(if usable {
                unknown_key()
            } else {
                Error::new(
                    Reason::JwksUnavailable,
                    "the gate's JWK Set could not be fetched (retried at most once a second)",
                )
            });
        }
        let result = self.fetcher.fetch().await;
        let parsed = match result {
            Ok(body) => parse_jwks(&body).map_err(|what| {
                Error::new(
                    Reason::JwksUnavailable,
                    format!("the gate's JWK Set could not be read: {what}"),
                )
            }),
            Err(source) => Err(Error::new(
                Reason::JwksUnavailable,
                "the gate's JWK Set could not be fetched",
            )
            .with_source(Arc::from(source))),
        };
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match parsed {
            Ok(keys) => {
                state.keys = Arc::new(keys);
                state.fetched_at = Some(now_ms);
                state.failed_at = None;
                state.keys.get(kid).copied().ok_or_else(unknown_key)
            }
            Err(error) => {
                state.failed_at = Some(now_ms);
                Err(error)
            }
        }
    }
}

fn unknown_key() -> Error {
    Error::new(
        Reason::UnknownKey,
        "no Ed25519 key in the gate's JWK Set has this kid",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_ed25519_signing_keys_are_kept() {
        let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(
            ed25519_dalek::SigningKey::from_bytes(&[7; 32])
                .verifying_key()
                .as_bytes(),
        );
        let body = serde_json::json!({"keys": [
            {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "good", "alg": "EdDSA", "use": "sig"},
            {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "bare"},
            {"kty": "RSA", "kid": "rsa", "n": "sXch", "e": "AQAB"},
            {"kty": "oct", "kid": "hmac", "k": x},
            {"kty": "OKP", "crv": "X25519", "x": x, "kid": "x25519"},
            {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "enc", "use": "enc"},
            {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "rs", "alg": "RS256"},
            {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "sign-only", "key_ops": ["sign"]},
            {"kty": "OKP", "crv": "Ed25519", "x": "AAAA", "kid": "short"},
            {"kty": "OKP", "crv": "Ed25519", "x": x},
            {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": 7},
            // The identity point: a weak key.
            {"kty": "OKP", "crv": "Ed25519", "x": "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "kid": "weak"},
            {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "twice"},
            {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "twice"},
            "not an object",
        ]});
        let keys = parse_jwks(body.to_string().as_bytes()).unwrap();
        let mut kids: Vec<&str> = keys.keys().map(String::as_str).collect();
        kids.sort_unstable();
        assert_eq!(kids, ["bare", "good"]);
        assert!(parse_jwks(b"{}").is_err());
        assert!(parse_jwks(b"not json").is_err());
        assert!(parse_jwks(br#"{"keys": 7}"#).is_err());
        assert!(parse_jwks(br#"{"keys": []}"#).unwrap().is_empty());
    }
}
