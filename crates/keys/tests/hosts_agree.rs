//! The three hosts of the one gate decision agree: for random records and requests, the
//! edge path (the record written to Workers KV as compact text and read back by the gate),
//! the regional path (the record a replica holds, answered as compact text) and the strict
//! path (the key ring's own record, its verdict sent back as one line) give the same
//! answer, count the same uses and record the same events, request after request, rate
//! windows included.

use std::net::IpAddr;

use aero2_keys::gate::wire::WireVerdict;
use aero2_keys::gate::{
    verify, EdgeRecord, ExactWindows, FrontendRoutes, IsolateWindows, Presented, RateWindows,
    Verdict,
};
use aero2_keys::policy::{
    MethodSet, OriginPolicy, Policy, RateLimit, RoutePattern, RouteRule, Scopes,
};
use aero2_keys::{
    identify, ApiKey, ApplicationId, Environment, KeyIdentity, KeyKind, KeyRecord, KeyRing,
    KeyStatus, RevocationReason, SystemRandom, UnixMillis,
};
use proptest::prelude::*;

const T0: UnixMillis = UnixMillis(1_800_000_000_000);

fn app() -> ApplicationId {
    ApplicationId::parse("app_AAAAAAAAAAAAAAAA").unwrap()
}

/// One presented request.
#[derive(Clone, Debug)]
struct Request {
    method: &'static str,
    path: &'static str,
    ip: Option<&'static str>,
    origin: Option<&'static str>,
    from_browser: bool,
    method_override: bool,
    /// Found outside `Authorization` (a cookie, the query): the exposure path.
    outside_authorization: bool,
    at_ms: u64,
}

fn policy_strategy(kind: KeyKind) -> impl Strategy<Value = Policy> {
    let expires = proptest::option::of((0u64..4_000).prop_map(|ms| UnixMillis(T0.0 + ms)));
    let rate =
        proptest::option::of(
            (1u32..4, 1u32..3).prop_map(|(requests, per_seconds)| RateLimit {
                requests,
                per_seconds,
            }),
        );
    let secret = (
        proptest::option::of((0u8..32).prop_map(|bits| Scopes::from_bits(bits).unwrap())),
        proptest::option::of(proptest::collection::vec(
            (
                0u8..128,
                proptest::sample::select(vec!["/v1/orders/*", "/v1/users", "/*", "/v1/client/*"]),
            ),
            1..3,
        )),
        proptest::option::of(proptest::collection::vec(
            proptest::sample::select(vec!["10.0.0.0/8", "203.0.113.7", "2001:db8::/32"]),
            1..3,
        )),
    );
    let publishable = (
        proptest::option::of(proptest::collection::vec(
            proptest::sample::select(vec![
                "https://shop.example",
                "https://*.shop.example",
                "null",
            ]),
            1..3,
        )),
        any::<bool>(),
    );
    (expires, rate, secret, publishable).prop_map(
        move |(expires_at, rate_limit, (scopes, routes, ips), (origins, report))| {
            let mut policy = Policy {
                expires_at,
                rate_limit,
                ..Policy::default()
            };
            match kind {
                KeyKind::Secret => {
                    policy.scopes = scopes;
                    policy.routes = routes.map(|rules| {
                        rules
                            .into_iter()
                            .map(|(bits, path)| RouteRule {
                                methods: MethodSet::from_bits(bits).unwrap(),
                                path: RoutePattern::parse(path).unwrap(),
                            })
                            .collect()
                    });
                    policy.allowed_ips = ips.map(|ips| {
                        ips.iter()
                            .map(|ip| aero2_keys::policy::IpNet::parse(ip).unwrap())
                            .collect()
                    });
                }
                KeyKind::Publishable => {
                    let has_origins = origins.is_some();
                    policy.allowed_origins = origins.map(|origins| {
                        origins
                            .iter()
                            .map(|o| aero2_keys::policy::OriginPattern::parse(o).unwrap())
                            .collect()
                    });
                    policy.origin_policy = (has_origins && report).then_some(OriginPolicy::Report);
                }
            }
            policy
        },
    )
}

fn status_strategy() -> impl Strategy<Value = KeyStatus> {
    prop_oneof![
        Just(KeyStatus::Active),
        (0u64..4_000).prop_map(|ms| KeyStatus::Expiring {
            expires_at: UnixMillis(T0.0 + ms)
        }),
        (
            proptest::sample::select(vec![
                RevocationReason::Revoked,
                RevocationReason::GraceExpired,
                RevocationReason::Expired
            ]),
            0u64..1000
        )
            .prop_map(|(reason, ms)| KeyStatus::Revoked {
                revoked_at: UnixMillis(T0.0 - ms),
                reason
            }),
    ]
}

fn request_strategy() -> impl Strategy<Value = Request> {
    (
        proptest::sample::select(vec!["GET", "POST", "DELETE", "HEAD"]),
        proptest::sample::select(vec!["/v1/orders/1", "/v1/users", "/v1/client/x", "/admin"]),
        proptest::sample::select(vec![
            None,
            Some("10.1.2.3"),
            Some("203.0.113.7"),
            Some("2001:db8::1"),
            Some("198.51.100.1"),
        ]),
        proptest::sample::select(vec![
            None,
            Some("https://shop.example"),
            Some("https://eu.shop.example"),
            Some("https://evil.example"),
            Some("null"),
        ]),
        any::<bool>(),
        any::<bool>(),
        prop::bool::weighted(0.2),
        0u64..5_000,
    )
        .prop_map(
            |(
                method,
                path,
                ip,
                origin,
                from_browser,
                method_override,
                outside_authorization,
                at_ms,
            )| {
                Request {
                    method,
                    path,
                    ip,
                    origin,
                    from_browser,
                    method_override,
                    outside_authorization,
                    at_ms,
                }
            },
        )
}

