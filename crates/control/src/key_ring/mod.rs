//! `KeyRingObject`: one Durable Object per application, the source of truth for its keys.
//!
//! It serialises every create, revoke and rotate for its application, keeps the key records
//! and the audit log in its SQLite storage (`store.rs`, `audit.rs`, `usage.rs`), mirrors
//! each key's state into Workers KV through an outbox (`outbox.rs`), and revokes rotated
//! keys from its alarm when their grace period ends (`alarm.rs`: every timer, one alarm).
//!
//! Who may do what is decided once, in `auth.rs`, before any management operation
//! (`ops.rs`) runs: the operations take the [`auth::Caller`] that only authentication
//! makes.
//!
//! Invariant: the in-memory ring is only changed in synchronous sections that also write
//! SQLite, so no other request can observe a half-applied operation. Awaits (KV writes,
//! alarms) happen after those sections.

mod alarm;
mod audit;
mod auth;
mod evidence;
mod ops;
mod outbox;
mod regional;
mod store;
mod system;
mod usage;
mod webhooks;

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use aero2_keys::gate::wire::{RequestFacts, UsageReport, WireVerdict};
use aero2_keys::gate::{
    canary_use, observe, verify, CanaryUse, ExactWindows, KeyEvent, Observed, Presented,
    RecordView, Rejection, SeenRequest, Verdict,
};
use aero2_keys::http::ErrorCode;
use aero2_keys::outbox::Outbox;
use aero2_keys::policy::Bucket;
use aero2_keys::repeats::Repeats;
use aero2_keys::timers::Alarm;
use aero2_keys::usage::UsageBatcher;
use aero2_keys::{KeyId, KeyIdentity, KeyRing, UnixMillis};
use futures_util::lock::Mutex;
use worker::{
    console_error, console_warn, durable_object, DurableObject, Env, Request, Response, Result,
    State,
};

use crate::clock::now;
use crate::config::Config;
use crate::errors::{ApiError, ApiResult};
use crate::json::json_response;
use crate::protocol::{ApplicationInfo, ClientInfo, RateVerdictV1, RingCommand, ValidatedV1};
use crate::views::Empty;
use aero2_keys::repeats::{EVENT_WINDOW_MS, MAX_HELD_EVENTS};
use outbox::{KvOutbox, KV_BACKOFF};
use store::Store;

/// Usage counts are written to SQLite at most this long after the request.
const USAGE_FLUSH_MS: u64 = 5_000;

/// What the key ring keeps in memory once loaded.
struct Loaded {
    application: ApplicationInfo,
    ring: KeyRing,
    last_used: HashMap<KeyId, UnixMillis>,
    outbox: KvOutbox,
    /// When the daily clean-up runs next (kept in storage too, so evictions cannot
    /// postpone it for ever).
    retention_next_at: UnixMillis,
    /// Endpoints, the next message to send, reminders sent.
    webhooks: webhooks::WebhookState,
    /// Regional mode: the leases granted to replicas, and what to push to them.
    replicas: regional::ReplicaState,
}

#[durable_object]
pub struct KeyRingObject {
    state: State,
    env: Env,
    store: Store,
    loaded: RefCell<Option<Loaded>>,
    /// Requests per key and hour not yet written to SQLite.
    usage: RefCell<UsageBatcher>,
    /// Rate-limit windows of the keys that have a limit: exact, since every strict-mode
    /// request of the application comes here. (An evicted object starts its windows
    /// afresh.)
    rate_windows: RefCell<ExactWindows>,
    /// The management changes this application may still make (`MANAGEMENT_WRITES_…`).
    /// Kept in memory: an evicted object starts with a full bucket.
    writes: Cell<Bucket>,
    /// Repeats of events seen here (strict mode) not yet written: see `note_event`.
    repeats: RefCell<Repeats<(KeyId, KeyEvent), Observed>>,
    alarm: Cell<Alarm>,
    /// Set when loading queued the ring's KV records in a new format: the alarm must be
    /// armed to write them.
    kv_upgrade_queued: Cell<bool>,
    /// KV writes are sent by one task at a time, so the newest state of a key is always
    /// the last one written.
    kv_flush: Mutex<()>,
    /// Test builds only: KV writes fail until this time.
    #[cfg(feature = "fault-injection")]
    kv_fail_until: Cell<u64>,
    /// Test builds only: gates' event reports are refused until this time.
    #[cfg(feature = "fault-injection")]
    refuse_reports_until: Cell<u64>,
    /// Test builds only: replicas cut off (pushes dropped, renewals refused) until then.
    #[cfg(feature = "fault-injection")]
    partitions: RefCell<Vec<(crate::protocol::ReplicaName, UnixMillis)>>,
}

