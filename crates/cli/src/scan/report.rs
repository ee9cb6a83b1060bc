//! Scan reports: text, JSON and SARIF 2.1.0 on standard output; the summary on standard
//! error. No format ever holds more of a key than its hint (prefix and last 4).

use std::io::Write;
use std::time::Duration;

use serde_json::{json, Value};

use super::{Finding, ScanResult};
use crate::cli::Format;
use crate::exit::{Failure, Result};

pub const SECRET_RULE: &str = "aero2/secret-key";
pub const PUBLISHABLE_RULE: &str = "aero2/publishable-key";

pub fn write(result: &ScanResult, format: Format, staged: bool, elapsed: Duration) -> Result<()> {
    let body = match format {
        Format::Text => text(result),
        Format::Json => pretty(&json_report(result)),
        Format::Sarif => pretty(&sarif(result)),
    };
    let mut out = std::io::stdout().lock();
    out.write_all(body.as_bytes())
        .and_then(|()| out.flush())
        .or_else(|err| {
            // A closed pipe (`aero2 scan | head`) is not a failure of the scan.
            if err.kind() == std::io::ErrorKind::BrokenPipe {
                Ok(())
            } else {
                Err(err)
            }
        })
        .map_err(|err| Failure::usage(format!("standard output: {err}")))?;
    eprintln!("{}", summary(result, staged, elapsed));
    for error in &result.errors {
        eprintln!("warning: not scanned: {}", crate::api::printable(error));
    }
    if result.secret_count() > 0 {
        eprintln!(
            "{}",
            if staged {
                "This commit would record a secret key. Remove it from the staged files \
                 (load it from the environment instead), and rotate the key if it was ever \
                 pushed or shared: aero2 keys rotate key_..."
            } else {
                "Secret keys must never be in files that are shared. Move each one to the \
                 environment or a secret store, and rotate it if the file was ever pushed or \
                 shared: aero2 keys rotate key_..."
            }
        );
    }
    Ok(())
}

fn pretty(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    text
}

fn describe(finding: &Finding) -> String {
    let hit = &finding.hit;
    if finding.is_secret() {
        format!(
            "secret key {} of {} ({}): remove it, and rotate it if it was shared",
            hit.hint, hit.application_id, hit.environment
        )
    } else {
        format!(
            "publishable key {} of {} ({}): public by design, not a leak",
            hit.hint, hit.application_id, hit.environment
        )
    }
}

fn text(result: &ScanResult) -> String {
    let mut out = String::new();
    for finding in &result.findings {
        let hit = &finding.hit;
        let level = if finding.is_secret() { "error" } else { "note" };
        out.push_str(&format!(
            "{}:{}:{}: {level}: {}\n",
            crate::api::printable(&finding.path),
            hit.line,
            hit.column,
            describe(finding)
        ));
    }
    out
}

fn summary(result: &ScanResult, staged: bool, elapsed: Duration) -> String {
    let secrets = result.secret_count();
    let publishable = result.findings.len() - secrets;
    let what = if staged { "staged file" } else { "file" };
    let mut line = format!(
        "aero2 scan: {} and {} in {}",
        plural(secrets as u64, "secret key"),
        plural(publishable as u64, "publishable key"),
        plural(result.files_scanned, what),
    );
    if result.binary_skipped > 0 {
        line.push_str(&format!(
            " ({} skipped: binary)",
            plural(result.binary_skipped, "file")
        ));
    }
    line.push_str(&format!(", {:.2} s", elapsed.as_secs_f64()));
    line
}

