//! CMS SignedData (RFC 5652): detached signatures made with any [`Signer`], and a parser
//! that keeps the exact bytes a relying party must check.
//!
//! ```text
//! ContentInfo ::= SEQUENCE {                                         -- RFC 5652 §3
//!     contentType  ContentType,                  -- id-signedData 1.2.840.113549.1.7.2
//!     content      [0] EXPLICIT ANY DEFINED BY contentType }
//!
//! SignedData ::= SEQUENCE {                                          -- RFC 5652 §5.1
//!     version           CMSVersion,              -- 1 (issuerAndSerialNumber, id-data)
//!     digestAlgorithms  SET OF DigestAlgorithmIdentifier,
//!     encapContentInfo  EncapsulatedContentInfo,
//!     certificates      [0] IMPLICIT CertificateSet OPTIONAL,
//!     crls              [1] IMPLICIT RevocationInfoChoices OPTIONAL,
//!     signerInfos       SET OF SignerInfo }
//!
//! EncapsulatedContentInfo ::= SEQUENCE {                             -- RFC 5652 §5.2
//!     eContentType  ContentType,                 -- id-data 1.2.840.113549.1.7.1
//!     eContent      [0] EXPLICIT OCTET STRING OPTIONAL }   -- absent: detached
//!
//! SignerInfo ::= SEQUENCE {                                          -- RFC 5652 §5.3
//!     version             CMSVersion,            -- 1 with issuerAndSerialNumber, 3 with SKI
//!     sid                 SignerIdentifier,
//!     digestAlgorithm     DigestAlgorithmIdentifier,
//!     signedAttrs         [0] IMPLICIT SET SIZE (1..MAX) OF Attribute OPTIONAL,
//!     signatureAlgorithm  SignatureAlgorithmIdentifier,
//!     signature           OCTET STRING,
//!     unsignedAttrs       [1] IMPLICIT SET SIZE (1..MAX) OF Attribute OPTIONAL }
//!
//! SignerIdentifier ::= CHOICE {
//!     issuerAndSerialNumber  IssuerAndSerialNumber,   -- SEQUENCE { issuer Name, serialNumber INTEGER }
//!     subjectKeyIdentifier   [0] SubjectKeyIdentifier }
//!
//! Attribute ::= SEQUENCE { attrType OBJECT IDENTIFIER, attrValues SET OF ANY }
//!   contentType    1.2.840.113549.1.9.3   ContentType (OBJECT IDENTIFIER)      -- §11.1
//!   messageDigest  1.2.840.113549.1.9.4   OCTET STRING                         -- §11.2
//!   signingTime    1.2.840.113549.1.9.5   Time (UTCTime 1950–2049, else GeneralizedTime) -- §11.3
//! ```
//!
//! Scope: [`sign_detached`] writes a detached SignedData over id-data content with SHA-256,
//! the three signed attributes above, an issuerAndSerialNumber signer identifier and the
//! certificates included. [`SignedDataView::from_der`] reads any DER SignedData (ours,
//! OpenSSL's, another producer's) into plain values for the relying-party SDK.
//!
//! Not here: deciding whether a signature is *valid* — certificate paths, key usage,
//! revocation and the signed-attribute rules are `jpki-verify`'s. The view only offers
//! [`SignerInfoView::verify_signature`], one RSA/ECDSA check over the signed attributes.
//! BER input (indefinite lengths, as some streaming producers write) is refused: OpenSSL's
//! `-outform DER` and every producer in this project write DER.
//!
//! The decisions a reviewer will question:
//! - **Hand-assembled DER instead of the `cms` crate's builder.** The signature must come
//!   from [`Signer::sign`] alone over the DER `SET OF` signed attributes (a card hashes the
//!   message itself and signs a DigestInfo; no other operation exists), and certificates
//!   must go out byte for byte as issued. The structure is small and fixed; the encoder
//!   below is ~100 lines, each TLV named after its ASN.1.
//! - **The parser walks TLVs and keeps raw slices** rather than decoding into typed
//!   structures and re-encoding: the signature covers the signed attributes exactly as the
//!   producer encoded them (RFC 5652 §5.4: the `[0]` tag replaced by `SET`), and a decoder
//!   that re-sorts a SET OF (as `der`'s `SetOfVec` does) would verify other bytes than
//!   were signed. Certificates are kept as the DER the producer sent for the same reason.
//! - **An error type of its own ([`CmsError`])**: the module was added to jpki-pkix without
//!   touching the crate's shared error enum; `CmsError` wraps [`PkixError`] where a
//!   certificate is involved.

use std::cmp::Ordering;

use der::asn1::{ObjectIdentifier, OctetString};
use der::{Decode, Encode, Header, Length, Reader, SliceReader, Tag, TagNumber};
use jpki_crypto::{DigestAlgorithm, SignatureAlgorithm, Signer, sha256, verify_signature};
use jpki_model::SerialNumber;
use spki::AlgorithmIdentifierOwned;
use time::OffsetDateTime;
use x509_cert::time::Time;

use crate::signer::signature_algorithm_identifier;
use crate::timeconv::{from_x509_time, to_x509_time};
use crate::{JpkiCertificate, PkixError, oid};

