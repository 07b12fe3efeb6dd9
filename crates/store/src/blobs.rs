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
}

impl BlobStore {
    pub fn open(location: &BlobLocation) -> Result<Self, StoreError> {
        match location {
            BlobLocation::Local(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| StoreError::io(dir, e))?;
                let local = LocalFileSystem::new_with_prefix(dir)
                    .map_err(|e| StoreError::Blob(e.to_string()))?
                    .with_fsync(true);
                Ok(Self { store: Arc::new(local), root: ObjectPath::default() })
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
                Ok(Self { store: Arc::new(s3), root: ObjectPath::from(prefix) })
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
        let prefix = self.root.clone().join("firms").join(firm.to_string()).join("blobs");
        let objects: Vec<_> = self.store.list(Some(&prefix)).collect().await;
        let mut ids = Vec::with_capacity(objects.len());
        for object in objects {
            let object = object.map_err(blob_error)?;
            if let Some(id) = object.location.filename().and_then(|name| name.parse().ok()) {
                ids.push(id);
            }
        }
        Ok(ids)
    }

    /// Removes a blob; one that is already gone is not an error.
    pub async fn delete(&self, firm: FirmId, blob: Uuid) -> Result<(), StoreError> {
        match self.store.delete(&self.path(firm, blob)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(blob_error(e)),
        }
    }
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
