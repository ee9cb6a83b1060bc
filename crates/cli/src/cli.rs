//! The command line: every command, flag and help text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const ABOUT: &str = "Manage Aero2 API keys and the audit log, and scan files for leaked keys";

/// The credentials paragraph, as a literal so `concat!` can put it in other help texts.
macro_rules! credentials_help {
    () => {
        "Credentials (never as arguments: those end up in shell history and `ps`):
  AERO2_SECRET_KEY      a secret key of the application to manage
  AERO2_OPERATOR_TOKEN  the operator token (ADMIN_TOKEN), for --app app_...
  --key-file PATH       read the key or token from a file; --key-file - reads standard input
  AERO2_API_URL         the API (default http://127.0.0.1:8787, what `make dev` serves)"
    };
}

const MAIN_AFTER: &str = concat!(
    credentials_help!(),
    "

Examples:
  export AERO2_SECRET_KEY=...            # `make dev` prints the command; set once, not per command
  aero2 keys list
  aero2 keys create --label billing | npx wrangler secret put AERO2_SECRET_KEY
  aero2 keys rotate key_3hG8kQ2mZ0pX7aLc --grace 1h
  aero2 audit export > audit.jsonl
  aero2 scan .                           # exit 1 if a real secret key is found
  aero2 scan --install-hook              # refuse commits that would record one

Exit status:
  0  success (scan: no secret key found)
  1  scan found a secret key
  2  usage: a wrong command line, or a request the API refused as invalid (400)
  3  authentication failed (401), or no usable credential
  4  refused: not allowed or a conflict (403, 409, 429, ...), or a declined confirmation
  5  not found (404)
  6  the API could not be reached, or failed (5xx)
  7  audit verify: the log does not match its hash chain or signed checkpoint"
);

#[derive(Parser, Debug)]
#[command(
    name = "aero2",
    version,
    about = ABOUT,
    after_help = MAIN_AFTER,
    propagate_version = true,
    disable_help_subcommand = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// List, create, rotate, revoke, suspend, resume and change keys
    #[command(subcommand, after_help = KEYS_AFTER)]
    Keys(KeysCommand),
    /// Read and export the audit log
    #[command(subcommand, after_help = AUDIT_AFTER)]
    Audit(AuditCommand),
    /// Find Aero2 keys in files: secret keys are findings (exit 1)
    Scan(ScanArgs),
    /// Print a shell completion script
    #[command(after_help = COMPLETIONS_AFTER)]
    Completions {
        /// The shell
        shell: clap_complete::Shell,
    },
}

const KEYS_AFTER: &str = concat!(
    credentials_help!(),
    "

Examples:
  aero2 keys list
  aero2 keys create --label billing --scopes keys:read,audit:read
  aero2 keys rotate key_3hG8kQ2mZ0pX7aLc --grace 1h | npx wrangler secret put AERO2_SECRET_KEY
  aero2 keys revoke key_3hG8kQ2mZ0pX7aLc --yes
  AERO2_OPERATOR_TOKEN=... aero2 keys list --app app_3hG8kQ2mZ0pX7aLc

Exit status: 0 ok, 2 usage, 3 authentication (401), 4 refused (403, 409, 429),
5 not found (404), 6 unreachable or 5xx"
);

const AUDIT_AFTER: &str = concat!(
    credentials_help!(),
    "

Examples:
  aero2 audit list --event key.revoked --limit 20
  aero2 audit export > audit.jsonl
  aero2 audit export --app app_3hG8kQ2mZ0pX7aLc | jq -c 'select(.event == \"key.leaked\")'
  aero2 audit verify
  aero2 audit verify --file audit.jsonl"
);

const COMPLETIONS_AFTER: &str = "\
Examples:
  aero2 completions bash > ~/.local/share/bash-completion/completions/aero2
  aero2 completions zsh > ~/.zfunc/_aero2      # with fpath+=(~/.zfunc) in ~/.zshrc
  aero2 completions fish > ~/.config/fish/completions/aero2.fish";

