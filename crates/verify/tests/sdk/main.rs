//! The one integration test binary of jpki-verify.
//!
//! - CMS both ways against OpenSSL 3 (an independent producer and consumer): our
//!   `sign_detached` checked by `openssl cms -verify`, and `openssl cms -sign` output
//!   checked by the SDK.
//! - One fixture per RFC 5280 rule, each breaking exactly that rule, made with the
//!   test-only builder in `fixtures.rs` (and a baseline from the same builder that passes).
//! - Login responses, status by OCSP (responses built with jpki-pkix's OCSP types, served
//!   over HTTP by a local test server, and OpenSSL's own `ocsp -index` responder) and by
//!   CRLs, the real J-LIS anchors, the JSON and text forms of a report.
//! - `benchmark_verifications_per_second` (ignored; run it in release, see its doc).
//!
//! Requires the `openssl` CLI; the tests fail loudly when it is missing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod fixtures;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread;

use der::asn1::OctetString;
use der::{Decode, Encode};
use fixtures::{Spec, aki, basic_constraints, basic_info_san, build, ca_name, key_usage};
use fixtures::{ocsp_signing_eku, policies, ski, subject, unknown_critical};
use jpki_crypto::{
    DigestAlgorithm, DigestInfo, RsaKeySize, SignatureAlgorithm, Signer, SoftwareRsaKey,
};
use jpki_model::{CertificateKind, Purpose, RevocationReason, SerialNumber};
use jpki_pkix::cms::sign_detached;
use jpki_pkix::crl::{CrlEntry, CrlIssuer, CrlKind, CrlTemplate, encode_crl};
use jpki_pkix::ocsp::{
    BasicOcspResponse, CertId, CertStatus, OcspResponse, ResponderId, ResponseData, SingleResponse,
    Version, generalized_time, nonce_extension, responder_key_hash,
};
use jpki_pkix::oid::{self, AnyOid};
use jpki_pkix::{CaParams, EndEntityTemplate, Issuer, JpkiCertificate, build_ca_certificate};
use jpki_verify::status::http::{HttpResponse, HttpTransport, TransportError};
use jpki_verify::status::{OcspMethod, StatusOptions, StatusPolicy};
use jpki_verify::{
    CertificateState, CheckKind, EXIT_INDETERMINATE, EXIT_INVALID, EXIT_VALID, IndeterminateReason,
    InvalidReason, Report, SignatureTarget, StatusEvidence, TrustStore, Verdict, Verifier,
    VerifyError,
};
use tempfile::TempDir;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use x509_cert::ext::pkix::KeyUsages;

// ---------------------------------------------------------------------------------------
// The world: two roots like pkix's, a resident key, spare keys. RSA keys cost ~80 ms each.

const ROOT_NOT_BEFORE: OffsetDateTime = datetime!(2026-01-01 00:00 UTC);
const ROOT_NOT_AFTER: OffsetDateTime = datetime!(2036-01-01 00:00 UTC);
const LEAF_NOT_BEFORE: OffsetDateTime = datetime!(2026-02-01 00:00 UTC);
const LEAF_NOT_AFTER: OffsetDateTime = datetime!(2031-01-01 00:00 UTC);
/// The instant every check runs at unless a test says otherwise.
const AT: OffsetDateTime = datetime!(2026-06-01 12:00 UTC);

struct World {
    sign_root_key: SoftwareRsaKey,
    sign_root_der: Vec<u8>,
    auth_root_key: SoftwareRsaKey,
    auth_root_der: Vec<u8>,
    resident_key: SoftwareRsaKey,
    /// An intermediate CA's key, a foreign CA's key, a responder's key.
    spare_keys: [SoftwareRsaKey; 3],
    /// Issued by jpki-pkix's real issuer.
    sign_leaf_der: Vec<u8>,
    auth_leaf_der: Vec<u8>,
    phone_auth_leaf_der: Vec<u8>,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let key = || SoftwareRsaKey::generate(RsaKeySize::Rsa2048).unwrap();
        let sign_root_key = key();
        let auth_root_key = key();
        let sign_root_der = root(Purpose::Signature, &sign_root_key);
        let auth_root_der = root(Purpose::Authentication, &auth_root_key);
        let resident_key = key();
        let issue = |kind: CertificateKind, serial: &str| {
            let (root_der, root_key) = match kind.purpose {
                Purpose::Signature => (&sign_root_der, &sign_root_key),
                Purpose::Authentication => (&auth_root_der, &auth_root_key),
            };
            Issuer::new(root_der)
                .unwrap()
                .issue(&template(kind, serial, &resident_key, None), root_key)
                .unwrap()
        };
        World {
            sign_leaf_der: issue(CertificateKind::CARD_SIGNATURE, "1001"),
            auth_leaf_der: issue(CertificateKind::CARD_AUTHENTICATION, "1002"),
            phone_auth_leaf_der: issue(CertificateKind::PHONE_AUTHENTICATION, "1003"),
            spare_keys: [key(), key(), key()],
            sign_root_key,
            sign_root_der,
            auth_root_key,
            auth_root_der,
            resident_key,
        }
    })
}

fn root(purpose: Purpose, key: &SoftwareRsaKey) -> Vec<u8> {
    let serial = match purpose {
        Purpose::Signature => "01",
        Purpose::Authentication => "02",
    };
    let params = CaParams::new(
        purpose,
        SerialNumber::from_hex(serial).unwrap(),
        ROOT_NOT_BEFORE,
        ROOT_NOT_AFTER,
    );
    build_ca_certificate(&params, key).unwrap()
}

fn template(
    kind: CertificateKind,
    serial: &str,
    key: &SoftwareRsaKey,
    ocsp_url: Option<String>,
) -> EndEntityTemplate {
    EndEntityTemplate {
        kind,
        serial: SerialNumber::from_hex(serial).unwrap(),
        subject_cn: format!("2026JP{serial:0>10}"),
        subject_public_key_der: key.public_key_der().to_vec(),
        basic_info: (kind.purpose == Purpose::Signature).then(|| {
            jpki_model::BasicInfo::new(
                "公的 太郎",
                None,
                "東京都千代田区霞が関2-1-2",
                None,
                jpki_model::BirthDate::parse("1990-01-02").unwrap(),
                jpki_model::Sex::Male,
            )
            .unwrap()
        }),
        not_before: LEAF_NOT_BEFORE,
        not_after: LEAF_NOT_AFTER,
        crl_distribution_point: None,
        ocsp_url,
    }
}

fn trust() -> TrustStore {
    let w = world();
    let mut store = TrustStore::new();
    assert!(store.add_der(&w.sign_root_der, "sign root").unwrap());
    assert!(store.add_der(&w.auth_root_der, "auth root").unwrap());
    store
}

/// A transport for tests that must not touch the network.
#[derive(Debug)]
struct NoNetwork;

impl HttpTransport for NoNetwork {
    fn get(&self, url: &str) -> Result<HttpResponse, TransportError> {
        panic!("unexpected GET {url}")
    }
    fn post(&self, url: &str, _: &str, _: &[u8]) -> Result<HttpResponse, TransportError> {
        panic!("unexpected POST {url}")
    }
}

/// Signs the way a card does: the host hashes and builds the DigestInfo, the card pads
/// and signs it (`80 2A 00 80 <DigestInfo>`).
#[derive(Debug)]
struct CardLike<'a>(&'a SoftwareRsaKey);

impl Signer for CardLike<'_> {
    fn algorithm(&self) -> SignatureAlgorithm {
        SignatureAlgorithm::RsaPkcs1Sha256
    }
    fn public_key_der(&self) -> &[u8] {
        self.0.public_key_der()
    }
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, jpki_crypto::CryptoError> {
        self.0
            .sign_digest_info(&DigestInfo::of(DigestAlgorithm::Sha256, message).to_der())
    }
}

fn offline_verifier() -> Verifier {
    Verifier::with_status(
        trust(),
        StatusOptions::with_policy(StatusPolicy::Offline),
        Arc::new(NoNetwork),
    )
}

// ---------------------------------------------------------------------------------------
// OCSP responses made with jpki-pkix's types.

struct OcspFixture<'a> {
    issuer_der: &'a [u8],
    serial: SerialNumber,
    status: CertStatus,
    this_update: OffsetDateTime,
    next_update: Option<OffsetDateTime>,
    nonce: Option<Vec<u8>>,
    /// The delegated responder certificate and key; `None` signs with `ca_key`.
    responder: Option<(&'a [u8], &'a SoftwareRsaKey)>,
    ca_key: &'a SoftwareRsaKey,
}

impl<'a> OcspFixture<'a> {
    fn good(issuer_der: &'a [u8], ca_key: &'a SoftwareRsaKey, leaf_der: &[u8]) -> Self {
        Self {
            issuer_der,
            serial: JpkiCertificate::from_der(leaf_der)
                .unwrap()
                .serial()
                .clone(),
            status: CertStatus::good(),
            this_update: AT - Duration::hours(1),
            next_update: Some(AT + Duration::hours(23)),
            nonce: None,
            responder: None,
            ca_key,
        }
    }

    fn der(&self) -> Vec<u8> {
        let issuer = JpkiCertificate::from_der(self.issuer_der).unwrap();
        let cert_id = CertId::for_issuer(&issuer, &self.serial, DigestAlgorithm::Sha1).unwrap();
        let (key_bits, signer, certs): (Vec<u8>, &dyn Signer, _) = match self.responder {
            None => (issuer.public_key_bits().to_vec(), self.ca_key, None),
            Some((cert, key)) => (
                JpkiCertificate::from_der(cert)
                    .unwrap()
                    .public_key_bits()
                    .to_vec(),
                key,
                Some(vec![x509_cert::Certificate::from_der(cert).unwrap()]),
            ),
        };
        let data = ResponseData {
            version: Version::V1,
            responder_id: ResponderId::ByKey(
                OctetString::new(responder_key_hash(&key_bits)).unwrap(),
            ),
            produced_at: generalized_time(self.this_update).unwrap(),
            responses: vec![SingleResponse {
                cert_id,
                cert_status: self.status.clone(),
                this_update: generalized_time(self.this_update).unwrap(),
                next_update: self.next_update.map(|t| generalized_time(t).unwrap()),
                single_extensions: None,
            }],
            response_extensions: self
                .nonce
                .as_ref()
                .map(|nonce| vec![nonce_extension(nonce).unwrap()]),
        };
        let basic = BasicOcspResponse::sign(data, certs, signer).unwrap();
        OcspResponse::successful(&basic).unwrap().to_der().unwrap()
    }
}

