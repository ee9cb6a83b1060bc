//! What the gate forwards to the origin: which client headers pass, which cookies, and the
//! claims of the signed assertion that lets the origin verify the gate.
//!
//! The origin trusts `X-Aero2-*` headers only because the gate sets them and drops any a
//! client sent. Servers read header names loosely (CGI, PHP and nginx with
//! `underscores_in_headers` turn `X_Aero2_Key_Kind` into the same variable as
//! `X-Aero2-Key-Kind`), so names are compared that way. The assertion is what lets the
//! origin refuse requests that did not come through the gate at all.

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

use base64::Engine;

use crate::ascii_search::contains_any;
use crate::format::{find_secret_key, ApplicationId, Environment, KeyId, KeyIdentity, KeyKind};
use crate::http::query::decode_lossy;
use crate::json_text::json_string;

/// The prefix of every header the gate sets for the origin.
pub const GATE_HEADER_PREFIX: &str = "x-aero2-";
/// The names of the cookies the worker itself sets, by prefix: the dashboard's session
/// (`__Host-aero2_session`), any later `__Host-aero2_…` cookie, and the names of earlier
/// releases (`aero2_session`). The one list: such a cookie is never forwarded to the
/// origin, and the origin can never set one (`Set-Cookie`) on the gate's host.
pub const WORKER_COOKIE_PREFIXES: [&str; 3] = ["__Host-aero2_", "__Secure-aero2_", "aero2_"];

/// Whether a cookie name is one of the worker's own ([`WORKER_COOKIE_PREFIXES`]). Compared
/// without regard to case: browsers read the `__Host-` prefix that way.
pub fn is_worker_cookie(name: &str) -> bool {
    let name = name.trim().as_bytes();
    WORKER_COOKIE_PREFIXES.iter().any(|prefix| {
        name.len() >= prefix.len() && name[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
    })
}

/// Whether the origin's `Set-Cookie` value sets one of the worker's own cookies, which it
/// must not: the gate answers on the dashboard's host, so the origin could plant or
/// overwrite the dashboard's session.
pub fn sets_worker_cookie(set_cookie: &str) -> bool {
    let name = set_cookie
        .split_once('=')
        .map_or(set_cookie, |(name, _)| name);
    is_worker_cookie(name)
}

/// Hop-by-hop headers (RFC 9110 §7.6.1), and the proxy credentials that go with them.
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Headers that claim to say who the client is, or where or how the request was first
/// sent. Origins and their libraries believe them (`request-ip` reads `X-Client-IP`
/// first; IIS and older Symfony route by `X-Original-URL`), so a client must not be able
/// to set them. The gate states the client's address itself (`X-Aero2-Client-Ip`, and
/// `X-Forwarded-For`), from the address the platform reports.
const CLIENT_STATED: [&str; 18] = [
    "x-real-ip",
    "true-client-ip",
    "forwarded",
    "forwarded-for",
    "x-forwarded",
    "x-client-ip",
    "x-cluster-client-ip",
    "fastly-client-ip",
    "x-appengine-user-ip",
    "client-ip",
    "x-originating-ip",
    "x-remote-ip",
    "x-remote-addr",
    "x-host",
    "x-rewrite-url",
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
];

/// Whole families of such headers, by prefix: `X-Forwarded-For`, `-Host`, `-Proto`, …;
/// `X-Original-URL`, `-Host`, `-Method`; and every `CF-` header (Cloudflare sets its own
/// on the way to the origin; a client's copy means nothing).
const CLIENT_STATED_PREFIXES: [&str; 3] = ["x-forwarded-", "x-original-", "cf-"];

/// Whether a client's request header must not reach the origin. Names are compared
/// lower-cased with `_` read as `-`, as CGI, PHP and nginx read them.
///
/// Headers a client lists in `Connection` cannot be honoured here: the platform removes
/// `Connection` before the worker runs, so only the fixed hop-by-hop names are dropped.
pub fn drop_request_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase().replace('_', "-");
    name == "authorization"
        || name == "host"
        || name == "cookie" // forwarded only through `forwardable_cookies`
        || name.starts_with(GATE_HEADER_PREFIX)
        || HOP_BY_HOP.contains(&name.as_str())
        || CLIENT_STATED.contains(&name.as_str())
        || CLIENT_STATED_PREFIXES
            .iter()
            .any(|prefix| name.starts_with(prefix))
}

