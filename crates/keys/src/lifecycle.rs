//! The key lifecycle: a pure state machine over key records.
//!
//! ```text
//!             rotate (grace > 0)              now >= expires_at (expire)
//!   Active ───────────────────────► Expiring ─────────────────────────► Revoked
//!     │  └── rotate (grace = 0) ──────────────────────────────────────►   ▲
//!     └──────────────────────────── revoke ───────────────────────────────┘
//!                                  (also from Expiring)
//! ```
//!
//! Time is always an argument. A key is valid while it is active, and while it is
//! expiring strictly before `expires_at`: one millisecond before is valid, the instant
//! itself is not.

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use crate::format::{ApiKey, ApplicationId, Environment, KeyId, KeyKind};
use crate::policy::{Policy, PolicyError, Scope};
use crate::random::{RandomError, RandomSource};
use crate::storage::StorageId;
use crate::time::UnixMillis;

/// How long a rotated key keeps working. 24 hours unless the caller chooses otherwise;
/// anything from 0 (revoke at once) to 7 days.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u64", into = "u64")]
pub struct GracePeriod {
    seconds: u32,
}

impl GracePeriod {
    pub const MAX_SECONDS: u64 = 7 * 24 * 60 * 60;
    pub const DEFAULT: GracePeriod = GracePeriod {
        seconds: 24 * 60 * 60,
    };
    pub const NONE: GracePeriod = GracePeriod { seconds: 0 };

    pub fn from_seconds(seconds: u64) -> Result<Self, LifecycleError> {
        if seconds > Self::MAX_SECONDS {
            return Err(LifecycleError::GracePeriodOutOfRange { seconds });
        }
        Ok(GracePeriod {
            seconds: seconds as u32,
        })
    }

    pub const fn seconds(self) -> u64 {
        self.seconds as u64
    }
}

impl Default for GracePeriod {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl TryFrom<u64> for GracePeriod {
    type Error = LifecycleError;
    fn try_from(seconds: u64) -> Result<Self, Self::Error> {
        Self::from_seconds(seconds)
    }
}

impl From<GracePeriod> for u64 {
    fn from(grace: GracePeriod) -> u64 {
        grace.seconds()
    }
}

/// Why a key stopped working.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevocationReason {
    /// An operator or API client revoked it.
    Revoked,
    /// It was rotated with a grace period of zero.
    Rotated,
    /// Its rotation grace period ended.
    GraceExpired,
    /// It was reported as exposed in public, for example by a secret scanner.
    Leaked,
    /// It reached the `expires_at` of its policy.
    Expired,
}

/// Where a key is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum KeyStatus {
    Active,
    /// Replaced by a rotation; works until `expires_at` (exclusive).
    Expiring {
        expires_at: UnixMillis,
    },
    Revoked {
        revoked_at: UnixMillis,
        reason: RevocationReason,
    },
}

impl KeyStatus {
    pub const fn is_revoked(&self) -> bool {
        matches!(self, KeyStatus::Revoked { .. })
    }

    /// `active`, `expiring` or `revoked`, as the API reports it.
    pub const fn name(&self) -> &'static str {
        match self {
            KeyStatus::Active => "active",
            KeyStatus::Expiring { .. } => "expiring",
            KeyStatus::Revoked { .. } => "revoked",
        }
    }
}

/// The fields that a flattened [`KeyStatus`] writes into the record holding it (`"status":
/// "revoked", "revoked_at": …, "reason": …`), read back into it. Records that hold a status
/// read these fields by name (`#[serde(try_from)]`) instead of through `#[serde(flatten)]`,
/// which buffers the whole record into serde's `Content` first and compiles every field's
/// deserializer a second time (measured: a few KB of the control plane's gzipped wasm).
#[derive(Clone, Copy, Debug)]
pub(crate) struct StatusFields {
    pub(crate) status: StatusName,
    pub(crate) expires_at: Option<UnixMillis>,
    pub(crate) revoked_at: Option<UnixMillis>,
    pub(crate) reason: Option<RevocationReason>,
}

#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum StatusName {
    Active,
    Expiring,
    Revoked,
}

