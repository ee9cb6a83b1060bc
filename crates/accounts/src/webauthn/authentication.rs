//! The authentication ceremony (sign-in and step-up): checking `credential.toJSON()` of
//! `navigator.credentials.get` and preparing the signature check for WebCrypto.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use aero2_keys::der::der_ecdsa_p256_to_fixed;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::authenticator_data::{AuthenticatorData, FLAG_BE, FLAG_BS};
use super::challenge::Challenge;
use super::client_data::{self, CeremonyType};
use super::cose::{Algorithm, SignatureCheck};
use super::registration::CredentialRecord;
use super::rp::RelyingParty;
use super::{
    WebAuthnError, MAX_AUTHENTICATOR_DATA, MAX_CLIENT_DATA, MAX_RESPONSE_JSON, MAX_SIGNATURE,
};
use crate::b64;
use crate::ids::{CredentialId, UserHandle};

/// `AuthenticationResponseJSON` as browsers send it; only what is checked is kept.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AuthenticationJson {
    id: String,
    raw_id: String,
    #[serde(rename = "type")]
    kind: String,
    response: AssertionJson,
}

#[derive(Deserialize)]
struct AssertionJson {
    #[serde(rename = "clientDataJSON")]
    client_data_json: String,
    #[serde(rename = "authenticatorData")]
    authenticator_data: String,
    signature: String,
    #[serde(rename = "userHandle", default)]
    user_handle: Option<String>,
}

/// A parsed (not yet verified) authentication response.
pub struct AuthenticationResponse {
    id_matches_raw_id: bool,
    is_public_key: bool,
    credential_id: CredentialId,
    client_data: Vec<u8>,
    authenticator_data: Vec<u8>,
    signature: Vec<u8>,
    user_handle: Option<Vec<u8>>,
}

impl fmt::Debug for AuthenticationResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthenticationResponse")
            .field("credential_id", &self.credential_id)
            .finish_non_exhaustive()
    }
}

impl AuthenticationResponse {
    /// Reads `credential.toJSON()` of a `get()` call.
    pub fn from_json(json: &[u8]) -> Result<Self, WebAuthnError> {
        if json.len() > MAX_RESPONSE_JSON {
            return Err(WebAuthnError::MalformedResponse);
        }
        let parsed: AuthenticationJson =
            serde_json::from_slice(json).map_err(|_| WebAuthnError::MalformedResponse)?;
        let malformed = WebAuthnError::MalformedResponse;
        let user_handle = match parsed.response.user_handle.as_deref() {
            None | Some("") => None,
            Some(text) => Some(b64::decode(text, 64).ok_or(malformed)?),
        };
        Ok(AuthenticationResponse {
            id_matches_raw_id: parsed.id == parsed.raw_id,
            is_public_key: parsed.kind == "public-key",
            credential_id: CredentialId::from_base64url(&parsed.raw_id).map_err(|_| malformed)?,
            client_data: b64::decode(&parsed.response.client_data_json, MAX_CLIENT_DATA)
                .ok_or(malformed)?,
            authenticator_data: b64::decode(
                &parsed.response.authenticator_data,
                MAX_AUTHENTICATOR_DATA,
            )
            .ok_or(malformed)?,
            signature: b64::decode(&parsed.response.signature, MAX_SIGNATURE).ok_or(malformed)?,
            user_handle,
        })
    }

    /// The credential to look up (by `rawId`).
    pub fn credential_id(&self) -> &CredentialId {
        &self.credential_id
    }

    /// The member's handle, which a discoverable credential always returns. Missing, or
    /// not of our length: [`WebAuthnError::MissingUserHandle`].
    pub fn user_handle(&self) -> Result<UserHandle, WebAuthnError> {
        self.user_handle
            .as_deref()
            .and_then(|bytes| UserHandle::from_slice(bytes).ok())
            .ok_or(WebAuthnError::MissingUserHandle)
    }

    /// The challenge the browser answered, to take from the store before verifying.
    pub fn challenge(&self) -> Result<Challenge, WebAuthnError> {
        client_data::challenge(&self.client_data)
    }
}

/// An assertion that passed every check but the signature, which WebCrypto does next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingSignIn {
    /// What to pass to WebCrypto.
    pub signature_check: SignatureCheck,
    credential_id: CredentialId,
    user_handle: UserHandle,
    stored_count: u32,
    received_count: u32,
    backed_up: bool,
}

/// A completed authentication: the passkey's member is signed in (or stepped up).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignIn {
    pub credential_id: CredentialId,
    pub user_handle: UserHandle,
    /// The counter to store ([`CredentialRecord::apply`]).
    pub sign_count: u32,
    pub backed_up: bool,
}

