//! The virtual phone secure element end to end: card-client APDUs over the contactless
//! interface (byte for byte against the virtual card), OMAPI access rules, in-field
//! personalization by the portal app, key attestation and its verifier (checked by
//! OpenSSL too), biometric unlock, wipe, SE files.
//!
//! Keep every SE test in this one binary.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command as Process;
use std::sync::{Arc, OnceLock};

use jpki_card::{CardId, JpkiApProfile, VirtualCard};
use jpki_crypto::{
    Clock, DigestAlgorithm, DigestInfo, Kek, ManualClock, Pin, PinPolicy, RsaKeySize, SecretString,
    SignatureAlgorithm, Signer, SoftwareRsaKey, verify_signature,
};
use jpki_model::{BasicInfo, BirthDate, CertificateKind, Purpose, SerialNumber, Sex};
use jpki_pkix::{
    CaParams, EndEntityTemplate, Issuer, JpkiCertificate, build_ca_certificate, issue_end_entity,
};
use jpki_reader::{CertificateSlot, JpkiAp, KeySlot, PinSlot, ReaderError, Token, Transport};
use jpki_se::{
    AccessGrant, AccessRules, AppIdentity, AttestationBundle, AttestationError, AttestationPolicy,
    BiometricTemplate, CONTACTLESS_ATR, Interface, SeError, SlotUsage, UnlockAssertion, VendorCa,
    VirtualSecureElement, file, host, verify_attestation, verify_attestation_with,
    verify_attestations_with,
};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

fn hex(text: &str) -> Vec<u8> {
    text.split_whitespace()
        .flat_map(|group| {
            (0..group.len())
                .step_by(2)
                .map(move |i| u8::from_str_radix(&group[i..i + 2], 16).unwrap())
        })
        .collect()
}

fn to_hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(" ")
}

const SELECT_JPKI: &str = "00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01";
const SELECT_SUPPORT: &str = "00 A4 04 0C 0A D3 92 10 00 31 00 01 01 04 08";
const WIPE: &str = "80 E4 00 00 0C 4F 0A D3 92 F0 00 26 01 00 00 00 01";
const AUTH_PIN: &str = "4321";
const SIGN_PASSWORD: &str = "PHONEPW2026";
const START: OffsetDateTime = datetime!(2026-04-01 10:00 +09:00);

fn select_ef(fid: &str) -> String {
    format!("00 A4 02 0C 02 {fid}")
}

fn verify_cmd(pin: &str) -> String {
    format!("00 20 00 80 {:02X} {}", pin.len(), to_hex(pin.as_bytes()))
}

fn change_cmd(pin: &str) -> String {
    format!("00 24 01 80 {:02X} {}", pin.len(), to_hex(pin.as_bytes()))
}

fn sign_cmd(digest_info: &[u8]) -> String {
    format!(
        "80 2A 00 80 {:02X} {} 00",
        digest_info.len(),
        to_hex(digest_info)
    )
}

fn token_hex(name: &str) -> String {
    let mut info = name.as_bytes().to_vec();
    info.resize(32, b' ');
    to_hex(&info)
}

fn tx(device: &mut impl Transport, command: &str) -> Vec<u8> {
    device.transmit(&hex(command)).unwrap()
}

fn sw(response: &[u8]) -> u16 {
    let n = response.len();
    assert!(n >= 2, "response shorter than a status word");
    u16::from_be_bytes([response[n - 2], response[n - 1]])
}

fn data(response: &[u8]) -> &[u8] {
    &response[..response.len() - 2]
}

