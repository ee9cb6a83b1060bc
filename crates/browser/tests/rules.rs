use aero2_browser::{parse_publishable, BrowserKeyError};
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
