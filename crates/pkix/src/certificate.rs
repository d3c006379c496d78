//! Reading a certificate back: ours, or the real J-LIS ones.
//!
//! ```text
//! Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }  -- RFC 5280 §4.1
//! TBSCertificate ::= SEQUENCE {
//!     version [0] EXPLICIT Version DEFAULT v1, serialNumber, signature, issuer, validity,
//!     subject, subjectPublicKeyInfo, issuerUniqueID [1], subjectUniqueID [2], extensions [3] }
//! ```
//!
//! Kind detection: basicConstraints cA TRUE makes a CA (its purpose read from the OU);
//! otherwise the certificatePolicies decide — a policy under `1.2.392.200149.8.5.1.1`
//! means signature, under `…1.3` authentication, and our phone policy OIDs make it a
//! phone certificate. A certificate naming both purposes, or a phone policy that
//! contradicts the JPKI one, is refused; one naming no JPKI policy is
//! [`CertificateRole::Other`].

use der::Decode;
use jpki_crypto::{SignatureAlgorithm, sha256, verify_signature};
use jpki_model::{BasicInfo, CertificateKind, Medium, Purpose, SerialNumber};
use time::OffsetDateTime;
use x509_cert::Certificate;
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
use x509_cert::ext::pkix::{
    AuthorityInfoAccessSyntax, AuthorityKeyIdentifier, BasicConstraints, CrlDistributionPoints,
    KeyUsage, SubjectAltName, SubjectKeyIdentifier,
};

use crate::PkixError;
use crate::csr::{SignedEnvelope, signature_algorithm_of};
use crate::extensions::{basic_info_from_alt_name, policies_of};
use crate::name::{DistinguishedName, purpose_of_ca_name};
use crate::oid::{self, AnyOid};
use crate::timeconv::from_x509_time;

/// What a certificate is for, as far as JPKI is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CertificateRole {
    /// A CA (basicConstraints cA TRUE). `purpose` comes from the `JPKI for …` OU, when
    /// the name has one.
    Authority { purpose: Option<Purpose> },
    /// One of the four JPKI end-entity kinds.
    EndEntity(CertificateKind),
    /// Neither: no JPKI policy.
    Other,
}

/// A parsed certificate with everything the CA, OCSP, portal and relying parties read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JpkiCertificate {
    der: Vec<u8>,
    tbs_der: Vec<u8>,
    signature: Vec<u8>,
    signature_algorithm: Option<SignatureAlgorithm>,
    serial: SerialNumber,
    issuer: DistinguishedName,
    subject: DistinguishedName,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    public_key_der: Vec<u8>,
    public_key_bits: Vec<u8>,
    subject_key_identifier: Option<Vec<u8>>,
    authority_key_identifier: Option<Vec<u8>>,
    role: CertificateRole,
    policies: Vec<AnyOid>,
    key_usage: Option<KeyUsage>,
    basic_info: Option<BasicInfo>,
    crl_distribution_points: Vec<String>,
    ocsp_urls: Vec<String>,
    fingerprint_sha256: [u8; 32],
}

