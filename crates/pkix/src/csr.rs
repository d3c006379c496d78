//! PKCS#10 certification requests: built with any signer (a card signs through its
//! APDUs), and parsed into a [`VerifiedCsr`] only after the proof of possession checks.
//!
//! ```text
//! CertificationRequest ::= SEQUENCE {                                 -- RFC 2986 §4
//!     certificationRequestInfo  CertificationRequestInfo,
//!     signatureAlgorithm        AlgorithmIdentifier,
//!     signature                 BIT STRING }
//! CertificationRequestInfo ::= SEQUENCE {
//!     version       INTEGER { v1(0) },
//!     subject       Name,                     -- ours: C=JP, CN=<opaque id>
//!     subjectPKInfo SubjectPublicKeyInfo,
//!     attributes    [0] IMPLICIT SET OF Attribute }   -- ours: empty
//! ```
//!
//! Attribute policy (the decision a reviewer will ask about): a JPKI certificate takes
//! **nothing from a CSR but its public key**. The subject, the extensions and the validity
//! come from the registry. So attributes (extensionRequest, challengePassword, anything)
//! must be well-formed DER but are otherwise *ignored*, never honoured and never refused;
//! [`VerifiedCsr::ignored_attributes`] lists their OIDs so the caller can log them. The
//! subject is exposed for logging and matching, never copied into a certificate.

use der::asn1::{AnyRef, BitStringRef, SetOfVec};
use der::{Decode, Encode, Sequence};
use jpki_crypto::{SignatureAlgorithm, Signer, verify_signature};
use spki::{AlgorithmIdentifierRef, SubjectPublicKeyInfoOwned};
use x509_cert::request::{CertReq, CertReqInfo, Version};

use crate::key::{PublicKeyKind, inspect_public_key};
use crate::name::{DistinguishedName, subject_name};
use crate::signer::{SignerAdapter, encode_signed};
use crate::{PkixError, oid};

/// Builds a CSR for `C=JP, CN=<subject_cn>` with the signer's public key, signed by the
/// signer; returns the DER. The signature is checked before returning, so a card or
/// HSM that answers with a wrong signature is caught here rather than at the CA.
pub fn build_csr(subject_cn: &str, signer: &dyn Signer) -> Result<Vec<u8>, PkixError> {
    let adapter = SignerAdapter::new(signer)?;
    let info = CertReqInfo {
        version: Version::V1,
        subject: subject_name(subject_cn)?,
        public_key: SubjectPublicKeyInfoOwned::from_der(signer.public_key_der())?,
        attributes: SetOfVec::new(),
    };
    let info_der = info.to_der()?;
    let signature = adapter.sign_to_bit_string(&info_der)?;
    verify_signature(
        signer.algorithm(),
        signer.public_key_der(),
        &info_der,
        signature.raw_bytes(),
    )
    .map_err(|_| PkixError::BadSignature)?;
    encode_signed(&info_der, adapter.algorithm_identifier(), &signature)
}

/// The PEM form (`CERTIFICATE REQUEST`) of a DER CSR.
pub fn csr_pem(der: &[u8]) -> Result<String, PkixError> {
    der::pem::encode_string("CERTIFICATE REQUEST", der::pem::LineEnding::LF, der)
        .map_err(|e| PkixError::Pem(e.to_string()))
}

/// The outer shape of any signed structure, with the signed part kept as raw TLV.
#[derive(Sequence)]
pub(crate) struct SignedEnvelope<'a> {
    pub(crate) tbs: AnyRef<'a>,
    pub(crate) algorithm: AlgorithmIdentifierRef<'a>,
    pub(crate) signature: BitStringRef<'a>,
}

