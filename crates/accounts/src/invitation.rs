//! Invitations: how a person joins an account.
//!
//! An admin or owner creates an invitation for a role; the response carries its token
//! once (for a link the inviter passes on). Storage keeps only the token's SHA-256, so a
//! leaked database holds no usable invitation. A token works once, for 72 hours, and an
//! invitation that was used, has expired, was revoked or never existed all look the same
//! from outside: `invitation_not_found`.

use core::fmt;

use aero2_keys::{RandomError, RandomSource, UnixMillis};
use serde::{Deserialize, Serialize};

use crate::ids::{AccountId, InvitationId, MemberId};
use crate::roles::Role;
use crate::token::{SecretText, TokenHash};
use crate::{after, HOUR_MS};

/// How long an invitation can be accepted: 72 hours from its creation. It works until one
/// millisecond before `expires_at` and not at `expires_at`.
pub const INVITATION_LIFETIME_MS: u64 = 72 * HOUR_MS;

/// The secret in an invitation link: 43 base62 characters (about 256 bits from the
/// CSPRNG), URL-safe as it is. Its `Debug` never shows it; the text is reachable only
/// through [`InvitationToken::expose`], for the one response that hands it out.
#[derive(Clone)]
pub struct InvitationToken(SecretText);

impl InvitationToken {
    pub fn generate(rng: &mut impl RandomSource) -> Result<Self, RandomError> {
        SecretText::generate(rng).map(Self)
    }

    /// Reads a token presented by a browser. A malformed token is simply not found.
    pub fn parse(text: &str) -> Result<Self, InvitationNotFound> {
        SecretText::parse(text).map(Self).ok_or(InvitationNotFound)
    }

    /// The token's text, for the response that creates the invitation. Nothing else should
    /// call this.
    pub fn expose(&self) -> &str {
        self.0.as_str()
    }

    /// The SHA-256 that storage keeps and looks the invitation up by.
    pub fn hash(&self) -> TokenHash {
        self.0.hash()
    }
}

impl fmt::Debug for InvitationToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("InvitationToken(<redacted>)")
    }
}

/// Where an invitation stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvitationState {
    Pending,
    Accepted { at: UnixMillis, member: MemberId },
    Revoked { at: UnixMillis },
}

/// An invitation as storage keeps it (no token, only its hash).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invitation {
    pub id: InvitationId,
    pub account: AccountId,
    /// The role the invited person gets on accepting.
    pub role: Role,
    pub invited_by: MemberId,
    pub token_hash: TokenHash,
    pub created_at: UnixMillis,
    pub expires_at: UnixMillis,
    pub state: InvitationState,
}

/// The one answer for a token that cannot be used, whatever the reason: malformed, never
/// issued, already used, expired or revoked. It holds nothing of the token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvitationNotFound;

impl InvitationNotFound {
    pub const CODE: &'static str = "invitation_not_found";
}

impl fmt::Display for InvitationNotFound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no such invitation, or it can no longer be used")
    }
}

impl core::error::Error for InvitationNotFound {}

/// Why an invitation cannot be created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IssueError {
    /// The inviter's role may not grant this role (see [`Role::may_grant`]).
    Forbidden,
    Random(RandomError),
}

impl fmt::Display for IssueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IssueError::Forbidden => f.write_str("your role may not invite members with this role"),
            IssueError::Random(error) => fmt::Display::fmt(error, f),
        }
    }
}

impl core::error::Error for IssueError {}

impl Invitation {
    /// Creates an invitation for `role` by `inviter` (id and role), with a fresh id and
    /// token. The token goes to the inviter once; the invitation goes to storage.
    pub fn issue(
        account: AccountId,
        inviter: (MemberId, Role),
        role: Role,
        now: UnixMillis,
        rng: &mut impl RandomSource,
    ) -> Result<(Invitation, InvitationToken), IssueError> {
        if !inviter.1.may_grant(role) {
            return Err(IssueError::Forbidden);
        }
        let id = InvitationId::generate(rng).map_err(IssueError::Random)?;
        let token = InvitationToken::generate(rng).map_err(IssueError::Random)?;
        let invitation = Invitation {
            id,
            account,
            role,
            invited_by: inviter.0,
            token_hash: token.hash(),
            created_at: now,
            expires_at: after(now, INVITATION_LIFETIME_MS),
            state: InvitationState::Pending,
        };
        Ok((invitation, token))
    }

    /// Whether the invitation can still be accepted at `now`.
    pub fn is_open(&self, now: UnixMillis) -> bool {
        self.state == InvitationState::Pending && now < self.expires_at
    }

    /// Accepts the invitation for the new `member` with `token` (the invitation having
    /// been looked up by the token's hash, the hash is checked again here, in constant
    /// time). On success the invitation is spent and the member's role is returned.
    /// Every failure is the same [`InvitationNotFound`].
    pub fn accept(
        &mut self,
        token: &InvitationToken,
        member: MemberId,
        now: UnixMillis,
    ) -> Result<Role, InvitationNotFound> {
        // Evaluate every condition, then decide: no early exit on the secret comparison.
        let matches = token.hash() == self.token_hash;
        if !(matches & self.is_open(now)) {
            return Err(InvitationNotFound);
        }
        self.state = InvitationState::Accepted { at: now, member };
        Ok(self.role)
    }

    /// Revokes a pending invitation (whoever may invite for its role may revoke it; see
    /// [`crate::roles::MembershipChange::RevokeInvitation`]). An invitation that is no
    /// longer pending is not found.
    pub fn revoke(&mut self, now: UnixMillis) -> Result<(), InvitationNotFound> {
        if self.state != InvitationState::Pending {
            return Err(InvitationNotFound);
        }
        self.state = InvitationState::Revoked { at: now };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Broken, SeqRandom};
    use alloc::format;

