//! The one decision about a gated request: [`verify`]. The gate calls it against a Workers
//! KV record (edge mode) or a regional replica's record (regional mode), and the key ring
//! against its own record (strict mode). Each host only carries out the verdict: it counts
//! the use, records the events, and answers with the status and rate headers the verdict
//! gives. No host decides anything itself, so no check can be added to one path and
//! forgotten in another.

use crate::hashing::{self, Map};
use core::net::IpAddr;

use crate::format::{KeyId, KeyIdentity};
use crate::gate::events::{EventSet, KeyEvent};
use crate::gate::{admit, alive, authorize, canary_use, CanaryUse, RecordView};
use crate::policy::{self, Facts, FrontendRoutes, RateDecision, RateLimit, Window};
use crate::rejection::Rejection;
use crate::time::UnixMillis;

/// A request as the gate presents it: the key it carries and what the policy checks look
/// at.
#[derive(Clone, Copy, Debug)]
pub struct Presented<'a> {
    pub key: &'a KeyIdentity,
    pub method: &'a str,
    /// The gate's normalised path.
    pub path: &'a str,
    /// The address the platform reports (`CF-Connecting-IP`).
    pub client_ip: Option<IpAddr>,
    /// The page's origin: `Origin`, or the origin of `Referer`.
    pub origin: Option<&'a str>,
    /// Whether a browser sent it ([`crate::gate::is_browser_request`]).
    pub from_browser: bool,
    /// Whether the query names a method override.
    pub method_override: bool,
    /// Whether the key was found outside `Authorization` (a cookie, the query, the path,
    /// another header): never passed, its exposure recorded ([`verify`]).
    pub outside_authorization: bool,
}

impl Presented<'_> {
    fn facts(&self) -> Facts<'_> {
        Facts {
            method: self.method,
            path: self.path,
            client_ip: self.client_ip,
            origin: self.origin,
            method_override: self.method_override,
        }
    }
}

/// Where a key's rate-limit windows are counted: the isolate's own (edge and regional
/// mode: each isolate counts alone) or the key ring's (strict mode: exact).
pub trait RateWindows {
    /// Counts a request of `key_id` at `now` against `limit`.
    fn hit(&mut self, key_id: KeyId, limit: RateLimit, now: UnixMillis) -> RateDecision;
}

/// A rate limit and what it said about this request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateVerdict {
    pub limit: RateLimit,
    pub decision: RateDecision,
}

/// How the request ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Forwarded to the origin.
    Pass,
    /// Refused (401, 403), with the reason.
    Refused(Rejection),
    /// Refused by the key's rate limit (429 with the rate headers).
    RateLimited,
}

/// Everything a host needs to carry out the decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub outcome: Outcome,
    /// The key, once its record was found and it authenticated.
    pub key_id: Option<KeyId>,
    /// Whether the request counts as a use of the key: it authenticated, even if its use
    /// here was then refused.
    pub counts_as_use: bool,
    /// The events to record (secret key from a browser, unlisted website in report mode,
    /// rate-limited).
    pub events: EventSet,
    /// Whether the page's origin may read the answer (CORS), by the key's policy.
    pub cors: bool,
    /// The key's rate limit and its decision, when it has one.
    pub rate: Option<RateVerdict>,
}

impl Verdict {
    fn refused(rejection: Rejection, key_id: Option<KeyId>) -> Self {
        Verdict {
            outcome: Outcome::Refused(rejection),
            key_id,
            counts_as_use: key_id.is_some() && rejection.key_authenticated(),
            events: EventSet::default(),
            cors: rejection != Rejection::OriginNotAllowed,
            rate: None,
        }
    }

    /// Whether a page's origin may read this answer. A key that lists its websites lets no
    /// other read even its refusal.
    pub fn readable_by_page(&self) -> bool {
        match self.outcome {
            Outcome::Refused(Rejection::OriginNotAllowed) => false,
            Outcome::Pass => self.cors,
            _ => true,
        }
    }
}

