//! [`Verifier`]: trust anchors + status checking, and the three checks a relying party runs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use jpki_crypto::SignatureAlgorithm;
use jpki_model::{Purpose, RevocationReason};
use time::OffsetDateTime;

use crate::path::{self, ParsedCertificate};
use crate::status::http::{HttpTransport, StdHttpTransport};
use crate::status::{StatusChecker, StatusOptions, StatusOutcome, StatusPolicy};
use crate::trust::TrustStore;
use crate::verdict::{
    CertificateSummary, CheckKind, Evidence, IndeterminateReason, InvalidReason, Report, Verdict,
};
use crate::{VerifyError, cms, login};

/// A relying party's verifier: its trust anchors, its status policy and its status cache.
/// Cheap to share (`&Verifier` from many threads: the cache is behind a lock).
#[derive(Debug)]
pub struct Verifier {
    trust: TrustStore,
    status: StatusChecker,
    /// Paths already validated, by end-entity fingerprint and purpose, with the window in
    /// which every certificate of the path is valid. The anchors never change for a
    /// verifier, so a path that validated stays valid inside that window: re-checking it
    /// would repeat the same signature verifications. Status is never cached here (the
    /// status checker caches responses until their nextUpdate).
    paths: Mutex<HashMap<([u8; 32], Purpose), CachedPath>>,
    /// Certificates already parsed, by the SHA-256 of their DER: the same signer and CA
    /// certificates arrive in every CMS from one person.
    parsed: Mutex<HashMap<[u8; 32], ParsedCertificate>>,
}

#[derive(Debug, Clone)]
struct CachedPath {
    path: path::ValidatedPath,
    valid_from: OffsetDateTime,
    valid_until: OffsetDateTime,
}

/// Beyond this many cached paths the cache starts over (a bound, not an LRU: a relying
/// party sees far fewer distinct signers than this between restarts).
const PATH_CACHE_LIMIT: usize = 65_536;

impl Verifier {
    /// A verifier with [`StatusOptions::default`] (OCSP first, CRL fallback) over the
    /// built-in HTTP transport.
    pub fn new(trust: TrustStore) -> Self {
        Self::with_status(
            trust,
            StatusOptions::default(),
            Arc::new(StdHttpTransport::default()),
        )
    }

    /// A verifier with explicit status options and transport.
    pub fn with_status(
        trust: TrustStore,
        options: StatusOptions,
        transport: Arc<dyn HttpTransport>,
    ) -> Self {
        Self {
            trust,
            status: StatusChecker::new(options, transport),
            paths: Mutex::new(HashMap::new()),
            parsed: Mutex::new(HashMap::new()),
        }
    }

    pub fn trust_store(&self) -> &TrustStore {
        &self.trust
    }

    pub fn status_policy(&self) -> StatusPolicy {
        self.status.options().policy
    }

    /// Hands in an OCSP response obtained elsewhere (stored evidence, stapled by a client).
    /// It is checked like a fetched one when used; under [`StatusPolicy::Offline`] only
    /// supplied evidence is used.
    pub fn supply_ocsp_response(&self, response_der: &[u8]) -> Result<(), VerifyError> {
        self.status.supply_ocsp_response(response_der)
    }

    /// Hands in a CRL (base or delta) obtained elsewhere; checked when used.
    pub fn supply_crl(&self, crl_der: &[u8]) -> Result<(), VerifyError> {
        self.status.supply_crl(crl_der)
    }

    /// Drops every cached and supplied status object.
    pub fn clear_status_cache(&self) {
        self.status.clear();
    }

    /// Verifies a detached CMS SignedData over `content` at `at`, for a **signature**
    /// certificate:
    /// 1. the message: DER, exactly one SignerInfo, detached, SHA-256 listed in
    ///    digestAlgorithms, signed attributes with contentType = eContentType and
    ///    messageDigest = SHA-256(content), the signer certificate found among the included
    ///    ones (issuerAndSerialNumber or subjectKeyIdentifier), the signature over the DER
    ///    SET OF signed attributes;
    /// 2. the signer certificate's path (see [`crate::path`]), the other included
    ///    certificates serving as intermediates;
    /// 3. its status (see [`crate::status`]).
    pub fn verify_cms_detached(
        &self,
        cms_der: &[u8],
        content: &[u8],
        at: OffsetDateTime,
    ) -> Report {
        self.verify_cms_detached_for(cms_der, content, Purpose::Signature, at)
    }

    /// [`Verifier::verify_cms_detached`] for a signer certificate of another purpose (a
    /// document signed with a user-authentication key, which JPKI does not normally do).
    pub fn verify_cms_detached_for(
        &self,
        cms_der: &[u8],
        content: &[u8],
        purpose: Purpose,
        at: OffsetDateTime,
    ) -> Report {
        let mut report = Report::new(CheckKind::CmsSignature, self.evidence(at));
        match cms::check_detached(cms_der, content, &|der| self.parse_certificate(der)) {
            Ok(message) => {
                report = report.with_certificate(message.signer.certificate());
                report.claimed_signing_time = message.claimed_signing_time;
                self.finish(report, &message.signer, &message.pool, purpose, at)
            }
            Err((reason, signer)) => {
                if let Some(signer) = signer {
                    report = report.with_certificate(signer.certificate());
                }
                report.verdict = Verdict::invalid(reason);
                report
            }
        }
    }

