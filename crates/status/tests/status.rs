//! The one integration test binary of jpki-status: the OCSP responder and the CRL
//! publisher behind the real HTTP router on a loopback port, checked by OpenSSL 3 (an
//! independent implementation) and curl, plus the core's rules without a socket.
//!
//! Requires the `openssl` and `curl` command-line tools; the tests fail loudly when
//! either is missing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use base64::Engine;
use der::{Decode, Encode};
use jpki_crypto::{
    CryptoError, DigestAlgorithm, ManualClock, RsaKeySize, SecretString, SignatureAlgorithm,
    Signer, SoftwareRsaKey,
};
use jpki_model::{
    BasicInfo, BirthDate, CertificateKind, CertificateStatus, Purpose, RevocationReason,
    SerialNumber, Sex,
};
use jpki_pkix::crl::{CrlView, crl_pem};
use jpki_pkix::ocsp::{
    CertId, ID_PKIX_OCSP_NONCE, OcspCertStatus, OcspRequest, OcspResponseStatus, OcspResponseView,
    ResponseSigner,
};
use jpki_pkix::ocsp_responder_profile::{OcspResponderParams, issue_ocsp_responder_certificate};
use jpki_pkix::{
    CaParams, EndEntityTemplate, Issuer, JpkiCertificate, build_ca_certificate, certificate_pem,
};
use jpki_status::http::{ApiKeys, HttpState, router};
use jpki_status::{
    CrlAuthority, CrlConfig, CrlPublisher, CrlRepository, InMemoryResponseCache, InMemoryStatus,
    IssuerId, KnownStatus, OcspConfig, OcspReply, OcspService, PresigningResponder, ReplySource,
    Responder, ResponseCache, ShardId, StatusError, StatusLookup, crl_url,
};
use tempfile::TempDir;
use time::{Duration, OffsetDateTime};

// ---------------------------------------------------------------------------------------
// Fixture: RSA keys cost ~80 ms each, so the CAs, responders and leaves are made once.

/// Where the CRLs say they live (the IDP and the leaves' cRLDistributionPoints). The
/// tests download them from the real port; the URL inside is only compared.
const CRL_BASE: &str = "http://127.0.0.1:8080";

struct Leaf {
    serial: SerialNumber,
    issuer: IssuerId,
    shard: ShardId,
    pem: PathBuf,
}

struct Fixture {
    dir: TempDir,
    sign: IssuerId,
    auth: IssuerId,
    sign_ca_key: Arc<SoftwareRsaKey>,
    auth_ca_key: Arc<SoftwareRsaKey>,
    sign_ca_der: Vec<u8>,
    auth_ca_der: Vec<u8>,
    sign_responder_key: Arc<SoftwareRsaKey>,
    auth_responder_key: Arc<SoftwareRsaKey>,
    sign_responder_der: Vec<u8>,
    auth_responder_der: Vec<u8>,
    sign_ca_pem: PathBuf,
    auth_ca_pem: PathBuf,
    foreign_ca_pem: PathBuf,
    auth_responder_pem: PathBuf,
    /// auth CA, shard 0: held, then released.
    held: Leaf,
    /// auth CA, shard 0: revoked keyCompromise.
    revoked: Leaf,
    /// auth CA, shard 0: revoked superseded.
    superseded: Leaf,
    /// auth CA, shard 0: good (then revoked in the CRL test).
    plain: Leaf,
    /// auth CA, shard 0: a serial with the high bit set (DER sign byte), good.
    high: Leaf,
    /// auth CA, shard 1: revoked cessationOfOperation.
    other_shard: Leaf,
    /// auth CA: issued, but the status store never heard of it.
    unknown: Leaf,
    /// signature CA, shard 0: good.
    signature: Leaf,
    /// a CA nobody here serves.
    foreign: Leaf,
}

fn openssl_output(args: &[&str]) -> Output {
    std::process::Command::new("openssl")
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("the openssl CLI is required for these tests and could not be run: {e}")
        })
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        assert!(
            openssl_output(&["version"]).status.success(),
            "openssl is required"
        );
        let curl = std::process::Command::new("curl").arg("--version").output();
        assert!(
            curl.is_ok_and(|o| o.status.success()),
            "curl is required for these tests"
        );
        let dir = tempfile::tempdir().unwrap();
        let now = OffsetDateTime::now_utc();
        let key = || Arc::new(SoftwareRsaKey::generate(RsaKeySize::Rsa2048).unwrap());
        let (sign_ca_key, auth_ca_key, foreign_ca_key) = (key(), key(), key());
        let (sign_responder_key, auth_responder_key, resident_key) = (key(), key(), key());
        let ca = |purpose, serial: &str, key: &SoftwareRsaKey, second_ou: &str| {
            let mut params = CaParams::new(
                purpose,
                SerialNumber::from_hex(serial).unwrap(),
                now - Duration::days(2),
                now + Duration::days(3650),
            );
            params.second_ou = second_ou.to_owned();
            build_ca_certificate(&params, key).unwrap()
        };
        let sign_ca_der = ca(Purpose::Signature, "01", &sign_ca_key, "jpki test");
        let auth_ca_der = ca(Purpose::Authentication, "02", &auth_ca_key, "jpki test");
        let foreign_ca_der = ca(Purpose::Authentication, "03", &foreign_ca_key, "elsewhere");

        let write_pem = |name: &str, der: &[u8]| {
            let path = dir.path().join(name);
            std::fs::write(&path, certificate_pem(der).unwrap()).unwrap();
            path
        };
        let responder = |ca_der: &[u8], ca_key: &SoftwareRsaKey, key: &SoftwareRsaKey| {
            let params = OcspResponderParams::new(
                SerialNumber::from_hex("0F01").unwrap(),
                key.public_key_der().to_vec(),
                now - Duration::hours(1),
            );
            issue_ocsp_responder_certificate(&Issuer::new(ca_der).unwrap(), &params, ca_key)
                .unwrap()
        };
        let sign_responder_der = responder(&sign_ca_der, &sign_ca_key, &sign_responder_key);
        let auth_responder_der = responder(&auth_ca_der, &auth_ca_key, &auth_responder_key);

        let sign = IssuerId::new("sign").unwrap();
        let auth = IssuerId::new("auth").unwrap();
        let foreign_id = IssuerId::new("foreign").unwrap();
        let leaf = |name: &str,
                    serial: &str,
                    issuer: &IssuerId,
                    shard: u32,
                    ca_der: &[u8],
                    ca_key: &SoftwareRsaKey| {
            let shard = ShardId::new(shard);
            let serial = SerialNumber::from_hex(serial).unwrap();
            let kind = if *issuer == sign {
                CertificateKind::CARD_SIGNATURE
            } else {
                CertificateKind::CARD_AUTHENTICATION
            };
            let basic_info = (kind.purpose == Purpose::Signature).then(|| {
                BasicInfo::new(
                    "公的 太郎",
                    None,
                    "東京都千代田区霞が関2-1-2",
                    None,
                    BirthDate::parse("1990-01-02").unwrap(),
                    Sex::Male,
                )
                .unwrap()
            });
            let template = EndEntityTemplate {
                kind,
                serial: serial.clone(),
                subject_cn: format!("TEST{}", serial.to_hex()),
                subject_public_key_der: resident_key.public_key_der().to_vec(),
                basic_info,
                not_before: now - Duration::days(1),
                not_after: now + Duration::days(365),
                crl_distribution_point: Some(crl_url(CRL_BASE, issuer, shard)),
                ocsp_url: Some("http://127.0.0.1:8080/ocsp".to_owned()),
            };
            let der = Issuer::new(ca_der)
                .unwrap()
                .issue(&template, ca_key)
                .unwrap();
            Leaf {
                serial,
                issuer: issuer.clone(),
                shard,
                pem: write_pem(&format!("{name}.pem"), &der),
            }
        };
        let a = (&auth_ca_der, &*auth_ca_key);
        Fixture {
            held: leaf("held", "1001", &auth, 0, a.0, a.1),
            revoked: leaf("revoked", "1002", &auth, 0, a.0, a.1),
            superseded: leaf("superseded", "1003", &auth, 0, a.0, a.1),
            unknown: leaf("unknown", "1004", &auth, 0, a.0, a.1),
            plain: leaf("plain", "1005", &auth, 0, a.0, a.1),
            other_shard: leaf("other_shard", "1006", &auth, 1, a.0, a.1),
            high: leaf("high", "9F00000000000001", &auth, 0, a.0, a.1),
            signature: leaf("signature", "2001", &sign, 0, &sign_ca_der, &sign_ca_key),
            foreign: leaf(
                "foreign",
                "3001",
                &foreign_id,
                0,
                &foreign_ca_der,
                &foreign_ca_key,
            ),
            sign_ca_pem: write_pem("sign_ca.pem", &sign_ca_der),
            auth_ca_pem: write_pem("auth_ca.pem", &auth_ca_der),
            foreign_ca_pem: write_pem("foreign_ca.pem", &foreign_ca_der),
            auth_responder_pem: write_pem("auth_responder.pem", &auth_responder_der),
            dir,
            sign,
            auth,
            sign_ca_key,
            auth_ca_key,
            sign_ca_der,
            auth_ca_der,
            sign_responder_key,
            auth_responder_key,
            sign_responder_der,
            auth_responder_der,
        }
    })
}

