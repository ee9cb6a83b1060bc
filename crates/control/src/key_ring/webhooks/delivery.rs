//! Delivery from the alarm: due messages sent, signed, with a timeout; outcomes recorded
//! with backoff, and an endpoint that keeps failing disabled.

use aero2_keys::webhooks::delivery::{is_delivered, HealthChange, RetryPolicy};
use aero2_keys::webhooks::signing::{signature_header, EndpointSecret};
use aero2_keys::{EndpointId, RandomSource, SystemRandom, UnixMillis};
use futures_util::future::{join_all, select, Either};
use worker::{AbortController, Delay, Fetch, Headers};

use super::store::MessageRow;
use super::views::AttemptRow;
use super::{position, EndpointRecord};
use crate::clock::now;
use crate::config::Config;
use crate::errors::ApiResult;
use crate::key_ring::{KeyRingObject, Loaded};
use crate::protocol::ClientInfo;
use crate::views::AuditDetail;

impl KeyRingObject {
    /// Sends the messages that are due (the alarm's work).
    pub(in crate::key_ring) async fn deliver_webhooks(&self, now: UnixMillis) -> ApiResult<()> {
        let config = Config::cached(&self.env);
        let Some(master) = config.webhook_secret.as_ref() else {
            return Ok(());
        };
        let due = self.store.due_messages(now)?;
        if due.is_empty() {
            return self.refresh_next_attempt();
        }
        // A lease: if this run dies mid-way, the alarm set here sends them again.
        let lease = UnixMillis(now.0 + config.webhook_timeout_ms + 5_000);
        for message in &due {
            self.store
                .set_message(message, message.attempts, "pending", Some(lease))?;
        }
        self.refresh_next_attempt()?;
        self.schedule().await?;

        let application = self.application_id()?;
        let endpoints: Vec<EndpointRecord> = self
            .loaded
            .borrow()
            .as_ref()
            .map(|loaded| loaded.webhooks.endpoints.clone())
            .unwrap_or_default();
        let timeout_ms = config.webhook_timeout_ms;
        let enabled = |message: &MessageRow| {
            endpoints
                .iter()
                .find(|e| e.id.to_string() == message.endpoint_id && e.disabled_at.is_none())
        };
        // A message whose endpoint is disabled (or gone) fails now: left pending, it would
        // be leased and skipped by every alarm run, keeping the alarm firing for nothing.
        for message in due.iter().filter(|message| enabled(message).is_none()) {
            self.store
                .set_message(message, message.attempts, "failed", None)?;
        }
        let sends = due.iter().filter_map(|message| {
            let endpoint = enabled(message)?;
            let secrets = endpoint.secrets(master, application, now);
            Some(async move {
                let outcome = send(
                    &endpoint.url,
                    &message.id,
                    &message.body,
                    &secrets,
                    timeout_ms,
                )
                .await;
                (message.clone(), endpoint.id, outcome)
            })
        });
        let outcomes = join_all(sends).await;
        let finished = crate::clock::now();
        self.mutate(|loaded| {
            for (message, endpoint_id, outcome) in outcomes {
                self.record_outcome(
                    loaded,
                    &message,
                    endpoint_id,
                    &outcome,
                    finished,
                    &config.webhook_retry,
                )?;
            }
            Ok(())
        })?;
        self.refresh_next_attempt()
    }

