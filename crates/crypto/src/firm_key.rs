//! Each firm's own key, and sealed fields under it.
//!
//! A sealed field is AES-256-GCM under a key derived (HKDF) from the firm key, with the
//! field's identity (firm, table, record, field) as associated data: a ciphertext copied
//! into another record, another column or another firm's database fails to open.
//!
//! Layout: `[format 1][key version u32 BE][nonce 12][ciphertext + tag 16]`.

use std::collections::BTreeMap;
use std::fmt;

use hkdf::Hkdf;
use sha2::Sha256;

use crate::gcm::Gcm;
use crate::{CryptoError, SecretBytes, aad};

/// The first byte of every value sealed under a firm key.
pub const FORMAT: [u8; 1] = [1];
const HEADER_LEN: usize = 1 + 4 + 12;

/// A version of a firm's key. Rotation adds a version; old ones stay until nothing uses them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyVersion(pub u32);

pub struct FirmKey(SecretBytes<32>);

impl fmt::Debug for FirmKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FirmKey([redacted])")
    }
}

impl FirmKey {
    pub fn generate() -> Result<Self, CryptoError> {
        SecretBytes::random().map(Self)
    }

    pub(crate) fn from_secret(secret: SecretBytes<32>) -> Self {
        Self(secret)
    }

    pub(crate) fn material(&self) -> &[u8] {
        self.0.expose()
    }

    fn derive(&self, purpose: &[u8]) -> SecretBytes<32> {
        let mut okm = [0u8; 32];
        // HKDF-SHA256 can expand up to 8160 bytes; 32 cannot fail.
        let _ = Hkdf::<Sha256>::new(None, self.material()).expand(purpose, &mut okm);
        let derived = SecretBytes::new(okm);
        zeroize::Zeroize::zeroize(&mut okm);
        derived
    }
}

/// Where a sealed value lives. The seal is bound to exactly this place.
#[derive(Debug, Clone, Copy)]
pub struct FieldRef<'a> {
    pub table: &'a str,
    pub record: &'a str,
    pub field: &'a str,
}

/// The loaded versions of one firm's key, ready to seal and open fields.
pub struct FirmKeyring {
    firm_id: String,
    current: KeyVersion,
    field_keys: BTreeMap<KeyVersion, SecretBytes<32>>,
    /// Keys the hashes of short-lived one-time codes.
    code_hash_key: SecretBytes<32>,
}

