//! Whole passkey ceremonies through the public API, answered by a software authenticator
//! with real keys, and the SignatureCheck verified the way WebCrypto will verify it.

mod common;

use aero2_accounts::webauthn::{
    creation_options, request_options, verify_authentication, verify_registration,
    AuthenticationResponse, Ceremony, Challenge, ChallengeError, ChallengeStore, CredentialRecord,
    PublicKey, RegistrationResponse, RelyingParty, SignInRefusal, Transport, UserEntity,
    WebAuthnError, CHALLENGE_LIFETIME_MS,
};
use aero2_accounts::{AccountId, MemberId, RandomError, RandomSource, UnixMillis, UserHandle};
use common::*;
use serde_json::Value;

const ORIGIN: &str = "https://keys.example.com";
const T0: UnixMillis = UnixMillis(1_800_000_000_000);

struct Rng(u64);

impl RandomSource for Rng {
    fn fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), RandomError> {
        for byte in dest {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            *byte = (self.0 >> 33) as u8;
        }
        Ok(())
    }
}

fn rp() -> RelyingParty {
    RelyingParty::from_origin(ORIGIN, "Aero2 Keys").unwrap()
}

struct Setup {
    rng: Rng,
    store: ChallengeStore,
    account: AccountId,
    member: MemberId,
    handle: UserHandle,
}

fn setup(seed: u64) -> Setup {
    let mut rng = Rng(seed);
    Setup {
        account: AccountId::generate(&mut rng).unwrap(),
        member: MemberId::generate(&mut rng).unwrap(),
        handle: UserHandle::generate(&mut rng).unwrap(),
        store: ChallengeStore::default(),
        rng,
    }
}

impl Setup {
    fn registration_options(&mut self, now: UnixMillis) -> (Value, Challenge) {
        let ceremony = Ceremony::Registration {
            account: self.account,
            member: self.member,
            user_handle: self.handle,
            invitation: None,
        };
        let challenge = self.store.issue(ceremony, now, &mut self.rng).unwrap();
        let user = UserEntity {
            handle: &self.handle,
            name: "ada@example.com",
            display_name: "Ada",
        };
        let options = creation_options(&rp(), &user, &challenge, &[]).to_json();
        (serde_json::from_str(&options).unwrap(), challenge)
    }

    fn sign_in_options(&mut self, now: UnixMillis) -> Value {
        let challenge = self
            .store
            .issue(Ceremony::SignIn, now, &mut self.rng)
            .unwrap();
        serde_json::from_str(&request_options(&rp(), &challenge, &[]).to_json()).unwrap()
    }

    /// The worker's registration steps: parse, take the challenge, verify.
    fn register(&mut self, json: &Value, now: UnixMillis) -> Result<CredentialRecord, String> {
        let response = RegistrationResponse::from_json(json.to_string().as_bytes())
            .map_err(|e| e.reason().to_string())?;
        let challenge = response.challenge().map_err(|e| e.reason().to_string())?;
        let ceremony = self
            .store
            .take(&challenge, now)
            .map_err(|e| format!("{e:?}"))?;
        let Ceremony::Registration { user_handle, .. } = ceremony else {
            return Err("wrong ceremony".into());
        };
        let credential = verify_registration(&response, &rp(), &challenge)
            .map_err(|e| e.reason().to_string())?;
        Ok(credential.into_record(user_handle))
    }

    /// The worker's sign-in steps, up to and including WebCrypto's verdict.
    fn sign_in(
        &mut self,
        json: &Value,
        stored: &mut CredentialRecord,
        now: UnixMillis,
    ) -> Result<(), String> {
        let response = AuthenticationResponse::from_json(json.to_string().as_bytes())
            .map_err(|e| e.reason().to_string())?;
        let challenge = response.challenge().map_err(|e| e.reason().to_string())?;
        assert_eq!(
            self.store
                .take(&challenge, now)
                .map_err(|e| format!("{e:?}"))?,
            Ceremony::SignIn
        );
        assert_eq!(
            response.credential_id(),
            &stored.id,
            "lookup by credential id"
        );
        let pending = verify_authentication(&response, stored, &rp(), &challenge)
            .map_err(|e| e.reason().to_string())?;
        let valid = webcrypto_verify(&pending.signature_check);
        let sign_in = pending
            .conclude(valid)
            .map_err(|e| e.reason().to_string())?;
        assert_eq!(sign_in.user_handle, stored.user_handle);
        assert!(stored.apply(&sign_in));
        Ok(())
    }
}

