//! A card key as a [`jpki_crypto::Signer`], so certificate requests, CMS signatures and
//! login responses can be made by a card exactly as by a software key.

use std::fmt;
use std::sync::Mutex;

use jpki_crypto::{CryptoError, DigestAlgorithm, DigestInfo, SignatureAlgorithm, Signer};

use crate::{JpkiAp, KeySlot, Transport};

/// A key on a card (or phone secure element) whose PIN was verified in this session.
/// `sign` hashes the message with SHA-256, builds the DigestInfo and sends COMPUTE
/// DIGITAL SIGNATURE, as real JPKI clients do (JPKI-FACTS §1.4).
pub struct CardSigner<'a, T> {
    ap: Mutex<&'a mut JpkiAp<T>>,
    key: KeySlot,
    public_key_der: Vec<u8>,
}

impl<'a, T: Transport> CardSigner<'a, T> {
    /// `public_key_der` is the key's SubjectPublicKeyInfo (from key generation or from
    /// the key's certificate).
    pub fn new(ap: &'a mut JpkiAp<T>, key: KeySlot, public_key_der: Vec<u8>) -> Self {
        Self {
            ap: Mutex::new(ap),
            key,
            public_key_der,
        }
    }
}

impl<T> fmt::Debug for CardSigner<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CardSigner")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl<T: Transport + Send> Signer for CardSigner<'_, T> {
    fn algorithm(&self) -> SignatureAlgorithm {
        SignatureAlgorithm::RsaPkcs1Sha256
    }

    fn public_key_der(&self) -> &[u8] {
        &self.public_key_der
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let digest_info = DigestInfo::of(DigestAlgorithm::Sha256, message).to_der();
        let mut ap = self.ap.lock().map_err(|_| CryptoError::Signing)?;
        ap.sign_digest_info(self.key, &digest_info)
            .map_err(|error| {
                tracing::warn!(%error, key = ?self.key, "the card refused to sign");
                CryptoError::Signing
            })
    }
}
