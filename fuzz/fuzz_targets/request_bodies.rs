//! The management API's JSON bodies: decoding and validating arbitrary input never
//! panics, and error messages never hold the input.
#![no_main]

use aero2_keys::http::bodies::{
    CreateApplicationRequest, CreateKeyRequest, CreateWebhookEndpointRequest, RequestError,
    RotateRequest,
};
use aero2_keys::{ApplicationId, Environment, GracePeriod, KeyRing, LifecycleError, UnixMillis};
use libfuzzer_sys::fuzz_target;

struct Counter(u64);
impl aero2_keys::RandomSource for Counter {
    fn fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), aero2_keys::RandomError> {
        for byte in dest {
            self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1);
            *byte = (self.0 >> 33) as u8;
        }
        Ok(())
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(request) = serde_json::from_slice::<CreateKeyRequest>(data) {
        let mut rng = Counter(1);
        let app = ApplicationId::generate(&mut rng).unwrap();
        let mut ring = KeyRing::new(app, Environment::Test);
        match ring.create(request.kind, request.label(), aero2_keys::policy::Policy::default(), UnixMillis(0), &mut rng) {
            Ok((key, record)) => {
                assert_eq!(record.label, request.label().trim());
                assert_eq!(key.kind(), request.kind);
            }
            // Errors are fixed sentences: no input reaches them.
            Err(err) => assert!(
                err == LifecycleError::InvalidLabel
                    && err.to_string() == LifecycleError::InvalidLabel.to_string()
            ),
        }
    }
    if let Ok(request) = serde_json::from_slice::<CreateWebhookEndpointRequest>(data) {
        // Whatever the input: a result, never a panic, and no input in the error.
        let _ = request.events();
        if let Ok(description) = request.description() {
            assert!(description.chars().count() <= 200);
        }
    }
    if let Ok(request) = serde_json::from_slice::<RotateRequest>(data) {
        if let Some(seconds) = request.grace_period_seconds {
            assert_eq!(GracePeriod::from_seconds(seconds).is_ok(), seconds <= 604_800);
        }
    }
    if let Ok(request) = serde_json::from_slice::<CreateApplicationRequest>(data) {
        // Errors are fixed sentences: no input reaches them. (An earlier, looser check
        // that the message did not contain the name failed on one-letter names; that
        // input is now a regression test in crates/keys/src/http/bodies.rs.)
        if let Err(err) = request.validate() {
            let fixed = [RequestError::InvalidName.to_string(), RequestError::InvalidEnvironment.to_string()];
            assert!(fixed.contains(&err.to_string()));
        }
    }
});
