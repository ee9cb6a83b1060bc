//! Refuses credentials on the command line, before anything else reads the arguments.
//!
//! An argument is saved in the shell's history and visible to every user of the machine
//! in `ps` (and `/proc/<pid>/cmdline`) while the command runs. So an argument that is an
//! Aero2 key, holds a secret key, or is a flag made to pass one (`--key`, `--token`, …)
//! is refused, with the reason, and nothing is sent anywhere.

use std::ffi::OsString;

use aero2_keys::{parse, KeyKind};

use crate::exit::Failure;

/// Flags other tools use to take a credential. None exists here; each gets an answer
/// saying where the credential goes instead.
const CREDENTIAL_FLAGS: &[&str] = &[
    "--key",
    "--api-key",
    "--secret-key",
    "--secret",
    "--token",
    "--operator-token",
    "--admin-token",
    "--password",
    "--bearer",
    "--auth",
    "--authorization",
];

const WHERE_INSTEAD: &str = "Give it in the environment (AERO2_SECRET_KEY, or \
AERO2_OPERATOR_TOKEN with --app) or with --key-file PATH (--key-file - reads standard input)";

/// Checks every argument (the program name excluded). `Err` names the argument by its
/// position and the key by its hint only.
pub fn check_arguments(args: &[OsString]) -> Result<(), Failure> {
    for (index, arg) in args.iter().enumerate().skip(1) {
        // Arguments that are not UTF-8 cannot hold a key whole; check what can be read.
        let text = arg.to_string_lossy();
        if let Some(flag) = credential_flag(&text) {
            return Err(Failure::usage(format!(
                "refusing {flag}: aero2 never takes a key or token as an argument, because \
                 arguments are saved in your shell history and other users of this machine \
                 can read them in `ps`. {WHERE_INSTEAD}."
            )));
        }
        if let Some((kind, hint)) = key_in(&text) {
            let advice = match kind {
                KeyKind::Secret => {
                    " It may now be in your shell history: remove it from there, and rotate \
                     the key if others can read that file."
                }
                KeyKind::Publishable => "",
            };
            return Err(Failure::usage(format!(
                "refusing argument {index}: it holds an Aero2 {kind} key ({hint}). aero2 never \
                 takes a key as an argument, because arguments are saved in your shell \
                 history and other users of this machine can read them in `ps`. \
                 {WHERE_INSTEAD}.{advice}"
            )));
        }
    }
    Ok(())
}

/// `--token`, `--token=…` and the like.
fn credential_flag(arg: &str) -> Option<&'static str> {
    let name = arg.split_once('=').map_or(arg, |(name, _)| name);
    CREDENTIAL_FLAGS
        .iter()
        .find(|flag| name.eq_ignore_ascii_case(flag))
        .copied()
}

/// A key in an argument: the whole argument (or the value after `=`) when it is a
/// well-formed key of either kind, or a secret key anywhere inside it.
fn key_in(arg: &str) -> Option<(KeyKind, String)> {
    let candidates = [Some(arg), arg.split_once('=').map(|(_, value)| value)];
    for candidate in candidates.into_iter().flatten() {
        let candidate = candidate.trim();
        if let Ok(parsed) = parse(candidate) {
            return Some((parsed.kind, hint(candidate)));
        }
    }
    let start = find_secret_key(arg)?;
    let key = arg.get(start..start + KeyKind::Secret.key_len())?;
    Some((KeyKind::Secret, hint(key)))
}

/// Where the first well-formed secret key starts in `text`.
fn find_secret_key(text: &str) -> Option<usize> {
    let len = KeyKind::Secret.key_len();
    text.match_indices("sk_").map(|(at, _)| at).find(|&at| {
        text.get(at..at + len)
            .is_some_and(|candidate| parse(candidate).is_ok())
    })
}

/// What may be shown of a key: its prefix and last 4 characters.
pub fn hint(key: &str) -> String {
    let prefix = key.get(..aero2_keys::PREFIX_LEN).unwrap_or("");
    let last4 = key.get(key.len().saturating_sub(4)..).unwrap_or("");
    format!("{prefix}…{last4}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use aero2_keys::{ApiKey, ApplicationId, Environment, SystemRandom};

    fn key(kind: KeyKind) -> String {
        let app = ApplicationId::generate(&mut SystemRandom).unwrap();
        ApiKey::generate(kind, Environment::Live, app, &mut SystemRandom)
            .unwrap()
            .expose_secret()
            .to_owned()
    }

    fn args(list: &[&str]) -> Vec<OsString> {
        std::iter::once("aero2")
            .chain(list.iter().copied())
            .map(OsString::from)
            .collect()
    }

    #[test]
    fn ordinary_arguments_pass() {
        assert!(check_arguments(&args(&["keys", "list", "--key-file", "-"])).is_ok());
        assert!(check_arguments(&args(&["keys", "revoke", "key_0123456789abcdef"])).is_ok());
        assert!(check_arguments(&args(&["scan", "sk_live_short"])).is_ok());
    }

    #[test]
    fn a_key_as_an_argument_is_refused_and_only_its_hint_shown() {
        for kind in KeyKind::ALL {
            let value = key(kind);
            for arg in [
                value.clone(),
                format!("--label={value}"),
                format!(" {value}\n"),
            ] {
                let err = check_arguments(&args(&["keys", "list", &arg])).unwrap_err();
                assert_eq!(err.exit, crate::exit::Exit::Usage);
                assert!(!err.message.contains(&value), "{}", err.message);
                assert!(err.message.contains(&hint(&value)));
                assert!(err.message.contains("shell history"));
            }
        }
        let secret = key(KeyKind::Secret);
        let err = check_arguments(&args(&["--label", &format!("Bearer {secret}")])).unwrap_err();
        assert!(err.message.contains(&hint(&secret)));
        assert!(!err.message.contains(&secret));
    }

    #[test]
    fn a_look_alike_with_a_bad_checksum_is_not_a_key() {
        let mut value = key(KeyKind::Secret);
        let last = value.pop().unwrap();
        value.push(if last == 'a' { 'b' } else { 'a' });
        assert!(check_arguments(&args(&[&value])).is_ok());
    }

    #[test]
    fn credential_flags_are_refused() {
        for flag in [
            "--key",
            "--token=abc",
            "--secret-key",
            "--OPERATOR-TOKEN",
            "--api-key=x",
        ] {
            let err = check_arguments(&args(&["keys", "list", flag])).unwrap_err();
            assert!(err.message.contains("AERO2_SECRET_KEY"), "{flag}");
            assert!(!err.message.contains("abc"));
        }
        assert!(check_arguments(&args(&["--key-file", "x", "--key-id", "key_x"])).is_ok());
    }
}
