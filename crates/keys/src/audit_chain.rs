//! The audit log's hash chain: every entry of an application's log names the hash of the
//! one before it, so that no entry can be changed, removed or reordered without breaking
//! every hash after it.
//!
//! ```text
//! hash = hex(SHA-256(bytes(prev_hash) ‖ UTF-8(JCS(entry without "hash"))))
//! ```
//!
//! - `bytes(prev_hash)`: the 32 bytes that the previous entry's `hash` (64 lowercase hex
//!   characters) encodes; the first entry's `prev_hash` is 64 zeros;
//! - `JCS`: the JSON Canonicalization Scheme (RFC 8785) of the entry as the API shows it,
//!   with its `seq` and `prev_hash` and without `hash`.
//!
//! A checkpoint (a JWS the key ring signs) names a `seq` and its `hash`: a log that
//! verifies up to it is the log the key ring wrote. Pure: the key ring stores entries and
//! signs checkpoints; the rules are here, and `tests/audit_chain.rs` checks that any change,
//! removal or reordering breaks verification.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::fmt::Write;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::storage::encode_hex;

/// The `prev_hash` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Where a chain ends: the last entry's `seq` and `hash` (`seq` 0 and [`GENESIS`] for an
/// empty one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    pub seq: u64,
    pub hash: String,
}

impl Head {
    pub fn genesis() -> Self {
        Head {
            seq: 0,
            hash: GENESIS.into(),
        }
    }
}

/// Why a run of entries does not verify. The `seq` named is the first entry that fails.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChainError {
    /// Not an object, or `seq`, `prev_hash` or `hash` missing or of the wrong type.
    Malformed { index: usize },
    /// `seq` is not one more than the previous entry's.
    Gap { seq: u64 },
    /// `prev_hash` is not the previous entry's `hash`.
    Broken { seq: u64 },
    /// `hash` is not the hash of the entry.
    Altered { seq: u64 },
}

impl fmt::Display for ChainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChainError::Malformed { index } => write!(f, "entry {index} is not a chained entry"),
            ChainError::Gap { seq } => write!(f, "entry {seq} does not follow the one before"),
            ChainError::Broken { seq } => write!(f, "entry {seq} does not name the previous hash"),
            ChainError::Altered { seq } => write!(f, "entry {seq} does not match its hash"),
        }
    }
}

/// The JSON Canonicalization Scheme (RFC 8785) of `value`: object members sorted by the
/// UTF-16 code units of their names, no whitespace, strings escaped as ECMAScript's
/// `JSON.stringify` escapes them, numbers as ECMAScript prints them. (The log holds whole
/// numbers below 2^53 only: they print as their digits.)
pub fn canonical(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            members.sort_by(|(a, _), (b, _)| a.encode_utf16().cmp(b.encode_utf16()));
            out.push('{');
            for (i, (name, member)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(name, out);
                out.push(':');
                write_canonical(member, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::String(text) => write_string(text, out),
        // Numbers: serde_json prints whole numbers as RFC 8785 does; the log holds no
        // other kind.
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(number) => {
            let _ = write!(out, "{number}");
        }
    }
}

/// A string as RFC 8785 (and `JSON.stringify`) writes it: `"` and `\` escaped, the control
/// characters as `\b \t \n \f \r` or `\u00xx` (lowercase hex), everything else as it is.
fn write_string(text: &str, out: &mut String) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\u00");
                out.push(HEX[(c as usize) >> 4] as char);
                out.push(HEX[(c as usize) & 0xf] as char);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The hash of an entry: `entry` with its `seq` and `prev_hash`, without `hash`.
pub fn hash_of(prev_hash: &str, entry: &Map<String, Value>) -> String {
    let mut digest = Sha256::new();
    digest.update(decode_hash(prev_hash).unwrap_or([0; 32]));
    digest.update(canonical(&Value::Object(entry.clone())).as_bytes());
    encode_hex(&digest.finalize())
}

fn decode_hash(hex: &str) -> Option<[u8; 32]> {
    let bytes = hex.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let nibble = |b: u8| match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    };
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks(2).enumerate() {
        out[i] = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Some(out)
}

/// Chains `entry` (an object without `seq`, `prev_hash` or `hash`) after `head`: it gets
/// the next `seq`, `head`'s hash as `prev_hash`, and its own `hash`. Returns the new head.
pub fn append(head: &Head, entry: &mut Map<String, Value>) -> Head {
    let seq = head.seq + 1;
    entry.remove("hash");
    entry.insert("seq".into(), Value::from(seq));
    entry.insert("prev_hash".into(), Value::from(head.hash.as_str()));
    let hash = hash_of(&head.hash, entry);
    entry.insert("hash".into(), Value::from(hash.as_str()));
    Head { seq, hash }
}

/// Verifies consecutive chained entries, from the first one given (which may be any entry:
/// retention drops the oldest, and each entry names its `prev_hash`). Returns the head
/// they end at, to compare with a checkpoint.
pub fn verify<'a>(entries: impl IntoIterator<Item = &'a Value>) -> Result<Head, ChainError> {
    verify_from(None, entries)
}