/// Verifies a certificate offline with a good OCSP response from `issuer` supplied.
fn check_with_good_status(
    leaf_der: &[u8],
    intermediates: &[&[u8]],
    issuer_der: &[u8],
    issuer_key: &SoftwareRsaKey,
    purpose: Purpose,
) -> Report {
    let verifier = offline_verifier();
    verifier
        .supply_ocsp_response(&OcspFixture::good(issuer_der, issuer_key, leaf_der).der())
        .unwrap();
    verifier.verify_certificate(leaf_der, intermediates, purpose, AT)
}

fn invalid_reason(report: &Report) -> &InvalidReason {
    match &report.verdict {
        Verdict::Invalid { reason } => reason,
        other => panic!("expected Invalid, got {other:?}\n{}", report.render()),
    }
}

fn indeterminate_reason(report: &Report) -> &IndeterminateReason {
    match &report.verdict {
        Verdict::Indeterminate { reason } => reason,
        other => panic!("expected Indeterminate, got {other:?}\n{}", report.render()),
    }
}

fn assert_valid(report: &Report) {
    assert_eq!(
        report.verdict,
        Verdict::Valid,
        "{}\n{}",
        report.render(),
        report.to_json()
    );
    assert_eq!(report.exit_code(), EXIT_VALID);
}

// ---------------------------------------------------------------------------------------
// OpenSSL helpers.

fn openssl(args: &[&str]) -> std::process::Output {
    Command::new("openssl")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("the openssl CLI is required and could not be run: {e}"))
}

fn write(dir: &TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn pem(label: &str, der: &[u8]) -> String {
    der::pem::encode_string(label, der::pem::LineEnding::LF, der).unwrap()
}

fn path_str(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// `-attime` for OpenSSL: seconds since the epoch.
fn attime(at: OffsetDateTime) -> String {
    at.unix_timestamp().to_string()
}

// ---------------------------------------------------------------------------------------
// CMS, both directions against OpenSSL.

const DOCUMENT: &[u8] = b"%PDF-1.7 application form \x00\x01\x02 \xe5\x85\xac\xe7\x9a\x84";

#[test]
fn our_detached_signature_verifies_with_openssl_cms() {
    let w = world();
    let dir = TempDir::new().unwrap();
    // Signed through the card's one operation.
    let signature = sign_detached(
        DOCUMENT,
        &CardLike(&w.resident_key),
        &w.sign_leaf_der,
        &[],
        AT - Duration::minutes(5),
    )
    .unwrap();
    let cms = write(&dir, "doc.p7s", &signature);
    let content = write(&dir, "doc.bin", DOCUMENT);
    let ca = write(
        &dir,
        "ca.pem",
        pem("CERTIFICATE", &w.sign_root_der).as_bytes(),
    );
    let at = attime(AT);
    let verify = |content: &Path| {
        openssl(&[
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            path_str(&cms),
            "-content",
            path_str(content),
            "-CAfile",
            path_str(&ca),
            "-purpose",
            "any",
            "-attime",
            &at,
            "-out",
            "/dev/null",
        ])
    };
    let output = verify(&content);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stderr.contains("Verification successful"),
        "openssl cms -verify: {stderr}"
    );
    // One changed byte and OpenSSL refuses it too.
    let mut altered = DOCUMENT.to_vec();
    altered[3] ^= 1;
    let altered = write(&dir, "altered.bin", &altered);
    let output = verify(&altered);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("Verification failure"));
    // And OpenSSL reads the three signed attributes we wrote.
    let printed = openssl(&[
        "cms",
        "-cmsout",
        "-print",
        "-inform",
        "DER",
        "-in",
        path_str(&cms),
    ]);
    let printed = String::from_utf8_lossy(&printed.stdout);
    for attribute in ["contentType", "signingTime", "messageDigest"] {
        assert!(printed.contains(attribute), "{attribute} in\n{printed}");
    }
}

