//! End-entity issuance: the four JPKI certificate kinds from one template.
//!
//! ```text
//! Certificate (RFC 5280 §4.1), v3, signed by the issuing CA
//!   issuer   = the CA certificate's subject, byte for byte
//!   subject  = C=JP, CN=<opaque id>                      (PrintableString, UTF8String)
//!   extensions:
//!     keyUsage              critical  sign kinds: digitalSignature, nonRepudiation
//!                                     auth kinds: digitalSignature
//!     subjectAltName                  sign kinds only: the six JPKI otherNames (see extensions.rs)
//!     certificatePolicies             sign: 1.2.392.200149.8.5.1.1.20 / auth: 1.2.392.200149.8.5.1.3.30
//!                                     [+ CPS URI qualifier when configured]
//!                                     phone kinds add 2.25.228021176431277688793511615349129701746.1.1 / .1.2
//!     subjectKeyIdentifier            SHA-1 of the subjectPublicKey bits
//!     authorityKeyIdentifier          keyIdentifier = the CA's subjectKeyIdentifier
//!     cRLDistributionPoints           fullName URI                                   (optional)
//!     authorityInfoAccess             id-ad-ocsp URI                                 (optional)
//! ```

use std::fmt;

use der::Decode;
use der::asn1::{Ia5String, OctetString};
use jpki_crypto::Signer;
use jpki_model::{BasicInfo, CertificateKind, Purpose, SerialNumber};
use spki::{SubjectPublicKeyInfoOwned, SubjectPublicKeyInfoRef};
use time::OffsetDateTime;
use x509_cert::Certificate;
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::builder::{Builder, CertificateBuilder};
use x509_cert::certificate::TbsCertificate;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, KeyUsage, KeyUsages, SubjectAltName,
    SubjectKeyIdentifier,
};
use x509_cert::ext::{Extension, ToExtension};
use x509_cert::name::Name;
use x509_cert::time::Validity;

use crate::PkixError;
use crate::extensions::{
    authority_info_access, basic_info_alt_name, certificate_policies_extension, checked_url,
    crl_distribution_points,
};
use crate::key::{self, PublicKeyKind};
use crate::name::{DistinguishedName, purpose_of_ca_name, subject_name};
use crate::signer::{SignerAdapter, encode_signed};
use crate::timeconv::{from_x509_time, to_x509_time, whole_seconds};

/// Everything that varies between two end-entity certificates. The registration
/// authority fills it in; [`Issuer::issue`] checks it again before signing.
#[derive(Clone, PartialEq, Eq)]
pub struct EndEntityTemplate {
    pub kind: CertificateKind,
    pub serial: SerialNumber,
    /// The opaque identifier that becomes `CN=`; 1–64 PrintableString characters.
    pub subject_cn: String,
    /// The subject's key, a DER SubjectPublicKeyInfo (e.g. [`crate::VerifiedCsr::public_key_der`]).
    pub subject_public_key_der: Vec<u8>,
    /// Required for signature kinds, refused for authentication kinds.
    pub basic_info: Option<BasicInfo>,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    pub crl_distribution_point: Option<String>,
    pub ocsp_url: Option<String>,
}

impl fmt::Debug for EndEntityTemplate {
    // The basic 4 information is personal data: keep it out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EndEntityTemplate")
            .field("kind", &self.kind)
            .field("serial", &self.serial)
            .field("subject_cn", &self.subject_cn)
            .field(
                "basic_info",
                &self.basic_info.as_ref().map(|_| "[personal data]"),
            )
            .field("not_before", &self.not_before)
            .field("not_after", &self.not_after)
            .field("crl_distribution_point", &self.crl_distribution_point)
            .field("ocsp_url", &self.ocsp_url)
            .finish_non_exhaustive()
    }
}

/// A CA certificate prepared for issuing: parsed and checked once, with every
/// extension that does not depend on the subject already encoded.
#[derive(Clone)]
pub struct Issuer {
    certificate_der: Vec<u8>,
    name: Name,
    subject: DistinguishedName,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    public_key_der: Vec<u8>,
    key_kind: PublicKeyKind,
    key_identifier: Vec<u8>,
    purpose: Option<Purpose>,
    cps_uri: Option<Ia5String>,
    key_usage_signature: Extension,
    key_usage_authentication: Extension,
    authority_key_identifier: Extension,
    /// Indexed like [`CertificateKind::ALL`].
    policies: [Extension; 4],
}

impl fmt::Debug for Issuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Issuer")
            .field("subject", &self.subject.to_rfc4514())
            .field("not_after", &self.not_after)
            .field("key", &self.key_kind)
            .field("purpose", &self.purpose)
            .finish_non_exhaustive()
    }
}

fn kind_index(kind: CertificateKind) -> usize {
    CertificateKind::ALL
        .iter()
        .position(|k| *k == kind)
        .unwrap_or_default()
}

