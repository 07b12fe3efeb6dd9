//! The master key wraps each firm's key (envelope encryption). It never touches case data
//! directly, so replacing it only means re-wrapping the firm keys.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::blob::DataKey;
use crate::firm_key::{FirmKey, KeyVersion};
use crate::gcm::{Gcm, NONCE_LEN, TAG_LEN};
use crate::{CryptoError, SecretBytes, aad};

pub struct MasterKey {
    key: SecretBytes<32>,
    id: String,
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterKey").field("id", &self.id).finish_non_exhaustive()
    }
}

/// A firm key as stored: sealed under the master key, with the id of the master key that
/// sealed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedFirmKey {
    pub master_key_id: String,
    pub ciphertext: Vec<u8>,
}

impl MasterKey {
    pub fn generate() -> Result<Self, CryptoError> {
        Ok(Self::from_secret(SecretBytes::random()?))
    }

    /// Parses the base64 form used in `RINGFENCE_MASTER_KEY` and in `master.key`.
    pub fn from_base64(text: &str) -> Result<Self, CryptoError> {
        let decoded = Zeroizing::new(
            STANDARD.decode(text.trim()).map_err(|_| CryptoError::InvalidMasterKey("not valid base64"))?,
        );
        let bytes: [u8; 32] = decoded
            .as_slice()
            .try_into()
            .map_err(|_| CryptoError::InvalidMasterKey("must decode to exactly 32 bytes"))?;
        Ok(Self::from_secret(SecretBytes::new(bytes)))
    }

    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(STANDARD.encode(self.key.expose()))
    }

    fn from_secret(key: SecretBytes<32>) -> Self {
        // The id is derived, not random, so the same key always has the same id and a wrong
        // key is recognised before anything is decrypted or written.
        let mut id = [0u8; 8];
        let derived = Hkdf::<Sha256>::new(None, key.expose()).expand(b"ringfence master key id v1", &mut id);
        debug_assert!(derived.is_ok());
        let id = id.iter().map(|b| format!("{b:02x}")).collect();
        Self { key, id }
    }

    /// A short, non-secret identifier of this key, recorded beside everything it wraps.
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn wrap(
        &self,
        firm_id: &str,
        version: KeyVersion,
        firm_key: &FirmKey,
    ) -> Result<WrappedFirmKey, CryptoError> {
        let nonce: [u8; NONCE_LEN] = crate::random_array()?;
        let aad = wrap_aad(firm_id, version);
        // Room for the tag: the key is sealed where it lies, with no copy left behind.
        let mut ciphertext = Vec::with_capacity(NONCE_LEN + firm_key.material().len() + TAG_LEN);
        ciphertext.extend_from_slice(&nonce);
        ciphertext.extend_from_slice(firm_key.material());
        self.cipher()?.seal_tail(nonce, &aad, &mut ciphertext, NONCE_LEN)?;
        Ok(WrappedFirmKey { master_key_id: self.id.clone(), ciphertext })
    }

    pub fn unwrap(
        &self,
        firm_id: &str,
        version: KeyVersion,
        wrapped: &WrappedFirmKey,
    ) -> Result<FirmKey, CryptoError> {
        if wrapped.master_key_id != self.id {
            return Err(CryptoError::Unauthentic);
        }
        let (nonce, sealed) = wrapped.ciphertext.split_at_checked(NONCE_LEN).ok_or(CryptoError::Malformed)?;
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| CryptoError::Malformed)?;
        let aad = wrap_aad(firm_id, version);
        let opened = Zeroizing::new(self.cipher()?.open(nonce, &aad, sealed)?);
        let bytes: [u8; 32] = opened.as_slice().try_into().map_err(|_| CryptoError::Malformed)?;
        Ok(FirmKey::from_secret(SecretBytes::new(bytes)))
    }

    /// The key a backup of `scope` (a firm's id, or `control`) is sealed under. Derived,
    /// not stored: a machine with nothing but the backup target and this master key can
    /// open the backup, and every firm's backups have a key of their own.
    pub fn backup_key(&self, scope: &str) -> Result<DataKey, CryptoError> {
        let mut key = Zeroizing::new([0u8; 32]);
        Hkdf::<Sha256>::new(Some(b"ringfence backup key v1"), self.key.expose())
            .expand(scope.as_bytes(), key.as_mut())
            .map_err(|_| CryptoError::Malformed)?;
        DataKey::from_slice(key.as_ref())
    }

    /// Seals an operator's authenticator secret. Operators belong to no firm, so no firm
    /// key can hold it; a master key rotation re-seals it with the firm keys.
    pub fn seal_operator_secret(&self, operator_id: &str, secret: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let nonce: [u8; NONCE_LEN] = crate::random_array()?;
        let mut sealed = Vec::with_capacity(NONCE_LEN + secret.len() + TAG_LEN);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(secret);
        self.cipher()?.seal_tail(nonce, &operator_aad(operator_id), &mut sealed, NONCE_LEN)?;
        Ok(sealed)
    }

    /// Opens what [`Self::seal_operator_secret`] sealed for the same operator.
    pub fn open_operator_secret(
        &self,
        operator_id: &str,
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let (nonce, rest) = sealed.split_at_checked(NONCE_LEN).ok_or(CryptoError::Malformed)?;
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| CryptoError::Malformed)?;
        Ok(Zeroizing::new(self.cipher()?.open(nonce, &operator_aad(operator_id), rest)?))
    }

    fn cipher(&self) -> Result<Gcm, CryptoError> {
        Gcm::new(self.key.expose())
    }
}