type Step = (&'static str, String, String);

fn step(what: &'static str, command: impl Into<String>, response: impl Into<String>) -> Step {
    (what, command.into(), response.into())
}

fn run(device: &mut impl Transport, steps: &[Step]) {
    for (what, command, expected) in steps {
        let response = tx(device, command);
        assert_eq!(
            to_hex(&response),
            to_hex(&hex(expected)),
            "{what}: {command}"
        );
    }
}

/// Writes `content` to the current EF with short UPDATE BINARY commands of 255 bytes.
fn write_current_ef(device: &mut impl Transport, content: &[u8]) {
    for (index, chunk) in content.chunks(255).enumerate() {
        let offset = index * 255;
        let command = format!(
            "00 D6 {:02X} {:02X} {:02X} {}",
            offset >> 8,
            offset & 0xFF,
            chunk.len(),
            to_hex(chunk)
        );
        assert_eq!(
            sw(&tx(device, &command)),
            0x9000,
            "UPDATE BINARY at {offset}"
        );
    }
}

/// Reads the current EF as OpenSC does: 4 bytes, then 256-byte chunks (Le = 00).
fn read_like_opensc(device: &mut impl Transport) -> Vec<u8> {
    let head = tx(device, "00 B0 00 00 04");
    assert_eq!(sw(&head), 0x9000);
    let head = data(&head).to_vec();
    let size = ((usize::from(head[2]) << 8) | usize::from(head[3])) + 4;
    let mut out = Vec::new();
    while out.len() < size {
        let offset = out.len();
        let response = tx(
            device,
            &format!("00 B0 {:02X} {:02X} 00", offset >> 8, offset & 0xFF),
        );
        assert_eq!(sw(&response), 0x9000);
        assert!(!data(&response).is_empty() && data(&response).len() <= 256);
        out.extend_from_slice(data(&response));
    }
    out.truncate(size);
    out
}

fn kek() -> Kek {
    Kek::from_bytes(&[0x5E; 32]).unwrap()
}

fn clock_at(instant: OffsetDateTime) -> Arc<ManualClock> {
    Arc::new(ManualClock::new(instant))
}

fn portal() -> AppIdentity {
    AppIdentity::from_signing_certificate("jp.example.jpki.portal", b"portal signing certificate")
        .unwrap()
}

fn foreign_app() -> AppIdentity {
    AppIdentity::from_signing_certificate("com.example.game", b"game signing certificate").unwrap()
}

/// The portal app's package, signed with another key (a repackaged copy).
fn repackaged_portal() -> AppIdentity {
    AppIdentity::from_signing_certificate("jp.example.jpki.portal", b"someone else's certificate")
        .unwrap()
}

fn nonce(seed: u8) -> Vec<u8> {
    (0..32)
        .map(|i| seed.wrapping_mul(31).wrapping_add(i))
        .collect()
}

fn openssl(dir: &Path, args: &[&str]) -> String {
    let output = Process::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl command-line tool is installed");
    assert!(
        output.status.success(),
        "openssl {args:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn pem(label: &str, der: &[u8]) -> String {
    der::pem::encode_string(label, der::pem::LineEnding::LF, der).unwrap()
}

// ---------------------------------------------------------------------------------------
// Fixture: one vendor, one SE personalized by the portal app through OMAPI with raw
// APDUs, and a card personalized with the same certificates and PINs.
// ---------------------------------------------------------------------------------------

struct Fixture {
    vendor_root: Vec<u8>,
    vendor_key_pem: String,
    other_vendor_root: Vec<u8>,
    impostor_vendor_root: Vec<u8>,
    se_file: Vec<u8>,
    card_file: Vec<u8>,
    auth_public_key: Vec<u8>,
    sign_public_key: Vec<u8>,
    auth_certificate: Vec<u8>,
    sign_certificate: Vec<u8>,
    auth_ca_certificate: Vec<u8>,
    sign_ca_certificate: Vec<u8>,
    auth_ca_key: SoftwareRsaKey,
}

const VENDOR: &str = "Acme Secure Elements";
const VENDOR_PASSPHRASE: &str = "vendor root passphrase";

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(build_fixture)
}

fn vendor(clock: &Arc<ManualClock>) -> VendorCa {
    let f = fixture();
    VendorCa::import(
        &f.vendor_root,
        f.vendor_key_pem.as_bytes(),
        &SecretString::from(VENDOR_PASSPHRASE),
        clock.clone(),
    )
    .unwrap()
}

fn load_se(clock: &Arc<ManualClock>) -> VirtualSecureElement {
    VirtualSecureElement::from_file_bytes(&fixture().se_file, &kek(), clock.clone()).unwrap()
}

fn load_card() -> VirtualCard {
    VirtualCard::from_file_bytes(&fixture().card_file, &kek()).unwrap()
}

/// A phone certificate of `kind` for `public_key`, issued by a fresh sandbox CA.
fn phone_certificate(
    kind: CertificateKind,
    ca_der: &[u8],
    ca_key: &SoftwareRsaKey,
    public_key: &[u8],
    serial: &str,
) -> Vec<u8> {
    let issuer = Issuer::new(ca_der).unwrap();
    let basic_info = (kind.purpose == Purpose::Signature).then(|| {
        BasicInfo::new(
            "公的 花子",
            None,
            "東京都千代田区霞が関2-1-2",
            None,
            BirthDate::parse("1990-01-02").unwrap(),
            Sex::Female,
        )
        .unwrap()
    });
    let template = EndEntityTemplate {
        kind,
        serial: SerialNumber::from_hex(serial).unwrap(),
        subject_cn: format!("PHONE{serial}"),
        subject_public_key_der: public_key.to_vec(),
        basic_info,
        not_before: START,
        not_after: START + Duration::days(4 * 365),
        crl_distribution_point: None,
        ocsp_url: None,
    };
    issue_end_entity(&issuer, &template, ca_key).unwrap()
}

fn build_fixture() -> Fixture {
    let clock = clock_at(START);
    let vendor = VendorCa::create(VENDOR, clock.clone()).unwrap();
    let vendor_key_pem = vendor
        .export_key(&SecretString::from(VENDOR_PASSPHRASE), 2_000)
        .unwrap();
    let other_vendor_root = VendorCa::create("Other SE Corp", clock.clone())
        .unwrap()
        .certificate_der()
        .to_vec();
    // Same name as the real vendor, another key: a forger's root.
    let impostor_vendor_root = VendorCa::create(VENDOR, clock.clone())
        .unwrap()
        .certificate_der()
        .to_vec();

    let mut se = VirtualSecureElement::manufacture(&vendor, clock.clone()).unwrap();
    assert!(se.is_dirty(), "a new SE has never been saved");
    se.set_access_rules(AccessRules::jpki_portal_only(portal()));

    // The portal app personalizes the SE through OMAPI, with raw APDUs.
    let mut session = se.open_session(Interface::Omapi(portal()));
    run(
        &mut session,
        &[step("select JPKI AP", SELECT_JPKI, "90 00")],
    );
    let mut public_keys = Vec::new();
    for key in ["00 17", "00 1A"] {
        run(
            &mut session,
            &[step("select key EF", select_ef(key), "90 00")],
        );
        let response = tx(&mut session, "00 46 00 00 00 00 00");
        assert_eq!(sw(&response), 0x9000, "GENERATE for {key}");
        assert_eq!(data(&response).len(), 294, "RSA-2048 SubjectPublicKeyInfo");
        public_keys.push(data(&response).to_vec());
    }
    run(
        &mut session,
        &[
            step("select auth PIN", select_ef("00 18"), "90 00"),
            step("set auth PIN", change_cmd(AUTH_PIN), "90 00"),
            step("select sign password", select_ef("00 1B"), "90 00"),
            step("lower case refused", change_cmd("phonepw2026"), "6A 80"),
            step("set sign password", change_cmd(SIGN_PASSWORD), "90 00"),
        ],
    );
    let sign_public_key = public_keys.pop().unwrap();
    let auth_public_key = public_keys.pop().unwrap();

    // Sandbox JPKI CAs certify the phone keys.
    let ca_end = START + Duration::days(10 * 365);
    let auth_ca_key = SoftwareRsaKey::generate(RsaKeySize::Rsa2048).unwrap();
    let sign_ca_key = SoftwareRsaKey::generate(RsaKeySize::Rsa2048).unwrap();
    let auth_ca_certificate = build_ca_certificate(
        &CaParams::new(
            Purpose::Authentication,
            SerialNumber::from_hex("01").unwrap(),
            START,
            ca_end,
        ),
        &auth_ca_key,
    )
    .unwrap();
    let sign_ca_certificate = build_ca_certificate(
        &CaParams::new(
            Purpose::Signature,
            SerialNumber::from_hex("02").unwrap(),
            START,
            ca_end,
        ),
        &sign_ca_key,
    )
    .unwrap();
    let auth_certificate = phone_certificate(
        CertificateKind::PHONE_AUTHENTICATION,
        &auth_ca_certificate,
        &auth_ca_key,
        &auth_public_key,
        "0A01",
    );
    let sign_certificate = phone_certificate(
        CertificateKind::PHONE_SIGNATURE,
        &sign_ca_certificate,
        &sign_ca_key,
        &sign_public_key,
        "0B01",
    );
    let certificates = [
        ("00 0A", &auth_certificate),
        ("00 0B", &auth_ca_certificate),
        ("00 01", &sign_certificate),
        ("00 02", &sign_ca_certificate),
    ];
    for (fid, content) in certificates {
        run(
            &mut session,
            &[step("select cert EF", select_ef(fid), "90 00")],
        );
        write_current_ef(&mut session, content);
    }
    drop(session);
    let se_file = se.to_file_bytes(&kek()).unwrap();

    // The card: same certificates and PINs, its own keys.
    let mut card = VirtualCard::blank(CardId::parse("0123456789ABCDEF").unwrap());
    run(&mut card, &[step("select JPKI AP", SELECT_JPKI, "90 00")]);
    for key in ["00 17", "00 1A"] {
        run(&mut card, &[step("select key EF", select_ef(key), "90 00")]);
        assert_eq!(sw(&tx(&mut card, "00 46 00 00 00 00 00")), 0x9000);
    }
    run(
        &mut card,
        &[
            step("select auth PIN", select_ef("00 18"), "90 00"),
            step("set auth PIN", change_cmd(AUTH_PIN), "90 00"),
            step("select sign password", select_ef("00 1B"), "90 00"),
            step("set sign password", change_cmd(SIGN_PASSWORD), "90 00"),
        ],
    );
    for (fid, content) in certificates {
        run(
            &mut card,
            &[step("select cert EF", select_ef(fid), "90 00")],
        );
        write_current_ef(&mut card, content);
    }
    run(
        &mut card,
        &[
            step("select support AP", SELECT_SUPPORT, "90 00"),
            step("select its PIN", select_ef("00 11"), "90 00"),
            step("set it", change_cmd("5678"), "90 00"),
            step("activate", "00 44 00 00", "90 00"),
        ],
    );
    let card_file = card.to_file_bytes(&kek()).unwrap();

    Fixture {
        vendor_root: vendor.certificate_der().to_vec(),
        vendor_key_pem,
        other_vendor_root,
        impostor_vendor_root,
        se_file,
        card_file,
        auth_public_key,
        sign_public_key,
        auth_certificate,
        sign_certificate,
        auth_ca_certificate,
        sign_ca_certificate,
        auth_ca_key,
    }
}

// ---------------------------------------------------------------------------------------
// The contactless interface: what card clients send
// ---------------------------------------------------------------------------------------

#[test]
fn card_client_sequences_work_over_the_contactless_interface() {
    let f = fixture();
    let clock = clock_at(START);
    let mut se = load_se(&clock);
    assert_eq!(se.token(), "JPKIAPGPSETOKEN");
    let mut s = se.open_session(Interface::Contactless);
    run(
        &mut s,
        &[
            step("SELECT AP as OpenSC and myna send it", SELECT_JPKI, "90 00"),
            step(
                "SELECT with P2 00 and Le",
                "00 A4 04 00 0A D3 92 F0 00 26 01 00 00 00 01 00",
                "90 00",
            ),
            step("SELECT token EF", select_ef("00 06"), "90 00"),
            step(
                "token: one read of 32 bytes",
                "00 B0 00 00 20",
                format!("{} 90 00", token_hex("JPKIAPGPSETOKEN")),
            ),
            step("SELECT auth certificate", select_ef("00 0A"), "90 00"),
            step(
                "OpenSC's header read before the auth PIN",
                "00 B0 00 00 04",
                "69 82",
            ),
            step(
                "myna's header read before the auth PIN",
                "00 B0 00 00 07",
                "69 82",
            ),
            step("SELECT auth PIN", select_ef("00 18"), "90 00"),
            step("tries left", "00 20 00 80", "63 C3"),
            step("SELECT signature password", select_ef("00 1B"), "90 00"),
            step("tries left", "00 20 00 80", "63 C5"),
            step("SELECT signature certificate", select_ef("00 01"), "90 00"),
            step("before the password", "00 B0 00 00 04", "69 82"),
            step("SELECT auth CA certificate", select_ef("00 0B"), "90 00"),
        ],
    );
    assert_eq!(read_like_opensc(&mut s), f.auth_ca_certificate);
    run(
        &mut s,
        &[
            step("SELECT sign CA certificate", select_ef("00 02"), "90 00"),
            step("a wrong auth PIN", select_ef("00 18"), "90 00"),
            step("VERIFY 0000", verify_cmd("0000"), "63 C2"),
            step("VERIFY", verify_cmd(AUTH_PIN), "90 00"),
            step("counter back at 3", "00 20 00 80", "63 C3"),
            step("SELECT auth certificate", select_ef("00 0A"), "90 00"),
        ],
    );
    assert_eq!(read_like_opensc(&mut s), f.auth_certificate);

    // COMPUTE DIGITAL SIGNATURE with the auth key over a SHA-256 DigestInfo.
    let message = b"login challenge from a relying party";
    let info = DigestInfo::of(DigestAlgorithm::Sha256, message).to_der();
    run(
        &mut s,
        &[step("SELECT auth key", select_ef("00 17"), "90 00")],
    );
    let response = tx(&mut s, &sign_cmd(&info));
    assert_eq!(sw(&response), 0x9000);
    assert_eq!(data(&response).len(), 256);
    verify_signature(
        SignatureAlgorithm::RsaPkcs1Sha256,
        &f.auth_public_key,
        message,
        data(&response),
    )
    .unwrap();

    // The signature key needs the signature password.
    run(
        &mut s,
        &[
            step("SELECT sign key", select_ef("00 1A"), "90 00"),
            step("before the password", sign_cmd(&info), "69 82"),
            step("SELECT password", select_ef("00 1B"), "90 00"),
            step(
                "lower case is a wrong password",
                verify_cmd("phonepw2026"),
                "63 C4",
            ),
            step("VERIFY", verify_cmd(SIGN_PASSWORD), "90 00"),
            step("SELECT signature certificate", select_ef("00 01"), "90 00"),
        ],
    );
    assert_eq!(read_like_opensc(&mut s), f.sign_certificate);
    run(
        &mut s,
        &[step("SELECT sign key", select_ef("00 1A"), "90 00")],
    );
    let response = tx(&mut s, &sign_cmd(&info));
    assert_eq!(sw(&response), 0x9000);
    verify_signature(
        SignatureAlgorithm::RsaPkcs1Sha256,
        &f.sign_public_key,
        message,
        data(&response),
    )
    .unwrap();

    run(
        &mut s,
        &[
            // Re-selecting the AP clears the security state (OpenSC's logout).
            step("SELECT AP again", SELECT_JPKI, "90 00"),
            step("SELECT auth certificate", select_ef("00 0A"), "90 00"),
            step("needs the PIN again", "00 B0 00 00 04", "69 82"),
            // No personalization from a reader.
            step("SELECT auth key", select_ef("00 17"), "90 00"),
            step("GENERATE", "00 46 00 00 00 00 00", "69 85"),
            step("SELECT auth certificate", select_ef("00 0A"), "90 00"),
            step("UPDATE BINARY", "00 D6 00 00 01 00", "69 85"),
            step("SELECT auth PIN", select_ef("00 18"), "90 00"),
            step(
                "CHANGE REFERENCE DATA without VERIFY",
                change_cmd("1111"),
                "69 82",
            ),
            step("ACTIVATE FILE", "00 44 00 00", "69 85"),
            // The SE's own commands do not exist for a reader.
            step(
                "ATTEST KEY",
                format!("80 A0 00 1A 10 {} 00", "00 ".repeat(16)),
                "6D 00",
            ),
            step("GET CHALLENGE", "00 84 00 00 10", "6D 00"),
            step(
                "UNLOCK",
                format!("80 82 00 00 51 {}", "00 ".repeat(81)),
                "6D 00",
            ),
            step(
                "ENROL",
                format!("80 E2 00 00 20 {}", "00 ".repeat(32)),
                "6D 00",
            ),
            step("WIPE", WIPE, "6D 00"),
            step("UNENROL", "80 E6 00 00", "6D 00"),
            step("GET RESPONSE", "00 C0 00 00 10", "6D 00"),
            // The phone holds only the JPKI AP.
            step("SELECT 券面事項入力補助AP", SELECT_SUPPORT, "6A 82"),
            step("JPKI AP still selected", select_ef("00 06"), "90 00"),
        ],
    );
    s.reset();
    run(
        &mut s,
        &[step("after a field reset", select_ef("00 06"), "6A 82")],
    );
    assert_eq!(CONTACTLESS_ATR, [0x3B, 0x80, 0x80, 0x01, 0x01]);
}

#[test]
fn reader_operations_work_on_the_se_through_its_transport() {
    let f = fixture();
    let clock = clock_at(START);
    let mut se = load_se(&clock);
    let mut ap = JpkiAp::select(se.open_session(Interface::Contactless)).unwrap();
    assert_eq!(ap.token().unwrap(), Token::Phone);
    assert_eq!(
        ap.read_certificate(CertificateSlot::AuthCa).unwrap(),
        f.auth_ca_certificate
    );
    assert_eq!(
        ap.read_certificate(CertificateSlot::Auth)
            .unwrap_err()
            .status_word(),
        Some(jpki_apdu::StatusWord::SecurityStatusNotSatisfied),
        "the phone's auth certificate needs the auth PIN"
    );
    assert_eq!(ap.tries_left(PinSlot::Auth).unwrap(), 3);
    ap.verify(
        PinSlot::Auth,
        &Pin::new(PinPolicy::FourDigits, AUTH_PIN).unwrap(),
    )
    .unwrap();
    assert_eq!(
        ap.read_certificate(CertificateSlot::Auth).unwrap(),
        f.auth_certificate
    );
    let info = DigestInfo::of(DigestAlgorithm::Sha256, b"typed operations").to_der();
    let signature = ap.sign_digest_info(KeySlot::Auth, &info).unwrap();
    let certificate = JpkiCertificate::from_der(&f.auth_certificate).unwrap();
    assert_eq!(
        certificate.kind(),
        Some(CertificateKind::PHONE_AUTHENTICATION)
    );
    verify_signature(
        SignatureAlgorithm::RsaPkcs1Sha256,
        certificate.public_key_der(),
        b"typed operations",
        &signature,
    )
    .unwrap();
    let password = Pin::new(PinPolicy::SignPassword, SIGN_PASSWORD).unwrap();
    let signature = ap.sign_with_pin(KeySlot::Sign, &password, &info).unwrap();
    verify_signature(
        SignatureAlgorithm::RsaPkcs1Sha256,
        &f.sign_public_key,
        b"typed operations",
        &signature,
    )
    .unwrap();
    assert_eq!(
        ap.read_certificate(CertificateSlot::Sign).unwrap(),
        f.sign_certificate
    );
    // The card's personalization operations are refused over the reader interface.
    assert!(ap.generate_key(KeySlot::Auth).is_err());
    // CardSigner: a CSR-style signature through the SE.
    let mut ap = JpkiAp::select(ap.into_transport()).unwrap();
    ap.verify(
        PinSlot::Auth,
        &Pin::new(PinPolicy::FourDigits, AUTH_PIN).unwrap(),
    )
    .unwrap();
    let signer = jpki_reader::CardSigner::new(&mut ap, KeySlot::Auth, f.auth_public_key.clone());
    let signature = signer.sign(b"through the Signer trait").unwrap();
    verify_signature(
        SignatureAlgorithm::RsaPkcs1Sha256,
        &f.auth_public_key,
        b"through the Signer trait",
        &signature,
    )
    .unwrap();
}

/// A small deterministic generator (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn byte(&mut self) -> u8 {
        self.next() as u8
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.byte()).collect()
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// A command a card client could send, sometimes malformed.
fn client_command(rng: &mut Rng) -> Vec<u8> {
    let fids: [u16; 11] = [
        0x0001, 0x0002, 0x0006, 0x000A, 0x000B, 0x0017, 0x0018, 0x001A, 0x001B, 0x0011, 0x2F00,
    ];
    match rng.below(16) {
        0 => {
            let p2 = *rng.pick(&[0x0C, 0x0C, 0x00, 0x04]);
            let mut command = vec![0x00, 0xA4, 0x04, p2, 0x0A];
            command.extend_from_slice(&jpki_card::JPKI_AID);
            command
        }
        1 => {
            let len = rng.below(17) as usize;
            let mut command = vec![0x00, 0xA4, *rng.pick(&[0x04, 0x00, 0x08]), 0x0C, len as u8];
            command.extend(rng.bytes(len));
            if len == 0 {
                command.truncate(4);
            }
            command
        }
        2..=4 => {
            let fid = *rng.pick(&fids);
            let p1 = *rng.pick(&[0x02, 0x02, 0x02, 0x00, 0x01]);
            let mut command = vec![0x00, 0xA4, p1, *rng.pick(&[0x0C, 0x00, 0x04]), 0x02];
            command.extend_from_slice(&fid.to_be_bytes());
            command
        }
        5..=7 => {
            let offset = *rng.pick(&[0u16, 0, 4, 7, 256, 512, 1000, 1500, 4096, 0x7FFF, 0x8000]);
            let [p1, p2] = offset.to_be_bytes();
            let mut command = vec![0x00, 0xB0, p1, p2];
            match rng.below(5) {
                0 => command.extend([0x00, 0x01, 0x00]),
                1 => {}
                _ => command.push(*rng.pick(&[0x00, 0x04, 0x07, 0x20, 0xFF, 0x01])),
            }
            command
        }
        8 | 9 => {
            let pins: [&[u8]; 8] = [
                AUTH_PIN.as_bytes(),
                AUTH_PIN.as_bytes(),
                SIGN_PASSWORD.as_bytes(),
                SIGN_PASSWORD.as_bytes(),
                b"0000",
                b"WRONGPW1",
                b"12",
                b"",
            ];
            let pin = *rng.pick(&pins);
            let mut command = vec![0x00, 0x20, 0x00, 0x80];
            if !pin.is_empty() {
                command.push(pin.len() as u8);
                command.extend_from_slice(pin);
            }
            command
        }
        10 => {
            let pins: [&[u8]; 3] = [AUTH_PIN.as_bytes(), SIGN_PASSWORD.as_bytes(), b"12a4"];
            let pin = *rng.pick(&pins);
            let mut command = vec![0x00, 0x24, *rng.pick(&[0x01, 0x00]), 0x80, pin.len() as u8];
            command.extend_from_slice(pin);
            command
        }
        11 => {
            let info = if rng.below(4) == 0 {
                let len = 1 + rng.below(60) as usize;
                rng.bytes(len)
            } else {
                DigestInfo::of(DigestAlgorithm::Sha256, &rng.bytes(8)).to_der()
            };
            let mut command = vec![0x80, 0x2A, 0x00, *rng.pick(&[0x80, 0x80, 0x00])];
            command.push(info.len() as u8);
            command.extend_from_slice(&info);
            command.push(*rng.pick(&[0x00, 0x00, 0x80]));
            command
        }
        12 => rng
            .pick(&[
                vec![0x00, 0x44, 0x00, 0x00],
                vec![0x00, 0x44, 0x01, 0x00],
                vec![0x00, 0x46, 0x00, 0x00, 0x00, 0x00, 0x00],
                vec![0x00, 0xD6, 0x00, 0x00, 0x01, 0x00],
                vec![0x00, 0x2A, 0x00, 0x80, 0x01, 0x00],
            ])
            .clone(),
        13 | 14 => {
            let len = rng.below(12) as usize;
            let mut command = rng.bytes(4);
            command.extend(rng.bytes(len));
            command
        }
        _ => {
            let len = rng.below(6) as usize;
            rng.bytes(len)
        }
    }
}

