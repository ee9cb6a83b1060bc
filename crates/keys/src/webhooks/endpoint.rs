//! The rules for an endpoint's URL and description, checked on the URL's parts (the
//! worker parses it with the WHATWG URL parser, as `fetch` will).

use core::net::IpAddr;

/// Endpoints per application, at most.
pub const MAX_ENDPOINTS: usize = 10;
/// The longest URL accepted.
pub const MAX_URL_LEN: usize = 2048;
/// The longest description.
pub const MAX_DESCRIPTION_CHARS: usize = 200;

/// A URL's host, as the URL parser gave it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Host<'a> {
    Domain(&'a str),
    Ip(IpAddr),
}

/// The parts of a parsed URL the rules look at.
#[derive(Clone, Copy, Debug)]
pub struct UrlParts<'a> {
    pub scheme: &'a str,
    pub has_credentials: bool,
    pub host: Option<Host<'a>>,
    pub has_fragment: bool,
    /// The length of the serialised URL.
    pub len: usize,
}

/// The syntax an endpoint URL must have, as `/openapi.json` states it: `https://`, a host
/// of DNS labels (letters, digits, `-`, `_`; 1 to 63 each) or a bracketed IPv6 literal, an
/// optional port, then an optional path and query of URL characters; no user name or
/// password, no `#fragment`, nothing outside printable ASCII. A test checks that it accepts
/// exactly what [`check_syntax`] does.
pub const URL_PATTERN: &str = concat!(
    r"^https://",
    r"(?:[A-Za-z0-9_\-]{1,63}(?:\.[A-Za-z0-9_\-]{1,63})*|\[[0-9A-Fa-f:.]+\])",
    r"(?::(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|0[0-9]{4}|[0-9]{1,4}))?",
    r"(?:/[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*)?",
    r"(?:\?[A-Za-z0-9\-._~!$&'()*+,;=:@%/?]*)?$"
);

/// Checks an endpoint URL's text against [`URL_PATTERN`] (with `http://` too where
/// `allow_http`), before the URL parser reads it: what the parser would quietly repair or
/// re-encode (spaces, non-ASCII, a stray `#`) is refused instead, so the URL stored is the
/// URL given.
pub fn check_syntax(text: &str, allow_http: bool) -> Result<(), UrlError> {
    if text.len() > MAX_URL_LEN {
        return Err(UrlError::TooLong);
    }
    let rest = match text.strip_prefix("https://") {
        Some(rest) => rest,
        None => match text.strip_prefix("http://") {
            Some(rest) if allow_http => rest,
            Some(_) => return Err(UrlError::NotHttps),
            None => return Err(UrlError::Syntax),
        },
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let host = if authority.starts_with('[') {
        let close = authority.find(']').ok_or(UrlError::Syntax)?;
        let inner = &authority[1..close];
        let literal_ok = !inner.is_empty()
            && inner
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
        if !literal_ok {
            return Err(UrlError::Syntax);
        }
        port_ok(&authority[close + 1..])?;
        return tail_ok(tail);
    } else {
        let (host, port) = authority.split_at(authority.rfind(':').unwrap_or(authority.len()));
        port_ok(port)?;
        host
    };
    let labels_ok = host.split('.').all(|label| {
        (1..=63).contains(&label.len())
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    });
    if !labels_ok {
        return Err(UrlError::Syntax);
    }
    tail_ok(tail)
}

/// `:port` (0 to 65535, at most 5 digits), or nothing.
fn port_ok(text: &str) -> Result<(), UrlError> {
    match text.strip_prefix(':') {
        None if text.is_empty() => Ok(()),
        Some(port)
            if !port.is_empty()
                && port.len() <= 5
                && port.bytes().all(|b| b.is_ascii_digit())
                && port.parse::<u32>().is_ok_and(|p| p <= 65_535) =>
        {
            Ok(())
        }
        _ => Err(UrlError::Syntax),
    }
}

/// `/path` then `?query`, each optional, of the characters [`URL_PATTERN`] allows.
fn tail_ok(tail: &str) -> Result<(), UrlError> {
    let path_char = |b: u8| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@%/".contains(&b);
    let (path, query) = match tail.find('?') {
        Some(at) => (&tail[..at], Some(&tail[at + 1..])),
        None => (tail, None),
    };
    let path_ok = path.is_empty() || (path.starts_with('/') && path.bytes().all(path_char));
    let query_ok = query.is_none_or(|q| q.bytes().all(|b| path_char(b) || b == b'?'));
    if path_ok && query_ok {
        Ok(())
    } else {
        Err(UrlError::Syntax)
    }
}

/// Why a URL is refused. The message never quotes the URL, which may hold a token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UrlError {
    /// Not of the form [`URL_PATTERN`] states.
    Syntax,
    TooLong,
    NotHttps,
    Credentials,
    NoHost,
    Fragment,
    PrivateAddress,
}

