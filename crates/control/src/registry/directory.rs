//! The directory, inside the registry Durable Object: accounts, members, invitations,
//! people's passkeys and each account's audit log, in SQLite. Every command names its
//! caller and is decided here, with the rules of `aero2_accounts` (the role table, the
//! last owner, single-use invitations and challenges), in one strongly consistent place.
//!
//! A person is a user handle (the WebAuthn `user.id` of their passkeys); a member is a
//! person in one account, with a role. The passkey ceremonies are in `ceremonies.rs`.

use aero2_accounts::webauthn::CredentialRecord;
use aero2_accounts::{
    check_membership_change, may, AccountId, Action, DisplayName, Invitation, InvitationId,
    InvitationToken, Member, MemberId, MembershipChange, MembershipRefusal, Role, UserHandle,
};
use aero2_keys::http::ErrorCode;
use aero2_keys::{ApplicationId, RandomSource, SystemRandom, UnixMillis};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use worker::Response;

use super::ApplicationRegistry;
use crate::errors::{ApiError, ApiResult};
use crate::json::json_response;
use crate::protocol::{Caller, ClientInfo, DirectoryCommand, Membership};
use crate::schema::{before_cursor, int, opt_text, text};
use crate::views::Empty;

/// The id that stands for the operator where the accounts core wants a member (the
/// inviter of an account's first owner). No member can have it: ids are random.
pub(super) const OPERATOR_MEMBER: &str = "mem_0000000000000000";

/// Who acts in an account.
pub(super) enum Acting {
    Operator,
    Member(Member),
}

impl Acting {
    /// The inviter the accounts core records, and the role it acts with.
    fn as_inviter(&self) -> ApiResult<(MemberId, Role)> {
        Ok(match self {
            Acting::Operator => (operator_member()?, Role::Owner),
            Acting::Member(member) => (member.id, member.role),
        })
    }
}

fn operator_member() -> ApiResult<MemberId> {
    MemberId::parse(OPERATOR_MEMBER).map_err(|_| ErrorCode::TemporarilyUnavailable.into())
}

#[derive(Deserialize)]
struct RecordRow {
    record: String,
}

#[derive(Deserialize)]
struct AccountRow {
    id: String,
    name: String,
    created_at: u64,
}

#[derive(Deserialize)]
struct InvitationRow {
    record: String,
    member_id: Option<String>,
    name: Option<String>,
}

#[derive(Deserialize)]
struct PasskeyRow {
    id: String,
    name: String,
    created_at: u64,
    last_used_at: Option<u64>,
    record: String,
}

#[derive(Deserialize)]
struct AuditRow {
    seq: u64,
    at: u64,
    event: String,
    actor: String,
    ip: Option<String>,
    user_agent: Option<String>,
    detail: String,
}

#[derive(Deserialize)]
struct CountRow {
    count: u64,
}

// ----- views ------------------------------------------------------------------------

#[derive(Serialize)]
pub(super) struct AccountView {
    pub id: String,
    pub name: String,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
}

#[derive(Serialize)]
pub(super) struct MemberView {
    pub id: MemberId,
    pub account_id: AccountId,
    pub name: String,
    pub role: Role,
    pub joined_at: String,
}

impl MemberView {
    pub(super) fn of(member: &Member) -> Self {
        MemberView {
            id: member.id,
            account_id: member.account,
            name: member.display_name.as_str().to_owned(),
            role: member.role,
            joined_at: member.joined_at.to_rfc3339(),
        }
    }
}

#[derive(Serialize)]
struct InvitationView {
    id: InvitationId,
    role: Role,
    created_at: String,
    expires_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    member_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
}

#[derive(Serialize)]
struct PasskeyView {
    id: String,
    name: String,
    created_at: String,
    last_used_at: Option<String>,
    /// Synced to other devices by its provider.
    backed_up: bool,
}

#[derive(Serialize)]
struct AuditEntryView {
    id: String,
    at: String,
    event: String,
    actor: Box<RawValue>,
    ip: Option<String>,
    user_agent: Option<String>,
    detail: Box<RawValue>,
}

fn raw(json: String) -> Box<RawValue> {
    RawValue::from_string(json).unwrap_or_default()
}

fn time(ms: u64) -> String {
    UnixMillis(ms).to_rfc3339()
}

/// A name for an account: the rule of application names.
fn account_name(name: &str) -> ApiResult<String> {
    aero2_keys::http::bodies::clean_name(name, 100)
        .map(str::to_owned)
        .ok_or_else(|| ErrorCode::InvalidName.into())
}

