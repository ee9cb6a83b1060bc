//! Passkey ceremonies (WebAuthn), inside the registry Durable Object: registration (a new
//! member accepting an invitation, a member re-enrolled, or a person adding a passkey),
//! sign-in (discoverable: no user name) and step-up. The checks are `aero2_accounts`'s;
//! the signatures are verified by WebCrypto (`crate::webcrypto`). Challenges are single
//! use and last 5 minutes; the store of pending ones is bounded and persisted.

use aero2_accounts::webauthn::{
    creation_options, request_options, verify_authentication, verify_registration,
    AuthenticationResponse, Ceremony, ChallengeError, ChallengeStore, RegistrationResponse,
    SignInRefusal, SignatureCheck, UserEntity, WebAuthnError,
};
use aero2_accounts::UserHandle;
use aero2_keys::http::ErrorCode;
use aero2_keys::{SystemRandom, UnixMillis};
use serde::Deserialize;
use serde_json::value::RawValue;
use worker::Response;

use super::directory::{display_name, person, MemberView};
use super::ApplicationRegistry;
use crate::errors::{ApiError, ApiResult};
use crate::json::json_response;
use crate::protocol::{Caller, ClientInfo, NewSession};
use crate::schema::{int, opt_text, text};

#[derive(Deserialize)]
struct StoreRow {
    store: String,
}

fn not_accepted(reason: &str) -> ApiError {
    ApiError::with_detail(
        ErrorCode::PasskeyNotAccepted,
        format!("the passkey response was not accepted ({reason}); start again"),
    )
}

fn webauthn(error: WebAuthnError) -> ApiError {
    not_accepted(error.reason())
}

fn challenge(error: ChallengeError) -> ApiError {
    not_accepted(match error {
        ChallengeError::Unknown => "unknown or already used challenge",
        ChallengeError::Expired => "the challenge expired",
    })
}

/// `{"publicKey": …}` around options already written as JSON.
fn public_key(options: String) -> ApiResult<Response> {
    let options = RawValue::from_string(options).map_err(|_| ErrorCode::TemporarilyUnavailable)?;
    Ok(json_response(
        200,
        &serde_json::json!({ "publicKey": options }),
    ))
}

impl ApplicationRegistry {
    fn relying_party(&self) -> ApiResult<aero2_accounts::webauthn::RelyingParty> {
        self.config()
            .relying_party
            .clone()
            .ok_or_else(|| ErrorCode::PasskeysNotConfigured.into())
    }

    fn challenges(&self) -> ApiResult<ChallengeStore> {
        let rows: Vec<StoreRow> = self
            .sql
            .exec("SELECT store FROM challenges WHERE id = 1", None)?
            .to_array()?;
        Ok(rows
            .first()
            .and_then(|row| serde_json::from_str(&row.store).ok())
            .unwrap_or_else(|| ChallengeStore::new(ChallengeStore::DEFAULT_CAPACITY)))
    }

    fn save_challenges(&self, store: &ChallengeStore) -> ApiResult<()> {
        let json = serde_json::to_string(store).map_err(|_| ErrorCode::TemporarilyUnavailable)?;
        self.sql.exec(
            "INSERT INTO challenges (id, store) VALUES (1, ?)
             ON CONFLICT (id) DO UPDATE SET store = excluded.store",
            vec![text(json)],
        )?;
        Ok(())
    }

    /// Takes the answered challenge out of the store, for good, whatever comes next.
    fn take_challenge(
        &self,
        answered: &aero2_accounts::webauthn::Challenge,
        now: UnixMillis,
    ) -> ApiResult<Ceremony> {
        let mut store = self.challenges()?;
        let taken = store.take(answered, now);
        self.save_challenges(&store)?;
        taken.map_err(challenge)
    }

    fn issue(
        &self,
        ceremony: Ceremony,
        now: UnixMillis,
    ) -> ApiResult<aero2_accounts::webauthn::Challenge> {
        let mut store = self.challenges()?;
        let challenge = store
            .issue(ceremony, now, &mut SystemRandom)
            .map_err(|_| ErrorCode::RandomUnavailable)?;
        self.save_challenges(&store)?;
        Ok(challenge)
    }

    // ----- registration -------------------------------------------------------------------

