//! Revocation status of an end-entity certificate: OCSP (RFC 6960, RFC 5019) and CRLs
//! (RFC 5280 §5, §6.3, with delta CRLs), cached until their nextUpdate, under a policy.
//!
//! | [`StatusPolicy`] | sources, in order |
//! |---|---|
//! | `OcspFirst` (default) | cached or supplied OCSP → the certificate's OCSP URLs → cached or supplied CRL → the certificate's CRL distribution point |
//! | `CrlOnly` | cached or supplied CRL → the CRL distribution point |
//! | `Offline` | cached or supplied OCSP → cached or supplied CRL; never the network |
//!
//! With [`StatusOptions::prefer_fresh`] the online policies ask the network first and use
//! cached or supplied answers only when every fetch fails (the issuer's own portal, which
//! must see a revocation the moment it is made).
//!
//! The first source that yields a *checked* answer decides; every failure on the way is
//! written into [`crate::Evidence::failures`]. An OCSP `unknown` falls through to the CRL
//! (a CRL that covers the certificate's shard and does not list it is an answer); when
//! nothing else answers it stays `StatusUnknown`. With no source at all the verdict is
//! `Indeterminate` — never `Valid`.
//!
//! Checked OCSP responses (RFC 6960 §3.2): signed by the CA or by a delegated responder
//! certificate in `certs` that the CA issued with id-kp-OCSPSigning and that is valid at
//! the check time; the single response's CertID names this CA and serial; thisUpdate not
//! after the check time (plus [`StatusOptions::clock_skew`]); nextUpdate, when present,
//! not before it (absent: thisUpdate no older than
//! [`StatusOptions::max_age_without_next_update`]); the nonce equal to the one sent when
//! the response carries one (required when [`StatusOptions::require_nonce`]).
//!
//! Checked CRLs (the `crl` submodule): signature by the issuing CA, issuer name, this/nextUpdate,
//! the issuing distribution point equal to the certificate's shard URL, unknown critical
//! extensions refused, and a delta CRL applied on top of its base (deltaCRLIndicator ≤
//! the base's cRLNumber, delta number above it, same scope).
//!
//! The cache keeps answers only while they are fresh: OCSP answers under (issuer
//! certificate, serial) until their nextUpdate, CRLs under their URL until theirs. Objects
//! a caller hands in ([`crate::Verifier::supply_ocsp_response`],
//! [`crate::Verifier::supply_crl`]) are checked like fetched ones when first used.
//!
//! Decisions a reviewer will question:
//! - **A missing nonce is accepted by default.** RFC 5019 responders (and ours, which
//!   pre-signs responses) answer from a cache and cannot echo a nonce; freshness is then
//!   bounded by thisUpdate/nextUpdate. A *different* nonce is always refused.
//! - **Only the end entity's status is checked** (JPKI has no intermediate CAs; the CA
//!   certificates are trust anchors).

pub(crate) mod crl;
pub mod http;
pub(crate) mod ocsp;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use jpki_model::{RevocationReason, SerialNumber};
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::VerifyError;
use crate::path::ParsedCertificate;
use crate::verdict::{Evidence, IndeterminateReason};
use http::HttpTransport;

/// Where status may come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum StatusPolicy {
    /// OCSP, then CRL.
    #[default]
    OcspFirst,
    /// CRLs only.
    CrlOnly,
    /// Only what is cached or supplied by the caller; no network.
    Offline,
}

/// How OCSP requests are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum OcspMethod {
    /// RFC 6960 Appendix A.1 POST.
    #[default]
    Post,
    /// RFC 5019 §5 GET with the base64 request in the URL when it is shorter than 255
    /// bytes (POST otherwise), so that HTTP caches can serve it.
    Get,
}

