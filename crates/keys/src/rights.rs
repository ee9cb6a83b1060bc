//! Who may call the management API, and what they may do there: the one rule, shared by
//! every management operation, computed from the caller's key record alone.

use core::net::IpAddr;

use crate::format::{KeyId, KeyIdentity, KeyKind};
use crate::gate::{admit, refuse_secret_key_from_browser, RecordView, Rejection};
use crate::lifecycle::KeyStatus;
use crate::policy::{address_allowed, FrontendRoutes, Policy, Scope};
use crate::time::UnixMillis;

/// A caller that may manage its application's keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Manager {
    /// One of the application's own secret keys, with its policy (scopes, routes, …).
    Key { key_id: KeyId, policy: Policy },
    /// The operator, authenticated by `ADMIN_TOKEN` (or a dashboard session): every right.
    Operator,
}

/// Why a manager may not do what it asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ManageRefusal {
    /// The key's scopes do not include this one.
    InsufficientScope(Scope),
    /// The key asked to create, rotate or change a key with more rights than its own.
    RightsExceeded,
}

impl Manager {
    /// Refuses unless the caller has `scope`.
    pub fn require(&self, scope: Scope) -> Result<(), ManageRefusal> {
        match self {
            Manager::Key { policy, .. } if !policy.scopes().contains(scope) => {
                Err(ManageRefusal::InsufficientScope(scope))
            }
            _ => Ok(()),
        }
    }

    /// Refuses unless a key of `kind` with `policy` reaches nothing the caller cannot (see
    /// [`Policy::within`]; `frontend` is what a publishable key reaches). Checked for the
    /// key a caller creates, and for the key it rotates, revokes, suspends, resumes or
    /// changes (before and after the change): a restricted key can neither make a stronger
    /// key nor act on one.
    pub fn may_hold(
        &self,
        kind: KeyKind,
        policy: &Policy,
        frontend: &FrontendRoutes,
    ) -> Result<(), ManageRefusal> {
        match self {
            Manager::Key { policy: own, .. } if !policy.within(kind, own, frontend) => {
                Err(ManageRefusal::RightsExceeded)
            }
            _ => Ok(()),
        }
    }

    /// How the audit log names this caller: a key id, or `operator`.
    pub fn key_id(&self) -> Option<KeyId> {
        match self {
            Manager::Key { key_id, .. } => Some(*key_id),
            Manager::Operator => None,
        }
    }
}

