//! What crosses between the gate and the control plane, written so that the gate needs no
//! serializer: the gate's code stays small and a request pays no serde machinery.
//!
//! - [`EdgeRecord::encode`] / [`EdgeRecord::decode`]: a key's record as compact text, the
//!   value kept in Workers KV and the answer of a regional replica (version
//!   [`RECORD_VERSION`]);
//! - [`WireVerdict`]: the key ring's strict-mode verdict, as one line of text;
//! - [`VerifyRequest`], [`UsageReport`], [`EventReport`], [`LookupRequest`]: the gate's
//!   commands, as JSON the gate writes by hand ([`VerifyRequest::to_json`], …) and the
//!   control plane reads with serde. A test parses each one back, so the two cannot drift.
//!
//! Every command carries `"v": PROTOCOL_VERSION`. The control plane accepts the previous
//! release's commands too (they have no `v`), so a gate and a control plane one release
//! apart work together during a deploy.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

use serde::{Deserialize, Serialize};

use crate::format::{ApplicationId, Environment, KeyId, KeyIdentity, KeyKind};
use crate::gate::events::{ClientInfo, KeyEvent, Observed};
use crate::gate::verify::{Outcome, RateVerdict, Verdict};
use crate::gate::EdgeRecord;
use crate::http::ErrorCode;
use crate::json_text::json_string;
use crate::lifecycle::{KeyStatus, RevocationReason};
use crate::policy::{
    IpNet, MethodSet, OriginPattern, OriginPolicy, Policy, RateDecision, RateLimit, RoutePattern,
    RouteRule, Scopes,
};
use crate::storage::StorageId;
use crate::time::UnixMillis;
use crate::usage::UsageCount;

/// The version of the gate's commands.
pub const PROTOCOL_VERSION: u8 = 2;
/// The first line of a compact record.
pub const RECORD_VERSION: &str = "r1";

/// Why compact text could not be read. Never quotes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WireError;

// ----- compact records ------------------------------------------------------------------

