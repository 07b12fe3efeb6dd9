//! Where sealed file bytes live: a local directory (the embedded default) or S3-compatible
//! object storage. Both sit behind `object_store`'s one trait; this module only decides
//! names and hands out writers and byte ranges. Nothing here ever sees plaintext: callers
//! seal before writing and open after reading (see `ringfence_crypto::blob`).

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures_util::StreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::buffered::BufWriter;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};
use ringfence_core::ids::FirmId;
use time::OffsetDateTime;
use tokio::io::AsyncWriteExt;
use uuid::Uuid;

use crate::StoreError;

/// Which blob store a deployment uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobLocation {
    /// A directory on this machine (default: `DATA/blobs`).
    Local(PathBuf),
    /// `s3://bucket[/prefix]`; endpoint, region and credentials come from the standard
    /// `AWS_*` environment variables (`AWS_ENDPOINT`, `AWS_ACCESS_KEY_ID`, …).
    S3(String),
}

impl BlobLocation {
    /// Parses the `blob-store` setting: `local`, `local:/some/dir`, or `s3://bucket/prefix`.
    pub fn parse(value: &str, data_dir: &Path) -> Result<Self, String> {
        if value == "local" {
            return Ok(Self::Local(data_dir.join("blobs")));
        }
        if let Some(dir) = value.strip_prefix("local:") {
            return Ok(Self::Local(PathBuf::from(dir)));
        }
        if let Some(rest) = value.strip_prefix("s3://")
            && !rest.is_empty()
            && !rest.starts_with('/')
        {
            return Ok(Self::S3(value.to_owned()));
        }
        Err("must be local, local:/path or s3://bucket[/prefix]".to_owned())
    }
}

/// Bytes of objects are written in parts of this size (S3 needs at least 5 MiB per part).
const PART_LEN: usize = 8 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct BlobStore {
    store: Arc<dyn ObjectStore>,
    root: ObjectPath,
    /// The directory of a local store: where its unfinished writes are staged.
    local_dir: Option<PathBuf>,
}

/// A blob found in the store, with when it was last written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredBlob {
    pub id: Uuid,
    pub modified: OffsetDateTime,
}

/// A file a local store began writing and never published (the process stopped
/// mid-upload): `<blob>#<n>` beside the blobs, which listings do not show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagedFile {
    pub path: PathBuf,
    pub modified: OffsetDateTime,
}

