//! The worker's one clock. Everything below it takes time as a value.

use aero2_keys::UnixMillis;

/// Now, from the runtime. (On Workers, `Date.now()` only advances across I/O, which is
/// what makes a request's decisions consistent with each other.)
pub fn now() -> UnixMillis {
    UnixMillis(worker::Date::now().as_millis())
}
