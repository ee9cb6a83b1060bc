//! Query strings, read strictly: a parameter named twice is refused rather than resolved
//! one way here and another way by a proxy or the origin, booleans are `true` or `false`,
//! numbers are whole and in range, and an empty value means "not given".

use alloc::string::String;
use alloc::vec::Vec;

use crate::http::errors::ErrorCode;

/// A parsed query string: each name at most once, values percent-decoded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    /// Parses `a=1&b=two` (`application/x-www-form-urlencoded`). A name given twice, or a
    /// value that is not valid UTF-8 once decoded, is [`ErrorCode::InvalidParameter`].
    pub fn parse(query: Option<&str>) -> Result<Self, ErrorCode> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for part in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (name, value) = part.split_once('=').unwrap_or((part, ""));
            let name = decode(name).ok_or(ErrorCode::InvalidParameter)?;
            let value = decode(value).ok_or(ErrorCode::InvalidParameter)?;
            if pairs.iter().any(|(seen, _)| *seen == name) {
                return Err(ErrorCode::InvalidParameter);
            }
            pairs.push((name, value));
        }
        Ok(Query { pairs })
    }

    /// The value of `name`; an empty value counts as absent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// `true` or `false`; absent is `default`; anything else is refused.
    pub fn boolean(&self, name: &str, default: bool) -> Result<bool, ErrorCode> {
        match self.get(name) {
            None => Ok(default),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(_) => Err(ErrorCode::InvalidParameter),
        }
    }

    /// A whole number in `range`, refused with `error` otherwise; absent is `None`.
    pub fn number(
        &self,
        name: &str,
        range: core::ops::RangeInclusive<u64>,
        error: ErrorCode,
    ) -> Result<Option<u64>, ErrorCode> {
        self.get(name)
            .map(|text| {
                parse_decimal(text)
                    .filter(|n| range.contains(n))
                    .ok_or(error)
            })
            .transpose()
    }

    /// An audit log page's `cursor` (the entry id to continue after; at most 18 digits, as
    /// /openapi.json says: every entry id fits) and `limit` (1 to 100, 50 by default). The
    /// application's log and the account's read the same parameters.
    pub fn audit_page(&self) -> Result<AuditPage, ErrorCode> {
        let cursor = self.number(
            "cursor",
            0..=999_999_999_999_999_999,
            ErrorCode::InvalidCursor,
        )?;
        let limit = self
            .number("limit", 1..=100, ErrorCode::InvalidLimit)?
            .unwrap_or(50) as u32;
        Ok(AuditPage { cursor, limit })
    }
}

/// Where an audit log page starts and how long it is ([`Query::audit_page`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuditPage {
    pub cursor: Option<u64>,
    pub limit: u32,
}

/// Digits only: no sign, no spaces, no exponent, at most 19 digits (always fits a u64).
fn parse_decimal(text: &str) -> Option<u64> {
    if text.is_empty() || text.len() > 19 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.bytes().try_fold(0u64, |n, b| {
        n.checked_mul(10)?.checked_add(u64::from(b - b'0'))
    })
}

/// Percent-decoding with `+` as a space, as HTML forms encode. `None` for a truncated or
/// non-hex escape, or bytes that are not UTF-8.
fn decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let high = hex_digit(*bytes.get(i + 1)?)?;
                let low = hex_digit(*bytes.get(i + 2)?)?;
                out.push(high << 4 | low);
                i += 2;
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// Percent-decoding that never fails: `+` becomes a space, valid escapes their byte, and
/// anything else stays as it is. For looking at what an origin may decode, not for reading
/// parameters (that is [`Query::parse`], which refuses what it cannot read).
pub fn decode_lossy(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match bytes.get(i + 1..i + 3) {
            Some(&[high, low]) if bytes[i] == b'%' => hex_digit(high)
                .zip(hex_digit(low))
                .map(|(high, low)| high << 4 | low),
            _ => None,
        };
        match (bytes[i], escaped) {
            (_, Some(byte)) => {
                out.push(byte);
                i += 3;
                continue;
            }
            (b'+', None) => out.push(b' '),
            (byte, None) => out.push(byte),
        }
        i += 1;
    }
    out
}

/// Query parameters that frameworks read as the request's real method: Laravel, Symfony
/// and Rails honour `_method`, and some middleware the header names as parameters. Names
/// are compared as PHP reads them (a leading `.`, ` ` or `[` becomes `_`), without regard
/// to case, and `_` and `-` alike.
const METHOD_OVERRIDE_PARAMETERS: [&str; 4] = [
    "-method",
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
];