/// A secret key found outside `Authorization`: always the same refusal (400
/// `secret_key_outside_authorization`, whether or not the key exists, so that the answer
/// is no oracle), never a use; recorded against the key when it is this application's and
/// works or can work again ([`alive`]: usable, or only suspended), and as a canary's use
/// when it is an armed canary (found in a log or a cache, it was stolen all the same).
fn exposed(record: Option<RecordView<'_>>, key: &KeyIdentity, now: UnixMillis) -> Verdict {
    let refused = |events, key_id| Verdict {
        events,
        ..Verdict::refused(Rejection::SecretKeyOutsideAuthorization, key_id)
    };
    let Some(record) = record else {
        return refused(EventSet::default(), None);
    };
    let mut events = EventSet::default();
    if let Some(canary) = canary_use(record, key) {
        if canary == CanaryUse::Armed {
            events.add(KeyEvent::CanaryUsed);
        }
        return refused(events, Some(record.key_id));
    }
    // A suspended key is still feared: it can be resumed.
    if alive(record, key, now).is_err() {
        return refused(events, None);
    }
    events.add(KeyEvent::SecretOutsideAuthorization);
    refused(events, Some(record.key_id))
}

/// Decides a gated request against the record stored for its key (`None`: no record, an
/// unknown key). In order, cheapest first: the record is this key's and usable now
/// ([`admit`]: status, expiry, suspension); the key may be used on this route from this
/// client ([`authorize`]); its policy allows the address, origin and route
/// ([`policy::check`]); and last its rate limit, counted in `windows`.
pub fn verify(
    record: Option<RecordView<'_>>,
    presented: &Presented<'_>,
    routes: &FrontendRoutes,
    windows: &mut impl RateWindows,
    now: UnixMillis,
) -> Verdict {
    if presented.outside_authorization {
        return exposed(record, presented.key, now);
    }
    let Some(record) = record else {
        return Verdict::refused(Rejection::UnknownKey, None);
    };
    // A canary of this application: refused exactly as an unknown key is (whoever holds
    // it learns nothing), and its use recorded while it is armed.
    if let Some(canary) = canary_use(record, presented.key) {
        let mut events = EventSet::default();
        if canary == CanaryUse::Armed {
            events.add(KeyEvent::CanaryUsed);
        }
        return Verdict {
            events,
            ..Verdict::refused(Rejection::UnknownKey, Some(record.key_id))
        };
    }
    if let Err(rejection) = admit(record, presented.key, now) {
        return Verdict::refused(rejection, None);
    }
    let key_id = Some(record.key_id);
    let mut events = EventSet::default();
    if let Err(rejection) = authorize(record.kind, presented.path, routes, presented.from_browser) {
        if rejection == Rejection::SecretKeyInBrowser {
            events.add(KeyEvent::SecretInBrowser);
        }
        return Verdict {
            events,
            ..Verdict::refused(rejection, key_id)
        };
    }
    match policy::check(record.kind, record.policy, &presented.facts()) {
        Err(rejection) => return Verdict::refused(rejection, key_id),
        Ok(Some(_report)) => events.add(KeyEvent::OriginNotAllowed),
        Ok(None) => {}
    }
    let cors = presented
        .origin
        .is_none_or(|origin| record.policy.cors_allows(origin));
    let rate = record.policy.rate_limit.map(|limit| RateVerdict {
        limit,
        decision: windows.hit(record.key_id, limit, now),
    });
    let outcome = match rate {
        Some(rate) if !rate.decision.allowed => {
            events.add(KeyEvent::RateLimited);
            Outcome::RateLimited
        }
        _ => Outcome::Pass,
    };
    Verdict {
        outcome,
        key_id,
        counts_as_use: true,
        events,
        cors,
        rate,
    }
}

/// Rate windows counted exactly, one per key (the key ring's, strict mode; it holds at
/// most its ring's keys).
#[derive(Debug)]
pub struct ExactWindows {
    windows: Map<KeyId, Window>,
}

impl Default for ExactWindows {
    fn default() -> Self {
        ExactWindows {
            windows: hashing::map(),
        }
    }
}

impl RateWindows for ExactWindows {
    fn hit(&mut self, key_id: KeyId, limit: RateLimit, now: UnixMillis) -> RateDecision {
        limit.hit(self.windows.entry(key_id).or_default(), now)
    }
}

/// An isolate's rate windows (edge and regional mode): each isolate counts alone, so a key
/// served by `n` isolates may make up to `n ×` its limit per window (the bound README.md
/// states). At most `cap` keys; past it, the windows start afresh.
#[derive(Debug)]
pub struct IsolateWindows {
    windows: Map<KeyId, Window>,
    cap: usize,
}

