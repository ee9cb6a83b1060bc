//! Authenticator data (WebAuthn §6.1): what the authenticator signs about itself.
//!
//! ```text
//! rpIdHash (32) | flags (1) | signCount (4, big-endian)
//!   [ aaguid (16) | credentialIdLength (2) | credentialId | credentialPublicKey (COSE) ]  if AT
//!   [ extensions (CBOR map) ]                                                            if ED
//! ```

use minicbor::data::Type;
use minicbor::Decoder;

use super::cose::{decode_cose_key, PublicKey};
use super::WebAuthnError;
use crate::ids::CredentialId;

pub(crate) const FLAG_UP: u8 = 1 << 0;
pub(crate) const FLAG_UV: u8 = 1 << 2;
pub(crate) const FLAG_BE: u8 = 1 << 3;
pub(crate) const FLAG_BS: u8 = 1 << 4;
pub(crate) const FLAG_AT: u8 = 1 << 6;
pub(crate) const FLAG_ED: u8 = 1 << 7;

/// The credential an authenticator created, from a registration's authenticator data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AttestedCredential {
    pub aaguid: [u8; 16],
    pub credential_id: CredentialId,
    pub public_key: PublicKey,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AuthenticatorData {
    pub rp_id_hash: [u8; 32],
    pub flags: u8,
    pub sign_count: u32,
    pub attested: Option<AttestedCredential>,
}

impl AuthenticatorData {
    /// Parses the whole of `bytes`: nothing may be missing and nothing may follow. Never
    /// panics, whatever the input.
    pub(crate) fn parse(bytes: &[u8]) -> Result<Self, WebAuthnError> {
        let malformed = WebAuthnError::MalformedAuthenticatorData;
        let (rp_id_hash, rest) = bytes.split_first_chunk::<32>().ok_or(malformed)?;
        let (&flags, rest) = rest.split_first().ok_or(malformed)?;
        let (sign_count, rest) = rest.split_first_chunk::<4>().ok_or(malformed)?;

        let mut offset = 0;
        let attested = if flags & FLAG_AT != 0 {
            let (aaguid, after) = rest.split_first_chunk::<16>().ok_or(malformed)?;
            let (length, after) = after.split_first_chunk::<2>().ok_or(malformed)?;
            let length = usize::from(u16::from_be_bytes(*length));
            if length > CredentialId::MAX_LEN {
                return Err(malformed);
            }
            let (id, after) = after.split_at_checked(length).ok_or(malformed)?;
            let credential_id = CredentialId::from_bytes(id).map_err(|_| malformed)?;
            let mut d = Decoder::new(after);
            let public_key = decode_cose_key(&mut d)?;
            offset = 16 + 2 + length + d.position();
            Some(AttestedCredential {
                aaguid: *aaguid,
                credential_id,
                public_key,
            })
        } else {
            None
        };

        let tail = rest.get(offset..).ok_or(malformed)?;
        if flags & FLAG_ED != 0 {
            // Extension outputs: one CBOR map, read past and otherwise ignored.
            let mut d = Decoder::new(tail);
            if d.datatype().map_err(|_| malformed)? != Type::Map {
                return Err(malformed);
            }
            d.skip().map_err(|_| malformed)?;
            if d.position() != tail.len() {
                return Err(malformed);
            }
        } else if !tail.is_empty() {
            return Err(malformed);
        }

        if flags & FLAG_BS != 0 && flags & FLAG_BE == 0 {
            return Err(WebAuthnError::InvalidBackupFlags);
        }
        Ok(AuthenticatorData {
            rp_id_hash: *rp_id_hash,
            flags,
            sign_count: u32::from_be_bytes(*sign_count),
            attested,
        })
    }

