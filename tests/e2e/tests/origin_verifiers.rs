//! The Rust origin verifier (`crates/origin`, `aero2-origin`) against the real gate: the
//! worker in workerd signs assertions, the demo origin echoes what it received, and the
//! verifier checks those tokens with the gate's JWK Set fetched over HTTP. A valid request
//! passes; a tampered, replayed, moved, misaddressed or expired token is refused; a rotated
//! signing key with the previous one still published keeps both kinds of tokens good.
//! (`packages/origin/test/gate.test.mjs` does the same for the npm package.)

use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use aero2_e2e::*;
use aero2_origin::{BoxError, Claims, Error, Reason, Verifier};
use serde_json::{json, Value};

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime")
        .block_on(future)
}

/// A fetcher of the gate's JWK Set over HTTP, counting its fetches.
fn jwks_fetcher(
    w: &Worker,
    fetches: Arc<AtomicUsize>,
) -> impl Fn() -> std::future::Ready<Result<Vec<u8>, BoxError>> + Send + Sync + 'static {
    let url = w.url("/.well-known/jwks.json");
    move || {
        fetches.fetch_add(1, Ordering::SeqCst);
        std::future::ready(match try_request("GET", &url, &[], None) {
            Ok(reply) if reply.status == 200 => Ok(reply.body.into_bytes()),
            Ok(reply) => Err(format!("status {}", reply.status).into()),
            Err(error) => Err(error.into()),
        })
    }
}

/// A clock `offset` milliseconds away from the system's.
fn clock(offset: Arc<AtomicI64>) -> impl Fn() -> SystemTime + Send + Sync + 'static {
    move || {
        let offset = offset.load(Ordering::SeqCst);
        let now = SystemTime::now();
        if offset >= 0 {
            now + Duration::from_millis(offset as u64)
        } else {
            now - Duration::from_millis(offset.unsigned_abs())
        }
    }
}

/// What the demo origin received for `path`: the request as an `http::Request` with the
/// headers the gate sent (the assertion and the identity headers among them).
fn forwarded(w: &Worker, key: &str, path: &str) -> http::Request<()> {
    let reply = w.get(path, key);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let mut request = http::Request::builder()
        .method(reply.json["method"].as_str().unwrap())
        .uri(reply.json["path"].as_str().unwrap());
    for (name, value) in reply.json["headers"].as_object().unwrap() {
        if name.starts_with("x-aero2-") {
            request = request.header(name.as_str(), value.as_str().unwrap());
        }
    }
    request.body(()).unwrap()
}

fn token_of(request: &http::Request<()>) -> String {
    request.headers()["x-aero2-assertion"]
        .to_str()
        .unwrap()
        .to_owned()
}

fn reason(result: Result<Claims, Error>) -> Reason {
    let error = result.expect_err("expected a refusal");
    error.reason()
}

