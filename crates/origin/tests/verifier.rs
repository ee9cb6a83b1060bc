//! The verifier against tokens made as the gate makes them, and bent the ways an attacker
//! would bend them; the JWK Set from a fetcher that counts its calls, time from a clock the
//! tests move.

mod common;

use std::time::Duration;

use aero2_origin::{Error, Reason, StaticJwks, Verifier};
use common::*;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};

fn hs256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

fn request(method: &str, target: &str, token: Option<&str>) -> http::Request<()> {
    let mut builder = http::Request::builder().method(method).uri(target);
    if let Some(token) = token {
        builder = builder.header("x-aero2-assertion", token);
    }
    builder.body(()).unwrap()
}

/// Asserts a refusal for `reason` whose Display and Debug hold no part of `token`.
fn refused(result: Result<aero2_origin::Claims, Error>, reason: Reason, token: &str) -> Error {
    let error = result.expect_err("expected a refusal");
    assert_eq!(error.reason(), reason, "{error}");
    let shown = format!("{error} {error:?}");
    assert!(shown.starts_with(&format!("X-Aero2-Assertion refused ({})", reason.as_str())));
    for part in token.split('.').filter(|p| p.len() >= 8) {
        assert!(!shown.contains(part), "the error shows the token: {shown}");
    }
    assert_eq!(
        error.status(),
        if matches!(reason, Reason::JwksUnavailable | Reason::ReplayCacheFull) {
            503
        } else {
            401
        }
    );
    error
}

struct Setup {
    key: Key,
    jwks: Jwks,
    clock: Clock,
    verifier: Verifier,
}

fn setup() -> Setup {
    let key = Key::new(1, "gate-1");
    let jwks = Jwks::new(&[&key]);
    let clock = Clock::at(T0 + 1);
    let verifier = verifier(&jwks, &clock).build().unwrap();
    Setup {
        key,
        jwks,
        clock,
        verifier,
    }
}

#[tokio::test]
async fn a_genuine_assertion_is_accepted_once_with_its_claims() {
    let s = setup();
    let signed = claims("GET", "/v1/orders?page=2", T0);
    let token = s.key.sign(&signed);
    let verified = s
        .verifier
        .verify_request(&request("GET", "/v1/orders?page=2", Some(&token)))
        .await
        .unwrap();
    assert_eq!(verified.sub, "key_AAAAAAAAAAAAAAAA");
    assert_eq!(verified.kid, "gate-1");
    assert_eq!(verified.htu, "/v1/orders?page=2");
    assert_eq!(verified.jti, signed["jti"]);
    assert_eq!(s.jwks.fetches(), 1);
    refused(
        s.verifier
            .verify_request(&request("GET", "/v1/orders?page=2", Some(&token)))
            .await,
        Reason::Replayed,
        &token,
    );
    assert_eq!(s.verifier.replay_entries(), 1);
    // verify_token, and an empty query's "?" kept as the gate signs it.
    let token = s.key.sign(&claims("POST", "/p?", T0));
    s.verifier
        .verify_token(Some(&token), "POST", "/p?")
        .await
        .unwrap();
    let token = s.key.sign(&claims("GET", "/p?", T0));
    refused(
        s.verifier
            .verify_request(&request("GET", "/p", Some(&token)))
            .await,
        Reason::WrongTarget,
        &token,
    );
    s.verifier
        .verify_request(&request("GET", "/p?", Some(&token)))
        .await
        .unwrap();
    assert_eq!(s.jwks.fetches(), 1);
}

