//! The log's key: a [`LogKey`] signs tree heads through any [`Signer`]; a
//! [`LogPublicKey`] is what a citizen's verifier trusts.
//!
//! ```text
//! log id = SHA-256(DER SubjectPublicKeyInfo of the log key)          (as CT's LogID)
//! accepted keys (RFC 5280 §4.1, RFC 3279 §2.3.1, RFC 5480 §2):
//!   rsaEncryption (1.2.840.113549.1.1.1), 2048..=8192 bits  -> RSASSA-PKCS1-v1_5 SHA-256
//!   id-ecPublicKey (1.2.840.10045.2.1) on secp256r1
//!                  (1.2.840.10045.3.1.7)                    -> ECDSA P-256 SHA-256, DER signature
//! ```

use std::fmt;
use std::sync::Arc;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1, ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair as _,
    ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256,
};
use der::Decode;
use jpki_crypto::{
    CryptoError, SecretBytes, SignatureAlgorithm, Signer, SoftwareRsaKey, verify_signature,
};
use spki::{ObjectIdentifier, SubjectPublicKeyInfoRef};

use crate::error::{LogError, LogVerifyError};
use crate::hash::{HashValue, sha256_concat};
use crate::sth::{SignedTreeHead, TreeHead};

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const ID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");

/// A log's public key as a verifier holds it: the SPKI, its algorithm, and the log id.
#[derive(Clone, PartialEq, Eq)]
pub struct LogPublicKey {
    algorithm: SignatureAlgorithm,
    spki_der: Vec<u8>,
    log_id: HashValue,
}

impl fmt::Debug for LogPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogPublicKey")
            .field("algorithm", &self.algorithm)
            .field("log_id", &self.log_id)
            .finish()
    }
}

impl LogPublicKey {
    /// Reads a DER SubjectPublicKeyInfo: RSA (2048 to 8192 bits) or EC P-256.
    pub fn from_spki_der(spki_der: &[u8]) -> Result<Self, LogVerifyError> {
        let unsupported = |why: String| LogVerifyError::UnsupportedLogKey(why);
        let spki = SubjectPublicKeyInfoRef::from_der(spki_der)
            .map_err(|e| unsupported(format!("not a DER SubjectPublicKeyInfo: {e}")))?;
        let (algorithm_oid, parameters) = spki
            .algorithm
            .oids()
            .map_err(|e| unsupported(format!("algorithm parameters: {e}")))?;
        let (algorithm, verification): (
            SignatureAlgorithm,
            &'static dyn aws_lc_rs::signature::VerificationAlgorithm,
        ) = match (algorithm_oid, parameters) {
            (RSA_ENCRYPTION, None) => (
                SignatureAlgorithm::RsaPkcs1Sha256,
                &RSA_PKCS1_2048_8192_SHA256,
            ),
            (ID_EC_PUBLIC_KEY, Some(SECP256R1)) => {
                (SignatureAlgorithm::EcdsaP256Sha256, &ECDSA_P256_SHA256_ASN1)
            }
            (oid, params) => {
                return Err(unsupported(format!(
                    "algorithm {oid} with parameters {params:?} (RSA or EC P-256 only)"
                )));
            }
        };
        // aws-lc checks the key itself (modulus size, point on the curve).
        ParsedPublicKey::new(verification, spki_der)
            .map_err(|e| unsupported(format!("key rejected: {e}")))?;
        Ok(Self {
            algorithm,
            spki_der: spki_der.to_vec(),
            log_id: sha256_concat(&[spki_der]),
        })
    }

    /// Reads a PEM `PUBLIC KEY` (the form `/api/v1/log/key` would publish).
    pub fn from_pem(pem: &str) -> Result<Self, LogVerifyError> {
        let (label, der) = der::pem::decode_vec(pem.trim().as_bytes())
            .map_err(|e| LogVerifyError::UnsupportedLogKey(format!("PEM: {e}")))?;
        if label != "PUBLIC KEY" {
            return Err(LogVerifyError::UnsupportedLogKey(format!(
                "expected a PUBLIC KEY PEM block, found {label}"
            )));
        }
        Self::from_spki_der(&der)
    }

    pub fn to_pem(&self) -> Result<String, LogError> {
        der::pem::encode_string("PUBLIC KEY", der::pem::LineEnding::LF, &self.spki_der)
            .map_err(|e| LogError::UnsupportedKey(e.to_string()))
    }

