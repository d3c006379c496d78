//! RSA keys held in software (aws-lc-rs).

use std::fmt;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{
    KeyPair as _, RSA_PKCS1_SHA256, RSA_PKCS1_SHA384, RSA_PKCS1_SHA512, RsaEncoding,
};
use aws_lc_rs::{digest, rand};
use rsa::pkcs8::DecodePrivateKey;

use crate::digest_info::{DigestAlgorithm, DigestInfo};
use crate::{CryptoError, SecretBytes, SignatureAlgorithm, Signer};

/// RSA modulus sizes jpki generates. JPKI requires at least 2048 bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RsaKeySize {
    Rsa2048,
    Rsa3072,
    Rsa4096,
}

impl RsaKeySize {
    pub fn bits(self) -> usize {
        match self {
            Self::Rsa2048 => 2048,
            Self::Rsa3072 => 3072,
            Self::Rsa4096 => 4096,
        }
    }
}

/// An RSA private key in memory, signing with PKCS#1 v1.5.
pub struct SoftwareRsaKey {
    pair: KeyPair,
    public_key_der: Vec<u8>,
    pkcs8: SecretBytes,
}

impl SoftwareRsaKey {
    /// Generates a fresh key (public exponent 65537).
    pub fn generate(size: RsaKeySize) -> Result<Self, CryptoError> {
        let key_size = match size {
            RsaKeySize::Rsa2048 => KeySize::Rsa2048,
            RsaKeySize::Rsa3072 => KeySize::Rsa3072,
            RsaKeySize::Rsa4096 => KeySize::Rsa4096,
        };
        let pair = KeyPair::generate(key_size).map_err(|_| CryptoError::KeyGeneration)?;
        let pkcs8 = pair.as_der().map_err(|_| CryptoError::KeyGeneration)?;
        Self::from_pkcs8_der(pkcs8.as_ref())
    }

    /// Loads an unencrypted PKCS#8 `PrivateKeyInfo`.
    pub fn from_pkcs8_der(pkcs8: &[u8]) -> Result<Self, CryptoError> {
        let pair =
            KeyPair::from_pkcs8(pkcs8).map_err(|e| CryptoError::KeyRejected(e.to_string()))?;
        if pair.public_modulus_len() < 256 {
            return Err(CryptoError::KeyRejected(
                "modulus shorter than 2048 bits".into(),
            ));
        }
        let public_key_der = pair
            .public_key()
            .as_der()
            .map_err(|e| CryptoError::KeyRejected(e.to_string()))?
            .as_ref()
            .to_vec();
        Ok(Self {
            pair,
            public_key_der,
            pkcs8: SecretBytes::new(pkcs8.to_vec()),
        })
    }

    /// The unencrypted PKCS#8 encoding: handle as the secret it is.
    pub fn pkcs8_der(&self) -> &SecretBytes {
        &self.pkcs8
    }

    pub fn modulus_bits(&self) -> usize {
        self.pair.public_modulus_len() * 8
    }

    /// Signs a caller-built DigestInfo, or any other input of at most k−11 bytes, with
    /// PKCS#1 v1.5 type-1 padding: what a JPKI card does for COMPUTE DIGITAL SIGNATURE.
    pub fn sign_digest_info(&self, input: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let max = self.pair.public_modulus_len().saturating_sub(11);
        if input.len() > max {
            return Err(CryptoError::InputTooLong {
                len: input.len(),
                max,
            });
        }
        if let Some(info) = DigestInfo::parse(input)
            && let Some(encoding) = encoding_for(info.algorithm)
        {
            let digest = digest::Digest::import_less_safe(&info.digest, info.algorithm.aws_lc())
                .map_err(|_| CryptoError::Signing)?;
            let mut signature = vec![0u8; self.pair.public_modulus_len()];
            self.pair
                .sign_digest(encoding, &digest, &mut signature)
                .map_err(|_| CryptoError::Signing)?;
            return Ok(signature);
        }
        // Anything else: pad the bytes as given (no DigestInfo is added).
        let key = rsa::PrivateKey::from_pkcs8_der(self.pkcs8.expose())
            .map_err(|e| CryptoError::KeyRejected(e.to_string()))?;
        key.sign(rsa::pkcs1v15::Pkcs1v15Sign::new_unprefixed(), input)
            .map_err(|_| CryptoError::Signing)
    }
}

