//! Forwarding a gated request to the origin: which client headers go, what the gate adds
//! (`X-Aero2-*`, `X-Forwarded-For`), and the claims of the signed assertion the origin
//! verifies. The rules are the core's ([`aero2_keys::http::forwarding`]); the host copies
//! the client's headers inside JavaScript, applies this plan, signs, and sends.

use aero2_keys::http::forwarding::{
    assertion_header, drop_request_header, forwardable_cookies, signing_input, AssertionClaims,
};
use aero2_keys::http::ErrorCode;
use aero2_keys::{encode_hex, KeyId, KeyIdentity, RandomSource, SystemRandom, UnixMillis};

use crate::isolate;
use crate::request::RequestHeaders;

/// What the origin gets, besides the body the host streams through.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForwardPlan {
    /// The origin's URL for this request: its origin, the normalised path, the query.
    pub url: String,
    /// Client headers to remove from the copy.
    pub drop: Vec<String>,
    /// Headers to set on the copy.
    pub set: Vec<(&'static str, String)>,
    /// `base64url(header).base64url(claims)`: what the assertion's signature covers. The
    /// host signs it and sets `X-Aero2-Assertion` to it, a dot, and the signature.
    pub signing_input: String,
}

impl ForwardPlan {
    /// The plan in one string for the host, one item per line: the origin's URL, the page's
    /// origin that may read the answer (`cors_origin`, or an empty line), the signing input,
    /// the names to drop, an empty line, then the header lines to set.
    pub fn packed(&self, cors_origin: Option<&str>) -> String {
        let mut out = String::with_capacity(512);
        for line in [
            self.url.as_str(),
            cors_origin.unwrap_or(""),
            &self.signing_input,
        ] {
            out.push_str(line);
            out.push('\n');
        }
        for name in &self.drop {
            out.push_str(name);
            out.push('\n');
        }
        out.push('\n');
        for (name, value) in &self.set {
            crate::response::push_header(&mut out, name, value);
        }
        out
    }
}

/// The request, as the plan needs it.
pub struct RequestView<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub gate_origin: &'a str,
    pub client_ip: Option<&'a str>,
    pub dropped_headers: &'a [String],
    pub cookie: Option<&'a str>,
}

/// The client's headers the origin must not get, and the `Cookie` it gets instead (the
/// client's without the worker's own cookies; `None` when nothing is left).
pub fn client_headers(headers: &RequestHeaders<'_>) -> (Vec<String>, Option<String>) {
    let dropped = headers
        .all
        .iter()
        .filter(|(name, _)| drop_request_header(name))
        .map(|(name, _)| (*name).to_owned())
        .collect();
    (dropped, headers.cookie.and_then(forwardable_cookies))
}

/// The plan for a request that passed, with key `key_id`.
pub fn plan(
    request: &RequestView<'_>,
    key: &KeyIdentity,
    key_id: KeyId,
    now: UnixMillis,
) -> Result<ForwardPlan, ErrorCode> {
    isolate::with(|i| {
        let settings = &i.settings;
        let origin = settings.origin_for(key.environment);
        if origin.is_empty() {
            return Err(ErrorCode::OriginNotConfigured);
        }
        let kid = settings
            .signing_kid
            .as_deref()
            .ok_or(ErrorCode::OriginSigningNotConfigured)?;
        let mut target = String::with_capacity(request.path.len() + 64);
        target.push_str(request.path);
        if let Some(query) = request.query {
            target.push('?');
            target.push_str(query);
        }
        let mut jti = [0u8; 16];
        SystemRandom
            .fill_bytes(&mut jti)
            .map_err(|_| ErrorCode::RandomUnavailable)?;
        let jti = encode_hex(&jti);
        let claims = AssertionClaims {
            issuer: settings
                .assertion_issuer
                .as_deref()
                .unwrap_or(request.gate_origin),
            audience: origin,
            key_id,
            application_id: key.application_id,
            environment: key.environment,
            kind: key.kind,
            method: request.method,
            target: &target,
            issued_at: now.0 / 1000,
            jwt_id: &jti,
        };
        let signing_input = signing_input(&assertion_header(kid), &claims.to_json());
        let mut set: Vec<(&'static str, String)> = Vec::with_capacity(8);
        if let Some(cookie) = request.cookie {
            set.push(("Cookie", cookie.to_owned()));
        }
        if let Some(address) = request.client_ip {
            set.push(("X-Aero2-Client-Ip", address.to_owned()));
            // For the libraries that read this one: the platform's address, not the client's.
            set.push(("X-Forwarded-For", address.to_owned()));
        }
        set.push(("X-Aero2-Application-Id", key.application_id.to_string()));
        set.push(("X-Aero2-Environment", key.environment.as_str().to_owned()));
        set.push(("X-Aero2-Key-Id", key_id.to_string()));
        set.push(("X-Aero2-Key-Kind", key.kind.as_str().to_owned()));
        let mut url = String::with_capacity(origin.len() + target.len());
        url.push_str(origin);
        url.push_str(&target);
        Ok(ForwardPlan {
            url,
            drop: request.dropped_headers.to_vec(),
            set,
            signing_input,
        })
    })
}
