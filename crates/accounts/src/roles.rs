//! Who may do what in an account: the four roles, the one permission table ([`may`]), the
//! membership rules that need more than the table ([`check_membership_change`]) and which
//! actions need a fresh passkey ceremony ([`Action::needs_step_up`]).
//!
//! | may | viewer | developer | admin | owner |
//! |---|---|---|---|---|
//! | see applications, keys (never values), usage, audit logs, webhook endpoints | ✔ | ✔ | ✔ | ✔ |
//! | create, change, rotate, suspend, resume, revoke keys of development applications | – | ✔ | ✔ | ✔ |
//! | the same for production applications; webhooks; create applications | – | – | ✔ | ✔ |
//! | invite and remove members, change roles up to their own | – | – | ✔ (not owners) | ✔ |
//! | make owners; an account always keeps at least one owner | – | – | – | ✔ |

use core::fmt;

use aero2_keys::{Environment, KeyKind};
use serde::{Deserialize, Serialize};

use crate::ids::MemberId;

/// A member's role. Declared from least to most powerful, so `Ord` is the rank: a role
/// may grant, change and remove only roles `<=` its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Viewer,
    Developer,
    Admin,
    Owner,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Developer, Role::Admin, Role::Owner];

    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Developer => "developer",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.as_str() == text)
    }

    /// Whether this role may give `role` to someone (by invitation or a role change):
    /// admins and owners, and never above their own role, so only owners make owners.
    pub fn may_grant(self, role: Role) -> bool {
        self >= Role::Admin && role <= self
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What can be done to a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyOperation {
    Create,
    /// Label, policy, scopes: anything but the key's status.
    Change,
    Rotate,
    Suspend,
    Resume,
    Revoke,
}

impl KeyOperation {
    pub const ALL: [KeyOperation; 6] = [
        KeyOperation::Create,
        KeyOperation::Change,
        KeyOperation::Rotate,
        KeyOperation::Suspend,
        KeyOperation::Resume,
        KeyOperation::Revoke,
    ];
}

/// What can be done to a webhook endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WebhookOperation {
    Create,
    Change,
    RotateSecret,
    Delete,
}

impl WebhookOperation {
    pub const ALL: [WebhookOperation; 4] = [
        WebhookOperation::Create,
        WebhookOperation::Change,
        WebhookOperation::RotateSecret,
        WebhookOperation::Delete,
    ];
}

/// Something a member asks to do. Actions on keys carry the application's environment
/// (`Test` is a development application, `Live` a production one) and the key's kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    ViewApplications,
    /// Key metadata only: a key's value is shown once, at creation, and never again.
    ViewKeys,
    ViewUsage,
    ViewAuditLog,
    ViewWebhookEndpoints,
    Key {
        operation: KeyOperation,
        environment: Environment,
        kind: KeyKind,
    },
    Webhook(WebhookOperation),
    CreateApplication,
    /// Invite someone who will join with `role`.
    InviteMember {
        role: Role,
    },
    /// Withdraw a pending invitation for `role` (the same right as making it).
    RevokeInvitation {
        role: Role,
    },
    /// Remove a member who has role `target` (removing yourself is leaving; see
    /// [`MembershipChange::Leave`]).
    RemoveMember {
        target: Role,
    },
    /// Change a member's role from `from` to `to`.
    ChangeRole {
        from: Role,
        to: Role,
    },
}

/// The permission table. Pure and total: every role and action has an answer.
///
/// Membership actions answer only what the table says (the actor's rank against the
/// roles involved); [`check_membership_change`] adds the rules that need the account's
/// state (the last owner, leaving).
pub fn may(role: Role, action: Action) -> bool {
    match action {
        Action::ViewApplications
        | Action::ViewKeys
        | Action::ViewUsage
        | Action::ViewAuditLog
        | Action::ViewWebhookEndpoints => true,
        Action::Key {
            environment: Environment::Test,
            ..
        } => role >= Role::Developer,
        Action::Key {
            environment: Environment::Live,
            ..
        }
        | Action::Webhook(_)
        | Action::CreateApplication => role >= Role::Admin,
        Action::InviteMember { role: granted } | Action::RevokeInvitation { role: granted } => {
            role.may_grant(granted)
        }
        Action::RemoveMember { target } => role >= Role::Admin && target <= role,
        Action::ChangeRole { from, to } => role >= Role::Admin && from <= role && to <= role,
    }
}

impl Action {
    /// Whether the action needs a passkey ceremony within the last 5 minutes (see
    /// [`crate::session::Session::step_up_is_fresh`]): revoking or rotating a production
    /// secret key, deleting a webhook endpoint, changing a role.
    pub const fn needs_step_up(self) -> bool {
        matches!(
            self,
            Action::Key {
                operation: KeyOperation::Revoke | KeyOperation::Rotate,
                environment: Environment::Live,
                kind: KeyKind::Secret,
            } | Action::Webhook(WebhookOperation::Delete)
                | Action::ChangeRole { .. }
        )
    }
}