    pub fn algorithm(&self) -> SignatureAlgorithm {
        self.algorithm
    }

    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// `SHA-256(SPKI DER)`.
    pub fn log_id(&self) -> HashValue {
        self.log_id
    }

    pub(crate) fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        verify_signature(self.algorithm, &self.spki_der, message, signature).is_ok()
    }
}

/// The log's signing key: any [`Signer`] (software, HSM) whose public key is RSA or
/// P-256. Every tree head it signs is verified with its public key before it is
/// returned, so a faulty signer cannot publish an unverifiable tree head.
#[derive(Debug, Clone)]
pub struct LogKey {
    signer: Arc<dyn Signer>,
    public_key: LogPublicKey,
}

impl LogKey {
    pub fn new(signer: Arc<dyn Signer>) -> Result<Self, LogError> {
        let public_key = LogPublicKey::from_spki_der(signer.public_key_der())
            .map_err(|e| LogError::UnsupportedKey(e.to_string()))?;
        if public_key.algorithm() != signer.algorithm() {
            return Err(LogError::SignerMismatch {
                signer: signer.algorithm(),
                key: public_key.algorithm(),
            });
        }
        Ok(Self { signer, public_key })
    }

    /// A fresh software P-256 key.
    pub fn generate_p256() -> Result<Self, LogError> {
        Self::new(Arc::new(SoftwareP256Key::generate()?))
    }

    /// A software key from an unencrypted PKCS#8 `PrivateKeyInfo` (P-256 or RSA), e.g.
    /// what `jpki_crypto::decrypt_private_key` returns for the key file at rest.
    pub fn from_pkcs8_der(pkcs8: &SecretBytes) -> Result<Self, LogError> {
        match SoftwareP256Key::from_pkcs8_der(pkcs8.expose()) {
            Ok(key) => Self::new(Arc::new(key)),
            Err(_) => Self::new(Arc::new(SoftwareRsaKey::from_pkcs8_der(pkcs8.expose())?)),
        }
    }

    pub fn public_key(&self) -> &LogPublicKey {
        &self.public_key
    }

    pub fn log_id(&self) -> HashValue {
        self.public_key.log_id()
    }

    pub fn signer(&self) -> &dyn Signer {
        self.signer.as_ref()
    }

    /// Signs `head` and checks the signature before returning it.
    pub fn sign(&self, head: TreeHead) -> Result<SignedTreeHead, LogError> {
        let log_id = self.log_id();
        let signature = self.signer.sign(&head.signed_bytes(&log_id))?;
        let signed = SignedTreeHead {
            log_id,
            tree_size: head.tree_size,
            timestamp: head.timestamp,
            root_hash: head.root_hash,
            signature,
        };
        if signed.verify(&self.public_key).is_err() {
            return Err(LogError::SelfCheck);
        }
        Ok(signed)
    }
}

/// An ECDSA P-256 private key in memory (aws-lc-rs), signing SHA-256 with DER-encoded
/// signatures. jpki-crypto has RSA only; tree heads are signed often and published
/// widely, and P-256 signatures are a quarter of the size of RSA-2048's.
pub struct SoftwareP256Key {
    pair: EcdsaKeyPair,
    public_key_der: Vec<u8>,
    pkcs8: SecretBytes,
}

impl SoftwareP256Key {
    pub fn generate() -> Result<Self, CryptoError> {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING)
            .map_err(|_| CryptoError::KeyGeneration)?;
        let pkcs8 = pair.to_pkcs8v1().map_err(|_| CryptoError::KeyGeneration)?;
        Self::from_pkcs8_der(pkcs8.as_ref())
    }

    /// Loads an unencrypted PKCS#8 `PrivateKeyInfo` holding a P-256 key.
    pub fn from_pkcs8_der(pkcs8: &[u8]) -> Result<Self, CryptoError> {
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8)
            .map_err(|e| CryptoError::KeyRejected(e.to_string()))?;
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

    /// The unencrypted PKCS#8 encoding: handle as the secret it is (encrypt it with
    /// `jpki_crypto::encrypt_private_key` before writing it anywhere).
    pub fn pkcs8_der(&self) -> &SecretBytes {
        &self.pkcs8
    }
}

