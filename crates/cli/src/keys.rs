//! `aero2 keys …`: the key routes of the management API, for a secret key (`/v1/keys…`)
//! or the operator (`/v1/applications/{id}/keys…`).
//!
//! Standard output carries only what a script consumes: a new key's value (alone, once),
//! a table, or JSON when asked. Everything for people goes to standard error.

use std::io::Write;

use comfy_table::{presets::UTF8_FULL_CONDENSED, ContentArrangement, Table};
use serde_json::{json, Map, Value};

use crate::api::{self, printable, text, Api};
use crate::cli::{ClearArgs, KeysCommand, PolicyArgs, Target};
use crate::confirm;
use crate::credentials;
use crate::exit::{Exit, Failure, Result};
use crate::units::format_duration;

pub fn connect(target: &Target) -> Result<Api> {
    let credential = credentials::load(target.key_file.as_deref(), target.app.as_deref())?;
    Api::new(target.api_url.as_deref(), credential)
}

pub fn run(command: KeysCommand) -> Result<Exit> {
    match command {
        KeysCommand::List {
            include_revoked,
            json,
            target,
        } => {
            let api = connect(&target)?;
            let path = format!(
                "{}/keys{}",
                api.scope_path(),
                api::query(&[("include_revoked", include_revoked.then(|| "true".into()))])
            );
            let list: Value = api.get(&path)?;
            if json {
                print_json(&list)?;
            } else {
                let keys = list["keys"].as_array().cloned().unwrap_or_default();
                if keys.is_empty() {
                    eprintln!("no keys");
                } else {
                    print_stdout(&format!("{}\n", key_table(&keys)))?;
                }
            }
            Ok(Exit::Ok)
        }
        KeysCommand::Create {
            kind,
            label,
            canary,
            canary_suspends,
            policy,
            json,
            target,
        } => {
            let mut body = Map::new();
            body.insert("kind".into(), json!(kind.as_str()));
            if let Some(label) = label {
                body.insert("label".into(), json!(label));
            }
            if canary {
                body.insert("canary".into(), json!(true));
                let ids = canary_suspends
                    .iter()
                    .map(|id| api::key_id(id))
                    .collect::<Result<Vec<_>>>()?;
                if !ids.is_empty() {
                    body.insert("canary_suspends".into(), json!(ids));
                }
            }
            policy_fields(&policy, false, &mut body)?;
            let api = connect(&target)?;
            let created: Value = api.post(
                &format!("{}/keys", api.scope_path()),
                Some(&Value::Object(body)),
            )?;
            let key = &created["key"];
            if json {
                print_json(&created)?;
            } else {
                print_value(key)?;
            }
            eprintln!(
                "created {} key {} ({}, label {:?}), {}",
                text(&key["kind"]),
                text(&key["id"]),
                text(&key["hint"]),
                text(&key["label"]),
                status(key)
            );
            if !json {
                eprintln!("its value was printed above and is never shown again");
            }
            Ok(Exit::Ok)
        }
        KeysCommand::Rotate {
            key_id,
            grace,
            yes,
            json,
            target,
        } => {
            let key_id = api::key_id(&key_id)?;
            if let Some(grace) = grace {
                if grace > 604_800 {
                    return Err(Failure::usage(
                        "--grace is at most 7d (604800 seconds); 0 revokes the old key at once",
                    ));
                }
            }
            let api = connect(&target)?;
            if grace == Some(0) {
                confirm::destructive(
                    &api,
                    &key_id,
                    yes,
                    "Rotate with no grace period: the key stops working at once",
                    "--grace 0",
                )?;
            }
            let body = grace.map(|g| json!({"grace_period_seconds": g}));
            let rotated: Value = api.post(
                &format!("{}/keys/{key_id}/rotate", api.scope_path()),
                body.as_ref(),
            )?;
            let new = &rotated["key"];
            let old = &rotated["previous_key"];
            if json {
                print_json(&rotated)?;
            } else {
                print_value(new)?;
            }
            eprintln!(
                "rotated {} ({}) to {} ({})",
                text(&old["id"]),
                text(&old["hint"]),
                text(&new["id"]),
                text(&new["hint"])
            );
            match old["expires_at"].as_str() {
                Some(until) if old["status"] == "expiring" => {
                    eprintln!(
                    "the old key passes the gate until {until}{}, but can no longer manage keys",
                    grace.map_or(String::new(), |g| format!(" (grace {})", format_duration(g)))
                )
                }
                _ => eprintln!("the old key is {}", status(old)),
            }
            if let Some(effective) = rotated["effective_at"].as_str() {
                eprintln!("effective_at {effective}");
            }
            if api.credential().key_hint().as_deref() == old["hint"].as_str() {
                eprintln!(
                    "note: if that was the key in AERO2_SECRET_KEY, use the new one from now on"
                );
            }
            Ok(Exit::Ok)
        }
        KeysCommand::Revoke {
            key_id,
            yes,
            json,
            target,
        } => {
            let key_id = api::key_id(&key_id)?;
            let api = connect(&target)?;
            confirm::destructive(
                &api,
                &key_id,
                yes,
                "Revoke: the key stops working at once, for good",
                "revoking",
            )?;
            change(&api, &key_id, "revoke", "revoked", json)
        }
        KeysCommand::Suspend {
            key_id,
            json,
            target,
        } => {
            let key_id = api::key_id(&key_id)?;
            change(&connect(&target)?, &key_id, "suspend", "suspended", json)
        }
        KeysCommand::Resume {
            key_id,
            json,
            target,
        } => {
            let key_id = api::key_id(&key_id)?;
            change(&connect(&target)?, &key_id, "resume", "resumed", json)
        }
        KeysCommand::Update {
            key_id,
            label,
            policy,
            clear,
            json,
            target,
        } => {
            let key_id = api::key_id(&key_id)?;
            let mut body = Map::new();
            if let Some(label) = label {
                body.insert("label".into(), json!(label));
            }
            policy_fields(&policy, true, &mut body)?;
            clear_fields(&clear, &mut body);
            if body.is_empty() {
                return Err(Failure::usage(
                    "nothing to change: give --label or a policy flag (see aero2 keys update --help)",
                ));
            }
            let api = connect(&target)?;
            let fields: Vec<String> = body.keys().cloned().collect();
            let updated: Value = api.patch(
                &format!("{}/keys/{key_id}", api.scope_path()),
                &Value::Object(body),
            )?;
            if json {
                print_json(&updated)?;
            }
            let key = &updated["key"];
            eprintln!(
                "updated {} ({}): {}",
                text(&key["id"]),
                text(&key["hint"]),
                fields.join(", ")
            );
            effective(&updated);
            Ok(Exit::Ok)
        }
    }
}

