//! The audit log's tamper evidence: a SHA-256 hash chain per firm, and checkpoints signed
//! with the firm's Ed25519 audit key, whose public half anyone may hold to check them.

use std::fmt;

use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use sha2::{Digest, Sha256};

use crate::{CryptoError, SecretBytes};

/// The hash before the first entry of a firm's chain.
pub fn genesis(firm_id: &str) -> [u8; 32] {
    Sha256::digest([b"ringfence.audit.genesis.v1:".as_slice(), firm_id.as_bytes()].concat()).into()
}

/// The hash of an entry: over the previous hash and the entry's canonical bytes.
pub fn link(previous: &[u8; 32], canonical: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(previous);
    hasher.update(canonical);
    hasher.finalize().into()
}

fn checkpoint_message(firm_id: &str, seq: i64, hash: &[u8; 32], at_millis: i64) -> Vec<u8> {
    crate::aad::encode(&[
        b"ringfence.audit.checkpoint.v1",
        firm_id.as_bytes(),
        &seq.to_be_bytes(),
        hash,
        &at_millis.to_be_bytes(),
    ])
}

fn certificate_message(firm_id: &str, key_id: &str, public_key: &[u8]) -> Vec<u8> {
    crate::aad::encode(&[
        b"ringfence.audit.key-certificate.v1",
        firm_id.as_bytes(),
        key_id.as_bytes(),
        public_key,
    ])
}

/// A firm's audit signing key (the 32-byte Ed25519 seed).
pub struct AuditSigningKey(SecretBytes<32>);

impl fmt::Debug for AuditSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuditSigningKey([redacted])")
    }
}

impl AuditSigningKey {
    pub fn generate() -> Result<Self, CryptoError> {
        SecretBytes::random().map(Self)
    }

    pub fn from_seed(seed: &[u8]) -> Option<Self> {
        Some(Self(SecretBytes::new(seed.try_into().ok()?)))
    }

    pub fn seed(&self) -> &[u8; 32] {
        self.0.expose()
    }

    fn pair(&self) -> Result<Ed25519KeyPair, CryptoError> {
        Ed25519KeyPair::from_seed_unchecked(self.0.expose()).map_err(|_| CryptoError::Malformed)
    }

    pub fn public_key(&self) -> Result<[u8; 32], CryptoError> {
        self.pair()?.public_key().as_ref().try_into().map_err(|_| CryptoError::Malformed)
    }

    /// Signs the claim "entry `seq` of `firm_id`'s log has hash `hash`, as of `at_millis`".
    pub fn sign_checkpoint(
        &self,
        firm_id: &str,
        seq: i64,
        hash: &[u8; 32],
        at_millis: i64,
    ) -> Result<Vec<u8>, CryptoError> {
        Ok(self.pair()?.sign(&checkpoint_message(firm_id, seq, hash, at_millis)).as_ref().to_vec())
    }

    /// Signs the claim "`key_id` with `public_key` is one of `firm_id`'s audit keys": a new
    /// key vouches this way for the keys before it, whose seeds may later become unopenable
    /// when their firm key version is retired.
    pub fn certify_key(
        &self,
        firm_id: &str,
        key_id: &str,
        public_key: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        Ok(self.pair()?.sign(&certificate_message(firm_id, key_id, public_key)).as_ref().to_vec())
    }
}

/// Checks a key certificate made by [`AuditSigningKey::certify_key`] with the signer's public key.
pub fn verify_key_certificate(
    signer_public_key: &[u8],
    firm_id: &str,
    key_id: &str,
    public_key: &[u8],
    signature: &[u8],
) -> bool {
    UnparsedPublicKey::new(&ED25519, signer_public_key)
        .verify(&certificate_message(firm_id, key_id, public_key), signature)
        .is_ok()
}

/// Checks a checkpoint's signature with only the public key.
pub fn verify_checkpoint(
    public_key: &[u8],
    firm_id: &str,
    seq: i64,
    hash: &[u8; 32],
    at_millis: i64,
    signature: &[u8],
) -> bool {
    UnparsedPublicKey::new(&ED25519, public_key)
        .verify(&checkpoint_message(firm_id, seq, hash, at_millis), signature)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_verifies_with_the_public_key_alone() -> Result<(), CryptoError> {
        let key = AuditSigningKey::generate()?;
        let public = key.public_key()?;
        let hash = link(&genesis("firm"), b"entry");
        let signature = key.sign_checkpoint("firm", 1, &hash, 1000)?;
        assert!(verify_checkpoint(&public, "firm", 1, &hash, 1000, &signature));
        assert!(!verify_checkpoint(&public, "firm", 2, &hash, 1000, &signature), "another position");
        assert!(!verify_checkpoint(&public, "other", 1, &hash, 1000, &signature), "another firm");
        let other = link(&hash, b"more");
        assert!(!verify_checkpoint(&public, "firm", 1, &other, 1000, &signature), "another hash");
        Ok(())
    }

    #[test]
    fn a_key_certificate_binds_the_firm_and_the_key() -> Result<(), CryptoError> {
        let signer = AuditSigningKey::generate()?;
        let signer_public = signer.public_key()?;
        let certified = AuditSigningKey::generate()?.public_key()?;
        let signature = signer.certify_key("firm", "k1", &certified)?;
        assert!(verify_key_certificate(&signer_public, "firm", "k1", &certified, &signature));
        assert!(
            !verify_key_certificate(&signer_public, "other", "k1", &certified, &signature),
            "another firm"
        );
        assert!(!verify_key_certificate(&signer_public, "firm", "k2", &certified, &signature), "another id");
        let other = AuditSigningKey::generate()?.public_key()?;
        assert!(!verify_key_certificate(&signer_public, "firm", "k1", &other, &signature), "another key");
        assert!(!verify_key_certificate(&certified, "firm", "k1", &certified, &signature), "another signer");
        // A checkpoint signature is never taken for a certificate.
        let hash = genesis("firm");
        let checkpoint = signer.sign_checkpoint("firm", 1, &hash, 1000)?;
        assert!(!verify_key_certificate(&signer_public, "firm", "k1", &certified, &checkpoint));
        Ok(())
    }

    #[test]
    fn the_chain_depends_on_order_and_content() {
        let start = genesis("firm");
        let ab = link(&link(&start, b"a"), b"b");
        let ba = link(&link(&start, b"b"), b"a");
        assert_ne!(ab, ba);
        assert_ne!(genesis("firm"), genesis("other"));
    }
}
