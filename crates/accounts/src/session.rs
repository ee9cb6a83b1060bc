//! Dashboard sessions of members: how long they last and when a fresh passkey ceremony
//! (step-up) is needed.
//!
//! A session starts with a passkey sign-in. It ends 30 minutes after its last use (idle)
//! and 12 hours after it started (absolute), whichever comes first; like every expiry in
//! Aero2, it works until one millisecond before and not at the expiry. Sensitive actions
//! ([`Action::needs_step_up`]) also need a passkey ceremony within the last 5 minutes.

use core::fmt;

use aero2_keys::{RandomError, RandomSource, UnixMillis};
use serde::{Deserialize, Serialize};

use crate::ids::{AccountId, MemberId, UserHandle};
use crate::roles::{may, Action, Role};
use crate::token::{SecretText, TokenHash};
use crate::webauthn::{Ceremony, SignIn};
use crate::{after, HOUR_MS, MINUTE_MS};

/// A session ends this long after its last use.
pub const SESSION_IDLE_TIMEOUT_MS: u64 = 30 * MINUTE_MS;
/// A session ends this long after it started, however busy.
pub const SESSION_ABSOLUTE_LIFETIME_MS: u64 = 12 * HOUR_MS;
/// A step-up action needs a passkey ceremony less than this long ago.
pub const STEP_UP_WINDOW_MS: u64 = 5 * MINUTE_MS;

/// The session cookie's value: 43 base62 characters (about 256 bits). Storage keeps only
/// its SHA-256. Its `Debug` never shows it.
#[derive(Clone)]
pub struct SessionToken(SecretText);

impl SessionToken {
    pub fn generate(rng: &mut impl RandomSource) -> Result<Self, RandomError> {
        SecretText::generate(rng).map(Self)
    }

    /// Reads a cookie value. `None` for anything that cannot be a session token.
    pub fn parse(text: &str) -> Option<Self> {
        SecretText::parse(text).map(Self)
    }

    /// The token's text, for the `Set-Cookie` header. Nothing else should call this.
    pub fn expose(&self) -> &str {
        self.0.as_str()
    }

    pub fn hash(&self) -> TokenHash {
        self.0.hash()
    }
}

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionToken(<redacted>)")
    }
}

/// A member's session, as storage keeps it (looked up by `token_hash`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub account: AccountId,
    pub member: MemberId,
    pub token_hash: TokenHash,
    pub created_at: UnixMillis,
    pub last_active_at: UnixMillis,
    /// The last passkey ceremony of this member in this session: the sign-in, or the
    /// latest step-up.
    pub authenticated_at: UnixMillis,
}

/// Why a session no longer works.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionExpired {
    /// 30 minutes without use.
    Idle,
    /// 12 hours since sign-in.
    Absolute,
}

impl SessionExpired {
    pub const CODE: &'static str = "session_expired";
}

impl fmt::Display for SessionExpired {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SessionExpired::Idle => "the session ended after 30 minutes without activity",
            SessionExpired::Absolute => "the session ended 12 hours after sign-in",
        })
    }
}

impl core::error::Error for SessionExpired {}

/// Why a member in a session may not do something.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// 401 `session_expired`: sign in again.
    Expired(SessionExpired),
    /// 403 `insufficient_role`.
    Forbidden,
    /// 403 `reauthentication_required`: allowed, but only after a passkey ceremony.
    ReauthenticationRequired,
}

impl Refusal {
    pub const fn code(self) -> &'static str {
        match self {
            Refusal::Expired(_) => SessionExpired::CODE,
            Refusal::Forbidden => "insufficient_role",
            Refusal::ReauthenticationRequired => "reauthentication_required",
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Expired(why) => fmt::Display::fmt(why, f),
            Refusal::Forbidden => f.write_str("your role does not allow this"),
            Refusal::ReauthenticationRequired => {
                f.write_str("confirm with your passkey to do this")
            }
        }
    }
}

impl core::error::Error for Refusal {}