impl StatusFields {
    /// The status they describe, or why they describe none.
    pub(crate) fn status(self) -> Result<KeyStatus, &'static str> {
        match (self.status, self.expires_at, self.revoked_at, self.reason) {
            (StatusName::Active, ..) => Ok(KeyStatus::Active),
            (StatusName::Expiring, Some(expires_at), ..) => Ok(KeyStatus::Expiring { expires_at }),
            (StatusName::Revoked, _, Some(revoked_at), Some(reason)) => {
                Ok(KeyStatus::Revoked { revoked_at, reason })
            }
            (StatusName::Expiring, None, ..) => Err("an expiring key needs expires_at"),
            (StatusName::Revoked, ..) => Err("a revoked key needs revoked_at and reason"),
        }
    }
}

/// A [`KeyRecord`] as stored: the status's fields among the others.
#[derive(Deserialize)]
struct StoredKeyRecord {
    id: KeyId,
    kind: KeyKind,
    label: String,
    hint: String,
    storage_id: StorageId,
    created_at: UnixMillis,
    status: StatusName,
    #[serde(default)]
    expires_at: Option<UnixMillis>,
    #[serde(default)]
    revoked_at: Option<UnixMillis>,
    #[serde(default)]
    reason: Option<RevocationReason>,
    rotated_from: Option<KeyId>,
    #[serde(default)]
    policy: Policy,
    #[serde(default)]
    suspended_at: Option<UnixMillis>,
    #[serde(default)]
    canary: bool,
    #[serde(default)]
    canary_suspends: Vec<KeyId>,
}

impl TryFrom<StoredKeyRecord> for KeyRecord {
    type Error = &'static str;

    fn try_from(stored: StoredKeyRecord) -> Result<Self, Self::Error> {
        let status = StatusFields {
            status: stored.status,
            expires_at: stored.expires_at,
            revoked_at: stored.revoked_at,
            reason: stored.reason,
        }
        .status()?;
        Ok(KeyRecord {
            id: stored.id,
            kind: stored.kind,
            label: stored.label,
            hint: stored.hint,
            storage_id: stored.storage_id,
            created_at: stored.created_at,
            status,
            rotated_from: stored.rotated_from,
            policy: stored.policy,
            suspended_at: stored.suspended_at,
            canary: stored.canary,
            canary_suspends: stored.canary_suspends,
        })
    }
}

/// Everything kept about a key. It holds the key's hash and hint, never its value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "StoredKeyRecord")]
pub struct KeyRecord {
    pub id: KeyId,
    pub kind: KeyKind,
    pub label: String,
    /// The prefix and last 4 characters, for display.
    pub hint: String,
    pub storage_id: StorageId,
    pub created_at: UnixMillis,
    #[serde(flatten)]
    pub status: KeyStatus,
    /// The key this one replaced, when it was created by a rotation.
    pub rotated_from: Option<KeyId>,
    /// Its restrictions; empty for a key without any.
    #[serde(default, skip_serializing_if = "Policy::is_empty")]
    pub policy: Policy,
    /// Set while the key is suspended: refused until resumed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspended_at: Option<UnixMillis>,
    /// A canary: a decoy secret key, planted to be stolen. It is refused as an unknown key
    /// is, and its use is recorded (`key.canary_used`) and suspends `canary_suspends`.
    #[serde(default, skip_serializing_if = "core::ops::Not::not")]
    pub canary: bool,
    /// The keys a canary's use suspends at once.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub canary_suspends: Vec<KeyId>,
}

impl KeyRecord {
    fn new(id: KeyId, key: &ApiKey, label: String, policy: Policy, now: UnixMillis) -> Self {
        KeyRecord {
            id,
            kind: key.kind(),
            label,
            hint: key.hint(),
            storage_id: key.storage_id(),
            created_at: now,
            status: KeyStatus::Active,
            rotated_from: None,
            policy,
            suspended_at: None,
            canary: false,
            canary_suspends: Vec::new(),
        }
    }

    /// A secret key that can manage the application's keys: active, not suspended, not
    /// past its own `expires_at`, and with `keys:write`. The application must always keep
    /// one, or nobody but the operator could manage its keys again. A key past its
    /// `expires_at` stays `active` until the alarm revokes it, but the gate already refuses
    /// it, so it is no substitute. (A key that expires later still counts: the application
    /// is warned with `key.expiring_soon`, and may choose to run on expiring keys only.)
    fn can_manage_keys(&self, now: UnixMillis) -> bool {
        !self.canary
            && self.kind == KeyKind::Secret
            && self.status == KeyStatus::Active
            && self.suspended_at.is_none()
            && self.policy.expires_at.is_none_or(|end| end > now)
            && self.policy.scopes().contains(Scope::KeysWrite)
    }

