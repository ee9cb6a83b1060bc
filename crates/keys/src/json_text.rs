//! JSON written by hand: the wire forms on the gate's hot path (its reports, its requests
//! to the key ring, the origin's assertion) are built without serde's machinery, which
//! would cost the gate's wasm size and time.

use alloc::string::String;

/// Appends `value` in decimal (a JSON number, or a number in a sentence). Written out, not
/// with `format!`: the gate's refusals use it, so that the first refusal in an isolate, or
/// after V8 drops the baseline code (workerd does at every isolate's creation), compiles no
/// formatting machinery (measured).
pub fn push_decimal(out: &mut String, value: usize) {
    if value >= 10 {
        push_decimal(out, value / 10);
    }
    out.push(char::from(b'0' + (value % 10) as u8));
}

/// A JSON string literal, escaped as RFC 8259 requires. Byte by byte: every character that
/// needs escaping is ASCII, and an ASCII byte never occurs inside a multi-byte UTF-8
/// sequence, so the runs between escapes are copied whole, on char boundaries.
pub fn json_string(out: &mut String, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.reserve(text.len() + 2);
    out.push('"');
    let bytes = text.as_bytes();
    let mut run = 0;
    for (at, &byte) in bytes.iter().enumerate() {
        if byte != b'"' && byte != b'\\' && byte >= 0x20 {
            continue;
        }
        out.push_str(&text[run..at]);
        match byte {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            _ => {
                out.push_str("\\u00");
                out.push(char::from(HEX[usize::from(byte >> 4)]));
                out.push(char::from(HEX[usize::from(byte & 0xf)]));
            }
        }
        run = at + 1;
    }
    out.push_str(&text[run..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_backslashes_and_control_characters_are_escaped() {
        let mut out = String::new();
        json_string(&mut out, "a\"b\\c\nd\u{1}é");
        assert_eq!(out, r#""a\"b\\c\u000ad\u0001é""#);
        let back: String = serde_json::from_str(&out).unwrap();
        assert_eq!(back, "a\"b\\c\nd\u{1}é");
    }

    #[test]
    fn decimals_are_written_in_full() {
        for (value, text) in [
            (0, "0"),
            (7, "7"),
            (10, "10"),
            (401, "401"),
            (usize::MAX, "18446744073709551615"),
        ] {
            let mut out = String::from("x");
            push_decimal(&mut out, value);
            assert_eq!(out, alloc::format!("x{text}"));
        }
    }

    proptest::proptest! {
        /// Byte by byte, the literal is the one a char-by-char writer makes, and JSON reads
        /// it back as the text, for any text (escapes, control characters, non-ASCII).
        #[test]
        fn literals_read_back_as_the_text(text in "[\"\\\\\\x00-\\x1f a-z\u{7f}é日🦀]{0,24}") {
            let mut out = String::from("[");
            json_string(&mut out, &text);
            let mut by_char = String::from("[\"");
            for c in text.chars() {
                match c {
                    '"' => by_char.push_str("\\\""),
                    '\\' => by_char.push_str("\\\\"),
                    c if (c as u32) < 0x20 => by_char.push_str(&alloc::format!("\\u{:04x}", c as u32)),
                    c => by_char.push(c),
                }
            }
            by_char.push('"');
            proptest::prop_assert_eq!(&out, &by_char);
            let back: String = serde_json::from_str(&out[1..]).unwrap();
            proptest::prop_assert_eq!(back, text);
        }
    }
}
