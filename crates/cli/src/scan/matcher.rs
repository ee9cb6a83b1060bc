//! Finding real Aero2 keys in bytes: the core's pattern, then the core's parser, which
//! checks the checksum. A run of characters that only looks like a key is never reported.

use std::io::{self, Read};

use aero2_keys::{parse, Environment, KeyKind, ParsedKey, KEY_PATTERN};
use regex::bytes::{Regex, RegexBuilder};

/// A key found in a text, located by line and column (both from 1; the column counts
/// Unicode characters, as SARIF's `unicodeCodePoints`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hit {
    pub line: u64,
    pub column: u64,
    pub end_column: u64,
    pub kind: KeyKind,
    pub environment: Environment,
    pub application_id: String,
    /// Prefix and last 4 characters: all that is ever shown of a key.
    pub hint: String,
}

/// What scanning one file gave.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Text(Vec<Hit>),
    /// The file holds a NUL byte and binary files are not scanned.
    Binary,
}

/// The compiled pattern, shared by every thread.
pub struct Matcher {
    regex: Regex,
}

impl Default for Matcher {
    fn default() -> Self {
        Matcher::new()
    }
}

impl Matcher {
    pub fn new() -> Matcher {
        // Bytes, not text: files need not be UTF-8. Without Unicode mode `\b` is the ASCII
        // word boundary, which keeps the regex on its fast DFA for any input; keys are
        // ASCII, so nothing a key can be is missed.
        let regex = RegexBuilder::new(KEY_PATTERN)
            .unicode(false)
            .build()
            .expect("the core's KEY_PATTERN compiles");
        Matcher { regex }
    }

    /// Every real key in `text`. `line_base` is the line number of `text`'s first line.
    fn find(&self, text: &[u8], line_base: u64, out: &mut Vec<Hit>) {
        let mut line = line_base;
        let mut counted_to = 0;
        for found in self.regex.find_iter(text) {
            // The pattern only matches ASCII, so the match is valid UTF-8.
            let Ok(candidate) = std::str::from_utf8(found.as_bytes()) else {
                continue;
            };
            let Ok(ParsedKey {
                kind,
                environment,
                application_id,
            }) = parse(candidate)
            else {
                continue;
            };
            let start = found.start();
            line += memchr::memchr_iter(b'\n', &text[counted_to..start]).count() as u64;
            counted_to = start;
            let line_start = memchr::memrchr(b'\n', &text[..start]).map_or(0, |nl| nl + 1);
            let column = 1 + chars(&text[line_start..start]);
            out.push(Hit {
                line,
                column,
                end_column: column + candidate.len() as u64,
                kind,
                environment,
                application_id: application_id.to_string(),
                hint: crate::guard::hint(candidate),
            });
        }
    }
}

/// Characters in UTF-8 (or mostly UTF-8) bytes: the bytes that do not continue one.
fn chars(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b & 0xC0 != 0x80).count() as u64
}

/// Scans files with one reusable buffer; one per thread.
pub struct Scanner<'m> {
    matcher: &'m Matcher,
    buf: Vec<u8>,
    pub include_binary: bool,
}

const INITIAL_BUFFER: usize = 256 * 1024;

