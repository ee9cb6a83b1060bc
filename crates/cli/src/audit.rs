//! `aero2 audit …`: the audit log.
//!
//! Reading the whole log is behind [`AuditSource`], which yields entries oldest first,
//! exactly as the API sent them: the hash-chained export streamed as it arrives
//! ([`ChainedExport`], `GET /v1/audit_log/export`), an export saved to a file
//! ([`JsonLines`]), or the list paged with its cursor when filtered ([`PagedLog`]).
//! `export` writes what a source yields as JSON Lines; `verify` recomputes the chain
//! over it, one entry at a time, and compares it with a signed checkpoint.

use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

use comfy_table::{presets::UTF8_FULL_CONDENSED, ContentArrangement, Table};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use aero2_keys::audit_chain::ChainVerifier;
use aero2_keys::UnixMillis;

use crate::api::text;
use crate::api::{self, printable, Api};
use crate::checkpoint;
use crate::cli::{AuditCommand, AuditFilter};
use crate::exit::{Exit, Failure, Result};
use crate::keys::{connect, print_json, print_stdout, time};

/// The largest page the API gives.
const PAGE_LIMIT: u8 = 100;

pub fn run(command: AuditCommand) -> Result<Exit> {
    match command {
        AuditCommand::List {
            filter,
            limit,
            cursor,
            json,
            target,
        } => {
            let api = connect(&target)?;
            let page: Value = api.get(&page_path(&api, &filter, limit, cursor.as_deref())?)?;
            if json {
                print_json(&page)?;
            } else {
                let entries = page["entries"].as_array().cloned().unwrap_or_default();
                if entries.is_empty() {
                    eprintln!("no entries");
                } else {
                    print_stdout(&format!("{}\n", entry_table(&entries)))?;
                }
            }
            if let Some(next) = page["next_cursor"].as_str() {
                eprintln!("more entries: aero2 audit list --cursor {next}");
            }
            Ok(Exit::Ok)
        }
        AuditCommand::Export {
            filter,
            from_seq,
            target,
        } => {
            let api = connect(&target)?;
            let progress = Progress::on_stderr();
            let out = std::io::stdout().lock();
            let count = if filter.key_id.is_some() || filter.event.is_some() {
                export(&mut PagedLog::new(&api, filter)?, &progress, out)?
            } else {
                let mut source = ChainedExport {
                    api: &api,
                    from_seq: from_seq.unwrap_or(1),
                };
                export(&mut source, &progress, out)?
            };
            progress.finish();
            eprintln!("exported {count} entries, oldest first");
            Ok(Exit::Ok)
        }
        AuditCommand::Verify { file, target } => {
            let api = connect(&target)?;
            verify(&api, file)
        }
    }
}

