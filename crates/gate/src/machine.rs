//! One gated request, as a state machine the host drives. The machine decides everything;
//! the host only performs the I/O it asks for ([`Action`]) and hands back what came of it
//! ([`Machine::resume`]). Cheapest first: the method, the path, a CORS preflight, the key's
//! format and checksum, secret keys elsewhere in the request, the client address's
//! failures, then at most one storage read or Durable Object call, then the core's one
//! decision ([`verify`]), then forwarding.

use std::net::IpAddr;

use aero2_keys::gate::wire::{
    LookupRequest, ReplicaName, RequestFacts, VerifyRequest, WireVerdict, PROTOCOL_VERSION,
};
use aero2_keys::gate::{
    key_from_authorization, observe, verify, ClientInfo, EdgeRecord, Presented, RateVerdict,
    Rejection, RequestTarget, SeenRequest, Verdict,
};
use aero2_keys::http::cors::{self, is_preflight, reflectable_origin};
use aero2_keys::http::forwarding::secret_key_in;
use aero2_keys::http::path::normalize;
use aero2_keys::http::query::overrides_method;
use aero2_keys::http::ErrorCode;
use aero2_keys::regional::{shard_of, Region};
use aero2_keys::{KeyId, KeyIdentity, UnixMillis};

use crate::forward::{self, ForwardPlan};
use crate::isolate::{self, Mode, LIMIT_PERIOD_MS};
use crate::request::RequestHeaders;
use crate::response::{ErrorResponse, QuickReply, Reply};
use crate::routes::{route, Route};

/// What the host must do next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Action {
    /// Answer with [`Machine::reply`].
    Respond = 0,
    /// Pass the request, unchanged, to the control plane (its own API's paths).
    Control = 1,
    /// Pass the request to the static assets (`/openapi.json`).
    Assets = 2,
    /// Read KV key [`Machine::target`]; resume with its text, or none.
    ReadKv = 3,
    /// Post [`Machine::body`] to the key ring named [`Machine::target`]; resume with the
    /// answer's status and text.
    AskRing = 4,
    /// Post [`Machine::body`] to the replica named [`Machine::target`], created near the
    /// location hint [`Machine::hint`]; resume with the answer's status and text.
    AskReplica = 5,
    /// Ask the rate-limiting binding [`Machine::target`] about the key [`Machine::body`];
    /// resume with status 1 when within the limit, 0 when over it.
    CountFailure = 6,
    /// Forward the request to the origin ([`Machine::forward_plan`]), signed.
    Forward = 7,
    /// Answer with the control plane's answer (without its `X-Aero2-Failure` report).
    PassControlAnswer = 8,
}

/// What a resumed step was waiting for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Waiting {
    Nothing,
    ApplicationRecord,
    KeyRecordExists,
    EdgeRecord,
    RingRecord,
    RingVerdict,
    ReplicaRecord,
    /// The application's failure count; then the address's.
    ApplicationFailure,
    /// The address's failure count, with the refusal to answer if within its limit.
    AddressFailure,
    /// The control plane's answer, and whether it reported a failure.
    ControlAnswer,
    /// The sign-in limit's count for a failure the control plane reported.
    SignInFailure,
}

