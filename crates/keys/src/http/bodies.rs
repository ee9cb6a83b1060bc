//! The management API's request bodies and their validation. They live in the core so the
//! worker and the fuzz targets decode and check them with the same code.
//!
//! Numbers follow JSON Schema rather than Rust: `3600.0` is an integer (its value is whole),
//! so it is accepted wherever `3600` is.

use alloc::borrow::ToOwned;
use alloc::string::String;
use core::fmt;

use serde::Deserialize;

use crate::format::{Environment, KeyKind};
use crate::http::errors::ErrorCode;
use crate::lifecycle::clean_text;

/// `POST /v1/keys`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateKeyRequest {
    pub kind: KeyKind,
    /// Absent means `default`; `null` is refused, as the schema says a string.
    #[serde(default = "default_label")]
    pub label: String,
}

fn default_label() -> String {
    "default".into()
}

impl CreateKeyRequest {
    pub fn label(&self) -> &str {
        &self.label
    }
}

/// `POST /v1/keys/{id}/rotate`; the body is optional. The grace period is range-checked
/// by the key ring, which knows the configured default.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotateRequest {
    #[serde(default, deserialize_with = "whole_number")]
    pub grace_period_seconds: Option<u64>,
}

/// A non-negative whole number written as `7` or `7.0`, as JSON Schema's `integer` allows.
/// Fractions, negatives, values past 2^53 (where a double is no longer exact) and
/// anything that is not a number are refused.
fn whole_number<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<u64>, D::Error> {
    struct WholeNumber;
    impl<'de> serde::de::Visitor<'de> for WholeNumber {
        type Value = Option<u64>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a non-negative whole number")
        }
        fn visit_u64<E: serde::de::Error>(self, value: u64) -> Result<Self::Value, E> {
            Ok(Some(value))
        }
        fn visit_i64<E: serde::de::Error>(self, value: i64) -> Result<Self::Value, E> {
            u64::try_from(value)
                .map(Some)
                .map_err(|_| E::custom("a non-negative whole number"))
        }
        fn visit_f64<E: serde::de::Error>(self, value: f64) -> Result<Self::Value, E> {
            const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
            let whole = value as u64;
            if (0.0..=EXACT).contains(&value) && whole as f64 == value {
                Ok(Some(whole))
            } else {
                Err(E::custom("a non-negative whole number"))
            }
        }
        // An absent field is `None` (serde's default); an explicit `null` is refused, as
        // the schema says an integer.
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Err(E::custom("a non-negative whole number, not null"))
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Err(E::custom("a non-negative whole number, not null"))
        }
        fn visit_some<D2: serde::Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_any(self)
        }
    }
    deserializer.deserialize_option(WholeNumber)
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
    pub const fn error_code(&self) -> ErrorCode {
        match self {
            RequestError::InvalidName => ErrorCode::InvalidName,
            RequestError::InvalidEnvironment => ErrorCode::InvalidEnvironment,
        }
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.error_code().message())
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
    fn grace_periods_are_whole_numbers_in_any_json_spelling() {
        let grace = |json: &str| {
            serde_json::from_str::<RotateRequest>(json).map(|r| r.grace_period_seconds)
        };
        assert_eq!(grace("{}").unwrap(), None);
        // Found by schemathesis: null was taken for "absent", though the schema says integer.
        assert!(grace(r#"{"grace_period_seconds":null}"#).is_err());
        assert_eq!(
            grace(r#"{"grace_period_seconds":3600}"#).unwrap(),
            Some(3600)
        );
        // Found by schemathesis: JSON Schema counts 73047.0 as an integer.
        assert_eq!(
            grace(r#"{"grace_period_seconds":73047.0}"#).unwrap(),
            Some(73047)
        );
        assert_eq!(
            grace(r#"{"grace_period_seconds":7.3e4}"#).unwrap(),
            Some(73000)
        );
        for refused in ["0.5", "-1", "-1.0", "1e300", "\"60\"", "true", "[]"] {
            let json = alloc::format!(r#"{{"grace_period_seconds":{refused}}}"#);
            assert!(grace(&json).is_err(), "{refused} was accepted");
        }
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
