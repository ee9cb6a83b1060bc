//! Passkeys.
