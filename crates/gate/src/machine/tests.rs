//! The gate's state machine driven natively, with the host's I/O played by the test: each
//! mode's path, the failure counts, the fast refusals, and what the origin gets.

use super::*;
use aero2_keys::gate::EdgeRecord;
use aero2_keys::policy::Policy;
use aero2_keys::KeyStatus;
use aero2_keys::{ApiKey, ApplicationId, Environment, KeyKind, RevocationReason, SystemRandom};
use base64_check::decode_claims;

const NOW: UnixMillis = UnixMillis(1_800_000_000_000);
const APP: &str = "app_AAAAAAAAAAAAAAAA";
const KEY_ID: &str = "key_BBBBBBBBBBBBBBBB";

fn configure(mode: &str) {
    isolate::with(|i| {
        i.configure(isolate::Settings::parse(&format!(
            "SECRET_KEY_VALIDATION={mode}\nPUBLISHABLE_KEY_VALIDATION={mode}\nEDGE_CACHE_SECONDS=5\nORIGIN_URL=http://origin.test\nSIGNING_KID=k1\nASSERTION_ISSUER=https://keys.example.com"
        )))
    });
}

fn key(kind: KeyKind) -> ApiKey {
    let app = ApplicationId::parse(APP).unwrap();
    ApiKey::generate(kind, Environment::Live, app, &mut SystemRandom).unwrap()
}

fn record(kind: KeyKind, policy: &str) -> String {
    EdgeRecord {
        application_id: ApplicationId::parse(APP).unwrap(),
        key_id: KeyId::parse(KEY_ID).unwrap(),
        kind,
        status: KeyStatus::Active,
        policy: serde_json::from_str::<Policy>(policy).unwrap(),
        suspended: false,
        canary: false,
    }
    .encode()
}

fn get(path: &str, headers: &str) -> Machine {
    Machine::start(
        "GET",
        &format!("https://keys.example.com{path}"),
        headers,
        Some(Region::Weur),
        NOW,
    )
}

fn bearer(key: &ApiKey) -> String {
    format!(
        "authorization\nBearer {}\ncf-connecting-ip\n203.0.113.9\n",
        key.expose_secret()
    )
}

mod base64_check {
    /// The claims of a signing input, decoded (a small base64url decoder for the test).
    pub fn decode_claims(signing_input: &str) -> serde_json::Value {
        let claims = signing_input.split('.').nth(1).unwrap();
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut bits = 0u32;
        let mut count = 0;
        let mut out = Vec::new();
        for byte in claims.bytes() {
            let value = alphabet.iter().position(|b| *b == byte).unwrap() as u32;
            bits = bits << 6 | value;
            count += 6;
            if count >= 8 {
                count -= 8;
                out.push((bits >> count) as u8);
                bits &= (1 << count) - 1;
            }
        }
        serde_json::from_slice(&out).unwrap()
    }
}

#[test]
fn the_api_goes_to_the_control_plane_unread_and_bad_requests_stop_at_once() {
    configure("edge");
    assert_eq!(get("/v1/keys", "").action, Action::Control);
    assert_eq!(get("/openapi.json", "").action, Action::Assets);
    let delete = Machine::start("DELETE", "https://k/openapi.json", "", None, NOW);
    assert_eq!((delete.action, delete.reply.status), (Action::Respond, 405));
    assert!(delete.reply.headers.contains("Allow\nGET, HEAD\n"));
    let missing = get("/v1/users", "");
    assert_eq!(
        (missing.action, missing.reply.status),
        (Action::Respond, 401)
    );
    assert!(missing.reply.body.contains("missing_key"));
    let malformed = get("/v1/users", "authorization\nBearer sk_live_short\n");
    assert!(malformed.reply.body.contains("malformed_key"));
    let path = get("/v1/client/%25%32%46admin", "");
    assert_eq!(path.reply.status, 400);
    let trace = Machine::start("TRACE", "https://k/v1/users", "", None, NOW);
    assert_eq!(trace.reply.status, 405);
    assert!(trace
        .reply
        .headers
        .contains("Allow\nGET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS\n"));
}