impl Signer for SoftwareP256Key {
    fn algorithm(&self) -> SignatureAlgorithm {
        SignatureAlgorithm::EcdsaP256Sha256
    }

    fn public_key_der(&self) -> &[u8] {
        &self.public_key_der
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.pair
            .sign(&SystemRandom::new(), message)
            .map(|signature| signature.as_ref().to_vec())
            .map_err(|_| CryptoError::Signing)
    }
}

impl fmt::Debug for SoftwareP256Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SoftwareP256Key")
            .field("curve", &"P-256")
            .field("private", &"[redacted]")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jpki_crypto::RsaKeySize;

    #[test]
    fn p256_key_signs_and_reloads() {
        let key = SoftwareP256Key::generate().unwrap();
        let signature = key.sign(b"tree head").unwrap();
        let public = LogPublicKey::from_spki_der(key.public_key_der()).unwrap();
        assert_eq!(public.algorithm(), SignatureAlgorithm::EcdsaP256Sha256);
        assert!(public.verifies(b"tree head", &signature));
        assert!(!public.verifies(b"tree heap", &signature));
        let reloaded = SoftwareP256Key::from_pkcs8_der(key.pkcs8_der().expose()).unwrap();
        assert_eq!(reloaded.public_key_der(), key.public_key_der());
        assert!(!format!("{key:?}").contains(&hex::encode(key.pkcs8_der().expose())));
        let pem = public.to_pem().unwrap();
        assert_eq!(LogPublicKey::from_pem(&pem).unwrap(), public);
        assert_eq!(public.log_id(), sha256_concat(&[key.public_key_der()]));
    }

    #[test]
    fn rsa_and_p256_log_keys_both_work_and_other_input_is_refused() {
        let rsa = SoftwareRsaKey::generate(RsaKeySize::Rsa2048).unwrap();
        let log_key = LogKey::from_pkcs8_der(rsa.pkcs8_der()).unwrap();
        assert_eq!(
            log_key.public_key().algorithm(),
            SignatureAlgorithm::RsaPkcs1Sha256
        );
        let p256 = SoftwareP256Key::generate().unwrap();
        let log_key = LogKey::from_pkcs8_der(p256.pkcs8_der()).unwrap();
        assert_eq!(
            log_key.public_key().algorithm(),
            SignatureAlgorithm::EcdsaP256Sha256
        );
        assert!(LogKey::from_pkcs8_der(&SecretBytes::new(vec![0x30, 0x00])).is_err());
        assert!(matches!(
            LogPublicKey::from_spki_der(b"\x30\x03\x02\x01\x00"),
            Err(LogVerifyError::UnsupportedLogKey(_))
        ));
        assert!(
            LogPublicKey::from_pem(
                "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n"
            )
            .is_err()
        );
    }

    /// A signer whose algorithm does not match its key, and one that signs garbage.
    #[derive(Debug)]
    struct LyingSigner {
        inner: SoftwareP256Key,
        algorithm: SignatureAlgorithm,
    }
    impl Signer for LyingSigner {
        fn algorithm(&self) -> SignatureAlgorithm {
            self.algorithm
        }
        fn public_key_der(&self) -> &[u8] {
            self.inner.public_key_der()
        }
        fn sign(&self, _message: &[u8]) -> Result<Vec<u8>, CryptoError> {
            Ok(vec![0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01])
        }
    }

    #[test]
    fn mismatched_or_faulty_signers_are_caught() {
        let lying = LyingSigner {
            inner: SoftwareP256Key::generate().unwrap(),
            algorithm: SignatureAlgorithm::RsaPkcs1Sha256,
        };
        assert!(matches!(
            LogKey::new(Arc::new(lying)),
            Err(LogError::SignerMismatch { .. })
        ));
        let faulty = LyingSigner {
            inner: SoftwareP256Key::generate().unwrap(),
            algorithm: SignatureAlgorithm::EcdsaP256Sha256,
        };
        let key = LogKey::new(Arc::new(faulty)).unwrap();
        let head = TreeHead {
            tree_size: 0,
            root_hash: crate::hash::empty_tree_hash(),
            timestamp: 0,
        };
        assert!(matches!(key.sign(head), Err(LogError::SelfCheck)));
    }
}