impl JpkiCertificate {
    /// Parses a DER certificate. Refuses malformed DER, trailing bytes, a negative or
    /// zero serial, malformed JPKI basic information, a signature-kind certificate
    /// without it, an authentication-kind certificate with it, and contradictory
    /// policies. Does not verify the signature (see [`JpkiCertificate::verify_issued_by`]).
    pub fn from_der(der: &[u8]) -> Result<Self, PkixError> {
        let certificate = Certificate::from_der(der)?;
        let envelope = SignedEnvelope::from_der(der)?;
        let tbs = certificate.tbs_certificate();

        let serial = serial_of(certificate.tbs_certificate().serial_number().as_bytes())?;
        let issuer = DistinguishedName::from_name(tbs.issuer())?;
        let subject = DistinguishedName::from_name(tbs.subject())?;
        let public_key_der = der::Encode::to_der(tbs.subject_public_key_info())?;
        let public_key_bits = tbs
            .subject_public_key_info()
            .subject_public_key
            .raw_bytes()
            .to_vec();

        let bad = |what: &str, e: der::Error| {
            PkixError::MalformedCertificate(format!("{what} extension: {e}"))
        };
        let is_ca = tbs
            .get_extension::<BasicConstraints>()
            .map_err(|e| bad("basicConstraints", e))?
            .is_some_and(|(_, constraints)| constraints.ca);
        let policies: Vec<AnyOid> = policies_of(tbs.extensions().map_or(&[], Vec::as_slice))?
            .into_iter()
            .map(|policy| policy.policy_identifier)
            .collect();
        let role = if is_ca {
            CertificateRole::Authority {
                purpose: purpose_of_ca_name(&subject),
            }
        } else {
            role_from_policies(&policies)?
        };

        let alt_names: Vec<GeneralName> = tbs
            .get_extension::<SubjectAltName>()
            .map_err(|e| bad("subjectAltName", e))?
            .map(|(_, san)| san.0)
            .unwrap_or_default();
        let basic_info = basic_info_from_alt_name(&alt_names)?;
        if let CertificateRole::EndEntity(kind) = role {
            match (kind.purpose, &basic_info) {
                (Purpose::Signature, None) => {
                    return Err(PkixError::MalformedBasicInfo(format!(
                        "a {kind} without the basic 4 information"
                    )));
                }
                (Purpose::Authentication, Some(_)) => {
                    return Err(PkixError::MalformedBasicInfo(format!(
                        "a {kind} carrying personal data"
                    )));
                }
                _ => {}
            }
        }

        let subject_key_identifier = tbs
            .get_extension::<SubjectKeyIdentifier>()
            .map_err(|e| bad("subjectKeyIdentifier", e))?
            .map(|(_, ski)| ski.0.as_bytes().to_vec());
        let authority_key_identifier = tbs
            .get_extension::<AuthorityKeyIdentifier>()
            .map_err(|e| bad("authorityKeyIdentifier", e))?
            .and_then(|(_, aki)| aki.key_identifier.map(|id| id.as_bytes().to_vec()));
        let key_usage = tbs
            .get_extension::<KeyUsage>()
            .map_err(|e| bad("keyUsage", e))?
            .map(|(_, usage)| usage);
        let crl_distribution_points = tbs
            .get_extension::<CrlDistributionPoints>()
            .map_err(|e| bad("cRLDistributionPoints", e))?
            .map(|(_, points)| {
                points
                    .0
                    .iter()
                    .filter_map(|point| match &point.distribution_point {
                        Some(DistributionPointName::FullName(names)) => Some(names),
                        _ => None,
                    })
                    .flatten()
                    .filter_map(uri_of)
                    .collect()
            })
            .unwrap_or_default();
        let ocsp_urls = tbs
            .get_extension::<AuthorityInfoAccessSyntax>()
            .map_err(|e| bad("authorityInfoAccess", e))?
            .map(|(_, access)| {
                access
                    .0
                    .iter()
                    .filter(|description| description.access_method == oid::AD_OCSP)
                    .filter_map(|description| uri_of(&description.access_location))
                    .collect()
            })
            .unwrap_or_default();

        Ok(Self {
            der: der.to_vec(),
            tbs_der: der::Encode::to_der(&envelope.tbs)?,
            signature: envelope.signature.raw_bytes().to_vec(),
            signature_algorithm: signature_algorithm_of(&envelope.algorithm).ok(),
            serial,
            issuer,
            subject,
            not_before: from_x509_time(&tbs.validity().not_before)?,
            not_after: from_x509_time(&tbs.validity().not_after)?,
            public_key_der,
            public_key_bits,
            subject_key_identifier,
            authority_key_identifier,
            role,
            policies,
            key_usage,
            basic_info,
            crl_distribution_points,
            ocsp_urls,
            fingerprint_sha256: sha256(der),
        })
    }

    /// [`JpkiCertificate::from_der`] from PEM (`-----BEGIN CERTIFICATE-----`).
    pub fn from_pem(pem: &str) -> Result<Self, PkixError> {
        Self::from_der(&pem_to_der(pem, "CERTIFICATE")?)
    }

