//! Website origins a publishable key may be used from (`allowed_origins`): exact origins,
//! one-level wildcards, and `null` (sandboxed pages, `file:`).

use alloc::string::String;

/// `https://shop.example`, `https://*.shop.example` or `null`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OriginPattern {
    Null,
    /// Scheme, host and port, all lower-case, without a default port.
    Exact(String),
    /// `scheme://*.` and the rest: any one label in front of `rest`.
    AnySubdomain {
        scheme: String,
        rest: String,
    },
}

impl OriginPattern {
    /// Longest entry accepted.
    pub const MAX_LEN: usize = 300;

    /// Parses one entry, by the grammar [`PATTERN`] states for `/openapi.json`: `null`, or
    /// `scheme://host[:port]`, where the host is DNS labels (letters, digits, `-`, `_`; 1
    /// to 63 each), a bracketed IPv6 literal, or `*.` and at least two labels. Paths,
    /// queries, user info, other characters and a wildcard anywhere else are refused.
    pub fn parse(text: &str) -> Option<OriginPattern> {
        if text == "null" {
            return Some(OriginPattern::Null);
        }
        if text.len() > Self::MAX_LEN {
            return None;
        }
        let (scheme, authority) = text.split_once("://")?;
        let scheme_ok = scheme
            .as_bytes()
            .first()
            .is_some_and(u8::is_ascii_alphabetic)
            && scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b));
        if !scheme_ok {
            return None;
        }
        let (host, port) = split_port(authority)?;
        let (wildcard, name) = match host.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, host),
        };
        let labels_ok = |name: &str| {
            name.split('.').all(|label| {
                (1..=63).contains(&label.len())
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            })
        };
        let host_ok = if wildcard {
            name.contains('.') && labels_ok(name)
        } else {
            is_ipv6_literal(name) || labels_ok(name)
        };
        if !host_ok {
            return None;
        }
        let scheme = scheme.to_ascii_lowercase();
        let name = name.to_ascii_lowercase();
        let default = match scheme.as_str() {
            "https" => Some(443),
            "http" => Some(80),
            _ => None,
        };
        let rest = match port {
            Some(port) if Some(port) != default => alloc::format!("{name}:{port}"),
            _ => name,
        };
        Some(if wildcard {
            OriginPattern::AnySubdomain { scheme, rest }
        } else {
            OriginPattern::Exact(alloc::format!("{scheme}://{rest}"))
        })
    }

    /// Whether a request's origin (`Origin`, or the origin of `Referer`) is this one.
    pub fn matches(&self, origin: &str) -> bool {
        match self {
            OriginPattern::Null => origin == "null",
            OriginPattern::Exact(exact) => canonical(origin).is_some_and(|o| o == *exact),
            OriginPattern::AnySubdomain { scheme, rest } => canonical(origin).is_some_and(|o| {
                o.strip_prefix(scheme.as_str())
                    .and_then(|o| o.strip_prefix("://"))
                    .and_then(|host| host.strip_suffix(rest.as_str()))
                    .and_then(|label| label.strip_suffix('.'))
                    .is_some_and(|label| {
                        !label.is_empty()
                            && label
                                .bytes()
                                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    })
            }),
        }
    }

    /// Whether every origin this pattern matches, `other` also matches.
    pub fn within(&self, other: &OriginPattern) -> bool {
        match (self, other) {
            (a, b) if a == b => true,
            (OriginPattern::Exact(origin), pattern @ OriginPattern::AnySubdomain { .. }) => {
                pattern.matches(origin)
            }
            _ => false,
        }
    }
}

/// `scheme://host[:port]` in lower case, without the scheme's default port; `None` when
/// `origin` is not an origin.
fn canonical(origin: &str) -> Option<String> {
    let (scheme, host) = origin.split_once("://")?;
    if host.is_empty() || host.contains(['/', '?', '#', '@', '*']) {
        return None;
    }
    let scheme = scheme.to_ascii_lowercase();
    let host = normalize_host(&scheme, &host.to_ascii_lowercase())?;
    Some(alloc::format!("{scheme}://{host}"))
}

