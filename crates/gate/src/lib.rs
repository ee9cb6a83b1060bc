//! The Aero2 Keys gate: the Worker every gated request runs in. It is this small wasm
//! module and a JavaScript host (`js/worker.mjs`) that performs its I/O; the control plane
//! (`crates/control`) is a Worker of its own, which a gated request never loads.
//!
//! - `machine`: one request as a state machine; the host does what [`Action`] says and
//!   hands the result back. Every decision is the core's (`aero2_keys::gate::verify`).
//! - `request`: the request's headers, read once; `routes`: which Worker answers a path;
//! - `forward`: what the origin gets; `response`: the gate's own answers;
//! - `isolate`: what an isolate keeps between requests (settings, the record cache, known
//!   applications, failure counts, rate windows, usage and events for the key rings).
//!
//! The functions below are the host's whole interface: strings and numbers across the
//! boundary, a few calls per request.

mod forward;
mod isolate;
mod machine;
mod request;
mod response;
mod routes;

use aero2_keys::http::forwarding::sets_worker_cookie;
use aero2_keys::regional::Region;
use aero2_keys::UnixMillis;
use wasm_bindgen::prelude::wasm_bindgen;

pub use machine::{Action, Machine};

/// Reads the gate's settings, `NAME=value` lines (`isolate::Settings::parse`). The host
/// calls it once per isolate.
#[wasm_bindgen]
pub fn configure(settings: &str) {
    let settings = isolate::Settings::parse(settings);
    isolate::with(|i| i.configure(settings));
}

/// One request, for the host to drive.
#[wasm_bindgen]
pub struct Gate {
    machine: Machine,
}

#[wasm_bindgen]
impl Gate {
    /// Starts a request. `headers`: every header as `name\nvalue\n`. `continent`,
    /// `country` and `longitude` are `request.cf`'s (regional mode's region); `region` a
    /// test build's region hint, or empty.
    // Scalars, not one object: each crosses the wasm boundary without a conversion.
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        method: &str,
        url: &str,
        headers: &str,
        continent: &str,
        country: &str,
        longitude: f64,
        region: &str,
        now: f64,
    ) -> Gate {
        let region = Region::parse(region).unwrap_or_else(|| {
            Region::locate(
                Some(continent).filter(|c| !c.is_empty()),
                Some(country).filter(|c| !c.is_empty()),
                Some(longitude).filter(|l| l.is_finite()),
            )
        });
        let mut machine = Machine::start(method, url, headers, Some(region), millis(now));
        machine.located(country);
        Gate { machine }
    }

    /// What the host must do next ([`Action`]).
    #[wasm_bindgen(getter)]
    pub fn action(&self) -> u8 {
        self.machine.action as u8
    }

    #[wasm_bindgen(getter)]
    pub fn target(&self) -> String {
        self.machine.target.clone()
    }

    #[wasm_bindgen(getter)]
    pub fn hint(&self) -> String {
        self.machine.hint.to_owned()
    }

    #[wasm_bindgen(getter)]
    pub fn body(&self) -> String {
        self.machine.body.clone()
    }

    /// The I/O's result: a status (0 when it failed) and a text (`undefined` for a KV key
    /// that does not exist).
    pub fn resume(&mut self, status: u16, text: Option<String>, now: f64) {
        self.machine.resume(status, text.as_deref(), millis(now));
    }

    /// [`Action::Control`]: headers to set on the request passed to the control plane, as
    /// `name\nvalue\n` lines.
    #[wasm_bindgen(getter)]
    pub fn control_headers(&self) -> String {
        let mut out = String::new();
        for (name, value) in &self.machine.control_headers {
            response::push_header(&mut out, name, value);
        }
        out
    }

    /// [`Action::Control`] done: the control plane's `X-Aero2-Failure` report (empty for
    /// none). Then [`Action::CountFailure`], [`Action::Respond`] or
    /// [`Action::PassControlAnswer`].
    pub fn control_answered(&mut self, failure: &str) {
        self.machine
            .control_answered(Some(failure).filter(|f| !f.is_empty()));
    }

    /// [`Action::Respond`]: the answer, packed ([`response::Reply::packed`]).
    #[wasm_bindgen(getter)]
    pub fn reply(&self) -> String {
        self.machine.reply.packed()
    }

    /// [`Action::Forward`]: the plan, packed ([`forward::ForwardPlan::packed`]).
    #[wasm_bindgen(getter)]
    pub fn plan(&self) -> String {
        let cors_origin = self.machine.reply.cors_origin.as_deref();
        self.machine
            .forward
            .as_ref()
            .map(|plan| plan.packed(cors_origin))
            .unwrap_or_default()
    }

    /// [`Action::Forward`]: the signing key could not be used. Then [`Action::Respond`]
    /// (503 `origin_signing_not_configured`).
    pub fn signing_unavailable(&mut self) {
        self.machine.signing_unavailable();
    }

    /// [`Action::Forward`] failed: the origin could not be reached. Then [`Action::Respond`].
    pub fn origin_unreachable(&mut self) {
        self.machine.origin_unreachable();
    }
}

/// The host's quick path ([`machine::quick_reply`]): for a request that its method, URL
/// and headers (`name\nvalue\n` lines, as for [`Gate::start`]) already refuse (a malformed
/// key, a bad checksum, no key, a bad path; and no secret key sent elsewhere instead), the
/// number of its answer ([`quick_answer`]); 0 when the request needs a [`Gate`].
#[wasm_bindgen]
pub fn quick(method: &str, url: &str, headers: &str) -> u32 {
    match machine::quick_reply(method, url, headers) {
        Some(answer) => isolate::with(|i| i.answers.number(answer)),
        None => 0,
    }
}

/// The quick path's answer numbered `number`, packed ([`response::Reply::packed`]). The
/// host asks once per number; [`response::AnswerTable::UNNUMBERED`] is the last answer
/// that got no number, which it asks for each time.
#[wasm_bindgen]
pub fn quick_answer(number: u32) -> String {
    isolate::with(|i| i.answers.text(number).to_owned())
}

/// Whether the origin's `Set-Cookie` value sets one of the worker's own cookies, which the
/// host then drops from the answer.
#[wasm_bindgen]
pub fn sets_own_cookie(set_cookie: &str) -> bool {
    sets_worker_cookie(set_cookie)
}

/// The reports for key rings that are due (usage, events): `application\tcommand` lines.
#[wasm_bindgen]
pub fn reports(now: f64) -> String {
    let mut out = String::new();
    for (application, json) in isolate::with(|i| i.take_reports(millis(now))) {
        out.push_str(&application.to_string());
        out.push('\t');
        out.push_str(&json);
        out.push('\n');
    }
    out
}

/// When reports are next due (ms since the epoch; `now` or earlier when some are due now,
/// infinity when none wait). Between two requests that the machine handles, only time
/// changes this, so the host's quick path compares the clock with it instead of asking.
#[wasm_bindgen]
pub fn reports_due_at(now: f64) -> f64 {
    isolate::with(|i| i.reports_due_at(millis(now))).map_or(f64::INFINITY, |at| at.0 as f64)
}

/// When held repeats of an event are next due (ms since the epoch), or 0 when none is
/// held: the host waits for it after a response, so that a burst's count is sent even if no
/// request follows.
#[wasm_bindgen]
pub fn next_report_at() -> f64 {
    isolate::with(|i| i.next_report_at()).map_or(0.0, |at| at.0 as f64)
}

fn millis(now: f64) -> UnixMillis {
    UnixMillis(if now.is_finite() && now > 0.0 {
        now as u64
    } else {
        0
    })
}
