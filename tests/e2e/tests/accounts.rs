//! Accounts, members and passkeys end to end, in workerd: the operator creates an
//! account, its owner registers a passkey with the invitation, invites others, and each
//! role meets its limits. The passkeys are the accounts crate's software authenticator
//! (real P-256 and Ed25519 keys), answering as a browser on the dashboard's origin
//! (`DASHBOARD_ORIGIN`, http://localhost:<port> in the tests) would. And the hostile
//! cases: another account's ids, forged ceremonies, counters that go back, floods.

#[path = "../../../crates/accounts/tests/common/mod.rs"]
#[allow(unused_imports)]
mod authenticator;

use aero2_e2e::*;
use authenticator::{Key, SoftAuthenticator, Tweaks};
use serde_json::{json, Value};

fn worker(name: &str) -> Worker {
    Worker::start(
        name,
        Options {
            test_build: true,
            ..Options::default()
        },
    )
}

fn origin(w: &Worker) -> String {
    format!("http://localhost:{}", w.port)
}

/// A browser on the dashboard: its session cookie and CSRF token once signed in, and its
/// own address (the limits are per address).
struct Browser {
    ip: String,
    cookie: Option<String>,
    csrf: Option<String>,
}

impl Browser {
    fn new(ip: &str) -> Self {
        Browser {
            ip: ip.to_owned(),
            cookie: None,
            csrf: None,
        }
    }

    fn send(&self, w: &Worker, method: &str, path: &str, body: Option<&Value>) -> Reply {
        let cookie = self
            .cookie
            .as_ref()
            .map(|token| format!("__Host-aero2_session={token}"));
        let mut headers = vec![("CF-Connecting-IP", self.ip.as_str())];
        if let Some(cookie) = &cookie {
            headers.push(("Cookie", cookie));
        }
        if let Some(csrf) = &self.csrf {
            headers.push(("X-CSRF-Token", csrf));
        }
        let body = body.map(|b| b.to_string());
        if body.is_some() {
            headers.push(("Content-Type", "application/json"));
        }
        request(method, &w.url(path), &headers, body.as_deref())
    }

    /// Keeps the session a sign-in or registration answered with.
    fn keep(&mut self, reply: &Reply) {
        let cookie = reply.header("Set-Cookie").expect("a session cookie");
        let token = cookie
            .strip_prefix("__Host-aero2_session=")
            .and_then(|rest| rest.split(';').next())
            .expect("the session cookie");
        self.cookie = Some(token.to_owned());
        self.csrf = reply.json["csrf_token"].as_str().map(str::to_owned);
    }
}

/// Registers a passkey with an invitation's token; the browser is signed in after.
fn register(
    w: &Worker,
    browser: &mut Browser,
    key: &mut SoftAuthenticator,
    token: &str,
    name: &str,
) -> Reply {
    let options = browser.send(
        w,
        "POST",
        &format!("/v1/invitations/{token}/registration/options"),
        None,
    );
    assert_eq!(options.status, 200, "{}", options.body);
    let credential = key.create(&options.json["publicKey"], &Tweaks::default());
    let reply = browser.send(
        w,
        "POST",
        &format!("/v1/invitations/{token}/registration"),
        Some(&json!({"credential": credential, "name": name})),
    );
    if reply.status == 201 {
        browser.keep(&reply);
    }
    reply
}

/// A discoverable sign-in with `key`.
fn sign_in(w: &Worker, browser: &mut Browser, key: &mut SoftAuthenticator) -> Reply {
    let options = browser.send(w, "POST", "/v1/passkeys/authentication/options", None);
    assert_eq!(options.status, 200, "{}", options.body);
    let credential = key.get(&options.json["publicKey"], &Tweaks::default());
    let reply = browser.send(
        w,
        "POST",
        "/v1/passkeys/authentication",
        Some(&json!({ "credential": credential })),
    );
    if reply.status == 200 {
        browser.keep(&reply);
    }
    reply
}

