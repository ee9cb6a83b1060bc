//! Verifies, at an origin, the signed assertion (`X-Aero2-Assertion`) that an Aero2 Keys
//! gate adds to every request it forwards, so the origin accepts only what passed the
//! gate.
//!
//! ```ignore
//! let verifier = aero2_origin::Verifier::builder(
//!     "https://keys.example.com",          // the gate's ASSERTION_ISSUER
//!     "https://api.example.com",           // this origin, as the gate's ORIGIN_URL names it
//!     fetch_jwks,                          // GET https://keys.example.com/.well-known/jwks.json
//! )
//! .build()?
//! .shared();
//! let claims = verifier.verify_request(&request).await?; // claims.sub: the key id
//! ```
//!
//! With the `axum` feature, [`Aero2Layer`] refuses unverified requests with 401 JSON and
//! puts [`Claims`] in the request's extensions.
//!
//! Checked, in order: the header (`typ` exactly `aero2-assertion+jwt`, `alg` `EdDSA`, a
//! `kid`, no `crit`), the key (from the gate's JWK Set, refetched on an unknown `kid` at
//! most once a minute), the Ed25519 signature (strict), `iss`, `aud`, the lifetime (60 s
//! at most), `exp` and `iat` (5 s clock tolerance), `htm` and `htu` against the request,
//! the `X-Aero2-*` identity headers, and last a bounded `jti` replay cache.

mod error;
mod jwks;
mod replay;
mod verifier;

#[cfg(feature = "axum")]
mod layer;

pub use error::{ConfigError, Error, Reason};
pub use jwks::{BoxError, FetchFuture, JwksFetcher, StaticJwks};
pub use verifier::{
    Builder, Claims, Clock, Verifier, ASSERTION_HEADER, ASSERTION_TYPE, MAX_LIFETIME_SECONDS,
};

#[cfg(feature = "axum")]
pub use layer::{Aero2Layer, Aero2Service};
