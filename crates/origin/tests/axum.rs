//! The tower layer in front of an axum router: verified requests reach the handler with
//! their claims in the extensions; the rest get 401 (503 when the keys cannot be fetched)
//! JSON and never reach it.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use aero2_origin::{Aero2Layer, Claims};
use axum::body::Body;
use axum::routing::any;
use axum::{Extension, Router};
use common::*;
use serde_json::{json, Value};
use tower::ServiceExt;

fn app(
    verifier: Arc<aero2_origin::Verifier>,
    reached: Arc<AtomicUsize>,
    refusals: Arc<Mutex<Vec<String>>>,
) -> Router {
    Router::new()
        .route(
            "/v1/{*rest}",
            any(move |Extension(claims): Extension<Claims>| {
                let reached = reached.clone();
                async move {
                    reached.fetch_add(1, Ordering::SeqCst);
                    serde_json::to_string(&claims).unwrap()
                }
            }),
        )
        .layer(Aero2Layer::new(verifier).on_refused(move |error| {
            refusals
                .lock()
                .unwrap()
                .push(error.reason().as_str().to_owned());
        }))
}

async fn call(
    app: &Router,
    method: &str,
    target: &str,
    token: Option<&str>,
) -> (u16, Option<String>, Value) {
    let mut request = http::Request::builder().method(method).uri(target);
    if let Some(token) = token {
        request = request.header("x-aero2-assertion", token);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let cache = response
        .headers()
        .get("cache-control")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, cache, serde_json::from_slice(&body).unwrap())
}

#[tokio::test]
async fn verified_requests_reach_the_handler_with_their_claims_and_the_rest_get_401() {
    let key = Key::new(1, "gate-1");
    let jwks = Jwks::new(&[&key]);
    let clock = Clock::at(T0 + 1);
    let verifier = verifier(&jwks, &clock).build().unwrap().shared();
    let reached = Arc::new(AtomicUsize::new(0));
    let refusals = Arc::new(Mutex::new(Vec::new()));
    let app = app(verifier, reached.clone(), refusals.clone());

    let token = key.sign(&claims("POST", "/v1/orders?page=2", T0));
    let (status, _, body) = call(&app, "POST", "/v1/orders?page=2", Some(&token)).await;
    assert_eq!(status, 200);
    assert_eq!(body["sub"], "key_AAAAAAAAAAAAAAAA");
    assert_eq!(body["kid"], "gate-1");
    assert_eq!(body["htu"], "/v1/orders?page=2");

    let other = key.sign(&claims("GET", "/v1/a", T0));
    for (method, target, token, reason) in [
        (
            "POST",
            "/v1/orders?page=2",
            Some(token.as_str()),
            "replayed",
        ),
        ("GET", "/v1/a", None, "missing"),
        ("DELETE", "/v1/a", Some(other.as_str()), "wrong_method"),
        ("GET", "/v1/b", Some(other.as_str()), "wrong_target"),
        (
            "GET",
            "/v1/a",
            Some(&key.sign_with(
                json!({"typ": "aero2-checkpoint+jwt"}),
                &claims("GET", "/v1/a", T0),
            )),
            "wrong_type",
        ),
    ] {
        let (status, cache, body) = call(&app, method, target, token).await;
        assert_eq!(status, 401, "{reason}");
        assert_eq!(cache.as_deref(), Some("no-store"));
        assert_eq!(
            body,
            json!({"error": {"code": "assertion_refused", "reason": reason}})
        );
    }
    assert_eq!(reached.load(Ordering::SeqCst), 1);
    assert_eq!(
        *refusals.lock().unwrap(),
        [
            "replayed",
            "missing",
            "wrong_method",
            "wrong_target",
            "wrong_type"
        ]
    );
    // The untouched token still passes, once.
    assert_eq!(call(&app, "GET", "/v1/a", Some(&other)).await.0, 200);
}

#[tokio::test]
async fn unavailable_keys_get_503() {
    let key = Key::new(1, "gate-1");
    let jwks = Jwks::new(&[&key]);
    jwks.fail.store(true, Ordering::SeqCst);
    let clock = Clock::at(T0 + 1);
    let verifier = verifier(&jwks, &clock).build().unwrap().shared();
    let app = app(verifier, Arc::default(), Arc::default());
    let token = key.sign(&claims("GET", "/v1/a", T0));
    let (status, _, body) = call(&app, "GET", "/v1/a", Some(&token)).await;
    assert_eq!(status, 503);
    assert_eq!(body["error"]["reason"], "jwks_unavailable");
}
