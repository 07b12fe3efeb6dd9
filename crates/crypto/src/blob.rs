//! Files sealed as a stream of chunks, so that neither sealing nor opening needs the whole
//! file in memory, and any byte range opens without reading the rest.
//!
//! Each file has its own random [`DataKey`]; the firm key only wraps that (as a sealed
//! field). The bytes are cut into chunks of [`CHUNK_LEN`] and each chunk is AES-256-GCM with
//! the nonce `[prefix 7][chunk index u32 BE][last 1]` (the STREAM construction of Hoang,
//! Reyhanitabar, Rogaway and Vizár): a chunk moved to another position, a stream cut short
//! at a chunk boundary, or chunks spliced from another file fail to open.
//!
//! Layout: `[magic 4][nonce prefix 7]` then chunks of `CHUNK_LEN + 16` bytes, the last one
//! shorter. An empty file is one empty last chunk.

use std::ops::Range;

use crate::gcm::{Gcm, NONCE_LEN, TAG_LEN};
use crate::{CryptoError, aad};

pub const CHUNK_LEN: usize = 64 * 1024;
pub const SEALED_CHUNK_LEN: u64 = (CHUNK_LEN + TAG_LEN) as u64;
const MAGIC: [u8; 4] = *b"RFB\x01";
const PREFIX_LEN: usize = 7;
pub const HEADER_LEN: usize = MAGIC.len() + PREFIX_LEN;

crate::secret::sealed_key!(
    /// The key of one file.
    DataKey
);

impl DataKey {
    fn cipher(&self) -> Result<Gcm, CryptoError> {
        Gcm::new(self.0.expose())
    }
}

/// The plaintext length of a sealed stream `sealed_len` bytes long; `None` when no stream
/// is that long (it was cut mid-chunk, or is shorter than a header and one tag).
pub fn plain_len(sealed: u64) -> Option<u64> {
    let body = sealed.checked_sub(HEADER_LEN as u64)?;
    let (full, rest) = (body / SEALED_CHUNK_LEN, body % SEALED_CHUNK_LEN);
    let plain = match rest {
        0 if full > 0 => full * CHUNK_LEN as u64,
        rest => full * CHUNK_LEN as u64 + rest.checked_sub(TAG_LEN as u64)?,
    };
    (sealed_len(plain) == sealed).then_some(plain)
}

/// How many chunks a file of `plain_len` bytes is sealed into (an empty file has one).
pub fn chunk_count(plain_len: u64) -> u64 {
    plain_len.div_ceil(CHUNK_LEN as u64).max(1)
}

/// The size of the sealed blob for a file of `plain_len` bytes.
pub fn sealed_len(plain_len: u64) -> u64 {
    HEADER_LEN as u64 + plain_len + chunk_count(plain_len) * TAG_LEN as u64
}

/// The chunks holding the plaintext bytes `range` (non-empty, within the file), and where
/// they lie in the sealed blob.
pub fn sealed_span(range: &Range<u64>) -> (Range<u64>, Range<u64>) {
    let first = range.start / CHUNK_LEN as u64;
    let last = range.end.saturating_sub(1) / CHUNK_LEN as u64;
    let start = HEADER_LEN as u64 + first * SEALED_CHUNK_LEN;
    let end = HEADER_LEN as u64 + (last + 1) * SEALED_CHUNK_LEN;
    (first..last + 1, start..end)
}

fn nonce(prefix: &[u8; PREFIX_LEN], index: u64, last: bool) -> Result<[u8; NONCE_LEN], CryptoError> {
    let index = u32::try_from(index).map_err(|_| CryptoError::Malformed)?;
    let mut nonce = [0u8; NONCE_LEN];
    nonce[..PREFIX_LEN].copy_from_slice(prefix);
    nonce[PREFIX_LEN..11].copy_from_slice(&index.to_be_bytes());
    nonce[11] = u8::from(last);
    Ok(nonce)
}

fn binding_aad(binding: &[&[u8]], header: &[u8]) -> Vec<u8> {
    let mut parts: Vec<&[u8]> = vec![b"ringfence.blob.v1"];
    parts.extend_from_slice(binding);
    parts.push(header);
    aad::encode(&parts)
}

/// Seals a file as it arrives. Feed it with [`push`](Self::push), end with
/// [`finish`](Self::finish); each call appends the sealed bytes ready so far to `out`.
pub struct BlobSealer {
    cipher: Gcm,
    prefix: [u8; PREFIX_LEN],
    aad: Vec<u8>,
    index: u64,
    pending: Vec<u8>,
}

impl BlobSealer {
    /// Starts a blob bound to `binding` (who owns it and which record it is) and returns the
    /// sealer with the blob's header already written to `out`.
    pub fn start(key: &DataKey, binding: &[&[u8]], out: &mut Vec<u8>) -> Result<Self, CryptoError> {
        let prefix: [u8; PREFIX_LEN] = crate::random_array()?;
        let mut header = Vec::with_capacity(HEADER_LEN);
        header.extend_from_slice(&MAGIC);
        header.extend_from_slice(&prefix);
        out.extend_from_slice(&header);
        Ok(Self {
            cipher: key.cipher()?,
            prefix,
            aad: binding_aad(binding, &header),
            index: 0,
            pending: Vec::with_capacity(CHUNK_LEN + 1),
        })
    }