/// A step-up of the browser's session with `key`.
fn step_up(w: &Worker, browser: &Browser, key: &mut SoftAuthenticator) -> Reply {
    let options = browser.send(w, "POST", "/v1/passkeys/authentication/options", None);
    assert_eq!(options.status, 200, "{}", options.body);
    assert!(
        !options.json["publicKey"]["allowCredentials"]
            .as_array()
            .unwrap()
            .is_empty(),
        "a step-up names the person's own passkeys"
    );
    let credential = key.get(&options.json["publicKey"], &Tweaks::default());
    browser.send(
        w,
        "POST",
        "/v1/passkeys/authentication",
        Some(&json!({ "credential": credential })),
    )
}

/// The operator creates an account; its owner registers. Returns the account's id.
fn account_with_owner(
    w: &Worker,
    name: &str,
    owner: &mut Browser,
    key: &mut SoftAuthenticator,
) -> String {
    let created = w.post("/v1/accounts", ADMIN_TOKEN, Some(&json!({ "name": name })));
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.json["invitation"]["role"], "owner");
    let token = created.json["token"].as_str().unwrap().to_owned();
    assert!(
        created.json["url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/dashboard/#invitation={token}")),
        "the link carries the token in its fragment: {}",
        created.body
    );
    let joined = register(w, owner, key, &token, "Ada");
    assert_eq!(joined.status, 201, "{}", joined.body);
    assert_eq!(joined.json["member"]["role"], "owner");
    created.json["account"]["id"].as_str().unwrap().to_owned()
}

fn invite(w: &Worker, by: &Browser, account: &str, role: &str) -> Reply {
    by.send(
        w,
        "POST",
        &format!("/v1/accounts/{account}/invitations"),
        Some(&json!({ "role": role })),
    )
}