/// id-data (RFC 5652 §4), `1.2.840.113549.1.7.1`.
pub const ID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
/// id-signedData (RFC 5652 §5.1), `1.2.840.113549.1.7.2`.
pub const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
/// id-contentType (RFC 5652 §11.1), `1.2.840.113549.1.9.3`.
pub const ID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
/// id-messageDigest (RFC 5652 §11.2), `1.2.840.113549.1.9.4`.
pub const ID_MESSAGE_DIGEST: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
/// id-signingTime (RFC 5652 §11.3), `1.2.840.113549.1.9.5`.
pub const ID_SIGNING_TIME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.5");
/// id-sha256 (RFC 5754 §2.2), `2.16.840.1.101.3.4.2.1`.
pub const ID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
/// id-sha384 (RFC 5754 §2.3), `2.16.840.1.101.3.4.2.2`.
pub const ID_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
/// id-sha512 (RFC 5754 §2.4), `2.16.840.1.101.3.4.2.3`.
pub const ID_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");

/// Largest SignedData the parser accepts (a signature with a handful of certificates is a
/// few kilobytes; anything near this is not a JPKI signature).
pub const MAX_SIGNED_DATA_LEN: usize = 1 << 20;

/// What can go wrong writing or reading CMS.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CmsError {
    #[error("malformed CMS: {0}")]
    Malformed(String),
    #[error("malformed DER in CMS: {0}")]
    Der(#[from] der::Error),
    #[error("the CMS content type is {0}, not id-signedData")]
    NotSignedData(String),
    #[error("CMS input of {0} bytes is larger than the {MAX_SIGNED_DATA_LEN}-byte limit")]
    TooLarge(usize),
    #[error("signed attribute {0} appears more than once")]
    DuplicateAttribute(String),
    #[error("signed attribute {0} must have exactly one value")]
    AttributeValueCount(String),
    #[error("the signer's public key is not the key of the signer certificate")]
    SignerKeyMismatch,
    #[error("unsupported algorithm in CMS: {0}")]
    UnsupportedAlgorithm(String),
    #[error("certificate: {0}")]
    Certificate(#[from] PkixError),
}

// ---------------------------------------------------------------------------------------
// Writing

/// Signs `content` as a detached CMS SignedData (DER).
///
/// 1. The signer certificate is parsed and its key compared with `signer`'s, so a
///    signature that no verifier could match to its certificate is never produced.
/// 2. SHA-256 of `content` becomes the messageDigest attribute, beside contentType
///    (id-data) and signingTime (UTC, whole seconds).
/// 3. The signed attributes are DER-encoded as a SET OF (sorted) and handed to
///    [`Signer::sign`] — the only signing operation a card offers.
/// 4. SignerInfo (v1, issuerAndSerialNumber copied byte for byte from the certificate),
///    SignedData (v1, the signer certificate and `extra_certs` as given, sorted as a DER
///    SET OF, duplicates dropped) and ContentInfo are assembled around it.
pub fn sign_detached(
    content: &[u8],
    signer: &dyn Signer,
    signer_cert_der: &[u8],
    extra_certs: &[&[u8]],
    signing_time: OffsetDateTime,
) -> Result<Vec<u8>, CmsError> {
    // Step 1: the certificate names the signer's key.
    let certificate = x509_cert::Certificate::from_der(signer_cert_der)
        .map_err(|e| CmsError::Certificate(PkixError::Der(e)))?;
    let certificate_key = certificate
        .tbs_certificate()
        .subject_public_key_info()
        .to_der()?;
    if certificate_key != signer.public_key_der() {
        return Err(CmsError::SignerKeyMismatch);
    }
    let (issuer_der, serial_der) = issuer_and_serial_of(signer_cert_der)?;
    let mut certificates: Vec<&[u8]> = Vec::with_capacity(extra_certs.len() + 1);
    certificates.push(signer_cert_der);
    for extra in extra_certs {
        x509_cert::Certificate::from_der(extra)
            .map_err(|e| CmsError::Certificate(PkixError::Der(e)))?;
        certificates.push(extra);
    }

    // Step 2: the signed attributes.
    let digest = sha256(content);
    let signed_attributes = signed_attributes_der(&digest, signing_time)?;

    // Step 3: the one signing operation.
    let signature = signer
        .sign(&signed_attributes)
        .map_err(|e| CmsError::Certificate(PkixError::Signing(e)))?;

    // Step 4: assemble.
    let digest_algorithm = sha256_algorithm_der()?;
    let signature_algorithm = signature_algorithm_identifier(signer.algorithm()).to_der()?;
    let signer_identifier = tlv(Tag::Sequence, &[&issuer_der, &serial_der])?;
    let signed_attributes_implicit = retag(&signed_attributes, context(0, true))?;
    let signer_info = tlv(
        Tag::Sequence,
        &[
            &1u8.to_der()?,
            &signer_identifier,
            &digest_algorithm,
            &signed_attributes_implicit,
            &signature_algorithm,
            &OctetString::new(signature)?.to_der()?,
        ],
    )?;
    let encapsulated = tlv(Tag::Sequence, &[&ID_DATA.to_der()?])?;
    let signed_data = tlv(
        Tag::Sequence,
        &[
            &1u8.to_der()?,
            &set_of(vec![digest_algorithm])?,
            &encapsulated,
            &retag(
                &set_of(certificates.iter().map(|c| c.to_vec()).collect())?,
                context(0, true),
            )?,
            &set_of(vec![signer_info])?,
        ],
    )?;
    Ok(tlv(
        Tag::Sequence,
        &[
            &ID_SIGNED_DATA.to_der()?,
            &tlv(context(0, true), &[&signed_data])?,
        ],
    )?)
}

/// The DER `SET OF Attribute` (tag 0x31) with contentType, messageDigest and signingTime.
fn signed_attributes_der(digest: &[u8], signing_time: OffsetDateTime) -> Result<Vec<u8>, CmsError> {
    let content_type = attribute(ID_CONTENT_TYPE, &ID_DATA.to_der()?)?;
    let message_digest = attribute(ID_MESSAGE_DIGEST, &OctetString::new(digest)?.to_der()?)?;
    let time = to_x509_time(signing_time)?;
    let signing_time = attribute(ID_SIGNING_TIME, &time.to_der()?)?;
    Ok(set_of(vec![content_type, message_digest, signing_time])?)
}

fn attribute(oid: ObjectIdentifier, value_der: &[u8]) -> der::Result<Vec<u8>> {
    tlv(
        Tag::Sequence,
        &[&oid.to_der()?, &tlv(Tag::Set, &[value_der])?],
    )
}

/// `SEQUENCE { id-sha256 }`, parameters absent (RFC 5754 §2: "SHOULD be omitted" when
/// producing; both forms are accepted when reading).
fn sha256_algorithm_der() -> der::Result<Vec<u8>> {
    tlv(Tag::Sequence, &[&ID_SHA256.to_der()?])
}

/// The issuer Name and serialNumber INTEGER TLVs of a certificate, as encoded in it.
fn issuer_and_serial_of(certificate_der: &[u8]) -> Result<(Vec<u8>, Vec<u8>), CmsError> {
    let certificate = Tlv::parse_one(certificate_der)?.expect(Tag::Sequence, "Certificate")?;
    let mut outer = certificate.reader()?;
    let tbs = Tlv::read(&mut outer)?.expect(Tag::Sequence, "TBSCertificate")?;
    let mut fields = tbs.reader()?;
    let mut next = Tlv::read(&mut fields)?;
    if next.tag == context(0, true) {
        next = Tlv::read(&mut fields)?; // version [0] EXPLICIT
    }
    let serial = next.expect(Tag::Integer, "serialNumber")?;
    let _signature = Tlv::read(&mut fields)?.expect(Tag::Sequence, "signature")?;
    let issuer = Tlv::read(&mut fields)?.expect(Tag::Sequence, "issuer")?;
    Ok((issuer.raw.to_vec(), serial.raw.to_vec()))
}

fn context(number: u32, constructed: bool) -> Tag {
    Tag::ContextSpecific {
        constructed,
        number: TagNumber(number),
    }
}

/// One TLV with the given tag around the concatenated parts.
fn tlv(tag: Tag, parts: &[&[u8]]) -> der::Result<Vec<u8>> {
    let len: usize = parts.iter().map(|part| part.len()).sum();
    let header = Header::new(tag, Length::try_from(len)?);
    let mut out = Vec::with_capacity(len + 6);
    header.encode_to_vec(&mut out)?;
    for part in parts {
        out.extend_from_slice(part);
    }
    Ok(out)
}

/// The same value under another tag (IMPLICIT tagging, or back from it).
fn retag(element: &[u8], tag: Tag) -> der::Result<Vec<u8>> {
    let inner = Tlv::parse_one(element)?;
    tlv(tag, &[inner.value])
}

/// A DER SET OF: the element encodings sorted (X.690 §11.6), exact duplicates dropped.
fn set_of(mut elements: Vec<Vec<u8>>) -> der::Result<Vec<u8>> {
    elements.sort_by(|a, b| der_set_order(a, b));
    elements.dedup();
    let parts: Vec<&[u8]> = elements.iter().map(Vec::as_slice).collect();
    tlv(Tag::Set, &parts)
}

/// X.690 §11.6: compare as octet strings, the shorter padded with trailing zero octets.
fn der_set_order(a: &[u8], b: &[u8]) -> Ordering {
    let common = a.len().min(b.len());
    match a[..common].cmp(&b[..common]) {
        Ordering::Equal => {
            let a_rest_nonzero = a[common..].iter().any(|&byte| byte != 0);
            let b_rest_nonzero = b[common..].iter().any(|&byte| byte != 0);
            a_rest_nonzero.cmp(&b_rest_nonzero)
        }
        other => other,
    }
}

// ---------------------------------------------------------------------------------------
// Reading

/// One DER TLV inside a larger input: its tag, its value and the whole encoding.
#[derive(Debug, Clone, Copy)]
struct Tlv<'a> {
    tag: Tag,
    value: &'a [u8],
    raw: &'a [u8],
}

