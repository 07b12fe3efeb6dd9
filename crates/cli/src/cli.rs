//! The command line. Every flag can also be given as `RINGFENCE_<FLAG>` in the environment.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use ringfence_core::firm::{FirmName, FirmSlug, ForceReason, RetentionDays};
use ringfence_core::user::Email;
use ringfence_core::user::person_name;

#[derive(Debug, Parser)]
#[command(
    name = "ringfence",
    version,
    about = "Secure case and practice management for law firms",
    long_about = "Ringfence keeps a law firm's matters, documents and notes behind per-matter access checks, \
                  encrypted at rest with the firm's own keys.\n\n\
                  Start with `ringfence serve`, then create a firm with `ringfence firm create`.",
    after_help = "Settings are read from flags, then RINGFENCE_* environment variables, then the --config \
                  TOML file, then the defaults. The master key comes from RINGFENCE_MASTER_KEY (base64, \
                  32 bytes) or DATA/master.key, created on first start."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Data directory: SQLite databases, TLS certificate, master key [default: ./ringfence-data]
    #[arg(long, global = true, env = "RINGFENCE_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Use PostgreSQL instead of the embedded SQLite (postgres://user@host/db)
    #[arg(long, global = true, env = "RINGFENCE_DATABASE_URL", value_name = "URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// Connections this process keeps to PostgreSQL, shared by every firm [default: 16]
    #[arg(long, global = true, env = "RINGFENCE_DATABASE_POOL_SIZE", value_name = "CONNECTIONS")]
    pub database_pool_size: Option<u32>,

    /// Public HTTPS URL, used in links and for redirects [default: https://localhost:<listen port>]
    #[arg(long, global = true, env = "RINGFENCE_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,

    /// TOML file with settings (same names as the flags, with underscores)
    #[arg(long, global = true, env = "RINGFENCE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Log format on standard error [default: text]
    #[arg(long, global = true, env = "RINGFENCE_LOG_FORMAT", value_name = "FORMAT")]
    pub log_format: Option<LogFormat>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize)]
pub enum TlsMinArg {
    #[value(name = "1.2")]
    #[serde(rename = "1.2")]
    V1_2,
    #[value(name = "1.3")]
    #[serde(rename = "1.3")]
    V1_3,
}

/// What a `serve` process does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RoleArg {
    /// Answer requests only
    Web,
    /// Run background jobs only
    Worker,
    /// Both
    All,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server: HTTPS, plus a plain-HTTP listener that only redirects to it
    Serve(Box<ServeArgs>),
    /// Apply pending database migrations to the control store and every firm, then exit
    Migrate,
    /// Create, list, terminate, reinstate and shred firms
    Firm {
        #[command(subcommand)]
        command: FirmCommand,
    },
    /// Create operator accounts, and read and check the operator log
    Operator {
        #[command(subcommand)]
        command: OperatorCommand,
    },
    /// Check a firm's audit log
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Rotate a firm's key or the master key
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Read a file on standard input and write its text on standard output: what the
    /// server runs, in a child process with limits, for each new document
    #[command(name = "extract-text", hide = true)]
    ExtractText {
        /// The file's sniffed content type
        #[arg(long)]
        content_type: String,
        /// Draw this page of a PDF (from 1; 0 for the page count alone) as a PNG instead
        #[arg(long)]
        page: Option<u32>,
    },
    /// Look after the blob store
    Blobs {
        #[command(subcommand)]
        command: BlobsCommand,
    },
    /// See and retry background jobs
    Jobs {
        #[command(subcommand)]
        command: JobsCommand,
    },
    /// Back firms up, and list, verify and restore their backups
    Backup {
        #[command(subcommand)]
        command: BackupCommand,
    },
}

/// Where backups are, and the blob store they copy documents from and back to.
#[derive(Debug, Args, Default)]
pub struct BackupPlaceArgs {
    /// Where backups are kept: local:/absolute/dir or s3://bucket[/prefix], apart from the
    /// data directory and the blob store [default: none]
    #[arg(long, env = "RINGFENCE_BACKUP_TARGET", value_name = "WHERE")]
    pub backup_target: Option<String>,

