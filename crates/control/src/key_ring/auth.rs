//! The one door to the management operations: [`KeyRingObject::authenticate`] turns the
//! actor a request claims into a [`Caller`], and every operation in `ops.rs` takes a
//! `Caller`. Its field is private to this module, so there is no other way to make one:
//! an operation that skipped authentication would not compile.

use aero2_accounts::{may, Action, KeyOperation, WebhookOperation};
use aero2_keys::gate::SeenRequest;
use aero2_keys::http::ErrorCode;
use aero2_keys::policy::{FrontendRoutes, Policy, Scope};
use aero2_keys::rights::{key_manager, ManageRefusal, Manager};
use aero2_keys::{Environment, KeyId, KeyKind, UnixMillis};

use super::KeyRingObject;
use crate::config::Config;
use crate::errors::{ApiError, ApiResult};
use crate::protocol::{Actor, ClientInfo, ManageOp, MemberActor};

/// An authenticated caller of the management API.
pub struct Caller {
    manager: Manager,
    /// What a publishable key reaches (`FRONTEND_ROUTES`), for [`Caller::may_hold`].
    frontend: FrontendRoutes,
    /// A member of the application's account: held, on top of the operator's rights, to
    /// what their role allows ([`Caller::permit`]).
    member: Option<MemberActor>,
}

impl Caller {
    /// How the audit log names this caller: a key id, `operator`, or a member as JSON
    /// (`{"type": "member", "id", "name"}`, which the audit view passes on as an object).
    pub fn audit_name(&self) -> String {
        if let Some(member) = &self.member {
            return serde_json::json!({"type": "member", "id": member.id, "name": member.name})
                .to_string();
        }
        self.manager
            .key_id()
            .map_or_else(|| "operator".to_owned(), |key_id| key_id.to_string())
    }

    /// Refuses a member what their role does not allow on this application
    /// (`environment`), 403 `insufficient_role`, and a step-up action without a passkey
    /// ceremony in the last 5 minutes, 403 `reauthentication_required`. `kind_of` names
    /// the kind of an existing key. Keys and the operator pass: their rights are checked
    /// by the operations themselves.
    pub fn permit(
        &self,
        op: &ManageOp,
        environment: Environment,
        kind_of: impl Fn(KeyId) -> Option<KeyKind>,
    ) -> ApiResult<()> {
        let Some(member) = &self.member else {
            return Ok(());
        };
        let key = |operation, kind| Action::Key {
            operation,
            environment,
            kind,
        };
        let on = |operation, key_id: &KeyId| {
            kind_of(*key_id)
                .map(|kind| key(operation, kind))
                .ok_or_else(|| ApiError::from(ErrorCode::KeyNotFound))
        };
        let action = match op {
            ManageOp::ListKeys { .. } => Action::ViewKeys,
            ManageOp::KeyUsage { .. } => Action::ViewUsage,
            ManageOp::KeyReceipt { .. } => Action::ViewKeys,
            ManageOp::AuditLog { .. }
            | ManageOp::AuditCheckpoint
            | ManageOp::AuditExport { .. } => Action::ViewAuditLog,
            ManageOp::ListWebhookEndpoints | ManageOp::WebhookDeliveries { .. } => {
                Action::ViewWebhookEndpoints
            }
            ManageOp::CreateKey { kind, .. } => key(KeyOperation::Create, *kind),
            ManageOp::UpdateKey { key_id, .. } => on(KeyOperation::Change, key_id)?,
            ManageOp::SuspendKey { key_id } => on(KeyOperation::Suspend, key_id)?,
            ManageOp::ResumeKey { key_id } => on(KeyOperation::Resume, key_id)?,
            ManageOp::RevokeKey { key_id } => on(KeyOperation::Revoke, key_id)?,
            ManageOp::RotateKey { key_id, .. } => on(KeyOperation::Rotate, key_id)?,
            ManageOp::CreateWebhookEndpoint { .. } => Action::Webhook(WebhookOperation::Create),
            ManageOp::DeleteWebhookEndpoint { .. } => Action::Webhook(WebhookOperation::Delete),
            ManageOp::RotateWebhookSecret { .. } => Action::Webhook(WebhookOperation::RotateSecret),
            ManageOp::TestWebhookEndpoint { .. }
            | ManageOp::EnableWebhookEndpoint { .. }
            | ManageOp::ResendWebhookMessage { .. } => Action::Webhook(WebhookOperation::Change),
        };
        // A canary's use suspends keys: its creator must be allowed to suspend each.
        let mut actions = vec![action];
        if let ManageOp::CreateKey {
            canary: Some(suspends),
            ..
        } = op
        {
            // (A key that does not exist is the operation's to refuse: `invalid_canary`.)
            for kind in suspends.iter().filter_map(|id| kind_of(*id)) {
                actions.push(key(KeyOperation::Suspend, kind));
            }
        }
        for action in actions {
            if !may(member.role, action) {
                return Err(ApiError::with_detail(
                    ErrorCode::InsufficientRole,
                    format!("a member with the role {} may not do this", member.role),
                ));
            }
            if action.needs_step_up() && !member.stepped_up {
                return Err(ErrorCode::ReauthenticationRequired.into());
            }
        }
        Ok(())
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
        let (key, from_browser, request) = match actor {
            Actor::Operator | Actor::Member(_) => {
                self.ensure_loaded()?;
                return Ok(Caller {
                    manager: Manager::Operator,
                    frontend,
                    member: match actor {
                        Actor::Member(member) => Some(member.clone()),
                        _ => None,
                    },
                });
            }
            Actor::Key {
                key,
                from_browser,
                request,
            } => (key, *from_browser, request),
        };
        let seen = SeenRequest {
            client,
            from_browser,
            origin: None,
            method: &request.method,
            path: &request.path,
            country: request.country.as_deref(),
        };
        self.decide(key, &seen, now, |record| {
            let client_ip = client.ip.as_deref().and_then(|ip| ip.parse().ok());
            key_manager(record, key, from_browser, client_ip, now)
        })
        .await
        .map(|manager| Caller {
            manager,
            frontend,
            member: None,
        })
    }
}