/// Where the phone differs from the card by design, the SE's answer must be exactly
/// the phone's; everywhere else the two answers are the same bytes.
#[test]
fn contactless_answers_byte_for_byte_like_an_activated_card() {
    let card_token = hex(&token_hex("JPKIAPICCTOKEN2"));
    let phone_token = hex(&token_hex("JPKIAPGPSETOKEN"));
    let clock = clock_at(START);
    let mut compared = 0;
    for seed in [0x9E37_79B9_7F4A_7C15_u64, 7, 0xDEAD_BEEF, 20_260_401] {
        let mut rng = Rng(seed);
        let mut card = load_card();
        let mut se = load_se(&clock);
        let mut s = se.open_session(Interface::Contactless);
        let mut current_ef: Option<u16> = None;
        let mut auth_verified = false;
        for _ in 0..1500 {
            let command = client_command(&mut rng);
            let from_card = card.transmit(&command);
            let from_se = s.transmit(&command);
            let parsed = jpki_apdu::Command::parse(&command).ok();
            let is = |cla: u8, ins: u8| {
                parsed
                    .as_ref()
                    .is_some_and(|c| (c.cla, c.ins) == (cla, ins))
            };
            let card_sw = sw(&from_card);
            if is(0x00, 0xB0) && current_ef == Some(0x000A) && !auth_verified {
                if matches!(card_sw, 0x6700 | 0x6A86) {
                    assert_eq!(from_se, from_card, "{}", to_hex(&command));
                } else {
                    assert_eq!(
                        from_se,
                        vec![0x69, 0x82],
                        "000A before the PIN: {}",
                        to_hex(&command)
                    );
                }
            } else if is(0x00, 0xB0) && current_ef == Some(0x0006) && card_sw == 0x9000 {
                let offset = usize::from(u16::from_be_bytes([command[2], command[3]]));
                let read = data(&from_card);
                assert_eq!(read, &card_token[offset..offset + read.len()]);
                assert_eq!(
                    data(&from_se),
                    &phone_token[offset..offset + read.len()],
                    "{}",
                    to_hex(&command)
                );
                assert_eq!(sw(&from_se), 0x9000);
            } else if is(0x80, 0x2A) && card_sw == 0x9000 {
                assert_eq!(sw(&from_se), 0x9000, "{}", to_hex(&command));
                assert_eq!(data(&from_se).len(), data(&from_card).len());
            } else {
                assert_eq!(
                    to_hex(&from_se),
                    to_hex(&from_card),
                    "command {}",
                    to_hex(&command)
                );
            }
            compared += 1;
            // Track what decides the allowed differences.
            if let Some(c) = &parsed {
                let ok = card_sw == 0x9000;
                if (c.cla, c.ins, c.p1) == (0x00, 0xA4, 0x04) && ok {
                    current_ef = None;
                    auth_verified = false;
                } else if (c.cla, c.ins) == (0x00, 0xA4) && ok {
                    current_ef = Some(u16::from_be_bytes([c.data[0], c.data[1]]));
                } else if (c.cla, c.ins, c.p1, c.p2) == (0x00, 0x20, 0x00, 0x80)
                    && c.le.is_none()
                    && !c.data.is_empty()
                    && current_ef == Some(0x0018)
                {
                    auth_verified = ok;
                }
            }
        }
    }
    assert_eq!(compared, 6000);
}