/// The methods the first checks let through are those a 405's `Allow` names. The list is
/// written twice (a `matches!` on the hot path, `GATED_METHODS` for the header): this
/// holds the two together.
#[test]
fn the_methods_let_through_are_the_ones_allow_names() {
    configure("edge");
    for method in GATED_METHODS.split(", ") {
        let through = Machine::start(method, "https://k/v1/users", "", None, NOW);
        assert_ne!(through.reply.status, 405, "{method}");
    }
    for method in ["TRACE", "CONNECT", "PROPFIND", "get"] {
        let refused = Machine::start(method, "https://k/v1/users", "", None, NOW);
        assert_eq!(refused.reply.status, 405, "{method}");
    }
}

#[test]
fn a_secret_key_outside_authorization_is_refused_and_its_exposure_recorded() {
    for mode in ["edge", "strict", "regional"] {
        configure(mode);
        isolate::with(|i| i.take_reports(UnixMillis(NOW.0 + 60_000)));
        let secret = key(KeyKind::Secret);
        let presented = key(KeyKind::Secret);
        let storage_id = identify_storage(&secret);
        // In a cookie, beside another key in Authorization: its own KV record is read, in
        // every mode (no Durable Object), then one refusal.
        let cookie = format!(
            "{}cookie\ntheme=dark; k={}\n",
            bearer(&presented),
            secret.expose_secret()
        );
        let mut found = get("/v1/users", &cookie);
        assert_eq!(found.action, Action::ReadKv, "{mode}");
        assert_eq!(
            found.target, storage_id,
            "{mode}: the exposed key's record, not the presented one's"
        );
        found.resume(200, Some(&record(KeyKind::Secret, "{}")), NOW);
        assert_eq!(
            (found.action, found.reply.status),
            (Action::Respond, 400),
            "{mode}"
        );
        assert!(found
            .reply
            .body
            .contains("secret_key_outside_authorization"));
        assert!(!found.reply.body.contains(secret.expose_secret()));
        let reports = isolate::with(|i| i.take_reports(NOW));
        assert!(
            reports.iter().any(|(app, json)| app.to_string() == APP
                && json.contains("\"record_events\"")
                && json.contains("secret_outside_authorization")
                && json.contains(KEY_ID)),
            "{mode}: {reports:?}"
        );
        // A key that does not exist, percent-encoded in the query: the same answer, and
        // nothing recorded.
        let forged = key(KeyKind::Secret);
        let mut unknown = get(
            &format!("/v1/users?k={}", forged.expose_secret().replace('_', "%5F")),
            &bearer(&presented),
        );
        assert_eq!(unknown.action, Action::ReadKv, "{mode}");
        unknown.resume(200, None, NOW);
        assert_eq!(unknown.reply.status, 400, "{mode}");
        assert_eq!(unknown.reply.body, found.reply.body, "{mode}: no oracle");
        assert!(isolate::with(|i| i.take_reports(NOW)).is_empty(), "{mode}");
    }
}

/// The commonest mistake sends the secret key somewhere else and nothing in
/// `Authorization` (or something that is not a key): the exposure is still found, refused
/// with 400 and recorded, not answered as a missing or malformed key.
#[test]
fn a_secret_key_outside_authorization_is_found_without_a_key_in_authorization() {
    configure("edge");
    // A key of its own for each case: an exposure already recorded is not read again.
    /// Where a case puts the key: the request's path and headers.
    type Placed = fn(&str) -> (String, String);
    let placed: [Placed; 3] = [
        |secret| ("/v1/users".to_owned(), format!("x-api-key\n{secret}\n")),
        |secret| (format!("/v1/users?key={secret}"), String::new()),
        |secret| {
            let headers = format!("authorization\nBearer not-a-key\ncookie\nk={secret}\n");
            ("/v1/users".to_owned(), headers)
        },
    ];
    for place in placed {
        let secret = key(KeyKind::Secret);
        let storage_id = identify_storage(&secret);
        let (path, headers) = place(secret.expose_secret());
        let headers = format!("{headers}cf-connecting-ip\n198.51.100.201\n");
        let mut found = get(&path, &headers);
        assert_eq!(
            (found.action, found.target.as_str()),
            (Action::ReadKv, storage_id.as_str()),
            "{path} {headers:?}: {}",
            found.reply.body
        );
        found.resume(200, Some(&record(KeyKind::Secret, "{}")), NOW);
        assert_eq!(found.reply.status, 400);
        assert!(found
            .reply
            .body
            .contains("secret_key_outside_authorization"));
        let url = format!("https://keys.example.com{path}");
        assert!(
            quick_reply("GET", &url, &headers).is_none(),
            "the quick path leaves it to the machine"
        );
    }
}