#[tokio::test]
async fn no_header_or_a_malformed_one_is_refused_without_fetching_keys() {
    let s = setup();
    refused(
        s.verifier.verify_request(&request("GET", "/", None)).await,
        Reason::Missing,
        "",
    );
    refused(
        s.verifier
            .verify_request(&request("GET", "/", Some("")))
            .await,
        Reason::Missing,
        "",
    );
    let header =
        b64(json!({"alg": "EdDSA", "kid": "gate-1", "typ": "aero2-assertion+jwt"}).to_string());
    let sig = b64([0u8; 64]);
    for token in [
        "abc".to_owned(),
        "a.b".into(),
        "a.b.c.d".into(),
        format!("{header}.e30.AA=="),
        format!("{header}.e30.a+b"),
        format!("{header}..{sig}"),
        format!("{header}.e30."),
        format!("{}.e30.{sig}", b64("not json")),
        format!("{}.e30.{sig}", b64("[1]")),
        format!("{}.e30.{sig}", b64(json!({"alg": "EdDSA", "typ": "aero2-assertion+jwt"}).to_string())),
        format!("{}.e30.{sig}", b64(json!({"alg": "EdDSA", "kid": 7, "typ": "aero2-assertion+jwt"}).to_string())),
        format!("{}.e30.{sig}", b64(json!({"alg": "EdDSA", "kid": "gate-1", "typ": "aero2-assertion+jwt", "crit": ["exp"]}).to_string())),
        format!("{}.e30.{sig}", b64(json!({"alg": "EdDSA", "kid": "gate-1", "typ": "aero2-assertion+jwt", "b64": false}).to_string())),
        format!("{header}.e30.{}", "A".repeat(20_000)),
    ] {
        refused(
            s.verifier.verify_request(&request("GET", "/", Some(&token))).await,
            Reason::Malformed,
            &token,
        );
    }
    // Two assertion headers.
    let two = http::Request::builder()
        .uri("/")
        .header("x-aero2-assertion", "a.b.c")
        .header("x-aero2-assertion", "d.e.f")
        .body(())
        .unwrap();
    refused(s.verifier.verify_request(&two).await, Reason::Malformed, "");
    // A signature of the wrong length never verifies.
    refused(
        s.verifier
            .verify_request(&request("GET", "/", Some(&format!("{header}.e30.AAAA"))))
            .await,
        Reason::BadSignature,
        "",
    );
    assert_eq!(s.jwks.fetches(), 0);
}

#[tokio::test]
async fn signed_claims_that_are_not_the_assertions_are_malformed() {
    let s = setup();
    let good = claims("GET", "/", T0);
    let with = |name: &str, value: Value| {
        let mut c = good.clone();
        if value.is_null() {
            c.as_object_mut().unwrap().remove(name);
        } else {
            c[name] = value;
        }
        c
    };
    for bad in [
        Value::String("not json".into()),
        json!([]),
        with("sub", Value::Null),
        with("jti", json!(7)),
        with("aud", json!([AUDIENCE])),
        with("iat", json!(T0 as f64 + 0.5)),
        with("exp", json!((T0 + 60).to_string())),
        with("exp", json!(T0)),
        with("exp", json!(T0 - 1)),
    ] {
        let token = s.key.sign(&bad);
        refused(
            s.verifier
                .verify_request(&request("GET", "/", Some(&token)))
                .await,
            Reason::Malformed,
            &token,
        );
    }
}

