//! The options a page passes to `navigator.credentials.create` / `get`, in WebAuthn
//! Level 3's JSON form (`PublicKeyCredentialCreationOptionsJSON` and
//! `PublicKeyCredentialRequestOptionsJSON`): binary values are base64url strings, so the
//! page calls `PublicKeyCredential.parseCreationOptionsFromJSON(options)` as it is.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use serde::{Deserialize, Serialize};

use super::challenge::Challenge;
use super::cose::Algorithm;
use super::rp::RelyingParty;
use crate::ids::{CredentialId, UserHandle};

/// How long the browser lets the user answer: the challenge's lifetime.
pub const CEREMONY_TIMEOUT_MS: u32 = super::challenge::CHALLENGE_LIFETIME_MS as u32;

/// Authenticators may truncate `user.name` and `user.displayName` past 64 bytes, so they
/// are cut here, at a character boundary, where the result is predictable.
const MAX_USER_TEXT: usize = 64;

/// How an authenticator can be reached (`AuthenticatorTransport`). Unknown values from a
/// browser are dropped, as WebAuthn asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Transport {
    Usb,
    Nfc,
    Ble,
    SmartCard,
    Hybrid,
    Internal,
}

impl Transport {
    pub fn parse(text: &str) -> Option<Transport> {
        Some(match text {
            "usb" => Transport::Usb,
            "nfc" => Transport::Nfc,
            "ble" => Transport::Ble,
            "smart-card" => Transport::SmartCard,
            "hybrid" => Transport::Hybrid,
            "internal" => Transport::Internal,
            _ => return None,
        })
    }
}

/// A credential named in `excludeCredentials` or `allowCredentials`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CredentialDescriptor {
    pub id: CredentialId,
    pub transports: Vec<Transport>,
}

impl Serialize for CredentialDescriptor {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Json<'a> {
            #[serde(rename = "type")]
            kind: &'static str,
            id: &'a CredentialId,
            #[serde(skip_serializing_if = "<[Transport]>::is_empty")]
            transports: &'a [Transport],
        }
        Json {
            kind: "public-key",
            id: &self.id,
            transports: &self.transports,
        }
        .serialize(serializer)
    }
}

/// The member a passkey is created for.
#[derive(Clone, Copy, Debug)]
pub struct UserEntity<'a> {
    /// `user.id`: the member's opaque handle.
    pub handle: &'a UserHandle,
    /// `user.name`: what tells accounts apart in the authenticator's list (for example
    /// the member's e-mail address, or its display name and the account's name).
    pub name: &'a str,
    /// `user.displayName`.
    pub display_name: &'a str,
}

#[derive(Serialize)]
struct RpJson {
    id: String,
    name: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UserJson {
    id: String,
    name: String,
    display_name: String,
}

#[derive(Serialize)]
struct ParamJson {
    #[serde(rename = "type")]
    kind: &'static str,
    alg: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SelectionJson {
    resident_key: &'static str,
    require_resident_key: bool,
    user_verification: &'static str,
}

/// `PublicKeyCredentialCreationOptionsJSON`. Serialise it (serde, or
/// [`CreationOptions::to_json`]) into the response; its `Debug` hides the challenge.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreationOptions {
    rp: RpJson,
    user: UserJson,
    challenge: String,
    pub_key_cred_params: [ParamJson; 2],
    timeout: u32,
    exclude_credentials: Vec<CredentialDescriptor>,
    authenticator_selection: SelectionJson,
    attestation: &'static str,
}

impl CreationOptions {
    pub fn to_json(&self) -> String {
        // Serialising plain strings, numbers and vectors cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl fmt::Debug for CreationOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreationOptions")
            .field("rp", &self.rp.id)
            .field("user", &self.user.id)
            .field("challenge", &"<redacted>")
            .field("exclude_credentials", &self.exclude_credentials.len())
            .finish_non_exhaustive()
    }
}

/// The options of a registration: a discoverable credential (`residentKey: required`),
/// user verification required, EdDSA then ES256, attestation `none`, and `exclude` (the
/// member's existing passkeys) so one authenticator does not register twice.
pub fn creation_options(
    rp: &RelyingParty,
    user: &UserEntity<'_>,
    challenge: &Challenge,
    exclude: &[CredentialDescriptor],
) -> CreationOptions {
    CreationOptions {
        rp: RpJson {
            id: rp.id().into(),
            name: truncate(rp.name(), MAX_USER_TEXT).into(),
        },
        user: UserJson {
            id: user.handle.to_base64url(),
            name: truncate(user.name, MAX_USER_TEXT).into(),
            display_name: truncate(user.display_name, MAX_USER_TEXT).into(),
        },
        challenge: challenge.to_base64url(),
        pub_key_cred_params: Algorithm::PREFERENCE.map(|alg| ParamJson {
            kind: "public-key",
            alg: alg.cose(),
        }),
        timeout: CEREMONY_TIMEOUT_MS,
        exclude_credentials: exclude.to_vec(),
        authenticator_selection: SelectionJson {
            resident_key: "required",
            require_resident_key: true,
            user_verification: "required",
        },
        attestation: "none",
    }
}

/// `PublicKeyCredentialRequestOptionsJSON`; its `Debug` hides the challenge.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestOptions {
    challenge: String,
    timeout: u32,
    rp_id: String,
    allow_credentials: Vec<CredentialDescriptor>,
    user_verification: &'static str,
}