    /// The instant this key stops (or stopped) being valid, if that is known.
    pub fn expires_at(&self) -> Option<UnixMillis> {
        match self.status {
            KeyStatus::Expiring { expires_at } => Some(expires_at),
            _ => None,
        }
    }

    /// Revokes the key now. Allowed from active and expiring; a second revoke is an error.
    pub fn revoke(
        &mut self,
        now: UnixMillis,
        reason: RevocationReason,
    ) -> Result<(), LifecycleError> {
        if self.status.is_revoked() {
            return Err(LifecycleError::AlreadyRevoked);
        }
        self.status = KeyStatus::Revoked {
            revoked_at: now,
            reason,
        };
        Ok(())
    }

    /// Starts this key's grace period; with a zero grace period it is revoked at once.
    fn retire(&mut self, now: UnixMillis, grace: GracePeriod) -> Result<(), LifecycleError> {
        match self.status {
            KeyStatus::Active => {}
            KeyStatus::Expiring { .. } => return Err(LifecycleError::AlreadyRotating),
            KeyStatus::Revoked { .. } => return Err(LifecycleError::RotateRevoked),
        }
        self.status = if grace.seconds() == 0 {
            KeyStatus::Revoked {
                revoked_at: now,
                reason: RevocationReason::Rotated,
            }
        } else {
            KeyStatus::Expiring {
                expires_at: now.saturating_add_seconds(grace.seconds()),
            }
        };
        Ok(())
    }

    /// Revokes a key whose grace period or own expiry has passed. Returns whether it
    /// changed. The revocation is dated at the instant the key stopped working, even when
    /// this runs late; whichever came first decides the reason.
    pub fn expire(&mut self, now: UnixMillis) -> bool {
        let grace_end = match self.status {
            KeyStatus::Expiring { expires_at } => Some(expires_at),
            KeyStatus::Active => None,
            KeyStatus::Revoked { .. } => return false,
        };
        let ends = [
            (grace_end, RevocationReason::GraceExpired),
            (self.policy.expires_at, RevocationReason::Expired),
        ];
        let Some((at, reason)) = ends
            .into_iter()
            .filter_map(|(at, reason)| at.filter(|at| *at <= now).map(|at| (at, reason)))
            .min_by_key(|(at, _)| *at)
        else {
            return false;
        };
        self.status = KeyStatus::Revoked {
            revoked_at: at,
            reason,
        };
        true
    }

    /// When this key stops working by itself (a grace period or its own expiry).
    pub fn ends_at(&self) -> Option<UnixMillis> {
        if self.status.is_revoked() {
            return None;
        }
        [self.expires_at(), self.policy.expires_at]
            .into_iter()
            .flatten()
            .min()
    }
}

/// Why a lifecycle operation was refused. Nothing changes when one is returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LifecycleError {
    KeyNotFound,
    AlreadyRevoked,
    /// The key is already in a rotation grace period; rotate its replacement instead.
    AlreadyRotating,
    /// A revoked key cannot be rotated; create a new key instead.
    RotateRevoked,
    /// Revoking this key would leave the application without an active secret key.
    LastActiveSecretKey,
    GracePeriodOutOfRange {
        seconds: u64,
    },
    InvalidLabel,
    /// The application already has [`KeyRing::MAX_LIVE_KEYS`] keys that are not revoked.
    TooManyKeys,
    AlreadySuspended,
    NotSuspended,
    InvalidPolicy(PolicyError),
    Random(RandomError),
    /// A canary cannot be rotated (nothing should keep working with it).
    RotateCanary,
}

impl core::error::Error for LifecycleError {}

impl From<RandomError> for LifecycleError {
    fn from(err: RandomError) -> Self {
        LifecycleError::Random(err)
    }
}

/// Text a person names something with (a key's label, an application's name): at most
/// `max_chars` characters as sent, no control characters, and not blank. Returned trimmed.
/// `None` otherwise. (`/openapi.json` states the same rule as a pattern; the length is
/// counted before trimming, as JSON Schema's `maxLength` counts it.)
pub(crate) fn clean_text(text: &str, max_chars: usize) -> Option<&str> {
    let acceptable = text.chars().count() <= max_chars
        && !text.chars().any(|c| c.is_control() || is_invisible(c));
    let trimmed = text.trim();
    (acceptable && !trimmed.is_empty()).then_some(trimmed)
}

