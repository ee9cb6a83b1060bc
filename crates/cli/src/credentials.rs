//! Where the credential comes from: the environment, or a file (standard input with `-`).
//! Never an argument (see [`crate::guard`]).
//!
//! A secret key is kept as the core's [`ApiKey`], whose `Debug` and `Display` show only
//! its hint and whose memory is wiped on drop; the operator token as a [`Token`], whose
//! `Debug` shows nothing of it.

use std::fmt;
use std::io::Read;
use std::path::Path;

use aero2_keys::{ApiKey, ApplicationId, KeyKind};
use zeroize::Zeroizing;

use crate::exit::{Exit, Failure, Result};

pub const SECRET_KEY_VAR: &str = "AERO2_SECRET_KEY";
pub const OPERATOR_TOKEN_VAR: &str = "AERO2_OPERATOR_TOKEN";

/// Who a command acts as.
#[derive(Debug)]
pub enum Credential {
    /// An application's secret key: `/v1/keys…`, `/v1/audit_log`.
    SecretKey(ApiKey),
    /// The operator token, for one application: `/v1/applications/{id}/…`.
    Operator { token: Token, app: ApplicationId },
}

impl Credential {
    /// The `Authorization` header's value. The only place the credential is read whole.
    pub fn bearer(&self) -> String {
        match self {
            Credential::SecretKey(key) => format!("Bearer {}", key.expose_secret()),
            Credential::Operator { token, .. } => format!("Bearer {}", token.0.as_str()),
        }
    }

    /// The application the credential acts on.
    pub fn application_id(&self) -> ApplicationId {
        match self {
            Credential::SecretKey(key) => key.application_id(),
            Credential::Operator { app, .. } => *app,
        }
    }

    /// The path prefix of the key and audit routes for this credential.
    pub fn scope_path(&self) -> String {
        match self {
            Credential::SecretKey(_) => "/v1".to_owned(),
            Credential::Operator { app, .. } => format!("/v1/applications/{app}"),
        }
    }

    /// The hint of the secret key in use, to notice when a command changes that very key.
    pub fn key_hint(&self) -> Option<String> {
        match self {
            Credential::SecretKey(key) => Some(key.hint()),
            Credential::Operator { .. } => None,
        }
    }
}

/// The operator token (`ADMIN_TOKEN`). Nothing of it is ever printed.
pub struct Token(Zeroizing<String>);

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(redacted)")
    }
}

/// Loads the credential a command needs: the operator token when `app` is given, else
/// a secret key. `key_file` (a path, or `-` for standard input) wins over the environment.
pub fn load(key_file: Option<&Path>, app: Option<&str>) -> Result<Credential> {
    match app {
        Some(app) => {
            let app = ApplicationId::parse(app).map_err(|_| {
                Failure::usage(format!(
                    "--app takes an application id such as app_3hG8kQ2mZ0pX7aLc, not {app:?}"
                ))
            })?;
            let text = read_source(key_file, OPERATOR_TOKEN_VAR)?.ok_or_else(|| {
                Failure::new(
                    Exit::Authentication,
                    format!(
                        "--app needs the operator token (the worker's ADMIN_TOKEN): set \
                         {OPERATOR_TOKEN_VAR}, or use --key-file PATH (- for standard input)"
                    ),
                )
            })?;
            if aero2_keys::parse(&text).is_ok() {
                return Err(Failure::new(
                    Exit::Authentication,
                    "--app needs the operator token (ADMIN_TOKEN), but an Aero2 key was given; \
                     without --app, a secret key manages its own application",
                ));
            }
            check_header_safe(&text)?;
            Ok(Credential::Operator {
                token: Token(Zeroizing::new(text)),
                app,
            })
        }
        None => {
            let text = read_source(key_file, SECRET_KEY_VAR)?.ok_or_else(|| {
                Failure::new(
                    Exit::Authentication,
                    format!(
                        "no key: set {SECRET_KEY_VAR} to a secret key of the application, or \
                         use --key-file PATH (- for standard input). For any application, \
                         use --app app_… with {OPERATOR_TOKEN_VAR}"
                    ),
                )
            })?;
            let source = match key_file {
                Some(path) if path == Path::new("-") => "the key on standard input".to_owned(),
                Some(path) => format!("the key in {}", path.display()),
                None => SECRET_KEY_VAR.to_owned(),
            };
            // The parse error's message holds no part of the input.
            let key = ApiKey::parse(&text).map_err(|err| {
                Failure::new(
                    Exit::Authentication,
                    format!("{source} is not a usable Aero2 key: {err}"),
                )
            })?;
            if key.kind() != KeyKind::Secret {
                return Err(Failure::new(
                    Exit::Authentication,
                    format!(
                        "{source} is a publishable key ({}); managing keys needs a secret key",
                        key.hint()
                    ),
                ));
            }
            Ok(Credential::SecretKey(key))
        }
    }
}

