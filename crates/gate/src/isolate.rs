//! What one gate isolate keeps between requests: its settings, and the state that spares a
//! request work. Nothing here is shared between isolates; each bound is stated where it is
//! kept.

use aero2_keys::hashing::{self, Map, Set};
use std::cell::RefCell;

use aero2_keys::cache::RecordCache;
use aero2_keys::gate::wire::{EventReport, SeenEvent, UsageReport};
use aero2_keys::gate::{EdgeRecord, FrontendRoutes, IsolateWindows, KeyEvent, Observed};
use aero2_keys::repeats::{Repeats, EVENT_WINDOW_MS, MAX_HELD_EVENTS};
use aero2_keys::usage::UsageBatcher;
use aero2_keys::{ApplicationId, Environment, KeyId, KeyKind, UnixMillis};

/// How a key kind is validated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The application's key ring decides (a Durable Object call): a revocation holds for
    /// the very next request, everywhere.
    Strict,
    /// The Workers KV record alone: no Durable Object call; a revocation takes KV's
    /// propagation delay (and the record cache) to reach every location.
    Edge,
    /// The replica in the gate's region, which the key ring pushes every change to.
    Regional,
}

/// The gate's settings, read once per isolate from the host's environment
/// (`wrangler.toml` `[vars]` and secrets).
#[derive(Clone, Debug)]
pub struct Settings {
    pub frontend_routes: FrontendRoutes,
    pub secret_mode: Mode,
    pub publishable_mode: Mode,
    /// Edge mode: how long a key's KV record is reused (`EDGE_CACHE_SECONDS`).
    pub edge_cache_ms: u64,
    /// Regional mode: replicas per region (`REGIONAL_SHARDS`).
    pub regional_shards: u8,
    /// Where gated requests go, without a trailing slash; empty when unset.
    pub origin_url: String,
    /// Where requests with test keys go, when set.
    pub test_origin_url: Option<String>,
    /// The assertion's `iss`; the request's own origin when unset.
    pub assertion_issuer: Option<String>,
    /// The signing key's id; `None` when `ORIGIN_SIGNING_KEY` is unset or unusable, and
    /// then nothing is forwarded.
    pub signing_kid: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            frontend_routes: FrontendRoutes::default(),
            secret_mode: Mode::Strict,
            publishable_mode: Mode::Strict,
            edge_cache_ms: 5_000,
            regional_shards: 1,
            origin_url: String::new(),
            test_origin_url: None,
            assertion_issuer: None,
            signing_kid: None,
        }
    }
}

impl Settings {
    /// Reads `NAME=value` lines. Unknown names and values out of range keep the default.
    pub fn parse(text: &str) -> Settings {
        let mut settings = Settings::default();
        let mode = |value: &str| match value {
            "edge" => Mode::Edge,
            "regional" => Mode::Regional,
            _ => Mode::Strict,
        };
        let url = |value: &str| value.trim().trim_end_matches('/').to_owned();
        for line in text.lines() {
            let Some((name, value)) = line.split_once('=') else {
                continue;
            };
            let present = !value.trim().is_empty();
            match name {
                "FRONTEND_ROUTES" if present => {
                    settings.frontend_routes = FrontendRoutes::parse(value)
                }
                "SECRET_KEY_VALIDATION" => settings.secret_mode = mode(value),
                "PUBLISHABLE_KEY_VALIDATION" => settings.publishable_mode = mode(value),
                "EDGE_CACHE_SECONDS" => {
                    if let Some(seconds) = value.parse::<u64>().ok().filter(|s| *s <= 60) {
                        settings.edge_cache_ms = seconds * 1000;
                    }
                }
                "REGIONAL_SHARDS" => {
                    if let Some(shards) = value.parse::<u8>().ok().filter(|s| (1..=16).contains(s))
                    {
                        settings.regional_shards = shards;
                    }
                }
                "ORIGIN_URL" => settings.origin_url = url(value),
                "TEST_ORIGIN_URL" if present => settings.test_origin_url = Some(url(value)),
                "ASSERTION_ISSUER" if present => {
                    settings.assertion_issuer = Some(value.trim().to_owned())
                }
                "SIGNING_KID" if present => settings.signing_kid = Some(value.to_owned()),
                _ => {}
            }
        }
        settings
    }

    pub fn mode(&self, kind: KeyKind) -> Mode {
        match kind {
            KeyKind::Secret => self.secret_mode,
            KeyKind::Publishable => self.publishable_mode,
        }
    }

