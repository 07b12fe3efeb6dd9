//! Each matter's own key, and the matter's content sealed under it.
//!
//! A matter key is random, kept only sealed under the firm key (as a field bound to its
//! matter), so a firm key rotation re-wraps one small value per matter instead of
//! re-sealing every field, and destroying the sealed key makes every copy of the matter's
//! content unreadable, wherever it lies (replicas, old object versions, WAL archives).
//!
//! A content field is AES-256-GCM under a key derived (HKDF) from the matter key, with the
//! field's identity (firm, matter, table, record, field) as associated data.
//!
//! Layout: `[format 2][nonce 12][ciphertext + tag 16]`. The first byte tells it from a field
//! sealed under the firm key (format 1), which content written before matters had keys is.

use std::fmt;

use hkdf::Hkdf;
use sha2::Sha256;

use crate::gcm::Gcm;
use crate::{CryptoError, FieldRef, FirmKeyring, SecretBytes, aad};

const FORMAT: u8 = 2;
const HEADER_LEN: usize = 1 + 12;

/// Where a matter's key is kept, sealed under the firm key.
fn key_field(matter: &str) -> FieldRef<'_> {
    FieldRef { table: "matter_keys", record: matter, field: "key" }
}

/// One matter's key, ready to seal and open its content.
pub struct MatterKey {
    firm_id: String,
    matter_id: String,
    raw: SecretBytes<32>,
    field_key: SecretBytes<32>,
}

impl fmt::Debug for MatterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MatterKey").field("matter_id", &self.matter_id).finish_non_exhaustive()
    }
}

impl MatterKey {
    fn from_secret(ring: &FirmKeyring, matter: &str, raw: SecretBytes<32>) -> Self {
        let mut okm = [0u8; 32];
        // HKDF-SHA256 can expand up to 8160 bytes; 32 cannot fail.
        let _ = Hkdf::<Sha256>::new(None, raw.expose()).expand(b"ringfence.matter-seal.v1", &mut okm);
        let field_key = SecretBytes::new(okm);
        zeroize::Zeroize::zeroize(&mut okm);
        Self { firm_id: ring.firm_id().to_owned(), matter_id: matter.to_owned(), raw, field_key }
    }

    /// A new random key for `matter`, and its sealed form to store.
    pub fn generate(ring: &FirmKeyring, matter: &str) -> Result<(Self, Vec<u8>), CryptoError> {
        let key = Self::from_secret(ring, matter, SecretBytes::random()?);
        let sealed = ring.seal(key_field(matter), key.raw.expose())?;
        Ok((key, sealed))
    }

    /// The key of `matter` from its sealed form.
    pub fn unseal(ring: &FirmKeyring, matter: &str, sealed: &[u8]) -> Result<Self, CryptoError> {
        let raw = zeroize::Zeroizing::new(ring.open(key_field(matter), sealed)?);
        let raw: [u8; 32] = raw.as_slice().try_into().map_err(|_| CryptoError::Malformed)?;
        Ok(Self::from_secret(ring, matter, SecretBytes::new(raw)))
    }

    pub fn matter_id(&self) -> &str {
        &self.matter_id
    }

    pub fn seal(&self, at: FieldRef<'_>, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let nonce: [u8; 12] = crate::random_array()?;
        let mut out = Vec::with_capacity(HEADER_LEN + plaintext.len() + 16);
        out.push(FORMAT);
        out.extend_from_slice(&nonce);
        let aad = self.aad(at, &out);
        out.extend_from_slice(plaintext);
        Gcm::new(self.field_key.expose())?.seal_tail(nonce, &aad, &mut out, HEADER_LEN)?;
        Ok(out)
    }

    fn open(&self, at: FieldRef<'_>, sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if sealed.len() < HEADER_LEN + 16 {
            return Err(CryptoError::Malformed);
        }
        let (header, body) = sealed.split_at(HEADER_LEN);
        let nonce: [u8; 12] = header[1..].try_into().map_err(|_| CryptoError::Malformed)?;
        Gcm::new(self.field_key.expose())?.open(nonce, &self.aad(at, header), body)
    }

    fn aad(&self, at: FieldRef<'_>, header: &[u8]) -> Vec<u8> {
        aad::encode(&[
            b"ringfence.matter-field.v1",
            self.firm_id.as_bytes(),
            self.matter_id.as_bytes(),
            at.table.as_bytes(),
            at.record.as_bytes(),
            at.field.as_bytes(),
            header,
        ])
    }
}

