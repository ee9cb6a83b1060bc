//! Exit statuses and the one error type every command returns.
//!
//! Each failure has a class, and each class its own exit status, so scripts can tell
//! "fix the command" from "the key was refused" from "try again later". The table is
//! printed in `aero2 --help`; [`EXIT_STATUS_HELP`] is that text.

use std::fmt;

/// What the process exits with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Success; for `scan`, no secret key found.
    Ok = 0,
    /// `scan` found at least one secret key.
    Findings = 1,
    /// The command line is wrong, or the API refused the request as invalid (400, 413, 415).
    Usage = 2,
    /// Authentication failed (401), or no usable credential was given.
    Authentication = 3,
    /// Refused: not allowed, or a conflict (403, 409, 429 and other 4xx); or a local
    /// refusal such as a confirmation declined.
    Refused = 4,
    /// Not found (404).
    NotFound = 5,
    /// The API could not be reached, or it failed (5xx).
    Unavailable = 6,
    /// `audit verify`: the audit log does not match its hash chain or its signed
    /// checkpoint.
    Unverified = 7,
}

impl Exit {
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The class of an HTTP error status.
    pub fn for_status(status: u16) -> Exit {
        match status {
            400 | 411 | 413 | 414 | 415 | 422 | 431 => Exit::Usage,
            401 => Exit::Authentication,
            404 => Exit::NotFound,
            402..=499 => Exit::Refused,
            _ => Exit::Unavailable,
        }
    }
}

/// The exit-status table of `aero2 --help` (a test keeps the two in step).
#[cfg(test)]
pub const EXIT_STATUS_HELP: &str = "\
Exit status:
  0  success (scan: no secret key found)
  1  scan found a secret key
  2  usage: a wrong command line, or a request the API refused as invalid (400)
  3  authentication failed (401), or no usable credential
  4  refused: not allowed or a conflict (403, 409, 429, ...), or a declined confirmation
  5  not found (404)
  6  the API could not be reached, or failed (5xx)
  7  audit verify: the log does not match its hash chain or signed checkpoint";

/// A command's failure: what to tell the user (on standard error) and how to exit.
///
/// Messages never hold a key or a token: at most a key's hint (prefix and last 4).
#[derive(Debug)]
pub struct Failure {
    pub exit: Exit,
    pub message: String,
}

impl Failure {
    pub fn new(exit: Exit, message: impl Into<String>) -> Failure {
        Failure {
            exit,
            message: message.into(),
        }
    }

    pub fn usage(message: impl Into<String>) -> Failure {
        Failure::new(Exit::Usage, message)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

pub type Result<T, E = Failure> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_statuses_map_to_their_class() {
        assert_eq!(Exit::for_status(400), Exit::Usage);
        assert_eq!(Exit::for_status(401), Exit::Authentication);
        assert_eq!(Exit::for_status(403), Exit::Refused);
        assert_eq!(Exit::for_status(404), Exit::NotFound);
        assert_eq!(Exit::for_status(405), Exit::Refused);
        assert_eq!(Exit::for_status(409), Exit::Refused);
        assert_eq!(Exit::for_status(429), Exit::Refused);
        assert_eq!(Exit::for_status(500), Exit::Unavailable);
        assert_eq!(Exit::for_status(502), Exit::Unavailable);
        assert_eq!(Exit::for_status(503), Exit::Unavailable);
        // A redirect is not followed (the key would go with it): the API is not there.
        assert_eq!(Exit::for_status(302), Exit::Unavailable);
    }

    #[test]
    fn the_help_lists_every_status() {
        for exit in [
            Exit::Ok,
            Exit::Findings,
            Exit::Usage,
            Exit::Authentication,
            Exit::Refused,
            Exit::NotFound,
            Exit::Unavailable,
            Exit::Unverified,
        ] {
            assert!(EXIT_STATUS_HELP.contains(&format!("\n  {}  ", exit.code())));
        }
    }
}
