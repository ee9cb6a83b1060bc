//! Passkeys (WebAuthn Level 3) for members: the pure half of both ceremonies.
//!
//! Policy: ES256 (COSE -7) and EdDSA/Ed25519 (-8), EdDSA preferred; user verification
//! required; discoverable credentials (sign-in needs no user name); attestation `none`
//! asked for, any format accepted and its statement ignored. Options and responses are the
//! Level 3 JSON forms, so a page calls `PublicKeyCredential.parseCreationOptionsFromJSON`
//! / `parseRequestOptionsFromJSON` and sends back `credential.toJSON()`.
//!
//! Signatures are not verified here: [`authentication::verify_authentication`] returns a
//! [`SignatureCheck`] with exactly what WebCrypto's `importKey("jwk", …)` and `verify`
//! take, and the caller reports the result back ([`PendingSignIn::conclude`]).
//!
//! Registration, in the worker:
//! 1. [`ChallengeStore::issue`] (persisted), then [`creation_options`] → the page;
//! 2. [`RegistrationResponse::from_json`] on the page's answer, then
//!    [`ChallengeStore::take`] with [`RegistrationResponse::challenge`];
//! 3. [`verify_registration`] → [`NewCredential`]; refuse a credential id already stored;
//!    store [`NewCredential::into_record`].
//!
//! Sign-in:
//! 1. [`ChallengeStore::issue`], then [`request_options`] (no `allowCredentials`);
//! 2. [`AuthenticationResponse::from_json`], [`ChallengeStore::take`] with its challenge,
//!    look the credential up by [`AuthenticationResponse::credential_id`];
//! 3. [`verify_authentication`] → [`PendingSignIn`]; WebCrypto verifies its
//!    [`SignatureCheck`]; [`PendingSignIn::conclude`] with the result → [`SignIn`];
//!    [`CredentialRecord::apply`] and store the new counter.

use core::fmt;

mod authentication;
mod authenticator_data;
mod challenge;
mod client_data;
mod cose;
mod options;
mod registration;
mod rp;

pub use authentication::{
    verify_authentication, AuthenticationResponse, PendingSignIn, SignIn, SignInRefusal,
};
pub use challenge::{Ceremony, Challenge, ChallengeError, ChallengeStore, CHALLENGE_LIFETIME_MS};
pub use cose::{Algorithm, Jwk, PublicKey, SignatureCheck, WebCryptoAlgorithm};
pub use options::{
    creation_options, request_options, CreationOptions, CredentialDescriptor, RequestOptions,
    Transport, UserEntity, CEREMONY_TIMEOUT_MS,
};
pub use registration::{
    verify_registration, CredentialRecord, NewCredential, RegistrationResponse,
};
pub use rp::{RelyingParty, RelyingPartyError};

/// The largest `credential.toJSON()` accepted, before any parsing.
pub const MAX_RESPONSE_JSON: usize = 128 * 1024;
/// The largest decoded `clientDataJSON`.
pub const MAX_CLIENT_DATA: usize = 8 * 1024;
/// The largest decoded attestation object (certificate chains of `packed` or `tpm`
/// statements fit several times over).
pub const MAX_ATTESTATION_OBJECT: usize = 32 * 1024;
/// The largest decoded authenticator data of an assertion.
pub const MAX_AUTHENTICATOR_DATA: usize = 8 * 1024;
/// The largest decoded signature (an ES256 DER signature has at most 72 bytes).
pub const MAX_SIGNATURE: usize = 512;