impl fmt::Debug for FirmKeyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FirmKeyring")
            .field("firm_id", &self.firm_id)
            .field("current", &self.current)
            .field("versions", &self.field_keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl FirmKeyring {
    /// Builds a keyring from every version of the firm's key; the highest version seals.
    pub fn new(
        firm_id: &str,
        keys: impl IntoIterator<Item = (KeyVersion, FirmKey)>,
    ) -> Result<Self, CryptoError> {
        let keys: BTreeMap<KeyVersion, FirmKey> = keys.into_iter().collect();
        let (current, current_key) = keys.iter().next_back().ok_or(CryptoError::UnknownKeyVersion(0))?;
        let code_hash_key = current_key.derive(b"ringfence.code-hash.v1");
        let current = *current;
        let field_keys =
            keys.iter().map(|(version, key)| (*version, key.derive(b"ringfence.field-seal.v1"))).collect();
        Ok(Self { firm_id: firm_id.to_owned(), current, field_keys, code_hash_key })
    }

    /// A keyed hash (HMAC-SHA256) for one-time codes, bound to this firm.
    pub fn code_hash(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut bound = vec![self.firm_id.as_bytes()];
        bound.extend_from_slice(parts);
        crate::otp::keyed_hash(&self.code_hash_key, &bound)
    }

    pub fn firm_id(&self) -> &str {
        &self.firm_id
    }

    pub fn current_version(&self) -> KeyVersion {
        self.current
    }

    pub fn seal(&self, at: FieldRef<'_>, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let nonce: [u8; 12] = crate::random_array()?;
        let mut out = Vec::with_capacity(HEADER_LEN + plaintext.len() + 16);
        out.extend_from_slice(&FORMAT);
        out.extend_from_slice(&self.current.0.to_be_bytes());
        out.extend_from_slice(&nonce);
        let aad = self.aad(at, &out);
        out.extend_from_slice(plaintext);
        self.cipher(self.current)?.seal_tail(nonce, &aad, &mut out, HEADER_LEN)?;
        Ok(out)
    }

    pub fn open(&self, at: FieldRef<'_>, sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if sealed.len() < HEADER_LEN + 16 || sealed[..1] != FORMAT {
            return Err(CryptoError::Malformed);
        }
        let (header, body) = sealed.split_at(HEADER_LEN);
        let version = KeyVersion(u32::from_be_bytes([header[1], header[2], header[3], header[4]]));
        let nonce: [u8; 12] = header[5..].try_into().map_err(|_| CryptoError::Malformed)?;
        let aad = self.aad(at, header);
        self.cipher(version)?.open(nonce, &aad, body)
    }

    fn aad(&self, at: FieldRef<'_>, header: &[u8]) -> Vec<u8> {
        aad::encode(&[
            b"ringfence.field.v1",
            self.firm_id.as_bytes(),
            at.table.as_bytes(),
            at.record.as_bytes(),
            at.field.as_bytes(),
            header,
        ])
    }

    fn cipher(&self, version: KeyVersion) -> Result<Gcm, CryptoError> {
        let key = self.field_keys.get(&version).ok_or(CryptoError::UnknownKeyVersion(version.0))?;
        Gcm::new(key.expose())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOTE: FieldRef<'static> = FieldRef { table: "notes", record: "n-1", field: "body" };

    fn keyring(firm: &str, key: &FirmKey) -> FirmKeyring {
        let copy = FirmKey::from_secret(SecretBytes::new(*key.0.expose()));
        FirmKeyring::new(firm, [(KeyVersion(1), copy)]).unwrap_or_else(|e| unreachable!("{e}"))
    }

    #[test]
    fn a_field_round_trips() -> Result<(), CryptoError> {
        let ring = keyring("firm-a", &FirmKey::generate()?);
        let sealed = ring.seal(NOTE, b"the witness saw the red car")?;
        assert!(!sealed.windows(7).any(|w| w == b"witness"));
        assert_eq!(ring.open(NOTE, &sealed)?, b"the witness saw the red car");
        Ok(())
    }

    #[test]
    fn a_ciphertext_moved_to_another_record_field_or_firm_fails() -> Result<(), CryptoError> {
        let key = FirmKey::generate()?;
        let ring = keyring("firm-a", &key);
        let sealed = ring.seal(NOTE, b"privileged")?;
        for elsewhere in [
            FieldRef { record: "n-2", ..NOTE },
            FieldRef { field: "title", ..NOTE },
            FieldRef { table: "clients", ..NOTE },
        ] {
            assert!(matches!(ring.open(elsewhere, &sealed), Err(CryptoError::Unauthentic)));
        }
        let same_key_other_firm = keyring("firm-b", &key);
        assert!(matches!(same_key_other_firm.open(NOTE, &sealed), Err(CryptoError::Unauthentic)));
        Ok(())
    }

    #[test]
    fn tampering_is_detected() -> Result<(), CryptoError> {
        let ring = keyring("firm-a", &FirmKey::generate()?);
        let mut sealed = ring.seal(NOTE, b"privileged")?;
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert!(matches!(ring.open(NOTE, &sealed), Err(CryptoError::Unauthentic)));
        assert!(matches!(ring.open(NOTE, &sealed[..10]), Err(CryptoError::Malformed)));
        Ok(())
    }

    #[test]
    fn older_versions_still_open_after_rotation() -> Result<(), CryptoError> {
        let v1 = FirmKey::generate()?;
        let v1_copy = FirmKey::from_secret(SecretBytes::new(*v1.0.expose()));
        let before = FirmKeyring::new("firm-a", [(KeyVersion(1), v1)])?;
        let sealed = before.seal(NOTE, b"old")?;
        let after =
            FirmKeyring::new("firm-a", [(KeyVersion(1), v1_copy), (KeyVersion(2), FirmKey::generate()?)])?;
        assert_eq!(after.current_version(), KeyVersion(2));
        assert_eq!(after.open(NOTE, &sealed)?, b"old");
        assert_eq!(&after.seal(NOTE, b"new")?[1..5], &2u32.to_be_bytes());
        Ok(())
    }
}