/// Whether the query names a method override ([`METHOD_OVERRIDE_PARAMETERS`]), however its
/// name is encoded. A key held to some methods must not reach another through one.
pub fn overrides_method(query: Option<&str>) -> bool {
    let Some(query) = query else {
        return false;
    };
    query.split('&').any(|part| {
        let name = part.split_once('=').map_or(part, |(name, _)| name);
        let name = decode_lossy(name);
        // An origin that decodes twice sees one more layer.
        let name = decode_lossy(&String::from_utf8_lossy(&name));
        let folded: Vec<u8> = name
            .iter()
            .map(|&b| match b {
                b'_' | b'.' | b' ' | b'[' => b'-',
                b => b.to_ascii_lowercase(),
            })
            .collect();
        METHOD_OVERRIDE_PARAMETERS
            .iter()
            .any(|candidate| folded == candidate.as_bytes())
    })
}

pub(crate) fn hex_digit(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_decoded_and_read_by_type() {
        let q = Query::parse(Some(
            "limit=5&event=key.revoked&key_id=key%5Fx&flag=true&e=",
        ))
        .unwrap();
        assert_eq!(q.get("event"), Some("key.revoked"));
        assert_eq!(q.get("key_id"), Some("key_x"));
        assert_eq!(q.get("e"), None, "an empty value is not given");
        assert_eq!(q.get("absent"), None);
        assert_eq!(q.boolean("flag", false), Ok(true));
        assert_eq!(q.boolean("absent", false), Ok(false));
        assert_eq!(
            q.number("limit", 1..=100, ErrorCode::InvalidLimit),
            Ok(Some(5))
        );
        assert_eq!(
            Query::parse(Some("a+b=c%20d")).unwrap().get("a b"),
            Some("c d")
        );
        assert_eq!(Query::parse(None).unwrap(), Query::default());
        assert_eq!(Query::parse(Some("&&")).unwrap(), Query::default());
    }

    #[test]
    fn method_overrides_are_found_however_they_are_spelled() {
        for query in [
            "_method=DELETE",
            "a=1&_method=DELETE",
            "_METHOD=delete",
            "%5Fmethod=DELETE",
            "%255Fmethod=DELETE",
            ".method=DELETE",
            "+method=DELETE",
            "[method=DELETE",
            "X-HTTP-Method-Override=DELETE",
            "x_http_method_override=PUT",
            "x-method-override=PATCH",
            "_method",
        ] {
            assert!(overrides_method(Some(query)), "{query}");
        }
        for query in [
            "method=DELETE",
            "a=_method",
            "_methods=1",
            "my_method=1",
            "",
        ] {
            assert!(!overrides_method(Some(query)), "{query}");
        }
        assert!(!overrides_method(None));
    }

    #[test]
    fn lossy_decoding_keeps_what_it_cannot_read() {
        assert_eq!(decode_lossy("a%20b+c%zz%4"), b"a b c%zz%4");
        assert_eq!(decode_lossy("%ff%"), [0xff, b'%']);
    }

    #[test]
    fn repeated_or_mistyped_parameters_are_refused() {
        // Found by schemathesis: a repeated boolean was accepted.
        assert_eq!(
            Query::parse(Some("include_revoked=null&include_revoked=null")),
            Err(ErrorCode::InvalidParameter)
        );
        assert_eq!(
            Query::parse(Some("a=1&%61=2")),
            Err(ErrorCode::InvalidParameter),
            "the same name, encoded differently"
        );
        let q = Query::parse(Some("b=null&n=1e3&m=-1&big=99999999999999999999&s=+1")).unwrap();
        assert_eq!(q.boolean("b", false), Err(ErrorCode::InvalidParameter));
        for name in ["n", "m", "big", "s"] {
            assert_eq!(
                q.number(name, 0..=u64::MAX, ErrorCode::InvalidLimit),
                Err(ErrorCode::InvalidLimit),
                "{name}"
            );
        }
        assert_eq!(
            Query::parse(Some("limit=0")).unwrap().number(
                "limit",
                1..=100,
                ErrorCode::InvalidLimit
            ),
            Err(ErrorCode::InvalidLimit)
        );
        assert_eq!(
            Query::parse(Some("a=%zz")),
            Err(ErrorCode::InvalidParameter)
        );
        assert_eq!(Query::parse(Some("a=%f")), Err(ErrorCode::InvalidParameter));
        assert_eq!(
            Query::parse(Some("a=%ff")),
            Err(ErrorCode::InvalidParameter)
        );
    }

    #[test]
    fn an_audit_page_reads_its_cursor_and_limit_or_says_which_is_wrong() {
        let page = |q: &str| Query::parse(Some(q)).unwrap().audit_page();
        assert_eq!(
            page(""),
            Ok(AuditPage {
                cursor: None,
                limit: 50
            })
        );
        assert_eq!(
            page("cursor=42&limit=100"),
            Ok(AuditPage {
                cursor: Some(42),
                limit: 100
            })
        );
        assert_eq!(page("limit=0"), Err(ErrorCode::InvalidLimit));
        assert_eq!(page("limit=101"), Err(ErrorCode::InvalidLimit));
        assert_eq!(page("cursor=-1"), Err(ErrorCode::InvalidCursor));
        assert_eq!(
            page("cursor=1000000000000000000"),
            Err(ErrorCode::InvalidCursor)
        );
    }
}
