//! Prints a registration's and two sign-ins' options for `DASHBOARD_ORIGIN`, as the worker
//! would send them, together with the user handle they name:
//!
//! ```sh
//! cargo run -q -p aero2-accounts --example passkey_options -- http://localhost:8787
//! ```
//!
//! `tests/fixtures/capture.mjs` feeds them to Chromium to record real browser responses.

use aero2_accounts::webauthn::{
    creation_options, request_options, Challenge, RelyingParty, UserEntity,
};
use aero2_accounts::UserHandle;
use aero2_keys::SystemRandom;

fn main() {
    let origin = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "http://localhost:8787".to_string());
    let rp = match RelyingParty::from_origin(&origin, "Aero2 Keys") {
        Ok(rp) => rp,
        Err(error) => {
            eprintln!("{origin}: {error}");
            std::process::exit(2);
        }
    };
    let mut rng = SystemRandom;
    let handle = UserHandle::generate(&mut rng).expect("CSPRNG");
    let user = UserEntity {
        handle: &handle,
        name: "ada@example.com",
        display_name: "Ada Lovelace",
    };
    let create = creation_options(
        &rp,
        &user,
        &Challenge::generate(&mut rng).expect("CSPRNG"),
        &[],
    );
    // Two sign-ins, to see the authenticator's counter move.
    let get: Vec<_> = (0..2)
        .map(|_| request_options(&rp, &Challenge::generate(&mut rng).expect("CSPRNG"), &[]))
        .collect();
    let out = serde_json::json!({
        "origin": rp.origin(),
        "rpId": rp.id(),
        "userHandle": handle.to_base64url(),
        "creationOptions": serde_json::to_value(&create).expect("options serialise"),
        "requestOptions": serde_json::to_value(&get).expect("options serialise"),
    });
    println!("{out}");
}
