//! The delegated OCSP responder certificate (RFC 6960 §4.2.2.2): a short-lived
//! certificate a CA issues to the key that signs OCSP responses on its behalf.
//!
//! ```text
//! Certificate (RFC 5280 §4.1), v3, signed by the CA whose certificates the responder answers for
//!   issuer   = the CA certificate's subject, byte for byte
//!   subject  = the CA's subject + CN=OCSP responder <n>
//!              e.g. C=JP, O=JPKI, OU=JPKI for digital signature, OU=jpki sandbox (not J-LIS),
//!                   CN=OCSP responder 1
//!   validity = notBefore .. notBefore + 30 days (default; configurable; inside the CA's validity)
//!   extensions:
//!     keyUsage                critical  digitalSignature
//!     extendedKeyUsage                  id-kp-OCSPSigning 1.3.6.1.5.5.7.3.9
//!     id-pkix-ocsp-nocheck              NULL   1.3.6.1.5.5.7.48.1.5
//!     subjectKeyIdentifier              SHA-1 of the subjectPublicKey bits
//!     authorityKeyIdentifier            keyIdentifier = the CA's key identifier
//! ```
//!
//! Scope: [`issue_ocsp_responder_certificate`] and its parameters. Not here: rotating
//! the responder key before the certificate expires (the status service's operator
//! does that; the short validity is what makes `nocheck` acceptable).
//!
//! The decisions a reviewer will question:
//! - **id-pkix-ocsp-nocheck, no CRLDP / AIA.** A client cannot ask the responder about
//!   the responder's own certificate without a loop; RFC 6960 §4.2.2.2.1 offers
//!   nocheck "for a responder certificate with a short lifetime". The lifetime is what
//!   bounds a compromised responder key, so the default is 30 days and the maximum
//!   [`MAX_RESPONDER_VALIDITY`] is 90.
//! - **The subject is the CA's name plus a CN**, so an operator reading a response
//!   (`openssl ocsp -resp_text`) sees which CA delegated and which responder key signed;
//!   the number distinguishes successive keys.
//! - **extendedKeyUsage is not critical**: RFC 6960 only requires the OID to be present;
//!   OpenSSL's delegation check (`ocsp_check_delegated`) reads it either way.

use const_oid::db::rfc4519;
use der::asn1::{Any, OctetString};
use der::{Decode, Encode, Tag};
use jpki_crypto::Signer;
use jpki_model::SerialNumber;
use spki::{SubjectPublicKeyInfoOwned, SubjectPublicKeyInfoRef};
use time::{Duration, OffsetDateTime};
use x509_cert::Certificate;
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::builder::{Builder, CertificateBuilder};
use x509_cert::certificate::TbsCertificate;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, ExtendedKeyUsage, KeyUsage, KeyUsages, SubjectKeyIdentifier,
};
use x509_cert::ext::{Extension, ToExtension};
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};
use x509_cert::time::Validity;

use crate::issue::Issuer;
use crate::name::check_common_name;
use crate::ocsp::{ID_KP_OCSP_SIGNING, ID_PKIX_OCSP_NOCHECK};
use crate::signer::{SignerAdapter, encode_signed};
use crate::timeconv::{to_x509_time, whole_seconds};
use crate::{PkixError, key};

/// Default lifetime of a responder certificate.
pub const DEFAULT_RESPONDER_VALIDITY: Duration = Duration::days(30);
/// Longest lifetime accepted: nocheck certificates must stay short-lived.
pub const MAX_RESPONDER_VALIDITY: Duration = Duration::days(90);

/// What varies between two responder certificates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OcspResponderParams {
    /// Allocated like any other serial of the CA.
    pub serial: SerialNumber,
    /// The responder key, a DER SubjectPublicKeyInfo.
    pub responder_public_key_der: Vec<u8>,
    /// `n` in `CN=OCSP responder <n>`.
    pub number: u32,
    pub not_before: OffsetDateTime,
    /// Default [`DEFAULT_RESPONDER_VALIDITY`]; at most [`MAX_RESPONDER_VALIDITY`].
    pub validity: Duration,
}

impl OcspResponderParams {
    /// Responder number 1, valid [`DEFAULT_RESPONDER_VALIDITY`] from `not_before`.
    pub fn new(
        serial: SerialNumber,
        responder_public_key_der: Vec<u8>,
        not_before: OffsetDateTime,
    ) -> Self {
        Self {
            serial,
            responder_public_key_der,
            number: 1,
            not_before,
            validity: DEFAULT_RESPONDER_VALIDITY,
        }
    }
}