impl<'a> Tlv<'a> {
    fn read(reader: &mut SliceReader<'a>) -> der::Result<Self> {
        let raw = reader.tlv_bytes()?;
        let mut inner = SliceReader::new(raw)?;
        let header = Header::decode(&mut inner)?;
        let value = inner.read_slice(header.length())?;
        Ok(Self {
            tag: header.tag(),
            value,
            raw,
        })
    }

    /// Exactly one TLV filling `input`.
    fn parse_one(input: &'a [u8]) -> der::Result<Self> {
        let mut reader = SliceReader::new(input)?;
        let tlv = Self::read(&mut reader)?;
        reader.finish()?;
        Ok(tlv)
    }

    fn reader(&self) -> der::Result<SliceReader<'a>> {
        SliceReader::new(self.value)
    }

    fn expect(self, tag: Tag, what: &str) -> Result<Self, CmsError> {
        if self.tag == tag {
            Ok(self)
        } else {
            Err(CmsError::Malformed(format!(
                "{what}: expected {tag}, found {}",
                self.tag
            )))
        }
    }

    /// The TLVs of a constructed value, in order.
    fn children(&self) -> der::Result<Vec<Tlv<'a>>> {
        let mut reader = self.reader()?;
        let mut out = Vec::new();
        while !reader.is_finished() {
            out.push(Tlv::read(&mut reader)?);
        }
        Ok(out)
    }
}

