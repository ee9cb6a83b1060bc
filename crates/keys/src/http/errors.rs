//! Every error code the public API can answer with, its HTTP status and its message.
//!
//! One table: the enum, the list of all codes, and the one `match` that gives each code's
//! status and message are all generated from it, so a code cannot exist without a status,
//! and `/openapi.json` is checked against [`ErrorCode::ALL`] by a test. Nothing outside
//! this module turns a code string back into a decision except [`ErrorCode::from_code`],
//! which decodes a Durable Object's answer into this enum.

use core::fmt;

use crate::lifecycle::LifecycleError;
use crate::rejection::Rejection;
use crate::rights::ManageRefusal;
use crate::ParseError;

macro_rules! error_codes {
    ($( $(#[$doc:meta])* $variant:ident => $status:literal, $code:literal, $message:literal; )*) => {
        /// A stable, machine-readable error code of the public API.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $( $(#[$doc])* $variant, )*
        }

        impl ErrorCode {
            /// Every code, in the order of the table.
            pub const ALL: &'static [ErrorCode] = &[$( ErrorCode::$variant, )*];

            /// The code's HTTP status, its wire name and its default message.
            const fn describe(self) -> (u16, &'static str, &'static str) {
                match self {
                    $( ErrorCode::$variant => ($status, $code, $message), )*
                }
            }
        }
    };
}

error_codes! {
    // --- authentication at the gate and the management API ---
    MissingKey => 401, "missing_key", "send an API key in the header Authorization: Bearer <key>";
    MalformedKey => 401, "malformed_key", "the Authorization header must have the form Bearer <key>, with a well-formed Aero2 key";
    BadChecksum => 401, "bad_checksum", "the API key's checksum does not match: it was mistyped, truncated or altered";
    UnknownKey => 401, "unknown_key", "this API key does not exist";
    RevokedKey => 401, "revoked_key", "this API key has been revoked";
    ExpiredKey => 401, "expired_key", "this API key has expired: its own expiry time, or the end of its rotation grace period, has passed. Use another key";
    KeyInGracePeriod => 403, "key_in_grace_period", "this key was rotated: it still passes the gate until its grace period ends, but it can no longer manage keys. Use the key that replaced it";
    TooManyFailedAttempts => 429, "too_many_failed_attempts", "too many requests with keys that failed to authenticate came from this address; wait for Retry-After seconds";
    SuspendedKey => 401, "suspended_key", "this API key is suspended by its owner; it works again once resumed";
    IpNotAllowed => 403, "ip_not_allowed", "this key may not be used from this address";
    OriginNotAllowed => 403, "origin_not_allowed", "this key may not be used from this website";
    RouteNotAllowed => 403, "route_not_allowed", "this key may not make this request (method and path)";
    MethodOverrideNotAllowed => 403, "method_override_not_allowed", "this key is held to some methods and paths (routes), so a method override in the query string (_method, X-HTTP-Method-Override) is refused: send the request with its real method";
    RateLimited => 429, "rate_limited", "this key made more requests than its rate limit allows; wait for Retry-After seconds";
    TooManyRequests => 429, "too_many_requests", "this application made more management changes than its limit allows (MANAGEMENT_WRITES_PER_MINUTE); wait for Retry-After seconds";
    InsufficientScope => 403, "insufficient_scope", "this key's scopes do not include what this request needs";
    RightsExceeded => 403, "rights_exceeded", "a key cannot create, rotate or change a key with more rights than its own";
    InvalidPolicy => 400, "invalid_policy", "a policy field is not valid; see /openapi.json";
    PolicyConflictsWithKey => 409, "policy_conflicts_with_key", "this change does not fit the key: it sets a field of the other kind of key (secret: scopes, routes, allowed_ips; publishable: allowed_origins, origin_policy), or origin_policy for a key without allowed_origins";
    PublishableKeyNotAllowed => 403, "publishable_key_not_allowed", "publishable keys only work on frontend routes; this route requires a secret key";
    SecretKeyInBrowser => 403, "secret_key_in_browser", "a secret key was sent from a browser; secret keys must never be used in client code. Revoke and rotate this key";
    // --- key lifecycle ---
    KeyNotFound => 404, "key_not_found", "no key with this id in this application";
    ReceiptNotFound => 404, "receipt_not_found", "this key has not changed since it was created; a receipt proves a change (revoked, rotated, suspended, resumed, updated, expired)";
    KeyAlreadyRevoked => 409, "key_already_revoked", "the key is already revoked";
    KeyAlreadyRotating => 409, "key_already_rotating", "the key is already in a rotation grace period; rotate its replacement instead";
    KeyAlreadySuspended => 409, "key_already_suspended", "the key is already suspended";
    KeyNotSuspended => 409, "key_not_suspended", "the key is not suspended";
    KeyRevoked => 409, "key_revoked", "a revoked key cannot be rotated; create a new key instead";
    LastActiveSecretKey => 409, "last_active_secret_key", "this is the application's last active secret key that can manage keys (keys:write); rotate it instead of revoking, suspending or narrowing it, so the application is not locked out";
    InvalidGracePeriod => 400, "invalid_grace_period", "grace_period_seconds must be a whole number between 0 and 604800 (7 days)";
    InvalidLabel => 400, "invalid_label", "a label has 1 to 100 characters and no control characters";
    TooManyKeys => 409, "too_many_keys", "an application can have at most 100 keys that are not revoked";
    RandomUnavailable => 503, "random_unavailable", "the system random number generator is unavailable; retry shortly";
    KeyIsCanary => 409, "key_is_canary", "a canary key cannot be rotated: nothing should depend on it; revoke it and create a new canary";
    InvalidCanary => 400, "invalid_canary", "a canary is a secret key with no policy, and only a canary has canary_suspends (at most 100 key ids)";
    // --- applications and the operator ---
    InvalidName => 400, "invalid_name", "name must have 1 to 100 characters and no control characters";
    InvalidEnvironment => 400, "invalid_environment", "environment must be \"production\" or \"development\"";
    ApplicationNotFound => 404, "application_not_found", "no application has this id";
    ApplicationExists => 409, "application_exists", "this application already exists";
    OperatorApiDisabled => 403, "operator_api_disabled", "set the ADMIN_TOKEN secret (at least 16 characters) to use the operator API and the dashboard";
    InvalidAdminToken => 401, "invalid_admin_token", "the operator API requires Authorization: Bearer <ADMIN_TOKEN> or a dashboard session";
    CsrfCheckFailed => 403, "csrf_check_failed", "send the session's CSRF token in X-CSRF-Token, from this origin";
    CrossSiteRequest => 403, "cross_site_request", "this request came from a page on another site; sign in from the dashboard's own page";
    NotSignedIn => 401, "not_signed_in", "sign in: with a passkey, or with the operator token";
    TooManySignInAttempts => 429, "too_many_sign_in_attempts", "too many sign-in attempts came from this address; wait for Retry-After seconds";
    SessionNotFound => 404, "session_not_found", "no active dashboard session has this id";
    // --- accounts, members and passkeys ---
    AccountNotFound => 404, "account_not_found", "no account has this id among yours";
    MemberNotFound => 404, "member_not_found", "no member with this id in this account";
    InvitationNotFound => 404, "invitation_not_found", "no such invitation, or it can no longer be used";
    PasskeyNotFound => 404, "passkey_not_found", "no passkey of yours has this id";
    InsufficientRole => 403, "insufficient_role", "your role in this account does not allow this";
    ReauthenticationRequired => 403, "reauthentication_required", "confirm with your passkey first: this needs a passkey sign-in within the last 5 minutes";
    SessionExpired => 401, "session_expired", "the session ended (30 minutes without activity, or 12 hours after sign-in); sign in again";
    LastOwner => 409, "last_owner", "an account must keep at least one owner";
    LastPasskey => 409, "last_passkey", "this is your last passkey; add another before removing it";
    PasskeyNotAccepted => 401, "passkey_not_accepted", "the passkey response was not accepted (it did not verify, or its challenge was used, expired or issued for another ceremony); start again";
    PasskeyAlreadyRegistered => 409, "passkey_already_registered", "this passkey is already registered";
    InvalidRole => 400, "invalid_role", "role must be viewer, developer, admin or owner";
    InvalidDisplayName => 400, "invalid_display_name", "a name has 1 to 64 characters and no control characters";
    PasskeysNotConfigured => 503, "passkeys_not_configured", "set DASHBOARD_ORIGIN (the dashboard's origin, a domain such as https://keys.example.com or http://localhost:8787) to use passkeys";
    // --- requests ---
    InvalidRequest => 400, "invalid_request", "the request body does not match this endpoint's schema; see /openapi.json";
    InvalidParameter => 400, "invalid_parameter", "a query parameter is repeated or does not have the type /openapi.json gives it";
    InvalidCursor => 400, "invalid_cursor", "cursor must be a value returned as next_cursor";
    InvalidLimit => 400, "invalid_limit", "limit must be a whole number between 1 and 100";
    InvalidKeyId => 400, "invalid_key_id", "key_id must be a key id such as key_…";
    InvalidEvent => 400, "invalid_event", "event must be an event name such as key.revoked";
    UnsupportedMediaType => 415, "unsupported_media_type", "send the body as JSON with Content-Type: application/json";
    PayloadTooLarge => 413, "payload_too_large", "the request body is larger than this endpoint accepts";
    NotFound => 404, "not_found", "no such endpoint";
    SecretKeyOutsideAuthorization => 400, "secret_key_outside_authorization", "a secret key was found in the query string or in a header other than Authorization; send it only as Authorization: Bearer <key>, and rotate it if it was logged";
    InvalidPath => 400, "invalid_path", "the path holds an encoded slash, backslash, dot or percent sign, an escape that is not UTF-8 or looks like a slash or dot, a semicolon or an empty segment; the gate forwards only paths that every server reads the same way";
    MethodNotAllowed => 405, "method_not_allowed", "this endpoint does not accept this method; the Allow header lists those it does";
    // --- webhooks ---
    WebhooksNotConfigured => 503, "webhooks_not_configured", "set the WEBHOOK_SECRET secret (the base64 of at least 32 random bytes) to use webhooks";
    InvalidWebhookUrl => 400, "invalid_webhook_url", "url must be an https URL without credentials, at most 2048 characters, that does not point at a local or private address";
    InvalidWebhookEvents => 400, "invalid_webhook_events", "events must list event types from /openapi.json (WebhookEventType), or be [\"*\"] for all";
    InvalidDescription => 400, "invalid_description", "description has at most 200 characters and no control characters";
    TooManyWebhookEndpoints => 409, "too_many_webhook_endpoints", "an application can have at most 10 webhook endpoints";
    WebhookEndpointNotFound => 404, "webhook_endpoint_not_found", "no webhook endpoint with this id in this application";
    WebhookEndpointDisabled => 409, "webhook_endpoint_disabled", "this endpoint was disabled after failing for too long; enable it first";
    WebhookEndpointEnabled => 409, "webhook_endpoint_enabled", "this endpoint is not disabled";
    WebhookMessageNotFound => 404, "webhook_message_not_found", "no message with this id was sent to this endpoint";
    // --- secret scanning ---
    InvalidSignature => 401, "invalid_signature", "the report must be signed by GitHub with a key this service trusts";
    // --- the platform and the origin ---
    TemporarilyUnavailable => 503, "temporarily_unavailable", "the service could not complete the request; retry shortly";
    OriginNotConfigured => 502, "origin_not_configured", "ORIGIN_URL is not set";
    OriginSigningNotConfigured => 503, "origin_signing_not_configured", "ORIGIN_SIGNING_KEY is not set or not an Ed25519 private JWK, so requests cannot be signed for the origin; none is forwarded unsigned";
    OriginUnreachable => 502, "origin_unreachable", "the origin server could not be reached";
}

impl ErrorCode {
    /// The HTTP status this code is answered with.
    pub const fn status(self) -> u16 {
        self.describe().0
    }

    /// The stable wire name, e.g. `revoked_key`.
    pub const fn as_str(self) -> &'static str {
        self.describe().1
    }

    /// A sentence for people. It never quotes the request.
    pub const fn message(self) -> &'static str {
        self.describe().2
    }

    /// Decodes a wire name, for answers relayed from a Durable Object to the worker.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|known| known.as_str() == code)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for ErrorCode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <alloc::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        ErrorCode::from_code(&text).ok_or_else(|| serde::de::Error::custom("unknown error code"))
    }
}

