//! The gate's decisions: which key a request carries, whether that key may be used at
//! all, and whether it may be used on this route from this client. Kept free of HTTP and
//! storage so every rule is tested natively; the worker only feeds it headers and records.

use serde::{Deserialize, Serialize};

use crate::ascii_search::{find_any, find_from};
use crate::format::{identify, ApplicationId, KeyId, KeyIdentity, KeyKind};
use crate::lifecycle::{KeyRecord, KeyStatus, RevocationReason, StatusFields, StatusName};
pub use crate::policy::FrontendRoutes;
pub use crate::rejection::Rejection;

pub mod events;
pub mod verify;
pub mod wire;

use crate::policy::Policy;
use crate::time::UnixMillis;
pub use events::{observe, ClientInfo, EventSet, KeyEvent, Observed, SeenRequest};
pub use verify::{
    verify, ExactWindows, IsolateWindows, Outcome, Presented, RateVerdict, RateWindows, Verdict,
};

/// Extracts and identifies the key in an `Authorization` header value, without copying
/// it. The scheme is matched without regard to case, as HTTP requires.
pub fn key_from_authorization(header: Option<&str>) -> Result<KeyIdentity, Rejection> {
    // ASCII whitespace only (HTTP's is spaces and tabs): Unicode's trimming would decode
    // the header and compile the standard searchers into every refusal's path.
    let header = match header.map(str::trim_ascii) {
        None | Some("") => return Err(Rejection::MissingKey),
        Some(value) => value,
    };
    let space = find_any(header, b" ").ok_or(Rejection::NotBearer)?;
    let (scheme, credentials) = (&header[..space], &header[space + 1..]);
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(Rejection::NotBearer);
    }
    identify(credentials.trim_ascii_start()).map_err(Rejection::Malformed)
}

/// Whether a request came from a browser.
///
/// Browsers add `Origin` to cross-origin and state-changing requests, and the pair
/// `Sec-Fetch-Mode` and `Sec-Fetch-Site` to every request. `Sec-Fetch-Mode` alone is not
/// enough: Node.js's built-in `fetch` sends `Sec-Fetch-Mode: cors` from servers, but
/// never `Sec-Fetch-Site`, and a server must not be refused for using it.
pub fn is_browser_request(
    origin: Option<&str>,
    sec_fetch_mode: Option<&str>,
    sec_fetch_site: Option<&str>,
) -> bool {
    let present = |value: Option<&str>| value.is_some_and(|v| !v.is_empty());
    origin.is_some() || (present(sec_fetch_mode) && present(sec_fetch_site))
}

/// An absolute request URL split into origin, path and query, without a URL parser.
///
/// The Workers runtime hands the worker a normalised absolute URL (dot segments resolved,
/// no fragment), so splitting is enough; a full parser such as the `url` crate, with its
/// IDNA tables, would add tens of kilobytes to the bundle for nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestTarget<'a> {
    pub origin: &'a str,
    pub path: &'a str,
    pub query: Option<&'a str>,
}

impl<'a> RequestTarget<'a> {
    pub fn split(url: &'a str) -> Self {
        let authority_start = find_from(url, b"://", 0).map_or(0, |i| i + 3);
        let path_start =
            find_any(&url[authority_start..], b"/?#").map_or(url.len(), |i| authority_start + i);
        let (origin, rest) = url.split_at(path_start);
        let rest = &rest[..find_any(rest, b"#").unwrap_or(rest.len())];
        let (path, query) = match find_any(rest, b"?") {
            Some(at) => (&rest[..at], Some(&rest[at + 1..])),
            None => (rest, None),
        };
        RequestTarget {
            origin,
            path: if path.is_empty() { "/" } else { path },
            query,
        }
    }
}

/// The one rule about secret keys and browsers: a secret key a browser sent is refused
/// (and its owner warned), wherever it is used, because it is probably in client code.
pub fn refuse_secret_key_from_browser(kind: KeyKind, from_browser: bool) -> Result<(), Rejection> {
    if kind == KeyKind::Secret && from_browser {
        Err(Rejection::SecretKeyInBrowser)
    } else {
        Ok(())
    }
}

/// Whether a key that authenticated may be used on this route from this client.
pub fn authorize(
    kind: KeyKind,
    path: &str,
    routes: &FrontendRoutes,
    from_browser: bool,
) -> Result<(), Rejection> {
    refuse_secret_key_from_browser(kind, from_browser)?;
    match kind {
        KeyKind::Secret => Ok(()),
        KeyKind::Publishable if routes.matches(path) => Ok(()),
        KeyKind::Publishable => Err(Rejection::PublishableKeyNotAllowed),
    }
}