#[test]
fn es256_and_ed25519_passkeys_register_and_sign_in() {
    for (seed, key, algorithm) in [(1, Key::es256(7), -7), (2, Key::ed25519(8), -8)] {
        let mut s = setup(seed);
        let mut authenticator = SoftAuthenticator::new(key, ORIGIN);
        let (options, _) = s.registration_options(T0);
        assert_eq!(options["pubKeyCredParams"][0]["alg"], -8, "EdDSA first");
        let created = authenticator.create(&options, &Tweaks::default());
        let mut record = s.register(&created, T0).unwrap();
        assert_eq!(record.public_key.algorithm().cose(), algorithm);
        assert_eq!(record.user_handle, s.handle);
        assert_eq!(record.id.as_bytes(), authenticator.credential_id.as_slice());
        assert_eq!(
            record.transports,
            vec![Transport::Internal, Transport::Hybrid]
        );
        assert!(record.backup_eligible && record.backed_up);
        assert_eq!(record.aaguid, [0x11; 16]);
        assert_eq!(record.sign_count, 0);

        // The record goes to storage and comes back.
        let stored = serde_json::to_string(&record).unwrap();
        record = serde_json::from_str(&stored).unwrap();

        for round in 1..=3 {
            let options = s.sign_in_options(T0);
            assert_eq!(options["allowCredentials"], serde_json::json!([]));
            let asserted = authenticator.get(&options, &Tweaks::default());
            s.sign_in(&asserted, &mut record, T0).unwrap();
            assert_eq!(record.sign_count, round);
        }
        assert!(s.store.is_empty(), "every challenge was used up");
    }
}

#[test]
fn the_signature_check_is_exactly_what_webcrypto_verifies() {
    for key in [Key::es256(3), Key::ed25519(4)] {
        let mut s = setup(3);
        let mut authenticator = SoftAuthenticator::new(key, ORIGIN);
        let (options, _) = s.registration_options(T0);
        let record = s
            .register(&authenticator.create(&options, &Tweaks::default()), T0)
            .unwrap();
        let options = s.sign_in_options(T0);
        let asserted = authenticator.get(&options, &Tweaks::default());
        let response = AuthenticationResponse::from_json(asserted.to_string().as_bytes()).unwrap();
        let challenge = response.challenge().unwrap();
        s.store.take(&challenge, T0).unwrap();
        let pending = verify_authentication(&response, &record, &rp(), &challenge).unwrap();
        let check = &pending.signature_check;
        // signed_data = authenticatorData ‖ SHA-256(clientDataJSON)
        let auth_data = unb64(asserted["response"]["authenticatorData"].as_str().unwrap());
        let client_data = unb64(asserted["response"]["clientDataJSON"].as_str().unwrap());
        let mut expected = auth_data.clone();
        expected.extend_from_slice(&<sha2::Sha256 as sha2::Digest>::digest(&client_data));
        assert_eq!(check.signed_data, expected);
        assert_eq!(check.signature.len(), 64, "r ‖ s, or the Ed25519 signature");
        assert_eq!(check.public_key, record.public_key.to_jwk());
        assert!(webcrypto_verify(check));

        // One bit changed anywhere and WebCrypto says no.
        for field in [0, 1] {
            let mut bad = check.clone();
            let bytes = if field == 0 {
                &mut bad.signed_data
            } else {
                &mut bad.signature
            };
            bytes[5] ^= 1;
            assert!(!webcrypto_verify(&bad));
        }
        assert_eq!(
            pending.conclude(false),
            Err(SignInRefusal::SignatureInvalid)
        );
    }
}