/// Where the credential comes from, and which application: shared by every API command.
#[derive(Args, Debug, Clone)]
pub struct Target {
    /// Act as the operator on this application (app_...), with AERO2_OPERATOR_TOKEN
    #[arg(long, value_name = "APP_ID")]
    pub app: Option<String>,
    /// Read the secret key (or, with --app, the operator token) from this file; - reads
    /// standard input
    #[arg(long, value_name = "PATH")]
    pub key_file: Option<PathBuf>,
    /// The API's URL [default: $AERO2_API_URL, else http://127.0.0.1:8787]
    #[arg(long, value_name = "URL")]
    pub api_url: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// List keys (never their values): a table, or --json for scripts
    #[command(
        after_help = "Examples:\n  aero2 keys list\n  aero2 keys list --include-revoked --json | jq '.keys[].id'"
    )]
    List {
        /// Include revoked keys
        #[arg(long)]
        include_revoked: bool,
        /// Print the API's JSON instead of a table
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        target: Target,
    },
    /// Create a key: its value alone goes to standard output, once
    #[command(
        after_help = "The new key's value is printed alone on standard output, so it can be piped; \
         everything else goes to standard error. It is never shown again.\n\n\
         Examples:\n  aero2 keys create --label billing\n  \
         aero2 keys create --label ci --scopes keys:read --expires-in 30d --allowed-ips 203.0.113.0/24\n  \
         aero2 keys create --kind publishable --allowed-origins https://shop.example\n  \
         aero2 keys create --label orders --route 'GET,HEAD /v1/orders/*' --rate-limit 100/min\n  \
         aero2 keys create --label worker | npx wrangler secret put AERO2_SECRET_KEY\n  \
         aero2 keys create --canary --label 'CI decoy' --canary-suspends key_3hG8kQ2mZ0pX7aLc > decoy.txt"
    )]
    Create {
        /// The kind of key
        #[arg(long, value_enum, default_value_t = Kind::Secret)]
        kind: Kind,
        /// A name for the key (1 to 100 characters) [default: the API's, "default"]
        #[arg(long)]
        label: Option<String>,
        /// A canary: a secret key nothing should use, to plant where a thief would look. Any
        /// use is refused as unknown, recorded (key.canary_used) and alerted at once
        #[arg(long)]
        canary: bool,
        /// With --canary: keys to suspend when it is used, comma-separated or repeated
        #[arg(
            long,
            value_name = "KEY_IDS",
            value_delimiter = ',',
            requires = "canary"
        )]
        canary_suspends: Vec<String>,
        #[command(flatten)]
        policy: PolicyArgs,
        /// Print the API's whole JSON answer (with the value) on standard output instead
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        target: Target,
    },
    /// Rotate a key: the new value alone goes to standard output, once
    #[command(
        after_help = "The old key keeps passing the gate for the grace period (24h unless --grace says \
         otherwise; 0 to 7d), but can no longer manage keys. With --grace 0 it is revoked \
         at once: that asks for confirmation on a terminal, and takes --yes in scripts.\n\n\
         Examples:\n  aero2 keys rotate key_3hG8kQ2mZ0pX7aLc\n  \
         aero2 keys rotate key_3hG8kQ2mZ0pX7aLc --grace 1h | npx wrangler secret put AERO2_SECRET_KEY\n  \
         aero2 keys rotate key_3hG8kQ2mZ0pX7aLc --grace 0 --yes    # a leaked key"
    )]
    Rotate {
        /// The key to rotate (key_...)
        key_id: String,
        /// How long the old key keeps working: 0, 90s, 15m, 1h, 7d [default: the API's, 24h]
        #[arg(long, value_name = "DURATION", value_parser = crate::units::parse_duration)]
        grace: Option<u64>,
        /// Do not ask for confirmation (needed without a terminal when --grace is 0)
        #[arg(long, short = 'y')]
        yes: bool,
        /// Print the API's whole JSON answer (with the new value) on standard output instead
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        target: Target,
    },
    /// Revoke a key at once (asks first on a terminal; --yes in scripts)
    #[command(
        after_help = "Examples:\n  aero2 keys revoke key_3hG8kQ2mZ0pX7aLc\n  aero2 keys revoke key_3hG8kQ2mZ0pX7aLc --yes"
    )]
    Revoke {
        /// The key to revoke (key_...)
        key_id: String,
        /// Do not ask for confirmation (needed without a terminal)
        #[arg(long, short = 'y')]
        yes: bool,
        /// Print the API's JSON answer on standard output
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        target: Target,
    },
    /// Suspend a key: refused (401 suspended_key) until resumed, nothing lost
    #[command(after_help = "Examples:\n  aero2 keys suspend key_3hG8kQ2mZ0pX7aLc")]
    Suspend {
        /// The key to suspend (key_...)
        key_id: String,
        /// Print the API's JSON answer on standard output
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        target: Target,
    },
    /// Resume a suspended key
    #[command(after_help = "Examples:\n  aero2 keys resume key_3hG8kQ2mZ0pX7aLc")]
    Resume {
        /// The key to resume (key_...)
        key_id: String,
        /// Print the API's JSON answer on standard output
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        target: Target,
    },
    /// Change a key's label or policy; what is not given stays as it is
    #[command(
        after_help = "Examples:\n  aero2 keys update key_3hG8kQ2mZ0pX7aLc --label billing-v2\n  \
         aero2 keys update key_3hG8kQ2mZ0pX7aLc --scopes keys:read,audit:read --rate-limit 1000/h\n  \
         aero2 keys update key_3hG8kQ2mZ0pX7aLc --clear-rate-limit --clear-expiry --scopes all\n  \
         aero2 keys update key_3hG8kQ2mZ0pX7aLc --origin-policy enforce"
    )]
    Update {
        /// The key to change (key_...)
        key_id: String,
        /// A new name (1 to 100 characters)
        #[arg(long)]
        label: Option<String>,
        #[command(flatten)]
        policy: PolicyArgs,
        #[command(flatten)]
        clear: ClearArgs,
        /// Print the API's JSON answer on standard output
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        target: Target,
    },
}

