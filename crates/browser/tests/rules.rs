use aero2_browser::{parse_publishable, publishable_key_layout, BrowserKeyError};
use aero2_keys::{ApiKey, ApplicationId, Environment, KeyKind, ParseError, SystemRandom};

fn key(kind: KeyKind, environment: Environment) -> (ApiKey, ApplicationId) {
    let app = ApplicationId::generate(&mut SystemRandom).unwrap();
    (
        ApiKey::generate(kind, environment, app, &mut SystemRandom).unwrap(),
        app,
    )
}

#[test]
fn publishable_keys_give_their_application_and_environment() {
    for environment in [Environment::Live, Environment::Test] {
        let (pk, app) = key(KeyKind::Publishable, environment);
        let info = parse_publishable(pk.expose_secret()).unwrap();
        assert_eq!(info.application_id, app.to_string());
        assert_eq!(info.environment, environment);
    }
}

#[test]
fn secret_keys_are_refused_without_being_echoed() {
    let (sk, _) = key(KeyKind::Secret, Environment::Live);
    let value = sk.expose_secret();
    let err = parse_publishable(value).unwrap_err();
    assert_eq!(err.code(), "secret_key_exposed");
    let message = err.message();
    assert!(message.contains(&sk.hint()), "{message}");
    assert!(message.contains("Revoke"));
    assert!(!message.contains(&value[8..58]));
    // Even a truncated or altered secret key is treated as exposed.
    let err = parse_publishable(&value[..20]).unwrap_err();
    let hint = format!("sk_live_…{}", &value[16..20]);
    assert_eq!(err, BrowserKeyError::SecretKeyExposed { hint });
    assert!(!err.message().contains(&value[8..16]));
    let err = parse_publishable(&value[..12]).unwrap_err();
    assert_eq!(
        err,
        BrowserKeyError::SecretKeyExposed {
            hint: "sk_live_…".into()
        }
    );
}

#[test]
fn malformed_and_mistyped_keys_have_their_codes() {
    let (pk, _) = key(KeyKind::Publishable, Environment::Live);
    let mut typo = pk.expose_secret().to_owned();
    let replacement = if &typo[20..21] == "x" { "y" } else { "x" };
    typo.replace_range(20..21, replacement);
    assert_eq!(
        parse_publishable(&typo).unwrap_err(),
        BrowserKeyError::Malformed(ParseError::BadChecksum)
    );
    assert_eq!(parse_publishable("").unwrap_err().code(), "malformed_key");
    assert_eq!(
        parse_publishable("pk_live_short").unwrap_err().code(),
        "malformed_key"
    );
    assert_eq!(
        parse_publishable(&"é".repeat(100_000)).unwrap_err().code(),
        "malformed_key"
    );
}

/// The fast path's number says exactly what the full parse says: where the id is, which
/// environment, and 0 for everything the full parse refuses.
#[test]
fn the_layout_agrees_with_the_full_parse() {
    for environment in [Environment::Live, Environment::Test] {
        for _ in 0..200 {
            let (pk, app) = key(KeyKind::Publishable, environment);
            let value = pk.expose_secret();
            let layout = publishable_key_layout(value);
            assert_eq!(layout & 1, 1);
            assert_eq!(layout & 2 != 0, environment == Environment::Live);
            let start = ((layout >> 8) & 0xff) as usize;
            let len = ((layout >> 16) & 0xff) as usize;
            let id = format!("{}{}", ApplicationId::PREFIX, &value[start..start + len]);
            assert_eq!(id, app.to_string());
            assert_eq!(id, parse_publishable(value).unwrap().application_id);
        }
    }
    let (sk, _) = key(KeyKind::Secret, Environment::Live);
    let (pk, _) = key(KeyKind::Publishable, Environment::Live);
    let value = pk.expose_secret();
    let mut altered = value.to_string();
    altered.replace_range(30..31, if &value[30..31] == "A" { "B" } else { "A" });
    for refused in [
        sk.expose_secret(),
        "",
        "pk_live_",
        &value[..value.len() - 1],
        altered.as_str(),
        "pk_live_ÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄ",
    ] {
        assert_eq!(publishable_key_layout(refused), 0, "{refused:?}");
        assert!(parse_publishable(refused).is_err());
    }
}
