//! The one integration test binary of jpki-pkix: every profile issued with fresh
//! software keys and checked by OpenSSL 3 (an independent implementation), the issuer's
//! invariants, CSRs from us and from OpenSSL, parsing round trips, and the real J-LIS
//! CA certificates.
//!
//! Requires the `openssl` CLI (OpenSSL 3.0 is installed on the project machines); the
//! tests fail loudly when it is missing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use jpki_crypto::{CryptoError, RsaKeySize, SignatureAlgorithm, Signer, SoftwareRsaKey};
use jpki_model::{BasicInfo, BirthDate, CertificateKind, Purpose, SerialNumber, Sex};
use jpki_pkix::{
    CaParams, CertificateRole, EndEntityTemplate, Issuer, JpkiCertificate, PkixError,
    PublicKeyKind, VerifiedCsr, build_ca_certificate, build_csr, certificate_pem, csr_pem,
    issue_end_entity, oid,
};
use tempfile::TempDir;
use time::OffsetDateTime;
use time::macros::datetime;

// ---------------------------------------------------------------------------------------
// Fixtures: RSA key generation costs ~80 ms, so the CA and resident keys are shared.

const NAME: &str = "公的 太郎";
const ADDRESS: &str = "東京都千代田区霞が関2-1-2";
const CA_NOT_BEFORE: OffsetDateTime = datetime!(2026-01-01 00:00:00 +09:00);
const CA_NOT_AFTER: OffsetDateTime = datetime!(2036-01-01 00:00:00 +09:00);
const ISSUED_AT: OffsetDateTime = datetime!(2026-04-01 10:00:00 +09:00);
const LEAF_NOT_AFTER: OffsetDateTime = datetime!(2031-01-02 23:59:59 +09:00);
const CRL_URL: &str = "http://127.0.0.1:8080/crl/sign.crl";
const OCSP_URL: &str = "http://127.0.0.1:8080/ocsp";

struct Fixture {
    sign_ca_key: SoftwareRsaKey,
    auth_ca_key: SoftwareRsaKey,
    sign_ca_der: Vec<u8>,
    auth_ca_der: Vec<u8>,
    sign_issuer: Issuer,
    auth_issuer: Issuer,
    resident_key: SoftwareRsaKey,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let sign_ca_key = SoftwareRsaKey::generate(RsaKeySize::Rsa2048).unwrap();
        let auth_ca_key = SoftwareRsaKey::generate(RsaKeySize::Rsa2048).unwrap();
        let resident_key = SoftwareRsaKey::generate(RsaKeySize::Rsa2048).unwrap();
        let mut sign_params = ca_params(Purpose::Signature, "01");
        sign_params.crl_distribution_urls = vec!["http://127.0.0.1:8080/crl/ca.crl".into()];
        let sign_ca_der = build_ca_certificate(&sign_params, &sign_ca_key).unwrap();
        let auth_ca_der =
            build_ca_certificate(&ca_params(Purpose::Authentication, "02"), &auth_ca_key).unwrap();
        Fixture {
            sign_issuer: Issuer::new(&sign_ca_der).unwrap(),
            auth_issuer: Issuer::new(&auth_ca_der).unwrap(),
            sign_ca_key,
            auth_ca_key,
            sign_ca_der,
            auth_ca_der,
            resident_key,
        }
    })
}

fn ca_params(purpose: Purpose, serial: &str) -> CaParams {
    CaParams::new(
        purpose,
        SerialNumber::from_hex(serial).unwrap(),
        CA_NOT_BEFORE,
        CA_NOT_AFTER,
    )
}

fn taro() -> BasicInfo {
    BasicInfo::new(
        NAME,
        None,
        ADDRESS,
        None,
        BirthDate::parse("1990-01-02").unwrap(),
        Sex::Male,
    )
    .unwrap()
}

fn template(kind: CertificateKind, serial: &str) -> EndEntityTemplate {
    EndEntityTemplate {
        kind,
        serial: SerialNumber::from_hex(serial).unwrap(),
        subject_cn: format!("2026JP{serial:0>10}"),
        subject_public_key_der: fixture().resident_key.public_key_der().to_vec(),
        basic_info: (kind.purpose == Purpose::Signature).then(taro),
        not_before: ISSUED_AT,
        not_after: LEAF_NOT_AFTER,
        crl_distribution_point: Some(CRL_URL.into()),
        ocsp_url: Some(OCSP_URL.into()),
    }
}

/// The issuer and CA key for a kind.
fn issuer_for(kind: CertificateKind) -> (&'static Issuer, &'static SoftwareRsaKey) {
    let f = fixture();
    match kind.purpose {
        Purpose::Signature => (&f.sign_issuer, &f.sign_ca_key),
        Purpose::Authentication => (&f.auth_issuer, &f.auth_ca_key),
    }
}

fn issue(template: &EndEntityTemplate) -> Result<Vec<u8>, PkixError> {
    let (issuer, key) = issuer_for(template.kind);
    issue_end_entity(issuer, template, key)
}

/// A P-256 key held by aws-lc-rs, to show the Signer seam carries ECDSA too.
struct EcKey {
    pair: EcdsaKeyPair,
    spki: Vec<u8>,
}

