//! Resolves settings: flags, then `RINGFENCE_*` environment variables (both via clap), then
//! the TOML file, then documented defaults. Every bad value is reported naming the setting
//! and what it accepts, and stops start-up with exit code 2.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use ringfence_core::auth::SessionLimits;
use ringfence_core::user::Email;
use ringfence_crypto::MasterKey;
use ringfence_server::acme::AcmeSettings;
use ringfence_server::audit_shipping::SyslogTarget;
use ringfence_server::forwarded::{ProxyHeader, TrustedProxies};
use ringfence_server::tls::{TlsFiles, TlsMin};
use ringfence_store::backup::{BackupTarget, Generations};
use ringfence_store::blobs::BlobLocation;
use ringfence_store::{DEFAULT_POSTGRES_POOL_SIZE, StorageLocation};
use serde::Deserialize;
use thiserror::Error;
use zeroize::Zeroizing;

use crate::cli::{
    BackupCommand, BackupPlaceArgs, BlobsCommand, Cli, Command, FirmCommand, FirmReinstateArgs,
    FirmShredArgs, FirmTerminateArgs, LogFormat, RoleArg, ServeArgs, TlsMinArg,
};

pub const MASTER_KEY_VAR: &str = "RINGFENCE_MASTER_KEY";

/// What `database_pool_size` accepts.
const POOL_SIZES: std::ops::RangeInclusive<u32> = 4..=1000;

#[derive(Debug, Error)]
#[error("invalid setting `{setting}`: {problem}")]
pub struct ConfigError {
    setting: &'static str,
    problem: String,
}

fn bad(setting: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError { setting, problem: problem.into() }
}

/// The TOML file: the same settings as the flags, with underscores.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    role: Option<RoleArg>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    database_pool_size: Option<u32>,
    public_url: Option<String>,
    log_format: Option<LogFormat>,
    listen: Option<SocketAddr>,
    http_listen: Option<SocketAddr>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    tls_min: Option<TlsMinArg>,
    acme_directory: Option<String>,
    acme_email: Option<String>,
    acme_ca: Option<PathBuf>,
    hsts_preload: Option<bool>,
    mail: Option<String>,
    mail_from: Option<String>,
    session_idle_minutes: Option<i64>,
    session_hours: Option<i64>,
    blob_store: Option<String>,
    backup_target: Option<String>,
    backup_every_hours: Option<i64>,
    backup_at: Option<String>,
    backup_keep: Option<String>,
    backup_alert_email: Option<String>,
    clamav: Option<String>,
    max_upload_mib: Option<u64>,
    audit_jsonl: Option<PathBuf>,
    audit_syslog: Option<String>,
    audit_syslog_ca: Option<PathBuf>,
    #[serde(alias = "trusted_proxy")]
    trusted_proxies: Option<String>,
    trusted_proxy_header: Option<String>,
    proxy_http_listen: Option<SocketAddr>,
}

#[derive(Debug)]
pub struct Settings {
    pub data_dir: PathBuf,
    /// The TOML file the settings were read from, if any.
    pub config_file: Option<PathBuf>,
    pub storage: StorageLocation,
    /// Without a trailing slash. `None`: `https://localhost:<bound HTTPS port>`.
    pub public_url: Option<String>,
    pub log_format: LogFormat,
    pub master_key: Option<Zeroizing<String>>,
    pub serve: ServeSettings,
}

/// What a `serve` process does: answer requests, run background jobs, or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Role {
    pub web: bool,
    pub worker: bool,
}

#[derive(Debug)]
pub struct ServeSettings {
    pub role: Role,
    pub listen: SocketAddr,
    pub http_listen: SocketAddr,
    pub tls_files: Option<TlsFiles>,
    pub tls_min: TlsMin,
    /// Certificates from an ACME CA, instead of `tls_files`.
    pub acme: Option<AcmeSettings>,
    pub hsts_preload: bool,
    /// `None`: the outbox.
    pub mail: Option<String>,
    pub mail_from: String,
    pub session_limits: SessionLimits,
    pub blob_store: BlobLocation,
    /// Where and when every firm is backed up; `None`: no backups.
    pub backup: Option<BackupSettings>,
    /// `host:port` of clamd, when uploads are scanned.
    pub clamav: Option<String>,
    pub max_upload_bytes: u64,
    pub audit_jsonl: Option<PathBuf>,
    pub audit_syslog: Option<SyslogTarget>,
    pub trusted_proxies: TrustedProxies,
    /// Plain HTTP for the trusted proxies, which end TLS.
    pub proxy_http_listen: Option<SocketAddr>,
}