struct ResponderProfile {
    issuer: Name,
    subject: Name,
    authority_key_identifier: Extension,
}

impl BuilderProfile for ResponderProfile {
    fn get_issuer(&self, _subject: &Name) -> Name {
        self.issuer.clone()
    }

    fn get_subject(&self) -> Name {
        self.subject.clone()
    }

    fn build_extensions(
        &self,
        subject_key: SubjectPublicKeyInfoRef<'_>,
        _issuer_key: SubjectPublicKeyInfoRef<'_>,
        tbs: &TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<Extension>> {
        let subject = tbs.subject();
        let mut extensions = Vec::with_capacity(5);
        let key_usage = KeyUsage(KeyUsages::DigitalSignature.into());
        extensions.push((true, &key_usage).to_extension(subject, &extensions)?);
        let extended = ExtendedKeyUsage(vec![ID_KP_OCSP_SIGNING]);
        extensions.push((false, &extended).to_extension(subject, &extensions)?);
        extensions.push(Extension {
            extn_id: ID_PKIX_OCSP_NOCHECK,
            critical: false,
            extn_value: OctetString::new(Any::null().to_der()?)?,
        });
        let ski = SubjectKeyIdentifier(OctetString::new(key::key_identifier_of_bits(
            subject_key.subject_public_key.raw_bytes(),
        ))?);
        extensions.push((false, &ski).to_extension(subject, &extensions)?);
        extensions.push(self.authority_key_identifier.clone());
        Ok(extensions)
    }
}

/// Issues a delegated OCSP responder certificate for `params.responder_public_key_der`,
/// signed by `signer` (the CA key). Returns the DER.
///
/// Steps, each refused with its own error:
/// 1. the signer holds the CA certificate's key, with the algorithm that fits it;
/// 2. the validity is positive, at most [`MAX_RESPONDER_VALIDITY`], inside the CA's;
/// 3. the responder key is RSA ≥ 2048 bits or P-256;
/// 4. the serial fits in 20 octets;
/// 5. build (subject = CA subject + CN), sign, wrap.
pub fn issue_ocsp_responder_certificate(
    issuer: &Issuer,
    params: &OcspResponderParams,
    signer: &dyn Signer,
) -> Result<Vec<u8>, PkixError> {
    // Step 1.
    if signer.public_key_der() != issuer.public_key_der() {
        return Err(PkixError::IssuerKeyMismatch);
    }
    let adapter = SignerAdapter::new(signer)?;

    // Step 2.
    if params.validity <= Duration::ZERO || params.validity > MAX_RESPONDER_VALIDITY {
        return Err(PkixError::field(
            "OCSP responder validity",
            format!(
                "must be more than zero and at most {} days",
                MAX_RESPONDER_VALIDITY.whole_days()
            ),
        ));
    }
    let not_before = whole_seconds(params.not_before);
    let not_after = not_before + params.validity;
    if not_before < issuer.not_before() {
        return Err(PkixError::PredatesIssuer {
            not_before,
            issuer_not_before: issuer.not_before(),
        });
    }
    if not_after > issuer.not_after() {
        return Err(PkixError::OutlivesIssuer {
            not_after,
            issuer_not_after: issuer.not_after(),
        });
    }
    let validity = Validity::new(to_x509_time(not_before)?, to_x509_time(not_after)?);

    // Step 3.
    key::inspect_public_key(&params.responder_public_key_der)?;
    let public_key = SubjectPublicKeyInfoOwned::from_der(&params.responder_public_key_der)?;

    // Step 4.
    let serial =
        x509_cert::serial_number::SerialNumber::new(params.serial.as_bytes()).map_err(|_| {
            PkixError::SerialTooLong {
                len: params.serial.as_bytes().len() + 1,
            }
        })?;

    // Step 5.
    let ca = Certificate::from_der(issuer.certificate_der())?;
    let issuer_name = ca.tbs_certificate().subject().clone();
    let common_name = format!("OCSP responder {}", params.number);
    check_common_name(&common_name)?;
    let mut rdns = RdnSequence::from_der(&issuer_name.to_der()?)?;
    let mut rdn = RelativeDistinguishedName::default();
    rdn.insert(AttributeTypeAndValue {
        oid: rfc4519::COMMON_NAME,
        value: Any::new(Tag::Utf8String, common_name.as_bytes())?,
    })?;
    rdns.push(rdn);
    let subject = Name::from_der(&rdns.to_der()?)?;
    let authority_key_identifier = (
        false,
        &AuthorityKeyIdentifier {
            key_identifier: Some(OctetString::new(issuer.key_identifier())?),
            authority_cert_issuer: None,
            authority_cert_serial_number: None,
        },
    )
        .to_extension(&subject, &[])?;
    let profile = ResponderProfile {
        issuer: issuer_name,
        subject,
        authority_key_identifier,
    };
    let mut builder = CertificateBuilder::new(profile, serial, validity, public_key)?;
    let tbs = builder.finalize(&adapter)?;
    let signature = adapter.sign_to_bit_string(&tbs)?;
    encode_signed(&tbs, adapter.algorithm_identifier(), &signature)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ocsp::has_ocsp_signing;
    use crate::{CaParams, JpkiCertificate, build_ca_certificate};
    use jpki_crypto::{RsaKeySize, SoftwareRsaKey};
    use jpki_model::Purpose;
    use time::macros::datetime;

    #[test]
    fn responder_certificates_follow_the_profile_and_refuse_bad_parameters() {
        let ca_key = SoftwareRsaKey::generate(RsaKeySize::Rsa2048).unwrap();
        let responder_key = SoftwareRsaKey::generate(RsaKeySize::Rsa2048).unwrap();
        let params = CaParams::new(
            Purpose::Authentication,
            SerialNumber::from_hex("02").unwrap(),
            datetime!(2026-01-01 00:00 UTC),
            datetime!(2036-01-01 00:00 UTC),
        );
        let ca_der = build_ca_certificate(&params, &ca_key).unwrap();
        let issuer = Issuer::new(&ca_der).unwrap();
        let mut request = OcspResponderParams::new(
            SerialNumber::from_hex("0F01").unwrap(),
            responder_key.public_key_der().to_vec(),
            datetime!(2026-11-01 09:30:15.5 UTC),
        );
        request.number = 7;
        let der = issue_ocsp_responder_certificate(&issuer, &request, &ca_key).unwrap();
        let certificate = JpkiCertificate::from_der(&der).unwrap();
        certificate
            .verify_issued_by(&JpkiCertificate::from_der(&ca_der).unwrap())
            .unwrap();
        assert_eq!(
            certificate.subject().to_der_order_string(),
            "C=JP, O=JPKI, OU=JPKI for user authentication, OU=jpki sandbox (not J-LIS), CN=OCSP responder 7"
        );
        assert_eq!(certificate.not_before(), datetime!(2026-11-01 09:30:15 UTC));
        assert_eq!(certificate.not_after(), datetime!(2026-12-01 09:30:15 UTC));
        assert_eq!(
            certificate.authority_key_identifier(),
            Some(issuer.key_identifier())
        );
        assert!(has_ocsp_signing(&der).unwrap());
        assert!(!has_ocsp_signing(&ca_der).unwrap());
        let usage = certificate.key_usage().unwrap();
        assert!(usage.digital_signature() && !usage.key_cert_sign());
        let parsed = Certificate::from_der(&der).unwrap();
        let extensions = parsed.tbs_certificate().extensions().unwrap();
        let nocheck = extensions
            .iter()
            .find(|e| e.extn_id == ID_PKIX_OCSP_NOCHECK)
            .unwrap();
        assert_eq!(nocheck.extn_value.as_bytes(), &[0x05, 0x00]);

        // The CA key must sign; the validity must stay short and inside the CA's.
        assert!(matches!(
            issue_ocsp_responder_certificate(&issuer, &request, &responder_key),
            Err(PkixError::IssuerKeyMismatch)
        ));
        let mut long = request.clone();
        long.validity = Duration::days(91);
        assert!(issue_ocsp_responder_certificate(&issuer, &long, &ca_key).is_err());
        let mut late = request.clone();
        late.not_before = datetime!(2035-12-15 00:00 UTC);
        assert!(matches!(
            issue_ocsp_responder_certificate(&issuer, &late, &ca_key),
            Err(PkixError::OutlivesIssuer { .. })
        ));
        let mut weak = request;
        weak.responder_public_key_der = vec![0x30, 0x00];
        assert!(issue_ocsp_responder_certificate(&issuer, &weak, &ca_key).is_err());
    }
}
