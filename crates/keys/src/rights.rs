//! Who may call the management API, and what they may do there: the one rule, shared by
//! every management operation, computed from the caller's key record alone.

use crate::format::{KeyId, KeyIdentity, KeyKind};
use crate::gate::{admit, refuse_secret_key_from_browser, RecordView, Rejection};
use crate::time::UnixMillis;

/// A caller that may manage its application's keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Manager {
    /// One of the application's own secret keys.
    Key(KeyId),
    /// The operator, authenticated by `ADMIN_TOKEN` (or a dashboard session).
    Operator,
}

/// The rights of a key that asks to manage its application, or why it has none. The key
/// must pass the gate's own check ([`admit`]), be a secret key, and not come from a
/// browser.
pub fn key_manager(
    record: RecordView<'_>,
    key: &KeyIdentity,
    from_browser: bool,
    now: UnixMillis,
) -> Result<Manager, Rejection> {
    admit(record, key, now)?;
    refuse_secret_key_from_browser(record.kind, from_browser)?;
    match record.kind {
        KeyKind::Secret => Ok(Manager::Key(record.key_id)),
        KeyKind::Publishable => Err(Rejection::PublishableKeyNotAllowed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{identify, ApiKey, ApplicationId, Environment};
    use crate::lifecycle::{KeyStatus, RevocationReason};
    use crate::random::SystemRandom;

    fn identity(kind: KeyKind) -> KeyIdentity {
        let app = ApplicationId::parse("app_AAAAAAAAAAAAAAAA").unwrap();
        let key = ApiKey::generate(kind, Environment::Live, app, &mut SystemRandom).unwrap();
        identify(key.expose_secret()).unwrap()
    }

    fn view<'a>(key: &KeyIdentity, status: &'a KeyStatus) -> RecordView<'a> {
        RecordView {
            application_id: key.application_id,
            key_id: KeyId::parse("key_BBBBBBBBBBBBBBBB").unwrap(),
            kind: key.kind,
            status,
        }
    }

    #[test]
    fn every_kind_and_status() {
        let now = UnixMillis(1_000);
        let statuses = [
            (KeyStatus::Active, None),
            (
                KeyStatus::Expiring {
                    expires_at: UnixMillis(2_000),
                },
                None,
            ),
            (
                KeyStatus::Expiring {
                    expires_at: UnixMillis(1_000),
                },
                Some(Rejection::ExpiredKey),
            ),
            (
                KeyStatus::Revoked {
                    revoked_at: UnixMillis(1),
                    reason: RevocationReason::Revoked,
                },
                Some(Rejection::RevokedKey),
            ),
            (
                KeyStatus::Revoked {
                    revoked_at: UnixMillis(1),
                    reason: RevocationReason::GraceExpired,
                },
                Some(Rejection::ExpiredKey),
            ),
        ];
        for kind in KeyKind::ALL {
            let key = identity(kind);
            for (status, refusal) in &statuses {
                for from_browser in [false, true] {
                    let got = key_manager(view(&key, status), &key, from_browser, now);
                    let expected = match (refusal, kind, from_browser) {
                        (Some(refusal), _, _) => Err(*refusal),
                        (None, KeyKind::Secret, true) => Err(Rejection::SecretKeyInBrowser),
                        (None, KeyKind::Secret, false) => {
                            Ok(Manager::Key(view(&key, status).key_id))
                        }
                        (None, KeyKind::Publishable, _) => Err(Rejection::PublishableKeyNotAllowed),
                    };
                    assert_eq!(got, expected, "{kind:?} {status:?} browser={from_browser}");
                }
            }
        }
    }
}