#[test]
fn the_rust_verifier_accepts_the_gates_assertions_and_refuses_misuse() {
    let w = Worker::start("origin-verifiers", Options::default());
    let app = w.create_application("Rust verifier", "production");
    let fetches = Arc::new(AtomicUsize::new(0));
    let verifier = Verifier::builder(
        w.base.as_str(),
        w.origin_url.as_str(),
        jwks_fetcher(&w, fetches.clone()),
    )
    .build()
    .unwrap();
    let current: Value = serde_json::from_str(w.signing_key.as_ref().unwrap()).unwrap();

    // A valid request: its claims, identity headers and all.
    let request = forwarded(&w, &app.secret.value, "/v1/orders?page=2&q=%22x%22");
    let claims = block_on(verifier.verify_request(&request)).unwrap();
    assert_eq!(claims.sub, app.secret.id);
    assert_eq!(claims.app, app.id);
    assert_eq!(
        (claims.env.as_str(), claims.kind.as_str()),
        ("live", "secret")
    );
    assert_eq!(
        (claims.htm.as_str(), claims.htu.as_str()),
        ("GET", "/v1/orders?page=2&q=%22x%22")
    );
    assert_eq!(
        (claims.iss.as_str(), claims.aud.as_str()),
        (w.base.as_str(), w.origin_url.as_str())
    );
    assert_eq!(claims.kid, current["kid"].as_str().unwrap());
    assert_eq!(claims.exp - claims.iat, 60);
    // A publishable key on a frontend route too.
    let publishable = forwarded(&w, &app.publishable.value, "/v1/client/session");
    let claims = block_on(verifier.verify_request(&publishable)).unwrap();
    assert_eq!(claims.kind, "publishable");

    // Replayed.
    assert_eq!(
        reason(block_on(verifier.verify_request(&request))),
        Reason::Replayed
    );

    // Tampered: the claims moved to another path, or the signature changed.
    let request = forwarded(&w, &app.secret.value, "/v1/orders/8");
    let token = token_of(&request);
    let parts: Vec<&str> = token.split('.').collect();
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let mut claims: Value = serde_json::from_slice(&engine.decode(parts[1]).unwrap()).unwrap();
    claims["htu"] = json!("/v1/admin");
    let moved = format!(
        "{}.{}.{}",
        parts[0],
        engine.encode(claims.to_string()),
        parts[2]
    );
    assert_eq!(
        reason(block_on(verifier.verify_token(
            Some(&moved),
            "GET",
            "/v1/admin"
        ))),
        Reason::BadSignature
    );
    let mut signature = parts[2].to_owned().into_bytes();
    signature[5] = if signature[5] == b'A' { b'B' } else { b'A' };
    let flipped = format!(
        "{}.{}.{}",
        parts[0],
        parts[1],
        String::from_utf8(signature).unwrap()
    );
    assert_eq!(
        reason(block_on(verifier.verify_token(
            Some(&flipped),
            "GET",
            "/v1/orders/8"
        ))),
        Reason::BadSignature
    );

    // Another method or path.
    assert_eq!(
        reason(block_on(verifier.verify_token(
            Some(&token),
            "DELETE",
            "/v1/orders/8"
        ))),
        Reason::WrongMethod
    );
    for target in ["/v1/orders/9", "/v1/orders/8?x=1", "/v1/orders"] {
        assert_eq!(
            reason(block_on(verifier.verify_token(Some(&token), "GET", target))),
            Reason::WrongTarget,
            "{target}"
        );
    }
    // Another audience, another issuer.
    let request = forwarded(&w, &app.secret.value, "/v1/orders/10");
    let elsewhere = Verifier::builder(
        w.base.as_str(),
        "https://another-origin.example",
        jwks_fetcher(&w, fetches.clone()),
    )
    .build()
    .unwrap();
    assert_eq!(
        reason(block_on(elsewhere.verify_request(&request))),
        Reason::WrongAudience
    );
    let other_issuer = Verifier::builder(
        "https://keys.example",
        w.origin_url.as_str(),
        jwks_fetcher(&w, fetches.clone()),
    )
    .build()
    .unwrap();
    assert_eq!(
        reason(block_on(other_issuer.verify_request(&request))),
        Reason::WrongIssuer
    );

    // Expired, or not yet valid, by an injected clock (no waiting for a minute).
    let offset = Arc::new(AtomicI64::new(70_000));
    let shifted = Verifier::builder(
        w.base.as_str(),
        w.origin_url.as_str(),
        jwks_fetcher(&w, fetches.clone()),
    )
    .clock(clock(offset.clone()))
    .build()
    .unwrap();
    assert_eq!(
        reason(block_on(shifted.verify_request(&request))),
        Reason::Expired
    );
    offset.store(-30_000, Ordering::SeqCst);
    assert_eq!(
        reason(block_on(shifted.verify_request(&request))),
        Reason::NotYetValid
    );
    offset.store(0, Ordering::SeqCst);
    block_on(shifted.verify_request(&request)).unwrap();

    // Through all of that, the first verifier fetched the JWK Set once.
    let verifier_fetches = fetches.load(Ordering::SeqCst);
    block_on(verifier.verify_request(&request)).unwrap();
    assert_eq!(fetches.load(Ordering::SeqCst), verifier_fetches);
}

