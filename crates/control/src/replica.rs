//! `ValidationReplica`: regional mode's copy of one shard of an application's key records,
//! in memory, in the gate's own region (created with a location hint).
//!
//! It answers from memory while its lease from the key ring lasts (less the clock margin;
//! `aero2_keys::regional`), applies the changes the key ring pushes, and renews its lease
//! in the last third of it if it was used. Without a lease it renews first, and if the key
//! ring cannot be reached it fails closed: it asks the key ring for the one record, and
//! refuses (503) if that fails too. It stores nothing: evicted, it starts again from a
//! renewal.

use std::cell::{Cell, RefCell};

use aero2_keys::gate::EdgeRecord;
use aero2_keys::http::ErrorCode;
use aero2_keys::regional::{Applied, Replica};
use aero2_keys::{StorageId, UnixMillis};
use futures_util::lock::Mutex;
use worker::{durable_object, DurableObject, Env, Request, Response, Result, ScheduledTime, State};

use crate::clock::now;
use crate::config::Config;
use crate::errors::{ApiError, ApiResult};
use crate::json::json_response;
use crate::protocol::{
    read_answer, read_command, to_key_ring, LeaseGrant, RecordAnswer, ReplicaCommand, ReplicaName,
    RingCommand,
};
use crate::views::Empty;

#[durable_object]
pub struct ValidationReplica {
    state: State,
    env: Env,
    replica: RefCell<Replica>,
    name: Cell<Option<ReplicaName>>,
    /// Whether a lookup was answered since the last renewal: an idle replica lets its
    /// lease end instead of renewing for nothing.
    used: Cell<bool>,
    /// One renewal at a time.
    renewing: Mutex<()>,
}

impl DurableObject for ValidationReplica {
    fn new(state: State, env: Env) -> Self {
        ValidationReplica {
            state,
            env,
            replica: RefCell::new(Replica::default()),
            name: Cell::new(None),
            used: Cell::new(false),
            renewing: Mutex::new(()),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let answer = match read_command::<ReplicaCommand>(&mut req).await {
            Ok(ReplicaCommand::Lookup {
                v,
                replica,
                storage_id,
            }) => {
                self.name.set(Some(replica));
                self.lookup(replica, &storage_id)
                    .await
                    .and_then(|answer| match v {
                        // The previous release's gate reads JSON.
                        0 | 1 => Ok(json_response(200, &answer)),
                        _ => compact_answer(answer.record.as_ref()),
                    })
            }
            Ok(ReplicaCommand::Apply { replica, push }) => {
                self.name.set(Some(replica));
                let applied = self.replica.borrow_mut().apply(push);
                if applied == Applied::Applied {
                    self.arm_renewal().await;
                }
                // A gap is acknowledged too: the replica no longer answers from memory.
                Ok(json_response(200, &Empty {}))
            }
            Err(err) => Err(err),
        };
        Ok(answer.unwrap_or_else(ApiError::into_response))
    }

    async fn alarm(&self) -> Result<Response> {
        // Renew ahead of the end if the replica was used; otherwise let the lease lapse.
        if let Some(name) = self.name.get() {
            if self.used.replace(false) {
                let _ = self.renew(name).await;
            }
        }
        Response::empty()
    }
}

/// A record as the gate reads it: compact text, or `none` for a key there is no record of.
pub fn compact_answer(record: Option<&EdgeRecord>) -> ApiResult<Response> {
    let text = record.map_or_else(|| String::from("none"), EdgeRecord::encode);
    Ok(Response::ok(text)?)
}

impl ValidationReplica {
    async fn lookup(&self, name: ReplicaName, storage_id: &StorageId) -> ApiResult<RecordAnswer> {
        let margin = Config::cached(&self.env).regional.clock_margin_ms;
        self.used.set(true);
        if let Some(record) = self.answer_from_memory(storage_id, margin) {
            return Ok(RecordAnswer { record });
        }
        if self.renew(name).await.is_ok() {
            if let Some(record) = self.answer_from_memory(storage_id, margin) {
                return Ok(RecordAnswer { record });
            }
        }
        // Fail closed: the key ring's own answer, or an error.
        let command = RingCommand::LookupRecord {
            v: 1,
            storage_id: *storage_id,
        };
        read_answer(to_key_ring(&self.env, name.application, &command).await?).await
    }

    fn answer_from_memory(
        &self,
        storage_id: &StorageId,
        margin_ms: u64,
    ) -> Option<Option<EdgeRecord>> {
        self.replica
            .borrow()
            .lookup(storage_id, now(), margin_ms)
            .map(|record| record.cloned())
    }

    /// Asks the key ring for a lease and a full copy.
    async fn renew(&self, name: ReplicaName) -> ApiResult<()> {
        let _one_at_a_time = self.renewing.lock().await;
        let command = RingCommand::RenewLease { replica: name };
        let grant: LeaseGrant =
            read_answer(to_key_ring(&self.env, name.application, &command).await?).await?;
        let taken = self
            .replica
            .borrow_mut()
            .renew(grant.version, grant.lease, grant.records);
        if !taken {
            return Err(ErrorCode::TemporarilyUnavailable.into());
        }
        self.arm_renewal().await;
        Ok(())
    }

    /// Sets the alarm for the last third of the lease.
    async fn arm_renewal(&self) {
        let settings = Config::cached(&self.env).regional;
        let Some(lease) = self.replica.borrow().lease else {
            return;
        };
        let at = lease
            .renew_at(settings.lease_ms, settings.clock_margin_ms)
            .max(UnixMillis(now().0 + 1));
        let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(at.0 as f64));
        let _ = self
            .state
            .storage()
            .set_alarm(ScheduledTime::new(date))
            .await;
    }
}