/// The trimmed credential from the file or the variable; `None` when neither is set.
fn read_source(key_file: Option<&Path>, var: &str) -> Result<Option<String>> {
    let text = match key_file {
        Some(path) if path == Path::new("-") => {
            let mut text = String::new();
            std::io::stdin()
                .take(64 * 1024)
                .read_to_string(&mut text)
                .map_err(|err| Failure::usage(format!("--key-file -: {err}")))?;
            text
        }
        Some(path) => {
            warn_if_readable_by_others(path);
            std::fs::read_to_string(path)
                .map_err(|err| Failure::usage(format!("--key-file {}: {err}", path.display())))?
        }
        None => match std::env::var(var) {
            Ok(text) => text,
            Err(std::env::VarError::NotPresent) => return Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => {
                return Err(Failure::new(
                    Exit::Authentication,
                    format!("{var} is not valid UTF-8"),
                ))
            }
        },
    };
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Ok(None);
    }
    Ok(Some(trimmed.to_owned()))
}

fn check_header_safe(token: &str) -> Result<()> {
    if token.bytes().all(|b| (0x21..0x7f).contains(&b)) {
        Ok(())
    } else {
        Err(Failure::new(
            Exit::Authentication,
            "the operator token holds spaces, control or non-ASCII characters; it cannot be \
             sent in an Authorization header",
        ))
    }
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path) {
        if meta.is_file() && meta.permissions().mode() & 0o077 != 0 {
            eprintln!(
                "warning: {} can be read by other users (mode {:o}); chmod 600 it",
                path.display(),
                meta.permissions().mode() & 0o777
            );
        }
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_path: &Path) {}

#[cfg(test)]
mod tests {
    use super::*;
    use aero2_keys::{Environment, SystemRandom};

    #[test]
    fn debug_output_holds_no_credential() {
        let app = ApplicationId::generate(&mut SystemRandom).unwrap();
        let key =
            ApiKey::generate(KeyKind::Secret, Environment::Live, app, &mut SystemRandom).unwrap();
        let value = key.expose_secret().to_owned();
        let credential = Credential::SecretKey(key);
        let debug = format!("{credential:?}");
        assert!(!debug.contains(&value));
        assert!(debug.contains(&value[value.len() - 4..]));

        let operator = Credential::Operator {
            token: Token(Zeroizing::new("operator-token-1234567890".into())),
            app,
        };
        let debug = format!("{operator:?}");
        assert!(!debug.contains("operator-token"), "{debug}");
        assert_eq!(operator.bearer(), "Bearer operator-token-1234567890");
        assert_eq!(operator.scope_path(), format!("/v1/applications/{app}"));
    }

    #[test]
    fn a_key_file_is_read_trimmed() {
        let dir = std::env::temp_dir().join(format!("aero2-cred-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("token");
        std::fs::write(&path, "  operator-token-abcdef\n").unwrap();
        let app = "app_0123456789abcdef";
        match load(Some(&path), Some(app)).unwrap() {
            Credential::Operator { token, .. } => {
                assert_eq!(token.0.as_str(), "operator-token-abcdef")
            }
            other => panic!("{other:?}"),
        }
        std::fs::write(&path, "pk_live_nope").unwrap();
        let err = load(Some(&path), None).unwrap_err();
        assert_eq!(err.exit, Exit::Authentication);
        assert!(!err.message.contains("nope"), "{}", err.message);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