impl UrlError {
    pub const fn message(self) -> &'static str {
        match self {
            UrlError::Syntax => {
                "url: an https URL of printable ASCII: a host name or [IPv6] address, an optional port, path and query; see /openapi.json"
            }
            UrlError::TooLong => "url: at most 2048 characters",
            UrlError::NotHttps => "url: must be https (http only where WEBHOOK_ALLOW_HTTP is true)",
            UrlError::Credentials => "url: must not contain a user name or password",
            UrlError::NoHost => "url: must have a host",
            UrlError::Fragment => "url: must not have a #fragment",
            UrlError::PrivateAddress => {
                "url: must not point at localhost or a private, loopback, link-local, multicast or reserved address"
            }
        }
    }
}

/// Checks an endpoint URL. `local_development` (the var `WEBHOOK_ALLOW_HTTP`) also allows
/// `http` and local addresses, for a receiver on the developer's machine; in production
/// neither is allowed, so an endpoint can neither be read on the way nor aim the worker at
/// a network it should not reach.
pub fn check_url(url: &UrlParts<'_>, local_development: bool) -> Result<(), UrlError> {
    if url.len > MAX_URL_LEN {
        return Err(UrlError::TooLong);
    }
    match url.scheme {
        "https" => {}
        "http" if local_development => {}
        _ => return Err(UrlError::NotHttps),
    }
    if url.has_credentials {
        return Err(UrlError::Credentials);
    }
    if url.has_fragment {
        return Err(UrlError::Fragment);
    }
    let host = url.host.ok_or(UrlError::NoHost)?;
    if !local_development && is_local(host) {
        return Err(UrlError::PrivateAddress);
    }
    Ok(())
}

/// Names and addresses that lead to the machine itself, a private network, or no single
/// public host (multicast, reserved). IPv6 forms that carry an IPv4 address (mapped,
/// compatible, NAT64, 6to4) are judged by that address, so none of them is a way around
/// the IPv4 rules. Names that resolve to a private address (DNS rebinding) cannot be seen
/// here; Workers' `fetch` does not reach private networks, which is the second line.
fn is_local(host: Host<'_>) -> bool {
    match host {
        Host::Domain(name) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            ["localhost", "local", "internal", "home.arpa"]
                .iter()
                .any(|zone| {
                    name.strip_suffix(zone)
                        .is_some_and(|rest| rest.is_empty() || rest.ends_with('.'))
                })
        }
        Host::Ip(IpAddr::V4(ip)) => {
            let [a, b, c, _] = ip.octets();
            ip.is_private()
                || ip.is_loopback()
                || ip.is_link_local()
                || a == 0 // "this network", 0.0.0.0/8
                || a >= 224 // multicast 224.0.0.0/4, reserved 240.0.0.0/4 and broadcast
                || a == 100 && b & 0xC0 == 64 // shared address space, 100.64.0.0/10
                || a == 192 && b == 0 && c == 0 // protocol assignments, 192.0.0.0/24
                || a == 198 && b & 0xFE == 18 // benchmarking, 198.18.0.0/15
        }
        Host::Ip(IpAddr::V6(ip)) => {
            if let Some(v4) = embedded_ipv4(ip) {
                return is_local(Host::Ip(IpAddr::V4(v4)));
            }
            let [first, second, ..] = ip.segments();
            ip.is_loopback()
                || ip.is_unspecified()
                || first & 0xFE00 == 0xFC00 // unique local, fc00::/7
                || first & 0xFFC0 == 0xFE80 // link-local, fe80::/10
                || first & 0xFFC0 == 0xFEC0 // site-local (deprecated), fec0::/10
                || first & 0xFF00 == 0xFF00 // multicast, ff00::/8
                || first == 0x2001 && second == 0 // Teredo, 2001::/32: a tunnel to anywhere
                || first == 0x64 && second == 0xff9b && ip.segments()[2] == 1 // local NAT64, 64:ff9b:1::/48
                || ip.segments()[..4] == [0x100, 0, 0, 0] // discard-only, 100::/64
        }
    }
}

