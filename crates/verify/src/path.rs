//! RFC 5280 §6.1 certification path building and validation, the parts JPKI needs.
//!
//! Building: from the end-entity certificate, candidate issuers are the trust anchors and
//! the certificates supplied (from the CMS, or by the caller) whose subject matches the
//! child's issuer name (RFC 5280 §7.1) **or** whose subjectKeyIdentifier equals the child's
//! authorityKeyIdentifier; paths are explored depth-first (anchors first, at most
//! [`MAX_PATH_LEN`] certificates, at most [`MAX_CANDIDATE_PATHS`] complete paths) and each
//! complete path is validated until one passes. Matching by key identifier as well as by
//! name is deliberate: a certificate whose issuer name was changed but whose AKI still
//! points at a trusted key is reported as [`InvalidReason::NameMismatch`], not as an
//! unknown issuer, so the failing rule is named.
//!
//! Validation, from the anchor down, for each certificate (RFC 5280 §6.1.3–6.1.4):
//! 1. its outer signatureAlgorithm equals the TBS `signature` field (§4.1.1.2) and is one
//!    jpki accepts (sha256WithRSAEncryption, ecdsa-with-SHA256);
//! 2. its signature verifies with the issuer's public key (RSA < 2048 bits never does);
//! 3. the check time lies inside its validity (notBefore ≤ t ≤ notAfter);
//! 4. its issuer name equals the issuer's subject (§7.1: byte-equal DER, or the same RDNs
//!    with string values compared case-insensitively after whitespace folding);
//! 5. every critical extension is one this module processes (below);
//! 6. issuing certificates: basicConstraints cA TRUE, keyUsage (when present) with
//!    keyCertSign, pathLenConstraint honoured (§6.1.4 (l)(m)), and the JPKI policy of the
//!    expected purpose (or anyPolicy) asserted;
//! 7. the end entity: not a CA, the JPKI certificate policy of the expected purpose (read
//!    with [`JpkiCertificate::kind`]), and keyUsage present with nonRepudiation (signature
//!    certificates) or digitalSignature (user-authentication certificates).
//!
//! The trust anchor is a certificate here, and its own validity and pathLenConstraint are
//! enforced too (RFC 5937 allows it; OpenSSL does the same): a path through an expired
//! J-LIS root is refused, even though RFC 5280 treats an anchor as a bare name and key.
//!
//! Critical extensions processed: keyUsage, basicConstraints, certificatePolicies,
//! subjectAltName, issuerAltName, extendedKeyUsage, subjectKeyIdentifier,
//! authorityKeyIdentifier, cRLDistributionPoints, freshestCRL, authorityInfoAccess and
//! id-pkix-ocsp-nocheck. Not processed, so refused when critical: nameConstraints,
//! policyConstraints, policyMappings, inhibitAnyPolicy and everything else.
//!
//! Not here: the full RFC 5280 policy tree (JPKI paths are root → end entity; the initial
//! policy set is the one JPKI policy for the expected purpose, and an intermediate must
//! assert it or anyPolicy), name constraints, and revocation of intermediate CA
//! certificates (only the end entity's status is checked, see [`crate::status`]).

use std::sync::Arc;

use const_oid::ObjectIdentifier;
use const_oid::db::rfc5280 as ids;
use der::{Decode, Encode, Header, Reader, SliceReader, Tag, Tagged};
use jpki_crypto::verify_signature;
use jpki_model::Purpose;
use jpki_pkix::JpkiCertificate;
use jpki_pkix::oid::{self as pkix_oid, AnyOid};
use x509_cert::Certificate;
use x509_cert::certificate::Version;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage};
use x509_cert::name::Name;

use crate::trust::TrustStore;
use crate::verdict::{InvalidReason, SignatureTarget, expected_text};

/// Longest path, anchor included.
pub const MAX_PATH_LEN: usize = 8;
/// Most complete candidate paths validated before giving up.
pub const MAX_CANDIDATE_PATHS: usize = 16;

/// anyPolicy (RFC 5280 §4.2.1.4), `2.5.29.32.0`.
const ANY_POLICY: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.32.0");
/// id-pkix-ocsp-nocheck (RFC 6960 §4.2.2.2.1), `1.3.6.1.5.5.7.48.1.5`.
const OCSP_NOCHECK: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.5");