/// A change to an account's membership, with what the rules need to know about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MembershipChange {
    Invite {
        role: Role,
    },
    RevokeInvitation {
        role: Role,
    },
    /// Remove `member`, whose role is `role`. Naming the actor itself is leaving.
    Remove {
        member: MemberId,
        role: Role,
    },
    /// Give `member` (now `from`) the role `to`. The actor may name itself.
    ChangeRole {
        member: MemberId,
        from: Role,
        to: Role,
    },
    /// The actor leaves the account.
    Leave,
}

/// Why a membership change is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MembershipRefusal {
    /// The actor's role does not allow it (403 `insufficient_role`).
    Forbidden,
    /// It would leave the account without an owner (409 `last_owner`).
    LastOwner,
}

impl MembershipRefusal {
    /// A stable machine-readable code for the API.
    pub const fn code(self) -> &'static str {
        match self {
            MembershipRefusal::Forbidden => "insufficient_role",
            MembershipRefusal::LastOwner => "last_owner",
        }
    }
}

impl fmt::Display for MembershipRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MembershipRefusal::Forbidden => "your role does not allow this change",
            MembershipRefusal::LastOwner => "an account must keep at least one owner",
        })
    }
}

impl core::error::Error for MembershipRefusal {}

/// Checks a membership change by `actor` (its id and role) in an account that has
/// `owners` owners now (the actor and the target included).
///
/// The table first ([`may`]), then the rule that an account always keeps an owner: the
/// last owner can be neither removed nor demoted, and cannot leave. Anyone may leave,
/// except the last owner. An account in an inconsistent state (no owner at all) refuses
/// every change that would take an owner away.
pub fn check_membership_change(
    actor: (MemberId, Role),
    change: MembershipChange,
    owners: usize,
) -> Result<(), MembershipRefusal> {
    let (actor_id, actor_role) = actor;
    let (allowed, loses_an_owner) = match change {
        MembershipChange::Invite { role } => {
            (may(actor_role, Action::InviteMember { role }), false)
        }
        MembershipChange::RevokeInvitation { role } => {
            (may(actor_role, Action::RevokeInvitation { role }), false)
        }
        MembershipChange::Leave => (true, actor_role == Role::Owner),
        MembershipChange::Remove { member, role } if member == actor_id => {
            (true, role == Role::Owner)
        }
        MembershipChange::Remove { role, .. } => (
            may(actor_role, Action::RemoveMember { target: role }),
            role == Role::Owner,
        ),
        MembershipChange::ChangeRole { from, to, .. } => (
            may(actor_role, Action::ChangeRole { from, to }),
            from == Role::Owner && to != Role::Owner,
        ),
    };
    if !allowed {
        return Err(MembershipRefusal::Forbidden);
    }
    if loses_an_owner && owners <= 1 {
        return Err(MembershipRefusal::LastOwner);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;
    use Role::{Admin as A, Developer as D, Owner as O, Viewer as V};

    /// Every action the table can be asked about.
    fn every_action() -> Vec<Action> {
        let mut all = alloc::vec![
            Action::ViewApplications,
            Action::ViewKeys,
            Action::ViewUsage,
            Action::ViewAuditLog,
            Action::ViewWebhookEndpoints,
            Action::CreateApplication,
        ];
        for operation in KeyOperation::ALL {
            for environment in [Environment::Test, Environment::Live] {
                for kind in KeyKind::ALL {
                    all.push(Action::Key {
                        operation,
                        environment,
                        kind,
                    });
                }
            }
        }
        all.extend(WebhookOperation::ALL.map(Action::Webhook));
        for role in Role::ALL {
            all.push(Action::InviteMember { role });
            all.push(Action::RevokeInvitation { role });
            all.push(Action::RemoveMember { target: role });
            for to in Role::ALL {
                all.push(Action::ChangeRole { from: role, to });
            }
        }
        all
    }

    /// The table, written out as data, independently of `may`: for each action,
    /// the roles (viewer, developer, admin, owner) that may do it.
    fn expected(action: Action) -> [bool; 4] {
        const ALL: [bool; 4] = [true, true, true, true];
        const DEVELOPER_UP: [bool; 4] = [false, true, true, true];
        const ADMIN_UP: [bool; 4] = [false, false, true, true];
        const OWNER: [bool; 4] = [false, false, false, true];
        // Membership: rows are the role acted on (or granted), V D A O; an admin reaches
        // every role but owner, an owner every role.
        const MEMBERSHIP: [[bool; 4]; 4] = [ADMIN_UP, ADMIN_UP, ADMIN_UP, OWNER];
        let index = |role: Role| Role::ALL.iter().position(|r| *r == role).unwrap();
        match action {
            Action::ViewApplications
            | Action::ViewKeys
            | Action::ViewUsage
            | Action::ViewAuditLog
            | Action::ViewWebhookEndpoints => ALL,
            Action::Key {
                environment: Environment::Test,
                ..
            } => DEVELOPER_UP,
            Action::Key {
                environment: Environment::Live,
                ..
            } => ADMIN_UP,
            Action::Webhook(_) | Action::CreateApplication => ADMIN_UP,
            Action::InviteMember { role }
            | Action::RevokeInvitation { role }
            | Action::RemoveMember { target: role } => MEMBERSHIP[index(role)],
            Action::ChangeRole { from, to } => {
                let (a, b) = (MEMBERSHIP[index(from)], MEMBERSHIP[index(to)]);
                [a[0] && b[0], a[1] && b[1], a[2] && b[2], a[3] && b[3]]
            }
        }
    }

    #[test]
    fn may_is_the_table_for_every_role_and_action() {
        let actions = every_action();
        assert_eq!(actions.len(), 6 + 6 * 2 * 2 + 4 + 4 * 3 + 16);
        for action in actions {
            let want = expected(action);
            for (role, want) in Role::ALL.into_iter().zip(want) {
                assert_eq!(may(role, action), want, "{role} {action:?}");
            }
        }
    }

    #[test]
    fn role_changes_spelled_out() {
        // actor → rows `from`, columns `to` (V D A O).
        let grids: [(Role, [[u8; 4]; 4]); 4] = [
            (V, [[0; 4]; 4]),
            (D, [[0; 4]; 4]),
            (A, [[1, 1, 1, 0], [1, 1, 1, 0], [1, 1, 1, 0], [0, 0, 0, 0]]),
            (O, [[1; 4]; 4]),
        ];
        for (actor, grid) in grids {
            for (from, row) in Role::ALL.into_iter().zip(grid) {
                for (to, cell) in Role::ALL.into_iter().zip(row) {
                    assert_eq!(
                        may(actor, Action::ChangeRole { from, to }),
                        cell == 1,
                        "{actor}: {from} → {to}"
                    );
                }
            }
        }
    }

    #[test]
    fn step_up_is_needed_exactly_for_the_three_kinds_of_action() {
        for action in every_action() {
            let want = match action {
                Action::Key {
                    operation,
                    environment,
                    kind,
                } => {
                    environment == Environment::Live
                        && kind == KeyKind::Secret
                        && matches!(operation, KeyOperation::Revoke | KeyOperation::Rotate)
                }
                Action::Webhook(op) => op == WebhookOperation::Delete,
                Action::ChangeRole { .. } => true,
                _ => false,
            };
            assert_eq!(action.needs_step_up(), want, "{action:?}");
        }
    }

    #[test]
    fn roles_parse_and_print() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
            assert_eq!(
                serde_json::to_string(&role).unwrap(),
                alloc::format!("\"{role}\"")
            );
        }
        assert_eq!(Role::parse("Owner"), None);
        assert_eq!(Role::parse("root"), None);
        assert!(V < D && D < A && A < O);
    }

    fn ids() -> (MemberId, MemberId) {
        (
            MemberId::parse("mem_AAAAAAAAAAAAAAAA").unwrap(),
            MemberId::parse("mem_BBBBBBBBBBBBBBBB").unwrap(),
        )
    }

    #[test]
    fn the_last_owner_cannot_leave_be_removed_or_be_demoted() {
        let (me, other) = ids();
        use MembershipChange as C;
        use MembershipRefusal::{Forbidden, LastOwner};
        let check = check_membership_change;
        // Leaving.
        assert_eq!(check((me, O), C::Leave, 1), Err(LastOwner));
        assert_eq!(check((me, O), C::Leave, 2), Ok(()));
        assert_eq!(check((me, O), C::Leave, 0), Err(LastOwner));
        for role in [V, D, A] {
            assert_eq!(check((me, role), C::Leave, 1), Ok(()), "{role} leaves");
        }
        // Removing yourself is leaving.
        let remove_me = |role| C::Remove { member: me, role };
        assert_eq!(check((me, O), remove_me(O), 1), Err(LastOwner));
        assert_eq!(check((me, O), remove_me(O), 2), Ok(()));
        assert_eq!(check((me, V), remove_me(V), 1), Ok(()));
        // Removing another owner.
        let remove_owner = C::Remove {
            member: other,
            role: O,
        };
        assert_eq!(check((me, O), remove_owner, 2), Ok(()));
        assert_eq!(
            check((me, O), remove_owner, 1),
            Err(LastOwner),
            "inconsistent"
        );
        assert_eq!(check((me, A), remove_owner, 2), Err(Forbidden));
        // Demoting.
        let demote = |member, to| C::ChangeRole {
            member,
            from: O,
            to,
        };
        assert_eq!(check((me, O), demote(me, A), 1), Err(LastOwner));
        assert_eq!(check((me, O), demote(me, A), 2), Ok(()));
        assert_eq!(check((me, O), demote(other, V), 2), Ok(()));
        assert_eq!(check((me, O), demote(me, O), 1), Ok(()), "owner to owner");
        assert_eq!(check((me, A), demote(other, A), 2), Err(Forbidden));
    }

    #[test]
    fn admins_cannot_touch_owners_or_grant_above_themselves() {
        let (me, other) = ids();
        use MembershipChange as C;
        let check = |actor, change| check_membership_change((me, actor), change, 1);
        assert_eq!(
            check(A, C::Invite { role: O }),
            Err(MembershipRefusal::Forbidden)
        );
        assert_eq!(check(A, C::Invite { role: A }), Ok(()));
        assert_eq!(
            check(A, C::RevokeInvitation { role: O }),
            Err(MembershipRefusal::Forbidden)
        );
        assert_eq!(
            check(
                A,
                C::ChangeRole {
                    member: me,
                    from: A,
                    to: O
                }
            ),
            Err(MembershipRefusal::Forbidden),
            "self-promotion"
        );
        assert_eq!(
            check(
                A,
                C::ChangeRole {
                    member: me,
                    from: A,
                    to: D
                }
            ),
            Ok(()),
            "an admin may step down"
        );
        assert_eq!(
            check(
                D,
                C::ChangeRole {
                    member: me,
                    from: D,
                    to: V
                }
            ),
            Err(MembershipRefusal::Forbidden),
            "developers change no roles"
        );
        assert_eq!(
            check(
                A,
                C::Remove {
                    member: other,
                    role: A
                }
            ),
            Ok(())
        );
        assert_eq!(
            check(
                D,
                C::Remove {
                    member: other,
                    role: V
                }
            ),
            Err(MembershipRefusal::Forbidden)
        );
        assert_eq!(check(O, C::Invite { role: O }), Ok(()));
    }

    fn role() -> impl proptest::strategy::Strategy<Value = Role> {
        proptest::sample::select(Role::ALL.to_vec())
    }

    proptest::proptest! {
        /// Whatever sequence of allowed changes is applied to a roster with one owner, no
        /// step leaves it without an owner, and nobody ever ends above the role of the
        /// member who gave it.
        #[test]
        fn allowed_changes_keep_an_owner_and_never_raise_above_the_actor(
            start in proptest::collection::vec(role(), 0..6),
            steps in proptest::collection::vec((0usize..8, 0usize..8, 0u8..3, role()), 0..40),
        ) {
            let mut roster: Vec<(MemberId, Role)> = alloc::vec![(MemberId::parse("mem_0000000000000000").unwrap(), Role::Owner)];
            for (i, role) in start.into_iter().enumerate() {
                let id = MemberId::parse(&alloc::format!("mem_{:016}", i + 1)).unwrap();
                roster.push((id, role));
            }
            for (actor, target, kind, to) in steps {
                if roster.is_empty() { break; }
                let actor = roster[actor % roster.len()];
                let target_index = target % roster.len();
                let target = roster[target_index];
                let owners = roster.iter().filter(|(_, r)| *r == Role::Owner).count();
                let change = match kind {
                    0 => MembershipChange::Remove { member: target.0, role: target.1 },
                    1 => MembershipChange::ChangeRole { member: target.0, from: target.1, to },
                    _ => MembershipChange::Leave,
                };
                if check_membership_change(actor, change, owners).is_ok() {
                    match change {
                        MembershipChange::Remove { .. } => { roster.remove(target_index); }
                        MembershipChange::ChangeRole { to, .. } => {
                            proptest::prop_assert!(to <= actor.1);
                            roster[target_index].1 = to;
                        }
                        _ => { roster.retain(|(id, _)| *id != actor.0); }
                    }
                }
                proptest::prop_assert!(roster.iter().any(|(_, r)| *r == Role::Owner));
            }
        }

        #[test]
        fn grants_never_exceed_the_granter(actor in role(), granted in role()) {
            let invite = check_membership_change((ids().0, actor), MembershipChange::Invite { role: granted }, 1);
            proptest::prop_assert_eq!(invite.is_ok(), actor >= Role::Admin && granted <= actor);
        }
    }
}
