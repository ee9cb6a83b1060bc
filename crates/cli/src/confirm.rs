//! Confirmation before a change that cannot be undone (revoking, rotating with no grace
//! period): asked on a terminal, naming the key; `--yes` in scripts; refused when there
//! is no terminal and no `--yes`.

use std::io::{BufRead, IsTerminal, Write};

use serde_json::Value;

use crate::api::text;
use crate::api::Api;
use crate::exit::{Exit, Failure, Result};

pub fn destructive(api: &Api, key_id: &str, yes: bool, action: &str, what: &str) -> Result<()> {
    if yes {
        return Ok(());
    }
    if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        return Err(Failure::usage(format!(
            "{what} {key_id} cannot be undone, and there is no terminal to ask for \
             confirmation on: add --yes to confirm it in a script"
        )));
    }
    let name = describe(api, key_id);
    eprint!("{action}.\n  {name}\nType yes to go on: ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|err| Failure::usage(format!("standard input: {err}")))?;
    if matches!(answer.trim().to_ascii_lowercase().as_str(), "yes" | "y") {
        Ok(())
    } else {
        Err(Failure::new(
            Exit::Refused,
            "not confirmed; nothing was changed",
        ))
    }
}

/// `key_… "billing" sk_live_…Qx9a (secret, active)`, or the id alone when the key list
/// cannot be read (a key without `keys:read`, say).
fn describe(api: &Api, key_id: &str) -> String {
    let list: Result<Value> = api.get(&format!("{}/keys?include_revoked=true", api.scope_path()));
    let Some(key) = list.ok().and_then(|list| {
        list["keys"]
            .as_array()
            .and_then(|keys| keys.iter().find(|k| k["id"] == key_id).cloned())
    }) else {
        return key_id.to_owned();
    };
    let mut out = format!(
        "{key_id} {:?} {} ({}, {})",
        text(&key["label"]),
        text(&key["hint"]),
        text(&key["kind"]),
        text(&key["status"])
    );
    if api.credential().key_hint().as_deref() == key["hint"].as_str() {
        out.push_str(": probably the very key this command runs with");
    }
    out
}