impl Session {
    /// Starts a session after a verified passkey sign-in at `now`. The token goes into
    /// the cookie; the session into storage.
    pub fn start(
        account: AccountId,
        member: MemberId,
        now: UnixMillis,
        rng: &mut impl RandomSource,
    ) -> Result<(Session, SessionToken), RandomError> {
        let token = SessionToken::generate(rng)?;
        let session = Session {
            account,
            member,
            token_hash: token.hash(),
            created_at: now,
            last_active_at: now,
            authenticated_at: now,
        };
        Ok((session, token))
    }

    /// When the session ends if it is not used again: the earlier of the idle and the
    /// absolute expiry. For the cookie's `Max-Age` and the storage's clean-up alarm.
    pub fn expires_at(&self) -> UnixMillis {
        core::cmp::min(
            after(self.last_active_at, SESSION_IDLE_TIMEOUT_MS),
            after(self.created_at, SESSION_ABSOLUTE_LIFETIME_MS),
        )
    }

    /// Whether the session still works at `now`. The absolute limit is reported first.
    pub fn check(&self, now: UnixMillis) -> Result<(), SessionExpired> {
        if now >= after(self.created_at, SESSION_ABSOLUTE_LIFETIME_MS) {
            Err(SessionExpired::Absolute)
        } else if now >= after(self.last_active_at, SESSION_IDLE_TIMEOUT_MS) {
            Err(SessionExpired::Idle)
        } else {
            Ok(())
        }
    }

    /// Records a use at `now`, if the session still works. Time never goes back: an
    /// earlier `now` (clocks of two isolates) leaves `last_active_at` as it is.
    pub fn touch(&mut self, now: UnixMillis) -> Result<(), SessionExpired> {
        self.check(now)?;
        self.last_active_at = core::cmp::max(self.last_active_at, now);
        Ok(())
    }

    /// Whether a passkey ceremony happened less than 5 minutes before `now`.
    pub fn step_up_is_fresh(&self, now: UnixMillis) -> bool {
        now < after(self.authenticated_at, STEP_UP_WINDOW_MS)
    }

    /// Records a completed step-up at `now`: `ceremony` is what the answered challenge
    /// was issued for ([`crate::webauthn::ChallengeStore::take`]), `sign_in` the concluded
    /// assertion, `member_handle` the user handle of this session's member (from storage).
    /// The challenge must have been issued for this session's step-up and the passkey must
    /// be this member's: someone else's passkey at the same computer confirms nothing.
    /// Counts as a use.
    pub fn complete_step_up(
        &mut self,
        ceremony: &Ceremony,
        sign_in: &SignIn,
        member_handle: &UserHandle,
        now: UnixMillis,
    ) -> Result<(), Refusal> {
        self.check(now).map_err(Refusal::Expired)?;
        let ours = *ceremony
            == Ceremony::StepUp {
                account: self.account,
                member: self.member,
            };
        if !ours || sign_in.user_handle != *member_handle {
            return Err(Refusal::ReauthenticationRequired);
        }
        self.record_step_up(now).map_err(Refusal::Expired)
    }

    fn record_step_up(&mut self, now: UnixMillis) -> Result<(), SessionExpired> {
        self.touch(now)?;
        self.authenticated_at = core::cmp::max(self.authenticated_at, now);
        Ok(())
    }