#[tokio::test]
async fn tokens_of_another_type_or_algorithm_are_refused() {
    let s = setup();
    let c = claims("GET", "/", T0);
    for typ in [
        json!("aero2-checkpoint+jwt"),
        json!("aero2-receipt+jwt"),
        json!("JWT"),
        json!("AERO2-ASSERTION+JWT"),
        json!("application/aero2-assertion+jwt"),
        json!(7),
        Value::Null,
    ] {
        let token = s.key.sign_with(json!({ "typ": typ }), &c);
        refused(
            s.verifier
                .verify_request(&request("GET", "/", Some(&token)))
                .await,
            Reason::WrongType,
            &token,
        );
    }
    let payload = b64(c.to_string());
    // alg none, and HS256 keyed with the public key in every form an attacker might try.
    let none = format!(
        "{}.{payload}.{}",
        b64(json!({"alg": "none", "kid": "gate-1", "typ": "aero2-assertion+jwt"}).to_string()),
        b64([0u8; 64])
    );
    refused(
        s.verifier
            .verify_request(&request("GET", "/", Some(&none)))
            .await,
        Reason::WrongAlgorithm,
        &none,
    );
    let x = s.key.signing.verifying_key().to_bytes();
    for secret in [
        x.to_vec(),
        b64(x).into_bytes(),
        s.key.jwk().to_string().into_bytes(),
    ] {
        let input = format!(
            "{}.{payload}",
            b64(json!({"alg": "HS256", "kid": "gate-1", "typ": "aero2-assertion+jwt"}).to_string())
        );
        let token = format!("{input}.{}", b64(hs256(&secret, input.as_bytes())));
        refused(
            s.verifier
                .verify_request(&request("GET", "/", Some(&token)))
                .await,
            Reason::WrongAlgorithm,
            &token,
        );
    }
    for alg in ["RS256", "ES256", "Ed25519", "eddsa", "EdDSA "] {
        let token = s.key.sign_with(json!({ "alg": alg }), &c);
        refused(
            s.verifier
                .verify_request(&request("GET", "/", Some(&token)))
                .await,
            Reason::WrongAlgorithm,
            &token,
        );
    }
    assert_eq!(s.jwks.fetches(), 0, "refused before any key is looked up");
}

#[tokio::test]
async fn altered_or_forged_tokens_have_a_bad_signature() {
    let s = setup();
    let token = s.key.sign(&claims("GET", "/", T0));
    let parts: Vec<&str> = token.split('.').collect();
    let mut other = claims("GET", "/", T0);
    other["sub"] = json!("key_CCCCCCCCCCCCCCCC");
    let flipped = {
        let mut sig = parts[2].to_owned().into_bytes();
        sig[10] = if sig[10] == b'A' { b'B' } else { b'A' };
        String::from_utf8(sig).unwrap()
    };
    let forger = Key::new(9, "gate-1");
    for bad in [
        format!("{}.{}.{}", parts[0], b64(other.to_string()), parts[2]),
        format!("{}.{}.{flipped}", parts[0], parts[1]),
        format!(
            "{}.{}.{}",
            b64(
                json!({"alg": "EdDSA", "kid": "gate-1", "typ": "aero2-assertion+jwt", "x": 1})
                    .to_string()
            ),
            parts[1],
            parts[2]
        ),
        forger.sign(&claims("GET", "/", T0)),
    ] {
        refused(
            s.verifier
                .verify_request(&request("GET", "/", Some(&bad)))
                .await,
            Reason::BadSignature,
            &bad,
        );
    }
    s.verifier
        .verify_request(&request("GET", "/", Some(&token)))
        .await
        .unwrap();
}

