//! The typed operations against a scripted card: exact command bytes out, odd answers in.

use std::collections::VecDeque;

use jpki_apdu::StatusWord;
use jpki_crypto::{Pin, PinPolicy};

use crate::{
    CertificateSlot, JpkiAp, KeySlot, PinSlot, ReaderError, SupportAp, Token, Transport,
    TransportError, VerifyError,
};

fn hex(text: &str) -> Vec<u8> {
    text.split_whitespace()
        .map(|pair| u8::from_str_radix(pair, 16).unwrap())
        .collect()
}

/// A canned answer, or `Err(())` for a transport failure.
type Answer = Result<Vec<u8>, ()>;

/// Expects a fixed sequence of commands and plays back canned answers.
#[derive(Default)]
struct Script {
    steps: VecDeque<(Vec<u8>, Answer)>,
}

impl Script {
    fn new() -> Self {
        Self::default()
    }

    fn expect(mut self, command: &str, answer: &str) -> Self {
        self.steps.push_back((hex(command), Ok(hex(answer))));
        self
    }

    fn expect_bytes(mut self, command: &str, answer: Vec<u8>) -> Self {
        self.steps.push_back((hex(command), Ok(answer)));
        self
    }

    fn fail(mut self, command: &str) -> Self {
        self.steps.push_back((hex(command), Err(())));
        self
    }

    fn done(&self) {
        assert!(
            self.steps.is_empty(),
            "unsent: {} commands",
            self.steps.len()
        );
    }
}

impl Transport for Script {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let (expected, answer) = self.steps.pop_front().expect("no more commands expected");
        assert_eq!(command, expected.as_slice(), "unexpected command");
        answer.map_err(|()| TransportError::CardRemoved)
    }
}

const SELECT_JPKI: &str = "00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01";

fn jpki(script: &mut Script) -> JpkiAp<&mut Script> {
    JpkiAp::select(script).unwrap()
}

#[test]
fn token_is_one_read_of_32_bytes() {
    let mut token = b"JPKIAPGPSETOKEN".to_vec();
    token.resize(32, b' ');
    token.extend_from_slice(&[0x90, 0x00]);
    let mut script = Script::new()
        .expect(SELECT_JPKI, "90 00")
        .expect("00 A4 02 0C 02 00 06", "90 00")
        .expect_bytes("00 B0 00 00 20", token);
    assert_eq!(jpki(&mut script).token().unwrap(), Token::Phone);
    script.done();

    assert_eq!(Token::parse(b"JPKIAPICCTOKEN2\0\0\0"), Token::Card);
    assert_eq!(Token::parse(b"JPKIAPICCTOKEN  "), Token::OldCard);
    assert_eq!(
        Token::parse(b"JPKIAPIOSTOKEN"),
        Token::Other("JPKIAPIOSTOKEN".into())
    );
    assert_eq!(
        Token::parse(b"\xFF\xFE "),
        Token::Other("\u{FFFD}\u{FFFD}".into())
    );
    assert_eq!(Token::parse(b""), Token::Other(String::new()));
}

#[test]
fn certificates_are_read_header_first_then_in_256_byte_chunks() {
    // A 600-byte "certificate": 30 82 02 54 + 596 bytes.
    let mut der = vec![0x30, 0x82, 0x02, 0x54];
    der.extend((0..596).map(|i| i as u8));
    let answer = |range: std::ops::Range<usize>| {
        let mut bytes = der[range].to_vec();
        bytes.extend_from_slice(&[0x90, 0x00]);
        bytes
    };
    let mut script = Script::new()
        .expect(SELECT_JPKI, "90 00")
        .expect("00 A4 02 0C 02 00 0B", "90 00")
        .expect_bytes("00 B0 00 00 07", answer(0..7))
        .expect_bytes("00 B0 00 07 00", answer(7..263))
        .expect_bytes("00 B0 01 07 00", answer(263..519))
        .expect_bytes("00 B0 02 07 51", answer(519..600));
    let read = jpki(&mut script)
        .read_certificate(CertificateSlot::AuthCa)
        .unwrap();
    assert_eq!(read, der);
    script.done();
}

