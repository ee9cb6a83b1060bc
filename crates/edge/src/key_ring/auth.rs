//! The one door to the management operations: [`KeyRingObject::authenticate`] turns the
//! actor a request claims into a [`Caller`], and every operation in `ops.rs` takes a
//! `Caller`. Its field is private to this module, so there is no other way to make one:
//! an operation that skipped authentication would not compile.

use aero2_keys::gate::Rejection;
use aero2_keys::http::ErrorCode;
use aero2_keys::rights::{key_manager, Manager};
use aero2_keys::UnixMillis;

use super::KeyRingObject;
use crate::errors::{ApiError, ApiResult};
use crate::protocol::{Actor, ClientInfo};

/// An authenticated caller of the management API.
pub struct Caller {
    manager: Manager,
}

impl Caller {
    /// How the audit log names this caller: a key id, or `operator`.
    pub fn audit_name(&self) -> String {
        match self.manager {
            Manager::Key(key_id) => key_id.to_string(),
            Manager::Operator => "operator".to_owned(),
        }
    }
}

impl KeyRingObject {
    /// Decides whether `actor` may manage this application's keys
    /// ([`aero2_keys::rights::key_manager`]), recording the key's use and, for a secret
    /// key sent by a browser, the exposure.
    pub(super) async fn authenticate(
        &self,
        actor: &Actor,
        client: &ClientInfo,
        now: UnixMillis,
    ) -> ApiResult<Caller> {
        let (key, from_browser) = match actor {
            Actor::Operator => {
                self.ensure_loaded()?;
                return Ok(Caller {
                    manager: Manager::Operator,
                });
            }
            Actor::Key { key, from_browser } => (key, *from_browser),
        };
        // A key of an application that does not exist is answered exactly as an unknown
        // key of one that does: no oracle for which applications exist.
        if !self.application_exists()? {
            return Err(Rejection::UnknownKey.into());
        }
        let (key_id, decision) = {
            let guard = self.loaded.borrow();
            let loaded = guard
                .as_ref()
                .ok_or(ApiError::from(ErrorCode::TemporarilyUnavailable))?;
            let record = loaded
                .ring
                .find_by_storage_id(&key.storage_id)
                .ok_or(Rejection::UnknownKey)?;
            (
                record.id,
                key_manager(record.view(loaded.application.id), key, from_browser, now),
            )
        };
        let authenticated = match decision {
            Ok(_) => true,
            Err(rejection) => rejection.key_authenticated(),
        };
        if authenticated {
            self.record_usage(key_id, now).await?;
        }
        match decision {
            Ok(manager) => Ok(Caller { manager }),
            Err(Rejection::SecretKeyInBrowser) => {
                self.record_exposure(key_id, client, now)?;
                Err(Rejection::SecretKeyInBrowser.into())
            }
            Err(rejection) => Err(rejection.into()),
        }
    }
}