#[tokio::test]
async fn tokens_for_another_issuer_audience_method_target_or_identity_are_refused() {
    let s = setup();
    let cases = [
        (
            "iss",
            json!("https://evil.example"),
            "GET",
            "/a",
            Reason::WrongIssuer,
        ),
        (
            "aud",
            json!("https://other.example"),
            "GET",
            "/a",
            Reason::WrongAudience,
        ),
        ("htm", json!("POST"), "GET", "/a", Reason::WrongMethod),
        ("htm", json!("get"), "GET", "/a", Reason::WrongMethod),
        ("htu", json!("/b"), "GET", "/a", Reason::WrongTarget),
        ("htu", json!("/a?x=1"), "GET", "/a", Reason::WrongTarget),
        ("htu", json!("/A"), "GET", "/a", Reason::WrongTarget),
    ];
    for (claim, value, method, target, reason) in cases {
        let mut c = claims(method, target, T0);
        c[claim] = value;
        let token = s.key.sign(&c);
        refused(
            s.verifier
                .verify_request(&request(method, target, Some(&token)))
                .await,
            reason,
            &token,
        );
    }
    // Identity headers must agree with the claims when present.
    for (name, value) in [
        ("x-aero2-key-id", "key_CCCCCCCCCCCCCCCC"),
        ("x-aero2-application-id", "app_X"),
        ("x-aero2-environment", "test"),
        ("x-aero2-key-kind", "publishable"),
    ] {
        let token = s.key.sign(&claims("GET", "/a", T0));
        let mut req = request("GET", "/a", Some(&token));
        req.headers_mut().insert(name, value.parse().unwrap());
        refused(
            s.verifier.verify_request(&req).await,
            Reason::HeaderMismatch,
            &token,
        );
    }
    let token = s.key.sign(&claims("GET", "/a", T0));
    let mut req = request("GET", "/a", Some(&token));
    for (name, value) in [
        ("x-aero2-key-id", "key_AAAAAAAAAAAAAAAA"),
        ("x-aero2-application-id", "app_BBBBBBBBBBBBBBBB"),
        ("x-aero2-environment", "live"),
        ("x-aero2-key-kind", "secret"),
    ] {
        req.headers_mut().insert(name, value.parse().unwrap());
    }
    s.verifier.verify_request(&req).await.unwrap();
    // Turned off, and a second audience.
    let lenient = verifier(&s.jwks, &s.clock)
        .check_identity_headers(false)
        .audience("https://test-api.example")
        .build()
        .unwrap();
    let mut c = claims("GET", "/a", T0);
    c["aud"] = json!("https://test-api.example");
    let token = s.key.sign(&c);
    let mut req = request("GET", "/a", Some(&token));
    req.headers_mut()
        .insert("x-aero2-key-kind", "publishable".parse().unwrap());
    lenient.verify_request(&req).await.unwrap();
}

#[tokio::test]
async fn time_is_checked_with_the_tolerance_by_the_injected_clock() {
    let s = setup();
    let at = |ms: i64, c: &Value| {
        s.clock.set_ms(ms);
        let token = s.key.sign(c);
        let v = &s.verifier;
        async move { v.verify_token(Some(&token), "GET", "/").await }
    };
    let base = T0 * 1000;
    at(base + 64_999, &claims("GET", "/", T0)).await.unwrap();
    let reason = |r: Result<_, Error>| r.unwrap_err().reason();
    assert_eq!(
        reason(at(base + 65_000, &claims("GET", "/", T0)).await),
        Reason::Expired
    );
    assert_eq!(
        reason(at(base + 3_600_000, &claims("GET", "/", T0)).await),
        Reason::Expired
    );
    at(base - 5_000, &claims("GET", "/", T0)).await.unwrap();
    assert_eq!(
        reason(at(base - 5_001, &claims("GET", "/", T0)).await),
        Reason::NotYetValid
    );
    let mut nbf = claims("GET", "/", T0);
    nbf["nbf"] = json!(T0 + 30);
    assert_eq!(reason(at(base, &nbf).await), Reason::NotYetValid);
    let mut long = claims("GET", "/", T0);
    long["exp"] = json!(T0 + 61);
    assert_eq!(reason(at(base, &long).await), Reason::LifetimeTooLong);
    long["exp"] = json!(T0 + 86_400);
    assert_eq!(reason(at(base, &long).await), Reason::LifetimeTooLong);
    // No tolerance: expired at exp exactly.
    let strict = verifier(&s.jwks, &s.clock)
        .clock_tolerance(Duration::ZERO)
        .build()
        .unwrap();
    s.clock.set_ms(base + 59_999);
    let token = s.key.sign(&claims("GET", "/", T0));
    strict.verify_token(Some(&token), "GET", "/").await.unwrap();
    s.clock.set_ms(base + 60_000);
    let token = s.key.sign(&claims("GET", "/", T0));
    refused(
        strict.verify_token(Some(&token), "GET", "/").await,
        Reason::Expired,
        &token,
    );
}