impl DurableObject for KeyRingObject {
    fn new(state: State, env: Env) -> Self {
        // No storage is touched here: see store.rs.
        let store = Store::new(state.storage().sql());
        KeyRingObject {
            state,
            env,
            store,
            loaded: RefCell::new(None),
            usage: RefCell::new(UsageBatcher::new(USAGE_FLUSH_MS, u32::MAX)),
            rate_windows: RefCell::new(ExactWindows::default()),
            writes: Cell::new(Bucket::default()),
            repeats: RefCell::new(Repeats::new(EVENT_WINDOW_MS, MAX_HELD_EVENTS)),
            alarm: Cell::new(Alarm::default()),
            kv_upgrade_queued: Cell::new(false),
            kv_flush: Mutex::new(()),
            #[cfg(feature = "fault-injection")]
            kv_fail_until: Cell::new(0),
            #[cfg(feature = "fault-injection")]
            refuse_reports_until: Cell::new(0),
            #[cfg(feature = "fault-injection")]
            partitions: RefCell::new(Vec::new()),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let Ok(command) = crate::protocol::read_command::<RingCommand>(&mut req).await else {
            return Ok(
                ApiError::with_detail(ErrorCode::InvalidRequest, "unreadable command")
                    .into_response(),
            );
        };
        let now = now();
        let response = crate::boxed(self.handle(command, now))
            .await
            .unwrap_or_else(ApiError::into_response);
        // Whatever this request added to the audit log and may no longer change is chained.
        if self.loaded.borrow().is_some() {
            if let Err(err) = self.store.chain_due(now) {
                console_error!("the audit chain could not be extended ({})", err.code);
            }
        }
        if self.kv_upgrade_queued.take() {
            // Best effort: the records are in the outbox, and any later change arms it too.
            let _ = self.schedule().await;
        }
        Ok(response)
    }

    async fn alarm(&self) -> Result<Response> {
        let now = now();
        // The alarm that fired is gone; forget it so that rescheduling sets a new one.
        let mut alarm = self.alarm.get();
        alarm.fired();
        self.alarm.set(alarm);
        if let Err(err) = crate::boxed(self.run_alarm(now)).await {
            console_error!("key ring alarm failed ({}); it will be retried", err.code);
            return Err(worker::Error::RustError("alarm failed".into()));
        }
        if self.loaded.borrow().is_some() {
            if let Err(err) = self.store.chain_due(now) {
                console_error!("the audit chain could not be extended ({})", err.code);
            }
        }
        Response::empty()
    }
}

impl KeyRingObject {
    async fn handle(&self, command: RingCommand, now: UnixMillis) -> ApiResult<Response> {
        match command {
            RingCommand::Init {
                application,
                client,
            } => crate::boxed(self.init(application, &client, now)).await,
            RingCommand::Verify(request) => {
                let verdict = crate::boxed(self.verify(
                    &request.key,
                    &request.request,
                    request.from_browser,
                    &request.client,
                    now,
                ))
                .await?;
                Ok(Response::ok(WireVerdict::of(&verdict).encode())?)
            }
            RingCommand::Validate {
                key,
                request,
                from_browser,
                client,
            } => {
                let verdict =
                    crate::boxed(self.verify(&key, &request, from_browser, &client, now)).await?;
                validated_v1(&verdict, key.kind)
            }
            RingCommand::Manage {
                actor,
                client,
                op,
                issuer,
            } => {
                let caller = crate::boxed(self.authenticate(&actor, &client, now)).await?;
                crate::boxed(self.manage(&caller, &client, *op, &issuer, now)).await
            }
            RingCommand::RecordUsage(UsageReport { counts }) => {
                if self.record_usage_counts(&counts, now)? {
                    self.schedule().await?;
                }
                Ok(json_response(202, &Empty {}))
            }
            RingCommand::RecordEvents(received) => {
                #[cfg(feature = "fault-injection")]
                if now.0 < self.refuse_reports_until.get() {
                    return Err(ErrorCode::TemporarilyUnavailable.into());
                }
                if received.any_unreadable() {
                    // A gate of a later release: its deploy, or a rollback of this Worker
                    // alone. Named here so that the gap in the audit log has a cause.
                    console_warn!(
                        "record_events: events this release cannot read were not recorded: {}",
                        received.unreadable_summary()
                    );
                }
                if self.record_seen_events(&received.events, now)? {
                    // A webhook message may wait to be sent.
                    self.schedule().await?;
                }
                Ok(json_response(202, &Empty {}))
            }
            RingCommand::ReportLeaks { reports } => {
                crate::boxed(self.report_leaks(&reports, now)).await
            }
            RingCommand::RenewLease { replica } => {
                if !self.application_exists()? {
                    return Err(ErrorCode::ApplicationNotFound.into());
                }
                self.renew_lease(replica, now)
            }
            RingCommand::LookupRecord { v, storage_id } => self.lookup_record(v, &storage_id),
            #[cfg(feature = "fault-injection")]
            RingCommand::PartitionReplica { replica, for_ms } => {
                self.partition(replica, for_ms, now);
                Ok(json_response(200, &Empty {}))
            }
            #[cfg(feature = "fault-injection")]
            RingCommand::InjectKvFailure { fail_for_ms } => {
                self.kv_fail_until.set(now.0 + fail_for_ms);
                Ok(json_response(200, &Empty {}))
            }
            #[cfg(feature = "fault-injection")]
            RingCommand::RefuseReports { for_ms } => {
                self.refuse_reports_until.set(now.0 + for_ms);
                Ok(json_response(200, &Empty {}))
            }
            #[cfg(feature = "fault-injection")]
            RingCommand::RunRetention { days_later } => {
                self.run_retention(aero2_keys::UnixMillis(now.0 + days_later * 86_400_000))?;
                Ok(json_response(200, &Empty {}))
            }
            #[cfg(feature = "fault-injection")]
            RingCommand::FillAudit { count } => {
                self.ensure_loaded()?;
                for n in 0..count {
                    self.store.insert_audit(
                        now,
                        "test.filler",
                        None,
                        "system",
                        &ClientInfo::default(),
                        &crate::views::AuditDetail::Filler { n },
                    )?;
                }
                let head = self.store.chain_due(now)?;
                Ok(json_response(200, &serde_json::json!({ "seq": head.seq })))
            }
        }
    }

