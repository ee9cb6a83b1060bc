//! A software authenticator for the tests: it answers the crate's own options the way a
//! browser and a CTAP2 authenticator would, with real P-256 and Ed25519 keys, and it can
//! be told to misbehave in every way the verifier must catch.

#![allow(dead_code)]

use aero2_accounts::webauthn::SignatureCheck;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::Signer as _;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn unb64(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(text).expect("base64url")
}

pub enum Key {
    Es256(p256::ecdsa::SigningKey),
    Ed25519(ed25519_dalek::SigningKey),
    /// Claims RS256 (-257); never signs anything verifiable.
    Rs256,
}

impl Key {
    pub fn es256(seed: u8) -> Key {
        let mut bytes = [seed; 32];
        bytes[0] = 1; // keep the scalar below the group order
        Key::Es256(p256::ecdsa::SigningKey::from_bytes(&bytes.into()).unwrap())
    }

    pub fn ed25519(seed: u8) -> Key {
        Key::Ed25519(ed25519_dalek::SigningKey::from_bytes(&[seed; 32]))
    }

    /// The credential public key, COSE-encoded as an authenticator does (CTAP2 canonical
    /// order: 1, 3, -1, -2, -3).
    pub fn cose(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut e = minicbor::Encoder::new(&mut out);
        match self {
            Key::Es256(key) => {
                let point = key.verifying_key().to_encoded_point(false);
                e.map(5).unwrap();
                e.i64(1).unwrap().i64(2).unwrap();
                e.i64(3).unwrap().i64(-7).unwrap();
                e.i64(-1).unwrap().i64(1).unwrap();
                e.i64(-2).unwrap().bytes(point.x().unwrap()).unwrap();
                e.i64(-3).unwrap().bytes(point.y().unwrap()).unwrap();
            }
            Key::Ed25519(key) => {
                e.map(4).unwrap();
                e.i64(1).unwrap().i64(1).unwrap();
                e.i64(3).unwrap().i64(-8).unwrap();
                e.i64(-1).unwrap().i64(6).unwrap();
                e.i64(-2)
                    .unwrap()
                    .bytes(key.verifying_key().as_bytes())
                    .unwrap();
            }
            Key::Rs256 => {
                e.map(4).unwrap();
                e.i64(1).unwrap().i64(3).unwrap();
                e.i64(3).unwrap().i64(-257).unwrap();
                e.i64(-1).unwrap().bytes(&[0xc5; 256]).unwrap();
                e.i64(-2).unwrap().bytes(&[1, 0, 1]).unwrap();
            }
        }
        out
    }

    /// Signs like an authenticator: ES256 as DER, Ed25519 as 64 bytes.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        match self {
            Key::Es256(key) => {
                let signature: p256::ecdsa::Signature =
                    p256::ecdsa::signature::Signer::sign(key, message);
                signature.to_der().as_bytes().to_vec()
            }
            Key::Ed25519(key) => key.sign(message).to_bytes().to_vec(),
            Key::Rs256 => vec![0; 256],
        }
    }
}

/// How the authenticator (or the browser around it) misbehaves.
#[derive(Clone, Default)]
pub struct Tweaks {
    pub origin: Option<String>,
    pub ceremony_type: Option<String>,
    pub cross_origin: Option<bool>,
    pub challenge: Option<String>,
    pub rp_id: Option<String>,
    /// Replaces the flags byte.
    pub flags: Option<u8>,
    pub sign_count: Option<u32>,
    pub id: Option<String>,
    pub raw_id: Option<String>,
    pub user_handle: Option<Option<String>>,
    pub format: Option<String>,
}

pub const UP: u8 = 0x01;
pub const UV: u8 = 0x04;
pub const BE: u8 = 0x08;
pub const BS: u8 = 0x10;
pub const AT: u8 = 0x40;

pub struct SoftAuthenticator {
    pub key: Key,
    pub credential_id: Vec<u8>,
    pub user_handle: Vec<u8>,
    pub sign_count: u32,
    pub origin: String,
    /// Increment the counter by this on each use (0: an authenticator without counter).
    pub step: u32,
    pub backup: u8,
}

impl SoftAuthenticator {
    pub fn new(key: Key, origin: &str) -> Self {
        let credential_id: Vec<u8> = Sha256::digest(key.cose()).to_vec();
        SoftAuthenticator {
            key,
            credential_id,
            user_handle: Vec::new(),
            sign_count: 0,
            origin: origin.to_string(),
            step: 1,
            backup: BE | BS,
        }
    }

    fn client_data(&self, kind: &str, challenge: &str, t: &Tweaks) -> Vec<u8> {
        let mut data = json!({
            "type": t.ceremony_type.clone().unwrap_or_else(|| kind.to_string()),
            "challenge": t.challenge.clone().unwrap_or_else(|| challenge.to_string()),
            "origin": t.origin.clone().unwrap_or_else(|| self.origin.clone()),
            "crossOrigin": t.cross_origin.unwrap_or(false),
        });
        if kind == "webauthn.create" {
            data["other_keys_can_be_added_here"] = json!(
                "do not compare clientDataJSON against a template. See https://goo.gl/yabPex"
            );
        }
        serde_json::to_vec(&data).unwrap()
    }

