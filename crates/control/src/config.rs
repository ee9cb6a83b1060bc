//! Every setting the worker reads: `wrangler.toml` `[vars]` and secrets, with safe
//! defaults. Nothing else in the worker calls `env.var` or `env.secret`.

use std::cell::OnceCell;
use std::rc::Rc;

use aero2_accounts::webauthn::RelyingParty;
use aero2_keys::gate::FrontendRoutes;
use aero2_keys::policy::TokenBucket;
use aero2_keys::webhooks::delivery::RetryPolicy;
use aero2_keys::webhooks::reminders::ReminderSettings;
use aero2_keys::webhooks::signing::MasterSecret;
use aero2_keys::{GracePeriod, KeyKind};
use worker::Env;

use crate::assertion::{previous_public_keys, PublicJwk, SigningKey};

/// The bindings, by name.
pub const KV_BINDING: &str = "KEYS";
pub const KEY_RING_BINDING: &str = "KEY_RING";
pub const REGISTRY_BINDING: &str = "REGISTRY";
/// Regional mode's validation replicas.
pub const REPLICA_BINDING: &str = "REPLICA";

/// How a key kind is validated at the gate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValidationMode {
    /// Ask the application's Durable Object, which holds the authoritative status in
    /// memory: a revocation applies to the very next request, everywhere.
    Strict,
    /// Trust the Workers KV record alone: no Durable Object round trip, but a revocation
    /// can take as long as KV's propagation delay to reach every location.
    Edge,
    /// Ask the application's replica in the gate's own region, which holds the records in
    /// memory under a lease and is pushed every change: a regional round trip, and a
    /// revocation reaches every replica before the API answers (or at the lease's end for
    /// one that cannot be reached).
    Regional,
}

/// Regional mode's settings.
#[derive(Clone, Copy, Debug)]
pub struct RegionalSettings {
    /// A replica's lease (`REGIONAL_LEASE_SECONDS`, default 30).
    pub lease_ms: u64,
    /// Replicas per region (`REGIONAL_SHARDS`, default 1).
    pub shards: u8,
    /// How long before its lease ends a replica stops answering from memory
    /// (`REGIONAL_CLOCK_MARGIN_MS`, default 2000): the clock skew allowed between two
    /// Durable Objects.
    pub clock_margin_ms: u64,
    /// How long the key ring waits for a replica to acknowledge a push
    /// (`REGIONAL_PUSH_TIMEOUT_MS`, default 2000).
    pub push_timeout_ms: u64,
}

pub struct Config {
    /// The `iss` of assertions, checkpoints and receipts (`ASSERTION_ISSUER`); unset: the
    /// request's own origin.
    pub assertion_issuer: Option<String>,
    /// The dashboard's origin (`DASHBOARD_ORIGIN`), the passkeys' relying party: unset or
    /// unusable (an IP address, a path), and passkeys are off (503 `passkeys_not_configured`).
    pub relying_party: Option<RelyingParty>,
    pub frontend_routes: FrontendRoutes,
    pub secret_mode: ValidationMode,
    pub publishable_mode: ValidationMode,
    /// The grace period of a rotation that names none.
    pub default_grace_period: GracePeriod,
    /// The operator token; `None` when unset or shorter than 16 characters.
    pub admin_token: Option<String>,
    /// GitHub's secret-scanning public keys, as the JSON GitHub publishes.
    pub github_secret_scanning_keys: String,
    /// The gate's signing key (`ORIGIN_SIGNING_KEY`), whose public half
    /// `/.well-known/jwks.json` publishes; `None` when unset or invalid.
    pub signing_key: Option<SigningKey>,
    /// Public keys still published after a signing-key rotation.
    pub previous_public_keys: Vec<PublicJwk>,
    /// Audit entries older than this are deleted.
    pub audit_retention_days: u64,
    /// Revoked keys leave the key ring (their audit entries stay) after this.
    pub revoked_key_retention_days: u64,
    /// Webhooks: the master secret every endpoint secret is derived from (`WEBHOOK_SECRET`,
    /// base64 of at least 32 bytes); `None` when unset or invalid, and then no endpoint can
    /// be created.
    pub webhook_secret: Option<MasterSecret>,
    /// `WEBHOOK_ALLOW_HTTP=true`: local development, where endpoints may be `http` and on
    /// local addresses.
    pub webhook_allow_http: bool,
    /// How long a delivery waits for an answer (`WEBHOOK_TIMEOUT_MS`, default 10 s).
    pub webhook_timeout_ms: u64,
    /// Retries and when a failing endpoint is disabled (`WEBHOOK_FIRST_RETRY_MS`,
    /// `WEBHOOK_MAX_RETRY_MS`, `WEBHOOK_DISABLE_AFTER_SECONDS`; defaults 5 s, 1 h, 3 days).
    pub webhook_retry: RetryPolicy,
    /// When `key.grace_period_in_use` warns before a grace period ends
    /// (`WEBHOOK_GRACE_WARNING_SECONDS`, default 3600).
    pub reminders: ReminderSettings,
    pub regional: RegionalSettings,
    /// Edge mode: how long an isolate reuses a key's KV record (`EDGE_CACHE_SECONDS`,
    /// default 5; 0 turns it off). It adds to edge mode's revocation bound.
    pub edge_cache_ms: u64,
    /// Management changes one application may make (`MANAGEMENT_WRITES_PER_MINUTE`, default
    /// 60, and `MANAGEMENT_WRITE_BURST`, default 60 at once), counted by its key ring.
    pub management_writes: TokenBucket,
}