pub struct Machine {
    pub action: Action,
    waiting: Waiting,
    /// Where the I/O goes (a KV key, an object's name, a binding).
    pub target: String,
    /// A location hint (regional mode).
    pub hint: &'static str,
    /// The command or key sent.
    pub body: String,
    /// The answer, once [`Action::Respond`].
    pub reply: Reply,
    /// The forwarded request, once [`Action::Forward`].
    pub forward: Option<ForwardPlan>,
    /// Set by [`quick_reply`] only: a refusal is kept unbuilt, in `quick_refusal`, because
    /// the quick path numbers its answers by it and builds each answer's text once.
    keep_refusal_unbuilt: bool,
    quick_refusal: Option<QuickReply>,
    /// Headers the gate sets on a request it passes to the control plane
    /// ([`Action::Control`]), which the host sends without any `X-Aero2-*` header of the
    /// client's.
    pub control_headers: Vec<(&'static str, String)>,
    request: Gated,
}

/// The facts of a gated request, owned (the machine outlives the host's call).
#[derive(Default)]
struct Gated {
    key: Option<KeyIdentity>,
    method: String,
    path: String,
    query: Option<String>,
    gate_origin: String,
    /// The page's origin that may read the answer (CORS), on a frontend route.
    cors_origin: Option<String>,
    page_origin: Option<String>,
    client_ip: Option<String>,
    /// The address's failure-count bucket (an IPv6 address counts with its /64).
    address_bucket: String,
    user_agent: Option<String>,
    from_browser: bool,
    method_override: bool,
    /// The key was found outside `Authorization`: looked up to record its exposure, and
    /// refused.
    outside_authorization: bool,
    region: Option<Region>,
    /// `request.cf`'s country, kept only by a canary's use.
    country: Option<String>,
    /// The client's headers the origin must not get (by name), and the `Cookie` it gets
    /// instead of the client's (without the worker's own cookies), if any.
    dropped_headers: Vec<String>,
    cookie: Option<String>,
    /// The refusal a failure count will answer with when within its limit.
    refusal: Option<ErrorResponse>,
}

/// Where the first checks ([`Machine::first_checks`]) leave a request.
enum FirstChecks<'u> {
    /// A gated path, answered by them ([`Action::Respond`]).
    Answered,
    /// The control plane's or the assets' path: passed on, or answered on their rules.
    Elsewhere,
    /// A gated path with a well-formed key: the rest of the request is read.
    Gated {
        path: std::borrow::Cow<'u, str>,
        key: KeyIdentity,
    },
    /// A gated path with no key in `Authorization`, and a secret key found elsewhere (the
    /// scan already made): refused, and the exposure recorded.
    Exposed {
        path: std::borrow::Cow<'u, str>,
        key: KeyIdentity,
    },
}

/// The answer to a request that the first checks refuse, made from its method, its URL and
/// its headers (`Authorization`, `Origin`, and the others only for a secret key sent
/// outside `Authorization`): the host's quick path, which
/// builds no [`Gate`](crate::Gate) and counts nothing (a malformed key costs no storage
/// read and no count). `None` when the request needs the whole machine. It is the same
/// code as [`Machine::start`]'s first checks, so the two cannot disagree (a test holds
/// them to it for random requests).
pub fn quick_reply(method: &str, url: &str, headers: &str) -> Option<QuickReply> {
    // A preflight also reads Access-Control-Request-Method and -Headers.
    if method == "OPTIONS" {
        return None;
    }
    let headers = RequestHeaders::parse(headers);
    let mut machine = Machine::new();
    machine.keep_refusal_unbuilt = true;
    let target = RequestTarget::split(url);
    match machine.first_checks(method, &target, &headers, UnixMillis(0)) {
        // Answered by anything but a refusal: the whole machine builds that answer.
        FirstChecks::Answered => machine.quick_refusal,
        FirstChecks::Elsewhere | FirstChecks::Gated { .. } | FirstChecks::Exposed { .. } => None,
    }
}

/// A secret key anywhere but `Authorization`: in the path, the query, another header or a
/// cookie, as sent or percent-decoded.
fn secret_key_outside_authorization(
    path: &str,
    target: &RequestTarget<'_>,
    headers: &RequestHeaders<'_>,
) -> Option<KeyIdentity> {
    secret_key_in(path)
        .or_else(|| target.query.and_then(secret_key_in))
        .or_else(|| {
            headers
                .all
                .iter()
                .filter(|(name, _)| *name != "authorization")
                .find_map(|(_, value)| secret_key_in(value))
        })
}

/// Methods that are gated and forwarded (the list `first_checks` matches, as `Allow` names
/// it). Others (`TRACE`, `CONNECT`, …) are refused: a `TRACE` would echo the request,
/// headers and all, back through the origin.
const GATED_METHODS: &str = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS";

impl Machine {
    fn new() -> Self {
        Machine {
            action: Action::Respond,
            waiting: Waiting::Nothing,
            target: String::new(),
            hint: "",
            body: String::new(),
            reply: Reply::default(),
            forward: None,
            keep_refusal_unbuilt: false,
            quick_refusal: None,
            control_headers: Vec::new(),
            request: Gated::default(),
        }
    }

    /// `request.cf`'s country, for the record of a canary's use.
    pub fn located(&mut self, country: &str) {
        self.request.country = Some(country.to_owned()).filter(|c| !c.is_empty());
    }