/// Maps a signature AlgorithmIdentifier to the algorithm jpki verifies, or refuses it.
/// sha256WithRSAEncryption takes NULL parameters (RFC 4055 §5; absent is tolerated, as
/// RFC 4055 allows readers to), ecdsa-with-SHA256 takes none (RFC 5758 §3.2).
pub(crate) fn signature_algorithm_of(
    algorithm: &AlgorithmIdentifierRef<'_>,
) -> Result<SignatureAlgorithm, PkixError> {
    match algorithm.oid {
        oid::SHA256_WITH_RSA_ENCRYPTION if algorithm.parameters.is_none_or(|p| p.is_null()) => {
            Ok(SignatureAlgorithm::RsaPkcs1Sha256)
        }
        oid::ECDSA_WITH_SHA256 if algorithm.parameters.is_none() => {
            Ok(SignatureAlgorithm::EcdsaP256Sha256)
        }
        other => Err(PkixError::UnsupportedSignatureAlgorithm(algorithm_name(
            other,
        ))),
    }
}

fn algorithm_name(oid: der::asn1::ObjectIdentifier) -> String {
    match const_oid::db::DB.by_oid(&oid) {
        Some(name) => format!("{name} ({oid})"),
        None => oid.to_string(),
    }
}

/// A CSR whose self-signature verified with the key it carries, and whose key and
/// algorithm jpki accepts. The only way to get one is [`VerifiedCsr::from_der`] or
/// [`VerifiedCsr::from_pem`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCsr {
    der: Vec<u8>,
    public_key_der: Vec<u8>,
    public_key: PublicKeyKind,
    signature_algorithm: SignatureAlgorithm,
    subject: DistinguishedName,
    ignored_attributes: Vec<String>,
}

impl VerifiedCsr {
    /// Parses and verifies, in this order: DER structure (no trailing bytes), signature
    /// algorithm (sha256WithRSAEncryption or ecdsa-with-SHA256 only), public key (RSA
    /// 2048–8192 bits or P-256) matching that algorithm, then the signature over the
    /// exact CertificationRequestInfo bytes received.
    pub fn from_der(der: &[u8]) -> Result<Self, PkixError> {
        let request = CertReq::from_der(der)?;
        let envelope = SignedEnvelope::from_der(der)?;
        let signature_algorithm = signature_algorithm_of(&envelope.algorithm)?;
        let public_key_der = request.info.public_key.to_der()?;
        let public_key = inspect_public_key(&public_key_der)?;
        if public_key.signature_algorithm() != signature_algorithm {
            return Err(PkixError::AlgorithmKeyMismatch {
                algorithm: algorithm_name(envelope.algorithm.oid),
                key: public_key.label(),
            });
        }
        let signature = envelope
            .signature
            .as_bytes()
            .ok_or(PkixError::BadSignature)?;
        verify_signature(
            signature_algorithm,
            &public_key_der,
            &envelope.tbs.to_der()?,
            signature,
        )
        .map_err(|_| PkixError::BadSignature)?;
        Ok(Self {
            der: der.to_vec(),
            public_key_der,
            public_key,
            signature_algorithm,
            subject: DistinguishedName::from_name(&request.info.subject)?,
            ignored_attributes: request
                .info
                .attributes
                .iter()
                .map(|attribute| attribute.oid.to_string())
                .collect(),
        })
    }

    /// [`VerifiedCsr::from_der`] from PEM (`-----BEGIN CERTIFICATE REQUEST-----`).
    pub fn from_pem(pem: &str) -> Result<Self, PkixError> {
        Self::from_der(&crate::certificate::pem_to_der(pem, "CERTIFICATE REQUEST")?)
    }

    /// The subject's SubjectPublicKeyInfo DER: what goes into the certificate.
    pub fn public_key_der(&self) -> &[u8] {
        &self.public_key_der
    }

    pub fn public_key(&self) -> PublicKeyKind {
        self.public_key
    }

    pub fn signature_algorithm(&self) -> SignatureAlgorithm {
        self.signature_algorithm
    }

    /// The requested subject, for logs and matching only.
    pub fn subject(&self) -> &DistinguishedName {
        &self.subject
    }

    /// OIDs of the attributes the request carried and the CA ignores.
    pub fn ignored_attributes(&self) -> &[String] {
        &self.ignored_attributes
    }

    /// The request as received.
    pub fn der(&self) -> &[u8] {
        &self.der
    }
}