/// `POST /keys/{id}/{action}` (revoke, suspend, resume).
fn change(api: &Api, key_id: &str, action: &str, done: &str, json: bool) -> Result<Exit> {
    let answer: Value = api.post(
        &format!("{}/keys/{key_id}/{action}", api.scope_path()),
        None,
    )?;
    if json {
        print_json(&answer)?;
    }
    let key = &answer["key"];
    eprintln!(
        "{done} {} ({}, label {:?}), {}",
        text(&key["id"]),
        text(&key["hint"]),
        text(&key["label"]),
        status(key)
    );
    effective(&answer);
    Ok(Exit::Ok)
}

fn effective(answer: &Value) {
    match answer["effective_at"].as_str() {
        Some(at) => eprintln!("effective_at {at}: from then on no location sees the old state"),
        None if answer.get("effective_at").is_some() => eprintln!(
            "effective_at not known yet: the change holds at the key ring, and reaches the \
             edge when Workers KV accepts the write"
        ),
        None => {}
    }
}

/// The policy flags as API fields. `update` sends `null` for "all" scopes.
fn policy_fields(policy: &PolicyArgs, update: bool, body: &mut Map<String, Value>) -> Result<()> {
    if let Some(seconds) = policy.expires_in {
        if seconds == 0 {
            return Err(Failure::usage("--expires-in must be longer than 0"));
        }
        body.insert("expires_in_seconds".into(), json!(seconds));
    }
    if let Some(at) = &policy.expires_at {
        body.insert("expires_at".into(), json!(at));
    }
    if let Some(scopes) = &policy.scopes {
        match scopes.trim() {
            "all" if update => {
                body.insert("scopes".into(), Value::Null);
            }
            "all" => {}
            "none" | "" => {
                body.insert("scopes".into(), json!([]));
            }
            list => {
                let scopes: Vec<&str> = list
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .collect();
                body.insert("scopes".into(), json!(scopes));
            }
        }
    }
    if !policy.routes.is_empty() {
        body.insert("routes".into(), json!(policy.routes));
    }
    if !policy.allowed_origins.is_empty() {
        body.insert("allowed_origins".into(), json!(policy.allowed_origins));
    }
    if let Some(origin_policy) = policy.origin_policy {
        body.insert("origin_policy".into(), json!(origin_policy.as_str()));
    }
    if !policy.allowed_ips.is_empty() {
        body.insert("allowed_ips".into(), json!(policy.allowed_ips));
    }
    if let Some(rate) = &policy.rate_limit {
        body.insert("rate_limit".into(), rate.clone());
    }
    Ok(())
}