impl IsolateWindows {
    pub fn new(cap: usize) -> Self {
        IsolateWindows {
            windows: hashing::map(),
            cap,
        }
    }
}

impl RateWindows for IsolateWindows {
    fn hit(&mut self, key_id: KeyId, limit: RateLimit, now: UnixMillis) -> RateDecision {
        if self.windows.len() >= self.cap && !self.windows.contains_key(&key_id) {
            self.windows.clear();
        }
        limit.hit(self.windows.entry(key_id).or_default(), now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{identify, ApiKey, ApplicationId, Environment, KeyKind};
    use crate::gate::EdgeRecord;
    use crate::lifecycle::{KeyStatus, RevocationReason};
    use crate::policy::Policy;
    use crate::random::SystemRandom;

    const NOW: UnixMillis = UnixMillis(1_800_000_000_000);

    fn key_and_record(kind: KeyKind, policy: &str) -> (KeyIdentity, EdgeRecord) {
        let app = ApplicationId::parse("app_AAAAAAAAAAAAAAAA").unwrap();
        let key = ApiKey::generate(kind, Environment::Live, app, &mut SystemRandom).unwrap();
        let identity = identify(key.expose_secret()).unwrap();
        let record = EdgeRecord {
            application_id: app,
            key_id: KeyId::parse("key_BBBBBBBBBBBBBBBB").unwrap(),
            kind,
            status: KeyStatus::Active,
            policy: serde_json::from_str::<Policy>(policy).unwrap(),
            suspended: false,
            canary: false,
        };
        (identity, record)
    }

    fn request<'a>(
        key: &'a KeyIdentity,
        path: &'a str,
        origin: Option<&'a str>,
        browser: bool,
    ) -> Presented<'a> {
        Presented {
            key,
            method: "GET",
            path,
            client_ip: None,
            origin,
            from_browser: browser,
            method_override: false,
            outside_authorization: false,
        }
    }

    fn decide(
        record: Option<&EdgeRecord>,
        presented: &Presented<'_>,
        windows: &mut impl RateWindows,
    ) -> Verdict {
        verify(
            record.map(EdgeRecord::view),
            presented,
            &FrontendRoutes::default(),
            windows,
            NOW,
        )
    }

    #[test]
    fn a_canary_is_refused_as_an_unknown_key_and_its_use_recorded() {
        let (key, mut record) = key_and_record(KeyKind::Secret, "{}");
        record.canary = true;
        let unknown = decide(
            None,
            &request(&key, "/v1/users", None, false),
            &mut ExactWindows::default(),
        );
        let revoked = KeyStatus::Revoked {
            revoked_at: NOW,
            reason: RevocationReason::Revoked,
        };
        for (status, suspended, armed) in [
            (KeyStatus::Active, false, true),
            (KeyStatus::Active, true, false),
            (revoked, false, false),
        ] {
            record.status = status;
            record.suspended = suspended;
            let canary = decide(
                Some(&record),
                &request(&key, "/v1/users", None, false),
                &mut ExactWindows::default(),
            );
            assert_eq!(
                (
                    canary.outcome,
                    canary.counts_as_use,
                    canary.cors,
                    canary.rate
                ),
                (unknown.outcome, false, unknown.cors, None)
            );
            assert_eq!(canary.events.contains(KeyEvent::CanaryUsed), armed);
            assert_eq!(
                canary.key_id,
                Some(record.key_id),
                "the use is recorded against the canary"
            );
        }
        // Another application's key that happens to find this record is simply unknown.
        let (other, _) = key_and_record(KeyKind::Publishable, "{}");
        let mismatch = decide(
            Some(&record),
            &request(&other, "/v1/users", None, false),
            &mut ExactWindows::default(),
        );
        assert!(mismatch.events.is_empty());
    }

    #[test]
    fn keys_that_do_not_authenticate_are_refused_and_are_not_a_use() {
        let (key, mut record) = key_and_record(KeyKind::Secret, "{}");
        let unknown = decide(
            None,
            &request(&key, "/v1/users", None, false),
            &mut ExactWindows::default(),
        );
        assert_eq!(unknown.outcome, Outcome::Refused(Rejection::UnknownKey));
        assert!(!unknown.counts_as_use && unknown.key_id.is_none());
        record.status = KeyStatus::Revoked {
            revoked_at: NOW,
            reason: RevocationReason::Revoked,
        };
        let revoked = decide(
            Some(&record),
            &request(&key, "/v1/users", None, false),
            &mut ExactWindows::default(),
        );
        assert_eq!(revoked.outcome, Outcome::Refused(Rejection::RevokedKey));
        assert!(!revoked.counts_as_use && revoked.events.is_empty());
    }