const PROCESSED_EXTENSIONS: [ObjectIdentifier; 12] = [
    ids::ID_CE_KEY_USAGE,
    ids::ID_CE_BASIC_CONSTRAINTS,
    ids::ID_CE_CERTIFICATE_POLICIES,
    ids::ID_CE_SUBJECT_ALT_NAME,
    ids::ID_CE_ISSUER_ALT_NAME,
    ids::ID_CE_EXT_KEY_USAGE,
    ids::ID_CE_SUBJECT_KEY_IDENTIFIER,
    ids::ID_CE_AUTHORITY_KEY_IDENTIFIER,
    ids::ID_CE_CRL_DISTRIBUTION_POINTS,
    ids::ID_CE_FRESHEST_CRL,
    ids::ID_PE_AUTHORITY_INFO_ACCESS,
    OCSP_NOCHECK,
];

/// A certificate parsed once for path work: the jpki-pkix view plus what RFC 5280
/// processing needs that the view does not carry.
#[derive(Debug, Clone)]
pub struct ParsedCertificate {
    pub(crate) jpki: JpkiCertificate,
    pub(crate) subject: Name,
    pub(crate) issuer: Name,
    /// (extnID, critical) in order.
    pub(crate) extensions: Vec<(ObjectIdentifier, bool)>,
    pub(crate) basic_constraints: Option<BasicConstraints>,
    pub(crate) version_3: bool,
    pub(crate) algorithms_agree: bool,
    /// Byte range of the TBSCertificate inside the DER, and the signature bits.
    tbs: std::ops::Range<usize>,
    signature: Vec<u8>,
}

impl ParsedCertificate {
    /// Parses a DER certificate; the error is a human-readable reason.
    pub fn from_der(der: &[u8]) -> Result<Self, String> {
        let jpki = JpkiCertificate::from_der(der).map_err(|e| e.to_string())?;
        let certificate = Certificate::from_der(der).map_err(|e| e.to_string())?;
        let tbs = certificate.tbs_certificate();
        let mut extensions = Vec::new();
        for extension in tbs.extensions().map_or(&[][..], Vec::as_slice) {
            if extensions.iter().any(|(oid, _)| *oid == extension.extn_id) {
                return Err(format!(
                    "extension {} appears more than once",
                    extension.extn_id
                ));
            }
            extensions.push((extension.extn_id, extension.critical));
        }
        let basic_constraints = tbs
            .get_extension::<BasicConstraints>()
            .map_err(|e| format!("basicConstraints: {e}"))?
            .map(|(_, constraints)| constraints);
        tbs.get_extension::<ExtendedKeyUsage>()
            .map_err(|e| format!("extendedKeyUsage: {e}"))?;
        let algorithms_agree = certificate.signature_algorithm() == tbs.signature();
        let (tbs_range, signature) = tbs_and_signature(der)?;
        Ok(Self {
            subject: tbs.subject().clone(),
            issuer: tbs.issuer().clone(),
            version_3: tbs.version() == Version::V3,
            extensions,
            basic_constraints,
            algorithms_agree,
            tbs: tbs_range,
            signature,
            jpki,
        })
    }

    /// The jpki-pkix view.
    pub fn certificate(&self) -> &JpkiCertificate {
        &self.jpki
    }

    pub(crate) fn tbs_der(&self) -> &[u8] {
        self.jpki.der().get(self.tbs.clone()).unwrap_or_default()
    }

    pub(crate) fn is_ca(&self) -> bool {
        self.basic_constraints.as_ref().is_some_and(|bc| bc.ca)
    }

    pub(crate) fn key_usage(&self) -> Option<KeyUsage> {
        self.jpki.key_usage()
    }

    pub(crate) fn self_issued(&self) -> bool {
        names_equal(&self.subject, &self.issuer)
    }