/// The rights of a key that asks to manage its application, or why it has none. The key
/// must pass the gate's own check ([`admit`]), be a secret key, not come from a browser,
/// come from an address its `allowed_ips` lists (`client_ip`: the address the platform
/// reports), and be active.
///
/// A key in its rotation grace period still passes the gate until `expires_at`, so
/// deployments keep working, but it manages nothing: the usual answer to a leaked key is
/// a rotation, and whoever holds the old key must not be able to mint keys that outlive
/// the grace period, or rotate the owner's new key away.
pub fn key_manager(
    record: RecordView<'_>,
    key: &KeyIdentity,
    from_browser: bool,
    client_ip: Option<IpAddr>,
    now: UnixMillis,
) -> Result<Manager, Rejection> {
    admit(record, key, now)?;
    refuse_secret_key_from_browser(record.kind, from_browser)?;
    if record.kind == KeyKind::Secret {
        address_allowed(record.policy, client_ip)?;
    }
    match (record.kind, record.status) {
        (KeyKind::Publishable, _) => Err(Rejection::PublishableKeyNotAllowed),
        (KeyKind::Secret, KeyStatus::Active) => Ok(Manager::Key {
            key_id: record.key_id,
            policy: record.policy.clone(),
        }),
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

    const NO_POLICY: &Policy = &Policy {
        expires_at: None,
        scopes: None,
        routes: None,
        allowed_origins: None,
        origin_policy: None,
        allowed_ips: None,
        rate_limit: None,
    };

    fn view<'a>(key: &KeyIdentity, status: &'a KeyStatus) -> RecordView<'a> {
        RecordView {
            application_id: key.application_id,
            key_id: KeyId::parse("key_BBBBBBBBBBBBBBBB").unwrap(),
            kind: key.kind,
            status,
            policy: NO_POLICY,
            suspended: false,
            canary: false,
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
                    let got = key_manager(view(&key, status), &key, from_browser, None, now);
                    let expiring = matches!(status, KeyStatus::Expiring { .. });
                    let expected = match (refusal, kind, from_browser) {
                        (Some(refusal), _, _) => Err(*refusal),
                        (None, KeyKind::Secret, true) => Err(Rejection::SecretKeyInBrowser),
                        (None, KeyKind::Publishable, _) => Err(Rejection::PublishableKeyNotAllowed),
                        (None, KeyKind::Secret, false) if expiring => {
                            Err(Rejection::KeyInGracePeriod)
                        }
                        (None, KeyKind::Secret, false) => Ok(Manager::Key {
                            key_id: view(&key, status).key_id,
                            policy: Policy::default(),
                        }),
                    };
                    assert_eq!(got, expected, "{kind:?} {status:?} browser={from_browser}");
                }
            }
        }
    }

    #[test]
    fn suspended_and_self_expired_keys_manage_nothing() {
        let key = identity(KeyKind::Secret);
        let active = KeyStatus::Active;
        let mut record = view(&key, &active);
        record.suspended = true;
        assert_eq!(
            key_manager(record, &key, false, None, UnixMillis(0)),
            Err(Rejection::SuspendedKey)
        );
        let expiring = Policy {
            expires_at: Some(UnixMillis(10)),
            ..Policy::default()
        };
        let mut record = view(&key, &active);
        record.policy = &expiring;
        assert!(key_manager(record, &key, false, None, UnixMillis(9)).is_ok());
        assert_eq!(
            key_manager(record, &key, false, None, UnixMillis(10)),
            Err(Rejection::ExpiredKey)
        );
    }

    /// Found by review: `allowed_ips` held at the gate but not on the management API, so
    /// a leaked key held to an office network still managed keys from anywhere.
    #[test]
    fn a_key_held_to_a_network_manages_nothing_from_outside_it() {
        let key = identity(KeyKind::Secret);
        let active = KeyStatus::Active;
        let office: Policy = serde_json::from_str(r#"{"allowed_ips":["10.0.0.0/8"]}"#).unwrap();
        let mut record = view(&key, &active);
        record.policy = &office;
        let from = |ip: &str| key_manager(record, &key, false, ip.parse().ok(), UnixMillis(0));
        assert!(from("10.1.2.3").is_ok());
        assert!(from("::ffff:10.1.2.3").is_ok());
        assert_eq!(from("203.0.113.7"), Err(Rejection::IpNotAllowed));
        assert_eq!(from("unknown"), Err(Rejection::IpNotAllowed));
        // Without a list, any address manages, as before.
        assert!(key_manager(view(&key, &active), &key, false, None, UnixMillis(0)).is_ok());
    }

    #[test]
    fn scopes_and_rights() {
        let operator = Manager::Operator;
        let reader = Manager::Key {
            key_id: KeyId::parse("key_BBBBBBBBBBBBBBBB").unwrap(),
            policy: serde_json::from_str(r#"{"scopes":["keys:read"]}"#).unwrap(),
        };
        for scope in Scope::ALL {
            assert_eq!(operator.require(scope), Ok(()));
        }
        assert_eq!(reader.require(Scope::KeysRead), Ok(()));
        assert_eq!(
            reader.require(Scope::KeysWrite),
            Err(ManageRefusal::InsufficientScope(Scope::KeysWrite))
        );
        assert_eq!(
            reader.require(Scope::AuditRead),
            Err(ManageRefusal::InsufficientScope(Scope::AuditRead))
        );
        let unrestricted = Policy::default();
        let frontend = FrontendRoutes::default();
        assert_eq!(
            operator.may_hold(KeyKind::Secret, &unrestricted, &frontend),
            Ok(())
        );
        assert_eq!(
            reader.may_hold(KeyKind::Secret, &unrestricted, &frontend),
            Err(ManageRefusal::RightsExceeded)
        );
        // Limited in scopes only: it reaches every route, and so every publishable key.
        assert_eq!(
            reader.may_hold(KeyKind::Publishable, &unrestricted, &frontend),
            Ok(())
        );
        let orders = Manager::Key {
            key_id: KeyId::parse("key_BBBBBBBBBBBBBBBB").unwrap(),
            policy: serde_json::from_str(
                r#"{"scopes":["keys:write"],"routes":[{"methods":["GET"],"path":"/v1/orders/*"}]}"#,
            )
            .unwrap(),
        };
        assert_eq!(
            orders.may_hold(KeyKind::Publishable, &unrestricted, &frontend),
            Err(ManageRefusal::RightsExceeded)
        );
        assert_eq!(
            crate::http::ErrorCode::from(ManageRefusal::InsufficientScope(Scope::KeysWrite))
                .status(),
            403
        );
    }
}
