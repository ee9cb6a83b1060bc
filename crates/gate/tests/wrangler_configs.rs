//! The two Workers are configured in two files, `wrangler.toml` (the gate) and
//! `crates/control/wrangler.toml` (the control plane). What both must agree on is checked
//! here, so that a setting changed in one file alone fails the tests instead of splitting
//! one deployment's rules in two.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// Settings both Workers read, which must be equal: the validation modes (receipts state
/// them), the frontend routes (the gate's decision and the key ring's), the record cache
/// (part of edge mode's revocation bound, which receipts state) and the shard count
/// (which replica holds a key).
const SHARED: [&str; 5] = [
    "FRONTEND_ROUTES",
    "SECRET_KEY_VALIDATION",
    "PUBLISHABLE_KEY_VALIDATION",
    "EDGE_CACHE_SECONDS",
    "REGIONAL_SHARDS",
];

fn read(relative: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The `NAME = "value"` lines of a section (comments and other tables skipped). Enough for
/// these files, which the test also keeps honest: a line it cannot read fails it.
fn section(toml: &str, name: &str) -> BTreeMap<String, String> {
    let mut inside = false;
    let mut values = BTreeMap::new();
    for line in toml.lines().map(str::trim) {
        if line.starts_with('[') {
            inside = line == format!("[{name}]");
            continue;
        }
        if !inside || line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = line
            .split_once(" = ")
            .unwrap_or_else(|| panic!("[{name}]: cannot read {line:?}"));
        let value = value.trim_matches('"');
        values.insert(key.to_owned(), value.to_owned());
    }
    values
}

/// The first `key = "value"` (or `key = value`) anywhere in the file.
fn first(toml: &str, key: &str) -> String {
    toml.lines()
        .map(str::trim)
        .find_map(|line| line.strip_prefix(&format!("{key} = ")))
        .unwrap_or_else(|| panic!("no {key}"))
        .trim_matches('"')
        .to_owned()
}

#[test]
fn the_settings_both_workers_read_are_equal() {
    let gate = section(&read("../../wrangler.toml"), "vars");
    let control = section(&read("../control/wrangler.toml"), "vars");
    for name in SHARED {
        let (Some(in_gate), Some(in_control)) = (gate.get(name), control.get(name)) else {
            panic!("{name} must be set in both wrangler.toml files");
        };
        assert_eq!(
            in_gate, in_control,
            "{name} differs between the two Workers"
        );
    }
}

#[test]
fn the_gate_binds_the_control_plane_it_is_deployed_with() {
    let gate = read("../../wrangler.toml");
    let control = read("../control/wrangler.toml");
    let control_name = first(&control, "name");
    assert_eq!(
        first(&gate, "service"),
        control_name,
        "the CONTROL service binding"
    );
    let script_names: Vec<&str> = gate
        .match_indices("script_name = \"")
        .map(|(at, prefix)| {
            let rest = &gate[at + prefix.len()..];
            &rest[..rest.find('"').unwrap()]
        })
        .collect();
    assert_eq!(
        script_names.len(),
        2,
        "KEY_RING and REPLICA name their script"
    );
    assert!(script_names.iter().all(|name| *name == control_name));
    // One KV namespace: the control plane writes the records the gate reads.
    assert_eq!(first(&gate, "id"), first(&control, "id"));
    assert_eq!(
        first(&gate, "compatibility_date"),
        first(&control, "compatibility_date")
    );
}
