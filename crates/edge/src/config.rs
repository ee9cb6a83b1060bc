//! Settings from `wrangler.toml` `[vars]` and secrets, with safe defaults.

use aero2_keys::gate::FrontendRoutes;
use aero2_keys::{GracePeriod, KeyKind};
use worker::Env;

/// How a key kind is validated at the gate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValidationMode {
    /// Ask the application's Durable Object, which holds the authoritative status in
    /// memory: a revocation applies to the very next request, everywhere.
    Strict,
    /// Trust the Workers KV record alone: no Durable Object round trip, but a revocation
    /// can take as long as KV's propagation delay to reach every location.
    Edge,
}

pub struct Config {
    pub origin_url: String,
    pub frontend_routes: FrontendRoutes,
    pub secret_mode: ValidationMode,
    pub publishable_mode: ValidationMode,
}

pub const KV_BINDING: &str = "KEYS";
pub const KEY_RING_BINDING: &str = "KEY_RING";
pub const REGISTRY_BINDING: &str = "REGISTRY";

fn var(env: &Env, name: &str) -> Option<String> {
    env.var(name)
        .ok()
        .map(|v| v.to_string())
        .filter(|v| !v.trim().is_empty())
}

thread_local! {
    /// Vars are fixed for an isolate's lifetime, so they are read once per isolate rather
    /// than on every request.
    static CACHED: std::cell::OnceCell<std::rc::Rc<Config>> = const { std::cell::OnceCell::new() };
}

impl Config {
    pub fn cached(env: &Env) -> std::rc::Rc<Config> {
        CACHED.with(|cell| {
            cell.get_or_init(|| std::rc::Rc::new(Config::from_env(env)))
                .clone()
        })
    }

    fn from_env(env: &Env) -> Self {
        let mode = |name| match var(env, name).as_deref().map(str::trim) {
            Some("edge") => ValidationMode::Edge,
            _ => ValidationMode::Strict,
        };
        Config {
            origin_url: var(env, "ORIGIN_URL")
                .unwrap_or_default()
                .trim_end_matches('/')
                .to_owned(),
            frontend_routes: var(env, "FRONTEND_ROUTES")
                .map(|routes| FrontendRoutes::parse(&routes))
                .unwrap_or_default(),
            secret_mode: mode("SECRET_KEY_VALIDATION"),
            publishable_mode: mode("PUBLISHABLE_KEY_VALIDATION"),
        }
    }

    pub fn mode(&self, kind: KeyKind) -> ValidationMode {
        match kind {
            KeyKind::Secret => self.secret_mode,
            KeyKind::Publishable => self.publishable_mode,
        }
    }
}

/// The grace period used when a rotation does not name one. Tests shorten it through
/// configuration; out-of-range values fall back to the 24-hour default.
pub fn default_grace_period(env: &Env) -> GracePeriod {
    var(env, "DEFAULT_GRACE_PERIOD_SECONDS")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .and_then(|seconds| GracePeriod::from_seconds(seconds).ok())
        .unwrap_or_default()
}

/// The operator token, from a wrangler secret (`.dev.vars` locally). Tokens shorter than
/// 16 characters are treated as unset, so a careless value cannot open the operator API.
pub fn admin_token(env: &Env) -> Option<String> {
    env.secret("ADMIN_TOKEN")
        .ok()
        .map(|s| s.to_string())
        .or_else(|| var(env, "ADMIN_TOKEN"))
        .filter(|token| token.len() >= 16)
}