fn normalize_host(scheme: &str, host: &str) -> Option<String> {
    let (name, port) = split_port(host)?;
    let default = match scheme {
        "https" => Some(443),
        "http" => Some(80),
        _ => None,
    };
    Some(match port {
        Some(port) if Some(port) != default => alloc::format!("{name}:{port}"),
        _ => name.into(),
    })
}

/// `host[:port]` split; a bracketed IPv6 literal keeps its colons (`[::1]` has no port).
/// `None` for a port that is empty, not digits or above 65535.
fn split_port(authority: &str) -> Option<(&str, Option<u16>)> {
    let colon = if authority.starts_with('[') {
        let close = authority.find(']')?;
        match &authority[close + 1..] {
            "" => None,
            after if after.starts_with(':') => Some(close + 1),
            _ => return None,
        }
    } else {
        authority.rfind(':')
    };
    match colon {
        None => Some((authority, None)),
        Some(at) => {
            let port = &authority[at + 1..];
            if port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            Some((&authority[..at], Some(port.parse::<u16>().ok()?)))
        }
    }
}

/// `[…]` holding only hex digits, `:` and `.` (what a browser writes for an IPv6 origin).
fn is_ipv6_literal(host: &str) -> bool {
    host.strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .is_some_and(|inner| {
            !inner.is_empty()
                && inner
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        })
}

/// The grammar of an `allowed_origins` entry, as `/openapi.json` states it; a test checks
/// that it accepts exactly what [`OriginPattern::parse`] does.
pub const PATTERN: &str = concat!(
    r"^(?:null|[A-Za-z][A-Za-z0-9+.\-]*://",
    r"(?:\*\.[A-Za-z0-9_\-]{1,63}(?:\.[A-Za-z0-9_\-]{1,63})+",
    r"|[A-Za-z0-9_\-]{1,63}(?:\.[A-Za-z0-9_\-]{1,63})*",
    r"|\[[0-9A-Fa-f:.]+\])",
    r"(?::(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|0[0-9]{4}|[0-9]{1,4}))?)$"
);

