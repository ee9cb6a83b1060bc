//! Credential public keys: read from COSE_Key (RFC 9052/9053) at registration, stored and
//! handed to WebCrypto as JWK (RFC 7517/8037).

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use minicbor::data::Type;
use minicbor::Decoder;
use serde::{Deserialize, Serialize};

use super::WebAuthnError;
use crate::b64;

/// The two signature algorithms a passkey may use here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Algorithm {
    /// ECDSA on P-256 with SHA-256, COSE -7.
    #[serde(rename = "ES256")]
    Es256,
    /// EdDSA on Ed25519, COSE -8.
    #[serde(rename = "EdDSA")]
    Ed25519,
}

impl Algorithm {
    /// In the order `pubKeyCredParams` lists them: EdDSA first.
    pub const PREFERENCE: [Algorithm; 2] = [Algorithm::Ed25519, Algorithm::Es256];

    /// The COSE algorithm identifier.
    pub const fn cose(self) -> i64 {
        match self {
            Algorithm::Es256 => -7,
            Algorithm::Ed25519 => -8,
        }
    }

    /// The algorithm parameters for WebCrypto's `importKey` (`{name, namedCurve}`).
    pub const fn webcrypto_import(self) -> WebCryptoAlgorithm {
        match self {
            Algorithm::Es256 => WebCryptoAlgorithm {
                name: "ECDSA",
                named_curve: Some("P-256"),
                hash: None,
            },
            Algorithm::Ed25519 => WebCryptoAlgorithm {
                name: "Ed25519",
                named_curve: None,
                hash: None,
            },
        }
    }

    /// The algorithm parameters for WebCrypto's `verify` (`{name, hash}`).
    pub const fn webcrypto_verify(self) -> WebCryptoAlgorithm {
        match self {
            Algorithm::Es256 => WebCryptoAlgorithm {
                name: "ECDSA",
                named_curve: None,
                hash: Some("SHA-256"),
            },
            Algorithm::Ed25519 => WebCryptoAlgorithm {
                name: "Ed25519",
                named_curve: None,
                hash: None,
            },
        }
    }
}

/// A WebCrypto algorithm dictionary (`EcKeyImportParams`, `EcdsaParams`, or `{name}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WebCryptoAlgorithm {
    pub name: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub named_curve: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hash: Option<&'static str>,
}

/// A credential's public key. Stored (serde) as its JWK, which is also what WebCrypto
/// imports.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum PublicKey {
    /// A P-256 point, uncompressed coordinates. Whether it is on the curve is checked by
    /// WebCrypto when it imports the key.
    Es256 {
        x: [u8; 32],
        y: [u8; 32],
    },
    Ed25519 {
        x: [u8; 32],
    },
}

impl PublicKey {
    pub const fn algorithm(&self) -> Algorithm {
        match self {
            PublicKey::Es256 { .. } => Algorithm::Es256,
            PublicKey::Ed25519 { .. } => Algorithm::Ed25519,
        }
    }

    /// The key as a JWK: `{kty:"EC",crv:"P-256",x,y}` or `{kty:"OKP",crv:"Ed25519",x}`.
    pub fn to_jwk(&self) -> Jwk {
        match self {
            PublicKey::Es256 { x, y } => Jwk {
                kty: "EC".into(),
                crv: "P-256".into(),
                x: b64::encode(x),
                y: Some(b64::encode(y)),
            },
            PublicKey::Ed25519 { x } => Jwk {
                kty: "OKP".into(),
                crv: "Ed25519".into(),
                x: b64::encode(x),
                y: None,
            },
        }
    }

    /// Reads a JWK of one of the two kinds, nothing else.
    pub fn from_jwk(jwk: &Jwk) -> Option<PublicKey> {
        match (jwk.kty.as_str(), jwk.crv.as_str(), &jwk.y) {
            ("EC", "P-256", Some(y)) => Some(PublicKey::Es256 {
                x: b64::decode_array(&jwk.x)?,
                y: b64::decode_array(y)?,
            }),
            ("OKP", "Ed25519", None) => Some(PublicKey::Ed25519 {
                x: b64::decode_array(&jwk.x)?,
            }),
            _ => None,
        }
    }

    /// The key in WebCrypto's `raw` format: the uncompressed point `04 ‖ x ‖ y` for
    /// P-256, the 32 bytes for Ed25519.
    pub fn to_raw(&self) -> Vec<u8> {
        match self {
            PublicKey::Es256 { x, y } => {
                let mut raw = Vec::with_capacity(65);
                raw.push(0x04);
                raw.extend_from_slice(x);
                raw.extend_from_slice(y);
                raw
            }
            PublicKey::Ed25519 { x } => x.to_vec(),
        }
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let jwk = self.to_jwk();
        write!(f, "PublicKey({} {})", jwk.crv, jwk.x)
    }
}

