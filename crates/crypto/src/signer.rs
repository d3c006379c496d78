//! The signing abstraction every key in jpki implements.

use std::fmt;

use aws_lc_rs::signature::{self, UnparsedPublicKey};

use crate::CryptoError;

/// Signature algorithms jpki produces and checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignatureAlgorithm {
    /// sha256WithRSAEncryption (RSASSA-PKCS1-v1_5 with SHA-256): every JPKI certificate,
    /// CRL, OCSP response and card signature.
    RsaPkcs1Sha256,
    /// ecdsa-with-SHA256 on P-256, DER-encoded signature.
    EcdsaP256Sha256,
}

/// A private key that signs. The CA, the OCSP responder, a virtual card and a virtual
/// secure element all sign through this trait; an HSM-backed key would too.
pub trait Signer: Send + Sync + fmt::Debug {
    /// The algorithm [`Signer::sign`] uses.
    fn algorithm(&self) -> SignatureAlgorithm;

    /// The public key as a DER SubjectPublicKeyInfo.
    fn public_key_der(&self) -> &[u8];

    /// Hashes `message` and signs it.
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, CryptoError>;
}

impl<T: Signer + ?Sized> Signer for std::sync::Arc<T> {
    fn algorithm(&self) -> SignatureAlgorithm {
        (**self).algorithm()
    }
    fn public_key_der(&self) -> &[u8] {
        (**self).public_key_der()
    }
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, CryptoError> {
        (**self).sign(message)
    }
}

impl<T: Signer + ?Sized> Signer for Box<T> {
    fn algorithm(&self) -> SignatureAlgorithm {
        (**self).algorithm()
    }
    fn public_key_der(&self) -> &[u8] {
        (**self).public_key_der()
    }
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, CryptoError> {
        (**self).sign(message)
    }
}

/// Checks `signature` over `message` with a DER SubjectPublicKeyInfo.
pub fn verify_signature(
    algorithm: SignatureAlgorithm,
    public_key_der: &[u8],
    message: &[u8],
    signature_bytes: &[u8],
) -> Result<(), CryptoError> {
    let verifier: &dyn signature::VerificationAlgorithm = match algorithm {
        SignatureAlgorithm::RsaPkcs1Sha256 => &signature::RSA_PKCS1_2048_8192_SHA256,
        SignatureAlgorithm::EcdsaP256Sha256 => &signature::ECDSA_P256_SHA256_ASN1,
    };
    // aws-lc-rs parses both a SubjectPublicKeyInfo and a bare key here.
    UnparsedPublicKey::new(verifier, public_key_der)
        .verify(message, signature_bytes)
        .map_err(|_| CryptoError::BadSignature)
}
