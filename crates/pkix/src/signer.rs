//! The bridge between [`jpki_crypto::Signer`] (software keys, an HSM, a card) and the
//! RustCrypto builders (`CertificateBuilder`, `CrlBuilder`, CMS `SignerInfoBuilder`).
//!
//! The builders want `Keypair + DynSignatureAlgorithmIdentifier` (+ `signature::Signer`
//! for their one-shot `build`). [`SignerAdapter`] provides all three over a
//! `&dyn Signer`. [`sign_with`] takes the explicit route — `finalize()` → our signer →
//! `assemble()` — so a signing failure keeps its typed [`jpki_crypto::CryptoError`].
//!
//! The algorithm identifier comes from [`Signer::algorithm`]:
//!
//! ```text
//! RsaPkcs1Sha256   → sha256WithRSAEncryption 1.2.840.113549.1.1.11, parameters NULL (RFC 4055 §5)
//! EcdsaP256Sha256  → ecdsa-with-SHA256       1.2.840.10045.4.3.2,   parameters absent (RFC 5758 §3.2)
//! ```

use der::asn1::{Any, BitString};
use der::{Document, Encode};
use jpki_crypto::{SignatureAlgorithm, Signer};
use spki::{
    AlgorithmIdentifierOwned, DynSignatureAlgorithmIdentifier, EncodePublicKey,
    SignatureBitStringEncoding,
};
use x509_cert::builder::Builder;

use crate::{PkixError, key, oid};

/// The AlgorithmIdentifier of a signature made with `algorithm`.
pub fn signature_algorithm_identifier(algorithm: SignatureAlgorithm) -> AlgorithmIdentifierOwned {
    match algorithm {
        SignatureAlgorithm::RsaPkcs1Sha256 => AlgorithmIdentifierOwned {
            oid: oid::SHA256_WITH_RSA_ENCRYPTION,
            parameters: Some(Any::null()),
        },
        SignatureAlgorithm::EcdsaP256Sha256 => AlgorithmIdentifierOwned {
            oid: oid::ECDSA_WITH_SHA256,
            parameters: None,
        },
    }
}

/// A `&dyn Signer` dressed for the RustCrypto builders.
#[derive(Debug, Clone)]
pub struct SignerAdapter<'a> {
    signer: &'a dyn Signer,
    algorithm: AlgorithmIdentifierOwned,
}

impl<'a> SignerAdapter<'a> {
    /// Checks that the signer's public key is one jpki accepts and that it fits the
    /// algorithm the signer announces (an RSA key cannot make ECDSA signatures).
    pub fn new(signer: &'a dyn Signer) -> Result<Self, PkixError> {
        let kind = key::inspect_public_key(signer.public_key_der())?;
        if kind.signature_algorithm() != signer.algorithm() {
            return Err(PkixError::AlgorithmKeyMismatch {
                algorithm: format!("{:?}", signer.algorithm()),
                key: kind.label(),
            });
        }
        Ok(Self::trusted(signer))
    }

    /// For callers that already checked the key (the issuer compares it with its
    /// certificate's key, which was checked once in `Issuer::new`).
    pub(crate) fn trusted(signer: &'a dyn Signer) -> Self {
        Self {
            signer,
            algorithm: signature_algorithm_identifier(signer.algorithm()),
        }
    }

    /// The signature AlgorithmIdentifier this signer produces.
    pub fn algorithm_identifier(&self) -> &AlgorithmIdentifierOwned {
        &self.algorithm
    }

    /// Signs `message` and wraps the result as the BIT STRING of a signed structure.
    pub fn sign_to_bit_string(&self, message: &[u8]) -> Result<BitString, PkixError> {
        let signature = self.signer.sign(message)?;
        Ok(BitString::from_bytes(&signature)?)
    }
}

/// The verifying half of a [`SignerAdapter`]: the signer's SubjectPublicKeyInfo DER.
#[derive(Debug, Clone, Copy)]
pub struct PublicKeyDer<'a>(&'a [u8]);

impl EncodePublicKey for PublicKeyDer<'_> {
    fn to_public_key_der(&self) -> spki::Result<Document> {
        Ok(Document::try_from(self.0)?)
    }
}

impl<'a> signature::Keypair for SignerAdapter<'a> {
    type VerifyingKey = PublicKeyDer<'a>;

    fn verifying_key(&self) -> PublicKeyDer<'a> {
        PublicKeyDer(self.signer.public_key_der())
    }
}

impl DynSignatureAlgorithmIdentifier for SignerAdapter<'_> {
    fn signature_algorithm_identifier(&self) -> spki::Result<AlgorithmIdentifierOwned> {
        Ok(self.algorithm.clone())
    }
}