/// The storage id a key is looked up under.
fn identify_storage(key: &ApiKey) -> String {
    aero2_keys::identify(key.expose_secret())
        .unwrap()
        .storage_id
        .to_hex()
}

#[test]
fn edge_mode_reads_kv_once_then_its_cache_and_forwards_signed() {
    configure("edge");
    let secret = key(KeyKind::Secret);
    let mut first = get(
        "/v1/orders?x=1",
        &format!(
            "{}x-aero2-key-id\nforged\ncookie\n__Host-aero2_session=abc; cart=1\n",
            bearer(&secret)
        ),
    );
    assert_eq!(first.action, Action::ReadKv);
    assert_eq!(first.target, secret.storage_id().to_hex());
    first.resume(200, Some(&record(KeyKind::Secret, "{}")), NOW);
    assert_eq!(first.action, Action::Forward);
    let plan = first.forward.clone().unwrap();
    assert_eq!(plan.url, "http://origin.test/v1/orders?x=1");
    assert!(plan.drop.contains(&"authorization".to_owned()));
    assert!(plan.drop.contains(&"x-aero2-key-id".to_owned()));
    assert!(plan.set.contains(&("Cookie", "cart=1".to_owned())));
    assert!(plan.set.contains(&("X-Aero2-Key-Id", KEY_ID.to_owned())));
    assert!(plan
        .set
        .contains(&("X-Forwarded-For", "203.0.113.9".to_owned())));
    let claims = decode_claims(&plan.signing_input);
    assert_eq!(claims["htu"], "/v1/orders?x=1");
    assert_eq!(claims["sub"], KEY_ID);
    assert_eq!(claims["iss"], "https://keys.example.com");
    assert_eq!(claims["aud"], "http://origin.test");
    // Within EDGE_CACHE_SECONDS the same key needs no KV read.
    let again = get("/v1/orders", &bearer(&secret));
    assert_eq!(again.action, Action::Forward);
}

#[test]
fn an_unknown_key_counts_against_its_application_and_address_then_is_refused() {
    configure("edge");
    let secret = key(KeyKind::Secret);
    let mut machine = get("/v1/users", &bearer(&secret));
    machine.resume(200, None, NOW);
    assert_eq!(
        (machine.action, machine.target.as_str()),
        (Action::CountFailure, "FAILED_AUTH_APP_LIMITER")
    );
    assert_eq!(machine.body, APP);
    machine.resume(1, None, NOW);
    assert_eq!(
        (machine.action, machine.target.as_str()),
        (Action::CountFailure, "FAILED_AUTH_LIMITER")
    );
    assert_eq!(machine.body, "203.0.113.9");
    machine.resume(1, None, NOW);
    assert_eq!(
        (machine.action, machine.reply.status),
        (Action::Respond, 401)
    );
    assert!(machine.reply.body.contains("unknown_key"));
    // Over the address's limit: 429, and the next request stops before any lookup.
    let mut over = get("/v1/users", &bearer(&secret));
    over.resume(200, None, NOW);
    over.resume(1, None, NOW);
    over.resume(0, None, NOW);
    assert_eq!(over.reply.status, 429);
    let blocked = get("/v1/users", &bearer(&key(KeyKind::Secret)));
    assert_eq!(
        (blocked.action, blocked.reply.status),
        (Action::Respond, 429)
    );
}