/// A signer that counts its signatures: proof that a response came from the cache.
#[derive(Debug)]
struct Counting {
    key: Arc<SoftwareRsaKey>,
    count: AtomicU64,
}

impl Counting {
    fn new(key: &Arc<SoftwareRsaKey>) -> Arc<Self> {
        Arc::new(Self {
            key: Arc::clone(key),
            count: AtomicU64::new(0),
        })
    }

    fn count(&self) -> u64 {
        self.count.load(Ordering::SeqCst)
    }
}

impl Signer for Counting {
    fn algorithm(&self) -> SignatureAlgorithm {
        self.key.algorithm()
    }
    fn public_key_der(&self) -> &[u8] {
        self.key.public_key_der()
    }
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.count.fetch_add(1, Ordering::SeqCst);
        self.key.sign(message)
    }
}

type Ocsp = PresigningResponder<Arc<InMemoryStatus>, InMemoryResponseCache>;

/// A status store with the fixture's statuses, set three hours before `now`.
fn statuses(now: OffsetDateTime) -> Arc<InMemoryStatus> {
    let f = fixture();
    let store = Arc::new(InMemoryStatus::new());
    let set = |leaf: &Leaf, status| {
        store.set(
            &leaf.issuer,
            &leaf.serial,
            leaf.shard,
            status,
            now - Duration::hours(3),
        );
    };
    set(&f.held, KnownStatus::Good);
    set(&f.plain, KnownStatus::Good);
    set(&f.high, KnownStatus::Good);
    set(&f.signature, KnownStatus::Good);
    let revoked = |reason| KnownStatus::Revoked {
        at: now - Duration::hours(3),
        reason,
    };
    set(&f.revoked, revoked(RevocationReason::KeyCompromise));
    set(&f.superseded, revoked(RevocationReason::Superseded));
    set(
        &f.other_shard,
        revoked(RevocationReason::CessationOfOperation),
    );
    store
}

struct OcspRig {
    ocsp: Arc<Ocsp>,
    status: Arc<InMemoryStatus>,
    clock: ManualClock,
    auth_signer: Arc<Counting>,
    sign_signer: Arc<Counting>,
}

fn ocsp_rig(config: OcspConfig) -> OcspRig {
    let f = fixture();
    let clock = ManualClock::new(OffsetDateTime::now_utc());
    let auth_signer = Counting::new(&f.auth_responder_key);
    let sign_signer = Counting::new(&f.sign_responder_key);
    let auth_dyn: Arc<dyn Signer> = auth_signer.clone();
    let sign_dyn: Arc<dyn Signer> = sign_signer.clone();
    let responders = vec![
        Responder::new(
            f.sign.clone(),
            &f.sign_ca_der,
            &f.sign_responder_der,
            sign_dyn,
        )
        .unwrap(),
        Responder::new(
            f.auth.clone(),
            &f.auth_ca_der,
            &f.auth_responder_der,
            auth_dyn,
        )
        .unwrap(),
    ];
    let service = OcspService::new(responders, config).unwrap();
    let status = statuses(clock_now(&clock));
    let ocsp = Arc::new(PresigningResponder::new(
        service,
        Arc::clone(&status),
        InMemoryResponseCache::new(),
        Arc::new(clock.clone()),
    ));
    OcspRig {
        ocsp,
        status,
        clock,
        auth_signer,
        sign_signer,
    }
}

fn clock_now(clock: &ManualClock) -> OffsetDateTime {
    jpki_crypto::Clock::now(clock)
}

async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{address}")
}

