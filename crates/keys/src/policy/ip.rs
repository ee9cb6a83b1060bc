//! IPv4 and IPv6 networks in CIDR notation, for `allowed_ips`.

use core::fmt;
use core::net::IpAddr;
use core::str::FromStr;

/// A network: an address and a prefix length. A bare address is a /32 or /128.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpNet {
    address: IpAddr,
    prefix: u8,
}

impl IpNet {
    /// Parses `203.0.113.0/24`, `2001:db8::/32` or a bare address. Host bits beyond the
    /// prefix are refused (`10.0.0.1/8` is a mistake for `10.0.0.0/8` more often than not).
    pub fn parse(text: &str) -> Option<IpNet> {
        let net = Self::parse_syntax(text)?;
        if net.network_bits() != bits(net.address) {
            return None;
        }
        // An IPv4-mapped network (`::ffff:10.0.0.0/104`) is the IPv4 network it maps
        // (`10.0.0.0/8`): stored that way, every comparison below is between networks of
        // one family with prefixes that mean the same thing. (A mapped address with a
        // prefix under 96 always has host bits set, so it never gets here.)
        Some(match canonical(net.address) {
            IpAddr::V4(v4) if matches!(net.address, IpAddr::V6(_)) => IpNet {
                address: IpAddr::V4(v4),
                prefix: net.prefix - 96,
            },
            _ => net,
        })
    }

    /// An address and a prefix in range, host bits or not: what [`PATTERN`] accepts.
    fn parse_syntax(text: &str) -> Option<IpNet> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let address = IpAddr::from_str(address).ok()?;
        let max = match address {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        };
        // Digits only, without leading zeros (as /openapi.json's pattern states).
        let prefix = match prefix {
            None => max,
            Some(p)
                if !p.is_empty()
                    && p.len() <= 3
                    && p.bytes().all(|b| b.is_ascii_digit())
                    && (p == "0" || !p.starts_with('0')) =>
            {
                p.parse::<u8>().ok().filter(|p| *p <= max)?
            }
            Some(_) => return None,
        };
        Some(IpNet { address, prefix })
    }

    fn mask(&self) -> u128 {
        let width = match self.address {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        };
        let host_bits = width - u32::from(self.prefix);
        if host_bits >= 128 {
            0
        } else {
            (u128::MAX << host_bits) & width_mask(width)
        }
    }

    fn network_bits(&self) -> u128 {
        bits(self.address) & self.mask()
    }

    /// Whether `address` is in this network. An IPv4 address also matches in its
    /// IPv4-mapped IPv6 form (`::ffff:203.0.113.7`), and the other way round.
    pub fn contains(&self, address: IpAddr) -> bool {
        let address = canonical(address);
        same_family(self.address, address) && bits(address) & self.mask() == self.network_bits()
    }

    /// Whether every address of `other` is in this network.
    pub fn covers(&self, other: &IpNet) -> bool {
        same_family(self.address, other.address)
            && self.prefix <= other.prefix
            && self.contains(other.address)
    }
}

/// The syntax of an `allowed_ips` entry, as `/openapi.json` states it: an IPv4 address
/// (no leading zeros) or an IPv6 address (RFC 4291's forms, an IPv4 tail included), each
/// with an optional prefix length in range. A test checks that it accepts exactly what
/// [`IpNet::parse`] does, but for host bits, which no pattern can see.
const PATTERN: &str = concat!(
    "^(?:",
    // IPv4, /0 to /32
    r"(?:(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])",
    r"(?:/(?:3[0-2]|[12][0-9]|[0-9]))?",
    "|",
    // IPv6 (RFC 3986's IPv6address), /0 to /128
    "(?:",
    r"(?:[0-9A-Fa-f]{1,4}:){6}LS32",
    r"|::(?:[0-9A-Fa-f]{1,4}:){5}LS32",
    r"|(?:[0-9A-Fa-f]{1,4})?::(?:[0-9A-Fa-f]{1,4}:){4}LS32",
    r"|(?:(?:[0-9A-Fa-f]{1,4}:){0,1}[0-9A-Fa-f]{1,4})?::(?:[0-9A-Fa-f]{1,4}:){3}LS32",
    r"|(?:(?:[0-9A-Fa-f]{1,4}:){0,2}[0-9A-Fa-f]{1,4})?::(?:[0-9A-Fa-f]{1,4}:){2}LS32",
    r"|(?:(?:[0-9A-Fa-f]{1,4}:){0,3}[0-9A-Fa-f]{1,4})?::[0-9A-Fa-f]{1,4}:LS32",
    r"|(?:(?:[0-9A-Fa-f]{1,4}:){0,4}[0-9A-Fa-f]{1,4})?::LS32",
    r"|(?:(?:[0-9A-Fa-f]{1,4}:){0,5}[0-9A-Fa-f]{1,4})?::[0-9A-Fa-f]{1,4}",
    r"|(?:(?:[0-9A-Fa-f]{1,4}:){0,6}[0-9A-Fa-f]{1,4})?::",
    ")",
    r"(?:/(?:12[0-8]|1[01][0-9]|[1-9][0-9]|[0-9]))?",
    ")$"
);