/// `aero2 audit verify`: the checkpoint first (so the log read after it reaches it), then
/// every entry of the log, streamed.
fn verify(api: &Api, file: Option<PathBuf>) -> Result<Exit> {
    #[derive(Deserialize)]
    struct CheckpointAnswer {
        checkpoint: String,
    }
    let unverified = |why: String| Failure::new(Exit::Unverified, why);
    let answer: CheckpointAnswer =
        api.get(&format!("{}/audit_log/checkpoint", api.scope_path()))?;
    let jwks: Value = api.get_public("/.well-known/jwks.json")?;
    let checkpoint = checkpoint::verify(&answer.checkpoint, &jwks)
        .map_err(|why| unverified(format!("the checkpoint does not verify: {why}")))?;
    let application = api.credential().application_id().to_string();
    if checkpoint.application != application {
        return Err(unverified(format!(
            "the checkpoint is for another application ({}), not {application}",
            printable(&checkpoint.application)
        )));
    }

    let progress = Progress::on_stderr();
    let mut chain = ChainVerifier::new(None);
    let mut matches_checkpoint: Option<bool> = None;
    let mut each = |entry: &RawValue| -> Result<()> {
        let value: Value = serde_json::from_str(entry.get())
            .map_err(|err| unverified(format!("an entry is not JSON: {err}")))?;
        let head = chain
            .push(&value)
            .map_err(|err| unverified(format!("the audit log does not verify: {err}")))?;
        if head.seq == checkpoint.seq {
            matches_checkpoint = Some(head.hash == checkpoint.hash);
        }
        Ok(())
    };
    let count = match &file {
        Some(path) => JsonLines::open(path)?.for_each_oldest_first(&progress, &mut each)?,
        None => ChainedExport { api, from_seq: 1 }.for_each_oldest_first(&progress, &mut each)?,
    };
    progress.finish();
    let head = chain.head();
    let first = chain.first_seq();
    let signed = UnixMillis(checkpoint.issued_at.saturating_mul(1000)).to_rfc3339();
    match matches_checkpoint {
        Some(true) => {}
        Some(false) => {
            return Err(unverified(format!(
                "entry {} is not the entry the checkpoint signed at {signed}: the log was changed after it was signed",
                checkpoint.seq
            )))
        }
        None if checkpoint.seq == 0 && count == 0 => {
            eprintln!("verified: the audit log is empty, as the checkpoint signed at {signed} says");
            return Ok(Exit::Ok);
        }
        None => {
            return Err(unverified(match first {
                Some(first) if first > checkpoint.seq => format!(
                    "the log starts at entry {first}, after the checkpoint's entry {}: verify an export that reaches back to it",
                    checkpoint.seq
                ),
                _ => format!(
                    "the log ends at entry {}, before the checkpoint's entry {}: it was cut short",
                    head.seq, checkpoint.seq
                ),
            }))
        }
    }
    eprintln!(
        "verified: entries {} to {} ({count}) form an unbroken hash chain, and entry {} matches \
         the checkpoint signed at {signed} by key {} ({})",
        first.unwrap_or(0),
        head.seq,
        checkpoint.seq,
        printable(&checkpoint.kid),
        printable(&checkpoint.issuer),
    );
    Ok(Exit::Ok)
}

fn page_path(
    api: &Api,
    filter: &AuditFilter,
    limit: Option<u8>,
    cursor: Option<&str>,
) -> Result<String> {
    let key_id = filter.key_id.as_deref().map(api::key_id).transpose()?;
    Ok(format!(
        "{}/audit_log{}",
        api.scope_path(),
        api::query(&[
            ("limit", limit.map(|l| l.to_string())),
            ("cursor", cursor.map(str::to_owned)),
            ("key_id", key_id),
            ("event", filter.event.clone()),
        ])
    ))
}

/// One audit entry, as the API sent it.
pub type Entry = Box<RawValue>;

/// Where audit entries come from, oldest first.
pub trait AuditSource {
    /// Calls `each` with every entry, oldest first; returns how many there were.
    fn for_each_oldest_first(
        &mut self,
        progress: &Progress,
        each: &mut dyn FnMut(&RawValue) -> Result<()>,
    ) -> Result<u64>;
}

/// `GET /v1/audit_log` page by page. The API answers newest first, so the pages are read
/// to the end, then yielded in reverse. Entries written during the export come before the
/// first page's cursor and are not included: the export is the log as of its start.
pub struct PagedLog<'a> {
    api: &'a Api,
    filter: AuditFilter,
}

#[derive(Deserialize)]
struct Page {
    entries: Vec<Entry>,
    next_cursor: Option<String>,
}