    /// The blob store, as for `serve` [default: local]
    #[arg(long, env = "RINGFENCE_BLOB_STORE", value_name = "WHERE")]
    pub blob_store: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Back up every firm (or one) and the control store now, and prove each backup by
    /// restoring it into a scratch store
    Create {
        /// Only this firm (and no control store) [default: every firm]
        #[arg(long, value_parser = parse_slug)]
        firm: Option<FirmSlug>,
        #[command(flatten)]
        place: BackupPlaceArgs,
    },
    /// List the backups on the target, newest first
    List {
        /// Only this firm's [default: every backup]
        #[arg(long, value_parser = parse_slug)]
        firm: Option<FirmSlug>,
        #[command(flatten)]
        place: BackupPlaceArgs,
    },
    /// Restore a backup into a scratch store and check it: every table's rows, every
    /// document's chunks and hash, the audit chain
    Verify {
        /// The firm whose backup it is [default: the control store's]
        #[arg(long, value_parser = parse_slug)]
        firm: Option<FirmSlug>,
        /// The backup, as `backup list` shows it [default: the newest]
        #[arg(long, value_name = "ID")]
        id: Option<uuid::Uuid>,
        #[command(flatten)]
        place: BackupPlaceArgs,
    },
    /// Restore a firm from one of its backups, in place (the firm is closed to requests
    /// while it runs), or with --as as a new firm beside it, for inspection. Works on a
    /// machine with nothing but the target and the master key.
    Restore {
        /// The firm's slug
        #[arg(long, value_parser = parse_slug)]
        firm: FirmSlug,
        /// The backup, as `backup list` shows it
        #[arg(long, value_name = "ID")]
        from: uuid::Uuid,
        /// Restore it as a new firm with this slug, beside the original (left untouched);
        /// none of the original's people can sign in to it: --admin-email is invited
        #[arg(long = "as", value_parser = parse_slug, value_name = "NEW-SLUG", requires = "admin_email")]
        as_slug: Option<FirmSlug>,
        /// With --as: the address of the copy's administrator, one that signs in to no firm
        /// here
        #[arg(long, value_parser = |s: &str| Email::parse(s).map_err(|e| e.to_string()), requires = "as_slug")]
        admin_email: Option<Email>,
        /// With --as: the administrator's name
        #[arg(long, requires = "as_slug")]
        admin_name: Option<String>,
        /// Seconds to wait after closing the firm, for every server to see it closed and
        /// for requests under way to end
        #[arg(long, default_value_t = 15, value_name = "SECONDS")]
        settle_seconds: u64,
        #[command(flatten)]
        place: BackupPlaceArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// List the jobs on the queue, failed (dead) ones first
    List,
    /// Put a dead job back on the queue, due now, with its attempts counted afresh
    Retry {
        /// The job's id, as `jobs list` shows it
        id: uuid::Uuid,
    },
}

#[derive(Debug, Subcommand)]
pub enum BlobsCommand {
    /// Remove blobs no document records and staged files of unfinished uploads, older than
    /// the grace period (the servers' `blobs.sweep` job also does this every 6 hours)
    Sweep {
        /// Only this firm [default: every firm]
        #[arg(long, value_parser = |s: &str| FirmSlug::parse(s).map_err(|e| e.to_string()))]
        firm: Option<FirmSlug>,
        /// Keep anything written more recently than this: uploads in flight on any server
        #[arg(long, default_value_t = 24, value_name = "HOURS")]
        grace_hours: i64,
        /// The blob store, as for `serve` [default: local]
        #[arg(long, env = "RINGFENCE_BLOB_STORE", value_name = "WHERE")]
        blob_store: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Make a new version of a firm's key (used for new data at once, by every server
    /// within seconds), then re-seal everything the firm holds under it
    Rotate {
        /// The firm's slug
        #[arg(long, value_parser = |s: &str| FirmSlug::parse(s).map_err(|e| e.to_string()))]
        firm: FirmSlug,
    },
    /// Finish an interrupted re-seal: move every value still under an older key version
    Rewrap {
        /// The firm's slug
        #[arg(long, value_parser = |s: &str| FirmSlug::parse(s).map_err(|e| e.to_string()))]
        firm: FirmSlug,
    },
    /// Delete a firm's older key versions once nothing is sealed under them
    Retire {
        /// The firm's slug
        #[arg(long, value_parser = |s: &str| FirmSlug::parse(s).map_err(|e| e.to_string()))]
        firm: FirmSlug,
        /// Wait at least this long after the rotation, for requests that began before it
        #[arg(long, default_value_t = 1440, value_name = "MINUTES")]
        grace_minutes: i64,
    },
    /// Replace the master key: re-wrap every firm's keys under a new one, from
    /// RINGFENCE_NEW_MASTER_KEY or (with a key file) generated into DATA/master.key
    RotateMaster,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Remove entries older than the firm's retention (at least 12 months), leaving a
    /// signed checkpoint so the rest still verifies
    Purge {
        /// The firm's slug
        #[arg(long, value_parser = |s: &str| FirmSlug::parse(s).map_err(|e| e.to_string()))]
        firm: FirmSlug,
    },
    /// Walk the hash chain and every signed checkpoint; exit 0 only if nothing was changed,
    /// removed, inserted or reordered
    Verify {
        /// The firm's slug
        #[arg(long, value_parser = |s: &str| FirmSlug::parse(s).map_err(|e| e.to_string()), required_unless_present = "export", conflicts_with = "export")]
        firm: Option<FirmSlug>,
        /// Also compare the log with checkpoints kept outside the database: JSON lines from
        /// GET /api/v1/audit/checkpoint, the --audit-jsonl file, or syslog lines
        #[arg(long, value_name = "FILE", conflicts_with = "export")]
        against: Option<PathBuf>,
        /// Check a full export's ZIP instead, offline and without any key: every file
        /// against its manifest, and the audit log against its signed checkpoints and the
        /// public keys it holds
        #[arg(long, value_name = "FILE.zip")]
        export: Option<PathBuf>,
        /// The export's passphrase, read from standard input (an encrypted export)
        #[arg(long, requires = "export")]
        passphrase_stdin: bool,
    },
}

#[derive(Debug, Args, Default)]
pub struct ServeArgs {
    /// web: answer requests; worker: run background jobs; all: both [default: all]
    #[arg(long, env = "RINGFENCE_ROLE", value_name = "ROLE")]
    pub role: Option<RoleArg>,