/// Whether a key in this state authenticates at `now`, and if not, why. Checks
/// `expires_at` itself, so a grace period ends on time even if the alarm that records
/// the expiry runs late.
pub fn check_status(status: &KeyStatus, now: UnixMillis) -> Result<(), Rejection> {
    match *status {
        KeyStatus::Active => Ok(()),
        KeyStatus::Expiring { expires_at } if now < expires_at => Ok(()),
        KeyStatus::Expiring { .. } => Err(Rejection::ExpiredKey),
        KeyStatus::Revoked {
            reason: RevocationReason::GraceExpired | RevocationReason::Expired,
            ..
        } => Err(Rejection::ExpiredKey),
        KeyStatus::Revoked { .. } => Err(Rejection::RevokedKey),
    }
}

/// What a stored record says about a key, borrowed from wherever it is kept: a Workers KV
/// record at the edge, or the key ring's own record in its Durable Object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordView<'a> {
    pub application_id: ApplicationId,
    pub key_id: KeyId,
    pub kind: KeyKind,
    pub status: &'a KeyStatus,
    pub policy: &'a Policy,
    pub suspended: bool,
    /// A canary: refused as an unknown key, its use recorded.
    pub canary: bool,
}

impl KeyRecord {
    pub fn view(&self, application_id: ApplicationId) -> RecordView<'_> {
        RecordView {
            application_id,
            key_id: self.id,
            kind: self.kind,
            status: &self.status,
            policy: &self.policy,
            suspended: self.suspended_at.is_some(),
            canary: self.canary,
        }
    }
}

/// The one answer to "is this record this key's, and is the key usable now?", asked by
/// the edge (of a KV record) and by the key ring (of its own record) alike: the rules of
/// [`alive`], then suspension.
pub fn admit(record: RecordView<'_>, key: &KeyIdentity, now: UnixMillis) -> Result<(), Rejection> {
    alive(record, key, now)?;
    if record.suspended {
        return Err(Rejection::SuspendedKey);
    }
    Ok(())
}

/// Whether the record is this key's and the key works, or can work again once resumed:
/// its status (revoked, or past a grace period) and its own expiry (exact to the
/// millisecond, whether or not the alarm has run). Suspension is not asked. [`admit`]
/// adds it; the exposure of a key outside `Authorization` is recorded for a suspended key.
pub fn alive(record: RecordView<'_>, key: &KeyIdentity, now: UnixMillis) -> Result<(), Rejection> {
    // A record that disagrees with the key's own prefix cannot belong to it.
    if record.application_id != key.application_id || record.kind != key.kind {
        return Err(Rejection::UnknownKey);
    }
    check_status(record.status, now)?;
    if record.policy.expires_at.is_some_and(|at| now >= at) {
        return Err(Rejection::ExpiredKey);
    }
    Ok(())
}

/// What presenting `key` means when `record` is a canary's (`None`: it is not). Either
/// way the request is refused exactly as an unknown key is; the use is recorded while the
/// canary is armed (neither revoked nor suspended: its owners retired or paused it).
/// Asked by the gate ([`verify`]) and by the management API alike.
pub fn canary_use(record: RecordView<'_>, key: &KeyIdentity) -> Option<CanaryUse> {
    let ours = record.application_id == key.application_id && record.kind == key.kind;
    (record.canary && ours).then(|| {
        if record.status == &KeyStatus::Active && !record.suspended {
            CanaryUse::Armed
        } else {
            CanaryUse::Retired
        }
    })
}

/// See [`canary_use`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CanaryUse {
    /// Recorded, and the keys it names suspended.
    Armed,
    /// Revoked or suspended: refused, and nothing recorded.
    Retired,
}

/// The value kept in Workers KV under a key's storage id: just what the edge needs to
/// decide, and nothing from which the key could be recovered.
/// (In KV it is kept compact, [`EdgeRecord::encode`]; this JSON form is the previous
/// release's, and the regional protocol's.)
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "JsonEdgeRecord")]
pub struct EdgeRecord {
    pub application_id: ApplicationId,
    pub key_id: KeyId,
    pub kind: KeyKind,
    #[serde(flatten)]
    pub status: KeyStatus,
    #[serde(default, skip_serializing_if = "Policy::is_empty")]
    pub policy: Policy,
    #[serde(default, skip_serializing_if = "core::ops::Not::not")]
    pub suspended: bool,
    /// A canary (see [`KeyRecord::canary`]).
    #[serde(default, skip_serializing_if = "core::ops::Not::not")]
    pub canary: bool,
}