    pub(super) fn registration_options(
        &self,
        token: Option<&str>,
        by: Option<&Caller>,
        now: UnixMillis,
    ) -> ApiResult<Response> {
        let rp = self.relying_party()?;
        let (ceremony, user_name, display) = match (token, by) {
            (Some(token), _) => {
                let (invitation, _, member, name) = self.open_invitation(token, now)?;
                let account = self
                    .account(invitation.account)?
                    .ok_or(ErrorCode::InvitationNotFound)?;
                // A re-enrolment keeps the member and their passkeys' user handle.
                let (member, person, display) = match member {
                    Some(id) => {
                        let member = self
                            .members(invitation.account)?
                            .into_iter()
                            .find(|m| m.id == id)
                            .ok_or(ErrorCode::InvitationNotFound)?;
                        (
                            id,
                            member.user_handle,
                            member.display_name.as_str().to_owned(),
                        )
                    }
                    None => (
                        self.random_member_id()?,
                        self.random_person()?,
                        name.unwrap_or_else(|| "New member".to_owned()),
                    ),
                };
                let ceremony = Ceremony::Registration {
                    account: invitation.account,
                    member,
                    user_handle: person,
                    invitation: Some(invitation.id),
                };
                (ceremony, format!("{display} ({})", account.name), display)
            }
            (None, Some(by)) => {
                let person = person(by)?;
                let membership = self
                    .memberships(&person)?
                    .into_iter()
                    .next()
                    .ok_or(ErrorCode::NotSignedIn)?;
                let ceremony = Ceremony::Registration {
                    account: membership.account_id,
                    member: membership.member_id,
                    user_handle: person,
                    invitation: None,
                };
                (ceremony, membership.name.clone(), membership.name)
            }
            (None, None) => return Err(ErrorCode::InvitationNotFound.into()),
        };
        let Ceremony::Registration { user_handle, .. } = ceremony else {
            return Err(ErrorCode::TemporarilyUnavailable.into());
        };
        let exclude: Vec<_> = self
            .passkeys(&user_handle)?
            .iter()
            .map(|(_, record)| record.descriptor())
            .collect();
        let challenge = self.issue(ceremony, now)?;
        let user = UserEntity {
            handle: &user_handle,
            name: &user_name,
            display_name: &display,
        };
        public_key(creation_options(&rp, &user, &challenge, &exclude).to_json())
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) async fn register(
        &self,
        token: Option<&str>,
        by: Option<&Caller>,
        response: &str,
        name: Option<&str>,
        session: &NewSession,
        client: &ClientInfo,
        now: UnixMillis,
    ) -> ApiResult<Response> {
        let rp = self.relying_party()?;
        let response = RegistrationResponse::from_json(response.as_bytes()).map_err(webauthn)?;
        let answered = response.challenge().map_err(webauthn)?;
        let ceremony = self.take_challenge(&answered, now)?;
        let Ceremony::Registration {
            account,
            member,
            user_handle,
            invitation,
        } = ceremony
        else {
            return Err(not_accepted(
                "the challenge was issued for another ceremony",
            ));
        };
        // The answer must come back the way the options went out: with the invitation's
        // token, or in the session of the person adding a passkey.
        match (token, invitation, by) {
            (Some(_), Some(_), _) => {}
            (None, None, Some(by)) if person(by)? == user_handle => {}
            _ => {
                return Err(not_accepted(
                    "the challenge was issued for another ceremony",
                ))
            }
        }
        let credential = verify_registration(&response, &rp, &answered).map_err(webauthn)?;
        let record = credential.into_record(user_handle);
        let importable = SignatureCheck {
            algorithm: record.public_key.algorithm(),
            public_key: record.public_key.to_jwk(),
            signed_data: Vec::new(),
            signature: Vec::new(),
        };
        if !crate::webcrypto::imports(&importable).await {
            return Err(not_accepted("the public key does not import"));
        }
        // Everything below is synchronous: one Durable Object turn, no interleaving.
        if self.passkey(&record.id.to_base64url())?.is_some() {
            return Err(ErrorCode::PasskeyAlreadyRegistered.into());
        }
        let joined = match (token, invitation) {
            (Some(token), Some(invitation_id)) => {
                let (mut invitation, token, target, suggested) =
                    self.open_invitation(token, now)?;
                if invitation.id != invitation_id || invitation.account != account {
                    return Err(ErrorCode::InvitationNotFound.into());
                }
                let role = invitation
                    .accept(&token, member, now)
                    .map_err(|_| ApiError::from(ErrorCode::InvitationNotFound))?;
                let existing = self.members(account)?.into_iter().find(|m| m.id == member);
                let joined = match (target, existing) {
                    // Re-enrolled: the member keeps their role; only a passkey is added.
                    (Some(_), Some(existing)) => existing,
                    (None, None) => {
                        let name = name.or(suggested.as_deref()).ok_or_else(|| {
                            ApiError::with_detail(
                                ErrorCode::InvalidDisplayName,
                                "send your name: 1 to 64 characters",
                            )
                        })?;
                        let name = display_name(name)?;
                        let joined =
                            self.new_member(account, member, user_handle, name, role, now)?;
                        self.audit(
                            account,
                            "member.joined",
                            &super::directory::Acting::Member(joined.clone()),
                            client,
                            &serde_json::json!({ "invitation_id": invitation.id, "role": role })
                                .to_string(),
                            now,
                        )?;
                        joined
                    }
                    _ => return Err(ErrorCode::InvitationNotFound.into()),
                };
                self.save_invitation(&invitation)?;
                joined
            }
            _ => self
                .members(account)?
                .into_iter()
                .find(|m| m.id == member && m.user_handle == user_handle)
                .ok_or(ErrorCode::NotSignedIn)?,
        };
        let passkey_name = format!("Passkey added {}", &now.to_rfc3339()[..10]);
        self.save_passkey(&passkey_name, &record, now)?;
        self.audit_person(
            &user_handle,
            "passkey.added",
            client,
            &serde_json::json!({ "passkey_id": record.id.to_base64url(), "name": passkey_name })
                .to_string(),
            now,
        )?;
        // A registration with an invitation signs the person in; a passkey added in a
        // session keeps that session.
        if by.is_none() || token.is_some() {
            self.start_session(session, &user_handle, client, now)?;
            self.audit_person(&user_handle, "session.signed_in", client, "{}", now)?;
            return Ok(json_response(
                201,
                &serde_json::json!({
                    "member": MemberView::of(&joined),
                    "csrf_token": session.csrf,
                    "session_id": session.id,
                }),
            ));
        }
        Ok(json_response(
            201,
            &serde_json::json!({ "member": MemberView::of(&joined) }),
        ))
    }

