//! The management API's request bodies and their validation. They live in the core so the
//! worker and the fuzz targets decode and check them with the same code.
//!
//! Numbers follow JSON Schema rather than Rust: `3600.0` is an integer (its value is whole),
//! so it is accepted wherever `3600` is.

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use serde::{Deserialize, Serialize};

use crate::format::{Environment, KeyId, KeyKind};
use crate::http::errors::ErrorCode;
use crate::lifecycle::clean_text;
use crate::policy::{
    IpNet, MethodSet, OriginPattern, OriginPolicy, Policy, PolicyError, RateLimit, RoutePattern,
    RouteRule, Scope, Scopes,
};
use crate::time::UnixMillis;
use crate::webhooks::EventType;

/// `POST /v1/keys`: a key, with any policy fields.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateKeyRequest {
    pub kind: KeyKind,
    /// Absent means `default`; `null` is refused, as the schema says a string.
    #[serde(default = "default_label")]
    pub label: String,
    #[serde(default, deserialize_with = "not_null")]
    pub expires_at: Option<String>,
    #[serde(default, deserialize_with = "crate::number::whole_number")]
    pub expires_in_seconds: Option<u64>,
    #[serde(default, deserialize_with = "not_null")]
    pub scopes: Option<Vec<String>>,
    #[serde(default, deserialize_with = "not_null")]
    pub routes: Option<Vec<RouteRequest>>,
    #[serde(default, deserialize_with = "not_null")]
    pub allowed_origins: Option<Vec<String>>,
    #[serde(default, deserialize_with = "not_null")]
    pub origin_policy: Option<OriginPolicy>,
    #[serde(default, deserialize_with = "not_null")]
    pub allowed_ips: Option<Vec<String>>,
    #[serde(default, deserialize_with = "not_null")]
    pub rate_limit: Option<RateLimit>,
    /// A canary: a decoy secret key, refused as an unknown key, whose use is recorded.
    #[serde(default)]
    pub canary: bool,
    /// The keys a canary's use suspends (key ids); only with `canary`.
    #[serde(default, deserialize_with = "not_null")]
    pub canary_suspends: Option<Vec<String>>,
}

/// At most this many keys in `canary_suspends`: every live key of an application.
pub const MAX_CANARY_SUSPENDS: usize = 100;

/// Why a `POST /v1/keys` asking for a canary is refused (`invalid_canary`). The messages
/// are fixed: they never repeat the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CanaryRequestError {
    NotSecret,
    HasPolicy,
    SuspendsWithoutCanary,
    TooManySuspends,
    BadKeyId,
}

impl fmt::Display for CanaryRequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CanaryRequestError::NotSecret => "a canary is a secret key: send \"kind\": \"secret\"",
            CanaryRequestError::HasPolicy => {
                "a canary has no policy: it is refused everywhere; send only kind, label and canary_suspends"
            }
            CanaryRequestError::SuspendsWithoutCanary => {
                "canary_suspends is only for a canary: send \"canary\": true"
            }
            CanaryRequestError::TooManySuspends => "canary_suspends lists at most 100 keys",
            CanaryRequestError::BadKeyId => {
                "canary_suspends lists key ids (key_ followed by 16 characters)"
            }
        })
    }
}

/// One entry of `routes`, as sent: checked when the policy is built, so that an error
/// can name the field.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteRequest {
    #[serde(default)]
    pub methods: Vec<String>,
    pub path: String,
}

fn default_label() -> String {
    "default".into()
}

impl CreateKeyRequest {
    pub fn label(&self) -> &str {
        &self.label
    }

