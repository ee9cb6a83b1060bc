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
    /// Parses one entry. Paths, queries, user info, `*` anywhere but as the first label, and
    /// wildcards over a bare public suffix-like single label (`https://*.example`) are
    /// refused.
    pub fn parse(text: &str) -> Option<OriginPattern> {
        if text == "null" {
            return Some(OriginPattern::Null);
        }
        let (scheme, host) = text.split_once("://")?;
        let scheme_ok = !scheme.is_empty()
            && scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
            && scheme.as_bytes()[0].is_ascii_alphabetic();
        if !scheme_ok || host.is_empty() || !host.is_ascii() {
            return None;
        }
        if host.contains(['/', '?', '#', '@', ' ', '\\']) {
            return None;
        }
        let scheme = scheme.to_ascii_lowercase();
        let host = normalize_host(&scheme, &host.to_ascii_lowercase())?;
        match host.strip_prefix("*.") {
            Some(rest) => {
                // At least two labels after the wildcard, no other wildcard.
                let (name, _) = rest.split_once(':').unwrap_or((rest, ""));
                if rest.contains('*') || !name.contains('.') || name.starts_with('.') {
                    return None;
                }
                Some(OriginPattern::AnySubdomain {
                    scheme,
                    rest: rest.into(),
                })
            }
            None if host.contains('*') => None,
            None => Some(OriginPattern::Exact(alloc::format!("{scheme}://{host}"))),
        }
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
    let (name, port) = match host.rsplit_once(':') {
        Some((name, port)) if !name.ends_with(']') || host.starts_with('[') => {
            if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) || port.len() > 5 {
                return None;
            }
            (name, Some(port.parse::<u16>().ok()?))
        }
        _ => (host, None),
    };
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
    fn within() {
        let any = OriginPattern::parse("https://*.shop.example").unwrap();
        let eu = OriginPattern::parse("https://eu.shop.example").unwrap();
        assert!(eu.within(&any) && any.within(&any));
        assert!(!any.within(&eu));
    }
}