type ErrorCheck = fn(&ReaderError) -> bool;

#[test]
fn odd_certificate_answers_are_errors_not_panics() {
    let cases: Vec<(Script, ErrorCheck)> = vec![
        // Empty EF.
        (
            Script::new()
                .expect(SELECT_JPKI, "90 00")
                .expect("00 A4 02 0C 02 00 0A", "90 00")
                .expect("00 B0 00 00 07", "90 00"),
            |e| matches!(e, ReaderError::EmptyFile { .. }),
        ),
        // The header claims 0x7FFF0 bytes.
        (
            Script::new()
                .expect(SELECT_JPKI, "90 00")
                .expect("00 A4 02 0C 02 00 0A", "90 00")
                .expect("00 B0 00 00 07", "30 83 07 FF F0 00 00 90 00"),
            |e| matches!(e, ReaderError::UnexpectedData(_)),
        ),
        // Indefinite length.
        (
            Script::new()
                .expect(SELECT_JPKI, "90 00")
                .expect("00 A4 02 0C 02 00 0A", "90 00")
                .expect("00 B0 00 00 07", "30 80 00 00 90 00"),
            |e| matches!(e, ReaderError::UnexpectedData(_)),
        ),
        // The EF ends before the length in its header.
        (
            Script::new()
                .expect(SELECT_JPKI, "90 00")
                .expect("00 A4 02 0C 02 00 0A", "90 00")
                .expect("00 B0 00 00 07", "30 82 01 00 AA BB CC 90 00")
                .expect("00 B0 00 07 FD", "90 00"),
            |e| matches!(e, ReaderError::UnexpectedData(_)),
        ),
        // More bytes than asked for.
        (
            Script::new()
                .expect(SELECT_JPKI, "90 00")
                .expect("00 A4 02 0C 02 00 0A", "90 00")
                .expect("00 B0 00 00 07", "30 82 00 10 01 02 03 04 05 06 90 00"),
            |e| matches!(e, ReaderError::UnexpectedData(_)),
        ),
        // Not a SEQUENCE.
        (
            Script::new()
                .expect(SELECT_JPKI, "90 00")
                .expect("00 A4 02 0C 02 00 0A", "90 00")
                .expect("00 B0 00 00 07", "04 02 AA BB 90 00"),
            |e| matches!(e, ReaderError::UnexpectedData(_)),
        ),
        // Refused: the status word is kept.
        (
            Script::new()
                .expect(SELECT_JPKI, "90 00")
                .expect("00 A4 02 0C 02 00 0A", "90 00")
                .expect("00 B0 00 00 07", "69 82"),
            |e| e.status_word() == Some(StatusWord::SecurityStatusNotSatisfied),
        ),
        // An answer without a status word.
        (
            Script::new()
                .expect(SELECT_JPKI, "90 00")
                .expect("00 A4 02 0C 02 00 0A", ""),
            |e| matches!(e, ReaderError::MalformedResponse(_)),
        ),
        // SELECT answered with an FCI nobody asked for.
        (
            Script::new()
                .expect(SELECT_JPKI, "90 00")
                .expect("00 A4 02 0C 02 00 0A", "6F 00 90 00"),
            |e| matches!(e, ReaderError::UnexpectedData(_)),
        ),
        // The card disappears.
        (
            Script::new()
                .expect(SELECT_JPKI, "90 00")
                .fail("00 A4 02 0C 02 00 0A"),
            |e| matches!(e, ReaderError::Transport(TransportError::CardRemoved)),
        ),
    ];
    for (mut script, check) in cases {
        let error = jpki(&mut script)
            .read_certificate(CertificateSlot::Auth)
            .unwrap_err();
        assert!(check(&error), "{error:?}");
        assert!(!error.to_string().is_empty());
        script.done();
    }
}