impl EcKey {
    fn generate() -> Self {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
        let spki = pair.public_key().as_der().unwrap().as_ref().to_vec();
        Self { pair, spki }
    }
}

impl fmt::Debug for EcKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EcKey([redacted])")
    }
}

impl Signer for EcKey {
    fn algorithm(&self) -> SignatureAlgorithm {
        SignatureAlgorithm::EcdsaP256Sha256
    }
    fn public_key_der(&self) -> &[u8] {
        &self.spki
    }
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.pair
            .sign(&SystemRandom::new(), message)
            .map(|signature| signature.as_ref().to_vec())
            .map_err(|_| CryptoError::Signing)
    }
}

/// A signer that claims one key and signs with another (a misconfigured HSM slot).
#[derive(Debug)]
struct LyingSigner<'a> {
    claimed: &'a SoftwareRsaKey,
    actual: &'a SoftwareRsaKey,
}

impl Signer for LyingSigner<'_> {
    fn algorithm(&self) -> SignatureAlgorithm {
        SignatureAlgorithm::RsaPkcs1Sha256
    }
    fn public_key_der(&self) -> &[u8] {
        self.claimed.public_key_der()
    }
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.actual.sign(message)
    }
}

// ---------------------------------------------------------------------------------------
// OpenSSL helpers.

fn openssl(args: &[&str]) -> std::process::Output {
    Command::new("openssl")
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("the openssl CLI is required for these tests and could not be run: {e}")
        })
}