    /// The origin for a key's environment: `TEST_ORIGIN_URL` keeps test keys off the
    /// production origin entirely.
    pub fn origin_for(&self, environment: Environment) -> &str {
        match (environment, &self.test_origin_url) {
            (Environment::Test, Some(test_origin)) => test_origin,
            _ => &self.origin_url,
        }
    }
}

/// Addresses (or applications) this isolate knows are over a limit, until when.
pub struct Blocked {
    until: Map<String, UnixMillis>,
    cap: usize,
}

impl Blocked {
    fn new(cap: usize) -> Self {
        Blocked {
            until: hashing::map(),
            cap,
        }
    }

    /// Seconds to wait, when `name` is blocked at `now`.
    pub fn retry_after(&self, name: &str, now: UnixMillis) -> Option<u64> {
        let until = *self.until.get(name)?;
        (now < until).then(|| (until.0 - now.0).div_ceil(1000).max(1))
    }

    pub fn block(&mut self, name: String, until: UnixMillis, now: UnixMillis) {
        if self.until.len() >= self.cap && !self.until.contains_key(&name) {
            self.until.retain(|_, at| *at > now);
            if self.until.len() >= self.cap {
                self.until.clear();
            }
        }
        self.until.insert(name, until);
    }
}

type EventKey = (ApplicationId, KeyId, KeyEvent);

/// The isolate's state.
pub struct Isolate {
    pub settings: Settings,
    /// Edge mode's records, for `EDGE_CACHE_SECONDS` (at most 10,000).
    pub records: RecordCache<EdgeRecord>,
    /// Applications seen to exist (at most 50,000; cleared when full). A miss is never
    /// kept, so a new application is refused for at most KV's propagation delay.
    pub known_applications: Set<ApplicationId>,
    /// Addresses past `FAILED_AUTH_LIMITER` (at most 10,000).
    pub failed_addresses: Blocked,
    /// Addresses past `SIGN_IN_LIMITER`: too many wrong operator tokens or sign-ins.
    pub sign_in_addresses: Blocked,
    /// Applications past `FAILED_AUTH_APP_LIMITER`: under a flood of failing keys.
    pub flooded_applications: Blocked,
    /// Rate windows of keys with a rate limit (edge and regional mode; at most 10,000).
    pub windows: IsolateWindows,
    /// Usage, sent to each key ring at most every 5 s or 500 requests.
    usage: UsageBatcher,
    /// Events, the first of each window sent at once, repeats as one count.
    events: Repeats<EventKey, Observed>,
    /// Reports waiting for the host to send them: (application, command JSON).
    outbox: Vec<(ApplicationId, String)>,
    /// The quick path's answers, numbered for the host.
    pub answers: crate::response::AnswerTable,
}

pub const KNOWN_APPLICATIONS_CAP: usize = 50_000;
/// Workers Rate Limiting's period, for the limits the gate asks about.
pub const LIMIT_PERIOD_MS: u64 = 60_000;

impl Isolate {
    fn new() -> Self {
        Isolate {
            settings: Settings::default(),
            records: RecordCache::new(0, 10_000),
            known_applications: hashing::set(),
            failed_addresses: Blocked::new(10_000),
            sign_in_addresses: Blocked::new(10_000),
            flooded_applications: Blocked::new(10_000),
            windows: IsolateWindows::new(10_000),
            usage: UsageBatcher::new(5_000, 500),
            events: Repeats::new(EVENT_WINDOW_MS, MAX_HELD_EVENTS),
            outbox: Vec::new(),
            answers: crate::response::AnswerTable::new(),
        }
    }

    pub fn configure(&mut self, settings: Settings) {
        self.records = RecordCache::new(settings.edge_cache_ms, 10_000);
        self.settings = settings;
    }

    pub fn application_seen(&mut self, application: ApplicationId) {
        if self.known_applications.len() >= KNOWN_APPLICATIONS_CAP {
            self.known_applications.clear();
        }
        self.known_applications.insert(application);
    }

    /// Counts a use of a key; a batch that is due goes to the outbox.
    pub fn count_use(&mut self, application: ApplicationId, key_id: KeyId, now: UnixMillis) {
        if self.usage.record(application, key_id, 1, now).due {
            for (application, counts) in self.usage.take() {
                let json = UsageReport { counts }.to_json();
                self.outbox.push((application, json));
            }
        }
    }

