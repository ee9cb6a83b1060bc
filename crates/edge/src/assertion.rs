//! The signed assertion the gate adds to every forwarded request (`X-Aero2-Assertion`): a
//! JWT signed with Ed25519 through WebCrypto, and the public keys that verify it, served
//! at `/.well-known/jwks.json`.
//!
//! Identity headers alone can be forged by anyone who reaches the origin directly; a
//! signature cannot. The claims are the core's ([`AssertionClaims`]); this file holds the
//! keys and does the signing.

use std::cell::RefCell;
use std::fmt;

use aero2_keys::http::forwarding::{assertion_header, compact_jwt, signing_input, AssertionClaims};
use aero2_keys::http::ErrorCode;
use base64::Engine;
use serde::{Deserialize, Serialize};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use worker::{js_sys, Response};

use crate::errors::{ApiError, ApiResult};

/// The gate's Ed25519 private key, from the secret `ORIGIN_SIGNING_KEY`: a private JWK as
/// `jose`'s `exportJWK` writes it, plus `kid`.
pub struct SigningKey {
    pub kid: String,
    /// The public key, base64url.
    pub x: String,
    /// The private key, base64url. Never printed.
    d: String,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("x", &self.x)
            .field("d", &"<redacted>")
            .finish()
    }
}

#[derive(Deserialize)]
struct PrivateJwk {
    kty: String,
    crv: String,
    x: String,
    d: String,
    kid: String,
}

/// A public key as published in the JWK Set.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct PublicJwk {
    pub kty: String,
    pub crv: String,
    pub x: String,
    pub kid: String,
    #[serde(default = "eddsa")]
    pub alg: String,
    #[serde(rename = "use", default = "sig")]
    pub use_: String,
}

fn eddsa() -> String {
    "EdDSA".into()
}

fn sig() -> String {
    "sig".into()
}

/// 32 bytes in base64url: an Ed25519 public or private key.
fn is_ed25519_key(text: &str) -> bool {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .is_ok_and(|bytes| bytes.len() == 32)
}

fn is_kid(text: &str) -> bool {
    !text.is_empty() && text.len() <= 128 && text.bytes().all(|b| b.is_ascii_graphic())
}

impl SigningKey {
    /// Reads the secret; `Err` says what is wrong without quoting it.
    pub fn from_jwk(json: &str) -> Result<Self, &'static str> {
        let jwk: PrivateJwk = serde_json::from_str(json)
            .map_err(|_| "not a JSON object with kty, crv, x, d and kid")?;
        if jwk.kty != "OKP" || jwk.crv != "Ed25519" {
            return Err("not an Ed25519 key (kty OKP, crv Ed25519)");
        }
        if !is_ed25519_key(&jwk.x) || !is_ed25519_key(&jwk.d) {
            return Err("x and d must each be 32 bytes in base64url");
        }
        if !is_kid(&jwk.kid) {
            return Err("kid must be 1 to 128 printable characters");
        }
        Ok(SigningKey {
            kid: jwk.kid,
            x: jwk.x,
            d: jwk.d,
        })
    }

    pub fn public_jwk(&self) -> PublicJwk {
        PublicJwk {
            kty: "OKP".into(),
            crv: "Ed25519".into(),
            x: self.x.clone(),
            kid: self.kid.clone(),
            alg: eddsa(),
            use_: sig(),
        }
    }
}

/// Previous public keys (`ORIGIN_PREVIOUS_PUBLIC_KEYS`, a JSON array of JWKs), kept
/// published while origins move to a new signing key. Entries that are not Ed25519
/// public keys are left out.
pub fn previous_public_keys(json: Option<&str>) -> Vec<PublicJwk> {
    let Some(json) = json else {
        return Vec::new();
    };
    let entries: Vec<serde_json::Value> = serde_json::from_str(json).unwrap_or_else(|_| {
        worker::console_error!("ORIGIN_PREVIOUS_PUBLIC_KEYS is not a JSON array; ignored");
        Vec::new()
    });
    entries
        .into_iter()
        .filter_map(|entry| serde_json::from_value::<PublicJwk>(entry).ok())
        .filter(|k| k.kty == "OKP" && k.crv == "Ed25519" && is_ed25519_key(&k.x) && is_kid(&k.kid))
        .collect()
}

