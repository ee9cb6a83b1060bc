//! Responses recorded from a real browser (Chromium with a CTAP2 virtual authenticator,
//! see fixtures/capture.mjs) answering this crate's own options: the verifier must accept
//! the browser's encodings as they are, and the SignatureCheck it prepares must verify.

mod common;

use aero2_accounts::webauthn::{
    verify_authentication, verify_registration, Algorithm, AuthenticationResponse, Challenge,
    PublicKey, RegistrationResponse, RelyingParty, SignInRefusal, Transport, WebAuthnError,
};
use aero2_accounts::UserHandle;
use common::{unb64, webcrypto_verify};
use serde_json::Value;

const FIXTURES: [(&str, &str, Algorithm); 2] = [
    (
        "chromium-eddsa.json",
        include_str!("fixtures/chromium-eddsa.json"),
        Algorithm::Ed25519,
    ),
    (
        "chromium-es256.json",
        include_str!("fixtures/chromium-es256.json"),
        Algorithm::Es256,
    ),
];

fn challenge_of(options: &Value) -> Challenge {
    Challenge::from_base64url(options["challenge"].as_str().unwrap()).unwrap()
}

/// The browser's own `response.publicKey` (SubjectPublicKeyInfo, DER) ends with the raw
/// key: `04 ‖ x ‖ y` for P-256, the 32 bytes for Ed25519.
fn spki_tail(registration: &Value) -> Vec<u8> {
    unb64(registration["response"]["publicKey"].as_str().unwrap())
}

#[test]
fn chromium_registrations_and_sign_ins_verify() {
    for (name, text, algorithm) in FIXTURES {
        let fixture: Value = serde_json::from_str(text).unwrap();
        let rp =
            RelyingParty::from_origin(fixture["origin"].as_str().unwrap(), "Aero2 Keys").unwrap();
        assert_eq!(rp.id(), "localhost");

        // Registration.
        let registration = &fixture["registration"];
        let challenge = challenge_of(&fixture["creationOptions"]);
        let response =
            RegistrationResponse::from_json(registration.to_string().as_bytes()).unwrap();
        assert_eq!(response.challenge().unwrap(), challenge, "{name}");
        let credential = verify_registration(&response, &rp, &challenge).unwrap();
        assert_eq!(credential.public_key.algorithm(), algorithm, "{name}");
        assert_eq!(
            credential.public_key.algorithm().cose(),
            registration["response"]["publicKeyAlgorithm"]
                .as_i64()
                .unwrap()
        );
        assert!(
            spki_tail(registration).ends_with(&credential.public_key.to_raw()),
            "{name}: the COSE key is the browser's SPKI key"
        );
        assert_eq!(
            credential.id.to_base64url(),
            registration["rawId"].as_str().unwrap()
        );
        assert_eq!(credential.transports, vec![Transport::Internal]);
        assert_eq!(credential.attestation_format, "none");
        assert!(!credential.backup_eligible && !credential.backed_up);
        match credential.public_key {
            PublicKey::Es256 { .. } => assert_eq!(algorithm, Algorithm::Es256),
            PublicKey::Ed25519 { .. } => assert_eq!(algorithm, Algorithm::Ed25519),
        }
        let user_handle =
            UserHandle::from_base64url(fixture["userHandle"].as_str().unwrap()).unwrap();
        let mut record = credential.into_record(user_handle);
        let first_count = record.sign_count;

        // Two discoverable sign-ins.
        let authentications = fixture["authentications"].as_array().unwrap();
        let requests = fixture["requestOptions"].as_array().unwrap();
        assert_eq!(authentications.len(), 2);
        for (authentication, request) in authentications.iter().zip(requests) {
            let challenge = challenge_of(request);
            let response =
                AuthenticationResponse::from_json(authentication.to_string().as_bytes()).unwrap();
            assert_eq!(response.challenge().unwrap(), challenge);
            assert_eq!(response.credential_id(), &record.id);
            assert_eq!(
                response.user_handle().unwrap(),
                user_handle,
                "the handle finds the member"
            );
            let pending = verify_authentication(&response, &record, &rp, &challenge).unwrap();
            assert_eq!(pending.signature_check.algorithm, algorithm);
            assert_eq!(pending.signature_check.signature.len(), 64);
            assert!(
                webcrypto_verify(&pending.signature_check),
                "{name}: the browser's signature verifies"
            );
            let sign_in = pending.conclude(true).unwrap();
            assert!(record.apply(&sign_in));
        }
        assert!(record.sign_count > first_count, "{name}: the counter grew");
    }
}

#[test]
fn chromium_responses_are_refused_elsewhere_and_when_replayed() {
    for (name, text, _) in FIXTURES {
        let fixture: Value = serde_json::from_str(text).unwrap();
        let origin = fixture["origin"].as_str().unwrap();
        let rp = RelyingParty::from_origin(origin, "Aero2 Keys").unwrap();
        let registration = fixture["registration"].to_string();
        let response = RegistrationResponse::from_json(registration.as_bytes()).unwrap();
        let challenge = challenge_of(&fixture["creationOptions"]);

        // Another port is another origin; another host is another origin and RP ID.
        let other_port = RelyingParty::from_origin("http://localhost:1", "x").unwrap();
        assert_eq!(
            verify_registration(&response, &other_port, &challenge),
            Err(WebAuthnError::OriginMismatch),
            "{name}"
        );
        let production = RelyingParty::from_origin("https://keys.example.com", "x").unwrap();
        assert_eq!(
            verify_registration(&response, &production, &challenge),
            Err(WebAuthnError::OriginMismatch)
        );
        // A sign-in's challenge does not register.
        let sign_in_challenge = challenge_of(&fixture["requestOptions"][0]);
        assert_eq!(
            verify_registration(&response, &rp, &sign_in_challenge),
            Err(WebAuthnError::ChallengeMismatch)
        );

        let user_handle =
            UserHandle::from_base64url(fixture["userHandle"].as_str().unwrap()).unwrap();
        let mut record = verify_registration(&response, &rp, &challenge)
            .unwrap()
            .into_record(user_handle);
        let first = fixture["authentications"][0].to_string();
        let first = AuthenticationResponse::from_json(first.as_bytes()).unwrap();
        let second = fixture["authentications"][1].to_string();
        let second = AuthenticationResponse::from_json(second.as_bytes()).unwrap();
        let (c1, c2) = (
            challenge_of(&fixture["requestOptions"][0]),
            challenge_of(&fixture["requestOptions"][1]),
        );
        // The first assertion answers only its own challenge.
        assert_eq!(
            verify_authentication(&first, &record, &rp, &c2),
            Err(WebAuthnError::ChallengeMismatch)
        );
        // ...and does answer it.
        assert_eq!(
            verify_authentication(&first, &record, &rp, &c1).map(|_| ()),
            Ok(())
        );
        // After the second sign-in is stored, the first one replayed (with its own
        // challenge, as if the store had let it through) is a counter going backwards.
        let sign_in = verify_authentication(&second, &record, &rp, &c2)
            .unwrap()
            .conclude(true)
            .unwrap();
        record.apply(&sign_in);
        let replay = verify_authentication(&first, &record, &rp, &c1).unwrap();
        assert!(webcrypto_verify(&replay.signature_check));
        assert!(matches!(
            replay.conclude(true),
            Err(SignInRefusal::CloneSuspected { .. })
        ));
    }
}
