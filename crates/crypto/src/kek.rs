//! Key-encryption key for device files (virtual cards, virtual secure elements).
//!
//! A real card's chip keeps its private keys and PIN reference data in protected
//! memory. A virtual card is a file, so jpki seals that part of the file with
//! AES-256-GCM under a key-encryption key (KEK) kept apart from the card files. The
//! non-secret part of the file (PIN counters, certificates) is bound to the sealed part
//! as associated data, so editing a counter by hand makes the file fail to open.

use std::fmt;
use std::io::Write;
use std::path::Path;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};

use crate::{CryptoError, SecretBytes, random_bytes};

pub const KEK_LEN: usize = 32;

/// A 256-bit key-encryption key.
pub struct Kek(SecretBytes);

impl Kek {
    pub fn generate() -> Result<Self, CryptoError> {
        Ok(Self(SecretBytes::new(random_bytes(KEK_LEN)?)))
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        if bytes.len() != KEK_LEN {
            return Err(CryptoError::KekLength {
                expected: KEK_LEN,
                found: bytes.len(),
            });
        }
        Ok(Self(SecretBytes::new(bytes.to_vec())))
    }

    /// Reads a KEK file (raw 32 bytes).
    pub fn read(path: &Path) -> std::io::Result<Result<Self, CryptoError>> {
        let bytes = SecretBytes::new(std::fs::read(path)?);
        Ok(Self::from_bytes(bytes.expose()))
    }

    /// Writes a new KEK file readable only by its owner. Fails if the file exists.
    pub fn write_new(&self, path: &Path) -> std::io::Result<()> {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(path)?;
        file.write_all(self.0.expose())?;
        file.sync_all()
    }

    /// Encrypts `plaintext`, binding `associated` to it. Output: nonce ‖ ciphertext ‖ tag.
    pub fn seal(&self, plaintext: &[u8], associated: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let key = self.aead_key()?;
        let nonce_bytes: [u8; NONCE_LEN] = random_bytes(NONCE_LEN)?
            .try_into()
            .map_err(|_| CryptoError::Random)?;
        let mut in_out = plaintext.to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce_bytes),
            Aad::from(associated),
            &mut in_out,
        )
        .map_err(|_| CryptoError::Seal)?;
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&in_out);
        Ok(out)
    }

    /// Opens what [`Kek::seal`] produced with the same associated data.
    pub fn open(&self, sealed: &[u8], associated: &[u8]) -> Result<SecretBytes, CryptoError> {
        if sealed.len() < NONCE_LEN + AES_256_GCM.tag_len() {
            return Err(CryptoError::Unseal);
        }
        let key = self.aead_key()?;
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| CryptoError::Unseal)?;
        let mut in_out = body.to_vec();
        let plain = key
            .open_in_place(nonce, Aad::from(associated), &mut in_out)
            .map_err(|_| CryptoError::Unseal)?;
        let out = SecretBytes::new(plain.to_vec());
        zeroize::Zeroize::zeroize(&mut in_out);
        Ok(out)
    }

    fn aead_key(&self) -> Result<LessSafeKey, CryptoError> {
        let unbound =
            UnboundKey::new(&AES_256_GCM, self.0.expose()).map_err(|_| CryptoError::Seal)?;
        Ok(LessSafeKey::new(unbound))
    }
}

impl fmt::Debug for Kek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Kek([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_tamper_detection() {
        let kek = Kek::generate().unwrap();
        let sealed = kek.seal(b"private key", b"counters=3").unwrap();
        assert_eq!(
            kek.open(&sealed, b"counters=3").unwrap().expose(),
            b"private key"
        );
        assert!(matches!(
            kek.open(&sealed, b"counters=9"),
            Err(CryptoError::Unseal)
        ));
        let mut flipped = sealed.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(matches!(
            kek.open(&flipped, b"counters=3"),
            Err(CryptoError::Unseal)
        ));
        assert!(matches!(
            Kek::generate().unwrap().open(&sealed, b"counters=3"),
            Err(CryptoError::Unseal)
        ));
        assert!(matches!(kek.open(&[0; 5], b""), Err(CryptoError::Unseal)));
    }

    #[test]
    fn kek_files_are_private_and_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("device.kek");
        let kek = Kek::generate().unwrap();
        kek.write_new(&path).unwrap();
        assert!(kek.write_new(&path).is_err());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let loaded = Kek::read(&path).unwrap().unwrap();
        let sealed = kek.seal(b"x", b"").unwrap();
        assert_eq!(loaded.open(&sealed, b"").unwrap().expose(), b"x");
        std::fs::write(dir.path().join("short"), [1, 2, 3]).unwrap();
        assert!(matches!(
            Kek::read(&dir.path().join("short")).unwrap(),
            Err(CryptoError::KekLength { .. })
        ));
    }
}
