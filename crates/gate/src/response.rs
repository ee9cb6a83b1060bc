//! The gate's own answers: errors as `{"error":{"code","message"}}` with the headers that
//! go with them, and CORS preflights. Written by hand: no serializer on the gate's path.

use aero2_keys::gate::Rejection;
use aero2_keys::http::cors;
use aero2_keys::http::ErrorCode;
use aero2_keys::json_text::{json_string, push_decimal};
use aero2_keys::ParseError;

/// An answer for the host to send.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    /// Header lines, `name\nvalue\n` after one another.
    pub headers: String,
    pub body: String,
    /// For a forwarded request: the page's origin that may read the origin's answer.
    pub cors_origin: Option<String>,
}

impl Reply {
    /// The answer in one string for the host: the status, a line feed, the header lines,
    /// an empty line, then the body (which may hold line feeds). One crossing instead of
    /// three.
    pub fn packed(&self) -> String {
        let mut out = String::with_capacity(8 + self.headers.len() + self.body.len());
        push_decimal(&mut out, usize::from(self.status));
        out.push('\n');
        out.push_str(&self.headers);
        out.push('\n');
        out.push_str(&self.body);
        out
    }

    /// 204 to a preflight on a frontend route, with no storage read.
    pub fn preflight(origin: Option<&str>, allow_headers: &str) -> Reply {
        let mut headers = String::with_capacity(256);
        if let Some(origin) = origin {
            push_header(&mut headers, "Access-Control-Allow-Origin", origin);
            push_header(
                &mut headers,
                "Access-Control-Allow-Methods",
                cors::ALLOW_METHODS,
            );
            push_header(&mut headers, "Access-Control-Allow-Headers", allow_headers);
            push_header(
                &mut headers,
                "Access-Control-Max-Age",
                &cors::MAX_AGE_SECONDS.to_string(),
            );
        }
        push_header(
            &mut headers,
            "Vary",
            "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
        );
        Reply {
            status: 204,
            headers,
            body: String::new(),
            cors_origin: None,
        }
    }
}

pub fn push_header(out: &mut String, name: &str, value: &str) {
    out.push_str(name);
    out.push('\n');
    out.push_str(value);
    out.push('\n');
}

/// An error, with its code, an optional detail in place of the code's message, and the
/// headers that go with it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ErrorResponse {
    pub code: ErrorCode,
    detail: Option<Detail>,
    headers: Vec<(&'static str, String)>,
}

/// What replaces the code's message. A malformed key's is kept as its [`ParseError`] and
/// written only when the answer is: the quick path looks its answers up by this value, so
/// a refused request builds no sentence (building it was a tenth of the quick path's time
/// in the size-optimised wasm, measured).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Detail {
    Malformed(ParseError),
    #[cfg(test)]
    Text(String),
}

impl Detail {
    fn message(&self) -> String {
        match self {
            Detail::Malformed(error) => error.message(),
            #[cfg(test)]
            Detail::Text(text) => text.clone(),
        }
    }
}

impl ErrorResponse {
    pub fn new(code: ErrorCode) -> Self {
        ErrorResponse {
            code,
            detail: None,
            headers: Vec::new(),
        }
    }

    /// A refused key: a malformed key's message says exactly what is wrong (a length, a
    /// position), never the key.
    pub fn rejection(rejection: Rejection) -> Self {
        let mut response = ErrorResponse::new(rejection.into());
        if let Rejection::Malformed(err) = rejection {
            response.detail = Some(Detail::Malformed(err));
        }
        response
    }

    /// 405, naming the methods that are accepted.
    pub fn method_not_allowed(allow: &'static str) -> Self {
        ErrorResponse::new(ErrorCode::MethodNotAllowed).with_header("Allow", allow.to_owned())
    }

    /// A 429 that says when to come back.
    pub fn retry_after(code: ErrorCode, seconds: u64) -> Self {
        ErrorResponse::new(code).with_header("Retry-After", seconds.to_string())
    }

    #[cfg(test)]
    pub fn with_detail(mut self, detail: String) -> Self {
        self.detail = Some(Detail::Text(detail));
        self
    }

    pub fn with_header(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }

    /// The answer, readable by `cors_origin` when given (the page's origin on a frontend
    /// route).
    pub fn into_reply(self, cors_origin: Option<&str>) -> Reply {
        let mut headers = String::with_capacity(256);
        push_header(
            &mut headers,
            "Content-Type",
            "application/json; charset=utf-8",
        );
        push_header(&mut headers, "Cache-Control", "no-store");
        push_header(&mut headers, "X-Content-Type-Options", "nosniff");
        if self.code.status() == 401 {
            let mut challenge = String::with_capacity(96);
            challenge
                .push_str("Bearer realm=\"aero2\", error=\"invalid_token\", error_description=\"");
            challenge.push_str(self.code.as_str());
            challenge.push('"');
            push_header(&mut headers, "WWW-Authenticate", &challenge);
        }
        for (name, value) in &self.headers {
            push_header(&mut headers, name, value);
        }
        if let Some(origin) = cors_origin {
            push_header(&mut headers, "Access-Control-Allow-Origin", origin);
            push_header(
                &mut headers,
                "Access-Control-Expose-Headers",
                cors::EXPOSE_HEADERS,
            );
            push_header(&mut headers, "Vary", "Origin");
        }
        let mut body = String::with_capacity(160);
        body.push_str("{\"error\":{\"code\":\"");
        body.push_str(self.code.as_str());
        body.push_str("\",\"message\":");
        let detail = self.detail.as_ref().map(Detail::message);
        json_string(&mut body, detail.as_deref().unwrap_or(self.code.message()));
        body.push_str("}}");
        Reply {
            status: self.code.status(),
            headers,
            body,
            cors_origin: None,
        }
    }
}