// ----- the one mapping from each refusal to its public code ---------------------------

impl From<Rejection> for ErrorCode {
    fn from(rejection: Rejection) -> Self {
        match rejection {
            Rejection::MissingKey => ErrorCode::MissingKey,
            Rejection::NotBearer => ErrorCode::MalformedKey,
            Rejection::Malformed(ParseError::BadChecksum) => ErrorCode::BadChecksum,
            Rejection::Malformed(_) => ErrorCode::MalformedKey,
            Rejection::UnknownKey => ErrorCode::UnknownKey,
            Rejection::RevokedKey => ErrorCode::RevokedKey,
            Rejection::ExpiredKey => ErrorCode::ExpiredKey,
            Rejection::PublishableKeyNotAllowed => ErrorCode::PublishableKeyNotAllowed,
            Rejection::SecretKeyInBrowser => ErrorCode::SecretKeyInBrowser,
            Rejection::SecretKeyOutsideAuthorization => ErrorCode::SecretKeyOutsideAuthorization,
            Rejection::KeyInGracePeriod => ErrorCode::KeyInGracePeriod,
            Rejection::SuspendedKey => ErrorCode::SuspendedKey,
            Rejection::IpNotAllowed => ErrorCode::IpNotAllowed,
            Rejection::OriginNotAllowed => ErrorCode::OriginNotAllowed,
            Rejection::RouteNotAllowed => ErrorCode::RouteNotAllowed,
            Rejection::MethodOverride => ErrorCode::MethodOverrideNotAllowed,
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // The parser says exactly what is wrong (a position, a length), never the key.
            Rejection::Malformed(err) => fmt::Display::fmt(err, f),
            other => f.write_str(ErrorCode::from(*other).message()),
        }
    }
}