#[test]
fn openssl_cms_signatures_verify_with_the_sdk() {
    let w = world();
    let dir = TempDir::new().unwrap();
    let leaf = write(
        &dir,
        "leaf.pem",
        pem("CERTIFICATE", &w.sign_leaf_der).as_bytes(),
    );
    let key = write(
        &dir,
        "leaf.key",
        pem("PRIVATE KEY", w.resident_key.pkcs8_der().expose()).as_bytes(),
    );
    let content = write(&dir, "doc.bin", DOCUMENT);
    let signed = dir.path().join("doc.p7s");
    let output = openssl(&[
        "cms",
        "-sign",
        "-binary",
        "-outform",
        "DER",
        "-md",
        "sha256",
        "-signer",
        path_str(&leaf),
        "-inkey",
        path_str(&key),
        "-in",
        path_str(&content),
        "-out",
        path_str(&signed),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let cms = std::fs::read(&signed).unwrap();

    let verifier = offline_verifier();
    verifier
        .supply_ocsp_response(
            &OcspFixture::good(&w.sign_root_der, &w.sign_root_key, &w.sign_leaf_der).der(),
        )
        .unwrap();
    let report = verifier.verify_cms_detached(&cms, DOCUMENT, AT);
    assert_valid(&report);
    assert_eq!(report.subject_of_check, CheckKind::CmsSignature);
    assert_eq!(report.kind, Some(CertificateKind::CARD_SIGNATURE));
    assert_eq!(report.basic_info.as_ref().unwrap().name(), "公的 太郎");
    assert!(
        report.claimed_signing_time.is_some(),
        "OpenSSL adds signingTime"
    );

    // The same signature over other content.
    let report = verifier.verify_cms_detached(&cms, b"another document", AT);
    assert_eq!(invalid_reason(&report), &InvalidReason::DigestMismatch);

    // The signer named by subjectKeyIdentifier (-keyid) instead of issuer and serial.
    let by_key_id = dir.path().join("keyid.p7s");
    let output = openssl(&[
        "cms",
        "-sign",
        "-binary",
        "-keyid",
        "-outform",
        "DER",
        "-md",
        "sha256",
        "-signer",
        path_str(&leaf),
        "-inkey",
        path_str(&key),
        "-in",
        path_str(&content),
        "-out",
        path_str(&by_key_id),
    ]);
    assert!(output.status.success());
    let by_key_id = std::fs::read(&by_key_id).unwrap();
    let view = jpki_pkix::cms::SignedDataView::from_der(&by_key_id).unwrap();
    assert!(matches!(
        view.signer_infos[0].signer_id,
        jpki_pkix::cms::SignerIdentifier::SubjectKeyIdentifier(_)
    ));
    assert_valid(&verifier.verify_cms_detached(&by_key_id, DOCUMENT, AT));

    // Without the certificate (-nocerts) the signer cannot be found.
    let bare = dir.path().join("bare.p7s");
    let output = openssl(&[
        "cms",
        "-sign",
        "-binary",
        "-nocerts",
        "-outform",
        "DER",
        "-md",
        "sha256",
        "-signer",
        path_str(&leaf),
        "-inkey",
        path_str(&key),
        "-in",
        path_str(&content),
        "-out",
        path_str(&bare),
    ]);
    assert!(output.status.success());
    let report = verifier.verify_cms_detached(&std::fs::read(&bare).unwrap(), DOCUMENT, AT);
    assert_eq!(
        invalid_reason(&report),
        &InvalidReason::SignerCertificateNotFound
    );
}

#[test]
fn our_signatures_round_trip_and_the_report_reads_well() {
    let w = world();
    let signing_time = AT - Duration::minutes(2);
    let cms = sign_detached(
        DOCUMENT,
        &w.resident_key,
        &w.sign_leaf_der,
        &[&w.sign_root_der],
        signing_time,
    )
    .unwrap();
    let verifier = offline_verifier();
    let ocsp = OcspFixture::good(&w.sign_root_der, &w.sign_root_key, &w.sign_leaf_der).der();
    verifier.supply_ocsp_response(&ocsp).unwrap();
    let report = verifier.verify_cms_detached(&cms, DOCUMENT, AT);
    assert_valid(&report);
    assert_eq!(report.claimed_signing_time, Some(signing_time));
    assert_eq!(report.path.len(), 2);
    assert_eq!(
        report.path[1].sha256,
        hex::encode(
            JpkiCertificate::from_der(&w.sign_root_der)
                .unwrap()
                .fingerprint_sha256()
        )
    );
    // The evidence keeps the OCSP response itself.
    let [
        (
            serial,
            StatusEvidence::Ocsp {
                response_der,
                state,
                cached,
                ..
            },
        ),
    ] = report.evidence.status.as_slice()
    else {
        panic!("{:?}", report.evidence)
    };
    assert_eq!(serial.to_hex(), "1001");
    assert_eq!(response_der.0, ocsp);
    assert_eq!(state, &CertificateState::Good);
    assert!(!cached);

    // JSON round trip.
    let json = report.to_json();
    assert!(json.contains("\"verdict\": \"valid\""), "{json}");
    assert_eq!(Report::from_json(&json).unwrap(), report);

    // A portal re-checks later from what it stored: the JSON report and the document.
    let stored = Report::from_json(&json).unwrap();
    let recheck = offline_verifier();
    for (_, evidence) in &stored.evidence.status {
        if let StatusEvidence::Ocsp { response_der, .. } = evidence {
            recheck.supply_ocsp_response(&response_der.0).unwrap();
        }
    }
    let again = recheck.verify_cms_detached(&cms, DOCUMENT, stored.evidence.checked_at);
    assert_valid(&again);
    assert_eq!(again.path, stored.path);

    // The text for a person: Japanese first, English after, the basic 4 information.
    let text = report.render();
    let first = text.lines().next().unwrap();
    assert!(
        first.starts_with("検証結果: 有効 / Result: VALID"),
        "{text}"
    );
    for expected in [
        "署名用電子証明書",
        "card signature certificate",
        "氏名 / Name: 公的 太郎",
        "住所 / Address: 東京都千代田区霞が関2-1-2",
        "1990-01-02",
        "OCSP good",
    ] {
        assert!(text.contains(expected), "{expected} in\n{text}");
    }

    // A second check is served from the cache, and says so.
    let again = verifier.verify_cms_detached(&cms, DOCUMENT, AT + Duration::hours(1));
    assert_valid(&again);
    assert!(matches!(
        again.evidence.status.as_slice(),
        [(_, StatusEvidence::Ocsp { cached: true, .. })]
    ));
}

#[test]
fn cms_message_rules_each_have_their_failure() {
    let w = world();
    let verifier = offline_verifier();
    let cms = sign_detached(DOCUMENT, &w.resident_key, &w.sign_leaf_der, &[], AT).unwrap();

    // The signature is the last element of the DER: flip its last byte.
    let mut tampered = cms.clone();
    *tampered.last_mut().unwrap() ^= 0x01;
    let report = verifier.verify_cms_detached(&tampered, DOCUMENT, AT);
    assert_eq!(
        invalid_reason(&report),
        &InvalidReason::BadSignature {
            target: SignatureTarget::Cms
        }
    );
    assert!(report.certificate.is_some(), "the signer was found");

    // Garbage and truncation are Malformed, never a panic.
    for bad in [&b"not cms"[..], &cms[..cms.len() / 2], &[]] {
        let report = verifier.verify_cms_detached(bad, DOCUMENT, AT);
        assert!(
            matches!(invalid_reason(&report), InvalidReason::Malformed { .. }),
            "{report:?}"
        );
        assert_eq!(report.exit_code(), EXIT_INVALID);
    }

    // A user-authentication key signing a document: the signer is the wrong kind.
    let by_auth = sign_detached(DOCUMENT, &w.resident_key, &w.auth_leaf_der, &[], AT).unwrap();
    let report = verifier.verify_cms_detached(&by_auth, DOCUMENT, AT);
    assert!(matches!(
        invalid_reason(&report),
        InvalidReason::WrongPolicy { depth: 0, .. }
    ));
}

// ---------------------------------------------------------------------------------------
// Path validation: a baseline that passes, then one broken rule per fixture.

/// A leaf shaped like jpki-pkix's profile, issued under `issuer_name` by `issuer_key`.
fn leaf_spec(purpose: Purpose, issuer_name: x509_cert::name::Name, issuer_key: &[u8]) -> Spec {
    let w = world();
    let key = w.resident_key.public_key_der();
    let mut extensions = Vec::new();
    match purpose {
        Purpose::Signature => {
            extensions.push(key_usage(&[
                KeyUsages::DigitalSignature,
                KeyUsages::NonRepudiation,
            ]));
            extensions.push(basic_info_san());
            extensions.push(policies(&[oid::POLICY_SIGN_CLASS20.into()]));
        }
        Purpose::Authentication => {
            extensions.push(key_usage(&[KeyUsages::DigitalSignature]));
            extensions.push(policies(&[oid::POLICY_AUTH_CLASS30.into()]));
        }
    }
    extensions.push(ski(key));
    extensions.push(aki(issuer_key));
    Spec {
        issuer: issuer_name,
        subject: subject("2026JP0000009999"),
        serial: vec![0x20, 0x01],
        not_before: LEAF_NOT_BEFORE,
        not_after: LEAF_NOT_AFTER,
        public_key_der: key.to_vec(),
        extensions,
    }
}

fn sign_root_name() -> x509_cert::name::Name {
    ca_name("JPKI for digital signature")
}

fn auth_root_name() -> x509_cert::name::Name {
    ca_name("JPKI for user authentication")
}

/// Replaces the extension with `oid` (or appends it).
fn set_extension(spec: &mut Spec, extension: x509_cert::ext::Extension) {
    match spec
        .extensions
        .iter_mut()
        .find(|e| e.extn_id == extension.extn_id)
    {
        Some(slot) => *slot = extension,
        None => spec.extensions.push(extension),
    }
}

fn remove_extension(spec: &mut Spec, id: const_oid::ObjectIdentifier) {
    spec.extensions.retain(|e| e.extn_id != id);
}

/// Auth leaf under the auth root, checked with a good OCSP response.
fn check_auth_leaf(spec: &Spec) -> Report {
    let w = world();
    let der = build(spec, &w.auth_root_key);
    check_with_good_status(
        &der,
        &[],
        &w.auth_root_der,
        &w.auth_root_key,
        Purpose::Authentication,
    )
}

fn auth_spec() -> Spec {
    leaf_spec(
        Purpose::Authentication,
        auth_root_name(),
        world().auth_root_key.public_key_der(),
    )
}

#[test]
fn baseline_fixtures_and_pkix_issued_certificates_are_valid() {
    let w = world();
    // The test builder's leaves are accepted as they are.
    assert_valid(&check_auth_leaf(&auth_spec()));
    let sign = build(
        &leaf_spec(
            Purpose::Signature,
            sign_root_name(),
            w.sign_root_key.public_key_der(),
        ),
        &w.sign_root_key,
    );
    assert_valid(&check_with_good_status(
        &sign,
        &[],
        &w.sign_root_der,
        &w.sign_root_key,
        Purpose::Signature,
    ));
    // So are the four kinds jpki-pkix issues (three here; the fourth in the CMS tests).
    for (leaf, purpose, kind) in [
        (
            &w.auth_leaf_der,
            Purpose::Authentication,
            CertificateKind::CARD_AUTHENTICATION,
        ),
        (
            &w.phone_auth_leaf_der,
            Purpose::Authentication,
            CertificateKind::PHONE_AUTHENTICATION,
        ),
        (
            &w.sign_leaf_der,
            Purpose::Signature,
            CertificateKind::CARD_SIGNATURE,
        ),
    ] {
        let (root_der, root_key) = match purpose {
            Purpose::Signature => (&w.sign_root_der, &w.sign_root_key),
            Purpose::Authentication => (&w.auth_root_der, &w.auth_root_key),
        };
        let report = check_with_good_status(leaf, &[], root_der, root_key, purpose);
        assert_valid(&report);
        assert_eq!(report.kind, Some(kind));
    }
}

#[test]
fn rule_validity_expired_and_not_yet_valid() {
    let mut expired = auth_spec();
    expired.not_after = AT - Duration::seconds(1);
    let report = check_auth_leaf(&expired);
    assert!(matches!(
        invalid_reason(&report),
        InvalidReason::Expired { depth: 0, not_after } if *not_after == AT - Duration::seconds(1)
    ));

    let mut early = auth_spec();
    early.not_before = AT + Duration::seconds(1);
    let report = check_auth_leaf(&early);
    assert!(matches!(
        invalid_reason(&report),
        InvalidReason::NotYetValid { depth: 0, .. }
    ));

    // The boundaries themselves are inside the validity period.
    let mut edge = auth_spec();
    edge.not_after = AT;
    assert_valid(&check_auth_leaf(&edge));
}

#[test]
fn rule_key_usage_per_kind() {
    // An auth certificate without digitalSignature.
    let mut spec = auth_spec();
    set_extension(&mut spec, key_usage(&[KeyUsages::KeyEncipherment]));
    assert_eq!(
        invalid_reason(&check_auth_leaf(&spec)),
        &InvalidReason::WrongKeyUsage {
            depth: 0,
            required: "digitalSignature".into()
        }
    );
    // No keyUsage at all.
    let mut spec = auth_spec();
    remove_extension(&mut spec, const_oid::db::rfc5280::ID_CE_KEY_USAGE);
    assert!(matches!(
        invalid_reason(&check_auth_leaf(&spec)),
        InvalidReason::WrongKeyUsage { depth: 0, .. }
    ));
    // A signature certificate with digitalSignature but without nonRepudiation.
    let w = world();
    let mut spec = leaf_spec(
        Purpose::Signature,
        sign_root_name(),
        w.sign_root_key.public_key_der(),
    );
    set_extension(&mut spec, key_usage(&[KeyUsages::DigitalSignature]));
    let der = build(&spec, &w.sign_root_key);
    let report = check_with_good_status(
        &der,
        &[],
        &w.sign_root_der,
        &w.sign_root_key,
        Purpose::Signature,
    );
    assert_eq!(
        invalid_reason(&report),
        &InvalidReason::WrongKeyUsage {
            depth: 0,
            required: "nonRepudiation".into()
        }
    );
}

#[test]
fn rule_policy_missing_or_of_the_other_kind() {
    let mut missing = auth_spec();
    remove_extension(
        &mut missing,
        const_oid::db::rfc5280::ID_CE_CERTIFICATE_POLICIES,
    );
    let report = check_auth_leaf(&missing);
    assert!(matches!(
        invalid_reason(&report),
        InvalidReason::WrongPolicy { depth: 0, detail } if detail.contains("no JPKI certificate policy")
    ));

    let mut foreign = auth_spec();
    set_extension(
        &mut foreign,
        policies(&[AnyOid::from(const_oid::ObjectIdentifier::new_unwrap(
            "1.3.6.1.4.1.55555.9",
        ))]),
    );
    assert!(matches!(
        invalid_reason(&check_auth_leaf(&foreign)),
        InvalidReason::WrongPolicy { depth: 0, .. }
    ));

    // A perfectly good auth certificate asked to act as a signature certificate.
    let w = world();
    let report = check_with_good_status(
        &w.auth_leaf_der,
        &[],
        &w.auth_root_der,
        &w.auth_root_key,
        Purpose::Signature,
    );
    assert!(matches!(
        invalid_reason(&report),
        InvalidReason::WrongPolicy { depth: 0, detail } if detail.contains("user authentication certificate where a signature")
    ));
}

#[test]
fn rule_signature_tampered() {
    let w = world();
    let mut der = build(&auth_spec(), &w.auth_root_key);
    *der.last_mut().unwrap() ^= 0x01;
    assert_eq!(
        invalid_reason(&check_with_good_status(
            &der,
            &[],
            &w.auth_root_der,
            &w.auth_root_key,
            Purpose::Authentication
        )),
        &InvalidReason::BadSignature {
            target: SignatureTarget::Certificate { depth: 0 }
        }
    );
    // Signed by another key that claims the root's name and key identifier.
    let forged = build(&auth_spec(), &w.spare_keys[1]);
    assert_eq!(
        invalid_reason(&check_with_good_status(
            &forged,
            &[],
            &w.auth_root_der,
            &w.auth_root_key,
            Purpose::Authentication
        )),
        &InvalidReason::BadSignature {
            target: SignatureTarget::Certificate { depth: 0 }
        }
    );
}

#[test]
fn rule_unknown_issuer() {
    let w = world();
    let foreign_key = &w.spare_keys[1];
    let spec = leaf_spec(
        Purpose::Authentication,
        ca_name("Some other CA"),
        foreign_key.public_key_der(),
    );
    let der = build(&spec, foreign_key);
    let report = offline_verifier().verify_certificate(&der, &[], Purpose::Authentication, AT);
    assert!(matches!(
        invalid_reason(&report),
        InvalidReason::UnknownIssuer { issuer } if issuer.contains("OU=Some other CA")
    ));
    // Not even the anchors' own names help a certificate no anchor signed.
    let empty = Verifier::with_status(
        TrustStore::new(),
        StatusOptions::with_policy(StatusPolicy::Offline),
        Arc::new(NoNetwork),
    );
    let report = empty.verify_certificate(&w.auth_leaf_der, &[], Purpose::Authentication, AT);
    assert!(matches!(
        invalid_reason(&report),
        InvalidReason::UnknownIssuer { .. }
    ));
}

#[test]
fn rule_name_chaining() {
    // Signed by the auth root, pointing at it by key identifier, but naming another issuer.
    let mut spec = auth_spec();
    spec.issuer = ca_name("JPKI for user authenticatiom");
    let report = check_auth_leaf(&spec);
    assert_eq!(
        invalid_reason(&report),
        &InvalidReason::NameMismatch { depth: 0 }
    );
    // RFC 5280 §7.1: case and white-space differences are the same name.
    let mut spec = auth_spec();
    spec.issuer = ca_name("jpki  for USER authentication");
    assert_valid(&check_auth_leaf(&spec));
}

#[test]
fn rule_unknown_critical_extension() {
    let mut spec = auth_spec();
    spec.extensions.push(unknown_critical());
    assert_eq!(
        invalid_reason(&check_auth_leaf(&spec)),
        &InvalidReason::UnknownCriticalExtension {
            depth: 0,
            oid: "1.3.6.1.4.1.55555.1.1".into()
        }
    );
    // The same extension, not critical, is ignored.
    let mut spec = auth_spec();
    let mut extension = unknown_critical();
    extension.critical = false;
    spec.extensions.push(extension);
    assert_valid(&check_auth_leaf(&spec));
}

/// root (sign) → intermediate (spare key 0) → leaf, with the intermediate's spec editable.
fn through_intermediate(edit: impl FnOnce(&mut Spec)) -> Report {
    let w = world();
    let intermediate_key = &w.spare_keys[0];
    let mut intermediate = Spec {
        issuer: sign_root_name(),
        subject: ca_name("JPKI intermediate for digital signature"),
        serial: vec![0x05],
        not_before: ROOT_NOT_BEFORE,
        not_after: ROOT_NOT_AFTER,
        public_key_der: intermediate_key.public_key_der().to_vec(),
        extensions: vec![
            key_usage(&[KeyUsages::KeyCertSign, KeyUsages::CRLSign]),
            basic_constraints(true, Some(0)),
            policies(&[oid::POLICY_SIGN_CLASS20.into()]),
            ski(intermediate_key.public_key_der()),
            aki(w.sign_root_key.public_key_der()),
        ],
    };
    edit(&mut intermediate);
    let intermediate_der = build(&intermediate, &w.sign_root_key);
    let leaf = build(
        &leaf_spec(
            Purpose::Signature,
            intermediate.subject.clone(),
            intermediate_key.public_key_der(),
        ),
        intermediate_key,
    );
    check_with_good_status(
        &leaf,
        &[&intermediate_der],
        &intermediate_der,
        intermediate_key,
        Purpose::Signature,
    )
}

#[test]
fn intermediate_rules_ca_flag_key_usage_path_length_and_policy() {
    // Baseline: a proper intermediate passes.
    let report = through_intermediate(|_| {});
    assert_valid(&report);
    assert_eq!(report.path.len(), 3);

    // CA:FALSE. (A non-CA certificate naming the JPKI signature policy would have to carry
    // the basic 4 information to parse at all, so these two assert anyPolicy, which the
    // baseline below shows is otherwise acceptable.)
    let any_policy = || {
        policies(&[AnyOid::from(const_oid::ObjectIdentifier::new_unwrap(
            "2.5.29.32.0",
        ))])
    };
    let report = through_intermediate(|spec| {
        set_extension(spec, basic_constraints(false, None));
        set_extension(spec, any_policy());
    });
    assert_eq!(invalid_reason(&report), &InvalidReason::NotACa { depth: 1 });
    // No basicConstraints at all.
    let report = through_intermediate(|spec| {
        remove_extension(spec, const_oid::db::rfc5280::ID_CE_BASIC_CONSTRAINTS);
        set_extension(spec, any_policy());
    });
    assert_eq!(invalid_reason(&report), &InvalidReason::NotACa { depth: 1 });
    // keyUsage without keyCertSign.
    let report = through_intermediate(|spec| {
        set_extension(spec, key_usage(&[KeyUsages::CRLSign]));
    });
    assert_eq!(
        invalid_reason(&report),
        &InvalidReason::WrongKeyUsage {
            depth: 1,
            required: "keyCertSign".into()
        }
    );
    // No JPKI policy (nor anyPolicy) on the intermediate.
    let report = through_intermediate(|spec| {
        set_extension(spec, policies(&[oid::POLICY_AUTH_CLASS30.into()]));
    });
    assert!(matches!(
        invalid_reason(&report),
        InvalidReason::WrongPolicy { depth: 1, .. }
    ));
    // anyPolicy is enough.
    let report = through_intermediate(|spec| {
        set_extension(
            spec,
            policies(&[AnyOid::from(const_oid::ObjectIdentifier::new_unwrap(
                "2.5.29.32.0",
            ))]),
        );
    });
    assert_valid(&report);
    // An expired intermediate: depth 1.
    let report = through_intermediate(|spec| spec.not_after = AT - Duration::days(1));
    assert!(matches!(
        invalid_reason(&report),
        InvalidReason::Expired { depth: 1, .. }
    ));
}

#[test]
fn rule_path_length_constraint() {
    // root → A (pathLen 0) → B → leaf: B is one CA too many under A.
    let w = world();
    let [a_key, b_key, _] = &w.spare_keys;
    let ca = |issuer: x509_cert::name::Name,
              subject_name: x509_cert::name::Name,
              key: &SoftwareRsaKey,
              issuer_key: &SoftwareRsaKey,
              path_len: Option<u8>| {
        build(
            &Spec {
                issuer,
                subject: subject_name,
                serial: vec![0x06],
                not_before: ROOT_NOT_BEFORE,
                not_after: ROOT_NOT_AFTER,
                public_key_der: key.public_key_der().to_vec(),
                extensions: vec![
                    key_usage(&[KeyUsages::KeyCertSign]),
                    basic_constraints(true, path_len),
                    policies(&[oid::POLICY_SIGN_CLASS20.into()]),
                    ski(key.public_key_der()),
                    aki(issuer_key.public_key_der()),
                ],
            },
            issuer_key,
        )
    };
    let a_name = ca_name("intermediate A");
    let b_name = ca_name("intermediate B");
    let leaf = build(
        &leaf_spec(Purpose::Signature, b_name.clone(), b_key.public_key_der()),
        b_key,
    );
    let check = |a_path_len: Option<u8>| {
        let a = ca(
            sign_root_name(),
            a_name.clone(),
            a_key,
            &w.sign_root_key,
            a_path_len,
        );
        let b = ca(a_name.clone(), b_name.clone(), b_key, a_key, None);
        check_with_good_status(&leaf, &[&b, &a], &b, b_key, Purpose::Signature)
    };
    assert_eq!(
        invalid_reason(&check(Some(0))),
        &InvalidReason::PathLengthExceeded { depth: 1 }
    );
    let report = check(Some(1));
    assert_valid(&report);
    assert_eq!(report.path.len(), 4);
}

#[test]
fn expired_trust_anchors_are_refused_at_use_not_at_load() {
    let w = world();
    // At 2036-06-01 the roots have expired (and so would the leaf; the anchor is checked
    // first, from the top).
    let late = datetime!(2036-06-01 00:00 UTC);
    let report =
        offline_verifier().verify_certificate(&w.auth_leaf_der, &[], Purpose::Authentication, late);
    assert!(matches!(
        invalid_reason(&report),
        InvalidReason::Expired { depth: 1, .. }
    ));
}

// ---------------------------------------------------------------------------------------
// Login responses.

#[test]
fn login_responses_as_a_card_makes_them() {
    let w = world();
    let verifier = offline_verifier();
    verifier
        .supply_ocsp_response(
            &OcspFixture::good(&w.auth_root_der, &w.auth_root_key, &w.auth_leaf_der).der(),
        )
        .unwrap();
    let challenge = b"server nonce 8f1c2a";
    // What the card computes for 80 2A: PKCS#1 v1.5 over the DigestInfo.
    let digest_info = DigestInfo::of(DigestAlgorithm::Sha256, challenge).to_der();
    let signature = w.resident_key.sign_digest_info(&digest_info).unwrap();
    let report = verifier.verify_login(
        &w.auth_leaf_der,
        &[],
        challenge,
        &signature,
        SignatureAlgorithm::RsaPkcs1Sha256,
        AT,
    );
    assert_valid(&report);
    assert_eq!(report.subject_of_check, CheckKind::LoginResponse);
    assert_eq!(
        report.basic_info, None,
        "auth certificates carry no personal data"
    );

    // Another challenge: the signature does not cover it.
    let report = verifier.verify_login(
        &w.auth_leaf_der,
        &[],
        b"server nonce 8f1c2b",
        &signature,
        SignatureAlgorithm::RsaPkcs1Sha256,
        AT,
    );
    assert_eq!(
        invalid_reason(&report),
        &InvalidReason::BadSignature {
            target: SignatureTarget::Challenge
        }
    );
    // The wrong algorithm for an RSA key.
    let report = verifier.verify_login(
        &w.auth_leaf_der,
        &[],
        challenge,
        &signature,
        SignatureAlgorithm::EcdsaP256Sha256,
        AT,
    );
    assert!(matches!(
        invalid_reason(&report),
        InvalidReason::UnsupportedAlgorithm { .. }
    ));
    // A signature certificate cannot log in.
    let report = verifier.verify_login(
        &w.sign_leaf_der,
        &[],
        challenge,
        &signature,
        SignatureAlgorithm::RsaPkcs1Sha256,
        AT,
    );
    assert!(matches!(
        invalid_reason(&report),
        InvalidReason::WrongPolicy { depth: 0, .. }
    ));
    // The bare signature check agrees.
    jpki_verify::verify_challenge_signature(
        &w.auth_leaf_der,
        challenge,
        &signature,
        SignatureAlgorithm::RsaPkcs1Sha256,
    )
    .unwrap();
}

// ---------------------------------------------------------------------------------------
// Status by OCSP.

fn auth_leaf_status(fixture: &OcspFixture<'_>) -> Report {
    let w = world();
    let verifier = offline_verifier();
    verifier.supply_ocsp_response(&fixture.der()).unwrap();
    verifier.verify_certificate(&w.auth_leaf_der, &[], Purpose::Authentication, AT)
}

#[test]
fn ocsp_revoked_and_held() {
    let w = world();
    let revoked_at = AT - Duration::days(3);
    let mut fixture = OcspFixture::good(&w.auth_root_der, &w.auth_root_key, &w.auth_leaf_der);
    fixture.status =
        CertStatus::revoked(revoked_at, Some(RevocationReason::KeyCompromise)).unwrap();
    let report = auth_leaf_status(&fixture);
    assert_eq!(
        invalid_reason(&report),
        &InvalidReason::Revoked {
            time: revoked_at,
            reason: RevocationReason::KeyCompromise
        }
    );
    assert!(report.render().contains("失効"));

    fixture.status =
        CertStatus::revoked(revoked_at, Some(RevocationReason::CertificateHold)).unwrap();
    let report = auth_leaf_status(&fixture);
    assert_eq!(
        invalid_reason(&report),
        &InvalidReason::Held { since: revoked_at }
    );
    assert!(report.render().contains("一時保留"));

    fixture.status = CertStatus::unknown();
    assert_eq!(
        indeterminate_reason(&auth_leaf_status(&fixture)),
        &IndeterminateReason::StatusUnknown
    );
}

#[test]
fn ocsp_responses_that_must_not_be_believed() {
    let w = world();
    let base = || OcspFixture::good(&w.auth_root_der, &w.auth_root_key, &w.auth_leaf_der);

    // A response about another certificate: no status for this one.
    let mut other = base();
    other.serial = SerialNumber::from_hex("99").unwrap();
    let report = auth_leaf_status(&other);
    assert_eq!(
        indeterminate_reason(&report),
        &IndeterminateReason::NoStatusEvidence
    );

    // Stale: nextUpdate has passed.
    let mut stale = base();
    stale.this_update = AT - Duration::days(2);
    stale.next_update = Some(AT - Duration::days(1));
    let report = auth_leaf_status(&stale);
    let IndeterminateReason::StatusUnavailable { attempts } = indeterminate_reason(&report) else {
        panic!()
    };
    assert!(attempts[0].contains("stale"), "{attempts:?}");
    assert_eq!(report.exit_code(), EXIT_INDETERMINATE);

    // From the future.
    let mut future = base();
    future.this_update = AT + Duration::hours(1);
    future.next_update = Some(AT + Duration::days(1));
    assert!(matches!(
        indeterminate_reason(&auth_leaf_status(&future)),
        IndeterminateReason::StatusUnavailable { attempts } if attempts[0].contains("future")
    ));

    // Signed by a stranger's key while claiming to be the CA.
    let mut forged = base();
    forged.ca_key = &w.spare_keys[2];
    assert!(matches!(
        indeterminate_reason(&auth_leaf_status(&forged)),
        IndeterminateReason::StatusUnavailable { attempts } if attempts[0].contains("signature")
    ));
}

/// A delegated responder certificate for the auth root, editable.
fn responder_certificate(edit: impl FnOnce(&mut Spec), signer: &SoftwareRsaKey) -> Vec<u8> {
    let w = world();
    let key = &w.spare_keys[2];
    let mut spec = Spec {
        issuer: auth_root_name(),
        subject: subject("OCSP responder"),
        serial: vec![0x0C],
        not_before: ROOT_NOT_BEFORE,
        not_after: ROOT_NOT_AFTER,
        public_key_der: key.public_key_der().to_vec(),
        extensions: vec![
            key_usage(&[KeyUsages::DigitalSignature]),
            ocsp_signing_eku(),
            ski(key.public_key_der()),
            aki(w.auth_root_key.public_key_der()),
        ],
    };
    edit(&mut spec);
    build(&spec, signer)
}

#[test]
fn delegated_ocsp_responders() {
    let w = world();
    let responder_key = &w.spare_keys[2];
    let with_responder = |certificate: &[u8]| {
        let mut fixture = OcspFixture::good(&w.auth_root_der, &w.auth_root_key, &w.auth_leaf_der);
        fixture.responder = Some((certificate, responder_key));
        auth_leaf_status(&fixture)
    };

    // A proper delegated responder: issued by the CA, id-kp-OCSPSigning.
    let good = responder_certificate(|_| {}, &w.auth_root_key);
    let report = with_responder(&good);
    assert_valid(&report);
    assert!(matches!(
        report.evidence.status.as_slice(),
        [(_, StatusEvidence::Ocsp { responder, .. })] if responder.contains("CN=OCSP responder")
    ));

    // Without id-kp-OCSPSigning.
    let no_eku = responder_certificate(
        |spec| remove_extension(spec, const_oid::db::rfc5280::ID_CE_EXT_KEY_USAGE),
        &w.auth_root_key,
    );
    assert!(matches!(
        indeterminate_reason(&with_responder(&no_eku)),
        IndeterminateReason::StatusUnavailable { attempts } if attempts[0].contains("OCSPSigning")
    ));

    // Issued by another CA (the sign root), with the right EKU.
    let foreign = responder_certificate(
        |spec| {
            spec.issuer = sign_root_name();
            set_extension(spec, aki(w.sign_root_key.public_key_der()));
        },
        &w.sign_root_key,
    );
    assert!(matches!(
        indeterminate_reason(&with_responder(&foreign)),
        IndeterminateReason::StatusUnavailable { .. }
    ));

    // Expired responder certificate.
    let expired = responder_certificate(
        |spec| spec.not_after = AT - Duration::days(1),
        &w.auth_root_key,
    );
    assert!(matches!(
        indeterminate_reason(&with_responder(&expired)),
        IndeterminateReason::StatusUnavailable { .. }
    ));
}

/// A one-thread HTTP server answering every request with `body`, counting requests and
/// keeping the last request line.
struct TestServer {
    url: String,
    hits: Arc<AtomicUsize>,
    last_request: Arc<std::sync::Mutex<String>>,
}

fn serve(body: Vec<u8>, requests: usize) -> TestServer {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/ocsp", listener.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let last_request = Arc::new(std::sync::Mutex::new(String::new()));
    let (counter, last) = (Arc::clone(&hits), Arc::clone(&last_request));
    thread::spawn(move || {
        for _ in 0..requests {
            let Ok((mut stream, _)) = listener.accept() else {
                return;
            };
            let mut request = Vec::new();
            let mut buffer = [0u8; 4096];
            while let Ok(read) = stream.read(&mut buffer) {
                if read == 0 {
                    break;
                }
                request.extend_from_slice(&buffer[..read]);
                let text = String::from_utf8_lossy(&request).to_string();
                if let Some(end) = text.find("\r\n\r\n") {
                    let length = text
                        .lines()
                        .find_map(|l| l.strip_prefix("Content-Length: "))
                        .map_or(0, |v| v.trim().parse::<usize>().unwrap());
                    if request.len() >= end + 4 + length {
                        break;
                    }
                }
            }
            *last.lock().unwrap() = String::from_utf8_lossy(&request)
                .lines()
                .next()
                .unwrap_or_default()
                .to_owned();
            counter.fetch_add(1, Ordering::SeqCst);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/ocsp-response\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    TestServer {
        url,
        hits,
        last_request,
    }
}

#[test]
fn ocsp_over_http_post_and_get_with_a_warm_cache() {
    let w = world();
    for method in [OcspMethod::Post, OcspMethod::Get] {
        // The server's URL is known once it listens: issue a leaf naming it.
        let response_for =
            |leaf: &[u8]| OcspFixture::good(&w.auth_root_der, &w.auth_root_key, leaf).der();
        let placeholder = TcpListener::bind("127.0.0.1:0").unwrap();
        drop(placeholder);
        // First issue with a dummy URL to learn the serial's response, then the real one.
        let serial = match method {
            OcspMethod::Post => "3001",
            OcspMethod::Get => "3002",
        };
        let probe = Issuer::new(&w.auth_root_der)
            .unwrap()
            .issue(
                &template(
                    CertificateKind::CARD_AUTHENTICATION,
                    serial,
                    &w.resident_key,
                    None,
                ),
                &w.auth_root_key,
            )
            .unwrap();
        let server = serve(response_for(&probe), 4);
        let leaf = Issuer::new(&w.auth_root_der)
            .unwrap()
            .issue(
                &template(
                    CertificateKind::CARD_AUTHENTICATION,
                    serial,
                    &w.resident_key,
                    Some(server.url.clone()),
                ),
                &w.auth_root_key,
            )
            .unwrap();
        let options = StatusOptions {
            ocsp_method: method,
            ..StatusOptions::default()
        };
        let verifier = Verifier::with_status(
            trust(),
            options,
            Arc::new(jpki_verify::status::http::StdHttpTransport::default()),
        );
        let report = verifier.verify_certificate(&leaf, &[], Purpose::Authentication, AT);
        assert_valid(&report);
        assert_eq!(server.hits.load(Ordering::SeqCst), 1);
        let line = server.last_request.lock().unwrap().clone();
        match method {
            OcspMethod::Post => assert_eq!(line, "POST /ocsp HTTP/1.1"),
            OcspMethod::Get => assert!(line.starts_with("GET /ocsp/MG"), "{line}"),
        }
        assert!(matches!(
            report.evidence.status.as_slice(),
            [(_, StatusEvidence::Ocsp { url: Some(url), cached: false, .. })] if *url == server.url
        ));
        // Warm cache: no second request while the response is fresh.
        let again = verifier.verify_certificate(&leaf, &[], Purpose::Authentication, AT);
        assert_valid(&again);
        assert_eq!(server.hits.load(Ordering::SeqCst), 1);
        // After nextUpdate the cached answer is dropped and the responder asked again;
        // its (now stale) response is refused.
        let late = verifier.verify_certificate(
            &leaf,
            &[],
            Purpose::Authentication,
            AT + Duration::days(2),
        );
        assert!(matches!(
            indeterminate_reason(&late),
            IndeterminateReason::StatusUnavailable { attempts } if attempts[0].contains("stale")
        ));
        assert_eq!(server.hits.load(Ordering::SeqCst), 2);
    }
}

#[test]
fn unreachable_responders_and_certificates_without_status_sources() {
    let w = world();
    // The auth leaf names no OCSP URL and no CRL: nothing to ask.
    let verifier = Verifier::with_status(trust(), StatusOptions::default(), Arc::new(NoNetwork));
    let report = verifier.verify_certificate(&w.auth_leaf_der, &[], Purpose::Authentication, AT);
    assert_eq!(
        indeterminate_reason(&report),
        &IndeterminateReason::NoStatusSource
    );
    // Offline and nothing supplied.
    let report =
        offline_verifier().verify_certificate(&w.auth_leaf_der, &[], Purpose::Authentication, AT);
    assert_eq!(
        indeterminate_reason(&report),
        &IndeterminateReason::NoStatusEvidence
    );
    assert!(
        report
            .render()
            .starts_with("検証結果: 判定不能 / Result: INDETERMINATE")
    );
    // A responder nobody answers at.
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/ocsp", listener.local_addr().unwrap())
    };
    let leaf = Issuer::new(&w.auth_root_der)
        .unwrap()
        .issue(
            &template(
                CertificateKind::CARD_AUTHENTICATION,
                "3003",
                &w.resident_key,
                Some(closed.clone()),
            ),
            &w.auth_root_key,
        )
        .unwrap();
    let verifier = Verifier::new(trust());
    let report = verifier.verify_certificate(&leaf, &[], Purpose::Authentication, AT);
    assert!(matches!(
        indeterminate_reason(&report),
        IndeterminateReason::StatusUnavailable { attempts } if attempts[0].contains(&closed)
    ));
}

#[test]
fn a_response_with_the_wrong_nonce_is_refused() {
    let w = world();
    // The responder echoes a nonce, but not ours.
    let mut fixture = OcspFixture::good(&w.auth_root_der, &w.auth_root_key, &w.auth_leaf_der);
    fixture.nonce = Some(vec![7; 16]);
    let probe_serial = "3004";
    let leaf_for = |url: Option<String>| {
        Issuer::new(&w.auth_root_der)
            .unwrap()
            .issue(
                &template(
                    CertificateKind::CARD_AUTHENTICATION,
                    probe_serial,
                    &w.resident_key,
                    url,
                ),
                &w.auth_root_key,
            )
            .unwrap()
    };
    fixture.serial = SerialNumber::from_hex(probe_serial).unwrap();
    let server = serve(fixture.der(), 2);
    let leaf = leaf_for(Some(server.url.clone()));
    let verifier = Verifier::new(trust());
    let report = verifier.verify_certificate(&leaf, &[], Purpose::Authentication, AT);
    assert!(matches!(
        indeterminate_reason(&report),
        IndeterminateReason::StatusUnavailable { attempts } if attempts[0].contains("nonce")
    ));
    // Without a nonce echoed, the response is accepted unless the policy requires one.
    fixture.nonce = None;
    let server = serve(fixture.der(), 2);
    let leaf = leaf_for(Some(server.url.clone()));
    assert_valid(&Verifier::new(trust()).verify_certificate(
        &leaf,
        &[],
        Purpose::Authentication,
        AT,
    ));
    let strict = Verifier::with_status(
        trust(),
        StatusOptions {
            require_nonce: true,
            ..StatusOptions::default()
        },
        Arc::new(jpki_verify::status::http::StdHttpTransport::default()),
    );
    assert!(matches!(
        indeterminate_reason(&strict.verify_certificate(&leaf, &[], Purpose::Authentication, AT)),
        IndeterminateReason::StatusUnavailable { attempts } if attempts[0].contains("nonce")
    ));
}

/// OpenSSL's own responder (`openssl ocsp -index -port`) as an independent OCSP peer.
#[test]
fn openssl_ocsp_responder_answers_the_sdk() {
    let w = world();
    let dir = TempDir::new().unwrap();
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}/");
    let good = Issuer::new(&w.auth_root_der)
        .unwrap()
        .issue(
            &template(
                CertificateKind::CARD_AUTHENTICATION,
                "4001",
                &w.resident_key,
                Some(url.clone()),
            ),
            &w.auth_root_key,
        )
        .unwrap();
    let revoked = Issuer::new(&w.auth_root_der)
        .unwrap()
        .issue(
            &template(
                CertificateKind::CARD_AUTHENTICATION,
                "4002",
                &w.resident_key,
                Some(url.clone()),
            ),
            &w.auth_root_key,
        )
        .unwrap();
    let index = "V\t310101000000Z\t\t4001\tunknown\t/CN=a\n\
                 R\t310101000000Z\t260501000000Z,keyCompromise\t4002\tunknown\t/CN=b\n";
    let index_path = write(&dir, "index.txt", index.as_bytes());
    write(&dir, "index.txt.attr", b"unique_subject = no\n");
    let ca = write(
        &dir,
        "ca.pem",
        pem("CERTIFICATE", &w.auth_root_der).as_bytes(),
    );
    let key = write(
        &dir,
        "ca.key",
        pem("PRIVATE KEY", w.auth_root_key.pkcs8_der().expose()).as_bytes(),
    );
    let port_text = port.to_string();
    let mut child = Command::new("openssl")
        .args([
            "ocsp",
            "-index",
            path_str(&index_path),
            "-port",
            &port_text,
            "-rsigner",
            path_str(&ca),
            "-rkey",
            path_str(&key),
            "-CA",
            path_str(&ca),
            "-nmin",
            "60",
            "-nrequest",
            "2",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("openssl ocsp responder");
    // Wait for it to listen by reading its log: a probing connection that sends no request
    // wedges OpenSSL 3.0's responder (STACK-NOTES §9).
    let stderr = child.stderr.take().unwrap();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { return };
            if line.contains("waiting for OCSP client connections") {
                let _ = ready_tx.send(());
            }
        }
    });
    ready_rx
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("openssl ocsp did not start");
    // OpenSSL's responses carry real-time thisUpdate/nextUpdate: check "now".
    let now = OffsetDateTime::now_utc();
    let verifier = Verifier::new(trust());
    let report = verifier.verify_certificate(&good, &[], Purpose::Authentication, now);
    let revoked_report = verifier.verify_certificate(&revoked, &[], Purpose::Authentication, now);
    let _ = child.kill();
    let _ = child.wait();
    assert_valid(&report);
    assert!(matches!(
        report.evidence.status.as_slice(),
        [(_, StatusEvidence::Ocsp { cached: false, .. })]
    ));
    assert_eq!(
        invalid_reason(&revoked_report),
        &InvalidReason::Revoked {
            time: datetime!(2026-05-01 00:00 UTC),
            reason: RevocationReason::KeyCompromise
        }
    );
}

// ---------------------------------------------------------------------------------------
// Status by CRL (complete and delta CRLs made with jpki-pkix's encoder).

/// An HTTP server answering by path, with bodies set after it listens (so certificates
/// and CRLs can name its URL).
struct PathServer {
    base: String,
    bodies: Arc<std::sync::Mutex<std::collections::HashMap<String, Vec<u8>>>>,
    hits: Arc<AtomicUsize>,
}

impl PathServer {
    fn start(requests: usize) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let bodies: Arc<std::sync::Mutex<std::collections::HashMap<String, Vec<u8>>>> =
            Arc::default();
        let hits = Arc::new(AtomicUsize::new(0));
        let (map, counter) = (Arc::clone(&bodies), Arc::clone(&hits));
        thread::spawn(move || {
            for _ in 0..requests {
                let Ok((mut stream, _)) = listener.accept() else {
                    return;
                };
                let mut request = Vec::new();
                let mut buffer = [0u8; 4096];
                while let Ok(read) = stream.read(&mut buffer) {
                    if read == 0 {
                        break;
                    }
                    request.extend_from_slice(&buffer[..read]);
                    if request.windows(4).any(|w| w == b"\r\n\r\n") {
                        break; // GET only
                    }
                }
                counter.fetch_add(1, Ordering::SeqCst);
                let text = String::from_utf8_lossy(&request).to_string();
                let path = text.split(' ').nth(1).unwrap_or("/").to_owned();
                let body = map.lock().unwrap().get(&path).cloned();
                let response = match body {
                    Some(body) => {
                        let mut out = format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: application/pkix-crl\r\nContent-Length: {}\r\n\r\n",
                            body.len()
                        )
                        .into_bytes();
                        out.extend_from_slice(&body);
                        out
                    }
                    None => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec(),
                };
                let _ = stream.write_all(&response);
            }
        });
        Self { base, bodies, hits }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn set(&self, path: &str, body: Vec<u8>) {
        self.bodies.lock().unwrap().insert(path.to_owned(), body);
    }
}

const SHARD: &str = "http://127.0.0.1:9/crl/auth/7.crl";

/// A leaf of the auth root whose CRL distribution point is `crl_url`.
fn auth_leaf_with_crl(serial: &str, crl_url: &str, ocsp_url: Option<String>) -> Vec<u8> {
    let w = world();
    let mut template = template(
        CertificateKind::CARD_AUTHENTICATION,
        serial,
        &w.resident_key,
        ocsp_url,
    );
    template.crl_distribution_point = Some(crl_url.to_owned());
    Issuer::new(&w.auth_root_der)
        .unwrap()
        .issue(&template, &w.auth_root_key)
        .unwrap()
}

fn crl(
    number: u64,
    kind: CrlKind,
    scope: &str,
    entries: &[(&str, Option<RevocationReason>)],
    this_update: OffsetDateTime,
    signer: (&[u8], &SoftwareRsaKey),
) -> Vec<u8> {
    let issuer = CrlIssuer::new(signer.0).unwrap();
    let entries: Vec<CrlEntry> = entries
        .iter()
        .map(|(serial, reason)| {
            CrlEntry::new(
                &SerialNumber::from_hex(serial).unwrap(),
                AT - Duration::days(2),
                *reason,
            )
            .unwrap()
        })
        .collect();
    let template = CrlTemplate {
        number,
        this_update,
        next_update: this_update + Duration::days(1),
        distribution_point: Some(scope.to_owned()),
        only_user_certificates: true,
        kind,
    };
    encode_crl(&issuer, &template, &entries, signer.1).unwrap()
}

fn auth_root() -> (&'static [u8], &'static SoftwareRsaKey) {
    let w = world();
    (&w.auth_root_der, &w.auth_root_key)
}

fn full() -> CrlKind {
    CrlKind::Full { freshest_crl: None }
}

/// Offline check of `leaf` with the given CRLs supplied.
fn with_crls(leaf: &[u8], crls: &[Vec<u8>]) -> Report {
    let verifier = offline_verifier();
    for crl in crls {
        verifier.supply_crl(crl).unwrap();
    }
    verifier.verify_certificate(leaf, &[], Purpose::Authentication, AT)
}

#[test]
fn crl_revoked_held_and_good() {
    let leaf = auth_leaf_with_crl("5001", SHARD, None);
    let fresh = AT - Duration::hours(2);
    let revoked = crl(
        10,
        full(),
        SHARD,
        &[
            ("5001", Some(RevocationReason::AffiliationChanged)),
            ("77", None),
        ],
        fresh,
        auth_root(),
    );
    let report = with_crls(&leaf, std::slice::from_ref(&revoked));
    assert_eq!(
        invalid_reason(&report),
        &InvalidReason::Revoked {
            time: AT - Duration::days(2),
            reason: RevocationReason::AffiliationChanged
        }
    );
    let [
        (
            _,
            StatusEvidence::Crl {
                base, delta: None, ..
            },
        ),
    ] = report.evidence.status.as_slice()
    else {
        panic!("{:?}", report.evidence)
    };
    assert_eq!(base.crl_number.as_deref(), Some("A"));
    assert_eq!(base.sha256, hex::encode(jpki_crypto::sha256(&revoked)));

    let held = crl(
        11,
        full(),
        SHARD,
        &[("5001", Some(RevocationReason::CertificateHold))],
        fresh,
        auth_root(),
    );
    assert_eq!(
        invalid_reason(&with_crls(&leaf, &[held])),
        &InvalidReason::Held {
            since: AT - Duration::days(2)
        }
    );

    let clean = crl(12, full(), SHARD, &[("77", None)], fresh, auth_root());
    let report = with_crls(&leaf, &[clean]);
    assert_valid(&report);
    assert!(report.render().contains("CRL good (number C"));
}

#[test]
fn delta_crls_apply_on_top_of_their_base() {
    let leaf = auth_leaf_with_crl("5002", SHARD, None);
    let fresh = AT - Duration::hours(2);
    let held_base = crl(
        20,
        full(),
        SHARD,
        &[("5002", Some(RevocationReason::CertificateHold))],
        fresh,
        auth_root(),
    );
    // Released from hold in the delta: good.
    let release = crl(
        21,
        CrlKind::Delta { base_number: 20 },
        SHARD,
        &[("5002", Some(RevocationReason::RemoveFromCrl))],
        fresh,
        auth_root(),
    );
    let report = with_crls(&leaf, &[held_base.clone(), release]);
    assert_valid(&report);
    let [
        (
            _,
            StatusEvidence::Crl {
                delta: Some(delta), ..
            },
        ),
    ] = report.evidence.status.as_slice()
    else {
        panic!("{:?}", report.evidence)
    };
    assert_eq!(delta.base_crl_number.as_deref(), Some("14"));
    assert_eq!(delta.crl_number.as_deref(), Some("15"));

    // Revoked in the delta, absent from the base: revoked.
    let clean_base = crl(30, full(), SHARD, &[], fresh, auth_root());
    let revoke = crl(
        31,
        CrlKind::Delta { base_number: 30 },
        SHARD,
        &[("5002", Some(RevocationReason::KeyCompromise))],
        fresh,
        auth_root(),
    );
    assert!(matches!(
        invalid_reason(&with_crls(&leaf, &[clean_base.clone(), revoke])),
        InvalidReason::Revoked {
            reason: RevocationReason::KeyCompromise,
            ..
        }
    ));

    // A delta over a newer base than the one at hand is not applied: the base answers.
    let too_new = crl(
        33,
        CrlKind::Delta { base_number: 32 },
        SHARD,
        &[("5002", Some(RevocationReason::KeyCompromise))],
        fresh,
        auth_root(),
    );
    let report = with_crls(&leaf, &[clean_base, too_new]);
    assert_valid(&report);
    assert!(matches!(
        report.evidence.status.as_slice(),
        [(_, StatusEvidence::Crl { delta: None, .. })]
    ));
}

#[test]
fn crls_that_must_not_be_believed() {
    let w = world();
    let leaf = auth_leaf_with_crl("5003", SHARD, None);
    let fresh = AT - Duration::hours(2);
    let unavailable = |report: &Report, needle: &str| {
        let IndeterminateReason::StatusUnavailable { attempts } = indeterminate_reason(report)
        else {
            panic!("{report:?}")
        };
        assert!(
            attempts.iter().any(|a| a.contains(needle)),
            "{needle} in {attempts:?}"
        );
    };
    // Another shard's CRL.
    let other_shard = crl(
        40,
        full(),
        "http://127.0.0.1:9/crl/auth/8.crl",
        &[],
        fresh,
        auth_root(),
    );
    unavailable(
        &with_crls(&leaf, &[other_shard]),
        "issuingDistributionPoint",
    );
    // Stale: nextUpdate (thisUpdate + 1 day) has passed.
    let stale = crl(41, full(), SHARD, &[], AT - Duration::days(2), auth_root());
    unavailable(&with_crls(&leaf, &[stale]), "stale");
    // The auth CA's CRL with its signature altered.
    let mut tampered = crl(42, full(), SHARD, &[], fresh, auth_root());
    *tampered.last_mut().unwrap() ^= 1;
    unavailable(&with_crls(&leaf, &[tampered]), "signature");
    // The sign CA's CRL says nothing about an auth certificate.
    let foreign = crl(
        43,
        full(),
        SHARD,
        &[],
        fresh,
        (&w.sign_root_der, &w.sign_root_key),
    );
    assert_eq!(
        indeterminate_reason(&with_crls(&leaf, &[foreign])),
        &IndeterminateReason::NoStatusEvidence
    );
}

#[test]
fn crls_over_http_with_delta_and_ocsp_falling_back_to_crl() {
    let server = PathServer::start(8);
    let shard = server.url("/crl/auth/7.crl");
    let delta_url = server.url("/crl/auth/7-delta.crl");
    let fresh = AT - Duration::hours(2);
    // The OCSP responder of this leaf does not exist; the CRL answers.
    let dead_ocsp = server.url("/ocsp-nowhere");
    let leaf = auth_leaf_with_crl("5004", &shard, Some(dead_ocsp.clone()));
    server.set(
        "/crl/auth/7.crl",
        crl(
            50,
            CrlKind::Full {
                freshest_crl: Some(delta_url.clone()),
            },
            &shard,
            &[],
            fresh,
            auth_root(),
        ),
    );
    server.set(
        "/crl/auth/7-delta.crl",
        crl(
            51,
            CrlKind::Delta { base_number: 50 },
            &shard,
            &[("5004", Some(RevocationReason::CertificateHold))],
            fresh,
            auth_root(),
        ),
    );
    let verifier = Verifier::new(trust());
    let report = verifier.verify_certificate(&leaf, &[], Purpose::Authentication, AT);
    assert!(
        matches!(invalid_reason(&report), InvalidReason::Held { .. }),
        "{}",
        report.render()
    );
    assert!(
        report.evidence.failures[0].contains("OCSP"),
        "{:?}",
        report.evidence.failures
    );
    // POST to the OCSP path (404), then the base and the delta CRL.
    assert_eq!(server.hits.load(Ordering::SeqCst), 3);

    // CRL-only policy with a warm cache: no request at all.
    let crl_only = Verifier::with_status(
        trust(),
        StatusOptions::with_policy(StatusPolicy::CrlOnly),
        Arc::new(jpki_verify::status::http::StdHttpTransport::default()),
    );
    let first = crl_only.verify_certificate(&leaf, &[], Purpose::Authentication, AT);
    assert!(matches!(invalid_reason(&first), InvalidReason::Held { .. }));
    assert_eq!(server.hits.load(Ordering::SeqCst), 5);
    let second = crl_only.verify_certificate(&leaf, &[], Purpose::Authentication, AT);
    assert!(matches!(
        invalid_reason(&second),
        InvalidReason::Held { .. }
    ));
    assert_eq!(
        server.hits.load(Ordering::SeqCst),
        5,
        "served from the cache"
    );
    assert!(matches!(
        second.evidence.status.as_slice(),
        [(
            _,
            StatusEvidence::Crl {
                cached: true,
                delta: Some(_),
                ..
            }
        )]
    ));
}

// ---------------------------------------------------------------------------------------
// Trust anchors.

const JLIS_DIR: &str = "/work/shared/data/jlis-ca";

fn jlis_dir() -> PathBuf {
    // Tests read the real certificates where the project keeps them; never copied here.
    let shared = std::env::var_os("JPKI_SHARED_DIR")
        .map(PathBuf::from)
        .map(|dir| dir.join("data/jlis-ca"))
        .unwrap_or_else(|| PathBuf::from(JLIS_DIR));
    if !shared.is_dir() {
        // CI clones next to a copy of shared/: ../shared/data/jlis-ca from the workspace.
        let beside = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/jlis-ca");
        if beside.is_dir() {
            return beside;
        }
    }
    shared
}

#[test]
fn the_real_jlis_ca_certificates_load_as_anchors_and_self_verify() {
    let mut store = TrustStore::new();
    let added = store.add_jlis_dir(jlis_dir()).unwrap();
    assert_eq!(added, 4);
    let mut names: Vec<_> = store
        .anchors()
        .iter()
        .map(|anchor| anchor.jlis_name().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "J-LIS Auth CA 2015",
            "J-LIS Auth CA 2023",
            "J-LIS Sign CA 2015",
            "J-LIS Sign CA 2023"
        ]
    );
    for anchor in store.anchors() {
        let certificate = anchor.certificate();
        // add_der checked the self-signature; check it again from outside.
        certificate.verify_issued_by(certificate).unwrap();
        assert!(certificate.is_ca());
        assert!(
            certificate
                .subject()
                .to_rfc4514()
                .contains("OU=Japan Agency for Local Authority Information Systems")
        );
    }
    // Loading again adds nothing; our own roots sit beside them.
    assert_eq!(store.add_jlis_dir(jlis_dir()).unwrap(), 0);
    let w = world();
    assert!(store.add_der(&w.sign_root_der, "ours").unwrap());
    assert_eq!(store.len(), 5);

    // A directory holding anything else is not a J-LIS directory.
    let dir = TempDir::new().unwrap();
    for entry in std::fs::read_dir(jlis_dir()).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
    }
    write(
        &dir,
        "ours.pem",
        pem("CERTIFICATE", &w.sign_root_der).as_bytes(),
    );
    assert!(matches!(
        TrustStore::new().add_jlis_dir(dir.path()),
        Err(VerifyError::NotJlisAnchor { .. })
    ));
    // But as a plain trust directory it loads all five.
    assert_eq!(TrustStore::from_dir(dir.path()).unwrap().len(), 5);
}