    /// Checks this certificate's signature with `issuer`'s key (steps 1 and 2).
    pub(crate) fn check_signature(
        &self,
        issuer: &ParsedCertificate,
        depth: usize,
    ) -> Result<(), InvalidReason> {
        if !self.algorithms_agree {
            return Err(InvalidReason::Malformed {
                detail: "signatureAlgorithm differs from the TBS signature field".to_owned(),
            });
        }
        let algorithm =
            self.jpki
                .signature_algorithm()
                .ok_or_else(|| InvalidReason::UnsupportedAlgorithm {
                    detail: format!("the signature algorithm of the certificate at depth {depth}"),
                })?;
        verify_signature(
            algorithm,
            issuer.jpki.public_key_der(),
            self.tbs_der(),
            &self.signature,
        )
        .map_err(|_| InvalidReason::BadSignature {
            target: SignatureTarget::Certificate { depth },
        })
    }

    /// notBefore ≤ at ≤ notAfter (step 3).
    pub(crate) fn check_validity(
        &self,
        depth: usize,
        at: time::OffsetDateTime,
    ) -> Result<(), InvalidReason> {
        if at < self.jpki.not_before() {
            return Err(InvalidReason::NotYetValid {
                depth,
                not_before: self.jpki.not_before(),
            });
        }
        if at > self.jpki.not_after() {
            return Err(InvalidReason::Expired {
                depth,
                not_after: self.jpki.not_after(),
            });
        }
        Ok(())
    }

    /// Every critical extension is one we process (step 5).
    pub(crate) fn check_critical_extensions(&self, depth: usize) -> Result<(), InvalidReason> {
        match self
            .extensions
            .iter()
            .find(|(oid, critical)| *critical && !PROCESSED_EXTENSIONS.contains(oid))
        {
            Some((oid, _)) => Err(InvalidReason::UnknownCriticalExtension {
                depth,
                oid: oid.to_string(),
            }),
            None => Ok(()),
        }
    }

    fn could_be_issued_by(&self, issuer: &ParsedCertificate) -> bool {
        let by_key = match (
            self.jpki.authority_key_identifier(),
            issuer.jpki.subject_key_identifier(),
        ) {
            (Some(aki), Some(ski)) => aki == ski,
            _ => false,
        };
        by_key || names_equal(&self.issuer, &issuer.subject)
    }

    fn key_ids_agree(&self, issuer: &ParsedCertificate) -> bool {
        match (
            self.jpki.authority_key_identifier(),
            issuer.jpki.subject_key_identifier(),
        ) {
            (Some(aki), Some(ski)) => aki == ski,
            _ => true,
        }
    }
}

/// The TBSCertificate byte range and the signature BIT STRING contents.
fn tbs_and_signature(der: &[u8]) -> Result<(std::ops::Range<usize>, Vec<u8>), String> {
    let mut outer = SliceReader::new(der).map_err(|e| e.to_string())?;
    let header = Header::decode(&mut outer).map_err(|e| e.to_string())?;
    if header.tag() != Tag::Sequence {
        return Err("a certificate is a SEQUENCE".to_owned());
    }
    let start = usize::try_from(outer.position()).map_err(|e| e.to_string())?;
    let tbs = outer.tlv_bytes().map_err(|e| e.to_string())?;
    let _algorithm = outer.tlv_bytes().map_err(|e| e.to_string())?;
    let signature =
        der::asn1::BitString::decode(&mut outer).map_err(|e| format!("signature: {e}"))?;
    let bits = signature
        .as_bytes()
        .ok_or_else(|| "the signature BIT STRING has unused bits".to_owned())?
        .to_vec();
    Ok((start..start + tbs.len(), bits))
}

/// RFC 5280 §7.1 name equality: byte-equal DER, or the same number of RDNs, each with the
/// same attribute types and values, string values compared after trimming, collapsing
/// internal white space and case folding (RFC 4518 caseIgnoreMatch, without its Unicode
/// normalisation step), other values byte for byte.
pub fn names_equal(a: &Name, b: &Name) -> bool {
    if let (Ok(a_der), Ok(b_der)) = (a.to_der(), b.to_der())
        && a_der == b_der
    {
        return true;
    }
    let a_rdns: Vec<_> = a.iter_rdn().collect();
    let b_rdns: Vec<_> = b.iter_rdn().collect();
    if a_rdns.len() != b_rdns.len() {
        return false;
    }
    a_rdns.iter().zip(b_rdns.iter()).all(|(x, y)| {
        let x: Vec<_> = x.iter().collect();
        let y: Vec<_> = y.iter().collect();
        x.len() == y.len()
            && x.iter().all(|atv| {
                y.iter()
                    .any(|other| other.oid == atv.oid && values_match(&atv.value, &other.value))
            })
    })
}

