//! Checkpoints kept outside the database, read back for `audit verify --against FILE`.
//!
//! Someone who can write the database but holds no key can still rewrite the entries after
//! the last signed checkpoint in it, or cut the log back to an earlier checkpoint. What the
//! firm saved elsewhere closes that gap: each line of FILE may be the JSON of
//! `GET /api/v1/audit/checkpoint` (`seq`, hex `hash`, and its signature, which is checked), a
//! line of the `--audit-jsonl` sink (`firm`, base64 `hash`, `entry.seq`), or a syslog line
//! carrying that same JSON after its header. Lines of other firms, and lines holding none
//! of these, are passed over; a file with nothing of this firm is an error, so a wrong file
//! cannot pass for a match.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ringfence_crypto::audit_chain;
use ringfence_store::firm::audit::ExternalCheckpoint;
use serde_json::{Map, Value};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ExternalError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path}, line {line}: {problem}")]
    Line { path: String, line: usize, problem: &'static str },
    #[error("{path} holds no checkpoint or shipped entry of this firm")]
    Empty { path: String },
}

/// Every checkpoint of firm `firm_id` in the file at `path`.
pub fn read(path: &Path, firm_id: &str) -> Result<Vec<ExternalCheckpoint>, ExternalError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|source| ExternalError::Read { path: shown.clone(), source })?;
    let mut found = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line_no = index + 1;
        let Some(record) = record_in(line) else { continue };
        let parsed = parse(&record, firm_id).map_err(|problem| ExternalError::Line {
            path: shown.clone(),
            line: line_no,
            problem,
        })?;
        if let Some((seq, hash)) = parsed {
            found.push(ExternalCheckpoint { seq, hash, source: format!("{shown}, line {line_no}") });
        }
    }
    if found.is_empty() {
        return Err(ExternalError::Empty { path: shown });
    }
    Ok(found)
}

/// The first JSON object in `line` that looks like a checkpoint or a shipped entry: the
/// whole line for JSON lines, the message after the header for syslog.
fn record_in(line: &str) -> Option<Map<String, Value>> {
    line.match_indices('{').find_map(|(start, _)| {
        let mut values = serde_json::Deserializer::from_str(&line[start..]).into_iter::<Value>();
        match values.next() {
            Some(Ok(Value::Object(object))) if object.contains_key("hash") => Some(object),
            _ => None,
        }
    })
}

/// `(seq, hash)` of a record of `firm_id`; `None` for another firm's.
fn parse(record: &Map<String, Value>, firm_id: &str) -> Result<Option<(i64, [u8; 32])>, &'static str> {
    if let Some(firm) = record.get("firm")
        && firm.as_str() != Some(firm_id)
    {
        return Ok(None);
    }
    let hash = record.get("hash").and_then(Value::as_str).ok_or("`hash` is not a string")?;
    if let Some(entry) = record.get("entry") {
        // A line as the JSON-lines and syslog sinks ship it.
        let seq = entry.get("seq").and_then(Value::as_i64).ok_or("a shipped entry without its `seq`")?;
        let hash = STANDARD
            .decode(hash)
            .ok()
            .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
            .ok_or("the entry's `hash` is not 32 bytes of base64")?;
        return Ok(Some((seq, hash)));
    }
    // A checkpoint as GET /api/v1/audit/checkpoint answers it.
    let seq = record.get("seq").and_then(Value::as_i64).ok_or("a checkpoint without its `seq`")?;
    let hash = from_hex(hash).ok_or("the checkpoint's `hash` is not 32 bytes of hex")?;
    let firm = record.get("firm").and_then(Value::as_str).ok_or("a checkpoint without its `firm`")?;
    let signature = record.get("signature").and_then(Value::as_str).and_then(|s| STANDARD.decode(s).ok());
    let public_key = record.get("public_key").and_then(Value::as_str).and_then(|s| STANDARD.decode(s).ok());
    let at = record.get("at_millis").and_then(Value::as_i64);
    let (Some(signature), Some(public_key), Some(at)) = (signature, public_key, at) else {
        return Err("a checkpoint without its `signature`, `public_key` and `at_millis`");
    };
    if !audit_chain::verify_checkpoint(&public_key, firm, seq, &hash, at, &signature) {
        return Err("the checkpoint's signature does not match it: the file was changed");
    }
    Ok(Some((seq, hash)))
}

fn from_hex(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(text.as_bytes().chunks(2)) {
        *byte = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use ringfence_crypto::audit_chain::AuditSigningKey;
    use serde_json::json;

    use super::*;

    const FIRM: &str = "0b4a8f63-3c1e-4d6e-9a55-6f1f0b7f2c11";

    fn api_checkpoint(firm: &str, seq: i64, hash: [u8; 32]) -> Value {
        let key = AuditSigningKey::generate().unwrap();
        let signature = key.sign_checkpoint(firm, seq, &hash, 1_700_000_000_000).unwrap();
        json!({
            "firm": firm,
            "seq": seq,
            "at": "2023-11-14T22:13:20Z",
            "at_millis": 1_700_000_000_000_i64,
            "hash": hash.iter().map(|b| format!("{b:02x}")).collect::<String>(),
            "signature": STANDARD.encode(signature),
            "key_id": "k",
            "public_key": STANDARD.encode(key.public_key().unwrap()),
            "algorithm": "ed25519",
        })
    }

    fn shipped(firm: &str, seq: i64, hash: [u8; 32]) -> Value {
        json!({ "firm": firm, "hash": STANDARD.encode(hash), "entry": { "seq": seq, "action": "a{b}" } })
    }

    fn file(lines: &[String]) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut file, lines.join("\n").as_bytes()).unwrap();
        file
    }

    #[test]
    fn api_checkpoints_sink_lines_and_syslog_lines_are_read() {
        let lines = [
            api_checkpoint(FIRM, 7, [7; 32]).to_string(),
            String::new(),
            "an unrelated log line".to_owned(),
            shipped(FIRM, 8, [8; 32]).to_string(),
            format!(
                "<110>1 2026-11-23T10:00:00Z host ringfence - audit [audit@32473 firm=\"{FIRM}\" seq=\"9\" \
                 action=\"x{{\" outcome=\"success\" actor=\"cli\"] {}",
                shipped(FIRM, 9, [9; 32])
            ),
            shipped("another-firm", 10, [10; 32]).to_string(),
        ];
        let file = file(&lines);
        let found = read(file.path(), FIRM).unwrap();
        let pairs: Vec<(i64, [u8; 32])> = found.iter().map(|c| (c.seq, c.hash)).collect();
        assert_eq!(pairs, vec![(7, [7; 32]), (8, [8; 32]), (9, [9; 32])]);
        assert!(found[2].source.ends_with("line 5"), "{}", found[2].source);
    }

    #[test]
    fn a_changed_checkpoint_or_a_file_without_any_is_refused() {
        let mut changed = api_checkpoint(FIRM, 7, [7; 32]);
        changed["seq"] = json!(6);
        let err = read(file(&[changed.to_string()]).path(), FIRM).unwrap_err().to_string();
        assert!(err.contains("line 1") && err.contains("signature"), "{err}");

        let err = read(file(&[shipped("another-firm", 1, [1; 32]).to_string()]).path(), FIRM).unwrap_err();
        assert!(matches!(err, ExternalError::Empty { .. }), "{err}");
        let bad = json!({ "firm": FIRM, "hash": "not base64!", "entry": { "seq": 1 } });
        let err = read(file(&[bad.to_string()]).path(), FIRM).unwrap_err().to_string();
        assert!(err.contains("base64"), "{err}");
    }
}