fn openssl_ok(args: &[&str]) -> String {
    let output = openssl(args);
    assert!(
        output.status.success(),
        "openssl {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn write(dir: &TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn write_pem(dir: &TempDir, name: &str, der: &[u8]) -> PathBuf {
    write(dir, name, certificate_pem(der).unwrap().as_bytes())
}

fn path_str(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// `openssl verify -x509_strict` at a fixed instant (inside every validity period here).
fn openssl_verify(ca_pem: &Path, leaf_pem: &Path) -> String {
    let at = (ISSUED_AT + time::Duration::days(1))
        .unix_timestamp()
        .to_string();
    let output = openssl(&[
        "verify",
        "-x509_strict",
        "-attime",
        &at,
        "-CAfile",
        path_str(ca_pem),
        path_str(leaf_pem),
    ]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "openssl verify failed: {text}");
    text
}

/// The SAN extension's contents as `openssl asn1parse -strparse` prints them.
fn asn1parse_san(der_path: &Path) -> String {
    let outer = openssl_ok(&["asn1parse", "-inform", "DER", "-in", path_str(der_path)]);
    let mut lines = outer.lines();
    lines
        .by_ref()
        .find(|line| line.contains("X509v3 Subject Alternative Name"))
        .expect("a subjectAltName extension");
    let octets = lines.next().unwrap();
    assert!(octets.contains("OCTET STRING"), "{octets}");
    let offset = octets.split(':').next().unwrap().trim().to_owned();
    openssl_ok(&[
        "asn1parse",
        "-inform",
        "DER",
        "-in",
        path_str(der_path),
        "-strparse",
        &offset,
    ])
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

// ---------------------------------------------------------------------------------------
// CA certificates.

#[test]
fn ca_certificates_have_two_ous_the_japanese_alt_name_and_verify_as_roots() {
    let dir = tempfile::tempdir().unwrap();
    let f = fixture();
    for (name, der, ou) in [
        ("sign-ca", &f.sign_ca_der, "JPKI for digital signature"),
        ("auth-ca", &f.auth_ca_der, "JPKI for user authentication"),
    ] {
        let pem = write_pem(&dir, &format!("{name}.pem"), der);
        let text = openssl_ok(&[
            "x509",
            "-noout",
            "-text",
            "-nameopt",
            "utf8,sep_comma_plus_space",
            "-in",
            path_str(&pem),
        ]);
        let expected = format!("C=JP, O=JPKI, OU={ou}, OU=jpki sandbox (not J-LIS)");
        assert!(text.contains(&format!("Issuer: {expected}")), "{text}");
        assert!(text.contains(&format!("Subject: {expected}")), "{text}");
        assert!(text.contains("Certificate Sign, CRL Sign"), "{text}");
        assert!(text.contains("CA:TRUE"), "{text}");
        assert!(text.contains("X509v3 Subject Key Identifier"), "{text}");
        assert!(text.contains("sha256WithRSAEncryption"), "{text}");
        // A self-signed root verifies against itself.
        assert!(openssl_verify(&pem, &pem).contains("OK"));

        let parsed = JpkiCertificate::from_der(der).unwrap();
        let alt_name_ou = match parsed.role() {
            CertificateRole::Authority {
                purpose: Some(Purpose::Signature),
            } => "公的個人認証サービス署名用",
            CertificateRole::Authority {
                purpose: Some(Purpose::Authentication),
            } => "公的個人認証サービス利用者証明用",
            other => panic!("{name}: unexpected role {other:?}"),
        };
        // The DirName in the SAN: C=JP, O=公的個人認証サービス, OU=…用, OU=<second OU>.
        let der_path = write(&dir, &format!("{name}.der"), der);
        let san = asn1parse_san(&der_path);
        for value in [
            "PRINTABLESTRING   :JP",
            "UTF8STRING        :公的個人認証サービス",
            &format!("UTF8STRING        :{alt_name_ou}"),
            "UTF8STRING        :jpki sandbox (not J-LIS)",
        ] {
            assert!(san.contains(value), "{name}: {value} missing in\n{san}");
        }
        parsed.verify_issued_by(&parsed).unwrap();
        assert_eq!(parsed.subject(), parsed.issuer());
        assert_eq!(parsed.not_before(), CA_NOT_BEFORE);
        assert_eq!(parsed.not_after(), CA_NOT_AFTER);
        // No AKI on a root, as on the real ones.
        assert_eq!(parsed.authority_key_identifier(), None);
    }
    let sign_ca = JpkiCertificate::from_der(&f.sign_ca_der).unwrap();
    assert_eq!(
        sign_ca.crl_distribution_points(),
        ["http://127.0.0.1:8080/crl/ca.crl"]
    );
}

#[test]
fn ca_options_second_ou_no_alt_name_and_refusals() {
    let key = &fixture().auth_ca_key;
    let mut params = ca_params(Purpose::Authentication, "7F");
    params.second_ou = "試験用 CA".into();
    params.japanese_alt_name = false;
    let der = build_ca_certificate(&params, key).unwrap();
    let parsed = JpkiCertificate::from_der(&der).unwrap();
    assert_eq!(
        parsed.subject().to_der_order_string(),
        "C=JP, O=JPKI, OU=JPKI for user authentication, OU=試験用 CA"
    );
    assert!(!contains(&der, "公的個人認証サービス".as_bytes()));

    let mut backwards = ca_params(Purpose::Signature, "03");
    backwards.not_after = backwards.not_before;
    assert!(matches!(
        build_ca_certificate(&backwards, key),
        Err(PkixError::EmptyValidity { .. })
    ));
    let mut empty_ou = ca_params(Purpose::Signature, "03");
    empty_ou.second_ou = " ".into();
    assert!(matches!(
        build_ca_certificate(&empty_ou, key),
        Err(PkixError::InvalidField { .. })
    ));
    let mut bad_url = ca_params(Purpose::Signature, "03");
    bad_url.crl_distribution_urls = vec!["file:///etc/passwd".into()];
    assert!(matches!(
        build_ca_certificate(&bad_url, key),
        Err(PkixError::InvalidField { .. })
    ));
    // A 20-byte serial with its top bit set needs 21 octets in DER.
    let long_serial = CaParams {
        serial: SerialNumber::from_bytes(&[0x80; 20]).unwrap(),
        ..ca_params(Purpose::Signature, "03")
    };
    assert!(matches!(
        build_ca_certificate(&long_serial, key),
        Err(PkixError::SerialTooLong { len: 21 })
    ));
}

// ---------------------------------------------------------------------------------------
// End-entity profiles.

#[test]
fn every_end_entity_profile_verifies_with_openssl_and_parses_back() {
    let dir = tempfile::tempdir().unwrap();
    let f = fixture();
    let sign_ca_pem = write_pem(&dir, "v-sign-ca.pem", &f.sign_ca_der);
    let auth_ca_pem = write_pem(&dir, "v-auth-ca.pem", &f.auth_ca_der);
    for (index, kind) in CertificateKind::ALL.into_iter().enumerate() {
        let serial = format!("{:X}", 0x1000 + index);
        let leaf_template = template(kind, &serial);
        let der = issue(&leaf_template).unwrap();
        let pem = write_pem(&dir, &format!("leaf-{kind}.pem"), &der);
        let ca_pem = match kind.purpose {
            Purpose::Signature => &sign_ca_pem,
            Purpose::Authentication => &auth_ca_pem,
        };
        assert!(openssl_verify(ca_pem, &pem).contains(": OK"), "{kind}");

        let text = openssl_ok(&["x509", "-noout", "-text", "-in", path_str(&pem)]);
        let usage = match kind.purpose {
            Purpose::Signature => "Digital Signature, Non Repudiation",
            Purpose::Authentication => "Digital Signature\n",
        };
        assert!(
            text.contains("X509v3 Key Usage: critical"),
            "{kind}: {text}"
        );
        assert!(text.contains(usage), "{kind}: {text}");
        let jpki_policy = match kind.purpose {
            Purpose::Signature => "Policy: 1.2.392.200149.8.5.1.1.20",
            Purpose::Authentication => "Policy: 1.2.392.200149.8.5.1.3.30",
        };
        assert!(text.contains(jpki_policy), "{kind}: {text}");
        let phone_policy = match kind.purpose {
            Purpose::Signature => "Policy: 2.25.228021176431277688793511615349129701746.1.1",
            Purpose::Authentication => "Policy: 2.25.228021176431277688793511615349129701746.1.2",
        };
        assert_eq!(
            text.contains(phone_policy),
            kind.medium == jpki_model::Medium::Phone,
            "{kind}: {text}"
        );
        assert!(text.contains(&format!("URI:{CRL_URL}")), "{kind}: {text}");
        assert!(
            text.contains(&format!("OCSP - URI:{OCSP_URL}")),
            "{kind}: {text}"
        );
        assert!(
            text.contains("X509v3 Authority Key Identifier"),
            "{kind}: {text}"
        );
        assert!(
            text.contains("Subject: C = JP, CN = 2026JP"),
            "{kind}: {text}"
        );

        // Parse it back.
        let parsed = JpkiCertificate::from_der(&der).unwrap();
        let (issuer, _) = issuer_for(kind);
        assert_eq!(parsed.kind(), Some(kind));
        assert_eq!(parsed.serial(), &leaf_template.serial);
        assert_eq!(parsed.not_before(), ISSUED_AT);
        assert_eq!(parsed.not_after(), LEAF_NOT_AFTER);
        assert_eq!(parsed.basic_info(), leaf_template.basic_info.as_ref());
        assert_eq!(
            parsed.subject().common_name(),
            Some(leaf_template.subject_cn.as_str())
        );
        assert_eq!(parsed.issuer(), issuer.subject());
        assert_eq!(parsed.public_key_der(), f.resident_key.public_key_der());
        assert_eq!(
            parsed.authority_key_identifier(),
            Some(issuer.key_identifier())
        );
        assert_eq!(parsed.subject_key_identifier().map(<[u8]>::len), Some(20));
        assert_eq!(parsed.crl_distribution_points(), [CRL_URL]);
        assert_eq!(parsed.ocsp_urls(), [OCSP_URL]);
        assert_eq!(parsed.fingerprint_sha256(), jpki_crypto::sha256(&der));
        assert_eq!(parsed.der(), der.as_slice());
        assert_eq!(
            parsed.signature_algorithm(),
            Some(SignatureAlgorithm::RsaPkcs1Sha256)
        );
        let issuer_certificate = JpkiCertificate::from_der(issuer.certificate_der()).unwrap();
        parsed.verify_issued_by(&issuer_certificate).unwrap();
        // The other CA did not sign it.
        let other = match kind.purpose {
            Purpose::Signature => &f.auth_ca_der,
            Purpose::Authentication => &f.sign_ca_der,
        };
        assert!(matches!(
            parsed.verify_issued_by(&JpkiCertificate::from_der(other).unwrap()),
            Err(PkixError::IssuerNameMismatch)
        ));
        assert_eq!(
            JpkiCertificate::from_pem(&parsed.to_pem().unwrap()).unwrap(),
            parsed
        );
    }
}

#[test]
fn signature_certificates_carry_six_utf8_other_names_with_the_residents_data() {
    let dir = tempfile::tempdir().unwrap();
    for (kind, serial) in [
        (CertificateKind::CARD_SIGNATURE, "2001"),
        (CertificateKind::PHONE_SIGNATURE, "2002"),
    ] {
        let der = issue(&template(kind, serial)).unwrap();
        let path = write(&dir, &format!("san-{kind}.der"), &der);
        let san = asn1parse_san(&path);
        let other_names: Vec<&str> = san
            .lines()
            .filter(|line| line.contains("OBJECT"))
            .map(|line| line.rsplit(':').next().unwrap())
            .collect();
        assert_eq!(
            other_names,
            (1..=6)
                .map(|n| format!("1.2.392.200149.8.5.5.{n}"))
                .collect::<Vec<_>>(),
            "{san}"
        );
        let values: Vec<&str> = san
            .lines()
            .filter(|line| line.contains("UTF8STRING"))
            .map(|line| line.split_once(":").unwrap().1.rsplit_once(':').unwrap().1)
            .collect();
        assert_eq!(
            values,
            [NAME, NAME, "1", "419900102", ADDRESS, ADDRESS],
            "{san}"
        );
        assert_eq!(
            san.lines()
                .filter(|line| line.contains("cont [ 0 ]"))
                .count(),
            12,
            "six [0] otherName tags and six [0] EXPLICIT value tags:\n{san}"
        );
    }
}

#[test]
fn authentication_certificates_carry_no_personal_data() {
    let dir = tempfile::tempdir().unwrap();
    for (kind, serial) in [
        (CertificateKind::CARD_AUTHENTICATION, "3001"),
        (CertificateKind::PHONE_AUTHENTICATION, "3002"),
    ] {
        let der = issue(&template(kind, serial)).unwrap();
        let info = taro();
        let date_of_birth = info.date_of_birth().jpki_encoding();
        for needle in [
            NAME.as_bytes(),
            ADDRESS.as_bytes(),
            date_of_birth.as_bytes(),
            "公的".as_bytes(),
            "霞が関".as_bytes(),
            // BER of the 1.2.392.200149.8.5.5 arc: no otherName type at all.
            &[0x2a, 0x83, 0x08, 0x8c, 0x9a, 0x55, 0x08, 0x05, 0x05],
        ] {
            assert!(!contains(&der, needle), "{kind} contains {needle:?}");
        }
        let text = openssl_ok(&[
            "x509",
            "-noout",
            "-text",
            "-in",
            path_str(&write_pem(&dir, &format!("nopii-{kind}.pem"), &der)),
        ]);
        assert!(!text.contains("Subject Alternative Name"), "{text}");
    }
}

#[test]
fn cps_uri_is_an_optional_qualifier_of_the_jpki_policy() {
    let dir = tempfile::tempdir().unwrap();
    let f = fixture();
    let issuer = Issuer::new(&f.sign_ca_der)
        .unwrap()
        .with_cps_uri("https://jpki.example.invalid/cps")
        .unwrap();
    let der = issuer
        .issue(
            &template(CertificateKind::PHONE_SIGNATURE, "4001"),
            &f.sign_ca_key,
        )
        .unwrap();
    let text = openssl_ok(&[
        "x509",
        "-noout",
        "-text",
        "-in",
        path_str(&write_pem(&dir, "cps.pem", &der)),
    ]);
    assert!(
        text.contains("CPS: https://jpki.example.invalid/cps"),
        "{text}"
    );
    let parsed = JpkiCertificate::from_der(&der).unwrap();
    assert_eq!(parsed.kind(), Some(CertificateKind::PHONE_SIGNATURE));
    assert_eq!(parsed.policies()[1], oid::POLICY_PHONE_SIGNATURE);
    assert!(
        Issuer::new(&f.sign_ca_der)
            .unwrap()
            .with_cps_uri("cps")
            .is_err()
    );
}

#[test]
fn optional_urls_may_be_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let mut bare = template(CertificateKind::CARD_AUTHENTICATION, "4002");
    bare.crl_distribution_point = None;
    bare.ocsp_url = None;
    let der = issue(&bare).unwrap();
    let parsed = JpkiCertificate::from_der(&der).unwrap();
    assert!(parsed.crl_distribution_points().is_empty());
    assert!(parsed.ocsp_urls().is_empty());
    let ca_pem = write_pem(&dir, "bare-ca.pem", &fixture().auth_ca_der);
    openssl_verify(&ca_pem, &write_pem(&dir, "bare.pem", &der));
}

#[test]
fn ecdsa_p256_ca_and_subject_keys_work_through_the_signer_seam() {
    let dir = tempfile::tempdir().unwrap();
    let ca_key = EcKey::generate();
    let ca_der = build_ca_certificate(&ca_params(Purpose::Authentication, "0E"), &ca_key).unwrap();
    let issuer = Issuer::new(&ca_der).unwrap();
    let subject = EcKey::generate();
    let mut ec_template = template(CertificateKind::PHONE_AUTHENTICATION, "5001");
    ec_template.subject_public_key_der = subject.spki.clone();
    let der = issuer.issue(&ec_template, &ca_key).unwrap();
    openssl_verify(
        &write_pem(&dir, "ec-ca.pem", &ca_der),
        &write_pem(&dir, "ec-leaf.pem", &der),
    );
    let parsed = JpkiCertificate::from_der(&der).unwrap();
    assert_eq!(
        parsed.signature_algorithm(),
        Some(SignatureAlgorithm::EcdsaP256Sha256)
    );
    parsed
        .verify_issued_by(&JpkiCertificate::from_der(&ca_der).unwrap())
        .unwrap();
}

// ---------------------------------------------------------------------------------------
// The issuer's own checks.

#[test]
fn issuer_refuses_a_leaf_outliving_the_ca() {
    let mut long = template(CertificateKind::CARD_AUTHENTICATION, "6001");
    long.not_after = CA_NOT_AFTER + time::Duration::seconds(1);
    let error = issue(&long).unwrap_err();
    assert!(matches!(error, PkixError::OutlivesIssuer { .. }), "{error}");
    assert!(error.to_string().contains("past the issuing CA's notAfter"));
    // Exactly the CA's notAfter is allowed.
    long.not_after = CA_NOT_AFTER;
    issue(&long).unwrap();
}

#[test]
fn issuer_refuses_empty_or_early_validity() {
    let mut empty = template(CertificateKind::CARD_AUTHENTICATION, "6002");
    empty.not_after = empty.not_before;
    assert!(matches!(
        issue(&empty),
        Err(PkixError::EmptyValidity { .. })
    ));
    let mut early = template(CertificateKind::CARD_AUTHENTICATION, "6003");
    early.not_before = CA_NOT_BEFORE - time::Duration::seconds(1);
    assert!(matches!(
        issue(&early),
        Err(PkixError::PredatesIssuer { .. })
    ));
}

#[test]
fn issuer_puts_personal_data_only_in_signature_kinds() {
    for kind in [
        CertificateKind::CARD_SIGNATURE,
        CertificateKind::PHONE_SIGNATURE,
    ] {
        let mut missing = template(kind, "6004");
        missing.basic_info = None;
        let error = issue(&missing).unwrap_err();
        assert!(
            matches!(error, PkixError::MissingBasicInfo { .. }),
            "{error}"
        );
        assert!(
            error
                .to_string()
                .contains("must carry the basic 4 information")
        );
    }
    for kind in [
        CertificateKind::CARD_AUTHENTICATION,
        CertificateKind::PHONE_AUTHENTICATION,
    ] {
        let mut extra = template(kind, "6005");
        extra.basic_info = Some(taro());
        let error = issue(&extra).unwrap_err();
        assert!(
            matches!(error, PkixError::UnexpectedBasicInfo { .. }),
            "{error}"
        );
        assert!(
            !error.to_string().contains(NAME),
            "no personal data in errors"
        );
    }
}

#[test]
fn issuer_refuses_a_1024_bit_subject_key() {
    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("rsa1024.pem");
    let spki_path = dir.path().join("rsa1024.spki.der");
    openssl_ok(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:1024",
        "-out",
        path_str(&key_path),
    ]);
    openssl_ok(&[
        "pkey",
        "-in",
        path_str(&key_path),
        "-pubout",
        "-outform",
        "DER",
        "-out",
        path_str(&spki_path),
    ]);
    let mut weak = template(CertificateKind::CARD_AUTHENTICATION, "6006");
    weak.subject_public_key_der = std::fs::read(&spki_path).unwrap();
    let error = issue(&weak).unwrap_err();
    assert!(
        matches!(error, PkixError::WeakRsaKey { bits: 1024 }),
        "{error}"
    );
    assert!(error.to_string().contains("at least 2048 bits"));

    let mut garbage = template(CertificateKind::CARD_AUTHENTICATION, "6007");
    garbage.subject_public_key_der = b"not a key".to_vec();
    assert!(matches!(issue(&garbage), Err(PkixError::UnsupportedKey(_))));
}

#[test]
fn issuer_refuses_a_key_that_is_not_the_ca_certificates() {
    let f = fixture();
    let leaf = template(CertificateKind::CARD_AUTHENTICATION, "6008");
    // The signature CA's key presented for the authentication CA.
    let error = issue_end_entity(&f.auth_issuer, &leaf, &f.sign_ca_key).unwrap_err();
    assert!(matches!(error, PkixError::IssuerKeyMismatch), "{error}");
    assert!(
        error
            .to_string()
            .contains("does not match the issuer certificate")
    );
    // A signer that claims the right key but signs with another produces a certificate
    // that OpenSSL and our own verifier refuse (the issuer cannot detect this without a
    // verification per issuance; see the crate docs).
    let liar = LyingSigner {
        claimed: &f.auth_ca_key,
        actual: &f.sign_ca_key,
    };
    let der = issue_end_entity(&f.auth_issuer, &leaf, &liar).unwrap();
    let parsed = JpkiCertificate::from_der(&der).unwrap();
    assert!(matches!(
        parsed.verify_issued_by(&JpkiCertificate::from_der(&f.auth_ca_der).unwrap()),
        Err(PkixError::BadSignature)
    ));
}

#[test]
fn issuer_refuses_kinds_of_the_other_purpose() {
    let f = fixture();
    let auth_leaf = template(CertificateKind::PHONE_AUTHENTICATION, "6009");
    let error = issue_end_entity(&f.sign_issuer, &auth_leaf, &f.sign_ca_key).unwrap_err();
    assert!(
        matches!(error, PkixError::IssuerPurposeMismatch { .. }),
        "{error}"
    );
}

#[test]
fn issuer_refuses_bad_serials_names_and_urls() {
    let mut long_serial = template(CertificateKind::CARD_AUTHENTICATION, "600A");
    long_serial.serial = SerialNumber::from_bytes(&[0xFF; 20]).unwrap();
    assert!(matches!(
        issue(&long_serial),
        Err(PkixError::SerialTooLong { len: 21 })
    ));
    // 20 octets with the top bit clear fit.
    long_serial.serial = SerialNumber::from_bytes(&[0x7F; 20]).unwrap();
    issue(&long_serial).unwrap();

    for cn in ["", "公的太郎", "x@example.jp", &"9".repeat(65)] {
        let mut bad = template(CertificateKind::CARD_AUTHENTICATION, "600B");
        bad.subject_cn = cn.to_owned();
        assert!(
            matches!(
                issue(&bad),
                Err(PkixError::InvalidField {
                    field: "subject CN",
                    ..
                })
            ),
            "{cn:?}"
        );
    }
    let mut bad_ocsp = template(CertificateKind::CARD_AUTHENTICATION, "600C");
    bad_ocsp.ocsp_url = Some("http://ocsp example".into());
    assert!(matches!(
        issue(&bad_ocsp),
        Err(PkixError::InvalidField {
            field: "OCSP URL",
            ..
        })
    ));
}

#[test]
fn issuer_new_refuses_end_entity_certificates() {
    let leaf = issue(&template(CertificateKind::CARD_AUTHENTICATION, "600D")).unwrap();
    assert!(matches!(Issuer::new(&leaf), Err(PkixError::NotACa(_))));
    assert!(Issuer::new(b"\x30\x03\x02\x01\x00").is_err());
}

#[test]
fn template_debug_keeps_personal_data_out() {
    let debug = format!("{:?}", template(CertificateKind::CARD_SIGNATURE, "600E"));
    assert!(!debug.contains(NAME) && !debug.contains(ADDRESS), "{debug}");
    assert!(debug.contains("[personal data]"), "{debug}");
}

// ---------------------------------------------------------------------------------------
// CSRs.

#[test]
fn our_csr_verifies_here_and_in_openssl_and_a_flipped_byte_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let key = &fixture().resident_key;
    let der = build_csr("2026JP0000000001", key).unwrap();
    let csr = VerifiedCsr::from_der(&der).unwrap();
    assert_eq!(csr.public_key_der(), key.public_key_der());
    assert_eq!(csr.public_key(), PublicKeyKind::Rsa { bits: 2048 });
    assert_eq!(
        csr.subject().to_der_order_string(),
        "C=JP, CN=2026JP0000000001"
    );
    assert!(csr.ignored_attributes().is_empty());
    assert_eq!(csr.der(), der.as_slice());

    let pem = csr_pem(&der).unwrap();
    assert_eq!(VerifiedCsr::from_pem(&pem).unwrap(), csr);
    let path = write(&dir, "ours.csr.pem", pem.as_bytes());
    let out = openssl(&["req", "-verify", "-noout", "-in", path_str(&path)]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success() && text.contains("verify OK"), "{text}");

    // Flip one bit of the signature, and one of the subject.
    let mut bad_signature = der.clone();
    let last = bad_signature.len() - 1;
    bad_signature[last] ^= 0x01;
    assert!(matches!(
        VerifiedCsr::from_der(&bad_signature),
        Err(PkixError::BadSignature)
    ));
    let cn_at = der.windows(4).position(|window| window == b"2026").unwrap();
    let mut bad_subject = der.clone();
    bad_subject[cn_at] = b'3';
    assert!(matches!(
        VerifiedCsr::from_der(&bad_subject),
        Err(PkixError::BadSignature)
    ));
    // Every truncation is an error, never a panic.
    for len in 0..der.len() {
        assert!(VerifiedCsr::from_der(&der[..len]).is_err());
    }
    let mut trailing = der.clone();
    trailing.push(0);
    assert!(VerifiedCsr::from_der(&trailing).is_err());
    assert!(matches!(
        VerifiedCsr::from_pem(&certificate_pem(&der).unwrap()),
        Err(PkixError::PemLabel { .. })
    ));
}