#[test]
fn a_challenge_answers_once_and_for_five_minutes() {
    let mut s = setup(4);
    let mut authenticator = SoftAuthenticator::new(Key::ed25519(1), ORIGIN);
    let (options, _) = s.registration_options(T0);
    let created = authenticator.create(&options, &Tweaks::default());
    let mut record = s.register(&created, T0).unwrap();
    assert_eq!(
        s.register(&created, T0),
        Err("Unknown".to_string()),
        "replayed registration"
    );

    // Sign-in answered 1 ms before expiry, then a replay of the same answer.
    let options = s.sign_in_options(T0);
    let asserted = authenticator.get(&options, &Tweaks::default());
    let last_ms = UnixMillis(T0.0 + CHALLENGE_LIFETIME_MS - 1);
    s.sign_in(&asserted, &mut record, last_ms).unwrap();
    assert_eq!(
        s.sign_in(&asserted, &mut record, last_ms),
        Err("Unknown".into())
    );

    // Answered exactly at expiry.
    let options = s.sign_in_options(T0);
    let asserted = authenticator.get(&options, &Tweaks::default());
    let at_expiry = UnixMillis(T0.0 + CHALLENGE_LIFETIME_MS);
    assert_eq!(
        s.sign_in(&asserted, &mut record, at_expiry),
        Err("Expired".into())
    );

    // A challenge this store never issued.
    let stranger = Challenge::generate(&mut Rng(99)).unwrap();
    assert_eq!(s.store.take(&stranger, T0), Err(ChallengeError::Unknown));
}

fn registration_error(t: Tweaks, key: Key) -> WebAuthnError {
    let mut s = setup(5);
    let mut authenticator = SoftAuthenticator::new(key, ORIGIN);
    let (options, challenge) = s.registration_options(T0);
    let created = authenticator.create(&options, &t);
    let response = RegistrationResponse::from_json(created.to_string().as_bytes()).unwrap();
    verify_registration(&response, &rp(), &challenge).unwrap_err()
}

#[test]
fn hostile_registrations_are_refused_with_their_reason() {
    let cases: Vec<(Tweaks, WebAuthnError)> = vec![
        (
            Tweaks {
                origin: Some("https://evil.example".into()),
                ..Default::default()
            },
            WebAuthnError::OriginMismatch,
        ),
        (
            Tweaks {
                origin: Some("https://keys.example.com.evil.example".into()),
                ..Default::default()
            },
            WebAuthnError::OriginMismatch,
        ),
        (
            Tweaks {
                origin: Some("http://keys.example.com".into()),
                ..Default::default()
            },
            WebAuthnError::OriginMismatch,
        ),
        (
            Tweaks {
                cross_origin: Some(true),
                ..Default::default()
            },
            WebAuthnError::CrossOrigin,
        ),
        (
            Tweaks {
                ceremony_type: Some("webauthn.get".into()),
                ..Default::default()
            },
            WebAuthnError::WrongCeremonyType,
        ),
        (
            Tweaks {
                challenge: Some(b64(&[0; 32])),
                ..Default::default()
            },
            WebAuthnError::ChallengeMismatch,
        ),
        (
            Tweaks {
                rp_id: Some("example.com".into()),
                ..Default::default()
            },
            WebAuthnError::RpIdHashMismatch,
        ),
        (
            Tweaks {
                rp_id: Some("evil.example".into()),
                ..Default::default()
            },
            WebAuthnError::RpIdHashMismatch,
        ),
        (
            Tweaks {
                flags: Some(UP | AT),
                ..Default::default()
            },
            WebAuthnError::UserNotVerified,
        ),
        (
            Tweaks {
                flags: Some(UV | AT),
                ..Default::default()
            },
            WebAuthnError::UserNotPresent,
        ),
        (
            Tweaks {
                flags: Some(UP | UV | AT | BS),
                ..Default::default()
            },
            WebAuthnError::InvalidBackupFlags,
        ),
        (
            Tweaks {
                raw_id: Some(b64(&[1; 16])),
                id: Some(b64(&[1; 16])),
                ..Default::default()
            },
            WebAuthnError::CredentialIdMismatch,
        ),
        (
            Tweaks {
                id: Some(b64(&[1; 16])),
                ..Default::default()
            },
            WebAuthnError::CredentialIdMismatch,
        ),
    ];
    for (tweaks, error) in cases {
        assert_eq!(registration_error(tweaks, Key::es256(9)), error);
    }
    assert_eq!(
        registration_error(Tweaks::default(), Key::Rs256),
        WebAuthnError::UnsupportedAlgorithm(-257)
    );
    // AT missing: the authenticator data then has trailing key bytes, or none at all.
    assert_eq!(
        registration_error(
            Tweaks {
                flags: Some(UP | UV),
                ..Default::default()
            },
            Key::ed25519(1)
        ),
        WebAuthnError::MalformedAuthenticatorData
    );
    // Any attestation format is accepted, its statement ignored.
    let mut s = setup(6);
    let (options, _) = s.registration_options(T0);
    let created = SoftAuthenticator::new(Key::es256(2), ORIGIN).create(
        &options,
        &Tweaks {
            format: Some("packed".into()),
            ..Default::default()
        },
    );
    assert!(s.register(&created, T0).is_ok());
}