/// A signature as the signer returned it (RSA: the k-byte integer; ECDSA: DER
/// `Ecdsa-Sig-Value`), ready to go into a BIT STRING.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawSignature(pub Vec<u8>);

impl SignatureBitStringEncoding for RawSignature {
    fn to_bitstring(&self) -> der::Result<BitString> {
        BitString::from_bytes(&self.0)
    }
}

impl signature::Signer<RawSignature> for SignerAdapter<'_> {
    fn try_sign(&self, message: &[u8]) -> Result<RawSignature, signature::Error> {
        self.signer
            .sign(message)
            .map(RawSignature)
            .map_err(signature::Error::from_source)
    }
}

/// Runs any x509-cert [`Builder`] (certificate, CRL, CSR) through a `&dyn Signer`:
/// `finalize()` → `signer.sign(tbs)` → `assemble()`.
pub fn sign_with<B: Builder>(mut builder: B, signer: &dyn Signer) -> Result<B::Output, PkixError> {
    let adapter = SignerAdapter::new(signer)?;
    let tbs = builder.finalize(&adapter)?;
    let signature = adapter.sign_to_bit_string(&tbs)?;
    Ok(builder.assemble(signature, &adapter)?)
}

/// DER of `SEQUENCE { tbs, algorithm, signature }` built around already-encoded TBS
/// bytes, so the TBS is encoded exactly once (certificates, CRLs and CSRs all share
/// this outer shape).
pub(crate) fn encode_signed(
    tbs_der: &[u8],
    algorithm: &AlgorithmIdentifierOwned,
    signature: &BitString,
) -> Result<Vec<u8>, PkixError> {
    let algorithm_der = algorithm.to_der()?;
    let signature_der = signature.to_der()?;
    let content_len =
        der::Length::try_from(tbs_der.len() + algorithm_der.len() + signature_der.len())?;
    let header = der::Header::new(der::Tag::Sequence, content_len);
    let mut out = Vec::with_capacity(usize::try_from(content_len)? + 4);
    header.encode_to_vec(&mut out)?;
    out.extend_from_slice(tbs_der);
    out.extend_from_slice(&algorithm_der);
    out.extend_from_slice(&signature_der);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jpki_crypto::{RsaKeySize, SoftwareRsaKey};
    use x509_cert::builder::Builder;
    use x509_cert::request::RequestBuilder;

    fn request_builder() -> RequestBuilder {
        RequestBuilder::new(crate::name::subject_name("ADAPTER1").unwrap()).unwrap()
    }

    #[test]
    fn foreign_builders_sign_through_the_adapter_both_ways() {
        let key = SoftwareRsaKey::generate(RsaKeySize::Rsa2048).unwrap();
        // The explicit route.
        let request = sign_with(request_builder(), &key).unwrap();
        let csr = crate::VerifiedCsr::from_der(&request.to_der().unwrap()).unwrap();
        assert_eq!(csr.public_key_der(), key.public_key_der());
        // The builder's own one-shot `build`, through `signature::Signer<RawSignature>`.
        let adapter = SignerAdapter::new(&key).unwrap();
        let request = request_builder()
            .build::<_, RawSignature>(&adapter)
            .unwrap();
        assert_eq!(request.algorithm.oid, oid::SHA256_WITH_RSA_ENCRYPTION);
        crate::VerifiedCsr::from_der(&request.to_der().unwrap()).unwrap();
    }

    #[derive(Debug)]
    struct Confused(SoftwareRsaKey);

    impl Signer for Confused {
        fn algorithm(&self) -> SignatureAlgorithm {
            SignatureAlgorithm::EcdsaP256Sha256
        }
        fn public_key_der(&self) -> &[u8] {
            self.0.public_key_der()
        }
        fn sign(&self, message: &[u8]) -> Result<Vec<u8>, jpki_crypto::CryptoError> {
            self.0.sign(message)
        }
    }

    #[test]
    fn a_signer_announcing_the_wrong_algorithm_is_refused() {
        let confused = Confused(SoftwareRsaKey::generate(RsaKeySize::Rsa2048).unwrap());
        assert!(matches!(
            SignerAdapter::new(&confused),
            Err(PkixError::AlgorithmKeyMismatch { .. })
        ));
        assert!(sign_with(request_builder(), &confused).is_err());
    }

    #[test]
    fn algorithm_identifiers_follow_rfc_4055_and_5758() {
        let rsa = signature_algorithm_identifier(SignatureAlgorithm::RsaPkcs1Sha256);
        assert_eq!(
            rsa.to_der().unwrap(),
            [
                0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b, 0x05,
                0x00
            ]
        );
        let ecdsa = signature_algorithm_identifier(SignatureAlgorithm::EcdsaP256Sha256);
        assert_eq!(
            ecdsa.to_der().unwrap(),
            [
                0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02
            ]
        );
    }
}
