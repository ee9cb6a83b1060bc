//! Why an assertion was refused: a stable reason, and a message for logs that never holds
//! the token, key material or any other value taken from the request.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

/// Why an assertion was refused. The [`Reason::as_str`] values are stable and the same as
/// the npm package's (`@aero2/origin`). New reasons may be added.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reason {
    /// No `X-Aero2-Assertion` header: the request did not come through the gate.
    Missing,
    /// Not a compact JWS of the assertion's shape, too large, or claims of the wrong types.
    Malformed,
    /// The JWT header's `typ` is not exactly `aero2-assertion+jwt`.
    WrongType,
    /// The JWT header's `alg` is not `EdDSA`.
    WrongAlgorithm,
    /// No Ed25519 key in the gate's JWK Set has the token's `kid`, even after a refetch.
    UnknownKey,
    /// The gate's JWK Set could not be fetched or read.
    JwksUnavailable,
    /// The signature does not verify: the token was forged or altered.
    BadSignature,
    /// `iss` is not the configured issuer.
    WrongIssuer,
    /// `aud` is not the configured audience.
    WrongAudience,
    /// Past `exp` (beyond the clock tolerance), or issued longer ago than a lifetime.
    Expired,
    /// `iat` (or `nbf`) is in the future beyond the clock tolerance.
    NotYetValid,
    /// `exp` is more than 60 seconds after `iat`.
    LifetimeTooLong,
    /// This `jti` was already accepted.
    Replayed,
    /// The replay cache is full of unexpired entries.
    ReplayCacheFull,
    /// `htm` is not the request's method.
    WrongMethod,
    /// `htu` is not the request's path and query.
    WrongTarget,
    /// An `X-Aero2-*` identity header disagrees with the signed claims.
    HeaderMismatch,
}

impl Reason {
    /// The machine-readable reason, e.g. `"replayed"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Missing => "missing",
            Reason::Malformed => "malformed",
            Reason::WrongType => "wrong_type",
            Reason::WrongAlgorithm => "wrong_algorithm",
            Reason::UnknownKey => "unknown_key",
            Reason::JwksUnavailable => "jwks_unavailable",
            Reason::BadSignature => "bad_signature",
            Reason::WrongIssuer => "wrong_issuer",
            Reason::WrongAudience => "wrong_audience",
            Reason::Expired => "expired",
            Reason::NotYetValid => "not_yet_valid",
            Reason::LifetimeTooLong => "lifetime_too_long",
            Reason::Replayed => "replayed",
            Reason::ReplayCacheFull => "replay_cache_full",
            Reason::WrongMethod => "wrong_method",
            Reason::WrongTarget => "wrong_target",
            Reason::HeaderMismatch => "header_mismatch",
        }
    }

    /// The HTTP status to answer with: 503 when the verifier itself could not check (the
    /// keys are unavailable, the replay cache is full), 401 otherwise.
    pub fn status(self) -> u16 {
        match self {
            Reason::JwksUnavailable | Reason::ReplayCacheFull => 503,
            _ => 401,
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An assertion was refused. Its `Display` and `Debug` say why, for logs; neither holds
/// the token, key material, nor any value taken from the request.
#[derive(Clone)]
pub struct Error {
    reason: Reason,
    detail: Cow<'static, str>,
    source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

impl Error {
    pub(crate) fn new(reason: Reason, detail: impl Into<Cow<'static, str>>) -> Self {
        Error {
            reason,
            detail: detail.into(),
            source: None,
        }
    }

    pub(crate) fn with_source(mut self, source: Arc<dyn std::error::Error + Send + Sync>) -> Self {
        self.source = Some(source);
        self
    }

    /// Why it was refused.
    pub fn reason(&self) -> Reason {
        self.reason
    }

    /// The HTTP status to answer with (see [`Reason::status`]).
    pub fn status(&self) -> u16 {
        self.reason.status()
    }
}

impl PartialEq for Error {
    fn eq(&self, other: &Self) -> bool {
        self.reason == other.reason && self.detail == other.detail
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "X-Aero2-Assertion refused ({}): {}",
            self.reason, self.detail
        )
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The source (a JWK Set fetch error) is left out: it is the fetcher's to describe.
        f.debug_struct("Error")
            .field("reason", &self.reason)
            .field("detail", &self.detail)
            .finish_non_exhaustive()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// A verifier was configured wrongly (an empty issuer or audience, a zero size).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError(pub(crate) &'static str);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for ConfigError {}