impl EdgeRecord {
    /// The record as compact text: a version line, then one line per field, policy fields
    /// only when set. Every value is one the record's own types print and parse (ids, hex,
    /// decimal numbers, route patterns, origin patterns, CIDRs), none holds a newline or a
    /// space where the format splits.
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(96);
        out.push_str(RECORD_VERSION);
        let _ = write!(
            out,
            "\n{} {} {}",
            self.application_id,
            self.key_id,
            kind_char(self.kind)
        );
        match self.status {
            KeyStatus::Active => out.push_str(" a"),
            KeyStatus::Expiring { expires_at } => {
                let _ = write!(out, " e {}", expires_at.0);
            }
            KeyStatus::Revoked { revoked_at, reason } => {
                let _ = write!(out, " r {} {}", revoked_at.0, reason_name(reason));
            }
        }
        if self.suspended {
            out.push_str("\nsuspended");
        }
        if self.canary {
            out.push_str("\ncanary");
        }
        let policy = &self.policy;
        if let Some(at) = policy.expires_at {
            let _ = write!(out, "\nexpires {}", at.0);
        }
        if let Some(scopes) = policy.scopes {
            let _ = write!(out, "\nscopes {}", scopes.bits());
        }
        for rule in policy.routes.iter().flatten() {
            let _ = write!(
                out,
                "\nroute {} {}",
                rule.methods.bits(),
                rule.path.as_str()
            );
        }
        for origin in policy.allowed_origins.iter().flatten() {
            out.push_str("\norigin ");
            origin.write_to(&mut out);
        }
        if let Some(origin_policy) = policy.origin_policy {
            out.push_str(match origin_policy {
                OriginPolicy::Enforce => "\norigin_policy enforce",
                OriginPolicy::Report => "\norigin_policy report",
            });
        }
        for net in policy.allowed_ips.iter().flatten() {
            let _ = write!(out, "\nip {net}");
        }
        if let Some(limit) = policy.rate_limit {
            let _ = write!(out, "\nrate {} {}", limit.requests, limit.per_seconds);
        }
        out
    }

    /// Reads [`EdgeRecord::encode`]'s text. Anything else, an older format included, is a
    /// [`WireError`]: the gate then asks the key ring instead.
    pub fn decode(text: &str) -> Result<EdgeRecord, WireError> {
        let mut lines = text.split('\n');
        if lines.next() != Some(RECORD_VERSION) {
            return Err(WireError);
        }
        let mut head = lines.next().ok_or(WireError)?.split(' ');
        let mut field = || head.next().ok_or(WireError);
        let application_id = ApplicationId::parse(field()?).map_err(|_| WireError)?;
        let key_id = KeyId::parse(field()?).map_err(|_| WireError)?;
        let kind = match field()? {
            "s" => KeyKind::Secret,
            "p" => KeyKind::Publishable,
            _ => return Err(WireError),
        };
        let status = match field()? {
            "a" => KeyStatus::Active,
            "e" => KeyStatus::Expiring {
                expires_at: millis(field()?)?,
            },
            "r" => KeyStatus::Revoked {
                revoked_at: millis(field()?)?,
                reason: reason_of(field()?)?,
            },
            _ => return Err(WireError),
        };
        if head.next().is_some() {
            return Err(WireError);
        }
        let mut record = EdgeRecord {
            application_id,
            key_id,
            kind,
            status,
            policy: Policy::default(),
            suspended: false,
            canary: false,
        };
        let policy = &mut record.policy;
        for line in lines {
            let (name, value) = line.split_once(' ').unwrap_or((line, ""));
            match name {
                "suspended" if value.is_empty() => record.suspended = true,
                "canary" if value.is_empty() => record.canary = true,
                "expires" => policy.expires_at = Some(millis(value)?),
                "scopes" => {
                    let bits = value.parse().map_err(|_| WireError)?;
                    policy.scopes = Some(Scopes::from_bits(bits).ok_or(WireError)?);
                }
                "route" => {
                    let (methods, path) = value.split_once(' ').ok_or(WireError)?;
                    let methods = methods.parse().map_err(|_| WireError)?;
                    policy.routes.get_or_insert_with(Vec::new).push(RouteRule {
                        methods: MethodSet::from_bits(methods).ok_or(WireError)?,
                        path: RoutePattern::parse(path).ok_or(WireError)?,
                    });
                }
                "origin" => policy
                    .allowed_origins
                    .get_or_insert_with(Vec::new)
                    .push(OriginPattern::parse(value).ok_or(WireError)?),
                "origin_policy" => {
                    policy.origin_policy = Some(match value {
                        "enforce" => OriginPolicy::Enforce,
                        "report" => OriginPolicy::Report,
                        _ => return Err(WireError),
                    })
                }
                "ip" => policy
                    .allowed_ips
                    .get_or_insert_with(Vec::new)
                    .push(IpNet::parse(value).ok_or(WireError)?),
                "rate" => {
                    let (requests, per_seconds) = value.split_once(' ').ok_or(WireError)?;
                    policy.rate_limit = Some(RateLimit {
                        requests: requests.parse().map_err(|_| WireError)?,
                        per_seconds: per_seconds.parse().map_err(|_| WireError)?,
                    });
                }
                _ => return Err(WireError),
            }
        }
        Ok(record)
    }
}

fn kind_char(kind: KeyKind) -> char {
    match kind {
        KeyKind::Secret => 's',
        KeyKind::Publishable => 'p',
    }
}

fn millis(text: &str) -> Result<UnixMillis, WireError> {
    text.parse().map(UnixMillis).map_err(|_| WireError)
}

const REASONS: [(RevocationReason, &str); 5] = [
    (RevocationReason::Revoked, "revoked"),
    (RevocationReason::Rotated, "rotated"),
    (RevocationReason::GraceExpired, "grace_expired"),
    (RevocationReason::Leaked, "leaked"),
    (RevocationReason::Expired, "expired"),
];

fn reason_name(reason: RevocationReason) -> &'static str {
    REASONS
        .iter()
        .find(|(r, _)| *r == reason)
        .map_or("revoked", |(_, name)| name)
}

fn reason_of(name: &str) -> Result<RevocationReason, WireError> {
    REASONS
        .iter()
        .find(|(_, n)| *n == name)
        .map(|(r, _)| *r)
        .ok_or(WireError)
}

// ----- the key ring's verdict ------------------------------------------------------------

