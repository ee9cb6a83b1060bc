//! The management API over blocking HTTP (ureq, rustls).
//!
//! Every answer that is not a 2xx becomes a [`Failure`] with the API's code and message
//! and the exit status of its class. Redirects are not followed, so the key is never
//! sent anywhere but the URL the user configured.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

use crate::credentials::Credential;
use crate::exit::{Exit, Failure, Result};

pub const API_URL_VAR: &str = "AERO2_API_URL";
pub const DEFAULT_API_URL: &str = "http://127.0.0.1:8787";
/// Set to 1 to allow `http://` to a host other than this machine (a secret key would
/// cross the network in clear text).
pub const ALLOW_HTTP_VAR: &str = "AERO2_ALLOW_INSECURE_HTTP";

pub struct Api {
    base: String,
    agent: ureq::Agent,
    stream_agent: ureq::Agent,
    credential: Credential,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    code: String,
    message: String,
}

impl Api {
    /// `base`: `--api-url`, else `AERO2_API_URL`, else [`DEFAULT_API_URL`].
    pub fn new(base: Option<&str>, credential: Credential) -> Result<Api> {
        let from_env = std::env::var(API_URL_VAR).ok();
        let base = base
            .or(from_env.as_deref())
            .filter(|b| !b.trim().is_empty())
            .unwrap_or(DEFAULT_API_URL)
            .trim()
            .trim_end_matches('/')
            .to_owned();
        check_base_url(&base, std::env::var(ALLOW_HTTP_VAR).is_ok_and(|v| v == "1"))?;
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .redirects(0)
            .user_agent(concat!("aero2-cli/", env!("CARGO_PKG_VERSION")))
            .build();
        let stream_agent = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(10))
            .timeout_read(Duration::from_secs(60))
            .redirects(0)
            .user_agent(concat!("aero2-cli/", env!("CARGO_PKG_VERSION")))
            .build();
        Ok(Api {
            base,
            agent,
            stream_agent,
            credential,
        })
    }

    pub fn credential(&self) -> &Credential {
        &self.credential
    }

    /// `/v1` for a secret key, `/v1/applications/{id}` for the operator.
    pub fn scope_path(&self) -> String {
        self.credential.scope_path()
    }

    pub fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.send("GET", path, None)
    }

    pub fn post<T: DeserializeOwned>(&self, path: &str, body: Option<&Value>) -> Result<T> {
        self.send("POST", path, body)
    }

    pub fn patch<T: DeserializeOwned>(&self, path: &str, body: &Value) -> Result<T> {
        self.send("PATCH", path, Some(body))
    }

    /// A public document of the API (`/.well-known/jwks.json`): sent without the
    /// credential, which it does not need.
    pub fn get_public<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        let request = self
            .agent
            .get(&format!("{}{path}", self.base))
            .set("Accept", "application/json");
        let response = self.answer(request.call(), "GET", path)?;
        read_json(response, "GET", path)
    }

    /// A long answer read as it arrives (the JSON Lines export): no limit on the whole
    /// transfer, only on each wait for more of it.
    pub fn get_stream(&self, path: &str) -> Result<impl std::io::Read + Send> {
        let request = self
            .stream_agent
            .get(&format!("{}{path}", self.base))
            .set("Authorization", &self.credential.bearer())
            .set("Accept", "application/x-ndjson");
        Ok(self.answer(request.call(), "GET", path)?.into_reader())
    }

    fn send<T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<T> {
        let url = format!("{}{path}", self.base);
        let request = self
            .agent
            .request(method, &url)
            .set("Authorization", &self.credential.bearer())
            .set("Accept", "application/json");
        let result = match body {
            Some(body) => request
                .set("Content-Type", "application/json")
                .send_string(&body.to_string()),
            None => request.call(),
        };
        let response = self.answer(result, method, path)?;
        read_json(response, method, path)
    }

    /// A 2xx response, or the failure of its class.
    fn answer(
        &self,
        result: std::result::Result<ureq::Response, ureq::Error>,
        method: &str,
        path: &str,
    ) -> Result<ureq::Response> {
        let response = match result {
            Ok(response) => response,
            Err(ureq::Error::Status(status, response)) => {
                return Err(error_from_response(status, response, method, path))
            }
            Err(ureq::Error::Transport(transport)) => {
                return Err(Failure::new(
                    Exit::Unavailable,
                    format!(
                        "could not reach the API at {} ({method} {path}): {transport}",
                        self.base
                    ),
                ))
            }
        };
        let status = response.status();
        if !(200..300).contains(&status) {
            return Err(error_from_response(status, response, method, path));
        }
        Ok(response)
    }
}

fn read_json<T: DeserializeOwned>(response: ureq::Response, method: &str, path: &str) -> Result<T> {
    let text = response.into_string().map_err(|err| {
        Failure::new(
            Exit::Unavailable,
            format!("{method} {path}: the answer could not be read: {err}"),
        )
    })?;
    serde_json::from_str(&text).map_err(|err| {
        Failure::new(
            Exit::Unavailable,
            format!("{method} {path}: the answer is not what the API sends: {err}"),
        )
    })
}