impl<'m> Scanner<'m> {
    pub fn new(matcher: &'m Matcher, include_binary: bool) -> Scanner<'m> {
        Scanner {
            matcher,
            buf: vec![0; INITIAL_BUFFER],
            include_binary,
        }
    }

    /// Scans bytes already in memory (a staged blob).
    pub fn scan_bytes(&self, bytes: &[u8]) -> Outcome {
        if !self.include_binary && memchr::memchr(0, bytes).is_some() {
            return Outcome::Binary;
        }
        let mut hits = Vec::new();
        self.matcher.find(bytes, 1, &mut hits);
        Outcome::Text(hits)
    }

    /// Scans a stream in blocks that end at a line end, so no key is cut in two and
    /// memory stays bounded by the longest line. Stops at the first NUL byte unless
    /// binary files are scanned, as ripgrep does.
    pub fn scan_reader(&mut self, mut reader: impl Read) -> io::Result<Outcome> {
        let mut hits = Vec::new();
        let mut filled = 0;
        let mut line_base = 1u64;
        loop {
            // Fill the buffer, or read to the end.
            let mut eof = false;
            let read_from = filled;
            while filled < self.buf.len() {
                match reader.read(&mut self.buf[filled..]) {
                    Ok(0) => {
                        eof = true;
                        break;
                    }
                    Ok(n) => filled += n,
                    Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                    Err(err) => return Err(err),
                }
            }
            if !self.include_binary && memchr::memchr(0, &self.buf[read_from..filled]).is_some() {
                return Ok(Outcome::Binary);
            }
            let end = if eof {
                filled
            } else {
                match memchr::memrchr(b'\n', &self.buf[..filled]) {
                    Some(nl) => nl + 1,
                    None => {
                        // One line longer than the buffer: make room for more of it.
                        let grown = self.buf.len() * 2;
                        self.buf.resize(grown, 0);
                        continue;
                    }
                }
            };
            self.matcher.find(&self.buf[..end], line_base, &mut hits);
            if eof {
                return Ok(Outcome::Text(hits));
            }
            line_base += memchr::memchr_iter(b'\n', &self.buf[..end]).count() as u64;
            self.buf.copy_within(end..filled, 0);
            filled -= end;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aero2_keys::{ApiKey, ApplicationId, SystemRandom};

    pub(crate) fn key(kind: KeyKind) -> String {
        let app = ApplicationId::generate(&mut SystemRandom).unwrap();
        ApiKey::generate(kind, Environment::Live, app, &mut SystemRandom)
            .unwrap()
            .expose_secret()
            .to_owned()
    }

    fn broken(key: &str) -> String {
        let mut broken = key.to_owned();
        let last = broken.pop().unwrap();
        broken.push(if last == '0' { '1' } else { '0' });
        broken
    }

    #[test]
    fn the_pattern_is_the_cores() {
        assert_eq!(Matcher::new().regex.as_str(), KEY_PATTERN);
    }

    #[test]
    fn finds_real_keys_with_line_and_column_and_never_a_look_alike() {
        let secret = key(KeyKind::Secret);
        let publishable = key(KeyKind::Publishable);
        let fake = broken(&key(KeyKind::Secret));
        let text =
            format!("first line\nconst K = \"{secret}\";\n{fake}\n  é {publishable}\nx{secret}\n");
        let matcher = Matcher::new();
        let mut scanner = Scanner::new(&matcher, false);
        let Outcome::Text(hits) = scanner.scan_reader(text.as_bytes()).unwrap() else {
            panic!("binary")
        };
        assert_eq!(hits.len(), 2, "{hits:?}");
        assert_eq!((hits[0].line, hits[0].column), (2, 12));
        assert_eq!(hits[0].kind, KeyKind::Secret);
        assert_eq!(hits[0].end_column, 12 + 62);
        assert_eq!(hits[0].hint, crate::guard::hint(&secret));
        // The column counts characters: "  é " is 4 of them.
        assert_eq!((hits[1].line, hits[1].column), (4, 5));
        assert_eq!(hits[1].kind, KeyKind::Publishable);
        assert_eq!(scanner.scan_bytes(text.as_bytes()), Outcome::Text(hits));
    }

    #[test]
    fn keys_across_block_boundaries_and_long_lines_are_found() {
        let secret = key(KeyKind::Secret);
        let matcher = Matcher::new();
        let mut scanner = Scanner::new(&matcher, false);
        // Lines that put a key across the first buffer's end, and a line longer than it.
        let mut text = String::new();
        let mut expected = Vec::new();
        let mut line = 1;
        while text.len() < INITIAL_BUFFER * 3 {
            let pad = "y".repeat(line * 37 % 200);
            text.push_str(&format!("{pad} {secret}\n"));
            expected.push((line as u64, pad.chars().count() as u64 + 2));
            line += 1;
        }
        text.push_str(&"z ".repeat(INITIAL_BUFFER));
        text.push_str(&secret);
        expected.push((line as u64, INITIAL_BUFFER as u64 * 2 + 1));
        let Outcome::Text(hits) = scanner.scan_reader(text.as_bytes()).unwrap() else {
            panic!("binary")
        };
        let found: Vec<_> = hits.iter().map(|h| (h.line, h.column)).collect();
        assert_eq!(found, expected);
    }

    #[test]
    fn binary_files_are_skipped_unless_asked_for() {
        let secret = key(KeyKind::Secret);
        let bytes = [b"\x00\x01".as_slice(), secret.as_bytes()].concat();
        let matcher = Matcher::new();
        let mut scanner = Scanner::new(&matcher, false);
        assert_eq!(scanner.scan_reader(&bytes[..]).unwrap(), Outcome::Binary);
        assert_eq!(scanner.scan_bytes(&bytes), Outcome::Binary);
        scanner.include_binary = true;
        let Outcome::Text(hits) = scanner.scan_reader(&bytes[..]).unwrap() else {
            panic!("binary")
        };
        assert_eq!(hits.len(), 1);
    }

    #[test]
    fn keys_inside_longer_words_are_not_keys() {
        let secret = key(KeyKind::Secret);
        let matcher = Matcher::new();
        let scanner = Scanner::new(&matcher, false);
        for text in [
            format!("a{secret}"),
            format!("{secret}9"),
            format!("_{secret}"),
        ] {
            assert_eq!(scanner.scan_bytes(text.as_bytes()), Outcome::Text(vec![]));
        }
        for text in [
            format!("={secret};"),
            format!("\"{secret}\""),
            format!("-{secret}-"),
        ] {
            let Outcome::Text(hits) = scanner.scan_bytes(text.as_bytes()) else {
                panic!()
            };
            assert_eq!(hits.len(), 1, "{}", crate::guard::hint(&text));
        }
    }
}