/// The client's `Cookie` header without the worker's own cookies; `None` when nothing is
/// left. A request with several `Cookie` fields reaches the worker joined with `, `, so a
/// worker cookie may also follow a comma; but commas are common inside cookie values
/// (JSON, lists), so a `;`-separated pair is only cut at its commas when one of the pieces
/// is a worker cookie, and is otherwise forwarded as it came.
pub fn forwardable_cookies(cookie_header: &str) -> Option<String> {
    let is_worker_cookie = |piece: &str| {
        let piece = piece.trim();
        let name = piece.split_once('=').map_or(piece, |(name, _)| name).trim();
        is_worker_cookie(name)
    };
    let mut kept: Vec<String> = Vec::new();
    for pair in cookie_header.split(';').map(str::trim) {
        if pair.split(',').any(is_worker_cookie) {
            let rest: Vec<&str> = pair
                .split(',')
                .filter(|piece| !is_worker_cookie(piece))
                .map(str::trim)
                .filter(|piece| !piece.is_empty())
                .collect();
            if !rest.is_empty() {
                kept.push(rest.join(", "));
            }
        } else if !pair.is_empty() {
            kept.push(String::from(pair));
        }
    }
    (!kept.is_empty()).then(|| kept.join("; "))
}

/// Whether `text` (a header value, a cookie, a path or a query) carries a secret key, as
/// sent or once percent-decoded (`sk%5Flive%5F…` is a key to any origin that decodes it,
/// and `%255F` to one that decodes twice). The raw scan is all a clean request costs: the
/// decoded forms are looked at only when there is an escape or a `+` to decode.
pub fn carries_secret_key(text: &str) -> bool {
    secret_key_in(text).is_some()
}

/// The secret key that `text` carries ([`carries_secret_key`]), as its identity: the gate
/// records its exposure against it.
pub fn secret_key_in(text: &str) -> Option<KeyIdentity> {
    if let Some(key) = find_secret_key(text) {
        return Some(key);
    }
    let mut layer = Cow::Borrowed(text);
    for _ in 0..3 {
        if !contains_any(&layer, b"%+") {
            return None;
        }
        let decoded = String::from_utf8_lossy(&decode_lossy(&layer)).into_owned();
        if decoded == *layer {
            return None;
        }
        if let Some(key) = find_secret_key(&decoded) {
            return Some(key);
        }
        layer = Cow::Owned(decoded);
    }
    None
}

/// How long an assertion is valid: the origin must refuse it after this.
pub const ASSERTION_LIFETIME_SECONDS: u64 = 60;

/// What the gate asserts to the origin about one forwarded request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssertionClaims<'a> {
    /// The gate's own origin.
    pub issuer: &'a str,
    /// The origin the request is forwarded to.
    pub audience: &'a str,
    pub key_id: KeyId,
    pub application_id: ApplicationId,
    pub environment: Environment,
    pub kind: KeyKind,
    /// The method, as forwarded.
    pub method: &'a str,
    /// The path and query, as forwarded.
    pub target: &'a str,
    /// Seconds since the Unix epoch.
    pub issued_at: u64,
    /// Random, base64url: lets an origin refuse a replayed assertion.
    pub jwt_id: &'a str,
}

impl AssertionClaims<'_> {
    /// The claims as JSON: `iss`, `aud`, `sub`, `app`, `env`, `kind`, `htm`, `htu`, `iat`,
    /// `exp` (60 s after `iat`) and `jti`. Built by hand: this runs for every forwarded
    /// request, and needs no serializer.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(320 + self.target.len());
        out.push_str("{\"iss\":");
        json_string(&mut out, self.issuer);
        out.push_str(",\"aud\":");
        json_string(&mut out, self.audience);
        let _ = write!(
            out,
            ",\"sub\":\"{}\",\"app\":\"{}\",\"env\":\"{}\",\"kind\":\"{}\",\"htm\":",
            self.key_id,
            self.application_id,
            self.environment.as_str(),
            self.kind.as_str()
        );
        json_string(&mut out, self.method);
        out.push_str(",\"htu\":");
        json_string(&mut out, self.target);
        let _ = write!(
            out,
            ",\"iat\":{},\"exp\":{},\"jti\":",
            self.issued_at,
            self.issued_at + ASSERTION_LIFETIME_SECONDS
        );
        json_string(&mut out, self.jwt_id);
        out.push('}');
        out
    }
}