fn values_match(a: &der::Any, b: &der::Any) -> bool {
    match (string_value(a), string_value(b)) {
        (Some(x), Some(y)) => fold(&x) == fold(&y),
        _ => a.tag() == b.tag() && a.value() == b.value(),
    }
}

fn string_value(value: &der::Any) -> Option<String> {
    let bytes = value.value();
    match value.tag() {
        Tag::Utf8String => String::from_utf8(bytes.to_vec()).ok(),
        Tag::PrintableString | Tag::Ia5String | Tag::VisibleString if bytes.is_ascii() => {
            Some(bytes.iter().map(|&b| char::from(b)).collect())
        }
        Tag::BmpString if bytes.len().is_multiple_of(2) => {
            let units: Vec<u16> = bytes
                .chunks_exact(2)
                .map(|pair| u16::from_be_bytes([pair[0], pair[1]]))
                .collect();
            String::from_utf16(&units).ok()
        }
        _ => None,
    }
}

fn fold(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// A path that validated: end entity first, anchor last.
#[derive(Debug, Clone)]
pub struct ValidatedPath {
    pub(crate) certificates: Vec<ParsedCertificate>,
}

impl ValidatedPath {
    /// End entity first, trust anchor last.
    pub fn certificates(&self) -> impl Iterator<Item = &JpkiCertificate> {
        self.certificates.iter().map(|c| &c.jpki)
    }

    pub fn end_entity(&self) -> &JpkiCertificate {
        &self.certificates[0].jpki
    }

    /// The certificate that issued the end entity.
    pub(crate) fn issuer_of_end_entity(&self) -> &ParsedCertificate {
        &self.certificates[1]
    }
}

/// Why no path validated: the reason from the most promising path, and that path.
#[derive(Debug, Clone)]
pub struct PathFailure {
    pub reason: InvalidReason,
    /// The path that was being validated when the reason was found (may be empty).
    pub attempted: Vec<ParsedCertificate>,
}

/// Builds and validates a path for `end_entity` through `pool` to an anchor of `trust`,
/// for a certificate of `purpose`, at time `at`.
pub fn validate(
    end_entity: &ParsedCertificate,
    pool: &[ParsedCertificate],
    trust: &TrustStore,
    purpose: Purpose,
    at: time::OffsetDateTime,
) -> Result<ValidatedPath, PathFailure> {
    let mut complete: Vec<Vec<&ParsedCertificate>> = Vec::new();
    let mut chain = vec![end_entity];
    extend(&mut chain, pool, trust.parsed_anchors(), &mut complete);
    if complete.is_empty() {
        return Err(PathFailure {
            reason: InvalidReason::UnknownIssuer {
                issuer: end_entity.jpki.issuer().to_rfc4514(),
            },
            attempted: vec![end_entity.clone()],
        });
    }
    let mut first_failure: Option<PathFailure> = None;
    for path in complete {
        match validate_path(&path, purpose, at) {
            Ok(()) => {
                return Ok(ValidatedPath {
                    certificates: path.into_iter().cloned().collect(),
                });
            }
            Err(reason) => {
                if first_failure.is_none() {
                    first_failure = Some(PathFailure {
                        reason,
                        attempted: path.into_iter().cloned().collect(),
                    });
                }
            }
        }
    }
    Err(first_failure.unwrap_or_else(|| PathFailure {
        reason: InvalidReason::UnknownIssuer {
            issuer: end_entity.jpki.issuer().to_rfc4514(),
        },
        attempted: Vec::new(),
    }))
}

fn extend<'a>(
    chain: &mut Vec<&'a ParsedCertificate>,
    pool: &'a [ParsedCertificate],
    anchors: &'a [Arc<ParsedCertificate>],
    complete: &mut Vec<Vec<&'a ParsedCertificate>>,
) {
    let Some(&last) = chain.last() else {
        return;
    };
    // Anchors first, those whose key identifiers agree before those that only match by
    // name (or only by key identifier).
    let mut anchor_candidates: Vec<&ParsedCertificate> = anchors
        .iter()
        .map(Arc::as_ref)
        .filter(|anchor| last.could_be_issued_by(anchor))
        .collect();
    anchor_candidates.sort_by_key(|anchor| !preferred(last, anchor));
    for anchor in anchor_candidates {
        if complete.len() >= MAX_CANDIDATE_PATHS {
            return;
        }
        let mut path = chain.clone();
        path.push(anchor);
        complete.push(path);
    }
    if chain.len() + 1 >= MAX_PATH_LEN {
        return;
    }
    let mut candidates: Vec<&ParsedCertificate> = pool
        .iter()
        .filter(|candidate| {
            last.could_be_issued_by(candidate)
                && !chain.iter().any(|seen| {
                    seen.jpki.fingerprint_sha256() == candidate.jpki.fingerprint_sha256()
                })
        })
        .collect();
    candidates.sort_by_key(|candidate| !preferred(last, candidate));
    for candidate in candidates {
        if complete.len() >= MAX_CANDIDATE_PATHS {
            return;
        }
        chain.push(candidate);
        extend(chain, pool, anchors, complete);
        chain.pop();
    }
}