    /// An event seen: the first of its window goes to the outbox now, repeats later.
    pub fn note_event(&mut self, key: EventKey, observed: Observed, now: UnixMillis) {
        let recorded = self.events.record(key, observed, now);
        self.queue_events(recorded.send);
    }

    /// Moves the repeats whose window is over, and a usage batch that is due, to the
    /// outbox; returns everything waiting there.
    pub fn take_reports(&mut self, now: UnixMillis) -> Vec<(ApplicationId, String)> {
        let due = self.events.take_due(now);
        self.queue_events(due);
        if self.usage.is_due(now) {
            for (application, counts) in self.usage.take() {
                let json = UsageReport { counts }.to_json();
                self.outbox.push((application, json));
            }
        }
        std::mem::take(&mut self.outbox)
    }

    /// When repeats held now are next due, so that a burst's count is sent even if no
    /// request follows. (Usage waits for a later request: counts still held when an
    /// isolate is evicted are lost, as README.md says.)
    pub fn next_report_at(&self) -> Option<UnixMillis> {
        self.events.deadline()
    }

    /// When something is next due to be sent: `now` when it waits already.
    pub fn reports_due_at(&self, now: UnixMillis) -> Option<UnixMillis> {
        if self.reports_waiting(now) {
            return Some(now);
        }
        [self.usage.deadline(), self.events.deadline()]
            .into_iter()
            .flatten()
            .min()
    }

    /// Whether something waits to be sent at `now`.
    pub fn reports_waiting(&self, now: UnixMillis) -> bool {
        !self.outbox.is_empty()
            || self.usage.is_due(now)
            || self.events.deadline().is_some_and(|at| at <= now)
    }

    fn queue_events(&mut self, seen: Vec<aero2_keys::repeats::Seen<EventKey, Observed>>) {
        let mut by_application: Vec<(ApplicationId, Vec<SeenEvent>)> = Vec::new();
        for seen in seen {
            let (application, key_id, event) = seen.event;
            let one = SeenEvent {
                key_id,
                event,
                count: seen.count,
                last_at: seen.last_at,
                observed: seen.client,
            };
            match by_application
                .iter_mut()
                .find(|(app, _)| *app == application)
            {
                Some((_, events)) => events.push(one),
                None => by_application.push((application, vec![one])),
            }
        }
        for (application, events) in by_application {
            self.outbox
                .push((application, EventReport { events }.to_json()));
        }
    }
}

thread_local! {
    static ISOLATE: RefCell<Isolate> = RefCell::new(Isolate::new());
}

/// Runs `f` with the isolate's state.
pub fn with<T>(f: impl FnOnce(&mut Isolate) -> T) -> T {
    ISOLATE.with(|isolate| f(&mut isolate.borrow_mut()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_read_names_and_keep_defaults_for_the_rest() {
        let settings = Settings::parse(
            "SECRET_KEY_VALIDATION=edge\nPUBLISHABLE_KEY_VALIDATION=regional\nEDGE_CACHE_SECONDS=0\nREGIONAL_SHARDS=99\nORIGIN_URL=http://127.0.0.1:9/\nTEST_ORIGIN_URL=\nFRONTEND_ROUTES=/auth/*\nSIGNING_KID=k1\nnonsense",
        );
        assert_eq!(settings.secret_mode, Mode::Edge);
        assert_eq!(settings.publishable_mode, Mode::Regional);
        assert_eq!(settings.edge_cache_ms, 0);
        assert_eq!(settings.regional_shards, 1, "out of range: the default");
        assert_eq!(settings.origin_url, "http://127.0.0.1:9");
        assert_eq!(settings.test_origin_url, None);
        assert!(settings.frontend_routes.matches("/auth/x"));
        assert_eq!(settings.signing_kid.as_deref(), Some("k1"));
        assert_eq!(Settings::parse("").secret_mode, Mode::Strict);
    }

    #[test]
    fn blocked_names_wait_their_time_and_stay_bounded() {
        let mut blocked = Blocked::new(2);
        let now = UnixMillis(1_000_000);
        blocked.block("a".into(), UnixMillis(now.0 + 1_500), now);
        assert_eq!(blocked.retry_after("a", now), Some(2));
        assert_eq!(blocked.retry_after("a", UnixMillis(now.0 + 1_500)), None);
        blocked.block("b".into(), UnixMillis(now.0 + 10), now);
        blocked.block("c".into(), UnixMillis(now.0 + 10), now);
        assert!(blocked.until.len() <= 2);
    }
}
