//! The policy of a key: when it expires, what it may manage (`scopes`), which gated
//! requests it may make (`routes`), from which websites (`allowed_origins`) or addresses
//! (`allowed_ips`) it may be used, and how often (`rate_limit`). A key without a policy
//! behaves as if it had none of these restrictions.
//!
//! The policy travels with the key's record, into the key ring and into Workers KV, so both
//! validation modes enforce it at the gate without another read. The checks run in the
//! order that costs least: format (the key's own), expiry and suspension (in
//! [`crate::gate::admit`]), then address and origin, then routes ([`check`]), then the rate
//! limit ([`rate`]).

mod bucket;
mod ip;
mod origin;
pub mod rate;
mod routes;
mod scope;

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::net::IpAddr;

use serde::{Deserialize, Serialize};

pub use bucket::{Bucket, TokenBucket};
pub use ip::{limit_bucket, pattern as allowed_ip_pattern, IpNet};
pub use origin::{referer_origin, OriginPattern, PATTERN as ALLOWED_ORIGIN_PATTERN};
pub use rate::{RateDecision, RateLimit, Window};
pub use routes::{FrontendRoutes, MethodSet, RoutePattern, RouteRule, PATTERN as ROUTE_PATTERN};
pub use scope::{Scope, Scopes};

use crate::format::KeyKind;
use crate::rejection::Rejection;
use crate::time::UnixMillis;

/// How long ahead a key may be set to expire.
pub const MAX_LIFETIME_MS: u64 = 3_653 * 24 * 60 * 60 * 1000; // 10 years
/// Entries in each list (routes, origins, addresses).
pub const MAX_LIST: usize = 50;

/// What happens to a request from an origin a publishable key does not list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OriginPolicy {
    /// Refused: 403 `origin_not_allowed`.
    #[default]
    Enforce,
    /// Let through, and recorded (`key.origin_not_allowed`), so a team can see what
    /// enforcing would refuse before it does.
    Report,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// The key stops working at this instant, and is then revoked (`expired`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<UnixMillis>,
    /// Secret keys: management rights. Absent: all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Scopes>,
    /// Secret keys: the gated requests allowed. Absent: all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routes: Option<Vec<RouteRule>>,
    /// Publishable keys: the websites allowed. Absent: any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_origins: Option<Vec<OriginPattern>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin_policy: Option<OriginPolicy>,
    /// Secret keys: the client addresses allowed. Absent: any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_ips: Option<Vec<IpNet>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimit>,
}

/// Why a policy is refused: which field, and what is wrong. Never quotes the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PolicyError {
    pub field: &'static str,
    pub problem: &'static str,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.problem)
    }
}

fn refuse(field: &'static str, problem: &'static str) -> Result<(), PolicyError> {
    Err(PolicyError { field, problem })
}

/// What a request looks like to the policy checks.
#[derive(Clone, Copy, Debug)]
pub struct Facts<'a> {
    pub method: &'a str,
    /// The gate's normalised path.
    pub path: &'a str,
    /// The address the platform reports; `None` when unknown (refused where addresses are
    /// limited).
    pub client_ip: Option<IpAddr>,
    /// The page's origin: `Origin`, or else the origin of `Referer`.
    pub origin: Option<&'a str>,
    /// Whether the query string names a method override
    /// ([`crate::http::query::overrides_method`]).
    pub method_override: bool,
}

/// A request a policy in `report` mode let through, which `enforce` would have refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OriginReport;

impl Policy {
    pub fn is_empty(&self) -> bool {
        *self == Policy::default()
    }

    pub fn scopes(&self) -> Scopes {
        self.scopes.unwrap_or(Scopes::ALL)
    }

