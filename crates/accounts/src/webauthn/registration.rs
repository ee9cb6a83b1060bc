//! The registration ceremony: checking `credential.toJSON()` of
//! `navigator.credentials.create` and reading the new passkey out of it.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use minicbor::data::Type;
use minicbor::Decoder;
use serde::{Deserialize, Serialize};

use super::authenticator_data::{AuthenticatorData, FLAG_BE, FLAG_BS};
use super::challenge::Challenge;
use super::client_data::{self, CeremonyType};
use super::cose::PublicKey;
use super::options::{CredentialDescriptor, Transport};
use super::rp::RelyingParty;
use super::{WebAuthnError, MAX_ATTESTATION_OBJECT, MAX_CLIENT_DATA, MAX_RESPONSE_JSON};
use crate::b64;
use crate::ids::{CredentialId, UserHandle};

/// `RegistrationResponseJSON` as browsers send it; only what is checked is kept.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RegistrationJson {
    id: String,
    raw_id: String,
    #[serde(rename = "type")]
    kind: String,
    response: AttestationJson,
}

#[derive(Deserialize)]
struct AttestationJson {
    #[serde(rename = "clientDataJSON")]
    client_data_json: String,
    #[serde(rename = "attestationObject")]
    attestation_object: String,
    #[serde(default)]
    transports: Option<Vec<String>>,
}

/// A parsed (not yet verified) registration response.
pub struct RegistrationResponse {
    id_matches_raw_id: bool,
    is_public_key: bool,
    raw_id: Vec<u8>,
    client_data: Vec<u8>,
    attestation_object: Vec<u8>,
    transports: Vec<Transport>,
}

impl fmt::Debug for RegistrationResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistrationResponse")
            .field("raw_id", &b64::encode(&self.raw_id))
            .finish_non_exhaustive()
    }
}

impl RegistrationResponse {
    /// Reads `credential.toJSON()` of a `create()` call. Unknown members
    /// (`clientExtensionResults`, `authenticatorAttachment`, the response's
    /// `publicKey`, `authenticatorData`, …) are ignored; the attestation object is the
    /// only source of truth.
    pub fn from_json(json: &[u8]) -> Result<Self, WebAuthnError> {
        if json.len() > MAX_RESPONSE_JSON {
            return Err(WebAuthnError::MalformedResponse);
        }
        let parsed: RegistrationJson =
            serde_json::from_slice(json).map_err(|_| WebAuthnError::MalformedResponse)?;
        let raw_id = b64::decode(&parsed.raw_id, CredentialId::MAX_LEN)
            .ok_or(WebAuthnError::MalformedResponse)?;
        let client_data = b64::decode(&parsed.response.client_data_json, MAX_CLIENT_DATA)
            .ok_or(WebAuthnError::MalformedResponse)?;
        let attestation_object =
            b64::decode(&parsed.response.attestation_object, MAX_ATTESTATION_OBJECT)
                .ok_or(WebAuthnError::MalformedResponse)?;
        let mut transports: Vec<Transport> = Vec::new();
        for name in parsed.response.transports.iter().flatten() {
            if let Some(transport) = Transport::parse(name) {
                if !transports.contains(&transport) {
                    transports.push(transport);
                }
            }
        }
        Ok(RegistrationResponse {
            id_matches_raw_id: parsed.id == parsed.raw_id,
            is_public_key: parsed.kind == "public-key",
            raw_id,
            client_data,
            attestation_object,
            transports,
        })
    }

    /// The challenge the browser answered, to take from the store before verifying.
    pub fn challenge(&self) -> Result<Challenge, WebAuthnError> {
        client_data::challenge(&self.client_data)
    }
}

/// A verified new passkey.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewCredential {
    pub id: CredentialId,
    pub public_key: PublicKey,
    pub sign_count: u32,
    /// The authenticator model (all zeros when the browser hides it, as with attestation
    /// `none`). Informational only: nothing attests it.
    pub aaguid: [u8; 16],
    /// BE: the passkey can be synced (backed up) to other devices.
    pub backup_eligible: bool,
    /// BS: the passkey is synced now.
    pub backed_up: bool,
    pub transports: Vec<Transport>,
    /// The attestation statement format (`none`, `packed`, …). Its statement is ignored.
    pub attestation_format: String,
}

