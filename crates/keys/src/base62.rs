//! Base62 (`[0-9A-Za-z]`): the only alphabet used after a key's prefix, so that a
//! double-click selects a whole key and it needs no escaping in headers, URLs or shells.

use crate::random::{RandomError, RandomSource};

pub const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Each byte's digit value, or `INVALID`: one table lookup both validates and decodes,
/// which keeps parsing a key well under the cost of hashing it.
const INVALID: u8 = 0xff;
const DIGITS: [u8; 256] = {
    let mut table = [INVALID; 256];
    let mut i = 0;
    while i < ALPHABET.len() {
        table[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    table
};

/// True for the 62 bytes of the alphabet.
#[inline]
pub const fn is_base62(byte: u8) -> bool {
    DIGITS[byte as usize] != INVALID
}

/// Reads base62 digits, most significant first. `None` if any byte is not base62.
pub fn decode(digits: &[u8]) -> Option<u64> {
    digits.iter().try_fold(0u64, |value, &byte| {
        let digit = DIGITS[byte as usize];
        (digit != INVALID).then(|| value.wrapping_mul(62).wrapping_add(u64::from(digit)))
    })
}

/// Writes `value` as exactly `out.len()` base62 digits, most significant first, padded
/// with `'0'`. Digits above the width are dropped, so callers size `out` for their range.
pub fn encode_fixed(mut value: u64, out: &mut [u8]) {
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(value % 62) as usize];
        value /= 62;
    }
}

/// Fills `out` with uniformly distributed base62 characters.
///
/// Each random byte is masked to 6 bits and values 62 and 63 are rejected, so every
/// character carries log2(62) ≈ 5.95 bits with no modulo bias.
pub fn fill_random(out: &mut [u8], rng: &mut impl RandomSource) -> Result<(), RandomError> {
    let mut filled = 0;
    let mut pool = [0u8; 64];
    while filled < out.len() {
        rng.fill_bytes(&mut pool)?;
        for byte in pool {
            let index = (byte & 0x3f) as usize;
            if index < ALPHABET.len() {
                out[filled] = ALPHABET[index];
                filled += 1;
                if filled == out.len() {
                    break;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alphabet_matches_predicate() {
        for byte in 0..=255u8 {
            assert_eq!(is_base62(byte), ALPHABET.contains(&byte), "byte {byte}");
        }
    }

    #[test]
    fn decode_inverts_encode() {
        let mut out = [0u8; 6];
        for value in [0u64, 1, 61, 62, 3_843, u64::from(u32::MAX)] {
            encode_fixed(value, &mut out);
            assert_eq!(decode(&out), Some(value));
        }
        assert_eq!(decode(b"12-4"), None);
        assert_eq!(decode(b""), Some(0));
    }

    #[test]
    fn encode_fixed_pads_and_orders_digits() {
        let mut out = [0u8; 6];
        encode_fixed(0, &mut out);
        assert_eq!(&out, b"000000");
        encode_fixed(61, &mut out);
        assert_eq!(&out, b"00000z");
        encode_fixed(62, &mut out);
        assert_eq!(&out, b"000010");
        encode_fixed(u32::MAX as u64, &mut out);
        assert_eq!(&out, b"4gfFC3");
    }
}