    /// Checks the fields against the key's kind and the time.
    pub fn validate(&self, kind: KeyKind, now: UnixMillis) -> Result<(), PolicyError> {
        if let Some(expires_at) = self.expires_at {
            if expires_at <= now {
                return refuse("expires_at", "must be in the future");
            }
            if expires_at.0 - now.0 > MAX_LIFETIME_MS {
                return refuse("expires_at", "must be at most 10 years ahead");
            }
        }
        let secret_only = [
            ("scopes", self.scopes.is_some()),
            ("routes", self.routes.is_some()),
            ("allowed_ips", self.allowed_ips.is_some()),
        ];
        let publishable_only = [
            ("allowed_origins", self.allowed_origins.is_some()),
            ("origin_policy", self.origin_policy.is_some()),
        ];
        for (field, set) in secret_only {
            if set && kind != KeyKind::Secret {
                return refuse(field, "applies to secret keys only");
            }
        }
        for (field, set) in publishable_only {
            if set && kind != KeyKind::Publishable {
                return refuse(field, "applies to publishable keys only");
            }
        }
        let lists = [
            ("routes", self.routes.as_ref().map(Vec::len)),
            (
                "allowed_origins",
                self.allowed_origins.as_ref().map(Vec::len),
            ),
            ("allowed_ips", self.allowed_ips.as_ref().map(Vec::len)),
        ];
        for (field, len) in lists {
            match len {
                Some(0) => {
                    return refuse(
                        field,
                        "must list at least one entry; leave it out for no restriction",
                    )
                }
                Some(n) if n > MAX_LIST => return refuse(field, "may list at most 50 entries"),
                _ => {}
            }
        }
        if self.origin_policy.is_some() && self.allowed_origins.is_none() {
            return refuse("origin_policy", "needs allowed_origins");
        }
        if self.rate_limit.is_some_and(|limit| !limit.is_valid()) {
            return refuse(
                "rate_limit",
                "requests must be 1 to 1000000 and per_seconds 1 to 86400",
            );
        }
        Ok(())
    }

    /// Whether a key of `kind` with this policy reaches nothing that a secret key with
    /// `holder` cannot: the one rule, for both kinds, by which a restricted key may create,
    /// change, suspend, resume, rotate or revoke a key (checked before and after a change).
    ///
    /// What a key reaches: its management scopes; the gated requests it can make (a
    /// secret key's `routes`, or all; a publishable key's are `frontend`, every method);
    /// the addresses it can be used from (a secret key's `allowed_ips`, or all; a
    /// publishable key's are all); its own `expires_at`; and its `rate_limit`. Removing a
    /// restriction widens the reach. (A publishable key's `allowed_origins` do not count:
    /// no secret key is limited by origin, so any holder reaches every origin.)
    pub fn within(&self, kind: KeyKind, holder: &Policy, frontend: &FrontendRoutes) -> bool {
        let scopes = match kind {
            KeyKind::Secret => self.scopes().is_subset(holder.scopes()),
            KeyKind::Publishable => true,
        };
        let within_holders = |rule: &RouteRule| {
            holder
                .routes
                .as_ref()
                .is_none_or(|theirs| theirs.iter().any(|allowed| rule.within(allowed)))
        };
        let routes = match (kind, &self.routes) {
            (KeyKind::Publishable, _) => frontend.as_rules().all(|rule| within_holders(&rule)),
            (KeyKind::Secret, None) => holder.routes.is_none(),
            (KeyKind::Secret, Some(ours)) => ours.iter().all(within_holders),
        };
        let addresses = match (&holder.allowed_ips, kind, &self.allowed_ips) {
            (None, _, _) => true,
            (Some(_), KeyKind::Publishable, _) | (Some(_), KeyKind::Secret, None) => false,
            (Some(theirs), KeyKind::Secret, Some(ours)) => ours
                .iter()
                .all(|net| theirs.iter().any(|allowed| allowed.covers(net))),
        };
        let expiry = match (holder.expires_at, self.expires_at) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(theirs), Some(ours)) => ours <= theirs,
        };
        // A rate limit no looser than the holder's: no larger burst (requests per window)
        // and no higher rate. Found by review: a key held to 10 requests a minute could
        // make a twin with no limit at all.
        let rate = match (holder.rate_limit, self.rate_limit) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(theirs), Some(ours)) => {
                ours.requests <= theirs.requests
                    && u64::from(ours.requests) * u64::from(theirs.per_seconds)
                        <= u64::from(theirs.requests) * u64::from(ours.per_seconds)
            }
        };
        scopes && routes && addresses && expiry && rate
    }

    /// Whether an origin may read this key's answers (CORS): any origin unless the key
    /// enforces a list, then only the listed ones.
    pub fn cors_allows(&self, origin: &str) -> bool {
        match (
            &self.allowed_origins,
            self.origin_policy.unwrap_or_default(),
        ) {
            (Some(list), OriginPolicy::Enforce) => list.iter().any(|p| p.matches(origin)),
            _ => true,
        }
    }

    /// Field names whose values differ between two policies, for the audit log (which
    /// never records the values).
    pub fn changed_fields(&self, other: &Policy) -> Vec<&'static str> {
        let mut changed = Vec::new();
        let mut note = |field, differs: bool| {
            if differs {
                changed.push(field);
            }
        };
        note("expires_at", self.expires_at != other.expires_at);
        note("scopes", self.scopes != other.scopes);
        note("routes", self.routes != other.routes);
        note(
            "allowed_origins",
            self.allowed_origins != other.allowed_origins,
        );
        note("origin_policy", self.origin_policy != other.origin_policy);
        note("allowed_ips", self.allowed_ips != other.allowed_ips);
        note("rate_limit", self.rate_limit != other.rate_limit);
        changed
    }
}