/// Status checking options.
#[derive(Debug, Clone)]
pub struct StatusOptions {
    pub policy: StatusPolicy,
    pub ocsp_method: OcspMethod,
    /// Send a nonce with OCSP requests (RFC 8954). Default true.
    pub send_nonce: bool,
    /// Refuse a response that does not echo the nonce sent. Default false (see the module
    /// documentation).
    pub require_nonce: bool,
    /// How far in the future a thisUpdate may be. Default 5 minutes.
    pub clock_skew: Duration,
    /// How old an OCSP response without nextUpdate may be. Default 1 hour.
    pub max_age_without_next_update: Duration,
    /// Responder to ask instead of the certificate's AIA URLs (a relying party with a
    /// contracted responder). Default none.
    pub ocsp_url_override: Option<String>,
    /// Ask the network before the cache (online policies only). For a verifier that sits
    /// next to its own responder, such as the issuer's portal: a response cached until its
    /// nextUpdate would hide a revocation made since, while a fresh pre-signed response
    /// costs a fraction of a millisecond. Cached and supplied answers remain the fallback
    /// when every fetch fails. Default false (RFC 5019 caching).
    pub prefer_fresh: bool,
}

impl Default for StatusOptions {
    fn default() -> Self {
        Self {
            policy: StatusPolicy::OcspFirst,
            ocsp_method: OcspMethod::Post,
            send_nonce: true,
            require_nonce: false,
            clock_skew: Duration::minutes(5),
            max_age_without_next_update: Duration::hours(1),
            ocsp_url_override: None,
            prefer_fresh: false,
        }
    }
}

impl StatusOptions {
    /// The defaults with another policy.
    pub fn with_policy(policy: StatusPolicy) -> Self {
        Self {
            policy,
            ..Self::default()
        }
    }
}

/// What the status sources concluded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StatusOutcome {
    Good,
    Revoked {
        time: OffsetDateTime,
        reason: Option<RevocationReason>,
    },
    Unknown,
    Unavailable(IndeterminateReason),
}

/// Answer from one source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SourceAnswer {
    Good,
    Revoked {
        time: OffsetDateTime,
        reason: Option<RevocationReason>,
    },
    Unknown,
}

#[derive(Debug, Default)]
pub(crate) struct Cache {
    /// Checked OCSP answers, by (issuer certificate SHA-256, serial).
    pub(crate) ocsp: HashMap<([u8; 32], SerialNumber), ocsp::CachedOcsp>,
    /// OCSP responses handed in and not yet used.
    pub(crate) supplied_ocsp: Vec<Arc<Vec<u8>>>,
    /// Checked CRLs (complete and delta), each for the issuer it was checked against.
    pub(crate) crls: Vec<Arc<crl::CheckedCrl>>,
    /// CRLs handed in and not yet used.
    pub(crate) supplied_crls: Vec<Arc<Vec<u8>>>,
}

/// The status engine a [`crate::Verifier`] owns.
#[derive(Debug)]
pub(crate) struct StatusChecker {
    options: StatusOptions,
    pub(crate) transport: Arc<dyn HttpTransport>,
    cache: Mutex<Cache>,
}

impl StatusChecker {
    pub(crate) fn new(options: StatusOptions, transport: Arc<dyn HttpTransport>) -> Self {
        Self {
            options,
            transport,
            cache: Mutex::new(Cache::default()),
        }
    }

    pub(crate) fn options(&self) -> &StatusOptions {
        &self.options
    }

    pub(crate) fn cache(&self) -> MutexGuard<'_, Cache> {
        self.cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn clear(&self) {
        *self.cache() = Cache::default();
    }

    pub(crate) fn supply_ocsp_response(&self, der: &[u8]) -> Result<(), VerifyError> {
        jpki_pkix::ocsp::OcspResponseView::from_der(der)
            .map_err(|e| VerifyError::Evidence(format!("OCSP response: {e}")))?;
        self.cache().supplied_ocsp.push(Arc::new(der.to_vec()));
        Ok(())
    }