    /// Starts a request. `headers` is every header as `name\nvalue\n` pairs; `region` is
    /// where this gate runs ([`Region::locate`] of `request.cf`, or a test build's hint).
    pub fn start(
        method: &str,
        url: &str,
        headers: &str,
        region: Option<Region>,
        now: UnixMillis,
    ) -> Machine {
        let mut machine = Machine::new();
        let headers = RequestHeaders::parse(headers);
        machine.begin(method, url, &headers, region, now);
        machine
    }

    fn begin(
        &mut self,
        method: &str,
        url: &str,
        headers: &RequestHeaders<'_>,
        region: Option<Region>,
        now: UnixMillis,
    ) {
        let target = RequestTarget::split(url);
        // Every path past the first checks counts failures by the client's address.
        self.request.address_bucket =
            aero2_keys::policy::limit_bucket(headers.client_ip.unwrap_or("unknown"));
        // A secret key anywhere else would reach the origin, its logs and its caches. It is
        // refused with 400 whatever its record says, and its own KV record is read (never
        // a Durable Object) so that the exposure is recorded against it: verify's exposure
        // path decides. A blocked address gets the 400 without the read. With no key in
        // `Authorization`, the first checks have already looked.
        let (path, key, exposed) = match self.first_checks(method, &target, headers, now) {
            FirstChecks::Gated { path, key } => {
                let exposed = secret_key_outside_authorization(&path, &target, headers);
                (path, key, exposed)
            }
            FirstChecks::Exposed { path, key } => (path, key, Some(key)),
            FirstChecks::Answered | FirstChecks::Elsewhere => return,
        };
        let blocked = self.blocked_for(now);
        if let Some(exposed) = exposed {
            if blocked.is_some() {
                return self.respond(ErrorResponse::new(ErrorCode::SecretKeyOutsideAuthorization));
            }
            self.request.outside_authorization = true;
            self.note_request(exposed, method, &path, &target, headers, region);
            return self.look_up_exposed(now);
        }
        if let Some(seconds) = blocked {
            return self.respond(ErrorResponse::retry_after(
                ErrorCode::TooManyFailedAttempts,
                seconds,
            ));
        }
        // Nothing is forwarded unsigned: without a signing key, no request needs a lookup.
        if isolate::with(|i| i.settings.signing_kid.is_none()) {
            return self.respond(ErrorResponse::new(ErrorCode::OriginSigningNotConfigured));
        }
        self.note_request(key, method, &path, &target, headers, region);
        self.look_up(now);
    }

    /// Keeps what the lookup, the decision and forwarding need of the request.
    fn note_request(
        &mut self,
        key: KeyIdentity,
        method: &str,
        path: &str,
        target: &RequestTarget<'_>,
        headers: &RequestHeaders<'_>,
        region: Option<Region>,
    ) {
        let request = &mut self.request;
        request.key = Some(key);
        request.method = method.to_owned();
        request.path = path.to_owned();
        request.query = target.query.map(str::to_owned);
        request.gate_origin = target.origin.to_owned();
        request.page_origin = headers.page_origin().map(str::to_owned);
        request.client_ip = headers.client_ip.map(str::to_owned);
        request.user_agent = headers.user_agent.map(str::to_owned);
        request.from_browser = headers.sent_by_browser();
        request.method_override = overrides_method(target.query);
        request.region = region;
        let (dropped, cookie) = forward::client_headers(headers);
        request.dropped_headers = dropped;
        request.cookie = cookie;
    }

    /// A secret key found outside `Authorization`: its KV record, in every validation
    /// mode (edge mode's cache first), then the core's decision, which refuses it and
    /// records its exposure. One KV read at most; no Durable Object is woken for it.
    fn look_up_exposed(&mut self, now: UnixMillis) {
        let Some(key) = self.request.key else {
            return self.respond(ErrorResponse::new(ErrorCode::TemporarilyUnavailable));
        };
        let storage_id = key.storage_id.to_hex();
        match isolate::with(|i| i.records.get(&storage_id, now)) {
            Some(record) => self.decide_record(Some(record), now),
            None => self.read_kv(storage_id, Waiting::EdgeRecord),
        }
    }

