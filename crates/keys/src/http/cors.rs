//! CORS for frontend routes, where publishable keys are used from pages on other origins.
//!
//! A browser sends `Authorization` only after a preflight (`OPTIONS` with `Origin` and
//! `Access-Control-Request-Method`), which never carries the key. On a frontend route the
//! gate answers it at once, with no storage read; on any other route there is no CORS at
//! all, so no page can call a secret-key route. No response allows credentials: keys travel
//! in `Authorization`, never in cookies, so a page can never ride on the dashboard's
//! session cookie.

use alloc::string::String;
use alloc::vec::Vec;

/// The methods a page may use on a frontend route.
pub const ALLOW_METHODS: &str = "GET, HEAD, POST, PUT, PATCH, DELETE";
/// How long a browser may cache a preflight (Chromium caps it at 2 hours).
pub const MAX_AGE_SECONDS: u32 = 600;
/// Response headers a page may read: the error details and rate-limit state.
pub const EXPOSE_HEADERS: &str = "WWW-Authenticate, Retry-After, RateLimit, RateLimit-Policy";
/// Request headers always allowed: the key, and JSON bodies.
const ALWAYS_ALLOWED: [&str; 2] = ["authorization", "content-type"];
const MAX_REQUESTED_HEADERS: usize = 32;

/// Whether a request is a CORS preflight.
pub fn is_preflight(method: &str, origin: Option<&str>, requested_method: Option<&str>) -> bool {
    method == "OPTIONS" && origin.is_some() && requested_method.is_some()
}

/// An `Origin` value that may be reflected in `Access-Control-Allow-Origin`: `null` or a
/// serialised origin (`scheme://host[:port]`), printable ASCII without spaces.
pub fn reflectable_origin(origin: &str) -> Option<&str> {
    let printable =
        !origin.is_empty() && origin.len() <= 256 && origin.bytes().all(|b| b.is_ascii_graphic());
    let shaped = origin == "null"
        || origin.split_once("://").is_some_and(|(scheme, host)| {
            !scheme.is_empty()
                && scheme
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'-' || b == b'.')
                && !host.is_empty()
                && !host.contains('/')
        });
    (printable && shaped).then_some(origin)
}

/// `Access-Control-Allow-Headers` for a preflight: `authorization`, `content-type`, and
/// the headers the page asked for that are valid header names (lower-cased, each once).
pub fn allow_headers(requested: Option<&str>) -> String {
    let mut names: Vec<String> = ALWAYS_ALLOWED.iter().map(|&n| n.into()).collect();
    for name in requested
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|name| is_token(name))
        .take(MAX_REQUESTED_HEADERS)
    {
        let name = name.to_ascii_lowercase();
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names.join(", ")
}

/// RFC 9110 `token`: the characters a header name may have.
fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 64
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_preflight_is_options_with_origin_and_requested_method() {
        assert!(is_preflight(
            "OPTIONS",
            Some("https://a.example"),
            Some("GET")
        ));
        assert!(!is_preflight("OPTIONS", Some("https://a.example"), None));
        assert!(!is_preflight("OPTIONS", None, Some("GET")));
        assert!(!is_preflight("GET", Some("https://a.example"), Some("GET")));
    }

    #[test]
    fn only_well_formed_origins_are_reflected() {
        for good in [
            "https://shop.example",
            "http://127.0.0.1:8080",
            "null",
            "app+x://h",
        ] {
            assert_eq!(reflectable_origin(good), Some(good));
        }
        for bad in [
            "",
            "*",
            "https://",
            "shop.example",
            "https://a.example/path",
            "https://a b",
            "https://a\u{e9}",
        ] {
            assert_eq!(reflectable_origin(bad), None, "{bad}");
        }
        assert_eq!(
            reflectable_origin(&alloc::format!("https://{}", "a".repeat(300))),
            None
        );
    }

    #[test]
    fn requested_headers_are_allowed_if_they_are_header_names() {
        assert_eq!(allow_headers(None), "authorization, content-type");
        assert_eq!(
            allow_headers(Some(
                "Authorization, X-Request-Id,content-type, bad header, "
            )),
            "authorization, content-type, x-request-id"
        );
        let many: Vec<String> = (0..100).map(|i| alloc::format!("x-h{i}")).collect();
        assert_eq!(
            allow_headers(Some(&many.join(","))).split(", ").count(),
            2 + 32
        );
    }
}
