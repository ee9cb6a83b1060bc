//! Request paths, decided once. The runtime hands the worker a WHATWG-parsed URL (dot
//! segments resolved, `\` read as `/`), but servers behind a gate disagree about the
//! rest: whether `%2F` is a slash, whether `;` starts parameters (`..;/` in Tomcat),
//! whether `//` collapses. A path any of them could read differently from the gate is
//! refused, and every other path is normalised once; that one path is used for the route
//! check, the forwarded URL and the signed assertion.

use alloc::borrow::Cow;
use alloc::string::String;

use crate::http::compat::folds_into_path_syntax;
use crate::http::query::hex_digit;

/// Why a path is refused (`invalid_path`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathError {
    /// `%2F` or `%5C`: a slash or backslash some servers decode before routing.
    EncodedSeparator,
    /// `%2E`: a dot some servers decode, and so a `..` the gate never saw.
    EncodedDot,
    /// `%00` and other encoded control bytes.
    EncodedControl,
    /// `%25` before two hex digits: an escape of an escape (`%252F`), which a server that
    /// decodes twice reads as `/`.
    DoubleEncoded,
    /// Escapes that do not decode to UTF-8 (the overlong `%C0%AF` for `/`), or decode to a
    /// look-alike of a slash or a dot (`∕`), or to a character that NFKC folds into path
    /// syntax (`‥` into `..`, `％` into `%`: `compat.rs`), which lenient decoders and
    /// normalising servers turn into the real thing.
    DeceptiveEncoding,
    /// `;`: path parameters, which some servers strip before routing.
    Semicolon,
    /// `//` inside the path (an empty segment), or a raw `\`.
    EmptySegment,
    /// Not an absolute path, or a `%` not followed by two hex digits.
    Malformed,
}

/// The normal form of a path as the runtime parsed it: percent-encoded unreserved
/// characters (`A-Z a-z 0-9 - _ ~`) decoded, other escapes in upper case. Refuses what
/// [`PathError`] lists. A single trailing `/` is kept (it is a different resource to most
/// servers, but not an ambiguous one).
pub fn normalize(path: &str) -> Result<Cow<'_, str>, PathError> {
    let bytes = path.as_bytes();
    if bytes.first() != Some(&b'/') {
        return Err(PathError::Malformed);
    }
    let mut changed = false;
    // Non-ASCII, raw or escaped: decoded and checked for compatibility characters.
    let mut high_bytes = false;
    let mut i = 0;
    // First pass: refuse, and see whether anything needs rewriting.
    while i < bytes.len() {
        match bytes[i] {
            b';' => return Err(PathError::Semicolon),
            b'\\' => return Err(PathError::EmptySegment),
            b'/' if bytes.get(i + 1) == Some(&b'/') => return Err(PathError::EmptySegment),
            b'%' => {
                let value = escape_at(bytes, i)?;
                match value {
                    b'/' | b'\\' => return Err(PathError::EncodedSeparator),
                    b'.' => return Err(PathError::EncodedDot),
                    0x00..=0x1f | 0x7f => return Err(PathError::EncodedControl),
                    b'%' if escape_at(bytes, i + 2).is_ok() => {
                        return Err(PathError::DoubleEncoded)
                    }
                    _ => {}
                }
                high_bytes |= value >= 0x80;
                changed |= is_unreserved(value)
                    || bytes[i + 1].is_ascii_lowercase()
                    || bytes[i + 2].is_ascii_lowercase();
                i += 2;
            }
            byte => high_bytes |= byte >= 0x80,
        }
        i += 1;
    }
    if high_bytes {
        refuse_deceptive(bytes)?;
    }
    if !changed {
        return Ok(Cow::Borrowed(path));
    }
    let mut out = String::with_capacity(path.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let value = escape_at(bytes, i)?;
            if is_unreserved(value) {
                out.push(char::from(value));
            } else {
                out.push('%');
                out.push(char::from(bytes[i + 1].to_ascii_uppercase()));
                out.push(char::from(bytes[i + 2].to_ascii_uppercase()));
            }
            i += 3;
        } else {
            // Runs of other characters are copied whole (they may be multi-byte UTF-8).
            let end = bytes[i..]
                .iter()
                .position(|&b| b == b'%')
                .map_or(bytes.len(), |offset| i + offset);
            out.push_str(&path[i..end]);
            i = end;
        }
    }
    // Decoding can spell a new escape of an escape: `%25%32%46` becomes `%252F`, which an
    // origin that decodes twice reads as `/`. The first pass saw only the raw bytes after
    // `%25`, so the result is checked again: what is accepted is a fixed point.
    if has_escaped_escape(out.as_bytes()) {
        return Err(PathError::DoubleEncoded);
    }
    Ok(Cow::Owned(out))
}