#[test]
fn csr_signed_with_p256_is_accepted() {
    let key = EcKey::generate();
    let der = build_csr("EC1", &key).unwrap();
    let csr = VerifiedCsr::from_der(&der).unwrap();
    assert_eq!(csr.public_key(), PublicKeyKind::EcP256);
    assert_eq!(
        csr.signature_algorithm(),
        SignatureAlgorithm::EcdsaP256Sha256
    );
}

/// Makes a CSR with the OpenSSL CLI; returns its PEM.
fn openssl_csr(dir: &TempDir, name: &str, extra: &[&str]) -> String {
    let dir = dir.path();
    let key = dir.join(format!("{name}.key"));
    let csr = dir.join(format!("{name}.csr"));
    let mut args = vec![
        "req",
        "-new",
        "-nodes",
        "-subj",
        "/C=JP/CN=x",
        "-keyout",
        path_str(&key),
        "-out",
        path_str(&csr),
    ];
    args.extend_from_slice(extra);
    openssl_ok(&args);
    std::fs::read_to_string(csr).unwrap()
}

#[test]
fn openssl_csrs_rsa_2048_and_p256_are_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let rsa = VerifiedCsr::from_pem(&openssl_csr(&dir, "o-rsa", &["-newkey", "rsa:2048"])).unwrap();
    assert_eq!(rsa.public_key(), PublicKeyKind::Rsa { bits: 2048 });
    assert_eq!(rsa.subject().to_der_order_string(), "C=JP, CN=x");

    let with_extensions = VerifiedCsr::from_pem(&openssl_csr(
        &dir,
        "o-ext",
        &[
            "-newkey",
            "rsa:2048",
            "-addext",
            "subjectAltName=DNS:example.jp",
        ],
    ))
    .unwrap();
    assert_eq!(
        with_extensions.ignored_attributes(),
        ["1.2.840.113549.1.9.14"],
        "extensionRequest is ignored, and reported"
    );

    let ec = VerifiedCsr::from_pem(&openssl_csr(
        &dir,
        "o-ec",
        &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
    ))
    .unwrap();
    assert_eq!(ec.public_key(), PublicKeyKind::EcP256);

    // The issued certificate takes the CSR's key and nothing else.
    let mut leaf = template(CertificateKind::CARD_AUTHENTICATION, "7001");
    leaf.subject_public_key_der = with_extensions.public_key_der().to_vec();
    let der = issue(&leaf).unwrap();
    assert!(!contains(&der, b"example.jp"));
}

