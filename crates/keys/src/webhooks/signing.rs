//! Endpoint secrets and signatures, as the Standard Webhooks specification has them:
//! the secret is `whsec_` and the base64 of its bytes; a message is signed with
//! HMAC-SHA256 over `{webhook-id}.{webhook-timestamp}.{body}`, and `webhook-signature`
//! holds `v1,<base64 signature>` for each secret in use, separated by spaces.
//!
//! An endpoint's secret is never stored. It is derived, when needed, from the worker's
//! master secret (`WEBHOOK_SECRET`), the application, the endpoint and the secret's
//! version: storage that leaks (KV, a Durable Object, a backup) reveals no secret, and
//! rotating one is incrementing its version.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::Zeroize;

use crate::format::{ApplicationId, EndpointId};

type HmacSha256 = Hmac<Sha256>;

/// The prefix of an endpoint secret.
pub const SECRET_PREFIX: &str = "whsec_";
/// The shortest master secret accepted, in bytes.
pub const MIN_MASTER_BYTES: usize = 32;

/// The worker's master secret, from which every endpoint secret is derived.
pub struct MasterSecret(Vec<u8>);

impl Drop for MasterSecret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl MasterSecret {
    /// Reads the master secret: the base64 of at least 32 random bytes.
    pub fn from_base64(text: &str) -> Option<MasterSecret> {
        let bytes = STANDARD.decode(text.trim()).ok()?;
        (bytes.len() >= MIN_MASTER_BYTES).then_some(MasterSecret(bytes))
    }

    /// The secret of one version of one endpoint.
    pub fn endpoint_secret(
        &self,
        application: ApplicationId,
        endpoint: EndpointId,
        version: u32,
    ) -> EndpointSecret {
        // A fixed context string, then fields that cannot contain the separator.
        let context =
            format!("aero2 webhook endpoint secret\n{application}\n{endpoint}\n{version}");
        let mut mac = match HmacSha256::new_from_slice(&self.0) {
            Ok(mac) => mac,
            // HMAC takes keys of any length; this arm cannot run.
            Err(_) => return EndpointSecret([0; 32]),
        };
        mac.update(context.as_bytes());
        EndpointSecret(mac.finalize().into_bytes().into())
    }
}

impl fmt::Debug for MasterSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterSecret(…)")
    }
}

/// One endpoint secret: 32 bytes, shown to the user once as `whsec_…`.
pub struct EndpointSecret([u8; 32]);

impl Drop for EndpointSecret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl EndpointSecret {
    /// The `whsec_…` form, for the one response that shows it.
    pub fn expose(&self) -> String {
        format!("{SECRET_PREFIX}{}", STANDARD.encode(self.0))
    }

    /// `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`.
    pub fn sign(&self, message_id: &str, timestamp_seconds: u64, body: &[u8]) -> String {
        format!(
            "v1,{}",
            STANDARD.encode(self.mac(message_id, timestamp_seconds, body))
        )
    }

    fn mac(&self, message_id: &str, timestamp_seconds: u64, body: &[u8]) -> [u8; 32] {
        let mut mac = match HmacSha256::new_from_slice(&self.0) {
            Ok(mac) => mac,
            Err(_) => return [0; 32],
        };
        mac.update(message_id.as_bytes());
        mac.update(b".");
        mac.update(format!("{timestamp_seconds}").as_bytes());
        mac.update(b".");
        mac.update(body);
        mac.finalize().into_bytes().into()
    }

    /// Whether `header` (a `webhook-signature` value) holds a valid `v1` signature of this
    /// message by this secret, compared in constant time. What a receiver does; the tests
    /// and the README's Rust example use it.
    pub fn verify(
        &self,
        message_id: &str,
        timestamp_seconds: u64,
        body: &[u8],
        header: &str,
    ) -> bool {
        let expected = self.mac(message_id, timestamp_seconds, body);
        header
            .split(' ')
            .filter_map(|entry| entry.strip_prefix("v1,"))
            .filter_map(|signature| STANDARD.decode(signature).ok())
            .any(|signature| signature.ct_eq(&expected).into())
    }
}

impl fmt::Debug for EndpointSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EndpointSecret(whsec_…)")
    }
}