/// What `LS32` stands for in [`PATTERN`]: the last 32 bits of an IPv6 address, as two
/// groups or as an IPv4 address.
const PATTERN_LS32: &str = r"(?:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}|(?:(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9]))";

/// [`PATTERN`] with `LS32` written out: the regular expression itself.
pub fn pattern() -> alloc::string::String {
    PATTERN.replace("LS32", PATTERN_LS32)
}

/// The bucket a client address counts in for per-address limits: an IPv4 address itself,
/// an IPv6 address's /64 (one host usually holds a whole /64, and every address in it),
/// and anything unparseable as its own text, cut to 64 bytes. Equal addresses written
/// differently land in the same bucket.
pub fn limit_bucket(address: &str) -> alloc::string::String {
    use alloc::string::ToString;
    match IpAddr::from_str(address.trim()) {
        Ok(ip) => match canonical(ip) {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(v6) => {
                let s = v6.segments();
                alloc::format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        Err(_) => {
            let end = address
                .char_indices()
                .nth(64)
                .map_or(address.len(), |(i, _)| i);
            address[..end].to_string()
        }
    }
}

/// IPv4-mapped IPv6 addresses as the IPv4 addresses they are.
fn same_family(a: IpAddr, b: IpAddr) -> bool {
    matches!(
        (a, b),
        (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_))
    )
}

fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        v4 => v4,
    }
}