    /// HTTPS address [default: 127.0.0.1:8443]
    #[arg(long, env = "RINGFENCE_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,

    /// Plain-HTTP address that only redirects to HTTPS [default: 127.0.0.1:8080]
    #[arg(long, env = "RINGFENCE_HTTP_LISTEN", value_name = "ADDR")]
    pub http_listen: Option<SocketAddr>,

    /// PEM certificate chain (with --tls-key); without both, a self-signed one is made
    #[arg(long, env = "RINGFENCE_TLS_CERT", value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key (with --tls-cert)
    #[arg(long, env = "RINGFENCE_TLS_KEY", value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Get the certificate from this ACME directory (e.g. Let's Encrypt's) for the public
    /// URL's host name, and renew it while serving; instead of --tls-cert and --tls-key.
    /// Setting it agrees to the CA's terms of service
    #[arg(long, env = "RINGFENCE_ACME_DIRECTORY", value_name = "URL")]
    pub acme_directory: Option<String>,

    /// Contact address given to the ACME CA, for expiry and incident notices
    #[arg(long, env = "RINGFENCE_ACME_EMAIL", value_name = "ADDRESS")]
    pub acme_email: Option<String>,

    /// PEM root certificate to trust for the ACME directory's HTTPS [default: the system's roots]
    #[arg(long, env = "RINGFENCE_ACME_CA", value_name = "FILE")]
    pub acme_ca: Option<PathBuf>,

    /// Lowest TLS version accepted [default: 1.2]
    #[arg(long, env = "RINGFENCE_TLS_MIN", value_name = "VERSION")]
    pub tls_min: Option<TlsMinArg>,

    /// Add `preload` to Strict-Transport-Security
    #[arg(long, env = "RINGFENCE_HSTS_PRELOAD", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub hsts_preload: Option<bool>,

    /// Outgoing mail: smtp://[user:pass@]host[:port][?tls=required] or smtps://…
    /// [default: .eml files in DATA/outbox/]
    #[arg(long, env = "RINGFENCE_MAIL", value_name = "URL", hide_env_values = true)]
    pub mail: Option<String>,

    /// Sender of Ringfence's mail [default: "Ringfence <ringfence@localhost>"]
    #[arg(long, env = "RINGFENCE_MAIL_FROM", value_name = "ADDRESS")]
    pub mail_from: Option<String>,

    /// Minutes without use after which a session ends [default: 30]
    #[arg(long, env = "RINGFENCE_SESSION_IDLE_MINUTES", value_name = "MINUTES")]
    pub session_idle_minutes: Option<i64>,

    /// Hours after which a session ends however it is used [default: 12]
    #[arg(long, env = "RINGFENCE_SESSION_HOURS", value_name = "HOURS")]
    pub session_hours: Option<i64>,

    /// Where sealed document bytes are kept: local (DATA/blobs), local:/dir, or
    /// s3://bucket[/prefix] with AWS_ENDPOINT, AWS_REGION, AWS_ACCESS_KEY_ID and
    /// AWS_SECRET_ACCESS_KEY from the environment [default: local]
    #[arg(long, env = "RINGFENCE_BLOB_STORE", value_name = "WHERE")]
    pub blob_store: Option<String>,

