//! Self-signed root certificates shaped like the real J-LIS CAs (JPKI-FACTS §2.1).
//!
//! ```text
//! Certificate  (RFC 5280 §4.1), v3, sha256WithRSAEncryption (or ecdsa-with-SHA256)
//!   issuer = subject = C=JP, O=JPKI, OU=JPKI for digital signature | JPKI for user authentication,
//!                      OU=<second OU, default "jpki sandbox (not J-LIS)">
//!   extensions, in the order the real CAs use:
//!     keyUsage               critical  keyCertSign, cRLSign
//!     subjectAltName                   DirName C=JP, O=公的個人認証サービス,
//!                                              OU=公的個人認証サービス署名用 | …利用者証明用, OU=<second OU>   (optional)
//!     basicConstraints       critical  cA TRUE (no pathLenConstraint)
//!     cRLDistributionPoints            fullName URI per configured URL                       (optional)
//!     subjectKeyIdentifier             SHA-1 of the subjectPublicKey bits (RFC 5280 §4.2.1.2 (1))
//! ```
//!
//! No authorityKeyIdentifier: the real roots have none, and RFC 5280 §4.2.1.1 lets a
//! self-signed certificate omit it.

use der::Decode;
use jpki_crypto::Signer;
use jpki_model::{Purpose, SerialNumber};
use spki::{SubjectPublicKeyInfoOwned, SubjectPublicKeyInfoRef};
use time::OffsetDateTime;
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::builder::{Builder, CertificateBuilder};
use x509_cert::certificate::TbsCertificate;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{
    BasicConstraints, KeyUsage, KeyUsages, SubjectAltName, SubjectKeyIdentifier,
};
use x509_cert::ext::{Extension, ToExtension};
use x509_cert::name::Name;
use x509_cert::time::Validity;

use crate::PkixError;
use crate::extensions::{checked_url, crl_distribution_points};
use crate::name::{DEFAULT_SECOND_OU, ca_alt_name, ca_name, check_organizational_unit};
use crate::signer::{SignerAdapter, encode_signed};
use crate::timeconv::{to_x509_time, whole_seconds};

/// What a root CA certificate says. Build it with [`CaParams::new`] and adjust the
/// public fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaParams {
    /// Signature CA (署名用) or user-authentication CA (利用者証明用).
    pub purpose: Purpose,
    /// The second OU of the DN (the real CAs say "Japan Agency for Local Authority
    /// Information Systems"); default [`DEFAULT_SECOND_OU`].
    pub second_ou: String,
    pub serial: SerialNumber,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    /// Put the Japanese directory name in subjectAltName, as the real CAs do. Default on.
    pub japanese_alt_name: bool,
    /// CRL distribution point URLs (http, https or ldap). Default none; the real CAs
    /// carry only a DirName equal to their own DN, which we do not copy.
    pub crl_distribution_urls: Vec<String>,
}

impl CaParams {
    /// Defaults: second OU [`DEFAULT_SECOND_OU`], Japanese alt name on, no CRLDP.
    pub fn new(
        purpose: Purpose,
        serial: SerialNumber,
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> Self {
        Self {
            purpose,
            second_ou: DEFAULT_SECOND_OU.to_owned(),
            serial,
            not_before,
            not_after,
            japanese_alt_name: true,
            crl_distribution_urls: Vec::new(),
        }
    }
}

struct CaProfile {
    name: Name,
    extensions_before_ski: Vec<Extension>,
}

impl BuilderProfile for CaProfile {
    fn get_issuer(&self, _subject: &Name) -> Name {
        self.name.clone()
    }

    fn get_subject(&self) -> Name {
        self.name.clone()
    }

    fn build_extensions(
        &self,
        subject_key: SubjectPublicKeyInfoRef<'_>,
        _issuer_key: SubjectPublicKeyInfoRef<'_>,
        tbs: &TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<Extension>> {
        let mut extensions = self.extensions_before_ski.clone();
        let ski = SubjectKeyIdentifier(der::asn1::OctetString::new(
            crate::key::key_identifier_of_bits(subject_key.subject_public_key.raw_bytes()),
        )?);
        extensions.push((false, &ski).to_extension(tbs.subject(), &extensions)?);
        Ok(extensions)
    }
}

/// Builds a self-signed JPKI root certificate signed by `signer` (whose public key
/// becomes the certificate's key). Returns the DER.
///
/// Refuses: notBefore ≥ notAfter, an empty or over-long second OU, a malformed CRL URL,
/// a signer key that is not RSA ≥ 2048 or P-256.
pub fn build_ca_certificate(params: &CaParams, signer: &dyn Signer) -> Result<Vec<u8>, PkixError> {
    // 1. The key: one we accept, matching the signer's algorithm.
    let adapter = SignerAdapter::new(signer)?;
    let public_key = SubjectPublicKeyInfoOwned::from_der(signer.public_key_der())?;

    // 2. The caller's values.
    let not_before = whole_seconds(params.not_before);
    let not_after = whole_seconds(params.not_after);
    if not_before >= not_after {
        return Err(PkixError::EmptyValidity {
            not_before,
            not_after,
        });
    }
    check_organizational_unit("second OU", &params.second_ou)?;
    let crl_urls = params
        .crl_distribution_urls
        .iter()
        .map(|url| checked_url("CRL distribution point", url))
        .collect::<Result<Vec<_>, _>>()?;
    let serial =
        x509_cert::serial_number::SerialNumber::new(params.serial.as_bytes()).map_err(|_| {
            PkixError::SerialTooLong {
                len: params.serial.as_bytes().len() + 1,
            }
        })?;

    // 3. Names and the fixed extensions.
    let name = ca_name(params.purpose, &params.second_ou)?;
    let mut extensions: Vec<Extension> = Vec::new();
    let key_usage = KeyUsage(KeyUsages::KeyCertSign | KeyUsages::CRLSign);
    extensions.push((true, &key_usage).to_extension(&name, &extensions)?);
    if params.japanese_alt_name {
        let alt_name = SubjectAltName(vec![GeneralName::DirectoryName(ca_alt_name(
            params.purpose,
            &params.second_ou,
        )?)]);
        extensions.push((false, &alt_name).to_extension(&name, &extensions)?);
    }
    let basic_constraints = BasicConstraints {
        ca: true,
        path_len_constraint: None,
    };
    extensions.push((true, &basic_constraints).to_extension(&name, &extensions)?);
    if !crl_urls.is_empty() {
        let crldp = crl_distribution_points(&crl_urls);
        extensions.push((false, &crldp).to_extension(&name, &extensions)?);
    }

    // 4. Build, sign, encode.
    let profile = CaProfile {
        name,
        extensions_before_ski: extensions,
    };
    let validity = Validity::new(to_x509_time(not_before)?, to_x509_time(not_after)?);
    let mut builder = CertificateBuilder::new(profile, serial, validity, public_key)?;
    let tbs = builder.finalize(&adapter)?;
    let signature = adapter.sign_to_bit_string(&tbs)?;
    let der = encode_signed(&tbs, adapter.algorithm_identifier(), &signature)?;
    Ok(der)
}

/// Convenience: the PEM form of a DER certificate.
pub fn certificate_pem(der: &[u8]) -> Result<String, PkixError> {
    der::pem::encode_string("CERTIFICATE", der::pem::LineEnding::LF, der)
        .map_err(|e| PkixError::Pem(e.to_string()))
}