/// The address, origin and route checks, in that order. `Ok(Some(OriginReport))` when a
/// policy in `report` mode let an unlisted origin through.
/// A secret key's `allowed_ips`: the client's address (the one the platform reports) must
/// be in one of them. No list allows every address; an unknown address passes no list.
/// The gate applies it through [`check`], and the management API through
/// [`crate::rights::key_manager`], so a key held to a network manages nothing from outside it.
pub fn address_allowed(policy: &Policy, client_ip: Option<IpAddr>) -> Result<(), Rejection> {
    match &policy.allowed_ips {
        Some(networks)
            if !client_ip.is_some_and(|ip| networks.iter().any(|net| net.contains(ip))) =>
        {
            Err(Rejection::IpNotAllowed)
        }
        _ => Ok(()),
    }
}

pub fn check(
    kind: KeyKind,
    policy: &Policy,
    facts: &Facts<'_>,
) -> Result<Option<OriginReport>, Rejection> {
    let mut report = None;
    if kind == KeyKind::Secret {
        address_allowed(policy, facts.client_ip)?;
    }
    if kind == KeyKind::Publishable {
        if let Some(patterns) = &policy.allowed_origins {
            // Neither header (a server, an app): only a list holding "null" allows it.
            let origin = facts.origin.unwrap_or("null");
            if !patterns.iter().any(|pattern| pattern.matches(origin)) {
                match policy.origin_policy.unwrap_or_default() {
                    OriginPolicy::Enforce => return Err(Rejection::OriginNotAllowed),
                    OriginPolicy::Report => report = Some(OriginReport),
                }
            }
        }
    }
    if kind == KeyKind::Secret {
        if let Some(rules) = &policy.routes {
            // Laravel, Symfony and Rails read `?_method=DELETE` as a DELETE: a key held to
            // some methods would reach the others through it.
            if facts.method_override {
                return Err(Rejection::MethodOverride);
            }
            if !rules
                .iter()
                .any(|rule| rule.allows(facts.method, facts.path))
            {
                return Err(Rejection::RouteNotAllowed);
            }
        }
    }
    Ok(report)
}

impl OriginPattern {
    /// The pattern as text (what [`OriginPattern::parse`] reads back).
    pub fn write_to(&self, out: &mut String) {
        match self {
            OriginPattern::Null => out.push_str("null"),
            OriginPattern::Exact(origin) => out.push_str(origin),
            OriginPattern::AnySubdomain { scheme, rest } => {
                out.push_str(scheme);
                out.push_str("://*.");
                out.push_str(rest);
            }
        }
    }
}

impl Serialize for OriginPattern {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut text = String::new();
        self.write_to(&mut text);
        serializer.serialize_str(&text)
    }
}

impl<'de> Deserialize<'de> for OriginPattern {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <alloc::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        OriginPattern::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(
                "an allowed origin is scheme://host[:port], scheme://*.domain, or null",
            )
        })
    }
}

impl Serialize for IpNet {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for IpNet {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <alloc::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        IpNet::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(
                "an allowed address is an IPv4 or IPv6 CIDR, such as 203.0.113.0/24",
            )
        })
    }
}

#[cfg(test)]
mod tests;