// ---------------------------------------------------------------------------------------
// OMAPI: access rules
// ---------------------------------------------------------------------------------------

#[test]
fn an_app_no_rule_allows_is_refused_and_gets_no_data() {
    let clock = clock_at(START);
    let mut se = load_se(&clock);
    let script = [
        SELECT_JPKI.to_owned(),
        "00 A4 04 00 0A D3 92 F0 00 26 01 00 00 00 01 00".to_owned(),
        "00 A4 04 04 0A D3 92 F0 00 26 01 00 00 00 01".to_owned(),
        select_ef("00 06"),
        "00 B0 00 00 20".to_owned(),
        select_ef("00 0B"),
        "00 B0 00 00 00".to_owned(),
        select_ef("00 18"),
        "00 20 00 80".to_owned(),
        verify_cmd(AUTH_PIN),
        sign_cmd(&DigestInfo::of(DigestAlgorithm::Sha256, b"x").to_der()),
        "00 46 00 00 00 00 00".to_owned(),
        change_cmd("1111"),
        format!("80 A0 00 17 10 {} 00", "00 ".repeat(16)),
        "00 84 00 00 10".to_owned(),
        "00 C0 00 00 00".to_owned(),
        WIPE.to_owned(),
    ];
    for identity in [foreign_app(), repackaged_portal()] {
        let mut s = se.open_session(Interface::Omapi(identity.clone()));
        for command in &script {
            let response = tx(&mut s, command);
            assert_eq!(response.len(), 2, "{identity:?} got data for {command}");
            assert_ne!(sw(&response), 0x9000, "{identity:?}: {command}");
        }
        run(
            &mut s,
            &[
                step("refused", SELECT_JPKI, "69 82"),
                step("nothing selected", select_ef("00 06"), "6A 82"),
                step("nothing selected", "00 B0 00 00 20", "69 86"),
                step(
                    "no SE commands",
                    format!("80 A0 00 17 10 {} 00", "00 ".repeat(16)),
                    "6D 00",
                ),
            ],
        );
    }
    // Nothing changed on the SE: the tries-left counters are intact.
    let mut s = se.open_session(Interface::Contactless);
    run(
        &mut s,
        &[
            step("select", SELECT_JPKI, "90 00"),
            step("auth PIN", select_ef("00 18"), "90 00"),
            step("3 tries", "00 20 00 80", "63 C3"),
        ],
    );
    drop(s);
    assert!(!se.is_dirty());

    // Without rules, even the portal app is refused.
    se.set_access_rules(AccessRules::deny_all());
    let mut s = se.open_session(Interface::Omapi(portal()));
    run(&mut s, &[step("no rule", SELECT_JPKI, "69 82")]);
    drop(s);

    // An app with the holder grant reads and signs like a card client, nothing more.
    let reader_app =
        AppIdentity::from_signing_certificate("jp.example.reader", b"reader app").unwrap();
    se.set_access_rules(
        AccessRules::jpki_portal_only(portal())
            .allow(
                &jpki_card::JPKI_AID,
                reader_app.clone(),
                AccessGrant::Holder,
            )
            .unwrap(),
    );
    let mut s = se.open_session(Interface::Omapi(reader_app));
    run(
        &mut s,
        &[
            step("select", SELECT_JPKI, "90 00"),
            step("token", select_ef("00 06"), "90 00"),
            step(
                "read",
                "00 B0 00 00 20",
                format!("{} 90 00", token_hex("JPKIAPGPSETOKEN")),
            ),
            step("auth key", select_ef("00 17"), "90 00"),
            step("no GENERATE", "00 46 00 00 00 00 00", "69 85"),
            step(
                "no ATTEST",
                format!("80 A0 00 17 10 {} 00", "00 ".repeat(16)),
                "69 82",
            ),
            step("no WIPE", WIPE, "69 82"),
            step(
                "no ENROL",
                format!("80 E2 00 00 20 {}", "00 ".repeat(32)),
                "69 82",
            ),
            step("auth PIN", select_ef("00 18"), "90 00"),
            step("no reset of a PIN", change_cmd("1111"), "69 82"),
        ],
    );
    let challenge = tx(&mut s, "00 84 00 00 10");
    assert_eq!(
        sw(&challenge),
        0x9000,
        "a holder app may ask for a challenge"
    );
    assert_eq!(data(&challenge).len(), 16);
}

// ---------------------------------------------------------------------------------------
// In-field personalization and attestation: the phone app and the RA
// ---------------------------------------------------------------------------------------

#[test]
fn portal_app_personalizes_a_new_se_and_the_ra_accepts_its_attestations() {
    let f = fixture();
    let clock = clock_at(START + Duration::hours(1));
    let vendor = vendor(&clock);
    let mut se = VirtualSecureElement::manufacture(&vendor, clock.clone()).unwrap();
    se.set_access_rules(AccessRules::jpki_portal_only(portal()));
    let serial = se.serial().clone();
    let device_certificate = se.device_certificate().to_vec();

    let mut ap = JpkiAp::select(se.open_session(Interface::Omapi(portal()))).unwrap();
    assert_eq!(ap.token().unwrap(), Token::Phone);
    // 1. Keys generated in the SE (the card's personalization APDUs, issuer privilege).
    let auth_key = ap.generate_key(KeySlot::Auth).unwrap();
    let sign_key = ap.generate_key(KeySlot::Sign).unwrap();
    // 2. The citizen's phone PINs.
    ap.set_initial_pin(
        PinSlot::Auth,
        &Pin::new(PinPolicy::FourDigits, "2468").unwrap(),
    )
    .unwrap();
    ap.set_initial_pin(
        PinSlot::Sign,
        &Pin::new(PinPolicy::SignPassword, "NEWPHONE1").unwrap(),
    )
    .unwrap();
    // 3. The RA's challenge, the SE's attestations, the RA's verdicts.
    for (usage, key) in [
        (SlotUsage::Authentication, &auth_key),
        (SlotUsage::Signature, &sign_key),
    ] {
        let challenge = nonce(usage as u8);
        let bundle = host::attest_key(&mut ap, usage, &challenge).unwrap();
        assert_eq!(bundle.device_certificate(), device_certificate.as_slice());
        assert_eq!(bundle.vendor_chain(), std::slice::from_ref(&f.vendor_root));
        let attested = bundle
            .verify(&[&f.vendor_root], &challenge, clock.now())
            .unwrap();
        assert_eq!(attested.se_serial(), &serial);
        assert_eq!(attested.usage(), usage);
        assert_eq!(attested.slot(), usage.key_fid());
        assert_eq!(attested.public_key_der(), key.as_slice());
        assert_eq!(
            attested.vendor(),
            format!("O={VENDOR}, CN={VENDOR} Attestation Root")
        );
        assert_eq!(attested.attested_at(), clock.now());
        attested.check_binding(usage, key).unwrap();
        // The RA compares with the key in the application: the other slot's key fails.
        let other = if usage == SlotUsage::Signature {
            &auth_key
        } else {
            &sign_key
        };
        assert_eq!(
            attested.check_binding(usage, other),
            Err(AttestationError::KeyMismatch)
        );
    }
    // 4. The CA certifies the attested auth key; the app writes certificates.
    let auth_certificate = phone_certificate(
        CertificateKind::PHONE_AUTHENTICATION,
        &f.auth_ca_certificate,
        &f.auth_ca_key,
        &auth_key,
        "0A02",
    );
    ap.write_certificate(CertificateSlot::Auth, &auth_certificate)
        .unwrap();
    ap.write_certificate(CertificateSlot::AuthCa, &f.auth_ca_certificate)
        .unwrap();
    // 5. Registration: the app proves possession with the new auth key.
    ap.verify(
        PinSlot::Auth,
        &Pin::new(PinPolicy::FourDigits, "2468").unwrap(),
    )
    .unwrap();
    assert_eq!(
        ap.read_certificate(CertificateSlot::Auth).unwrap(),
        auth_certificate
    );
    let info = DigestInfo::of(DigestAlgorithm::Sha256, b"registration confirmation").to_der();
    let signature = ap.sign_digest_info(KeySlot::Auth, &info).unwrap();
    let certificate = JpkiCertificate::from_der(&auth_certificate).unwrap();
    verify_signature(
        SignatureAlgorithm::RsaPkcs1Sha256,
        certificate.public_key_der(),
        b"registration confirmation",
        &signature,
    )
    .unwrap();
    // 6. A locked PIN is reset by the app (after it re-authorised the citizen).
    for _ in 0..3 {
        let _ = ap.verify(
            PinSlot::Auth,
            &Pin::new(PinPolicy::FourDigits, "0000").unwrap(),
        );
    }
    assert_eq!(ap.tries_left(PinSlot::Auth).unwrap(), 0);
    ap.set_initial_pin(
        PinSlot::Auth,
        &Pin::new(PinPolicy::FourDigits, "1357").unwrap(),
    )
    .unwrap();
    assert_eq!(ap.tries_left(PinSlot::Auth).unwrap(), 3);
    let session = ap.into_transport();
    assert!(session.element().is_dirty());
}

