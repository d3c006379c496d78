//! The typed operations against the virtual card, in process: personalize a blank card
//! as a counter terminal would, activate it, then use it as a holder's client would.
//!
//! Keep every reader integration test in this one binary.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use jpki_apdu::StatusWord;
use jpki_card::{CardId, LifeCycle, VirtualCard};
use jpki_crypto::{
    DigestAlgorithm, DigestInfo, Kek, Pin, PinPolicy, SignatureAlgorithm, verify_signature,
};
use jpki_model::{BasicInfo, BirthDate, MyNumber, Sex};
use jpki_reader::{
    CertificateSlot, JpkiAp, KeySlot, PinSlot, ReaderError, SupportAp, Token, Transport,
    VerifyError,
};

fn der_blob(len: usize, seed: u8) -> Vec<u8> {
    let body = len - 4;
    let mut out = vec![0x30, 0x82, (body >> 8) as u8, body as u8];
    out.extend((0..body).map(|i| (i as u8).wrapping_mul(13).wrapping_add(seed)));
    out
}

fn four_digits(text: &str) -> Pin {
    Pin::new(PinPolicy::FourDigits, text).unwrap()
}

fn password(text: &str) -> Pin {
    Pin::new(PinPolicy::SignPassword, text).unwrap()
}

fn resident() -> (MyNumber, BasicInfo) {
    let number = MyNumber::parse("123456789018").unwrap();
    let info = BasicInfo::new(
        "公的 太郎",
        None,
        "東京都千代田区霞が関2-1-2",
        None,
        BirthDate::parse("1990-01-02").unwrap(),
        Sex::Male,
    )
    .unwrap();
    (number, info)
}