    /// Back every firm up here on a schedule: local:/absolute/dir or s3://bucket[/prefix],
    /// apart from the data directory and the blob store [default: none, no backups]
    #[arg(long, env = "RINGFENCE_BACKUP_TARGET", value_name = "WHERE")]
    pub backup_target: Option<String>,

    /// Hours between scheduled backups, 1 to 168 [default: 24]
    #[arg(long, env = "RINGFENCE_BACKUP_EVERY_HOURS", value_name = "HOURS")]
    pub backup_every_hours: Option<i64>,

    /// Time of day (UTC, HH:MM) the scheduled backups start from [default: 02:00]
    #[arg(long, env = "RINGFENCE_BACKUP_AT", value_name = "HH:MM")]
    pub backup_at: Option<String>,

    /// Backups kept: the newest of each of this many days, weeks and months, each 0 to 1000
    /// [default: 7,4,12]
    #[arg(long, env = "RINGFENCE_BACKUP_KEEP", value_name = "DAYS,WEEKS,MONTHS")]
    pub backup_keep: Option<String>,

    /// The operator's address, mailed whenever a backup or its verification fails (the
    /// firm's administrators are mailed too) [default: none]
    #[arg(long, env = "RINGFENCE_BACKUP_ALERT_EMAIL", value_name = "ADDRESS")]
    pub backup_alert_email: Option<String>,

    /// A ClamAV daemon (clamd TCPSocket) that scans every new document before it is kept;
    /// it receives plaintext, so run it on this host or a trusted network [default: off]
    #[arg(long, env = "RINGFENCE_CLAMAV", value_name = "HOST:PORT")]
    pub clamav: Option<String>,

    /// The largest document accepted, in MiB [default: 2048]
    #[arg(long, env = "RINGFENCE_MAX_UPLOAD_MIB", value_name = "MIB")]
    pub max_upload_mib: Option<u64>,

    /// Also append every audit entry, as written, to this JSON-lines file
    #[arg(long, env = "RINGFENCE_AUDIT_JSONL", value_name = "FILE")]
    pub audit_jsonl: Option<PathBuf>,

    /// Also send every audit entry to this syslog collector (RFC 5424 over TLS), host:port
    #[arg(long, env = "RINGFENCE_AUDIT_SYSLOG", value_name = "HOST:PORT", requires = "audit_syslog_ca")]
    pub audit_syslog: Option<String>,

    /// PEM certificate(s) to trust for the syslog collector
    #[arg(long, env = "RINGFENCE_AUDIT_SYSLOG_CA", value_name = "FILE")]
    pub audit_syslog_ca: Option<PathBuf>,

    /// Reverse proxies (comma-separated CIDRs) whose forwarding header names the client
    /// [default: none, forwarding headers are ignored]
    #[arg(long, env = "RINGFENCE_TRUSTED_PROXIES", value_name = "CIDRS")]
    pub trusted_proxies: Option<String>,

    /// The same as --trusted-proxies, under the name the HTTP contract fixes
    #[arg(
        long,
        env = "RINGFENCE_TRUSTED_PROXY",
        value_name = "CIDRS",
        hide = true,
        conflicts_with = "trusted_proxies"
    )]
    pub trusted_proxy: Option<String>,

    /// The header the trusted proxies write the client's address in: x-forwarded-for or
    /// forwarded; the other one is never read [default: x-forwarded-for]
    #[arg(long, env = "RINGFENCE_TRUSTED_PROXY_HEADER", value_name = "HEADER")]
    pub trusted_proxy_header: Option<String>,

    /// Also serve the whole application over plain HTTP here, to the trusted proxies only
    /// (they end TLS) [default: off]
    #[arg(long, env = "RINGFENCE_PROXY_HTTP_LISTEN", value_name = "ADDR")]
    pub proxy_http_listen: Option<SocketAddr>,
}

#[derive(Debug, Subcommand)]
pub enum FirmCommand {
    /// Create a firm with its own database and key, and its first administrator
    Create(FirmCreateArgs),
    /// List the firms of this deployment
    List,
    /// End a firm's service: read-only from now on (its people can still sign in, read and
    /// export), shredded when its retention ends; its administrators are mailed
    Terminate(FirmTerminateArgs),
    /// Put a terminated firm back in service and cancel its shred (until it is shredded)
    Reinstate(FirmReinstateArgs),
    /// Shred a terminated firm whose retention has ended now, rather than wait for its
    /// `firm.shred` job, or finish a shred that stopped: its keys, database and files are
    /// destroyed, a tombstone is kept
    Shred(FirmShredArgs),
}