/// The policy fields of `POST /v1/keys` and `PATCH /v1/keys/{id}` (see the README's
/// "Key policies").
#[derive(Args, Debug, Default)]
pub struct PolicyArgs {
    /// The key stops working after this long: 3600, 90m, 24h, 30d (at most 10 years)
    #[arg(long, value_name = "DURATION", value_parser = crate::units::parse_duration,
          conflicts_with = "expires_at")]
    pub expires_in: Option<u64>,
    /// The key stops working at this instant (RFC 3339, e.g. 2027-01-31T12:00:00Z)
    #[arg(long, value_name = "TIME")]
    pub expires_at: Option<String>,
    /// Secret keys: management rights, comma-separated: keys:read, keys:write,
    /// audit:read, webhooks:read, webhooks:write; "none" (the key only passes the gate);
    /// "all" (no restriction)
    #[arg(long, value_name = "LIST")]
    pub scopes: Option<String>,
    /// Secret keys: a request the key may make, "[METHODS] PATH" (repeat for more):
    /// "GET,HEAD /v1/orders/*", "/v1/reports"
    #[arg(long = "route", value_name = "ROUTE", value_parser = crate::units::parse_route)]
    pub routes: Vec<serde_json::Value>,
    /// Publishable keys: websites allowed, comma-separated or repeated
    /// (https://shop.example, https://*.shop.example, null)
    #[arg(long, value_name = "ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,
    /// Publishable keys: enforce (refuse other websites) or report (let through, audit)
    #[arg(long, value_enum, value_name = "POLICY")]
    pub origin_policy: Option<OriginPolicy>,
    /// Secret keys: client addresses allowed, comma-separated or repeated
    /// (203.0.113.0/24, 2001:db8::/32)
    #[arg(long, value_name = "CIDRS", value_delimiter = ',')]
    pub allowed_ips: Vec<String>,
    /// At most REQUESTS per WINDOW: 100/min, 1000/1h, 10/60s
    #[arg(long, value_name = "RATE", value_parser = crate::units::parse_rate_limit)]
    pub rate_limit: Option<serde_json::Value>,
}