    /// For a canary, the keys its use suspends, distinct, in the order sent; `None` for any
    /// other key.
    pub fn canary(&self) -> Result<Option<Vec<KeyId>>, CanaryRequestError> {
        if !self.canary {
            return match self.canary_suspends {
                Some(_) => Err(CanaryRequestError::SuspendsWithoutCanary),
                None => Ok(None),
            };
        }
        if self.kind != KeyKind::Secret {
            return Err(CanaryRequestError::NotSecret);
        }
        let has_policy = self.expires_at.is_some()
            || self.expires_in_seconds.is_some()
            || self.scopes.is_some()
            || self.routes.is_some()
            || self.allowed_origins.is_some()
            || self.origin_policy.is_some()
            || self.allowed_ips.is_some()
            || self.rate_limit.is_some();
        if has_policy {
            return Err(CanaryRequestError::HasPolicy);
        }
        let listed = self.canary_suspends.as_deref().unwrap_or_default();
        if listed.len() > MAX_CANARY_SUSPENDS {
            return Err(CanaryRequestError::TooManySuspends);
        }
        let mut ids: Vec<KeyId> = Vec::with_capacity(listed.len());
        for text in listed {
            let id = KeyId::parse(text).map_err(|_| CanaryRequestError::BadKeyId)?;
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        Ok(Some(ids))
    }

    /// The key's policy, from the request's fields.
    pub fn policy(&self, now: UnixMillis) -> Result<Policy, PolicyError> {
        Ok(Policy {
            expires_at: expiry(self.expires_at.as_deref(), self.expires_in_seconds, now)?,
            scopes: self.scopes.as_deref().map(scopes).transpose()?,
            routes: self.routes.as_deref().map(routes).transpose()?,
            allowed_origins: self.allowed_origins.as_deref().map(origins).transpose()?,
            origin_policy: self.origin_policy,
            allowed_ips: self.allowed_ips.as_deref().map(addresses).transpose()?,
            rate_limit: self.rate_limit,
        })
    }
}

/// A field of a `PATCH`: absent leaves it as it is, `null` removes it, a value sets it.
#[derive(Debug, Default, PartialEq, Eq)]
pub enum Patch<T> {
    #[default]
    Unchanged,
    Remove,
    Set(T),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Patch<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Option::<T>::deserialize(deserializer).map(|value| value.map_or(Patch::Remove, Patch::Set))
    }
}

/// Sent on to the key ring as it came: unchanged fields are left out, removals are `null`.
impl<T: Serialize> Serialize for Patch<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Patch::Set(value) => serializer.serialize_some(value),
            _ => serializer.serialize_none(),
        }
    }
}

impl<T> Patch<T> {
    pub fn is_unchanged(&self) -> bool {
        matches!(self, Patch::Unchanged)
    }

    /// Given a value (not `null`, which removes).
    pub fn is_set(&self) -> bool {
        matches!(self, Patch::Set(_))
    }

    /// The new value of a field that was `current`, with `parse` for a set value.
    fn apply<U: Clone>(
        &self,
        current: &Option<U>,
        parse: impl FnOnce(&T) -> Result<U, PolicyError>,
    ) -> Result<Option<U>, PolicyError> {
        Ok(match self {
            Patch::Unchanged => current.clone(),
            Patch::Remove => None,
            Patch::Set(value) => Some(parse(value)?),
        })
    }
}

/// `PATCH /v1/keys/{id}`: the label and any policy field; the kind never changes.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateKeyRequest {
    #[serde(
        default,
        deserialize_with = "not_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub label: Option<String>,
    #[serde(default, skip_serializing_if = "Patch::is_unchanged")]
    pub expires_at: Patch<String>,
    #[serde(
        default,
        deserialize_with = "crate::number::whole_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub expires_in_seconds: Option<u64>,
    #[serde(default, skip_serializing_if = "Patch::is_unchanged")]
    pub scopes: Patch<Vec<String>>,
    #[serde(default, skip_serializing_if = "Patch::is_unchanged")]
    pub routes: Patch<Vec<RouteRequest>>,
    #[serde(default, skip_serializing_if = "Patch::is_unchanged")]
    pub allowed_origins: Patch<Vec<String>>,
    #[serde(default, skip_serializing_if = "Patch::is_unchanged")]
    pub origin_policy: Patch<OriginPolicy>,
    #[serde(default, skip_serializing_if = "Patch::is_unchanged")]
    pub allowed_ips: Patch<Vec<String>>,
    #[serde(default, skip_serializing_if = "Patch::is_unchanged")]
    pub rate_limit: Patch<RateLimit>,
}

impl UpdateKeyRequest {
    /// Whether the request changes anything at all.
    pub fn is_empty(&self) -> bool {
        self.label.is_none()
            && self.expires_at.is_unchanged()
            && self.expires_in_seconds.is_none()
            && self.scopes.is_unchanged()
            && self.routes.is_unchanged()
            && self.allowed_origins.is_unchanged()
            && self.origin_policy.is_unchanged()
            && self.allowed_ips.is_unchanged()
            && self.rate_limit.is_unchanged()
    }

