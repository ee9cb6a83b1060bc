//! Which Worker answers a path. The control plane's own API (management, the operator,
//! dashboard sessions, leak reports, the JWKS) goes to the control plane through its
//! service binding; `/openapi.json` to the static assets; every other path is gated.

use aero2_keys::ascii_search::find_any;

/// Where a request goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    Gated,
    Control,
    Assets,
}

/// The resources under `/v1/` that are the control plane's API. The same list decides the
/// control plane's router (`crates/control/src/router.rs`); anything else under `/v1/` is
/// the customer's API, behind the gate.
pub const CONTROL_RESOURCES: [&str; 9] = [
    "keys",
    "audit_log",
    "webhook_endpoints",
    "applications",
    "dashboard",
    "leaks",
    "accounts",
    "invitations",
    "passkeys",
];

/// `path` is the gate's normalised path.
pub fn route(path: &str) -> Route {
    if path == "/openapi.json" {
        return Route::Assets;
    }
    if path == "/.well-known/jwks.json" {
        return Route::Control;
    }
    // The first two segments, read byte by byte: `str::split` would compile and run the
    // standard searchers on every request (the first in an isolate pays for compiling them).
    let start = path
        .bytes()
        .position(|byte| byte != b'/')
        .unwrap_or(path.len());
    let rest = &path[start..];
    let Some(resource) = rest.strip_prefix("v1/") else {
        return Route::Gated;
    };
    let resource = match find_any(resource, b"/") {
        Some(end) => &resource[..end],
        None => resource,
    };
    if CONTROL_RESOURCES.contains(&resource) {
        Route::Control
    } else {
        Route::Gated
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_goes_to_the_control_plane_and_the_rest_is_gated() {
        for path in [
            "/v1/keys",
            "/v1/keys/key_x/rotate",
            "/v1/audit_log",
            "/v1/applications/app_x/keys",
            "/v1/dashboard/session",
            "/v1/leaks/github",
            "/v1/webhook_endpoints/ep_x/test",
            "/.well-known/jwks.json",
        ] {
            assert_eq!(route(path), Route::Control, "{path}");
        }
        assert_eq!(route("/openapi.json"), Route::Assets);
        for path in [
            "/",
            "/v1",
            "/v1/",
            "/v1/users",
            "/v1/client/x",
            "/v1/keysx",
            "/v2/keys",
            "/keys",
            "/.well-known/other",
        ] {
            assert_eq!(route(path), Route::Gated, "{path}");
        }
        assert_eq!(route("//v1/keys"), Route::Control);
        assert_eq!(route("/v1/keys/"), Route::Control);
    }

    /// The byte-level reading of the first two segments routes every path as
    /// `trim_start_matches` and `split` do.
    fn route_by_split(path: &str) -> Route {
        let mut segments = path.trim_start_matches('/').split('/');
        match (segments.next(), segments.next()) {
            (Some("v1"), Some(resource)) if CONTROL_RESOURCES.contains(&resource) => Route::Control,
            _ => Route::Gated,
        }
    }

    proptest::proptest! {
        #[test]
        fn routes_as_split_does(
            path in "/{0,3}(v1|v2|é|日)?/{0,2}(keys|audit_log|accounts|passkeys|users|é)?(/[a-z_é]{0,6}){0,3}"
        ) {
            if path != "/openapi.json" && path != "/.well-known/jwks.json" {
                proptest::prop_assert_eq!(route(&path), route_by_split(&path), "{}", path);
            }
        }
    }
}
