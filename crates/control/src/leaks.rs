//! `POST /v1/leaks/github`: GitHub secret-scanning partner reports. GitHub finds Aero2
//! keys in public code and posts them here, signed; every secret key reported is revoked
//! before the response returns.

use aero2_keys::der::der_ecdsa_p256_to_fixed;
use std::collections::HashMap;

use aero2_keys::{encode_hex, identify, ApplicationId, KeyKind, StorageId};
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use worker::{js_sys, Env, Request, Response};

use aero2_keys::http::ErrorCode;

use crate::body::read_body;
use crate::config::Config;
use crate::errors::{ApiError, ApiResult};
use crate::json::json_response;
use crate::kv;
use crate::protocol::{read_answer, to_key_ring, LeakOutcome, LeakReport, RingCommand};
use aero2_keys::gate::events::truncate;

/// GitHub batches at most a few hundred matches; 1,000 tokens with long URLs fit.
const MAX_REPORT_BYTES: usize = 1024 * 1024;
const MAX_TOKENS: usize = 1000;

#[derive(Deserialize)]
struct ReportedToken {
    token: String,
    #[serde(rename = "type", default)]
    token_type: String,
    #[serde(default)]
    url: String,
    #[serde(default)]
    source: String,
}

/// GitHub's feedback format.
#[derive(Serialize)]
struct TokenFeedback {
    token_hash: String,
    token_type: String,
    label: &'static str,
}

/// A public key from GitHub's secret-scanning metadata, as configured in
/// `GITHUB_SECRET_SCANNING_KEYS` (a JSON array, the format GitHub publishes).
#[derive(Deserialize)]
struct PublicKey {
    key_identifier: String,
    key: String,
}

fn unauthorized(message: &str) -> ApiError {
    ApiError::with_detail(ErrorCode::InvalidSignature, message)
}

pub async fn github_report(mut req: Request, env: &Env, config: &Config) -> ApiResult<Response> {
    let header = |name| req.headers().get(name).ok().flatten();
    let (Some(key_identifier), Some(signature)) = (
        header("Github-Public-Key-Identifier"),
        header("Github-Public-Key-Signature"),
    ) else {
        return Err(unauthorized("the report must be signed by GitHub"));
    };
    let body = read_body(&mut req, MAX_REPORT_BYTES).await?;

    let public_key = configured_keys(config)
        .into_iter()
        .find(|key| key.key_identifier == key_identifier)
        .ok_or_else(|| unauthorized("the signing key is not one this service trusts"))?;
    let signature = base64::engine::general_purpose::STANDARD
        .decode(signature.trim())
        .ok()
        .and_then(|der| der_ecdsa_p256_to_fixed(&der).ok())
        .ok_or_else(|| unauthorized("the signature is malformed"))?;
    let spki = pem_to_der(&public_key.key).ok_or_else(|| {
        worker::console_error!("GITHUB_SECRET_SCANNING_KEYS holds a key that is not PEM");
        ApiError::from(ErrorCode::TemporarilyUnavailable)
    })?;
    if !verify_p256(&spki, &signature, &body).await? {
        return Err(unauthorized("the signature does not match the report"));
    }

    // A report is processed once: the same body again (a replay, even with a re-encoded
    // signature) gets the first answer and changes nothing.
    let report_id = encode_hex(&Sha256::digest(&body));
    if let Some(previous) = kv::leak_report_answer(env, &report_id).await? {
        let feedback = serde_json::value::RawValue::from_string(previous)
            .map_err(|_| ErrorCode::TemporarilyUnavailable)?;
        return Ok(json_response(200, &feedback));
    }

    let tokens: Vec<ReportedToken> = serde_json::from_slice(&body).map_err(|_| {
        ApiError::with_detail(
            ErrorCode::InvalidRequest,
            "the report must be a JSON array of {token, type, url, source}",
        )
    })?;
    if tokens.len() > MAX_TOKENS {
        return Err(ApiError::with_detail(
            ErrorCode::PayloadTooLarge,
            format!("at most {MAX_TOKENS} tokens per report"),
        ));
    }
    let feedback = handle_tokens(env, tokens).await?;
    let answer = serde_json::to_string(&feedback).map_err(|_| ErrorCode::TemporarilyUnavailable)?;
    kv::remember_leak_report(env, &report_id, answer).await?;
    Ok(json_response(200, &feedback))
}