impl<'a> PagedLog<'a> {
    pub fn new(api: &'a Api, filter: AuditFilter) -> Result<PagedLog<'a>> {
        Ok(PagedLog { api, filter })
    }
}

impl AuditSource for PagedLog<'_> {
    fn for_each_oldest_first(
        &mut self,
        progress: &Progress,
        each: &mut dyn FnMut(&RawValue) -> Result<()>,
    ) -> Result<u64> {
        let mut pages: Vec<Vec<Entry>> = Vec::new();
        let mut cursor: Option<String> = None;
        let mut read = 0u64;
        loop {
            let path = page_path(self.api, &self.filter, Some(PAGE_LIMIT), cursor.as_deref())?;
            let page: Page = self.api.get(&path)?;
            read += page.entries.len() as u64;
            progress.read(read, pages.len() as u64 + 1);
            let next = page.next_cursor.filter(|c| !c.is_empty());
            pages.push(page.entries);
            match next {
                // A cursor that does not move would loop forever.
                Some(next) if cursor.as_deref() != Some(next.as_str()) => cursor = Some(next),
                Some(_) => {
                    return Err(Failure::new(
                        Exit::Unavailable,
                        "the API returned the same cursor twice; the export stopped",
                    ))
                }
                None => break,
            }
        }
        let mut written = 0;
        for entry in pages.iter().rev().flat_map(|page| page.iter().rev()) {
            each(entry)?;
            written += 1;
            progress.written(written, read);
        }
        Ok(written)
    }
}

/// `GET /v1/audit_log/export`: the chained entries from `from_seq` on, oldest first, one
/// JSON object a line, read as they arrive (a log of any size is never held whole).
pub struct ChainedExport<'a> {
    api: &'a Api,
    from_seq: u64,
}

impl AuditSource for ChainedExport<'_> {
    fn for_each_oldest_first(
        &mut self,
        progress: &Progress,
        each: &mut dyn FnMut(&RawValue) -> Result<()>,
    ) -> Result<u64> {
        let path = format!(
            "{}/audit_log/export?from_seq={}",
            self.api.scope_path(),
            self.from_seq
        );
        let reader = BufReader::new(self.api.get_stream(&path)?);
        // A line that is not JSON: the API failed, or something between it and us.
        read_lines(reader, "the export", Exit::Unavailable, progress, each)
    }
}

/// An export saved as JSON Lines, in a file or on standard input (`-`).
pub struct JsonLines {
    reader: Box<dyn BufRead>,
    name: String,
}

impl JsonLines {
    pub fn open(path: &std::path::Path) -> Result<JsonLines> {
        if path.as_os_str() == "-" {
            return Ok(JsonLines {
                reader: Box::new(BufReader::new(std::io::stdin())),
                name: "standard input".into(),
            });
        }
        let name = path.display().to_string();
        let file =
            std::fs::File::open(path).map_err(|err| Failure::usage(format!("{name}: {err}")))?;
        Ok(JsonLines {
            reader: Box::new(BufReader::new(file)),
            name,
        })
    }
}

impl AuditSource for JsonLines {
    fn for_each_oldest_first(
        &mut self,
        progress: &Progress,
        each: &mut dyn FnMut(&RawValue) -> Result<()>,
    ) -> Result<u64> {
        let name = self.name.clone();
        // A line that is not JSON: the file is not an export, or it was damaged.
        read_lines(&mut self.reader, &name, Exit::Unverified, progress, each)
    }
}

/// Every non-empty line of `reader` as one entry; a line that is not JSON fails with
/// `not_json`.
fn read_lines(
    reader: impl BufRead,
    name: &str,
    not_json: Exit,
    progress: &Progress,
    each: &mut dyn FnMut(&RawValue) -> Result<()>,
) -> Result<u64> {
    let mut count = 0u64;
    for (number, line) in reader.lines().enumerate() {
        let line = line.map_err(|err| {
            Failure::new(
                Exit::Unavailable,
                format!("{name}: reading line {}: {err}", number + 1),
            )
        })?;
        if line.trim().is_empty() {
            continue;
        }
        let entry = RawValue::from_string(line).map_err(|err| {
            Failure::new(
                not_json,
                format!("{name}: line {} is not JSON: {err}", number + 1),
            )
        })?;
        each(&entry)?;
        count += 1;
        progress.streamed(count);
    }
    Ok(count)
}