#[test]
fn personalize_activate_and_use_a_card_end_to_end() {
    let auth_pin = four_digits("1234");
    let sign_password = password("JPKI2026PW");
    let support_pin = four_digits("5678");
    let certificates = [
        (CertificateSlot::Auth, der_blob(1290, 1)),
        (CertificateSlot::AuthCa, der_blob(1050, 2)),
        (CertificateSlot::Sign, der_blob(1777, 3)),
        (CertificateSlot::SignCa, der_blob(1051, 4)),
    ];
    let (my_number, attributes) = resident();

    // 1. The counter terminal personalizes the JPKI AP of a blank card.
    let mut card = VirtualCard::blank(CardId::parse("00000000000000E2").unwrap());
    let (auth_public_key, sign_public_key) = {
        let mut ap = JpkiAp::select(&mut card).unwrap();
        assert_eq!(ap.token().unwrap(), Token::Card);
        let auth_public_key = ap.generate_key(KeySlot::Auth).unwrap();
        let sign_public_key = ap.generate_key(KeySlot::Sign).unwrap();
        assert_ne!(auth_public_key, sign_public_key);
        ap.set_initial_pin(PinSlot::Auth, &auth_pin).unwrap();
        ap.set_initial_pin(PinSlot::Sign, &sign_password).unwrap();
        // The CSR's proof of possession goes through the holder's path.
        let request = DigestInfo::of(DigestAlgorithm::Sha256, b"tbs certification request");
        let signature = ap
            .sign_with_pin(KeySlot::Sign, &sign_password, &request.to_der())
            .unwrap();
        verify_signature(
            SignatureAlgorithm::RsaPkcs1Sha256,
            &sign_public_key,
            b"tbs certification request",
            &signature,
        )
        .unwrap();
        for (slot, der) in &certificates {
            ap.write_certificate(*slot, der).unwrap();
        }
        // Not yet: the 券面事項入力補助AP has no PIN.
        let early = ap.activate().unwrap_err();
        assert_eq!(
            early.status_word(),
            Some(StatusWord::ReferencedDataNotFound)
        );
        (auth_public_key, sign_public_key)
    };

    // 2. The 券面事項入力補助AP, then activation.
    {
        let mut support = SupportAp::select(&mut card).unwrap();
        support.set_initial_pin(&support_pin).unwrap();
        support.write_support_data(&my_number, &attributes).unwrap();
        support.activate().unwrap();
    }
    assert_eq!(card.life_cycle(), LifeCycle::Operational);

    // 3. The holder's client, owning the card as its transport.
    let mut ap = JpkiAp::select(card).unwrap();
    assert_eq!(ap.token().unwrap(), Token::Card);
    for (slot, der) in &certificates {
        if *slot == CertificateSlot::Sign {
            let refused = ap.read_certificate(*slot).unwrap_err();
            assert_eq!(
                refused.status_word(),
                Some(StatusWord::SecurityStatusNotSatisfied)
            );
        } else {
            assert_eq!(&ap.read_certificate(*slot).unwrap(), der, "{slot:?}");
        }
    }
    assert_eq!(ap.tries_left(PinSlot::Auth).unwrap(), 3);
    assert_eq!(ap.tries_left(PinSlot::Sign).unwrap(), 5);
    ap.verify(PinSlot::Sign, &sign_password).unwrap();
    assert_eq!(
        ap.read_certificate(CertificateSlot::Sign).unwrap(),
        certificates[2].1
    );

    // Login: the auth key signs a challenge after the auth PIN.
    let challenge = b"nonce 7f3a";
    let info = DigestInfo::of(DigestAlgorithm::Sha256, challenge).to_der();
    assert_eq!(
        ap.sign_digest_info(KeySlot::Auth, &info)
            .unwrap_err()
            .status_word(),
        Some(StatusWord::SecurityStatusNotSatisfied)
    );
    assert!(matches!(
        ap.verify(PinSlot::Auth, &four_digits("0000")),
        Err(VerifyError::Wrong { tries_left: 2 })
    ));
    let signature = ap.sign_with_pin(KeySlot::Auth, &auth_pin, &info).unwrap();
    verify_signature(
        SignatureAlgorithm::RsaPkcs1Sha256,
        &auth_public_key,
        challenge,
        &signature,
    )
    .unwrap();
    assert_eq!(ap.tries_left(PinSlot::Auth).unwrap(), 3, "reset by success");

    // PIN change.
    let new_auth_pin = four_digits("9876");
    assert!(matches!(
        ap.change_pin(PinSlot::Auth, &four_digits("1111"), &new_auth_pin),
        Err(ReaderError::WrongPin { tries_left: 2 })
    ));
    ap.change_pin(PinSlot::Auth, &auth_pin, &new_auth_pin)
        .unwrap();
    assert!(matches!(
        ap.verify(PinSlot::Auth, &auth_pin),
        Err(VerifyError::Wrong { tries_left: 2 })
    ));
    ap.verify(PinSlot::Auth, &new_auth_pin).unwrap();
    assert!(matches!(
        ap.change_pin(PinSlot::Auth, &new_auth_pin, &password("ABCDEF")),
        Err(ReaderError::InvalidArgument(_))
    ));

    // Personalization is over.
    assert_eq!(
        ap.generate_key(KeySlot::Auth).unwrap_err().status_word(),
        Some(StatusWord::ConditionsNotSatisfied)
    );
    assert_eq!(
        ap.write_certificate(CertificateSlot::Auth, &der_blob(100, 9))
            .unwrap_err()
            .status_word(),
        Some(StatusWord::ConditionsNotSatisfied)
    );
    assert_eq!(
        ap.activate().unwrap_err().status_word(),
        Some(StatusWord::ConditionsNotSatisfied)
    );
    let card = ap.into_transport();

    // 4. The 券面事項入力補助AP gives back what was written, decoded.
    let mut support = SupportAp::select(card).unwrap();
    assert_eq!(support.tries_left().unwrap(), 3);
    assert!(matches!(
        support.read_support_data(&four_digits("0000")),
        Err(ReaderError::WrongPin { tries_left: 2 })
    ));
    let (read_number, read_attributes) = support.read_support_data(&support_pin).unwrap();
    assert_eq!(read_number, my_number);
    assert_eq!(read_attributes, attributes);
    let mut card = support.into_transport();

    // 5. A restart: the card file keeps the changed PIN and the counters.
    let kek = Kek::from_bytes(&[1; 32]).unwrap();
    let bytes = card.to_file_bytes(&kek).unwrap();
    card.power_off();
    let reopened = VirtualCard::from_file_bytes(&bytes, &kek).unwrap();
    let mut transport: Box<dyn Transport> = Box::new(reopened);
    let mut ap = JpkiAp::select(&mut transport).unwrap();
    ap.verify(PinSlot::Auth, &new_auth_pin).unwrap();
    for left in [2, 1, 0] {
        assert!(matches!(
            ap.verify(PinSlot::Auth, &auth_pin),
            Err(VerifyError::Wrong { tries_left }) if tries_left == left
        ));
    }
    assert!(matches!(
        ap.verify(PinSlot::Auth, &new_auth_pin),
        Err(VerifyError::Blocked)
    ));
    assert_eq!(ap.tries_left(PinSlot::Auth).unwrap(), 0);
    // The signature password is untouched by the auth PIN's fate.
    let signature = ap
        .sign_with_pin(KeySlot::Sign, &sign_password, &info)
        .unwrap();
    verify_signature(
        SignatureAlgorithm::RsaPkcs1Sha256,
        &sign_public_key,
        challenge,
        &signature,
    )
    .unwrap();
}

#[test]
fn typed_operations_on_a_blank_card_report_what_is_missing() {
    let mut card = VirtualCard::blank(CardId::random().unwrap());
    let mut ap = JpkiAp::select(&mut card).unwrap();
    assert!(matches!(
        ap.read_certificate(CertificateSlot::AuthCa),
        Err(ReaderError::EmptyFile { .. })
    ));
    assert_eq!(
        ap.sign_digest_info(KeySlot::Auth, &[1; 51])
            .unwrap_err()
            .status_word(),
        Some(StatusWord::ReferencedDataNotFound)
    );
    match ap.verify(PinSlot::Auth, &four_digits("1234")) {
        Err(VerifyError::Reader(error)) => {
            assert_eq!(
                error.status_word(),
                Some(StatusWord::ReferenceDataNotUsable)
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        ap.set_initial_pin(PinSlot::Auth, &password("ABCDEF")),
        Err(ReaderError::InvalidArgument(_))
    ));
    let too_big = ap
        .write_certificate(CertificateSlot::Auth, &der_blob(5000, 1))
        .unwrap_err();
    assert_eq!(too_big.status_word(), Some(StatusWord::NotEnoughMemory));
    let _ = ap.into_transport();
    assert_eq!(card.life_cycle(), LifeCycle::Personalization);
}
