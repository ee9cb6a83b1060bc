//! Compatibility characters that fold into path syntax. NFKC normalisation (and the
//! "best fit" mappings of some platforms) turns them into `.`, `/`, `\`, `%` or `;`: `‥`
//! (U+2025) into `..`, `％` into `%`, the Greek question mark into `;`. A server behind the
//! gate that normalises a decoded path would then see a dot segment, a separator or an
//! escape that the gate never saw, so a path holding one is refused.
//!
//! The table is generated from Unicode's data: the test below walks every code point,
//! normalises it with the `unicode-normalization` crate, and fails (printing the table to
//! paste here) when they differ. The crate is a dev-dependency only; the bundle carries
//! just these ranges.

/// Inclusive ranges of code points whose NFKC form contains `.`, `/`, `\`, `%` or `;`.
const FOLDS_INTO_PATH_SYNTAX: &[(u32, u32)] = &[
    (0x037E, 0x037E),
    (0x2024, 0x2026),
    (0x2100, 0x2101),
    (0x2105, 0x2106),
    (0x2488, 0x249B),
    (0x33C2, 0x33C2),
    (0x33C7, 0x33C7),
    (0x33D8, 0x33D8),
    (0xFE14, 0xFE14),
    (0xFE19, 0xFE19),
    (0xFE30, 0xFE30),
    (0xFE52, 0xFE52),
    (0xFE54, 0xFE54),
    (0xFE68, 0xFE68),
    (0xFE6A, 0xFE6A),
    (0xFF05, 0xFF05),
    (0xFF0E, 0xFF0F),
    (0xFF1B, 0xFF1B),
    (0xFF3C, 0xFF3C),
    (0x1F100, 0x1F100),
];

/// Whether NFKC turns `c` into text holding `.`, `/`, `\`, `%` or `;` (for `c` itself not
/// one of them).
pub fn folds_into_path_syntax(c: char) -> bool {
    let c = u32::from(c);
    if c < 0x80 {
        return false;
    }
    FOLDS_INTO_PATH_SYNTAX
        .binary_search_by(|&(start, end)| {
            if end < c {
                core::cmp::Ordering::Less
            } else if start > c {
                core::cmp::Ordering::Greater
            } else {
                core::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::format;
    use std::string::String;
    use std::vec::Vec;
    use unicode_normalization::UnicodeNormalization;

    /// What Unicode says: every non-ASCII code point whose NFKC form holds path syntax.
    fn from_unicode_data() -> Vec<(u32, u32)> {
        let mut ranges: Vec<(u32, u32)> = Vec::new();
        for c in (0x80..=0x10FFFF).filter_map(char::from_u32) {
            let folded: String = core::iter::once(c).nfkc().collect();
            if folded.contains(['.', '/', '\\', '%', ';']) {
                let c = u32::from(c);
                match ranges.last_mut() {
                    Some((_, end)) if *end + 1 == c => *end = c,
                    _ => ranges.push((c, c)),
                }
            }
        }
        ranges
    }

    #[test]
    fn the_table_is_unicodes() {
        let expected = from_unicode_data();
        if expected != FOLDS_INTO_PATH_SYNTAX {
            let rows: String = expected
                .iter()
                .map(|(start, end)| format!("    (0x{start:04X}, 0x{end:04X}),\n"))
                .collect();
            panic!("the table differs from Unicode's data; it should be:\n{rows}");
        }
    }

    #[test]
    fn known_folds_are_found_and_their_neighbours_are_not() {
        for c in [
            '\u{2024}', '\u{2025}', '\u{2026}', '\u{FF0F}', '\u{FF05}', '\u{037E}', '\u{FF1B}',
            '\u{2488}',
        ] {
            assert!(folds_into_path_syntax(c), "U+{:04X}", u32::from(c));
        }
        for c in [
            'a', '.', '/', 'é', '\u{2023}', '\u{2027}', '\u{037D}', '\u{FF10}',
        ] {
            assert!(!folds_into_path_syntax(c), "U+{:04X}", u32::from(c));
        }
    }
}