fn bits(address: IpAddr) -> u128 {
    match address {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

fn width_mask(width: u32) -> u128 {
    if width >= 128 {
        u128::MAX
    } else {
        (1u128 << width) - 1
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    fn ip(text: &str) -> IpAddr {
        IpAddr::from_str(text).unwrap()
    }

    /// Candidates built from the pieces of addresses, prefixes and the junk around them.
    fn candidate() -> impl proptest::strategy::Strategy<Value = alloc::string::String> {
        use proptest::prelude::*;
        let v4 = prop_oneof![
            "(25[0-6]|2[0-4][0-9]|1[0-9]{2}|0?[0-9]{1,2}|300)(\\.(25[0-6]|2[0-4][0-9]|1[0-9]{2}|0?[0-9]{1,2})){2,4}",
            "[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}",
        ];
        let group = "[0-9a-fA-FgG]{0,5}";
        let v6 = (
            proptest::collection::vec(group, 0..9),
            proptest::option::of(0usize..9),
            proptest::option::of(v4.clone()),
        )
            .prop_map(|(groups, gap, tail)| {
                let mut parts: alloc::vec::Vec<alloc::string::String> = groups;
                if let Some(at) = gap {
                    let at = at.min(parts.len());
                    parts.insert(at, alloc::string::String::new());
                }
                let mut text = parts.join(":");
                if let Some(tail) = tail {
                    text.push(':');
                    text.push_str(&tail);
                }
                text
            });
        let prefix = prop_oneof![
            Just(alloc::string::String::new()),
            "/[0-9]{0,4}",
            Just("/+8".into()),
            Just("/ 8".into()),
        ];
        (prop_oneof![v4, v6], prefix)
            .prop_map(|(address, prefix)| alloc::format!("{address}{prefix}"))
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(8192))]
        /// The pattern `/openapi.json` states accepts exactly the addresses and prefixes the
        /// API reads (host bits aside, which no pattern can see).
        #[test]
        fn the_stated_pattern_accepts_exactly_what_parse_reads(text in candidate()) {
            static COMPILED: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
            let pattern = COMPILED.get_or_init(|| regex::Regex::new(&pattern()).unwrap());
            proptest::prop_assert_eq!(pattern.is_match(&text), IpNet::parse_syntax(&text).is_some(), "{}", text);
        }
    }

    #[test]
    fn the_pattern_knows_the_forms_that_matter() {
        let pattern = regex::Regex::new(&pattern()).unwrap();
        for good in [
            "203.0.113.0/24",
            "0.0.0.0/0",
            "2001:db8::/32",
            "::",
            "::1",
            "::ffff:10.0.0.0/104",
            "1:2:3:4:5:6:7:8",
            "1::8",
            "1:2:3:4:5:6:1.2.3.4",
            "fe80::1:2",
            "::1.2.3.4",
        ] {
            assert!(
                pattern.is_match(good) && IpNet::parse_syntax(good).is_some(),
                "{good}"
            );
        }
        for bad in [
            "01.2.3.4",
            "1.2.3.4/08",
            "1:2:3:4:5:6:7:8:9",
            "1:::2",
            "::g",
            "1.2.3.4/33",
            "::/129",
        ] {
            assert!(
                !pattern.is_match(bad) && IpNet::parse_syntax(bad).is_none(),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_openapi_document_states_this_pattern() {
        let document: serde_json::Value =
            serde_json::from_str(include_str!("../../../../www/openapi.json")).unwrap();
        for schema in ["CreateKey", "UpdateKey"] {
            let field = &document["components"]["schemas"][schema]["properties"]["allowed_ips"];
            let items = field
                .get("items")
                .or_else(|| field["anyOf"][0].get("items"));
            assert_eq!(
                items.expect("allowed_ips items")["pattern"],
                pattern().as_str(),
                "{schema}"
            );
        }
    }

    #[test]
    fn parses_networks_and_refuses_host_bits_and_junk() {
        assert!(IpNet::parse("203.0.113.0/24").is_some());
        assert!(IpNet::parse("203.0.113.7").is_some());
        assert!(IpNet::parse("0.0.0.0/0").is_some());
        assert!(IpNet::parse("2001:db8::/32").is_some());
        assert!(IpNet::parse("::/0").is_some());
        assert!(IpNet::parse("::1").is_some());
        for bad in [
            "203.0.113.7/24",
            "10.0.0.0/33",
            "2001:db8::/129",
            "1.2.3/8",
            "x",
            "",
            "1.2.3.4/",
            "1.2.3.4/+8",
            "1.2.3.4/ 8",
            "1.2.3.4/08x",
        ] {
            assert!(IpNet::parse(bad).is_none(), "{bad}");
        }
        assert_eq!(
            IpNet::parse("10.0.0.0/8").unwrap().to_string(),
            "10.0.0.0/8"
        );
    }

    #[test]
    fn cidr_edges() {
        let net = IpNet::parse("203.0.113.0/24").unwrap();
        assert!(net.contains(ip("203.0.113.0")));
        assert!(net.contains(ip("203.0.113.255")));
        assert!(!net.contains(ip("203.0.112.255")));
        assert!(!net.contains(ip("203.0.114.0")));
        let host = IpNet::parse("198.51.100.7/32").unwrap();
        assert!(host.contains(ip("198.51.100.7")) && !host.contains(ip("198.51.100.8")));
        assert!(IpNet::parse("0.0.0.0/0")
            .unwrap()
            .contains(ip("255.255.255.255")));
        let v6 = IpNet::parse("2001:db8::/32").unwrap();
        assert!(v6.contains(ip("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff")));
        assert!(!v6.contains(ip("2001:db9::")));
        assert!(!v6.contains(ip("203.0.113.1")), "families never mix");
        assert!(IpNet::parse("::/0").unwrap().contains(ip("2001:db8::1")));
        // IPv4-mapped IPv6 is the IPv4 address.
        assert!(net.contains(ip("::ffff:203.0.113.9")));
        let mapped = IpNet::parse("::ffff:203.0.113.0/120").unwrap();
        assert!(mapped.contains(ip("203.0.113.200")));
        assert!(!mapped.contains(ip("203.0.114.1")));
    }

    #[test]
    fn addresses_share_a_bucket_per_host_not_per_spelling() {
        assert_eq!(limit_bucket("203.0.113.7"), "203.0.113.7");
        assert_eq!(limit_bucket("::ffff:203.0.113.7"), "203.0.113.7");
        // Found by the attacker review: every address of a /64 had its own limit.
        let bucket = limit_bucket("2001:db8:1:2::1");
        for same in [
            "2001:db8:1:2::2",
            "2001:0db8:0001:0002:0:0:0:1",
            "2001:DB8:1:2:ffff::9",
            " 2001:db8:1:2::3 ",
        ] {
            assert_eq!(limit_bucket(same), bucket, "{same}");
        }
        assert_ne!(limit_bucket("2001:db8:1:3::1"), bucket);
        assert_eq!(limit_bucket("unknown"), "unknown");
        assert_eq!(limit_bucket(&"x".repeat(100)).len(), 64);
    }

    #[test]
    fn covering() {
        let wide = IpNet::parse("10.0.0.0/8").unwrap();
        assert!(wide.covers(&IpNet::parse("10.1.0.0/16").unwrap()));
        assert!(wide.covers(&wide));
        assert!(!IpNet::parse("10.1.0.0/16").unwrap().covers(&wide));
        assert!(!wide.covers(&IpNet::parse("11.0.0.0/16").unwrap()));
        assert!(!wide.covers(&IpNet::parse("2001:db8::/32").unwrap()));
        // Found by review: written IPv4-mapped, a wider IPv4 network passed as narrower
        // (its prefix counts the 96 mapping bits), so a key limited to 10.0.0.0/8 could
        // make a key for 10.0.0.0/7. A mapped network is now the IPv4 network it maps.
        let mapped_wider = IpNet::parse("::ffff:10.0.0.0/103").unwrap();
        assert_eq!(mapped_wider, IpNet::parse("10.0.0.0/7").unwrap());
        assert!(!wide.covers(&mapped_wider));
        assert!(wide.covers(&IpNet::parse("::ffff:10.1.0.0/112").unwrap()));
        assert_eq!(
            alloc::string::ToString::to_string(&IpNet::parse("::ffff:10.0.0.0/104").unwrap()),
            "10.0.0.0/8"
        );
    }

    proptest::proptest! {
        /// A /n network holds exactly the addresses that share its first n bits.
        #[test]
        fn membership_is_prefix_equality(a: u32, b: u32, prefix in 0u8..=32) {
            let mask = if prefix == 0 { 0 } else { u32::MAX << (32 - u32::from(prefix)) };
            let net = IpNet::parse(&alloc::format!("{}/{}", core::net::Ipv4Addr::from(a & mask), prefix)).unwrap();
            let inside = net.contains(IpAddr::V4(core::net::Ipv4Addr::from(b)));
            proptest::prop_assert_eq!(inside, a & mask == b & mask);
        }

        /// `covers` is sound whichever way a network is written: if `a` covers `b`, every
        /// address in `b` is in `a`, checked on `b`'s first and last address.
        #[test]
        fn covering_implies_containment(
            a: u32, pa in 0u8..=32, b: u32, pb in 0u8..=32,
            a_mapped: bool, b_mapped: bool,
        ) {
            let net = |bits: u32, prefix: u8, mapped: bool| {
                let mask = if prefix == 0 { 0 } else { u32::MAX << (32 - u32::from(prefix)) };
                let address = core::net::Ipv4Addr::from(bits & mask);
                let text = if mapped {
                    alloc::format!("::ffff:{}/{}", address, prefix + 96)
                } else {
                    alloc::format!("{}/{}", address, prefix)
                };
                (IpNet::parse(&text).unwrap(), bits & mask, !mask)
            };
            let (wide, _, _) = net(a, pa, a_mapped);
            let (narrow, first, host) = net(b, pb, b_mapped);
            if wide.covers(&narrow) {
                for address in [first, first | host] {
                    proptest::prop_assert!(wide.contains(IpAddr::V4(core::net::Ipv4Addr::from(address))));
                }
            }
        }
    }
}