    #[test]
    fn a_secret_key_outside_authorization_gets_one_refusal_and_its_exposure_is_recorded() {
        let (secret, mut record) = key_and_record(KeyKind::Secret, "{}");
        let outside = |key| Presented {
            outside_authorization: true,
            ..request(key, "/v1/users", None, false)
        };
        let refusal = Outcome::Refused(Rejection::SecretKeyOutsideAuthorization);
        // Its own record, usable: refused, not a use, the exposure recorded against it.
        let seen = decide(
            Some(&record),
            &outside(&secret),
            &mut ExactWindows::default(),
        );
        assert_eq!(seen.outcome, refusal);
        assert_eq!(seen.key_id, Some(record.key_id));
        assert!(!seen.counts_as_use);
        assert!(seen.events.contains(KeyEvent::SecretOutsideAuthorization));
        // No record, or one that is not usable: the same refusal, nothing recorded.
        let unknown = decide(None, &outside(&secret), &mut ExactWindows::default());
        assert_eq!((unknown.outcome, unknown.key_id), (refusal, None));
        assert!(unknown.events.is_empty());
        // Dead keys: revoked, past the grace period, past its own expiry (even suspended).
        let revoked = KeyStatus::Revoked {
            revoked_at: NOW,
            reason: RevocationReason::Revoked,
        };
        let past_grace = KeyStatus::Expiring { expires_at: NOW };
        for (status, expires_at, suspended) in [
            (revoked, None, false),
            (past_grace, None, false),
            (KeyStatus::Active, Some(NOW), false),
            (KeyStatus::Active, Some(NOW), true),
        ] {
            record.status = status;
            record.policy.expires_at = expires_at;
            record.suspended = suspended;
            let dead = decide(
                Some(&record),
                &outside(&secret),
                &mut ExactWindows::default(),
            );
            assert_eq!((dead.outcome, dead.key_id), (refusal, None), "{status:?}");
            assert!(dead.events.is_empty());
        }
        record.policy.expires_at = None;
        // Still to be feared: a key in its grace period, a suspended key (it can be resumed)
        // and a key sent from a browser are recorded like an active key.
        let from_browser = Presented {
            origin: Some("https://a.example"),
            from_browser: true,
            ..outside(&secret)
        };
        for (status, suspended, presented) in [
            (
                KeyStatus::Expiring {
                    expires_at: UnixMillis(NOW.0 + 1),
                },
                false,
                outside(&secret),
            ),
            (KeyStatus::Active, true, outside(&secret)),
            (KeyStatus::Active, false, from_browser),
        ] {
            record.status = status;
            record.suspended = suspended;
            let live = decide(Some(&record), &presented, &mut ExactWindows::default());
            assert_eq!((live.outcome, live.key_id), (refusal, Some(record.key_id)));
            assert!(live.events.contains(KeyEvent::SecretOutsideAuthorization));
            assert!(!live.counts_as_use);
        }
        record.suspended = false;
        record.status = KeyStatus::Active;
        // An armed canary found there was stolen all the same: its use is recorded.
        record.canary = true;
        let canary = decide(
            Some(&record),
            &outside(&secret),
            &mut ExactWindows::default(),
        );
        assert_eq!(canary.outcome, refusal);
        assert!(canary.events.contains(KeyEvent::CanaryUsed));
        assert!(!canary.events.contains(KeyEvent::SecretOutsideAuthorization));
    }

    #[test]
    fn a_key_that_authenticates_counts_as_a_use_even_when_refused_here() {
        let (secret, record) = key_and_record(KeyKind::Secret, "{}");
        let browser = decide(
            Some(&record),
            &request(&secret, "/v1/users", Some("https://a.example"), true),
            &mut ExactWindows::default(),
        );
        assert_eq!(
            browser.outcome,
            Outcome::Refused(Rejection::SecretKeyInBrowser)
        );
        assert!(browser.counts_as_use && browser.events.contains(KeyEvent::SecretInBrowser));
        let (publishable, record) = key_and_record(KeyKind::Publishable, "{}");
        let off_route = decide(
            Some(&record),
            &request(&publishable, "/v1/users", None, false),
            &mut ExactWindows::default(),
        );
        assert_eq!(
            off_route.outcome,
            Outcome::Refused(Rejection::PublishableKeyNotAllowed)
        );
        assert!(off_route.counts_as_use && off_route.events.is_empty());
    }

