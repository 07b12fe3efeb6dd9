//! `audit verify --export FILE.zip`: checks a full export offline, with no key of the
//! firm and no database.
//!
//! 1. Every file the manifest lists is in the ZIP with the size and SHA-256 it gives, and
//!    the ZIP holds nothing else.
//! 2. The audit keys: the newest is the anchor of trust (the report prints it, to compare
//!    with a public key or checkpoint kept elsewhere); every other key must be certified by
//!    a key so proven, as `ringfence audit verify` requires of the database's keys.
//! 3. Every checkpoint is signed by a proven key.
//! 4. Every entry's hash is the link of the hash before it and the entry itself. In a
//!    firm's export the entries follow one another from the first (the genesis, or the
//!    signed checkpoint a retention purge left) with no gap, every checkpoint the log
//!    promises (each hundredth entry, and 10 minutes after the last) is there, and each
//!    checkpoint matches its entry. A matter's export holds the matter's entries only: each
//!    is checked against the hash before it, and those a checkpoint covers against it.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ringfence_core::audit::StoredAuditEntry;
use ringfence_core::clock::unix_millis;
use ringfence_crypto::audit_chain;
use ringfence_store::firm::audit::checkpoint_due;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use thiserror::Error;
use zeroize::Zeroizing;

#[derive(Debug, Error)]
pub enum ExportError {
    #[error("cannot read {path}: {source}")]
    Open { path: String, source: std::io::Error },
    #[error("{path} is not a ZIP this program can read: {source}")]
    Zip { path: String, source: zip::result::ZipError },
    #[error("{file} in the export cannot be read: {problem}")]
    Entry { file: String, problem: String },
    #[error("the export fails its check: {0}")]
    Broken(String),
}

fn broken(problem: impl Into<String>) -> ExportError {
    ExportError::Broken(problem.into())
}

#[derive(Deserialize)]
struct Manifest {
    format: String,
    firm: String,
    scope: String,
    files: Vec<Listed>,
}

#[derive(Deserialize)]
struct Listed {
    path: String,
    size: u64,
    sha256: String,
}

#[derive(Deserialize)]
struct Keys {
    keys: Vec<Key>,
    certificates: Vec<Certificate>,
}

#[derive(Deserialize)]
struct Key {
    id: String,
    public_key: String,
    created_at_millis: i64,
}

#[derive(Deserialize)]
struct Certificate {
    key_id: String,
    certified_by: String,
    signature: String,
}

#[derive(Deserialize)]
struct Checkpoint {
    seq: i64,
    at_millis: i64,
    hash: String,
    signature: String,
    key_id: String,
}

#[derive(Deserialize)]
struct Line {
    firm: String,
    hash: String,
    previous: String,
    entry: StoredAuditEntry,
}

/// What a good export holds.
pub struct Checked {
    pub scope: String,
    pub files: usize,
    pub entries: usize,
    /// Entries a signed checkpoint covers.
    pub covered: usize,
    pub checkpoints: usize,
    pub keys: usize,
    /// The newest audit key, which every other is proven through: `(id, base64)`.
    pub anchor: (String, String),
}

/// An export opened, with its passphrase when encrypted.
struct Export {
    archive: zip::ZipArchive<std::fs::File>,
    passphrase: Option<Zeroizing<String>>,
}

