//! Passkey signatures, verified by the runtime's WebCrypto from exactly what
//! `aero2_accounts` prepares ([`SignatureCheck`]): the public key as a JWK, the import and
//! verify algorithms, the signed data and the signature in WebCrypto's form.

use aero2_accounts::webauthn::SignatureCheck;
use js_sys::{Object, Reflect, JSON};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

fn subtle() -> Option<web_sys::SubtleCrypto> {
    let scope = js_sys::global().unchecked_into::<web_sys::WorkerGlobalScope>();
    scope.crypto().ok().map(|crypto| crypto.subtle())
}

/// The check's JSON form as JavaScript objects: `importAlgorithm`, `verifyAlgorithm` and
/// `publicKey` are read from it.
fn parts(check: &SignatureCheck) -> Option<(Object, Object, Object)> {
    let text = serde_json::to_string(check).ok()?;
    let parsed = JSON::parse(&text).ok()?;
    let field = |name: &str| -> Option<Object> {
        Reflect::get(&parsed, &JsValue::from_str(name))
            .ok()?
            .dyn_into::<Object>()
            .ok()
    };
    Some((
        field("importAlgorithm")?,
        field("verifyAlgorithm")?,
        field("publicKey")?,
    ))
}

async fn import(check: &SignatureCheck) -> Option<(web_sys::SubtleCrypto, Object, JsValue)> {
    let subtle = subtle()?;
    let (import_algorithm, verify_algorithm, jwk) = parts(check)?;
    let usages = js_sys::Array::of1(&JsValue::from_str("verify"));
    let promise = subtle
        .import_key_with_object("jwk", &jwk, &import_algorithm, false, &usages)
        .ok()?;
    let key = JsFuture::from(promise).await.ok()?;
    Some((subtle, verify_algorithm, key))
}

/// Whether the passkey's public key imports: WebCrypto checks that a P-256 point is on
/// the curve. A registration whose key does not import is refused.
pub async fn imports(check: &SignatureCheck) -> bool {
    import(check).await.is_some()
}

/// An Ed25519 signature of `data` by the private JWK `jwk` (JSON), or `None` when
/// WebCrypto refuses the key or the call.
pub async fn sign_ed25519(jwk: &str, data: &[u8]) -> Option<Vec<u8>> {
    let subtle = subtle()?;
    let jwk = JSON::parse(jwk).ok()?.dyn_into::<Object>().ok()?;
    let algorithm = JSON::parse(r#"{"name":"Ed25519"}"#)
        .ok()?
        .dyn_into::<Object>()
        .ok()?;
    let usages = js_sys::Array::of1(&JsValue::from_str("sign"));
    let promise = subtle
        .import_key_with_object("jwk", &jwk, &algorithm, false, &usages)
        .ok()?;
    let key = JsFuture::from(promise).await.ok()?;
    let promise = subtle
        .sign_with_object_and_u8_array(&algorithm, &key.unchecked_into(), data)
        .ok()?;
    let signature = JsFuture::from(promise).await.ok()?;
    Some(js_sys::Uint8Array::new(&signature).to_vec())
}

/// Whether the signature verifies. A key that does not import, or any WebCrypto failure,
/// is `false`: a refused sign-in, never an accepted one.
pub async fn verify(check: &SignatureCheck) -> bool {
    let Some((subtle, algorithm, key)) = import(check).await else {
        return false;
    };
    let Ok(promise) = subtle.verify_with_object_and_u8_array_and_u8_array(
        &algorithm,
        &key.unchecked_into(),
        &check.signature,
        &check.signed_data,
    ) else {
        return false;
    };
    JsFuture::from(promise)
        .await
        .ok()
        .and_then(|answer| answer.as_bool())
        == Some(true)
}
