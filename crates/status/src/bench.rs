//! Benchmark functions for `jpki bench` (not timed tests: they measure, they do not
//! assert a budget).
//!
//! - [`bench_crl`]: encode and sign one full CRL of N entries, with the time and the
//!   peak resident set size.
//! - [`bench_ocsp_presigned`]: pre-sign N certificates, then serve M GET requests
//!   (RFC 5019 form) from the cache through the same code as the HTTP handler
//!   (percent/base64 decoding, parsing, cache lookup, response headers), without a
//!   socket.
//!
//! How peak memory is measured: Linux keeps the process's high-water mark in
//! `/proc/self/status` (`VmHWM`). Writing `5` to `/proc/self/clear_refs` (Linux ≥ 4.0)
//! resets it to the current RSS, so [`bench_crl`] resets it before building the
//! entries and reads it right after signing: the figure is the peak of this run even
//! inside a long-lived process. When the reset is not permitted,
//! [`CrlBenchReport::peak_reset`] is false and the figure is the process's lifetime
//! peak; run the benchmark in a fresh process then.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use jpki_crypto::{
    CryptoError, RsaKeySize, SignatureAlgorithm, Signer, SoftwareRsaKey, SystemClock,
};
use jpki_model::{Purpose, RevocationReason, SerialNumber};
use jpki_pkix::crl::{CrlEntry, CrlIssuer, CrlKind, CrlTemplate, CrlView, encode_crl};
use jpki_pkix::ocsp::OcspRequest;
use jpki_pkix::ocsp_responder_profile::{OcspResponderParams, issue_ocsp_responder_certificate};
use jpki_pkix::{CaParams, Issuer, build_ca_certificate};
use time::OffsetDateTime;

use crate::http::{HttpState, serve_ocsp_get};
use crate::{
    CrlRepository, InMemoryResponseCache, InMemoryStatus, IssuerId, KnownStatus, OcspConfig,
    OcspService, PresigningResponder, Responder, ShardId, StatusError,
};

/// What [`bench_crl`] measured.
#[derive(Debug, Clone, PartialEq)]
pub struct CrlBenchReport {
    pub entries: usize,
    /// Size of the signed CRL.
    pub der_bytes: usize,
    /// Time to make the entries (not part of the CRL figure).
    pub build_entries: Duration,
    /// Time to encode and sign the CRL: the figure.
    pub encode_and_sign: Duration,
    /// Time for [`CrlView`] to parse it back (what a relying party pays).
    pub parse: Duration,
    /// Resident set size when the run started, in bytes.
    pub rss_before_bytes: Option<u64>,
    /// Peak resident set size up to the signed CRL, in bytes.
    pub peak_rss_bytes: Option<u64>,
    /// Whether the peak was reset at the start (see the module docs).
    pub peak_reset: bool,
}

/// Reads a `kB` field of `/proc/self/status`, in bytes.
fn proc_status_bytes(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        let kilobytes: u64 = rest.trim().strip_suffix("kB")?.trim().parse().ok()?;
        Some(kilobytes * 1024)
    })
}

fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn bench_ca(purpose: Purpose) -> Result<(SoftwareRsaKey, Vec<u8>), StatusError> {
    let key = SoftwareRsaKey::generate(RsaKeySize::Rsa2048)?;
    let now = OffsetDateTime::now_utc();
    let params = CaParams::new(
        purpose,
        SerialNumber::from_hex("01").map_err(|e| StatusError::Config(e.to_string()))?,
        now - time::Duration::days(1),
        now + time::Duration::days(3650),
    );
    let der = build_ca_certificate(&params, &key)?;
    Ok((key, der))
}

fn bench_serial(index: u64) -> Result<SerialNumber, StatusError> {
    // 9-byte serials, as STACK-NOTES §2 measured.
    let mut bytes = [0u8; 9];
    bytes[0] = 0x01;
    bytes[1..].copy_from_slice(&index.to_be_bytes());
    SerialNumber::from_bytes(&bytes).map_err(|e| StatusError::Config(e.to_string()))
}

