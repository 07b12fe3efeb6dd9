//! Outgoing mail. By default each message is written as an `.eml` file to `DATA/outbox/`
//! (for development and for installs that relay mail some other way); with
//! `smtp://host:port` (STARTTLS with `?tls=required`) or `smtps://host:port` (implicit TLS)
//! it is sent with lettre, credentials from the URL's user info.
//!
//! Mail never carries case content: only sign-in codes, links and notices.

use std::io::Write;
use std::path::{Path, PathBuf};

use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox, SinglePart};
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
    /// The recipient's name, shown beside the address when known.
    pub to_name: Option<&'a str>,
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

    /// Whether mail goes to the outbox folder rather than out: people waiting for a mail
    /// must then be told where it is.
    pub fn is_outbox(&self) -> bool {
        matches!(self, Mailer::Outbox { .. })
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

/// A MIME message with its own Message-ID. The text goes as it is (7bit, or 8bit for text
/// beyond ASCII), never quoted-printable: a link in it is one line in the file as in the
/// mail, and survives being copied from either.
fn build(from: &Mailbox, mail: Mail<'_>) -> Result<lettre::Message, MailError> {
    let address = mail.to.parse().map_err(|_| MailError::Address(mail.to.to_owned()))?;
    let to = Mailbox::new(mail.to_name.map(str::to_owned), address);
    let body = as_written(&mail.body).unwrap_or_else(|| Body::new(mail.body));
    let id = format!("<{}@{}>", uuid::Uuid::new_v4().simple(), from.email.domain());
    Ok(lettre::Message::builder()
        .from(from.clone())
        .to(to)
        .subject(mail.subject)
        .message_id(Some(id))
        .singlepart(SinglePart::builder().header(ContentType::TEXT_PLAIN).body(body))?)
}

/// The text as it is, lines ending in CRLF: 7bit when it is ASCII, 8bit otherwise. lettre
/// would quote-print any line over 78 characters (a link); RFC 5322 allows 998, and a text
/// that breaks that (or holds a NUL) gets lettre's own encoding instead.
fn as_written(text: &str) -> Option<Body> {
    let lines: Vec<&str> = text.lines().collect();
    if lines.iter().any(|line| line.len() > 998) || text.contains('\0') || text.contains('\r') {
        return None;
    }
    let mut crlf = lines.join("\r\n");
    crlf.push_str("\r\n");
    let encoding =
        if crlf.is_ascii() { ContentTransferEncoding::SevenBit } else { ContentTransferEncoding::EightBit };
    Some(Body::dangerous_pre_encoded(crlf.into_bytes(), encoding))
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

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    use tokio::net::TcpListener;

    use super::*;

    /// A minimal SMTP server on loopback (RFC 5321's required commands, no extensions):
    /// accepts one message and hands back the envelope and data it received.
    async fn smtp_server() -> (u16, tokio::task::JoinHandle<(Vec<String>, String)>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let (read, mut write) = stream.into_split();
            let mut lines = BufReader::new(read).lines();
            let mut commands = Vec::new();
            let mut data = String::new();
            write.write_all(b"220 test.local ESMTP\r\n").await.unwrap();
            while let Some(line) = lines.next_line().await.unwrap() {
                let verb = line.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
                commands.push(line.clone());
                let reply: &[u8] = match verb.as_str() {
                    "EHLO" => b"250 test.local\r\n",
                    "MAIL" | "RCPT" | "RSET" | "NOOP" => b"250 OK\r\n",
                    "DATA" => {
                        write.write_all(b"354 go ahead\r\n").await.unwrap();
                        while let Some(line) = lines.next_line().await.unwrap() {
                            if line == "." {
                                break;
                            }
                            data.push_str(&line);
                            data.push('\n');
                        }
                        b"250 queued\r\n"
                    }
                    "QUIT" => {
                        write.write_all(b"221 bye\r\n").await.unwrap();
                        break;
                    }
                    _ => b"502 not implemented\r\n",
                };
                write.write_all(reply).await.unwrap();
            }
            (commands, data)
        });
        (port, server)
    }

    #[tokio::test]
    async fn smtp_delivers_a_real_exchange() {
        let (port, server) = smtp_server().await;
        let dir = tempfile::tempdir().unwrap();
        let url = format!("smtp://127.0.0.1:{port}");
        let mailer = Mailer::new(Some(&url), dir.path(), "Ringfence <ringfence@firm.example>").unwrap();
        let mail = Mail {
            to: "ann@firm.example",
            to_name: None,
            subject: "Your sign-in code",
            body: "Code 123456\n".to_owned(),
        };
        mailer.send(mail).await.unwrap();
        drop(mailer);
        let (commands, data) =
            tokio::time::timeout(std::time::Duration::from_secs(10), server).await.unwrap().unwrap();
        assert!(commands.iter().any(|c| c.starts_with("MAIL FROM:<ringfence@firm.example>")), "{commands:?}");
        assert!(commands.iter().any(|c| c.starts_with("RCPT TO:<ann@firm.example>")), "{commands:?}");
        assert!(data.contains("Subject: Your sign-in code"), "{data}");
        assert!(data.contains("Code 123456"), "{data}");
        assert!(!dir.path().join("outbox").exists(), "nothing written to the outbox");
    }

    #[tokio::test]
    async fn the_outbox_holds_one_private_file_per_message() {
        let dir = tempfile::tempdir().unwrap();
        let mailer = Mailer::new(None, dir.path(), "ringfence@localhost").unwrap();
        for n in 0..3 {
            let mail = Mail {
                to: "ann@firm.example",
                to_name: None,
                subject: "Notice",
                body: format!("message {n}\n"),
            };
            mailer.send(mail).await.unwrap();
        }
        let mut files: Vec<_> =
            std::fs::read_dir(dir.path().join("outbox")).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        assert_eq!(files.len(), 3);
        for (n, file) in files.iter().enumerate() {
            assert_eq!(file.extension().unwrap(), "eml");
            assert!(
                std::fs::read_to_string(file).unwrap().contains(&format!("message {n}")),
                "in sending order"
            );
            #[cfg(unix)]
            assert_eq!(
                std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(file).unwrap().permissions())
                    & 0o777,
                0o600
            );
        }
    }

    #[tokio::test]
    async fn a_message_is_mime_with_an_id_and_its_long_links_whole() {
        let dir = tempfile::tempdir().unwrap();
        let mailer = Mailer::new(None, dir.path(), "Ringfence <ringfence@firm.example>").unwrap();
        let link = format!("https://ringfence.firm.example/invite#{}.{}", "a".repeat(32), "b".repeat(43));
        for body in [format!("Set your password:\n{link}\n"), format!("Zoë Müller invited you.\n{link}\n")]
        {
            let mail =
                Mail { to: "ann@firm.example", to_name: Some("Ann Pérez"), subject: "Invitation", body };
            mailer.send(mail).await.unwrap();
        }
        for file in std::fs::read_dir(dir.path().join("outbox")).unwrap() {
            let raw = std::fs::read_to_string(file.unwrap().path()).unwrap();
            assert!(raw.contains("MIME-Version: 1.0\r\n"), "{raw}");
            assert!(raw.contains("Message-ID: <") && raw.contains("@firm.example>"), "{raw}");
            assert!(
                raw.contains("Content-Transfer-Encoding: 7bit")
                    || raw.contains("Content-Transfer-Encoding: 8bit"),
                "{raw}"
            );
            assert!(raw.lines().any(|line| line == link), "the link on one line, as sent: {raw}");
            let to = raw.lines().find(|line| line.starts_with("To: ")).unwrap();
            assert!(to.ends_with(" <ann@firm.example>") && to != "To: <ann@firm.example>", "named: {to}");
        }
    }

    #[test]
    fn only_smtp_urls_are_accepted() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(Mailer::new(Some("http://mail"), dir.path(), "a@b.example"), Err(MailError::Url)));
        assert!(matches!(Mailer::new(None, dir.path(), "not an address"), Err(MailError::Address(_))));
    }
}