/// Format characters and separators that reorder or hide text (`U+202E` right-to-left
/// override, zero-width spaces, line and paragraph separators): a label with them can show
/// something other than what it says.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
    )
}

/// The outcome of a rotation: the new key (its value is shown once) and both records as
/// they now stand.
#[derive(Debug)]
pub struct Rotation {
    pub new_key: ApiKey,
    pub new_record: KeyRecord,
    pub old_record: KeyRecord,
}

/// All the keys of one application, and the rules that span them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRing {
    pub application_id: ApplicationId,
    pub environment: Environment,
    keys: Vec<KeyRecord>,
}

impl KeyRing {
    /// Keys that are not revoked, per application. A bound keeps one application's
    /// Durable Object and KV footprint small whatever its clients do.
    pub const MAX_LIVE_KEYS: usize = 100;
    /// Records kept, live and revoked together. Revoked records stay for
    /// `REVOKED_KEY_RETENTION_DAYS` (the key list and the edge can then say "revoked"), but
    /// create-and-revoke loops would otherwise leave any number of them, and every strict
    /// validation, lease grant and cold load carries the whole ring. Past this bound the
    /// oldest revoked records are dropped early ([`KeyRing::forget_beyond_bound`]).
    pub const MAX_RECORDS: usize = 1_000;
    pub const MAX_LABEL_CHARS: usize = 100;

    pub fn new(application_id: ApplicationId, environment: Environment) -> Self {
        Self::from_records(application_id, environment, Vec::new())
    }

    /// Rebuilds a ring from stored records, in creation order.
    pub fn from_records(
        application_id: ApplicationId,
        environment: Environment,
        keys: Vec<KeyRecord>,
    ) -> Self {
        KeyRing {
            application_id,
            environment,
            keys,
        }
    }

    pub fn keys(&self) -> &[KeyRecord] {
        &self.keys
    }

    pub fn get(&self, id: KeyId) -> Option<&KeyRecord> {
        self.keys.iter().find(|record| record.id == id)
    }

    /// Finds a key by its storage id, comparing every candidate in constant time.
    pub fn find_by_storage_id(&self, storage_id: &StorageId) -> Option<&KeyRecord> {
        self.keys
            .iter()
            .find(|record| record.storage_id == *storage_id)
    }

    fn index_of(&self, id: KeyId) -> Result<usize, LifecycleError> {
        self.keys
            .iter()
            .position(|record| record.id == id)
            .ok_or(LifecycleError::KeyNotFound)
    }

    fn live_keys(&self) -> usize {
        self.keys
            .iter()
            .filter(|record| !record.status.is_revoked())
            .count()
    }

    fn normalize_label(label: &str) -> Result<String, LifecycleError> {
        clean_text(label, Self::MAX_LABEL_CHARS)
            .map(str::to_owned)
            .ok_or(LifecycleError::InvalidLabel)
    }

    fn new_key(
        &self,
        kind: KeyKind,
        label: String,
        policy: Policy,
        now: UnixMillis,
        rng: &mut impl RandomSource,
    ) -> Result<(ApiKey, KeyRecord), LifecycleError> {
        let key = ApiKey::generate(kind, self.environment, self.application_id, rng)?;
        let record = KeyRecord::new(KeyId::generate(rng)?, &key, label, policy, now);
        Ok((key, record))
    }

    /// Creates a canary: a secret key that looks like any other and is refused as an
    /// unknown key; its use suspends `suspends` (each checked by the caller: the keys
    /// within the creating key's reach).
    pub fn create_canary(
        &mut self,
        label: &str,
        suspends: Vec<KeyId>,
        now: UnixMillis,
        rng: &mut impl RandomSource,
    ) -> Result<(ApiKey, KeyRecord), LifecycleError> {
        let (key, record) = self.create(KeyKind::Secret, label, Policy::default(), now, rng)?;
        let canary = KeyRecord {
            canary: true,
            canary_suspends: suspends,
            ..record
        };
        if let Some(last) = self.keys.last_mut() {
            *last = canary.clone();
        }
        Ok((key, canary))
    }