    fn setup(now: UnixMillis) -> (Invitation, InvitationToken, MemberId) {
        let mut rng = SeqRandom(9);
        let account = AccountId::generate(&mut rng).unwrap();
        let owner = MemberId::generate(&mut rng).unwrap();
        let newcomer = MemberId::generate(&mut rng).unwrap();
        let (invitation, token) = Invitation::issue(
            account,
            (owner, Role::Owner),
            Role::Developer,
            now,
            &mut rng,
        )
        .unwrap();
        (invitation, token, newcomer)
    }

    const T0: UnixMillis = UnixMillis(1_800_000_000_000);

    #[test]
    fn expires_exactly_72_hours_after_creation() {
        let (invitation, token, member) = setup(T0);
        assert_eq!(invitation.expires_at, UnixMillis(T0.0 + 259_200_000));
        let last_ms = UnixMillis(invitation.expires_at.0 - 1);
        let mut early = invitation.clone();
        assert_eq!(early.accept(&token, member, last_ms), Ok(Role::Developer));
        let mut late = invitation.clone();
        assert_eq!(
            late.accept(&token, member, invitation.expires_at),
            Err(InvitationNotFound)
        );
        assert_eq!(late.state, InvitationState::Pending, "nothing changes");
        assert!(invitation.is_open(T0));
        assert!(invitation.is_open(last_ms));
        assert!(!invitation.is_open(invitation.expires_at));
    }

    #[test]
    fn a_token_works_once() {
        let (mut invitation, token, member) = setup(T0);
        assert_eq!(invitation.accept(&token, member, T0), Ok(Role::Developer));
        assert_eq!(
            invitation.state,
            InvitationState::Accepted { at: T0, member }
        );
        assert_eq!(
            invitation.accept(&token, member, T0),
            Err(InvitationNotFound)
        );
    }

    #[test]
    fn used_expired_revoked_wrong_and_malformed_look_the_same() {
        let (invitation, token, member) = setup(T0);
        let other = InvitationToken::generate(&mut SeqRandom(77)).unwrap();
        let mut wrong = invitation.clone();
        let mut revoked = invitation.clone();
        revoked.revoke(T0).unwrap();
        let mut used = invitation.clone();
        used.accept(&token, member, T0).unwrap();
        let mut expired = invitation.clone();
        let outcomes = [
            wrong.accept(&other, member, T0),
            revoked.accept(&token, member, T0),
            used.accept(&token, member, T0),
            expired.accept(&token, member, invitation.expires_at),
            InvitationToken::parse("not-a-token").map(|_| Role::Viewer),
        ];
        for outcome in outcomes {
            assert_eq!(outcome, Err(InvitationNotFound));
        }
        assert_eq!(revoked.revoke(T0), Err(InvitationNotFound));
        assert_eq!(used.revoke(T0), Err(InvitationNotFound));
    }

    #[test]
    fn inviters_grant_at_most_their_own_role() {
        let mut rng = SeqRandom(3);
        let account = AccountId::generate(&mut rng).unwrap();
        let admin = MemberId::generate(&mut rng).unwrap();
        for (inviter, role, ok) in [
            (Role::Admin, Role::Owner, false),
            (Role::Admin, Role::Admin, true),
            (Role::Developer, Role::Viewer, false),
            (Role::Viewer, Role::Viewer, false),
            (Role::Owner, Role::Owner, true),
        ] {
            let result = Invitation::issue(account, (admin, inviter), role, T0, &mut rng);
            assert_eq!(result.is_ok(), ok, "{inviter} invites {role}");
            if !ok {
                assert_eq!(result.err(), Some(IssueError::Forbidden));
            }
        }
        assert_eq!(
            Invitation::issue(account, (admin, Role::Owner), Role::Viewer, T0, &mut Broken).err(),
            Some(IssueError::Random(RandomError))
        );
    }

    #[test]
    fn the_token_never_shows_and_storage_holds_only_its_hash() {
        let (invitation, token, _) = setup(T0);
        let secret = token.expose().to_owned();
        assert_eq!(secret.len(), 43);
        assert!(!format!("{token:?}").contains(&secret));
        let stored = serde_json::to_string(&invitation).unwrap();
        assert!(!stored.contains(&secret), "{stored}");
        assert!(stored.contains(&token.hash().to_hex()));
        assert!(!format!("{invitation:?}").contains(&secret));
        assert_eq!(
            serde_json::from_str::<Invitation>(&stored).unwrap(),
            invitation
        );
        assert_eq!(
            InvitationToken::parse(&secret).unwrap().hash(),
            token.hash()
        );
    }

    use alloc::borrow::ToOwned;

    proptest::proptest! {
        #[test]
        fn open_exactly_before_expiry(offset in 0u64..2 * INVITATION_LIFETIME_MS) {
            let (mut invitation, token, member) = setup(T0);
            let now = UnixMillis(T0.0 + offset);
            let result = invitation.accept(&token, member, now);
            proptest::prop_assert_eq!(result.is_ok(), offset < INVITATION_LIFETIME_MS);
        }

        #[test]
        fn garbage_tokens_are_not_found(text in ".{0,64}") {
            let (mut invitation, _, member) = setup(T0);
            if let Ok(token) = InvitationToken::parse(&text) {
                proptest::prop_assert_eq!(invitation.accept(&token, member, T0), Err(InvitationNotFound));
            }
        }
    }
}