fn clear_fields(clear: &ClearArgs, body: &mut Map<String, Value>) {
    let fields = [
        (clear.clear_expiry, "expires_at"),
        (clear.clear_routes, "routes"),
        (clear.clear_allowed_origins, "allowed_origins"),
        (clear.clear_allowed_ips, "allowed_ips"),
        (clear.clear_rate_limit, "rate_limit"),
    ];
    for (set, field) in fields {
        if set {
            body.insert(field.into(), Value::Null);
        }
    }
}

/// The new key's value, alone on standard output: the one time any key is printed.
fn print_value(key: &Value) -> Result<()> {
    let value = key["value"].as_str().ok_or_else(|| {
        Failure::new(
            Exit::Unavailable,
            "the API's answer holds no key value; the key may have been created: run aero2 keys list",
        )
    })?;
    print_stdout(&format!("{value}\n"))
}

pub fn print_json(value: &Value) -> Result<()> {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    print_stdout(&text)
}

pub fn print_stdout(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|err| Failure::usage(format!("standard output: {err}")))
}

fn status(key: &Value) -> String {
    let mut status = text(&key["status"]);
    if key["suspended_at"].is_string() {
        status.push_str(", suspended");
    }
    if key["canary"] == true {
        status.push_str(", canary");
    }
    status
}

/// A time as `2026-11-29 09:00:00Z` (to the second), `-` when absent.
pub fn time(value: &Value) -> String {
    match value.as_str() {
        Some(t) => {
            let t = printable(t).replacen('T', " ", 1);
            match t.split_once('.') {
                Some((seconds, _)) if t.ends_with('Z') => format!("{seconds}Z"),
                _ => t,
            }
        }
        None => "-".into(),
    }
}

/// The restrictions of a key at a glance, as the dashboard's badges say them.
fn restrictions(key: &Value) -> String {
    let mut out: Vec<String> = Vec::new();
    if let Some(scopes) = key["scopes"].as_array() {
        let names: Vec<&str> = scopes.iter().filter_map(Value::as_str).collect();
        out.push(if names.is_empty() {
            "scopes: none".into()
        } else {
            format!("scopes: {}", names.join(","))
        });
    }
    let count = |field: &str, noun: &str| {
        key[field].as_array().map(|list| {
            format!(
                "{} {noun}{}",
                list.len(),
                if list.len() == 1 { "" } else { "s" }
            )
        })
    };
    out.extend(count("routes", "route"));
    if let Some(origins) = count("allowed_origins", "origin") {
        let policy = key["origin_policy"].as_str().unwrap_or("enforce");
        out.push(format!("{origins} ({policy})"));
    }
    out.extend(count("allowed_ips", "IP range").map(|s| format!("IP: {s}")));
    if let (Some(r), Some(p)) = (
        key["rate_limit"]["requests"].as_u64(),
        key["rate_limit"]["per_seconds"].as_u64(),
    ) {
        out.push(format!("{r}/{}", format_duration(p)));
    }
    if key["policy_expires_at"].is_string() {
        out.push("expires".into());
    }
    if out.is_empty() {
        "-".into()
    } else {
        out.join("; ")
    }
}