impl Issuer {
    /// Parses and checks a CA certificate: basicConstraints cA TRUE, keyUsage (when
    /// present) with keyCertSign, an acceptable key. The CA's purpose is read from its
    /// OU (`JPKI for digital signature` / `JPKI for user authentication`); a CA with
    /// neither OU may issue every kind.
    pub fn new(certificate_der: &[u8]) -> Result<Self, PkixError> {
        let certificate = Certificate::from_der(certificate_der)?;
        let tbs = certificate.tbs_certificate();
        let is_ca = tbs
            .get_extension::<BasicConstraints>()?
            .is_some_and(|(_, constraints)| constraints.ca);
        if !is_ca {
            return Err(PkixError::NotACa(
                "basicConstraints cA is not TRUE".to_owned(),
            ));
        }
        if let Some((_, usage)) = tbs.get_extension::<KeyUsage>()?
            && !usage.key_cert_sign()
        {
            return Err(PkixError::NotACa("keyUsage lacks keyCertSign".to_owned()));
        }
        let public_key_der = der::Encode::to_der(tbs.subject_public_key_info())?;
        let key_kind = key::inspect_public_key(&public_key_der)?;
        let key_identifier = match tbs.get_extension::<SubjectKeyIdentifier>()? {
            Some((_, ski)) => ski.0.as_bytes().to_vec(),
            None => key::key_identifier(&public_key_der)?,
        };
        let name = tbs.subject().clone();
        let subject = DistinguishedName::from_name(&name)?;
        let purpose = purpose_of_ca_name(&subject);

        let key_usage_signature = (
            true,
            &KeyUsage(KeyUsages::DigitalSignature | KeyUsages::NonRepudiation),
        )
            .to_extension(&name, &[])?;
        let key_usage_authentication =
            (true, &KeyUsage(KeyUsages::DigitalSignature.into())).to_extension(&name, &[])?;
        let authority_key_identifier = (
            false,
            &AuthorityKeyIdentifier {
                key_identifier: Some(OctetString::new(key_identifier.clone())?),
                authority_cert_issuer: None,
                authority_cert_serial_number: None,
            },
        )
            .to_extension(&name, &[])?;
        let policies = policy_extensions(None)?;

        Ok(Self {
            certificate_der: certificate_der.to_vec(),
            not_before: from_x509_time(&tbs.validity().not_before)?,
            not_after: from_x509_time(&tbs.validity().not_after)?,
            name,
            subject,
            public_key_der,
            key_kind,
            key_identifier,
            purpose,
            cps_uri: None,
            key_usage_signature,
            key_usage_authentication,
            authority_key_identifier,
            policies,
        })
    }

    /// [`Issuer::new`] from a PEM `CERTIFICATE`.
    pub fn from_pem(pem: &str) -> Result<Self, PkixError> {
        Self::new(&crate::certificate::pem_to_der(pem, "CERTIFICATE")?)
    }

    /// Adds a CPS pointer qualifier (id-qt-cps) to the JPKI policy of every certificate
    /// this issuer signs. Off by default: RFC 5280 §4.2.1.4 recommends bare policy OIDs.
    pub fn with_cps_uri(mut self, uri: &str) -> Result<Self, PkixError> {
        let uri = checked_url("CPS URI", uri)?;
        self.policies = policy_extensions(Some(&uri))?;
        self.cps_uri = Some(uri);
        Ok(self)
    }

