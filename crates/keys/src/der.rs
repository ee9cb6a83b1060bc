//! ECDSA signature encodings. Secret-scanning reports are signed with ECDSA P-256 and
//! carry the signature in DER; WebCrypto verifies the fixed-size `r || s` form.

use core::fmt;

/// The DER signature is not a well-formed, minimally encoded P-256 ECDSA signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignatureEncodingError;

impl fmt::Display for SignatureEncodingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the signature is not a DER-encoded P-256 ECDSA signature")
    }
}

impl core::error::Error for SignatureEncodingError {}

/// Converts `SEQUENCE { INTEGER r, INTEGER s }` (strict DER) into 64 bytes `r || s`, each
/// left-padded to 32 bytes. Anything else — long-form lengths, negative or non-minimal
/// integers, values over 32 bytes, trailing bytes — is refused.
pub fn der_ecdsa_p256_to_fixed(der: &[u8]) -> Result<[u8; 64], SignatureEncodingError> {
    let (&tag, rest) = der.split_first().ok_or(SignatureEncodingError)?;
    let (&len, body) = rest.split_first().ok_or(SignatureEncodingError)?;
    if tag != 0x30 || len >= 0x80 || usize::from(len) != body.len() {
        return Err(SignatureEncodingError);
    }
    let (r, rest) = integer(body)?;
    let (s, rest) = integer(rest)?;
    if !rest.is_empty() {
        return Err(SignatureEncodingError);
    }
    let mut out = [0u8; 64];
    out[32 - r.len()..32].copy_from_slice(r);
    out[64 - s.len()..].copy_from_slice(s);
    Ok(out)
}

/// One positive DER INTEGER of at most 32 significant bytes, without its sign padding.
fn integer(input: &[u8]) -> Result<(&[u8], &[u8]), SignatureEncodingError> {
    let (&tag, rest) = input.split_first().ok_or(SignatureEncodingError)?;
    let (&len, rest) = rest.split_first().ok_or(SignatureEncodingError)?;
    let len = usize::from(len);
    if tag != 0x02 || len == 0 || len >= 0x80 {
        return Err(SignatureEncodingError);
    }
    let (value, rest) = rest.split_at_checked(len).ok_or(SignatureEncodingError)?;
    let first = value[0];
    if first & 0x80 != 0 {
        return Err(SignatureEncodingError); // negative
    }
    let value = if first == 0 && len > 1 {
        if value[1] & 0x80 == 0 {
            return Err(SignatureEncodingError); // a zero byte that was not needed
        }
        &value[1..]
    } else {
        value
    };
    if value.len() > 32 {
        return Err(SignatureEncodingError);
    }
    Ok((value, rest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn der(r: &[u8], s: &[u8]) -> Vec<u8> {
        let mut body = Vec::new();
        for value in [r, s] {
            body.push(0x02);
            body.push(value.len() as u8);
            body.extend_from_slice(value);
        }
        let mut out = alloc::vec![0x30, body.len() as u8];
        out.extend(body);
        out
    }

    #[test]
    fn converts_padded_and_short_integers() {
        let mut r = alloc::vec![0x00];
        r.extend([0xff; 32]);
        let s = [0x01, 0x02];
        let fixed = der_ecdsa_p256_to_fixed(&der(&r, &s)).unwrap();
        assert_eq!(&fixed[..32], &[0xff; 32]);
        assert_eq!(&fixed[32..62], &[0u8; 30]);
        assert_eq!(&fixed[62..], &[0x01, 0x02]);
    }

    #[test]
    fn refuses_malformed_encodings() {
        let good = der(&[0x11; 32], &[0x22; 32]);
        assert!(der_ecdsa_p256_to_fixed(&good).is_ok());
        assert!(der_ecdsa_p256_to_fixed(&[]).is_err());
        assert!(der_ecdsa_p256_to_fixed(&good[..good.len() - 1]).is_err());
        let mut trailing = good.clone();
        trailing.push(0);
        assert!(der_ecdsa_p256_to_fixed(&trailing).is_err());
        assert!(
            der_ecdsa_p256_to_fixed(&der(&[0x80; 32], &[0x01])).is_err(),
            "negative"
        );
        assert!(
            der_ecdsa_p256_to_fixed(&der(&[0x00, 0x01], &[0x01])).is_err(),
            "non-minimal"
        );
        assert!(
            der_ecdsa_p256_to_fixed(&der(&[0x01; 33], &[0x01])).is_err(),
            "too long"
        );
        assert!(
            der_ecdsa_p256_to_fixed(&der(&[], &[0x01])).is_err(),
            "empty integer"
        );
        let mut wrong_tag = good.clone();
        wrong_tag[0] = 0x31;
        assert!(der_ecdsa_p256_to_fixed(&wrong_tag).is_err());
    }
}
