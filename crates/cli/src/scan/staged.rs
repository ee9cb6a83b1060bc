//! `--staged`: what `git commit` would record, read from the index (not the work tree,
//! which may differ), and the pre-commit hook that runs it.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::matcher::{Matcher, Outcome, Scanner};
use super::{Finding, ScanResult};
use crate::exit::{Exit, Failure, Result};

/// A staged file: its path in the repository and the blob the index holds for it.
#[derive(Debug, PartialEq, Eq)]
struct Staged {
    path: String,
    blob: String,
}

fn git(args: &[&str]) -> Command {
    let mut command = Command::new("git");
    command.args(args);
    command
}

fn run_git(command: &mut Command, what: &str) -> Result<Vec<u8>> {
    let output = command
        .stderr(Stdio::piped())
        .output()
        .map_err(|err| Failure::usage(format!("could not run git ({what}): {err}")))?;
    if !output.status.success() {
        return Err(Failure::usage(format!(
            "git {what} failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(output.stdout)
}

/// Scans the staged content of every staged file (added, copied, modified or changed in
/// type; not deleted), limited to `paths` when given.
pub fn scan_staged(paths: &[PathBuf], include_binary: bool) -> Result<ScanResult> {
    let mut diff = git(&[
        "diff",
        "--cached",
        "--raw",
        "-z",
        "--no-renames",
        "--no-abbrev",
        "--diff-filter=d",
        "--no-ext-diff",
        "--",
    ]);
    diff.args(paths);
    let raw = run_git(&mut diff, "diff --cached")?;
    let staged = parse_raw_diff(&raw);

    let matcher = Matcher::new();
    let scanner = Scanner::new(&matcher, include_binary);
    let mut result = ScanResult::default();
    read_blobs(&staged, |file, content| match scanner.scan_bytes(content) {
        Outcome::Text(hits) => {
            result.files_scanned += 1;
            result.findings.extend(hits.into_iter().map(|hit| Finding {
                path: file.path.clone(),
                hit,
            }));
        }
        Outcome::Binary => result.binary_skipped += 1,
    })?;
    result.sort();
    Ok(result)
}

/// Records of `git diff --raw -z`: `:old_mode new_mode old_oid new_oid status\0path\0`.
/// Regular files only: a symbolic link's blob is its target, a submodule has none here.
fn parse_raw_diff(raw: &[u8]) -> Vec<Staged> {
    let mut out = Vec::new();
    let mut fields = raw.split(|&b| b == 0).filter(|f| !f.is_empty());
    while let (Some(meta), Some(path)) = (fields.next(), fields.next()) {
        let meta = String::from_utf8_lossy(meta);
        let parts: Vec<&str> = meta.trim_start_matches(':').split(' ').collect();
        let [_, new_mode, _, new_oid, _status] = parts[..] else {
            continue;
        };
        if !matches!(new_mode, "100644" | "100755") || new_oid.bytes().all(|b| b == b'0') {
            continue;
        }
        out.push(Staged {
            path: String::from_utf8_lossy(path).into_owned(),
            blob: new_oid.to_owned(),
        });
    }
    out
}

/// Reads the blobs with one `git cat-file --batch` and hands each to `each`.
fn read_blobs(staged: &[Staged], mut each: impl FnMut(&Staged, &[u8])) -> Result<()> {
    if staged.is_empty() {
        return Ok(());
    }
    let mut child = git(&["cat-file", "--batch"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|err| Failure::usage(format!("could not run git cat-file: {err}")))?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    let ids: String = staged.iter().map(|s| format!("{}\n", s.blob)).collect();
    // Written from another thread: git answers while it reads, and both pipes are bounded.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(ids.as_bytes());
    });
    let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
    let mut header = String::new();
    let mut content = Vec::new();
    for file in staged {
        header.clear();
        stdout
            .read_line(&mut header)
            .map_err(|err| Failure::usage(format!("git cat-file: {err}")))?;
        // `<oid> blob <size>`, or `<oid> missing`.
        let size = header
            .trim_end()
            .rsplit(' ')
            .next()
            .and_then(|s| s.parse::<usize>().ok())
            .filter(|_| header.contains(" blob "))
            .ok_or_else(|| {
                Failure::usage(format!("git cat-file: no staged content for {}", file.path))
            })?;
        content.clear();
        content.resize(size + 1, 0);
        stdout
            .read_exact(&mut content)
            .map_err(|err| Failure::usage(format!("git cat-file: {err}")))?;
        content.truncate(size);
        each(file, &content);
    }
    let _ = writer.join();
    let _ = child.wait();
    Ok(())
}

const HOOK: &str = r#"#!/bin/sh
# Installed by `aero2 scan --install-hook`: refuses a commit that would record an Aero2
# secret key (the staged content is scanned, not the work tree).
# To commit anyway, once, after checking: git commit --no-verify
AERO2="${AERO2_BIN:-aero2}"
if ! command -v "$AERO2" >/dev/null 2>&1; then
  AERO2=@EXE@
fi
exec "$AERO2" scan --staged
"#;

/// Writes the repository's pre-commit hook (where `core.hooksPath` says, if set).
pub fn install_hook(force: bool) -> Result<Exit> {
    let path = run_git(
        git(&["rev-parse", "--git-path", "hooks/pre-commit"]).stdout(Stdio::piped()),
        "rev-parse (is this a git repository?)",
    )?;
    let path = PathBuf::from(String::from_utf8_lossy(&path).trim());
    let exe = std::env::current_exe()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "aero2".into());
    let content = HOOK.replace("@EXE@", &shell_quote(&exe));
    write_hook(&path, &content, force)
}

fn write_hook(path: &Path, content: &str, force: bool) -> Result<Exit> {
    match std::fs::read_to_string(path) {
        Ok(existing) if existing == content => {
            eprintln!(
                "the pre-commit hook is already installed: {}",
                path.display()
            );
            return Ok(Exit::Ok);
        }
        Ok(_) if !force => {
            return Err(Failure::new(
                Exit::Refused,
                format!(
                    "{} already exists and is a different hook; add `exec aero2 scan --staged` \
                     to it yourself, or replace it with --install-hook --force",
                    path.display()
                ),
            ))
        }
        _ => {}
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|err| Failure::usage(format!("{}: {err}", dir.display())))?;
    }
    std::fs::write(path, content)
        .map_err(|err| Failure::usage(format!("{}: {err}", path.display())))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
            .map_err(|err| Failure::usage(format!("{}: {err}", path.display())))?;
    }
    eprintln!(
        "installed {}: every commit now runs `aero2 scan --staged`",
        path.display()
    );
    Ok(Exit::Ok)
}

fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ZERO_OID: &str = "0000000000000000000000000000000000000000";

    #[test]
    fn raw_diff_records_keep_regular_files_only() {
        let a = "1111111111111111111111111111111111111111";
        let b = "2222222222222222222222222222222222222222";
        let raw = format!(
            ":000000 100644 {ZERO_OID} {a} A\0new file.txt\0\
             :100644 100755 {a} {b} M\0bin/run\0\
             :000000 120000 {ZERO_OID} {a} A\0link\0\
             :000000 160000 {ZERO_OID} {a} A\0submodule\0\
             :100644 100644 {ZERO_OID} {ZERO_OID} U\0conflict\0"
        );
        assert_eq!(
            parse_raw_diff(raw.as_bytes()),
            vec![
                Staged {
                    path: "new file.txt".into(),
                    blob: a.into()
                },
                Staged {
                    path: "bin/run".into(),
                    blob: b.into()
                },
            ]
        );
    }

    #[test]
    fn the_hook_quotes_the_fallback_path() {
        assert_eq!(shell_quote("/a b/it's"), r"'/a b/it'\''s'");
    }
}