    // ----- sign-in and step-up ------------------------------------------------------------

    pub(super) fn sign_in_options(
        &self,
        by: Option<&Caller>,
        now: UnixMillis,
    ) -> ApiResult<Response> {
        let rp = self.relying_party()?;
        let (ceremony, allow) = match by {
            // A step-up: the person's own passkeys only.
            Some(by) => {
                let person = person(by)?;
                let membership = self
                    .memberships(&person)?
                    .into_iter()
                    .next()
                    .ok_or(ErrorCode::NotSignedIn)?;
                let allow: Vec<_> = self
                    .passkeys(&person)?
                    .iter()
                    .map(|(_, record)| record.descriptor())
                    .collect();
                (
                    Ceremony::StepUp {
                        account: membership.account_id,
                        member: membership.member_id,
                    },
                    allow,
                )
            }
            None => (Ceremony::SignIn, Vec::new()),
        };
        let challenge = self.issue(ceremony, now)?;
        public_key(request_options(&rp, &challenge, &allow).to_json())
    }

    pub(super) async fn sign_in(
        &self,
        response: &str,
        session: &NewSession,
        step_up: Option<&Caller>,
        client: &ClientInfo,
        now: UnixMillis,
    ) -> ApiResult<Response> {
        let rp = self.relying_party()?;
        let response = AuthenticationResponse::from_json(response.as_bytes()).map_err(webauthn)?;
        let answered = response.challenge().map_err(webauthn)?;
        let ceremony = self.take_challenge(&answered, now)?;
        let credential_id = response.credential_id().to_base64url();
        let record = self
            .passkey(&credential_id)?
            .ok_or_else(|| not_accepted("unknown passkey"))?;
        let pending =
            verify_authentication(&response, &record, &rp, &answered).map_err(webauthn)?;
        let valid = crate::webcrypto::verify(&pending.signature_check).await;
        // Synchronous from here: the stored counter is read again after the await.
        let mut record = self
            .passkey(&credential_id)?
            .ok_or_else(|| not_accepted("unknown passkey"))?;
        let signed_in = match pending.conclude(valid) {
            Ok(signed_in)
                if signed_in.sign_count == 0 || signed_in.sign_count > record.sign_count =>
            {
                signed_in
            }
            Ok(signed_in) => {
                return Err(self.clone_suspected(
                    &record.user_handle,
                    record.sign_count,
                    signed_in.sign_count,
                    client,
                    now,
                ))
            }
            Err(SignInRefusal::CloneSuspected { stored, received }) => {
                return Err(self.clone_suspected(
                    &record.user_handle,
                    stored,
                    received,
                    client,
                    now,
                ))
            }
            Err(SignInRefusal::SignatureInvalid) => return Err(not_accepted("signature_invalid")),
        };
        record.apply(&signed_in);
        self.passkey_used(&record, now)?;
        let person = record.user_handle;
        let memberships = self.memberships(&person)?;
        if memberships.is_empty() {
            return Err(ApiError::with_detail(
                ErrorCode::NotSignedIn,
                "this passkey belongs to no account now",
            ));
        }
        match (step_up, ceremony) {
            // A step-up confirms the caller's own session: the passkey must be theirs.
            (
                Some(Caller::Person {
                    user_handle,
                    session_id,
                    ..
                }),
                Ceremony::StepUp { .. },
            ) if *user_handle == person => {
                self.sql.exec(
                    "UPDATE sessions SET authenticated_at = ? WHERE id = ? AND user_handle = ?",
                    vec![
                        int(now.0),
                        text(session_id.as_str()),
                        text(person.to_base64url()),
                    ],
                )?;
                Ok(json_response(
                    200,
                    &serde_json::json!({ "stepped_up_at": now.to_rfc3339() }),
                ))
            }
            (None, Ceremony::SignIn) => {
                self.start_session(session, &person, client, now)?;
                self.audit_person(&person, "session.signed_in", client, "{}", now)?;
                Ok(json_response(
                    200,
                    &serde_json::json!({
                        "member": memberships.first().map(member_view),
                        "memberships": memberships.iter().map(member_view).collect::<Vec<_>>(),
                        "csrf_token": session.csrf,
                        "session_id": session.id,
                    }),
                ))
            }
            _ => Err(not_accepted(
                "the challenge was issued for another ceremony",
            )),
        }
    }

