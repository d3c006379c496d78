//! CRLs for the status checker (RFC 5280 §6.3, the parts JPKI's sharded CRLs need), on
//! jpki-pkix's [`CrlView`].
//!
//! A CRL is used for a certificate only when all of these hold (each failure is recorded
//! and the CRL ignored):
//! 1. it parses ([`CrlView`] already refuses unknown critical CRL or entry extensions,
//!    indirect CRLs and `onlySomeReasons` partitions);
//! 2. it was issued by the certificate's issuer: issuer name, authorityKeyIdentifier and
//!    signature ([`CrlView::verify_signature`]);
//! 3. thisUpdate is not after the check time (plus the allowed clock skew), and nextUpdate
//!    is present and not before it;
//! 4. its scope covers the certificate: the issuingDistributionPoint URL is one of the
//!    certificate's cRLDistributionPoints URLs (the shard), and it is not an
//!    onlyContainsCACerts CRL;
//! 5. a delta CRL (deltaCRLIndicator) is combined only with a complete CRL of the same
//!    issuer and scope whose cRLNumber is at least the delta's base number and below the
//!    delta's own number (§5.2.4).
//!
//! The answer: an entry in the delta decides (`removeFromCRL` there means released from
//! hold, so good); otherwise an entry in the complete CRL; otherwise good. Deltas are
//! found through the complete CRL's freshestCRL URLs, and among supplied or cached CRLs.
//! When a delta is advertised but cannot be had, the complete CRL alone answers (it is
//! itself fresh), and the failure is recorded in the evidence.

use std::sync::Arc;

use jpki_crypto::sha256;
use jpki_model::RevocationReason;
use jpki_pkix::crl::CrlView;
use time::OffsetDateTime;

use super::ocsp::state_of;
use super::{SourceAnswer, StatusChecker, StatusOptions};
use crate::path::ParsedCertificate;
use crate::verdict::{CrlReference, Evidence, StatusEvidence};

/// A CRL that passed the checks for one issuer.
#[derive(Debug)]
pub(crate) struct CheckedCrl {
    view: CrlView,
    url: Option<String>,
    issuer_fingerprint: [u8; 32],
    sha256: [u8; 32],
}

impl CheckedCrl {
    fn fresh(&self, at: OffsetDateTime, options: &StatusOptions) -> bool {
        self.view.this_update() <= at + options.clock_skew
            && self.view.next_update().is_some_and(|next| at <= next)
    }

    fn reference(&self) -> CrlReference {
        CrlReference {
            url: self.url.clone(),
            crl_number: self.view.number().map(|n| format!("{n:X}")),
            base_crl_number: self.view.base_number().map(|n| format!("{n:X}")),
            sha256: hex::encode(self.sha256),
            this_update: self.view.this_update(),
            next_update: self.view.next_update(),
        }
    }

    /// Usable for `end_entity` from `issuer` at `at`.
    fn applies(
        &self,
        issuer: &ParsedCertificate,
        end_entity: &ParsedCertificate,
        at: OffsetDateTime,
        options: &StatusOptions,
    ) -> bool {
        self.issuer_fingerprint == issuer.certificate().fingerprint_sha256()
            && self.fresh(at, options)
            && self
                .view
                .covers(end_entity.certificate().crl_distribution_points())
    }

    fn completes(&self, base: &CheckedCrl) -> bool {
        match (
            self.view.base_number(),
            self.view.number(),
            base.view.number(),
        ) {
            (Some(delta_base), Some(delta_number), Some(base_number)) => {
                delta_base <= base_number && base_number < delta_number
            }
            _ => false,
        }
    }
}

/// Parses a CRL (for [`crate::Verifier::supply_crl`]).
pub(crate) fn parse(der: &[u8]) -> Result<CrlView, String> {
    CrlView::from_der(der).map_err(|e| e.to_string())
}

/// Steps 2–4 for a parsed CRL.
fn check(
    view: CrlView,
    url: Option<&str>,
    issuer: &ParsedCertificate,
    end_entity: &ParsedCertificate,
    at: OffsetDateTime,
    options: &StatusOptions,
) -> Result<CheckedCrl, String> {
    view.verify_signature(issuer.certificate())
        .map_err(|e| format!("CRL signature: {e}"))?;
    if view.this_update() > at + options.clock_skew {
        return Err(format!(
            "CRL thisUpdate {} is in the future",
            view.this_update()
        ));
    }
    match view.next_update() {
        None => return Err("the CRL has no nextUpdate".to_owned()),
        Some(next) if at > next => {
            return Err(format!("stale CRL: nextUpdate {next} has passed"));
        }
        Some(_) => {}
    }
    if !view.covers(end_entity.certificate().crl_distribution_points()) {
        return Err(format!(
            "the CRL's issuingDistributionPoint {:?} is not the certificate's distribution point",
            view.distribution_point_urls()
        ));
    }
    if view.only_ca_certificates() {
        return Err("the CRL covers CA certificates only".to_owned());
    }
    let sha256 = sha256(view.der());
    Ok(CheckedCrl {
        view,
        url: url.map(str::to_owned),
        issuer_fingerprint: issuer.certificate().fingerprint_sha256(),
        sha256,
    })
}

/// The answer from a complete CRL and an optional delta over it.
fn answer(
    base: &CheckedCrl,
    delta: Option<&CheckedCrl>,
    end_entity: &ParsedCertificate,
) -> SourceAnswer {
    let serial = end_entity.certificate().serial();
    let revoked = |entry: &jpki_pkix::crl::CrlEntry| SourceAnswer::Revoked {
        time: entry.revoked_at(),
        reason: entry.reason(),
    };
    if let Some(entry) = delta.and_then(|delta| delta.view.entry(serial)) {
        return match entry.reason() {
            Some(RevocationReason::RemoveFromCrl) => SourceAnswer::Good,
            _ => revoked(entry),
        };
    }
    match base.view.entry(serial) {
        Some(entry) => revoked(entry),
        None => SourceAnswer::Good,
    }
}

