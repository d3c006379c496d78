//! Login responses: a user-authentication key's signature over a server challenge.
//!
//! ```text
//! server → client   challenge (random bytes, single use; the server's job)
//! client → card     80 2A 00 80 Lc DigestInfo(SHA-256(challenge)) 00
//! card  → client    RSA-2048 PKCS#1 v1.5 type-1 signature (256 bytes) 90 00
//! client → server   certificate DER, signature
//! ```
//!
//! PKCS#1 v1.5 over the SHA-256 DigestInfo of the challenge is exactly RSASSA-PKCS1-v1_5
//! with SHA-256 over the challenge (RFC 8017 §8.2), so the check is one
//! [`jpki_crypto::verify_signature`] with [`SignatureAlgorithm::RsaPkcs1Sha256`]. The
//! certificate's path and status are checked by [`crate::Verifier::verify_login`]; this
//! module holds the signature step alone. Challenge freshness and single use are the
//! server's (it made the challenge): this crate cannot know what was issued.

use jpki_crypto::{SignatureAlgorithm, verify_signature};

use crate::verdict::{InvalidReason, SignatureTarget};

/// Checks `signature` over `challenge` with the public key of `certificate_der`, for the
/// algorithm the caller expects. Only the cryptography: no path, time or status.
pub fn verify_challenge_signature(
    certificate_der: &[u8],
    challenge: &[u8],
    signature: &[u8],
    algorithm: SignatureAlgorithm,
) -> Result<(), InvalidReason> {
    let certificate = jpki_pkix::JpkiCertificate::from_der(certificate_der).map_err(|e| {
        InvalidReason::Malformed {
            detail: format!("certificate: {e}"),
        }
    })?;
    check(&certificate, challenge, signature, algorithm)
}

pub(crate) fn check(
    certificate: &jpki_pkix::JpkiCertificate,
    challenge: &[u8],
    signature: &[u8],
    algorithm: SignatureAlgorithm,
) -> Result<(), InvalidReason> {
    let key = jpki_pkix::inspect_public_key(certificate.public_key_der()).map_err(|e| {
        InvalidReason::UnsupportedAlgorithm {
            detail: format!("the certificate's key: {e}"),
        }
    })?;
    if key.signature_algorithm() != algorithm {
        return Err(InvalidReason::UnsupportedAlgorithm {
            detail: format!("a {algorithm:?} signature cannot come from a {key:?} key"),
        });
    }
    if challenge.is_empty() {
        return Err(InvalidReason::Malformed {
            detail: "empty challenge".to_owned(),
        });
    }
    verify_signature(
        algorithm,
        certificate.public_key_der(),
        challenge,
        signature,
    )
    .map_err(|_| InvalidReason::BadSignature {
        target: SignatureTarget::Challenge,
    })
}