#[test]
fn trust_stores_refuse_what_is_not_a_trustworthy_root() {
    let w = world();
    let mut store = TrustStore::new();
    // An end-entity certificate.
    assert!(matches!(
        store.add_der(&w.auth_leaf_der, "leaf"),
        Err(VerifyError::BadAnchor { .. })
    ));
    // A root whose self-signature was tampered with.
    let mut tampered = w.auth_root_der.clone();
    *tampered.last_mut().unwrap() ^= 1;
    assert!(matches!(
        store.add_der(&tampered, "tampered"),
        Err(VerifyError::BadAnchor { reason, .. }) if reason.contains("self-signature")
    ));
    // Garbage, PEM without certificates, an empty directory.
    assert!(store.add_der(b"junk", "junk").is_err());
    assert!(store.add_pem("no pem here", "text").is_err());
    let dir = TempDir::new().unwrap();
    assert!(matches!(
        TrustStore::from_dir(dir.path()),
        Err(VerifyError::NoCertificate(_))
    ));
    // A PEM bundle with both roots (and a key block that is skipped), and DER files.
    let bundle = format!(
        "{}{}{}",
        pem("CERTIFICATE", &w.sign_root_der),
        pem("PRIVATE KEY", &[0x30, 0x00]),
        pem("CERTIFICATE", &w.auth_root_der)
    );
    write(&dir, "bundle.pem", bundle.as_bytes());
    write(&dir, "sign.der", &w.sign_root_der);
    write(&dir, "notes.txt", b"ignored: not a certificate file name");
    let store = TrustStore::from_dir(dir.path()).unwrap();
    assert_eq!(store.len(), 2, "deduplicated");
    assert!(store.anchors().iter().all(|a| a.jlis_name().is_none()));
}

