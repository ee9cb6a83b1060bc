//! The messages the worker sends to Durable Objects. Keys cross this boundary only as
//! storage ids (hashes), never as values.
//!
//! `ring`: the key ring's commands; `replica`: a regional replica's; `registry`: the
//! operator registry's. This file: what they share, and the transport.

mod directory;
mod registry;
mod replica;
mod ring;

pub use directory::*;
pub use registry::*;
pub use replica::*;
pub use ring::*;

pub use aero2_keys::gate::{ClientInfo, KeyEvent, Observed};
use aero2_keys::http::ErrorCode;
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use std::borrow::Cow;
use worker::{Request, Response, Stub};

use crate::errors::{ApiError, ApiResult};

/// Who is calling, for the audit log: the address the platform reports and the browser,
/// cut to size (`aero2_keys::gate::ClientInfo`).
pub fn client_info(req: &Request) -> ClientInfo {
    let header = |name| req.headers().get(name).ok().flatten();
    ClientInfo::new(
        header("CF-Connecting-IP").as_deref(),
        header("User-Agent").as_deref(),
    )
}

/// Whether the request came from a browser, by its headers
/// ([`aero2_keys::gate::is_browser_request`]).
pub fn from_browser(req: &Request) -> bool {
    let header = |name| req.headers().get(name).ok().flatten();
    aero2_keys::gate::is_browser_request(
        header("Origin").as_deref(),
        header("Sec-Fetch-Mode").as_deref(),
        header("Sec-Fetch-Site").as_deref(),
    )
}

/// Posts a command, as JSON, to a Durable Object.
async fn send<T: Serialize>(stub: Stub, command: &T) -> ApiResult<Response> {
    let body = serde_json::to_string(command).map_err(|_| ErrorCode::TemporarilyUnavailable)?;
    send_text(stub, body).await
}

/// Posts a message as it is: the gate's hand-written ones, and (test builds) a previous
/// release's.
pub(crate) async fn send_text(stub: Stub, body: String) -> ApiResult<Response> {
    let req = post_request("https://durable-object.internal/", None, &body, false)
        .map_err(|_| ErrorCode::TemporarilyUnavailable)?;
    Ok(stub.fetch_with_request(req).await?)
}

/// A POST of `body` to `url`, built with the platform's own `Request` and `RequestInit`.
/// (`worker::RequestInit` converts every Cloudflare option it knows, image resizing
/// included, even when none is set: measured, about 8 KB of code and strings this control
/// plane never uses.) `manual_redirect`: a redirect is answered, not followed.
pub(crate) fn post_request(
    url: &str,
    headers: Option<&web_sys::Headers>,
    body: &str,
    manual_redirect: bool,
) -> Result<Request, wasm_bindgen::JsValue> {
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    init.set_body(&wasm_bindgen::JsValue::from_str(body));
    if let Some(headers) = headers {
        init.set_headers(headers);
    }
    if manual_redirect {
        init.set_redirect(web_sys::RequestRedirect::Manual);
    }
    web_sys::Request::new_with_str_and_init(url, &init).map(Request::from)
}

/// A message to a Durable Object: JSON with its kind in one field (`{"command":
/// "verify", …}`), the form serde's `#[serde(tag = …)]` writes.
///
/// It is read in two passes over the text ([`fields`]), the tag and then the variant's own
/// fields, instead of by serde's derive for tagged enums: that one buffers every message
/// into serde's `Content` first, which compiles every field type's deserializer a second
/// time. Measured, that was about 30 KB of the control plane's gzipped wasm. The format
/// is unchanged, so the previous release's messages read as before.
pub trait Message: Sized {
    fn from_json(text: &str) -> serde_json::Result<Self>;
}

/// A message's fields, read into a struct: its tag (the first pass, a struct of that one
/// field), then the variant's own fields (the second). Other fields are skipped unread.
pub(crate) fn fields<'a, T: Deserialize<'a>>(text: &'a str) -> serde_json::Result<T> {
    serde_json::from_str(text)
}