#[test]
fn openssl_csrs_with_sha1_1024_bits_or_p384_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let sha1 = openssl_csr(&dir, "o-sha1", &["-newkey", "rsa:2048", "-sha1"]);
    let error = VerifiedCsr::from_pem(&sha1).unwrap_err();
    assert!(
        matches!(error, PkixError::UnsupportedSignatureAlgorithm(_)),
        "{error}"
    );
    assert!(
        error.to_string().contains("1.2.840.113549.1.1.5"),
        "{error}"
    );

    let weak = openssl_csr(&dir, "o-1024", &["-newkey", "rsa:1024"]);
    assert!(matches!(
        VerifiedCsr::from_pem(&weak),
        Err(PkixError::WeakRsaKey { bits: 1024 })
    ));

    let p384 = openssl_csr(
        &dir,
        "o-p384",
        &[
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-384",
            "-sha256",
        ],
    );
    assert!(matches!(
        VerifiedCsr::from_pem(&p384),
        Err(PkixError::UnsupportedKey(_))
    ));
}

// ---------------------------------------------------------------------------------------
// Parsing: robustness and the real J-LIS CA certificates.

#[test]
fn truncated_or_corrupted_certificates_are_errors_not_panics() {
    let der = issue(&template(CertificateKind::PHONE_SIGNATURE, "8001")).unwrap();
    for len in 0..der.len() {
        assert!(JpkiCertificate::from_der(&der[..len]).is_err(), "{len}");
    }
    // Flip every byte once; parsing may succeed or fail, but must not panic, and a
    // successful parse of a flipped signature-bearing byte must not verify.
    let issuer = JpkiCertificate::from_der(&fixture().sign_ca_der).unwrap();
    for index in 0..der.len() {
        let mut corrupted = der.clone();
        corrupted[index] ^= 0x55;
        if let Ok(parsed) = JpkiCertificate::from_der(&corrupted) {
            assert!(parsed.verify_issued_by(&issuer).is_err(), "byte {index}");
        }
    }
}