#[test]
fn forged_foreign_stale_and_mismatched_attestations_are_refused() {
    let f = fixture();
    let clock = clock_at(START + Duration::days(1));
    let mut se = load_se(&clock);
    let mut ap = JpkiAp::select(se.open_session(Interface::Omapi(portal()))).unwrap();
    let challenge = nonce(1);
    let bundle = host::attest_key(&mut ap, SlotUsage::Signature, &challenge).unwrap();
    let now = clock.now();
    let statement = bundle.statement().to_vec();
    let device = bundle.device_certificate().to_vec();
    let roots = [f.vendor_root.clone()];
    let attested = verify_attestation(&statement, &device, &roots, &challenge, now).unwrap();
    assert_eq!(attested.public_key_der(), f.sign_public_key.as_slice());

    // Another vendor's root, and a root with the vendor's name but another key.
    assert!(matches!(
        verify_attestation(
            &statement,
            &device,
            &[&f.other_vendor_root],
            &challenge,
            now
        ),
        Err(AttestationError::UntrustedVendor { .. })
    ));
    assert!(matches!(
        verify_attestation(
            &statement,
            &device,
            &[&f.impostor_vendor_root],
            &challenge,
            now
        ),
        Err(AttestationError::UntrustedVendor { .. })
    ));
    assert!(matches!(
        verify_attestation::<&[u8]>(&statement, &device, &[], &challenge, now),
        Err(AttestationError::UntrustedVendor { .. })
    ));
    // Both trusted: the right one is found.
    verify_attestation(
        &statement,
        &device,
        &[&f.other_vendor_root, &f.vendor_root],
        &challenge,
        now,
    )
    .unwrap();

    // Wrong nonce, stale, from the future.
    assert_eq!(
        verify_attestation(&statement, &device, &roots, &nonce(2), now),
        Err(AttestationError::WrongNonce)
    );
    assert!(matches!(
        verify_attestation(
            &statement,
            &device,
            &roots,
            &challenge,
            now + Duration::minutes(6)
        ),
        Err(AttestationError::Stale { .. })
    ));
    assert!(matches!(
        verify_attestation(
            &statement,
            &device,
            &roots,
            &challenge,
            now - Duration::minutes(3)
        ),
        Err(AttestationError::FromTheFuture { .. })
    ));
    let patient = AttestationPolicy {
        max_age: Duration::hours(1),
        ..AttestationPolicy::default()
    };
    verify_attestation_with(
        &patient,
        &statement,
        &device,
        &roots,
        &challenge,
        now + Duration::minutes(6),
    )
    .unwrap();

    // Tampering: every byte of the TBS is covered by the signature (a change either
    // breaks the DER or the signature), and the signature itself.
    let tbs_start = 4; // 30 82 LL LL, then the TBS
    let tbs_len = usize::from(u16::from_be_bytes([statement[6], statement[7]])) + 4;
    for index in (tbs_start..tbs_start + tbs_len).step_by(7) {
        let mut tampered = statement.clone();
        tampered[index] ^= 0x01;
        let error = verify_attestation(&tampered, &device, &roots, &challenge, now).unwrap_err();
        assert!(
            matches!(
                error,
                AttestationError::BadSignature | AttestationError::Malformed(_)
            ),
            "byte {index}: {error}"
        );
    }
    let mut tampered = statement.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 0x01;
    assert_eq!(
        verify_attestation(&tampered, &device, &roots, &challenge, now),
        Err(AttestationError::BadSignature)
    );
    // A nonce byte flipped keeps the DER valid: the signature catches it.
    let position = statement
        .windows(challenge.len())
        .position(|window| window == challenge.as_slice())
        .unwrap();
    let mut tampered = statement.clone();
    tampered[position] ^= 0x80;
    assert_eq!(
        verify_attestation(&tampered, &device, &roots, &challenge, now),
        Err(AttestationError::BadSignature)
    );
    for malformed in [&statement[..statement.len() - 1], &[0x30, 0x00][..], &[]] {
        assert!(matches!(
            verify_attestation(malformed, &device, &roots, &challenge, now),
            Err(AttestationError::Malformed(_))
        ));
    }
    assert!(matches!(
        verify_attestation(
            &statement,
            &device[..device.len() - 3],
            &roots,
            &challenge,
            now
        ),
        Err(AttestationError::Malformed(_))
    ));

    // A forged statement: the same content, signed by a key that is not the SE's.
    let forger = SoftwareRsaKey::generate(RsaKeySize::Rsa2048).unwrap();
    let forged = resign(&statement, &forger);
    assert_eq!(
        verify_attestation(&forged, &device, &roots, &challenge, now),
        Err(AttestationError::BadSignature)
    );
    // Another genuine SE's device certificate does not make it the signer either.
    let other_se = VirtualSecureElement::manufacture(&vendor(&clock), clock.clone()).unwrap();
    assert_eq!(
        verify_attestation(
            &statement,
            other_se.device_certificate(),
            &roots,
            &challenge,
            now
        ),
        Err(AttestationError::BadSignature)
    );
    // The vendor root is not a device certificate.
    assert!(matches!(
        verify_attestation(&statement, &f.vendor_root, &roots, &challenge, now),
        Err(AttestationError::UntrustedVendor { .. } | AttestationError::NotADeviceCertificate(_))
    ));

    // A key from another slot: the statement is genuine, the RA asked for the auth key.
    assert_eq!(
        attested.check_binding(SlotUsage::Authentication, &f.sign_public_key),
        Err(AttestationError::WrongSlot {
            expected: SlotUsage::Authentication,
            found: SlotUsage::Signature
        })
    );
    // ATTEST KEY refuses what it cannot attest.
    let session = ap.channel().transport_mut();
    for (command, expected) in [
        (format!("80 A0 00 18 10 {} 00", "00 ".repeat(16)), "6A 86"),
        (format!("80 A0 00 17 0F {} 00", "00 ".repeat(15)), "67 00"),
        (format!("80 A0 00 17 41 {} 00", "00 ".repeat(65)), "67 00"),
    ] {
        assert_eq!(to_hex(&tx(session, &command)), expected, "{command}");
    }
}

/// Several statements of one SE verified together give, one by one, exactly what each
/// gives alone: good ones, a malformed one among them, and all of them under an
/// untrusted root (the device check, made once, fails each statement that parses).
#[test]
fn statements_verified_together_answer_as_each_alone() {
    let f = fixture();
    let clock = clock_at(START + Duration::days(1));
    let mut se = load_se(&clock);
    let mut ap = JpkiAp::select(se.open_session(Interface::Omapi(portal()))).unwrap();
    let challenge = nonce(1);
    let sign = host::attest_key(&mut ap, SlotUsage::Signature, &challenge).unwrap();
    let auth = host::attest_key(&mut ap, SlotUsage::Authentication, &challenge).unwrap();
    let now = clock.now();
    let device = sign.device_certificate().to_vec();
    let statements = vec![
        sign.statement().to_vec(),
        b"not a statement".to_vec(),
        auth.statement().to_vec(),
    ];
    let policy = AttestationPolicy::default();
    let trusted: [&[u8]; 1] = [&f.vendor_root];
    let untrusted: [&[u8]; 1] = [&f.other_vendor_root];
    for roots in [&trusted, &untrusted] {
        let together =
            verify_attestations_with(&policy, &statements, &device, roots, &challenge, now);
        let alone: Vec<_> = statements
            .iter()
            .map(|statement| {
                verify_attestation_with(&policy, statement, &device, roots, &challenge, now)
            })
            .collect();
        assert_eq!(together, alone);
    }
    let together =
        verify_attestations_with(&policy, &statements, &device, &trusted, &challenge, now);
    assert_eq!(
        together[0].as_ref().unwrap().public_key_der(),
        f.sign_public_key.as_slice()
    );
    assert!(matches!(together[1], Err(AttestationError::Malformed(_))));
    assert_eq!(
        together[2].as_ref().unwrap().usage(),
        SlotUsage::Authentication
    );
    let refused =
        verify_attestations_with(&policy, &statements, &device, &untrusted, &challenge, now);
    assert!(matches!(
        refused[0],
        Err(AttestationError::UntrustedVendor { .. })
    ));
    assert!(matches!(
        refused[2],
        Err(AttestationError::UntrustedVendor { .. })
    ));
}

/// The statement's TBS re-signed with `key` (a forgery).
fn resign(statement: &[u8], key: &SoftwareRsaKey) -> Vec<u8> {
    let tbs_len = usize::from(u16::from_be_bytes([statement[6], statement[7]])) + 4;
    let tbs = &statement[4..4 + tbs_len];
    let signature = key.sign(tbs).unwrap();
    let algorithm = hex("30 0D 06 09 2A 86 48 86 F7 0D 01 01 0B 05 00");
    let mut bit_string = vec![0x03, 0x82, 0x01, 0x01, 0x00];
    bit_string.extend_from_slice(&signature);
    let content = [tbs, &algorithm, &bit_string].concat();
    let mut out = vec![0x30, 0x82];
    out.extend_from_slice(&(content.len() as u16).to_be_bytes());
    out.extend_from_slice(&content);
    out
}

#[test]
fn an_expired_device_certificate_is_refused() {
    let f = fixture();
    let clock = clock_at(START);
    let vendor = vendor(&clock)
        .with_device_certificate_validity(Duration::days(30))
        .unwrap();
    let mut se = VirtualSecureElement::manufacture(&vendor, clock.clone()).unwrap();
    se.set_access_rules(AccessRules::jpki_portal_only(portal()));
    let mut ap = JpkiAp::select(se.open_session(Interface::Omapi(portal()))).unwrap();
    let key = ap.generate_key(KeySlot::Auth).unwrap();
    let challenge = nonce(9);
    let fresh = host::attest_key(&mut ap, SlotUsage::Authentication, &challenge).unwrap();
    fresh
        .verify(&[&f.vendor_root], &challenge, clock.now())
        .unwrap()
        .check_binding(SlotUsage::Authentication, &key)
        .unwrap();
    // 31 days later the SE still signs statements, but its certificate has expired.
    clock.advance(Duration::days(31));
    let late = host::attest_key(&mut ap, SlotUsage::Authentication, &challenge).unwrap();
    assert!(matches!(
        late.verify(&[&f.vendor_root], &challenge, clock.now()),
        Err(AttestationError::DeviceCertificateExpired { not_after })
            if not_after == START + Duration::days(30)
    ));
}