#[test]
fn truncated_and_oversized_responses_are_refused() {
    let mut s = setup(7);
    let mut authenticator = SoftAuthenticator::new(Key::es256(5), ORIGIN);
    let (options, challenge) = s.registration_options(T0);
    let created = authenticator.create(&options, &Tweaks::default());
    let object = unb64(created["response"]["attestationObject"].as_str().unwrap());
    for cut in 0..object.len() {
        let mut truncated = created.clone();
        truncated["response"]["attestationObject"] = b64(&object[..cut]).into();
        let response = RegistrationResponse::from_json(truncated.to_string().as_bytes()).unwrap();
        let error = verify_registration(&response, &rp(), &challenge).unwrap_err();
        assert!(
            matches!(
                error,
                WebAuthnError::MalformedAttestationObject
                    | WebAuthnError::MalformedAuthenticatorData
                    | WebAuthnError::MalformedPublicKey
            ),
            "cut at {cut}: {error:?}"
        );
    }
    let mut oversized = created.clone();
    oversized["response"]["attestationObject"] = b64(&vec![0xa0; 40 * 1024]).into();
    assert_eq!(
        RegistrationResponse::from_json(oversized.to_string().as_bytes()).unwrap_err(),
        WebAuthnError::MalformedResponse
    );
    let mut huge = created.clone();
    huge["padding"] = "x".repeat(130 * 1024).into();
    assert_eq!(
        RegistrationResponse::from_json(huge.to_string().as_bytes()).unwrap_err(),
        WebAuthnError::MalformedResponse
    );
    for broken in [
        "",
        "null",
        "{}",
        r#"{"id":"AA","rawId":"AA","type":"public-key","response":{}}"#,
        r#"{"id":"AA","rawId":"AA","type":"public-key","response":{"clientDataJSON":"%%","attestationObject":"oA"}}"#,
    ] {
        assert_eq!(
            RegistrationResponse::from_json(broken.as_bytes()).unwrap_err(),
            WebAuthnError::MalformedResponse,
            "{broken}"
        );
    }
    let mut not_public_key = created.clone();
    not_public_key["type"] = "password".into();
    let response = RegistrationResponse::from_json(not_public_key.to_string().as_bytes()).unwrap();
    assert_eq!(
        verify_registration(&response, &rp(), &challenge).unwrap_err(),
        WebAuthnError::NotPublicKey
    );
}

/// Registers a credential and returns what sign-in tests need.
fn registered(key: Key, seed: u64) -> (Setup, SoftAuthenticator, CredentialRecord) {
    let mut s = setup(seed);
    let mut authenticator = SoftAuthenticator::new(key, ORIGIN);
    let (options, _) = s.registration_options(T0);
    let record = s
        .register(&authenticator.create(&options, &Tweaks::default()), T0)
        .unwrap();
    (s, authenticator, record)
}

fn sign_in_error(key: Key, t: Tweaks) -> WebAuthnError {
    let (mut s, mut authenticator, record) = registered(key, 8);
    let options = s.sign_in_options(T0);
    let challenge = Challenge::from_base64url(options["challenge"].as_str().unwrap()).unwrap();
    let asserted = authenticator.get(&options, &t);
    let response = AuthenticationResponse::from_json(asserted.to_string().as_bytes()).unwrap();
    verify_authentication(&response, &record, &rp(), &challenge).unwrap_err()
}