pub(super) fn display_name(name: &str) -> ApiResult<DisplayName> {
    DisplayName::parse(name).map_err(|_| ErrorCode::InvalidDisplayName.into())
}

fn refused(refusal: MembershipRefusal) -> ApiError {
    match refusal {
        MembershipRefusal::Forbidden => ErrorCode::InsufficientRole.into(),
        MembershipRefusal::LastOwner => ErrorCode::LastOwner.into(),
    }
}

fn random_error<E>(_: E) -> ApiError {
    ErrorCode::RandomUnavailable.into()
}

impl ApplicationRegistry {
    pub(super) async fn directory(
        &self,
        command: DirectoryCommand,
        now: UnixMillis,
    ) -> ApiResult<Response> {
        match command {
            DirectoryCommand::CreateAccount { name, client } => {
                self.create_account(&name, &client, now)
            }
            DirectoryCommand::ListAccounts { by } => self.list_accounts(&by),
            DirectoryCommand::CreateInvitation {
                by,
                account,
                role,
                member,
                name,
                client,
            } => self.create_invitation(&by, account, role, member, name, &client, now),
            DirectoryCommand::ListInvitations { by, account } => {
                self.acting(&by, account)?;
                self.list_invitations(account, now)
            }
            DirectoryCommand::RevokeInvitation {
                by,
                account,
                invitation,
                client,
            } => self.revoke_invitation(&by, account, invitation, &client, now),
            DirectoryCommand::RegistrationOptions {
                invitation_token,
                by,
            } => self.registration_options(invitation_token.as_deref(), by.as_ref(), now),
            DirectoryCommand::Register {
                invitation_token,
                by,
                response,
                name,
                session,
                client,
            } => {
                self.register(
                    invitation_token.as_deref(),
                    by.as_ref(),
                    &response,
                    name.as_deref(),
                    &session,
                    &client,
                    now,
                )
                .await
            }
            DirectoryCommand::SignInOptions { by } => self.sign_in_options(by.as_ref(), now),
            DirectoryCommand::SignIn {
                response,
                session,
                step_up,
                client,
            } => {
                self.sign_in(&response, &session, step_up.as_ref(), &client, now)
                    .await
            }
            DirectoryCommand::SignedOut { by, client } => {
                if let Caller::Person { user_handle, .. } = &by {
                    self.audit_person(user_handle, "session.signed_out", &client, "{}", now)?;
                }
                Ok(json_response(200, &Empty {}))
            }
            DirectoryCommand::ListPasskeys { by } => self.list_passkeys(&person(&by)?),
            DirectoryCommand::RenamePasskey { by, passkey, name } => {
                self.rename_passkey(&person(&by)?, &passkey, &name)
            }
            DirectoryCommand::RemovePasskey {
                by,
                passkey,
                client,
            } => self.remove_passkey(&person(&by)?, &passkey, &client, now),
            DirectoryCommand::ListMembers { by, account } => {
                self.acting(&by, account)?;
                let members: Vec<MemberView> =
                    self.members(account)?.iter().map(MemberView::of).collect();
                Ok(json_response(
                    200,
                    &serde_json::json!({ "members": members }),
                ))
            }
            DirectoryCommand::ChangeRole {
                by,
                account,
                member,
                role,
                client,
            } => self.change_role(&by, account, member, role, &client, now),
            DirectoryCommand::RemoveMember {
                by,
                account,
                member,
                client,
            } => self.remove_member(&by, account, member, &client, now),
            DirectoryCommand::AuditLog {
                by,
                account,
                cursor,
                limit,
            } => {
                self.acting(&by, account)?;
                self.account_audit(account, cursor, limit)
            }
            DirectoryCommand::MoveApplication {
                application,
                account,
            } => self.move_application(application, account),
            DirectoryCommand::MayCreateApplication { by, account } => {
                match self.acting(&by, account)? {
                    Acting::Member(member) if !may(member.role, Action::CreateApplication) => {
                        Err(ErrorCode::InsufficientRole.into())
                    }
                    _ => Ok(json_response(200, &Empty {})),
                }
            }
        }
    }

    // ----- lookups --------------------------------------------------------------------