#[test]
fn long_answers_come_whole_with_extended_le_or_in_parts_with_get_response() {
    let f = fixture();
    let clock = clock_at(START);
    let mut se = load_se(&clock);
    let mut s = se.open_session(Interface::Omapi(portal()));
    run(&mut s, &[step("select", SELECT_JPKI, "90 00")]);
    let challenge = nonce(3);
    let nonce_hex = to_hex(&challenge);
    // Extended Le: one answer.
    let whole = tx(&mut s, &format!("80 A0 00 17 00 00 20 {nonce_hex} 00 00"));
    assert_eq!(sw(&whole), 0x9000);
    let whole = data(&whole).to_vec();
    assert!(whole.len() > 256);
    let bundle = AttestationBundle::from_der(&whole).unwrap();
    bundle
        .verify(&[&f.vendor_root], &challenge, clock.now())
        .unwrap();
    assert_eq!(bundle.to_der().unwrap(), whole);

    // Short Le: 256 bytes and 61 XX, then GET RESPONSE until 90 00.
    let first = tx(&mut s, &format!("80 A0 00 17 20 {nonce_hex} 00"));
    assert_eq!(data(&first).len(), 256);
    assert_eq!(first[first.len() - 2], 0x61);
    let mut parts = data(&first).to_vec();
    let mut last = first;
    // A client mistake keeps the answer: P1 wrong, then the right GET RESPONSE.
    run(
        &mut s,
        &[step("GET RESPONSE with P1 01", "00 C0 01 00 00", "6A 86")],
    );
    while sw(&last) >> 8 == 0x61 {
        let count = last[last.len() - 1];
        last = tx(&mut s, &format!("00 C0 00 00 {count:02X}"));
        parts.extend_from_slice(data(&last));
    }
    assert_eq!(sw(&last), 0x9000);
    AttestationBundle::from_der(&parts)
        .unwrap()
        .verify(&[&f.vendor_root], &challenge, clock.now())
        .unwrap();
    // No Le at all: nothing but 61 XX. Any other command drops the waiting answer.
    let announced = tx(&mut s, &format!("80 A0 00 1A 20 {nonce_hex}"));
    assert_eq!(announced.len(), 2);
    assert_eq!(announced[0], 0x61);
    run(
        &mut s,
        &[
            step("another command", select_ef("00 06"), "90 00"),
            step("nothing waits now", "00 C0 00 00 00", "69 85"),
            step("GET RESPONSE without Le", "00 C0 00 00", "69 85"),
        ],
    );
}

#[test]
fn statements_and_device_certificates_pass_openssl_and_signatures_verify_with_the_attested_key() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let clock = clock_at(START);
    let mut se = load_se(&clock);
    let mut ap = JpkiAp::select(se.open_session(Interface::Omapi(portal()))).unwrap();
    let challenge = nonce(4);
    let bundle = host::attest_key(&mut ap, SlotUsage::Signature, &challenge).unwrap();
    let attested = bundle
        .verify(&[&f.vendor_root], &challenge, clock.now())
        .unwrap();

    // OpenSSL checks the device certificate against the vendor root.
    std::fs::write(dir.join("root.pem"), pem("CERTIFICATE", &f.vendor_root)).unwrap();
    std::fs::write(
        dir.join("device.pem"),
        pem("CERTIFICATE", bundle.device_certificate()),
    )
    .unwrap();
    let verdict = openssl(
        dir,
        &[
            "verify",
            "-x509_strict",
            "-attime",
            &clock.now().unix_timestamp().to_string(),
            "-CAfile",
            "root.pem",
            "device.pem",
        ],
    );
    assert!(verdict.contains("device.pem: OK"), "{verdict}");
    let text = openssl(dir, &["x509", "-in", "device.pem", "-noout", "-text"]);
    assert!(
        text.contains(&format!("serialNumber = {}", attested.se_serial())),
        "{text}"
    );
    assert!(
        text.contains("CA:FALSE") && text.contains("Digital Signature"),
        "{text}"
    );

    // OpenSSL's DER parser reads the statement's structure.
    std::fs::write(dir.join("statement.der"), bundle.statement()).unwrap();
    let parsed = openssl(
        dir,
        &["asn1parse", "-inform", "DER", "-in", "statement.der"],
    );
    for expected in [
        "INTEGER           :01",
        "OBJECT            :2.25.228021176431277688793511615349129701746.3.1",
        &format!("UTF8STRING        :{}", attested.se_serial()),
        "ENUMERATED        :00",
        "rsaEncryption",
        "GENERALIZEDTIME   :20260401010000Z",
        "sha256WithRSAEncryption",
    ] {
        assert!(
            parsed.contains(expected),
            "{expected} missing from\n{parsed}"
        );
    }
    // ... and verifies the statement's signature with the device key.
    let tbs_len = usize::from(u16::from_be_bytes([
        bundle.statement()[6],
        bundle.statement()[7],
    ])) + 4;
    std::fs::write(dir.join("tbs.der"), &bundle.statement()[4..4 + tbs_len]).unwrap();
    let statement = bundle.statement();
    std::fs::write(
        dir.join("statement.sig"),
        &statement[statement.len() - 256..],
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-in",
            "device.pem",
            "-noout",
            "-pubkey",
            "-out",
            "device.pub",
        ],
    );
    let verdict = openssl(
        dir,
        &[
            "dgst",
            "-sha256",
            "-verify",
            "device.pub",
            "-signature",
            "statement.sig",
            "tbs.der",
        ],
    );
    assert!(verdict.contains("Verified OK"), "{verdict}");

    // COMPUTE DIGITAL SIGNATURE with the attested key; OpenSSL verifies it.
    let message = b"an online application, signed on the phone\n";
    let info = DigestInfo::of(DigestAlgorithm::Sha256, message).to_der();
    let password = Pin::new(PinPolicy::SignPassword, SIGN_PASSWORD).unwrap();
    let signature = ap.sign_with_pin(KeySlot::Sign, &password, &info).unwrap();
    verify_signature(
        SignatureAlgorithm::RsaPkcs1Sha256,
        attested.public_key_der(),
        message,
        &signature,
    )
    .unwrap();
    std::fs::write(dir.join("attested.spki.der"), attested.public_key_der()).unwrap();
    std::fs::write(dir.join("message.txt"), message).unwrap();
    std::fs::write(dir.join("message.sig"), &signature).unwrap();
    let verdict = openssl(
        dir,
        &[
            "dgst",
            "-sha256",
            "-verify",
            "attested.spki.der",
            "-keyform",
            "DER",
            "-signature",
            "message.sig",
            "message.txt",
        ],
    );
    assert!(verdict.contains("Verified OK"), "{verdict}");
}

// ---------------------------------------------------------------------------------------
// Biometric unlock
// ---------------------------------------------------------------------------------------