#[test]
fn hostile_sign_ins_are_refused_with_their_reason() {
    let cases: Vec<(Tweaks, WebAuthnError)> = vec![
        (
            Tweaks {
                origin: Some("https://evil.example".into()),
                ..Default::default()
            },
            WebAuthnError::OriginMismatch,
        ),
        (
            Tweaks {
                cross_origin: Some(true),
                ..Default::default()
            },
            WebAuthnError::CrossOrigin,
        ),
        (
            Tweaks {
                ceremony_type: Some("webauthn.create".into()),
                ..Default::default()
            },
            WebAuthnError::WrongCeremonyType,
        ),
        (
            Tweaks {
                challenge: Some(b64(&[1; 32])),
                ..Default::default()
            },
            WebAuthnError::ChallengeMismatch,
        ),
        (
            Tweaks {
                rp_id: Some("example.com".into()),
                ..Default::default()
            },
            WebAuthnError::RpIdHashMismatch,
        ),
        (
            Tweaks {
                flags: Some(UP | BE | BS),
                ..Default::default()
            },
            WebAuthnError::UserNotVerified,
        ),
        (
            Tweaks {
                flags: Some(UV | BE | BS),
                ..Default::default()
            },
            WebAuthnError::UserNotPresent,
        ),
        (
            Tweaks {
                flags: Some(UP | UV),
                ..Default::default()
            },
            WebAuthnError::InvalidBackupFlags,
        ),
        (
            Tweaks {
                user_handle: Some(None),
                ..Default::default()
            },
            WebAuthnError::MissingUserHandle,
        ),
        (
            Tweaks {
                user_handle: Some(Some(b64(&[1; 16]))),
                ..Default::default()
            },
            WebAuthnError::MissingUserHandle,
        ),
        (
            Tweaks {
                user_handle: Some(Some(b64(&[1; 32]))),
                ..Default::default()
            },
            WebAuthnError::UserHandleMismatch,
        ),
        (
            Tweaks {
                raw_id: Some(b64(&[2; 32])),
                id: Some(b64(&[2; 32])),
                ..Default::default()
            },
            WebAuthnError::CredentialIdMismatch,
        ),
    ];
    for (tweaks, error) in cases {
        assert_eq!(sign_in_error(Key::ed25519(3), tweaks), error);
    }
}

#[test]
fn malformed_signatures_are_refused_before_webcrypto() {
    for (key, signature) in [
        (Key::es256(1), vec![0x30, 0x03, 0x02, 0x01, 0x01]), // s missing
        (Key::es256(1), vec![0; 64]), // raw r‖s is not what authenticators send
        (Key::ed25519(1), vec![0; 63]),
        (Key::ed25519(1), vec![0; 65]),
    ] {
        let (mut s, mut authenticator, record) = registered(key, 9);
        let options = s.sign_in_options(T0);
        let challenge = Challenge::from_base64url(options["challenge"].as_str().unwrap()).unwrap();
        let mut asserted = authenticator.get(&options, &Tweaks::default());
        asserted["response"]["signature"] = b64(&signature).into();
        let response = AuthenticationResponse::from_json(asserted.to_string().as_bytes()).unwrap();
        assert_eq!(
            verify_authentication(&response, &record, &rp(), &challenge).unwrap_err(),
            WebAuthnError::MalformedSignature
        );
    }
}

#[test]
fn truncated_padded_and_oversized_assertions_are_refused() {
    let (mut s, mut authenticator, record) = registered(Key::es256(2), 14);
    let options = s.sign_in_options(T0);
    let challenge = Challenge::from_base64url(options["challenge"].as_str().unwrap()).unwrap();
    let asserted = authenticator.get(&options, &Tweaks::default());
    let auth_data = unb64(asserted["response"]["authenticatorData"].as_str().unwrap());
    let verify = |auth_data: &[u8]| {
        let mut changed = asserted.clone();
        changed["response"]["authenticatorData"] = b64(auth_data).into();
        AuthenticationResponse::from_json(changed.to_string().as_bytes())
            .and_then(|response| verify_authentication(&response, &record, &rp(), &challenge))
            .map(|_| ())
    };
    assert_eq!(verify(&auth_data), Ok(()));
    for cut in 0..auth_data.len() {
        assert_eq!(
            verify(&auth_data[..cut]),
            Err(WebAuthnError::MalformedAuthenticatorData),
            "cut at {cut}"
        );
    }
    let mut padded = auth_data.clone();
    padded.extend_from_slice(&[0; 100]);
    assert_eq!(
        verify(&padded),
        Err(WebAuthnError::MalformedAuthenticatorData)
    );
    let mut oversized = auth_data.clone();
    oversized.resize(9 * 1024, 0);
    assert_eq!(verify(&oversized), Err(WebAuthnError::MalformedResponse));
    // AT set in an assertion: credential data where none belongs.
    let mut with_at = auth_data.clone();
    with_at[32] |= AT;
    assert!(verify(&with_at).is_err());
}