/// `%25` followed by two hex digits anywhere in `bytes`.
fn has_escaped_escape(bytes: &[u8]) -> bool {
    bytes
        .windows(5)
        .any(|w| w[..3] == *b"%25" && hex_digit(w[3]).is_some() && hex_digit(w[4]).is_some())
}

/// Characters that look like a path separator or a dot but that NFKC leaves alone, which
/// best-fit mappings turn into one. (Those NFKC folds are `compat.rs`'s table.)
const LOOK_ALIKES: [char; 12] = [
    '\u{FF0F}', // ／ fullwidth solidus
    '\u{2215}', // ∕ division slash
    '\u{2044}', // ⁄ fraction slash
    '\u{29F8}', // ⧸ big solidus
    '\u{FF3C}', // ＼ fullwidth reverse solidus
    '\u{2216}', // ∖ set minus
    '\u{FE68}', // ﹨ small reverse solidus
    '\u{FF0E}', // ． fullwidth full stop
    '\u{2024}', // ․ one dot leader
    '\u{FE52}', // ﹒ small full stop
    '\u{3002}', // 。 ideographic full stop
    '\u{FF61}', // ｡ halfwidth ideographic full stop
];

/// Decodes the path's escapes and refuses bytes that are not UTF-8, or decode to a
/// look-alike of `/`, `\` or `.`, or to a compatibility character that NFKC folds into
/// path syntax.
fn refuse_deceptive(bytes: &[u8]) -> Result<(), PathError> {
    let mut decoded = alloc::vec::Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            decoded.push(escape_at(bytes, i)?);
            i += 3;
        } else {
            decoded.push(bytes[i]);
            i += 1;
        }
    }
    let text = core::str::from_utf8(&decoded).map_err(|_| PathError::DeceptiveEncoding)?;
    if text.contains(LOOK_ALIKES) || text.chars().any(folds_into_path_syntax) {
        return Err(PathError::DeceptiveEncoding);
    }
    Ok(())
}

fn escape_at(bytes: &[u8], at: usize) -> Result<u8, PathError> {
    let high = bytes.get(at + 1).copied().and_then(hex_digit);
    let low = bytes.get(at + 2).copied().and_then(hex_digit);
    match (high, low) {
        (Some(high), Some(low)) => Ok(high << 4 | low),
        _ => Err(PathError::Malformed),
    }
}

