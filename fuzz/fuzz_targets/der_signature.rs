//! The DER signature decoder for secret-scanning reports: never panics, and anything it
//! accepts re-encodes to the same bytes (strict DER has one encoding per value).
#![no_main]

use aero2_keys::der::der_ecdsa_p256_to_fixed;
use libfuzzer_sys::fuzz_target;

fn encode_integer(value: &[u8]) -> Vec<u8> {
    let mut bytes: Vec<u8> = value.iter().copied().skip_while(|&b| b == 0).collect();
    if bytes.is_empty() || bytes[0] & 0x80 != 0 {
        bytes.insert(0, 0);
    }
    let mut out = vec![0x02, bytes.len() as u8];
    out.extend(bytes);
    out
}

fuzz_target!(|data: &[u8]| {
    if let Ok(fixed) = der_ecdsa_p256_to_fixed(data) {
        let mut body = encode_integer(&fixed[..32]);
        body.extend(encode_integer(&fixed[32..]));
        let mut der = vec![0x30, body.len() as u8];
        der.extend(body);
        assert_eq!(der, data);
    }
});
