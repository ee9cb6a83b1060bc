//! The relying party: the dashboard, named by `DASHBOARD_ORIGIN`.

use alloc::format;
use alloc::string::{String, ToString};
use core::fmt;

use sha2::{Digest, Sha256};

/// The dashboard as a WebAuthn relying party. Its RP ID is the host of
/// `DASHBOARD_ORIGIN` (`keys.example.com`, or `localhost` in development), so passkeys
/// are bound to that host and its origin is the only one whose ceremonies count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelyingParty {
    id: String,
    name: String,
    origin: String,
    id_hash: [u8; 32],
}

/// `DASHBOARD_ORIGIN` is not an origin a passkey can be bound to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RelyingPartyError {
    /// Not `https://host[:port]` (or `http://localhost[:port]`), with at most a `/` after.
    NotAnOrigin,
    /// `http:` anywhere but on `localhost`: browsers allow WebAuthn only in secure
    /// contexts.
    InsecureScheme,
    /// An IP address is not a valid RP ID; use a domain name (or `localhost`).
    IpAddress,
}

impl fmt::Display for RelyingPartyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RelyingPartyError::NotAnOrigin => {
                "DASHBOARD_ORIGIN must be https://host or https://host:port"
            }
            RelyingPartyError::InsecureScheme => {
                "DASHBOARD_ORIGIN may use http: only for localhost"
            }
            RelyingPartyError::IpAddress => {
                "DASHBOARD_ORIGIN must name a domain, not an IP address (WebAuthn RP IDs are domains)"
            }
        })
    }
}

impl core::error::Error for RelyingPartyError {}

impl RelyingParty {
    /// From `DASHBOARD_ORIGIN` (e.g. `https://keys.example.com`,
    /// `http://localhost:8787`) and the name shown by authenticators (e.g. `Aero2 Keys`).
    /// The origin is normalised as browsers serialise it: lower case, default port
    /// dropped, no trailing slash.
    pub fn from_origin(origin: &str, name: &str) -> Result<Self, RelyingPartyError> {
        let (scheme, rest) = origin
            .split_once("://")
            .ok_or(RelyingPartyError::NotAnOrigin)?;
        let scheme = scheme.to_ascii_lowercase();
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.is_empty() || authority.contains(['/', '?', '#', '@', '\\']) {
            return Err(RelyingPartyError::NotAnOrigin);
        }
        if authority.starts_with('[') {
            return Err(RelyingPartyError::IpAddress);
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => {
                let valid = !port.is_empty()
                    && port.len() <= 5
                    && port.bytes().all(|b| b.is_ascii_digit())
                    && port.parse::<u16>().is_ok_and(|p| p != 0);
                if !valid {
                    return Err(RelyingPartyError::NotAnOrigin);
                }
                (host, Some(port))
            }
            None => (authority, None),
        };
        let host = host.to_ascii_lowercase();
        if !is_domain(&host) {
            return Err(RelyingPartyError::NotAnOrigin);
        }
        if host.split('.').next_back().is_some_and(|label| {
            label.bytes().all(|b| b.is_ascii_digit())
                || label
                    .strip_prefix("0x")
                    .is_some_and(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit()))
        }) {
            // An all-numeric last label reads as an IPv4 address (URL parsers accept
            // `127.1` and `0x7f.1` too).
            return Err(RelyingPartyError::IpAddress);
        }
        let default_port = match scheme.as_str() {
            "https" => "443",
            "http" if host == "localhost" || host.ends_with(".localhost") => "80",
            "http" => return Err(RelyingPartyError::InsecureScheme),
            _ => return Err(RelyingPartyError::NotAnOrigin),
        };
        let port = port
            .map(|p| p.trim_start_matches('0'))
            .filter(|p| *p != default_port);
        let origin = match port {
            Some(port) => format!("{scheme}://{host}:{port}"),
            None => format!("{scheme}://{host}"),
        };
        Ok(RelyingParty {
            id_hash: Sha256::digest(host.as_bytes()).into(),
            id: host,
            name: name.to_string(),
            origin,
        })
    }

    /// The RP ID: the origin's host.
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The origin every `clientDataJSON.origin` must equal.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// SHA-256 of the RP ID: the first 32 bytes of all authenticator data.
    pub fn id_hash(&self) -> &[u8; 32] {
        &self.id_hash
    }
}

/// LDH labels of 1 to 63 characters, at most 253 in all, no empty label.
fn is_domain(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_the_host_as_rp_id_and_normalises_the_origin() {
        let rp = RelyingParty::from_origin("https://keys.example.com", "Aero2 Keys").unwrap();
        assert_eq!(rp.id(), "keys.example.com");
        assert_eq!(rp.origin(), "https://keys.example.com");
        assert_eq!(rp.name(), "Aero2 Keys");
        let expected: [u8; 32] = Sha256::digest(b"keys.example.com").into();
        assert_eq!(rp.id_hash(), &expected);
        for (input, origin, id) in [
            (
                "http://localhost:8787",
                "http://localhost:8787",
                "localhost",
            ),
            (
                "http://localhost:8787/",
                "http://localhost:8787",
                "localhost",
            ),
            (
                "HTTPS://Keys.Example.COM:443/",
                "https://keys.example.com",
                "keys.example.com",
            ),
            (
                "https://keys.example.com:8443",
                "https://keys.example.com:8443",
                "keys.example.com",
            ),
            ("http://localhost:80", "http://localhost", "localhost"),
            (
                "http://app.localhost:3000",
                "http://app.localhost:3000",
                "app.localhost",
            ),
            ("https://x", "https://x", "x"),
            ("https://0xz.example", "https://0xz.example", "0xz.example"),
        ] {
            let rp = RelyingParty::from_origin(input, "x").unwrap();
            assert_eq!((rp.origin(), rp.id()), (origin, id), "{input}");
        }
    }

    #[test]
    fn refuses_what_cannot_be_an_rp() {
        use RelyingPartyError::*;
        for (input, error) in [
            ("keys.example.com", NotAnOrigin),
            ("https://", NotAnOrigin),
            ("https://keys.example.com/dashboard", NotAnOrigin),
            ("https://keys.example.com?x", NotAnOrigin),
            ("https://user@keys.example.com", NotAnOrigin),
            ("https://keys.example.com:", NotAnOrigin),
            ("https://keys.example.com:0", NotAnOrigin),
            ("https://keys.example.com:65536", NotAnOrigin),
            ("https://keys..example.com", NotAnOrigin),
            ("https://-keys.example.com", NotAnOrigin),
            ("https://kéys.example.com", NotAnOrigin),
            ("ftp://keys.example.com", NotAnOrigin),
            ("http://keys.example.com", InsecureScheme),
            ("http://127.0.0.1:8787", IpAddress),
            ("https://127.0.0.1", IpAddress),
            ("https://0x7f.1", IpAddress),
            ("https://[::1]:8787", IpAddress),
        ] {
            assert_eq!(RelyingParty::from_origin(input, "x"), Err(error), "{input}");
        }
    }
}
