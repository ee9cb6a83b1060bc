//! The public keys that verify the gate's signed assertions (`X-Aero2-Assertion`) and the
//! key rings' checkpoints and receipts (`evidence.rs`), served at
//! `/.well-known/jwks.json`: the current one, from the secret `ORIGIN_SIGNING_KEY`, and the
//! previous ones kept published after a rotation. The gate signs assertions
//! (`crates/gate`); the control plane signs checkpoints and receipts with the same key.

use std::fmt;

use aero2_keys::http::ErrorCode;
use base64::Engine;
use serde::{Deserialize, Serialize};
use worker::Response;

use crate::errors::ApiResult;

/// The Ed25519 key from the secret `ORIGIN_SIGNING_KEY` (a private JWK as `jose`'s
/// `exportJWK` writes it, plus `kid`).
pub struct SigningKey {
    pub kid: String,
    /// The public key, base64url.
    pub x: String,
    /// The private key, base64url: only ever handed to WebCrypto's `importKey`, never
    /// printed (`Debug` leaves it out).
    d: zeroize::Zeroizing<String>,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("x", &self.x)
            .finish_non_exhaustive()
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
    /// Reads the secret, keeping its public half; `Err` says what is wrong without quoting
    /// it. (The private half is checked for form only, as the gate will use it.)
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
            d: zeroize::Zeroizing::new(jwk.d),
        })
    }

    /// The private JWK as WebCrypto's `importKey("jwk", …)` takes it.
    pub fn private_jwk_json(&self) -> zeroize::Zeroizing<String> {
        zeroize::Zeroizing::new(
            serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": self.x, "d": self.d.as_str()})
                .to_string(),
        )
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
    let entries: Vec<&serde_json::value::RawValue> =
        serde_json::from_str(json).unwrap_or_else(|_| {
            worker::console_error!("ORIGIN_PREVIOUS_PUBLIC_KEYS is not a JSON array; ignored");
            Vec::new()
        });
    entries
        .into_iter()
        .filter_map(|entry| serde_json::from_str::<PublicJwk>(entry.get()).ok())
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