    pub fn certificate_der(&self) -> &[u8] {
        &self.certificate_der
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

    /// The CA's SubjectPublicKeyInfo DER.
    pub fn public_key_der(&self) -> &[u8] {
        &self.public_key_der
    }

    /// The CA's key identifier (its SKI, or the computed one when it has none): what
    /// every certificate it issues carries as authorityKeyIdentifier.
    pub fn key_identifier(&self) -> &[u8] {
        &self.key_identifier
    }

    /// The purpose its DN announces; `None` issues every kind.
    pub fn purpose(&self) -> Option<Purpose> {
        self.purpose
    }

    /// Checks a template and signs the certificate; returns the DER.
    ///
    /// The steps, each refused with its own error:
    /// 1. the signer's public key is this CA certificate's key, and its algorithm fits;
    /// 2. the kind's purpose is this CA's purpose (when it announces one);
    /// 3. signature kinds carry basic information, authentication kinds carry none;
    /// 4. notBefore < notAfter, and the validity lies inside the CA's validity;
    /// 5. the subject key is RSA of at least 2048 bits, or EC P-256;
    /// 6. the serial is positive and at most 20 octets once DER-encoded;
    /// 7. the CN is an opaque identifier, the URLs are absolute http/https/ldap URLs;
    /// 8. build the TBS, have the signer sign it, wrap it.
    pub fn issue(
        &self,
        template: &EndEntityTemplate,
        signer: &dyn Signer,
    ) -> Result<Vec<u8>, PkixError> {
        // Step 1: the key that signs is the key the certificate names.
        if signer.public_key_der() != self.public_key_der.as_slice() {
            return Err(PkixError::IssuerKeyMismatch);
        }
        if signer.algorithm() != self.key_kind.signature_algorithm() {
            return Err(PkixError::AlgorithmKeyMismatch {
                algorithm: format!("{:?}", signer.algorithm()),
                key: self.key_kind.label(),
            });
        }

        // Step 2: a signature CA signs signature certificates only, and vice versa.
        let kind = template.kind;
        if let Some(purpose) = self.purpose
            && purpose != kind.purpose
        {
            return Err(PkixError::IssuerPurposeMismatch {
                issuer_purpose: match purpose {
                    Purpose::Signature => "signature",
                    Purpose::Authentication => "user-authentication",
                },
                kind,
            });
        }

        // Step 3: personal data goes exactly where it belongs.
        let basic_info = match (kind.purpose, &template.basic_info) {
            (Purpose::Signature, Some(info)) => Some(info),
            (Purpose::Signature, None) => return Err(PkixError::MissingBasicInfo { kind }),
            (Purpose::Authentication, Some(_)) => {
                return Err(PkixError::UnexpectedBasicInfo { kind });
            }
            (Purpose::Authentication, None) => None,
        };

        // Step 4: validity inside the CA's.
        let not_before = whole_seconds(template.not_before);
        let not_after = whole_seconds(template.not_after);
        if not_before >= not_after {
            return Err(PkixError::EmptyValidity {
                not_before,
                not_after,
            });
        }
        if not_before < self.not_before {
            return Err(PkixError::PredatesIssuer {
                not_before,
                issuer_not_before: self.not_before,
            });
        }
        if not_after > self.not_after {
            return Err(PkixError::OutlivesIssuer {
                not_after,
                issuer_not_after: self.not_after,
            });
        }
        let validity = Validity::new(to_x509_time(not_before)?, to_x509_time(not_after)?);

        // Step 5: the subject key.
        key::inspect_public_key(&template.subject_public_key_der)?;
        let subject_public_key =
            SubjectPublicKeyInfoOwned::from_der(&template.subject_public_key_der)?;

        // Step 6: the serial.
        let serial = x509_cert::serial_number::SerialNumber::new(template.serial.as_bytes())
            .map_err(|_| PkixError::SerialTooLong {
                len: template.serial.as_bytes().len() + 1,
            })?;

        // Step 7: names and URLs.
        let subject = subject_name(&template.subject_cn)?;
        let alt_name = basic_info.map(basic_info_alt_name).transpose()?;
        let crl_url = template
            .crl_distribution_point
            .as_deref()
            .map(|url| checked_url("CRL distribution point", url))
            .transpose()?;
        let ocsp_url = template
            .ocsp_url
            .as_deref()
            .map(|url| checked_url("OCSP URL", url))
            .transpose()?;

        // Step 8: build, sign, wrap.
        let profile = EndEntityProfile {
            issuer: self,
            subject,
            kind,
            alt_name,
            crl_url,
            ocsp_url,
        };
        let adapter = SignerAdapter::trusted(signer);
        let mut builder = CertificateBuilder::new(profile, serial, validity, subject_public_key)?;
        let tbs = builder.finalize(&adapter)?;
        let signature = adapter.sign_to_bit_string(&tbs)?;
        encode_signed(&tbs, adapter.algorithm_identifier(), &signature)
    }
}

/// [`Issuer::issue`] as a free function.
pub fn issue_end_entity(
    issuer: &Issuer,
    template: &EndEntityTemplate,
    signer: &dyn Signer,
) -> Result<Vec<u8>, PkixError> {
    issuer.issue(template, signer)
}

fn policy_extensions(cps_uri: Option<&Ia5String>) -> Result<[Extension; 4], PkixError> {
    let [a, b, c, d] =
        CertificateKind::ALL.map(|kind| certificate_policies_extension(kind, cps_uri));
    Ok([a?, b?, c?, d?])
}

struct EndEntityProfile<'a> {
    issuer: &'a Issuer,
    subject: Name,
    kind: CertificateKind,
    alt_name: Option<SubjectAltName>,
    crl_url: Option<Ia5String>,
    ocsp_url: Option<Ia5String>,
}

impl BuilderProfile for EndEntityProfile<'_> {
    fn get_issuer(&self, _subject: &Name) -> Name {
        self.issuer.name.clone()
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
        let mut extensions = Vec::with_capacity(7);
        extensions.push(match self.kind.purpose {
            Purpose::Signature => self.issuer.key_usage_signature.clone(),
            Purpose::Authentication => self.issuer.key_usage_authentication.clone(),
        });
        if let Some(alt_name) = &self.alt_name {
            extensions.push((false, alt_name).to_extension(subject, &extensions)?);
        }
        extensions.push(self.issuer.policies[kind_index(self.kind)].clone());
        let ski = SubjectKeyIdentifier(OctetString::new(crate::key::key_identifier_of_bits(
            subject_key.subject_public_key.raw_bytes(),
        ))?);
        extensions.push((false, &ski).to_extension(subject, &extensions)?);
        extensions.push(self.issuer.authority_key_identifier.clone());
        if let Some(url) = &self.crl_url {
            let crldp = crl_distribution_points(std::slice::from_ref(url));
            extensions.push((false, &crldp).to_extension(subject, &extensions)?);
        }
        if let Some(url) = &self.ocsp_url {
            let aia = authority_info_access(url);
            extensions.push((false, &aia).to_extension(subject, &extensions)?);
        }
        Ok(extensions)
    }
}