async fn run(program: &str, args: &[&str]) -> (bool, String) {
    let output = tokio::process::Command::new(program)
        .args(args)
        .output()
        .await
        .unwrap_or_else(|e| panic!("{program} is required for these tests: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

async fn openssl(args: &[&str]) -> (bool, String) {
    run("openssl", args).await
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// `openssl ocsp` against `url` about `certs` of `issuer`, verifying with `ca`.
async fn query(url: &str, issuer: &Path, certs: &[&Leaf], extra: &[&str]) -> String {
    // Digest options must come before -cert.
    let mut args = vec!["ocsp"];
    args.extend(extra);
    args.extend(["-issuer", p(issuer)]);
    for leaf in certs {
        args.extend(["-cert", p(&leaf.pem)]);
    }
    let endpoint = format!("{url}/ocsp");
    args.extend(["-url", &endpoint, "-CAfile", p(issuer), "-resp_text"]);
    openssl(&args).await.1
}

#[track_caller]
fn assert_status(output: &str, leaf: &Leaf, status: &str) {
    let line = format!("{}: {status}", p(&leaf.pem));
    assert!(output.contains(&line), "expected {line:?} in:\n{output}");
}

#[track_caller]
fn assert_verified(output: &str) {
    assert!(
        output.contains("Response verify OK"),
        "no 'Response verify OK' in:\n{output}"
    );
}

// ---------------------------------------------------------------------------------------
// OCSP through HTTP, checked by `openssl ocsp`.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openssl_follows_a_certificate_through_hold_release_and_revocation() {
    let f = fixture();
    let rig = ocsp_rig(OcspConfig::default());
    let url = serve(router(HttpState::new(
        Arc::clone(&rig.ocsp),
        Arc::new(CrlRepository::new()),
    )))
    .await;
    let ca = &f.auth_ca_pem;

    // Good, with a nonce (openssl's default): echoed, so signed for this request.
    let before = rig.auth_signer.count();
    let out = query(&url, ca, &[&f.held], &[]).await;
    assert_status(&out, &f.held, "good");
    assert_verified(&out);
    assert!(out.contains("OCSP Nonce"), "nonce not echoed:\n{out}");
    assert!(!out.contains("WARNING: no nonce"), "{out}");
    assert!(!out.contains("Nonce Verify error"), "{out}");
    assert!(
        out.contains("OCSP responder 1"),
        "the responder certificate travels in certs:\n{out}"
    );
    assert_eq!(rig.auth_signer.count(), before + 1);

    // On hold: revoked with reason certificateHold, at the start of the hold.
    let held_since = clock_now(&rig.clock) - Duration::minutes(5);
    rig.status.set(
        &f.held.issuer,
        &f.held.serial,
        f.held.shard,
        KnownStatus::Held { since: held_since },
        clock_now(&rig.clock),
    );
    assert_eq!(
        rig.ocsp
            .on_status_change(&f.held.issuer, &f.held.serial)
            .await
            .unwrap(),
        2,
        "SHA-1 and SHA-256 responses are pre-signed"
    );
    let out = query(&url, ca, &[&f.held], &[]).await;
    assert_status(&out, &f.held, "revoked");
    assert!(out.contains("Reason: certificateHold"), "{out}");
    assert_verified(&out);

    // Without a nonce: straight from the pre-signed cache, no signature at all.
    let before = rig.auth_signer.count();
    let hits = rig.ocsp.stats().presigned_hits;
    let out = query(&url, ca, &[&f.held], &["-no_nonce"]).await;
    assert_status(&out, &f.held, "revoked");
    assert!(out.contains("Reason: certificateHold"), "{out}");
    assert_verified(&out);
    let out = query(&url, ca, &[&f.held], &["-no_nonce", "-sha256"]).await;
    assert_status(&out, &f.held, "revoked");
    assert!(out.contains("Hash Algorithm: sha256"), "{out}");
    assert_verified(&out);
    assert_eq!(rig.auth_signer.count(), before, "served without signing");
    assert_eq!(rig.ocsp.stats().presigned_hits, hits + 2);

    // Released: good again, and the cache follows at once.
    rig.status.set(
        &f.held.issuer,
        &f.held.serial,
        f.held.shard,
        KnownStatus::Good,
        clock_now(&rig.clock),
    );
    rig.ocsp
        .on_status_change(&f.held.issuer, &f.held.serial)
        .await
        .unwrap();
    let before = rig.auth_signer.count();
    let out = query(&url, ca, &[&f.held], &["-no_nonce"]).await;
    assert_status(&out, &f.held, "good");
    assert_verified(&out);
    assert_eq!(rig.auth_signer.count(), before);

    // Revoked certificates, with their reasons; two CertIDs in one request.
    let out = query(&url, ca, &[&f.revoked, &f.superseded], &[]).await;
    assert_status(&out, &f.revoked, "revoked");
    assert_status(&out, &f.superseded, "revoked");
    assert!(out.contains("Reason: keyCompromise"), "{out}");
    assert!(out.contains("Reason: superseded"), "{out}");
    assert_verified(&out);

    // SHA-256 CertIDs with a nonce, several at once, a serial with its high bit set.
    let out = query(&url, ca, &[&f.high, &f.held, &f.revoked], &["-sha256"]).await;
    assert_status(&out, &f.high, "good");
    assert_status(&out, &f.held, "good");
    assert_status(&out, &f.revoked, "revoked");
    assert_verified(&out);

    // A serial this CA never issued (as far as the status store knows): unknown.
    let out = query(&url, ca, &[&f.unknown], &[]).await;
    assert_status(&out, &f.unknown, "unknown");
    assert_verified(&out);

    // The other CA, at the same URL, through its own responder.
    let before = rig.sign_signer.count();
    let out = query(&url, &f.sign_ca_pem, &[&f.signature], &[]).await;
    assert_status(&out, &f.signature, "good");
    assert_verified(&out);
    assert_eq!(rig.sign_signer.count(), before + 1);

    // A CA not served here at all: the message is unauthorized.
    let out = query(&url, &f.foreign_ca_pem, &[&f.foreign], &[]).await;
    assert!(
        out.contains("Responder Error: unauthorized (6)"),
        "foreign issuer:\n{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_requests_are_served_from_the_cache_with_rfc_5019_headers() {
    let f = fixture();
    let rig = ocsp_rig(OcspConfig::default());
    let url = serve(router(HttpState::new(
        Arc::clone(&rig.ocsp),
        Arc::new(CrlRepository::new()),
    )))
    .await;
    for leaf in [&f.plain, &f.revoked] {
        rig.ocsp
            .on_status_change(&leaf.issuer, &leaf.serial)
            .await
            .unwrap();
    }
    let dir = &f.dir;
    let ca = p(&f.auth_ca_pem);
    for (leaf, expected) in [(&f.plain, "good"), (&f.revoked, "revoked")] {
        // The request bytes come from OpenSSL.
        let request = dir.path().join(format!("get-{}.req", leaf.serial));
        let (ok, out) = openssl(&[
            "ocsp",
            "-issuer",
            ca,
            "-cert",
            p(&leaf.pem),
            "-no_nonce",
            "-reqout",
            p(&request),
        ])
        .await;
        assert!(ok, "{out}");
        let der = std::fs::read(&request).unwrap();
        // The OpenSSL request round-trips through our types.
        assert_eq!(OcspRequest::from_der(&der).unwrap().to_der().unwrap(), der);
        let standard = base64::engine::general_purpose::STANDARD.encode(&der);
        let spellings = [
            // RFC 5019 §5: base64, then URL-encoded.
            standard
                .replace('+', "%2B")
                .replace('/', "%2F")
                .replace('=', "%3D"),
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&der),
            standard.clone(),
        ];
        let before = rig.auth_signer.count();
        let mut etag = String::new();
        for (index, spelling) in spellings.iter().enumerate() {
            let response = dir.path().join(format!("get-{}-{index}.der", leaf.serial));
            let headers = dir.path().join(format!("get-{}-{index}.txt", leaf.serial));
            let (ok, out) = run(
                "curl",
                &[
                    "-sS",
                    "--path-as-is",
                    "-D",
                    p(&headers),
                    "-o",
                    p(&response),
                    &format!("{url}/ocsp/{spelling}"),
                ],
            )
            .await;
            assert!(ok, "{out}");
            let head = std::fs::read_to_string(&headers)
                .unwrap()
                .to_ascii_lowercase();
            assert!(head.starts_with("http/1.1 200"), "{head}");
            assert!(
                head.contains("content-type: application/ocsp-response"),
                "{head}"
            );
            assert!(
                head.contains(", public, no-transform, must-revalidate"),
                "{head}"
            );
            let max_age: i64 = head
                .split("cache-control: max-age=")
                .nth(1)
                .and_then(|rest| rest.split(',').next())
                .unwrap()
                .parse()
                .unwrap();
            assert!((3000..=3600).contains(&max_age), "max-age {max_age}");
            assert!(head.contains("last-modified: "), "{head}");
            assert!(head.contains("expires: "), "{head}");
            let this_etag = head
                .lines()
                .find_map(|line| line.strip_prefix("etag: "))
                .unwrap()
                .trim()
                .to_owned();
            if index == 0 {
                etag = this_etag;
            } else {
                assert_eq!(this_etag, etag, "the same pre-signed bytes");
            }
            let (_, out) = openssl(&[
                "ocsp",
                "-issuer",
                ca,
                "-cert",
                p(&leaf.pem),
                "-no_nonce",
                "-respin",
                p(&response),
                "-CAfile",
                ca,
                "-resp_text",
            ])
            .await;
            assert_status(&out, leaf, expected);
            assert_verified(&out);
        }
        assert_eq!(rig.auth_signer.count(), before, "GETs are cache hits");

        // A conditional GET with the ETag: 304, no body.
        let (ok, code) = run(
            "curl",
            &[
                "-sS",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "-H",
                &format!("If-None-Match: {etag}"),
                &format!("{url}/ocsp/{}", spellings[1]),
            ],
        )
        .await;
        assert!(ok);
        assert_eq!(code, "304");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restricted_mode_answers_only_with_the_right_key() {
    let f = fixture();
    let rig = ocsp_rig(OcspConfig::default());
    let repository = Arc::new(CrlRepository::new());
    let keys = ApiKeys::new([SecretString::from("s3cret-key")]).unwrap();
    let state = HttpState::new(Arc::clone(&rig.ocsp), Arc::clone(&repository))
        .with_authorizer(Arc::new(keys));
    let url = serve(router(state)).await;
    let ca = &f.auth_ca_pem;

    let out = query(&url, ca, &[&f.plain], &[]).await;
    assert!(
        out.contains("Responder Error: unauthorized (6)"),
        "no key:\n{out}"
    );
    let out = query(
        &url,
        ca,
        &[&f.plain],
        &["-header", "Authorization=Bearer wrong"],
    )
    .await;
    assert!(out.contains("Responder Error: unauthorized (6)"), "{out}");
    let out = query(
        &url,
        ca,
        &[&f.plain],
        &["-header", "Authorization=Bearer s3cret-key"],
    )
    .await;
    assert_status(&out, &f.plain, "good");
    assert_verified(&out);

    // CRLs: 401 without the key.
    let publisher = crl_publisher(&rig, &repository);
    publisher
        .publish_full(&f.auth, ShardId::new(0), clock_now(&rig.clock))
        .await
        .unwrap();
    let crl = format!("{url}/crl/auth/0.crl");
    let code = |extra: &'static [&'static str]| {
        let crl = crl.clone();
        async move {
            let mut args = vec!["-sS", "-o", "/dev/null", "-w", "%{http_code}"];
            args.extend(extra);
            args.push(&crl);
            run("curl", &args).await.1
        }
    };
    assert_eq!(code(&[]).await, "401");
    assert_eq!(
        code(&["-H", "Authorization: Bearer s3cret-key"]).await,
        "200"
    );
}

// ---------------------------------------------------------------------------------------
// Malformed input: never a panic, always a clear answer.

async fn curl_post(url: &str, body: &Path, content_type: &str, out: &Path) -> String {
    run(
        "curl",
        &[
            "-sS",
            "-o",
            p(out),
            "-w",
            "%{http_code}",
            "-H",
            &format!("Content-Type: {content_type}"),
            "--data-binary",
            &format!("@{}", p(body)),
            &format!("{url}/ocsp"),
        ],
    )
    .await
    .1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_get_malformed_request_or_a_4xx_never_a_panic() {
    let f = fixture();
    let rig = ocsp_rig(OcspConfig::default());
    let url = serve(router(HttpState::new(
        Arc::clone(&rig.ocsp),
        Arc::new(CrlRepository::new()),
    )))
    .await;
    let dir = &f.dir;
    let good = rig.ocsp.service().responders()[1]
        .cert_id(&f.plain.serial, DigestAlgorithm::Sha1)
        .unwrap();
    let valid = OcspRequest::new(vec![good], Some(&[9u8; 16]))
        .unwrap()
        .to_der()
        .unwrap();
    let mut wrong_tag = valid.clone();
    wrong_tag[0] = 0x31;
    /// One bad POST: its body and content type, the HTTP status and, for a 200, the
    /// OCSP status expected.
    struct BadPost {
        name: &'static str,
        body: Vec<u8>,
        content_type: &'static str,
        http: &'static str,
        ocsp: Option<OcspResponseStatus>,
    }
    let malformed = |name, body| BadPost {
        name,
        body,
        content_type: "application/ocsp-request",
        http: "200",
        ocsp: Some(OcspResponseStatus::MalformedRequest),
    };
    let cases = [
        malformed("empty", Vec::new()),
        malformed("truncated", valid[..valid.len() - 7].to_vec()),
        malformed("wrong-tag", wrong_tag),
        malformed("garbage", b"GET / HTTP/1.1\r\n".to_vec()),
        BadPost {
            name: "huge",
            body: vec![0x30; 1 << 20],
            content_type: "application/ocsp-request",
            http: "413",
            ocsp: None,
        },
        BadPost {
            name: "text",
            body: valid.clone(),
            content_type: "text/plain",
            http: "415",
            ocsp: None,
        },
    ];
    for BadPost {
        name,
        body,
        content_type,
        http,
        ocsp,
    } in cases
    {
        let body_path = dir.path().join(format!("bad-{name}.req"));
        let out_path = dir.path().join(format!("bad-{name}.resp"));
        std::fs::write(&body_path, &body).unwrap();
        let code = curl_post(&url, &body_path, content_type, &out_path).await;
        assert_eq!(code, http, "{name}");
        if let Some(expected) = ocsp {
            let bytes = std::fs::read(&out_path).unwrap();
            let view = OcspResponseView::from_der(&bytes).unwrap();
            assert_eq!(view.response_status(), expected, "{name}");
        }
    }
    // The valid request still works (and OpenSSL reads our malformedRequest too).
    let body_path = dir.path().join("bad-control.req");
    let out_path = dir.path().join("bad-control.resp");
    std::fs::write(&body_path, &valid).unwrap();
    assert_eq!(
        curl_post(&url, &body_path, "application/ocsp-request", &out_path).await,
        "200"
    );
    std::fs::write(&out_path, [0x30, 0x03, 0x0a, 0x01, 0x01]).unwrap();
    let (_, out) = openssl(&["ocsp", "-respin", p(&out_path), "-resp_text", "-noverify"]).await;
    assert!(out.contains("malformedrequest"), "{out}");

    // GET paths that are not base64, or empty.
    for (path, expected) in [
        ("/ocsp/!!!!", "400"),
        ("/ocsp/", "400"),
        ("/ocsp/%zz", "400"),
        ("/ocsp/MAA", "200"),
        ("/crl/auth/x.crl", "404"),
        ("/crl/auth/01.crl", "404"),
        ("/crl/auth/0.crl", "404"),
        ("/crl/a%20b/0.crl", "404"),
    ] {
        let (_, code) = run(
            "curl",
            &[
                "-sS",
                "--path-as-is",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                &format!("{url}{path}"),
            ],
        )
        .await;
        assert_eq!(code, expected, "{path}");
    }

    // Every truncation and every single-bit flip of a valid request: the core answers
    // each one with a well-formed OCSP response.
    let mut seen = std::collections::BTreeSet::new();
    for cut in 0..valid.len() {
        let reply = rig.ocsp.handle(&valid[..cut]).await;
        assert_eq!(
            reply.status,
            OcspResponseStatus::MalformedRequest,
            "cut {cut}"
        );
    }
    for index in 0..valid.len() {
        for bit in 0..8 {
            let mut mutated = valid.clone();
            mutated[index] ^= 1 << bit;
            let reply = rig.ocsp.handle(&mutated).await;
            let view = OcspResponseView::from_der(&reply.der).unwrap();
            assert_eq!(view.response_status(), reply.status);
            seen.insert(format!("{:?}", reply.status));
        }
    }
    // Flips in the hashes make the issuer foreign; flips in the serial or the nonce
    // still get an answer; flips in the structure are malformed.
    assert!(seen.contains("Successful"), "{seen:?}");
    assert!(seen.contains("MalformedRequest"), "{seen:?}");
    assert!(seen.contains("Unauthorized"), "{seen:?}");
}

// ---------------------------------------------------------------------------------------
// The core's rules, without a socket.

fn request(ids: Vec<CertId>, nonce: Option<&[u8]>) -> Vec<u8> {
    OcspRequest::new(ids, nonce).unwrap().to_der().unwrap()
}

fn cert_id(rig: &OcspRig, leaf: &Leaf, hash: DigestAlgorithm) -> CertId {
    let responder = rig
        .ocsp
        .service()
        .responders_for(&leaf.issuer)
        .next()
        .unwrap();
    responder.cert_id(&leaf.serial, hash).unwrap()
}

fn view(reply: &OcspReply) -> OcspResponseView {
    OcspResponseView::from_der(&reply.der).unwrap()
}

#[tokio::test]
async fn the_core_answers_per_rfc_6960() {
    let f = fixture();
    let rig = ocsp_rig(OcspConfig::default());
    let auth_ca = JpkiCertificate::from_der(&f.auth_ca_der).unwrap();
    let sign_ca = JpkiCertificate::from_der(&f.sign_ca_der).unwrap();
    let now = clock_now(&rig.clock);

    // Mixed CAs: the first CA we serve answers; the other CA's CertID is unknown.
    let der = request(
        vec![
            cert_id(&rig, &f.plain, DigestAlgorithm::Sha1),
            cert_id(&rig, &f.signature, DigestAlgorithm::Sha1),
        ],
        None,
    );
    let reply = rig.ocsp.handle(&der).await;
    assert_eq!(reply.source, ReplySource::SignedNow);
    assert!(reply.cache.is_none(), "an unknown answer is not cacheable");
    let response = view(&reply);
    let single = &response.responses()[1];
    assert_eq!(single.status, OcspCertStatus::Unknown);
    assert!(
        single
            .cert_id
            .names_issuer(sign_ca.subject().der(), sign_ca.public_key_bits())
    );
    assert_eq!(
        response.find(&auth_ca, &f.plain.serial).unwrap().status,
        OcspCertStatus::Good
    );
    // Like OpenSSL, our relying-party view refuses a delegated response that speaks
    // about two CAs.
    assert!(response.verify_for_issuer(&auth_ca, now).is_err());

    // One CA: the delegation verifies with our view.
    let only_auth = request(vec![cert_id(&rig, &f.plain, DigestAlgorithm::Sha1)], None);
    let response = view(&rig.ocsp.handle(&only_auth).await);
    match response.verify_for_issuer(&auth_ca, now).unwrap() {
        ResponseSigner::Delegated(responder) => {
            assert_eq!(responder.der(), f.auth_responder_der.as_slice());
        }
        ResponseSigner::Issuer => panic!("signed by the delegated responder, not the CA"),
    }
    assert!(response.verify_for_issuer(&sign_ca, now).is_err());
    // producedAt = thisUpdate = now; nextUpdate = thisUpdate + 1 h.
    let single = response.find(&auth_ca, &f.plain.serial).unwrap();
    let now = now.replace_nanosecond(0).unwrap();
    assert_eq!(single.this_update, now);
    assert_eq!(single.next_update, Some(now + Duration::hours(1)));
    assert_eq!(response.produced_at(), Some(now));

    finish_core_rules(&rig, &auth_ca).await;
}

async fn finish_core_rules(rig: &OcspRig, auth_ca: &JpkiCertificate) {
    let f = fixture();
    // A hash that is not pre-signed (SHA-384): answered, signed on demand, not cached.
    let der = request(
        vec![cert_id(rig, &f.revoked, DigestAlgorithm::Sha384)],
        None,
    );
    let before = rig.auth_signer.count();
    let reply = rig.ocsp.handle(&der).await;
    assert_eq!(reply.source, ReplySource::SignedNow);
    assert!(matches!(
        view(&reply)
            .find(auth_ca, &f.revoked.serial)
            .unwrap()
            .status,
        OcspCertStatus::Revoked {
            reason: Some(RevocationReason::KeyCompromise),
            ..
        }
    ));
    rig.ocsp.handle(&der).await;
    assert_eq!(rig.auth_signer.count(), before + 2);

    // A cache miss for a cacheable request signs once, then serves from the cache.
    let der = request(
        vec![cert_id(rig, &f.superseded, DigestAlgorithm::Sha1)],
        None,
    );
    let first = rig.ocsp.handle(&der).await;
    let second = rig.ocsp.handle(&der).await;
    assert_eq!(first.source, ReplySource::SignedNow);
    assert_eq!(second.source, ReplySource::Presigned);
    assert_eq!(first.der, second.der);

    // A nonce is echoed, byte for byte, and the response is never cached.
    let nonce = [0x5au8; 32];
    let der = request(
        vec![cert_id(rig, &f.plain, DigestAlgorithm::Sha1)],
        Some(&nonce),
    );
    let reply = rig.ocsp.handle(&der).await;
    assert_eq!(view(&reply).nonce(), Some(&nonce[..]));
    assert!(reply.cache.is_none());
    assert_eq!(rig.ocsp.handle(&der).await.source, ReplySource::SignedNow);

    // Refusals.
    let one = || cert_id(rig, &f.plain, DigestAlgorithm::Sha1);
    let too_many = request((0..17).map(|_| one()).collect(), None);
    let mut huge_nonce = OcspRequest::new(vec![one()], None).unwrap();
    huge_nonce.tbs_request.request_extensions = Some(vec![x509_cert::ext::Extension {
        extn_id: ID_PKIX_OCSP_NONCE,
        critical: false,
        extn_value: der::asn1::OctetString::new(
            der::asn1::OctetString::new(vec![1u8; 129])
                .unwrap()
                .to_der()
                .unwrap(),
        )
        .unwrap(),
    }]);
    let mut critical = OcspRequest::new(vec![one()], None).unwrap();
    critical.tbs_request.request_extensions = Some(vec![x509_cert::ext::Extension {
        extn_id: der::asn1::ObjectIdentifier::new_unwrap("1.2.3.4"),
        critical: true,
        extn_value: der::asn1::OctetString::new(vec![5, 0]).unwrap(),
    }]);
    let mut empty = OcspRequest::new(vec![one()], None).unwrap();
    empty.tbs_request.request_list.clear();
    for (name, der) in [
        ("too many", too_many),
        ("nonce over 128 octets", huge_nonce.to_der().unwrap()),
        ("unknown critical extension", critical.to_der().unwrap()),
        ("no CertID", empty.to_der().unwrap()),
        ("over the size limit", vec![0x30; 20_000]),
    ] {
        let reply = rig.ocsp.handle(&der).await;
        assert_eq!(reply.status, OcspResponseStatus::MalformedRequest, "{name}");
        assert_eq!(reply.source, ReplySource::Refused);
        assert_eq!(reply.der.len(), 5);
    }
}

/// A lookup whose database is down.
struct Down;

impl StatusLookup for Down {
    async fn status(
        &self,
        _issuer: &IssuerId,
        _serial: &SerialNumber,
    ) -> Result<Option<KnownStatus>, StatusError> {
        Err(StatusError::Backend("connection refused".to_owned()))
    }
}

#[tokio::test]
async fn a_failing_backend_is_try_later_and_an_expired_responder_internal_error() {
    let f = fixture();
    let rig = ocsp_rig(OcspConfig::default());
    let service = rig.ocsp.service();
    let der = request(vec![cert_id(&rig, &f.plain, DigestAlgorithm::Sha1)], None);
    let now = clock_now(&rig.clock);
    let reply = service.respond(&der, now, &Down).await;
    assert_eq!(reply.status, OcspResponseStatus::TryLater);
    // Past the responder certificate's 30 days: refuse rather than sign the unverifiable.
    let reply = service
        .respond(&der, now + Duration::days(31), rig.ocsp.lookup())
        .await;
    assert_eq!(reply.status, OcspResponseStatus::InternalError);
    // nextUpdate never outlives the responder certificate.
    let responder_end = JpkiCertificate::from_der(&f.auth_responder_der)
        .unwrap()
        .not_after();
    let near_end = responder_end - Duration::minutes(30);
    let reply = service.respond(&der, near_end, rig.ocsp.lookup()).await;
    assert_eq!(reply.cache.unwrap().next_update, responder_end);
}

#[tokio::test]
async fn refresh_re_signs_before_next_update_and_status_changes_reach_the_cache() {
    let f = fixture();
    let rig = ocsp_rig(OcspConfig::default());
    let auth_ca = JpkiCertificate::from_der(&f.auth_ca_der).unwrap();
    for leaf in [&f.plain, &f.revoked, &f.high] {
        assert_eq!(
            rig.ocsp
                .on_status_change(&leaf.issuer, &leaf.serial)
                .await
                .unwrap(),
            2
        );
    }
    assert_eq!(rig.ocsp.cache().len(), 6);
    // Nothing is due yet.
    let report = rig.ocsp.refresh().await.unwrap();
    assert_eq!(report.certificates, 0);

    // 31 minutes on, every response is within the 30-minute margin of nextUpdate.
    rig.clock.advance(Duration::minutes(31));
    let before = rig.auth_signer.count();
    let report = rig.ocsp.refresh().await.unwrap();
    assert_eq!(report.certificates, 3);
    assert_eq!(report.signatures, 6);
    assert!(!report.more_due);
    assert_eq!(rig.auth_signer.count(), before + 6);
    let der = request(vec![cert_id(&rig, &f.plain, DigestAlgorithm::Sha1)], None);
    let reply = rig.ocsp.handle(&der).await;
    assert_eq!(reply.source, ReplySource::Presigned);
    let this_update = view(&reply)
        .find(&auth_ca, &f.plain.serial)
        .unwrap()
        .this_update;
    assert_eq!(
        this_update,
        clock_now(&rig.clock).replace_nanosecond(0).unwrap()
    );

    // Without refresh, a response past its nextUpdate is not served: a new one is signed.
    rig.clock.advance(Duration::minutes(61));
    let reply = rig.ocsp.handle(&der).await;
    assert_eq!(reply.source, ReplySource::SignedNow);
    assert_eq!(rig.ocsp.handle(&der).await.source, ReplySource::Presigned);

    // A certificate the lookup forgets loses its cached responses.
    rig.status.remove(&f.high.issuer, &f.high.serial);
    assert_eq!(
        rig.ocsp
            .on_status_change(&f.high.issuer, &f.high.serial)
            .await
            .unwrap(),
        0
    );
    let der = request(vec![cert_id(&rig, &f.high, DigestAlgorithm::Sha1)], None);
    let reply = rig.ocsp.handle(&der).await;
    assert_eq!(
        view(&reply).find(&auth_ca, &f.high.serial).unwrap().status,
        OcspCertStatus::Unknown
    );

    // The request path never overwrites a fresh entry (a status change won the race).
    let cache = InMemoryResponseCache::new();
    let key = jpki_status::PresignedKey::from_bytes(vec![1, 2, 3]);
    let entry = |minutes: i64| jpki_status::PresignedResponse {
        issuer: f.auth.clone(),
        serial: f.plain.serial.clone(),
        der: axum::body::Bytes::from_static(b"x"),
        produced_at: clock_now(&rig.clock),
        this_update: clock_now(&rig.clock),
        next_update: clock_now(&rig.clock) + Duration::minutes(minutes),
        etag: minutes.to_string(),
    };
    let now = clock_now(&rig.clock);
    assert!(
        cache
            .put_if_stale(key.clone(), entry(60), now)
            .await
            .unwrap()
    );
    assert!(
        !cache
            .put_if_stale(key.clone(), entry(61), now)
            .await
            .unwrap()
    );
    assert_eq!(cache.get(&key).await.unwrap().unwrap().etag, "60");
    assert!(
        cache
            .put_if_stale(key.clone(), entry(62), now + Duration::minutes(60))
            .await
            .unwrap()
    );
}

#[test]
fn responders_refuse_a_broken_delegation() {
    let f = fixture();
    let key: Arc<dyn Signer> = f.auth_responder_key.clone();
    // A responder certificate of the other CA.
    assert!(
        Responder::new(
            f.auth.clone(),
            &f.auth_ca_der,
            &f.sign_responder_der,
            key.clone()
        )
        .is_err()
    );
    // A key that is not the responder certificate's.
    let wrong: Arc<dyn Signer> = f.auth_ca_key.clone();
    assert!(Responder::new(f.auth.clone(), &f.auth_ca_der, &f.auth_responder_der, wrong).is_err());
    // A CA certificate (no id-kp-OCSPSigning) as the responder certificate.
    let ca_key: Arc<dyn Signer> = f.auth_ca_key.clone();
    assert!(Responder::new(f.auth.clone(), &f.auth_ca_der, &f.auth_ca_der, ca_key).is_err());
    let responder = || {
        Responder::new(
            f.auth.clone(),
            &f.auth_ca_der,
            &f.auth_responder_der,
            key.clone(),
        )
    };
    assert!(responder().is_ok());
    // One CA certificate served twice is a configuration error.
    assert!(
        OcspService::new(
            vec![responder().unwrap(), responder().unwrap()],
            OcspConfig::default()
        )
        .is_err()
    );
    assert!(OcspService::new(Vec::new(), OcspConfig::default()).is_err());
    let bad_margin = OcspConfig {
        refresh_margin: Duration::hours(2),
        ..OcspConfig::default()
    };
    assert!(OcspService::new(vec![responder().unwrap()], bad_margin).is_err());
    let _ = &f.sign_ca_key;
}

#[test]
fn openssl_accepts_the_responder_certificate_profile() {
    let f = fixture();
    let out = openssl_output(&[
        "verify",
        "-x509_strict",
        "-purpose",
        "ocsphelper",
        "-CAfile",
        p(&f.auth_ca_pem),
        p(&f.auth_responder_pem),
    ]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success() && text.contains(": OK"), "{text}");
    let out = openssl_output(&["x509", "-in", p(&f.auth_responder_pem), "-noout", "-text"]);
    let text = String::from_utf8_lossy(&out.stdout);
    for expected in [
        "Subject: C = JP, O = JPKI, OU = JPKI for user authentication, OU = jpki test, CN = OCSP responder 1",
        "X509v3 Key Usage: critical",
        "Digital Signature",
        "X509v3 Extended Key Usage: \n                OCSP Signing",
        "OCSP No Check",
        "X509v3 Subject Key Identifier",
        "X509v3 Authority Key Identifier",
    ] {
        assert!(text.contains(expected), "{expected:?} missing in:\n{text}");
    }
}

// ---------------------------------------------------------------------------------------
// CRLs through HTTP, checked by `openssl crl` and `openssl verify`.

fn crl_publisher(
    rig: &OcspRig,
    repository: &Arc<CrlRepository>,
) -> CrlPublisher<Arc<InMemoryStatus>> {
    let f = fixture();
    let signer: Arc<dyn Signer> = f.auth_ca_key.clone();
    let authority = CrlAuthority::new(f.auth.clone(), &f.auth_ca_der, signer, 2).unwrap();
    CrlPublisher::new(
        Arc::clone(&rig.status),
        vec![authority],
        CrlConfig::new(CRL_BASE),
        Arc::clone(repository),
    )
    .unwrap()
}

async fn download(url: &str, path: &str, file: &Path) -> Vec<u8> {
    let (ok, out) = run(
        "curl",
        &["-sS", "--fail", "-o", p(file), &format!("{url}{path}")],
    )
    .await;
    assert!(ok, "{path}: {out}");
    std::fs::read(file).unwrap()
}

/// Downloads the shard's full and delta CRLs into PEM files named after `tag`.
async fn fetch_crls(url: &str, tag: &str) -> (PathBuf, PathBuf, CrlView, CrlView) {
    let dir = &fixture().dir;
    let full_der = dir.path().join(format!("{tag}-base.crl"));
    let delta_der = dir.path().join(format!("{tag}-delta.crl"));
    let full = download(url, "/crl/auth/0.crl", &full_der).await;
    let delta = download(url, "/crl/auth/0-delta.crl", &delta_der).await;
    let full_pem = dir.path().join(format!("{tag}-base.pem"));
    let delta_pem = dir.path().join(format!("{tag}-delta.pem"));
    std::fs::write(&full_pem, crl_pem(&full).unwrap()).unwrap();
    std::fs::write(&delta_pem, crl_pem(&delta).unwrap()).unwrap();
    for file in [&full_der, &delta_der] {
        let (ok, out) = openssl(&[
            "crl",
            "-inform",
            "DER",
            "-in",
            p(file),
            "-CAfile",
            p(&fixture().auth_ca_pem),
            "-noout",
        ])
        .await;
        assert!(ok && out.contains("verify OK"), "{out}");
    }
    (
        full_pem,
        delta_pem,
        CrlView::from_der(&full).unwrap(),
        CrlView::from_der(&delta).unwrap(),
    )
}

/// `openssl verify -crl_check [-use_deltas]` of `leaf` with the given CRLs, at `at`
/// (the test clock runs ahead of the wall clock).
async fn verify(leaf: &Leaf, crls: &[&Path], deltas: bool, at: OffsetDateTime) -> (bool, String) {
    let f = fixture();
    let at = at.unix_timestamp().to_string();
    let mut args = vec![
        "verify",
        "-crl_check",
        "-attime",
        &at,
        "-CAfile",
        p(&f.auth_ca_pem),
    ];
    if deltas {
        args.push("-use_deltas");
    }
    for crl in crls {
        args.extend(["-CRLfile", p(crl)]);
    }
    args.push(p(&leaf.pem));
    openssl(&args).await
}

#[track_caller]
fn assert_revoked((ok, out): (bool, String)) {
    assert!(
        !ok && out.contains("certificate revoked"),
        "expected revoked:\n{out}"
    );
}

#[track_caller]
fn assert_ok((ok, out): (bool, String)) {
    assert!(ok && out.contains(": OK"), "expected OK:\n{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openssl_honours_full_and_delta_crls_through_hold_release_and_revocation() {
    let f = fixture();
    let rig = ocsp_rig(OcspConfig::default());
    let repository = Arc::new(CrlRepository::new());
    let publisher = crl_publisher(&rig, &repository);
    let url = serve(router(HttpState::new(
        Arc::clone(&rig.ocsp),
        Arc::clone(&repository),
    )))
    .await;
    let shard = ShardId::new(0);

    // The held certificate goes on the base CRL as certificateHold.
    let t0 = clock_now(&rig.clock);
    rig.status.set(
        &f.held.issuer,
        &f.held.serial,
        f.held.shard,
        KnownStatus::Held {
            since: t0 - Duration::minutes(10),
        },
        t0 - Duration::minutes(10),
    );
    let pair = publisher.publish_full(&f.auth, shard, t0).await.unwrap();
    let (base, delta, base_view, delta_view) = fetch_crls(&url, "crl1").await;
    assert_eq!(base_view.der(), &pair.full.der[..], "served as published");
    assert_eq!(base_view.len(), 3, "held, revoked, superseded; not shard 1");
    assert!(base_view.entry(&f.other_shard.serial).is_none());
    assert_eq!(
        base_view.entry(&f.held.serial).unwrap().reason(),
        Some(RevocationReason::CertificateHold)
    );
    assert!(
        delta_view.is_empty(),
        "the delta published with a base is empty"
    );
    assert_eq!(delta_view.base_number(), base_view.number());
    assert!(delta_view.number() > base_view.number());

    let (_, text) = openssl(&["crl", "-in", p(&base), "-noout", "-text"]).await;
    for expected in [
        "X509v3 Issuing Distribution Point: critical",
        "URI:http://127.0.0.1:8080/crl/auth/0.crl",
        "Only User Certificates",
        "X509v3 Freshest CRL",
        "URI:http://127.0.0.1:8080/crl/auth/0-delta.crl",
        "X509v3 CRL Number",
        "X509v3 Authority Key Identifier",
        "Certificate Hold",
        "Key Compromise",
        "Superseded",
    ] {
        assert!(text.contains(expected), "{expected:?} missing in:\n{text}");
    }
    assert_revoked(verify(&f.held, &[&base], false, clock_now(&rig.clock)).await);
    assert_revoked(verify(&f.held, &[&base, &delta], true, clock_now(&rig.clock)).await);
    assert_ok(verify(&f.plain, &[&base, &delta], true, clock_now(&rig.clock)).await);
    assert_revoked(verify(&f.revoked, &[&base, &delta], true, clock_now(&rig.clock)).await);

    // The hold is released: the next delta takes it off with removeFromCRL.
    rig.clock.advance(Duration::minutes(5));
    let t1 = clock_now(&rig.clock);
    rig.status.set(
        &f.held.issuer,
        &f.held.serial,
        f.held.shard,
        KnownStatus::Good,
        t1,
    );
    publisher.publish_delta(&f.auth, shard, t1).await.unwrap();
    let (base2, delta2, base2_view, delta2_view) = fetch_crls(&url, "crl2").await;
    assert_eq!(base2_view, base_view, "the base is unchanged");
    assert_eq!(
        delta2_view.entry(&f.held.serial).unwrap().reason(),
        Some(RevocationReason::RemoveFromCrl)
    );
    let (_, text) = openssl(&["crl", "-in", p(&delta2), "-noout", "-text"]).await;
    assert!(
        text.contains("X509v3 Delta CRL Indicator: critical"),
        "{text}"
    );
    assert!(
        text.contains(&base_view.number().unwrap().to_string())
            || text.contains(&format!("{:X}", base_view.number().unwrap())),
        "{text}"
    );
    assert!(text.contains("Remove From CRL"), "{text}");
    assert!(
        text.contains("X509v3 Issuing Distribution Point: critical"),
        "{text}"
    );
    assert_ok(verify(&f.held, &[&base2, &delta2], true, clock_now(&rig.clock)).await);
    // The base alone still says revoked. (Given both files without -use_deltas,
    // OpenSSL 3.0 treats the newer delta as a complete CRL: not a case to rely on.)
    assert_revoked(verify(&f.held, &[&base2], false, clock_now(&rig.clock)).await);

    // A new revocation after the base: listed by the delta.
    rig.clock.advance(Duration::minutes(5));
    let t2 = clock_now(&rig.clock);
    rig.status.set(
        &f.plain.issuer,
        &f.plain.serial,
        f.plain.shard,
        KnownStatus::Revoked {
            at: t2,
            reason: RevocationReason::KeyCompromise,
        },
        t2,
    );
    publisher.publish_delta(&f.auth, shard, t2).await.unwrap();
    let (base3, delta3, _, delta3_view) = fetch_crls(&url, "crl3").await;
    assert_eq!(
        delta3_view.len(),
        2,
        "deltas are cumulative over their base"
    );
    assert_revoked(verify(&f.plain, &[&base3, &delta3], true, clock_now(&rig.clock)).await);
    assert_ok(verify(&f.plain, &[&base3], false, clock_now(&rig.clock)).await);
    assert_ok(verify(&f.held, &[&base3, &delta3], true, clock_now(&rig.clock)).await);
    assert_ok(verify(&f.high, &[&base3, &delta3], true, clock_now(&rig.clock)).await);

    // The next full CRL no longer lists the released hold, and lists the revocation.
    rig.clock.advance(Duration::minutes(5));
    let t3 = clock_now(&rig.clock);
    publisher.publish_full(&f.auth, shard, t3).await.unwrap();
    let (base4, _, base4_view, delta4_view) = fetch_crls(&url, "crl4").await;
    assert!(base4_view.entry(&f.held.serial).is_none());
    assert!(base4_view.entry(&f.plain.serial).is_some());
    assert!(base4_view.number() > delta3_view.number());
    assert_eq!(delta4_view.base_number(), base4_view.number());
    assert_ok(verify(&f.held, &[&base4], false, clock_now(&rig.clock)).await);
    assert_revoked(verify(&f.plain, &[&base4], false, clock_now(&rig.clock)).await);

    // Shard 1 has its own CRL, with its own scope.
    publisher
        .publish_full(&f.auth, ShardId::new(1), t3)
        .await
        .unwrap();
    let other = download(&url, "/crl/auth/1.crl", &f.dir.path().join("shard1.crl")).await;
    let other = CrlView::from_der(&other).unwrap();
    assert_eq!(
        other.distribution_point_urls(),
        [crl_url(CRL_BASE, &f.auth, ShardId::new(1))]
    );
    assert!(other.entry(&f.other_shard.serial).is_some());
    assert_eq!(other.len(), 1);
}

#[tokio::test]
async fn the_schedule_and_a_restart_keep_numbers_increasing() {
    let f = fixture();
    let rig = ocsp_rig(OcspConfig::default());
    let repository = Arc::new(CrlRepository::new());
    let publisher = crl_publisher(&rig, &repository);
    let t0 = clock_now(&rig.clock);
    let auth_ca = JpkiCertificate::from_der(&f.auth_ca_der).unwrap();

    // First run: a full CRL and its delta for both shards.
    let published = publisher.publish_due(t0).await.unwrap();
    assert_eq!(published.len(), 4);
    assert!(
        publisher.publish_due(t0).await.unwrap().is_empty(),
        "nothing due yet"
    );
    // One hour on: deltas only.
    let published = publisher
        .publish_due(t0 + Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(published.len(), 2);
    assert!(published.iter().all(|crl| crl.base_number.is_some()));
    // A day on: full CRLs again.
    let published = publisher
        .publish_due(t0 + Duration::hours(24))
        .await
        .unwrap();
    assert_eq!(
        published
            .iter()
            .filter(|crl| crl.base_number.is_none())
            .count(),
        2
    );

    // Several CRLs within one second still get increasing numbers.
    let a = publisher
        .publish_delta(&f.auth, ShardId::new(0), t0 + Duration::hours(24))
        .await
        .unwrap();
    let b = publisher
        .publish_delta(&f.auth, ShardId::new(0), t0 + Duration::hours(24))
        .await
        .unwrap();
    assert!(b.number > a.number);
    let full = repository.full(&f.auth, ShardId::new(0)).unwrap();
    let delta = repository.delta(&f.auth, ShardId::new(0)).unwrap();
    assert_eq!(delta.number, b.number);
    let view = CrlView::from_der(&full.der).unwrap();
    view.verify_signature(&auth_ca).unwrap();
    assert_eq!(
        view.next_update(),
        Some(full.this_update + Duration::hours(25))
    );

    // A restart: restore the stored CRLs; numbers continue above them.
    let restarted_repository = Arc::new(CrlRepository::new());
    let restarted = crl_publisher(&rig, &restarted_repository);
    assert!(
        restarted
            .publish_delta(&f.auth, ShardId::new(0), t0)
            .await
            .is_err(),
        "no base before a restore"
    );
    restarted
        .restore(&f.auth, ShardId::new(0), &full.der, Some(&delta.der))
        .await
        .unwrap();
    assert_eq!(
        restarted_repository
            .full(&f.auth, ShardId::new(0))
            .unwrap()
            .der,
        full.der
    );
    let next = restarted
        .publish_delta(&f.auth, ShardId::new(0), t0 + Duration::hours(24))
        .await
        .unwrap();
    assert!(next.number > b.number);
    assert_eq!(next.base_number, Some(full.number));
    // The wrong shard's CRL, or a delta as the base, is refused.
    assert!(
        restarted
            .restore(&f.auth, ShardId::new(1), &full.der, None)
            .await
            .is_err()
    );
    assert!(
        restarted
            .restore(&f.auth, ShardId::new(0), &delta.der, None)
            .await
            .is_err()
    );
}

#[test]
fn pending_certificates_are_answered_as_on_hold() {
    let since = OffsetDateTime::now_utc();
    assert_eq!(
        KnownStatus::from_certificate_status(&CertificateStatus::Pending, since),
        KnownStatus::Held { since }
    );
    assert_eq!(
        KnownStatus::from_certificate_status(&CertificateStatus::Active, since),
        KnownStatus::Good
    );
    let at = since - Duration::days(1);
    assert_eq!(
        KnownStatus::from_certificate_status(
            &CertificateStatus::Revoked {
                at,
                reason: RevocationReason::Superseded
            },
            since
        ),
        KnownStatus::Revoked {
            at,
            reason: RevocationReason::Superseded
        }
    );
}

// ---------------------------------------------------------------------------------------
// The benchmark functions run and measure what they claim (figures are not asserted).

#[tokio::test]
async fn the_benchmark_functions_run() {
    let report = jpki_status::bench::bench_crl(2000).unwrap();
    assert_eq!(report.entries, 2000);
    assert!(report.der_bytes > 2000 * 30);
    assert!(report.peak_rss_bytes.is_some());
    let report = jpki_status::bench::bench_ocsp_presigned(5, 50)
        .await
        .unwrap();
    assert_eq!(report.presign_signatures, 10);
    assert_eq!(report.signatures_while_serving, 0);
    assert!(report.response_bytes > 1000, "{report:?}");
}
