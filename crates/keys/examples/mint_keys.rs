//! Prints freshly generated keys of every kind as JSON, for the browser package's tests,
//! which must check real keys from this crate rather than hand-written ones. With an
//! application id as its argument, the live keys name that application: well-formed keys
//! it never issued (forged keys, for the benchmark).

use aero2_keys::{ApiKey, ApplicationId, Environment, KeyKind, SystemRandom};

fn main() {
    let mut rng = SystemRandom;
    let live_app = match std::env::args().nth(1) {
        Some(id) => ApplicationId::parse(&id).expect("an application id (app_…)"),
        None => ApplicationId::generate(&mut rng).expect("CSPRNG"),
    };
    let test_app = ApplicationId::generate(&mut rng).expect("CSPRNG");
    let mut key = |kind, environment, app| {
        ApiKey::generate(kind, environment, app, &mut rng)
            .expect("CSPRNG")
            .expose_secret()
            .to_owned()
    };
    let publishable_live = key(KeyKind::Publishable, Environment::Live, live_app);
    let publishable_test = key(KeyKind::Publishable, Environment::Test, test_app);
    let secret_live = key(KeyKind::Secret, Environment::Live, live_app);
    println!(
        "{{\"live_application_id\":\"{live_app}\",\"test_application_id\":\"{test_app}\",\"publishable_live\":\"{publishable_live}\",\"publishable_test\":\"{publishable_test}\",\"secret_live\":\"{secret_live}\"}}"
    );
}