/// Who signed: how a SignerInfo points at its certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignerIdentifier {
    /// The issuer Name (DER, as encoded in the CMS) and the serial number.
    IssuerAndSerialNumber {
        issuer_der: Vec<u8>,
        serial: SerialNumber,
    },
    /// The signer certificate's subjectKeyIdentifier.
    SubjectKeyIdentifier(Vec<u8>),
}

impl SignerIdentifier {
    /// True when `certificate` is the one this identifier names: byte-equal issuer DER and
    /// equal serial, or an equal subjectKeyIdentifier.
    pub fn matches(&self, certificate: &JpkiCertificate) -> bool {
        match self {
            Self::IssuerAndSerialNumber { issuer_der, serial } => {
                certificate.issuer().der() == issuer_der.as_slice()
                    && certificate.serial() == serial
            }
            Self::SubjectKeyIdentifier(key_id) => {
                certificate.subject_key_identifier() == Some(key_id.as_slice())
            }
        }
    }
}

/// One attribute: its type and the DER of each value, as encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeView {
    pub oid: ObjectIdentifier,
    pub values: Vec<Vec<u8>>,
}

/// One SignerInfo, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignerInfoView {
    pub version: u8,
    pub signer_id: SignerIdentifier,
    pub digest_algorithm: AlgorithmIdentifierOwned,
    /// The DER the signature covers: the signed attributes with their `[0]` tag replaced by
    /// `SET` (RFC 5652 §5.4), exactly the producer's bytes otherwise. `None` when the
    /// SignerInfo has no signed attributes (then the signature is over the content).
    pub signed_attributes_der: Option<Vec<u8>>,
    pub signed_attributes: Vec<AttributeView>,
    pub signature_algorithm: AlgorithmIdentifierOwned,
    pub signature: Vec<u8>,
    /// How many unsigned attributes there are (they are not interpreted).
    pub unsigned_attribute_count: usize,
}

impl SignerInfoView {
    /// The single value of a signed attribute: `None` when absent, an error when the type
    /// appears twice or the attribute has other than one value (RFC 5652 §11: contentType,
    /// messageDigest and signingTime are single-valued and single-instance).
    pub fn single_attribute(&self, oid: ObjectIdentifier) -> Result<Option<&[u8]>, CmsError> {
        let mut found = self.signed_attributes.iter().filter(|a| a.oid == oid);
        let Some(attribute) = found.next() else {
            return Ok(None);
        };
        if found.next().is_some() {
            return Err(CmsError::DuplicateAttribute(oid.to_string()));
        }
        match attribute.values.as_slice() {
            [value] => Ok(Some(value.as_slice())),
            _ => Err(CmsError::AttributeValueCount(oid.to_string())),
        }
    }

    /// The contentType signed attribute.
    pub fn content_type(&self) -> Result<Option<ObjectIdentifier>, CmsError> {
        self.single_attribute(ID_CONTENT_TYPE)?
            .map(|value| Ok(ObjectIdentifier::from_der(value)?))
            .transpose()
    }

    /// The messageDigest signed attribute.
    pub fn message_digest(&self) -> Result<Option<Vec<u8>>, CmsError> {
        self.single_attribute(ID_MESSAGE_DIGEST)?
            .map(|value| Ok(OctetString::from_der(value)?.as_bytes().to_vec()))
            .transpose()
    }

    /// The signingTime signed attribute.
    pub fn signing_time(&self) -> Result<Option<OffsetDateTime>, CmsError> {
        self.single_attribute(ID_SIGNING_TIME)?
            .map(|value| Ok(from_x509_time(&Time::from_der(value)?)?))
            .transpose()
    }

    /// The digest algorithm, when it is SHA-256/384/512 with absent or NULL parameters.
    pub fn digest(&self) -> Result<DigestAlgorithm, CmsError> {
        digest_of(&self.digest_algorithm)
    }