/// The `command` tag of a key ring's or a replica's message (the first pass of [`fields`]).
pub(crate) fn command_of(text: &str) -> serde_json::Result<Cow<'_, str>> {
    #[derive(Deserialize)]
    struct Tag<'a> {
        #[serde(borrow)]
        command: Cow<'a, str>,
    }
    Ok(fields::<Tag>(text)?.command)
}

/// A tag that names no variant. The message itself is not quoted.
pub(crate) fn unknown_variant<T>(tag: &str) -> serde_json::Result<T> {
    Err(serde::de::Error::custom(format_args!(
        "unknown message kind ({} characters)",
        tag.len()
    )))
}

/// Reads a command in a Durable Object. Parsed by serde_json from the text, not by
/// `Request::json` (JavaScript's `JSON.parse` then a conversion): that is one string across
/// the JavaScript boundary instead of one call per field, and integers above 2^53 (audit
/// cursors) keep their value.
pub async fn read_command<T: Message>(req: &mut Request) -> ApiResult<T> {
    let text = req.text().await?;
    T::from_json(&text)
        .map_err(|_| ApiError::with_detail(ErrorCode::InvalidRequest, "unreadable command"))
}

/// Passes a Durable Object's successful answer through as the public response, and turns
/// an error answer back into an error.
pub async fn relay(mut response: Response) -> ApiResult<Response> {
    if response.status_code() < 400 {
        return Ok(response);
    }
    let body = response.bytes().await?;
    let mut error = ApiError::from_wire(&body);
    // The headers that go with an error (a 429's Retry-After and RateLimit, a 405's
    // Allow) come through with it.
    for name in ApiError::RELAYED_HEADERS {
        if let Some(value) = response.headers().get(name).ok().flatten() {
            error = error.with_header(name, value);
        }
    }
    Err(error)
}

/// Reads a Durable Object's JSON answer, turning its error responses back into errors.
pub async fn read_answer<T: DeserializeOwned>(mut response: Response) -> ApiResult<T> {
    let body = response.bytes().await?;
    if !(200..300).contains(&response.status_code()) {
        return Err(ApiError::from_wire(&body));
    }
    serde_json::from_slice(&body).map_err(|_| ErrorCode::TemporarilyUnavailable.into())
}

#[cfg(test)]
mod tests {
    //! Every message, as serde writes it, is read back by its [`Message::from_json`] into
    //! the same value: a field a reader left out, or read under another name, fails here.
    use super::*;
    use serde_json::{json, Value};

    const APP: &str = "app_AAAAAAAAAAAAAAAA";
    const KEY: &str = "key_BBBBBBBBBBBBBBBB";
    const ENDPOINT: &str = "ep_CCCCCCCCCCCCCCCC";
    const MESSAGE: &str = "msg_DDDDDDDDDDDDDDDD";

    fn storage_id() -> String {
        "ab".repeat(32)
    }

    /// `expected` is contained in `actual`: each of its fields, recursively.
    fn contains(actual: &Value, expected: &Value) -> bool {
        match (actual, expected) {
            (Value::Object(a), Value::Object(e)) => e
                .iter()
                .all(|(k, v)| a.get(k).is_some_and(|av| contains(av, v))),
            _ => actual == expected,
        }
    }