    // ----- loading ------------------------------------------------------------------------

    /// Loads the ring from storage if it is not in memory. An application that was never
    /// created is `application_not_found`.
    fn ensure_loaded(&self) -> ApiResult<()> {
        if self.loaded.borrow().is_some() {
            return Ok(());
        }
        let stored = self
            .store
            .load()?
            .ok_or(ApiError::from(ErrorCode::ApplicationNotFound))?;
        let ring = KeyRing::from_records(
            stored.application.id,
            stored.application.environment,
            stored.records,
        );
        *self.loaded.borrow_mut() = Some(Loaded {
            application: stored.application,
            ring,
            last_used: stored.last_used.into_iter().collect(),
            outbox: Outbox::from_entries(KV_BACKOFF, stored.outbox),
            retention_next_at: stored.retention_next_at,
            webhooks: self.store.load_webhooks()?,
            replicas: self.store.load_replicas()?,
        });
        self.upgrade_kv_records()
    }

    /// Rewrites the ring's KV records in the format the gate reads, once, after an upgrade
    /// from an older format (store.rs, migration 9). Until they are rewritten the gate asks
    /// this object for a record it cannot read, so no key stops working meanwhile.
    fn upgrade_kv_records(&self) -> ApiResult<()> {
        if self.store.kv_record_format()? >= store::KV_RECORD_FORMAT {
            return Ok(());
        }
        let now = now();
        let mut guard = self.loaded.borrow_mut();
        let Some(loaded) = guard.as_mut() else {
            return Ok(());
        };
        for record in loaded.ring.keys().to_vec() {
            self.persist(loaded, &record, now)?;
        }
        self.kv_upgrade_queued.set(true);
        self.store.set_kv_record_format(store::KV_RECORD_FORMAT)
    }