impl Export {
    /// Reads one file whole, passing each piece to `sink` as it comes.
    fn read_with(&mut self, name: &str, mut sink: impl FnMut(&[u8])) -> Result<(), ExportError> {
        let problem =
            |e: &dyn std::fmt::Display| ExportError::Entry { file: name.to_owned(), problem: e.to_string() };
        let mut file = match &self.passphrase {
            Some(passphrase) => self.archive.by_name_decrypt(name, passphrase.as_bytes()),
            None => self.archive.by_name(name),
        }
        .map_err(|e| problem(&e))?;
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let read = file.read(&mut buffer).map_err(|e| problem(&e))?;
            if read == 0 {
                return Ok(());
            }
            sink(&buffer[..read]);
        }
    }

    fn json<T: for<'de> Deserialize<'de>>(&mut self, name: &str) -> Result<T, ExportError> {
        let mut bytes = Vec::new();
        self.read_with(name, |piece| bytes.extend_from_slice(piece))?;
        serde_json::from_slice(&bytes)
            .map_err(|e| ExportError::Entry { file: name.to_owned(), problem: e.to_string() })
    }

    /// Each line of a JSON-lines file, in order, read as it streams.
    fn each_line<T: for<'de> Deserialize<'de>>(
        &mut self,
        name: &str,
        mut each: impl FnMut(T) -> Result<(), ExportError>,
    ) -> Result<(), ExportError> {
        let problem =
            |e: &dyn std::fmt::Display| ExportError::Entry { file: name.to_owned(), problem: e.to_string() };
        let file = match &self.passphrase {
            Some(passphrase) => self.archive.by_name_decrypt(name, passphrase.as_bytes()),
            None => self.archive.by_name(name),
        }
        .map_err(|e| problem(&e))?;
        for (n, line) in BufReader::new(file).lines().enumerate() {
            let line = line.map_err(|e| problem(&e))?;
            if line.is_empty() {
                continue;
            }
            let record = serde_json::from_str(&line).map_err(|e| problem(&format!("line {}: {e}", n + 1)))?;
            each(record)?;
        }
        Ok(())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn decode(what: &str, text: &str) -> Result<Vec<u8>, ExportError> {
    STANDARD.decode(text).map_err(|_| broken(format!("{what} is not base64")))
}

fn hash32(what: &str, bytes: Vec<u8>) -> Result<[u8; 32], ExportError> {
    bytes.try_into().map_err(|_| broken(format!("{what} is not 32 bytes")))
}

fn from_hex(what: &str, text: &str) -> Result<[u8; 32], ExportError> {
    let bytes = (0..text.len())
        .step_by(2)
        .map(|i| text.get(i..i + 2).and_then(|pair| u8::from_str_radix(pair, 16).ok()))
        .collect::<Option<Vec<u8>>>()
        .ok_or_else(|| broken(format!("{what} is not hex")))?;
    hash32(what, bytes)
}

/// Checks the export at `path` (see the module documentation).
pub fn check(path: &Path, passphrase: Option<Zeroizing<String>>) -> Result<Checked, ExportError> {
    let shown = path.display().to_string();
    let file =
        std::fs::File::open(path).map_err(|source| ExportError::Open { path: shown.clone(), source })?;
    let archive =
        zip::ZipArchive::new(file).map_err(|source| ExportError::Zip { path: shown.clone(), source })?;
    let mut export = Export { archive, passphrase };

    // 1. The files against the manifest.
    let manifest: Manifest = export.json("manifest.json")?;
    if manifest.format != ringfence_server::app::exports::FORMAT {
        return Err(broken(format!(
            "the manifest's format is {}, not one this program knows",
            manifest.format
        )));
    }
    let mut in_zip: Vec<String> = export
        .archive
        .file_names()
        .map(|name| name.map(std::borrow::Cow::into_owned))
        .collect::<Result<_, _>>()
        .map_err(|source| ExportError::Zip { path: shown.clone(), source })?;
    in_zip.retain(|name| name != "manifest.json");
    in_zip.sort();
    let mut listed: Vec<&str> = manifest.files.iter().map(|f| f.path.as_str()).collect();
    listed.sort_unstable();
    if in_zip != listed {
        let extra: Vec<&String> = in_zip.iter().filter(|n| !listed.contains(&n.as_str())).collect();
        let missing: Vec<&&str> = listed.iter().filter(|n| !in_zip.iter().any(|m| m == **n)).collect();
        return Err(broken(format!(
            "the ZIP and its manifest differ: not listed {extra:?}, missing {missing:?}"
        )));
    }
    for listed in &manifest.files {
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        export.read_with(&listed.path, |piece| {
            hasher.update(piece);
            size += piece.len() as u64;
        })?;
        if size != listed.size || hex(&hasher.finalize()) != listed.sha256 {
            return Err(broken(format!(
                "{} does not match its size and SHA-256 in the manifest",
                listed.path
            )));
        }
    }

    // 2. The keys, proven through the newest.
    let keys: Keys = export.json("audit/keys.json")?;
    let firm = manifest.firm.as_str();
    let mut public: HashMap<String, Vec<u8>> = HashMap::new();
    for key in &keys.keys {
        public.insert(key.id.clone(), decode("an audit key", &key.public_key)?);
    }
    let anchor = keys
        .keys
        .iter()
        .max_by_key(|k| (k.created_at_millis, k.id.clone()))
        .map(|k| (k.id.clone(), k.public_key.clone()));
    let mut proven: HashMap<String, Vec<u8>> = HashMap::new();
    if let Some((id, _)) = &anchor
        && let Some(key) = public.get(id)
    {
        proven.insert(id.clone(), key.clone());
    }
    loop {
        let mut newly = Vec::new();
        for certificate in &keys.certificates {
            if proven.contains_key(&certificate.key_id) {
                continue;
            }
            let (Some(signer), Some(key)) =
                (proven.get(&certificate.certified_by), public.get(&certificate.key_id))
            else {
                continue;
            };
            let signature = decode("a key certificate", &certificate.signature)?;
            if audit_chain::verify_key_certificate(signer, firm, &certificate.key_id, key, &signature) {
                newly.push((certificate.key_id.clone(), key.clone()));
            }
        }
        if newly.is_empty() {
            break;
        }
        proven.extend(newly);
    }
    if let Some(unproven) = public.keys().find(|id| !proven.contains_key(*id)) {
        return Err(broken(format!("audit key {unproven} is not certified by the firm's newest audit key")));
    }

    // 3. The checkpoints, each signed by a proven key.
    let mut checkpoints: BTreeMap<i64, ([u8; 32], i64)> = BTreeMap::new();
    let mut bad = None;
    export.each_line("audit/checkpoints.jsonl", |c: Checkpoint| {
        let hash = from_hex("a checkpoint's hash", &c.hash)?;
        let signature = decode("a checkpoint's signature", &c.signature)?;
        let signed = proven.get(&c.key_id).is_some_and(|key| {
            audit_chain::verify_checkpoint(key, firm, c.seq, &hash, c.at_millis, &signature)
        });
        if !signed && bad.is_none() {
            bad = Some(c.seq);
        }
        checkpoints.insert(c.seq, (hash, c.at_millis));
        Ok(())
    })?;
    if let Some(seq) = bad {
        return Err(broken(format!(
            "the checkpoint at entry {seq} is not signed by an audit key of the firm"
        )));
    }

    // 4. The entries.
    let whole = manifest.scope == "firm";
    let mut last: Option<(i64, [u8; 32])> = None;
    let mut checkpoint_at: Option<i64> = None;
    let mut entries = 0usize;
    let mut matched = 0usize;
    export.each_line("audit/audit.jsonl", |line: Line| {
        let seq = line.entry.seq;
        if line.firm != firm {
            return Err(broken(format!("entry {seq} names another firm")));
        }
        let hash = hash32("an entry's hash", decode("an entry's hash", &line.hash)?)?;
        let previous =
            hash32("an entry's previous hash", decode("an entry's previous hash", &line.previous)?)?;
        if audit_chain::link(&previous, &line.entry.canonical_bytes()) != hash {
            return Err(broken(format!("entry {seq} does not match its hash: it was changed")));
        }
        let at = unix_millis(line.entry.at);
        if whole {
            match last {
                Some((before, before_hash)) if seq != before + 1 || previous != before_hash => {
                    return Err(broken(format!(
                        "entry {seq} does not follow entry {before}: entries were removed or reordered"
                    )));
                }
                Some(_) => {}
                None if seq == 1 => {
                    if previous != audit_chain::genesis(firm) {
                        return Err(broken("the first entry does not start the firm's chain"));
                    }
                    checkpoint_at = Some(at);
                }
                None => match checkpoints.get(&(seq - 1)) {
                    // After a retention purge the log starts from the signed checkpoint of
                    // the last entry removed.
                    Some((anchor_hash, anchor_at)) if *anchor_hash == previous => {
                        checkpoint_at = Some(*anchor_at)
                    }
                    _ => {
                        return Err(broken(format!(
                            "entries before {seq} were removed without a signed checkpoint"
                        )));
                    }
                },
            }
            let promised = checkpoint_due(seq, at, checkpoint_at);
            match checkpoints.get(&seq) {
                Some((_, signed_at)) => checkpoint_at = Some(*signed_at),
                None if promised => {
                    return Err(broken(format!(
                        "entry {seq} has no signed checkpoint, though the log promises one"
                    )));
                }
                None => {}
            }
        }
        if let Some((signed, _)) = checkpoints.get(&seq) {
            if *signed != hash {
                return Err(broken(format!(
                    "entry {seq} differs from its signed checkpoint: the log was rewritten"
                )));
            }
            matched += 1;
        }
        last = Some((seq, hash));
        entries += 1;
        Ok(())
    })?;
    if whole {
        let end = last.map_or(0, |(seq, _)| seq);
        if let Some((&seq, _)) = checkpoints.range(end + 1..).next() {
            return Err(broken(format!(
                "entries {} to {seq} were removed (a checkpoint covers {seq})",
                end + 1
            )));
        }
    }
    Ok(Checked {
        covered: matched,
        scope: manifest.scope,
        files: manifest.files.len(),
        entries,
        checkpoints: checkpoints.len(),
        keys: keys.keys.len(),
        anchor: anchor.unwrap_or_default(),
    })
}