/// The backup settings.
#[derive(Debug, Clone)]
pub struct BackupSettings {
    pub target: BlobLocation,
    pub every: time::Duration,
    /// UTC.
    pub at: time::Time,
    pub keep: Generations,
    pub alert: Option<Email>,
}

impl Settings {
    pub fn resolve(cli: &Cli) -> Result<Self, ConfigError> {
        let master_key = std::env::var(MASTER_KEY_VAR).ok().map(Zeroizing::new);
        Self::resolve_with(cli, master_key)
    }

    fn resolve_with(cli: &Cli, master_key: Option<Zeroizing<String>>) -> Result<Self, ConfigError> {
        let file = match &cli.global.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let no_serve_args = ServeArgs::default();
        let serve = match &cli.command {
            Command::Serve(args) => args,
            _ => &no_serve_args,
        };
        let global = &cli.global;

        let data_dir =
            global.data_dir.clone().or(file.data_dir).unwrap_or_else(|| PathBuf::from("ringfence-data"));
        if data_dir.exists() && !data_dir.is_dir() {
            return Err(bad("data_dir", format!("{} exists and is not a directory", data_dir.display())));
        }
        let pool_size = global.database_pool_size.or(file.database_pool_size);
        let storage = match global.database_url.clone().or(file.database_url) {
            None if pool_size.is_some() => {
                return Err(bad("database_pool_size", "applies to PostgreSQL only: set database_url too"));
            }
            None => StorageLocation::Sqlite,
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                let pool_size = pool_size.unwrap_or(DEFAULT_POSTGRES_POOL_SIZE);
                // A request may hold a firm transaction while it reads the control store,
                // both from this one pool: fewer than a few connections would stall it.
                if !POOL_SIZES.contains(&pool_size) {
                    return Err(bad(
                        "database_pool_size",
                        format!(
                            "{} to {} connections; every server's pool together must stay under PostgreSQL's max_connections",
                            POOL_SIZES.start(),
                            POOL_SIZES.end()
                        ),
                    ));
                }
                StorageLocation::Postgres { url, pool_size }
            }
            Some(_) => {
                return Err(bad(
                    "database_url",
                    "expected a postgres:// or postgresql:// URL; leave it unset for the embedded SQLite",
                ));
            }
        };
        let public_url =
            global.public_url.clone().or(file.public_url).map(|url| parse_public_url(&url)).transpose()?;
        if let Some(key) = &master_key {
            MasterKey::from_base64(key).map_err(|e| bad("RINGFENCE_MASTER_KEY", e.to_string()))?;
        }