impl Serialize for PublicKey {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_jwk().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let jwk = Jwk::deserialize(deserializer)?;
        PublicKey::from_jwk(&jwk).ok_or_else(|| serde::de::Error::custom("unsupported JWK"))
    }
}

/// A public JWK, as WebCrypto's `importKey("jwk", …)` takes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    pub kty: String,
    pub crv: String,
    pub x: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
}

/// Everything WebCrypto needs to verify one assertion signature:
///
/// ```js
/// const key = await crypto.subtle.importKey("jwk", check.publicKey, check.importAlgorithm, false, ["verify"]);
/// const ok = await crypto.subtle.verify(check.verifyAlgorithm, key, check.signature, check.signedData);
/// ```
///
/// `signed_data` is `authenticatorData ‖ SHA-256(clientDataJSON)`; `signature` is in
/// WebCrypto's form: 64 bytes `r ‖ s` for ECDSA (converted from the authenticator's DER),
/// the 64 bytes as they are for Ed25519. Serialised (camelCase, binary as base64url) for a
/// JavaScript caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureCheck {
    pub algorithm: Algorithm,
    pub public_key: Jwk,
    pub signed_data: Vec<u8>,
    pub signature: Vec<u8>,
}

impl Serialize for SignatureCheck {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Json<'a> {
            algorithm: Algorithm,
            import_algorithm: WebCryptoAlgorithm,
            verify_algorithm: WebCryptoAlgorithm,
            public_key: &'a Jwk,
            signed_data: String,
            signature: String,
        }
        Json {
            algorithm: self.algorithm,
            import_algorithm: self.algorithm.webcrypto_import(),
            verify_algorithm: self.algorithm.webcrypto_verify(),
            public_key: &self.public_key,
            signed_data: b64::encode(&self.signed_data),
            signature: b64::encode(&self.signature),
        }
        .serialize(serializer)
    }
}

// COSE_Key labels (RFC 9052 §7.1, RFC 9053 §7).
const KTY: i64 = 1;
const ALG: i64 = 3;
const CRV: i64 = -1;
const X: i64 = -2;
const Y: i64 = -3;
const KTY_OKP: i64 = 1;
const KTY_EC2: i64 = 2;
const CRV_P256: i64 = 1;
const CRV_ED25519: i64 = 6;
/// No COSE key of a supported kind has more than a handful of members.
const MAX_KEY_ENTRIES: u64 = 16;

/// The value of a member this decoder reads; other values are skipped. (RSA's `n` and `e`
/// share labels -1 and -2 with `crv` and `x`, so values are typed after the map is read.)
#[derive(Clone, Copy)]
enum Value<'b> {
    Int(i64),
    Bytes(&'b [u8]),
    Other,
}

impl<'b> Value<'b> {
    fn int(self) -> Option<i64> {
        match self {
            Value::Int(n) => Some(n),
            _ => None,
        }
    }

    fn bytes32(self) -> Option<[u8; 32]> {
        match self {
            Value::Bytes(bytes) => bytes.try_into().ok(),
            _ => None,
        }
    }
}

fn is_int(kind: Type) -> bool {
    matches!(
        kind,
        Type::U8 | Type::U16 | Type::U32 | Type::U64 | Type::I8 | Type::I16 | Type::I32 | Type::I64
    )
}