/// `null` for a restriction: `PATCH` removes it.
#[derive(Args, Debug, Default)]
pub struct ClearArgs {
    /// Remove the key's own expiry
    #[arg(long, conflicts_with_all = ["expires_in", "expires_at"])]
    pub clear_expiry: bool,
    /// Remove the route restriction (every request allowed)
    #[arg(long, conflicts_with = "routes")]
    pub clear_routes: bool,
    /// Remove the website restriction (and the origin policy with it)
    #[arg(long, conflicts_with_all = ["allowed_origins", "origin_policy"])]
    pub clear_allowed_origins: bool,
    /// Remove the address restriction
    #[arg(long, conflicts_with = "allowed_ips")]
    pub clear_allowed_ips: bool,
    /// Remove the rate limit
    #[arg(long, conflicts_with = "rate_limit")]
    pub clear_rate_limit: bool,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Secret,
    Publishable,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Secret => "secret",
            Kind::Publishable => "publishable",
        }
    }
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OriginPolicy {
    Enforce,
    Report,
}

impl OriginPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            OriginPolicy::Enforce => "enforce",
            OriginPolicy::Report => "report",
        }
    }
}

#[derive(Args, Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only this key's entries (key_...)
    #[arg(long, value_name = "KEY_ID")]
    pub key_id: Option<String>,
    /// Only this event, e.g. key.revoked, key.rotated, key.leaked
    #[arg(long, value_name = "EVENT")]
    pub event: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// One page of the audit log, newest first: a table, or --json
    #[command(
        after_help = "The cursor of the next page is printed on standard error (and in --json).\n\n\
         Examples:\n  aero2 audit list\n  aero2 audit list --key-id key_3hG8kQ2mZ0pX7aLc --event key.rotated\n  \
         aero2 audit list --limit 100 --cursor 1732870800000123"
    )]
    List {
        #[command(flatten)]
        filter: AuditFilter,
        /// Entries per page, 1 to 100 [default: the API's, 50]
        #[arg(long, value_parser = clap::value_parser!(u8).range(1..=100))]
        limit: Option<u8>,
        /// Start after this entry: the next_cursor of the previous page
        #[arg(long)]
        cursor: Option<String>,
        /// Print the API's JSON instead of a table
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        target: Target,
    },
    /// Every entry as JSON Lines on standard output, oldest first
    #[command(
        after_help = "Streams the hash-chained log (GET /v1/audit_log/export), oldest first, one JSON \
         object a line, each with its seq, prev_hash and hash: what `aero2 audit verify \
         --file` checks. Entries still pending (a change until its receipt is known, an \
         hour's aggregated entry until the hour closes) are not in it yet. With --key-id or \
         --event it reads the list instead (GET /v1/audit_log, page by page), pending \
         entries included. A progress bar goes to standard error when it is a terminal.\n\n\
         Examples:\n  aero2 audit export > audit.jsonl\n  aero2 audit export --event key.leaked | jq -r .key_id"
    )]
    Export {
        #[command(flatten)]
        filter: AuditFilter,
        /// Start at this entry of the hash chain (its seq) instead of the oldest kept
        #[arg(long, value_name = "SEQ", conflicts_with_all = ["key_id", "event"],
              value_parser = clap::value_parser!(u64).range(1..))]
        from_seq: Option<u64>,
        #[command(flatten)]
        target: Target,
    },
    /// Check the audit log's hash chain and a signed checkpoint of it
    #[command(
        after_help = "Fetches a checkpoint (GET /v1/audit_log/checkpoint), a JWS the key ring signed with \
         EdDSA, and checks its signature against the keys the API publishes in \
         /.well-known/jwks.json. Then it reads the chained log (the export, or --file) and \
         recomputes every entry's hash: each entry must follow the one before, name its hash, \
         and the entry at the checkpoint's seq must have the checkpoint's hash. Prints what \
         was verified on standard error. Exit status 7 when anything does not match.\n\n\
         Examples:\n  aero2 audit verify\n  aero2 audit export > audit.jsonl && aero2 audit verify --file audit.jsonl\n  \
         AERO2_OPERATOR_TOKEN=... aero2 audit verify --app app_3hG8kQ2mZ0pX7aLc"
    )]
    Verify {
        /// Verify this export (JSON Lines, as `aero2 audit export` writes it; - for standard
        /// input) instead of fetching the log
        #[arg(long, value_name = "PATH")]
        file: Option<std::path::PathBuf>,
        #[command(flatten)]
        target: Target,
    },
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Format {
    /// path:line:column and the key's hint, one finding a line
    #[default]
    Text,
    /// One JSON document with every finding
    Json,
    /// SARIF 2.1.0, for GitHub code scanning
    Sarif,
}