#[test]
fn strict_mode_checks_the_application_then_asks_the_key_ring() {
    configure("strict");
    let secret = key(KeyKind::Secret);
    let mut machine = get("/v1/users", &bearer(&secret));
    assert_eq!(
        (machine.action, machine.target.clone()),
        (Action::ReadKv, format!("app:{APP}"))
    );
    machine.resume(200, Some("{\"environment\":\"live\"}"), NOW);
    assert_eq!(
        (machine.action, machine.target.as_str()),
        (Action::AskRing, APP)
    );
    let command: serde_json::Value = serde_json::from_str(&machine.body).unwrap();
    assert_eq!(command["command"], "verify");
    assert_eq!(command["key"]["storage_id"], secret.storage_id().to_hex());
    machine.resume(200, Some(&format!("v2 pass {KEY_ID} 1 -")), NOW);
    assert_eq!(machine.action, Action::Forward);
    // The application is known now: the next request goes straight to the key ring.
    let mut next = get("/v1/users", &bearer(&secret));
    assert_eq!(next.action, Action::AskRing);
    next.resume(200, Some("v2 revoked_key - 1 -"), NOW);
    assert_eq!(next.action, Action::CountFailure);
    // A key ring that cannot answer is a 503, never a pass.
    let mut failing = get("/v1/users", &bearer(&secret));
    failing.resume(500, Some("{}"), NOW);
    assert_eq!(
        (failing.action, failing.reply.status),
        (Action::Respond, 503)
    );
}

#[test]
fn regional_mode_asks_its_regions_replica_for_the_record() {
    configure("regional");
    let publishable = key(KeyKind::Publishable);
    let mut machine = get("/v1/client/x", &bearer(&publishable));
    machine.resume(200, Some("{}"), NOW);
    assert_eq!((machine.action, machine.hint), (Action::AskReplica, "weur"));
    assert_eq!(machine.target, format!("{APP}/weur/0"));
    machine.resume(200, Some(&record(KeyKind::Publishable, "{}")), NOW);
    assert_eq!(machine.action, Action::Forward);
    let mut unknown = get("/v1/client/x", &bearer(&publishable));
    unknown.resume(200, Some("none"), NOW);
    assert_eq!(unknown.action, Action::CountFailure);
}

#[test]
fn a_kv_record_in_an_older_format_is_read_from_the_key_ring() {
    configure("edge");
    let secret = key(KeyKind::Secret);
    let mut machine = get("/v1/users", &bearer(&secret));
    machine.resume(
        200,
        Some("{\"application_id\":\"app_AAAAAAAAAAAAAAAA\",\"status\":\"active\"}"),
        NOW,
    );
    assert_eq!(machine.action, Action::AskRing);
    let command: serde_json::Value = serde_json::from_str(&machine.body).unwrap();
    assert_eq!(command["command"], "lookup_record");
    machine.resume(200, Some(&record(KeyKind::Secret, "{}")), NOW);
    assert_eq!(machine.action, Action::Forward);
}

#[test]
fn refusals_after_authentication_are_not_failures_and_rate_limits_say_when() {
    configure("edge");
    let secret = key(KeyKind::Secret);
    let limited = record(
        KeyKind::Secret,
        r#"{"rate_limit":{"requests":1,"per_seconds":60}}"#,
    );
    let mut first = get("/v1/users", &bearer(&secret));
    first.resume(200, Some(&limited), NOW);
    assert_eq!(first.action, Action::Forward);
    let second = get("/v1/users", &bearer(&secret));
    assert_eq!((second.action, second.reply.status), (Action::Respond, 429));
    assert!(second
        .reply
        .headers
        .contains("RateLimit-Policy\n\"key\";q=1;w=60\n"));
    assert!(second.reply.headers.contains("Retry-After\n"));
    // A revoked key is a failure; a secret key from a browser is not (it authenticated).
    configure("edge");
    let browser = key(KeyKind::Secret);
    let mut machine = get(
        "/v1/users",
        &format!("{}origin\nhttps://shop.example\n", bearer(&browser)),
    );
    machine.resume(200, Some(&record(KeyKind::Secret, "{}")), NOW);
    assert_eq!(
        (machine.action, machine.reply.status),
        (Action::Respond, 403)
    );
    let revoked = EdgeRecord {
        status: KeyStatus::Revoked {
            revoked_at: NOW,
            reason: RevocationReason::Revoked,
        },
        ..EdgeRecord::decode(&record(KeyKind::Secret, "{}")).unwrap()
    };
    let other = key(KeyKind::Secret);
    let mut machine = get("/v1/users", &bearer(&other));
    machine.resume(200, Some(&revoked.encode()), NOW);
    assert_eq!(machine.action, Action::CountFailure);
}

