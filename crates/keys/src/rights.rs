//! Who may call the management API, and what they may do there: the one rule, shared by
//! every management operation, computed from the caller's key record alone.

use crate::format::{KeyId, KeyIdentity, KeyKind};
use crate::gate::{admit, refuse_secret_key_from_browser, RecordView, Rejection};
use crate::lifecycle::KeyStatus;
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
/// must pass the gate's own check ([`admit`]), be a secret key, not come from a browser,
/// and be active.
///
/// A key in its rotation grace period still passes the gate until `expires_at`, so
/// deployments keep working, but it manages nothing: the usual answer to a leaked key is
/// a rotation, and whoever holds the old key must not be able to mint keys that outlive
/// the grace period, or rotate the owner's new key away.
pub fn key_manager(
    record: RecordView<'_>,
    key: &KeyIdentity,
    from_browser: bool,
    now: UnixMillis,
) -> Result<Manager, Rejection> {
    admit(record, key, now)?;
    refuse_secret_key_from_browser(record.kind, from_browser)?;
    match (record.kind, record.status) {
        (KeyKind::Publishable, _) => Err(Rejection::PublishableKeyNotAllowed),
        (KeyKind::Secret, KeyStatus::Active) => Ok(Manager::Key(record.key_id)),
        (KeyKind::Secret, _) => Err(Rejection::KeyInGracePeriod),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{identify, ApiKey, ApplicationId, Environment};
    use crate::lifecycle::RevocationReason;
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
        // (status, the gate's own refusal at `now`)
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
                    expires_at: UnixMillis(1_001),
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
                    let expiring = matches!(status, KeyStatus::Expiring { .. });
                    let expected = match (refusal, kind, from_browser) {
                        (Some(refusal), _, _) => Err(*refusal),
                        (None, KeyKind::Secret, true) => Err(Rejection::SecretKeyInBrowser),
                        (None, KeyKind::Publishable, _) => Err(Rejection::PublishableKeyNotAllowed),
                        (None, KeyKind::Secret, false) if expiring => {
                            Err(Rejection::KeyInGracePeriod)
                        }
                        (None, KeyKind::Secret, false) => {
                            Ok(Manager::Key(view(&key, status).key_id))
                        }
                    };
                    assert_eq!(got, expected, "{kind:?} {status:?} browser={from_browser}");
                }
            }
        }
    }
}