impl RequestOptions {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl fmt::Debug for RequestOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestOptions")
            .field("rp_id", &self.rp_id)
            .field("challenge", &"<redacted>")
            .field("allow_credentials", &self.allow_credentials.len())
            .finish_non_exhaustive()
    }
}

/// The options of an authentication. `allow` is empty for the discoverable sign-in (the
/// authenticator offers the passkeys it holds for this RP ID); a step-up may list the
/// session member's passkeys.
pub fn request_options(
    rp: &RelyingParty,
    challenge: &Challenge,
    allow: &[CredentialDescriptor],
) -> RequestOptions {
    RequestOptions {
        challenge: challenge.to_base64url(),
        timeout: CEREMONY_TIMEOUT_MS,
        rp_id: rp.id().into(),
        allow_credentials: allow.to_vec(),
        user_verification: "required",
    }
}

/// The longest prefix of `text` of at most `max` bytes that ends on a character boundary.
fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::SeqRandom;
    use alloc::format;
    use serde_json::{json, Value};

    fn rp() -> RelyingParty {
        RelyingParty::from_origin("https://keys.example.com", "Aero2 Keys").unwrap()
    }

    #[test]
    fn creation_options_are_the_level_3_json_form() {
        let mut rng = SeqRandom(1);
        let handle = UserHandle::generate(&mut rng).unwrap();
        let challenge = Challenge::generate(&mut rng).unwrap();
        let existing = CredentialDescriptor {
            id: CredentialId::from_bytes(&[1, 2, 3]).unwrap(),
            transports: alloc::vec![Transport::Internal, Transport::Hybrid],
        };
        let user = UserEntity {
            handle: &handle,
            name: "ada@example.com",
            display_name: "Ada Lovelace",
        };
        let options = creation_options(&rp(), &user, &challenge, &[existing]);
        let value: Value = serde_json::from_str(&options.to_json()).unwrap();
        assert_eq!(
            value,
            json!({
                "rp": {"id": "keys.example.com", "name": "Aero2 Keys"},
                "user": {
                    "id": handle.to_base64url(),
                    "name": "ada@example.com",
                    "displayName": "Ada Lovelace"
                },
                "challenge": challenge.to_base64url(),
                "pubKeyCredParams": [
                    {"type": "public-key", "alg": -8},
                    {"type": "public-key", "alg": -7}
                ],
                "timeout": 300000,
                "excludeCredentials": [
                    {"type": "public-key", "id": "AQID", "transports": ["internal", "hybrid"]}
                ],
                "authenticatorSelection": {
                    "residentKey": "required",
                    "requireResidentKey": true,
                    "userVerification": "required"
                },
                "attestation": "none"
            })
        );
        assert!(!format!("{options:?}").contains(&challenge.to_base64url()));
    }

    #[test]
    fn request_options_for_a_discoverable_sign_in() {
        let challenge = Challenge::generate(&mut SeqRandom(2)).unwrap();
        let options = request_options(&rp(), &challenge, &[]);
        let value: Value = serde_json::from_str(&options.to_json()).unwrap();
        assert_eq!(
            value,
            json!({
                "challenge": challenge.to_base64url(),
                "timeout": 300000,
                "rpId": "keys.example.com",
                "allowCredentials": [],
                "userVerification": "required"
            })
        );
        assert!(!format!("{options:?}").contains(&challenge.to_base64url()));
        let allow = CredentialDescriptor {
            id: CredentialId::from_bytes(&[9]).unwrap(),
            transports: alloc::vec![],
        };
        let value: Value =
            serde_json::from_str(&request_options(&rp(), &challenge, &[allow]).to_json()).unwrap();
        assert_eq!(
            value["allowCredentials"],
            json!([{"type": "public-key", "id": "CQ"}])
        );
    }

    #[test]
    fn long_names_are_cut_at_a_character_boundary() {
        let handle = UserHandle::from_bytes([0; 32]);
        let name = "é".repeat(40); // 80 bytes
        let user = UserEntity {
            handle: &handle,
            name: &name,
            display_name: "x",
        };
        let challenge = Challenge::from_bytes([0; 32]);
        let value: Value =
            serde_json::from_str(&creation_options(&rp(), &user, &challenge, &[]).to_json())
                .unwrap();
        assert_eq!(value["user"]["name"].as_str().unwrap(), "é".repeat(32));
        assert_eq!(truncate("abc", 2), "ab");
        assert_eq!(truncate("", 2), "");
    }

    #[test]
    fn transports_parse_their_webauthn_names() {
        for transport in [
            Transport::Usb,
            Transport::Nfc,
            Transport::Ble,
            Transport::SmartCard,
            Transport::Hybrid,
            Transport::Internal,
        ] {
            let name = serde_json::to_value(transport).unwrap();
            assert_eq!(Transport::parse(name.as_str().unwrap()), Some(transport));
        }
        assert_eq!(Transport::parse("cable"), None);
    }
}
