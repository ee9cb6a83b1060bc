//! What a key ring signs so that a customer can prove what happened, offline, with any JOSE
//! library and the keys at `/.well-known/jwks.json`: checkpoints of the audit chain
//! (`typ: aero2-checkpoint+jwt`) and receipts of key changes (`typ: aero2-receipt+jwt`).
//! Both are JWS compact tokens signed with EdDSA by the key that signs the gate's
//! assertions (`aero2-assertion+jwt`); the distinct `typ` keeps one from passing for another.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::Value;

use crate::config::Config;

/// A checkpoint's `typ`.
pub const CHECKPOINT_TYPE: &str = "aero2-checkpoint+jwt";
/// A receipt's `typ`.
pub const RECEIPT_TYPE: &str = "aero2-receipt+jwt";

/// `claims` signed as a JWS of `typ`, or `None` without a usable `ORIGIN_SIGNING_KEY`.
pub async fn sign(config: &Config, typ: &str, claims: &Value) -> Option<String> {
    let key = config.signing_key.as_ref()?;
    let header = serde_json::json!({"alg": "EdDSA", "typ": typ, "kid": key.kid});
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let jwk = key.private_jwk_json();
    let signature = crate::webcrypto::sign_ed25519(&jwk, signing_input.as_bytes()).await?;
    Some(format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature)
    ))
}
