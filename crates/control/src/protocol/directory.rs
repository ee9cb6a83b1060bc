//! Commands to the directory: accounts, their members and invitations, people's passkeys
//! and the accounts' audit logs. The registry Durable Object keeps them, beside the
//! applications and the dashboard sessions, so that one strongly consistent object
//! answers "who is this session, and what may they do here" in one call.
//!
//! Every command names its caller ([`Caller`]): the control plane authenticated it (the
//! operator's token or session, or a person's session), and the directory decides what
//! that caller may do with the rules of `aero2_accounts`.

use aero2_accounts::{AccountId, InvitationId, MemberId, Role, UserHandle};
use aero2_keys::ApplicationId;
use serde::{Deserialize, Serialize};

use super::ClientInfo;

/// Who asks.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Caller {
    /// `ADMIN_TOKEN`, or the operator's dashboard session.
    Operator,
    /// A person signed in with a passkey: their passkeys' user handle, the session, and
    /// when its last passkey ceremony was (for step-up).
    Person {
        user_handle: UserHandle,
        session_id: String,
        authenticated_at: u64,
    },
}

/// A session to create once a ceremony succeeds: the control plane made the token (it
/// goes into the cookie) and sends only its hash.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NewSession {
    pub token_hash: String,
    pub id: String,
    pub csrf: String,
}

/// The directory's commands (externally tagged: `{"create_account": {…}}`).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DirectoryCommand {
    /// The operator creates an account and its first owner's invitation.
    CreateAccount {
        name: String,
        client: ClientInfo,
    },
    /// Every account (the operator), or the caller's.
    ListAccounts {
        by: Caller,
    },
    /// An invitation to join with `role`; with `member`, it re-enrols that member (one who
    /// lost their passkeys) instead.
    CreateInvitation {
        by: Caller,
        account: AccountId,
        role: Role,
        member: Option<MemberId>,
        name: Option<String>,
        client: ClientInfo,
    },
    ListInvitations {
        by: Caller,
        account: AccountId,
    },
    RevokeInvitation {
        by: Caller,
        account: AccountId,
        invitation: InvitationId,
        client: ClientInfo,
    },
    /// Creation options: for an invitation's token, or (`by`, no token) a signed-in person
    /// adding a passkey.
    RegistrationOptions {
        invitation_token: Option<String>,
        by: Option<Caller>,
    },
    /// The answer to the creation options (`credential.toJSON()`, as text).
    Register {
        invitation_token: Option<String>,
        by: Option<Caller>,
        response: String,
        name: Option<String>,
        session: NewSession,
        client: ClientInfo,
    },
    /// Request options: a discoverable sign-in, or (`by`) a step-up with the person's own
    /// passkeys.
    SignInOptions {
        by: Option<Caller>,
    },
    /// The answer to the request options (`credential.toJSON()`, as text). With `step_up`,
    /// the person's current session is confirmed instead of a new one made.
    SignIn {
        response: String,
        session: NewSession,
        step_up: Option<Caller>,
        client: ClientInfo,
    },
    SignedOut {
        by: Caller,
        client: ClientInfo,
    },
    ListPasskeys {
        by: Caller,
    },
    RenamePasskey {
        by: Caller,
        passkey: String,
        name: String,
    },
    RemovePasskey {
        by: Caller,
        passkey: String,
        client: ClientInfo,
    },
    ListMembers {
        by: Caller,
        account: AccountId,
    },
    ChangeRole {
        by: Caller,
        account: AccountId,
        member: MemberId,
        role: Role,
        client: ClientInfo,
    },
    RemoveMember {
        by: Caller,
        account: AccountId,
        member: MemberId,
        client: ClientInfo,
    },
    AuditLog {
        by: Caller,
        account: AccountId,
        cursor: Option<u64>,
        limit: u32,
    },
    /// The operator moves an application into an account.
    MoveApplication {
        application: ApplicationId,
        account: AccountId,
    },
    /// Whether `by` may create an application in `account` (admins and owners).
    MayCreateApplication {
        by: Caller,
        account: AccountId,
    },
}

/// A person's membership of one account, as a session sees it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Membership {
    pub account_id: AccountId,
    pub account_name: String,
    pub member_id: MemberId,
    pub name: String,
    pub role: Role,
}