        let tls_files =
            match (serve.tls_cert.clone().or(file.tls_cert), serve.tls_key.clone().or(file.tls_key)) {
                (None, None) => None,
                (Some(cert), Some(key)) => {
                    for (setting, path) in [("tls_cert", &cert), ("tls_key", &key)] {
                        if !path.is_file() {
                            return Err(bad(setting, format!("{} is not a readable file", path.display())));
                        }
                    }
                    Some(TlsFiles { cert, key })
                }
                (Some(_), None) => return Err(bad("tls_key", "required with tls_cert")),
                (None, Some(_)) => return Err(bad("tls_cert", "required with tls_key")),
            };
        let acme = resolve_acme(
            serve.acme_directory.clone().or(file.acme_directory),
            serve.acme_email.clone().or(file.acme_email),
            serve.acme_ca.clone().or(file.acme_ca),
            public_url.as_deref(),
        )?;
        if acme.is_some() && tls_files.is_some() {
            return Err(bad("acme_directory", "cannot be used with tls_cert and tls_key: choose one source"));
        }
        let tls_min = match serve.tls_min.or(file.tls_min).unwrap_or(TlsMinArg::V1_2) {
            TlsMinArg::V1_2 => TlsMin::Tls12,
            TlsMinArg::V1_3 => TlsMin::Tls13,
        };
        // The commands that mail a firm's administrators take the mail settings of their own.
        let (mail_flag, mail_from_flag) = match &cli.command {
            Command::Firm {
                command:
                    FirmCommand::Terminate(FirmTerminateArgs { mail, .. })
                    | FirmCommand::Reinstate(FirmReinstateArgs { mail, .. }),
            } => (mail.mail.clone(), mail.mail_from.clone()),
            _ => (serve.mail.clone(), serve.mail_from.clone()),
        };
        let mail = mail_flag.or(file.mail);
        if let Some(url) = &mail
            && !(url.starts_with("smtp://") || url.starts_with("smtps://"))
        {
            return Err(bad(
                "mail",
                "expected smtp://host[:port] or smtps://host[:port]; leave it unset for the outbox",
            ));
        }
        let idle = serve.session_idle_minutes.or(file.session_idle_minutes).unwrap_or(30);
        let hours = serve.session_hours.or(file.session_hours).unwrap_or(12);
        if !(1..=1440).contains(&idle) {
            return Err(bad("session_idle_minutes", "1 to 1440"));
        }
        if !(1..=168).contains(&hours) || idle > hours * 60 {
            return Err(bad("session_hours", "1 to 168, and at least the idle timeout"));
        }
        let session_limits =
            SessionLimits { idle: time::Duration::minutes(idle), absolute: time::Duration::hours(hours) };
        let audit_syslog = match (
            serve.audit_syslog.clone().or(file.audit_syslog),
            serve.audit_syslog_ca.clone().or(file.audit_syslog_ca),
        ) {
            (None, _) => None,
            (Some(_), None) => return Err(bad("audit_syslog_ca", "required with audit_syslog")),
            (Some(address), Some(ca)) => {
                let (host, port) = address
                    .rsplit_once(':')
                    .and_then(|(host, port)| Some((host.to_owned(), port.parse::<u16>().ok()?)))
                    .filter(|(host, _)| !host.is_empty())
                    .ok_or_else(|| bad("audit_syslog", "expected host:port"))?;
                if !ca.is_file() {
                    return Err(bad("audit_syslog_ca", format!("{} is not a readable file", ca.display())));
                }
                Some(SyslogTarget { host, port, ca })
            }
        };
        let blob_store_flag = match &cli.command {
            Command::Blobs { command: BlobsCommand::Sweep { blob_store, .. } }
            | Command::Firm { command: FirmCommand::Shred(FirmShredArgs { blob_store, .. }) } => {
                blob_store.as_deref()
            }
            _ => serve.blob_store.as_deref(),
        };
        let blob_store_flag = match &cli.command {
            Command::Backup { command } => backup_place(command).blob_store.as_deref(),
            _ => blob_store_flag,
        };
        let blob_store =
            BlobLocation::parse(blob_store_flag.or(file.blob_store.as_deref()).unwrap_or("local"), &data_dir)
                .map_err(|problem| bad("blob_store", problem))?;
        let backup_target_flag = match &cli.command {
            Command::Backup { command } => backup_place(command).backup_target.as_deref(),
            Command::Firm { command: FirmCommand::Shred(FirmShredArgs { backup_target, .. }) } => {
                backup_target.as_deref()
            }
            _ => serve.backup_target.as_deref(),
        };
        let backup = match backup_target_flag.or(file.backup_target.as_deref()) {
            None => None,
            Some(target) => Some(BackupSettings {
                target: BackupTarget::parse(target).map_err(|problem| bad("backup_target", problem))?,
                every: {
                    let hours = serve.backup_every_hours.or(file.backup_every_hours).unwrap_or(24);
                    if !(1..=168).contains(&hours) {
                        return Err(bad("backup_every_hours", "1 to 168"));
                    }
                    time::Duration::hours(hours)
                },
                at: parse_time_of_day(
                    serve.backup_at.as_deref().or(file.backup_at.as_deref()).unwrap_or("02:00"),
                )
                .ok_or_else(|| bad("backup_at", "a time of day, HH:MM (UTC), e.g. 02:00"))?,
                keep: parse_generations(
                    serve.backup_keep.as_deref().or(file.backup_keep.as_deref()).unwrap_or("7,4,12"),
                )
                .ok_or_else(|| {
                    bad(
                        "backup_keep",
                        "DAYS,WEEKS,MONTHS: three whole numbers 0 to 1000, not all 0, e.g. 7,4,12",
                    )
                })?,
                alert: serve
                    .backup_alert_email
                    .clone()
                    .or(file.backup_alert_email)
                    .map(|address| {
                        Email::parse(&address).map_err(|e| bad("backup_alert_email", e.to_string()))
                    })
                    .transpose()?,
            }),
        };
        let max_upload_mib = serve.max_upload_mib.or(file.max_upload_mib).unwrap_or(2048);
        if !(1..=1024 * 1024).contains(&max_upload_mib) {
            return Err(bad("max_upload_mib", "1 to 1048576"));
        }
        let clamav = serve.clamav.clone().or(file.clamav);
        if let Some(address) = &clamav
            && !address
                .rsplit_once(':')
                .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok())
        {
            return Err(bad("clamav", "expected host:port of a clamd TCP socket"));
        }
        let role = match serve.role.or(file.role).unwrap_or(RoleArg::All) {
            RoleArg::Web => Role { web: true, worker: false },
            RoleArg::Worker => Role { web: false, worker: true },
            RoleArg::All => Role { web: true, worker: true },
        };
        let trusted_proxies = TrustedProxies::parse(
            serve
                .trusted_proxies
                .as_deref()
                .or(serve.trusted_proxy.as_deref())
                .or(file.trusted_proxies.as_deref())
                .unwrap_or_default(),
        )
        .map_err(|problem| bad("trusted_proxies", problem))?
        .writing(
            ProxyHeader::parse(
                serve
                    .trusted_proxy_header
                    .as_deref()
                    .or(file.trusted_proxy_header.as_deref())
                    .unwrap_or("x-forwarded-for"),
            )
            .map_err(|problem| bad("trusted_proxy_header", problem))?,
        );
        let proxy_http_listen = serve.proxy_http_listen.or(file.proxy_http_listen);
        if proxy_http_listen.is_some() && trusted_proxies.is_empty() {
            return Err(bad(
                "proxy_http_listen",
                "requires trusted_proxies: the plain-HTTP listener answers only the proxies named there",
            ));
        }
        let serve = ServeSettings {
            role,
            listen: serve.listen.or(file.listen).unwrap_or(SocketAddr::from(([127, 0, 0, 1], 8443))),
            http_listen: serve
                .http_listen
                .or(file.http_listen)
                .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 8080))),
            tls_files,
            tls_min,
            acme,
            hsts_preload: serve.hsts_preload.or(file.hsts_preload).unwrap_or(false),
            mail,
            mail_from: mail_from_flag
                .or(file.mail_from)
                .unwrap_or_else(|| "Ringfence <ringfence@localhost>".to_owned()),
            session_limits,
            blob_store,
            backup,
            clamav,
            max_upload_bytes: max_upload_mib * 1024 * 1024,
            audit_jsonl: serve.audit_jsonl.clone().or(file.audit_jsonl),
            audit_syslog,
            trusted_proxies,
            proxy_http_listen,
        };
        Ok(Self {
            data_dir,
            config_file: global.config.clone(),
            storage,
            public_url,
            log_format: global.log_format.or(file.log_format).unwrap_or(LogFormat::Text),
            master_key,
            serve,
        })
    }

    /// The public URL, given or derived from the HTTPS port actually bound.
    /// This program, as another terminal on this machine would run it against the same
    /// data: its full path (it may not be on the PATH, as under `cargo run`), and the
    /// settings that say where the data is. A database password is not printed: the
    /// command then reads the URL from the environment.
    pub fn command_line(&self) -> String {
        let absolute = |path: &Path| std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
        let program = std::env::current_exe()
            .map_or_else(|_| "ringfence".to_owned(), |p| shell_word(&p.display().to_string()));
        let mut line =
            format!("{program} --data-dir {}", shell_word(&absolute(&self.data_dir).display().to_string()));
        if let Some(config) = &self.config_file {
            line.push_str(&format!(" --config {}", shell_word(&absolute(config).display().to_string())));
        }
        if let StorageLocation::Postgres { url, .. } = &self.storage {
            let authority =
                url.split_once("://").map_or("", |(_, rest)| rest.split('/').next().unwrap_or(""));
            let has_password =
                authority.rsplit_once('@').is_some_and(|(user_info, _)| user_info.contains(':'));
            if has_password {
                line.push_str(" --database-url \"$RINGFENCE_DATABASE_URL\"");
            } else {
                line.push_str(&format!(" --database-url {}", shell_word(url)));
            }
        }
        line
    }

    pub fn public_url_for(&self, https_port: u16) -> String {
        self.public_url.clone().unwrap_or_else(|| format!("https://localhost:{https_port}"))
    }
}