fn parse_slug(raw: &str) -> Result<FirmSlug, String> {
    FirmSlug::parse(raw).map_err(|e| e.to_string())
}

#[derive(Debug, Args)]
pub struct FirmTerminateArgs {
    /// The firm's slug
    #[arg(long, value_parser = parse_slug)]
    pub firm: FirmSlug,

    /// Days the firm is kept, read-only, before it is shredded, 1 to 3650 [default: 186,
    /// six months]
    #[arg(long, value_name = "DAYS", value_parser = |s: &str| {
        s.parse::<i64>().map_err(|e| e.to_string()).and_then(|days| RetentionDays::parse(days).map_err(|e| e.to_string()))
    })]
    pub retain_days: Option<RetentionDays>,

    #[command(flatten)]
    pub mail: MailArgs,
}

#[derive(Debug, Args)]
pub struct FirmReinstateArgs {
    /// The firm's slug
    #[arg(long, value_parser = parse_slug)]
    pub firm: FirmSlug,

    #[command(flatten)]
    pub mail: MailArgs,
}

#[derive(Debug, Args)]
pub struct FirmShredArgs {
    /// The firm's slug
    #[arg(long, value_parser = parse_slug)]
    pub firm: FirmSlug,

    /// Shred whatever legal hold the firm is under, for this reason (kept in its tombstone)
    #[arg(long, value_name = "REASON", value_parser = |s: &str| ForceReason::parse(s).map_err(|e| e.to_string()))]
    pub force_reason: Option<ForceReason>,

    /// The blob store, as for `serve` [default: local]
    #[arg(long, env = "RINGFENCE_BLOB_STORE", value_name = "WHERE")]
    pub blob_store: Option<String>,

    /// The backup target, as for `serve`: the firm's backups are deleted from it too
    #[arg(long, env = "RINGFENCE_BACKUP_TARGET", value_name = "WHERE")]
    pub backup_target: Option<String>,
}

/// Outgoing mail, for the commands that mail a firm's administrators.
#[derive(Debug, Args)]
pub struct MailArgs {
    /// Outgoing mail, as for `serve` [default: .eml files in DATA/outbox/]
    #[arg(long, env = "RINGFENCE_MAIL", value_name = "URL", hide_env_values = true)]
    pub mail: Option<String>,

    /// Sender of the mail, as for `serve` [default: "Ringfence <ringfence@localhost>"]
    #[arg(long, env = "RINGFENCE_MAIL_FROM", value_name = "ADDRESS")]
    pub mail_from: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum OperatorCommand {
    /// Create an operator: the hosting provider's staff, who provision and watch firms on
    /// the pages under /operator but cannot read their data. The password is read from
    /// standard input; the authenticator app's secret is printed once
    Create(OperatorCreateArgs),
    /// Print the operator log's newest entries, newest first
    Log {
        /// How many entries
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(i64).range(1..=10_000))]
        limit: i64,
    },
    /// Check the operator log's hash chain from its first entry
    Verify,
}

#[derive(Debug, Args)]
pub struct OperatorCreateArgs {
    /// The operator's email address: what they sign in with
    #[arg(long, value_parser = |s: &str| Email::parse(s).map_err(|e| e.to_string()))]
    pub email: Email,

    /// The operator's name, as the operator log and firms' audit logs show it
    #[arg(long, value_parser = |s: &str| person_name(s).map_err(|e| format!("a name of {e}")))]
    pub name: String,
}

#[derive(Debug, Args)]
pub struct FirmCreateArgs {
    /// The firm's name, e.g. "Smith & Jones Attorneys"
    #[arg(long, value_parser = |s: &str| FirmName::parse(s).map_err(|e| e.to_string()))]
    pub name: FirmName,

    /// Short name: lowercase letters, digits and hyphens, e.g. smith-jones
    #[arg(long, value_parser = |s: &str| FirmSlug::parse(s).map_err(|e| e.to_string()))]
    pub slug: FirmSlug,

    /// Email address of the firm's first administrator
    #[arg(long, value_parser = |s: &str| Email::parse(s).map_err(|e| e.to_string()))]
    pub admin_email: Email,

    /// The administrator's name
    #[arg(long)]
    pub admin_name: Option<String>,

    /// Read the administrator's password from standard input instead of printing an invitation link
    #[arg(long)]
    pub admin_password_stdin: bool,
}