/// The IPv4 address an IPv6 address stands for, where it stands for one: IPv4-mapped
/// (`::ffff:a.b.c.d`), IPv4-translated (`::ffff:0:a.b.c.d`), IPv4-compatible
/// (`::a.b.c.d`, deprecated), the well-known NAT64 prefix (`64:ff9b::/96`) and 6to4
/// (`2002:AABB:CCDD::/48`). (The local-use NAT64 prefix places the address by the
/// operator's prefix length, so it is refused as a whole instead.)
fn embedded_ipv4(ip: core::net::Ipv6Addr) -> Option<core::net::Ipv4Addr> {
    let s = ip.segments();
    let from = |high: u16, low: u16| {
        let [a, b] = high.to_be_bytes();
        let [c, d] = low.to_be_bytes();
        core::net::Ipv4Addr::new(a, b, c, d)
    };
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    match s {
        // `::` and `::1` are IPv6's own unspecified and loopback, judged as such.
        [0, 0, 0, 0, 0, 0, 0, 0 | 1] => None,
        [0, 0, 0, 0, 0, 0, high, low] => Some(from(high, low)),
        // IPv4-translated (SIIT), ::ffff:0:a.b.c.d.
        [0, 0, 0, 0, 0xffff, 0, high, low] => Some(from(high, low)),
        [0x64, 0xff9b, 0, 0, 0, 0, high, low] => Some(from(high, low)),
        [0x2002, high, low, ..] => Some(from(high, low)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Candidate URLs from the pieces of the grammar and the characters around them.
    fn candidate() -> impl proptest::strategy::Strategy<Value = std::string::String> {
        use proptest::prelude::*;
        let scheme = prop_oneof![
            Just("https://"),
            Just("http://"),
            Just("HTTPS://"),
            Just("https:/"),
            Just("")
        ];
        let host = prop_oneof![
            proptest::collection::vec("[a-zA-Z0-9_\\-ä@ ]{0,4}", 1..4).prop_map(|l| l.join(".")),
            "\\[[0-9a-fA-F:.g]{0,6}\\]?[a-z]?",
        ];
        let port = prop_oneof![Just(std::string::String::new()), "(:[0-9]{0,6})"];
        let tail = "[/?#a-z%@ \"<>]{0,6}";
        (scheme, host, port, tail).prop_map(|(s, h, p, t)| std::format!("{s}{h}{p}{t}"))
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4096))]
        /// The pattern `/openapi.json` states accepts exactly what the API does.
        #[test]
        fn the_stated_pattern_accepts_exactly_what_check_syntax_does(text in candidate()) {
            static COMPILED: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
            let pattern = COMPILED.get_or_init(|| regex::Regex::new(URL_PATTERN).unwrap());
            proptest::prop_assert_eq!(pattern.is_match(&text), check_syntax(&text, false).is_ok(), "{}", text);
        }
    }

    #[test]
    fn url_syntax_accepts_what_a_receiver_needs_and_nothing_a_parser_would_repair() {
        for good in [
            "https://hooks.example.com/aero2",
            "https://hooks.example.com:8443/a/b?x=1&y=%20",
            "https://[2001:db8::1]/x",
            "https://a_b.example",
        ] {
            assert_eq!(check_syntax(good, false), Ok(()), "{good}");
        }
        for bad in [
            "https://user:pw@hooks.example.com/",
            "https://hooks.example.com/#x",
            "https://hooks.example.com/a b",
            "https://exämple.com/",
            "https://hooks..example.com/",
            "https://hooks.example.com:99999/",
            "ftp://hooks.example.com/",
            "https:///x",
        ] {
            assert!(check_syntax(bad, false).is_err(), "{bad}");
        }
        assert_eq!(
            check_syntax("http://127.0.0.1:9/x", false),
            Err(UrlError::NotHttps)
        );
        assert_eq!(check_syntax("http://127.0.0.1:9/x", true), Ok(()));
        let long = std::format!("https://h.example/{}", "a".repeat(MAX_URL_LEN));
        assert_eq!(check_syntax(&long, false), Err(UrlError::TooLong));
    }

    #[test]
    fn the_openapi_document_states_this_pattern() {
        let document: serde_json::Value =
            serde_json::from_str(include_str!("../../../../www/openapi.json")).unwrap();
        let url = &document["components"]["schemas"]["CreateWebhookEndpoint"]["properties"]["url"];
        assert_eq!(url["pattern"], URL_PATTERN);
        assert_eq!(url["maxLength"], MAX_URL_LEN);
    }
    use core::str::FromStr;

    fn parts<'a>(scheme: &'a str, host: Option<Host<'a>>) -> UrlParts<'a> {
        UrlParts {
            scheme,
            has_credentials: false,
            host,
            has_fragment: false,
            len: 40,
        }
    }

    fn ip(text: &str) -> Option<Host<'static>> {
        Some(Host::Ip(IpAddr::from_str(text).unwrap()))
    }

    #[test]
    fn production_takes_https_to_public_hosts_only() {
        let public = Some(Host::Domain("hooks.example.com"));
        assert_eq!(check_url(&parts("https", public), false), Ok(()));
        assert_eq!(check_url(&parts("https", ip("203.0.113.9")), false), Ok(()));
        assert_eq!(check_url(&parts("https", ip("2001:db8::1")), false), Ok(()));
        assert_eq!(
            check_url(&parts("http", public), false),
            Err(UrlError::NotHttps)
        );
        assert_eq!(
            check_url(&parts("ftp", public), true),
            Err(UrlError::NotHttps)
        );
        for local in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
            // The rest of the reserved IPv4 space.
            "0.1.2.3",
            "224.0.0.251",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "192.0.0.8",
            "198.18.0.1",
            "198.19.255.255",
            // IPv6 forms of a private IPv4 address.
            "::10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::7f00:1",
            "64:ff9b:1:a00::808:808",
            "::ffff:0:7f00:1",
            "::ffff:0:a9fe:a9fe",
            "2002:c0a8:0101::1",
            "2002:7f00:1::",
            // IPv6's own private, multicast and tunnel ranges.
            "::",
            "fec0::1",
            "ff02::1",
            "ff05::1:3",
            "2001:0:4136:e378::1",
            "100::1",
        ] {
            assert_eq!(
                check_url(&parts("https", ip(local)), false),
                Err(UrlError::PrivateAddress),
                "{local}"
            );
        }
        for name in [
            "localhost",
            "LOCALHOST.",
            "api.localhost",
            "printer.local",
            "metadata.google.internal",
            "internal",
            "router.home.arpa",
        ] {
            assert_eq!(
                check_url(&parts("https", Some(Host::Domain(name))), false),
                Err(UrlError::PrivateAddress),
                "{name}"
            );
        }
        // Just outside each range, and the public forms of the tunnelled ones.
        for public in [
            "100.128.0.1",
            "198.20.0.1",
            "192.0.1.1",
            "223.255.255.254",
            "1.0.0.1",
            "64:ff9b::cb00:7109",
            "2002:cb00:7109::1",
            "2001:1::1",
            "2606:4700::1111",
        ] {
            assert_eq!(
                check_url(&parts("https", ip(public)), false),
                Ok(()),
                "{public}"
            );
        }
        for public in ["internal.example.com", "local.example", "notlocalhost"] {
            assert_eq!(
                check_url(&parts("https", Some(Host::Domain(public))), false),
                Ok(()),
                "{public}"
            );
        }
    }

    #[test]
    fn local_development_allows_http_and_local_receivers() {
        assert_eq!(check_url(&parts("http", ip("127.0.0.1")), true), Ok(()));
        assert_eq!(
            check_url(&parts("https", Some(Host::Domain("localhost"))), true),
            Ok(())
        );
    }

    #[test]
    fn credentials_fragments_missing_hosts_and_long_urls_are_refused() {
        let host = Some(Host::Domain("hooks.example.com"));
        let mut url = parts("https", host);
        url.has_credentials = true;
        assert_eq!(check_url(&url, true), Err(UrlError::Credentials));
        let mut url = parts("https", host);
        url.has_fragment = true;
        assert_eq!(check_url(&url, true), Err(UrlError::Fragment));
        assert_eq!(
            check_url(&parts("https", None), true),
            Err(UrlError::NoHost)
        );
        let mut url = parts("https", host);
        url.len = MAX_URL_LEN;
        assert_eq!(check_url(&url, false), Ok(()));
        url.len = MAX_URL_LEN + 1;
        assert_eq!(check_url(&url, false), Err(UrlError::TooLong));
    }
}