/// `word` as one word of a POSIX shell: as it is when it holds nothing the shell reads
/// specially, else in single quotes.
fn shell_word(word: &str) -> String {
    let plain =
        !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || "/._-:@%+=,".contains(c));
    if plain { word.to_owned() } else { format!("'{}'", word.replace('\'', "'\\''")) }
}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| bad("config", format!("cannot read {}: {e}", path.display())))?;
    // toml's message quotes the offending line, so the setting is named.
    toml::from_str(&text).map_err(|e| bad("config", format!("{}: {e}", path.display())))
}

fn parse_public_url(raw: &str) -> Result<String, ConfigError> {
    let url = raw.trim().trim_end_matches('/');
    let rest = url
        .strip_prefix("https://")
        .ok_or_else(|| bad("public_url", "must start with https:// (Ringfence is served over HTTPS only)"))?;
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() || url.contains(['?', '#', ' ', '@']) || url.chars().any(char::is_control) {
        return Err(bad(
            "public_url",
            "expected https://host[:port][/path] without query, fragment or credentials",
        ));
    }
    Ok(url.to_owned())
}

fn resolve_acme(
    directory: Option<String>,
    email: Option<String>,
    ca: Option<PathBuf>,
    public_url: Option<&str>,
) -> Result<Option<AcmeSettings>, ConfigError> {
    let Some(directory) = directory else {
        if email.is_some() {
            return Err(bad("acme_directory", "required with acme_email"));
        }
        if ca.is_some() {
            return Err(bad("acme_directory", "required with acme_ca"));
        }
        return Ok(None);
    };
    if !directory.starts_with("https://") || directory.contains(char::is_whitespace) {
        return Err(bad("acme_directory", "expected the https:// URL of an ACME directory"));
    }
    let public_url = public_url.ok_or_else(|| {
        bad("public_url", "required with acme_directory: the certificate is for its host name")
    })?;
    let host = acme_host(public_url).map_err(|problem| bad("public_url", problem))?;
    let contact = email
        .map(|raw| Email::parse(&raw).map(|email| email.as_str().to_owned()))
        .transpose()
        .map_err(|e| bad("acme_email", e.to_string()))?;
    if let Some(path) = &ca
        && !path.is_file()
    {
        return Err(bad("acme_ca", format!("{} is not a readable file", path.display())));
    }
    Ok(Some(AcmeSettings { directory, host, contact, ca }))
}