    pub fn push(&mut self, mut bytes: &[u8], out: &mut Vec<u8>) -> Result<(), CryptoError> {
        while !bytes.is_empty() {
            // A full chunk stays pending until more bytes arrive: only then is it known not
            // to be the last.
            if self.pending.len() == CHUNK_LEN {
                self.seal_pending(false, out)?;
            }
            let take = (CHUNK_LEN - self.pending.len()).min(bytes.len());
            self.pending.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
        }
        Ok(())
    }

    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<(), CryptoError> {
        self.seal_pending(true, out)
    }

    fn seal_pending(&mut self, last: bool, out: &mut Vec<u8>) -> Result<(), CryptoError> {
        let from = out.len();
        out.reserve(self.pending.len() + TAG_LEN);
        out.extend_from_slice(&self.pending);
        self.cipher.seal_tail(nonce(&self.prefix, self.index, last)?, &self.aad, out, from)?;
        self.pending.clear();
        self.index += 1;
        Ok(())
    }
}

/// Opens chunks of one blob, in any order, given its header.
pub struct BlobOpener {
    cipher: Gcm,
    prefix: [u8; PREFIX_LEN],
    aad: Vec<u8>,
    chunks: u64,
}

impl BlobOpener {
    /// `plain_len` is the file's recorded size: it says which chunk must be the last.
    pub fn new(key: &DataKey, binding: &[&[u8]], header: &[u8], plain_len: u64) -> Result<Self, CryptoError> {
        if header.len() != HEADER_LEN || header[..MAGIC.len()] != MAGIC {
            return Err(CryptoError::Malformed);
        }
        let prefix: [u8; PREFIX_LEN] =
            header[MAGIC.len()..].try_into().map_err(|_| CryptoError::Malformed)?;
        Ok(Self {
            cipher: key.cipher()?,
            prefix,
            aad: binding_aad(binding, header),
            chunks: chunk_count(plain_len),
        })
    }

    /// Opens chunk `index`. Fails unless it is exactly the chunk sealed at that position of
    /// this blob, with the right "last" mark.
    pub fn open_chunk(&self, index: u64, sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let mut chunk = sealed.to_vec();
        let len = self.open_chunk_in_place(index, &mut chunk)?;
        chunk.truncate(len);
        Ok(chunk)
    }

    fn open_chunk_in_place(&self, index: u64, sealed: &mut [u8]) -> Result<usize, CryptoError> {
        if index >= self.chunks {
            return Err(CryptoError::Malformed);
        }
        let last = index + 1 == self.chunks;
        self.cipher.open_in_place(nonce(&self.prefix, index, last)?, &self.aad, sealed)
    }

    /// Opens sealed bytes that start at chunk `first`, chunk by chunk, in the buffer they
    /// came in: it is handed back holding the plaintext alone.
    pub fn open_span(&self, first: u64, mut sealed: Vec<u8>) -> Result<Vec<u8>, CryptoError> {
        let mut plain_end = 0;
        let mut at = 0;
        let mut index = first;
        while at < sealed.len() {
            let end = (at + SEALED_CHUNK_LEN as usize).min(sealed.len());
            let len = self.open_chunk_in_place(index, &mut sealed[at..end])?;
            // Close the gap the tags before this chunk left.
            sealed.copy_within(at..at + len, plain_end);
            plain_end += len;
            at = end;
            index += 1;
        }
        sealed.truncate(plain_end);
        Ok(sealed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BINDING: &[&[u8]] = &[b"firm-a", b"version-1"];

    #[test]
    fn a_sealed_length_gives_back_its_plain_length_and_no_other_length_passes() {
        let chunk = CHUNK_LEN as u64;
        for plain in [0, 1, 15, 16, 17, chunk - 1, chunk, chunk + 1, 3 * chunk, 3 * chunk + 5] {
            assert_eq!(plain_len(sealed_len(plain)), Some(plain), "{plain}");
        }
        let mut sealed_lengths: Vec<u64> = (0..3 * chunk + 40).map(sealed_len).collect();
        sealed_lengths.dedup();
        let lengths: std::collections::BTreeSet<u64> = sealed_lengths.into_iter().collect();
        for length in 0..sealed_len(3 * chunk + 40) {
            assert_eq!(plain_len(length).is_some(), lengths.contains(&length), "{length}");
        }
    }

    fn seal(key: &DataKey, plain: &[u8], piece: usize) -> Result<Vec<u8>, CryptoError> {
        let mut out = Vec::new();
        let mut sealer = BlobSealer::start(key, BINDING, &mut out)?;
        for part in plain.chunks(piece.max(1)) {
            sealer.push(part, &mut out)?;
        }
        sealer.finish(&mut out)?;
        Ok(out)
    }

    fn open_all(key: &DataKey, sealed: &[u8], plain_len: u64) -> Result<Vec<u8>, CryptoError> {
        let opener = BlobOpener::new(key, BINDING, &sealed[..HEADER_LEN], plain_len)?;
        opener.open_span(0, sealed[HEADER_LEN..].to_vec())
    }

    fn sample(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 % 251) as u8).collect()
    }

