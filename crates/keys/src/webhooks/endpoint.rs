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

/// Why a URL is refused. The message never quotes the URL, which may hold a token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UrlError {
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
            UrlError::TooLong => "url: at most 2048 characters",
            UrlError::NotHttps => "url: must be https (http only where WEBHOOK_ALLOW_HTTP is true)",
            UrlError::Credentials => "url: must not contain a user name or password",
            UrlError::NoHost => "url: must have a host",
            UrlError::Fragment => "url: must not have a #fragment",
            UrlError::PrivateAddress => {
                "url: must not point at localhost or a private, loopback or link-local address"
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

/// Names and addresses that lead to the machine itself or a private network.
fn is_local(host: Host<'_>) -> bool {
    match host {
        Host::Domain(name) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            name == "localhost" || name.ends_with(".localhost") || name.ends_with(".local")
        }
        Host::Ip(IpAddr::V4(ip)) => {
            ip.is_private()
                || ip.is_loopback()
                || ip.is_link_local()
                || ip.is_unspecified()
                || ip.is_broadcast()
                || ip.octets()[0] == 100 && ip.octets()[1] & 0xC0 == 64 // 100.64.0.0/10, shared
        }
        Host::Ip(IpAddr::V6(ip)) => {
            if let Some(v4) = ip.to_ipv4_mapped() {
                return is_local(Host::Ip(IpAddr::V4(v4)));
            }
            let first = ip.segments()[0];
            ip.is_loopback()
                || ip.is_unspecified()
                || first & 0xFE00 == 0xFC00 // unique local, fc00::/7
                || first & 0xFFC0 == 0xFE80 // link-local, fe80::/10
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
        ] {
            assert_eq!(
                check_url(&parts("https", ip(local)), false),
                Err(UrlError::PrivateAddress),
                "{local}"
            );
        }
        for name in ["localhost", "LOCALHOST.", "api.localhost", "printer.local"] {
            assert_eq!(
                check_url(&parts("https", Some(Host::Domain(name))), false),
                Err(UrlError::PrivateAddress),
                "{name}"
            );
        }
        assert_eq!(
            check_url(&parts("https", ip("100.128.0.1")), false),
            Ok(()),
            "just past 100.64.0.0/10"
        );
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