    /// The signature algorithm jpki can check, from signatureAlgorithm together with the
    /// digest algorithm: `rsaEncryption` or `sha256WithRSAEncryption` with SHA-256, or
    /// `ecdsa-with-SHA256` (RFC 5754 §3).
    pub fn signature_kind(&self) -> Result<SignatureAlgorithm, CmsError> {
        let digest = self.digest()?;
        let algorithm = &self.signature_algorithm;
        let parameters_null_or_absent = algorithm
            .parameters
            .as_ref()
            .is_none_or(|parameters| parameters.is_null());
        let unsupported = || {
            CmsError::UnsupportedAlgorithm(format!(
                "signature algorithm {} with digest {:?}",
                algorithm.oid, digest
            ))
        };
        if digest != DigestAlgorithm::Sha256 {
            return Err(unsupported());
        }
        if (algorithm.oid == oid::RSA_ENCRYPTION
            || algorithm.oid == oid::SHA256_WITH_RSA_ENCRYPTION)
            && parameters_null_or_absent
        {
            Ok(SignatureAlgorithm::RsaPkcs1Sha256)
        } else if algorithm.oid == oid::ECDSA_WITH_SHA256 && algorithm.parameters.is_none() {
            Ok(SignatureAlgorithm::EcdsaP256Sha256)
        } else {
            Err(unsupported())
        }
    }

    /// Checks the signature over the signed attributes with a SubjectPublicKeyInfo DER.
    /// Only the cryptography: the attribute rules are the caller's.
    pub fn verify_signature(&self, public_key_der: &[u8]) -> Result<(), CmsError> {
        let algorithm = self.signature_kind()?;
        let signed = self.signed_attributes_der.as_deref().ok_or_else(|| {
            CmsError::Malformed("the SignerInfo has no signed attributes".to_owned())
        })?;
        verify_signature(algorithm, public_key_der, signed, &self.signature)
            .map_err(|_| CmsError::Certificate(PkixError::BadSignature))
    }
}

/// A SignedData, read: everything a relying party needs, with raw bytes where the bytes
/// matter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedDataView {
    pub version: u8,
    pub digest_algorithms: Vec<AlgorithmIdentifierOwned>,
    /// eContentType.
    pub content_type: ObjectIdentifier,
    /// eContent, when the signature is not detached.
    pub encapsulated_content: Option<Vec<u8>>,
    /// Every `certificate` choice of the CertificateSet, DER as sent, in the order sent.
    pub certificates: Vec<Vec<u8>>,
    /// CertificateSet entries of other choices (attribute certificates …), skipped.
    pub other_certificate_count: usize,
    /// How many RevocationInfoChoices were included (not interpreted).
    pub crl_count: usize,
    pub signer_infos: Vec<SignerInfoView>,
}

impl SignedDataView {
    /// Parses a DER ContentInfo holding a SignedData. Refuses trailing bytes, BER, other
    /// content types, input over [`MAX_SIGNED_DATA_LEN`].
    pub fn from_der(der: &[u8]) -> Result<Self, CmsError> {
        if der.len() > MAX_SIGNED_DATA_LEN {
            return Err(CmsError::TooLarge(der.len()));
        }
        let content_info = Tlv::parse_one(der)?.expect(Tag::Sequence, "ContentInfo")?;
        let parts = content_info.children()?;
        let [content_type, content] = parts.as_slice() else {
            return Err(CmsError::Malformed(
                "ContentInfo must hold contentType and content".to_owned(),
            ));
        };
        let content_type = ObjectIdentifier::from_der(content_type.raw)?;
        if content_type != ID_SIGNED_DATA {
            return Err(CmsError::NotSignedData(content_type.to_string()));
        }
        let content = content.expect(context(0, true), "ContentInfo content")?;
        let signed_data = Tlv::parse_one(content.value)?.expect(Tag::Sequence, "SignedData")?;
        Self::from_signed_data(&signed_data)
    }

    fn from_signed_data(signed_data: &Tlv<'_>) -> Result<Self, CmsError> {
        let fields = signed_data.children()?;
        let mut fields = fields.into_iter();
        let mut next = |what: &str| {
            fields
                .next()
                .ok_or_else(|| CmsError::Malformed(format!("SignedData ends before {what}")))
        };
        let version = small_integer(next("version")?, "SignedData version")?;
        let digest_algorithms = next("digestAlgorithms")?
            .expect(Tag::Set, "digestAlgorithms")?
            .children()?
            .into_iter()
            .map(|algorithm| AlgorithmIdentifierOwned::from_der(algorithm.raw))
            .collect::<Result<Vec<_>, _>>()?;
        let encapsulated = next("encapContentInfo")?.expect(Tag::Sequence, "encapContentInfo")?;
        let (content_type, encapsulated_content) = encapsulated_content_of(&encapsulated)?;

        // The optional fields come in order: [0] certificates, [1] crls, then signerInfos.
        let mut certificates = Vec::new();
        let mut other_certificate_count = 0;
        let mut crl_count = 0;
        let mut signer_infos_tlv = None;
        let mut stage = 0u8;
        for field in fields {
            if signer_infos_tlv.is_some() {
                return Err(CmsError::Malformed(format!(
                    "unexpected {} after signerInfos",
                    field.tag
                )));
            }
            if field.tag == context(0, true) && stage < 1 {
                stage = 1;
                let set = Tlv {
                    tag: Tag::Set,
                    ..field
                };
                for choice in set.children()? {
                    if choice.tag == Tag::Sequence {
                        certificates.push(choice.raw.to_vec());
                    } else {
                        other_certificate_count += 1;
                    }
                }
            } else if field.tag == context(1, true) && stage < 2 {
                stage = 2;
                let set = Tlv {
                    tag: Tag::Set,
                    ..field
                };
                crl_count = set.children()?.len();
            } else if field.tag == Tag::Set {
                signer_infos_tlv = Some(field);
            } else {
                return Err(CmsError::Malformed(format!(
                    "unexpected {} in SignedData",
                    field.tag
                )));
            }
        }
        let signer_infos = signer_infos_tlv
            .ok_or_else(|| CmsError::Malformed("SignedData has no signerInfos".to_owned()))?
            .children()?
            .iter()
            .map(signer_info_of)
            .collect::<Result<Vec<_>, _>>()?;

        Ok(Self {
            version,
            digest_algorithms,
            content_type,
            encapsulated_content,
            certificates,
            other_certificate_count,
            crl_count,
            signer_infos,
        })
    }

