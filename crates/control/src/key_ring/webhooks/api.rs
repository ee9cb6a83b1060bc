//! The webhook endpoints' operations, for a caller that `authenticate` let through.

use aero2_keys::http::ErrorCode;
use aero2_keys::policy::Scope;
use aero2_keys::webhooks::delivery::is_delivered;
use aero2_keys::webhooks::endpoint::MAX_ENDPOINTS;
use aero2_keys::webhooks::signing::MasterSecret;
use aero2_keys::webhooks::EventType;
use aero2_keys::{EndpointId, SystemRandom, UnixMillis};
use serde_json::Map;
use worker::Response;

use super::views::{
    DeliveryList, DeliveryView, EndpointList, EndpointResponse, EndpointView, EndpointWithSecret,
    MessageAccepted,
};
use super::{master_secret, position, EndpointRecord, PREVIOUS_SECRET_MS};
use crate::config::Config;
use crate::errors::ApiResult;
use crate::json::json_response;
use crate::key_ring::auth::Caller;
use crate::key_ring::KeyRingObject;
use crate::protocol::{ClientInfo, ManageOp};
use crate::views::AuditDetail;

/// The rights of an operation that returns or changes an endpoint's signing secret
/// (creating an endpoint, rotating its secret). An endpoint receives every key's events
/// (ids, labels, hints) and audit details (addresses, origins), so choosing where they go
/// needs the rights to read both; and whoever holds the secret can sign messages the
/// receiver trusts (`key.revoked`, `key.leaked`), so learning it needs the same.
fn require_signing_rights(caller: &Caller) -> ApiResult<()> {
    for scope in [Scope::WebhooksWrite, Scope::KeysRead, Scope::AuditRead] {
        caller.require(scope)?;
    }
    Ok(())
}