fn error_from_response(status: u16, response: ureq::Response, method: &str, path: &str) -> Failure {
    let retry_after = response.header("Retry-After").map(str::to_owned);
    let text = response.into_string().unwrap_or_default();
    let mut message = match serde_json::from_str::<ErrorBody>(&text) {
        Ok(body) => format!(
            "{status} {}: {}",
            body.error.code,
            printable(&body.error.message)
        ),
        Err(_) if (300..400).contains(&status) => format!(
            "{status}: the API answered {method} {path} with a redirect, which is not followed \
             (the key would go with it); check {API_URL_VAR}"
        ),
        Err(_) => {
            let snippet: String = printable(&text).chars().take(200).collect();
            format!("{status} from {method} {path}: {snippet}")
        }
    };
    if let Some(seconds) = retry_after {
        message.push_str(&format!(" (retry after {} s)", printable(&seconds)));
    }
    Failure::new(Exit::for_status(status), message)
}

/// Text from the network, with control characters replaced, so it cannot drive the
/// terminal.
pub fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// A JSON string for display, control characters neutralised; `-` when absent.
pub fn text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => printable(s),
        serde_json::Value::Null => "-".into(),
        other => printable(&other.to_string()),
    }
}

/// `https://` anywhere; `http://` only to this machine unless explicitly allowed.
fn check_base_url(base: &str, allow_http: bool) -> Result<()> {
    let (scheme, rest) = base.split_once("://").ok_or_else(|| {
        Failure::usage(format!(
            "{API_URL_VAR} must be a URL such as https://keys.example.com, not {base:?}"
        ))
    })?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.is_empty() || authority.contains('@') {
        return Err(Failure::usage(format!(
            "{API_URL_VAR} must name a host, without a user name or password"
        )));
    }
    match scheme.to_ascii_lowercase().as_str() {
        "https" => Ok(()),
        "http" if allow_http || is_loopback(authority) => Ok(()),
        "http" => Err(Failure::usage(format!(
            "refusing to send a key over plain http to {authority}: use https, or set \
             {ALLOW_HTTP_VAR}=1 if the network between is yours"
        ))),
        _ => Err(Failure::usage(format!(
            "{API_URL_VAR} must start with https:// (or http:// for this machine)"
        ))),
    }
}

fn is_loopback(authority: &str) -> bool {
    let host = if let Some(rest) = authority.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        authority
            .rsplit_once(':')
            .map_or(authority, |(host, _)| host)
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A query string from the pairs whose value is set, percent-encoded.
pub fn query(pairs: &[(&str, Option<String>)]) -> String {
    let mut out = String::new();
    for (name, value) in pairs {
        if let Some(value) = value {
            out.push(if out.is_empty() { '?' } else { '&' });
            out.push_str(name);
            out.push('=');
            for byte in value.bytes() {
                if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
                    out.push(char::from(byte));
                } else {
                    out.push_str(&format!("%{byte:02X}"));
                }
            }
        }
    }
    out
}

/// A path segment that must be an id of the given prefix (`key_…`), checked before it is
/// put in a URL.
pub fn key_id(text: &str) -> Result<String> {
    aero2_keys::KeyId::parse(text)
        .map(|id| id.to_string())
        .map_err(|_| {
            Failure::usage(format!(
                "a key id is key_ followed by 16 characters from [0-9A-Za-z], not {:?}",
                printable(text)
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_to_this_machine() {
        for ok in [
            "http://127.0.0.1:8787",
            "http://localhost:8787",
            "http://[::1]:8787",
            "https://keys.example.com",
            "HTTPS://keys.example.com/base",
        ] {
            assert!(check_base_url(ok, false).is_ok(), "{ok}");
        }
        for refused in [
            "http://keys.example.com",
            "http://10.0.0.1:8787",
            "ftp://x",
            "keys.example.com",
            "https://user:pw@keys.example.com",
            "http://127.0.0.1.example.com",
        ] {
            assert_eq!(
                check_base_url(refused, false).unwrap_err().exit,
                Exit::Usage,
                "{refused}"
            );
        }
        assert!(check_base_url("http://keys.internal", true).is_ok());
    }

    #[test]
    fn queries_are_encoded_and_skip_unset_values() {
        assert_eq!(
            query(&[
                ("limit", Some("50".into())),
                ("cursor", None),
                ("event", Some("key.revoked&x=1".into()))
            ]),
            "?limit=50&event=key.revoked%26x%3D1"
        );
        assert_eq!(query(&[("cursor", None)]), "");
    }

    #[test]
    fn key_ids_are_checked_before_use_in_a_path() {
        assert!(key_id("key_0123456789abcdef").is_ok());
        assert_eq!(key_id("key_../../x").unwrap_err().exit, Exit::Usage);
    }

    #[test]
    fn control_characters_from_the_network_are_neutralised() {
        assert_eq!(printable("a\u{1b}[2Jb\n"), "a [2Jb ");
    }
}
