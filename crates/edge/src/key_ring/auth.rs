//! The one door to the management operations: [`KeyRingObject::authenticate`] turns the
//! actor a request claims into a [`Caller`], and every operation in `ops.rs` takes a
//! `Caller`. Its field is private to this module, so there is no other way to make one:
//! an operation that skipped authentication would not compile.

use aero2_keys::rights::{key_manager, Manager};
use aero2_keys::UnixMillis;

use super::KeyRingObject;
use crate::errors::ApiResult;
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
    /// ([`aero2_keys::rights::key_manager`]).
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
        self.decide(key, client, now, |record| {
            key_manager(record, key, from_browser, now)
        })
        .await
        .map(|manager| Caller { manager })
    }
}