/// Whether a sealed content value is still under the firm key (sealed before its matter had
/// a key of its own).
pub fn under_firm_key(sealed: &[u8]) -> bool {
    sealed.first() != Some(&FORMAT)
}

/// Opens a content field of a matter: under the matter's key, or under the firm key if it
/// was sealed before the matter had one. `key` is `None` for a matter with no key yet.
pub fn open_content(
    ring: &FirmKeyring,
    key: Option<&MatterKey>,
    at: FieldRef<'_>,
    sealed: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    if under_firm_key(sealed) {
        return ring.open(at, sealed);
    }
    key.ok_or(CryptoError::Unauthentic)?.open(at, sealed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FirmKey, KeyVersion};

    const TITLE: FieldRef<'static> = FieldRef { table: "matters", record: "m-1", field: "title" };

    fn ring(firm: &str) -> FirmKeyring {
        FirmKeyring::new(firm, [(KeyVersion(1), FirmKey::generate().unwrap_or_else(|e| unreachable!("{e}")))])
            .unwrap_or_else(|e| unreachable!("{e}"))
    }

    #[test]
    fn content_round_trips_through_the_sealed_key() -> Result<(), CryptoError> {
        let ring = ring("firm-a");
        let (key, sealed_key) = MatterKey::generate(&ring, "m-1")?;
        let sealed = key.seal(TITLE, b"Estate of the late J. Doe")?;
        assert!(!under_firm_key(&sealed));
        let again = MatterKey::unseal(&ring, "m-1", &sealed_key)?;
        assert_eq!(open_content(&ring, Some(&again), TITLE, &sealed)?, b"Estate of the late J. Doe");
        Ok(())
    }

    #[test]
    fn content_is_bound_to_its_matter_place_and_firm() -> Result<(), CryptoError> {
        let ring = ring("firm-a");
        let (key, sealed_key) = MatterKey::generate(&ring, "m-1")?;
        let sealed = key.seal(TITLE, b"privileged")?;
        for elsewhere in [
            FieldRef { record: "m-2", ..TITLE },
            FieldRef { field: "description", ..TITLE },
            FieldRef { table: "notes", ..TITLE },
        ] {
            assert!(matches!(
                open_content(&ring, Some(&key), elsewhere, &sealed),
                Err(CryptoError::Unauthentic)
            ));
        }
        // The same key material bound to another matter (a sealed key copied to another
        // matter's row) neither unseals nor opens the first matter's content.
        assert!(matches!(MatterKey::unseal(&ring, "m-2", &sealed_key), Err(CryptoError::Unauthentic)));
        let (other, _) = MatterKey::generate(&ring, "m-1")?;
        assert!(matches!(open_content(&ring, Some(&other), TITLE, &sealed), Err(CryptoError::Unauthentic)));
        assert!(matches!(open_content(&ring, None, TITLE, &sealed), Err(CryptoError::Unauthentic)));
        Ok(())
    }

    #[test]
    fn content_sealed_under_the_firm_key_still_opens() -> Result<(), CryptoError> {
        let ring = ring("firm-a");
        let old = ring.seal(TITLE, b"written before matter keys")?;
        assert!(under_firm_key(&old));
        assert_eq!(open_content(&ring, None, TITLE, &old)?, b"written before matter keys");
        let (key, _) = MatterKey::generate(&ring, "m-1")?;
        assert_eq!(open_content(&ring, Some(&key), TITLE, &old)?, b"written before matter keys");
        Ok(())
    }

    #[test]
    fn a_key_does_not_print() -> Result<(), CryptoError> {
        let (key, _) = MatterKey::generate(&ring("firm-a"), "m-1")?;
        assert_eq!(format!("{key:?}"), "MatterKey { matter_id: \"m-1\", .. }");
        Ok(())
    }
}