    /// Verifies a login response: `signature` by the key of `certificate_der` (a
    /// **user-authentication** certificate) over `challenge`, with `algorithm` (a card's
    /// `80 2A` over a SHA-256 DigestInfo is [`SignatureAlgorithm::RsaPkcs1Sha256`]), then
    /// the certificate's path and status at `at`. `intermediates` may be empty.
    pub fn verify_login(
        &self,
        certificate_der: &[u8],
        intermediates: &[&[u8]],
        challenge: &[u8],
        signature: &[u8],
        algorithm: SignatureAlgorithm,
        at: OffsetDateTime,
    ) -> Report {
        let mut report = Report::new(CheckKind::LoginResponse, self.evidence(at));
        let certificate = match ParsedCertificate::from_der(certificate_der) {
            Ok(certificate) => certificate,
            Err(detail) => {
                report.verdict = Verdict::invalid(InvalidReason::Malformed {
                    detail: format!("certificate: {detail}"),
                });
                return report;
            }
        };
        report = report.with_certificate(certificate.certificate());
        if let Err(reason) =
            login::check(certificate.certificate(), challenge, signature, algorithm)
        {
            report.verdict = Verdict::invalid(reason);
            return report;
        }
        let pool = parse_pool(intermediates);
        self.finish(report, &certificate, &pool, Purpose::Authentication, at)
    }

    /// Verifies a certificate alone (path and status) for `purpose` at `at`.
    pub fn verify_certificate(
        &self,
        certificate_der: &[u8],
        intermediates: &[&[u8]],
        purpose: Purpose,
        at: OffsetDateTime,
    ) -> Report {
        let mut report = Report::new(CheckKind::Certificate, self.evidence(at));
        let certificate = match ParsedCertificate::from_der(certificate_der) {
            Ok(certificate) => certificate,
            Err(detail) => {
                report.verdict = Verdict::invalid(InvalidReason::Malformed {
                    detail: format!("certificate: {detail}"),
                });
                return report;
            }
        };
        report = report.with_certificate(certificate.certificate());
        let pool = parse_pool(intermediates);
        self.finish(report, &certificate, &pool, purpose, at)
    }

    fn evidence(&self, at: OffsetDateTime) -> Evidence {
        Evidence::new(at, self.status.options().policy)
    }

    /// Path, then status: the common tail of every check.
    fn finish(
        &self,
        mut report: Report,
        end_entity: &ParsedCertificate,
        pool: &[ParsedCertificate],
        purpose: Purpose,
        at: OffsetDateTime,
    ) -> Report {
        let validated = match self.validated_path(end_entity, pool, purpose, at) {
            Ok(validated) => validated,
            Err(failure) => {
                report.path = failure
                    .attempted
                    .iter()
                    .map(|c| CertificateSummary::of(c.certificate()))
                    .collect();
                report.verdict = Verdict::invalid(failure.reason);
                return report;
            }
        };
        report.path = validated
            .certificates()
            .map(CertificateSummary::of)
            .collect();
        let outcome = self.status.check(
            end_entity,
            validated.issuer_of_end_entity(),
            at,
            &mut report.evidence,
        );
        report.verdict = match outcome {
            StatusOutcome::Good => Verdict::Valid,
            StatusOutcome::Revoked {
                time,
                reason: Some(RevocationReason::CertificateHold),
            } => Verdict::invalid(InvalidReason::Held { since: time }),
            StatusOutcome::Revoked { time, reason } => Verdict::invalid(InvalidReason::Revoked {
                time,
                reason: reason.unwrap_or(RevocationReason::Unspecified),
            }),
            StatusOutcome::Unknown => Verdict::indeterminate(IndeterminateReason::StatusUnknown),
            StatusOutcome::Unavailable(reason) => Verdict::indeterminate(reason),
        };
        report
    }
}

impl Verifier {
    /// Parses a certificate, from the cache when the same DER was parsed before.
    fn parse_certificate(&self, der: &[u8]) -> Option<ParsedCertificate> {
        let key = jpki_crypto::sha256(der);
        if let Ok(cache) = self.parsed.lock()
            && let Some(parsed) = cache.get(&key)
        {
            return Some(parsed.clone());
        }
        let parsed = ParsedCertificate::from_der(der).ok()?;
        if let Ok(mut cache) = self.parsed.lock() {
            if cache.len() >= PATH_CACHE_LIMIT {
                cache.clear();
            }
            cache.insert(key, parsed.clone());
        }
        Some(parsed)
    }

    /// The validated path of `end_entity`, from the cache when a path validated earlier is
    /// valid at `at`, else by full RFC 5280 validation (cached on success).
    fn validated_path(
        &self,
        end_entity: &ParsedCertificate,
        pool: &[ParsedCertificate],
        purpose: Purpose,
        at: OffsetDateTime,
    ) -> Result<path::ValidatedPath, path::PathFailure> {
        let key = (end_entity.certificate().fingerprint_sha256(), purpose);
        if let Ok(cache) = self.paths.lock()
            && let Some(cached) = cache.get(&key)
            && cached.valid_from <= at
            && at <= cached.valid_until
        {
            return Ok(cached.path.clone());
        }
        let validated = path::validate(end_entity, pool, &self.trust, purpose, at)?;
        let valid_from = validated.certificates().map(|c| c.not_before()).max();
        let valid_until = validated.certificates().map(|c| c.not_after()).min();
        if let (Some(valid_from), Some(valid_until), Ok(mut cache)) =
            (valid_from, valid_until, self.paths.lock())
        {
            if cache.len() >= PATH_CACHE_LIMIT {
                cache.clear();
            }
            cache.insert(
                key,
                CachedPath {
                    path: validated.clone(),
                    valid_from,
                    valid_until,
                },
            );
        }
        Ok(validated)
    }
}

fn parse_pool(ders: &[&[u8]]) -> Vec<ParsedCertificate> {
    ders.iter()
        .filter_map(|der| ParsedCertificate::from_der(der).ok())
        .collect()
}
