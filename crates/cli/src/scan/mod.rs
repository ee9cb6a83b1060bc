//! `aero2 scan`: real Aero2 keys in files, in the staged content of a commit, or both
//! ways in a pre-commit hook.

pub mod matcher;
pub mod report;
pub mod staged;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use aero2_keys::KeyKind;
use ignore::{WalkBuilder, WalkState};

use crate::cli::ScanArgs;
use crate::exit::{Exit, Failure, Result};
use matcher::{Hit, Matcher, Outcome, Scanner};

/// A key in a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// As given or walked (`./` removed), or relative to the repository for `--staged`.
    pub path: String,
    pub hit: Hit,
}

impl Finding {
    pub fn is_secret(&self) -> bool {
        self.hit.kind == KeyKind::Secret
    }
}

/// Everything a scan found, sorted by path, line and column.
#[derive(Debug, Default)]
pub struct ScanResult {
    pub findings: Vec<Finding>,
    pub files_scanned: u64,
    pub binary_skipped: u64,
    /// Files that could not be read, with why (the path and the error only).
    pub errors: Vec<String>,
}

impl ScanResult {
    pub fn secret_count(&self) -> usize {
        self.findings.iter().filter(|f| f.is_secret()).count()
    }

    fn sort(&mut self) {
        self.findings.sort_by(|a, b| {
            (&a.path, a.hit.line, a.hit.column).cmp(&(&b.path, b.hit.line, b.hit.column))
        });
        self.errors.sort();
    }
}

pub fn run(args: &ScanArgs) -> Result<Exit> {
    if args.install_hook {
        return staged::install_hook(args.force);
    }
    let started = Instant::now();
    let result = if args.staged {
        staged::scan_staged(&args.paths, args.binary)?
    } else {
        scan_paths(args)?
    };
    report::write(&result, args.format, args.staged, started.elapsed())?;
    Ok(if result.secret_count() > 0 {
        Exit::Findings
    } else {
        Exit::Ok
    })
}

/// Walks the paths as ripgrep does and scans every file, in parallel.
pub fn scan_paths(args: &ScanArgs) -> Result<ScanResult> {
    let matcher = Matcher::new();
    let mut result = ScanResult::default();
    // `-`: standard input, e.g. `git diff | aero2 scan -`.
    let stdin = Path::new("-");
    if args.paths.iter().any(|p| p == stdin) {
        let mut scanner = Scanner::new(&matcher, args.binary);
        match scanner.scan_reader(std::io::stdin().lock()) {
            Ok(Outcome::Text(hits)) => {
                result.files_scanned += 1;
                result.findings.extend(hits.into_iter().map(|hit| Finding {
                    path: "<stdin>".into(),
                    hit,
                }));
            }
            Ok(Outcome::Binary) => result.binary_skipped += 1,
            Err(err) => result.errors.push(format!("<stdin>: {err}")),
        }
    }
    let paths: Vec<PathBuf> = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths.iter().filter(|p| *p != stdin).cloned().collect()
    };
    if paths.is_empty() {
        result.sort();
        return Ok(result);
    }
    for path in &paths {
        if std::fs::symlink_metadata(path).is_err() {
            return Err(Failure::usage(format!(
                "{}: no such file or directory",
                path.display()
            )));
        }
    }
    let mut builder = WalkBuilder::new(&paths[0]);
    for path in &paths[1..] {
        builder.add(path);
    }
    let respect_ignores = !args.no_ignore;
    builder
        .hidden(!args.hidden)
        .ignore(respect_ignores)
        .git_ignore(respect_ignores)
        .git_global(respect_ignores)
        .git_exclude(respect_ignores)
        .parents(respect_ignores)
        // A repository's own database is never scanned, even with --hidden.
        .filter_entry(|entry| {
            !(entry.file_name() == ".git" && entry.file_type().is_some_and(|t| t.is_dir()))
        })
        .threads(
            args.threads
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get())),
        );

    let findings = Mutex::new(std::mem::take(&mut result.findings));
    let errors = Mutex::new(std::mem::take(&mut result.errors));
    let files = AtomicU64::new(result.files_scanned);
    let binary = AtomicU64::new(result.binary_skipped);
    builder.build_parallel().run(|| {
        let mut scanner = Scanner::new(&matcher, args.binary);
        let (findings, errors, files, binary) = (&findings, &errors, &files, &binary);
        Box::new(move |entry| {
            let entry = match entry {
                Ok(entry) => entry,
                Err(err) => {
                    lock(errors).push(err.to_string());
                    return WalkState::Continue;
                }
            };
            if !entry.file_type().is_some_and(|t| t.is_file()) {
                return WalkState::Continue;
            }
            let path = entry.path();
            let outcome = std::fs::File::open(path).and_then(|file| scanner.scan_reader(file));
            match outcome {
                Ok(Outcome::Text(hits)) => {
                    files.fetch_add(1, Ordering::Relaxed);
                    if !hits.is_empty() {
                        let shown = display_path(path);
                        lock(findings).extend(hits.into_iter().map(|hit| Finding {
                            path: shown.clone(),
                            hit,
                        }));
                    }
                }
                Ok(Outcome::Binary) => {
                    binary.fetch_add(1, Ordering::Relaxed);
                }
                Err(err) => lock(errors).push(format!("{}: {err}", path.display())),
            }
            WalkState::Continue
        })
    });
    let mut result = ScanResult {
        findings: findings.into_inner().unwrap_or_else(|p| p.into_inner()),
        files_scanned: files.into_inner(),
        binary_skipped: binary.into_inner(),
        errors: errors.into_inner().unwrap_or_else(|p| p.into_inner()),
    };
    result.sort();
    Ok(result)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A path for people and reports: `./src/a.rs` as `src/a.rs`.
fn display_path(path: &Path) -> String {
    let path = path.strip_prefix(".").unwrap_or(path);
    path.to_string_lossy().into_owned()
}