/// The assertion's JWT type (`typ`): explicit, so that no other token this key signs (an
/// audit checkpoint, a receipt) can pass for an assertion, and no assertion for one of them.
pub const ASSERTION_TYPE: &str = "aero2-assertion+jwt";

/// The JWT header for an Ed25519 key with this key id.
pub fn assertion_header(kid: &str) -> String {
    let mut out = String::from("{\"alg\":\"EdDSA\",\"kid\":");
    json_string(&mut out, kid);
    out.push_str(",\"typ\":\"");
    out.push_str(ASSERTION_TYPE);
    out.push_str("\"}");
    out
}

/// `base64url(header) . base64url(claims)`: the bytes an assertion's signature covers.
pub fn signing_input(header_json: &str, claims_json: &str) -> String {
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut out = engine.encode(header_json);
    out.push('.');
    engine.encode_string(claims_json, &mut out);
    out
}

/// The compact JWT: the signing input, a dot, and the base64url signature.
pub fn compact_jwt(signing_input: &str, signature: &[u8]) -> String {
    let mut out = String::with_capacity(signing_input.len() + 90);
    out.push_str(signing_input);
    out.push('.');
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode_string(signature, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_headers_that_could_be_mistaken_for_the_gates_are_dropped() {
        for name in [
            "Authorization",
            "Host",
            "Cookie",
            "X-Aero2-Key-Kind",
            "x-aero2-client-ip",
            "X_Aero2_Key_Kind",
            "x_aero2_application_id",
            "X-Aero2_Environment",
            "Connection",
            "Keep-Alive",
            "Transfer-Encoding",
            "Upgrade",
            "TE",
            "Trailer",
            "Proxy-Authorization",
            "X-Real-Ip",
            "True-Client-Ip",
            "Forwarded",
            "X-Forwarded-For",
            "CF-Connecting-IP",
            "X_Real_IP",
            // Found by the attacker review: all of these reached the origin.
            "X-Client-IP",
            "X-Cluster-Client-IP",
            "Fastly-Client-Ip",
            "X-Forwarded",
            "Forwarded-For",
            "X-Appengine-User-Ip",
            "Cf-Pseudo-IPv4",
            "CF-Connecting-IPv6",
            "X-Forwarded-Host",
            "X-Forwarded-Proto",
            "X-Forwarded-Port",
            "X-Forwarded-Prefix",
            "X-Original-URL",
            "X-Rewrite-URL",
            "X-HTTP-Method-Override",
            "Client-IP",
            "X-Originating-IP",
            "x_original_url",
        ] {
            assert!(drop_request_header(name), "{name}");
        }
        for name in [
            "Accept",
            "Content-Type",
            "User-Agent",
            "X-Aero",
            "X-Request-Id",
            "Origin",
            "X-Forwardedx",
        ] {
            assert!(!drop_request_header(name), "{name}");
        }
    }

    /// Second attacker pass: a key in a cookie or percent-encoded in a query reached the
    /// origin, because the scan looked for the literal `sk_` only.
    #[test]
    fn secret_keys_are_found_encoded_once_twice_or_with_plus() {
        use crate::format::{ApiKey, ApplicationId, Environment};
        use crate::random::SystemRandom;
        use alloc::format;
        let app = ApplicationId::parse("app_AAAAAAAAAAAAAAAA").unwrap();
        let secret =
            ApiKey::generate(KeyKind::Secret, Environment::Live, app, &mut SystemRandom).unwrap();
        let key = secret.expose_secret();
        let once = key.replace('_', "%5F");
        let twice = key.replace('_', "%255F");
        let lower = key.replace('_', "%5f");
        let first = format!("%{:02X}", key.as_bytes()[0]);
        let spelled = format!("{first}{}", &key[1..]);
        for text in [
            format!("k={key}"),
            format!("k={once}"),
            format!("k={twice}"),
            format!("k={lower}"),
            format!("a=1&k={spelled}"),
            format!("session=abc; k={once}"),
            format!("/v1/client/{key}"),
        ] {
            assert!(carries_secret_key(&text), "{text}");
        }
        let public = ApiKey::generate(
            KeyKind::Publishable,
            Environment::Live,
            app,
            &mut SystemRandom,
        )
        .unwrap();
        for text in [
            format!("k={}", public.expose_secret().replace('_', "%5F")),
            "k=sk%5Flive%5Fnot-a-key".into(),
            "%%%25%2525+++".into(),
            String::new(),
        ] {
            assert!(!carries_secret_key(&text), "{text}");
        }
    }

    /// Second attacker pass: the origin's `Set-Cookie: __Host-aero2_session=…` reached the
    /// client on the gate's host.
    #[test]
    fn the_origin_cannot_set_the_workers_cookies() {
        for header in [
            "__Host-aero2_session=planted; Path=/; Secure; HttpOnly",
            "__host-AERO2_session=x",
            "__Host-aero2_future=x",
            " aero2_session=old",
            "__Secure-aero2_x=1",
        ] {
            assert!(sets_worker_cookie(header), "{header}");
        }
        for header in [
            "theme=dark",
            "session=1; Path=/",
            "my_aero2_session=1",
            "__Host-other=1",
        ] {
            assert!(!sets_worker_cookie(header), "{header}");
        }
    }

    #[test]
    fn the_workers_own_cookies_never_reach_the_origin() {
        assert_eq!(
            forwardable_cookies("theme=dark; __Host-aero2_session=abc; cart=1"),
            Some("theme=dark; cart=1".into())
        );
        assert_eq!(forwardable_cookies("aero2_session=x"), None);
        assert_eq!(forwardable_cookies(" __Host-aero2_session=x ;  "), None);
        assert_eq!(forwardable_cookies("a=1;b=2"), Some("a=1; b=2".into()));
        // Found by the attacker review: two Cookie fields arrive joined with a comma.
        assert_eq!(
            forwardable_cookies("theme=dark, __Host-aero2_session=0123"),
            Some("theme=dark".into())
        );
        // Found by review: commas inside a value were cut and rejoined with "; ", so JSON
        // in a cookie reached the origin mangled. A pair with no worker cookie is kept whole.
        assert_eq!(
            forwardable_cookies(r#"prefs={"a":1,"b":2}; theme=dark"#),
            Some(r#"prefs={"a":1,"b":2}; theme=dark"#.into())
        );
        assert_eq!(
            forwardable_cookies("list=a,b, __Host-aero2_session=0123; cart=1"),
            Some("list=a, b; cart=1".into())
        );
        // A cookie whose value mentions the name is kept; only the name counts.
        assert_eq!(
            forwardable_cookies("x=__Host-aero2_session"),
            Some("x=__Host-aero2_session".into())
        );
    }

    #[test]
    fn claims_are_valid_json_with_every_field_and_a_60_second_lifetime() {
        let claims = AssertionClaims {
            issuer: "https://gate.example",
            audience: "https://origin.example",
            key_id: KeyId::parse("key_AAAAAAAAAAAAAAAA").unwrap(),
            application_id: ApplicationId::parse("app_BBBBBBBBBBBBBBBB").unwrap(),
            environment: Environment::Live,
            kind: KeyKind::Secret,
            method: "POST",
            target: "/v1/orders?q=\"x\"\\y\u{1}",
            issued_at: 1_800_000_000,
            jwt_id: "abc",
        };
        let json: serde_json::Value = serde_json::from_str(&claims.to_json()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "iss": "https://gate.example",
                "aud": "https://origin.example",
                "sub": "key_AAAAAAAAAAAAAAAA",
                "app": "app_BBBBBBBBBBBBBBBB",
                "env": "live",
                "kind": "secret",
                "htm": "POST",
                "htu": "/v1/orders?q=\"x\"\\y\u{1}",
                "iat": 1_800_000_000u64,
                "exp": 1_800_000_060u64,
                "jti": "abc",
            })
        );
        let header: serde_json::Value = serde_json::from_str(&assertion_header("k\"1")).unwrap();
        assert_eq!(
            header,
            serde_json::json!({"alg": "EdDSA", "kid": "k\"1", "typ": "aero2-assertion+jwt"})
        );
    }

    #[test]
    fn a_compact_jwt_has_three_base64url_parts() {
        let input = signing_input("{\"alg\":\"EdDSA\"}", "{\"a\":\"?>\"}");
        assert_eq!(input, "eyJhbGciOiJFZERTQSJ9.eyJhIjoiPz4ifQ");
        let jwt = compact_jwt(&input, &[0xfb, 0xff]);
        assert_eq!(jwt, "eyJhbGciOiJFZERTQSJ9.eyJhIjoiPz4ifQ.-_8");
        assert!(!jwt.contains(['+', '/', '=']));
    }
}