/// What the gate needs of a strict-mode verdict: the outcome, the key, CORS and the rate
/// headers. (Counting the use and recording the events are the key ring's.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WireVerdict {
    /// `Ok(())` to forward, or the code to refuse with (`rate_limited` for the rate limit).
    pub outcome: Result<(), ErrorCode>,
    pub key_id: Option<KeyId>,
    pub cors: bool,
    pub rate: Option<RateVerdict>,
}

impl WireVerdict {
    pub fn of(verdict: &Verdict) -> Self {
        WireVerdict {
            outcome: match verdict.outcome {
                Outcome::Pass => Ok(()),
                Outcome::Refused(rejection) => Err(rejection.into()),
                Outcome::RateLimited => Err(ErrorCode::RateLimited),
            },
            // A refusal names no key (a canary's is the ring's to know, not the gate's).
            key_id: match verdict.outcome {
                Outcome::Refused(_) => None,
                _ => verdict.key_id,
            },
            cors: verdict.readable_by_page(),
            rate: verdict.rate,
        }
    }

    /// `v2 <pass|code> <key id|-> <cors 0|1> <rate|->`, the rate as
    /// `requests/per_seconds/allowed/remaining/reset_after_seconds`.
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(64);
        let _ = write!(
            out,
            "v{PROTOCOL_VERSION} {} ",
            match self.outcome {
                Ok(()) => "pass",
                Err(code) => code.as_str(),
            }
        );
        match self.key_id {
            Some(id) => {
                let _ = write!(out, "{id}");
            }
            None => out.push('-'),
        }
        out.push_str(if self.cors { " 1 " } else { " 0 " });
        match self.rate {
            Some(RateVerdict { limit, decision }) => {
                let _ = write!(
                    out,
                    "{}/{}/{}/{}/{}",
                    limit.requests,
                    limit.per_seconds,
                    u8::from(decision.allowed),
                    decision.remaining,
                    decision.reset_after_seconds
                );
            }
            None => out.push('-'),
        }
        out
    }

    pub fn decode(text: &str) -> Result<WireVerdict, WireError> {
        let mut fields = text.split(' ');
        let mut field = || fields.next().ok_or(WireError);
        if field()? != "v2" {
            return Err(WireError);
        }
        let outcome = match field()? {
            "pass" => Ok(()),
            code => Err(ErrorCode::from_code(code).ok_or(WireError)?),
        };
        let key_id = match field()? {
            "-" => None,
            id => Some(KeyId::parse(id).map_err(|_| WireError)?),
        };
        let cors = match field()? {
            "1" => true,
            "0" => false,
            _ => return Err(WireError),
        };
        let rate = match field()? {
            "-" => None,
            text => {
                let mut parts = text.split('/');
                let mut number = || -> Result<u64, WireError> {
                    parts
                        .next()
                        .ok_or(WireError)?
                        .parse()
                        .map_err(|_| WireError)
                };
                let requests = u32::try_from(number()?).map_err(|_| WireError)?;
                let per_seconds = u32::try_from(number()?).map_err(|_| WireError)?;
                let allowed = number()? == 1;
                let remaining = u32::try_from(number()?).map_err(|_| WireError)?;
                let reset_after_seconds = number()?;
                Some(RateVerdict {
                    limit: RateLimit {
                        requests,
                        per_seconds,
                    },
                    decision: RateDecision {
                        allowed,
                        remaining,
                        reset_after_seconds,
                    },
                })
            }
        };
        if fields.next().is_some() {
            return Err(WireError);
        }
        Ok(WireVerdict {
            outcome,
            key_id,
            cors,
            rate,
        })
    }
}

// ----- the gate's commands, as JSON written by hand ---------------------------------------

/// What the policy checks need of a gated request, as sent to the key ring.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestFacts {
    pub method: String,
    /// The normalised path.
    pub path: String,
    /// `CF-Connecting-IP`.
    pub client_ip: Option<String>,
    /// `Origin`, or the origin of `Referer`.
    pub origin: Option<String>,
    /// Whether the query names a method override. (Absent in the messages of gates from
    /// before it was added: they did not check it.)
    #[serde(default)]
    pub method_override: bool,
    /// `request.cf`'s country, for the record of a canary's use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}

/// Strict mode: the gate asks the key ring to decide a request (`"command": "verify"`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyRequest {
    pub v: u8,
    pub key: KeyIdentity,
    pub request: RequestFacts,
    pub from_browser: bool,
    pub client: ClientInfo,
}

