mod common;

use aero2_keys::{
    parse, ApiKey, ApplicationId, Environment, KeyId, KeyKind, ParseError, RandomError, StorageId,
    SystemRandom, KEY_PATTERN, SECRET_KEY_PATTERN,
};
use common::{BrokenRandom, SeededRandom};

fn app() -> ApplicationId {
    ApplicationId::parse("app_0123456789abcdef").unwrap()
}

fn new_key(kind: KeyKind, environment: Environment) -> ApiKey {
    ApiKey::generate(kind, environment, app(), &mut SeededRandom(7)).unwrap()
}

#[test]
fn generated_keys_have_the_documented_shape() {
    for kind in KeyKind::ALL {
        for environment in [Environment::Live, Environment::Test] {
            let key = new_key(kind, environment);
            let text = key.expose_secret();
            assert!(text.starts_with(kind.prefix(environment)));
            assert_eq!(text.len(), kind.key_len());
            assert!(text[8..].bytes().all(|b| b.is_ascii_alphanumeric()));
            assert_eq!(&text[8..24], "0123456789abcdef");
            let parsed = parse(text).unwrap();
            assert_eq!(parsed.kind, kind);
            assert_eq!(parsed.environment, environment);
            assert_eq!(parsed.application_id, app());
        }
    }
    assert_eq!(KeyKind::Publishable.key_len(), 46);
    assert_eq!(KeyKind::Secret.key_len(), 62);
}

#[test]
fn secret_keys_carry_at_least_190_bits_of_randomness() {
    // 62 - prefix 8 - application id 16 - checksum 6 = 32 random base62 characters.
    let random_chars = KeyKind::Secret.key_len() - 8 - 16 - 6;
    let bits = random_chars as f64 * 62f64.log2();
    assert!(bits >= 190.0, "{bits} bits");
}

#[test]
fn system_random_gives_distinct_keys() {
    let a = ApiKey::generate(KeyKind::Secret, Environment::Live, app(), &mut SystemRandom).unwrap();
    let b = ApiKey::generate(KeyKind::Secret, Environment::Live, app(), &mut SystemRandom).unwrap();
    assert_ne!(a.expose_secret(), b.expose_secret());
    assert_ne!(a.storage_id(), b.storage_id());
    let p1 = ApiKey::generate(
        KeyKind::Publishable,
        Environment::Live,
        app(),
        &mut SystemRandom,
    )
    .unwrap();
    let p2 = ApiKey::generate(
        KeyKind::Publishable,
        Environment::Live,
        app(),
        &mut SystemRandom,
    )
    .unwrap();
    assert_ne!(p1.expose_secret(), p2.expose_secret());
}

#[test]
fn a_broken_generator_yields_an_error_not_a_key() {
    let result = ApiKey::generate(KeyKind::Secret, Environment::Live, app(), &mut BrokenRandom);
    assert_eq!(result.unwrap_err(), RandomError);
    assert_eq!(KeyId::generate(&mut BrokenRandom), Err(RandomError));
}

#[test]
fn parse_reports_each_problem_exactly() {
    let valid = new_key(KeyKind::Secret, Environment::Live);
    let text = valid.expose_secret();
    assert_eq!(parse(""), Err(ParseError::Empty));
    assert_eq!(parse("sk_prod_abc"), Err(ParseError::UnknownPrefix));
    assert_eq!(parse("sk_live"), Err(ParseError::UnknownPrefix));
    assert_eq!(parse("Bearer sk_live_x"), Err(ParseError::UnknownPrefix));
    assert_eq!(
        parse(&text[..61]),
        Err(ParseError::WrongLength {
            kind: KeyKind::Secret,
            expected: 62,
            actual: 61
        })
    );
    assert_eq!(
        parse(&format!("{text} ")),
        Err(ParseError::WrongLength {
            kind: KeyKind::Secret,
            expected: 62,
            actual: 63
        })
    );
    let mut dashed = text.to_owned();
    dashed.replace_range(20..21, "-");
    assert_eq!(
        parse(&dashed),
        Err(ParseError::BadCharacter { position: 20 })
    );
    // A Cyrillic 'а' (two bytes in UTF-8) in place of one character: same character count.
    let mut lookalike = text.to_owned();
    lookalike.replace_range(30..31, "а");
    assert_eq!(
        parse(&lookalike),
        Err(ParseError::BadCharacter { position: 30 })
    );
    // A zero-width joiner added: one character too many.
    let mut zwj = text.to_owned();
    zwj.insert(40, '\u{200D}');
    assert_eq!(
        parse(&zwj),
        Err(ParseError::WrongLength {
            kind: KeyKind::Secret,
            expected: 62,
            actual: 63
        })
    );
    let mut flipped = text.to_owned();
    let replacement = if &text[30..31] == "A" { "B" } else { "A" };
    flipped.replace_range(30..31, replacement);
    assert_eq!(parse(&flipped), Err(ParseError::BadChecksum));
}

#[test]
fn parse_survives_huge_and_non_ascii_input() {
    let huge = format!("sk_live_{}", "a".repeat(4 << 20));
    assert!(matches!(
        parse(&huge),
        Err(ParseError::WrongLength { actual, .. }) if actual == (4 << 20) + 8
    ));
    assert_eq!(parse(&"é".repeat(1 << 20)), Err(ParseError::UnknownPrefix));
    assert_eq!(
        parse("sk_live_é"),
        Err(ParseError::WrongLength {
            kind: KeyKind::Secret,
            expected: 62,
            actual: 9
        })
    );
    assert_eq!(parse("\0\0\0\0\0\0\0\0"), Err(ParseError::UnknownPrefix));
}