    pub(super) fn account(&self, account: AccountId) -> ApiResult<Option<AccountRecord>> {
        let rows: Vec<AccountRow> = self
            .sql
            .exec(
                "SELECT id, name, created_at FROM accounts WHERE id = ?",
                vec![text(account.to_string())],
            )?
            .to_array()?;
        Ok(rows.into_iter().next().map(|row| AccountRecord {
            name: row.name,
            created_at: row.created_at,
        }))
    }

    pub(super) fn members(&self, account: AccountId) -> ApiResult<Vec<Member>> {
        let rows: Vec<RecordRow> = self
            .sql
            .exec(
                "SELECT record FROM members WHERE account_id = ? ORDER BY rowid",
                vec![text(account.to_string())],
            )?
            .to_array()?;
        Ok(rows
            .iter()
            .filter_map(|row| serde_json::from_str(&row.record).ok())
            .collect())
    }

    fn member(&self, account: AccountId, member: MemberId) -> ApiResult<Option<Member>> {
        let rows: Vec<RecordRow> = self
            .sql
            .exec(
                "SELECT record FROM members WHERE id = ? AND account_id = ?",
                vec![text(member.to_string()), text(account.to_string())],
            )?
            .to_array()?;
        Ok(rows
            .first()
            .and_then(|row| serde_json::from_str(&row.record).ok()))
    }

    /// Every membership of a person, with the account's name.
    pub(super) fn memberships(&self, person: &UserHandle) -> ApiResult<Vec<Membership>> {
        #[derive(Deserialize)]
        struct Row {
            record: String,
            account_name: String,
        }
        let rows: Vec<Row> = self
            .sql
            .exec(
                "SELECT members.record AS record, accounts.name AS account_name
                 FROM members JOIN accounts ON accounts.id = members.account_id
                 WHERE members.user_handle = ? ORDER BY accounts.name",
                vec![text(person.to_base64url())],
            )?
            .to_array()?;
        Ok(rows
            .into_iter()
            .filter_map(|row| {
                let member: Member = serde_json::from_str(&row.record).ok()?;
                Some(Membership {
                    account_id: member.account,
                    account_name: row.account_name,
                    member_id: member.id,
                    name: member.display_name.as_str().to_owned(),
                    role: member.role,
                })
            })
            .collect())
    }

    fn save_member(&self, member: &Member) -> ApiResult<()> {
        let record =
            serde_json::to_string(member).map_err(|_| ErrorCode::TemporarilyUnavailable)?;
        self.sql.exec(
            "INSERT INTO members (id, account_id, user_handle, record) VALUES (?, ?, ?, ?)
             ON CONFLICT (id) DO UPDATE SET record = excluded.record",
            vec![
                text(member.id.to_string()),
                text(member.account.to_string()),
                text(member.user_handle.to_base64url()),
                text(record),
            ],
        )?;
        Ok(())
    }

    /// Who `by` is in `account`: the operator, or one of its members. Anyone else, and an
    /// account that does not exist, get the same 404.
    pub(super) fn acting(&self, by: &Caller, account: AccountId) -> ApiResult<Acting> {
        if self.account(account)?.is_none() {
            return Err(ErrorCode::AccountNotFound.into());
        }
        match by {
            Caller::Operator => Ok(Acting::Operator),
            Caller::Person { user_handle, .. } => {
                let member = self
                    .members(account)?
                    .into_iter()
                    .find(|member| member.user_handle == *user_handle)
                    .ok_or(ErrorCode::AccountNotFound)?;
                Ok(Acting::Member(member))
            }
        }
    }

    /// The member acting, for what only members do: "an account's owners and admins
    /// {what}; the operator does not".
    fn acting_member(&self, by: &Caller, account: AccountId, what: &str) -> ApiResult<Member> {
        match self.acting(by, account)? {
            Acting::Member(member) => Ok(member),
            Acting::Operator => Err(ApiError::with_detail(
                ErrorCode::InsufficientRole,
                format!("an account's owners and admins {what}; the operator does not"),
            )),
        }
    }

    // ----- the account's audit log --------------------------------------------------------

    /// Records `event` in `account`'s log. A member's address and browser are kept (the
    /// account's members may see each other's); the operator's never are.
    pub(super) fn audit(
        &self,
        account: AccountId,
        event: &str,
        actor: &Acting,
        client: &ClientInfo,
        detail: &str,
        now: UnixMillis,
    ) -> ApiResult<()> {
        let (actor, ip, user_agent) = match actor {
            Acting::Operator => ("\"operator\"".to_owned(), None, None),
            Acting::Member(member) => (
                serde_json::json!({
                    "type": "member",
                    "id": member.id,
                    "name": member.display_name.as_str(),
                })
                .to_string(),
                client.ip.clone(),
                client.user_agent.clone(),
            ),
        };
        self.sql.exec(
            "INSERT INTO account_audit (account_id, at, event, actor, ip, user_agent, detail)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
            vec![
                text(account.to_string()),
                int(now.0),
                text(event),
                text(actor),
                opt_text(ip),
                opt_text(user_agent),
                text(detail),
            ],
        )?;
        Ok(())
    }