fn preferred(child: &ParsedCertificate, issuer: &ParsedCertificate) -> bool {
    names_equal(&child.issuer, &issuer.subject) && child.key_ids_agree(issuer)
}

/// Validates one complete path (end entity first, anchor last).
fn validate_path(
    path: &[&ParsedCertificate],
    purpose: Purpose,
    at: time::OffsetDateTime,
) -> Result<(), InvalidReason> {
    let anchor_depth = path.len() - 1;
    let anchor = path[anchor_depth];
    anchor.check_validity(anchor_depth, at)?;
    let mut max_path_length = anchor
        .basic_constraints
        .as_ref()
        .and_then(|bc| bc.path_len_constraint)
        .map(usize::from);

    for depth in (0..anchor_depth).rev() {
        let certificate = path[depth];
        let issuer = path[depth + 1];
        certificate.check_signature(issuer, depth)?;
        certificate.check_validity(depth, at)?;
        if !names_equal(&certificate.issuer, &issuer.subject) {
            return Err(InvalidReason::NameMismatch { depth });
        }
        certificate.check_critical_extensions(depth)?;
        if depth > 0 {
            check_intermediate(certificate, depth, purpose, &mut max_path_length)?;
        } else {
            check_end_entity(certificate, purpose)?;
        }
    }
    Ok(())
}

fn check_intermediate(
    certificate: &ParsedCertificate,
    depth: usize,
    purpose: Purpose,
    max_path_length: &mut Option<usize>,
) -> Result<(), InvalidReason> {
    if !certificate.version_3 || !certificate.is_ca() {
        return Err(InvalidReason::NotACa { depth });
    }
    if let Some(usage) = certificate.key_usage()
        && !usage.key_cert_sign()
    {
        return Err(InvalidReason::WrongKeyUsage {
            depth,
            required: "keyCertSign".to_owned(),
        });
    }
    if !certificate.self_issued() {
        match max_path_length {
            Some(0) => return Err(InvalidReason::PathLengthExceeded { depth }),
            Some(remaining) => *remaining -= 1,
            None => {}
        }
    }
    if let Some(limit) = certificate
        .basic_constraints
        .as_ref()
        .and_then(|bc| bc.path_len_constraint)
        .map(usize::from)
    {
        *max_path_length = Some(max_path_length.map_or(limit, |current| current.min(limit)));
    }
    let arc = policy_arc(purpose);
    let asserts = certificate
        .jpki
        .policies()
        .iter()
        .any(|policy| policy.is_under(&arc) || *policy == ANY_POLICY);
    if !asserts {
        return Err(InvalidReason::WrongPolicy {
            depth,
            detail: format!(
                "an intermediate CA must assert the JPKI {} policy or anyPolicy",
                expected_text(purpose)
            ),
        });
    }
    Ok(())
}