#[derive(Args, Debug)]
#[command(after_help = SCAN_AFTER)]
pub struct ScanArgs {
    /// Files or directories to scan; - reads standard input [default: .]
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Scan what `git commit` would record: the staged content of staged files
    #[arg(long, conflicts_with_all = ["install_hook", "hidden", "no_ignore"])]
    pub staged: bool,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Also scan hidden files and directories (.env, .config/...); .git is never scanned
    #[arg(long)]
    pub hidden: bool,
    /// Do not respect .gitignore, .ignore and other ignore files
    #[arg(long)]
    pub no_ignore: bool,
    /// Also scan binary files (those holding a NUL byte)
    #[arg(long)]
    pub binary: bool,
    /// Threads for the directory walk [default: the number of CPUs]
    #[arg(long, short = 'j')]
    pub threads: Option<usize>,
    /// Write a git pre-commit hook that runs `aero2 scan --staged`
    #[arg(long, conflicts_with_all = ["paths", "format"])]
    pub install_hook: bool,
    /// With --install-hook: replace a different existing hook
    #[arg(long, requires = "install_hook")]
    pub force: bool,
}

const SCAN_AFTER: &str = "\
Only real keys are reported: a match of the key pattern whose checksum is right. A
look-alike with a wrong checksum is never reported. Secret keys are findings (exit 1);
publishable keys are public by design and listed as information (exit 0 if only those).
Values are shown as prefix and last 4 characters only (sk_live_...Qx9a), in every format.

Directories are walked as ripgrep walks them: .gitignore and other ignore files are
respected, hidden files and binary files are skipped (see --hidden, --no-ignore,
--binary), in parallel.

Examples:
  aero2 scan                                  # the current directory
  aero2 scan src config.toml --format json
  git diff | aero2 scan -                     # standard input
  aero2 scan --format sarif > aero2.sarif     # from the repository root; upload with
                                              # github/codeql-action/upload-sarif
  aero2 scan --staged                         # what the next commit would record
  aero2 scan --install-hook                   # run that before every commit

Exit status: 0 no secret key, 1 a secret key found, 2 usage (a path that does not exist)";

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn the_main_help_states_every_exit_status() {
        assert!(MAIN_AFTER.contains(crate::exit::EXIT_STATUS_HELP));
    }

    #[test]
    fn every_command_has_examples() {
        fn walk(command: &clap::Command, path: &str) {
            let path = format!("{path} {}", command.get_name());
            if command.get_name() != "help" {
                let after = command
                    .get_after_help()
                    .map(|s| s.to_string())
                    .unwrap_or_default();
                assert!(after.contains("Examples:"), "{path} has no examples");
            }
            for sub in command.get_subcommands() {
                walk(sub, &path);
            }
        }
        walk(&Cli::command(), "");
    }
}