const REASONS: [Option<RevocationReason>; 6] = [
    Some(RevocationReason::KeyCompromise),
    Some(RevocationReason::Superseded),
    Some(RevocationReason::AffiliationChanged),
    Some(RevocationReason::CessationOfOperation),
    Some(RevocationReason::CertificateHold),
    None,
];

/// Encodes and signs a full CRL of `entries` entries (9-byte serials, a reason on five
/// entries of six, distinct dates, IDP + freshestCRL + AKI + CRL number) with a fresh
/// RSA-2048 CA key, and parses it back.
pub fn bench_crl(entries: usize) -> Result<CrlBenchReport, StatusError> {
    let (key, ca_der) = bench_ca(Purpose::Signature)?;
    let issuer = CrlIssuer::new(&ca_der)?;
    let now = OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let ca_id = IssuerId::new("bench")?;
    let base = "http://127.0.0.1:8080";

    let peak_reset = reset_peak_rss();
    let rss_before_bytes = proc_status_bytes("VmRSS");

    let started = Instant::now();
    let mut list = Vec::with_capacity(entries);
    for index in 0..entries {
        let index = u64::try_from(index).unwrap_or(u64::MAX);
        let revoked_at =
            now - time::Duration::seconds(i64::try_from(index % 31_536_000).unwrap_or(0));
        let reason = REASONS[usize::try_from(index % 6).unwrap_or(0)];
        list.push(CrlEntry::new(&bench_serial(index)?, revoked_at, reason)?);
    }
    let build_entries = started.elapsed();

    let template = CrlTemplate {
        number: u64::try_from(now.unix_timestamp()).unwrap_or(1),
        this_update: now,
        next_update: now + time::Duration::hours(25),
        distribution_point: Some(crate::crl_url(base, &ca_id, ShardId::new(0))),
        only_user_certificates: true,
        kind: CrlKind::Full {
            freshest_crl: Some(crate::delta_crl_url(base, &ca_id, ShardId::new(0))),
        },
    };
    let started = Instant::now();
    let der = encode_crl(&issuer, &template, &list, &key)?;
    let encode_and_sign = started.elapsed();
    let peak_rss_bytes = proc_status_bytes("VmHWM");
    drop(list);

    let der_bytes = der.len();
    let started = Instant::now();
    let view = CrlView::from_der_vec(der)?;
    let parse = started.elapsed();
    if view.len() != entries {
        return Err(StatusError::Config(format!(
            "the CRL parsed back with {} entries instead of {entries}",
            view.len()
        )));
    }
    Ok(CrlBenchReport {
        entries,
        der_bytes,
        build_entries,
        encode_and_sign,
        parse,
        rss_before_bytes,
        peak_rss_bytes,
        peak_reset,
    })
}

/// What [`bench_ocsp_presigned`] measured.
#[derive(Debug, Clone, PartialEq)]
pub struct OcspBenchReport {
    pub certificates: usize,
    /// Time to pre-sign every certificate (SHA-1 and SHA-256 CertIDs).
    pub presign: Duration,
    pub presign_signatures: u64,
    pub queries: usize,
    /// Time to serve every query: the figure.
    pub serve: Duration,
    pub per_query: Duration,
    pub queries_per_second: f64,
    /// Signatures made while serving: 0 when every query was a cache hit.
    pub signatures_while_serving: u64,
    /// Size of one response (the responder certificate included).
    pub response_bytes: usize,
}

/// A signer that counts its signatures.
#[derive(Debug)]
struct Counting {
    key: SoftwareRsaKey,
    count: AtomicU64,
}

impl Signer for Counting {
    fn algorithm(&self) -> SignatureAlgorithm {
        self.key.algorithm()
    }
    fn public_key_der(&self) -> &[u8] {
        self.key.public_key_der()
    }
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.count.fetch_add(1, Ordering::Relaxed);
        self.key.sign(message)
    }
}

