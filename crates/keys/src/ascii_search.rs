//! Searching text for ASCII bytes and ASCII strings, byte by byte.
//!
//! `str::find` with a `&str` or a `char` pattern decodes UTF-8 and builds a searcher each
//! call; in the gate's size-optimised wasm that was a third of the time spent refusing a
//! malformed key (BENCHMARKS.md). Every delimiter the gate looks for is ASCII, and an ASCII
//! byte never occurs inside a multi-byte UTF-8 sequence, so an index found here is always
//! a char boundary of the same text.

/// The index of the first byte of `text` that is one of `set`.
///
/// Plain index loops, not `position`/`contains`: at `opt-level = "z"` those stay calls per
/// byte (a `memchr` call for each byte of the text, measured), and these few lines are on
/// every request.
pub fn find_any(text: &str, set: &[u8]) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        let mut i = 0;
        while i < set.len() {
            if bytes[at] == set[i] {
                return Some(at);
            }
            i += 1;
        }
        at += 1;
    }
    None
}

/// Whether any byte of `text` is one of `set`.
pub fn contains_any(text: &str, set: &[u8]) -> bool {
    find_any(text, set).is_some()
}

/// The index of the first occurrence of `needle` (ASCII, not empty) in `text`, at or
/// after `from`.
pub fn find_from(text: &str, needle: &[u8], from: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    if needle.is_empty() || bytes.len() < needle.len() {
        return None;
    }
    let mut at = from;
    while at + needle.len() <= bytes.len() {
        let mut i = 0;
        while i < needle.len() && bytes[at + i] == needle[i] {
            i += 1;
        }
        if i == needle.len() {
            return Some(at);
        }
        at += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_ascii_in_any_text() {
        assert_eq!(find_any("/v1/a?b#c", b"?#"), Some(5));
        assert_eq!(find_any("é?", b"?"), Some(2));
        assert_eq!(find_any("", b"?"), None);
        assert!(contains_any("a+b", b"%+"));
        assert!(!contains_any("ab", b"%+"));
        assert_eq!(find_from("xsk_sk_", b"sk_", 0), Some(1));
        assert_eq!(find_from("xsk_sk_", b"sk_", 2), Some(4));
        assert_eq!(find_from("xsk_sk_", b"sk_", 5), None);
        assert_eq!(find_from("sk", b"sk_", 0), None);
        assert_eq!(find_from("ésk_", b"sk_", 0), Some(2));
        assert_eq!(find_from("https://x", b"://", 0), Some(5));
        assert_eq!(find_from("abc", b"", 0), None);
        assert_eq!(find_from("abc", b"c", 9), None);
    }

    /// Agrees with `str::find` wherever the needle is ASCII.
    #[test]
    fn agrees_with_str_find() {
        let texts = [
            "",
            "a",
            "sk_",
            "ßsk_live_",
            "??",
            "a://b/c?d#e",
            "日本sk_語",
            "sksk_sk",
        ];
        for text in texts {
            for needle in ["sk_", "://", "?", "k"] {
                assert_eq!(
                    find_from(text, needle.as_bytes(), 0),
                    text.find(needle),
                    "{text} {needle}"
                );
            }
            assert_eq!(find_any(text, b"/?#"), text.find(['/', '?', '#']), "{text}");
        }
    }

    proptest::proptest! {
        /// Any text, ASCII needles: the same answers as `str::find`, so the places that
        /// moved to these functions (the URL split, the secret-key scan, the header pairs)
        /// split exactly where they did.
        #[test]
        fn any_text_agrees_with_str_find(text in "[a-z:/?#%+_ é日]{0,40}", from in 0usize..45) {
            // Callers start at a char boundary (just past an ASCII match), or past the end.
            proptest::prop_assume!(from > text.len() || text.is_char_boundary(from));
            for needle in ["sk_", "://", "?", "#", "a"] {
                let expected = text.get(from..).and_then(|rest| rest.find(needle)).map(|i| i + from);
                proptest::prop_assert_eq!(find_from(&text, needle.as_bytes(), from), expected);
            }
            proptest::prop_assert_eq!(find_any(&text, b"/?#"), text.find(['/', '?', '#']));
            proptest::prop_assert_eq!(contains_any(&text, b"%+"), text.contains(['%', '+']));
        }
    }
}