/// Reads one COSE_Key (a definite-length CBOR map) at the decoder's position and leaves
/// the decoder after it. Only ES256 on P-256 and EdDSA on Ed25519 are accepted; any other
/// `alg` is [`WebAuthnError::UnsupportedAlgorithm`].
pub(crate) fn decode_cose_key(d: &mut Decoder<'_>) -> Result<PublicKey, WebAuthnError> {
    let malformed = |_| WebAuthnError::MalformedPublicKey;
    let entries = match d.map().map_err(malformed)? {
        Some(n) if n <= MAX_KEY_ENTRIES => n,
        _ => return Err(WebAuthnError::MalformedPublicKey),
    };
    let mut fields: [Option<Value<'_>>; 5] = [None; 5];
    for _ in 0..entries {
        let kind = d.datatype().map_err(malformed)?;
        let slot = if is_int(kind) {
            match d.i64().map_err(malformed)? {
                KTY => Some(0),
                ALG => Some(1),
                CRV => Some(2),
                X => Some(3),
                Y => Some(4),
                _ => None,
            }
        } else if kind == Type::String {
            d.str().map_err(malformed)?;
            None
        } else {
            return Err(WebAuthnError::MalformedPublicKey);
        };
        let kind = d.datatype().map_err(malformed)?;
        let value = if is_int(kind) {
            Value::Int(d.i64().map_err(malformed)?)
        } else if kind == Type::Bytes {
            Value::Bytes(d.bytes().map_err(malformed)?)
        } else {
            d.skip().map_err(malformed)?;
            Value::Other
        };
        if let Some(slot) = slot {
            if fields[slot].replace(value).is_some() {
                return Err(WebAuthnError::MalformedPublicKey); // a repeated label
            }
        }
    }
    let [kty, alg, crv, x, y] = fields;
    let alg = alg
        .and_then(Value::int)
        .ok_or(WebAuthnError::MalformedPublicKey)?;
    let kty = kty.and_then(Value::int);
    let crv = crv.and_then(Value::int);
    match alg {
        -7 => match (
            kty,
            crv,
            x.and_then(Value::bytes32),
            y.and_then(Value::bytes32),
        ) {
            (Some(KTY_EC2), Some(CRV_P256), Some(x), Some(y)) => Ok(PublicKey::Es256 { x, y }),
            _ => Err(WebAuthnError::MalformedPublicKey),
        },
        -8 => match (kty, crv, x.and_then(Value::bytes32), y) {
            (Some(KTY_OKP), Some(CRV_ED25519), Some(x), None) => Ok(PublicKey::Ed25519 { x }),
            _ => Err(WebAuthnError::MalformedPublicKey),
        },
        other => Err(WebAuthnError::UnsupportedAlgorithm(other)),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use alloc::vec;

    /// Encodes a COSE key from (label, value) pairs; values are CBOR already encoded.
    pub(crate) fn cose_map(entries: &[(i64, Vec<u8>)]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut e = minicbor::Encoder::new(&mut out);
        e.map(entries.len() as u64).unwrap();
        for (label, value) in entries {
            e.i64(*label).unwrap();
            e.writer_mut().extend_from_slice(value);
        }
        out
    }

    pub(crate) fn int(n: i64) -> Vec<u8> {
        let mut out = Vec::new();
        minicbor::Encoder::new(&mut out).i64(n).unwrap();
        out
    }

    pub(crate) fn bytes(b: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        minicbor::Encoder::new(&mut out).bytes(b).unwrap();
        out
    }

    pub(crate) fn ec2(x: &[u8], y: &[u8]) -> Vec<u8> {
        cose_map(&[
            (1, int(2)),
            (3, int(-7)),
            (-1, int(1)),
            (-2, bytes(x)),
            (-3, bytes(y)),
        ])
    }

    pub(crate) fn okp(x: &[u8]) -> Vec<u8> {
        cose_map(&[(1, int(1)), (3, int(-8)), (-1, int(6)), (-2, bytes(x))])
    }

    fn decode(bytes: &[u8]) -> Result<(PublicKey, usize), WebAuthnError> {
        let mut d = Decoder::new(bytes);
        decode_cose_key(&mut d).map(|key| (key, d.position()))
    }

    #[test]
    fn reads_es256_and_ed25519_keys_and_their_end() {
        let key = ec2(&[1; 32], &[2; 32]);
        assert_eq!(
            decode(&key),
            Ok((
                PublicKey::Es256 {
                    x: [1; 32],
                    y: [2; 32]
                },
                key.len()
            ))
        );
        let mut with_more = okp(&[3; 32]);
        let len = with_more.len();
        with_more.extend_from_slice(&[0xa0]);
        assert_eq!(
            decode(&with_more),
            Ok((PublicKey::Ed25519 { x: [3; 32] }, len))
        );
        // Members in another order, with extra labels (kid, key_ops, a text label).
        let mut text_label = Vec::new();
        minicbor::Encoder::new(&mut text_label)
            .str("note")
            .unwrap()
            .str("x")
            .unwrap();
        let mut reordered = cose_map(&[
            (-2, bytes(&[3; 32])),
            (2, bytes(b"kid")),
            (-1, int(6)),
            (3, int(-8)),
            (1, int(1)),
        ]);
        // Patch the map header from 5 to 6 entries and add the text-labelled one.
        reordered[0] = 0xa6;
        reordered.extend_from_slice(&text_label);
        assert_eq!(
            decode(&reordered).map(|r| r.0),
            Ok(PublicKey::Ed25519 { x: [3; 32] })
        );
    }

    #[test]
    fn refuses_other_algorithms_and_malformed_keys() {
        let rsa = cose_map(&[
            (1, int(3)),
            (3, int(-257)),
            (-1, bytes(&[0xab; 256])),
            (-2, bytes(&[1, 0, 1])),
        ]);
        assert_eq!(decode(&rsa), Err(WebAuthnError::UnsupportedAlgorithm(-257)));
        let es384 = cose_map(&[(1, int(2)), (3, int(-35)), (-1, int(2))]);
        assert_eq!(
            decode(&es384),
            Err(WebAuthnError::UnsupportedAlgorithm(-35))
        );
        let malformed = [
            // alg missing
            cose_map(&[
                (1, int(2)),
                (-1, int(1)),
                (-2, bytes(&[1; 32])),
                (-3, bytes(&[2; 32])),
            ]),
            // -7 on the wrong curve or key type
            cose_map(&[
                (1, int(2)),
                (3, int(-7)),
                (-1, int(2)),
                (-2, bytes(&[1; 32])),
                (-3, bytes(&[2; 32])),
            ]),
            cose_map(&[
                (1, int(1)),
                (3, int(-7)),
                (-1, int(1)),
                (-2, bytes(&[1; 32])),
                (-3, bytes(&[2; 32])),
            ]),
            // short coordinates, compressed y (a bool), missing y
            ec2(&[1; 31], &[2; 32]),
            ec2(&[1; 32], &[2; 33]),
            cose_map(&[
                (1, int(2)),
                (3, int(-7)),
                (-1, int(1)),
                (-2, bytes(&[1; 32])),
                (-3, vec![0xf5]),
            ]),
            cose_map(&[
                (1, int(2)),
                (3, int(-7)),
                (-1, int(1)),
                (-2, bytes(&[1; 32])),
            ]),
            // Ed25519 with a y, on X25519, short
            cose_map(&[
                (1, int(1)),
                (3, int(-8)),
                (-1, int(6)),
                (-2, bytes(&[1; 32])),
                (-3, bytes(&[2; 32])),
            ]),
            cose_map(&[
                (1, int(1)),
                (3, int(-8)),
                (-1, int(4)),
                (-2, bytes(&[1; 32])),
            ]),
            okp(&[1; 31]),
            // a repeated label
            cose_map(&[
                (1, int(1)),
                (3, int(-8)),
                (-1, int(6)),
                (-2, bytes(&[1; 32])),
                (-2, bytes(&[2; 32])),
            ]),
            // not a map, an indefinite map, too many entries, a bad label type
            vec![0x80],
            vec![0xbf, 0xff],
            cose_map(&(0..17).map(|i| (100 + i, int(0))).collect::<Vec<_>>()),
            vec![0xa1, 0x40, 0x00],
            // truncated
            okp(&[1; 32])[..20].to_vec(),
            vec![],
        ];
        for (i, key) in malformed.iter().enumerate() {
            assert_eq!(
                decode(key).map(|r| r.0),
                Err(WebAuthnError::MalformedPublicKey),
                "case {i}"
            );
        }
    }

    #[test]
    fn jwk_is_what_webcrypto_imports_and_round_trips() {
        let ec = PublicKey::Es256 {
            x: [0xff; 32],
            y: [0; 32],
        };
        assert_eq!(
            serde_json::to_value(ec).unwrap(),
            serde_json::json!({
                "kty": "EC", "crv": "P-256",
                "x": "__________________________________________8",
                "y": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
            })
        );
        let ed = PublicKey::Ed25519 { x: [1; 32] };
        assert_eq!(
            serde_json::to_value(ed).unwrap(),
            serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE"})
        );
        for key in [ec, ed] {
            let json = serde_json::to_string(&key).unwrap();
            assert_eq!(serde_json::from_str::<PublicKey>(&json).unwrap(), key);
        }
        assert_eq!(ec.to_raw().len(), 65);
        assert_eq!(ec.to_raw()[0], 4);
        assert_eq!(ed.to_raw(), vec![1; 32]);
        for bad in [
            r#"{"kty":"EC","crv":"P-384","x":"AA","y":"AA"}"#,
            r#"{"kty":"OKP","crv":"Ed25519","x":"AQEB"}"#,
            r#"{"kty":"OKP","crv":"Ed25519","x":"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE","y":"AA"}"#,
            r#"{"kty":"RSA","crv":"","x":""}"#,
        ] {
            assert!(serde_json::from_str::<PublicKey>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn signature_check_serialises_for_javascript() {
        let check = SignatureCheck {
            algorithm: Algorithm::Es256,
            public_key: PublicKey::Es256 {
                x: [1; 32],
                y: [2; 32],
            }
            .to_jwk(),
            signed_data: vec![1, 2, 3],
            signature: vec![4; 64],
        };
        let value = serde_json::to_value(&check).unwrap();
        assert_eq!(value["algorithm"], "ES256");
        assert_eq!(
            value["importAlgorithm"],
            serde_json::json!({"name": "ECDSA", "namedCurve": "P-256"})
        );
        assert_eq!(
            value["verifyAlgorithm"],
            serde_json::json!({"name": "ECDSA", "hash": "SHA-256"})
        );
        assert_eq!(value["signedData"], "AQID");
        assert_eq!(value["publicKey"]["kty"], "EC");
        let ed = serde_json::to_value(Algorithm::Ed25519.webcrypto_import()).unwrap();
        assert_eq!(ed, serde_json::json!({"name": "Ed25519"}));
        assert_eq!(Algorithm::PREFERENCE.map(Algorithm::cose), [-8, -7]);
    }
}