#[test]
fn a_rotated_signing_key_with_the_previous_one_published_keeps_both_verifiable() {
    let mut w = Worker::start("origin-verifiers-rotation", Options::default());
    let app = w.create_application("Rotation", "production");
    let previous: Value = serde_json::from_str(w.signing_key.as_ref().unwrap()).unwrap();

    // One verifier refetches an unknown kid after 1 s, one after the default minute.
    let quick_fetches = Arc::new(AtomicUsize::new(0));
    let quick = Verifier::builder(
        w.base.as_str(),
        w.origin_url.as_str(),
        jwks_fetcher(&w, quick_fetches.clone()),
    )
    .jwks_cooldown(Duration::from_secs(1))
    .build()
    .unwrap();
    let default_fetches = Arc::new(AtomicUsize::new(0));
    let default = Verifier::builder(
        w.base.as_str(),
        w.origin_url.as_str(),
        jwks_fetcher(&w, default_fetches.clone()),
    )
    .build()
    .unwrap();
    block_on(quick.verify_request(&forwarded(&w, &app.secret.value, "/v1/before/1"))).unwrap();
    block_on(default.verify_request(&forwarded(&w, &app.secret.value, "/v1/before/2"))).unwrap();
    let fetched_at = Instant::now();
    let old = forwarded(&w, &app.secret.value, "/v1/old");
    let old_for_later = forwarded(&w, &app.secret.value, "/v1/old/2");

    // Rotate: a new private key, the previous public key in ORIGIN_PREVIOUS_PUBLIC_KEYS.
    let previous_public = json!([{
        "kty": "OKP", "crv": "Ed25519", "x": previous["x"], "kid": previous["kid"],
        "alg": "EdDSA", "use": "sig"
    }]);
    w.set_vars(vec![(
        "ORIGIN_PREVIOUS_PUBLIC_KEYS",
        previous_public.to_string(),
    )]);
    w.signing_key = Some(new_signing_key());
    w.restart("TERM");
    let next: Value = serde_json::from_str(w.signing_key.as_ref().unwrap()).unwrap();
    let jwks = request("GET", &w.url("/.well-known/jwks.json"), &[], None);
    let kids: Vec<&str> = jwks.json["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(
        kids,
        [
            next["kid"].as_str().unwrap(),
            previous["kid"].as_str().unwrap()
        ]
    );

    let new = forwarded(&w, &app.secret.value, "/v1/new");
    // Within a minute of its fetch, the default verifier does not refetch: the new kid is
    // unknown to it for now.
    if fetched_at.elapsed() < Duration::from_secs(50) {
        assert_eq!(
            reason(block_on(default.verify_request(&new))),
            Reason::UnknownKey
        );
        assert_eq!(default_fetches.load(Ordering::SeqCst), 1);
    }
    // Past its 1 s cooldown, the other refetches once and verifies the new key's token...
    while fetched_at.elapsed() < Duration::from_millis(1_100) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let claims = block_on(quick.verify_request(&new)).unwrap();
    assert_eq!(claims.kid, next["kid"].as_str().unwrap());
    assert_eq!(quick_fetches.load(Ordering::SeqCst), 2);
    // ...and the previous key's, still published.
    let claims = block_on(quick.verify_request(&old)).unwrap();
    assert_eq!(claims.kid, previous["kid"].as_str().unwrap());
    assert_eq!(quick_fetches.load(Ordering::SeqCst), 2);
    // A verifier starting now knows both keys at once.
    let fresh = Verifier::builder(
        w.base.as_str(),
        w.origin_url.as_str(),
        jwks_fetcher(&w, Arc::default()),
    )
    .build()
    .unwrap();
    let claims =
        block_on(fresh.verify_request(&forwarded(&w, &app.secret.value, "/v1/new/2"))).unwrap();
    assert_eq!(claims.kid, next["kid"].as_str().unwrap());
    let claims = block_on(fresh.verify_request(&old_for_later)).unwrap();
    assert_eq!(claims.kid, previous["kid"].as_str().unwrap());
}
