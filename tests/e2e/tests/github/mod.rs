//! Secret-scanning reports signed the way GitHub signs them (ECDSA P-256, DER, base64),
//! with a test key the worker is configured to trust. Shared by `leaks.rs` and
//! `webhooks.rs`.
#![allow(dead_code)]

use aero2_e2e::*;
use aero2_keys::{RandomSource, SystemRandom};
use base64::Engine;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::{EncodePublicKey, LineEnding};
use serde_json::json;

pub const KEY_ID: &str = "90a421169f0a406205f1563a953312f0be898d3c7b6c06b681aa86a874555f4a";

pub fn signing_key() -> SigningKey {
    loop {
        let mut bytes = [0u8; 32];
        SystemRandom.fill_bytes(&mut bytes).unwrap();
        if let Ok(key) = SigningKey::from_slice(&bytes) {
            return key;
        }
    }
}

pub fn sign(key: &SigningKey, body: &str) -> String {
    let signature: Signature = key.sign(body.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(signature.to_der().as_bytes())
}

pub fn report(w: &Worker, key_id: &str, signature: &str, body: &str) -> Reply {
    request(
        "POST",
        &w.url("/v1/leaks/github"),
        &[
            ("Content-Type", "application/json"),
            ("Github-Public-Key-Identifier", key_id),
            ("Github-Public-Key-Signature", signature),
        ],
        Some(body),
    )
}

/// `GITHUB_SECRET_SCANNING_KEYS` trusting `key`.
pub fn trusted_keys(key: &SigningKey) -> String {
    let pem = key
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .unwrap();
    json!([{ "key_identifier": KEY_ID, "key": pem, "is_current": true }]).to_string()
}
