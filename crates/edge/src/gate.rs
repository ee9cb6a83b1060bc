//! The gate: where a key is validated. Every request that is not for the worker's own API
//! is authenticated by its API key, authorised for its route, and proxied to the origin
//! without the key (`proxy.rs`).
//!
//! The decisions are the core's ([`admit`], then [`authorize`]). In `strict` mode the
//! application's key ring makes them against its authoritative record (`key_ring`'s
//! `validate`); in `edge` mode this file makes them against the Workers KV record.
//!
//! Before any storage read: the method, the key's format and checksum, the client
//! address's failure count, a CORS preflight, and whether requests can be signed for the
//! origin at all. Then, in strict mode, whether the key's application exists (one KV read
//! at most, none once seen) before the Durable Object is asked. The key's policy is
//! checked in the order that costs least: expiry and suspension (in `admit`), address and
//! origin, routes, and last the rate limit.

use aero2_keys::gate::{admit, authorize, is_browser_request, key_from_authorization, Rejection};
use aero2_keys::http::cors::{self, is_preflight, reflectable_origin};
use aero2_keys::http::forwarding::carries_secret_key;
use aero2_keys::http::query::overrides_method;
use aero2_keys::http::ErrorCode;
use aero2_keys::policy::{self, referer_origin};
use aero2_keys::regional::{shard_of, Region};
use aero2_keys::{KeyIdentity, UnixMillis};
use worker::{web_sys, Context, Env, Headers, Request, Response};

use crate::clock::now;
use crate::config::{Config, ValidationMode};
use crate::errors::ApiResult;
use crate::protocol::{
    read_answer, to_key_ring, to_replica, ClientInfo, KeyEvent, Observed, RateVerdict,
    RecordAnswer, ReplicaCommand, ReplicaName, RequestFacts, RingCommand, Validated,
};
use crate::proxy::{self, Forward};
use crate::router::{allow, method};
use crate::{kv, limits, usage};

/// Methods that are gated and forwarded. Others (`TRACE`, `CONNECT`, …) are refused: a
/// `TRACE` would echo the request, headers and all, back through the origin.
const GATED_METHODS: &str = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS";

/// A request the router sent to the gate, with its path already normalised.
pub struct Gated<'a> {
    pub path: &'a str,
    pub query: Option<&'a str>,
    /// `scheme://host[:port]` of the request.
    pub gate_origin: &'a str,
}

pub async fn gate(
    req: Request,
    target: Gated<'_>,
    env: &Env,
    ctx: &Context,
    config: &Config,
) -> ApiResult<Response> {
    let header = |name| req.headers().get(name).ok().flatten();
    let method = method(&req);
    // CORS applies to frontend routes only: no page can call a secret-key route.
    let frontend = config.frontend_routes.matches(target.path);
    let cors_origin = header("Origin")
        .filter(|_| frontend)
        .and_then(|origin| reflectable_origin(&origin).map(str::to_owned));
    if let Err(refused) = allow(&method, GATED_METHODS) {
        let response = refused.into_response();
        return match cors_origin {
            Some(origin) => with_cors(response, &origin),
            None => Ok(response),
        };
    }
    if frontend
        && is_preflight(
            &method,
            header("Origin").as_deref(),
            header("Access-Control-Request-Method").as_deref(),
        )
    {
        return preflight(
            cors_origin.as_deref(),
            header("Access-Control-Request-Headers"),
        );
    }
    let (response, readable) =
        match validate_and_forward(req, method, &target, env, ctx, config).await {
            Ok(answer) => answer,
            // A key that lists its websites lets no other read even its refusal.
            Err(err) => {
                let readable = err.code != ErrorCode::OriginNotAllowed;
                (err.into_response(), readable)
            }
        };
    match cors_origin {
        Some(origin) if readable => with_cors(response, &origin),
        _ => Ok(response),
    }
}

