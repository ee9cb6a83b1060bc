//! A signed checkpoint of an application's audit chain: a compact JWS (EdDSA, `typ:
//! aero2-checkpoint+jwt`) with the claims `iss`, `app`, `seq`, `hash` and `iat`, checked
//! against the JWK Set the API publishes at `/.well-known/jwks.json`.
//!
//! The header's `typ` is checked exactly: the same key signs the gate's assertions and the
//! receipts, and neither may pass for a checkpoint.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::{Signature, VerifyingKey};
use serde::Deserialize;
use serde_json::Value;

pub const CHECKPOINT_TYPE: &str = "aero2-checkpoint+jwt";

/// What a verified checkpoint says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub issuer: String,
    pub application: String,
    pub seq: u64,
    pub hash: String,
    pub issued_at: u64,
    pub kid: String,
}

#[derive(Deserialize)]
struct Header {
    typ: Option<String>,
    alg: Option<String>,
    kid: Option<String>,
    crit: Option<Value>,
}

#[derive(Deserialize)]
struct Claims {
    iss: String,
    app: String,
    seq: u64,
    hash: String,
    iat: u64,
}

/// Checks `token`'s header, its signature with the key of `jwks` its `kid` names, and the
/// shape of its claims. The error says which check failed, for the user.
pub fn verify(token: &str, jwks: &Value) -> Result<Checkpoint, String> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("it is not a compact JWS (three parts)".into());
    };
    let header: Header = decode_json(header, "header")?;
    if header.typ.as_deref() != Some(CHECKPOINT_TYPE) {
        return Err(format!("its typ is not {CHECKPOINT_TYPE}"));
    }
    if header.alg.as_deref() != Some("EdDSA") {
        return Err("its alg is not EdDSA".into());
    }
    if header.crit.is_some() {
        return Err("it has critical header parameters this verifier does not know".into());
    }
    let kid = header.kid.ok_or("its header names no kid")?;
    let key = find_key(jwks, &kid)?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .ok()
        .and_then(|bytes| Signature::from_slice(&bytes).ok())
        .ok_or("its signature is not an Ed25519 signature")?;
    let signed = &token[..header_and_payload_len(token)];
    key.verify_strict(signed.as_bytes(), &signature)
        .map_err(|_| format!("its signature does not verify with the published key {kid}"))?;
    let claims: Claims = decode_json(payload, "claims")?;
    if claims.hash.len() != 64
        || !claims
            .hash
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        return Err("its hash claim is not 64 lowercase hex characters".into());
    }
    Ok(Checkpoint {
        issuer: claims.iss,
        application: claims.app,
        seq: claims.seq,
        hash: claims.hash,
        issued_at: claims.iat,
        kid,
    })
}

fn header_and_payload_len(token: &str) -> usize {
    token.rfind('.').unwrap_or(token.len())
}

fn decode_json<T: for<'de> Deserialize<'de>>(part: &str, what: &str) -> Result<T, String> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| format!("its {what} is not base64url"))?;
    serde_json::from_slice(&bytes)
        .map_err(|_| format!("its {what} are not what a checkpoint holds"))
}

/// The Ed25519 key (`kty: OKP`, `crv: Ed25519`) with this `kid` in a JWK Set.
fn find_key(jwks: &Value, kid: &str) -> Result<VerifyingKey, String> {
    let keys = jwks["keys"]
        .as_array()
        .ok_or("the API's /.well-known/jwks.json is not a JWK Set")?;
    let jwk = keys
        .iter()
        .find(|k| k["kid"] == kid && k["kty"] == "OKP" && k["crv"] == "Ed25519")
        .ok_or_else(|| format!("no Ed25519 key {kid} is published in /.well-known/jwks.json"))?;
    jwk["x"]
        .as_str()
        .and_then(|x| URL_SAFE_NO_PAD.decode(x).ok())
        .and_then(|x| <[u8; 32]>::try_from(x).ok())
        .and_then(|x| VerifyingKey::from_bytes(&x).ok())
        .ok_or_else(|| format!("the published key {kid} is not an Ed25519 public key"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};
    use serde_json::json;

    const HASH: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    fn signing_key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn jwks(key: &SigningKey, kid: &str) -> Value {
        json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": kid,
            "x": URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes())}]})
    }

    fn sign(key: &SigningKey, header: Value, claims: Value) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = key.sign(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
    }

    fn header(typ: &str) -> Value {
        json!({"typ": typ, "alg": "EdDSA", "kid": "k1"})
    }

    fn claims() -> Value {
        json!({"iss": "https://keys.example.com", "app": "app_x", "seq": 42, "hash": HASH, "iat": 1_764_000_000})
    }

    #[test]
    fn a_signed_checkpoint_verifies() {
        let key = signing_key(7);
        let token = sign(&key, header(CHECKPOINT_TYPE), claims());
        let checkpoint = verify(&token, &jwks(&key, "k1")).unwrap();
        assert_eq!(checkpoint.seq, 42);
        assert_eq!(checkpoint.hash, HASH);
        assert_eq!(checkpoint.application, "app_x");
        assert_eq!(checkpoint.kid, "k1");
    }

    #[test]
    fn anything_else_is_refused() {
        let key = signing_key(7);
        let published = jwks(&key, "k1");
        // Another token of the same key: an assertion or a receipt is no checkpoint.
        for typ in ["aero2-assertion+jwt", "aero2-receipt+jwt", "JWT"] {
            let token = sign(&key, header(typ), claims());
            assert!(verify(&token, &published).unwrap_err().contains("typ"));
        }
        // Signed by a key that is not published, or published under another kid.
        let token = sign(&signing_key(8), header(CHECKPOINT_TYPE), claims());
        assert!(verify(&token, &published)
            .unwrap_err()
            .contains("does not verify"));
        let token = sign(&key, header(CHECKPOINT_TYPE), claims());
        assert!(verify(&token, &jwks(&key, "k2"))
            .unwrap_err()
            .contains("no Ed25519 key"));
        // The claims changed after signing.
        let mut altered: Vec<String> = token.split('.').map(str::to_owned).collect();
        let mut changed = claims();
        changed["seq"] = json!(41);
        altered[1] = URL_SAFE_NO_PAD.encode(changed.to_string());
        assert!(verify(&altered.join("."), &published)
            .unwrap_err()
            .contains("does not verify"));
        // alg none, with no signature.
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD
                .encode(json!({"typ": CHECKPOINT_TYPE, "alg": "none", "kid": "k1"}).to_string()),
            URL_SAFE_NO_PAD.encode(claims().to_string())
        );
        assert!(verify(&none, &published).unwrap_err().contains("alg"));
        // Critical parameters, and not a JWS at all.
        let crit = sign(
            &key,
            json!({"typ": CHECKPOINT_TYPE, "alg": "EdDSA", "kid": "k1", "crit": ["b64"]}),
            claims(),
        );
        assert!(verify(&crit, &published).is_err());
        assert!(verify("a.b", &published).is_err());
        assert!(verify("a.b.c.d", &published).is_err());
        // A hash claim that is not a chain hash.
        let mut bad = claims();
        bad["hash"] = json!("XYZ");
        assert!(verify(&sign(&key, header(CHECKPOINT_TYPE), bad), &published).is_err());
    }
}