/// [`verify`], and the first entry must be `first_seq` (1 for a whole log): a run that
/// lost its first entries does not pass.
pub fn verify_from<'a>(
    first_seq: Option<u64>,
    entries: impl IntoIterator<Item = &'a Value>,
) -> Result<Head, ChainError> {
    let mut chain = ChainVerifier::new(first_seq);
    for entry in entries {
        chain.push(entry)?;
    }
    Ok(chain.head())
}

/// [`verify_from`] one entry at a time, for a log read as a stream (an export of any size
/// is never held whole).
#[derive(Clone, Debug)]
pub struct ChainVerifier {
    required_first: Option<u64>,
    first: Option<u64>,
    last: Option<Head>,
    index: usize,
}

impl ChainVerifier {
    /// `first_seq`: the `seq` the first entry must have (1 for a whole log), or `None` for
    /// a run that may start anywhere.
    pub fn new(first_seq: Option<u64>) -> Self {
        ChainVerifier {
            required_first: first_seq,
            first: None,
            last: None,
            index: 0,
        }
    }

    /// Checks the next entry; on success it is the new head.
    pub fn push(&mut self, entry: &Value) -> Result<&Head, ChainError> {
        let index = self.index;
        self.index += 1;
        let object = entry.as_object().ok_or(ChainError::Malformed { index })?;
        let seq = object
            .get("seq")
            .and_then(Value::as_u64)
            .ok_or(ChainError::Malformed { index })?;
        let prev_hash = object
            .get("prev_hash")
            .and_then(Value::as_str)
            .filter(|h| decode_hash(h).is_some())
            .ok_or(ChainError::Malformed { index })?;
        let hash = object
            .get("hash")
            .and_then(Value::as_str)
            .ok_or(ChainError::Malformed { index })?;
        if let Some(last) = &self.last {
            if seq != last.seq + 1 {
                return Err(ChainError::Gap { seq });
            }
            if prev_hash != last.hash {
                return Err(ChainError::Broken { seq });
            }
        } else {
            if self.required_first.is_some_and(|first| first != seq) {
                return Err(ChainError::Gap { seq });
            }
            if seq == 1 && prev_hash != GENESIS {
                return Err(ChainError::Broken { seq });
            }
        }
        let mut without = object.clone();
        without.remove("hash");
        if hash_of(prev_hash, &without) != hash {
            return Err(ChainError::Altered { seq });
        }
        self.first.get_or_insert(seq);
        Ok(self.last.insert(Head {
            seq,
            hash: hash.into(),
        }))
    }

    /// The `seq` of the first entry checked, if any.
    pub fn first_seq(&self) -> Option<u64> {
        self.first
    }

    /// Where the entries checked so far end ([`Head::genesis`] before the first).
    pub fn head(&self) -> Head {
        self.last.clone().unwrap_or_else(Head::genesis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_json_follows_rfc_8785() {
        // RFC 8785's own example shape: members sorted, escapes as JSON.stringify does.
        // U+10000 is the surrogate pair D800 DC00 in UTF-16: it sorts before U+E000, though
        // its UTF-8 bytes sort after.
        let value = json!({"b": [1, "\u{1}\n\"\\", true, null], "a": {"z": 0, "\u{e9}": "é"}, "\u{e000}": 1, "\u{10000}": 2});
        assert_eq!(
            canonical(&value),
            "{\"a\":{\"z\":0,\"é\":\"é\"},\"b\":[1,\"\\u0001\\n\\\"\\\\\",true,null],\"\u{10000}\":2,\"\u{e000}\":1}"
        );
    }

    #[test]
    fn the_first_entry_follows_genesis_and_each_names_the_last() {
        let mut head = Head::genesis();
        let mut log = Vec::new();
        for n in 0..3 {
            let mut entry = json!({"event": "key.created", "n": n})
                .as_object()
                .unwrap()
                .clone();
            head = append(&head, &mut entry);
            log.push(Value::Object(entry));
        }
        assert_eq!(log[0]["prev_hash"], GENESIS);
        assert_eq!(log[1]["prev_hash"], log[0]["hash"]);
        assert_eq!(verify(&log), Ok(head.clone()));
        // A verifier may start at any entry (retention dropped the older ones).
        assert_eq!(verify(&log[1..]), Ok(head));
    }
}