    /// Whether this Durable Object holds an application (loading it if so).
    fn application_exists(&self) -> ApiResult<bool> {
        match self.ensure_loaded() {
            Ok(()) => Ok(true),
            Err(err) if err.code == ErrorCode::ApplicationNotFound => Ok(false),
            Err(err) => Err(err),
        }
    }

    fn application_id(&self) -> ApiResult<aero2_keys::ApplicationId> {
        self.loaded
            .borrow()
            .as_ref()
            .map(|loaded| loaded.application.id)
            .ok_or_else(|| ErrorCode::TemporarilyUnavailable.into())
    }

    /// Reads the loaded ring (loading it first).
    fn read<T>(&self, read: impl FnOnce(&Loaded) -> ApiResult<T>) -> ApiResult<T> {
        self.ensure_loaded()?;
        let guard = self.loaded.borrow();
        let loaded = guard
            .as_ref()
            .ok_or(ApiError::from(ErrorCode::TemporarilyUnavailable))?;
        read(loaded)
    }

    /// Runs a synchronous change against the loaded ring. If storage fails part-way, the
    /// in-memory copy is dropped and reloaded from SQLite on the next request, so memory
    /// never claims more than storage holds.
    fn mutate<T>(&self, change: impl FnOnce(&mut Loaded) -> ApiResult<T>) -> ApiResult<T> {
        self.ensure_loaded()?;
        let mut guard = self.loaded.borrow_mut();
        let loaded = guard
            .as_mut()
            .ok_or(ApiError::from(ErrorCode::TemporarilyUnavailable))?;
        let result = change(loaded);
        if matches!(&result, Err(err) if err.code.status() >= 500) {
            *guard = None;
        }
        result
    }

    // ----- the gate, strict mode ----------------------------------------------------------

    /// Strict mode: the gate's one decision ([`verify`]) made against the authoritative
    /// record in memory, with this object's exact rate windows, then carried out: a key that
    /// authenticated counts as used, and the verdict's events are recorded.
    async fn verify(
        &self,
        key: &KeyIdentity,
        request: &RequestFacts,
        from_browser: bool,
        client: &ClientInfo,
        now: UnixMillis,
    ) -> ApiResult<Verdict> {
        let config = Config::cached(&self.env);
        let presented = Presented {
            key,
            method: &request.method,
            path: &request.path,
            client_ip: request.client_ip.as_deref().and_then(|ip| ip.parse().ok()),
            origin: request.origin.as_deref(),
            from_browser,
            method_override: request.method_override,
            // The gate looks a key found outside Authorization up itself (its KV record).
            outside_authorization: false,
        };
        // A key of an application that does not exist is answered exactly as an unknown
        // key of one that does: no oracle for which applications exist.
        let verdict = if self.application_exists()? {
            let guard = self.loaded.borrow();
            let loaded = guard
                .as_ref()
                .ok_or(ApiError::from(ErrorCode::TemporarilyUnavailable))?;
            let record = loaded
                .ring
                .find_by_storage_id(&key.storage_id)
                .map(|record| record.view(loaded.application.id));
            verify(
                record,
                &presented,
                &config.frontend_routes,
                &mut *self.rate_windows.borrow_mut(),
                now,
            )
        } else {
            verify(
                None,
                &presented,
                &config.frontend_routes,
                &mut *self.rate_windows.borrow_mut(),
                now,
            )
        };
        let seen = SeenRequest {
            client,
            from_browser,
            origin: request.origin.as_deref(),
            method: &request.method,
            path: &request.path,
            country: request.country.as_deref(),
        };
        self.carry_out(&verdict, &seen, now).await?;
        Ok(verdict)
    }