/// An [`EdgeRecord`] as JSON: the status's fields among the others (see
/// [`StatusFields`](crate::lifecycle::StatusFields), why it is not read with flatten).
#[derive(Deserialize)]
struct JsonEdgeRecord {
    application_id: ApplicationId,
    key_id: KeyId,
    kind: KeyKind,
    status: StatusName,
    #[serde(default)]
    expires_at: Option<UnixMillis>,
    #[serde(default)]
    revoked_at: Option<UnixMillis>,
    #[serde(default)]
    reason: Option<RevocationReason>,
    #[serde(default)]
    policy: Policy,
    #[serde(default)]
    suspended: bool,
    #[serde(default)]
    canary: bool,
}

impl TryFrom<JsonEdgeRecord> for EdgeRecord {
    type Error = &'static str;

    fn try_from(json: JsonEdgeRecord) -> Result<Self, Self::Error> {
        let status = StatusFields {
            status: json.status,
            expires_at: json.expires_at,
            revoked_at: json.revoked_at,
            reason: json.reason,
        }
        .status()?;
        Ok(EdgeRecord {
            application_id: json.application_id,
            key_id: json.key_id,
            kind: json.kind,
            status,
            policy: json.policy,
            suspended: json.suspended,
            canary: json.canary,
        })
    }
}

impl EdgeRecord {
    pub fn of(application_id: ApplicationId, record: &KeyRecord) -> Self {
        EdgeRecord {
            application_id,
            key_id: record.id,
            kind: record.kind,
            status: record.status,
            policy: record.policy.clone(),
            suspended: record.suspended_at.is_some(),
            canary: record.canary,
        }
    }