    /// Everything a request in this session needs before it acts: the session works, the
    /// member's current `role` allows `action`, and a step-up action has a fresh
    /// ceremony. Records the use on success; a refused request changes nothing.
    pub fn authorize(
        &mut self,
        role: Role,
        action: Action,
        now: UnixMillis,
    ) -> Result<(), Refusal> {
        self.check(now).map_err(Refusal::Expired)?;
        if !may(role, action) {
            return Err(Refusal::Forbidden);
        }
        if action.needs_step_up() && !self.step_up_is_fresh(now) {
            return Err(Refusal::ReauthenticationRequired);
        }
        self.touch(now).map_err(Refusal::Expired)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::roles::KeyOperation;
    use crate::testing::SeqRandom;
    use aero2_keys::{Environment, KeyKind};
    use alloc::format;

    const T0: UnixMillis = UnixMillis(1_800_000_000_000);

    fn start() -> (Session, SessionToken) {
        let mut rng = SeqRandom(11);
        let account = AccountId::generate(&mut rng).unwrap();
        let member = MemberId::generate(&mut rng).unwrap();
        Session::start(account, member, T0, &mut rng).unwrap()
    }

    fn at(ms: u64) -> UnixMillis {
        UnixMillis(T0.0 + ms)
    }

    #[test]
    fn idle_timeout_is_30_minutes_to_the_millisecond() {
        let (session, _) = start();
        assert_eq!(session.check(at(SESSION_IDLE_TIMEOUT_MS - 1)), Ok(()));
        assert_eq!(
            session.check(at(SESSION_IDLE_TIMEOUT_MS)),
            Err(SessionExpired::Idle)
        );
        assert_eq!(SESSION_IDLE_TIMEOUT_MS, 1_800_000);
        assert_eq!(session.expires_at(), at(SESSION_IDLE_TIMEOUT_MS));
    }

    #[test]
    fn use_moves_the_idle_limit_but_not_the_absolute_one() {
        let (mut session, _) = start();
        // Used every 29 minutes: alive until the 12th hour, not at it.
        let mut t = 0;
        while t + 29 * MINUTE_MS < SESSION_ABSOLUTE_LIFETIME_MS {
            t += 29 * MINUTE_MS;
            session.touch(at(t)).unwrap();
        }
        assert_eq!(session.check(at(SESSION_ABSOLUTE_LIFETIME_MS - 1)), Ok(()));
        assert_eq!(
            session.check(at(SESSION_ABSOLUTE_LIFETIME_MS)),
            Err(SessionExpired::Absolute)
        );
        assert_eq!(session.expires_at(), at(SESSION_ABSOLUTE_LIFETIME_MS));
        assert_eq!(
            session.touch(at(SESSION_ABSOLUTE_LIFETIME_MS)),
            Err(SessionExpired::Absolute)
        );
        assert_eq!(SESSION_ABSOLUTE_LIFETIME_MS, 43_200_000);
    }

    #[test]
    fn an_expired_session_is_not_revived_by_touching_it() {
        let (mut session, _) = start();
        assert!(session.touch(at(SESSION_IDLE_TIMEOUT_MS)).is_err());
        assert_eq!(session.last_active_at, T0);
        // A late `now` from another isolate does not move time back.
        session.touch(at(1000)).unwrap();
        session.touch(at(500)).unwrap();
        assert_eq!(session.last_active_at, at(1000));
    }

    #[test]
    fn step_up_window_is_5_minutes_to_the_millisecond() {
        let (mut session, _) = start();
        assert!(session.step_up_is_fresh(T0));
        assert!(session.step_up_is_fresh(at(STEP_UP_WINDOW_MS - 1)));
        assert!(!session.step_up_is_fresh(at(STEP_UP_WINDOW_MS)));
        session.record_step_up(at(10 * MINUTE_MS)).unwrap();
        assert!(session.step_up_is_fresh(at(15 * MINUTE_MS - 1)));
        assert!(!session.step_up_is_fresh(at(15 * MINUTE_MS)));
        assert_eq!(session.last_active_at, at(10 * MINUTE_MS));
    }

    #[test]
    fn authorize_checks_session_then_role_then_step_up() {
        let (mut session, _) = start();
        let revoke_live_secret = Action::Key {
            operation: KeyOperation::Revoke,
            environment: Environment::Live,
            kind: KeyKind::Secret,
        };
        let revoke_test_secret = Action::Key {
            operation: KeyOperation::Revoke,
            environment: Environment::Test,
            kind: KeyKind::Secret,
        };
        let late = at(STEP_UP_WINDOW_MS);
        assert_eq!(
            session.authorize(Role::Developer, revoke_live_secret, late),
            Err(Refusal::Forbidden)
        );
        assert_eq!(
            session.authorize(Role::Admin, revoke_live_secret, at(STEP_UP_WINDOW_MS - 1)),
            Ok(())
        );
        assert_eq!(
            session.authorize(Role::Admin, revoke_live_secret, late),
            Err(Refusal::ReauthenticationRequired)
        );
        assert_eq!(
            session.authorize(Role::Developer, revoke_test_secret, late),
            Ok(())
        );
        session.record_step_up(late).unwrap();
        assert_eq!(
            session.authorize(Role::Admin, revoke_live_secret, late),
            Ok(())
        );
        let far = at(SESSION_ABSOLUTE_LIFETIME_MS);
        assert_eq!(
            session.authorize(Role::Owner, Action::ViewKeys, far),
            Err(Refusal::Expired(SessionExpired::Absolute))
        );
        assert_eq!(
            Refusal::ReauthenticationRequired.code(),
            "reauthentication_required"
        );
    }

    #[test]
    fn a_step_up_counts_only_for_this_sessions_member_and_ceremony() {
        let (mut session, _) = start();
        let handle = UserHandle::from_bytes([1; 32]);
        let sign_in = |user_handle| SignIn {
            credential_id: crate::CredentialId::from_bytes(&[9]).unwrap(),
            user_handle,
            sign_count: 1,
            backed_up: false,
        };
        let ours = Ceremony::StepUp {
            account: session.account,
            member: session.member,
        };
        let now = at(20 * MINUTE_MS);
        let refused = Err(Refusal::ReauthenticationRequired);
        let other_member = Ceremony::StepUp {
            account: session.account,
            member: MemberId::parse("mem_0000000000000000").unwrap(),
        };
        for (ceremony, user_handle) in [
            (Ceremony::SignIn, handle),
            (other_member, handle),
            (ours, UserHandle::from_bytes([2; 32])),
        ] {
            assert_eq!(
                session.complete_step_up(&ceremony, &sign_in(user_handle), &handle, now),
                refused
            );
        }
        assert!(!session.step_up_is_fresh(now));
        let idle = Err(Refusal::Expired(SessionExpired::Idle));
        assert_eq!(
            session.complete_step_up(
                &ours,
                &sign_in(handle),
                &handle,
                at(SESSION_IDLE_TIMEOUT_MS)
            ),
            idle
        );
        session.touch(at(10 * MINUTE_MS)).unwrap();
        assert_eq!(
            session.complete_step_up(&ours, &sign_in(handle), &handle, now),
            Ok(())
        );
        assert!(session.step_up_is_fresh(now));
        assert_eq!(session.authenticated_at, now);
    }

    #[test]
    fn the_token_never_shows_and_storage_holds_its_hash() {
        let (session, token) = start();
        let secret = token.expose();
        assert_eq!(secret.len(), 43);
        assert!(!format!("{token:?}").contains(secret));
        assert!(!format!("{session:?}").contains(secret));
        let stored = serde_json::to_string(&session).unwrap();
        assert!(!stored.contains(secret));
        assert_eq!(serde_json::from_str::<Session>(&stored).unwrap(), session);
        assert_eq!(
            SessionToken::parse(secret).map(|t| t.hash()),
            Some(session.token_hash)
        );
        assert!(SessionToken::parse("").is_none());
    }

    proptest::proptest! {
        #[test]
        fn alive_iff_before_both_limits(
            uses in proptest::collection::vec(0u64..40 * MINUTE_MS, 0..30),
            probe in 0u64..40 * MINUTE_MS,
        ) {
            let (mut session, _) = start();
            let mut t = 0u64;
            for gap in uses {
                let next = t + gap;
                let alive = gap < SESSION_IDLE_TIMEOUT_MS && next < SESSION_ABSOLUTE_LIFETIME_MS;
                proptest::prop_assert_eq!(session.touch(at(next)).is_ok(), alive);
                if !alive { return Ok(()); }
                t = next;
            }
            let when = t + probe;
            let alive = probe < SESSION_IDLE_TIMEOUT_MS && when < SESSION_ABSOLUTE_LIFETIME_MS;
            proptest::prop_assert_eq!(session.check(at(when)).is_ok(), alive);
            proptest::prop_assert_eq!(alive, at(when) < session.expires_at());
        }

        #[test]
        fn step_up_fresh_iff_within_5_minutes(ceremony in 0u64..HOUR_MS, probe in 0u64..HOUR_MS) {
            let (mut session, _) = start();
            session.authenticated_at = at(ceremony);
            let now = at(ceremony + probe);
            proptest::prop_assert_eq!(session.step_up_is_fresh(now), probe < STEP_UP_WINDOW_MS);
        }
    }
}