    /// Records `event` in the log of every account the person is a member of, as that
    /// account's member.
    pub(super) fn audit_person(
        &self,
        person: &UserHandle,
        event: &str,
        client: &ClientInfo,
        detail: &str,
        now: UnixMillis,
    ) -> ApiResult<()> {
        for membership in self.memberships(person)? {
            if let Some(member) = self.member(membership.account_id, membership.member_id)? {
                let account = member.account;
                self.audit(account, event, &Acting::Member(member), client, detail, now)?;
            }
        }
        Ok(())
    }

    fn account_audit(
        &self,
        account: AccountId,
        cursor: Option<u64>,
        limit: u32,
    ) -> ApiResult<Response> {
        let limit = u64::from(limit.clamp(1, 100));
        let rows: Vec<AuditRow> = self
            .sql
            .exec(
                "SELECT seq, at, event, actor, ip, user_agent, detail FROM account_audit
                 WHERE account_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?",
                vec![
                    text(account.to_string()),
                    before_cursor(cursor),
                    int(limit + 1),
                ],
            )?
            .to_array()?;
        let more = rows.len() as u64 > limit;
        let entries: Vec<AuditEntryView> = rows
            .into_iter()
            .take(limit as usize)
            .map(|row| AuditEntryView {
                id: row.seq.to_string(),
                at: time(row.at),
                event: row.event,
                actor: raw(row.actor),
                ip: row.ip,
                user_agent: row.user_agent,
                detail: raw(row.detail),
            })
            .collect();
        let next_cursor = more
            .then(|| entries.last().map(|entry| entry.id.clone()))
            .flatten();
        Ok(json_response(
            200,
            &serde_json::json!({ "entries": entries, "next_cursor": next_cursor }),
        ))
    }

    // ----- accounts and invitations ------------------------------------------------------

    fn list_accounts(&self, by: &Caller) -> ApiResult<Response> {
        let accounts: Vec<AccountView> = match by {
            Caller::Operator => {
                let rows: Vec<AccountRow> = self
                    .sql
                    .exec(
                        "SELECT id, name, created_at FROM accounts ORDER BY name",
                        None,
                    )?
                    .to_array()?;
                rows.into_iter()
                    .map(|row| AccountView {
                        id: row.id,
                        name: row.name,
                        created_at: time(row.created_at),
                        role: None,
                    })
                    .collect()
            }
            Caller::Person { user_handle, .. } => {
                let mut accounts = Vec::new();
                for membership in self.memberships(user_handle)? {
                    if let Some(account) = self.account(membership.account_id)? {
                        accounts.push(AccountView {
                            id: membership.account_id.to_string(),
                            name: account.name,
                            created_at: time(account.created_at),
                            role: Some(membership.role),
                        });
                    }
                }
                accounts
            }
        };
        Ok(json_response(
            200,
            &serde_json::json!({ "accounts": accounts }),
        ))
    }

    fn create_account(
        &self,
        name: &str,
        client: &ClientInfo,
        now: UnixMillis,
    ) -> ApiResult<Response> {
        let name = account_name(name)?;
        let id = AccountId::generate(&mut SystemRandom).map_err(random_error)?;
        self.sql.exec(
            "INSERT INTO accounts (id, name, created_at) VALUES (?, ?, ?)",
            vec![text(id.to_string()), text(name.clone()), int(now.0)],
        )?;
        self.audit(
            id,
            "account.created",
            &Acting::Operator,
            client,
            &serde_json::json!({ "name": name }).to_string(),
            now,
        )?;
        let invited =
            self.issue_invitation(id, &Acting::Operator, Role::Owner, None, None, client, now)?;
        let account = AccountView {
            id: id.to_string(),
            name,
            created_at: time(now.0),
            role: None,
        };
        Ok(json_response(
            201,
            &serde_json::json!({
                "account": account,
                "invitation": invited.view,
                "token": invited.token,
                "url": invited.url,
            }),
        ))
    }