// ---------------------------------------------------------------------------------------
// Benchmark (not a timed test).

/// Signatures verified per second by the SDK (CMS: digest, signature, path, status from a
/// warm cache) next to raw RSA-2048 verifications per second, in the same process.
/// Run: `cargo test --release -p jpki-verify --test sdk -- --ignored --nocapture benchmark`.
#[test]
#[ignore = "benchmark: run explicitly in release"]
fn benchmark_verifications_per_second() {
    let w = world();
    let cms = sign_detached(DOCUMENT, &w.resident_key, &w.sign_leaf_der, &[], AT).unwrap();
    let verifier = offline_verifier();
    verifier
        .supply_ocsp_response(
            &OcspFixture::good(&w.sign_root_der, &w.sign_root_key, &w.sign_leaf_der).der(),
        )
        .unwrap();
    assert_valid(&verifier.verify_cms_detached(&cms, DOCUMENT, AT)); // warms the cache

    let rounds = 2000;
    let started = std::time::Instant::now();
    for _ in 0..rounds {
        let report = verifier.verify_cms_detached(&cms, DOCUMENT, AT);
        assert!(report.is_valid());
    }
    let sdk = f64::from(rounds) / started.elapsed().as_secs_f64();

    let signature = w.resident_key.sign(DOCUMENT).unwrap();
    let raw_rounds = 20_000;
    let started = std::time::Instant::now();
    for _ in 0..raw_rounds {
        jpki_crypto::verify_signature(
            SignatureAlgorithm::RsaPkcs1Sha256,
            w.resident_key.public_key_der(),
            DOCUMENT,
            &signature,
        )
        .unwrap();
    }
    let raw = f64::from(raw_rounds) / started.elapsed().as_secs_f64();

    // `openssl cms -verify` on the same files: one process per signature, as a script
    // would run it (path and signature; no status check).
    let dir = TempDir::new().unwrap();
    let cms_file = write(&dir, "doc.p7s", &cms);
    let content = write(&dir, "doc.bin", DOCUMENT);
    let ca = write(
        &dir,
        "ca.pem",
        pem("CERTIFICATE", &w.sign_root_der).as_bytes(),
    );
    let at = attime(AT);
    let openssl_rounds = 200;
    let started = std::time::Instant::now();
    for _ in 0..openssl_rounds {
        let output = openssl(&[
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            path_str(&cms_file),
            "-content",
            path_str(&content),
            "-CAfile",
            path_str(&ca),
            "-purpose",
            "any",
            "-attime",
            &at,
            "-out",
            "/dev/null",
        ]);
        assert!(output.status.success());
    }
    let openssl_rate = f64::from(openssl_rounds) / started.elapsed().as_secs_f64();
    println!(
        "SDK CMS verifications (path + warm OCSP cache): {sdk:.0}/s; raw RSA-2048 verifications: {raw:.0}/s; ratio {:.2}; openssl cms -verify (a process each): {openssl_rate:.0}/s",
        sdk / raw
    );
}

