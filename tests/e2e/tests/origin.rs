//! How the gate is configured toward the origin: nothing unsigned is ever forwarded, test
//! keys can be kept off the production origin, and a rotated signing key stays published.

use aero2_e2e::*;
use serde_json::{json, Value};

/// 503 `origin_signing_not_configured`, and nothing reached the origin.
fn refused_unsigned(reply: &Reply) {
    assert_eq!(
        (reply.status, reply.code()),
        (503, "origin_signing_not_configured"),
        "{}",
        reply.body
    );
    assert!(reply.json.get("origin").is_none(), "forwarded unsigned");
}

#[test]
fn without_a_signing_key_nothing_is_forwarded_and_the_operator_token_is_trimmed() {
    let w = Worker::start(
        "unsigned",
        Options {
            without_signing_key: true,
            // Pasted with spaces around it into the secret: compared trimmed.
            admin_token: Some(format!("  {ADMIN_TOKEN} ")),
            ..Options::default()
        },
    );
    let app = w.create_application("Unsigned", "production");
    for (path, key) in [
        ("/v1/users", &app.secret.value),
        ("/v1/client/x", &app.publishable.value),
    ] {
        refused_unsigned(&w.get(path, key));
    }
    // Management does not depend on the origin.
    assert_eq!(w.get("/v1/keys", &app.secret.value).status, 200);
    let jwks = request("GET", &w.url("/.well-known/jwks.json"), &[], None);
    assert_eq!(jwks.json, json!({"keys": []}));
}

#[test]
fn a_signing_key_that_cannot_be_imported_forwards_nothing() {
    // The gate reads the JWK's shape when its isolate starts and imports the key at the
    // first forward: a key of the right shape that WebCrypto refuses (a private part of
    // the wrong length) must still stop every forward.
    let mut jwk: Value = serde_json::from_str(&new_signing_key()).unwrap();
    jwk["d"] = json!("AAAA");
    let w = Worker::start(
        "unimportable",
        Options {
            signing_key: Some(jwk.to_string()),
            ..Options::default()
        },
    );
    let app = w.create_application("Unimportable", "production");
    for _ in 0..2 {
        refused_unsigned(&w.get("/v1/users", &app.secret.value));
    }
}

#[test]
fn test_keys_go_to_the_test_origin_and_previous_public_keys_stay_published() {
    let previous = new_signing_key();
    let previous: Value = serde_json::from_str(&previous).unwrap();
    let previous_public = json!([{
        "kty": "OKP", "crv": "Ed25519", "x": previous["x"], "kid": previous["kid"]
    }, {"kty": "RSA", "kid": "not-ed25519", "n": "x", "e": "AQAB"}]);
    let w = Worker::start(
        "test-origin",
        Options {
            test_origin: true,
            vars: vec![
                ("ORIGIN_PREVIOUS_PUBLIC_KEYS", previous_public.to_string()),
                ("ASSERTION_ISSUER", "https://keys.example".into()),
            ],
            ..Options::default()
        },
    );
    let test_origin = w.test_origin_url.clone().unwrap();
    let host = |url: &str| url.trim_start_matches("http://").to_owned();

    let development = w.create_application("Dev", "development");
    let seen = w.get("/v1/users", &development.secret.value);
    // The test origin would refuse an assertion for another audience: it verified this one.
    assert_eq!(seen.status, 200, "{}", seen.body);
    assert_eq!(seen.json["headers"]["host"], host(&test_origin));
    assert_eq!(seen.json["assertion"]["claims"]["env"], "test");
    assert_eq!(
        seen.json["assertion"]["claims"]["aud"],
        test_origin.as_str()
    );
    assert_eq!(
        seen.json["assertion"]["claims"]["iss"],
        "https://keys.example"
    );

    let production = w.create_application("Prod", "production");
    let seen = w.get("/v1/users", &production.secret.value);
    assert_eq!(seen.status, 200, "{}", seen.body);
    assert_eq!(seen.json["headers"]["host"], host(&w.origin_url));
    assert_eq!(seen.json["assertion"]["claims"]["env"], "live");

    let jwks = request("GET", &w.url("/.well-known/jwks.json"), &[], None);
    let kids: Vec<&str> = jwks.json["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    let current: Value = serde_json::from_str(w.signing_key.as_ref().unwrap()).unwrap();
    assert_eq!(
        kids,
        [
            current["kid"].as_str().unwrap(),
            previous["kid"].as_str().unwrap()
        ],
        "the current key, then the previous Ed25519 key; the RSA entry is left out"
    );
}

/// The README's Rust example, run for real: an origin verifies the assertion with the
/// `jsonwebtoken` crate against the gate's JWKS, and refuses one made for another request.
#[test]
fn an_origin_in_rust_verifies_the_assertion_with_jsonwebtoken() {
    use jsonwebtoken::jwk::JwkSet;
    use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};

    #[derive(serde::Deserialize)]
    struct Assertion {
        sub: String,
        app: String,
        kind: String,
        htm: String,
        htu: String,
    }

    let w = Worker::start("rust-origin", Options::default());
    let app = w.create_application("Rust origin", "production");
    let forwarded = w.get("/v1/orders?page=2", &app.secret.value);
    let token = forwarded.json["headers"]["x-aero2-assertion"]
        .as_str()
        .unwrap()
        .to_owned();
    let jwks: JwkSet =
        serde_json::from_str(&request("GET", &w.url("/.well-known/jwks.json"), &[], None).body)
            .unwrap();

    // --- as in README.md ---
    let kid = decode_header(&token).unwrap().kid.expect("a kid");
    let jwk = jwks.find(&kid).expect("a published key");
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_issuer(&[w.base.as_str()]);
    validation.set_audience(&[w.origin_url.as_str()]);
    let claims = decode::<Assertion>(&token, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
        .unwrap()
        .claims;
    assert_eq!(
        (claims.htm.as_str(), claims.htu.as_str()),
        ("GET", "/v1/orders?page=2")
    );
    // --- end ---
    assert_eq!(claims.sub, app.secret.id);
    assert_eq!(claims.app, app.id);
    assert_eq!(claims.kind, "secret");

    // Another audience, a tampered payload, another issuer: refused.
    let mut elsewhere = Validation::new(Algorithm::EdDSA);
    elsewhere.set_audience(&["https://another-origin.example"]);
    assert!(decode::<Assertion>(&token, &DecodingKey::from_jwk(jwk).unwrap(), &elsewhere).is_err());
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    parts[1] = parts[1].replace('A', "B");
    let tampered = parts.join(".");
    assert!(
        decode::<Assertion>(&tampered, &DecodingKey::from_jwk(jwk).unwrap(), &validation).is_err()
    );
    let mut other_issuer = Validation::new(Algorithm::EdDSA);
    other_issuer.set_issuer(&["https://evil.example"]);
    other_issuer.set_audience(&[w.origin_url.as_str()]);
    assert!(
        decode::<Assertion>(&token, &DecodingKey::from_jwk(jwk).unwrap(), &other_issuer).is_err()
    );
}