    #[allow(clippy::too_many_arguments)]
    fn create_invitation(
        &self,
        by: &Caller,
        account: AccountId,
        role: Role,
        member: Option<MemberId>,
        name: Option<String>,
        client: &ClientInfo,
        now: UnixMillis,
    ) -> ApiResult<Response> {
        let acting = self.acting(by, account)?;
        // The operator keeps the platform's tasks only: an account's owners.
        if matches!(acting, Acting::Operator) && role != Role::Owner {
            return Err(ApiError::with_detail(
                ErrorCode::InsufficientRole,
                "the operator invites owners only; an account's owners and admins invite the rest",
            ));
        }
        let name = name.map(|name| display_name(&name)).transpose()?;
        // Re-enrolling a member who lost their passkeys: the invitation is for that member,
        // with their own role.
        let role = match member {
            Some(id) => {
                let target = self.member(account, id)?.ok_or(ErrorCode::MemberNotFound)?;
                if target.role != role {
                    return Err(ApiError::with_detail(
                        ErrorCode::InvalidRole,
                        "a re-enrolment invitation keeps the member's role",
                    ));
                }
                target.role
            }
            None => role,
        };
        let invited = self.issue_invitation(
            account,
            &acting,
            role,
            member,
            name.as_ref().map(|n| n.as_str().to_owned()),
            client,
            now,
        )?;
        Ok(json_response(
            201,
            &serde_json::json!({
                "invitation": invited.view,
                "token": invited.token,
                "url": invited.url,
            }),
        ))
    }

    #[allow(clippy::too_many_arguments)]
    fn issue_invitation(
        &self,
        account: AccountId,
        acting: &Acting,
        role: Role,
        member: Option<MemberId>,
        name: Option<String>,
        client: &ClientInfo,
        now: UnixMillis,
    ) -> ApiResult<Issued> {
        let inviter = acting.as_inviter()?;
        if let Acting::Member(_) = acting {
            let owners = self.owners(account)?;
            check_membership_change(inviter, MembershipChange::Invite { role }, owners)
                .map_err(refused)?;
        }
        let (invitation, token) = Invitation::issue(account, inviter, role, now, &mut SystemRandom)
            .map_err(|err| match err {
                aero2_accounts::invitation::IssueError::Forbidden => {
                    ApiError::from(ErrorCode::InsufficientRole)
                }
                aero2_accounts::invitation::IssueError::Random(_) => {
                    ErrorCode::RandomUnavailable.into()
                }
            })?;
        let record =
            serde_json::to_string(&invitation).map_err(|_| ErrorCode::TemporarilyUnavailable)?;
        self.sql.exec(
            "INSERT INTO invitations (id, account_id, token_hash, record, member_id, name)
             VALUES (?, ?, ?, ?, ?, ?)",
            vec![
                text(invitation.id.to_string()),
                text(account.to_string()),
                text(invitation.token_hash.to_hex()),
                text(record),
                opt_text(member.map(|id| id.to_string())),
                opt_text(name.clone()),
            ],
        )?;
        self.audit(
            account,
            "member.invited",
            acting,
            client,
            &serde_json::json!({
                "invitation_id": invitation.id,
                "role": role,
                "member_id": member,
            })
            .to_string(),
            now,
        )?;
        let origin = self
            .config()
            .relying_party
            .as_ref()
            .map(|rp| rp.origin().to_owned());
        Ok(Issued {
            view: InvitationView {
                id: invitation.id,
                role,
                created_at: time(now.0),
                expires_at: invitation.expires_at.to_rfc3339(),
                member_id: member.map(|id| id.to_string()),
                name,
            },
            // In the fragment: it never reaches a server's logs.
            url: origin.map(|origin| format!("{origin}/dashboard/#invitation={}", token.expose())),
            token: token.expose().to_owned(),
        })
    }

    fn owners(&self, account: AccountId) -> ApiResult<usize> {
        Ok(self
            .members(account)?
            .iter()
            .filter(|member| member.role == Role::Owner)
            .count())
    }