    pub(super) fn record_outcome(
        &self,
        loaded: &mut Loaded,
        message: &MessageRow,
        endpoint_id: EndpointId,
        outcome: &Outcome,
        now: UnixMillis,
        retry: &RetryPolicy,
    ) -> ApiResult<()> {
        let attempt = message.attempts + 1;
        self.store.insert_attempt(
            &message.endpoint_id,
            &AttemptRow {
                message_id: message.id.clone(),
                event: message.event.clone(),
                attempt,
                status: outcome.status,
                error: outcome.error.map(str::to_owned),
                latency_ms: outcome.latency_ms,
                at: now.0,
            },
        )?;
        let Ok(index) = position(loaded, endpoint_id) else {
            return Ok(()); // deleted meanwhile: its messages went with it
        };
        let endpoint = &mut loaded.webhooks.endpoints[index];
        let mut health = endpoint.health();
        if health.is_disabled() && !outcome.status.is_some_and(is_delivered) {
            // Disabled by an earlier outcome of this same run, which failed the rest of its
            // messages: this one fails too, rather than wait for an endpoint that is off.
            return self.store.set_message(message, attempt, "failed", None);
        }
        if outcome.status.is_some_and(is_delivered) {
            self.store
                .set_message(message, attempt, "delivered", None)?;
            if health.succeeded() == HealthChange::Recovered {
                endpoint.set_health(health);
                self.store.save_endpoint(endpoint)?;
            }
            return Ok(());
        }
        match health.failed(now, retry) {
            HealthChange::Disabled => {
                endpoint.set_health(health);
                let endpoint = endpoint.clone();
                self.store.save_endpoint(&endpoint)?;
                self.store.set_message(message, attempt, "failed", None)?;
                self.store.fail_pending(endpoint.id)?;
                self.store.insert_audit(
                    now,
                    "webhook_endpoint.disabled",
                    None,
                    "system",
                    &ClientInfo::default(),
                    &AuditDetail::Webhook {
                        endpoint_id: endpoint.id,
                        host: endpoint.host(),
                    },
                )?;
            }
            _ => {
                if endpoint.failing_since != health.failing_since {
                    endpoint.set_health(health);
                    self.store.save_endpoint(endpoint)?;
                }
                let mut jitter = [0u8; 4];
                let _ = SystemRandom.fill_bytes(&mut jitter);
                let next = retry.next_attempt(attempt, now, u32::from_le_bytes(jitter));
                self.store
                    .set_message(message, attempt, "pending", Some(next))?;
            }
        }
        Ok(())
    }
}

/// One attempt's result.
pub(super) struct Outcome {
    pub(super) status: Option<u16>,
    pub(super) error: Option<&'static str>,
    pub(super) latency_ms: u64,
}

/// Sends one signed message, waiting at most `timeout_ms` for the answer. Redirects are
/// not followed: the endpoint is the URL its owner registered.
pub(super) async fn send(
    url: &str,
    message_id: &str,
    body: &str,
    secrets: &[EndpointSecret],
    timeout_ms: u64,
) -> Outcome {
    let started = now();
    let timestamp = started.0 / 1000;
    let failed = |error| Outcome {
        status: None,
        error: Some(error),
        latency_ms: now().0.saturating_sub(started.0),
    };
    let headers = Headers::new();
    let signature = signature_header(secrets, message_id, timestamp, body.as_bytes());
    for (name, value) in [
        ("Content-Type", "application/json"),
        ("User-Agent", "Aero2-Webhooks/1"),
        ("webhook-id", message_id),
        ("webhook-timestamp", &timestamp.to_string()),
        ("webhook-signature", &signature),
    ] {
        if headers.set(name, value).is_err() {
            return failed("connection_failed");
        }
    }
    let Ok(request) = crate::protocol::post_request(url, Some(&headers.0), body, true) else {
        return failed("connection_failed");
    };
    let controller = AbortController::default();
    let signal = controller.signal();
    let fetch = Fetch::Request(request);
    let sending = fetch.send_with_signal(&signal);
    let timeout = Delay::from(std::time::Duration::from_millis(timeout_ms));
    futures_util::pin_mut!(sending);
    match select(sending, timeout).await {
        Either::Left((Ok(response), _)) => {
            let status = response.status_code();
            Outcome {
                status: Some(status),
                error: (300..400)
                    .contains(&status)
                    .then_some("redirect_not_followed"),
                latency_ms: now().0.saturating_sub(started.0),
            }
        }
        Either::Left((Err(_), _)) => failed("connection_failed"),
        Either::Right(_) => {
            controller.abort();
            failed("timeout")
        }
    }
}
