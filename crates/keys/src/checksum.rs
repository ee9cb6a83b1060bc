//! The 6-character base62 CRC32 at the end of every key.
//!
//! It lets anyone reject a mistyped or truncated key without a storage lookup, and it
//! gives secret scanners a cheap way to drop false positives. It is not a MAC: it says
//! nothing about whether a key was issued, only whether it is well-formed.

use crate::base62;

/// Base62 characters of the trailing checksum.
pub const CHECKSUM_LEN: usize = 6;

// CRC-32/ISO-HDLC (the zlib/PNG CRC) in one of three sizes. All three compute the same
// value; they trade code size for speed.

/// Native: slice-by-16 (16 KiB of tables), about eight times faster than one table.
#[cfg(all(not(feature = "compact-checksum"), not(target_arch = "wasm32")))]
const CRC32: crc::Crc<u32, crc::Table<16>> =
    crc::Crc::<u32, crc::Table<16>>::new(&crc::CRC_32_ISO_HDLC);

/// The worker (wasm32): one 1 KiB table; the bundle's size matters more there.
#[cfg(all(not(feature = "compact-checksum"), target_arch = "wasm32"))]
const CRC32: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

/// The browser package: bit by bit, no table, about 1 KB less code. It checks one key
/// at a time and has a 10 KB budget.
#[cfg(feature = "compact-checksum")]
const CRC32: crc::Crc<u32, crc::NoTable> =
    crc::Crc::<u32, crc::NoTable>::new(&crc::CRC_32_ISO_HDLC);

/// Whether `stated` (6 base62 characters) is the checksum of `payload`. Decodes the stated
/// value rather than encoding the computed one: multiplications instead of divisions.
pub(crate) fn matches(payload: &[u8], stated: &[u8]) -> bool {
    base62::decode(stated) == Some(u64::from(CRC32.checksum(payload)))
}

pub(crate) fn compute(data: &[u8]) -> [u8; CHECKSUM_LEN] {
    let mut out = [0u8; CHECKSUM_LEN];
    base62::encode_fixed(u64::from(CRC32.checksum(data)), &mut out);
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn uses_the_standard_crc32() {
        // The check value of CRC-32/ISO-HDLC is 0xCBF43926 for "123456789".
        assert_eq!(super::CRC32.checksum(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn six_base62_digits_cover_every_crc32() {
        assert!(62u64.pow(6) > u64::from(u32::MAX));
    }
}