#[tokio::test]
async fn the_replay_cache_is_bounded_and_forgets_nothing_early() {
    let key = Key::new(1, "gate-1");
    let jwks = Jwks::new(&[&key]);
    let clock = Clock::at(T0);
    let v = verifier(&jwks, &clock)
        .max_replay_entries(3)
        .build()
        .unwrap();
    let mut tokens = Vec::new();
    for i in 0..3 {
        let token = key.sign(&claims("GET", "/", T0 + i));
        v.verify_token(Some(&token), "GET", "/").await.unwrap();
        tokens.push(token);
    }
    // A refused token takes no place.
    let wrong = key.sign(&claims("GET", "/", T0));
    refused(
        v.verify_token(Some(&wrong), "POST", "/").await,
        Reason::WrongMethod,
        &wrong,
    );
    let fourth = key.sign(&claims("GET", "/", T0 + 3));
    refused(
        v.verify_token(Some(&fourth), "GET", "/").await,
        Reason::ReplayCacheFull,
        &fourth,
    );
    refused(
        v.verify_token(Some(&tokens[0]), "GET", "/").await,
        Reason::Replayed,
        &tokens[0],
    );
    // After the first expires (60 s + 5 s tolerance) there is room again.
    clock.set_ms((T0 + 66) * 1000);
    let later = key.sign(&claims("GET", "/", T0 + 40));
    v.verify_token(Some(&later), "GET", "/").await.unwrap();
    refused(
        v.verify_token(Some(&tokens[2]), "GET", "/").await,
        Reason::Replayed,
        &tokens[2],
    );
    assert_eq!(v.replay_entries(), 3);
    assert!(verifier(&jwks, &clock)
        .max_replay_entries(0)
        .build()
        .is_err());
}

#[test]
fn concurrent_requests_with_one_token_are_accepted_once() {
    let key = Key::new(1, "gate-1");
    let jwks = Jwks::new(&[&key]);
    let clock = Clock::at(T0);
    let v = std::sync::Arc::new(verifier(&jwks, &clock).build().unwrap());
    let token = key.sign(&claims("GET", "/", T0));
    let accepted: usize = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let (v, token) = (v.clone(), token.clone());
                scope.spawn(move || block_on(v.verify_token(Some(&token), "GET", "/")).is_ok())
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap() as usize)
            .sum()
    });
    assert_eq!(accepted, 1);
    assert_eq!(
        jwks.fetches(),
        1,
        "one fetch for eight concurrent first requests"
    );
}

#[tokio::test]
async fn the_jwk_set_is_refetched_on_an_unknown_kid_at_most_once_a_minute() {
    let s = setup();
    let t = |s: &Setup| s.clock.seconds();
    let token = s.key.sign(&claims("GET", "/", t(&s)));
    s.verifier
        .verify_token(Some(&token), "GET", "/")
        .await
        .unwrap();
    assert_eq!(s.jwks.fetches(), 1);

    // The gate rotates: a new key, the old one still published.
    let next = Key::new(2, "gate-2");
    s.jwks.set(&[&next, &s.key]);
    s.clock.advance(Duration::from_secs(10));
    for _ in 0..5 {
        let token = next.sign(&claims("GET", "/", t(&s)));
        refused(
            s.verifier.verify_token(Some(&token), "GET", "/").await,
            Reason::UnknownKey,
            &token,
        );
    }
    assert_eq!(
        s.jwks.fetches(),
        1,
        "no refetch within a minute of the last fetch"
    );
    s.clock.advance(Duration::from_millis(50_001));
    let token = next.sign(&claims("GET", "/", t(&s)));
    let claims_ = s
        .verifier
        .verify_token(Some(&token), "GET", "/")
        .await
        .unwrap();
    assert_eq!(claims_.kid, "gate-2");
    assert_eq!(s.jwks.fetches(), 2);
    let token = s.key.sign(&claims("GET", "/", t(&s)));
    assert_eq!(
        s.verifier
            .verify_token(Some(&token), "GET", "/")
            .await
            .unwrap()
            .kid,
        "gate-1",
        "the previous key, still published"
    );
    // A kid nobody published: at most one refetch a minute.
    let stranger = Key::new(3, "stranger");
    for _ in 0..3 {
        let token = stranger.sign(&claims("GET", "/", t(&s)));
        refused(
            s.verifier.verify_token(Some(&token), "GET", "/").await,
            Reason::UnknownKey,
            &token,
        );
    }
    assert_eq!(s.jwks.fetches(), 2);
    s.clock.advance(Duration::from_millis(60_001));
    for _ in 0..3 {
        let token = stranger.sign(&claims("GET", "/", t(&s)));
        refused(
            s.verifier.verify_token(Some(&token), "GET", "/").await,
            Reason::UnknownKey,
            &token,
        );
    }
    assert_eq!(s.jwks.fetches(), 3);
    // After five minutes the set is fetched again for any kid.
    s.clock.advance(Duration::from_millis(300_001));
    let token = next.sign(&claims("GET", "/", t(&s)));
    s.verifier
        .verify_token(Some(&token), "GET", "/")
        .await
        .unwrap();
    assert_eq!(s.jwks.fetches(), 4);
}