    /// True when eContent is absent (a detached signature).
    pub fn is_detached(&self) -> bool {
        self.encapsulated_content.is_none()
    }

    /// The certificate a SignerInfo names, among the ones included. Certificates that do
    /// not parse are skipped.
    pub fn signer_certificate(&self, signer: &SignerInfoView) -> Option<JpkiCertificate> {
        self.certificates
            .iter()
            .filter_map(|der| JpkiCertificate::from_der(der).ok())
            .find(|certificate| signer.signer_id.matches(certificate))
    }
}

fn encapsulated_content_of(
    encapsulated: &Tlv<'_>,
) -> Result<(ObjectIdentifier, Option<Vec<u8>>), CmsError> {
    let parts = encapsulated.children()?;
    match parts.as_slice() {
        [content_type] => Ok((ObjectIdentifier::from_der(content_type.raw)?, None)),
        [content_type, content] => {
            let content = content.expect(context(0, true), "eContent")?;
            let octets = OctetString::from_der(content.value)?;
            Ok((
                ObjectIdentifier::from_der(content_type.raw)?,
                Some(octets.as_bytes().to_vec()),
            ))
        }
        _ => Err(CmsError::Malformed(
            "encapContentInfo must hold eContentType and at most eContent".to_owned(),
        )),
    }
}

fn signer_info_of(signer_info: &Tlv<'_>) -> Result<SignerInfoView, CmsError> {
    let signer_info = signer_info.expect(Tag::Sequence, "SignerInfo")?;
    let fields = signer_info.children()?;
    let mut fields = fields.into_iter();
    let mut next = |what: &str| {
        fields
            .next()
            .ok_or_else(|| CmsError::Malformed(format!("SignerInfo ends before {what}")))
    };
    let version = small_integer(next("version")?, "SignerInfo version")?;
    let sid = next("sid")?;
    let signer_id = if sid.tag == Tag::Sequence {
        let parts = sid.children()?;
        let [issuer, serial] = parts.as_slice() else {
            return Err(CmsError::Malformed(
                "IssuerAndSerialNumber must hold issuer and serialNumber".to_owned(),
            ));
        };
        let issuer = issuer.expect(Tag::Sequence, "issuer")?;
        let serial = serial.expect(Tag::Integer, "serialNumber")?;
        let magnitude = der::asn1::UintRef::from_der(serial.raw)?;
        SignerIdentifier::IssuerAndSerialNumber {
            issuer_der: issuer.raw.to_vec(),
            serial: SerialNumber::from_bytes(magnitude.as_bytes())
                .map_err(|e| CmsError::Malformed(format!("IssuerAndSerialNumber serial: {e}")))?,
        }
    } else if sid.tag == context(0, false) {
        SignerIdentifier::SubjectKeyIdentifier(sid.value.to_vec())
    } else {
        return Err(CmsError::Malformed(format!(
            "SignerIdentifier: unexpected {}",
            sid.tag
        )));
    };
    let digest_algorithm = AlgorithmIdentifierOwned::from_der(next("digestAlgorithm")?.raw)?;

    let mut field = next("signatureAlgorithm")?;
    let mut signed_attributes_der = None;
    let mut signed_attributes = Vec::new();
    if field.tag == context(0, true) {
        let set = tlv(Tag::Set, &[field.value])?;
        signed_attributes = attributes_of(&Tlv::parse_one(&set)?)?;
        if signed_attributes.is_empty() {
            return Err(CmsError::Malformed(
                "signedAttrs is present but empty (SIZE (1..MAX))".to_owned(),
            ));
        }
        signed_attributes_der = Some(set);
        field = next("signatureAlgorithm")?;
    }
    let signature_algorithm = AlgorithmIdentifierOwned::from_der(field.raw)?;
    let signature = OctetString::from_der(next("signature")?.raw)?
        .as_bytes()
        .to_vec();
    let mut unsigned_attribute_count = 0;
    if let Some(unsigned) = fields.next() {
        let unsigned = unsigned.expect(context(1, true), "unsignedAttrs")?;
        unsigned_attribute_count = unsigned.children()?.len();
    }
    if let Some(extra) = fields.next() {
        return Err(CmsError::Malformed(format!(
            "unexpected {} after SignerInfo's last field",
            extra.tag
        )));
    }
    Ok(SignerInfoView {
        version,
        signer_id,
        digest_algorithm,
        signed_attributes_der,
        signed_attributes,
        signature_algorithm,
        signature,
        unsigned_attribute_count,
    })
}

