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
}