    /// Why this change cannot apply to a key of `kind` whose policy is `current`, if it
    /// cannot: it sets a field of the other kind of key, or sets `origin_policy` for a key
    /// that has no `allowed_origins` and gets none. These depend on the key, not on the
    /// request alone, so they are answered 409 (the request is well-formed; the key is not
    /// one it fits).
    pub fn conflict(&self, kind: KeyKind, current: &Policy) -> Option<PolicyError> {
        let set = |patch_is_set: bool, field: &'static str| patch_is_set.then_some(field);
        let other_kind = match kind {
            KeyKind::Publishable => [
                set(self.scopes.is_set(), "scopes"),
                set(self.routes.is_set(), "routes"),
                set(self.allowed_ips.is_set(), "allowed_ips"),
            ]
            .into_iter()
            .flatten()
            .next()
            .map(|field| {
                field_error(
                    field,
                    "applies to secret keys only, and this key is publishable",
                )
            }),
            KeyKind::Secret => [
                set(self.allowed_origins.is_set(), "allowed_origins"),
                set(self.origin_policy.is_set(), "origin_policy"),
            ]
            .into_iter()
            .flatten()
            .next()
            .map(|field| {
                field_error(
                    field,
                    "applies to publishable keys only, and this key is secret",
                )
            }),
        };
        other_kind.or_else(|| {
            (self.origin_policy.is_set()
                && self.allowed_origins.is_unchanged()
                && current.allowed_origins.is_none())
            .then(|| {
                field_error(
                    "origin_policy",
                    "needs allowed_origins, which this key does not have: send both",
                )
            })
        })
    }

    /// The key's policy after this change.
    pub fn apply(&self, current: &Policy, now: UnixMillis) -> Result<Policy, PolicyError> {
        let expires_at = match (&self.expires_at, self.expires_in_seconds) {
            (Patch::Unchanged, None) => current.expires_at,
            (Patch::Remove, None) => None,
            (Patch::Set(at), None) => expiry(Some(at), None, now)?,
            (Patch::Unchanged, Some(seconds)) => expiry(None, Some(seconds), now)?,
            (_, Some(_)) => return Err(both_expiries()),
        };
        Ok(Policy {
            expires_at,
            scopes: self.scopes.apply(&current.scopes, |s| scopes(s))?,
            routes: self.routes.apply(&current.routes, |r| routes(r))?,
            allowed_origins: self
                .allowed_origins
                .apply(&current.allowed_origins, |o| origins(o))?,
            // Removing the list removes what to do about origins it does not hold.
            origin_policy: match (&self.allowed_origins, &self.origin_policy) {
                (Patch::Remove, Patch::Unchanged) => None,
                _ => self
                    .origin_policy
                    .apply(&current.origin_policy, |p| Ok(*p))?,
            },
            allowed_ips: self
                .allowed_ips
                .apply(&current.allowed_ips, |a| addresses(a))?,
            rate_limit: self.rate_limit.apply(&current.rate_limit, |r| Ok(*r))?,
        })
    }
}

fn field_error(field: &'static str, problem: &'static str) -> PolicyError {
    PolicyError { field, problem }
}

fn both_expiries() -> PolicyError {
    field_error(
        "expires_in_seconds",
        "give expires_at or expires_in_seconds, not both",
    )
}

/// The longest `expires_in_seconds`: the same 10 years (3,653 days) as `expires_at`.
pub const MAX_EXPIRES_IN_SECONDS: u64 = crate::policy::MAX_LIFETIME_MS / 1000;

fn expiry(
    at: Option<&str>,
    in_seconds: Option<u64>,
    now: UnixMillis,
) -> Result<Option<UnixMillis>, PolicyError> {
    match (at, in_seconds) {
        (None, None) => Ok(None),
        (Some(_), Some(_)) => Err(both_expiries()),
        (Some(at), None) => UnixMillis::parse_rfc3339(at).map(Some).ok_or(field_error(
            "expires_at",
            "must be an RFC 3339 time, such as 2027-01-31T12:00:00Z",
        )),
        (None, Some(seconds)) if seconds == 0 || seconds > MAX_EXPIRES_IN_SECONDS => Err(
            field_error("expires_in_seconds", "must be 1 to 315619200 (10 years)"),
        ),
        (None, Some(seconds)) => Ok(Some(now.saturating_add_seconds(seconds))),
    }
}

fn scopes(names: &[String]) -> Result<Scopes, PolicyError> {
    names
        .iter()
        .map(|name| {
            Scope::parse(name).ok_or(field_error(
                "scopes",
                "each scope is keys:read, keys:write, audit:read, webhooks:read or webhooks:write",
            ))
        })
        .collect()
}

fn routes(rules: &[RouteRequest]) -> Result<Vec<RouteRule>, PolicyError> {
    let methods_error = field_error(
        "routes",
        "methods are GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS",
    );
    let path_error = field_error(
        "routes",
        "a path is an absolute path, with * only as its last segment (/v1/orders/*)",
    );
    rules
        .iter()
        .take(crate::policy::MAX_LIST + 1)
        .map(|rule| {
            let mut methods = MethodSet::default();
            for name in &rule.methods {
                methods = methods.with(MethodSet::of(name).ok_or(methods_error)?);
            }
            Ok(RouteRule {
                methods,
                path: RoutePattern::parse(&rule.path).ok_or(path_error)?,
            })
        })
        .collect()
}