fn attributes_of(set: &Tlv<'_>) -> Result<Vec<AttributeView>, CmsError> {
    set.children()?
        .iter()
        .map(|attribute| {
            let attribute = attribute.expect(Tag::Sequence, "Attribute")?;
            let parts = attribute.children()?;
            let [oid, values] = parts.as_slice() else {
                return Err(CmsError::Malformed(
                    "Attribute must hold attrType and attrValues".to_owned(),
                ));
            };
            let oid = ObjectIdentifier::from_der(oid.raw)?;
            let values = values
                .expect(Tag::Set, "attrValues")?
                .children()?
                .iter()
                .map(|value| value.raw.to_vec())
                .collect();
            Ok(AttributeView { oid, values })
        })
        .collect()
}

fn small_integer(field: Tlv<'_>, what: &str) -> Result<u8, CmsError> {
    let field = field.expect(Tag::Integer, what)?;
    u8::from_der(field.raw).map_err(|e| CmsError::Malformed(format!("{what}: {e}")))
}

fn digest_of(algorithm: &AlgorithmIdentifierOwned) -> Result<DigestAlgorithm, CmsError> {
    let parameters_ok = algorithm
        .parameters
        .as_ref()
        .is_none_or(|parameters| parameters.is_null());
    let digest = match algorithm.oid {
        ID_SHA256 => DigestAlgorithm::Sha256,
        ID_SHA384 => DigestAlgorithm::Sha384,
        ID_SHA512 => DigestAlgorithm::Sha512,
        other => {
            return Err(CmsError::UnsupportedAlgorithm(format!(
                "digest algorithm {other}"
            )));
        }
    };
    if !parameters_ok {
        return Err(CmsError::UnsupportedAlgorithm(format!(
            "digest algorithm {} with parameters",
            algorithm.oid
        )));
    }
    Ok(digest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jpki_crypto::{RsaKeySize, SoftwareRsaKey};
    use jpki_model::{CertificateKind, Purpose};
    use time::macros::datetime;

    use crate::{CaParams, EndEntityTemplate, Issuer, build_ca_certificate};

    struct Keys {
        ca_key: SoftwareRsaKey,
        ca_der: Vec<u8>,
        leaf_key: SoftwareRsaKey,
        leaf_der: Vec<u8>,
    }

    fn keys() -> &'static Keys {
        static KEYS: std::sync::OnceLock<Keys> = std::sync::OnceLock::new();
        KEYS.get_or_init(|| {
            let ca_key = SoftwareRsaKey::generate(RsaKeySize::Rsa2048).unwrap();
            let params = CaParams::new(
                Purpose::Authentication,
                SerialNumber::from_hex("01").unwrap(),
                datetime!(2026-01-01 00:00 UTC),
                datetime!(2036-01-01 00:00 UTC),
            );
            let ca_der = build_ca_certificate(&params, &ca_key).unwrap();
            let leaf_key = SoftwareRsaKey::generate(RsaKeySize::Rsa2048).unwrap();
            let template = EndEntityTemplate {
                kind: CertificateKind::CARD_AUTHENTICATION,
                serial: SerialNumber::from_hex("00A1B2").unwrap(),
                subject_cn: "CMSTEST1".into(),
                subject_public_key_der: leaf_key.public_key_der().to_vec(),
                basic_info: None,
                not_before: datetime!(2026-02-01 00:00 UTC),
                not_after: datetime!(2030-01-01 00:00 UTC),
                crl_distribution_point: None,
                ocsp_url: None,
            };
            let leaf_der = Issuer::new(&ca_der)
                .unwrap()
                .issue(&template, &ca_key)
                .unwrap();
            Keys {
                ca_key,
                ca_der,
                leaf_key,
                leaf_der,
            }
        })
    }

    #[test]
    fn signed_data_round_trips_through_the_view() {
        let k = keys();
        let at = datetime!(2026-04-01 12:34:56 +09:00);
        let der = sign_detached(b"hello", &k.leaf_key, &k.leaf_der, &[&k.ca_der], at).unwrap();
        let view = SignedDataView::from_der(&der).unwrap();
        assert_eq!(view.version, 1);
        assert!(view.is_detached());
        assert_eq!(view.content_type, ID_DATA);
        assert_eq!(view.digest_algorithms.len(), 1);
        assert_eq!(view.digest_algorithms[0].oid, ID_SHA256);
        assert_eq!(view.certificates.len(), 2);
        assert!(view.certificates.contains(&k.leaf_der));
        assert!(view.certificates.contains(&k.ca_der));
        let signer = &view.signer_infos[0];
        assert_eq!(view.signer_infos.len(), 1);
        assert_eq!(signer.version, 1);
        assert_eq!(signer.content_type().unwrap(), Some(ID_DATA));
        assert_eq!(
            signer.message_digest().unwrap().unwrap(),
            sha256(b"hello").to_vec()
        );
        assert_eq!(signer.signing_time().unwrap(), Some(at));
        assert_eq!(
            signer.signature_kind().unwrap(),
            SignatureAlgorithm::RsaPkcs1Sha256
        );
        let certificate = view.signer_certificate(signer).unwrap();
        assert_eq!(certificate.der(), k.leaf_der.as_slice());
        assert_eq!(certificate.serial().to_hex(), "A1B2");
        signer
            .verify_signature(certificate.public_key_der())
            .unwrap();
        assert!(signer.verify_signature(k.ca_key.public_key_der()).is_err());
        // Signed attributes are a DER SET: tag 0x31, sorted.
        let attributes = signer.signed_attributes_der.as_ref().unwrap();
        assert_eq!(attributes[0], 0x31);
        let oids: Vec<_> = signer.signed_attributes.iter().map(|a| a.oid).collect();
        // DER order compares encodings: signingTime (shorter) sorts before messageDigest.
        assert_eq!(oids, [ID_CONTENT_TYPE, ID_SIGNING_TIME, ID_MESSAGE_DIGEST]);
    }

    #[test]
    fn a_signer_whose_key_is_not_the_certificates_is_refused() {
        let k = keys();
        let result = sign_detached(
            b"x",
            &k.ca_key,
            &k.leaf_der,
            &[],
            datetime!(2026-04-01 00:00 UTC),
        );
        assert!(matches!(result, Err(CmsError::SignerKeyMismatch)));
    }

    #[test]
    fn signing_time_after_2049_is_generalized_time() {
        let k = keys();
        let at = datetime!(2050-01-01 00:00:01 UTC);
        let der = sign_detached(b"x", &k.leaf_key, &k.leaf_der, &[], at).unwrap();
        let view = SignedDataView::from_der(&der).unwrap();
        let signer = &view.signer_infos[0];
        let value = signer.single_attribute(ID_SIGNING_TIME).unwrap().unwrap();
        assert_eq!(value[0], 0x18, "GeneralizedTime");
        assert_eq!(signer.signing_time().unwrap(), Some(at));
    }

    #[test]
    fn set_of_is_sorted_with_zero_padding_and_deduplicated() {
        assert_eq!(der_set_order(&[1, 2], &[1, 2, 0]), Ordering::Equal);
        assert_eq!(der_set_order(&[1, 2], &[1, 2, 1]), Ordering::Less);
        assert_eq!(der_set_order(&[2], &[1, 9]), Ordering::Greater);
        let set = set_of(vec![
            vec![0x02, 0x01, 0x05],
            vec![0x02, 0x01, 0x01],
            vec![0x02, 0x01, 0x05],
        ])
        .unwrap();
        assert_eq!(set, [0x31, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x05]);
    }

    #[test]
    fn malformed_inputs_are_errors_not_panics() {
        let k = keys();
        let der = sign_detached(
            b"x",
            &k.leaf_key,
            &k.leaf_der,
            &[],
            datetime!(2026-04-01 00:00 UTC),
        )
        .unwrap();
        // Every truncation, and every single-byte corruption of the header area, is an
        // error or a view, never a panic.
        for len in 0..der.len() {
            assert!(SignedDataView::from_der(&der[..len]).is_err(), "len {len}");
        }
        for index in 0..der.len().min(200) {
            let mut corrupted = der.clone();
            corrupted[index] ^= 0xFF;
            let _ = SignedDataView::from_der(&corrupted);
        }
        let mut trailing = der.clone();
        trailing.push(0);
        assert!(SignedDataView::from_der(&trailing).is_err());
        // A certificate is not a ContentInfo of type signedData.
        assert!(SignedDataView::from_der(&k.leaf_der).is_err());
    }

    #[test]
    fn duplicate_single_valued_attributes_are_refused() {
        let view = SignerInfoView {
            version: 1,
            signer_id: SignerIdentifier::SubjectKeyIdentifier(vec![1]),
            digest_algorithm: AlgorithmIdentifierOwned {
                oid: ID_SHA256,
                parameters: None,
            },
            signed_attributes_der: None,
            signed_attributes: vec![
                AttributeView {
                    oid: ID_CONTENT_TYPE,
                    values: vec![ID_DATA.to_der().unwrap()],
                },
                AttributeView {
                    oid: ID_CONTENT_TYPE,
                    values: vec![ID_DATA.to_der().unwrap()],
                },
                AttributeView {
                    oid: ID_MESSAGE_DIGEST,
                    values: vec![],
                },
            ],
            signature_algorithm: AlgorithmIdentifierOwned {
                oid: oid::SHA256_WITH_RSA_ENCRYPTION,
                parameters: None,
            },
            signature: vec![],
            unsigned_attribute_count: 0,
        };
        assert!(matches!(
            view.content_type(),
            Err(CmsError::DuplicateAttribute(_))
        ));
        assert!(matches!(
            view.message_digest(),
            Err(CmsError::AttributeValueCount(_))
        ));
        assert_eq!(view.signing_time().unwrap(), None);
    }
}
