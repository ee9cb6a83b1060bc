//! Route patterns (the language of `FRONTEND_ROUTES` and of a secret key's `routes`): a
//! path matches exactly, or a path ending in `/*` matches everything below it and the path
//! itself. Matching is by whole segments and case-sensitive, on the gate's normalised path.

use alloc::string::String;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

/// The syntax of a route pattern, as `/openapi.json` states it: `/`, or segments of
/// printable ASCII without `#`, `%`, `*`, `;`, `?` or `\`, optionally ending in `/` or `/*`.
/// A test checks that it accepts exactly what [`RoutePattern::parse`] does (with the
/// schema's `maxLength` of 256).
pub const PATTERN: &str =
    r#"^(?:(?:/[!"$&-)+-.0-:<->@-\[\]-~]+)+/?|/|(?:/[!"$&-)+-.0-:<->@-\[\]-~]+)*/\*)$"#;

/// `/v1/orders` or `/v1/orders/*`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoutePattern {
    pattern: String,
}

impl RoutePattern {
    /// A pattern is an absolute path, at most 256 characters, with `*` only as its last
    /// segment, and nothing the gate would refuse in a path (`;`, `\`, `//`, `%`).
    pub fn parse(text: &str) -> Option<RoutePattern> {
        let body = text.strip_suffix("/*").unwrap_or(text);
        let valid = text.starts_with('/')
            && text.len() <= 256
            && !body.contains(['*', ';', '\\', '%', '?', '#'])
            && !text.contains("//")
            && text.bytes().all(|b| b.is_ascii_graphic());
        valid.then(|| RoutePattern {
            pattern: text.into(),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    /// `path` must be the gate's normalised path.
    pub fn matches(&self, path: &str) -> bool {
        match self.pattern.strip_suffix("/*") {
            Some(base) => {
                path == base
                    || base.is_empty()
                    || path
                        .strip_prefix(base)
                        .is_some_and(|rest| rest.starts_with('/'))
            }
            None => path == self.pattern,
        }
    }

    /// Whether every path this pattern matches, `other` matches too.
    pub fn within(&self, other: &RoutePattern) -> bool {
        match self.pattern.strip_suffix("/*") {
            None => other.matches(&self.pattern),
            Some(base) => other.pattern.strip_suffix("/*").is_some_and(|other_base| {
                other_base.is_empty()
                    || base == other_base
                    || base
                        .strip_prefix(other_base)
                        .is_some_and(|rest| rest.starts_with('/'))
            }),
        }
    }
}

impl Serialize for RoutePattern {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.pattern)
    }
}

impl<'de> Deserialize<'de> for RoutePattern {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <alloc::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        RoutePattern::parse(&text).ok_or_else(|| {
            serde::de::Error::custom("a route path is /… with * only as its last segment")
        })
    }
}

/// The methods the gate forwards, as a set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MethodSet(u8);

impl MethodSet {
    pub const NAMES: [&'static str; 7] =
        ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
    pub const ALL: MethodSet = MethodSet(0x7f);

    pub fn of(name: &str) -> Option<MethodSet> {
        Self::NAMES
            .iter()
            .position(|known| *known == name)
            .map(|i| MethodSet(1 << i))
    }

    pub fn contains(self, name: &str) -> bool {
        Self::of(name).is_some_and(|m| self.0 & m.0 != 0)
    }

    pub fn with(self, other: MethodSet) -> MethodSet {
        MethodSet(self.0 | other.0)
    }

    pub fn is_subset(self, other: MethodSet) -> bool {
        self.0 & !other.0 == 0
    }

    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }

    /// The set as a number (one bit per method), for compact records.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// The set a number names, or `None` when it names a method that does not exist.
    pub const fn from_bits(bits: u8) -> Option<MethodSet> {
        if bits & !MethodSet::ALL.0 == 0 {
            Some(MethodSet(bits))
        } else {
            None
        }
    }

    fn names(self) -> impl Iterator<Item = &'static str> {
        Self::NAMES
            .iter()
            .enumerate()
            .filter(move |(i, _)| self.0 & (1 << i) != 0)
            .map(|(_, name)| *name)
    }
}

impl Serialize for MethodSet {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.names())
    }
}

impl<'de> Deserialize<'de> for MethodSet {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let names = Vec::<alloc::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        let mut set = MethodSet::default();
        for name in names {
            let method = MethodSet::of(&name).ok_or_else(|| {
                serde::de::Error::custom(
                    "methods are GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS",
                )
            })?;
            set.0 |= method.0;
        }
        Ok(set)
    }
}

/// The routes on which a publishable key is accepted (`FRONTEND_ROUTES`): a
/// comma-separated list of route patterns. Entries that are not a valid pattern are left
/// out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrontendRoutes {
    patterns: Vec<RoutePattern>,
}

impl FrontendRoutes {
    pub const DEFAULT: &'static str = "/v1/client/*";

    pub fn parse(config: &str) -> Self {
        FrontendRoutes {
            patterns: config
                .split(',')
                .filter_map(|pattern| RoutePattern::parse(pattern.trim()))
                .collect(),
        }
    }

    /// `path` must be the gate's normalised path.
    pub fn matches(&self, path: &str) -> bool {
        self.patterns.iter().any(|pattern| pattern.matches(path))
    }

    /// What a publishable key reaches: every method on each of these routes.
    pub fn as_rules(&self) -> impl Iterator<Item = RouteRule> + '_ {
        self.patterns.iter().map(|path| RouteRule {
            methods: MethodSet::ALL,
            path: path.clone(),
        })
    }
}