/// The host name of a parsed public URL, when a CA can certify it: a DNS name, not an
/// IP address.
fn acme_host(public_url: &str) -> Result<String, &'static str> {
    let authority = public_url.trim_start_matches("https://").split('/').next().unwrap_or_default();
    let host = authority.rsplit_once(':').map_or(authority, |(host, _port)| host).to_ascii_lowercase();
    let is_dns_name = host.len() <= 253
        && host.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    if !is_dns_name || host.parse::<std::net::IpAddr>().is_ok() || authority.starts_with('[') {
        return Err("ACME certifies a DNS host name: the public URL's host must be one, not an IP address");
    }
    Ok(host)
}

fn backup_place(command: &BackupCommand) -> &BackupPlaceArgs {
    match command {
        BackupCommand::Create { place, .. }
        | BackupCommand::List { place, .. }
        | BackupCommand::Verify { place, .. }
        | BackupCommand::Restore { place, .. } => place,
    }
}

/// `HH:MM`, 00:00 to 23:59.
fn parse_time_of_day(text: &str) -> Option<time::Time> {
    let (hours, minutes) = text.split_once(':')?;
    if hours.len() != 2 || minutes.len() != 2 {
        return None;
    }
    time::Time::from_hms(hours.parse().ok()?, minutes.parse().ok()?, 0).ok()
}