/// A refusal of the quick path (`machine::quick_reply`), and the page's origin that may
/// read it, if any.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct QuickReply {
    pub refusal: ErrorResponse,
    pub readable_by: Option<String>,
}

impl QuickReply {
    pub fn reply(&self) -> Reply {
        self.refusal.clone().into_reply(self.readable_by.as_deref())
    }
}

/// The quick path's answers, numbered, so that the host unpacks each once and afterwards
/// gets a number, not a string, across the boundary. A refusal's text depends on its code
/// and the key's shape only, so there are few; past [`AnswerTable::CAP`] (an attacker
/// varying the shape), answers are not numbered and cross as text ([`AnswerTable::UNNUMBERED`]).
pub struct AnswerTable {
    numbers: aero2_keys::hashing::Map<QuickReply, u32>,
    texts: Vec<String>,
    /// The last answer that was not numbered.
    unnumbered: String,
}

impl AnswerTable {
    pub const CAP: usize = 256;
    /// The number of an answer that is not in the table: the host reads it as text.
    pub const UNNUMBERED: u32 = u32::MAX;

    pub fn new() -> Self {
        AnswerTable {
            numbers: aero2_keys::hashing::map(),
            texts: Vec::new(),
            unnumbered: String::new(),
        }
    }

    /// The answer's number, from 1 (0 means "no quick answer" to the host). Its text is
    /// built the first time only.
    pub fn number(&mut self, answer: QuickReply) -> u32 {
        if let Some(number) = self.numbers.get(&answer) {
            return *number;
        }
        let packed = answer.reply().packed();
        if self.texts.len() >= Self::CAP {
            self.unnumbered = packed;
            return Self::UNNUMBERED;
        }
        self.texts.push(packed);
        let number = self.texts.len() as u32;
        self.numbers.insert(answer, number);
        number
    }

    /// The packed answer numbered `number` (or the last unnumbered one); empty if none.
    pub fn text(&self, number: u32) -> &str {
        if number == Self::UNNUMBERED {
            return &self.unnumbered;
        }
        let index = (number as usize).wrapping_sub(1);
        self.texts.get(index).map_or("", String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_json_with_their_headers() {
        let reply = ErrorResponse::retry_after(ErrorCode::TooManyFailedAttempts, 7)
            .into_reply(Some("https://shop.example"));
        assert_eq!(reply.status, 429);
        let body: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
        assert_eq!(body["error"]["code"], "too_many_failed_attempts");
        assert!(reply.headers.contains("Retry-After\n7\n"));
        assert!(reply
            .headers
            .contains("Access-Control-Allow-Origin\nhttps://shop.example\n"));
        let unknown = ErrorResponse::new(ErrorCode::UnknownKey).into_reply(None);
        assert!(unknown
            .headers
            .contains("WWW-Authenticate\nBearer realm=\"aero2\""));
        assert!(!unknown.headers.contains("Access-Control"));
    }

    #[test]
    fn quick_answers_are_numbered_once_and_past_the_cap_cross_as_text() {
        let answer = |detail: &str, readable_by: Option<&str>| QuickReply {
            refusal: ErrorResponse::new(ErrorCode::MalformedKey).with_detail(detail.to_owned()),
            readable_by: readable_by.map(str::to_owned),
        };
        let mut table = AnswerTable::new();
        assert_eq!(table.number(answer("short", None)), 1);
        assert_eq!(table.number(answer("short", None)), 1);
        // The page that may read it is part of the answer.
        assert_eq!(
            table.number(answer("short", Some("https://shop.example"))),
            2
        );
        let text = table.text(1);
        assert!(text.starts_with("401\n"), "{text}");
        assert!(text.ends_with("\"message\":\"short\"}}"), "{text}");
        assert!(table
            .text(2)
            .contains("Access-Control-Allow-Origin\nhttps://shop.example\n"));
        assert_eq!(table.text(0), "");
        assert_eq!(table.text(3), "");
        for n in 3..=AnswerTable::CAP {
            assert_eq!(table.number(answer(&n.to_string(), None)), n as u32);
        }
        let past = table.number(answer("past the cap", None));
        assert_eq!(past, AnswerTable::UNNUMBERED);
        assert!(table.text(past).contains("past the cap"));
        // Numbered answers keep their numbers.
        assert_eq!(table.number(answer("short", None)), 1);
    }
}
