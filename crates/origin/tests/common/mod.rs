//! Tokens made here as the gate makes them (the same header and claims), a JWK Set fetcher
//! that counts its calls and can fail, and a clock the tests move.
#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aero2_origin::{BoxError, Verifier};
use base64::Engine;
use ed25519_dalek::{Signer, SigningKey};
use serde_json::{json, Value};

pub const ISSUER: &str = "https://keys.example";
pub const AUDIENCE: &str = "https://api.example";
/// 2027-01-15T08:00:00Z, in Unix seconds.
pub const T0: i64 = 1_800_000_000;

pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub struct Key {
    pub signing: SigningKey,
    pub kid: String,
}

impl Key {
    pub fn new(seed: u8, kid: &str) -> Key {
        Key {
            signing: SigningKey::from_bytes(&[seed; 32]),
            kid: kid.to_owned(),
        }
    }

    /// The public JWK, as the gate publishes it.
    pub fn jwk(&self) -> Value {
        json!({"kty": "OKP", "crv": "Ed25519", "x": b64(self.signing.verifying_key().as_bytes()),
               "kid": self.kid, "alg": "EdDSA", "use": "sig"})
    }

    /// A compact JWS of `claims` under the gate's header with `header` merged in (a null
    /// value removes a member).
    pub fn sign_with(&self, header: Value, claims: &Value) -> String {
        let mut full = json!({"alg": "EdDSA", "kid": self.kid, "typ": "aero2-assertion+jwt"});
        for (name, value) in header.as_object().unwrap() {
            if value.is_null() {
                full.as_object_mut().unwrap().remove(name);
            } else {
                full[name] = value.clone();
            }
        }
        let payload = match claims {
            Value::String(raw) => raw.clone(),
            other => other.to_string(),
        };
        let input = format!("{}.{}", b64(full.to_string()), b64(payload));
        let signature = self.signing.sign(input.as_bytes());
        format!("{input}.{}", b64(signature.to_bytes()))
    }

    pub fn sign(&self, claims: &Value) -> String {
        self.sign_with(json!({}), claims)
    }
}

static JTI: AtomicUsize = AtomicUsize::new(0);

/// The claims the gate would sign for `method target` issued at `iat`.
pub fn claims(method: &str, target: &str, iat: i64) -> Value {
    json!({
        "iss": ISSUER, "aud": AUDIENCE, "sub": "key_AAAAAAAAAAAAAAAA", "app": "app_BBBBBBBBBBBBBBBB",
        "env": "live", "kind": "secret", "htm": method, "htu": target, "iat": iat, "exp": iat + 60,
        "jti": format!("jti-{}", JTI.fetch_add(1, Ordering::SeqCst)),
    })
}

/// A JWK Set the test can change, counting fetches; `fail` makes fetches fail.
#[derive(Clone, Default)]
pub struct Jwks {
    pub body: Arc<Mutex<String>>,
    pub fetches: Arc<AtomicUsize>,
    pub fail: Arc<AtomicBool>,
}

impl Jwks {
    pub fn new(keys: &[&Key]) -> Jwks {
        let jwks = Jwks::default();
        jwks.set(keys);
        jwks
    }

    pub fn set(&self, keys: &[&Key]) {
        let keys: Vec<Value> = keys.iter().map(|k| k.jwk()).collect();
        *self.body.lock().unwrap() = json!({ "keys": keys }).to_string();
    }

    pub fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    pub fn fetcher(
        &self,
    ) -> impl Fn() -> std::future::Ready<Result<Vec<u8>, BoxError>> + Send + Sync + 'static {
        let jwks = self.clone();
        move || {
            jwks.fetches.fetch_add(1, Ordering::SeqCst);
            std::future::ready(if jwks.fail.load(Ordering::SeqCst) {
                Err("connection refused".into())
            } else {
                Ok(jwks.body.lock().unwrap().clone().into_bytes())
            })
        }
    }
}

/// A clock the test moves, in Unix milliseconds.
#[derive(Clone)]
pub struct Clock(pub Arc<AtomicI64>);

impl Clock {
    pub fn at(seconds: i64) -> Clock {
        Clock(Arc::new(AtomicI64::new(seconds * 1000)))
    }
    pub fn set_ms(&self, ms: i64) {
        self.0.store(ms, Ordering::SeqCst);
    }
    pub fn advance(&self, by: Duration) {
        self.0.fetch_add(by.as_millis() as i64, Ordering::SeqCst);
    }
    pub fn seconds(&self) -> i64 {
        self.0.load(Ordering::SeqCst) / 1000
    }
    pub fn func(&self) -> impl Fn() -> SystemTime + Send + Sync + 'static {
        let at = self.0.clone();
        move || UNIX_EPOCH + Duration::from_millis(at.load(Ordering::SeqCst) as u64)
    }
}

/// A verifier for ISSUER and AUDIENCE over `jwks`, on `clock`.
pub fn verifier(jwks: &Jwks, clock: &Clock) -> aero2_origin::Builder {
    Verifier::builder(ISSUER, AUDIENCE, jwks.fetcher()).clock(clock.func())
}

/// Runs a future to completion on a current-thread runtime.
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(future)
}