#[test]
fn pins_map_status_words_to_typed_results() {
    let pin = Pin::new(PinPolicy::FourDigits, "1234").unwrap();
    let mut script = Script::new()
        .expect(SELECT_JPKI, "90 00")
        .expect("00 A4 02 0C 02 00 18", "90 00")
        .expect("00 20 00 80", "63 C2")
        .expect("00 A4 02 0C 02 00 18", "90 00")
        .expect("00 20 00 80 04 31 32 33 34", "63 C1")
        .expect("00 A4 02 0C 02 00 18", "90 00")
        .expect("00 20 00 80 04 31 32 33 34", "69 83")
        .expect("00 A4 02 0C 02 00 18", "90 00")
        .expect("00 20 00 80 04 31 32 33 34", "69 84")
        .expect("00 A4 02 0C 02 00 18", "90 00")
        .expect("00 20 00 80", "90 00")
        .expect("00 A4 02 0C 02 00 1B", "6A 82");
    let mut ap = jpki(&mut script);
    assert_eq!(ap.tries_left(PinSlot::Auth).unwrap(), 2);
    assert!(matches!(
        ap.verify(PinSlot::Auth, &pin),
        Err(VerifyError::Wrong { tries_left: 1 })
    ));
    assert!(matches!(
        ap.verify(PinSlot::Auth, &pin),
        Err(VerifyError::Blocked)
    ));
    match ap.verify(PinSlot::Auth, &pin) {
        Err(VerifyError::Reader(error)) => {
            assert_eq!(
                error.status_word(),
                Some(StatusWord::ReferenceDataNotUsable)
            );
        }
        other => panic!("{other:?}"),
    }
    // OpenSC treats anything but 63 Cx as an error for the tries-left query.
    assert!(ap.tries_left(PinSlot::Auth).is_err());
    assert!(ap.tries_left(PinSlot::Sign).is_err());
    // The wrong kind of PIN is refused before anything is sent.
    assert!(matches!(
        ap.verify(PinSlot::Sign, &pin),
        Err(VerifyError::Reader(ReaderError::InvalidArgument(_)))
    ));
    let as_reader_error: ReaderError = VerifyError::Wrong { tries_left: 1 }.into();
    assert_eq!(
        as_reader_error.status_word(),
        Some(StatusWord::VerifyFailed { tries_left: 1 })
    );
    let _ = ap.into_transport();
    script.done();
}

#[test]
fn pins_never_appear_in_errors() {
    let pin = Pin::new(PinPolicy::SignPassword, "HUNTER42").unwrap();
    let mut script = Script::new()
        .expect(SELECT_JPKI, "90 00")
        .expect("00 A4 02 0C 02 00 1B", "90 00")
        .expect("00 20 00 80 08 48 55 4E 54 45 52 34 32", "6F 00");
    let error = jpki(&mut script).verify(PinSlot::Sign, &pin).unwrap_err();
    let printed = format!("{error} {error:?}");
    assert!(
        !printed.contains("HUNTER42") && !printed.contains("48 55 4E"),
        "{printed}"
    );
    script.done();
}