/// A record as the key ring keeps it, for a freshly minted key of `kind`.
fn key_ring_record(
    kind: KeyKind,
    policy: Policy,
    status: KeyStatus,
    suspended: bool,
    canary: bool,
) -> (KeyIdentity, KeyRecord) {
    let mut ring = KeyRing::new(app(), Environment::Live);
    let (key, mut record) = ring
        .create(
            kind,
            "k",
            Policy::default(),
            UnixMillis(T0.0 - 10_000),
            &mut SystemRandom,
        )
        .unwrap();
    record.policy = policy;
    record.status = status;
    record.suspended_at = suspended.then_some(UnixMillis(T0.0 - 1));
    // A canary is a secret key; the hosts must refuse it alike, as an unknown key.
    record.canary = canary && kind == KeyKind::Secret;
    (identify(key.expose_secret()).unwrap(), record)
}

fn presented<'a>(key: &'a KeyIdentity, request: &'a Request) -> Presented<'a> {
    Presented {
        key,
        method: request.method,
        path: request.path,
        client_ip: request.ip.map(|ip| ip.parse::<IpAddr>().unwrap()),
        origin: request.origin,
        from_browser: request.from_browser,
        method_override: request.method_override,
        outside_authorization: request.outside_authorization,
    }
}

/// The gate in edge mode: the KV value is the compact record, which it decodes.
fn edge_host(
    kv_value: &str,
    key: &KeyIdentity,
    request: &Request,
    windows: &mut impl RateWindows,
) -> Verdict {
    let record = EdgeRecord::decode(kv_value).expect("the gate reads what the key ring writes");
    let routes = FrontendRoutes::default();
    verify(
        Some(record.view()),
        &presented(key, request),
        &routes,
        windows,
        UnixMillis(T0.0 + request.at_ms),
    )
}

/// The key ring in strict mode: its own record, its exact windows; what it answers the gate
/// is the encoded verdict.
fn strict_host(
    record: &KeyRecord,
    key: &KeyIdentity,
    request: &Request,
    windows: &mut ExactWindows,
) -> (Verdict, WireVerdict) {
    let routes = FrontendRoutes::default();
    let verdict = verify(
        Some(record.view(app())),
        &presented(key, request),
        &routes,
        windows,
        UnixMillis(T0.0 + request.at_ms),
    );
    let answer = WireVerdict::decode(&WireVerdict::of(&verdict).encode())
        .expect("the gate reads the key ring's verdict");
    (verdict, answer)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]
    #[test]
    fn edge_regional_and_strict_hosts_agree(
        (kind, policy) in proptest::sample::select(KeyKind::ALL.to_vec())
            .prop_flat_map(|kind| (Just(kind), policy_strategy(kind))),
        status in status_strategy(),
        suspended in any::<bool>(),
        canary in proptest::bool::weighted(0.2),
        requests in proptest::collection::vec(request_strategy(), 1..8),
    ) {
        let (key, record) = key_ring_record(kind, policy, status, suspended, canary);
        // What the key ring writes to KV, and what it pushes to a replica (the same record).
        let kv_value = EdgeRecord::of(app(), &record).encode();
        let replica_answer = EdgeRecord::of(app(), &record).encode();
        let mut edge_windows = IsolateWindows::new(10_000);
        let mut regional_windows = IsolateWindows::new(10_000);
        let mut ring_windows = ExactWindows::default();
        let mut requests = requests;
        requests.sort_by_key(|r| r.at_ms);
        for request in &requests {
            let edge = edge_host(&kv_value, &key, request, &mut edge_windows);
            let regional = edge_host(&replica_answer, &key, request, &mut regional_windows);
            let (strict, strict_answer) = strict_host(&record, &key, request, &mut ring_windows);
            prop_assert_eq!(edge, regional);
            prop_assert_eq!(edge, strict, "the gate's and the key ring's verdicts differ");
            prop_assert_eq!(WireVerdict::of(&edge), strict_answer);
        }
    }
}

#[test]
fn an_unknown_key_is_refused_the_same_everywhere() {
    let key = identify(
        ApiKey::generate(KeyKind::Secret, Environment::Live, app(), &mut SystemRandom)
            .unwrap()
            .expose_secret(),
    )
    .unwrap();
    let request = Request {
        method: "GET",
        path: "/v1/users",
        ip: None,
        origin: None,
        from_browser: false,
        method_override: false,
        outside_authorization: false,
        at_ms: 0,
    };
    let verdict = verify(
        None,
        &presented(&key, &request),
        &FrontendRoutes::default(),
        &mut ExactWindows::default(),
        T0,
    );
    assert!(!verdict.counts_as_use);
    assert_eq!(
        WireVerdict::decode(&WireVerdict::of(&verdict).encode()).unwrap(),
        WireVerdict::of(&verdict)
    );
}