/// JPKI-FACTS §2.1, from the real certificates.
struct RealCa {
    file: &'static str,
    purpose: Purpose,
    serial: &'static str,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    fingerprint: &'static str,
}

const REAL_CAS: [RealCa; 4] = [
    RealCa {
        file: "sign_ca_2015.pem",
        purpose: Purpose::Signature,
        serial: "01",
        not_before: datetime!(2015-10-20 02:40:28 UTC),
        not_after: datetime!(2025-10-19 14:59:59 UTC),
        fingerprint: "19645405a1fe14377434bd55957628ac4038557c542403a2243f21c706fc9355",
    },
    RealCa {
        file: "sign_ca_2023.pem",
        purpose: Purpose::Signature,
        serial: "067C6A21",
        not_before: datetime!(2023-07-16 00:50:27 UTC),
        not_after: datetime!(2033-07-15 14:59:59 UTC),
        fingerprint: "d227f6cde11d35c5252178f106f843d24651944975413b539fa2fb68dbfa365f",
    },
    RealCa {
        file: "auth_ca_2015.pem",
        purpose: Purpose::Authentication,
        serial: "01",
        not_before: datetime!(2015-10-20 03:08:13 UTC),
        not_after: datetime!(2025-10-19 14:59:59 UTC),
        fingerprint: "4dcfc4ca0aaf9fb2a3081b3f0c991c320b3acc008667a341eeaec5af1d58ca7d",
    },
    RealCa {
        file: "auth_ca_2023.pem",
        purpose: Purpose::Authentication,
        serial: "06D18006",
        not_before: datetime!(2023-07-16 01:01:04 UTC),
        not_after: datetime!(2033-07-15 14:59:59 UTC),
        fingerprint: "64114f29620c24ed2631d46476a040e7ee740d956089c00b036a6a8118c322b5",
    },
];