fn record(
    base: &CheckedCrl,
    delta: Option<&CheckedCrl>,
    answer: &SourceAnswer,
    cached: bool,
    end_entity: &ParsedCertificate,
    evidence: &mut Evidence,
) {
    evidence.status.push((
        end_entity.certificate().serial().clone(),
        StatusEvidence::Crl {
            base: base.reference(),
            delta: delta.map(CheckedCrl::reference),
            state: state_of(answer),
            cached,
        },
    ));
}

impl StatusChecker {
    /// Checks the supplied CRLs naming this issuer and moves those that pass into the
    /// cache; drops cached CRLs past their nextUpdate.
    fn absorb_supplied_crls(
        &self,
        end_entity: &ParsedCertificate,
        issuer: &ParsedCertificate,
        at: OffsetDateTime,
        evidence: &mut Evidence,
    ) {
        let supplied = {
            let mut cache = self.cache();
            let options = self.options().clone();
            cache.crls.retain(|crl| {
                crl.view
                    .next_update()
                    .is_some_and(|next| at <= next + options.clock_skew)
            });
            cache.supplied_crls.clone()
        };
        for der in supplied {
            let Ok(view) = CrlView::from_der(&der) else {
                continue;
            };
            if view.issuer().der() != issuer.certificate().subject().der() {
                continue; // another CA's CRL: not about this certificate
            }
            match check(view, None, issuer, end_entity, at, self.options()) {
                Ok(checked) => {
                    let mut cache = self.cache();
                    cache
                        .supplied_crls
                        .retain(|other| !Arc::ptr_eq(other, &der));
                    cache.crls.push(Arc::new(checked));
                }
                Err(failure) => evidence.failures.push(format!("supplied CRL: {failure}")),
            }
        }
    }

    /// The newest cached complete CRL that applies, and the newest cached delta over it.
    fn cached_pair(
        &self,
        end_entity: &ParsedCertificate,
        issuer: &ParsedCertificate,
        at: OffsetDateTime,
    ) -> Option<(Arc<CheckedCrl>, Option<Arc<CheckedCrl>>)> {
        let cache = self.cache();
        let options = self.options();
        let base = cache
            .crls
            .iter()
            .filter(|crl| !crl.view.is_delta() && crl.applies(issuer, end_entity, at, options))
            .max_by_key(|crl| crl.view.number())?;
        let delta = cache
            .crls
            .iter()
            .filter(|crl| {
                crl.view.is_delta()
                    && crl.applies(issuer, end_entity, at, options)
                    && crl.completes(base)
            })
            .max_by_key(|crl| crl.view.number());
        Some((Arc::clone(base), delta.cloned()))
    }

    /// From cached and supplied CRLs only.
    pub(crate) fn crl_from_store(
        &self,
        end_entity: &ParsedCertificate,
        issuer: &ParsedCertificate,
        _urls: &[String],
        at: OffsetDateTime,
        evidence: &mut Evidence,
    ) -> Option<SourceAnswer> {
        self.absorb_supplied_crls(end_entity, issuer, at, evidence);
        let (base, delta) = self.cached_pair(end_entity, issuer, at)?;
        let answer = answer(&base, delta.as_deref(), end_entity);
        record(&base, delta.as_deref(), &answer, true, end_entity, evidence);
        Some(answer)
    }

    fn fetch_checked(
        &self,
        url: &str,
        end_entity: &ParsedCertificate,
        issuer: &ParsedCertificate,
        at: OffsetDateTime,
    ) -> Result<Arc<CheckedCrl>, String> {
        let body = self
            .transport
            .get(url)
            .and_then(|response| response.into_ok_body(url))
            .map_err(|e| e.to_string())?;
        let view = CrlView::from_der_vec(body).map_err(|e| format!("CRL: {e}"))?;
        let checked = Arc::new(check(
            view,
            Some(url),
            issuer,
            end_entity,
            at,
            self.options(),
        )?);
        self.cache().crls.push(Arc::clone(&checked));
        Ok(checked)
    }

    /// Fetches the complete CRL at `url` (and its delta, when it advertises one).
    pub(crate) fn crl_fetch(
        &self,
        url: &str,
        end_entity: &ParsedCertificate,
        issuer: &ParsedCertificate,
        at: OffsetDateTime,
        evidence: &mut Evidence,
    ) -> Result<SourceAnswer, String> {
        let base = self.fetch_checked(url, end_entity, issuer, at)?;
        if base.view.is_delta() {
            return Err("the distribution point served a delta CRL".to_owned());
        }
        let mut delta = None;
        for delta_url in base.view.freshest_crl_urls() {
            match self.fetch_checked(delta_url, end_entity, issuer, at) {
                Ok(candidate) if candidate.view.is_delta() && candidate.completes(&base) => {
                    delta = Some(candidate);
                    break;
                }
                Ok(_) => evidence.failures.push(format!(
                    "delta CRL {delta_url}: not a delta CRL over base number {:?}",
                    base.view.number()
                )),
                Err(failure) => evidence
                    .failures
                    .push(format!("delta CRL {delta_url}: {failure}")),
            }
        }
        let answer = answer(&base, delta.as_deref(), end_entity);
        record(
            &base,
            delta.as_deref(),
            &answer,
            false,
            end_entity,
            evidence,
        );
        Ok(answer)
    }
}
