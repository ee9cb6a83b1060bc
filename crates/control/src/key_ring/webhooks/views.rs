//! The JSON shapes of the webhook API, and the payload of a message.

use aero2_keys::{EndpointId, MessageId, UnixMillis};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::EndpointRecord;

#[derive(Serialize)]
pub(super) struct EndpointView<'a> {
    pub(super) id: EndpointId,
    pub(super) url: &'a str,
    pub(super) description: &'a str,
    /// The event types it receives; `["*"]` for all.
    pub(super) events: Vec<&'static str>,
    pub(super) status: &'static str,
    pub(super) created_at: String,
    pub(super) failing_since: Option<String>,
    pub(super) disabled_at: Option<String>,
    /// While a rotation's previous secret still signs.
    pub(super) previous_secret_expires_at: Option<String>,
}

impl<'a> EndpointView<'a> {
    pub(super) fn of(endpoint: &'a EndpointRecord, now: UnixMillis) -> Self {
        EndpointView {
            id: endpoint.id,
            url: &endpoint.url,
            description: &endpoint.description,
            events: match &endpoint.events {
                None => vec!["*"],
                Some(events) => events.iter().map(|e| e.name()).collect(),
            },
            status: if endpoint.disabled_at.is_some() {
                "disabled"
            } else {
                "enabled"
            },
            created_at: endpoint.created_at.to_rfc3339(),
            failing_since: endpoint.failing_since.map(UnixMillis::to_rfc3339),
            disabled_at: endpoint.disabled_at.map(UnixMillis::to_rfc3339),
            previous_secret_expires_at: endpoint
                .previous_secret_until
                .filter(|until| now < *until)
                .map(UnixMillis::to_rfc3339),
        }
    }
}

#[derive(Serialize)]
pub(super) struct EndpointResponse<'a> {
    pub(super) endpoint: EndpointView<'a>,
}

/// The one response that carries an endpoint's secret.
#[derive(Serialize)]
pub(super) struct EndpointWithSecret<'a> {
    pub(super) endpoint: EndpointView<'a>,
    pub(super) secret: String,
}

#[derive(Serialize)]
pub(super) struct EndpointList<'a> {
    pub(super) endpoints: Vec<EndpointView<'a>>,
}

#[derive(Serialize)]
pub(super) struct MessageAccepted {
    pub(super) message_id: MessageId,
}

#[derive(Serialize, Deserialize)]
pub(super) struct AttemptRow {
    pub(super) message_id: String,
    pub(super) event: String,
    pub(super) attempt: u32,
    pub(super) status: Option<u16>,
    pub(super) error: Option<String>,
    pub(super) latency_ms: u64,
    pub(super) at: u64,
}

#[derive(Serialize)]
pub(super) struct DeliveryView {
    pub(super) message_id: String,
    pub(super) event: String,
    pub(super) attempt: u32,
    /// The HTTP status the endpoint answered; `null` when it did not answer.
    pub(super) status: Option<u16>,
    /// `timeout`, `connection_failed`, `redirect_not_followed` or `endpoint_queue_full`.
    pub(super) error: Option<String>,
    pub(super) delivered: bool,
    pub(super) latency_ms: u64,
    pub(super) at: String,
}

#[derive(Serialize)]
pub(super) struct DeliveryList {
    pub(super) deliveries: Vec<DeliveryView>,
}

/// The payload, as the Standard Webhooks specification shapes it.
#[derive(Serialize)]
pub(super) struct Payload<'a> {
    #[serde(rename = "type")]
    pub(super) event: &'static str,
    pub(super) timestamp: String,
    pub(super) data: &'a Map<String, Value>,
}