impl NewCredential {
    /// The record to store, for the member whose handle the registration was for (from
    /// the [`super::Ceremony::Registration`] the challenge was issued for).
    pub fn into_record(self, user_handle: UserHandle) -> CredentialRecord {
        CredentialRecord {
            id: self.id,
            user_handle,
            public_key: self.public_key,
            sign_count: self.sign_count,
            backup_eligible: self.backup_eligible,
            backed_up: self.backed_up,
            transports: self.transports,
            aaguid: self.aaguid,
        }
    }
}

/// A member's passkey as storage keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialRecord {
    pub id: CredentialId,
    pub user_handle: UserHandle,
    /// As a JWK.
    pub public_key: PublicKey,
    pub sign_count: u32,
    pub backup_eligible: bool,
    pub backed_up: bool,
    #[serde(default)]
    pub transports: Vec<Transport>,
    #[serde(default)]
    pub aaguid: [u8; 16],
}

impl CredentialRecord {
    /// For `excludeCredentials` (registration) or `allowCredentials` (step-up).
    pub fn descriptor(&self) -> CredentialDescriptor {
        CredentialDescriptor {
            id: self.id.clone(),
            transports: self.transports.clone(),
        }
    }
}

/// Verifies a registration response against the challenge issued for it and the relying
/// party, and returns the new credential. The caller must still refuse a credential id
/// that is already registered (to anyone).
pub fn verify_registration(
    response: &RegistrationResponse,
    rp: &RelyingParty,
    challenge: &Challenge,
) -> Result<NewCredential, WebAuthnError> {
    if !response.is_public_key {
        return Err(WebAuthnError::NotPublicKey);
    }
    if !response.id_matches_raw_id {
        return Err(WebAuthnError::CredentialIdMismatch);
    }
    client_data::verify(&response.client_data, CeremonyType::Create, challenge, rp)?;
    let (format, auth_data) = decode_attestation_object(&response.attestation_object)?;
    let auth_data = AuthenticatorData::parse(auth_data)?;
    auth_data.check_rp_and_user(rp.id_hash())?;
    let attested = auth_data
        .attested
        .as_ref()
        .ok_or(WebAuthnError::MissingCredentialData)?;
    if attested.credential_id.as_bytes() != response.raw_id.as_slice() {
        return Err(WebAuthnError::CredentialIdMismatch);
    }
    Ok(NewCredential {
        id: attested.credential_id.clone(),
        public_key: attested.public_key,
        sign_count: auth_data.sign_count,
        aaguid: attested.aaguid,
        backup_eligible: auth_data.flag(FLAG_BE),
        backed_up: auth_data.flag(FLAG_BS),
        transports: response.transports.clone(),
        attestation_format: format.into(),
    })
}

/// The longest attestation format name read (registered names are short: `packed`,
/// `android-safetynet`).
const MAX_FORMAT_LEN: usize = 32;