#[test]
fn preflights_on_frontend_routes_need_no_key_and_pages_read_refusals() {
    configure("edge");
    let preflight = Machine::start(
        "OPTIONS",
        "https://k/v1/client/x",
        "origin\nhttps://shop.example\naccess-control-request-method\nPOST\naccess-control-request-headers\nX-Custom\n",
        None,
        NOW,
    );
    assert_eq!(
        (preflight.action, preflight.reply.status),
        (Action::Respond, 204)
    );
    assert!(preflight
        .reply
        .headers
        .contains("Access-Control-Allow-Origin\nhttps://shop.example\n"));
    assert!(preflight.reply.headers.contains("x-custom"));
    let refused = get("/v1/client/x", "origin\nhttps://shop.example\n");
    assert!(refused
        .reply
        .headers
        .contains("Access-Control-Allow-Origin\nhttps://shop.example\n"));
    // Not on a frontend route: no CORS at all.
    let secret_route = get("/v1/users", "origin\nhttps://shop.example\n");
    assert!(!secret_route.reply.headers.contains("Access-Control"));
}

#[test]
fn without_a_signing_key_nothing_is_looked_up_or_forwarded() {
    isolate::with(|i| {
        i.configure(isolate::Settings::parse(
            "SECRET_KEY_VALIDATION=edge\nORIGIN_URL=http://o",
        ))
    });
    let machine = get("/v1/users", &bearer(&key(KeyKind::Secret)));
    assert_eq!(
        (machine.action, machine.reply.status),
        (Action::Respond, 503)
    );
    assert!(machine.reply.body.contains("origin_signing_not_configured"));
}

#[test]
fn usage_and_events_are_reported_to_the_key_ring_in_batches() {
    configure("edge");
    let secret = key(KeyKind::Secret);
    let mut machine = get(
        "/v1/users",
        &format!("{}origin\nhttps://a.example\n", bearer(&secret)),
    );
    machine.resume(200, Some(&record(KeyKind::Secret, "{}")), NOW);
    // The first exposure goes out at once; usage waits for its batch.
    let reports = isolate::with(|i| i.take_reports(NOW));
    assert_eq!(reports.len(), 1);
    assert!(
        reports[0].1.contains("\"record_events\"") && reports[0].1.contains("secret_in_browser")
    );
    let later = isolate::with(|i| i.take_reports(UnixMillis(NOW.0 + 5_000)));
    assert!(
        later
            .iter()
            .any(|(_, json)| json.contains("\"record_usage\"")),
        "{later:?}"
    );
}

