//! Key parsing never panics, and whatever it accepts round-trips: the same kind,
//! environment and application as its prefix states, and a storage id that matches.
#![no_main]

use aero2_keys::{gate::key_from_authorization, identify, parse, ApiKey, StorageId};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(parsed) = parse(&text) {
        assert!(text.starts_with(parsed.kind.prefix(parsed.environment)));
        assert_eq!(&text[8..24], parsed.application_id.body());
        let identity = identify(&text).unwrap();
        assert_eq!(identity.storage_id, StorageId::of_key_text(&text));
        let key = ApiKey::parse(&text).unwrap();
        assert_eq!(key.hint().chars().count(), 8 + 1 + 4);
        assert!(!format!("{key:?}").contains(&text[24..text.len() - 4]));
    }
    let _ = key_from_authorization(Some(&text));
    let _ = key_from_authorization(Some(&format!("Bearer {text}")));
});
