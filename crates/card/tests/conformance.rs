//! APDU conformance of the virtual card: command bytes → response bytes, as real JPKI
//! clients (OpenSC `card-jpki.c`, jpki/myna, jpki-rs) send and expect them
//! (JPKI-FACTS §1.4, §1.5; docs/apdu.md). Also personalization, card files, and a check
//! of the signatures with the OpenSSL command-line tool.
//!
//! Keep every card test in this one binary.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command as Process;
use std::sync::OnceLock;

use jpki_card::{CardFileError, JpkiAp, JpkiApProfile, LifeCycle, Privilege, VirtualCard, file};
use jpki_crypto::{DigestAlgorithm, DigestInfo, Kek, SignatureAlgorithm, verify_signature};

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

fn ascii_hex(text: &str) -> String {
    to_hex(text.as_bytes())
}

const SELECT_JPKI: &str = "00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01";
const SELECT_SUPPORT: &str = "00 A4 04 0C 0A D3 92 10 00 31 00 01 01 04 08";
const SELECT_SURFACE: &str = "00 A4 04 0C 0A D3 92 10 00 31 00 01 01 04 02";

fn select_ef(fid: &str) -> String {
    format!("00 A4 02 0C 02 {fid}")
}

fn verify_cmd(pin: &str) -> String {
    format!("00 20 00 80 {:02X} {}", pin.len(), ascii_hex(pin))
}

fn change_cmd(pin: &str) -> String {
    format!("00 24 01 80 {:02X} {}", pin.len(), ascii_hex(pin))
}

fn sign_cmd(digest_info: &[u8]) -> String {
    sign_cmd_le(digest_info, 0x00)
}

fn sign_cmd_le(digest_info: &[u8], le: u8) -> String {
    format!(
        "80 2A 00 80 {:02X} {} {le:02X}",
        digest_info.len(),
        to_hex(digest_info)
    )
}

/// Sends one command and returns the whole response APDU.
fn tx(card: &mut VirtualCard, command: &str) -> Vec<u8> {
    card.transmit(&hex(command))
}

fn sw(response: &[u8]) -> u16 {
    let n = response.len();
    assert!(n >= 2, "response shorter than a status word");
    u16::from_be_bytes([response[n - 2], response[n - 1]])
}

fn data(response: &[u8]) -> &[u8] {
    &response[..response.len() - 2]
}