    /// Checks this certificate's signature with `issuer`'s public key, and that its
    /// issuer name is `issuer`'s subject. (Validity and revocation are the caller's.)
    pub fn verify_issued_by(&self, issuer: &JpkiCertificate) -> Result<(), PkixError> {
        if self.issuer.der() != issuer.subject.der() {
            return Err(PkixError::IssuerNameMismatch);
        }
        let algorithm = self.signature_algorithm.ok_or_else(|| {
            PkixError::UnsupportedSignatureAlgorithm("the certificate's algorithm".to_owned())
        })?;
        verify_signature(
            algorithm,
            &issuer.public_key_der,
            &self.tbs_der,
            &self.signature,
        )
        .map_err(|_| PkixError::BadSignature)
    }

    /// The certificate as parsed.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// PEM (`CERTIFICATE`) of the certificate.
    pub fn to_pem(&self) -> Result<String, PkixError> {
        crate::ca::certificate_pem(&self.der)
    }

    pub fn serial(&self) -> &SerialNumber {
        &self.serial
    }

    pub fn issuer(&self) -> &DistinguishedName {
        &self.issuer
    }

    pub fn subject(&self) -> &DistinguishedName {
        &self.subject
    }

    pub fn not_before(&self) -> OffsetDateTime {
        self.not_before
    }

    pub fn not_after(&self) -> OffsetDateTime {
        self.not_after
    }

    /// The SubjectPublicKeyInfo DER.
    pub fn public_key_der(&self) -> &[u8] {
        &self.public_key_der
    }

    /// The subjectPublicKey BIT STRING contents (what an OCSP issuerKeyHash hashes).
    pub fn public_key_bits(&self) -> &[u8] {
        &self.public_key_bits
    }

    pub fn subject_key_identifier(&self) -> Option<&[u8]> {
        self.subject_key_identifier.as_deref()
    }

    pub fn authority_key_identifier(&self) -> Option<&[u8]> {
        self.authority_key_identifier.as_deref()
    }

    pub fn role(&self) -> CertificateRole {
        self.role
    }

    /// The end-entity kind, if this is a JPKI end-entity certificate.
    pub fn kind(&self) -> Option<CertificateKind> {
        match self.role {
            CertificateRole::EndEntity(kind) => Some(kind),
            _ => None,
        }
    }

    pub fn is_ca(&self) -> bool {
        matches!(self.role, CertificateRole::Authority { .. })
    }

    /// certificatePolicies OIDs, in order.
    pub fn policies(&self) -> &[AnyOid] {
        &self.policies
    }

    pub fn key_usage(&self) -> Option<KeyUsage> {
        self.key_usage
    }

    /// The basic 4 information (signature certificates only).
    pub fn basic_info(&self) -> Option<&BasicInfo> {
        self.basic_info.as_ref()
    }

    /// CRL distribution point URIs (DirName entries, as in the real CAs, are skipped).
    pub fn crl_distribution_points(&self) -> &[String] {
        &self.crl_distribution_points
    }

    /// AIA id-ad-ocsp URIs.
    pub fn ocsp_urls(&self) -> &[String] {
        &self.ocsp_urls
    }

    /// SHA-256 of the DER.
    pub fn fingerprint_sha256(&self) -> [u8; 32] {
        self.fingerprint_sha256
    }

    /// The signature algorithm, when it is one jpki verifies.
    pub fn signature_algorithm(&self) -> Option<SignatureAlgorithm> {
        self.signature_algorithm
    }
}

fn uri_of(name: &GeneralName) -> Option<String> {
    match name {
        GeneralName::UniformResourceIdentifier(uri) => Some(uri.to_string()),
        _ => None,
    }
}

fn serial_of(two_complement: &[u8]) -> Result<SerialNumber, PkixError> {
    if two_complement.first().is_some_and(|b| b & 0x80 != 0) {
        return Err(PkixError::MalformedCertificate(
            "negative serial number".to_owned(),
        ));
    }
    SerialNumber::from_bytes(two_complement)
        .map_err(|e| PkixError::MalformedCertificate(format!("serial number: {e}")))
}