/// Reads `{fmt: text, attStmt: map, authData: bytes}` (any order, other members
/// skipped, nothing after the map) and returns the format and the authenticator data.
/// The statement is skipped whatever the format: attestation is not verified here.
fn decode_attestation_object(bytes: &[u8]) -> Result<(&str, &[u8]), WebAuthnError> {
    let malformed = |_| WebAuthnError::MalformedAttestationObject;
    let mut d = Decoder::new(bytes);
    let entries = match d.map().map_err(malformed)? {
        Some(n) if n <= 8 => n,
        _ => return Err(WebAuthnError::MalformedAttestationObject),
    };
    let (mut format, mut statement, mut auth_data) = (None, false, None);
    for _ in 0..entries {
        let repeated = match d.str().map_err(malformed)? {
            "fmt" => {
                let value = d.str().map_err(malformed)?;
                if value.is_empty() || value.len() > MAX_FORMAT_LEN {
                    return Err(WebAuthnError::MalformedAttestationObject);
                }
                format.replace(value).is_some()
            }
            "attStmt" => {
                if d.datatype().map_err(malformed)? != Type::Map {
                    return Err(WebAuthnError::MalformedAttestationObject);
                }
                d.skip().map_err(malformed)?;
                core::mem::replace(&mut statement, true)
            }
            "authData" => auth_data.replace(d.bytes().map_err(malformed)?).is_some(),
            _ => {
                d.skip().map_err(malformed)?;
                false
            }
        };
        if repeated {
            return Err(WebAuthnError::MalformedAttestationObject);
        }
    }
    if d.position() != bytes.len() || !statement {
        return Err(WebAuthnError::MalformedAttestationObject);
    }
    match (format, auth_data) {
        (Some(format), Some(auth_data)) => Ok((format, auth_data)),
        _ => Err(WebAuthnError::MalformedAttestationObject),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use alloc::vec;

    pub(crate) fn attestation_object(format: &str, statement: &[u8], auth_data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut e = minicbor::Encoder::new(&mut out);
        e.map(3).unwrap().str("fmt").unwrap().str(format).unwrap();
        e.str("attStmt").unwrap();
        e.writer_mut().extend_from_slice(statement);
        e.str("authData").unwrap().bytes(auth_data).unwrap();
        out
    }

    #[test]
    fn reads_format_and_auth_data_skipping_any_statement() {
        let none = attestation_object("none", &[0xa0], b"data");
        assert_eq!(decode_attestation_object(&none), Ok(("none", &b"data"[..])));
        // A `packed` statement with alg, sig and an x5c array of certificates.
        let mut statement = Vec::new();
        let mut e = minicbor::Encoder::new(&mut statement);
        e.map(3).unwrap();
        e.str("alg").unwrap().i64(-7).unwrap();
        e.str("sig").unwrap().bytes(&[1; 70]).unwrap();
        e.str("x5c").unwrap().array(2).unwrap();
        e.bytes(&[2; 500]).unwrap().bytes(&[3; 400]).unwrap();
        let packed = attestation_object("packed", &statement, b"data");
        assert_eq!(
            decode_attestation_object(&packed),
            Ok(("packed", &b"data"[..]))
        );
    }

    #[test]
    fn refuses_malformed_attestation_objects() {
        let good = attestation_object("none", &[0xa0], b"data");
        for cut in 0..good.len() {
            assert!(
                decode_attestation_object(&good[..cut]).is_err(),
                "cut at {cut}"
            );
        }
        let mut trailing = good.clone();
        trailing.push(0);
        let mut missing = Vec::new();
        minicbor::Encoder::new(&mut missing)
            .map(2)
            .unwrap()
            .str("fmt")
            .unwrap()
            .str("none")
            .unwrap()
            .str("authData")
            .unwrap()
            .bytes(b"x")
            .unwrap();
        let mut repeated = Vec::new();
        minicbor::Encoder::new(&mut repeated)
            .map(4)
            .unwrap()
            .str("fmt")
            .unwrap()
            .str("none")
            .unwrap()
            .str("attStmt")
            .unwrap()
            .map(0)
            .unwrap()
            .str("authData")
            .unwrap()
            .bytes(b"x")
            .unwrap()
            .str("authData")
            .unwrap()
            .bytes(b"y")
            .unwrap();
        for bad in [
            trailing,
            missing,
            repeated,
            attestation_object("none", &[0x80], b"data"), // attStmt not a map
            attestation_object("", &[0xa0], b"data"),
            attestation_object(&"x".repeat(33), &[0xa0], b"data"),
            vec![0xa0],
            vec![0xbf, 0xff],
            vec![0x80],
            vec![],
            // An attStmt declaring more items than there are bytes.
            attestation_object(
                "none",
                &[0xbb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
                b"",
            ),
        ] {
            assert_eq!(
                decode_attestation_object(&bad),
                Err(WebAuthnError::MalformedAttestationObject),
                "{bad:x?}"
            );
        }
    }

    #[test]
    fn deeply_nested_statements_are_skipped_without_recursion() {
        // 100 000 nested arrays: a recursive decoder would overflow its stack.
        let mut statement = vec![0xa1, 0x61, b'x'];
        statement.extend(core::iter::repeat_n(0x81, 100_000));
        statement.push(0x00);
        let object = attestation_object("none", &statement, b"data");
        assert_eq!(
            decode_attestation_object(&object),
            Ok(("none", &b"data"[..]))
        );
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_garbage(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
            let _ = decode_attestation_object(&bytes);
        }
    }
}