fn plural(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

fn finding_json(finding: &Finding) -> Value {
    let hit = &finding.hit;
    json!({
        "path": finding.path,
        "line": hit.line,
        "column": hit.column,
        "end_column": hit.end_column,
        "kind": hit.kind.as_str(),
        "environment": hit.environment.as_str(),
        "application_id": hit.application_id,
        "hint": hit.hint,
        "severity": if finding.is_secret() { "error" } else { "note" },
    })
}

pub fn json_report(result: &ScanResult) -> Value {
    json!({
        "findings": result.findings.iter().map(finding_json).collect::<Vec<_>>(),
        "summary": {
            "files_scanned": result.files_scanned,
            "binary_files_skipped": result.binary_skipped,
            "secret_keys": result.secret_count(),
            "publishable_keys": result.findings.len() - result.secret_count(),
            "errors": result.errors,
        }
    })
}

/// SARIF 2.1.0 as GitHub code scanning reads it: a rule per key kind, a result per
/// finding with a relative URI (against `%SRCROOT%`), line and column (in Unicode code
/// points, as `columnKind` says).
pub fn sarif(result: &ScanResult) -> Value {
    let results: Vec<Value> = result
        .findings
        .iter()
        .map(|finding| {
            let hit = &finding.hit;
            let (rule, index, level) = if finding.is_secret() {
                (SECRET_RULE, 0, "error")
            } else {
                (PUBLISHABLE_RULE, 1, "note")
            };
            let mut artifact = serde_json::Map::new();
            let uri = path_uri(&finding.path);
            if !uri.starts_with("file:") {
                artifact.insert("uriBaseId".into(), json!("%SRCROOT%"));
            }
            artifact.insert("uri".into(), json!(uri));
            json!({
                "ruleId": rule,
                "ruleIndex": index,
                "level": level,
                "message": {"text": format!("An Aero2 {}", describe(finding))},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": artifact,
                        "region": {
                            "startLine": hit.line,
                            "startColumn": hit.column,
                            "endLine": hit.line,
                            "endColumn": hit.end_column,
                        }
                    }
                }],
                "properties": {
                    "hint": hit.hint,
                    "applicationId": hit.application_id,
                    "environment": hit.environment.as_str(),
                }
            })
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "aero2",
                    "fullName": "aero2 scan (Aero2 Keys)",
                    "version": env!("CARGO_PKG_VERSION"),
                    "semanticVersion": env!("CARGO_PKG_VERSION"),
                    "rules": [
                        {
                            "id": SECRET_RULE,
                            "name": "Aero2SecretKey",
                            "shortDescription": {"text": "An Aero2 secret key in a file"},
                            "fullDescription": {"text": "A real Aero2 secret key (sk_live_ or sk_test_, checksum verified). Secret keys can manage the application's keys and pass the gate; anyone who reads this file can use it."},
                            "help": {
                                "text": "Remove the key from the file and load it from the environment or a secret store. If the file was ever pushed or shared, rotate the key: aero2 keys rotate key_... (with --grace 0 if it may be in use by someone else).",
                                "markdown": "Remove the key from the file and load it from the environment or a secret store. If the file was ever pushed or shared, rotate the key: `aero2 keys rotate key_...` (with `--grace 0` if it may be in use by someone else)."
                            },
                            "defaultConfiguration": {"level": "error"},
                            "properties": {
                                "tags": ["security", "secret", "external/cwe/cwe-798"],
                                "precision": "very-high",
                                "problem.severity": "error",
                                "security-severity": "9.1"
                            }
                        },
                        {
                            "id": PUBLISHABLE_RULE,
                            "name": "Aero2PublishableKey",
                            "shortDescription": {"text": "An Aero2 publishable key in a file"},
                            "fullDescription": {"text": "A real Aero2 publishable key (pk_live_ or pk_test_). Publishable keys are public by design: this is information, not a leak."},
                            "help": {
                                "text": "Nothing to do: publishable keys may appear in client code and public repositories.",
                                "markdown": "Nothing to do: publishable keys may appear in client code and public repositories."
                            },
                            "defaultConfiguration": {"level": "note"},
                            "properties": {
                                "tags": ["secret"],
                                "precision": "very-high",
                                "problem.severity": "recommendation"
                            }
                        }
                    ]
                }
            },
            "columnKind": "unicodeCodePoints",
            "results": results,
        }]
    })
}

/// A path as a URI reference: relative paths stay relative (resolved against
/// `%SRCROOT%`, the directory the scan ran in), absolute ones become `file:` URIs.
fn path_uri(path: &str) -> String {
    let unified = path.replace('\\', "/");
    let mut out = String::new();
    if unified.starts_with('/') {
        out.push_str("file://");
    }
    for byte in unified.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=:@".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_become_uri_references() {
        assert_eq!(path_uri("src/a b.rs"), "src/a%20b.rs");
        assert_eq!(path_uri("/tmp/x#1"), "file:///tmp/x%231");
        assert_eq!(path_uri("dir\\é.txt"), "dir/%C3%A9.txt");
    }
}