#[derive(Serialize)]
struct JwkSet<'a> {
    keys: Vec<&'a PublicJwk>,
}

/// `GET /.well-known/jwks.json`: the current public key, then the previous ones.
pub fn jwks_response(current: Option<&PublicJwk>, previous: &[PublicJwk]) -> ApiResult<Response> {
    let keys = current.into_iter().chain(previous).collect();
    let body =
        serde_json::to_vec(&JwkSet { keys }).map_err(|_| ErrorCode::TemporarilyUnavailable)?;
    let headers = worker::Headers::new();
    headers.set("Content-Type", "application/jwk-set+json")?;
    // Origins cache it; a rotation keeps the previous key published longer than this.
    headers.set("Cache-Control", "public, max-age=300")?;
    Ok(Response::from_bytes(body)?.with_headers(headers))
}

thread_local! {
    /// The private key imported into WebCrypto once per isolate (not extractable).
    static IMPORTED: RefCell<Option<web_sys::CryptoKey>> = const { RefCell::new(None) };
}

fn subtle() -> ApiResult<web_sys::SubtleCrypto> {
    Ok(js_sys::global()
        .unchecked_into::<web_sys::WorkerGlobalScope>()
        .crypto()
        .map_err(crypto_failed)?
        .subtle())
}

fn crypto_failed(err: JsValue) -> ApiError {
    worker::console_error!("WebCrypto failed: {:?}", err.as_string());
    ErrorCode::OriginSigningNotConfigured.into()
}

fn algorithm() -> ApiResult<js_sys::Object> {
    let algorithm = js_sys::Object::new();
    js_sys::Reflect::set(&algorithm, &"name".into(), &"Ed25519".into()).map_err(crypto_failed)?;
    Ok(algorithm)
}

async fn imported_key(key: &SigningKey) -> ApiResult<web_sys::CryptoKey> {
    if let Some(imported) = IMPORTED.with(|cell| cell.borrow().clone()) {
        return Ok(imported);
    }
    // Only the members WebCrypto needs; `kid` is ours.
    let jwk = js_sys::Object::new();
    for (name, value) in [
        ("kty", "OKP"),
        ("crv", "Ed25519"),
        ("x", &key.x),
        ("d", &key.d),
    ] {
        js_sys::Reflect::set(&jwk, &name.into(), &value.into()).map_err(crypto_failed)?;
    }
    let promise = subtle()?
        .import_key_with_object(
            "jwk",
            &jwk,
            &algorithm()?,
            false,
            &js_sys::Array::of1(&"sign".into()),
        )
        .map_err(crypto_failed)?;
    let imported: web_sys::CryptoKey = JsFuture::from(promise)
        .await
        .map_err(crypto_failed)?
        .unchecked_into();
    IMPORTED.with(|cell| *cell.borrow_mut() = Some(imported.clone()));
    Ok(imported)
}

/// The compact JWT for these claims, signed with the gate's key.
pub async fn sign(key: &SigningKey, claims: &AssertionClaims<'_>) -> ApiResult<String> {
    let input = signing_input(&assertion_header(&key.kid), &claims.to_json());
    let imported = imported_key(key).await?;
    let promise = subtle()?
        .sign_with_object_and_u8_array(&algorithm()?, &imported, input.as_bytes())
        .map_err(crypto_failed)?;
    let signature = JsFuture::from(promise).await.map_err(crypto_failed)?;
    let signature = js_sys::Uint8Array::new(&signature).to_vec();
    Ok(compact_jwt(&input, &signature))
}