impl BlobStore {
    pub fn open(location: &BlobLocation) -> Result<Self, StoreError> {
        match location {
            BlobLocation::Local(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| StoreError::io(dir, e))?;
                let local = LocalFileSystem::new_with_prefix(dir)
                    .map_err(|e| StoreError::Blob(e.to_string()))?
                    .with_fsync(true);
                Ok(Self { store: Arc::new(local), root: ObjectPath::default(), local_dir: Some(dir.clone()) })
            }
            BlobLocation::S3(url) => {
                // HTTPS to the object store uses rustls with ring, as the server does; an
                // already installed provider is kept.
                let _ = rustls::crypto::ring::default_provider().install_default();
                let without_scheme = url.trim_start_matches("s3://");
                let (bucket, prefix) = without_scheme.split_once('/').unwrap_or((without_scheme, ""));
                let s3 = AmazonS3Builder::from_env()
                    .with_bucket_name(bucket)
                    .build()
                    .map_err(|e| StoreError::Blob(e.to_string()))?;
                Ok(Self { store: Arc::new(s3), root: ObjectPath::from(prefix), local_dir: None })
            }
        }
    }

    fn path(&self, firm: FirmId, blob: Uuid) -> ObjectPath {
        self.root.clone().join("firms").join(firm.to_string()).join("blobs").join(blob.to_string())
    }

    /// A writer for a new blob. Nothing is visible under the blob's name until
    /// [`BlobWriter::finish`]; a writer that is aborted or dropped leaves no object.
    pub fn writer(&self, firm: FirmId, blob: Uuid) -> BlobWriter {
        BlobWriter {
            inner: Some(BufWriter::with_capacity(self.store.clone(), self.path(firm, blob), PART_LEN)),
        }
    }

    pub async fn read(
        &self,
        firm: FirmId,
        blob: Uuid,
        range: Range<u64>,
    ) -> Result<bytes::Bytes, StoreError> {
        self.store.get_range(&self.path(firm, blob), range).await.map_err(blob_error)
    }

    pub async fn size(&self, firm: FirmId, blob: Uuid) -> Result<u64, StoreError> {
        Ok(self.store.head(&self.path(firm, blob)).await.map_err(blob_error)?.size)
    }

    /// The blobs stored for a firm, to find orphans and to check that nothing is left over.
    pub async fn list(&self, firm: FirmId) -> Result<Vec<Uuid>, StoreError> {
        Ok(self.list_with_times(firm).await?.into_iter().map(|blob| blob.id).collect())
    }

    /// The blobs stored for a firm, each with when it was last written: the file's time
    /// in a local store, the object's `Last-Modified` in S3.
    pub async fn list_with_times(&self, firm: FirmId) -> Result<Vec<StoredBlob>, StoreError> {
        let prefix = self.root.clone().join("firms").join(firm.to_string()).join("blobs");
        let objects: Vec<_> = self.store.list(Some(&prefix)).collect().await;
        let mut blobs = Vec::with_capacity(objects.len());
        for object in objects {
            let object = object.map_err(blob_error)?;
            let modified = OffsetDateTime::from_unix_timestamp(object.last_modified.timestamp())
                .map_err(|e| StoreError::Blob(e.to_string()))?;
            if let Some(id) = object.location.filename().and_then(|name| name.parse().ok()) {
                blobs.push(StoredBlob { id, modified });
            }
        }
        Ok(blobs)
    }

    /// A local store's staged, never published files of a firm (none in S3, whose
    /// unfinished multipart uploads are not objects: a bucket lifecycle rule ends them).
    pub async fn list_staged(&self, firm: FirmId) -> Result<Vec<StagedFile>, StoreError> {
        let Some(dir) = &self.local_dir else { return Ok(Vec::new()) };
        let dir = dir.join("firms").join(firm.to_string()).join("blobs");
        tokio::task::spawn_blocking(move || staged_in(&dir))
            .await
            .map_err(|e| StoreError::TaskFailed(e.to_string()))?
    }

    /// Removes a staged file found by [`Self::list_staged`]; one already gone is not an error.
    pub async fn delete_staged(&self, staged: &StagedFile) -> Result<(), StoreError> {
        match tokio::fs::remove_file(&staged.path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StoreError::io(&staged.path, e)),
        }
    }

    /// Removes everything stored for a firm: every object under its prefix, and in a local
    /// store its directory with any staged files. Returns how many objects were removed;
    /// safe to run again, since what is gone already is no error.
    pub async fn delete_firm(&self, firm: FirmId) -> Result<u64, StoreError> {
        let prefix = self.root.clone().join("firms").join(firm.to_string());
        let objects: Vec<_> = self.store.list(Some(&prefix)).collect().await;
        let mut removed = 0;
        for object in objects {
            match self.store.delete(&object.map_err(blob_error)?.location).await {
                Ok(()) => removed += 1,
                Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(blob_error(e)),
            }
        }
        if let Some(dir) = &self.local_dir {
            let dir = dir.join("firms").join(firm.to_string());
            match tokio::fs::remove_dir_all(&dir).await {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(StoreError::io(&dir, e)),
                _ => {}
            }
        }
        Ok(removed)
    }

    /// Copies `firm`'s blob to `other`, as `into`'s (the same firm but for a copy restored
    /// beside it), as the bytes stored (sealed), a part at a time; the size copied.
    pub async fn copy_to(
        &self,
        other: &BlobStore,
        firm: FirmId,
        blob: Uuid,
        into: FirmId,
    ) -> Result<u64, StoreError> {
        let mut source = self.store.get(&self.path(firm, blob)).await.map_err(blob_error)?.into_stream();
        let mut writer = other.writer(into, blob);
        let mut copied = 0;
        while let Some(bytes) = source.next().await {
            let bytes = bytes.map_err(blob_error)?;
            copied += bytes.len() as u64;
            writer.write(bytes.into()).await?;
        }
        writer.finish().await?;
        Ok(copied)
    }

    /// Whether the blob is stored.
    pub async fn contains(&self, firm: FirmId, blob: Uuid) -> Result<bool, StoreError> {
        match self.size(firm, blob).await {
            Ok(_) => Ok(true),
            Err(StoreError::BlobMissing) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The object at `parts` under this store's root (a backup's files beside the blobs).
    pub(crate) fn object(&self, parts: &[&str]) -> ObjectPath {
        parts.iter().fold(self.root.clone(), |path, part| path.join(*part))
    }

    pub(crate) fn object_writer(&self, path: ObjectPath) -> BlobWriter {
        BlobWriter { inner: Some(BufWriter::with_capacity(self.store.clone(), path, PART_LEN)) }
    }

    pub(crate) async fn object_size(&self, path: &ObjectPath) -> Result<u64, StoreError> {
        Ok(self.store.head(path).await.map_err(blob_error)?.size)
    }

    pub(crate) async fn read_object(
        &self,
        path: &ObjectPath,
        range: Range<u64>,
    ) -> Result<bytes::Bytes, StoreError> {
        self.store.get_range(path, range).await.map_err(blob_error)
    }

    /// The objects under `prefix`, with their sizes and when each was last written.
    pub(crate) async fn list_objects(
        &self,
        prefix: &ObjectPath,
    ) -> Result<Vec<(ObjectPath, u64, OffsetDateTime)>, StoreError> {
        let objects: Vec<_> = self.store.list(Some(prefix)).collect().await;
        objects
            .into_iter()
            .map(|object| {
                let object = object.map_err(blob_error)?;
                let modified = OffsetDateTime::from_unix_timestamp(object.last_modified.timestamp())
                    .map_err(|e| StoreError::Blob(e.to_string()))?;
                Ok((object.location, object.size, modified))
            })
            .collect()
    }

    /// Removes an object; one already gone is not an error.
    pub(crate) async fn delete_object(&self, path: &ObjectPath) -> Result<(), StoreError> {
        match self.store.delete(path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(blob_error(e)),
        }
    }

    /// Removes a blob; one that is already gone is not an error.
    pub async fn delete(&self, firm: FirmId, blob: Uuid) -> Result<(), StoreError> {
        match self.store.delete(&self.path(firm, blob)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(blob_error(e)),
        }
    }
}