/// The forwarded answer, and whether the page's origin may read it (CORS).
async fn validate_and_forward(
    req: Request,
    method: String,
    target: &Gated<'_>,
    env: &Env,
    ctx: &Context,
    config: &Config,
) -> ApiResult<(Response, bool)> {
    let header = |name| req.headers().get(name).ok().flatten();
    // Malformed keys and bad checksums stop here, before any storage read.
    let key = key_from_authorization(header("Authorization").as_deref())?;
    // A secret key in the path or the query string, as sent or percent-decoded, would
    // reach the origin, its logs and its caches.
    if carries_secret_key(target.path) || target.query.is_some_and(carries_secret_key) {
        return Err(ErrorCode::SecretKeyOutsideAuthorization.into());
    }
    let now = now();
    let address = limits::client_address(&req);
    limits::FAILED_AUTH.refuse_if_blocked(&address, now)?;
    // Nothing is forwarded unsigned: without a signing key, no request needs a lookup.
    let Some(signing_key) = config.signing_key.as_ref() else {
        return Err(ErrorCode::OriginSigningNotConfigured.into());
    };
    let request = RequestFacts {
        method,
        path: target.path.to_owned(),
        client_ip: header("CF-Connecting-IP"),
        origin: header("Origin").or_else(|| {
            header("Referer").and_then(|referer| referer_origin(&referer).map(str::to_owned))
        }),
        method_override: overrides_method(target.query),
    };
    let validated = match validate(&req, &key, request, env, ctx, config, now).await {
        Ok(validated) => validated,
        // A key that does not authenticate counts against its address and its
        // application.
        Err(err) if err.code.status() == 401 => {
            return Err(
                limits::count_failure(env, &address, key.application_id, now)
                    .await
                    .unwrap_or(err),
            );
        }
        Err(err) => return Err(err),
    };
    if let Some(rate) = validated.rate.filter(|rate| !rate.allowed) {
        return Err(rate.refusal());
    }
    let forward = Forward {
        key: &key,
        validated: &validated,
        path: target.path,
        query: target.query,
        gate_origin: target.gate_origin,
    };
    let response = proxy::forward(req, config, signing_key, forward).await?;
    Ok((response, validated.cors))
}

async fn validate(
    req: &Request,
    key: &KeyIdentity,
    request: RequestFacts,
    env: &Env,
    ctx: &Context,
    config: &Config,
    now: UnixMillis,
) -> ApiResult<Validated> {
    let from_browser = from_browser(req);
    let has_origin = request.origin.is_some();
    // Who sent it only matters for the audit entries of what the gate refused or saw.
    let client = || {
        if from_browser || has_origin {
            ClientInfo::of(req)
        } else {
            ClientInfo::default()
        }
    };
    let mode = config.mode(key.kind);
    // Strict and regional mode: forged keys name applications at random, so refuse those
    // here, without waking (or creating) a Durable Object. While an application is flooded
    // with keys that fail, its keys must also have a KV record before a Durable Object is
    // asked. (Edge mode reads the key's KV record anyway.)
    if mode != ValidationMode::Edge && !kv::key_may_exist(env, key, now).await? {
        return Err(Rejection::UnknownKey.into());
    }
    if mode == ValidationMode::Strict {
        let command = RingCommand::Validate {
            key: *key,
            request,
            from_browser,
            client: client(),
        };
        return read_answer(to_key_ring(env, key.application_id, &command).await?).await;
    }
    let record = if mode == ValidationMode::Regional {
        // Regional mode: the record from the application's replica in this region, which
        // holds the key ring's current state under a lease. Forged keys stopped at the KV
        // checks above; the rest are answered from the replica's memory, and never reach
        // the key ring.
        let replica = ReplicaName {
            application: key.application_id,
            region: region_of(req),
            shard: shard_of(&key.storage_id, config.regional.shards),
        };
        let command = ReplicaCommand::Lookup {
            replica,
            storage_id: key.storage_id,
        };
        let answer: RecordAnswer = read_answer(to_replica(env, &replica, &command).await?).await?;
        answer.record.ok_or(Rejection::UnknownKey)?
    } else {
        // Edge mode: the Workers KV record.
        kv::edge_record(env, &key.storage_id)
            .await?
            .ok_or(Rejection::UnknownKey)?
    };
    // The same decisions as the key ring's, against that record.
    admit(record.view(), key, now)?;
    usage::count(ctx, env, record.application_id, record.key_id, now);
    usage::flush_events(ctx, env, now);
    let later = |event, origin: Option<&str>| {
        let key = (record.application_id, record.key_id);
        usage::event(ctx, env, key, event, Observed::new(client(), origin), now);
    };
    let facts = request.facts();
    let checked = authorize(
        record.kind,
        facts.path,
        &config.frontend_routes,
        from_browser,
    )
    .and_then(|()| policy::check(record.kind, &record.policy, &facts));
    let report = match checked {
        Ok(report) => report,
        Err(rejection) => {
            if rejection == Rejection::SecretKeyInBrowser {
                later(KeyEvent::SecretInBrowser, None);
            }
            return Err(rejection.into());
        }
    };
    if report.is_some() {
        later(
            KeyEvent::OriginNotAllowed,
            Some(facts.origin.unwrap_or("null")),
        );
    }
    let rate = record.policy.rate_limit.map(|limit| {
        let verdict = RateVerdict::of(limit, limits::hit_key_limit(record.key_id, limit, now));
        if !verdict.allowed {
            later(KeyEvent::RateLimited, None);
        }
        verdict
    });
    Ok(Validated {
        key_id: record.key_id,
        kind: record.kind,
        cors: facts
            .origin
            .is_none_or(|origin| record.policy.cors_allows(origin)),
        rate,
    })
}