    /// What a verdict asks of its host: count the use, record the events.
    async fn carry_out(
        &self,
        verdict: &Verdict,
        seen: &SeenRequest<'_>,
        now: UnixMillis,
    ) -> ApiResult<()> {
        let Some(key_id) = verdict.key_id else {
            return Ok(());
        };
        if verdict.counts_as_use {
            self.record_usage(key_id, now).await?;
        }
        let mut look_again = false;
        for event in verdict.events.iter() {
            look_again |= self.note_event(key_id, event, observe(event, seen), now)?;
        }
        if look_again {
            self.schedule().await?;
        }
        Ok(())
    }

    /// The management API's decision about a presented key (`rights::key_manager`, in
    /// `auth.rs`), made from its record, then the books it needs kept: a key that
    /// authenticated counts as used, and a secret key a browser sent is recorded as
    /// exposed. A key of an application that does not exist is answered exactly as an
    /// unknown key of one that does: no oracle for which applications exist.
    async fn decide<T>(
        &self,
        key: &KeyIdentity,
        seen: &SeenRequest<'_>,
        now: UnixMillis,
        decide: impl FnOnce(RecordView<'_>) -> Result<T, Rejection>,
    ) -> ApiResult<T> {
        if !self.application_exists()? {
            return Err(Rejection::UnknownKey.into());
        }
        let (key_id, canary, decision) = {
            let guard = self.loaded.borrow();
            let loaded = guard
                .as_ref()
                .ok_or(ApiError::from(ErrorCode::TemporarilyUnavailable))?;
            let record = loaded
                .ring
                .find_by_storage_id(&key.storage_id)
                .ok_or(Rejection::UnknownKey)?;
            let view = record.view(loaded.application.id);
            (record.id, canary_use(view, key), decide(view))
        };
        // A canary: refused exactly as an unknown key is, its use recorded at once.
        if let Some(canary) = canary {
            if canary == CanaryUse::Armed {
                let observed = observe(KeyEvent::CanaryUsed, seen);
                if self.note_event(key_id, KeyEvent::CanaryUsed, observed, now)? {
                    self.schedule().await?;
                }
            }
            return Err(Rejection::UnknownKey.into());
        }
        if decision
            .as_ref()
            .map_or_else(Rejection::key_authenticated, |_| true)
        {
            self.record_usage(key_id, now).await?;
        }
        if let Err(Rejection::SecretKeyInBrowser) = decision {
            let observed = observe(KeyEvent::SecretInBrowser, seen);
            if self.note_event(key_id, KeyEvent::SecretInBrowser, observed, now)? {
                self.schedule().await?;
            }
        }
        decision.map_err(ApiError::from)
    }
}

/// The previous release's answer to `Validate` (protocol version 1): the verdict as JSON,
/// a refusal as the usual error answer.
fn validated_v1(verdict: &Verdict, kind: aero2_keys::KeyKind) -> ApiResult<Response> {
    let rate = verdict.rate.map(|rate| RateVerdictV1 {
        limit: rate.limit,
        allowed: rate.decision.allowed,
        remaining: rate.decision.remaining,
        reset_after_seconds: rate.decision.reset_after_seconds,
    });
    match (verdict.outcome, verdict.key_id) {
        (aero2_keys::gate::Outcome::Refused(rejection), _) => Err(rejection.into()),
        (_, Some(key_id)) => Ok(json_response(
            200,
            &ValidatedV1 {
                key_id,
                kind,
                cors: verdict.cors,
                rate,
            },
        )),
        (_, None) => Err(Rejection::UnknownKey.into()),
    }
}