fn new_application(w: &Worker, by: &Browser, account: &str, environment: &str) -> Value {
    let created = by.send(
        w,
        "POST",
        "/v1/applications",
        Some(&json!({"name": format!("App {environment}"), "environment": environment, "account_id": account})),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    created.json
}

fn secret_key_id(application: &Value) -> String {
    application["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kind"] == "secret")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn an_owner_invites_a_developer_and_each_role_meets_its_limits() {
    let w = worker("accounts-roles");
    let mut owner = Browser::new("10.40.0.1");
    let mut owner_key = SoftAuthenticator::new(Key::es256(1), &origin(&w));
    let account = account_with_owner(&w, "Acme", &mut owner, &mut owner_key);

    // The owner's session names the person and their accounts.
    let session = owner.send(&w, "GET", "/v1/dashboard/session", None);
    assert_eq!(session.json["kind"], "member", "{}", session.body);
    assert_eq!(
        session.json["memberships"][0]["account_id"],
        account.as_str()
    );
    assert_eq!(session.json["memberships"][0]["role"], "owner");

    let development = new_application(&w, &owner, &account, "development");
    let production = new_application(&w, &owner, &account, "production");
    let dev_app = development["application"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let prod_app = production["application"]["id"].as_str().unwrap().to_owned();

    // A developer joins with an Ed25519 passkey.
    let invited = invite(&w, &owner, &account, "developer");
    assert_eq!(invited.status, 201, "{}", invited.body);
    let mut developer = Browser::new("10.40.0.2");
    let mut developer_key = SoftAuthenticator::new(Key::ed25519(2), &origin(&w));
    let token = invited.json["token"].as_str().unwrap();
    let joined = register(&w, &mut developer, &mut developer_key, token, "Grace");
    assert_eq!(joined.status, 201, "{}", joined.body);
    assert_eq!(joined.json["member"]["role"], "developer");

    // The developer sees both applications, and can rotate a development key but not a
    // production one.
    let listed = developer.send(&w, "GET", "/v1/applications", None);
    assert_eq!(
        listed.json["applications"].as_array().unwrap().len(),
        2,
        "{}",
        listed.body
    );
    let rotate = |browser: &Browser, app: &str, key: &str| {
        browser.send(
            &w,
            "POST",
            &format!("/v1/applications/{app}/keys/{key}/rotate"),
            Some(&json!({"grace_period_seconds": 0})),
        )
    };
    let rotated = rotate(&developer, &dev_app, &secret_key_id(&development));
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let refused = rotate(&developer, &prod_app, &secret_key_id(&production));
    assert_eq!(
        (refused.status, refused.code()),
        (403, "insufficient_role"),
        "{}",
        refused.body
    );

    // The application's audit log names the person who rotated, with their address.
    let log = owner.send(
        &w,
        "GET",
        &format!("/v1/applications/{dev_app}/audit_log?event=key.rotated"),
        None,
    );
    let entry = &log.json["entries"][0];
    assert_eq!(entry["actor"]["type"], "member", "{}", log.body);
    assert_eq!(entry["actor"]["name"], "Grace");
    assert_eq!(entry["ip"], "10.40.0.2");

    // A viewer sees keys and is refused every change.
    let invited = invite(&w, &owner, &account, "viewer");
    let mut viewer = Browser::new("10.40.0.3");
    let mut viewer_key = SoftAuthenticator::new(Key::es256(3), &origin(&w));
    let joined = register(
        &w,
        &mut viewer,
        &mut viewer_key,
        invited.json["token"].as_str().unwrap(),
        "Vic",
    );
    assert_eq!(joined.status, 201, "{}", joined.body);
    let keys = viewer.send(&w, "GET", &format!("/v1/applications/{dev_app}/keys"), None);
    assert_eq!(keys.status, 200, "{}", keys.body);
    for key in development["keys"].as_array().unwrap() {
        let value = key["value"].as_str().unwrap();
        assert!(
            !keys.body.contains(&value[value.len() - 12..]),
            "never a key's value"
        );
    }
    let refused = viewer.send(
        &w,
        "POST",
        &format!("/v1/applications/{dev_app}/keys"),
        Some(&json!({"kind": "secret", "label": "mine"})),
    );
    assert_eq!(
        (refused.status, refused.code()),
        (403, "insufficient_role"),
        "{}",
        refused.body
    );
    let refused = viewer.send(
        &w,
        "POST",
        "/v1/applications",
        Some(&json!({"name": "X", "environment": "development", "account_id": account})),
    );
    assert_eq!(
        (refused.status, refused.code()),
        (403, "insufficient_role"),
        "{}",
        refused.body
    );

    // Roles grant at most themselves: a developer invites nobody, an admin no owner.
    let refused = invite(&w, &developer, &account, "viewer");
    assert_eq!(
        (refused.status, refused.code()),
        (403, "insufficient_role"),
        "{}",
        refused.body
    );

    // The account's audit log says who did what.
    let log = owner.send(
        &w,
        "GET",
        &format!("/v1/accounts/{account}/audit_log"),
        None,
    );
    let events: Vec<&str> = log.json["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    for event in [
        "member.invited",
        "member.joined",
        "passkey.added",
        "session.signed_in",
    ] {
        assert!(events.contains(&event), "{event} in {events:?}");
    }
    let joined = log.json["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event"] == "member.joined" && e["actor"]["name"] == "Grace")
        .expect("Grace joined");
    assert_eq!(joined["ip"], "10.40.0.2");

    // A removed member's open tab is signed out on its next request.
    let members = owner.send(&w, "GET", &format!("/v1/accounts/{account}/members"), None);
    let grace = members.json["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "Grace")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let removed = owner.send(
        &w,
        "DELETE",
        &format!("/v1/accounts/{account}/members/{grace}"),
        None,
    );
    assert_eq!(removed.status, 200, "{}", removed.body);
    let after = developer.send(&w, "GET", "/v1/applications", None);
    assert_eq!(
        (after.status, after.code()),
        (401, "not_signed_in"),
        "{}",
        after.body
    );
}

#[test]
fn another_accounts_ids_are_not_found_on_every_route() {
    let w = worker("accounts-tenants");
    let mut alice = Browser::new("10.41.0.1");
    let mut alice_key = SoftAuthenticator::new(Key::es256(11), &origin(&w));
    let acme = account_with_owner(&w, "Acme", &mut alice, &mut alice_key);
    let mut bob = Browser::new("10.41.0.2");
    let mut bob_key = SoftAuthenticator::new(Key::es256(12), &origin(&w));
    let globex = account_with_owner(&w, "Globex", &mut bob, &mut bob_key);
    let app = new_application(&w, &alice, &acme, "development");
    let app_id = app["application"]["id"].as_str().unwrap();
    let key_id = secret_key_id(&app);
    // An application nobody has: the answer Bob gets for Acme's must be the same.
    let made_up = "app_AAAAAAAAAAAAAAAA";

    for (method, path, body) in [
        ("GET", format!("/v1/applications/{app_id}/keys"), None),
        (
            "POST",
            format!("/v1/applications/{app_id}/keys"),
            Some(json!({"kind": "secret", "label": "x"})),
        ),
        (
            "POST",
            format!("/v1/applications/{app_id}/keys/{key_id}/revoke"),
            None,
        ),
        ("GET", format!("/v1/applications/{app_id}/audit_log"), None),
        (
            "GET",
            format!("/v1/applications/{app_id}/webhook_endpoints"),
            None,
        ),
    ] {
        let theirs = bob.send(&w, method, &path, body.as_ref());
        let nobodys = bob.send(&w, method, &path.replace(app_id, made_up), body.as_ref());
        assert_eq!(
            (theirs.status, theirs.code()),
            (404, "application_not_found"),
            "{method} {path}: {}",
            theirs.body
        );
        assert_eq!(
            (theirs.status, theirs.code()),
            (nobodys.status, nobodys.code()),
            "{method} {path}"
        );
    }
    for (method, path) in [
        ("GET", format!("/v1/accounts/{acme}/members")),
        ("GET", format!("/v1/accounts/{acme}/invitations")),
        ("GET", format!("/v1/accounts/{acme}/audit_log")),
        ("POST", format!("/v1/accounts/{acme}/invitations")),
    ] {
        let body = json!({"role": "viewer"});
        let theirs = bob.send(&w, method, &path, Some(&body));
        assert_eq!(
            (theirs.status, theirs.code()),
            (404, "account_not_found"),
            "{method} {path}: {}",
            theirs.body
        );
    }
    // Bob cannot put an application into Acme either.
    let refused = bob.send(
        &w,
        "POST",
        "/v1/applications",
        Some(&json!({"name": "Trojan", "environment": "development", "account_id": acme})),
    );
    assert_eq!(
        (refused.status, refused.code()),
        (404, "account_not_found"),
        "{}",
        refused.body
    );
    // Each sees only their own applications.
    let listed = bob.send(&w, "GET", "/v1/applications", None);
    assert!(
        listed.json["applications"].as_array().unwrap().is_empty(),
        "{}",
        listed.body
    );
    let _ = globex;
}

#[test]
fn the_last_owner_stays_and_step_up_guards_what_cannot_be_undone() {
    let w = worker("accounts-owners");
    let mut owner = Browser::new("10.42.0.1");
    let mut owner_key = SoftAuthenticator::new(Key::es256(21), &origin(&w));
    let account = account_with_owner(&w, "Initech", &mut owner, &mut owner_key);
    let members = owner.send(&w, "GET", &format!("/v1/accounts/{account}/members"), None);
    let me = members.json["members"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // The last owner can neither be demoted nor leave.
    let demoted = owner.send(
        &w,
        "PATCH",
        &format!("/v1/accounts/{account}/members/{me}"),
        Some(&json!({"role": "admin"})),
    );
    assert_eq!(
        (demoted.status, demoted.code()),
        (409, "last_owner"),
        "{}",
        demoted.body
    );
    let left = owner.send(
        &w,
        "DELETE",
        &format!("/v1/accounts/{account}/members/{me}"),
        None,
    );
    assert_eq!(
        (left.status, left.code()),
        (409, "last_owner"),
        "{}",
        left.body
    );

    // An admin joins; promoting them is a role change, which needs a recent passkey.
    let invited = invite(&w, &owner, &account, "admin");
    let mut admin = Browser::new("10.42.0.2");
    let mut admin_key = SoftAuthenticator::new(Key::ed25519(22), &origin(&w));
    let joined = register(
        &w,
        &mut admin,
        &mut admin_key,
        invited.json["token"].as_str().unwrap(),
        "Ann",
    );
    let admin_id = joined.json["member"]["id"].as_str().unwrap().to_owned();
    let refused = invite(&w, &admin, &account, "owner");
    assert_eq!(
        (refused.status, refused.code()),
        (403, "insufficient_role"),
        "an admin makes no owner: {}",
        refused.body
    );

    let aged = owner.send(
        &w,
        "POST",
        "/__faults/session/age",
        Some(&json!({"seconds": 301})),
    );
    assert_eq!(aged.status, 200, "{}", aged.body);
    let promote = || {
        owner.send(
            &w,
            "PATCH",
            &format!("/v1/accounts/{account}/members/{admin_id}"),
            Some(&json!({"role": "owner"})),
        )
    };
    let refused = promote();
    assert_eq!(
        (refused.status, refused.code()),
        (403, "reauthentication_required"),
        "{}",
        refused.body
    );
    let confirmed = step_up(&w, &owner, &mut owner_key);
    assert_eq!(confirmed.status, 200, "{}", confirmed.body);
    let promoted = promote();
    assert_eq!(promoted.status, 200, "{}", promoted.body);
    assert_eq!(promoted.json["member"]["role"], "owner");

    // Revoking a production secret key needs the same.
    let production = new_application(&w, &owner, &account, "production");
    let app = production["application"]["id"].as_str().unwrap();
    let extra = owner.send(
        &w,
        "POST",
        &format!("/v1/applications/{app}/keys"),
        Some(&json!({"kind": "secret", "label": "second"})),
    );
    assert_eq!(extra.status, 201, "{}", extra.body);
    let key = extra.json["key"]["id"].as_str().unwrap();
    owner.send(
        &w,
        "POST",
        "/__faults/session/age",
        Some(&json!({"seconds": 301})),
    );
    let revoke = || {
        owner.send(
            &w,
            "POST",
            &format!("/v1/applications/{app}/keys/{key}/revoke"),
            None,
        )
    };
    let refused = revoke();
    assert_eq!(
        (refused.status, refused.code()),
        (403, "reauthentication_required"),
        "{}",
        refused.body
    );
    assert_eq!(step_up(&w, &owner, &mut owner_key).status, 200);
    assert_eq!(revoke().status, 200);

    // Someone else's passkey cannot step up this session.
    owner.send(
        &w,
        "POST",
        "/__faults/session/age",
        Some(&json!({"seconds": 301})),
    );
    let options = owner.send(&w, "POST", "/v1/passkeys/authentication/options", None);
    let credential = admin_key.get(&options.json["publicKey"], &Tweaks::default());
    let refused = owner.send(
        &w,
        "POST",
        "/v1/passkeys/authentication",
        Some(&json!({ "credential": credential })),
    );
    assert_ne!(refused.status, 200, "{}", refused.body);
}

#[test]
fn forged_and_replayed_ceremonies_are_refused_and_change_nothing() {
    let w = worker("accounts-forgeries");
    let mut owner = Browser::new("10.43.0.1");
    let mut owner_key = SoftAuthenticator::new(Key::es256(31), &origin(&w));
    let account = account_with_owner(&w, "Umbrella", &mut owner, &mut owner_key);
    let members = || {
        owner
            .send(&w, "GET", &format!("/v1/accounts/{account}/members"), None)
            .json["members"]
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(members(), 1);

    let invited = invite(&w, &owner, &account, "developer");
    let token = invited.json["token"].as_str().unwrap().to_owned();
    let mut mallory = Browser::new("10.43.0.2");
    let mut mallory_key = SoftAuthenticator::new(Key::es256(32), &origin(&w));
    let options = |b: &Browser| {
        b.send(
            &w,
            "POST",
            &format!("/v1/invitations/{token}/registration/options"),
            None,
        )
    };
    let answer = |b: &Browser, credential: Value| {
        b.send(
            &w,
            "POST",
            &format!("/v1/invitations/{token}/registration"),
            Some(&json!({"credential": credential, "name": "Mallory"})),
        )
    };

    // Another origin in clientDataJSON.
    let opts = options(&mallory);
    let forged = mallory_key.create(
        &opts.json["publicKey"],
        &Tweaks {
            origin: Some("https://evil.example".into()),
            ..Tweaks::default()
        },
    );
    let refused = answer(&mallory, forged);
    assert_eq!(
        (refused.status, refused.code()),
        (401, "passkey_not_accepted"),
        "{}",
        refused.body
    );
    // The challenge was spent by that attempt: answering it again is refused too.
    let replay = mallory_key.create(&opts.json["publicKey"], &Tweaks::default());
    let refused = answer(&mallory, replay);
    assert_eq!(
        (refused.status, refused.code()),
        (401, "passkey_not_accepted"),
        "{}",
        refused.body
    );
    // A made-up challenge.
    let opts = options(&mallory);
    let mut public_key = opts.json["publicKey"].clone();
    public_key["challenge"] = json!("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    let refused = answer(
        &mallory,
        mallory_key.create(&public_key, &Tweaks::default()),
    );
    assert_eq!(
        (refused.status, refused.code()),
        (401, "passkey_not_accepted"),
        "{}",
        refused.body
    );
    assert_eq!(members(), 1, "nothing changed");

    // The invitation works once; used, it is not found, like one that never existed.
    let joined = register(&w, &mut mallory, &mut mallory_key, &token, "Mallory");
    assert_eq!(joined.status, 201, "{}", joined.body);
    let eve = Browser::new("10.43.0.3");
    let again = eve.send(
        &w,
        "POST",
        &format!("/v1/invitations/{token}/registration/options"),
        None,
    );
    let never = eve.send(
        &w,
        "POST",
        "/v1/invitations/notatokenatallnotatokenatallnotatokenatall1/registration/options",
        None,
    );
    assert_eq!((again.status, again.code()), (404, "invitation_not_found"));
    assert_eq!((never.status, never.code()), (again.status, again.code()));

    // An assertion signed by another key is refused.
    let options = eve.send(&w, "POST", "/v1/passkeys/authentication/options", None);
    let mut impostor = SoftAuthenticator::new(Key::es256(33), &origin(&w));
    impostor.credential_id = mallory_key.credential_id.clone();
    impostor.user_handle = mallory_key.user_handle.clone();
    let credential = impostor.get(&options.json["publicKey"], &Tweaks::default());
    let refused = eve.send(
        &w,
        "POST",
        "/v1/passkeys/authentication",
        Some(&json!({ "credential": credential })),
    );
    assert_eq!(
        (refused.status, refused.code()),
        (401, "passkey_not_accepted"),
        "{}",
        refused.body
    );
    assert!(
        refused.header("Set-Cookie").is_none(),
        "no session for a forgery"
    );

    // A counter that went backwards: refused and audited as a suspected clone.
    let mut fresh = Browser::new("10.43.0.4");
    assert_eq!(sign_in(&w, &mut fresh, &mut mallory_key).status, 200);
    mallory_key.sign_count = 0;
    mallory_key.step = 0;
    let options = fresh.send(&w, "POST", "/v1/passkeys/authentication/options", None);
    let credential = mallory_key.get(
        &options.json["publicKey"],
        &Tweaks {
            sign_count: Some(1),
            ..Tweaks::default()
        },
    );
    let mut clone = Browser::new("10.43.0.5");
    let refused = clone.send(
        &w,
        "POST",
        "/v1/passkeys/authentication",
        Some(&json!({ "credential": credential })),
    );
    assert_eq!(
        (refused.status, refused.code()),
        (401, "passkey_not_accepted"),
        "{}",
        refused.body
    );
    assert!(refused.body.contains("clone_suspected"), "{}", refused.body);
    let log = owner.send(
        &w,
        "GET",
        &format!("/v1/accounts/{account}/audit_log"),
        None,
    );
    assert!(
        log.json["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["event"] == "passkey.clone_suspected"),
        "{}",
        log.body
    );
    clone.cookie = None;
}

#[test]
fn a_flood_of_made_up_invitations_or_sign_ins_meets_429() {
    let w = worker("accounts-floods");
    let flood = Browser::new("10.44.0.9");
    within_one_rate_window(15);
    let mut statuses = Vec::new();
    for n in 0..12 {
        let reply = flood.send(
            &w,
            "POST",
            &format!("/v1/invitations/madeup{n:037}/registration/options"),
            None,
        );
        statuses.push(reply.status);
    }
    // SIGN_IN_LIMITER: 10 a minute per address, counted by the gate.
    assert!(statuses[..10].iter().all(|s| *s == 404), "{statuses:?}");
    let limited = flood.send(
        &w,
        "POST",
        "/v1/invitations/whatever/registration/options",
        None,
    );
    assert_eq!(
        (limited.status, limited.code()),
        (429, "too_many_sign_in_attempts"),
        "{}",
        limited.body
    );
    assert!(limited.header("Retry-After").is_some());
    // Sign-in attempts from there stop at the gate too.
    let sign_in = flood.send(
        &w,
        "POST",
        "/v1/passkeys/authentication",
        Some(&json!({"credential": {}})),
    );
    assert_eq!(sign_in.status, 429, "{}", sign_in.body);
    // Another address is not affected.
    let other = Browser::new("10.44.0.10");
    let options = other.send(&w, "POST", "/v1/passkeys/authentication/options", None);
    assert_eq!(options.status, 200, "{}", options.body);
}

#[test]
fn a_person_manages_their_own_passkeys() {
    let w = worker("accounts-passkeys");
    let mut owner = Browser::new("10.45.0.1");
    let mut first = SoftAuthenticator::new(Key::es256(41), &origin(&w));
    account_with_owner(&w, "Hooli", &mut owner, &mut first);
    let listed = owner.send(&w, "GET", "/v1/passkeys", None);
    let passkeys = listed.json["passkeys"].as_array().unwrap().clone();
    assert_eq!(passkeys.len(), 1, "{}", listed.body);
    let only = passkeys[0]["id"].as_str().unwrap().to_owned();
    let refused = owner.send(&w, "DELETE", &format!("/v1/passkeys/{only}"), None);
    assert_eq!(
        (refused.status, refused.code()),
        (409, "last_passkey"),
        "{}",
        refused.body
    );

    // A second passkey, added in the session.
    let mut second = SoftAuthenticator::new(Key::ed25519(42), &origin(&w));
    let options = owner.send(&w, "POST", "/v1/passkeys/registration/options", None);
    assert_eq!(options.status, 200, "{}", options.body);
    assert_eq!(
        options.json["publicKey"]["excludeCredentials"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "the first passkey is excluded"
    );
    let credential = second.create(&options.json["publicKey"], &Tweaks::default());
    let added = owner.send(
        &w,
        "POST",
        "/v1/passkeys/registration",
        Some(&json!({ "credential": credential })),
    );
    assert_eq!(added.status, 201, "{}", added.body);
    let renamed = owner.send(
        &w,
        "PATCH",
        &format!("/v1/passkeys/{only}"),
        Some(&json!({"name": "Laptop"})),
    );
    assert_eq!(renamed.status, 200, "{}", renamed.body);
    assert!(renamed.body.contains("Laptop"));
    let removed = owner.send(&w, "DELETE", &format!("/v1/passkeys/{only}"), None);
    assert_eq!(removed.status, 200, "{}", removed.body);

    // The removed passkey signs in no more; the second one does.
    let mut browser = Browser::new("10.45.0.2");
    assert_ne!(sign_in(&w, &mut browser, &mut first).status, 200);
    let mut browser = Browser::new("10.45.0.3");
    assert_eq!(sign_in(&w, &mut browser, &mut second).status, 200);
    // The operator has no passkeys to list.
    let operator = w.get("/v1/passkeys", ADMIN_TOKEN);
    assert_eq!(operator.status, 401, "{}", operator.body);
    // Cookie-authenticated changes need the CSRF token.
    let mut no_csrf = Browser::new("10.45.0.4");
    no_csrf.cookie = browser.cookie.clone();
    let refused = no_csrf.send(
        &w,
        "PATCH",
        &format!("/v1/passkeys/{only}"),
        Some(&json!({"name": "x"})),
    );
    assert_eq!(
        (refused.status, refused.code()),
        (403, "csrf_check_failed"),
        "{}",
        refused.body
    );
}
