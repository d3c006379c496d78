//! Which subject public keys jpki accepts, read from a DER SubjectPublicKeyInfo.
//!
//! ```text
//! SubjectPublicKeyInfo ::= SEQUENCE {                               -- RFC 5280 §4.1
//!     algorithm         AlgorithmIdentifier,
//!     subjectPublicKey  BIT STRING }
//! -- RSA (RFC 3279 §2.3.1): algorithm rsaEncryption, parameters NULL,
//! --   subjectPublicKey = RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }
//! -- EC (RFC 5480 §2): algorithm id-ecPublicKey, parameters namedCurve secp256r1,
//! --   subjectPublicKey = the uncompressed point 04 || X || Y (65 bytes)
//! ```

use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1, ParsedPublicKey};
use der::asn1::{ObjectIdentifier, UintRef};
use der::{Decode, Sequence};
use jpki_crypto::SignatureAlgorithm;
use spki::SubjectPublicKeyInfoRef;

use crate::{PkixError, oid};

/// Smallest RSA modulus accepted (JPKI-FACTS §2.2: the law requires ≥ 2048 bits).
pub const MIN_RSA_BITS: usize = 2048;
/// Largest RSA modulus accepted (what aws-lc-rs verifies; larger keys only cost time).
pub const MAX_RSA_BITS: usize = 8192;

/// A public key jpki accepts as a subject or issuer key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PublicKeyKind {
    /// RSA with a modulus of `bits` bits (2048 ≤ bits ≤ 8192).
    Rsa { bits: usize },
    /// ECDSA on NIST P-256.
    EcP256,
}

impl PublicKeyKind {
    /// The one signature algorithm jpki pairs with this key.
    pub fn signature_algorithm(self) -> SignatureAlgorithm {
        match self {
            Self::Rsa { .. } => SignatureAlgorithm::RsaPkcs1Sha256,
            Self::EcP256 => SignatureAlgorithm::EcdsaP256Sha256,
        }
    }

    pub(crate) fn label(self) -> String {
        match self {
            Self::Rsa { bits } => format!("RSA-{bits}"),
            Self::EcP256 => "EC P-256".to_owned(),
        }
    }
}

#[derive(Sequence)]
struct RsaPublicKey<'a> {
    modulus: UintRef<'a>,
    public_exponent: UintRef<'a>,
}

/// Checks a DER SubjectPublicKeyInfo and says what it is. Refuses RSA under 2048 bits,
/// RSA with an even modulus or an exponent that is even or below 3, EC keys not on
/// P-256 (the point is validated by aws-lc), and every other algorithm.
pub fn inspect_public_key(spki_der: &[u8]) -> Result<PublicKeyKind, PkixError> {
    let spki = SubjectPublicKeyInfoRef::from_der(spki_der)
        .map_err(|e| PkixError::UnsupportedKey(format!("not a SubjectPublicKeyInfo: {e}")))?;
    let key_bits = spki
        .subject_public_key
        .as_bytes()
        .ok_or_else(|| PkixError::UnsupportedKey("subjectPublicKey has unused bits".to_owned()))?;
    match spki.algorithm.oid {
        oid::RSA_ENCRYPTION => {
            if !spki.algorithm.parameters.is_some_and(|p| p.is_null()) {
                return Err(PkixError::UnsupportedKey(
                    "rsaEncryption parameters must be NULL (RFC 3279 §2.3.1)".to_owned(),
                ));
            }
            let key = RsaPublicKey::from_der(key_bits)
                .map_err(|e| PkixError::UnsupportedKey(format!("malformed RSAPublicKey: {e}")))?;
            let bits = bit_length(key.modulus.as_bytes());
            if bits < MIN_RSA_BITS {
                return Err(PkixError::WeakRsaKey { bits });
            }
            if bits > MAX_RSA_BITS {
                return Err(PkixError::UnsupportedKey(format!(
                    "RSA modulus of {bits} bits is larger than {MAX_RSA_BITS}"
                )));
            }
            let modulus_odd = key.modulus.as_bytes().last().is_some_and(|b| b & 1 == 1);
            let exponent = key.public_exponent.as_bytes();
            let exponent_odd = exponent.last().is_some_and(|b| b & 1 == 1);
            if !modulus_odd || !exponent_odd || bit_length(exponent) < 2 {
                return Err(PkixError::UnsupportedKey(
                    "RSA modulus and exponent must be odd, exponent at least 3".to_owned(),
                ));
            }
            Ok(PublicKeyKind::Rsa { bits })
        }
        oid::EC_PUBLIC_KEY => {
            let curve: Option<ObjectIdentifier> = spki
                .algorithm
                .parameters
                .map(|p| p.decode_as())
                .transpose()
                .map_err(|_| {
                    PkixError::UnsupportedKey("EC parameters must be a named curve".to_owned())
                })?;
            if curve != Some(oid::SECP256R1) {
                return Err(PkixError::UnsupportedKey(format!(
                    "EC curve {} (only P-256 / 1.2.840.10045.3.1.7 is accepted)",
                    curve.map_or_else(|| "absent".to_owned(), |c| c.to_string())
                )));
            }
            if key_bits.len() != 65 || key_bits[0] != 0x04 {
                return Err(PkixError::UnsupportedKey(
                    "EC P-256 key must be an uncompressed point of 65 bytes".to_owned(),
                ));
            }
            ParsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, key_bits).map_err(|_| {
                PkixError::UnsupportedKey("EC point is not on the P-256 curve".to_owned())
            })?;
            Ok(PublicKeyKind::EcP256)
        }
        other => Err(PkixError::UnsupportedKey(format!("key algorithm {other}"))),
    }
}

