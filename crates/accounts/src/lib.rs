//! The pure core of Aero2 Keys accounts (issue #22): accounts, members and their roles,
//! invitations, dashboard sessions with step-up, and passkey (WebAuthn) ceremonies.
//!
//! Like `aero2-keys`, nothing here does I/O: time comes in as [`UnixMillis`], randomness
//! through a [`RandomSource`], and every signature is verified by the caller (WebCrypto
//! in the Worker) from the exact inputs this crate prepares ([`webauthn::SignatureCheck`]).
//!
//! What it holds:
//! - members ([`Member`], [`DisplayName`]) and ids: [`AccountId`] (`acct_…`), [`MemberId`] (`mem_…`), [`InvitationId`] (`inv_…`),
//!   and the WebAuthn [`UserHandle`] and [`CredentialId`];
//! - roles and the one permission table ([`roles`]: [`Role`], [`Action`], [`may`]), with
//!   the membership rules (grant at most your own role, an account keeps an owner);
//! - invitations ([`invitation`]): single-use tokens stored as SHA-256, 72 h;
//! - sessions ([`session`]): 30 min idle, 12 h absolute, step-up within 5 min;
//! - passkeys ([`webauthn`]): options, single-use challenges, and the verification of
//!   registration and authentication responses.
//!
//! No `Debug`, `Display` or error value holds a secret (an invitation or session token,
//! a challenge); secrets are compared in constant time.

#![no_std]

extern crate alloc;
#[cfg(test)]
extern crate std;

mod b64;
mod ids;
pub mod invitation;
mod member;
pub mod roles;
pub mod session;
mod token;
pub mod webauthn;

pub use aero2_keys::{Environment, KeyKind, RandomError, RandomSource, UnixMillis};
pub use ids::{AccountId, CredentialId, InvitationId, MemberId, UserHandle, WebAuthnIdError};
pub use invitation::{Invitation, InvitationNotFound, InvitationState, InvitationToken};
pub use member::{DisplayName, DisplayNameError, Member, MAX_DISPLAY_NAME_CHARS};
pub use roles::{
    check_membership_change, may, Action, KeyOperation, MembershipChange, MembershipRefusal, Role,
    WebhookOperation,
};
pub use session::{Refusal, Session, SessionExpired, SessionToken};
pub use token::TokenHash;

/// One minute in milliseconds.
pub const MINUTE_MS: u64 = 60 * 1000;
/// One hour in milliseconds.
pub const HOUR_MS: u64 = 60 * MINUTE_MS;

/// `since + duration`, saturating: an expiry far in the future never wraps into the past.
pub(crate) const fn after(since: UnixMillis, duration_ms: u64) -> UnixMillis {
    UnixMillis(since.0.saturating_add(duration_ms))
}

#[cfg(test)]
pub(crate) mod testing {
    use aero2_keys::{RandomError, RandomSource};

    /// A deterministic source: a counter mixed through a simple generator, so each call
    /// gives different bytes and tests can repeat exactly.
    pub struct SeqRandom(pub u64);

    impl RandomSource for SeqRandom {
        fn fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), RandomError> {
            for byte in dest {
                // SplitMix64 step.
                self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
                let mut z = self.0;
                z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
                *byte = (z ^ (z >> 31)) as u8;
            }
            Ok(())
        }
    }

    /// A source that always fails, like a broken CSPRNG.
    pub struct Broken;

    impl RandomSource for Broken {
        fn fill_bytes(&mut self, _: &mut [u8]) -> Result<(), RandomError> {
            Err(RandomError)
        }
    }
}