#[test]
fn the_real_jlis_ca_certificates_parse_and_match_jpki_facts() {
    let directory = Path::new("/work/shared/data/jlis-ca");
    for real in &REAL_CAS {
        let pem = std::fs::read_to_string(directory.join(real.file))
            .unwrap_or_else(|e| panic!("{}: {e}", real.file));
        let parsed = JpkiCertificate::from_pem(&pem).unwrap();
        let ou = match real.purpose {
            Purpose::Signature => "JPKI for digital signature",
            Purpose::Authentication => "JPKI for user authentication",
        };
        let expected = format!(
            "C=JP, O=JPKI, OU={ou}, OU=Japan Agency for Local Authority Information Systems"
        );
        assert_eq!(
            parsed.subject().to_der_order_string(),
            expected,
            "{}",
            real.file
        );
        assert_eq!(parsed.issuer(), parsed.subject(), "{}", real.file);
        assert_eq!(
            parsed.role(),
            CertificateRole::Authority {
                purpose: Some(real.purpose)
            },
            "{}",
            real.file
        );
        assert_eq!(parsed.serial().to_hex(), real.serial, "{}", real.file);
        assert_eq!(parsed.not_before(), real.not_before, "{}", real.file);
        assert_eq!(parsed.not_after(), real.not_after, "{}", real.file);
        assert_eq!(
            hex::encode(parsed.fingerprint_sha256()),
            real.fingerprint,
            "{}",
            real.file
        );
        // Their CRLDP is a DirName only; no URL to report.
        assert!(parsed.crl_distribution_points().is_empty(), "{}", real.file);
        assert!(parsed.ocsp_urls().is_empty(), "{}", real.file);
        assert_eq!(parsed.basic_info(), None);
        assert_eq!(
            parsed.signature_algorithm(),
            Some(SignatureAlgorithm::RsaPkcs1Sha256)
        );
        // SKI is RFC 5280 method (1), which we compute the same way.
        let issuer = Issuer::new(parsed.der()).unwrap();
        assert_eq!(
            Some(issuer.key_identifier()),
            parsed.subject_key_identifier()
        );
        assert_eq!(issuer.purpose(), Some(real.purpose));
        parsed.verify_issued_by(&parsed).unwrap();
    }
}