/// Why a signed assertion is refused after WebCrypto's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignInRefusal {
    /// WebCrypto did not verify the signature (or could not import the key).
    SignatureInvalid,
    /// A valid signature, but the authenticator's counter did not grow past the stored
    /// one although one of them is not zero: another copy of this credential may exist.
    /// Refuse, and record it in the account's audit log (`passkey.clone_suspected`).
    CloneSuspected { stored: u32, received: u32 },
}

impl SignInRefusal {
    pub const fn reason(self) -> &'static str {
        match self {
            SignInRefusal::SignatureInvalid => "signature_invalid",
            SignInRefusal::CloneSuspected { .. } => "clone_suspected",
        }
    }
}

impl fmt::Display for SignInRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the passkey sign-in was refused: ")?;
        f.write_str(self.reason())
    }
}

impl core::error::Error for SignInRefusal {}

impl PendingSignIn {
    /// Completes the ceremony with WebCrypto's verdict on [`PendingSignIn::signature_check`].
    ///
    /// The counter rule is applied only to a valid signature, so that an unsigned forgery
    /// cannot raise false clone alarms: both counters zero is fine (the authenticator does
    /// not count); otherwise the received counter must be greater than the stored one.
    pub fn conclude(self, signature_valid: bool) -> Result<SignIn, SignInRefusal> {
        if !signature_valid {
            return Err(SignInRefusal::SignatureInvalid);
        }
        let (stored, received) = (self.stored_count, self.received_count);
        if (stored > 0 || received > 0) && received <= stored {
            return Err(SignInRefusal::CloneSuspected { stored, received });
        }
        Ok(SignIn {
            credential_id: self.credential_id,
            user_handle: self.user_handle,
            sign_count: received,
            backed_up: self.backed_up,
        })
    }
}

impl CredentialRecord {
    /// Stores what a sign-in learnt: the counter (never lowered, should two sign-ins
    /// race) and the backup state. `false`, and no change, for another credential.
    pub fn apply(&mut self, sign_in: &SignIn) -> bool {
        if sign_in.credential_id != self.id {
            return false;
        }
        self.sign_count = self.sign_count.max(sign_in.sign_count);
        self.backed_up = sign_in.backed_up;
        true
    }
}

/// Verifies an authentication response for `credential` (looked up by
/// [`AuthenticationResponse::credential_id`]) against the challenge issued for it, and
/// prepares the signature check.
pub fn verify_authentication(
    response: &AuthenticationResponse,
    credential: &CredentialRecord,
    rp: &RelyingParty,
    challenge: &Challenge,
) -> Result<PendingSignIn, WebAuthnError> {
    if !response.is_public_key {
        return Err(WebAuthnError::NotPublicKey);
    }
    if !response.id_matches_raw_id || response.credential_id != credential.id {
        return Err(WebAuthnError::CredentialIdMismatch);
    }
    let user_handle = response.user_handle()?;
    if user_handle != credential.user_handle {
        return Err(WebAuthnError::UserHandleMismatch);
    }
    client_data::verify(&response.client_data, CeremonyType::Get, challenge, rp)?;
    let auth_data = AuthenticatorData::parse(&response.authenticator_data)?;
    auth_data.check_rp_and_user(rp.id_hash())?;
    if auth_data.attested.is_some() {
        return Err(WebAuthnError::UnexpectedCredentialData);
    }
    if auth_data.flag(FLAG_BE) != credential.backup_eligible {
        return Err(WebAuthnError::InvalidBackupFlags);
    }
    let signature = match credential.public_key.algorithm() {
        Algorithm::Es256 => der_ecdsa_p256_to_fixed(&response.signature)
            .map_err(|_| WebAuthnError::MalformedSignature)?
            .to_vec(),
        Algorithm::Ed25519 if response.signature.len() == 64 => response.signature.clone(),
        Algorithm::Ed25519 => return Err(WebAuthnError::MalformedSignature),
    };
    let mut signed_data = Vec::with_capacity(response.authenticator_data.len() + 32);
    signed_data.extend_from_slice(&response.authenticator_data);
    signed_data.extend_from_slice(&Sha256::digest(&response.client_data));
    Ok(PendingSignIn {
        signature_check: SignatureCheck {
            algorithm: credential.public_key.algorithm(),
            public_key: credential.public_key.to_jwk(),
            signed_data,
            signature,
        },
        credential_id: credential.id.clone(),
        user_handle,
        stored_count: credential.sign_count,
        received_count: auth_data.sign_count,
        backed_up: auth_data.flag(FLAG_BS),
    })
}