#[test]
fn error_codes_are_stable() {
    assert_eq!(ParseError::Empty.code(), "malformed_key");
    assert_eq!(ParseError::UnknownPrefix.code(), "malformed_key");
    assert_eq!(
        ParseError::BadCharacter { position: 9 }.code(),
        "malformed_key"
    );
    assert_eq!(ParseError::BadChecksum.code(), "bad_checksum");
    assert_eq!(
        ParseError::BadCharacter { position: 9 }.reason(),
        "bad_character"
    );
}

#[test]
fn debug_and_display_never_show_the_secret_part() {
    let key = new_key(KeyKind::Secret, Environment::Live);
    let text = key.expose_secret();
    let last4 = &text[text.len() - 4..];
    let hint = format!("sk_live_…{last4}");
    assert_eq!(key.hint(), hint);
    assert_eq!(format!("{key}"), hint);
    assert_eq!(format!("{key:?}"), format!("ApiKey({hint:?})"));
    assert_eq!(format!("{key:#?}").matches(&text[8..58]).count(), 0);
    // Errors hold no part of their input.
    let err = parse(&text[..61]).unwrap_err();
    assert!(!format!("{err} {err:?}").contains(&text[8..20]));
}

#[test]
fn storage_id_is_sha256_of_the_whole_key() {
    let key = new_key(KeyKind::Secret, Environment::Test);
    assert_eq!(
        key.storage_id(),
        StorageId::of_key_text(key.expose_secret())
    );
    let other = new_key(KeyKind::Publishable, Environment::Test);
    assert_ne!(key.storage_id(), other.storage_id());
    assert_eq!(ApiKey::parse(key.expose_secret()).unwrap(), key);
}

#[test]
fn the_pattern_matches_exactly_the_keys() {
    let pattern = regex::Regex::new(KEY_PATTERN).unwrap();
    for kind in KeyKind::ALL {
        for environment in [Environment::Live, Environment::Test] {
            let key = new_key(kind, environment);
            let text = key.expose_secret();
            assert!(pattern.is_match(text));
            let line = format!("token = \"{text}\";");
            let found = pattern.find(&line).unwrap();
            assert_eq!(found.as_str(), text);
            assert!(!pattern.is_match(&text[..text.len() - 1]));
            assert!(!pattern.is_match(&format!("{text}x")));
        }
    }
    assert!(!pattern.is_match("rk_live_0123456789abcdefABCD0123456789abcdefABCD"));
}

#[test]
fn the_readme_documents_the_patterns() {
    let readme = include_str!("../../../README.md");
    for pattern in [KEY_PATTERN, SECRET_KEY_PATTERN] {
        assert!(
            readme.contains(pattern),
            "README.md must show the pattern {pattern}"
        );
    }
}

#[test]
fn the_secret_pattern_matches_secret_keys_only() {
    let pattern = regex::Regex::new(SECRET_KEY_PATTERN).unwrap();
    for environment in [Environment::Live, Environment::Test] {
        assert!(pattern.is_match(new_key(KeyKind::Secret, environment).expose_secret()));
        assert!(!pattern.is_match(new_key(KeyKind::Publishable, environment).expose_secret()));
    }
}

#[test]
fn ids_round_trip_and_reject_other_forms() {
    let id = KeyId::generate(&mut SeededRandom(1)).unwrap();
    assert_eq!(KeyId::parse(&id.to_string()), Ok(id));
    assert!(KeyId::parse(id.body()).is_err());
    assert!(KeyId::parse(&format!("app_{}", id.body())).is_err());
    assert!(KeyId::parse("key_../../etc/passwd0").is_err());
    assert!(KeyId::parse("key_0123456789abcdeé").is_err());
    let json = serde_json::to_string(&id).unwrap();
    assert_eq!(json, format!("\"{id}\""));
    assert_eq!(serde_json::from_str::<KeyId>(&json).unwrap(), id);
    assert!(serde_json::from_str::<KeyId>("\"key_short\"").is_err());
}

#[test]
fn secret_keys_are_found_anywhere_in_a_text_and_nothing_else_is() {
    let app = ApplicationId::parse("app_AAAAAAAAAAAAAAAA").unwrap();
    let secret =
        ApiKey::generate(KeyKind::Secret, Environment::Live, app, &mut SystemRandom).unwrap();
    let publishable = ApiKey::generate(
        KeyKind::Publishable,
        Environment::Live,
        app,
        &mut SystemRandom,
    )
    .unwrap();
    let value = secret.expose_secret();
    for text in [
        value.to_string(),
        format!("key={value}&page=2"),
        format!("Bearer {value}"),
        format!("xx sk_ sk_live_short {value}"),
        format!("é{value}é"),
    ] {
        assert!(aero2_keys::contains_secret_key(&text), "{}", &text[..8]);
    }
    let mut altered = value.to_string();
    altered.replace_range(30..31, if &value[30..31] == "a" { "b" } else { "a" });
    for text in [
        String::new(),
        "sk_".to_string(),
        publishable.expose_secret().to_string(),
        altered,
        value[..61].to_string(),
        "sk_live_".repeat(20),
    ] {
        assert!(!aero2_keys::contains_secret_key(&text));
    }
}
