//! The public JSON shapes of the management API. Times are RFC 3339 strings in UTC.

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
            expires_at: record.expires_at().map(UnixMillis::to_rfc3339),
            revoked_at,
            revocation_reason,
            rotated_from: record.rotated_from,
            last_used_at: last_used_at.map(UnixMillis::to_rfc3339),
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

#[derive(Serialize)]
pub struct ApplicationView<'a> {
    pub id: String,
    pub name: &'a str,
    pub environment: &'static str,
    pub created_at: String,
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
        }
    }
}