    pub fn view(&self) -> RecordView<'_> {
        RecordView {
            application_id: self.application_id,
            key_id: self.key_id,
            kind: self.kind,
            status: &self.status,
            policy: &self.policy,
            suspended: self.suspended,
            canary: self.canary,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::ParseError;
    use crate::format::{ApiKey, Environment};
    use crate::http::ErrorCode;
    use crate::random::SystemRandom;
    use alloc::format;

    fn key(kind: KeyKind) -> ApiKey {
        let app = ApplicationId::parse("app_AAAAAAAAAAAAAAAA").unwrap();
        ApiKey::generate(kind, Environment::Test, app, &mut SystemRandom).unwrap()
    }

    #[test]
    fn authorization_header_forms() {
        let k = key(KeyKind::Secret);
        let good = format!("Bearer {}", k.expose_secret());
        let identity = identify(k.expose_secret()).unwrap();
        assert_eq!(identity.storage_id, k.storage_id());
        assert_eq!(key_from_authorization(Some(&good)).unwrap(), identity);
        let lower = format!("bearer   {}", k.expose_secret());
        assert_eq!(key_from_authorization(Some(&lower)).unwrap(), identity);
        assert_eq!(
            key_from_authorization(None).unwrap_err(),
            Rejection::MissingKey
        );
        assert_eq!(
            key_from_authorization(Some("  ")).unwrap_err(),
            Rejection::MissingKey
        );
        assert_eq!(
            key_from_authorization(Some(k.expose_secret())).unwrap_err(),
            Rejection::NotBearer
        );
        let basic = format!("Basic {}", k.expose_secret());
        assert_eq!(
            key_from_authorization(Some(&basic)).unwrap_err(),
            Rejection::NotBearer
        );
        assert_eq!(
            ErrorCode::from(key_from_authorization(Some("Bearer nope")).unwrap_err()),
            ErrorCode::MalformedKey
        );
        // HTTP's whitespace (spaces, tabs) around the credentials is trimmed; Unicode's
        // is not whitespace in a header, so a key wrapped in it is malformed.
        let padded = format!(" \tBearer \t{}\t ", k.expose_secret());
        assert_eq!(key_from_authorization(Some(&padded)).unwrap(), identity);
        for wrapped in [
            format!("Bearer \u{a0}{}", k.expose_secret()),
            format!("Bearer {}\u{3000}", k.expose_secret()),
        ] {
            assert!(matches!(
                key_from_authorization(Some(&wrapped)).unwrap_err(),
                Rejection::Malformed(_)
            ));
        }
    }

    #[test]
    fn request_targets_split() {
        let t = RequestTarget::split("https://api.example.com:8443/v1/keys/key_x/rotate?a=1&b=2");
        assert_eq!(t.origin, "https://api.example.com:8443");
        assert_eq!(t.path, "/v1/keys/key_x/rotate");
        assert_eq!(t.query, Some("a=1&b=2"));
        let t = RequestTarget::split("http://127.0.0.1:8787");
        assert_eq!(
            (t.origin, t.path, t.query),
            ("http://127.0.0.1:8787", "/", None)
        );
        let t = RequestTarget::split("http://h/?x#frag");
        assert_eq!((t.path, t.query), ("/", Some("x")));
        let t = RequestTarget::split("http://h/a%2Fb?");
        assert_eq!((t.path, t.query), ("/a%2Fb", Some("")));
    }

    #[test]
    fn frontend_routes_match_by_segment() {
        let routes = FrontendRoutes::default();
        assert!(routes.matches("/v1/client"));
        assert!(routes.matches("/v1/client/"));
        assert!(routes.matches("/v1/client/sign_in"));
        assert!(!routes.matches("/v1/clients"));
        assert!(!routes.matches("/v1/users"));
        assert!(!routes.matches("/"));
        let custom = FrontendRoutes::parse(" /auth/* , /health,bogus");
        assert!(custom.matches("/auth/start"));
        assert!(custom.matches("/health"));
        assert!(!custom.matches("/health/deep"));
        assert!(!custom.matches("bogus"));
    }

    #[test]
    fn capabilities() {
        let routes = FrontendRoutes::default();
        assert_eq!(
            authorize(KeyKind::Secret, "/v1/users", &routes, false),
            Ok(())
        );
        assert_eq!(
            authorize(KeyKind::Secret, "/v1/client/x", &routes, false),
            Ok(())
        );
        assert_eq!(
            authorize(KeyKind::Secret, "/v1/users", &routes, true),
            Err(Rejection::SecretKeyInBrowser)
        );
        assert_eq!(
            authorize(KeyKind::Publishable, "/v1/client/x", &routes, true),
            Ok(())
        );
        assert_eq!(
            authorize(KeyKind::Publishable, "/v1/users", &routes, false),
            Err(Rejection::PublishableKeyNotAllowed)
        );
        assert_eq!(ErrorCode::from(Rejection::SecretKeyInBrowser).status(), 403);
        assert!(Rejection::SecretKeyInBrowser.key_authenticated());
        assert!(Rejection::PublishableKeyNotAllowed.key_authenticated());
        assert!(!Rejection::ExpiredKey.key_authenticated());
        assert!(!Rejection::UnknownKey.key_authenticated());
        assert_eq!(ErrorCode::from(Rejection::UnknownKey).status(), 401);
        assert_eq!(
            ErrorCode::from(Rejection::Malformed(ParseError::BadChecksum)),
            ErrorCode::BadChecksum
        );
    }

    #[test]
    fn browser_detection() {
        assert!(is_browser_request(Some("https://app.example"), None, None));
        assert!(is_browser_request(None, Some("cors"), Some("same-origin")));
        assert!(is_browser_request(None, Some("navigate"), Some("none")));
        assert!(is_browser_request(
            Some("null"),
            Some("cors"),
            Some("cross-site")
        ));
        assert!(!is_browser_request(None, None, None));
        // Node.js fetch on a server: Sec-Fetch-Mode without Sec-Fetch-Site.
        assert!(!is_browser_request(None, Some("cors"), None));
        assert!(!is_browser_request(None, Some(""), Some("")));
    }

    #[test]
    fn status_checks_are_exact_at_the_boundary() {
        let expires_at = UnixMillis(10_000);
        let expiring = KeyStatus::Expiring { expires_at };
        assert_eq!(check_status(&expiring, UnixMillis(9_999)), Ok(()));
        assert_eq!(
            check_status(&expiring, expires_at),
            Err(Rejection::ExpiredKey)
        );
        let revoked = KeyStatus::Revoked {
            revoked_at: UnixMillis(1),
            reason: RevocationReason::Revoked,
        };
        assert_eq!(
            check_status(&revoked, UnixMillis(0)),
            Err(Rejection::RevokedKey)
        );
        assert_eq!(check_status(&KeyStatus::Active, UnixMillis(0)), Ok(()));
    }

    #[test]
    fn edge_records_hold_no_key_material_and_check_ownership() {
        let k = key(KeyKind::Secret);
        let record = EdgeRecord {
            application_id: k.application_id(),
            key_id: KeyId::parse("key_BBBBBBBBBBBBBBBB").unwrap(),
            kind: KeyKind::Secret,
            status: KeyStatus::Active,
            policy: Policy::default(),
            suspended: false,
            canary: false,
        };
        let json = serde_json::to_string(&record).unwrap();
        assert!(!json.contains(&k.expose_secret()[24..]));
        assert_eq!(serde_json::from_str::<EdgeRecord>(&json).unwrap(), record);
        let identity = identify(k.expose_secret()).unwrap();
        assert_eq!(admit(record.view(), &identity, UnixMillis(0)), Ok(()));
        // Another kind, or another application, cannot own this record.
        let other = identify(key(KeyKind::Publishable).expose_secret()).unwrap();
        assert_eq!(
            admit(record.view(), &other, UnixMillis(0)),
            Err(Rejection::UnknownKey)
        );
        let elsewhere = EdgeRecord {
            application_id: ApplicationId::parse("app_CCCCCCCCCCCCCCCC").unwrap(),
            ..record.clone()
        };
        assert_eq!(
            admit(elsewhere.view(), &identity, UnixMillis(0)),
            Err(Rejection::UnknownKey)
        );
    }

    #[test]
    fn admit_applies_the_status_rules_to_both_kinds_of_record() {
        let k = key(KeyKind::Publishable);
        let identity = identify(k.expose_secret()).unwrap();
        let expires_at = UnixMillis(5_000);
        let mut ring = crate::KeyRing::new(k.application_id(), Environment::Test);
        let (_, record) = ring
            .create(
                KeyKind::Publishable,
                "web",
                Policy::default(),
                UnixMillis(0),
                &mut SystemRandom,
            )
            .unwrap();
        let mut record = record;
        record.storage_id = identity.storage_id;
        record.status = KeyStatus::Expiring { expires_at };
        let edge = EdgeRecord::of(k.application_id(), &record);
        for now in [0, 4_999, 5_000, 9_000] {
            let from_ring = admit(record.view(k.application_id()), &identity, UnixMillis(now));
            let from_edge = admit(edge.view(), &identity, UnixMillis(now));
            assert_eq!(from_ring, from_edge, "at {now}");
            assert_eq!(from_ring.is_ok(), now < 5_000, "at {now}");
        }
    }
}

#[cfg(test)]
mod status_fields {
    use super::*;
    use crate::format::ApiKey;
    use crate::format::Environment;
    use crate::random::SystemRandom;
    use alloc::format;