    fn list_invitations(&self, account: AccountId, now: UnixMillis) -> ApiResult<Response> {
        let rows: Vec<InvitationRow> = self
            .sql
            .exec(
                "SELECT record, member_id, name FROM invitations WHERE account_id = ? ORDER BY rowid DESC",
                vec![text(account.to_string())],
            )?
            .to_array()?;
        let invitations: Vec<InvitationView> = rows
            .into_iter()
            .filter_map(|row| {
                let invitation: Invitation = serde_json::from_str(&row.record).ok()?;
                invitation.is_open(now).then(|| InvitationView {
                    id: invitation.id,
                    role: invitation.role,
                    created_at: invitation.created_at.to_rfc3339(),
                    expires_at: invitation.expires_at.to_rfc3339(),
                    member_id: row.member_id,
                    name: row.name,
                })
            })
            .collect();
        Ok(json_response(
            200,
            &serde_json::json!({ "invitations": invitations }),
        ))
    }

    fn revoke_invitation(
        &self,
        by: &Caller,
        account: AccountId,
        id: InvitationId,
        client: &ClientInfo,
        now: UnixMillis,
    ) -> ApiResult<Response> {
        let acting = self.acting(by, account)?;
        let rows: Vec<InvitationRow> = self
            .sql
            .exec(
                "SELECT record, member_id, name FROM invitations WHERE id = ? AND account_id = ?",
                vec![text(id.to_string()), text(account.to_string())],
            )?
            .to_array()?;
        let mut invitation: Invitation = rows
            .first()
            .and_then(|row| serde_json::from_str(&row.record).ok())
            .filter(|invitation: &Invitation| invitation.is_open(now))
            .ok_or(ErrorCode::InvitationNotFound)?;
        if let Acting::Member(member) = &acting {
            check_membership_change(
                (member.id, member.role),
                MembershipChange::RevokeInvitation {
                    role: invitation.role,
                },
                self.owners(account)?,
            )
            .map_err(refused)?;
        }
        invitation
            .revoke(now)
            .map_err(|_| ApiError::from(ErrorCode::InvitationNotFound))?;
        self.save_invitation(&invitation)?;
        self.audit(
            account,
            "invitation.revoked",
            &acting,
            client,
            &serde_json::json!({ "invitation_id": id, "role": invitation.role }).to_string(),
            now,
        )?;
        Ok(json_response(200, &Empty {}))
    }

    pub(super) fn save_invitation(&self, invitation: &Invitation) -> ApiResult<()> {
        let record =
            serde_json::to_string(invitation).map_err(|_| ErrorCode::TemporarilyUnavailable)?;
        self.sql.exec(
            "UPDATE invitations SET record = ? WHERE id = ?",
            vec![text(record), text(invitation.id.to_string())],
        )?;
        Ok(())
    }

    /// The open invitation a token names, with its re-enrolment target and suggested name.
    /// A malformed, unknown, used, expired or revoked token: the same 404.
    pub(super) fn open_invitation(
        &self,
        token: &str,
        now: UnixMillis,
    ) -> ApiResult<(
        Invitation,
        InvitationToken,
        Option<MemberId>,
        Option<String>,
    )> {
        let not_found = || ApiError::from(ErrorCode::InvitationNotFound);
        let token = InvitationToken::parse(token).map_err(|_| not_found())?;
        let rows: Vec<InvitationRow> = self
            .sql
            .exec(
                "SELECT record, member_id, name FROM invitations WHERE token_hash = ?",
                vec![text(token.hash().to_hex())],
            )?
            .to_array()?;
        let row = rows.into_iter().next().ok_or_else(not_found)?;
        let invitation: Invitation = serde_json::from_str(&row.record).map_err(|_| not_found())?;
        if !invitation.is_open(now) {
            return Err(not_found());
        }
        let member = row.member_id.and_then(|id| MemberId::parse(&id).ok());
        Ok((invitation, token, member, row.name))
    }

    // ----- members ------------------------------------------------------------------------

    fn change_role(
        &self,
        by: &Caller,
        account: AccountId,
        target: MemberId,
        role: Role,
        client: &ClientInfo,
        now: UnixMillis,
    ) -> ApiResult<Response> {
        let actor = self.acting_member(by, account, "change roles")?;
        let mut member = self
            .member(account, target)?
            .ok_or(ErrorCode::MemberNotFound)?;
        check_membership_change(
            (actor.id, actor.role),
            MembershipChange::ChangeRole {
                member: target,
                from: member.role,
                to: role,
            },
            self.owners(account)?,
        )
        .map_err(refused)?;
        // Changing a role cannot be undone by the person it harms: it needs a passkey
        // ceremony within the last 5 minutes.
        if !stepped_up(by, now) {
            return Err(ErrorCode::ReauthenticationRequired.into());
        }
        let from = member.role;
        member.role = role;
        self.save_member(&member)?;
        self.audit(
            account,
            "member.role_changed",
            &Acting::Member(actor),
            client,
            &serde_json::json!({ "member_id": target, "name": member.display_name.as_str(), "from": from, "to": role })
                .to_string(),
            now,
        )?;
        Ok(json_response(
            200,
            &serde_json::json!({ "member": MemberView::of(&member) }),
        ))
    }