#[tokio::test]
async fn an_unavailable_jwk_set_fails_closed_with_503_and_recovers() {
    let s = setup();
    s.jwks.fail.store(true, std::sync::atomic::Ordering::SeqCst);
    let token = s.key.sign(&claims("GET", "/", T0));
    let error = refused(
        s.verifier.verify_token(Some(&token), "GET", "/").await,
        Reason::JwksUnavailable,
        &token,
    );
    assert!(std::error::Error::source(&error).is_some());
    assert!(
        !format!("{error:?}").contains("connection refused"),
        "the source is left out of Debug"
    );
    // Retried at most once a second.
    refused(
        s.verifier.verify_token(Some(&token), "GET", "/").await,
        Reason::JwksUnavailable,
        &token,
    );
    assert_eq!(s.jwks.fetches(), 1);
    s.clock.advance(Duration::from_millis(1_001));
    s.jwks
        .fail
        .store(false, std::sync::atomic::Ordering::SeqCst);
    *s.jwks.body.lock().unwrap() = "not json".into();
    refused(
        s.verifier.verify_token(Some(&token), "GET", "/").await,
        Reason::JwksUnavailable,
        &token,
    );
    s.clock.advance(Duration::from_millis(1_001));
    s.jwks.set(&[&s.key]);
    s.verifier
        .verify_token(Some(&token), "GET", "/")
        .await
        .unwrap();
    assert_eq!(s.jwks.fetches(), 3);
}

#[tokio::test]
async fn a_static_jwk_set_with_keys_of_other_types_works() {
    let key = Key::new(1, "gate-1");
    let body = json!({"keys": [
        {"kty": "RSA", "kid": "rsa", "n": "sXch", "e": "AQAB"},
        {"kty": "oct", "kid": "gate-1", "k": b64(key.signing.verifying_key().as_bytes())},
        key.jwk(),
    ]});
    let clock = Clock::at(T0);
    let v = Verifier::builder(ISSUER, AUDIENCE, StaticJwks(body.to_string().into_bytes()))
        .clock(clock.func())
        .build()
        .unwrap();
    let token = key.sign(&claims("GET", "/", T0));
    v.verify_token(Some(&token), "GET", "/").await.unwrap();
    let token = Key::new(1, "rsa").sign(&claims("GET", "/", T0));
    refused(
        v.verify_token(Some(&token), "GET", "/").await,
        Reason::UnknownKey,
        &token,
    );
    assert!(Verifier::builder("", AUDIENCE, StaticJwks(Vec::new()))
        .build()
        .is_err());
    assert!(Verifier::builder(ISSUER, "", StaticJwks(Vec::new()))
        .build()
        .is_err());
}