    fn auth_data(&self, rp_id: &str, flags: u8, attested: bool, t: &Tweaks) -> Vec<u8> {
        let rp_id = t.rp_id.clone().unwrap_or_else(|| rp_id.to_string());
        let mut out = Sha256::digest(rp_id.as_bytes()).to_vec();
        out.push(t.flags.unwrap_or(flags));
        out.extend_from_slice(&t.sign_count.unwrap_or(self.sign_count).to_be_bytes());
        if attested {
            out.extend_from_slice(&[0x11; 16]);
            out.extend_from_slice(&(self.credential_id.len() as u16).to_be_bytes());
            out.extend_from_slice(&self.credential_id);
            out.extend_from_slice(&self.key.cose());
        }
        out
    }

    /// `navigator.credentials.create(parseCreationOptionsFromJSON(options))`, then
    /// `credential.toJSON()`.
    pub fn create(&mut self, options: &Value, t: &Tweaks) -> Value {
        let rp_id = options["rp"]["id"].as_str().unwrap();
        let challenge = options["challenge"].as_str().unwrap();
        self.user_handle = unb64(options["user"]["id"].as_str().unwrap());
        let client_data = self.client_data("webauthn.create", challenge, t);
        let auth_data = self.auth_data(rp_id, UP | UV | AT | self.backup, true, t);
        let mut object = Vec::new();
        let mut e = minicbor::Encoder::new(&mut object);
        e.map(3).unwrap();
        e.str("fmt")
            .unwrap()
            .str(t.format.as_deref().unwrap_or("none"))
            .unwrap();
        e.str("attStmt").unwrap().map(0).unwrap();
        e.str("authData").unwrap().bytes(&auth_data).unwrap();
        let id = b64(&self.credential_id);
        json!({
            "id": t.id.clone().unwrap_or_else(|| id.clone()),
            "rawId": t.raw_id.clone().unwrap_or(id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64(&client_data),
                "attestationObject": b64(&object),
                "authenticatorData": b64(&auth_data),
                "transports": ["internal", "hybrid", "carrier-pigeon"],
                "publicKeyAlgorithm": -7,
            },
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
        })
    }

    /// `navigator.credentials.get(parseRequestOptionsFromJSON(options))`, then
    /// `credential.toJSON()`. Signs `authenticatorData ‖ SHA-256(clientDataJSON)`.
    pub fn get(&mut self, options: &Value, t: &Tweaks) -> Value {
        self.sign_count += self.step;
        let rp_id = options["rpId"].as_str().unwrap();
        let challenge = options["challenge"].as_str().unwrap();
        let client_data = self.client_data("webauthn.get", challenge, t);
        let auth_data = self.auth_data(rp_id, UP | UV | self.backup, false, t);
        let mut message = auth_data.clone();
        message.extend_from_slice(&Sha256::digest(&client_data));
        let signature = self.key.sign(&message);
        let id = b64(&self.credential_id);
        let user_handle = match &t.user_handle {
            Some(handle) => handle.clone(),
            None => Some(b64(&self.user_handle)),
        };
        json!({
            "id": t.id.clone().unwrap_or_else(|| id.clone()),
            "rawId": t.raw_id.clone().unwrap_or(id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64(&client_data),
                "authenticatorData": b64(&auth_data),
                "signature": b64(&signature),
                "userHandle": user_handle,
            },
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
        })
    }
}

/// Verifies a [`SignatureCheck`] as WebCrypto would, with independent implementations:
/// the JWK is imported, the signature taken in WebCrypto's format (r ‖ s for ECDSA), and
/// the signed bytes hashed by the algorithm itself (ECDSA with SHA-256, Ed25519).
pub fn webcrypto_verify(check: &SignatureCheck) -> bool {
    // Go through the serialised form a JavaScript caller gets.
    let value = serde_json::to_value(check).unwrap();
    let jwk = &value["publicKey"];
    let signed = unb64(value["signedData"].as_str().unwrap());
    let signature = unb64(value["signature"].as_str().unwrap());
    match (
        jwk["kty"].as_str().unwrap(),
        value["importAlgorithm"]["name"].as_str().unwrap(),
    ) {
        ("EC", "ECDSA") => {
            assert_eq!(value["importAlgorithm"]["namedCurve"], "P-256");
            assert_eq!(
                value["verifyAlgorithm"],
                json!({"name": "ECDSA", "hash": "SHA-256"})
            );
            let x = unb64(jwk["x"].as_str().unwrap());
            let y = unb64(jwk["y"].as_str().unwrap());
            let point = p256::EncodedPoint::from_affine_coordinates(
                x.as_slice().into(),
                y.as_slice().into(),
                false,
            );
            let Ok(key) = p256::ecdsa::VerifyingKey::from_encoded_point(&point) else {
                return false;
            };
            // WebCrypto's ECDSA signature: exactly 64 bytes r ‖ s.
            let Ok(signature) = p256::ecdsa::Signature::from_slice(&signature) else {
                return false;
            };
            assert_eq!(signature.to_bytes().len(), 64);
            p256::ecdsa::signature::Verifier::verify(&key, &signed, &signature).is_ok()
        }
        ("OKP", "Ed25519") => {
            assert_eq!(jwk["crv"], "Ed25519");
            let x: [u8; 32] = unb64(jwk["x"].as_str().unwrap()).try_into().unwrap();
            let Ok(key) = ed25519_dalek::VerifyingKey::from_bytes(&x) else {
                return false;
            };
            let Ok(signature) = <[u8; 64]>::try_from(signature.as_slice()) else {
                return false;
            };
            key.verify_strict(&signed, &ed25519_dalek::Signature::from_bytes(&signature))
                .is_ok()
        }
        other => panic!("unexpected key {other:?}"),
    }
}