#[test]
fn signing_and_personalization_send_the_documented_bytes() {
    let info = [0xAB; 51];
    let mut signature = vec![0x5A; 256];
    signature.extend_from_slice(&[0x90, 0x00]);
    let mut spki = vec![0x30, 0x82, 0x01, 0x22];
    spki.extend(std::iter::repeat_n(0x11, 0x122));
    let mut spki_answer = spki.clone();
    spki_answer.extend_from_slice(&[0x90, 0x00]);
    let mut sign_command = "80 2A 00 80 33".to_owned();
    sign_command.push_str(&" AB".repeat(51));
    sign_command.push_str(" 00");
    let mut update = "00 D6 00 00 FF".to_owned();
    update.push_str(&" 30".repeat(255));
    let mut update2 = "00 D6 00 FF 01".to_owned();
    update2.push_str(" 30");
    let pin = Pin::new(PinPolicy::FourDigits, "4321").unwrap();
    let mut script = Script::new()
        .expect(SELECT_JPKI, "90 00")
        .expect("00 A4 02 0C 02 00 17", "90 00")
        .expect_bytes(&sign_command, signature)
        .expect("00 A4 02 0C 02 00 1A", "90 00")
        .expect_bytes("00 46 00 00 00 00 00", spki_answer)
        .expect("00 A4 02 0C 02 00 17", "90 00")
        .expect("00 46 00 00 00 00 00", "01 02 90 00")
        .expect("00 A4 02 0C 02 00 18", "90 00")
        .expect("00 24 01 80 04 34 33 32 31", "90 00")
        .expect("00 A4 02 0C 02 00 0A", "90 00")
        .expect(&update, "90 00")
        .expect(&update2, "90 00")
        .expect("00 44 00 00", "6A 88");
    let mut ap = jpki(&mut script);
    assert_eq!(
        ap.sign_digest_info(KeySlot::Auth, &info).unwrap().len(),
        256
    );
    assert_eq!(ap.generate_key(KeySlot::Sign).unwrap(), spki);
    assert!(matches!(
        ap.generate_key(KeySlot::Auth),
        Err(ReaderError::UnexpectedData(_))
    ));
    ap.set_initial_pin(PinSlot::Auth, &pin).unwrap();
    ap.write_certificate(CertificateSlot::Auth, &[0x30; 256])
        .unwrap();
    let refused = ap.activate().unwrap_err();
    assert_eq!(
        refused.status_word(),
        Some(StatusWord::ReferencedDataNotFound)
    );
    assert!(refused.to_string().contains("ACTIVATE FILE"), "{refused}");
    assert!(matches!(
        ap.sign_digest_info(KeySlot::Auth, &[]),
        Err(ReaderError::InvalidArgument(_))
    ));
    assert!(matches!(
        ap.write_ef(0x000A, &[]),
        Err(ReaderError::InvalidArgument(_))
    ));
    let _ = ap.into_transport();
    script.done();
}

#[test]
fn support_data_reads_17_bytes_then_the_attribute_tlv() {
    use jpki_model::{BasicInfo, BirthDate, MyNumber, Sex};
    let number = MyNumber::parse("123456789018").unwrap();
    let info = BasicInfo::new(
        "公的 太郎",
        None,
        "東京都",
        None,
        BirthDate::parse("1990-01-02").unwrap(),
        Sex::Male,
    )
    .unwrap();
    let attributes = crate::support_data::encode_attributes(&info).unwrap();
    let with_ok = |bytes: &[u8]| {
        let mut answer = bytes.to_vec();
        answer.extend_from_slice(&[0x90, 0x00]);
        answer
    };
    let mut my_number_ef = crate::support_data::encode_my_number(&number);
    my_number_ef.extend_from_slice(&[0x00, 0x00]);
    let mut script = Script::new()
        .expect("00 A4 04 0C 0A D3 92 10 00 31 00 01 01 04 08", "90 00")
        .expect("00 A4 02 0C 02 00 11", "90 00")
        .expect("00 20 00 80 04 35 36 37 38", "90 00")
        .expect("00 A4 02 0C 02 00 01", "90 00")
        .expect_bytes("00 B0 00 00 11", with_ok(&my_number_ef))
        .expect("00 A4 02 0C 02 00 02", "90 00")
        .expect_bytes("00 B0 00 00 07", with_ok(&attributes[..7]))
        .expect_bytes(
            &format!("00 B0 00 07 {:02X}", attributes.len() - 7),
            with_ok(&attributes[7..]),
        );
    let pin = Pin::new(PinPolicy::FourDigits, "5678").unwrap();
    let (read_number, read_info) = SupportAp::select(&mut script)
        .unwrap()
        .read_support_data(&pin)
        .unwrap();
    assert_eq!(read_number, number);
    assert_eq!(read_info, info);
    script.done();
}
