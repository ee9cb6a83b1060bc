//! The one door to the management operations: [`KeyRingObject::authenticate`] turns the
//! actor a request claims into a [`Caller`], and every operation in `ops.rs` takes a
//! `Caller`. Its field is private to this module, so there is no other way to make one:
//! an operation that skipped authentication would not compile.

use aero2_keys::http::ErrorCode;
use aero2_keys::policy::{FrontendRoutes, Policy, Scope};
use aero2_keys::rights::{key_manager, ManageRefusal, Manager};
use aero2_keys::{KeyKind, UnixMillis};

use super::KeyRingObject;
use crate::config::Config;
use crate::errors::{ApiError, ApiResult};
use crate::protocol::{Actor, ClientInfo};

/// An authenticated caller of the management API.
pub struct Caller {
    manager: Manager,
    /// What a publishable key reaches (`FRONTEND_ROUTES`), for [`Caller::may_hold`].
    frontend: FrontendRoutes,
}

impl Caller {
    /// How the audit log names this caller: a key id, or `operator`.
    pub fn audit_name(&self) -> String {
        self.manager
            .key_id()
            .map_or_else(|| "operator".to_owned(), |key_id| key_id.to_string())
    }

    /// Refuses unless the caller has `scope`.
    pub fn require(&self, scope: Scope) -> ApiResult<()> {
        self.manager.require(scope).map_err(refusal)
    }

    /// Refuses unless a key of `kind` with `policy` has no right the caller lacks.
    pub fn may_hold(&self, kind: KeyKind, policy: &Policy) -> ApiResult<()> {
        self.manager
            .may_hold(kind, policy, &self.frontend)
            .map_err(refusal)
    }
}

fn refusal(refusal: ManageRefusal) -> ApiError {
    match refusal {
        ManageRefusal::InsufficientScope(scope) => ApiError::with_detail(
            ErrorCode::from(refusal),
            format!("this request needs the scope {scope}, which this key does not have"),
        ),
        ManageRefusal::RightsExceeded => ErrorCode::from(refusal).into(),
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
        let frontend = Config::cached(&self.env).frontend_routes.clone();
        let (key, from_browser) = match actor {
            Actor::Operator => {
                self.ensure_loaded()?;
                return Ok(Caller {
                    manager: Manager::Operator,
                    frontend,
                });
            }
            Actor::Key { key, from_browser } => (key, *from_browser),
        };
        self.decide(key, client, now, |record| {
            let client_ip = client.ip.as_deref().and_then(|ip| ip.parse().ok());
            key_manager(record, key, from_browser, client_ip, now)
        })
        .await
        .map(|manager| Caller { manager, frontend })
    }
}
