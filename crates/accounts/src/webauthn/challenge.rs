//! Ceremony challenges: 32 random bytes, single use, valid for 5 minutes.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use aero2_keys::{RandomError, RandomSource, UnixMillis};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::ids::{AccountId, InvitationId, MemberId, UserHandle};
use crate::token::TokenHash;
use crate::{after, b64, MINUTE_MS};

/// A challenge is taken at most this long after it was issued (and not at that instant).
pub const CHALLENGE_LIFETIME_MS: u64 = 5 * MINUTE_MS;

/// A ceremony's challenge: 32 bytes from the CSPRNG. Its `Debug` never shows it, and it
/// is compared in constant time.
#[derive(Clone)]
pub struct Challenge([u8; 32]);

impl Challenge {
    pub fn generate(rng: &mut impl RandomSource) -> Result<Self, RandomError> {
        let mut bytes = [0u8; 32];
        rng.fill_bytes(&mut bytes)?;
        Ok(Challenge(bytes))
    }

    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Challenge(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Base64url, unpadded: the form in options and in `clientDataJSON.challenge`.
    pub fn to_base64url(&self) -> String {
        b64::encode(&self.0)
    }

    /// `None` unless the text is base64url of exactly 32 bytes.
    pub fn from_base64url(text: &str) -> Option<Self> {
        b64::decode_array(text).map(Challenge)
    }

    /// What the store keeps: a leaked store holds no challenge that could still be
    /// answered.
    fn digest(&self) -> TokenHash {
        TokenHash::from_bytes(Sha256::digest(self.0).into())
    }
}

impl PartialEq for Challenge {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for Challenge {}

impl fmt::Debug for Challenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Challenge(<redacted>)")
    }
}

/// What a challenge was issued for; handed back by [`ChallengeStore::take`], so the
/// answer to a challenge can only complete the ceremony it was issued for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ceremony {
    /// Registering a passkey for `member` (a new member accepting `invitation`, or an
    /// existing member adding a passkey).
    Registration {
        account: AccountId,
        member: MemberId,
        user_handle: UserHandle,
        invitation: Option<InvitationId>,
    },
    /// A discoverable sign-in: nobody is known until the response names its user handle.
    SignIn,
    /// A step-up by the member of a session.
    StepUp {
        account: AccountId,
        member: MemberId,
    },
}

/// Why a challenge cannot be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChallengeError {
    /// Never issued here, already used, or evicted.
    Unknown,
    /// Issued, but 5 minutes or more ago (it is gone now).
    Expired,
}

impl fmt::Display for ChallengeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ChallengeError::Unknown => "unknown or already used challenge",
            ChallengeError::Expired => "the challenge expired; start again",
        })
    }
}

impl core::error::Error for ChallengeError {}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Pending {
    digest: TokenHash,
    issued_at: UnixMillis,
    ceremony: Ceremony,
}

/// The challenges issued and not yet answered, as a state machine driven by `now`. The
/// worker keeps one in Durable Object storage (it serialises with serde) and persists it
/// after every `issue` and `take`.
///
/// It holds at most `capacity` challenges: issuing one more drops the oldest, so a flood
/// of ceremonies costs bounded storage (and can only make the oldest pending ceremonies
/// start again; rate-limit issuing per client in front of it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChallengeStore {
    capacity: usize,
    pending: Vec<Pending>,
}

impl ChallengeStore {
    pub const DEFAULT_CAPACITY: usize = 256;

    pub fn new(capacity: usize) -> Self {
        ChallengeStore {
            capacity: capacity.max(1),
            pending: Vec::new(),
        }
    }

    /// Issues a fresh challenge for `ceremony` at `now`.
    pub fn issue(
        &mut self,
        ceremony: Ceremony,
        now: UnixMillis,
        rng: &mut impl RandomSource,
    ) -> Result<Challenge, RandomError> {
        let challenge = Challenge::generate(rng)?;
        self.prune(now);
        // `max(1)`: a store read back from storage may say anything.
        while !self.pending.is_empty() && self.pending.len() >= self.capacity.max(1) {
            // Oldest first: `pending` is kept in issue order.
            self.pending.remove(0);
        }
        self.pending.push(Pending {
            digest: challenge.digest(),
            issued_at: now,
            ceremony,
        });
        Ok(challenge)
    }