/// The region this gate runs in, from what the platform says of the request. Test builds
/// take it from `X-Aero2-Test-Region` instead, so that one local workerd can play several
/// regions; the release bundle has no such header.
fn region_of(req: &Request) -> Region {
    #[cfg(feature = "fault-injection")]
    if let Some(region) = req
        .headers()
        .get("X-Aero2-Test-Region")
        .ok()
        .flatten()
        .and_then(|hint| Region::parse(&hint))
    {
        return region;
    }
    let cf = req.cf();
    Region::locate(
        cf.and_then(|cf| cf.continent()).as_deref(),
        cf.and_then(|cf| cf.country()).as_deref(),
        cf.and_then(|cf| cf.coordinates())
            .map(|(_, longitude)| f64::from(longitude)),
    )
}

/// Whether the request came from a browser, by its headers ([`is_browser_request`]).
pub fn from_browser(req: &Request) -> bool {
    let header = |name| req.headers().get(name).ok().flatten();
    is_browser_request(
        header("Origin").as_deref(),
        header("Sec-Fetch-Mode").as_deref(),
        header("Sec-Fetch-Site").as_deref(),
    )
}

/// 204 to a preflight on a frontend route, with no storage read.
fn preflight(origin: Option<&str>, requested_headers: Option<String>) -> ApiResult<Response> {
    let headers = Headers::new();
    if let Some(origin) = origin {
        headers.set("Access-Control-Allow-Origin", origin)?;
        headers.set("Access-Control-Allow-Methods", cors::ALLOW_METHODS)?;
        headers.set(
            "Access-Control-Allow-Headers",
            &cors::allow_headers(requested_headers.as_deref()),
        )?;
        headers.set("Access-Control-Max-Age", &cors::MAX_AGE_SECONDS.to_string())?;
    }
    headers.set(
        "Vary",
        "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
    )?;
    Ok(Response::empty()?.with_status(204).with_headers(headers))
}

/// Lets the page read the answer, the origin's or the gate's own error.
fn with_cors(response: Response, origin: &str) -> ApiResult<Response> {
    // An origin's response has immutable headers: work on a copy.
    let headers = Headers(
        web_sys::Headers::new_with_headers(&response.headers().0).map_err(worker::Error::from)?,
    );
    headers.set("Access-Control-Allow-Origin", origin)?;
    headers.set("Access-Control-Expose-Headers", cors::EXPOSE_HEADERS)?;
    headers.append("Vary", "Origin")?;
    Ok(response.with_headers(headers))
}