    fn statuses() -> [KeyStatus; 3] {
        [
            KeyStatus::Active,
            KeyStatus::Expiring {
                expires_at: UnixMillis(1_800_000_000_123),
            },
            KeyStatus::Revoked {
                revoked_at: UnixMillis(1_800_000_000_456),
                reason: RevocationReason::Leaked,
            },
        ]
    }

    #[test]
    fn records_read_back_the_status_they_were_written_with() {
        let app = ApplicationId::parse("app_AAAAAAAAAAAAAAAA").unwrap();
        let key =
            ApiKey::generate(KeyKind::Secret, Environment::Live, app, &mut SystemRandom).unwrap();
        for status in statuses() {
            let edge = EdgeRecord {
                application_id: app,
                key_id: KeyId::parse("key_BBBBBBBBBBBBBBBB").unwrap(),
                kind: KeyKind::Secret,
                status,
                policy: Policy::default(),
                suspended: true,
                canary: false,
            };
            let json = serde_json::to_string(&edge).unwrap();
            assert_eq!(
                serde_json::from_str::<EdgeRecord>(&json).unwrap(),
                edge,
                "{json}"
            );
            let record = KeyRecord {
                id: edge.key_id,
                kind: KeyKind::Secret,
                label: "label".into(),
                hint: key.hint(),
                storage_id: key.storage_id(),
                created_at: UnixMillis(1),
                status,
                rotated_from: None,
                policy: Policy::default(),
                suspended_at: Some(UnixMillis(2)),
                canary: false,
                canary_suspends: alloc::vec::Vec::new(),
            };
            let json = serde_json::to_string(&record).unwrap();
            assert_eq!(
                serde_json::from_str::<KeyRecord>(&json).unwrap(),
                record,
                "{json}"
            );
        }
    }

    #[test]
    fn a_status_without_its_times_is_refused() {
        let base = r#"{"application_id":"app_AAAAAAAAAAAAAAAA","key_id":"key_BBBBBBBBBBBBBBBB","kind":"secret","#;
        for status in [
            r#""status":"expiring"}"#,
            r#""status":"revoked","revoked_at":5}"#,
            r#""status":"retired"}"#,
        ] {
            assert!(
                serde_json::from_str::<EdgeRecord>(&format!("{base}{status}")).is_err(),
                "{status}"
            );
        }
        let ok = format!(r#"{base}"status":"revoked","revoked_at":5,"reason":"revoked"}}"#);
        assert!(serde_json::from_str::<EdgeRecord>(&ok).is_ok());
    }
}