/// The origin of a `Referer` URL (`https://shop.example/cart?x` → `https://shop.example`).
pub fn referer_origin(referer: &str) -> Option<&str> {
    let (_, rest) = referer.split_once("://")?;
    let end = rest
        .find(['/', '?', '#'])
        .map_or(referer.len(), |i| referer.len() - rest.len() + i);
    Some(&referer[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_origins_match_case_insensitively_and_without_default_ports() {
        let shop = OriginPattern::parse("https://Shop.Example").unwrap();
        assert!(shop.matches("https://shop.example"));
        assert!(shop.matches("https://shop.example:443"));
        assert!(!shop.matches("http://shop.example"));
        assert!(!shop.matches("https://shop.example:8443"));
        assert!(!shop.matches("https://shop.example.evil"));
        assert!(!shop.matches("https://evilshop.example"));
        assert!(!shop.matches("null"));
        let local = OriginPattern::parse("http://127.0.0.1:8080").unwrap();
        assert!(local.matches("http://127.0.0.1:8080") && !local.matches("http://127.0.0.1"));
    }

    #[test]
    fn a_wildcard_covers_exactly_one_label() {
        let any = OriginPattern::parse("https://*.shop.example").unwrap();
        assert!(any.matches("https://eu.shop.example"));
        assert!(any.matches("https://EU-1.shop.example"));
        assert!(
            !any.matches("https://shop.example"),
            "the bare domain is not a subdomain"
        );
        assert!(!any.matches("https://a.b.shop.example"), "one level only");
        assert!(!any.matches("https://evil-shop.example"));
        assert!(!any.matches("https://eu.shop.example.evil"));
        assert!(!any.matches("http://eu.shop.example"));
        assert!(!any.matches("https://.shop.example"));
    }

    #[test]
    fn malformed_patterns_are_refused() {
        for bad in [
            "",
            "shop.example",
            "https://",
            "https://shop.example/",
            "https://shop.example/path",
            "https://*.example",
            "https://a.*.example",
            "https://*",
            "*://shop.example",
            "https://user@shop.example",
            "https://shop.example:99999",
            "https://shop.example:",
            "https://sh op.example",
            "1http://x.y",
            "https://*.*.shop.example",
            "https://exämple.com",
        ] {
            assert_eq!(OriginPattern::parse(bad), None, "{bad}");
        }
        assert_eq!(OriginPattern::parse("null"), Some(OriginPattern::Null));
        assert!(OriginPattern::Null.matches("null"));
    }

    #[test]
    fn referers_give_their_origin() {
        assert_eq!(
            referer_origin("https://shop.example/cart?x=1"),
            Some("https://shop.example")
        );
        assert_eq!(
            referer_origin("https://shop.example:8443"),
            Some("https://shop.example:8443")
        );
        assert_eq!(
            referer_origin("https://shop.example?q"),
            Some("https://shop.example")
        );
        assert_eq!(referer_origin("not a url"), None);
    }

    #[test]
    fn ipv6_origins_can_be_listed_with_or_without_a_port() {
        // Noticed last round: `http://[::1]` could not be listed.
        let local = OriginPattern::parse("http://[::1]").unwrap();
        assert!(local.matches("http://[::1]") && local.matches("http://[::1]:80"));
        let ported = OriginPattern::parse("http://[::1]:8080").unwrap();
        assert!(ported.matches("http://[::1]:8080") && !ported.matches("http://[::1]"));
        for bad in [
            "http://[::1",
            "http://[::1]x",
            "http://[]",
            "http://[::g]",
            "http://[::1]:",
        ] {
            assert_eq!(OriginPattern::parse(bad), None, "{bad}");
        }
    }

    /// Candidate entries built from the grammar's pieces and the characters around them.
    fn candidate() -> impl proptest::strategy::Strategy<Value = std::string::String> {
        use proptest::prelude::*;
        use std::string::ToString;
        let scheme = prop_oneof![
            Just("https"),
            Just("http"),
            Just("Ht+T.p-"),
            Just("1x"),
            Just(""),
            Just("h p")
        ];
        let label = "[a-zA-Z0-9_*ä -]{0,5}";
        let host = prop_oneof![
            proptest::collection::vec(label, 1..4).prop_map(|labels| labels.join(".")),
            "\\[[0-9a-fA-F:.g]{0,6}\\]?",
            Just("*".to_string()),
        ];
        let port = prop_oneof![
            Just(std::string::String::new()),
            "[0-9]{0,6}".prop_map(|p| std::format!(":{p}")),
            Just(":65536".to_string()),
            Just(":65535".to_string()),
        ];
        let tail = prop_oneof![Just(""), Just("/"), Just("?q"), Just("@x")];
        (scheme, host, port, tail)
            .prop_map(|(scheme, host, port, tail)| std::format!("{scheme}://{host}{port}{tail}"))
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4096))]
        /// The pattern `/openapi.json` states accepts exactly what the API does, so that
        /// every schema-valid entry is accepted (schemathesis' positive data check).
        #[test]
        fn the_stated_pattern_accepts_exactly_what_parse_does(text in candidate()) {
            static COMPILED: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
            let pattern = COMPILED.get_or_init(|| regex::Regex::new(PATTERN).unwrap());
            proptest::prop_assert_eq!(
                pattern.is_match(&text),
                OriginPattern::parse(&text).is_some(),
                "{}", text
            );
        }
    }

    #[test]
    fn the_openapi_document_states_this_pattern() {
        let document: serde_json::Value =
            serde_json::from_str(include_str!("../../../../www/openapi.json")).unwrap();
        for schema in ["CreateKey", "UpdateKey"] {
            let items = &document["components"]["schemas"][schema]["properties"]["allowed_origins"];
            let items = items
                .get("items")
                .or_else(|| items["anyOf"][0].get("items"));
            let items = items.expect("allowed_origins items");
            assert_eq!(items["pattern"], PATTERN, "{schema}");
            assert_eq!(items["maxLength"], OriginPattern::MAX_LEN, "{schema}");
        }
    }

    #[test]
    fn within() {
        let any = OriginPattern::parse("https://*.shop.example").unwrap();
        let eu = OriginPattern::parse("https://eu.shop.example").unwrap();
        assert!(eu.within(&any) && any.within(&any));
        assert!(!any.within(&eu));
    }
}