/// Number of significant bits in a big-endian magnitude.
fn bit_length(magnitude: &[u8]) -> usize {
    let Some(first) = magnitude.iter().position(|&b| b != 0) else {
        return 0;
    };
    (magnitude.len() - first) * 8 - magnitude[first].leading_zeros() as usize
}

/// The RFC 5280 §4.2.1.2 method (1) key identifier of a DER SubjectPublicKeyInfo:
/// SHA-1 of the subjectPublicKey bits. The real J-LIS CAs use this method.
pub fn key_identifier(spki_der: &[u8]) -> Result<Vec<u8>, PkixError> {
    let spki = SubjectPublicKeyInfoRef::from_der(spki_der)?;
    Ok(key_identifier_of_bits(spki.subject_public_key.raw_bytes()))
}

/// [`key_identifier`] from the subjectPublicKey BIT STRING contents.
pub(crate) fn key_identifier_of_bits(subject_public_key: &[u8]) -> Vec<u8> {
    jpki_crypto::DigestAlgorithm::Sha1.hash(subject_public_key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_length_counts_significant_bits() {
        assert_eq!(bit_length(&[]), 0);
        assert_eq!(bit_length(&[0, 0]), 0);
        assert_eq!(bit_length(&[0x01]), 1);
        assert_eq!(bit_length(&[0x00, 0x80, 0x00]), 16);
        assert_eq!(bit_length(&[0x01, 0x00, 0x01]), 17);
    }

    #[test]
    fn garbage_and_unknown_algorithms_are_refused() {
        assert!(matches!(
            inspect_public_key(b"\x30\x00"),
            Err(PkixError::UnsupportedKey(_))
        ));
        // Ed25519 SPKI (RFC 8410 example).
        let ed25519 = [
            0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00, 0x19, 0xbf,
            0x44, 0x09, 0x69, 0x84, 0xcd, 0xfe, 0x85, 0x41, 0xba, 0xc1, 0x67, 0xdc, 0x3b, 0x96,
            0xc8, 0x50, 0x86, 0xaa, 0x30, 0xb6, 0xb6, 0xcb, 0x0c, 0x5c, 0x38, 0xad, 0x70, 0x31,
            0x66, 0xe1,
        ];
        let error = inspect_public_key(&ed25519).unwrap_err();
        assert!(error.to_string().contains("1.3.101.112"), "{error}");
    }
}
