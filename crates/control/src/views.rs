//! The public JSON shapes of the API, and how a JSON response is built. Times are RFC 3339
//! strings in UTC.

use aero2_keys::policy::{
    IpNet, OriginPattern, OriginPolicy, Policy, RateLimit, RouteRule, Scopes,
};
use aero2_keys::usage::HOUR_MS;
use aero2_keys::{KeyId, KeyKind, KeyRecord, KeyStatus, RevocationReason, UnixMillis};
use serde::Serialize;

use crate::protocol::ApplicationInfo;

#[derive(Serialize)]
pub struct KeyView<'a> {
    pub id: KeyId,
    pub kind: KeyKind,
    pub label: &'a str,
    /// Prefix and last 4 characters: all that is ever shown of a key after creation.
    pub hint: &'a str,
    pub status: &'static str,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
    pub revocation_reason: Option<RevocationReason>,
    pub rotated_from: Option<KeyId>,
    pub last_used_at: Option<String>,
    /// Set while the key is suspended.
    pub suspended_at: Option<String>,
    /// A canary: a decoy, refused as an unknown key; its use is `key.canary_used`.
    pub canary: bool,
    /// A canary's keys that its use suspends (absent for other keys).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub canary_suspends: Option<&'a Vec<KeyId>>,
    /// The key's restrictions; each is absent when the key has none of that kind.
    #[serde(flatten)]
    pub policy: PolicyView<'a>,
}

/// A key's policy as the API shows it (times as RFC 3339).
#[derive(Serialize)]
pub struct PolicyView<'a> {
    /// The key's own expiry (`expires_at` above is the earlier of this and a rotation's
    /// grace period end), so that each can be read and changed on its own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_expires_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scopes: Option<&'a Scopes>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub routes: Option<&'a Vec<RouteRule>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_origins: Option<&'a Vec<OriginPattern>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin_policy: Option<OriginPolicy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_ips: Option<&'a Vec<IpNet>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimit>,
}

impl<'a> PolicyView<'a> {
    pub fn of(policy: &'a Policy) -> Self {
        PolicyView {
            policy_expires_at: policy.expires_at.map(UnixMillis::to_rfc3339),
            scopes: policy.scopes.as_ref(),
            routes: policy.routes.as_ref(),
            allowed_origins: policy.allowed_origins.as_ref(),
            origin_policy: policy.origin_policy,
            allowed_ips: policy.allowed_ips.as_ref(),
            rate_limit: policy.rate_limit,
        }
    }
}

impl<'a> KeyView<'a> {
    pub fn of(record: &'a KeyRecord, last_used_at: Option<UnixMillis>) -> Self {
        let (revoked_at, revocation_reason) = match record.status {
            KeyStatus::Revoked { revoked_at, reason } => {
                (Some(revoked_at.to_rfc3339()), Some(reason))
            }
            _ => (None, None),
        };
        KeyView {
            id: record.id,
            kind: record.kind,
            label: &record.label,
            hint: &record.hint,
            status: record.status.name(),
            created_at: record.created_at.to_rfc3339(),
            // When the key stops working by itself: the end of a rotation's grace period
            // or its own expiry, whichever comes first.
            expires_at: record.ends_at().map(UnixMillis::to_rfc3339),
            revoked_at,
            revocation_reason,
            rotated_from: record.rotated_from,
            last_used_at: last_used_at.map(UnixMillis::to_rfc3339),
            suspended_at: record.suspended_at.map(UnixMillis::to_rfc3339),
            canary: record.canary,
            canary_suspends: record.canary.then_some(&record.canary_suspends),
            policy: PolicyView::of(&record.policy),
        }
    }
}

/// A newly created key, with its value: the only response that ever carries one.
#[derive(Serialize)]
pub struct CreatedKey<'a> {
    #[serde(flatten)]
    pub key: KeyView<'a>,
    pub value: &'a str,
}

/// `GET /v1/keys`
#[derive(Serialize)]
pub struct KeyList<'a> {
    pub keys: Vec<KeyView<'a>>,
}

/// `POST /v1/keys/{id}/revoke`, `…/suspend`, `…/resume`, `PATCH /v1/keys/{id}`
#[derive(Serialize)]
pub struct KeyResponse<'a> {
    pub key: KeyView<'a>,
    /// The receipt: from this instant no location accepts the key in its old state.
    /// `None` (null) while it cannot be known: in edge mode, a KV write waiting for retry.
    pub effective_at: Option<String>,
    /// The receipt, signed (JWS, `typ: aero2-receipt+jwt`): the change, its time and mode,
    /// and the `seq` and `hash` of the audit entry that records it. `None` without a
    /// signing key.
    pub receipt: Option<String>,
}

/// `POST /v1/keys`
#[derive(Serialize)]
pub struct CreatedKeyResponse<'a> {
    pub key: CreatedKey<'a>,
}

/// `POST /v1/keys/{id}/rotate`
#[derive(Serialize)]
pub struct RotationResponse<'a> {
    pub key: CreatedKey<'a>,
    pub previous_key: KeyView<'a>,
    /// The receipt: from this instant every location knows the rotation. `None` (null)
    /// while it cannot be known, as for [`KeyResponse`].
    pub effective_at: Option<String>,
    /// The receipt, signed (JWS, `typ: aero2-receipt+jwt`): the change, its time and mode,
    /// and the `seq` and `hash` of the audit entry that records it. `None` without a
    /// signing key.
    pub receipt: Option<String>,
}