#[test]
fn the_control_planes_failures_are_counted_here_and_its_limits_applied_before_it() {
    configure("edge");
    let operator = "authorization\nBearer not-the-operator-token\ncf-connecting-ip\n198.51.100.7\n";
    let mut wrong = get("/v1/applications", operator);
    assert_eq!(wrong.action, Action::Control);
    wrong.control_answered(Some("sign-in"));
    assert_eq!(
        (wrong.action, wrong.target.as_str()),
        (Action::CountFailure, "SIGN_IN_LIMITER")
    );
    wrong.resume(1, None, NOW);
    assert_eq!(
        wrong.action,
        Action::PassControlAnswer,
        "within the limit: the control plane's 401"
    );
    let mut over = get("/v1/applications", operator);
    over.control_answered(Some("sign-in"));
    over.resume(0, None, NOW);
    assert_eq!((over.action, over.reply.status), (Action::Respond, 429));
    assert!(over.reply.body.contains("too_many_sign_in_attempts"));
    // From then on the address's sign-ins stop here; its other requests do not.
    let blocked = Machine::start(
        "POST",
        "https://k/v1/dashboard/session",
        "cf-connecting-ip\n198.51.100.7\n",
        None,
        NOW,
    );
    assert_eq!(
        (blocked.action, blocked.reply.status),
        (Action::Respond, 429)
    );
    assert_eq!(
        get("/v1/keys", "cf-connecting-ip\n198.51.100.7\n").action,
        Action::Control
    );
    // A key that fails at the management API counts against its application and address.
    let secret = key(KeyKind::Secret);
    let mut management = get("/v1/keys", &bearer(&secret));
    management.control_answered(Some(&format!("key {APP}")));
    assert_eq!(
        (management.target.as_str(), management.body.as_str()),
        ("FAILED_AUTH_APP_LIMITER", APP)
    );
    management.resume(0, None, NOW);
    assert_eq!(management.target, "FAILED_AUTH_LIMITER");
    management.resume(1, None, NOW);
    assert_eq!(management.action, Action::PassControlAnswer);
    // The application is flooded now: the control plane hears it with the next request.
    let flooded = get("/v1/keys", &bearer(&secret));
    assert_eq!(
        flooded.control_headers,
        [("X-Aero2-Flooded", "1".to_owned())]
    );
    // No report: the answer passes as it is.
    let mut fine = get("/v1/keys", &bearer(&secret));
    fine.control_answered(None);
    assert_eq!(fine.action, Action::PassControlAnswer);
}

#[test]
fn an_address_blocked_for_made_up_cookies_can_still_sign_in() {
    configure("edge");
    let address = "cf-connecting-ip\n198.51.100.44\n";
    let cookie = format!("{address}cookie\n__Host-aero2_session={:064x}\n", 7);
    let mut made_up = get("/v1/applications", &cookie);
    made_up.control_answered(Some("session"));
    assert_eq!(made_up.target, "FAILED_AUTH_LIMITER");
    made_up.resume(0, None, NOW);
    assert_eq!(
        (made_up.action, made_up.reply.status),
        (Action::Respond, 429)
    );
    assert!(made_up.reply.body.contains("too_many_failed_attempts"));
    // The address's next cookie stops here, but a sign-in has its own limit.
    let again = get("/v1/applications", &cookie);
    assert_eq!((again.action, again.reply.status), (Action::Respond, 429));
    let sign_in = Machine::start("POST", "https://k/v1/dashboard/session", address, None, NOW);
    assert_eq!(sign_in.action, Action::Control);
    let operator = get(
        "/v1/applications",
        &format!("{address}authorization\nBearer operator-token\n"),
    );
    assert_eq!(operator.action, Action::Control);
}

#[test]
fn passkey_sign_ins_and_invitations_meet_the_sign_in_limit() {
    configure("edge");
    let address = "cf-connecting-ip\n198.51.100.61\n";
    let mut wrong = Machine::start(
        "POST",
        "https://k/v1/passkeys/authentication",
        address,
        None,
        NOW,
    );
    assert_eq!(wrong.action, Action::Control);
    wrong.control_answered(Some("sign-in"));
    assert_eq!(wrong.target, "SIGN_IN_LIMITER");
    wrong.resume(0, None, NOW);
    assert_eq!((wrong.action, wrong.reply.status), (Action::Respond, 429));
    // From then on the address's ceremonies stop here, before anything is stored.
    for path in [
        "/v1/passkeys/authentication/options",
        "/v1/passkeys/authentication",
        "/v1/invitations/abc/registration/options",
        "/v1/invitations/abc/registration",
    ] {
        let blocked = Machine::start("POST", &format!("https://k{path}"), address, None, NOW);
        assert_eq!(
            (blocked.action, blocked.reply.status),
            (Action::Respond, 429),
            "{path}"
        );
    }
    // Reading the session is not a sign-in.
    assert_eq!(get("/v1/passkeys", address).action, Action::Control);
}

mod quick_path {
    //! The host's quick path against the whole machine: for random requests, whenever
    //! [`quick_reply`] answers, [`Machine::start`] with every header answers the same.

    use super::*;
    use proptest::prelude::*;