thread_local! {
    /// Vars and secrets are fixed for an isolate's lifetime, so they are read once per
    /// isolate rather than on every request.
    static CACHED: OnceCell<Rc<Config>> = const { OnceCell::new() };
}

/// A whole number of days, from 1 to 100 years; `default` when unset or invalid.
fn days(env: &Env, name: &str, default: u64) -> u64 {
    number(env, name, 1..=36_500, default)
}

/// A setting given in seconds (`range`), in milliseconds; `default_ms` when unset or out of
/// range.
fn seconds_in_ms(
    env: &Env,
    name: &str,
    range: std::ops::RangeInclusive<u64>,
    default_ms: u64,
) -> u64 {
    number(env, name, range, default_ms / 1000) * 1000
}

/// A whole number within `range`; `default` when unset or out of range.
fn number(env: &Env, name: &str, range: std::ops::RangeInclusive<u64>, default: u64) -> u64 {
    setting(env, name)
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|value| range.contains(value))
        .unwrap_or(default)
}

/// A var or secret, trimmed; `None` when unset or blank.
fn setting(env: &Env, name: &str) -> Option<String> {
    env.secret(name)
        .map(|s| s.to_string())
        .or_else(|_| env.var(name).map(|v| v.to_string()))
        .ok()
        .map(|value| value.trim().to_owned())
        .filter(|value| !value.is_empty())
}

impl Config {
    pub fn cached(env: &Env) -> Rc<Config> {
        CACHED.with(|cell| cell.get_or_init(|| Rc::new(Config::from_env(env))).clone())
    }