/// Answers every reported token, in order. Tokens are grouped by the application their
/// prefix names: one existence check and at most one Durable Object call per application,
/// so a report of 1,000 tokens stays within the Workers subrequest limit.
async fn handle_tokens(env: &Env, tokens: Vec<ReportedToken>) -> ApiResult<Vec<TokenFeedback>> {
    let mut feedback = Vec::with_capacity(tokens.len());
    // Per application: its reports, and where each answer goes in `feedback`.
    let mut groups: HashMap<ApplicationId, (Vec<LeakReport>, Vec<usize>)> = HashMap::new();
    let mut kinds = Vec::with_capacity(tokens.len());
    for reported in tokens {
        let identity = identify(&reported.token).ok();
        feedback.push(TokenFeedback {
            token_hash: StorageId::of_key_text(&reported.token).to_hex(),
            token_type: truncate(&reported.token_type, 64),
            label: "false_positive",
        });
        kinds.push(identity.map(|identity| identity.kind));
        let Some(identity) = identity else {
            continue;
        };
        let (reports, positions) = groups.entry(identity.application_id).or_default();
        reports.push(LeakReport {
            storage_id: identity.storage_id,
            url: truncate(&reported.url, 2048),
            source: truncate(&reported.source, 64),
        });
        positions.push(feedback.len() - 1);
    }
    for (application, (reports, positions)) in groups {
        if !kv::application_exists(env, application).await? {
            continue;
        }
        let answer = to_key_ring(env, application, &RingCommand::ReportLeaks { reports }).await?;
        let outcomes: Vec<LeakOutcome> = read_answer(answer).await?;
        for (position, outcome) in positions.into_iter().zip(outcomes) {
            // Publishable keys are public by design: found in public, they are not a leak.
            if kinds[position] == Some(KeyKind::Secret) && outcome != LeakOutcome::Unknown {
                feedback[position].label = "true_positive";
            }
        }
    }
    Ok(feedback)
}

fn configured_keys(config: &Config) -> Vec<PublicKey> {
    serde_json::from_str(&config.github_secret_scanning_keys).unwrap_or_default()
}

/// The DER inside `-----BEGIN PUBLIC KEY-----` armour.
fn pem_to_der(pem: &str) -> Option<Vec<u8>> {
    let body: String = pem
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("-----"))
        .collect();
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}

/// ECDSA P-256 with SHA-256, verified by the runtime's WebCrypto.
async fn verify_p256(spki_der: &[u8], signature: &[u8; 64], message: &[u8]) -> ApiResult<bool> {
    let failed = |err: wasm_bindgen::JsValue| {
        worker::console_error!("WebCrypto failed: {:?}", err.as_string());
        ApiError::from(ErrorCode::TemporarilyUnavailable)
    };
    let subtle = js_sys::global()
        .unchecked_into::<web_sys::WorkerGlobalScope>()
        .crypto()
        .map_err(failed)?
        .subtle();
    let algorithm = web_sys::EcKeyImportParams::new("ECDSA");
    algorithm.set_named_curve("P-256");
    let key_data = js_sys::Uint8Array::from(spki_der);
    let import = subtle
        .import_key_with_object(
            "spki",
            &key_data,
            &algorithm,
            false,
            &js_sys::Array::of1(&"verify".into()),
        )
        .map_err(failed)?;
    // A key that does not import is a configuration error, reported as a failed check.
    let Ok(key) = JsFuture::from(import).await else {
        worker::console_error!("a GITHUB_SECRET_SCANNING_KEYS entry is not a P-256 public key");
        return Ok(false);
    };
    let params = web_sys::EcdsaParams::new_with_str("ECDSA", "SHA-256");
    let verified = subtle
        .verify_with_object_and_u8_array_and_u8_array(
            &params,
            &key.unchecked_into(),
            signature,
            message,
        )
        .map_err(failed)?;
    Ok(JsFuture::from(verified).await.map_err(failed)?.as_bool() == Some(true))
}