    fn method() -> impl Strategy<Value = String> {
        prop::sample::select(vec![
            "GET", "POST", "DELETE", "OPTIONS", "TRACE", "HEAD", "get",
        ])
        .prop_map(str::to_owned)
    }

    /// A frontend, gated, control-plane or assets path, then a tail of tricky segments.
    fn path() -> impl Strategy<Value = String> {
        let start = prop::sample::select(vec![
            "/v1/client/",
            "/v1/client",
            "/v1/",
            "/v1/keys/",
            "/openapi.json",
            "/",
        ]);
        let segment = prop::sample::select(vec![
            "users",
            "orders",
            "keys",
            "client",
            "..",
            "%2e%2e",
            "%25%32%46",
            "a%2Fb",
            "%E2%80%A5",
            "session",
            "",
            "x;y",
        ]);
        (start, prop::collection::vec(segment, 0..3))
            .prop_map(|(start, tail)| format!("{start}{}", tail.join("/")))
    }

    fn authorization(secret: String, publishable: String) -> impl Strategy<Value = Option<String>> {
        let bad_checksum = {
            let mut key = secret.clone();
            let last = key.pop().unwrap();
            key.push(if last == 'A' { 'B' } else { 'A' });
            key
        };
        prop::sample::select(vec![
            None,
            Some(String::new()),
            Some(String::from("Bearer")),
            Some(String::from("Bearer sk_live_short")),
            Some(String::from("Basic dXNlcjpwYXNz")),
            Some(format!("Bearer {secret}")),
            Some(format!("bearer   {publishable}")),
            Some(format!("Bearer {bad_checksum}")),
            Some(format!("Bearer {secret} extra")),
            Some(String::from("Bearer pk_test_\u{e9}\u{e9}")),
        ])
    }

    fn origin() -> impl Strategy<Value = Option<String>> {
        prop::sample::select(vec![
            None,
            Some(String::from("https://shop.example")),
            Some(String::from("null")),
            Some(String::from("https://shop.example/path")),
        ])
    }

    /// Other headers, a secret key among them sometimes.
    fn others(secret: String) -> impl Strategy<Value = String> {
        prop::sample::select(vec![
            String::new(),
            String::from("cf-connecting-ip\n203.0.113.9\n"),
            String::from("access-control-request-method\nGET\n"),
            String::from("sec-fetch-mode\ncors\nsec-fetch-site\ncross-site\n"),
            String::from("cookie\ntheme=dark\n"),
            format!("cookie\ntheme=dark; k={secret}\n"),
            format!("x-api-key\n{}\n", secret.replace('_', "%5F")),
        ])
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]
        #[test]
        fn quick_answers_only_what_the_whole_machine_answers(
            (method, path, authorization, origin, others) in (
                method(),
                path(),
                authorization(
                    key(KeyKind::Secret).expose_secret().to_owned(),
                    key(KeyKind::Publishable).expose_secret().to_owned(),
                ),
                origin(),
                others(key(KeyKind::Secret).expose_secret().to_owned()),
            )
        ) {
            configure("edge");
            let url = format!("https://keys.example.com{path}");
            let mut headers = others;
            if let Some(value) = &authorization {
                headers.push_str(&format!("authorization\n{value}\n"));
            }
            if let Some(value) = &origin {
                headers.push_str(&format!("origin\n{value}\n"));
            }
            let quick = quick_reply(&method, &url, &headers);
            let whole = Machine::start(&method, &url, &headers, Some(Region::Weur), NOW);
            if let Some(answer) = quick {
                prop_assert_eq!(whole.action, Action::Respond);
                prop_assert_eq!(whole.reply.packed(), answer.reply().packed());
            } else if whole.action == Action::Respond {
                // The quick path leaves to the machine only what reads more than it does:
                // a preflight, or a refusal after the key's format (a secret key elsewhere,
                // no signing key, a blocked address).
                let after_format = !matches!(
                    whole.reply.status,
                    401 if whole.reply.body.contains("malformed_key")
                        || whole.reply.body.contains("missing_key")
                        || whole.reply.body.contains("bad_checksum")
                );
                prop_assert!(method == "OPTIONS" || after_format, "{:?}", whole.reply.body);
            }
        }
    }
}
