//! A backup's files: written sealed as they are made, read back a few chunks at a time,
//! each chunk authenticated before any byte of it is used. The format is the sealed blob's
//! (chunked AES-256-GCM, see `ringfence_crypto::blob`), under the backup key of the scope
//! the backup is of, bound to that scope, the backup and the file's part.

use object_store::path::Path as ObjectPath;
use ringfence_crypto::DataKey;
use ringfence_crypto::blob::{self, BlobOpener, BlobSealer};

use crate::StoreError;
use crate::blobs::{BlobStore, BlobWriter};

/// Sealed bytes gathered before they are written out.
const WRITE_LEN: usize = 8 * 1024 * 1024;
/// Chunks read at once.
const READ_CHUNKS: u64 = 64;

pub(crate) struct SealedWriter {
    sealer: Option<BlobSealer>,
    sealed: Vec<u8>,
    writer: BlobWriter,
    pub plain_len: u64,
    pub sealed_len: u64,
}

impl SealedWriter {
    pub fn start(
        target: &BlobStore,
        path: ObjectPath,
        key: &DataKey,
        binding: &[&[u8]],
    ) -> Result<Self, StoreError> {
        let mut sealed = Vec::with_capacity(WRITE_LEN + blob::CHUNK_LEN * 2);
        let sealer = BlobSealer::start(key, binding, &mut sealed)?;
        Ok(Self {
            sealer: Some(sealer),
            sealed,
            writer: target.object_writer(path),
            plain_len: 0,
            sealed_len: 0,
        })
    }

    pub async fn push(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        let sealer =
            self.sealer.as_mut().ok_or_else(|| StoreError::Blob("sealed writer already finished".into()))?;
        sealer.push(bytes, &mut self.sealed)?;
        self.plain_len += bytes.len() as u64;
        if self.sealed.len() >= WRITE_LEN {
            self.write_out().await?;
        }
        Ok(())
    }

    async fn write_out(&mut self) -> Result<(), StoreError> {
        let sealed = std::mem::replace(&mut self.sealed, Vec::with_capacity(WRITE_LEN + blob::CHUNK_LEN * 2));
        self.sealed_len += sealed.len() as u64;
        self.writer.write(sealed).await
    }

    /// Seals the last chunk and completes the file: only now does it exist. Its sealed size.
    pub async fn finish(mut self) -> Result<u64, StoreError> {
        let sealer =
            self.sealer.take().ok_or_else(|| StoreError::Blob("sealed writer already finished".into()))?;
        sealer.finish(&mut self.sealed)?;
        self.write_out().await?;
        self.writer.finish().await?;
        Ok(self.sealed_len)
    }
}

pub(crate) struct SealedReader {
    target: BlobStore,
    path: ObjectPath,
    opener: BlobOpener,
    sealed_len: u64,
    chunks: u64,
    next_chunk: u64,
}

impl SealedReader {
    pub async fn open(
        target: &BlobStore,
        path: ObjectPath,
        key: &DataKey,
        binding: &[&[u8]],
    ) -> Result<Self, StoreError> {
        let sealed_len = target.object_size(&path).await?;
        let plain_len = blob::plain_len(sealed_len).ok_or(StoreError::BlobIntegrity)?;
        let header = target.read_object(&path, 0..blob::HEADER_LEN as u64).await?;
        let opener = BlobOpener::new(key, binding, &header, plain_len).map_err(integrity)?;
        Ok(Self {
            target: target.clone(),
            path,
            opener,
            sealed_len,
            chunks: blob::chunk_count(plain_len),
            next_chunk: 0,
        })
    }

    /// The next few chunks' plaintext, authenticated; `None` after the last.
    pub async fn next(&mut self) -> Result<Option<Vec<u8>>, StoreError> {
        if self.next_chunk == self.chunks {
            return Ok(None);
        }
        let first = self.next_chunk;
        let count = READ_CHUNKS.min(self.chunks - first);
        let start = blob::HEADER_LEN as u64 + first * blob::SEALED_CHUNK_LEN;
        let end = (start + count * blob::SEALED_CHUNK_LEN).min(self.sealed_len);
        let sealed = self.target.read_object(&self.path, start..end).await?;
        let plain = self.opener.open_span(first, Vec::from(sealed)).map_err(integrity)?;
        self.next_chunk += count;
        Ok(Some(plain))
    }

    /// The whole plaintext (a manifest: small).
    pub async fn read_all(mut self) -> Result<Vec<u8>, StoreError> {
        let mut all = Vec::new();
        while let Some(piece) = self.next().await? {
            all.extend_from_slice(&piece);
        }
        Ok(all)
    }
}

/// Lines of a sealed file, one at a time.
pub(crate) struct Lines {
    reader: SealedReader,
    buffer: Vec<u8>,
    start: usize,
    ended: bool,
}

impl Lines {
    pub fn new(reader: SealedReader) -> Self {
        Self { reader, buffer: Vec::new(), start: 0, ended: false }
    }

    /// The next line, without its newline; `None` at the end.
    pub async fn next(&mut self) -> Result<Option<Vec<u8>>, StoreError> {
        loop {
            if let Some(end) = self.buffer[self.start..].iter().position(|b| *b == b'\n') {
                let line = self.buffer[self.start..self.start + end].to_vec();
                self.start += end + 1;
                return Ok(Some(line));
            }
            if self.ended {
                return if self.start == self.buffer.len() {
                    Ok(None)
                } else {
                    Err(StoreError::BackupUnreadable("the backup ends in the middle of a line".into()))
                };
            }
            self.buffer.drain(..self.start);
            self.start = 0;
            match self.reader.next().await? {
                Some(piece) => self.buffer.extend_from_slice(&piece),
                None => self.ended = true,
            }
        }
    }
}

fn integrity(e: ringfence_crypto::CryptoError) -> StoreError {
    match e {
        ringfence_crypto::CryptoError::Unauthentic | ringfence_crypto::CryptoError::Malformed => {
            StoreError::BlobIntegrity
        }
        other => StoreError::Crypto(other),
    }
}