    /// Takes `challenge` out of the store: it answers once. A challenge issued 5 minutes
    /// or more before `now` is removed too, and refused as expired.
    pub fn take(
        &mut self,
        challenge: &Challenge,
        now: UnixMillis,
    ) -> Result<Ceremony, ChallengeError> {
        let digest = challenge.digest();
        // Every entry is compared (no early exit), and only digests are compared.
        let mut found = None;
        for (index, pending) in self.pending.iter().enumerate() {
            if pending.digest == digest {
                found = Some(index);
            }
        }
        let result = match found {
            Some(index) => {
                let pending = self.pending.remove(index);
                if now < after(pending.issued_at, CHALLENGE_LIFETIME_MS) {
                    Ok(pending.ceremony)
                } else {
                    Err(ChallengeError::Expired)
                }
            }
            None => Err(ChallengeError::Unknown),
        };
        self.prune(now);
        result
    }

    /// Drops every challenge that can no longer be taken at `now`.
    pub fn prune(&mut self, now: UnixMillis) {
        self.pending
            .retain(|p| now < after(p.issued_at, CHALLENGE_LIFETIME_MS));
    }

    /// When the oldest pending challenge expires: for a storage alarm that prunes.
    pub fn next_expiry(&self) -> Option<UnixMillis> {
        self.pending
            .iter()
            .map(|p| after(p.issued_at, CHALLENGE_LIFETIME_MS))
            .min()
    }

    pub fn len(&self) -> usize {
        self.pending.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }
}