    /// Creates an active key with a policy (checked against its kind and `now`). Its value
    /// is returned once and not kept.
    pub fn create(
        &mut self,
        kind: KeyKind,
        label: &str,
        policy: Policy,
        now: UnixMillis,
        rng: &mut impl RandomSource,
    ) -> Result<(ApiKey, KeyRecord), LifecycleError> {
        let label = Self::normalize_label(label)?;
        policy
            .validate(kind, now)
            .map_err(LifecycleError::InvalidPolicy)?;
        if self.live_keys() >= Self::MAX_LIVE_KEYS {
            return Err(LifecycleError::TooManyKeys);
        }
        let (key, record) = self.new_key(kind, label, policy, now, rng)?;
        self.keys.push(record.clone());
        Ok((key, record))
    }

    /// Revokes a key at once. Revoking the last active secret key is refused, unless the
    /// key has leaked: then locking the application out is the lesser harm.
    pub fn revoke(
        &mut self,
        id: KeyId,
        now: UnixMillis,
        reason: RevocationReason,
    ) -> Result<KeyRecord, LifecycleError> {
        let index = self.index_of(id)?;
        let record = &self.keys[index];
        if record.status.is_revoked() {
            return Err(LifecycleError::AlreadyRevoked);
        }
        if reason != RevocationReason::Leaked && self.is_last_key_manager(record, now) {
            return Err(LifecycleError::LastActiveSecretKey);
        }
        let record = &mut self.keys[index];
        record.revoke(now, reason)?;
        Ok(record.clone())
    }

    /// Replaces an active key: the new key works at once, the old one until the grace
    /// period ends (or not at all, with a zero grace period).
    pub fn rotate(
        &mut self,
        id: KeyId,
        now: UnixMillis,
        grace: GracePeriod,
        rng: &mut impl RandomSource,
    ) -> Result<Rotation, LifecycleError> {
        if self.get(id).is_some_and(|record| record.canary) {
            return Err(LifecycleError::RotateCanary);
        }
        let index = self.index_of(id)?;
        // Validate on a copy first, so that a refused rotation changes nothing.
        let mut old_record = self.keys[index].clone();
        old_record.retire(now, grace)?;
        // The old key stays live through its grace period, so it still counts.
        let old_still_live = usize::from(matches!(old_record.status, KeyStatus::Expiring { .. }));
        if self.live_keys() - 1 + old_still_live >= Self::MAX_LIVE_KEYS {
            return Err(LifecycleError::TooManyKeys);
        }
        // The new key takes the old one's label and restrictions, not its suspension.
        let (new_key, mut new_record) = self.new_key(
            old_record.kind,
            old_record.label.clone(),
            old_record.policy.clone(),
            now,
            rng,
        )?;
        new_record.rotated_from = Some(old_record.id);
        self.keys[index] = old_record.clone();
        self.keys.push(new_record.clone());
        Ok(Rotation {
            new_key,
            new_record,
            old_record,
        })
    }

    /// Revokes every expiring key whose grace period has ended, returning the changed
    /// records.
    pub fn expire_due(&mut self, now: UnixMillis) -> Vec<KeyRecord> {
        self.keys
            .iter_mut()
            .filter_map(|record| record.expire(now).then(|| record.clone()))
            .collect()
    }

    /// Removes keys revoked before `cutoff`, returning them, so that create-and-revoke
    /// loops cannot grow the ring (and slow validation) without bound. Their audit
    /// entries are kept elsewhere.
    pub fn forget_revoked_before(&mut self, cutoff: UnixMillis) -> Vec<KeyRecord> {
        let (forgotten, kept) = core::mem::take(&mut self.keys).into_iter().partition(|record| {
            matches!(record.status, KeyStatus::Revoked { revoked_at, .. } if revoked_at < cutoff)
        });
        self.keys = kept;
        forgotten
    }

    /// Drops the oldest revoked records while the ring holds more than
    /// [`Self::MAX_RECORDS`], returning them (for the audit log, which notes each). Live
    /// keys are never dropped: at most [`Self::MAX_LIVE_KEYS`] of them exist, so there are
    /// always enough revoked records to drop.
    pub fn forget_beyond_bound(&mut self) -> Vec<KeyRecord> {
        let excess = self.keys.len().saturating_sub(Self::MAX_RECORDS);
        if excess == 0 {
            return Vec::new();
        }
        let mut revoked: Vec<(UnixMillis, KeyId)> = self
            .keys
            .iter()
            .filter_map(|record| match record.status {
                KeyStatus::Revoked { revoked_at, .. } => Some((revoked_at, record.id)),
                _ => None,
            })
            .collect();
        revoked.sort_unstable();
        revoked.truncate(excess);
        let (forgotten, kept) = core::mem::take(&mut self.keys)
            .into_iter()
            .partition(|record| revoked.iter().any(|(_, id)| *id == record.id));
        self.keys = kept;
        forgotten
    }