    fn remove_member(
        &self,
        by: &Caller,
        account: AccountId,
        target: MemberId,
        client: &ClientInfo,
        now: UnixMillis,
    ) -> ApiResult<Response> {
        let actor = self.acting_member(by, account, "remove members")?;
        let member = self
            .member(account, target)?
            .ok_or(ErrorCode::MemberNotFound)?;
        check_membership_change(
            (actor.id, actor.role),
            MembershipChange::Remove {
                member: target,
                role: member.role,
            },
            self.owners(account)?,
        )
        .map_err(refused)?;
        self.sql.exec(
            "DELETE FROM members WHERE id = ?",
            vec![text(target.to_string())],
        )?;
        // Their sessions end at once if this was their last account; otherwise the
        // sessions lose this account, since every request checks the membership.
        if self.memberships(&member.user_handle)?.is_empty() {
            self.sql.exec(
                "DELETE FROM sessions WHERE user_handle = ?",
                vec![text(member.user_handle.to_base64url())],
            )?;
        }
        self.audit(
            account,
            "member.removed",
            &Acting::Member(actor),
            client,
            &serde_json::json!({ "member_id": target, "name": member.display_name.as_str(), "role": member.role })
                .to_string(),
            now,
        )?;
        Ok(json_response(200, &Empty {}))
    }

    fn move_application(
        &self,
        application: ApplicationId,
        account: AccountId,
    ) -> ApiResult<Response> {
        if self.account(account)?.is_none() {
            return Err(ErrorCode::AccountNotFound.into());
        }
        let known: Vec<CountRow> = self
            .sql
            .exec(
                "SELECT COUNT(*) AS count FROM applications WHERE id = ?",
                vec![text(application.to_string())],
            )?
            .to_array()?;
        if known.first().is_none_or(|row| row.count == 0) {
            return Err(ErrorCode::ApplicationNotFound.into());
        }
        self.sql.exec(
            "INSERT INTO application_accounts (application_id, account_id) VALUES (?, ?)
             ON CONFLICT (application_id) DO UPDATE SET account_id = excluded.account_id",
            vec![text(application.to_string()), text(account.to_string())],
        )?;
        Ok(json_response(200, &Empty {}))
    }

    // ----- passkeys -----------------------------------------------------------------------

    pub(super) fn passkeys(
        &self,
        person: &UserHandle,
    ) -> ApiResult<Vec<(PasskeyMeta, CredentialRecord)>> {
        let rows: Vec<PasskeyRow> = self
            .sql
            .exec(
                "SELECT id, name, created_at, last_used_at, record FROM passkeys WHERE user_handle = ? ORDER BY created_at",
                vec![text(person.to_base64url())],
            )?
            .to_array()?;
        Ok(rows
            .into_iter()
            .filter_map(|row| {
                let record = serde_json::from_str(&row.record).ok()?;
                Some((
                    PasskeyMeta {
                        id: row.id,
                        name: row.name,
                        created_at: row.created_at,
                        last_used_at: row.last_used_at,
                    },
                    record,
                ))
            })
            .collect())
    }

    fn list_passkeys(&self, person: &UserHandle) -> ApiResult<Response> {
        let passkeys: Vec<PasskeyView> = self
            .passkeys(person)?
            .into_iter()
            .map(|(meta, record)| PasskeyView {
                id: meta.id,
                name: meta.name,
                created_at: time(meta.created_at),
                last_used_at: meta.last_used_at.map(time),
                backed_up: record.backed_up,
            })
            .collect();
        Ok(json_response(
            200,
            &serde_json::json!({ "passkeys": passkeys }),
        ))
    }

    fn rename_passkey(&self, person: &UserHandle, id: &str, name: &str) -> ApiResult<Response> {
        let name = display_name(name)?;
        let renamed = self
            .sql
            .exec(
                "UPDATE passkeys SET name = ? WHERE id = ? AND user_handle = ?",
                vec![text(name.as_str()), text(id), text(person.to_base64url())],
            )?
            .rows_written();
        if renamed == 0 {
            return Err(ErrorCode::PasskeyNotFound.into());
        }
        self.list_passkeys(person)
    }

