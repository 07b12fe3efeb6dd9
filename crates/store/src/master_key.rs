//! Where the master key comes from: `RINGFENCE_MASTER_KEY`, or `DATA/master.key`, created
//! with mode 0600 on the very first start only. A deployment that already holds data never
//! gets a fresh key silently: a missing or different key stops start-up before anything
//! is written.

use std::io::Write;
use std::path::{Path, PathBuf};

use ringfence_crypto::MasterKey;

use crate::StoreError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MasterKeyOrigin {
    Environment,
    File(PathBuf),
    /// Created just now: it must be backed up, apart from the data.
    Created(PathBuf),
}

pub(crate) fn master_key_path(data_dir: &Path) -> PathBuf {
    data_dir.join("master.key")
}

/// Resolves the master key and checks it against the one the deployment recorded.
pub(crate) fn resolve(
    from_env: Option<&str>,
    data_dir: &Path,
    recorded_id: Option<&str>,
) -> Result<(MasterKey, MasterKeyOrigin), StoreError> {
    let path = master_key_path(data_dir);
    let (key, origin) = if let Some(text) = from_env {
        (MasterKey::from_base64(text)?, MasterKeyOrigin::Environment)
    } else if path.exists() {
        finish_interrupted_rotation(&path, recorded_id)?;
        let text =
            zeroize::Zeroizing::new(std::fs::read_to_string(&path).map_err(|e| StoreError::io(&path, e))?);
        (MasterKey::from_base64(&text)?, MasterKeyOrigin::File(path))
    } else if let Some(recorded) = recorded_id {
        return Err(StoreError::MasterKeyMissing {
            recorded: recorded.to_owned(),
            path: path.display().to_string(),
        });
    } else {
        let key = MasterKey::generate()?;
        write_new_key_file(&path, &key)?;
        (key, MasterKeyOrigin::Created(path))
    };
    if let Some(recorded) = recorded_id
        && recorded != key.id()
    {
        return Err(StoreError::MasterKeyMismatch {
            recorded: recorded.to_owned(),
            given: key.id().to_owned(),
        });
    }
    Ok((key, origin))
}

/// A rotation that re-wrapped the firm keys under `master.key.next` but stopped before
/// replacing `master.key` is finished here; a `next` key the data was not re-wrapped under
/// is an abandoned attempt and is removed.
fn finish_interrupted_rotation(path: &Path, recorded_id: Option<&str>) -> Result<(), StoreError> {
    let next = next_key_path(path);
    if !next.exists() {
        return Ok(());
    }
    let text = zeroize::Zeroizing::new(std::fs::read_to_string(&next).map_err(|e| StoreError::io(&next, e))?);
    let matches = MasterKey::from_base64(&text).is_ok_and(|key| Some(key.id()) == recorded_id);
    if matches {
        std::fs::rename(&next, path).map_err(|e| StoreError::io(path, e))
    } else {
        std::fs::remove_file(&next).map_err(|e| StoreError::io(&next, e))
    }
}

/// Where a master key being rotated in waits until the firm keys are re-wrapped under it.
pub(crate) fn next_key_path(path: &Path) -> PathBuf {
    path.with_extension("key.next")
}

pub(crate) fn write_new_key_file(path: &Path, key: &MasterKey) -> Result<(), StoreError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| StoreError::io(parent, e))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(|e| StoreError::io(path, e))?;
    let encoded = key.to_base64();
    file.write_all(encoded.as_bytes())
        .and_then(|()| file.write_all(b"\n"))
        .and_then(|()| file.sync_all())
        .map_err(|e| StoreError::io(path, e))
}
