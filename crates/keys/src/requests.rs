//! The management API's request bodies and their validation. They live in the core so the
//! worker and the fuzz targets decode and check them with the same code.

use alloc::borrow::ToOwned;
use alloc::string::String;
use core::fmt;

use serde::Deserialize;

use crate::format::{Environment, KeyKind};
use crate::lifecycle::clean_text;

/// `POST /v1/keys`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateKeyRequest {
    pub kind: KeyKind,
    pub label: Option<String>,
}

impl CreateKeyRequest {
    pub fn label(&self) -> &str {
        self.label.as_deref().unwrap_or("default")
    }
}

/// `POST /v1/keys/{id}/rotate`; the body is optional. The grace period is range-checked
/// by the key ring, which knows the configured default.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotateRequest {
    pub grace_period_seconds: Option<u64>,
}

/// `POST /v1/applications`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateApplicationRequest {
    pub name: String,
    pub environment: String,
}

/// A valid new application's name and environment.
#[derive(Debug, PartialEq, Eq)]
pub struct NewApplication {
    pub name: String,
    pub environment: Environment,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestError {
    InvalidName,
    InvalidEnvironment,
}

impl RequestError {
    pub const fn code(&self) -> &'static str {
        match self {
            RequestError::InvalidName => "invalid_name",
            RequestError::InvalidEnvironment => "invalid_environment",
        }
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RequestError::InvalidName => {
                "name must have 1 to 100 characters and no control characters"
            }
            RequestError::InvalidEnvironment => {
                "environment must be \"production\" or \"development\""
            }
        })
    }
}

impl CreateApplicationRequest {
    /// Production applications get live keys, development ones test keys.
    pub fn validate(&self) -> Result<NewApplication, RequestError> {
        let name = clean_text(&self.name, 100).ok_or(RequestError::InvalidName)?;
        let environment = match self.environment.as_str() {
            "production" => Environment::Live,
            "development" => Environment::Test,
            _ => return Err(RequestError::InvalidEnvironment),
        };
        Ok(NewApplication {
            name: name.to_owned(),
            environment,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(name: &str, environment: &str) -> CreateApplicationRequest {
        CreateApplicationRequest {
            name: name.into(),
            environment: environment.into(),
        }
    }

    #[test]
    fn applications_are_validated() {
        let ok = app("  Shop ", "production").validate().unwrap();
        assert_eq!(ok.name, "Shop");
        assert_eq!(ok.environment, Environment::Live);
        assert_eq!(
            app("Dev", "development").validate().unwrap().environment,
            Environment::Test
        );
        assert_eq!(
            app(" ", "production").validate(),
            Err(RequestError::InvalidName)
        );
        assert_eq!(
            app("a\u{7}", "production").validate(),
            Err(RequestError::InvalidName)
        );
        let long: String = core::iter::repeat_n('n', 101).collect();
        assert_eq!(
            app(&long, "production").validate(),
            Err(RequestError::InvalidName)
        );
        assert_eq!(
            app("x", "staging").validate(),
            Err(RequestError::InvalidEnvironment)
        );
    }

    #[test]
    fn error_messages_are_fixed_whatever_the_input() {
        // Found by cargo-fuzz (request_bodies): `["s  ",""]`, whose one-letter name appears
        // in the fixed sentence by chance. Messages never quote their input.
        let from_json: CreateApplicationRequest = serde_json::from_str(r#"["s  ",""]"#).unwrap();
        let err = from_json.validate().unwrap_err();
        assert_eq!(err, RequestError::InvalidEnvironment);
        assert_eq!(
            alloc::string::ToString::to_string(&err),
            "environment must be \"production\" or \"development\""
        );
    }
}