#[test]
fn a_counter_that_does_not_grow_is_a_suspected_clone() {
    let (mut s, mut authenticator, mut record) = registered(Key::es256(6), 10);
    let options = s.sign_in_options(T0);
    s.sign_in(
        &authenticator.get(&options, &Tweaks::default()),
        &mut record,
        T0,
    )
    .unwrap();
    assert_eq!(record.sign_count, 1);
    authenticator.sign_count = 9;
    let options = s.sign_in_options(T0);
    s.sign_in(
        &authenticator.get(&options, &Tweaks::default()),
        &mut record,
        T0,
    )
    .unwrap();
    assert_eq!(record.sign_count, 10);

    // The clone is behind: 5 ≤ 10, and 10 = 10.
    for replayed in [4, 9] {
        authenticator.sign_count = replayed;
        let options = s.sign_in_options(T0);
        let error = s.sign_in(
            &authenticator.get(&options, &Tweaks::default()),
            &mut record,
            T0,
        );
        assert_eq!(
            error,
            Err("clone_suspected".into()),
            "counter {}",
            replayed + 1
        );
        assert_eq!(record.sign_count, 10, "nothing stored");
    }
    // Zero received after a non-zero one.
    let options = s.sign_in_options(T0);
    let asserted = authenticator.get(
        &options,
        &Tweaks {
            sign_count: Some(0),
            ..Default::default()
        },
    );
    assert_eq!(
        s.sign_in(&asserted, &mut record, T0),
        Err("clone_suspected".into())
    );

    // The typed outcome, and only for a valid signature.
    let options = s.sign_in_options(T0);
    let challenge = Challenge::from_base64url(options["challenge"].as_str().unwrap()).unwrap();
    authenticator.sign_count = 2;
    let asserted = authenticator.get(&options, &Tweaks::default());
    let response = AuthenticationResponse::from_json(asserted.to_string().as_bytes()).unwrap();
    let pending = verify_authentication(&response, &record, &rp(), &challenge).unwrap();
    assert!(webcrypto_verify(&pending.signature_check));
    assert_eq!(
        pending.clone().conclude(true),
        Err(SignInRefusal::CloneSuspected {
            stored: 10,
            received: 3
        })
    );
    assert_eq!(
        pending.conclude(false),
        Err(SignInRefusal::SignatureInvalid)
    );
}

#[test]
fn authenticators_without_a_counter_always_send_zero() {
    let (mut s, mut authenticator, mut record) = registered(Key::ed25519(7), 11);
    authenticator.step = 0;
    for _ in 0..3 {
        let options = s.sign_in_options(T0);
        s.sign_in(
            &authenticator.get(&options, &Tweaks::default()),
            &mut record,
            T0,
        )
        .unwrap();
        assert_eq!(record.sign_count, 0);
    }
}

