#![allow(dead_code)]

use aero2_keys::{RandomError, RandomSource};

/// A deterministic stand-in for the CSPRNG (splitmix64), so tests can reproduce keys.
pub struct SeededRandom(pub u64);

impl RandomSource for SeededRandom {
    fn fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), RandomError> {
        for byte in dest {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            *byte = (z ^ (z >> 31)) as u8;
        }
        Ok(())
    }
}

/// A source that always fails, to check that no key is made from a broken generator.
pub struct BrokenRandom;

impl RandomSource for BrokenRandom {
    fn fill_bytes(&mut self, _dest: &mut [u8]) -> Result<(), RandomError> {
        Err(RandomError)
    }
}

/// Whether the gate accepts a key with this record at `now`: the same check the edge and
/// the key ring make (`aero2_keys::gate::check_status`).
pub fn usable(record: &aero2_keys::KeyRecord, now: aero2_keys::UnixMillis) -> bool {
    aero2_keys::gate::check_status(&record.status, now).is_ok()
}
