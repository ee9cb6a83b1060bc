//! The request as the gate reads it: every header it looks at, read once into one value
//! (the host hands them over in one string), and the facts derived from them.

use aero2_keys::ascii_search::find_any;
use aero2_keys::gate::is_browser_request;
use aero2_keys::policy::referer_origin;

/// The headers of one request. Names arrive lower-cased (the platform's `Headers`
/// iterates them so), one `name\nvalue\n` pair after another.
#[derive(Default)]
pub struct RequestHeaders<'a> {
    /// Every header, in order, for the forwarding rules and the secret-key scan.
    pub all: Vec<(&'a str, &'a str)>,
    pub authorization: Option<&'a str>,
    pub origin: Option<&'a str>,
    pub referer: Option<&'a str>,
    pub sec_fetch_mode: Option<&'a str>,
    pub sec_fetch_site: Option<&'a str>,
    /// `CF-Connecting-IP`: the address the platform reports (never one the client states).
    pub client_ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub cookie: Option<&'a str>,
    pub request_method: Option<&'a str>,
    pub request_headers: Option<&'a str>,
}

/// The next `name\nvalue\n` pair of `rest`, and `rest` moved past it; `None` at the end,
/// and for a name with no line feed after it (a truncated blob). The pairs are those of
/// `split('\n')` taken two at a time, found byte by byte (see `ascii_search`).
fn next_pair<'a>(rest: &mut &'a str) -> Option<(&'a str, &'a str)> {
    let name_end = find_any(rest, b"\n")?;
    let (name, after) = (&rest[..name_end], &rest[name_end + 1..]);
    let value_end = find_any(after, b"\n").unwrap_or(after.len());
    *rest = after.get(value_end + 1..).unwrap_or("");
    Some((name, &after[..value_end]))
}

impl<'a> RequestHeaders<'a> {
    pub fn parse(blob: &'a str) -> Self {
        let mut headers = RequestHeaders {
            all: Vec::with_capacity(16),
            authorization: None,
            origin: None,
            referer: None,
            sec_fetch_mode: None,
            sec_fetch_site: None,
            client_ip: None,
            user_agent: None,
            cookie: None,
            request_method: None,
            request_headers: None,
        };
        let mut rest = blob;
        while let Some((name, value)) = next_pair(&mut rest) {
            headers.all.push((name, value));
            let slot = match name {
                "authorization" => &mut headers.authorization,
                "origin" => &mut headers.origin,
                "referer" => &mut headers.referer,
                "sec-fetch-mode" => &mut headers.sec_fetch_mode,
                "sec-fetch-site" => &mut headers.sec_fetch_site,
                "cf-connecting-ip" => &mut headers.client_ip,
                "user-agent" => &mut headers.user_agent,
                "cookie" => &mut headers.cookie,
                "access-control-request-method" => &mut headers.request_method,
                "access-control-request-headers" => &mut headers.request_headers,
                _ => continue,
            };
            *slot = Some(value);
        }
        headers
    }

    /// Whether a browser sent the request ([`is_browser_request`]).
    pub fn sent_by_browser(&self) -> bool {
        is_browser_request(self.origin, self.sec_fetch_mode, self.sec_fetch_site)
    }

    /// The page's origin: `Origin`, or else the origin of `Referer`.
    pub fn page_origin(&self) -> Option<&'a str> {
        self.origin
            .or_else(|| self.referer.and_then(referer_origin))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_header_is_read_once_into_its_place() {
        let blob = "authorization\nBearer x\ncf-connecting-ip\n203.0.113.9\nreferer\nhttps://shop.example/cart?x\nx-other\n1\n";
        let headers = RequestHeaders::parse(blob);
        assert_eq!(headers.authorization, Some("Bearer x"));
        assert_eq!(headers.client_ip, Some("203.0.113.9"));
        assert_eq!(headers.page_origin(), Some("https://shop.example"));
        assert_eq!(headers.all.len(), 4);
        assert!(!headers.sent_by_browser());
        assert_eq!(RequestHeaders::parse("").all.len(), 0);
        // A name without a value (a truncated blob) is ignored.
        assert_eq!(RequestHeaders::parse("origin").origin, None);
        assert_eq!(RequestHeaders::parse("origin\n").origin, Some(""));
        assert_eq!(RequestHeaders::parse("a\nb").all, [("a", "b")]);
    }

    /// The pairs are `split('\n')`'s, two at a time, whatever the blob.
    #[test]
    fn pairs_are_split_lines_two_at_a_time() {
        for blob in [
            "",
            "\n",
            "\n\n",
            "a",
            "a\n",
            "a\nb",
            "a\nb\n",
            "a\nb\n\n",
            "a\n\nc\nd\n",
            "é\nü\n\n",
        ] {
            let mut lines = blob.split('\n');
            let mut expected = Vec::new();
            while let (Some(name), Some(value)) = (lines.next(), lines.next()) {
                expected.push((name, value));
            }
            assert_eq!(RequestHeaders::parse(blob).all, expected, "{blob:?}");
        }
    }
}