    /// The earliest instant a key stops working by itself (a grace period ends, or a key
    /// reaches its own `expires_at`), for scheduling an alarm.
    pub fn next_expiry(&self) -> Option<UnixMillis> {
        self.keys.iter().filter_map(KeyRecord::ends_at).min()
    }

    /// Whether `record` is the only key that can still manage the application's keys
    /// ([`KeyRecord::can_manage_keys`]): revoking, suspending or narrowing it would lock
    /// the application out.
    fn is_last_key_manager(&self, record: &KeyRecord, now: UnixMillis) -> bool {
        record.can_manage_keys(now)
            && !self
                .keys
                .iter()
                .any(|other| other.id != record.id && other.can_manage_keys(now))
    }

    /// Changes a key's label and policy; its kind never changes. Returns the record before
    /// and after.
    pub fn update(
        &mut self,
        id: KeyId,
        label: Option<&str>,
        policy: Policy,
        now: UnixMillis,
    ) -> Result<(KeyRecord, KeyRecord), LifecycleError> {
        let index = self.index_of(id)?;
        let before = self.keys[index].clone();
        if before.status.is_revoked() {
            return Err(LifecycleError::AlreadyRevoked);
        }
        let label = label.map(Self::normalize_label).transpose()?;
        policy
            .validate(before.kind, now)
            .map_err(LifecycleError::InvalidPolicy)?;
        let mut after = before.clone();
        after.policy = policy.clone();
        if self.is_last_key_manager(&before, now) && !after.can_manage_keys(now) {
            return Err(LifecycleError::LastActiveSecretKey);
        }
        let record = &mut self.keys[index];
        if let Some(label) = label {
            record.label = label;
        }
        record.policy = policy;
        Ok((before, record.clone()))
    }

    /// Suspends a key: refused until resumed, nothing else lost. Suspending the last
    /// usable secret key is refused, as revoking it is.
    pub fn suspend(&mut self, id: KeyId, now: UnixMillis) -> Result<KeyRecord, LifecycleError> {
        let index = self.index_of(id)?;
        let record = &self.keys[index];
        if record.status.is_revoked() {
            return Err(LifecycleError::AlreadyRevoked);
        }
        if record.suspended_at.is_some() {
            return Err(LifecycleError::AlreadySuspended);
        }
        if self.is_last_key_manager(record, now) {
            return Err(LifecycleError::LastActiveSecretKey);
        }
        let record = &mut self.keys[index];
        record.suspended_at = Some(now);
        Ok(record.clone())
    }

    /// A canary was used: suspends each key it names that is still live and not suspended
    /// already, and returns them. The last key that can manage keys is suspended too, as a
    /// leaked key is revoked: after a breach, locking the application's keys out is the
    /// lesser harm (its members can resume them).
    pub fn suspend_for_canary(&mut self, canary: KeyId, now: UnixMillis) -> Vec<KeyRecord> {
        let Some(targets) = self
            .get(canary)
            // Armed: a canary its owners revoked or suspended suspends nothing.
            .filter(|record| {
                record.canary && record.status == KeyStatus::Active && record.suspended_at.is_none()
            })
            .map(|record| record.canary_suspends.clone())
        else {
            return Vec::new();
        };
        let mut suspended = Vec::new();
        for record in &mut self.keys {
            if targets.contains(&record.id)
                && !record.canary
                && !record.status.is_revoked()
                && record.suspended_at.is_none()
            {
                record.suspended_at = Some(now);
                suspended.push(record.clone());
            }
        }
        suspended
    }

    pub fn resume(&mut self, id: KeyId) -> Result<KeyRecord, LifecycleError> {
        let index = self.index_of(id)?;
        let record = &mut self.keys[index];
        if record.status.is_revoked() {
            return Err(LifecycleError::AlreadyRevoked);
        }
        if record.suspended_at.take().is_none() {
            return Err(LifecycleError::NotSuspended);
        }
        Ok(record.clone())
    }
}
