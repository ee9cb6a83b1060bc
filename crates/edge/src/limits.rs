//! Limits per client address, counted by Workers Rate Limiting bindings (per location,
//! configured in `wrangler.toml`): failed authentications at the gate and the management
//! API (`FAILED_AUTH_LIMITER`, 100 a minute by default), and operator sign-ins and
//! operator-token failures (`SIGN_IN_LIMITER`, 10 a minute).
//!
//! An address found over a limit is remembered in the isolate for the binding's period,
//! so its next attempts get 429 before any storage read or token comparison. The address
//! is the one the platform reports (`CF-Connecting-IP`), never one the client states.

use std::cell::RefCell;
use std::collections::HashMap;

use aero2_keys::http::ErrorCode;
use aero2_keys::policy::{limit_bucket, RateDecision, RateLimit, Window};
use aero2_keys::{ApplicationId, KeyId, UnixMillis};
use worker::{Env, Request};

use crate::config::{FAILED_AUTH_APP_LIMITER, FAILED_AUTH_LIMITER, SIGN_IN_LIMITER};
use crate::errors::{ApiError, ApiResult};

/// The bindings' period.
const PERIOD_SECONDS: u64 = 60;
/// Addresses remembered as blocked, at most; expired ones are dropped first.
const BLOCKED_CAP: usize = 10_000;

/// One limit: its binding, its error, and the addresses this isolate knows are over it.
#[derive(Clone, Copy)]
pub struct Limit {
    binding: &'static str,
    code: ErrorCode,
    blocked: &'static std::thread::LocalKey<RefCell<HashMap<String, UnixMillis>>>,
}

thread_local! {
    static FAILED_AUTH_BLOCKED: RefCell<HashMap<String, UnixMillis>> = RefCell::new(HashMap::new());
    static SIGN_IN_BLOCKED: RefCell<HashMap<String, UnixMillis>> = RefCell::new(HashMap::new());
}

/// Keys that fail to authenticate.
pub const FAILED_AUTH: Limit = Limit {
    binding: FAILED_AUTH_LIMITER,
    code: ErrorCode::TooManyFailedAttempts,
    blocked: &FAILED_AUTH_BLOCKED,
};

/// Sign-ins, and operator tokens that do not match.
pub const SIGN_IN: Limit = Limit {
    binding: SIGN_IN_LIMITER,
    code: ErrorCode::TooManySignInAttempts,
    blocked: &SIGN_IN_BLOCKED,
};

/// The bucket the client's address counts in ([`limit_bucket`]: an IPv6 address counts
/// with its whole /64), from the address the platform reports.
pub fn client_address(req: &Request) -> String {
    let address = req.headers().get("CF-Connecting-IP").ok().flatten();
    limit_bucket(address.as_deref().unwrap_or("unknown"))
}

/// Failed authentications per application (`FAILED_AUTH_APP_LIMITER`, 1,000 a minute):
/// past it, the application is flooded with keys that fail, from however many
/// addresses, and its keys need a KV record before its Durable Object is asked.
pub const FAILED_AUTH_APP: Limit = Limit {
    binding: FAILED_AUTH_APP_LIMITER,
    code: ErrorCode::TooManyFailedAttempts,
    blocked: &UNDER_ATTACK,
};

thread_local! {
    static UNDER_ATTACK: RefCell<HashMap<String, UnixMillis>> = RefCell::new(HashMap::new());
}

/// Whether this isolate has seen `application` go over its failure limit lately.
pub fn under_attack(application: ApplicationId, now: UnixMillis) -> bool {
    FAILED_AUTH_APP
        .refuse_if_blocked(&application.to_string(), now)
        .is_err()
}

/// Counts a failed authentication against the client's address and the key's
/// application; returns the 429 to answer with when the address is over its limit.
pub async fn count_failure(
    env: &Env,
    address: &str,
    application: ApplicationId,
    now: UnixMillis,
) -> Option<ApiError> {
    // The application's count only switches its keys to the KV check; it refuses nobody.
    let _ = FAILED_AUTH_APP
        .count(env, &application.to_string(), now)
        .await;
    FAILED_AUTH.count(env, address, now).await
}

impl Limit {
    /// 429 when this address recently went over the limit; nothing else is looked at.
    pub fn refuse_if_blocked(self, address: &str, now: UnixMillis) -> ApiResult<()> {
        let until = self
            .blocked
            .with(|blocked| blocked.borrow().get(address).copied());
        match until {
            Some(until) if now < until => Err(ApiError::retry_after(
                self.code,
                (until.0 - now.0).div_ceil(1000).max(1),
            )),
            _ => Ok(()),
        }
    }

    /// Counts an attempt; returns the 429 to answer with when the address is now over the
    /// limit (and remembers it).
    pub async fn count(self, env: &Env, address: &str, now: UnixMillis) -> Option<ApiError> {
        if within_limit(env, self.binding, address).await {
            return None;
        }
        let until = UnixMillis(now.0 + PERIOD_SECONDS * 1000);
        self.blocked.with(|blocked| {
            let mut blocked = blocked.borrow_mut();
            if blocked.len() >= BLOCKED_CAP {
                blocked.retain(|_, until| *until > now);
                if blocked.len() >= BLOCKED_CAP {
                    blocked.clear();
                }
            }
            blocked.insert(address.to_owned(), until);
        });
        Some(ApiError::retry_after(self.code, PERIOD_SECONDS))
    }
}

/// Keys' rate-limit windows in this isolate (edge mode), at most this many keys; past it
/// they start afresh.
const KEY_WINDOWS_CAP: usize = 10_000;

thread_local! {
    static KEY_WINDOWS: RefCell<HashMap<KeyId, Window>> = RefCell::new(HashMap::new());
}

/// Counts a request against a key's rate limit in this isolate. In edge mode each isolate
/// counts alone, so a key served by `n` isolates may make up to `n × requests` per
/// window: the bound README.md states. (Strict mode counts exactly, in the key ring.)
pub fn hit_key_limit(key_id: KeyId, limit: RateLimit, now: UnixMillis) -> RateDecision {
    KEY_WINDOWS.with(|windows| {
        let mut windows = windows.borrow_mut();
        if windows.len() >= KEY_WINDOWS_CAP && !windows.contains_key(&key_id) {
            windows.clear();
        }
        limit.hit(windows.entry(key_id).or_default(), now)
    })
}

/// Asks a rate-limiting binding. A missing or failing binding limits nothing (and says
/// so in the log): the limits protect storage and slow guessing, they do not
/// authenticate.
async fn within_limit(env: &Env, binding: &str, address: &str) -> bool {
    let limiter = match env.rate_limiter(binding) {
        Ok(limiter) => limiter,
        Err(_) => {
            worker::console_error!("the rate limiting binding {binding} is missing");
            return true;
        }
    };
    match limiter.limit(address.to_owned()).await {
        Ok(outcome) => outcome.success,
        Err(err) => {
            worker::console_error!("rate limiting ({binding}) failed: {err}");
            true
        }
    }
}
