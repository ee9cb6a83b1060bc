//! Webhooks: the application's endpoints, a durable outbox of messages in SQLite, and
//! delivery from the alarm.
//!
//! An event is written to the outbox (one row per endpoint that wants it) in the same
//! synchronous section as the change and its audit entry, so it is never lost. The alarm
//! sends what is due: before sending it moves each message's next attempt past the
//! delivery timeout and sets the alarm for then, so a worker that dies mid-delivery sends
//! them again after it restarts (at least once; receivers de-duplicate by `webhook-id`).
//! Failures are retried with backoff and jitter ([`RetryPolicy`]) until the endpoint has
//! failed for 3 days without a success; it is then disabled, which is audited.
//!
//! Endpoint secrets are never stored: each is derived from `WEBHOOK_SECRET`, the
//! application, the endpoint and its secret's version ([`MasterSecret`]).
//!
//! `views`: the JSON shapes; `store`: the SQLite tables; `events`: queuing events and
//! reminders; `api`: the endpoints' operations; `delivery`: sending from the alarm.

mod api;
mod delivery;
mod events;
mod store;
mod views;

pub use events::key_data;

use std::collections::HashSet;

use aero2_keys::http::ErrorCode;
use aero2_keys::webhooks::delivery::Health;
use aero2_keys::webhooks::reminders::Reminder;
use aero2_keys::webhooks::signing::{EndpointSecret, MasterSecret};
use aero2_keys::webhooks::{EventSet, EventType};
use aero2_keys::{ApplicationId, EndpointId, KeyId, UnixMillis};
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::errors::ApiResult;
use crate::key_ring::Loaded;

/// Messages sent per alarm run, at most; the rest wait for the next run, moments later.
const DELIVERY_BATCH: usize = 25;
/// Messages waiting for one endpoint, at most: past it, new events for that endpoint are
/// recorded as failed at once (they can be resent), so a dead endpoint cannot grow
/// storage without bound.
const MAX_PENDING_PER_ENDPOINT: u64 = 10_000;
/// Attempts kept per endpoint for `GET …/deliveries`.
const ATTEMPTS_KEPT: u64 = 100;
/// After a rotation, the old secret still signs for this long.
const PREVIOUS_SECRET_MS: u64 = 24 * 60 * 60 * 1000;
/// Delivered and failed messages are deleted after this.
const MESSAGE_RETENTION_MS: u64 = 30 * 24 * 60 * 60 * 1000;

/// An endpoint as stored. Its secret is not here: see the module's comment.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EndpointRecord {
    pub id: EndpointId,
    pub url: String,
    pub description: String,
    /// `None`: every event, including those added later.
    pub events: Option<Vec<EventType>>,
    pub created_at: UnixMillis,
    pub secret_version: u32,
    #[serde(default)]
    pub previous_secret_version: Option<u32>,
    #[serde(default)]
    pub previous_secret_until: Option<UnixMillis>,
    #[serde(default)]
    pub failing_since: Option<UnixMillis>,
    #[serde(default)]
    pub disabled_at: Option<UnixMillis>,
}

impl EndpointRecord {
    fn wants(&self, event: EventType) -> bool {
        let set = match &self.events {
            None => EventSet::ALL,
            Some(events) => events.iter().copied().collect(),
        };
        self.disabled_at.is_none() && set.contains(event)
    }

    fn health(&self) -> Health {
        Health {
            failing_since: self.failing_since,
            disabled_at: self.disabled_at,
        }
    }

    fn set_health(&mut self, health: Health) {
        self.failing_since = health.failing_since;
        self.disabled_at = health.disabled_at;
    }

    /// The secrets that sign a message sent at `now`: the current one, and the previous
    /// one during the day after a rotation.
    fn secrets(
        &self,
        master: &MasterSecret,
        application: ApplicationId,
        now: UnixMillis,
    ) -> Vec<EndpointSecret> {
        let mut secrets = vec![master.endpoint_secret(application, self.id, self.secret_version)];
        if let (Some(version), Some(until)) =
            (self.previous_secret_version, self.previous_secret_until)
        {
            if now < until {
                secrets.push(master.endpoint_secret(application, self.id, version));
            }
        }
        secrets
    }

    /// The host alone, for the audit log: a URL's path or query may hold a token.
    fn host(&self) -> String {
        worker::web_sys::Url::new(&self.url)
            .map(|url| url.hostname())
            .unwrap_or_default()
    }
}

/// What the webhooks keep in memory, loaded with the key ring.
#[derive(Default)]
pub struct WebhookState {
    pub endpoints: Vec<EndpointRecord>,
    /// The earliest next attempt of a message waiting to be sent.
    pub next_attempt_at: Option<UnixMillis>,
    /// Reminders already sent: key, reminder, the instant they were about.
    pub reminders_sent: HashSet<(KeyId, Reminder, u64)>,
}

fn master_secret(config: &Config) -> ApiResult<&MasterSecret> {
    config
        .webhook_secret
        .as_ref()
        .ok_or_else(|| ErrorCode::WebhooksNotConfigured.into())
}

fn position(loaded: &Loaded, id: EndpointId) -> ApiResult<usize> {
    loaded
        .webhooks
        .endpoints
        .iter()
        .position(|endpoint| endpoint.id == id)
        .ok_or_else(|| ErrorCode::WebhookEndpointNotFound.into())
}