/// Why a WebAuthn response is refused. No variant holds any part of the input but the
/// COSE algorithm number, so an error can be logged as it is; the page should get one
/// generic answer (`passkey_not_accepted`), the log the [`WebAuthnError::reason`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WebAuthnError {
    /// The JSON is not a credential of the expected shape, too large, or has bad base64url.
    MalformedResponse,
    /// `type` is not `public-key`.
    NotPublicKey,
    /// `id`, `rawId` and the credential id in the authenticator data disagree, or the
    /// assertion is for another credential than the one given.
    CredentialIdMismatch,
    /// `clientDataJSON` is not JSON with string `type`, `challenge` and `origin`.
    MalformedClientData,
    /// `clientDataJSON.type` is not `webauthn.create` (registration) or `webauthn.get`
    /// (authentication).
    WrongCeremonyType,
    /// `clientDataJSON.challenge` is not the challenge issued.
    ChallengeMismatch,
    /// `clientDataJSON.origin` is not the dashboard's origin.
    OriginMismatch,
    /// `clientDataJSON.crossOrigin` is true: the ceremony ran in a cross-origin iframe.
    CrossOrigin,
    /// The attestation object is not a CBOR map with `fmt`, `attStmt` and `authData`.
    MalformedAttestationObject,
    /// The authenticator data is truncated, has trailing bytes or bad CBOR in it.
    MalformedAuthenticatorData,
    /// The authenticator data is for another relying party.
    RpIdHashMismatch,
    /// The UP flag is not set.
    UserNotPresent,
    /// The UV flag is not set: no PIN, biometric or device unlock was checked.
    UserNotVerified,
    /// A registration without attested credential data (AT flag).
    MissingCredentialData,
    /// An assertion with attested credential data (AT flag).
    UnexpectedCredentialData,
    /// BS (backed up) is set without BE (backup eligible), or BE differs from the value
    /// the credential was registered with.
    InvalidBackupFlags,
    /// The credential's public key is not a valid COSE key of its algorithm.
    MalformedPublicKey,
    /// The credential's algorithm is neither ES256 (-7) nor EdDSA (-8).
    UnsupportedAlgorithm(i64),
    /// The signature is not a DER ECDSA P-256 signature, or not 64 Ed25519 bytes.
    MalformedSignature,
    /// The assertion has no `userHandle`, or one that is not ours.
    MissingUserHandle,
    /// The assertion's `userHandle` is not the one of the credential's member.
    UserHandleMismatch,
}

impl WebAuthnError {
    /// A stable machine-readable reason, for logs and tests.
    pub const fn reason(self) -> &'static str {
        match self {
            WebAuthnError::MalformedResponse => "malformed_response",
            WebAuthnError::NotPublicKey => "not_public_key",
            WebAuthnError::CredentialIdMismatch => "credential_id_mismatch",
            WebAuthnError::MalformedClientData => "malformed_client_data",
            WebAuthnError::WrongCeremonyType => "wrong_ceremony_type",
            WebAuthnError::ChallengeMismatch => "challenge_mismatch",
            WebAuthnError::OriginMismatch => "origin_mismatch",
            WebAuthnError::CrossOrigin => "cross_origin",
            WebAuthnError::MalformedAttestationObject => "malformed_attestation_object",
            WebAuthnError::MalformedAuthenticatorData => "malformed_authenticator_data",
            WebAuthnError::RpIdHashMismatch => "rp_id_hash_mismatch",
            WebAuthnError::UserNotPresent => "user_not_present",
            WebAuthnError::UserNotVerified => "user_not_verified",
            WebAuthnError::MissingCredentialData => "missing_credential_data",
            WebAuthnError::UnexpectedCredentialData => "unexpected_credential_data",
            WebAuthnError::InvalidBackupFlags => "invalid_backup_flags",
            WebAuthnError::MalformedPublicKey => "malformed_public_key",
            WebAuthnError::UnsupportedAlgorithm(_) => "unsupported_algorithm",
            WebAuthnError::MalformedSignature => "malformed_signature",
            WebAuthnError::MissingUserHandle => "missing_user_handle",
            WebAuthnError::UserHandleMismatch => "user_handle_mismatch",
        }
    }
}

impl fmt::Display for WebAuthnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the passkey response was not accepted: ")?;
        f.write_str(self.reason())
    }
}

impl core::error::Error for WebAuthnError {}