/// `DAYS,WEEKS,MONTHS`.
fn parse_generations(text: &str) -> Option<Generations> {
    let counts: Vec<usize> =
        text.split(',').map(|n| n.trim().parse().ok().filter(|n| *n <= 1000)).collect::<Option<_>>()?;
    let [daily, weekly, monthly] = counts.as_slice() else { return None };
    let keep = Generations { daily: *daily, weekly: *weekly, monthly: *monthly };
    (keep.daily + keep.weekly + keep.monthly > 0).then_some(keep)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn resolve(args: &[&str]) -> Result<Settings, ConfigError> {
        let cli = Cli::try_parse_from(args).expect("arguments parse");
        Settings::resolve_with(&cli, None)
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let settings = resolve(&["ringfence", "serve"]).unwrap();
        assert_eq!(settings.data_dir, PathBuf::from("ringfence-data"));
        assert!(matches!(settings.storage, StorageLocation::Sqlite));
        assert_eq!(settings.serve.listen.to_string(), "127.0.0.1:8443");
        assert_eq!(settings.serve.http_listen.to_string(), "127.0.0.1:8080");
        assert_eq!(settings.serve.tls_min, TlsMin::Tls12);
        assert_eq!(settings.public_url_for(8443), "https://localhost:8443");
    }

    #[test]
    fn flags_override_the_file_which_overrides_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ringfence.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:9443\"\nhttp_listen = \"127.0.0.1:9080\"\ntls_min = \"1.3\"\n",
        )
        .unwrap();
        let config = file.to_str().unwrap();
        let from_file = resolve(&["ringfence", "--config", config, "serve"]).unwrap();
        assert_eq!(from_file.serve.listen.to_string(), "127.0.0.1:9443");
        assert_eq!(from_file.serve.tls_min, TlsMin::Tls13);
        let flagged =
            resolve(&["ringfence", "--config", config, "serve", "--listen", "127.0.0.1:7443"]).unwrap();
        assert_eq!(flagged.serve.listen.to_string(), "127.0.0.1:7443");
        assert_eq!(flagged.serve.http_listen.to_string(), "127.0.0.1:9080");
    }

    #[test]
    fn bad_values_name_the_setting() {
        let err = resolve(&["ringfence", "--public-url", "http://example.com", "serve"]).unwrap_err();
        assert_eq!(err.setting, "public_url");
        let err = resolve(&["ringfence", "--database-url", "mysql://x", "migrate"]).unwrap_err();
        assert_eq!(err.setting, "database_url");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bad.toml");
        std::fs::write(&file, "listen = \"nowhere\"\n").unwrap();
        let err = resolve(&["ringfence", "--config", file.to_str().unwrap(), "serve"]).unwrap_err();
        assert_eq!(err.setting, "config");
        assert!(err.to_string().contains("listen") || err.to_string().contains("socket address"), "{err}");
        std::fs::write(&file, "colour = \"blue\"\n").unwrap();
        let err = resolve(&["ringfence", "--config", file.to_str().unwrap(), "serve"]).unwrap_err();
        assert!(err.to_string().contains("colour"), "{err}");
    }

    #[test]
    fn acme_takes_its_name_from_the_public_url() {
        let settings = resolve(&[
            "ringfence",
            "--public-url",
            "https://Cases.Firm.example:8443/rf",
            "serve",
            "--acme-directory",
            "https://acme.example/directory",
            "--acme-email",
            "it@firm.example",
        ])
        .unwrap();
        let acme = settings.serve.acme.unwrap();
        assert_eq!(acme.host, "cases.firm.example");
        assert_eq!(acme.contact.as_deref(), Some("it@firm.example"));
        assert!(resolve(&["ringfence", "serve"]).unwrap().serve.acme.is_none(), "off unless configured");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ringfence.toml");
        std::fs::write(
            &file,
            "public_url = \"https://firm.example\"\nacme_directory = \"https://acme.example/dir\"\n",
        )
        .unwrap();
        let from_file = resolve(&["ringfence", "--config", file.to_str().unwrap(), "serve"]).unwrap();
        let acme = from_file.serve.acme.unwrap();
        assert_eq!(
            (acme.directory.as_str(), acme.host.as_str()),
            ("https://acme.example/dir", "firm.example")
        );
    }

    #[test]
    fn acme_refusals_name_the_setting() {
        let directory = ["--acme-directory", "https://acme.example/directory"];
        let with = |global: &[&str], serve: &[&str]| {
            let args: Vec<&str> =
                ["ringfence"].iter().chain(global).chain(&["serve"]).chain(serve).copied().collect();
            resolve(&args).unwrap_err()
        };
        assert_eq!(with(&[], &directory).setting, "public_url", "no host name to certify");
        for ip in ["https://127.0.0.1", "https://[::1]:8443", "https://bad_name.example"] {
            assert_eq!(with(&["--public-url", ip], &directory).setting, "public_url", "{ip}");
        }
        let public = ["--public-url", "https://firm.example"];
        assert_eq!(
            with(&public, &["--acme-directory", "http://acme.example/directory"]).setting,
            "acme_directory"
        );
        assert_eq!(with(&public, &["--acme-email", "it@firm.example"]).setting, "acme_directory");
        let email = [directory[0], directory[1], "--acme-email", "not an address"];
        assert_eq!(with(&public, &email).setting, "acme_email");
        let ca = [directory[0], directory[1], "--acme-ca", "/nonexistent/root.pem"];
        assert_eq!(with(&public, &ca).setting, "acme_ca");
        let pair = tempfile::tempdir().unwrap();
        let (cert, key) = (pair.path().join("cert.pem"), pair.path().join("key.pem"));
        std::fs::write(&cert, "").unwrap();
        std::fs::write(&key, "").unwrap();
        let files = [
            directory[0],
            directory[1],
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ];
        assert_eq!(with(&public, &files).setting, "acme_directory");
    }

    #[test]
    fn the_postgres_pool_size_defaults_to_16_and_is_bounded() {
        let url = "postgres://ringfence@db.internal/ringfence";
        let settings = resolve(&["ringfence", "--database-url", url, "migrate"]).unwrap();
        assert!(matches!(settings.storage, StorageLocation::Postgres { pool_size: 16, .. }));
        let settings =
            resolve(&["ringfence", "--database-url", url, "--database-pool-size", "40", "serve"]).unwrap();
        assert!(matches!(settings.storage, StorageLocation::Postgres { pool_size: 40, .. }));
        for refused in ["0", "3", "1001"] {
            let err =
                resolve(&["ringfence", "--database-url", url, "--database-pool-size", refused, "serve"])
                    .unwrap_err();
            assert_eq!(err.setting, "database_pool_size", "{refused}");
            assert!(err.to_string().contains("4 to 1000"), "{err}");
        }
        let err = resolve(&["ringfence", "--database-pool-size", "20", "serve"]).unwrap_err();
        assert_eq!(err.setting, "database_pool_size");
        assert!(err.to_string().contains("PostgreSQL only"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ringfence.toml");
        std::fs::write(&file, format!("database_url = \"{url}\"\ndatabase_pool_size = 64\n")).unwrap();
        let from_file = resolve(&["ringfence", "--config", file.to_str().unwrap(), "migrate"]).unwrap();
        assert!(matches!(from_file.storage, StorageLocation::Postgres { pool_size: 64, .. }));
    }

    #[test]
    fn trusted_proxies_are_cidrs_and_the_proxy_listener_needs_them() {
        let settings = resolve(&[
            "ringfence",
            "serve",
            "--trusted-proxies",
            "10.0.0.0/8, fd00::/8",
            "--proxy-http-listen",
            "10.0.0.5:8081",
        ])
        .unwrap();
        assert!(settings.serve.trusted_proxies.contains("10.1.2.3".parse().unwrap()));
        assert!(settings.serve.trusted_proxies.contains("fd00::1".parse().unwrap()));
        assert_eq!(settings.serve.proxy_http_listen, Some("10.0.0.5:8081".parse().unwrap()));
        assert!(resolve(&["ringfence", "serve"]).unwrap().serve.trusted_proxies.is_empty());
        let contract_name = resolve(&["ringfence", "serve", "--trusted-proxy", "192.0.2.0/24"]).unwrap();
        assert!(contract_name.serve.trusted_proxies.contains("192.0.2.1".parse().unwrap()));
        let header = ["ringfence", "serve", "--trusted-proxies", "10.0.0.0/8", "--trusted-proxy-header"];
        let forwarded = resolve(&[&header[..], &["forwarded"]].concat()).unwrap();
        let expected = TrustedProxies::parse("10.0.0.0/8").unwrap().writing(ProxyHeader::Forwarded);
        assert_eq!(forwarded.serve.trusted_proxies, expected);
        assert_eq!(
            resolve(&[&header[..], &["x-real-ip"]].concat()).unwrap_err().setting,
            "trusted_proxy_header"
        );

        let err =
            resolve(&["ringfence", "serve", "--trusted-proxies", "10.0.0.0/8,proxy.internal"]).unwrap_err();
        assert_eq!(err.setting, "trusted_proxies");
        assert!(err.to_string().contains("`proxy.internal` is not a CIDR"), "{err}");
        let err = resolve(&["ringfence", "serve", "--trusted-proxies", "10.0.0.0/40"]).unwrap_err();
        assert_eq!(err.setting, "trusted_proxies");
        let err = resolve(&["ringfence", "serve", "--proxy-http-listen", "127.0.0.1:8081"]).unwrap_err();
        assert_eq!(err.setting, "proxy_http_listen");
        assert!(err.to_string().contains("requires trusted_proxies"), "{err}");

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ringfence.toml");
        std::fs::write(&file, "trusted_proxies = \"192.0.2.0/24\"\nproxy_http_listen = \"127.0.0.1:8081\"\n")
            .unwrap();
        let from_file = resolve(&["ringfence", "--config", file.to_str().unwrap(), "serve"]).unwrap();
        assert!(from_file.serve.trusted_proxies.contains("192.0.2.9".parse().unwrap()));
        assert_eq!(from_file.serve.proxy_http_listen, Some("127.0.0.1:8081".parse().unwrap()));
    }

    #[test]
    fn public_urls_lose_their_trailing_slash() {
        assert_eq!(parse_public_url("https://firm.example/").unwrap(), "https://firm.example");
        assert!(parse_public_url("https://user@firm.example").is_err());
    }

    #[test]
    fn backups_are_off_unless_a_target_is_set_and_every_backup_setting_is_checked() {
        assert!(resolve(&["ringfence", "serve"]).unwrap().serve.backup.is_none());
        let target = "--backup-target=local:/srv/ringfence-backups";
        let settings = resolve(&["ringfence", "serve", target]).unwrap();
        let backup = settings.serve.backup.unwrap();
        assert_eq!(backup.target, BlobLocation::Local(PathBuf::from("/srv/ringfence-backups")));
        assert_eq!(
            (backup.every, backup.at),
            (time::Duration::hours(24), time::Time::from_hms(2, 0, 0).unwrap())
        );
        assert_eq!(backup.keep, Generations { daily: 7, weekly: 4, monthly: 12 });
        let set = resolve(&[
            "ringfence",
            "serve",
            target,
            "--backup-every-hours=6",
            "--backup-at=23:30",
            "--backup-keep=14,0,3",
            "--backup-alert-email=ops@hosting.example",
        ])
        .unwrap()
        .serve
        .backup
        .unwrap();
        assert_eq!((set.every, set.at), (time::Duration::hours(6), time::Time::from_hms(23, 30, 0).unwrap()));
        assert_eq!(set.keep, Generations { daily: 14, weekly: 0, monthly: 3 });
        assert_eq!(set.alert.unwrap().as_str(), "ops@hosting.example");
        for (setting, refused) in [
            ("backup_target", "--backup-target=local"),
            ("backup_target", "--backup-target=local:relative/dir"),
            ("backup_target", "--backup-target=ftp://host/dir"),
            ("backup_every_hours", "--backup-every-hours=0"),
            ("backup_every_hours", "--backup-every-hours=169"),
            ("backup_at", "--backup-at=24:00"),
            ("backup_at", "--backup-at=2:00"),
            ("backup_at", "--backup-at=02:00\n"),
            ("backup_keep", "--backup-keep=0,0,0"),
            ("backup_keep", "--backup-keep=7,4"),
            ("backup_keep", "--backup-keep=7,4,-1"),
            ("backup_keep", "--backup-keep=1001,0,0"),
            ("backup_alert_email", "--backup-alert-email=not an address"),
        ] {
            let args: &[&str] = if setting == "backup_target" {
                &["ringfence", "serve", refused]
            } else {
                &["ringfence", "serve", target, refused]
            };
            let err = resolve(args).unwrap_err();
            assert_eq!(err.setting, setting, "{refused}");
        }
    }
}