    fn remove_passkey(
        &self,
        person: &UserHandle,
        id: &str,
        client: &ClientInfo,
        now: UnixMillis,
    ) -> ApiResult<Response> {
        let passkeys = self.passkeys(person)?;
        let Some((meta, _)) = passkeys.iter().find(|(meta, _)| meta.id == id) else {
            return Err(ErrorCode::PasskeyNotFound.into());
        };
        if passkeys.len() == 1 {
            return Err(ErrorCode::LastPasskey.into());
        }
        self.sql.exec(
            "DELETE FROM passkeys WHERE id = ? AND user_handle = ?",
            vec![text(id), text(person.to_base64url())],
        )?;
        self.audit_person(
            person,
            "passkey.removed",
            client,
            &serde_json::json!({ "passkey_id": id, "name": meta.name }).to_string(),
            now,
        )?;
        self.list_passkeys(person)
    }

    pub(super) fn save_passkey(
        &self,
        name: &str,
        record: &CredentialRecord,
        now: UnixMillis,
    ) -> ApiResult<()> {
        let json = serde_json::to_string(record).map_err(|_| ErrorCode::TemporarilyUnavailable)?;
        self.sql.exec(
            "INSERT INTO passkeys (id, user_handle, name, created_at, last_used_at, record)
             VALUES (?, ?, ?, ?, NULL, ?)",
            vec![
                text(record.id.to_base64url()),
                text(record.user_handle.to_base64url()),
                text(name),
                int(now.0),
                text(json),
            ],
        )?;
        Ok(())
    }

    pub(super) fn passkey(&self, id: &str) -> ApiResult<Option<CredentialRecord>> {
        let rows: Vec<RecordRow> = self
            .sql
            .exec("SELECT record FROM passkeys WHERE id = ?", vec![text(id)])?
            .to_array()?;
        Ok(rows
            .first()
            .and_then(|row| serde_json::from_str(&row.record).ok()))
    }

    pub(super) fn passkey_used(&self, record: &CredentialRecord, now: UnixMillis) -> ApiResult<()> {
        let json = serde_json::to_string(record).map_err(|_| ErrorCode::TemporarilyUnavailable)?;
        self.sql.exec(
            "UPDATE passkeys SET record = ?, last_used_at = ? WHERE id = ?",
            vec![text(json), int(now.0), text(record.id.to_base64url())],
        )?;
        Ok(())
    }

    pub(super) fn new_member(
        &self,
        account: AccountId,
        id: MemberId,
        person: UserHandle,
        name: DisplayName,
        role: Role,
        now: UnixMillis,
    ) -> ApiResult<Member> {
        let member = Member {
            id,
            account,
            display_name: name,
            role,
            user_handle: person,
            joined_at: now,
        };
        self.save_member(&member)?;
        Ok(member)
    }

    pub(super) fn random_member_id(&self) -> ApiResult<MemberId> {
        MemberId::generate(&mut SystemRandom).map_err(random_error)
    }

    pub(super) fn random_person(&self) -> ApiResult<UserHandle> {
        let mut bytes = [0u8; UserHandle::LEN];
        SystemRandom.fill_bytes(&mut bytes).map_err(random_error)?;
        Ok(UserHandle::from_bytes(bytes))
    }
}

/// What the directory keeps about a passkey besides its record.
pub(super) struct PasskeyMeta {
    pub id: String,
    pub name: String,
    pub created_at: u64,
    pub last_used_at: Option<u64>,
}

pub(super) struct AccountRecord {
    pub name: String,
    pub created_at: u64,
}

struct Issued {
    view: InvitationView,
    token: String,
    url: Option<String>,
}

/// The person a command is for: only a signed-in person has passkeys.
pub(super) fn person(by: &Caller) -> ApiResult<UserHandle> {
    match by {
        Caller::Person { user_handle, .. } => Ok(*user_handle),
        Caller::Operator => Err(ApiError::with_detail(
            ErrorCode::NotSignedIn,
            "passkeys belong to people: sign in with a passkey",
        )),
    }
}

/// Whether the caller's session had a passkey ceremony in the last 5 minutes.
pub(super) fn stepped_up(by: &Caller, now: UnixMillis) -> bool {
    match by {
        Caller::Operator => false,
        Caller::Person {
            authenticated_at, ..
        } => now.0 < authenticated_at.saturating_add(aero2_accounts::session::STEP_UP_WINDOW_MS),
    }
}