fn check_end_entity(
    certificate: &ParsedCertificate,
    purpose: Purpose,
) -> Result<(), InvalidReason> {
    if certificate.is_ca() {
        return Err(InvalidReason::WrongPolicy {
            depth: 0,
            detail: "a CA certificate is not an end-entity certificate".to_owned(),
        });
    }
    match certificate.jpki.kind() {
        None => {
            return Err(InvalidReason::WrongPolicy {
                depth: 0,
                detail: format!(
                    "no JPKI certificate policy (expected one under {})",
                    policy_arc(purpose)
                ),
            });
        }
        Some(kind) if kind.purpose != purpose => {
            return Err(InvalidReason::WrongPolicy {
                depth: 0,
                detail: format!(
                    "a {} certificate where a {} certificate is required",
                    expected_text(kind.purpose),
                    expected_text(purpose)
                ),
            });
        }
        Some(_) => {}
    }
    let (required, has) = match (purpose, certificate.key_usage()) {
        (Purpose::Signature, usage) => (
            "nonRepudiation",
            usage.is_some_and(|usage| usage.non_repudiation()),
        ),
        (Purpose::Authentication, usage) => (
            "digitalSignature",
            usage.is_some_and(|usage| usage.digital_signature()),
        ),
    };
    if !has {
        return Err(InvalidReason::WrongKeyUsage {
            depth: 0,
            required: required.to_owned(),
        });
    }
    Ok(())
}

fn policy_arc(purpose: Purpose) -> AnyOid {
    match purpose {
        Purpose::Signature => pkix_oid::POLICY_SIGNATURE_ARC.into(),
        Purpose::Authentication => pkix_oid::POLICY_AUTHENTICATION_ARC.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use der::asn1::Any;
    use x509_cert::attr::AttributeTypeAndValue;
    use x509_cert::name::{RdnSequence, RelativeDistinguishedName};

    fn name(parts: &[(ObjectIdentifier, Tag, &str)]) -> Name {
        let mut rdns = RdnSequence::default();
        for (oid, tag, value) in parts {
            let mut rdn = RelativeDistinguishedName::default();
            rdn.insert(AttributeTypeAndValue {
                oid: *oid,
                value: Any::new(*tag, value.as_bytes()).unwrap(),
            })
            .unwrap();
            rdns.push(rdn);
        }
        Name::from_der(&rdns.to_der().unwrap()).unwrap()
    }

    use const_oid::db::rfc4519::{COMMON_NAME, COUNTRY_NAME, ORGANIZATION_NAME};

    #[test]
    fn names_compare_per_rfc_5280_section_7_1() {
        let a = name(&[
            (COUNTRY_NAME, Tag::PrintableString, "JP"),
            (ORGANIZATION_NAME, Tag::Utf8String, "JPKI"),
        ]);
        // Another string type, other case, extra white space: equal.
        let b = name(&[
            (COUNTRY_NAME, Tag::Utf8String, "jp"),
            (ORGANIZATION_NAME, Tag::PrintableString, "  jpki "),
        ]);
        assert!(names_equal(&a, &b));
        // Another value, another order, another type, one RDN fewer: different.
        let c = name(&[
            (COUNTRY_NAME, Tag::PrintableString, "JP"),
            (ORGANIZATION_NAME, Tag::Utf8String, "JPKJ"),
        ]);
        assert!(!names_equal(&a, &c));
        let d = name(&[
            (ORGANIZATION_NAME, Tag::Utf8String, "JPKI"),
            (COUNTRY_NAME, Tag::PrintableString, "JP"),
        ]);
        assert!(!names_equal(&a, &d));
        let e = name(&[
            (COUNTRY_NAME, Tag::PrintableString, "JP"),
            (COMMON_NAME, Tag::Utf8String, "JPKI"),
        ]);
        assert!(!names_equal(&a, &e));
        let f = name(&[(COUNTRY_NAME, Tag::PrintableString, "JP")]);
        assert!(!names_equal(&a, &f));
        // Internal white space folds to one space, but does not vanish.
        let g = name(&[(COMMON_NAME, Tag::Utf8String, "公的  個人")]);
        let h = name(&[(COMMON_NAME, Tag::Utf8String, "公的 個人")]);
        let i = name(&[(COMMON_NAME, Tag::Utf8String, "公的個人")]);
        assert!(names_equal(&g, &h));
        assert!(!names_equal(&g, &i));
    }
}