    pub(crate) fn supply_crl(&self, der: &[u8]) -> Result<(), VerifyError> {
        crl::parse(der).map_err(|e| VerifyError::Evidence(format!("CRL: {e}")))?;
        self.cache().supplied_crls.push(Arc::new(der.to_vec()));
        Ok(())
    }

    /// The status of `end_entity` (issued by `issuer`) at `at`, recording what was used.
    pub(crate) fn check(
        &self,
        end_entity: &ParsedCertificate,
        issuer: &ParsedCertificate,
        at: OffsetDateTime,
        evidence: &mut Evidence,
    ) -> StatusOutcome {
        let policy = self.options.policy;
        let online = policy != StatusPolicy::Offline;
        let use_ocsp = policy != StatusPolicy::CrlOnly;
        let ee = end_entity.certificate();
        let ocsp_urls: Vec<String> = match &self.options.ocsp_url_override {
            Some(url) => vec![url.clone()],
            None => ee.ocsp_urls().to_vec(),
        };
        let crl_urls = ee.crl_distribution_points().to_vec();
        let mut saw_unknown = false;
        let mut tried_any = false;

        // 1. OCSP: cache and supplied responses, then the network.
        let fresh_first = online && self.options.prefer_fresh;
        if use_ocsp {
            if !fresh_first {
                match self.ocsp_from_store(end_entity, issuer, at, evidence) {
                    Some(SourceAnswer::Unknown) => saw_unknown = true,
                    Some(answer) => return outcome(answer),
                    None => {}
                }
            }
            if online {
                for url in &ocsp_urls {
                    tried_any = true;
                    match self.ocsp_fetch(url, end_entity, issuer, at, evidence) {
                        Ok(SourceAnswer::Unknown) => {
                            saw_unknown = true;
                            break;
                        }
                        Ok(answer) => return outcome(answer),
                        Err(failure) => evidence.failures.push(format!("OCSP {url}: {failure}")),
                    }
                }
            }
            if fresh_first && !saw_unknown {
                match self.ocsp_from_store(end_entity, issuer, at, evidence) {
                    Some(SourceAnswer::Unknown) => saw_unknown = true,
                    Some(answer) => return outcome(answer),
                    None => {}
                }
            }
        }

        // 2. CRL: cache and supplied CRLs, then the distribution points (the other way
        //    round when fresh answers are preferred).
        if !fresh_first
            && let Some(answer) = self.crl_from_store(end_entity, issuer, &crl_urls, at, evidence)
        {
            return outcome(answer);
        }
        if online {
            for url in &crl_urls {
                tried_any = true;
                match self.crl_fetch(url, end_entity, issuer, at, evidence) {
                    Ok(answer) => return outcome(answer),
                    Err(failure) => evidence.failures.push(format!("CRL {url}: {failure}")),
                }
            }
        }
        if fresh_first
            && let Some(answer) = self.crl_from_store(end_entity, issuer, &crl_urls, at, evidence)
        {
            return outcome(answer);
        }

        // 3. Nothing decided.
        if saw_unknown {
            return StatusOutcome::Unknown;
        }
        if !evidence.failures.is_empty() {
            return StatusOutcome::Unavailable(IndeterminateReason::StatusUnavailable {
                attempts: evidence.failures.clone(),
            });
        }
        if !online {
            return StatusOutcome::Unavailable(IndeterminateReason::NoStatusEvidence);
        }
        if !tried_any {
            return StatusOutcome::Unavailable(IndeterminateReason::NoStatusSource);
        }
        StatusOutcome::Unavailable(IndeterminateReason::StatusUnavailable {
            attempts: Vec::new(),
        })
    }
}

fn outcome(answer: SourceAnswer) -> StatusOutcome {
    match answer {
        SourceAnswer::Good => StatusOutcome::Good,
        SourceAnswer::Revoked { time, reason } => StatusOutcome::Revoked { time, reason },
        SourceAnswer::Unknown => StatusOutcome::Unknown,
    }
}