impl Default for ChallengeStore {
    fn default() -> Self {
        ChallengeStore::new(ChallengeStore::DEFAULT_CAPACITY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Broken, SeqRandom};
    use alloc::format;

    const T0: UnixMillis = UnixMillis(1_800_000_000_000);

    fn at(ms: u64) -> UnixMillis {
        UnixMillis(T0.0 + ms)
    }

    #[test]
    fn a_challenge_is_32_random_bytes_never_printed() {
        let mut rng = SeqRandom(1);
        let a = Challenge::generate(&mut rng).unwrap();
        let b = Challenge::generate(&mut rng).unwrap();
        assert_ne!(a, b);
        assert_eq!(a.to_base64url().len(), 43);
        assert_eq!(
            Challenge::from_base64url(&a.to_base64url()),
            Some(a.clone())
        );
        assert_eq!(Challenge::from_base64url("AAAA"), None);
        assert!(!format!("{a:?}").contains(&a.to_base64url()));
        assert!(Challenge::generate(&mut Broken).is_err());
    }

    #[test]
    fn taken_once_and_for_the_ceremony_it_was_issued_for() {
        let mut rng = SeqRandom(2);
        let mut store = ChallengeStore::default();
        let account = AccountId::generate(&mut rng).unwrap();
        let member = MemberId::generate(&mut rng).unwrap();
        let sign_in = store.issue(Ceremony::SignIn, T0, &mut rng).unwrap();
        let step_up = store
            .issue(Ceremony::StepUp { account, member }, T0, &mut rng)
            .unwrap();
        assert_eq!(store.len(), 2);
        assert_eq!(
            store.take(&step_up, T0),
            Ok(Ceremony::StepUp { account, member })
        );
        assert_eq!(
            store.take(&step_up, T0),
            Err(ChallengeError::Unknown),
            "reused"
        );
        assert_eq!(store.take(&sign_in, T0), Ok(Ceremony::SignIn));
        assert!(store.is_empty());
        let never = Challenge::generate(&mut rng).unwrap();
        assert_eq!(store.take(&never, T0), Err(ChallengeError::Unknown));
    }

    #[test]
    fn expires_5_minutes_after_issue_to_the_millisecond() {
        let mut rng = SeqRandom(3);
        let mut store = ChallengeStore::default();
        let first = store.issue(Ceremony::SignIn, T0, &mut rng).unwrap();
        let second = store.issue(Ceremony::SignIn, T0, &mut rng).unwrap();
        assert_eq!(store.next_expiry(), Some(at(CHALLENGE_LIFETIME_MS)));
        assert_eq!(
            store.take(&first, at(CHALLENGE_LIFETIME_MS - 1)),
            Ok(Ceremony::SignIn)
        );
        assert_eq!(
            store.take(&second, at(CHALLENGE_LIFETIME_MS)),
            Err(ChallengeError::Expired)
        );
        assert_eq!(
            store.take(&second, at(CHALLENGE_LIFETIME_MS)),
            Err(ChallengeError::Unknown),
            "an expired challenge is gone"
        );
        assert_eq!(CHALLENGE_LIFETIME_MS, 300_000);
    }

    #[test]
    fn pruning_and_capacity_bound_the_store() {
        let mut rng = SeqRandom(4);
        let mut store = ChallengeStore::new(3);
        let oldest = store.issue(Ceremony::SignIn, T0, &mut rng).unwrap();
        let kept: Vec<_> = (0..3)
            .map(|i| store.issue(Ceremony::SignIn, at(i + 1), &mut rng).unwrap())
            .collect();
        assert_eq!(store.len(), 3);
        assert_eq!(
            store.take(&oldest, at(10)),
            Err(ChallengeError::Unknown),
            "evicted"
        );
        assert_eq!(store.take(&kept[0], at(10)), Ok(Ceremony::SignIn));
        // Issuing prunes expired ones first.
        let _late = store
            .issue(Ceremony::SignIn, at(CHALLENGE_LIFETIME_MS + 10), &mut rng)
            .unwrap();
        assert_eq!(store.len(), 1);
        store.prune(at(2 * CHALLENGE_LIFETIME_MS + 10));
        assert!(store.is_empty());
        assert_eq!(store.next_expiry(), None);
    }

    #[test]
    fn a_stored_capacity_of_zero_still_keeps_one() {
        let mut store: ChallengeStore =
            serde_json::from_str(r#"{"capacity":0,"pending":[]}"#).unwrap();
        let mut rng = SeqRandom(6);
        let first = store.issue(Ceremony::SignIn, T0, &mut rng).unwrap();
        let second = store.issue(Ceremony::SignIn, T0, &mut rng).unwrap();
        assert_eq!(store.len(), 1);
        assert_eq!(store.take(&first, T0), Err(ChallengeError::Unknown));
        assert_eq!(store.take(&second, T0), Ok(Ceremony::SignIn));
    }

    #[test]
    fn the_store_persists_without_any_challenge_in_it() {
        let mut rng = SeqRandom(5);
        let mut store = ChallengeStore::default();
        let account = AccountId::generate(&mut rng).unwrap();
        let member = MemberId::generate(&mut rng).unwrap();
        let user_handle = UserHandle::generate(&mut rng).unwrap();
        let ceremony = Ceremony::Registration {
            account,
            member,
            user_handle,
            invitation: None,
        };
        let challenge = store.issue(ceremony, T0, &mut rng).unwrap();
        let json = serde_json::to_string(&store).unwrap();
        assert!(!json.contains(&challenge.to_base64url()), "{json}");
        let hex = aero2_keys::encode_hex(challenge.as_bytes());
        assert!(!json.contains(&hex));
        assert!(!format!("{store:?}").contains(&hex));
        let mut restored: ChallengeStore = serde_json::from_str(&json).unwrap();
        assert_eq!(restored, store);
        assert_eq!(restored.take(&challenge, T0), Ok(ceremony));
    }

    proptest::proptest! {
        #[test]
        fn taken_iff_within_5_minutes_and_only_once(delay in 0u64..2 * CHALLENGE_LIFETIME_MS) {
            let mut rng = SeqRandom(delay);
            let mut store = ChallengeStore::default();
            let challenge = store.issue(Ceremony::SignIn, T0, &mut rng).unwrap();
            let first = store.take(&challenge, at(delay));
            proptest::prop_assert_eq!(first.is_ok(), delay < CHALLENGE_LIFETIME_MS);
            proptest::prop_assert!(store.take(&challenge, at(delay)).is_err());
        }
    }
}