fn role_from_policies(policies: &[AnyOid]) -> Result<CertificateRole, PkixError> {
    let mut purpose: Option<Purpose> = None;
    let mut phone: Option<Purpose> = None;
    let note = |slot: &mut Option<Purpose>, found: Purpose| -> Result<(), PkixError> {
        match slot.replace(found) {
            Some(previous) if previous != found => Err(PkixError::InconsistentPolicies(
                "both signature and authentication policies".to_owned(),
            )),
            _ => Ok(()),
        }
    };
    for policy in policies {
        if policy.is_under(&oid::POLICY_SIGNATURE_ARC) {
            note(&mut purpose, Purpose::Signature)?;
        } else if policy.is_under(&oid::POLICY_AUTHENTICATION_ARC) {
            note(&mut purpose, Purpose::Authentication)?;
        } else if *policy == oid::POLICY_PHONE_SIGNATURE {
            note(&mut phone, Purpose::Signature)?;
        } else if *policy == oid::POLICY_PHONE_AUTHENTICATION {
            note(&mut phone, Purpose::Authentication)?;
        }
    }
    match (purpose, phone) {
        (None, None) => Ok(CertificateRole::Other),
        (None, Some(_)) => Err(PkixError::InconsistentPolicies(
            "a phone policy without a JPKI policy".to_owned(),
        )),
        (Some(purpose), None) => Ok(CertificateRole::EndEntity(CertificateKind {
            medium: Medium::Card,
            purpose,
        })),
        (Some(purpose), Some(phone)) if purpose == phone => {
            Ok(CertificateRole::EndEntity(CertificateKind {
                medium: Medium::Phone,
                purpose,
            }))
        }
        (Some(_), Some(_)) => Err(PkixError::InconsistentPolicies(
            "the phone policy names the other purpose".to_owned(),
        )),
    }
}

/// Decodes one PEM block with the expected label.
pub(crate) fn pem_to_der(pem: &str, expected: &'static str) -> Result<Vec<u8>, PkixError> {
    let (label, der) =
        der::pem::decode_vec(pem.trim().as_bytes()).map_err(|e| PkixError::Pem(e.to_string()))?;
    if label != expected {
        return Err(PkixError::PemLabel {
            expected,
            found: label.to_owned(),
        });
    }
    Ok(der)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serials_must_be_positive() {
        assert_eq!(serial_of(&[0x00, 0x80]).unwrap().as_bytes(), &[0x80]);
        assert!(serial_of(&[0x80]).is_err());
        assert!(serial_of(&[0x00]).is_err());
    }

    #[test]
    fn policies_decide_the_kind() {
        let card_sign = [oid::POLICY_SIGN_CLASS20.into()];
        assert_eq!(
            role_from_policies(&card_sign).unwrap(),
            CertificateRole::EndEntity(CertificateKind::CARD_SIGNATURE)
        );
        let phone_auth = [
            oid::POLICY_AUTH_CLASS30.into(),
            oid::POLICY_PHONE_AUTHENTICATION,
        ];
        assert_eq!(
            role_from_policies(&phone_auth).unwrap(),
            CertificateRole::EndEntity(CertificateKind::PHONE_AUTHENTICATION)
        );
        // The bare arc counts too (a real certificate may name it).
        assert_eq!(
            role_from_policies(&[oid::POLICY_AUTHENTICATION_ARC.into()]).unwrap(),
            CertificateRole::EndEntity(CertificateKind::CARD_AUTHENTICATION)
        );
        assert_eq!(role_from_policies(&[]).unwrap(), CertificateRole::Other);
        for bad in [
            vec![
                oid::POLICY_SIGN_CLASS20.into(),
                oid::POLICY_AUTH_CLASS30.into(),
            ],
            vec![
                oid::POLICY_SIGN_CLASS20.into(),
                oid::POLICY_PHONE_AUTHENTICATION,
            ],
            vec![oid::POLICY_PHONE_SIGNATURE],
        ] {
            assert!(
                matches!(
                    role_from_policies(&bad),
                    Err(PkixError::InconsistentPolicies(_))
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn pem_label_is_checked() {
        let pem = "-----BEGIN PUBLIC KEY-----\nMAA=\n-----END PUBLIC KEY-----\n";
        assert!(matches!(
            pem_to_der(pem, "CERTIFICATE"),
            Err(PkixError::PemLabel { .. })
        ));
        assert!(matches!(
            pem_to_der("not pem", "CERTIFICATE"),
            Err(PkixError::Pem(_))
        ));
    }
}