#[derive(Serialize)]
pub struct ApplicationView<'a> {
    pub id: String,
    pub name: &'a str,
    pub environment: &'static str,
    pub created_at: String,
    /// In a listing: the account that owns it (absent for an application of the
    /// operator's alone).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<&'a str>,
}

impl<'a> ApplicationView<'a> {
    pub fn of(app: &'a ApplicationInfo) -> Self {
        ApplicationView {
            id: app.id.to_string(),
            name: &app.name,
            environment: match app.environment {
                aero2_keys::Environment::Live => "production",
                aero2_keys::Environment::Test => "development",
            },
            created_at: app.created_at.to_rfc3339(),
            account_id: None,
        }
    }
}

/// `POST /v1/applications`: the application and its first keys, shown once.
#[derive(Serialize)]
pub struct CreatedApplication<'a> {
    pub application: ApplicationView<'a>,
    pub keys: [CreatedKey<'a>; 2],
}

/// `GET /v1/applications`
#[derive(Serialize)]
pub struct ApplicationList<'a> {
    pub applications: Vec<ApplicationView<'a>>,
}

#[derive(Serialize)]
pub struct HourUsage {
    pub hour_start: String,
    pub requests: u64,
}

impl HourUsage {
    pub fn of(hour: u64, requests: u64) -> Self {
        HourUsage {
            hour_start: UnixMillis(hour * HOUR_MS).to_rfc3339(),
            requests,
        }
    }
}

/// `GET /v1/keys/{id}/usage`
#[derive(Serialize)]
pub struct KeyUsage {
    pub key_id: KeyId,
    pub hours: Vec<HourUsage>,
}

#[derive(Serialize)]
pub struct AuditEntryView {
    pub id: String,
    pub at: String,
    pub event: String,
    pub key_id: Option<String>,
    /// A key id, `operator` or `system`; a member, as `{"type": "member", "id", "name"}`.
    pub actor: Box<serde_json::value::RawValue>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// The entry's detail as stored: JSON the key ring wrote, passed on unparsed.
    pub detail: Box<serde_json::value::RawValue>,
    /// Held out of the hash chain while it can still change (its receipt, or its hour).
    pub pending: bool,
    /// Its place in the hash chain (1, 2, 3, …), with the previous entry's hash and its own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prev_hash: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
}

impl AuditEntryView {
    /// An actor as stored: a member is kept as JSON (an object); anything else is text.
    pub fn actor(stored: String) -> Box<serde_json::value::RawValue> {
        let json = if stored.starts_with('{') {
            stored
        } else {
            serde_json::to_string(&stored).unwrap_or_default()
        };
        serde_json::value::RawValue::from_string(json).unwrap_or_default()
    }
}

/// `GET /v1/audit_log`
#[derive(Serialize)]
pub struct AuditLog {
    pub entries: Vec<AuditEntryView>,
    pub next_cursor: Option<String>,
}

/// An empty object, for answers with nothing to say.
#[derive(Serialize)]
pub struct Empty {}

/// The `detail` of an audit entry, by event. Never a key's value.
#[derive(Serialize)]
#[serde(untagged)]
pub enum AuditDetail<'a> {
    /// `application.created`
    Application { name: &'a str },
    /// `key.created`, `key.revoked`
    Key { kind: KeyKind, label: &'a str },
    /// `key.rotated`
    Rotation {
        new_key_id: KeyId,
        grace_period_seconds: u64,
        expires_at: Option<String>,
    },
    /// `key.expired`
    Expiry {
        reason: &'static str,
        kind: KeyKind,
        label: &'a str,
        /// The instant the key stopped working: the grace period's end or its own expiry
        /// (the gate refuses it from then on by itself), the receipt's `effective_at`.
        effective_at: Option<String>,
    },
    /// `key.leaked`, `key.leak_reported`
    Leak { url: &'a str, source: &'a str },
    /// Events aggregated per key and hour (`key.secret_in_browser`, …): one entry with a
    /// count, updated in place. The entry's `ip` and `user_agent` are the first client's.
    Aggregated {
        message: &'static str,
        count: u64,
        first_seen_at: String,
        last_seen_at: String,
        last_ip: Option<&'a str>,
        last_user_agent: Option<&'a str>,
        /// `key.origin_not_allowed`: the distinct websites seen.
        #[serde(skip_serializing_if = "Option::is_none")]
        origins: Option<&'a Vec<String>>,
        /// `key.canary_used`: the last request's method and path, and its country.
        #[serde(skip_serializing_if = "Option::is_none")]
        last_request: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        last_location: Option<&'a str>,
    },
    /// `key.updated`: the fields that changed, never their values.
    Update { fields: Vec<&'static str> },
    /// `key.suspended`, `key.resumed`; `reason` and `canary_key_id` when a canary's use
    /// suspended the key.
    Suspension {
        kind: KeyKind,
        label: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<&'static str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        canary_key_id: Option<KeyId>,
    },
    /// `key.expiring_soon`, `key.grace_period_in_use`
    Reminder {
        /// `7_days`, `1_day`; `first_use`, `grace_period_ending`
        reminder: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        expires_at: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        grace_period_ends_at: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        last_used_at: Option<String>,
    },
    /// `key.forgotten`: a revoked record dropped before its retention ended, because the
    /// ring was at its bound.
    Forgotten {
        reason: &'static str,
        revoked_at: String,
    },
    /// `test.filler` (test builds only): the audit log's length for the export tests.
    #[cfg(feature = "fault-injection")]
    Filler { n: u32 },
    /// `webhook_endpoint.*`: the endpoint, and its URL's host alone (a path or query can
    /// hold a token).
    Webhook {
        endpoint_id: aero2_keys::EndpointId,
        host: String,
    },
}