fn operator_aad(operator_id: &str) -> Vec<u8> {
    aad::encode(&[b"ringfence.operator-secret.v1", operator_id.as_bytes()])
}

fn wrap_aad(firm_id: &str, version: KeyVersion) -> Vec<u8> {
    aad::encode(&[b"ringfence.firm-key.v1", firm_id.as_bytes(), &version.0.to_be_bytes()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_operator_secret_opens_only_for_its_operator_under_the_same_key() {
        let sealed = master().seal_operator_secret("op-1", b"twenty bytes secret!").unwrap();
        assert_eq!(
            master().open_operator_secret("op-1", &sealed).unwrap().as_slice(),
            b"twenty bytes secret!"
        );
        assert!(master().open_operator_secret("op-2", &sealed).is_err());
        assert!(MasterKey::generate().unwrap().open_operator_secret("op-1", &sealed).is_err());
        assert!(master().open_operator_secret("op-1", &sealed[..8]).is_err());
    }

    fn master() -> MasterKey {
        MasterKey::from_base64(&STANDARD.encode([7u8; 32])).unwrap_or_else(|e| unreachable!("{e}"))
    }

    #[test]
    fn each_scope_has_its_own_backup_key_and_only_this_master_key_makes_it() -> Result<(), CryptoError> {
        let firm_a = master().backup_key("firm-a")?;
        assert_eq!(firm_a.expose(), master().backup_key("firm-a")?.expose());
        assert_ne!(firm_a.expose(), master().backup_key("firm-b")?.expose());
        assert_ne!(firm_a.expose(), master().backup_key("control")?.expose());
        assert_ne!(firm_a.expose(), MasterKey::generate()?.backup_key("firm-a")?.expose());
        assert_ne!(firm_a.expose(), master().key.expose());
        Ok(())
    }

    #[test]
    fn a_firm_key_round_trips_through_wrapping() -> Result<(), CryptoError> {
        let firm_key = FirmKey::generate()?;
        let wrapped = master().wrap("firm-a", KeyVersion(1), &firm_key)?;
        let unwrapped = master().unwrap("firm-a", KeyVersion(1), &wrapped)?;
        assert_eq!(unwrapped.material(), firm_key.material());
        Ok(())
    }

    #[test]
    fn a_wrapped_key_is_bound_to_its_firm_and_version() -> Result<(), CryptoError> {
        let wrapped = master().wrap("firm-a", KeyVersion(1), &FirmKey::generate()?)?;
        assert!(matches!(master().unwrap("firm-b", KeyVersion(1), &wrapped), Err(CryptoError::Unauthentic)));
        assert!(matches!(master().unwrap("firm-a", KeyVersion(2), &wrapped), Err(CryptoError::Unauthentic)));
        Ok(())
    }

    #[test]
    fn another_master_key_cannot_unwrap() -> Result<(), CryptoError> {
        let wrapped = master().wrap("firm-a", KeyVersion(1), &FirmKey::generate()?)?;
        let other = MasterKey::generate()?;
        assert_ne!(other.id(), master().id());
        let forged = WrappedFirmKey { master_key_id: other.id().to_owned(), ..wrapped };
        assert!(matches!(other.unwrap("firm-a", KeyVersion(1), &forged), Err(CryptoError::Unauthentic)));
        Ok(())
    }

    #[test]
    fn malformed_master_keys_are_refused_with_a_reason() {
        assert!(matches!(MasterKey::from_base64("not base64!"), Err(CryptoError::InvalidMasterKey(_))));
        assert!(matches!(
            MasterKey::from_base64(&STANDARD.encode([1u8; 16])),
            Err(CryptoError::InvalidMasterKey("must decode to exactly 32 bytes"))
        ));
    }

    #[test]
    fn the_master_key_does_not_print() -> Result<(), CryptoError> {
        let key = MasterKey::generate()?;
        let printed = format!("{key:?}");
        assert!(!printed.contains(key.to_base64().as_str()));
        Ok(())
    }
}