/// Answers POSTs from a script, one response body per request, and counts them.
#[derive(Debug, Default)]
struct Scripted {
    bodies: std::sync::Mutex<std::collections::VecDeque<Option<Vec<u8>>>>,
    hits: AtomicUsize,
}

impl HttpTransport for Scripted {
    fn get(&self, url: &str) -> Result<HttpResponse, TransportError> {
        self.post(url, "", &[])
    }
    fn post(&self, url: &str, _: &str, _: &[u8]) -> Result<HttpResponse, TransportError> {
        self.hits.fetch_add(1, Ordering::SeqCst);
        match self.bodies.lock().unwrap().pop_front().flatten() {
            Some(body) => Ok(HttpResponse {
                status: 200,
                content_type: Some("application/ocsp-response".into()),
                body,
            }),
            None => Err(TransportError::Connect {
                host: url.into(),
                detail: "refused (scripted)".into(),
            }),
        }
    }
}

/// The default verifier answers from its cache while the response is fresh (RFC 5019);
/// one that prefers fresh answers asks the responder every time, so a revocation made
/// after a cached `good` is seen at once, and it falls back to the cache only when the
/// responder cannot be reached.
#[test]
fn preferring_fresh_status_sees_a_revocation_the_cache_would_hide() {
    let w = world();
    let leaf = Issuer::new(&w.auth_root_der)
        .unwrap()
        .issue(
            &template(
                CertificateKind::CARD_AUTHENTICATION,
                "3101",
                &w.resident_key,
                Some("http://responder.invalid/ocsp".into()),
            ),
            &w.auth_root_key,
        )
        .unwrap();
    let good = OcspFixture::good(&w.auth_root_der, &w.auth_root_key, &leaf).der();
    let mut revoked = OcspFixture::good(&w.auth_root_der, &w.auth_root_key, &leaf);
    revoked.status = CertStatus::revoked(AT - Duration::minutes(1), None).unwrap();
    let revoked = revoked.der();

    for prefer_fresh in [false, true] {
        let transport = Arc::new(Scripted::default());
        transport
            .bodies
            .lock()
            .unwrap()
            .extend([Some(good.clone()), Some(revoked.clone()), None]);
        let verifier = Verifier::with_status(
            trust(),
            StatusOptions {
                prefer_fresh,
                ..StatusOptions::default()
            },
            transport.clone(),
        );
        assert_valid(&verifier.verify_certificate(&leaf, &[], Purpose::Authentication, AT));
        let second = verifier.verify_certificate(&leaf, &[], Purpose::Authentication, AT);
        if prefer_fresh {
            assert!(
                matches!(invalid_reason(&second), InvalidReason::Revoked { .. }),
                "{}",
                second.render()
            );
            assert_eq!(transport.hits.load(Ordering::SeqCst), 2);
            // Responder down: the freshest cached answer (revoked) still decides, and the
            // failed attempt is in the evidence.
            let third = verifier.verify_certificate(&leaf, &[], Purpose::Authentication, AT);
            assert!(matches!(
                invalid_reason(&third),
                InvalidReason::Revoked { .. }
            ));
            assert_eq!(third.evidence.failures.len(), 1, "{}", third.render());
        } else {
            assert_valid(&second);
            assert_eq!(
                transport.hits.load(Ordering::SeqCst),
                1,
                "served from the cache"
            );
        }
    }
}
