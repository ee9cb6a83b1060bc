//! Why a key was refused at the gate or the management API: one enum, shared by the
//! gate's decisions ([`crate::gate`]), the policy checks ([`crate::policy`]) and the
//! management rights ([`crate::rights`]). Its public error codes are
//! `crate::http::errors`'s mapping; nothing here depends on HTTP.

use crate::format::ParseError;

/// Why the gate refused a request. Each maps to one public error code
/// (`ErrorCode::from`); none holds any part of the key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejection {
    MissingKey,
    /// The `Authorization` header is present but is not `Bearer <key>`.
    NotBearer,
    Malformed(ParseError),
    UnknownKey,
    RevokedKey,
    ExpiredKey,
    PublishableKeyNotAllowed,
    SecretKeyInBrowser,
    /// A rotated key, still in its grace period, asked to manage keys.
    KeyInGracePeriod,
    /// Suspended by its owner: refused until resumed.
    SuspendedKey,
    /// The key's policy lists addresses, and this is not one of them.
    IpNotAllowed,
    /// The key's policy lists websites, and the request comes from another.
    OriginNotAllowed,
    /// The key's policy lists routes, and this request is not on one.
    RouteNotAllowed,
    /// The key's policy lists routes, and the query names a method override (`_method`),
    /// which frameworks behind the gate would honour instead of the method checked.
    MethodOverride,
    /// A secret key outside `Authorization`: whatever its record, the same refusal, so the
    /// answer says nothing of whether the key exists.
    SecretKeyOutsideAuthorization,
}

impl Rejection {
    /// Whether the key itself was good (it exists and is usable) and only its use here was
    /// refused. Such a request still counts as a use of the key.
    pub const fn key_authenticated(&self) -> bool {
        matches!(
            self,
            Rejection::PublishableKeyNotAllowed
                | Rejection::SecretKeyInBrowser
                | Rejection::KeyInGracePeriod
                | Rejection::IpNotAllowed
                | Rejection::OriginNotAllowed
                | Rejection::RouteNotAllowed
                | Rejection::MethodOverride
        )
    }
}