/// The `webhook-signature` header: one signature per secret in use (two while a rotation's
/// old secret is still honoured).
pub fn signature_header(
    secrets: &[EndpointSecret],
    message_id: &str,
    timestamp_seconds: u64,
    body: &[u8],
) -> String {
    secrets
        .iter()
        .map(|secret| secret.sign(message_id, timestamp_seconds, body))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn master() -> MasterSecret {
        MasterSecret::from_base64(&STANDARD.encode([7u8; 32])).unwrap()
    }

    fn ids() -> (ApplicationId, EndpointId) {
        (
            ApplicationId::parse("app_AAAAAAAAAAAAAAAA").unwrap(),
            EndpointId::parse("ep_BBBBBBBBBBBBBBBB").unwrap(),
        )
    }

    #[test]
    fn a_signature_is_hmac_sha256_over_id_timestamp_and_body() {
        // Computed independently here; the end-to-end tests check the same scheme against
        // the `standardwebhooks` npm package, a stock verifier.
        let key = [9u8; 32];
        let secret = EndpointSecret(key);
        let body = br#"{"type":"key.created"}"#;
        let mut mac = HmacSha256::new_from_slice(&key).unwrap();
        mac.update(b"msg_1.1700000000.");
        mac.update(body);
        let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
        assert_eq!(secret.sign("msg_1", 1_700_000_000, body), expected);
    }

    #[test]
    fn secrets_are_derived_per_application_endpoint_and_version() {
        let (app, endpoint) = ids();
        let m = master();
        let one = m.endpoint_secret(app, endpoint, 1).expose();
        assert_eq!(one, m.endpoint_secret(app, endpoint, 1).expose(), "stable");
        assert!(one.starts_with("whsec_"));
        assert_eq!(STANDARD.decode(&one[6..]).unwrap().len(), 32);
        assert_ne!(one, m.endpoint_secret(app, endpoint, 2).expose());
        let other = EndpointId::parse("ep_CCCCCCCCCCCCCCCC").unwrap();
        assert_ne!(one, m.endpoint_secret(app, other, 1).expose());
        let other_master = MasterSecret::from_base64(&STANDARD.encode([8u8; 32])).unwrap();
        assert_ne!(one, other_master.endpoint_secret(app, endpoint, 1).expose());
    }

    #[test]
    fn a_signature_verifies_with_its_secret_only_and_for_its_message_only() {
        let (app, endpoint) = ids();
        let m = master();
        let (old, new) = (
            m.endpoint_secret(app, endpoint, 1),
            m.endpoint_secret(app, endpoint, 2),
        );
        let header = signature_header(&[new, old], "msg_x", 1_700_000_000, b"{}");
        assert_eq!(header.split(' ').count(), 2);
        let (old, new) = (
            m.endpoint_secret(app, endpoint, 1),
            m.endpoint_secret(app, endpoint, 2),
        );
        assert!(old.verify("msg_x", 1_700_000_000, b"{}", &header));
        assert!(new.verify("msg_x", 1_700_000_000, b"{}", &header));
        let third = m.endpoint_secret(app, endpoint, 3);
        assert!(!third.verify("msg_x", 1_700_000_000, b"{}", &header));
        assert!(!new.verify("msg_y", 1_700_000_000, b"{}", &header));
        assert!(!new.verify("msg_x", 1_700_000_001, b"{}", &header));
        assert!(!new.verify("msg_x", 1_700_000_000, b"{ }", &header));
        assert!(!new.verify("msg_x", 1_700_000_000, b"{}", "v2,AAAA"));
    }

    #[test]
    fn master_secrets_must_be_long_enough_and_nothing_prints_a_secret() {
        assert!(MasterSecret::from_base64(&STANDARD.encode([1u8; 31])).is_none());
        assert!(MasterSecret::from_base64("not base64!").is_none());
        let m = master();
        assert_eq!(alloc::format!("{m:?}"), "MasterSecret(…)");
        let (app, endpoint) = ids();
        let secret = m.endpoint_secret(app, endpoint, 1);
        assert!(!alloc::format!("{secret:?}").contains(&secret.expose()[6..]));
    }
}