#[test]
fn biometric_unlock_stands_in_for_the_auth_pin_once_and_never_for_the_signature_key() {
    let f = fixture();
    let clock = clock_at(START);
    let mut se = load_se(&clock);
    let finger = BiometricTemplate::new("right index finger").unwrap();
    let other_finger = BiometricTemplate::new("left thumb").unwrap();
    let auth_pin = Pin::new(PinPolicy::FourDigits, AUTH_PIN).unwrap();

    // Enrolment needs the auth PIN verified in the portal app's session.
    let mut ap = JpkiAp::select(se.open_session(Interface::Omapi(portal()))).unwrap();
    assert_eq!(
        host::enrol_biometric(&mut ap, finger.clone())
            .unwrap_err()
            .status_word(),
        Some(jpki_apdu::StatusWord::SecurityStatusNotSatisfied)
    );
    ap.verify(PinSlot::Auth, &auth_pin).unwrap();
    let mut sensor = host::enrol_biometric(&mut ap, finger.clone()).unwrap();
    assert_eq!(
        ap.channel().transport_mut().element().biometric_bindings(),
        vec![sensor.binding_id()]
    );

    // A new selection: nothing verified. The matching finger unlocks the auth key.
    let mut ap = JpkiAp::select(ap.into_transport()).unwrap();
    assert!(ap.read_certificate(CertificateSlot::Auth).is_err());
    assert!(matches!(
        host::unlock_with_biometric(&mut ap, &mut sensor, &other_finger, clock.now()),
        Err(SeError::NoBiometricMatch)
    ));
    assert_eq!(sensor.counter(), 0, "a wrong finger makes no assertion");
    host::unlock_with_biometric(&mut ap, &mut sensor, &finger, clock.now()).unwrap();
    assert_eq!(
        ap.read_certificate(CertificateSlot::Auth).unwrap(),
        f.auth_certificate
    );
    let info = DigestInfo::of(DigestAlgorithm::Sha256, b"biometric login").to_der();
    let signature = ap.sign_digest_info(KeySlot::Auth, &info).unwrap();
    verify_signature(
        SignatureAlgorithm::RsaPkcs1Sha256,
        &f.auth_public_key,
        b"biometric login",
        &signature,
    )
    .unwrap();
    // Never the signature key, nor its certificate; and no enrolment on a biometric
    // unlock.
    assert_eq!(
        ap.sign_digest_info(KeySlot::Sign, &info)
            .unwrap_err()
            .status_word(),
        Some(jpki_apdu::StatusWord::SecurityStatusNotSatisfied)
    );
    assert!(ap.read_certificate(CertificateSlot::Sign).is_err());
    assert_eq!(
        host::enrol_biometric(&mut ap, finger.clone())
            .unwrap_err()
            .status_word(),
        Some(jpki_apdu::StatusWord::SecurityStatusNotSatisfied)
    );

    // Replays are refused (6A 80), late assertions too (69 85), forged ones (63 00).
    let challenge = host::get_challenge(&mut ap).unwrap();
    let assertion = sensor.present(&finger, &challenge, clock.now()).unwrap();
    host::unlock_with_assertion(&mut ap, &assertion).unwrap();
    let _ = host::get_challenge(&mut ap).unwrap();
    assert_eq!(unlock_sw(&mut ap, &assertion), 0x6A80, "replayed");
    let challenge = host::get_challenge(&mut ap).unwrap();
    let late = sensor.present(&finger, &challenge, clock.now()).unwrap();
    clock.advance(Duration::seconds(31));
    assert_eq!(unlock_sw(&mut ap, &late), 0x6985, "expired");
    let challenge = host::get_challenge(&mut ap).unwrap();
    let fresh = sensor.present(&finger, &challenge, clock.now()).unwrap();
    let mut forged = fresh.as_bytes().to_vec();
    forged[80] ^= 0x01;
    assert!(
        UnlockAssertion::parse(&forged).is_some(),
        "well-formed, wrong MAC"
    );
    assert_eq!(unlock_raw_sw(&mut ap, &forged), 0x6300, "bad MAC");
    assert_eq!(
        unlock_sw(&mut ap, &fresh),
        0x6300,
        "the challenge went with the failed try"
    );
    let _outstanding = host::get_challenge(&mut ap).unwrap();
    let for_another = sensor.present(&finger, &[0xAA; 16], clock.now()).unwrap();
    assert_eq!(
        unlock_sw(&mut ap, &for_another),
        0x6300,
        "another challenge"
    );
    assert_eq!(unlock_raw_sw(&mut ap, &[0x01; 80]), 0x6700, "malformed");

    // Enrolled on one SE, useless on another.
    let mut other_se = load_se(&clock);
    let mut other = JpkiAp::select(other_se.open_session(Interface::Omapi(portal()))).unwrap();
    let challenge = host::get_challenge(&mut other).unwrap();
    let assertion = sensor.present(&finger, &challenge, clock.now()).unwrap();
    assert_eq!(
        unlock_sw(&mut other, &assertion),
        0x6A88,
        "nothing enrolled there"
    );

    // A blocked auth PIN cannot be bypassed with a biometric.
    let mut ap = JpkiAp::select(ap.into_transport()).unwrap();
    for _ in 0..3 {
        let _ = ap.verify(
            PinSlot::Auth,
            &Pin::new(PinPolicy::FourDigits, "0000").unwrap(),
        );
    }
    let challenge = host::get_challenge(&mut ap).unwrap();
    let assertion = sensor.present(&finger, &challenge, clock.now()).unwrap();
    assert_eq!(unlock_sw(&mut ap, &assertion), 0x6983, "blocked");

    // The contactless interface has no biometric unlock.
    let session = ap.into_transport();
    drop(session);
    let mut s = se.open_session(Interface::Contactless);
    run(
        &mut s,
        &[
            step("select", SELECT_JPKI, "90 00"),
            step("no GET CHALLENGE", "00 84 00 00 10", "6D 00"),
        ],
    );
    let response = s.transmit(&[&hex("80 82 00 00 51")[..], assertion.as_bytes()].concat());
    assert_eq!(response, [0x6D, 0x00]);
}

fn unlock_sw<T: Transport>(ap: &mut JpkiAp<T>, assertion: &UnlockAssertion) -> u16 {
    match host::unlock_with_assertion(ap, assertion) {
        Ok(()) => 0x9000,
        Err(error) => error.status_word().unwrap().to_u16(),
    }
}

fn unlock_raw_sw<T: Transport>(ap: &mut JpkiAp<T>, assertion: &[u8]) -> u16 {
    let mut command = hex("80 82 00 00");
    command.push(assertion.len() as u8);
    command.extend_from_slice(assertion);
    let response = ap.channel().transport_mut().transmit(&command).unwrap();
    sw(&response)
}

#[test]
fn biometric_counters_survive_a_restart_and_bindings_can_be_removed() {
    let clock = clock_at(START);
    let mut se = load_se(&clock);
    let finger = BiometricTemplate::new("face").unwrap();
    let mut ap = JpkiAp::select(se.open_session(Interface::Omapi(portal()))).unwrap();
    ap.verify(
        PinSlot::Auth,
        &Pin::new(PinPolicy::FourDigits, AUTH_PIN).unwrap(),
    )
    .unwrap();
    let mut sensor = host::enrol_biometric(&mut ap, finger.clone()).unwrap();
    let challenge = host::get_challenge(&mut ap).unwrap();
    let used = sensor.present(&finger, &challenge, clock.now()).unwrap();
    host::unlock_with_assertion(&mut ap, &used).unwrap();
    drop(ap);

    // The SE and the sensor restart from their files.
    let bytes = se.to_file_bytes(&kek()).unwrap();
    let sensor_bytes = sensor.to_file_bytes(&kek()).unwrap();
    let mut se = VirtualSecureElement::from_file_bytes(&bytes, &kek(), clock.clone()).unwrap();
    let mut sensor = jpki_se::SimulatedSensor::from_file_bytes(&sensor_bytes, &kek()).unwrap();
    let mut ap = JpkiAp::select(se.open_session(Interface::Omapi(portal()))).unwrap();
    let _ = host::get_challenge(&mut ap).unwrap();
    assert_eq!(
        unlock_sw(&mut ap, &used),
        0x6A80,
        "still a replay after the restart"
    );
    host::unlock_with_biometric(&mut ap, &mut sensor, &finger, clock.now()).unwrap();

    // Unenrol one binding (unknown ids are 6A 88), then all.
    let mut ap = JpkiAp::select(ap.into_transport()).unwrap();
    ap.verify(
        PinSlot::Auth,
        &Pin::new(PinPolicy::FourDigits, AUTH_PIN).unwrap(),
    )
    .unwrap();
    let second = host::enrol_biometric(&mut ap, BiometricTemplate::new("thumb").unwrap()).unwrap();
    assert_eq!(
        ap.channel()
            .transport_mut()
            .element()
            .biometric_bindings()
            .len(),
        2
    );
    host::remove_biometric_bindings(&mut ap, Some(second.binding_id())).unwrap();
    assert_eq!(
        host::remove_biometric_bindings(&mut ap, Some(second.binding_id()))
            .unwrap_err()
            .status_word(),
        Some(jpki_apdu::StatusWord::ReferencedDataNotFound)
    );
    host::remove_biometric_bindings(&mut ap, None).unwrap();
    assert!(
        ap.channel()
            .transport_mut()
            .element()
            .biometric_bindings()
            .is_empty()
    );
    assert!(matches!(
        host::unlock_with_biometric(&mut ap, &mut sensor, &finger, clock.now()),
        Err(SeError::Refused {
            sw: jpki_apdu::StatusWord::ReferencedDataNotFound,
            ..
        })
    ));
}

// ---------------------------------------------------------------------------------------
// Re-keying and wipe
// ---------------------------------------------------------------------------------------

#[test]
fn rekeying_the_signature_slot_erases_its_certificate_only() {
    let f = fixture();
    let clock = clock_at(START);
    let mut se = load_se(&clock);
    let mut ap = JpkiAp::select(se.open_session(Interface::Omapi(portal()))).unwrap();
    // Lifting a suspension: a new signature key, the old certificate goes.
    let new_key = ap.generate_key(KeySlot::Sign).unwrap();
    assert_ne!(new_key, f.sign_public_key);
    let password = Pin::new(PinPolicy::SignPassword, SIGN_PASSWORD).unwrap();
    ap.verify(PinSlot::Sign, &password).unwrap();
    assert!(matches!(
        ap.read_certificate(CertificateSlot::Sign),
        Err(ReaderError::EmptyFile { .. })
    ));
    assert_eq!(
        ap.read_certificate(CertificateSlot::SignCa).unwrap(),
        f.sign_ca_certificate
    );
    ap.verify(
        PinSlot::Auth,
        &Pin::new(PinPolicy::FourDigits, AUTH_PIN).unwrap(),
    )
    .unwrap();
    assert_eq!(
        ap.read_certificate(CertificateSlot::Auth).unwrap(),
        f.auth_certificate,
        "the auth certificate stays"
    );
    let challenge = nonce(5);
    let attested = host::attest_key(&mut ap, SlotUsage::Signature, &challenge)
        .unwrap()
        .verify(&[&f.vendor_root], &challenge, clock.now())
        .unwrap();
    attested
        .check_binding(SlotUsage::Signature, &new_key)
        .unwrap();
    assert_eq!(
        attested.check_binding(SlotUsage::Signature, &f.sign_public_key),
        Err(AttestationError::KeyMismatch)
    );
}