impl Default for FrontendRoutes {
    fn default() -> Self {
        Self::parse(Self::DEFAULT)
    }
}

/// One gated request a secret key may make: its methods (all when absent or empty) on the
/// paths a pattern matches.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteRule {
    #[serde(default, skip_serializing_if = "MethodSet::is_empty")]
    pub methods: MethodSet,
    pub path: RoutePattern,
}

impl RouteRule {
    fn methods(&self) -> MethodSet {
        if self.methods.is_empty() {
            MethodSet::ALL
        } else {
            self.methods
        }
    }

    pub fn allows(&self, method: &str, path: &str) -> bool {
        self.methods().contains(method) && self.path.matches(path)
    }

    /// Whether everything this rule allows, `other` allows.
    pub fn within(&self, other: &RouteRule) -> bool {
        self.methods().is_subset(other.methods()) && self.path.within(&other.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(text: &str) -> RoutePattern {
        RoutePattern::parse(text).unwrap()
    }

    #[test]
    fn star_routes_match_by_whole_segments() {
        let orders = route("/v1/orders/*");
        assert!(orders.matches("/v1/orders"));
        assert!(orders.matches("/v1/orders/"));
        assert!(orders.matches("/v1/orders/42/items"));
        assert!(!orders.matches("/v1/ordersx"));
        assert!(
            !orders.matches("/v1/Orders/42"),
            "case-sensitive: fails closed"
        );
        assert!(!orders.matches("/v1"));
        let exact = route("/health");
        assert!(
            exact.matches("/health") && !exact.matches("/health/x") && !exact.matches("/health/")
        );
        assert!(route("/*").matches("/anything/at/all"));
    }

    #[test]
    fn patterns_the_gate_could_never_match_are_refused() {
        for bad in [
            "", "v1/x", "/v1/*/x", "/v1/x*", "/v1/x;y", "/v1//x", "/v1/%2F", "/a b", "/x?y", "/\\x",
        ] {
            assert!(RoutePattern::parse(bad).is_none(), "{bad}");
        }
        assert!(RoutePattern::parse(&alloc::format!("/{}", "a".repeat(300))).is_none());
    }

    #[test]
    fn rules_combine_methods_and_paths() {
        let rule: RouteRule =
            serde_json::from_str(r#"{"methods":["GET","HEAD"],"path":"/v1/orders/*"}"#).unwrap();
        assert!(rule.allows("GET", "/v1/orders/1"));
        assert!(!rule.allows("POST", "/v1/orders/1"));
        assert!(!rule.allows("GET", "/v1/users"));
        let any: RouteRule = serde_json::from_str(r#"{"path":"/v1/orders/*"}"#).unwrap();
        assert!(any.allows("DELETE", "/v1/orders"));
        assert!(serde_json::from_str::<RouteRule>(r#"{"methods":["TRACE"],"path":"/x"}"#).is_err());
        assert!(serde_json::from_str::<RouteRule>(r#"{"path":"/x","extra":1}"#).is_err());
        assert_eq!(
            serde_json::to_string(&rule).unwrap(),
            r#"{"methods":["GET","HEAD"],"path":"/v1/orders/*"}"#
        );
    }

    #[test]
    fn the_openapi_document_states_this_pattern() {
        let document: serde_json::Value =
            serde_json::from_str(include_str!("../../../../www/openapi.json")).unwrap();
        let path = &document["components"]["schemas"]["RouteRule"]["properties"]["path"];
        assert_eq!(path["pattern"], PATTERN);
        assert_eq!(path["maxLength"], 256);
    }

    #[test]
    fn within_means_allows_no_more() {
        let all = route("/*");
        let orders = route("/v1/orders/*");
        let order = route("/v1/orders/42");
        assert!(orders.within(&all) && order.within(&orders) && order.within(&all));
        assert!(!all.within(&orders) && !orders.within(&order));
        assert!(!route("/v1/ordersx/*").within(&orders));
        assert!(route("/v1/orders/a/*").within(&orders));
        let read: RouteRule =
            serde_json::from_str(r#"{"methods":["GET"],"path":"/v1/orders/*"}"#).unwrap();
        let write: RouteRule = serde_json::from_str(r#"{"path":"/v1/orders/*"}"#).unwrap();
        assert!(read.within(&write) && !write.within(&read));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4096))]
        /// The pattern `/openapi.json` states accepts exactly what the API does.
        #[test]
        fn the_stated_pattern_accepts_exactly_what_parse_does(text in "[/*a;%?#\\\\ é\"!~\\[\\]]{0,8}") {
            static COMPILED: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
            let pattern = COMPILED.get_or_init(|| regex::Regex::new(PATTERN).unwrap());
            proptest::prop_assert_eq!(pattern.is_match(&text), RoutePattern::parse(&text).is_some(), "{}", text);
        }

        /// If a pattern is within another, every path it matches the other matches.
        #[test]
        fn within_is_sound(a in "(/[ab]{1,2}){0,3}(/\\*)?", b in "(/[ab]{1,2}){0,3}(/\\*)?", path in "(/[ab]{1,2}){0,4}/?") {
            let (Some(a), Some(b)) = (RoutePattern::parse(if a.is_empty() { "/" } else { &a }), RoutePattern::parse(if b.is_empty() { "/" } else { &b })) else { return Ok(()); };
            if a.within(&b) && a.matches(&path) {
                proptest::prop_assert!(b.matches(&path), "{:?} within {:?} but {} only matches the first", a, b, path);
            }
        }
    }
}