impl VerifyRequest {
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(320);
        let _ = write!(out, "{{\"command\":\"verify\",\"v\":{},\"key\":", self.v);
        write_identity(&mut out, &self.key);
        out.push_str(",\"request\":{\"method\":");
        json_string(&mut out, &self.request.method);
        out.push_str(",\"path\":");
        json_string(&mut out, &self.request.path);
        out.push_str(",\"client_ip\":");
        json_opt_string(&mut out, self.request.client_ip.as_deref());
        out.push_str(",\"origin\":");
        json_opt_string(&mut out, self.request.origin.as_deref());
        if let Some(country) = &self.request.country {
            out.push_str(",\"country\":");
            json_string(&mut out, country);
        }
        let _ = write!(
            out,
            ",\"method_override\":{}}},\"from_browser\":{},\"client\":",
            self.request.method_override, self.from_browser
        );
        write_client(&mut out, &self.client);
        out.push('}');
        out
    }
}

/// Regional mode: the gate asks its region's replica for a key's record
/// (`"command": "lookup"`); the answer is the compact record, or `none`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LookupRequest {
    pub v: u8,
    pub replica: ReplicaName,
    pub storage_id: StorageId,
}

/// A regional validation replica: one per application, region and shard.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicaName {
    pub application: ApplicationId,
    pub region: crate::regional::Region,
    pub shard: u8,
}

impl ReplicaName {
    /// The Durable Object's name: `app_…/weur/0`.
    pub fn object_name(&self) -> String {
        let mut out = String::with_capacity(32);
        let _ = write!(
            out,
            "{}/{}/{}",
            self.application,
            self.region.hint(),
            self.shard
        );
        out
    }
}

impl LookupRequest {
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(160);
        let _ = write!(
            out,
            "{{\"command\":\"lookup\",\"v\":{},\"replica\":{{\"application\":\"{}\",\"region\":\"{}\",\"shard\":{}}},\"storage_id\":\"{}\"}}",
            self.v,
            self.replica.application,
            self.replica.region.hint(),
            self.replica.shard,
            self.storage_id.to_hex()
        );
        out
    }
}

/// Edge and regional mode: usage counted in an isolate (`"command": "record_usage"`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageReport {
    pub counts: Vec<UsageCount>,
}

impl UsageReport {
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(40 + 90 * self.counts.len());
        let _ = write!(
            out,
            "{{\"command\":\"record_usage\",\"v\":{PROTOCOL_VERSION},\"counts\":["
        );
        for (i, count) in self.counts.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(
                out,
                "{{\"key_id\":\"{}\",\"hour\":{},\"requests\":{},\"last_used_at\":{}}}",
                count.key_id, count.hour, count.requests, count.last_used_at.0
            );
        }
        out.push_str("]}");
        out
    }
}

/// `count` occurrences of `event` with one key, the last at `last_at`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeenEvent {
    pub key_id: KeyId,
    pub event: KeyEvent,
    pub count: u32,
    pub last_at: UnixMillis,
    pub observed: Observed,
}

/// Edge and regional mode: events seen in an isolate, coalesced
/// (`"command": "record_events"`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventReport {
    pub events: Vec<SeenEvent>,
}

impl EventReport {
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(48 + 200 * self.events.len());
        let _ = write!(
            out,
            "{{\"command\":\"record_events\",\"v\":{PROTOCOL_VERSION},\"events\":["
        );
        for (i, seen) in self.events.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(
                out,
                "{{\"key_id\":\"{}\",\"event\":\"{}\",\"count\":{},\"last_at\":{},\"observed\":{{\"client\":",
                seen.key_id,
                seen.event.as_str(),
                seen.count,
                seen.last_at.0
            );
            write_client(&mut out, &seen.observed.client);
            out.push_str(",\"origins\":[");
            for (j, origin) in seen.observed.origins.iter().enumerate() {
                if j > 0 {
                    out.push(',');
                }
                json_string(&mut out, origin);
            }
            out.push(']');
            for (name, value) in [
                ("request", &seen.observed.request),
                ("location", &seen.observed.location),
            ] {
                if let Some(value) = value {
                    let _ = write!(out, ",\"{name}\":");
                    json_string(&mut out, value);
                }
            }
            out.push_str("}}");
        }
        out.push_str("]}");
        out
    }
}