    #[test]
    fn files_of_every_awkward_size_round_trip() -> Result<(), CryptoError> {
        let key = DataKey::generate()?;
        for len in [0, 1, CHUNK_LEN - 1, CHUNK_LEN, CHUNK_LEN + 1, 3 * CHUNK_LEN, 3 * CHUNK_LEN + 5] {
            let plain = sample(len);
            for piece in [1000, CHUNK_LEN, len] {
                let sealed = seal(&key, &plain, piece)?;
                assert_eq!(sealed.len() as u64, sealed_len(len as u64), "len {len}");
                assert_eq!(open_all(&key, &sealed, len as u64)?, plain, "len {len} piece {piece}");
            }
        }
        Ok(())
    }

    #[test]
    fn any_range_opens_from_its_own_chunks() -> Result<(), CryptoError> {
        let key = DataKey::generate()?;
        let plain = sample(3 * CHUNK_LEN + 100);
        let sealed = seal(&key, &plain, 4096)?;
        let opener = BlobOpener::new(&key, BINDING, &sealed[..HEADER_LEN], plain.len() as u64)?;
        let len = plain.len() as u64;
        for range in [0..1, 5..CHUNK_LEN as u64 + 3, CHUNK_LEN as u64..2 * CHUNK_LEN as u64, len - 1..len] {
            let (chunks, span) = sealed_span(&range);
            let span = span.start as usize..(span.end as usize).min(sealed.len());
            let opened = opener.open_span(chunks.start, sealed[span].to_vec())?;
            let skip = (range.start - chunks.start * CHUNK_LEN as u64) as usize;
            let want = (range.end - range.start) as usize;
            assert_eq!(&opened[skip..skip + want], &plain[range.start as usize..range.end as usize]);
        }
        Ok(())
    }

    #[test]
    fn truncated_reordered_spliced_or_altered_blobs_fail() -> Result<(), CryptoError> {
        let key = DataKey::generate()?;
        let plain = sample(3 * CHUNK_LEN);
        let len = plain.len() as u64;
        let sealed = seal(&key, &plain, CHUNK_LEN)?;
        let chunk = SEALED_CHUNK_LEN as usize;
        let body = &sealed[HEADER_LEN..];

        // Cut at a chunk boundary: the new last chunk was not sealed as last.
        let cut = &sealed[..HEADER_LEN + 2 * chunk];
        assert!(open_all(&key, cut, 2 * CHUNK_LEN as u64).is_err());
        // The recorded length cannot be shortened either.
        assert!(open_all(&key, &sealed, 2 * CHUNK_LEN as u64).is_err());

        let mut swapped = sealed[..HEADER_LEN].to_vec();
        swapped.extend_from_slice(&body[chunk..2 * chunk]);
        swapped.extend_from_slice(&body[..chunk]);
        swapped.extend_from_slice(&body[2 * chunk..]);
        assert!(matches!(open_all(&key, &swapped, len), Err(CryptoError::Unauthentic)));

        let other = seal(&key, &plain, CHUNK_LEN)?;
        let mut spliced = sealed[..HEADER_LEN + chunk].to_vec();
        spliced.extend_from_slice(&other[HEADER_LEN + chunk..]);
        assert!(matches!(open_all(&key, &spliced, len), Err(CryptoError::Unauthentic)));

        let mut flipped = sealed.clone();
        flipped[HEADER_LEN + chunk + 10] ^= 1;
        assert!(matches!(open_all(&key, &flipped, len), Err(CryptoError::Unauthentic)));

        let other_record = BlobOpener::new(&key, &[b"firm-a", b"version-2"], &sealed[..HEADER_LEN], len)?;
        assert!(other_record.open_chunk(0, &body[..chunk]).is_err());
        assert!(open_all(&DataKey::generate()?, &sealed, len).is_err());
        Ok(())
    }

    #[test]
    fn sealed_bytes_do_not_contain_the_plaintext() -> Result<(), CryptoError> {
        let plain = b"PRIVILEGED-MARKER ".repeat(10_000);
        let sealed = seal(&DataKey::generate()?, &plain, 777)?;
        assert!(!sealed.windows(17).any(|w| w == b"PRIVILEGED-MARKER"));
        Ok(())
    }

    #[test]
    fn data_keys_do_not_print() -> Result<(), CryptoError> {
        assert_eq!(format!("{:?}", DataKey::generate()?), "DataKey([redacted])");
        Ok(())
    }
}
