//! Base64url, the encoding of every binary value in WebAuthn's JSON forms.

use alloc::string::String;
use alloc::vec::Vec;

use base64::alphabet::URL_SAFE;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;

/// Unpadded, as `toJSON()` and the `parse…FromJSON` functions use it, both ways: padding
/// and non-canonical trailing bits are refused, so each value has exactly one text.
const ENGINE: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone),
);

pub(crate) fn encode(bytes: &[u8]) -> String {
    ENGINE.encode(bytes)
}

/// Decodes base64url of at most `max_bytes` decoded bytes. The length is checked before
/// decoding, so an oversized input costs nothing.
pub(crate) fn decode(text: &str, max_bytes: usize) -> Option<Vec<u8>> {
    // 4 characters for every 3 bytes.
    if text.len() > max_bytes.div_ceil(3).saturating_mul(4) {
        return None;
    }
    let bytes = ENGINE.decode(text).ok()?;
    (bytes.len() <= max_bytes).then_some(bytes)
}

/// Decodes base64url that must hold exactly `N` bytes.
pub(crate) fn decode_array<const N: usize>(text: &str) -> Option<[u8; N]> {
    decode(text, N)?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_without_padding() {
        assert_eq!(encode(&[0xfb, 0xff]), "-_8");
        assert_eq!(decode("-_8", 2), Some(alloc::vec![0xfb, 0xff]));
        assert_eq!(decode("-_8=", 2), None, "padding");
        assert_eq!(decode("", 2), Some(alloc::vec![]));
    }

    #[test]
    fn refuses_other_alphabets_bad_bits_and_oversize() {
        assert_eq!(decode("+/8", 2), None, "standard alphabet");
        assert_eq!(decode("-_9", 2), None, "non-zero trailing bits");
        assert_eq!(decode("AAAA", 2), None, "3 bytes where 2 are allowed");
        assert_eq!(decode("A", 10), None);
        assert_eq!(decode_array::<2>("-_8"), Some([0xfb, 0xff]));
        assert_eq!(decode_array::<3>("-_8"), None);
    }
}