/// Pre-signs `certificates` certificates, then serves `queries` RFC 5019 GET requests
/// (SHA-1 CertIDs, no nonce, spread over the certificates) from the cache, through
/// [`serve_ocsp_get`]: path decoding, request parsing, cache lookup and the response
/// with its cache headers. Single-threaded; async only because the seams are.
pub async fn bench_ocsp_presigned(
    certificates: usize,
    queries: usize,
) -> Result<OcspBenchReport, StatusError> {
    let certificates = certificates.max(1);
    let (ca_key, ca_der) = bench_ca(Purpose::Authentication)?;
    let counting = Arc::new(Counting {
        key: SoftwareRsaKey::generate(RsaKeySize::Rsa2048)?,
        count: AtomicU64::new(0),
    });
    let now = OffsetDateTime::now_utc();
    let responder_der = issue_ocsp_responder_certificate(
        &Issuer::new(&ca_der)?,
        &OcspResponderParams::new(
            bench_serial(u64::MAX)?,
            counting.public_key_der().to_vec(),
            now - time::Duration::minutes(1),
        ),
        &ca_key,
    )?;
    let issuer = IssuerId::new("bench")?;
    let signer: Arc<dyn Signer> = counting.clone();
    let responder = Responder::new(issuer.clone(), &ca_der, &responder_der, signer)?;
    let service = OcspService::new(vec![responder], OcspConfig::default())?;
    let status = InMemoryStatus::new();
    let mut serials = Vec::with_capacity(certificates);
    for index in 0..certificates {
        let serial = bench_serial(u64::try_from(index).unwrap_or(0))?;
        let state = match index % 10 {
            3 => KnownStatus::Revoked {
                at: now,
                reason: RevocationReason::KeyCompromise,
            },
            7 => KnownStatus::Held { since: now },
            _ => KnownStatus::Good,
        };
        status.set(&issuer, &serial, ShardId::new(0), state, now);
        serials.push(serial);
    }
    let ocsp = Arc::new(PresigningResponder::new(
        service,
        status,
        InMemoryResponseCache::new(),
        Arc::new(SystemClock),
    ));

    let started = Instant::now();
    for serial in &serials {
        ocsp.on_status_change(&issuer, serial).await?;
    }
    let presign = started.elapsed();
    let presign_signatures = counting.count.load(Ordering::Relaxed);

    let responder = ocsp
        .service()
        .responders()
        .first()
        .ok_or_else(|| StatusError::Config("no responder".to_owned()))?;
    let mut paths = Vec::with_capacity(certificates);
    for serial in &serials {
        let cert_id = responder.cert_id(serial, jpki_crypto::DigestAlgorithm::Sha1)?;
        let request = der::Encode::to_der(&OcspRequest::new(vec![cert_id], None)?)?;
        paths.push(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(request));
    }
    let state = HttpState::new(Arc::clone(&ocsp), Arc::new(CrlRepository::new()));
    let headers = HeaderMap::new();
    let mut response_bytes = 0;
    let started = Instant::now();
    for index in 0..queries {
        let path = &paths[index % paths.len()];
        let response = serve_ocsp_get(&state, path, &headers).await;
        if response.status() != StatusCode::OK {
            return Err(StatusError::Config(format!(
                "benchmark query answered {}",
                response.status()
            )));
        }
        if index == 0 {
            response_bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .map_err(|e| StatusError::Config(format!("benchmark response body: {e}")))?
                .len();
        }
    }
    let serve = started.elapsed();
    let signatures_while_serving = counting.count.load(Ordering::Relaxed) - presign_signatures;
    let count = u32::try_from(queries.max(1)).unwrap_or(u32::MAX);
    Ok(OcspBenchReport {
        certificates,
        presign,
        presign_signatures,
        queries,
        serve,
        per_query: serve / count,
        queries_per_second: queries as f64 / serve.as_secs_f64().max(f64::MIN_POSITIVE),
        signatures_while_serving,
        response_bytes,
    })
}