    #[test]
    fn websites_are_enforced_or_reported_and_cors_follows_the_list() {
        let (key, enforce) = key_and_record(
            KeyKind::Publishable,
            r#"{"allowed_origins":["https://shop.example"]}"#,
        );
        let refused = decide(
            Some(&enforce),
            &request(&key, "/v1/client/x", Some("https://evil.example"), true),
            &mut ExactWindows::default(),
        );
        assert_eq!(
            refused.outcome,
            Outcome::Refused(Rejection::OriginNotAllowed)
        );
        assert!(
            !refused.readable_by_page(),
            "an unlisted site cannot even read the refusal"
        );
        let listed = decide(
            Some(&enforce),
            &request(&key, "/v1/client/x", Some("https://shop.example"), true),
            &mut ExactWindows::default(),
        );
        assert_eq!(listed.outcome, Outcome::Pass);
        assert!(listed.readable_by_page());
        let (key, report) = key_and_record(
            KeyKind::Publishable,
            r#"{"allowed_origins":["https://shop.example"],"origin_policy":"report"}"#,
        );
        let reported = decide(
            Some(&report),
            &request(&key, "/v1/client/x", Some("https://evil.example"), true),
            &mut ExactWindows::default(),
        );
        assert_eq!(reported.outcome, Outcome::Pass);
        assert!(reported.events.contains(KeyEvent::OriginNotAllowed));
        assert!(reported.readable_by_page(), "report mode reads as no list");
    }

    #[test]
    fn the_rate_limit_is_counted_last_in_the_windows_given() {
        let (key, record) = key_and_record(
            KeyKind::Secret,
            r#"{"rate_limit":{"requests":2,"per_seconds":60},"routes":[{"path":"/v1/users"}]}"#,
        );
        let mut windows = ExactWindows::default();
        // A request refused for its route is not counted against the limit.
        let elsewhere = decide(
            Some(&record),
            &request(&key, "/admin", None, false),
            &mut windows,
        );
        assert_eq!(
            elsewhere.outcome,
            Outcome::Refused(Rejection::RouteNotAllowed)
        );
        assert_eq!(elsewhere.rate, None);
        for remaining in [1, 0] {
            let passed = decide(
                Some(&record),
                &request(&key, "/v1/users", None, false),
                &mut windows,
            );
            assert_eq!(passed.outcome, Outcome::Pass);
            assert_eq!(passed.rate.unwrap().decision.remaining, remaining);
        }
        let limited = decide(
            Some(&record),
            &request(&key, "/v1/users", None, false),
            &mut windows,
        );
        assert_eq!(limited.outcome, Outcome::RateLimited);
        assert!(limited.counts_as_use && limited.events.contains(KeyEvent::RateLimited));
        assert!(!limited.rate.unwrap().decision.allowed);
        // Another host's windows count alone.
        let elsewhere = decide(
            Some(&record),
            &request(&key, "/v1/users", None, false),
            &mut IsolateWindows::new(10),
        );
        assert_eq!(elsewhere.outcome, Outcome::Pass);
    }

    #[test]
    fn isolate_windows_stay_bounded() {
        let limit = RateLimit {
            requests: 1,
            per_seconds: 60,
        };
        let mut windows = IsolateWindows::new(2);
        let id = |n: u8| {
            KeyId::parse(&alloc::format!(
                "key_{}",
                alloc::string::String::from_utf8(alloc::vec![b'A' + n; 16]).unwrap()
            ))
            .unwrap()
        };
        assert!(windows.hit(id(0), limit, NOW).allowed);
        assert!(windows.hit(id(1), limit, NOW).allowed);
        assert!(!windows.hit(id(0), limit, NOW).allowed);
        // A third key: the table starts afresh rather than grow.
        assert!(windows.hit(id(2), limit, NOW).allowed);
        assert!(windows.hit(id(0), limit, NOW).allowed);
    }
}
