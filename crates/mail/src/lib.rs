//! Outgoing mail. By default each message is written as an `.eml` file to `DATA/outbox/`
//! (for development and for installs that relay mail some other way); with
//! `smtp://host:port` (STARTTLS with `?tls=required`) or `smtps://host:port` (implicit TLS)
//! it is sent with lettre, credentials from the URL's user info.
//!
//! Mail never carries case content: only sign-in codes, links and notices.

use std::io::Write;
use std::path::{Path, PathBuf};

use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum MailError {
    #[error("invalid mail address `{0}`")]
    Address(String),
    #[error("invalid mail URL: expected smtp://host[:port] or smtps://host[:port]")]
    Url,
    #[error("could not build the message")]
    Build(#[from] lettre::error::Error),
    #[error("could not write to the outbox at {path}")]
    Outbox { path: String, source: std::io::Error },
    #[error("the SMTP server refused or could not be reached")]
    Smtp(#[from] lettre::transport::smtp::Error),
}

/// One message: plain text, to one recipient.
pub struct Mail<'a> {
    pub to: &'a str,
    pub subject: &'a str,
    pub body: String,
}

pub enum Mailer {
    Outbox { dir: PathBuf, from: Mailbox },
    Smtp { transport: AsyncSmtpTransport<Tokio1Executor>, from: Mailbox },
}

impl Mailer {
    /// `url` is `None` for the outbox under `data_dir`.
    pub fn new(url: Option<&str>, data_dir: &Path, from: &str) -> Result<Self, MailError> {
        let from: Mailbox = from.parse().map_err(|_| MailError::Address(from.to_owned()))?;
        match url {
            None => Ok(Self::Outbox { dir: data_dir.join("outbox"), from }),
            Some(url) if url.starts_with("smtp://") || url.starts_with("smtps://") => {
                let transport =
                    AsyncSmtpTransport::<Tokio1Executor>::from_url(url).map_err(|_| MailError::Url)?.build();
                Ok(Self::Smtp { transport, from })
            }
            Some(_) => Err(MailError::Url),
        }
    }

    pub async fn send(&self, mail: Mail<'_>) -> Result<(), MailError> {
        match self {
            Mailer::Smtp { transport, from } => {
                transport.send(build(from, mail)?).await?;
            }
            Mailer::Outbox { dir, from } => {
                let (dir, bytes) = (dir.clone(), build(from, mail)?.formatted());
                tokio::task::spawn_blocking(move || write_eml(&dir, &bytes)).await.map_err(|e| {
                    MailError::Outbox { path: String::new(), source: std::io::Error::other(e) }
                })??;
            }
        }
        Ok(())
    }
}

fn build(from: &Mailbox, mail: Mail<'_>) -> Result<lettre::Message, MailError> {
    let to: Mailbox = mail.to.parse().map_err(|_| MailError::Address(mail.to.to_owned()))?;
    Ok(lettre::Message::builder()
        .from(from.clone())
        .to(to)
        .subject(mail.subject)
        .header(ContentType::TEXT_PLAIN)
        .body(mail.body)?)
}

/// Writes the message whole or not at all (a temporary file renamed into place), readable
/// by the owner only: it may hold a sign-in code.
fn write_eml(dir: &Path, bytes: &[u8]) -> Result<(), MailError> {
    let outbox_error = |path: &Path| {
        let path = path.display().to_string();
        move |source| MailError::Outbox { path, source }
    };
    std::fs::create_dir_all(dir).map_err(outbox_error(dir))?;
    // Time-ordered names: the outbox lists in the order mail was sent.
    let name = uuid::Uuid::now_v7().simple().to_string();
    let partial = dir.join(format!(".{name}.partial"));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&partial).map_err(outbox_error(&partial))?;
    file.write_all(bytes).and_then(|()| file.sync_all()).map_err(outbox_error(&partial))?;
    let path = dir.join(format!("{name}.eml"));
    std::fs::rename(&partial, &path).map_err(outbox_error(&path))
}