fn write_identity(out: &mut String, key: &KeyIdentity) {
    let _ = write!(
        out,
        "{{\"kind\":\"{}\",\"environment\":\"{}\",\"application_id\":\"{}\",\"storage_id\":\"{}\"}}",
        key.kind.as_str(),
        environment_name(key.environment),
        key.application_id,
        key.storage_id.to_hex()
    );
}

fn environment_name(environment: Environment) -> &'static str {
    environment.as_str()
}

fn write_client(out: &mut String, client: &ClientInfo) {
    out.push_str("{\"ip\":");
    json_opt_string(out, client.ip.as_deref());
    out.push_str(",\"user_agent\":");
    json_opt_string(out, client.user_agent.as_deref());
    out.push('}');
}

fn json_opt_string(out: &mut String, text: Option<&str>) {
    match text {
        Some(text) => json_string(out, text),
        None => out.push_str("null"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gate::events::{ClientInfo, Observed};

    fn record(policy: &str, status: KeyStatus, suspended: bool) -> EdgeRecord {
        EdgeRecord {
            application_id: ApplicationId::parse("app_AAAAAAAAAAAAAAAA").unwrap(),
            key_id: KeyId::parse("key_BBBBBBBBBBBBBBBB").unwrap(),
            kind: KeyKind::Secret,
            status,
            policy: serde_json::from_str(policy).unwrap(),
            suspended,
            canary: false,
        }
    }

    #[test]
    fn records_round_trip_with_every_field() {
        let full = record(
            r#"{"expires_at":1800000600000,"scopes":["keys:read","audit:read"],"routes":[{"methods":["GET","HEAD"],"path":"/v1/orders/*"},{"path":"/x"}],"allowed_ips":["10.0.0.0/8","2001:db8::/32"],"rate_limit":{"requests":100,"per_seconds":60}}"#,
            KeyStatus::Expiring {
                expires_at: UnixMillis(1_800_000_000_000),
            },
            true,
        );
        assert_eq!(EdgeRecord::decode(&full.encode()), Ok(full.clone()));
        let mut web = record(
            r#"{"allowed_origins":["https://shop.example","https://*.shop.example:8443","null","http://[::1]"],"origin_policy":"report"}"#,
            KeyStatus::Revoked {
                revoked_at: UnixMillis(5),
                reason: RevocationReason::GraceExpired,
            },
            false,
        );
        web.kind = KeyKind::Publishable;
        assert_eq!(EdgeRecord::decode(&web.encode()), Ok(web));
        let bare = record("{}", KeyStatus::Active, false);
        assert_eq!(
            bare.encode().lines().count(),
            2,
            "no policy, no lines: {}",
            bare.encode()
        );
    }

    #[test]
    fn anything_but_a_compact_record_is_refused() {
        let good = record("{}", KeyStatus::Active, false).encode();
        for bad in [
            String::new(),
            "{\"application_id\":\"app_AAAAAAAAAAAAAAAA\"}".into(),
            good.replace("r1", "r2"),
            good.replace(" s ", " x "),
            alloc::format!("{good}\nscopes 255"),
            alloc::format!("{good}\nroute 1 no-slash"),
            alloc::format!("{good}\nunknown field"),
            alloc::format!("{good}\nrate 1"),
            good.replace(" a", " a extra"),
        ] {
            assert_eq!(EdgeRecord::decode(&bad), Err(WireError), "{bad:?}");
        }
    }

    #[test]
    fn verdicts_round_trip() {
        for verdict in [
            WireVerdict {
                outcome: Ok(()),
                key_id: KeyId::parse("key_BBBBBBBBBBBBBBBB").ok(),
                cors: true,
                rate: None,
            },
            WireVerdict {
                outcome: Err(ErrorCode::RevokedKey),
                key_id: None,
                cors: true,
                rate: None,
            },
            WireVerdict {
                outcome: Err(ErrorCode::RateLimited),
                key_id: KeyId::parse("key_BBBBBBBBBBBBBBBB").ok(),
                cors: false,
                rate: Some(RateVerdict {
                    limit: RateLimit {
                        requests: 5,
                        per_seconds: 60,
                    },
                    decision: RateDecision {
                        allowed: false,
                        remaining: 0,
                        reset_after_seconds: 17,
                    },
                }),
            },
        ] {
            assert_eq!(WireVerdict::decode(&verdict.encode()), Ok(verdict));
        }
        for bad in [
            "",
            "v1 pass - 1 -",
            "v2 nonsense - 1 -",
            "v2 pass - 2 -",
            "v2 pass - 1 1/2/3",
            "v2 pass - 1 - extra",
        ] {
            assert_eq!(WireVerdict::decode(bad), Err(WireError), "{bad}");
        }
    }

    /// What the gate writes by hand is what the control plane's serde reads, field for
    /// field, hostile text included.
    #[test]
    fn the_gates_commands_parse_back_exactly() {
        let key = crate::format::identify(
            crate::ApiKey::generate(
                KeyKind::Publishable,
                Environment::Test,
                ApplicationId::parse("app_AAAAAAAAAAAAAAAA").unwrap(),
                &mut crate::SystemRandom,
            )
            .unwrap()
            .expose_secret(),
        )
        .unwrap();
        let client = ClientInfo::new(Some("2001:db8::1"), Some("Mozilla \"quoted\" \\ \u{1} é"));
        let verify = VerifyRequest {
            v: PROTOCOL_VERSION,
            key,
            request: RequestFacts {
                method: "PATCH".into(),
                path: "/v1/client/a\"b".into(),
                client_ip: None,
                origin: Some("https://shop.example".into()),
                method_override: true,
                country: Some("N\"L".into()),
            },
            from_browser: true,
            client: client.clone(),
        };
        let json: serde_json::Value = serde_json::from_str(&verify.to_json()).unwrap();
        assert_eq!(json["command"], "verify");
        assert_eq!(
            serde_json::from_value::<VerifyRequest>(json).unwrap(),
            verify
        );

        let usage = UsageReport {
            counts: alloc::vec![UsageCount {
                key_id: KeyId::parse("key_BBBBBBBBBBBBBBBB").unwrap(),
                hour: 500_000,
                requests: 7,
                last_used_at: UnixMillis(1_800_000_000_123),
            }],
        };
        let json: serde_json::Value = serde_json::from_str(&usage.to_json()).unwrap();
        assert_eq!(json["command"], "record_usage");
        assert_eq!(serde_json::from_value::<UsageReport>(json).unwrap(), usage);

        let mut observed = Observed::new(client, Some("https://evil.example"));
        observed.add_origins([String::from("null")]);
        let canary = Observed {
            request: Some(String::from("GET /v1/users?\"x\"")),
            location: Some(String::from("DE")),
            ..observed.clone()
        };
        let events = EventReport {
            events: alloc::vec![
                SeenEvent {
                    key_id: KeyId::parse("key_BBBBBBBBBBBBBBBB").unwrap(),
                    event: KeyEvent::OriginNotAllowed,
                    count: 3,
                    last_at: UnixMillis(9),
                    observed,
                },
                SeenEvent {
                    key_id: KeyId::parse("key_BBBBBBBBBBBBBBBB").unwrap(),
                    event: KeyEvent::CanaryUsed,
                    count: 1,
                    last_at: UnixMillis(10),
                    observed: canary,
                }
            ],
        };
        let json: serde_json::Value = serde_json::from_str(&events.to_json()).unwrap();
        assert_eq!(json["command"], "record_events");
        assert_eq!(serde_json::from_value::<EventReport>(json).unwrap(), events);

        let lookup = LookupRequest {
            v: PROTOCOL_VERSION,
            replica: ReplicaName {
                application: ApplicationId::parse("app_AAAAAAAAAAAAAAAA").unwrap(),
                region: crate::regional::Region::Weur,
                shard: 3,
            },
            storage_id: key.storage_id,
        };
        let json: serde_json::Value = serde_json::from_str(&lookup.to_json()).unwrap();
        assert_eq!(json["command"], "lookup");
        assert_eq!(
            serde_json::from_value::<LookupRequest>(json).unwrap(),
            lookup
        );
        assert_eq!(lookup.replica.object_name(), "app_AAAAAAAAAAAAAAAA/weur/3");
    }
}