    pub(crate) fn flag(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    /// The checks both ceremonies share: this RP, the user present and verified.
    pub(crate) fn check_rp_and_user(&self, rp_id_hash: &[u8; 32]) -> Result<(), WebAuthnError> {
        if &self.rp_id_hash != rp_id_hash {
            return Err(WebAuthnError::RpIdHashMismatch);
        }
        if !self.flag(FLAG_UP) {
            return Err(WebAuthnError::UserNotPresent);
        }
        if !self.flag(FLAG_UV) {
            return Err(WebAuthnError::UserNotVerified);
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::webauthn::cose::tests::{ec2, okp};
    use alloc::vec::Vec;

    /// Builds authenticator data; `attested` is (credential id, COSE key bytes).
    pub(crate) fn build(
        rp_id_hash: [u8; 32],
        flags: u8,
        sign_count: u32,
        attested: Option<(&[u8], &[u8])>,
        extensions: Option<&[u8]>,
    ) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&rp_id_hash);
        out.push(flags);
        out.extend_from_slice(&sign_count.to_be_bytes());
        if let Some((id, key)) = attested {
            out.extend_from_slice(&[0xaa; 16]);
            out.extend_from_slice(&(id.len() as u16).to_be_bytes());
            out.extend_from_slice(id);
            out.extend_from_slice(key);
        }
        if let Some(extensions) = extensions {
            out.extend_from_slice(extensions);
        }
        out
    }

    const UP_UV: u8 = FLAG_UP | FLAG_UV;

    #[test]
    fn parses_assertion_and_registration_data() {
        let data = build([1; 32], UP_UV, 7, None, None);
        let parsed = AuthenticatorData::parse(&data).unwrap();
        assert_eq!(parsed.rp_id_hash, [1; 32]);
        assert_eq!(parsed.sign_count, 7);
        assert!(parsed.attested.is_none());
        assert_eq!(parsed.check_rp_and_user(&[1; 32]), Ok(()));

        let key = okp(&[5; 32]);
        let data = build([1; 32], UP_UV | FLAG_AT, 0, Some((&[9; 16], &key)), None);
        let attested = AuthenticatorData::parse(&data).unwrap().attested.unwrap();
        assert_eq!(attested.aaguid, [0xaa; 16]);
        assert_eq!(attested.credential_id.as_bytes(), &[9; 16]);
        assert_eq!(attested.public_key, PublicKey::Ed25519 { x: [5; 32] });

        // Extensions after the key, e.g. {"credProtect": 2}.
        let extensions = [
            0xa1, 0x6b, b'c', b'r', b'e', b'd', b'P', b'r', b'o', b't', b'e', b'c', b't', 0x02,
        ];
        let key = ec2(&[1; 32], &[2; 32]);
        let data = build(
            [1; 32],
            UP_UV | FLAG_AT | FLAG_ED,
            1,
            Some((&[3; 64], &key)),
            Some(&extensions),
        );
        assert!(AuthenticatorData::parse(&data).is_ok());
        let data = build([1; 32], UP_UV | FLAG_ED, 1, None, Some(&extensions));
        assert!(AuthenticatorData::parse(&data).is_ok());
    }

    #[test]
    fn refuses_truncated_oversized_and_inconsistent_data() {
        let malformed = Err(WebAuthnError::MalformedAuthenticatorData);
        let key = okp(&[5; 32]);
        let good = build([1; 32], UP_UV | FLAG_AT, 0, Some((&[9; 16], &key)), None);
        for cut in 0..good.len() {
            // Cut inside the COSE key, the key is what is malformed.
            let error = AuthenticatorData::parse(&good[..cut]).unwrap_err();
            assert!(
                matches!(
                    error,
                    WebAuthnError::MalformedAuthenticatorData | WebAuthnError::MalformedPublicKey
                ),
                "cut at {cut}: {error:?}"
            );
        }
        let mut trailing = good.clone();
        trailing.push(0);
        assert_eq!(AuthenticatorData::parse(&trailing).map(|_| ()), malformed);
        let mut trailing = build([1; 32], UP_UV, 0, None, None);
        trailing.push(0xa0);
        assert_eq!(
            AuthenticatorData::parse(&trailing).map(|_| ()),
            malformed,
            "ED not set"
        );
        // ED set but no map, or not a map.
        assert_eq!(
            AuthenticatorData::parse(&build([1; 32], UP_UV | FLAG_ED, 0, None, None)).map(|_| ()),
            malformed
        );
        assert_eq!(
            AuthenticatorData::parse(&build([1; 32], UP_UV | FLAG_ED, 0, None, Some(&[0x80])))
                .map(|_| ()),
            malformed
        );
        // A credential id over 1023 bytes, or empty.
        let long = alloc::vec![7u8; 1024];
        assert_eq!(
            AuthenticatorData::parse(&build(
                [1; 32],
                UP_UV | FLAG_AT,
                0,
                Some((&long, &key)),
                None
            ))
            .map(|_| ()),
            malformed
        );
        assert_eq!(
            AuthenticatorData::parse(&build([1; 32], UP_UV | FLAG_AT, 0, Some((&[], &key)), None))
                .map(|_| ()),
            malformed
        );
        // A credential id length past the end.
        let mut lying = build([1; 32], UP_UV | FLAG_AT, 0, Some((&[9; 16], &key)), None);
        lying[37 + 16] = 0x03;
        assert_eq!(AuthenticatorData::parse(&lying).map(|_| ()), malformed);
        // BS without BE.
        assert_eq!(
            AuthenticatorData::parse(&build([1; 32], UP_UV | FLAG_BS, 0, None, None)).map(|_| ()),
            Err(WebAuthnError::InvalidBackupFlags)
        );
        assert!(AuthenticatorData::parse(&build(
            [1; 32],
            UP_UV | FLAG_BS | FLAG_BE,
            0,
            None,
            None
        ))
        .is_ok());
    }

    #[test]
    fn checks_rp_presence_and_verification() {
        let parse =
            |flags| AuthenticatorData::parse(&build([1; 32], flags, 0, None, None)).unwrap();
        assert_eq!(
            parse(UP_UV).check_rp_and_user(&[2; 32]),
            Err(WebAuthnError::RpIdHashMismatch)
        );
        assert_eq!(
            parse(FLAG_UV).check_rp_and_user(&[1; 32]),
            Err(WebAuthnError::UserNotPresent)
        );
        assert_eq!(
            parse(FLAG_UP).check_rp_and_user(&[1; 32]),
            Err(WebAuthnError::UserNotVerified)
        );
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_garbage(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..600)) {
            let _ = AuthenticatorData::parse(&bytes);
        }

        #[test]
        fn never_panics_on_garbage_after_a_valid_header(
            flags in proptest::num::u8::ANY,
            tail in proptest::collection::vec(proptest::num::u8::ANY, 0..600),
        ) {
            let mut bytes = build([1; 32], flags, 0, None, None);
            bytes.extend(tail);
            let _ = AuthenticatorData::parse(&bytes);
        }
    }
}