#[test]
fn another_credentials_record_is_refused() {
    let (mut s, mut authenticator, _) = registered(Key::ed25519(8), 12);
    let (_, _, other_record) = registered(Key::ed25519(9), 13);
    let options = s.sign_in_options(T0);
    let challenge = Challenge::from_base64url(options["challenge"].as_str().unwrap()).unwrap();
    let asserted = authenticator.get(&options, &Tweaks::default());
    let response = AuthenticationResponse::from_json(asserted.to_string().as_bytes()).unwrap();
    assert_eq!(
        verify_authentication(&response, &other_record, &rp(), &challenge).unwrap_err(),
        WebAuthnError::CredentialIdMismatch
    );
    // The same key registered under a record with another member's handle.
    let mut record = s.register_again(&mut authenticator);
    record.user_handle = UserHandle::from_bytes([3; 32]);
    assert_eq!(
        verify_authentication(&response, &record, &rp(), &challenge).unwrap_err(),
        WebAuthnError::UserHandleMismatch
    );
    // A registration signature check against an Ed25519 key in ES256 clothing is
    // impossible: the algorithm is the stored key's, never the response's.
    assert!(matches!(record.public_key, PublicKey::Ed25519 { .. }));
}

impl Setup {
    fn register_again(&mut self, authenticator: &mut SoftAuthenticator) -> CredentialRecord {
        let (options, _) = self.registration_options(T0);
        let handle = authenticator.user_handle.clone();
        let record = self
            .register(&authenticator.create(&options, &Tweaks::default()), T0)
            .unwrap();
        authenticator.user_handle = handle;
        record
    }
}

mod garbage {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        /// Any bytes: parsing and verifying never panic.
        #[test]
        fn arbitrary_json_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            if let Ok(response) = RegistrationResponse::from_json(&bytes) {
                let _ = verify_registration(&response, &rp(), &Challenge::from_bytes([0; 32]));
            }
            let _ = AuthenticationResponse::from_json(&bytes);
        }

        /// A real registration with its attestation object mutated (bytes flipped,
        /// inserted, removed): never a panic, and whatever passes still names the
        /// credential id of `rawId`. (Attestation `none` signs nothing: a flipped bit in
        /// the key's coordinates gives another valid key; TLS protects that channel.)
        #[test]
        fn mutated_attestation_objects_never_panic(
            edits in proptest::collection::vec((any::<usize>(), any::<u8>(), 0u8..3), 1..8),
        ) {
            let mut s = setup(20);
            let mut authenticator = SoftAuthenticator::new(Key::es256(4), ORIGIN);
            let (options, challenge) = s.registration_options(T0);
            let mut created = authenticator.create(&options, &Tweaks::default());
            let mut object = unb64(created["response"]["attestationObject"].as_str().unwrap());
            for (at, byte, op) in edits {
                let at = at % (object.len() + 1);
                match op {
                    0 if at < object.len() => object[at] ^= byte | 1,
                    1 => object.insert(at, byte),
                    _ if at < object.len() => { object.remove(at); }
                    _ => {}
                }
            }
            created["response"]["attestationObject"] = b64(&object).into();
            let response = RegistrationResponse::from_json(created.to_string().as_bytes()).unwrap();
            if let Ok(credential) = verify_registration(&response, &rp(), &challenge) {
                let genuine = SoftAuthenticator::new(Key::es256(4), ORIGIN);
                prop_assert_eq!(credential.id.as_bytes(), genuine.credential_id.as_slice());
            }
        }

        /// A real assertion with its authenticator data or signature mutated: never a
        /// panic, and never a SignatureCheck that verifies unless the signed bytes are
        /// the original ones.
        #[test]
        fn mutated_assertions_never_verify(
            at in any::<usize>(),
            byte in 1u8..=255,
            in_signature in any::<bool>(),
            ed in any::<bool>(),
        ) {
            let key = if ed { Key::ed25519(5) } else { Key::es256(5) };
            let (mut s, mut authenticator, record) = registered(key, 21);
            let options = s.sign_in_options(T0);
            let challenge = Challenge::from_base64url(options["challenge"].as_str().unwrap()).unwrap();
            let mut asserted = authenticator.get(&options, &Tweaks::default());
            let field = if in_signature { "signature" } else { "authenticatorData" };
            let mut bytes = unb64(asserted["response"][field].as_str().unwrap());
            let at = at % bytes.len();
            bytes[at] ^= byte;
            asserted["response"][field] = b64(&bytes).into();
            let response = AuthenticationResponse::from_json(asserted.to_string().as_bytes()).unwrap();
            if let Ok(pending) = verify_authentication(&response, &record, &rp(), &challenge) {
                prop_assert!(!webcrypto_verify(&pending.signature_check));
            }
        }
    }
}
