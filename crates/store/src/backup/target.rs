//! Where backups go: a directory or an S3 bucket/prefix apart from the blob store and the
//! data directory, so that losing those does not lose the backups with them.

use std::path::{Component, Path, PathBuf};

use crate::StoreError;
use crate::blobs::{BlobLocation, BlobStore};

/// A backup target, opened. Documents are kept in it as the blob store keeps them
/// (`firms/<firm>/blobs/<id>`), so a document already copied by an earlier backup is not
/// copied again; each backup's own files are under `firms/<firm>/backups/<id>/`, the
/// control store's under `control/backups/<id>/`.
#[derive(Debug, Clone)]
pub struct BackupTarget {
    pub(crate) store: BlobStore,
    location: BlobLocation,
}

impl BackupTarget {
    /// Parses the `backup-target` setting: `local:/some/dir` or `s3://bucket[/prefix]`.
    pub fn parse(value: &str) -> Result<BlobLocation, String> {
        let location = BlobLocation::parse(value, Path::new("/")).map_err(|_| {
            "must be local:/path (a directory apart from the data) or s3://bucket[/prefix]".to_owned()
        })?;
        match &location {
            BlobLocation::Local(dir) if value == "local" || !dir.is_absolute() => {
                Err("must name its directory with an absolute path: local:/path".to_owned())
            }
            _ => Ok(location),
        }
    }

    /// Opens the target, refusing one that is, holds or lies inside the blob store or the
    /// data directory: a backup kept with what it backs up is lost with it.
    pub fn open(location: &BlobLocation, blobs: &BlobLocation, data_dir: &Path) -> Result<Self, StoreError> {
        let apart = match (location, blobs) {
            (BlobLocation::Local(target), BlobLocation::Local(blob_dir)) => {
                !overlaps(&absolute(target), &absolute(blob_dir))
                    && !overlaps(&absolute(target), &absolute(data_dir))
            }
            (BlobLocation::Local(target), BlobLocation::S3(_)) => {
                !overlaps(&absolute(target), &absolute(data_dir))
            }
            (BlobLocation::S3(target), BlobLocation::S3(blob_url)) => {
                let (bucket, prefix) = bucket_and_prefix(target);
                let (blob_bucket, blob_prefix) = bucket_and_prefix(blob_url);
                bucket != blob_bucket || !overlaps(Path::new(&prefix), Path::new(&blob_prefix))
            }
            (BlobLocation::S3(_), BlobLocation::Local(_)) => true,
        };
        if !apart {
            return Err(StoreError::BackupTargetNotApart);
        }
        Ok(Self { store: BlobStore::open(location)?, location: location.clone() })
    }

    pub fn location(&self) -> &BlobLocation {
        &self.location
    }
}

fn bucket_and_prefix(url: &str) -> (String, String) {
    let rest = url.trim_start_matches("s3://");
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    (bucket.to_owned(), format!("/{}", prefix.trim_matches('/')))
}

/// Whether either path is the other or lies inside it.
fn overlaps(a: &Path, b: &Path) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

/// The path made absolute and free of `.` and `..`, following symbolic links as far as the
/// path exists (the target may not exist yet).
fn absolute(path: &Path) -> PathBuf {
    let joined = std::env::current_dir().map(|dir| dir.join(path)).unwrap_or_else(|_| path.to_owned());
    let mut clean = PathBuf::new();
    for part in joined.components() {
        match part {
            Component::ParentDir => {
                clean.pop();
            }
            Component::CurDir => {}
            other => clean.push(other),
        }
    }
    let mut existing = clean.clone();
    let mut rest = Vec::new();
    while !existing.exists() {
        match (existing.file_name().map(ToOwned::to_owned), existing.parent().map(Path::to_path_buf)) {
            (Some(name), Some(parent)) => {
                rest.push(name);
                existing = parent;
            }
            _ => return clean,
        }
    }
    let mut resolved = existing.canonicalize().unwrap_or(existing);
    resolved.extend(rest.into_iter().rev());
    resolved
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(dir: &Path) -> BlobLocation {
        BlobLocation::Local(dir.to_owned())
    }

    #[test]
    fn a_target_must_be_a_directory_or_bucket_named_in_full() {
        assert!(BackupTarget::parse("local:/srv/backups").is_ok());
        assert!(BackupTarget::parse("s3://backups/ringfence").is_ok());
        for refused in ["local", "local:relative/dir", "", "ftp://x", "s3://", "s3:///x", "/srv/backups"] {
            assert!(BackupTarget::parse(refused).is_err(), "{refused}");
        }
    }

    #[test]
    fn a_target_in_or_around_the_data_or_the_blob_store_is_refused() {
        let root = tempfile::tempdir().unwrap_or_else(|e| unreachable!("{e}"));
        let data = root.path().join("data");
        let blobs = local(&data.join("blobs"));
        std::fs::create_dir_all(&data).unwrap_or_else(|e| unreachable!("{e}"));
        for refused in [
            data.clone(),
            data.join("blobs"),
            data.join("blobs/backups"),
            data.join("backups"),
            root.path().to_owned(),
            data.join("x/../blobs"),
        ] {
            let err = BackupTarget::open(&local(&refused), &blobs, &data).unwrap_err();
            assert!(matches!(err, StoreError::BackupTargetNotApart), "{}", refused.display());
        }
        assert!(BackupTarget::open(&local(&root.path().join("backups")), &blobs, &data).is_ok());
        let s3 = |url: &str| BlobLocation::S3(url.to_owned());
        for (target, store) in [
            ("s3://b", "s3://b"),
            ("s3://b/backups", "s3://b"),
            ("s3://b/x", "s3://b/x/y"),
            ("s3://b/x/", "s3://b/x"),
        ] {
            let err = BackupTarget::open(&s3(target), &s3(store), &data).unwrap_err();
            assert!(matches!(err, StoreError::BackupTargetNotApart), "{target} {store}");
        }
        assert!(BackupTarget::open(&s3("s3://b/backups"), &s3("s3://b/blobs"), &data).is_ok());
        assert!(BackupTarget::open(&s3("s3://c"), &s3("s3://b"), &data).is_ok());
        assert!(BackupTarget::open(&s3("s3://b/xy"), &s3("s3://b/x"), &data).is_ok());
    }
}