/// RFC 3986's unreserved characters, but the dot: `%2E` is refused instead.
fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'~')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ambiguous_paths_are_refused() {
        let cases = [
            ("/v1/client/..%2Fusers", PathError::EncodedSeparator),
            ("/v1/client/..%2fusers", PathError::EncodedSeparator),
            ("/v1/client/%5C..%5Cusers", PathError::EncodedSeparator),
            ("/v1/client/%5c", PathError::EncodedSeparator),
            ("/v1/client/%2e%2e/users", PathError::EncodedDot),
            ("/v1/client/.%2E/users", PathError::EncodedDot),
            ("/v1/client/..;/users", PathError::Semicolon),
            ("/v1/client;x=1/a", PathError::Semicolon),
            ("/v1//users", PathError::EmptySegment),
            ("//v1/users", PathError::EmptySegment),
            ("/v1/client/\\..\\users", PathError::EmptySegment),
            ("/v1/client/%00", PathError::EncodedControl),
            ("/v1/client/%0a", PathError::EncodedControl),
            ("/v1/client/%", PathError::Malformed),
            ("/v1/client/%4", PathError::Malformed),
            ("/v1/client/%zz", PathError::Malformed),
            ("v1/client", PathError::Malformed),
            ("", PathError::Malformed),
            // Found by the attacker review.
            ("/v1/client/..%252Fusers", PathError::DoubleEncoded),
            ("/v1/client/%252e%252e%252fusers", PathError::DoubleEncoded),
            ("/v1/client/%c0%af", PathError::DeceptiveEncoding),
            (
                "/v1/client/%c0%ae%c0%ae/users",
                PathError::DeceptiveEncoding,
            ),
            ("/v1/client/%ff", PathError::DeceptiveEncoding),
            (
                "/v1/client/%ef%bc%8f..%ef%bc%8fusers",
                PathError::DeceptiveEncoding,
            ),
            ("/v1/client/%E2%88%95", PathError::DeceptiveEncoding),
            ("/v1/client/x%EF%BC%8Ey", PathError::DeceptiveEncoding),
            ("/v1/client/%u2215", PathError::Malformed),
            // Second attacker pass: escapes whose decoding spells an escape of an escape.
            ("/v1/client/%25%32%46admin", PathError::DoubleEncoded),
            (
                "/v1/client/%25%32%65%25%32%65%25%32%46admin",
                PathError::DoubleEncoded,
            ),
            ("/v1/client/%25%32f", PathError::DoubleEncoded),
            ("/v1/client/%252%46", PathError::DoubleEncoded),
            ("/v1/client/%25%3246", PathError::DoubleEncoded),
            // Compatibility characters whose NFKC form holds `.`, `/`, `\`, `%` or `;`.
            ("/v1/client/%E2%80%A5admin", PathError::DeceptiveEncoding), // ‥
            ("/v1/client/%E2%80%A6", PathError::DeceptiveEncoding),      // …
            ("/v1/client/%E2%92%88", PathError::DeceptiveEncoding),      // ⒈
            ("/v1/client/%EF%BC%85", PathError::DeceptiveEncoding),      // ％
            ("/v1/client/%CD%BE", PathError::DeceptiveEncoding),         // ; (Greek)
            ("/v1/client/%EF%B9%94", PathError::DeceptiveEncoding),      // ﹔
            ("/v1/client/\u{2025}admin", PathError::DeceptiveEncoding),
        ];
        for (path, error) in cases {
            assert_eq!(normalize(path), Err(error), "{path}");
        }
    }

    #[test]
    fn plain_paths_pass_unchanged_without_copying() {
        for path in [
            "/",
            "/v1/client/x",
            "/v1/client/",
            "/a%20b",
            "/caf%C3%A9",
            "/é",
            "/100%25",
            "/%25zz",
        ] {
            assert!(
                matches!(normalize(path), Ok(Cow::Borrowed(p)) if p == path),
                "{path}"
            );
        }
    }

    #[test]
    fn escapes_are_normalised() {
        assert_eq!(normalize("/v1/%63lient/x").unwrap(), "/v1/client/x");
        assert_eq!(normalize("/v1/client/%7e%2d").unwrap(), "/v1/client/~-");
        assert_eq!(normalize("/a%c3%a9/b").unwrap(), "/a%C3%A9/b");
        assert_eq!(normalize("/é%41").unwrap(), "/éA");
    }

    /// Whether `path` holds `%25` followed by two hex digits: an escape of an escape.
    fn has_double_escape(path: &str) -> bool {
        path.as_bytes()
            .windows(5)
            .any(|w| w[..3] == *b"%25" && w[3].is_ascii_hexdigit() && w[4].is_ascii_hexdigit())
    }

    /// Paths built from the pieces that matter: `%`, the digits and letters of escapes,
    /// escapes of those digits and letters (`%32` is `2`, `%46` is `F`), escapes of `%`,
    /// `/`, `.` and `\`, compatibility characters, and plain text.
    fn hostile_path() -> impl proptest::strategy::Strategy<Value = std::string::String> {
        use proptest::prelude::*;
        use std::borrow::ToOwned;
        use std::string::ToString;
        use std::{format, vec};
        let hex = || proptest::sample::select(b"0123456789abcdefABCDEF".to_vec());
        let piece = prop_oneof![
            Just("%".to_owned()),
            Just("%25".to_owned()),
            Just("2".to_owned()),
            Just("5".to_owned()),
            hex().prop_map(|b| char::from(b).to_string()),
            hex().prop_map(|b| format!("%{b:02X}")),
            hex().prop_map(|b| format!("%{b:02x}")),
            Just("%2F".to_owned()),
            Just("%2E".to_owned()),
            Just("%5C".to_owned()),
            Just("/".to_owned()),
            Just(".".to_owned()),
            Just(";".to_owned()),
            "[a-z~_-]{1,3}",
            Just("%E2%80%A5".to_owned()),
            Just("é".to_owned()),
        ];
        proptest::collection::vec(piece, 0..16).prop_map(|pieces| format!("/{}", pieces.concat()))
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4096))]
        /// Never panics; whatever passes is a fixed point, holds no escape of an escape and
        /// none of what is refused.
        #[test]
        fn normalising_is_a_fixed_point_and_leaves_nothing_ambiguous(path in proptest::prop_oneof![
            "/[a-zA-Z0-9%./;\\\\_~é-]{0,40}",
            hostile_path(),
        ]) {
            if let Ok(normal) = normalize(&path) {
                let normal = normal.into_owned();
                proptest::prop_assert_eq!(normalize(&normal).map(Cow::into_owned), Ok(normal.clone()));
                proptest::prop_assert!(!has_double_escape(&normal), "an escape of an escape in {}", normal);
                let upper = normal.to_ascii_uppercase();
                for bad in ["%2F", "%5C", "%2E", ";", "//", "\\"] {
                    proptest::prop_assert!(!upper.contains(bad), "{} in {}", bad, normal);
                }
            }
        }
    }
}