fn key_table(keys: &[Value]) -> Table {
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header([
            "ID",
            "KIND",
            "LABEL",
            "HINT",
            "STATUS",
            "CREATED",
            "LAST USED",
            "EXPIRES",
            "RESTRICTIONS",
        ]);
    for key in keys {
        table.add_row([
            text(&key["id"]),
            text(&key["kind"]),
            text(&key["label"]),
            text(&key["hint"]),
            status(key),
            time(&key["created_at"]),
            time(&key["last_used_at"]),
            time(&key["expires_at"]),
            restrictions(key),
        ]);
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::OriginPolicy;

    #[test]
    fn policy_flags_become_api_fields() {
        let policy = PolicyArgs {
            expires_in: Some(3600),
            scopes: Some("keys:read, audit:read".into()),
            routes: vec![json!({"path": "/v1/x"})],
            allowed_ips: vec!["203.0.113.0/24".into()],
            rate_limit: Some(json!({"requests": 100, "per_seconds": 60})),
            ..PolicyArgs::default()
        };
        let mut body = Map::new();
        policy_fields(&policy, false, &mut body).unwrap();
        assert_eq!(
            Value::Object(body),
            json!({
                "expires_in_seconds": 3600,
                "scopes": ["keys:read", "audit:read"],
                "routes": [{"path": "/v1/x"}],
                "allowed_ips": ["203.0.113.0/24"],
                "rate_limit": {"requests": 100, "per_seconds": 60},
            })
        );
    }

    #[test]
    fn all_scopes_is_absent_at_creation_and_null_in_an_update() {
        let policy = PolicyArgs {
            scopes: Some("all".into()),
            origin_policy: Some(OriginPolicy::Report),
            ..PolicyArgs::default()
        };
        let mut create = Map::new();
        policy_fields(&policy, false, &mut create).unwrap();
        assert_eq!(Value::Object(create), json!({"origin_policy": "report"}));
        let mut update = Map::new();
        policy_fields(&policy, true, &mut update).unwrap();
        assert_eq!(
            Value::Object(update),
            json!({"scopes": null, "origin_policy": "report"})
        );
        let none = PolicyArgs {
            scopes: Some("none".into()),
            ..PolicyArgs::default()
        };
        let mut body = Map::new();
        policy_fields(&none, false, &mut body).unwrap();
        assert_eq!(Value::Object(body), json!({"scopes": []}));
    }

    #[test]
    fn clears_are_nulls() {
        let clear = ClearArgs {
            clear_expiry: true,
            clear_rate_limit: true,
            ..ClearArgs::default()
        };
        let mut body = Map::new();
        clear_fields(&clear, &mut body);
        assert_eq!(
            Value::Object(body),
            json!({"expires_at": null, "rate_limit": null})
        );
    }

    #[test]
    fn restrictions_at_a_glance() {
        let key = json!({
            "scopes": ["keys:read"],
            "routes": [{"path": "/a"}, {"path": "/b"}],
            "allowed_origins": ["https://shop.example"],
            "origin_policy": "report",
            "rate_limit": {"requests": 100, "per_seconds": 60},
        });
        assert_eq!(
            restrictions(&key),
            "scopes: keys:read; 2 routes; 1 origin (report); 100/1m"
        );
        assert_eq!(restrictions(&json!({})), "-");
    }

    #[test]
    fn times_are_shown_to_the_second() {
        assert_eq!(
            time(&json!("2026-11-29T09:00:00.123Z")),
            "2026-11-29 09:00:00Z"
        );
        assert_eq!(time(&Value::Null), "-");
    }
}