impl From<LifecycleError> for ErrorCode {
    fn from(err: LifecycleError) -> Self {
        match err {
            LifecycleError::KeyNotFound => ErrorCode::KeyNotFound,
            LifecycleError::AlreadyRevoked => ErrorCode::KeyAlreadyRevoked,
            LifecycleError::AlreadyRotating => ErrorCode::KeyAlreadyRotating,
            LifecycleError::RotateRevoked => ErrorCode::KeyRevoked,
            LifecycleError::LastActiveSecretKey => ErrorCode::LastActiveSecretKey,
            LifecycleError::GracePeriodOutOfRange { .. } => ErrorCode::InvalidGracePeriod,
            LifecycleError::InvalidLabel => ErrorCode::InvalidLabel,
            LifecycleError::TooManyKeys => ErrorCode::TooManyKeys,
            LifecycleError::AlreadySuspended => ErrorCode::KeyAlreadySuspended,
            LifecycleError::NotSuspended => ErrorCode::KeyNotSuspended,
            LifecycleError::InvalidPolicy(_) => ErrorCode::InvalidPolicy,
            LifecycleError::Random(_) => ErrorCode::RandomUnavailable,
            LifecycleError::RotateCanary => ErrorCode::KeyIsCanary,
        }
    }
}

impl fmt::Display for LifecycleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LifecycleError::InvalidPolicy(err) => fmt::Display::fmt(err, f),
            other => f.write_str(ErrorCode::from(*other).message()),
        }
    }
}