fn origins(entries: &[String]) -> Result<Vec<OriginPattern>, PolicyError> {
    entries
        .iter()
        .take(crate::policy::MAX_LIST + 1)
        .map(|entry| {
            OriginPattern::parse(entry).ok_or(field_error(
                "allowed_origins",
                "each entry is an origin (https://shop.example), a one-level wildcard (https://*.shop.example) or null",
            ))
        })
        .collect()
}

fn addresses(entries: &[String]) -> Result<Vec<IpNet>, PolicyError> {
    entries
        .iter()
        .take(crate::policy::MAX_LIST + 1)
        .map(|entry| {
            IpNet::parse(entry).ok_or(field_error(
                "allowed_ips",
                "each entry is an IPv4 or IPv6 address or CIDR, such as 203.0.113.0/24, with no host bits set",
            ))
        })
        .collect()
}

/// `POST /v1/keys/{id}/rotate`; the body is optional. The grace period is range-checked
/// by the key ring, which knows the configured default.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotateRequest {
    #[serde(default, deserialize_with = "crate::number::whole_number")]
    pub grace_period_seconds: Option<u64>,
}

/// An optional field that, when present, must hold a value: the schema gives each of
/// these a type, and `null` is not of it. (In a `PATCH`, `null` means "remove"; see
/// [`Patch`].)
fn not_null<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(deserializer).map(Some)
}

/// `POST /v1/webhook_endpoints`. The URL's own rules are checked on its parsed parts
/// ([`crate::webhooks::endpoint::check_url`]).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhookEndpointRequest {
    pub url: String,
    #[serde(default, deserialize_with = "not_null")]
    pub description: Option<String>,
    /// Absent, or `["*"]`: every event, including those added later.
    #[serde(default, deserialize_with = "not_null")]
    pub events: Option<Vec<String>>,
}

impl CreateWebhookEndpointRequest {
    /// The events chosen, `None` for all of them.
    pub fn events(&self) -> Result<Option<Vec<EventType>>, ErrorCode> {
        let Some(names) = &self.events else {
            return Ok(None);
        };
        if names.len() == 1 && names[0] == "*" {
            return Ok(None);
        }
        // At most one entry per type an endpoint can choose (every type but webhook.test),
        // as /openapi.json's maxItems says.
        let choosable = EventType::ALL
            .iter()
            .filter(|e| e.is_subscribable())
            .count();
        if names.is_empty() || names.len() > choosable {
            return Err(ErrorCode::InvalidWebhookEvents);
        }
        let mut events = Vec::with_capacity(names.len());
        for name in names {
            let event = EventType::parse(name)
                .filter(|event| event.is_subscribable())
                .ok_or(ErrorCode::InvalidWebhookEvents)?;
            if !events.contains(&event) {
                events.push(event);
            }
        }
        Ok(Some(events))
    }

    /// The description, trimmed; empty when none was given.
    pub fn description(&self) -> Result<String, ErrorCode> {
        match self.description.as_deref() {
            None => Ok(String::new()),
            Some(text) if text.trim().is_empty() && text.chars().count() <= 200 => {
                Ok(String::new())
            }
            Some(text) => clean_text(text, crate::webhooks::endpoint::MAX_DESCRIPTION_CHARS)
                .map(str::to_owned)
                .ok_or(ErrorCode::InvalidDescription),
        }
    }
}

/// `POST /v1/applications`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateApplicationRequest {
    pub name: String,
    pub environment: String,
    /// The account that owns it (`acct_…`): required of a member, optional for the
    /// operator (an application with no account stays the operator's alone).
    #[serde(default)]
    pub account_id: Option<String>,
}

/// A valid new application's name and environment.
#[derive(Debug, PartialEq, Eq)]
pub struct NewApplication {
    pub name: String,
    pub environment: Environment,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestError {
    InvalidName,
    InvalidEnvironment,
}

impl RequestError {
    pub const fn error_code(&self) -> ErrorCode {
        match self {
            RequestError::InvalidName => ErrorCode::InvalidName,
            RequestError::InvalidEnvironment => ErrorCode::InvalidEnvironment,
        }
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.error_code().message())
    }
}

/// A name people give something (an application, an account, a member, a passkey): at
/// most `max_chars` characters, no control characters and none that reorder or hide text,
/// not only spaces; returned trimmed. The one rule behind every name pattern in
/// `/openapi.json`.
pub fn clean_name(text: &str, max_chars: usize) -> Option<&str> {
    crate::lifecycle::clean_text(text, max_chars)
}