impl KeyRingObject {
    /// The webhook operations, for a caller that `authenticate` let through.
    pub(in crate::key_ring) async fn manage_webhooks(
        &self,
        caller: &Caller,
        client: &ClientInfo,
        op: ManageOp,
        now: UnixMillis,
    ) -> ApiResult<Response> {
        let config = Config::cached(&self.env);
        let actor = caller.audit_name();
        let audit = |event: &str, endpoint: &EndpointRecord| {
            self.store.insert_audit(
                now,
                event,
                None,
                &actor,
                client,
                &AuditDetail::Webhook {
                    endpoint_id: endpoint.id,
                    host: endpoint.host(),
                },
            )
        };
        let response = match op {
            ManageOp::ListWebhookEndpoints => {
                caller.require(Scope::WebhooksRead)?;
                return self.read(|loaded| {
                    let endpoints = loaded
                        .webhooks
                        .endpoints
                        .iter()
                        .map(|endpoint| EndpointView::of(endpoint, now))
                        .collect();
                    Ok(json_response(200, &EndpointList { endpoints }))
                });
            }
            ManageOp::WebhookDeliveries { endpoint_id } => {
                caller.require(Scope::WebhooksRead)?;
                self.endpoint(endpoint_id)?;
                let deliveries = self
                    .store
                    .attempts(endpoint_id)?
                    .into_iter()
                    .map(|row| DeliveryView {
                        delivered: row.status.is_some_and(is_delivered),
                        message_id: row.message_id,
                        event: row.event,
                        attempt: row.attempt,
                        status: row.status,
                        error: row.error,
                        latency_ms: row.latency_ms,
                        at: UnixMillis(row.at).to_rfc3339(),
                    })
                    .collect();
                return Ok(json_response(200, &DeliveryList { deliveries }));
            }
            ManageOp::CreateWebhookEndpoint {
                url,
                description,
                events,
            } => {
                require_signing_rights(caller)?;
                self.count_write(now)?;
                let master = master_secret(&config)?;
                let endpoint = self.mutate(|loaded| {
                    if loaded.webhooks.endpoints.len() >= MAX_ENDPOINTS {
                        return Err(ErrorCode::TooManyWebhookEndpoints.into());
                    }
                    let endpoint = EndpointRecord {
                        id: EndpointId::generate(&mut SystemRandom)
                            .map_err(|_| ErrorCode::RandomUnavailable)?,
                        url,
                        description,
                        events,
                        created_at: now,
                        secret_version: 1,
                        previous_secret_version: None,
                        previous_secret_until: None,
                        failing_since: None,
                        disabled_at: None,
                    };
                    self.store.save_endpoint(&endpoint)?;
                    audit("webhook_endpoint.created", &endpoint)?;
                    loaded.webhooks.endpoints.push(endpoint.clone());
                    Ok(endpoint)
                })?;
                return self.with_secret(201, master, &endpoint, now);
            }
            ManageOp::DeleteWebhookEndpoint { endpoint_id } => {
                caller.require(Scope::WebhooksWrite)?;
                self.count_write(now)?;
                self.mutate(|loaded| {
                    let index = position(loaded, endpoint_id)?;
                    let endpoint = loaded.webhooks.endpoints.remove(index);
                    self.store.delete_endpoint(endpoint_id)?;
                    audit("webhook_endpoint.deleted", &endpoint)
                })?;
                self.refresh_next_attempt()?;
                Response::empty().map(|r| r.with_status(204))?
            }
            ManageOp::RotateWebhookSecret { endpoint_id } => {
                require_signing_rights(caller)?;
                self.count_write(now)?;
                let master = master_secret(&config)?;
                let endpoint = self.mutate(|loaded| {
                    let index = position(loaded, endpoint_id)?;
                    let endpoint = &mut loaded.webhooks.endpoints[index];
                    endpoint.previous_secret_version = Some(endpoint.secret_version);
                    endpoint.previous_secret_until = Some(UnixMillis(now.0 + PREVIOUS_SECRET_MS));
                    endpoint.secret_version += 1;
                    let endpoint = endpoint.clone();
                    self.store.save_endpoint(&endpoint)?;
                    audit("webhook_endpoint.secret_rotated", &endpoint)?;
                    Ok(endpoint)
                })?;
                self.with_secret(200, master, &endpoint, now)?
            }
            ManageOp::EnableWebhookEndpoint { endpoint_id } => {
                caller.require(Scope::WebhooksWrite)?;
                self.count_write(now)?;
                let endpoint = self.mutate(|loaded| {
                    let index = position(loaded, endpoint_id)?;
                    let endpoint = &mut loaded.webhooks.endpoints[index];
                    if endpoint.disabled_at.is_none() {
                        return Err(ErrorCode::WebhookEndpointEnabled.into());
                    }
                    let mut health = endpoint.health();
                    health.enable();
                    endpoint.set_health(health);
                    let endpoint = endpoint.clone();
                    self.store.save_endpoint(&endpoint)?;
                    audit("webhook_endpoint.enabled", &endpoint)?;
                    Ok(endpoint)
                })?;
                json_response(
                    200,
                    &EndpointResponse {
                        endpoint: EndpointView::of(&endpoint, now),
                    },
                )
            }
            ManageOp::TestWebhookEndpoint { endpoint_id } => {
                caller.require(Scope::WebhooksWrite)?;
                self.count_write(now)?;
                let message_id = self.mutate(|loaded| {
                    let index = position(loaded, endpoint_id)?;
                    if loaded.webhooks.endpoints[index].disabled_at.is_some() {
                        return Err(ErrorCode::WebhookEndpointDisabled.into());
                    }
                    let mut data = Map::new();
                    data.insert(
                        "application_id".into(),
                        loaded.application.id.to_string().into(),
                    );
                    data.insert("endpoint_id".into(), endpoint_id.to_string().into());
                    self.notify(
                        loaded,
                        EventType::WebhookTest,
                        &data,
                        Some(endpoint_id),
                        now,
                    )?
                    .ok_or_else(|| ErrorCode::TemporarilyUnavailable.into())
                })?;
                json_response(202, &MessageAccepted { message_id })
            }
            ManageOp::ResendWebhookMessage {
                endpoint_id,
                message_id,
            } => {
                caller.require(Scope::WebhooksWrite)?;
                self.count_write(now)?;
                self.mutate(|loaded| {
                    let index = position(loaded, endpoint_id)?;
                    if loaded.webhooks.endpoints[index].disabled_at.is_some() {
                        return Err(ErrorCode::WebhookEndpointDisabled.into());
                    }
                    if !self.store.resend(endpoint_id, message_id, now)? {
                        return Err(ErrorCode::WebhookMessageNotFound.into());
                    }
                    let next = &mut loaded.webhooks.next_attempt_at;
                    *next = Some(next.map_or(now, |at| at.min(now)));
                    Ok(())
                })?;
                json_response(202, &MessageAccepted { message_id })
            }
            _ => return Err(ErrorCode::NotFound.into()),
        };
        self.schedule().await?;
        Ok(response)
    }

    /// The one kind of answer that shows an endpoint's secret: after creation and rotation.
    pub(super) fn with_secret(
        &self,
        status: u16,
        master: &MasterSecret,
        endpoint: &EndpointRecord,
        now: UnixMillis,
    ) -> ApiResult<Response> {
        let secret = master
            .endpoint_secret(self.application_id()?, endpoint.id, endpoint.secret_version)
            .expose();
        Ok(json_response(
            status,
            &EndpointWithSecret {
                endpoint: EndpointView::of(endpoint, now),
                secret,
            },
        ))
    }

    pub(super) fn endpoint(&self, id: EndpointId) -> ApiResult<EndpointRecord> {
        self.read(|loaded| Ok(loaded.webhooks.endpoints[position(loaded, id)?].clone()))
    }

    pub(super) fn refresh_next_attempt(&self) -> ApiResult<()> {
        let next = self.store.next_message_attempt()?;
        if let Some(loaded) = self.loaded.borrow_mut().as_mut() {
            loaded.webhooks.next_attempt_at = next;
        }
        Ok(())
    }
}