impl From<ManageRefusal> for ErrorCode {
    fn from(refusal: ManageRefusal) -> Self {
        match refusal {
            ManageRefusal::InsufficientScope(_) => ErrorCode::InsufficientScope,
            ManageRefusal::RightsExceeded => ErrorCode::RightsExceeded,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ErrorCode;
    use alloc::collections::BTreeSet;
    use alloc::string::String;
    use alloc::vec::Vec;

    #[test]
    fn codes_are_unique_snake_case_and_round_trip() {
        let mut seen = BTreeSet::new();
        for &code in ErrorCode::ALL {
            assert!(seen.insert(code.as_str()), "{code} is listed twice");
            assert!(code
                .as_str()
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'_'));
            assert_eq!(ErrorCode::from_code(code.as_str()), Some(code));
            assert!((400..600).contains(&code.status()));
            assert!(!code.message().is_empty());
        }
        assert_eq!(ErrorCode::from_code("no_such_code"), None);
    }

    /// The README's table of error codes lists every code with its status.
    #[test]
    fn the_readme_lists_every_code_with_its_status() {
        let readme = include_str!("../../../../README.md");
        for &code in ErrorCode::ALL {
            let row = alloc::format!("| `{}` | {} |", code.as_str(), code.status());
            assert!(readme.contains(&row), "README.md lacks the row {row}");
        }
    }

    /// The OpenAPI document lists exactly the codes of this enum, no more and no fewer.
    #[test]
    fn the_openapi_document_lists_exactly_these_codes() {
        let document: serde_json::Value =
            serde_json::from_str(include_str!("../../../../www/openapi.json")).unwrap();
        let listed: BTreeSet<String> = document["components"]["schemas"]["ErrorCode"]["enum"]
            .as_array()
            .expect("components.schemas.ErrorCode.enum")
            .iter()
            .map(|code| String::from(code.as_str().unwrap()))
            .collect();
        let ours: BTreeSet<String> = ErrorCode::ALL.iter().map(|c| c.as_str().into()).collect();
        let missing: Vec<_> = ours.difference(&listed).collect();
        let unknown: Vec<_> = listed.difference(&ours).collect();
        assert!(missing.is_empty(), "not in /openapi.json: {missing:?}");
        assert!(
            unknown.is_empty(),
            "in /openapi.json but not ErrorCode: {unknown:?}"
        );
    }
}