    /// The first checks, cheapest first: the path, which Worker answers it, the method, a
    /// CORS preflight, the key's format and checksum. They read the method, the URL and
    /// four headers (`Authorization`, `Origin` and a preflight's two), nothing else, so
    /// that [`quick_reply`] can make their refusals without the rest of the request.
    fn first_checks<'u>(
        &mut self,
        method: &str,
        target: &RequestTarget<'u>,
        headers: &RequestHeaders<'_>,
        now: UnixMillis,
    ) -> FirstChecks<'u> {
        let Ok(path) = normalize(target.path) else {
            self.respond(ErrorResponse::new(ErrorCode::InvalidPath));
            return FirstChecks::Answered;
        };
        match route(&path) {
            Route::Control => {
                self.pass_to_control(method, &path, headers, now);
                return FirstChecks::Elsewhere;
            }
            Route::Assets if !matches!(method, "GET" | "HEAD") => {
                self.respond(ErrorResponse::method_not_allowed("GET, HEAD"));
                return FirstChecks::Elsewhere;
            }
            Route::Assets => {
                self.action = Action::Assets;
                return FirstChecks::Elsewhere;
            }
            Route::Gated => {}
        }
        let frontend = isolate::with(|i| i.settings.frontend_routes.matches(&path));
        let request = &mut self.request;
        request.cors_origin = headers
            .origin
            .filter(|_| frontend)
            .and_then(reflectable_origin)
            .map(str::to_owned);
        if !matches!(
            method,
            "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS"
        ) {
            self.respond(ErrorResponse::method_not_allowed(GATED_METHODS));
            return FirstChecks::Answered;
        }
        if frontend && is_preflight(method, headers.origin, headers.request_method) {
            self.reply = Reply::preflight(
                self.request.cors_origin.as_deref(),
                &cors::allow_headers(headers.request_headers),
            );
            self.action = Action::Respond;
            return FirstChecks::Answered;
        }
        // Malformed keys and bad checksums stop here, before any storage read; unless a
        // secret key was sent elsewhere instead (the commonest mistake: `?key=`, an
        // `X-Api-Key` header), which `begin` refuses and records as an exposure, without
        // looking again.
        match key_from_authorization(headers.authorization) {
            Ok(key) => FirstChecks::Gated { path, key },
            Err(rejection) => match secret_key_outside_authorization(&path, target, headers) {
                Some(exposed) => FirstChecks::Exposed { path, key: exposed },
                None => {
                    self.respond(ErrorResponse::rejection(rejection));
                    FirstChecks::Answered
                }
            },
        }
    }

    /// The control plane's own paths. The gate counts every failed authentication, the
    /// control plane's too (it reports them, see [`Machine::control_answered`]), so the
    /// limits apply here, before the control plane is asked: an address that failed too
    /// often waits, and one that made too many wrong sign-ins cannot try another.
    fn pass_to_control(
        &mut self,
        method: &str,
        path: &str,
        headers: &RequestHeaders<'_>,
        now: UnixMillis,
    ) {
        let key = headers
            .authorization
            .and_then(|header| key_from_authorization(Some(header)).ok());
        // A sign-in: the dashboard's (the operator token, a passkey, an invitation's
        // registration), or an operator token (an Authorization that is not a key). It has its own limit, so that an address flooded with made-up keys or
        // cookies does not lock its operator out.
        let signing_in = (method == "POST" && signs_in(path))
            || (headers.authorization.is_some_and(|h| !h.trim().is_empty()) && key.is_none());
        if let (false, Some(seconds)) = (signing_in, self.blocked_for(now)) {
            return self.respond(ErrorResponse::retry_after(
                ErrorCode::TooManyFailedAttempts,
                seconds,
            ));
        }
        let bucket = &self.request.address_bucket;
        let sign_in_wait = isolate::with(|i| i.sign_in_addresses.retry_after(bucket, now));
        if let (true, Some(seconds)) = (signing_in, sign_in_wait) {
            return self.respond(ErrorResponse::retry_after(
                ErrorCode::TooManySignInAttempts,
                seconds,
            ));
        }
        if let Some(key) = key {
            let flooded = isolate::with(|i| {
                i.flooded_applications
                    .retry_after(&key.application_id.to_string(), now)
                    .is_some()
            });
            if flooded {
                self.control_headers
                    .push(("X-Aero2-Flooded", String::from("1")));
            }
        }
        self.waiting = Waiting::ControlAnswer;
        self.action = Action::Control;
    }

    /// The control plane answered. `failure` is its `X-Aero2-Failure` report, if any: `key
    /// app_…` (a key that did not authenticate), `session` (a made-up session cookie) or
    /// `sign-in` (a wrong operator token or sign-in). The gate counts it, and past the
    /// limit answers 429 instead of the control plane's answer.
    pub fn control_answered(&mut self, failure: Option<&str>) {
        self.waiting = Waiting::Nothing;
        let Some(failure) = failure else {
            return self.action = Action::PassControlAnswer;
        };
        self.request.refusal = None;
        match failure.split_once(' ') {
            Some(("key", application)) => {
                self.target = String::from("FAILED_AUTH_APP_LIMITER");
                self.body = application.to_owned();
                self.waiting = Waiting::ApplicationFailure;
            }
            _ if failure == "sign-in" => {
                self.target = String::from("SIGN_IN_LIMITER");
                self.body = self.request.address_bucket.clone();
                self.waiting = Waiting::SignInFailure;
            }
            _ => {
                self.target = String::from("FAILED_AUTH_LIMITER");
                self.body = self.request.address_bucket.clone();
                self.waiting = Waiting::AddressFailure;
            }
        }
        self.action = Action::CountFailure;
    }

    /// How long the client's address must wait, when this isolate saw it fail too often.
    fn blocked_for(&self, now: UnixMillis) -> Option<u64> {
        let bucket = &self.request.address_bucket;
        isolate::with(|i| i.failed_addresses.retry_after(bucket, now))
    }

    /// The first lookup for the key's validation mode.
    fn look_up(&mut self, now: UnixMillis) {
        let Some(key) = self.request.key else {
            return self.respond(ErrorResponse::new(ErrorCode::TemporarilyUnavailable));
        };
        let mode = isolate::with(|i| i.settings.mode(key.kind));
        if mode == Mode::Edge {
            let cached = isolate::with(|i| i.records.get(&key.storage_id.to_hex(), now));
            return match cached {
                Some(record) => self.decide_record(Some(record), now),
                None => self.read_kv(key.storage_id.to_hex(), Waiting::EdgeRecord),
            };
        }
        // Strict and regional mode: forged keys name applications at random, so refuse
        // those here, with one KV read at most and no Durable Object woken (or created).
        if !isolate::with(|i| i.known_applications.contains(&key.application_id)) {
            return self.read_kv(
                format!("app:{}", key.application_id),
                Waiting::ApplicationRecord,
            );
        }
        self.after_application_known(now);
    }

    fn after_application_known(&mut self, now: UnixMillis) {
        let Some(key) = self.request.key else { return };
        // While the application is flooded with failing keys, a key must also have its own
        // KV record before a Durable Object is asked.
        let flooded = isolate::with(|i| {
            i.flooded_applications
                .retry_after(&key.application_id.to_string(), now)
                .is_some()
        });
        if flooded && self.waiting != Waiting::KeyRecordExists {
            return self.read_kv(key.storage_id.to_hex(), Waiting::KeyRecordExists);
        }
        self.ask_decider();
    }

    /// Strict mode asks the key ring for its verdict; regional mode asks the replica for the
    /// record.
    fn ask_decider(&mut self) {
        let Some(key) = self.request.key else { return };
        let mode = isolate::with(|i| i.settings.mode(key.kind));
        let request = &self.request;
        if mode == Mode::Strict {
            let command = VerifyRequest {
                v: PROTOCOL_VERSION,
                key,
                request: RequestFacts {
                    method: request.method.clone(),
                    path: request.path.clone(),
                    client_ip: request.client_ip.clone(),
                    origin: request.page_origin.clone(),
                    method_override: request.method_override,
                    country: request.country.clone(),
                },
                from_browser: request.from_browser,
                // All of it: the key ring keeps of it what an event needs (`observe`).
                client: ClientInfo::new(
                    request.client_ip.as_deref(),
                    request.user_agent.as_deref(),
                ),
            };
            self.body = command.to_json();
            self.target = key.application_id.to_string();
            self.waiting = Waiting::RingVerdict;
            return self.action = Action::AskRing;
        }
        let region = request.region.unwrap_or(Region::Enam);
        let shards = isolate::with(|i| i.settings.regional_shards);
        let replica = ReplicaName {
            application: key.application_id,
            region,
            shard: shard_of(&key.storage_id, shards),
        };
        self.body = LookupRequest {
            v: PROTOCOL_VERSION,
            replica,
            storage_id: key.storage_id,
        }
        .to_json();
        self.target = replica.object_name();
        self.hint = region.hint();
        self.waiting = Waiting::ReplicaRecord;
        self.action = Action::AskReplica;
    }

    fn read_kv(&mut self, key: String, waiting: Waiting) {
        self.target = key;
        self.waiting = waiting;
        self.action = Action::ReadKv;
    }

    /// The host's answer to the I/O asked for: a status (HTTP, or 1/0 for a limit; 0 when
    /// the I/O failed) and a text (`None` for a KV key that does not exist).
    pub fn resume(&mut self, status: u16, text: Option<&str>, now: UnixMillis) {
        let failed = status == 0
            && matches!(
                self.action,
                Action::ReadKv | Action::AskRing | Action::AskReplica
            );
        if failed {
            return self.respond(ErrorResponse::new(ErrorCode::TemporarilyUnavailable));
        }
        // The failure counts of the control plane's answers need no key.
        match self.waiting {
            Waiting::ApplicationFailure => return self.counted_application(status, now),
            Waiting::AddressFailure => return self.counted_address(status, now),
            Waiting::SignInFailure => return self.counted_sign_in(status, now),
            _ => {}
        }
        let Some(key) = self.request.key else {
            return self.respond(ErrorResponse::new(ErrorCode::TemporarilyUnavailable));
        };
        match self.waiting {
            Waiting::Nothing => self.respond(ErrorResponse::new(ErrorCode::TemporarilyUnavailable)),
            Waiting::ApplicationRecord => match text {
                None => self.refuse(ErrorResponse::rejection(Rejection::UnknownKey), now),
                Some(_) => {
                    isolate::with(|i| i.application_seen(key.application_id));
                    self.waiting = Waiting::Nothing;
                    self.after_application_known(now);
                }
            },
            Waiting::KeyRecordExists => match text {
                None => self.refuse(ErrorResponse::rejection(Rejection::UnknownKey), now),
                Some(_) => self.ask_decider(),
            },
            Waiting::EdgeRecord => match text.map(EdgeRecord::decode) {
                None => self.decide_record(None, now),
                Some(Ok(record)) => {
                    isolate::with(|i| i.records.put(key.storage_id.to_hex(), record.clone(), now));
                    self.decide_record(Some(record), now)
                }
                // A record in a format this gate does not read (written before an
                // upgrade): the key ring's own record decides.
                Some(Err(_)) => {
                    self.body = format!(
                        "{{\"command\":\"lookup_record\",\"v\":{PROTOCOL_VERSION},\"storage_id\":\"{}\"}}",
                        key.storage_id.to_hex()
                    );
                    self.target = key.application_id.to_string();
                    self.waiting = Waiting::RingRecord;
                    self.action = Action::AskRing;
                }
            },
            Waiting::RingRecord | Waiting::ReplicaRecord => {
                let record = match (status, text) {
                    (200, Some("none")) => None,
                    (200, Some(text)) => match EdgeRecord::decode(text) {
                        Ok(record) => Some(record),
                        Err(_) => {
                            return self
                                .respond(ErrorResponse::new(ErrorCode::TemporarilyUnavailable))
                        }
                    },
                    // A replica that can reach neither its lease nor its key ring fails
                    // closed.
                    _ => {
                        return self.respond(ErrorResponse::new(ErrorCode::TemporarilyUnavailable))
                    }
                };
                self.decide_record(record, now)
            }
            Waiting::RingVerdict => {
                let verdict = match (status, text.map(WireVerdict::decode)) {
                    (200, Some(Ok(verdict))) => verdict,
                    _ => {
                        return self.respond(ErrorResponse::new(ErrorCode::TemporarilyUnavailable))
                    }
                };
                self.carry_out(verdict, now)
            }
            Waiting::ApplicationFailure
            | Waiting::AddressFailure
            | Waiting::SignInFailure
            | Waiting::ControlAnswer => {}
        }
    }

    /// The application's failure count: past its limit the application is flooded (in this
    /// isolate, for a minute); then the address's count.
    fn counted_application(&mut self, within: u16, now: UnixMillis) {
        if within == 0 {
            let until = UnixMillis(now.0 + LIMIT_PERIOD_MS);
            let application = std::mem::take(&mut self.body);
            isolate::with(|i| i.flooded_applications.block(application, until, now));
        }
        self.target = String::from("FAILED_AUTH_LIMITER");
        self.body = self.request.address_bucket.clone();
        self.waiting = Waiting::AddressFailure;
        self.action = Action::CountFailure;
    }

    /// The address's failure count: past its limit, 429 and the address waits a minute;
    /// within it, the refusal (or the control plane's answer) stands.
    fn counted_address(&mut self, within: u16, now: UnixMillis) {
        if within == 0 {
            let until = UnixMillis(now.0 + LIMIT_PERIOD_MS);
            let bucket = self.request.address_bucket.clone();
            isolate::with(|i| i.failed_addresses.block(bucket, until, now));
            return self.respond(ErrorResponse::retry_after(
                ErrorCode::TooManyFailedAttempts,
                LIMIT_PERIOD_MS / 1000,
            ));
        }
        match self.request.refusal.take() {
            Some(refusal) => self.respond(refusal),
            None => self.action = Action::PassControlAnswer,
        }
    }

    /// The sign-in count: past its limit, 429 and the address's sign-ins wait a minute.
    fn counted_sign_in(&mut self, within: u16, now: UnixMillis) {
        if within == 0 {
            let until = UnixMillis(now.0 + LIMIT_PERIOD_MS);
            let bucket = self.request.address_bucket.clone();
            isolate::with(|i| i.sign_in_addresses.block(bucket, until, now));
            return self.respond(ErrorResponse::retry_after(
                ErrorCode::TooManySignInAttempts,
                LIMIT_PERIOD_MS / 1000,
            ));
        }
        self.action = Action::PassControlAnswer;
    }

    /// Edge and regional mode: the core's decision against the record, made here, with
    /// this isolate's rate windows; its effects (a use, events) are kept for the key ring.
    fn decide_record(&mut self, record: Option<EdgeRecord>, now: UnixMillis) {
        let Some(key) = self.request.key else { return };
        let request = &self.request;
        let client_ip: Option<IpAddr> = request.client_ip.as_deref().and_then(|ip| ip.parse().ok());
        let presented = Presented {
            key: &key,
            method: &request.method,
            path: &request.path,
            client_ip,
            origin: request.page_origin.as_deref(),
            from_browser: request.from_browser,
            method_override: request.method_override,
            outside_authorization: request.outside_authorization,
        };
        let verdict: Verdict = isolate::with(|i| {
            let routes = i.settings.frontend_routes.clone();
            verify(
                record.as_ref().map(EdgeRecord::view),
                &presented,
                &routes,
                &mut i.windows,
                now,
            )
        });
        if let Some(key_id) = verdict.key_id {
            self.record_effects(key_id, &verdict, now);
        }
        self.carry_out(WireVerdict::of(&verdict), now)
    }

    /// What a verdict asks of this host in edge and regional mode: count the use, and
    /// record the events, for the key ring (sent after the response).
    fn record_effects(&self, key_id: KeyId, verdict: &Verdict, now: UnixMillis) {
        let Some(key) = self.request.key else { return };
        let application = key.application_id;
        let request = &self.request;
        let client = ClientInfo::new(request.client_ip.as_deref(), request.user_agent.as_deref());
        let seen = SeenRequest {
            client: &client,
            from_browser: request.from_browser,
            origin: request.page_origin.as_deref(),
            method: &request.method,
            path: &request.path,
            country: request.country.as_deref(),
        };
        isolate::with(|i| {
            if verdict.counts_as_use {
                i.count_use(application, key_id, now);
            }
            for event in verdict.events.iter() {
                i.note_event((application, key_id, event), observe(event, &seen), now);
            }
        });
    }

    /// Answers a verdict: forward, or refuse with its code (a 401 counts against the
    /// address and the application first).
    fn carry_out(&mut self, verdict: WireVerdict, now: UnixMillis) {
        let Some(key) = self.request.key else { return };
        match verdict.outcome {
            // The core never passes such a key; should it, nothing is forwarded.
            Ok(()) if self.request.outside_authorization => {
                self.respond(ErrorResponse::new(ErrorCode::SecretKeyOutsideAuthorization))
            }
            Ok(()) => {
                let Some(key_id) = verdict.key_id else {
                    return self.respond(ErrorResponse::new(ErrorCode::TemporarilyUnavailable));
                };
                match forward::plan(&self.request_view(), &key, key_id, now) {
                    Ok(plan) => {
                        self.reply.cors_origin =
                            self.request.cors_origin.clone().filter(|_| verdict.cors);
                        self.forward = Some(plan);
                        self.action = Action::Forward;
                    }
                    Err(code) => self.respond(ErrorResponse::new(code)),
                }
            }
            Err(ErrorCode::RateLimited) => {
                let response = match verdict.rate {
                    Some(RateVerdict { limit, decision }) => ErrorResponse::retry_after(
                        ErrorCode::RateLimited,
                        decision.reset_after_seconds,
                    )
                    .with_header("RateLimit-Policy", limit.policy_header())
                    .with_header(
                        "RateLimit",
                        aero2_keys::policy::RateDecision {
                            allowed: false,
                            ..decision
                        }
                        .header(),
                    ),
                    None => ErrorResponse::new(ErrorCode::RateLimited),
                };
                self.respond_readable(response, verdict.cors)
            }
            Err(code) if code.status() == 401 => self.refuse(ErrorResponse::new(code), now),
            Err(code) => self.respond_readable(ErrorResponse::new(code), verdict.cors),
        }
    }

    /// A key that did not authenticate: counted against its application, then its address
    /// (`FAILED_AUTH_APP_LIMITER`, then `FAILED_AUTH_LIMITER`), then refused.
    fn refuse(&mut self, refusal: ErrorResponse, _now: UnixMillis) {
        let Some(key) = self.request.key else { return };
        self.request.refusal = Some(refusal);
        self.target = String::from("FAILED_AUTH_APP_LIMITER");
        self.body = key.application_id.to_string();
        self.waiting = Waiting::ApplicationFailure;
        self.action = Action::CountFailure;
    }

    fn respond(&mut self, response: ErrorResponse) {
        self.respond_readable(response, true)
    }

    /// The origin could not be reached: 502, readable by the page as any refusal is.
    pub fn origin_unreachable(&mut self) {
        let readable = self.reply.cors_origin.is_some();
        self.forward = None;
        self.respond_readable(ErrorResponse::new(ErrorCode::OriginUnreachable), readable);
    }

    /// The signing key could not be imported: nothing is forwarded unsigned.
    pub fn signing_unavailable(&mut self) {
        self.forward = None;
        self.respond(ErrorResponse::new(ErrorCode::OriginSigningNotConfigured));
    }

    /// An error answer; a page on a frontend route may read it unless the key's policy
    /// lists websites and this is not one.
    fn respond_readable(&mut self, response: ErrorResponse, readable: bool) {
        let cors_origin = self.request.cors_origin.as_deref().filter(|_| readable);
        if self.keep_refusal_unbuilt {
            self.quick_refusal = Some(QuickReply {
                refusal: response,
                readable_by: cors_origin.map(str::to_owned),
            });
        } else {
            self.reply = response.into_reply(cors_origin);
        }
        self.action = Action::Respond;
        self.waiting = Waiting::Nothing;
    }

    fn request_view(&self) -> forward::RequestView<'_> {
        forward::RequestView {
            method: &self.request.method,
            path: &self.request.path,
            query: self.request.query.as_deref(),
            gate_origin: &self.request.gate_origin,
            client_ip: self.request.client_ip.as_deref(),
            dropped_headers: &self.request.dropped_headers,
            cookie: self.request.cookie.as_deref(),
        }
    }
}

#[cfg(test)]
mod tests;

/// The paths where someone signs in: the operator's token exchange, a passkey sign-in or
/// step-up, and registering with an invitation's token. A wrong answer there is a failed
/// sign-in, and past the address's limit these paths stop here.
fn signs_in(path: &str) -> bool {
    path == "/v1/dashboard/session"
        || path.starts_with("/v1/passkeys/authentication")
        || path.starts_with("/v1/invitations/")
}