    fn reads_back<T: Message + Serialize>(message: Value) {
        let text = message.to_string();
        let read = T::from_json(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
        let written = serde_json::to_value(&read).unwrap();
        assert!(contains(&written, &message), "read {text}\nwrote {written}");
    }

    #[test]
    fn key_ring_commands_read_back_what_serde_writes() {
        let identity = json!({"kind": "secret", "environment": "live", "application_id": APP, "storage_id": storage_id()});
        let client = json!({"ip": "203.0.113.1", "user_agent": "test"});
        let facts = json!({"method": "GET", "path": "/v1/users", "client_ip": "203.0.113.1", "origin": "https://a.example"});
        let replica = json!({"application": APP, "region": "weur", "shard": 0});
        // The gate's commands: the control plane only reads them (it has no code to write
        // them), so what it read is compared field by field.
        let verify = json!({"command": "verify", "v": 2, "key": identity, "request": facts, "from_browser": true, "client": client});
        let Ok(RingCommand::Verify(read)) = RingCommand::from_json(&verify.to_string()) else {
            panic!("verify")
        };
        let mut fields = verify.clone();
        fields.as_object_mut().unwrap().remove("command");
        assert!(contains(&serde_json::to_value(&read).unwrap(), &fields));
        let validate = json!({"command": "validate", "key": identity, "request": facts, "from_browser": true, "client": client});
        let Ok(RingCommand::Validate {
            key,
            request,
            from_browser,
            client: who,
        }) = RingCommand::from_json(&validate.to_string())
        else {
            panic!("validate")
        };
        assert_eq!(serde_json::to_value(key).unwrap(), identity);
        assert!(contains(&serde_json::to_value(&request).unwrap(), &facts));
        assert!(from_browser);
        assert_eq!(serde_json::to_value(&who).unwrap(), client);
        let usage = json!({"command": "record_usage", "counts": [{"key_id": KEY, "hour": 7, "requests": 3, "last_used_at": 9}]});
        let Ok(RingCommand::RecordUsage(read)) = RingCommand::from_json(&usage.to_string()) else {
            panic!("record_usage")
        };
        assert!(contains(
            &serde_json::to_value(&read).unwrap(),
            &json!({"counts": usage["counts"]})
        ));
        let events = json!({"command": "record_events", "events": [{"key_id": KEY, "event": "secret_in_browser", "count": 2, "last_at": 9, "observed": {"client": client, "origins": ["https://a.example"]}}]});
        let Ok(RingCommand::RecordEvents(read)) = RingCommand::from_json(&events.to_string())
        else {
            panic!("record_events")
        };
        assert_eq!(
            serde_json::to_value(&read.events).unwrap(),
            events["events"]
        );
        assert!(!read.any_unreadable());
        for message in [
            json!({"command": "init", "application": {"id": APP, "name": "A", "environment": "live", "created_at": 5}, "client": client}),
            json!({"command": "manage", "actor": {"type": "operator"}, "client": client, "op": {"name": "list_keys", "include_revoked": true}}),
            json!({"command": "manage", "actor": {"type": "key", "key": identity, "from_browser": false}, "client": client, "op": {"name": "revoke_key", "key_id": KEY}}),
            json!({"command": "report_leaks", "reports": [{"storage_id": storage_id(), "url": "https://github.com/x", "source": "github"}]}),
            json!({"command": "renew_lease", "replica": replica}),
            json!({"command": "lookup_record", "v": 2, "storage_id": storage_id()}),
        ] {
            reads_back::<RingCommand>(message);
        }
    }

    #[test]
    fn management_operations_read_back_what_serde_writes() {
        for op in [
            json!({"name": "list_keys", "include_revoked": false}),
            json!({"name": "create_key", "kind": "publishable", "label": "web", "policy": {"allowed_origins": ["https://a.example"]}}),
            json!({"name": "update_key", "key_id": KEY, "change": {"label": "new"}}),
            json!({"name": "suspend_key", "key_id": KEY}),
            json!({"name": "resume_key", "key_id": KEY}),
            json!({"name": "revoke_key", "key_id": KEY}),
            json!({"name": "rotate_key", "key_id": KEY, "grace_period_seconds": 60}),
            json!({"name": "key_usage", "key_id": KEY}),
            json!({"name": "audit_log", "cursor": 4, "limit": 50, "key_id": KEY, "event": "key.revoked"}),
            json!({"name": "list_webhook_endpoints"}),
            json!({"name": "create_webhook_endpoint", "url": "https://hooks.example/x", "description": "d", "events": ["key.revoked"]}),
            json!({"name": "delete_webhook_endpoint", "endpoint_id": ENDPOINT}),
            json!({"name": "rotate_webhook_secret", "endpoint_id": ENDPOINT}),
            json!({"name": "test_webhook_endpoint", "endpoint_id": ENDPOINT}),
            json!({"name": "enable_webhook_endpoint", "endpoint_id": ENDPOINT}),
            json!({"name": "webhook_deliveries", "endpoint_id": ENDPOINT}),
            json!({"name": "resend_webhook_message", "endpoint_id": ENDPOINT, "message_id": MESSAGE}),
        ] {
            reads_back::<ManageOp>(op);
        }
    }

    #[test]
    fn registry_and_replica_commands_read_back_what_serde_writes() {
        let session = json!({"id": "s1", "csrf": "c", "created_at": 1, "last_seen_at": 2, "expires_at": 3, "ip": null, "user_agent": "ua"});
        for message in [
            json!({"op": "register", "application": {"id": APP, "name": "A", "environment": "test", "created_at": 5}}),
            json!({"op": "list"}),
            json!({"op": "create_session", "token_hash": "h", "session": session}),
            json!({"op": "find_session", "token_hash": "h"}),
            json!({"op": "list_sessions"}),
            json!({"op": "end_session", "id": "s1"}),
            json!({"op": "end_all_sessions"}),
        ] {
            reads_back::<RegistryCommand>(message);
        }
        let replica = json!({"application": APP, "region": "apac", "shard": 1});
        let record = json!({"application_id": APP, "key_id": KEY, "kind": "secret", "status": "expiring", "expires_at": 77});
        for message in [
            json!({"command": "lookup", "v": 2, "replica": replica, "storage_id": storage_id()}),
            json!({"command": "apply", "replica": replica, "push": {"from_version": 1, "to_version": 2, "lease": {"until": 9}, "records": [[storage_id(), record]], "removed": []}}),
        ] {
            reads_back::<ReplicaCommand>(message);
        }
    }

    /// A gate of a later release (during a deploy, or after the control plane alone was
    /// rolled back) can report an event kind this release does not know. That one event
    /// is set aside, named and counted; the batch's other events are still read.
    #[test]
    fn an_event_of_an_unknown_kind_does_not_take_the_batch_with_it() {
        let client = json!({"ip": "203.0.113.1", "user_agent": "test"});
        let known = json!({"key_id": KEY, "event": "rate_limited", "count": 4, "last_at": 9, "observed": {"client": client, "origins": []}});
        let events = json!({"command": "record_events", "v": 2, "events": [
            {"key_id": KEY, "event": "secret_in_screenshot", "count": 3, "last_at": 9, "observed": {"client": client, "origins": []}},
            known,
            {"key_id": KEY, "event": "Sk_Live_\n<script>", "count": 1},
            "not an event",
        ]});
        let Ok(RingCommand::RecordEvents(read)) = RingCommand::from_json(&events.to_string())
        else {
            panic!("record_events")
        };
        assert_eq!(serde_json::to_value(&read.events).unwrap(), json!([known]));
        // What cannot be read is named only by a kind made of the characters event kinds
        // use, so nothing a sender put there reaches a log as it is.
        assert_eq!(
            read.unreadable_summary(),
            "3 × secret_in_screenshot, 2 × unreadable"
        );
    }

    /// The log line stays one short line whatever a report holds: events of one kind are
    /// counted together (counts saturate), and only the first few kinds are named.
    #[test]
    fn the_unreadable_events_log_line_is_bounded() {
        let many_kinds: Vec<_> = (0..500)
            .map(|i| json!({"event": format!("kind_{i}"), "count": 1}))
            .chain((0..3).map(|_| json!({"event": "kind_0", "count": u32::MAX})))
            .collect();
        let events = json!({"command": "record_events", "v": 2, "events": many_kinds});
        let Ok(RingCommand::RecordEvents(read)) = RingCommand::from_json(&events.to_string())
        else {
            panic!("record_events")
        };
        assert_eq!(
            read.unreadable_summary(),
            format!(
                "{} × kind_0, 1 × kind_1, 1 × kind_2, 1 × kind_3, 1 × kind_4, 1 × kind_5, \
                 1 × kind_6, 1 × kind_7, and 492 events of other kinds",
                u32::MAX
            )
        );
    }

    #[test]
    fn an_unknown_kind_is_an_error_that_does_not_quote_it() {
        let error = RingCommand::from_json(r#"{"command":"sk_live_secret"}"#).unwrap_err();
        assert!(!error.to_string().contains("sk_live"), "{error}");
        assert!(ManageOp::from_json(r#"{"name":"drop_everything"}"#).is_err());
        assert!(RegistryCommand::from_json(r#"{"nothing":1}"#).is_err());
    }
}