/// Writes every entry of `source` as one line of JSON, oldest first.
pub fn export(source: &mut dyn AuditSource, progress: &Progress, out: impl Write) -> Result<u64> {
    let mut out = std::io::BufWriter::new(out);
    let write_error = |err: std::io::Error| Failure::usage(format!("standard output: {err}"));
    let count = source.for_each_oldest_first(progress, &mut |entry| {
        let text = entry.get();
        if text.contains('\n') {
            // Pretty-printed by someone: one line per entry all the same.
            let value: Value = serde_json::from_str(text)
                .map_err(|err| Failure::new(Exit::Unavailable, format!("an entry: {err}")))?;
            serde_json::to_writer(&mut out, &value)
                .map_err(|err| write_error(std::io::Error::other(err)))?;
        } else {
            out.write_all(text.as_bytes()).map_err(write_error)?;
        }
        out.write_all(b"\n").map_err(write_error)
    })?;
    out.flush().map_err(write_error)?;
    Ok(count)
}

/// A progress bar on standard error when it is a terminal; nothing otherwise.
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    pub fn on_stderr() -> Progress {
        let bar = if std::io::stderr().is_terminal() {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {msg} [{elapsed}]")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        } else {
            ProgressBar::hidden()
        };
        Progress { bar }
    }

    #[cfg(test)]
    pub fn hidden() -> Progress {
        Progress {
            bar: ProgressBar::hidden(),
        }
    }

    fn read(&self, entries: u64, pages: u64) {
        self.bar.set_message(format!(
            "reading the audit log: {entries} entries, {pages} pages"
        ));
    }

    fn streamed(&self, entries: u64) {
        if entries == 1 || entries.is_multiple_of(256) {
            self.bar
                .set_message(format!("reading the audit log: {entries} entries"));
        }
    }

    fn written(&self, written: u64, total: u64) {
        if written == 1 {
            self.bar.set_length(total);
            self.bar.set_style(
                ProgressStyle::with_template("{bar:40} {pos}/{len} entries written [{elapsed}]")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
        }
        if written.is_multiple_of(256) || written == total {
            self.bar.set_position(written);
        }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

fn entry_table(entries: &[Value]) -> Table {
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(["AT", "EVENT", "KEY", "ACTOR", "DETAIL"]);
    for entry in entries {
        let detail = match &entry["detail"] {
            Value::Object(map) if map.is_empty() => "-".to_owned(),
            Value::Null => "-".to_owned(),
            other => {
                let compact = text(other);
                if compact.chars().count() > 80 {
                    format!("{}…", compact.chars().take(79).collect::<String>())
                } else {
                    compact
                }
            }
        };
        table.add_row([
            time(&entry["at"]),
            text(&entry["event"]),
            text(&entry["key_id"]),
            text(&entry["actor"]),
            detail,
        ]);
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pages as the API gives them: newest first.
    struct Pages(Vec<Vec<&'static str>>);

    impl AuditSource for Pages {
        fn for_each_oldest_first(
            &mut self,
            _: &Progress,
            each: &mut dyn FnMut(&RawValue) -> Result<()>,
        ) -> Result<u64> {
            let mut n = 0;
            for page in self.0.iter().rev() {
                for entry in page.iter().rev() {
                    each(&RawValue::from_string((*entry).to_owned()).unwrap())?;
                    n += 1;
                }
            }
            Ok(n)
        }
    }

    #[test]
    fn export_writes_one_line_per_entry_oldest_first() {
        let mut source = Pages(vec![
            vec![r#"{"id":"4"}"#, "{\n  \"id\": \"3\"\n}"],
            vec![r#"{"id":"2"}"#, r#"{"id":"1"}"#],
        ]);
        let mut out = Vec::new();
        let count = export(&mut source, &Progress::hidden(), &mut out).unwrap();
        assert_eq!(count, 4);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"id\":\"1\"}\n{\"id\":\"2\"}\n{\"id\":\"3\"}\n{\"id\":\"4\"}\n"
        );
    }
}