#[test]
fn wipe_erases_keys_certificates_pins_and_bindings_but_keeps_the_token_and_identity() {
    let f = fixture();
    let clock = clock_at(START);
    let mut se = load_se(&clock);
    let serial = se.serial().clone();
    let finger = BiometricTemplate::new("right index finger").unwrap();
    let mut ap = JpkiAp::select(se.open_session(Interface::Omapi(portal()))).unwrap();
    ap.verify(
        PinSlot::Auth,
        &Pin::new(PinPolicy::FourDigits, AUTH_PIN).unwrap(),
    )
    .unwrap();
    let mut sensor = host::enrol_biometric(&mut ap, finger.clone()).unwrap();
    let channel = ap.channel().transport_mut();
    assert_eq!(
        to_hex(&tx(channel, &WIPE.replace("D3 92", "D3 93"))),
        "6A 80"
    );
    host::wipe(&mut ap).unwrap();
    drop(ap);
    assert!(se.biometric_bindings().is_empty());
    assert_eq!(se.public_key(SlotUsage::Authentication), None);
    assert_eq!(se.serial(), &serial, "the device identity stays");

    let info = DigestInfo::of(DigestAlgorithm::Sha256, b"after the wipe").to_der();
    for interface in [Interface::Contactless, Interface::Omapi(portal())] {
        let mut s = se.open_session(interface);
        run(
            &mut s,
            &[
                step("SELECT still works", SELECT_JPKI, "90 00"),
                step("token", select_ef("00 06"), "90 00"),
                step(
                    "the token stays",
                    "00 B0 00 00 20",
                    format!("{} 90 00", token_hex("JPKIAPGPSETOKEN")),
                ),
                step("CA certificates", select_ef("00 0B"), "90 00"),
                step("read empty", "00 B0 00 00 04", "90 00"),
                step("past the end", "00 B0 00 01 04", "6B 00"),
                step("sign CA", select_ef("00 02"), "90 00"),
                step("read empty", "00 B0 00 00 00", "90 00"),
                step("auth certificate", select_ef("00 0A"), "90 00"),
                step("its PIN cannot be verified", "00 B0 00 00 04", "69 82"),
                step("signature certificate", select_ef("00 01"), "90 00"),
                step("same", "00 B0 00 00 04", "69 82"),
                step("auth PIN", select_ef("00 18"), "90 00"),
                step("counter as new", "00 20 00 80", "63 C3"),
                step("no reference data", verify_cmd(AUTH_PIN), "69 84"),
                step("sign password", select_ef("00 1B"), "90 00"),
                step("counter as new", "00 20 00 80", "63 C5"),
                step("no reference data", verify_cmd(SIGN_PASSWORD), "69 84"),
                step("auth key", select_ef("00 17"), "90 00"),
                step("no key", sign_cmd(&info), "6A 88"),
                step("sign key", select_ef("00 1A"), "90 00"),
                step("no key", sign_cmd(&info), "6A 88"),
            ],
        );
    }
    let mut ap = JpkiAp::select(se.open_session(Interface::Omapi(portal()))).unwrap();
    run(
        ap.channel().transport_mut(),
        &[step(
            "nothing to attest",
            format!("80 A0 00 17 10 {} 00", "00 ".repeat(16)),
            "6A 88",
        )],
    );
    assert!(matches!(
        host::unlock_with_biometric(&mut ap, &mut sensor, &finger, clock.now()),
        Err(SeError::Refused {
            sw: jpki_apdu::StatusWord::ReferencedDataNotFound,
            ..
        })
    ));
    assert!(matches!(
        ap.read_certificate(CertificateSlot::AuthCa),
        Err(ReaderError::EmptyFile { .. })
    ));
    // The phone can be personalized again, and its attestation still verifies.
    let key = ap.generate_key(KeySlot::Auth).unwrap();
    let challenge = nonce(6);
    host::attest_key(&mut ap, SlotUsage::Authentication, &challenge)
        .unwrap()
        .verify(&[&f.vendor_root], &challenge, clock.now())
        .unwrap()
        .check_binding(SlotUsage::Authentication, &key)
        .unwrap();
}

// ---------------------------------------------------------------------------------------
// SE files
// ---------------------------------------------------------------------------------------

#[test]
fn se_files_round_trip_keep_counters_and_refuse_tampering() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("phone.se");
    let clock = clock_at(START);
    let mut se = load_se(&clock);
    assert!(!se.is_dirty());
    // A wrong VERIFY changes a counter: the SE is dirty, and the file keeps it.
    let mut s = se.open_session(Interface::Contactless);
    run(
        &mut s,
        &[
            step("select", SELECT_JPKI, "90 00"),
            step("sign password", select_ef("00 1B"), "90 00"),
            step("wrong", verify_cmd("WRONGPW1"), "63 C4"),
        ],
    );
    drop(s);
    assert!(se.is_dirty());
    assert!(file::save_if_dirty(&path, &mut se, &kek()).unwrap());
    assert!(!se.is_dirty());
    assert!(!file::save_if_dirty(&path, &mut se, &kek()).unwrap());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let bytes = std::fs::read(&path).unwrap();
    let text = String::from_utf8(bytes.clone()).unwrap();
    // No secret in the clear: PINs (as text or base64), the template, private keys.
    use base64::Engine;
    let quoted_base64 = |text: &str| {
        format!(
            "\"{}\"",
            base64::engine::general_purpose::STANDARD.encode(text)
        )
    };
    for secret in [
        format!("\"{AUTH_PIN}\""),
        quoted_base64(AUTH_PIN),
        SIGN_PASSWORD.to_owned(),
        quoted_base64(SIGN_PASSWORD),
        "PRIVATE".to_owned(),
    ] {
        assert!(!text.contains(&secret), "{secret} in the file");
    }
    assert!(text.contains("\"tries_left\": 4"));

    let mut again = file::load(&path, &kek(), clock.clone()).unwrap();
    assert_eq!(again.serial(), se.serial());
    assert_eq!(again.access_rules(), se.access_rules());
    let mut s = again.open_session(Interface::Contactless);
    run(
        &mut s,
        &[
            step("select", SELECT_JPKI, "90 00"),
            step("sign password", select_ef("00 1B"), "90 00"),
            step("the counter survived", "00 20 00 80", "63 C4"),
            step("VERIFY", verify_cmd(SIGN_PASSWORD), "90 00"),
        ],
    );
    drop(s);

    // Tampering, wrong KEK, foreign and broken files: typed errors.
    let edit = |from: &str, to: &str| text.replacen(from, to, 1).into_bytes();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (edit("\"tries_left\": 4", "\"tries_left\": 5"), "unseal"),
        (
            edit(
                "\"unlock_window_ms\": 30000",
                "\"unlock_window_ms\": 300000",
            ),
            "unseal",
        ),
        (
            edit("\"grant\": \"personalization\"", "\"grant\": \"holder\""),
            "unseal",
        ),
        (
            {
                let mut document: serde_json::Value = serde_json::from_str(&text).unwrap();
                let sealed = document["sealed"].as_str().unwrap().to_owned();
                let mut raw = base64::engine::general_purpose::STANDARD
                    .decode(sealed)
                    .unwrap();
                raw[20] ^= 1;
                document["sealed"] = base64::engine::general_purpose::STANDARD.encode(raw).into();
                serde_json::to_vec(&document).unwrap()
            },
            "unseal",
        ),
        (edit("\"version\": 1", "\"version\": 2"), "version"),
        (
            edit("jpki-virtual-secure-element", "jpki-virtual-card"),
            "format",
        ),
        (fixture().card_file.clone(), "format"),
        (bytes[..bytes.len() / 2].to_vec(), "syntax"),
        (edit("\"se_serial\"", "\"serial\""), "malformed"),
    ];
    for (case, expected) in cases {
        let error = VirtualSecureElement::from_file_bytes(&case, &kek(), clock.clone())
            .expect_err(expected);
        let matched = match expected {
            "unseal" => matches!(error, SeError::Unseal),
            "version" => matches!(
                error,
                SeError::UnsupportedVersion {
                    found: 2,
                    supported: 1
                }
            ),
            "format" => matches!(error, SeError::UnknownFormat { .. }),
            "syntax" => matches!(error, SeError::Syntax(_)),
            _ => matches!(error, SeError::Malformed(_)),
        };
        assert!(matched, "{expected}: {error}");
        assert!(!error.to_string().contains(AUTH_PIN));
    }
    assert!(matches!(
        VirtualSecureElement::from_file_bytes(
            &bytes,
            &Kek::from_bytes(&[1; 32]).unwrap(),
            clock.clone()
        ),
        Err(SeError::Unseal)
    ));
    assert!(matches!(
        file::load(&dir.path().join("absent.se"), &kek(), clock),
        Err(SeError::Io { action: "read", .. })
    ));
}

// ---------------------------------------------------------------------------------------
// Robustness and secrets
// ---------------------------------------------------------------------------------------

#[test]
fn every_interface_survives_random_commands() {
    let clock = clock_at(START);
    let mut se = load_se(&clock);
    let mut rng = Rng(0x5EC0_0E1E);
    for interface in [
        Interface::Contactless,
        Interface::Omapi(foreign_app()),
        Interface::Omapi(portal()),
    ] {
        let mut s = se.open_session(interface);
        for round in 0..3000 {
            let command = if round % 50 == 0 {
                hex(SELECT_JPKI)
            } else if rng.below(3) == 0 {
                // The SE's own commands with random bodies.
                let (cla, ins) = *rng.pick(&[
                    (0x00, 0x84),
                    (0x80, 0x82),
                    (0x80, 0xA0),
                    (0x80, 0xE2),
                    (0x80, 0xE6),
                    (0x00, 0xC0),
                ]);
                let mut command = vec![cla, ins, rng.byte() & 0x01, *rng.pick(&[0x00, 0x17, 0x1A])];
                let len = rng.below(90) as usize;
                if len > 0 {
                    command.push(len as u8);
                    command.extend(rng.bytes(len));
                }
                if rng.below(2) == 0 {
                    command.push(rng.byte());
                }
                command
            } else {
                client_command(&mut rng)
            };
            let response = s.transmit(&command);
            assert!(response.len() >= 2, "{}", to_hex(&command));
        }
    }
}

#[test]
fn debug_output_holds_no_secrets() {
    let clock = clock_at(START);
    let mut se = load_se(&clock);
    let finger = BiometricTemplate::new("right index finger").unwrap();
    let mut ap = JpkiAp::select(se.open_session(Interface::Omapi(portal()))).unwrap();
    ap.verify(
        PinSlot::Auth,
        &Pin::new(PinPolicy::FourDigits, AUTH_PIN).unwrap(),
    )
    .unwrap();
    let mut sensor = host::enrol_biometric(&mut ap, finger.clone()).unwrap();
    let challenge = host::get_challenge(&mut ap).unwrap();
    let assertion = sensor.present(&finger, &challenge, clock.now()).unwrap();
    let session = ap.into_transport();
    let printed = format!(
        "{session:?} {:?} {sensor:?} {finger:?} {assertion:?} {:?}",
        session.element(),
        vendor(&clock)
    );
    for secret in ["right index", "PRIVATE", "pkcs8"] {
        assert!(!printed.contains(secret), "{secret} in {printed}");
    }
    assert!(printed.contains("[redacted]"));
    assert!(printed.contains(&sensor.binding_id().to_string()));
    let profile = JpkiApProfile::phone_secure_element();
    assert_eq!(session.element().token(), profile.token());
}