impl CreateApplicationRequest {
    /// Production applications get live keys, development ones test keys.
    pub fn validate(&self) -> Result<NewApplication, RequestError> {
        let name = clean_text(&self.name, 100).ok_or(RequestError::InvalidName)?;
        let environment = match self.environment.as_str() {
            "production" => Environment::Live,
            "development" => Environment::Test,
            _ => return Err(RequestError::InvalidEnvironment),
        };
        Ok(NewApplication {
            name: name.to_owned(),
            environment,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn a_canary_is_a_secret_key_without_a_policy_naming_real_key_ids() {
        let canary = |json: &str| {
            serde_json::from_str::<CreateKeyRequest>(json)
                .unwrap()
                .canary()
        };
        assert_eq!(canary(r#"{"kind":"secret"}"#), Ok(None));
        assert_eq!(
            canary(r#"{"kind":"secret","canary":true}"#),
            Ok(Some(Vec::new()))
        );
        let a = "key_AAAAAAAAAAAAAAAA";
        let b = "key_BBBBBBBBBBBBBBBB";
        assert_eq!(
            canary(&alloc::format!(
                r#"{{"kind":"secret","canary":true,"canary_suspends":["{a}","{b}","{a}"]}}"#
            )),
            Ok(Some(alloc::vec![
                KeyId::parse(a).unwrap(),
                KeyId::parse(b).unwrap()
            ]))
        );
        for (json, error) in [
            (
                r#"{"kind":"publishable","canary":true}"#,
                CanaryRequestError::NotSecret,
            ),
            (
                r#"{"kind":"secret","canary":true,"scopes":["keys:read"]}"#,
                CanaryRequestError::HasPolicy,
            ),
            (
                r#"{"kind":"secret","canary":true,"expires_in_seconds":60}"#,
                CanaryRequestError::HasPolicy,
            ),
            (
                r#"{"kind":"secret","canary_suspends":[]}"#,
                CanaryRequestError::SuspendsWithoutCanary,
            ),
            (
                r#"{"kind":"secret","canary":false,"canary_suspends":["key_AAAAAAAAAAAAAAAA"]}"#,
                CanaryRequestError::SuspendsWithoutCanary,
            ),
            (
                r#"{"kind":"secret","canary":true,"canary_suspends":["sk_live_secret?"]}"#,
                CanaryRequestError::BadKeyId,
            ),
        ] {
            assert_eq!(canary(json), Err(error), "{json}");
            assert!(!error.to_string().contains("sk_live_secret"));
        }
        let many: Vec<String> = (0..101).map(|_| a.into()).collect();
        let json = serde_json::json!({"kind": "secret", "canary": true, "canary_suspends": many});
        assert_eq!(
            serde_json::from_value::<CreateKeyRequest>(json)
                .unwrap()
                .canary(),
            Err(CanaryRequestError::TooManySuspends)
        );
        // The types are strict: no null, no string for a boolean.
        for json in [
            r#"{"kind":"secret","canary":"yes"}"#,
            r#"{"kind":"secret","canary":true,"canary_suspends":null}"#,
            r#"{"kind":"secret","canary":true,"canary_suspends":"key_AAAAAAAAAAAAAAAA"}"#,
        ] {
            assert!(
                serde_json::from_str::<CreateKeyRequest>(json).is_err(),
                "{json}"
            );
        }
    }

    /// A change that cannot fit the key it is sent to is a conflict (409), not a bad
    /// request: the same body fits a key of the other kind.
    #[test]
    fn a_change_for_the_other_kind_of_key_conflicts_with_the_key() {
        let change = |json: &str| serde_json::from_str::<UpdateKeyRequest>(json).unwrap();
        let none = Policy::default();
        let listed: Policy =
            serde_json::from_str(r#"{"allowed_origins":["https://shop.example"]}"#).unwrap();
        let conflict = |json: &str, kind, current: &Policy| {
            change(json).conflict(kind, current).map(|err| err.field)
        };
        assert_eq!(
            conflict(
                r#"{"allowed_ips":["10.0.0.0/8"]}"#,
                KeyKind::Publishable,
                &none
            ),
            Some("allowed_ips")
        );
        assert_eq!(
            conflict(r#"{"scopes":[]}"#, KeyKind::Publishable, &none),
            Some("scopes")
        );
        assert_eq!(
            conflict(r#"{"allowed_origins":["null"]}"#, KeyKind::Secret, &none),
            Some("allowed_origins")
        );
        assert_eq!(
            conflict(r#"{"origin_policy":"report"}"#, KeyKind::Publishable, &none),
            Some("origin_policy")
        );
        // Fits: the key's own kind, a removal, or origin_policy with a list there or sent.
        assert_eq!(
            conflict(r#"{"allowed_ips":["10.0.0.0/8"]}"#, KeyKind::Secret, &none),
            None
        );
        assert_eq!(
            conflict(r#"{"scopes":null}"#, KeyKind::Publishable, &none),
            None
        );
        assert_eq!(
            conflict(
                r#"{"origin_policy":"report"}"#,
                KeyKind::Publishable,
                &listed
            ),
            None
        );
        assert_eq!(
            conflict(
                r#"{"origin_policy":"report","allowed_origins":["null"]}"#,
                KeyKind::Publishable,
                &none
            ),
            None
        );
    }

    fn app(name: &str, environment: &str) -> CreateApplicationRequest {
        CreateApplicationRequest {
            name: name.into(),
            environment: environment.into(),
            account_id: None,
        }
    }

    #[test]
    fn applications_are_validated() {
        let ok = app("  Shop ", "production").validate().unwrap();
        assert_eq!(ok.name, "Shop");
        assert_eq!(ok.environment, Environment::Live);
        assert_eq!(
            app("Dev", "development").validate().unwrap().environment,
            Environment::Test
        );
        assert_eq!(
            app(" ", "production").validate(),
            Err(RequestError::InvalidName)
        );
        assert_eq!(
            app("a\u{7}", "production").validate(),
            Err(RequestError::InvalidName)
        );
        let long: String = core::iter::repeat_n('n', 101).collect();
        assert_eq!(
            app(&long, "production").validate(),
            Err(RequestError::InvalidName)
        );
        assert_eq!(
            app("x", "staging").validate(),
            Err(RequestError::InvalidEnvironment)
        );
    }

    const NOW: UnixMillis = UnixMillis(1_800_000_000_000);

    #[test]
    fn a_created_keys_policy_comes_from_its_fields_and_errors_name_the_field() {
        let request: CreateKeyRequest = serde_json::from_str(
            r#"{"kind":"secret","label":"orders","expires_in_seconds":3600.0,"scopes":["keys:read"],
                "routes":[{"methods":["GET"],"path":"/v1/orders/*"}],"allowed_ips":["203.0.113.0/24"],
                "rate_limit":{"requests":100,"per_seconds":60}}"#,
        )
        .unwrap();
        let policy = request.policy(NOW).unwrap();
        assert_eq!(policy.expires_at, Some(UnixMillis(NOW.0 + 3_600_000)));
        assert_eq!(policy.routes.as_ref().unwrap().len(), 1);
        assert!(policy.validate(KeyKind::Secret, NOW).is_ok());
        let at: CreateKeyRequest = serde_json::from_str(
            r#"{"kind":"publishable","expires_at":"2027-01-31T12:00:00.250Z","allowed_origins":["https://*.shop.example"],"origin_policy":"report"}"#,
        )
        .unwrap();
        let policy = at.policy(NOW).unwrap();
        assert_eq!(
            policy.expires_at,
            UnixMillis::parse_rfc3339("2027-01-31T12:00:00.250Z")
        );
        assert_eq!(policy.origin_policy, Some(OriginPolicy::Report));
        let cases = [
            (r#"{"kind":"secret","expires_at":"tomorrow"}"#, "expires_at"),
            (
                r#"{"kind":"secret","expires_at":"2027-01-31T12:00:00Z","expires_in_seconds":5}"#,
                "expires_in_seconds",
            ),
            (
                r#"{"kind":"secret","expires_in_seconds":0}"#,
                "expires_in_seconds",
            ),
            (r#"{"kind":"secret","scopes":["keys:admin"]}"#, "scopes"),
            (
                r#"{"kind":"secret","routes":[{"methods":["TRACE"],"path":"/x"}]}"#,
                "routes",
            ),
            (
                r#"{"kind":"secret","routes":[{"path":"/a/*/b"}]}"#,
                "routes",
            ),
            (
                r#"{"kind":"secret","allowed_ips":["10.0.0.1/8"]}"#,
                "allowed_ips",
            ),
            (
                r#"{"kind":"publishable","allowed_origins":["shop.example"]}"#,
                "allowed_origins",
            ),
        ];
        for (json, field) in cases {
            let request: CreateKeyRequest = serde_json::from_str(json).unwrap();
            let error = request.policy(NOW).unwrap_err();
            assert_eq!(error.field, field, "{json}");
            assert!(!alloc::string::ToString::to_string(&error).contains("10.0.0.1"));
        }
        // Found by schemathesis: null was taken for "absent", though the schema gives a type.
        for field in [
            "expires_at",
            "scopes",
            "routes",
            "allowed_origins",
            "origin_policy",
            "allowed_ips",
            "rate_limit",
        ] {
            let json = alloc::format!(r#"{{"kind":"secret","{field}":null}}"#);
            assert!(
                serde_json::from_str::<CreateKeyRequest>(&json).is_err(),
                "{json}"
            );
        }
        assert!(
            serde_json::from_str::<CreateKeyRequest>(r#"{"kind":"secret","colour":1}"#).is_err()
        );
    }

    #[test]
    fn expires_in_seconds_reaches_exactly_the_lifetime_limit_and_the_schema_says_so() {
        let within =
            alloc::format!(r#"{{"kind":"secret","expires_in_seconds":{MAX_EXPIRES_IN_SECONDS}}}"#);
        let request: CreateKeyRequest = serde_json::from_str(&within).unwrap();
        let policy = request.policy(NOW).unwrap();
        assert!(policy.validate(KeyKind::Secret, NOW).is_ok());
        // Found by schemathesis: the schema's maximum and the code's disagreed.
        let beyond = alloc::format!(
            r#"{{"kind":"secret","expires_in_seconds":{}}}"#,
            MAX_EXPIRES_IN_SECONDS + 1
        );
        let request: CreateKeyRequest = serde_json::from_str(&beyond).unwrap();
        assert_eq!(request.policy(NOW).unwrap_err().field, "expires_in_seconds");
        let openapi: serde_json::Value =
            serde_json::from_str(include_str!("../../../../www/openapi.json")).unwrap();
        for schema in ["CreateKey", "UpdateKey"] {
            assert_eq!(
                openapi["components"]["schemas"][schema]["properties"]["expires_in_seconds"]
                    ["maximum"],
                MAX_EXPIRES_IN_SECONDS,
                "{schema}"
            );
        }
    }

    #[test]
    fn the_documents_webhook_events_are_the_ones_an_endpoint_can_choose() {
        // Found by schemathesis when an event was added: maxItems stayed at the old count.
        let openapi: serde_json::Value =
            serde_json::from_str(include_str!("../../../../www/openapi.json")).unwrap();
        let events = &openapi["components"]["schemas"]["CreateWebhookEndpoint"]["properties"]
            ["events"]["anyOf"][0];
        let choosable: alloc::vec::Vec<&str> = EventType::ALL
            .iter()
            .filter(|e| e.is_subscribable())
            .map(|e| e.name())
            .collect();
        assert_eq!(events["maxItems"], choosable.len());
        let listed: alloc::vec::Vec<&str> = events["items"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|name| name.as_str().unwrap())
            .collect();
        assert_eq!(listed, choosable);
    }

    #[test]
    fn a_patch_leaves_absent_fields_removes_null_ones_and_sets_the_rest() {
        let current: Policy = serde_json::from_str(
            r#"{"expires_at":1800000600000,"scopes":["keys:read"],"allowed_ips":["10.0.0.0/8"],"rate_limit":{"requests":5,"per_seconds":1}}"#,
        )
        .unwrap();
        let patch: UpdateKeyRequest =
            serde_json::from_str(r#"{"scopes":null,"allowed_ips":["10.1.0.0/16"]}"#).unwrap();
        assert!(!patch.is_empty());
        let after = patch.apply(&current, NOW).unwrap();
        assert_eq!(after.scopes, None, "null removes the restriction");
        assert_eq!(
            after.allowed_ips.as_ref().unwrap()[0].to_string(),
            "10.1.0.0/16"
        );
        assert_eq!(after.expires_at, current.expires_at, "absent leaves it");
        assert_eq!(after.rate_limit, current.rate_limit);
        let expiry: UpdateKeyRequest =
            serde_json::from_str(r#"{"expires_in_seconds":60}"#).unwrap();
        assert_eq!(
            expiry.apply(&current, NOW).unwrap().expires_at,
            Some(UnixMillis(NOW.0 + 60_000))
        );
        let origins: Policy = serde_json::from_str(
            r#"{"allowed_origins":["https://shop.example"],"origin_policy":"report"}"#,
        )
        .unwrap();
        let unlisted: UpdateKeyRequest =
            serde_json::from_str(r#"{"allowed_origins":null}"#).unwrap();
        let after = unlisted.apply(&origins, NOW).unwrap();
        assert_eq!(
            (&after.allowed_origins, after.origin_policy),
            (&None, None),
            "found by the dashboard's author: removing the list alone was refused"
        );
        assert!(after.validate(KeyKind::Publishable, NOW).is_ok());
        let clear: UpdateKeyRequest = serde_json::from_str(r#"{"expires_at":null}"#).unwrap();
        assert_eq!(clear.apply(&current, NOW).unwrap().expires_at, None);
        let both: UpdateKeyRequest =
            serde_json::from_str(r#"{"expires_at":null,"expires_in_seconds":5}"#).unwrap();
        assert_eq!(
            both.apply(&current, NOW).unwrap_err().field,
            "expires_in_seconds"
        );
        assert!(serde_json::from_str::<UpdateKeyRequest>("{}")
            .unwrap()
            .is_empty());
        assert!(serde_json::from_str::<UpdateKeyRequest>(r#"{"kind":"secret"}"#).is_err());
        // A label cannot be removed, only changed.
        assert!(serde_json::from_str::<UpdateKeyRequest>(r#"{"label":null}"#).is_err());
    }

    #[test]
    fn webhook_endpoints_name_known_events_or_all_and_a_clean_description() {
        let body = |json: &str| serde_json::from_str::<CreateWebhookEndpointRequest>(json);
        let all = body(r#"{"url":"https://x.example"}"#).unwrap();
        assert_eq!(all.events(), Ok(None));
        assert_eq!(all.description(), Ok(String::new()));
        let star = body(r#"{"url":"https://x.example","events":["*"]}"#).unwrap();
        assert_eq!(star.events(), Ok(None));
        let some = body(
            r#"{"url":"https://x.example","events":["key.leaked","key.revoked","key.leaked"],"description":"  pager  "}"#,
        )
        .unwrap();
        assert_eq!(
            some.events(),
            Ok(Some(alloc::vec![
                EventType::KeyLeaked,
                EventType::KeyRevoked
            ]))
        );
        assert_eq!(some.description(), Ok("pager".into()));
        for events in [
            r#"[]"#,
            r#"["key.nope"]"#,
            r#"["webhook.test"]"#,
            r#"["*","key.leaked"]"#,
            r#"["KEY.LEAKED"]"#,
        ] {
            let request = body(&alloc::format!(
                r#"{{"url":"https://x.example","events":{events}}}"#
            ))
            .unwrap();
            assert_eq!(
                request.events(),
                Err(ErrorCode::InvalidWebhookEvents),
                "{events}"
            );
        }
        for description in [
            "\"a\\u0007b\"",
            "\"\\u202eevil\"",
            &alloc::format!("\"{}\"", "d".repeat(201)),
        ] {
            let request = body(&alloc::format!(
                r#"{{"url":"https://x.example","description":{description}}}"#
            ))
            .unwrap();
            assert_eq!(
                request.description(),
                Err(ErrorCode::InvalidDescription),
                "{description}"
            );
        }
        assert!(body(r#"{"url":"https://x.example","events":null}"#).is_err());
        assert!(body(r#"{"url":"https://x.example","secret":"whsec_x"}"#).is_err());
    }

    #[test]
    fn grace_periods_are_whole_numbers_in_any_json_spelling() {
        let grace = |json: &str| {
            serde_json::from_str::<RotateRequest>(json).map(|r| r.grace_period_seconds)
        };
        assert_eq!(grace("{}").unwrap(), None);
        // Found by schemathesis: null was taken for "absent", though the schema says integer.
        assert!(grace(r#"{"grace_period_seconds":null}"#).is_err());
        assert_eq!(
            grace(r#"{"grace_period_seconds":3600}"#).unwrap(),
            Some(3600)
        );
        // Found by schemathesis: JSON Schema counts 73047.0 as an integer.
        assert_eq!(
            grace(r#"{"grace_period_seconds":73047.0}"#).unwrap(),
            Some(73047)
        );
        assert_eq!(
            grace(r#"{"grace_period_seconds":7.3e4}"#).unwrap(),
            Some(73000)
        );
        for refused in ["0.5", "-1", "-1.0", "1e300", "\"60\"", "true", "[]"] {
            let json = alloc::format!(r#"{{"grace_period_seconds":{refused}}}"#);
            assert!(grace(&json).is_err(), "{refused} was accepted");
        }
    }

    #[test]
    fn error_messages_are_fixed_whatever_the_input() {
        // Found by cargo-fuzz (request_bodies): `["s  ",""]`, whose one-letter name appears
        // in the fixed sentence by chance. Messages never quote their input.
        let from_json: CreateApplicationRequest = serde_json::from_str(r#"["s  ",""]"#).unwrap();
        let err = from_json.validate().unwrap_err();
        assert_eq!(err, RequestError::InvalidEnvironment);
        assert_eq!(
            alloc::string::ToString::to_string(&err),
            "environment must be \"production\" or \"development\""
        );
    }
}
