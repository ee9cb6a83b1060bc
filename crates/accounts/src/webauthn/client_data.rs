//! `clientDataJSON`: what the browser says about the ceremony it ran.

use alloc::string::String;

use serde::Deserialize;

use super::challenge::Challenge;
use super::rp::RelyingParty;
use super::WebAuthnError;

/// Which ceremony the client data must describe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CeremonyType {
    Create,
    Get,
}

impl CeremonyType {
    const fn as_str(self) -> &'static str {
        match self {
            CeremonyType::Create => "webauthn.create",
            CeremonyType::Get => "webauthn.get",
        }
    }
}

/// The members this crate reads. Others (`topOrigin`, `tokenBinding`, and whatever
/// browsers add, such as Chrome's `other_keys_can_be_added_here`) are ignored. A repeated
/// member is refused (serde), so no two readers can see different values.
#[derive(Deserialize)]
struct ClientDataJson {
    #[serde(rename = "type")]
    kind: String,
    challenge: String,
    origin: String,
    #[serde(rename = "crossOrigin", default)]
    cross_origin: Option<bool>,
}

/// The challenge the client data names, so the caller can take it from the store.
pub(crate) fn challenge(client_data: &[u8]) -> Result<Challenge, WebAuthnError> {
    let parsed: ClientDataJson =
        serde_json::from_slice(client_data).map_err(|_| WebAuthnError::MalformedClientData)?;
    Challenge::from_base64url(&parsed.challenge).ok_or(WebAuthnError::ChallengeMismatch)
}

/// Checks type, challenge (constant time), origin (exact) and `crossOrigin`, in that
/// order.
pub(crate) fn verify(
    client_data: &[u8],
    ceremony: CeremonyType,
    challenge: &Challenge,
    rp: &RelyingParty,
) -> Result<(), WebAuthnError> {
    let parsed: ClientDataJson =
        serde_json::from_slice(client_data).map_err(|_| WebAuthnError::MalformedClientData)?;
    if parsed.kind != ceremony.as_str() {
        return Err(WebAuthnError::WrongCeremonyType);
    }
    let received =
        Challenge::from_base64url(&parsed.challenge).ok_or(WebAuthnError::ChallengeMismatch)?;
    if received != *challenge {
        return Err(WebAuthnError::ChallengeMismatch);
    }
    if parsed.origin != rp.origin() {
        return Err(WebAuthnError::OriginMismatch);
    }
    if parsed.cross_origin == Some(true) {
        return Err(WebAuthnError::CrossOrigin);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

    fn rp() -> RelyingParty {
        RelyingParty::from_origin("http://localhost:8787", "Aero2 Keys").unwrap()
    }

    fn data(kind: &str, challenge: &str, origin: &str, extra: &str) -> String {
        format!(r#"{{"type":"{kind}","challenge":"{challenge}","origin":"{origin}"{extra}}}"#)
    }

    #[test]
    fn accepts_the_browsers_form_and_ignores_extra_members() {
        let expected = Challenge::from_bytes([7; 32]);
        let c = expected.to_base64url();
        for extra in [
            "",
            r#","crossOrigin":false"#,
            r#","crossOrigin":false,"other_keys_can_be_added_here":"do not compare clientDataJSON against a template. See https://goo.gl/yabPex""#,
            r#","tokenBinding":{"status":"present","id":"AAAA"}"#,
            r#","topOrigin":"https://elsewhere.example""#,
        ] {
            let json = data("webauthn.create", &c, "http://localhost:8787", extra);
            assert_eq!(
                verify(json.as_bytes(), CeremonyType::Create, &expected, &rp()),
                Ok(()),
                "{json}"
            );
            assert_eq!(challenge(json.as_bytes()), Ok(expected.clone()));
        }
    }

    #[test]
    fn refuses_each_wrong_member() {
        let challenge = Challenge::from_bytes([7; 32]);
        let c = challenge.to_base64url();
        let other = Challenge::from_bytes([8; 32]).to_base64url();
        let origin = "http://localhost:8787";
        for (json, error) in [
            (
                data("webauthn.get", &c, origin, ""),
                WebAuthnError::WrongCeremonyType,
            ),
            (
                data("payment.get", &c, origin, ""),
                WebAuthnError::WrongCeremonyType,
            ),
            (
                data("webauthn.create", &other, origin, ""),
                WebAuthnError::ChallengeMismatch,
            ),
            (
                data("webauthn.create", &c[..42], origin, ""),
                WebAuthnError::ChallengeMismatch,
            ),
            (
                data("webauthn.create", &format!("{c}="), origin, ""),
                WebAuthnError::ChallengeMismatch,
            ),
            (
                data("webauthn.create", &c, "https://evil.example", ""),
                WebAuthnError::OriginMismatch,
            ),
            (
                data("webauthn.create", &c, "http://localhost:8788", ""),
                WebAuthnError::OriginMismatch,
            ),
            (
                data("webauthn.create", &c, "http://localhost:8787/", ""),
                WebAuthnError::OriginMismatch,
            ),
            (
                data("webauthn.create", &c, origin, r#","crossOrigin":true"#),
                WebAuthnError::CrossOrigin,
            ),
            (
                data("webauthn.create", &c, origin, r#","crossOrigin":"false""#),
                WebAuthnError::MalformedClientData,
            ),
            (
                data(
                    "webauthn.create",
                    &c,
                    origin,
                    r#","origin":"https://evil.example""#,
                ),
                WebAuthnError::MalformedClientData,
            ),
            (
                String::from(r#"{"type":"webauthn.create","origin":"http://localhost:8787"}"#),
                WebAuthnError::MalformedClientData,
            ),
            (String::from("not json"), WebAuthnError::MalformedClientData),
            (String::from("[]"), WebAuthnError::MalformedClientData),
        ] {
            assert_eq!(
                verify(json.as_bytes(), CeremonyType::Create, &challenge, &rp()),
                Err(error),
                "{json}"
            );
        }
        // Invalid UTF-8.
        assert_eq!(
            verify(
                b"{\"type\":\"\xff\"}",
                CeremonyType::Create,
                &challenge,
                &rp()
            ),
            Err(WebAuthnError::MalformedClientData)
        );
    }
}