/// The staged files in a firm's blob directory: `<blob id>#<digits>`.
fn staged_in(dir: &Path) -> Result<Vec<StagedFile>, StoreError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(StoreError::io(dir, e)),
    };
    let mut staged = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| StoreError::io(dir, e))?;
        let name = entry.file_name();
        let Some((blob, suffix)) = name.to_str().and_then(|name| name.split_once('#')) else { continue };
        if blob.parse::<Uuid>().is_err() || suffix.is_empty() || !suffix.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let path = entry.path();
        let metadata = entry.metadata().map_err(|e| StoreError::io(&path, e))?;
        if !metadata.is_file() {
            continue;
        }
        let modified = metadata.modified().map_err(|e| StoreError::io(&path, e))?;
        staged.push(StagedFile { path, modified: OffsetDateTime::from(modified) });
    }
    Ok(staged)
}

fn blob_error(e: object_store::Error) -> StoreError {
    match e {
        object_store::Error::NotFound { .. } => StoreError::BlobMissing,
        other => StoreError::Blob(other.to_string()),
    }
}

/// Writes one blob as its bytes arrive, in bounded memory.
pub struct BlobWriter {
    inner: Option<BufWriter>,
}

impl BlobWriter {
    pub async fn write(&mut self, bytes: Vec<u8>) -> Result<(), StoreError> {
        let writer = self.inner.as_mut().ok_or(StoreError::Blob("blob writer already closed".into()))?;
        writer.put(bytes.into()).await.map_err(blob_error)
    }

    /// Completes the blob: only now does it exist under its name.
    pub async fn finish(mut self) -> Result<(), StoreError> {
        let mut writer = self.inner.take().ok_or(StoreError::Blob("blob writer already closed".into()))?;
        writer.shutdown().await.map_err(|e| StoreError::Blob(e.to_string()))
    }

    /// Abandons the blob and removes whatever parts were written.
    pub async fn abort(mut self) -> Result<(), StoreError> {
        match self.inner.take() {
            Some(mut writer) => writer.abort().await.map_err(blob_error),
            None => Ok(()),
        }
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        // A writer dropped mid-upload (the client went away) must not leave parts behind.
        if let Some(mut writer) = self.inner.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(async move {
                if let Err(e) = writer.abort().await {
                    tracing::warn!(error = %e, "could not clean up an abandoned upload");
                }
            });
        }
    }
}