    fn clone_suspected(
        &self,
        person: &UserHandle,
        stored: u32,
        received: u32,
        client: &ClientInfo,
        now: UnixMillis,
    ) -> ApiError {
        let detail =
            serde_json::json!({ "stored_count": stored, "received_count": received }).to_string();
        if let Err(err) = self.audit_person(person, "passkey.clone_suspected", client, &detail, now)
        {
            return err;
        }
        not_accepted("clone_suspected: the passkey's counter did not grow")
    }

    /// Stores a person's new session (idle 30 minutes, at most 12 hours).
    fn start_session(
        &self,
        session: &NewSession,
        person: &UserHandle,
        client: &ClientInfo,
        now: UnixMillis,
    ) -> ApiResult<()> {
        self.sql.exec(
            "DELETE FROM sessions WHERE expires_at <= ?",
            vec![int(now.0)],
        )?;
        self.sql.exec(
            "INSERT INTO sessions (token_hash, id, csrf, created_at, last_seen_at, expires_at, ip, user_agent, user_handle, authenticated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            vec![
                text(session.token_hash.as_str()),
                text(session.id.as_str()),
                text(session.csrf.as_str()),
                int(now.0),
                int(now.0),
                int(now.0 + aero2_accounts::session::SESSION_IDLE_TIMEOUT_MS),
                opt_text(client.ip.clone()),
                opt_text(client.user_agent.clone()),
                text(person.to_base64url()),
                int(now.0),
            ],
        )?;
        Ok(())
    }
}

fn member_view(membership: &crate::protocol::Membership) -> serde_json::Value {
    serde_json::json!({
        "id": membership.member_id,
        "account_id": membership.account_id,
        "account_name": membership.account_name,
        "name": membership.name,
        "role": membership.role,
    })
}