/// A step of a conformance script: what it checks, the command, the exact response.
type Step = (&'static str, String, String);

fn step(what: &'static str, command: impl Into<String>, response: impl Into<String>) -> Step {
    (what, command.into(), response.into())
}

fn run(card: &mut VirtualCard, steps: &[Step]) {
    for (what, command, expected) in steps {
        let response = tx(card, command);
        assert_eq!(
            to_hex(&response),
            to_hex(&hex(expected)),
            "{what}: {command}"
        );
    }
}

/// A DER-shaped blob `30 82 LL LL` + body of `len - 4` patterned bytes.
fn der_blob(len: usize, seed: u8) -> Vec<u8> {
    let body = len - 4;
    let mut out = vec![0x30, 0x82, (body >> 8) as u8, body as u8];
    out.extend((0..body).map(|i| (i as u8).wrapping_mul(7).wrapping_add(seed)));
    out
}

fn tlv(tag: &[u8], value: &[u8]) -> Vec<u8> {
    let mut out = tag.to_vec();
    if value.len() < 0x80 {
        out.push(value.len() as u8);
    } else if value.len() < 0x100 {
        out.extend([0x81, value.len() as u8]);
    } else {
        out.extend([0x82, (value.len() >> 8) as u8, value.len() as u8]);
    }
    out.extend_from_slice(value);
    out
}

/// Writes `content` to the current EF with short UPDATE BINARY commands of 255 bytes.
fn write_current_ef(card: &mut VirtualCard, content: &[u8]) {
    for (index, chunk) in content.chunks(255).enumerate() {
        let offset = index * 255;
        let command = format!(
            "00 D6 {:02X} {:02X} {:02X} {}",
            offset >> 8,
            offset & 0xFF,
            chunk.len(),
            to_hex(chunk)
        );
        assert_eq!(sw(&tx(card, &command)), 0x9000, "UPDATE BINARY at {offset}");
    }
}

/// Reads the current EF as OpenSC does: a 4-byte header read, then chunks of 256 bytes
/// (Le = 00) until the size from the header.
fn read_like_opensc(card: &mut VirtualCard) -> Vec<u8> {
    let head = tx(card, "00 B0 00 00 04");
    assert_eq!(sw(&head), 0x9000);
    let head = data(&head).to_vec();
    let size = ((usize::from(head[2]) << 8) | usize::from(head[3])) + 4;
    let mut out = Vec::new();
    while out.len() < size {
        let offset = out.len();
        let response = tx(
            card,
            &format!("00 B0 {:02X} {:02X} 00", offset >> 8, offset & 0xFF),
        );
        assert_eq!(sw(&response), 0x9000);
        assert!(!data(&response).is_empty());
        assert!(data(&response).len() <= 256);
        out.extend_from_slice(data(&response));
    }
    out.truncate(size);
    out
}

const AUTH_PIN: &str = "1234";
const SIGN_PASSWORD: &str = "SIGNPW2026";
const SUPPORT_PIN: &str = "5678";
/// The base64 of the auth PIN "1234" as it would appear if stored in the clear.
const AUTH_PIN_FILE_MARKER: &str = "\"MTIzNA==\"";
const MY_NUMBER: &str = "123456789018";

fn kek() -> Kek {
    Kek::from_bytes(&[0x42; 32]).unwrap()
}

/// A card personalized once for the whole binary (two RSA key generations), kept as a
/// card file; every test opens its own copy.
struct Fixture {
    file: Vec<u8>,
    auth_public_key: Vec<u8>,
    sign_public_key: Vec<u8>,
    auth_certificate: Vec<u8>,
    auth_ca_certificate: Vec<u8>,
    sign_certificate: Vec<u8>,
    sign_ca_certificate: Vec<u8>,
    my_number_ef: Vec<u8>,
    attributes_ef: Vec<u8>,
    openssl_dir: tempfile::TempDir,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(personalize)
}

fn card() -> VirtualCard {
    VirtualCard::from_file_bytes(&fixture().file, &kek()).unwrap()
}

fn openssl(dir: &Path, args: &[&str]) -> String {
    let output = Process::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl command-line tool is installed");
    assert!(
        output.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Personalizes a blank card with raw APDUs, the way an issuer terminal does.
fn personalize() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    // A real self-signed certificate (made by OpenSSL) for the auth CA EF.
    openssl(
        dir.path(),
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.der",
            "-outform",
            "DER",
            "-subj",
            "/C=JP/O=JPKI/OU=jpki test CA",
            "-days",
            "1",
        ],
    );
    let auth_ca_certificate = std::fs::read(dir.path().join("ca.der")).unwrap();
    let auth_certificate = der_blob(1337, 1);
    let sign_certificate = der_blob(1801, 2);
    let sign_ca_certificate = der_blob(1100, 3);

    let my_number_ef = tlv(&[0xFF, 0x10], MY_NUMBER.as_bytes());
    let attributes = [
        tlv(&[0xDF, 0x22], "公的 太郎".as_bytes()),
        tlv(&[0xDF, 0x23], "東京都千代田区霞が関2-1-2".as_bytes()),
        tlv(&[0xDF, 0x24], b"19900102"),
        tlv(&[0xDF, 0x25], b"1"),
    ]
    .concat();
    let attributes_ef = tlv(
        &[0xFF, 0x20],
        &[tlv(&[0xDF, 0x21], &[0; 8]), attributes].concat(),
    );

    let mut card = VirtualCard::blank(jpki_card::CardId::parse("0123456789ABCDEF").unwrap());
    assert_eq!(card.life_cycle(), LifeCycle::Personalization);
    assert!(card.is_dirty(), "a new card has never been saved");
    run(&mut card, &[step("select JPKI AP", SELECT_JPKI, "90 00")]);

    // Keys: GENERATE ASYMMETRIC KEY PAIR with extended Le.
    let mut public_keys = Vec::new();
    for key in ["00 17", "00 1A"] {
        run(&mut card, &[step("select key EF", select_ef(key), "90 00")]);
        let response = tx(&mut card, "00 46 00 00 00 00 00");
        assert_eq!(sw(&response), 0x9000, "GENERATE for {key}");
        let spki = data(&response).to_vec();
        assert_eq!(spki.len(), 294, "RSA-2048 SubjectPublicKeyInfo");
        assert_eq!(&spki[..4], &[0x30, 0x82, 0x01, 0x22]);
        public_keys.push(spki);
    }
    // Initial PINs: CHANGE REFERENCE DATA without a prior VERIFY.
    run(
        &mut card,
        &[
            step("select auth PIN", select_ef("00 18"), "90 00"),
            step("set auth PIN", change_cmd(AUTH_PIN), "90 00"),
            step("select sign password", select_ef("00 1B"), "90 00"),
            step("lower case is refused", change_cmd("signpw2026"), "6A 80"),
            step("set sign password", change_cmd(SIGN_PASSWORD), "90 00"),
        ],
    );
    // Certificates: short UPDATE BINARY in 255-byte chunks...
    for (fid, content) in [
        ("00 0A", &auth_certificate),
        ("00 0B", &auth_ca_certificate),
        ("00 01", &sign_certificate),
    ] {
        run(
            &mut card,
            &[step("select cert EF", select_ef(fid), "90 00")],
        );
        write_current_ef(&mut card, content);
    }
    // ...and one extended UPDATE BINARY of 1100 bytes.
    run(
        &mut card,
        &[step("select sign CA", select_ef("00 02"), "90 00")],
    );
    let mut extended = hex("00 D6 00 00 00");
    extended.extend_from_slice(&(sign_ca_certificate.len() as u16).to_be_bytes());
    extended.extend_from_slice(&sign_ca_certificate);
    assert_eq!(sw(&card.transmit(&extended)), 0x9000);

    // The issuance CSR is signed with the normal VERIFY + COMPUTE DIGITAL SIGNATURE path.
    let info = DigestInfo::of(DigestAlgorithm::Sha256, b"certification request info").to_der();
    run(
        &mut card,
        &[
            step("select sign password", select_ef("00 1B"), "90 00"),
            step("verify", verify_cmd(SIGN_PASSWORD), "90 00"),
            step("select sign key", select_ef("00 1A"), "90 00"),
        ],
    );
    let response = tx(&mut card, &sign_cmd(&info));
    assert_eq!(sw(&response), 0x9000);
    verify_signature(
        SignatureAlgorithm::RsaPkcs1Sha256,
        &public_keys[1],
        b"certification request info",
        data(&response),
    )
    .unwrap();

    // Not yet: the 券面事項入力補助AP has no PIN.
    run(
        &mut card,
        &[step("activate too early", "00 44 00 00", "6A 88")],
    );
    assert_eq!(
        card.missing_for_activation(),
        vec!["support: PIN 0011 not set".to_owned()]
    );

    // 券面事項入力補助AP: PIN, My Number, attributes.
    run(
        &mut card,
        &[
            step("select support AP", SELECT_SUPPORT, "90 00"),
            step("select PIN", select_ef("00 11"), "90 00"),
            step("set PIN", change_cmd(SUPPORT_PIN), "90 00"),
            step("select My Number EF", select_ef("00 01"), "90 00"),
        ],
    );
    write_current_ef(&mut card, &my_number_ef);
    run(
        &mut card,
        &[step("select attributes EF", select_ef("00 02"), "90 00")],
    );
    write_current_ef(&mut card, &attributes_ef);

    // ACTIVATE FILE ends personalization.
    run(
        &mut card,
        &[
            step("select JPKI AP", SELECT_JPKI, "90 00"),
            step("activate", "00 44 00 00", "90 00"),
        ],
    );
    assert_eq!(card.life_cycle(), LifeCycle::Operational);
    let file = card.to_file_bytes(&kek()).unwrap();
    let sign_public_key = public_keys.pop().unwrap();
    let auth_public_key = public_keys.pop().unwrap();
    Fixture {
        file,
        auth_public_key,
        sign_public_key,
        auth_certificate,
        auth_ca_certificate,
        sign_certificate,
        sign_ca_certificate,
        my_number_ef,
        attributes_ef,
        openssl_dir: dir,
    }
}

// ---------------------------------------------------------------------------------------
// JPKI AP: selection, token, certificates
// ---------------------------------------------------------------------------------------

#[test]
fn token_and_certificate_reads_match_what_clients_expect() {
    let f = fixture();
    let mut card = card();
    assert_eq!(card.atr(), hex("3B E0 00 FF 81 31 FE 45 14").as_slice());
    let token = format!("{} {}", ascii_hex("JPKIAPICCTOKEN2"), "20 ".repeat(17));
    run(
        &mut card,
        &[
            step("SELECT AP, P2=0C", SELECT_JPKI, "90 00"),
            step(
                "SELECT AP, P2=00 with Le",
                "00 A4 04 00 0A D3 92 F0 00 26 01 00 00 00 01 00",
                "90 00",
            ),
            step("SELECT token EF", select_ef("00 06"), "90 00"),
            step("token, Le=20", "00 B0 00 00 20", format!("{token} 90 00")),
            step("token, Le=00", "00 B0 00 00 00", format!("{token} 90 00")),
            step("at the end: empty", "00 B0 00 20 01", "90 00"),
            step("beyond the end", "00 B0 00 21 01", "6B 00"),
            step("SELECT sign cert", select_ef("00 01"), "90 00"),
            step("sign cert before VERIFY", "00 B0 00 00 04", "69 82"),
            step("SELECT auth cert", select_ef("00 0A"), "90 00"),
            step(
                "auth cert header (free on a card)",
                "00 B0 00 00 04",
                format!("{} 90 00", to_hex(&f.auth_certificate[..4])),
            ),
            step("SELECT sign password", select_ef("00 1B"), "90 00"),
            step("VERIFY", verify_cmd(SIGN_PASSWORD), "90 00"),
            step("SELECT sign cert", select_ef("00 01"), "90 00"),
            step(
                "sign cert after VERIFY, myna's 7-byte header",
                "00 B0 00 00 07",
                format!("{} 90 00", to_hex(&f.sign_certificate[..7])),
            ),
            step("unknown EF", select_ef("00 99"), "6A 82"),
            step(
                "after a failed SELECT the sign cert stays selected",
                "00 B0 00 00 02",
                format!("{} 90 00", to_hex(&f.sign_certificate[..2])),
            ),
        ],
    );
    // Every certificate reads back, OpenSC style, exactly as written.
    for (fid, expected) in [
        ("00 0A", &f.auth_certificate),
        ("00 0B", &f.auth_ca_certificate),
        ("00 01", &f.sign_certificate),
        ("00 02", &f.sign_ca_certificate),
    ] {
        run(&mut card, &[step("select", select_ef(fid), "90 00")]);
        assert_eq!(&read_like_opensc(&mut card), expected, "EF {fid}");
    }
    // One extended READ BINARY returns a whole certificate.
    run(&mut card, &[step("select", select_ef("00 02"), "90 00")]);
    let response = tx(&mut card, "00 B0 00 00 00 00 00");
    assert_eq!(sw(&response), 0x9000);
    assert_eq!(data(&response), f.sign_ca_certificate.as_slice());
}

#[test]
fn ca_certificate_made_by_openssl_reads_back_in_256_byte_chunks() {
    let f = fixture();
    let mut card = card();
    run(
        &mut card,
        &[
            step("select AP", SELECT_JPKI, "90 00"),
            step("select auth CA", select_ef("00 0B"), "90 00"),
        ],
    );
    let mut chunks = Vec::new();
    let mut offset = 0usize;
    loop {
        let response = tx(
            &mut card,
            &format!("00 B0 {:02X} {:02X} 00", offset >> 8, offset & 0xFF),
        );
        assert_eq!(sw(&response), 0x9000);
        let chunk = data(&response);
        if chunk.is_empty() {
            break;
        }
        assert!(chunk.len() <= 256);
        offset += chunk.len();
        chunks.push(chunk.to_vec());
    }
    assert!(
        chunks.len() >= 4,
        "a ~1 KiB certificate needs several reads"
    );
    let reassembled = chunks.concat();
    assert_eq!(reassembled, f.auth_ca_certificate);
    std::fs::write(f.openssl_dir.path().join("read.der"), &reassembled).unwrap();
    let subject = openssl(
        f.openssl_dir.path(),
        &[
            "x509", "-inform", "DER", "-in", "read.der", "-noout", "-subject",
        ],
    );
    assert!(subject.contains("jpki test CA"), "{subject}");
}

// ---------------------------------------------------------------------------------------
// PINs
// ---------------------------------------------------------------------------------------

#[test]
fn auth_pin_counts_down_blocks_and_reports_c0() {
    let mut card = card();
    run(
        &mut card,
        &[
            step("select AP", SELECT_JPKI, "90 00"),
            step("select auth PIN", select_ef("00 18"), "90 00"),
            step("tries left", "00 20 00 80", "63 C3"),
            step("wrong", verify_cmd("0000"), "63 C2"),
            step("right: counter back to 3", verify_cmd(AUTH_PIN), "90 00"),
            step("tries left", "00 20 00 80", "63 C3"),
            step("wrong length uses no try", verify_cmd("12345"), "67 00"),
            step("tries left", "00 20 00 80", "63 C3"),
            step("wrong 1", verify_cmd("1111"), "63 C2"),
            step("wrong 2", verify_cmd("2222"), "63 C1"),
            step("wrong 3", verify_cmd("3333"), "63 C0"),
            step("blocked, wrong PIN", verify_cmd("4444"), "69 83"),
            step("blocked, right PIN", verify_cmd(AUTH_PIN), "69 83"),
            step(
                "blocked: tries-left query answers 63 C0",
                "00 20 00 80",
                "63 C0",
            ),
            step("change refused while blocked", change_cmd("9999"), "69 83"),
        ],
    );
    // The auth key is unusable now.
    let info = DigestInfo::of(DigestAlgorithm::Sha256, b"x").to_der();
    run(
        &mut card,
        &[
            step("select auth key", select_ef("00 17"), "90 00"),
            step("sign without PIN", sign_cmd(&info), "69 82"),
        ],
    );
}

#[test]
fn sign_password_has_five_tries_and_is_compared_as_sent() {
    let mut card = card();
    run(
        &mut card,
        &[
            step("select AP", SELECT_JPKI, "90 00"),
            step("select sign password", select_ef("00 1B"), "90 00"),
            step("tries left", "00 20 00 80", "63 C5"),
            step(
                "lower case is a wrong password",
                verify_cmd("signpw2026"),
                "63 C4",
            ),
            step("wrong", verify_cmd("WRONG1"), "63 C3"),
            step("wrong", verify_cmd("WRONG2"), "63 C2"),
            step("wrong", verify_cmd("WRONG3"), "63 C1"),
            step("wrong", verify_cmd("WRONG4"), "63 C0"),
            step("blocked", verify_cmd(SIGN_PASSWORD), "69 83"),
            step("tries-left query when blocked", "00 20 00 80", "63 C0"),
            step(
                "blocked is answered before the length check",
                verify_cmd("ABCDEFGHIJKLMNOPQ"),
                "69 83",
            ),
        ],
    );
}

#[test]
fn pin_change_needs_verify_and_the_policy() {
    let mut card = card();
    run(
        &mut card,
        &[
            step("select AP", SELECT_JPKI, "90 00"),
            step("select auth PIN", select_ef("00 18"), "90 00"),
            step("change without VERIFY", change_cmd("4321"), "69 82"),
            step("VERIFY", verify_cmd(AUTH_PIN), "90 00"),
            step("new PIN breaks the policy", change_cmd("12a4"), "6A 80"),
            step("new PIN too long", change_cmd("12345"), "6A 80"),
            step(
                "P1=00 (old+new) not supported",
                "00 24 00 80 04 31 32 33 34",
                "6A 86",
            ),
            step("change", change_cmd("4321"), "90 00"),
            step("new PIN works", verify_cmd("4321"), "90 00"),
            step("old PIN fails", verify_cmd(AUTH_PIN), "63 C2"),
            step("select sign password", select_ef("00 1B"), "90 00"),
            step("VERIFY", verify_cmd(SIGN_PASSWORD), "90 00"),
            step("6 characters minimum", change_cmd("ABC12"), "6A 80"),
            step("change password", change_cmd("NEWPASS16CHARS00"), "90 00"),
            step(
                "new password works",
                verify_cmd("NEWPASS16CHARS00"),
                "90 00",
            ),
        ],
    );
}

// ---------------------------------------------------------------------------------------
// COMPUTE DIGITAL SIGNATURE
// ---------------------------------------------------------------------------------------

#[test]
fn signatures_verify_with_the_generated_public_keys() {
    let f = fixture();
    let mut card = card();
    let message = b"login challenge 2026-04-01";
    let info = DigestInfo::of(DigestAlgorithm::Sha256, message).to_der();
    run(
        &mut card,
        &[
            step("select AP", SELECT_JPKI, "90 00"),
            step("select auth key", select_ef("00 17"), "90 00"),
            step("without PIN", sign_cmd(&info), "69 82"),
            step("select sign password", select_ef("00 1B"), "90 00"),
            step(
                "the sign password does not open the auth key",
                verify_cmd(SIGN_PASSWORD),
                "90 00",
            ),
            step("select auth key", select_ef("00 17"), "90 00"),
            step("still without the auth PIN", sign_cmd(&info), "69 82"),
            step("select auth PIN", select_ef("00 18"), "90 00"),
            step("VERIFY", verify_cmd(AUTH_PIN), "90 00"),
            step("select auth key", select_ef("00 17"), "90 00"),
        ],
    );
    let response = tx(&mut card, &sign_cmd(&info));
    assert_eq!(sw(&response), 0x9000);
    assert_eq!(data(&response).len(), 256);
    verify_signature(
        SignatureAlgorithm::RsaPkcs1Sha256,
        &f.auth_public_key,
        message,
        data(&response),
    )
    .unwrap();
    assert!(
        verify_signature(
            SignatureAlgorithm::RsaPkcs1Sha256,
            &f.sign_public_key,
            message,
            data(&response),
        )
        .is_err(),
        "signed by the auth key, not the sign key"
    );
    // The security status holds for several signatures in a session.
    let again = tx(&mut card, &sign_cmd(&info));
    assert_eq!(
        data(&again),
        data(&response),
        "PKCS#1 v1.5 is deterministic"
    );

    run(
        &mut card,
        &[
            step(
                "CLA 00 is not this command's class",
                format!("00{}", &sign_cmd(&info)[2..]),
                "6E 00",
            ),
            step("P1=01", "80 2A 01 80 01 00 00", "6A 86"),
            step("no data", "80 2A 00 80 00", "67 00"),
            step(
                "Le too short for 256 bytes",
                sign_cmd_le(&info, 0x80),
                "6C 00",
            ),
            step(
                "246 bytes is too long to pad",
                format!("80 2A 00 80 F6 {} 00", "AB ".repeat(246)),
                "67 00",
            ),
            step("select a certificate EF", select_ef("00 0A"), "90 00"),
            step("signing with a certificate EF", sign_cmd(&info), "69 81"),
            step("re-SELECT AP: no EF", SELECT_JPKI, "90 00"),
            step("signing with no EF", sign_cmd(&info), "69 86"),
        ],
    );
}

#[test]
fn openssl_verifies_a_card_signature() {
    let f = fixture();
    let dir = f.openssl_dir.path();
    let mut card = card();
    let message = b"an application form, signed with the signature key\n";
    let info = DigestInfo::of(DigestAlgorithm::Sha256, message).to_der();
    run(
        &mut card,
        &[
            step("select AP", SELECT_JPKI, "90 00"),
            step("select sign password", select_ef("00 1B"), "90 00"),
            step("VERIFY", verify_cmd(SIGN_PASSWORD), "90 00"),
            step("select sign key", select_ef("00 1A"), "90 00"),
        ],
    );
    let response = tx(&mut card, &sign_cmd(&info));
    assert_eq!(sw(&response), 0x9000);
    std::fs::write(dir.join("sign.spki.der"), &f.sign_public_key).unwrap();
    std::fs::write(dir.join("message.txt"), message).unwrap();
    std::fs::write(dir.join("message.sig"), data(&response)).unwrap();
    let verdict = openssl(
        dir,
        &[
            "dgst",
            "-sha256",
            "-verify",
            "sign.spki.der",
            "-keyform",
            "DER",
            "-signature",
            "message.sig",
            "message.txt",
        ],
    );
    assert!(verdict.contains("Verified OK"), "{verdict}");
    // The raw operation too: recovering the DigestInfo from the signature.
    let recovered = Process::new("openssl")
        .args([
            "pkeyutl",
            "-verifyrecover",
            "-pubin",
            "-inkey",
            "sign.spki.der",
            "-keyform",
            "DER",
            "-in",
            "message.sig",
        ])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(recovered.status.success());
    assert_eq!(recovered.stdout, info);
}

// ---------------------------------------------------------------------------------------
// Malformed and unsupported commands
// ---------------------------------------------------------------------------------------

#[test]
fn malformed_and_unsupported_commands_get_the_right_status_words() {
    let mut card = card();
    run(
        &mut card,
        &[
            step("empty", "", "67 00"),
            step("1 byte", "00", "67 00"),
            step("truncated header", "00 A4 04", "67 00"),
            step("no application: READ", "00 B0 00 00 01", "69 86"),
            step("no application: VERIFY", "00 20 00 80", "69 86"),
            step("no application: SELECT EF", select_ef("00 06"), "6A 82"),
            step(
                "Lc longer than the data",
                "00 A4 04 0C 0A D3 92 F0 00",
                "67 00",
            ),
            step(
                "Lc shorter than the data",
                "00 A4 04 0C 02 D3 92 F0 00",
                "67 00",
            ),
            step("unknown AID", "00 A4 04 0C 05 A0 00 00 00 01", "6A 82"),
            step(
                "SELECT AP P2=04 (FCP)",
                "00 A4 04 04 0A D3 92 F0 00 26 01 00 00 00 01",
                "6A 86",
            ),
            step("SELECT without AID", "00 A4 04 0C", "67 00"),
            step("unknown INS", "00 CA 00 00 00", "6D 00"),
            step("GET RESPONSE is not supported", "00 C0 00 00 00", "6D 00"),
            step(
                "wrong CLA",
                "10 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01",
                "6E 00",
            ),
            step(
                "CLA 80 for SELECT",
                "80 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01",
                "6E 00",
            ),
            step("CLA FF", "FF 00 00 00", "6E 00"),
            step("select AP", SELECT_JPKI, "90 00"),
            step(
                "SELECT by path is not supported",
                "00 A4 08 0C 02 00 06",
                "6A 86",
            ),
            step("SELECT EF with 3 bytes", "00 A4 02 0C 03 00 00 06", "67 00"),
            step("SELECT EF with P2=04", "00 A4 02 04 02 00 06", "6A 86"),
            step("READ with no current EF", "00 B0 00 00 01", "69 86"),
            step("VERIFY with no current EF", "00 20 00 80", "69 86"),
            step("select token", select_ef("00 06"), "90 00"),
            step("READ without Le", "00 B0 00 00", "67 00"),
            step("READ with data", "00 B0 00 00 01 00 00", "67 00"),
            step("READ by short EF id", "00 B0 86 00 01", "6A 86"),
            step("VERIFY on a binary EF", verify_cmd("1234"), "69 81"),
            step("select auth key", select_ef("00 17"), "90 00"),
            step("READ a key EF", "00 B0 00 00 01", "69 81"),
            step("select auth PIN", select_ef("00 18"), "90 00"),
            step("READ a PIN EF", "00 B0 00 00 01", "69 81"),
            step("VERIFY P2=81", "00 20 00 81", "6A 86"),
            step("VERIFY P1=01", "00 20 01 80", "6A 86"),
            step("VERIFY with Le", "00 20 00 80 00", "67 00"),
            step("ACTIVATE with P1", "00 44 01 00", "6A 86"),
        ],
    );
}

#[test]
fn card_survives_random_commands() {
    // A deterministic stream of commands over every INS and class, with valid and
    // broken length fields: every answer is a well-formed response, nothing panics.
    let mut card = card();
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let classes = [0x00u8, 0x80, 0x0C, 0xFF];
    let interesting = [0xA4u8, 0xB0, 0xD6, 0x20, 0x24, 0x2A, 0x44, 0xB2, 0xC0];
    for round in 0..4000 {
        let r = next();
        let mut command = vec![
            classes[(r % 4) as usize],
            if r & 0x100 == 0 {
                interesting[((r >> 9) % interesting.len() as u64) as usize]
            } else {
                (r >> 16) as u8
            },
            (r >> 24) as u8 & if r & 0x200 == 0 { 0x0F } else { 0xFF },
            (r >> 32) as u8,
        ];
        let body_len = ((r >> 40) % 24) as usize;
        for _ in 0..body_len {
            command.push((next() & 0xFF) as u8);
        }
        if round % 50 == 0 {
            command = hex(SELECT_JPKI);
        }
        if round % 70 == 0 {
            command = hex(&select_ef(
                ["00 06", "00 0A", "00 18", "00 17", "00 01"][(round / 70) % 5],
            ));
        }
        let response = card.transmit(&command);
        assert!(response.len() >= 2, "{}", to_hex(&command));
        assert!(response.len() <= 65_538);
    }
    // Still a working card afterwards.
    run(
        &mut card,
        &[
            step("select AP", SELECT_JPKI, "90 00"),
            step("select token", select_ef("00 06"), "90 00"),
        ],
    );
    assert_eq!(sw(&tx(&mut card, "00 B0 00 00 20")), 0x9000);
}

// ---------------------------------------------------------------------------------------
// Security state: reset, power-off, re-SELECT
// ---------------------------------------------------------------------------------------

#[test]
fn reset_power_off_and_reselect_clear_the_security_status() {
    let unlock = [
        step("select AP", SELECT_JPKI, "90 00"),
        step("select sign password", select_ef("00 1B"), "90 00"),
        step("VERIFY", verify_cmd(SIGN_PASSWORD), "90 00"),
        step("select sign cert", select_ef("00 01"), "90 00"),
    ];
    let mut card = card();
    let read_ok = |card: &mut VirtualCard| sw(&tx(card, "00 B0 00 00 04"));

    run(&mut card, &unlock);
    assert_eq!(read_ok(&mut card), 0x9000);
    card.reset();
    assert_eq!(
        sw(&tx(&mut card, "00 B0 00 00 04")),
        0x6986,
        "reset: no selection"
    );
    run(
        &mut card,
        &[
            step("select AP", SELECT_JPKI, "90 00"),
            step("select sign cert", select_ef("00 01"), "90 00"),
            step("after reset", "00 B0 00 00 04", "69 82"),
        ],
    );

    run(&mut card, &unlock);
    assert_eq!(read_ok(&mut card), 0x9000);
    card.power_off();
    run(
        &mut card,
        &[
            step("select AP", SELECT_JPKI, "90 00"),
            step("select sign cert", select_ef("00 01"), "90 00"),
            step("after power-off", "00 B0 00 00 04", "69 82"),
        ],
    );

    run(&mut card, &unlock);
    assert_eq!(read_ok(&mut card), 0x9000);
    run(
        &mut card,
        &[
            step("re-SELECT AP", SELECT_JPKI, "90 00"),
            step("select sign cert", select_ef("00 01"), "90 00"),
            step("after re-SELECT", "00 B0 00 00 04", "69 82"),
        ],
    );

    run(&mut card, &unlock);
    run(
        &mut card,
        &[
            step("other AP", SELECT_SUPPORT, "90 00"),
            step("back", SELECT_JPKI, "90 00"),
            step("select sign cert", select_ef("00 01"), "90 00"),
            step("after switching AP", "00 B0 00 00 04", "69 82"),
            step("select sign password", select_ef("00 1B"), "90 00"),
            step(
                "a failed VERIFY clears the status",
                verify_cmd("WRONGPW"),
                "63 C4",
            ),
        ],
    );
}

// ---------------------------------------------------------------------------------------
// 券面事項入力補助AP and 券面AP
// ---------------------------------------------------------------------------------------

#[test]
fn support_ap_gives_my_number_and_attributes_after_its_pin() {
    let f = fixture();
    let mut card = card();
    let attributes = &f.attributes_ef;
    run(
        &mut card,
        &[
            step("select support AP", SELECT_SUPPORT, "90 00"),
            step("select My Number", select_ef("00 01"), "90 00"),
            step("before the PIN", "00 B0 00 00 11", "69 82"),
            step("select PIN", select_ef("00 11"), "90 00"),
            step("tries left", "00 20 00 80", "63 C3"),
            step(
                "the JPKI auth PIN is another PIN",
                verify_cmd(AUTH_PIN),
                "63 C2",
            ),
            step("VERIFY", verify_cmd(SUPPORT_PIN), "90 00"),
            step("select My Number", select_ef("00 01"), "90 00"),
            step(
                "myna/jpki-rs read 17 bytes and get the 15-byte TLV",
                "00 B0 00 00 11",
                format!("{} 90 00", to_hex(&f.my_number_ef)),
            ),
            step(
                "the TLV: FF 10 0C + 12 digits",
                "00 B0 00 00 03",
                "FF 10 0C 90 00",
            ),
            step("select attributes", select_ef("00 02"), "90 00"),
            step(
                "7-byte header",
                "00 B0 00 00 07",
                format!("{} 90 00", to_hex(&attributes[..7])),
            ),
            step(
                "the rest",
                "00 B0 00 07 00",
                format!("{} 90 00", to_hex(&attributes[7..])),
            ),
            step("PIN A: status", select_ef("00 14"), "90 00"),
            step("PIN A tries", "00 20 00 80", "63 CA"),
            step(
                "PIN A has no reference data here",
                verify_cmd("123456789018"),
                "69 84",
            ),
            step("PIN B", select_ef("00 15"), "90 00"),
            step("PIN B tries", "00 20 00 80", "63 CA"),
            step("JPKI EFs are not here", select_ef("00 06"), "6A 82"),
            step("re-SELECT clears the PIN", SELECT_SUPPORT, "90 00"),
            step("select My Number", select_ef("00 01"), "90 00"),
            step("after re-SELECT", "00 B0 00 00 11", "69 82"),
        ],
    );
}

#[test]
fn surface_ap_answers_pin_status_tools() {
    let mut card = card();
    run(
        &mut card,
        &[
            step("select 券面AP", SELECT_SURFACE, "90 00"),
            step("PIN A", select_ef("00 13"), "90 00"),
            step("tries", "00 20 00 80", "63 CA"),
            step("PIN B", select_ef("00 12"), "90 00"),
            step("tries", "00 20 00 80", "63 CA"),
            step("no change", change_cmd("1234"), "69 84"),
            step(
                "no images in this virtual card",
                select_ef("00 02"),
                "6A 82",
            ),
        ],
    );
}

// ---------------------------------------------------------------------------------------
// Personalization and the life cycle
// ---------------------------------------------------------------------------------------

#[test]
fn personalization_is_refused_after_activation() {
    let mut card = card();
    assert_eq!(card.life_cycle(), LifeCycle::Operational);
    run(
        &mut card,
        &[
            step("select AP", SELECT_JPKI, "90 00"),
            step("select auth key", select_ef("00 17"), "90 00"),
            step("GENERATE", "00 46 00 00 00 00 00", "69 85"),
            step("select auth cert", select_ef("00 0A"), "90 00"),
            step("UPDATE BINARY", "00 D6 00 00 01 00", "69 85"),
            step("select auth PIN", select_ef("00 18"), "90 00"),
            step("set a PIN without VERIFY", change_cmd("0000"), "69 82"),
            step("ACTIVATE again", "00 44 00 00", "69 85"),
            step("select support AP", SELECT_SUPPORT, "90 00"),
            step("select My Number", select_ef("00 01"), "90 00"),
            step("rewrite My Number", "00 D6 00 00 01 00", "69 85"),
        ],
    );
    assert!(!card.is_dirty(), "refused commands change nothing");
}

#[test]
fn blank_card_personalization_rules() {
    let mut card = VirtualCard::blank(jpki_card::CardId::random().unwrap());
    assert_eq!(card.id().as_str().len(), 16);
    let info = DigestInfo::of(DigestAlgorithm::Sha256, b"x").to_der();
    run(
        &mut card,
        &[
            step("ACTIVATE with nothing selected", "00 44 00 00", "69 86"),
            step("select AP", SELECT_JPKI, "90 00"),
            step("ACTIVATE with nothing personalized", "00 44 00 00", "6A 88"),
            step("select token", select_ef("00 06"), "90 00"),
            step(
                "token on a blank card",
                "00 B0 00 00 20",
                format!(
                    "{} {} 90 00",
                    ascii_hex("JPKIAPICCTOKEN2"),
                    "20 ".repeat(17)
                ),
            ),
            step("the token EF is not writable", "00 D6 00 00 01 41", "69 81"),
            step("select auth cert", select_ef("00 0A"), "90 00"),
            step("blank EF reads empty", "00 B0 00 00 04", "90 00"),
            step("UPDATE beyond the capacity", "00 D6 10 00 01 00", "6B 00"),
            step(
                "UPDATE past the end of the EF",
                "00 D6 0F FF 02 00 00",
                "6A 84",
            ),
            step("UPDATE with Le", "00 D6 00 00 01 00 00", "67 00"),
            step("UPDATE without data", "00 D6 00 00", "67 00"),
            step("UPDATE at offset 2", "00 D6 00 02 02 AA BB", "90 00"),
            step(
                "content up to the highest byte",
                "00 B0 00 00 00",
                "00 00 AA BB 90 00",
            ),
            step("GENERATE on a cert EF", "00 46 00 00 00 00 00", "69 81"),
            step("select auth key", select_ef("00 17"), "90 00"),
            step("sign before the key exists", sign_cmd(&info), "6A 88"),
            step("GENERATE with P1", "00 46 80 00 00 00 00", "6A 86"),
            step("GENERATE with data", "00 46 00 00 01 00", "67 00"),
            step("select auth PIN", select_ef("00 18"), "90 00"),
            step("VERIFY before any PIN is set", verify_cmd("1234"), "69 84"),
            step(
                "tries-left query before any PIN is set",
                "00 20 00 80",
                "63 C3",
            ),
            step("set PIN", change_cmd("1234"), "90 00"),
            step("VERIFY", verify_cmd("1234"), "90 00"),
            step("issuer resets the PIN", change_cmd("2468"), "90 00"),
            step("old PIN", verify_cmd("1234"), "63 C2"),
            step(
                "issuer reset restores the counter",
                change_cmd("1357"),
                "90 00",
            ),
            step("tries left", "00 20 00 80", "63 C3"),
        ],
    );
    // A short Le cannot carry the 294-byte public key: refused, and no key installed.
    run(
        &mut card,
        &[step("select auth key", select_ef("00 17"), "90 00")],
    );
    assert_eq!(sw(&tx(&mut card, "00 46 00 00 00")), 0x6700);
    assert!(
        card.missing_for_activation()
            .contains(&"jpki: key 0017 not generated".to_owned())
    );
    assert_eq!(card.life_cycle(), LifeCycle::Personalization);
}

#[test]
fn jpki_ap_profile_decides_token_and_auth_certificate_access() {
    use jpki_apdu::Command;
    let certificate = der_blob(300, 9);
    for (profile, token, auth_read_before_pin) in [
        (JpkiApProfile::card(), "JPKIAPICCTOKEN2", 0x9000),
        (
            JpkiApProfile::phone_secure_element(),
            "JPKIAPGPSETOKEN",
            0x6982,
        ),
    ] {
        let mut ap = JpkiAp::new(profile);
        let mut send = |bytes: &str, privilege: Privilege| {
            ap.process(&Command::parse(&hex(bytes)).unwrap(), privilege)
        };
        // Issue: PIN and auth certificate.
        assert!(send(&select_ef("00 18"), Privilege::Issuer).is_ok());
        assert!(send(&change_cmd(AUTH_PIN), Privilege::Issuer).is_ok());
        assert!(send(&select_ef("00 0A"), Privilege::Issuer).is_ok());
        let write = format!("00 D6 00 00 00 01 2C {}", to_hex(&certificate));
        assert!(send(&write, Privilege::Issuer).is_ok());
        // Use.
        assert!(send(&select_ef("00 06"), Privilege::Holder).is_ok());
        let info = send("00 B0 00 00 20", Privilege::Holder);
        assert_eq!(String::from_utf8_lossy(&info.data).trim_end(), token);
        assert!(send(&select_ef("00 0A"), Privilege::Holder).is_ok());
        let before = send("00 B0 00 00 04", Privilege::Holder);
        assert_eq!(before.sw.to_u16(), auth_read_before_pin, "{token}");
        assert!(send(&select_ef("00 0B"), Privilege::Holder).is_ok());
        assert!(
            send("00 B0 00 00 04", Privilege::Holder).is_ok(),
            "CA certificates stay free ({token})"
        );
        assert!(send(&select_ef("00 18"), Privilege::Holder).is_ok());
        assert!(send(&verify_cmd(AUTH_PIN), Privilege::Holder).is_ok());
        assert!(send(&select_ef("00 0A"), Privilege::Holder).is_ok());
        let after = send("00 B0 00 00 00 00 00", Privilege::Holder);
        assert!(after.is_ok());
        assert_eq!(after.data, certificate);
        // Holders cannot write.
        assert_eq!(
            send("00 D6 00 00 01 00", Privilege::Holder).sw.to_u16(),
            0x6985
        );
        // The phone keeps its auth certificate sealed in the file; the card does not.
        let (public, _sealed) = ap.export();
        assert_eq!(
            public.state.files.contains_key("000A"),
            auth_read_before_pin == 0x9000,
            "{token}"
        );
        // The auth key is missing (its PIN is set); the signature slot is unused (no key,
        // no password), which is allowed: a person under 15 gets no signature certificate.
        assert_eq!(
            ap.missing_for_activation(),
            vec![
                "jpki: key 0017 not generated".to_owned(),
                "jpki: no key generated".to_owned()
            ],
            "{token}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Card files
// ---------------------------------------------------------------------------------------

#[test]
fn card_files_round_trip_and_keep_counters_across_restarts() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("card.json");
    let mut card = card();
    assert!(!card.is_dirty(), "a loaded card is clean");
    run(
        &mut card,
        &[
            step("select AP", SELECT_JPKI, "90 00"),
            step("select token", select_ef("00 06"), "90 00"),
            step(
                "read",
                "00 B0 00 00 20",
                format!(
                    "{} {} 90 00",
                    ascii_hex("JPKIAPICCTOKEN2"),
                    "20 ".repeat(17)
                ),
            ),
        ],
    );
    assert!(!card.is_dirty(), "reading changes nothing persistent");
    run(
        &mut card,
        &[
            step("select auth PIN", select_ef("00 18"), "90 00"),
            step("verify at the maximum", verify_cmd(AUTH_PIN), "90 00"),
        ],
    );
    assert!(
        !card.is_dirty(),
        "a correct PIN at the maximum changes nothing"
    );
    run(&mut card, &[step("wrong PIN", verify_cmd("0000"), "63 C2")]);
    assert!(card.is_dirty());
    file::save(&path, &mut card, &kek()).unwrap();
    assert!(!card.is_dirty());
    drop(card);

    let mut restarted = file::load(&path, &kek()).unwrap();
    assert_eq!(restarted.id().as_str(), "0123456789ABCDEF");
    assert_eq!(restarted.life_cycle(), LifeCycle::Operational);
    run(
        &mut restarted,
        &[
            step("select AP", SELECT_JPKI, "90 00"),
            step("select auth PIN", select_ef("00 18"), "90 00"),
            step("the wrong try survived the restart", "00 20 00 80", "63 C2"),
            step("VERIFY", verify_cmd(AUTH_PIN), "90 00"),
            step("select auth key", select_ef("00 17"), "90 00"),
        ],
    );
    assert!(restarted.is_dirty(), "the counter went back up");
    let info = DigestInfo::of(DigestAlgorithm::Sha256, b"after restart").to_der();
    let response = tx(&mut restarted, &sign_cmd(&info));
    verify_signature(
        SignatureAlgorithm::RsaPkcs1Sha256,
        &f.auth_public_key,
        b"after restart",
        data(&response),
    )
    .unwrap();

    // The file on disk: private to its owner, no secret or personal data in clear.
    let bytes = std::fs::read(&path).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let text = String::from_utf8(bytes).unwrap();
    // "MIIEv" starts the base64 of an RSA-2048 PKCS#8 key (30 82 04 BC..BF).
    for secret in [
        SIGN_PASSWORD,
        AUTH_PIN_FILE_MARKER,
        MY_NUMBER,
        "公的",
        "MIIEv",
    ] {
        assert!(!text.contains(secret), "{secret} must not be in the clear");
    }
    use base64::Engine;
    let engine = base64::engine::general_purpose::STANDARD;
    assert!(
        text.contains(&engine.encode(&f.auth_certificate)),
        "auth cert is public"
    );
    assert!(text.contains(&engine.encode(&f.sign_ca_certificate)));
    assert!(
        !text.contains(&engine.encode(&f.sign_certificate)),
        "sign cert is sealed"
    );
    assert!(text.contains("\"tries_left\": 2"), "counters are readable");
    // No temporary files are left behind.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

type ErrorCheck = fn(&CardFileError) -> bool;

fn edited(bytes: &[u8], edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    let mut value: serde_json::Value = serde_json::from_slice(bytes).unwrap();
    edit(&mut value);
    serde_json::to_vec(&value).unwrap()
}

#[test]
fn tampered_truncated_and_foreign_files_are_refused_with_clear_errors() {
    let f = fixture();
    let original = &f.file;
    let open = |bytes: &[u8]| VirtualCard::from_file_bytes(bytes, &kek());

    // Re-encoding alone (different whitespace) is fine.
    assert!(open(&edited(original, |_| {})).is_ok());

    let tampered = [
        edited(original, |v| {
            v["public"]["jpki"]["state"]["pins"]["0018"]["tries_left"] = 2.into()
        }),
        edited(original, |v| {
            v["public"]["life_cycle"] = "personalization".into()
        }),
        edited(original, |v| {
            v["public"]["jpki"]["state"]["files"]["000A"] = base64_of(&der_blob(1337, 7)).into()
        }),
        edited(original, |v| {
            v["public"]["card_id"] = "FFFFFFFFFFFFFFFF".into()
        }),
        edited(original, |v| {
            let sealed = v["sealed"].as_str().unwrap().to_owned();
            let mut chars: Vec<char> = sealed.chars().collect();
            chars[40] = if chars[40] == 'A' { 'B' } else { 'A' };
            v["sealed"] = chars.into_iter().collect::<String>().into();
        }),
    ];
    for bytes in &tampered {
        assert!(
            matches!(open(bytes), Err(CardFileError::Unseal)),
            "{:?}",
            open(bytes).err()
        );
    }
    let wrong_kek = Kek::from_bytes(&[0x43; 32]).unwrap();
    assert!(matches!(
        VirtualCard::from_file_bytes(original, &wrong_kek),
        Err(CardFileError::Unseal)
    ));

    let cases: Vec<(Vec<u8>, ErrorCheck)> = vec![
        (original[..original.len() / 2].to_vec(), |e| {
            matches!(e, CardFileError::Syntax(_))
        }),
        (Vec::new(), |e| matches!(e, CardFileError::Syntax(_))),
        (b"\x00\xFF garbage".to_vec(), |e| {
            matches!(e, CardFileError::Syntax(_))
        }),
        (br#""just a string""#.to_vec(), |e| {
            matches!(e, CardFileError::Syntax(_))
        }),
        (b"{}".to_vec(), |e| {
            matches!(e, CardFileError::UnknownFormat { .. })
        }),
        (br#"{"format":"pem"}"#.to_vec(), |e| {
            matches!(e, CardFileError::UnknownFormat { .. })
        }),
        (edited(original, |v| v["version"] = 2.into()), |e| {
            matches!(
                e,
                CardFileError::UnsupportedVersion {
                    found: 2,
                    supported: 1
                }
            )
        }),
        (edited(original, |v| v["version"] = "1".into()), |e| {
            matches!(e, CardFileError::Malformed(_))
        }),
        (edited(original, |v| v["extra"] = true.into()), |e| {
            matches!(e, CardFileError::Malformed(_))
        }),
        (
            edited(original, |v| v["sealed"] = "not base64!".into()),
            |e| matches!(e, CardFileError::Malformed(_)),
        ),
        (edited(original, |v| v["sealed"] = "AAAA".into()), |e| {
            matches!(e, CardFileError::Unseal)
        }),
        (
            edited(original, |v| {
                v["public"]["jpki"]["state"]["pins"]["0018"]["tries_left"] = (-1).into()
            }),
            |e| matches!(e, CardFileError::Malformed(_)),
        ),
        (
            edited(original, |v| {
                v["public"]["jpki"]["profile"]["token"] = "".into()
            }),
            |e| matches!(e, CardFileError::Malformed(_)),
        ),
    ];
    for (bytes, expected) in &cases {
        let error = open(bytes).expect_err("refused");
        assert!(expected(&error), "{error:?}");
        assert!(!error.to_string().is_empty());
    }

    // Missing file.
    let missing = file::load(Path::new("/nonexistent/jpki/card.json"), &kek());
    assert!(matches!(
        missing,
        Err(CardFileError::Io { action: "read", .. })
    ));
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[test]
fn debug_output_holds_no_secrets() {
    let card = card();
    let printed = format!("{card:?}");
    assert!(printed.contains("0123456789ABCDEF"));
    assert!(!printed.contains(SIGN_PASSWORD) && !printed.contains(MY_NUMBER));

    let mut ap = JpkiAp::new(JpkiApProfile::card());
    for command in [select_ef("00 1B"), change_cmd(SIGN_PASSWORD)] {
        let response = ap.process(
            &jpki_apdu::Command::parse(&hex(&command)).unwrap(),
            Privilege::Issuer,
        );
        assert!(response.is_ok());
    }
    let (_public, sealed) = ap.export();
    let printed = format!("{sealed:?}");
    assert!(
        printed.contains("001B") && printed.contains("redacted"),
        "{printed}"
    );
    assert!(
        !printed.contains(&base64_of(SIGN_PASSWORD.as_bytes())),
        "{printed}"
    );
    assert!(!printed.contains(SIGN_PASSWORD), "{printed}");
}
