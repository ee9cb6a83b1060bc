use super::*;
use core::str::FromStr;

fn policy(json: &str) -> Policy {
    serde_json::from_str(json).unwrap()
}

const NOW: UnixMillis = UnixMillis(1_800_000_000_000);

fn facts<'a>(
    method: &'a str,
    path: &'a str,
    ip: Option<&str>,
    origin: Option<&'a str>,
) -> Facts<'a> {
    Facts {
        method,
        path,
        client_ip: ip.map(|ip| IpAddr::from_str(ip).unwrap()),
        origin,
        method_override: false,
    }
}

#[test]
fn the_empty_policy_restricts_nothing_and_round_trips_as_empty() {
    let empty = Policy::default();
    assert!(empty.is_empty());
    assert_eq!(serde_json::to_string(&empty).unwrap(), "{}");
    assert_eq!(empty.validate(KeyKind::Secret, NOW), Ok(()));
    for kind in KeyKind::ALL {
        assert_eq!(
            check(kind, &empty, &facts("DELETE", "/anything", None, None)),
            Ok(None)
        );
    }
    assert_eq!(empty.scopes(), Scopes::ALL);
}

#[test]
fn a_full_policy_round_trips() {
    let json = r#"{"expires_at":1800000600000,"scopes":["keys:read"],"routes":[{"methods":["GET"],"path":"/v1/orders/*"}],"allowed_ips":["203.0.113.0/24","2001:db8::/32"],"rate_limit":{"requests":100,"per_seconds":60}}"#;
    let full = policy(json);
    assert_eq!(serde_json::to_string(&full).unwrap(), json);
    assert_eq!(full.validate(KeyKind::Secret, NOW), Ok(()));
    let web = policy(
        r#"{"allowed_origins":["https://shop.example","https://*.shop.example","null"],"origin_policy":"report"}"#,
    );
    assert_eq!(web.validate(KeyKind::Publishable, NOW), Ok(()));
    assert!(serde_json::from_str::<Policy>(r#"{"colour":"red"}"#).is_err());
    assert!(serde_json::from_str::<Policy>(r#"{"allowed_ips":["10.0.0.1/8"]}"#).is_err());
    assert!(
        serde_json::from_str::<Policy>(r#"{"allowed_origins":["https://*.example"]}"#).is_err()
    );
}

#[test]
fn validation_names_the_field_at_fault() {
    let cases = [
        (
            KeyKind::Secret,
            r#"{"expires_at":1800000000000}"#,
            "expires_at",
        ),
        (
            KeyKind::Secret,
            r#"{"expires_at":2200000000000}"#,
            "expires_at",
        ),
        (KeyKind::Publishable, r#"{"scopes":[]}"#, "scopes"),
        (
            KeyKind::Publishable,
            r#"{"routes":[{"path":"/x"}]}"#,
            "routes",
        ),
        (
            KeyKind::Publishable,
            r#"{"allowed_ips":["10.0.0.0/8"]}"#,
            "allowed_ips",
        ),
        (
            KeyKind::Secret,
            r#"{"allowed_origins":["null"]}"#,
            "allowed_origins",
        ),
        (
            KeyKind::Publishable,
            r#"{"origin_policy":"report"}"#,
            "origin_policy",
        ),
        (KeyKind::Secret, r#"{"routes":[]}"#, "routes"),
        (
            KeyKind::Publishable,
            r#"{"allowed_origins":[]}"#,
            "allowed_origins",
        ),
        (
            KeyKind::Secret,
            r#"{"rate_limit":{"requests":0,"per_seconds":60}}"#,
            "rate_limit",
        ),
    ];
    for (kind, json, field) in cases {
        assert_eq!(
            policy(json).validate(kind, NOW).unwrap_err().field,
            field,
            "{json}"
        );
    }
    // Exactly 10 years ahead is allowed; a millisecond more is not.
    let limit = UnixMillis(NOW.0 + MAX_LIFETIME_MS);
    let at_limit = Policy {
        expires_at: Some(limit),
        ..Policy::default()
    };
    assert_eq!(at_limit.validate(KeyKind::Secret, NOW), Ok(()));
    let past_limit = Policy {
        expires_at: Some(UnixMillis(limit.0 + 1)),
        ..Policy::default()
    };
    assert!(past_limit.validate(KeyKind::Secret, NOW).is_err());
    let many: Vec<String> = (0..51).map(|i| alloc::format!("10.0.{i}.0/24")).collect();
    let too_many = alloc::format!(
        r#"{{"allowed_ips":{}}}"#,
        serde_json::to_string(&many).unwrap()
    );
    assert_eq!(
        policy(&too_many)
            .validate(KeyKind::Secret, NOW)
            .unwrap_err()
            .field,
        "allowed_ips"
    );
}

#[test]
fn addresses_are_checked_before_routes_and_unknown_addresses_are_refused() {
    let p = policy(r#"{"allowed_ips":["203.0.113.0/24"],"routes":[{"path":"/v1/orders/*"}]}"#);
    assert_eq!(
        check(
            KeyKind::Secret,
            &p,
            &facts("GET", "/v1/orders/1", Some("203.0.113.9"), None)
        ),
        Ok(None)
    );
    assert_eq!(
        check(
            KeyKind::Secret,
            &p,
            &facts("GET", "/v1/users", Some("203.0.114.1"), None)
        ),
        Err(Rejection::IpNotAllowed),
        "address first, though the route is wrong too"
    );
    assert_eq!(
        check(
            KeyKind::Secret,
            &p,
            &facts("GET", "/v1/users", Some("203.0.113.1"), None)
        ),
        Err(Rejection::RouteNotAllowed)
    );
    assert_eq!(
        check(KeyKind::Secret, &p, &facts("GET", "/v1/orders", None, None)),
        Err(Rejection::IpNotAllowed)
    );
}

#[test]
fn origins_enforced_or_reported() {
    let enforce =
        policy(r#"{"allowed_origins":["https://shop.example","https://*.shop.example"]}"#);
    let on = |p: &Policy, origin| {
        check(
            KeyKind::Publishable,
            p,
            &facts("GET", "/v1/client/x", None, origin),
        )
    };
    assert_eq!(on(&enforce, Some("https://shop.example")), Ok(None));
    assert_eq!(on(&enforce, Some("https://eu.shop.example")), Ok(None));
    assert_eq!(
        on(&enforce, Some("https://evil.example")),
        Err(Rejection::OriginNotAllowed)
    );
    assert_eq!(
        on(&enforce, None),
        Err(Rejection::OriginNotAllowed),
        "no header: refused"
    );
    let with_null = policy(r#"{"allowed_origins":["null"]}"#);
    assert_eq!(on(&with_null, None), Ok(None));
    assert_eq!(on(&with_null, Some("null")), Ok(None));
    let report = policy(r#"{"allowed_origins":["https://shop.example"],"origin_policy":"report"}"#);
    assert_eq!(
        on(&report, Some("https://evil.example")),
        Ok(Some(OriginReport))
    );
    assert_eq!(on(&report, Some("https://shop.example")), Ok(None));
    // CORS: an enforcing key lets only its origins read answers; a reporting one any.
    assert!(enforce.cors_allows("https://eu.shop.example"));
    assert!(!enforce.cors_allows("https://evil.example"));
    assert!(report.cors_allows("https://evil.example"));
    assert!(Policy::default().cors_allows("https://anyone.example"));
}

#[test]
fn a_restricted_key_cannot_make_a_key_with_more_rights() {
    let admin = Policy::default();
    let reader = policy(
        r#"{"scopes":["keys:read","keys:write"],"routes":[{"methods":["GET"],"path":"/v1/orders/*"}],"allowed_ips":["10.0.0.0/8"],"expires_at":1800000600000}"#,
    );
    let same = reader.clone();
    let narrower = policy(
        r#"{"scopes":["keys:read"],"routes":[{"methods":["GET"],"path":"/v1/orders/42"}],"allowed_ips":["10.1.0.0/16"],"expires_at":1800000500000}"#,
    );
    let frontend = FrontendRoutes::default();
    assert!(reader.within(KeyKind::Secret, &admin, &frontend));
    assert!(same.within(KeyKind::Secret, &reader, &frontend));
    assert!(narrower.within(KeyKind::Secret, &reader, &frontend));
    for wider in [
        r#"{"scopes":["keys:read","keys:write","audit:read"],"routes":[{"methods":["GET"],"path":"/v1/orders/*"}],"allowed_ips":["10.0.0.0/8"],"expires_at":1800000600000}"#,
        r#"{"scopes":["keys:read"],"routes":[{"path":"/v1/orders/*"}],"allowed_ips":["10.0.0.0/8"],"expires_at":1800000600000}"#,
        r#"{"scopes":["keys:read"],"routes":[{"methods":["GET"],"path":"/*"}],"allowed_ips":["10.0.0.0/8"],"expires_at":1800000600000}"#,
        r#"{"scopes":["keys:read"],"allowed_ips":["10.0.0.0/8"],"expires_at":1800000600000}"#,
        r#"{"scopes":["keys:read"],"routes":[{"methods":["GET"],"path":"/v1/orders/*"}],"allowed_ips":["0.0.0.0/0"],"expires_at":1800000600000}"#,
        r#"{"scopes":["keys:read"],"routes":[{"methods":["GET"],"path":"/v1/orders/*"}],"expires_at":1800000600000}"#,
        r#"{"scopes":["keys:read"],"routes":[{"methods":["GET"],"path":"/v1/orders/*"}],"allowed_ips":["10.0.0.0/8"],"expires_at":1800000600001}"#,
        r#"{"scopes":["keys:read"],"routes":[{"methods":["GET"],"path":"/v1/orders/*"}],"allowed_ips":["10.0.0.0/8"]}"#,
        "{}",
    ] {
        assert!(
            !policy(wider).within(KeyKind::Secret, &reader, &frontend),
            "{wider}"
        );
    }

    // Found by review: the rate limit took no part, so a key held to 10 requests a minute
    // could make a twin with none. No larger burst and no higher rate.
    let limited = policy(r#"{"rate_limit":{"requests":10,"per_seconds":60}}"#);
    for ok in [
        r#"{"rate_limit":{"requests":10,"per_seconds":60}}"#,
        r#"{"rate_limit":{"requests":5,"per_seconds":60}}"#,
        r#"{"rate_limit":{"requests":10,"per_seconds":3600}}"#,
        r#"{"rate_limit":{"requests":1,"per_seconds":6}}"#,
    ] {
        assert!(
            policy(ok).within(KeyKind::Secret, &limited, &frontend),
            "{ok}"
        );
    }
    for wider in [
        "{}",
        r#"{"rate_limit":{"requests":11,"per_seconds":60}}"#,
        r#"{"rate_limit":{"requests":10,"per_seconds":59}}"#,
        r#"{"rate_limit":{"requests":2,"per_seconds":6}}"#,
        r#"{"rate_limit":{"requests":20,"per_seconds":3600}}"#,
    ] {
        assert!(
            !policy(wider).within(KeyKind::Secret, &limited, &frontend),
            "{wider}"
        );
    }
}

#[test]
fn changed_fields_name_fields_not_values() {
    let before = policy(r#"{"scopes":["keys:read"],"rate_limit":{"requests":1,"per_seconds":1}}"#);
    let after = policy(
        r#"{"scopes":["keys:read","audit:read"],"allowed_ips":["10.0.0.0/8"],"rate_limit":{"requests":1,"per_seconds":1}}"#,
    );
    assert_eq!(before.changed_fields(&after), ["scopes", "allowed_ips"]);
    assert!(before.changed_fields(&before).is_empty());
}

/// `?_method=DELETE` is a DELETE to Laravel, Symfony and Rails: a key held to GET must not
/// reach DELETE through it. Keys without routes, and publishable keys, are not refused.
#[test]
fn a_method_override_is_refused_for_keys_held_to_routes() {
    let held = policy(r#"{"routes":[{"methods":["GET"],"path":"/v1/orders/*"}]}"#);
    let overriding = Facts {
        method_override: true,
        ..facts("GET", "/v1/orders/1", None, None)
    };
    assert_eq!(
        check(KeyKind::Secret, &held, &overriding),
        Err(Rejection::MethodOverride)
    );
    assert_eq!(
        check(
            KeyKind::Secret,
            &held,
            &facts("GET", "/v1/orders/1", None, None)
        ),
        Ok(None)
    );
    assert_eq!(
        check(KeyKind::Secret, &Policy::default(), &overriding),
        Ok(None)
    );
    assert_eq!(
        check(KeyKind::Publishable, &Policy::default(), &overriding),
        Ok(None)
    );
}

/// Second attacker pass: `within` is one rule for both kinds. A publishable key reaches the
/// frontend routes (every method), from any address, at its own rate limit, until its own
/// expiry; a holder acts on it only if all of that is within its own reach.
#[test]
fn a_publishable_key_reaches_the_frontend_routes_from_anywhere_at_its_own_rate_until_its_own_expiry(
) {
    let frontend = FrontendRoutes::default();
    let pk = |json: &str| policy(json);
    let open = pk("{}");
    let locked = pk(r#"{"allowed_origins":["https://shop.example"]}"#);
    // An unrestricted key, or one restricted only in its scopes, reaches every publishable key.
    for holder in ["{}", r#"{"scopes":["keys:read","keys:write"]}"#] {
        let holder = policy(holder);
        assert!(open.within(KeyKind::Publishable, &holder, &frontend));
        assert!(locked.within(KeyKind::Publishable, &holder, &frontend));
    }
    // The issue's key: held to GET /v1/orders/*. It reaches no publishable key at all, so
    // it can neither unlock one (allowed_origins: null) nor suspend, revoke or mint one.
    let orders = policy(
        r#"{"scopes":["keys:read","keys:write"],"routes":[{"methods":["GET"],"path":"/v1/orders/*"}]}"#,
    );
    assert!(!open.within(KeyKind::Publishable, &orders, &frontend));
    assert!(!locked.within(KeyKind::Publishable, &orders, &frontend));
    // Routes: the frontend routes with every method, or a route above them.
    for (holder, reaches) in [
        (r#"{"routes":[{"path":"/v1/client/*"}]}"#, true),
        (r#"{"routes":[{"path":"/v1/*"}]}"#, true),
        (r#"{"routes":[{"path":"/*"}]}"#, true),
        (
            r#"{"routes":[{"methods":["GET","POST"],"path":"/v1/client/*"}]}"#,
            false,
        ),
        (r#"{"routes":[{"path":"/v1/client/login"}]}"#, false),
        (
            r#"{"routes":[{"path":"/v1/client/*"}],"allowed_ips":["10.0.0.0/8"]}"#,
            false,
        ),
    ] {
        assert_eq!(
            open.within(KeyKind::Publishable, &policy(holder), &frontend),
            reaches,
            "{holder}"
        );
    }
    // Expiry and rate: the publishable key's own, no wider than the holder's. Removing a
    // restriction is widening.
    let temporary =
        policy(r#"{"expires_at":1800000600000,"rate_limit":{"requests":10,"per_seconds":60}}"#);
    assert!(!open.within(KeyKind::Publishable, &temporary, &frontend));
    assert!(
        pk(r#"{"expires_at":1800000600000,"rate_limit":{"requests":10,"per_seconds":60}}"#).within(
            KeyKind::Publishable,
            &temporary,
            &frontend
        )
    );
    assert!(pk(r#"{"expires_at":1800000500000,"rate_limit":{"requests":1,"per_seconds":60},"allowed_origins":["null"]}"#)
        .within(KeyKind::Publishable, &temporary, &frontend));
    assert!(
        !pk(r#"{"expires_at":1800000600001,"rate_limit":{"requests":10,"per_seconds":60}}"#)
            .within(KeyKind::Publishable, &temporary, &frontend)
    );
    assert!(!pk(r#"{"expires_at":1800000600000}"#).within(
        KeyKind::Publishable,
        &temporary,
        &frontend
    ));
    // Other frontend routes configured: the same rule over each of them.
    let two = FrontendRoutes::parse("/v1/client/*, /auth/*");
    let client_only = policy(r#"{"routes":[{"path":"/v1/client/*"}]}"#);
    assert!(!open.within(KeyKind::Publishable, &client_only, &two));
    let both = policy(r#"{"routes":[{"path":"/v1/client/*"},{"path":"/auth/*"}]}"#);
    assert!(open.within(KeyKind::Publishable, &both, &two));
}