fn encoding_for(algorithm: DigestAlgorithm) -> Option<&'static dyn RsaEncoding> {
    match algorithm {
        DigestAlgorithm::Sha256 => Some(&RSA_PKCS1_SHA256),
        DigestAlgorithm::Sha384 => Some(&RSA_PKCS1_SHA384),
        DigestAlgorithm::Sha512 => Some(&RSA_PKCS1_SHA512),
        // aws-lc-rs has no signing encodings for these: the fallback pads them as given.
        DigestAlgorithm::Sha1 | DigestAlgorithm::Sha224 => None,
    }
}

impl Signer for SoftwareRsaKey {
    fn algorithm(&self) -> SignatureAlgorithm {
        SignatureAlgorithm::RsaPkcs1Sha256
    }

    fn public_key_der(&self) -> &[u8] {
        &self.public_key_der
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let mut signature = vec![0u8; self.pair.public_modulus_len()];
        self.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &rand::SystemRandom::new(),
                message,
                &mut signature,
            )
            .map_err(|_| CryptoError::Signing)?;
        Ok(signature)
    }
}

impl fmt::Debug for SoftwareRsaKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SoftwareRsaKey")
            .field("bits", &self.modulus_bits())
            .field("private", &"[redacted]")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify_signature;

    #[test]
    fn sign_and_verify_round_trip() {
        let key = SoftwareRsaKey::generate(RsaKeySize::Rsa2048).unwrap();
        assert_eq!(key.modulus_bits(), 2048);
        let signature = key.sign(b"message").unwrap();
        assert_eq!(signature.len(), 256);
        verify_signature(
            SignatureAlgorithm::RsaPkcs1Sha256,
            key.public_key_der(),
            b"message",
            &signature,
        )
        .unwrap();
        assert!(
            verify_signature(
                SignatureAlgorithm::RsaPkcs1Sha256,
                key.public_key_der(),
                b"massage",
                &signature
            )
            .is_err()
        );
        let reloaded = SoftwareRsaKey::from_pkcs8_der(key.pkcs8_der().expose()).unwrap();
        assert_eq!(reloaded.public_key_der(), key.public_key_der());
        assert!(!format!("{key:?}").contains(&format!("{:?}", key.pkcs8_der().expose())));
    }

    #[test]
    fn digest_info_signature_equals_message_signature() {
        let key = SoftwareRsaKey::generate(RsaKeySize::Rsa2048).unwrap();
        let info = DigestInfo::of(DigestAlgorithm::Sha256, b"hello card");
        let from_card = key.sign_digest_info(&info.to_der()).unwrap();
        let from_message = key.sign(b"hello card").unwrap();
        assert_eq!(from_card, from_message, "PKCS#1 v1.5 is deterministic");
    }

    #[test]
    fn unknown_inputs_are_padded_as_given_and_oversized_refused() {
        let key = SoftwareRsaKey::generate(RsaKeySize::Rsa2048).unwrap();
        // SHA-224 goes through the fallback path; it must equal a normal PKCS#1 signature
        // over the same DigestInfo, which the SHA-256 path proves is what aws-lc produces.
        let info = DigestInfo::of(DigestAlgorithm::Sha224, b"x").to_der();
        let signature = key.sign_digest_info(&info).unwrap();
        assert_eq!(signature.len(), 256);
        let raw = key.sign_digest_info(&[0xAB; 36]).unwrap();
        assert_eq!(raw.len(), 256);
        assert!(matches!(
            key.sign_digest_info(&[0; 246]),
            Err(CryptoError::InputTooLong { len: 246, max: 245 })
        ));
        assert!(key.sign_digest_info(&[0; 245]).is_ok());
    }

    #[test]
    fn garbage_pkcs8_is_rejected() {
        assert!(matches!(
            SoftwareRsaKey::from_pkcs8_der(b"\x30\x03\x02\x01\x00"),
            Err(CryptoError::KeyRejected(_))
        ));
    }
}