    fn from_env(env: &Env) -> Self {
        let mode = |name| match setting(env, name).as_deref() {
            Some("edge") => ValidationMode::Edge,
            Some("regional") => ValidationMode::Regional,
            _ => ValidationMode::Strict,
        };
        Config {
            assertion_issuer: setting(env, "ASSERTION_ISSUER").filter(|issuer| !issuer.is_empty()),
            relying_party: setting(env, "DASHBOARD_ORIGIN")
                .filter(|origin| !origin.is_empty())
                .and_then(|origin| {
                    RelyingParty::from_origin(&origin, "Aero2 Keys")
                        .map_err(|why| worker::console_error!("DASHBOARD_ORIGIN is unusable: {why}"))
                        .ok()
                }),
            frontend_routes: setting(env, "FRONTEND_ROUTES")
                .map(|routes| FrontendRoutes::parse(&routes))
                .unwrap_or_default(),
            secret_mode: mode("SECRET_KEY_VALIDATION"),
            publishable_mode: mode("PUBLISHABLE_KEY_VALIDATION"),
            // Out-of-range values fall back to the 24-hour default.
            default_grace_period: setting(env, "DEFAULT_GRACE_PERIOD_SECONDS")
                .and_then(|v| v.parse::<u64>().ok())
                .and_then(|seconds| GracePeriod::from_seconds(seconds).ok())
                .unwrap_or_default(),
            // Tokens shorter than 16 characters are treated as unset, so a careless value
            // cannot open the operator API.
            admin_token: setting(env, "ADMIN_TOKEN").filter(|token| token.len() >= 16),
            github_secret_scanning_keys: setting(env, "GITHUB_SECRET_SCANNING_KEYS")
                .unwrap_or_else(|| "[]".to_owned()),
            signing_key: setting(env, "ORIGIN_SIGNING_KEY").and_then(|jwk| {
                SigningKey::from_jwk(&jwk)
                    .map_err(|why| worker::console_error!("ORIGIN_SIGNING_KEY is unusable: {why}"))
                    .ok()
            }),
            previous_public_keys: previous_public_keys(
                setting(env, "ORIGIN_PREVIOUS_PUBLIC_KEYS").as_deref(),
            ),
            audit_retention_days: days(env, "AUDIT_RETENTION_DAYS", 400),
            revoked_key_retention_days: days(env, "REVOKED_KEY_RETENTION_DAYS", 30),
            webhook_secret: setting(env, "WEBHOOK_SECRET").and_then(|secret| {
                let master = MasterSecret::from_base64(&secret);
                if master.is_none() {
                    worker::console_error!(
                        "WEBHOOK_SECRET is unusable: it must be the base64 of at least 32 random bytes"
                    );
                }
                master
            }),
            webhook_allow_http: setting(env, "WEBHOOK_ALLOW_HTTP").as_deref() == Some("true"),
            webhook_timeout_ms: number(env, "WEBHOOK_TIMEOUT_MS", 100..=30_000, 10_000),
            webhook_retry: RetryPolicy {
                first_retry_ms: number(
                    env,
                    "WEBHOOK_FIRST_RETRY_MS",
                    100..=3_600_000,
                    RetryPolicy::DEFAULT.first_retry_ms,
                ),
                max_retry_ms: number(
                    env,
                    "WEBHOOK_MAX_RETRY_MS",
                    100..=86_400_000,
                    RetryPolicy::DEFAULT.max_retry_ms,
                ),
                disable_after_ms: seconds_in_ms(
                    env,
                    "WEBHOOK_DISABLE_AFTER_SECONDS",
                    1..=30 * 86_400,
                    RetryPolicy::DEFAULT.disable_after_ms,
                ),
            },
            reminders: ReminderSettings {
                grace_warning_ms: seconds_in_ms(
                    env,
                    "WEBHOOK_GRACE_WARNING_SECONDS",
                    1..=7 * 86_400,
                    ReminderSettings::DEFAULT.grace_warning_ms,
                ),
            },
            regional: RegionalSettings {
                lease_ms: seconds_in_ms(env, "REGIONAL_LEASE_SECONDS", 2..=600, 30_000),
                shards: number(env, "REGIONAL_SHARDS", 1..=16, 1) as u8,
                clock_margin_ms: number(env, "REGIONAL_CLOCK_MARGIN_MS", 0..=10_000, 2_000),
                push_timeout_ms: number(env, "REGIONAL_PUSH_TIMEOUT_MS", 100..=10_000, 2_000),
            },
            edge_cache_ms: seconds_in_ms(env, "EDGE_CACHE_SECONDS", 0..=60, 5_000),
            management_writes: TokenBucket {
                per_minute: number(env, "MANAGEMENT_WRITES_PER_MINUTE", 1..=1_000_000, 60) as u32,
                burst: number(env, "MANAGEMENT_WRITE_BURST", 1..=1_000_000, 60) as u32,
            },
        }
    }

    pub fn mode(&self, kind: KeyKind) -> ValidationMode {
        match kind {
            KeyKind::Secret => self.secret_mode,
            KeyKind::Publishable => self.publishable_mode,
        }
    }
}
